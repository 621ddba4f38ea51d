//! Analyst exports: a warehouse table or a metric result streamed batch by batch into
//! Parquet (zstd), CSV, XLSX or Arrow IPC, so memory stays flat whatever the size.

use std::io::Write;
use std::str::FromStr;
use std::sync::Arc;

use futures::StreamExt;
use opsflux_warehouse::TableId;
use opsflux_warehouse::arrow::array::{Array, ArrayRef, AsArray, RecordBatch};
use opsflux_warehouse::arrow::compute::cast;
use opsflux_warehouse::arrow::datatypes::{
    DataType, Date32Type, Float64Type, Schema, TimeUnit, TimestampMicrosecondType,
};
use opsflux_warehouse::parquet::arrow::ArrowWriter;
use opsflux_warehouse::parquet::basic::{Compression, ZstdLevel};
use opsflux_warehouse::parquet::file::properties::WriterProperties;
use rust_xlsxwriter::{Format, Workbook};

use crate::engine::Engine;
use crate::metric::{MetricRequest, Resolved};
use crate::{ParameterError, QueryError, Scope};

/// The file formats analysts can ask for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ExportFormat {
    /// Parquet with zstd compression, row groups of 128k rows.
    Parquet,
    /// CSV with a header row, UTF-8, RFC 3339 timestamps.
    Csv,
    /// An Excel workbook with typed cells; a table past Excel's row limit continues on
    /// further sheets.
    Xlsx,
    /// Arrow IPC file format (Feather v2).
    Arrow,
}

impl ExportFormat {
    pub fn extension(self) -> &'static str {
        match self {
            ExportFormat::Parquet => "parquet",
            ExportFormat::Csv => "csv",
            ExportFormat::Xlsx => "xlsx",
            ExportFormat::Arrow => "arrow",
        }
    }

    pub fn media_type(self) -> &'static str {
        match self {
            ExportFormat::Parquet => "application/vnd.apache.parquet",
            ExportFormat::Csv => "text/csv; charset=utf-8",
            ExportFormat::Xlsx => "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
            ExportFormat::Arrow => "application/vnd.apache.arrow.file",
        }
    }
}

impl FromStr for ExportFormat {
    type Err = ParameterError;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        match text {
            "parquet" => Ok(ExportFormat::Parquet),
            "csv" => Ok(ExportFormat::Csv),
            "xlsx" => Ok(ExportFormat::Xlsx),
            "arrow" | "ipc" | "feather" => Ok(ExportFormat::Arrow),
            other => Err(ParameterError::UnknownFormat(other.to_owned())),
        }
    }
}

/// What to export.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ExportSource {
    /// Every current row of a warehouse table, as pinned.
    Table(TableId),
    /// A metric's result rows.
    Metric { name: String, request: MetricRequest },
}

impl ExportSource {
    /// A name for the sheet or the downloaded file.
    pub fn name(&self) -> String {
        match self {
            ExportSource::Table(table) => table.to_string(),
            ExportSource::Metric { name, .. } => name.clone(),
        }
    }
}

/// What an export wrote.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ExportSummary {
    pub rows: u64,
    /// The engine pin the rows come from.
    pub pin: u64,
}

/// Rows per Excel sheet, the header row aside.
const XLSX_ROWS_PER_SHEET: u32 = 1_048_575;
/// Rows per Parquet row group: what the writer buffers before flushing.
const PARQUET_ROW_GROUP: usize = 128 * 1024;

impl Engine {
    /// Checks an export request (table or metric, sites, dates) against the current
    /// pin before anything is written, so a bad request leaves no partial file.
    pub fn check_export(&self, source: &ExportSource, scope: &Scope) -> Result<(), QueryError> {
        let pin = self.pin();
        match source {
            ExportSource::Table(table) if !pin.tables.contains_key(table) || !crate::scope::is_queryable(table) => {
                Err(ParameterError::UnknownTable(table.to_string()).into())
            }
            ExportSource::Table(_) => Ok(()),
            ExportSource::Metric { name, request } => {
                let metric = self.catalog().metric(name).ok_or_else(|| ParameterError::UnknownMetric(name.clone()))?;
                pin.check_sites(&request.sites, scope)?;
                Resolved::new(metric, request, |site| pin.sites.contains(site))?;
                Ok(())
            }
        }
    }

    /// Streams the source's rows, as a reader of `scope` sees them, into `sink` in
    /// `format`. `headers` names each column for people (the XLSX header row); the
    /// formats for machines keep the column names. Batches are written as they come off the plan, on a blocking thread of
    /// the query runtime; `progress` is called with the rows written so far. Past the
    /// export time limit the export stops.
    pub async fn export(
        &self,
        source: ExportSource,
        format: ExportFormat,
        sink: Box<dyn Write + Send>,
        progress: Box<dyn Fn(u64) + Send>,
        headers: Box<dyn Fn(&str) -> String + Send + Sync>,
        scope: &Scope,
    ) -> Result<ExportSummary, QueryError> {
        self.check_export(&source, scope)?;
        let engine = self.clone();
        let scope = scope.clone();
        let limit = self.settings().export_timeout;
        let deadline = std::time::Instant::now() + limit;
        self.run_for(limit, async move {
            let pin = engine.pin();
            let frame = match &source {
                ExportSource::Table(table) => pin.table(table, &scope).await?,
                ExportSource::Metric { name, request } => pin.sql(&engine.metric_sql(name, request)?, &scope).await?,
            };
            let stream =
                frame.execute_stream().await.map_err(QueryError::execution(format!("exporting {}", source.name())))?;
            let handle = tokio::runtime::Handle::current();
            let sheet = source.name();
            let rows = tokio::task::spawn_blocking(move || {
                let mut stream = stream;
                let schema = stream.schema();
                let titles: Vec<String> = schema.fields().iter().map(|field| headers(field.name())).collect();
                let mut writer = FormatWriter::new(format, sink, &schema, &sheet, titles)?;
                let mut rows = 0u64;
                while let Some(batch) = handle.block_on(stream.next()) {
                    if std::time::Instant::now() > deadline {
                        return Err(QueryError::Timeout { seconds: limit.as_secs_f64() });
                    }
                    let batch = batch.map_err(QueryError::execution(format!("exporting {sheet}")))?;
                    writer.write(&batch)?;
                    rows += batch.num_rows() as u64;
                    progress(rows);
                }
                writer.finish()?;
                Ok::<_, QueryError>(rows)
            })
            .await
            .map_err(|error| QueryError::Runtime(error.to_string()))??;
            Ok(ExportSummary { rows, pin: pin.generation })
        })
        .await
    }
}

fn export_error(error: impl std::fmt::Display) -> QueryError {
    QueryError::Export(error.to_string())
}

enum FormatWriter {
    Parquet(ArrowWriter<Box<dyn Write + Send>>),
    Csv(opsflux_warehouse::arrow::csv::Writer<Box<dyn Write + Send>>),
    Arrow(opsflux_warehouse::arrow::ipc::writer::FileWriter<Box<dyn Write + Send>>),
    Xlsx(Box<XlsxWriter>),
}

impl FormatWriter {
    fn new(
        format: ExportFormat,
        sink: Box<dyn Write + Send>,
        schema: &Arc<Schema>,
        name: &str,
        titles: Vec<String>,
    ) -> Result<Self, QueryError> {
        Ok(match format {
            ExportFormat::Parquet => {
                let properties = WriterProperties::builder()
                    .set_compression(Compression::ZSTD(ZstdLevel::default()))
                    .set_max_row_group_row_count(Some(PARQUET_ROW_GROUP))
                    .build();
                FormatWriter::Parquet(
                    ArrowWriter::try_new(sink, schema.clone(), Some(properties)).map_err(export_error)?,
                )
            }
            ExportFormat::Csv => {
                FormatWriter::Csv(opsflux_warehouse::arrow::csv::WriterBuilder::new().with_header(true).build(sink))
            }
            ExportFormat::Arrow => FormatWriter::Arrow(
                opsflux_warehouse::arrow::ipc::writer::FileWriter::try_new(sink, schema).map_err(export_error)?,
            ),
            ExportFormat::Xlsx => FormatWriter::Xlsx(Box::new(XlsxWriter::new(sink, schema, name, titles)?)),
        })
    }

    fn write(&mut self, batch: &RecordBatch) -> Result<(), QueryError> {
        match self {
            FormatWriter::Parquet(writer) => writer.write(batch).map_err(export_error),
            FormatWriter::Csv(writer) => writer.write(batch).map_err(export_error),
            FormatWriter::Arrow(writer) => writer.write(batch).map_err(export_error),
            FormatWriter::Xlsx(writer) => writer.write(batch),
        }
    }

    fn finish(self) -> Result<(), QueryError> {
        match self {
            FormatWriter::Parquet(writer) => {
                let mut sink = writer.into_inner().map_err(export_error)?;
                sink.flush().map_err(export_error)
            }
            FormatWriter::Csv(writer) => writer.into_inner().flush().map_err(export_error),
            FormatWriter::Arrow(mut writer) => {
                writer.finish().map_err(export_error)?;
                writer.into_inner().map_err(export_error)?.flush().map_err(export_error)
            }
            FormatWriter::Xlsx(writer) => writer.finish(),
        }
    }
}

/// How a column's values become Excel cells.
#[derive(Debug, Clone, Copy)]
enum CellKind {
    Number,
    Boolean,
    /// Days since 1970-01-01, written as an Excel date serial.
    Date,
    /// Microseconds since the epoch (UTC), written as an Excel date-time serial.
    Timestamp,
    Text,
}

/// Excel's serial for 1970-01-01 (day 0 of Unix time).
const EXCEL_UNIX_EPOCH: f64 = 25_569.0;

struct XlsxWriter {
    sink: Box<dyn Write + Send>,
    workbook: Workbook,
    name: String,
    header: Vec<String>,
    kinds: Vec<CellKind>,
    formats: Vec<Format>,
    sheets: usize,
    /// The next row to write in the current sheet (0 is the header).
    row: u32,
}

impl XlsxWriter {
    fn new(sink: Box<dyn Write + Send>, schema: &Schema, name: &str, titles: Vec<String>) -> Result<Self, QueryError> {
        let mut kinds = Vec::new();
        let mut formats = Vec::new();
        for field in schema.fields() {
            let (kind, format) = match field.data_type() {
                DataType::Boolean => (CellKind::Boolean, Format::new()),
                DataType::Date32 | DataType::Date64 => (CellKind::Date, Format::new().set_num_format("yyyy-mm-dd")),
                DataType::Timestamp(_, _) => (CellKind::Timestamp, Format::new().set_num_format("yyyy-mm-dd hh:mm:ss")),
                DataType::Decimal128(_, scale) | DataType::Decimal256(_, scale) if *scale > 0 => {
                    let decimals = "0".repeat(usize::try_from(*scale).unwrap_or(2).min(10));
                    (CellKind::Number, Format::new().set_num_format(format!("#,##0.{decimals}")))
                }
                data_type
                    if data_type.is_integer()
                        || matches!(data_type, DataType::Decimal128(..) | DataType::Decimal256(..)) =>
                {
                    (CellKind::Number, Format::new().set_num_format("0"))
                }
                data_type if data_type.is_floating() => (CellKind::Number, Format::new().set_num_format("#,##0.00")),
                _ => (CellKind::Text, Format::new()),
            };
            kinds.push(kind);
            formats.push(format);
        }
        let mut writer = Self {
            sink,
            workbook: Workbook::new(),
            name: sheet_name(name),
            header: titles,
            kinds,
            formats,
            sheets: 0,
            row: 0,
        };
        writer.new_sheet()?;
        Ok(writer)
    }

    fn new_sheet(&mut self) -> Result<(), QueryError> {
        self.sheets += 1;
        let name = if self.sheets == 1 { self.name.clone() } else { format!("{} ({})", self.name, self.sheets) };
        let bold = Format::new().set_bold();
        let header = self.header.clone();
        let sheet = self.workbook.add_worksheet_with_constant_memory().map_err(export_error)?;
        sheet.set_name(name).map_err(export_error)?;
        for (column, title) in header.iter().enumerate() {
            let column = u16::try_from(column).map_err(|_| QueryError::Export("more than 16,384 columns".into()))?;
            sheet.write_string_with_format(0, column, title, &bold).map_err(export_error)?;
        }
        self.row = 1;
        Ok(())
    }

    fn write(&mut self, batch: &RecordBatch) -> Result<(), QueryError> {
        let columns: Vec<ArrayRef> = batch
            .columns()
            .iter()
            .zip(&self.kinds)
            .map(|(array, kind)| {
                let target = match kind {
                    CellKind::Number => DataType::Float64,
                    CellKind::Boolean => DataType::Boolean,
                    CellKind::Date => DataType::Date32,
                    CellKind::Timestamp => DataType::Timestamp(TimeUnit::Microsecond, None),
                    CellKind::Text => DataType::Utf8,
                };
                let plain = match array.data_type() {
                    DataType::Timestamp(unit, Some(_)) => cast(array, &DataType::Timestamp(*unit, None)),
                    _ => Ok(array.clone()),
                };
                plain.and_then(|plain| cast(&plain, &target)).map_err(export_error)
            })
            .collect::<Result<_, _>>()?;
        for index in 0..batch.num_rows() {
            if self.row > XLSX_ROWS_PER_SHEET {
                self.new_sheet()?;
            }
            let row = self.row;
            let sheet = self.workbook.worksheet_from_index(self.sheets - 1).map_err(export_error)?;
            for (column_index, (array, kind)) in columns.iter().zip(&self.kinds).enumerate() {
                if array.is_null(index) {
                    continue;
                }
                let column = column_index as u16;
                let format = &self.formats[column_index];
                let written = match kind {
                    CellKind::Number => {
                        let value = array.as_primitive::<Float64Type>().value(index);
                        if value.is_finite() {
                            sheet.write_number_with_format(row, column, value, format).map(|_| ())
                        } else {
                            Ok(())
                        }
                    }
                    CellKind::Boolean => sheet.write_boolean(row, column, array.as_boolean().value(index)).map(|_| ()),
                    CellKind::Date => {
                        let days = f64::from(array.as_primitive::<Date32Type>().value(index));
                        sheet.write_number_with_format(row, column, days + EXCEL_UNIX_EPOCH, format).map(|_| ())
                    }
                    CellKind::Timestamp => {
                        let micros = array.as_primitive::<TimestampMicrosecondType>().value(index) as f64;
                        let serial = micros / 86_400_000_000.0 + EXCEL_UNIX_EPOCH;
                        sheet.write_number_with_format(row, column, serial, format).map(|_| ())
                    }
                    CellKind::Text => {
                        sheet.write_string(row, column, array.as_string::<i32>().value(index)).map(|_| ())
                    }
                };
                written.map_err(|error| {
                    QueryError::Export(format!("row {row}, column {}: {error}", self.header[column_index]))
                })?;
            }
            self.row += 1;
        }
        Ok(())
    }

    fn finish(mut self) -> Result<(), QueryError> {
        self.workbook.save_to_writer(&mut self.sink).map_err(export_error)?;
        self.sink.flush().map_err(export_error)
    }
}

/// Excel sheet names: at most 31 characters, none of `[]:*?/\`.
fn sheet_name(name: &str) -> String {
    let cleaned: String = name.chars().map(|c| if "[]:*?/\\".contains(c) { '_' } else { c }).collect();
    cleaned.chars().take(26).collect()
}
