//! `opsflux document`: Rédacteur documents between files and the database — import
//! (prints the new document's id), export (any version, byte for byte as it was saved),
//! history (every version with its author, time and comment) and diff (the blocks
//! added, removed, changed and moved between two versions). Imports are audited.

use anyhow::Context;
use clap::{Args, Subcommand};
use uuid::Uuid;

use crate::database;
use crate::document_store::{self, Kind};

#[derive(Debug, Args)]
pub struct DocumentArgs {
    #[command(subcommand)]
    pub command: DocumentCommand,
}

#[derive(Debug, Subcommand)]
pub enum DocumentCommand {
    /// Store a block document file (Editor.js JSON, as under `templates/`) as a new
    /// document in draft, version 1; prints its id. The file is checked first: a
    /// malformed one is refused with its line and column, and nothing is stored.
    Import(ImportArgs),
    /// Write a version of a document (default: its newest) to a file, exactly as it
    /// was saved or imported.
    Export(ExportArgs),
    /// List a document's versions: number, time, author and comment.
    History(HistoryArgs),
    /// The blocks added, removed, changed (with the JSON pointers of what changed) and
    /// moved between two versions of a document, and the settings changed.
    Diff(DiffArgs),
}

#[derive(Debug, Args)]
pub struct ImportArgs {
    #[command(flatten)]
    pub database: super::user::DatabaseOnly,
    /// The document file (JSON).
    pub file: std::path::PathBuf,
    /// Store it as a template with this code (lower-case letters, digits and hyphens,
    /// as `weekly-site-report`), offered to the reports page once published.
    #[arg(long)]
    pub template: Option<String>,
    /// The code of the site the document belongs to (default: none, shared by the
    /// authors of every site). A template belongs to no site.
    #[arg(long, conflicts_with = "template")]
    pub site: Option<String>,
    /// The comment of version 1 (default: "imported from FILE").
    #[arg(long)]
    pub comment: Option<String>,
}

#[derive(Debug, Args)]
pub struct ExportArgs {
    #[command(flatten)]
    pub database: super::user::DatabaseOnly,
    /// The document's id, as `document import` printed it.
    pub id: String,
    /// The version to write (default: the newest).
    #[arg(long)]
    pub version: Option<i32>,
    /// The file to write (written whole or not at all).
    #[arg(long)]
    pub out: std::path::PathBuf,
}

#[derive(Debug, Args)]
pub struct HistoryArgs {
    #[command(flatten)]
    pub database: super::user::DatabaseOnly,
    /// The document's id.
    pub id: String,
}

#[derive(Debug, Args)]
pub struct DiffArgs {
    #[command(flatten)]
    pub database: super::user::DatabaseOnly,
    /// The document's id.
    pub id: String,
    /// The older version.
    pub from: i32,
    /// The newer version (default: the newest).
    pub to: Option<i32>,
}

pub async fn run(args: DocumentArgs) -> anyhow::Result<()> {
    match args.command {
        DocumentCommand::Import(args) => {
            let source =
                std::fs::read_to_string(&args.file).with_context(|| format!("cannot read {}", args.file.display()))?;
            let pool = database::connect(&args.database.database_url, 2).await?;
            let kind = if args.template.is_some() { Kind::Template } else { Kind::Document };
            let comment = args.comment.unwrap_or_else(|| format!("imported from {}", args.file.display()));
            let id = document_store::create(
                &pool,
                kind,
                args.template.as_deref(),
                args.site.as_deref(),
                &source,
                None,
                Some(&comment),
            )
            .await
            .with_context(|| format!("{} is not imported", args.file.display()))?;
            let parameters = serde_json::json!({"file": args.file.display().to_string(), "template": args.template, "site": args.site});
            super::audit_cli(&pool, "document.import", "redacteur.documents", Some(id), parameters).await?;
            println!("{id}");
            Ok(())
        }
        DocumentCommand::Export(args) => {
            let id = document_id(&args.id)?;
            let pool = database::connect(&args.database.database_url, 2).await?;
            let saved = document_store::read(&pool, id, args.version).await?;
            super::write_output(&args.out, saved.source.as_bytes())?;
            eprintln!("version {} of {id} written to {}", saved.version, args.out.display());
            Ok(())
        }
        DocumentCommand::History(args) => {
            let id = document_id(&args.id)?;
            let pool = database::connect(&args.database.database_url, 2).await?;
            let summary = document_store::summary(&pool, id).await?;
            let published =
                summary.published_version.map(|version| format!(", version {version} published")).unwrap_or_default();
            println!("{} — {} ({}{published})", summary.title, summary.kind.as_str(), summary.status);
            for version in document_store::versions(&pool, id, document_store::Page::ALL).await?.0 {
                println!(
                    "{:>4}  {}  {}  {}",
                    version.version,
                    version.saved_at.format("%Y-%m-%d %H:%M:%S UTC"),
                    version.saved_by.as_deref().unwrap_or("(command line)"),
                    version.comment.as_deref().unwrap_or("")
                );
            }
            Ok(())
        }
        DocumentCommand::Diff(args) => {
            let id = document_id(&args.id)?;
            let pool = database::connect(&args.database.database_url, 2).await?;
            let old = document_store::read(&pool, id, Some(args.from)).await?;
            let new = document_store::read(&pool, id, args.to).await?;
            let changes = document_store::diff(&old.body, &new.body);
            println!("version {} → version {}: {} change(s)", old.version, new.version, changes.len());
            for change in changes {
                println!("{change}");
            }
            Ok(())
        }
    }
}

fn document_id(text: &str) -> anyhow::Result<Uuid> {
    Uuid::parse_str(text.trim())
        .with_context(|| format!("`{text}` is not a document id (a UUID, as `document import` prints)"))
}
