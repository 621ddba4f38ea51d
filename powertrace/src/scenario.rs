//! What-if scenarios: changes to a site's plant, each from its start date — equipment
//! added, removed or modified, factors changed, generators and transformers added,
//! removed or taken out of service. A scenario is checked item by item (a bad one is
//! named by its position and field), applied to the plant as of a date, and evaluated
//! beside the baseline: each switchboard's and the site's demand, the checks that fail
//! and the remedies; and as the load it adds over time, for the forecast.

use std::collections::{BTreeMap, BTreeSet};

use chrono::NaiveDate;

use crate::PowerError;
use crate::checks::{Failure, Recommendation, failures, recommendations};
use crate::loadlist::{LoadList, load_list};
use crate::plant::{Category, Equipment, Factors, Generator, GeneratorStatus, Limits, Plant, Transformer};

/// One change of a scenario.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
#[serde(tag = "action", rename_all = "snake_case")]
pub enum Change {
    AddEquipment {
        tag: String,
        description: String,
        /// Switchboard code.
        switchboard: String,
        rated_kw: f64,
        absorbed_kw: f64,
        power_factor: f64,
        efficiency: f64,
        category: Category,
        quantity: u32,
    },
    RemoveEquipment {
        tag: String,
    },
    /// Only the fields given change.
    ModifyEquipment {
        tag: String,
        switchboard: Option<String>,
        rated_kw: Option<f64>,
        absorbed_kw: Option<f64>,
        power_factor: Option<f64>,
        efficiency: Option<f64>,
        category: Option<Category>,
        quantity: Option<u32>,
    },
    /// Only the factors given change.
    SetFactors {
        continuous: Option<f64>,
        intermittent: Option<f64>,
        standby: Option<f64>,
        diversity: Option<f64>,
    },
    AddGenerator {
        tag: String,
        switchboard: String,
        rated_kva: f64,
        power_factor: f64,
    },
    RemoveGenerator {
        tag: String,
    },
    GeneratorOutOfService {
        tag: String,
    },
    AddTransformer {
        tag: String,
        primary: String,
        secondary: String,
        rated_kva: f64,
    },
    RemoveTransformer {
        tag: String,
    },
    /// Its secondary is no longer fed through it.
    TransformerOutOfService {
        tag: String,
    },
}

/// A change and the day it takes effect.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct Item {
    pub start: NaiveDate,
    #[serde(flatten)]
    pub change: Change,
}

/// A bad scenario item, by its position (from 0) and field.
#[derive(Debug, Clone, PartialEq, thiserror::Error, serde::Serialize)]
#[error("item {item}: {field} {message}")]
pub struct ItemError {
    pub item: usize,
    pub field: &'static str,
    pub message: String,
}

/// Checks every item against the plant (and the tags the scenario itself adds): the
/// references exist, the values are in range. The first bad item is named.
pub fn check_items(plant: &Plant, items: &[Item]) -> Result<(), ItemError> {
    let boards: BTreeSet<&str> = plant.switchboards.iter().map(|board| board.code.as_str()).collect();
    let mut equipment: BTreeSet<&str> = plant.equipment.iter().map(|item| item.tag.as_str()).collect();
    let mut generators: BTreeSet<&str> = plant.generators.iter().map(|set| set.tag.as_str()).collect();
    let mut transformers: BTreeSet<&str> = plant.transformers.iter().map(|unit| unit.tag.as_str()).collect();
    for (index, item) in items.iter().enumerate() {
        let bad = |field: &'static str, message: String| ItemError { item: index, field, message };
        let board = |field: &'static str, code: &str| {
            if boards.contains(code) {
                Ok(())
            } else {
                Err(bad(field, format!("names switchboard `{code}`, which site {} does not have", plant.site)))
            }
        };
        let power = |field: &'static str, value: f64| {
            if value.is_finite() && value >= 0.0 {
                Ok(())
            } else {
                Err(bad(field, format!("must be a power of 0 or more, not {value}")))
            }
        };
        let share = |field: &'static str, value: f64| {
            if value.is_finite() && value > 0.0 && value <= 1.0 {
                Ok(())
            } else {
                Err(bad(field, format!("must be above 0 and at most 1, not {value}")))
            }
        };
        let existing = |field: &'static str, known: &BTreeSet<&str>, kind: &str, tag: &str| {
            if known.contains(tag) {
                Ok(())
            } else {
                Err(bad(field, format!("names {kind} `{tag}`, which site {} does not have", plant.site)))
            }
        };
        match &item.change {
            Change::AddEquipment {
                tag,
                switchboard,
                rated_kw,
                absorbed_kw,
                power_factor,
                efficiency,
                quantity,
                ..
            } => {
                if tag.trim().is_empty() {
                    return Err(bad("tag", "is empty".into()));
                }
                if equipment.contains(tag.as_str()) {
                    return Err(bad("tag", format!("`{tag}` is already used by another equipment")));
                }
                board("switchboard", switchboard)?;
                power("rated_kw", *rated_kw)?;
                power("absorbed_kw", *absorbed_kw)?;
                share("power_factor", *power_factor)?;
                share("efficiency", *efficiency)?;
                if *quantity == 0 {
                    return Err(bad("quantity", "must be at least 1".into()));
                }
                equipment.insert(tag);
            }
            Change::RemoveEquipment { tag } => existing("tag", &equipment, "equipment", tag)?,
            Change::ModifyEquipment {
                tag,
                switchboard,
                rated_kw,
                absorbed_kw,
                power_factor,
                efficiency,
                quantity,
                ..
            } => {
                existing("tag", &equipment, "equipment", tag)?;
                if let Some(code) = switchboard {
                    board("switchboard", code)?;
                }
                for (field, value) in [("rated_kw", rated_kw), ("absorbed_kw", absorbed_kw)] {
                    if let Some(value) = value {
                        power(field, *value)?;
                    }
                }
                for (field, value) in [("power_factor", power_factor), ("efficiency", efficiency)] {
                    if let Some(value) = value {
                        share(field, *value)?;
                    }
                }
                if *quantity == Some(0) {
                    return Err(bad("quantity", "must be at least 1".into()));
                }
            }
            Change::SetFactors { continuous, intermittent, standby, diversity } => {
                let factors = [
                    ("continuous", continuous),
                    ("intermittent", intermittent),
                    ("standby", standby),
                    ("diversity", diversity),
                ];
                if factors.iter().all(|(_, value)| value.is_none()) {
                    return Err(bad(
                        "factors",
                        "change none: give continuous, intermittent, standby or diversity".into(),
                    ));
                }
                for (field, value) in factors {
                    if let Some(value) = value {
                        share(field, *value)?;
                    }
                }
            }
            Change::AddGenerator { tag, switchboard, rated_kva, power_factor } => {
                if tag.trim().is_empty() {
                    return Err(bad("tag", "is empty".into()));
                }
                if generators.contains(tag.as_str()) {
                    return Err(bad("tag", format!("`{tag}` is already used by another generator")));
                }
                board("switchboard", switchboard)?;
                if !(rated_kva.is_finite() && *rated_kva > 0.0) {
                    return Err(bad("rated_kva", format!("must be above 0 kVA, not {rated_kva}")));
                }
                share("power_factor", *power_factor)?;
                generators.insert(tag);
            }
            Change::RemoveGenerator { tag } | Change::GeneratorOutOfService { tag } => {
                existing("tag", &generators, "generator", tag)?;
            }
            Change::AddTransformer { tag, primary, secondary, rated_kva } => {
                if tag.trim().is_empty() {
                    return Err(bad("tag", "is empty".into()));
                }
                if transformers.contains(tag.as_str()) {
                    return Err(bad("tag", format!("`{tag}` is already used by another transformer")));
                }
                board("primary", primary)?;
                board("secondary", secondary)?;
                if primary == secondary {
                    return Err(bad("secondary", "is the primary switchboard itself".into()));
                }
                if !(rated_kva.is_finite() && *rated_kva > 0.0) {
                    return Err(bad("rated_kva", format!("must be above 0 kVA, not {rated_kva}")));
                }
                transformers.insert(tag);
            }
            Change::RemoveTransformer { tag } | Change::TransformerOutOfService { tag } => {
                existing("tag", &transformers, "transformer", tag)?;
            }
        }
    }
    Ok(())
}

/// The plant and factors as of `day`: the items that have started by then, in start
/// order (items starting the same day in their order in the scenario).
pub fn apply(plant: &Plant, factors: &Factors, items: &[Item], day: NaiveDate) -> Result<(Plant, Factors), ItemError> {
    check_items(plant, items)?;
    let mut plant = plant.clone();
    let mut factors = *factors;
    let board_id: BTreeMap<String, String> =
        plant.switchboards.iter().map(|board| (board.code.clone(), board.id.clone())).collect();
    let id_of = |code: &str| board_id.get(code).cloned().unwrap_or_else(|| code.to_owned());
    let mut started: Vec<(usize, &Item)> = items.iter().enumerate().filter(|(_, item)| item.start <= day).collect();
    started.sort_by_key(|(index, item)| (item.start, *index));
    for (index, item) in started {
        match &item.change {
            Change::AddEquipment {
                tag,
                description,
                switchboard,
                rated_kw,
                absorbed_kw,
                power_factor,
                efficiency,
                category,
                quantity,
            } => plant.equipment.push(Equipment {
                id: format!("scenario-item-{index}"),
                tag: tag.clone(),
                description: description.clone(),
                switchboard: id_of(switchboard),
                rated_kw: *rated_kw,
                absorbed_kw: *absorbed_kw,
                power_factor: *power_factor,
                efficiency: *efficiency,
                category: *category,
                quantity: *quantity,
            }),
            Change::RemoveEquipment { tag } => plant.equipment.retain(|item| &item.tag != tag),
            Change::ModifyEquipment {
                tag,
                switchboard,
                rated_kw,
                absorbed_kw,
                power_factor,
                efficiency,
                category,
                quantity,
            } => {
                for item in plant.equipment.iter_mut().filter(|item| &item.tag == tag) {
                    if let Some(code) = switchboard {
                        item.switchboard = id_of(code);
                    }
                    item.rated_kw = rated_kw.unwrap_or(item.rated_kw);
                    item.absorbed_kw = absorbed_kw.unwrap_or(item.absorbed_kw);
                    item.power_factor = power_factor.unwrap_or(item.power_factor);
                    item.efficiency = efficiency.unwrap_or(item.efficiency);
                    item.category = category.unwrap_or(item.category);
                    item.quantity = quantity.unwrap_or(item.quantity);
                }
            }
            Change::SetFactors { continuous, intermittent, standby, diversity } => {
                factors.continuous = continuous.unwrap_or(factors.continuous);
                factors.intermittent = intermittent.unwrap_or(factors.intermittent);
                factors.standby = standby.unwrap_or(factors.standby);
                factors.diversity = diversity.unwrap_or(factors.diversity);
            }
            Change::AddGenerator { tag, switchboard, rated_kva, power_factor } => plant.generators.push(Generator {
                id: format!("scenario-item-{index}"),
                tag: tag.clone(),
                switchboard: id_of(switchboard),
                rated_kva: *rated_kva,
                power_factor: *power_factor,
                status: GeneratorStatus::Running,
            }),
            Change::RemoveGenerator { tag } => plant.generators.retain(|set| &set.tag != tag),
            Change::GeneratorOutOfService { tag } => {
                for set in plant.generators.iter_mut().filter(|set| &set.tag == tag) {
                    set.status = GeneratorStatus::OutOfService;
                }
            }
            Change::AddTransformer { tag, primary, secondary, rated_kva } => plant.transformers.push(Transformer {
                id: format!("scenario-item-{index}"),
                tag: tag.clone(),
                primary: id_of(primary),
                secondary: id_of(secondary),
                rated_kva: *rated_kva,
            }),
            Change::RemoveTransformer { tag } | Change::TransformerOutOfService { tag } => {
                plant.transformers.retain(|unit| &unit.tag != tag);
            }
        }
    }
    Ok((plant, factors))
}

/// A switchboard's maximum demand before and after.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct BoardChange {
    pub code: String,
    pub baseline_kw: Option<f64>,
    pub scenario_kw: Option<f64>,
    pub baseline_kva: Option<f64>,
    pub scenario_kva: Option<f64>,
}

/// A scenario evaluated as of a day, beside the baseline.
#[derive(Debug, Clone, serde::Serialize)]
pub struct Evaluation {
    pub day: NaiveDate,
    pub baseline: LoadList,
    pub scenario: LoadList,
    pub switchboards: Vec<BoardChange>,
    pub baseline_failures: Vec<Failure>,
    pub failures: Vec<Failure>,
    pub recommendations: Vec<Recommendation>,
}

/// Why a scenario cannot be evaluated.
#[derive(Debug, thiserror::Error)]
pub enum ScenarioError {
    #[error(transparent)]
    Item(#[from] ItemError),
    #[error(transparent)]
    Plant(#[from] PowerError),
}

/// Evaluates `items` on `plant` as of `day`, beside the baseline.
pub fn evaluate(
    plant: &Plant,
    factors: &Factors,
    limits: &Limits,
    items: &[Item],
    day: NaiveDate,
) -> Result<Evaluation, ScenarioError> {
    let baseline = load_list(plant, factors)?;
    let (changed, changed_factors) = apply(plant, factors, items, day)?;
    let scenario = load_list(&changed, &changed_factors)?;
    let mut codes: Vec<&str> = baseline.switchboards.iter().map(|board| board.code.as_str()).collect();
    codes.extend(scenario.switchboards.iter().map(|board| board.code.as_str()));
    codes.sort_unstable();
    codes.dedup();
    let find = |list: &LoadList, code: &str| {
        list.switchboards.iter().find(|board| board.code == code).map(|board| board.demand)
    };
    let switchboards = codes
        .iter()
        .map(|code| {
            let (before, after) = (find(&baseline, code), find(&scenario, code));
            BoardChange {
                code: (*code).to_owned(),
                baseline_kw: before.map(|power| power.kw),
                scenario_kw: after.map(|power| power.kw),
                baseline_kva: before.map(|power| power.kva()),
                scenario_kva: after.map(|power| power.kva()),
            }
        })
        .collect();
    Ok(Evaluation {
        day,
        baseline_failures: failures(&baseline, limits),
        failures: failures(&scenario, limits),
        recommendations: recommendations(&scenario, limits),
        baseline,
        scenario,
        switchboards,
    })
}

/// The site's N-1 capacity (kW) from each item's start date on, where the scenario
/// changes it (a set added, removed or taken out of service): `(day, N-1 kW from then)`.
pub fn n1_capacity(plant: &Plant, factors: &Factors, items: &[Item]) -> Result<Vec<(NaiveDate, f64)>, ScenarioError> {
    let (baseline, by_day) = by_start_day(plant, factors, items)?;
    let mut current = baseline.generation.n1_kw;
    let mut steps = Vec::new();
    for (day, list) in by_day {
        if list.generation.n1_kw != current {
            current = list.generation.n1_kw;
            steps.push((day, current));
        }
    }
    Ok(steps)
}

/// The site maximum demand a scenario adds (kW, negative when it removes load) from
/// each item's start date on, as steps for the forecast: `(day, added kW from then)`.
pub fn added_load(plant: &Plant, factors: &Factors, items: &[Item]) -> Result<Vec<(NaiveDate, f64)>, ScenarioError> {
    let (baseline, by_day) = by_start_day(plant, factors, items)?;
    Ok(by_day.into_iter().map(|(day, list)| (day, list.demand.kw - baseline.demand.kw)).collect())
}

/// The load list today, and on each distinct item start date with every item started by
/// then applied.
fn by_start_day(
    plant: &Plant,
    factors: &Factors,
    items: &[Item],
) -> Result<(LoadList, Vec<(NaiveDate, LoadList)>), ScenarioError> {
    let baseline = load_list(plant, factors)?;
    let mut days: Vec<NaiveDate> = items.iter().map(|item| item.start).collect();
    days.sort_unstable();
    days.dedup();
    let mut by_day = Vec::with_capacity(days.len());
    for day in days {
        let (changed, changed_factors) = apply(plant, factors, items, day)?;
        by_day.push((day, load_list(&changed, &changed_factors)?));
    }
    Ok((baseline, by_day))
}
