//! The typed definition of every block kind's `data`: what the renderer reads and what
//! every save checks, and the JSON Schema generated here from the same definitions
//! ([`schema`]) that the API serves to editors and other clients.
//!
//! A definition fixes a block's shape — members, their types, required ones, closed
//! lists of values. Meaning is checked while binding (a metric the catalog has, a
//! variable that exists, a column the data holds), since it depends on the warehouse
//! and on the document's parameters; text members may hold `{variables}`, so values
//! that can come from a variable (a period, a tone, a chart kind) are text here.

// The schema derive spells the types of optional members with their full path.
#![allow(unused_qualifications)]

use std::collections::BTreeMap;

use serde::Deserialize;
use serde::de::{self, Deserializer, Visitor};
use utoipa::openapi::schema::{ArrayBuilder, ObjectBuilder, OneOfBuilder, Schema, SchemaType, Type};
use utoipa::openapi::{RefOr, schema::Ref};
use utoipa::{PartialSchema, ToSchema};

use crate::DocumentError;
use crate::bind::ValueFormat;

/// Text an author writes, possibly with `{variables}`; a number is read as its text.
#[derive(Debug, Clone, PartialEq)]
pub struct Text(pub String);

impl<'de> Deserialize<'de> for Text {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct TextVisitor;
        impl Visitor<'_> for TextVisitor {
            type Value = Text;
            fn expecting(&self, formatter: &mut std::fmt::Formatter) -> std::fmt::Result {
                formatter.write_str("text")
            }
            fn visit_str<E: de::Error>(self, text: &str) -> Result<Text, E> {
                Ok(Text(text.to_owned()))
            }
            fn visit_i64<E: de::Error>(self, number: i64) -> Result<Text, E> {
                Ok(Text(number.to_string()))
            }
            fn visit_u64<E: de::Error>(self, number: u64) -> Result<Text, E> {
                Ok(Text(number.to_string()))
            }
            fn visit_f64<E: de::Error>(self, number: f64) -> Result<Text, E> {
                Ok(Text(serde_json::Number::from_f64(number).map_or_else(|| number.to_string(), |n| n.to_string())))
            }
        }
        deserializer.deserialize_any(TextVisitor)
    }
}

impl PartialSchema for Text {
    fn schema() -> RefOr<Schema> {
        ObjectBuilder::new()
            .schema_type(SchemaType::from_iter([Type::String, Type::Number]))
            .description(Some("text, `{variables}` allowed; a number is read as its text"))
            .into()
    }
}
impl ToSchema for Text {}

/// Names: a list of texts, or one text of names separated by commas.
#[derive(Debug, Clone, PartialEq)]
pub struct Names(pub Vec<String>);

impl<'de> Deserialize<'de> for Names {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct NamesVisitor;
        impl<'de> Visitor<'de> for NamesVisitor {
            type Value = Names;
            fn expecting(&self, formatter: &mut std::fmt::Formatter) -> std::fmt::Result {
                formatter.write_str("a list of names, or names separated by commas")
            }
            fn visit_str<E: de::Error>(self, text: &str) -> Result<Names, E> {
                Ok(Names(vec![text.to_owned()]))
            }
            fn visit_seq<A: de::SeqAccess<'de>>(self, mut sequence: A) -> Result<Names, A::Error> {
                let mut names = Vec::new();
                while let Some(name) = sequence.next_element::<String>()? {
                    names.push(name);
                }
                Ok(Names(names))
            }
        }
        deserializer.deserialize_any(NamesVisitor)
    }
}

impl PartialSchema for Names {
    fn schema() -> RefOr<Schema> {
        OneOfBuilder::new()
            .item(ObjectBuilder::new().schema_type(Type::String).description(Some("names separated by commas")))
            .item(ArrayBuilder::new().items(ObjectBuilder::new().schema_type(Type::String)))
            .into()
    }
}
impl ToSchema for Names {}

/// The blocks of a repeated section: blocks like the document's own.
#[derive(Debug, Clone, PartialEq, Deserialize)]
pub struct InnerBlocks(pub Vec<crate::Block>);

impl PartialSchema for InnerBlocks {
    fn schema() -> RefOr<Schema> {
        ArrayBuilder::new().items(Ref::from_schema_name("Block")).into()
    }
}
impl ToSchema for InnerBlocks {}

/// Where a data block's figures come from, shared by the blocks that read the metric
/// catalog or a query.
#[derive(Debug, Clone, PartialEq, Default, Deserialize, ToSchema)]
pub struct Source {
    /// A metric of the catalog (`GET /api/metrics`).
    pub metric: Option<Text>,
    /// A read-only SQL query over the warehouse; `{variables}` become bound parameters.
    pub query: Option<String>,
    /// `day`, `week`, `month`, `quarter`, `year` or `total`.
    pub grain: Option<Text>,
    /// Dimensions of the metric to break the figures down by.
    pub by: Option<Names>,
    /// `current` (the document's period, by default), `previous` or `year`.
    pub period: Option<Text>,
    /// Site codes; by default the document's sites.
    pub site: Option<Names>,
    /// The measure shown, by name; by default the first numeric column.
    pub measure: Option<Text>,
}

#[derive(Debug, Clone, PartialEq, Deserialize, ToSchema)]
pub struct Paragraph {
    /// Inline markup: `<b>`, `<i>`, `<u>`, `<a href>`, `<code>`, `<mark>`, `<br>`.
    pub text: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Deserialize, ToSchema)]
pub struct Header {
    pub text: Option<String>,
    /// 1 to 6; 2 by default.
    #[schema(minimum = 1, maximum = 6)]
    pub level: Option<u8>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum ListStyle {
    Ordered,
    Unordered,
    Checklist,
}

/// A list item: its text, or an object with its text (`content` or `text`), whether it
/// is checked, and nested items.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(untagged, expecting = "a list item is text or {\"content\", \"items\"}")]
pub enum ListItem {
    Text(String),
    Item(ListEntry),
}

impl PartialSchema for ListItem {
    fn schema() -> RefOr<Schema> {
        OneOfBuilder::new()
            .item(ObjectBuilder::new().schema_type(Type::String))
            .item(Ref::from_schema_name("ListEntry"))
            .into()
    }
}
impl ToSchema for ListItem {
    fn schemas(schemas: &mut Vec<(String, RefOr<Schema>)>) {
        schemas.push(("ListEntry".into(), ListEntry::schema()));
        schemas.push(("NestedItems".into(), NestedItems::schema()));
    }
}

#[derive(Debug, Clone, PartialEq, Deserialize, ToSchema)]
pub struct ListEntry {
    pub content: Option<String>,
    pub text: Option<String>,
    pub checked: Option<bool>,
    /// Editor.js keeps `checked` here for checklists.
    #[schema(value_type = Option<Object>)]
    pub meta: Option<serde_json::Value>,
    pub items: Option<NestedItems>,
}

/// Items nested in an item.
#[derive(Debug, Clone, PartialEq, Deserialize)]
pub struct NestedItems(pub Vec<ListItem>);

impl PartialSchema for NestedItems {
    fn schema() -> RefOr<Schema> {
        ArrayBuilder::new().items(Ref::from_schema_name("ListItem")).into()
    }
}
impl ToSchema for NestedItems {}

#[derive(Debug, Clone, PartialEq, Deserialize, ToSchema)]
pub struct List {
    pub style: Option<ListStyle>,
    pub items: Vec<ListItem>,
}

#[derive(Debug, Clone, PartialEq, Deserialize, ToSchema)]
pub struct Quote {
    pub text: Option<String>,
    pub caption: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Deserialize, ToSchema)]
pub struct Code {
    pub code: Option<Text>,
}

#[derive(Debug, Clone, PartialEq, Deserialize, ToSchema)]
pub struct Callout {
    /// `info`, `success`, `warning`, `danger` or `neutral`.
    pub tone: Option<Text>,
    pub title: Option<String>,
    pub text: Option<String>,
    /// The text, as Editor.js's warning tool names it.
    pub message: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Deserialize, ToSchema)]
pub struct Table {
    /// Rows of cells, each cell inline markup.
    pub content: Vec<Vec<String>>,
    #[serde(rename = "withHeadings")]
    pub with_headings: Option<bool>,
}

#[derive(Debug, Clone, PartialEq, Deserialize, ToSchema)]
pub struct ImageFile {
    /// `data:image/png;base64,…`, `asset:<name>` or `/api/assets/<id>`.
    pub url: String,
}

#[derive(Debug, Clone, PartialEq, Deserialize, ToSchema)]
pub struct Image {
    pub file: Option<ImageFile>,
    pub url: Option<String>,
    pub caption: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Deserialize, ToSchema)]
pub struct Typst {
    /// Typst markup, placed as it is.
    pub source: Text,
}

#[derive(Debug, Clone, PartialEq, Deserialize, ToSchema)]
pub struct Badge {
    pub label: Text,
    pub tone: Option<Text>,
}

#[derive(Debug, Clone, PartialEq, Deserialize, ToSchema)]
pub struct Badges {
    pub items: Vec<Badge>,
}

#[derive(Debug, Clone, PartialEq, Deserialize, ToSchema)]
pub struct Kpi {
    pub metric: Text,
    pub label: Option<Text>,
    pub unit: Option<Text>,
    /// `previous` (the period before) or `none`.
    pub compare: Option<Text>,
    pub by: Option<Names>,
    pub period: Option<Text>,
    pub site: Option<Names>,
    pub measure: Option<Text>,
}

#[derive(Debug, Clone, PartialEq, Deserialize, ToSchema)]
pub struct Progress {
    pub label: Option<Text>,
    /// The value shown, without a metric.
    pub value: Option<Text>,
    /// The full bar; 100 by default, 1 for a ratio.
    pub max: Option<Text>,
    #[serde(flatten)]
    pub source: Source,
}

#[derive(Debug, Clone, PartialEq, Deserialize, ToSchema)]
pub struct DataTable {
    pub title: Option<Text>,
    /// The columns shown, in order; by default all.
    pub columns: Option<Names>,
    /// Column headings by column name.
    pub labels: Option<BTreeMap<String, String>>,
    /// Formats by column name (a query's numbers are decimals).
    pub formats: Option<BTreeMap<String, ValueFormat>>,
    /// A total row for the additive columns.
    pub totals: Option<bool>,
    #[serde(flatten)]
    pub source: Source,
}

#[derive(Debug, Clone, PartialEq, Deserialize, ToSchema)]
pub struct Chart {
    /// `line` (by default), `bar`, `stacked_bar`, `pie` or `heatmap`.
    pub kind: Option<Text>,
    pub title: Option<Text>,
    pub unit: Option<Text>,
    #[serde(flatten)]
    pub source: Source,
}

#[derive(Debug, Clone, PartialEq, Deserialize, ToSchema)]
pub struct Tasks {
    pub title: Option<Text>,
    /// A project's code or name; by default every project of the sites.
    pub project: Option<Text>,
    /// Task statuses kept; by default all.
    pub status: Option<Names>,
    pub site: Option<Names>,
    /// The most tasks listed.
    pub limit: Option<Text>,
}

#[derive(Debug, Clone, PartialEq, Deserialize, ToSchema)]
pub struct Company {
    /// A company's name in the Tiers directory.
    pub company: Text,
}

#[derive(Debug, Clone, PartialEq, Deserialize, ToSchema)]
pub struct Timeline {
    pub title: Option<Text>,
    pub project: Option<Text>,
    pub site: Option<Names>,
}

#[derive(Debug, Clone, PartialEq, Deserialize, ToSchema)]
pub struct Repeat {
    /// `sites` repeats per site in scope; otherwise per row of the block's metric or query.
    pub over: Option<Text>,
    pub blocks: InnerBlocks,
    #[serde(flatten)]
    pub source: Source,
}

#[derive(Debug, Clone, PartialEq, Deserialize, ToSchema)]
pub struct Forecast {
    /// `chart` (by default), `table` or `summary`.
    pub view: Option<Text>,
    pub site: Option<Names>,
    pub switchboard: Option<Text>,
    /// `1d` to `90d`; `7d` by default.
    pub horizon: Option<Text>,
    /// A stored scenario whose added load is drawn on top of the forecast.
    pub scenario: Option<Text>,
    pub title: Option<Text>,
}

#[derive(Debug, Clone, PartialEq, Deserialize, ToSchema)]
pub struct Scenario {
    /// The scenario's name or id.
    pub scenario: Text,
    /// `summary` (by default), `items`, `switchboards`, `checks` or `recommendations`.
    pub view: Option<Text>,
    pub site: Option<Names>,
    pub title: Option<Text>,
    pub columns: Option<Names>,
    pub labels: Option<BTreeMap<String, String>>,
    pub formats: Option<BTreeMap<String, ValueFormat>>,
    pub totals: Option<bool>,
}

#[derive(Debug, Clone, PartialEq, Deserialize, ToSchema)]
pub struct Map {
    /// A metric with a `site` dimension: each site is coloured by its value.
    pub metric: Text,
    pub title: Option<Text>,
    pub unit: Option<Text>,
    pub period: Option<Text>,
    pub site: Option<Names>,
    pub measure: Option<Text>,
}

#[derive(Debug, Clone, PartialEq, Deserialize, ToSchema)]
pub struct Planning {
    /// `reservations`, `milestones`, or both (by default).
    pub show: Option<Names>,
    /// `gantt` (by default) or `table`.
    pub view: Option<Text>,
    pub title: Option<Text>,
    pub period: Option<Text>,
    pub site: Option<Names>,
    /// The most bars drawn (1 to 500; 40 by default).
    pub limit: Option<Text>,
    pub columns: Option<Names>,
    pub labels: Option<BTreeMap<String, String>>,
    pub formats: Option<BTreeMap<String, ValueFormat>>,
    pub totals: Option<bool>,
}

/// A block kind: its `type`, what it is for, and its data's definition.
#[derive(Debug)]
pub struct BlockKind {
    pub name: &'static str,
    pub description: &'static str,
    /// Whether it reads the warehouse or the operational tables.
    pub data: bool,
    definition: Definition,
}

/// A definition's schema name and its schema, or none for blocks without data.
#[derive(Debug, Clone, Copy)]
enum Definition {
    None,
    Typed { name: &'static str, check: fn(&serde_json::Value) -> Result<(), Located>, schemas: fn(&mut Schemas) },
}

type Schemas = Vec<(String, RefOr<Schema>)>;

/// A shape error and where it is, below the block's `data`.
#[derive(Debug)]
struct Located {
    path: String,
    message: String,
}

fn typed<T: for<'de> Deserialize<'de> + ToSchema>(name: &'static str) -> Definition {
    fn check<T: for<'de> Deserialize<'de>>(data: &serde_json::Value) -> Result<(), Located> {
        serde_path_to_error::deserialize::<_, T>(data).map(drop).map_err(|error| {
            let path = pointer_of(error.path());
            let message = readable(&error.inner().to_string());
            // "missing field `metric`" is about the member, not the object holding it.
            match message.strip_prefix("missing field `").and_then(|rest| rest.strip_suffix('`')) {
                Some(member) => Located { path: format!("{path}/{member}"), message: "is required".into() },
                None => Located { path, message },
            }
        })
    }
    fn schemas<T: ToSchema>(schemas: &mut Schemas) {
        schemas.push((T::name().into_owned(), T::schema()));
        T::schemas(schemas);
    }
    Definition::Typed { name, check: check::<T>, schemas: schemas::<T> }
}

macro_rules! kinds {
    ($( $name:literal => $definition:expr, $data:literal, $description:literal; )*) => {
        /// Every block kind, standard ones first.
        pub fn kinds() -> Vec<BlockKind> {
            vec![$( BlockKind { name: $name, description: $description, data: $data, definition: $definition } ),*]
        }
    };
}

kinds! {
    "paragraph" => typed::<Paragraph>("Paragraph"), false, "text with inline markup";
    "header" => typed::<Header>("Header"), false, "a heading of level 1 to 6";
    "list" => typed::<List>("List"), false, "an ordered, unordered or check list, items nested";
    "checklist" => typed::<List>("List"), false, "a check list";
    "quote" => typed::<Quote>("Quote"), false, "a quotation and its caption";
    "code" => typed::<Code>("Code"), false, "preformatted text";
    "callout" => typed::<Callout>("Callout"), false, "a framed note with a tone";
    "warning" => typed::<Callout>("Callout"), false, "a framed warning";
    "table" => typed::<Table>("Table"), false, "a table written by hand";
    "image" => typed::<Image>("Image"), false, "a PNG, JPEG or SVG image of at most 2 MiB";
    "delimiter" => Definition::None, false, "a separator";
    "page_break" => Definition::None, false, "the next block on a new page";
    "typst" => typed::<Typst>("Typst"), false, "Typst markup placed as it is (PDF only)";
    "kpi" => typed::<Kpi>("Kpi"), true, "one figure of a metric, compared with the period before";
    "data_table" => typed::<DataTable>("DataTable"), true, "a metric's or a query's rows as a table";
    "chart" => typed::<Chart>("Chart"), true, "a metric or a query as a line, bar, pie or heat-map chart";
    "tasks" => typed::<Tasks>("Tasks"), true, "project tasks with their status and due date";
    "company" => typed::<Company>("Company"), true, "a company of the Tiers directory and its contacts";
    "timeline" => typed::<Timeline>("Timeline"), true, "projects as bars over time";
    "badges" => typed::<Badges>("Badges"), false, "labels with a tone";
    "progress" => typed::<Progress>("Progress"), true, "a bar filled by a value or a metric";
    "repeat" => typed::<Repeat>("Repeat"), true, "blocks repeated per site or per row of a metric or query";
    "forecast" => typed::<Forecast>("Forecast"), true, "a PowerTrace demand forecast with its interval";
    "scenario" => typed::<Scenario>("Scenario"), true, "a PowerTrace what-if scenario beside the baseline";
    "map" => typed::<Map>("Map"), true, "sites placed by latitude and longitude, coloured by a metric";
    "planning" => typed::<Planning>("Planning"), true, "reservations and milestones as a Gantt chart or a table";
}

/// The kind named `name`.
pub fn kind(name: &str) -> Option<BlockKind> {
    kinds().into_iter().find(|kind| kind.name == name)
}

/// Checks a block's `data` against its kind's definition: the error names the block and
/// the JSON pointer of the member at fault (`pointer` is the block's own).
pub fn check(block: &crate::Block, pointer: &str) -> Result<(), DocumentError> {
    let names = || kinds().iter().map(|kind| kind.name).collect::<Vec<_>>().join(", ");
    let kind = kind(&block.block_type).ok_or_else(|| {
        DocumentError::invalid(
            Some(&block.id),
            format!("{pointer}/type"),
            format!("unknown block type `{}` (known: {})", block.block_type, names()),
        )
    })?;
    let Definition::Typed { check, .. } = kind.definition else { return Ok(()) };
    if !block.data.is_object() {
        return Err(DocumentError::invalid(Some(&block.id), format!("{pointer}/data"), "`data` must be an object"));
    }
    check(&block.data).map_err(|located| {
        DocumentError::invalid(Some(&block.id), format!("{pointer}/data{}", located.path), located.message)
    })
}

/// Checks every block of a document (nested ones of repeated sections too) against its
/// definition, without binding anything.
pub fn check_document(document: &crate::Document) -> Result<(), DocumentError> {
    fn walk(blocks: &[crate::Block], pointer: &str) -> Result<(), DocumentError> {
        for (index, block) in blocks.iter().enumerate() {
            let at = format!("{pointer}/{index}");
            check(block, &at)?;
            if block.block_type == "repeat"
                && let Some(inner) = block.data.get("blocks")
                && let Ok(inner) = serde_json::from_value::<Vec<crate::Block>>(inner.clone())
            {
                walk(&inner, &format!("{at}/data/blocks"))?;
            }
        }
        Ok(())
    }
    walk(&document.blocks, "/blocks")
}

/// serde's wording as an author reads it: what was expected first, then what was found.
fn readable(message: &str) -> String {
    if let Some(rest) = message.strip_prefix("invalid type: ")
        && let Some((found, expected)) = rest.split_once(", expected ")
    {
        return format!("expected {expected}, found {found}");
    }
    if let Some(rest) = message.strip_prefix("unknown variant ")
        && let Some((value, known)) = rest.split_once(", expected ")
    {
        return format!("unknown value {value}; {}", known.replace("one of ", "expected one of "));
    }
    message.to_owned()
}

/// The path serde reached as a JSON pointer (`/items/2/label`).
fn pointer_of(path: &serde_path_to_error::Path) -> String {
    use serde_path_to_error::Segment;
    let mut out = String::new();
    for segment in path.iter() {
        match segment {
            Segment::Seq { index } => out.push_str(&format!("/{index}")),
            Segment::Map { key } => out.push_str(&format!("/{}", key.replace('~', "~0").replace('/', "~1"))),
            Segment::Enum { .. } | Segment::Unknown => {}
        }
    }
    out
}

/// The JSON Schema (2020-12) of a document: its blocks, each block's `data` by its
/// `type`, generated from the definitions above.
pub fn schema() -> serde_json::Value {
    let kinds = kinds();
    let mut schemas: Schemas = Vec::new();
    let mut conditions = Vec::new();
    for kind in &kinds {
        let data = match kind.definition {
            Definition::None => serde_json::json!({}),
            Definition::Typed { name, schemas: collect, .. } => {
                collect(&mut schemas);
                serde_json::json!({ "$ref": format!("#/$defs/{name}") })
            }
        };
        conditions.push(serde_json::json!({
            "if": { "properties": { "type": { "const": kind.name } }, "required": ["type"] },
            "then": { "properties": { "data": data }, "description": kind.description },
        }));
    }
    let mut definitions = serde_json::Map::new();
    for (name, schema) in schemas {
        let mut value = serde_json::to_value(schema).unwrap_or_default();
        to_definitions(&mut value);
        definitions.insert(name, value);
    }
    definitions.insert(
        "Block".into(),
        serde_json::json!({
            "type": "object",
            "required": ["id", "type"],
            "properties": {
                "id": { "type": "string", "minLength": 1 },
                "type": { "enum": kinds.iter().map(|kind| kind.name).collect::<Vec<_>>() },
                "data": {},
                "tunes": { "type": "object" },
            },
            "allOf": conditions,
        }),
    );
    serde_json::json!({
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "$id": "/api/documents/schema",
        "title": "OpsFlux document",
        "description": "A Rédacteur document: Editor.js blocks with their settings. Text members may hold {variables}.",
        "type": "object",
        "required": ["blocks"],
        "properties": {
            "time": { "type": "integer" },
            "version": { "type": "string" },
            "settings": { "type": "object" },
            "blocks": { "type": "array", "items": { "$ref": "#/$defs/Block" } },
        },
        "$defs": definitions,
    })
}

/// OpenAPI references (`#/components/schemas/X`) as the schema's own (`#/$defs/X`).
fn to_definitions(value: &mut serde_json::Value) {
    match value {
        serde_json::Value::Object(map) => {
            for (key, member) in map.iter_mut() {
                if key == "$ref"
                    && let serde_json::Value::String(reference) = member
                    && let Some(name) = reference.strip_prefix("#/components/schemas/")
                {
                    *reference = format!("#/$defs/{name}");
                } else {
                    to_definitions(member);
                }
            }
        }
        serde_json::Value::Array(items) => items.iter_mut().for_each(to_definitions),
        _ => {}
    }
}
