//! `opsflux scheduler`: the report scheduler and alert evaluation alone (they also run
//! inside `opsflux serve` when it is given an SMTP server), and the SMTP settings both
//! share.

use std::sync::Arc;

use anyhow::Context;
use clap::Args;

use crate::database;
use crate::jobs::mail::Mailer;
use crate::jobs::scheduler::{Scheduler, Settings};

/// Where scheduled reports and alerts are mailed from.
#[derive(Debug, Clone, Args)]
pub struct MailArgs {
    /// SMTP server for scheduled reports and alerts: smtp://host:port (plain),
    /// smtp://user:password@host:587?tls=required (STARTTLS), smtps://host:465 (TLS).
    #[arg(long, env = "OPSFLUX_SMTP_URL")]
    pub smtp_url: Option<String>,
    /// The From address of the messages.
    #[arg(long, env = "OPSFLUX_MAIL_FROM", default_value = "OpsFlux <rapports@opsflux.localhost>")]
    pub mail_from: String,
}

impl MailArgs {
    /// The mailer, or none without an SMTP URL.
    pub fn mailer(&self) -> anyhow::Result<Option<Mailer>> {
        self.smtp_url.as_deref().map(|url| Mailer::new(url, &self.mail_from)).transpose().map_err(Into::into)
    }
}

/// How the scheduler runs.
#[derive(Debug, Clone, Args)]
pub struct SchedulerArgs {
    /// Seconds between looks for due firings, runnable jobs and due alert rules.
    #[arg(long, default_value_t = 5)]
    pub tick_seconds: u64,
    /// A report job running longer than this is stopped and retried.
    #[arg(long, default_value_t = 600)]
    pub job_timeout_seconds: u64,
    /// Attempts of a job (SMTP refused or down, render failed) before it fails for good.
    #[arg(long, default_value_t = 4)]
    pub job_attempts: i32,
    /// Seconds before the first retry; doubled at each further one.
    #[arg(long, default_value_t = 30)]
    pub retry_seconds: u64,
    /// Render each recipient's report on its own, even when recipients share a site
    /// scope (by default recipients with the same sites and language share one render).
    #[arg(long)]
    pub render_per_recipient: bool,
}

impl Default for SchedulerArgs {
    fn default() -> Self {
        Self {
            tick_seconds: 5,
            job_timeout_seconds: 600,
            job_attempts: 4,
            retry_seconds: 30,
            render_per_recipient: false,
        }
    }
}

impl SchedulerArgs {
    pub fn settings(&self, public_url: &str) -> Settings {
        Settings {
            tick: std::time::Duration::from_secs(self.tick_seconds.max(1)),
            job_timeout: std::time::Duration::from_secs(self.job_timeout_seconds.max(1)),
            attempts: self.job_attempts.max(1),
            backoff: std::time::Duration::from_secs(self.retry_seconds),
            public_url: public_url.to_owned(),
            share_renders: !self.render_per_recipient,
            ..Settings::default()
        }
    }
}

#[derive(Debug, Args)]
pub struct SchedulerCommandArgs {
    /// PostgreSQL connection URL of the platform database.
    #[arg(long, env = "OPSFLUX_DATABASE_URL")]
    pub database_url: String,
    /// The warehouse reports are rendered from.
    #[arg(long, env = "OPSFLUX_WAREHOUSE", default_value = "data/warehouse")]
    pub warehouse: std::path::PathBuf,
    /// The address recipients open OpsFlux at (links in the messages).
    #[arg(long, env = "OPSFLUX_PUBLIC_URL", default_value = "http://127.0.0.1:8080")]
    pub public_url: String,
    #[command(flatten)]
    pub mail: MailArgs,
    #[command(flatten)]
    pub scheduler: SchedulerArgs,
    #[command(flatten)]
    pub query: super::QueryArgs,
    #[command(flatten)]
    pub limits: super::serve::LimitArgs,
}

/// Builds a scheduler over a database and warehouse.
pub async fn scheduler(args: &SchedulerCommandArgs) -> anyhow::Result<Scheduler> {
    let mailer = args
        .mail
        .mailer()?
        .context("give --smtp-url (or OPSFLUX_SMTP_URL): the scheduler mails every report and alert")?;
    let pool = database::connect(&args.database_url, 8).await?;
    let engine = super::open_engine(&args.warehouse, &args.query).await?;
    let renders = Arc::new(args.limits.render_limits());
    Ok(Scheduler::new(pool, engine, mailer, renders, args.scheduler.settings(&args.public_url)))
}

/// `opsflux scheduler`: runs until Ctrl-C.
pub async fn run(args: SchedulerCommandArgs) -> anyhow::Result<()> {
    let scheduler = scheduler(&args).await?;
    scheduler.run(super::capture::stop_on_signal()).await;
    Ok(())
}
