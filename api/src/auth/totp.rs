//! The second factor: RFC 6238 one-time codes (SHA-1, 6 digits, 30 s, one step of
//! skew either way), each usable once: the step a code matched is recorded and codes
//! of that step or earlier are refused. Enrolment shows the otpauth URI as a QR code.

use sqlx::PgPool;
use totp_rs::{Secret, Totp};
use uuid::Uuid;

use super::AuthError;

const ISSUER: &str = "OpsFlux";

/// A fresh secret, base32.
pub fn new_secret() -> String {
    Secret::generate().to_base32()
}

fn totp(secret: &str, account: &str) -> Result<Totp, AuthError> {
    let secret =
        Secret::try_from_base32(secret).map_err(|error| AuthError::Crypto(format!("bad TOTP secret: {error}")))?;
    totp_rs::Builder::new()
        .with_secret(secret)
        .with_account_name(account)
        .with_issuer(Some(ISSUER))
        .build()
        .map_err(|error| AuthError::Crypto(format!("bad TOTP settings: {error}")))
}

/// The otpauth URI authenticator apps read.
pub fn uri(secret: &str, account: &str) -> Result<String, AuthError> {
    totp(secret, account)?.to_url().map_err(|error| AuthError::Crypto(format!("building the otpauth URI: {error}")))
}

/// The otpauth URI as an SVG QR code.
pub fn qr_svg(uri: &str) -> Result<String, AuthError> {
    let code = qrcode::QrCode::new(uri.as_bytes()).map_err(|error| AuthError::Crypto(error.to_string()))?;
    Ok(code.render::<qrcode::render::svg::Color<'_>>().min_dimensions(220, 220).build())
}

/// The time step a code matches, if any.
pub fn matching_step(secret: &str, account: &str, code: &str) -> Result<Option<u64>, AuthError> {
    let code: String = code.chars().filter(|character| !character.is_whitespace()).collect();
    Ok(totp(secret, account)?.check_current(&code))
}

/// The current code of a secret (for tests and for scripted enrolment).
pub fn current_code(secret: &str, account: &str) -> Result<String, AuthError> {
    Ok(totp(secret, account)?.generate_current().to_string())
}

/// Checks a user's code and records its step, so it cannot be used again.
pub async fn verify_once(pool: &PgPool, user: Uuid, secret: &str, account: &str, code: &str) -> Result<(), AuthError> {
    let step = matching_step(secret, account, code)?.ok_or(AuthError::BadSecondFactor)?;
    let step = i64::try_from(step).map_err(|_| AuthError::BadSecondFactor)?;
    let updated = sqlx::query(
        "UPDATE platform.users SET totp_last_step = $2
         WHERE id = $1 AND (totp_last_step IS NULL OR totp_last_step < $2)",
    )
    .bind(user)
    .bind(step)
    .execute(pool)
    .await?;
    if updated.rows_affected() == 0 {
        return Err(AuthError::BadSecondFactor);
    }
    Ok(())
}

/// Confirms enrolment: the secret becomes the user's once a code of it is accepted.
pub async fn enrol(pool: &PgPool, user: Uuid, secret: &str, account: &str, code: &str) -> Result<(), AuthError> {
    let step = matching_step(secret, account, code)?.ok_or(AuthError::BadSecondFactor)?;
    // Only an account without a second factor enrols: a session opened with the password
    // alone can never replace a factor already in place.
    let enrolled = sqlx::query(
        "UPDATE platform.users SET totp_secret = $2, totp_last_step = $3, updated_at = now()
         WHERE id = $1 AND totp_secret IS NULL",
    )
    .bind(user)
    .bind(secret)
    .bind(i64::try_from(step).map_err(|_| AuthError::BadSecondFactor)?)
    .execute(pool)
    .await?;
    if enrolled.rows_affected() == 0 {
        return Err(AuthError::Invalid("this account already has a second factor".into()));
    }
    Ok(())
}
