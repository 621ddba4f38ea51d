//! The `opsflux` command line: argument definitions (shown by `--help`) and what each
//! subcommand does, one file per subcommand. `main.rs` only parses and calls [`run`].

pub mod alert;
pub mod capture;
pub mod data;
mod demo_data;
pub mod document;
pub mod export;
pub mod forecast;
pub mod render;
pub mod schedule;
pub mod scheduler;
pub mod search;
pub mod serve;
pub mod user;

use anyhow::{Context, bail};
use clap::{Parser, Subcommand};
use opsflux_warehouse::Warehouse;

pub use data::{DatabaseArgs, ImportArgs, SampleDataArgs, load_sample_data};
pub use export::ExportArgs;
pub use render::{RenderArgs, RenderWorkerArgs};
pub use serve::{DemoArgs, QueryArgs, ServeArgs, open_engine};
pub use user::UserArgs;

/// OpsFlux — data and reporting platform for industrial operations.
///
/// Operational modules write into PostgreSQL; OpsFlux loads sample data, imports load
/// lists and serves the data. Start with `opsflux demo`.
#[derive(Debug, Parser)]
#[command(name = "opsflux", version, about, long_about)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run everything on this machine with no configuration: a private PostgreSQL under
    /// the data directory, migrations, sample data, change capture into the warehouse
    /// (`<data dir>/warehouse`), and the web pages.
    Demo(DemoArgs),
    /// Apply the database migrations (creates the database if needed; idempotent).
    Migrate(DatabaseArgs),
    /// Generate deterministic sample data for every module: load it into PostgreSQL with
    /// COPY, or write it straight into a warehouse directory (`--warehouse`).
    SampleData(SampleDataArgs),
    /// Import a file into the operational database, checking every row first.
    Import(ImportArgs),
    /// Serve the dashboards, the metric API and exports over the warehouse; with a
    /// database URL, capture its changes into the warehouse alongside (unless
    /// --no-ingest). Without one, the dashboards are read-only over the warehouse.
    Serve(ServeArgs),
    /// Export a warehouse table or a metric's result to a file, streamed with flat
    /// memory: Parquet (zstd), CSV, XLSX or Arrow IPC.
    Export(ExportArgs),
    /// Render a Rédacteur document with live warehouse data: a shipped template
    /// (weekly-site-report, powertrace-monthly, moc-dossier, 5s-audit, project-progress,
    /// powertrace-scenario) or a document file, to PDF, DOCX, XLSX or an HTML preview.
    Render(RenderArgs),
    /// Capture changes from PostgreSQL into the warehouse (logical replication): an initial
    /// copy, then every change in commit order, exactly once. `ingest status` reports lag.
    Ingest(capture::IngestArgs),
    /// Manage users: add (the first admin is made this way), list, disable, reset a
    /// password, unlock after repeated failed sign-ins.
    User(UserArgs),
    /// Scheduled reports by email: add (prints the id), list, pause, resume, history,
    /// run-now. Each recipient gets the report of their own sites.
    Schedule(schedule::ScheduleArgs),
    /// Run the report scheduler and alert evaluation alone (`serve` runs them too
    /// when given --smtp-url). Several may share one database: each firing runs once.
    Scheduler(scheduler::SchedulerCommandArgs),
    /// Threshold alerts on metrics: add, list, pause, resume, evaluate, history.
    Alert(alert::AlertArgs),
    /// Search the operations' records (MOC, HSE, projects, personnel, Tiers, PowerTrace,
    /// transport, Rédacteur, 5S) in the index beside the warehouse, brought level with
    /// it first; `search reindex` rebuilds the index.
    Search(search::SearchArgs),
    /// Forecast demand with prediction intervals: a `timestamp,value` CSV (--input) or a
    /// site's or switchboard's meter readings (--warehouse --site [--switchboard]);
    /// `forecast backtest` scores the forecaster against seasonal naive.
    Forecast(forecast::ForecastArgs),
    /// Rédacteur documents between files and the database: import (prints the new
    /// document's id), export any version, history, diff between two versions.
    Document(document::DocumentArgs),
    /// Render one bound document read on standard input to standard output (used by
    /// `serve` to run documents with Typst snippets in a process it can stop).
    #[command(hide = true)]
    RenderWorker(RenderWorkerArgs),
}

/// Our own progress at `info`, the libraries' only from `warn`: the Delta kernel logs
/// every snapshot it builds at `info`, thousands of lines during an initial copy.
const DEFAULT_LOG: &str = "warn,opsflux=info";

/// The whole program: logging to stderr (`OPSFLUX_LOG` filters, default `DEFAULT_LOG`),
/// the command line, a runtime, and an exit status.
pub fn main() -> std::process::ExitCode {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_env("OPSFLUX_LOG")
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new(DEFAULT_LOG)),
        )
        .with_writer(std::io::stderr)
        .init();
    let cli = Cli::parse();
    let runtime = match tokio::runtime::Builder::new_multi_thread().enable_all().build() {
        Ok(runtime) => runtime,
        Err(error) => {
            eprintln!("error: cannot start the async runtime: {error}");
            return std::process::ExitCode::FAILURE;
        }
    };
    match runtime.block_on(run(cli)) {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("error: {error:#}");
            std::process::ExitCode::FAILURE
        }
    }
}

/// Runs one command to completion.
pub async fn run(cli: Cli) -> anyhow::Result<()> {
    match cli.command {
        Command::Migrate(args) => data::migrate(&args.database_url).await,
        Command::SampleData(args) => data::sample_data(args).await,
        Command::Import(args) => data::run_import(args).await,
        Command::Serve(args) => serve::serve_command(args).await,
        Command::Export(args) => export::export(args).await,
        Command::Render(args) => render::render(args).await,
        Command::RenderWorker(args) => render::render_worker(args),
        Command::Demo(args) => serve::demo(args).await,
        Command::Ingest(args) => capture::run(args).await,
        Command::User(args) => user::run(args).await,
        Command::Schedule(args) => schedule::run(args).await,
        Command::Scheduler(args) => scheduler::run(args).await,
        Command::Alert(args) => alert::run(args).await,
        Command::Search(args) => search::run(args).await,
        Command::Forecast(args) => forecast::run(args).await,
        Command::Document(args) => document::run(args).await,
    }
}

/// Appends a command-line change to the audit log, as the operating-system user.
pub(crate) async fn audit_cli(
    pool: &sqlx::PgPool,
    action: &str,
    entity: &str,
    id: Option<uuid::Uuid>,
    parameters: serde_json::Value,
) -> anyhow::Result<()> {
    let actor = std::env::var("USER").or_else(|_| std::env::var("LOGNAME")).unwrap_or_else(|_| "unknown".into());
    crate::audit::record(
        pool,
        crate::audit::Event {
            actor: format!("cli:{actor}"),
            action: action.to_owned(),
            entity: entity.to_owned(),
            entity_id: id,
            parameters,
            result: "ok".to_owned(),
            ..Default::default()
        },
    )
    .await
    .context("cannot append to the audit log")
}

/// The format asked for, or else the output file's extension.
pub(crate) fn output_format(format: Option<&str>, out: &std::path::Path) -> anyhow::Result<String> {
    match format {
        Some(format) => Ok(format.to_owned()),
        None => out
            .extension()
            .and_then(|extension| extension.to_str())
            .map(str::to_owned)
            .with_context(|| format!("give --format: {} has no extension to take it from", out.display())),
    }
}

/// Refuses a warehouse with no table, saying how to fill it.
pub(crate) async fn ensure_tables(warehouse: &std::path::Path) -> anyhow::Result<()> {
    if Warehouse::open(warehouse)?.tables().await?.is_empty() {
        bail!(
            "the warehouse {} holds no table: capture into it (opsflux ingest) or write sample data (opsflux sample-data --warehouse)",
            warehouse.display()
        );
    }
    Ok(())
}

/// Where a command writes its output file: a regular file (new or existing, or behind a
/// symlink) is written to a temporary file beside it and renamed onto it once complete,
/// so a failure leaves the old file, or nothing, behind; anything else (`/dev/stdout`, a
/// named pipe, a device) is written straight through, since renaming would replace it.
pub(crate) struct OutputFile {
    target: std::path::PathBuf,
    sink: Sink,
}

enum Sink {
    Partial(tempfile::NamedTempFile),
    Direct(std::fs::File),
}

impl OutputFile {
    pub(crate) fn create(out: &std::path::Path) -> anyhow::Result<OutputFile> {
        let cannot = || format!("cannot write {}", out.display());
        let target = match std::fs::canonicalize(out) {
            Ok(resolved) => resolved,
            Err(error) if error.kind() == std::io::ErrorKind::NotFound => out.to_path_buf(),
            Err(error) => return Err(error).with_context(cannot),
        };
        if let Ok(metadata) = std::fs::metadata(&target) {
            if metadata.is_dir() {
                bail!("cannot write {}: it is a directory", out.display());
            }
            if !metadata.is_file() {
                let file = std::fs::OpenOptions::new().write(true).open(&target).with_context(cannot)?;
                return Ok(OutputFile { target, sink: Sink::Direct(file) });
            }
        }
        let directory =
            target.parent().filter(|parent| !parent.as_os_str().is_empty()).unwrap_or(std::path::Path::new("."));
        let partial = tempfile::NamedTempFile::new_in(directory)
            .with_context(|| format!("cannot create a file in {}", directory.display()))?;
        Ok(OutputFile { target, sink: Sink::Partial(partial) })
    }

    /// A handle to write the output through.
    pub(crate) fn writer(&self) -> anyhow::Result<std::fs::File> {
        match &self.sink {
            Sink::Partial(partial) => partial.reopen(),
            Sink::Direct(file) => file.try_clone(),
        }
        .with_context(|| format!("cannot write {}", self.target.display()))
    }

    /// Puts the complete output in place, with the permissions the file had, or those a
    /// new file gets under the process's umask.
    pub(crate) fn finish(self) -> anyhow::Result<()> {
        let cannot = || format!("cannot write {}", self.target.display());
        match self.sink {
            // A pipe or a terminal cannot be synced, and needs not be.
            Sink::Direct(file) => {
                let _ = file.sync_all();
                Ok(())
            }
            Sink::Partial(partial) => {
                let permissions = match std::fs::metadata(&self.target) {
                    Ok(metadata) => metadata.permissions(),
                    Err(_) => {
                        // Creating the file is how its umask-given mode is learnt.
                        let created = std::fs::OpenOptions::new()
                            .write(true)
                            .create_new(true)
                            .open(&self.target)
                            .with_context(cannot)?;
                        created.metadata().with_context(cannot)?.permissions()
                    }
                };
                partial.as_file().set_permissions(permissions).with_context(cannot)?;
                partial.persist(&self.target).with_context(cannot)?;
                Ok(())
            }
        }
    }
}

/// Writes `bytes` to `out` whole or not at all (see [`OutputFile`]).
pub(crate) fn write_output(out: &std::path::Path, bytes: &[u8]) -> anyhow::Result<()> {
    let output = OutputFile::create(out)?;
    std::io::Write::write_all(&mut output.writer()?, bytes)
        .with_context(|| format!("cannot write {}", out.display()))?;
    output.finish()
}
