//! The guard every request passes: `Host` must be the public address (no DNS
//! rebinding), the caller is identified (bearer token, session cookie, or the local
//! reader of a warehouse-only server), the route's declared access is checked (401
//! when not signed in, 403 when not allowed), state-changing requests must come from
//! the server's own origin, and JSON endpoints take JSON only (no cross-site
//! `text/plain` posts). The caller, with the site scope the route's permission gives,
//! goes to the handler as a [`Caller`].

use std::net::{IpAddr, Ipv4Addr, SocketAddr};

use axum::extract::{ConnectInfo, MatchedPath, Request, State};
use axum::http::request::Parts;
use axum::http::{Method, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Redirect, Response};
use axum_extra::extract::cookie::CookieJar;
use opsflux_query::Scope;

use super::routes::{self, Access};
use super::{ApiError, AppState, Caller};
use crate::auth::{Principal, sessions, tokens};

/// Routes a session still waiting for its second factor may use.
const SECOND_FACTOR_ROUTES: &[&str] = &["/account/two-factor", "/logout", "/api/me"];

pub async fn guard(State(state): State<AppState>, request: Request, next: Next) -> Response {
    let (mut parts, body) = request.into_parts();
    match check(&state, &parts).await {
        Ok(Some(caller)) => {
            parts.extensions.insert(caller.clone());
            super::layout::CALLER.scope(caller, next.run(Request::from_parts(parts, body))).await
        }
        Ok(None) => next.run(Request::from_parts(parts, body)).await,
        Err(response) => response,
    }
}

/// The caller allowed to go on, `None` for a request no route matched (the fallback
/// answers it), or the refusal.
async fn check(state: &AppState, request: &Parts) -> Result<Option<Caller>, Response> {
    let path = request.uri.path();
    if path != "/healthz" {
        check_host(state, request).map_err(IntoResponse::into_response)?;
    }
    let Some(matched) = request.extensions.get::<MatchedPath>().map(|matched| matched.as_str().to_owned()) else {
        return Ok(None);
    };
    let method = request.method.clone();
    let access = match routes::access(&method, &matched) {
        Some(access) => access,
        // Another method of a known route: axum answers 405.
        None if routes::table().iter().any(|route| route.path == matched) => return Ok(None),
        None => {
            tracing::error!(route = %matched, "a route missing from the route table was refused");
            return Err(ApiError::forbidden("this route declares no permission").into_response());
        }
    };
    let address = request
        .extensions
        .get::<ConnectInfo<SocketAddr>>()
        .map_or(IpAddr::V4(Ipv4Addr::UNSPECIFIED), |info| info.0.ip());
    let unsafe_method = !matches!(method, Method::GET | Method::HEAD | Method::OPTIONS);
    if unsafe_method {
        check_origin(state, request).map_err(IntoResponse::into_response)?;
        if matched.starts_with("/api/") && has_body(request) && !is_json(request) {
            return Err(ApiError::new(
                StatusCode::UNSUPPORTED_MEDIA_TYPE,
                "JSON required",
                "this endpoint takes `Content-Type: application/json`",
            )
            .into_response());
        }
    }
    let identified = identify(state, request).await?;
    let Some((principal, session, family)) = identified else {
        if access == Access::Public {
            let caller = Caller {
                principal: anonymous(),
                scope: Scope::sites(Vec::<String>::new()),
                session: None,
                family: None,
                address,
            };
            return Ok(Some(caller));
        }
        return Err(not_signed_in(request));
    };
    if let Some(session) = &session {
        if session.second_factor_pending
            && access != Access::Public
            && !SECOND_FACTOR_ROUTES.contains(&matched.as_str())
        {
            if wants_html(request) {
                return Err(Redirect::to("/account/two-factor").into_response());
            }
            return Err(ApiError::forbidden(
                "finish signing in: enrol or enter your second factor at /account/two-factor",
            )
            .into_response());
        }
        // Cookie-authenticated JSON calls carry the session's CSRF token as a header;
        // forms carry it as a field, checked by their handlers.
        if unsafe_method && matched.starts_with("/api/") {
            let token = request.headers.get("x-csrf-token").and_then(|value| value.to_str().ok());
            if !token.is_some_and(|token| crate::auth::same_token(token, &session.csrf_token)) {
                return Err(ApiError::forbidden("missing or wrong X-CSRF-Token header").into_response());
            }
        }
    }
    let scope = match access {
        Access::Public | Access::SignedIn => Scope::sites(principal.sites.iter().cloned()),
        Access::Permission(permission) => match principal.scope_for(permission) {
            Some(scope) => scope,
            None => {
                return Err(ApiError::forbidden(format!("this needs the permission {permission}")).into_response());
            }
        },
    };
    Ok(Some(Caller { principal, scope, session, family, address }))
}

fn anonymous() -> Principal {
    Principal {
        user_id: None,
        email: "anonymous".to_owned(),
        display_name: "Anonyme".to_owned(),
        roles: Vec::new(),
        permissions: Default::default(),
        sites: Default::default(),
    }
}

type Identified = Option<(Principal, Option<sessions::Session>, Option<uuid::Uuid>)>;

/// The signed-in caller from a bearer token or a session cookie; the local reader on a
/// server without a database.
async fn identify(state: &AppState, request: &Parts) -> Result<Identified, Response> {
    let (Some(pool), Some(security)) = (&state.pool, &state.security) else {
        return Ok(Some((Principal::local(), None, None)));
    };
    let internal =
        |error: crate::auth::AuthError| ApiError::internal("checking the caller failed", &error).into_response();
    if let Some(value) = request.headers.get(header::AUTHORIZATION) {
        let token = value
            .to_str()
            .ok()
            .and_then(|text| text.strip_prefix("Bearer ").or_else(|| text.strip_prefix("bearer ")))
            .ok_or_else(|| {
                ApiError::unauthorized("the Authorization header must be `Bearer <access token>`").into_response()
            })?;
        let claims = security
            .keys
            .verify(token.trim())
            .map_err(|error| ApiError::unauthorized(error.to_string()).into_response())?;
        if tokens::family_is_revoked(pool, claims.fam).await.map_err(internal)? {
            return Err(ApiError::unauthorized("this token was revoked: sign in again").into_response());
        }
        let principal = crate::auth::users::principal(pool, claims.sub)
            .await
            .map_err(internal)?
            .ok_or_else(|| ApiError::unauthorized("this account is disabled").into_response())?;
        return Ok(Some((principal, None, Some(claims.fam))));
    }
    let jar = CookieJar::from_headers(&request.headers);
    let Some(cookie) = jar.get(sessions::COOKIE) else { return Ok(None) };
    let Some(session) = sessions::find(pool, cookie.value()).await.map_err(internal)? else { return Ok(None) };
    let Some(principal) = crate::auth::users::principal(pool, session.user_id).await.map_err(internal)? else {
        return Ok(None);
    };
    Ok(Some((principal, Some(session), None)))
}

fn check_host(state: &AppState, request: &Parts) -> Result<(), ApiError> {
    let host = request
        .headers
        .get(header::HOST)
        .and_then(|value| value.to_str().ok())
        .or_else(|| request.uri.authority().map(|authority| authority.as_str()))
        .map(str::to_lowercase);
    match host {
        Some(host) if state.public.hosts.contains(&host) => Ok(()),
        _ => Err(ApiError::new(
            StatusCode::MISDIRECTED_REQUEST,
            "Unknown host",
            "this server answers only at its public address (--public-url)",
        )),
    }
}

/// A state-changing request must name this server's origin (`Origin`, else `Referer`).
fn check_origin(state: &AppState, request: &Parts) -> Result<(), ApiError> {
    let headers = &request.headers;
    let origin = headers.get(header::ORIGIN).and_then(|value| value.to_str().ok());
    let referer = headers.get(header::REFERER).and_then(|value| value.to_str().ok());
    // The page's origin must be one of the server's own names (`127.0.0.1:8080` and
    // `localhost:8080` are both the loopback server), with the public scheme.
    let same = |text: &str| {
        url::Url::parse(text).is_ok_and(|url| {
            let scheme_ok = url.scheme() == if state.public.secure { "https" } else { "http" };
            let host = url.host_str().unwrap_or_default().to_lowercase();
            let named = match url.port() {
                Some(port) => format!("{host}:{port}"),
                None => host,
            };
            scheme_ok && state.public.hosts.contains(&named)
        })
    };
    let from_browser = origin.is_some() || referer.is_some();
    let bearer = headers.contains_key(header::AUTHORIZATION);
    let allowed = match (origin, referer) {
        (Some(origin), _) => same(origin),
        (None, Some(referer)) => same(referer),
        // Neither header: not a browser form or fetch (command-line and API clients).
        (None, None) => true,
    };
    if allowed || (bearer && !from_browser) {
        Ok(())
    } else {
        Err(ApiError::forbidden("cross-site request refused: it does not come from this server's pages"))
    }
}

/// Whether the request carries a body (sign-out, say, carries none).
fn has_body(request: &Parts) -> bool {
    let length = request.headers.get(header::CONTENT_LENGTH).and_then(|value| value.to_str().ok());
    request.headers.contains_key(header::TRANSFER_ENCODING) || length.is_some_and(|length| length.trim() != "0")
}

fn is_json(request: &Parts) -> bool {
    request
        .headers
        .get(header::CONTENT_TYPE)
        .and_then(|value| value.to_str().ok())
        .and_then(|value| value.split(';').next())
        .is_some_and(|media| media.trim().eq_ignore_ascii_case("application/json"))
}

fn wants_html(request: &Parts) -> bool {
    request.method == Method::GET
        && request
            .headers
            .get(header::ACCEPT)
            .and_then(|value| value.to_str().ok())
            .is_some_and(|accept| accept.contains("text/html"))
}

/// Browsers go to the sign-in page and come back; other clients get a 401 problem.
fn not_signed_in(request: &Parts) -> Response {
    if wants_html(request) {
        let next = request.uri.path_and_query().map_or("/", |path| path.as_str());
        let location =
            format!("/login?next={}", url::form_urlencoded::byte_serialize(next.as_bytes()).collect::<String>());
        return Redirect::to(&location).into_response();
    }
    ApiError::unauthorized("sign in first: POST /api/auth/login, then send `Authorization: Bearer <access_token>`")
        .into_response()
}
