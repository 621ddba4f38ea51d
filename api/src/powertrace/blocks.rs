//! PowerTrace's answers to documents' data blocks: a `scenario` block's table (the
//! scenario read from the warehouse by name or id within its site, evaluated beside the
//! baseline) and a `forecast` block's steps (the demand forecast against N-1, with a
//! scenario's added load when one is named). The tables' columns are those
//! `opsflux_render::bind::powertrace` documents.

use std::collections::BTreeMap;

use chrono::{DateTime, NaiveDate, Utc};
use opsflux_powertrace::forecast::{Forecast, Point, step_at};
use opsflux_powertrace::scenario::{Evaluation, Item};
use opsflux_powertrace::{Failure, LoadList, Recommendation};
use opsflux_query::{Cell, ColumnKind, Engine, QueryRows, Scope};
use opsflux_render::{DataColumn, DataTable, Value, ValueFormat};

use super::PowerTraceError;
use super::analysis::{self, DemandForecast, Evaluated};
use super::store::{self, ItemColumns, ItemRow, Scenario, StoreError};
use super::wire::FactorOverrides;

/// Most rows a forecast table holds: longer horizons are summarised per hour, three
/// hours, six hours, half day or day, keeping each period's peak.
const FORECAST_ROWS: usize = 250;

/// Scenarios a site may hold for a document to pick from; items per scenario.
const SCENARIO_ROWS: usize = 1_000;
const ITEM_ROWS: usize = 5_000;

/// What one document's binding has read and calculated, so blocks asking about the
/// same scenario or forecast share it: a scenario's views share one evaluation, and the
/// scenarios of a site share one forecast fit, each adding its own load.
#[derive(Debug, Default)]
pub struct Answered {
    scenarios: BTreeMap<(String, String), (Scenario, BTreeMap<String, String>)>,
    evaluations: BTreeMap<(String, String), Evaluated>,
    forecasts: BTreeMap<(String, Option<String>, String), DemandForecast>,
}

impl Answered {
    async fn scenario(
        &mut self,
        engine: &Engine,
        scope: &Scope,
        site: &str,
        name: &str,
    ) -> Result<(Scenario, BTreeMap<String, String>), PowerTraceError> {
        let key = (site.to_owned(), name.trim().to_owned());
        if let Some(found) = self.scenarios.get(&key) {
            return Ok(found.clone());
        }
        let found = scenario_in_warehouse(engine, scope, site, name).await?;
        self.scenarios.insert(key, found.clone());
        Ok(found)
    }
}

/// One warehouse row, its cells by column name.
struct Record<'a> {
    columns: &'a [(String, ColumnKind)],
    cells: &'a [Cell],
}

impl Record<'_> {
    fn cell(&self, column: &str) -> &Cell {
        self.columns
            .iter()
            .position(|(name, _)| name == column)
            .and_then(|at| self.cells.get(at))
            .unwrap_or(&Cell::Null)
    }
}

impl ItemColumns for Record<'_> {
    fn text(&self, column: &str) -> Result<Option<String>, StoreError> {
        Ok(match self.cell(column) {
            Cell::Text(text) => Some(text.clone()),
            Cell::Null => None,
            Cell::Number(number) => Some(number.to_string()),
            Cell::Date(date) => Some(date.to_string()),
        })
    }
    fn number(&self, column: &str) -> Result<Option<f64>, StoreError> {
        match self.cell(column) {
            Cell::Number(number) => Ok(Some(*number)),
            Cell::Null => Ok(None),
            other => Err(StoreError::Corrupt(format!("{column} is not a number: {other:?}"))),
        }
    }
    fn integer(&self, column: &str) -> Result<Option<i64>, StoreError> {
        Ok(self.number(column)?.map(|number| number.round() as i64))
    }
    fn date(&self, column: &str) -> Result<Option<NaiveDate>, StoreError> {
        match self.cell(column) {
            Cell::Date(date) => Ok(Some(*date)),
            Cell::Null => Ok(None),
            other => Err(StoreError::Corrupt(format!("{column} is not a date: {other:?}"))),
        }
    }
    fn flag(&self, column: &str) -> Result<bool, StoreError> {
        Ok(self.number(column)?.is_some_and(|number| number != 0.0))
    }
    fn factors(&self, column: &str) -> Result<Option<FactorOverrides>, StoreError> {
        match self.text(column)? {
            None => Ok(None),
            Some(text) => serde_json::from_str(&text)
                .map(Some)
                .map_err(|error| StoreError::Corrupt(format!("{column} is not a set of factors: {error}"))),
        }
    }
}

fn records(rows: &QueryRows) -> impl Iterator<Item = Record<'_>> {
    rows.rows.iter().map(|cells| Record { columns: &rows.columns, cells })
}

/// Scenario `name` (its name, or its id) of site `site`, at its current version, as the
/// warehouse holds it. A name two scenarios share must be given as an id.
pub async fn scenario_in_warehouse(
    engine: &Engine,
    scope: &Scope,
    site: &str,
    name: &str,
) -> Result<(Scenario, BTreeMap<String, String>), PowerTraceError> {
    let parameters = [site.to_owned()];
    let found = engine
        .query(
            "SELECT CAST(s.id AS VARCHAR) AS id, s.name AS name, s.description AS description, s.base_date AS base_date, \
             s.status AS status, CAST(s.factors AS VARCHAR) AS factors, CAST(s.\"version\" AS DOUBLE) AS version, \
             CAST(to_unixtime(s.updated_at) AS DOUBLE) AS updated_at \
             FROM powertrace.scenarios s JOIN core.sites site ON site.id = s.site_id \
             WHERE s.deleted_at IS NULL AND site.code = CAST($1 AS VARCHAR) ORDER BY s.name, id",
            &parameters,
            SCENARIO_ROWS,
            scope,
        )
        .await?;
    let mut warehouse = found.warehouse.clone();
    let all: Vec<Record> = records(&found).collect();
    let wanted = name.trim();
    let matching: Vec<&Record> = all
        .iter()
        .filter(|record| {
            let text = |column| record.text(column).ok().flatten().unwrap_or_default();
            text("id").eq_ignore_ascii_case(wanted) || text("name") == wanted
        })
        .collect();
    let record = match matching.as_slice() {
        [record] => record,
        [] => {
            let known: Vec<String> = all.iter().filter_map(|record| record.text("name").ok().flatten()).collect();
            return Err(PowerTraceError::UnknownScenario {
                site: site.to_owned(),
                scenario: wanted.to_owned(),
                known: if known.is_empty() { "none".to_owned() } else { known.join(", ") },
            });
        }
        several => {
            let ids: Vec<String> = several.iter().filter_map(|record| record.text("id").ok().flatten()).collect();
            return Err(PowerTraceError::AmbiguousScenario {
                site: site.to_owned(),
                scenario: wanted.to_owned(),
                ids: ids.join(", "),
            });
        }
    };
    let corrupt = |what: &str| PowerTraceError::Stored(StoreError::Corrupt(format!("a scenario with no {what}")));
    let id = record.text("id")?.and_then(|id| id.parse::<uuid::Uuid>().ok()).ok_or_else(|| corrupt("id"))?;
    let base_date = record.date("base_date")?.ok_or_else(|| corrupt("base date"))?;
    let version = record.integer("version")?.and_then(|version| i32::try_from(version).ok()).unwrap_or(1);
    let updated_at = record
        .number("updated_at")?
        .and_then(|seconds| DateTime::<Utc>::from_timestamp(seconds.floor() as i64, 0))
        .ok_or_else(|| corrupt("time of change"))?;
    let items = engine
        .query(
            "SELECT i.subject AS subject, i.action AS action, i.tag AS tag, i.description AS description, \
             i.switchboard_code AS switchboard_code, i.secondary_switchboard_code AS secondary_switchboard_code, \
             CAST(i.rated_kw AS DOUBLE) AS rated_kw, CAST(i.absorbed_kw AS DOUBLE) AS absorbed_kw, \
             CAST(i.power_factor AS DOUBLE) AS power_factor, CAST(i.efficiency AS DOUBLE) AS efficiency, \
             i.load_category AS load_category, CAST(i.quantity AS DOUBLE) AS quantity, \
             CAST(i.rated_kva AS DOUBLE) AS rated_kva, \
             CASE WHEN i.out_of_service THEN 1.0 ELSE 0.0 END AS out_of_service, \
             CAST(i.factors AS VARCHAR) AS factors, i.start_date AS start_date, b.code AS equipment_board \
             FROM powertrace.scenario_items i \
             LEFT JOIN powertrace.equipment e ON e.id = i.equipment_id \
             LEFT JOIN powertrace.switchboards b ON b.id = e.switchboard_id \
             WHERE CAST(i.scenario_id AS VARCHAR) = CAST($1 AS VARCHAR) AND i.\"version\" = CAST($2 AS INT) \
             AND i.deleted_at IS NULL \
             ORDER BY i.position, i.created_at, CAST(i.id AS VARCHAR)",
            &[id.to_string(), version.to_string()],
            ITEM_ROWS,
            scope,
        )
        .await?;
    warehouse.extend(items.warehouse.clone());
    let items: Vec<Item> = records(&items).map(|row| store::item_of(&row, base_date)).collect::<Result<_, _>>()?;
    let scenario = Scenario {
        id,
        site: site.to_owned(),
        name: record.text("name")?.unwrap_or_default(),
        description: record.text("description")?,
        base_date,
        status: record.text("status")?.unwrap_or_default(),
        factors: record.factors("factors")?.unwrap_or_default(),
        version,
        latest_version: version,
        items,
        updated_at,
    };
    Ok((scenario, warehouse))
}

/// The table versions a PowerTrace result records (`{"generation": …, "tables": {…}}`).
fn tables_read(read: &serde_json::Value) -> BTreeMap<String, String> {
    read["tables"]
        .as_object()
        .map(|tables| {
            tables
                .iter()
                .map(|(table, version)| (table.clone(), version.as_str().unwrap_or_default().to_owned()))
                .collect()
        })
        .unwrap_or_default()
}

fn column(name: &str, format: ValueFormat) -> DataColumn {
    DataColumn { name: name.to_owned(), label: name.to_owned(), format }
}

fn text(value: impl Into<String>) -> Value {
    Value::Text(value.into())
}

fn number(value: Option<f64>) -> Value {
    value.filter(|value| value.is_finite()).map_or(Value::Null, Value::Number)
}

/// Scenario `name` of site `site` evaluated now, as table `view`.
pub async fn scenario_table(
    engine: &Engine,
    scope: &Scope,
    answered: &mut Answered,
    site: &str,
    name: &str,
    view: &str,
) -> Result<DataTable, PowerTraceError> {
    let (scenario, mut warehouse) = answered.scenario(engine, scope, site, name).await?;
    if view == "items" {
        return Ok(items_table(&scenario.items, warehouse));
    }
    let key = (site.to_owned(), name.trim().to_owned());
    if !answered.evaluations.contains_key(&key) {
        let evaluated = analysis::evaluate(engine, scope, &scenario, None).await?;
        answered.evaluations.insert(key.clone(), evaluated);
    }
    let evaluated = &answered.evaluations[&key];
    warehouse.extend(tables_read(&evaluated.warehouse));
    let evaluation = &evaluated.evaluation;
    Ok(match view {
        "switchboards" => switchboards_table(evaluation, warehouse),
        "checks" => checks_table(&evaluation.failures, warehouse),
        "recommendations" => recommendations_table(&evaluation.recommendations, warehouse),
        _ => summary_table(&evaluation.baseline, &evaluation.scenario, warehouse),
    })
}

/// One figure of a load list, by its code.
type Figure = fn(&LoadList) -> Option<f64>;

fn summary_table(baseline: &LoadList, scenario: &LoadList, warehouse: BTreeMap<String, String>) -> DataTable {
    let figures: [(&str, &str, Figure); 9] = [
        ("connected_kw", "kW", |list| Some(list.connected.kw)),
        ("demand_kw", "kW", |list| Some(list.demand.kw)),
        ("demand_kva", "kVA", |list| Some(list.demand.kva())),
        ("power_factor", "", |list| Some(list.demand.power_factor())),
        ("installed_kva", "kVA", |list| Some(list.generation.installed_kva)),
        ("available_kw", "kW", |list| Some(list.generation.available_kw)),
        ("n1_kw", "kW", |list| Some(list.generation.n1_kw)),
        ("n2_kw", "kW", |list| Some(list.generation.n2_kw)),
        ("n1_loading", "%", |list| list.generation.n1_loading.map(|loading| loading * 100.0)),
    ];
    DataTable {
        columns: vec![
            column("figure", ValueFormat::Text),
            column("baseline", ValueFormat::Decimal),
            column("scenario", ValueFormat::Decimal),
            column("unit", ValueFormat::Text),
        ],
        rows: figures
            .iter()
            .map(|(code, unit, figure)| {
                vec![text(*code), number(figure(baseline)), number(figure(scenario)), text(*unit)]
            })
            .collect(),
        warehouse,
    }
}

fn items_table(items: &[Item], warehouse: BTreeMap<String, String>) -> DataTable {
    DataTable {
        columns: vec![
            column("start", ValueFormat::Date),
            column("subject", ValueFormat::Text),
            column("action", ValueFormat::Text),
            column("tag", ValueFormat::Text),
            column("switchboard", ValueFormat::Text),
            column("description", ValueFormat::Text),
            column("kw", ValueFormat::Decimal),
            column("kva", ValueFormat::Decimal),
            column("quantity", ValueFormat::Integer),
        ],
        rows: items
            .iter()
            .map(|item| {
                let row = ItemRow::of(item);
                let action = if row.out_of_service { "out_of_service" } else { row.action };
                vec![
                    Value::Date(item.start),
                    text(row.subject),
                    text(action),
                    row.tag.map_or(Value::Null, Value::Text),
                    row.switchboard.map_or(Value::Null, Value::Text),
                    row.description.map_or(Value::Null, Value::Text),
                    number(row.absorbed_kw),
                    number(row.rated_kva),
                    number(row.quantity.map(f64::from)),
                ]
            })
            .collect(),
        warehouse,
    }
}

fn switchboards_table(evaluation: &Evaluation, warehouse: BTreeMap<String, String>) -> DataTable {
    DataTable {
        columns: vec![
            column("switchboard", ValueFormat::Text),
            column("baseline_kw", ValueFormat::Decimal),
            column("scenario_kw", ValueFormat::Decimal),
            column("change_kw", ValueFormat::Decimal),
            column("baseline_kva", ValueFormat::Decimal),
            column("scenario_kva", ValueFormat::Decimal),
        ],
        rows: evaluation
            .switchboards
            .iter()
            .map(|board| {
                let change = board.scenario_kw.unwrap_or(0.0) - board.baseline_kw.unwrap_or(0.0);
                vec![
                    text(board.code.clone()),
                    number(board.baseline_kw),
                    number(board.scenario_kw),
                    number(Some(change)),
                    number(board.baseline_kva),
                    number(board.scenario_kva),
                ]
            })
            .collect(),
        warehouse,
    }
}

fn checks_table(failures: &[Failure], warehouse: BTreeMap<String, String>) -> DataTable {
    DataTable {
        columns: vec![
            column("check", ValueFormat::Text),
            column("subject", ValueFormat::Text),
            column("value", ValueFormat::Decimal),
            column("limit", ValueFormat::Decimal),
            column("unit", ValueFormat::Text),
        ],
        rows: failures
            .iter()
            .map(|failure| {
                // Loadings are fractions: shown as percentages.
                let (scale, unit) = match failure.check {
                    "n1_overload" | "n2_overload" => (1.0, "kW"),
                    "running_load_factor" | "transformer_overload" => (100.0, "%"),
                    _ => (1.0, ""),
                };
                vec![
                    text(failure.check),
                    text(failure.subject.clone()),
                    number(Some(failure.value * scale)),
                    number(Some(failure.limit * scale)),
                    text(unit),
                ]
            })
            .collect(),
        warehouse,
    }
}

fn recommendations_table(recommendations: &[Recommendation], warehouse: BTreeMap<String, String>) -> DataTable {
    DataTable {
        columns: vec![
            column("recommendation", ValueFormat::Text),
            column("amount", ValueFormat::Decimal),
            column("unit", ValueFormat::Text),
            column("tags", ValueFormat::Text),
        ],
        rows: recommendations
            .iter()
            .map(|recommendation| match recommendation {
                Recommendation::Generator { kva, .. } => {
                    vec![text("generator"), number(Some(*kva)), text("kVA"), Value::Null]
                }
                Recommendation::Shed { tags, kw, .. } => {
                    vec![text("shed"), number(Some(*kw)), text("kW"), text(tags.join(", "))]
                }
                Recommendation::PowerFactorCorrection { kvar, .. } => {
                    vec![text("power_factor_correction"), number(Some(*kvar)), text("kVAR"), Value::Null]
                }
            })
            .collect(),
        warehouse,
    }
}

/// The demand forecast of a `forecast` block: site `site` (or one of its switchboards)
/// `horizon` ahead with 80 % and 95 % intervals, plus scenario `scenario`'s added load
/// (a site's forecast only: a switchboard's has no N-1 capacity to hold against).
pub async fn forecast_table(
    engine: &Engine,
    scope: &Scope,
    answered: &mut Answered,
    site: &str,
    switchboard: Option<&str>,
    horizon: &str,
    scenario: Option<&str>,
) -> Result<DataTable, PowerTraceError> {
    let (scenario, mut warehouse) = match scenario {
        Some(name) => {
            let (scenario, read) = answered.scenario(engine, scope, site, name).await?;
            (Some(scenario), read)
        }
        None => (None, BTreeMap::new()),
    };
    let key = (site.to_owned(), switchboard.map(str::to_owned), horizon.trim().to_owned());
    if !answered.forecasts.contains_key(&key) {
        let made = analysis::demand_forecast(engine, scope, site, switchboard, horizon, 95.0, None).await?;
        answered.forecasts.insert(key.clone(), made);
    }
    let made = &answered.forecasts[&key];
    warehouse.extend(tables_read(&made.warehouse));
    let (added, capacity_changes) = match (&scenario, switchboard) {
        (Some(scenario), None) => analysis::scenario_changes(engine, scope, scenario).await?,
        _ => Default::default(),
    };
    let capacity = made.crossing.as_ref().map(|crossing| crossing.capacity_kw);
    Ok(forecast_steps(&made.forecast, &added, capacity, &capacity_changes, warehouse))
}

/// A forecast as rows, each the peak of its period: the forecast with the added load,
/// the outer bounds of each interval, the added load, and the N-1 capacity (its lowest
/// over the period, when a scenario changes it).
pub fn forecast_steps(
    made: &Forecast,
    added: &[(NaiveDate, f64)],
    capacity: Option<f64>,
    capacity_changes: &[(NaiveDate, f64)],
    warehouse: BTreeMap<String, String>,
) -> DataTable {
    let points = &made.points;
    let step_minutes = match points.as_slice() {
        [first, second, ..] => (second.at - first.at).num_minutes().max(1),
        _ => 15,
    };
    let per_row = [step_minutes, 60, 180, 360, 720, 1_440, 10_080]
        .into_iter()
        .filter(|minutes| *minutes >= step_minutes && minutes % step_minutes == 0)
        .map(|minutes| (minutes / step_minutes) as usize)
        .find(|steps| points.len().div_ceil(*steps) <= FORECAST_ROWS)
        .unwrap_or_else(|| points.len().div_ceil(FORECAST_ROWS).max(1));
    let added = |at: &DateTime<chrono::FixedOffset>| step_at(added, at.date_naive(), 0.0);
    let levels = made.levels.len();
    let mut columns = vec![column("at", ValueFormat::Text), column("forecast", ValueFormat::Decimal)];
    for level in &made.levels {
        let level = level.round() as i64;
        columns.push(column(&format!("lower_{level}"), ValueFormat::Decimal));
        columns.push(column(&format!("upper_{level}"), ValueFormat::Decimal));
    }
    columns.push(column("added", ValueFormat::Decimal));
    columns.push(column("capacity", ValueFormat::Decimal));
    let rows = points
        .chunks(per_row)
        .map(|chunk| {
            let peak = |value: &dyn Fn(&Point) -> f64| chunk.iter().map(value).fold(f64::NEG_INFINITY, f64::max);
            let low = |value: &dyn Fn(&Point) -> f64| chunk.iter().map(value).fold(f64::INFINITY, f64::min);
            let mut row = vec![
                text(chunk[0].at.format("%Y-%m-%d %H:%M").to_string()),
                number(Some(peak(&|point| point.forecast + added(&point.at)))),
            ];
            for level in 0..levels {
                row.push(number(Some(low(&|point| {
                    point.intervals.get(level).map_or(f64::NAN, |(lower, _)| *lower) + added(&point.at)
                }))));
                row.push(number(Some(peak(&|point| {
                    point.intervals.get(level).map_or(f64::NAN, |(_, upper)| *upper) + added(&point.at)
                }))));
            }
            row.push(number(Some(peak(&|point| added(&point.at)))));
            row.push(number(
                capacity.map(|capacity| low(&|point| step_at(capacity_changes, point.at.date_naive(), capacity))),
            ));
            row
        })
        .collect();
    DataTable { columns, rows, warehouse }
}
