//! Scheduled reports over HTTP: the JSON API (`/api/schedules…`) and the pages to
//! create, edit, pause, resume and run schedules and read their history. Holders of
//! `schedules.manage.all` see every schedule; `schedules.manage.site` their own.
//! Every change is audited.

use axum::Json;
use axum::body::Bytes;
use axum::extract::{Extension, Form, Path, State};
use axum::http::StatusCode;
use axum::response::{Html, IntoResponse, Redirect, Response};
use sqlx::PgPool;
use uuid::Uuid;

use super::error::{ApiError, Problem, json_body};
use super::layout::{escape, page};
use super::{AppState, Caller};
use crate::jobs::schedules::{self, Firing, Schedule, ScheduleSpec};

pub(crate) fn pool(state: &AppState) -> Result<&PgPool, ApiError> {
    state.pool.as_ref().ok_or_else(|| {
        ApiError::not_found("this server has no platform database (it serves a warehouse alone)".to_owned())
    })
}

/// The owner filter of the caller: none with `schedules.manage.all`, else themselves.
fn owner_filter(caller: &Caller, permission: &str) -> Option<Uuid> {
    if caller.principal.permissions.contains(&format!("{permission}.all")) { None } else { caller.principal.user_id }
}

/// A schedule the caller may see, or 404 (also for another owner's, which is not told apart).
async fn visible(pool: &PgPool, caller: &Caller, id: Uuid) -> Result<Schedule, ApiError> {
    let schedule = schedules::get(pool, id).await.map_err(ApiError::from_job)?;
    match owner_filter(caller, "schedules.manage") {
        Some(owner) if schedule.owner_id != Some(owner) => Err(ApiError::not_found(format!("no schedule {id}"))),
        _ => Ok(schedule),
    }
}

/// A stored document's SQL blocks run as each recipient, but writing one needs the
/// permission to write documents.
fn check_document(caller: &Caller, spec: &ScheduleSpec) -> Result<(), ApiError> {
    if spec.document.is_some() && caller.principal.scope_for("redacteur.write").is_none() {
        return Err(ApiError::forbidden("scheduling your own document needs the permission redacteur.write")
            .with_parameter("document"));
    }
    Ok(())
}

async fn audit(
    state: &AppState,
    caller: &Caller,
    action: &str,
    id: Uuid,
    parameters: serde_json::Value,
) -> Result<(), ApiError> {
    state.audit_change(caller, action, "platform.schedules", id, parameters).await
}

/// `GET /api/schedules`.
#[utoipa::path(get, path = "/api/schedules", tag = "schedules",
    responses((status = 200, body = Vec<Schedule>), (status = 401, body = Problem, content_type = "application/problem+json"), (status = 403, body = Problem, content_type = "application/problem+json")))]
pub(crate) async fn list_json(
    State(state): State<AppState>,
    Extension(caller): Extension<Caller>,
) -> Result<Json<Vec<Schedule>>, ApiError> {
    let pool = pool(&state)?;
    Ok(Json(schedules::list(pool, owner_filter(&caller, "schedules.manage")).await.map_err(ApiError::from_job)?))
}

/// `POST /api/schedules`: 201 with the stored schedule.
#[utoipa::path(post, path = "/api/schedules", tag = "schedules", request_body = ScheduleSpec,
    responses((status = 201, body = Schedule), (status = 400, description = "`pointer` names the member at fault", body = Problem, content_type = "application/problem+json"),
        (status = 401, body = Problem, content_type = "application/problem+json"), (status = 403, body = Problem, content_type = "application/problem+json"), (status = 415, body = Problem, content_type = "application/problem+json")))]
pub(crate) async fn create_json(
    State(state): State<AppState>,
    Extension(caller): Extension<Caller>,
    body: Bytes,
) -> Result<Response, ApiError> {
    let spec: ScheduleSpec = json_body(&body)?;
    check_document(&caller, &spec)?;
    let pool = pool(&state)?;
    let id = schedules::add(pool, &spec, caller.principal.user_id).await.map_err(ApiError::from_job)?;
    audit(&state, &caller, "schedule.add", id, serde_json::to_value(&spec).unwrap_or_default()).await?;
    let schedule = schedules::get(pool, id).await.map_err(ApiError::from_job)?;
    Ok((StatusCode::CREATED, Json(schedule)).into_response())
}

/// `GET /api/schedules/{id}`.
#[utoipa::path(get, path = "/api/schedules/{id}", tag = "schedules", params(("id" = String, Path, description = "schedule id")),
    responses((status = 200, body = Schedule), (status = 400, body = Problem, content_type = "application/problem+json"), (status = 401, body = Problem, content_type = "application/problem+json"), (status = 403, body = Problem, content_type = "application/problem+json"), (status = 404, body = Problem, content_type = "application/problem+json")))]
pub(crate) async fn get_json(
    State(state): State<AppState>,
    Extension(caller): Extension<Caller>,
    Path(id): Path<String>,
) -> Result<Json<Schedule>, ApiError> {
    let id = parse_id(&id)?;
    Ok(Json(visible(pool(&state)?, &caller, id).await?))
}

/// `PUT /api/schedules/{id}`: replaces the definition.
#[utoipa::path(put, path = "/api/schedules/{id}", tag = "schedules", params(("id" = String, Path, description = "schedule id")), request_body = ScheduleSpec,
    responses((status = 200, body = Schedule), (status = 400, body = Problem, content_type = "application/problem+json"), (status = 401, body = Problem, content_type = "application/problem+json"), (status = 403, body = Problem, content_type = "application/problem+json"), (status = 404, body = Problem, content_type = "application/problem+json"), (status = 415, body = Problem, content_type = "application/problem+json")))]
pub(crate) async fn update_json(
    State(state): State<AppState>,
    Extension(caller): Extension<Caller>,
    Path(id): Path<String>,
    body: Bytes,
) -> Result<Json<Schedule>, ApiError> {
    let id = parse_id(&id)?;
    let pool = pool(&state)?;
    visible(pool, &caller, id).await?;
    let spec: ScheduleSpec = json_body(&body)?;
    check_document(&caller, &spec)?;
    schedules::update(pool, id, &spec, caller.principal.user_id).await.map_err(ApiError::from_job)?;
    audit(&state, &caller, "schedule.update", id, serde_json::to_value(&spec).unwrap_or_default()).await?;
    Ok(Json(schedules::get(pool, id).await.map_err(ApiError::from_job)?))
}

/// `DELETE /api/schedules/{id}`: the schedule stops; its history stays.
#[utoipa::path(delete, path = "/api/schedules/{id}", tag = "schedules", params(("id" = String, Path, description = "schedule id")),
    responses((status = 204, description = "deleted"), (status = 400, body = Problem, content_type = "application/problem+json"), (status = 401, body = Problem, content_type = "application/problem+json"), (status = 403, body = Problem, content_type = "application/problem+json"), (status = 404, body = Problem, content_type = "application/problem+json")))]
pub(crate) async fn delete_json(
    State(state): State<AppState>,
    Extension(caller): Extension<Caller>,
    Path(id): Path<String>,
) -> Result<StatusCode, ApiError> {
    let id = parse_id(&id)?;
    let pool = pool(&state)?;
    visible(pool, &caller, id).await?;
    schedules::delete(pool, id, caller.principal.user_id).await.map_err(ApiError::from_job)?;
    audit(&state, &caller, "schedule.delete", id, serde_json::json!({})).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// `POST /api/schedules/{id}/pause`.
#[utoipa::path(post, path = "/api/schedules/{id}/pause", tag = "schedules", params(("id" = String, Path, description = "schedule id")),
    responses((status = 200, body = Schedule), (status = 400, body = Problem, content_type = "application/problem+json"), (status = 401, body = Problem, content_type = "application/problem+json"), (status = 403, body = Problem, content_type = "application/problem+json"), (status = 404, body = Problem, content_type = "application/problem+json")))]
pub(crate) async fn pause_json(
    State(state): State<AppState>,
    Extension(caller): Extension<Caller>,
    Path(id): Path<String>,
) -> Result<Json<Schedule>, ApiError> {
    set_enabled(&state, &caller, &id, false).await.map(Json)
}

/// `POST /api/schedules/{id}/resume`: fires again from its next time (missed ones are not run).
#[utoipa::path(post, path = "/api/schedules/{id}/resume", tag = "schedules", params(("id" = String, Path, description = "schedule id")),
    responses((status = 200, body = Schedule), (status = 400, body = Problem, content_type = "application/problem+json"), (status = 401, body = Problem, content_type = "application/problem+json"), (status = 403, body = Problem, content_type = "application/problem+json"), (status = 404, body = Problem, content_type = "application/problem+json")))]
pub(crate) async fn resume_json(
    State(state): State<AppState>,
    Extension(caller): Extension<Caller>,
    Path(id): Path<String>,
) -> Result<Json<Schedule>, ApiError> {
    set_enabled(&state, &caller, &id, true).await.map(Json)
}

async fn set_enabled(state: &AppState, caller: &Caller, id: &str, enabled: bool) -> Result<Schedule, ApiError> {
    let id = parse_id(id)?;
    let pool = pool(state)?;
    visible(pool, caller, id).await?;
    schedules::set_enabled(pool, id, enabled, caller.principal.user_id).await.map_err(ApiError::from_job)?;
    audit(state, caller, if enabled { "schedule.resume" } else { "schedule.pause" }, id, serde_json::json!({})).await?;
    schedules::get(pool, id).await.map_err(ApiError::from_job)
}

/// The job a run-now request queued.
#[derive(Debug, serde::Serialize, utoipa::ToSchema)]
pub struct Queued {
    #[schema(value_type = String)]
    pub job: Uuid,
    /// Where to follow it.
    pub history: String,
}

/// `POST /api/schedules/{id}/run`: fires the schedule once now; the scheduler takes
/// the job at its next tick (202).
#[utoipa::path(post, path = "/api/schedules/{id}/run", tag = "schedules", params(("id" = String, Path, description = "schedule id")),
    responses((status = 202, body = Queued), (status = 400, body = Problem, content_type = "application/problem+json"), (status = 401, body = Problem, content_type = "application/problem+json"), (status = 403, body = Problem, content_type = "application/problem+json"), (status = 404, body = Problem, content_type = "application/problem+json")))]
pub(crate) async fn run_json(
    State(state): State<AppState>,
    Extension(caller): Extension<Caller>,
    Path(id): Path<String>,
) -> Result<Response, ApiError> {
    let job = run_now(&state, &caller, &id).await?;
    let history = format!("/api/schedules/{id}/history");
    Ok((StatusCode::ACCEPTED, Json(Queued { job, history })).into_response())
}

async fn run_now(state: &AppState, caller: &Caller, id: &str) -> Result<Uuid, ApiError> {
    let id = parse_id(id)?;
    let pool = pool(state)?;
    visible(pool, caller, id).await?;
    let job = crate::jobs::scheduler::queue_now(pool, id).await.map_err(ApiError::from_job)?;
    audit(state, caller, "schedule.run_now", id, serde_json::json!({ "job": job })).await?;
    Ok(job)
}

/// `GET /api/schedules/{id}/history`: the newest firings with their deliveries.
#[utoipa::path(get, path = "/api/schedules/{id}/history", tag = "schedules", params(("id" = String, Path, description = "schedule id")),
    responses((status = 200, body = Vec<Firing>), (status = 400, body = Problem, content_type = "application/problem+json"), (status = 401, body = Problem, content_type = "application/problem+json"), (status = 403, body = Problem, content_type = "application/problem+json"), (status = 404, body = Problem, content_type = "application/problem+json")))]
pub(crate) async fn history_json(
    State(state): State<AppState>,
    Extension(caller): Extension<Caller>,
    Path(id): Path<String>,
) -> Result<Json<Vec<Firing>>, ApiError> {
    let id = parse_id(&id)?;
    let pool = pool(&state)?;
    visible(pool, &caller, id).await?;
    Ok(Json(schedules::history(pool, id, 50).await.map_err(ApiError::from_job)?))
}

pub(crate) fn parse_id(text: &str) -> Result<Uuid, ApiError> {
    text.parse().map_err(|_| {
        ApiError::new(StatusCode::BAD_REQUEST, "Invalid parameter", format!("`{text}` is not an id"))
            .with_parameter("id")
    })
}

// Pages.

/// Checks a form's CSRF field against the session.
pub(crate) fn check_csrf(caller: &Caller, fields: &[(String, String)]) -> Result<(), ApiError> {
    let given = fields.iter().find(|(name, _)| name == "csrf").map(|(_, value)| value.as_str()).unwrap_or_default();
    match &caller.session {
        Some(session) if crate::auth::same_token(given, &session.csrf_token) => Ok(()),
        _ => Err(ApiError::forbidden("wrong or missing CSRF token: submit the form from its own page")),
    }
}

pub(crate) fn csrf_field(caller: &Caller) -> String {
    caller
        .session
        .as_ref()
        .map(|session| format!("<input type=\"hidden\" name=\"csrf\" value=\"{}\">", escape(&session.csrf_token)))
        .unwrap_or_default()
}

fn field<'a>(fields: &'a [(String, String)], name: &str) -> Option<&'a str> {
    fields.iter().find(|(key, _)| key == name).map(|(_, value)| value.as_str()).filter(|value| !value.trim().is_empty())
}

/// A list typed one per line or separated by commas.
pub(crate) fn list_field(fields: &[(String, String)], name: &str) -> Vec<String> {
    fields
        .iter()
        .filter(|(key, _)| key == name)
        .flat_map(|(_, value)| {
            value
                .split([',', '\n', ';'])
                .map(str::trim)
                .filter(|item| !item.is_empty())
                .map(str::to_owned)
                .collect::<Vec<_>>()
        })
        .collect()
}

fn spec_from_form(fields: &[(String, String)]) -> ScheduleSpec {
    let mut parameters = std::collections::BTreeMap::new();
    for (key, value) in fields {
        if let Some(name) = key.strip_prefix("param.")
            && !value.trim().is_empty()
        {
            parameters.insert(name.to_owned(), value.trim().to_owned());
        }
    }
    ScheduleSpec {
        name: field(fields, "name").map(str::to_owned),
        template: field(fields, "template").map(str::to_owned),
        document: None,
        cron: field(fields, "cron").unwrap_or_default().to_owned(),
        timezone: field(fields, "timezone").map(str::to_owned),
        formats: list_field(fields, "formats"),
        to: list_field(fields, "to"),
        to_roles: list_field(fields, "to_roles"),
        parameters,
        subject: field(fields, "subject").map(str::to_owned),
        body: field(fields, "body").map(str::to_owned),
        enabled: Some(field(fields, "paused").is_none()),
    }
}

/// The published templates a schedule may render, `(code, title)`.
async fn templates(pool: &PgPool) -> Result<Vec<(String, String)>, ApiError> {
    crate::documents::offered_templates(Some(pool)).await.map_err(ApiError::from_render)
}

fn form(
    caller: &Caller,
    action: &str,
    spec: &ScheduleSpec,
    templates: &[(String, String)],
    error: Option<&str>,
) -> String {
    let value = |text: Option<&str>| escape(text.unwrap_or_default());
    let template_options: String = templates
        .iter()
        .map(|(name, _)| {
            let selected = if spec.template.as_deref() == Some(name.as_str()) { " selected" } else { "" };
            let name = escape(name);
            format!("<option value=\"{name}\"{selected}>{name}</option>")
        })
        .collect();
    let format_boxes: String = schedules::FORMATS
        .iter()
        .map(|format| {
            let checked = if spec.formats.iter().any(|chosen| chosen == format)
                || (spec.formats.is_empty() && *format == "pdf")
            {
                " checked"
            } else {
                ""
            };
            format!(
                "<label><input type=\"checkbox\" name=\"formats\" value=\"{format}\"{checked}> {}</label>",
                format.to_uppercase()
            )
        })
        .collect();
    let problem =
        error.map(|error| format!("<p class=\"problem\" role=\"alert\">{}</p>", escape(error))).unwrap_or_default();
    format!(
        "{problem}<form method=\"post\" action=\"{action}\" class=\"schedule\">{}\
         <label>Nom <input name=\"name\" value=\"{}\" placeholder=\"Rapport hebdomadaire\"></label>\
         <label>Modèle <select name=\"template\">{template_options}</select></label>\
         <label>Cron <input name=\"cron\" required value=\"{}\" placeholder=\"0 7 * * 1\"> <small>minute heure jour mois jour-de-semaine (0 7 * * 1 : le lundi à 07:00)</small></label>\
         <label>Fuseau horaire <input name=\"timezone\" value=\"{}\" placeholder=\"Europe/Paris\"></label>\
         <fieldset><legend>Formats</legend>{format_boxes}</fieldset>\
         <label>Destinataires (e-mails, un par ligne) <textarea name=\"to\" rows=\"3\">{}</textarea></label>\
         <label>Rôles destinataires (admin, manager, engineer, analyst, viewer) <input name=\"to_roles\" value=\"{}\"></label>\
         <label>Site (vide : les sites de chaque destinataire) <input name=\"param.site\" value=\"{}\"></label>\
         <label>Période (vide : la dernière semaine ou le dernier mois complets) <input name=\"param.period\" value=\"{}\" placeholder=\"2026-W47\"></label>\
         <label>Objet <input name=\"subject\" value=\"{}\"></label>\
         <label>Message <textarea name=\"body\" rows=\"3\">{}</textarea></label>\
         <label><input type=\"checkbox\" name=\"paused\" value=\"1\"{}> En pause</label>\
         <button type=\"submit\">Enregistrer</button></form>",
        csrf_field(caller),
        value(spec.name.as_deref()),
        escape(&spec.cron),
        value(spec.timezone.as_deref()),
        escape(&spec.to.join("\n")),
        escape(&spec.to_roles.join(", ")),
        value(spec.parameters.get("site").map(String::as_str)),
        value(spec.parameters.get("period").map(String::as_str)),
        value(spec.subject.as_deref()),
        value(spec.body.as_deref()),
        if spec.enabled == Some(false) { " checked" } else { "" },
    )
}

const STYLE: &str = "<style>form.schedule{display:grid;gap:.5rem;max-width:44rem;background:#fff;border:1px solid #d8dee6;border-radius:6px;padding:1rem}form.schedule input,form.schedule select,form.schedule textarea{width:100%;padding:.3rem;box-sizing:border-box}form.schedule input[type=checkbox]{width:auto}form.inline{display:inline;margin-right:.4rem}</style>";

/// `GET /schedules`: the schedules and a form for a new one.
pub(crate) async fn list_page(
    State(state): State<AppState>,
    Extension(caller): Extension<Caller>,
) -> Result<Html<String>, ApiError> {
    let pool = pool(&state)?;
    let all = schedules::list(pool, owner_filter(&caller, "schedules.manage")).await.map_err(ApiError::from_job)?;
    Ok(Html(page(
        "/schedules",
        "Envois programmés",
        STYLE,
        &list_body(
            &caller,
            &all,
            &ScheduleSpec { formats: vec!["pdf".into()], ..Default::default() },
            &templates(pool).await?,
            None,
        ),
    )))
}

fn list_body(
    caller: &Caller,
    all: &[Schedule],
    draft: &ScheduleSpec,
    templates: &[(String, String)],
    error: Option<&str>,
) -> String {
    let mut body = String::new();
    if all.is_empty() {
        body.push_str("<p class=\"empty\">Aucun envoi programmé pour l'instant.</p>");
    } else {
        body.push_str("<section><table id=\"schedules\"><thead><tr><th>Nom</th><th>Modèle</th><th>Cron</th><th>État</th><th>Prochain envoi</th><th>Destinataires</th></tr></thead><tbody>");
        for schedule in all {
            let recipients: Vec<String> = schedule
                .to
                .iter()
                .cloned()
                .chain(schedule.to_roles.iter().map(|role| format!("rôle {role}")))
                .collect();
            body.push_str(&format!(
                "<tr><td><a href=\"/schedules/{}\">{}</a></td><td>{}</td><td><code>{}</code> {}</td><td>{}</td><td>{}</td><td>{}</td></tr>",
                schedule.id,
                escape(&schedule.name),
                escape(&schedule.template),
                escape(&schedule.cron),
                escape(&schedule.timezone),
                if schedule.enabled { "actif" } else { "en pause" },
                schedule.next_run_at.map(|at| at.format("%Y-%m-%d %H:%M UTC").to_string()).unwrap_or_default(),
                escape(&recipients.join(", ")),
            ));
        }
        body.push_str("</tbody></table></section>");
    }
    body.push_str("<h2>Nouvel envoi</h2>");
    body.push_str(&form(caller, "/schedules", draft, templates, error));
    body
}

/// `POST /schedules`: creates from the form, or shows it again with the problem.
pub(crate) async fn create_form(
    State(state): State<AppState>,
    Extension(caller): Extension<Caller>,
    Form(fields): Form<Vec<(String, String)>>,
) -> Result<Response, ApiError> {
    check_csrf(&caller, &fields)?;
    let pool = pool(&state)?;
    let spec = spec_from_form(&fields);
    match schedules::add(pool, &spec, caller.principal.user_id).await {
        Ok(id) => {
            audit(&state, &caller, "schedule.add", id, serde_json::to_value(&spec).unwrap_or_default()).await?;
            Ok(Redirect::to(&format!("/schedules/{id}")).into_response())
        }
        Err(error @ crate::jobs::JobError::Invalid { .. }) => {
            let all =
                schedules::list(pool, owner_filter(&caller, "schedules.manage")).await.map_err(ApiError::from_job)?;
            let body = list_body(&caller, &all, &spec, &templates(pool).await?, Some(&error.to_string()));
            Ok((StatusCode::BAD_REQUEST, Html(page("/schedules", "Envois programmés", STYLE, &body))).into_response())
        }
        Err(other) => Err(ApiError::from_job(other)),
    }
}

/// `GET /schedules/{id}`: the schedule, its actions, the form to edit it and its history.
pub(crate) async fn detail_page(
    State(state): State<AppState>,
    Extension(caller): Extension<Caller>,
    Path(id): Path<String>,
) -> Result<Html<String>, ApiError> {
    let id = parse_id(&id)?;
    let pool = pool(&state)?;
    let schedule = visible(pool, &caller, id).await?;
    Ok(Html(detail(pool, &caller, &schedule, None).await?))
}

async fn detail(pool: &PgPool, caller: &Caller, schedule: &Schedule, error: Option<&str>) -> Result<String, ApiError> {
    let history = schedules::history(pool, schedule.id, 30).await.map_err(ApiError::from_job)?;
    let csrf = csrf_field(caller);
    let action = |verb: &str, label: &str| {
        format!(
            "<form method=\"post\" action=\"/schedules/{}/{verb}\" class=\"inline\">{csrf}<button type=\"submit\">{label}</button></form>",
            schedule.id
        )
    };
    let mut body = format!(
        "<p>{} · <code>{}</code> ({}) · prochain envoi {}</p><p>{}{}{}</p>",
        if schedule.enabled { "Actif" } else { "En pause" },
        escape(&schedule.cron),
        escape(&schedule.timezone),
        schedule.next_run_at.map(|at| at.format("%Y-%m-%d %H:%M UTC").to_string()).unwrap_or_else(|| "—".into()),
        action("run", "Envoyer maintenant"),
        if schedule.enabled { action("pause", "Mettre en pause") } else { action("resume", "Reprendre") },
        action("delete", "Supprimer"),
    );
    body.push_str("<h2>Historique</h2>");
    if history.is_empty() {
        body.push_str("<p class=\"empty\">Cet envoi n'a pas encore eu lieu.</p>");
    } else {
        body.push_str("<section><table id=\"history\"><thead><tr><th>Déclenchement (UTC)</th><th>État</th><th>Tentatives</th><th>Entrepôt</th><th>Destinataire</th><th>Envoi</th><th>Sites</th><th>Message-ID</th><th>Erreur ou note</th></tr></thead><tbody>");
        for firing in &history {
            let state_text = format!("{}{}", firing.status, if firing.late { " (en retard)" } else { "" });
            let warehouse = firing.warehouse.as_ref().map(ToString::to_string).unwrap_or_default();
            let rows = firing.deliveries.len().max(1);
            body.push_str(&format!(
                "<tr><td rowspan=\"{rows}\">{}</td><td rowspan=\"{rows}\">{}</td><td rowspan=\"{rows}\">{}</td><td rowspan=\"{rows}\"><code>{}</code></td>",
                firing.fire_at.map(|at| at.format("%Y-%m-%d %H:%M:%S").to_string()).unwrap_or_default(),
                escape(&state_text),
                firing.attempts,
                escape(&warehouse),
            ));
            if firing.deliveries.is_empty() {
                body.push_str(&format!(
                    "<td colspan=\"5\">{}</td></tr>",
                    escape(firing.error.as_deref().unwrap_or(""))
                ));
            }
            for (index, delivery) in firing.deliveries.iter().enumerate() {
                if index > 0 {
                    body.push_str("<tr>");
                }
                let remark = [delivery.error.as_deref(), delivery.note.as_deref()]
                    .into_iter()
                    .flatten()
                    .collect::<Vec<_>>()
                    .join(" — ");
                body.push_str(&format!(
                    "<td>{}</td><td>{}</td><td>{}</td><td><code>{}</code></td><td>{}</td></tr>",
                    escape(&delivery.email),
                    escape(&delivery.status),
                    escape(&delivery.sites),
                    escape(&delivery.message_id),
                    escape(&remark),
                ));
            }
        }
        body.push_str("</tbody></table></section>");
    }
    body.push_str("<h2>Modifier</h2>");
    let spec = ScheduleSpec {
        name: Some(schedule.name.clone()),
        template: Some(schedule.template.clone()),
        document: None,
        cron: schedule.cron.clone(),
        timezone: Some(schedule.timezone.clone()),
        formats: schedule.formats.clone(),
        to: schedule.to.clone(),
        to_roles: schedule.to_roles.clone(),
        parameters: schedule.parameters.clone(),
        subject: Some(schedule.subject.clone()),
        body: Some(schedule.body.clone()),
        enabled: Some(schedule.enabled),
    };
    if schedule.document.is_some() {
        body.push_str("<p>Ce envoi rend un document enregistré : modifiez-le par l'API (<code>PUT /api/schedules/{id}</code>).</p>");
    } else {
        let templates = templates(pool).await?;
        body.push_str(&form(caller, &format!("/schedules/{}", schedule.id), &spec, &templates, error));
    }
    Ok(page("/schedules", &schedule.name, STYLE, &body))
}

/// `POST /schedules/{id}`: saves the edit form.
pub(crate) async fn update_form(
    State(state): State<AppState>,
    Extension(caller): Extension<Caller>,
    Path(id): Path<String>,
    Form(fields): Form<Vec<(String, String)>>,
) -> Result<Response, ApiError> {
    check_csrf(&caller, &fields)?;
    let id = parse_id(&id)?;
    let pool = pool(&state)?;
    let schedule = visible(pool, &caller, id).await?;
    let mut spec = spec_from_form(&fields);
    if schedule.document.is_some() {
        spec.template = None;
        spec.document = schedule.document.clone();
    }
    match schedules::update(pool, id, &spec, caller.principal.user_id).await {
        Ok(()) => {
            audit(&state, &caller, "schedule.update", id, serde_json::to_value(&spec).unwrap_or_default()).await?;
            Ok(Redirect::to(&format!("/schedules/{id}")).into_response())
        }
        Err(error @ crate::jobs::JobError::Invalid { .. }) => {
            let html = detail(pool, &caller, &schedule, Some(&error.to_string())).await?;
            Ok((StatusCode::BAD_REQUEST, Html(html)).into_response())
        }
        Err(other) => Err(ApiError::from_job(other)),
    }
}

/// `POST /schedules/{id}/{action}`: pause, resume, run or delete from the page.
pub(crate) async fn action_form(
    State(state): State<AppState>,
    Extension(caller): Extension<Caller>,
    Path((id, action)): Path<(String, String)>,
    Form(fields): Form<Vec<(String, String)>>,
) -> Result<Response, ApiError> {
    check_csrf(&caller, &fields)?;
    match action.as_str() {
        "pause" => set_enabled(&state, &caller, &id, false).await.map(|_| ())?,
        "resume" => set_enabled(&state, &caller, &id, true).await.map(|_| ())?,
        "run" => run_now(&state, &caller, &id).await.map(|_| ())?,
        "delete" => {
            let id = parse_id(&id)?;
            let pool = pool(&state)?;
            visible(pool, &caller, id).await?;
            schedules::delete(pool, id, caller.principal.user_id).await.map_err(ApiError::from_job)?;
            audit(&state, &caller, "schedule.delete", id, serde_json::json!({})).await?;
            return Ok(Redirect::to("/schedules").into_response());
        }
        other => return Err(ApiError::not_found(format!("no action `{other}`: pause, resume, run or delete"))),
    }
    Ok(Redirect::to(&format!("/schedules/{id}")).into_response())
}
