//! The HTTP server: dashboards (server-rendered HTML with SVG charts), the metric API,
//! exports, documents, scheduled reports and alerts, sign-in, the audit log and the
//! OpenAPI description. Every route
//! is declared once in [`routes`] with the permission it needs; [`guard`] checks it.
//! Errors leave as `application/problem+json` ([`error`]).

pub mod alerts;
pub mod audit;
pub mod auth;
pub mod dashboards;
pub mod documents;
pub mod editor;
pub mod error;
pub mod exports;
pub mod guard;
pub mod layout;
pub mod metrics;
pub mod openapi;
pub mod powertrace;
pub mod powertrace_pages;
pub mod routes;
pub mod schedules;
pub mod search;
pub mod stored_documents;
pub mod tables;

use std::net::{IpAddr, SocketAddr};
use std::sync::{Arc, Mutex};

use axum::Router;
use axum::extract::DefaultBodyLimit;
use axum::routing::{get, post, put};
use opsflux_query::{Engine, Scope};
use sqlx::PgPool;

use crate::auth::sessions::Session;
use crate::auth::throttle::AddressThrottle;
use crate::auth::tokens::TokenKeys;
use crate::auth::{AuthError, Principal};
use crate::documents::RenderLimits;
pub use error::ApiError;
pub use metrics::MetricParameters;

/// Largest request body accepted (a document with embedded images fits).
pub const BODY_LIMIT_BYTES: usize = 8 * 1024 * 1024;
/// Largest PowerTrace scenario body (500 items fit many times over).
const SCENARIO_LIMIT_BYTES: usize = 1024 * 1024;

/// What every handler can reach.
#[derive(Debug, Clone)]
pub struct AppState {
    /// The operational database, when serving alongside it (none: warehouse only).
    pub pool: Option<PgPool>,
    /// Shown on pages: where the data comes from (`host:port/database` or the warehouse).
    pub source: String,
    pub engine: Engine,
    /// Sign-in machinery; none when serving a warehouse alone (loopback only).
    pub security: Option<Arc<Security>>,
    pub renders: Arc<RenderLimits>,
    pub public: Arc<PublicAddress>,
    pub health: CaptureHealth,
    /// The search index kept level with the warehouse; none: search answers 503.
    pub search: Option<Arc<opsflux_search::SearchIndex>>,
}

/// Token keys and throttles, present when serving with a database.
#[derive(Debug)]
pub struct Security {
    pub keys: TokenKeys,
    pub throttle: AddressThrottle,
}

/// Where the server is reached: requests naming another host are refused (DNS
/// rebinding), state-changing requests must come from this origin (CSRF).
#[derive(Debug, Clone)]
pub struct PublicAddress {
    /// `scheme://host[:port]`.
    pub origin: String,
    /// Accepted `Host` header values, lower case.
    pub hosts: Vec<String>,
    /// Cookies are `Secure` behind TLS.
    pub secure: bool,
}

impl PublicAddress {
    /// From `--public-url` when given, else from the listening address, which must then
    /// be a loopback one (`127.0.0.1:port` and `localhost:port` are accepted).
    pub fn new(public_url: Option<&str>, listen: SocketAddr) -> Result<Self, String> {
        if let Some(text) = public_url {
            let url = url::Url::parse(text).map_err(|error| format!("--public-url `{text}`: {error}"))?;
            let secure = match url.scheme() {
                "https" => true,
                "http" => false,
                other => return Err(format!("--public-url `{text}`: expected http or https, not {other}")),
            };
            let host = url.host_str().ok_or_else(|| format!("--public-url `{text}` names no host"))?.to_lowercase();
            let origin = url.origin().ascii_serialization();
            let mut hosts = vec![match url.port() {
                Some(port) => format!("{host}:{port}"),
                None => host.clone(),
            }];
            if let Some(port) = url.port_or_known_default() {
                hosts.push(format!("{host}:{port}"));
            }
            return Ok(Self { origin, hosts, secure });
        }
        if !listen.ip().is_loopback() {
            return Err(format!(
                "listening on {listen} needs --public-url (the address browsers use, e.g. https://opsflux.example.com): \
                 requests for any other host are refused"
            ));
        }
        let port = listen.port();
        let ip = match listen.ip() {
            IpAddr::V4(ip) => ip.to_string(),
            IpAddr::V6(ip) => format!("[{ip}]"),
        };
        Ok(Self {
            origin: format!("http://{ip}:{port}"),
            // Loopback names cannot be rebound to another server, with or without a port.
            hosts: vec![format!("{ip}:{port}"), format!("localhost:{port}"), ip, "localhost".to_owned()],
            secure: false,
        })
    }
}

/// The state of change capture, for `/healthz`: the last error while it keeps failing.
#[derive(Debug, Clone, Default)]
pub struct CaptureHealth(Arc<Mutex<CaptureState>>);

#[derive(Debug, Clone, Default)]
pub struct CaptureState {
    /// Capture runs alongside this server.
    pub running: bool,
    /// The error it stopped or keeps retrying on, if any, without row values.
    pub failing: Option<String>,
    /// When the newest change in the warehouse was committed at the source.
    pub as_of_unix_micros: Option<i64>,
}

impl CaptureHealth {
    pub fn set(&self, state: CaptureState) {
        *self.0.lock().unwrap_or_else(std::sync::PoisonError::into_inner) = state;
    }

    pub fn get(&self) -> CaptureState {
        self.0.lock().unwrap_or_else(std::sync::PoisonError::into_inner).clone()
    }
}

/// Who is asking, with the rows they may see for this route.
#[derive(Debug, Clone)]
pub struct Caller {
    pub principal: Principal,
    /// The site scope the route's permission gives (every site for public routes).
    pub scope: Scope,
    /// The browser session, when signed in with a cookie.
    pub session: Option<Session>,
    /// The token family, when signed in with a bearer token.
    pub family: Option<uuid::Uuid>,
    pub address: IpAddr,
}

impl Caller {
    /// An audit event with the actor and address filled in.
    pub fn audit_event(&self) -> crate::audit::Event {
        crate::audit::Event {
            actor_id: self.principal.user_id,
            actor: self.principal.actor().to_owned(),
            address: Some(self.address.to_string()),
            result: "ok".to_owned(),
            ..Default::default()
        }
    }
}

impl AppState {
    /// A server over a warehouse alone: no database, no users; the local reader.
    pub fn local(engine: Engine, source: String, public: PublicAddress) -> Self {
        Self {
            pool: None,
            source,
            engine,
            security: None,
            renders: Arc::new(RenderLimits::default()),
            public: Arc::new(public),
            health: CaptureHealth::default(),
            search: None,
        }
    }

    /// A server with its platform database: sign-in required on every route but the
    /// public ones.
    pub async fn with_database(
        pool: PgPool,
        engine: Engine,
        source: String,
        public: PublicAddress,
    ) -> Result<Self, AuthError> {
        let key = crate::auth::secret::signing_key(&pool).await?;
        // The shipped templates become published templates the first time a server
        // starts on the database; the shipped copies stand in until then.
        match crate::document_store::load_shipped(&pool, &crate::documents::TEMPLATES).await {
            Ok(0) => {}
            Ok(loaded) => tracing::info!(loaded, "shipped templates stored as published templates"),
            Err(error) => {
                tracing::warn!(%error, "the shipped templates could not be stored; they are served as shipped")
            }
        }
        Ok(Self {
            pool: Some(pool),
            security: Some(Arc::new(Security { keys: TokenKeys::new(&key), throttle: AddressThrottle::default() })),
            ..Self::local(engine, source, public)
        })
    }

    /// Audits a change the caller made to `entity` (`platform.schedules`...) row `id`.
    pub(crate) async fn audit_change(
        &self,
        caller: &Caller,
        action: &str,
        entity: &str,
        id: uuid::Uuid,
        parameters: serde_json::Value,
    ) -> Result<(), ApiError> {
        self.audit(crate::audit::Event {
            action: action.to_owned(),
            entity: entity.to_owned(),
            entity_id: Some(id),
            parameters,
            ..caller.audit_event()
        })
        .await
    }

    /// Appends an audit event; without a database it goes to the log. An event that
    /// cannot be recorded stops the request: audited actions do not run unrecorded.
    pub async fn audit(&self, event: crate::audit::Event) -> Result<(), ApiError> {
        match &self.pool {
            Some(pool) => crate::audit::record(pool, event)
                .await
                .map_err(|error| ApiError::internal("recording the audit event failed", &error)),
            None => {
                tracing::info!(action = %event.action, entity = %event.entity, result = %event.result, "audit");
                Ok(())
            }
        }
    }
}

/// Every route, each checked by the guard against its entry in [`routes::table`].
pub fn router(state: AppState) -> Router {
    let mut router = Router::new();
    for page in dashboards::PAGES {
        router = router.route(page.path, get(dashboards::page_handler));
    }
    router
        .route("/tables", get(tables::tables_page))
        .route("/api/tables", get(tables::tables_json))
        .route("/api/sites", get(metrics::sites_json))
        .route("/api/search", get(search::search_json))
        .route("/search", get(search::search_page))
        .route("/api/metrics", get(metrics::metrics_json))
        .route("/api/metrics/{name}", get(metrics::metric_json))
        .route("/api/export", get(exports::export))
        .route("/api/render", post(documents::render_document))
        .route("/api/documents", get(stored_documents::list_json).post(stored_documents::create_json))
        .route("/api/documents/schema", get(stored_documents::schema_json))
        .route("/editor", get(editor::new_page))
        .route("/editor/{id}", get(editor::document_page))
        .route("/assets/editor/{file}", get(editor::asset).layer(tower_http::compression::CompressionLayer::new()))
        .route(
            "/api/documents/{id}",
            get(stored_documents::get_json).put(stored_documents::update_json).delete(stored_documents::delete_json),
        )
        .route("/api/documents/{id}/versions", get(stored_documents::versions_json))
        .route("/api/documents/{id}/diff", get(stored_documents::diff_json))
        .route("/api/documents/{id}/restore", post(stored_documents::restore_json))
        .route("/api/documents/{id}/review", post(stored_documents::review_json))
        .route("/api/documents/{id}/render", post(stored_documents::render_json))
        .route("/documents", get(documents::documents_page))
        .route("/documents/render", get(documents::document_download))
        .route("/login", get(auth::login_page).post(auth::login_form))
        .route("/logout", post(auth::logout_form))
        .route("/account/two-factor", get(auth::two_factor_page).post(auth::two_factor_form))
        .route("/api/auth/login", post(auth::api_login))
        .route("/api/auth/refresh", post(auth::api_refresh))
        .route("/api/auth/logout", post(auth::api_logout))
        .route("/api/me", get(auth::me))
        .route("/admin/audit", get(audit::audit_page))
        .route("/admin/audit.csv", get(audit::audit_csv))
        .route("/api/audit", get(audit::audit_json))
        .route("/schedules", get(schedules::list_page).post(schedules::create_form))
        .route("/schedules/{id}", get(schedules::detail_page).post(schedules::update_form))
        .route("/schedules/{id}/{action}", post(schedules::action_form))
        .route("/api/schedules", get(schedules::list_json).post(schedules::create_json))
        .route(
            "/api/schedules/{id}",
            get(schedules::get_json).merge(put(schedules::update_json)).delete(schedules::delete_json),
        )
        .route("/api/schedules/{id}/pause", post(schedules::pause_json))
        .route("/api/schedules/{id}/resume", post(schedules::resume_json))
        .route("/api/schedules/{id}/run", post(schedules::run_json))
        .route("/api/schedules/{id}/history", get(schedules::history_json))
        .route("/alerts", get(alerts::list_page).post(alerts::create_form))
        .route("/alerts/{id}", get(alerts::detail_page))
        .route("/alerts/{id}/{action}", post(alerts::action_form))
        .route("/api/alerts", get(alerts::list_json).post(alerts::create_json))
        .route("/api/alerts/{id}", get(alerts::get_json).delete(alerts::delete_json))
        .route("/api/alerts/{id}/pause", post(alerts::pause_json))
        .route("/api/alerts/{id}/resume", post(alerts::resume_json))
        .route("/api/alerts/{id}/evaluate", post(alerts::evaluate_json))
        .route("/api/alerts/{id}/evaluations", get(alerts::evaluations_json))
        .route("/notifications", get(alerts::notifications_page))
        .route("/api/notifications", get(alerts::notifications_json))
        .route("/powertrace", get(powertrace_pages::index_page))
        .route("/powertrace/sites/{site}", get(powertrace_pages::site_page))
        .route("/powertrace/sites/{site}/forecast.svg", get(powertrace_pages::forecast_svg))
        .route("/powertrace/scenarios/new", get(powertrace_pages::new_page))
        .route("/powertrace/scenarios/{id}", get(powertrace_pages::scenario_page))
        .route("/powertrace/scenarios/{id}/edit", get(powertrace_pages::edit_page))
        // A scenario body is small: its JSON is read whole before it is checked.
        .route(
            "/api/powertrace/scenarios",
            get(powertrace::list_json).post(powertrace::create_json).layer(DefaultBodyLimit::max(SCENARIO_LIMIT_BYTES)),
        )
        .route(
            "/api/powertrace/scenarios/{id}",
            get(powertrace::get_json)
                .put(powertrace::update_json)
                .delete(powertrace::delete_json)
                .layer(DefaultBodyLimit::max(SCENARIO_LIMIT_BYTES)),
        )
        .route("/api/powertrace/scenarios/{id}/versions", get(powertrace::versions_json))
        .route("/api/powertrace/scenarios/{id}/evaluate", post(powertrace::evaluate_json))
        .route("/api/powertrace/scenarios/{id}/evaluations", get(powertrace::evaluations_json))
        .route("/api/powertrace/compare", get(powertrace::compare_json))
        .route("/api/powertrace/sites/{site}/load-list", get(powertrace::load_list_json))
        .route("/api/powertrace/sites/{site}/forecast", get(powertrace::forecast_json))
        .route("/api/openapi.json", get(openapi::spec))
        .route("/api/docs", get(openapi::docs_page))
        .route("/healthz", get(health))
        .fallback(|| async { ApiError::not_found("no such page or endpoint".to_owned()) })
        .layer(axum::middleware::from_fn_with_state(state.clone(), guard::guard))
        .layer(DefaultBodyLimit::max(BODY_LIMIT_BYTES))
        .with_state(state)
}

/// Serves `state` on `listener` until `stop` resolves, with each connection's peer
/// address known to the guard (sign-in throttling, audit).
pub async fn serve_on(
    listener: tokio::net::TcpListener,
    state: AppState,
    stop: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    axum::serve(listener, router(state).into_make_service_with_connect_info::<SocketAddr>())
        .with_graceful_shutdown(stop)
        .await
}

/// `GET /healthz`: `ok`, or 503 with the reason while change capture is failing.
#[utoipa::path(get, path = "/healthz", tag = "service", security(()),
    responses((status = 200, description = "serving, and capture (if any) is working", body = String),
        (status = 503, description = "capture is failing", body = serde_json::Value)))]
pub(crate) async fn health(axum::extract::State(state): axum::extract::State<AppState>) -> axum::response::Response {
    use axum::response::IntoResponse;
    match capture_problem(&state).await {
        None => "ok".into_response(),
        Some(problem) => (
            axum::http::StatusCode::SERVICE_UNAVAILABLE,
            axum::Json(serde_json::json!({"status": "failing", "capture": problem.summary, "since": problem.since})),
        )
            .into_response(),
    }
}

/// Why change capture is stopped or held back, without row values.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CaptureProblem {
    pub summary: String,
    /// RFC 3339, when the warehouse's record says.
    pub since: Option<String>,
}

/// The capture problem this server knows of: its own capture's, or, when another process
/// captures, the one recorded in the warehouse.
pub async fn capture_problem(state: &AppState) -> Option<CaptureProblem> {
    let capture = state.health.get();
    if let Some(summary) = capture.failing {
        return Some(CaptureProblem { summary, since: None });
    }
    if capture.running {
        return None;
    }
    // Bounded: health checks and pages answer even while the storage does not.
    let problems = tokio::time::timeout(std::time::Duration::from_secs(3), state.engine.warehouse().problems());
    match problems
        .await
        .unwrap_or_else(|_| Err(opsflux_warehouse::WarehouseError::Timeout { what: "reading the capture problems" }))
    {
        Ok(problems) => problems
            .into_iter()
            .next()
            .map(|problem| CaptureProblem { summary: problem.summary, since: Some(problem.since) }),
        Err(error) => {
            tracing::warn!("cannot read the capture problems recorded in the warehouse: {error}");
            None
        }
    }
}
