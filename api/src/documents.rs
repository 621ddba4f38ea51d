//! Rédacteur documents in the service: the shipped templates, the binding of a
//! document's data blocks to the query engine (metrics of the catalog, read-only
//! queries, tasks, timelines, company cards, PowerTrace scenarios and forecasts), and
//! rendering off the request runtime.

use std::collections::BTreeMap;

use crate::document_store;
use crate::powertrace::{PowerTraceError, blocks};
use chrono::NaiveDate;
use opsflux_query::{
    Cell, ColumnKind, ColumnRole, Engine, Format, MetricRequest, MetricResult, QueryError, QueryRows, Scope,
};
use opsflux_render::{
    Binding, BoundDocument, DataColumn, DataRequest, DataTable, Document, DocumentError, OutputFormat, Renderer,
    SiteInfo, Value, ValueFormat,
};

/// The templates shipped in `templates/`, built into the binary.
pub const TEMPLATES: [(&str, &str); 6] = [
    ("weekly-site-report", include_str!("../../templates/weekly-site-report.json")),
    ("powertrace-monthly", include_str!("../../templates/powertrace-monthly.json")),
    ("moc-dossier", include_str!("../../templates/moc-dossier.json")),
    ("5s-audit", include_str!("../../templates/5s-audit.json")),
    ("project-progress", include_str!("../../templates/project-progress.json")),
    ("powertrace-scenario", include_str!("../../templates/powertrace-scenario.json")),
];

/// Images templates may name (`"logo": "logo.svg"`).
pub(crate) fn assets() -> BTreeMap<String, Vec<u8>> {
    BTreeMap::from([("logo.svg".to_owned(), include_bytes!("../../templates/assets/logo.svg").to_vec())])
}

/// Most rows a read-only query, a task list or a timeline may bring into a document.
const ROW_LIMIT: usize = 5_000;

/// Why a document could not be rendered.
#[derive(Debug, thiserror::Error)]
pub enum RenderError {
    #[error(
        "unknown template `{0}`: expected one of weekly-site-report, powertrace-monthly, moc-dossier, 5s-audit, project-progress, powertrace-scenario"
    )]
    UnknownTemplate(String),
    /// A stored template of that code has no published version, or was deleted.
    #[error("template `{0}` is not published: publish a version of it first (`POST /api/documents/{{id}}/review`)")]
    UnpublishedTemplate(String),
    #[error(transparent)]
    Document(#[from] DocumentError),
    /// A data block's request was refused or failed; names the block and member.
    #[error("block `{block}` at {pointer}: {message}")]
    Data { block: String, pointer: String, message: String, internal: bool },
    #[error("the renderer stopped unexpectedly: {0}")]
    Runtime(String),
    /// Every render slot stayed busy for the queue's whole wait.
    #[error("the server is busy rendering other documents: try again in a moment")]
    Busy,
    /// The document took longer than the render time limit and was stopped.
    #[error("the document took longer than {seconds} s to render and was stopped")]
    TimedOut { seconds: u64 },
}

/// How many renders run at once and how long each may take.
#[derive(Debug)]
pub struct RenderLimits {
    pub permits: tokio::sync::Semaphore,
    /// How long a render waits for a free slot before it is refused (503).
    pub queue_wait: std::time::Duration,
    /// Binding and rendering together; past it the render is stopped.
    pub timeout: std::time::Duration,
    /// The program that renders documents holding Typst snippets in a process of their
    /// own (`opsflux render-worker`), killed at the time limit: a snippet is code, and
    /// only a process can be stopped mid-loop. Without one they render in-process.
    pub worker: Option<std::path::PathBuf>,
}

impl Default for RenderLimits {
    fn default() -> Self {
        Self::new(2, std::time::Duration::from_secs(60), None)
    }
}

impl RenderLimits {
    pub fn new(concurrent: usize, timeout: std::time::Duration, worker: Option<std::path::PathBuf>) -> Self {
        Self {
            permits: tokio::sync::Semaphore::new(concurrent.max(1)),
            queue_wait: std::time::Duration::from_secs(10),
            timeout,
            worker,
        }
    }
}

impl RenderError {
    /// The block the error is about.
    pub fn block(&self) -> Option<&str> {
        match self {
            RenderError::Document(error) => error.block(),
            RenderError::Data { block, .. } => Some(block),
            _ => None,
        }
    }

    /// The JSON pointer the error is about.
    pub fn pointer(&self) -> Option<&str> {
        match self {
            RenderError::Document(error) => error.pointer(),
            RenderError::Data { pointer, .. } => Some(pointer),
            _ => None,
        }
    }

    /// Whether the caller's input is at fault (a 400), rather than the service.
    pub fn is_bad_input(&self) -> bool {
        match self {
            RenderError::UnknownTemplate(_) | RenderError::UnpublishedTemplate(_) => true,
            RenderError::Document(DocumentError::Writer { .. }) => false,
            RenderError::Document(_) => true,
            RenderError::Data { internal, .. } => !internal,
            RenderError::Runtime(_) | RenderError::Busy => false,
            RenderError::TimedOut { .. } => true,
        }
    }
}

/// A shipped template's document.
pub fn template(name: &str) -> Result<Document, RenderError> {
    let (_, text) = TEMPLATES
        .iter()
        .find(|(known, _)| *known == name)
        .ok_or_else(|| RenderError::UnknownTemplate(name.to_owned()))?;
    Ok(Document::from_json(text)?)
}

/// The template the reports page and schedules render under `name`: with a database,
/// the published version of the stored template of that code, or the shipped one when
/// the database holds no template of that code; without one, the shipped template.
pub async fn offered_template(pool: Option<&sqlx::PgPool>, name: &str) -> Result<Document, RenderError> {
    let Some(pool) = pool else { return template(name) };
    let offered = document_store::offered(pool, name)
        .await
        .map_err(|error| RenderError::Runtime(format!("reading template {name}: {error}")))?;
    match offered {
        document_store::Offered::Published { source, .. } => Ok(Document::from_json(&source)?),
        document_store::Offered::Withheld => Err(RenderError::UnpublishedTemplate(name.to_owned())),
        document_store::Offered::Unknown => template(name),
    }
}

/// Every template offered (see [`offered_template`]): `(code, title)`, by code.
pub async fn offered_templates(pool: Option<&sqlx::PgPool>) -> Result<Vec<(String, String)>, RenderError> {
    let shipped_title = |text: &str| {
        Document::from_json(text)
            .ok()
            .and_then(|document| document.settings.get("title").and_then(|title| title.as_str()).map(str::to_owned))
    };
    let mut offered = Vec::new();
    if let Some(pool) = pool {
        let failed = |error: document_store::StoreError| RenderError::Runtime(format!("listing templates: {error}"));
        offered = document_store::published_templates(pool).await.map_err(failed)?;
        for (name, text) in TEMPLATES {
            if !offered.iter().any(|(code, _)| code == name)
                && document_store::offered(pool, name).await.map_err(failed)? == document_store::Offered::Unknown
            {
                offered.push((name.to_owned(), shipped_title(text).unwrap_or_else(|| name.to_owned())));
            }
        }
    } else {
        for (name, text) in TEMPLATES {
            offered.push((name.to_owned(), shipped_title(text).unwrap_or_else(|| name.to_owned())));
        }
    }
    // The shipped templates first, in their usual order, then the others by code.
    let rank = |code: &str| TEMPLATES.iter().position(|(name, _)| *name == code).unwrap_or(TEMPLATES.len());
    offered.sort_by(|(a, _), (b, _)| rank(a).cmp(&rank(b)).then_with(|| a.cmp(b)));
    Ok(offered)
}

/// Binds `document` to the engine's current pin: answers every data request, then
/// expands the document. The result records the warehouse versions it read.
pub async fn bind(
    engine: &Engine,
    document: Document,
    parameters: &BTreeMap<String, String>,
    today: NaiveDate,
    scope: &Scope,
) -> Result<BoundDocument, RenderError> {
    let sites = sites(engine, scope).await;
    let mut binding = Binding::new(document, parameters, sites, assets(), today)?;
    let mut answered = blocks::Answered::default();
    loop {
        let pending = binding.pending()?;
        if pending.is_empty() {
            break;
        }
        for request in pending {
            let table = answer(engine, &request.request, scope, &mut answered)
                .await
                .map_err(|error| data_error(&request, error))?;
            binding.answer(request.request, table);
        }
    }
    Ok(binding.finish()?)
}

/// Binds (as a reader of `scope`) and renders in one go, within `limits`: a free
/// render slot, and the time limit over both steps. Rendering runs on the blocking
/// pool, or in a worker process when the document holds Typst snippets.
pub async fn render(
    engine: &Engine,
    document: Document,
    parameters: &BTreeMap<String, String>,
    format: OutputFormat,
    today: NaiveDate,
    scope: &Scope,
    limits: &RenderLimits,
) -> Result<(Vec<u8>, BoundDocument), RenderError> {
    let _permit = tokio::time::timeout(limits.queue_wait, limits.permits.acquire())
        .await
        .map_err(|_| RenderError::Busy)?
        .map_err(|error| RenderError::Runtime(error.to_string()))?;
    let has_snippets = serde_json::to_string(&document).is_ok_and(|text| text.contains("\"type\":\"typst\""));
    let work = async {
        let bound = bind(engine, document, parameters, today, scope).await?;
        match (&limits.worker, has_snippets) {
            (Some(worker), true) => render_in_worker(worker, &bound, format).await.map(|bytes| (bytes, bound)),
            _ => tokio::task::spawn_blocking(move || {
                Renderer::shared().render(&bound, format).map(|bytes| (bytes, bound))
            })
            .await
            .map_err(|error| RenderError::Runtime(error.to_string()))?
            .map_err(RenderError::from),
        }
    };
    tokio::time::timeout(limits.timeout, work)
        .await
        .map_err(|_| RenderError::TimedOut { seconds: limits.timeout.as_secs() })?
}

/// Renders a bound document in `worker render-worker --format F`: the bound document
/// in on standard input, the file out on standard output. The process is killed when
/// this future is dropped (the time limit).
async fn render_in_worker(
    worker: &std::path::Path,
    bound: &BoundDocument,
    format: OutputFormat,
) -> Result<Vec<u8>, RenderError> {
    use tokio::io::AsyncWriteExt as _;
    let input = serde_json::to_vec(bound).map_err(|error| RenderError::Runtime(error.to_string()))?;
    let mut child = tokio::process::Command::new(worker)
        .arg("render-worker")
        .arg("--format")
        .arg(format.extension())
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .map_err(|error| {
            RenderError::Runtime(format!("cannot start the render worker {}: {error}", worker.display()))
        })?;
    let mut stdin = child.stdin.take().ok_or_else(|| RenderError::Runtime("the worker has no input".into()))?;
    stdin.write_all(&input).await.map_err(|error| RenderError::Runtime(error.to_string()))?;
    drop(stdin);
    let output = child.wait_with_output().await.map_err(|error| RenderError::Runtime(error.to_string()))?;
    if output.status.success() {
        return Ok(output.stdout);
    }
    match serde_json::from_slice::<WorkerError>(&output.stderr) {
        Ok(WorkerError { block, message, typst: true }) => {
            Err(RenderError::Document(DocumentError::Typst { block, message }))
        }
        Ok(WorkerError { message, .. }) => Err(RenderError::Runtime(message)),
        Err(_) => Err(RenderError::Runtime(format!("the render worker failed ({})", output.status))),
    }
}

/// What a render worker reports on standard error when it fails.
#[derive(Debug, serde::Serialize, serde::Deserialize)]
pub struct WorkerError {
    pub block: Option<String>,
    pub message: String,
    /// A Typst error (the author's), rather than a failure of the worker.
    pub typst: bool,
}

/// The worker's side: reads a bound document on standard input and writes the file
/// on standard output. Returns the error to report, if any.
pub fn run_worker(format: OutputFormat) -> Result<(), WorkerError> {
    use std::io::{Read as _, Write as _};
    let failed = |message: String| WorkerError { block: None, message, typst: false };
    let mut input = Vec::new();
    std::io::stdin().read_to_end(&mut input).map_err(|error| failed(error.to_string()))?;
    let bound: BoundDocument = serde_json::from_slice(&input).map_err(|error| failed(error.to_string()))?;
    let bytes = Renderer::shared().render(&bound, format).map_err(|error| match error {
        DocumentError::Typst { block, message } => WorkerError { block, message, typst: true },
        other => failed(other.to_string()),
    })?;
    std::io::stdout().write_all(&bytes).map_err(|error| failed(error.to_string()))
}

/// Why a data block's request could not be answered.
#[derive(Debug)]
enum DataFailure {
    Query(QueryError),
    PowerTrace(PowerTraceError),
}

impl From<QueryError> for DataFailure {
    fn from(error: QueryError) -> Self {
        DataFailure::Query(error)
    }
}

impl From<PowerTraceError> for DataFailure {
    fn from(error: PowerTraceError) -> Self {
        match error {
            PowerTraceError::Query(error) => DataFailure::Query(error),
            other => DataFailure::PowerTrace(other),
        }
    }
}

/// The member of the block a query error is about, and whether it is the service's
/// fault (logged, not shown) rather than the author's.
fn query_member(pending: &opsflux_render::Pending, error: &QueryError) -> (&'static str, bool) {
    match error {
        QueryError::Parameter(parameter) => (
            match parameter.parameter() {
                "metric" => "/data/metric",
                "site" => "/data/site",
                "by" => "/data/by",
                "grain" => "/data/grain",
                _ => "/data",
            },
            false,
        ),
        QueryError::Execution { .. } | QueryError::TooManyRows { .. } | QueryError::Timeout { .. } => {
            match pending.request {
                DataRequest::Query { .. } => ("/data/query", false),
                _ => ("/data", true),
            }
        }
        _ => ("/data", true),
    }
}

/// The same for a PowerTrace error.
fn powertrace_member(error: &PowerTraceError) -> (&'static str, bool) {
    use opsflux_powertrace::forecast::ForecastError;
    match error {
        PowerTraceError::UnknownSite { .. } => ("/data/site", false),
        PowerTraceError::UnknownSwitchboard { .. } => ("/data/switchboard", false),
        PowerTraceError::NoReadings(_) => ("/data", false),
        PowerTraceError::UnknownScenario { .. }
        | PowerTraceError::AmbiguousScenario { .. }
        | PowerTraceError::Item(_) => ("/data/scenario", false),
        PowerTraceError::Forecast(ForecastError::Horizon(_)) => ("/data/horizon", false),
        PowerTraceError::Forecast(ForecastError::Frame(_)) => ("/data", true),
        PowerTraceError::Forecast(_) => ("/data", false),
        PowerTraceError::Plant(opsflux_powertrace::PowerError::Column { .. }) => ("/data", true),
        PowerTraceError::Plant(_) => ("/data/site", false),
        _ => ("/data", true),
    }
}

fn data_error(pending: &opsflux_render::Pending, error: DataFailure) -> RenderError {
    let ((member, internal), message) = match &error {
        DataFailure::Query(query) => (query_member(pending, query), query.to_string()),
        DataFailure::PowerTrace(PowerTraceError::Busy(_)) => return RenderError::Busy,
        DataFailure::PowerTrace(powertrace) => (powertrace_member(powertrace), powertrace.to_string()),
    };
    if internal {
        tracing::error!(error = %message, block = %pending.block, "a document's data request failed");
    }
    RenderError::Data {
        block: pending.block.clone(),
        pointer: format!("{}{member}", pending.pointer),
        message,
        internal,
    }
}

async fn sites(engine: &Engine, scope: &Scope) -> Vec<SiteInfo> {
    let sql = "SELECT code, name, latitude, longitude FROM core.sites WHERE deleted_at IS NULL ORDER BY code";
    let degrees = |cell: Option<&Cell>| match cell {
        Some(Cell::Number(number)) => Some(*number),
        _ => None,
    };
    match engine.query(sql, &[], ROW_LIMIT, scope).await {
        Ok(rows) => rows
            .rows
            .iter()
            .filter_map(|row| match (row.first(), row.get(1)) {
                (Some(Cell::Text(code)), Some(Cell::Text(name))) => Some(SiteInfo {
                    code: code.clone(),
                    name: name.clone(),
                    latitude: degrees(row.get(2)),
                    longitude: degrees(row.get(3)),
                }),
                _ => None,
            })
            .collect(),
        // A warehouse without sites yet: documents still render, over no site.
        Err(error) => {
            tracing::warn!(%error, "no sites to bind documents to");
            Vec::new()
        }
    }
}

/// `AND s.code IN ($n, …)` for the sites asked, with their codes as parameters.
fn site_filter(sites: &[String], parameters: &mut Vec<String>) -> String {
    if sites.is_empty() {
        return String::new();
    }
    let placeholders: Vec<String> = sites.iter().map(|site| parameter(site, parameters)).collect();
    format!(" AND s.code IN ({})", placeholders.join(", "))
}

/// Adds a bound parameter and returns its placeholder.
fn parameter(value: &str, parameters: &mut Vec<String>) -> String {
    parameters.push(value.to_owned());
    format!("CAST(${} AS VARCHAR)", parameters.len())
}

async fn answer(
    engine: &Engine,
    request: &DataRequest,
    scope: &Scope,
    answered: &mut blocks::Answered,
) -> Result<DataTable, DataFailure> {
    let query =
        |sql: String, parameters: Vec<String>| async move { engine.query(&sql, &parameters, ROW_LIMIT, scope).await };
    match request {
        DataRequest::Metric { metric, sites, from, to, grain, by } => {
            let grain = grain.as_deref().map(str::parse).transpose().map_err(QueryError::from)?;
            let request = MetricRequest { sites: sites.clone(), from: *from, to: *to, grain, by: by.clone() };
            let result = engine.metric(metric, &request, scope).await?;
            Ok(metric_table(&result))
        }
        DataRequest::Query { sql, parameters } => Ok(table(query(sql.clone(), parameters.clone()).await?)),
        DataRequest::Tasks { sites, project, status } => {
            let mut sql = "SELECT p.code AS project, t.name AS task, t.status AS status, t.start_date AS start, \
                 t.due_date AS due, t.percent_complete AS percent \
                 FROM projects.tasks t JOIN projects.projects p ON p.id = t.project_id \
                 JOIN core.sites s ON s.id = p.site_id WHERE t.deleted_at IS NULL"
                .to_owned();
            let mut parameters = Vec::new();
            sql.push_str(&site_filter(sites, &mut parameters));
            if let Some(project) = project {
                sql.push_str(&format!(" AND p.code = {}", parameter(project, &mut parameters)));
            }
            if !status.is_empty() {
                let list: Vec<String> = status.iter().map(|status| parameter(status, &mut parameters)).collect();
                sql.push_str(&format!(" AND t.status IN ({})", list.join(", ")));
            }
            sql.push_str(" ORDER BY t.due_date, p.code, t.name");
            Ok(table(query(sql, parameters).await?))
        }
        DataRequest::Timeline { sites, project } => {
            let mut parameters = Vec::new();
            let sql = match project {
                Some(project) => format!(
                    "SELECT t.name AS label, t.start_date AS start, t.due_date AS \"end\", t.percent_complete AS percent, \
                     t.status AS status FROM projects.tasks t JOIN projects.projects p ON p.id = t.project_id \
                     JOIN core.sites s ON s.id = p.site_id WHERE t.deleted_at IS NULL AND t.status <> 'cancelled' \
                     AND p.code = {}{} \
                     ORDER BY t.start_date, t.name",
                    parameter(project, &mut parameters),
                    site_filter(sites, &mut parameters)
                ),
                None => format!(
                    "SELECT p.code || ' ' || p.name AS label, p.start_date AS start, \
                     COALESCE(p.actual_end_date, p.planned_end_date) AS \"end\", progress.percent AS percent, \
                     p.status AS status FROM projects.projects p JOIN core.sites s ON s.id = p.site_id \
                     LEFT JOIN (SELECT project_id, avg(percent_complete) AS percent FROM projects.tasks \
                     WHERE deleted_at IS NULL GROUP BY project_id) progress ON progress.project_id = p.id \
                     WHERE p.deleted_at IS NULL AND p.status IN ('planned', 'active', 'on_hold'){} \
                     ORDER BY p.start_date, p.code",
                    site_filter(sites, &mut parameters)
                ),
            };
            Ok(table(query(sql, parameters).await?))
        }
        DataRequest::Planning { sites, from, to, show } => {
            let mut parameters = Vec::new();
            let (from, to) = (from.to_string(), to.to_string());
            let mut parts = Vec::new();
            if show.iter().any(|kind| kind == "reservations") {
                parts.push(format!(
                    "SELECT o.code || ' ' || o.name || COALESCE(' — ' || r.purpose, '') AS label, 'reservation' AS kind, \
                     CAST(r.starts_at AS DATE) AS start, CAST(r.ends_at - INTERVAL '1 second' AS DATE) AS \"end\", \
                     s.code AS site \
                     FROM organizer.reservations r JOIN organizer.resources o ON o.id = r.resource_id \
                     JOIN core.sites s ON s.id = o.site_id \
                     WHERE r.deleted_at IS NULL AND o.deleted_at IS NULL AND r.status <> 'cancelled' \
                     AND CAST(r.starts_at AS DATE) <= CAST({} AS DATE) \
                     AND CAST(r.ends_at - INTERVAL '1 second' AS DATE) >= CAST({} AS DATE){}",
                    parameter(&to, &mut parameters),
                    parameter(&from, &mut parameters),
                    site_filter(sites, &mut parameters)
                ));
            }
            if show.iter().any(|kind| kind == "milestones") {
                parts.push(format!(
                    "SELECT p.code || ' — ' || m.name AS label, 'milestone' AS kind, m.due_date AS start, \
                     m.due_date AS \"end\", s.code AS site FROM projects.milestones m \
                     JOIN projects.projects p ON p.id = m.project_id JOIN core.sites s ON s.id = p.site_id \
                     WHERE m.deleted_at IS NULL AND p.deleted_at IS NULL \
                     AND m.due_date BETWEEN CAST({} AS DATE) AND CAST({} AS DATE){}",
                    parameter(&from, &mut parameters),
                    parameter(&to, &mut parameters),
                    site_filter(sites, &mut parameters)
                ));
            }
            let sql = format!("SELECT * FROM ({}) AS planning ORDER BY start, label", parts.join(" UNION ALL "));
            Ok(table(query(sql, parameters).await?))
        }
        DataRequest::Scenario { site, scenario, view } => {
            Ok(blocks::scenario_table(engine, scope, answered, site, scenario, view).await?)
        }
        DataRequest::Forecast { site, switchboard, horizon, scenario } => Ok(blocks::forecast_table(
            engine,
            scope,
            answered,
            site,
            switchboard.as_deref(),
            horizon,
            scenario.as_deref(),
        )
        .await?),
        DataRequest::Company { name } => {
            let mut parameters = Vec::new();
            let sql = format!(
                "SELECT c.name AS company, c.kind AS kind, c.city AS city, c.country AS country, \
                 ct.first_name || ' ' || ct.last_name AS contact, ct.job_title AS job_title, ct.email AS email, \
                 ct.phone AS phone FROM tiers.companies c LEFT JOIN tiers.contacts ct \
                 ON ct.company_id = c.id AND ct.deleted_at IS NULL \
                 WHERE c.deleted_at IS NULL AND c.name = {} ORDER BY contact",
                parameter(name, &mut parameters)
            );
            Ok(table(query(sql, parameters).await?))
        }
    }
}

/// A metric's result as the renderer's data table, each measure with its catalog format:
/// the one conversion documents and dashboards share, so both format alike.
pub fn metric_table(result: &MetricResult) -> DataTable {
    DataTable {
        columns: result
            .columns
            .iter()
            .map(|column| DataColumn {
                name: column.name.clone(),
                label: column.label.clone(),
                format: match (column.role, column.format) {
                    (ColumnRole::Period, _) => ValueFormat::Date,
                    (ColumnRole::Dimension, _) | (_, None) => ValueFormat::Text,
                    (ColumnRole::Measure, Some(Format::Integer)) => ValueFormat::Integer,
                    (ColumnRole::Measure, Some(Format::Decimal)) => ValueFormat::Decimal,
                    (ColumnRole::Measure, Some(Format::Percent)) => ValueFormat::Percent,
                    (ColumnRole::Measure, Some(Format::Ratio)) => ValueFormat::Ratio,
                    (ColumnRole::Measure, Some(Format::Currency)) => ValueFormat::Currency,
                },
            })
            .collect(),
        rows: result.rows.iter().map(|row| row.iter().map(value).collect()).collect(),
        warehouse: result.warehouse.clone(),
    }
}

fn value(cell: &Cell) -> Value {
    match cell {
        Cell::Null => Value::Null,
        Cell::Number(number) => Value::Number(*number),
        Cell::Text(text) => Value::Text(text.clone()),
        Cell::Date(date) => Value::Date(*date),
    }
}

fn table(rows: QueryRows) -> DataTable {
    DataTable {
        columns: rows
            .columns
            .iter()
            .map(|(name, kind)| DataColumn {
                name: name.clone(),
                label: name.replace('_', " "),
                format: match kind {
                    ColumnKind::Number => ValueFormat::Decimal,
                    ColumnKind::Date => ValueFormat::Date,
                    ColumnKind::Text => ValueFormat::Text,
                },
            })
            .collect(),
        rows: rows.rows.iter().map(|row| row.iter().map(value).collect()).collect(),
        warehouse: rows.warehouse,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_shipped_template_is_a_valid_document() {
        for (name, _) in TEMPLATES {
            let document = template(name).unwrap_or_else(|error| panic!("{name}: {error}"));
            assert!(!document.blocks.is_empty(), "{name}");
        }
        assert!(matches!(template("monthly"), Err(RenderError::UnknownTemplate(_))));
    }
}
