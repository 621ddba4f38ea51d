//! Row counts of every table: of the operational database when connected, else of
//! the warehouse (`/tables` and `/api/tables`), for those allowed to see them all.

use axum::Json;
use axum::extract::State;
use axum::response::Html;

use super::AppState;
use super::error::{ApiError, Problem};
use super::layout::escape;

/// Row counts: of the operational database when connected, else of the warehouse.
async fn counts(state: &AppState) -> Result<Vec<(String, i64)>, ApiError> {
    match &state.pool {
        Some(pool) => crate::database::table_row_counts(pool)
            .await
            .map_err(|error| ApiError::internal("counting rows failed", &error)),
        None => {
            let warehouse = state.engine.warehouse();
            let tables =
                warehouse.tables().await.map_err(|error| ApiError::internal("listing tables failed", &error))?;
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

#[utoipa::path(get, path = "/api/tables", tag = "tables",
    responses((status = 200, description = "every table with its row count", body = serde_json::Value),
        (status = 401, body = Problem, content_type = "application/problem+json"), (status = 403, body = Problem, content_type = "application/problem+json")))]
pub(crate) async fn tables_json(State(state): State<AppState>) -> Result<Json<serde_json::Value>, ApiError> {
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

pub(crate) async fn tables_page(State(state): State<AppState>) -> Result<Html<String>, ApiError> {
    let tables = counts(&state).await?;
    let total: i64 = tables.iter().map(|(_, rows)| rows).sum();
    // Users and their sign-ins are no operational data, nor the Rédacteur templates a
    // server stores at its first start.
    let operational: i64 = tables
        .iter()
        .filter(|(name, _)| !name.starts_with("platform.") && !name.starts_with("redacteur."))
        .map(|(_, rows)| rows)
        .sum();
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
    let body = if operational == 0 {
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
    Ok(Html(super::layout::page("/tables", "Tables et lignes", &header, &body)))
}

/// `1234567` → `1 234 567` (French grouping with narrow no-break spaces).
pub fn group_thousands(value: i64) -> String {
    // Row counts stay far below 2^53, where f64 would start to round.
    opsflux_render::Locale::FrFr.format_number(value as f64, 0)
}

#[cfg(test)]
mod tests {
    #[test]
    fn thousands_are_grouped_the_french_way() {
        let grouped: Vec<String> = [0, 999, 1000, 1_234_567, -45_000].into_iter().map(super::group_thousands).collect();
        assert_eq!(grouped, ["0", "999", "1\u{202f}000", "1\u{202f}234\u{202f}567", "-45\u{202f}000"]);
    }
}
