//! Dashboards, side by side with DuckDB on the same data in one run:
//!
//! 1. every metric a dashboard page asks for, over the last 90 days of the scale-1
//!    sample warehouse: cold (a fresh engine, first run) and warm (repeated runs, result
//!    cache off) p50/p95 latency, against DuckDB running the same SQL over the same
//!    tables exported to Parquet (its rollups materialized the same way);
//! 2. dashboard page requests per second with `wrk` against `opsflux serve`;
//! 3. peak memory of `opsflux export` of the readings table to Parquet.
//!
//! Settings: OPSFLUX_BENCH_SCALE (default 1), OPSFLUX_BENCH_WARM_RUNS (20),
//! OPSFLUX_BENCH_COLD_ROUNDS (3), OPSFLUX_BENCH_WRK_SECONDS (10),
//! OPSFLUX_BENCH_WAREHOUSE (default: a directory under the target directory, reused
//! between runs of the same scale).

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::process::Command;
use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use opsflux_api::http::dashboards::PAGES;
use opsflux_benches::{dashboard_requests, free_port, millis, percentile, setting, timed, wait_listening};
use opsflux_query::{Catalog, Engine, EngineSettings, ExportFormat, ExportSource};
use opsflux_warehouse::Warehouse;

use opsflux_benches::CHILD;

fn main() -> anyhow::Result<()> {
    let runtime = tokio::runtime::Builder::new_multi_thread().enable_all().build()?;
    // `opsflux` itself as a child process (export, serve), so its memory is its own.
    if let Some(outcome) = opsflux_benches::child_cli(&runtime) {
        return outcome;
    }
    let scale: f64 = setting("OPSFLUX_BENCH_SCALE", 1.0)?;
    let warm_runs: usize = setting("OPSFLUX_BENCH_WARM_RUNS", 20)?;
    let cold_rounds: usize = setting("OPSFLUX_BENCH_COLD_ROUNDS", 3)?;
    let wrk_seconds: u64 = setting("OPSFLUX_BENCH_WRK_SECONDS", 10)?;
    let target = std::env::var("CARGO_TARGET_DIR").map(PathBuf::from).unwrap_or_else(|_| PathBuf::from("target"));
    let warehouse_path = std::env::var("OPSFLUX_BENCH_WAREHOUSE")
        .map(PathBuf::from)
        .unwrap_or_else(|_| target.join(format!("bench-data/warehouse-scale-{scale}")));
    let scratch = tempfile::tempdir()?;

    // The data: the sample data written straight into a warehouse, kept between runs.
    if runtime.block_on(Warehouse::open(&warehouse_path)?.tables())?.is_empty() {
        let (written, took) = timed(|| {
            runtime.block_on(opsflux_api::sample_warehouse::write_sample_warehouse(
                &warehouse_path,
                opsflux_sample_data::Options::new(42, scale)?,
            ))
        });
        println!("sample warehouse at scale {scale}: {} rows in {:.1} s", written?, took.as_secs_f64());
    } else {
        println!("sample warehouse at scale {scale}: reusing {}", warehouse_path.display());
    }
    let to = opsflux_sample_data::Options::DEFAULT_END - chrono::Days::new(1);
    let from = to - chrono::Days::new(89);
    let requests = dashboard_requests(from, to);
    println!("{} distinct metric requests from {} dashboard pages, {from} to {to}", requests.len(), PAGES.len());

    // 1a. OpsFlux: cold rounds on fresh engines, then warm runs on one engine.
    let settings = EngineSettings { cached_results: 0, ..EngineSettings::default() };
    let mut ours_cold: BTreeMap<String, Vec<Duration>> = BTreeMap::new();
    let mut ours_warm: BTreeMap<String, Vec<Duration>> = BTreeMap::new();
    let mut open_times = Vec::new();
    let mut sql_of = BTreeMap::new();
    let mut rows_of = BTreeMap::new();
    let mut engine = None;
    for _ in 0..cold_rounds.max(1) {
        let (opened, took) =
            timed(|| runtime.block_on(Engine::open(Warehouse::open(&warehouse_path)?, Catalog::shipped()?, settings)));
        open_times.push(took);
        let opened = opened?;
        for (label, (metric, request)) in &requests {
            let started = Instant::now();
            let result = runtime.block_on(opened.metric(metric, request, &opsflux_query::Scope::All))?;
            ours_cold.entry(label.clone()).or_default().push(started.elapsed());
            rows_of.insert(label.clone(), result.rows.len());
            sql_of.insert(label.clone(), opened.metric_sql(metric, request)?);
        }
        engine = Some(opened);
    }
    let engine = engine.context("no engine")?;
    for (label, (metric, request)) in &requests {
        for _ in 0..warm_runs {
            let started = Instant::now();
            runtime.block_on(engine.metric(metric, request, &opsflux_query::Scope::All))?;
            ours_warm.entry(label.clone()).or_default().push(started.elapsed());
        }
    }

    // 3 (first, since its file feeds DuckDB): `opsflux export` of the readings, own process.
    let parquet_dir = scratch.path().join("parquet");
    std::fs::create_dir_all(&parquet_dir)?;
    let readings_file = parquet_dir.join("powertrace.meter_readings.parquet");
    let (export_peak_kib, export_took, export_ok) = run_child(&[
        "export",
        "--warehouse",
        &warehouse_path.display().to_string(),
        "--table",
        "powertrace.meter_readings",
        "--format",
        "parquet",
        "--out",
        &readings_file.display().to_string(),
    ])?;
    if !export_ok {
        bail!("the export process failed");
    }
    let export_bytes = std::fs::metadata(&readings_file)?.len();

    // 1b. DuckDB over every table exported to Parquet by the same export path.
    let pin = engine.pin();
    let mut tables = BTreeMap::new();
    for table in pin.tables.keys() {
        let file = parquet_dir.join(format!("{table}.parquet"));
        if !file.exists() {
            let sink = Box::new(std::io::BufWriter::new(std::fs::File::create(&file)?));
            runtime.block_on(engine.export(
                ExportSource::Table(table.clone()),
                ExportFormat::Parquet,
                sink,
                Box::new(|_| {}),
                Box::new(str::to_owned),
                &opsflux_query::Scope::All,
            ))?;
        }
        tables.insert(table.to_string(), file.display().to_string());
    }
    let rollups: Vec<(String, String)> =
        engine.catalog().rollups().iter().map(|rollup| (rollup.name.clone(), rollup.sql.clone())).collect();
    let spec = serde_json::json!({
        "tables": tables,
        "rollups": rollups,
        "queries": sql_of,
        "warm_runs": warm_runs,
        "cold_rounds": cold_rounds.max(1),
        "threads": std::thread::available_parallelism().map_or(2, usize::from),
    });
    let spec_path = scratch.path().join("duckdb.json");
    std::fs::write(&spec_path, spec.to_string())?;
    let output = Command::new("python3")
        .args(["-c", DUCKDB_SCRIPT])
        .arg(&spec_path)
        .output()
        .context("running python3 with duckdb")?;
    if !output.status.success() {
        bail!("the DuckDB baseline failed (pip install duckdb):\n{}", String::from_utf8_lossy(&output.stderr));
    }
    let printed = String::from_utf8_lossy(&output.stdout);
    let duck: serde_json::Value = serde_json::from_str(printed.lines().last().unwrap_or_default())
        .with_context(|| format!("reading DuckDB's timings from: {printed}"))?;

    println!("\n## Dashboard metrics: OpsFlux (DataFusion) and DuckDB on the same data, milliseconds");
    let open_ms: Vec<f64> = open_times.iter().map(|took| took.as_secs_f64() * 1000.0).collect();
    println!(
        "engine open (pin 53 tables, compute rollups, plan the catalog): {} ms; DuckDB rollups materialized in {:.0} ms, views over Parquet in {:.0} ms",
        open_ms.iter().map(|ms| format!("{ms:.0}")).collect::<Vec<_>>().join(" / "),
        duck["rollups_ms"].as_f64().unwrap_or(f64::NAN),
        duck["views_ms"].as_f64().unwrap_or(f64::NAN),
    );
    println!(
        "| request | rows | cold p50 | DuckDB cold p50 | warm p50 | warm p95 | DuckDB warm p50 | DuckDB warm p95 | ratio (warm p50) |"
    );
    println!("|---|---:|---:|---:|---:|---:|---:|---:|---:|");
    let (mut all_ours_warm, mut all_duck_warm, mut all_ours_cold, mut all_duck_cold) = (vec![], vec![], vec![], vec![]);
    let mut ratios = Vec::new();
    for label in requests.keys() {
        let cold = millis(&ours_cold[label]);
        let warm = millis(&ours_warm[label]);
        let duck_cold: Vec<f64> = duck["cold"][label]
            .as_array()
            .map(|values| values.iter().filter_map(|v| v.as_f64()).collect())
            .unwrap_or_default();
        let duck_warm: Vec<f64> = duck["warm"][label]
            .as_array()
            .map(|values| values.iter().filter_map(|v| v.as_f64()).collect())
            .unwrap_or_default();
        let ratio = percentile(&warm, 0.5) / percentile(&duck_warm, 0.5);
        ratios.push(ratio);
        println!(
            "| {label} | {} | {:.1} | {:.1} | {:.1} | {:.1} | {:.1} | {:.1} | {:.2}× |",
            rows_of[label],
            percentile(&cold, 0.5),
            percentile(&duck_cold, 0.5),
            percentile(&warm, 0.5),
            percentile(&warm, 0.95),
            percentile(&duck_warm, 0.5),
            percentile(&duck_warm, 0.95),
            ratio
        );
        all_ours_warm.extend(warm);
        all_duck_warm.extend(duck_warm);
        all_ours_cold.extend(cold);
        all_duck_cold.extend(duck_cold);
    }
    if let Some(errors) = duck["errors"].as_object() {
        for (label, error) in errors {
            println!("DuckDB could not run {label}: {error}");
        }
    }
    ratios.retain(|ratio| ratio.is_finite());
    ratios.sort_by(f64::total_cmp);
    println!(
        "| all requests | | {:.1} | {:.1} | {:.1} | {:.1} | {:.1} | {:.1} | median {:.2}×, worst {:.2}× |",
        percentile(&all_ours_cold, 0.5),
        percentile(&all_duck_cold, 0.5),
        percentile(&all_ours_warm, 0.5),
        percentile(&all_ours_warm, 0.95),
        percentile(&all_duck_warm, 0.5),
        percentile(&all_duck_warm, 0.95),
        percentile(&ratios, 0.5),
        ratios.last().copied().unwrap_or(f64::NAN),
    );
    println!(
        "cold p95 over all requests: OpsFlux {:.1} ms, DuckDB {:.1} ms",
        percentile(&all_ours_cold, 0.95),
        percentile(&all_duck_cold, 0.95)
    );

    // 2. Pages per second: `opsflux serve` over the warehouse, `wrk` against each page.
    let port = free_port()?;
    let mut server = Command::new(std::env::current_exe()?)
        .env(
            CHILD,
            ["serve", "--warehouse", &warehouse_path.display().to_string(), "--listen", &format!("127.0.0.1:{port}")]
                .join("\u{1f}"),
        )
        .env("OPSFLUX_LOG", "warn")
        .spawn()?;
    if let Err(error) = wait_listening(&mut server, port, Duration::from_secs(600)) {
        let _ = server.kill();
        return Err(error.context("opsflux serve did not start"));
    }
    println!(
        "\n## Dashboard pages with wrk (2 threads, 16 connections, {wrk_seconds} s each; results cached per warehouse snapshot)"
    );
    println!("| page | requests/s | latency p50 | latency p99 |");
    println!("|---|---:|---:|---:|");
    for page in PAGES {
        let url = format!("http://127.0.0.1:{port}{}?from={from}&to={to}", page.path);
        let output = Command::new("wrk")
            .args(["-t2", "-c16", &format!("-d{wrk_seconds}s"), "--latency", &url])
            .output()
            .context("running wrk (apt-get install wrk)")?;
        let text = String::from_utf8_lossy(&output.stdout);
        let find = |prefix: &str| {
            text.lines()
                .find(|line| line.trim_start().starts_with(prefix))
                .and_then(|line| line.split_whitespace().nth(1))
                .unwrap_or("?")
                .to_owned()
        };
        println!("| {} | {} | {} | {} |", page.path, find("Requests/sec:"), find("50%"), find("99%"));
    }
    let _ = server.kill();
    let _ = server.wait();

    println!("\n## Export of powertrace.meter_readings to Parquet (zstd), own process");
    println!(
        "{:.1} s, {:.1} MiB written, peak RSS {:.0} MiB (goal < 500 MiB)",
        export_took.as_secs_f64(),
        export_bytes as f64 / 1_048_576.0,
        export_peak_kib as f64 / 1024.0
    );
    Ok(())
}

/// Runs `opsflux ARGS` as a child; returns its peak RSS (KiB, from /proc), wall time and success.
fn run_child(arguments: &[&str]) -> anyhow::Result<(u64, Duration, bool)> {
    let started = Instant::now();
    let mut child = Command::new(std::env::current_exe()?)
        .env(CHILD, arguments.join("\u{1f}"))
        .env("OPSFLUX_LOG", "warn")
        .spawn()?;
    let status_path = format!("/proc/{}/status", child.id());
    let mut peak = 0;
    loop {
        if let Some(status) = child.try_wait()? {
            return Ok((peak, started.elapsed(), status.success()));
        }
        if let Ok(text) = std::fs::read_to_string(&status_path)
            && let Some(line) = text.lines().find(|line| line.starts_with("VmHWM:"))
        {
            peak = peak.max(line.split_whitespace().nth(1).and_then(|value| value.parse().ok()).unwrap_or(0));
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// The DuckDB side: views over the Parquet files under the same `schema.table` names,
/// the catalog's rollups materialized as tables, then each query once cold per round
/// (a fresh connection) and `warm_runs` times warm. Prints timings in milliseconds.
const DUCKDB_SCRIPT: &str = r#"
import json, sys, time, duckdb
spec = json.load(open(sys.argv[1]))
def connect():
    started = time.perf_counter()
    con = duckdb.connect()
    con.execute(f"SET threads = {spec['threads']}")
    con.execute("SET enable_progress_bar = false")
    for schema in sorted({name.split('.')[0] for name in spec["tables"]} | {"rollup"}):
        con.execute(f'CREATE SCHEMA IF NOT EXISTS "{schema}"')
    for name, path in spec["tables"].items():
        schema, table = name.split(".")
        con.execute(f"CREATE VIEW \"{schema}\".\"{table}\" AS SELECT * FROM read_parquet('{path}')")
    views = (time.perf_counter() - started) * 1000
    started = time.perf_counter()
    for name, sql in spec["rollups"]:
        con.execute(f'CREATE TABLE rollup."{name}" AS {sql}')
    return con, views, (time.perf_counter() - started) * 1000
result = {"cold": {}, "warm": {}}
for round in range(spec["cold_rounds"]):
    con, views, rollups = connect()
    result["views_ms"], result["rollups_ms"] = views, rollups
    for label, sql in spec["queries"].items():
        started = time.perf_counter()
        try:
            con.execute(sql).fetchall()
        except duckdb.Error as error:
            result.setdefault("errors", {})[label] = str(error)
            continue
        result["cold"].setdefault(label, []).append((time.perf_counter() - started) * 1000)
for label, sql in spec["queries"].items():
    if label in result.get("errors", {}):
        continue
    for _ in range(spec["warm_runs"]):
        started = time.perf_counter()
        con.execute(sql).fetchall()
        result["warm"].setdefault(label, []).append((time.perf_counter() - started) * 1000)
print(json.dumps(result))
"#;
