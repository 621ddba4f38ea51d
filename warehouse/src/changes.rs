//! Row changes applied to a table in one commit: appended when every row is new, merged
//! by primary key when rows are replaced or removed, written over everything after a
//! truncation. Each commit records the writer's checkpoint with the data.
//!
//! A merge rewrites only the data files holding the keys it touches (Delta `MERGE`
//! prunes files by their key statistics), so an update to a large table costs the
//! files it hits, not the table.

use std::sync::Arc;

use deltalake::arrow::array::RecordBatch;
use deltalake::arrow::datatypes::{DataType, SchemaRef};
use deltalake::datafusion::common::Column;
use deltalake::datafusion::logical_expr::{Expr, when};
use deltalake::datafusion::prelude::SessionContext;
use deltalake::operations::write::SchemaMode;
use deltalake::protocol::SaveMode;

use crate::store::{commit_properties, delta};
use crate::{Checkpoint, TableId, Version, Warehouse, WarehouseError};

/// In a merge batch: `true` for a row to delete (only its key columns matter).
pub const DELETE_COLUMN: &str = "_opsflux_delete";
/// In a merge batch, `<prefix><column>`: `true` where the row keeps the table's current
/// value of `<column>` (the source did not send it because it did not change).
pub const KEEP_COLUMN_PREFIX: &str = "_opsflux_keep_";

/// What one commit does to one table.
#[derive(Debug, Clone)]
pub struct ChangeSet {
    /// The table's columns after this commit.
    pub schema: SchemaRef,
    /// Primary key columns.
    pub key: Vec<String>,
    /// Remove every row before applying the rest.
    pub truncate: bool,
    /// Rows whose keys are not in the table.
    pub inserts: Vec<RecordBatch>,
    /// At most one row per key: the table's columns, then [`DELETE_COLUMN`] and any
    /// [`KEEP_COLUMN_PREFIX`] columns. Rows are inserted, replaced or deleted by key.
    pub merges: Option<RecordBatch>,
}

impl ChangeSet {
    /// The number of rows this change set carries.
    pub fn len(&self) -> usize {
        self.inserts.iter().map(RecordBatch::num_rows).sum::<usize>()
            + self.merges.as_ref().map_or(0, RecordBatch::num_rows)
    }

    pub fn is_empty(&self) -> bool {
        !self.truncate && self.len() == 0
    }
}

impl Warehouse {
    /// Applies `changes` to `table` in one commit that records `checkpoint`, creating the
    /// table when missing. Returns the new version.
    ///
    /// A commit that loses a race with a concurrent one (background compaction rewrote
    /// the files a merge read) is planned again on the new version, a few times.
    pub async fn apply(
        &self,
        table: &TableId,
        changes: ChangeSet,
        checkpoint: &Checkpoint,
    ) -> Result<Version, WarehouseError> {
        let mut attempt = 0;
        loop {
            attempt += 1;
            match self.apply_once(table, changes.clone(), checkpoint).await {
                Err(WarehouseError::Delta { source, .. }) if attempt < 5 && is_conflict(&source) => {
                    tracing::debug!(%table, attempt, "commit conflict; planning again");
                }
                result => return result,
            }
        }
    }

    async fn apply_once(
        &self,
        table: &TableId,
        changes: ChangeSet,
        checkpoint: &Checkpoint,
    ) -> Result<Version, WarehouseError> {
        let mut delta_table = self.delta_table(table).await?;
        // A truncation replaces the schema along with the rows; anything else keeps the
        // rows, so the table is first brought to the new shape.
        if delta_table.version().is_some()
            && !changes.truncate
            && self.conform(table, &delta_table, &changes.schema).await?
        {
            delta_table = self.delta_table(table).await?;
        }
        let exists = delta_table.version().is_some();
        let written = match changes.merges {
            Some(merges) if exists && !changes.truncate => {
                let mut sources = vec![merges.clone()];
                for insert in &changes.inserts {
                    sources.push(as_merge_rows(insert, &merges.schema(), table)?);
                }
                let context = SessionContext::new();
                let source = context.read_batches(sources).map_err(|source| delta(table, source.into()))?;
                let matches = changes
                    .key
                    .iter()
                    .map(|column| qualified("target", column).eq(qualified("source", column)))
                    .reduce(Expr::and)
                    .ok_or_else(|| WarehouseError::NoKey { table: table.to_string() })?;
                let columns: Vec<String> = changes.schema.fields().iter().map(|field| field.name().clone()).collect();
                let merge_schema = merges.schema();
                let keeps = |column: &str| merge_schema.index_of(&format!("{KEEP_COLUMN_PREFIX}{column}")).is_ok();
                let deleted = qualified("source", DELETE_COLUMN).is_true();
                let (merged_table, _) = delta_table
                    .merge(source, matches)
                    .with_source_alias("source")
                    .with_target_alias("target")
                    .with_merge_schema(true)
                    .with_commit_properties(commit_properties(checkpoint))
                    .when_matched_delete(|delete| delete.predicate(deleted.clone()))
                    .and_then(|merge| {
                        merge.when_matched_update(|mut update| {
                            for column in &columns {
                                let value = if keeps(column) {
                                    when(
                                        qualified("source", &format!("{KEEP_COLUMN_PREFIX}{column}")).is_true(),
                                        qualified("target", column),
                                    )
                                    .otherwise(qualified("source", column))
                                    .unwrap_or_else(|_| qualified("source", column))
                                } else {
                                    qualified("source", column)
                                };
                                update = update.update(column.as_str(), value);
                            }
                            update
                        })
                    })
                    .and_then(|merge| {
                        merge.when_not_matched_insert(|mut insert| {
                            insert = insert.predicate(qualified("source", DELETE_COLUMN).is_not_true());
                            for column in &columns {
                                insert = insert.set(column.as_str(), qualified("source", column));
                            }
                            insert
                        })
                    })
                    .map_err(|source| delta(table, source))?
                    .await
                    .map_err(|source| delta(table, source))?;
                merged_table
            }
            merges => {
                // With nothing in the table yet (or everything just truncated), merged rows
                // that are not deletions are plain inserts.
                let mut batches = changes.inserts;
                if let Some(merges) = merges {
                    batches.extend(upserted_rows(&merges, &changes.schema, table)?);
                }
                if batches.is_empty() {
                    batches.push(RecordBatch::new_empty(changes.schema.clone()));
                }
                let (mode, schema_mode) = if changes.truncate {
                    (SaveMode::Overwrite, SchemaMode::Overwrite)
                } else {
                    (SaveMode::Append, SchemaMode::Merge)
                };
                delta_table
                    .write(batches)
                    .with_save_mode(mode)
                    .with_schema_mode(schema_mode)
                    .with_commit_properties(commit_properties(checkpoint))
                    .await
                    .map_err(|source| delta(table, source))?
            }
        };
        Ok(Version(written.version().unwrap_or_default()))
    }
}

/// A commit refused because a concurrent one changed what it was based on.
fn is_conflict(error: &deltalake::DeltaTableError) -> bool {
    use deltalake::kernel::transaction::TransactionError;
    matches!(
        error,
        deltalake::DeltaTableError::Transaction {
            source: TransactionError::CommitConflict(_) | TransactionError::MaxCommitAttempts(_)
        }
    )
}

impl Warehouse {
    /// Rewrites the table in `schema` when a column was dropped or changed type at the
    /// source (a new column needs no rewrite: Delta adds it, older rows read null).
    /// Returns whether it rewrote. The rewrite is a commit of its own that keeps every
    /// writer's checkpoint as it was; the whole table passes through memory.
    async fn conform(
        &self,
        table: &TableId,
        delta_table: &deltalake::DeltaTable,
        schema: &SchemaRef,
    ) -> Result<bool, WarehouseError> {
        let state = delta_table.snapshot().map_err(|source| delta(table, source))?;
        let current = state.snapshot().arrow_schema();
        let changed: Vec<String> = current
            .fields()
            .iter()
            .filter(|field| match schema.field_with_name(field.name()) {
                Err(_) => true,
                Ok(wanted) => comparable(field.data_type()) != comparable(wanted.data_type()),
            })
            .map(|field| field.name().clone())
            .collect();
        if changed.is_empty() {
            return Ok(false);
        }
        tracing::info!(%table, columns = ?changed, "columns dropped or retyped at the source: rewriting the table");
        let arrow_error = |source: deltalake::arrow::error::ArrowError| delta(table, source.into());
        let mut rewritten = Vec::new();
        for batch in self.scan(table, None).await? {
            let columns = schema
                .fields()
                .iter()
                .map(|field| match batch.column_by_name(field.name()) {
                    Some(column) => deltalake::arrow::compute::cast(column, field.data_type()),
                    None => Ok(deltalake::arrow::array::new_null_array(field.data_type(), batch.num_rows())),
                })
                .collect::<Result<Vec<_>, _>>()
                .map_err(arrow_error)?;
            rewritten.push(RecordBatch::try_new(schema.clone(), columns).map_err(arrow_error)?);
        }
        if rewritten.is_empty() {
            rewritten.push(RecordBatch::new_empty(schema.clone()));
        }
        let delta_table = self.delta_table(table).await?;
        delta_table
            .write(rewritten)
            .with_save_mode(SaveMode::Overwrite)
            .with_schema_mode(SchemaMode::Overwrite)
            .await
            .map_err(|source| delta(table, source))?;
        Ok(true)
    }
}

/// A data type with the string and binary layouts (plain, large, view) made alike.
fn comparable(data_type: &DataType) -> DataType {
    match data_type {
        DataType::LargeUtf8 | DataType::Utf8View => DataType::Utf8,
        DataType::LargeBinary | DataType::BinaryView => DataType::Binary,
        other => other.clone(),
    }
}

fn qualified(relation: &str, column: &str) -> Expr {
    Expr::Column(Column::new(Some(relation), column))
}

/// An insert batch widened to a merge batch's columns: not deleted, nothing kept.
fn as_merge_rows(
    insert: &RecordBatch,
    merge_schema: &SchemaRef,
    table: &TableId,
) -> Result<RecordBatch, WarehouseError> {
    let rows = insert.num_rows();
    let mut columns = Vec::with_capacity(merge_schema.fields().len());
    for field in merge_schema.fields() {
        let column = match insert.schema().index_of(field.name()) {
            Ok(index) => insert.column(index).clone(),
            Err(_) if field.data_type() == &DataType::Boolean => {
                Arc::new(deltalake::arrow::array::BooleanArray::from(vec![false; rows])) as _
            }
            Err(_) => deltalake::arrow::array::new_null_array(field.data_type(), rows),
        };
        columns.push(column);
    }
    RecordBatch::try_new(merge_schema.clone(), columns).map_err(|source| delta(table, source.into()))
}

/// The rows of a merge batch that are not deletions, as plain table rows.
fn upserted_rows(
    merges: &RecordBatch,
    schema: &SchemaRef,
    table: &TableId,
) -> Result<Option<RecordBatch>, WarehouseError> {
    let arrow_error = |source: deltalake::arrow::error::ArrowError| delta(table, source.into());
    let delete_index = merges.schema().index_of(DELETE_COLUMN).map_err(arrow_error)?;
    let deleted = deltalake::arrow::array::AsArray::as_boolean_opt(merges.column(delete_index))
        .ok_or_else(|| delta(table, deltalake::DeltaTableError::Generic(format!("{DELETE_COLUMN} is not boolean"))))?;
    let kept: deltalake::arrow::array::BooleanArray = deleted.iter().map(|delete| Some(delete != Some(true))).collect();
    let filtered = deltalake::arrow::compute::filter_record_batch(merges, &kept).map_err(arrow_error)?;
    if filtered.num_rows() == 0 {
        return Ok(None);
    }
    let columns = schema
        .fields()
        .iter()
        .map(|field| filtered.schema().index_of(field.name()).map(|index| filtered.column(index).clone()))
        .collect::<Result<Vec<_>, _>>()
        .map_err(arrow_error)?;
    RecordBatch::try_new(schema.clone(), columns).map(Some).map_err(arrow_error)
}

#[cfg(test)]
mod tests {
    use deltalake::arrow::array::{Array, BooleanArray, Int64Array, StringArray};
    use deltalake::arrow::datatypes::{Field, Schema};

    use super::*;

    fn schema(with_note: bool) -> SchemaRef {
        let mut fields = vec![Field::new("id", DataType::Int64, true), Field::new("body", DataType::Utf8, true)];
        if with_note {
            fields.push(Field::new("note", DataType::Utf8, true));
        }
        Arc::new(Schema::new(fields))
    }

    fn rows(ids: &[i64], bodies: &[Option<&str>]) -> RecordBatch {
        RecordBatch::try_new(
            schema(false),
            vec![Arc::new(Int64Array::from(ids.to_vec())), Arc::new(StringArray::from(bodies.to_vec()))],
        )
        .unwrap()
    }

    /// Merge rows: (id, body, delete, keep body).
    fn merges(changes: &[(i64, Option<&str>, bool, bool)]) -> RecordBatch {
        let merge_schema = Arc::new(Schema::new(vec![
            Field::new("id", DataType::Int64, true),
            Field::new("body", DataType::Utf8, true),
            Field::new(DELETE_COLUMN, DataType::Boolean, true),
            Field::new(format!("{KEEP_COLUMN_PREFIX}body"), DataType::Boolean, true),
        ]));
        RecordBatch::try_new(
            merge_schema,
            vec![
                Arc::new(changes.iter().map(|change| Some(change.0)).collect::<Int64Array>()),
                Arc::new(changes.iter().map(|change| change.1).collect::<StringArray>()),
                Arc::new(changes.iter().map(|change| Some(change.2)).collect::<BooleanArray>()),
                Arc::new(changes.iter().map(|change| Some(change.3)).collect::<BooleanArray>()),
            ],
        )
        .unwrap()
    }

    fn change_set(inserts: Vec<RecordBatch>, merges: Option<RecordBatch>, truncate: bool) -> ChangeSet {
        ChangeSet { schema: schema(false), key: vec!["id".into()], truncate, inserts, merges }
    }

    async fn contents(warehouse: &Warehouse, table: &TableId) -> Vec<String> {
        let mut lines = Vec::new();
        for batch in warehouse.scan(table, None).await.unwrap() {
            let columns: Vec<_> = batch
                .columns()
                .iter()
                .map(|column| deltalake::arrow::compute::cast(column, &DataType::Utf8).unwrap())
                .collect();
            for row in 0..batch.num_rows() {
                let values: Vec<String> = columns
                    .iter()
                    .map(|column| {
                        let text = column.as_any().downcast_ref::<StringArray>().unwrap();
                        if text.is_null(row) { "∅".to_owned() } else { text.value(row).to_owned() }
                    })
                    .collect();
                lines.push(values.join(" "));
            }
        }
        lines.sort();
        lines
    }

    #[tokio::test]
    async fn changes_insert_replace_keep_delete_and_truncate_by_key() {
        let directory = tempfile::tempdir().unwrap();
        let warehouse = Warehouse::open(directory.path()).unwrap();
        let table: TableId = "hse.incidents".parse().unwrap();
        let at = |lsn: u64| Checkpoint { writer: "cdc".into(), lsn: crate::Lsn(lsn) };

        let first = rows(&[1, 2, 3], &[Some("long text one"), Some("two"), None]);
        assert_eq!(warehouse.apply(&table, change_set(vec![first], None, false), &at(10)).await.unwrap(), Version(0));
        assert_eq!(contents(&warehouse, &table).await, ["1 long text one", "2 two", "3 ∅"]);

        // Row 1 changes but keeps its body, row 2 is replaced, row 3 deleted, row 4 and
        // row 5 are new (one merged, one inserted).
        let merged = merges(&[
            (1, None, false, true),
            (2, Some("deux"), false, false),
            (3, None, true, false),
            (4, Some("quatre"), false, false),
        ]);
        let changes = change_set(vec![rows(&[5], &[Some("cinq")])], Some(merged), false);
        assert_eq!(warehouse.apply(&table, changes, &at(20)).await.unwrap(), Version(1));
        assert_eq!(contents(&warehouse, &table).await, ["1 long text one", "2 deux", "4 quatre", "5 cinq"]);
        assert_eq!(warehouse.checkpoint(&table, "cdc").await.unwrap(), Some(crate::Lsn(20)));

        // A commit without rows still records how far the writer got.
        assert_eq!(warehouse.apply(&table, change_set(vec![], None, false), &at(30)).await.unwrap(), Version(2));
        assert_eq!(warehouse.checkpoint(&table, "cdc").await.unwrap(), Some(crate::Lsn(30)));
        assert_eq!(contents(&warehouse, &table).await.len(), 4);

        // A new column: older rows read it as null.
        let widened = ChangeSet {
            schema: schema(true),
            key: vec!["id".into()],
            truncate: false,
            inserts: vec![RecordBatch::new_empty(schema(true))],
            merges: None,
        };
        warehouse.apply(&table, widened, &at(40)).await.unwrap();
        assert_eq!(contents(&warehouse, &table).await, ["1 long text one ∅", "2 deux ∅", "4 quatre ∅", "5 cinq ∅"]);

        // The column is dropped again at the source: the table is rewritten without it,
        // and the writer's checkpoint survives the rewrite.
        let narrowed = change_set(vec![rows(&[8], &[Some("huit")])], None, false);
        warehouse.apply(&table, narrowed, &at(45)).await.unwrap();
        assert_eq!(contents(&warehouse, &table).await, ["1 long text one", "2 deux", "4 quatre", "5 cinq", "8 huit"]);
        assert_eq!(warehouse.checkpoint(&table, "cdc").await.unwrap(), Some(crate::Lsn(45)));

        // A truncation replaces everything with what follows it.
        let merged_after_truncate = merges(&[(6, Some("six"), false, false), (7, None, true, false)]);
        let truncated = ChangeSet {
            schema: schema(false),
            key: vec!["id".into()],
            truncate: true,
            inserts: vec![],
            merges: Some(merged_after_truncate),
        };
        warehouse.apply(&table, truncated, &at(50)).await.unwrap();
        assert_eq!(contents(&warehouse, &table).await, ["6 six"]);

        // Earlier versions stay readable.
        assert_eq!(
            warehouse.scan(&table, Some(Version(0))).await.unwrap().iter().map(RecordBatch::num_rows).sum::<usize>(),
            3
        );
    }
}
