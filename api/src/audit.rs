//! The audit trail: sign-ins (success and failure), lockouts and unlocks, renders,
//! exports, user and permission changes are appended to `platform.audit_log` with who,
//! what, when, parameters, result and the warehouse versions read. The table refuses
//! updates, deletes and truncation (a trigger of the migration), so nothing in the
//! product can change what was written.

use sqlx::PgPool;
use uuid::Uuid;

/// One event to record.
#[derive(Debug, Clone, Default)]
pub struct Event {
    pub actor_id: Option<Uuid>,
    /// The actor's email (kept even if the user is later renamed), or `local`/`cli`.
    pub actor: String,
    /// `auth.sign_in`, `auth.sign_in_failed`, `auth.lockout`, `export.table`, `render`...
    pub action: String,
    /// What the event is about, `schema.table` or a template name.
    pub entity: String,
    pub entity_id: Option<Uuid>,
    pub parameters: serde_json::Value,
    /// `ok`, or what went wrong.
    pub result: String,
    /// Warehouse table → version read.
    pub warehouse: Option<serde_json::Value>,
    pub address: Option<String>,
}

/// Appends an event. A failure to record is logged, never hidden: the caller decides
/// whether the action may go on without its record.
pub async fn record(pool: &PgPool, event: Event) -> Result<(), sqlx::Error> {
    let (schema, table) = event.entity.split_once('.').unwrap_or(("", event.entity.as_str()));
    let result = sqlx::query(
        "INSERT INTO platform.audit_log (occurred_at, actor_id, actor_email, action, entity_schema, entity_table,
                entity_id, parameters, result, warehouse, address)
         VALUES (now(), $1, $2, $3, $4, $5, $6, $7, $8, $9, $10)",
    )
    .bind(event.actor_id)
    .bind(&event.actor)
    .bind(&event.action)
    .bind(schema)
    .bind(table)
    .bind(event.entity_id)
    .bind(&event.parameters)
    .bind(&event.result)
    .bind(&event.warehouse)
    .bind(&event.address)
    .execute(pool)
    .await;
    if let Err(error) = &result {
        tracing::error!(%error, action = %event.action, actor = %event.actor, "cannot append to the audit log");
    }
    result.map(|_| ())
}

/// One row of the audit log as pages and exports show it.
#[derive(Debug, Clone, serde::Serialize, sqlx::FromRow, utoipa::ToSchema)]
pub struct Entry {
    pub occurred_at: chrono::DateTime<chrono::Utc>,
    pub actor: Option<String>,
    pub action: String,
    pub entity: String,
    pub parameters: Option<serde_json::Value>,
    pub result: Option<String>,
    pub warehouse: Option<serde_json::Value>,
    pub address: Option<String>,
}

/// Filters of the audit page, export and API.
#[derive(Debug, Clone, Default, serde::Deserialize, utoipa::IntoParams)]
pub struct Filter {
    /// Action prefix, e.g. `auth.` or `export`.
    pub action: Option<String>,
    /// Actor email (substring, case-insensitive).
    pub actor: Option<String>,
    /// First day, YYYY-MM-DD.
    pub from: Option<String>,
    /// Last day, YYYY-MM-DD.
    pub to: Option<String>,
    /// At most this many rows (default 200, at most 10,000).
    pub limit: Option<i64>,
}

/// Why a filter was refused, naming the parameter.
#[derive(Debug, thiserror::Error)]
#[error("`{parameter}` is `{value}`: {expected}")]
pub struct FilterError {
    pub parameter: &'static str,
    pub value: String,
    pub expected: &'static str,
}

/// The newest entries matching `filter`, newest first.
pub async fn search(pool: &PgPool, filter: &Filter) -> Result<Result<Vec<Entry>, FilterError>, sqlx::Error> {
    let date = |parameter: &'static str, value: &Option<String>| -> Result<Option<chrono::NaiveDate>, FilterError> {
        match value.as_deref().map(str::trim).filter(|value| !value.is_empty()) {
            None => Ok(None),
            Some(text) => chrono::NaiveDate::parse_from_str(text, "%Y-%m-%d").map(Some).map_err(|_| FilterError {
                parameter,
                value: text.to_owned(),
                expected: "expected YYYY-MM-DD",
            }),
        }
    };
    let (from, to) = match (date("from", &filter.from), date("to", &filter.to)) {
        (Ok(from), Ok(to)) => (from, to),
        (Err(error), _) | (_, Err(error)) => return Ok(Err(error)),
    };
    let limit = filter.limit.unwrap_or(200);
    if !(1..=10_000).contains(&limit) {
        return Ok(Err(FilterError { parameter: "limit", value: limit.to_string(), expected: "expected 1 to 10000" }));
    }
    let rows = sqlx::query_as::<_, Entry>(
        "SELECT occurred_at, actor_email AS actor, action,
                CASE WHEN entity_schema = '' THEN entity_table ELSE entity_schema || '.' || entity_table END AS entity,
                parameters, result, warehouse, address
         FROM platform.audit_log
         WHERE ($1::text IS NULL OR action LIKE $1 || '%')
           AND ($2::text IS NULL OR actor_email ILIKE '%' || $2 || '%')
           AND ($3::date IS NULL OR occurred_at >= $3::date)
           AND ($4::date IS NULL OR occurred_at < $4::date + 1)
         ORDER BY occurred_at DESC LIMIT $5",
    )
    .bind(filter.action.as_deref().map(str::trim).filter(|text| !text.is_empty()))
    .bind(filter.actor.as_deref().map(str::trim).filter(|text| !text.is_empty()))
    .bind(from)
    .bind(to)
    .bind(limit)
    .fetch_all(pool)
    .await?;
    Ok(Ok(rows))
}
