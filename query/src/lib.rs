//! Queries over the warehouse: a DataFusion session pinned to one warehouse snapshot
//! (`engine`), the metric catalog (`catalog`), metric requests and results (`metric`)
//! and analyst exports (`export`). CPU work runs on the engine's own runtime.

mod adhoc;
pub mod catalog;
pub mod engine;
pub mod export;
pub mod metric;
pub mod scope;

use std::fmt;
use std::str::FromStr;

use chrono::{Datelike, Days, NaiveDate};

pub use adhoc::{ColumnKind, QueryRows};
pub use catalog::{Catalog, CatalogError, ChartKind, Format, Measure, Metric, Rollup};
pub use engine::{Engine, EngineSettings, Pin};
pub use export::{ExportFormat, ExportSource, ExportSummary};
pub use metric::{Cell, ColumnRole, MetricRequest, MetricResult, ResultColumn};
pub use scope::Scope;

/// Why a request's parameter was refused; each names the parameter, as users wrote it.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ParameterError {
    #[error("unknown grain `{0}`: expected one of day, week, month, quarter, year, total")]
    UnknownGrain(String),
    #[error("unknown metric `{0}`: `GET /api/metrics` lists the catalog")]
    UnknownMetric(String),
    #[error("`{parameter}` is `{value}`, which is not a date: expected YYYY-MM-DD")]
    MalformedDate { parameter: &'static str, value: String },
    #[error("the period starts ({from}) after it ends ({to})")]
    PeriodReversed { from: NaiveDate, to: NaiveDate },
    #[error("unknown site `{0}`: known sites are listed by `GET /api/sites`")]
    UnknownSite(String),
    #[error("site `{0}` is outside your site scope")]
    OutsideScope(String),
    #[error("`{value}` is not a dimension of {metric}: expected some of {allowed}")]
    UnknownDimension { metric: String, value: String, allowed: String },
    #[error("{metric} cannot leave out `{dimension}`: its measures do not add up across it")]
    RequiredDimension { metric: String, dimension: String },
    #[error("unknown format `{0}`: expected one of parquet, csv, xlsx, arrow")]
    UnknownFormat(String),
    #[error("unknown table `{0}`: expected `schema.table` of a warehouse table")]
    UnknownTable(String),
}

impl ParameterError {
    /// The query parameter at fault, for problem documents.
    pub fn parameter(&self) -> &'static str {
        match self {
            ParameterError::UnknownGrain(_) => "grain",
            ParameterError::UnknownMetric(_) => "metric",
            ParameterError::MalformedDate { parameter, .. } => parameter,
            ParameterError::PeriodReversed { .. } => "from",
            ParameterError::UnknownSite(_) | ParameterError::OutsideScope(_) => "site",
            ParameterError::UnknownDimension { .. } | ParameterError::RequiredDimension { .. } => "by",
            ParameterError::UnknownFormat(_) => "format",
            ParameterError::UnknownTable(_) => "table",
        }
    }
}

/// Why a query failed.
#[derive(Debug, thiserror::Error)]
pub enum QueryError {
    /// The request was wrong: the caller must change it.
    #[error(transparent)]
    Parameter(#[from] ParameterError),
    /// A catalog definition does not plan against the warehouse: its author must fix it.
    #[error(transparent)]
    Catalog(#[from] CatalogError),
    #[error(transparent)]
    Warehouse(#[from] opsflux_warehouse::WarehouseError),
    /// Planning or running a query failed.
    #[error("{context}: {source}")]
    Execution { context: String, source: Box<opsflux_warehouse::datafusion::error::DataFusionError> },
    /// Writing an export failed (disk full, client gone).
    #[error("writing the export failed: {0}")]
    Export(String),
    /// A query answered more rows than its reader can show.
    #[error("the query returns more than {limit} rows: aggregate or filter it")]
    TooManyRows { limit: usize },
    /// A query ran past its time limit and was cancelled.
    #[error("the query ran longer than {seconds} s and was stopped: filter or aggregate it")]
    Timeout { seconds: f64 },
    /// The query runtime stopped or a query task panicked.
    #[error("the query runtime failed: {0}")]
    Runtime(String),
}

impl QueryError {
    pub(crate) fn execution(
        context: impl Into<String>,
    ) -> impl FnOnce(opsflux_warehouse::datafusion::error::DataFusionError) -> Self {
        let context = context.into();
        move |source| QueryError::Execution { context, source: Box::new(source) }
    }
}

/// The time bucket a metric is aggregated by.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Grain {
    Day,
    /// ISO weeks, starting on Monday.
    Week,
    Month,
    Quarter,
    Year,
    /// The whole requested period as one bucket (KPI tiles).
    Total,
}

impl Grain {
    /// The first day of the bucket holding `date`; for `Total`, the period's start.
    pub fn bucket_start(self, date: NaiveDate, period_start: NaiveDate) -> NaiveDate {
        let first_of = |month: u32| NaiveDate::from_ymd_opt(date.year(), month, 1).unwrap_or(date);
        match self {
            Grain::Day => date,
            Grain::Week => {
                date.checked_sub_days(Days::new(u64::from(date.weekday().num_days_from_monday()))).unwrap_or(date)
            }
            Grain::Month => first_of(date.month()),
            Grain::Quarter => first_of((date.month0() / 3) * 3 + 1),
            Grain::Year => first_of(1),
            Grain::Total => period_start,
        }
    }

    /// The SQL expression of the bucket start of a `DATE` expression, in the dialect
    /// DataFusion and DuckDB share.
    pub fn sql_bucket(self, date: &str, period_start: NaiveDate) -> String {
        match self {
            Grain::Day => date.to_owned(),
            Grain::Total => format!("DATE '{period_start}'"),
            other => format!("CAST(date_trunc('{other}', CAST({date} AS TIMESTAMP)) AS DATE)"),
        }
    }
}

impl fmt::Display for Grain {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        formatter.write_str(match self {
            Grain::Day => "day",
            Grain::Week => "week",
            Grain::Month => "month",
            Grain::Quarter => "quarter",
            Grain::Year => "year",
            Grain::Total => "total",
        })
    }
}

impl FromStr for Grain {
    type Err = ParameterError;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        match text {
            "day" => Ok(Grain::Day),
            "week" => Ok(Grain::Week),
            "month" => Ok(Grain::Month),
            "quarter" => Ok(Grain::Quarter),
            "year" => Ok(Grain::Year),
            "total" => Ok(Grain::Total),
            other => Err(ParameterError::UnknownGrain(other.to_owned())),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn buckets_start_where_calendars_say() {
        let date = NaiveDate::from_ymd_opt(2026, 11, 21).unwrap(); // a Saturday
        let period_start = NaiveDate::from_ymd_opt(2026, 9, 3).unwrap();
        let starts: Vec<String> = [Grain::Day, Grain::Week, Grain::Month, Grain::Quarter, Grain::Year, Grain::Total]
            .iter()
            .map(|grain| format!("{grain}={}", grain.bucket_start(date, period_start)))
            .collect();
        assert_eq!(
            starts.join(" "),
            "day=2026-11-21 week=2026-11-16 month=2026-11-01 quarter=2026-10-01 year=2026-01-01 total=2026-09-03"
        );
    }

    #[test]
    fn unknown_grains_are_named() {
        assert_eq!("hour".parse::<Grain>(), Err(ParameterError::UnknownGrain("hour".into())));
        assert_eq!("week".parse::<Grain>(), Ok(Grain::Week));
        assert_eq!(ParameterError::UnknownGrain("hour".into()).parameter(), "grain");
    }
}
