//! `GET /api/export`: a warehouse table or a metric result as Parquet, CSV, XLSX or
//! Arrow, streamed through a bounded channel from the export thread so memory stays
//! flat, with the caller's site scope applied and the export audited.

use std::io::Write;

use axum::body::{Body, Bytes};
use axum::extract::{Extension, Query, State};
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use opsflux_query::{ExportFormat, ExportSource, ParameterError};
use opsflux_warehouse::TableId;

use super::error::{ApiError, Problem};
use super::metrics::MetricParameters;
use super::{AppState, Caller};

#[derive(Debug, Default, serde::Deserialize)]
pub(crate) struct ExportParameters {
    /// A warehouse table, `schema.table`.
    table: Option<String>,
    /// A metric of the catalog.
    metric: Option<String>,
    /// parquet (default), csv, xlsx or arrow.
    format: Option<String>,
    #[serde(flatten)]
    metric_parameters: MetricParameters,
}

/// Bytes handed from the export thread to the response body, in chunks of about 64 KiB.
struct ChannelWriter {
    sender: tokio::sync::mpsc::Sender<Bytes>,
    buffer: Vec<u8>,
}

const CHUNK_BYTES: usize = 64 * 1024;

impl Write for ChannelWriter {
    fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
        self.buffer.extend_from_slice(bytes);
        if self.buffer.len() >= CHUNK_BYTES {
            self.flush()?;
        }
        Ok(bytes.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        if self.buffer.is_empty() {
            return Ok(());
        }
        let chunk = Bytes::from(std::mem::replace(&mut self.buffer, Vec::with_capacity(CHUNK_BYTES)));
        self.sender
            .blocking_send(chunk)
            .map_err(|_| std::io::Error::new(std::io::ErrorKind::BrokenPipe, "the client went away"))
    }
}

/// `GET /api/export?table=schema.table|metric=name&format=…`: streamed as it is written,
/// with the rows of the caller's sites only.
#[utoipa::path(get, path = "/api/export", tag = "exports",
    params(("table" = Option<String>, Query, description = "a warehouse table, `schema.table`"),
        ("metric" = Option<String>, Query, description = "a metric of the catalog"),
        ("format" = Option<String>, Query, description = "parquet (default), csv, xlsx or arrow"),
        MetricParameters),
    responses((status = 200, description = "the file, streamed", content(
            (Vec<u8> = "application/vnd.apache.parquet"), (String = "text/csv"),
            (Vec<u8> = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"),
            (Vec<u8> = "application/vnd.apache.arrow.file"))),
        (status = 503, description = "the export ran past its time limit", body = Problem, content_type = "application/problem+json"),
        (status = 400, body = Problem, content_type = "application/problem+json"), (status = 401, body = Problem, content_type = "application/problem+json"), (status = 403, body = Problem, content_type = "application/problem+json")))]
pub(crate) async fn export(
    State(state): State<AppState>,
    Extension(caller): Extension<Caller>,
    Query(parameters): Query<ExportParameters>,
) -> Result<Response, ApiError> {
    let format: ExportFormat =
        parameters.format.as_deref().unwrap_or("parquet").parse().map_err(|error| ApiError::bad_parameter(&error))?;
    let source = match (&parameters.table, &parameters.metric) {
        (Some(table), None) => ExportSource::Table(
            table
                .parse::<TableId>()
                .map_err(|_| ApiError::bad_parameter(&ParameterError::UnknownTable(table.clone())))?,
        ),
        (None, Some(metric)) => ExportSource::Metric {
            name: metric.clone(),
            request: parameters.metric_parameters.request().map_err(|error| ApiError::bad_parameter(&error))?,
        },
        _ => {
            return Err(ApiError::new(
                StatusCode::BAD_REQUEST,
                "Invalid parameter",
                "give exactly one of `table` (schema.table) or `metric`",
            )
            .with_parameter("table"));
        }
    };
    let checked = state.engine.check_export(&source, &caller.scope);
    let audit = crate::audit::Event {
        action: match &source {
            ExportSource::Table(_) => "export.table".to_owned(),
            ExportSource::Metric { .. } => "export.metric".to_owned(),
        },
        entity: source.name(),
        parameters: serde_json::json!({
            "format": format.extension(),
            "scope": caller.scope.describe(),
            "site": parameters.metric_parameters.site,
            "from": parameters.metric_parameters.from,
            "to": parameters.metric_parameters.to,
            "grain": parameters.metric_parameters.grain,
            "by": parameters.metric_parameters.by,
        }),
        result: match &checked {
            Ok(()) => "ok".to_owned(),
            Err(error) => error.to_string(),
        },
        warehouse: Some(serde_json::json!({ "pin": state.engine.pin().generation })),
        ..caller.audit_event()
    };
    state.audit(audit).await?;
    checked.map_err(|error| ApiError::from_query("export", error))?;
    let (sender, mut receiver) = tokio::sync::mpsc::channel::<Bytes>(4);
    let file_name = format!("{}.{}", source.name(), format.extension());
    let engine = state.engine.clone();
    let description = source.name();
    let scope = caller.scope.clone();
    tokio::spawn(async move {
        let sink = Box::new(ChannelWriter { sender, buffer: Vec::with_capacity(CHUNK_BYTES) });
        let headers = headers_for(&engine, &source, opsflux_render::Locale::default());
        match engine.export(source, format, sink, Box::new(|_| {}), headers, &scope).await {
            Ok(summary) => tracing::info!(export = %description, rows = summary.rows, "export sent"),
            Err(error) => tracing::warn!(export = %description, %error, "export stopped"),
        }
    });
    let body = futures::stream::poll_fn(move |context| {
        receiver.poll_recv(context).map(|chunk| chunk.map(Ok::<Bytes, std::io::Error>))
    });
    Ok((
        [
            (header::CONTENT_TYPE, format.media_type().to_owned()),
            (header::CONTENT_DISPOSITION, format!("attachment; filename=\"{file_name}\"")),
        ],
        Body::from_stream(body),
    )
        .into_response())
}

/// The XLSX header of each exported column, for people: a metric's measures by their
/// catalog labels, dimensions and known columns by their labels in `locale`, any other
/// column by its name.
pub fn headers_for(
    engine: &opsflux_query::Engine,
    source: &ExportSource,
    locale: opsflux_render::Locale,
) -> Box<dyn Fn(&str) -> String + Send + Sync> {
    let measures: std::collections::BTreeMap<String, String> = match source {
        ExportSource::Metric { name, .. } => engine
            .catalog()
            .metric(name)
            .map(|metric| metric.measures.iter().map(|measure| (measure.name.clone(), measure.label.clone())).collect())
            .unwrap_or_default(),
        ExportSource::Table(_) => std::collections::BTreeMap::new(),
    };
    Box::new(move |column: &str| {
        measures
            .get(column)
            .cloned()
            .or_else(|| opsflux_render::labels::column(locale, column).map(str::to_owned))
            .unwrap_or_else(|| column.to_owned())
    })
}
