//! Threshold alerts over HTTP: the JSON API (`/api/alerts…`), the pages to create,
//! pause, resume and evaluate rules and read their evaluations, and every user's
//! notifications (`/notifications`, `/api/notifications`). Rule changes are audited.

use axum::Json;
use axum::body::Bytes;
use axum::extract::{Extension, Form, Path, State};
use axum::http::StatusCode;
use axum::response::{Html, IntoResponse, Redirect, Response};
use sqlx::PgPool;
use uuid::Uuid;

use super::error::{ApiError, Problem, json_body};
use super::layout::{escape, page};
use super::schedules::{check_csrf, csrf_field, list_field, parse_id, pool};
use super::{AppState, Caller};
use crate::jobs::alerts::{self, Evaluation, Logged, Notification, Rule, RuleSpec};

fn owner_filter(caller: &Caller) -> Option<Uuid> {
    if caller.principal.permissions.contains("alerts.manage.all") { None } else { caller.principal.user_id }
}

async fn visible(pool: &PgPool, caller: &Caller, id: Uuid) -> Result<Rule, ApiError> {
    let rule = alerts::get(pool, id).await.map_err(ApiError::from_job)?;
    match owner_filter(caller) {
        Some(owner) if rule.owner_id != Some(owner) => Err(ApiError::not_found(format!("no alert rule {id}"))),
        _ => Ok(rule),
    }
}

async fn audit(
    state: &AppState,
    caller: &Caller,
    action: &str,
    id: Uuid,
    parameters: serde_json::Value,
) -> Result<(), ApiError> {
    state.audit_change(caller, action, "platform.alert_rules", id, parameters).await
}

/// Sites a `.site` holder may watch: their own.
fn check_sites(caller: &Caller, spec: &RuleSpec) -> Result<(), ApiError> {
    let scope = caller
        .principal
        .scope_for("alerts.manage")
        .unwrap_or_else(|| opsflux_query::Scope::sites(Vec::<String>::new()));
    if matches!(scope, opsflux_query::Scope::Sites(_)) && spec.sites.is_empty() {
        return Err(ApiError::bad_body(
            "name the sites to watch (your scope does not cover every site)".into(),
            Some("/sites".into()),
        ));
    }
    for (index, site) in spec.sites.iter().enumerate() {
        if !scope.allows(site.trim()) {
            return Err(ApiError::forbidden(format!("site `{site}` is outside your site scope"))
                .with_parameter("sites")
                .with_pointer(format!("/sites/{index}")));
        }
    }
    Ok(())
}

/// `GET /api/alerts`.
#[utoipa::path(get, path = "/api/alerts", tag = "alerts",
    responses((status = 200, body = Vec<Rule>), (status = 401, body = Problem, content_type = "application/problem+json"), (status = 403, body = Problem, content_type = "application/problem+json")))]
pub(crate) async fn list_json(
    State(state): State<AppState>,
    Extension(caller): Extension<Caller>,
) -> Result<Json<Vec<Rule>>, ApiError> {
    Ok(Json(alerts::list(pool(&state)?, owner_filter(&caller)).await.map_err(ApiError::from_job)?))
}

/// `POST /api/alerts`: 201 with the rule.
#[utoipa::path(post, path = "/api/alerts", tag = "alerts", request_body = RuleSpec,
    responses((status = 201, body = Rule), (status = 400, description = "`pointer` names the member at fault", body = Problem, content_type = "application/problem+json"),
        (status = 401, body = Problem, content_type = "application/problem+json"), (status = 403, body = Problem, content_type = "application/problem+json"), (status = 415, body = Problem, content_type = "application/problem+json")))]
pub(crate) async fn create_json(
    State(state): State<AppState>,
    Extension(caller): Extension<Caller>,
    body: Bytes,
) -> Result<Response, ApiError> {
    let spec: RuleSpec = json_body(&body)?;
    check_sites(&caller, &spec)?;
    let pool = pool(&state)?;
    let id = alerts::add(pool, &state.engine, &spec, caller.principal.user_id).await.map_err(ApiError::from_job)?;
    audit(&state, &caller, "alert.add", id, serde_json::to_value(&spec).unwrap_or_default()).await?;
    Ok((StatusCode::CREATED, Json(alerts::get(pool, id).await.map_err(ApiError::from_job)?)).into_response())
}

/// `GET /api/alerts/{id}`.
#[utoipa::path(get, path = "/api/alerts/{id}", tag = "alerts", params(("id" = String, Path, description = "rule id")),
    responses((status = 200, body = Rule), (status = 400, body = Problem, content_type = "application/problem+json"), (status = 401, body = Problem, content_type = "application/problem+json"), (status = 403, body = Problem, content_type = "application/problem+json"), (status = 404, body = Problem, content_type = "application/problem+json")))]
pub(crate) async fn get_json(
    State(state): State<AppState>,
    Extension(caller): Extension<Caller>,
    Path(id): Path<String>,
) -> Result<Json<Rule>, ApiError> {
    Ok(Json(visible(pool(&state)?, &caller, parse_id(&id)?).await?))
}

/// `DELETE /api/alerts/{id}`.
#[utoipa::path(delete, path = "/api/alerts/{id}", tag = "alerts", params(("id" = String, Path, description = "rule id")),
    responses((status = 204, description = "deleted"), (status = 400, body = Problem, content_type = "application/problem+json"), (status = 401, body = Problem, content_type = "application/problem+json"), (status = 403, body = Problem, content_type = "application/problem+json"), (status = 404, body = Problem, content_type = "application/problem+json")))]
pub(crate) async fn delete_json(
    State(state): State<AppState>,
    Extension(caller): Extension<Caller>,
    Path(id): Path<String>,
) -> Result<StatusCode, ApiError> {
    act(&state, &caller, &id, "delete").await?;
    Ok(StatusCode::NO_CONTENT)
}

/// `POST /api/alerts/{id}/pause`.
#[utoipa::path(post, path = "/api/alerts/{id}/pause", tag = "alerts", params(("id" = String, Path, description = "rule id")),
    responses((status = 200, body = Rule), (status = 400, body = Problem, content_type = "application/problem+json"), (status = 401, body = Problem, content_type = "application/problem+json"), (status = 403, body = Problem, content_type = "application/problem+json"), (status = 404, body = Problem, content_type = "application/problem+json")))]
pub(crate) async fn pause_json(
    State(state): State<AppState>,
    Extension(caller): Extension<Caller>,
    Path(id): Path<String>,
) -> Result<Json<Rule>, ApiError> {
    act(&state, &caller, &id, "pause").await?;
    Ok(Json(alerts::get(pool(&state)?, parse_id(&id)?).await.map_err(ApiError::from_job)?))
}

/// `POST /api/alerts/{id}/resume`.
#[utoipa::path(post, path = "/api/alerts/{id}/resume", tag = "alerts", params(("id" = String, Path, description = "rule id")),
    responses((status = 200, body = Rule), (status = 400, body = Problem, content_type = "application/problem+json"), (status = 401, body = Problem, content_type = "application/problem+json"), (status = 403, body = Problem, content_type = "application/problem+json"), (status = 404, body = Problem, content_type = "application/problem+json")))]
pub(crate) async fn resume_json(
    State(state): State<AppState>,
    Extension(caller): Extension<Caller>,
    Path(id): Path<String>,
) -> Result<Json<Rule>, ApiError> {
    act(&state, &caller, &id, "resume").await?;
    Ok(Json(alerts::get(pool(&state)?, parse_id(&id)?).await.map_err(ApiError::from_job)?))
}

/// `POST /api/alerts/{id}/evaluate`: evaluates now; notifications are mailed by the
/// scheduler.
#[utoipa::path(post, path = "/api/alerts/{id}/evaluate", tag = "alerts", params(("id" = String, Path, description = "rule id")),
    responses((status = 200, body = Evaluation), (status = 400, body = Problem, content_type = "application/problem+json"), (status = 401, body = Problem, content_type = "application/problem+json"), (status = 403, body = Problem, content_type = "application/problem+json"), (status = 404, body = Problem, content_type = "application/problem+json")))]
pub(crate) async fn evaluate_json(
    State(state): State<AppState>,
    Extension(caller): Extension<Caller>,
    Path(id): Path<String>,
) -> Result<Json<Evaluation>, ApiError> {
    let id = parse_id(&id)?;
    let pool = pool(&state)?;
    visible(pool, &caller, id).await?;
    let evaluation = alerts::evaluate(pool, &state.engine, None, id, "manual", chrono::Utc::now()).await.map_err(
        |error| match error {
            crate::jobs::JobError::Query(error) => ApiError::from_query("evaluating the rule failed", error),
            other => ApiError::from_job(other),
        },
    )?;
    audit(&state, &caller, "alert.evaluate", id, serde_json::to_value(&evaluation).unwrap_or_default()).await?;
    Ok(Json(evaluation))
}

/// `GET /api/alerts/{id}/evaluations`: the newest evaluations.
#[utoipa::path(get, path = "/api/alerts/{id}/evaluations", tag = "alerts", params(("id" = String, Path, description = "rule id")),
    responses((status = 200, body = Vec<Logged>), (status = 400, body = Problem, content_type = "application/problem+json"), (status = 401, body = Problem, content_type = "application/problem+json"), (status = 403, body = Problem, content_type = "application/problem+json"), (status = 404, body = Problem, content_type = "application/problem+json")))]
pub(crate) async fn evaluations_json(
    State(state): State<AppState>,
    Extension(caller): Extension<Caller>,
    Path(id): Path<String>,
) -> Result<Json<Vec<Logged>>, ApiError> {
    let id = parse_id(&id)?;
    let pool = pool(&state)?;
    visible(pool, &caller, id).await?;
    Ok(Json(alerts::evaluations(pool, id, 100).await.map_err(ApiError::from_job)?))
}

/// `GET /api/notifications`: the caller's notifications, newest first.
#[utoipa::path(get, path = "/api/notifications", tag = "alerts",
    responses((status = 200, body = Vec<Notification>), (status = 401, body = Problem, content_type = "application/problem+json")))]
pub(crate) async fn notifications_json(
    State(state): State<AppState>,
    Extension(caller): Extension<Caller>,
) -> Result<Json<Vec<Notification>>, ApiError> {
    let Some(user) = caller.principal.user_id else { return Ok(Json(Vec::new())) };
    Ok(Json(alerts::notifications(pool(&state)?, user, 100).await.map_err(ApiError::from_job)?))
}

async fn act(state: &AppState, caller: &Caller, id: &str, action: &str) -> Result<(), ApiError> {
    let id = parse_id(id)?;
    let pool = pool(state)?;
    visible(pool, caller, id).await?;
    match action {
        "pause" => alerts::set_enabled(pool, id, false, caller.principal.user_id).await,
        "resume" => alerts::set_enabled(pool, id, true, caller.principal.user_id).await,
        "delete" => alerts::delete(pool, id, caller.principal.user_id).await,
        "evaluate" => alerts::evaluate(pool, &state.engine, None, id, "manual", chrono::Utc::now()).await.map(|_| ()),
        other => return Err(ApiError::not_found(format!("no action `{other}`: pause, resume, evaluate or delete"))),
    }
    .map_err(ApiError::from_job)?;
    audit(state, caller, &format!("alert.{action}"), id, serde_json::json!({})).await
}

// Pages.

const STYLE: &str = "<style>form.rule{display:grid;gap:.5rem;max-width:44rem;background:#fff;border:1px solid #d8dee6;border-radius:6px;padding:1rem}form.rule input,form.rule select,form.rule textarea{width:100%;padding:.3rem;box-sizing:border-box}form.inline{display:inline;margin-right:.4rem}</style>";

fn spec_from_form(fields: &[(String, String)]) -> Result<RuleSpec, ApiError> {
    let text = |name: &str| {
        fields
            .iter()
            .find(|(key, _)| key == name)
            .map(|(_, value)| value.trim().to_owned())
            .filter(|value| !value.is_empty())
    };
    let number = |name: &str, default: i32| -> Result<i32, ApiError> {
        match text(name) {
            None => Ok(default),
            Some(value) => value.parse().map_err(|_| {
                ApiError::bad_body(format!("{name}: `{value}` is not a whole number of days"), Some(format!("/{name}")))
            }),
        }
    };
    Ok(RuleSpec {
        name: text("name"),
        metric: text("metric").unwrap_or_default(),
        measure: text("measure"),
        sites: list_field(fields, "sites"),
        condition: text("condition").unwrap_or_default(),
        from_days: Some(number("from_days", 0)?),
        to_days: Some(number("to_days", 6)?),
        cron: text("cron"),
        timezone: text("timezone"),
        to: list_field(fields, "to"),
        to_roles: list_field(fields, "to_roles"),
        enabled: Some(true),
    })
}

fn form(state: &AppState, caller: &Caller, spec: &RuleSpec, error: Option<&str>) -> String {
    let metrics: String = state
        .engine
        .catalog()
        .metrics()
        .map(|metric| {
            let selected = if metric.name == spec.metric { " selected" } else { "" };
            format!(
                "<option value=\"{}\"{selected}>{} — {}</option>",
                escape(&metric.name),
                escape(&metric.name),
                escape(&metric.title)
            )
        })
        .collect();
    let problem =
        error.map(|error| format!("<p class=\"problem\" role=\"alert\">{}</p>", escape(error))).unwrap_or_default();
    format!(
        "{problem}<form method=\"post\" action=\"/alerts\" class=\"rule\">{}\
         <label>Nom <input name=\"name\" value=\"{}\"></label>\
         <label>Indicateur <select name=\"metric\">{metrics}</select></label>\
         <label>Mesure (vide : la première) <input name=\"measure\" value=\"{}\"></label>\
         <label>Condition <input name=\"condition\" required value=\"{}\" placeholder=\"&gt; 100 %\"></label>\
         <label>Sites (vide : tous) <input name=\"sites\" value=\"{}\" placeholder=\"ALPHA, BRAVO\"></label>\
         <label>Fenêtre du jour <input name=\"from_days\" value=\"{}\"> au jour <input name=\"to_days\" value=\"{}\"> (0 : aujourd'hui)</label>\
         <label>Cron d'évaluation (en plus de chaque rafraîchissement) <input name=\"cron\" value=\"{}\"></label>\
         <label>Destinataires (e-mails) <textarea name=\"to\" rows=\"2\">{}</textarea></label>\
         <label>Rôles destinataires <input name=\"to_roles\" value=\"{}\"></label>\
         <button type=\"submit\">Créer l'alerte</button></form>",
        csrf_field(caller),
        escape(spec.name.as_deref().unwrap_or_default()),
        escape(spec.measure.as_deref().unwrap_or_default()),
        escape(&spec.condition),
        escape(&spec.sites.join(", ")),
        spec.from_days.unwrap_or(0),
        spec.to_days.unwrap_or(6),
        escape(spec.cron.as_deref().unwrap_or_default()),
        escape(&spec.to.join("\n")),
        escape(&spec.to_roles.join(", ")),
    )
}

async fn list_body(
    state: &AppState,
    caller: &Caller,
    draft: &RuleSpec,
    error: Option<&str>,
) -> Result<String, ApiError> {
    let rules = alerts::list(pool(state)?, owner_filter(caller)).await.map_err(ApiError::from_job)?;
    let mut body = String::new();
    if rules.is_empty() {
        body.push_str("<p class=\"empty\">Aucune alerte pour l'instant.</p>");
    } else {
        body.push_str("<section><table id=\"alerts\"><thead><tr><th>Nom</th><th>Condition</th><th>Sites</th><th>Fenêtre</th><th>État</th></tr></thead><tbody>");
        for rule in &rules {
            body.push_str(&format!(
                "<tr><td><a href=\"/alerts/{}\">{}</a></td><td><code>{}</code></td><td>{}</td><td>J{:+} à J{:+}</td><td>{}</td></tr>",
                rule.id,
                escape(&rule.name),
                escape(&rule.condition()),
                escape(&if rule.sites.is_empty() { "tous".to_owned() } else { rule.sites.join(", ") }),
                rule.from_days,
                rule.to_days,
                if rule.is_enabled { "active" } else { "en pause" },
            ));
        }
        body.push_str("</tbody></table></section>");
    }
    body.push_str("<h2>Nouvelle alerte</h2>");
    body.push_str(&form(state, caller, draft, error));
    Ok(body)
}

/// `GET /alerts`.
pub(crate) async fn list_page(
    State(state): State<AppState>,
    Extension(caller): Extension<Caller>,
) -> Result<Html<String>, ApiError> {
    let draft = RuleSpec { condition: "> 100 %".into(), metric: "pob.occupancy".into(), ..Default::default() };
    Ok(Html(page("/alerts", "Alertes", STYLE, &list_body(&state, &caller, &draft, None).await?)))
}

/// `POST /alerts`: creates a rule from the form.
pub(crate) async fn create_form(
    State(state): State<AppState>,
    Extension(caller): Extension<Caller>,
    Form(fields): Form<Vec<(String, String)>>,
) -> Result<Response, ApiError> {
    check_csrf(&caller, &fields)?;
    let spec = spec_from_form(&fields)?;
    let error = match check_sites(&caller, &spec) {
        Err(error) => error.detail,
        Ok(()) => match alerts::add(pool(&state)?, &state.engine, &spec, caller.principal.user_id).await {
            Ok(id) => {
                audit(&state, &caller, "alert.add", id, serde_json::to_value(&spec).unwrap_or_default()).await?;
                return Ok(Redirect::to(&format!("/alerts/{id}")).into_response());
            }
            Err(error @ crate::jobs::JobError::Invalid { .. }) => error.to_string(),
            Err(other) => return Err(ApiError::from_job(other)),
        },
    };
    let body = list_body(&state, &caller, &spec, Some(&error)).await?;
    Ok((StatusCode::BAD_REQUEST, Html(page("/alerts", "Alertes", STYLE, &body))).into_response())
}

/// `GET /alerts/{id}`: the rule, its actions and its evaluations.
pub(crate) async fn detail_page(
    State(state): State<AppState>,
    Extension(caller): Extension<Caller>,
    Path(id): Path<String>,
) -> Result<Html<String>, ApiError> {
    let id = parse_id(&id)?;
    let pool = pool(&state)?;
    let rule = visible(pool, &caller, id).await?;
    let log = alerts::evaluations(pool, id, 50).await.map_err(ApiError::from_job)?;
    let csrf = csrf_field(&caller);
    let action = |verb: &str, label: &str| {
        format!(
            "<form method=\"post\" action=\"/alerts/{id}/{verb}\" class=\"inline\">{csrf}<button type=\"submit\">{label}</button></form>"
        )
    };
    let mut body = format!(
        "<p><code>{}</code> · sites {} · jours {:+} à {:+} · {}</p><p>{}{}{}</p><h2>Évaluations</h2>",
        escape(&rule.condition()),
        escape(&if rule.sites.is_empty() { "tous".to_owned() } else { rule.sites.join(", ") }),
        rule.from_days,
        rule.to_days,
        if rule.is_enabled { "active" } else { "en pause" },
        action("evaluate", "Évaluer maintenant"),
        if rule.is_enabled { action("pause", "Mettre en pause") } else { action("resume", "Reprendre") },
        action("delete", "Supprimer"),
    );
    if log.is_empty() {
        body.push_str("<p class=\"empty\">Pas encore évaluée.</p>");
    } else {
        body.push_str("<section><table id=\"evaluations\"><thead><tr><th>Quand (UTC)</th><th>Déclencheur</th><th>Résultat</th></tr></thead><tbody>");
        for entry in &log {
            body.push_str(&format!(
                "<tr><td>{}</td><td>{}</td><td><code>{}</code></td></tr>",
                entry.evaluated_at.format("%Y-%m-%d %H:%M:%S"),
                escape(&entry.trigger),
                escape(&entry.error.clone().unwrap_or_else(|| entry.outcome.to_string())),
            ));
        }
        body.push_str("</tbody></table></section>");
    }
    Ok(Html(page("/alerts", &rule.name, STYLE, &body)))
}

/// `POST /alerts/{id}/{action}`.
pub(crate) async fn action_form(
    State(state): State<AppState>,
    Extension(caller): Extension<Caller>,
    Path((id, action)): Path<(String, String)>,
    Form(fields): Form<Vec<(String, String)>>,
) -> Result<Response, ApiError> {
    check_csrf(&caller, &fields)?;
    act(&state, &caller, &id, &action).await?;
    if action == "delete" {
        return Ok(Redirect::to("/alerts").into_response());
    }
    Ok(Redirect::to(&format!("/alerts/{id}")).into_response())
}

/// `GET /notifications`: the caller's alert notifications.
pub(crate) async fn notifications_page(
    State(state): State<AppState>,
    Extension(caller): Extension<Caller>,
) -> Result<Html<String>, ApiError> {
    let listed = match caller.principal.user_id {
        Some(user) => alerts::notifications(pool(&state)?, user, 200).await.map_err(ApiError::from_job)?,
        None => Vec::new(),
    };
    let mut body = String::new();
    if listed.is_empty() {
        body.push_str("<p class=\"empty\">Aucune notification.</p>");
    } else {
        body.push_str("<section><table id=\"notifications\"><thead><tr><th>Quand (UTC)</th><th>Alerte</th><th>Site</th><th></th><th>Message</th></tr></thead><tbody>");
        for notification in &listed {
            body.push_str(&format!(
                "<tr><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>",
                notification.created_at.format("%Y-%m-%d %H:%M"),
                escape(notification.rule.as_deref().unwrap_or_default()),
                escape(&notification.subject),
                if notification.kind == "started" { "déclenchée" } else { "levée" },
                escape(&notification.message),
            ));
        }
        body.push_str("</tbody></table></section>");
    }
    Ok(Html(page("/notifications", "Notifications", "", &body)))
}
