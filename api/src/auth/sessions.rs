//! Browser sessions: the cookie holds 256 random bits, the database their SHA-256, a
//! CSRF token for the session's forms, and two expiries: idle (no request for
//! [`IDLE_MINUTES`]) and absolute ([`ABSOLUTE_HOURS`] after sign-in). A session signed
//! in with a password only, by an account that needs a second factor, can do nothing
//! but enrol or sign out.

use sqlx::PgPool;
use uuid::Uuid;

use super::AuthError;

/// The session cookie's name.
pub const COOKIE: &str = "opsflux_session";
/// A session unused this long ends.
pub const IDLE_MINUTES: i64 = 30;
/// A session ends this long after sign-in, used or not.
pub const ABSOLUTE_HOURS: i64 = 12;

/// A live session.
#[derive(Debug, Clone)]
pub struct Session {
    pub id: Uuid,
    pub user_id: Uuid,
    pub csrf_token: String,
    pub second_factor_pending: bool,
    pub pending_totp_secret: Option<String>,
}

/// Starts a session; returns the cookie value and the session.
pub async fn start(
    pool: &PgPool,
    user: Uuid,
    second_factor_pending: bool,
    address: &str,
) -> Result<(String, Session), AuthError> {
    let token = super::random_token()?;
    let csrf_token = super::random_token()?;
    let id: Uuid = sqlx::query_scalar(
        "INSERT INTO platform.sessions (user_id, token_hash, csrf_token, second_factor_pending, expires_at, address)
         VALUES ($1, $2, $3, $4, now() + make_interval(hours => $5), $6) RETURNING id",
    )
    .bind(user)
    .bind(super::token_hash(&token))
    .bind(&csrf_token)
    .bind(second_factor_pending)
    .bind(ABSOLUTE_HOURS as i32)
    .bind(address)
    .fetch_one(pool)
    .await?;
    Ok((token, Session { id, user_id: user, csrf_token, second_factor_pending, pending_totp_secret: None }))
}

/// The live session a cookie names, touched as used; None when unknown, revoked,
/// idle too long or past its absolute expiry, or when its user was disabled.
pub async fn find(pool: &PgPool, token: &str) -> Result<Option<Session>, AuthError> {
    let row: Option<(Uuid, Uuid, String, bool, Option<String>)> = sqlx::query_as(
        "UPDATE platform.sessions s SET last_seen_at = now()
         FROM platform.users u
         WHERE s.token_hash = $1 AND u.id = s.user_id AND u.is_active AND u.deleted_at IS NULL
           AND s.revoked_at IS NULL AND s.expires_at > now()
           AND s.last_seen_at > now() - make_interval(mins => $2)
         RETURNING s.id, s.user_id, s.csrf_token, s.second_factor_pending, s.pending_totp_secret",
    )
    .bind(super::token_hash(token))
    .bind(IDLE_MINUTES as i32)
    .fetch_optional(pool)
    .await?;
    Ok(row.map(|(id, user_id, csrf_token, second_factor_pending, pending_totp_secret)| Session {
        id,
        user_id,
        csrf_token,
        second_factor_pending,
        pending_totp_secret,
    }))
}

/// Ends a session (sign-out).
pub async fn revoke(pool: &PgPool, session: Uuid) -> Result<(), AuthError> {
    sqlx::query(
        "UPDATE platform.sessions SET revoked_at = now(), updated_at = now() WHERE id = $1 AND revoked_at IS NULL",
    )
    .bind(session)
    .execute(pool)
    .await?;
    Ok(())
}

/// Keeps a secret being enrolled with the session until its first code confirms it.
pub async fn set_pending_secret(pool: &PgPool, session: Uuid, secret: &str) -> Result<(), AuthError> {
    sqlx::query("UPDATE platform.sessions SET pending_totp_secret = $2, updated_at = now() WHERE id = $1")
        .bind(session)
        .bind(secret)
        .execute(pool)
        .await?;
    Ok(())
}

/// The second factor is confirmed: the session becomes a full one, and every other
/// session of the user (opened with the password alone) ends.
pub async fn complete_second_factor(pool: &PgPool, session: Uuid) -> Result<(), AuthError> {
    sqlx::query(
        "UPDATE platform.sessions SET revoked_at = now() WHERE revoked_at IS NULL AND id <> $1
           AND user_id = (SELECT user_id FROM platform.sessions WHERE id = $1)",
    )
    .bind(session)
    .execute(pool)
    .await?;
    sqlx::query(
        "UPDATE platform.sessions SET second_factor_pending = false, pending_totp_secret = NULL, updated_at = now()
         WHERE id = $1",
    )
    .bind(session)
    .execute(pool)
    .await?;
    Ok(())
}
