//! Who schedules and alerts are sent to: users named by email, each of whom must hold
//! a permission, and roles whose active users all receive them.

use sqlx::PgPool;
use uuid::Uuid;

use super::JobError;
use crate::auth::users;

/// Most recipients and roles one schedule or rule may name.
pub const MAX_NAMED: usize = 500;

/// Checks the named users and roles: each email an active user holding `permission`
/// (one refusal whether the account is missing or not allowed, so it tells nothing
/// about who has an account), each role known; at least one of either. Returns them
/// normalised, without repeats.
pub async fn check(
    pool: &PgPool,
    emails: &[String],
    roles: &[String],
    permission: &str,
    may: &str,
) -> Result<(Vec<String>, Vec<String>), JobError> {
    if emails.len() + roles.len() > MAX_NAMED {
        return Err(JobError::invalid("to", format!("name at most {MAX_NAMED} recipients and roles")));
    }
    let mut users_checked = Vec::new();
    for (index, email) in emails.iter().enumerate() {
        let field = format!("to/{index}");
        let email = users::normalise_email(email).map_err(|error| JobError::invalid(&field, error.to_string()))?;
        let refused = || JobError::invalid(&field, format!("{email} is not an active user who may {may}"));
        let Some((id,)) = active_users(pool, std::slice::from_ref(&email), &[]).await?.first().map(|(id, _)| (*id,))
        else {
            return Err(refused());
        };
        let principal = users::principal(pool, id).await.map_err(JobError::from_auth)?;
        if principal.and_then(|principal| principal.scope_for(permission)).is_none() {
            return Err(refused());
        }
        if !users_checked.contains(&email) {
            users_checked.push(email);
        }
    }
    let mut roles_checked = Vec::new();
    for (index, role) in roles.iter().enumerate() {
        let role = role.trim().to_lowercase();
        let known: bool =
            sqlx::query_scalar("SELECT EXISTS (SELECT 1 FROM platform.roles WHERE code = $1 AND deleted_at IS NULL)")
                .bind(&role)
                .fetch_one(pool)
                .await?;
        if !known && crate::auth::roles::shipped(&role).is_none() {
            return Err(JobError::invalid(&format!("to_roles/{index}"), format!("unknown role `{role}`")));
        }
        if !roles_checked.contains(&role) {
            roles_checked.push(role);
        }
    }
    if users_checked.is_empty() && roles_checked.is_empty() {
        return Err(JobError::invalid("to", "name at least one recipient (a user's email) or role"));
    }
    Ok((users_checked, roles_checked))
}

/// The active users named by email or holding one of the roles, by email.
pub async fn active_users(pool: &PgPool, emails: &[String], roles: &[String]) -> Result<Vec<(Uuid, String)>, JobError> {
    Ok(sqlx::query_as(
        "SELECT u.id, u.email FROM platform.users u
         WHERE u.is_active AND u.deleted_at IS NULL
           AND (lower(u.email) = ANY($1) OR EXISTS (
                SELECT 1 FROM platform.role_grants g JOIN platform.roles r ON r.id = g.role_id AND r.deleted_at IS NULL
                WHERE g.user_id = u.id AND g.deleted_at IS NULL AND r.code = ANY($2)))
         ORDER BY u.email",
    )
    .bind(emails)
    .bind(roles)
    .fetch_all(pool)
    .await?)
}
