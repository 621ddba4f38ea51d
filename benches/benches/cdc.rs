//! Change data capture, side by side with PostgreSQL's own tools on one cluster:
//!
//! 1. initial copy: `opsflux ingest` (all captured tables) against `COPY meter_readings TO
//!    STDOUT` through psql into /dev/null; peak memory of the ingest process;
//! 2. streaming: the same pending changes (inserts, updates, deletes of readings) read by
//!    `pg_recvlogical` into /dev/null, and decoded and applied by `opsflux ingest`;
//! 3. sustained load: inserts at a fixed rate for a while, with the delay between each
//!    source commit and the warehouse commit that makes it queryable;
//! 4. a query over the readings in the warehouse before and after compaction;
//! 5. a table created and filled while changes stream to the others: the time until the
//!    warehouse holds it, against `COPY … TO STDOUT` of the same table, and the lag of the
//!    other tables meanwhile;
//! 6. streaming into a warehouse on an S3-compatible server (moto on loopback) and into
//!    one on the local disk, from the same changes, against `pg_recvlogical`.
//!
//! Settings: OPSFLUX_BENCH_SCALE (default 1), OPSFLUX_BENCH_STREAM_CHANGES (1000000),
//! OPSFLUX_BENCH_RATE (rows/s, 20000), OPSFLUX_BENCH_SECONDS (sustained, 300),
//! OPSFLUX_BENCH_NEW_TABLE_ROWS (1000000), OPSFLUX_BENCH_NEW_TABLE_RATE (rows/s to the
//! other tables meanwhile, 5000), OPSFLUX_BENCH_S3_SCALE (source of section 6, 0.1),
//! OPSFLUX_BENCH_S3_CHANGES (200000).

use std::path::Path;
use std::process::Command;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use opsflux_api::cluster::{Cluster, ClusterOptions};
use opsflux_benches::{setting, timed};
use opsflux_ingest::source::Source;
use opsflux_ingest::{CommitReport, IngestOptions, Ingestor, Lsn, Observer, Outcome};
use opsflux_warehouse::{Fold, TableId, Warehouse};
use tokio::sync::watch;

const CHILD: &str = "OPSFLUX_BENCH_CHILD_INGEST";

fn main() -> anyhow::Result<()> {
    let runtime = tokio::runtime::Builder::new_multi_thread().enable_all().build()?;
    // The ingest process of sections 1 and 2: this program again, so its memory is its own.
    if let Ok(spec) = std::env::var(CHILD) {
        let (url, warehouse) = spec.split_once('\u{1f}').context("bad child specification")?;
        return runtime.block_on(async {
            let ingestor = Ingestor::new(
                Source::parse(url)?,
                Warehouse::open(Path::new(warehouse))?,
                IngestOptions { until_caught_up: true, ..IngestOptions::default() },
                Arc::new(MilestoneObserver(Instant::now())),
            );
            match ingestor.run(watch::channel(false).1).await? {
                Outcome::CaughtUp { .. } => Ok(()),
                Outcome::Stopped => bail!("stopped before catching up"),
            }
        });
    }

    let scale: f64 = setting("OPSFLUX_BENCH_SCALE", 1.0)?;
    let stream_changes: u64 = setting("OPSFLUX_BENCH_STREAM_CHANGES", 1_000_000)?;
    let rate: u64 = setting("OPSFLUX_BENCH_RATE", 20_000)?;
    let seconds: u64 = setting("OPSFLUX_BENCH_SECONDS", 300)?;
    let new_table_rows: u64 = setting("OPSFLUX_BENCH_NEW_TABLE_ROWS", 1_000_000)?;
    let new_table_rate: u64 = setting("OPSFLUX_BENCH_NEW_TABLE_RATE", 5_000)?;
    let s3_scale: f64 = setting("OPSFLUX_BENCH_S3_SCALE", 0.1)?;
    let s3_changes: u64 = setting("OPSFLUX_BENCH_S3_CHANGES", 200_000)?;
    let work = tempfile::Builder::new().prefix("opsflux-bench-cdc-").tempdir_in(std::env::temp_dir())?;
    std::fs::set_permissions(work.path(), std::os::unix::fs::PermissionsExt::from_mode(0o755))?;
    let cluster =
        Cluster::start(&ClusterOptions { directory: work.path().join("postgres"), port: None, durable: true })?;
    cluster.remove_when_process_exits(std::process::id())?;
    let outcome = runtime.block_on(async {
        run(&cluster, work.path(), scale, stream_changes, rate, seconds).await?;
        new_table(&cluster, work.path(), new_table_rows, new_table_rate).await?;
        s3_streaming(&cluster, work.path(), s3_scale, s3_changes).await
    });
    cluster.stop()?;
    outcome
}

async fn run(
    cluster: &Cluster,
    work: &Path,
    scale: f64,
    stream_changes: u64,
    rate: u64,
    seconds: u64,
) -> anyhow::Result<()> {
    let url = cluster.url("bench_cdc");
    opsflux_api::database::migrate(&url).await?;
    let pool = opsflux_api::database::connect(&url, 4).await?;
    let options = opsflux_sample_data::Options::new(42, scale)?;
    let dataset = tokio::task::spawn_blocking(move || opsflux_sample_data::Dataset::generate(options)).await?;
    let (loaded, load_time) = {
        let started = Instant::now();
        let mut connection = pool.acquire().await?;
        (opsflux_sample_data::load(&mut connection, &dataset, |_| {}).await?, started.elapsed())
    };
    drop(dataset);
    sqlx::query("VACUUM ANALYZE").execute(&pool).await?;
    let readings_rows: i64 =
        sqlx::query_scalar("SELECT count(*) FROM powertrace.meter_readings").fetch_one(&pool).await?;
    println!(
        "source: scale {scale}, {} rows ({readings_rows} meter readings), loaded in {:.0} s (not measured)",
        loaded.total_rows(),
        load_time.as_secs_f64()
    );
    let warehouse_path = work.join("warehouse");

    // 1. Initial copy.
    let copy_time = psql_copy_time(&url, "powertrace.meter_readings")?;
    let copy_run = run_child_ingest(&url, &warehouse_path)?;
    let (snapshot_time, snapshot_peak) = (copy_run.total, copy_run.peak_total);
    let warehouse = Warehouse::open(&warehouse_path)?;
    let readings: TableId = "powertrace.meter_readings".parse()?;
    let copied = warehouse.describe(&readings).await?.context("no readings table")?.rows;
    if copied != readings_rows as u64 {
        bail!("the warehouse holds {copied} readings, PostgreSQL {readings_rows}");
    }
    let copy_rate = readings_rows as f64 / copy_time.as_secs_f64();
    let snapshot_rate = loaded.total_rows() as f64 / snapshot_time.as_secs_f64();
    println!();
    println!("## 1. initial copy");
    println!("| reader | rows | seconds | rows/s | peak RSS |");
    println!("|---|---:|---:|---:|---:|");
    println!(
        "| psql `COPY meter_readings TO STDOUT` > /dev/null (baseline) | {readings_rows} | {:.1} | {copy_rate:.0} | - |",
        copy_time.as_secs_f64()
    );
    println!(
        "| opsflux ingest: initial copy of every table into Delta | {} | {:.1} | {snapshot_rate:.0} | {} MiB |",
        loaded.total_rows(),
        snapshot_time.as_secs_f64(),
        snapshot_peak / 1024
    );
    println!("ratio: {:.2}× (goal ≥ 0.5×); peak RSS goal < 1024 MiB", snapshot_rate / copy_rate);

    // 2. Streaming: both slots see the same pending changes.
    sqlx::query("SELECT pg_create_logical_replication_slot('bench_baseline', 'pgoutput')").execute(&pool).await?;
    let (made, write_time) = {
        let started = Instant::now();
        (write_changes(&pool, stream_changes).await?, started.elapsed())
    };
    let end: String = sqlx::query_scalar("SELECT pg_current_wal_lsn()::text").fetch_one(&pool).await?;
    println!();
    println!("## 2. streaming ({made} row changes written in {:.0} s, not measured)", write_time.as_secs_f64());
    let (status, recvlogical_time) = timed(|| {
        Command::new("pg_recvlogical")
            .args(["-d", &url, "--slot", "bench_baseline", "--start", "--endpos", &end, "--no-loop", "-f", "/dev/null"])
            .args(["-o", "proto_version=1", "-o", "publication_names=opsflux_cdc"])
            .status()
    });
    if !status.context("cannot run pg_recvlogical")?.success() {
        bail!("pg_recvlogical failed");
    }
    let stream_run = run_child_ingest(&url, &warehouse_path)?;
    check_counts(&pool, &warehouse, &readings).await?;
    let baseline_rate = made as f64 / recvlogical_time.as_secs_f64();
    let stream_rate = made as f64 / stream_run.caught_up.as_secs_f64();
    println!("| consumer | changes | seconds | changes/s | peak RSS |");
    println!("|---|---:|---:|---:|---:|");
    println!(
        "| pg_recvlogical (pgoutput) > /dev/null (baseline) | {made} | {:.1} | {baseline_rate:.0} | - |",
        recvlogical_time.as_secs_f64()
    );
    println!(
        "| opsflux ingest: decode, fold, commit to Delta (queryable, change log merged on read) | {made} | {:.1} | {stream_rate:.0} | {} MiB |",
        stream_run.caught_up.as_secs_f64(),
        stream_run.peak_caught_up / 1024
    );
    println!(
        "| the same, then the change log folded into the table's files, process exit | {made} | {:.1} | {:.0} | {} MiB |",
        stream_run.total.as_secs_f64(),
        made as f64 / stream_run.total.as_secs_f64(),
        stream_run.peak_total / 1024
    );
    println!("ratio: {:.2}× (goal ≥ 0.5×)", stream_rate / baseline_rate);
    sqlx::query("SELECT pg_drop_replication_slot('bench_baseline')").execute(&pool).await?;

    // 3. Sustained load, ingest in this process, no compaction meanwhile (section 4
    // measures the files it leaves).
    let lags = Arc::new(LagObserver::default());
    let ingestor = Ingestor::new(
        Source::parse(&url)?,
        warehouse.clone(),
        IngestOptions { maintenance_interval: Duration::from_secs(86_400), ..IngestOptions::default() },
        lags.clone(),
    );
    let (stop_sender, stop) = watch::channel(false);
    let running = tokio::spawn(async move { ingestor.run(stop).await });
    tokio::time::sleep(Duration::from_secs(3)).await;
    lags.0.lock().map_err(|_| anyhow::anyhow!("poisoned"))?.clear();
    let before = warehouse.describe(&readings).await?.context("no readings table")?;
    let written = write_at_rate(&pool, rate, Duration::from_secs(seconds), 2028).await?;
    tokio::time::sleep(Duration::from_secs(3)).await;
    stop_sender.send(true)?;
    running.await??;
    check_counts(&pool, &warehouse, &readings).await?;
    let mut samples = lags.0.lock().map_err(|_| anyhow::anyhow!("poisoned"))?.clone();
    samples.sort_by(f64::total_cmp);
    let percentile = |p: f64| percentile(&samples, p);
    println!();
    println!("## 3. sustained load");
    println!(
        "{written} inserts over {seconds} s = {:.0} rows/s (target {rate}); {} warehouse commits",
        written as f64 / seconds as f64,
        samples.len()
    );
    println!(
        "commit-to-queryable lag of the oldest transaction of each warehouse commit: p50 {:.2} s, p99 {:.2} s, max {:.2} s (goal p99 < 2 s)",
        percentile(0.5),
        percentile(0.99),
        percentile(1.0)
    );

    // 4. Query speed before and after compaction.
    let fragmented = warehouse.describe(&readings).await?.context("no readings table")?;
    let query = "SELECT meter_id, date_trunc('day', read_at) AS day, avg(kw) AS mean_kw, max(kw) AS peak_kw \
                 FROM meter_readings WHERE read_at >= TIMESTAMP '2026-10-01 00:00:00' GROUP BY 1, 2";
    let before_time = query_time(&warehouse, &readings, query).await?;
    let (compaction, compact_time) = {
        let started = Instant::now();
        (warehouse.compact(&readings, 128 << 20).await?, started.elapsed())
    };
    let compacted = warehouse.describe(&readings).await?.context("no readings table")?;
    let after_time = query_time(&warehouse, &readings, query).await?;
    println!();
    println!("## 4. query over the warehouse readings (DataFusion), median of 3");
    println!("files: {} before the sustained load, {} after it", before.files, fragmented.files);
    println!("| table state | files | query seconds |");
    println!("|---|---:|---:|");
    println!("| before compaction | {} | {:.2} |", fragmented.files, before_time.as_secs_f64());
    println!("| after compaction | {} | {:.2} |", compacted.files, after_time.as_secs_f64());
    println!(
        "compaction: {} files into {} in {:.1} s",
        compaction.files_removed,
        compaction.files_added,
        compact_time.as_secs_f64()
    );
    Ok(())
}

/// Section 5: a table created and filled with `rows` rows while `rate` rows per second
/// are inserted into the readings, with ingest streaming in this process.
async fn new_table(cluster: &Cluster, work: &Path, rows: u64, rate: u64) -> anyhow::Result<()> {
    let url = cluster.url("bench_cdc");
    let pool = opsflux_api::database::connect(&url, 4).await?;
    let warehouse = Warehouse::open(&work.join("warehouse"))?;
    let observer = Arc::new(NewTableObserver::default());
    let ingestor = Ingestor::new(
        Source::parse(&url)?,
        warehouse.clone(),
        IngestOptions {
            maintenance_interval: Duration::from_secs(86_400),
            discover_interval: Duration::from_secs(1),
            ..IngestOptions::default()
        },
        observer.clone(),
    );
    let (stop_sender, stop) = watch::channel(false);
    let running = tokio::spawn(async move { ingestor.run(stop).await });
    tokio::time::sleep(Duration::from_secs(3)).await;
    // The other tables' load runs throughout; the table appears once it is steady.
    let load = {
        let pool = pool.clone();
        tokio::spawn(async move { write_at_rate(&pool, rate, Duration::from_secs(3600 * 24), 2029).await })
    };
    tokio::time::sleep(Duration::from_secs(5)).await;
    let (filled, fill_time) = {
        let started = Instant::now();
        sqlx::raw_sql(sqlx::AssertSqlSafe(format!(
            "CREATE SCHEMA IF NOT EXISTS bench;
             CREATE TABLE bench.arrivals (id bigint PRIMARY KEY, site text NOT NULL, note text, value double precision, at timestamptz);
             INSERT INTO bench.arrivals SELECT g, 'site ' || g % 40, repeat('x', 40) || g, g * 0.5,
                    timestamptz '2026-01-01' + make_interval(secs => g) FROM generate_series(1, {rows}) g"
        )))
        .execute(&pool)
        .await?;
        (Instant::now(), started.elapsed())
    };
    observer.window.lock().map_err(|_| anyhow::anyhow!("poisoned"))?.0 = Some(filled);
    let arrivals: TableId = "bench.arrivals".parse()?;
    let deadline = Instant::now() + Duration::from_secs(1800);
    let copied_at = loop {
        if let Some(at) = observer.window.lock().map_err(|_| anyhow::anyhow!("poisoned"))?.1 {
            break at;
        }
        if Instant::now() > deadline || running.is_finished() {
            bail!("the new table was not copied within 30 minutes");
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    tokio::time::sleep(Duration::from_secs(5)).await;
    // The other tables' commits from the filling on, until 5 s after the copy was in:
    // PostgreSQL decodes the filling transaction in the main slot too, before any later one.
    let mut during = observer.lags_between(filled, Instant::now())?;
    if load.is_finished() {
        load.await??;
        bail!("the load on the other tables stopped early");
    }
    load.abort();
    tokio::time::sleep(Duration::from_secs(3)).await;
    stop_sender.send(true)?;
    running.await??;
    let held = warehouse.read(&arrivals, None).await?.iter().map(|batch| batch.num_rows() as u64).sum::<u64>();
    if held != rows {
        bail!("the warehouse holds {held} rows of the new table, PostgreSQL {rows}");
    }
    let baseline = psql_copy_time(&url, "bench.arrivals")?;
    during.sort_by(f64::total_cmp);
    let percentile = |p: f64| percentile(&during, p);
    let captured = copied_at - filled;
    println!();
    println!("## 5. a new table of {rows} rows while {rate} rows/s stream to the others");
    println!("(created and filled in {:.1} s, not measured)", fill_time.as_secs_f64());
    println!("| reader | rows | seconds | rows/s |");
    println!("|---|---:|---:|---:|");
    println!(
        "| psql `COPY bench.arrivals TO STDOUT` > /dev/null (baseline) | {rows} | {:.1} | {:.0} |",
        baseline.as_secs_f64(),
        rows as f64 / baseline.as_secs_f64()
    );
    println!(
        "| opsflux: noticed, published and copied under a temporary slot, then followed | {rows} | {:.1} | {:.0} |",
        captured.as_secs_f64(),
        rows as f64 / captured.as_secs_f64()
    );
    println!(
        "lag of the other tables from the filling until 5 s after the copy ({} warehouse commits): p50 {:.2} s, p99 {:.2} s, max {:.2} s",
        during.len(),
        percentile(0.5),
        percentile(0.99),
        percentile(1.0)
    );
    Ok(())
}

/// Lags per warehouse commit with their time, and when a copy made while streaming ended.
#[derive(Debug, Default)]
struct NewTableObserver {
    lags: Mutex<Vec<(Instant, f64)>>,
    /// When the new table was filled, and when its copy was in.
    window: Mutex<(Option<Instant>, Option<Instant>)>,
}

impl NewTableObserver {
    fn lags_between(&self, from: Instant, to: Instant) -> anyhow::Result<Vec<f64>> {
        let lags = self.lags.lock().map_err(|_| anyhow::anyhow!("poisoned"))?;
        Ok(lags.iter().filter(|(at, _)| *at >= from && *at <= to).map(|(_, lag)| *lag).collect())
    }
}

impl Observer for NewTableObserver {
    fn committed(&self, report: &CommitReport) {
        if let Some(oldest) = report.oldest_source_commit_unix_micros {
            let lag = seconds_since(oldest);
            if let Ok(mut lags) = self.lags.lock() {
                lags.push((Instant::now(), lag));
            }
        }
    }

    fn retrying(&self, error: &opsflux_ingest::IngestError, delay: Duration) {
        eprintln!("ingest retrying in {} s: {error}", delay.as_secs());
    }

    fn snapshot_finished(&self, _rows: u64, _elapsed: Duration) {
        if let Ok(mut window) = self.window.lock()
            && window.0.is_some()
        {
            window.1.get_or_insert_with(Instant::now);
        }
    }
}

/// Seconds `psql` takes to `COPY table TO STDOUT` into /dev/null: the copy baseline.
/// Section 6: the streaming of section 2 into a warehouse on an S3-compatible server
/// (moto on loopback) and into one on the local disk, from the same changes, each
/// writer with its own slot.
async fn s3_streaming(cluster: &Cluster, work: &Path, scale: f64, changes: u64) -> anyhow::Result<()> {
    use opsflux_ingest::ReplicationNames;
    let url = cluster.url("bench_s3");
    opsflux_api::database::migrate(&url).await?;
    let pool = opsflux_api::database::connect(&url, 4).await?;
    let options = opsflux_sample_data::Options::new(42, scale)?;
    let dataset = tokio::task::spawn_blocking(move || opsflux_sample_data::Dataset::generate(options)).await?;
    opsflux_sample_data::load(&mut *pool.acquire().await?, &dataset, |_| {}).await?;
    drop(dataset);
    let s3 = opsflux_warehouse::test_support::S3Server::start();
    s3.create_bucket("bench");
    let remote = Warehouse::with_storage(s3.storage("s3://bench/warehouse"));
    let local = Warehouse::open(&work.join("warehouse-beside-s3"))?;
    let catch_up = |slot: &'static str, warehouse: Warehouse| {
        let url = url.clone();
        async move {
            let started = Instant::now();
            let options = IngestOptions {
                names: ReplicationNames::new(slot, slot)?,
                until_caught_up: true,
                ..IngestOptions::default()
            };
            let ingestor = Ingestor::new(Source::parse(&url)?, warehouse, options, Arc::new(LagObserver::default()));
            match ingestor.run(watch::channel(false).1).await? {
                Outcome::CaughtUp { .. } => Ok::<_, anyhow::Error>(started.elapsed()),
                Outcome::Stopped => bail!("stopped before catching up"),
            }
        }
    };
    let local_copy = catch_up("bench_local", local.clone()).await?;
    let remote_copy = catch_up("bench_s3", remote.clone()).await?;
    sqlx::query("SELECT pg_create_logical_replication_slot('bench_s3_baseline', 'pgoutput')").execute(&pool).await?;
    let made = write_changes(&pool, changes).await?;
    let end: String = sqlx::query_scalar("SELECT pg_current_wal_lsn()::text").fetch_one(&pool).await?;
    let (status, recvlogical_time) = timed(|| {
        Command::new("pg_recvlogical")
            .args([
                "-d",
                &url,
                "--slot",
                "bench_s3_baseline",
                "--start",
                "--endpos",
                &end,
                "--no-loop",
                "-f",
                "/dev/null",
            ])
            .args(["-o", "proto_version=1", "-o", "publication_names=bench_s3"])
            .status()
    });
    if !status.context("cannot run pg_recvlogical")?.success() {
        bail!("pg_recvlogical failed");
    }
    let local_time = catch_up("bench_local", local.clone()).await?;
    let remote_time = catch_up("bench_s3", remote.clone()).await?;
    let readings: TableId = "powertrace.meter_readings".parse()?;
    check_counts(&pool, &local, &readings).await?;
    check_counts(&pool, &remote, &readings).await?;
    sqlx::query("SELECT pg_drop_replication_slot('bench_s3_baseline')").execute(&pool).await?;
    let rate = |time: Duration| made as f64 / time.as_secs_f64();
    println!();
    println!(
        "## 6. streaming into S3 (moto on loopback) and into the local disk (scale {scale} source; initial copies {:.1} s local, {:.1} s S3, not measured)",
        local_copy.as_secs_f64(),
        remote_copy.as_secs_f64()
    );
    println!("| consumer | changes | seconds | changes/s |");
    println!("|---|---:|---:|---:|");
    println!(
        "| pg_recvlogical (pgoutput) > /dev/null (baseline) | {made} | {:.1} | {:.0} |",
        recvlogical_time.as_secs_f64(),
        rate(recvlogical_time)
    );
    for (target, time) in [("local disk", local_time), ("S3", remote_time)] {
        println!(
            "| opsflux ingest into {target}: decode, commit, fold, exit | {made} | {:.1} | {:.0} |",
            time.as_secs_f64(),
            rate(time)
        );
    }
    println!(
        "ratios: S3 {:.2}× of pg_recvlogical, {:.2}× of the local disk",
        rate(remote_time) / rate(recvlogical_time),
        rate(remote_time) / rate(local_time)
    );
    Ok(())
}

fn psql_copy_time(url: &str, table: &str) -> anyhow::Result<Duration> {
    let (status, time) = timed(|| {
        Command::new("sh")
            .arg("-c")
            .arg(format!("psql -X -q -d '{url}' -c 'COPY {table} TO STDOUT' > /dev/null"))
            .status()
    });
    if !status.context("cannot run psql")?.success() {
        bail!("psql COPY of {table} failed");
    }
    Ok(time)
}

/// The `p` quantile (0 to 1) of sorted `samples`, nearest rank; 0 without samples.
fn percentile(samples: &[f64], p: f64) -> f64 {
    samples.get(((samples.len() as f64 - 1.0) * p).round() as usize).copied().unwrap_or(0.0)
}

/// Seconds from `unix_micros` (a source commit time) until now.
fn seconds_since(unix_micros: i64) -> f64 {
    (chrono::Utc::now().timestamp_micros() - unix_micros) as f64 / 1e6
}

/// What the ingest process of sections 1 and 2 took.
struct ChildRun {
    /// Until everything was queryable (committed, change logs merged on read).
    caught_up: Duration,
    /// Until the change logs were folded into the tables' files and the process ended.
    total: Duration,
    /// Peak resident memory in KiB until caught up, and over the whole run.
    peak_caught_up: u64,
    peak_total: u64,
}

/// Runs `opsflux ingest --until-caught-up` as its own process; times its milestones and
/// samples its peak resident memory from /proc while it runs.
fn run_child_ingest(url: &str, warehouse: &Path) -> anyhow::Result<ChildRun> {
    let started = Instant::now();
    let mut child = Command::new(std::env::current_exe()?)
        .env(CHILD, format!("{url}\u{1f}{}", warehouse.display()))
        .env("OPSFLUX_LOG", "warn")
        .stdout(std::process::Stdio::piped())
        .spawn()?;
    let stdout = child.stdout.take().context("no child output")?;
    let (milestones, received) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        for line in std::io::BufRead::lines(std::io::BufReader::new(stdout)).map_while(Result::ok) {
            if line == CAUGHT_UP && milestones.send(Instant::now()).is_err() {
                return;
            }
        }
    });
    let status_path = format!("/proc/{}/status", child.id());
    let (mut peak, mut caught_up) = (0, None);
    loop {
        if let Some(status) = child.try_wait()? {
            if !status.success() {
                bail!("the ingest process failed");
            }
            let total = started.elapsed();
            let (caught_up, peak_caught_up) = caught_up.unwrap_or((total, peak));
            return Ok(ChildRun { caught_up, total, peak_caught_up, peak_total: peak });
        }
        if let Ok(text) = std::fs::read_to_string(&status_path)
            && let Some(line) = text.lines().find(|line| line.starts_with("VmHWM:"))
        {
            let kib: u64 = line.split_whitespace().nth(1).and_then(|value| value.parse().ok()).unwrap_or(0);
            peak = peak.max(kib);
        }
        if caught_up.is_none()
            && let Ok(at) = received.try_recv()
        {
            caught_up = Some((at - started, peak));
        }
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// What the ingest process prints once everything is queryable.
const CAUGHT_UP: &str = "opsflux-bench: caught up";

/// Tells the parent process when the ingest caught up.
struct MilestoneObserver(Instant);

impl Observer for MilestoneObserver {
    fn caught_up(&self, _lsn: Lsn) {
        println!("{CAUGHT_UP}");
    }

    fn folded(&self, table: &TableId, fold: &Fold) {
        eprintln!("folded {} keys into {table} after {:.1} s", fold.keys, self.0.elapsed().as_secs_f64());
    }
}

/// Writes `total` row changes to the readings: 60 % inserts, 30 % updates, 10 % deletes,
/// in transactions of 1000 rows. Returns the number of changes made.
async fn write_changes(pool: &sqlx::PgPool, total: u64) -> anyhow::Result<u64> {
    let batches = total / 1000;
    let mut made = 0;
    for batch in 0..batches {
        let statement = match batch % 10 {
            0..=5 => INSERT_BATCH,
            6..=8 => {
                "UPDATE powertrace.meter_readings SET kw = kw + 1, updated_at = now()
                 WHERE id IN (SELECT id FROM powertrace.meter_readings WHERE ctid >= format('(%s,0)', $1 * 97)::tid LIMIT 1000)"
            }
            _ => {
                "DELETE FROM powertrace.meter_readings
                 WHERE id IN (SELECT id FROM powertrace.meter_readings WHERE ctid >= format('(%s,0)', $1 * 89 + 50000)::tid LIMIT 1000)"
            }
        };
        let result = sqlx::query(statement).bind(batch as i64).execute(pool).await?;
        made += result.rows_affected();
    }
    Ok(made)
}

/// 1000 new readings, a second apart, after the sample history.
const INSERT_BATCH: &str = "INSERT INTO powertrace.meter_readings (id, meter_id, read_at, kw, kvar)
     SELECT gen_random_uuid(), m.id, timestamptz '2027-01-01' + make_interval(secs => $1 * 1000 + n), random() * 400, random() * 100
     FROM generate_series(1, 1000) n
     CROSS JOIN LATERAL (SELECT id FROM powertrace.meters ORDER BY id OFFSET (n % 3) LIMIT 1) m";

/// Inserts readings at `rate` rows per second (a transaction every 50 ms) for `duration`,
/// a second apart from the start of `year` on; returns the rows written.
async fn write_at_rate(pool: &sqlx::PgPool, rate: u64, duration: Duration, year: i32) -> anyhow::Result<u64> {
    let per_tick = (rate / 20).max(1) as i64;
    let mut ticker = tokio::time::interval(Duration::from_millis(50));
    let started = Instant::now();
    let mut written = 0;
    let mut tick = 0i64;
    while started.elapsed() < duration {
        ticker.tick().await;
        tick += 1;
        let result = sqlx::query(
            "INSERT INTO powertrace.meter_readings (id, meter_id, read_at, kw, kvar)
             SELECT gen_random_uuid(), (SELECT id FROM powertrace.meters ORDER BY id LIMIT 1),
                    make_timestamptz($3, 1, 1, 0, 0, 0, 'UTC') + make_interval(secs => $1 * $2 + n), random() * 400, random() * 100
             FROM generate_series(1, $2) n",
        )
        .bind(tick)
        .bind(per_tick)
        .bind(year)
        .execute(pool)
        .await?;
        written += result.rows_affected();
    }
    Ok(written)
}

async fn check_counts(pool: &sqlx::PgPool, warehouse: &Warehouse, readings: &TableId) -> anyhow::Result<()> {
    let expected: i64 = sqlx::query_scalar("SELECT count(*) FROM powertrace.meter_readings").fetch_one(pool).await?;
    let held = warehouse.read(readings, None).await?.iter().map(|batch| batch.num_rows() as u64).sum::<u64>();
    if held != expected as u64 {
        bail!("the warehouse holds {held} readings, PostgreSQL {expected}");
    }
    Ok(())
}

/// Median of three runs of `sql` over the table registered as `meter_readings`.
async fn query_time(warehouse: &Warehouse, table: &TableId, sql: &str) -> anyhow::Result<Duration> {
    use deltalake::datafusion::prelude::SessionContext;
    let mut times = Vec::new();
    for _ in 0..3 {
        let started = Instant::now();
        let url = warehouse.table_url(table);
        let delta_table = deltalake::DeltaTable::try_from_url(url).await?;
        let context = SessionContext::new();
        context.register_table("meter_readings", delta_table.table_provider().await?)?;
        let batches = context.sql(sql).await?.collect().await?;
        if batches.iter().map(|batch| batch.num_rows()).sum::<usize>() == 0 {
            bail!("the query returned nothing");
        }
        times.push(started.elapsed());
    }
    times.sort();
    Ok(times[1])
}

/// Collects, per warehouse commit, how long its oldest source transaction waited.
#[derive(Debug, Default)]
struct LagObserver(Mutex<Vec<f64>>);

impl Observer for LagObserver {
    fn committed(&self, report: &CommitReport) {
        if let Some(oldest) = report.oldest_source_commit_unix_micros {
            let lag = seconds_since(oldest);
            if let Ok(mut lags) = self.0.lock() {
                lags.push(lag);
            }
        }
    }
}
