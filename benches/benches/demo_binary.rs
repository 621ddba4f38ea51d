//! The binary `scripts/demo.sh` builds (the dev profile, shared with the tests) against
//! the release build, side by side in one run on the same data, so that the choice of
//! a fast-building demo is made on measured figures:
//!
//! 1. `opsflux sample-data --warehouse`: generating the sample data and writing it into
//!    a fresh warehouse (what the demo does first when it runs without PostgreSQL);
//! 2. every dashboard page, once each from a freshly started `opsflux serve` (cold: the
//!    engine opens the warehouse, computes the rollups and answers each panel);
//! 3. every shipped template rendered to PDF with `opsflux render`.
//!
//! Each round runs both binaries in turn (the order alternating between rounds); the
//! table gives medians over the rounds and their ratio.
//!
//! Settings: OPSFLUX_BENCH_DEMO_BINARY (default `$CARGO_TARGET_DIR/debug/opsflux`),
//! OPSFLUX_BENCH_RELEASE_BINARY (default `$CARGO_TARGET_DIR/release/opsflux`),
//! OPSFLUX_BENCH_SCALE (0.1, the demo's default), OPSFLUX_BENCH_ROUNDS (3).

use std::collections::BTreeMap;
use std::io::{Read as _, Write as _};
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::{Context, bail, ensure};
use opsflux_api::documents::TEMPLATES;
use opsflux_api::http::dashboards::PAGES;
use opsflux_benches::{free_port, percentile, setting, wait_listening};

/// The fixed last day of the sample data, so that every run measures the same rows.
const END_DATE: &str = "2026-11-16";

/// The first day the dashboards are asked for: the 90 days ending on `END_DATE`.
const FROM_DATE: &str = "2026-08-19";

fn main() -> anyhow::Result<()> {
    let target = std::env::var("CARGO_TARGET_DIR").map(PathBuf::from).unwrap_or_else(|_| PathBuf::from("target"));
    let binaries = [
        ("demo (dev profile)", binary("OPSFLUX_BENCH_DEMO_BINARY", target.join("debug/opsflux"))?),
        ("release", binary("OPSFLUX_BENCH_RELEASE_BINARY", target.join("release/opsflux"))?),
    ];
    let scale: f64 = setting("OPSFLUX_BENCH_SCALE", 0.1)?;
    let rounds: usize = setting("OPSFLUX_BENCH_ROUNDS", 3)?;
    let scratch = tempfile::tempdir()?;

    // step name → binary index → one duration per round
    let mut times: BTreeMap<String, [Vec<Duration>; 2]> = BTreeMap::new();
    let mut record = |step: String, which: usize, took: Duration| times.entry(step).or_default()[which].push(took);
    for round in 0..rounds.max(1) {
        let order = if round % 2 == 0 { [0, 1] } else { [1, 0] };
        for which in order {
            let (name, binary) = &binaries[which];
            println!("round {}: {name}", round + 1);
            let warehouse = scratch.path().join(format!("warehouse-{which}-{round}"));
            let warehouse_text = path_text(&warehouse)?;
            let took = run(
                binary,
                &["sample-data", "--warehouse", warehouse_text, "--scale", &scale.to_string(), "--end-date", END_DATE],
            )?;
            record("1. sample-data --warehouse".to_owned(), which, took);

            for (page, took) in cold_pages(binary, warehouse_text)? {
                record(format!("2. page {page}"), which, took);
            }

            for (template, _) in TEMPLATES {
                let out = scratch.path().join(format!("{template}-{which}.pdf"));
                let took = run(
                    binary,
                    &[
                        "render",
                        "--warehouse",
                        warehouse_text,
                        "--template",
                        template,
                        "--out",
                        path_text(&out)?,
                        "--today",
                        "2026-11-17",
                    ],
                )?;
                ensure!(std::fs::metadata(&out)?.len() > 0, "{name} rendered an empty {template}.pdf");
                record(format!("3. render {template}.pdf"), which, took);
            }
            std::fs::remove_dir_all(&warehouse)?;
        }
    }

    println!(
        "\n## {} and {} on the sample data at scale {scale}, median of {} rounds, seconds",
        binaries[0].0,
        binaries[1].0,
        rounds.max(1)
    );
    println!("| step | {} | {} | ratio |", binaries[0].0, binaries[1].0);
    println!("|---|---:|---:|---:|");
    let mut totals = [Vec::new(), Vec::new()];
    for (step, [demo, release]) in &times {
        let demo = median_seconds(demo);
        let release = median_seconds(release);
        totals[0].push(demo);
        totals[1].push(release);
        println!("| {step} | {demo:.2} | {release:.2} | {:.1}× |", demo / release);
    }
    let [demo_total, release_total]: [f64; 2] = totals.map(|values| values.iter().sum());
    println!("| all steps | {demo_total:.2} | {release_total:.2} | {:.1}× |", demo_total / release_total);
    Ok(())
}

/// The binary named by `variable`, or `default`; it must exist.
fn binary(variable: &str, default: PathBuf) -> anyhow::Result<PathBuf> {
    let path = std::env::var(variable).map(PathBuf::from).unwrap_or(default);
    ensure!(path.is_file(), "{} does not exist: build it, or name another with {variable}", path.display());
    Ok(path)
}

fn path_text(path: &Path) -> anyhow::Result<&str> {
    path.to_str().with_context(|| format!("{} is not UTF-8", path.display()))
}

fn median_seconds(durations: &[Duration]) -> f64 {
    let seconds: Vec<f64> = durations.iter().map(Duration::as_secs_f64).collect();
    percentile(&seconds, 0.5)
}

/// Runs `binary ARGUMENTS` to completion and returns its wall time; a failure is an error.
fn run(binary: &Path, arguments: &[&str]) -> anyhow::Result<Duration> {
    let started = Instant::now();
    let output = Command::new(binary)
        .args(arguments)
        .env("OPSFLUX_LOG", "warn")
        .stdin(Stdio::null())
        .output()
        .with_context(|| format!("starting {}", binary.display()))?;
    let took = started.elapsed();
    if !output.status.success() {
        bail!(
            "{} {} failed ({}):\n{}",
            binary.display(),
            arguments.join(" "),
            output.status,
            String::from_utf8_lossy(&output.stderr)
        );
    }
    Ok(took)
}

/// Starts `opsflux serve` over `warehouse` and fetches every dashboard page once, in
/// the navigation's order; returns each page's time to a complete 200 response.
fn cold_pages(binary: &Path, warehouse: &str) -> anyhow::Result<Vec<(&'static str, Duration)>> {
    let port = free_port()?;
    let mut server = Command::new(binary)
        .args(["serve", "--warehouse", warehouse, "--listen", &format!("127.0.0.1:{port}")])
        .env("OPSFLUX_LOG", "warn")
        .stdin(Stdio::null())
        .spawn()
        .with_context(|| format!("starting {} serve", binary.display()))?;
    let outcome = fetch_pages(&mut server, port);
    let _ = server.kill();
    let _ = server.wait();
    outcome
}

/// Waits for `server` to listen on `port`, then fetches every page once.
fn fetch_pages(server: &mut Child, port: u16) -> anyhow::Result<Vec<(&'static str, Duration)>> {
    wait_listening(server, port, Duration::from_secs(300))?;
    let mut timings = Vec::new();
    for page in PAGES {
        let started = Instant::now();
        get(port, &format!("{}?from={FROM_DATE}&to={END_DATE}", page.path))?;
        timings.push((page.path, started.elapsed()));
    }
    Ok(timings)
}

/// One HTTP/1.1 GET on a connection of its own, read to the end; anything but a 200 is
/// an error.
fn get(port: u16, path: &str) -> anyhow::Result<()> {
    let mut stream = TcpStream::connect(("127.0.0.1", port))?;
    stream.set_read_timeout(Some(Duration::from_secs(300)))?;
    write!(stream, "GET {path} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nConnection: close\r\n\r\n")?;
    let mut response = Vec::new();
    stream.read_to_end(&mut response)?;
    let status = response.split(|byte| *byte == b'\n').next().map(String::from_utf8_lossy).unwrap_or_default();
    ensure!(status.starts_with("HTTP/1.1 200"), "GET {path} answered {}", status.trim());
    Ok(())
}
