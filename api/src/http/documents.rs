//! Rédacteur documents over HTTP: `POST /api/render` (a shipped template, or the
//! caller's own document with the permission to write one), the reports page and its
//! download, each rendered with the caller's site scope and audited.

use std::collections::BTreeMap;

use axum::body::Bytes;
use axum::extract::{Extension, Query, State};
use axum::http::header;
use axum::response::{Html, IntoResponse, Response};

use super::error::{ApiError, Problem};
use super::{AppState, Caller};

/// `POST /api/render`: `{"template": "weekly-site-report"}` or `{"document": {...}}`,
/// with `"parameters": {"site": "ALPHA", "period": "2026-W46"}` and `"format"` (pdf by
/// default). Answers the file; `X-OpsFlux-Warehouse` names the versions it read.
#[utoipa::path(post, path = "/api/render", tag = "documents",
    request_body(content = serde_json::Value, content_type = "application/json",
        description = "`template` (a shipped template's name) or `document` (Editor.js JSON), `parameters` (strings), `format`"),
    responses((status = 200, description = "the rendered file", content(
            (Vec<u8> = "application/pdf"),
            (Vec<u8> = "application/vnd.openxmlformats-officedocument.wordprocessingml.document"),
            (Vec<u8> = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"),
            (String = "text/html"))),
        (status = 400, description = "bad document: `block` and `pointer` name where", body = Problem, content_type = "application/problem+json"),
        (status = 401, body = Problem, content_type = "application/problem+json"), (status = 403, body = Problem, content_type = "application/problem+json"), (status = 415, body = Problem, content_type = "application/problem+json"),
        (status = 503, description = "too many renders at once, or a time limit", body = Problem, content_type = "application/problem+json")))]
pub(crate) async fn render_document(
    State(state): State<AppState>,
    Extension(caller): Extension<Caller>,
    body: Bytes,
) -> Result<Response, ApiError> {
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
    let mut caller = caller;
    let (name, document) = match (text("template")?, request.get("document")) {
        (Some(name), None) => {
            let document =
                crate::documents::offered_template(state.pool.as_ref(), &name).await.map_err(ApiError::from_render)?;
            (name.clone(), document)
        }
        (None, Some(document)) => {
            // The author's own SQL reads with the scope of the permission to write it.
            let Some(scope) = caller.principal.scope_for("redacteur.write") else {
                return Err(ApiError::forbidden(
                    "rendering your own document needs the permission redacteur.write; render a shipped `template` instead",
                )
                .with_parameter("document"));
            };
            caller.scope = scope.intersect(&caller.scope);
            let document = opsflux_render::Document::from_json(&document.to_string())
                .map_err(|error| ApiError::from_render(error.into()))?;
            ("document".to_owned(), document)
        }
        _ => return Err(ApiError::bad_body("give either `template` or `document`".into(), None)),
    };
    let mut parameters = BTreeMap::new();
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
    rendered_response(&state, &caller, &name, document, &parameters, format, false).await
}

/// Renders `document` as of today and answers the file, as an attachment (or inline
/// for the HTML preview), with the warehouse versions read in `X-OpsFlux-Warehouse`.
pub(crate) async fn rendered_response(
    state: &AppState,
    caller: &Caller,
    name: &str,
    document: opsflux_render::Document,
    parameters: &BTreeMap<String, String>,
    format: opsflux_render::OutputFormat,
    inline: bool,
) -> Result<Response, ApiError> {
    let today = chrono::Utc::now().date_naive();
    let rendered =
        crate::documents::render(&state.engine, document, parameters, format, today, &caller.scope, &state.renders)
            .await;
    let audit = crate::audit::Event {
        action: "render".to_owned(),
        entity: name.to_owned(),
        parameters: serde_json::json!({
            "format": format.extension(),
            "parameters": parameters,
            "scope": caller.scope.describe(),
        }),
        result: match &rendered {
            Ok(_) => "ok".to_owned(),
            Err(error) => error.to_string(),
        },
        warehouse: rendered.as_ref().ok().map(|(_, bound)| serde_json::json!(bound.warehouse_line())),
        ..caller.audit_event()
    };
    state.audit(audit).await?;
    let (bytes, bound) = rendered.map_err(ApiError::from_render)?;
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
pub(crate) async fn documents_page(
    State(state): State<AppState>,
    Extension(caller): Extension<Caller>,
) -> Html<String> {
    let pin = state.engine.pin();
    let mut sites = String::from("<option value=\"\">Tous les sites</option>");
    for site in &pin.sites_in(&caller.scope) {
        sites.push_str(&format!("<option value=\"{0}\">{0}</option>", super::layout::escape(site)));
    }
    let mut body = String::from("<div class=\"grid\">");
    let offered = match crate::documents::offered_templates(state.pool.as_ref()).await {
        Ok(offered) => offered,
        Err(error) => {
            tracing::error!(%error, "the published templates could not be listed");
            body.push_str(
                "<p class=\"warning\">Les modèles publiés n'ont pas pu être lus ; réessayez dans un instant.</p>",
            );
            Vec::new()
        }
    };
    for (name, title) in &offered {
        let Ok(document) = crate::documents::offered_template(state.pool.as_ref(), name).await else { continue };
        let name = super::layout::escape(name);
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
            super::layout::escape(title)
        ));
    }
    body.push_str("</div>");
    Html(super::layout::page("/documents", "Rapports", "", &body))
}

/// `GET /documents/render?template=&site=&period=&locale=&format=`: the form's target.
pub(crate) async fn document_download(
    State(state): State<AppState>,
    Extension(caller): Extension<Caller>,
    Query(query): Query<BTreeMap<String, String>>,
) -> Result<Response, ApiError> {
    let mut parameters = query;
    let name = parameters.remove("template").unwrap_or_default();
    let format_text = parameters.remove("format").unwrap_or_else(|| "html".to_owned());
    let format: opsflux_render::OutputFormat =
        format_text.parse().map_err(|error: String| ApiError::bad_body(error, Some("/format".into())))?;
    parameters.retain(|_, value| !value.trim().is_empty());
    let document =
        crate::documents::offered_template(state.pool.as_ref(), &name).await.map_err(ApiError::from_render)?;
    let inline = format == opsflux_render::OutputFormat::Html;
    rendered_response(&state, &caller, &name, document, &parameters, format, inline).await
}
