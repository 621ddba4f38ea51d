//! The demand model: double seasonal exponential smoothing with an autoregressive
//! adjustment of its error (Taylor, "Short-term electricity demand forecasting using
//! double seasonal exponential smoothing", JORS 54, 2003), in additive error-correction
//! form, plus a robust weekly drift for long horizons.
//!
//! Why this model: a site's demand repeats by time of day and by day of week, and moves
//! in level with production and weather. The level, the daily shape and the weekly shape
//! each adapt at their own rate; the error of the last reading carries into the next
//! hours, decaying (`rho`). Missing readings and outages do not update the state: it
//! runs on its own prediction through them, so a blackout cannot pull the forecast down.
//!
//! The smoothing rates are chosen by minimising the mean absolute error of forecasts
//! made every day over the history for the horizon asked (up to a week), so the model is
//! tuned for the forecast it will make, not for the next reading only. Prediction
//! intervals are empirical: the quantiles of the same model's errors at the same
//! distance ahead over the recent history (`interval`).

use super::interval::Calibration;
use super::profile::profile_forecasts;
use super::series::Series;

/// Bounds of the smoothing rates (level, daily shape, weekly shape) and the error's
/// persistence per step.
const BOUNDS: [(f64, f64); 4] = [(0.0, 1.0), (0.0, 1.0), (0.0, 1.0), (0.0, 0.995)];
/// Where the search for the rates starts: (level, daily, weekly, error persistence).
const STARTS: [[f64; 4]; 3] = [[0.02, 0.1, 0.1, 0.9], [0.2, 0.2, 0.2, 0.5], [0.6, 0.3, 0.3, 0.2]];
/// Nelder–Mead stops after this many objective evaluations.
const MAX_EVALUATIONS: usize = 300;
/// Intervals are calibrated on the errors from at most this many recent origins.
const CALIBRATION_ORIGINS: usize = 60;
/// Weeks of history before the first origin whose forecast tunes the rates (the state
/// has settled); intervals are calibrated from origins after one week already, so a
/// short history still has errors to learn its spread from.
const TUNING_WARMUP_WEEKS: usize = 2;
const CALIBRATION_WARMUP_WEEKS: usize = 1;
/// Drift is estimated over at most this many recent weeks, and only from this many.
const DRIFT_WEEKS: (usize, usize) = (26, 8);

#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Params {
    pub alpha: f64,
    pub delta: f64,
    pub omega: f64,
    pub rho: f64,
}

/// The unbounded coordinate of `value` within `(low, high)`: the inverse of the squash.
fn unsquash(value: f64, (low, high): (f64, f64)) -> f64 {
    let share = ((value - low) / (high - low)).clamp(1e-6, 1.0 - 1e-6);
    (share / (1.0 - share)).ln()
}

impl Params {
    fn from_unbounded(x: &[f64; 4]) -> Params {
        let squash = |value: f64, (low, high): (f64, f64)| low + (high - low) / (1.0 + (-value).exp());
        Params {
            alpha: squash(x[0], BOUNDS[0]),
            delta: squash(x[1], BOUNDS[1]),
            omega: squash(x[2], BOUNDS[2]),
            rho: squash(x[3], BOUNDS[3]),
        }
    }
}

/// The model state after some readings.
#[derive(Debug, Clone)]
struct State {
    level: f64,
    day: Vec<f64>,
    week: Vec<f64>,
    /// The last residual (reading minus level and shapes), which decays ahead.
    error: f64,
}

/// The shapes seen from a position: which daily and weekly slot a point is in.
#[derive(Debug, Clone, Copy)]
pub(super) struct Slots {
    pub(super) day_steps: usize,
    pub(super) week_steps: usize,
}

impl Slots {
    pub(super) fn day(&self, week_slot: usize) -> usize {
        week_slot % self.day_steps
    }
}

impl State {
    /// Level from the mean of the first two weeks, the daily shape from the mean by time
    /// of day, the weekly shape from what the daily one leaves.
    fn initial(series: &Series, slots: Slots) -> State {
        let warmup = (2 * slots.week_steps).min(series.len());
        let present: Vec<(usize, f64)> =
            (0..warmup).filter_map(|index| series.usable(index).map(|value| (index, value))).collect();
        let level = if present.is_empty() {
            0.0
        } else {
            present.iter().map(|(_, value)| value).sum::<f64>() / present.len() as f64
        };
        let mut day = mean_by(
            slots.day_steps,
            present.iter().map(|(index, value)| (slots.day(series.week_slot[*index] as usize), value - level)),
        );
        if slots.day_steps == 1 {
            day = vec![0.0];
        }
        let week = mean_by(
            slots.week_steps,
            present.iter().map(|(index, value)| {
                let slot = series.week_slot[*index] as usize;
                (slot, value - level - day[slots.day(slot)])
            }),
        );
        State { level, day, week, error: 0.0 }
    }

    /// The forecast `ahead` steps past the state, for a point in `week_slot`.
    fn predict(&self, week_slot: usize, slots: Slots, rho_power: f64) -> f64 {
        self.level + self.day[slots.day(week_slot)] + self.week[week_slot] + rho_power * self.error
    }

    /// Takes in one reading (or its absence).
    fn update(&mut self, value: Option<f64>, week_slot: usize, slots: Slots, params: &Params) {
        let day_slot = slots.day(week_slot);
        let base = self.level + self.day[day_slot] + self.week[week_slot];
        match value {
            Some(value) => {
                let residual = value - base;
                let innovation = residual - params.rho * self.error;
                self.level += params.alpha * innovation;
                if slots.day_steps > 1 {
                    self.day[day_slot] += params.delta * innovation;
                }
                self.week[week_slot] += params.omega * innovation;
                self.error = residual - params.alpha * innovation;
            }
            None => self.error *= params.rho,
        }
    }
}

fn mean_by(slots: usize, values: impl Iterator<Item = (usize, f64)>) -> Vec<f64> {
    let mut sums = vec![0.0; slots];
    let mut counts = vec![0usize; slots];
    for (slot, value) in values {
        sums[slot] += value;
        counts[slot] += 1;
    }
    sums.iter().zip(&counts).map(|(sum, count)| if *count == 0 { 0.0 } else { sum / *count as f64 }).collect()
}

/// A fitted model, ready to forecast from the end of its series.
#[derive(Debug, Clone)]
pub struct Fitted {
    pub params: Params,
    state: State,
    slots: Slots,
    /// Week slot of the last point.
    last_slot: usize,
    /// Drift per step (a robust slope of weekly means).
    pub drift: f64,
    /// The errors of forecasts from past origins, by distance ahead.
    calibration: Calibration,
    pub blend: Blend,
    /// The recent weeks' profile forecast for each step ahead.
    profile: Vec<Option<f64>>,
}

/// How the smoothing forecast and the recent weeks' profile are combined: chosen on the
/// history's own forecasts, since neither wins on every series (a combination of two
/// different forecasts is seldom worse than either, often better).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Blend {
    /// The smoothing forecast's weight; the profile has the rest.
    pub smoothing: f64,
}

impl Blend {
    fn apply(&self, backcast: &Backcast) -> f64 {
        match backcast.profile {
            Some(profile) => self.smoothing * backcast.smoothing + (1.0 - self.smoothing) * profile,
            None => backcast.smoothing,
        }
    }

    /// The weight, in quarters, with the least absolute error over `backcasts`.
    fn choose(backcasts: &[Backcast]) -> Blend {
        let mut best = (Blend { smoothing: 1.0 }, f64::INFINITY);
        for quarters in 0..=4 {
            let blend = Blend { smoothing: f64::from(quarters) / 4.0 };
            let error: f64 = backcasts.iter().map(|backcast| (backcast.actual - blend.apply(backcast)).abs()).sum();
            if error < best.1 {
                best = (blend, error);
            }
        }
        best.0
    }
}

/// One forecast made from a past origin, in its parts.
#[derive(Debug, Clone, Copy)]
struct Backcast {
    origin: usize,
    ahead: usize,
    actual: f64,
    smoothing: f64,
    profile: Option<f64>,
}

impl Fitted {
    /// Fits the model to `series` for forecasts `horizon` steps ahead.
    pub fn fit(series: &Series, horizon: usize) -> Fitted {
        let slots = Slots { day_steps: series.day_steps(), week_steps: series.week_steps() };
        let tuned_horizon = horizon.clamp(1, slots.week_steps);
        let initial = State::initial(series, slots);
        let objective = |x: &[f64; 4]| {
            let params = Params::from_unbounded(x);
            recent_error(series, slots, &initial, &params, tuned_horizon)
        };
        // A few starts, since the error surface has several basins (a slow level with
        // a persistent error, or a level that follows the last readings).
        let mut best = [0.0; 4];
        let mut best_value = f64::INFINITY;
        for start in STARTS {
            let unbounded: [f64; 4] = std::array::from_fn(|axis| unsquash(start[axis], BOUNDS[axis]));
            let found = nelder_mead(&objective, unbounded, MAX_EVALUATIONS);
            let value = objective(&found);
            if value < best_value {
                (best, best_value) = (found, value);
            }
        }
        let params = Params::from_unbounded(&best);
        let calibration_horizon = horizon.min(4 * slots.week_steps);
        let backcasts =
            origin_forecasts(series, slots, &initial, &params, calibration_horizon, Some(CALIBRATION_ORIGINS));
        let blend = Blend::choose(&backcasts);
        let errors: Vec<(usize, usize, f64)> = backcasts
            .iter()
            .map(|backcast| (backcast.origin, backcast.ahead, backcast.actual - blend.apply(backcast)))
            .collect();
        let mut state = initial;
        let mut residuals = Vec::new();
        for index in 0..series.len() {
            let slot = series.week_slot[index] as usize;
            if let Some(value) = series.usable(index) {
                residuals.push(value - state.predict(slot, slots, 0.0));
            }
            state.update(series.usable(index), slot, slots, &params);
        }
        let calibration = Calibration::new(&errors, slots.day_steps, residuals);
        let last_slot = series.week_slot[series.len() - 1] as usize;
        let end = series.len();
        let profile = profile_forecasts(series, slots, end, horizon);
        Fitted { params, blend, state, slots, last_slot, drift: drift(series, slots), calibration, profile }
    }

    /// The point forecast for `horizon` steps after the series' end (at most the
    /// horizon it was fitted for).
    pub fn forecast(&self, horizon: usize) -> Vec<f64> {
        let mut rho_power = 1.0;
        (1..=horizon)
            .map(|ahead| {
                rho_power *= self.params.rho;
                let slot = (self.last_slot + ahead) % self.slots.week_steps;
                let backcast = Backcast {
                    origin: 0,
                    ahead,
                    actual: 0.0,
                    smoothing: self.state.predict(slot, self.slots, rho_power),
                    profile: self.profile[ahead - 1],
                };
                self.blend.apply(&backcast) + self.drift * ahead as f64
            })
            .collect()
    }

    /// The interval's error quantiles (lower, upper) `ahead` steps after the end, for a
    /// central `level` in (0, 1). The interval always holds the forecast itself, even
    /// where past errors all leaned one way.
    pub fn interval(&self, ahead: usize, level: f64) -> (f64, f64) {
        let Some((errors, scale)) = self.calibration.errors_at(ahead) else { return (0.0, 0.0) };
        let tail = (1.0 - level) / 2.0;
        ((quantile(errors, tail) * scale).min(0.0), (quantile(errors, 1.0 - tail) * scale).max(0.0))
    }

    /// The chance, from the same errors, that the reading `ahead` steps after the end
    /// exceeds `threshold` when `forecast` is expected there.
    pub fn exceedance(&self, ahead: usize, forecast: f64, threshold: f64) -> f64 {
        let Some((errors, scale)) = self.calibration.errors_at(ahead) else {
            return if forecast > threshold { 1.0 } else { 0.0 };
        };
        let above = errors.iter().filter(|error| forecast + *error * scale > threshold).count();
        above as f64 / errors.len() as f64
    }
}

/// Days over which an origin's weight in the fit halves: demand's habits drift with the
/// seasons, so the recent weeks say more about tomorrow.
const HALF_LIFE_DAYS: f64 = 28.0;

/// The mean absolute error of forecasts from every daily origin, recent origins
/// weighing more.
fn recent_error(series: &Series, slots: Slots, initial: &State, params: &Params, horizon: usize) -> f64 {
    let (mut total, mut weights) = (0.0, 0.0);
    let length = series.len() as f64;
    let decay = -std::f64::consts::LN_2 / (HALF_LIFE_DAYS * slots.day_steps as f64);
    let warmup = TUNING_WARMUP_WEEKS * slots.week_steps;
    walk_origins(series, slots, initial, params, horizon, warmup, None, |origin, _, actual, forecast| {
        let weight = ((length - origin as f64) * decay).exp();
        total += weight * (actual - forecast).abs();
        weights += weight;
    });
    if weights > 0.0 { total / weights } else { 0.0 }
}

/// Forecasts from the last `latest` daily origins (or all), each with the profile's
/// beside it.
fn origin_forecasts(
    series: &Series,
    slots: Slots,
    initial: &State,
    params: &Params,
    horizon: usize,
    latest: Option<usize>,
) -> Vec<Backcast> {
    let mut backcasts = Vec::new();
    let mut profile: (usize, Vec<Option<f64>>) = (usize::MAX, Vec::new());
    let warmup = CALIBRATION_WARMUP_WEEKS * slots.week_steps;
    walk_origins(series, slots, initial, params, horizon, warmup, latest, |origin, ahead, actual, smoothing| {
        if profile.0 != origin {
            profile = (origin, profile_forecasts(series, slots, origin, horizon));
        }
        backcasts.push(Backcast { origin, ahead, actual, smoothing, profile: profile.1[ahead - 1] });
    });
    backcasts
}

/// Calls `visit(origin, ahead, actual, forecast)` for every usable reading within
/// `horizon` of each daily origin (at the series' end's time of day, after `warmup`
/// points).
#[allow(clippy::too_many_arguments)]
fn walk_origins(
    series: &Series,
    slots: Slots,
    initial: &State,
    params: &Params,
    horizon: usize,
    warmup: usize,
    latest: Option<usize>,
    mut visit: impl FnMut(usize, usize, f64, f64),
) {
    let length = series.len();
    // Origins share the end's time of day, so their errors match the forecast's.
    let mut origins: Vec<usize> =
        (0..).map(|day| length - day * slots.day_steps).take_while(|origin| *origin > warmup).collect();
    origins.retain(|origin| origin + horizon.min(slots.day_steps) <= length);
    origins.reverse();
    if let Some(latest) = latest {
        let keep = origins.len().saturating_sub(latest);
        origins.drain(..keep);
    }
    let mut state = initial.clone();
    let mut position = 0;
    for origin in origins {
        while position < origin {
            state.update(series.usable(position), series.week_slot[position] as usize, slots, params);
            position += 1;
        }
        let last_slot = series.week_slot[origin - 1] as usize;
        let mut rho_power = 1.0;
        for ahead in 1..=horizon.min(length - origin) {
            rho_power *= params.rho;
            let index = origin + ahead - 1;
            if let Some(actual) = series.usable(index) {
                let slot = (last_slot + ahead) % slots.week_steps;
                visit(origin, ahead, actual, state.predict(slot, slots, rho_power));
            }
        }
    }
}

/// Drift per step: the Theil–Sen slope of complete weekly means over recent weeks, 0
/// when there are too few weeks to tell a trend from noise.
fn drift(series: &Series, slots: Slots) -> f64 {
    let weeks = series.len() / slots.week_steps;
    let end = series.len();
    let mut means: Vec<(f64, f64)> = Vec::new();
    for week in 0..weeks.min(DRIFT_WEEKS.0) {
        let range = end - (week + 1) * slots.week_steps..end - week * slots.week_steps;
        let values: Vec<f64> = range.filter_map(|index| series.usable(index)).collect();
        // A week mostly missing would bias its mean with the slots it happens to have.
        if values.len() * 10 >= slots.week_steps * 9 {
            means.push((-(week as f64), values.iter().sum::<f64>() / values.len() as f64));
        }
    }
    if means.len() < DRIFT_WEEKS.1 {
        return 0.0;
    }
    let mut slopes = Vec::new();
    for (i, (x1, y1)) in means.iter().enumerate() {
        for (x2, y2) in &means[i + 1..] {
            slopes.push((y2 - y1) / (x2 - x1));
        }
    }
    slopes.sort_by(f64::total_cmp);
    slopes[slopes.len() / 2] / slots.week_steps as f64
}

/// The `q` quantile of sorted values, interpolated.
fn quantile(sorted: &[f64], q: f64) -> f64 {
    if sorted.is_empty() {
        return 0.0;
    }
    let position = q.clamp(0.0, 1.0) * (sorted.len() - 1) as f64;
    let below = position.floor() as usize;
    let above = position.ceil() as usize;
    let weight = position - below as f64;
    sorted[below] * (1.0 - weight) + sorted[above] * weight
}

/// Nelder–Mead minimisation from `start` with unit steps.
fn nelder_mead(objective: &impl Fn(&[f64; 4]) -> f64, start: [f64; 4], max_evaluations: usize) -> [f64; 4] {
    const N: usize = 4;
    let mut simplex: Vec<([f64; N], f64)> = Vec::with_capacity(N + 1);
    simplex.push((start, objective(&start)));
    for axis in 0..N {
        let mut point = start;
        point[axis] += 1.5;
        simplex.push((point, objective(&point)));
    }
    let mut evaluations = N + 1;
    while evaluations < max_evaluations {
        simplex.sort_by(|a, b| a.1.total_cmp(&b.1));
        let (best, worst) = (simplex[0].1, simplex[N].1);
        if (worst - best).abs() <= 1e-9 * best.abs().max(1e-12) {
            break;
        }
        let mut centroid = [0.0; N];
        for (point, _) in &simplex[..N] {
            for axis in 0..N {
                centroid[axis] += point[axis] / N as f64;
            }
        }
        let toward = |factor: f64| {
            let mut point = [0.0; N];
            for axis in 0..N {
                point[axis] = centroid[axis] + factor * (simplex[N].0[axis] - centroid[axis]);
            }
            point
        };
        let reflected = toward(-1.0);
        let reflected_value = objective(&reflected);
        evaluations += 1;
        if reflected_value < simplex[0].1 {
            let expanded = toward(-2.0);
            let expanded_value = objective(&expanded);
            evaluations += 1;
            simplex[N] = if expanded_value < reflected_value {
                (expanded, expanded_value)
            } else {
                (reflected, reflected_value)
            };
        } else if reflected_value < simplex[N - 1].1 {
            simplex[N] = (reflected, reflected_value);
        } else {
            let contracted = if reflected_value < simplex[N].1 { toward(-0.5) } else { toward(0.5) };
            let contracted_value = objective(&contracted);
            evaluations += 1;
            if contracted_value < simplex[N].1.min(reflected_value) {
                simplex[N] = (contracted, contracted_value);
            } else {
                let best_point = simplex[0].0;
                for (point, value) in simplex.iter_mut().skip(1) {
                    for axis in 0..N {
                        point[axis] = best_point[axis] + 0.5 * (point[axis] - best_point[axis]);
                    }
                    *value = objective(point);
                }
                evaluations += N;
            }
        }
    }
    simplex.sort_by(|a, b| a.1.total_cmp(&b.1));
    simplex[0].0
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nelder_mead_finds_a_bowl_minimum() {
        let minimum = nelder_mead(
            &|x: &[f64; 4]| (x[0] - 1.0).powi(2) + (x[1] + 2.0).powi(2) + (x[2] - 0.5).powi(2) + x[3].powi(2),
            [0.0; 4],
            2_000,
        );
        for (found, expected) in minimum.iter().zip([1.0, -2.0, 0.5, 0.0]) {
            assert!((found - expected).abs() < 1e-3, "{minimum:?}");
        }
    }

    #[test]
    fn quantiles_interpolate() {
        let sorted = [0.0, 1.0, 2.0, 3.0, 4.0];
        assert_eq!(quantile(&sorted, 0.5), 2.0);
        assert_eq!(quantile(&sorted, 0.125), 0.5);
        assert_eq!(quantile(&sorted, 1.0), 4.0);
    }
}
