//! The load list: each equipment line's electrical input, each switchboard's connected
//! load and maximum demand (its own lines and every switchboard it feeds, directly or
//! through a transformer), the site's totals, its generation with N-1 and N-2, and the
//! loading of each transformer.
//!
//! Conventions, as an engineer signing the sheet would state them:
//! - a line draws `quantity × absorbed kW ÷ efficiency` at its power factor;
//! - maximum demand counts each line at its category's factor, and the diversity factor
//!   once on each sum (never compounded down the hierarchy);
//! - P and Q are summed, kVA and the power factor come from the sums;
//! - a switchboard fed by two feeders (two transformers, say) counts in full under
//!   each, as either must carry it alone; it counts once in the site's totals;
//! - generator kW is its kVA rating times its power factor; running and standby sets are
//!   available, sets in maintenance or out of service are not; N-1 and N-2 take the
//!   largest available sets out.

use std::collections::{BTreeMap, BTreeSet};

use crate::PowerError;
use crate::plant::{Category, Factors, Generator, GeneratorStatus, Plant};
use crate::power::Power;

/// One equipment line.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct Line {
    pub tag: String,
    pub description: String,
    /// The code of the switchboard feeding it.
    pub switchboard: String,
    pub category: Category,
    pub quantity: u32,
    pub rated_kw: f64,
    /// Absorbed kW of all units: absorbed per unit × quantity.
    pub absorbed_kw: f64,
    pub efficiency: f64,
    pub power_factor: f64,
    /// The electrical input of all units (kW, kVAR; kVA from `input.kva()`).
    pub input: Power,
    /// The category's factor.
    pub factor: f64,
    /// `input × factor`: the line's share of the maximum demand before diversity.
    pub demand: Power,
}

/// One switchboard, with everything it feeds.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct BoardLoad {
    pub code: String,
    pub name: String,
    pub voltage_v: f64,
    /// Its own lines' input.
    pub own: Power,
    /// Its own lines and those of every switchboard downstream.
    pub connected: Power,
    /// Maximum demand: the downstream lines at their category factors, times diversity.
    pub demand: Power,
    /// The codes of the switchboards it feeds, directly or not.
    pub feeds: Vec<String>,
}

#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct TransformerLoad {
    pub tag: String,
    pub primary: String,
    pub secondary: String,
    pub rated_kva: f64,
    /// The maximum demand of its secondary switchboard (and what that feeds), kVA.
    pub demand_kva: f64,
    /// `demand_kva ÷ rated_kva`.
    pub loading: f64,
}

/// A site's generation against its maximum demand.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct Generation {
    pub installed_kva: f64,
    pub installed_kw: f64,
    /// Running and standby sets.
    pub available_kva: f64,
    pub available_kw: f64,
    pub running_kva: f64,
    pub running_kw: f64,
    /// Available with the largest set out, and with the two largest out.
    pub n1_kva: f64,
    pub n1_kw: f64,
    pub n2_kva: f64,
    pub n2_kw: f64,
    /// The available sets, largest first: the first is out at N-1, the first two at N-2.
    pub largest: Vec<String>,
    /// Maximum demand kW ÷ N-1 kW (`None`: no capacity left at N-1).
    pub n1_loading: Option<f64>,
    /// Maximum demand kW ÷ running kW (`None`: no set running).
    pub running_loading: Option<f64>,
}

/// The load list of one site.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct LoadList {
    pub site: String,
    pub factors: Factors,
    pub lines: Vec<Line>,
    pub switchboards: Vec<BoardLoad>,
    pub transformers: Vec<TransformerLoad>,
    /// Every line of the site, once.
    pub connected: Power,
    pub demand: Power,
    pub generation: Generation,
}

/// Computes the load list of `plant` with `factors`.
pub fn load_list(plant: &Plant, factors: &Factors) -> Result<LoadList, PowerError> {
    plant.check()?;
    factors.check()?;
    let boards: BTreeMap<&str, &crate::plant::Switchboard> =
        plant.switchboards.iter().map(|board| (board.id.as_str(), board)).collect();
    let code = |id: &str| boards.get(id).map_or_else(|| id.to_owned(), |board| board.code.clone());

    let mut lines: Vec<(String, Line)> = plant
        .equipment
        .iter()
        .map(|item| {
            let quantity = f64::from(item.quantity);
            let absorbed_kw = item.absorbed_kw * quantity;
            let input = Power::at_power_factor(absorbed_kw / item.efficiency, item.power_factor);
            let factor = factors.of(item.category);
            let line = Line {
                tag: item.tag.clone(),
                description: item.description.clone(),
                switchboard: code(&item.switchboard),
                category: item.category,
                quantity: item.quantity,
                rated_kw: item.rated_kw * quantity,
                absorbed_kw,
                efficiency: item.efficiency,
                power_factor: item.power_factor,
                input,
                factor,
                demand: input * factor,
            };
            (item.switchboard.clone(), line)
        })
        .collect();
    lines
        .sort_by(|left, right| left.1.switchboard.cmp(&right.1.switchboard).then_with(|| left.1.tag.cmp(&right.1.tag)));

    // What each switchboard feeds directly: its children and its transformers' secondaries.
    let mut feeds: BTreeMap<&str, BTreeSet<&str>> = BTreeMap::new();
    for board in &plant.switchboards {
        if let Some(parent) = &board.parent {
            feeds.entry(parent.as_str()).or_default().insert(board.id.as_str());
        }
    }
    for unit in &plant.transformers {
        feeds.entry(unit.primary.as_str()).or_default().insert(unit.secondary.as_str());
    }
    refuse_loops(&boards, &feeds)?;
    let downstream = |start: &str| -> BTreeSet<String> {
        let mut seen: BTreeSet<String> = BTreeSet::new();
        let mut stack = vec![start.to_owned()];
        while let Some(id) = stack.pop() {
            if seen.insert(id.clone()) {
                stack.extend(feeds.get(id.as_str()).into_iter().flatten().map(|next| (*next).to_owned()));
            }
        }
        seen
    };

    let connected_of = |ids: &BTreeSet<String>| -> Power {
        lines.iter().filter(|(board, _)| ids.contains(board)).map(|(_, line)| line.input).sum()
    };
    let demand_of = |ids: &BTreeSet<String>| -> Power {
        lines.iter().filter(|(board, _)| ids.contains(board)).map(|(_, line)| line.demand).sum::<Power>()
            * factors.diversity
    };
    // By switchboard id: the transformers read their secondary's demand from here.
    let by_id: BTreeMap<&str, BoardLoad> = plant
        .switchboards
        .iter()
        .map(|board| {
            let under = downstream(&board.id);
            let mut fed: Vec<String> = under.iter().filter(|id| **id != board.id).map(|id| code(id)).collect();
            fed.sort();
            let load = BoardLoad {
                code: board.code.clone(),
                name: board.name.clone(),
                voltage_v: board.voltage_v,
                own: connected_of(&BTreeSet::from([board.id.clone()])),
                connected: connected_of(&under),
                demand: demand_of(&under),
                feeds: fed,
            };
            (board.id.as_str(), load)
        })
        .collect();

    let mut transformers: Vec<TransformerLoad> = plant
        .transformers
        .iter()
        .map(|unit| {
            // `Plant::check` has made sure the secondary is one of the site's boards.
            let demand_kva = by_id.get(unit.secondary.as_str()).map_or(0.0, |board| board.demand.kva());
            TransformerLoad {
                tag: unit.tag.clone(),
                primary: code(&unit.primary),
                secondary: code(&unit.secondary),
                rated_kva: unit.rated_kva,
                demand_kva,
                loading: demand_kva / unit.rated_kva,
            }
        })
        .collect();
    transformers.sort_by(|left, right| left.tag.cmp(&right.tag));
    let mut switchboards: Vec<BoardLoad> = by_id.into_values().collect();
    switchboards.sort_by(|left, right| left.code.cmp(&right.code));

    let connected: Power = lines.iter().map(|(_, line)| line.input).sum();
    let demand: Power = lines.iter().map(|(_, line)| line.demand).sum::<Power>() * factors.diversity;
    let generation = generation(plant, demand.kw);
    Ok(LoadList {
        site: plant.site.clone(),
        factors: *factors,
        lines: lines.into_iter().map(|(_, line)| line).collect(),
        switchboards,
        transformers,
        connected,
        demand,
        generation,
    })
}

fn generation(plant: &Plant, demand_kw: f64) -> Generation {
    let mut available: Vec<&Generator> = plant.generators.iter().filter(|set| set.status.is_available()).collect();
    available.sort_by(|left, right| right.rated_kva.total_cmp(&left.rated_kva).then_with(|| left.tag.cmp(&right.tag)));
    let (installed_kva, installed_kw) = rating(&plant.generators);
    let (available_kva, available_kw) = rating(available.iter().copied());
    let (running_kva, running_kw) =
        rating(available.iter().copied().filter(|set| set.status == GeneratorStatus::Running));
    let (n1_kva, n1_kw) = rating(available.iter().copied().skip(1));
    let (n2_kva, n2_kw) = rating(available.iter().copied().skip(2));
    let ratio = |capacity: f64| (capacity > 0.0).then(|| demand_kw / capacity);
    Generation {
        installed_kva,
        installed_kw,
        available_kva,
        available_kw,
        running_kva,
        running_kw,
        n1_kva,
        n1_kw,
        n2_kva,
        n2_kw,
        largest: available.iter().map(|set| set.tag.clone()).collect(),
        n1_loading: ratio(n1_kw),
        running_loading: ratio(running_kw),
    }
}

/// The kVA and kW of some sets, a set's kW being its kVA times its power factor.
fn rating<'a>(sets: impl IntoIterator<Item = &'a Generator>) -> (f64, f64) {
    sets.into_iter().fold((0.0, 0.0), |(kva, kw), set| (kva + set.rated_kva, kw + set.rated_kva * set.power_factor))
}

/// Refuses switchboards that feed themselves, naming the loop by codes. Walks with its
/// own stack: a long chain of switchboards cannot exhaust the thread's.
fn refuse_loops(
    boards: &BTreeMap<&str, &crate::plant::Switchboard>,
    feeds: &BTreeMap<&str, BTreeSet<&str>>,
) -> Result<(), PowerError> {
    #[derive(Clone, Copy, PartialEq)]
    enum State {
        Open,
        Done,
    }
    // The boards a board feeds, in reverse order so that popping visits them in order.
    let next_of = |id: &str| -> Vec<&str> { feeds.get(id).into_iter().flatten().rev().copied().collect() };
    let code = |id: &str| boards.get(id).map_or_else(|| id.to_owned(), |board| board.code.clone());
    let mut states: BTreeMap<&str, State> = BTreeMap::new();
    for &root in boards.keys() {
        if states.contains_key(root) {
            continue;
        }
        states.insert(root, State::Open);
        let mut path: Vec<(&str, Vec<&str>)> = vec![(root, next_of(root))];
        while let Some((id, pending)) = path.last_mut() {
            let id = *id;
            match pending.pop() {
                Some(next) => match states.get(next) {
                    Some(State::Done) => {}
                    Some(State::Open) => {
                        let start = path.iter().position(|(step, _)| *step == next).unwrap_or(0);
                        let mut cycle: Vec<String> = path[start..].iter().map(|(step, _)| code(step)).collect();
                        cycle.push(code(next));
                        return Err(PowerError::Loop(cycle));
                    }
                    None => {
                        states.insert(next, State::Open);
                        path.push((next, next_of(next)));
                    }
                },
                None => {
                    states.insert(id, State::Done);
                    path.pop();
                }
            }
        }
    }
    Ok(())
}
