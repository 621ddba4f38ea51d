//! The JSON API described with utoipa: `/api/openapi.json` and a documentation page
//! drawn from the same description (no assets fetched from elsewhere).

use axum::Json;
use axum::response::Html;
use utoipa::OpenApi;
use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityScheme};

use super::layout::{escape, page};

#[derive(Debug, OpenApi)]
#[openapi(
    info(title = "OpsFlux API", description = "Metrics, search, exports, documents, scheduled reports, alerts, audit and PowerTrace (load lists, scenarios, forecasts) of the OpsFlux data platform. \
        Sign in with POST /api/auth/login and send `Authorization: Bearer <access_token>`. Every error is \
        an application/problem+json document."),
    paths(
        super::health,
        super::auth::api_login,
        super::auth::api_refresh,
        super::auth::api_logout,
        super::auth::me,
        super::metrics::metrics_json,
        super::metrics::metric_json,
        super::metrics::sites_json,
        super::search::search_json,
        super::exports::export,
        super::documents::render_document,
        super::stored_documents::list_json,
        super::stored_documents::schema_json,
        super::stored_documents::create_json,
        super::stored_documents::get_json,
        super::stored_documents::update_json,
        super::stored_documents::delete_json,
        super::stored_documents::versions_json,
        super::stored_documents::diff_json,
        super::stored_documents::restore_json,
        super::stored_documents::review_json,
        super::stored_documents::render_json,
        super::tables::tables_json,
        super::audit::audit_json,
        super::schedules::list_json,
        super::schedules::create_json,
        super::schedules::get_json,
        super::schedules::update_json,
        super::schedules::delete_json,
        super::schedules::pause_json,
        super::schedules::resume_json,
        super::schedules::run_json,
        super::schedules::history_json,
        super::alerts::list_json,
        super::alerts::create_json,
        super::alerts::get_json,
        super::alerts::delete_json,
        super::alerts::pause_json,
        super::alerts::resume_json,
        super::alerts::evaluate_json,
        super::alerts::evaluations_json,
        super::alerts::notifications_json,
        super::powertrace::list_json,
        super::powertrace::create_json,
        super::powertrace::get_json,
        super::powertrace::update_json,
        super::powertrace::delete_json,
        super::powertrace::versions_json,
        super::powertrace::evaluate_json,
        super::powertrace::evaluations_json,
        super::powertrace::compare_json,
        super::powertrace::load_list_json,
        super::powertrace::forecast_json,
    ),
    components(schemas(super::error::Problem, crate::auth::tokens::TokenPair, super::auth::LoginRequest,
        super::auth::RefreshRequest, crate::audit::Entry, crate::jobs::schedules::ScheduleSpec,
        crate::jobs::schedules::Schedule, crate::jobs::schedules::Firing, crate::jobs::schedules::Delivery,
        super::schedules::Queued, crate::jobs::alerts::RuleSpec, crate::jobs::alerts::Rule,
        crate::jobs::alerts::Evaluation, crate::jobs::alerts::Logged, crate::jobs::alerts::Notification)),
    modifiers(&BearerAuth),
    security(("bearer" = []))
)]
pub struct ApiDoc;

struct BearerAuth;

impl utoipa::Modify for BearerAuth {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        let components = openapi.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            "bearer",
            SecurityScheme::Http(HttpBuilder::new().scheme(HttpAuthScheme::Bearer).bearer_format("JWT").build()),
        );
    }
}

/// `GET /api/openapi.json`.
pub(crate) async fn spec() -> Json<utoipa::openapi::OpenApi> {
    Json(ApiDoc::openapi())
}

/// `GET /api/docs`: every operation with its parameters and answers.
pub(crate) async fn docs_page() -> Html<String> {
    let api = ApiDoc::openapi();
    let mut body = String::from(
        "<p>La description complète est en <a href=\"/api/openapi.json\">OpenAPI 3.1 (JSON)</a>. \
         Authentification : <code>POST /api/auth/login</code> puis <code>Authorization: Bearer …</code>.</p>",
    );
    for (path, item) in &api.paths.paths {
        let operations = [("GET", &item.get), ("POST", &item.post), ("PUT", &item.put), ("DELETE", &item.delete)];
        for (method, operation) in operations {
            let Some(operation) = operation else { continue };
            body.push_str(&format!(
                "<section><h2><code>{method} {}</code></h2><p>{}</p>",
                escape(path),
                escape(operation.description.as_deref().or(operation.summary.as_deref()).unwrap_or(""))
            ));
            if let Some(parameters) = &operation.parameters
                && !parameters.is_empty()
            {
                body.push_str(
                    "<table><thead><tr><th>Paramètre</th><th>Où</th><th>Description</th></tr></thead><tbody>",
                );
                for parameter in parameters {
                    let utoipa::openapi::RefOr::T(parameter) = parameter else { continue };
                    body.push_str(&format!(
                        "<tr><td><code>{}</code></td><td>{}</td><td>{}</td></tr>",
                        escape(&parameter.name),
                        serde_json::to_value(&parameter.parameter_in)
                            .ok()
                            .and_then(|value| value.as_str().map(str::to_owned))
                            .unwrap_or_default(),
                        escape(parameter.description.as_deref().unwrap_or(""))
                    ));
                }
                body.push_str("</tbody></table>");
            }
            let answers: Vec<String> = operation.responses.responses.keys().map(|status| escape(status)).collect();
            body.push_str(&format!("<p>Réponses : {}</p></section>", answers.join(", ")));
        }
    }
    Html(page("/api/docs", "API JSON", "", &body))
}
