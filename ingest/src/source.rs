//! The source database: connection settings, the checks that must pass before capture
//! (logical WAL, replication privilege), and the publication and slot ingestion owns.

use std::time::Duration;

use pgwire_replication::config::SslMode;
use pgwire_replication::{ReplicationClient, ReplicationConfig, TlsConfig};
use sqlx::postgres::{PgConnectOptions, PgConnection};
use sqlx::{ConnectOptions, Connection};

use crate::snapshot::{SkippedTable, SourceTable};
use crate::{IngestError, Lsn, ReplicationNames};

/// Where the source database is, parsed once from a `postgres://` URL.
#[derive(Debug, Clone)]
pub struct Source {
    url: String,
    host: String,
    port: u16,
    user: String,
    password: String,
    database: String,
    /// TLS of the replication connection, from the URL's `sslmode`, `sslrootcert`,
    /// `sslcert` and `sslkey` (the SQL sessions read the same parameters themselves).
    tls: TlsConfig,
}

impl Source {
    /// Parses `postgres://user:password@host:port/database`.
    pub fn parse(url: &str) -> Result<Self, IngestError> {
        let invalid = |reason: String| IngestError::InvalidUrl { url: redact(url), reason };
        let parsed = url::Url::parse(url).map_err(|error| invalid(error.to_string()))?;
        if !matches!(parsed.scheme(), "postgres" | "postgresql") {
            return Err(invalid(format!("the scheme is `{}`, expected `postgres`", parsed.scheme())));
        }
        let decode = |text: &str| {
            url::form_urlencoded::parse(format!("x={text}").as_bytes()).next().map(|(_, value)| value.into_owned())
        };
        let database = parsed.path().trim_start_matches('/');
        if database.is_empty() {
            return Err(invalid("no database name after the host (`.../opsflux`)".into()));
        }
        let tls = tls_settings(&parsed).map_err(invalid)?;
        Ok(Self {
            tls,
            url: url.to_owned(),
            host: parsed.host_str().unwrap_or("localhost").to_owned(),
            port: parsed.port().unwrap_or(5432),
            user: decode(parsed.username()).filter(|user| !user.is_empty()).unwrap_or_else(|| "postgres".into()),
            password: parsed.password().and_then(decode).unwrap_or_default(),
            database: decode(database).unwrap_or_default(),
        })
    }

    /// The database name from the URL.
    pub fn database(&self) -> &str {
        &self.database
    }

    /// `host:port/database`, for messages (never the password).
    pub fn describe(&self) -> String {
        format!("{}:{}/{}", self.host, self.port, self.database)
    }

    /// A plain SQL session in UTC with ISO dates, the forms the row converter reads.
    pub async fn connect(&self) -> Result<PgConnection, IngestError> {
        let options: PgConnectOptions = self.url.parse().map_err(|error: sqlx::Error| IngestError::InvalidUrl {
            url: redact(&self.url),
            reason: error.to_string(),
        })?;
        let options = options.options([("TimeZone", "UTC"), ("DateStyle", "ISO"), ("extra_float_digits", "3")]);
        match tokio::time::timeout(Duration::from_secs(15), options.connect()).await {
            Ok(Ok(connection)) => Ok(connection),
            Ok(Err(source)) => {
                Err(IngestError::Unreachable { source_database: self.describe(), reason: source.to_string() })
            }
            Err(_) => Err(IngestError::Unreachable {
                source_database: self.describe(),
                reason: "no answer within 15 s".into(),
            }),
        }
    }

    /// A replication session that waits for commands before streaming.
    pub async fn replication_client(
        &self,
        names: &ReplicationNames,
        status_interval: Duration,
    ) -> Result<ReplicationClient, IngestError> {
        let config = ReplicationConfig::new(
            self.host.clone(),
            self.user.clone(),
            self.password.clone(),
            self.database.clone(),
            names.slot(),
            names.publication(),
        )
        .with_port(self.port)
        .with_tls(self.tls.clone())
        .with_status_interval(status_interval)
        .with_wakeup_interval(Duration::from_secs(5))
        .with_options("-c TimeZone=UTC -c DateStyle=ISO -c extra_float_digits=3");
        ReplicationClient::connect_gated(config).await.map_err(|error| self.replication_error(error))
    }

    pub(crate) fn replication_error(&self, error: pgwire_replication::PgWireError) -> IngestError {
        if error.is_io() || error.is_transient() {
            IngestError::Unreachable { source_database: self.describe(), reason: error.to_string() }
        } else {
            IngestError::Replication { source_database: self.describe(), reason: error.to_string() }
        }
    }
}

/// The URL with its password replaced by `***`.
/// The replication connection's TLS from the URL, as libpq reads it: `sslmode`
/// (`disable`, `allow`, `prefer` — the default —, `require`, `verify-ca`,
/// `verify-full`), `sslrootcert` (trusted CAs; the Mozilla roots when absent), and
/// `sslcert` with `sslkey` for a client certificate. `allow` is taken as `prefer`: both
/// accept either kind of connection.
fn tls_settings(url: &url::Url) -> Result<TlsConfig, String> {
    let mut tls = TlsConfig { mode: SslMode::Prefer, ..TlsConfig::default() };
    for (name, value) in url.query_pairs() {
        match name.as_ref() {
            "sslmode" => {
                tls.mode = match value.as_ref() {
                    "disable" => SslMode::Disable,
                    "allow" | "prefer" => SslMode::Prefer,
                    "require" => SslMode::Require,
                    "verify-ca" => SslMode::VerifyCa,
                    "verify-full" => SslMode::VerifyFull,
                    other => {
                        return Err(format!(
                            "sslmode `{other}` is not one of disable, allow, prefer, require, verify-ca, verify-full"
                        ));
                    }
                }
            }
            "sslrootcert" => tls.ca_pem_path = Some(value.into_owned().into()),
            "sslcert" => tls.client_cert_pem_path = Some(value.into_owned().into()),
            "sslkey" => tls.client_key_pem_path = Some(value.into_owned().into()),
            _ => {}
        }
    }
    if tls.client_cert_pem_path.is_some() != tls.client_key_pem_path.is_some() {
        return Err("sslcert and sslkey go together: a client certificate needs its key".into());
    }
    Ok(tls)
}

pub fn redact(url: &str) -> String {
    match url::Url::parse(url) {
        Ok(mut parsed) if parsed.password().is_some() => {
            let _ = parsed.set_password(Some("***"));
            parsed.to_string()
        }
        _ => url.to_owned(),
    }
}

fn query_error(what: &str, source: sqlx::Error) -> IngestError {
    if crate::is_connection_lost(&source) {
        IngestError::Unreachable { source_database: what.to_owned(), reason: source.to_string() }
    } else {
        IngestError::Source { what: what.to_owned(), source }
    }
}

/// Checks that the server can stream logical changes to this user.
pub async fn check_prerequisites(connection: &mut PgConnection) -> Result<(), IngestError> {
    let wal_level: String = sqlx::query_scalar("SELECT current_setting('wal_level')")
        .fetch_one(&mut *connection)
        .await
        .map_err(|source| query_error("the wal_level setting", source))?;
    if wal_level != "logical" {
        return Err(IngestError::WalLevel { found: wal_level });
    }
    let (user, allowed): (String, bool) = sqlx::query_as(
        "SELECT current_user::text, rolsuper OR rolreplication FROM pg_roles WHERE rolname = current_user",
    )
    .fetch_one(&mut *connection)
    .await
    .map_err(|source| query_error("the current role", source))?;
    if !allowed {
        return Err(IngestError::MissingPrivilege {
            what: format!("role `{user}` may not start logical replication"),
            fix: format!("ALTER ROLE {user} REPLICATION; (as a superuser)"),
        });
    }
    Ok(())
}

/// Makes the publication list exactly the captured tables (tables without a primary key
/// stay out: publishing them would make their updates fail in the source). Returns the
/// tables it added, as `schema.table`.
pub async fn ensure_publication(
    connection: &mut PgConnection,
    names: &ReplicationNames,
    tables: &[SourceTable],
) -> Result<Vec<String>, IngestError> {
    let listed: Vec<String> = tables.iter().map(|table| table.id.to_string()).collect();
    let exists: bool = sqlx::query_scalar("SELECT EXISTS (SELECT 1 FROM pg_publication WHERE pubname = $1)")
        .bind(names.publication())
        .fetch_one(&mut *connection)
        .await
        .map_err(|source| query_error("the publication list", source))?;
    let published: Vec<String> = sqlx::query_scalar(
        "SELECT schemaname || '.' || tablename FROM pg_publication_tables WHERE pubname = $1 ORDER BY 1",
    )
    .bind(names.publication())
    .fetch_all(&mut *connection)
    .await
    .map_err(|source| query_error("the published tables", source))?;
    let mut wanted = listed.clone();
    wanted.sort();
    if exists && published == wanted {
        return Ok(Vec::new());
    }
    let added = wanted.into_iter().filter(|table| !published.contains(table)).collect();
    let statement = if exists {
        format!("ALTER PUBLICATION {} SET TABLE {}", names.publication(), listed.join(", "))
    } else {
        format!("CREATE PUBLICATION {} FOR TABLE {}", names.publication(), listed.join(", "))
    };
    tracing::info!(publication = names.publication(), tables = listed.len(), "publishing the captured tables");
    sqlx::raw_sql(sqlx::AssertSqlSafe(statement)).execute(&mut *connection).await.map_err(|source| match &source {
        sqlx::Error::Database(error) if error.code().as_deref() == Some("42501") => IngestError::MissingPrivilege {
            what: format!("cannot publish the captured tables: {}", error.message()),
            fix: "connect as the tables' owner or a superuser".into(),
        },
        _ => query_error("creating the publication", source),
    })?;
    Ok(added)
}

/// The slot's state on the server, when it exists.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SlotState {
    pub plugin: String,
    pub database: String,
    pub active: bool,
    pub confirmed_flush: Option<Lsn>,
    pub restart: Option<Lsn>,
}

pub async fn slot_state(connection: &mut PgConnection, slot: &str) -> Result<Option<SlotState>, IngestError> {
    /// Plugin, database, active, confirmed flush and restart positions.
    type SlotRow = (String, String, bool, Option<String>, Option<String>);
    let row: Option<SlotRow> = sqlx::query_as(
        "SELECT coalesce(plugin, ''), coalesce(database::text, ''), active,
                confirmed_flush_lsn::text, restart_lsn::text
         FROM pg_replication_slots WHERE slot_name = $1",
    )
    .bind(slot)
    .fetch_optional(&mut *connection)
    .await
    .map_err(|source| query_error("the replication slots", source))?;
    Ok(row.map(|(plugin, database, active, confirmed, restart)| SlotState {
        plugin,
        database,
        active,
        confirmed_flush: confirmed.and_then(|text| text.parse().ok()),
        restart: restart.and_then(|text| text.parse().ok()),
    }))
}

pub async fn drop_slot(connection: &mut PgConnection, slot: &str) -> Result<(), IngestError> {
    sqlx::query("SELECT pg_drop_replication_slot($1)")
        .bind(slot)
        .execute(&mut *connection)
        .await
        .map_err(|source| query_error("dropping the replication slot", source))?;
    Ok(())
}

/// Writes a heartbeat into the WAL (a non-transactional logical message). It moves an
/// idle database's stream forward so its slot can advance, and marks a position the
/// stream must reach. Returns the message's position.
pub async fn emit_heartbeat(connection: &mut PgConnection) -> Result<Lsn, IngestError> {
    let position: String = sqlx::query_scalar("SELECT pg_logical_emit_message(false, $1, now()::text)::text")
        .bind(crate::stream::HEARTBEAT_PREFIX)
        .fetch_one(&mut *connection)
        .await
        .map_err(|source| query_error("writing a heartbeat", source))?;
    position.parse().map_err(|_| IngestError::Replication {
        source_database: "heartbeat".into(),
        reason: format!("the server returned `{position}` as a position"),
    })
}

/// Captured and skipped tables of the source, logged.
pub async fn discover(connection: &mut PgConnection) -> Result<(Vec<SourceTable>, Vec<SkippedTable>), IngestError> {
    let (tables, skipped) = crate::snapshot::discover_tables(connection).await?;
    for table in &skipped {
        tracing::warn!(table = %table.name, "not captured: {}", table.reason);
    }
    Ok((tables, skipped))
}

/// Closes a connection politely, ignoring a server that is already gone.
pub async fn close(connection: PgConnection) {
    let _ = connection.close().await;
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_url_sets_the_replication_connection_tls_as_libpq_reads_it() {
        let mode = |url: &str| Source::parse(url).map(|source| source.tls.mode).map_err(|error| error.to_string());
        assert_eq!(mode("postgres://u@h/db"), Ok(SslMode::Prefer));
        assert_eq!(mode("postgres://u@h/db?sslmode=disable"), Ok(SslMode::Disable));
        assert_eq!(mode("postgres://u@h/db?sslmode=allow"), Ok(SslMode::Prefer));
        assert_eq!(mode("postgres://u@h/db?application_name=x&sslmode=require"), Ok(SslMode::Require));
        assert_eq!(mode("postgres://u@h/db?sslmode=verify-ca"), Ok(SslMode::VerifyCa));
        assert_eq!(mode("postgres://u@h/db?sslmode=verify-full"), Ok(SslMode::VerifyFull));
        assert_eq!(
            mode("postgres://u:secret@h/db?sslmode=strict"),
            Err("`postgres://u:***@h/db?sslmode=strict` is not a usable database URL: sslmode `strict` is not one of \
                 disable, allow, prefer, require, verify-ca, verify-full"
                .to_owned())
        );
        assert_eq!(
            mode("postgres://u@h/db?sslcert=/c.pem").unwrap_err(),
            "`postgres://u@h/db?sslcert=/c.pem` is not a usable database URL: sslcert and sslkey go together: a client \
             certificate needs its key"
        );
        let source =
            Source::parse("postgres://u@h/db?sslmode=verify-full&sslrootcert=/etc/ca.pem&sslcert=/c.pem&sslkey=/k.pem")
                .unwrap();
        assert_eq!(source.tls.ca_pem_path.as_deref(), Some(std::path::Path::new("/etc/ca.pem")));
        assert_eq!(source.tls.client_key_pem_path.as_deref(), Some(std::path::Path::new("/k.pem")));
    }
}
