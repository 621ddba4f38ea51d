//! `opsflux export`: a warehouse table or a metric result to a file, streamed.

use std::path::PathBuf;

use anyhow::{Context, bail};
use clap::Args;
use indicatif::{ProgressBar, ProgressStyle};

use opsflux_warehouse::Warehouse;

use super::{OutputFile, QueryArgs, ensure_tables, output_format};

#[derive(Debug, Args)]
#[command(group(clap::ArgGroup::new("what").required(true).args(["table", "metric"])))]
pub struct ExportArgs {
    /// The warehouse: a directory or `s3://bucket/prefix` (see `opsflux ingest --help`).
    #[arg(long, env = "OPSFLUX_WAREHOUSE", default_value = "data/warehouse")]
    pub warehouse: PathBuf,
    /// A warehouse table, `schema.table` (its current rows, change log merged).
    #[arg(long)]
    pub table: Option<String>,
    /// A metric of the catalog (`GET /api/metrics` or the `metrics/` files list them).
    #[arg(long)]
    pub metric: Option<String>,
    /// parquet, csv, xlsx or arrow; by default taken from the output file's extension.
    #[arg(long)]
    pub format: Option<String>,
    /// The file to write; it appears only once complete.
    #[arg(long)]
    pub out: PathBuf,
    /// Metric only: site codes, comma separated (default: all sites).
    #[arg(long)]
    pub site: Option<String>,
    /// Metric only: first day, YYYY-MM-DD (default: 89 days before --to).
    #[arg(long)]
    pub from: Option<String>,
    /// Metric only: last day, YYYY-MM-DD (default: today).
    #[arg(long)]
    pub to: Option<String>,
    /// Metric only: day, week, month, quarter, year or total (default: the metric's).
    #[arg(long)]
    pub grain: Option<String>,
    /// Metric only: dimensions to group by, comma separated (default: the metric's).
    #[arg(long)]
    pub by: Option<String>,
    #[command(flatten)]
    pub query: QueryArgs,
}

pub(crate) async fn export(args: ExportArgs) -> anyhow::Result<()> {
    let format_text = output_format(args.format.as_deref(), &args.out)?;
    let format: opsflux_query::ExportFormat = format_text.parse()?;
    let source = match (&args.table, &args.metric) {
        (Some(table), _) => {
            opsflux_query::ExportSource::Table(table.parse().with_context(|| format!("--table {table}"))?)
        }
        (None, Some(metric)) => opsflux_query::ExportSource::Metric {
            name: metric.clone(),
            request: opsflux_query::MetricRequest::from_text(
                args.site.as_deref(),
                args.from.as_deref(),
                args.to.as_deref(),
                args.grain.as_deref(),
                args.by.as_deref(),
                chrono::Utc::now().date_naive(),
            )
            .map_err(|error| anyhow::anyhow!("--{}: {error}", error.parameter()))?,
        },
        (None, None) => bail!("give --table or --metric"),
    };
    // A table needs no rollups: an empty catalog skips computing them.
    let query = &args.query;
    let catalog = if args.table.is_some() { opsflux_query::Catalog::default() } else { query.catalog()? };
    ensure_tables(&args.warehouse).await?;
    let engine = opsflux_query::Engine::open(Warehouse::open(&args.warehouse)?, catalog, query.settings()).await?;
    engine.check_export(&source, &opsflux_query::Scope::All).map_err(|error| match error {
        opsflux_query::QueryError::Parameter(parameter) => anyhow::anyhow!("--{}: {parameter}", parameter.parameter()),
        other => other.into(),
    })?;
    let output = OutputFile::create(&args.out)?;
    let file = output.writer()?;
    let bar = ProgressBar::new_spinner();
    bar.set_style(
        ProgressStyle::with_template("{spinner} {msg} {human_pos} rows, {per_sec}, {elapsed}")
            .unwrap_or_else(|_| ProgressStyle::default_spinner()),
    );
    bar.set_message(format!("exporting {}", source.name()));
    let progress_bar = bar.clone();
    let started = std::time::Instant::now();
    let headers = crate::http::exports::headers_for(&engine, &source, opsflux_render::Locale::default());
    let summary = engine
        .export(
            source.clone(),
            format,
            Box::new(std::io::BufWriter::with_capacity(1 << 20, file)),
            Box::new(move |rows| progress_bar.set_position(rows)),
            headers,
            &opsflux_query::Scope::All,
        )
        .await;
    bar.finish_and_clear();
    let summary = summary?;
    output.finish()?;
    let bytes = std::fs::metadata(&args.out).map(|metadata| metadata.len()).unwrap_or(0);
    tracing::info!(
        export = %source.name(),
        rows = summary.rows,
        bytes,
        seconds = format!("{:.1}", started.elapsed().as_secs_f64()),
        out = %args.out.display(),
        "export written"
    );
    Ok(())
}
