//! Rédacteur documents and templates in PostgreSQL: `redacteur.documents` holds each
//! one's kind, title, review status and its current and published versions;
//! `redacteur.document_versions` every save, immutable, with its author, time, comment
//! and the JSON exactly as written. Review moves a document draft → in_review →
//! approved → published, or back to draft with a comment. Every change is one
//! transaction: all of it or nothing.

use std::collections::{HashMap, HashSet};
use std::fmt;

use chrono::{DateTime, Utc};
use serde_json::Value;
use sqlx::{PgPool, Postgres, Row, Transaction};
use uuid::Uuid;

/// Why a document could not be stored, read or moved through review.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("no document {0}")]
    NotFound(Uuid),
    #[error("document {document} has no version {version} (its versions run from 1 to {latest})")]
    NoVersion { document: Uuid, version: i32, latest: i32 },
    /// The JSON is not a document; the error names the line and column, or the block.
    #[error(transparent)]
    Invalid(#[from] opsflux_render::DocumentError),
    #[error("no site `{0}` in the platform database")]
    UnknownSite(String),
    #[error("a template serves every site: it belongs to none (leave out the site)")]
    SitedTemplate,
    #[error("`{0}` is not a template code: use 1 to 64 lower-case letters, digits and hyphens")]
    BadCode(String),
    #[error("a template named `{0}` already exists")]
    DuplicateCode(String),
    #[error("cannot {action} a document that is {status}: {hint}")]
    Transition { action: &'static str, status: Status, hint: &'static str },
    #[error("version {version} holds changes of yours since the last publication: another user must approve it")]
    OwnApproval { version: i32 },
    #[error("the document is at version {current}, not {expected}: read it again before going on")]
    Stale { expected: i32, current: i32 },
    #[error("sending a document back to draft needs a comment saying why")]
    CommentRequired,
    #[error("the platform database failed: {0}")]
    Database(#[from] sqlx::Error),
    #[error("version {version} of document {document} is unreadable: {message}")]
    Corrupt { document: Uuid, version: i32, message: String },
}

impl StoreError {
    /// Whether the caller's input is at fault (400), rather than a missing record or
    /// the database.
    pub fn is_bad_input(&self) -> bool {
        matches!(
            self,
            Self::Invalid(_) | Self::BadCode(_) | Self::CommentRequired | Self::UnknownSite(_) | Self::SitedTemplate
        )
    }
}

/// A document, or a template offered to the reports page and schedules once published.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Kind {
    Document,
    Template,
}

impl Kind {
    pub fn as_str(self) -> &'static str {
        match self {
            Kind::Document => "document",
            Kind::Template => "template",
        }
    }
}

/// Where a document stands in review.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Status {
    Draft,
    InReview,
    Approved,
    Published,
    Archived,
}

impl Status {
    pub fn as_str(self) -> &'static str {
        match self {
            Status::Draft => "draft",
            Status::InReview => "in_review",
            Status::Approved => "approved",
            Status::Published => "published",
            Status::Archived => "archived",
        }
    }

    fn parse(text: &str) -> Option<Self> {
        [Status::Draft, Status::InReview, Status::Approved, Status::Published, Status::Archived]
            .into_iter()
            .find(|status| status.as_str() == text)
    }
}

impl fmt::Display for Status {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        formatter.write_str(self.as_str())
    }
}

/// A review action, and the statuses it moves a document between.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Review {
    /// draft → in_review.
    Submit,
    /// in_review → approved, by someone other than the author of the version.
    Approve,
    /// approved → published: the current version becomes the published one.
    Publish,
    /// in_review, approved or published → draft, with a comment saying why; a published
    /// document keeps rendering its published version meanwhile.
    SendBack,
}

impl Review {
    fn verb(self) -> &'static str {
        match self {
            Review::Submit => "submit for review",
            Review::Approve => "approve",
            Review::Publish => "publish",
            Review::SendBack => "send back to draft",
        }
    }

    /// The status it leads to from `status`, or why it cannot.
    fn next(self, status: Status) -> Result<Status, StoreError> {
        let refused = |hint| Err(StoreError::Transition { action: self.verb(), status, hint });
        match (self, status) {
            (Review::Submit, Status::Draft) => Ok(Status::InReview),
            (Review::Submit, _) => refused("only a draft is submitted; save a new version to start one"),
            (Review::Approve, Status::InReview) => Ok(Status::Approved),
            (Review::Approve, _) => refused("only a document in review is approved"),
            (Review::Publish, Status::Approved) => Ok(Status::Published),
            (Review::Publish, _) => refused("only an approved document is published"),
            (Review::SendBack, Status::InReview | Status::Approved | Status::Published) => Ok(Status::Draft),
            (Review::SendBack, _) => refused("it is not in review, approved or published"),
        }
    }
}

/// One line of the document list.
#[derive(Debug, Clone, serde::Serialize)]
pub struct Summary {
    pub id: Uuid,
    pub kind: Kind,
    pub code: Option<String>,
    /// The site it belongs to (none: shared by the authors of every site).
    pub site: Option<String>,
    pub title: String,
    pub status: Status,
    /// The newest version.
    pub version: i32,
    pub published_version: Option<i32>,
    pub review_comment: Option<String>,
    pub updated_at: DateTime<Utc>,
}

/// One saved version, without its body.
#[derive(Debug, Clone, serde::Serialize)]
pub struct VersionInfo {
    pub version: i32,
    pub comment: Option<String>,
    pub saved_at: DateTime<Utc>,
    /// The saving user's email (none when saved from the command line).
    pub saved_by: Option<String>,
}

/// One saved version with its body.
#[derive(Debug, Clone)]
pub struct Saved {
    pub version: i32,
    /// The JSON as it was saved, key order and spacing included.
    pub source: String,
    pub body: Value,
}

/// Stores a new document (or template, with its code) as version 1, in draft; `site` is
/// the code of the site it belongs to, if any.
pub async fn create(
    pool: &PgPool,
    kind: Kind,
    code: Option<&str>,
    site: Option<&str>,
    source: &str,
    author: Option<Uuid>,
    comment: Option<&str>,
) -> Result<Uuid, StoreError> {
    let (body, title) = checked(source)?;
    if kind == Kind::Template && site.is_some() {
        return Err(StoreError::SitedTemplate);
    }
    let code = match (kind, code) {
        (Kind::Template, Some(code)) => Some(checked_code(code)?),
        (Kind::Template, None) => return Err(StoreError::BadCode(String::new())),
        (Kind::Document, _) => None,
    };
    let site_id: Option<Uuid> = match site {
        None => None,
        Some(site) => Some(
            sqlx::query_scalar("SELECT id FROM core.sites WHERE code = $1 AND deleted_at IS NULL")
                .bind(site)
                .fetch_optional(pool)
                .await?
                .ok_or_else(|| StoreError::UnknownSite(site.to_owned()))?,
        ),
    };
    let mut transaction = pool.begin().await?;
    let inserted = sqlx::query(
        "INSERT INTO redacteur.documents (kind, code, site_id, title, status, current_version, created_by, updated_by) \
         VALUES ($1, $2, $3, $4, 'draft', 1, $5, $5) RETURNING id",
    )
    .bind(kind.as_str())
    .bind(&code)
    .bind(site_id)
    .bind(&title)
    .bind(author)
    .fetch_one(&mut *transaction)
    .await;
    let id: Uuid = match inserted {
        Ok(row) => row.get("id"),
        Err(sqlx::Error::Database(error)) if error.is_unique_violation() => {
            return Err(StoreError::DuplicateCode(code.unwrap_or_default()));
        }
        Err(error) => return Err(error.into()),
    };
    insert_version(&mut transaction, id, 1, source, &body, author, comment).await?;
    transaction.commit().await?;
    Ok(id)
}

/// Saves `source` as the document's next version and returns its number. A save sends a
/// document in review or approved back to draft (what was reviewed changed); a
/// published one keeps its published version until the new one is published.
pub async fn save(
    pool: &PgPool,
    id: Uuid,
    source: &str,
    author: Option<Uuid>,
    comment: Option<&str>,
    base_version: Option<i32>,
) -> Result<i32, StoreError> {
    let (body, title) = checked(source)?;
    let mut transaction = pool.begin().await?;
    let (_, current) = locked(&mut transaction, id).await?;
    // An editor that read version N saves on top of N, or learns that someone else saved.
    if let Some(base) = base_version
        && base != current
    {
        return Err(StoreError::Stale { expected: base, current });
    }
    let version = current + 1;
    insert_version(&mut transaction, id, version, source, &body, author, comment).await?;
    sqlx::query(
        "UPDATE redacteur.documents SET current_version = $2, title = $3, status = 'draft', \
         updated_at = now(), updated_by = $4 WHERE id = $1",
    )
    .bind(id)
    .bind(version)
    .bind(&title)
    .bind(author)
    .execute(&mut *transaction)
    .await?;
    transaction.commit().await?;
    Ok(version)
}

/// Saves version `version` again as the newest one.
pub async fn restore(pool: &PgPool, id: Uuid, version: i32, author: Option<Uuid>) -> Result<i32, StoreError> {
    let old = read(pool, id, Some(version)).await?;
    save(pool, id, &old.source, author, Some(&format!("restored from version {version}")), None).await
}

/// Marks a document deleted: it leaves every list, its versions stay for the record.
pub async fn delete(pool: &PgPool, id: Uuid, actor: Option<Uuid>) -> Result<(), StoreError> {
    let deleted = sqlx::query(
        "UPDATE redacteur.documents SET deleted_at = now(), deleted_by = $2 WHERE id = $1 AND deleted_at IS NULL",
    )
    .bind(id)
    .bind(actor)
    .execute(pool)
    .await?;
    if deleted.rows_affected() == 0 { Err(StoreError::NotFound(id)) } else { Ok(()) }
}

/// Version `version` of a document, or its newest.
pub async fn read(pool: &PgPool, id: Uuid, version: Option<i32>) -> Result<Saved, StoreError> {
    let summary = summary(pool, id).await?;
    let wanted = version.unwrap_or(summary.version);
    let row = sqlx::query(
        "SELECT source, body FROM redacteur.document_versions \
         WHERE document_id = $1 AND version = $2 AND deleted_at IS NULL",
    )
    .bind(id)
    .bind(wanted)
    .fetch_optional(pool)
    .await?
    .ok_or(StoreError::NoVersion { document: id, version: wanted, latest: summary.version })?;
    let body: Value = row.get("body");
    // Versions written before `source` existed are given back as their parsed body.
    let source = match row.get::<Option<String>, _>("source") {
        Some(source) => source,
        None => serde_json::to_string_pretty(&body).map_err(|error| StoreError::Corrupt {
            document: id,
            version: wanted,
            message: error.to_string(),
        })?,
    };
    Ok(Saved { version: wanted, source, body })
}

/// A document's list line.
pub async fn summary(pool: &PgPool, id: Uuid) -> Result<Summary, StoreError> {
    let row =
        sqlx::query(sqlx::AssertSqlSafe(format!("{SUMMARY} WHERE documents.id = $1 AND documents.deleted_at IS NULL")))
            .bind(id)
            .fetch_optional(pool)
            .await?
            .ok_or(StoreError::NotFound(id))?;
    summary_of(&row)
}

/// One page of a list: at most `limit` entries after the first `offset`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Page {
    pub limit: i64,
    pub offset: i64,
}

impl Page {
    /// Entries a page holds unless asked otherwise, and at most.
    pub const DEFAULT_LIMIT: i64 = 100;
    pub const MOST: i64 = 500;

    /// Everything, for the command line run by whoever holds the database.
    pub const ALL: Page = Page { limit: i64::MAX, offset: 0 };
}

/// The documents and templates of `sites` (and those of no site; `None`: every site),
/// most recently changed first, one page of them, with how many there are in all.
pub async fn list(pool: &PgPool, sites: Option<&[String]>, page: Page) -> Result<(Vec<Summary>, i64), StoreError> {
    const VISIBLE: &str = "documents.deleted_at IS NULL \
         AND ($1::text[] IS NULL OR documents.site_id IS NULL OR sites.code = ANY($1))";
    let rows = sqlx::query(sqlx::AssertSqlSafe(format!(
        "{SUMMARY} WHERE {VISIBLE} ORDER BY documents.updated_at DESC, documents.id LIMIT $2 OFFSET $3"
    )))
    .bind(sites)
    .bind(page.limit)
    .bind(page.offset)
    .fetch_all(pool)
    .await?;
    let total: i64 = sqlx::query_scalar(sqlx::AssertSqlSafe(format!(
        "SELECT count(*) FROM redacteur.documents AS documents \
         LEFT JOIN core.sites AS sites ON sites.id = documents.site_id WHERE {VISIBLE}"
    )))
    .bind(sites)
    .fetch_one(pool)
    .await?;
    Ok((rows.iter().map(summary_of).collect::<Result<_, _>>()?, total))
}

/// One page of a document's saved versions, oldest first, with how many there are.
pub async fn versions(pool: &PgPool, id: Uuid, page: Page) -> Result<(Vec<VersionInfo>, i64), StoreError> {
    summary(pool, id).await?;
    let rows = sqlx::query(
        "SELECT versions.version, versions.comment, versions.created_at, users.email \
         FROM redacteur.document_versions AS versions \
         LEFT JOIN platform.users AS users ON users.id = versions.created_by \
         WHERE versions.document_id = $1 AND versions.deleted_at IS NULL ORDER BY versions.version \
         LIMIT $2 OFFSET $3",
    )
    .bind(id)
    .bind(page.limit)
    .bind(page.offset)
    .fetch_all(pool)
    .await?;
    let versions = rows
        .iter()
        .map(|row| VersionInfo {
            version: row.get("version"),
            comment: row.get("comment"),
            saved_at: row.get("created_at"),
            saved_by: row.get("email"),
        })
        .collect();
    let total: i64 = sqlx::query_scalar(
        "SELECT count(*) FROM redacteur.document_versions WHERE document_id = $1 AND deleted_at IS NULL",
    )
    .bind(id)
    .fetch_one(pool)
    .await?;
    Ok((versions, total))
}

/// Moves a document through review and returns its new status. `actor` is who acts
/// (none from the command line); approving needs someone other than the author of the
/// current version, sending back a comment.
pub async fn review(
    pool: &PgPool,
    id: Uuid,
    action: Review,
    actor: Option<Uuid>,
    comment: Option<&str>,
    reviewed_version: Option<i32>,
) -> Result<Status, StoreError> {
    let comment = comment.map(str::trim).filter(|comment| !comment.is_empty());
    if action == Review::SendBack && comment.is_none() {
        return Err(StoreError::CommentRequired);
    }
    let mut transaction = pool.begin().await?;
    let (status, current) = locked(&mut transaction, id).await?;
    let next = action.next(status)?;
    // Approval and publication apply to the version the reviewer read, never to one
    // saved meanwhile.
    if let Some(reviewed) = reviewed_version
        && reviewed != current
    {
        return Err(StoreError::Stale { expected: reviewed, current });
    }
    if action == Review::Approve {
        let Some(actor) = actor else { return Err(StoreError::OwnApproval { version: current }) };
        // Nobody approves what they wrote: any version since the last published one.
        // (Versions from the command line have no author: its use is audited instead.)
        let wrote: bool = sqlx::query_scalar(
            "SELECT EXISTS (SELECT 1 FROM redacteur.document_versions AS versions \
             JOIN redacteur.documents AS documents ON documents.id = versions.document_id \
             WHERE versions.document_id = $1 AND versions.version > COALESCE(documents.published_version, 0) \
             AND versions.created_by = $2)",
        )
        .bind(id)
        .bind(actor)
        .fetch_one(&mut *transaction)
        .await?;
        if wrote {
            return Err(StoreError::OwnApproval { version: current });
        }
    }
    sqlx::query(
        "UPDATE redacteur.documents SET status = $2, review_comment = $3, \
         published_version = CASE WHEN $2 = 'published' THEN current_version ELSE published_version END, \
         updated_at = now(), updated_by = $4 WHERE id = $1",
    )
    .bind(id)
    .bind(next.as_str())
    .bind(comment)
    .bind(actor)
    .execute(&mut *transaction)
    .await?;
    transaction.commit().await?;
    Ok(next)
}

/// Stores each shipped template `(code, JSON)` the database has never held a template
/// of that code for, as a published template at version 1; returns how many were
/// stored. A template deleted since stays deleted.
pub async fn load_shipped(pool: &PgPool, templates: &[(&str, &str)]) -> Result<usize, StoreError> {
    let mut loaded = 0;
    for (code, source) in templates {
        let known: bool = sqlx::query_scalar(
            "SELECT EXISTS (SELECT 1 FROM redacteur.documents WHERE kind = 'template' AND code = $1)",
        )
        .bind(code)
        .fetch_one(pool)
        .await?;
        if known {
            continue;
        }
        let (body, title) = checked(source)?;
        let mut transaction = pool.begin().await?;
        let inserted = sqlx::query(
            "INSERT INTO redacteur.documents (kind, code, title, status, current_version, published_version) \
             VALUES ('template', $1, $2, 'published', 1, 1) RETURNING id",
        )
        .bind(code)
        .bind(&title)
        .fetch_one(&mut *transaction)
        .await;
        let id: Uuid = match inserted {
            Ok(row) => row.get("id"),
            // Another process starting at the same moment loaded it first.
            Err(sqlx::Error::Database(error)) if error.is_unique_violation() => continue,
            Err(error) => return Err(error.into()),
        };
        insert_version(&mut transaction, id, 1, source, &body, None, Some("shipped with OpsFlux")).await?;
        transaction.commit().await?;
        loaded += 1;
    }
    Ok(loaded)
}

/// What the reports page and schedules render under a template code.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Offered {
    /// The published version of the stored template.
    Published { version: i32, source: String },
    /// A template of that code is stored but none of its versions is published, or it
    /// was deleted: not offered.
    Withheld,
    /// The database holds no template of that code (the shipped one, if any, stands).
    Unknown,
}

/// The template offered under `code`.
pub async fn offered(pool: &PgPool, code: &str) -> Result<Offered, StoreError> {
    let row = sqlx::query(
        "SELECT documents.deleted_at IS NULL AS live, versions.version, versions.source, versions.body \
         FROM redacteur.documents AS documents \
         LEFT JOIN redacteur.document_versions AS versions \
           ON versions.document_id = documents.id AND versions.version = documents.published_version \
         WHERE documents.kind = 'template' AND documents.code = $1 \
         ORDER BY documents.deleted_at IS NULL DESC, documents.updated_at DESC LIMIT 1",
    )
    .bind(code)
    .fetch_optional(pool)
    .await?;
    let Some(row) = row else { return Ok(Offered::Unknown) };
    let (live, version): (bool, Option<i32>) = (row.get("live"), row.get("version"));
    match (live, version) {
        (true, Some(version)) => {
            let source = match row.get::<Option<String>, _>("source") {
                Some(source) => source,
                None => serde_json::to_string_pretty(&row.get::<Value, _>("body")).unwrap_or_default(),
            };
            Ok(Offered::Published { version, source })
        }
        _ => Ok(Offered::Withheld),
    }
}

/// The codes of the templates with a published version, and their titles, by code.
pub async fn published_templates(pool: &PgPool) -> Result<Vec<(String, String)>, StoreError> {
    let rows = sqlx::query(
        "SELECT code, title FROM redacteur.documents \
         WHERE kind = 'template' AND deleted_at IS NULL AND published_version IS NOT NULL ORDER BY code",
    )
    .fetch_all(pool)
    .await?;
    Ok(rows.iter().map(|row| (row.get("code"), row.get("title"))).collect())
}

/// What changed from one version's body to another's.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Change {
    pub change: ChangeKind,
    /// The block's id; none for the document's settings.
    pub block: Option<String>,
    /// The block's type (`kpi`, `paragraph`…).
    pub block_type: Option<String>,
    /// JSON pointers, within the block (or the settings), of what changed.
    pub pointers: Vec<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum ChangeKind {
    Added,
    Removed,
    Changed,
    Moved,
}

impl fmt::Display for Change {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        let sign = match self.change {
            ChangeKind::Added => "+",
            ChangeKind::Removed => "-",
            ChangeKind::Changed => "~",
            ChangeKind::Moved => "↕",
        };
        match (&self.block, &self.block_type) {
            (Some(block), Some(kind)) => write!(formatter, "{sign} block `{block}` ({kind})")?,
            (Some(block), None) => write!(formatter, "{sign} block `{block}`")?,
            (None, _) => write!(formatter, "{sign} settings")?,
        }
        match self.change {
            ChangeKind::Changed => write!(formatter, ": {}", self.pointers.join(", ")),
            ChangeKind::Moved => write!(formatter, " moved"),
            _ => Ok(()),
        }
    }
}

/// The blocks added, removed, changed and moved from `old` to `new` (matched by id),
/// and the settings changed, in the order of the newer document.
pub fn diff(old: &Value, new: &Value) -> Vec<Change> {
    let mut changes = Vec::new();
    let pointers =
        changed_pointers(old.get("settings").unwrap_or(&Value::Null), new.get("settings").unwrap_or(&Value::Null));
    if !pointers.is_empty() {
        changes.push(Change { change: ChangeKind::Changed, block: None, block_type: None, pointers });
    }
    let blocks = |document: &Value| -> Vec<(String, Value)> {
        let list = document.get("blocks").and_then(Value::as_array).map(Vec::as_slice).unwrap_or_default();
        list.iter()
            .enumerate()
            .map(|(index, block)| {
                let id = block.get("id").and_then(Value::as_str).map_or_else(|| format!("#{index}"), str::to_owned);
                (id, block.clone())
            })
            .collect()
    };
    let (before, after) = (blocks(old), blocks(new));
    // Ids are unique within a document (checked on every save); the first one wins
    // for a stored body that is not.
    let mut position_before: HashMap<&str, usize> = HashMap::new();
    for (index, (id, _)) in before.iter().enumerate() {
        position_before.entry(id.as_str()).or_insert(index);
    }
    let ids_after: HashSet<&str> = after.iter().map(|(id, _)| id.as_str()).collect();
    let kind = |block: &Value| block.get("type").and_then(Value::as_str).map(str::to_owned);
    let change = |change: ChangeKind, id: &str, block: &Value, pointers: Vec<String>| Change {
        change,
        block: Some(id.to_owned()),
        block_type: kind(block),
        pointers,
    };
    for (id, block) in &before {
        if !ids_after.contains(id.as_str()) {
            changes.push(change(ChangeKind::Removed, id, block, Vec::new()));
        }
    }
    let staying = kept_in_order(
        &after.iter().filter_map(|(id, _)| position_before.get(id.as_str()).copied()).collect::<Vec<_>>(),
    );
    let mut kept = 0;
    for (id, block) in &after {
        let Some(&index) = position_before.get(id.as_str()) else {
            changes.push(change(ChangeKind::Added, id, block, Vec::new()));
            continue;
        };
        let pointers = changed_pointers(&before[index].1, block);
        if !pointers.is_empty() {
            changes.push(change(ChangeKind::Changed, id, block, pointers));
        }
        if !staying.contains(&kept) {
            changes.push(change(ChangeKind::Moved, id, block, Vec::new()));
        }
        kept += 1;
    }
    changes
}

/// Which of the kept blocks (given by their old positions, in their new order) stayed
/// in place: the longest run of increasing old positions (O(n log n)); the others moved.
fn kept_in_order(old_positions: &[usize]) -> HashSet<usize> {
    // tails[k]: index (into old_positions) ending the best increasing run of length k + 1.
    let mut tails: Vec<usize> = Vec::new();
    let mut previous: Vec<Option<usize>> = vec![None; old_positions.len()];
    for (index, position) in old_positions.iter().enumerate() {
        let length = tails.partition_point(|&tail| old_positions[tail] < *position);
        previous[index] = length.checked_sub(1).map(|before| tails[before]);
        if length == tails.len() {
            tails.push(index);
        } else {
            tails[length] = index;
        }
    }
    let mut staying = HashSet::new();
    let mut at = tails.last().copied();
    while let Some(index) = at {
        staying.insert(index);
        at = previous[index];
    }
    staying
}

/// Most pointers a diff names per block (or for the settings); past it, one more line
/// says how many changed beyond.
const POINTERS_PER_BLOCK: usize = 20;

/// Appends the JSON pointers where `old` and `new` differ: members and items compared
/// one by one, anything else as a whole. The path is kept as segments and written out
/// only for a difference, and the walk stops past [`POINTERS_PER_BLOCK`], so a large
/// unchanged member costs its comparison alone.
fn differences(old: &Value, new: &Value, path: &mut Vec<String>, found: &mut Vec<String>, more: &mut usize) {
    if found.len() >= POINTERS_PER_BLOCK && old != new {
        *more += 1;
        return;
    }
    match (old, new) {
        (Value::Object(before), Value::Object(after)) => {
            let removed = before.keys().filter(|key| !after.contains_key(*key));
            for key in after.keys().chain(removed) {
                let (old, new) = (before.get(key).unwrap_or(&Value::Null), after.get(key).unwrap_or(&Value::Null));
                if old == new {
                    continue;
                }
                path.push(key.replace('~', "~0").replace('/', "~1"));
                differences(old, new, path, found, more);
                path.pop();
            }
        }
        (Value::Array(before), Value::Array(after)) if before.len() == after.len() => {
            for (index, (old, new)) in before.iter().zip(after).enumerate() {
                if old == new {
                    continue;
                }
                path.push(index.to_string());
                differences(old, new, path, found, more);
                path.pop();
            }
        }
        _ if old == new => {}
        _ => found.push(if path.is_empty() { "/".to_owned() } else { format!("/{}", path.join("/")) }),
    }
}

/// The pointers where two values differ, at most [`POINTERS_PER_BLOCK`] and a last
/// entry counting the others.
fn changed_pointers(old: &Value, new: &Value) -> Vec<String> {
    let (mut found, mut more) = (Vec::new(), 0);
    differences(old, new, &mut Vec::new(), &mut found, &mut more);
    if more > 0 {
        found.push(format!("(+{more} more)"));
    }
    found
}

const SUMMARY: &str = "SELECT documents.id, documents.kind, documents.code, sites.code AS site, documents.title, \
     documents.status, documents.current_version, documents.published_version, documents.review_comment, \
     documents.updated_at FROM redacteur.documents AS documents LEFT JOIN core.sites AS sites ON sites.id = documents.site_id";

fn summary_of(row: &sqlx::postgres::PgRow) -> Result<Summary, StoreError> {
    let id: Uuid = row.get("id");
    let corrupt = |message: String| StoreError::Corrupt { document: id, version: row.get("current_version"), message };
    let status: String = row.get("status");
    Ok(Summary {
        id,
        kind: if row.get::<String, _>("kind") == "template" { Kind::Template } else { Kind::Document },
        code: row.get("code"),
        site: row.get("site"),
        title: row.get("title"),
        status: Status::parse(&status).ok_or_else(|| corrupt(format!("unknown status `{status}`")))?,
        version: row.get("current_version"),
        published_version: row.get("published_version"),
        review_comment: row.get("review_comment"),
        updated_at: row.get("updated_at"),
    })
}

/// The document's status and current version, its row locked until the transaction ends.
async fn locked(transaction: &mut Transaction<'_, Postgres>, id: Uuid) -> Result<(Status, i32), StoreError> {
    let row = sqlx::query(
        "SELECT status, current_version FROM redacteur.documents WHERE id = $1 AND deleted_at IS NULL FOR UPDATE",
    )
    .bind(id)
    .fetch_optional(&mut **transaction)
    .await?
    .ok_or(StoreError::NotFound(id))?;
    let status: String = row.get("status");
    let version: i32 = row.get("current_version");
    let status = Status::parse(&status).ok_or_else(|| StoreError::Corrupt {
        document: id,
        version,
        message: format!("unknown status `{status}`"),
    })?;
    Ok((status, version))
}

async fn insert_version(
    transaction: &mut Transaction<'_, Postgres>,
    id: Uuid,
    version: i32,
    source: &str,
    body: &Value,
    author: Option<Uuid>,
    comment: Option<&str>,
) -> Result<(), StoreError> {
    sqlx::query(
        "INSERT INTO redacteur.document_versions (document_id, version, body, source, comment, created_by, updated_by) \
         VALUES ($1, $2, $3, $4, $5, $6, $6)",
    )
    .bind(id)
    .bind(version)
    .bind(body)
    .bind(source)
    .bind(comment.map(str::trim).filter(|comment| !comment.is_empty()))
    .bind(author)
    .execute(&mut **transaction)
    .await?;
    Ok(())
}

/// The JSON parsed, checked as a document (every block against its kind's definition),
/// and the title it shows (its settings' title,
/// else its first header, else "Sans titre").
fn checked(source: &str) -> Result<(Value, String), StoreError> {
    let document = opsflux_render::Document::from_json(source)?;
    opsflux_render::blocks::check_document(&document)?;
    let body: Value = serde_json::from_str(source).map_err(|error| opsflux_render::DocumentError::Malformed {
        line: error.line(),
        column: error.column(),
        message: error.to_string(),
    })?;
    let header = document
        .blocks
        .iter()
        .find(|block| block.block_type == "header")
        .and_then(|block| block.data.get("text"))
        .and_then(Value::as_str);
    let title = document.settings.get("title").and_then(Value::as_str).or(header).unwrap_or("Sans titre");
    let plain = opsflux_render::inline::parse(title).map(|spans| opsflux_render::inline::plain(&spans));
    Ok((body, plain.unwrap_or_else(|_| title.to_owned())))
}

fn checked_code(code: &str) -> Result<String, StoreError> {
    let valid = (1..=64).contains(&code.len())
        && code.bytes().all(|byte| byte.is_ascii_lowercase() || byte.is_ascii_digit() || byte == b'-');
    if valid { Ok(code.to_owned()) } else { Err(StoreError::BadCode(code.to_owned())) }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn document(blocks: Value) -> Value {
        serde_json::json!({"settings": {"title": "Rapport"}, "blocks": blocks})
    }

    #[test]
    fn a_diff_names_the_blocks_added_removed_changed_and_moved() {
        let old = document(serde_json::json!([
            {"id": "title", "type": "header", "data": {"text": "Synthèse", "level": 1}},
            {"id": "kpi", "type": "kpi", "data": {"metric": "pob.people_on_board", "measure": "pob"}},
            {"id": "old", "type": "paragraph", "data": {"text": "À retirer"}},
            {"id": "chart", "type": "chart", "data": {"metric": "hse.incidents"}},
        ]));
        let mut new = document(serde_json::json!([
            {"id": "title", "type": "header", "data": {"text": "Synthèse", "level": 1}},
            {"id": "chart", "type": "chart", "data": {"metric": "hse.incidents"}},
            {"id": "kpi", "type": "kpi", "data": {"metric": "pob.occupancy", "measure": "occupancy", "label": "Taux"}},
            {"id": "new", "type": "paragraph", "data": {"text": "Ajouté"}},
        ]));
        new["settings"]["title"] = "Rapport mensuel".into();
        let lines: Vec<String> = diff(&old, &new).iter().map(ToString::to_string).collect();
        assert_eq!(
            lines,
            [
                "~ settings: /title",
                "- block `old` (paragraph)",
                "↕ block `chart` (chart) moved",
                "~ block `kpi` (kpi): /data/label, /data/measure, /data/metric",
                "+ block `new` (paragraph)",
            ]
        );
        assert_eq!(diff(&old, &old), []);
        // One block brought to the top moves; the others keep their order and do not.
        let many = |order: &[usize]| {
            let blocks: Vec<Value> = order
                .iter()
                .map(|index| serde_json::json!({"id": format!("b{index}"), "type": "paragraph", "data": {"text": "x"}}))
                .collect();
            document(Value::Array(blocks))
        };
        let lines: Vec<String> =
            diff(&many(&[0, 1, 2, 3, 4]), &many(&[4, 0, 1, 2, 3])).iter().map(ToString::to_string).collect();
        assert_eq!(lines, ["↕ block `b4` (paragraph) moved"]);
    }

    #[test]
    fn review_moves_only_forward_through_its_steps_or_back_to_draft() {
        use Status::*;
        let steps = [Review::Submit, Review::Approve, Review::Publish];
        let mut status = Draft;
        for step in steps {
            status = step.next(status).unwrap();
        }
        assert_eq!(status, Published);
        assert_eq!(Review::SendBack.next(Published).unwrap(), Draft);
        assert_eq!(
            Review::Publish.next(InReview).unwrap_err().to_string(),
            "cannot publish a document that is in_review: only an approved document is published"
        );
        assert!(Review::SendBack.next(Draft).is_err() && Review::Approve.next(Draft).is_err());
    }

    #[test]
    fn template_codes_are_checked_and_bad_documents_refused_with_their_place() {
        assert!(checked_code("weekly-site-report").is_ok());
        assert!(checked_code("Weekly report").is_err() && checked_code("").is_err());
        let error = checked(r#"{"blocks": [{"id": "a", "type": "paragraph", "data": {}}, {"id": "a"#).unwrap_err();
        assert!(error.to_string().starts_with("invalid document at line 1, column 67: EOF while parsing"), "{error}");
        let error = checked(r#"{"blocks": [{"id": "a", "type": "paragraph", "data": {}}, {"id": "a", "type": "paragraph", "data": {}}]}"#)
            .unwrap_err();
        assert_eq!(error.to_string(), "duplicate block id `a`");
        let (_, title) =
            checked(r#"{"blocks": [{"id": "h", "type": "header", "data": {"text": "<b>Bilan</b> HSE"}}]}"#).unwrap();
        assert_eq!(title, "Bilan HSE");
    }
}
