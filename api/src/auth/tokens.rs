//! API tokens: short-lived access tokens (JWT, HS256 only, `exp` checked) and refresh
//! tokens stored as SHA-256 hashes, rotated on every use. Each sign-in starts a token
//! family; reusing a refresh token that was already exchanged revokes the family, and
//! so does signing out. Access tokens carry their family, which is checked live.

use chrono::{Duration, Utc};
use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey, Header, Validation};
use sqlx::PgPool;
use uuid::Uuid;

use super::AuthError;

/// How long an access token is accepted.
pub const ACCESS_SECONDS: i64 = 5 * 60;
/// How long a refresh token may wait before it is exchanged.
pub const REFRESH_DAYS: i64 = 14;

/// What an access token says.
#[derive(Debug, Clone, serde::Serialize, serde::Deserialize)]
pub struct Claims {
    /// The user id.
    pub sub: Uuid,
    /// The token family (one per sign-in).
    pub fam: Uuid,
    pub iat: i64,
    pub exp: i64,
    pub iss: String,
}

const ISSUER: &str = "opsflux";

/// Signs and checks access tokens with one HMAC key.
#[derive(Clone)]
pub struct TokenKeys {
    encoding: EncodingKey,
    decoding: DecodingKey,
}

impl std::fmt::Debug for TokenKeys {
    fn fmt(&self, formatter: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        formatter.write_str("TokenKeys(..)")
    }
}

/// A token pair as the API answers it.
#[derive(Debug, Clone, serde::Serialize, utoipa::ToSchema)]
pub struct TokenPair {
    pub access_token: String,
    pub refresh_token: String,
    /// Seconds the access token is valid for.
    pub expires_in: i64,
    pub token_type: &'static str,
}

impl TokenKeys {
    pub fn new(secret: &[u8]) -> Self {
        Self { encoding: EncodingKey::from_secret(secret), decoding: DecodingKey::from_secret(secret) }
    }

    pub fn access_token(&self, user: Uuid, family: Uuid) -> Result<String, AuthError> {
        let now = Utc::now().timestamp();
        let claims = Claims { sub: user, fam: family, iat: now, exp: now + ACCESS_SECONDS, iss: ISSUER.to_owned() };
        jsonwebtoken::encode(&Header::new(Algorithm::HS256), &claims, &self.encoding)
            .map_err(|error| AuthError::Crypto(format!("signing a token failed: {error}")))
    }

    /// Checks signature (HS256 only: `none` and every other algorithm are refused),
    /// expiry and issuer.
    pub fn verify(&self, token: &str) -> Result<Claims, AuthError> {
        let mut validation = Validation::new(Algorithm::HS256);
        validation.set_issuer(&[ISSUER]);
        validation.set_required_spec_claims(&["exp", "sub", "iss"]);
        validation.leeway = 0;
        jsonwebtoken::decode::<Claims>(token, &self.decoding, &validation)
            .map(|data| data.claims)
            .map_err(|_| AuthError::BadToken)
    }

    /// A new family for `user`: an access token and its first refresh token.
    pub async fn sign_in(&self, pool: &PgPool, user: Uuid) -> Result<TokenPair, AuthError> {
        let family = Uuid::new_v4();
        let refresh_token = store_refresh(pool, user, family).await?;
        Ok(TokenPair {
            access_token: self.access_token(user, family)?,
            refresh_token,
            expires_in: ACCESS_SECONDS,
            token_type: "Bearer",
        })
    }

    /// Exchanges a refresh token for a new pair. A token already exchanged revokes its
    /// family (someone holds a copy); a revoked or expired one is refused.
    pub async fn refresh(&self, pool: &PgPool, refresh_token: &str) -> Result<(Uuid, TokenPair), AuthError> {
        let hash = super::token_hash(refresh_token);
        let mut transaction = pool.begin().await?;
        let row: Option<(Uuid, Uuid, Uuid, bool, bool, bool, bool)> = sqlx::query_as(
            "SELECT t.id, t.user_id, t.family_id, t.used_at IS NOT NULL, t.revoked_at IS NOT NULL,
                    t.expires_at < now(), u.is_active AND u.deleted_at IS NULL
             FROM platform.refresh_tokens t JOIN platform.users u ON u.id = t.user_id
             WHERE t.token_hash = $1 FOR UPDATE OF t",
        )
        .bind(&hash)
        .fetch_optional(&mut *transaction)
        .await?;
        let Some((id, user, family, used, revoked, expired, active)) = row else {
            return Err(AuthError::BadToken);
        };
        if used {
            revoke_family_in(&mut transaction, family).await?;
            transaction.commit().await?;
            return Err(AuthError::RefreshReused);
        }
        if revoked || expired || !active {
            return Err(AuthError::BadToken);
        }
        sqlx::query("UPDATE platform.refresh_tokens SET used_at = now(), updated_at = now() WHERE id = $1")
            .bind(id)
            .execute(&mut *transaction)
            .await?;
        let next = super::random_token()?;
        insert_refresh(&mut transaction, user, family, &next).await?;
        transaction.commit().await?;
        Ok((
            user,
            TokenPair {
                access_token: self.access_token(user, family)?,
                refresh_token: next,
                expires_in: ACCESS_SECONDS,
                token_type: "Bearer",
            },
        ))
    }
}

async fn store_refresh(pool: &PgPool, user: Uuid, family: Uuid) -> Result<String, AuthError> {
    let token = super::random_token()?;
    let mut connection = pool.acquire().await?;
    insert_refresh(&mut connection, user, family, &token).await?;
    Ok(token)
}

async fn insert_refresh(
    connection: &mut sqlx::PgConnection,
    user: Uuid,
    family: Uuid,
    token: &str,
) -> Result<(), AuthError> {
    sqlx::query(
        "INSERT INTO platform.refresh_tokens (family_id, user_id, token_hash, expires_at)
         VALUES ($1, $2, $3, now() + make_interval(days => $4))",
    )
    .bind(family)
    .bind(user)
    .bind(super::token_hash(token))
    .bind(REFRESH_DAYS as i32)
    .execute(connection)
    .await?;
    Ok(())
}

async fn revoke_family_in(connection: &mut sqlx::PgConnection, family: Uuid) -> Result<(), AuthError> {
    sqlx::query(
        "UPDATE platform.refresh_tokens SET revoked_at = now(), updated_at = now()
         WHERE family_id = $1 AND revoked_at IS NULL",
    )
    .bind(family)
    .execute(connection)
    .await?;
    Ok(())
}

/// Revokes every token of a sign-in (sign-out).
pub async fn revoke_family(pool: &PgPool, family: Uuid) -> Result<(), AuthError> {
    let mut connection = pool.acquire().await?;
    revoke_family_in(&mut connection, family).await
}

/// Whether a family was revoked: access tokens of a signed-out family stop at once.
pub async fn family_is_revoked(pool: &PgPool, family: Uuid) -> Result<bool, AuthError> {
    let revoked: Option<bool> =
        sqlx::query_scalar("SELECT bool_or(revoked_at IS NOT NULL) FROM platform.refresh_tokens WHERE family_id = $1")
            .bind(family)
            .fetch_one(pool)
            .await?;
    // A family with no token at all was never issued here.
    Ok(revoked.unwrap_or(true))
}

/// Expiry as seconds, for the answer of a sign-in.
pub fn access_lifetime() -> Duration {
    Duration::seconds(ACCESS_SECONDS)
}
