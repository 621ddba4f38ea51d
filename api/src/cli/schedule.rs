//! `opsflux schedule`: scheduled reports from the command line — add (prints the new
//! schedule's id), list, pause, resume, history, run-now (fires once now and waits
//! for the deliveries). Every change is audited.

use std::collections::BTreeMap;

use anyhow::{Context, bail};
use clap::{Args, Subcommand};
use uuid::Uuid;

use crate::database;
use crate::jobs::JobError;
use crate::jobs::schedules::{self, ScheduleSpec};

#[derive(Debug, Args)]
pub struct ScheduleArgs {
    #[command(subcommand)]
    pub command: ScheduleCommand,
}

#[derive(Debug, Subcommand)]
pub enum ScheduleCommand {
    /// Schedule a report: a template, a cron expression read in a time zone, and
    /// recipients (users, each receiving their own sites' report). Prints its id.
    Add(AddArgs),
    /// List schedules with their cron, recipients, state and next firing.
    List(super::user::DatabaseOnly),
    /// Stop a schedule from firing (its history stays).
    Pause(ById),
    /// Let a paused schedule fire again, from its next time on (missed firings are not run).
    Resume(ById),
    /// The newest firings of a schedule: state, times, warehouse snapshot, and each
    /// recipient's delivery (message id, error).
    History(HistoryArgs),
    /// Fire a schedule once now and wait until every delivery is sent or failed.
    RunNow(RunNowArgs),
}

#[derive(Debug, Args)]
pub struct AddArgs {
    #[command(flatten)]
    pub database: super::user::DatabaseOnly,
    /// weekly-site-report, powertrace-monthly, moc-dossier, 5s-audit, project-progress or
    /// powertrace-scenario.
    #[arg(long, conflicts_with = "document")]
    pub template: Option<String>,
    /// A block document file (JSON) to render instead of a shipped template.
    #[arg(long)]
    pub document: Option<std::path::PathBuf>,
    /// Five cron fields `minute hour day-of-month month day-of-week` (`0 7 * * 1`:
    /// Mondays at 07:00), or six with seconds first.
    #[arg(long)]
    pub cron: String,
    /// IANA time zone the cron expression is read in.
    #[arg(long, default_value = "Europe/Paris")]
    pub timezone: String,
    /// Emails of users who receive the report (`--to a@x b@y`, or repeat the flag).
    #[arg(long = "to", num_args = 1..)]
    pub to: Vec<String>,
    /// A role whose users all receive the report; repeat for several.
    #[arg(long = "to-role", num_args = 1..)]
    pub to_roles: Vec<String>,
    /// pdf, docx or xlsx; repeat to attach several.
    #[arg(long = "format", num_args = 1..)]
    pub formats: Vec<String>,
    /// A template parameter `name=value` (site=ALPHA, period=2026-W47, locale=en-GB);
    /// repeat for several. Unset ones take their defaults at each firing.
    #[arg(long = "param", num_args = 1.., value_parser = parse_parameter)]
    pub parameters: Vec<(String, String)>,
    /// Shown in lists and attachment names (default: the template's title).
    #[arg(long)]
    pub name: Option<String>,
    /// The mail subject (default: the report's name, sites and period).
    #[arg(long)]
    pub subject: Option<String>,
    /// A paragraph above the headline figures in the mail.
    #[arg(long)]
    pub body: Option<String>,
    /// Create it paused.
    #[arg(long)]
    pub paused: bool,
}

#[derive(Debug, Args)]
pub struct ById {
    #[command(flatten)]
    pub database: super::user::DatabaseOnly,
    /// The schedule's id (`schedule list`).
    pub id: Uuid,
}

#[derive(Debug, Args)]
pub struct HistoryArgs {
    #[command(flatten)]
    pub schedule: ById,
    /// How many firings, newest first.
    #[arg(long, default_value_t = 20)]
    pub limit: i64,
    /// Print JSON instead of text.
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, Args)]
pub struct RunNowArgs {
    /// The schedule's id (`schedule list`).
    pub id: Uuid,
    #[command(flatten)]
    pub scheduler: super::scheduler::SchedulerCommandArgs,
}

fn parse_parameter(text: &str) -> Result<(String, String), String> {
    let (name, value) = text.split_once('=').ok_or_else(|| format!("`{text}`: write name=value"))?;
    if name.trim().is_empty() {
        return Err(format!("`{text}`: the parameter has no name"));
    }
    Ok((name.trim().to_owned(), value.trim().to_owned()))
}

/// An invalid member, named as the command line names it.
fn explain(error: JobError) -> anyhow::Error {
    match error {
        JobError::Invalid { field, message } => {
            let flag = match field.split('/').next().unwrap_or_default() {
                "to_roles" => "--to-role".to_owned(),
                "formats" => "--format".to_owned(),
                "parameters" => format!("--param {}", field.split('/').nth(1).unwrap_or_default()),
                other => format!("--{other}"),
            };
            anyhow::anyhow!("{flag}: {message}")
        }
        other => other.into(),
    }
}

pub async fn run(args: ScheduleArgs) -> anyhow::Result<()> {
    match args.command {
        ScheduleCommand::Add(args) => add(args).await,
        ScheduleCommand::List(args) => list(&args.database_url).await,
        ScheduleCommand::Pause(args) => set_enabled(args, false).await,
        ScheduleCommand::Resume(args) => set_enabled(args, true).await,
        ScheduleCommand::History(args) => history(args).await,
        ScheduleCommand::RunNow(args) => run_now(args).await,
    }
}

async fn add(args: AddArgs) -> anyhow::Result<()> {
    let document = match &args.document {
        Some(path) => {
            let text =
                std::fs::read_to_string(path).with_context(|| format!("cannot read --document {}", path.display()))?;
            Some(serde_json::from_str(&text).with_context(|| format!("--document {} is not JSON", path.display()))?)
        }
        None => None,
    };
    if args.template.is_none() && document.is_none() {
        bail!("give --template NAME (or --document FILE)");
    }
    let spec = ScheduleSpec {
        name: args.name,
        template: args.template,
        document,
        cron: args.cron,
        timezone: Some(args.timezone),
        formats: args.formats,
        to: args.to,
        to_roles: args.to_roles,
        parameters: args.parameters.into_iter().collect::<BTreeMap<_, _>>(),
        subject: args.subject,
        body: args.body,
        enabled: Some(!args.paused),
    };
    let pool = database::connect(&args.database.database_url, 2).await?;
    let id = schedules::add(&pool, &spec, None).await.map_err(explain)?;
    super::audit_cli(&pool, "schedule.add", "platform.schedules", Some(id), serde_json::to_value(&spec)?).await?;
    let schedule = schedules::get(&pool, id).await?;
    eprintln!(
        "scheduled `{}`: next firing {}",
        schedule.name,
        schedule.next_run_at.map(|at| at.to_rfc3339()).unwrap_or_else(|| "never".into())
    );
    println!("{id}");
    Ok(())
}

async fn list(database_url: &str) -> anyhow::Result<()> {
    let pool = database::connect(database_url, 2).await?;
    let all = schedules::list(&pool, None).await?;
    if all.is_empty() {
        eprintln!("no schedule yet: add one with `opsflux schedule add`");
    }
    for schedule in all {
        let recipients: Vec<String> =
            schedule.to.iter().cloned().chain(schedule.to_roles.iter().map(|role| format!("role:{role}"))).collect();
        println!(
            "{}  {:<8} {:<28} {:<16} {:<14} {:<12} next {:<25} to {}",
            schedule.id,
            if schedule.enabled { "active" } else { "paused" },
            schedule.name,
            schedule.template,
            schedule.cron,
            schedule.timezone,
            schedule.next_run_at.map(|at| at.to_rfc3339()).unwrap_or_else(|| "—".into()),
            recipients.join(", ")
        );
    }
    Ok(())
}

async fn set_enabled(args: ById, enabled: bool) -> anyhow::Result<()> {
    let pool = database::connect(&args.database.database_url, 2).await?;
    schedules::set_enabled(&pool, args.id, enabled, None).await?;
    let action = if enabled { "schedule.resume" } else { "schedule.pause" };
    super::audit_cli(&pool, action, "platform.schedules", Some(args.id), serde_json::json!({})).await?;
    eprintln!("schedule {} {}", args.id, if enabled { "resumed" } else { "paused" });
    Ok(())
}

async fn history(args: HistoryArgs) -> anyhow::Result<()> {
    let pool = database::connect(&args.schedule.database.database_url, 2).await?;
    schedules::get(&pool, args.schedule.id).await?;
    let firings = schedules::history(&pool, args.schedule.id, args.limit).await?;
    if args.json {
        println!("{}", serde_json::to_string_pretty(&firings)?);
        return Ok(());
    }
    if firings.is_empty() {
        eprintln!("schedule {} has not fired yet", args.schedule.id);
    }
    for firing in firings {
        println!(
            "{} {}{} attempts {} job {}{}",
            firing.fire_at.map(|at| at.to_rfc3339()).unwrap_or_default(),
            firing.status,
            if firing.late { " (late)" } else { "" },
            firing.attempts,
            firing.job,
            firing.error.map(|error| format!(" — {error}")).unwrap_or_default()
        );
        if let Some(warehouse) = &firing.warehouse {
            println!("  warehouse {warehouse}");
        }
        for delivery in firing.deliveries {
            println!(
                "  {:<40} {:<8} {:<16} {}{}{}",
                delivery.email,
                delivery.status,
                delivery.sites,
                delivery.message_id,
                delivery.note.map(|note| format!(" — {note}")).unwrap_or_default(),
                delivery.error.map(|error| format!(" — error: {error}")).unwrap_or_default()
            );
        }
    }
    Ok(())
}

async fn run_now(args: RunNowArgs) -> anyhow::Result<()> {
    let scheduler = super::scheduler::scheduler(&args.scheduler).await?;
    let pool = database::connect(&args.scheduler.database_url, 2).await?;
    let job = scheduler.fire_now(args.id).await?;
    super::audit_cli(&pool, "schedule.run_now", "platform.schedules", Some(args.id), serde_json::json!({"job": job}))
        .await?;
    eprintln!("fired schedule {} as job {job}; waiting for its deliveries", args.id);
    let status = scheduler.run_to_end(job).await?;
    let deliveries = schedules::deliveries(&pool, job).await?;
    for delivery in &deliveries {
        println!(
            "{:<40} {:<8} {}{}",
            delivery.email,
            delivery.status,
            delivery.message_id,
            delivery.error.as_ref().map(|error| format!(" — error: {error}")).unwrap_or_default()
        );
    }
    if status != "succeeded" {
        bail!("job {job} {status}: `opsflux schedule history {}` has the details", args.id);
    }
    eprintln!("job {job} succeeded: {} deliveries", deliveries.len());
    Ok(())
}
