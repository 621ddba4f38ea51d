//! Scheduled reports and alerts against real services: PostgreSQL, an SMTP server on
//! loopback (aiosmtpd writing a Maildir) and, for attachments, pdftotext. Messages are
//! parsed as a mail client would; each recipient's PDF must hold their sites only.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::time::Duration;

use mailparse::MailHeaderMap as _;
use opsflux_api::auth::{password, users};
use opsflux_api::jobs::JobError;
use opsflux_api::jobs::alerts::{self, RuleSpec};
use opsflux_api::jobs::mail::Mailer;
use opsflux_api::jobs::scheduler::{Scheduler, Settings};
use opsflux_api::jobs::schedules::{self, ScheduleSpec};

const PASSWORD: &str = "correct horse battery staple";

/// An SMTP server on loopback, stopped when dropped.
struct Smtp {
    child: Child,
    port: u16,
    maildir: tempfile::TempDir,
}

impl Smtp {
    /// aiosmtpd keeping every message in a Maildir.
    fn start() -> Self {
        let maildir = tempfile::tempdir().unwrap();
        let port = free_port();
        let child = Command::new("python3")
            .args(["-m", "aiosmtpd", "-n", "-l", &format!("127.0.0.1:{port}"), "-c", "aiosmtpd.handlers.Mailbox"])
            .arg(maildir.path().join("mail"))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("python3 with aiosmtpd (scripts/setup.sh installs it)");
        wait_for_port(port);
        Self { child, port, maildir }
    }

    /// aiosmtpd answering every message with `reply` (`451 4.3.0 ...`).
    fn refusing(reply: &str) -> Self {
        let maildir = tempfile::tempdir().unwrap();
        let port = free_port();
        let script = "import sys, time\nfrom aiosmtpd.controller import Controller\n\
            class Refuse:\n    async def handle_DATA(self, server, session, envelope):\n        return sys.argv[2]\n\
            controller = Controller(Refuse(), hostname='127.0.0.1', port=int(sys.argv[1]))\ncontroller.start()\n\
            while True:\n    time.sleep(3600)\n";
        let child = Command::new("python3")
            .args(["-c", script, &port.to_string(), reply])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        wait_for_port(port);
        Self { child, port, maildir }
    }

    fn url(&self) -> String {
        format!("smtp://127.0.0.1:{}", self.port)
    }

    /// Every message received, parsed.
    fn messages(&self) -> Vec<Mail> {
        let mut messages = Vec::new();
        for folder in ["new", "cur"] {
            let Ok(entries) = std::fs::read_dir(self.maildir.path().join("mail").join(folder)) else { continue };
            for entry in entries {
                messages.push(Mail::parse(&std::fs::read(entry.unwrap().path()).unwrap()));
            }
        }
        messages.sort_by(|a, b| (&a.to, &a.message_id).cmp(&(&b.to, &b.message_id)));
        messages
    }
}

impl Drop for Smtp {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
}

fn wait_for_port(port: u16) {
    for _ in 0..100 {
        if std::net::TcpStream::connect(("127.0.0.1", port)).is_ok() {
            return;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    panic!("the SMTP server did not listen on {port}");
}

/// A received message as a reader sees it.
#[derive(Debug)]
struct Mail {
    from: String,
    to: String,
    subject: String,
    message_id: String,
    date: String,
    text: String,
    html: String,
    /// (file name, content type, bytes)
    files: Vec<(String, String, Vec<u8>)>,
}

impl Mail {
    fn parse(bytes: &[u8]) -> Self {
        let parsed = mailparse::parse_mail(bytes).unwrap();
        let header = |name: &str| parsed.headers.get_first_value(name).unwrap_or_default();
        let mut mail = Mail {
            from: header("From"),
            to: header("To"),
            subject: header("Subject"),
            message_id: header("Message-ID"),
            date: header("Date"),
            text: String::new(),
            html: String::new(),
            files: Vec::new(),
        };
        fn walk(part: &mailparse::ParsedMail, mail: &mut Mail) {
            let disposition = part.get_content_disposition();
            if disposition.disposition == mailparse::DispositionType::Attachment {
                let name = disposition.params.get("filename").cloned().unwrap_or_default();
                mail.files.push((name, part.ctype.mimetype.clone(), part.get_body_raw().unwrap()));
            } else if part.ctype.mimetype == "text/plain" {
                mail.text = part.get_body().unwrap();
            } else if part.ctype.mimetype == "text/html" {
                mail.html = part.get_body().unwrap();
            }
            for sub in &part.subparts {
                walk(sub, mail);
            }
        }
        walk(&parsed, &mut mail);
        mail
    }
}

fn pdf_text(bytes: &[u8]) -> String {
    let directory = tempfile::tempdir().unwrap();
    let path = directory.path().join("report.pdf");
    std::fs::write(&path, bytes).unwrap();
    let output = Command::new("pdftotext").arg(&path).arg("-").output().expect("pdftotext (poppler-utils)");
    assert!(output.status.success(), "pdftotext failed");
    String::from_utf8(output.stdout).unwrap()
}

/// PostgreSQL with three sites and users, and the metric fixture as warehouse.
struct Platform {
    url: String,
    pool: sqlx::PgPool,
    engine: opsflux_query::Engine,
    warehouse: tempfile::TempDir,
}

async fn platform(people: &[(&str, &str, &[&str])]) -> Platform {
    let (url, pool) = opsflux_tests::migrated_pool("schedules").await;
    for (id, code) in [
        ("00000001-0000-4000-8000-000000000001", "ALPHA"),
        ("00000001-0000-4000-8000-000000000002", "BRAVO"),
        ("00000001-0000-4000-8000-000000000003", "CHARLIE"),
    ] {
        sqlx::query("INSERT INTO core.sites (id, code, name, kind, region, latitude, longitude, bed_capacity) VALUES ($1::uuid, $2, $2, 'fpso', 'r', 0, 0, 1)")
            .bind(id)
            .bind(code)
            .execute(&pool)
            .await
            .unwrap();
    }
    let hash = password::hash(PASSWORD.to_owned()).await.unwrap();
    for (email, role, sites) in people {
        let sites: Vec<String> = sites.iter().map(|site| (*site).to_owned()).collect();
        users::add(&pool, email, email, role, &sites, &hash).await.unwrap();
    }
    let warehouse = tempfile::tempdir().unwrap();
    let engine = crate::metrics::fixture_engine(warehouse.path()).await;
    Platform { url, pool, engine, warehouse }
}

impl Platform {
    fn scheduler(&self, smtp_url: &str, settings: Settings) -> Scheduler {
        let worker = PathBuf::from(env!("CARGO_BIN_EXE_opsflux-under-test"));
        let limits = opsflux_api::documents::RenderLimits::new(2, Duration::from_secs(120), Some(worker));
        let mailer = Mailer::new(smtp_url, "OpsFlux <rapports@opsflux.test>").unwrap();
        Scheduler::new(self.pool.clone(), self.engine.clone(), mailer, Arc::new(limits), settings)
    }

    /// `opsflux scheduler` as a process of its own.
    fn scheduler_process(&self, smtp: &Smtp) -> Child {
        Command::new(env!("CARGO_BIN_EXE_opsflux-under-test"))
            .args(["scheduler", "--database-url", &self.url, "--smtp-url", &smtp.url(), "--tick-seconds", "1"])
            .args(["--retry-seconds", "1", "--mail-from", "OpsFlux <rapports@opsflux.test>"])
            .arg("--warehouse")
            .arg(self.warehouse.path())
            .env("OPSFLUX_LOG", "warn")
            .stdout(Stdio::null())
            .stderr(Stdio::inherit())
            .spawn()
            .unwrap()
    }

    async fn jobs(&self, schedule: uuid::Uuid) -> Vec<(uuid::Uuid, String)> {
        sqlx::query_as("SELECT id, status FROM platform.jobs WHERE schedule_id = $1 ORDER BY fire_at")
            .bind(schedule)
            .fetch_all(&self.pool)
            .await
            .unwrap()
    }
}

fn weekly(to: &[&str], cron: &str) -> ScheduleSpec {
    ScheduleSpec {
        name: Some("Rapport hebdomadaire".into()),
        template: Some("weekly-site-report".into()),
        cron: cron.into(),
        timezone: Some("Europe/Paris".into()),
        to: to.iter().map(|email| (*email).to_owned()).collect(),
        // The week the metric fixture holds data for.
        parameters: BTreeMap::from([("period".to_owned(), "2026-03-02".to_owned())]),
        ..Default::default()
    }
}

fn quick() -> Settings {
    Settings {
        tick: Duration::from_millis(500),
        backoff: Duration::from_millis(500),
        attempts: 2,
        ..Settings::default()
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn each_recipient_gets_the_report_of_their_own_sites_from_one_snapshot() {
    let platform = platform(&[
        ("viewer.alpha@test.example", "viewer", &["ALPHA"]),
        ("manager.ab@test.example", "manager", &["ALPHA", "BRAVO"]),
        ("analyst@test.example", "analyst", &[]),
        ("revoked@test.example", "viewer", &["BRAVO"]),
    ])
    .await;
    let smtp = Smtp::start();
    let to = ["viewer.alpha@test.example", "manager.ab@test.example", "analyst@test.example", "revoked@test.example"];
    let schedule = schedules::add(&platform.pool, &weekly(&to, "0 7 * * 1"), None).await.unwrap();
    // Revoked after the schedule was made: gets a note, not another user's data.
    sqlx::query("UPDATE platform.role_grants SET deleted_at = now() WHERE user_id = (SELECT id FROM platform.users WHERE email = 'revoked@test.example')")
        .execute(&platform.pool)
        .await
        .unwrap();
    let scheduler = platform.scheduler(&smtp.url(), quick());
    let job = scheduler.fire_now(schedule).await.unwrap();
    assert_eq!(scheduler.run_to_end(job).await.unwrap(), "succeeded");

    let messages = smtp.messages();
    let summary: Vec<String> = messages
        .iter()
        .map(|mail| {
            let files: Vec<String> = mail.files.iter().map(|(name, kind, _)| format!("{name} ({kind})")).collect();
            format!("{} | {} | {}", mail.to, mail.subject, files.join(", "))
        })
        .collect();
    assert_eq!(
        summary,
        [
            "analyst@test.example <analyst@test.example> | Rapport hebdomadaire — Tous les sites — semaine 10 | Rapport hebdomadaire — Tous les sites — semaine 10.pdf (application/pdf)",
            "manager.ab@test.example <manager.ab@test.example> | Rapport hebdomadaire — ALPHA, BRAVO — semaine 10 | Rapport hebdomadaire — ALPHA, BRAVO — semaine 10.pdf (application/pdf)",
            "revoked@test.example <revoked@test.example> | Rapport hebdomadaire — rapport non envoyé | ",
            "viewer.alpha@test.example <viewer.alpha@test.example> | Rapport hebdomadaire — ALPHA — semaine 10 | Rapport hebdomadaire — ALPHA — semaine 10.pdf (application/pdf)",
        ]
    );
    let (warehouse,): (serde_json::Value,) = sqlx::query_as("SELECT warehouse FROM platform.jobs WHERE id = $1")
        .bind(job)
        .fetch_one(&platform.pool)
        .await
        .unwrap();
    let line: Vec<String> = warehouse
        .as_object()
        .unwrap()
        .iter()
        .map(|(table, version)| format!("{table} {}", version.as_str().unwrap()))
        .collect();
    let line = format!("Données de l'entrepôt : {}", line.join(", "));
    for mail in &messages {
        assert_eq!(mail.from, "OpsFlux <rapports@opsflux.test>");
        assert!(mail.message_id.starts_with(&format!("<{job}.")) && mail.message_id.ends_with("@opsflux.test>"));
        assert!(chrono::DateTime::parse_from_rfc2822(&mail.date).is_ok(), "{}", mail.date);
        assert!(mail.html.starts_with("<!DOCTYPE html>"), "{}", mail.html);
        if mail.to.starts_with("revoked") {
            assert!(mail.text.contains("redacteur.render"), "{}", mail.text);
            assert!(!mail.text.contains("ALPHA") && !mail.text.contains("BRAVO"), "{}", mail.text);
            continue;
        }
        // Every report of the firing names the same warehouse snapshot.
        assert!(mail.text.contains(&line), "{}\n---\n{line}", mail.text);
        assert!(mail.text.contains("POB moyen : "), "{}", mail.text);
        assert!(mail.text.contains("/documents/render?template=weekly-site-report"), "{}", mail.text);
        let pdf = pdf_text(&mail.files[0].2);
        if mail.to.starts_with("viewer") {
            assert!(pdf.contains("ALPHA") && !pdf.contains("BRAVO") && !pdf.contains("CHARLIE"), "{pdf}");
        }
        if mail.to.starts_with("manager") {
            assert!(!pdf.contains("CHARLIE"), "{pdf}");
        }
    }
    let history = schedules::history(&platform.pool, schedule, 10).await.unwrap();
    let deliveries: Vec<(String, String, String)> = history[0]
        .deliveries
        .iter()
        .map(|delivery| (delivery.email.clone(), delivery.status.clone(), delivery.sites.clone()))
        .collect();
    assert_eq!(
        deliveries,
        [
            ("analyst@test.example".into(), "sent".into(), "Tous les sites".into()),
            ("manager.ab@test.example".into(), "sent".into(), "ALPHA, BRAVO".into()),
            ("revoked@test.example".into(), "refused".into(), "".into()),
            ("viewer.alpha@test.example".into(), "sent".into(), "ALPHA".into()),
        ]
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn missed_firings_run_once_marked_late() {
    let platform = platform(&[("viewer.alpha@test.example", "viewer", &["ALPHA"])]).await;
    let scheduler = platform.scheduler("smtp://127.0.0.1:9", quick());
    let schedule =
        schedules::add(&platform.pool, &weekly(&["viewer.alpha@test.example"], "0 7 * * *"), None).await.unwrap();
    let next = schedules::get(&platform.pool, schedule).await.unwrap().next_run_at.unwrap();
    // The scheduler comes back three days and one hour after the first missed firing
    // (a fixed clock): four firings were missed, one job runs, late.
    let back = next + chrono::Duration::days(3) + chrono::Duration::hours(1);
    assert_eq!(scheduler.plan(back).await.unwrap(), 1);
    assert_eq!(scheduler.plan(back).await.unwrap(), 0);
    let jobs: Vec<(chrono::DateTime<chrono::Utc>, bool, serde_json::Value)> =
        sqlx::query_as("SELECT fire_at, late, payload FROM platform.jobs WHERE schedule_id = $1")
            .bind(schedule)
            .fetch_all(&platform.pool)
            .await
            .unwrap();
    assert_eq!(jobs, [(next + chrono::Duration::days(3), true, serde_json::json!({"skipped_firings": 3}))]);
    let after = schedules::get(&platform.pool, schedule).await.unwrap().next_run_at.unwrap();
    assert_eq!(after, next + chrono::Duration::days(4));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_schedulers_on_one_database_run_each_firing_once() {
    let platform =
        platform(&[("viewer.alpha@test.example", "viewer", &["ALPHA"]), ("analyst@test.example", "analyst", &[])])
            .await;
    let smtp = Smtp::start();
    // Every 10 seconds stands for every minute, to keep the test short.
    let spec = weekly(&["viewer.alpha@test.example", "analyst@test.example"], "*/10 * * * * *");
    let schedule = schedules::add(&platform.pool, &spec, None).await.unwrap();
    let mut first = platform.scheduler_process(&smtp);
    let mut second = platform.scheduler_process(&smtp);
    // Pause as soon as the fifth firing is a job.
    let deadline = std::time::Instant::now() + Duration::from_secs(120);
    while platform.jobs(schedule).await.len() < 5 {
        assert!(std::time::Instant::now() < deadline, "five firings did not happen in two minutes");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    schedules::set_enabled(&platform.pool, schedule, false, None).await.unwrap();
    while platform.jobs(schedule).await.iter().any(|(_, status)| status != "succeeded") {
        assert!(std::time::Instant::now() < deadline + Duration::from_secs(240), "the jobs did not finish");
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
    let _ = first.kill();
    let _ = second.kill();
    let _ = (first.wait(), second.wait());
    let jobs = platform.jobs(schedule).await;
    assert_eq!(jobs.len(), 5);
    let mut per_recipient: BTreeMap<String, Vec<String>> = BTreeMap::new();
    for mail in smtp.messages() {
        per_recipient.entry(mail.to.clone()).or_default().push(mail.message_id.clone());
    }
    for (recipient, ids) in &per_recipient {
        let mut distinct = ids.clone();
        distinct.dedup();
        assert_eq!((ids.len(), distinct.len()), (5, 5), "{recipient}: {ids:?}");
    }
    assert_eq!(per_recipient.len(), 2);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_scheduler_killed_mid_firing_is_resumed_and_no_recipient_is_mailed_twice_unnoted() {
    let people: Vec<(String, &str, Vec<&str>)> = vec![
        ("a.alpha@test.example".into(), "viewer", vec!["ALPHA"]),
        ("b.bravo@test.example".into(), "viewer", vec!["BRAVO"]),
        ("c.charlie@test.example".into(), "viewer", vec!["CHARLIE"]),
        ("d.all@test.example".into(), "analyst", vec![]),
    ];
    let borrowed: Vec<(&str, &str, &[&str])> =
        people.iter().map(|(email, role, sites)| (email.as_str(), *role, sites.as_slice())).collect();
    let platform = platform(&borrowed).await;
    let smtp = Smtp::start();
    let to: Vec<&str> = people.iter().map(|(email, _, _)| email.as_str()).collect();
    let schedule = schedules::add(&platform.pool, &weekly(&to, "0 7 * * 1"), None).await.unwrap();
    let scheduler = platform.scheduler(&smtp.url(), quick());
    let job = scheduler.fire_now(schedule).await.unwrap();
    let mut process = platform.scheduler_process(&smtp);
    // Killed once the first recipient has their report and before the last.
    let deadline = std::time::Instant::now() + Duration::from_secs(240);
    loop {
        let sent: i64 =
            sqlx::query_scalar("SELECT count(*) FROM platform.deliveries WHERE job_id = $1 AND status = 'sent'")
                .bind(job)
                .fetch_one(&platform.pool)
                .await
                .unwrap();
        if sent >= 1 {
            break;
        }
        assert!(std::time::Instant::now() < deadline, "no delivery was made");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    Command::new("kill").args(["-KILL", &process.id().to_string()]).status().unwrap();
    let _ = process.wait();
    let status: String = sqlx::query_scalar("SELECT status FROM platform.jobs WHERE id = $1")
        .bind(job)
        .fetch_one(&platform.pool)
        .await
        .unwrap();
    assert_ne!(status, "succeeded", "the kill came after the whole firing: the test proves nothing");
    let mut restarted = platform.scheduler_process(&smtp);
    let status = tokio::time::timeout(Duration::from_secs(240), scheduler.run_to_end(job)).await.unwrap().unwrap();
    let _ = restarted.kill();
    let _ = restarted.wait();
    assert_eq!(status, "succeeded");
    let deliveries = schedules::deliveries(&platform.pool, job).await.unwrap();
    let mut received: BTreeMap<String, usize> = BTreeMap::new();
    for mail in smtp.messages() {
        *received.entry(mail.to.split(' ').next().unwrap().to_owned()).or_default() += 1;
    }
    for delivery in &deliveries {
        let count = received.get(&delivery.email).copied().unwrap_or(0);
        let resent = delivery.note.as_deref().is_some_and(|note| note.contains("sent again after an interruption"));
        assert!(count == 1 || (count == 2 && resent), "{}: {count} messages, note {:?}", delivery.email, delivery.note);
        assert_eq!(delivery.status, "sent");
    }
    assert_eq!(deliveries.len(), 4);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_refusing_smtp_server_gets_retries_then_a_failed_job_with_its_reply() {
    let platform = platform(&[("viewer.alpha@test.example", "viewer", &["ALPHA"])]).await;
    let smtp = Smtp::refusing("451 4.3.0 service temporairement indisponible");
    let schedule =
        schedules::add(&platform.pool, &weekly(&["viewer.alpha@test.example"], "0 7 * * 1"), None).await.unwrap();
    let scheduler = platform.scheduler(&smtp.url(), quick());
    let job = scheduler.fire_now(schedule).await.unwrap();
    assert_eq!(scheduler.run_to_end(job).await.unwrap(), "failed");
    let history = schedules::history(&platform.pool, schedule, 1).await.unwrap();
    let firing = &history[0];
    assert_eq!((firing.status.as_str(), firing.attempts), ("failed", 2));
    let error = firing.error.clone().unwrap();
    assert!(error.contains("451") && error.contains("service temporairement indisponible"), "{error}");
    assert_eq!(firing.deliveries[0].status, "failed");
    assert!(firing.deliveries[0].error.as_deref().unwrap().contains("451"));
    // Nothing lost: with the server back, running the firing again delivers it.
    drop(smtp);
    let smtp = Smtp::start();
    let scheduler = platform.scheduler(&smtp.url(), quick());
    sqlx::query("UPDATE platform.jobs SET status = 'queued', attempts = 0 WHERE id = $1")
        .bind(job)
        .execute(&platform.pool)
        .await
        .unwrap();
    assert_eq!(scheduler.run_to_end(job).await.unwrap(), "succeeded");
    assert_eq!(smtp.messages().len(), 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_schedules_are_refused_naming_the_member() {
    let platform =
        platform(&[("viewer.alpha@test.example", "viewer", &["ALPHA"]), ("nobody@test.example", "viewer", &[])]).await;
    sqlx::query("UPDATE platform.role_grants SET deleted_at = now() WHERE user_id = (SELECT id FROM platform.users WHERE email = 'nobody@test.example')")
        .execute(&platform.pool)
        .await
        .unwrap();
    let good = weekly(&["viewer.alpha@test.example"], "0 7 * * 1");
    let cases: Vec<(ScheduleSpec, &str, &str)> = vec![
        (ScheduleSpec { cron: "0 7 * *".into(), ..good.clone() }, "cron", "is not a cron expression"),
        (ScheduleSpec { timezone: Some("Europe/Pariss".into()), ..good.clone() }, "timezone", "unknown time zone"),
        (ScheduleSpec { template: Some("monthly".into()), ..good.clone() }, "template", "unknown template"),
        (
            ScheduleSpec { to: vec!["ghost@test.example".into()], ..good.clone() },
            "to/0",
            "is not an active user who may read reports",
        ),
        (
            ScheduleSpec { to: vec!["nobody@test.example".into()], ..good.clone() },
            "to/0",
            "is not an active user who may read reports",
        ),
        (ScheduleSpec { formats: vec!["pdf".into(), "odt".into()], ..good.clone() }, "formats/1", "unknown format"),
        (
            ScheduleSpec { parameters: BTreeMap::from([("site".into(), "ZULU".into())]), ..good.clone() },
            "parameters/site",
            "unknown site",
        ),
        (ScheduleSpec { to: vec![], ..good.clone() }, "to", "at least one recipient"),
        (ScheduleSpec { subject: Some("a\r\nBcc: x@evil.example".into()), ..good.clone() }, "subject", "one line"),
    ];
    for (spec, field, message) in cases {
        match schedules::add(&platform.pool, &spec, None).await {
            Err(JobError::Invalid { field: got, message: text }) => {
                assert_eq!(got, field, "{text}");
                assert!(text.contains(message), "{field}: {text}");
            }
            other => panic!("{field}: expected a refusal, got {other:?}"),
        }
    }
    let count: i64 =
        sqlx::query_scalar("SELECT count(*) FROM platform.schedules").fetch_one(&platform.pool).await.unwrap();
    assert_eq!(count, 0, "a refused schedule changes nothing");
    assert!(Mailer::new("smtp//nowhere", "a@b.example").is_err());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_alert_is_sent_once_when_it_starts_and_once_when_it_clears() {
    let platform = platform(&[("engineer@test.example", "engineer", &["ALPHA"])]).await;
    let smtp = Smtp::start();
    let mailer = Mailer::new(&smtp.url(), "OpsFlux <alertes@opsflux.test>").unwrap();
    let spec = RuleSpec {
        name: Some("POB ALPHA".into()),
        metric: "pob.people_on_board".into(),
        sites: vec!["ALPHA".into()],
        condition: "> 0".into(),
        from_days: Some(0),
        to_days: Some(0),
        to: vec!["engineer@test.example".into()],
        ..Default::default()
    };
    let rule = alerts::add(&platform.pool, &platform.engine, &spec, None).await.unwrap();
    // The fixture has people on board from 1 to 4 March 2026 and nobody after.
    let day = |text: &str| format!("{text}T12:00:00Z").parse::<chrono::DateTime<chrono::Utc>>().unwrap();
    let mut changes = Vec::new();
    for date in ["2026-02-27", "2026-03-01", "2026-03-02", "2026-03-03", "2026-03-10", "2026-03-11"] {
        let evaluation =
            alerts::evaluate(&platform.pool, &platform.engine, Some(&mailer), rule, "manual", day(date)).await.unwrap();
        changes.push(format!("{date} started {:?} cleared {:?}", evaluation.started, evaluation.cleared));
    }
    assert_eq!(
        changes,
        [
            "2026-02-27 started [] cleared []",
            "2026-03-01 started [\"ALPHA\"] cleared []",
            "2026-03-02 started [] cleared []",
            "2026-03-03 started [] cleared []",
            "2026-03-10 started [] cleared [\"ALPHA\"]",
            "2026-03-11 started [] cleared []",
        ]
    );
    let subjects: Vec<String> = smtp.messages().iter().map(|mail| mail.subject.clone()).collect();
    assert_eq!(subjects.len(), 2, "{subjects:?}");
    let user: uuid::Uuid = users::id_of(&platform.pool, "engineer@test.example").await.unwrap();
    let listed = alerts::notifications(&platform.pool, user, 10).await.unwrap();
    let kinds: Vec<&str> = listed.iter().map(|notification| notification.kind.as_str()).collect();
    assert_eq!(kinds, ["cleared", "started"]);
    let logged = alerts::evaluations(&platform.pool, rule, 10).await.unwrap();
    assert_eq!(logged.len(), 6);
}

impl Platform {
    /// `serve` over this platform on a loopback port (no scheduler: run-now queues).
    async fn serve(&self) -> std::net::SocketAddr {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let address = listener.local_addr().unwrap();
        let public = opsflux_api::http::PublicAddress::new(None, address).unwrap();
        let state =
            opsflux_api::http::AppState::with_database(self.pool.clone(), self.engine.clone(), "test".into(), public)
                .await
                .unwrap();
        tokio::spawn(opsflux_api::http::serve_on(listener, state, std::future::pending()));
        address
    }
}

async fn bearer(address: std::net::SocketAddr, email: &str) -> String {
    let body = format!(r#"{{"email":"{email}","password":"{PASSWORD}"}}"#);
    let answer =
        opsflux_tests::send(address, "POST", "/api/auth/login", &[("Content-Type", "application/json")], &body).await;
    assert_eq!(answer.status, 200, "{}", answer.body);
    format!("Bearer {}", answer.json()["access_token"].as_str().unwrap())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_api_refuses_bad_schedules_with_a_problem_naming_the_member_and_keeps_owners_apart() {
    let platform = platform(&[
        ("manager.a@test.example", "manager", &["ALPHA"]),
        ("manager.b@test.example", "manager", &["BRAVO"]),
        ("analyst@test.example", "analyst", &[]),
        ("viewer.alpha@test.example", "viewer", &["ALPHA"]),
    ])
    .await;
    let address = platform.serve().await;
    let manager_a = bearer(address, "manager.a@test.example").await;
    let post = |token: String, path: &'static str, body: String| async move {
        opsflux_tests::send(
            address,
            "POST",
            path,
            &[("Authorization", &token), ("Content-Type", "application/json")],
            &body,
        )
        .await
    };
    let good =
        serde_json::json!({"template": "weekly-site-report", "cron": "0 7 * * 1", "to": ["viewer.alpha@test.example"]});
    let cases = [
        (serde_json::json!({"cron": "0 7 * *"}), "/cron"),
        (serde_json::json!({"timezone": "Mars/Olympus"}), "/timezone"),
        (serde_json::json!({"template": "monthly"}), "/template"),
        (serde_json::json!({"to": ["ghost@test.example"]}), "/to/0"),
        (serde_json::json!({"formats": ["odt"]}), "/formats/0"),
        (serde_json::json!({"parameters": {"colour": "blue"}}), "/parameters/colour"),
        (serde_json::json!({"cron": 7}), "/cron"),
        (serde_json::json!({"recipients": ["a@b.example"]}), "/recipients"),
    ];
    for (change, pointer) in cases {
        let mut body = good.clone();
        for (key, value) in change.as_object().unwrap() {
            body[key] = value.clone();
        }
        let answer = post(manager_a.clone(), "/api/schedules", body.to_string()).await;
        assert_eq!(answer.status, 400, "{pointer}: {}", answer.body);
        assert!(answer.head.contains("content-type: application/problem+json"), "{}", answer.head);
        assert_eq!(answer.json()["pointer"], pointer, "{}", answer.body);
    }
    let answer = post(manager_a.clone(), "/api/schedules", good.to_string()).await;
    assert_eq!(answer.status, 201, "{}", answer.body);
    let id = answer.json()["id"].as_str().unwrap().to_owned();
    let path = format!("/api/schedules/{id}");
    let get = |token: String, path: String| async move {
        opsflux_tests::send(address, "GET", &path, &[("Authorization", &token)], "").await
    };
    assert_eq!(get(manager_a.clone(), path.clone()).await.status, 200);
    // Another manager neither sees nor runs it; an analyst (every schedule) does.
    let manager_b = bearer(address, "manager.b@test.example").await;
    assert_eq!(get(manager_b.clone(), path.clone()).await.status, 404);
    assert_eq!(get(manager_b.clone(), "/api/schedules".into()).await.json(), serde_json::json!([]));
    let run = opsflux_tests::send(address, "POST", &format!("{path}/run"), &[("Authorization", &manager_b)], "").await;
    assert_eq!(run.status, 404);
    let analyst = bearer(address, "analyst@test.example").await;
    assert_eq!(get(analyst.clone(), path.clone()).await.status, 200);
    let run = opsflux_tests::send(address, "POST", &format!("{path}/run"), &[("Authorization", &analyst)], "").await;
    assert_eq!(run.status, 202, "{}", run.body);
    let queued: i64 = sqlx::query_scalar("SELECT count(*) FROM platform.jobs WHERE status = 'queued'")
        .fetch_one(&platform.pool)
        .await
        .unwrap();
    assert_eq!(queued, 1);
    // A viewer may not manage schedules at all.
    let viewer = bearer(address, "viewer.alpha@test.example").await;
    assert_eq!(get(viewer, "/api/schedules".into()).await.status, 403);
    let audited: i64 = sqlx::query_scalar(
        "SELECT count(*) FROM platform.audit_log WHERE action IN ('schedule.add', 'schedule.run_now')",
    )
    .fetch_one(&platform.pool)
    .await
    .unwrap();
    assert_eq!(audited, 2);
}

/// The value of `name="csrf"` in a page.
fn csrf_in(page: &str) -> String {
    let at = page.find("name=\"csrf\" value=\"").expect("a CSRF field") + "name=\"csrf\" value=\"".len();
    page[at..].split('"').next().unwrap().to_owned()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_pages_create_pause_and_run_a_schedule_with_a_browser_session() {
    let platform = platform(&[
        ("manager.a@test.example", "manager", &["ALPHA"]),
        ("viewer.alpha@test.example", "viewer", &["ALPHA"]),
    ])
    .await;
    let address = platform.serve().await;
    let origin = format!("http://{address}");
    // Sign in with the form, as a browser does.
    let login = opsflux_tests::send(address, "GET", "/login", &[], "").await;
    let cookie = |answer: &opsflux_tests::Answer, name: &str| -> String {
        answer
            .raw_head
            .lines()
            .filter_map(|line| line.split_once(": ").filter(|(header, _)| header.eq_ignore_ascii_case("set-cookie")))
            .map(|(_, value)| value.split(';').next().unwrap().to_owned())
            .find(|value| value.starts_with(&format!("{name}=")))
            .unwrap_or_else(|| panic!("no {name} cookie in {}", answer.raw_head))
    };
    let login_cookie = cookie(&login, "opsflux_login_csrf");
    let form = format!(
        "email=manager.a%40test.example&password={}&csrf={}&next=%2Fschedules",
        PASSWORD.replace(' ', "+"),
        csrf_in(&login.body)
    );
    let signed_in = opsflux_tests::send(
        address,
        "POST",
        "/login",
        &[("Cookie", &login_cookie), ("Origin", &origin), ("Content-Type", "application/x-www-form-urlencoded")],
        &form,
    )
    .await;
    assert_eq!(signed_in.status, 303, "{}", signed_in.body);
    let session = cookie(&signed_in, "opsflux_session");
    let page = opsflux_tests::send(address, "GET", "/schedules", &[("Cookie", &session)], "").await;
    assert_eq!(page.status, 200);
    assert!(page.body.contains("Aucun envoi programmé"), "{}", page.body);
    let csrf = csrf_in(&page.body);
    let submit = |path: String, body: String| {
        let session = session.clone();
        let origin = origin.clone();
        async move {
            opsflux_tests::send(
                address,
                "POST",
                &path,
                &[("Cookie", &session), ("Origin", &origin), ("Content-Type", "application/x-www-form-urlencoded")],
                &body,
            )
            .await
        }
    };
    // A bad cron comes back as the form with the problem, nothing stored.
    let refused = submit(
        "/schedules".into(),
        format!(
            "csrf={csrf}&name=Hebdo&template=weekly-site-report&cron=7+*&to=viewer.alpha%40test.example&formats=pdf"
        ),
    )
    .await;
    assert_eq!(refused.status, 400);
    assert!(
        refused.body.contains("is not a cron expression") && refused.body.contains("value=\"Hebdo\""),
        "{}",
        refused.body
    );
    let created = submit("/schedules".into(), format!("csrf={csrf}&name=Hebdo&template=weekly-site-report&cron=0+7+*+*+1&to=viewer.alpha%40test.example&formats=pdf&formats=xlsx")).await;
    assert_eq!(created.status, 303, "{}", created.body);
    let location = created.head.lines().find_map(|line| line.strip_prefix("location: ")).unwrap().trim().to_owned();
    let detail = opsflux_tests::send(address, "GET", &location, &[("Cookie", &session)], "").await;
    assert!(detail.body.contains("Hebdo") && detail.body.contains("Actif"), "{}", detail.body);
    // Without the page's CSRF token, nothing happens.
    let forged = submit(format!("{location}/pause"), "csrf=forged".into()).await;
    assert_eq!(forged.status, 403);
    let paused = submit(format!("{location}/pause"), format!("csrf={csrf}")).await;
    assert_eq!(paused.status, 303);
    let run = submit(format!("{location}/run"), format!("csrf={csrf}")).await;
    assert_eq!(run.status, 303);
    let detail = opsflux_tests::send(address, "GET", &location, &[("Cookie", &session)], "").await;
    assert!(detail.body.contains("En pause") && detail.body.contains("queued"), "{}", detail.body);
    let schedule = schedules::list(&platform.pool, None).await.unwrap().remove(0);
    assert_eq!((schedule.enabled, schedule.formats), (false, vec!["pdf".to_owned(), "xlsx".to_owned()]));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_stored_document_reads_only_what_both_its_author_and_each_recipient_may_read() {
    let platform =
        platform(&[("manager.a@test.example", "manager", &["ALPHA"]), ("analyst@test.example", "analyst", &[])]).await;
    let smtp = Smtp::start();
    let author = users::id_of(&platform.pool, "manager.a@test.example").await.unwrap();
    let document = serde_json::json!({
        "settings": {"title": "Sites"},
        "blocks": [{"id": "q", "type": "data_table", "data": {"query": "SELECT code FROM core.sites ORDER BY code"}}]
    });
    let spec = ScheduleSpec {
        name: Some("Sites".into()),
        document: Some(document),
        cron: "0 7 * * 1".into(),
        to: vec!["analyst@test.example".into()],
        ..Default::default()
    };
    let schedule = schedules::add(&platform.pool, &spec, Some(author)).await.unwrap();
    let scheduler = platform.scheduler(&smtp.url(), quick());
    let job = scheduler.fire_now(schedule).await.unwrap();
    assert_eq!(scheduler.run_to_end(job).await.unwrap(), "succeeded");
    let messages = smtp.messages();
    assert_eq!(messages.len(), 1);
    // The analyst sees every site, the manager who wrote the query only ALPHA.
    let pdf = pdf_text(&messages[0].files[0].2);
    assert!(pdf.contains("ALPHA") && !pdf.contains("BRAVO") && !pdf.contains("CHARLIE"), "{pdf}");
    // An author who may no longer write documents stops the firing.
    sqlx::query("UPDATE platform.role_grants SET deleted_at = now() WHERE user_id = $1")
        .bind(author)
        .execute(&platform.pool)
        .await
        .unwrap();
    let job = scheduler.fire_now(schedule).await.unwrap();
    assert_eq!(scheduler.run_to_end(job).await.unwrap(), "failed");
    assert_eq!(smtp.messages().len(), 1);
}

/// `opsflux …` as a process: exit status, standard output, standard error.
fn opsflux(arguments: &[&str]) -> (bool, String, String) {
    let output = Command::new(env!("CARGO_BIN_EXE_opsflux-under-test"))
        .args(arguments)
        .env("OPSFLUX_LOG", "warn")
        .output()
        .unwrap();
    (
        output.status.success(),
        String::from_utf8_lossy(&output.stdout).into_owned(),
        String::from_utf8_lossy(&output.stderr).into_owned(),
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_command_line_adds_lists_pauses_runs_and_shows_a_schedule() {
    let platform =
        platform(&[("viewer.alpha@test.example", "viewer", &["ALPHA"]), ("analyst@test.example", "analyst", &[])])
            .await;
    let smtp = Smtp::start();
    let url = platform.url.clone();
    let (ok, _, error) = opsflux(&[
        "schedule",
        "add",
        "--database-url",
        &url,
        "--template",
        "weekly-site-report",
        "--cron",
        "0 7 * *",
        "--to",
        "analyst@test.example",
    ]);
    assert!(!ok);
    assert!(error.contains("--cron: `0 7 * *` is not a cron expression"), "{error}");
    let (ok, _, error) = opsflux(&[
        "schedule",
        "add",
        "--database-url",
        &url,
        "--template",
        "weekly-site-report",
        "--cron",
        "0 7 * * 1",
        "--timezone",
        "Europe/Nowhere",
        "--to",
        "analyst@test.example",
    ]);
    assert!(!ok && error.contains("--timezone: unknown time zone `Europe/Nowhere`"), "{error}");
    let (ok, id, error) = opsflux(&[
        "schedule",
        "add",
        "--database-url",
        &url,
        "--template",
        "weekly-site-report",
        "--cron",
        "0 7 * * 1",
        "--timezone",
        "Africa/Lagos",
        "--to",
        "viewer.alpha@test.example",
        "analyst@test.example",
        "--format",
        "pdf",
        "docx",
        "--param",
        "period=2026-03-02",
        "--name",
        "Rapport hebdomadaire",
    ]);
    assert!(ok, "{error}");
    let id = id.trim().to_owned();
    assert!(id.parse::<uuid::Uuid>().is_ok(), "{id}");
    let (ok, listed, _) = opsflux(&["schedule", "list", "--database-url", &url]);
    assert!(ok && listed.contains(&id) && listed.contains("active") && listed.contains("Africa/Lagos"), "{listed}");
    assert!(opsflux(&["schedule", "pause", "--database-url", &url, &id]).0);
    let (_, listed, _) = opsflux(&["schedule", "list", "--database-url", &url]);
    assert!(listed.contains("paused"), "{listed}");
    assert!(opsflux(&["schedule", "resume", "--database-url", &url, &id]).0);
    let warehouse = platform.warehouse.path().display().to_string();
    let (ok, ran, error) = opsflux(&[
        "schedule",
        "run-now",
        &id,
        "--database-url",
        &url,
        "--warehouse",
        &warehouse,
        "--smtp-url",
        &smtp.url(),
    ]);
    assert!(ok, "{error}");
    assert!(ran.contains("viewer.alpha@test.example") && ran.contains("sent"), "{ran}");
    let messages = smtp.messages();
    assert_eq!(messages.len(), 2);
    for mail in &messages {
        let kinds: Vec<&str> = mail.files.iter().map(|(_, kind, _)| kind.as_str()).collect();
        assert_eq!(
            kinds,
            ["application/pdf", "application/vnd.openxmlformats-officedocument.wordprocessingml.document"]
        );
    }
    let (ok, history, _) = opsflux(&["schedule", "history", "--database-url", &url, &id, "--json"]);
    assert!(ok);
    let history: serde_json::Value = serde_json::from_str(&history).unwrap();
    assert_eq!(history[0]["status"], "succeeded");
    assert_eq!(history[0]["deliveries"].as_array().unwrap().len(), 2);
    let (ok, _, error) = opsflux(&[
        "schedule",
        "run-now",
        &id,
        "--database-url",
        &url,
        "--warehouse",
        &warehouse,
        "--smtp-url",
        "http://nowhere",
    ]);
    assert!(!ok && error.contains("--smtp-url `http://nowhere/`: the scheme must be smtp or smtps"), "{error}");
    let audited: i64 = sqlx::query_scalar("SELECT count(*) FROM platform.audit_log WHERE action LIKE 'schedule.%'")
        .fetch_one(&platform.pool)
        .await
        .unwrap();
    assert_eq!(audited, 4, "add, pause, resume, run-now");
}
