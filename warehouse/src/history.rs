//! The record of the source's schema changes: each added, renamed, dropped or retyped
//! column and each table copied or dropped, with the source position where it happened
//! and the table's columns after it (with PostgreSQL's attribute numbers, which is how a
//! rename is told from a drop and an add across restarts).
//!
//! A Delta table of its own at `<root>/_schema_changes`, appended after the change
//! itself is committed: a replay after a crash records the same change again, and
//! readers drop the repeats.

use std::sync::Arc;

use deltalake::arrow::array::{Array, AsArray, RecordBatch, StringArray, TimestampMicrosecondArray};
use deltalake::arrow::datatypes::{DataType, Field, Schema, TimeUnit};
use deltalake::protocol::SaveMode;

use crate::store::delta;
use crate::{Lsn, TableId, Warehouse, WarehouseError};

/// The directory of the record; not a schema.
pub(crate) const HISTORY_DIRECTORY: &str = "_schema_changes";

/// A column as the source defines it.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct SourceColumn {
    pub name: String,
    /// PostgreSQL's attribute number: stable across renames, never reused.
    pub attnum: i32,
    pub type_oid: u32,
    /// `-1` when the type has no modifier.
    pub type_modifier: i32,
}

/// One change to a captured table's definition.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SchemaChange {
    pub table: TableId,
    /// The commit position of the source transaction that made it (for a copy, the
    /// position the copy is consistent with).
    pub lsn: Lsn,
    /// `copied`, `column added`, `column renamed`, `column dropped`, `column retyped`
    /// or `table dropped`.
    pub change: String,
    /// The change in words: which column, to what, and what stored rows took.
    pub detail: String,
    /// The table's columns after the change.
    pub columns: Vec<SourceColumn>,
}

/// A recorded change, with who recorded it and when.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RecordedSchemaChange {
    pub writer: String,
    /// When it was recorded, in microseconds since the Unix epoch.
    pub recorded_unix_micros: i64,
    pub change: SchemaChange,
}

fn history_schema() -> Arc<Schema> {
    let text = |name: &str| Field::new(name, DataType::Utf8, false);
    Arc::new(Schema::new(vec![
        text("writer"),
        text("table"),
        text("lsn"),
        text("change"),
        text("detail"),
        text("columns"),
        Field::new("recorded_at", DataType::Timestamp(TimeUnit::Microsecond, Some("UTC".into())), false),
    ]))
}

/// The name errors about the record use (it is not a table of the warehouse).
fn history_id() -> TableId {
    // Cannot fail: both parts are constant lowercase identifiers, which `TableId` accepts.
    TableId::new("_opsflux", "schema_changes").expect("a valid identity")
}

impl Warehouse {
    /// Appends `changes`, recorded by `writer`, in one commit.
    pub async fn record_schema_changes(&self, writer: &str, changes: &[SchemaChange]) -> Result<(), WarehouseError> {
        if changes.is_empty() {
            return Ok(());
        }
        let id = history_id();
        let now = chrono::Utc::now().timestamp_micros();
        let column = |values: Vec<String>| Arc::new(StringArray::from(values)) as Arc<dyn Array>;
        let columns_json = changes
            .iter()
            .map(|change| serde_json::to_string(&change.columns).unwrap_or_else(|_| "[]".into()))
            .collect();
        let batch = RecordBatch::try_new(
            history_schema(),
            vec![
                column(vec![writer.to_owned(); changes.len()]),
                column(changes.iter().map(|change| change.table.to_string()).collect()),
                column(changes.iter().map(|change| change.lsn.to_string()).collect()),
                column(changes.iter().map(|change| change.change.clone()).collect()),
                column(changes.iter().map(|change| change.detail.clone()).collect()),
                column(columns_json),
                Arc::new(TimestampMicrosecondArray::from(vec![now; changes.len()]).with_timezone("UTC")),
            ],
        )
        .map_err(|source| delta(&id, source.into()))?;
        let table = self.storage().open_table(&id, HISTORY_DIRECTORY).await?;
        table.write(vec![batch]).with_save_mode(SaveMode::Append).await.map_err(|source| delta(&id, source))?;
        Ok(())
    }

    /// Every recorded schema change in source order, repeats (from replays) left out.
    pub async fn schema_changes(&self) -> Result<Vec<RecordedSchemaChange>, WarehouseError> {
        let id = history_id();
        if !self.storage().has_commit(HISTORY_DIRECTORY).await? {
            return Ok(Vec::new());
        }
        let table = self.storage().open_table(&id, HISTORY_DIRECTORY).await?;
        let (_, stream) = table.scan_table().await.map_err(|source| delta(&id, source))?;
        let batches: Vec<RecordBatch> = futures::TryStreamExt::try_collect(stream)
            .await
            .map_err(|source| delta(&id, deltalake::DeltaTableError::from(source)))?;
        let mut recorded = Vec::new();
        for batch in &batches {
            // Readers may hand strings back in another layout (views, large offsets).
            let texts: Vec<Option<Arc<dyn Array>>> = ["writer", "table", "lsn", "change", "detail", "columns"]
                .iter()
                .map(|name| {
                    let column = batch.column_by_name(name)?;
                    deltalake::arrow::compute::cast(column, &DataType::Utf8).ok()
                })
                .collect();
            let text = |index: usize| texts[index].as_ref().and_then(|column| column.as_string_opt::<i32>());
            let (Some(writer), Some(table), Some(lsn), Some(change), Some(detail), Some(columns)) =
                (text(0), text(1), text(2), text(3), text(4), text(5))
            else {
                continue;
            };
            let at = batch
                .column_by_name("recorded_at")
                .and_then(|column| column.as_primitive_opt::<deltalake::arrow::datatypes::TimestampMicrosecondType>());
            for row in 0..batch.num_rows() {
                // A row this version cannot read is left out rather than failing readers.
                let (Ok(table), Ok(lsn), Ok(columns)) = (
                    table.value(row).parse::<TableId>(),
                    lsn.value(row).parse::<Lsn>(),
                    serde_json::from_str::<Vec<SourceColumn>>(columns.value(row)),
                ) else {
                    continue;
                };
                recorded.push(RecordedSchemaChange {
                    writer: writer.value(row).to_owned(),
                    recorded_unix_micros: at.map_or(0, |at| at.value(row)),
                    change: SchemaChange {
                        table,
                        lsn,
                        change: change.value(row).to_owned(),
                        detail: detail.value(row).to_owned(),
                        columns,
                    },
                });
            }
        }
        recorded.sort_by_key(|record| (record.change.lsn, record.recorded_unix_micros));
        let mut unique: Vec<RecordedSchemaChange> = Vec::with_capacity(recorded.len());
        for record in recorded {
            if !unique.iter().any(|seen| seen.writer == record.writer && seen.change == record.change) {
                unique.push(record);
            }
        }
        Ok(unique)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn column(name: &str, attnum: i32) -> SourceColumn {
        SourceColumn { name: name.into(), attnum, type_oid: 25, type_modifier: -1 }
    }

    #[tokio::test]
    async fn schema_changes_read_back_in_source_order_without_repeats() {
        crate::test_support::on_every_storage(|storage, kind| async move {
            println!("storage: {kind}");
            let warehouse = Warehouse::with_storage(storage);
            assert_eq!(warehouse.schema_changes().await.unwrap(), []);
            let table: TableId = "lab.notes".parse().unwrap();
            let renamed = SchemaChange {
                table: table.clone(),
                lsn: Lsn(0x20),
                change: "column renamed".into(),
                detail: "body renamed text".into(),
                columns: vec![column("id", 1), column("text", 2)],
            };
            let copied = SchemaChange {
                lsn: Lsn(0x10),
                change: "copied".into(),
                detail: "2 columns".into(),
                columns: vec![column("id", 1), column("body", 2)],
                ..renamed.clone()
            };
            warehouse.record_schema_changes("cdc", std::slice::from_ref(&renamed)).await.unwrap();
            warehouse.record_schema_changes("cdc", std::slice::from_ref(&copied)).await.unwrap();
            warehouse.record_schema_changes("cdc", std::slice::from_ref(&renamed)).await.unwrap();
            let read: Vec<_> =
                warehouse.schema_changes().await.unwrap().into_iter().map(|record| record.change).collect();
            assert_eq!(read, [copied, renamed]);
            assert_eq!(warehouse.tables().await.unwrap(), []);
        })
        .await;
    }
}
