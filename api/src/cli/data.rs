//! `opsflux migrate`, `opsflux sample-data` and `opsflux import`: the database's
//! schema, deterministic sample data (into PostgreSQL or straight into a warehouse),
//! and load-list imports.

use std::path::PathBuf;

use anyhow::Context;
use clap::Args;
use indicatif::{ProgressBar, ProgressStyle};
use opsflux_sample_data::{Dataset, LoadEvent, Options};

use crate::database;
use crate::import::{self, ImportKind};

#[derive(Debug, Args)]
pub struct DatabaseArgs {
    /// PostgreSQL connection URL, e.g. postgres://user@127.0.0.1:5432/opsflux.
    #[arg(long, env = "OPSFLUX_DATABASE_URL")]
    pub database_url: String,
}

#[derive(Debug, Args)]
#[command(group(clap::ArgGroup::new("target").required(true).args(["database_url", "warehouse"])))]
pub struct SampleDataArgs {
    /// Load into this PostgreSQL database, e.g. postgres://user@127.0.0.1:5432/opsflux.
    #[arg(long, env = "OPSFLUX_DATABASE_URL")]
    pub database_url: Option<String>,
    /// Write straight into the warehouse directory instead, with no PostgreSQL at all
    /// (the tables capture would produce, typed by the migrations). Wins over a
    /// database URL from the environment.
    #[arg(long)]
    pub warehouse: Option<PathBuf>,
    /// Random seed: the same seed and scale always give the same rows.
    #[arg(long, default_value_t = 42)]
    pub seed: u64,
    /// Size: 1 ≈ ten million 15-minute meter readings over a year; 0.01 for quick tests.
    #[arg(long, default_value_t = 1.0)]
    pub scale: f64,
    /// The day the sample window ends (YYYY-MM-DD; default: today): history runs up to
    /// the day before, planned stays and trips continue past it. The same seed, scale
    /// and end date always give the same rows.
    #[arg(long)]
    pub end_date: Option<chrono::NaiveDate>,
    /// Apply the migrations first.
    #[arg(long)]
    pub migrate: bool,
}

#[derive(Debug, Args)]
pub struct ImportArgs {
    #[command(flatten)]
    pub database: DatabaseArgs,
    /// What the file holds.
    #[arg(long, value_enum)]
    pub kind: ImportKind,
    /// Worksheet to read (default: the first one).
    #[arg(long)]
    pub sheet: Option<String>,
    /// Check the file and report, without writing anything.
    #[arg(long)]
    pub dry_run: bool,
    /// The file: .xlsx, .xlsm, .xls, .ods, or .csv (`,` or `;` separated, UTF-8).
    pub file: PathBuf,
}

pub(crate) async fn migrate(url: &str) -> anyhow::Result<()> {
    let report = database::migrate(url).await?;
    if report.created_database {
        tracing::info!(database = %database::describe(url), "created the database");
    }
    if report.applied.is_empty() {
        tracing::info!("schema is up to date");
    } else {
        tracing::info!(versions = ?report.applied, "applied migrations");
    }
    Ok(())
}

/// Generates and loads sample data with a progress bar; returns the rows loaded.
pub async fn load_sample_data(url: &str, options: Options) -> anyhow::Result<u64> {
    tracing::info!(seed = options.seed, scale = options.scale, from = %options.start(), until = %options.end, "generating sample data");
    let dataset = tokio::task::spawn_blocking(move || Dataset::generate(options)).await?;
    let bar = ProgressBar::new(dataset.total_rows());
    bar.set_style(
        ProgressStyle::with_template("{msg:32} [{bar:30}] {human_pos}/{human_len} rows, {per_sec}, ETA {eta}")
            .unwrap_or_else(|_| ProgressStyle::default_bar())
            .progress_chars("=> "),
    );
    let pool = database::connect(url, 1).await?;
    let mut connection = pool.acquire().await.context("cannot open a connection")?;
    let started = std::time::Instant::now();
    let report = opsflux_sample_data::load(&mut connection, &dataset, |event| match event {
        LoadEvent::Table { name, .. } => bar.set_message(name),
        LoadEvent::Rows(rows) => bar.inc(rows),
    })
    .await;
    bar.finish_and_clear();
    let report = report?;
    let seconds = started.elapsed().as_secs_f64();
    tracing::info!(
        rows = report.total_rows(),
        tables = report.tables.len(),
        seconds = format!("{seconds:.1}"),
        rows_per_second = format!("{:.0}", report.total_rows() as f64 / seconds),
        "sample data loaded"
    );
    Ok(report.total_rows())
}

pub(crate) async fn run_import(args: ImportArgs) -> anyhow::Result<()> {
    match args.kind {
        ImportKind::Equipment => {
            let file = args.file.clone();
            let sheet = args.sheet.clone();
            let rows = tokio::task::spawn_blocking(move || import::read_equipment(&file, sheet.as_deref())).await??;
            if args.dry_run {
                println!("{}: {} equipment rows are valid (dry run, nothing written)", args.file.display(), rows.len());
                return Ok(());
            }
            let pool = database::connect(&args.database.database_url, 2).await?;
            let report = import::write_equipment(&pool, &rows).await?;
            println!(
                "{}: {} equipment inserted, {} updated{}",
                args.file.display(),
                report.inserted,
                report.updated,
                if report.switchboards_created.is_empty() {
                    String::new()
                } else {
                    format!("; switchboards created: {}", report.switchboards_created.join(", "))
                }
            );
            Ok(())
        }
    }
}

/// Today on this machine's calendar, the day sample data ends by default.
pub(crate) fn today() -> chrono::NaiveDate {
    chrono::Local::now().date_naive()
}

/// `opsflux sample-data`: into a database (loaded with COPY) or straight into a warehouse.
pub(crate) async fn sample_data(args: SampleDataArgs) -> anyhow::Result<()> {
    let options = Options::new(args.seed, args.scale)?.ending(args.end_date.unwrap_or_else(today));
    match (&args.warehouse, &args.database_url) {
        (Some(warehouse), _) => {
            if args.migrate {
                anyhow::bail!("--migrate applies to a database; --warehouse writes no database");
            }
            crate::sample_warehouse::write_sample_warehouse(warehouse, options).await.map(|_| ())
        }
        (None, Some(url)) => {
            if args.migrate {
                migrate(url).await?;
            }
            load_sample_data(url, options).await.map(|_| ())
        }
        (None, None) => anyhow::bail!("give --database-url (or OPSFLUX_DATABASE_URL) or --warehouse"),
    }
}
