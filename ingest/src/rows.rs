//! PostgreSQL rows in text form (from `pgoutput` or `COPY ... TO STDOUT`) turned into
//! typed Arrow batches for the warehouse, column types chosen from PostgreSQL's.
//!
//! Types without a Delta Lake counterpart (uuid, json, arrays, time, interval,
//! unconstrained numeric) are kept as their text form, which every reader understands.
//! The session is expected to use `DateStyle = ISO` and `TimeZone = UTC`.

use std::sync::Arc;

use chrono::{DateTime, NaiveDate, NaiveDateTime};
use opsflux_warehouse::arrow::array::{
    ArrayRef, BinaryBuilder, BooleanBuilder, Date32Builder, Decimal128Builder, Float32Builder, Float64Builder,
    Int16Builder, Int32Builder, Int64Builder, StringBuilder, TimestampMicrosecondBuilder,
};
use opsflux_warehouse::arrow::compute::kernels::cast_utils::parse_decimal;
use opsflux_warehouse::arrow::datatypes::{DataType, Decimal128Type, Field, Schema, SchemaRef, TimeUnit};
use opsflux_warehouse::arrow::error::ArrowError;
use opsflux_warehouse::arrow::record_batch::RecordBatch;

/// A value that does not fit its column's type.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ConvertError {
    #[error("{table}.{column}: `{value}` is not a valid {expected}")]
    BadValue { table: String, column: String, value: String, expected: &'static str },
    #[error("{table}: a row has {found} values for {expected} columns")]
    WrongWidth { table: String, found: usize, expected: usize },
    #[error("{table}: building the Arrow batch failed: {message}")]
    Arrow { table: String, message: String },
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
    pub const FLOAT4: u32 = 700;
    pub const FLOAT8: u32 = 701;
    pub const DATE: u32 = 1082;
    pub const TIMESTAMP: u32 = 1114;
    pub const TIMESTAMPTZ: u32 = 1184;
    pub const NUMERIC: u32 = 1700;
}

/// The Arrow type a PostgreSQL column is stored as.
pub fn arrow_type(column: &ColumnSpec) -> DataType {
    match column.type_oid {
        oid::BOOL => DataType::Boolean,
        oid::BYTEA => DataType::Binary,
        oid::INT2 => DataType::Int16,
        oid::INT4 => DataType::Int32,
        oid::INT8 => DataType::Int64,
        oid::FLOAT4 => DataType::Float32,
        oid::FLOAT8 => DataType::Float64,
        oid::DATE => DataType::Date32,
        oid::TIMESTAMP => DataType::Timestamp(TimeUnit::Microsecond, None),
        oid::TIMESTAMPTZ => DataType::Timestamp(TimeUnit::Microsecond, Some("UTC".into())),
        oid::NUMERIC => match numeric_precision_scale(column.type_modifier) {
            Some((precision, scale)) => DataType::Decimal128(precision, scale),
            None => DataType::Utf8,
        },
        _ => DataType::Utf8,
    }
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
    Timestamp(TimestampMicrosecondBuilder, bool),
    Decimal(Decimal128Builder, u8, i8),
    Text(StringBuilder),
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
}

/// Accumulates rows of one table into an Arrow batch. A row that fails to convert is
/// refused whole; the rows before it are kept.
pub struct RowBatchBuilder {
    table: String,
    columns: Vec<ColumnSpec>,
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
        let schema = arrow_schema(columns);
        let builders = schema.fields().iter().map(|field| new_builder(field.data_type())).collect();
        Self { table: table.to_owned(), columns: columns.to_vec(), schema, builders, rows: 0 }
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
        for ((value, builder), column) in values.iter().zip(&self.builders).zip(&self.columns) {
            let Some(text) = value else {
                parsed.push(Parsed::Null);
                continue;
            };
            let bad = |expected: &'static str| ConvertError::BadValue {
                table: self.table.clone(),
                column: column.name.clone(),
                value: text.chars().take(80).collect(),
                expected,
            };
            parsed.push(match builder {
                Builder::Boolean(_) => match *text {
                    "t" | "true" => Parsed::Boolean(true),
                    "f" | "false" => Parsed::Boolean(false),
                    _ => return Err(bad("boolean")),
                },
                Builder::Binary(_) => Parsed::Binary(decode_bytea(text).ok_or_else(|| bad("bytea in hex form"))?),
                // Narrow types are parsed at their width, so an out-of-range value is
                // refused here, before any column of the row has been appended.
                Builder::Int16(_) => Parsed::Integer(text.parse::<i16>().map_err(|_| bad("smallint"))?.into()),
                Builder::Int32(_) => Parsed::Integer(text.parse::<i32>().map_err(|_| bad("integer"))?.into()),
                Builder::Int64(_) => Parsed::Integer(text.parse().map_err(|_| bad("bigint"))?),
                Builder::Float32(_) | Builder::Float64(_) => Parsed::Float(text.parse().map_err(|_| bad("number"))?),
                Builder::Date(_) => Parsed::Date(parse_date(text).ok_or_else(|| bad("date"))?),
                Builder::Timestamp(_, with_zone) => {
                    Parsed::Micros(parse_timestamp(text, *with_zone).ok_or_else(|| bad("timestamp"))?)
                }
                Builder::Decimal(_, precision, scale) => Parsed::Decimal(
                    parse_decimal::<Decimal128Type>(text, *precision, *scale).map_err(|_| bad("decimal number"))?,
                ),
                Builder::Text(_) => Parsed::Text((*text).to_owned()),
            });
        }
        for ((parsed, builder), column) in parsed.into_iter().zip(&mut self.builders).zip(&self.columns) {
            append(builder, parsed).map_err(|expected| ConvertError::BadValue {
                table: self.table.clone(),
                column: column.name.clone(),
                value: String::new(),
                expected,
            })?;
        }
        self.rows += 1;
        Ok(())
    }

    /// The rows so far as a batch; the builder is empty afterwards.
    pub fn finish(&mut self) -> Result<RecordBatch, ConvertError> {
        let arrays: Vec<ArrayRef> = self.builders.iter_mut().map(finish_builder).collect();
        self.rows = 0;
        RecordBatch::try_new(Arc::clone(&self.schema), arrays)
            .map_err(|error: ArrowError| ConvertError::Arrow { table: self.table.clone(), message: error.to_string() })
    }
}

fn new_builder(data_type: &DataType) -> Builder {
    match data_type {
        DataType::Boolean => Builder::Boolean(BooleanBuilder::new()),
        DataType::Binary => Builder::Binary(BinaryBuilder::new()),
        DataType::Int16 => Builder::Int16(Int16Builder::new()),
        DataType::Int32 => Builder::Int32(Int32Builder::new()),
        DataType::Int64 => Builder::Int64(Int64Builder::new()),
        DataType::Float32 => Builder::Float32(Float32Builder::new()),
        DataType::Float64 => Builder::Float64(Float64Builder::new()),
        DataType::Date32 => Builder::Date(Date32Builder::new()),
        DataType::Timestamp(_, zone) => {
            Builder::Timestamp(TimestampMicrosecondBuilder::new().with_timezone_opt(zone.clone()), zone.is_some())
        }
        DataType::Decimal128(precision, scale) => Builder::Decimal(
            Decimal128Builder::new().with_precision_and_scale(*precision, *scale).unwrap_or_default(),
            *precision,
            *scale,
        ),
        _ => Builder::Text(StringBuilder::new()),
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
        (Builder::Timestamp(builder, _), Parsed::Null) => builder.append_null(),
        (Builder::Timestamp(builder, _), Parsed::Micros(value)) => builder.append_value(value),
        (Builder::Decimal(builder, _, _), Parsed::Null) => builder.append_null(),
        (Builder::Decimal(builder, _, _), Parsed::Decimal(value)) => builder.append_value(value),
        (Builder::Text(builder), Parsed::Null) => builder.append_null(),
        (Builder::Text(builder), Parsed::Text(value)) => builder.append_value(value),
        // Each builder only ever receives the kind `push` parsed for it.
        _ => return Err("value of the column's type"),
    }
    Ok(())
}

fn finish_builder(builder: &mut Builder) -> ArrayRef {
    match builder {
        Builder::Boolean(builder) => Arc::new(builder.finish()),
        Builder::Binary(builder) => Arc::new(builder.finish()),
        Builder::Int16(builder) => Arc::new(builder.finish()),
        Builder::Int32(builder) => Arc::new(builder.finish()),
        Builder::Int64(builder) => Arc::new(builder.finish()),
        Builder::Float32(builder) => Arc::new(builder.finish()),
        Builder::Float64(builder) => Arc::new(builder.finish()),
        Builder::Date(builder) => Arc::new(builder.finish()),
        Builder::Timestamp(builder, _) => Arc::new(builder.finish()),
        Builder::Decimal(builder, _, _) => Arc::new(builder.finish()),
        Builder::Text(builder) => Arc::new(builder.finish()),
    }
}

/// Days since 1970-01-01.
fn parse_date(text: &str) -> Option<i32> {
    let date = NaiveDate::parse_from_str(text, "%Y-%m-%d").ok()?;
    i32::try_from(date.signed_duration_since(NaiveDate::from_ymd_opt(1970, 1, 1)?).num_days()).ok()
}

/// Microseconds since the Unix epoch. PostgreSQL's `infinity` values become the
/// extremes of the range, which sort and compare the same way.
fn parse_timestamp(text: &str, with_zone: bool) -> Option<i64> {
    match text {
        "infinity" => return Some(i64::MAX),
        "-infinity" => return Some(i64::MIN),
        _ => {}
    }
    if with_zone {
        DateTime::parse_from_str(text, "%Y-%m-%d %H:%M:%S%.f%#z").ok().map(|moment| moment.timestamp_micros())
    } else {
        NaiveDateTime::parse_from_str(text, "%Y-%m-%d %H:%M:%S%.f")
            .ok()
            .map(|moment| moment.and_utc().timestamp_micros())
    }
}

/// `\x0aff` → bytes.
fn decode_bytea(text: &str) -> Option<Vec<u8>> {
    let hex = text.strip_prefix("\\x")?;
    if hex.len() % 2 != 0 {
        return None;
    }
    (0..hex.len()).step_by(2).map(|index| u8::from_str_radix(hex.get(index..index + 2)?, 16).ok()).collect()
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
            "Utf8, Int32, Decimal128(6, 2), Boolean, Date32, Timestamp(µs, \"UTC\"), Float64, Binary, Utf8"
        );
        expect_test::expect![[r#"
            +--------------------------------------+------+---------+---------+------------+--------------------------+----------+-------+-----------+
            | id                                   | beds | load_kw | on_site | arrival    | read_at                  | kw       | photo | tags      |
            +--------------------------------------+------+---------+---------+------------+--------------------------+----------+-------+-----------+
            | 5f0c7a9e-0000-4000-8000-000000000001 | 140  | 1234.56 | true    | 2026-11-21 | 2026-11-21T06:15:00.250Z | 6439.875 | 0aff  | {a,"b c"} |
            | 5f0c7a9e-0000-4000-8000-000000000002 |      |         |         |            |                          |          |       |           |
            +--------------------------------------+------+---------+---------+------------+--------------------------+----------+-------+-----------+"#]]
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
}
