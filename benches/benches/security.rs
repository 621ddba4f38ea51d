//! The cost of security, measured side by side in one run on the scale-1 sample
//! warehouse:
//!
//! 1. the metric API's work with a site scope against the same requests unscoped:
//!    every dashboard metric over the last 90 days, warm (result cache off), p50 per
//!    request for every site, one site and two sites;
//! 2. dashboard pages per second and p99 with `wrk`: `opsflux serve` over the warehouse
//!    alone (no sign-in, no scope) against `opsflux serve --database-url` with a bearer
//!    token, for an analyst (sign-in, every site) and a viewer of one site (sign-in and
//!    scope).
//!
//! Settings: OPSFLUX_BENCH_SCALE (default 1), OPSFLUX_BENCH_WARM_RUNS (10),
//! OPSFLUX_BENCH_WRK_SECONDS (10), OPSFLUX_BENCH_WAREHOUSE (as the dashboards bench).

use std::process::Command;
use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use opsflux_api::http::dashboards::PAGES;
use opsflux_benches::{dashboard_requests, free_port, millis, percentile, setting};
use opsflux_query::{Catalog, Engine, EngineSettings, Scope};
use opsflux_warehouse::Warehouse;

use opsflux_benches::CHILD;
const PASSWORD: &str = "benchmark password 2026";

fn main() -> anyhow::Result<()> {
    let runtime = tokio::runtime::Builder::new_multi_thread().enable_all().build()?;
    if let Some(outcome) = opsflux_benches::child_cli(&runtime) {
        return outcome;
    }
    let scale: f64 = setting("OPSFLUX_BENCH_SCALE", 1.0)?;
    let warm_runs: usize = setting("OPSFLUX_BENCH_WARM_RUNS", 10)?;
    let wrk_seconds: u64 = setting("OPSFLUX_BENCH_WRK_SECONDS", 10)?;
    let warehouse_path = opsflux_benches::bench_warehouse(&runtime, scale)?;
    let to = opsflux_sample_data::Options::DEFAULT_END - chrono::Days::new(1);
    let from = to - chrono::Days::new(89);

    // 1. The metric API's work, scoped and not.
    let settings = EngineSettings { cached_results: 0, ..Default::default() };
    let engine = runtime.block_on(Engine::open(Warehouse::open(&warehouse_path)?, Catalog::shipped()?, settings))?;
    let sites: Vec<String> = engine.pin().sites.iter().cloned().collect();
    if sites.len() < 2 {
        bail!("the warehouse has fewer than two sites");
    }
    let scopes = [
        ("every site (scope off)", Scope::All),
        ("one site", Scope::sites([sites[0].clone()])),
        ("two sites", Scope::sites([sites[0].clone(), sites[1].clone()])),
    ];
    let requests = dashboard_requests(from, to);
    let mut p50 = vec![Vec::new(); scopes.len()];
    let mut all = vec![Vec::new(); scopes.len()];
    for (metric, request) in requests.values() {
        for (index, (_, scope)) in scopes.iter().enumerate() {
            // One run to build the scoped session, then warm runs.
            runtime.block_on(engine.metric(metric, request, scope))?;
            let mut took = Vec::new();
            for _ in 0..warm_runs {
                let started = Instant::now();
                runtime.block_on(engine.metric(metric, request, scope))?;
                took.push(started.elapsed());
            }
            let values = millis(&took);
            p50[index].push(percentile(&values, 0.5));
            all[index].extend(values);
        }
    }
    println!("\n## Metric API work per request, warm, {} requests × {warm_runs} runs (scale {scale})", requests.len());
    println!("| scope | p50 ms | p95 ms | median ratio to scope off | worst ratio |");
    println!("|---|---:|---:|---:|---:|");
    for (index, (label, _)) in scopes.iter().enumerate() {
        let ratios: Vec<f64> = p50[index].iter().zip(&p50[0]).map(|(ours, base)| ours / base).collect();
        println!(
            "| {label} | {:.2} | {:.2} | {:.2}× | {:.2}× |",
            percentile(&all[index], 0.5),
            percentile(&all[index], 0.95),
            percentile(&ratios, 0.5),
            ratios.iter().copied().fold(f64::NAN, f64::max)
        );
    }
    drop(engine);

    // 2. Pages with and without sign-in and scope.
    let directory = tempfile::tempdir()?;
    let cluster = opsflux_api::cluster::Cluster::start(&opsflux_api::cluster::ClusterOptions {
        directory: directory.path().join("postgres"),
        port: None,
        durable: false,
    })?;
    let url = cluster.url("bench_security");
    let viewer_site = sites[0].clone();
    runtime.block_on(async {
        opsflux_api::database::migrate(&url).await?;
        let pool = sqlx::PgPool::connect(&url).await?;
        for site in &sites {
            sqlx::query("INSERT INTO core.sites (code, name, kind, region, latitude, longitude, bed_capacity) VALUES ($1, $1, 'fpso', 'bench', 0, 0, 1)")
                .bind(site)
                .execute(&pool)
                .await?;
        }
        let hash = opsflux_api::auth::password::hash(PASSWORD.to_owned()).await?;
        opsflux_api::auth::users::add(&pool, "analyst@bench.example", "Analyst", "analyst", &[], &hash).await?;
        opsflux_api::auth::users::add(&pool, "viewer@bench.example", "Viewer", "viewer", std::slice::from_ref(&viewer_site), &hash).await?;
        anyhow::Ok(())
    })?;
    let warehouse_text = warehouse_path.display().to_string();
    let local_port = free_port()?;
    let local_listen = format!("127.0.0.1:{local_port}");
    let local = spawn(&["serve", "--warehouse", &warehouse_text, "--listen", &local_listen])?;
    let secured_port = free_port()?;
    let secured_listen = format!("127.0.0.1:{secured_port}");
    let secured = spawn(&[
        "serve",
        "--warehouse",
        &warehouse_text,
        "--listen",
        &secured_listen,
        "--database-url",
        &url,
        "--no-ingest",
    ])?;
    let servers = [local, secured];
    for port in [local_port, secured_port] {
        wait_for(port)?;
    }
    println!("\n## Dashboard pages with wrk (2 threads, 16 connections, {wrk_seconds} s each)");
    println!(
        "| page | no sign-in, no scope: req/s · p99 | analyst (sign-in, every site): req/s · p99 | viewer of {viewer_site} (sign-in and scope): req/s · p99 |"
    );
    println!("|---|---:|---:|---:|");
    for page in PAGES {
        let path = format!("{}?from={from}&to={to}", page.path);
        let open = wrk(&format!("http://127.0.0.1:{local_port}{path}"), None, wrk_seconds)?;
        let analyst = token(&runtime, secured_port, "analyst@bench.example")?;
        let signed = wrk(&format!("http://127.0.0.1:{secured_port}{path}"), Some(&analyst), wrk_seconds)?;
        let viewer = token(&runtime, secured_port, "viewer@bench.example")?;
        let scoped = wrk(&format!("http://127.0.0.1:{secured_port}{path}"), Some(&viewer), wrk_seconds)?;
        println!(
            "| {} | {} · {} | {} · {} | {} · {} |",
            page.path, open.0, open.1, signed.0, signed.1, scoped.0, scoped.1
        );
    }
    for mut server in servers {
        let _ = server.kill();
        let _ = server.wait();
    }
    cluster.stop()?;
    Ok(())
}

fn spawn(arguments: &[&str]) -> anyhow::Result<std::process::Child> {
    Ok(Command::new(std::env::current_exe()?)
        .env(CHILD, arguments.join("\u{1f}"))
        .env("OPSFLUX_LOG", "warn")
        .spawn()?)
}

fn wait_for(port: u16) -> anyhow::Result<()> {
    let started = Instant::now();
    while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
        if started.elapsed() > Duration::from_secs(900) {
            bail!("the server on port {port} did not start");
        }
        std::thread::sleep(Duration::from_millis(200));
    }
    Ok(())
}

/// An access token from `POST /api/auth/login` (valid five minutes: one per page).
fn token(runtime: &tokio::runtime::Runtime, port: u16, email: &str) -> anyhow::Result<String> {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    runtime.block_on(async {
        let body = serde_json::json!({"email": email, "password": PASSWORD}).to_string();
        let mut stream = tokio::net::TcpStream::connect(("127.0.0.1", port)).await?;
        let request = format!(
            "POST /api/auth/login HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
            body.len()
        );
        stream.write_all(request.as_bytes()).await?;
        let mut response = String::new();
        stream.read_to_string(&mut response).await?;
        let (_, json) = response.split_once("\r\n\r\n").context("no body")?;
        let value: serde_json::Value = serde_json::from_str(json).with_context(|| format!("sign-in answered {response}"))?;
        value["access_token"].as_str().map(str::to_owned).context("no access token")
    })
}

/// Requests per second and p99 latency of `wrk` on `url`.
fn wrk(url: &str, token: Option<&str>, seconds: u64) -> anyhow::Result<(String, String)> {
    let mut command = Command::new("wrk");
    command.args(["-t2", "-c16", &format!("-d{seconds}s"), "--latency"]);
    if let Some(token) = token {
        command.args(["-H", &format!("Authorization: Bearer {token}")]);
    }
    let output = command.arg(url).output().context("running wrk (apt-get install wrk)")?;
    let text = String::from_utf8_lossy(&output.stdout);
    if text.contains("Non-2xx") {
        bail!("{url}: some answers were not 2xx:\n{text}");
    }
    let find = |prefix: &str| {
        text.lines()
            .find(|line| line.trim_start().starts_with(prefix))
            .and_then(|line| line.split_whitespace().nth(1))
            .unwrap_or("?")
            .to_owned()
    };
    Ok((find("Requests/sec:"), find("99%")))
}
