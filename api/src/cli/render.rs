//! `opsflux render`: a Rédacteur document bound to the warehouse, to a file; and the
//! hidden `render-worker` that renders one bound document in a process of its own.

use std::path::PathBuf;

use anyhow::{Context, bail};
use clap::Args;

use indicatif::ProgressBar;

use super::{QueryArgs, ensure_tables, open_engine, output_format, write_output};

#[derive(Debug, Args)]
#[command(group(clap::ArgGroup::new("source").required(true).args(["template", "document"])))]
pub struct RenderArgs {
    /// The warehouse to read: a directory or `s3://bucket/prefix` (see `opsflux ingest --help`).
    #[arg(long, env = "OPSFLUX_WAREHOUSE")]
    pub warehouse: PathBuf,
    /// A shipped template: weekly-site-report, powertrace-monthly, moc-dossier, 5s-audit,
    /// project-progress or powertrace-scenario.
    #[arg(long)]
    pub template: Option<String>,
    /// A document file in Editor.js form (blocks and settings), instead of a template.
    #[arg(long)]
    pub document: Option<PathBuf>,
    /// A template parameter, `key=value`; repeat for several. Templates take `site`
    /// (a site code; all sites by default), `period` (`2026-W46` or `2026-10`; the last
    /// complete week or month by default) and `locale` (fr-FR, en-GB, en-US);
    /// powertrace-scenario takes `scenario` (a name or id; every scenario of the sites by
    /// default) and `horizon` of its forecasts (`30d` by default, up to `92d`).
    #[arg(long = "param", value_name = "KEY=VALUE")]
    pub parameters: Vec<String>,
    /// pdf, docx, xlsx or html (default: the extension of --out).
    #[arg(long)]
    pub format: Option<String>,
    /// The file to write; it appears only once complete.
    #[arg(long)]
    pub out: PathBuf,
    /// The day the document is dated and periods are counted from (default: today).
    #[arg(long)]
    pub today: Option<chrono::NaiveDate>,
    /// Stop a render (binding and writing) running longer than this.
    #[arg(long, default_value_t = 300)]
    pub timeout_seconds: u64,
    #[command(flatten)]
    pub query: QueryArgs,
}

pub(crate) async fn render(args: RenderArgs) -> anyhow::Result<()> {
    let format_text = output_format(args.format.as_deref(), &args.out)?;
    let format: opsflux_render::OutputFormat =
        format_text.parse().map_err(|error: String| anyhow::anyhow!("--format: {error}"))?;
    let mut parameters = std::collections::BTreeMap::new();
    for parameter in &args.parameters {
        let (key, value) = parameter
            .split_once('=')
            .with_context(|| format!("--param {parameter}: expected key=value, e.g. site=ALPHA"))?;
        parameters.insert(key.trim().to_owned(), value.trim().to_owned());
    }
    let document = match (&args.template, &args.document) {
        (Some(name), _) => crate::documents::template(name)?,
        (None, Some(path)) => {
            let text = std::fs::read_to_string(path).with_context(|| format!("cannot read {}", path.display()))?;
            opsflux_render::Document::from_json(&text).with_context(|| path.display().to_string())?
        }
        (None, None) => bail!("give --template or --document"),
    };
    ensure_tables(&args.warehouse).await?;
    let started = std::time::Instant::now();
    let bar = ProgressBar::new_spinner();
    bar.set_message("opening the warehouse");
    bar.enable_steady_tick(std::time::Duration::from_millis(120));
    let engine = open_engine(&args.warehouse, &args.query).await?;
    bar.set_message("binding data blocks and rendering");
    let today = args.today.unwrap_or_else(|| chrono::Utc::now().date_naive());
    // The command line reads the warehouse directly: whoever runs it can read every site.
    let limits = crate::documents::RenderLimits::new(
        1,
        std::time::Duration::from_secs(args.timeout_seconds.max(1)),
        std::env::current_exe().ok(),
    );
    let rendered =
        crate::documents::render(&engine, document, &parameters, format, today, &opsflux_query::Scope::All, &limits)
            .await;
    bar.finish_and_clear();
    let (bytes, bound) = rendered?;
    write_output(&args.out, &bytes)?;
    tracing::info!(
        title = %bound.title,
        bytes = bytes.len(),
        seconds = format!("{:.2}", started.elapsed().as_secs_f64()),
        warehouse = %bound.warehouse_line(),
        out = %args.out.display(),
        "document written"
    );
    Ok(())
}

#[derive(Debug, Args)]
pub struct RenderWorkerArgs {
    /// pdf, docx, xlsx or html.
    #[arg(long)]
    pub format: String,
}

/// `opsflux render-worker`: one bound document from standard input to standard output;
/// a failure is reported as JSON on standard error with a non-zero status.
pub(crate) fn render_worker(args: RenderWorkerArgs) -> anyhow::Result<()> {
    let format: opsflux_render::OutputFormat =
        args.format.parse().map_err(|error: String| anyhow::anyhow!("--format: {error}"))?;
    if let Err(error) = crate::documents::run_worker(format) {
        eprintln!("{}", serde_json::to_string(&error).unwrap_or_default());
        std::process::exit(3);
    }
    Ok(())
}
