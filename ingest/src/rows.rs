//! PostgreSQL rows in text form (from `pgoutput` or `COPY ... TO STDOUT`) turned into
//! typed Arrow batches for the warehouse, column types chosen from PostgreSQL's.
//!
//! One-dimensional arrays of built-in types become Arrow lists (Delta Lake arrays).
//! Types without a Delta Lake counterpart (uuid, json, time, interval, unconstrained
//! numeric, user-defined types) are kept as their text form, which every reader
//! understands. The text forms are read by [`crate::pgtext`]; the session is expected to
//! use `DateStyle = ISO` and `TimeZone = UTC`.

use std::sync::Arc;

use opsflux_warehouse::arrow::array::{
    ArrayRef, BinaryBuilder, BooleanBuilder, Date32Builder, Decimal128Builder, Float32Builder, Float64Builder,
    Int16Builder, Int32Builder, Int64Builder, ListArray, NullBufferBuilder, StringBuilder, TimestampMicrosecondBuilder,
};
use opsflux_warehouse::arrow::buffer::{OffsetBuffer, ScalarBuffer};
use opsflux_warehouse::arrow::compute::kernels::cast_utils::parse_decimal;
use opsflux_warehouse::arrow::datatypes::{DataType, Decimal128Type, Field, FieldRef, Schema, SchemaRef, TimeUnit};
use opsflux_warehouse::arrow::error::ArrowError;
use opsflux_warehouse::arrow::record_batch::RecordBatch;

use crate::pgtext::{self, Refusal};

/// A value that does not fit its column's type.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ConvertError {
    #[error("{table}.{column}: `{value}` is not a valid {expected}{}", detail.as_ref().map(|detail| format!(" ({detail})")).unwrap_or_default())]
    BadValue { table: String, column: String, value: String, expected: &'static str, detail: Option<String> },
    #[error("{table}: a row has {found} values for {expected} columns")]
    WrongWidth { table: String, found: usize, expected: usize },
    #[error("{table}: building the Arrow batch failed: {message}")]
    Arrow { table: String, message: String },
}

impl ConvertError {
    /// The error without the value.
    pub fn summary(&self) -> String {
        match self {
            ConvertError::BadValue { table, column, expected, .. } => {
                format!("{table}.{column}: a value is not a valid {expected}")
            }
            other => other.to_string(),
        }
    }
}

/// A source column: its name and PostgreSQL type.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ColumnSpec {
    pub name: String,
    pub type_oid: u32,
    /// `-1` when the type has no modifier.
    pub type_modifier: i32,
}

/// PostgreSQL type OIDs with a typed Arrow counterpart.
mod oid {
    pub const BOOL: u32 = 16;
    pub const BYTEA: u32 = 17;
    pub const INT8: u32 = 20;
    pub const INT2: u32 = 21;
    pub const INT4: u32 = 23;
    pub const TEXT: u32 = 25;
    pub const FLOAT4: u32 = 700;
    pub const FLOAT8: u32 = 701;
    pub const DATE: u32 = 1082;
    pub const TIMESTAMP: u32 = 1114;
    pub const TIMESTAMPTZ: u32 = 1184;
    pub const NUMERIC: u32 = 1700;

    /// The element type of the built-in array types. Arrays of text-like elements
    /// (varchar, char, name, uuid, json, jsonb, time, timetz, interval, inet, cidr,
    /// macaddr, oid) become lists of text.
    pub fn element_of(array: u32) -> Option<u32> {
        Some(match array {
            1000 => BOOL,
            1001 => BYTEA,
            1005 => INT2,
            1007 => INT4,
            1016 => INT8,
            1021 => FLOAT4,
            1022 => FLOAT8,
            1182 => DATE,
            1115 => TIMESTAMP,
            1185 => TIMESTAMPTZ,
            1231 => NUMERIC,
            1009 | 1015 | 1014 | 1002 | 1003 | 2951 | 199 | 3807 | 1183 | 1270 | 1187 | 1041 | 651 | 1040 | 1028 => {
                TEXT
            }
            _ => return None,
        })
    }
}

/// How a column's values are read from text and stored.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Kind {
    Boolean,
    Binary,
    Int16,
    Int32,
    Int64,
    Float32,
    Float64,
    Date,
    Timestamp {
        with_zone: bool,
    },
    Decimal {
        precision: u8,
        scale: i8,
    },
    Text,
    /// A one-dimensional array of the element kind.
    List(Box<Kind>),
}

impl Kind {
    fn of(type_oid: u32, type_modifier: i32) -> Kind {
        match type_oid {
            oid::BOOL => Kind::Boolean,
            oid::BYTEA => Kind::Binary,
            oid::INT2 => Kind::Int16,
            oid::INT4 => Kind::Int32,
            oid::INT8 => Kind::Int64,
            oid::FLOAT4 => Kind::Float32,
            oid::FLOAT8 => Kind::Float64,
            oid::DATE => Kind::Date,
            oid::TIMESTAMP => Kind::Timestamp { with_zone: false },
            oid::TIMESTAMPTZ => Kind::Timestamp { with_zone: true },
            oid::NUMERIC => match numeric_precision_scale(type_modifier) {
                Some((precision, scale)) => Kind::Decimal { precision, scale },
                None => Kind::Text,
            },
            // An array column's modifier is its elements' (`numeric(6,2)[]`).
            array => match oid::element_of(array) {
                Some(element) => Kind::List(Box::new(Kind::of(element, type_modifier))),
                None => Kind::Text,
            },
        }
    }

    fn data_type(&self) -> DataType {
        match self {
            Kind::Boolean => DataType::Boolean,
            Kind::Binary => DataType::Binary,
            Kind::Int16 => DataType::Int16,
            Kind::Int32 => DataType::Int32,
            Kind::Int64 => DataType::Int64,
            Kind::Float32 => DataType::Float32,
            Kind::Float64 => DataType::Float64,
            Kind::Date => DataType::Date32,
            Kind::Timestamp { with_zone: false } => DataType::Timestamp(TimeUnit::Microsecond, None),
            Kind::Timestamp { with_zone: true } => DataType::Timestamp(TimeUnit::Microsecond, Some("UTC".into())),
            Kind::Decimal { precision, scale } => DataType::Decimal128(*precision, *scale),
            Kind::Text => DataType::Utf8,
            Kind::List(element) => DataType::List(list_field(element)),
        }
    }

    /// What a value of this kind is called in errors.
    fn expected(&self) -> &'static str {
        match self {
            Kind::Boolean => "boolean",
            Kind::Binary => "bytea in hex form",
            Kind::Int16 => "smallint",
            Kind::Int32 => "integer",
            Kind::Int64 => "bigint",
            Kind::Float32 | Kind::Float64 => "number",
            Kind::Date => "date",
            Kind::Timestamp { .. } => "timestamp",
            Kind::Decimal { .. } => "decimal number",
            Kind::Text => "text",
            Kind::List(_) => "array",
        }
    }

    /// Reads one value in PostgreSQL's text form.
    fn parse(&self, text: &str) -> Result<Parsed, Refusal> {
        let refused = || Refusal::new(self.expected());
        Ok(match self {
            Kind::Boolean => match text {
                "t" | "true" => Parsed::Boolean(true),
                "f" | "false" => Parsed::Boolean(false),
                _ => return Err(refused()),
            },
            Kind::Binary => Parsed::Binary(pgtext::decode_bytea(text).ok_or_else(refused)?),
            // Narrow types are parsed at their width, so an out-of-range value is
            // refused here, before any column of the row has been appended.
            Kind::Int16 => Parsed::Integer(text.parse::<i16>().map_err(|_| refused())?.into()),
            Kind::Int32 => Parsed::Integer(text.parse::<i32>().map_err(|_| refused())?.into()),
            Kind::Int64 => Parsed::Integer(text.parse().map_err(|_| refused())?),
            // `NaN`, `Infinity` and `-Infinity` are IEEE values in both systems.
            Kind::Float32 | Kind::Float64 => Parsed::Float(text.parse().map_err(|_| refused())?),
            Kind::Date => Parsed::Date(pgtext::parse_date(text)?),
            Kind::Timestamp { with_zone } => Parsed::Micros(pgtext::parse_timestamp(text, *with_zone)?),
            Kind::Decimal { precision, scale } => {
                if text == "NaN" {
                    return Err(Refusal {
                        expected: self.expected(),
                        reason: Some("a decimal column cannot hold NaN: declare it as unconstrained numeric, kept as text, or double precision".into()),
                    });
                }
                Parsed::Decimal(parse_decimal::<Decimal128Type>(text, *precision, *scale).map_err(|_| refused())?)
            }
            Kind::Text => Parsed::Text(text.to_owned()),
            Kind::List(element) => {
                let items = pgtext::parse_array(text)?;
                let mut parsed = Vec::with_capacity(items.len());
                for (index, item) in items.iter().enumerate() {
                    parsed.push(match item {
                        None => Parsed::Null,
                        Some(item) => element.parse(item).map_err(|refusal| Refusal {
                            expected: refusal.expected,
                            reason: Some(match refusal.reason {
                                Some(reason) => format!("element {}: `{item}`, {reason}", index + 1),
                                None => format!("element {}: `{item}`", index + 1),
                            }),
                        })?,
                    });
                }
                Parsed::List(parsed)
            }
        })
    }
}

/// The element field of a list column, named as Delta Lake names it.
fn list_field(element: &Kind) -> FieldRef {
    Arc::new(Field::new("element", element.data_type(), true))
}

/// The Arrow type a PostgreSQL column is stored as.
pub fn arrow_type(column: &ColumnSpec) -> DataType {
    Kind::of(column.type_oid, column.type_modifier).data_type()
}

/// `numeric(p, s)` from its type modifier; `None` when unconstrained or too wide for
/// 128-bit decimals.
fn numeric_precision_scale(type_modifier: i32) -> Option<(u8, i8)> {
    if type_modifier < 4 {
        return None;
    }
    let packed = type_modifier - 4;
    let precision = u8::try_from((packed >> 16) & 0xffff).ok()?;
    let scale = i8::try_from(packed & 0xffff).ok()?;
    (1..=38).contains(&precision).then_some((precision, scale))
}

/// The Arrow schema of a table (every column nullable: later columns added by
/// `ALTER TABLE` are null in older rows).
pub fn arrow_schema(columns: &[ColumnSpec]) -> SchemaRef {
    Arc::new(Schema::new(
        columns.iter().map(|column| Field::new(&column.name, arrow_type(column), true)).collect::<Vec<_>>(),
    ))
}

enum Builder {
    Boolean(BooleanBuilder),
    Binary(BinaryBuilder),
    Int16(Int16Builder),
    Int32(Int32Builder),
    Int64(Int64Builder),
    Float32(Float32Builder),
    Float64(Float64Builder),
    Date(Date32Builder),
    Timestamp(TimestampMicrosecondBuilder),
    Decimal(Decimal128Builder),
    Text(StringBuilder),
    List { field: FieldRef, offsets: Vec<i32>, nulls: NullBufferBuilder, elements: Box<Builder> },
}

/// One parsed value, held until the whole row has parsed.
enum Parsed {
    Null,
    Boolean(bool),
    Binary(Vec<u8>),
    Integer(i64),
    Float(f64),
    Date(i32),
    Micros(i64),
    Decimal(i128),
    Text(String),
    List(Vec<Parsed>),
}

/// Accumulates rows of one table into an Arrow batch. A row that fails to convert is
/// refused whole; the rows before it are kept.
pub struct RowBatchBuilder {
    table: String,
    columns: Vec<ColumnSpec>,
    kinds: Vec<Kind>,
    schema: SchemaRef,
    builders: Vec<Builder>,
    rows: usize,
}

impl std::fmt::Debug for RowBatchBuilder {
    fn fmt(&self, formatter: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        formatter.debug_struct("RowBatchBuilder").field("table", &self.table).field("rows", &self.rows).finish()
    }
}

impl RowBatchBuilder {
    pub fn new(table: &str, columns: &[ColumnSpec]) -> Self {
        let kinds: Vec<Kind> = columns.iter().map(|column| Kind::of(column.type_oid, column.type_modifier)).collect();
        let schema = arrow_schema(columns);
        let builders = kinds.iter().map(new_builder).collect();
        Self { table: table.to_owned(), columns: columns.to_vec(), kinds, schema, builders, rows: 0 }
    }

    pub fn schema(&self) -> SchemaRef {
        Arc::clone(&self.schema)
    }

    pub fn len(&self) -> usize {
        self.rows
    }

    pub fn is_empty(&self) -> bool {
        self.rows == 0
    }

    /// Adds one row; `None` is SQL NULL.
    pub fn push(&mut self, values: &[Option<&str>]) -> Result<(), ConvertError> {
        if values.len() != self.columns.len() {
            return Err(ConvertError::WrongWidth {
                table: self.table.clone(),
                found: values.len(),
                expected: self.columns.len(),
            });
        }
        let mut parsed = Vec::with_capacity(values.len());
        for ((value, kind), column) in values.iter().zip(&self.kinds).zip(&self.columns) {
            let Some(text) = value else {
                parsed.push(Parsed::Null);
                continue;
            };
            parsed.push(kind.parse(text).map_err(|refusal| ConvertError::BadValue {
                table: self.table.clone(),
                column: column.name.clone(),
                value: text.chars().take(80).collect(),
                expected: refusal.expected,
                detail: refusal.reason,
            })?);
        }
        for ((parsed, builder), column) in parsed.into_iter().zip(&mut self.builders).zip(&self.columns) {
            append(builder, parsed).map_err(|expected| ConvertError::BadValue {
                table: self.table.clone(),
                column: column.name.clone(),
                value: String::new(),
                expected,
                detail: None,
            })?;
        }
        self.rows += 1;
        Ok(())
    }

    /// The rows so far as a batch; the builder is empty afterwards.
    pub fn finish(&mut self) -> Result<RecordBatch, ConvertError> {
        let arrow_error =
            |error: ArrowError| ConvertError::Arrow { table: self.table.clone(), message: error.to_string() };
        let arrays: Vec<ArrayRef> =
            self.builders.iter_mut().map(finish_builder).collect::<Result<_, _>>().map_err(arrow_error)?;
        self.rows = 0;
        RecordBatch::try_new(Arc::clone(&self.schema), arrays).map_err(arrow_error)
    }
}

fn new_builder(kind: &Kind) -> Builder {
    match kind {
        Kind::Boolean => Builder::Boolean(BooleanBuilder::new()),
        Kind::Binary => Builder::Binary(BinaryBuilder::new()),
        Kind::Int16 => Builder::Int16(Int16Builder::new()),
        Kind::Int32 => Builder::Int32(Int32Builder::new()),
        Kind::Int64 => Builder::Int64(Int64Builder::new()),
        Kind::Float32 => Builder::Float32(Float32Builder::new()),
        Kind::Float64 => Builder::Float64(Float64Builder::new()),
        Kind::Date => Builder::Date(Date32Builder::new()),
        Kind::Timestamp { with_zone } => {
            Builder::Timestamp(TimestampMicrosecondBuilder::new().with_timezone_opt(with_zone.then_some("UTC")))
        }
        Kind::Decimal { precision, scale } => {
            Builder::Decimal(Decimal128Builder::new().with_precision_and_scale(*precision, *scale).unwrap_or_default())
        }
        Kind::Text => Builder::Text(StringBuilder::new()),
        Kind::List(element) => Builder::List {
            field: list_field(element),
            offsets: vec![0],
            nulls: NullBufferBuilder::new(0),
            elements: Box::new(new_builder(element)),
        },
    }
}

/// Appends a parsed value of the builder's own kind (as `push` parses them).
fn append(builder: &mut Builder, parsed: Parsed) -> Result<(), &'static str> {
    match (builder, parsed) {
        (Builder::Boolean(builder), Parsed::Null) => builder.append_null(),
        (Builder::Boolean(builder), Parsed::Boolean(value)) => builder.append_value(value),
        (Builder::Binary(builder), Parsed::Null) => builder.append_null(),
        (Builder::Binary(builder), Parsed::Binary(value)) => builder.append_value(value),
        (Builder::Int16(builder), Parsed::Null) => builder.append_null(),
        (Builder::Int16(builder), Parsed::Integer(value)) => {
            builder.append_value(i16::try_from(value).map_err(|_| "smallint")?)
        }
        (Builder::Int32(builder), Parsed::Null) => builder.append_null(),
        (Builder::Int32(builder), Parsed::Integer(value)) => {
            builder.append_value(i32::try_from(value).map_err(|_| "integer")?)
        }
        (Builder::Int64(builder), Parsed::Null) => builder.append_null(),
        (Builder::Int64(builder), Parsed::Integer(value)) => builder.append_value(value),
        (Builder::Float32(builder), Parsed::Null) => builder.append_null(),
        // PostgreSQL's real is a 32-bit float: narrowing restores the value it sent.
        (Builder::Float32(builder), Parsed::Float(value)) => builder.append_value(value as f32),
        (Builder::Float64(builder), Parsed::Null) => builder.append_null(),
        (Builder::Float64(builder), Parsed::Float(value)) => builder.append_value(value),
        (Builder::Date(builder), Parsed::Null) => builder.append_null(),
        (Builder::Date(builder), Parsed::Date(value)) => builder.append_value(value),
        (Builder::Timestamp(builder), Parsed::Null) => builder.append_null(),
        (Builder::Timestamp(builder), Parsed::Micros(value)) => builder.append_value(value),
        (Builder::Decimal(builder), Parsed::Null) => builder.append_null(),
        (Builder::Decimal(builder), Parsed::Decimal(value)) => builder.append_value(value),
        (Builder::Text(builder), Parsed::Null) => builder.append_null(),
        (Builder::Text(builder), Parsed::Text(value)) => builder.append_value(value),
        (Builder::List { offsets, nulls, .. }, Parsed::Null) => {
            offsets.push(offsets.last().copied().unwrap_or(0));
            nulls.append_null();
        }
        (Builder::List { offsets, nulls, elements, .. }, Parsed::List(items)) => {
            let end = offsets
                .last()
                .copied()
                .unwrap_or(0)
                .checked_add(i32::try_from(items.len()).map_err(|_| "array of fewer elements")?)
                .ok_or("batch of fewer array elements")?;
            for item in items {
                append(elements, item)?;
            }
            offsets.push(end);
            nulls.append_non_null();
        }
        // Each builder only ever receives the kind `push` parsed for it.
        _ => return Err("value of the column's type"),
    }
    Ok(())
}

fn finish_builder(builder: &mut Builder) -> Result<ArrayRef, ArrowError> {
    Ok(match builder {
        Builder::Boolean(builder) => Arc::new(builder.finish()),
        Builder::Binary(builder) => Arc::new(builder.finish()),
        Builder::Int16(builder) => Arc::new(builder.finish()),
        Builder::Int32(builder) => Arc::new(builder.finish()),
        Builder::Int64(builder) => Arc::new(builder.finish()),
        Builder::Float32(builder) => Arc::new(builder.finish()),
        Builder::Float64(builder) => Arc::new(builder.finish()),
        Builder::Date(builder) => Arc::new(builder.finish()),
        Builder::Timestamp(builder) => Arc::new(builder.finish()),
        Builder::Decimal(builder) => Arc::new(builder.finish()),
        Builder::Text(builder) => Arc::new(builder.finish()),
        Builder::List { field, offsets, nulls, elements } => {
            let offsets = OffsetBuffer::new(ScalarBuffer::from(std::mem::replace(offsets, vec![0])));
            Arc::new(ListArray::try_new(Arc::clone(field), offsets, finish_builder(elements)?, nulls.finish())?)
        }
    })
}

#[cfg(test)]
mod tests {
    use opsflux_warehouse::arrow::util::pretty::pretty_format_batches;

    use super::*;

    fn column(name: &str, type_oid: u32, type_modifier: i32) -> ColumnSpec {
        ColumnSpec { name: name.to_owned(), type_oid, type_modifier }
    }

    fn sample_columns() -> Vec<ColumnSpec> {
        // numeric(6,2) has the modifier ((6 << 16) | 2) + 4.
        vec![
            column("id", 2950, -1),
            column("beds", oid::INT4, -1),
            column("load_kw", oid::NUMERIC, ((6 << 16) | 2) + 4),
            column("on_site", oid::BOOL, -1),
            column("arrival", oid::DATE, -1),
            column("read_at", oid::TIMESTAMPTZ, -1),
            column("kw", oid::FLOAT8, -1),
            column("photo", oid::BYTEA, -1),
            column("tags", 1009, -1),
        ]
    }

    #[test]
    fn postgres_text_values_become_typed_columns() {
        let mut builder = RowBatchBuilder::new("pob.stays", &sample_columns());
        builder
            .push(&[
                Some("5f0c7a9e-0000-4000-8000-000000000001"),
                Some("140"),
                Some("1234.56"),
                Some("t"),
                Some("2026-11-21"),
                Some("2026-11-21 06:15:00.25+00"),
                Some("6439.875"),
                Some("\\x0aff"),
                Some("{a,\"b c\"}"),
            ])
            .unwrap();
        builder
            .push(&[Some("5f0c7a9e-0000-4000-8000-000000000002"), None, None, None, None, None, None, None, None])
            .unwrap();
        assert_eq!(builder.len(), 2);
        let batch = builder.finish().unwrap();
        assert!(builder.is_empty());
        let types: Vec<String> = batch.schema().fields().iter().map(|field| field.data_type().to_string()).collect();
        assert_eq!(
            types.join(", "),
            "Utf8, Int32, Decimal128(6, 2), Boolean, Date32, Timestamp(µs, \"UTC\"), Float64, Binary, List(Utf8, field: 'element')"
        );
        expect_test::expect![[r#"
            +--------------------------------------+------+---------+---------+------------+--------------------------+----------+-------+----------+
            | id                                   | beds | load_kw | on_site | arrival    | read_at                  | kw       | photo | tags     |
            +--------------------------------------+------+---------+---------+------------+--------------------------+----------+-------+----------+
            | 5f0c7a9e-0000-4000-8000-000000000001 | 140  | 1234.56 | true    | 2026-11-21 | 2026-11-21T06:15:00.250Z | 6439.875 | 0aff  | [a, b c] |
            | 5f0c7a9e-0000-4000-8000-000000000002 |      |         |         |            |                          |          |       |          |
            +--------------------------------------+------+---------+---------+------------+--------------------------+----------+-------+----------+"#]]
        .assert_eq(&pretty_format_batches(&[batch]).unwrap().to_string());
    }

    #[test]
    fn a_bad_value_names_its_column_and_leaves_earlier_rows_intact() {
        let mut builder = RowBatchBuilder::new("pob.stays", &sample_columns()[..3]);
        builder.push(&[Some("a"), Some("1"), Some("2.50")]).unwrap();
        let error = builder.push(&[Some("b"), Some("2"), Some("beaucoup")]).unwrap_err();
        assert_eq!(error.to_string(), "pob.stays.load_kw: `beaucoup` is not a valid decimal number");
        let error = builder.push(&[Some("c"), Some("99999999999"), Some("1")]).unwrap_err();
        assert_eq!(error.to_string(), "pob.stays.beds: `99999999999` is not a valid integer");
        let error = builder.push(&[Some("d")]).unwrap_err();
        assert_eq!(error.to_string(), "pob.stays: a row has 1 values for 3 columns");
        assert_eq!(builder.finish().unwrap().num_rows(), 1);
    }

    #[test]
    fn edge_values_map_faithfully_or_are_refused_with_the_reason() {
        let columns = [
            column("born", oid::DATE, -1),
            column("until", oid::TIMESTAMP, -1),
            column("ratio", oid::FLOAT8, -1),
            column("small", oid::FLOAT4, -1),
            column("loose", oid::NUMERIC, -1),
            column("counts", 1007, -1),
            column("limits", 1231, ((6 << 16) | 2) + 4),
            column("days", 1182, -1),
        ];
        let mut builder = RowBatchBuilder::new("lab.edges", &columns);
        let rows: [[Option<&str>; 8]; 3] = [
            [
                Some("0044-03-15 BC"),
                Some("infinity"),
                Some("NaN"),
                Some("-Infinity"),
                Some("NaN"),
                Some("{1,NULL,-3}"),
                Some("{1.50,NULL}"),
                Some("{2026-11-21,infinity}"),
            ],
            [
                Some("-infinity"),
                Some("-infinity"),
                Some("Infinity"),
                Some("1e-05"),
                Some("Infinity"),
                Some("{}"),
                None,
                None,
            ],
            [
                Some("10000-01-01"),
                Some("0044-03-15 12:00:00.5 BC"),
                Some("1e+300"),
                Some("3.4e+38"),
                Some("-1.5"),
                None,
                Some("{}"),
                Some("{}"),
            ],
        ];
        for row in &rows {
            builder.push(row).unwrap();
        }
        let batch = builder.finish().unwrap();
        let types: Vec<String> = batch.schema().fields().iter().map(|field| field.data_type().to_string()).collect();
        assert_eq!(
            types.join(", "),
            "Date32, Timestamp(µs), Float64, Float32, Utf8, List(Int32, field: 'element'), \
             List(Decimal128(6, 2), field: 'element'), List(Date32, field: 'element')"
        );
        // Raw values: ±infinity are the extremes of each type, as inside PostgreSQL.
        use opsflux_warehouse::arrow::array::{Array, AsArray, Date32Array, Float64Array, TimestampMicrosecondArray};
        use opsflux_warehouse::arrow::datatypes::Int32Type;
        let born: &Date32Array = batch.column(0).as_primitive();
        assert_eq!(born.values().to_vec(), [-735_160, pgtext::DATE_NEG_INFINITY, 2_932_897]);
        let until: &TimestampMicrosecondArray = batch.column(1).as_primitive();
        assert_eq!(
            until.values().to_vec(),
            [pgtext::TIMESTAMP_INFINITY, pgtext::TIMESTAMP_NEG_INFINITY, -63_517_780_799_500_000]
        );
        let ratio: &Float64Array = batch.column(2).as_primitive();
        assert!(ratio.value(0).is_nan() && ratio.value(1) == f64::INFINITY && ratio.value(2) == 1e300);
        assert_eq!(
            batch.column(4).as_string::<i32>().iter().collect::<Vec<_>>(),
            [Some("NaN"), Some("Infinity"), Some("-1.5")]
        );
        let counts = batch.column(5).as_list::<i32>();
        assert_eq!(counts.value(0).as_primitive::<Int32Type>().iter().collect::<Vec<_>>(), [Some(1), None, Some(-3)]);
        assert_eq!((counts.value(1).len(), counts.is_null(2)), (0, true));

        let refused = |value: &str, column: ColumnSpec| {
            let mut builder = RowBatchBuilder::new("lab.edges", &[column]);
            builder.push(&[Some(value)]).unwrap_err().to_string()
        };
        let decimal = column("limit", oid::NUMERIC, ((6 << 16) | 2) + 4);
        expect_test::expect![[r#"
            [
                "lab.edges.limit: `NaN` is not a valid decimal number (a decimal column cannot hold NaN: declare it as unconstrained numeric, kept as text, or double precision)",
                "lab.edges.until: `294276-12-31 23:59:59` is not a valid timestamp (outside the years the warehouse can store, 262144 BC to AD 262142)",
                "lab.edges.counts: `{{1,2},{3,4}}` is not a valid array (multi-dimensional arrays have no list form)",
                "lab.edges.counts: `{1,x}` is not a valid integer (element 2: `x`)",
                "lab.edges.limits: `{1.50,NaN}` is not a valid decimal number (element 2: `NaN`, a decimal column cannot hold NaN: declare it as unconstrained numeric, kept as text, or double precision)",
            ]
        "#]]
        .assert_debug_eq(&[
            refused("NaN", decimal),
            refused("294276-12-31 23:59:59", column("until", oid::TIMESTAMP, -1)),
            refused("{{1,2},{3,4}}", column("counts", 1007, -1)),
            refused("{1,x}", column("counts", 1007, -1)),
            refused("{1.50,NaN}", column("limits", 1231, ((6 << 16) | 2) + 4)),
        ]);
    }
}
