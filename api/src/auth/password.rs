//! Password hashing with Argon2id (the argon2 crate's defaults: m = 19 MiB, t = 2,
//! p = 1), as PHC strings. Hashing is slow on purpose, so it runs on the blocking pool.

use argon2::Argon2;
use argon2::password_hash::phc::PasswordHash;
use argon2::password_hash::{PasswordHasher, PasswordVerifier};

use super::AuthError;

/// Shortest password accepted.
pub const MIN_LENGTH: usize = 12;

/// Checks a new password's strength; the message says what is wrong.
pub fn check_new(password: &str) -> Result<(), AuthError> {
    if password.chars().count() < MIN_LENGTH {
        return Err(AuthError::Invalid(format!("the password must have at least {MIN_LENGTH} characters")));
    }
    Ok(())
}

/// Password hashes computed at once; each holds 19 MiB and a core for a while, so a
/// flood of sign-ins waits here instead of exhausting memory.
static HASHING: tokio::sync::Semaphore = tokio::sync::Semaphore::const_new(4);

/// The PHC string of `password` with a fresh random salt.
pub async fn hash(password: String) -> Result<String, AuthError> {
    let _slot = HASHING.acquire().await.map_err(|error| AuthError::Crypto(error.to_string()))?;
    tokio::task::spawn_blocking(move || {
        Argon2::default()
            .hash_password(password.as_bytes())
            .map(|hash| hash.to_string())
            .map_err(|error| AuthError::Crypto(format!("hashing the password failed: {error}")))
    })
    .await
    .map_err(|error| AuthError::Crypto(error.to_string()))?
}

/// Whether `password` matches `stored`; a malformed stored hash matches nothing.
pub async fn verify(password: String, stored: Option<String>) -> bool {
    // Without a stored hash, a dummy verification keeps the timing of a real one, so
    // response times do not tell which emails exist.
    let stored = stored.unwrap_or_else(|| DUMMY_HASH.to_owned());
    let Ok(_slot) = HASHING.acquire().await else { return false };
    tokio::task::spawn_blocking(move || match PasswordHash::new(&stored) {
        Ok(parsed) => Argon2::default().verify_password(password.as_bytes(), &parsed).is_ok(),
        Err(_) => false,
    })
    .await
    .unwrap_or(false)
}

/// The Argon2id hash of a random string nobody knows.
const DUMMY_HASH: &str =
    "$argon2id$v=19$m=19456,t=2,p=1$c29tZXNhbHRzb21lc2FsdA$9sTbSlTio3Biev89thdrlKKiCaYsjjYVJxGAL3swxpQ";
