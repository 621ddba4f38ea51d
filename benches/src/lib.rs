//! Benchmarks of OpsFlux, each measured side by side with a named baseline in the same
//! run on the same machine. Run one with `cargo bench -p opsflux-benches --bench NAME`.
//!
//! - `sample_data_load`: loading the scale-1 sample data into PostgreSQL with
//!   `opsflux sample-data`, against `psql \copy` of the same rows as CSV files.
//! - `cdc`: change data capture against `COPY` and `pg_recvlogical` on one cluster.
//! - `dashboards`: every dashboard metric against DuckDB on the same data exported to
//!   Parquet, pages per second with `wrk`, and the peak memory of an export.
//! - `security`: the metric API with a site scope against the same requests unscoped,
//!   and dashboard pages with sign-in and scope against the same pages without.
//! - `schedules`: one scheduled report to 100 recipients over real SMTP, one render per
//!   scope against one per recipient.
//! - `demo_binary`: the binary `scripts/demo.sh` builds (dev profile) against the release
//!   build: sample data, cold dashboard pages and template renders.

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use opsflux_api::http::dashboards::PAGES;
use opsflux_query::MetricRequest;

/// Runs `work` and returns its result with the wall time it took.
pub fn timed<T>(work: impl FnOnce() -> T) -> (T, Duration) {
    let started = Instant::now();
    let result = work();
    (result, started.elapsed())
}

/// An environment variable parsed as `T`, or `default` when unset.
pub fn setting<T: std::str::FromStr>(name: &str, default: T) -> anyhow::Result<T> {
    match std::env::var(name) {
        Ok(text) => text.parse().map_err(|_| anyhow::anyhow!("{name}={text} is not a valid value")),
        Err(_) => Ok(default),
    }
}

/// Every distinct (metric, grain, grouping) the dashboard pages ask for, keyed by a label.
pub fn dashboard_requests(from: chrono::NaiveDate, to: chrono::NaiveDate) -> BTreeMap<String, (String, MetricRequest)> {
    let mut requests = BTreeMap::new();
    for page in PAGES {
        for panel in page.panels {
            let request = MetricRequest {
                sites: Vec::new(),
                from,
                to,
                grain: panel.grain,
                by: Some(panel.by.iter().map(|name| (*name).to_owned()).collect()),
            };
            let label = format!(
                "{} {} by [{}]",
                panel.metric,
                panel.grain.map_or("default".to_owned(), |grain| grain.to_string()),
                panel.by.join(",")
            );
            requests.insert(label, (panel.metric.to_owned(), request));
        }
    }
    requests
}

pub fn millis(durations: &[Duration]) -> Vec<f64> {
    durations.iter().map(|took| took.as_secs_f64() * 1000.0).collect()
}

/// The nearest-rank percentile of `values`.
pub fn percentile(values: &[f64], share: f64) -> f64 {
    if values.is_empty() {
        return f64::NAN;
    }
    let mut sorted = values.to_vec();
    sorted.sort_by(f64::total_cmp);
    let rank = ((share * sorted.len() as f64).ceil() as usize).clamp(1, sorted.len());
    sorted[rank - 1]
}

/// A free loopback port.
pub fn free_port() -> anyhow::Result<u16> {
    Ok(std::net::TcpListener::bind("127.0.0.1:0")?.local_addr()?.port())
}

/// Waits until `server` accepts connections on loopback `port`; an error if it exits
/// first or is not listening after `limit`.
pub fn wait_listening(server: &mut std::process::Child, port: u16, limit: Duration) -> anyhow::Result<()> {
    let started = Instant::now();
    while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
        if let Some(status) = server.try_wait()? {
            anyhow::bail!("the server for port {port} exited ({status}) before listening");
        }
        if started.elapsed() > limit {
            anyhow::bail!("the server did not listen on port {port} within {} s", limit.as_secs());
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    Ok(())
}

/// The variable that makes a bench binary run as `opsflux` (arguments separated by
/// U+001F), so that the server or export it measures runs in a process of its own.
pub const CHILD: &str = "OPSFLUX_BENCH_CHILD_CLI";

/// Runs the `opsflux` command this process was started for, if it was started as one.
pub fn child_cli(runtime: &tokio::runtime::Runtime) -> Option<anyhow::Result<()>> {
    use clap::Parser as _;
    let arguments = std::env::var(CHILD).ok()?;
    let arguments = std::iter::once("opsflux").chain(arguments.split('\u{1f}'));
    Some(runtime.block_on(opsflux_api::cli::run(opsflux_api::cli::Cli::parse_from(arguments))))
}

/// Waits for `child`, sampling its peak resident memory (VmHWM) from /proc; returns
/// the time since `started` and the peak in KiB. A failed child is an error.
pub fn wait_measured(mut child: std::process::Child, started: Instant) -> anyhow::Result<(Duration, u64)> {
    let status_path = format!("/proc/{}/status", child.id());
    let mut peak = 0;
    loop {
        if let Some(status) = child.try_wait()? {
            anyhow::ensure!(status.success(), "the measured process failed ({status})");
            return Ok((started.elapsed(), peak));
        }
        if let Ok(text) = std::fs::read_to_string(&status_path)
            && let Some(line) = text.lines().find(|line| line.starts_with("VmHWM:"))
        {
            peak = peak.max(line.split_whitespace().nth(1).and_then(|value| value.parse().ok()).unwrap_or(0));
        }
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// The warehouse the benches read: `OPSFLUX_BENCH_WAREHOUSE`, or the sample data at
/// `scale` under the build directory, written straight into it on first use and kept
/// between runs.
pub fn bench_warehouse(runtime: &tokio::runtime::Runtime, scale: f64) -> anyhow::Result<std::path::PathBuf> {
    use std::path::PathBuf;
    let target = std::env::var("CARGO_TARGET_DIR").map(PathBuf::from).unwrap_or_else(|_| PathBuf::from("target"));
    let path = std::env::var("OPSFLUX_BENCH_WAREHOUSE")
        .map(PathBuf::from)
        .unwrap_or_else(|_| target.join(format!("bench-data/warehouse-scale-{scale}")));
    if runtime.block_on(opsflux_warehouse::Warehouse::open(&path)?.tables())?.is_empty() {
        let (written, took) = timed(|| {
            runtime.block_on(opsflux_api::sample_warehouse::write_sample_warehouse(
                &path,
                opsflux_sample_data::Options::new(42, scale)?,
            ))
        });
        println!("sample warehouse at scale {scale}: {} rows in {:.1} s", written?, took.as_secs_f64());
    }
    Ok(path)
}
