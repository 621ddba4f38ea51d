//! Demand forecasts from a regular series (15-minute readings of a switchboard or a site,
//! or any `timestamp,value` series): a point forecast with prediction intervals, and a
//! rolling-origin backtest against seasonal naive.
//!
//! - `series` — reading, checking and preparing the series (polars: resampling, gap
//!   filling, calendar slots; outages marked).
//! - `model` — double seasonal exponential smoothing with an AR(1) error, tuned for the
//!   horizon asked, with empirical intervals.
//! - `interval` — prediction intervals from the errors of past origins' forecasts.
//! - `profile` — the recent weeks' profile, blended with the model's forecast.
//! - `capacity` — the first date demand (plus a scenario's added load) exceeds a
//!   capacity, and how likely.
//! - `backtest` — forecasts from past origins, scored (MAPE, MASE, interval coverage).

mod backtest;
mod capacity;
mod interval;
mod model;
mod profile;
mod series;

use chrono::{DateTime, FixedOffset};

pub use backtest::{Backtest, Score, backtest};
pub use capacity::{Crossing, POSSIBLE, Reached, crossing, step_at};
pub use model::{Fitted, Params};
pub use series::{Gap, MIN_WEEKS, Series, describe_interval};

/// Days ahead a forecast may reach: three months.
pub const MAX_HORIZON_DAYS: i64 = 92;

/// Why a series cannot be forecast.
#[derive(Debug, thiserror::Error)]
pub enum ForecastError {
    /// A bad line of the input, by its line number (the header is line 1).
    #[error("line {line}: {message}")]
    Line { line: usize, message: String },
    #[error("the series is too short for its weekly seasonality: it covers {have}, a forecast needs at least {need}")]
    TooShort { have: String, need: String },
    #[error(
        "the interval between readings is {0}; it must be whole minutes that divide a day (15 min, 30 min, 1 h...)"
    )]
    Interval(String),
    #[error(
        "the series spans {points} readings of {interval}; at most {most} can be forecast from (is a timestamp wrong?)"
    )]
    TooLong { points: i64, most: usize, interval: String },
    #[error("{filled} of {points} readings are missing: too few to forecast from")]
    MostlyGaps { filled: usize, points: usize },
    #[error("no meter readings to forecast from")]
    NoReadings,
    #[error("a timestamp is out of range")]
    Timestamp,
    #[error("horizon: {0}")]
    Horizon(String),
    #[error("level: {0} is not a percentage between 50 and 99.9")]
    Level(f64),
    #[error("origins: {0}")]
    Origins(String),
    #[error("preparing the series: {0}")]
    Frame(#[from] polars::error::PolarsError),
}

/// One forecast step.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct Point {
    pub at: DateTime<FixedOffset>,
    pub forecast: f64,
    /// The bounds of the central interval at each level asked, in the same order.
    pub intervals: Vec<(f64, f64)>,
}

/// A forecast and what it was made from.
#[derive(Debug, Clone, serde::Serialize)]
pub struct Forecast {
    pub interval: String,
    pub levels: Vec<f64>,
    pub points: Vec<Point>,
    /// Readings that were missing and filled.
    pub filled: usize,
    pub gaps: Vec<Gap>,
    /// Readings taken as outages and left out of the fit.
    pub outages: usize,
    pub history: usize,
}

/// Forecasts `horizon` steps past the end of `series`, with central intervals at each
/// `levels` (percent).
pub fn forecast(series: &Series, horizon: usize, levels: &[f64]) -> Result<Forecast, ForecastError> {
    check_horizon(series, horizon)?;
    for level in levels {
        if !(50.0..=99.9).contains(level) {
            return Err(ForecastError::Level(*level));
        }
    }
    series.check_length()?;
    let fitted = Fitted::fit(series, horizon);
    Ok(made(series, &fitted, horizon, levels))
}

/// A forecast and, from the same fit, when it (plus `added` load) exceeds `capacity_kw`,
/// or each of `capacity_changes` from its time on (see [`crossing`]).
pub fn forecast_against(
    series: &Series,
    horizon: usize,
    levels: &[f64],
    capacity_kw: f64,
    capacity_changes: &[(DateTime<FixedOffset>, f64)],
    added: &[(DateTime<FixedOffset>, f64)],
) -> Result<(Forecast, Crossing), ForecastError> {
    check_horizon(series, horizon)?;
    for level in levels {
        if !(50.0..=99.9).contains(level) {
            return Err(ForecastError::Level(*level));
        }
    }
    series.check_length()?;
    let fitted = Fitted::fit(series, horizon);
    Ok((
        made(series, &fitted, horizon, levels),
        capacity::crossing_of(series, &fitted, horizon, capacity_kw, capacity_changes, added),
    ))
}

fn made(series: &Series, fitted: &Fitted, horizon: usize, levels: &[f64]) -> Forecast {
    let points = fitted
        .forecast(horizon)
        .into_iter()
        .enumerate()
        .map(|(index, forecast)| {
            let ahead = index + 1;
            let intervals = levels
                .iter()
                .map(|level| {
                    let (low, high) = fitted.interval(ahead, level / 100.0);
                    (forecast + low, forecast + high)
                })
                .collect();
            Point { at: series.at(series.len() - 1 + ahead), forecast, intervals }
        })
        .collect();
    Forecast {
        interval: describe_interval(series.interval_ms),
        levels: levels.to_vec(),
        points,
        filled: series.filled(),
        gaps: series.gaps.clone(),
        outages: series.outages(),
        history: series.len(),
    }
}

fn check_horizon(series: &Series, horizon: usize) -> Result<(), ForecastError> {
    let most = (MAX_HORIZON_DAYS as usize) * series.day_steps();
    if horizon == 0 || horizon > most {
        return Err(ForecastError::Horizon(format!(
            "{horizon} steps of {}: it must be from 1 step to {MAX_HORIZON_DAYS} days ({most} steps)",
            describe_interval(series.interval_ms)
        )));
    }
    Ok(())
}

/// Reads a horizon: a number of steps (`96`) or a duration (`15min`, `12h`, `7d`, `2w`)
/// in steps of `interval_ms`.
pub fn parse_horizon(text: &str, interval_ms: i64) -> Result<usize, ForecastError> {
    let text = text.trim();
    let bad = || {
        ForecastError::Horizon(format!(
            "`{text}` is neither a number of steps (96) nor a duration (90min, 12h, 7d, 2w)"
        ))
    };
    if let Ok(steps) = text.parse::<usize>() {
        return Ok(steps);
    }
    let split = text.find(|c: char| !c.is_ascii_digit()).ok_or_else(bad)?;
    let (number, unit) = text.split_at(split);
    let number: i64 = number.parse().map_err(|_| bad())?;
    let unit_ms = match unit.trim() {
        "min" | "m" => 60_000,
        "h" => 3_600_000,
        "d" => 86_400_000,
        "w" => 7 * 86_400_000,
        _ => return Err(bad()),
    };
    let total = number.checked_mul(unit_ms).ok_or_else(bad)?;
    if total % interval_ms != 0 {
        return Err(ForecastError::Horizon(format!(
            "`{text}` is not a whole number of {} steps",
            describe_interval(interval_ms)
        )));
    }
    usize::try_from(total / interval_ms).map_err(|_| bad())
}
