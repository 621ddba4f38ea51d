//! Change data capture: PostgreSQL logical replication (a publication and a `pgoutput`
//! slot) turned into ordered change batches for the warehouse.
//!
//! This stage names its replication objects and the kinds of change it carries; the
//! replication client itself arrives with the CDC work.

use std::fmt;

pub use opsflux_warehouse::{Lsn, TableId};

pub mod changes;
pub mod pgoutput;
pub mod rows;
pub mod snapshot;

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
