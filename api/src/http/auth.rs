//! Signing in and out. Browsers: the sign-in page and form (CSRF double-submit token,
//! same-origin check), a session cookie (HttpOnly, SameSite=Strict, Secure behind
//! TLS), the second-factor page (enrolment with a QR code, or a code), sign-out. API
//! clients: `POST /api/auth/login` for an access and a refresh token, `refresh` to
//! rotate, `logout` to revoke. Every attempt is throttled per account and address and
//! recorded in the audit log.

use std::net::IpAddr;

use axum::Json;
use axum::extract::{Extension, Form, Query, State};
use axum::http::StatusCode;
use axum::response::{Html, IntoResponse, Redirect, Response};
use axum_extra::extract::cookie::{Cookie, CookieJar, SameSite};

use super::error::{ApiError, Problem, json_body};
use super::layout::{escape, page};
use super::{AppState, Caller};
use crate::auth::{AuthError, sessions, totp, users};

/// The cookie carrying the sign-in form's CSRF token (double submit).
const LOGIN_CSRF_COOKIE: &str = "opsflux_login_csrf";

/// What a successful password (and second-factor) check leads to.
enum Checked {
    /// Fully signed in.
    SignedIn(uuid::Uuid),
    /// Password right, but the account must enrol a second factor first.
    MustEnrol(uuid::Uuid),
}

/// Checks email, password and one-time code with throttling; records the outcome.
async fn check_credentials(
    state: &AppState,
    email: &str,
    password: &str,
    code: Option<&str>,
    address: IpAddr,
    allow_enrolment: bool,
) -> Result<Checked, AuthError> {
    let (Some(pool), Some(security)) = (&state.pool, &state.security) else {
        return Err(AuthError::Invalid("this server has no users: it serves a warehouse alone".into()));
    };
    if let Some(seconds) = security.throttle.wait(address) {
        // Not recorded one by one: a flood of refused attempts must not fill the audit log.
        tracing::debug!(%address, seconds, "sign-in refused: address throttled");
        return Err(AuthError::Throttled { seconds });
    }
    if users::normalise_email(email).is_err() || password.len() > 1024 {
        security.throttle.failed(address);
        return Err(AuthError::BadCredentials);
    }
    // Counted before the slow password check, so parallel guesses cannot pass the limit;
    // a success takes it back.
    security.throttle.failed(address);
    let account = users::for_sign_in(pool, email).await?;
    let password_ok = crate::auth::password::verify(
        password.to_owned(),
        account.as_ref().and_then(|account| account.password_hash.clone()),
    )
    .await;
    let Some(account) = account.filter(|account| account.active) else {
        record(state, None, email, "auth.sign_in_failed", "unknown or disabled account", address).await;
        return Err(AuthError::BadCredentials);
    };
    if account.locked_for.is_some() {
        // The same answer as a wrong password, so a lock does not tell that the email exists.
        record(state, Some(account.id), &account.email, "auth.sign_in_failed", "account locked", address).await;
        return Err(AuthError::BadCredentials);
    }
    if !password_ok {
        let locked = users::failed_sign_in(pool, account.id).await?;
        record(state, Some(account.id), &account.email, "auth.sign_in_failed", "wrong password", address).await;
        if locked {
            tracing::warn!(email = %account.email, "account locked after repeated failed sign-ins");
            record(state, Some(account.id), &account.email, "auth.lockout", "locked", address).await;
        }
        return Err(AuthError::BadCredentials);
    }
    if account.needs_second_factor {
        match (&account.totp_secret, code.map(str::trim).filter(|code| !code.is_empty())) {
            (None, _) if allow_enrolment => {
                security.throttle.succeeded(address);
                record(
                    state,
                    Some(account.id),
                    &account.email,
                    "auth.sign_in",
                    "password ok; enrolment required",
                    address,
                )
                .await;
                return Ok(Checked::MustEnrol(account.id));
            }
            (None, _) => {
                record(
                    state,
                    Some(account.id),
                    &account.email,
                    "auth.sign_in_failed",
                    "second factor not enrolled",
                    address,
                )
                .await;
                return Err(AuthError::EnrolmentRequired);
            }
            (Some(_), None) => return Err(AuthError::SecondFactorRequired),
            (Some(secret), Some(code)) => {
                if let Err(error) = totp::verify_once(pool, account.id, secret, &account.email, code).await {
                    users::failed_sign_in(pool, account.id).await?;
                    record(
                        state,
                        Some(account.id),
                        &account.email,
                        "auth.sign_in_failed",
                        "wrong one-time code",
                        address,
                    )
                    .await;
                    return Err(error);
                }
            }
        }
    }
    users::signed_in(pool, account.id).await?;
    security.throttle.succeeded(address);
    record(state, Some(account.id), &account.email, "auth.sign_in", "ok", address).await;
    Ok(Checked::SignedIn(account.id))
}

async fn record(state: &AppState, user: Option<uuid::Uuid>, email: &str, action: &str, result: &str, address: IpAddr) {
    let event = crate::audit::Event {
        actor_id: user,
        actor: email.trim().to_lowercase(),
        action: action.to_owned(),
        entity: "platform.users".to_owned(),
        entity_id: user,
        parameters: serde_json::json!({}),
        result: result.to_owned(),
        warehouse: None,
        address: Some(address.to_string()),
    };
    // Sign-in goes on even if the record fails; the failure is logged by `record`.
    let _ = state.audit(event).await;
}

fn auth_problem(error: AuthError) -> ApiError {
    match error {
        AuthError::BadCredentials | AuthError::BadToken | AuthError::RefreshReused | AuthError::BadSecondFactor => {
            ApiError::unauthorized(error.to_string())
        }
        AuthError::SecondFactorRequired => ApiError::unauthorized(error.to_string()).with_parameter("totp"),
        AuthError::EnrolmentRequired => ApiError::forbidden(error.to_string()),
        AuthError::Throttled { seconds } => {
            ApiError::new(StatusCode::TOO_MANY_REQUESTS, "Too many attempts", error.to_string())
                .with_retry_after(seconds)
        }
        AuthError::Invalid(message) => ApiError::new(StatusCode::BAD_REQUEST, "Invalid request", message),
        AuthError::Database(_) | AuthError::Crypto(_) => ApiError::internal("signing in failed", &error),
    }
}

fn session_cookie(state: &AppState, value: String) -> Cookie<'static> {
    Cookie::build((sessions::COOKIE, value))
        .path("/")
        .http_only(true)
        .same_site(SameSite::Strict)
        .secure(state.public.secure)
        .build()
}

#[derive(Debug, serde::Deserialize)]
pub(crate) struct LoginQuery {
    next: Option<String>,
}

/// Only paths of this server: `next` can never send a browser elsewhere.
fn safe_next(next: Option<&str>) -> String {
    match next {
        Some(path)
            if path.starts_with('/')
                && !path.starts_with("//")
                && !path
                    .chars()
                    .any(|character| character == '\\' || character.is_whitespace() || character.is_control()) =>
        {
            path.to_owned()
        }
        _ => "/".to_owned(),
    }
}

fn login_html(state: &AppState, csrf: &str, next: &str, message: Option<&str>) -> String {
    let notice = message
        .map(|message| format!("<p class=\"problem\" role=\"alert\">{}</p>", escape(message)))
        .unwrap_or_default();
    let body = if state.pool.is_none() {
        "<p class=\"empty\">Ce serveur lit un entrepôt seul, sans utilisateurs : aucune connexion n'est nécessaire. <a href=\"/\">Tableaux de bord</a></p>".to_owned()
    } else {
        format!(
            "{notice}<form method=\"post\" action=\"/login\" class=\"signin\">\
             <input type=\"hidden\" name=\"csrf\" value=\"{}\"><input type=\"hidden\" name=\"next\" value=\"{}\">\
             <label>Adresse e-mail <input type=\"email\" name=\"email\" autocomplete=\"username\" required autofocus></label>\
             <label>Mot de passe <input type=\"password\" name=\"password\" autocomplete=\"current-password\" required></label>\
             <label>Code à usage unique (si la double authentification est activée) \
             <input name=\"totp\" inputmode=\"numeric\" autocomplete=\"one-time-code\" pattern=\"[0-9 ]*\"></label>\
             <button type=\"submit\">Se connecter</button></form>",
            escape(csrf),
            escape(next)
        )
    };
    page("/login", "Connexion", "", &body)
}

/// `GET /login`: the sign-in form, with a fresh CSRF token in a cookie and a field.
pub(crate) async fn login_page(
    State(state): State<AppState>,
    jar: CookieJar,
    Query(query): Query<LoginQuery>,
) -> Result<Response, ApiError> {
    let csrf = crate::auth::random_token().map_err(auth_problem)?;
    let cookie = Cookie::build((LOGIN_CSRF_COOKIE, csrf.clone()))
        .path("/login")
        .http_only(true)
        .same_site(SameSite::Strict)
        .secure(state.public.secure)
        .build();
    let html = login_html(&state, &csrf, &safe_next(query.next.as_deref()), None);
    Ok((jar.add(cookie), Html(html)).into_response())
}

#[derive(Debug, serde::Deserialize)]
pub(crate) struct LoginForm {
    email: String,
    password: String,
    totp: Option<String>,
    csrf: String,
    next: Option<String>,
}

/// `POST /login`: checks the form's CSRF token against its cookie, then the
/// credentials; a session cookie and a redirect on success.
pub(crate) async fn login_form(
    State(state): State<AppState>,
    Extension(caller): Extension<Caller>,
    jar: CookieJar,
    Form(form): Form<LoginForm>,
) -> Result<Response, ApiError> {
    let next = safe_next(form.next.as_deref());
    let expected = jar.get(LOGIN_CSRF_COOKIE).map(|cookie| cookie.value().to_owned());
    if !expected.is_some_and(|expected| crate::auth::same_token(&expected, &form.csrf)) || form.csrf.is_empty() {
        return Err(ApiError::forbidden("the sign-in form expired or came from another site: reload /login"));
    }
    let Some(pool) = &state.pool else { return Ok(Redirect::to("/").into_response()) };
    let checked =
        check_credentials(&state, &form.email, &form.password, form.totp.as_deref(), caller.address, true).await;
    let (user, pending) = match checked {
        Ok(Checked::SignedIn(user)) => (user, false),
        Ok(Checked::MustEnrol(user)) => (user, true),
        Err(error @ (AuthError::Database(_) | AuthError::Crypto(_))) => return Err(auth_problem(error)),
        Err(error) => {
            let status = match error {
                AuthError::Throttled { .. } => StatusCode::TOO_MANY_REQUESTS,
                _ => StatusCode::UNAUTHORIZED,
            };
            let message = match error {
                AuthError::SecondFactorRequired => "Saisissez le code à usage unique de votre application.".to_owned(),
                AuthError::BadSecondFactor => "Code à usage unique incorrect ou déjà utilisé.".to_owned(),
                AuthError::Throttled { seconds } => format!("Trop de tentatives : réessayez dans {seconds} s."),
                _ => "Adresse e-mail ou mot de passe incorrect.".to_owned(),
            };
            return Ok((status, Html(login_html(&state, &form.csrf, &next, Some(&message)))).into_response());
        }
    };
    let (token, _) = sessions::start(pool, user, pending, &caller.address.to_string()).await.map_err(auth_problem)?;
    let jar = jar.remove(Cookie::build(LOGIN_CSRF_COOKIE).path("/login")).add(session_cookie(&state, token));
    let target = if pending { "/account/two-factor".to_owned() } else { next };
    Ok((jar, Redirect::to(&target)).into_response())
}

#[derive(Debug, serde::Deserialize)]
pub(crate) struct CsrfForm {
    csrf: String,
}

/// `POST /logout`: ends the session (with its CSRF token) and clears the cookie.
pub(crate) async fn logout_form(
    State(state): State<AppState>,
    Extension(caller): Extension<Caller>,
    jar: CookieJar,
    Form(form): Form<CsrfForm>,
) -> Result<Response, ApiError> {
    let (Some(pool), Some(session)) = (&state.pool, &caller.session) else {
        return Ok(Redirect::to("/login").into_response());
    };
    if !crate::auth::same_token(&form.csrf, &session.csrf_token) {
        return Err(ApiError::forbidden("wrong CSRF token: sign out from the page's own button"));
    }
    sessions::revoke(pool, session.id).await.map_err(auth_problem)?;
    state
        .audit(crate::audit::Event {
            action: "auth.sign_out".into(),
            entity: "platform.sessions".into(),
            ..caller.audit_event()
        })
        .await?;
    Ok((jar.remove(Cookie::build(sessions::COOKIE).path("/")), Redirect::to("/login")).into_response())
}

/// `GET /account/two-factor`: enrolment (a new secret as a QR code and its otpauth
/// URI, confirmed by a first code), or the state of an enrolled account.
pub(crate) async fn two_factor_page(
    State(state): State<AppState>,
    Extension(caller): Extension<Caller>,
) -> Result<Html<String>, ApiError> {
    let (Some(pool), Some(session), Some(user)) = (&state.pool, &caller.session, caller.principal.user_id) else {
        return Err(ApiError::new(
            StatusCode::BAD_REQUEST,
            "Browser only",
            "two-factor enrolment is done in a browser session",
        ));
    };
    let enrolled: bool = sqlx::query_scalar("SELECT totp_secret IS NOT NULL FROM platform.users WHERE id = $1")
        .bind(user)
        .fetch_one(pool)
        .await
        .map_err(|error| ApiError::internal("reading the account failed", &error))?;
    if enrolled && !session.second_factor_pending {
        return Ok(Html(page(
            "/account/two-factor",
            "Double authentification",
            "",
            "<p>La double authentification est active sur ce compte.</p>",
        )));
    }
    let secret = match &session.pending_totp_secret {
        Some(secret) => secret.clone(),
        None => {
            let secret = totp::new_secret();
            sessions::set_pending_secret(pool, session.id, &secret).await.map_err(auth_problem)?;
            secret
        }
    };
    let uri = totp::uri(&secret, &caller.principal.email).map_err(auth_problem)?;
    let qr = totp::qr_svg(&uri).map_err(auth_problem)?;
    let body = format!(
        "<section><p>Scannez ce code avec votre application d'authentification (FreeOTP, Aegis, Google Authenticator…), \
         puis saisissez le code qu'elle affiche.</p><div class=\"qr\">{qr}</div>\
         <p>Ou saisissez ce lien : <code id=\"otpauth\">{}</code></p>\
         <form method=\"post\" action=\"/account/two-factor\" class=\"signin\">\
         <input type=\"hidden\" name=\"csrf\" value=\"{}\">\
         <label>Code <input name=\"code\" inputmode=\"numeric\" autocomplete=\"one-time-code\" required autofocus></label>\
         <button type=\"submit\">Activer</button></form></section>",
        escape(&uri),
        escape(&session.csrf_token)
    );
    Ok(Html(page("/account/two-factor", "Double authentification", "", &body)))
}

#[derive(Debug, serde::Deserialize)]
pub(crate) struct TwoFactorForm {
    csrf: String,
    code: String,
}

/// `POST /account/two-factor`: confirms enrolment with a first code.
pub(crate) async fn two_factor_form(
    State(state): State<AppState>,
    Extension(caller): Extension<Caller>,
    Form(form): Form<TwoFactorForm>,
) -> Result<Response, ApiError> {
    let (Some(pool), Some(session), Some(user)) = (&state.pool, &caller.session, caller.principal.user_id) else {
        return Err(ApiError::new(
            StatusCode::BAD_REQUEST,
            "Browser only",
            "two-factor enrolment is done in a browser session",
        ));
    };
    if !crate::auth::same_token(&form.csrf, &session.csrf_token) {
        return Err(ApiError::forbidden("wrong CSRF token"));
    }
    let Some(secret) = &session.pending_totp_secret else {
        return Ok(Redirect::to("/account/two-factor").into_response());
    };
    if let Err(error) = totp::enrol(pool, user, secret, &caller.principal.email, &form.code).await {
        let message = match error {
            AuthError::BadSecondFactor => "Code incorrect : réessayez avec le code affiché maintenant.",
            _ => return Err(auth_problem(error)),
        };
        let body = format!("<p class=\"problem\">{message}</p><p><a href=\"/account/two-factor\">Réessayer</a></p>");
        return Ok((StatusCode::BAD_REQUEST, Html(page("/account/two-factor", "Double authentification", "", &body)))
            .into_response());
    }
    sessions::complete_second_factor(pool, session.id).await.map_err(auth_problem)?;
    state
        .audit(crate::audit::Event {
            action: "auth.totp_enrolled".into(),
            entity: "platform.users".into(),
            entity_id: Some(user),
            ..caller.audit_event()
        })
        .await?;
    Ok(Redirect::to("/").into_response())
}

/// `POST /api/auth/login` body.
#[derive(Debug, serde::Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct LoginRequest {
    pub email: String,
    pub password: String,
    /// The current one-time code, for accounts with a second factor.
    pub totp: Option<String>,
}

/// `POST /api/auth/login`: an access token (JWT, 5 minutes) and a refresh token.
#[utoipa::path(post, path = "/api/auth/login", tag = "auth", request_body = LoginRequest, security(()),
    responses((status = 200, body = crate::auth::tokens::TokenPair),
        (status = 400, body = Problem, content_type = "application/problem+json"), (status = 401, description = "wrong credentials or code", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "second factor not enrolled", body = Problem, content_type = "application/problem+json"),
        (status = 415, body = Problem, content_type = "application/problem+json"), (status = 429, description = "throttled", body = Problem, content_type = "application/problem+json")))]
pub(crate) async fn api_login(
    State(state): State<AppState>,
    Extension(caller): Extension<Caller>,
    body: axum::body::Bytes,
) -> Result<Json<crate::auth::tokens::TokenPair>, ApiError> {
    let request: LoginRequest = json_body(&body)?;
    let (Some(pool), Some(security)) = (&state.pool, &state.security) else {
        return Err(ApiError::new(
            StatusCode::NOT_FOUND,
            "Not found",
            "this server has no users: it serves a warehouse alone",
        ));
    };
    let user = match check_credentials(
        &state,
        &request.email,
        &request.password,
        request.totp.as_deref(),
        caller.address,
        false,
    )
    .await
    .map_err(auth_problem)?
    {
        Checked::SignedIn(user) => user,
        Checked::MustEnrol(_) => return Err(auth_problem(AuthError::EnrolmentRequired)),
    };
    security.keys.sign_in(pool, user).await.map(Json).map_err(auth_problem)
}

/// `POST /api/auth/refresh` body.
#[derive(Debug, serde::Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RefreshRequest {
    pub refresh_token: String,
}

/// `POST /api/auth/refresh`: a new pair; the refresh token given is spent.
#[utoipa::path(post, path = "/api/auth/refresh", tag = "auth", request_body = RefreshRequest, security(()),
    responses((status = 200, body = crate::auth::tokens::TokenPair), (status = 400, body = Problem, content_type = "application/problem+json"),
        (status = 401, description = "unknown, expired, revoked or reused token", body = Problem, content_type = "application/problem+json"), (status = 415, body = Problem, content_type = "application/problem+json")))]
pub(crate) async fn api_refresh(
    State(state): State<AppState>,
    Extension(caller): Extension<Caller>,
    body: axum::body::Bytes,
) -> Result<Json<crate::auth::tokens::TokenPair>, ApiError> {
    let request: RefreshRequest = json_body(&body)?;
    let (Some(pool), Some(security)) = (&state.pool, &state.security) else {
        return Err(ApiError::new(StatusCode::NOT_FOUND, "Not found", "this server has no users"));
    };
    match security.keys.refresh(pool, &request.refresh_token).await {
        Ok((_, pair)) => Ok(Json(pair)),
        Err(AuthError::RefreshReused) => {
            tracing::warn!(address = %caller.address, "a refresh token was reused: its sign-in is revoked");
            record(&state, None, "unknown", "auth.refresh_reused", "family revoked", caller.address).await;
            Err(auth_problem(AuthError::RefreshReused))
        }
        Err(error) => Err(auth_problem(error)),
    }
}

/// `POST /api/auth/logout`: revokes the caller's tokens (access and refresh).
#[utoipa::path(post, path = "/api/auth/logout", tag = "auth",
    responses((status = 204, description = "revoked"), (status = 401, body = Problem, content_type = "application/problem+json"), (status = 415, body = Problem, content_type = "application/problem+json")))]
pub(crate) async fn api_logout(
    State(state): State<AppState>,
    Extension(caller): Extension<Caller>,
) -> Result<StatusCode, ApiError> {
    let Some(pool) = &state.pool else { return Ok(StatusCode::NO_CONTENT) };
    if let Some(family) = caller.family {
        crate::auth::tokens::revoke_family(pool, family).await.map_err(auth_problem)?;
    }
    if let Some(session) = &caller.session {
        sessions::revoke(pool, session.id).await.map_err(auth_problem)?;
    }
    state
        .audit(crate::audit::Event {
            action: "auth.sign_out".into(),
            entity: "platform.refresh_tokens".into(),
            ..caller.audit_event()
        })
        .await?;
    Ok(StatusCode::NO_CONTENT)
}

/// `GET /api/me`: who the caller is, their roles, permissions and sites.
#[utoipa::path(get, path = "/api/me", tag = "auth",
    responses((status = 200, body = serde_json::Value), (status = 401, body = Problem, content_type = "application/problem+json")))]
pub(crate) async fn me(Extension(caller): Extension<Caller>) -> Json<serde_json::Value> {
    Json(serde_json::json!({
        "email": caller.principal.email,
        "display_name": caller.principal.display_name,
        "roles": caller.principal.roles,
        "permissions": caller.principal.permissions,
        "sites": caller.principal.sites,
    }))
}
