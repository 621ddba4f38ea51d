//! Change data capture: PostgreSQL logical replication (a publication and a `pgoutput`
//! slot) applied to the warehouse in commit order, exactly once.
//!
//! `source` checks and prepares the source database, `snapshot` copies tables, `pgoutput`
//! decodes the stream, `changes` folds it per table and key, and `stream` runs it all.
//! `declared` reads the same tables from the migrations, for writing without a server.

use std::fmt;

pub use opsflux_warehouse::{Lsn, TableId};

pub mod changes;
pub mod declared;
pub mod evolve;
pub mod pgoutput;
pub mod pgtext;
pub mod rows;
pub mod snapshot;
pub mod source;
pub mod status;
pub mod stream;

pub use stream::{CommitReport, IngestOptions, Ingestor, LogObserver, Observer, Outcome};

/// Why ingestion stopped or could not start. [`IngestError::is_transient`] tells the
/// errors worth retrying (the source is unreachable) from those someone must fix.
#[derive(Debug, thiserror::Error)]
pub enum IngestError {
    #[error("`{url}` is not a usable database URL: {reason}")]
    InvalidUrl { url: String, reason: String },
    #[error("cannot reach PostgreSQL at {source_database}: {reason}")]
    Unreachable { source_database: String, reason: String },
    #[error("replication from {source_database} failed: {reason}")]
    Replication { source_database: String, reason: String },
    #[error(
        "PostgreSQL has wal_level = {found}; logical replication needs `logical`: run `ALTER SYSTEM SET wal_level = logical` and restart PostgreSQL"
    )]
    WalLevel { found: String },
    #[error("missing privilege: {what}; fix: {fix}")]
    MissingPrivilege { what: String, fix: String },
    #[error("{source_database} has no table with a primary key to capture")]
    NothingToCapture { source_database: String },
    #[error("replication slot `{slot}` exists but is {found}; drop it or choose another slot name with --slot")]
    SlotMismatch { slot: String, found: String },
    #[error("replication slot `{slot}` is in use by another session (is another `opsflux ingest` running?)")]
    SlotInUse { slot: String },
    #[error("reading {what} from PostgreSQL failed: {source}")]
    Source { what: String, source: sqlx::Error },
    #[error("the replication stream is inconsistent: {0}")]
    Protocol(String),
    #[error(transparent)]
    Decode(#[from] pgoutput::DecodeError),
    #[error(transparent)]
    Convert(#[from] rows::ConvertError),
    #[error(transparent)]
    Snapshot(#[from] snapshot::SnapshotError),
    #[error(transparent)]
    Warehouse(#[from] opsflux_warehouse::WarehouseError),
    #[error("internal error: {0}")]
    Internal(String),
}

impl IngestError {
    /// Whether waiting and reconnecting may fix it.
    pub fn is_transient(&self) -> bool {
        match self {
            IngestError::Unreachable { .. } | IngestError::SlotInUse { .. } => true,
            IngestError::Snapshot(snapshot::SnapshotError::Source { source, .. })
            | IngestError::Source { source, .. } => is_connection_lost(source),
            _ => false,
        }
    }

    /// Whether a value could not be converted: retried too, so that capture stays up and
    /// says why it is held back, but only a fix at the source or in OpsFlux ends it.
    pub fn is_data(&self) -> bool {
        matches!(
            self,
            IngestError::Convert(_)
                | IngestError::Snapshot(snapshot::SnapshotError::Convert(_))
                | IngestError::Warehouse(
                    opsflux_warehouse::WarehouseError::Retype { .. }
                        | opsflux_warehouse::WarehouseError::RetypeUnsupported { .. }
                )
        )
    }

    /// The error without the values of the rows it concerns: for readers who may not see
    /// every site's data (the health check, the dashboards). The whole error is in the log
    /// and in `opsflux ingest status`.
    pub fn summary(&self) -> String {
        match self {
            IngestError::Convert(error) | IngestError::Snapshot(snapshot::SnapshotError::Convert(error)) => {
                error.summary()
            }
            IngestError::Warehouse(opsflux_warehouse::WarehouseError::Retype { table, column, to, .. }) => {
                format!("warehouse table {table}.{column}: a stored value has no exact {to} form")
            }
            // The store's own message may carry request details (key ids, signed headers).
            IngestError::Warehouse(opsflux_warehouse::WarehouseError::Storage { what, location, .. }) => {
                format!("warehouse storage {location}: {what}")
            }
            other => other.to_string(),
        }
    }
}

/// Whether a SQL error means the server went away or refused the session for now
/// (I/O, protocol breakage, SQLSTATE classes 08 "connection exception" and 57P
/// "operator intervention": shutdown, restart) rather than a problem with the request.
pub(crate) fn is_connection_lost(error: &sqlx::Error) -> bool {
    match error {
        sqlx::Error::Io(_) | sqlx::Error::PoolTimedOut | sqlx::Error::Protocol(_) => true,
        sqlx::Error::Database(error) => {
            error.code().is_some_and(|code| code.starts_with("57P") || code.starts_with("08"))
        }
        _ => false,
    }
}

/// Why a replication setting was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ConfigError {
    /// PostgreSQL only accepts lowercase letters, digits and `_` in slot names.
    #[error("`{0}` is not a valid replication slot or publication name: use 1 to 63 lowercase letters, digits or `_`")]
    InvalidName(String),
}

/// Names of the PostgreSQL objects that ingestion owns on the source database.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReplicationNames {
    publication: String,
    slot: String,
}

impl ReplicationNames {
    pub fn new(publication: &str, slot: &str) -> Result<Self, ConfigError> {
        for name in [publication, slot] {
            let valid = !name.is_empty()
                && name.len() <= 63
                && name.chars().all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_');
            if !valid {
                return Err(ConfigError::InvalidName(name.to_owned()));
            }
        }
        Ok(Self { publication: publication.to_owned(), slot: slot.to_owned() })
    }

    pub fn publication(&self) -> &str {
        &self.publication
    }

    pub fn slot(&self) -> &str {
        &self.slot
    }
}

impl Default for ReplicationNames {
    /// `opsflux_cdc` for both: one publication and one slot per warehouse.
    fn default() -> Self {
        Self { publication: "opsflux_cdc".to_owned(), slot: "opsflux_cdc".to_owned() }
    }
}

/// What a replicated change does to a row, as `pgoutput` reports it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ChangeKind {
    Insert,
    Update,
    Delete,
    Truncate,
}

impl fmt::Display for ChangeKind {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        formatter.write_str(match self {
            ChangeKind::Insert => "insert",
            ChangeKind::Update => "update",
            ChangeKind::Delete => "delete",
            ChangeKind::Truncate => "truncate",
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn replication_names_follow_postgres_rules() {
        let names = ReplicationNames::new("opsflux_pub", "opsflux_slot_1").unwrap();
        assert_eq!((names.publication(), names.slot()), ("opsflux_pub", "opsflux_slot_1"));
        for bad in ["", "Upper", "with-dash", &"x".repeat(64)] {
            assert_eq!(ReplicationNames::new("ok", bad), Err(ConfigError::InvalidName(bad.to_owned())));
        }
    }
}
