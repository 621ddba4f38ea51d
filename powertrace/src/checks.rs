//! What an engineer checks on a load list, and what the numbers recommend: the checks
//! that fail, each with its figure and limit, and the remedies computed from them — a
//! generator large enough, standby loads to shed, power-factor correction.
//!
//! The checks:
//! - N-1 overload: maximum demand above the available capacity with the largest set out;
//! - N-2 overload: the same with the two largest out, where the site has three or more
//!   available sets (with two, N-2 leaves nothing and is not a design criterion);
//! - running load factor: maximum demand above `Limits::n1_loading` (85 %) of N-1;
//! - transformer overload: its secondary's demand above `Limits::transformer_loading`;
//! - power factor: the site's demand below `Limits::power_factor`.

use crate::loadlist::LoadList;
use crate::plant::{Category, Limits};

/// The power factor correction brings a site to.
pub const CORRECTED_POWER_FACTOR: f64 = 0.95;
/// The power factor a recommended generator is sized at, when the site has none.
const GENERATOR_POWER_FACTOR: f64 = 0.8;

/// A check that fails.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct Failure {
    /// `n1_overload`, `n2_overload`, `running_load_factor`, `transformer_overload`,
    /// `power_factor`.
    pub check: &'static str,
    /// What failed: the site code or a transformer's tag.
    pub subject: String,
    pub value: f64,
    pub limit: f64,
    /// One sentence, with the figures.
    pub message: String,
}

/// A remedy computed from the figures.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Recommendation {
    /// One more set of at least this rating brings demand within the N-1 limit.
    Generator { kva: f64, message: String },
    /// Shedding these standby loads brings demand down by `kw`.
    Shed { tags: Vec<String>, kw: f64, message: String },
    /// This much capacitive kVAR brings the site to `CORRECTED_POWER_FACTOR`.
    PowerFactorCorrection { kvar: f64, message: String },
}

impl Recommendation {
    pub fn message(&self) -> &str {
        match self {
            Recommendation::Generator { message, .. }
            | Recommendation::Shed { message, .. }
            | Recommendation::PowerFactorCorrection { message, .. } => message,
        }
    }
}

/// The checks of `list` that fail against `limits`, in the order listed above.
pub fn failures(list: &LoadList, limits: &Limits) -> Vec<Failure> {
    let mut out = Vec::new();
    let generation = &list.generation;
    let demand = list.demand.kw;
    let sets = generation.largest.len();
    if demand > generation.n1_kw {
        out.push(Failure {
            check: "n1_overload",
            subject: list.site.clone(),
            value: demand,
            limit: generation.n1_kw,
            message: format!(
                "maximum demand {demand:.0} kW exceeds the N-1 capacity {:.0} kW ({} out)",
                generation.n1_kw,
                generation.largest.first().map_or("no set available", String::as_str)
            ),
        });
    }
    if sets >= 3 && demand > generation.n2_kw {
        out.push(Failure {
            check: "n2_overload",
            subject: list.site.clone(),
            value: demand,
            limit: generation.n2_kw,
            message: format!(
                "maximum demand {demand:.0} kW exceeds the N-2 capacity {:.0} kW ({} and {} out)",
                generation.n2_kw, generation.largest[0], generation.largest[1]
            ),
        });
    }
    let allowed = limits.n1_loading * generation.n1_kw;
    if demand > allowed {
        out.push(Failure {
            check: "running_load_factor",
            subject: list.site.clone(),
            value: generation.n1_loading.unwrap_or(f64::INFINITY),
            limit: limits.n1_loading,
            message: match generation.n1_loading {
                Some(loading) => format!(
                    "maximum demand is {:.1} % of the N-1 capacity, above the {:.0} % limit",
                    loading * 100.0,
                    limits.n1_loading * 100.0
                ),
                None => "no capacity is left at N-1".to_owned(),
            },
        });
    }
    for unit in &list.transformers {
        if unit.loading > limits.transformer_loading {
            out.push(Failure {
                check: "transformer_overload",
                subject: unit.tag.clone(),
                value: unit.loading,
                limit: limits.transformer_loading,
                message: format!(
                    "{} carries {:.0} kVA, {:.1} % of its {:.0} kVA rating",
                    unit.tag,
                    unit.demand_kva,
                    unit.loading * 100.0,
                    unit.rated_kva
                ),
            });
        }
    }
    let power_factor = list.demand.power_factor();
    if power_factor < limits.power_factor {
        out.push(Failure {
            check: "power_factor",
            subject: list.site.clone(),
            value: power_factor,
            limit: limits.power_factor,
            message: format!(
                "the site's demand runs at a power factor of {power_factor:.3}, below {:.2}",
                limits.power_factor
            ),
        });
    }
    out
}

/// The remedies the figures call for: for an N-1 shortfall a generator and the standby
/// loads to shed, for a low power factor its correction.
pub fn recommendations(list: &LoadList, limits: &Limits) -> Vec<Recommendation> {
    let mut out = Vec::new();
    let generation = &list.generation;
    let demand = list.demand.kw;
    // The N-1 capacity the demand needs to stay within the limit.
    let needed_kw = demand / limits.n1_loading;
    if needed_kw > generation.n1_kw {
        let power_factor = if generation.available_kva > 0.0 {
            generation.available_kw / generation.available_kva
        } else {
            GENERATOR_POWER_FACTOR
        };
        let largest_kw = generation.available_kw - generation.n1_kw;
        let missing_kw = needed_kw - generation.n1_kw;
        let within = format!("keeps maximum demand within {:.0} % of N-1", limits.n1_loading * 100.0);
        // A new set no larger than the largest adds its whole rating to N-1. Past that
        // (N-1 plus the largest is all that is available), one new set would itself be
        // the set out: several are needed.
        let kva = missing_kw / power_factor;
        let message = if missing_kw <= largest_kw {
            format!("a generator of at least {kva:.0} kVA (at PF {power_factor:.2}) {within}")
        } else {
            format!(
                "generators totalling at least {kva:.0} kVA (at PF {power_factor:.2}), in two sets or more: one set that large would itself be the set out"
            )
        };
        out.push(Recommendation::Generator { kva, message });

        // The standby loads whose share of the demand, largest first, closes the gap.
        let gap_kw = demand - limits.n1_loading * generation.n1_kw;
        let mut standby: Vec<(&str, f64)> = list
            .lines
            .iter()
            .filter(|line| line.category == Category::Standby)
            .map(|line| (line.tag.as_str(), line.demand.kw * list.factors.diversity))
            .filter(|(_, kw)| *kw > 0.0)
            .collect();
        standby.sort_by(|left, right| right.1.total_cmp(&left.1).then_with(|| left.0.cmp(right.0)));
        let mut tags = Vec::new();
        let mut shed_kw = 0.0;
        for (tag, kw) in standby {
            if shed_kw >= gap_kw {
                break;
            }
            tags.push(tag.to_owned());
            shed_kw += kw;
        }
        if !tags.is_empty() {
            let message = if shed_kw >= gap_kw {
                format!("shed these standby loads: {} ({shed_kw:.1} kW)", tags.join(", "))
            } else {
                format!(
                    "shed these standby loads: {} ({shed_kw:.1} kW) — not enough alone, {:.1} kW short",
                    tags.join(", "),
                    gap_kw - shed_kw
                )
            };
            out.push(Recommendation::Shed { tags, kw: shed_kw, message });
        }
    }
    let power_factor = list.demand.power_factor();
    if power_factor < limits.power_factor {
        let target_kvar = list.demand.kw * (1.0 / (CORRECTED_POWER_FACTOR * CORRECTED_POWER_FACTOR) - 1.0).sqrt();
        let kvar = (list.demand.kvar - target_kvar).max(0.0);
        out.push(Recommendation::PowerFactorCorrection {
            kvar,
            message: format!(
                "{kvar:.0} kVAR of power-factor correction brings the site from {power_factor:.3} to {CORRECTED_POWER_FACTOR:.2}"
            ),
        });
    }
    out
}
