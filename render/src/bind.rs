//! The binding contract: a document plus parameters yields the data requests its data
//! blocks need; once the caller has answered them, the document is expanded (variables,
//! repeated sections, conditions) into a [`BoundDocument`] that records the warehouse
//! version of every table it read, and that every writer renders the same way.

use std::collections::{BTreeMap, BTreeSet};

use chrono::{Datelike, Days, Months, NaiveDate};

use crate::chart::{Chart, ChartKind, Series, ValueStyle};
use crate::inline::{self, Span};
use crate::{Block, Document, DocumentError, Locale, Word};

mod map;
mod planning;
pub mod powertrace;

/// A site as templates name it: `{site.code}`, `{site.name}`.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct SiteInfo {
    pub code: String,
    pub name: String,
    /// Degrees north, for maps.
    #[serde(default)]
    pub latitude: Option<f64>,
    /// Degrees east, for maps.
    #[serde(default)]
    pub longitude: Option<f64>,
}

/// Data a block needs. The caller answers each with a [`DataTable`] whose columns are
/// named as the variant's documentation says.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, serde::Serialize, serde::Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum DataRequest {
    /// A metric of the catalog: columns `period`, the dimensions, then the measures.
    Metric {
        metric: String,
        /// Site codes; empty means every site.
        sites: Vec<String>,
        from: NaiveDate,
        to: NaiveDate,
        grain: Option<String>,
        by: Option<Vec<String>>,
    },
    /// A read-only SQL query over warehouse tables, as written by the report's author;
    /// its variables are `$1`, `$2`… placeholders bound to `parameters`, never text.
    Query { sql: String, parameters: Vec<String> },
    /// Project tasks: columns `project`, `task`, `status`, `start`, `due`, `percent`.
    Tasks { sites: Vec<String>, project: Option<String>, status: Vec<String> },
    /// Projects (or one project's tasks when `project` is given) as timeline bars:
    /// columns `label`, `start`, `end`, `percent`, `status`.
    Timeline { sites: Vec<String>, project: Option<String> },
    /// A company of the Tiers directory and its contacts: columns `company`, `kind`,
    /// `city`, `country`, `contact`, `job_title`, `email`, `phone` (one row per contact).
    Company { name: String },
    /// A PowerTrace scenario of `site` (its name or id) beside the baseline, as of its
    /// last item's start; `view` is one of [`powertrace::SCENARIO_VIEWS`], whose
    /// documentation names each table's columns.
    Scenario { site: String, scenario: String, view: String },
    /// The demand forecast of `site` (or of one switchboard) `horizon` ahead (`7d`,
    /// `3m`…), with a scenario's added load when one is named: columns `at` (local
    /// `YYYY-MM-DD HH:MM`, the start of a span of steps), `forecast`, `lower_80`,
    /// `upper_80`, `lower_95`, `upper_95` (the span's highest forecast and widest bounds,
    /// so no peak is lost), `added` (kW of the scenario) and `capacity` (the site's N-1
    /// capacity in kW; empty for a switchboard).
    Forecast { site: String, switchboard: Option<String>, horizon: String, scenario: Option<String> },
    /// Organizer reservations (not cancelled) and project milestones between `from` and
    /// `to`, of `show` (`reservations`, `milestones`): columns `label`, `kind`
    /// (`reservation` or `milestone`), `start`, `end`, `site`, ordered by start.
    Planning { sites: Vec<String>, from: NaiveDate, to: NaiveDate, show: Vec<String> },
}

/// How a column's values are written.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ValueFormat {
    #[default]
    Text,
    Date,
    Integer,
    Decimal,
    /// Already multiplied by 100.
    Percent,
    /// Between 0 and 1, shown as a percentage.
    Ratio,
    Currency,
}

impl ValueFormat {
    pub fn is_numeric(self) -> bool {
        !matches!(self, ValueFormat::Text | ValueFormat::Date)
    }

    /// Whether values of this format add up into a meaningful total.
    pub fn is_additive(self) -> bool {
        matches!(self, ValueFormat::Integer | ValueFormat::Decimal | ValueFormat::Currency)
    }

    pub fn decimals(self) -> usize {
        match self {
            ValueFormat::Integer => 0,
            ValueFormat::Percent | ValueFormat::Ratio => 1,
            ValueFormat::Decimal | ValueFormat::Currency => 2,
            ValueFormat::Text | ValueFormat::Date => 0,
        }
    }

    fn chart_style(self) -> ValueStyle {
        ValueStyle { decimals: self.decimals(), percent_of_one: self == ValueFormat::Ratio }
    }
}

/// One value of an answer.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
#[serde(untagged)]
pub enum Value {
    Null,
    Number(f64),
    Date(NaiveDate),
    Text(String),
}

impl Value {
    pub fn as_number(&self) -> Option<f64> {
        match self {
            Value::Number(value) => Some(*value),
            _ => None,
        }
    }

    /// The value as a reader sees it in `locale`.
    pub fn format(&self, format: ValueFormat, locale: Locale, currency: &str) -> String {
        match (self, format) {
            (Value::Null, _) => String::new(),
            (Value::Text(text), _) => text.clone(),
            (Value::Date(date), _) => locale.format_date_short(*date),
            (Value::Number(value), ValueFormat::Percent) => locale.format_percent(*value, 1),
            (Value::Number(value), ValueFormat::Ratio) => locale.format_percent(value * 100.0, 1),
            (Value::Number(value), ValueFormat::Currency) => locale.format_money(*value, currency),
            (Value::Number(value), ValueFormat::Integer) => locale.format_number(*value, 0),
            (Value::Number(value), ValueFormat::Decimal) => locale.format_number(*value, 2),
            (Value::Number(value), ValueFormat::Text | ValueFormat::Date) => {
                locale.format_number(*value, if value.fract() == 0.0 { 0 } else { 2 })
            }
        }
    }
}

#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct DataColumn {
    pub name: String,
    pub label: String,
    pub format: ValueFormat,
}

/// The answer to a [`DataRequest`]: columns, rows, and the version of each warehouse
/// table read (`"pob.stays": "v12"`).
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct DataTable {
    pub columns: Vec<DataColumn>,
    pub rows: Vec<Vec<Value>>,
    #[serde(default)]
    pub warehouse: BTreeMap<String, String>,
}

impl DataTable {
    pub fn column(&self, name: &str) -> Option<usize> {
        self.columns.iter().position(|column| column.name == name)
    }

    fn measures(&self) -> impl Iterator<Item = (usize, &DataColumn)> {
        self.columns.iter().enumerate().filter(|(_, column)| column.format.is_numeric())
    }

    fn text(&self, row: usize, name: &str) -> Option<String> {
        let index = self.column(name)?;
        match &self.rows[row][index] {
            Value::Text(text) => Some(text.clone()),
            Value::Number(value) => Some(value.to_string()),
            Value::Date(date) => Some(date.to_string()),
            Value::Null => None,
        }
    }

    fn date(&self, row: usize, name: &str) -> Option<NaiveDate> {
        match &self.rows[row][self.column(name)?] {
            Value::Date(date) => Some(*date),
            Value::Text(text) => text.get(..10).and_then(|text| text.parse().ok()),
            _ => None,
        }
    }

    fn number(&self, row: usize, name: &str) -> Option<f64> {
        self.rows[row][self.column(name)?].as_number()
    }
}

/// A request still to answer, with the block that needs it.
#[derive(Debug, Clone, PartialEq)]
pub struct Pending {
    pub request: DataRequest,
    pub block: String,
    /// JSON pointer of the block in the document.
    pub pointer: String,
}

/// Page size and orientation, margins in millimetres.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct PageSetup {
    pub size: PaperSize,
    pub landscape: bool,
    /// Top, right, bottom, left.
    pub margins_mm: [f64; 4],
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub enum PaperSize {
    A4,
    Letter,
}

impl PaperSize {
    /// Width and height in millimetres, portrait.
    pub fn millimetres(self) -> (f64, f64) {
        match self {
            PaperSize::A4 => (210.0, 297.0),
            PaperSize::Letter => (215.9, 279.4),
        }
    }
}

impl PageSetup {
    /// Width and height in millimetres as laid out.
    pub fn dimensions(&self) -> (f64, f64) {
        let (width, height) = self.size.millimetres();
        if self.landscape { (height, width) } else { (width, height) }
    }
}

/// An image the document embeds.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct Image {
    pub format: ImageFormat,
    pub bytes: Vec<u8>,
    /// Pixel size (for SVG, its user units).
    pub width: u32,
    pub height: u32,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ImageFormat {
    Png,
    Jpeg,
    Svg,
}

impl ImageFormat {
    pub fn extension(self) -> &'static str {
        match self {
            ImageFormat::Png => "png",
            ImageFormat::Jpeg => "jpg",
            ImageFormat::Svg => "svg",
        }
    }

    pub fn media_type(self) -> &'static str {
        match self {
            ImageFormat::Png => "image/png",
            ImageFormat::Jpeg => "image/jpeg",
            ImageFormat::Svg => "image/svg+xml",
        }
    }
}

/// One formatted cell of a data table: the raw value for spreadsheets, the text for pages.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct Cell {
    pub value: Value,
    pub text: String,
}

#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct ListItem {
    pub text: Vec<Span>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub checked: Option<bool>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub items: Vec<ListItem>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ListStyle {
    Ordered,
    Unordered,
    Checklist,
}

/// Colours of callouts and badges.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Tone {
    Info,
    Success,
    Warning,
    Danger,
    Neutral,
}

impl Tone {
    /// Background and text colours.
    pub fn colours(self) -> (&'static str, &'static str) {
        match self {
            Tone::Info => ("#e3eefa", "#184a7e"),
            Tone::Success => ("#e2f4e4", "#1f6b2a"),
            Tone::Warning => ("#fdf1da", "#7a4d00"),
            Tone::Danger => ("#fbe3e1", "#8f1d14"),
            Tone::Neutral => ("#eceff2", "#3b4652"),
        }
    }
}

#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct Contact {
    pub name: String,
    pub job_title: String,
    pub email: String,
    pub phone: String,
}

#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct Task {
    pub project: String,
    pub name: String,
    pub status: String,
    pub tone: Tone,
    pub due: String,
    pub percent: f64,
}

/// What a bound document is made of: blocks with their text resolved and their data
/// formatted, ready for any writer.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum Node {
    Header {
        id: String,
        level: u8,
        text: Vec<Span>,
    },
    Paragraph {
        id: String,
        text: Vec<Span>,
    },
    List {
        id: String,
        style: ListStyle,
        items: Vec<ListItem>,
    },
    Quote {
        id: String,
        text: Vec<Span>,
        caption: String,
    },
    Code {
        id: String,
        code: String,
    },
    Callout {
        id: String,
        tone: Tone,
        title: String,
        text: Vec<Span>,
    },
    Table {
        id: String,
        heading: bool,
        rows: Vec<Vec<Vec<Span>>>,
    },
    Image {
        id: String,
        image: Image,
        caption: String,
    },
    Delimiter {
        id: String,
    },
    PageBreak {
        id: String,
    },
    /// Typst markup written by the report's author, compiled as part of the PDF.
    Typst {
        id: String,
        source: String,
    },
    Kpi {
        id: String,
        label: String,
        value: String,
        unit: String,
        comparison: Option<(String, Tone)>,
    },
    DataTable {
        id: String,
        title: String,
        columns: Vec<DataColumn>,
        rows: Vec<Vec<Cell>>,
        totals: Option<Vec<Cell>>,
    },
    Chart {
        id: String,
        chart: Chart,
    },
    Tasks {
        id: String,
        title: String,
        tasks: Vec<Task>,
    },
    Company {
        id: String,
        name: String,
        details: String,
        contacts: Vec<Contact>,
    },
    Timeline {
        id: String,
        title: String,
        chart: Chart,
    },
    Badges {
        id: String,
        badges: Vec<(String, Tone)>,
    },
    Progress {
        id: String,
        label: String,
        share: f64,
        text: String,
    },
}

impl Node {
    pub fn id(&self) -> &str {
        match self {
            Node::Header { id, .. }
            | Node::Paragraph { id, .. }
            | Node::List { id, .. }
            | Node::Quote { id, .. }
            | Node::Code { id, .. }
            | Node::Callout { id, .. }
            | Node::Table { id, .. }
            | Node::Image { id, .. }
            | Node::Delimiter { id }
            | Node::PageBreak { id }
            | Node::Typst { id, .. }
            | Node::Kpi { id, .. }
            | Node::DataTable { id, .. }
            | Node::Chart { id, .. }
            | Node::Tasks { id, .. }
            | Node::Company { id, .. }
            | Node::Timeline { id, .. }
            | Node::Badges { id, .. }
            | Node::Progress { id, .. } => id,
        }
    }
}

/// A document with its data: what every writer renders. It is plain data (JSON), so it
/// can be kept and rendered again to the same bytes.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct BoundDocument {
    pub title: String,
    pub subtitle: String,
    pub locale: Locale,
    pub currency: String,
    /// The day the document was bound: its "today", and the date written into files.
    pub today: NaiveDate,
    pub page: PageSetup,
    pub cover: bool,
    pub toc: bool,
    pub header: String,
    pub footer: String,
    pub logo: Option<Image>,
    /// Parameters as resolved (label, value), shown on the cover and the summary sheet.
    pub parameters: Vec<(String, String)>,
    /// The period a week or month parameter chose, in words (`semaine 47`,
    /// `novembre 2026`); empty without one. For file names and mail subjects.
    #[serde(default)]
    pub period: String,
    pub nodes: Vec<Node>,
    /// Each warehouse table read, with its version.
    pub warehouse: BTreeMap<String, String>,
}

impl BoundDocument {
    /// The warehouse versions read, as one line (`pob.stays v12, travel.trips v4`).
    pub fn warehouse_line(&self) -> String {
        self.warehouse.iter().map(|(table, version)| format!("{table} {version}")).collect::<Vec<_>>().join(", ")
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum ParameterKind {
    Site,
    Week,
    Month,
    Date,
    Text,
}

#[derive(Debug, Clone)]
struct ParameterSpec {
    name: String,
    label: String,
    kind: ParameterKind,
    default: Option<String>,
}

/// The reporting period: its first and last day, inclusive.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Period {
    start: NaiveDate,
    end: NaiveDate,
}

impl Period {
    fn previous(self) -> Period {
        let days = (self.end - self.start).num_days() + 1;
        let end = self.start.pred_opt().unwrap_or(self.start);
        let start = end.checked_sub_days(Days::new((days - 1).max(0) as u64)).unwrap_or(end);
        // A calendar month is compared with the previous calendar month.
        if self.start.day() == 1 && self.end.succ_opt().is_some_and(|next| next.day() == 1) && days > 27 {
            let start = self.start.checked_sub_months(Months::new(1)).unwrap_or(start);
            return Period { start, end };
        }
        Period { start, end }
    }
}

/// What variables resolve to in one place of the document.
#[derive(Debug, Clone)]
struct Scope {
    variables: BTreeMap<String, String>,
    sites: Vec<String>,
    period: Period,
}

/// A document being bound: ask [`Binding::pending`] what data it needs, answer with
/// [`Binding::answer`] until nothing is pending (a repeated section asks for its rows
/// first, then for its blocks' data), then [`Binding::finish`].
#[derive(Debug)]
pub struct Binding {
    document: Document,
    locale: Locale,
    currency: String,
    today: NaiveDate,
    scope: Scope,
    parameters: Vec<(String, String)>,
    period_label: String,
    sites: Vec<SiteInfo>,
    assets: BTreeMap<String, Vec<u8>>,
    answers: BTreeMap<DataRequest, DataTable>,
}

fn settings_error(member: &str, message: impl Into<String>) -> DocumentError {
    DocumentError::invalid(None, format!("/settings/{member}"), message)
}

impl Binding {
    /// Starts binding `document` with `parameters` (`site=ALPHA`, `period=2026-W46`,
    /// `locale=en-GB`, …), the known sites, images the document may name (`logo.png`)
    /// and the day it is bound on.
    pub fn new(
        document: Document,
        parameters: &BTreeMap<String, String>,
        sites: Vec<SiteInfo>,
        assets: BTreeMap<String, Vec<u8>>,
        today: NaiveDate,
    ) -> Result<Self, DocumentError> {
        let settings = match &document.settings {
            serde_json::Value::Null => serde_json::Map::new(),
            serde_json::Value::Object(map) => map.clone(),
            _ => return Err(DocumentError::invalid(None, "/settings", "must be an object")),
        };
        let locale_text = parameters
            .get("locale")
            .cloned()
            .or_else(|| settings.get("locale").and_then(|value| value.as_str()).map(str::to_owned));
        let locale = match locale_text {
            Some(text) => text.parse().map_err(|_| DocumentError::Parameter {
                name: "locale".into(),
                message: format!("unknown locale `{text}`: expected fr-FR, en-GB or en-US"),
            })?,
            None => Locale::FrFr,
        };
        let specs = parameter_specs(&settings)?;
        for name in parameters.keys() {
            if name != "locale" && !specs.iter().any(|spec| &spec.name == name) {
                let known: Vec<&str> = specs.iter().map(|spec| spec.name.as_str()).chain(["locale"]).collect();
                return Err(DocumentError::Parameter {
                    name: name.clone(),
                    message: format!("the template has no such parameter (it takes: {})", known.join(", ")),
                });
            }
        }
        let mut variables = BTreeMap::new();
        let mut period = last_complete_week(today);
        let mut scope_sites = Vec::new();
        let mut shown = Vec::new();
        let mut period_label = String::new();
        variables.insert("site.code".to_owned(), String::new());
        variables.insert("site.name".to_owned(), locale.word(Word::AllSites).to_owned());
        for spec in &specs {
            let given =
                parameters.get(&spec.name).map(|value| value.trim().to_owned()).filter(|value| !value.is_empty());
            let value = given.or_else(|| spec.default.clone());
            let raw = value.clone();
            let error = |message: String| DocumentError::Parameter { name: spec.name.clone(), message };
            let text = match spec.kind {
                ParameterKind::Site => match value.as_deref() {
                    None | Some("all") => locale.word(Word::AllSites).to_owned(),
                    Some(code) => {
                        let site = sites.iter().find(|site| site.code == code).ok_or_else(|| {
                            let known: Vec<&str> = sites.iter().map(|site| site.code.as_str()).collect();
                            error(format!("unknown site `{code}` (known: {})", known.join(", ")))
                        })?;
                        variables.insert("site.code".into(), site.code.clone());
                        variables.insert("site.name".into(), site.name.clone());
                        scope_sites = vec![site.code.clone()];
                        format!("{} ({})", site.name, site.code)
                    }
                },
                ParameterKind::Week => {
                    period = match value.as_deref() {
                        None => last_complete_week(today),
                        Some(text) => parse_week(text).ok_or_else(|| {
                            error(format!("`{text}` is not a week: write 2026-W46 or a date in the week (2026-11-12)"))
                        })?,
                    };
                    period_label =
                        format!("{} {}", locale.word(Word::Week).to_lowercase(), period.start.iso_week().week());
                    format!("{} {}", locale.word(Word::Week), period.start.iso_week().week())
                }
                ParameterKind::Month => {
                    period = match value.as_deref() {
                        None => last_complete_month(today),
                        Some(text) => {
                            parse_month(text).ok_or_else(|| error(format!("`{text}` is not a month: write 2026-10")))?
                        }
                    };
                    period_label = locale.format_month(period.start);
                    locale.format_month(period.start)
                }
                ParameterKind::Date => {
                    let date = match value.as_deref() {
                        None => today,
                        Some(text) => text
                            .parse::<NaiveDate>()
                            .map_err(|_| error(format!("`{text}` is not a date: write 2026-11-21")))?,
                    };
                    variables.insert(format!("param.{}", spec.name), locale.format_date_long(date));
                    locale.format_date_long(date)
                }
                ParameterKind::Text => {
                    let text = value.unwrap_or_default();
                    variables.insert(format!("param.{}", spec.name), text.clone());
                    text
                }
            };
            if !matches!(spec.kind, ParameterKind::Date | ParameterKind::Text) {
                variables.insert(format!("param.{}", spec.name), raw.unwrap_or_default());
            }
            shown.push((spec.label.clone(), text));
        }
        variables.insert("period.start".into(), locale.format_date_long(period.start));
        variables.insert("period.end".into(), locale.format_date_long(period.end));
        variables.insert("period.week".into(), period.start.iso_week().week().to_string());
        // ISO dates, for read-only queries.
        variables.insert("period.from".into(), period.start.to_string());
        variables.insert("period.to".into(), period.end.to_string());
        variables.insert("period.month".into(), locale.format_month(period.start));
        variables.insert("period.year".into(), period.start.year().to_string());
        variables.insert("date.today".into(), locale.format_date_long(today));
        let currency = settings.get("currency").and_then(|value| value.as_str()).unwrap_or("EUR").to_owned();
        Ok(Self {
            document,
            locale,
            currency,
            today,
            scope: Scope { variables, sites: scope_sites, period },
            parameters: shown,
            period_label,
            sites,
            assets,
            answers: BTreeMap::new(),
        })
    }

    pub fn locale(&self) -> Locale {
        self.locale
    }

    /// The requests not answered yet, each with the first block that needs it.
    pub fn pending(&self) -> Result<Vec<Pending>, DocumentError> {
        let mut walk = Walk { binding: self, nodes: Vec::new(), pending: Vec::new(), warehouse: BTreeMap::new() };
        walk.blocks(&self.document.blocks, "/blocks", &self.scope, "")?;
        let mut seen = BTreeSet::new();
        walk.pending.retain(|pending| seen.insert(pending.request.clone()));
        Ok(walk.pending)
    }

    /// Gives the answer to a request.
    pub fn answer(&mut self, request: DataRequest, table: DataTable) {
        self.answers.insert(request, table);
    }

    /// The bound document; every request must have been answered.
    pub fn finish(self) -> Result<BoundDocument, DocumentError> {
        let mut walk = Walk { binding: &self, nodes: Vec::new(), pending: Vec::new(), warehouse: BTreeMap::new() };
        walk.blocks(&self.document.blocks, "/blocks", &self.scope, "")?;
        if let Some(pending) = walk.pending.first() {
            return Err(DocumentError::invalid(
                Some(&pending.block),
                &pending.pointer,
                "its data was not supplied to the binding",
            ));
        }
        let (nodes, warehouse) = (walk.nodes, walk.warehouse);
        let settings = match &self.document.settings {
            serde_json::Value::Object(map) => map.clone(),
            _ => serde_json::Map::new(),
        };
        let text = |member: &str, default: &str| -> Result<String, DocumentError> {
            match settings.get(member) {
                None => Ok(default.to_owned()),
                Some(serde_json::Value::String(text)) => {
                    substitute(text, &self.scope.variables).map_err(|message| settings_error(member, message))
                }
                Some(_) => Err(settings_error(member, "must be a string")),
            }
        };
        let title = text("title", "Rapport")?;
        let page = page_setup(settings.get("page"))?;
        let logo = match settings.get("logo") {
            None | Some(serde_json::Value::Null) => None,
            Some(serde_json::Value::String(source)) => {
                Some(load_image(source, &self.assets).map_err(|message| settings_error("logo", message))?)
            }
            Some(_) => return Err(settings_error("logo", "must be an image name or a data: URL")),
        };
        let flag = |member: &str| -> Result<bool, DocumentError> {
            match settings.get(member) {
                None => Ok(false),
                Some(serde_json::Value::Bool(value)) => Ok(*value),
                Some(_) => Err(settings_error(member, "must be true or false")),
            }
        };
        Ok(BoundDocument {
            subtitle: text("subtitle", "")?,
            header: text("header", &title)?,
            footer: text("footer", "")?,
            title,
            locale: self.locale,
            currency: self.currency.clone(),
            today: self.today,
            page,
            cover: flag("cover")?,
            toc: flag("toc")?,
            logo,
            parameters: self.parameters.clone(),
            period: self.period_label.clone(),
            nodes,
            warehouse,
        })
    }
}

fn parameter_specs(settings: &serde_json::Map<String, serde_json::Value>) -> Result<Vec<ParameterSpec>, DocumentError> {
    let Some(list) = settings.get("parameters") else { return Ok(Vec::new()) };
    let list = list.as_array().ok_or_else(|| settings_error("parameters", "must be a list"))?;
    let mut specs = Vec::new();
    for (index, item) in list.iter().enumerate() {
        let at = |member: &str| format!("/settings/parameters/{index}/{member}");
        let field = |member: &str| item.get(member).and_then(|value| value.as_str()).map(str::to_owned);
        let name = field("name").ok_or_else(|| DocumentError::invalid(None, at("name"), "a parameter needs a name"))?;
        let kind = match field("kind").as_deref().unwrap_or("text") {
            "site" => ParameterKind::Site,
            "week" => ParameterKind::Week,
            "month" => ParameterKind::Month,
            "date" => ParameterKind::Date,
            "text" => ParameterKind::Text,
            other => {
                return Err(DocumentError::invalid(
                    None,
                    at("kind"),
                    format!("unknown parameter kind `{other}` (site, week, month, date, text)"),
                ));
            }
        };
        specs.push(ParameterSpec {
            label: field("label").unwrap_or_else(|| name.clone()),
            name,
            kind,
            default: field("default"),
        });
    }
    Ok(specs)
}

fn page_setup(value: Option<&serde_json::Value>) -> Result<PageSetup, DocumentError> {
    let mut page = PageSetup { size: PaperSize::A4, landscape: false, margins_mm: [20.0, 18.0, 20.0, 18.0] };
    let Some(value) = value else { return Ok(page) };
    let error = |member: &str, message: &str| DocumentError::invalid(None, format!("/settings/page/{member}"), message);
    if let Some(size) = value.get("size") {
        page.size = match size.as_str() {
            Some("A4") => PaperSize::A4,
            Some("Letter") => PaperSize::Letter,
            _ => return Err(error("size", "expected A4 or Letter")),
        };
    }
    if let Some(orientation) = value.get("orientation") {
        page.landscape = match orientation.as_str() {
            Some("portrait") => false,
            Some("landscape") => true,
            _ => return Err(error("orientation", "expected portrait or landscape")),
        };
    }
    if let Some(margins) = value.get("margins_mm") {
        let numbers: Option<Vec<f64>> =
            margins.as_array().map(|list| list.iter().filter_map(|item| item.as_f64()).collect());
        match numbers {
            Some(numbers) if numbers.len() == 4 && numbers.iter().all(|margin| (0.0..=80.0).contains(margin)) => {
                page.margins_mm = [numbers[0], numbers[1], numbers[2], numbers[3]];
            }
            _ => {
                return Err(error(
                    "margins_mm",
                    "expected four margins in millimetres (top, right, bottom, left), 0 to 80",
                ));
            }
        }
    }
    Ok(page)
}

fn last_complete_week(today: NaiveDate) -> Period {
    let monday = today - Days::new(u64::from(today.weekday().num_days_from_monday()));
    let start = monday.checked_sub_days(Days::new(7)).unwrap_or(monday);
    Period { start, end: start + Days::new(6) }
}

fn last_complete_month(today: NaiveDate) -> Period {
    let first = today.with_day(1).unwrap_or(today);
    let start = first.checked_sub_months(Months::new(1)).unwrap_or(first);
    Period { start, end: first.pred_opt().unwrap_or(first) }
}

fn parse_week(text: &str) -> Option<Period> {
    let start = match text.split_once("-W") {
        Some((year, week)) => NaiveDate::from_isoywd_opt(year.parse().ok()?, week.parse().ok()?, chrono::Weekday::Mon)?,
        None => {
            let date: NaiveDate = text.parse().ok()?;
            date - Days::new(u64::from(date.weekday().num_days_from_monday()))
        }
    };
    Some(Period { start, end: start.checked_add_days(Days::new(6))? })
}

fn parse_month(text: &str) -> Option<Period> {
    let (year, month) = text.split_once('-')?;
    let start = NaiveDate::from_ymd_opt(year.parse().ok()?, month.parse().ok()?, 1)?;
    let next = start.checked_add_months(Months::new(1))?;
    Some(Period { start, end: next.pred_opt()? })
}

/// Replaces `{name.path}` variables; `{{` writes a brace. An unknown variable is an
/// error naming it and the variables known at that place.
fn substitute(text: &str, variables: &BTreeMap<String, String>) -> Result<String, String> {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(start) = rest.find('{') {
        out.push_str(&rest[..start]);
        rest = &rest[start..];
        if let Some(after) = rest.strip_prefix("{{") {
            out.push('{');
            rest = after;
            continue;
        }
        match variable_name(rest) {
            Some(name) => {
                let value = variables.get(name).ok_or_else(|| unknown_variable(name, variables))?;
                out.push_str(value);
                rest = &rest[name.len() + 2..];
            }
            None => {
                out.push('{');
                rest = &rest[1..];
            }
        }
    }
    out.push_str(rest);
    Ok(out)
}

/// Turns the variables of an author's SQL into bound parameters: `'{site.code}'`
/// becomes `CAST($1 AS VARCHAR)`, `DATE '{period.from}'` becomes `CAST($2 AS DATE)`, a
/// variable inside a longer literal (`'%{site.code}%'`) is concatenated into it, and a
/// bare one becomes a text parameter. Values never enter the SQL text.
pub(crate) fn placeholders(text: &str, variables: &BTreeMap<String, String>) -> Result<(String, Vec<String>), String> {
    let mut out = String::with_capacity(text.len());
    let mut values: Vec<String> = Vec::new();
    let mut rest = text;
    while let Some(start) = rest.find('{') {
        out.push_str(&rest[..start]);
        rest = &rest[start..];
        if let Some(after) = rest.strip_prefix("{{") {
            out.push('{');
            rest = after;
            continue;
        }
        let Some(name) = variable_name(rest) else {
            out.push('{');
            rest = &rest[1..];
            continue;
        };
        let value = variables.get(name).ok_or_else(|| unknown_variable(name, variables))?;
        let index = match values.iter().position(|known| known == value) {
            Some(index) => index + 1,
            None => {
                values.push(value.clone());
                values.len()
            }
        };
        rest = &rest[name.len() + 2..];
        let in_literal = out.matches('\'').count() % 2 == 1;
        let closes_literal = rest.starts_with('\'');
        let trimmed = out.trim_end_matches('\'');
        let is_date = in_literal
            && closes_literal
            && out.ends_with('\'')
            && trimmed.trim_end().to_ascii_uppercase().ends_with("DATE");
        if is_date {
            let keep = trimmed.trim_end().len() - "DATE".len();
            out.truncate(keep);
            out.push_str(&format!("CAST(${index} AS DATE)"));
            rest = &rest[1..];
        } else if in_literal && closes_literal && out.ends_with('\'') {
            out.pop();
            out.push_str(&format!("CAST(${index} AS VARCHAR)"));
            rest = &rest[1..];
        } else if in_literal {
            out.push_str(&format!("' || CAST(${index} AS VARCHAR) || '"));
        } else {
            out.push_str(&format!("CAST(${index} AS VARCHAR)"));
        }
    }
    out.push_str(rest);
    Ok((out, values))
}

/// The variable name at the start of `text` (`{site.code}` → `site.code`), if any.
fn variable_name(text: &str) -> Option<&str> {
    let name = text[1..].find('}').map(|end| &text[1..1 + end])?;
    let valid = !name.is_empty()
        && name.chars().all(|character| character.is_ascii_alphanumeric() || matches!(character, '.' | '_'))
        && name.contains('.');
    valid.then_some(name)
}

fn unknown_variable(name: &str, variables: &BTreeMap<String, String>) -> String {
    let known: Vec<&str> = variables.keys().map(String::as_str).collect();
    format!("unknown variable `{{{name}}}` (known here: {})", known.join(", "))
}

/// HTML-escapes variable values, so that a site named `A&B` stays text in inline markup.
fn escaped(variables: &BTreeMap<String, String>) -> BTreeMap<String, String> {
    variables
        .iter()
        .map(|(name, value)| (name.clone(), value.replace('&', "&amp;").replace('<', "&lt;").replace('>', "&gt;")))
        .collect()
}

/// The largest image a document may embed, decoded.
pub const MAX_IMAGE_BYTES: usize = 2 * 1024 * 1024;

fn load_image(source: &str, assets: &BTreeMap<String, Vec<u8>>) -> Result<Image, String> {
    use base64::Engine as _;
    let too_large = |bytes: usize| {
        format!(
            "the image is {:.1} MiB: at most {} MiB (reduce its size or resolution)",
            bytes as f64 / 1_048_576.0,
            MAX_IMAGE_BYTES / 1_048_576
        )
    };
    let bytes = if let Some(data) = source.strip_prefix("data:") {
        let (_, payload) = data.split_once(";base64,").ok_or("a data: URL must be base64 (data:image/png;base64,…)")?;
        // Refused before decoding: base64 holds three bytes in four characters.
        if payload.len() / 4 * 3 > MAX_IMAGE_BYTES + 3 {
            return Err(too_large(payload.len() / 4 * 3));
        }
        base64::engine::general_purpose::STANDARD
            .decode(payload.trim())
            .map_err(|error| format!("the data: URL is not valid base64: {error}"))?
    } else {
        let name = source.trim_start_matches("asset:");
        assets.get(name).cloned().ok_or_else(|| {
            let known: Vec<&str> = assets.keys().map(String::as_str).collect();
            format!("unknown image `{name}`: embed it as a data: URL or use a shipped asset ({})", known.join(", "))
        })?
    };
    crate::raster::identify(bytes)
}

struct Walk<'a> {
    binding: &'a Binding,
    nodes: Vec<Node>,
    pending: Vec<Pending>,
    warehouse: BTreeMap<String, String>,
}

/// Members of a block's data, each read with an error naming block and pointer.
struct Fields<'a> {
    block: &'a Block,
    pointer: &'a str,
    variables: &'a BTreeMap<String, String>,
}

impl Fields<'_> {
    fn error(&self, member: &str, message: impl Into<String>) -> DocumentError {
        let pointer =
            if member.is_empty() { self.pointer.to_owned() } else { format!("{}/data/{member}", self.pointer) };
        DocumentError::invalid(Some(&self.block.id), pointer, message)
    }

    fn raw_text(&self, member: &str) -> Result<Option<String>, DocumentError> {
        match self.block.data.get(member) {
            None | Some(serde_json::Value::Null) => Ok(None),
            Some(serde_json::Value::String(text)) => {
                substitute(text, self.variables).map(Some).map_err(|message| self.error(member, message))
            }
            Some(serde_json::Value::Number(number)) => Ok(Some(number.to_string())),
            Some(_) => Err(self.error(member, "must be text")),
        }
    }

    /// A read-only query with variables written as SQL string contents (quotes doubled),
    /// so a value cannot end its literal.
    /// The query's text with its variables as bound parameters, and their values.
    fn sql(&self, member: &str) -> Result<(String, Vec<String>), DocumentError> {
        let text = self
            .block
            .data
            .get(member)
            .and_then(|value| value.as_str())
            .ok_or_else(|| self.error(member, "must be a SQL query"))?;
        placeholders(text, self.variables).map_err(|message| self.error(member, message))
    }

    fn text(&self, member: &str) -> Result<String, DocumentError> {
        Ok(self.raw_text(member)?.unwrap_or_default())
    }

    fn required(&self, member: &str) -> Result<String, DocumentError> {
        self.raw_text(member)?.filter(|text| !text.trim().is_empty()).ok_or_else(|| self.error(member, "is required"))
    }

    /// Inline markup with variables; values are escaped before the markup is read.
    fn inline_at(&self, text: &str, member: &str) -> Result<Vec<Span>, DocumentError> {
        let resolved = substitute(text, &escaped(self.variables)).map_err(|message| self.error(member, message))?;
        inline::parse(&resolved).map_err(|message| self.error(member, message))
    }

    fn inline(&self, member: &str) -> Result<Vec<Span>, DocumentError> {
        match self.block.data.get(member) {
            None | Some(serde_json::Value::Null) => Ok(Vec::new()),
            Some(serde_json::Value::String(text)) => self.inline_at(text, member),
            Some(_) => Err(self.error(member, "must be text")),
        }
    }

    fn list(&self, member: &str) -> Result<Option<Vec<String>>, DocumentError> {
        match self.block.data.get(member) {
            None | Some(serde_json::Value::Null) => Ok(None),
            Some(serde_json::Value::String(text)) => {
                let text = substitute(text, self.variables).map_err(|message| self.error(member, message))?;
                Ok(Some(text.split(',').map(str::trim).filter(|item| !item.is_empty()).map(str::to_owned).collect()))
            }
            Some(serde_json::Value::Array(items)) => items
                .iter()
                .enumerate()
                .map(|(index, item)| {
                    let text = item.as_str().ok_or_else(|| self.error(&format!("{member}/{index}"), "must be text"))?;
                    substitute(text, self.variables)
                        .map_err(|message| self.error(&format!("{member}/{index}"), message))
                })
                .collect::<Result<Vec<_>, _>>()
                .map(Some),
            Some(_) => Err(self.error(member, "must be a list of names")),
        }
    }

    fn boolean(&self, member: &str) -> Result<bool, DocumentError> {
        match self.block.data.get(member) {
            None | Some(serde_json::Value::Null) => Ok(false),
            Some(serde_json::Value::Bool(value)) => Ok(*value),
            Some(_) => Err(self.error(member, "must be true or false")),
        }
    }

    fn number(&self, member: &str) -> Result<Option<f64>, DocumentError> {
        match self.raw_text(member)? {
            None => Ok(None),
            Some(text) => {
                text.trim().parse().map(Some).map_err(|_| self.error(member, format!("`{text}` is not a number")))
            }
        }
    }

    fn tone(&self, member: &str, default: Tone) -> Result<Tone, DocumentError> {
        Ok(match self.raw_text(member)?.as_deref() {
            None => default,
            Some("info") => Tone::Info,
            Some("success") => Tone::Success,
            Some("warning") => Tone::Warning,
            Some("danger") | Some("error") => Tone::Danger,
            Some("neutral") => Tone::Neutral,
            Some(other) => {
                return Err(
                    self.error(member, format!("unknown tone `{other}` (info, success, warning, danger, neutral)"))
                );
            }
        })
    }

    /// The sites a data block reads: its own `site` member, or the scope's.
    fn sites(&self, scope: &Scope) -> Result<Vec<String>, DocumentError> {
        Ok(self.list("site")?.unwrap_or_else(|| scope.sites.clone()))
    }

    fn period(&self, scope: &Scope) -> Result<Period, DocumentError> {
        match self.raw_text("period")?.as_deref() {
            None | Some("current") => Ok(scope.period),
            Some("previous") => Ok(scope.period.previous()),
            Some("year") => Ok(Period {
                start: NaiveDate::from_ymd_opt(scope.period.end.year(), 1, 1).unwrap_or(scope.period.start),
                end: scope.period.end,
            }),
            Some(other) => Err(self.error("period", format!("unknown period `{other}` (current, previous, year)"))),
        }
    }

    fn metric_request(
        &self,
        scope: &Scope,
        grain: Option<String>,
        by: Option<Vec<String>>,
    ) -> Result<DataRequest, DocumentError> {
        let period = self.period(scope)?;
        Ok(DataRequest::Metric {
            metric: self.required("metric")?,
            sites: self.sites(scope)?,
            from: period.start,
            to: period.end,
            grain,
            by,
        })
    }
}

impl Walk<'_> {
    fn blocks(&mut self, blocks: &[Block], pointer: &str, scope: &Scope, suffix: &str) -> Result<(), DocumentError> {
        for (index, block) in blocks.iter().enumerate() {
            let pointer = format!("{pointer}/{index}");
            if !self.visible(block, blocks, &pointer, scope)? {
                continue;
            }
            self.block(block, &pointer, scope, suffix)?;
        }
        Ok(())
    }

    fn answer(&mut self, request: DataRequest, block: &Block, pointer: &str) -> Option<&DataTable> {
        match self.binding.answers.get(&request) {
            Some(table) => {
                self.warehouse.extend(table.warehouse.iter().map(|(table, version)| (table.clone(), version.clone())));
                Some(table)
            }
            None => {
                self.pending.push(Pending { request, block: block.id.clone(), pointer: pointer.to_owned() });
                None
            }
        }
    }

    /// Conditional blocks: `tunes.when` is `{"not_empty": "{param.x}"}`,
    /// `{"equals": ["{site.code}", "ALPHA"]}` or `{"rows": "<id of a data block>"}`.
    fn visible(
        &mut self,
        block: &Block,
        siblings: &[Block],
        pointer: &str,
        scope: &Scope,
    ) -> Result<bool, DocumentError> {
        let Some(when) = block.tunes.get("when") else { return Ok(true) };
        let error = |message: &str| DocumentError::invalid(Some(&block.id), format!("{pointer}/tunes/when"), message);
        let resolve = |text: &serde_json::Value| -> Result<String, DocumentError> {
            let text = text.as_str().ok_or_else(|| error("conditions compare text"))?;
            substitute(text, &scope.variables).map_err(|message| error(&message))
        };
        if let Some(value) = when.get("not_empty") {
            return Ok(!resolve(value)?.trim().is_empty());
        }
        if let Some(pair) = when.get("equals") {
            let pair =
                pair.as_array().filter(|pair| pair.len() == 2).ok_or_else(|| error("`equals` takes two texts"))?;
            return Ok(resolve(&pair[0])? == resolve(&pair[1])?);
        }
        let rows = when.get("rows").map(|target| (target, true));
        if let Some((target, shown_with_rows)) = rows.or_else(|| when.get("no_rows").map(|target| (target, false))) {
            let target = target.as_str().ok_or_else(|| error("`rows` and `no_rows` name a data block"))?;
            let referenced = siblings
                .iter()
                .chain(&self.binding.document.blocks)
                .find(|candidate| candidate.id == target)
                .ok_or_else(|| error(&format!("`rows` names `{target}`, which is not a block of this document")))?;
            let fields = Fields { block: referenced, pointer, variables: &scope.variables };
            let request = match self.request_of(&fields, scope)? {
                Some(request) => request,
                None => return Err(error(&format!("`{target}` is not a data block"))),
            };
            return Ok(match self.answer(request, block, pointer) {
                Some(table) => table.rows.is_empty() != shown_with_rows,
                None => false,
            });
        }
        Err(error("expected `not_empty`, `equals`, `rows` or `no_rows`"))
    }

    /// A data block's answer, or `None` while it is pending. `missing` says what a block
    /// without a source lacks (tasks, timelines and company cards always have one).
    fn data(&mut self, fields: &Fields, scope: &Scope, missing: &str) -> Result<Option<DataTable>, DocumentError> {
        let request = self.request_of(fields, scope)?.ok_or_else(|| fields.error("metric", missing))?;
        Ok(self.answer(request, fields.block, fields.pointer).cloned())
    }

    fn request_of(&self, fields: &Fields, scope: &Scope) -> Result<Option<DataRequest>, DocumentError> {
        Ok(Some(match fields.block.block_type.as_str() {
            "kpi" | "progress" if fields.block.data.get("metric").is_some() => {
                fields.metric_request(scope, Some("total".into()), Some(fields.list("by")?.unwrap_or_default()))?
            }
            "data_table" | "chart" | "repeat" if fields.block.data.get("query").is_some() => {
                let (sql, parameters) = fields.sql("query")?;
                DataRequest::Query { sql, parameters }
            }
            "data_table" | "chart" | "repeat" if fields.block.data.get("metric").is_some() => {
                fields.metric_request(scope, fields.raw_text("grain")?, fields.list("by")?)?
            }
            "tasks" => DataRequest::Tasks {
                sites: fields.sites(scope)?,
                project: fields.raw_text("project")?,
                status: fields.list("status")?.unwrap_or_default(),
            },
            "timeline" => DataRequest::Timeline { sites: fields.sites(scope)?, project: fields.raw_text("project")? },
            "company" => DataRequest::Company { name: fields.required("company")? },
            "map" => map::request(fields, scope)?,
            "planning" => planning::request(fields, scope)?,
            "forecast" => powertrace::forecast_request(fields, scope)?,
            "scenario" => powertrace::scenario_request(fields, scope)?,
            _ => return Ok(None),
        }))
    }

    fn block(&mut self, block: &Block, pointer: &str, scope: &Scope, suffix: &str) -> Result<(), DocumentError> {
        let fields = Fields { block, pointer, variables: &scope.variables };
        let id = format!("{}{suffix}", block.id);
        let locale = self.binding.locale;
        let kind = block.block_type.as_str();
        // The shape first, by the kind's typed definition: the meaning is checked below.
        crate::blocks::check(block, pointer)?;
        let node = match kind {
            "paragraph" => Node::Paragraph { id, text: fields.inline("text")? },
            "header" => {
                let level = block.data.get("level").and_then(|level| level.as_u64()).unwrap_or(2);
                if !(1..=6).contains(&level) {
                    return Err(fields.error("level", "a header level is 1 to 6"));
                }
                Node::Header { id, level: level as u8, text: fields.inline("text")? }
            }
            "list" | "checklist" => {
                let style = match (kind, block.data.get("style").and_then(|style| style.as_str())) {
                    ("checklist", _) | (_, Some("checklist")) => ListStyle::Checklist,
                    (_, Some("ordered")) => ListStyle::Ordered,
                    (_, None | Some("unordered")) => ListStyle::Unordered,
                    (_, Some(other)) => {
                        return Err(fields
                            .error("style", format!("unknown list style `{other}` (ordered, unordered, checklist)")));
                    }
                };
                let items = block.data.get("items").ok_or_else(|| fields.error("items", "is required"))?;
                Node::List { id, style, items: list_items(&fields, items, "items")? }
            }
            "quote" => {
                Node::Quote { id, text: fields.inline("text")?, caption: inline::plain(&fields.inline("caption")?) }
            }
            "code" => Node::Code { id, code: fields.text("code")? },
            "callout" | "warning" => Node::Callout {
                id,
                tone: fields.tone("tone", if kind == "warning" { Tone::Warning } else { Tone::Info })?,
                title: inline::plain(&fields.inline("title")?),
                text: match block.data.get("message") {
                    Some(_) => fields.inline("message")?,
                    None => fields.inline("text")?,
                },
            },
            "table" => {
                let rows = block.data.get("content").and_then(|rows| rows.as_array()).ok_or_else(|| {
                    fields.error("content", "a table's content is a list of rows, each a list of cells")
                })?;
                let mut cells = Vec::new();
                for (row_index, row) in rows.iter().enumerate() {
                    let row = row
                        .as_array()
                        .ok_or_else(|| fields.error(&format!("content/{row_index}"), "a row is a list of cells"))?;
                    let mut line = Vec::new();
                    for (column, cell) in row.iter().enumerate() {
                        let member = format!("content/{row_index}/{column}");
                        let text = cell.as_str().ok_or_else(|| fields.error(&member, "a cell is text"))?;
                        line.push(fields.inline_at(text, &member)?);
                    }
                    cells.push(line);
                }
                Node::Table { id, heading: fields.boolean("withHeadings")?, rows: cells }
            }
            "image" => {
                let source = block
                    .data
                    .get("file")
                    .and_then(|file| file.get("url"))
                    .or_else(|| block.data.get("url"))
                    .and_then(|url| url.as_str())
                    .ok_or_else(|| fields.error("file/url", "an image needs file.url"))?;
                let image =
                    load_image(source, &self.binding.assets).map_err(|message| fields.error("file/url", message))?;
                Node::Image { id, image, caption: inline::plain(&fields.inline("caption")?) }
            }
            "delimiter" => Node::Delimiter { id },
            "page_break" => Node::PageBreak { id },
            "typst" => Node::Typst { id, source: fields.required("source")? },
            "badges" => {
                let items = block
                    .data
                    .get("items")
                    .and_then(|items| items.as_array())
                    .ok_or_else(|| fields.error("items", "badges are a list of {\"label\", \"tone\"}"))?;
                let mut badges = Vec::new();
                for (index, item) in items.iter().enumerate() {
                    let inner = Block {
                        id: block.id.clone(),
                        block_type: kind.into(),
                        data: item.clone(),
                        tunes: Default::default(),
                    };
                    let pointer = format!("{pointer}/data/items/{index}");
                    let item_fields = Fields { block: &inner, pointer: &pointer, variables: &scope.variables };
                    badges.push((item_fields.required("label")?, item_fields.tone("tone", Tone::Neutral)?));
                }
                Node::Badges { id, badges }
            }
            "progress" => {
                let label = fields.text("label")?;
                let (value, maximum) = match self.request_of(&fields, scope)? {
                    Some(request) => {
                        let Some(table) = self.answer(request, block, pointer) else { return Ok(()) };
                        let (index, column) = measure_column(&fields, table)?;
                        let value = table.rows.first().and_then(|row| row[index].as_number()).unwrap_or(0.0);
                        let maximum = match column.format {
                            ValueFormat::Ratio => 1.0,
                            ValueFormat::Percent => 100.0,
                            _ => fields.number("max")?.unwrap_or(100.0),
                        };
                        (value, maximum)
                    }
                    None => (
                        fields
                            .number("value")?
                            .ok_or_else(|| fields.error("value", "a progress bar needs a value or a metric"))?,
                        fields.number("max")?.unwrap_or(100.0),
                    ),
                };
                if maximum <= 0.0 {
                    return Err(fields.error("max", "must be above zero"));
                }
                let share = (value / maximum).clamp(0.0, 1.0);
                Node::Progress { id, label, share, text: locale.format_percent(share * 100.0, 0) }
            }
            "kpi" => {
                let request = self.request_of(&fields, scope)?.ok_or_else(|| fields.error("metric", "is required"))?;
                let compare = match fields.raw_text("compare")?.as_deref() {
                    None | Some("none") => false,
                    Some("previous") => true,
                    Some(other) => {
                        return Err(fields.error("compare", format!("unknown comparison `{other}` (previous, none)")));
                    }
                };
                let previous_request = match (&request, compare) {
                    (DataRequest::Metric { metric, sites, from, to, grain, by }, true) => {
                        let previous = Period { start: *from, end: *to }.previous();
                        Some(DataRequest::Metric {
                            metric: metric.clone(),
                            sites: sites.clone(),
                            from: previous.start,
                            to: previous.end,
                            grain: grain.clone(),
                            by: by.clone(),
                        })
                    }
                    _ => None,
                };
                let previous = previous_request.and_then(|request| self.answer(request, block, pointer).cloned());
                let Some(table) = self.answer(request, block, pointer).cloned() else { return Ok(()) };
                let (index, column) = measure_column(&fields, &table)?;
                let current = table.rows.first().and_then(|row| row[index].as_number());
                let currency = &self.binding.currency;
                let value = match current {
                    Some(value) => Value::Number(value).format(column.format, locale, currency),
                    None => "—".to_owned(),
                };
                let comparison = match (compare, previous) {
                    (false, _) => None,
                    (true, None) => return Ok(()),
                    (true, Some(previous)) => {
                        let before = previous.rows.first().and_then(|row| row.get(index)).and_then(Value::as_number);
                        match (current, before) {
                            (Some(current), Some(before)) => {
                                let delta = current - before;
                                let sign = if delta > 0.0 { "+" } else { "" };
                                let text = match column.format {
                                    ValueFormat::Percent => format!("{sign}{} pt", locale.format_number(delta, 1)),
                                    ValueFormat::Ratio => {
                                        format!("{sign}{} pt", locale.format_number(delta * 100.0, 1))
                                    }
                                    format => {
                                        format!("{sign}{}", Value::Number(delta).format(format, locale, currency))
                                    }
                                };
                                Some((
                                    format!("{text} {} {}", locale.word(Word::Versus), previous_label(locale)),
                                    Tone::Neutral,
                                ))
                            }
                            _ => None,
                        }
                    }
                };
                let label = match fields.raw_text("label")? {
                    Some(label) => label,
                    None => column.label.clone(),
                };
                Node::Kpi { id, label, value, unit: fields.text("unit")?, comparison }
            }
            "data_table" => {
                let Some(table) = self.data(&fields, scope, "a data table needs a metric or a query")? else {
                    return Ok(());
                };
                self.data_table(&fields, id, &table)?
            }
            "chart" => {
                chart_kind(&fields)?;
                let Some(table) = self.data(&fields, scope, "a chart needs a metric or a query")? else {
                    return Ok(());
                };
                Node::Chart { id, chart: chart_of(&fields, &table, locale)? }
            }
            "planning" => {
                let view = planning::view(&fields)?;
                let Some(table) = self.data(&fields, scope, "")? else { return Ok(()) };
                match view {
                    planning::View::Gantt => planning::gantt(&fields, id, &table, locale)?,
                    planning::View::Table => self.data_table(&fields, id, &table)?,
                }
            }
            "map" => {
                let Some(table) = self.data(&fields, scope, "a map needs a metric")? else { return Ok(()) };
                let wanted = fields.sites(scope)?;
                map::node(&fields, id, &table, &self.binding.sites, &wanted)?
            }
            "forecast" => {
                let Some(table) = self.data(&fields, scope, "")? else { return Ok(()) };
                match powertrace::forecast_view(&fields)? {
                    powertrace::ForecastView::Table => self.data_table(&fields, id, &table)?,
                    view => powertrace::forecast_node(&fields, id, &table, view, locale)?,
                }
            }
            "scenario" => {
                let Some(table) = self.data(&fields, scope, "")? else { return Ok(()) };
                self.data_table(&fields, id, &table)?
            }
            "tasks" => {
                let Some(table) = self.data(&fields, scope, "")? else { return Ok(()) };
                let limit = fields.number("limit")?.map(|limit| limit.max(0.0) as usize).unwrap_or(usize::MAX);
                let mut tasks = Vec::new();
                for row in 0..table.rows.len().min(limit) {
                    let status = table.text(row, "status").unwrap_or_default();
                    let due = table.date(row, "due");
                    let overdue =
                        due.is_some_and(|due| due < self.binding.today) && status != "done" && status != "cancelled";
                    tasks.push(Task {
                        project: table.text(row, "project").unwrap_or_default(),
                        name: table.text(row, "task").unwrap_or_default(),
                        tone: match status.as_str() {
                            "done" => Tone::Success,
                            "blocked" => Tone::Danger,
                            _ if overdue => Tone::Warning,
                            "in_progress" => Tone::Info,
                            _ => Tone::Neutral,
                        },
                        status: crate::labels::value_or_text(locale, &status),
                        due: due.map(|due| locale.format_date_short(due)).unwrap_or_default(),
                        percent: table.number(row, "percent").unwrap_or(0.0),
                    });
                }
                Node::Tasks { id, title: fields.text("title")?, tasks }
            }
            "company" => {
                let name = fields.required("company")?;
                let Some(table) = self.data(&fields, scope, "")? else { return Ok(()) };
                if table.rows.is_empty() {
                    return Err(fields.error("company", format!("no company named `{name}` in the Tiers directory")));
                }
                let details = ["kind", "city", "country"]
                    .iter()
                    .filter_map(|column| table.text(0, column))
                    .map(|text| crate::labels::value_or_text(locale, &text))
                    .collect::<Vec<_>>()
                    .join(" · ");
                let contacts = (0..table.rows.len())
                    .filter_map(|row| {
                        Some(Contact {
                            name: table.text(row, "contact")?,
                            job_title: table.text(row, "job_title").unwrap_or_default(),
                            email: table.text(row, "email").unwrap_or_default(),
                            phone: table.text(row, "phone").unwrap_or_default(),
                        })
                    })
                    .collect();
                Node::Company { id, name: table.text(0, "company").unwrap_or(name), details, contacts }
            }
            "timeline" => {
                let Some(table) = self.data(&fields, scope, "")? else { return Ok(()) };
                let title = fields.text("title")?;
                Node::Timeline { id, chart: timeline_chart(&table, &title), title }
            }
            "repeat" => return self.repeat(&fields, scope, suffix),
            _ => unreachable!("block types are checked above"),
        };
        self.nodes.push(node);
        Ok(())
    }

    fn data_table(&self, fields: &Fields, id: String, table: &DataTable) -> Result<Node, DocumentError> {
        let locale = self.binding.locale;
        let chosen: Vec<usize> = match fields.list("columns")? {
            None => (0..table.columns.len()).collect(),
            Some(names) => names
                .iter()
                .enumerate()
                .map(|(position, name)| {
                    table.column(name).ok_or_else(|| {
                        let known: Vec<&str> = table.columns.iter().map(|column| column.name.as_str()).collect();
                        fields.error(
                            &format!("columns/{position}"),
                            format!("no column `{name}` in the data (it has: {})", known.join(", ")),
                        )
                    })
                })
                .collect::<Result<_, _>>()?,
        };
        let currency = &self.binding.currency;
        let mut columns: Vec<DataColumn> = chosen
            .iter()
            .map(|index| {
                let column = &table.columns[*index];
                // Dimensions and dates carry their name; measures carry the catalog's label,
                // or their name when they have none.
                let named = !column.format.is_numeric() || column.label == column.name;
                let header = named.then(|| crate::labels::column(locale, &column.name)).flatten();
                DataColumn { label: header.map_or_else(|| column.label.clone(), str::to_owned), ..column.clone() }
            })
            .collect();
        // An author may relabel columns and give formats (a query's numbers are decimals).
        for (member, relabel) in [("labels", true), ("formats", false)] {
            let Some(map) = fields.block.data.get(member) else { continue };
            let map = map.as_object().ok_or_else(|| fields.error(member, "must map column names to text"))?;
            for (name, value) in map {
                let at = format!("{member}/{name}");
                let column = columns
                    .iter_mut()
                    .find(|column| &column.name == name)
                    .ok_or_else(|| fields.error(&at, format!("no column `{name}` among the table's columns")))?;
                let text = value.as_str().ok_or_else(|| fields.error(&at, "must be text"))?;
                if relabel {
                    column.label = substitute(text, fields.variables).map_err(|message| fields.error(&at, message))?;
                } else {
                    column.format = match text {
                        "text" => ValueFormat::Text,
                        "date" => ValueFormat::Date,
                        "integer" => ValueFormat::Integer,
                        "decimal" => ValueFormat::Decimal,
                        "percent" => ValueFormat::Percent,
                        "ratio" => ValueFormat::Ratio,
                        "currency" => ValueFormat::Currency,
                        other => {
                            return Err(fields.error(
                                &at,
                                format!(
                                    "unknown format `{other}` (text, date, integer, decimal, percent, ratio, currency)"
                                ),
                            ));
                        }
                    };
                }
            }
        }
        let rows: Vec<Vec<Cell>> = table
            .rows
            .iter()
            .map(|row| {
                chosen
                    .iter()
                    .zip(&columns)
                    .map(|(index, column)| {
                        let text = row[*index].format(column.format, locale, currency);
                        let text = match column.format {
                            ValueFormat::Text => crate::labels::value_or_text(locale, &text),
                            _ => text,
                        };
                        Cell { value: row[*index].clone(), text }
                    })
                    .collect()
            })
            .collect();
        let totals = if fields.boolean("totals")? {
            Some(
                columns
                    .iter()
                    .enumerate()
                    .map(|(position, column)| {
                        if position == 0 {
                            Cell {
                                value: Value::Text(locale.word(Word::Total).into()),
                                text: locale.word(Word::Total).into(),
                            }
                        } else if column.format.is_additive() {
                            let sum: f64 = rows.iter().filter_map(|row| row[position].value.as_number()).sum();
                            Cell {
                                value: Value::Number(sum),
                                text: Value::Number(sum).format(column.format, locale, currency),
                            }
                        } else {
                            Cell { value: Value::Null, text: String::new() }
                        }
                    })
                    .collect(),
            )
        } else {
            None
        };
        Ok(Node::DataTable { id, title: fields.text("title")?, columns, rows, totals })
    }

    /// A section repeated per site in scope (`"over": "sites"`) or per row of a query or
    /// metric; inside it, `{row.<column>}` names the row's values and a `site` column
    /// narrows the section's data blocks to that site.
    fn repeat(&mut self, fields: &Fields, scope: &Scope, suffix: &str) -> Result<(), DocumentError> {
        let block = fields.block;
        let inner: Vec<Block> = match block.data.get("blocks") {
            Some(blocks) => serde_json::from_value(blocks.clone())
                .map_err(|error| fields.error("blocks", format!("the repeated blocks are not blocks: {error}")))?,
            None => return Err(fields.error("blocks", "a repeated section needs its blocks")),
        };
        let mut rows: Vec<BTreeMap<String, String>> = Vec::new();
        let mut row_sites: Vec<Option<String>> = Vec::new();
        if fields.raw_text("over")?.as_deref() == Some("sites") {
            for site in &self.binding.sites {
                if scope.sites.is_empty() || scope.sites.contains(&site.code) {
                    rows.push(BTreeMap::from([
                        ("row.code".to_owned(), site.code.clone()),
                        ("row.name".to_owned(), site.name.clone()),
                        ("site.code".to_owned(), site.code.clone()),
                        ("site.name".to_owned(), site.name.clone()),
                    ]));
                    row_sites.push(Some(site.code.clone()));
                }
            }
        } else {
            let request = self
                .request_of(fields, scope)?
                .ok_or_else(|| fields.error("over", "a repeated section runs `over: sites`, a metric or a query"))?;
            let Some(table) = self.answer(request, block, fields.pointer).cloned() else { return Ok(()) };
            let currency = &self.binding.currency;
            for row in &table.rows {
                let mut variables = BTreeMap::new();
                for (column, value) in table.columns.iter().zip(row) {
                    variables.insert(
                        format!("row.{}", column.name),
                        value.format(column.format, self.binding.locale, currency),
                    );
                }
                let site = table.column("site").and_then(|index| match &row[index] {
                    Value::Text(code) => Some(code.clone()),
                    _ => None,
                });
                if let Some(code) = &site {
                    variables.insert("site.code".into(), code.clone());
                    let name =
                        self.binding.sites.iter().find(|known| &known.code == code).map(|known| known.name.clone());
                    variables.insert("site.name".into(), name.unwrap_or_else(|| code.clone()));
                }
                rows.push(variables);
                row_sites.push(site);
            }
        }
        for (index, (variables, site)) in rows.into_iter().zip(row_sites).enumerate() {
            let mut inner_scope = scope.clone();
            inner_scope.variables.extend(variables);
            if let Some(site) = site {
                inner_scope.sites = vec![site];
            }
            let pointer = format!("{}/data/blocks", fields.pointer);
            self.blocks(&inner, &pointer, &inner_scope, &format!("{suffix}-{}", index + 1))?;
        }
        Ok(())
    }
}

fn previous_label(locale: Locale) -> &'static str {
    match locale {
        Locale::FrFr => "période précédente",
        Locale::EnGb | Locale::EnUs => "previous period",
    }
}

fn list_items(fields: &Fields, items: &serde_json::Value, member: &str) -> Result<Vec<ListItem>, DocumentError> {
    let list = items.as_array().ok_or_else(|| fields.error(member, "must be a list"))?;
    let mut out = Vec::new();
    for (index, item) in list.iter().enumerate() {
        let at = format!("{member}/{index}");
        out.push(match item {
            serde_json::Value::String(text) => {
                ListItem { text: fields.inline_at(text, &at)?, checked: None, items: Vec::new() }
            }
            serde_json::Value::Object(object) => {
                let text =
                    object.get("content").or_else(|| object.get("text")).and_then(|text| text.as_str()).unwrap_or("");
                let checked = object
                    .get("checked")
                    .or_else(|| object.get("meta").and_then(|meta| meta.get("checked")))
                    .and_then(|checked| checked.as_bool());
                let items = match object.get("items") {
                    Some(nested) => list_items(fields, nested, &format!("{at}/items"))?,
                    None => Vec::new(),
                };
                ListItem { text: fields.inline_at(text, &format!("{at}/content"))?, checked, items }
            }
            _ => return Err(fields.error(&at, "a list item is text or {\"content\", \"items\"}")),
        });
    }
    Ok(out)
}

/// The measure a KPI or progress bar shows: `measure` by name, or the first numeric column.
fn measure_column<'t>(fields: &Fields, table: &'t DataTable) -> Result<(usize, &'t DataColumn), DocumentError> {
    match fields.raw_text("measure")? {
        Some(name) => table.column(&name).map(|index| (index, &table.columns[index])).ok_or_else(|| {
            let known: Vec<&str> = table.measures().map(|(_, column)| column.name.as_str()).collect();
            fields.error("measure", format!("no measure `{name}` (the data has: {})", known.join(", ")))
        }),
        None => table.measures().next().ok_or_else(|| fields.error("metric", "the data has no numeric column")),
    }
}

fn chart_kind(fields: &Fields) -> Result<ChartKind, DocumentError> {
    Ok(match fields.raw_text("kind")?.as_deref().unwrap_or("line") {
        "line" => ChartKind::Line,
        "bar" => ChartKind::Bar,
        "stacked_bar" => ChartKind::StackedBar,
        "pie" => ChartKind::Pie,
        "heatmap" => ChartKind::Heatmap,
        other => {
            return Err(
                fields.error("kind", format!("unknown chart kind `{other}` (line, bar, stacked_bar, pie, heatmap)"))
            );
        }
    })
}

/// The chart of a data block: categories are periods (or, for a pie, the first
/// dimension); series are the values of the first dimension (or the measures).
fn chart_of(fields: &Fields, table: &DataTable, locale: Locale) -> Result<Chart, DocumentError> {
    let kind = chart_kind(fields)?;
    let (measure, column) = measure_column(fields, table)?;
    let texts: Vec<usize> = table
        .columns
        .iter()
        .enumerate()
        .filter(|(_, column)| !column.format.is_numeric() && column.name != "period")
        .map(|(index, _)| index)
        .collect();
    let period = table.column("period");
    // Dimension values are stored codes or names: codes read as their labels.
    let label = |row: &[Value], index: usize| match &row[index] {
        Value::Date(date) => locale.format_date_short(*date),
        other => crate::labels::value_or_text(locale, &other.format(ValueFormat::Text, locale, "")),
    };
    let mut categories: Vec<String> = Vec::new();
    let mut series: Vec<Series> = Vec::new();
    let category_column =
        if kind == ChartKind::Pie { texts.first().copied().or(period) } else { period.or(texts.first().copied()) };
    let series_column =
        if kind == ChartKind::Pie { None } else { texts.iter().copied().find(|index| Some(*index) != category_column) };
    for row in &table.rows {
        let category = category_column.map(|index| label(row, index)).unwrap_or_else(|| column.label.clone());
        let name = series_column.map(|index| label(row, index)).unwrap_or_else(|| column.label.clone());
        let position = match categories.iter().position(|known| *known == category) {
            Some(position) => position,
            None => {
                categories.push(category);
                for series in &mut series {
                    series.values.push(None);
                }
                categories.len() - 1
            }
        };
        let index = match series.iter().position(|series| series.name == name) {
            Some(index) => index,
            None => {
                series.push(Series { name, values: vec![None; categories.len()] });
                series.len() - 1
            }
        };
        series[index].values[position] = row[measure].as_number();
    }
    Ok(Chart {
        kind,
        title: fields.text("title")?,
        unit: fields.text("unit")?,
        categories,
        series,
        style: column.format.chart_style(),
        threshold: None,
        band: None,
    })
}

/// Timeline bars drawn with the chart model: one series per bar, with start and end as
/// day numbers.
fn timeline_chart(table: &DataTable, title: &str) -> Chart {
    let mut categories = Vec::new();
    let mut starts = Vec::new();
    let mut ends = Vec::new();
    let mut progress = Vec::new();
    for row in 0..table.rows.len() {
        let (Some(start), Some(end)) = (table.date(row, "start"), table.date(row, "end")) else { continue };
        categories.push(table.text(row, "label").unwrap_or_default());
        starts.push(Some(f64::from(start.num_days_from_ce())));
        ends.push(Some(f64::from(end.num_days_from_ce())));
        progress.push(table.number(row, "percent"));
    }
    Chart {
        kind: ChartKind::Timeline,
        title: title.to_owned(),
        unit: String::new(),
        categories,
        series: vec![
            Series { name: "start".into(), values: starts },
            Series { name: "end".into(), values: ends },
            Series { name: "percent".into(), values: progress },
        ],
        style: ValueStyle { decimals: 0, percent_of_one: false },
        threshold: None,
        band: None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn variables_resolve_and_unknown_ones_are_named() {
        let variables = BTreeMap::from([("site.name".to_owned(), "Alpha".to_owned())]);
        assert_eq!(substitute("Site {site.name} {{x} {not a var}", &variables).unwrap(), "Site Alpha {x} {not a var}");
        assert_eq!(
            substitute("{site.nom}", &variables).unwrap_err(),
            "unknown variable `{site.nom}` (known here: site.name)"
        );
    }

    #[test]
    fn query_variables_become_bound_parameters() {
        let variables = BTreeMap::from([
            ("site.code".to_owned(), "AL'PHA".to_owned()),
            ("period.from".to_owned(), "2026-11-09".to_owned()),
        ]);
        let sql = "SELECT 1 WHERE d >= DATE '{period.from}' AND ('{site.code}' = '' OR c = '{site.code}') \
                   AND n LIKE '%{site.code}%' AND x = {site.code}";
        let (text, values) = placeholders(sql, &variables).unwrap();
        assert_eq!(
            text,
            "SELECT 1 WHERE d >= CAST($1 AS DATE) AND (CAST($2 AS VARCHAR) = '' OR c = CAST($2 AS VARCHAR)) \
             AND n LIKE '%' || CAST($2 AS VARCHAR) || '%' AND x = CAST($2 AS VARCHAR)"
        );
        assert_eq!(values, ["2026-11-09", "AL'PHA"]);
    }

    #[test]
    fn default_periods_are_the_last_complete_week_and_month() {
        let today = NaiveDate::from_ymd_opt(2026, 11, 22).unwrap();
        let week = last_complete_week(today);
        assert_eq!((week.start.to_string(), week.end.to_string()), ("2026-11-09".into(), "2026-11-15".into()));
        let month = last_complete_month(today);
        assert_eq!((month.start.to_string(), month.end.to_string()), ("2026-10-01".into(), "2026-10-31".into()));
        assert_eq!(
            month.previous(),
            Period { start: "2026-09-01".parse().unwrap(), end: "2026-09-30".parse().unwrap() }
        );
        assert_eq!(parse_week("2026-W46"), Some(week));
        assert_eq!(parse_week("2026-11-12"), Some(week));
        assert_eq!(parse_month("2026-10"), Some(month));
        assert_eq!(parse_week("2026-W54"), None);
    }
}
