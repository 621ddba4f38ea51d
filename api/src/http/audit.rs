//! The audit log for administrators: a page with filters, a CSV export and JSON.
//! Read only: nothing here (or anywhere) changes audit rows.

use axum::Json;
use axum::extract::{Extension, Query, State};
use axum::http::{StatusCode, header};
use axum::response::{Html, IntoResponse, Response};

use super::error::{ApiError, Problem};
use super::layout::{escape, page};
use super::{AppState, Caller};
use crate::audit::{Entry, Filter};

async fn entries(state: &AppState, filter: &Filter) -> Result<Vec<Entry>, ApiError> {
    let Some(pool) = &state.pool else {
        return Err(ApiError::new(
            StatusCode::NOT_FOUND,
            "Not found",
            "this server has no audit log: it serves a warehouse alone",
        ));
    };
    match crate::audit::search(pool, filter).await {
        Ok(Ok(entries)) => Ok(entries),
        Ok(Err(error)) => Err(ApiError::new(StatusCode::BAD_REQUEST, "Invalid parameter", error.to_string())
            .with_parameter(error.parameter)),
        Err(error) => Err(ApiError::internal("reading the audit log failed", &error)),
    }
}

/// `GET /api/audit`: the newest entries matching the filters.
#[utoipa::path(get, path = "/api/audit", tag = "audit", params(Filter),
    responses((status = 200, body = Vec<Entry>), (status = 400, body = Problem, content_type = "application/problem+json"), (status = 401, body = Problem, content_type = "application/problem+json"), (status = 403, body = Problem, content_type = "application/problem+json")))]
pub(crate) async fn audit_json(
    State(state): State<AppState>,
    Query(filter): Query<Filter>,
) -> Result<Json<Vec<Entry>>, ApiError> {
    entries(&state, &filter).await.map(Json)
}

/// `GET /admin/audit.csv`: the same entries as CSV, for spreadsheets; itself audited.
pub(crate) async fn audit_csv(
    State(state): State<AppState>,
    Extension(caller): Extension<Caller>,
    Query(filter): Query<Filter>,
) -> Result<Response, ApiError> {
    let rows = entries(&state, &Filter { limit: Some(filter.limit.unwrap_or(10_000)), ..filter.clone() }).await?;
    let mut writer = csv::Writer::from_writer(Vec::new());
    let write = |writer: &mut csv::Writer<Vec<u8>>, record: &[String]| {
        let cells: Vec<String> = record.iter().map(|cell| spreadsheet_safe(cell)).collect();
        writer.write_record(&cells).map_err(|error| ApiError::internal("writing the audit CSV failed", &error))
    };
    write(
        &mut writer,
        &["occurred_at", "actor", "action", "entity", "parameters", "result", "warehouse", "address"]
            .map(str::to_owned),
    )?;
    for row in &rows {
        let json = |value: &Option<serde_json::Value>| value.as_ref().map(ToString::to_string).unwrap_or_default();
        write(
            &mut writer,
            &[
                row.occurred_at.to_rfc3339(),
                row.actor.clone().unwrap_or_default(),
                row.action.clone(),
                row.entity.clone(),
                json(&row.parameters),
                row.result.clone().unwrap_or_default(),
                json(&row.warehouse),
                row.address.clone().unwrap_or_default(),
            ],
        )?;
    }
    let bytes =
        writer.into_inner().map_err(|error| ApiError::internal("writing the audit CSV failed", &error.into_error()))?;
    state
        .audit(crate::audit::Event {
            action: "export.audit".into(),
            entity: "platform.audit_log".into(),
            parameters: serde_json::json!({"action": filter.action, "actor": filter.actor, "from": filter.from, "to": filter.to, "rows": rows.len()}),
            ..caller.audit_event()
        })
        .await?;
    Ok((
        [
            (header::CONTENT_TYPE, "text/csv; charset=utf-8"),
            (header::CONTENT_DISPOSITION, "attachment; filename=\"audit.csv\""),
        ],
        bytes,
    )
        .into_response())
}

/// `GET /admin/audit`: filters and the newest entries.
pub(crate) async fn audit_page(
    State(state): State<AppState>,
    Query(filter): Query<Filter>,
) -> Result<Html<String>, ApiError> {
    let rows = entries(&state, &filter).await?;
    let value = |text: &Option<String>| escape(text.as_deref().unwrap_or(""));
    let query = serde_urlencoded_filter(&filter);
    let mut body = format!(
        "<form method=\"get\" class=\"filters\">\
         <label>Action <input name=\"action\" value=\"{}\" placeholder=\"auth. / export / render\"></label>\
         <label>Utilisateur <input name=\"actor\" value=\"{}\"></label>\
         <label>Du <input type=\"date\" name=\"from\" value=\"{}\"></label>\
         <label>Au <input type=\"date\" name=\"to\" value=\"{}\"></label>\
         <button type=\"submit\">Filtrer</button> <a href=\"/admin/audit.csv?{}\">Exporter en CSV</a></form>",
        value(&filter.action),
        value(&filter.actor),
        value(&filter.from),
        value(&filter.to),
        escape(&query)
    );
    if rows.is_empty() {
        body.push_str("<p class=\"empty\">Aucune entrée ne correspond à ces filtres.</p>");
    } else {
        body.push_str("<section><table id=\"audit\"><thead><tr><th>Quand (UTC)</th><th>Qui</th><th>Action</th><th>Objet</th><th>Paramètres</th><th>Résultat</th><th>Adresse</th></tr></thead><tbody>");
        for row in &rows {
            body.push_str(&format!(
                "<tr><td>{}</td><td>{}</td><td><code>{}</code></td><td>{}</td><td><code>{}</code></td><td>{}</td><td>{}</td></tr>",
                row.occurred_at.format("%Y-%m-%d %H:%M:%S"),
                value(&row.actor),
                escape(&row.action),
                escape(&row.entity),
                escape(&row.parameters.as_ref().map(ToString::to_string).unwrap_or_default()),
                value(&row.result),
                value(&row.address),
            ));
        }
        body.push_str("</tbody></table></section>");
    }
    Ok(Html(page("/admin/audit", "Journal d'audit", "", &body)))
}

fn serde_urlencoded_filter(filter: &Filter) -> String {
    let mut query = url::form_urlencoded::Serializer::new(String::new());
    for (name, value) in
        [("action", &filter.action), ("actor", &filter.actor), ("from", &filter.from), ("to", &filter.to)]
    {
        if let Some(value) = value.as_deref().filter(|value| !value.is_empty()) {
            query.append_pair(name, value);
        }
    }
    query.finish()
}

/// A cell a spreadsheet shows as text: one starting like a formula (an email typed as
/// `=HYPERLINK(…)` at sign-in, say) gets a leading apostrophe.
fn spreadsheet_safe(cell: &str) -> String {
    if cell.starts_with(['=', '+', '-', '@', '\t', '\r']) { format!("'{cell}") } else { cell.to_owned() }
}
