//! PowerTrace's JSON API: a site's load list with its metered side, demand forecasts
//! against N-1, and what-if scenarios — create, read, update (each save a new
//! version), delete, evaluate (recorded with the version and warehouse snapshot read),
//! their versions and evaluations, and two scenarios compared. Reading needs
//! `dashboards.read`, writing `powertrace.scenario_write`, both within the caller's
//! sites. A bad scenario is refused whole with the JSON pointer of the member at fault
//! (`/items/3/power_factor`): nothing is stored.

use axum::Json;
use axum::body::Bytes;
use axum::extract::{Extension, Path, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use chrono::NaiveDate;
use opsflux_powertrace::forecast::ForecastError;
use opsflux_powertrace::scenario::check_items;
use opsflux_query::Scope;
use sqlx::PgPool;
use uuid::Uuid;

use super::error::{ApiError, Problem};
use super::schedules::{parse_id, pool};
use super::{AppState, Caller};
use crate::powertrace::analysis::{self, DemandForecast, Evaluated, SiteLoadList};
use crate::powertrace::store::{self, Scenario, StoreError};
use crate::powertrace::{PowerTraceError, plant, wire};

impl ApiError {
    /// A PowerTrace error: unknown sites and boards name their parameter, bad scenario
    /// items their member, data that cannot be forecast is 422; the rest is internal.
    pub(crate) fn from_powertrace(error: PowerTraceError) -> Self {
        match error {
            PowerTraceError::UnknownSite { .. } => Self::not_found(error.to_string()).with_parameter("site"),
            PowerTraceError::UnknownSwitchboard { .. } => {
                Self::not_found(error.to_string()).with_parameter("switchboard")
            }
            PowerTraceError::UnknownScenario { .. } => Self::not_found(error.to_string()).with_parameter("scenario"),
            PowerTraceError::AmbiguousScenario { .. } => {
                Self::new(StatusCode::BAD_REQUEST, "Invalid parameter", error.to_string()).with_parameter("scenario")
            }
            PowerTraceError::NoReadings(_) => Self::unprocessable(error.to_string()),
            PowerTraceError::Forecast(ForecastError::Horizon(_)) => {
                Self::new(StatusCode::BAD_REQUEST, "Invalid parameter", error.to_string()).with_parameter("horizon")
            }
            PowerTraceError::Forecast(ForecastError::Level(_)) => {
                Self::new(StatusCode::BAD_REQUEST, "Invalid parameter", error.to_string()).with_parameter("level")
            }
            PowerTraceError::Forecast(ForecastError::Frame(_)) => Self::internal("preparing the series failed", &error),
            PowerTraceError::Forecast(other) => Self::unprocessable(format!("the demand cannot be forecast: {other}")),
            PowerTraceError::Item(item) => {
                let wire = wire::item_error(&item);
                ApiError::bad_body(wire.message, Some(wire.pointer))
            }
            PowerTraceError::Plant(opsflux_powertrace::PowerError::Column { .. }) => {
                Self::internal("reading the site's electrical tables failed", &error)
            }
            PowerTraceError::Busy(_) => {
                Self::new(StatusCode::SERVICE_UNAVAILABLE, "Time limit reached", error.to_string())
            }
            PowerTraceError::Plant(plant) => {
                Self::unprocessable(format!("the site's electrical data is inconsistent: {plant}"))
            }
            PowerTraceError::Query(query) => Self::from_query("reading PowerTrace tables failed", query),
            other => Self::internal("the PowerTrace calculation failed", &other),
        }
    }

    fn unprocessable(detail: String) -> Self {
        Self::new(StatusCode::UNPROCESSABLE_ENTITY, "Cannot be calculated", detail)
    }

    fn from_store(error: StoreError) -> Self {
        match error {
            StoreError::NotFound(_) => Self::not_found(error.to_string()),
            StoreError::NoVersion { .. } => Self::not_found(error.to_string()).with_parameter("version"),
            StoreError::UnknownSite(_) => Self::bad_body(error.to_string(), Some("/site".into())),
            other => Self::internal("the scenario could not be stored or read", &other),
        }
    }
}

/// A scenario the caller may read (its site is in `scope`), or 404 — also for another
/// site's, which is not told apart.
pub(crate) async fn visible(
    pool: &PgPool,
    scope: &Scope,
    id: Uuid,
    version: Option<i32>,
) -> Result<Scenario, ApiError> {
    // The scope is checked on the scenario itself before any version is looked up, so
    // another site's scenario answers exactly as one that does not exist.
    let latest = store::get(pool, id, None).await.map_err(ApiError::from_store)?;
    if !scope.allows(&latest.site) {
        return Err(ApiError::not_found(format!("no scenario {id}")));
    }
    match version {
        Some(version) if version != latest.version => {
            store::get(pool, id, Some(version)).await.map_err(ApiError::from_store)
        }
        _ => Ok(latest),
    }
}

/// The scope of `dashboards.read`, for reading a scenario on a write route.
fn read_scope(caller: &Caller) -> Scope {
    caller.principal.scope_for("dashboards.read").unwrap_or_else(|| caller.scope.clone())
}

/// Reads and checks a scenario body against the site's plant; nothing is stored yet.
async fn checked(state: &AppState, caller: &Caller, body: &[u8]) -> Result<wire::ScenarioSpec, ApiError> {
    let value: serde_json::Value = serde_json::from_slice(body)
        .map_err(|error| ApiError::bad_body(format!("the body is not JSON: {error}"), Some(String::new())))?;
    let today = chrono::Utc::now().date_naive();
    let spec = wire::scenario(&value, today).map_err(|error| ApiError::bad_body(error.message, Some(error.pointer)))?;
    if !caller.scope.allows(&spec.site) {
        return Err(ApiError::forbidden(format!(
            "site `{}` is outside the sites where you may write scenarios",
            spec.site
        ))
        .with_pointer("/site".into()));
    }
    let plant = plant(&state.engine, &caller.scope, &spec.site).await.map_err(|error| match error {
        PowerTraceError::UnknownSite { .. } => ApiError::bad_body(error.to_string(), Some("/site".into())),
        other => ApiError::from_powertrace(other),
    })?;
    check_items(&plant, &spec.items).map_err(|error| ApiError::from_powertrace(PowerTraceError::Item(error)))?;
    Ok(spec)
}

#[derive(Debug, serde::Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub(crate) struct ListParameters {
    /// Only this site's scenarios.
    site: Option<String>,
}

/// `GET /api/powertrace/scenarios`: the scenarios of the caller's sites.
#[utoipa::path(get, path = "/api/powertrace/scenarios", tag = "powertrace", params(ListParameters),
    responses((status = 200, body = Object), (status = 400, body = Problem, content_type = "application/problem+json"), (status = 401, body = Problem, content_type = "application/problem+json"), (status = 403, body = Problem, content_type = "application/problem+json"), (status = 404, body = Problem, content_type = "application/problem+json")))]
pub(crate) async fn list_json(
    State(state): State<AppState>,
    Extension(caller): Extension<Caller>,
    Query(parameters): Query<ListParameters>,
) -> Result<Json<serde_json::Value>, ApiError> {
    let pool = pool(&state)?;
    let mut sites: Option<Vec<String>> = match &caller.scope {
        Scope::All => None,
        Scope::Sites(codes) => Some(codes.iter().cloned().collect()),
    };
    if let Some(site) = parameters.site {
        if !caller.scope.allows(&site) || !state.engine.pin().sites.contains(&site) {
            return Err(
                ApiError::not_found(format!("no site `{site}` among those you may read")).with_parameter("site")
            );
        }
        sites = Some(vec![site]);
    }
    let scenarios = store::list(pool, sites.as_deref()).await.map_err(ApiError::from_store)?;
    Ok(Json(serde_json::json!({ "scenarios": scenarios })))
}

/// `POST /api/powertrace/scenarios`: 201 with the stored scenario (version 1).
#[utoipa::path(post, path = "/api/powertrace/scenarios", tag = "powertrace", request_body = Object,
    responses((status = 201, body = Object), (status = 400, description = "`pointer` names the member at fault (`/items/3/power_factor`)", body = Problem, content_type = "application/problem+json"),
        (status = 401, body = Problem, content_type = "application/problem+json"), (status = 403, body = Problem, content_type = "application/problem+json"), (status = 404, body = Problem, content_type = "application/problem+json"), (status = 415, body = Problem, content_type = "application/problem+json"), (status = 422, body = Problem, content_type = "application/problem+json")))]
pub(crate) async fn create_json(
    State(state): State<AppState>,
    Extension(caller): Extension<Caller>,
    body: Bytes,
) -> Result<Response, ApiError> {
    let pool = pool(&state)?;
    let spec = checked(&state, &caller, &body).await?;
    let id = store::create(pool, &spec, caller.principal.user_id).await.map_err(ApiError::from_store)?;
    let scenario = store::get(pool, id, None).await.map_err(ApiError::from_store)?;
    state
        .audit_change(
            &caller,
            "scenario.add",
            "powertrace.scenarios",
            id,
            serde_json::to_value(&scenario).unwrap_or_default(),
        )
        .await?;
    Ok((StatusCode::CREATED, Json(scenario)).into_response())
}

#[derive(Debug, serde::Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub(crate) struct VersionParameter {
    /// A saved version (default: the newest).
    pub(crate) version: Option<String>,
}

pub(crate) fn parse_version(version: Option<&str>) -> Result<Option<i32>, ApiError> {
    version
        .map(|text| {
            text.parse::<i32>().ok().filter(|version| *version > 0).ok_or_else(|| {
                ApiError::new(
                    StatusCode::BAD_REQUEST,
                    "Invalid parameter",
                    format!("`{text}` is not a version number (1, 2...)"),
                )
                .with_parameter("version")
            })
        })
        .transpose()
}

/// `GET /api/powertrace/scenarios/{id}`: the scenario at a version.
#[utoipa::path(get, path = "/api/powertrace/scenarios/{id}", tag = "powertrace", params(("id" = String, Path, description = "scenario id"), VersionParameter),
    responses((status = 200, body = Object), (status = 400, body = Problem, content_type = "application/problem+json"), (status = 401, body = Problem, content_type = "application/problem+json"), (status = 403, body = Problem, content_type = "application/problem+json"), (status = 404, body = Problem, content_type = "application/problem+json")))]
pub(crate) async fn get_json(
    State(state): State<AppState>,
    Extension(caller): Extension<Caller>,
    Path(id): Path<String>,
    Query(parameters): Query<VersionParameter>,
) -> Result<Json<Scenario>, ApiError> {
    let id = parse_id(&id)?;
    let version = parse_version(parameters.version.as_deref())?;
    Ok(Json(visible(pool(&state)?, &caller.scope, id, version).await?))
}

/// `PUT /api/powertrace/scenarios/{id}`: saves the body as the next version.
#[utoipa::path(put, path = "/api/powertrace/scenarios/{id}", tag = "powertrace", params(("id" = String, Path, description = "scenario id")), request_body = Object,
    responses((status = 200, body = Object), (status = 400, description = "`pointer` names the member at fault", body = Problem, content_type = "application/problem+json"), (status = 401, body = Problem, content_type = "application/problem+json"),
        (status = 403, body = Problem, content_type = "application/problem+json"), (status = 404, body = Problem, content_type = "application/problem+json"), (status = 415, body = Problem, content_type = "application/problem+json"), (status = 422, body = Problem, content_type = "application/problem+json")))]
pub(crate) async fn update_json(
    State(state): State<AppState>,
    Extension(caller): Extension<Caller>,
    Path(id): Path<String>,
    body: Bytes,
) -> Result<Json<Scenario>, ApiError> {
    let id = parse_id(&id)?;
    let pool = pool(&state)?;
    let existing = visible(pool, &caller.scope, id, None).await?;
    let spec = checked(&state, &caller, &body).await?;
    // A scenario's versions belong to its site: moving it would show its history to
    // another site's readers.
    if spec.site != existing.site {
        return Err(ApiError::bad_body(
            format!(
                "the scenario is of site {}; a scenario cannot move to another site (create one there)",
                existing.site
            ),
            Some("/site".into()),
        ));
    }
    store::update(pool, id, &spec, caller.principal.user_id).await.map_err(ApiError::from_store)?;
    let scenario = store::get(pool, id, None).await.map_err(ApiError::from_store)?;
    state
        .audit_change(
            &caller,
            "scenario.update",
            "powertrace.scenarios",
            id,
            serde_json::to_value(&scenario).unwrap_or_default(),
        )
        .await?;
    Ok(Json(scenario))
}

/// `DELETE /api/powertrace/scenarios/{id}`: the scenario leaves the lists; its
/// versions and evaluations stay recorded.
#[utoipa::path(delete, path = "/api/powertrace/scenarios/{id}", tag = "powertrace", params(("id" = String, Path, description = "scenario id")),
    responses((status = 204, description = "deleted"), (status = 400, body = Problem, content_type = "application/problem+json"), (status = 401, body = Problem, content_type = "application/problem+json"), (status = 403, body = Problem, content_type = "application/problem+json"), (status = 404, body = Problem, content_type = "application/problem+json")))]
pub(crate) async fn delete_json(
    State(state): State<AppState>,
    Extension(caller): Extension<Caller>,
    Path(id): Path<String>,
) -> Result<StatusCode, ApiError> {
    let id = parse_id(&id)?;
    let pool = pool(&state)?;
    visible(pool, &caller.scope, id, None).await?;
    store::delete(pool, id, caller.principal.user_id).await.map_err(ApiError::from_store)?;
    state.audit_change(&caller, "scenario.delete", "powertrace.scenarios", id, serde_json::json!({})).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// `GET /api/powertrace/scenarios/{id}/versions`: every saved version, newest first.
#[utoipa::path(get, path = "/api/powertrace/scenarios/{id}/versions", tag = "powertrace", params(("id" = String, Path, description = "scenario id")),
    responses((status = 200, body = Object), (status = 400, body = Problem, content_type = "application/problem+json"), (status = 401, body = Problem, content_type = "application/problem+json"), (status = 403, body = Problem, content_type = "application/problem+json"), (status = 404, body = Problem, content_type = "application/problem+json")))]
pub(crate) async fn versions_json(
    State(state): State<AppState>,
    Extension(caller): Extension<Caller>,
    Path(id): Path<String>,
) -> Result<Json<serde_json::Value>, ApiError> {
    let id = parse_id(&id)?;
    let pool = pool(&state)?;
    visible(pool, &caller.scope, id, None).await?;
    let versions = store::versions(pool, id).await.map_err(ApiError::from_store)?;
    Ok(Json(serde_json::json!({ "versions": versions })))
}

#[derive(Debug, serde::Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub(crate) struct EvaluateParameters {
    /// The day to evaluate as of, YYYY-MM-DD (default: when the last item has started).
    day: Option<String>,
    /// A saved version (default: the newest).
    version: Option<String>,
}

fn parse_day(day: Option<&str>) -> Result<Option<NaiveDate>, ApiError> {
    day.map(|text| {
        NaiveDate::parse_from_str(text, "%Y-%m-%d").map_err(|_| {
            ApiError::new(StatusCode::BAD_REQUEST, "Invalid parameter", format!("`{text}` is not a date (YYYY-MM-DD)"))
                .with_parameter("day")
        })
    })
    .transpose()
}

/// `POST /api/powertrace/scenarios/{id}/evaluate`: evaluates the scenario on the
/// warehouse as it is now, beside the baseline, and records the evaluation with the
/// version and the table versions read.
#[utoipa::path(post, path = "/api/powertrace/scenarios/{id}/evaluate", tag = "powertrace", params(("id" = String, Path, description = "scenario id"), EvaluateParameters),
    responses((status = 200, body = Object), (status = 400, body = Problem, content_type = "application/problem+json"), (status = 401, body = Problem, content_type = "application/problem+json"), (status = 403, body = Problem, content_type = "application/problem+json"), (status = 404, body = Problem, content_type = "application/problem+json"), (status = 422, body = Problem, content_type = "application/problem+json"), (status = 503, body = Problem, content_type = "application/problem+json")))]
pub(crate) async fn evaluate_json(
    State(state): State<AppState>,
    Extension(caller): Extension<Caller>,
    Path(id): Path<String>,
    Query(parameters): Query<EvaluateParameters>,
) -> Result<Json<serde_json::Value>, ApiError> {
    let id = parse_id(&id)?;
    let day = parse_day(parameters.day.as_deref())?;
    let version = parse_version(parameters.version.as_deref())?;
    let pool = pool(&state)?;
    let scenario = visible(pool, &caller.scope, id, version).await?;
    let evaluated =
        analysis::evaluate(&state.engine, &caller.scope, &scenario, day).await.map_err(ApiError::from_powertrace)?;
    let result = serde_json::to_value(&evaluated.evaluation).unwrap_or_default();
    let failures = evaluated.evaluation.failures.len();
    let recorded = store::record_evaluation(
        pool,
        id,
        scenario.version,
        evaluated.evaluation.day,
        &evaluated.warehouse,
        failures,
        &result,
        caller.principal.user_id,
    )
    .await
    .map_err(ApiError::from_store)?;
    state
        .audit_change(
            &caller,
            "scenario.evaluate",
            "powertrace.scenarios",
            id,
            serde_json::json!({ "version": scenario.version, "evaluation": recorded }),
        )
        .await?;
    Ok(Json(serde_json::json!({
        "id": recorded,
        "scenario": id,
        "version": scenario.version,
        "warehouse": evaluated.warehouse,
        "evaluation": result,
    })))
}

/// `GET /api/powertrace/scenarios/{id}/evaluations`: the recorded evaluations, newest first.
#[utoipa::path(get, path = "/api/powertrace/scenarios/{id}/evaluations", tag = "powertrace", params(("id" = String, Path, description = "scenario id")),
    responses((status = 200, body = Object), (status = 400, body = Problem, content_type = "application/problem+json"), (status = 401, body = Problem, content_type = "application/problem+json"), (status = 403, body = Problem, content_type = "application/problem+json"), (status = 404, body = Problem, content_type = "application/problem+json")))]
pub(crate) async fn evaluations_json(
    State(state): State<AppState>,
    Extension(caller): Extension<Caller>,
    Path(id): Path<String>,
) -> Result<Json<serde_json::Value>, ApiError> {
    let id = parse_id(&id)?;
    let pool = pool(&state)?;
    visible(pool, &caller.scope, id, None).await?;
    let evaluations = store::evaluations(pool, id).await.map_err(ApiError::from_store)?;
    Ok(Json(serde_json::json!({ "evaluations": evaluations })))
}

#[derive(Debug, serde::Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub(crate) struct CompareParameters {
    /// The first scenario's id.
    a: Option<String>,
    /// The second scenario's id.
    b: Option<String>,
    /// The day both are evaluated as of, YYYY-MM-DD (default: each its own).
    day: Option<String>,
}

/// `GET /api/powertrace/compare?a=&b=`: two scenarios evaluated side by side: the
/// site's figures, each switchboard's maximum demand and the failing checks of each.
#[utoipa::path(get, path = "/api/powertrace/compare", tag = "powertrace", params(CompareParameters),
    responses((status = 200, body = Object), (status = 400, body = Problem, content_type = "application/problem+json"), (status = 401, body = Problem, content_type = "application/problem+json"), (status = 403, body = Problem, content_type = "application/problem+json"), (status = 404, body = Problem, content_type = "application/problem+json"), (status = 422, body = Problem, content_type = "application/problem+json"), (status = 503, body = Problem, content_type = "application/problem+json")))]
pub(crate) async fn compare_json(
    State(state): State<AppState>,
    Extension(caller): Extension<Caller>,
    Query(parameters): Query<CompareParameters>,
) -> Result<Json<serde_json::Value>, ApiError> {
    let id = |value: Option<&str>, parameter: &'static str| {
        let value = value.ok_or_else(|| {
            ApiError::new(StatusCode::BAD_REQUEST, "Invalid parameter", format!("{parameter}: give a scenario id"))
                .with_parameter(parameter)
        })?;
        parse_id(value).map_err(|error| error.with_parameter(parameter))
    };
    let ids = [id(parameters.a.as_deref(), "a")?, id(parameters.b.as_deref(), "b")?];
    let day = parse_day(parameters.day.as_deref())?;
    let pool = pool(&state)?;
    let mut evaluated: Vec<(Scenario, Evaluated)> = Vec::new();
    for (id, parameter) in ids.into_iter().zip(["a", "b"]) {
        let scenario = visible(pool, &caller.scope, id, None).await.map_err(|error| error.with_parameter(parameter))?;
        let result = analysis::evaluate(&state.engine, &caller.scope, &scenario, day)
            .await
            .map_err(ApiError::from_powertrace)?;
        evaluated.push((scenario, result));
    }
    Ok(Json(compare(&evaluated)))
}

/// Two evaluations side by side.
pub(crate) fn compare(evaluated: &[(Scenario, Evaluated)]) -> serde_json::Value {
    let mut codes: Vec<String> = evaluated
        .iter()
        .flat_map(|(_, result)| result.evaluation.switchboards.iter().map(|board| board.code.clone()))
        .collect();
    codes.sort();
    codes.dedup();
    let switchboards: Vec<serde_json::Value> = codes
        .iter()
        .map(|code| {
            let kw: Vec<Option<f64>> = evaluated
                .iter()
                .map(|(_, result)| {
                    result
                        .evaluation
                        .switchboards
                        .iter()
                        .find(|board| &board.code == code)
                        .and_then(|board| board.scenario_kw)
                })
                .collect();
            let baseline = evaluated.first().and_then(|(_, result)| {
                result
                    .evaluation
                    .switchboards
                    .iter()
                    .find(|board| &board.code == code)
                    .and_then(|board| board.baseline_kw)
            });
            serde_json::json!({ "code": code, "baseline_kw": baseline, "scenario_kw": kw })
        })
        .collect();
    let scenarios: Vec<serde_json::Value> = evaluated
        .iter()
        .map(|(scenario, result)| {
            let list = &result.evaluation.scenario;
            serde_json::json!({
                "id": scenario.id,
                "name": scenario.name,
                "site": scenario.site,
                "version": scenario.version,
                "day": result.evaluation.day,
                "demand_kw": list.demand.kw,
                "demand_kva": list.demand.kva(),
                "power_factor": list.demand.power_factor(),
                "n1_kw": list.generation.n1_kw,
                "n1_loading": list.generation.n1_loading,
                "failures": result.evaluation.failures,
                "recommendations": result.evaluation.recommendations,
                "warehouse": result.warehouse,
            })
        })
        .collect();
    serde_json::json!({ "scenarios": scenarios, "switchboards": switchboards })
}

/// `GET /api/powertrace/sites/{site}/load-list`: the site's load list — every line,
/// each switchboard rolled up, generation with N-1 and N-2, transformer loading — with
/// the checks that fail, the remedies, and the metered peak, 95th percentile and
/// average beside the calculated maximum demand.
#[utoipa::path(get, path = "/api/powertrace/sites/{site}/load-list", tag = "powertrace", params(("site" = String, Path, description = "site code")),
    responses((status = 200, body = Object), (status = 401, body = Problem, content_type = "application/problem+json"), (status = 403, body = Problem, content_type = "application/problem+json"), (status = 404, body = Problem, content_type = "application/problem+json"), (status = 422, body = Problem, content_type = "application/problem+json"), (status = 503, body = Problem, content_type = "application/problem+json")))]
pub(crate) async fn load_list_json(
    State(state): State<AppState>,
    Extension(caller): Extension<Caller>,
    Path(site): Path<String>,
) -> Result<Json<SiteLoadList>, ApiError> {
    Ok(Json(analysis::site_load_list(&state.engine, &caller.scope, &site).await.map_err(ApiError::from_powertrace)?))
}

#[derive(Debug, serde::Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub(crate) struct ForecastParameters {
    /// A switchboard code: that board and what it feeds (default: the whole site).
    switchboard: Option<String>,
    /// Steps of 15 minutes (96) or a duration (12h, 7d, 2w), up to 92 days; default 7d.
    horizon: Option<String>,
    /// The central interval, in percent (default 95; the 80 % interval comes too).
    level: Option<String>,
    /// A scenario of the site whose added load (from each item's start) is forecast too.
    scenario: Option<String>,
}

/// `GET /api/powertrace/sites/{site}/forecast`: the demand forecast with 80 % and
/// `level` % intervals; for a site, when demand (plus a scenario's added load) first
/// exceeds the N-1 capacity, and how likely.
#[utoipa::path(get, path = "/api/powertrace/sites/{site}/forecast", tag = "powertrace", params(("site" = String, Path, description = "site code"), ForecastParameters),
    responses((status = 200, body = Object), (status = 400, body = Problem, content_type = "application/problem+json"), (status = 401, body = Problem, content_type = "application/problem+json"), (status = 403, body = Problem, content_type = "application/problem+json"), (status = 404, body = Problem, content_type = "application/problem+json"), (status = 422, body = Problem, content_type = "application/problem+json"), (status = 503, body = Problem, content_type = "application/problem+json")))]
pub(crate) async fn forecast_json(
    State(state): State<AppState>,
    Extension(caller): Extension<Caller>,
    Path(site): Path<String>,
    Query(parameters): Query<ForecastParameters>,
) -> Result<Json<DemandForecast>, ApiError> {
    Ok(Json(site_forecast(&state, &caller, &site, &parameters).await?))
}

pub(crate) async fn site_forecast(
    state: &AppState,
    caller: &Caller,
    site: &str,
    parameters: &ForecastParameters,
) -> Result<DemandForecast, ApiError> {
    let level = match parameters.level.as_deref() {
        None => 95.0,
        Some(text) => text.parse::<f64>().ok().filter(|level| (50.0..=99.9).contains(level)).ok_or_else(|| {
            ApiError::new(
                StatusCode::BAD_REQUEST,
                "Invalid parameter",
                format!("level: `{text}` is not a percentage between 50 and 99.9"),
            )
            .with_parameter("level")
        })?,
    };
    let scenario = match &parameters.scenario {
        None => None,
        Some(id) => {
            let id = parse_id(id).map_err(|error| error.with_parameter("scenario"))?;
            let scenario = visible(pool(state)?, &read_scope(caller), id, None)
                .await
                .map_err(|error| error.with_parameter("scenario"))?;
            if scenario.site != site {
                return Err(ApiError::new(
                    StatusCode::BAD_REQUEST,
                    "Invalid parameter",
                    format!("scenario {id} is of site {}, not {site}", scenario.site),
                )
                .with_parameter("scenario"));
            }
            Some(scenario)
        }
    };
    analysis::demand_forecast(
        &state.engine,
        &caller.scope,
        site,
        parameters.switchboard.as_deref(),
        parameters.horizon.as_deref().unwrap_or("7d"),
        level,
        scenario.as_ref(),
    )
    .await
    .map_err(ApiError::from_powertrace)
}
