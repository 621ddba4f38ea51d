//! Users in `platform.users`, their roles (`platform.role_grants`) and site scopes
//! (`platform.user_site_scopes`): creation, listing, disabling, password resets, the
//! sign-in lookup with its lockout counter, and loading a [`Principal`].

use std::collections::BTreeSet;

use sqlx::{PgConnection, PgPool};
use uuid::Uuid;

use super::{AuthError, Principal, roles, throttle};

/// A user as the command line lists it (never the hash).
#[derive(Debug, Clone)]
pub struct UserSummary {
    pub email: String,
    pub display_name: String,
    pub active: bool,
    pub roles: Vec<String>,
    pub sites: Vec<String>,
    pub second_factor: bool,
    pub locked: bool,
}

/// What a sign-in needs to know of an account.
#[derive(Debug, Clone)]
pub struct SignInAccount {
    pub id: Uuid,
    pub email: String,
    pub password_hash: Option<String>,
    pub active: bool,
    /// Seconds the account stays locked, if locked.
    pub locked_for: Option<u64>,
    pub totp_secret: Option<String>,
    pub needs_second_factor: bool,
}

/// email, name, active, roles, sites, second factor, locked.
type SummaryRow = (String, String, bool, Vec<String>, Vec<String>, bool, bool);
/// id, email, hash, active, seconds locked, TOTP secret, roles.
type SignInRow = (Uuid, String, Option<String>, bool, Option<f64>, Option<String>, Vec<String>);
/// email, name, roles, permissions granted to custom roles, sites.
type PrincipalRow = (String, String, Vec<String>, Vec<String>, Vec<String>);

/// The id of role `code`, creating a shipped role (and its permissions) if missing.
async fn role_id(connection: &mut PgConnection, code: &str) -> Result<Uuid, AuthError> {
    if let Some(id) =
        sqlx::query_scalar::<_, Uuid>("SELECT id FROM platform.roles WHERE code = $1 AND deleted_at IS NULL")
            .bind(code)
            .fetch_optional(&mut *connection)
            .await?
    {
        return Ok(id);
    }
    let Some((_, name, description, permissions)) = roles::SHIPPED.iter().find(|(known, _, _, _)| *known == code)
    else {
        let known: Vec<&str> = roles::SHIPPED.iter().map(|(code, _, _, _)| *code).collect();
        return Err(AuthError::Invalid(format!("unknown role `{code}`: expected one of {}", known.join(", "))));
    };
    let id: Uuid =
        sqlx::query_scalar("INSERT INTO platform.roles (code, name, description) VALUES ($1, $2, $3) RETURNING id")
            .bind(code)
            .bind(name)
            .bind(description)
            .fetch_one(&mut *connection)
            .await?;
    for permission in *permissions {
        let permission_id: Uuid = sqlx::query_scalar(
            "INSERT INTO platform.permissions (code) VALUES ($1)
             ON CONFLICT (code) DO UPDATE SET code = EXCLUDED.code RETURNING id",
        )
        .bind(permission)
        .fetch_one(&mut *connection)
        .await?;
        sqlx::query(
            "INSERT INTO platform.role_permissions (role_id, permission_id) VALUES ($1, $2) ON CONFLICT DO NOTHING",
        )
        .bind(id)
        .bind(permission_id)
        .execute(&mut *connection)
        .await?;
    }
    Ok(id)
}

/// Creates a user with one role and a site scope, in one transaction; unknown roles
/// and sites, and emails already taken, change nothing.
pub async fn add(
    pool: &PgPool,
    email: &str,
    display_name: &str,
    role: &str,
    sites: &[String],
    password_hash: &str,
) -> Result<Uuid, AuthError> {
    let email = normalise_email(email)?;
    let mut transaction = pool.begin().await?;
    let taken: bool = sqlx::query_scalar("SELECT EXISTS (SELECT 1 FROM platform.users WHERE lower(email) = $1)")
        .bind(&email)
        .fetch_one(&mut *transaction)
        .await?;
    if taken {
        return Err(AuthError::Invalid(format!("a user with email {email} already exists")));
    }
    let role_id = role_id(&mut transaction, role).await?;
    let user: Uuid = sqlx::query_scalar(
        "INSERT INTO platform.users (email, display_name, password_hash, password_changed_at)
         VALUES ($1, $2, $3, now()) RETURNING id",
    )
    .bind(&email)
    .bind(display_name)
    .bind(password_hash)
    .fetch_one(&mut *transaction)
    .await?;
    sqlx::query("INSERT INTO platform.role_grants (user_id, role_id) VALUES ($1, $2)")
        .bind(user)
        .bind(role_id)
        .execute(&mut *transaction)
        .await?;
    for site in sites {
        let site_id: Option<Uuid> =
            sqlx::query_scalar("SELECT id FROM core.sites WHERE code = $1 AND deleted_at IS NULL")
                .bind(site)
                .fetch_optional(&mut *transaction)
                .await?;
        let Some(site_id) = site_id else {
            return Err(AuthError::Invalid(format!("unknown site `{site}` (--site): core.sites has no such code")));
        };
        sqlx::query("INSERT INTO platform.user_site_scopes (user_id, site_id) VALUES ($1, $2) ON CONFLICT DO NOTHING")
            .bind(user)
            .bind(site_id)
            .execute(&mut *transaction)
            .await?;
    }
    transaction.commit().await?;
    Ok(user)
}

/// Emails are compared without case and surrounding spaces.
pub fn normalise_email(email: &str) -> Result<String, AuthError> {
    let email = email.trim().to_lowercase();
    let valid = email.len() <= 254
        && email.split_once('@').is_some_and(|(local, domain)| !local.is_empty() && domain.contains('.'))
        && !email.chars().any(char::is_whitespace);
    if !valid {
        return Err(AuthError::Invalid(format!("`{email}` is not an email address (--email)")));
    }
    Ok(email)
}

/// Every user with roles and sites, by email.
pub async fn list(pool: &PgPool) -> Result<Vec<UserSummary>, AuthError> {
    let rows: Vec<SummaryRow> = sqlx::query_as(
        "SELECT u.email, u.display_name, u.is_active AND u.deleted_at IS NULL,
                COALESCE(array_agg(DISTINCT r.code) FILTER (WHERE r.code IS NOT NULL), '{}'),
                COALESCE(array_agg(DISTINCT s.code) FILTER (WHERE s.code IS NOT NULL), '{}'),
                u.totp_secret IS NOT NULL, COALESCE(u.locked_until > now(), false)
         FROM platform.users u
         LEFT JOIN platform.role_grants g ON g.user_id = u.id AND g.deleted_at IS NULL
         LEFT JOIN platform.roles r ON r.id = g.role_id AND r.deleted_at IS NULL
         LEFT JOIN platform.user_site_scopes us ON us.user_id = u.id AND us.deleted_at IS NULL
         LEFT JOIN core.sites s ON s.id = us.site_id
         GROUP BY u.id ORDER BY u.email",
    )
    .fetch_all(pool)
    .await?;
    Ok(rows
        .into_iter()
        .map(|(email, display_name, active, roles, sites, second_factor, locked)| UserSummary {
            email,
            display_name,
            active,
            roles,
            sites,
            second_factor,
            locked,
        })
        .collect())
}

/// The id of the user with `email`, or an error naming it.
pub async fn id_of(pool: &PgPool, email: &str) -> Result<Uuid, AuthError> {
    let email = normalise_email(email)?;
    sqlx::query_scalar("SELECT id FROM platform.users WHERE lower(email) = $1")
        .bind(&email)
        .fetch_optional(pool)
        .await?
        .ok_or_else(|| AuthError::Invalid(format!("no user with email {email}")))
}

/// Disables a user and ends every session and token of theirs.
pub async fn disable(pool: &PgPool, user: Uuid) -> Result<(), AuthError> {
    let mut transaction = pool.begin().await?;
    sqlx::query("UPDATE platform.users SET is_active = false, updated_at = now() WHERE id = $1")
        .bind(user)
        .execute(&mut *transaction)
        .await?;
    revoke_everything(&mut transaction, user).await?;
    transaction.commit().await?;
    Ok(())
}

/// Sets a new password, unlocks the account and ends every session and token.
pub async fn reset_password(pool: &PgPool, user: Uuid, password_hash: &str) -> Result<(), AuthError> {
    let mut transaction = pool.begin().await?;
    sqlx::query(
        "UPDATE platform.users SET password_hash = $2, password_changed_at = now(), failed_sign_ins = 0,
                locked_until = NULL, updated_at = now() WHERE id = $1",
    )
    .bind(user)
    .bind(password_hash)
    .execute(&mut *transaction)
    .await?;
    revoke_everything(&mut transaction, user).await?;
    transaction.commit().await?;
    Ok(())
}

async fn revoke_everything(connection: &mut PgConnection, user: Uuid) -> Result<(), AuthError> {
    sqlx::query("UPDATE platform.sessions SET revoked_at = now() WHERE user_id = $1 AND revoked_at IS NULL")
        .bind(user)
        .execute(&mut *connection)
        .await?;
    sqlx::query("UPDATE platform.refresh_tokens SET revoked_at = now() WHERE user_id = $1 AND revoked_at IS NULL")
        .bind(user)
        .execute(&mut *connection)
        .await?;
    Ok(())
}

/// The account behind an email, for a sign-in attempt.
pub async fn for_sign_in(pool: &PgPool, email: &str) -> Result<Option<SignInAccount>, AuthError> {
    let Ok(email) = normalise_email(email) else { return Ok(None) };
    let row: Option<SignInRow> = sqlx::query_as(
        "SELECT u.id, u.email, u.password_hash, u.is_active AND u.deleted_at IS NULL,
                CASE WHEN u.locked_until > now() THEN extract(epoch FROM u.locked_until - now())::float8 END,
                u.totp_secret,
                COALESCE(array_agg(r.code) FILTER (WHERE r.code IS NOT NULL), '{}')
         FROM platform.users u
         LEFT JOIN platform.role_grants g ON g.user_id = u.id AND g.deleted_at IS NULL
         LEFT JOIN platform.roles r ON r.id = g.role_id AND r.deleted_at IS NULL
         WHERE lower(u.email) = $1 GROUP BY u.id",
    )
    .bind(&email)
    .fetch_optional(pool)
    .await?;
    Ok(row.map(|(id, email, password_hash, active, locked_for, totp_secret, roles)| SignInAccount {
        id,
        email,
        password_hash,
        active,
        locked_for: locked_for.map(|seconds| seconds.ceil().max(1.0) as u64),
        needs_second_factor: totp_secret.is_some()
            || roles.iter().any(|role| roles::SECOND_FACTOR_REQUIRED.contains(&role.as_str())),
        totp_secret,
    }))
}

/// Counts a failed sign-in; returns true when it locked the account.
pub async fn failed_sign_in(pool: &PgPool, user: Uuid) -> Result<bool, AuthError> {
    let locked: bool = sqlx::query_scalar(
        "UPDATE platform.users SET
            failed_sign_ins = CASE WHEN failed_sign_ins + 1 >= $2 THEN 0 ELSE failed_sign_ins + 1 END,
            locked_until = CASE WHEN failed_sign_ins + 1 >= $2 THEN now() + make_interval(mins => $3) ELSE locked_until END
         WHERE id = $1 RETURNING COALESCE(locked_until > now(), false)",
    )
    .bind(user)
    .bind(throttle::ACCOUNT_FAILURES)
    .bind(throttle::LOCK_MINUTES as i32)
    .fetch_one(pool)
    .await?;
    Ok(locked)
}

/// A successful sign-in clears the failure count.
pub async fn signed_in(pool: &PgPool, user: Uuid) -> Result<(), AuthError> {
    sqlx::query("UPDATE platform.users SET failed_sign_ins = 0, locked_until = NULL WHERE id = $1")
        .bind(user)
        .execute(pool)
        .await?;
    Ok(())
}

/// Unlocks an account by hand; returns whether it was locked.
pub async fn unlock(pool: &PgPool, user: Uuid) -> Result<bool, AuthError> {
    let was_locked: Option<bool> = sqlx::query_scalar(
        "UPDATE platform.users u SET failed_sign_ins = 0, locked_until = NULL
         FROM (SELECT id, COALESCE(locked_until > now(), false) AS locked FROM platform.users WHERE id = $1) old
         WHERE u.id = old.id RETURNING old.locked",
    )
    .bind(user)
    .fetch_optional(pool)
    .await?;
    Ok(was_locked.unwrap_or(false))
}

/// Loads an active user as a principal: roles, permissions (shipped roles from
/// [`roles::SHIPPED`], others from their grants) and site codes.
pub async fn principal(pool: &PgPool, user: Uuid) -> Result<Option<Principal>, AuthError> {
    let row: Option<PrincipalRow> = sqlx::query_as(
        "SELECT u.email, u.display_name,
                COALESCE((SELECT array_agg(DISTINCT r.code) FROM platform.role_grants g
                          JOIN platform.roles r ON r.id = g.role_id AND r.deleted_at IS NULL
                          WHERE g.user_id = u.id AND g.deleted_at IS NULL), '{}'),
                COALESCE((SELECT array_agg(DISTINCT p.code) FROM platform.role_grants g
                          JOIN platform.roles r ON r.id = g.role_id AND r.deleted_at IS NULL AND r.code <> ALL($2)
                          JOIN platform.role_permissions rp ON rp.role_id = r.id AND rp.deleted_at IS NULL
                          JOIN platform.permissions p ON p.id = rp.permission_id AND p.deleted_at IS NULL
                          WHERE g.user_id = u.id AND g.deleted_at IS NULL), '{}'),
                COALESCE((SELECT array_agg(DISTINCT s.code) FROM platform.user_site_scopes us
                          JOIN core.sites s ON s.id = us.site_id AND s.deleted_at IS NULL
                          WHERE us.user_id = u.id AND us.deleted_at IS NULL), '{}')
         FROM platform.users u WHERE u.id = $1 AND u.is_active AND u.deleted_at IS NULL",
    )
    .bind(user)
    .bind(roles::SHIPPED.iter().map(|(code, _, _, _)| (*code).to_owned()).collect::<Vec<String>>())
    .fetch_optional(pool)
    .await?;
    let Some((email, display_name, role_codes, granted, sites)) = row else { return Ok(None) };
    let mut permissions = BTreeSet::new();
    for role in &role_codes {
        if let Some(shipped) = roles::shipped(role) {
            permissions.extend(shipped.iter().map(|code| (*code).to_owned()));
        }
    }
    // Codes granted to roles of this installation's own (shipped roles are read above).
    permissions.extend(granted);
    Ok(Some(Principal {
        user_id: Some(user),
        email,
        display_name,
        roles: role_codes,
        permissions,
        sites: sites.into_iter().collect(),
    }))
}
