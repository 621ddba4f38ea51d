//! Report schedules: what a user asks for ([`ScheduleSpec`], from the command line, a
//! form or JSON), checked against the platform (template, parameters, cron and time
//! zone, recipients who exist and may read reports) into a row of
//! `platform.schedules`, and read back with their history.

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use sqlx::PgPool;
use uuid::Uuid;

use super::JobError;
use super::cadence::Cadence;
use crate::auth::users;

/// The formats a schedule may attach.
pub const FORMATS: [&str; 3] = ["pdf", "docx", "xlsx"];

/// A schedule as asked for. Absent members take their defaults.
#[derive(Debug, Clone, Default, serde::Serialize, serde::Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ScheduleSpec {
    /// Shown in lists and in attachment names; default: the template's title.
    #[serde(default)]
    pub name: Option<String>,
    /// A shipped template (weekly-site-report, powertrace-monthly, moc-dossier,
    /// 5s-audit, project-progress); or give `document`.
    #[serde(default)]
    pub template: Option<String>,
    /// A stored block document, rendered instead of a shipped template.
    #[serde(default)]
    #[schema(value_type = Option<Object>)]
    pub document: Option<serde_json::Value>,
    /// Five cron fields (`0 7 * * 1`: Mondays at 07:00), or six with seconds first.
    pub cron: String,
    /// IANA time zone the cron expression is read in; default Europe/Paris.
    #[serde(default)]
    pub timezone: Option<String>,
    /// pdf (default), docx, xlsx.
    #[serde(default)]
    pub formats: Vec<String>,
    /// Emails of users who receive the report, each seeing their own sites.
    #[serde(default)]
    pub to: Vec<String>,
    /// Roles whose users receive the report.
    #[serde(default)]
    pub to_roles: Vec<String>,
    /// The template's parameters (`site`, `period`, `locale`...); unset ones take
    /// their defaults at each firing (the last complete week, the recipient's site).
    #[serde(default)]
    pub parameters: BTreeMap<String, String>,
    /// Default: the report's name, sites and period.
    #[serde(default)]
    pub subject: Option<String>,
    /// A paragraph placed above the headline figures.
    #[serde(default)]
    pub body: Option<String>,
    /// Default true.
    #[serde(default)]
    pub enabled: Option<bool>,
}

/// A schedule as stored.
#[derive(Debug, Clone, serde::Serialize, utoipa::ToSchema)]
pub struct Schedule {
    #[schema(value_type = String)]
    pub id: Uuid,
    pub name: String,
    pub template: String,
    #[schema(value_type = Option<Object>)]
    pub document: Option<serde_json::Value>,
    pub cron: String,
    pub timezone: String,
    pub formats: Vec<String>,
    pub to: Vec<String>,
    pub to_roles: Vec<String>,
    #[schema(value_type = Object)]
    pub parameters: BTreeMap<String, String>,
    pub subject: String,
    pub body: String,
    pub enabled: bool,
    pub next_run_at: Option<DateTime<Utc>>,
    pub last_run_at: Option<DateTime<Utc>>,
    pub owner: Option<String>,
    #[serde(skip)]
    #[schema(value_type = Option<String>)]
    pub owner_id: Option<Uuid>,
}

impl Schedule {
    pub fn cadence(&self) -> Result<Cadence, JobError> {
        Cadence::new(&self.cron, &self.timezone).map_err(|error| JobError::invalid(error.field(), error.to_string()))
    }

    /// The document each firing renders: its own, or the template's published version.
    pub async fn document(&self, pool: &PgPool) -> Result<opsflux_render::Document, JobError> {
        match &self.document {
            Some(document) => serde_json::from_value(document.clone())
                .map_err(|error| JobError::invalid("document", format!("the stored document is unreadable: {error}"))),
            None => crate::documents::offered_template(Some(pool), &self.template)
                .await
                .map_err(|error| JobError::invalid("template", error.to_string())),
        }
    }
}

/// A spec checked against the platform, ready to store.
#[derive(Debug, Clone)]
struct Checked {
    name: String,
    template: String,
    document: Option<serde_json::Value>,
    cadence: Cadence,
    formats: Vec<String>,
    to: Vec<String>,
    to_roles: Vec<String>,
    parameters: BTreeMap<String, String>,
    subject: String,
    body: String,
    enabled: bool,
}

/// Checks every member, naming the first one at fault (as a JSON pointer's member).
async fn check(pool: &PgPool, spec: &ScheduleSpec, owner: Option<Uuid>) -> Result<Checked, JobError> {
    refuse_nul(spec)?;
    let cadence = Cadence::new(&spec.cron, spec.timezone.as_deref().unwrap_or("Europe/Paris"))
        .map_err(|error| JobError::invalid(error.field(), error.to_string()))?;
    let (template, document, parsed) = match (&spec.template, &spec.document) {
        (Some(_), Some(_)) => return Err(JobError::invalid("document", "give a template or a document, not both")),
        (None, None) => {
            return Err(JobError::invalid(
                "template",
                "give a template (weekly-site-report, powertrace-monthly, moc-dossier, 5s-audit, project-progress) or a document",
            ));
        }
        (Some(name), None) => {
            let parsed = crate::documents::offered_template(Some(pool), name.trim())
                .await
                .map_err(|error| JobError::invalid("template", error.to_string()))?;
            (name.trim().to_owned(), None, parsed)
        }
        (None, Some(document)) => {
            let text = document.to_string();
            let parsed = opsflux_render::Document::from_json(&text)
                .map_err(|error| JobError::invalid("document", error.to_string()))?;
            ("document".to_owned(), Some(document.clone()), parsed)
        }
    };
    check_parameters(pool, &parsed, &spec.parameters, owner).await?;
    let mut formats = Vec::new();
    for (index, format) in spec.formats.iter().enumerate() {
        let format = format.trim().to_lowercase();
        if !FORMATS.contains(&format.as_str()) {
            return Err(JobError::invalid(
                &format!("formats/{index}"),
                format!("unknown format `{format}`: expected pdf, docx or xlsx"),
            ));
        }
        if !formats.contains(&format) {
            formats.push(format);
        }
    }
    if formats.is_empty() {
        formats.push("pdf".to_owned());
    }
    let (to, to_roles) =
        super::recipients::check(pool, &spec.to, &spec.to_roles, "redacteur.render", "read reports").await?;
    // The default name comes from the document: made one line and short like a given one.
    let title: String = parsed.settings.get("title").and_then(|title| title.as_str()).unwrap_or("Rapport").to_owned();
    let title: String =
        title.chars().map(|character| if character.is_control() { ' ' } else { character }).take(200).collect();
    let name = text_member("name", spec.name.as_deref(), 200)?
        .unwrap_or_else(|| if title.trim().is_empty() { "Rapport".to_owned() } else { title.trim().to_owned() });
    let subject = text_member("subject", spec.subject.as_deref(), 250)?.unwrap_or_default();
    let body = spec.body.as_deref().map(str::trim).unwrap_or_default().to_owned();
    if body.len() > 10_000 {
        return Err(JobError::invalid("body", "is longer than 10 000 characters"));
    }
    Ok(Checked {
        name,
        template,
        document,
        cadence,
        formats,
        to,
        to_roles,
        parameters: spec.parameters.clone(),
        subject,
        body,
        enabled: spec.enabled.unwrap_or(true),
    })
}

/// A one-line text member: trimmed, no line breaks (it goes into mail headers).
fn text_member(field: &str, value: Option<&str>, longest: usize) -> Result<Option<String>, JobError> {
    let Some(value) = value.map(str::trim).filter(|value| !value.is_empty()) else { return Ok(None) };
    if value.chars().any(char::is_control) {
        return Err(JobError::invalid(field, "must be one line with no control characters"));
    }
    if value.chars().count() > longest {
        return Err(JobError::invalid(field, format!("is longer than {longest} characters")));
    }
    Ok(Some(value.to_owned()))
}

/// PostgreSQL text cannot hold NUL: refused here, naming the member, rather than by
/// the database.
fn refuse_nul(spec: &ScheduleSpec) -> Result<(), JobError> {
    let texts = [("name", spec.name.as_deref()), ("subject", spec.subject.as_deref()), ("body", spec.body.as_deref())];
    for (field, text) in texts {
        if text.is_some_and(|text| text.contains('\0')) {
            return Err(JobError::invalid(field, "must not contain NUL characters"));
        }
    }
    for (name, value) in &spec.parameters {
        if name.contains('\0') || value.contains('\0') {
            return Err(JobError::invalid("parameters", "must not contain NUL characters"));
        }
    }
    if spec.document.as_ref().is_some_and(|document| document.to_string().contains("\\u0000")) {
        return Err(JobError::invalid("document", "must not contain NUL characters"));
    }
    Ok(())
}

/// Binds the document's parameters as a firing would, against the sites the owner
/// may read (every site for a schedule made on the command line): a site outside
/// them is unknown, and no other site is named in the refusal.
async fn check_parameters(
    pool: &PgPool,
    document: &opsflux_render::Document,
    parameters: &BTreeMap<String, String>,
    owner: Option<Uuid>,
) -> Result<(), JobError> {
    let sites: Vec<(String, String)> =
        sqlx::query_as("SELECT code, name FROM core.sites WHERE deleted_at IS NULL ORDER BY code")
            .fetch_all(pool)
            .await?;
    let scope = match owner {
        None => Some(opsflux_query::Scope::All),
        Some(owner) => users::principal(pool, owner)
            .await
            .map_err(JobError::from_auth)?
            .and_then(|principal| principal.scope_for("redacteur.render")),
    };
    let scope = scope.unwrap_or_else(|| opsflux_query::Scope::sites(Vec::<String>::new()));
    let sites = sites
        .into_iter()
        .filter(|(code, _)| scope.allows(code))
        .map(|(code, name)| opsflux_render::SiteInfo { code, name, latitude: None, longitude: None })
        .collect();
    opsflux_render::Binding::new(
        document.clone(),
        parameters,
        sites,
        crate::documents::assets(),
        Utc::now().date_naive(),
    )
    .map(|_| ())
    .map_err(|error| match &error {
        opsflux_render::DocumentError::Parameter { name, message } => {
            // The list of known sites is left out: it is not the caller's to learn.
            let message = message.split(" (known:").next().unwrap_or(message).to_owned();
            JobError::invalid(&format!("parameters/{}", escape_pointer(name)), message)
        }
        other => JobError::invalid("parameters", other.to_string()),
    })
}

/// A parameter name as a JSON pointer token (RFC 6901).
pub(crate) fn escape_pointer(token: &str) -> String {
    token.replace('~', "~0").replace('/', "~1")
}

/// Stores a new schedule; its first firing is the cron's next time from now.
pub async fn add(pool: &PgPool, spec: &ScheduleSpec, owner: Option<Uuid>) -> Result<Uuid, JobError> {
    let checked = check(pool, spec, owner).await?;
    let next = checked.cadence.next_after(Utc::now());
    let id = sqlx::query_scalar(
        "INSERT INTO platform.schedules (name, template_code, document, parameters, cron, timezone, formats, recipients,
                recipient_roles, subject, body, is_enabled, next_run_at, owner_id, created_by, updated_by)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $14, $14) RETURNING id",
    )
    .bind(&checked.name)
    .bind(&checked.template)
    .bind(&checked.document)
    .bind(serde_json::to_value(&checked.parameters).unwrap_or_default())
    .bind(checked.cadence.expression())
    .bind(checked.cadence.timezone().name())
    .bind(&checked.formats)
    .bind(&checked.to)
    .bind(&checked.to_roles)
    .bind(&checked.subject)
    .bind(&checked.body)
    .bind(checked.enabled)
    .bind(next)
    .bind(owner)
    .fetch_one(pool)
    .await?;
    Ok(id)
}

/// Replaces a schedule's definition. The next firing is computed again from now,
/// unless a firing is due and the cron and time zone are unchanged (it still runs).
/// Whoever replaces a stored document becomes the schedule's owner: the document's
/// queries then read with their permissions.
pub async fn update(pool: &PgPool, id: Uuid, spec: &ScheduleSpec, by: Option<Uuid>) -> Result<(), JobError> {
    let current = get(pool, id).await?;
    let checked = check(pool, spec, current.owner_id.or(by)).await?;
    let unchanged =
        current.cron == checked.cadence.expression() && current.timezone == checked.cadence.timezone().name();
    let next = match current.next_run_at {
        Some(due) if unchanged && current.enabled && due <= Utc::now() => Some(due),
        _ => checked.cadence.next_after(Utc::now()),
    };
    let owner = if checked.document.is_some() && checked.document != current.document {
        by.or(current.owner_id)
    } else {
        current.owner_id
    };
    let updated = sqlx::query(
        "UPDATE platform.schedules SET name = $2, template_code = $3, document = $4, parameters = $5, cron = $6,
                timezone = $7, formats = $8, recipients = $9, recipient_roles = $10, subject = $11, body = $12,
                is_enabled = $13, next_run_at = $14, updated_at = now(), updated_by = $15, owner_id = $16
         WHERE id = $1 AND deleted_at IS NULL",
    )
    .bind(id)
    .bind(&checked.name)
    .bind(&checked.template)
    .bind(&checked.document)
    .bind(serde_json::to_value(&checked.parameters).unwrap_or_default())
    .bind(checked.cadence.expression())
    .bind(checked.cadence.timezone().name())
    .bind(&checked.formats)
    .bind(&checked.to)
    .bind(&checked.to_roles)
    .bind(&checked.subject)
    .bind(&checked.body)
    .bind(checked.enabled)
    .bind(next)
    .bind(by)
    .bind(owner)
    .execute(pool)
    .await?;
    if updated.rows_affected() == 0 {
        return Err(JobError::NotFound(format!("no schedule {id}")));
    }
    Ok(())
}

/// Pauses or resumes; a resumed schedule fires next at its next time from now (the
/// firings missed while paused are not run).
pub async fn set_enabled(pool: &PgPool, id: Uuid, enabled: bool, by: Option<Uuid>) -> Result<(), JobError> {
    let schedule = get(pool, id).await?;
    let next = if enabled { schedule.cadence()?.next_after(Utc::now()) } else { schedule.next_run_at };
    sqlx::query(
        "UPDATE platform.schedules SET is_enabled = $2, next_run_at = $3, updated_at = now(), updated_by = $4
         WHERE id = $1",
    )
    .bind(id)
    .bind(enabled)
    .bind(next)
    .bind(by)
    .execute(pool)
    .await?;
    Ok(())
}

/// Marks a schedule deleted (its history stays).
pub async fn delete(pool: &PgPool, id: Uuid, by: Option<Uuid>) -> Result<(), JobError> {
    let deleted = sqlx::query(
        "UPDATE platform.schedules SET deleted_at = now(), deleted_by = $2, is_enabled = false
         WHERE id = $1 AND deleted_at IS NULL",
    )
    .bind(id)
    .bind(by)
    .execute(pool)
    .await?;
    if deleted.rows_affected() == 0 {
        return Err(JobError::NotFound(format!("no schedule {id}")));
    }
    Ok(())
}

#[derive(sqlx::FromRow)]
struct ScheduleRow {
    id: Uuid,
    name: String,
    template_code: String,
    document: Option<serde_json::Value>,
    parameters: serde_json::Value,
    cron: String,
    timezone: String,
    formats: Vec<String>,
    recipients: Vec<String>,
    recipient_roles: Vec<String>,
    subject: String,
    body: String,
    is_enabled: bool,
    next_run_at: Option<DateTime<Utc>>,
    last_run_at: Option<DateTime<Utc>>,
    owner: Option<String>,
    owner_id: Option<Uuid>,
}

const SELECT: &str = "SELECT s.id, s.name, s.template_code, s.document, s.parameters, s.cron, s.timezone, s.formats,
        s.recipients, s.recipient_roles, s.subject, s.body, s.is_enabled, s.next_run_at, s.last_run_at,
        u.email AS owner, s.owner_id
     FROM platform.schedules s LEFT JOIN platform.users u ON u.id = s.owner_id
     WHERE s.deleted_at IS NULL";

fn from_row(row: ScheduleRow) -> Schedule {
    let parameters = match row.parameters {
        serde_json::Value::Object(map) => map
            .into_iter()
            .map(|(name, value)| {
                let text = match value {
                    serde_json::Value::String(text) => text,
                    other => other.to_string(),
                };
                (name, text)
            })
            .collect(),
        _ => BTreeMap::new(),
    };
    Schedule {
        id: row.id,
        name: row.name,
        template: row.template_code,
        document: row.document,
        parameters,
        cron: row.cron,
        timezone: row.timezone,
        formats: row.formats,
        to: row.recipients,
        to_roles: row.recipient_roles,
        subject: row.subject,
        body: row.body,
        enabled: row.is_enabled,
        next_run_at: row.next_run_at,
        last_run_at: row.last_run_at,
        owner: row.owner,
        owner_id: row.owner_id,
    }
}

/// Every schedule, or only those `owner` owns; by name.
pub async fn list(pool: &PgPool, owner: Option<Uuid>) -> Result<Vec<Schedule>, JobError> {
    let rows: Vec<ScheduleRow> = sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "{SELECT} AND ($1::uuid IS NULL OR s.owner_id = $1) ORDER BY s.name, s.id"
    )))
    .bind(owner)
    .fetch_all(pool)
    .await?;
    Ok(rows.into_iter().map(from_row).collect())
}

pub async fn get(pool: &PgPool, id: Uuid) -> Result<Schedule, JobError> {
    let row: Option<ScheduleRow> =
        sqlx::query_as(sqlx::AssertSqlSafe(format!("{SELECT} AND s.id = $1"))).bind(id).fetch_optional(pool).await?;
    row.map(from_row).ok_or_else(|| JobError::NotFound(format!("no schedule {id}")))
}

/// One job of a schedule's history, with its deliveries.
#[derive(Debug, Clone, serde::Serialize, utoipa::ToSchema)]
pub struct Firing {
    #[schema(value_type = String)]
    pub job: Uuid,
    pub fire_at: Option<DateTime<Utc>>,
    /// queued, running, succeeded, failed.
    pub status: String,
    pub late: bool,
    pub attempts: i32,
    pub started_at: Option<DateTime<Utc>>,
    pub finished_at: Option<DateTime<Utc>>,
    pub error: Option<String>,
    /// The warehouse snapshot the reports were rendered from (table → version).
    #[schema(value_type = Option<Object>)]
    pub warehouse: Option<serde_json::Value>,
    pub deliveries: Vec<Delivery>,
}

/// One recipient's message of a firing.
#[derive(Debug, Clone, serde::Serialize, sqlx::FromRow, utoipa::ToSchema)]
pub struct Delivery {
    pub email: String,
    /// pending, sending, sent, failed, refused (a note was sent instead of the report).
    pub status: String,
    pub sites: String,
    pub attempts: i32,
    pub message_id: String,
    pub sent_at: Option<DateTime<Utc>>,
    pub note: Option<String>,
    pub error: Option<String>,
}

type FiringRow = (
    Uuid,
    Option<DateTime<Utc>>,
    String,
    bool,
    i32,
    Option<DateTime<Utc>>,
    Option<DateTime<Utc>>,
    Option<String>,
    Option<serde_json::Value>,
);

/// The newest firings of a schedule (at most `limit`), newest first.
pub async fn history(pool: &PgPool, schedule: Uuid, limit: i64) -> Result<Vec<Firing>, JobError> {
    let jobs: Vec<FiringRow> = sqlx::query_as(
        "SELECT id, fire_at, status, late, attempts, started_at, finished_at, error, warehouse FROM platform.jobs
         WHERE schedule_id = $1 AND deleted_at IS NULL ORDER BY COALESCE(fire_at, queued_at) DESC, queued_at DESC
         LIMIT $2",
    )
    .bind(schedule)
    .bind(limit.clamp(1, 1000))
    .fetch_all(pool)
    .await?;
    let mut firings = Vec::with_capacity(jobs.len());
    for row in jobs {
        firings.push(Firing {
            job: row.0,
            fire_at: row.1,
            status: row.2,
            late: row.3,
            attempts: row.4,
            started_at: row.5,
            finished_at: row.6,
            error: row.7,
            warehouse: row.8,
            deliveries: deliveries(pool, row.0).await?,
        });
    }
    Ok(firings)
}

/// A job's deliveries, by email.
pub async fn deliveries(pool: &PgPool, job: Uuid) -> Result<Vec<Delivery>, JobError> {
    Ok(sqlx::query_as(
        "SELECT email, status, sites, attempts, message_id, sent_at, note, error FROM platform.deliveries
         WHERE job_id = $1 ORDER BY email",
    )
    .bind(job)
    .fetch_all(pool)
    .await?)
}
