//! The HTTP server: dashboards (server-rendered HTML with SVG charts), the metric API,
//! exports, and the table overview. Errors leave as `application/problem+json`.

use std::io::Write;

use axum::body::{Body, Bytes};
use axum::extract::{Path, Query, State};
use axum::http::{StatusCode, header};
use axum::response::{Html, IntoResponse, Response};
use axum::routing::get;
use axum::{Json, Router};
use opsflux_query::{Engine, ExportFormat, ExportSource, MetricRequest, ParameterError, QueryError};
use opsflux_warehouse::TableId;
use sqlx::PgPool;

/// What every handler can reach.
#[derive(Debug, Clone)]
pub struct AppState {
    /// The operational database, when serving alongside it (none: warehouse only).
    pub pool: Option<PgPool>,
    /// Shown on pages: where the data comes from (`host:port/database` or the warehouse).
    pub source: String,
    pub engine: Engine,
}

/// An error as an RFC 9457 problem document. Internal details are logged, not sent.
#[derive(Debug)]
pub struct ApiError {
    status: StatusCode,
    title: &'static str,
    detail: String,
    /// The query parameter at fault, as an extension member.
    parameter: Option<&'static str>,
    /// For documents: the block at fault and the JSON pointer of the member.
    block: Option<String>,
    pointer: Option<String>,
}

impl ApiError {
    pub(crate) fn internal(context: &str, error: &dyn std::error::Error) -> Self {
        tracing::error!(%error, "{context}");
        Self {
            status: StatusCode::INTERNAL_SERVER_ERROR,
            title: "Internal error",
            detail: format!("{context}; the server log has the details"),
            parameter: None,
            block: None,
            pointer: None,
        }
    }

    pub(crate) fn bad_parameter(error: &ParameterError) -> Self {
        Self {
            status: StatusCode::BAD_REQUEST,
            title: "Invalid parameter",
            detail: error.to_string(),
            parameter: Some(error.parameter()),
            block: None,
            pointer: None,
        }
    }

    fn not_found(detail: String) -> Self {
        Self { status: StatusCode::NOT_FOUND, title: "Not found", detail, parameter: None, block: None, pointer: None }
    }

    fn from_render(error: crate::documents::RenderError) -> Self {
        if !error.is_bad_input() {
            return Self::internal("rendering the document failed", &error);
        }
        Self {
            status: StatusCode::BAD_REQUEST,
            title: "Invalid document",
            detail: error.to_string(),
            parameter: match &error {
                crate::documents::RenderError::UnknownTemplate(_) => Some("template"),
                crate::documents::RenderError::Document(opsflux_render::DocumentError::Parameter { .. }) => {
                    Some("parameters")
                }
                _ => None,
            },
            block: error.block().map(str::to_owned),
            pointer: error.pointer().map(str::to_owned),
        }
    }

    fn bad_body(detail: String, pointer: Option<String>) -> Self {
        Self {
            status: StatusCode::BAD_REQUEST,
            title: "Invalid request body",
            detail,
            parameter: None,
            block: None,
            pointer,
        }
    }

    pub(crate) fn from_query(context: &str, error: QueryError) -> Self {
        match error {
            QueryError::Parameter(parameter) => Self::bad_parameter(&parameter),
            other => Self::internal(context, &other),
        }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let mut body = serde_json::json!({
            "type": "about:blank",
            "title": self.title,
            "status": self.status.as_u16(),
            "detail": self.detail,
        });
        if let Some(parameter) = self.parameter {
            body["parameter"] = parameter.into();
        }
        if let Some(block) = self.block {
            body["block"] = block.into();
        }
        if let Some(pointer) = self.pointer {
            body["pointer"] = pointer.into();
        }
        (self.status, [(header::CONTENT_TYPE, "application/problem+json")], body.to_string()).into_response()
    }
}

pub fn router(state: AppState) -> Router {
    let mut router = Router::new();
    for page in crate::dashboards::PAGES {
        router = router.route(page.path, get(crate::dashboards::page_handler));
    }
    router
        .route("/tables", get(tables_page))
        .route("/api/tables", get(tables_json))
        .route("/api/sites", get(sites_json))
        .route("/api/metrics", get(metrics_json))
        .route("/api/metrics/{name}", get(metric_json))
        .route("/api/export", get(export))
        .route("/api/render", axum::routing::post(render_document))
        .route("/documents", get(documents_page))
        .route("/documents/render", get(document_download))
        .route("/healthz", get(|| async { "ok" }))
        .fallback(|| async { ApiError::not_found("no such page or endpoint".to_owned()) })
        .with_state(state)
}

/// `POST /api/render`: `{"template": "weekly-site-report"}` or `{"document": {...}}`,
/// with `"parameters": {"site": "ALPHA", "period": "2026-W46"}` and `"format"` (pdf by
/// default). Answers the file; `X-OpsFlux-Warehouse` names the versions it read.
async fn render_document(State(state): State<AppState>, body: Bytes) -> Result<Response, ApiError> {
    let request: serde_json::Value = serde_json::from_slice(&body).map_err(|error| {
        ApiError::bad_body(
            format!("the body is not JSON (line {}, column {}): {error}", error.line(), error.column()),
            None,
        )
    })?;
    let text = |member: &str| -> Result<Option<String>, ApiError> {
        match request.get(member) {
            None | Some(serde_json::Value::Null) => Ok(None),
            Some(serde_json::Value::String(text)) => Ok(Some(text.clone())),
            Some(_) => Err(ApiError::bad_body(format!("`{member}` must be a string"), Some(format!("/{member}")))),
        }
    };
    let format_text = text("format")?.unwrap_or_else(|| "pdf".to_owned());
    let format: opsflux_render::OutputFormat =
        format_text.parse().map_err(|error: String| ApiError::bad_body(error, Some("/format".into())))?;
    let (name, document) = match (text("template")?, request.get("document")) {
        (Some(name), None) => (name.clone(), crate::documents::template(&name).map_err(ApiError::from_render)?),
        (None, Some(document)) => {
            let document = opsflux_render::Document::from_json(&document.to_string())
                .map_err(|error| ApiError::from_render(error.into()))?;
            ("document".to_owned(), document)
        }
        _ => return Err(ApiError::bad_body("give either `template` or `document`".into(), None)),
    };
    let mut parameters = std::collections::BTreeMap::new();
    match request.get("parameters") {
        None | Some(serde_json::Value::Null) => {}
        Some(serde_json::Value::Object(map)) => {
            for (key, value) in map {
                let value = value.as_str().ok_or_else(|| {
                    ApiError::bad_body(
                        format!("parameter `{key}` must be a string"),
                        Some(format!("/parameters/{key}")),
                    )
                })?;
                parameters.insert(key.clone(), value.to_owned());
            }
        }
        Some(_) => return Err(ApiError::bad_body("`parameters` must be an object".into(), Some("/parameters".into()))),
    }
    rendered_response(&state, &name, document, &parameters, format, false).await
}

/// Renders `document` as of today and answers the file, as an attachment (or inline
/// for the HTML preview), with the warehouse versions read in `X-OpsFlux-Warehouse`.
async fn rendered_response(
    state: &AppState,
    name: &str,
    document: opsflux_render::Document,
    parameters: &std::collections::BTreeMap<String, String>,
    format: opsflux_render::OutputFormat,
    inline: bool,
) -> Result<Response, ApiError> {
    let today = chrono::Utc::now().date_naive();
    let (bytes, bound) = crate::documents::render(&state.engine, document, parameters, format, today)
        .await
        .map_err(ApiError::from_render)?;
    let disposition =
        if inline { "inline".to_owned() } else { format!("attachment; filename=\"{name}.{}\"", format.extension()) };
    let mut response =
        ([(header::CONTENT_TYPE, format.media_type().to_owned()), (header::CONTENT_DISPOSITION, disposition)], bytes)
            .into_response();
    if let Ok(value) = header::HeaderValue::from_str(&bound.warehouse_line()) {
        response.headers_mut().insert("x-opsflux-warehouse", value);
    }
    Ok(response)
}

/// The reports page: each shipped template with a form choosing site, period, locale
/// and format; the HTML preview opens in the browser, other formats download.
async fn documents_page(State(state): State<AppState>) -> Html<String> {
    let pin = state.engine.pin();
    let mut sites = String::from("<option value=\"\">Tous les sites</option>");
    for site in &pin.sites {
        sites.push_str(&format!("<option value=\"{0}\">{0}</option>", escape(site)));
    }
    let mut body = String::from("<div class=\"grid\">");
    for (name, _) in crate::documents::TEMPLATES {
        let Ok(document) = crate::documents::template(name) else { continue };
        let title = document.settings.get("title").and_then(|title| title.as_str()).unwrap_or(name);
        let monthly = document.settings.to_string().contains("\"kind\":\"month\"");
        let (period_label, period_hint) = if monthly {
            ("Mois", "2026-10 (défaut : le dernier mois complet)")
        } else {
            ("Semaine", "2026-W46 (défaut : la dernière semaine complète)")
        };
        body.push_str(&format!(
            "<section id=\"template-{name}\"><h2>{}</h2><form method=\"get\" action=\"/documents/render\" class=\"filters\">\
             <input type=\"hidden\" name=\"template\" value=\"{name}\">\
             <label>Site <select name=\"site\">{sites}</select></label>\
             <label>{period_label} <input name=\"period\" placeholder=\"{period_hint}\" size=\"32\"></label>\
             <label>Langue <select name=\"locale\"><option>fr-FR</option><option>en-GB</option><option>en-US</option></select></label>\
             <label>Format <select name=\"format\"><option value=\"html\">Aperçu HTML</option><option value=\"pdf\">PDF</option><option value=\"docx\">Word</option><option value=\"xlsx\">Excel</option></select></label>\
             <button type=\"submit\">Générer</button></form></section>",
            escape(title)
        ));
    }
    body.push_str("</div>");
    Html(crate::dashboards::layout("/documents", "Rapports", "", &body))
}

/// `GET /documents/render?template=&site=&period=&locale=&format=`: the form's target.
async fn document_download(
    State(state): State<AppState>,
    Query(query): Query<std::collections::BTreeMap<String, String>>,
) -> Result<Response, ApiError> {
    let mut parameters = query;
    let name = parameters.remove("template").unwrap_or_default();
    let format_text = parameters.remove("format").unwrap_or_else(|| "html".to_owned());
    let format: opsflux_render::OutputFormat =
        format_text.parse().map_err(|error: String| ApiError::bad_body(error, Some("/format".into())))?;
    parameters.retain(|_, value| !value.trim().is_empty());
    let document = crate::documents::template(&name).map_err(ApiError::from_render)?;
    let inline = format == opsflux_render::OutputFormat::Html;
    rendered_response(&state, &name, document, &parameters, format, inline).await
}

/// Query parameters shared by metric answers, pages and exports.
#[derive(Debug, Default, serde::Deserialize)]
pub struct MetricParameters {
    pub site: Option<String>,
    pub from: Option<String>,
    pub to: Option<String>,
    pub grain: Option<String>,
    pub by: Option<String>,
}

impl MetricParameters {
    pub fn request(&self) -> Result<MetricRequest, ParameterError> {
        MetricRequest::from_text(
            self.site.as_deref(),
            self.from.as_deref(),
            self.to.as_deref(),
            self.grain.as_deref(),
            self.by.as_deref(),
            chrono::Utc::now().date_naive(),
        )
    }
}

async fn metrics_json(State(state): State<AppState>) -> Json<serde_json::Value> {
    let metrics: Vec<serde_json::Value> = state
        .engine
        .catalog()
        .metrics()
        .map(|metric| {
            serde_json::json!({
                "name": metric.name,
                "title": metric.title,
                "description": metric.description,
                "unit": metric.unit,
                "chart": metric.chart,
                "grain": metric.grain,
                "dimensions": std::iter::once("site").chain(metric.dimensions.iter().map(String::as_str)).collect::<Vec<_>>(),
                "required": metric.required,
                "default_by": metric.default_by,
                "measures": metric.measures,
                "href": format!("/api/metrics/{}", metric.name),
            })
        })
        .collect();
    Json(serde_json::json!({ "metrics": metrics }))
}

async fn metric_json(
    State(state): State<AppState>,
    Path(name): Path<String>,
    Query(parameters): Query<MetricParameters>,
) -> Result<Json<serde_json::Value>, ApiError> {
    let request = parameters.request().map_err(|error| ApiError::bad_parameter(&error))?;
    let result = state.engine.metric(&name, &request).await.map_err(|error| ApiError::from_query("metric", error))?;
    serde_json::to_value(&*result).map(Json).map_err(|error| ApiError::internal("serializing a metric", &error))
}

async fn sites_json(State(state): State<AppState>) -> Json<serde_json::Value> {
    let pin = state.engine.pin();
    Json(serde_json::json!({ "sites": pin.sites, "pin": pin.generation }))
}

#[derive(Debug, Default, serde::Deserialize)]
struct ExportParameters {
    table: Option<String>,
    metric: Option<String>,
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

/// `GET /api/export?table=schema.table|metric=name&format=…`: streamed as it is written.
async fn export(
    State(state): State<AppState>,
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
            return Err(ApiError {
                status: StatusCode::BAD_REQUEST,
                title: "Invalid parameter",
                detail: "give exactly one of `table` (schema.table) or `metric`".into(),
                parameter: Some("table"),
                block: None,
                pointer: None,
            });
        }
    };
    state.engine.check_export(&source).map_err(|error| ApiError::from_query("export", error))?;
    let (sender, mut receiver) = tokio::sync::mpsc::channel::<Bytes>(4);
    let file_name = format!("{}.{}", source.name(), format.extension());
    let engine = state.engine.clone();
    let description = source.name();
    tokio::spawn(async move {
        let sink = Box::new(ChannelWriter { sender, buffer: Vec::with_capacity(CHUNK_BYTES) });
        match engine.export(source, format, sink, Box::new(|_| {})).await {
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

/// Row counts: of the operational database when connected, else of the warehouse.
async fn counts(state: &AppState) -> Result<Vec<(String, i64)>, ApiError> {
    match &state.pool {
        Some(pool) => crate::database::table_row_counts(pool)
            .await
            .map_err(|error| ApiError::internal("counting rows failed", &error)),
        None => {
            let warehouse = state.engine.warehouse();
            let tables = warehouse.tables().map_err(|error| ApiError::internal("listing tables failed", &error))?;
            let mut counts = Vec::new();
            for table in tables {
                let rows = match warehouse.describe(&table).await {
                    Ok(Some(info)) => info.rows as i64,
                    Ok(None) => 0,
                    Err(error) => return Err(ApiError::internal("reading a table failed", &error)),
                };
                counts.push((table.to_string(), rows));
            }
            Ok(counts)
        }
    }
}

async fn tables_json(State(state): State<AppState>) -> Result<Json<serde_json::Value>, ApiError> {
    let tables = counts(&state).await?;
    Ok(Json(serde_json::json!({
        "source": state.source,
        "tables": tables.iter().map(|(name, rows)| serde_json::json!({"table": name, "rows": rows})).collect::<Vec<_>>(),
    })))
}

/// Modules in the order a site manager reads them, with the schema that holds each.
const MODULES: &[(&str, &str)] = &[
    ("core", "Sites"),
    ("pob", "POBVue — personnel à bord"),
    ("travel", "TravelWiz — transport"),
    ("moc", "MOCVue — gestion des modifications"),
    ("cleanvue", "CleanVue — 5S"),
    ("hse", "HSE — incidents"),
    ("projects", "Projets"),
    ("powertrace", "PowerTrace — énergie"),
    ("organizer", "Organizer — ressources"),
    ("tiers", "Tiers — entreprises et contacts"),
    ("redacteur", "Rédacteur — documents"),
    ("platform", "Plateforme — utilisateurs, rôles, audit, planifications"),
];

async fn tables_page(State(state): State<AppState>) -> Result<Html<String>, ApiError> {
    let tables = counts(&state).await?;
    let total: i64 = tables.iter().map(|(_, rows)| rows).sum();
    let mut sections = String::new();
    for (schema, title) in MODULES {
        let prefix = format!("{schema}.");
        let rows: Vec<&(String, i64)> = tables.iter().filter(|(name, _)| name.starts_with(&prefix)).collect();
        if rows.is_empty() {
            continue;
        }
        sections.push_str(&format!(
            "<section><h2>{}</h2><table><thead><tr><th>Table</th><th class=\"n\">Lignes</th></tr></thead><tbody>",
            escape(title)
        ));
        for (name, count) in rows {
            sections.push_str(&format!(
                "<tr><td><code>{}</code></td><td class=\"n\" data-table=\"{}\">{}</td></tr>",
                escape(name),
                escape(name),
                group_thousands(*count)
            ));
        }
        sections.push_str("</tbody></table></section>");
    }
    let body = if total == 0 {
        "<p class=\"empty\">La base ne contient encore aucune donnée. Chargez un jeu d'essai avec <code>opsflux sample-data</code> ou importez une liste de charges avec <code>opsflux import</code>.</p>".to_owned()
    } else {
        format!("<div class=\"grid\">{sections}</div>")
    };
    let header = format!(
        "<p>Source : <code>{}</code> · {} tables · <strong id=\"total\">{}</strong> lignes</p>",
        escape(&state.source),
        tables.len(),
        group_thousands(total)
    );
    Ok(Html(crate::dashboards::layout("/tables", "Tables et lignes", &header, &body)))
}

/// `1234567` → `1 234 567` (French grouping with narrow no-break spaces).
pub fn group_thousands(value: i64) -> String {
    // Row counts stay far below 2^53, where f64 would start to round.
    opsflux_render::Locale::FrFr.format_number(value as f64, 0)
}

pub(crate) fn escape(text: &str) -> String {
    text.replace('&', "&amp;").replace('<', "&lt;").replace('>', "&gt;").replace('"', "&quot;")
}

#[cfg(test)]
mod tests {
    #[test]
    fn thousands_are_grouped_the_french_way() {
        let grouped: Vec<String> = [0, 999, 1000, 1_234_567, -45_000].into_iter().map(super::group_thousands).collect();
        assert_eq!(grouped, ["0", "999", "1\u{202f}000", "1\u{202f}234\u{202f}567", "-45\u{202f}000"]);
    }
}
