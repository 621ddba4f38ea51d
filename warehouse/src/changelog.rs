//! The change log beside each table: replaced and deleted rows are appended to it (a
//! cheap write whatever the table's size), readers merge it over the table by key, and a
//! fold merges it into the table in one pass, in the background.
//!
//! The log of `<schema>.<table>` is a Delta table of its own at
//! `<root>/_changes/<schema>/<table>`: the table's columns, [`DELETE_COLUMN`], and
//! [`SEQUENCE_COLUMN`], the source position of the commit that wrote the row. Two marks
//! make the pair consistent without a transaction spanning both tables:
//!
//! - each log commit records the position it reached (application transaction
//!   `opsflux-logged`);
//! - each commit of the table that supersedes log rows (a fold, a truncation, or any
//!   change written to the table directly) records the position it covers
//!   (`opsflux-folded`).
//!
//! Log rows at or below the table's folded mark are already in the table and are ignored
//! by readers, so a crash between a fold and the log's clean-up loses and repeats nothing.

use std::fmt;
use std::sync::Arc;

use deltalake::DeltaTable;
use deltalake::arrow::array::RecordBatch;
use deltalake::arrow::datatypes::SchemaRef;
use deltalake::datafusion::prelude::{DataFrame, SessionContext};
use deltalake::kernel::Transaction;
use deltalake::operations::write::SchemaMode;
use deltalake::protocol::SaveMode;
use futures::TryStreamExt;

use crate::changes::DELETE_COLUMN;
use crate::store::{commit_properties, delta};
use crate::{Checkpoint, Lsn, TableId, Version, Warehouse, WarehouseError};

/// In the change log: the source position of the commit that wrote the row.
pub const SEQUENCE_COLUMN: &str = "_opsflux_seq";
/// Where change logs live under the warehouse root (not a schema: it starts with `_`).
pub(crate) const LOG_DIRECTORY: &str = "_changes";
const LOGGED: &str = "opsflux-logged";
const FOLDED: &str = "opsflux-folded";
const KEY_PREFIX: &str = "opsflux change log; key: ";

/// What a reader pins: a version of the table and, when it has one, of its change log.
/// The same snapshot always reads the same rows (within the vacuum retention).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
pub struct Snapshot {
    pub table: Version,
    pub log: Option<Version>,
}

impl fmt::Display for Snapshot {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.log {
            Some(log) => write!(formatter, "{}+log{}", self.table, log.0),
            None => write!(formatter, "{}", self.table),
        }
    }
}

/// What a fold did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Fold {
    /// Keys merged into the table (the latest change of each).
    pub keys: u64,
    /// The table version that holds them.
    pub version: Version,
}

/// The two marks of a table and its log.
#[derive(Debug, Clone, Copy, Default)]
pub(crate) struct Marks {
    /// Log rows at or below this position are in the table.
    pub folded: Option<i64>,
    /// The last position the log holds.
    pub logged: Option<i64>,
}

impl Marks {
    /// Whether the log holds rows the table does not.
    pub fn live(&self) -> bool {
        self.logged.is_some_and(|logged| logged > self.folded.unwrap_or(-1))
    }

    fn floor(&self) -> i64 {
        self.folded.unwrap_or(-1)
    }
}

/// What this process knows of a table it writes, kept after each of its own commits so
/// that routing the next one reads no transaction log. Only one writer writes a table.
#[derive(Debug, Clone)]
pub(crate) struct Known {
    pub marks: Marks,
    /// The key the change log partitions by, once this writer wrote it.
    pub log_key: Option<Vec<String>>,
    pub log_version: Option<u64>,
    pub schema: SchemaRef,
    pub table_version: u64,
}

impl Known {
    pub fn snapshot(&self) -> Snapshot {
        Snapshot { table: Version(self.table_version), log: self.log_version.map(Version) }
    }
}

impl Warehouse {
    /// The marks and log version, read from the table and its log.
    pub(crate) async fn read_marks(
        &self,
        table: &TableId,
        base: &DeltaTable,
    ) -> Result<(Marks, Option<u64>), WarehouseError> {
        let log = self.log_table(table).await?;
        let marks = self.marks(table, base, log.as_ref()).await?;
        Ok((marks, log.and_then(|log| log.version())))
    }

    /// Where a table's change log lives: `_changes/<schema>/<table>` under the root.
    pub(crate) fn change_log_path(table: &TableId) -> String {
        format!("{LOG_DIRECTORY}/{}", table.relative_path())
    }

    /// The URL of a table's change log, for Delta readers.
    pub fn change_log_url(&self, table: &TableId) -> url::Url {
        self.storage().url(&Self::change_log_path(table))
    }

    /// The table's change log, when one was ever written.
    pub(crate) async fn log_table(&self, table: &TableId) -> Result<Option<DeltaTable>, WarehouseError> {
        let path = Self::change_log_path(table);
        if !self.storage().has_commit(&path).await? {
            return Ok(None);
        }
        Ok(Some(self.storage().open_table(table, &path).await?))
    }

    pub(crate) async fn marks(
        &self,
        table: &TableId,
        base: &DeltaTable,
        log: Option<&DeltaTable>,
    ) -> Result<Marks, WarehouseError> {
        let folded = match base.version() {
            Some(_) => transaction(table, base, FOLDED).await?,
            None => None,
        };
        let logged = match log {
            Some(log) => transaction(table, log, LOGGED).await?,
            None => None,
        };
        Ok(Marks { folded, logged })
    }

    /// Appends `rows` (in `schema`: the table's columns and [`DELETE_COLUMN`]) to the log at the
    /// checkpoint's position. A log with nothing live is replaced rather than appended
    /// to, which clears what earlier folds left behind and follows schema changes.
    #[allow(clippy::too_many_arguments)]
    pub(crate) async fn append_to_log(
        &self,
        table: &TableId,
        log: Option<DeltaTable>,
        key: &[String],
        rows: Vec<RecordBatch>,
        schema: &SchemaRef,
        checkpoint: &Checkpoint,
        live: bool,
    ) -> Result<Version, WarehouseError> {
        let arrow_error = |source: deltalake::arrow::error::ArrowError| delta(table, source.into());
        let sequence = lsn_position(checkpoint.lsn);
        let mut fields: Vec<_> = schema.fields().iter().cloned().collect();
        fields.push(Arc::new(deltalake::arrow::datatypes::Field::new(
            SEQUENCE_COLUMN,
            deltalake::arrow::datatypes::DataType::Int64,
            false,
        )));
        let log_schema = Arc::new(deltalake::arrow::datatypes::Schema::new(fields));
        let mut batches = Vec::with_capacity(rows.len());
        for batch in rows {
            let mut columns = batch.columns().to_vec();
            columns.push(Arc::new(deltalake::arrow::array::Int64Array::from_value(sequence, batch.num_rows())));
            batches.push(RecordBatch::try_new(log_schema.clone(), columns).map_err(arrow_error)?);
        }
        if batches.is_empty() {
            batches.push(RecordBatch::new_empty(log_schema));
        }
        let log = match log {
            Some(log) => log,
            None => self.storage().open_table(table, &Self::change_log_path(table)).await?,
        };
        let stored_key = match log.version() {
            Some(_) => log_key(table, &log)?,
            None => None,
        };
        let (mode, schema_mode) = if live && stored_key.as_deref() == Some(key) {
            (SaveMode::Append, SchemaMode::Merge)
        } else {
            (SaveMode::Overwrite, SchemaMode::Overwrite)
        };
        let properties = commit_properties(checkpoint).with_application_transaction(Transaction::new(LOGGED, sequence));
        let written = log
            .write(batches)
            .with_save_mode(mode)
            .with_schema_mode(schema_mode)
            .with_description(format!("{KEY_PREFIX}{}", serde_json::to_string(key).unwrap_or_default()))
            .with_commit_properties(properties)
            .await
            .map_err(|source| delta(table, source))?;
        Ok(Version(written.version().unwrap_or_default()))
    }

    /// Merges the log's live rows into the table (the latest change per key) in one
    /// commit, then drops what the table now holds from the log. Returns `None` when the
    /// log had nothing live.
    pub async fn fold(&self, table: &TableId) -> Result<Option<Fold>, WarehouseError> {
        let lock = self.table_lock(table);
        let _guard = lock.lock().await;
        self.fold_locked(table).await
    }

    /// [`Warehouse::fold`] for a caller that holds the table's lock.
    pub(crate) async fn fold_locked(&self, table: &TableId) -> Result<Option<Fold>, WarehouseError> {
        let mut attempt = 0;
        loop {
            attempt += 1;
            match self.fold_once(table).await {
                Err(WarehouseError::Delta { source, .. }) if attempt < 5 && crate::changes::is_conflict(&source) => {
                    tracing::debug!(%table, attempt, "fold conflict; planning again");
                }
                result => return result,
            }
        }
    }

    async fn fold_once(&self, table: &TableId) -> Result<Option<Fold>, WarehouseError> {
        let Some(log) = self.log_table(table).await? else { return Ok(None) };
        let base = self.delta_table(table).await?;
        let marks = self.marks(table, &base, Some(&log)).await?;
        let (true, Some(logged)) = (marks.live(), marks.logged) else { return Ok(None) };
        let key = log_key(table, &log)?.ok_or_else(|| WarehouseError::NoKey { table: table.to_string() })?;
        let context = SessionContext::new();
        let latest = latest_changes(&context, table, &log, &key, marks.floor()).await?;
        let keys = latest.clone().count().await.map_err(|source| delta(table, source.into()))? as u64;
        let columns: Vec<String> = base_columns(table, &base)?;
        let properties = deltalake::kernel::transaction::CommitProperties::default()
            .with_application_transaction(Transaction::new(FOLDED, logged));
        let started = std::time::Instant::now();
        let merged = if base.version().is_some() {
            crate::changes::merge_by_key(table, base, latest, &key, &columns, |_| false, properties).await?
        } else {
            let rows = latest
                .filter(deltalake::datafusion::prelude::col(DELETE_COLUMN).is_not_true())
                .and_then(|frame| frame.select_columns(&columns.iter().map(String::as_str).collect::<Vec<_>>()))
                .map_err(|source| delta(table, source.into()))?
                .collect()
                .await
                .map_err(|source| delta(table, source.into()))?;
            base.write(rows)
                .with_save_mode(SaveMode::Append)
                .with_commit_properties(properties)
                .await
                .map_err(|source| delta(table, source))?
        };
        let version = Version(merged.version().unwrap_or_default());
        self.update_known(table, |known| {
            known.marks.folded = known.marks.folded.max(Some(logged));
            known.table_version = known.table_version.max(version.0);
        });
        self.count_fold();
        tracing::info!(%table, keys, seconds = started.elapsed().as_secs_f64(), %version, "folded the change log into the table");
        // The log rows the table now holds are dead weight; a failure here (a race with
        // a log append) leaves them for the next fold, and readers ignore them meanwhile.
        let cleared = log
            .delete()
            .with_predicate(
                deltalake::datafusion::prelude::col(SEQUENCE_COLUMN).lt_eq(deltalake::datafusion::prelude::lit(logged)),
            )
            .await;
        if let Err(error) = cleared {
            tracing::debug!(%table, "change log clean-up deferred: {error}");
        }
        Ok(Some(Fold { keys, version }))
    }

    /// The table's current snapshot, if the table exists.
    pub async fn snapshot(&self, table: &TableId) -> Result<Option<Snapshot>, WarehouseError> {
        if !self.contains(table).await? {
            return Ok(None);
        }
        // The log before the table: a fold landing in between only makes the table newer,
        // which raises the folded mark over log rows it already holds.
        let log = self.log_table(table).await?;
        let base = self.delta_table(table).await?;
        let Some(version) = base.version() else { return Ok(None) };
        Ok(Some(Snapshot { table: Version(version), log: log.and_then(|log| log.version()).map(Version) }))
    }

    /// The table's rows as of `at` (the latest snapshot when `None`) as a DataFusion
    /// frame in `context`: the table with the log's live changes merged over it by key.
    pub async fn frame(
        &self,
        context: &SessionContext,
        table: &TableId,
        at: Option<Snapshot>,
    ) -> Result<DataFrame, WarehouseError> {
        // The log before the table (see `snapshot`).
        let mut log = self.log_table(table).await?;
        let mut base = self.delta_table(table).await?;
        if let Some(at) = at {
            load_version(table, &mut base, at.table).await?;
            match (&mut log, at.log) {
                (Some(log), Some(version)) => load_version(table, log, version).await?,
                (None, Some(version)) => {
                    return Err(WarehouseError::NoSuchVersion { table: table.to_string(), version: version.0 });
                }
                (_, None) => log = None,
            }
        } else if base.version().is_none() {
            return Err(WarehouseError::NoSuchVersion { table: table.to_string(), version: 0 });
        }
        let marks = self.marks(table, &base, log.as_ref()).await?;
        let provider = base.table_provider().await.map_err(|source| delta(table, source.into()))?;
        let base_frame = context.read_table(provider).map_err(|source| delta(table, source.into()))?;
        let log = match log {
            Some(log) if marks.live() => log,
            _ => return Ok(base_frame),
        };
        let key = log_key(table, &log)?.ok_or_else(|| WarehouseError::NoKey { table: table.to_string() })?;
        let columns = base_columns(table, &base)?;
        let latest = latest_changes(context, table, &log, &key, marks.floor()).await?;
        let datafusion_error = |source: deltalake::datafusion::error::DataFusionError| delta(table, source.into());
        let changed_keys = latest
            .clone()
            .select(
                key.iter()
                    .map(|column| {
                        deltalake::datafusion::prelude::ident(column).alias(format!("_opsflux_changed_{column}"))
                    })
                    .collect::<Vec<_>>(),
            )
            .map_err(datafusion_error)?;
        let left: Vec<&str> = key.iter().map(String::as_str).collect();
        let right: Vec<String> = key.iter().map(|column| format!("_opsflux_changed_{column}")).collect();
        let right: Vec<&str> = right.iter().map(String::as_str).collect();
        let unchanged = base_frame
            .join(changed_keys, deltalake::datafusion::logical_expr::JoinType::LeftAnti, &left, &right, None)
            .map_err(datafusion_error)?;
        let schema = unchanged.schema().clone();
        let upserted = latest
            .filter(deltalake::datafusion::prelude::col(DELETE_COLUMN).is_not_true())
            .and_then(|frame| {
                frame.select(
                    columns
                        .iter()
                        .map(|column| {
                            let wanted =
                                schema.field_with_unqualified_name(column).map(|field| field.data_type().clone());
                            let expression = deltalake::datafusion::prelude::ident(column);
                            match wanted {
                                Ok(data_type) => {
                                    deltalake::datafusion::prelude::cast(expression, data_type).alias(column)
                                }
                                Err(_) => expression,
                            }
                        })
                        .collect::<Vec<_>>(),
                )
            })
            .map_err(datafusion_error)?;
        unchanged.union(upserted).map_err(datafusion_error)
    }

    /// Every current row of the table as of `at` (the latest when `None`): the table
    /// with its change log merged over it.
    pub async fn read(&self, table: &TableId, at: Option<Snapshot>) -> Result<Vec<RecordBatch>, WarehouseError> {
        let context = SessionContext::new();
        let frame = self.frame(&context, table, at).await?;
        let stream = frame.execute_stream().await.map_err(|source| delta(table, source.into()))?;
        stream.try_collect().await.map_err(|source| delta(table, source.into()))
    }

    /// Changes in the log that the table does not hold yet.
    pub async fn unfolded(&self, table: &TableId) -> Result<u64, WarehouseError> {
        let Some(log) = self.log_table(table).await? else { return Ok(0) };
        let base = self.delta_table(table).await?;
        let marks = self.marks(table, &base, Some(&log)).await?;
        if !marks.live() {
            return Ok(0);
        }
        let context = SessionContext::new();
        let provider = log.table_provider().await.map_err(|source| delta(table, source.into()))?;
        let live = context
            .read_table(provider)
            .and_then(|frame| {
                frame.filter(
                    deltalake::datafusion::prelude::col(SEQUENCE_COLUMN)
                        .gt(deltalake::datafusion::prelude::lit(marks.floor())),
                )
            })
            .map_err(|source| delta(table, source.into()))?;
        Ok(live.count().await.map_err(|source| delta(table, source.into()))? as u64)
    }
}

/// The commit properties of a write to the table itself that supersedes every log row
/// up to the checkpoint.
pub(crate) fn superseding(checkpoint: &Checkpoint) -> deltalake::kernel::transaction::CommitProperties {
    commit_properties(checkpoint).with_application_transaction(Transaction::new(FOLDED, lsn_position(checkpoint.lsn)))
}

/// The latest live change of each key in the log: the table's columns and
/// [`DELETE_COLUMN`].
async fn latest_changes(
    context: &SessionContext,
    table: &TableId,
    log: &DeltaTable,
    key: &[String],
    floor: i64,
) -> Result<DataFrame, WarehouseError> {
    use deltalake::datafusion::functions_window::expr_fn::row_number;
    use deltalake::datafusion::logical_expr::ExprFunctionExt;
    use deltalake::datafusion::prelude::{col, ident, lit};

    let datafusion_error = |source: deltalake::datafusion::error::DataFusionError| delta(table, source.into());
    let provider = log.table_provider().await.map_err(|source| delta(table, source.into()))?;
    let frame = context.read_table(provider).map_err(datafusion_error)?;
    let columns: Vec<String> = frame
        .schema()
        .fields()
        .iter()
        .map(|field| field.name().clone())
        .filter(|name| name != SEQUENCE_COLUMN)
        .collect();
    let rank = row_number()
        .partition_by(key.iter().map(ident).collect())
        .order_by(vec![col(SEQUENCE_COLUMN).sort(false, false)])
        .build()
        .map_err(datafusion_error)?
        .alias("_opsflux_rank");
    frame
        .filter(col(SEQUENCE_COLUMN).gt(lit(floor)))
        .and_then(|frame| frame.window(vec![rank]))
        .and_then(|frame| frame.filter(col("_opsflux_rank").eq(lit(1_u64))))
        .and_then(|frame| frame.select_columns(&columns.iter().map(String::as_str).collect::<Vec<_>>()))
        .map_err(datafusion_error)
}

/// The key columns recorded in the log's description.
pub(crate) fn log_key(table: &TableId, log: &DeltaTable) -> Result<Option<Vec<String>>, WarehouseError> {
    let state = log.snapshot().map_err(|source| delta(table, source))?;
    Ok(state
        .metadata()
        .description()
        .and_then(|description| description.strip_prefix(KEY_PREFIX))
        .and_then(|key| serde_json::from_str(key).ok()))
}

fn base_columns(table: &TableId, base: &DeltaTable) -> Result<Vec<String>, WarehouseError> {
    let state = base.snapshot().map_err(|source| delta(table, source))?;
    Ok(state.snapshot().arrow_schema().fields().iter().map(|field| field.name().clone()).collect())
}

async fn transaction(table: &TableId, delta_table: &DeltaTable, app: &str) -> Result<Option<i64>, WarehouseError> {
    let state = delta_table.snapshot().map_err(|source| delta(table, source))?;
    state.transaction_version(delta_table.log_store().as_ref(), app).await.map_err(|source| delta(table, source))
}

pub(crate) async fn load_version(
    table: &TableId,
    delta_table: &mut DeltaTable,
    Version(wanted): Version,
) -> Result<(), WarehouseError> {
    let no_such_version = || WarehouseError::NoSuchVersion { table: table.to_string(), version: wanted };
    if delta_table.version().is_none_or(|current| wanted > current) {
        return Err(no_such_version());
    }
    delta_table.load_version(wanted).await.map_err(|source| match source {
        deltalake::DeltaTableError::InvalidVersion(_) => no_such_version(),
        other => delta(table, other),
    })
}

/// An LSN as a Delta application transaction version (real LSNs stay far below 2^63).
pub(crate) fn lsn_position(lsn: Lsn) -> i64 {
    i64::try_from(lsn.0).unwrap_or(i64::MAX)
}
