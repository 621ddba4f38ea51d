//! Delta Lake tables under one root directory: `<root>/<schema>/<table>`, each commit a
//! numbered version, each ingest commit stamped with the source position it covers.
//!
//! The position is recorded as a Delta application transaction (`txn` action: an
//! application id and a version number, here the LSN), written atomically with the data
//! it describes. A writer that restarts reads it back and resumes after it, which is how
//! a change is applied exactly once however the process died.

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use std::sync::Arc;

use deltalake::arrow::record_batch::RecordBatch;
use deltalake::kernel::Transaction;
use deltalake::kernel::transaction::CommitProperties;
use deltalake::protocol::SaveMode;
use deltalake::{DeltaTable, DeltaTableError};
use futures::TryStreamExt;

use crate::storage::Storage;
use crate::{Lsn, TableId, Version};

/// Why a warehouse operation failed.
#[derive(Debug, thiserror::Error)]
pub enum WarehouseError {
    #[error("{what} {path}: {source}")]
    Io { what: &'static str, path: PathBuf, source: std::io::Error },
    #[error("warehouse table {table}: {source}")]
    Delta { table: String, source: Box<DeltaTableError> },
    #[error("warehouse table {table}: changes by key need at least one key column")]
    NoKey { table: String },
    /// A column changed type at the source and a stored value has no exact form in the
    /// new type: rewriting it would lose or alter data.
    #[error(
        "warehouse table {table}.{column}: the stored value `{value}` has no exact {to} form; the column changed type at the source"
    )]
    Retype { table: String, column: String, value: String, to: String },
    #[error(
        "warehouse table {table}.{column}: stored {from} values have no {to} form; the column changed type at the source"
    )]
    RetypeUnsupported { table: String, column: String, from: String, to: String },
    #[error("warehouse table {table} has no version {version}")]
    NoSuchVersion { table: String, version: u64 },
    /// A location with a URL scheme the warehouse cannot serve (it would otherwise be
    /// taken as a local directory named after the scheme).
    #[error(
        "`{location}`: the warehouse cannot be stored at `{scheme}://` locations; give a local directory, a `file://` URL or `s3://bucket/prefix`"
    )]
    UnsupportedLocation { location: String, scheme: String },
    #[error("`{location}`: an S3 location names its bucket: `s3://bucket/prefix`")]
    MissingBucket { location: String },
    #[error("warehouse storage: {what} took too long")]
    Timeout { what: &'static str },
    #[error("`{location}`: setting `{setting}`: {reason}")]
    Setting { location: String, setting: String, reason: String },
    #[error("warehouse storage {location}: {what}: {source}")]
    Storage { what: &'static str, location: String, source: object_store::Error },
}

/// Which writer covered which source position, written with the data of a commit.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Checkpoint {
    /// Identifies the writer (one per source database and slot).
    pub writer: String,
    /// The source position this commit brings the table up to.
    pub lsn: Lsn,
}

/// A table's current version and what its data files hold.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TableInfo {
    pub version: Version,
    pub rows: u64,
    pub files: u64,
    pub bytes: u64,
}

/// The warehouse: Delta tables under one root, on a disk or in an object store.
#[derive(Debug, Clone)]
pub struct Warehouse {
    storage: Storage,
    /// One per table: folds and commits to a table's own files take turns, so a fold
    /// never moves the folded mark past a commit it did not see.
    locks: Arc<std::sync::Mutex<HashMap<TableId, Arc<tokio::sync::Mutex<()>>>>>,
    known: Arc<std::sync::Mutex<HashMap<TableId, crate::changelog::Known>>>,
    /// Folds finished by this writer, for commits that did not wait for them.
    folds: Arc<std::sync::atomic::AtomicU64>,
}

impl Warehouse {
    /// Opens (creating when missing) the warehouse at `location`: a local directory, a
    /// `file://` URL or `s3://bucket/prefix` (see [`Storage::open`]).
    pub fn open(location: &Path) -> Result<Self, WarehouseError> {
        Ok(Self::with_storage(Storage::open(location)?))
    }

    /// An empty warehouse in memory, for tests; clones share it.
    pub fn in_memory() -> Self {
        Self::with_storage(Storage::in_memory())
    }

    /// The warehouse kept in `storage`.
    pub fn with_storage(storage: Storage) -> Self {
        Self { storage, locks: Arc::default(), known: Arc::default(), folds: Arc::default() }
    }

    pub(crate) fn storage(&self) -> &Storage {
        &self.storage
    }

    pub(crate) fn count_fold(&self) {
        self.folds.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
    }

    pub(crate) fn folds(&self) -> u64 {
        self.folds.load(std::sync::atomic::Ordering::SeqCst)
    }

    pub(crate) fn take_known(&self, table: &TableId) -> Option<crate::changelog::Known> {
        self.known.lock().unwrap_or_else(std::sync::PoisonError::into_inner).remove(table)
    }

    pub(crate) fn put_known(&self, table: &TableId, known: crate::changelog::Known) {
        self.known.lock().unwrap_or_else(std::sync::PoisonError::into_inner).insert(table.clone(), known);
    }

    pub(crate) fn update_known(&self, table: &TableId, update: impl FnOnce(&mut crate::changelog::Known)) {
        if let Some(known) = self.known.lock().unwrap_or_else(std::sync::PoisonError::into_inner).get_mut(table) {
            update(known);
        }
    }

    pub(crate) fn table_lock(&self, table: &TableId) -> Arc<tokio::sync::Mutex<()>> {
        let mut locks = self.locks.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        locks.entry(table.clone()).or_default().clone()
    }

    /// Where the warehouse is, for people: its directory or URL.
    pub fn location(&self) -> String {
        self.storage.describe()
    }

    /// Where a table lives: `<root>/<schema>/<table>/`, as a URL any Delta reader opens
    /// (`file://` on a local disk).
    pub fn table_url(&self, table: &TableId) -> url::Url {
        self.storage.url(&table.relative_path())
    }

    /// Whether the table has been created: its transaction log holds a first commit.
    pub async fn contains(&self, table: &TableId) -> Result<bool, WarehouseError> {
        self.storage.has_commit(&table.relative_path()).await
    }

    pub(crate) async fn delta_table(&self, table: &TableId) -> Result<DeltaTable, WarehouseError> {
        self.storage.open_table(table, &table.relative_path()).await
    }

    /// Appends `batches` in one commit that also records `checkpoint`; creates the table
    /// from the batches' schema on first use. Returns the new version.
    pub async fn append(
        &self,
        table: &TableId,
        batches: Vec<RecordBatch>,
        checkpoint: &Checkpoint,
    ) -> Result<Version, WarehouseError> {
        let delta_table = self.delta_table(table).await?;
        let written = delta_table
            .write(batches)
            .with_save_mode(SaveMode::Append)
            .with_commit_properties(commit_properties(checkpoint))
            .await
            .map_err(|source| delta(table, source))?;
        Ok(Version(written.version().unwrap_or_default()))
    }

    /// The last source position `writer` committed to the table or its change log, if any.
    pub async fn checkpoint(&self, table: &TableId, writer: &str) -> Result<Option<Lsn>, WarehouseError> {
        if !self.contains(table).await? {
            return Ok(None);
        }
        let mut positions = vec![self.delta_table(table).await?];
        positions.extend(self.log_table(table).await?);
        let mut reached = None;
        for delta_table in &positions {
            let state = delta_table.snapshot().map_err(|source| delta(table, source))?;
            let position = state
                .transaction_version(delta_table.log_store().as_ref(), writer)
                .await
                .map_err(|source| delta(table, source))?;
            reached = reached.max(position.and_then(|position| u64::try_from(position).ok()).map(Lsn));
        }
        Ok(reached)
    }

    /// The table's current version, if it exists.
    pub async fn version(&self, table: &TableId) -> Result<Option<Version>, WarehouseError> {
        if !self.contains(table).await? {
            return Ok(None);
        }
        let delta_table = self.delta_table(table).await?;
        Ok(delta_table.version().map(Version))
    }

    /// The table's version, row count and data files, from its log alone (no data read).
    pub async fn describe(&self, table: &TableId) -> Result<Option<TableInfo>, WarehouseError> {
        if !self.contains(table).await? {
            return Ok(None);
        }
        let delta_table = self.delta_table(table).await?;
        let Some(version) = delta_table.version() else { return Ok(None) };
        let state = delta_table.snapshot().map_err(|source| delta(table, source))?;
        let mut info = TableInfo { version: Version(version), rows: 0, files: 0, bytes: 0 };
        for file in state.log_data().iter() {
            info.files += 1;
            info.bytes += u64::try_from(file.size()).unwrap_or(0);
            info.rows += file.num_records().unwrap_or(0) as u64;
        }
        Ok(Some(info))
    }

    /// Every row of the table's own files as of `version` (the latest when `None`),
    /// without its change log: what an independent Delta reader sees.
    pub async fn scan(&self, table: &TableId, version: Option<Version>) -> Result<Vec<RecordBatch>, WarehouseError> {
        let mut delta_table = self.delta_table(table).await?;
        if let Some(version) = version {
            crate::changelog::load_version(table, &mut delta_table, version).await?;
        }
        let (_, stream) = delta_table.scan_table().await.map_err(|source| delta(table, source))?;
        stream.try_collect().await.map_err(|source| delta(table, DeltaTableError::from(source)))
    }
}

/// Commit properties recording `checkpoint` as the writer's application transaction.
pub(crate) fn commit_properties(checkpoint: &Checkpoint) -> CommitProperties {
    // An LSN is a 64-bit unsigned position; real ones stay far below 2^63.
    let position = i64::try_from(checkpoint.lsn.0).unwrap_or(i64::MAX);
    CommitProperties::default().with_application_transaction(Transaction::new(&checkpoint.writer, position))
}

pub(crate) fn delta(table: &TableId, source: DeltaTableError) -> WarehouseError {
    WarehouseError::Delta { table: table.to_string(), source: Box::new(source) }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use deltalake::arrow::array::{Int64Array, StringArray};
    use deltalake::arrow::datatypes::{DataType, Field, Schema};

    use super::*;

    #[test]
    fn a_location_with_a_scheme_it_cannot_serve_is_refused_by_name() {
        let error = Warehouse::open(Path::new("gs://bucket/prefix")).unwrap_err();
        assert_eq!(
            error.to_string(),
            "`gs://bucket/prefix`: the warehouse cannot be stored at `gs://` locations; give a local directory, a `file://` URL or `s3://bucket/prefix`"
        );
        assert!(!Path::new("gs:").exists(), "no local directory named after the scheme");
        let error = Warehouse::open(Path::new("s3:///prefix")).unwrap_err();
        assert_eq!(error.to_string(), "`s3:///prefix`: an S3 location names its bucket: `s3://bucket/prefix`");
        // Credentials in the URL are refused without being repeated, even when the
        // secret makes the URL unparsable.
        let error = Warehouse::open(Path::new("s3://AKID:abc/def@bucket/p?token=x")).unwrap_err();
        assert_eq!(
            error.to_string(),
            "`s3://bucket/p`: setting `credentials`: give them in AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY, not in the URL"
        );
        let warehouse = Warehouse::open(Path::new("s3://bucket/p?secret=x")).unwrap();
        assert_eq!(warehouse.location(), "s3://bucket/p", "a query is dropped, never shown");
        let directory = tempfile::tempdir().unwrap();
        let url = format!("file://{}", directory.path().join("w").display());
        let warehouse = Warehouse::open(Path::new(&url)).unwrap();
        assert_eq!(warehouse.location(), directory.path().join("w").display().to_string());
        assert_eq!(
            warehouse.table_url(&"pob.stays".parse().unwrap()).to_file_path().unwrap(),
            directory.path().join("w/pob/stays")
        );
    }

    fn batch(ids: &[i64], names: &[&str]) -> RecordBatch {
        let schema = Arc::new(Schema::new(vec![
            Field::new("id", DataType::Int64, false),
            Field::new("name", DataType::Utf8, true),
        ]));
        RecordBatch::try_new(
            schema,
            vec![Arc::new(Int64Array::from(ids.to_vec())), Arc::new(StringArray::from(names.to_vec()))],
        )
        .unwrap()
    }

    fn rows(batches: &[RecordBatch]) -> Vec<(i64, String)> {
        let mut rows = Vec::new();
        for batch in batches {
            let ids = batch.column(0).as_any().downcast_ref::<Int64Array>().unwrap();
            // Scans may hand strings back as views; compare them as plain strings.
            let names = deltalake::arrow::compute::cast(batch.column(1), &DataType::Utf8).unwrap();
            let names = names.as_any().downcast_ref::<StringArray>().unwrap();
            for index in 0..batch.num_rows() {
                rows.push((ids.value(index), names.value(index).to_owned()));
            }
        }
        rows.sort();
        rows
    }

    #[tokio::test]
    async fn a_table_whose_creation_was_interrupted_is_created_again() {
        let directory = tempfile::tempdir().unwrap();
        let warehouse = Warehouse::open(directory.path()).unwrap();
        let table: TableId = "hse.investigations".parse().unwrap();
        // What a process killed inside its first commit leaves: the log directory and a
        // temporary file, but no numbered commit.
        let log = directory.path().join("hse/investigations/_delta_log");
        std::fs::create_dir_all(&log).unwrap();
        std::fs::write(log.join("_commit_5f3a.json.tmp"), b"{").unwrap();

        assert!(!warehouse.contains(&table).await.unwrap());
        assert_eq!(warehouse.checkpoint(&table, "cdc").await.unwrap(), None);
        assert_eq!(warehouse.version(&table).await.unwrap(), None);
        assert!(warehouse.describe(&table).await.unwrap().is_none());
        let checkpoint = Checkpoint { writer: "cdc".into(), lsn: "0/16B3748".parse().unwrap() };
        assert_eq!(warehouse.append(&table, vec![batch(&[1], &["a"])], &checkpoint).await.unwrap(), Version(0));
        assert!(warehouse.contains(&table).await.unwrap());
        assert_eq!(warehouse.checkpoint(&table, "cdc").await.unwrap(), Some(checkpoint.lsn));
    }

    #[tokio::test]
    async fn commits_are_versions_that_carry_the_writers_position() {
        crate::test_support::on_every_storage(|storage, kind| async move {
            println!("storage: {kind}");
            let warehouse = Warehouse::with_storage(storage.clone());
            let table: TableId = "pob.stays".parse().unwrap();
            assert_eq!(warehouse.checkpoint(&table, "cdc").await.unwrap(), None);
            assert_eq!(warehouse.version(&table).await.unwrap(), None);

            let first = Checkpoint { writer: "cdc".into(), lsn: "0/16B3748".parse().unwrap() };
            let second = Checkpoint { writer: "cdc".into(), lsn: "0/16B9000".parse().unwrap() };
            assert_eq!(warehouse.append(&table, vec![batch(&[1, 2], &["a", "b"])], &first).await.unwrap(), Version(0));
            assert_eq!(warehouse.append(&table, vec![batch(&[3], &["c"])], &second).await.unwrap(), Version(1));

            // A new process sees the same position and both versions.
            let reopened = Warehouse::with_storage(storage);
            assert_eq!(reopened.checkpoint(&table, "cdc").await.unwrap(), Some(second.lsn));
            assert_eq!(reopened.checkpoint(&table, "another-writer").await.unwrap(), None);
            assert_eq!(reopened.version(&table).await.unwrap(), Some(Version(1)));
            let at_first = reopened.scan(&table, Some(Version(0))).await.unwrap();
            assert_eq!(rows(&at_first), [(1, "a".to_owned()), (2, "b".to_owned())]);
            let latest = reopened.scan(&table, None).await.unwrap();
            assert_eq!(rows(&latest).len(), 3);
            let error = reopened.scan(&table, Some(Version(9))).await.unwrap_err();
            assert!(matches!(error, WarehouseError::NoSuchVersion { version: 9, .. }), "{error}");
        })
        .await;
    }
}
