//! Benchmarks of OpsFlux, each measured side by side with a named baseline in the same
//! run on the same machine. Run one with `cargo bench -p opsflux-benches --bench NAME`.
//!
//! - `sample_data_load`: loading the scale-1 sample data into PostgreSQL with
//!   `opsflux sample-data`, against `psql \copy` of the same rows as CSV files.
//! - `cdc`: change data capture against `COPY` and `pg_recvlogical` on one cluster.
//! - `dashboards`: every dashboard metric against DuckDB on the same data exported to
//!   Parquet, pages per second with `wrk`, and the peak memory of an export.

use std::time::{Duration, Instant};

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
