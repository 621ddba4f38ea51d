//! The metric catalog: every metric and rollup declared once, in TOML files, checked
//! when loaded so that a bad definition stops the start with its file and field named.

use std::collections::{BTreeMap, HashSet};
use std::path::{Path, PathBuf};

use crate::Grain;

/// Why a catalog file was refused. Each names the file and the field.
#[derive(Debug, thiserror::Error)]
pub enum CatalogError {
    #[error("cannot read the metric catalog {path}: {source}")]
    Read { path: PathBuf, source: std::io::Error },
    #[error("{file}: {message}")]
    Syntax { file: String, message: String },
    #[error("{file}: {field}: {message}")]
    Field { file: String, field: String, message: String },
    #[error("the metric catalog {path} holds no `.toml` file")]
    Empty { path: PathBuf },
}

/// How a measure's numbers are shown.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Format {
    /// Whole numbers: counts, people, seats.
    Integer,
    /// Numbers with one or two decimals.
    Decimal,
    /// A percentage already multiplied by 100.
    Percent,
    /// A ratio between 0 and 1 (load factor), shown as a percentage.
    Ratio,
    /// An amount of money in the project's currency.
    Currency,
}

/// How a metric is drawn by default, from the one chart model.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ChartKind {
    Line,
    Bar,
    StackedBar,
    Kpi,
    Heatmap,
}

/// One aggregate a metric reports.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Measure {
    /// Column name in results: lowercase letters, digits and `_`.
    pub name: String,
    /// What a reader sees (French, the product's default language).
    pub label: String,
    /// An aggregate SQL expression over the metric's source columns.
    pub sql: String,
    pub format: Format,
}

/// A metric: a source relation, the date that periods cut, dimensions and measures.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Metric {
    /// `module.metric`, e.g. `pob.occupancy`.
    pub name: String,
    pub title: String,
    pub description: String,
    /// The unit of the first measure, as shown beside values (`%`, `kWh`, `personnes`).
    pub unit: String,
    pub chart: ChartKind,
    /// The grain used when a request names none.
    pub grain: Grain,
    /// The `DATE` column of the source that the period filter and the grain apply to.
    pub date: String,
    /// A SQL query over warehouse tables (`schema.table`) and rollups (`rollup.name`),
    /// returning at least `site` (the site code), the date column and the dimensions.
    pub source: String,
    /// Columns of the source a result may be grouped by; `site` is always allowed.
    #[serde(default)]
    pub dimensions: Vec<String>,
    /// Dimensions a request may not leave out, for measures that do not add up across
    /// them (a peak over several sites is not the sum of their peaks).
    #[serde(default)]
    pub required: Vec<String>,
    /// The grouping used when a request names none.
    #[serde(default)]
    pub default_by: Vec<String>,
    pub measures: Vec<Measure>,
    #[serde(skip)]
    pub file: String,
}

/// A derived table computed once per warehouse snapshot of its sources and shared by
/// every metric that reads it, so that dashboards do not rescan raw readings.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Rollup {
    /// Registered as `rollup.<name>`.
    pub name: String,
    pub description: String,
    pub sql: String,
    #[serde(skip)]
    pub file: String,
}

#[derive(Debug, serde::Deserialize)]
#[serde(deny_unknown_fields)]
struct CatalogFile {
    #[serde(default)]
    rollup: Vec<Rollup>,
    #[serde(default)]
    metric: Vec<Metric>,
}

/// Every metric and rollup, in file order.
#[derive(Debug, Clone, Default)]
pub struct Catalog {
    metrics: BTreeMap<String, Metric>,
    rollups: Vec<Rollup>,
}

/// The catalog shipped in `metrics/`, built into the binary so that it runs from any
/// directory; `--metrics DIR` reads another.
pub const SHIPPED: [(&str, &str); 9] = [
    ("metrics/cleanvue.toml", include_str!("../../metrics/cleanvue.toml")),
    ("metrics/hse.toml", include_str!("../../metrics/hse.toml")),
    ("metrics/moc.toml", include_str!("../../metrics/moc.toml")),
    ("metrics/organizer.toml", include_str!("../../metrics/organizer.toml")),
    ("metrics/pob.toml", include_str!("../../metrics/pob.toml")),
    ("metrics/power.toml", include_str!("../../metrics/power.toml")),
    ("metrics/projects.toml", include_str!("../../metrics/projects.toml")),
    ("metrics/tiers.toml", include_str!("../../metrics/tiers.toml")),
    ("metrics/travel.toml", include_str!("../../metrics/travel.toml")),
];

impl Catalog {
    /// The catalog shipped with the product (`metrics/`).
    pub fn shipped() -> Result<Self, CatalogError> {
        Self::from_files(SHIPPED)
    }

    /// Parses catalog files given as `(file name, text)`.
    pub fn from_files<'a>(files: impl IntoIterator<Item = (&'a str, &'a str)>) -> Result<Self, CatalogError> {
        let mut catalog = Catalog::default();
        let mut rollup_names = HashSet::new();
        for (file, text) in files {
            let parsed: CatalogFile = toml::from_str(text)
                .map_err(|error| CatalogError::Syntax { file: file.to_owned(), message: located(text, &error) })?;
            for (index, mut rollup) in parsed.rollup.into_iter().enumerate() {
                let field = |name: &str| format!("rollup[{index}] ({}).{name}", rollup.name);
                check_identifier(file, &field("name"), &rollup.name)?;
                if !rollup_names.insert(rollup.name.clone()) {
                    return Err(field_error(file, &field("name"), "another rollup has this name"));
                }
                check_sql(file, &field("sql"), &rollup.sql)?;
                rollup.file = file.to_owned();
                catalog.rollups.push(rollup);
            }
            for (index, mut metric) in parsed.metric.into_iter().enumerate() {
                check_metric(file, index, &metric)?;
                if catalog.metrics.contains_key(&metric.name) {
                    return Err(field_error(
                        file,
                        &format!("metric[{index}].name"),
                        &format!("`{}` is declared twice", metric.name),
                    ));
                }
                metric.file = file.to_owned();
                catalog.metrics.insert(metric.name.clone(), metric);
            }
        }
        Ok(catalog)
    }

    /// Reads every `.toml` file of a directory, in name order.
    pub fn load_dir(path: &Path) -> Result<Self, CatalogError> {
        let read_error = |source| CatalogError::Read { path: path.to_owned(), source };
        let mut files = Vec::new();
        for entry in std::fs::read_dir(path).map_err(read_error)? {
            let entry = entry.map_err(read_error)?;
            let file = entry.path();
            if file.extension().is_some_and(|extension| extension == "toml") {
                let text = std::fs::read_to_string(&file)
                    .map_err(|source| CatalogError::Read { path: file.clone(), source })?;
                files.push((file.display().to_string(), text));
            }
        }
        if files.is_empty() {
            return Err(CatalogError::Empty { path: path.to_owned() });
        }
        files.sort();
        Self::from_files(files.iter().map(|(name, text)| (name.as_str(), text.as_str())))
    }

    pub fn metric(&self, name: &str) -> Option<&Metric> {
        self.metrics.get(name)
    }

    /// Metrics in name order.
    pub fn metrics(&self) -> impl Iterator<Item = &Metric> {
        self.metrics.values()
    }

    /// Rollups in declaration order (a rollup may read the ones declared before it).
    pub fn rollups(&self) -> &[Rollup] {
        &self.rollups
    }
}

fn check_metric(file: &str, index: usize, metric: &Metric) -> Result<(), CatalogError> {
    let field = |name: &str| format!("metric[{index}] ({}).{name}", metric.name);
    let valid_name = metric
        .name
        .split_once('.')
        .is_some_and(|(module, rest)| is_identifier(module) && is_identifier(rest) && !rest.contains('.'));
    if !valid_name {
        return Err(field_error(file, &field("name"), "expected `module.metric` in lowercase letters, digits and `_`"));
    }
    for (what, text) in [("title", &metric.title), ("description", &metric.description), ("unit", &metric.unit)] {
        if text.trim().is_empty() {
            return Err(field_error(file, &field(what), "must not be empty"));
        }
    }
    check_identifier(file, &field("date"), &metric.date)?;
    check_sql(file, &field("source"), &metric.source)?;
    let mut seen = HashSet::new();
    for (position, dimension) in metric.dimensions.iter().enumerate() {
        check_identifier(file, &field(&format!("dimensions[{position}]")), dimension)?;
        if !seen.insert(dimension) {
            return Err(field_error(file, &field(&format!("dimensions[{position}]")), "listed twice"));
        }
    }
    let allowed = |name: &String| name == "site" || metric.dimensions.contains(name);
    for (list, names) in [("required", &metric.required), ("default_by", &metric.default_by)] {
        for (position, name) in names.iter().enumerate() {
            if !allowed(name) {
                return Err(field_error(
                    file,
                    &field(&format!("{list}[{position}]")),
                    &format!("`{name}` is not one of the metric's dimensions"),
                ));
            }
        }
    }
    for name in &metric.required {
        if !metric.default_by.contains(name) {
            return Err(field_error(
                file,
                &field("default_by"),
                &format!("must include the required dimension `{name}`"),
            ));
        }
    }
    if metric.measures.is_empty() {
        return Err(field_error(file, &field("measures"), "a metric needs at least one measure"));
    }
    let mut measure_names = HashSet::new();
    for (position, measure) in metric.measures.iter().enumerate() {
        let measure_field = |name: &str| field(&format!("measures[{position}].{name}"));
        check_identifier(file, &measure_field("name"), &measure.name)?;
        if ["period", "site"].contains(&measure.name.as_str()) || metric.dimensions.contains(&measure.name) {
            return Err(field_error(file, &measure_field("name"), "clashes with a dimension name"));
        }
        if !measure_names.insert(&measure.name) {
            return Err(field_error(file, &measure_field("name"), "another measure has this name"));
        }
        if measure.label.trim().is_empty() {
            return Err(field_error(file, &measure_field("label"), "must not be empty"));
        }
        check_sql(file, &measure_field("sql"), &measure.sql)?;
    }
    Ok(())
}

fn check_sql(file: &str, field: &str, sql: &str) -> Result<(), CatalogError> {
    if sql.trim().is_empty() {
        return Err(field_error(file, field, "must not be empty"));
    }
    if sql.contains(';') {
        return Err(field_error(file, field, "one expression or query, without `;`"));
    }
    Ok(())
}

fn check_identifier(file: &str, field: &str, name: &str) -> Result<(), CatalogError> {
    if is_identifier(name) {
        Ok(())
    } else {
        Err(field_error(file, field, &format!("`{name}` is not a lowercase identifier (letters, digits, `_`)")))
    }
}

pub(crate) fn is_identifier(name: &str) -> bool {
    let mut chars = name.chars();
    chars.next().is_some_and(|first| first.is_ascii_lowercase() || first == '_')
        && chars.all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_')
        && name.len() <= 63
}

fn field_error(file: &str, field: &str, message: &str) -> CatalogError {
    CatalogError::Field { file: file.to_owned(), field: field.to_owned(), message: message.to_owned() }
}

/// A TOML error on one line: where, the line itself (which names the field), and why.
fn located(text: &str, error: &toml::de::Error) -> String {
    let message = error.message().split_whitespace().collect::<Vec<_>>().join(" ");
    let Some(span) = error.span() else { return message };
    let before = &text[..span.start.min(text.len())];
    let line = before.matches('\n').count() + 1;
    let column = before.len() - before.rfind('\n').map_or(0, |newline| newline + 1) + 1;
    let source_line = text.lines().nth(line - 1).unwrap_or_default().trim();
    format!("line {line}, column {column} (`{source_line}`): {message}")
}

#[cfg(test)]
mod tests {
    use super::*;

    const GOOD: &str = r#"
[[rollup]]
name = "daily"
description = "one row per site and day"
sql = "SELECT 1 AS x"

[[metric]]
name = "hse.incidents"
title = "Incidents"
description = "Incidents déclarés"
unit = "incidents"
chart = "stacked_bar"
grain = "month"
date = "day"
source = "SELECT site, day, severity FROM somewhere"
dimensions = ["severity"]
default_by = ["site"]
measures = [{ name = "incidents", label = "Incidents", sql = "count(*)", format = "integer" }]
"#;

    fn error_of(text: &str) -> String {
        Catalog::from_files([("hse.toml", text)]).unwrap_err().to_string()
    }

    #[test]
    fn a_good_file_loads_its_metrics_and_rollups() {
        let catalog = Catalog::from_files([("hse.toml", GOOD)]).unwrap();
        let metric = catalog.metric("hse.incidents").unwrap();
        assert_eq!(
            (metric.grain, metric.chart, metric.file.as_str()),
            (Grain::Month, ChartKind::StackedBar, "hse.toml")
        );
        assert_eq!(catalog.rollups()[0].name, "daily");
    }

    #[test]
    fn bad_definitions_name_their_file_and_field() {
        let cases = [
            (
                GOOD.replace("grain = \"month\"", "grain = \"fortnight\""),
                "hse.toml: line 13, column 9 (`grain = \"fortnight\"`): unknown variant `fortnight`",
            ),
            (
                GOOD.replace("name = \"hse.incidents\"", "name = \"Incidents\""),
                "hse.toml: metric[0] (Incidents).name: expected `module.metric`",
            ),
            (
                GOOD.replace("default_by = [\"site\"]", "default_by = [\"zone\"]"),
                "hse.toml: metric[0] (hse.incidents).default_by[0]: `zone` is not one of the metric's dimensions",
            ),
            (
                GOOD.replace("sql = \"count(*)\"", "sql = \"count(*); DROP\""),
                "hse.toml: metric[0] (hse.incidents).measures[0].sql: one expression or query, without `;`",
            ),
            (
                GOOD.replace("format = \"integer\"", "format = \"roman\""),
                "hse.toml: line 18, column 83 (`measures = [{ name = \"incidents\", label = \"Incidents\", sql = \"count(*)\", format = \"roman\" }]`): unknown variant `roman`",
            ),
            (
                GOOD.replace("unit = \"incidents\"\n", ""),
                "hse.toml: line 7, column 1 (`[[metric]]`): missing field `unit`",
            ),
            (
                GOOD.replace("chart = ", "colour = \"red\"\nchart = "),
                "hse.toml: line 12, column 1 (`colour = \"red\"`): unknown field `colour`",
            ),
            (
                GOOD.replace("name = \"daily\"", "name = \"Daily\""),
                "hse.toml: rollup[0] (Daily).name: `Daily` is not a lowercase identifier",
            ),
        ];
        for (text, expected) in cases {
            let error = error_of(&text);
            assert!(error.starts_with(expected), "expected `{expected}…`, got `{error}`");
        }
        let twice = Catalog::from_files([
            ("a.toml", GOOD),
            ("b.toml", &GOOD.replace("[[rollup]]\nname = \"daily\"", "[[rollup]]\nname = \"other\"")),
        ])
        .unwrap_err()
        .to_string();
        assert_eq!(twice, "b.toml: metric[0].name: `hse.incidents` is declared twice");
    }

    #[test]
    fn the_shipped_catalog_is_every_file_of_metrics_and_loads() {
        let directory = Path::new(env!("CARGO_MANIFEST_DIR")).join("../metrics");
        let mut on_disk: Vec<String> = std::fs::read_dir(&directory)
            .unwrap()
            .map(|entry| format!("metrics/{}", entry.unwrap().file_name().to_string_lossy()))
            .collect();
        on_disk.sort();
        let shipped: Vec<&str> = SHIPPED.iter().map(|(name, _)| *name).collect();
        assert_eq!(on_disk, shipped);
        let catalog = Catalog::shipped().unwrap();
        let names: Vec<&str> = catalog.metrics().map(|metric| metric.name.as_str()).collect();
        expect_test::expect!["cleanvue.five_s_score cleanvue.scrapping_volume hse.incident_rate hse.incidents moc.cycle_time moc.overdue_approvals moc.requests_by_state organizer.conflicts organizer.reservations organizer.utilisation pob.approval_lead_time pob.occupancy pob.over_capacity pob.people_on_board power.energy power.load_factor power.peak_demand power.switchboard_load_factor power.switchboard_peak_demand projects.budget projects.overdue_tasks projects.task_completion tiers.contacts tiers.presence travel.fuel travel.payload_utilisation travel.seat_occupancy"]
        .assert_eq(&names.join(" "));
        assert_eq!(Catalog::load_dir(&directory).unwrap().metrics().count(), names.len());
    }

    #[test]
    fn syntax_errors_say_where_on_one_line() {
        let error = error_of("[[metric]]\nname = \"a.b\nunit = 3\n");
        assert!(error.starts_with("hse.toml: line 2, column "), "{error}");
        assert!(!error.contains('\n'), "{error}");
    }
}
