//! The capture loop: preflight checks, the initial copy under the slot's exported
//! snapshot, then the change stream applied to the warehouse in commit order, with
//! reconnection and backoff when the source goes away.
//!
//! Exactly once: every warehouse commit records (as its Delta application transaction)
//! the end position of the last source transaction it contains, and the slot is told
//! that position only after the commit is durable. On restart the stream resumes from
//! the slot's confirmed position and skips, per table, the transactions the table's own
//! record says it already holds.

use std::collections::{BTreeMap, HashMap, HashSet, VecDeque};
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use futures::future::BoxFuture;
use futures::stream::FuturesUnordered;
use futures::{StreamExt, TryStreamExt};
use opsflux_warehouse::{Checkpoint, Fold, RecordedSchemaChange, SchemaChange, SourceColumn, TableId, Warehouse};
use pgwire_replication::{ReplicationClient, ReplicationEvent};
use sqlx::PgConnection;
use tokio::sync::watch;

use crate::changes::{TableChanges, TableShape};
use crate::evolve;
use crate::pgoutput::{self, Message};
use crate::rows::arrow_schema;
use crate::snapshot::{BlockRange, SourceTable, copy_chunk, plan_chunks};
use crate::source::{self, Source};
use crate::{IngestError, Lsn, ReplicationNames};

/// The prefix of the logical messages ingestion writes as heartbeats.
pub const HEARTBEAT_PREFIX: &str = "opsflux.heartbeat";

/// How ingestion runs. Defaults suit a site server; every field has a CLI flag.
#[derive(Debug, Clone)]
pub struct IngestOptions {
    pub names: ReplicationNames,
    /// Longest time received changes wait before they are committed.
    pub commit_interval: Duration,
    /// Received changes that trigger a commit before `commit_interval` is up.
    pub max_batch_changes: u64,
    /// Sessions copying the initial snapshot in parallel.
    pub snapshot_workers: usize,
    /// Rows per chunk of a large table's initial copy.
    pub rows_per_chunk: u64,
    /// Rows held in memory per copy session before they are written.
    pub rows_per_commit: usize,
    /// How often a heartbeat is written to the source's WAL.
    pub heartbeat_interval: Duration,
    /// Stop once everything committed before the start is in the warehouse.
    pub until_caught_up: bool,
    /// Longest wait between reconnection attempts.
    pub max_backoff: Duration,
    /// How often tables are checked for compaction and vacuum.
    pub maintenance_interval: Duration,
    /// How often the source is checked for tables created or dropped while streaming.
    pub discover_interval: Duration,
    /// Data files a table has before it is compacted.
    pub compaction_min_files: u64,
    /// Size of the files compaction writes.
    pub compaction_target_bytes: u64,
    /// How long replaced data files are kept for readers of older versions.
    pub vacuum_retention: Duration,
}

impl Default for IngestOptions {
    fn default() -> Self {
        Self {
            names: ReplicationNames::default(),
            commit_interval: Duration::from_millis(500),
            max_batch_changes: 200_000,
            snapshot_workers: 2,
            rows_per_chunk: 1_000_000,
            rows_per_commit: 250_000,
            heartbeat_interval: Duration::from_secs(30),
            until_caught_up: false,
            max_backoff: Duration::from_secs(30),
            maintenance_interval: Duration::from_secs(60),
            discover_interval: Duration::from_secs(10),
            compaction_min_files: 16,
            compaction_target_bytes: 128 << 20,
            vacuum_retention: Duration::from_secs(7 * 24 * 3600),
        }
    }
}

/// One warehouse commit round: every table changed since the previous one.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CommitReport {
    /// The source position the warehouse now holds.
    pub lsn: Lsn,
    pub tables: usize,
    /// Source row changes received (before folding to one per key).
    pub changes: u64,
    pub transactions: u64,
    /// Commit time of the newest source transaction included (microseconds since the
    /// Unix epoch), for lag.
    pub source_commit_unix_micros: Option<i64>,
    /// Commit time of the oldest source transaction included: the one that waited longest.
    pub oldest_source_commit_unix_micros: Option<i64>,
}

/// Told what ingestion does, for progress bars and metrics. Every method defaults to
/// nothing.
pub trait Observer: Send + Sync {
    fn snapshot_started(&self, _tables: usize, _estimated_rows: u64) {}
    fn snapshot_rows(&self, _rows: u64) {}
    fn snapshot_finished(&self, _rows: u64, _elapsed: Duration) {}
    fn committed(&self, _report: &CommitReport) {}
    fn caught_up(&self, _lsn: Lsn) {}
    /// A table's change log was merged into its files.
    fn folded(&self, _table: &TableId, _fold: &Fold) {}
    /// A session ended with an error worth retrying; the next attempt is in `delay`.
    fn retrying(&self, _error: &IngestError, _delay: Duration) {}
    /// Capture is stopped or held back by `error` (the warehouse records it too), or,
    /// with `None`, it works again: connected after a connection problem, or committed
    /// past the change a data problem stopped at.
    fn problem(&self, _error: Option<&IngestError>) {}
}

/// An observer that only logs.
#[derive(Debug, Default)]
pub struct LogObserver;

impl Observer for LogObserver {}

/// What a session achieved, which may end a recorded problem.
#[derive(Debug, Clone, Copy)]
enum Progress {
    Streaming,
    Committed(Lsn),
}

/// How a run ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    /// Everything committed before the start is in the warehouse (`until_caught_up`).
    CaughtUp { lsn: Lsn },
    /// Asked to stop.
    Stopped,
}

/// Captures one source database into one warehouse.
pub struct Ingestor {
    source: Source,
    warehouse: Warehouse,
    options: IngestOptions,
    observer: Arc<dyn Observer>,
    /// The problem recorded in the warehouse, until it is over.
    problem: Mutex<Option<Standing>>,
    /// The furthest source position a session received.
    reached: AtomicU64,
}

/// What ends a recorded problem.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Standing {
    /// Streaming starts again.
    Connection,
    /// A commit beyond this position: the change that failed is in.
    Data { at: Lsn },
}

impl std::fmt::Debug for Ingestor {
    fn fmt(&self, formatter: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        formatter
            .debug_struct("Ingestor")
            .field("source", &self.source.describe())
            .field("warehouse", &self.warehouse.location())
            .field("options", &self.options)
            .finish_non_exhaustive()
    }
}

impl Ingestor {
    pub fn new(source: Source, warehouse: Warehouse, options: IngestOptions, observer: Arc<dyn Observer>) -> Self {
        Self { source, warehouse, options, observer, problem: Mutex::new(None), reached: AtomicU64::new(0) }
    }

    /// Runs until caught up (with `until_caught_up`), until `stop` turns true, or until
    /// an error that retrying cannot fix. A source that cannot be reached is retried with
    /// a growing delay, each attempt logged.
    pub async fn run(&self, mut stop: watch::Receiver<bool>) -> Result<Outcome, IngestError> {
        // A problem left by an earlier run is over once this one commits anything.
        if matches!(self.warehouse.problem(self.options.names.slot()).await, Ok(Some(_))) {
            self.problem
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner)
                .get_or_insert(Standing::Data { at: Lsn(0) });
        }
        let maintenance = tokio::spawn(maintain(self.warehouse.clone(), self.options.clone(), stop.clone()));
        let outcome = self.capture(&mut stop).await;
        maintenance.abort();
        if let Ok(Outcome::CaughtUp { .. }) = &outcome {
            // Leave each table whole in its own files, for readers that do not know the
            // change log (any Delta reader).
            for table in self.warehouse.tables().await? {
                if let Some(fold) = self.warehouse.fold(&table).await? {
                    self.observer.folded(&table, &fold);
                }
            }
        }
        outcome
    }

    async fn capture(&self, stop: &mut watch::Receiver<bool>) -> Result<Outcome, IngestError> {
        let mut backoff = Duration::from_secs(1);
        loop {
            match self.session(stop, &mut backoff).await {
                Ok(outcome) => return Ok(outcome),
                Err(error) if error.is_transient() || error.is_data() => {
                    tracing::warn!("{error}; retrying in {} s", backoff.as_secs());
                    self.record_problem(&error).await;
                    self.observer.retrying(&error, backoff);
                    tokio::select! {
                        _ = tokio::time::sleep(backoff) => {}
                        _ = stopped(stop) => return Ok(Outcome::Stopped),
                    }
                    backoff = (backoff * 2).min(self.options.max_backoff);
                }
                Err(error) => {
                    self.record_problem(&error).await;
                    return Err(error);
                }
            }
        }
    }

    /// Records `error` in the warehouse and tells the observer.
    async fn record_problem(&self, error: &IngestError) {
        let standing = if error.is_data() {
            Standing::Data { at: Lsn(self.reached.load(Ordering::SeqCst)) }
        } else {
            Standing::Connection
        };
        *self.problem.lock().unwrap_or_else(std::sync::PoisonError::into_inner) = Some(standing);
        // Bounded: a storage that does not answer must not hold the retry back.
        let (text, summary) = (error.to_string(), error.summary());
        let recording = self.warehouse.record_problem(self.options.names.slot(), &text, &summary);
        match tokio::time::timeout(Duration::from_secs(10), recording).await {
            Ok(Ok(_)) => {}
            Ok(Err(failure)) => tracing::warn!("cannot record the capture problem in the warehouse: {failure}"),
            Err(_) => tracing::warn!("cannot record the capture problem in the warehouse: no answer within 10 s"),
        }
        self.observer.problem(Some(error));
    }

    /// Clears the recorded problem when `progress` ends it.
    async fn progress(&self, progress: Progress) {
        let over = {
            let mut problem = self.problem.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
            let over = match (*problem, progress) {
                (Some(Standing::Connection), _) => true,
                (Some(Standing::Data { at }), Progress::Committed(lsn)) => lsn > at,
                _ => false,
            };
            if over {
                *problem = None;
            }
            over
        };
        if over {
            if let Err(failure) = self.warehouse.clear_problem(self.options.names.slot()).await {
                tracing::warn!("cannot clear the capture problem in the warehouse: {failure}");
            }
            tracing::info!("change capture works again");
            self.observer.problem(None);
        }
    }

    async fn session(&self, stop: &mut watch::Receiver<bool>, backoff: &mut Duration) -> Result<Outcome, IngestError> {
        let names = &self.options.names;
        let writer = names.slot().to_owned();
        let mut connection = self.source.connect().await?;
        source::check_prerequisites(&mut connection).await?;
        let (tables, skipped) = source::discover(&mut connection).await?;
        if tables.is_empty() {
            return Err(IngestError::NothingToCapture { source_database: self.source.describe() });
        }
        source::ensure_publication(&mut connection, names, &tables).await?;

        let mut checkpoints = HashMap::new();
        for table in &tables {
            if let Some(lsn) = self.warehouse.checkpoint(&table.id, &writer).await? {
                checkpoints.insert(table.id.clone(), lsn);
            }
        }
        let slot = source::slot_state(&mut connection, names.slot()).await?;
        if let Some(slot) = &slot {
            if slot.plugin != "pgoutput" || slot.database != self.source.database() {
                return Err(IngestError::SlotMismatch {
                    slot: names.slot().to_owned(),
                    found: format!("plugin `{}` on database `{}`", slot.plugin, slot.database),
                });
            }
            if slot.active {
                return Err(IngestError::SlotInUse { slot: names.slot().to_owned() });
            }
        }
        // A table holds a finished copy when its checkpoint is at or after the copies'
        // origin (the slot's start); an older one is a copy whose replacement was cut.
        let origin = self.warehouse.copy_origin(&writer).await?;
        let unfinished: Vec<TableId> = tables
            .iter()
            .filter(|table| origin.is_none_or(|origin| checkpoints.get(&table.id).is_none_or(|lsn| *lsn < origin)))
            .map(|table| table.id.clone())
            .collect();

        let mut client = self.source.replication_client(names, Duration::from_secs(1)).await?;
        if slot.is_none() || origin.is_none() {
            if slot.is_some() {
                tracing::info!(
                    slot = names.slot(),
                    "the warehouse does not say where its copies start: copying everything again; readers keep the current tables until each copy is finished"
                );
                source::drop_slot(&mut connection, names.slot()).await?;
            }
            let (consistent_point, snapshot_name) = self
                .create_slot(
                    &mut client,
                    &format!("CREATE_REPLICATION_SLOT {} LOGICAL pgoutput (SNAPSHOT 'export')", names.slot()),
                )
                .await?;
            tracing::info!(slot = names.slot(), %consistent_point, "created the replication slot; copying the tables");
            self.warehouse.record_copy_origin(&writer, consistent_point).await?;
            if !self.copy_all(&tables, &snapshot_name, consistent_point, stop).await? {
                tracing::info!("stopped during the initial copy; the next start copies again");
                return Ok(Outcome::Stopped);
            }
            checkpoints = tables.iter().map(|table| (table.id.clone(), consistent_point)).collect();
        } else if !unfinished.is_empty() {
            tracing::info!(
                "copying the tables without a finished copy (new, or their copy was interrupted) while the slot keeps their changes: {}; readers keep the current tables until each copy is finished",
                unfinished.iter().map(ToString::to_string).collect::<Vec<_>>().join(", ")
            );
            let mut copy = self.begin_table_copy(&unfinished).await?;
            let copied = self.copy_all(&copy.tables, &copy.snapshot, copy.point, stop).await;
            copy.client.abort();
            if !copied? {
                tracing::info!("stopped during a copy; the next start copies the unfinished tables again");
                return Ok(Outcome::Stopped);
            }
            for table in &copy.tables {
                checkpoints.insert(table.id.clone(), copy.point);
            }
        }
        // What the warehouse holds of each table's columns: the latest recorded shape, or
        // the catalog's for a table without one.
        let mut known: HashMap<TableId, Vec<SourceColumn>> = tables
            .iter()
            .map(|table| {
                let columns = table
                    .columns
                    .iter()
                    .zip(&table.attnums)
                    .map(|(column, attnum)| evolve::source_column(column, *attnum))
                    .collect();
                (table.id.clone(), columns)
            })
            .collect();
        let history = self.warehouse.schema_changes().await?;
        for record in &history {
            if record.writer == writer {
                known.insert(record.change.table.clone(), record.change.columns.clone());
            }
        }
        self.mark_dropped(&tables, &history).await?;
        client.start().await.map_err(|error| self.source.replication_error(error))?;
        client.wait_started().await.map_err(|error| self.source.replication_error(error))?;
        *backoff = Duration::from_secs(1);
        self.progress(Progress::Streaming).await;
        let target =
            if self.options.until_caught_up { Some(source::emit_heartbeat(&mut connection).await?) } else { None };
        tracing::info!(slot = names.slot(), target = ?target.map(|lsn| lsn.to_string()), "streaming changes");
        let mut stream = Stream {
            ingestor: self,
            client,
            connection,
            writer,
            checkpoints,
            relations: HashMap::new(),
            known,
            captured: tables.iter().map(|table| table.id.clone()).collect(),
            skipped: skipped.into_iter().map(|table| table.name).collect(),
            copying: HashMap::new(),
            settling: HashMap::new(),
            copies: FuturesUnordered::new(),
            pending: BTreeMap::new(),
            transaction: None,
            last_end: None,
            pending_since: None,
            pending_changes: 0,
            pending_transactions: 0,
            last_commit_time: None,
            first_commit_time: None,
            reached: Lsn(0),
            in_flight: None,
            deferred_ack: None,
        };
        let outcome = stream.run(target, stop).await;
        self.reached.fetch_max(stream.reached.0, Ordering::SeqCst);
        stream.abandon().await;
        outcome
    }

    /// Records, once, each table this writer captured that the source no longer has: it
    /// stays in the warehouse, readable at its last version.
    async fn mark_dropped(&self, tables: &[SourceTable], history: &[RecordedSchemaChange]) -> Result<(), IngestError> {
        let writer = self.options.names.slot();
        let source_tables: Vec<TableId> = tables.iter().map(|table| table.id.clone()).collect();
        let mut records = Vec::new();
        for table in crate::status::dropped_tables(&self.warehouse, &source_tables, writer).await? {
            let last = history.iter().rev().find(|record| record.writer == writer && record.change.table == table);
            if last.is_some_and(|record| record.change.change == "table dropped") {
                continue;
            }
            let lsn = self.warehouse.checkpoint(&table, writer).await?.unwrap_or_default();
            let version = self.warehouse.version(&table).await?.map(|version| version.to_string()).unwrap_or_default();
            tracing::info!(%table, "dropped at the source; kept readable at its last version {version}");
            records.push(SchemaChange {
                table,
                lsn,
                change: "table dropped".into(),
                detail: format!("dropped at the source; kept readable at version {version}"),
                columns: last.map(|record| record.change.columns.clone()).unwrap_or_default(),
            });
        }
        self.warehouse.record_schema_changes(writer, &records).await?;
        Ok(())
    }

    /// Creates a replication slot with `statement` on `client`; returns its consistent
    /// point and the name of the snapshot it exports.
    async fn create_slot(&self, client: &mut ReplicationClient, statement: &str) -> Result<(Lsn, String), IngestError> {
        let rows = client.simple_query(statement).await.map_err(|error| self.source.replication_error(error))?;
        let field = |index: usize| {
            rows.first()
                .and_then(|row| row.get(index).cloned().flatten())
                .map(|bytes| String::from_utf8_lossy(&bytes).into_owned())
                .ok_or_else(|| IngestError::Replication {
                    source_database: self.source.describe(),
                    reason: format!("CREATE_REPLICATION_SLOT returned no column {index}"),
                })
        };
        let consistent_point: Lsn = field(1)?.parse().map_err(|_| IngestError::Replication {
            source_database: self.source.describe(),
            reason: "CREATE_REPLICATION_SLOT returned a malformed position".into(),
        })?;
        Ok((consistent_point, field(2)?))
    }

    /// Prepares a copy of `wanted` consistent with the stream, as PostgreSQL's own table
    /// synchronisation does: a temporary slot exports a snapshot holding exactly the
    /// transactions that commit before its consistent point, so the stream's changes to
    /// these tables from that point on apply on top of the copy. The tables are read as
    /// the snapshot sees them (one dropped since is left out).
    async fn begin_table_copy(&self, wanted: &[TableId]) -> Result<TableCopy, IngestError> {
        static COPIES: AtomicU64 = AtomicU64::new(0);
        let slot = self.options.names.slot();
        let number = u64::from(std::process::id()) << 20 | COPIES.fetch_add(1, Ordering::Relaxed) & 0xf_ffff;
        let temporary = format!("{}_copy_{number:x}", &slot[..slot.len().min(40)]);
        let mut client = self.source.replication_client(&self.options.names, Duration::from_secs(10)).await?;
        let created = self
            .create_slot(
                &mut client,
                &format!("CREATE_REPLICATION_SLOT {temporary} TEMPORARY LOGICAL pgoutput (SNAPSHOT 'export')"),
            )
            .await;
        let (point, snapshot) = match created {
            Ok(created) => created,
            Err(error) => {
                client.abort();
                return Err(error);
            }
        };
        let mut connection = self.source.connect().await?;
        let tables = async {
            import_snapshot(&mut connection, &snapshot).await?;
            let (tables, _) = crate::snapshot::discover_tables(&mut connection).await?;
            Ok::<_, IngestError>(tables)
        }
        .await;
        source::close(connection).await;
        let tables = match tables {
            Ok(tables) => tables.into_iter().filter(|table| wanted.contains(&table.id)).collect(),
            Err(error) => {
                client.abort();
                return Err(error);
            }
        };
        Ok(TableCopy { client, point, snapshot, tables })
    }

    /// Copies every table as of the exported snapshot, in parallel chunks, each beside
    /// the table it replaces: once all its chunks are in, one commit swaps it in and
    /// stamps `consistent_point`, so readers see the previous rows until then and a
    /// table without that stamp is an unfinished copy. Returns `false` when stopped
    /// before the end.
    async fn copy_all(
        &self,
        tables: &[SourceTable],
        snapshot_name: &str,
        consistent_point: Lsn,
        stop: &watch::Receiver<bool>,
    ) -> Result<bool, IngestError> {
        let started = Instant::now();
        let writer = self.options.names.slot().to_owned();
        let mut planning = self.source.connect().await?;
        let mut queue = VecDeque::new();
        let mut remaining = Vec::new();
        let mut estimated_total = 0;
        for (index, table) in tables.iter().enumerate() {
            let (ranges, estimated_rows) = plan_chunks(&mut planning, table, self.options.rows_per_chunk).await?;
            estimated_total += estimated_rows;
            remaining.push(AtomicUsize::new(ranges.len()));
            queue.extend(ranges.into_iter().map(|range| (index, range)));
            self.warehouse.begin_copy(&table.id, arrow_schema(&table.columns)).await?;
        }
        source::close(planning).await;
        self.observer.snapshot_started(tables.len(), estimated_total);
        let work = Arc::new(CopyWork {
            source: self.source.clone(),
            warehouse: self.warehouse.clone(),
            tables: tables.to_vec(),
            queue: Mutex::new(queue),
            remaining,
            done: Checkpoint { writer, lsn: consistent_point },
            snapshot_name: snapshot_name.to_owned(),
            rows_per_commit: self.options.rows_per_commit,
            copied: AtomicU64::new(0),
            observer: Arc::clone(&self.observer),
        });
        // A set aborts its workers when dropped: a copy given up (stopped, or its
        // session ended) writes nothing more.
        let mut workers = tokio::task::JoinSet::new();
        for _ in 0..self.options.snapshot_workers.max(1) {
            let work = Arc::clone(&work);
            workers.spawn(async move { work.run_worker().await });
        }
        let mut stop = stop.clone();
        let all = async {
            while let Some(finished) = workers.join_next().await {
                finished.map_err(|error| IngestError::Internal(format!("a copy worker failed: {error}")))??;
            }
            Ok::<_, IngestError>(())
        };
        tokio::select! {
            result = all => result?,
            _ = stopped(&mut stop) => return Ok(false),
        }
        let copied = work.copied.load(Ordering::Relaxed);
        // The columns each copy holds, numbered: what later changes are compared with.
        let records: Vec<SchemaChange> = tables
            .iter()
            .map(|table| SchemaChange {
                table: table.id.clone(),
                lsn: consistent_point,
                change: "copied".into(),
                detail: format!("{} columns", table.columns.len()),
                columns: table
                    .columns
                    .iter()
                    .zip(&table.attnums)
                    .map(|(column, attnum)| evolve::source_column(column, *attnum))
                    .collect(),
            })
            .collect();
        self.warehouse.record_schema_changes(self.options.names.slot(), &records).await?;
        self.observer.snapshot_finished(copied, started.elapsed());
        tracing::info!(rows = copied, seconds = started.elapsed().as_secs_f64(), "initial copy finished");
        Ok(true)
    }
}

/// A copy of some tables under a temporary slot's snapshot, which lives as long as
/// `client` is open and idle.
struct TableCopy {
    client: ReplicationClient,
    point: Lsn,
    snapshot: String,
    tables: Vec<SourceTable>,
}

/// Starts a read-only transaction on `connection` that sees the exported `snapshot`.
async fn import_snapshot(connection: &mut PgConnection, snapshot: &str) -> Result<(), IngestError> {
    let begin = format!(
        "BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY; SET TRANSACTION SNAPSHOT '{}'",
        snapshot.replace('\'', "''")
    );
    sqlx::raw_sql(sqlx::AssertSqlSafe(begin))
        .execute(connection)
        .await
        .map_err(|source| IngestError::Source { what: "importing the replication slot's snapshot".into(), source })?;
    Ok(())
}

/// Folds change logs into their tables, compacts tables with many small files and
/// vacuums what compaction replaced, every `maintenance_interval`, next to ingestion
/// (each is its own Delta commit).
async fn maintain(warehouse: Warehouse, options: IngestOptions, mut stop: watch::Receiver<bool>) {
    loop {
        tokio::select! {
            _ = tokio::time::sleep(options.maintenance_interval) => {}
            _ = stopped(&mut stop) => return,
        }
        let tables = match warehouse.tables().await {
            Ok(tables) => tables,
            Err(error) => {
                tracing::warn!("maintenance cannot list the warehouse: {error}");
                continue;
            }
        };
        for table in tables {
            if let Err(error) = warehouse.fold(&table).await {
                tracing::warn!(%table, "folding the change log failed (retried next round): {error}");
            }
            let Ok(Some(info)) = warehouse.describe(&table).await else { continue };
            if info.files < options.compaction_min_files
                || info.bytes / info.files.max(1) > options.compaction_target_bytes / 4
            {
                continue;
            }
            match warehouse.compact(&table, options.compaction_target_bytes).await {
                Ok(done) if done.files_removed > 0 => {
                    tracing::info!(%table, removed = done.files_removed, added = done.files_added, "compacted");
                    match warehouse.vacuum(&table, options.vacuum_retention).await {
                        Ok(vacuum) if vacuum.files_deleted > 0 => {
                            tracing::info!(%table, deleted = vacuum.files_deleted, "vacuumed");
                        }
                        Ok(_) => {}
                        Err(error) => tracing::warn!(%table, "vacuum failed: {error}"),
                    }
                }
                Ok(_) => {}
                // A race with an ingest commit: the next round tries again.
                Err(error) => tracing::warn!(%table, "compaction failed (retried next round): {error}"),
            }
        }
    }
}

/// Resolves at `due`, or never without one.
async fn flush_timer(due: Option<Instant>) {
    match due {
        Some(due) => tokio::time::sleep_until(due.into()).await,
        None => std::future::pending().await,
    }
}

/// Resolves once `stop` turns true (or its sender is gone).
async fn stopped(stop: &mut watch::Receiver<bool>) {
    // The guard `wait_for` returns is not `Send`; drop it here, before any other await.
    let _ = stop.wait_for(|stop| *stop).await.map(|_| ());
}

/// The initial copy shared by its worker sessions.
struct CopyWork {
    source: Source,
    warehouse: Warehouse,
    tables: Vec<SourceTable>,
    queue: Mutex<VecDeque<(usize, BlockRange)>>,
    /// Chunks not yet copied, per table.
    remaining: Vec<AtomicUsize>,
    done: Checkpoint,
    snapshot_name: String,
    rows_per_commit: usize,
    copied: AtomicU64,
    observer: Arc<dyn Observer>,
}

impl CopyWork {
    async fn run_worker(&self) -> Result<(), IngestError> {
        let mut connection = self.source.connect().await?;
        import_snapshot(&mut connection, &self.snapshot_name).await?;
        let progress = |rows: u64| {
            self.copied.fetch_add(rows, Ordering::Relaxed);
            self.observer.snapshot_rows(rows);
        };
        loop {
            let next = self.queue.lock().map_err(|_| IngestError::Internal("copy queue poisoned".into()))?.pop_front();
            let Some((index, range)) = next else { break };
            let table = &self.tables[index];
            copy_chunk(&mut connection, &self.warehouse, table, range, self.rows_per_commit, &progress).await?;
            if self.remaining[index].fetch_sub(1, Ordering::AcqRel) == 1 {
                let version = self.warehouse.finish_copy(&table.id, &self.done).await?;
                tracing::debug!(table = %table.id, %version, "copied");
            }
        }
        let _ = sqlx::raw_sql("COMMIT").execute(&mut connection).await;
        source::close(connection).await;
        Ok(())
    }
}

/// One streaming session's state.
struct Stream<'a> {
    ingestor: &'a Ingestor,
    client: ReplicationClient,
    connection: PgConnection,
    writer: String,
    /// Per table: transactions that commit before this position are already held.
    checkpoints: HashMap<TableId, Lsn>,
    /// Relation ids of this session; `None` for a relation that is not captured.
    relations: HashMap<u32, Option<TableShape>>,
    /// Each captured table's columns as the warehouse last took them, numbered.
    known: HashMap<TableId, Vec<SourceColumn>>,
    /// The published tables, to notice those dropped.
    captured: HashSet<TableId>,
    /// Tables already reported as not capturable.
    skipped: HashSet<String>,
    /// Tables being copied while the stream runs, with the copy's consistent point:
    /// their changes from that point on are held, not committed, until the copy is in.
    copying: HashMap<TableId, Lsn>,
    /// Tables whose copy is in but whose held changes are not durable yet.
    settling: HashMap<TableId, Lsn>,
    /// The copies running, each with the tables it copies.
    copies: FuturesUnordered<BoxFuture<'a, CopyEnded>>,
    pending: BTreeMap<TableId, TableChanges>,
    /// The commit position of the transaction being received.
    transaction: Option<Lsn>,
    /// End of the last complete transaction held in `pending`.
    last_end: Option<Lsn>,
    pending_since: Option<Instant>,
    pending_changes: u64,
    pending_transactions: u64,
    last_commit_time: Option<i64>,
    first_commit_time: Option<i64>,
    /// Every transaction committed before this position has been received.
    reached: Lsn,
    /// The warehouse commit running while the next batch is received.
    in_flight: Option<tokio::task::JoinHandle<Result<Committed, IngestError>>>,
    /// A position to acknowledge once the commit in flight is durable.
    deferred_ack: Option<Lsn>,
}

/// The tables of a copy made while streaming, and whether it ended (`false`: stopped).
type CopyEnded = (Vec<TableId>, Result<bool, IngestError>);

/// What a finished warehouse commit covered.
struct Committed {
    tables: Vec<TableId>,
    report: CommitReport,
}

/// Resolves when the commit in flight ends, or never without one.
async fn commit_finished(
    in_flight: &mut Option<tokio::task::JoinHandle<Result<Committed, IngestError>>>,
) -> Result<Result<Committed, IngestError>, tokio::task::JoinError> {
    match in_flight {
        Some(handle) => handle.await,
        None => std::future::pending().await,
    }
}

impl Stream<'_> {
    async fn run(&mut self, target: Option<Lsn>, stop: &mut watch::Receiver<bool>) -> Result<Outcome, IngestError> {
        let options = &self.ingestor.options;
        let mut heartbeat = tokio::time::interval(options.heartbeat_interval);
        heartbeat.tick().await;
        let mut discovery = tokio::time::interval(options.discover_interval);
        discovery.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        discovery.tick().await;
        loop {
            if let Some(target) = target
                && self.reached >= target
                && self.transaction.is_none()
                && self.copies.is_empty()
            {
                self.flush().await?;
                self.settle().await?;
                self.ingestor.observer.caught_up(self.reached);
                tracing::info!(lsn = %self.reached, "caught up");
                self.client.update_applied_lsn(pgwire_replication::Lsn(self.ack_limit(self.reached).0));
                // Give the worker a moment to report the position before the session ends.
                tokio::time::sleep(Duration::from_millis(100)).await;
                let _ = self.client.shutdown().await;
                return Ok(Outcome::CaughtUp { lsn: self.reached });
            }
            // A flush is due only between transactions, once something has waited long
            // enough and the previous commit is done (receiving goes on meanwhile).
            let flush_due = self
                .pending_since
                .filter(|_| self.transaction.is_none() && self.in_flight.is_none())
                .map(|since| since + options.commit_interval);
            tokio::select! {
                event = self.client.recv() => {
                    match event {
                        Ok(Some(event)) => self.handle(event).await?,
                        Ok(None) => return Err(IngestError::Unreachable {
                            source_database: self.ingestor.source.describe(),
                            reason: "the replication stream ended".into(),
                        }),
                        Err(error) => return Err(self.ingestor.source.replication_error(error)),
                    }
                }
                _ = flush_timer(flush_due) => self.flush().await?,
                finished = commit_finished(&mut self.in_flight) => {
                    self.in_flight = None;
                    self.committed(finished).await?;
                }
                _ = heartbeat.tick() => { source::emit_heartbeat(&mut self.connection).await?; }
                _ = discovery.tick() => self.discover(stop).await?,
                Some((tables, copied)) = self.copies.next(), if !self.copies.is_empty() => {
                    self.copy_finished(tables, copied)?;
                }
                _ = stopped(stop) => {
                    if self.transaction.is_none() {
                        self.flush().await?;
                    }
                    self.settle().await?;
                    let _ = self.client.shutdown().await;
                    return Ok(Outcome::Stopped);
                }
            }
        }
    }

    async fn handle(&mut self, event: ReplicationEvent) -> Result<(), IngestError> {
        match event {
            ReplicationEvent::Begin { final_lsn, .. } => self.transaction = Some(Lsn(final_lsn.0)),
            ReplicationEvent::XLogData { data, .. } => {
                let message = pgoutput::decode(&data)?;
                self.handle_message(message).await?;
            }
            ReplicationEvent::Commit { end_lsn, commit_time_micros, .. } => {
                self.transaction = None;
                let end = Lsn(end_lsn.0);
                self.reached = self.reached.max(end);
                if self.pending.is_empty() {
                    // Nothing held: nothing to make durable before acknowledging.
                    self.acknowledge(end);
                } else {
                    self.last_end = Some(end);
                    self.pending_transactions += 1;
                    let commit_time = pgoutput::Timestamp(commit_time_micros).unix_micros();
                    self.last_commit_time = Some(commit_time);
                    self.first_commit_time.get_or_insert(commit_time);
                    self.pending_since.get_or_insert_with(Instant::now);
                    if self.pending_changes >= self.ingestor.options.max_batch_changes {
                        self.flush().await?;
                    }
                }
            }
            ReplicationEvent::KeepAlive { wal_end, .. } => self.idle_at(Lsn(wal_end.0)),
            ReplicationEvent::Message { transactional: false, lsn, prefix, .. } if prefix == HEARTBEAT_PREFIX => {
                self.idle_at(Lsn(lsn.0));
            }
            ReplicationEvent::Message { .. } | ReplicationEvent::StoppedAt { .. } => {}
        }
        Ok(())
    }

    /// The stream has delivered everything before `position` (outside a transaction).
    fn idle_at(&mut self, position: Lsn) {
        if self.transaction.is_some() {
            return;
        }
        self.reached = self.reached.max(position);
        if self.pending.is_empty() {
            self.acknowledge(position);
        }
    }

    /// Tells the slot everything before `position` is durable — after the commit in
    /// flight, if there is one.
    fn acknowledge(&mut self, position: Lsn) {
        if self.in_flight.is_some() {
            self.deferred_ack = self.deferred_ack.max(Some(position));
        } else {
            self.client.update_applied_lsn(pgwire_replication::Lsn(self.ack_limit(position).0));
        }
    }

    /// Waits for the commit in flight, if any.
    async fn settle(&mut self) -> Result<(), IngestError> {
        if let Some(handle) = self.in_flight.take() {
            let finished = handle.await;
            self.committed(finished).await?;
        }
        Ok(())
    }

    /// Records a finished commit: per-table checkpoints, the slot, observers.
    async fn committed(
        &mut self,
        finished: Result<Result<Committed, IngestError>, tokio::task::JoinError>,
    ) -> Result<(), IngestError> {
        let committed =
            finished.map_err(|error| IngestError::Internal(format!("a warehouse commit failed: {error}")))??;
        let end = committed.report.lsn;
        for table in committed.tables {
            // A copy begun meanwhile may have moved the table's checkpoint further.
            let checkpoint = self.checkpoints.entry(table.clone()).or_insert(end);
            *checkpoint = (*checkpoint).max(end);
            self.settling.remove(&table);
        }
        let acknowledged = self.deferred_ack.take().map_or(end, |deferred| deferred.max(end));
        self.client.update_applied_lsn(pgwire_replication::Lsn(self.ack_limit(acknowledged).0));
        tracing::debug!(lsn = %end, tables = committed.report.tables, changes = committed.report.changes, "committed to the warehouse");
        self.ingestor.observer.committed(&committed.report);
        self.ingestor.progress(Progress::Committed(end)).await;
        Ok(())
    }

    /// Lets the session's commit in flight end before another session starts and reads
    /// the checkpoints: it lands or fails, and nothing else writes meanwhile. (Aborting
    /// it could leave a commit landing later, after the next session read them.)
    async fn abandon(&mut self) {
        if let Some(handle) = self.in_flight.take()
            && let Ok(Err(error)) = handle.await
        {
            tracing::debug!("the last commit of the session failed: {error}");
        }
    }

    async fn handle_message(&mut self, message: Message) -> Result<(), IngestError> {
        let commit_position = self.transaction.unwrap_or(Lsn(0));
        match message {
            Message::Relation(relation) => {
                let shape = TableId::new(&relation.namespace, &relation.name)
                    .ok()
                    .and_then(|id| TableShape::from_relation(id, &relation));
                if let Some(shape) = &shape {
                    self.follow(relation.id, shape, commit_position).await?;
                }
                self.relations.insert(relation.id, shape);
            }
            Message::Insert { relation, new } => {
                if let Some(changes) = self.changes_for(relation, commit_position)? {
                    changes.insert(new);
                    self.pending_changes += 1;
                }
            }
            Message::Update { relation, old, new } => {
                if let Some(changes) = self.changes_for(relation, commit_position)? {
                    changes.update(old, new);
                    self.pending_changes += 1;
                }
            }
            Message::Delete { relation, old } => {
                if let Some(changes) = self.changes_for(relation, commit_position)? {
                    changes.delete(old);
                    self.pending_changes += 1;
                }
            }
            Message::Truncate { relations, .. } => {
                for relation in relations {
                    if let Some(changes) = self.changes_for(relation, commit_position)? {
                        changes.truncate();
                        self.pending_changes += 1;
                    }
                }
            }
            Message::Begin { .. }
            | Message::Commit { .. }
            | Message::Type { .. }
            | Message::Origin { .. }
            | Message::LogicalMessage { .. } => {}
        }
        Ok(())
    }

    /// The furthest the slot may be told is durable: not past the consistent point of
    /// a table copied while streaming until its held changes are in the warehouse, so a
    /// crash meanwhile replays them.
    fn ack_limit(&self, position: Lsn) -> Lsn {
        self.copying.values().chain(self.settling.values()).fold(position, |limit, point| limit.min(*point))
    }

    /// Looks for tables created (or dropped) since the session started. A new table is
    /// published, then copied under a temporary slot's snapshot while every other table
    /// keeps streaming; its changes from the snapshot on are held until the copy is in.
    async fn discover(&mut self, stop: &watch::Receiver<bool>) -> Result<(), IngestError> {
        let (tables, skipped) = crate::snapshot::discover_tables(&mut self.connection).await?;
        for table in skipped {
            if self.skipped.insert(table.name.clone()) {
                tracing::warn!(table = %table.name, "not captured: {}", table.reason);
            }
        }
        let present: HashSet<&TableId> = tables.iter().map(|table| &table.id).collect();
        let gone: Vec<TableId> = self.captured.iter().filter(|table| !present.contains(table)).cloned().collect();
        if !gone.is_empty() {
            let history = self.ingestor.warehouse.schema_changes().await?;
            self.ingestor.mark_dropped(&tables, &history).await?;
            for table in &gone {
                self.captured.remove(table);
            }
        }
        let added = source::ensure_publication(&mut self.connection, &self.ingestor.options.names, &tables).await?;
        let new: Vec<TableId> = tables
            .iter()
            .filter(|table| added.contains(&table.id.to_string()) && !self.copying.contains_key(&table.id))
            .map(|table| table.id.clone())
            .collect();
        if new.is_empty() {
            return Ok(());
        }
        // A commit in flight may still write these tables (one recreated under its old
        // name): it lands before the copy can replace them.
        self.settle().await?;
        // Creating the slot waits for the transactions open at the source to end (as
        // PostgreSQL's own table synchronisation does); the stream waits meanwhile.
        let copy = self.ingestor.begin_table_copy(&new).await?;
        tracing::info!(
            tables = %new.iter().map(ToString::to_string).collect::<Vec<_>>().join(", "),
            consistent_point = %copy.point,
            "new tables: copying them while the others keep streaming"
        );
        let ids: Vec<TableId> = copy.tables.iter().map(|table| table.id.clone()).collect();
        for table in &copy.tables {
            // Everything received so far commits before the copy's point: the copy has it.
            self.pending.remove(&table.id);
            self.checkpoints.insert(table.id.clone(), copy.point);
            self.copying.insert(table.id.clone(), copy.point);
            self.captured.insert(table.id.clone());
            let columns =
                table.columns.iter().zip(&table.attnums).map(|(column, attnum)| evolve::source_column(column, *attnum));
            self.known.insert(table.id.clone(), columns.collect());
        }
        let ingestor = self.ingestor;
        let stop = stop.clone();
        self.copies.push(Box::pin(async move {
            let TableCopy { mut client, point, snapshot, tables } = copy;
            let copied = ingestor.copy_all(&tables, &snapshot, point, &stop).await;
            client.abort();
            (ids, copied)
        }));
        Ok(())
    }

    /// A copy begun by [`Stream::discover`] ended: its tables' held changes commit next.
    fn copy_finished(&mut self, tables: Vec<TableId>, copied: Result<bool, IngestError>) -> Result<(), IngestError> {
        if !copied? {
            // Stopped: the session ends, and the next start copies these tables again.
            return Ok(());
        }
        for table in tables {
            if let Some(point) = self.copying.remove(&table) {
                tracing::info!(%table, %point, "copied while streaming; its changes since follow");
                if self.pending.contains_key(&table) {
                    self.settling.insert(table, point);
                    self.pending_since.get_or_insert_with(Instant::now);
                }
            }
        }
        Ok(())
    }

    /// Follows a table's (new) description: a change of its columns is compared with
    /// what the warehouse holds, by attribute number, and travels with the table's next
    /// commit (with what stored rows take in added columns, and the record of it).
    async fn follow(&mut self, relation: u32, shape: &TableShape, commit_position: Lsn) -> Result<(), IngestError> {
        if self.copying.contains_key(&shape.id)
            && self.checkpoints.get(&shape.id).is_some_and(|point| commit_position < *point)
        {
            // Before the copy's point: its columns are those the copy took, not these.
            return Ok(());
        }
        let unchanged = |before: &[SourceColumn]| {
            before.len() == shape.columns.len()
                && before.iter().zip(&shape.columns).all(|(old, new)| {
                    (old.name.as_str(), old.type_oid, old.type_modifier)
                        == (new.name.as_str(), new.type_oid, new.type_modifier)
                })
        };
        let before = self.known.get(&shape.id).cloned();
        if before.as_deref().is_some_and(unchanged) {
            if let Some(held) = self.pending.get_mut(&shape.id) {
                held.reshape(shape.clone());
            }
            return Ok(());
        }
        let catalog = evolve::catalog_columns(&mut self.connection, relation).await?;
        let Some(before) = before else {
            // A table first seen now: numbered from the catalog, by name when it is ahead.
            let columns = evolve::numbered(shape, &catalog).unwrap_or_else(|| {
                let attnum =
                    |name: &str| catalog.iter().find(|column| column.name == name).map_or(-1, |column| column.attnum);
                shape.columns.iter().map(|column| evolve::source_column(column, attnum(&column.name))).collect()
            });
            self.known.insert(shape.id.clone(), columns);
            return Ok(());
        };
        let change = evolve::compare(shape, &before, &catalog);
        self.known.insert(shape.id.clone(), change.columns.clone());
        if self.checkpoints.get(&shape.id).is_some_and(|held| commit_position < *held) {
            // The warehouse already holds this transaction, and the change with it.
            return Ok(());
        }
        for (kind, detail) in &change.changes {
            tracing::info!(table = %shape.id, lsn = %commit_position, "{kind}: {detail}");
        }
        let records: Vec<SchemaChange> = evolve::records(&shape.id, commit_position, &change);
        let held = self.pending.entry(shape.id.clone()).or_insert_with(|| {
            // Nothing held yet: start from the columns the warehouse stores.
            let columns: Vec<crate::rows::ColumnSpec> = before
                .iter()
                .map(|column| crate::rows::ColumnSpec {
                    name: column.name.clone(),
                    type_oid: column.type_oid,
                    type_modifier: column.type_modifier,
                })
                .collect();
            let key_names: Vec<&str> =
                shape.key.iter().map(|position| shape.columns[*position].name.as_str()).collect();
            let key = columns
                .iter()
                .enumerate()
                .filter(|(_, column)| key_names.contains(&column.name.as_str()))
                .map(|(index, _)| index)
                .collect();
            TableChanges::new(TableShape { id: shape.id.clone(), columns, key })
        });
        held.evolve(shape.clone(), &change, records);
        let backfilled = held.backfilled();
        if !backfilled.is_empty() {
            let rows = evolve::current_values(&mut self.connection, shape, &backfilled).await?;
            tracing::info!(table = %shape.id, columns = ?backfilled, rows = rows.len(), "read the new columns' current values");
            if let Some(held) = self.pending.get_mut(&shape.id) {
                held.set_backfill(backfilled, rows);
            }
        }
        Ok(())
    }

    /// Where a change to `relation` goes; `None` when the table is not captured or
    /// already holds the transaction.
    fn changes_for(&mut self, relation: u32, commit_position: Lsn) -> Result<Option<&mut TableChanges>, IngestError> {
        let shape = match self.relations.get(&relation) {
            Some(Some(shape)) => shape,
            Some(None) => return Ok(None),
            None => {
                return Err(IngestError::Protocol(format!("a change to relation {relation} before its description")));
            }
        };
        if self.checkpoints.get(&shape.id).is_some_and(|held| commit_position < *held) {
            return Ok(None);
        }
        let changes = self.pending.entry(shape.id.clone()).or_insert_with(|| TableChanges::new(shape.clone()));
        Ok(Some(changes))
    }

    /// Starts committing everything held (complete transactions only) once the previous
    /// commit is done; the slot is told when it is durable (see [`Stream::committed`]).
    async fn flush(&mut self) -> Result<(), IngestError> {
        // Called between transactions only, so everything held is complete.
        let Some(end) = self.last_end else { return Ok(()) };
        if self.pending.is_empty() {
            return Ok(());
        }
        // Commits land in source order.
        self.settle().await?;
        // Changes to a table being copied wait for its copy.
        let (pending, held): (BTreeMap<_, _>, BTreeMap<_, _>) =
            std::mem::take(&mut self.pending).into_iter().partition(|(table, _)| !self.copying.contains_key(table));
        self.pending = held;
        if pending.is_empty() {
            self.pending_since = None;
            return Ok(());
        }
        let checkpoint = Checkpoint { writer: self.writer.clone(), lsn: end };
        let warehouse = self.ingestor.warehouse.clone();
        let report = CommitReport {
            lsn: end,
            tables: pending.len(),
            changes: self.pending_changes,
            transactions: self.pending_transactions,
            source_commit_unix_micros: self.last_commit_time,
            oldest_source_commit_unix_micros: self.first_commit_time.take(),
        };
        self.in_flight = Some(tokio::spawn(async move {
            let tables: Vec<TableId> = futures::stream::iter(pending)
                .map(|(table, changes)| {
                    let (warehouse, checkpoint) = (&warehouse, &checkpoint);
                    async move {
                        let mut changes = changes;
                        let records = changes.take_records();
                        let change_set = changes.into_change_set()?;
                        warehouse.apply(&table, change_set, checkpoint).await?;
                        // After the change itself: a replay records it again, never misses it.
                        warehouse.record_schema_changes(&checkpoint.writer, &records).await?;
                        Ok::<_, IngestError>(table)
                    }
                })
                .buffer_unordered(4)
                .try_collect()
                .await?;
            Ok(Committed { tables, report })
        }));
        if self.pending.is_empty() {
            self.last_end = None;
        }
        self.pending_since = None;
        self.pending_changes = 0;
        self.pending_transactions = 0;
        Ok(())
    }
}
