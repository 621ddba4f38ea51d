//! `opsflux ingest`: change data capture from PostgreSQL into the warehouse, its
//! settings, its progress bar, and `opsflux ingest status`.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use clap::{Args, Subcommand};
use indicatif::{ProgressBar, ProgressStyle};
use opsflux_ingest::source::Source;
use opsflux_ingest::status::{self, IngestStatus};
use opsflux_ingest::{CommitReport, IngestOptions, Ingestor, Lsn, Observer, Outcome, ReplicationNames};
use opsflux_warehouse::Warehouse;
use tokio::sync::watch;

use crate::cli::DatabaseArgs;

#[derive(Debug, Args)]
#[command(args_conflicts_with_subcommands = true)]
pub struct IngestArgs {
    #[command(subcommand)]
    pub action: Option<IngestAction>,
    #[command(flatten)]
    pub run: IngestRunArgs,
}

#[derive(Debug, Subcommand)]
pub enum IngestAction {
    /// Per table: rows in the warehouse, last source position, lag; and the WAL the slot
    /// keeps on the source.
    Status(IngestStatusArgs),
}

#[derive(Debug, Args)]
pub struct WarehouseArgs {
    /// The warehouse: one Delta Lake table per source table, `<schema>/<table>`, in a
    /// directory or in S3 (`s3://bucket/prefix`, credentials, region and endpoint from
    /// the AWS_* variables: AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY, AWS_REGION,
    /// AWS_ENDPOINT_URL, AWS_ALLOW_HTTP).
    #[arg(long, env = "OPSFLUX_WAREHOUSE", default_value = "data/warehouse")]
    pub warehouse: PathBuf,
    /// Replication slot name on the source (one per warehouse).
    #[arg(long, default_value = "opsflux_cdc")]
    pub slot: String,
    /// Publication name on the source.
    #[arg(long, default_value = "opsflux_cdc")]
    pub publication: String,
}

#[derive(Debug, Args)]
pub struct IngestRunArgs {
    #[arg(long, env = "OPSFLUX_DATABASE_URL", required = false)]
    /// PostgreSQL connection URL of the source, e.g. postgres://user@127.0.0.1:5432/opsflux.
    pub database_url: Option<String>,
    #[command(flatten)]
    pub target: WarehouseArgs,
    /// Exit once everything committed before the start is in the warehouse.
    #[arg(long)]
    pub until_caught_up: bool,
    /// Longest time, in milliseconds, a received change waits before its warehouse commit.
    #[arg(long, default_value_t = 500)]
    pub commit_interval_ms: u64,
    /// Changes received that trigger a commit before the interval is up.
    #[arg(long, default_value_t = 200_000)]
    pub max_batch_changes: u64,
    /// Parallel sessions for the initial copy.
    #[arg(long, default_value_t = 2)]
    pub snapshot_workers: usize,
    /// Rows per chunk when the initial copy splits a large table.
    #[arg(long, default_value_t = 1_000_000)]
    pub rows_per_chunk: u64,
    /// Seconds between heartbeats written to the source's WAL (they let an idle
    /// database's slot advance).
    #[arg(long, default_value_t = 30)]
    pub heartbeat_seconds: u64,
    /// Seconds between checks for tables to compact (many small files) and vacuum.
    #[arg(long, default_value_t = 60)]
    pub maintenance_seconds: u64,
    /// Seconds between checks for tables created at the source (published and copied
    /// while the others keep streaming) or dropped (kept readable at their last version).
    #[arg(long, default_value_t = 10)]
    pub discover_seconds: u64,
    /// Hours replaced data files are kept, so readers pinned to older versions still work.
    #[arg(long, default_value_t = 168)]
    pub vacuum_retention_hours: u64,
}

#[derive(Debug, Args)]
pub struct IngestStatusArgs {
    #[command(flatten)]
    pub database: DatabaseArgs,
    #[command(flatten)]
    pub target: WarehouseArgs,
}

pub async fn run(args: IngestArgs) -> anyhow::Result<()> {
    match args.action {
        Some(IngestAction::Status(status_args)) => print_status(status_args).await,
        None => {
            let url = args
                .run
                .database_url
                .clone()
                .context("--database-url (or OPSFLUX_DATABASE_URL) is required: which database to capture")?;
            let stop = stop_on_signal();
            let outcome = ingest(&url, &args.run.target.warehouse, args.run.options()?, stop).await?;
            if let Outcome::CaughtUp { lsn } = outcome {
                println!("caught up: the warehouse holds every change up to {lsn}");
            }
            Ok(())
        }
    }
}

/// A stop signal that turns true on Ctrl-C (SIGINT) or SIGTERM, what service managers
/// and container runtimes send: both mean "finish safely and exit".
pub fn stop_on_signal() -> watch::Receiver<bool> {
    let (stop_sender, stop) = watch::channel(false);
    tokio::spawn(async move {
        let terminate = async {
            match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
                Ok(mut terminate) => {
                    terminate.recv().await;
                }
                Err(error) => {
                    tracing::warn!(%error, "SIGTERM cannot be watched; only Ctrl-C stops cleanly");
                    std::future::pending::<()>().await;
                }
            }
        };
        let signal = tokio::select! {
            interrupted = tokio::signal::ctrl_c() => interrupted.is_ok().then_some("Ctrl-C"),
            () = terminate => Some("SIGTERM"),
        };
        if let Some(signal) = signal {
            tracing::info!("{signal} received; stopping: committing what was received");
            let _ = stop_sender.send(true);
        }
    });
    stop
}

/// Runs ingestion into the warehouse at `warehouse` until caught up or stopped.
pub async fn ingest(
    url: &str,
    warehouse: &std::path::Path,
    options: IngestOptions,
    stop: watch::Receiver<bool>,
) -> anyhow::Result<Outcome> {
    ingest_reporting(url, warehouse, options, stop, None).await
}

/// [`ingest`], telling `health` whether capture keeps failing (for `/healthz`).
pub async fn ingest_reporting(
    url: &str,
    warehouse: &std::path::Path,
    options: IngestOptions,
    stop: watch::Receiver<bool>,
    health: Option<crate::http::CaptureHealth>,
) -> anyhow::Result<Outcome> {
    let source = Source::parse(url)?;
    let warehouse = Warehouse::open(warehouse)?;
    tracing::info!(source = %source.describe(), warehouse = %warehouse.location(), "capturing changes");
    let observer = ProgressObserver { health, ..ProgressObserver::default() };
    let ingestor = Ingestor::new(source, warehouse, options, Arc::new(observer));
    Ok(ingestor.run(stop).await?)
}

impl IngestRunArgs {
    /// The ingest settings these flags describe.
    pub fn options(&self) -> anyhow::Result<IngestOptions> {
        Ok(IngestOptions {
            names: ReplicationNames::new(&self.target.publication, &self.target.slot)?,
            commit_interval: Duration::from_millis(self.commit_interval_ms.max(1)),
            max_batch_changes: self.max_batch_changes.max(1),
            snapshot_workers: self.snapshot_workers.max(1),
            rows_per_chunk: self.rows_per_chunk.max(1),
            heartbeat_interval: Duration::from_secs(self.heartbeat_seconds.max(1)),
            until_caught_up: self.until_caught_up,
            maintenance_interval: Duration::from_secs(self.maintenance_seconds.max(1)),
            discover_interval: Duration::from_secs(self.discover_seconds.max(1)),
            vacuum_retention: Duration::from_secs(self.vacuum_retention_hours * 3600),
            ..IngestOptions::default()
        })
    }
}

/// A progress bar for the initial copy, and a log line per minute of streaming.
#[derive(Debug, Default)]
struct ProgressObserver {
    bar: std::sync::Mutex<Option<ProgressBar>>,
    streamed: std::sync::Mutex<(u64, Option<std::time::Instant>)>,
    health: Option<crate::http::CaptureHealth>,
}

impl ProgressObserver {
    fn update(&self, change: impl FnOnce(&mut crate::http::CaptureState)) {
        if let Some(health) = &self.health {
            let mut state = health.get();
            state.running = true;
            change(&mut state);
            health.set(state);
        }
    }
}

impl Observer for ProgressObserver {
    fn snapshot_started(&self, tables: usize, estimated_rows: u64) {
        tracing::info!(tables, estimated_rows, "initial copy");
        let bar = ProgressBar::new(estimated_rows.max(1));
        bar.set_style(
            ProgressStyle::with_template("initial copy [{bar:30}] {human_pos}/~{human_len} rows, {per_sec}, ETA {eta}")
                .unwrap_or_else(|_| ProgressStyle::default_bar())
                .progress_chars("=> "),
        );
        if let Ok(mut slot) = self.bar.lock() {
            *slot = Some(bar);
        }
    }

    fn snapshot_rows(&self, rows: u64) {
        if let Ok(slot) = self.bar.lock()
            && let Some(bar) = slot.as_ref()
        {
            if bar.position() + rows > bar.length().unwrap_or(0) {
                bar.set_length(bar.position() + rows);
            }
            bar.inc(rows);
        }
    }

    fn snapshot_finished(&self, rows: u64, elapsed: Duration) {
        if let Ok(mut slot) = self.bar.lock()
            && let Some(bar) = slot.take()
        {
            bar.finish_and_clear();
        }
        let seconds = elapsed.as_secs_f64().max(0.001);
        tracing::info!(
            rows,
            seconds = format!("{seconds:.1}"),
            rows_per_second = format!("{:.0}", rows as f64 / seconds),
            "initial copy done"
        );
    }

    fn problem(&self, error: Option<&opsflux_ingest::IngestError>) {
        self.update(|state| state.failing = error.map(opsflux_ingest::IngestError::summary));
    }

    fn committed(&self, report: &CommitReport) {
        if let Some(micros) = report.source_commit_unix_micros {
            self.update(|state| state.as_of_unix_micros = Some(micros));
        }
        let Ok(mut streamed) = self.streamed.lock() else { return };
        streamed.0 += report.changes;
        let due = streamed.1.is_none_or(|last| last.elapsed() >= Duration::from_secs(60));
        if due {
            let lag = report.source_commit_unix_micros.map(|micros| {
                let now = chrono::Utc::now().timestamp_micros();
                format!("{:.2} s", (now - micros) as f64 / 1e6)
            });
            tracing::info!(lsn = %report.lsn, changes = streamed.0, lag = lag.unwrap_or_default(), "streaming");
            *streamed = (0, Some(std::time::Instant::now()));
        }
    }

    fn caught_up(&self, lsn: Lsn) {
        tracing::info!(%lsn, "caught up with the source");
    }
}

async fn print_status(args: IngestStatusArgs) -> anyhow::Result<()> {
    let source = Source::parse(&args.database.database_url)?;
    let warehouse = Warehouse::open(&args.target.warehouse)?;
    let names = ReplicationNames::new(&args.target.publication, &args.target.slot)?;
    let report = status::collect(&source, &warehouse, &names).await?;
    print!("{}", render_status(&report));
    Ok(())
}

/// The status report as a text table.
pub fn render_status(report: &IngestStatus) -> String {
    let mut out = String::new();
    match &report.slot {
        Some(slot) => out.push_str(&format!(
            "slot {}: {}, confirmed {}, source at {}, behind by {}, WAL retained {}\n",
            report.slot_name,
            if slot.active { "streaming" } else { "idle (no ingest connected)" },
            slot.confirmed_flush.map(|lsn| lsn.to_string()).unwrap_or_else(|| "-".into()),
            report.source_position,
            human_bytes(slot.lag_bytes),
            human_bytes(slot.retained_bytes),
        )),
        None => out.push_str(&format!("slot {}: not created yet (run `opsflux ingest`)\n", report.slot_name)),
    }
    if let Some(problem) = &report.problem {
        out.push_str(&format!(
            "capture stopped since {} (last try {}): {}\n",
            problem.since, problem.seen, problem.error
        ));
    }
    out.push_str(&format!(
        "{:<36} {:>12} {:>10} {:>14} {:>12}  {}\n",
        "table", "rows", "unfolded", "last LSN", "lag", "version"
    ));
    for table in &report.tables {
        out.push_str(&format!(
            "{:<36} {:>12} {:>10} {:>14} {:>12}  {}\n",
            table.table,
            table
                .rows
                .map(|rows| crate::http::tables::group_thousands(i64::try_from(rows).unwrap_or(i64::MAX)))
                .unwrap_or_else(|| "-".into()),
            crate::http::tables::group_thousands(i64::try_from(table.unfolded).unwrap_or(i64::MAX)),
            table.lsn.map(|lsn| lsn.to_string()).unwrap_or_else(|| "not copied".into()),
            table.lag_bytes.map(human_bytes).unwrap_or_else(|| "-".into()),
            table.snapshot.map(|snapshot| snapshot.to_string()).unwrap_or_else(|| "-".into()),
        ));
    }
    for skipped in &report.skipped {
        out.push_str(&format!("{:<36} not captured: {}\n", skipped.name, skipped.reason));
    }
    for dropped in &report.dropped {
        out.push_str(&format!(
            "{:<36} dropped at the source; kept readable at version {} (up to {})\n",
            dropped.table,
            dropped.version.map(|version| version.to_string()).unwrap_or_else(|| "-".into()),
            dropped.lsn.map(|lsn| lsn.to_string()).unwrap_or_else(|| "-".into()),
        ));
    }
    if !report.schema_changes.is_empty() {
        out.push_str("recent schema changes (WAREHOUSE/_schema_changes):\n");
        for record in &report.schema_changes {
            let change = &record.change;
            out.push_str(&format!(
                "  {:>14}  {}  {}: {}\n",
                change.lsn.to_string(),
                change.table,
                change.change,
                change.detail
            ));
        }
    }
    out
}

fn human_bytes(bytes: u64) -> String {
    const UNITS: [&str; 5] = ["B", "KiB", "MiB", "GiB", "TiB"];
    let mut value = bytes as f64;
    let mut unit = 0;
    while value >= 1024.0 && unit + 1 < UNITS.len() {
        value /= 1024.0;
        unit += 1;
    }
    if unit == 0 { format!("{bytes} B") } else { format!("{value:.1} {}", UNITS[unit]) }
}
