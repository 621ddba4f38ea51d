//! PowerTrace in the service: reads what the pure calculations need from the warehouse —
//! a site's plant (switchboards, equipment, generators, transformers) and a site's or a
//! switchboard's metered demand as a series — within the reader's scope.
//!
//! - `analysis` — load lists with their metered side, scenario evaluations and demand
//!   forecasts against N-1, each naming the warehouse versions it read.
//! - `blocks` — the tables of documents' `scenario` and `forecast` blocks.
//! - `store` — scenarios, their versions and evaluations in PostgreSQL.
//! - `wire` — scenarios as JSON bodies, checked member by member.

pub mod analysis;
pub mod blocks;
pub mod store;
pub mod wire;

use std::collections::{BTreeMap, BTreeSet};

use opsflux_powertrace::forecast::{ForecastError, Series};
use opsflux_powertrace::{Plant, Tables};
use opsflux_query::{Engine, Pin, QueryError, Scope};
use opsflux_warehouse::arrow::array::{Array, AsArray, RecordBatch, StringArray};
use opsflux_warehouse::arrow::datatypes::{DataType, Float64Type, Int64Type};

/// Meter readings are 15-minute readings.
pub const READING_INTERVAL_MS: i64 = 15 * 60 * 1_000;

/// Why a site's demand could not be read or forecast.
#[derive(Debug, thiserror::Error)]
pub enum PowerTraceError {
    #[error("no site `{site}` among those you may read ({known})")]
    UnknownSite { site: String, known: String },
    #[error("site {site} has no switchboard `{switchboard}` (it has {known})")]
    UnknownSwitchboard { site: String, switchboard: String, known: String },
    #[error("site {site} has no scenario `{scenario}` (it has {known})")]
    UnknownScenario { site: String, scenario: String, known: String },
    #[error("site {site} has several scenarios named `{scenario}`: give one's id ({ids})")]
    AmbiguousScenario { site: String, scenario: String, ids: String },
    #[error(transparent)]
    Stored(#[from] store::StoreError),
    #[error("{0} has no meter readings")]
    NoReadings(String),
    #[error(transparent)]
    Query(#[from] QueryError),
    #[error(transparent)]
    Forecast(#[from] ForecastError),
    #[error(transparent)]
    Plant(#[from] opsflux_powertrace::PowerError),
    #[error("reading the warehouse: unexpected column {0}")]
    Column(String),
    /// A scenario item the plant refuses (an unknown tag or switchboard).
    #[error(transparent)]
    Item(#[from] opsflux_powertrace::scenario::ItemError),
    #[error("the calculation stopped unexpectedly: {0}")]
    Stopped(String),
    /// The calculation waited or ran past its time limit.
    #[error("{0}")]
    Busy(String),
}

/// What a demand series was summed over.
#[derive(Debug, Clone)]
pub struct DemandSource {
    pub site: String,
    /// The switchboard, or `None` for the whole site.
    pub switchboard: Option<String>,
    /// Codes of the switchboards whose meters were summed.
    pub switchboards: Vec<String>,
    pub meters: usize,
}

impl DemandSource {
    pub fn describe(&self) -> String {
        match &self.switchboard {
            Some(board) => format!("switchboard {board} of site {}", self.site),
            None => format!("site {}", self.site),
        }
    }
}

/// The metered demand (kW) of a site, or of a switchboard and every board it feeds
/// (through child switchboards and transformers), as a regular 15-minute series. A meter
/// measures the loads its own switchboard feeds, so the meters of those boards are summed.
pub async fn demand(
    engine: &Engine,
    scope: &Scope,
    site: &str,
    switchboard: Option<&str>,
) -> Result<(Series, DemandSource), PowerTraceError> {
    let meters = SiteMeters::read(engine, &engine.pin(), scope, site).await?;
    meters.demand(switchboard)
}

/// A site's switchboards, how they feed one another, and every meter reading on them,
/// read once so the demand of the site and of each board comes from the same rows.
pub struct SiteMeters {
    site: String,
    /// Switchboard id → code.
    code_of: BTreeMap<String, String>,
    /// Switchboard id → the ids of the boards it feeds directly.
    feeds: BTreeMap<String, Vec<String>>,
    /// Per reading: time (ms), meter index, board id index, kW.
    at: Vec<i64>,
    meter: Vec<u32>,
    board: Vec<u32>,
    kw: Vec<f64>,
    /// Board ids by index.
    boards: Vec<String>,
}

impl std::fmt::Debug for SiteMeters {
    fn fmt(&self, formatter: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        formatter
            .debug_struct("SiteMeters")
            .field("site", &self.site)
            .field("switchboards", &self.code_of.len())
            .field("readings", &self.at.len())
            .finish()
    }
}

impl SiteMeters {
    /// Reads site `site`'s boards and readings as `pin` holds them.
    pub async fn read(engine: &Engine, pin: &Pin, scope: &Scope, site: &str) -> Result<SiteMeters, PowerTraceError> {
        let site_id = site_id(engine, pin, scope, site).await?;
        let boards = collect(
            engine,
            pin,
            scope,
            &format!(
                "SELECT CAST(id AS VARCHAR) AS id, code, CAST(parent_switchboard_id AS VARCHAR) AS parent
                 FROM powertrace.switchboards WHERE CAST(site_id AS VARCHAR) = '{site_id}' AND deleted_at IS NULL"
            ),
        )
        .await?;
        let mut code_of: BTreeMap<String, String> = BTreeMap::new();
        let mut feeds: BTreeMap<String, Vec<String>> = BTreeMap::new();
        for batch in &boards {
            let (ids, codes, parents) = (text(batch, 0)?, text(batch, 1)?, text(batch, 2)?);
            for row in 0..batch.num_rows() {
                code_of.insert(ids.value(row).to_owned(), codes.value(row).to_owned());
                if parents.is_valid(row) {
                    feeds.entry(parents.value(row).to_owned()).or_default().push(ids.value(row).to_owned());
                }
            }
        }
        let transformers = collect(
            engine,
            pin,
            scope,
            &format!(
                "SELECT CAST(primary_switchboard_id AS VARCHAR), CAST(secondary_switchboard_id AS VARCHAR)
                 FROM powertrace.transformers WHERE CAST(site_id AS VARCHAR) = '{site_id}' AND deleted_at IS NULL"
            ),
        )
        .await?;
        for batch in &transformers {
            let (primaries, secondaries) = (text(batch, 0)?, text(batch, 1)?);
            for row in 0..batch.num_rows() {
                feeds.entry(primaries.value(row).to_owned()).or_default().push(secondaries.value(row).to_owned());
            }
        }
        let mut meters = SiteMeters {
            site: site.to_owned(),
            code_of,
            feeds,
            at: Vec::new(),
            meter: Vec::new(),
            board: Vec::new(),
            kw: Vec::new(),
            boards: Vec::new(),
        };
        if meters.code_of.is_empty() {
            return Ok(meters);
        }
        // Ids come from the warehouse itself, so listing them in the query is safe.
        let board_list: Vec<String> = meters.code_of.keys().map(|id| format!("'{id}'")).collect();
        let readings = collect(
            engine,
            pin,
            scope,
            &format!(
                "SELECT CAST(to_unixtime(r.read_at) AS BIGINT) * 1000 AS at, CAST(r.meter_id AS VARCHAR) AS meter,
                        r.kw, CAST(m.switchboard_id AS VARCHAR) AS board
                 FROM powertrace.meter_readings r JOIN powertrace.meters m ON r.meter_id = m.id
                 WHERE CAST(m.switchboard_id AS VARCHAR) IN ({}) AND r.deleted_at IS NULL AND m.deleted_at IS NULL",
                board_list.join(", ")
            ),
        )
        .await?;
        let mut meter_index: BTreeMap<String, u32> = BTreeMap::new();
        let mut board_index: BTreeMap<String, u32> = BTreeMap::new();
        for batch in &readings {
            let stamps =
                batch.column(0).as_primitive_opt::<Int64Type>().ok_or_else(|| PowerTraceError::Column("at".into()))?;
            let meter_ids = text(batch, 1)?;
            let values = batch
                .column(2)
                .as_primitive_opt::<Float64Type>()
                .ok_or_else(|| PowerTraceError::Column("kw".into()))?;
            let board_ids = text(batch, 3)?;
            for row in 0..batch.num_rows() {
                if stamps.is_null(row) || values.is_null(row) {
                    continue;
                }
                let next = meter_index.len() as u32;
                meters.meter.push(*meter_index.entry(meter_ids.value(row).to_owned()).or_insert(next));
                let next = board_index.len() as u32;
                let board = board_ids.value(row);
                let index = *board_index.entry(board.to_owned()).or_insert_with(|| {
                    meters.boards.push(board.to_owned());
                    next
                });
                meters.board.push(index);
                meters.at.push(stamps.value(row));
                meters.kw.push(values.value(row));
            }
        }
        Ok(meters)
    }

    /// The switchboard codes of the site, sorted.
    pub fn switchboards(&self) -> Vec<String> {
        self.code_of.values().cloned().collect::<BTreeSet<_>>().into_iter().collect()
    }

    /// The demand of the whole site (`None`) or of one switchboard and what it feeds.
    pub fn demand(&self, switchboard: Option<&str>) -> Result<(Series, DemandSource), PowerTraceError> {
        let selected: BTreeSet<String> = match switchboard {
            None => self.code_of.keys().cloned().collect(),
            Some(code) => {
                let root = self
                    .code_of
                    .iter()
                    .find(|(_, board)| board.as_str() == code)
                    .map(|(id, _)| id.clone())
                    .ok_or_else(|| PowerTraceError::UnknownSwitchboard {
                        site: self.site.clone(),
                        switchboard: code.to_owned(),
                        known: self.switchboards().join(", "),
                    })?;
                let mut selected = BTreeSet::new();
                let mut pending = vec![root];
                while let Some(board) = pending.pop() {
                    if selected.insert(board.clone()) {
                        pending.extend(self.feeds.get(&board).into_iter().flatten().cloned());
                    }
                }
                selected
            }
        };
        let source = DemandSource {
            site: self.site.clone(),
            switchboard: switchboard.map(str::to_owned),
            switchboards: selected
                .iter()
                .filter_map(|id| self.code_of.get(id).cloned())
                .collect::<BTreeSet<_>>()
                .into_iter()
                .collect(),
            meters: 0,
        };
        let wanted: Vec<bool> = self.boards.iter().map(|id| selected.contains(id)).collect();
        let (mut at, mut meter, mut kw) = (Vec::new(), Vec::new(), Vec::new());
        let mut meters = BTreeSet::new();
        for row in 0..self.at.len() {
            if wanted[self.board[row] as usize] {
                at.push(self.at[row]);
                meter.push(self.meter[row]);
                kw.push(self.kw[row]);
                meters.insert(self.meter[row]);
            }
        }
        if at.is_empty() {
            return Err(PowerTraceError::NoReadings(source.describe()));
        }
        let source = DemandSource { meters: meters.len(), ..source };
        let series = Series::from_readings(&at, &meter, &kw, READING_INTERVAL_MS)?;
        Ok((series, source))
    }
}

/// The warehouse tables a plant is read from.
pub const PLANT_TABLES: [&str; 5] = [
    "core.sites",
    "powertrace.switchboards",
    "powertrace.equipment",
    "powertrace.generators",
    "powertrace.transformers",
];

/// What site `code` has, electrically, read from the warehouse tables as pinned now.
pub async fn plant(engine: &Engine, scope: &Scope, code: &str) -> Result<Plant, PowerTraceError> {
    plant_at(engine, &engine.pin(), scope, code).await
}

/// What site `code` has, electrically, read from the warehouse tables as `pin` holds them.
pub async fn plant_at(engine: &Engine, pin: &Pin, scope: &Scope, code: &str) -> Result<Plant, PowerTraceError> {
    site_id(engine, pin, scope, code).await?;
    let mut batches = Vec::new();
    for table in PLANT_TABLES {
        batches.push(collect(engine, pin, scope, &format!("SELECT * FROM {table}")).await?);
    }
    let tables = Tables {
        sites: &batches[0],
        switchboards: &batches[1],
        equipment: &batches[2],
        generators: &batches[3],
        transformers: &batches[4],
    };
    Ok(Plant::from_batches(code, &tables)?)
}

/// The id of the site with `code`, if the reader may see it.
async fn site_id(engine: &Engine, pin: &Pin, scope: &Scope, code: &str) -> Result<String, PowerTraceError> {
    let sites = collect(engine, pin, scope, "SELECT CAST(id AS VARCHAR), code FROM core.sites ORDER BY code").await?;
    let mut known = Vec::new();
    for batch in &sites {
        let (ids, codes) = (text(batch, 0)?, text(batch, 1)?);
        for row in 0..batch.num_rows() {
            if codes.value(row) == code {
                return Ok(ids.value(row).to_owned());
            }
            known.push(codes.value(row).to_owned());
        }
    }
    let known = if known.is_empty() { "none".to_owned() } else { known.join(", ") };
    Err(PowerTraceError::UnknownSite { site: code.to_owned(), known })
}

async fn collect(engine: &Engine, pin: &Pin, scope: &Scope, sql: &str) -> Result<Vec<RecordBatch>, PowerTraceError> {
    let frame = pin.sql(sql, scope).await?;
    let batches = engine
        .run(async move {
            frame.collect().await.map_err(|error| QueryError::Execution {
                context: "reading PowerTrace tables".into(),
                source: Box::new(error),
            })
        })
        .await?;
    Ok(batches)
}

/// A column as UTF-8 text, whichever string layout the scan produced.
fn text(batch: &RecordBatch, column: usize) -> Result<StringArray, PowerTraceError> {
    let unexpected = || PowerTraceError::Column(batch.schema().field(column).name().clone());
    let cast =
        opsflux_warehouse::arrow::compute::cast(batch.column(column), &DataType::Utf8).map_err(|_| unexpected())?;
    cast.as_string_opt::<i32>().cloned().ok_or_else(unexpected)
}
