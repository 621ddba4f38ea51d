//! The HTTP server: an overview page of the operational database and its JSON twin.
//! Errors leave as `application/problem+json`.

use axum::extract::State;
use axum::http::{StatusCode, header};
use axum::response::{Html, IntoResponse, Response};
use axum::routing::get;
use axum::{Json, Router};
use sqlx::PgPool;

/// What every handler can reach.
#[derive(Debug, Clone)]
pub struct AppState {
    pub pool: PgPool,
    /// Shown on the page: where the data lives (`host:port/database`).
    pub source: String,
}

/// An error as an RFC 9457 problem document. Internal details are logged, not sent.
#[derive(Debug)]
pub struct ApiError {
    status: StatusCode,
    title: &'static str,
    detail: String,
}

impl ApiError {
    fn internal(context: &str, error: &dyn std::error::Error) -> Self {
        tracing::error!(%error, "{context}");
        Self {
            status: StatusCode::INTERNAL_SERVER_ERROR,
            title: "Internal error",
            detail: format!("{context}; the server log has the details"),
        }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let body = serde_json::json!({
            "type": "about:blank",
            "title": self.title,
            "status": self.status.as_u16(),
            "detail": self.detail,
        });
        (self.status, [(header::CONTENT_TYPE, "application/problem+json")], body.to_string()).into_response()
    }
}

pub fn router(state: AppState) -> Router {
    Router::new()
        .route("/", get(overview_page))
        .route("/api/tables", get(tables_json))
        .route("/healthz", get(|| async { "ok" }))
        .fallback(|| async {
            ApiError {
                status: StatusCode::NOT_FOUND,
                title: "Not found",
                detail: "no such page or endpoint".to_owned(),
            }
        })
        .with_state(state)
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

async fn counts(state: &AppState) -> Result<Vec<(String, i64)>, ApiError> {
    crate::database::table_row_counts(&state.pool)
        .await
        .map_err(|error| ApiError::internal("counting rows failed", &error))
}

async fn tables_json(State(state): State<AppState>) -> Result<Json<serde_json::Value>, ApiError> {
    let tables = counts(&state).await?;
    Ok(Json(serde_json::json!({
        "source": state.source,
        "tables": tables.iter().map(|(name, rows)| serde_json::json!({"table": name, "rows": rows})).collect::<Vec<_>>(),
    })))
}

async fn overview_page(State(state): State<AppState>) -> Result<Html<String>, ApiError> {
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
        sections
    };
    Ok(Html(format!(
        r#"<!doctype html>
<html lang="fr"><head><meta charset="utf-8"><title>OpsFlux — données opérationnelles</title>
<meta name="viewport" content="width=device-width, initial-scale=1">
<style>
body {{ font-family: system-ui, sans-serif; margin: 2rem auto; max-width: 72rem; padding: 0 1rem; color: #1d2733; }}
header p {{ color: #5b6b7c; }}
main {{ display: grid; grid-template-columns: repeat(auto-fill, minmax(22rem, 1fr)); gap: 1rem; }}
section {{ border: 1px solid #d8dee6; border-radius: 6px; padding: 0 1rem 1rem; }}
h2 {{ font-size: 1rem; }}
table {{ width: 100%; border-collapse: collapse; font-size: .9rem; }}
td, th {{ padding: .2rem .3rem; border-bottom: 1px solid #eef1f4; text-align: left; }}
.n {{ text-align: right; font-variant-numeric: tabular-nums; }}
.empty {{ padding: 2rem; background: #f6f8fa; border-radius: 6px; }}
</style></head>
<body><header><h1>OpsFlux — données opérationnelles</h1>
<p>Source : <code>{source}</code> · {n_tables} tables · <strong id="total">{total}</strong> lignes</p></header>
<main>{body}</main></body></html>"#,
        source = escape(&state.source),
        n_tables = tables.len(),
        total = group_thousands(total),
    )))
}

/// `1234567` → `1 234 567` (French grouping with narrow no-break spaces).
pub fn group_thousands(value: i64) -> String {
    let digits = value.unsigned_abs().to_string();
    let mut grouped = String::new();
    for (index, digit) in digits.chars().enumerate() {
        if index > 0 && (digits.len() - index).is_multiple_of(3) {
            grouped.push('\u{202f}');
        }
        grouped.push(digit);
    }
    if value < 0 { format!("-{grouped}") } else { grouped }
}

fn escape(text: &str) -> String {
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
