//! The key that signs access tokens: 256 random bits kept in `platform.signing_keys`,
//! created on first use, so every `opsflux` process over the same database verifies
//! the same tokens.

use sqlx::PgPool;

use super::AuthError;

/// Reads the newest live signing key, creating one when there is none.
pub async fn signing_key(pool: &PgPool) -> Result<Vec<u8>, AuthError> {
    let mut transaction = pool.begin().await?;
    // One creator at a time: two servers starting together must agree on one key.
    sqlx::query("LOCK TABLE platform.signing_keys IN SHARE ROW EXCLUSIVE MODE").execute(&mut *transaction).await?;
    let existing: Option<Vec<u8>> = sqlx::query_scalar(
        "SELECT secret FROM platform.signing_keys WHERE deleted_at IS NULL ORDER BY created_at DESC LIMIT 1",
    )
    .fetch_optional(&mut *transaction)
    .await?;
    let key = match existing {
        Some(key) => key,
        None => {
            let key = super::random_bytes::<32>()?.to_vec();
            sqlx::query("INSERT INTO platform.signing_keys (secret) VALUES ($1)")
                .bind(&key)
                .execute(&mut *transaction)
                .await?;
            tracing::info!("created the key that signs access tokens");
            key
        }
    };
    transaction.commit().await?;
    Ok(key)
}
