//! Search: `GET /api/search` (JSON: ranked hits with marked snippets, facet counts) and
//! the `/search` page (the search box every page carries leads there), both under the
//! caller's site scope, applied inside the index's query.

use std::sync::Arc;
use std::time::Duration;

use axum::Json;
use axum::extract::{Extension, Query, State};
use axum::http::StatusCode;
use axum::response::Html;
use opsflux_query::Scope;
use opsflux_render::{Locale, labels};
use opsflux_search::{Filters, Results, SearchError, SearchIndex, SearchRequest, Visibility};

use super::error::{ApiError, Problem};
use super::layout::{escape, page};
use super::{AppState, Caller};

/// Longest a search may run before the caller gets 503.
const SEARCH_TIME_LIMIT: Duration = Duration::from_secs(5);
/// Searches running at once; past it a search waits up to a second, then gets 503.
static RUNNING: tokio::sync::Semaphore = tokio::sync::Semaphore::const_new(4);

/// Query parameters of a search.
#[derive(Debug, Default, Clone, serde::Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct SearchParameters {
    /// What to look for: words (typos forgiven from 5 letters), "exact phrases" in
    /// quotes; the last word also matches longer words it begins. Empty: everything.
    pub q: Option<String>,
    /// One module: moc, hse, projects, pob, tiers, powertrace, travel, redacteur, cleanvue.
    pub module: Option<String>,
    /// One site code.
    pub site: Option<String>,
    /// One status, as stored (e.g. in_evaluation, closed).
    pub status: Option<String>,
    /// One year (of the record's date).
    pub year: Option<String>,
    /// Page number, from 1.
    pub page: Option<String>,
    /// Hits per page, 1 to 100 (default 20).
    pub per_page: Option<String>,
}

impl SearchParameters {
    /// The request these parameters make for a reader who may see `visibility`.
    pub fn request(&self, today: chrono::NaiveDate, visibility: Visibility) -> Result<SearchRequest, SearchError> {
        let number = |parameter: &'static str, text: &Option<String>, default: u64| match text.as_deref() {
            None | Some("") => Ok(default),
            Some(text) => text
                .trim()
                .parse::<u64>()
                .map_err(|_| SearchError::BadRequest { parameter, message: format!("`{text}` is not a whole number") }),
        };
        let filled =
            |value: &Option<String>| value.as_ref().map(|text| text.trim().to_owned()).filter(|text| !text.is_empty());
        Ok(SearchRequest {
            query: self.q.clone().unwrap_or_default(),
            filters: Filters {
                module: filled(&self.module),
                site: filled(&self.site),
                status: filled(&self.status),
                year: filled(&self.year),
            },
            page: number("page", &self.page, 1)?,
            per_page: number("per_page", &self.per_page, opsflux_search::DEFAULT_PER_PAGE)?,
            today,
            visibility,
        })
    }
}

/// What a caller with `scope` may find: their sites (and shared records), every module.
pub fn visibility(scope: &Scope) -> Visibility {
    match scope {
        Scope::All => Visibility::everything(),
        Scope::Sites(sites) => Visibility { sites: Some(sites.clone()), modules: None },
    }
}

/// The results as the API and `opsflux search --json` give them.
pub fn results_json(results: &Results) -> serde_json::Value {
    let facet = |counts: &[(String, u64)]| -> serde_json::Value {
        counts.iter().map(|(value, count)| serde_json::json!({"value": value, "count": count})).collect()
    };
    serde_json::json!({
        "total": results.total,
        "page": results.page,
        "per_page": results.per_page,
        "pages": results.pages,
        "hits": results.hits.iter().map(|hit| serde_json::json!({
            "module": hit.module,
            "kind": hit.kind,
            "id": hit.id,
            "site": hit.sites.first(),
            "sites": hit.sites,
            "status": hit.status,
            "date": hit.date,
            "title": hit.title,
            "title_html": hit.title_html,
            "snippet": hit.snippet,
            "score": hit.score,
        })).collect::<Vec<_>>(),
        "facets": {
            "module": facet(&results.facets.module),
            "site": facet(&results.facets.site),
            "status": facet(&results.facets.status),
            "year": facet(&results.facets.year),
        },
    })
}

fn search_error(error: SearchError) -> ApiError {
    match error {
        SearchError::BadRequest { parameter, message } => ApiError {
            parameter: Some(parameter),
            ..ApiError::new(StatusCode::BAD_REQUEST, "Invalid parameter", format!("{parameter}: {message}"))
        },
        SearchError::Timeout(_) => ApiError {
            retry_after: Some(5),
            ..ApiError::new(StatusCode::SERVICE_UNAVAILABLE, "Search too long", error.to_string())
        },
        error => ApiError::internal("the search failed", &error),
    }
}

/// Runs a search off the request runtime, bounded in time.
async fn run(index: Arc<SearchIndex>, request: SearchRequest) -> Result<Results, ApiError> {
    let busy = || ApiError {
        retry_after: Some(2),
        ..ApiError::new(StatusCode::SERVICE_UNAVAILABLE, "Search busy", "too many searches at once; try again")
    };
    let permit = match tokio::time::timeout(Duration::from_secs(1), RUNNING.acquire()).await {
        Ok(Ok(permit)) => permit,
        _ => return Err(busy()),
    };
    // The permit travels with the work: a search past its time limit still holds it.
    let work = tokio::task::spawn_blocking(move || {
        let _permit = permit;
        index.search(&request)
    });
    match tokio::time::timeout(SEARCH_TIME_LIMIT, work).await {
        Err(_) => Err(search_error(SearchError::Timeout(SEARCH_TIME_LIMIT.as_millis() as u64))),
        Ok(Err(error)) => Err(ApiError::internal("the search task failed", &error)),
        Ok(Ok(outcome)) => outcome.map_err(search_error),
    }
}

fn index_of(state: &AppState) -> Result<Arc<SearchIndex>, ApiError> {
    state.search.clone().ok_or_else(|| {
        ApiError::new(
            StatusCode::SERVICE_UNAVAILABLE,
            "Search unavailable",
            "this server runs without a search index (see --search-dir)",
        )
    })
}

fn today() -> chrono::NaiveDate {
    chrono::Local::now().date_naive()
}

/// `GET /api/search`.
#[utoipa::path(get, path = "/api/search", tag = "search", params(SearchParameters),
    responses((status = 200, description = "hits (module, kind, id, site, title, snippet with <mark>, score), ranked, and facet counts", body = serde_json::Value),
        (status = 400, description = "a parameter is wrong (named in `parameter`)", body = Problem, content_type = "application/problem+json"),
        (status = 401, body = Problem, content_type = "application/problem+json"), (status = 403, body = Problem, content_type = "application/problem+json"),
        (status = 503, description = "no search index, or the search took too long", body = Problem, content_type = "application/problem+json")))]
pub(crate) async fn search_json(
    State(state): State<AppState>,
    Extension(caller): Extension<Caller>,
    Query(parameters): Query<SearchParameters>,
) -> Result<Json<serde_json::Value>, ApiError> {
    let index = index_of(&state)?;
    let request = parameters.request(today(), visibility(&caller.scope)).map_err(search_error)?;
    let results = run(index, request).await?;
    Ok(Json(results_json(&results)))
}

/// `GET /search`: the results page with its facets.
pub(crate) async fn search_page(
    State(state): State<AppState>,
    Extension(caller): Extension<Caller>,
    Query(parameters): Query<SearchParameters>,
) -> Result<Html<String>, ApiError> {
    let locale = Locale::default();
    let query = parameters.q.clone().unwrap_or_default();
    let form = format!(
        "<form class=\"filters\" method=\"get\" action=\"/search\" role=\"search\">\
         <input type=\"search\" name=\"q\" value=\"{}\" size=\"48\" autofocus aria-label=\"Rechercher\" \
         placeholder=\"fuite compresseur ALPHA, \u{201c}phrase exacte\u{201d}…\">{}<button type=\"submit\">Rechercher</button></form>",
        escape(&query),
        hidden_filters(&parameters),
    );
    let index = index_of(&state)?;
    let request = match parameters.request(today(), visibility(&caller.scope)) {
        Ok(request) => request,
        Err(error) => return Ok(Html(page("/search", "Recherche", &form, &problem_box(&error)))),
    };
    let results = match run(index, request).await {
        Ok(results) => results,
        Err(error) if error.parameter.is_some() => {
            return Ok(Html(page(
                "/search",
                "Recherche",
                &form,
                &format!("<p class=\"problem\">{}</p>", escape(&error.detail)),
            )));
        }
        Err(error) => return Err(error),
    };
    let mut body = String::from("<div class=\"grid search\"><aside class=\"panel facets\">");
    for (name, title, counts) in [
        ("module", "Module", &results.facets.module),
        ("site", "Site", &results.facets.site),
        ("status", "Statut", &results.facets.status),
        ("year", "Année", &results.facets.year),
    ] {
        if counts.is_empty() {
            continue;
        }
        body.push_str(&format!("<h2>{title}</h2><ul>"));
        for (value, count) in counts {
            let chosen = current(&parameters, name) == Some(value.as_str());
            let link = link_with(&parameters, name, if chosen { None } else { Some(value) });
            let label = facet_label(locale, name, value);
            body.push_str(&format!(
                "<li><a href=\"{}\"{}>{}</a> <span class=\"n\">{count}</span></li>",
                escape(&link),
                if chosen { " aria-current=\"true\"" } else { "" },
                escape(&label),
            ));
        }
        body.push_str("</ul>");
    }
    body.push_str("</aside><section class=\"hits\">");
    body.push_str(&format!(
        "<p class=\"pin\">{} résultat{} · page {} sur {}</p>",
        results.total,
        if results.total > 1 { "s" } else { "" },
        results.page,
        results.pages
    ));
    if results.hits.is_empty() {
        body.push_str("<p class=\"empty\">Aucun résultat. Essayez moins de mots, ou retirez un filtre.</p>");
    }
    body.push_str("<ol class=\"results\">");
    for hit in &results.hits {
        let sites = hit.sites.join(", ");
        let status = hit.status.as_deref().map(|status| labels::value_or_text(locale, status)).unwrap_or_default();
        let date = hit.date.map(|date| date.format("%d/%m/%Y").to_string()).unwrap_or_default();
        let details: Vec<String> = [kind_label(&hit.kind).to_owned(), sites, status, date]
            .into_iter()
            .filter(|part| !part.is_empty())
            .collect();
        // Titles and snippets come escaped from the index, with only `<mark>` added.
        body.push_str(&format!(
            "<li data-module=\"{}\" data-id=\"{}\"><a href=\"{}\"><strong>{}</strong></a> <span class=\"pin\">{}</span><br><span class=\"snippet\">{}</span></li>",
            escape(&hit.module),
            escape(&hit.id),
            module_page(&hit.module),
            hit.title_html,
            escape(&details.join(" · ")),
            hit.snippet
        ));
    }
    body.push_str("</ol>");
    if results.pages > 1 {
        body.push_str("<nav class=\"pages\" aria-label=\"Pages\">");
        if results.page > 1 {
            let previous = (results.page - 1).to_string();
            body.push_str(&format!(
                "<a rel=\"prev\" href=\"{}\">← Précédente</a> ",
                escape(&link_with(&parameters, "page", Some(&previous)))
            ));
        }
        if results.page < results.pages {
            let next = (results.page + 1).to_string();
            body.push_str(&format!(
                "<a rel=\"next\" href=\"{}\">Suivante →</a>",
                escape(&link_with(&parameters, "page", Some(&next)))
            ));
        }
        body.push_str("</nav>");
    }
    body.push_str("</section></div>");
    Ok(Html(page("/search", "Recherche", &form, &body)))
}

fn problem_box(error: &SearchError) -> String {
    format!("<p class=\"problem\">{}</p>", escape(&error.to_string()))
}

fn current<'a>(parameters: &'a SearchParameters, name: &str) -> Option<&'a str> {
    match name {
        "module" => parameters.module.as_deref(),
        "site" => parameters.site.as_deref(),
        "status" => parameters.status.as_deref(),
        "year" => parameters.year.as_deref(),
        "page" => parameters.page.as_deref(),
        _ => None,
    }
}

/// The filters carried by the search box, so a new query keeps them.
fn hidden_filters(parameters: &SearchParameters) -> String {
    ["module", "site", "status", "year"]
        .iter()
        .filter_map(|name| current(parameters, name).filter(|value| !value.is_empty()).map(|value| (name, value)))
        .map(|(name, value)| format!("<input type=\"hidden\" name=\"{name}\" value=\"{}\">", escape(value)))
        .collect()
}

/// `/search` with `name` set to `value` (or removed), the page reset unless it is the
/// page that changes.
fn link_with(parameters: &SearchParameters, name: &str, value: Option<&str>) -> String {
    let mut pairs: Vec<(&str, String)> = Vec::new();
    if let Some(query) = parameters.q.as_deref().filter(|query| !query.is_empty()) {
        pairs.push(("q", query.to_owned()));
    }
    for key in ["module", "site", "status", "year", "page"] {
        let kept = if key == name {
            value.map(str::to_owned)
        } else if key == "page" {
            None
        } else {
            current(parameters, key).filter(|value| !value.is_empty()).map(str::to_owned)
        };
        if let Some(kept) = kept {
            pairs.push((key, kept));
        }
    }
    if let Some(per_page) = parameters.per_page.as_deref().filter(|value| !value.is_empty()) {
        pairs.push(("per_page", per_page.to_owned()));
    }
    let query: Vec<String> = pairs.into_iter().map(|(key, value)| format!("{key}={}", encode(&value))).collect();
    format!("/search?{}", query.join("&"))
}

/// Percent-encoding of a query value.
fn encode(value: &str) -> String {
    url::form_urlencoded::byte_serialize(value.as_bytes()).collect()
}

fn facet_label(locale: Locale, facet: &str, value: &str) -> String {
    match facet {
        "module" => module_label(value).to_owned(),
        "status" => labels::value_or_text(locale, value),
        _ => value.to_owned(),
    }
}

fn module_label(module: &str) -> &str {
    match module {
        "moc" => "MOC",
        "hse" => "HSE",
        "projects" => "Projets",
        "pob" => "POB",
        "tiers" => "Tiers",
        "powertrace" => "PowerTrace",
        "travel" => "Transport",
        "redacteur" => "Rédacteur",
        "cleanvue" => "5S",
        other => other,
    }
}

fn kind_label(kind: &str) -> &str {
    match kind {
        "moc_request" => "Demande MOC",
        "incident" => "Incident HSE",
        "hse_action" => "Action HSE",
        "project" => "Projet",
        "task" => "Tâche",
        "person" => "Personne",
        "company" => "Société",
        "contact" => "Contact",
        "equipment" => "Équipement",
        "switchboard" => "Tableau électrique",
        "trip" => "Voyage",
        "vehicle" => "Moyen de transport",
        "document" => "Document",
        "template" => "Modèle",
        "audit_5s" => "Audit 5S",
        other => other,
    }
}

/// The module's dashboard page, where its records are shown.
fn module_page(module: &str) -> &'static str {
    match module {
        "moc" => "/moc",
        "hse" => "/hse",
        "projects" => "/projects",
        "pob" => "/pob",
        "tiers" => "/tiers",
        "powertrace" => "/power",
        "travel" => "/transport",
        "redacteur" => "/documents",
        "cleanvue" => "/5s",
        _ => "/",
    }
}
