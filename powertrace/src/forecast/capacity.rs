//! When demand outgrows the capacity: the forecast plus the load a scenario adds (each
//! from its start) against a capacity such as N-1, with the chance of exceeding it at
//! every step from the forecast's own error distribution.

use chrono::{DateTime, FixedOffset};

use super::{ForecastError, Series, check_horizon, model::Fitted};

/// The step at which a chance threshold is first reached, and that chance.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct Reached {
    pub at: DateTime<FixedOffset>,
    pub probability: f64,
    pub demand_kw: f64,
    /// The capacity at that step.
    pub capacity_kw: f64,
}

/// Demand against a capacity over a horizon.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct Crossing {
    /// The capacity before any change.
    pub capacity_kw: f64,
    /// The capacity from each change on (a scenario adding or taking out a set).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub capacity_changes: Vec<(DateTime<FixedOffset>, f64)>,
    /// The first step whose expected demand (forecast plus added load) exceeds it.
    pub expected: Option<Reached>,
    /// The first step with at least a 5 % chance of exceeding it.
    pub possible: Option<Reached>,
    /// The highest chance at any step, and where.
    pub highest: Option<Reached>,
    pub peak_demand_kw: f64,
}

/// The chance from which an exceedance is called possible.
pub const POSSIBLE: f64 = 0.05;

/// Forecasts `horizon` steps past `series` and compares forecast plus `added` load with
/// `capacity_kw`. `added` holds steps `(from, kW)`: the total load added from that time
/// on (as `scenario::added_load` gives it), the latest started step applying.
pub fn crossing(
    series: &Series,
    horizon: usize,
    capacity_kw: f64,
    added: &[(DateTime<FixedOffset>, f64)],
) -> Result<Crossing, ForecastError> {
    check_horizon(series, horizon)?;
    series.check_length()?;
    let fitted = Fitted::fit(series, horizon);
    Ok(crossing_of(series, &fitted, horizon, capacity_kw, &[], added))
}

/// The value of a step function at `at` (a time or a day): the latest step started by
/// then, or `before`.
pub fn step_at<T: Ord + Copy>(steps: &[(T, f64)], at: T, before: f64) -> f64 {
    steps.iter().filter(|(from, _)| *from <= at).max_by_key(|(from, _)| *from).map_or(before, |(_, value)| *value)
}

/// [`crossing`] from a model already fitted to `series` for `horizon`, the capacity
/// changing to each `capacity_changes` value from its time on.
pub(super) fn crossing_of(
    series: &Series,
    fitted: &Fitted,
    horizon: usize,
    capacity_kw: f64,
    capacity_changes: &[(DateTime<FixedOffset>, f64)],
    added: &[(DateTime<FixedOffset>, f64)],
) -> Crossing {
    let mut crossing = Crossing {
        capacity_kw,
        capacity_changes: capacity_changes.to_vec(),
        expected: None,
        possible: None,
        highest: None,
        peak_demand_kw: f64::NEG_INFINITY,
    };
    for (index, forecast) in fitted.forecast(horizon).into_iter().enumerate() {
        let ahead = index + 1;
        let at = series.at(series.len() - 1 + ahead);
        let demand = forecast + step_at(added, at, 0.0);
        let capacity = step_at(capacity_changes, at, capacity_kw);
        let probability = fitted.exceedance(ahead, demand, capacity);
        let reached = Reached { at, probability, demand_kw: demand, capacity_kw: capacity };
        crossing.peak_demand_kw = crossing.peak_demand_kw.max(demand);
        if crossing.expected.is_none() && demand > capacity {
            crossing.expected = Some(reached.clone());
        }
        if crossing.possible.is_none() && probability >= POSSIBLE {
            crossing.possible = Some(reached.clone());
        }
        if crossing.highest.as_ref().is_none_or(|highest| probability > highest.probability) {
            crossing.highest = Some(reached);
        }
    }
    crossing
}
