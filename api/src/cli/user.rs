//! `opsflux user`: the accounts of people who sign in. `add` makes the first admin;
//! `list`, `disable`, `reset-password` and `unlock` keep them. Every change is audited
//! with the operating-system user who ran the command.

use std::io::BufRead as _;
use std::path::{Path, PathBuf};

use anyhow::{Context, bail};
use clap::{Args, Subcommand};
use sqlx::PgPool;

use crate::auth::{password, users};
use crate::database;

#[derive(Debug, Args)]
pub struct UserArgs {
    #[command(subcommand)]
    pub command: UserCommand,
}

#[derive(Debug, Subcommand)]
pub enum UserCommand {
    /// Create a user with one role and a site scope. The password comes from
    /// --password-file (its first line) or is asked for on the terminal.
    Add(AddArgs),
    /// List users with their roles, sites, second factor and lock state (never a hash).
    List(DatabaseOnly),
    /// Disable a user: they can no longer sign in, and their sessions and tokens end.
    Disable(ByEmail),
    /// Set a new password (from --password-file or the terminal); unlocks the account
    /// and ends every session and token.
    ResetPassword(PasswordArgs),
    /// Unlock an account locked after repeated failed sign-ins.
    Unlock(ByEmail),
}

#[derive(Debug, Args)]
pub struct DatabaseOnly {
    /// PostgreSQL connection URL.
    #[arg(long, env = "OPSFLUX_DATABASE_URL")]
    pub database_url: String,
}

#[derive(Debug, Args)]
pub struct ByEmail {
    #[command(flatten)]
    pub database: DatabaseOnly,
    #[arg(long)]
    pub email: String,
}

#[derive(Debug, Args)]
pub struct PasswordArgs {
    #[command(flatten)]
    pub database: DatabaseOnly,
    #[arg(long)]
    pub email: String,
    /// A file whose first line is the password (otherwise asked for).
    #[arg(long)]
    pub password_file: Option<PathBuf>,
}

#[derive(Debug, Args)]
pub struct AddArgs {
    #[command(flatten)]
    pub database: DatabaseOnly,
    #[arg(long)]
    pub email: String,
    /// admin, manager, engineer, analyst or viewer (README: what each may do).
    #[arg(long)]
    pub role: String,
    /// A site code of the user's scope; repeat for several. Roles with `.all`
    /// permissions (admin, analyst) see every site whatever this says.
    #[arg(long = "site")]
    pub sites: Vec<String>,
    /// The name shown in pages (default: the email).
    #[arg(long)]
    pub name: Option<String>,
    /// A file whose first line is the password (otherwise asked for).
    #[arg(long)]
    pub password_file: Option<PathBuf>,
}

pub(crate) async fn run(args: UserArgs) -> anyhow::Result<()> {
    match args.command {
        UserCommand::Add(args) => {
            users::normalise_email(&args.email)?;
            let secret = read_password(args.password_file.as_deref())?;
            password::check_new(&secret)?;
            let pool = database::connect(&args.database.database_url, 2).await?;
            let hash = password::hash(secret).await?;
            let name = args.name.clone().unwrap_or_else(|| args.email.trim().to_owned());
            let id = users::add(&pool, &args.email, &name, &args.role, &args.sites, &hash).await?;
            audit(
                &pool,
                "user.add",
                Some(id),
                serde_json::json!({"email": args.email, "role": args.role, "sites": args.sites}),
            )
            .await?;
            let second_factor = if crate::auth::roles::SECOND_FACTOR_REQUIRED.contains(&args.role.as_str()) {
                "; a second factor is required: enrol it at the first browser sign-in (/account/two-factor)"
            } else {
                ""
            };
            println!("user {} added with role {}{second_factor}", args.email.trim().to_lowercase(), args.role);
        }
        UserCommand::List(args) => {
            let pool = database::connect(&args.database_url, 2).await?;
            println!("{:<40} {:<10} {:<24} {:<8} {:<6} sites", "email", "state", "roles", "2FA", "locked");
            for user in users::list(&pool).await? {
                println!(
                    "{:<40} {:<10} {:<24} {:<8} {:<6} {}",
                    user.email,
                    if user.active { "active" } else { "disabled" },
                    user.roles.join(","),
                    if user.second_factor { "yes" } else { "no" },
                    if user.locked { "yes" } else { "no" },
                    user.sites.join(",")
                );
            }
        }
        UserCommand::Disable(args) => {
            let pool = database::connect(&args.database.database_url, 2).await?;
            let id = users::id_of(&pool, &args.email).await?;
            users::disable(&pool, id).await?;
            audit(&pool, "user.disable", Some(id), serde_json::json!({"email": args.email})).await?;
            println!("user {} disabled; their sessions and tokens are revoked", args.email);
        }
        UserCommand::ResetPassword(args) => {
            let secret = read_password(args.password_file.as_deref())?;
            password::check_new(&secret)?;
            let pool = database::connect(&args.database.database_url, 2).await?;
            let id = users::id_of(&pool, &args.email).await?;
            let hash = password::hash(secret).await?;
            users::reset_password(&pool, id, &hash).await?;
            audit(&pool, "user.reset_password", Some(id), serde_json::json!({"email": args.email})).await?;
            println!("password of {} reset; the account is unlocked and its sessions revoked", args.email);
        }
        UserCommand::Unlock(args) => {
            let pool = database::connect(&args.database.database_url, 2).await?;
            let id = users::id_of(&pool, &args.email).await?;
            let was_locked = users::unlock(&pool, id).await?;
            audit(&pool, "auth.unlock", Some(id), serde_json::json!({"email": args.email, "was_locked": was_locked}))
                .await?;
            tracing::info!(email = %args.email, "account unlocked");
            println!("{} {}", args.email, if was_locked { "unlocked" } else { "was not locked" });
        }
    }
    Ok(())
}

async fn audit(
    pool: &PgPool,
    action: &str,
    user: Option<uuid::Uuid>,
    parameters: serde_json::Value,
) -> anyhow::Result<()> {
    super::audit_cli(pool, action, "platform.users", user, parameters).await
}

/// The first line of `file`, or a password typed on the terminal (twice).
fn read_password(file: Option<&Path>) -> anyhow::Result<String> {
    if let Some(file) = file {
        let text =
            std::fs::read_to_string(file).with_context(|| format!("cannot read --password-file {}", file.display()))?;
        let line = text.lines().next().unwrap_or("").to_owned();
        if line.is_empty() {
            bail!("--password-file {} is empty: its first line is the password", file.display());
        }
        return Ok(line);
    }
    let first = prompt("Password: ")?;
    let second = prompt("Again: ")?;
    if first != second {
        bail!("the two passwords differ");
    }
    Ok(first)
}

/// Reads a line from the terminal without echoing it (`stty -echo` around the read).
fn prompt(label: &str) -> anyhow::Result<String> {
    eprint!("{label}");
    let tty = std::io::IsTerminal::is_terminal(&std::io::stdin());
    let stty = |setting: &str| {
        if tty {
            let _ = std::process::Command::new("stty").arg(setting).stdin(std::process::Stdio::inherit()).status();
        }
    };
    stty("-echo");
    let mut line = String::new();
    let read = std::io::stdin().lock().read_line(&mut line);
    stty("echo");
    eprintln!();
    read.context("cannot read the password")?;
    Ok(line.trim_end_matches(['\r', '\n']).to_owned())
}

/// The demo's users, made once with random passwords kept in
/// `<data dir>/demo-credentials.txt` (readable by its owner only) and printed.
pub(crate) async fn demo_users(pool: &PgPool, data_dir: &Path) -> anyhow::Result<()> {
    let file = data_dir.join("demo-credentials.txt");
    if !file.exists() {
        let sites: Vec<String> =
            sqlx::query_scalar("SELECT code FROM core.sites WHERE deleted_at IS NULL ORDER BY code LIMIT 2")
                .fetch_all(pool)
                .await?;
        let demo: [(&str, &str, Vec<String>); 5] = [
            ("admin@opsflux.demo", "admin", Vec::new()),
            ("manager@opsflux.demo", "manager", sites.clone()),
            ("engineer@opsflux.demo", "engineer", sites.iter().take(1).cloned().collect()),
            ("analyst@opsflux.demo", "analyst", Vec::new()),
            ("viewer@opsflux.demo", "viewer", sites.iter().take(1).cloned().collect()),
        ];
        let mut text = String::from("# OpsFlux demo accounts (sign in at the demo's /login)\n");
        for (email, role, sites) in demo {
            let secret = crate::auth::random_token()?.chars().take(16).collect::<String>();
            let hash = password::hash(secret.clone()).await?;
            match users::add(pool, email, email, role, &sites, &hash).await {
                Ok(_) => text.push_str(&format!("{email}\t{secret}\t{role}\t{}\n", sites.join(","))),
                Err(crate::auth::AuthError::Invalid(message)) if message.contains("already exists") => continue,
                Err(error) => return Err(error.into()),
            }
        }
        std::fs::write(&file, &text).with_context(|| format!("cannot write {}", file.display()))?;
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt as _;
            std::fs::set_permissions(&file, std::fs::Permissions::from_mode(0o600))?;
        }
    }
    let text = std::fs::read_to_string(&file).with_context(|| format!("cannot read {}", file.display()))?;
    println!("\nSign in with one of these demo accounts (also in {}):", file.display());
    for line in text.lines().filter(|line| !line.starts_with('#')) {
        let fields: Vec<&str> = line.split('\t').collect();
        if let [email, secret, role, sites] = fields.as_slice() {
            println!(
                "  {role:<9} {email:<24} password {secret}  sites {}",
                if sites.is_empty() { "all" } else { sites }
            );
        }
    }
    println!("  (the admin enrols a second factor at first sign-in)\n");
    Ok(())
}
