//! `opsflux alert`: threshold alert rules from the command line — add, list, pause,
//! resume, evaluate now, and the log of evaluations.

use anyhow::Context;
use clap::{Args, Subcommand};
use uuid::Uuid;

use crate::database;
use crate::jobs::JobError;
use crate::jobs::alerts::{self, RuleSpec};

#[derive(Debug, Args)]
pub struct AlertArgs {
    #[command(subcommand)]
    pub command: AlertCommand,
}

#[derive(Debug, Subcommand)]
pub enum AlertCommand {
    /// Watch a metric per site over a window of days: `--metric pob.occupancy
    /// --condition '> 100 %' --to-days 6` alerts when any site goes above 100 % over
    /// the next 7 days. Prints the rule's id.
    Add(AddArgs),
    /// List the rules.
    List(super::user::DatabaseOnly),
    /// Stop evaluating a rule.
    Pause(ById),
    /// Evaluate a paused rule again.
    Resume(ById),
    /// Evaluate a rule now against the warehouse; notifications are recorded (and
    /// mailed with --smtp-url) as on a schedule.
    Evaluate(EvaluateArgs),
    /// The newest evaluations of a rule: values per site, what started and cleared.
    History(ById),
}

#[derive(Debug, Args)]
pub struct WarehouseAndDatabase {
    #[command(flatten)]
    pub database: super::user::DatabaseOnly,
    /// The warehouse the metric is read from.
    #[arg(long, env = "OPSFLUX_WAREHOUSE", default_value = "data/warehouse")]
    pub warehouse: std::path::PathBuf,
    #[command(flatten)]
    pub query: super::QueryArgs,
}

#[derive(Debug, Args)]
pub struct AddArgs {
    #[command(flatten)]
    pub target: WarehouseAndDatabase,
    /// A metric of the catalog (`opsflux serve` lists them at /api/metrics).
    #[arg(long)]
    pub metric: String,
    /// One of the metric's measures (default: its first).
    #[arg(long)]
    pub measure: Option<String>,
    /// `> 100 %`, `>= 0.9`, `< 20`: compared with each site's highest (for > and >=)
    /// or lowest (for < and <=) daily value over the window.
    #[arg(long)]
    pub condition: String,
    /// A site to watch; repeat for several (default: every site).
    #[arg(long = "site")]
    pub sites: Vec<String>,
    /// First day of the window, counted from the evaluation day (negative: past days).
    #[arg(long, default_value_t = 0, allow_hyphen_values = true)]
    pub from_days: i32,
    /// Last day of the window (6: today and the next six days).
    #[arg(long, default_value_t = 6, allow_hyphen_values = true)]
    pub to_days: i32,
    /// Also evaluate on this cron (rules are always evaluated after each warehouse refresh).
    #[arg(long)]
    pub cron: Option<String>,
    #[arg(long, default_value = "Europe/Paris")]
    pub timezone: String,
    /// The email of a user to notify; repeat for several.
    #[arg(long = "to", num_args = 1..)]
    pub to: Vec<String>,
    /// A role whose users are notified; repeat for several.
    #[arg(long = "to-role")]
    pub to_roles: Vec<String>,
    #[arg(long)]
    pub name: Option<String>,
}

#[derive(Debug, Args)]
pub struct ById {
    #[command(flatten)]
    pub database: super::user::DatabaseOnly,
    pub id: Uuid,
}

#[derive(Debug, Args)]
pub struct EvaluateArgs {
    #[command(flatten)]
    pub target: WarehouseAndDatabase,
    pub id: Uuid,
    #[command(flatten)]
    pub mail: super::scheduler::MailArgs,
}

fn explain(error: JobError) -> anyhow::Error {
    match error {
        JobError::Invalid { field, message } => {
            let flag = match field.split('/').next().unwrap_or_default() {
                "sites" => "--site".to_owned(),
                "to_roles" => "--to-role".to_owned(),
                "to_days" => "--to-days".to_owned(),
                other => format!("--{other}"),
            };
            anyhow::anyhow!("{flag}: {message}")
        }
        other => other.into(),
    }
}

pub async fn run(args: AlertArgs) -> anyhow::Result<()> {
    match args.command {
        AlertCommand::Add(args) => {
            let pool = database::connect(&args.target.database.database_url, 2).await?;
            let engine = super::open_engine(&args.target.warehouse, &args.target.query).await?;
            let spec = RuleSpec {
                name: args.name,
                metric: args.metric,
                measure: args.measure,
                sites: args.sites,
                condition: args.condition,
                from_days: Some(args.from_days),
                to_days: Some(args.to_days),
                cron: args.cron,
                timezone: Some(args.timezone),
                to: args.to,
                to_roles: args.to_roles,
                enabled: Some(true),
            };
            let id = alerts::add(&pool, &engine, &spec, None).await.map_err(explain)?;
            super::audit_cli(&pool, "alert.add", "platform.alert_rules", Some(id), serde_json::to_value(&spec)?)
                .await?;
            println!("{id}");
            Ok(())
        }
        AlertCommand::List(args) => {
            let pool = database::connect(&args.database_url, 2).await?;
            for rule in alerts::list(&pool, None).await? {
                println!(
                    "{}  {:<8} {:<40} {:<36} days {:+}..{:+}  to {}",
                    rule.id,
                    if rule.is_enabled { "active" } else { "paused" },
                    rule.name,
                    rule.condition(),
                    rule.from_days,
                    rule.to_days,
                    rule.recipients
                        .iter()
                        .cloned()
                        .chain(rule.recipient_roles.iter().map(|role| format!("role:{role}")))
                        .collect::<Vec<_>>()
                        .join(", ")
                );
            }
            Ok(())
        }
        AlertCommand::Pause(args) => set_enabled(args, false).await,
        AlertCommand::Resume(args) => set_enabled(args, true).await,
        AlertCommand::Evaluate(args) => {
            let pool = database::connect(&args.target.database.database_url, 2).await?;
            let engine = super::open_engine(&args.target.warehouse, &args.target.query).await?;
            let mailer = args.mail.mailer()?;
            let evaluation =
                alerts::evaluate(&pool, &engine, mailer.as_ref(), args.id, "manual", chrono::Utc::now()).await?;
            println!("{}", serde_json::to_string_pretty(&evaluation)?);
            Ok(())
        }
        AlertCommand::History(args) => {
            let pool = database::connect(&args.database.database_url, 2).await?;
            alerts::get(&pool, args.id).await?;
            let log = alerts::evaluations(&pool, args.id, 50).await?;
            println!("{}", serde_json::to_string_pretty(&log).context("printing the evaluations")?);
            Ok(())
        }
    }
}

async fn set_enabled(args: ById, enabled: bool) -> anyhow::Result<()> {
    let pool = database::connect(&args.database.database_url, 2).await?;
    alerts::set_enabled(&pool, args.id, enabled, None).await?;
    let action = if enabled { "alert.resume" } else { "alert.pause" };
    super::audit_cli(&pool, action, "platform.alert_rules", Some(args.id), serde_json::json!({})).await?;
    Ok(())
}
