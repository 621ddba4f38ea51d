//! The scheduler: turns due firings into jobs and runs them.
//!
//! - **Once per firing.** Planning locks due schedules with `FOR UPDATE SKIP LOCKED`
//!   and inserts one job per (schedule, firing time), a unique pair; running takes a
//!   job under a PostgreSQL advisory lock held by a connection of its own, so two
//!   schedulers never run one job at once, and a scheduler that dies (even by SIGKILL)
//!   releases it with its connection: the next tick, here or elsewhere, resumes it.
//! - **Missed firings** (the scheduler was down) run once, at the last missed time,
//!   marked late; the job records how many were skipped.
//! - **One snapshot per firing.** A job pins the warehouse once and renders every
//!   recipient's report from that pin, each under the recipient's own site scope.
//! - **Deliveries** are rows per (job, recipient): `sending` is committed before the
//!   SMTP transaction and `sent` after it, so a retry never mails a sent recipient
//!   again. The one window left — the process dies after the server accepted the
//!   message and before `sent` was written — is resolved by sending again with the
//!   same Message-ID, and the delivery's note says so (at least once, never lost).
//! - **Failures** (SMTP refused or down, a render that failed) are retried with
//!   exponential backoff up to the attempt limit; each job runs within a time limit.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, Utc};
use opsflux_query::{Engine, Scope};
use sqlx::{ConnectOptions as _, PgPool};
use uuid::Uuid;

use super::JobError;
use super::mail::Mailer;
use super::report::{self, RenderKey, Rendered};
use super::schedules::{self, Schedule};
use crate::auth::users;
use crate::documents::RenderLimits;

/// Jobs one scheduler runs per tick before it looks for due firings again.
pub const JOBS_PER_TICK: usize = 10;

/// How the scheduler runs.
#[derive(Debug, Clone)]
pub struct Settings {
    /// Between looks for due firings and runnable jobs.
    pub tick: Duration,
    /// A job running longer than this is stopped and retried.
    pub job_timeout: Duration,
    /// Attempts before a job is failed for good.
    pub attempts: i32,
    /// Wait before the first retry; doubled for each further one.
    pub backoff: Duration,
    /// Where recipients open reports (`https://opsflux.example.com`).
    pub public_url: String,
    /// Render once per distinct scope and locale and share the files (true), or once
    /// per recipient.
    pub share_renders: bool,
    /// This process's name in the job history.
    pub worker: String,
}

impl Default for Settings {
    fn default() -> Self {
        Self {
            tick: Duration::from_secs(5),
            job_timeout: Duration::from_secs(600),
            attempts: 4,
            backoff: Duration::from_secs(30),
            public_url: "http://127.0.0.1:8080".to_owned(),
            share_renders: true,
            worker: format!("pid {}", std::process::id()),
        }
    }
}

/// What one run of a job did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Outcome {
    pub sent: usize,
    pub refused: usize,
    pub failed: usize,
    pub renders: usize,
}

/// Plans and runs report jobs, and evaluates alert rules on their schedules.
#[derive(Debug, Clone)]
pub struct Scheduler {
    pool: PgPool,
    engine: Engine,
    mailer: Mailer,
    renders: Arc<RenderLimits>,
    settings: Settings,
    /// The warehouse pin alert rules were last evaluated against.
    generation: Arc<std::sync::Mutex<Option<u64>>>,
}

/// A job held under its advisory lock; the lock goes with the connection.
struct Claimed {
    job: Uuid,
    _connection: sqlx::PgConnection,
}

impl Scheduler {
    pub fn new(pool: PgPool, engine: Engine, mailer: Mailer, renders: Arc<RenderLimits>, settings: Settings) -> Self {
        Self { pool, engine, mailer, renders, settings, generation: Arc::default() }
    }

    pub fn settings(&self) -> &Settings {
        &self.settings
    }

    pub fn mailer(&self) -> &Mailer {
        &self.mailer
    }

    /// Ticks until `stop` turns true; errors are logged and the next tick tries again.
    pub async fn run(&self, stop: tokio::sync::watch::Receiver<bool>) {
        tracing::info!(smtp = %self.mailer.described(), every = ?self.settings.tick, "scheduler started");
        // Alerts tick on their own, so a long report job never delays them.
        let reports = self.every_tick(stop.clone(), |stop| self.tick(stop));
        let alerts = self.every_tick(stop, |_| self.alert_tick());
        tokio::join!(reports, alerts);
        tracing::info!("scheduler stopped");
    }

    async fn every_tick<F, Work>(&self, mut stop: tokio::sync::watch::Receiver<bool>, mut work: F)
    where
        F: FnMut(tokio::sync::watch::Receiver<bool>) -> Work,
        Work: Future<Output = Result<(), JobError>>,
    {
        loop {
            if let Err(error) = work(stop.clone()).await {
                tracing::error!("scheduler: {error}");
            }
            tokio::select! {
                _ = tokio::time::sleep(self.settings.tick) => {}
                _ = stop.wait_for(|stop| *stop) => break,
            }
        }
    }

    /// Plans due firings and runs the runnable jobs (at most [`JOBS_PER_TICK`]).
    pub async fn tick(&self, stop: tokio::sync::watch::Receiver<bool>) -> Result<(), JobError> {
        if let Err(error) = self.engine.refresh().await {
            tracing::warn!("the warehouse could not be pinned again: {error}");
        }
        self.plan(Utc::now()).await?;
        for _ in 0..JOBS_PER_TICK {
            if *stop.borrow() {
                break;
            }
            let Some(claimed) = self.claim_next().await? else { break };
            self.execute(&claimed).await;
        }
        Ok(())
    }

    /// Evaluates due alert rules, and all of them when the warehouse moved.
    pub async fn alert_tick(&self) -> Result<(), JobError> {
        let last = *self.generation.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        let seen = super::alerts::evaluate_due(&self.pool, &self.engine, &self.mailer, Utc::now(), last).await?;
        *self.generation.lock().unwrap_or_else(std::sync::PoisonError::into_inner) = Some(seen);
        Ok(())
    }

    /// Turns every due firing into a job (once, whatever other schedulers do).
    /// Returns how many jobs were queued.
    pub async fn plan(&self, now: DateTime<Utc>) -> Result<usize, JobError> {
        let mut transaction = self.pool.begin().await?;
        let due: Vec<(Uuid, String, String, Option<DateTime<Utc>>)> = sqlx::query_as(
            "SELECT id, cron, timezone, next_run_at FROM platform.schedules
             WHERE is_enabled AND deleted_at IS NULL AND (next_run_at IS NULL OR next_run_at <= $1)
             ORDER BY next_run_at NULLS FIRST FOR UPDATE SKIP LOCKED",
        )
        .bind(now)
        .fetch_all(&mut *transaction)
        .await?;
        let mut queued = 0;
        for (id, cron, timezone, next_run_at) in due {
            let cadence = match super::cadence::Cadence::new(&cron, &timezone) {
                Ok(cadence) => cadence,
                Err(error) => {
                    tracing::error!(schedule = %id, "a stored schedule cannot fire and is paused: {error}");
                    sqlx::query("UPDATE platform.schedules SET is_enabled = false WHERE id = $1")
                        .bind(id)
                        .execute(&mut *transaction)
                        .await?;
                    continue;
                }
            };
            let next = match next_run_at {
                None => cadence.next_after(now),
                Some(due) => {
                    let fire_at = cadence.last_at_or_before(now).filter(|last| *last >= due).unwrap_or(due);
                    let missed = cadence.between(due - chrono::Duration::nanoseconds(1), fire_at, 10_000).len();
                    let skipped = missed.saturating_sub(1);
                    let late = skipped > 0 || now - fire_at > chrono::Duration::seconds(60);
                    let inserted = sqlx::query(
                        "INSERT INTO platform.jobs (kind, status, schedule_id, fire_at, late, payload, queued_at)
                         VALUES ('report', 'queued', $1, $2, $3, $4, now())
                         ON CONFLICT (schedule_id, fire_at) DO NOTHING",
                    )
                    .bind(id)
                    .bind(fire_at)
                    .bind(late)
                    .bind(serde_json::json!({ "skipped_firings": skipped }))
                    .execute(&mut *transaction)
                    .await?;
                    queued += inserted.rows_affected() as usize;
                    if late {
                        tracing::warn!(schedule = %id, %fire_at, skipped, "a missed firing runs late, once");
                    }
                    cadence.next_after(now.max(fire_at))
                }
            };
            sqlx::query("UPDATE platform.schedules SET next_run_at = $2 WHERE id = $1")
                .bind(id)
                .bind(next)
                .execute(&mut *transaction)
                .await?;
        }
        transaction.commit().await?;
        Ok(queued)
    }

    /// Queues a firing of `schedule` now, whatever its cron says.
    pub async fn fire_now(&self, schedule: Uuid) -> Result<Uuid, JobError> {
        queue_now(&self.pool, schedule).await
    }

    /// Runs `job` to its end here — or, when another scheduler holds it, waits for
    /// that one — through retries, until it succeeded or failed for good.
    pub async fn run_to_end(&self, job: Uuid) -> Result<String, JobError> {
        loop {
            if let Some(claimed) = self.try_claim(job).await? {
                self.execute(&claimed).await;
            }
            let (status, run_after): (String, Option<DateTime<Utc>>) =
                sqlx::query_as("SELECT status, run_after FROM platform.jobs WHERE id = $1")
                    .bind(job)
                    .fetch_one(&self.pool)
                    .await?;
            if matches!(status.as_str(), "succeeded" | "failed" | "cancelled") {
                return Ok(status);
            }
            let wait = run_after.map(|at| (at - Utc::now()).to_std().unwrap_or_default()).unwrap_or_default();
            tokio::time::sleep(wait.max(Duration::from_millis(200))).await;
        }
    }

    async fn claim_next(&self) -> Result<Option<Claimed>, JobError> {
        let candidates: Vec<Uuid> = sqlx::query_scalar(
            "SELECT id FROM platform.jobs WHERE kind = 'report' AND status IN ('queued', 'running')
                AND (run_after IS NULL OR run_after <= now()) AND deleted_at IS NULL
             ORDER BY queued_at LIMIT 50",
        )
        .fetch_all(&self.pool)
        .await?;
        for job in candidates {
            if let Some(claimed) = self.try_claim(job).await? {
                return Ok(Some(claimed));
            }
        }
        Ok(None)
    }

    /// Takes `job` if no one holds it and it is still runnable.
    async fn try_claim(&self, job: Uuid) -> Result<Option<Claimed>, JobError> {
        let mut connection = self.pool.connect_options().connect().await?;
        let locked: bool = sqlx::query_scalar("SELECT pg_try_advisory_lock(hashtextextended($1::text, 7401))")
            .bind(job)
            .fetch_one(&mut connection)
            .await?;
        if !locked {
            return Ok(None);
        }
        let runnable: bool = sqlx::query_scalar(
            "SELECT EXISTS (SELECT 1 FROM platform.jobs WHERE id = $1 AND status IN ('queued', 'running')
                 AND (run_after IS NULL OR run_after <= now()))",
        )
        .bind(job)
        .fetch_one(&mut connection)
        .await?;
        // Dropping the connection closes it, which releases the lock.
        Ok(runnable.then_some(Claimed { job, _connection: connection }))
    }

    /// Runs a claimed job once and records the outcome: done, retry later, or failed.
    async fn execute(&self, claimed: &Claimed) {
        let job = claimed.job;
        let attempt: Result<i32, sqlx::Error> = sqlx::query_scalar(
            "UPDATE platform.jobs SET status = 'running', attempts = attempts + 1, worker = $2, run_after = NULL,
                    started_at = COALESCE(started_at, now()), updated_at = now()
             WHERE id = $1 RETURNING attempts",
        )
        .bind(job)
        .bind(&self.settings.worker)
        .fetch_one(&self.pool)
        .await;
        let attempt = match attempt {
            Ok(attempt) => attempt,
            Err(error) => {
                tracing::error!(%job, "cannot start the job: {error}");
                return;
            }
        };
        let outcome = match tokio::time::timeout(self.settings.job_timeout, Box::pin(self.deliver(job))).await {
            Ok(outcome) => outcome,
            Err(_) => Err(JobError::Delivery(format!(
                "the job took longer than {} s and was stopped",
                self.settings.job_timeout.as_secs()
            ))),
        };
        let recorded = match &outcome {
            Ok(done) => {
                tracing::info!(%job, sent = done.sent, refused = done.refused, renders = done.renders, "report job done");
                sqlx::query(
                    "UPDATE platform.jobs SET status = 'succeeded', finished_at = now(), error = NULL, updated_at = now(),
                            payload = payload || jsonb_build_object('sent', $2::int, 'refused', $3::int, 'renders', $4::int)
                     WHERE id = $1",
                )
                .bind(job)
                .bind(done.sent as i32)
                .bind(done.refused as i32)
                .bind(done.renders as i32)
                .execute(&self.pool)
                .await
            }
            Err(error) if attempt < self.settings.attempts => {
                let doublings = (attempt - 1).clamp(0, 10) as u32;
                let wait = self
                    .settings
                    .backoff
                    .checked_mul(1 << doublings)
                    .unwrap_or(Duration::MAX)
                    .min(Duration::from_secs(86_400));
                tracing::warn!(%job, attempt, "report job failed, retried in {} s: {error}", wait.as_secs());
                sqlx::query(
                    "UPDATE platform.jobs SET status = 'queued', error = $2, run_after = now() + $3, updated_at = now()
                     WHERE id = $1",
                )
                .bind(job)
                .bind(error.to_string())
                .bind(wait)
                .execute(&self.pool)
                .await
            }
            Err(error) => {
                tracing::error!(%job, attempt, "report job failed for good: {error}");
                sqlx::query(
                    "UPDATE platform.jobs SET status = 'failed', error = $2, finished_at = now(), updated_at = now()
                     WHERE id = $1",
                )
                .bind(job)
                .bind(error.to_string())
                .execute(&self.pool)
                .await
            }
        };
        if let Err(error) = recorded {
            tracing::error!(%job, "cannot record the job's outcome: {error}");
        }
    }

    /// Renders and sends every delivery of `job` not yet sent, from one pin.
    async fn deliver(&self, job: Uuid) -> Result<Outcome, JobError> {
        let (schedule_id, fire_at): (Option<Uuid>, Option<DateTime<Utc>>) =
            sqlx::query_as("SELECT schedule_id, fire_at FROM platform.jobs WHERE id = $1")
                .bind(job)
                .fetch_one(&self.pool)
                .await?;
        let schedule_id = schedule_id.ok_or_else(|| JobError::NotFound(format!("job {job} has no schedule")))?;
        let schedule = schedules::get(&self.pool, schedule_id).await?;
        let document = schedule.document(&self.pool).await?;
        let fire_at = fire_at.unwrap_or_else(Utc::now);
        let today = fire_at.with_timezone(&schedule.cadence()?.timezone()).date_naive();
        let pin = match self.engine.refresh().await {
            Ok(pin) => pin,
            Err(error) => {
                tracing::warn!("the warehouse could not be pinned again; the firing uses the last pin: {error}");
                self.engine.pin()
            }
        };
        let engine = self.engine.pinned_at(pin.clone());
        let author = self.author_scope(&schedule).await?;
        self.create_deliveries(job, &schedule).await?;
        let pending: Vec<(Uuid, Uuid, String, String, String, String)> = sqlx::query_as(
            "SELECT d.id, d.user_id, d.email, d.status, d.message_id, COALESCE(u.display_name, d.email)
             FROM platform.deliveries d JOIN platform.users u ON u.id = d.user_id
             WHERE d.job_id = $1 AND d.status NOT IN ('sent', 'refused') ORDER BY d.email",
        )
        .bind(job)
        .fetch_all(&self.pool)
        .await?;
        let mut outcome = Outcome::default();
        let mut shared: BTreeMap<RenderKey, Result<Rendered, String>> = BTreeMap::new();
        // A render that failed (or timed out) is not tried again for the other
        // recipients of this attempt who share its key.
        let mut failed_renders: BTreeMap<RenderKey, String> = BTreeMap::new();
        // Every render of this attempt reads the one pin: its versions are recorded once.
        let mut snapshot_recorded = false;
        let mut errors = Vec::new();
        for (delivery, user, email, status, message_id, display_name) in pending {
            let principal = users::principal(&self.pool, user).await.map_err(JobError::from_auth)?;
            let locale: String = sqlx::query_scalar("SELECT locale FROM platform.users WHERE id = $1")
                .bind(user)
                .fetch_one(&self.pool)
                .await?;
            // A stored document's queries are its author's: each recipient reads what
            // both they and the author may read.
            let scope = principal.as_ref().and_then(|principal| principal.scope_for("redacteur.render")).map(|scope| {
                match &author {
                    Some(author) => scope.intersect(author),
                    None => scope,
                }
            });
            if principal.is_none() {
                // Disabled since the firing was planned: no message at all.
                self.mark(delivery, "refused", Some("the account is disabled: nothing was sent"), None).await?;
                outcome.refused += 1;
                continue;
            }
            let Some(scope) = scope else {
                let reason = "vos rôles ne donnent pas la permission redacteur.render (lire les rapports)";
                let note = report::note(&schedule, &email, &display_name, &locale, reason, message_id);
                let sent = self.send(delivery, &status, &note, "refused", Some(reason), "").await;
                tally(sent, &email, &mut outcome.refused, &mut outcome.failed, &mut errors)?;
                continue;
            };
            let visible = pin.sites_in(&scope);
            if matches!(scope, Scope::Sites(_)) && visible.is_empty() {
                let reason = "aucun site de votre périmètre n'a de données dans l'entrepôt";
                let note = report::note(&schedule, &email, &display_name, &locale, reason, message_id);
                let sent = self.send(delivery, &status, &note, "refused", Some(reason), "").await;
                tally(sent, &email, &mut outcome.refused, &mut outcome.failed, &mut errors)?;
                continue;
            }
            let parameters = report::parameters_for(&schedule, &document, &visible, &scope, &locale);
            let key = RenderKey {
                sites: match &scope {
                    Scope::All => None,
                    Scope::Sites(_) => Some(visible.clone()),
                },
                parameters: parameters.clone(),
            };
            if let Some(message) = failed_renders.get(&key) {
                self.mark(delivery, "failed", None, Some(message)).await?;
                errors.push(format!("{email}: {message}"));
                outcome.failed += 1;
                continue;
            }
            let cached = if self.settings.share_renders { shared.get(&key).cloned() } else { None };
            let rendered = match cached {
                Some(rendered) => rendered,
                None => {
                    outcome.renders += 1;
                    let rendered = report::render(
                        &engine,
                        &schedule,
                        &document,
                        &parameters,
                        &visible,
                        &scope,
                        today,
                        &self.renders,
                    )
                    .await;
                    let rendered = match rendered {
                        Ok(rendered) => Ok(rendered),
                        // The recipient's own data does not fit the report (a site they
                        // may not see, say): they get a note; nothing to retry.
                        Err(error)
                            if error.is_bad_input()
                                && !matches!(error, crate::documents::RenderError::TimedOut { .. }) =>
                        {
                            Err(error.to_string())
                        }
                        Err(error) => {
                            let message = format!("the report could not be rendered: {error}");
                            failed_renders.insert(key.clone(), message.clone());
                            self.mark(delivery, "failed", None, Some(&message)).await?;
                            errors.push(format!("{email}: {message}"));
                            outcome.failed += 1;
                            continue;
                        }
                    };
                    if self.settings.share_renders {
                        shared.insert(key, rendered.clone());
                    }
                    rendered
                }
            };
            let sites = rendered.as_ref().map(|rendered| rendered.sites.clone()).unwrap_or_default();
            match rendered {
                Err(reason) => {
                    let note = report::note(&schedule, &email, &display_name, &locale, &reason, message_id);
                    let sent = self.send(delivery, &status, &note, "refused", Some(&reason), &sites).await;
                    tally(sent, &email, &mut outcome.refused, &mut outcome.failed, &mut errors)?;
                }
                Ok(rendered) => {
                    if !snapshot_recorded {
                        self.record_snapshot(job, &rendered).await?;
                        snapshot_recorded = true;
                    }
                    let link = self.link(&schedule, &parameters);
                    let message =
                        report::message(&schedule, &rendered, &email, &display_name, &locale, &link, message_id);
                    let sent = self.send(delivery, &status, &message, "sent", None, &sites).await;
                    tally(sent, &email, &mut outcome.sent, &mut outcome.failed, &mut errors)?;
                }
            }
        }
        sqlx::query("UPDATE platform.schedules SET last_run_at = $2 WHERE id = $1 AND (last_run_at IS NULL OR last_run_at < $2)")
            .bind(schedule.id)
            .bind(fire_at)
            .execute(&self.pool)
            .await?;
        if errors.is_empty() { Ok(outcome) } else { Err(JobError::Delivery(errors.join("; "))) }
    }

    /// For a stored document, the scope its owner may write queries over (none for a
    /// template, or a document scheduled on the command line). An owner who may no
    /// longer write documents or manage schedules stops the firing.
    async fn author_scope(&self, schedule: &Schedule) -> Result<Option<Scope>, JobError> {
        let (true, Some(owner)) = (schedule.document.is_some(), schedule.owner_id) else { return Ok(None) };
        let principal = users::principal(&self.pool, owner).await.map_err(JobError::from_auth)?;
        let allowed = principal.filter(|principal| principal.scope_for("schedules.manage").is_some());
        match allowed.and_then(|principal| principal.scope_for("redacteur.write")) {
            Some(scope) => Ok(Some(scope)),
            None => Err(JobError::Delivery(
                "the schedule's owner may no longer write documents or manage schedules: nothing was sent".into(),
            )),
        }
    }

    /// One delivery row per recipient (users named by email, and users of the roles),
    /// each with the Message-ID every attempt will use.
    async fn create_deliveries(&self, job: Uuid, schedule: &Schedule) -> Result<(), JobError> {
        let recipients = super::recipients::active_users(&self.pool, &schedule.to, &schedule.to_roles).await?;
        let domain = self.mailer.domain().to_owned();
        for (user, email) in recipients {
            sqlx::query(
                "INSERT INTO platform.deliveries (job_id, user_id, email, status, message_id)
                 VALUES ($1, $2, $3, 'pending', $4) ON CONFLICT (job_id, user_id) DO NOTHING",
            )
            .bind(job)
            .bind(user)
            .bind(&email)
            .bind(format!("<{job}.{user}@{domain}>"))
            .execute(&self.pool)
            .await?;
        }
        let unknown: Vec<String> = sqlx::query_scalar(
            "SELECT email FROM unnest($1::text[]) AS email WHERE NOT EXISTS (
                 SELECT 1 FROM platform.users u WHERE lower(u.email) = email AND u.is_active AND u.deleted_at IS NULL)",
        )
        .bind(&schedule.to)
        .fetch_all(&self.pool)
        .await?;
        if !unknown.is_empty() {
            tracing::warn!(%job, ?unknown, "recipients with no active account are skipped");
            sqlx::query("UPDATE platform.jobs SET payload = payload || jsonb_build_object('skipped_recipients', $2::text[]) WHERE id = $1")
                .bind(job)
                .bind(&unknown)
                .execute(&self.pool)
                .await?;
        }
        Ok(())
    }

    /// Marks the delivery `sending`, sends, then marks it `done` (sent or refused). A
    /// delivery found `sending` was interrupted after or during an earlier attempt:
    /// the note says the recipient may hold two copies with one Message-ID.
    async fn send(
        &self,
        delivery: Uuid,
        previous: &str,
        message: &super::mail::Outgoing,
        done: &str,
        note: Option<&str>,
        sites: &str,
    ) -> Result<(), JobError> {
        let interrupted = previous == "sending";
        let resend_note = interrupted
            .then_some("sent again after an interruption: an earlier sending may also have arrived (same Message-ID)");
        // Only from the state this attempt read: a delivery another scheduler took
        // meanwhile (its lock connection lost, say) is left to it.
        let claimed = sqlx::query(
            "UPDATE platform.deliveries SET status = 'sending', attempts = attempts + 1, sites = $2, error = NULL,
                    updated_at = now() WHERE id = $1 AND status = $3",
        )
        .bind(delivery)
        .bind(sites)
        .bind(previous)
        .execute(&self.pool)
        .await?;
        if claimed.rows_affected() == 0 {
            return Err(JobError::Delivery("another scheduler took this delivery".into()));
        }
        match self.mailer.send(message).await {
            Ok(()) => {
                let note = match (note, resend_note) {
                    (Some(note), Some(resend)) => Some(format!("{note}; {resend}")),
                    (Some(note), None) => Some(note.to_owned()),
                    (None, resend) => resend.map(str::to_owned),
                };
                sqlx::query(
                    "UPDATE platform.deliveries SET status = $2, note = $3, sent_at = now(), updated_at = now() WHERE id = $1",
                )
                .bind(delivery)
                .bind(done)
                .bind(note)
                .execute(&self.pool)
                .await?;
                Ok(())
            }
            Err(error) => {
                self.mark(delivery, "failed", None, Some(&error.to_string())).await?;
                Err(JobError::Mail(error))
            }
        }
    }

    async fn mark(
        &self,
        delivery: Uuid,
        status: &str,
        note: Option<&str>,
        error: Option<&str>,
    ) -> Result<(), JobError> {
        sqlx::query(
            "UPDATE platform.deliveries SET status = $2, note = COALESCE($3, note), error = $4, updated_at = now()
             WHERE id = $1",
        )
        .bind(delivery)
        .bind(status)
        .bind(note)
        .bind(error)
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    /// The first snapshot a job rendered from is its snapshot of record.
    async fn record_snapshot(&self, job: Uuid, rendered: &Rendered) -> Result<(), JobError> {
        let versions = serde_json::to_value(&rendered.warehouse).unwrap_or_default();
        sqlx::query("UPDATE platform.jobs SET warehouse = $2 WHERE id = $1 AND warehouse IS NULL")
            .bind(job)
            .bind(versions)
            .execute(&self.pool)
            .await?;
        Ok(())
    }

    /// Where a recipient opens the report in OpsFlux (rendered again under their scope).
    fn link(&self, schedule: &Schedule, parameters: &BTreeMap<String, String>) -> String {
        let base = self.settings.public_url.trim_end_matches('/');
        if schedule.document.is_some() {
            return format!("{base}/documents");
        }
        let mut query = url::form_urlencoded::Serializer::new(String::new());
        query.append_pair("template", &schedule.template);
        query.append_pair("format", "html");
        for (name, value) in parameters {
            query.append_pair(name, value);
        }
        format!("{base}/documents/render?{}", query.finish())
    }
}

/// Queues a firing of `schedule` now, for whichever scheduler ticks next.
pub async fn queue_now(pool: &PgPool, schedule: Uuid) -> Result<Uuid, JobError> {
    schedules::get(pool, schedule).await?;
    let pending: bool = sqlx::query_scalar(
        "SELECT EXISTS (SELECT 1 FROM platform.jobs WHERE schedule_id = $1 AND status IN ('queued', 'running'))",
    )
    .bind(schedule)
    .fetch_one(pool)
    .await?;
    if pending {
        return Err(JobError::Busy("a firing of this schedule is already queued or running".into()));
    }
    Ok(sqlx::query_scalar(
        "INSERT INTO platform.jobs (kind, status, schedule_id, fire_at, payload, queued_at)
         VALUES ('report', 'queued', $1, clock_timestamp(), '{\"run_now\": true}', now()) RETURNING id",
    )
    .bind(schedule)
    .fetch_one(pool)
    .await?)
}

/// Counts a sending: done, or a mail failure kept for the job's error (and retried);
/// any other error stops the job.
fn tally(
    sent: Result<(), JobError>,
    email: &str,
    done: &mut usize,
    failed: &mut usize,
    errors: &mut Vec<String>,
) -> Result<(), JobError> {
    match sent {
        Ok(()) => *done += 1,
        Err(JobError::Mail(error)) => {
            errors.push(format!("{email}: {error}"));
            *failed += 1;
        }
        // Another scheduler holds this delivery: it is theirs to count.
        Err(JobError::Delivery(_)) => {}
        Err(other) => return Err(other),
    }
    Ok(())
}
