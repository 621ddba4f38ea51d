//! `opsflux search "query"` (the same ranked hits as `GET /api/search`, read from the
//! index after bringing it level with the warehouse) and `opsflux search reindex`
//! (rebuild from one warehouse snapshot, with a progress bar); the search directory
//! flag `serve` shares, and the loop that keeps the index current while `serve` runs.

use std::io::IsTerminal;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use clap::{Args, Subcommand};
use indicatif::{ProgressBar, ProgressStyle};
use opsflux_search::{SearchError, SearchIndex, Source, Visibility};
use opsflux_warehouse::Warehouse;

use crate::http::search::{SearchParameters, results_json};

/// Where the search index lives.
#[derive(Debug, Clone, Args)]
pub struct SearchDirArgs {
    /// The search index directory (a Tantivy index kept level with the warehouse).
    /// Default: `search` beside a warehouse directory (`data/search` for
    /// `data/warehouse`), or `data/search` for a warehouse in S3.
    #[arg(long, env = "OPSFLUX_SEARCH_DIR")]
    pub search_dir: Option<PathBuf>,
}

impl SearchDirArgs {
    pub fn directory(&self, warehouse: &Path) -> PathBuf {
        self.search_dir.clone().unwrap_or_else(|| default_search_dir(warehouse))
    }
}

/// `search` beside a local warehouse directory; `data/search` for an object store.
pub fn default_search_dir(warehouse: &Path) -> PathBuf {
    let text = warehouse.to_string_lossy();
    if text.contains("://") && !text.starts_with("file://") {
        return PathBuf::from("data/search");
    }
    let local = Path::new(text.strip_prefix("file://").unwrap_or(&text));
    match local.parent() {
        Some(parent) if !parent.as_os_str().is_empty() => parent.join("search"),
        _ => PathBuf::from("search"),
    }
}

#[derive(Debug, Args)]
#[command(args_conflicts_with_subcommands = true)]
pub struct SearchArgs {
    #[command(subcommand)]
    pub command: Option<SearchCommand>,
    #[command(flatten)]
    pub location: SearchLocation,
    /// Print the hits as JSON, ranked, as GET /api/search gives them.
    #[arg(long)]
    pub json: bool,
    /// Only this module: moc, hse, projects, pob, tiers, powertrace, travel, redacteur, cleanvue.
    #[arg(long)]
    pub module: Option<String>,
    /// Only this site code.
    #[arg(long)]
    pub site: Option<String>,
    /// Only this status, as stored (e.g. in_evaluation, closed).
    #[arg(long)]
    pub status: Option<String>,
    /// Only this year.
    #[arg(long)]
    pub year: Option<String>,
    /// Page of hits, from 1.
    #[arg(long, default_value_t = 1)]
    pub page: u64,
    /// Hits per page, 1 to 100.
    #[arg(long, default_value_t = 20)]
    pub per_page: u64,
    /// The day recent records are counted from, YYYY-MM-DD (default: today): the same
    /// day gives the same ranking.
    #[arg(long)]
    pub today: Option<chrono::NaiveDate>,
    /// What to look for: words (one typo forgiven from 5 letters, two from 9; French
    /// and English plurals and accents), "exact phrases" in quotes; the last word also
    /// matches longer words it begins. An empty query ("") lists everything.
    pub query: Vec<String>,
}

#[derive(Debug, Clone, Args)]
pub struct SearchLocation {
    /// The warehouse the index follows (a directory or `s3://bucket/prefix`).
    #[arg(long, env = "OPSFLUX_WAREHOUSE", default_value = "data/warehouse")]
    pub warehouse: PathBuf,
    #[command(flatten)]
    pub directory: SearchDirArgs,
}

#[derive(Debug, Subcommand)]
pub enum SearchCommand {
    /// Rebuild the index from one snapshot of the warehouse, with a progress bar (the
    /// index is otherwise kept current by `serve` and by every `opsflux search`).
    Reindex(SearchLocation),
}

/// `opsflux search`.
pub async fn run(args: SearchArgs) -> anyhow::Result<()> {
    if let Some(SearchCommand::Reindex(location)) = args.command {
        return reindex(&location).await;
    }
    if args.query.is_empty() {
        bail!(
            "give what to look for, e.g. opsflux search \"fuite compresseur\" (\"\" lists everything), or `opsflux search reindex`"
        );
    }
    let warehouse_path = &args.location.warehouse;
    super::ensure_tables(warehouse_path).await?;
    let warehouse = Warehouse::open(warehouse_path)?;
    let directory = args.location.directory.directory(warehouse_path);
    let index = SearchIndex::open(&directory)?;
    // Bring the index level with the warehouse first, unless a server keeps it.
    let bar = progress_bar(false);
    match index.sync(&warehouse, &BarProgress(bar.clone())).await {
        Ok(_) => bar.finish_and_clear(),
        Err(SearchError::Busy { .. }) => {
            bar.finish_and_clear();
            eprintln!("note: a running server keeps {} current; searching what it holds", directory.display());
        }
        Err(error) => {
            bar.finish_and_clear();
            return Err(error).context("cannot bring the search index level with the warehouse");
        }
    }
    let parameters = SearchParameters {
        q: Some(args.query.join(" ")),
        module: args.module,
        site: args.site,
        status: args.status,
        year: args.year,
        page: Some(args.page.to_string()),
        per_page: Some(args.per_page.to_string()),
    };
    let today = args.today.unwrap_or_else(|| chrono::Local::now().date_naive());
    let request = parameters.request(today, Visibility::everything())?;
    let results = index.search(&request)?;
    if args.json {
        return print(&format!("{}\n", serde_json::to_string_pretty(&results_json(&results))?));
    }
    let bold = std::io::stdout().is_terminal();
    let mut out = String::new();
    out.push_str(&format!(
        "{} hit{} (page {} of {})\n",
        results.total,
        if results.total == 1 { "" } else { "s" },
        results.page,
        results.pages
    ));
    for (rank, hit) in results.hits.iter().enumerate() {
        let place = (results.page - 1) * results.per_page + rank as u64 + 1;
        let mut details = vec![format!("{}/{}", hit.module, hit.kind), hit.id.clone()];
        if !hit.sites.is_empty() {
            details.push(hit.sites.join(","));
        }
        details.extend(hit.status.clone());
        details.extend(hit.date.map(|date| date.to_string()));
        out.push_str(&format!("{place:>3}. {}  [{}]\n", terminal_text(&hit.title_html, bold), details.join(" · ")));
        if !hit.snippet.is_empty() {
            out.push_str(&format!("     {}\n", terminal_text(&hit.snippet, bold)));
        }
    }
    print(&out)
}

/// Writes to standard output; a reader that stopped reading (`| head`) ends it quietly.
fn print(text: &str) -> anyhow::Result<()> {
    use std::io::Write;
    let mut stdout = std::io::stdout().lock();
    match stdout.write_all(text.as_bytes()).and_then(|()| stdout.flush()) {
        Err(error) if error.kind() == std::io::ErrorKind::BrokenPipe => Ok(()),
        outcome => outcome.context("cannot write to standard output"),
    }
}

/// Marked HTML as terminal text: marks in bold on a terminal, plain otherwise; control
/// characters stored in records never reach the terminal.
fn terminal_text(html: &str, bold: bool) -> String {
    let (open, close) = if bold { ("\u{1b}[1m", "\u{1b}[0m") } else { ("", "") };
    let html: String = html.chars().map(|character| if character.is_control() { ' ' } else { character }).collect();
    html.replace("<mark>", open)
        .replace("</mark>", close)
        .replace("&lt;", "<")
        .replace("&gt;", ">")
        .replace("&quot;", "\"")
        .replace("&#39;", "'")
        .replace("&amp;", "&")
}

/// `opsflux search reindex`.
async fn reindex(location: &SearchLocation) -> anyhow::Result<()> {
    super::ensure_tables(&location.warehouse).await?;
    let warehouse = Warehouse::open(&location.warehouse)?;
    let directory = location.directory.directory(&location.warehouse);
    let index = SearchIndex::open(&directory)?;
    let started = Instant::now();
    let bar = progress_bar(true);
    let report = index.rebuild(&warehouse, &BarProgress(bar.clone())).await;
    bar.finish_and_clear();
    let report = report.with_context(|| format!("cannot rebuild the search index {}", directory.display()))?;
    eprintln!(
        "indexed {} records of {} kinds from {} into {} in {:.1} s",
        report.added,
        report.sources.len(),
        warehouse.location(),
        directory.display(),
        started.elapsed().as_secs_f64()
    );
    Ok(())
}

fn progress_bar(visible_length: bool) -> ProgressBar {
    let bar = ProgressBar::new(opsflux_search::SOURCES.len() as u64);
    let template = if visible_length {
        "{spinner} indexing [{bar:30}] {pos}/{len} kinds · {msg} ({elapsed})"
    } else {
        "{spinner} updating the search index · {msg}"
    };
    if let Ok(style) = ProgressStyle::with_template(template) {
        bar.set_style(style.progress_chars("=> "));
    }
    bar.enable_steady_tick(Duration::from_millis(200));
    bar
}

/// Sources and entries read, on a progress bar.
struct BarProgress(ProgressBar);

impl opsflux_search::Progress for BarProgress {
    fn source_started(&self, source: &Source, position: usize, sources: usize) {
        self.0.set_length(sources as u64);
        self.0.set_position(position as u64);
        self.0.set_message(format!("{}: reading", source.kind));
    }

    fn entries(&self, source: &Source, done: u64) {
        self.0.set_message(format!("{}: {done} records", source.kind));
    }
}

/// Opens the index `serve` answers from and keeps it level with the warehouse: a sync
/// every second (a sync with nothing new reads only the tables' versions). If another
/// process writes the index, this server only reads it.
pub(crate) fn open_and_follow(
    directory: &Path,
    warehouse: Warehouse,
    mut stop: tokio::sync::watch::Receiver<bool>,
) -> anyhow::Result<(Arc<SearchIndex>, tokio::task::JoinHandle<()>)> {
    let index = Arc::new(
        SearchIndex::open(directory)
            .with_context(|| format!("cannot open the search index {}", directory.display()))?,
    );
    tracing::info!(directory = %directory.display(), entries = index.len(), "search index open");
    let follower = index.clone();
    let task = tokio::spawn(async move {
        let mut last_problem: Option<String> = None;
        loop {
            let outcome = follower.sync(&warehouse, &()).await;
            match outcome {
                Ok(report) => {
                    if report.committed {
                        tracing::info!(
                            added = report.added,
                            updated = report.updated,
                            removed = report.removed,
                            kinds = ?report.sources,
                            "search index updated"
                        );
                    }
                    if last_problem.take().is_some() {
                        tracing::info!("the search index follows the warehouse again");
                    }
                }
                Err(error) => {
                    let text = error.to_string();
                    if last_problem.as_deref() != Some(text.as_str()) {
                        tracing::warn!(
                            "the search index cannot follow the warehouse; searches read what it holds: {text}"
                        );
                        last_problem = Some(text);
                    }
                }
            }
            tokio::select! {
                _ = tokio::time::sleep(Duration::from_secs(1)) => {}
                _ = stop.wait_for(|stop| *stop) => return,
            }
        }
    });
    Ok((index, task))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_index_sits_beside_the_warehouse() {
        assert_eq!(default_search_dir(Path::new("data/warehouse")), PathBuf::from("data/search"));
        assert_eq!(default_search_dir(Path::new("/srv/opsflux/wh")), PathBuf::from("/srv/opsflux/search"));
        assert_eq!(default_search_dir(Path::new("warehouse")), PathBuf::from("search"));
        assert_eq!(default_search_dir(Path::new("s3://bucket/warehouse")), PathBuf::from("data/search"));
    }
}
