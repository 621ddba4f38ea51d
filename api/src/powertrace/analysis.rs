//! What the PowerTrace pages, API and documents show, put together from one warehouse
//! pin: a site's load list beside its metered demand, a scenario's evaluation, and a
//! demand forecast against the N-1 capacity with a scenario's added load. Each names
//! the warehouse table versions it read. The fits run on the blocking pool.

use std::collections::BTreeMap;

use chrono::{DateTime, FixedOffset, NaiveDate, TimeZone};
use opsflux_powertrace::forecast::{self, Crossing, Forecast};
use opsflux_powertrace::scenario::{self, Evaluation, ScenarioError};
use opsflux_powertrace::{
    Factors, Failure, Limits, LoadList, Measured, Recommendation, failures, load_list, recommendations,
};
use opsflux_query::{Engine, Pin, Scope};

use super::store::Scenario;
use super::{PLANT_TABLES, PowerTraceError, SiteMeters, plant_at};

/// The tables meter readings are read from.
const METER_TABLES: [&str; 4] =
    ["powertrace.switchboards", "powertrace.transformers", "powertrace.meters", "powertrace.meter_readings"];

/// Calculations at once, across requests: a fit takes a core for seconds.
static CALCULATIONS: tokio::sync::Semaphore = tokio::sync::Semaphore::const_new(2);
/// The longest a calculation may take, its wait for a turn included.
const CALCULATION_SECONDS: u64 = 120;

/// Runs `work` on the blocking pool, at most two at once, within the time limit. A
/// calculation past its limit keeps its turn until it ends, so the limit on how many
/// run at once holds even for abandoned ones.
async fn calculate<T: Send + 'static>(
    work: impl FnOnce() -> Result<T, PowerTraceError> + Send + 'static,
) -> Result<T, PowerTraceError> {
    let run = async {
        let turn = CALCULATIONS.acquire().await.map_err(|error| PowerTraceError::Stopped(error.to_string()))?;
        tokio::task::spawn_blocking(move || {
            let _turn = turn;
            work()
        })
        .await
        .map_err(|error| PowerTraceError::Stopped(error.to_string()))?
    };
    tokio::time::timeout(std::time::Duration::from_secs(CALCULATION_SECONDS), run).await.map_err(|_| {
        PowerTraceError::Busy(format!("the calculation took longer than {CALCULATION_SECONDS} s and was stopped"))
    })?
}

/// The warehouse snapshot read: the pin's generation and each table's version.
pub fn warehouse_read(pin: &Pin, tables: &[&str]) -> serde_json::Value {
    let versions: BTreeMap<String, String> = pin
        .tables
        .iter()
        .filter(|(table, _)| tables.contains(&table.to_string().as_str()))
        .map(|(table, snapshot)| (table.to_string(), snapshot.to_string()))
        .collect();
    serde_json::json!({ "generation": pin.generation, "tables": versions })
}

/// Metered demand beside the calculated maximum demand.
#[derive(Debug, Clone, serde::Serialize)]
pub struct Metered {
    /// The switchboard, or `None` for the whole site.
    pub switchboard: Option<String>,
    pub measured: Measured,
    pub calculated_kw: f64,
    /// Measured peak ÷ calculated maximum demand.
    pub ratio: Option<f64>,
}

/// A site's load list with its checks and its metered side.
#[derive(Debug, Clone, serde::Serialize)]
pub struct SiteLoadList {
    pub list: LoadList,
    pub limits: Limits,
    pub failures: Vec<Failure>,
    pub recommendations: Vec<Recommendation>,
    /// The site first, then each metered switchboard.
    pub metered: Vec<Metered>,
    pub warehouse: serde_json::Value,
}

/// The load list of site `site`, checked, with measured peak, 95th percentile and
/// average demand per switchboard and for the site.
pub async fn site_load_list(engine: &Engine, scope: &Scope, site: &str) -> Result<SiteLoadList, PowerTraceError> {
    let pin = engine.pin();
    let plant = plant_at(engine, &pin, scope, site).await?;
    let meters = SiteMeters::read(engine, &pin, scope, site).await?;
    let limits = Limits::default();
    calculate(move || {
        let list = load_list(&plant, &Factors::default())?;
        let mut metered = Vec::new();
        let boards: Vec<Option<String>> =
            std::iter::once(None).chain(list.switchboards.iter().map(|board| Some(board.code.clone()))).collect();
        for board in boards {
            let series = match meters.demand(board.as_deref()) {
                Ok((series, _)) => series,
                Err(PowerTraceError::NoReadings(_)) => continue,
                Err(other) => return Err(other),
            };
            let Some(measured) = Measured::of(&series) else { continue };
            let calculated_kw = match &board {
                None => list.demand.kw,
                Some(code) => list.switchboards.iter().find(|b| &b.code == code).map_or(0.0, |b| b.demand.kw),
            };
            metered.push(Metered {
                ratio: measured.ratio_to(calculated_kw),
                switchboard: board,
                measured,
                calculated_kw,
            });
        }
        let mut tables: Vec<&str> = PLANT_TABLES.to_vec();
        tables.extend(METER_TABLES);
        Ok(SiteLoadList {
            failures: failures(&list, &limits),
            recommendations: recommendations(&list, &limits),
            list,
            limits,
            metered,
            warehouse: warehouse_read(&pin, &tables),
        })
    })
    .await
}

/// A scenario evaluated as of a day, with the snapshot it read.
#[derive(Debug, Clone, serde::Serialize)]
pub struct Evaluated {
    pub scenario: uuid::Uuid,
    pub version: i32,
    pub evaluation: Evaluation,
    pub warehouse: serde_json::Value,
}

/// The day a scenario is evaluated as of by default: when its last item has started.
pub fn default_day(scenario: &Scenario) -> NaiveDate {
    scenario.items.iter().map(|item| item.start).max().unwrap_or(scenario.base_date).max(scenario.base_date)
}

/// Evaluates `scenario` on its site's plant as the warehouse holds it now.
pub async fn evaluate(
    engine: &Engine,
    scope: &Scope,
    scenario: &Scenario,
    day: Option<NaiveDate>,
) -> Result<Evaluated, PowerTraceError> {
    let pin = engine.pin();
    let plant = plant_at(engine, &pin, scope, &scenario.site).await?;
    let factors = scenario.factors.over(Factors::default());
    let day = day.unwrap_or_else(|| default_day(scenario));
    let items = scenario.items.clone();
    let evaluation = calculate(move || {
        scenario::evaluate(&plant, &factors, &Limits::default(), &items, day).map_err(|error| match error {
            ScenarioError::Item(item) => PowerTraceError::Item(item),
            ScenarioError::Plant(plant) => PowerTraceError::Plant(plant),
        })
    })
    .await?;
    Ok(Evaluated {
        scenario: scenario.id,
        version: scenario.version,
        evaluation,
        warehouse: warehouse_read(&pin, &PLANT_TABLES),
    })
}

/// A demand forecast, and for a site the N-1 capacity it is held against.
#[derive(Debug, Clone, serde::Serialize)]
pub struct DemandForecast {
    pub site: String,
    pub switchboard: Option<String>,
    /// What was summed, for people.
    pub source: String,
    pub forecast: Forecast,
    /// For a site: its N-1 capacity (kW) and when the forecast, plus the scenario's
    /// added load, first exceeds it.
    pub crossing: Option<Crossing>,
    /// The scenario's added load from each item's start: `(day, kW)`.
    pub added: Vec<(NaiveDate, f64)>,
    /// The N-1 capacity from each day the scenario changes it: `(day, kW)`.
    pub capacity_changes: Vec<(NaiveDate, f64)>,
    pub warehouse: serde_json::Value,
}

/// Forecasts the demand of site `site` (or of one switchboard) `horizon` ahead (steps or
/// a duration), with a central interval at `level` %; for a site, against its N-1
/// capacity, with `scenario`'s added load when one is given.
pub async fn demand_forecast(
    engine: &Engine,
    scope: &Scope,
    site: &str,
    switchboard: Option<&str>,
    horizon: &str,
    level: f64,
    scenario: Option<&Scenario>,
) -> Result<DemandForecast, PowerTraceError> {
    // A wrong horizon is refused before anything is read.
    let steps = forecast::parse_horizon(horizon, super::READING_INTERVAL_MS)?;
    let pin = engine.pin();
    let meters = SiteMeters::read(engine, &pin, scope, site).await?;
    let plant = match switchboard {
        None => Some(plant_at(engine, &pin, scope, site).await?),
        Some(_) => None,
    };
    let factors = scenario.map_or_else(Factors::default, |scenario| scenario.factors.over(Factors::default()));
    let items = scenario.map(|scenario| scenario.items.clone()).unwrap_or_default();
    let board = switchboard.map(str::to_owned);
    // The series is prepared with polars, which blocks: on the blocking pool too.
    let (made, crossing, (added, capacity_changes), source) = calculate(move || {
        let (series, source) = meters.demand(board.as_deref())?;
        let Some(plant) = plant else {
            let made = forecast::forecast(&series, steps, &[80.0, level])?;
            return Ok::<_, PowerTraceError>((made, None, Default::default(), source));
        };
        let capacity_kw = load_list(&plant, &factors)?.generation.n1_kw;
        let (added, capacity_changes) = scenario_steps(&plant, &factors, &items)?;
        let offset = *series.start.offset();
        let from_midnight = |steps: &[(NaiveDate, f64)]| -> Vec<(DateTime<FixedOffset>, f64)> {
            steps.iter().filter_map(|(day, kw)| Some((midnight(*day, offset)?, *kw))).collect()
        };
        let (made, crossing) = forecast::forecast_against(
            &series,
            steps,
            &[80.0, level],
            capacity_kw,
            &from_midnight(&capacity_changes),
            &from_midnight(&added),
        )?;
        Ok((made, Some(crossing), (added, capacity_changes), source))
    })
    .await?;
    let mut tables: Vec<&str> = METER_TABLES.to_vec();
    if switchboard.is_none() {
        tables.extend(PLANT_TABLES);
    }
    Ok(DemandForecast {
        site: site.to_owned(),
        switchboard: switchboard.map(str::to_owned),
        source: format!("{} ({} meter{})", source.describe(), source.meters, if source.meters == 1 { "" } else { "s" }),
        forecast: made,
        crossing,
        added,
        capacity_changes,
        warehouse: warehouse_read(&pin, &tables),
    })
}

/// What a scenario changes over time for its site's forecast: the demand it adds from
/// each item's start, and the N-1 capacity from each day it changes it.
pub type ScenarioSteps = (Vec<(NaiveDate, f64)>, Vec<(NaiveDate, f64)>);

fn scenario_steps(
    plant: &opsflux_powertrace::Plant,
    factors: &Factors,
    items: &[scenario::Item],
) -> Result<ScenarioSteps, PowerTraceError> {
    let refused = |error| match error {
        ScenarioError::Item(item) => PowerTraceError::Item(item),
        ScenarioError::Plant(plant) => PowerTraceError::Plant(plant),
    };
    let added = scenario::added_load(plant, factors, items).map_err(refused)?;
    let capacity = scenario::n1_capacity(plant, factors, items).map_err(refused)?;
    Ok((added, capacity))
}

/// [`ScenarioSteps`] of `scenario` on its site's plant as the warehouse holds it now.
pub async fn scenario_changes(
    engine: &Engine,
    scope: &Scope,
    scenario: &Scenario,
) -> Result<ScenarioSteps, PowerTraceError> {
    let plant = plant_at(engine, &engine.pin(), scope, &scenario.site).await?;
    scenario_steps(&plant, &scenario.factors.over(Factors::default()), &scenario.items)
}

fn midnight(day: NaiveDate, offset: FixedOffset) -> Option<DateTime<FixedOffset>> {
    offset.from_local_datetime(&day.and_hms_opt(0, 0, 0)?).single()
}
