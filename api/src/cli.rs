//! The `opsflux` command line: argument definitions (shown by `--help`) and what each
//! subcommand does. `main.rs` only parses and calls [`run`].

use std::net::SocketAddr;
use std::path::PathBuf;

use anyhow::{Context, bail};
use clap::{Args, Parser, Subcommand};
use indicatif::{ProgressBar, ProgressStyle};
use opsflux_sample_data::{Dataset, LoadEvent, Options};
use opsflux_warehouse::Warehouse;

use crate::cluster::{Cluster, ClusterOptions};
use crate::database;
use crate::import::{self, ImportKind};
use crate::web::{self, AppState};

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
    /// (weekly-site-report, powertrace-monthly, moc-dossier, 5s-audit, project-progress)
    /// or a document file, to PDF, DOCX, XLSX or an HTML preview.
    Render(RenderArgs),
    /// Capture changes from PostgreSQL into the warehouse (logical replication): an initial
    /// copy, then every change in commit order, exactly once. `ingest status` reports lag.
    Ingest(crate::capture::IngestArgs),
}

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
    /// First day after the generated history (planned work lies beyond it).
    #[arg(long, default_value_t = Options::DEFAULT_END)]
    pub end_date: chrono::NaiveDate,
    /// Apply the migrations first.
    #[arg(long)]
    pub migrate: bool,
}

#[derive(Debug, Args)]
#[command(group(clap::ArgGroup::new("source").required(true).args(["template", "document"])))]
pub struct RenderArgs {
    /// The warehouse directory to read.
    #[arg(long, env = "OPSFLUX_WAREHOUSE")]
    pub warehouse: PathBuf,
    /// A shipped template: weekly-site-report, powertrace-monthly, moc-dossier, 5s-audit
    /// or project-progress.
    #[arg(long)]
    pub template: Option<String>,
    /// A document file in Editor.js form (blocks and settings), instead of a template.
    #[arg(long)]
    pub document: Option<PathBuf>,
    /// A template parameter, `key=value`; repeat for several. Templates take `site`
    /// (a site code; all sites by default), `period` (`2026-W46` or `2026-10`; the last
    /// complete week or month by default) and `locale` (fr-FR, en-GB, en-US).
    #[arg(long = "param", value_name = "KEY=VALUE")]
    pub parameters: Vec<String>,
    /// pdf, docx, xlsx or html (default: the extension of --out).
    #[arg(long)]
    pub format: Option<String>,
    /// The file to write; it appears only once complete.
    #[arg(long)]
    pub out: PathBuf,
    /// The day the document is dated and periods are counted from (default: today).
    #[arg(long)]
    pub today: Option<chrono::NaiveDate>,
    #[command(flatten)]
    pub query: QueryArgs,
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

#[derive(Debug, Args)]
pub struct ServeArgs {
    /// PostgreSQL connection URL to capture from, e.g. postgres://user@127.0.0.1:5432/opsflux.
    /// Without it the server reads the warehouse only.
    #[arg(long, env = "OPSFLUX_DATABASE_URL")]
    pub database_url: Option<String>,
    /// Address to listen on.
    #[arg(long, default_value = "127.0.0.1:8080")]
    pub listen: SocketAddr,
    #[command(flatten)]
    pub capture: crate::capture::WarehouseArgs,
    /// Serve only: do not capture changes into the warehouse alongside.
    #[arg(long)]
    pub no_ingest: bool,
    #[command(flatten)]
    pub query: QueryArgs,
}

/// How metrics are defined and answered.
#[derive(Debug, Clone, Args)]
pub struct QueryArgs {
    /// A directory of metric catalog files (`*.toml`) to use instead of the shipped catalog.
    #[arg(long, env = "OPSFLUX_METRICS")]
    pub metrics: Option<PathBuf>,
    /// Seconds between looks at the warehouse for new versions; dashboards then read
    /// the new snapshot (rollups whose sources changed are computed again).
    #[arg(long, default_value_t = 5)]
    pub refresh_seconds: u64,
    /// Threads running queries (default: the machine's cores).
    #[arg(long)]
    pub query_threads: Option<usize>,
    /// Tables with at most this many rows are held in memory once per warehouse
    /// snapshot; larger ones (meter readings) are read from their files per query.
    #[arg(long, default_value_t = 2_000_000)]
    pub memory_rows: u64,
}

impl QueryArgs {
    fn catalog(&self) -> anyhow::Result<opsflux_query::Catalog> {
        Ok(match &self.metrics {
            Some(directory) => opsflux_query::Catalog::load_dir(directory)?,
            None => opsflux_query::Catalog::shipped()?,
        })
    }

    fn settings(&self) -> opsflux_query::EngineSettings {
        let mut settings = opsflux_query::EngineSettings { memory_rows: self.memory_rows, ..Default::default() };
        if let Some(threads) = self.query_threads {
            settings.threads = threads;
        }
        settings
    }
}

impl Default for QueryArgs {
    fn default() -> Self {
        Self { metrics: None, refresh_seconds: 5, query_threads: None, memory_rows: 2_000_000 }
    }
}

#[derive(Debug, Args)]
#[command(group(clap::ArgGroup::new("what").required(true).args(["table", "metric"])))]
pub struct ExportArgs {
    /// The warehouse directory.
    #[arg(long, env = "OPSFLUX_WAREHOUSE", default_value = "data/warehouse")]
    pub warehouse: PathBuf,
    /// A warehouse table, `schema.table` (its current rows, change log merged).
    #[arg(long)]
    pub table: Option<String>,
    /// A metric of the catalog (`GET /api/metrics` or the `metrics/` files list them).
    #[arg(long)]
    pub metric: Option<String>,
    /// parquet, csv, xlsx or arrow; by default taken from the output file's extension.
    #[arg(long)]
    pub format: Option<String>,
    /// The file to write; it appears only once complete.
    #[arg(long)]
    pub out: PathBuf,
    /// Metric only: site codes, comma separated (default: all sites).
    #[arg(long)]
    pub site: Option<String>,
    /// Metric only: first day, YYYY-MM-DD (default: 89 days before --to).
    #[arg(long)]
    pub from: Option<String>,
    /// Metric only: last day, YYYY-MM-DD (default: today).
    #[arg(long)]
    pub to: Option<String>,
    /// Metric only: day, week, month, quarter, year or total (default: the metric's).
    #[arg(long)]
    pub grain: Option<String>,
    /// Metric only: dimensions to group by, comma separated (default: the metric's).
    #[arg(long)]
    pub by: Option<String>,
    #[command(flatten)]
    pub query: QueryArgs,
}

#[derive(Debug, Args)]
pub struct DemoArgs {
    /// Where the private PostgreSQL cluster (and later the warehouse) live; kept between runs.
    #[arg(long, default_value = "data")]
    pub data_dir: PathBuf,
    /// Address the web pages listen on.
    #[arg(long, default_value = "127.0.0.1:8080")]
    pub listen: SocketAddr,
    /// Loopback port of the private PostgreSQL.
    #[arg(long, default_value_t = 55432)]
    pub postgres_port: u16,
    /// Seed of the sample data loaded on first start.
    #[arg(long, default_value_t = 42)]
    pub seed: u64,
    /// Scale of the sample data loaded on first start (0.1 ≈ one million meter readings).
    #[arg(long, default_value_t = 0.1)]
    pub scale: f64,
    /// Stop once the sample data is loaded and captured into the warehouse, instead of
    /// serving (for scripted checks).
    #[arg(long)]
    pub no_serve: bool,
}

/// The whole program: logging to stderr (`OPSFLUX_LOG` filters, default `info`), the
/// command line, a runtime, and an exit status.
pub fn main() -> std::process::ExitCode {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_env("OPSFLUX_LOG")
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info")),
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
        Command::Migrate(args) => migrate(&args.database_url).await,
        Command::SampleData(args) => {
            let mut options = Options::new(args.seed, args.scale)?;
            options.end = args.end_date;
            match (&args.warehouse, &args.database_url) {
                (Some(warehouse), _) => {
                    if args.migrate {
                        bail!("--migrate applies to a database; --warehouse writes no database");
                    }
                    crate::sample_warehouse::write_sample_warehouse(warehouse, options).await.map(|_| ())
                }
                (None, Some(url)) => {
                    if args.migrate {
                        migrate(url).await?;
                    }
                    load_sample_data(url, options).await.map(|_| ())
                }
                (None, None) => bail!("give --database-url (or OPSFLUX_DATABASE_URL) or --warehouse"),
            }
        }
        Command::Import(args) => run_import(args).await,
        Command::Serve(args) => {
            let stop = crate::capture::stop_on_ctrl_c();
            let engine = open_engine(&args.capture.warehouse, &args.query).await?;
            let Some(url) = &args.database_url else {
                let source = format!("entrepôt {}", args.capture.warehouse.display());
                tracing::info!(warehouse = %args.capture.warehouse.display(), "no database URL: read-only dashboards over the warehouse");
                return serve(AppState { pool: None, source, engine }, args.listen, &args.query, stop).await;
            };
            let pool = database::connect(url, 8).await?;
            let ingest = if args.no_ingest {
                None
            } else {
                let options = ingest_options(&args.capture)?;
                Some(spawn_ingest(url, &args.capture.warehouse, options, stop.clone()))
            };
            let state = AppState { pool: Some(pool), source: database::describe(url), engine };
            let served = serve(state, args.listen, &args.query, stop).await;
            finish_ingest(ingest).await;
            served
        }
        Command::Export(args) => export(args).await,
        Command::Render(args) => render(args).await,
        Command::Demo(args) => demo(args).await,
        Command::Ingest(args) => crate::capture::run(args).await,
    }
}

async fn migrate(url: &str) -> anyhow::Result<()> {
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

async fn run_import(args: ImportArgs) -> anyhow::Result<()> {
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

/// Opens the query engine over a warehouse: loads the catalog, pins the warehouse and
/// checks every metric against it.
pub async fn open_engine(warehouse: &std::path::Path, query: &QueryArgs) -> anyhow::Result<opsflux_query::Engine> {
    let catalog = query.catalog()?;
    let engine = opsflux_query::Engine::open(Warehouse::open(warehouse)?, catalog, query.settings())
        .await
        .with_context(|| format!("cannot open the warehouse {} for queries", warehouse.display()))?;
    let pin = engine.pin();
    tracing::info!(
        tables = pin.tables.len(),
        sites = pin.sites.len(),
        metrics = engine.catalog().metrics().count(),
        "warehouse pinned for queries"
    );
    Ok(engine)
}

async fn serve(
    state: AppState,
    listen: SocketAddr,
    query: &QueryArgs,
    mut stop: tokio::sync::watch::Receiver<bool>,
) -> anyhow::Result<()> {
    let listener = tokio::net::TcpListener::bind(listen).await.with_context(|| format!("cannot listen on {listen}"))?;
    tracing::info!("serving on http://{listen}/ (Ctrl-C to stop)");
    let engine = state.engine.clone();
    let every = std::time::Duration::from_secs(query.refresh_seconds.max(1));
    let mut refresh_stop = stop.clone();
    let refresher = tokio::spawn(async move {
        loop {
            tokio::select! {
                _ = tokio::time::sleep(every) => {}
                _ = refresh_stop.wait_for(|stop| *stop) => return,
            }
            if let Err(error) = engine.refresh().await {
                tracing::error!(
                    "the warehouse could not be pinned again; the dashboards keep the previous snapshot: {error}"
                );
            }
        }
    });
    let served = axum::serve(listener, web::router(state))
        .with_graceful_shutdown(async move {
            let _ = stop.wait_for(|stop| *stop).await.map(|_| ());
        })
        .await
        .context("the HTTP server stopped");
    refresher.abort();
    served
}

async fn export(args: ExportArgs) -> anyhow::Result<()> {
    let format_text = output_format(args.format.as_deref(), &args.out)?;
    let format: opsflux_query::ExportFormat = format_text.parse()?;
    let source = match (&args.table, &args.metric) {
        (Some(table), _) => {
            opsflux_query::ExportSource::Table(table.parse().with_context(|| format!("--table {table}"))?)
        }
        (None, Some(metric)) => opsflux_query::ExportSource::Metric {
            name: metric.clone(),
            request: opsflux_query::MetricRequest::from_text(
                args.site.as_deref(),
                args.from.as_deref(),
                args.to.as_deref(),
                args.grain.as_deref(),
                args.by.as_deref(),
                chrono::Utc::now().date_naive(),
            )
            .map_err(|error| anyhow::anyhow!("--{}: {error}", error.parameter()))?,
        },
        (None, None) => bail!("give --table or --metric"),
    };
    // A table needs no rollups: an empty catalog skips computing them.
    let query = &args.query;
    let catalog = if args.table.is_some() { opsflux_query::Catalog::default() } else { query.catalog()? };
    ensure_tables(&args.warehouse)?;
    let engine = opsflux_query::Engine::open(Warehouse::open(&args.warehouse)?, catalog, query.settings()).await?;
    engine.check_export(&source).map_err(|error| match error {
        opsflux_query::QueryError::Parameter(parameter) => anyhow::anyhow!("--{}: {parameter}", parameter.parameter()),
        other => other.into(),
    })?;
    let partial = partial_file(&args.out)?;
    let file = partial.reopen().context("cannot open the temporary export file")?;
    let bar = ProgressBar::new_spinner();
    bar.set_style(
        ProgressStyle::with_template("{spinner} {msg} {human_pos} rows, {per_sec}, {elapsed}")
            .unwrap_or_else(|_| ProgressStyle::default_spinner()),
    );
    bar.set_message(format!("exporting {}", source.name()));
    let progress_bar = bar.clone();
    let started = std::time::Instant::now();
    let summary = engine
        .export(
            source.clone(),
            format,
            Box::new(std::io::BufWriter::with_capacity(1 << 20, file)),
            Box::new(move |rows| progress_bar.set_position(rows)),
        )
        .await;
    bar.finish_and_clear();
    let summary = summary?;
    partial.persist(&args.out).with_context(|| format!("cannot write {}", args.out.display()))?;
    let bytes = std::fs::metadata(&args.out).map(|metadata| metadata.len()).unwrap_or(0);
    tracing::info!(
        export = %source.name(),
        rows = summary.rows,
        bytes,
        seconds = format!("{:.1}", started.elapsed().as_secs_f64()),
        out = %args.out.display(),
        "export written"
    );
    Ok(())
}

/// The format asked for, or else the output file's extension.
fn output_format(format: Option<&str>, out: &std::path::Path) -> anyhow::Result<String> {
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
fn ensure_tables(warehouse: &std::path::Path) -> anyhow::Result<()> {
    if Warehouse::open(warehouse)?.tables()?.is_empty() {
        bail!(
            "the warehouse {} holds no table: capture into it (opsflux ingest) or write sample data (opsflux sample-data --warehouse)",
            warehouse.display()
        );
    }
    Ok(())
}

/// A temporary file beside `out`, renamed onto it once complete (`persist`), so a
/// failure leaves nothing behind.
fn partial_file(out: &std::path::Path) -> anyhow::Result<tempfile::NamedTempFile> {
    let directory = out.parent().filter(|parent| !parent.as_os_str().is_empty()).unwrap_or(std::path::Path::new("."));
    tempfile::NamedTempFile::new_in(directory)
        .with_context(|| format!("cannot create a file in {}", directory.display()))
}

async fn render(args: RenderArgs) -> anyhow::Result<()> {
    let format_text = output_format(args.format.as_deref(), &args.out)?;
    let format: opsflux_render::OutputFormat =
        format_text.parse().map_err(|error: String| anyhow::anyhow!("--format: {error}"))?;
    let mut parameters = std::collections::BTreeMap::new();
    for parameter in &args.parameters {
        let (key, value) = parameter
            .split_once('=')
            .with_context(|| format!("--param {parameter}: expected key=value, e.g. site=ALPHA"))?;
        parameters.insert(key.trim().to_owned(), value.trim().to_owned());
    }
    let document = match (&args.template, &args.document) {
        (Some(name), _) => crate::documents::template(name)?,
        (None, Some(path)) => {
            let text = std::fs::read_to_string(path).with_context(|| format!("cannot read {}", path.display()))?;
            opsflux_render::Document::from_json(&text).with_context(|| path.display().to_string())?
        }
        (None, None) => bail!("give --template or --document"),
    };
    ensure_tables(&args.warehouse)?;
    let started = std::time::Instant::now();
    let bar = ProgressBar::new_spinner();
    bar.set_message("opening the warehouse");
    bar.enable_steady_tick(std::time::Duration::from_millis(120));
    let engine = open_engine(&args.warehouse, &args.query).await?;
    bar.set_message("binding data blocks and rendering");
    let today = args.today.unwrap_or_else(|| chrono::Utc::now().date_naive());
    let rendered = crate::documents::render(&engine, document, &parameters, format, today).await;
    bar.finish_and_clear();
    let (bytes, bound) = rendered?;
    let mut partial = partial_file(&args.out)?;
    std::io::Write::write_all(&mut partial, &bytes).context("cannot write the document")?;
    partial.persist(&args.out).with_context(|| format!("cannot write {}", args.out.display()))?;
    tracing::info!(
        title = %bound.title,
        bytes = bytes.len(),
        seconds = format!("{:.2}", started.elapsed().as_secs_f64()),
        warehouse = %bound.warehouse_line(),
        out = %args.out.display(),
        "document written"
    );
    Ok(())
}

/// Default capture settings under the given slot, publication and warehouse.
fn ingest_options(target: &crate::capture::WarehouseArgs) -> anyhow::Result<opsflux_ingest::IngestOptions> {
    Ok(opsflux_ingest::IngestOptions {
        names: opsflux_ingest::ReplicationNames::new(&target.publication, &target.slot)?,
        ..opsflux_ingest::IngestOptions::default()
    })
}

/// Captures changes in the background; an error is logged (the web pages stay up).
fn spawn_ingest(
    url: &str,
    warehouse: &std::path::Path,
    options: opsflux_ingest::IngestOptions,
    stop: tokio::sync::watch::Receiver<bool>,
) -> tokio::task::JoinHandle<()> {
    let url = url.to_owned();
    let warehouse = warehouse.to_owned();
    tokio::spawn(async move {
        if let Err(error) = crate::capture::ingest(&url, &warehouse, options, stop).await {
            tracing::error!("change capture stopped: {error:#}");
        }
    })
}

async fn finish_ingest(ingest: Option<tokio::task::JoinHandle<()>>) {
    if let Some(ingest) = ingest {
        let _ = ingest.await;
    }
}

async fn demo(args: DemoArgs) -> anyhow::Result<()> {
    let cluster_options =
        ClusterOptions { directory: args.data_dir.join("postgres"), port: Some(args.postgres_port), durable: true };
    tracing::info!(directory = %cluster_options.directory.display(), "starting the private PostgreSQL");
    let cluster = match tokio::task::spawn_blocking(move || Cluster::start(&cluster_options)).await? {
        Ok(cluster) => cluster,
        Err(error @ crate::cluster::ClusterError::BinariesMissing) => {
            return demo_without_postgres(&args, &error).await;
        }
        Err(error) => return Err(error.into()),
    };
    let url = cluster.url("opsflux");
    let outcome = demo_on(&url, &args).await;
    tracing::info!("stopping the private PostgreSQL");
    if let Err(error) = tokio::task::spawn_blocking(move || cluster.stop()).await? {
        tracing::warn!(%error, "PostgreSQL did not stop cleanly");
    }
    outcome
}

/// The demo's warehouse-only path: the sample data written straight into the warehouse.
async fn demo_without_postgres(args: &DemoArgs, missing: &crate::cluster::ClusterError) -> anyhow::Result<()> {
    let warehouse = args.data_dir.join("warehouse");
    tracing::warn!("{missing}");
    if Warehouse::open(&warehouse)?.tables()?.is_empty() {
        tracing::info!(warehouse = %warehouse.display(), "writing the sample data straight into the warehouse instead (as `opsflux sample-data --warehouse` does)");
        crate::sample_warehouse::write_sample_warehouse(&warehouse, Options::new(args.seed, args.scale)?).await?;
    } else {
        tracing::info!(warehouse = %warehouse.display(), "the warehouse already holds the sample data; keeping it");
    }
    if args.no_serve {
        return Ok(());
    }
    if args.listen.ip().is_unspecified() {
        bail!("refusing to serve the demo on {}: it has no authentication; use a loopback address", args.listen);
    }
    let query = QueryArgs::default();
    let engine = open_engine(&warehouse, &query).await?;
    let source = format!("entrepôt {} (sans PostgreSQL)", warehouse.display());
    serve(AppState { pool: None, source, engine }, args.listen, &query, crate::capture::stop_on_ctrl_c()).await
}

async fn demo_on(url: &str, args: &DemoArgs) -> anyhow::Result<()> {
    migrate(url).await?;
    let pool = database::connect(url, 8).await?;
    let sites: i64 = sqlx::query_scalar("SELECT count(*) FROM core.sites").fetch_one(&pool).await?;
    if sites == 0 {
        load_sample_data(url, Options::new(args.seed, args.scale)?).await?;
    } else {
        tracing::info!(sites, "sample data already loaded; keeping it (delete the data directory to start afresh)");
    }
    let warehouse = args.data_dir.join("warehouse");
    let options = opsflux_ingest::IngestOptions::default();
    if args.no_serve {
        let options = opsflux_ingest::IngestOptions { until_caught_up: true, ..options };
        crate::capture::ingest(url, &warehouse, options, crate::capture::stop_on_ctrl_c()).await?;
        return Ok(());
    }
    if args.listen.ip().is_unspecified() {
        bail!("refusing to serve the demo on {}: it has no authentication; use a loopback address", args.listen);
    }
    let stop = crate::capture::stop_on_ctrl_c();
    let ingest = spawn_ingest(url, &warehouse, options, stop.clone());
    let query = QueryArgs::default();
    let served = match open_engine(&warehouse, &query).await {
        Ok(engine) => {
            let state = AppState { pool: Some(pool), source: database::describe(url), engine };
            serve(state, args.listen, &query, stop).await
        }
        Err(error) => Err(error),
    };
    finish_ingest(Some(ingest)).await;
    served
}
