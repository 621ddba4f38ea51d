//! `opsflux forecast`: demand forecasts with prediction intervals from a `timestamp,value`
//! CSV or from a site's (or switchboard's) meter readings in the warehouse, and
//! `forecast backtest` to score the forecaster on past data against seasonal naive.

use std::io::Write;
use std::path::{Path, PathBuf};

use anyhow::{Context, bail};
use clap::{Args, Subcommand};
use opsflux_powertrace::forecast::{self, Forecast, Series, describe_interval};
use opsflux_warehouse::Warehouse;

use super::{QueryArgs, ensure_tables, write_output};

#[derive(Debug, Args)]
#[command(args_conflicts_with_subcommands = true)]
pub struct ForecastArgs {
    #[command(subcommand)]
    pub command: Option<ForecastCommand>,
    #[command(flatten)]
    pub run: ForecastRunArgs,
}

#[derive(Debug, Subcommand)]
pub enum ForecastCommand {
    /// Score the forecaster on the series' own past: from each of the last local
    /// midnights, forecast the horizon from the history before it alone; print MAPE,
    /// MASE and 80 %/95 % interval coverage beside seasonal naive (same slot last week).
    Backtest(BacktestArgs),
}

/// Forecast a regular series: `--input FILE.csv` (`timestamp,value`, RFC 3339; the
/// interval — 15 min, 30 min, hourly... — is detected) or `--warehouse DIR --site CODE
/// [--switchboard CODE]` (metered demand, kW). Writes `timestamp,forecast,lower,upper`,
/// the first row one step after the last reading. Gaps are filled and outages (readings
/// under a tenth of the usual demand) are left out of the fit; both are reported.
#[derive(Debug, Args)]
pub struct ForecastRunArgs {
    /// A CSV file with the header `timestamp,value`, one reading per line, sorted.
    #[arg(long, conflicts_with_all = ["warehouse", "site", "switchboard"])]
    pub input: Option<PathBuf>,
    /// The warehouse (a directory or `s3://bucket/prefix`) whose meter readings to use.
    #[arg(long, requires = "site")]
    pub warehouse: Option<PathBuf>,
    /// Site code (with --warehouse): the site's whole metered demand.
    #[arg(long, requires = "warehouse")]
    pub site: Option<String>,
    /// Switchboard code (with --site): the demand of that board and every board it feeds.
    #[arg(long, requires = "site")]
    pub switchboard: Option<String>,
    /// How far ahead: a number of steps (96) or a duration (12h, 7d, 2w), up to 92 days.
    #[arg(long)]
    pub horizon: Option<String>,
    /// The central prediction interval, in percent.
    #[arg(long, default_value_t = 95.0)]
    pub level: f64,
    /// Where to write the forecast CSV (default: standard output).
    #[arg(long)]
    pub out: Option<PathBuf>,
    /// Also write the history the forecast was made from as `timestamp,value` (with
    /// --warehouse: the summed meters per 15 minutes; gaps left out), e.g. to backtest it.
    #[arg(long)]
    pub series_out: Option<PathBuf>,
    #[command(flatten)]
    pub query: QueryArgs,
}

#[derive(Debug, Args)]
pub struct BacktestArgs {
    /// A CSV file with the header `timestamp,value`.
    #[arg(long)]
    pub input: PathBuf,
    /// How far ahead each forecast reaches: steps (96) or a duration (1d).
    #[arg(long)]
    pub horizon: String,
    /// How many origins (the last local midnights with the whole horizon after them).
    #[arg(long, default_value_t = 14)]
    pub origins: usize,
    /// Print the scores as JSON instead of a table.
    #[arg(long)]
    pub json: bool,
}

pub(crate) async fn run(args: ForecastArgs) -> anyhow::Result<()> {
    match args.command {
        Some(ForecastCommand::Backtest(args)) => backtest(args).await,
        None => run_forecast(args.run).await,
    }
}

async fn run_forecast(args: ForecastRunArgs) -> anyhow::Result<()> {
    let Some(horizon) = args.horizon.as_deref() else { bail!("--horizon is required (steps, or a duration like 7d)") };
    let (series, source) = match (&args.input, &args.warehouse, &args.site) {
        (Some(input), _, _) => (read_series(input)?, input.display().to_string()),
        (None, Some(warehouse), Some(site)) => {
            ensure_tables(warehouse).await?;
            let engine = opsflux_query::Engine::open(
                Warehouse::open(warehouse)?,
                opsflux_query::Catalog::default(),
                args.query.settings(),
            )
            .await?;
            let (series, source) =
                crate::powertrace::demand(&engine, &opsflux_query::Scope::All, site, args.switchboard.as_deref())
                    .await
                    .map_err(|error| match error {
                        crate::powertrace::PowerTraceError::UnknownSite { .. } => anyhow::anyhow!("--site: {error}"),
                        crate::powertrace::PowerTraceError::UnknownSwitchboard { .. } => {
                            anyhow::anyhow!("--switchboard: {error}")
                        }
                        other => other.into(),
                    })?;
            let what = format!(
                "{} ({} meter{} on {})",
                source.describe(),
                source.meters,
                if source.meters == 1 { "" } else { "s" },
                source.switchboards.join(", ")
            );
            (series, what)
        }
        _ => bail!("give --input FILE.csv, or --warehouse DIR with --site CODE"),
    };
    let steps = forecast::parse_horizon(horizon, series.interval_ms).map_err(|error| anyhow::anyhow!("--{error}"))?;
    let started = std::time::Instant::now();
    let made =
        tokio::task::spawn_blocking(move || forecast::forecast(&series, steps, &[args.level]).map(|f| (f, series)))
            .await
            .context("the forecast stopped unexpectedly")?;
    let (made, series) = made.map_err(|error| match error {
        forecast::ForecastError::Level(_) => anyhow::anyhow!("--{error}"),
        forecast::ForecastError::Horizon(_) => anyhow::anyhow!("--{error}"),
        other => anyhow::anyhow!("{source}: {other}"),
    })?;
    // Written only once the forecast is made, so a failed command leaves no file.
    if let Some(path) = &args.series_out {
        write_output(path, series_csv(&series).as_bytes())?;
    }
    let csv = forecast_csv(&made);
    match &args.out {
        Some(out) => {
            write_output(out, csv.as_bytes())?;
            println!("{}", summary(&made, &series, &source, started.elapsed(), Some(out)));
        }
        None => {
            std::io::stdout().write_all(csv.as_bytes()).context("cannot write the forecast")?;
            eprintln!("{}", summary(&made, &series, &source, started.elapsed(), None));
        }
    }
    Ok(())
}

/// The series as `timestamp,value`, filled gaps left out.
fn series_csv(series: &Series) -> String {
    let mut csv = String::from("timestamp,value\n");
    for (index, value) in series.values.iter().enumerate() {
        if let Some(value) = value {
            csv.push_str(&format!("{},{value:.3}\n", series.at(index).to_rfc3339()));
        }
    }
    csv
}

/// `timestamp,forecast,lower,upper`, one line per step.
fn forecast_csv(made: &Forecast) -> String {
    let mut csv = String::from("timestamp,forecast,lower,upper\n");
    for point in &made.points {
        let (lower, upper) = point.intervals.first().copied().unwrap_or((point.forecast, point.forecast));
        csv.push_str(&format!("{},{:.3},{:.3},{:.3}\n", point.at.to_rfc3339(), point.forecast, lower, upper));
    }
    csv
}

/// What was read, what was filled and what was written, for the person at the terminal.
fn summary(made: &Forecast, series: &Series, source: &str, took: std::time::Duration, out: Option<&Path>) -> String {
    let mut lines = vec![format!(
        "{source}: {} readings every {}, {} to {}",
        series.len(),
        made.interval,
        series.start.to_rfc3339(),
        series.at(series.len() - 1).to_rfc3339()
    )];
    if made.filled > 0 {
        let longest = made.gaps.iter().map(|gap| gap.readings).max().unwrap_or(0);
        lines.push(format!(
            "filled {} missing reading{} in {} gap{} (longest {} readings, from {})",
            made.filled,
            if made.filled == 1 { "" } else { "s" },
            made.gaps.len(),
            if made.gaps.len() == 1 { "" } else { "s" },
            longest,
            made.gaps.iter().max_by_key(|gap| gap.readings).map(|gap| gap.from.to_rfc3339()).unwrap_or_default()
        ));
    }
    if made.outages > 0 {
        lines.push(format!(
            "left {} outage reading{} out of the fit",
            made.outages,
            if made.outages == 1 { "" } else { "s" }
        ));
    }
    let (first, last) = (made.points.first(), made.points.last());
    if let (Some(first), Some(last)) = (first, last) {
        lines.push(format!(
            "{} forecast{} from {} to {} with {} % intervals, in {:.2} s{}",
            made.points.len(),
            if made.points.len() == 1 { "" } else { "s" },
            first.at.to_rfc3339(),
            last.at.to_rfc3339(),
            made.levels.first().copied().unwrap_or(95.0),
            took.as_secs_f64(),
            out.map(|out| format!(", written to {}", out.display())).unwrap_or_default()
        ));
    }
    lines.join("\n")
}

fn read_series(input: &Path) -> anyhow::Result<Series> {
    let text = std::fs::read_to_string(input).with_context(|| format!("cannot read {}", input.display()))?;
    Series::from_csv(&text).with_context(|| input.display().to_string())
}

async fn backtest(args: BacktestArgs) -> anyhow::Result<()> {
    let series = read_series(&args.input)?;
    let steps =
        forecast::parse_horizon(&args.horizon, series.interval_ms).map_err(|error| anyhow::anyhow!("--{error}"))?;
    let origins = args.origins;
    let input = args.input.display().to_string();
    let interval = describe_interval(series.interval_ms);
    let points = series.len();
    let started = std::time::Instant::now();
    let result = tokio::task::spawn_blocking(move || forecast::backtest(&series, steps, origins))
        .await
        .context("the backtest stopped unexpectedly")?
        .map_err(|error| match error {
            forecast::ForecastError::Origins(_) | forecast::ForecastError::Horizon(_) => anyhow::anyhow!("--{error}"),
            other => anyhow::anyhow!("{input}: {other}"),
        })?;
    let seconds = started.elapsed().as_secs_f64();
    if args.json {
        let json = serde_json::json!({
            "series": input,
            "points": points,
            "interval": interval,
            "horizon_steps": result.horizon,
            "origins": result.origins,
            "seconds": seconds,
            "methods": result.scores,
        });
        println!("{}", serde_json::to_string_pretty(&json)?);
        return Ok(());
    }
    let (first, last) = (result.origins.first(), result.origins.last());
    println!(
        "{input}: {points} readings every {interval}; {} origins{}, {} steps ahead each",
        result.origins.len(),
        match (first, last) {
            (Some(first), Some(last)) => format!(" ({} to {})", first.to_rfc3339(), last.to_rfc3339()),
            _ => String::new(),
        },
        result.horizon
    );
    println!("{:<16} {:>8} {:>7} {:>9} {:>9} {:>8}", "method", "MAPE %", "MASE", "cover 80", "cover 95", "points");
    for score in &result.scores {
        let cover = |value: Option<f64>| value.map_or("-".to_owned(), |value| format!("{value:.1}"));
        println!(
            "{:<16} {:>8.3} {:>7.3} {:>9} {:>9} {:>8}",
            score.method,
            score.mape,
            score.mase,
            cover(score.coverage_80),
            cover(score.coverage_95),
            score.points
        );
    }
    println!("({seconds:.1} s)");
    Ok(())
}
