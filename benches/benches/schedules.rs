//! One firing of the weekly site report to 100 recipients with 10 different site
//! scopes, mailed to a real SMTP server on loopback (aiosmtpd), measured side by side
//! in one run: rendering once per distinct scope (the default) against rendering each
//! recipient's report on its own (`--render-per-recipient`). Each firing runs in its
//! own `opsflux schedule run-now` process over the scale-1 sample warehouse: time to
//! the last message delivered (from the job's start), wall time of the process,
//! renders per second, peak resident memory.
//!
//! Settings: OPSFLUX_BENCH_SCALE (default 1), OPSFLUX_BENCH_RECIPIENTS (100),
//! OPSFLUX_BENCH_SCOPES (10), OPSFLUX_BENCH_WAREHOUSE (as the dashboards bench).

use std::process::{Command, Stdio};
use std::time::Instant;

use anyhow::{Context, bail};
use opsflux_benches::{CHILD, free_port, setting, wait_measured};
use opsflux_warehouse::Warehouse;

fn main() -> anyhow::Result<()> {
    let runtime = tokio::runtime::Builder::new_multi_thread().enable_all().build()?;
    if let Some(outcome) = opsflux_benches::child_cli(&runtime) {
        return outcome;
    }
    let scale: f64 = setting("OPSFLUX_BENCH_SCALE", 1.0)?;
    let recipients: usize = setting("OPSFLUX_BENCH_RECIPIENTS", 100)?;
    let scope_count: usize = setting("OPSFLUX_BENCH_SCOPES", 10)?;
    let warehouse_path = opsflux_benches::bench_warehouse(&runtime, scale)?;
    let sites: Vec<String> = runtime.block_on(async {
        let engine = opsflux_query::Engine::open(
            Warehouse::open(&warehouse_path)?,
            opsflux_query::Catalog::shipped()?,
            opsflux_query::EngineSettings::default(),
        )
        .await?;
        anyhow::Ok(engine.pin().sites.iter().cloned().collect())
    })?;
    // Single sites first, then pairs of neighbours, until there are enough scopes.
    let mut scopes: Vec<Vec<String>> = sites.iter().map(|site| vec![site.clone()]).collect();
    scopes.extend(sites.windows(2).map(<[String]>::to_vec));
    if scopes.len() < scope_count {
        bail!("the warehouse has {} sites: too few for {scope_count} scopes", sites.len());
    }
    scopes.truncate(scope_count);

    let directory = tempfile::tempdir()?;
    let cluster = opsflux_api::cluster::Cluster::start(&opsflux_api::cluster::ClusterOptions {
        directory: directory.path().join("postgres"),
        port: None,
        durable: false,
    })?;
    let url = cluster.url("bench_schedules");
    let period = (opsflux_sample_data::Options::DEFAULT_END - chrono::Days::new(7)).to_string();
    let schedule = runtime.block_on(async {
        opsflux_api::database::migrate(&url).await?;
        let pool = sqlx::PgPool::connect(&url).await?;
        for site in &sites {
            sqlx::query("INSERT INTO core.sites (code, name, kind, region, latitude, longitude, bed_capacity) VALUES ($1, $1, 'fpso', 'bench', 0, 0, 1)")
                .bind(site)
                .execute(&pool)
                .await?;
        }
        let hash = opsflux_api::auth::password::hash("benchmark password 2026".to_owned()).await?;
        for index in 0..recipients {
            let email = format!("reader{index:03}@bench.example");
            opsflux_api::auth::users::add(&pool, &email, &email, "viewer", &scopes[index % scopes.len()], &hash).await?;
        }
        let spec = opsflux_api::jobs::schedules::ScheduleSpec {
            name: Some("Rapport hebdomadaire".into()),
            template: Some("weekly-site-report".into()),
            cron: "0 7 * * 1".into(),
            to_roles: vec!["viewer".into()],
            parameters: [("period".to_owned(), period.clone())].into(),
            ..Default::default()
        };
        let id = opsflux_api::jobs::schedules::add(&pool, &spec, None).await?;
        anyhow::Ok(id)
    })?;

    let maildir = tempfile::tempdir()?;
    let smtp_port = free_port()?;
    let mut smtp = Command::new("python3")
        .args(["-m", "aiosmtpd", "-n", "-l", &format!("127.0.0.1:{smtp_port}"), "-c", "aiosmtpd.handlers.Mailbox"])
        .arg(maildir.path().join("mail"))
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .context("python3 -m aiosmtpd (scripts/setup.sh installs it)")?;
    let started = Instant::now();
    while std::net::TcpStream::connect(("127.0.0.1", smtp_port)).is_err() {
        if started.elapsed().as_secs() > 30 {
            bail!("the SMTP server did not start");
        }
        std::thread::sleep(std::time::Duration::from_millis(100));
    }

    println!(
        "\n## One firing of weekly-site-report (period {period}) to {recipients} recipients with {} scopes, scale {scale}",
        scopes.len()
    );
    println!(
        "| renders | renders done | last message delivered (s) | process wall (s) | renders/s | messages | peak RSS (MiB) |"
    );
    println!("|---|---:|---:|---:|---:|---:|---:|");
    let warehouse_text = warehouse_path.display().to_string();
    let smtp_url = format!("smtp://127.0.0.1:{smtp_port}");
    let id = schedule.to_string();
    for (label, per_recipient) in [("once per distinct scope", false), ("once per recipient", true)] {
        let mut arguments = vec![
            "schedule",
            "run-now",
            &id,
            "--database-url",
            &url,
            "--warehouse",
            &warehouse_text,
            "--smtp-url",
            &smtp_url,
            "--render-timeout-seconds",
            "600",
        ];
        if per_recipient {
            arguments.push("--render-per-recipient");
        }
        let started = Instant::now();
        let child = Command::new(std::env::current_exe()?)
            .env(CHILD, arguments.join("\u{1f}"))
            .env("OPSFLUX_LOG", "warn")
            .stdout(Stdio::null())
            .spawn()?;
        let (wall, peak) = wait_measured(child, started)?;
        let (delivered, messages, renders): (f64, i64, i64) = runtime.block_on(async {
            let pool = sqlx::PgPool::connect(&url).await?;
            let row = sqlx::query_as(
                "SELECT EXTRACT(EPOCH FROM max(d.sent_at) - j.started_at)::float8, count(*),
                        COALESCE((j.payload->>'renders')::bigint, 0)
                 FROM platform.jobs j JOIN platform.deliveries d ON d.job_id = j.id
                 WHERE j.id = (SELECT id FROM platform.jobs ORDER BY queued_at DESC LIMIT 1) AND d.status = 'sent'
                 GROUP BY j.started_at, j.payload",
            )
            .fetch_one(&pool)
            .await?;
            anyhow::Ok(row)
        })?;
        println!(
            "| {label} | {renders} | {delivered:.1} | {:.1} | {:.2} | {messages} | {} |",
            wall.as_secs_f64(),
            renders as f64 / delivered,
            peak / 1024
        );
    }
    let _ = smtp.kill();
    let _ = smtp.wait();
    cluster.stop()?;
    Ok(())
}
