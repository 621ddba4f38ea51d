//! The route table: every route with the access it needs, in one place. The guard
//! looks each request's matched route up here; a route missing from this table is
//! refused to everyone (deny by default), and the permission-matrix test walks it.

use axum::http::Method;

/// What a route requires.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Access {
    /// Anyone, signed in or not.
    Public,
    /// Any signed-in user, whatever their permissions (sign-out, enrolment, `/api/me`).
    SignedIn,
    /// A permission `module.action`, held at `site` or `all` scope.
    Permission(&'static str),
}

/// One route of the server.
#[derive(Debug, Clone)]
pub struct Route {
    pub method: Method,
    /// The path as registered (`/api/metrics/{name}`).
    pub path: &'static str,
    pub access: Access,
    /// A concrete request of this route, for tests and documentation. Routes that name
    /// an object use an id no object has (they answer 404 once the caller may ask).
    pub example: &'static str,
}

const fn route(method: Method, path: &'static str, access: Access, example: &'static str) -> Route {
    Route { method, path, access, example }
}

const DASHBOARDS: Access = Access::Permission("dashboards.read");
const SCHEDULES: Access = Access::Permission("schedules.manage");
const ALERTS: Access = Access::Permission("alerts.manage");
const DOCUMENTS: Access = Access::Permission("redacteur.write");
const SCENARIO_WRITE: Access = Access::Permission("powertrace.scenario_write");

/// Every route but the dashboard pages (those come from [`super::dashboards::PAGES`]).
const ROUTES: &[Route] = &[
    route(Method::GET, "/healthz", Access::Public, "/healthz"),
    route(Method::GET, "/login", Access::Public, "/login"),
    route(Method::POST, "/login", Access::Public, "/login"),
    route(Method::POST, "/api/auth/login", Access::Public, "/api/auth/login"),
    route(Method::POST, "/api/auth/refresh", Access::Public, "/api/auth/refresh"),
    route(Method::POST, "/logout", Access::SignedIn, "/logout"),
    route(Method::POST, "/api/auth/logout", Access::SignedIn, "/api/auth/logout"),
    route(Method::GET, "/api/me", Access::SignedIn, "/api/me"),
    route(Method::GET, "/account/two-factor", Access::SignedIn, "/account/two-factor"),
    route(Method::POST, "/account/two-factor", Access::SignedIn, "/account/two-factor"),
    route(Method::GET, "/api/openapi.json", Access::Public, "/api/openapi.json"),
    route(Method::GET, "/api/docs", Access::Public, "/api/docs"),
    route(Method::GET, "/api/sites", DASHBOARDS, "/api/sites"),
    route(Method::GET, "/api/search", DASHBOARDS, "/api/search?q=compresseur"),
    route(Method::GET, "/search", DASHBOARDS, "/search?q=compresseur"),
    route(Method::GET, "/api/metrics", DASHBOARDS, "/api/metrics"),
    route(Method::GET, "/api/metrics/{name}", DASHBOARDS, "/api/metrics/pob.occupancy"),
    route(Method::GET, "/api/export", Access::Permission("exports.run"), "/api/export?metric=pob.occupancy&format=csv"),
    route(Method::GET, "/documents", Access::Permission("redacteur.render"), "/documents"),
    route(
        Method::GET,
        "/documents/render",
        Access::Permission("redacteur.render"),
        "/documents/render?template=5s-audit&format=html",
    ),
    route(Method::POST, "/api/render", Access::Permission("redacteur.render"), "/api/render"),
    route(Method::GET, "/api/documents", DOCUMENTS, "/api/documents"),
    route(Method::GET, "/api/documents/schema", DOCUMENTS, "/api/documents/schema"),
    route(Method::GET, "/editor", DOCUMENTS, "/editor"),
    route(Method::GET, "/editor/{id}", DOCUMENTS, concat!("/editor/", "00000000-0000-4000-8000-000000000000")),
    // The editor's scripts hold nothing of the product's data.
    route(Method::GET, "/assets/editor/{file}", Access::Public, "/assets/editor/opsflux-editor.js"),
    route(Method::POST, "/api/documents", DOCUMENTS, "/api/documents"),
    route(
        Method::GET,
        "/api/documents/{id}",
        DOCUMENTS,
        concat!("/api/documents/", "00000000-0000-4000-8000-000000000000"),
    ),
    route(
        Method::PUT,
        "/api/documents/{id}",
        DOCUMENTS,
        concat!("/api/documents/", "00000000-0000-4000-8000-000000000000"),
    ),
    route(
        Method::DELETE,
        "/api/documents/{id}",
        DOCUMENTS,
        concat!("/api/documents/", "00000000-0000-4000-8000-000000000000"),
    ),
    route(
        Method::GET,
        "/api/documents/{id}/versions",
        DOCUMENTS,
        concat!("/api/documents/", "00000000-0000-4000-8000-000000000000", "/versions"),
    ),
    route(
        Method::GET,
        "/api/documents/{id}/diff",
        DOCUMENTS,
        concat!("/api/documents/", "00000000-0000-4000-8000-000000000000", "/diff?from=1"),
    ),
    route(
        Method::POST,
        "/api/documents/{id}/restore",
        DOCUMENTS,
        concat!("/api/documents/", "00000000-0000-4000-8000-000000000000", "/restore?version=1"),
    ),
    route(
        Method::POST,
        "/api/documents/{id}/review",
        DOCUMENTS,
        concat!("/api/documents/", "00000000-0000-4000-8000-000000000000", "/review"),
    ),
    route(
        Method::POST,
        "/api/documents/{id}/render",
        DOCUMENTS,
        concat!("/api/documents/", "00000000-0000-4000-8000-000000000000", "/render?format=html"),
    ),
    route(Method::GET, "/tables", Access::Permission("warehouse.tables"), "/tables"),
    route(Method::GET, "/api/tables", Access::Permission("warehouse.tables"), "/api/tables"),
    route(Method::GET, "/admin/audit", Access::Permission("audit.read"), "/admin/audit"),
    route(Method::GET, "/admin/audit.csv", Access::Permission("audit.read"), "/admin/audit.csv"),
    route(Method::GET, "/api/audit", Access::Permission("audit.read"), "/api/audit"),
    route(Method::GET, "/schedules", SCHEDULES, "/schedules"),
    route(Method::POST, "/schedules", SCHEDULES, "/schedules"),
    route(Method::GET, "/schedules/{id}", SCHEDULES, concat!("/schedules/", "00000000-0000-4000-8000-000000000000")),
    route(Method::POST, "/schedules/{id}", SCHEDULES, concat!("/schedules/", "00000000-0000-4000-8000-000000000000")),
    route(
        Method::POST,
        "/schedules/{id}/{action}",
        SCHEDULES,
        concat!("/schedules/", "00000000-0000-4000-8000-000000000000", "/pause"),
    ),
    route(Method::GET, "/api/schedules", SCHEDULES, "/api/schedules"),
    route(Method::POST, "/api/schedules", SCHEDULES, "/api/schedules"),
    route(
        Method::GET,
        "/api/schedules/{id}",
        SCHEDULES,
        concat!("/api/schedules/", "00000000-0000-4000-8000-000000000000"),
    ),
    route(
        Method::PUT,
        "/api/schedules/{id}",
        SCHEDULES,
        concat!("/api/schedules/", "00000000-0000-4000-8000-000000000000"),
    ),
    route(
        Method::DELETE,
        "/api/schedules/{id}",
        SCHEDULES,
        concat!("/api/schedules/", "00000000-0000-4000-8000-000000000000"),
    ),
    route(
        Method::POST,
        "/api/schedules/{id}/pause",
        SCHEDULES,
        concat!("/api/schedules/", "00000000-0000-4000-8000-000000000000", "/pause"),
    ),
    route(
        Method::POST,
        "/api/schedules/{id}/resume",
        SCHEDULES,
        concat!("/api/schedules/", "00000000-0000-4000-8000-000000000000", "/resume"),
    ),
    route(
        Method::POST,
        "/api/schedules/{id}/run",
        SCHEDULES,
        concat!("/api/schedules/", "00000000-0000-4000-8000-000000000000", "/run"),
    ),
    route(
        Method::GET,
        "/api/schedules/{id}/history",
        SCHEDULES,
        concat!("/api/schedules/", "00000000-0000-4000-8000-000000000000", "/history"),
    ),
    route(Method::GET, "/alerts", ALERTS, "/alerts"),
    route(Method::POST, "/alerts", ALERTS, "/alerts"),
    route(Method::GET, "/alerts/{id}", ALERTS, concat!("/alerts/", "00000000-0000-4000-8000-000000000000")),
    route(
        Method::POST,
        "/alerts/{id}/{action}",
        ALERTS,
        concat!("/alerts/", "00000000-0000-4000-8000-000000000000", "/pause"),
    ),
    route(Method::GET, "/api/alerts", ALERTS, "/api/alerts"),
    route(Method::POST, "/api/alerts", ALERTS, "/api/alerts"),
    route(Method::GET, "/api/alerts/{id}", ALERTS, concat!("/api/alerts/", "00000000-0000-4000-8000-000000000000")),
    route(Method::DELETE, "/api/alerts/{id}", ALERTS, concat!("/api/alerts/", "00000000-0000-4000-8000-000000000000")),
    route(
        Method::POST,
        "/api/alerts/{id}/pause",
        ALERTS,
        concat!("/api/alerts/", "00000000-0000-4000-8000-000000000000", "/pause"),
    ),
    route(
        Method::POST,
        "/api/alerts/{id}/resume",
        ALERTS,
        concat!("/api/alerts/", "00000000-0000-4000-8000-000000000000", "/resume"),
    ),
    route(
        Method::POST,
        "/api/alerts/{id}/evaluate",
        ALERTS,
        concat!("/api/alerts/", "00000000-0000-4000-8000-000000000000", "/evaluate"),
    ),
    route(
        Method::GET,
        "/api/alerts/{id}/evaluations",
        ALERTS,
        concat!("/api/alerts/", "00000000-0000-4000-8000-000000000000", "/evaluations"),
    ),
    route(Method::GET, "/powertrace", DASHBOARDS, "/powertrace"),
    route(Method::GET, "/powertrace/sites/{site}", DASHBOARDS, "/powertrace/sites/ZZZ"),
    route(Method::GET, "/powertrace/sites/{site}/forecast.svg", DASHBOARDS, "/powertrace/sites/ZZZ/forecast.svg"),
    route(Method::GET, "/powertrace/scenarios/new", SCENARIO_WRITE, "/powertrace/scenarios/new"),
    route(
        Method::GET,
        "/powertrace/scenarios/{id}",
        DASHBOARDS,
        concat!("/powertrace/scenarios/", "00000000-0000-4000-8000-000000000000"),
    ),
    route(
        Method::GET,
        "/powertrace/scenarios/{id}/edit",
        SCENARIO_WRITE,
        concat!("/powertrace/scenarios/", "00000000-0000-4000-8000-000000000000", "/edit"),
    ),
    route(Method::GET, "/api/powertrace/scenarios", DASHBOARDS, "/api/powertrace/scenarios"),
    route(Method::POST, "/api/powertrace/scenarios", SCENARIO_WRITE, "/api/powertrace/scenarios"),
    route(
        Method::GET,
        "/api/powertrace/scenarios/{id}",
        DASHBOARDS,
        concat!("/api/powertrace/scenarios/", "00000000-0000-4000-8000-000000000000"),
    ),
    route(
        Method::PUT,
        "/api/powertrace/scenarios/{id}",
        SCENARIO_WRITE,
        concat!("/api/powertrace/scenarios/", "00000000-0000-4000-8000-000000000000"),
    ),
    route(
        Method::DELETE,
        "/api/powertrace/scenarios/{id}",
        SCENARIO_WRITE,
        concat!("/api/powertrace/scenarios/", "00000000-0000-4000-8000-000000000000"),
    ),
    route(
        Method::GET,
        "/api/powertrace/scenarios/{id}/versions",
        DASHBOARDS,
        concat!("/api/powertrace/scenarios/", "00000000-0000-4000-8000-000000000000", "/versions"),
    ),
    route(
        Method::POST,
        "/api/powertrace/scenarios/{id}/evaluate",
        SCENARIO_WRITE,
        concat!("/api/powertrace/scenarios/", "00000000-0000-4000-8000-000000000000", "/evaluate"),
    ),
    route(
        Method::GET,
        "/api/powertrace/scenarios/{id}/evaluations",
        DASHBOARDS,
        concat!("/api/powertrace/scenarios/", "00000000-0000-4000-8000-000000000000", "/evaluations"),
    ),
    route(
        Method::GET,
        "/api/powertrace/compare",
        DASHBOARDS,
        concat!(
            "/api/powertrace/compare?a=",
            "00000000-0000-4000-8000-000000000000",
            "&b=",
            "00000000-0000-4000-8000-000000000001"
        ),
    ),
    route(Method::GET, "/api/powertrace/sites/{site}/load-list", DASHBOARDS, "/api/powertrace/sites/ZZZ/load-list"),
    route(Method::GET, "/api/powertrace/sites/{site}/forecast", DASHBOARDS, "/api/powertrace/sites/ZZZ/forecast"),
    route(Method::GET, "/notifications", Access::SignedIn, "/notifications"),
    route(Method::GET, "/api/notifications", Access::SignedIn, "/api/notifications"),
];

/// Every route of the server.
pub fn table() -> Vec<Route> {
    let pages = super::dashboards::PAGES.iter().map(|page| route(Method::GET, page.path, DASHBOARDS, page.path));
    pages.chain(ROUTES.iter().cloned()).collect()
}

/// The access of a matched route; `None` for a route not in the table (refused).
pub fn access(method: &Method, path: &str) -> Option<Access> {
    // HEAD is answered by GET routes.
    let method = if method == Method::HEAD { &Method::GET } else { method };
    if super::dashboards::PAGES.iter().any(|page| page.path == path) {
        return (method == Method::GET).then_some(DASHBOARDS);
    }
    ROUTES.iter().find(|route| route.method == method && route.path == path).map(|route| route.access)
}
