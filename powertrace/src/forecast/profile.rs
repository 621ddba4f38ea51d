//! The recent weeks' profile, the simple forecast the smoothing model is blended with:
//! from an origin, with only the readings before it, the mean of the same slot over the
//! last four weeks, shifted by how far the last three hours ran above or below their own
//! profile.

use super::model::Slots;
use super::series::Series;

/// Weeks the profile averages.
const PROFILE_WEEKS: usize = 4;
/// Part of a day over which the profile's departure is measured (an eighth: 3 hours).
const DEPARTURE_DAY_SHARE: usize = 8;

/// The profile forecasts for steps 1..=`horizon` after `origin` (`None` where the
/// recent weeks have no usable reading in that slot).
pub(super) fn profile_forecasts(series: &Series, slots: Slots, origin: usize, horizon: usize) -> Vec<Option<f64>> {
    let departure = profile_departure(series, slots, origin);
    (1..=horizon)
        .map(|ahead| profile(series, slots, origin, origin + ahead - 1).map(|profile| profile + departure))
        .collect()
}

/// The mean of the same week slot over the last `PROFILE_WEEKS` weeks before `origin`
/// that have a usable reading there.
fn profile(series: &Series, slots: Slots, origin: usize, index: usize) -> Option<f64> {
    let ahead = index + 1 - origin;
    let first_week = ahead.div_ceil(slots.week_steps).max(1);
    let (sum, count) = (first_week..first_week + PROFILE_WEEKS)
        .filter_map(|back| index.checked_sub(back * slots.week_steps))
        .filter_map(|back| series.usable(back))
        .fold((0.0, 0usize), |(sum, count), value| (sum + value, count + 1));
    (count > 0).then(|| sum / count as f64)
}

/// How far the last hours before `origin` ran above (or below) their profile.
fn profile_departure(series: &Series, slots: Slots, origin: usize) -> f64 {
    let window = (slots.day_steps / DEPARTURE_DAY_SHARE).max(1);
    let (sum, count) = (origin.saturating_sub(window)..origin)
        .filter_map(|index| Some(series.usable(index)? - profile(series, slots, index + 1, index)?))
        .fold((0.0, 0usize), |(sum, count), departure| (sum + departure, count + 1));
    if count == 0 { 0.0 } else { sum / count as f64 }
}
