//! Loading sample data into PostgreSQL: `opsflux sample-data` (generation streamed
//! into COPY) against `psql \copy` of the same rows already written as CSV files, both
//! in one transaction into a freshly migrated database of the same cluster.
//!
//! Settings: OPSFLUX_BENCH_SCALE (default 1), OPSFLUX_BENCH_SEED (default 42).

use std::process::Command;

use anyhow::{Context, bail};
use opsflux_api::cluster::{Cluster, ClusterOptions};
use opsflux_benches::{setting, timed};
use opsflux_sample_data::{Dataset, Options};

fn main() -> anyhow::Result<()> {
    let scale: f64 = setting("OPSFLUX_BENCH_SCALE", 1.0)?;
    let seed: u64 = setting("OPSFLUX_BENCH_SEED", 42)?;
    let runtime = tokio::runtime::Builder::new_multi_thread().enable_all().build()?;

    let work = tempfile::Builder::new().prefix("opsflux-bench-").tempdir_in(std::env::temp_dir())?;
    std::fs::set_permissions(work.path(), std::os::unix::fs::PermissionsExt::from_mode(0o755))?;
    let cluster =
        Cluster::start(&ClusterOptions { directory: work.path().join("postgres"), port: None, durable: true })?;
    // An interrupted run (Ctrl-C) must not leave a server behind.
    cluster.remove_when_process_exits(std::process::id())?;
    let outcome = run(&runtime, &cluster, work.path(), scale, seed);
    cluster.stop()?;
    outcome
}

fn run(
    runtime: &tokio::runtime::Runtime,
    cluster: &Cluster,
    work: &std::path::Path,
    scale: f64,
    seed: u64,
) -> anyhow::Result<()> {
    let options = Options::new(seed, scale)?;
    let (dataset, generate_time) = timed(|| Dataset::generate(options));
    let total_rows = dataset.total_rows();
    println!(
        "sample data: seed {seed}, scale {scale}: {total_rows} rows, {} meter readings",
        dataset.readings.total_rows()
    );
    println!("generating the tables other than readings (not timed below): {:.2} s", generate_time.as_secs_f64());

    // The baseline's input: the same rows written as CSV, one file per table.
    let csv_directory = work.join("csv");
    std::fs::create_dir_all(&csv_directory)?;
    let (files, write_time) = timed(|| dataset.write_csv_files(&csv_directory));
    let files = files?;
    println!("writing the CSV files for psql (not timed below): {:.1} s", write_time.as_secs_f64());

    for database in ["bench_psql", "bench_opsflux"] {
        runtime.block_on(opsflux_api::database::migrate(&cluster.url(database)))?;
    }

    // Baseline: psql \copy of every file in one transaction.
    let script_path = work.join("load.sql");
    let mut script = String::from("\\set ON_ERROR_STOP on\nBEGIN;\n");
    for (table, columns, path) in &files {
        script.push_str(&format!("\\copy {table} ({columns}) FROM '{}' WITH (FORMAT csv)\n", path.display()));
    }
    script.push_str("COMMIT;\n");
    std::fs::write(&script_path, script)?;
    let (status, psql_time) = timed(|| {
        Command::new("psql").args(["-q", "-X", "-d", &cluster.url("bench_psql"), "-f"]).arg(&script_path).status()
    });
    if !status.context("cannot run psql (install postgresql-client)")?.success() {
        bail!("psql \\copy failed");
    }

    // OpsFlux: generation of the readings streamed into COPY, one transaction.
    let (loaded, opsflux_time) = timed(|| {
        runtime.block_on(async {
            let pool = opsflux_api::database::connect(&cluster.url("bench_opsflux"), 1).await?;
            let mut connection = pool.acquire().await?;
            anyhow::Ok(opsflux_sample_data::load(&mut connection, &dataset, |_| {}).await?)
        })
    });
    let loaded = loaded?;
    if loaded.total_rows() != total_rows {
        bail!("loaded {} rows, expected {total_rows}", loaded.total_rows());
    }

    // Both databases must hold exactly the same rows.
    let same = runtime.block_on(async {
        let mut sums = Vec::new();
        for database in ["bench_psql", "bench_opsflux"] {
            let pool = opsflux_api::database::connect(&cluster.url(database), 1).await?;
            sums.push(opsflux_api::database::table_checksums(&pool).await?);
        }
        anyhow::Ok(sums[0] == sums[1])
    })?;

    let rate = |seconds: f64| total_rows as f64 / seconds;
    let (psql_seconds, opsflux_seconds) = (psql_time.as_secs_f64(), opsflux_time.as_secs_f64());
    println!();
    println!("| loader | rows | seconds | rows/s |");
    println!("|---|---:|---:|---:|");
    println!(
        "| psql \\copy of the CSV files (baseline) | {total_rows} | {psql_seconds:.1} | {:.0} |",
        rate(psql_seconds)
    );
    println!(
        "| opsflux sample-data (generate + COPY) | {total_rows} | {opsflux_seconds:.1} | {:.0} |",
        rate(opsflux_seconds)
    );
    println!();
    println!("ratio opsflux / psql (rows/s): {:.2}× (goal ≥ 0.70×)", psql_seconds / opsflux_seconds);
    println!("both databases hold identical rows: {same}");
    if !same {
        bail!("the two loads differ");
    }
    Ok(())
}
