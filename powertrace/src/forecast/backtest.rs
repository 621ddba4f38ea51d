//! Rolling-origin backtest: from each of the last local midnights, forecast the horizon
//! from the history before it alone, and score against what happened — side by side with
//! seasonal naive (the same slot a week earlier).

use chrono::{DateTime, FixedOffset};

use super::{ForecastError, Series, check_horizon, forecast};

/// How one method did over every origin.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct Score {
    pub method: &'static str,
    /// Mean absolute percentage error, in percent (readings of 0 left out).
    pub mape: f64,
    /// Mean absolute error over the in-sample MAE of weekly seasonal naive.
    pub mase: f64,
    /// Share of readings inside the 80 % and 95 % intervals, in percent.
    pub coverage_80: Option<f64>,
    pub coverage_95: Option<f64>,
    /// Readings scored.
    pub points: usize,
}

/// A backtest's origins and scores.
#[derive(Debug, Clone, serde::Serialize)]
pub struct Backtest {
    pub horizon: usize,
    pub origins: Vec<DateTime<FixedOffset>>,
    pub scores: Vec<Score>,
}

#[derive(Default)]
struct Tally {
    absolute_percent: f64,
    percent_points: usize,
    absolute: f64,
    points: usize,
    inside: [usize; 2],
}

impl Tally {
    fn add(&mut self, actual: f64, forecast: f64) {
        self.absolute += (actual - forecast).abs();
        self.points += 1;
        if actual != 0.0 {
            self.absolute_percent += ((actual - forecast) / actual).abs() * 100.0;
            self.percent_points += 1;
        }
    }

    fn score(&self, method: &'static str, scale: f64, intervals: bool) -> Score {
        let share = |count: usize| count as f64 * 100.0 / self.points.max(1) as f64;
        Score {
            method,
            mape: self.absolute_percent / self.percent_points.max(1) as f64,
            mase: self.absolute / self.points.max(1) as f64 / scale,
            coverage_80: intervals.then(|| share(self.inside[0])),
            coverage_95: intervals.then(|| share(self.inside[1])),
            points: self.points,
        }
    }
}

/// Backtests `horizon`-step forecasts from the last `origins` local midnights that have
/// two weeks of history before them and the whole horizon after.
pub fn backtest(series: &Series, horizon: usize, origins: usize) -> Result<Backtest, ForecastError> {
    check_horizon(series, horizon)?;
    if origins == 0 {
        return Err(ForecastError::Origins("at least one origin is needed".into()));
    }
    let week = series.week_steps();
    let first_possible = super::MIN_WEEKS * week;
    let mut starts: Vec<usize> = (first_possible..=series.len().saturating_sub(horizon))
        .filter(|index| (series.week_slot[*index] as usize).is_multiple_of(series.day_steps()))
        .collect();
    if starts.is_empty() {
        let after = series.len().saturating_sub(first_possible);
        if after < horizon {
            return Err(ForecastError::Horizon(format!(
                "{horizon} steps reach past the data: after the {} days of history the first forecast needs, the series has {after} steps",
                super::MIN_WEEKS * 7
            )));
        }
        return Err(ForecastError::Origins(format!(
            "no midnight has {} days of history before it and {horizon} steps after it",
            super::MIN_WEEKS * 7
        )));
    }
    let keep = starts.len().saturating_sub(origins);
    starts.drain(..keep);

    let scale = seasonal_naive_scale(series, starts[0]);
    let mut model = Tally::default();
    let mut naive = Tally::default();
    for start in &starts {
        let history = series.prefix(*start);
        let made = forecast(&history, horizon, &[80.0, 95.0])?;
        for (offset, point) in made.points.iter().enumerate() {
            let index = start + offset;
            let Some(actual) = series.values[index] else { continue };
            if actual == 0.0 {
                continue;
            }
            model.add(actual, point.forecast);
            for (slot, (low, high)) in point.intervals.iter().enumerate() {
                if (*low..=*high).contains(&actual) {
                    model.inside[slot] += 1;
                }
            }
            if let Some(previous) = seasonal_naive(series, *start, index) {
                naive.add(actual, previous);
            }
        }
    }
    if model.points == 0 {
        return Err(ForecastError::Origins(
            "every reading after the origins is zero or missing: there is nothing to score".into(),
        ));
    }
    Ok(Backtest {
        horizon,
        origins: starts.iter().map(|start| series.at(*start)).collect(),
        scores: vec![model.score("opsflux", scale, true), naive.score("seasonal_naive", scale, false)],
    })
}

/// The reading in the same slot of the last week before `start` that has one.
fn seasonal_naive(series: &Series, start: usize, index: usize) -> Option<f64> {
    let week = series.week_steps();
    let mut back = index.checked_sub(week)?;
    while back >= start {
        back = back.checked_sub(week)?;
    }
    for _ in 0..4 {
        if let Some(value) = series.values[back] {
            return Some(value);
        }
        back = back.checked_sub(week)?;
    }
    None
}

/// The in-sample mean absolute error of weekly seasonal naive before `end` (MASE's scale).
fn seasonal_naive_scale(series: &Series, end: usize) -> f64 {
    let week = series.week_steps();
    let (sum, count) = (week..end)
        .filter_map(|index| Some((series.values[index]? - series.values[index - week]?).abs()))
        .fold((0.0, 0usize), |(sum, count), error| (sum + error, count + 1));
    if count == 0 || sum == 0.0 { 1.0 } else { sum / count as f64 }
}
