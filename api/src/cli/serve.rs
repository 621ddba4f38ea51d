//! `opsflux serve` and `opsflux demo`: the web server over the warehouse, with sign-in
//! when a database is given (capture alongside), and the no-configuration demo.

use std::net::SocketAddr;
use std::path::PathBuf;

use anyhow::{Context, bail};
use clap::Args;
use opsflux_sample_data::Options;
use opsflux_warehouse::Warehouse;

use crate::cluster::{Cluster, ClusterOptions};
use crate::database;
use crate::http::AppState;

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
    pub capture: super::capture::WarehouseArgs,
    #[command(flatten)]
    pub search: super::search::SearchDirArgs,
    /// Serve only: do not capture changes into the warehouse alongside.
    #[arg(long)]
    pub no_ingest: bool,
    /// The address browsers use to reach the server (e.g. https://opsflux.example.com):
    /// requests naming another host are refused, and cookies are `Secure` behind https.
    /// Required when listening on a non-loopback address.
    #[arg(long, env = "OPSFLUX_PUBLIC_URL")]
    pub public_url: Option<String>,
    #[command(flatten)]
    pub limits: LimitArgs,
    #[command(flatten)]
    pub query: QueryArgs,
    #[command(flatten)]
    pub mail: super::scheduler::MailArgs,
    #[command(flatten)]
    pub scheduler: super::scheduler::SchedulerArgs,
}

/// How much one request may take.
#[derive(Debug, Clone, Args)]
pub struct LimitArgs {
    /// Renders running at once; others wait up to 10 s, then get 503.
    #[arg(long, default_value_t = 2)]
    pub max_renders: usize,
    /// A render (binding and writing) running longer than this is stopped.
    #[arg(long, default_value_t = 60)]
    pub render_timeout_seconds: u64,
}

impl Default for LimitArgs {
    fn default() -> Self {
        Self { max_renders: 2, render_timeout_seconds: 60 }
    }
}

impl LimitArgs {
    /// Documents with Typst snippets render in this same program as a worker process.
    pub(crate) fn render_limits(&self) -> crate::documents::RenderLimits {
        let worker = std::env::current_exe().ok();
        crate::documents::RenderLimits::new(
            self.max_renders,
            std::time::Duration::from_secs(self.render_timeout_seconds.max(1)),
            worker,
        )
    }
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
    /// A query running longer than this is cancelled (dashboards, metrics, document data).
    #[arg(long, default_value_t = 30)]
    pub query_timeout_seconds: u64,
    /// Memory one query's joins, sorts and aggregations may hold, in MiB; past it the
    /// query fails instead of the server.
    #[arg(long, default_value_t = 2048)]
    pub query_memory_mib: usize,
}

impl QueryArgs {
    pub(crate) fn catalog(&self) -> anyhow::Result<opsflux_query::Catalog> {
        Ok(match &self.metrics {
            Some(directory) => opsflux_query::Catalog::load_dir(directory)?,
            None => opsflux_query::Catalog::shipped()?,
        })
    }

    pub(crate) fn settings(&self) -> opsflux_query::EngineSettings {
        let mut settings = opsflux_query::EngineSettings {
            memory_rows: self.memory_rows,
            query_timeout: std::time::Duration::from_secs(self.query_timeout_seconds.max(1)),
            query_memory_bytes: self.query_memory_mib.max(16) << 20,
            ..Default::default()
        };
        if let Some(threads) = self.query_threads {
            settings.threads = threads;
        }
        settings
    }
}

impl Default for QueryArgs {
    fn default() -> Self {
        Self {
            metrics: None,
            refresh_seconds: 5,
            query_threads: None,
            memory_rows: 2_000_000,
            query_timeout_seconds: 30,
            query_memory_mib: 2048,
        }
    }
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
    /// The day the sample data ends, on first start (default: today).
    #[arg(long)]
    pub end_date: Option<chrono::NaiveDate>,
    /// Delete the demo's database and warehouse first and load fresh sample data (asked
    /// on a terminal when the data directory's sample data ends before today).
    #[arg(long)]
    pub regenerate: bool,
    /// Stop once the sample data is loaded and captured into the warehouse, instead of
    /// serving (for scripted checks).
    #[arg(long)]
    pub no_serve: bool,
    /// With an SMTP server, the sample schedules and any alert rules send their mail.
    #[command(flatten)]
    pub mail: super::scheduler::MailArgs,
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
    mut state: AppState,
    listen: SocketAddr,
    query: &QueryArgs,
    search_dir: &std::path::Path,
    mut stop: tokio::sync::watch::Receiver<bool>,
) -> anyhow::Result<()> {
    let listener = tokio::net::TcpListener::bind(listen).await.with_context(|| format!("cannot listen on {listen}"))?;
    let (index, follower) = super::search::open_and_follow(search_dir, state.engine.warehouse().clone(), stop.clone())?;
    state.search = Some(index);
    tracing::info!("serving on {}/ (Ctrl-C to stop)", state.public.origin);
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
    let served = crate::http::serve_on(listener, state, async move {
        let _ = stop.wait_for(|stop| *stop).await.map(|_| ());
    })
    .await
    .context("the HTTP server stopped");
    refresher.abort();
    follower.abort();
    served
}

/// A server over a warehouse alone has no users: it may only listen on loopback.
fn local_state(
    engine: opsflux_query::Engine,
    source: String,
    listen: SocketAddr,
    limits: &LimitArgs,
) -> anyhow::Result<AppState> {
    if !listen.ip().is_loopback() {
        bail!(
            "refusing to serve on {listen} without a database: with no users there is no sign-in, so a server over a \
             warehouse alone listens on a loopback address only (e.g. --listen 127.0.0.1:8080); give --database-url \
             to serve others with sign-in"
        );
    }
    let public = crate::http::PublicAddress::new(None, listen).map_err(anyhow::Error::msg)?;
    tracing::warn!("no database: read-only pages for this machine only (loopback), without sign-in");
    Ok(AppState { renders: std::sync::Arc::new(limits.render_limits()), ..AppState::local(engine, source, public) })
}

/// A server with its database: sign-in required everywhere but the public routes.
async fn database_state(
    pool: sqlx::PgPool,
    engine: opsflux_query::Engine,
    source: String,
    listen: SocketAddr,
    public_url: Option<&str>,
    limits: &LimitArgs,
) -> anyhow::Result<AppState> {
    let public = crate::http::PublicAddress::new(public_url, listen).map_err(anyhow::Error::msg)?;
    let state = AppState::with_database(pool, engine, source, public).await?;
    let users: i64 =
        sqlx::query_scalar("SELECT count(*) FROM platform.users WHERE password_hash IS NOT NULL AND is_active")
            .fetch_one(state.pool.as_ref().context("no pool")?)
            .await?;
    if users == 0 {
        tracing::warn!(
            "no user can sign in yet: create the first admin with `opsflux user add --role admin --email ...`"
        );
    }
    Ok(AppState { renders: std::sync::Arc::new(limits.render_limits()), ..state })
}

/// `opsflux serve`.
pub(crate) async fn serve_command(args: ServeArgs) -> anyhow::Result<()> {
    let stop = super::capture::stop_on_signal();
    let engine = open_engine(&args.capture.warehouse, &args.query).await?;
    let search_dir = args.search.directory(&args.capture.warehouse);
    let Some(url) = &args.database_url else {
        let source = format!("entrepôt {}", args.capture.warehouse.display());
        let state = local_state(engine, source, args.listen, &args.limits)?;
        return serve(state, args.listen, &args.query, &search_dir, stop).await;
    };
    let pool = database::connect(url, 8).await?;
    let state =
        database_state(pool, engine, database::describe(url), args.listen, args.public_url.as_deref(), &args.limits)
            .await?;
    let ingest = if args.no_ingest {
        None
    } else {
        let options = ingest_options(&args.capture)?;
        Some(spawn_ingest(url, &args.capture.warehouse, options, stop.clone(), state.health.clone()))
    };
    let scheduler = spawn_scheduler(&state, &args.mail, &args.scheduler, stop.clone())?;
    let served = serve(state, args.listen, &args.query, &search_dir, stop).await;
    finish_ingest(ingest).await;
    finish_ingest(scheduler).await;
    served
}

/// Runs the report scheduler and alert evaluation beside the server when an SMTP
/// server is configured; without one, says how to turn them on.
fn spawn_scheduler(
    state: &AppState,
    mail: &super::scheduler::MailArgs,
    settings: &super::scheduler::SchedulerArgs,
    stop: tokio::sync::watch::Receiver<bool>,
) -> anyhow::Result<Option<tokio::task::JoinHandle<()>>> {
    let (Some(pool), Some(mailer)) = (&state.pool, mail.mailer()?) else {
        tracing::info!("scheduled reports and alerts are off: give --smtp-url (or OPSFLUX_SMTP_URL) to send them");
        return Ok(None);
    };
    let scheduler = crate::jobs::scheduler::Scheduler::new(
        pool.clone(),
        state.engine.clone(),
        mailer,
        state.renders.clone(),
        settings.settings(&state.public.origin),
    );
    Ok(Some(tokio::spawn(async move { scheduler.run(stop).await })))
}

/// Default capture settings under the given slot, publication and warehouse.
fn ingest_options(target: &super::capture::WarehouseArgs) -> anyhow::Result<opsflux_ingest::IngestOptions> {
    Ok(opsflux_ingest::IngestOptions {
        names: opsflux_ingest::ReplicationNames::new(&target.publication, &target.slot)?,
        ..opsflux_ingest::IngestOptions::default()
    })
}

/// Captures changes in the background; an error is logged and `/healthz` reports it
/// (the web pages stay up).
fn spawn_ingest(
    url: &str,
    warehouse: &std::path::Path,
    options: opsflux_ingest::IngestOptions,
    stop: tokio::sync::watch::Receiver<bool>,
    health: crate::http::CaptureHealth,
) -> tokio::task::JoinHandle<()> {
    let url = url.to_owned();
    let warehouse = warehouse.to_owned();
    health.set(crate::http::CaptureState { running: true, ..Default::default() });
    tokio::spawn(async move {
        let outcome =
            super::capture::ingest_reporting(&url, &warehouse, options, stop.clone(), Some(health.clone())).await;
        let stopped_on_request = *stop.borrow();
        let failing = match outcome {
            Err(error) => {
                tracing::error!("change capture stopped: {error:#}");
                let summary = match error.downcast_ref::<opsflux_ingest::IngestError>() {
                    Some(error) => error.summary(),
                    None => "see the server log".to_owned(),
                };
                Some(format!("change capture stopped: {summary}"))
            }
            Ok(_) if !stopped_on_request => Some("change capture ended unexpectedly".to_owned()),
            Ok(_) => None,
        };
        let mut state = health.get();
        state.running = false;
        if failing.is_some() {
            state.failing = failing;
        }
        health.set(state);
    })
}

async fn finish_ingest(ingest: Option<tokio::task::JoinHandle<()>>) {
    if let Some(ingest) = ingest {
        let _ = ingest.await;
    }
}

pub(crate) async fn demo(args: DemoArgs) -> anyhow::Result<()> {
    // Watched from the first moment, so that a stop during start-up or loading still
    // reaches the code below that stops the private PostgreSQL.
    let stop = super::capture::stop_on_signal();
    if args.regenerate {
        super::demo_data::remove_demo_data(&args.data_dir)?;
    } else if let Some(reason) = super::demo_data::staleness(&args.data_dir, super::data::today()) {
        if super::demo_data::ask_to_regenerate(&reason) {
            super::demo_data::remove_demo_data(&args.data_dir)?;
        } else {
            tracing::warn!("{reason}; `opsflux demo --regenerate` starts afresh with data ending today");
        }
    }
    let cluster_options =
        ClusterOptions { directory: args.data_dir.join("postgres"), port: Some(args.postgres_port), durable: true };
    tracing::info!(directory = %cluster_options.directory.display(), "starting the private PostgreSQL");
    let cluster = match tokio::task::spawn_blocking(move || Cluster::start(&cluster_options)).await? {
        Ok(cluster) => cluster,
        Err(error @ crate::cluster::ClusterError::BinariesMissing) => {
            return demo_without_postgres(&args, &error, stop).await;
        }
        Err(error) => return Err(error.into()),
    };
    let url = cluster.url("opsflux");
    let outcome = demo_on(&url, &args, stop).await;
    tracing::info!("stopping the private PostgreSQL");
    if let Err(error) = tokio::task::spawn_blocking(move || cluster.stop()).await? {
        tracing::warn!(%error, "PostgreSQL did not stop cleanly");
    }
    outcome
}

/// The demo's warehouse-only path: the sample data written straight into the warehouse.
async fn demo_without_postgres(
    args: &DemoArgs,
    missing: &crate::cluster::ClusterError,
    stop: tokio::sync::watch::Receiver<bool>,
) -> anyhow::Result<()> {
    let warehouse = args.data_dir.join("warehouse");
    tracing::warn!("{missing}");
    if Warehouse::open(&warehouse)?.tables().await?.is_empty() {
        tracing::info!(warehouse = %warehouse.display(), "writing the sample data straight into the warehouse instead (as `opsflux sample-data --warehouse` does)");
        let options = sample_options(args)?;
        crate::sample_warehouse::write_sample_warehouse(&warehouse, options).await?;
        super::demo_data::SampleManifest::of(&options).write(&args.data_dir)?;
    } else {
        tracing::info!(warehouse = %warehouse.display(), "the warehouse already holds the sample data; keeping it");
    }
    if args.no_serve {
        return Ok(());
    }
    let query = QueryArgs::default();
    let engine = open_engine(&warehouse, &query).await?;
    let source = format!("entrepôt {} (sans PostgreSQL)", warehouse.display());
    let state = local_state(engine, source, args.listen, &LimitArgs::default())?;
    serve(state, args.listen, &query, &args.data_dir.join("search"), stop).await
}

/// Reads what the private PostgreSQL still holds for the warehouse (changes made just
/// before the stop), so the warehouse equals the database while both are down. Past
/// the time limit, or on a second Ctrl-C or SIGTERM, capture is asked to stop as it
/// always is (committing what it received), never cut off mid-write; the next start
/// resumes from there.
async fn catch_up_before_stopping(url: &str, warehouse: &std::path::Path) {
    const CATCH_UP: std::time::Duration = std::time::Duration::from_secs(30);
    let options = opsflux_ingest::IngestOptions { until_caught_up: true, ..opsflux_ingest::IngestOptions::default() };
    let (stop_sender, stop) = tokio::sync::watch::channel(false);
    let mut signal = super::capture::stop_on_signal();
    let caught_up = Box::pin(super::capture::ingest(url, warehouse, options, stop));
    let deadline = tokio::time::sleep(CATCH_UP);
    tokio::pin!(caught_up, deadline);
    let outcome = loop {
        let stopping = *stop_sender.borrow();
        tokio::select! {
            outcome = &mut caught_up => break outcome,
            () = &mut deadline, if !stopping => {
                tracing::warn!("catching up takes over {CATCH_UP:?}; stopping it (the next start resumes)");
                let _ = stop_sender.send(true);
            }
            _ = signal.changed(), if !stopping => {
                let _ = stop_sender.send(true);
            }
        }
    };
    match outcome {
        Ok(_) if !*stop_sender.borrow() => tracing::info!("the warehouse holds every change of the private PostgreSQL"),
        Ok(_) => {}
        Err(error) => tracing::warn!("catching up before stopping failed ({error:#}); the next start resumes"),
    }
}

/// The sample data the demo loads on first start.
fn sample_options(args: &DemoArgs) -> anyhow::Result<Options> {
    Ok(Options::new(args.seed, args.scale)?.ending(args.end_date.unwrap_or_else(super::data::today)))
}

/// Runs `work` unless a stop signal comes first; then the work is abandoned (its
/// transactions roll back as their connections close) and the caller cleans up.
async fn unless_stopped<T>(
    stop: &mut tokio::sync::watch::Receiver<bool>,
    work: impl Future<Output = anyhow::Result<T>>,
) -> anyhow::Result<T> {
    if *stop.borrow() {
        bail!("stopped before the demo was ready");
    }
    tokio::select! {
        outcome = work => outcome,
        _ = stop.changed() => bail!("stopped before the demo was ready"),
    }
}

async fn demo_on(url: &str, args: &DemoArgs, mut stop: tokio::sync::watch::Receiver<bool>) -> anyhow::Result<()> {
    unless_stopped(&mut stop, super::data::migrate(url)).await?;
    let pool = database::connect(url, 8).await?;
    let sites: i64 = sqlx::query_scalar("SELECT count(*) FROM core.sites").fetch_one(&pool).await?;
    if sites == 0 {
        let options = sample_options(args)?;
        unless_stopped(&mut stop, Box::pin(super::data::load_sample_data(url, options))).await?;
        super::demo_data::SampleManifest::of(&options).write(&args.data_dir)?;
    } else {
        tracing::info!(sites, "sample data already loaded; keeping it (delete the data directory to start afresh)");
    }
    let warehouse = args.data_dir.join("warehouse");
    let options = opsflux_ingest::IngestOptions::default();
    if args.no_serve {
        let options = opsflux_ingest::IngestOptions { until_caught_up: true, ..options };
        super::capture::ingest(url, &warehouse, options, stop).await?;
        return Ok(());
    }
    if !args.listen.ip().is_loopback() {
        bail!(
            "refusing to serve the demo on {}: use a loopback address (or `opsflux serve --public-url`)",
            args.listen
        );
    }
    super::user::demo_users(&pool, &args.data_dir).await?;
    let query = QueryArgs::default();
    match open_engine(&warehouse, &query).await {
        Ok(engine) => {
            let limits = LimitArgs::default();
            match database_state(pool, engine, database::describe(url), args.listen, None, &limits).await {
                Ok(state) => {
                    let ingest = spawn_ingest(url, &warehouse, options, stop.clone(), state.health.clone());
                    let scheduler =
                        spawn_scheduler(&state, &args.mail, &super::scheduler::SchedulerArgs::default(), stop.clone())?;
                    let served = serve(state, args.listen, &query, &args.data_dir.join("search"), stop).await;
                    finish_ingest(Some(ingest)).await;
                    finish_ingest(scheduler).await;
                    catch_up_before_stopping(url, &warehouse).await;
                    served
                }
                Err(error) => Err(error),
            }
        }
        Err(error) => Err(error),
    }
}
