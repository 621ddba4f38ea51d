//! Rédacteur documents in the service: the shipped templates, the binding of a
//! document's data blocks to the query engine (metrics of the catalog, read-only
//! queries, tasks, timelines and company cards), and rendering off the request runtime.

use std::collections::BTreeMap;

use chrono::NaiveDate;
use opsflux_query::{Cell, ColumnKind, ColumnRole, Engine, Format, MetricRequest, QueryError, QueryRows};
use opsflux_render::{
    Binding, BoundDocument, DataColumn, DataRequest, DataTable, Document, DocumentError, OutputFormat, Renderer,
    SiteInfo, Value, ValueFormat,
};

/// The templates shipped in `templates/`, built into the binary.
pub const TEMPLATES: [(&str, &str); 5] = [
    ("weekly-site-report", include_str!("../../templates/weekly-site-report.json")),
    ("powertrace-monthly", include_str!("../../templates/powertrace-monthly.json")),
    ("moc-dossier", include_str!("../../templates/moc-dossier.json")),
    ("5s-audit", include_str!("../../templates/5s-audit.json")),
    ("project-progress", include_str!("../../templates/project-progress.json")),
];

/// Images templates may name (`"logo": "logo.svg"`).
fn assets() -> BTreeMap<String, Vec<u8>> {
    BTreeMap::from([("logo.svg".to_owned(), include_bytes!("../../templates/assets/logo.svg").to_vec())])
}

/// Most rows a read-only query, a task list or a timeline may bring into a document.
const ROW_LIMIT: usize = 5_000;

/// Why a document could not be rendered.
#[derive(Debug, thiserror::Error)]
pub enum RenderError {
    #[error(
        "unknown template `{0}`: expected one of weekly-site-report, powertrace-monthly, moc-dossier, 5s-audit, project-progress"
    )]
    UnknownTemplate(String),
    #[error(transparent)]
    Document(#[from] DocumentError),
    /// A data block's request was refused or failed; names the block and member.
    #[error("block `{block}` at {pointer}: {message}")]
    Data { block: String, pointer: String, message: String, internal: bool },
    #[error("the renderer stopped unexpectedly: {0}")]
    Runtime(String),
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
            RenderError::UnknownTemplate(_) => true,
            RenderError::Document(DocumentError::Writer { .. }) => false,
            RenderError::Document(_) => true,
            RenderError::Data { internal, .. } => !internal,
            RenderError::Runtime(_) => false,
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

/// Binds `document` to the engine's current pin: answers every data request, then
/// expands the document. The result records the warehouse versions it read.
pub async fn bind(
    engine: &Engine,
    document: Document,
    parameters: &BTreeMap<String, String>,
    today: NaiveDate,
) -> Result<BoundDocument, RenderError> {
    let sites = sites(engine).await;
    let mut binding = Binding::new(document, parameters, sites, assets(), today)?;
    loop {
        let pending = binding.pending()?;
        if pending.is_empty() {
            break;
        }
        for request in pending {
            let table = answer(engine, &request.request).await.map_err(|error| data_error(&request, error))?;
            binding.answer(request.request, table);
        }
    }
    Ok(binding.finish()?)
}

/// Binds and renders in one go; the rendering runs on the blocking pool.
pub async fn render(
    engine: &Engine,
    document: Document,
    parameters: &BTreeMap<String, String>,
    format: OutputFormat,
    today: NaiveDate,
) -> Result<(Vec<u8>, BoundDocument), RenderError> {
    let bound = bind(engine, document, parameters, today).await?;
    tokio::task::spawn_blocking(move || Renderer::shared().render(&bound, format).map(|bytes| (bytes, bound)))
        .await
        .map_err(|error| RenderError::Runtime(error.to_string()))?
        .map_err(RenderError::from)
}

fn data_error(pending: &opsflux_render::Pending, error: QueryError) -> RenderError {
    let (member, internal) = match &error {
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
        QueryError::Execution { .. } | QueryError::TooManyRows { .. } => match pending.request {
            DataRequest::Query { .. } => ("/data/query", false),
            _ => ("/data", true),
        },
        _ => ("/data", true),
    };
    if internal {
        tracing::error!(%error, block = %pending.block, "a document's data request failed");
    }
    RenderError::Data {
        block: pending.block.clone(),
        pointer: format!("{}{member}", pending.pointer),
        message: error.to_string(),
        internal,
    }
}

async fn sites(engine: &Engine) -> Vec<SiteInfo> {
    let sql = "SELECT code, name FROM core.sites WHERE deleted_at IS NULL ORDER BY code";
    match engine.query(sql, ROW_LIMIT).await {
        Ok(rows) => rows
            .rows
            .iter()
            .filter_map(|row| match (row.first(), row.get(1)) {
                (Some(Cell::Text(code)), Some(Cell::Text(name))) => {
                    Some(SiteInfo { code: code.clone(), name: name.clone() })
                }
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

fn literal(text: &str) -> String {
    format!("'{}'", text.replace('\'', "''"))
}

fn site_filter(sites: &[String]) -> String {
    if sites.is_empty() {
        String::new()
    } else {
        format!(" AND s.code IN ({})", sites.iter().map(|site| literal(site)).collect::<Vec<_>>().join(", "))
    }
}

async fn answer(engine: &Engine, request: &DataRequest) -> Result<DataTable, QueryError> {
    match request {
        DataRequest::Metric { metric, sites, from, to, grain, by } => {
            let grain = grain.as_deref().map(str::parse).transpose()?;
            let request = MetricRequest { sites: sites.clone(), from: *from, to: *to, grain, by: by.clone() };
            let result = engine.metric(metric, &request).await?;
            Ok(DataTable {
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
            })
        }
        DataRequest::Query { sql } => Ok(table(engine.query(sql, ROW_LIMIT).await?)),
        DataRequest::Tasks { sites, project, status } => {
            let mut sql = "SELECT p.code AS project, t.name AS task, t.status AS status, t.start_date AS start, \
                 t.due_date AS due, t.percent_complete AS percent \
                 FROM projects.tasks t JOIN projects.projects p ON p.id = t.project_id \
                 JOIN core.sites s ON s.id = p.site_id WHERE t.deleted_at IS NULL"
                .to_owned();
            sql.push_str(&site_filter(sites));
            if let Some(project) = project {
                sql.push_str(&format!(" AND p.code = {}", literal(project)));
            }
            if !status.is_empty() {
                let list: Vec<String> = status.iter().map(|status| literal(status)).collect();
                sql.push_str(&format!(" AND t.status IN ({})", list.join(", ")));
            }
            sql.push_str(" ORDER BY t.due_date, p.code, t.name");
            Ok(table(engine.query(&sql, ROW_LIMIT).await?))
        }
        DataRequest::Timeline { sites, project } => {
            let sql = match project {
                Some(project) => format!(
                    "SELECT t.name AS label, t.start_date AS start, t.due_date AS \"end\", t.percent_complete AS percent, \
                     t.status AS status FROM projects.tasks t JOIN projects.projects p ON p.id = t.project_id \
                     JOIN core.sites s ON s.id = p.site_id WHERE t.deleted_at IS NULL AND t.status <> 'cancelled' \
                     AND p.code = {}{} \
                     ORDER BY t.start_date, t.name",
                    literal(project),
                    site_filter(sites)
                ),
                None => format!(
                    "SELECT p.code || ' ' || p.name AS label, p.start_date AS start, \
                     COALESCE(p.actual_end_date, p.planned_end_date) AS \"end\", progress.percent AS percent, \
                     p.status AS status FROM projects.projects p JOIN core.sites s ON s.id = p.site_id \
                     LEFT JOIN (SELECT project_id, avg(percent_complete) AS percent FROM projects.tasks \
                     WHERE deleted_at IS NULL GROUP BY project_id) progress ON progress.project_id = p.id \
                     WHERE p.deleted_at IS NULL AND p.status IN ('planned', 'active', 'on_hold'){} \
                     ORDER BY p.start_date, p.code",
                    site_filter(sites)
                ),
            };
            Ok(table(engine.query(&sql, ROW_LIMIT).await?))
        }
        DataRequest::Company { name } => {
            let sql = format!(
                "SELECT c.name AS company, c.kind AS kind, c.city AS city, c.country AS country, \
                 ct.first_name || ' ' || ct.last_name AS contact, ct.job_title AS job_title, ct.email AS email, \
                 ct.phone AS phone FROM tiers.companies c LEFT JOIN tiers.contacts ct \
                 ON ct.company_id = c.id AND ct.deleted_at IS NULL \
                 WHERE c.deleted_at IS NULL AND c.name = {} ORDER BY contact",
                literal(name)
            );
            Ok(table(engine.query(&sql, ROW_LIMIT).await?))
        }
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
