//! The metric API: the catalog, one metric's rows for the caller's sites, the sites.

use axum::Json;
use axum::extract::{Extension, Path, Query, State};
use opsflux_query::{MetricRequest, ParameterError};

use super::error::{ApiError, Problem};
use super::{AppState, Caller};

/// Query parameters shared by metric answers, pages and exports.
#[derive(Debug, Default, serde::Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct MetricParameters {
    /// Site codes, comma separated (default: every site in the caller's scope).
    pub site: Option<String>,
    /// First day, YYYY-MM-DD (default: 89 days before `to`).
    pub from: Option<String>,
    /// Last day, YYYY-MM-DD (default: today).
    pub to: Option<String>,
    /// day, week, month, quarter, year or total (default: the metric's).
    pub grain: Option<String>,
    /// Dimensions to group by, comma separated (default: the metric's).
    pub by: Option<String>,
}

impl MetricParameters {
    pub fn request(&self) -> Result<MetricRequest, ParameterError> {
        MetricRequest::from_text(
            self.site.as_deref(),
            self.from.as_deref(),
            self.to.as_deref(),
            self.grain.as_deref(),
            self.by.as_deref(),
            chrono::Utc::now().date_naive(),
        )
    }
}

/// `GET /api/metrics`: the metric catalog.
#[utoipa::path(get, path = "/api/metrics", tag = "metrics",
    responses((status = 200, description = "every metric with its dimensions and measures", body = serde_json::Value),
        (status = 401, body = Problem, content_type = "application/problem+json"), (status = 403, body = Problem, content_type = "application/problem+json")))]
pub(crate) async fn metrics_json(State(state): State<AppState>) -> Json<serde_json::Value> {
    let metrics: Vec<serde_json::Value> = state
        .engine
        .catalog()
        .metrics()
        .map(|metric| {
            serde_json::json!({
                "name": metric.name,
                "title": metric.title,
                "description": metric.description,
                "unit": metric.unit,
                "chart": metric.chart,
                "grain": metric.grain,
                "dimensions": std::iter::once("site").chain(metric.dimensions.iter().map(String::as_str)).collect::<Vec<_>>(),
                "required": metric.required,
                "default_by": metric.default_by,
                "measures": metric.measures,
                "href": format!("/api/metrics/{}", metric.name),
            })
        })
        .collect();
    Json(serde_json::json!({ "metrics": metrics }))
}

/// `GET /api/metrics/{name}`: one metric's rows for the caller's sites.
#[utoipa::path(get, path = "/api/metrics/{name}", tag = "metrics",
    params(("name" = String, Path, description = "metric name, e.g. pob.occupancy"), MetricParameters),
    responses((status = 200, description = "columns, typed rows and the warehouse versions read", body = serde_json::Value),
        (status = 400, description = "a parameter is wrong (named in `parameter`)", body = Problem, content_type = "application/problem+json"),
        (status = 401, body = Problem, content_type = "application/problem+json"), (status = 403, body = Problem, content_type = "application/problem+json")))]
pub(crate) async fn metric_json(
    State(state): State<AppState>,
    Extension(caller): Extension<Caller>,
    Path(name): Path<String>,
    Query(parameters): Query<MetricParameters>,
) -> Result<Json<serde_json::Value>, ApiError> {
    let request = parameters.request().map_err(|error| ApiError::bad_parameter(&error))?;
    let result = state
        .engine
        .metric(&name, &request, &caller.scope)
        .await
        .map_err(|error| ApiError::from_query("metric", error))?;
    serde_json::to_value(&*result).map(Json).map_err(|error| ApiError::internal("serializing a metric", &error))
}

/// `GET /api/sites`: the site codes the caller may see.
#[utoipa::path(get, path = "/api/sites", tag = "metrics",
    responses((status = 200, description = "site codes in the caller's scope", body = serde_json::Value),
        (status = 401, body = Problem, content_type = "application/problem+json"), (status = 403, body = Problem, content_type = "application/problem+json")))]
pub(crate) async fn sites_json(
    State(state): State<AppState>,
    Extension(caller): Extension<Caller>,
) -> Json<serde_json::Value> {
    let pin = state.engine.pin();
    Json(serde_json::json!({ "sites": pin.sites_in(&caller.scope), "pin": pin.generation }))
}
