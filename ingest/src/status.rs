//! What `opsflux ingest status` reports: per table, what the warehouse holds and how far
//! it is behind; for the slot, how much WAL it keeps on the source.

use opsflux_warehouse::{RecordedSchemaChange, Snapshot, TableId, Version, Warehouse, WriterProblem};

use crate::snapshot::SkippedTable;
use crate::source::{self, Source};
use crate::{IngestError, Lsn, ReplicationNames};

/// The whole report.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IngestStatus {
    pub slot_name: String,
    /// The source's current WAL position.
    pub source_position: Lsn,
    /// `None` before the first `opsflux ingest`.
    pub slot: Option<SlotStatus>,
    pub tables: Vec<TableStatus>,
    pub skipped: Vec<SkippedTable>,
    /// What stops or holds back capture, as the capture process recorded it.
    pub problem: Option<WriterProblem>,
    /// Tables captured before and since dropped at the source: kept, readable at their
    /// last version.
    pub dropped: Vec<DroppedTable>,
    /// The latest changes to captured tables' columns, oldest first (at most
    /// [`RECENT_SCHEMA_CHANGES`]).
    pub schema_changes: Vec<RecordedSchemaChange>,
}

/// How many recent schema changes the report lists.
pub const RECENT_SCHEMA_CHANGES: usize = 10;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DroppedTable {
    pub table: TableId,
    /// The version readers see.
    pub version: Option<Version>,
    /// The position the warehouse holds it up to.
    pub lsn: Option<Lsn>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SlotStatus {
    /// An ingest session is connected.
    pub active: bool,
    /// Everything before this position is in the warehouse.
    pub confirmed_flush: Option<Lsn>,
    /// WAL written since the confirmed position.
    pub lag_bytes: u64,
    /// WAL the server keeps for the slot.
    pub retained_bytes: u64,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TableStatus {
    pub table: TableId,
    /// Rows the table's own files hold; `None` before its initial copy.
    pub rows: Option<u64>,
    /// Changes in the table's change log not yet folded into its files.
    pub unfolded: u64,
    /// The source position the table was last committed at.
    pub lsn: Option<Lsn>,
    /// WAL written since the table was known complete.
    pub lag_bytes: Option<u64>,
    pub snapshot: Option<Snapshot>,
}

/// Reads the source's and the warehouse's state; changes nothing.
pub async fn collect(
    source: &Source,
    warehouse: &Warehouse,
    names: &ReplicationNames,
) -> Result<IngestStatus, IngestError> {
    let mut connection = source.connect().await?;
    let position: String = sqlx::query_scalar("SELECT pg_current_wal_lsn()::text")
        .fetch_one(&mut connection)
        .await
        .map_err(|source| IngestError::Source { what: "the current WAL position".into(), source })?;
    let source_position: Lsn =
        position.parse().map_err(|_| IngestError::Protocol(format!("bad position {position}")))?;
    let slot = source::slot_state(&mut connection, names.slot()).await?.map(|slot| SlotStatus {
        active: slot.active,
        confirmed_flush: slot.confirmed_flush,
        lag_bytes: slot.confirmed_flush.map_or(0, |confirmed| source_position.0.saturating_sub(confirmed.0)),
        retained_bytes: slot.restart.map_or(0, |restart| source_position.0.saturating_sub(restart.0)),
    });
    let (tables, skipped) = crate::snapshot::discover_tables(&mut connection).await?;
    source::close(connection).await;
    let source_tables: Vec<TableId> = tables.iter().map(|table| table.id.clone()).collect();
    let mut dropped = Vec::new();
    for table in dropped_tables(warehouse, &source_tables, names.slot()).await? {
        let version = warehouse.version(&table).await?;
        let lsn = warehouse.checkpoint(&table, names.slot()).await?;
        dropped.push(DroppedTable { table, version, lsn });
    }
    let mut schema_changes: Vec<RecordedSchemaChange> = warehouse
        .schema_changes()
        .await?
        .into_iter()
        .filter(|record| record.writer == names.slot() && record.change.change != "copied")
        .collect();
    schema_changes.drain(..schema_changes.len().saturating_sub(RECENT_SCHEMA_CHANGES));
    let confirmed = slot.as_ref().and_then(|slot| slot.confirmed_flush);
    let mut statuses = Vec::with_capacity(tables.len());
    for table in tables {
        let info = warehouse.describe(&table.id).await?;
        let lsn = warehouse.checkpoint(&table.id, names.slot()).await?;
        // A table is complete up to its own last commit, and up to whatever the slot
        // confirmed (the slot only moves once every table's changes are committed).
        let complete = match (lsn, confirmed) {
            (Some(lsn), Some(confirmed)) => Some(lsn.max(confirmed)),
            (Some(lsn), None) => Some(lsn),
            (None, _) => None,
        };
        let unfolded = warehouse.unfolded(&table.id).await?;
        let snapshot = warehouse.snapshot(&table.id).await?;
        statuses.push(TableStatus {
            table: table.id,
            rows: lsn.and(info.map(|info| info.rows)),
            unfolded,
            lsn,
            lag_bytes: complete.map(|complete| source_position.0.saturating_sub(complete.0)),
            snapshot,
        });
    }
    let problem = warehouse.problem(names.slot()).await?;
    Ok(IngestStatus {
        slot_name: names.slot().to_owned(),
        source_position,
        slot,
        tables: statuses,
        skipped,
        problem,
        dropped,
        schema_changes,
    })
}

/// Warehouse tables `writer` captured that the source no longer has.
pub async fn dropped_tables(
    warehouse: &Warehouse,
    source_tables: &[TableId],
    writer: &str,
) -> Result<Vec<TableId>, IngestError> {
    let mut dropped = Vec::new();
    for table in warehouse.tables().await? {
        if !source_tables.contains(&table) && warehouse.checkpoint(&table, writer).await?.is_some() {
            dropped.push(table);
        }
    }
    Ok(dropped)
}
