//! The bound document model: what binding produces and every writer reads — nodes
//! with their values already formatted, the data tables answering requests, page setup,
//! images — plain data (serde).

use super::*;

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

/// How a column's values are written (and how a block's `formats` names them).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, serde::Serialize, serde::Deserialize, utoipa::ToSchema)]
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

    pub(crate) fn chart_style(self) -> ValueStyle {
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

    pub(crate) fn measures(&self) -> impl Iterator<Item = (usize, &DataColumn)> {
        self.columns.iter().enumerate().filter(|(_, column)| column.format.is_numeric())
    }

    pub(crate) fn text(&self, row: usize, name: &str) -> Option<String> {
        let index = self.column(name)?;
        match &self.rows[row][index] {
            Value::Text(text) => Some(text.clone()),
            Value::Number(value) => Some(value.to_string()),
            Value::Date(date) => Some(date.to_string()),
            Value::Null => None,
        }
    }

    pub(crate) fn date(&self, row: usize, name: &str) -> Option<NaiveDate> {
        match &self.rows[row][self.column(name)?] {
            Value::Date(date) => Some(*date),
            Value::Text(text) => text.get(..10).and_then(|text| text.parse().ok()),
            _ => None,
        }
    }

    pub(crate) fn number(&self, row: usize, name: &str) -> Option<f64> {
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
