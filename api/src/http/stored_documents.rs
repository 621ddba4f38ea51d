//! Rédacteur documents stored in PostgreSQL over HTTP (`/api/documents`): list, create,
//! read any version, save the next version, delete, versions, diff, restore, review
//! actions and the render of any version. Every route needs `redacteur.write`; a reader
//! scoped to sites sees the documents of those sites and those of no site, and renders
//! with their own scope. A document is bound against the warehouse before it is saved,
//! so bad blocks are refused with their place. Changes are audited.

use std::collections::BTreeMap;

use axum::Json;
use axum::body::Bytes;
use axum::extract::{Extension, Path, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use opsflux_query::Scope;
use serde_json::Value;
use uuid::Uuid;

use super::error::{ApiError, Problem, json_body};
use super::powertrace::{VersionParameter, parse_version};
use super::schedules::{parse_id, pool};
use super::{AppState, Caller};
use crate::document_store::{self, Kind, Page, Review, StoreError, Summary};

impl ApiError {
    /// A store error: bad input names its member (400), a missing document or version
    /// is 404, a refused review step 409, the rest internal.
    pub(crate) fn from_document_store(error: StoreError) -> Self {
        match error {
            StoreError::Invalid(opsflux_render::DocumentError::Invalid { block, pointer, message }) => Self {
                block,
                pointer: Some(format!("/document{pointer}")),
                ..Self::new(StatusCode::BAD_REQUEST, "Invalid document", message)
            },
            StoreError::Invalid(other) => Self::new(StatusCode::BAD_REQUEST, "Invalid document", other.to_string())
                .with_pointer("/document".into()),
            StoreError::BadCode(_) | StoreError::DuplicateCode(_) => {
                let status = if matches!(error, StoreError::BadCode(_)) {
                    StatusCode::BAD_REQUEST
                } else {
                    StatusCode::CONFLICT
                };
                Self::new(status, "Invalid template code", error.to_string()).with_pointer("/template".into())
            }
            StoreError::UnknownSite(_) | StoreError::SitedTemplate => {
                Self::new(StatusCode::BAD_REQUEST, "Invalid request body", error.to_string())
                    .with_pointer("/site".into())
            }
            StoreError::Stale { .. } => Self::new(StatusCode::CONFLICT, "Saved meanwhile", error.to_string()),
            StoreError::CommentRequired => {
                Self::new(StatusCode::BAD_REQUEST, "Invalid request body", error.to_string())
                    .with_pointer("/comment".into())
            }
            StoreError::NotFound(_) => Self::not_found(error.to_string()),
            StoreError::NoVersion { .. } => Self::not_found(error.to_string()).with_parameter("version"),
            StoreError::Transition { .. } | StoreError::OwnApproval { .. } => {
                Self::new(StatusCode::CONFLICT, "Review step refused", error.to_string())
            }
            StoreError::Database(_) | StoreError::Corrupt { .. } => Self::internal("the document store failed", &error),
        }
    }
}

/// A document the caller may see (its site in their scope, or no site), or 404 — also
/// for another site's, which is not told apart.
pub(crate) async fn visible(state: &AppState, caller: &Caller, id: Uuid) -> Result<Summary, ApiError> {
    let summary = document_store::summary(pool(state)?, id).await.map_err(ApiError::from_document_store)?;
    match &summary.site {
        Some(site) if !caller.scope.allows(site) => Err(ApiError::not_found(format!("no document {id}"))),
        _ => Ok(summary),
    }
}

/// A document the caller may change: as [`visible`], and a shared one (no site: the
/// templates every site's reports and schedules use) only with every site in scope.
async fn changeable(state: &AppState, caller: &Caller, id: Uuid) -> Result<Summary, ApiError> {
    let summary = visible(state, caller, id).await?;
    let shared = summary.site.is_none() || summary.kind == Kind::Template;
    if shared && caller.scope != Scope::All {
        return Err(ApiError::forbidden(
            "this document is shared by every site: it is changed by authors whose scope is every site",
        ));
    }
    Ok(summary)
}

/// `?limit=&offset=` of a list.
#[derive(Debug, serde::Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub(crate) struct PageParameters {
    /// Entries per page: 1 to 500, 100 by default.
    limit: Option<String>,
    /// Entries skipped before the page: 0 by default.
    offset: Option<String>,
}

impl PageParameters {
    fn page(&self) -> Result<Page, ApiError> {
        let number = |parameter: &'static str,
                      text: Option<&str>,
                      default: i64,
                      range: std::ops::RangeInclusive<i64>| {
            match text {
                None => Ok(default),
                Some(text) => text.trim().parse::<i64>().ok().filter(|value| range.contains(value)).ok_or_else(|| {
                    ApiError::new(
                        StatusCode::BAD_REQUEST,
                        "Invalid parameter",
                        format!("`{text}` is not a whole number from {} to {}", range.start(), range.end()),
                    )
                    .with_parameter(parameter)
                }),
            }
        };
        Ok(Page {
            limit: number("limit", self.limit.as_deref(), Page::DEFAULT_LIMIT, 1..=Page::MOST)?,
            offset: number("offset", self.offset.as_deref(), 0, 0..=i64::from(i32::MAX))?,
        })
    }
}

/// `GET /api/documents?limit=&offset=`: the documents and templates the caller may see,
/// most recently changed first, a page at a time, with the `total`.
#[utoipa::path(get, path = "/api/documents", tag = "documents", params(PageParameters),
    responses((status = 200, body = Object), (status = 400, body = Problem, content_type = "application/problem+json"), (status = 401, body = Problem, content_type = "application/problem+json"), (status = 403, body = Problem, content_type = "application/problem+json"), (status = 404, description = "no platform database", body = Problem, content_type = "application/problem+json")))]
pub(crate) async fn list_json(
    State(state): State<AppState>,
    Extension(caller): Extension<Caller>,
    Query(parameters): Query<PageParameters>,
) -> Result<Json<Value>, ApiError> {
    let page = parameters.page()?;
    let sites: Option<Vec<String>> = match &caller.scope {
        Scope::All => None,
        Scope::Sites(codes) => Some(codes.iter().cloned().collect()),
    };
    let (documents, total) =
        document_store::list(pool(&state)?, sites.as_deref(), page).await.map_err(ApiError::from_document_store)?;
    Ok(Json(serde_json::json!({ "documents": documents, "total": total, "limit": page.limit, "offset": page.offset })))
}

/// `GET /api/documents/schema`: the JSON Schema (2020-12) of a document's blocks,
/// generated from the block definitions the renderer and every save check against.
#[utoipa::path(get, path = "/api/documents/schema", tag = "documents",
    responses((status = 200, description = "a JSON Schema, draft 2020-12", body = Object, content_type = "application/schema+json"), (status = 401, body = Problem, content_type = "application/problem+json"), (status = 403, body = Problem, content_type = "application/problem+json")))]
pub(crate) async fn schema_json() -> impl IntoResponse {
    static SCHEMA: std::sync::LazyLock<String> =
        std::sync::LazyLock::new(|| opsflux_render::blocks::schema().to_string());
    ([(axum::http::header::CONTENT_TYPE, "application/schema+json")], SCHEMA.as_str())
}

#[derive(Debug, serde::Deserialize)]
#[serde(deny_unknown_fields)]
struct CreateBody {
    document: Value,
    /// A template code: the document is stored as that template.
    template: Option<String>,
    site: Option<String>,
    comment: Option<String>,
}

#[derive(Debug, serde::Deserialize)]
#[serde(deny_unknown_fields)]
struct SaveBody {
    document: Value,
    comment: Option<String>,
    /// The version the editor started from: a save on top of another answers 409.
    base_version: Option<i32>,
}

/// The text stored for a document sent as JSON: printed with two-space indents.
fn source_of(document: &Value) -> Result<String, ApiError> {
    if !document.is_object() {
        return Err(ApiError::bad_body(
            "`document` must be an object (Editor.js JSON)".into(),
            Some("/document".into()),
        ));
    }
    serde_json::to_string_pretty(document).map_err(|error| ApiError::internal("printing the document", &error))
}

/// Binds the document as the caller would read it (no parameters: every site of their
/// scope, the last complete period) so that what only data can tell — an unknown
/// metric, a dimension the metric lacks, an unknown variable, an image too large — is
/// refused before anything is saved, with the block and pointer (under `/document`).
/// A failure that is not the document's (the warehouse busy, the time limit) does not
/// stop the save.
async fn check_against_data(
    state: &AppState,
    caller: &Caller,
    site: Option<&str>,
    source: &str,
) -> Result<(), ApiError> {
    // A site's document is checked over that site's data alone, as its readers see it.
    let scope = match site {
        Some(site) => Scope::sites([site]).intersect(&caller.scope),
        None => caller.scope.clone(),
    };
    let document = opsflux_render::Document::from_json(source)
        .map_err(|error| ApiError::from_document_store(StoreError::Invalid(error)))?;
    // The check binds like a render, so it takes a render slot: saves cannot crowd out
    // the renders (nor the other way round for longer than the queue's wait).
    let Ok(Ok(_permit)) = tokio::time::timeout(state.renders.queue_wait, state.renders.permits.acquire()).await else {
        return Err(ApiError::new(
            StatusCode::SERVICE_UNAVAILABLE,
            "Busy",
            "the server is busy rendering other documents: save again in a moment",
        )
        .with_retry_after(5));
    };
    let today = chrono::Utc::now().date_naive();
    let parameters = BTreeMap::new();
    let bound = crate::documents::bind(&state.engine, document, &parameters, today, &scope);
    match tokio::time::timeout(state.renders.timeout, bound).await {
        Ok(Err(error)) if error.is_bad_input() && error.pointer().is_some() => {
            let mut problem = ApiError::from_render(error);
            problem.pointer = problem.pointer.map(|pointer| format!("/document{pointer}"));
            Err(problem)
        }
        Ok(Err(error)) => {
            tracing::warn!(%error, "a document was saved without its data check");
            Ok(())
        }
        Ok(Ok(_)) => Ok(()),
        Err(_) => {
            tracing::warn!("a document's data check ran out of time; it was saved unchecked");
            Ok(())
        }
    }
}

/// `POST /api/documents`: `{"document": {...}, "template"?: code, "site"?: code,
/// "comment"?}` stored as version 1 in draft; 201 with its list line.
#[utoipa::path(post, path = "/api/documents", tag = "documents", request_body = Object,
    responses((status = 201, body = Object), (status = 400, description = "`block` and `pointer` name what is wrong", body = Problem, content_type = "application/problem+json"),
        (status = 401, body = Problem, content_type = "application/problem+json"), (status = 403, body = Problem, content_type = "application/problem+json"), (status = 404, body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "a template with that code exists", body = Problem, content_type = "application/problem+json"), (status = 415, body = Problem, content_type = "application/problem+json"),
        (status = 503, description = "too many renders and checks at once", body = Problem, content_type = "application/problem+json")))]
pub(crate) async fn create_json(
    State(state): State<AppState>,
    Extension(caller): Extension<Caller>,
    body: Bytes,
) -> Result<Response, ApiError> {
    let pool = pool(&state)?;
    let mut body: CreateBody = json_body(&body)?;
    if let Some(site) = &body.site
        && !caller.scope.allows(site)
    {
        return Err(
            ApiError::forbidden(format!("site `{site}` is outside your site scope")).with_pointer("/site".into())
        );
    }
    // A shared document (no site) or a template is for authors of every site; an author
    // of one site writes for it by default.
    if let Scope::Sites(sites) = &caller.scope {
        if body.template.is_some() {
            return Err(ApiError::forbidden("templates are written by authors whose scope is every site")
                .with_pointer("/template".into()));
        }
        if body.site.is_none() {
            match sites.iter().collect::<Vec<_>>().as_slice() {
                [only] => body.site = Some((*only).clone()),
                known => {
                    let known: Vec<&str> = known.iter().map(|site| site.as_str()).collect();
                    return Err(ApiError::bad_body(
                        format!("give the `site` the document belongs to (one of {})", known.join(", ")),
                        Some("/site".into()),
                    ));
                }
            }
        }
    }
    let source = source_of(&body.document)?;
    check_against_data(&state, &caller, body.site.as_deref(), &source).await?;
    let kind = if body.template.is_some() { Kind::Template } else { Kind::Document };
    let id = document_store::create(
        pool,
        kind,
        body.template.as_deref(),
        body.site.as_deref(),
        &source,
        caller.principal.user_id,
        body.comment.as_deref(),
    )
    .await
    .map_err(ApiError::from_document_store)?;
    let summary = document_store::summary(pool, id).await.map_err(ApiError::from_document_store)?;
    let parameters = serde_json::json!({"template": body.template, "site": body.site, "title": summary.title});
    state.audit_change(&caller, "document.add", "redacteur.documents", id, parameters).await?;
    Ok((StatusCode::CREATED, Json(summary)).into_response())
}

/// `GET /api/documents/{id}?version=`: the document's list line and the body of a
/// version (default: the newest).
#[utoipa::path(get, path = "/api/documents/{id}", tag = "documents", params(("id" = String, Path, description = "document id"), VersionParameter),
    responses((status = 200, body = Object), (status = 400, body = Problem, content_type = "application/problem+json"), (status = 401, body = Problem, content_type = "application/problem+json"), (status = 403, body = Problem, content_type = "application/problem+json"), (status = 404, body = Problem, content_type = "application/problem+json")))]
pub(crate) async fn get_json(
    State(state): State<AppState>,
    Extension(caller): Extension<Caller>,
    Path(id): Path<String>,
    Query(parameters): Query<VersionParameter>,
) -> Result<Json<Value>, ApiError> {
    let id = parse_id(&id)?;
    let version = parse_version(parameters.version.as_deref())?;
    let summary = visible(&state, &caller, id).await?;
    let saved = document_store::read(pool(&state)?, id, version).await.map_err(ApiError::from_document_store)?;
    let mut answer = serde_json::to_value(&summary).map_err(|error| ApiError::internal("printing", &error))?;
    answer["shown_version"] = saved.version.into();
    answer["document"] = saved.body;
    Ok(Json(answer))
}

/// `PUT /api/documents/{id}`: `{"document": {...}, "comment"?}` saved as the next version.
#[utoipa::path(put, path = "/api/documents/{id}", tag = "documents", params(("id" = String, Path, description = "document id")), request_body = Object,
    responses((status = 200, body = Object), (status = 400, description = "`block` and `pointer` name what is wrong", body = Problem, content_type = "application/problem+json"), (status = 401, body = Problem, content_type = "application/problem+json"),
        (status = 403, body = Problem, content_type = "application/problem+json"), (status = 404, body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "saved on top of another version than `base_version`", body = Problem, content_type = "application/problem+json"), (status = 415, body = Problem, content_type = "application/problem+json"),
        (status = 503, description = "too many renders and checks at once", body = Problem, content_type = "application/problem+json")))]
pub(crate) async fn update_json(
    State(state): State<AppState>,
    Extension(caller): Extension<Caller>,
    Path(id): Path<String>,
    body: Bytes,
) -> Result<Json<Summary>, ApiError> {
    let id = parse_id(&id)?;
    let summary = changeable(&state, &caller, id).await?;
    let body: SaveBody = json_body(&body)?;
    let source = source_of(&body.document)?;
    check_against_data(&state, &caller, summary.site.as_deref(), &source).await?;
    let pool = pool(&state)?;
    let version =
        document_store::save(pool, id, &source, caller.principal.user_id, body.comment.as_deref(), body.base_version)
            .await
            .map_err(ApiError::from_document_store)?;
    let parameters = serde_json::json!({"version": version, "comment": body.comment});
    state.audit_change(&caller, "document.save", "redacteur.documents", id, parameters).await?;
    Ok(Json(document_store::summary(pool, id).await.map_err(ApiError::from_document_store)?))
}

/// `DELETE /api/documents/{id}`: the document leaves every list; its versions stay.
#[utoipa::path(delete, path = "/api/documents/{id}", tag = "documents", params(("id" = String, Path, description = "document id")),
    responses((status = 204), (status = 400, body = Problem, content_type = "application/problem+json"), (status = 401, body = Problem, content_type = "application/problem+json"), (status = 403, body = Problem, content_type = "application/problem+json"), (status = 404, body = Problem, content_type = "application/problem+json")))]
pub(crate) async fn delete_json(
    State(state): State<AppState>,
    Extension(caller): Extension<Caller>,
    Path(id): Path<String>,
) -> Result<StatusCode, ApiError> {
    let id = parse_id(&id)?;
    changeable(&state, &caller, id).await?;
    document_store::delete(pool(&state)?, id, caller.principal.user_id).await.map_err(ApiError::from_document_store)?;
    state.audit_change(&caller, "document.delete", "redacteur.documents", id, Value::Null).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// `GET /api/documents/{id}/versions?limit=&offset=`: the versions with their time,
/// author and comment, oldest first, a page at a time, with the `total`.
#[utoipa::path(get, path = "/api/documents/{id}/versions", tag = "documents", params(("id" = String, Path, description = "document id"), PageParameters),
    responses((status = 200, body = Object), (status = 400, body = Problem, content_type = "application/problem+json"), (status = 401, body = Problem, content_type = "application/problem+json"), (status = 403, body = Problem, content_type = "application/problem+json"), (status = 404, body = Problem, content_type = "application/problem+json")))]
pub(crate) async fn versions_json(
    State(state): State<AppState>,
    Extension(caller): Extension<Caller>,
    Path(id): Path<String>,
    Query(parameters): Query<PageParameters>,
) -> Result<Json<Value>, ApiError> {
    let id = parse_id(&id)?;
    let page = parameters.page()?;
    visible(&state, &caller, id).await?;
    let (versions, total) =
        document_store::versions(pool(&state)?, id, page).await.map_err(ApiError::from_document_store)?;
    Ok(Json(serde_json::json!({ "versions": versions, "total": total, "limit": page.limit, "offset": page.offset })))
}

#[derive(Debug, serde::Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub(crate) struct DiffParameters {
    /// The older version.
    from: Option<String>,
    /// The newer version (default: the newest).
    to: Option<String>,
}

/// `GET /api/documents/{id}/diff?from=&to=`: blocks added, removed, changed (with the
/// JSON pointers of what changed) and moved, and the settings changed.
#[utoipa::path(get, path = "/api/documents/{id}/diff", tag = "documents", params(("id" = String, Path, description = "document id"), DiffParameters),
    responses((status = 200, body = Object), (status = 400, body = Problem, content_type = "application/problem+json"), (status = 401, body = Problem, content_type = "application/problem+json"), (status = 403, body = Problem, content_type = "application/problem+json"), (status = 404, body = Problem, content_type = "application/problem+json")))]
pub(crate) async fn diff_json(
    State(state): State<AppState>,
    Extension(caller): Extension<Caller>,
    Path(id): Path<String>,
    Query(parameters): Query<DiffParameters>,
) -> Result<Json<Value>, ApiError> {
    let id = parse_id(&id)?;
    let from = parse_version(parameters.from.as_deref()).map_err(|error| error.with_parameter("from"))?;
    let to = parse_version(parameters.to.as_deref()).map_err(|error| error.with_parameter("to"))?;
    let summary = visible(&state, &caller, id).await?;
    let pool = pool(&state)?;
    let from = from.unwrap_or((summary.version - 1).max(1));
    let old = document_store::read(pool, id, Some(from)).await.map_err(ApiError::from_document_store)?;
    let new = document_store::read(pool, id, to).await.map_err(ApiError::from_document_store)?;
    let changes = document_store::diff(&old.body, &new.body);
    let lines: Vec<String> = changes.iter().map(ToString::to_string).collect();
    Ok(Json(serde_json::json!({"from": old.version, "to": new.version, "changes": changes, "lines": lines})))
}

/// `POST /api/documents/{id}/restore?version=N`: version N saved again as the newest.
#[utoipa::path(post, path = "/api/documents/{id}/restore", tag = "documents", params(("id" = String, Path, description = "document id"), VersionParameter),
    responses((status = 200, body = Object), (status = 400, body = Problem, content_type = "application/problem+json"), (status = 401, body = Problem, content_type = "application/problem+json"), (status = 403, body = Problem, content_type = "application/problem+json"), (status = 404, body = Problem, content_type = "application/problem+json")))]
pub(crate) async fn restore_json(
    State(state): State<AppState>,
    Extension(caller): Extension<Caller>,
    Path(id): Path<String>,
    Query(parameters): Query<VersionParameter>,
) -> Result<Json<Summary>, ApiError> {
    let id = parse_id(&id)?;
    let Some(version) = parse_version(parameters.version.as_deref())? else {
        return Err(ApiError::new(StatusCode::BAD_REQUEST, "Invalid parameter", "give the `version` to restore")
            .with_parameter("version"));
    };
    let summary = changeable(&state, &caller, id).await?;
    let pool = pool(&state)?;
    // The old version meets today's data as any save does.
    let old = document_store::read(pool, id, Some(version)).await.map_err(ApiError::from_document_store)?;
    check_against_data(&state, &caller, summary.site.as_deref(), &old.source).await?;
    let saved = document_store::restore(pool, id, version, caller.principal.user_id)
        .await
        .map_err(ApiError::from_document_store)?;
    let parameters = serde_json::json!({"restored": version, "version": saved});
    state.audit_change(&caller, "document.restore", "redacteur.documents", id, parameters).await?;
    Ok(Json(document_store::summary(pool, id).await.map_err(ApiError::from_document_store)?))
}

#[derive(Debug, serde::Deserialize)]
#[serde(deny_unknown_fields, rename_all = "snake_case")]
enum ReviewAction {
    Submit,
    Approve,
    Publish,
    SendBack,
}

#[derive(Debug, serde::Deserialize)]
#[serde(deny_unknown_fields)]
struct ReviewBody {
    action: ReviewAction,
    comment: Option<String>,
    /// The version reviewed: required to approve or publish, so that neither applies to
    /// a version saved meanwhile.
    version: Option<i32>,
}

/// `POST /api/documents/{id}/review`: `{"action": "submit" | "approve" | "publish" |
/// "send_back", "comment"?}`. Approval needs another user than the version's author;
/// sending back, a comment. A step the status does not allow is 409.
#[utoipa::path(post, path = "/api/documents/{id}/review", tag = "documents", params(("id" = String, Path, description = "document id")), request_body = Object,
    responses((status = 200, body = Object), (status = 400, body = Problem, content_type = "application/problem+json"), (status = 401, body = Problem, content_type = "application/problem+json"), (status = 403, body = Problem, content_type = "application/problem+json"),
        (status = 404, body = Problem, content_type = "application/problem+json"), (status = 409, description = "the step does not follow from the status, or approval by the author", body = Problem, content_type = "application/problem+json"), (status = 415, body = Problem, content_type = "application/problem+json")))]
pub(crate) async fn review_json(
    State(state): State<AppState>,
    Extension(caller): Extension<Caller>,
    Path(id): Path<String>,
    body: Bytes,
) -> Result<Json<Summary>, ApiError> {
    let id = parse_id(&id)?;
    changeable(&state, &caller, id).await?;
    let body: ReviewBody = json_body(&body)?;
    let action = match body.action {
        ReviewAction::Submit => Review::Submit,
        ReviewAction::Approve => Review::Approve,
        ReviewAction::Publish => Review::Publish,
        ReviewAction::SendBack => Review::SendBack,
    };
    if matches!(action, Review::Approve | Review::Publish) && body.version.is_none() {
        return Err(ApiError::bad_body(
            "give the `version` you reviewed: approval and publication apply to that version only".into(),
            Some("/version".into()),
        ));
    }
    let pool = pool(&state)?;
    let status =
        document_store::review(pool, id, action, caller.principal.user_id, body.comment.as_deref(), body.version)
            .await
            .map_err(ApiError::from_document_store)?;
    let parameters = serde_json::json!({"status": status, "comment": body.comment});
    state.audit_change(&caller, "document.review", "redacteur.documents", id, parameters).await?;
    Ok(Json(document_store::summary(pool, id).await.map_err(ApiError::from_document_store)?))
}

#[derive(Debug, serde::Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub(crate) struct RenderParameters {
    /// pdf (default), docx, xlsx or html.
    format: Option<String>,
    /// A saved version (default: the newest).
    version: Option<String>,
}

/// `POST /api/documents/{id}/render?format=&version=`: a version rendered with the
/// caller's scope; the body may hold `{"parameters": {...}}`.
#[utoipa::path(post, path = "/api/documents/{id}/render", tag = "documents", params(("id" = String, Path, description = "document id"), RenderParameters),
    request_body(content = Object, description = "optional: `parameters` (strings)"),
    responses((status = 200, description = "the rendered file", content(
            (Vec<u8> = "application/pdf"),
            (Vec<u8> = "application/vnd.openxmlformats-officedocument.wordprocessingml.document"),
            (Vec<u8> = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"),
            (String = "text/html"))),
        (status = 400, description = "bad parameter or document: `block` and `pointer` name where", body = Problem, content_type = "application/problem+json"),
        (status = 401, body = Problem, content_type = "application/problem+json"), (status = 403, body = Problem, content_type = "application/problem+json"), (status = 404, body = Problem, content_type = "application/problem+json"), (status = 415, body = Problem, content_type = "application/problem+json"),
        (status = 503, description = "too many renders at once, or a time limit", body = Problem, content_type = "application/problem+json")))]
pub(crate) async fn render_json(
    State(state): State<AppState>,
    Extension(caller): Extension<Caller>,
    Path(id): Path<String>,
    Query(query): Query<RenderParameters>,
    body: Bytes,
) -> Result<Response, ApiError> {
    let id = parse_id(&id)?;
    let version = parse_version(query.version.as_deref())?;
    let format: opsflux_render::OutputFormat =
        query.format.as_deref().unwrap_or("pdf").parse().map_err(|error: String| {
            ApiError::new(StatusCode::BAD_REQUEST, "Invalid parameter", error).with_parameter("format")
        })?;
    let parameters = if body.iter().all(u8::is_ascii_whitespace) {
        BTreeMap::new()
    } else {
        #[derive(serde::Deserialize)]
        #[serde(deny_unknown_fields)]
        struct RenderBody {
            #[serde(default)]
            parameters: BTreeMap<String, String>,
        }
        json_body::<RenderBody>(&body)?.parameters
    };
    let summary = visible(&state, &caller, id).await?;
    let saved = document_store::read(pool(&state)?, id, version).await.map_err(ApiError::from_document_store)?;
    let document = opsflux_render::Document::from_json(&saved.source)
        .map_err(|error| ApiError::from_document_store(StoreError::Invalid(error)))?;
    let name = summary.code.clone().unwrap_or_else(|| format!("document-{id}-v{}", saved.version));
    super::documents::rendered_response(&state, &caller, &name, document, &parameters, format, false).await
}
