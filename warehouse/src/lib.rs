//! Warehouse table storage: the identities every stage agrees on — which table, which
//! position in the source's change stream, which committed version of the warehouse.
//!
//! Tables are Delta Lake tables on a local disk or in an object store such as S3
//! (`storage`, behind `store`); these identities are
//! the vocabulary that ingest, query and reports share.

mod changelog;
mod changes;
mod copies;
mod history;
mod maintenance;
mod problems;
mod storage;
mod store;
#[cfg(any(test, feature = "test-support"))]
pub mod test_support;

use std::fmt;
use std::str::FromStr;

/// Why a warehouse identity could not be parsed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum IdentityError {
    /// A schema or table name that is not a lowercase SQL identifier.
    #[error(
        "`{name}` is not a valid {what} name: use lowercase letters, digits and `_`, starting with a letter or `_`, at most 63 characters"
    )]
    InvalidName { what: &'static str, name: String },
    /// A qualified table name without exactly one dot.
    #[error("`{0}` is not a qualified table name: expected `schema.table`")]
    NotQualified(String),
    /// A log sequence number not in PostgreSQL's `XXXXXXXX/XXXXXXXX` form.
    #[error("`{0}` is not a log sequence number: expected two hexadecimal halves such as `16/B374D848`")]
    InvalidLsn(String),
}

/// A table of the warehouse, named after its source table: `schema.table`.
///
/// Each part is a plain lowercase identifier, so it can be used unquoted in SQL and
/// as a directory name (`<schema>/<table>`) without escaping.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, serde::Serialize, serde::Deserialize)]
pub struct TableId {
    schema: String,
    table: String,
}

impl TableId {
    /// Builds a table identity, checking both parts.
    pub fn new(schema: &str, table: &str) -> Result<Self, IdentityError> {
        check_identifier("schema", schema)?;
        check_identifier("table", table)?;
        Ok(Self { schema: schema.to_owned(), table: table.to_owned() })
    }

    pub fn schema(&self) -> &str {
        &self.schema
    }

    pub fn table(&self) -> &str {
        &self.table
    }

    /// Where the table lives under the warehouse root: `<schema>/<table>`.
    pub fn relative_path(&self) -> String {
        format!("{}/{}", self.schema, self.table)
    }
}

impl fmt::Display for TableId {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(formatter, "{}.{}", self.schema, self.table)
    }
}

impl FromStr for TableId {
    type Err = IdentityError;

    fn from_str(qualified: &str) -> Result<Self, Self::Err> {
        let mut parts = qualified.split('.');
        match (parts.next(), parts.next(), parts.next()) {
            (Some(schema), Some(table), None) => Self::new(schema, table),
            _ => Err(IdentityError::NotQualified(qualified.to_owned())),
        }
    }
}

fn check_identifier(what: &'static str, name: &str) -> Result<(), IdentityError> {
    let mut chars = name.chars();
    let starts_well = chars.next().is_some_and(|first| first.is_ascii_lowercase() || first == '_');
    let continues_well = chars.all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_');
    if starts_well && continues_well && name.len() <= 63 {
        Ok(())
    } else {
        Err(IdentityError::InvalidName { what, name: name.to_owned() })
    }
}

/// A position in PostgreSQL's write-ahead log. Warehouse commits record the position
/// they cover, which is how ingestion resumes exactly once after a crash.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub struct Lsn(pub u64);

impl fmt::Display for Lsn {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(formatter, "{:X}/{:X}", self.0 >> 32, self.0 & 0xFFFF_FFFF)
    }
}

impl FromStr for Lsn {
    type Err = IdentityError;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        let invalid = || IdentityError::InvalidLsn(text.to_owned());
        let (high, low) = text.split_once('/').ok_or_else(invalid)?;
        let parse_half = |half: &str| {
            if half.is_empty() || half.len() > 8 {
                return Err(invalid());
            }
            u32::from_str_radix(half, 16).map_err(|_| invalid())
        };
        Ok(Lsn((u64::from(parse_half(high)?) << 32) | u64::from(parse_half(low)?)))
    }
}

/// A committed version of a warehouse table. Reports name the version they read so
/// that they can be rendered again from exactly the same data.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, serde::Serialize, serde::Deserialize)]
pub struct Version(pub u64);

impl fmt::Display for Version {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(formatter, "v{}", self.0)
    }
}

pub use changelog::{Fold, SEQUENCE_COLUMN, Snapshot};
pub use changes::{ChangeSet, DELETE_COLUMN, Evolution, KEEP_COLUMN_PREFIX};
/// Re-exported so that writers build batches with the exact Arrow version the tables use.
pub use deltalake::arrow;
/// Re-exported so that readers plan over the tables with the DataFusion and Parquet
/// versions the Delta provider is built with.
pub use deltalake::{datafusion, parquet};
pub use history::{RecordedSchemaChange, SchemaChange, SourceColumn};
pub use maintenance::{Compaction, Vacuum};
pub use problems::WriterProblem;
pub use storage::Storage;
pub use store::{Checkpoint, TableInfo, Warehouse, WarehouseError};

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lsn_round_trips_through_postgres_notation() {
        let lsn: Lsn = "16/B374D848".parse().unwrap();
        assert_eq!(lsn, Lsn(0x16_B374_D848));
        assert_eq!(lsn.to_string(), "16/B374D848");
        assert_eq!("0/0".parse::<Lsn>().unwrap(), Lsn(0));
    }

    #[test]
    fn malformed_lsns_are_rejected_with_the_input_named() {
        for bad in ["", "16", "16/", "/1", "G/1", "123456789/0", "1/2/3"] {
            assert_eq!(bad.parse::<Lsn>(), Err(IdentityError::InvalidLsn(bad.to_owned())), "{bad}");
        }
    }

    #[test]
    fn table_ids_are_checked_and_map_to_directories() {
        let table: TableId = "powertrace.meter_readings".parse().unwrap();
        assert_eq!(table.relative_path(), "powertrace/meter_readings");
        assert_eq!(table.to_string(), "powertrace.meter_readings");
        assert_eq!("pob".parse::<TableId>(), Err(IdentityError::NotQualified("pob".to_owned())));
        assert!(matches!(TableId::new("pob", "Stays"), Err(IdentityError::InvalidName { what: "table", .. })));
        assert!(TableId::new("../etc", "x").is_err());
    }
}
