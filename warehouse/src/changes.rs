//! Row changes applied to a table in one commit: appended when every row is new, merged
//! by primary key when rows are replaced or removed, written over everything after a
//! truncation. Each commit records the writer's checkpoint with the data.
//!
//! A merge rewrites only the data files holding the keys it touches (Delta `MERGE`
//! prunes files by their key statistics), so an update to a large table costs the
//! files it hits, not the table.

use std::sync::Arc;

use deltalake::arrow::array::{ArrayRef, RecordBatch, UInt32Array};
use deltalake::arrow::datatypes::{DataType, SchemaRef};
use deltalake::datafusion::common::Column;
use deltalake::datafusion::logical_expr::{Expr, when};
use deltalake::datafusion::prelude::SessionContext;
use deltalake::operations::write::SchemaMode;
use deltalake::protocol::SaveMode;

use crate::changelog::{Known, Marks, lsn_position, superseding};
use crate::store::delta;
use crate::{Checkpoint, Snapshot, TableId, Version, Warehouse, WarehouseError};

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
    /// What the source did to the stored columns beyond what `schema` tells.
    pub evolution: Evolution,
}

/// How the rows the table already holds follow a change of the source's columns, where
/// the new schema alone would lose values.
#[derive(Debug, Clone, Default)]
pub struct Evolution {
    /// Stored column, then its new name: a rename keeps the values.
    pub renamed: Vec<(String, String)>,
    /// A new column and the one value (an array of length 1) every stored row takes: the
    /// default PostgreSQL gives rows that predate the column.
    pub filled: Vec<(String, ArrayRef)>,
    /// Key columns, then new columns, with their current values at the source: merged
    /// into the rows the table holds after this commit, never adding a row. The stream
    /// brings any later change of those rows afterwards.
    pub backfill: Option<RecordBatch>,
}

impl Evolution {
    pub fn is_empty(&self) -> bool {
        self.renamed.is_empty() && self.filled.is_empty() && self.backfill.is_none()
    }
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
    /// table when missing. Returns the snapshot that holds them.
    ///
    /// Where the commit goes depends on the changes and on the table's change log:
    /// - replaced and deleted rows (and any row while the log holds live changes) are
    ///   appended to the change log, whatever the table's size;
    /// - rows that are all new go straight into the table when the log is idle;
    /// - a truncation, a schema change, or a row that keeps unchanged values the source
    ///   did not send (which needs the stored row) first folds the log, then merges into
    ///   the table by key.
    ///
    /// A commit that loses a race with a concurrent one (background compaction rewrote
    /// the files a merge read) is planned again on the new version, a few times.
    pub async fn apply(
        &self,
        table: &TableId,
        changes: ChangeSet,
        checkpoint: &Checkpoint,
    ) -> Result<Snapshot, WarehouseError> {
        // What this writer knows of the table is set aside while it commits, so that a
        // commit that fails or is abandoned leaves the next one to read the table again.
        let mut known = self.take_known(table);
        let mut attempt = 0;
        loop {
            attempt += 1;
            match self.apply_attempt(table, changes.clone(), checkpoint, known.take()).await {
                Ok((snapshot, known)) => {
                    self.put_known(table, known);
                    return Ok(snapshot);
                }
                Err(WarehouseError::Delta { source, .. }) if attempt < 5 && is_conflict(&source) => {
                    tracing::debug!(%table, attempt, "commit conflict; planning again");
                }
                Err(error) => return Err(error),
            }
        }
    }

    async fn apply_attempt(
        &self,
        table: &TableId,
        changes: ChangeSet,
        checkpoint: &Checkpoint,
        known: Option<Known>,
    ) -> Result<(Snapshot, Known), WarehouseError> {
        // Appending to a live log needs no lock: a fold running meanwhile covers only
        // positions below this one, so the log stays live and this row stays visible.
        if let Some(known) = &known
            && known.marks.live()
            && !changes.truncate
            && !has_keeps(&changes)
            && changes.evolution.is_empty()
            && !differs(&known.schema, &changes.schema)
            && known.log_key.as_deref() == Some(changes.key.as_slice())
        {
            let folds_before = self.folds();
            let log = self.log_table(table).await?;
            let version = self.log_changes(table, log, changes, checkpoint, true).await?;
            let mut known = known.clone();
            known.marks.logged = Some(lsn_position(checkpoint.lsn));
            known.log_version = Some(version.0);
            if self.folds() != folds_before {
                // A fold landed meanwhile: its table version and mark are read again.
                let base = self.delta_table(table).await?;
                known.marks.folded = self.read_marks(table, &base).await?.0.folded;
                known.table_version = base.version().unwrap_or_default();
            }
            return Ok((known.snapshot(), known));
        }
        let lock = self.table_lock(table);
        let _guard = lock.lock().await;
        self.apply_once(table, changes, checkpoint, known).await
    }

    async fn log_changes(
        &self,
        table: &TableId,
        log: Option<deltalake::DeltaTable>,
        changes: ChangeSet,
        checkpoint: &Checkpoint,
        live: bool,
    ) -> Result<Version, WarehouseError> {
        let mut rows = Vec::new();
        let row_schema = {
            let mut fields: Vec<_> = changes.schema.fields().iter().cloned().collect();
            fields.push(Arc::new(deltalake::arrow::datatypes::Field::new(DELETE_COLUMN, DataType::Boolean, true)));
            Arc::new(deltalake::arrow::datatypes::Schema::new(fields))
        };
        for insert in &changes.inserts {
            rows.push(as_merge_rows(insert, &row_schema, table)?);
        }
        if let Some(merges) = &changes.merges {
            rows.push(as_merge_rows(merges, &row_schema, table)?);
        }
        self.append_to_log(table, log, &changes.key, rows, &row_schema, checkpoint, live).await
    }

    async fn apply_once(
        &self,
        table: &TableId,
        changes: ChangeSet,
        checkpoint: &Checkpoint,
        known: Option<Known>,
    ) -> Result<(Snapshot, Known), WarehouseError> {
        let mut delta_table = self.delta_table(table).await?;
        let (mut marks, mut log_version) = match &known {
            Some(known) => (known.marks, known.log_version),
            None => self.read_marks(table, &delta_table).await?,
        };
        let exists = delta_table.version().is_some();
        // Rows already stored change with the schema (or are backfilled): the log is
        // folded first and the commit goes to the table itself.
        let schema_differs =
            exists && (schema_differs(table, &delta_table, &changes.schema)? || changes.evolution.backfill.is_some());
        let logged = |marks: Marks, log_version: Version, delta_table: &deltalake::DeltaTable| {
            let marks = Marks { logged: Some(lsn_position(checkpoint.lsn)), ..marks };
            let known = Known {
                marks,
                log_key: Some(changes.key.clone()),
                log_version: Some(log_version.0),
                schema: changes.schema.clone(),
                table_version: delta_table.version().unwrap_or_default(),
            };
            Ok((known.snapshot(), known))
        };
        if exists && !changes.truncate {
            // A log kept by another key (the primary key changed) is folded and replaced:
            // its rows cannot be merged with rows of the new key.
            let logging = !schema_differs
                && ((changes.merges.is_some() && !has_keeps(&changes)) || (changes.merges.is_none() && marks.live()));
            if logging
                && let Some(log) = self.log_table(table).await?
                && crate::changelog::log_key(table, &log)?.as_deref() != Some(changes.key.as_slice())
            {
                if marks.live() {
                    self.fold_locked(table).await?;
                    delta_table = self.delta_table(table).await?;
                }
                self.storage().remove_all(&Self::change_log_path(table)).await?;
                (marks, log_version) = self.read_marks(table, &delta_table).await?;
            }
            if changes.merges.is_some() && !has_keeps(&changes) && !schema_differs {
                let log = self.log_table(table).await?;
                let version = self.log_changes(table, log, changes.clone(), checkpoint, marks.live()).await?;
                return logged(marks, version, &delta_table);
            }
            if marks.live() && (changes.merges.is_some() || schema_differs) {
                self.fold_locked(table).await?;
                delta_table = self.delta_table(table).await?;
                (marks, log_version) = self.read_marks(table, &delta_table).await?;
            }
            if marks.live() {
                // New rows while the log holds changes: into the log too, so that one
                // reading order (table, then log by position) gives the latest state.
                let log = self.log_table(table).await?;
                let version = self.log_changes(table, log, changes.clone(), checkpoint, true).await?;
                return logged(marks, version, &delta_table);
            }
        }
        // A truncation replaces the schema along with the rows; anything else keeps the
        // rows, so the table is first brought to the new shape.
        if exists && !changes.truncate && self.conform(table, &delta_table, &changes.schema, &changes.evolution).await?
        {
            delta_table = self.delta_table(table).await?;
        }
        let backfill = if changes.truncate { None } else { changes.evolution.backfill.clone() };
        let written = match changes.merges {
            Some(merges) if exists && !changes.truncate => {
                let mut sources = vec![merges.clone()];
                for insert in &changes.inserts {
                    sources.push(as_merge_rows(insert, &merges.schema(), table)?);
                }
                let context = SessionContext::new();
                let source = context.read_batches(sources).map_err(|source| delta(table, source.into()))?;
                let columns: Vec<String> = changes.schema.fields().iter().map(|field| field.name().clone()).collect();
                let merge_schema = merges.schema();
                let keeps = |column: &str| merge_schema.index_of(&format!("{KEEP_COLUMN_PREFIX}{column}")).is_ok();
                merge_by_key(table, delta_table, source, &changes.key, &columns, keeps, superseding(checkpoint)).await?
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
                    .with_commit_properties(superseding(checkpoint))
                    .await
                    .map_err(|source| delta(table, source))?
            }
        };
        let written = match backfill {
            Some(backfill) if backfill.num_rows() > 0 => {
                backfill_by_key(table, written, backfill, &changes.key, superseding(checkpoint)).await?
            }
            _ => written,
        };
        let state = written.snapshot().map_err(|source| delta(table, source))?;
        let known = Known {
            marks: Marks { folded: Some(lsn_position(checkpoint.lsn)), ..marks },
            log_key: None,
            log_version,
            schema: state.snapshot().arrow_schema(),
            table_version: written.version().unwrap_or_default(),
        };
        Ok((known.snapshot(), known))
    }
}

/// Where a rewritten column's values come from.
enum Origin {
    /// The stored column of that name.
    Stored(String),
    /// One value for every row.
    Filled(ArrayRef),
    /// Nothing: null.
    Null,
}

/// `target.k = source.k` for every key column `k`, joined by `AND`: how a merge pairs
/// rows.
fn keys_match(table: &TableId, key: &[String]) -> Result<Expr, WarehouseError> {
    key.iter()
        .map(|column| qualified("target", column).eq(qualified("source", column)))
        .reduce(Expr::and)
        .ok_or_else(|| WarehouseError::NoKey { table: table.to_string() })
}

/// Merges `source` (the table's columns, [`DELETE_COLUMN`], and keep flags where `keeps`
/// says so; at most one row per key) into the table by key, in one commit.
pub(crate) async fn merge_by_key(
    table: &TableId,
    delta_table: deltalake::DeltaTable,
    source: deltalake::datafusion::prelude::DataFrame,
    key: &[String],
    columns: &[String],
    keeps: impl Fn(&str) -> bool,
    properties: deltalake::kernel::transaction::CommitProperties,
) -> Result<deltalake::DeltaTable, WarehouseError> {
    let matches = keys_match(table, key)?;
    let deleted = qualified("source", DELETE_COLUMN).is_true();
    let (merged_table, _) = delta_table
        .merge(source, matches)
        .with_source_alias("source")
        .with_target_alias("target")
        .with_merge_schema(true)
        .with_commit_properties(properties)
        .when_matched_delete(|delete| delete.predicate(deleted.clone()))
        .and_then(|merge| {
            merge.when_matched_update(|mut update| {
                for column in columns {
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
                for column in columns {
                    insert = insert.set(column.as_str(), qualified("source", column));
                }
                insert
            })
        })
        .map_err(|source| delta(table, source))?
        .await
        .map_err(|source| delta(table, source))?;
    Ok(merged_table)
}

/// Sets the non-key columns of `backfill` in the rows whose keys match, in one commit;
/// keys the table does not hold are ignored.
async fn backfill_by_key(
    table: &TableId,
    delta_table: deltalake::DeltaTable,
    backfill: RecordBatch,
    key: &[String],
    properties: deltalake::kernel::transaction::CommitProperties,
) -> Result<deltalake::DeltaTable, WarehouseError> {
    let matches = keys_match(table, key)?;
    let columns: Vec<String> = backfill
        .schema()
        .fields()
        .iter()
        .map(|field| field.name().clone())
        .filter(|name| !key.contains(name))
        .collect();
    let context = SessionContext::new();
    let source = context.read_batch(backfill).map_err(|source| delta(table, source.into()))?;
    let (merged, _) = delta_table
        .merge(source, matches)
        .with_source_alias("source")
        .with_target_alias("target")
        .with_commit_properties(properties)
        .when_matched_update(|mut update| {
            for column in &columns {
                update = update.update(column.as_str(), qualified("source", column));
            }
            update
        })
        .map_err(|source| delta(table, source))?
        .await
        .map_err(|source| delta(table, source))?;
    tracing::info!(%table, columns = ?columns, "backfilled new columns from the source's current rows");
    Ok(merged)
}

/// Whether some row keeps a stored value the source did not send.
fn has_keeps(changes: &ChangeSet) -> bool {
    changes
        .merges
        .as_ref()
        .is_some_and(|merges| merges.schema().fields().iter().any(|field| field.name().starts_with(KEEP_COLUMN_PREFIX)))
}

/// Whether the table's columns differ from `schema` (added, dropped or retyped).
fn schema_differs(
    table: &TableId,
    delta_table: &deltalake::DeltaTable,
    schema: &SchemaRef,
) -> Result<bool, WarehouseError> {
    let state = delta_table.snapshot().map_err(|source| delta(table, source))?;
    Ok(differs(&state.snapshot().arrow_schema(), schema))
}

/// Whether two schemas differ in column names or types (string layouts alike).
fn differs(current: &SchemaRef, wanted: &SchemaRef) -> bool {
    current.fields().len() != wanted.fields().len()
        || current.fields().iter().zip(wanted.fields()).any(|(stored, wanted)| {
            stored.name() != wanted.name() || comparable(stored.data_type()) != comparable(wanted.data_type())
        })
}

/// A commit refused because a concurrent one changed what it was based on.
pub(crate) fn is_conflict(error: &deltalake::DeltaTableError) -> bool {
    use deltalake::kernel::transaction::TransactionError;
    matches!(
        error,
        deltalake::DeltaTableError::Transaction {
            source: TransactionError::CommitConflict(_) | TransactionError::MaxCommitAttempts(_)
        }
    )
}

impl Warehouse {
    /// Rewrites the table in `schema` when a column was dropped, renamed, changed type,
    /// or added with a value for the stored rows (a new column without one needs no
    /// rewrite: Delta adds it, older rows read null). Returns whether it rewrote. The
    /// rewrite is a commit of its own that keeps every writer's checkpoint as it was; the
    /// whole table passes through memory.
    async fn conform(
        &self,
        table: &TableId,
        delta_table: &deltalake::DeltaTable,
        schema: &SchemaRef,
        evolution: &Evolution,
    ) -> Result<bool, WarehouseError> {
        let state = delta_table.snapshot().map_err(|source| delta(table, source))?;
        let current = state.snapshot().arrow_schema();
        let stored = |name: &str| current.field_with_name(name).ok();
        // Where each wanted column's values come from.
        let sources: Vec<Origin> = schema
            .fields()
            .iter()
            .map(|field| {
                if stored(field.name()).is_some() {
                    return Origin::Stored(field.name().clone());
                }
                if let Some((from, _)) =
                    evolution.renamed.iter().find(|(from, to)| to == field.name() && stored(from).is_some())
                {
                    return Origin::Stored(from.clone());
                }
                match evolution.filled.iter().find(|(name, _)| name == field.name()) {
                    Some((_, value)) => Origin::Filled(value.clone()),
                    None => Origin::Null,
                }
            })
            .collect();
        let mut changed: Vec<String> = current
            .fields()
            .iter()
            .filter(|field| {
                !sources.iter().any(|origin| matches!(origin, Origin::Stored(name) if name == field.name()))
            })
            .map(|field| format!("{} dropped", field.name()))
            .collect();
        for (field, origin) in schema.fields().iter().zip(&sources) {
            match origin {
                Origin::Stored(name) if name != field.name() => {
                    changed.push(format!("{name} renamed {}", field.name()))
                }
                Origin::Stored(name) => {
                    if stored(name)
                        .is_some_and(|stored| comparable(stored.data_type()) != comparable(field.data_type()))
                    {
                        changed.push(format!("{name} retyped"));
                    }
                }
                Origin::Filled(_) => changed.push(format!("{} added with a value", field.name())),
                Origin::Null => {}
            }
        }
        if changed.is_empty() {
            return Ok(false);
        }
        tracing::info!(%table, columns = ?changed, "the source's columns changed: rewriting the table");
        let arrow_error = |source: deltalake::arrow::error::ArrowError| delta(table, source.into());
        let mut rewritten = Vec::new();
        for batch in self.scan(table, None).await? {
            let mut columns = Vec::with_capacity(schema.fields().len());
            for (field, origin) in schema.fields().iter().zip(&sources) {
                let rows = batch.num_rows();
                columns.push(match origin {
                    Origin::Stored(name) => match batch.column_by_name(name) {
                        Some(column) => convert_exactly(table, field, column)?,
                        None => deltalake::arrow::array::new_null_array(field.data_type(), rows),
                    },
                    Origin::Filled(value) => {
                        let repeated =
                            deltalake::arrow::compute::take(value.as_ref(), &UInt32Array::from(vec![0; rows]), None)
                                .map_err(arrow_error)?;
                        convert_exactly(table, field, &repeated)?
                    }
                    Origin::Null => deltalake::arrow::array::new_null_array(field.data_type(), rows),
                });
            }
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

/// `column` in `field`'s type, each value exactly: converted back, it must equal what
/// was stored. Otherwise the first value that does not is named (a value that does not
/// convert at all, a fraction or digits lost), rather than stored as null or rounded
/// differently from how PostgreSQL rewrote it.
fn convert_exactly(
    table: &TableId,
    field: &deltalake::arrow::datatypes::Field,
    column: &ArrayRef,
) -> Result<ArrayRef, WarehouseError> {
    use deltalake::arrow::array::Array;
    use deltalake::arrow::compute::{CastOptions, cast_with_options};
    if comparable(column.data_type()) == comparable(field.data_type()) {
        // Only the string or binary layout differs: always exact.
        return deltalake::arrow::compute::cast(column, field.data_type())
            .map_err(|source| delta(table, source.into()));
    }
    let refused = |index: usize| {
        let options = deltalake::arrow::util::display::FormatOptions::default();
        let value = deltalake::arrow::util::display::ArrayFormatter::try_new(column.as_ref(), &options)
            .map(|formatter| formatter.value(index).to_string())
            .unwrap_or_default();
        WarehouseError::Retype {
            table: table.to_string(),
            column: field.name().clone(),
            value: value.chars().take(80).collect(),
            to: field.data_type().to_string(),
        }
    };
    let unsupported = |_| WarehouseError::RetypeUnsupported {
        table: table.to_string(),
        column: field.name().clone(),
        from: column.data_type().to_string(),
        to: field.data_type().to_string(),
    };
    let lenient = CastOptions { safe: true, ..CastOptions::default() };
    let converted = cast_with_options(column, field.data_type(), &lenient).map_err(unsupported)?;
    let back = cast_with_options(&converted, column.data_type(), &lenient).map_err(unsupported)?;
    let equal = deltalake::arrow::compute::kernels::cmp::not_distinct(column, &back).map_err(unsupported)?;
    match (0..column.len()).find(|index| !equal.value(*index)) {
        Some(index) => Err(refused(index)),
        None => Ok(converted),
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
        ChangeSet {
            schema: schema(false),
            key: vec!["id".into()],
            truncate,
            inserts,
            merges,
            evolution: Evolution::default(),
        }
    }

    /// The table's own files, one sorted text line per row.
    async fn contents(warehouse: &Warehouse, table: &TableId) -> Vec<String> {
        lines(&warehouse.scan(table, None).await.unwrap())
    }

    /// Rows as sorted text lines, every column cast to text, nulls as `∅`.
    fn lines(batches: &[RecordBatch]) -> Vec<String> {
        let mut lines = Vec::new();
        for batch in batches {
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
        crate::test_support::on_every_storage(|storage, kind| async move {
            println!("storage: {kind}");
            let warehouse = Warehouse::with_storage(storage);
            let table: TableId = "hse.incidents".parse().unwrap();
            let at = |lsn: u64| Checkpoint { writer: "cdc".into(), lsn: crate::Lsn(lsn) };

            let first = rows(&[1, 2, 3], &[Some("long text one"), Some("two"), None]);
            assert_eq!(
                warehouse.apply(&table, change_set(vec![first], None, false), &at(10)).await.unwrap().table,
                Version(0)
            );
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
            assert_eq!(warehouse.apply(&table, changes, &at(20)).await.unwrap().table, Version(1));
            assert_eq!(contents(&warehouse, &table).await, ["1 long text one", "2 deux", "4 quatre", "5 cinq"]);
            assert_eq!(warehouse.checkpoint(&table, "cdc").await.unwrap(), Some(crate::Lsn(20)));

            // A commit without rows still records how far the writer got.
            assert_eq!(
                warehouse.apply(&table, change_set(vec![], None, false), &at(30)).await.unwrap().table,
                Version(2)
            );
            assert_eq!(warehouse.checkpoint(&table, "cdc").await.unwrap(), Some(crate::Lsn(30)));
            assert_eq!(contents(&warehouse, &table).await.len(), 4);

            // A new column: older rows read it as null.
            let widened = ChangeSet {
                schema: schema(true),
                key: vec!["id".into()],
                truncate: false,
                inserts: vec![RecordBatch::new_empty(schema(true))],
                merges: None,
                evolution: Evolution::default(),
            };
            warehouse.apply(&table, widened, &at(40)).await.unwrap();
            assert_eq!(contents(&warehouse, &table).await, ["1 long text one ∅", "2 deux ∅", "4 quatre ∅", "5 cinq ∅"]);

            // The column is dropped again at the source: the table is rewritten without it,
            // and the writer's checkpoint survives the rewrite.
            let narrowed = change_set(vec![rows(&[8], &[Some("huit")])], None, false);
            warehouse.apply(&table, narrowed, &at(45)).await.unwrap();
            assert_eq!(
                contents(&warehouse, &table).await,
                ["1 long text one", "2 deux", "4 quatre", "5 cinq", "8 huit"]
            );
            assert_eq!(warehouse.checkpoint(&table, "cdc").await.unwrap(), Some(crate::Lsn(45)));

            // A truncation replaces everything with what follows it.
            let merged_after_truncate = merges(&[(6, Some("six"), false, false), (7, None, true, false)]);
            let truncated = ChangeSet {
                schema: schema(false),
                key: vec!["id".into()],
                truncate: true,
                inserts: vec![],
                merges: Some(merged_after_truncate),
                evolution: Evolution::default(),
            };
            warehouse.apply(&table, truncated, &at(50)).await.unwrap();
            assert_eq!(contents(&warehouse, &table).await, ["6 six"]);

            // Earlier versions stay readable.
            assert_eq!(
                warehouse
                    .scan(&table, Some(Version(0)))
                    .await
                    .unwrap()
                    .iter()
                    .map(RecordBatch::num_rows)
                    .sum::<usize>(),
                3
            );
        })
        .await;
    }

    #[tokio::test]
    async fn renamed_columns_keep_their_values_and_added_ones_take_the_stored_rows_value() {
        crate::test_support::on_every_storage(|storage, kind| async move {
            println!("storage: {kind}");
            let warehouse = Warehouse::with_storage(storage);
            let table: TableId = "lab.notes".parse().unwrap();
            let at = |lsn| Checkpoint { writer: "cdc".into(), lsn: crate::Lsn(lsn) };
            warehouse
                .apply(&table, change_set(vec![rows(&[1, 2], &[Some("one"), None])], None, false), &at(10))
                .await
                .unwrap();

            // `body` becomes `text`, and `note` arrives with the default 'n/a' for stored rows;
            // the commit also brings a row written after the change.
            let renamed = Arc::new(Schema::new(vec![
                Field::new("id", DataType::Int64, true),
                Field::new("text", DataType::Utf8, true),
                Field::new("note", DataType::Utf8, true),
            ]));
            let after = RecordBatch::try_new(
                renamed.clone(),
                vec![
                    Arc::new(Int64Array::from(vec![3])),
                    Arc::new(StringArray::from(vec!["three"])),
                    Arc::new(StringArray::from(vec![Some("given")])),
                ],
            )
            .unwrap();
            let evolution = Evolution {
                renamed: vec![("body".into(), "text".into())],
                filled: vec![("note".into(), Arc::new(StringArray::from(vec!["n/a"])) as ArrayRef)],
                backfill: None,
            };
            let changes = ChangeSet {
                schema: renamed.clone(),
                key: vec!["id".into()],
                truncate: false,
                inserts: vec![after],
                merges: None,
                evolution: evolution.clone(),
            };
            warehouse.apply(&table, changes.clone(), &at(20)).await.unwrap();
            assert_eq!(contents(&warehouse, &table).await, ["1 one n/a", "2 ∅ n/a", "3 three given"]);

            // Replayed after a crash, the same commit changes nothing more.
            let replay = ChangeSet { inserts: vec![], ..changes };
            warehouse.apply(&table, replay, &at(20)).await.unwrap();
            assert_eq!(contents(&warehouse, &table).await, ["1 one n/a", "2 ∅ n/a", "3 three given"]);

            // A column whose stored rows took values row by row (a volatile default) is
            // backfilled by key; keys the table does not hold are not added.
            let mut fields: Vec<_> = renamed.fields().iter().cloned().collect();
            fields.push(Arc::new(Field::new("rank", DataType::Int64, true)));
            let widened = Arc::new(Schema::new(fields));
            let backfill = RecordBatch::try_new(
                Arc::new(Schema::new(vec![
                    Field::new("id", DataType::Int64, true),
                    Field::new("rank", DataType::Int64, true),
                ])),
                vec![Arc::new(Int64Array::from(vec![1, 3, 9])), Arc::new(Int64Array::from(vec![10, 30, 90]))],
            )
            .unwrap();
            let changes = ChangeSet {
                schema: widened,
                key: vec!["id".into()],
                truncate: false,
                inserts: vec![],
                merges: None,
                evolution: Evolution { backfill: Some(backfill), ..Evolution::default() },
            };
            warehouse.apply(&table, changes, &at(30)).await.unwrap();
            assert_eq!(contents(&warehouse, &table).await, ["1 one n/a 10", "2 ∅ n/a ∅", "3 three given 30"]);
            assert_eq!(warehouse.checkpoint(&table, "cdc").await.unwrap(), Some(crate::Lsn(30)));
        })
        .await;
    }

    /// Merge rows without keep flags: (id, body, delete).
    fn plain_merges(changes: &[(i64, Option<&str>, bool)]) -> RecordBatch {
        let with_keeps =
            merges(&changes.iter().map(|&(id, body, delete)| (id, body, delete, false)).collect::<Vec<_>>());
        with_keeps.project(&[0, 1, 2]).unwrap()
    }

    /// The table's current rows (change log merged), one sorted text line per row.
    async fn current(warehouse: &Warehouse, table: &TableId, at: Option<Snapshot>) -> Vec<String> {
        lines(&warehouse.read(table, at).await.unwrap())
    }

    #[tokio::test]
    async fn replaced_and_deleted_rows_go_to_the_change_log_and_readers_merge_it_until_folded() {
        crate::test_support::on_every_storage(|storage, kind| async move {
            println!("storage: {kind}");
            let warehouse = Warehouse::with_storage(storage);
            let table: TableId = "powertrace.meter_readings".parse().unwrap();
            let at = |lsn: u64| Checkpoint { writer: "cdc".into(), lsn: crate::Lsn(lsn) };

            let first = warehouse
                .apply(
                    &table,
                    change_set(vec![rows(&[1, 2, 3], &[Some("a"), Some("b"), Some("c")])], None, false),
                    &at(10),
                )
                .await
                .unwrap();
            assert_eq!(first, Snapshot { table: Version(0), log: None });

            // Replacements and deletions are logged; the table's own files are untouched.
            let logged = warehouse
                .apply(
                    &table,
                    change_set(
                        vec![],
                        Some(plain_merges(&[(2, Some("B"), false), (3, None, true), (4, Some("d"), false)])),
                        false,
                    ),
                    &at(20),
                )
                .await
                .unwrap();
            assert_eq!(logged, Snapshot { table: Version(0), log: Some(Version(0)) });
            assert_eq!(contents(&warehouse, &table).await, ["1 a", "2 b", "3 c"]);
            assert_eq!(current(&warehouse, &table, None).await, ["1 a", "2 B", "4 d"]);
            assert!(warehouse.log_table(&table).await.unwrap().is_some(), "the change log is a table of its own");
            assert_eq!(warehouse.tables().await.unwrap(), std::slice::from_ref(&table));

            // While the log is live, new rows join it so that the latest change wins.
            warehouse.apply(&table, change_set(vec![rows(&[5], &[Some("e")])], None, false), &at(30)).await.unwrap();
            let fourth = warehouse
                .apply(
                    &table,
                    change_set(vec![], Some(plain_merges(&[(2, Some("zwei"), false), (4, None, true)])), false),
                    &at(40),
                )
                .await
                .unwrap();
            assert_eq!(fourth, Snapshot { table: Version(0), log: Some(Version(2)) });
            assert_eq!(current(&warehouse, &table, None).await, ["1 a", "2 zwei", "5 e"]);
            assert_eq!(warehouse.unfolded(&table).await.unwrap(), 6);
            assert_eq!(warehouse.checkpoint(&table, "cdc").await.unwrap(), Some(crate::Lsn(40)));
            // A pinned snapshot reads what it read then.
            assert_eq!(current(&warehouse, &table, Some(logged)).await, ["1 a", "2 B", "4 d"]);
            assert_eq!(current(&warehouse, &table, Some(first)).await, ["1 a", "2 b", "3 c"]);

            // The fold merges the latest change of each key into the table in one commit.
            let fold = warehouse.fold(&table).await.unwrap().unwrap();
            assert_eq!(fold, crate::Fold { keys: 4, version: Version(1) });
            assert_eq!(contents(&warehouse, &table).await, ["1 a", "2 zwei", "5 e"]);
            assert_eq!(current(&warehouse, &table, None).await, ["1 a", "2 zwei", "5 e"]);
            assert_eq!(warehouse.unfolded(&table).await.unwrap(), 0);
            assert_eq!(warehouse.fold(&table).await.unwrap(), None);
            assert_eq!(current(&warehouse, &table, Some(fourth)).await, ["1 a", "2 zwei", "5 e"]);

            // New rows go straight to the table again; the next replacement starts a fresh log.
            warehouse.apply(&table, change_set(vec![rows(&[6], &[Some("f")])], None, false), &at(50)).await.unwrap();
            warehouse
                .apply(&table, change_set(vec![], Some(plain_merges(&[(1, Some("A"), false)])), false), &at(60))
                .await
                .unwrap();
            assert_eq!(current(&warehouse, &table, None).await, ["1 A", "2 zwei", "5 e", "6 f"]);
            assert_eq!(warehouse.unfolded(&table).await.unwrap(), 1);

            // A truncation supersedes whatever the log still holds.
            let truncated = change_set(vec![rows(&[7], &[Some("g")])], None, true);
            warehouse.apply(&table, truncated, &at(70)).await.unwrap();
            assert_eq!(current(&warehouse, &table, None).await, ["7 g"]);
            assert_eq!(warehouse.fold(&table).await.unwrap(), None);
            assert_eq!(warehouse.checkpoint(&table, "cdc").await.unwrap(), Some(crate::Lsn(70)));

            // A change that keeps an unsent value needs the stored row: the log is folded
            // first and the merge goes to the table.
            warehouse
                .apply(&table, change_set(vec![], Some(plain_merges(&[(7, Some("G"), false)])), false), &at(80))
                .await
                .unwrap();
            let kept = warehouse
                .apply(
                    &table,
                    change_set(vec![], Some(merges(&[(8, Some("h"), false, false), (7, None, false, true)])), false),
                    &at(90),
                )
                .await
                .unwrap();
            assert_eq!(warehouse.unfolded(&table).await.unwrap(), 0);
            assert_eq!(contents(&warehouse, &table).await, ["7 G", "8 h"]);
            assert_eq!(current(&warehouse, &table, Some(kept)).await, ["7 G", "8 h"]);

            // The primary key changes: the log kept by the old key is folded, then replaced
            // by one kept by the new key.
            warehouse
                .apply(&table, change_set(vec![], Some(plain_merges(&[(8, Some("H"), false)])), false), &at(100))
                .await
                .unwrap();
            let mut by_body = change_set(vec![], Some(plain_merges(&[(9, Some("G"), false)])), false);
            by_body.key = vec!["body".into()];
            warehouse.apply(&table, by_body, &at(110)).await.unwrap();
            assert_eq!(contents(&warehouse, &table).await, ["7 G", "8 H"]);
            assert_eq!(current(&warehouse, &table, None).await, ["8 H", "9 G"]);
        })
        .await;
    }

    #[test]
    fn a_retyped_column_converts_exactly_or_names_the_first_value_that_would_change() {
        use deltalake::arrow::array::{ArrayRef, Decimal128Array, Float64Array, Int32Array};
        let table: TableId = "lab.notes".parse().unwrap();
        let convert = |to: DataType, column: ArrayRef| {
            convert_exactly(&table, &Field::new("counter", to, true), &column)
                .map(|converted| lines(&[RecordBatch::try_from_iter([("c", converted)]).unwrap()]).join(","))
                .map_err(|error| error.to_string())
        };
        let integers: ArrayRef = Arc::new(Int32Array::from(vec![Some(7), None, Some(-2)]));
        assert_eq!(convert(DataType::Int64, integers.clone()), Ok("-2,7,∅".to_owned()));
        assert_eq!(convert(DataType::Utf8, integers.clone()), Ok("-2,7,∅".to_owned()));
        let fractions: ArrayRef = Arc::new(Float64Array::from(vec![Some(2.0), Some(2.5), None]));
        assert_eq!(
            convert(DataType::Int32, fractions),
            Err("warehouse table lab.notes.counter: the stored value `2.5` has no exact Int32 form; the column changed type at the source".to_owned())
        );
        let texts: ArrayRef = Arc::new(StringArray::from(vec![Some("12"), Some("douze")]));
        assert_eq!(
            convert(DataType::Int32, texts),
            Err("warehouse table lab.notes.counter: the stored value `douze` has no exact Int32 form; the column changed type at the source".to_owned())
        );
        let decimals: ArrayRef =
            Arc::new(Decimal128Array::from(vec![Some(12_345), Some(-1)]).with_precision_and_scale(8, 3).unwrap());
        assert_eq!(convert(DataType::Decimal128(10, 3), decimals.clone()), Ok("-0.001,12.345".to_owned()));
        assert_eq!(
            convert(DataType::Decimal128(8, 2), decimals),
            Err("warehouse table lab.notes.counter: the stored value `12.345` has no exact Decimal128(8, 2) form; the column changed type at the source".to_owned())
        );
        assert_eq!(
            convert(DataType::Binary, integers),
            Err("warehouse table lab.notes.counter: stored Int32 values have no Binary form; the column changed type at the source".to_owned())
        );
    }
}
