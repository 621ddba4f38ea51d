//! Connecting to the operational database and applying the migrations of `migrations/`.

use sqlx::migrate::{MigrateDatabase, Migrator};
use sqlx::postgres::{PgConnectOptions, PgPoolOptions};
use sqlx::{ConnectOptions, PgPool, Postgres};

/// The schema migrations, embedded at build time.
pub static MIGRATOR: Migrator = sqlx::migrate!("../migrations");

/// Why the database could not be reached or migrated.
#[derive(Debug, thiserror::Error)]
pub enum DatabaseError {
    #[error("invalid --database-url: {0}")]
    InvalidUrl(String),
    #[error("cannot connect to {target}: {source}")]
    Connect { target: String, source: sqlx::Error },
    #[error("cannot create database {target}: {source}")]
    Create { target: String, source: sqlx::Error },
    #[error("migrating {target} failed: {source}")]
    Migrate { target: String, source: sqlx::migrate::MigrateError },
    #[error("query on {target} failed: {source}")]
    Query { target: String, source: sqlx::Error },
}

/// `host:port/database` of a URL, for messages (never the password).
pub fn describe(url: &str) -> String {
    match url.parse::<PgConnectOptions>() {
        Ok(options) => format!(
            "{}:{}/{}",
            options.get_host(),
            options.get_port(),
            options.get_database().unwrap_or("(default database)")
        ),
        Err(_) => "(unparsable database URL)".to_owned(),
    }
}

/// Parses a PostgreSQL URL, refusing other schemes before any connection is tried.
pub fn parse_url(url: &str) -> Result<PgConnectOptions, DatabaseError> {
    if !(url.starts_with("postgres://") || url.starts_with("postgresql://")) {
        return Err(DatabaseError::InvalidUrl(format!(
            "`{}` is not a PostgreSQL URL; expected postgres://USER@HOST:PORT/DATABASE",
            url.split('@').next_back().unwrap_or_default()
        )));
    }
    url.parse().map_err(|error: sqlx::Error| DatabaseError::InvalidUrl(error.to_string()))
}

/// Opens a pool on `url`.
pub async fn connect(url: &str, max_connections: u32) -> Result<PgPool, DatabaseError> {
    let options = parse_url(url)?;
    let options = options.log_statements(tracing::log::LevelFilter::Debug);
    PgPoolOptions::new()
        .max_connections(max_connections)
        .connect_with(options)
        .await
        .map_err(|source| DatabaseError::Connect { target: describe(url), source })
}

/// What `migrate` did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MigrationReport {
    pub created_database: bool,
    /// Versions applied by this run (empty when the schema was already current).
    pub applied: Vec<i64>,
}

/// Creates the database when it does not exist, then applies pending migrations.
/// Running it again changes nothing.
pub async fn migrate(url: &str) -> Result<MigrationReport, DatabaseError> {
    parse_url(url)?;
    let target = describe(url);
    let created_database = if Postgres::database_exists(url)
        .await
        .map_err(|source| DatabaseError::Connect { target: target.clone(), source })?
    {
        false
    } else {
        Postgres::create_database(url)
            .await
            .map_err(|source| DatabaseError::Create { target: target.clone(), source })?;
        true
    };
    let pool = connect(url, 2).await?;
    let before: Vec<i64> = applied_versions(&pool).await.unwrap_or_default();
    MIGRATOR.run(&pool).await.map_err(|source| DatabaseError::Migrate { target: target.clone(), source })?;
    let after = applied_versions(&pool).await.map_err(|source| DatabaseError::Query { target, source })?;
    pool.close().await;
    Ok(MigrationReport {
        created_database,
        applied: after.into_iter().filter(|version| !before.contains(version)).collect(),
    })
}

async fn applied_versions(pool: &PgPool) -> Result<Vec<i64>, sqlx::Error> {
    sqlx::query_scalar("SELECT version FROM _sqlx_migrations WHERE success ORDER BY version").fetch_all(pool).await
}

/// Every operational and platform table, as `schema.table`, sorted.
pub async fn operational_tables(pool: &PgPool) -> Result<Vec<String>, sqlx::Error> {
    sqlx::query_scalar(
        "SELECT table_schema || '.' || table_name FROM information_schema.tables
         WHERE table_type = 'BASE TABLE' AND table_schema NOT IN ('pg_catalog', 'information_schema', 'public')
         ORDER BY table_schema, table_name",
    )
    .fetch_all(pool)
    .await
}

/// Row counts of every operational and platform table, by `schema.table`, for the
/// overview page and for checks.
pub async fn table_row_counts(pool: &PgPool) -> Result<Vec<(String, i64)>, sqlx::Error> {
    let mut counts = Vec::new();
    for table in operational_tables(pool).await? {
        // Names come from the catalog, where they are plain lowercase identifiers.
        let statement = format!("SELECT count(*) FROM {table}");
        let rows: i64 = sqlx::query_scalar(sqlx::AssertSqlSafe(statement)).fetch_one(pool).await?;
        counts.push((table, rows));
    }
    Ok(counts)
}

/// A table's row count and a checksum over all its columns that does not depend on
/// row order: two databases with equal checksums hold the same rows.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TableChecksum {
    pub table: String,
    pub rows: i64,
    pub checksum: String,
}

/// Checksums of every operational and platform table.
pub async fn table_checksums(pool: &PgPool) -> Result<Vec<TableChecksum>, sqlx::Error> {
    let mut checksums = Vec::new();
    for table in operational_tables(pool).await? {
        let statement = format!(
            "SELECT count(*), coalesce(md5(string_agg(row_hash, '' ORDER BY row_hash)), '-')
             FROM (SELECT md5(t::text) AS row_hash FROM {table} t) rows"
        );
        let (rows, checksum): (i64, String) = sqlx::query_as(sqlx::AssertSqlSafe(statement)).fetch_one(pool).await?;
        checksums.push(TableChecksum { table, rows, checksum });
    }
    Ok(checksums)
}
