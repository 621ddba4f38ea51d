//! Metric requests (sites, period, grain, grouping) checked and turned into one SQL
//! query over the metric's source, and results as typed rows that name the warehouse
//! snapshot they reflect.

use std::collections::BTreeMap;

use chrono::NaiveDate;
use opsflux_warehouse::arrow::array::{Array, AsArray, RecordBatch};
use opsflux_warehouse::arrow::compute::cast;
use opsflux_warehouse::arrow::datatypes::{DataType, Date32Type, Float64Type};

use crate::catalog::{Format, Metric};
use crate::{Grain, ParameterError, QueryError};

/// What a caller asks of a metric, before it is checked against the catalog and the
/// warehouse's sites.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct MetricRequest {
    /// Site codes; empty means every site.
    pub sites: Vec<String>,
    pub from: NaiveDate,
    pub to: NaiveDate,
    /// The metric's own grain when `None`.
    pub grain: Option<Grain>,
    /// The metric's default grouping when `None`.
    pub by: Option<Vec<String>>,
}

impl MetricRequest {
    /// Reads a request as written in a URL or on a command line. Missing dates default
    /// to the 90 days ending `today`; each refusal names its parameter.
    pub fn from_text(
        site: Option<&str>,
        from: Option<&str>,
        to: Option<&str>,
        grain: Option<&str>,
        by: Option<&str>,
        today: NaiveDate,
    ) -> Result<Self, ParameterError> {
        let date = |parameter: &'static str, value: Option<&str>| -> Result<Option<NaiveDate>, ParameterError> {
            match value.map(str::trim).filter(|value| !value.is_empty()) {
                None => Ok(None),
                Some(value) => NaiveDate::parse_from_str(value, "%Y-%m-%d")
                    .map(Some)
                    .map_err(|_| ParameterError::MalformedDate { parameter, value: value.to_owned() }),
            }
        };
        let to = date("to", to)?.unwrap_or(today);
        // Checked: a `to` near the calendar's start must not underflow.
        let from =
            date("from", from)?.unwrap_or_else(|| to.checked_sub_days(chrono::Days::new(89)).unwrap_or(NaiveDate::MIN));
        if from > to {
            return Err(ParameterError::PeriodReversed { from, to });
        }
        let list = |text: &str| -> Vec<String> {
            text.split(',').map(str::trim).filter(|item| !item.is_empty()).map(str::to_owned).collect()
        };
        Ok(Self {
            sites: site.map(list).unwrap_or_default(),
            from,
            to,
            grain: grain.filter(|grain| !grain.trim().is_empty()).map(|grain| grain.trim().parse()).transpose()?,
            by: by.map(list),
        })
    }
}

/// A request checked against its metric and the known sites.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub(crate) struct Resolved {
    pub sites: Vec<String>,
    pub from: NaiveDate,
    pub to: NaiveDate,
    pub grain: Grain,
    pub by: Vec<String>,
}

impl Resolved {
    pub fn new(
        metric: &Metric,
        request: &MetricRequest,
        known_site: impl Fn(&str) -> bool,
    ) -> Result<Self, ParameterError> {
        let mut sites = request.sites.clone();
        sites.sort();
        sites.dedup();
        if let Some(unknown) = sites.iter().find(|site| !known_site(site)) {
            return Err(ParameterError::UnknownSite(unknown.clone()));
        }
        let by = request.by.clone().unwrap_or_else(|| metric.default_by.clone());
        let allowed = |name: &String| name == "site" || metric.dimensions.contains(name);
        if let Some(unknown) = by.iter().find(|name| !allowed(name)) {
            let mut names = vec!["site".to_owned()];
            names.extend(metric.dimensions.iter().cloned());
            return Err(ParameterError::UnknownDimension {
                metric: metric.name.clone(),
                value: unknown.clone(),
                allowed: names.join(", "),
            });
        }
        if let Some(missing) = metric.required.iter().find(|name| !by.contains(name)) {
            return Err(ParameterError::RequiredDimension { metric: metric.name.clone(), dimension: missing.clone() });
        }
        let mut ordered: Vec<String> = Vec::new();
        for name in std::iter::once(&"site".to_owned()).chain(&metric.dimensions) {
            if by.contains(name) && !ordered.contains(name) {
                ordered.push(name.clone());
            }
        }
        Ok(Self {
            sites,
            from: request.from,
            to: request.to,
            grain: request.grain.unwrap_or(metric.grain),
            by: ordered,
        })
    }

    /// The one query answering the request: the source filtered to the period and
    /// sites, grouped by bucket and dimensions (a total with no dimension is not
    /// grouped), in the dialect DataFusion and DuckDB share.
    pub fn sql(&self, metric: &Metric) -> String {
        let date = format!("source.{}", quote(&metric.date));
        let mut columns = vec![format!("{} AS period", self.grain.sql_bucket(&date, self.from))];
        columns.extend(self.by.iter().map(|name| format!("CAST(source.{0} AS VARCHAR) AS {0}", quote(name))));
        columns.extend(
            metric
                .measures
                .iter()
                .map(|measure| format!("CAST(({}) AS DOUBLE) AS {}", measure.sql.trim(), quote(&measure.name))),
        );
        let mut filters = vec![format!("{date} BETWEEN DATE '{}' AND DATE '{}'", self.from, self.to)];
        if !self.sites.is_empty() {
            let list: Vec<String> = self.sites.iter().map(|site| literal(site)).collect();
            filters.push(format!("source.site IN ({})", list.join(", ")));
        }
        if self.grain == Grain::Total && self.by.is_empty() {
            // One ungrouped aggregate: always one row, so a count over a period without
            // events is 0 (as in SQL), not "no data"; other measures are then null.
            return format!(
                "SELECT {}\nFROM (\n{}\n) AS source\nWHERE {}",
                columns.join(", "),
                metric.source.trim(),
                filters.join(" AND "),
            );
        }
        let positions: Vec<String> = (1..=1 + self.by.len()).map(|position| position.to_string()).collect();
        format!(
            "SELECT {}\nFROM (\n{}\n) AS source\nWHERE {}\nGROUP BY {}\nORDER BY {}",
            columns.join(", "),
            metric.source.trim(),
            filters.join(" AND "),
            positions.join(", "),
            positions.join(", "),
        )
    }
}

fn quote(identifier: &str) -> String {
    format!("\"{}\"", identifier.replace('"', "\"\""))
}

fn literal(text: &str) -> String {
    format!("'{}'", text.replace('\'', "''"))
}

/// One value of a result.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
#[serde(untagged)]
pub enum Cell {
    Null,
    Number(f64),
    Text(String),
    Date(NaiveDate),
}

impl Cell {
    pub fn as_number(&self) -> Option<f64> {
        match self {
            Cell::Number(value) => Some(*value),
            _ => None,
        }
    }

    pub fn as_text(&self) -> Option<&str> {
        match self {
            Cell::Text(text) => Some(text),
            _ => None,
        }
    }
}

/// What a result column holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum ColumnRole {
    Period,
    Dimension,
    Measure,
}

#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct ResultColumn {
    pub name: String,
    pub label: String,
    pub role: ColumnRole,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub format: Option<Format>,
}

/// A metric's answer: columns (period, dimensions, measures), rows in period then
/// dimension order, and the snapshot of each warehouse table it read.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct MetricResult {
    pub metric: String,
    pub title: String,
    pub unit: String,
    pub grain: Grain,
    pub from: NaiveDate,
    pub to: NaiveDate,
    /// The sites asked for; empty means every site.
    pub sites: Vec<String>,
    pub columns: Vec<ResultColumn>,
    pub rows: Vec<Vec<Cell>>,
    /// The engine's pin the result was computed from.
    pub pin: u64,
    /// Each warehouse table read, with its version (`v12`, or `v12+log v3` when changes
    /// not yet folded were merged).
    pub warehouse: BTreeMap<String, String>,
}

impl MetricResult {
    pub(crate) fn new(
        metric: &Metric,
        resolved: &Resolved,
        batches: &[RecordBatch],
        pin: u64,
        warehouse: BTreeMap<String, String>,
    ) -> Result<Self, QueryError> {
        let dimension_label = |name: &str| match name {
            "site" => "Site".to_owned(),
            other => other.replace('_', " "),
        };
        let mut columns = vec![ResultColumn {
            name: "period".into(),
            label: "Période".into(),
            role: ColumnRole::Period,
            format: None,
        }];
        columns.extend(resolved.by.iter().map(|name| ResultColumn {
            name: name.clone(),
            label: dimension_label(name),
            role: ColumnRole::Dimension,
            format: None,
        }));
        columns.extend(metric.measures.iter().map(|measure| ResultColumn {
            name: measure.name.clone(),
            label: measure.label.clone(),
            role: ColumnRole::Measure,
            format: Some(measure.format),
        }));
        let mut rows = Vec::new();
        for batch in batches {
            let mut cells: Vec<Vec<Cell>> = (0..batch.num_rows()).map(|_| Vec::with_capacity(columns.len())).collect();
            for (index, column) in columns.iter().enumerate() {
                let array = batch.column(index);
                let convert = |target: &DataType| {
                    cast(array, target).map_err(|source| {
                        QueryError::execution(format!("metric {}: column {}", metric.name, column.name))(source.into())
                    })
                };
                match column.role {
                    ColumnRole::Period => {
                        let dates = convert(&DataType::Date32)?;
                        let dates = dates.as_primitive::<Date32Type>();
                        for (row, cell) in cells.iter_mut().enumerate() {
                            cell.push(match dates.value_as_date(row) {
                                Some(date) if dates.is_valid(row) => Cell::Date(date),
                                _ => Cell::Null,
                            });
                        }
                    }
                    ColumnRole::Dimension => {
                        let texts = convert(&DataType::Utf8)?;
                        let texts = texts.as_string::<i32>();
                        for (row, cell) in cells.iter_mut().enumerate() {
                            cell.push(if texts.is_valid(row) {
                                Cell::Text(texts.value(row).to_owned())
                            } else {
                                Cell::Null
                            });
                        }
                    }
                    ColumnRole::Measure => {
                        let numbers = convert(&DataType::Float64)?;
                        let numbers = numbers.as_primitive::<Float64Type>();
                        for (row, cell) in cells.iter_mut().enumerate() {
                            let value = numbers.value(row);
                            cell.push(if numbers.is_valid(row) && value.is_finite() {
                                Cell::Number(settled(value))
                            } else {
                                Cell::Null
                            });
                        }
                    }
                }
            }
            rows.extend(cells);
        }
        Ok(Self {
            metric: metric.name.clone(),
            title: metric.title.clone(),
            unit: metric.unit.clone(),
            grain: resolved.grain,
            from: resolved.from,
            to: resolved.to,
            sites: resolved.sites.clone(),
            columns,
            rows,
            pin,
            warehouse,
        })
    }

    /// The index of a column by name.
    pub fn column(&self, name: &str) -> Option<usize> {
        self.columns.iter().position(|column| column.name == name)
    }
}

/// Significant digits a measure keeps: far more than any figure shows or any reading
/// carries, far fewer than a double holds (about 16).
const SIGNIFICANT_DIGITS: usize = 12;

/// `value` rounded to `SIGNIFICANT_DIGITS`, so a result does not depend on the order its
/// sum was taken in. DataFusion adds the partial sums of its parallel partitions in the
/// order they finish, and floating-point addition is not associative: the same snapshot
/// gave 9166.315000000001 on one run and 9166.314999999999 on another, shown as
/// `9 166,32` and `9 166,31`. Those differ from the exact sum in the 16th digit, where
/// the rounding to 12 digits cannot fall on a boundary for data of up to 12 digits: both
/// become 9166.315, then always shown the same. (Exact decimal sums would need every
/// catalog measure rewritten; one partition per query would give up parallel scans.)
pub(crate) fn settled(value: f64) -> f64 {
    if value == 0.0 || !value.is_finite() {
        return value;
    }
    format!("{value:.precision$e}", precision = SIGNIFICANT_DIGITS - 1).parse().unwrap_or(value)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::catalog::{ChartKind, Measure};

    #[test]
    fn a_sum_shows_the_same_figure_whatever_order_it_was_added_in() {
        let energies = [14.542, 28.0295, 10.3355, 6.058, 2.02025, 0.68525, 62.967, 41.8875];
        let forwards: f64 = energies.iter().sum();
        let backwards: f64 = energies.iter().rev().sum();
        // Unsettled, the two orders fall either side of 166.525 and show different cents.
        assert_eq!((forwards, backwards), (166.52499999999998, 166.525));
        assert_eq!((format!("{forwards:.2}"), format!("{backwards:.2}")), ("166.52".into(), "166.53".into()));
        assert_eq!((settled(forwards), settled(backwards)), (166.525, 166.525));
        assert_eq!(
            [0.0, -0.1 - 0.2, 1e-300, 123_456_789_012_345.6, f64::NAN.max(7.0)].map(settled),
            [0.0, -0.3, 1e-300, 123_456_789_012_000.0, 7.0]
        );
    }

    fn date(text: &str) -> NaiveDate {
        text.parse().unwrap()
    }

    fn metric() -> Metric {
        Metric {
            name: "hse.incidents".into(),
            title: "Incidents".into(),
            description: "Incidents".into(),
            unit: "incidents".into(),
            chart: ChartKind::Bar,
            grain: Grain::Month,
            date: "day".into(),
            source: "SELECT site, day, severity FROM incidents".into(),
            dimensions: vec!["severity".into()],
            required: vec![],
            default_by: vec!["site".into()],
            measures: vec![Measure {
                name: "incidents".into(),
                label: "Incidents".into(),
                sql: "count(*)".into(),
                format: Format::Integer,
            }],
            file: "hse.toml".into(),
        }
    }

    #[test]
    fn requests_default_to_the_last_ninety_days_and_name_bad_parameters() {
        let today = date("2026-11-22");
        let request = MetricRequest::from_text(Some("P1, P2"), None, None, None, Some("severity"), today).unwrap();
        assert_eq!((request.from, request.to), (date("2026-08-25"), today));
        let at_the_start =
            MetricRequest::from_text(None, None, Some(&NaiveDate::MIN.to_string()), None, None, today).unwrap();
        assert_eq!((at_the_start.from, at_the_start.to), (NaiveDate::MIN, NaiveDate::MIN));
        assert_eq!(
            (request.sites, request.by),
            (vec!["P1".to_owned(), "P2".to_owned()], Some(vec!["severity".to_owned()]))
        );
        let errors = [
            MetricRequest::from_text(None, Some("2026-13-01"), None, None, None, today).unwrap_err(),
            MetricRequest::from_text(None, None, Some("yesterday"), None, None, today).unwrap_err(),
            MetricRequest::from_text(None, Some("2026-11-02"), Some("2026-11-01"), None, None, today).unwrap_err(),
            MetricRequest::from_text(None, None, None, Some("hour"), None, today).unwrap_err(),
        ];
        let described: Vec<String> = errors.iter().map(|error| format!("{}: {error}", error.parameter())).collect();
        assert_eq!(
            described,
            [
                "from: `from` is `2026-13-01`, which is not a date: expected YYYY-MM-DD",
                "to: `to` is `yesterday`, which is not a date: expected YYYY-MM-DD",
                "from: the period starts (2026-11-02) after it ends (2026-11-01)",
                "grain: unknown grain `hour`: expected one of day, week, month, quarter, year, total",
            ]
        );
    }

    #[test]
    fn a_request_becomes_one_grouped_query_over_the_source() {
        let request = MetricRequest::from_text(
            Some("P1"),
            Some("2026-01-01"),
            Some("2026-03-31"),
            None,
            Some("severity,site"),
            date("2026-11-22"),
        )
        .unwrap();
        let resolved = Resolved::new(&metric(), &request, |site| site == "P1").unwrap();
        expect_test::expect![[r#"
            SELECT CAST(date_trunc('month', CAST(source."day" AS TIMESTAMP)) AS DATE) AS period, CAST(source."site" AS VARCHAR) AS "site", CAST(source."severity" AS VARCHAR) AS "severity", CAST((count(*)) AS DOUBLE) AS "incidents"
            FROM (
            SELECT site, day, severity FROM incidents
            ) AS source
            WHERE source."day" BETWEEN DATE '2026-01-01' AND DATE '2026-03-31' AND source.site IN ('P1')
            GROUP BY 1, 2, 3
            ORDER BY 1, 2, 3"#]]
        .assert_eq(&resolved.sql(&metric()));
    }

    #[test]
    fn unknown_sites_and_dimensions_are_refused() {
        let today = date("2026-11-22");
        let unknown_site = MetricRequest::from_text(Some("ZZ"), None, None, None, None, today).unwrap();
        assert_eq!(
            Resolved::new(&metric(), &unknown_site, |site| site == "P1").unwrap_err(),
            ParameterError::UnknownSite("ZZ".into())
        );
        let unknown_dimension = MetricRequest::from_text(None, None, None, None, Some("vessel"), today).unwrap();
        assert_eq!(
            Resolved::new(&metric(), &unknown_dimension, |_| true).unwrap_err().to_string(),
            "`vessel` is not a dimension of hse.incidents: expected some of site, severity"
        );
        let mut peak = metric();
        peak.required = vec!["site".into()];
        let without_site = MetricRequest::from_text(None, None, None, None, Some(""), today).unwrap();
        assert_eq!(
            Resolved::new(&peak, &without_site, |_| true).unwrap_err(),
            ParameterError::RequiredDimension { metric: "hse.incidents".into(), dimension: "site".into() }
        );
    }
}
