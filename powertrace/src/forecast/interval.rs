//! Prediction intervals from the model's own errors: forecasts made from past origins
//! are compared with what happened, and the errors at each distance ahead give the
//! interval's quantiles there.
//!
//! Distances ahead are pooled in buckets: within the first day their width doubles (1,
//! 2–3, 4–7... steps), since errors grow fastest in the first hours while the last
//! reading still informs the forecast; past it, one bucket per day. A bucket with too
//! few errors borrows the nearest wider one (within the first day) or the last
//! calibrated one, widened with the square root of the days ahead as a random walk's
//! errors would; a history too short for any origin falls back to the fit's own
//! residuals. Few origins make the quantiles optimistic, so they are widened a little.
//!
//! Errors come in regimes: a holiday week, a heat wave, a plant running differently.
//! When the latest origins missed by more than the origins usually do, the intervals
//! widen by that ratio (at most threefold), so the days after a change are not
//! forecast with the confidence of the settled weeks before it.

/// A bucket needs at least this many errors to be calibrated.
const MIN_BUCKET_ERRORS: usize = 20;
/// From this many origins, the errors' quantiles are taken as they are.
const FULL_ORIGINS: usize = 30;
/// The latest origins whose errors say whether the series is in a new regime, and
/// the most the intervals widen for it.
const RECENT_ORIGINS: usize = 3;
const MAX_REGIME_WIDENING: f64 = 3.0;

/// The sorted errors per bucket of distance ahead.
#[derive(Debug, Clone)]
pub(super) struct Calibration {
    buckets: Vec<Vec<f64>>,
    day_steps: usize,
    /// Residuals of the fit, for a history with no origin to calibrate from.
    fallback: Vec<f64>,
    /// The widening for the number of origins the errors came from.
    inflation: f64,
}

impl Calibration {
    /// From `(origin, ahead, error)` triples and the fit's residuals.
    pub(super) fn new(errors: &[(usize, usize, f64)], day_steps: usize, mut residuals: Vec<f64>) -> Calibration {
        let mut buckets: Vec<Vec<f64>> = Vec::new();
        let mut origins: Vec<usize> = Vec::new();
        for (origin, ahead, error) in errors {
            let bucket = bucket(*ahead, day_steps);
            if buckets.len() <= bucket {
                buckets.resize_with(bucket + 1, Vec::new);
            }
            buckets[bucket].push(*error);
            origins.push(*origin);
        }
        for errors in &mut buckets {
            errors.sort_by(f64::total_cmp);
        }
        origins.sort_unstable();
        origins.dedup();
        residuals.sort_by(f64::total_cmp);
        let inflation = if origins.is_empty() {
            1.0
        } else {
            1.0 + (1.0 / (origins.len() as f64).sqrt() - 1.0 / (FULL_ORIGINS as f64).sqrt()).max(0.0)
        };
        let inflation = inflation * regime_widening(errors);
        Calibration { buckets, day_steps, fallback: residuals, inflation }
    }

    /// The sorted errors of forecasts `ahead` steps ahead, and the factor they are
    /// widened by; `None` when nothing was ever measured.
    pub(super) fn errors_at(&self, ahead: usize) -> Option<(&[f64], f64)> {
        let wanted = bucket(ahead, self.day_steps);
        let calibrated =
            |index: &usize| self.buckets.get(*index).is_some_and(|errors| errors.len() >= MIN_BUCKET_ERRORS);
        let first_day = first_day_buckets(self.day_steps);
        let chosen = if calibrated(&wanted) {
            Some(wanted)
        } else {
            let wider = if wanted < first_day { (wanted + 1..first_day).find(calibrated) } else { None };
            wider.or_else(|| (0..wanted.min(self.buckets.len())).rev().find(calibrated))
        };
        let day = |bucket: usize| if bucket < first_day { 0 } else { bucket + 1 - first_day };
        match chosen {
            Some(chosen) => {
                let growth = ((day(wanted) + 1) as f64 / (day(chosen) + 1) as f64).sqrt().max(1.0);
                Some((&self.buckets[chosen], self.inflation * growth))
            }
            None if !self.fallback.is_empty() => {
                let days = (ahead - 1) / self.day_steps.max(1);
                Some((&self.fallback, FALLBACK_WIDENING * ((days + 1) as f64).sqrt()))
            }
            None => None,
        }
    }
}

/// How much more the latest origins missed than origins usually do: the mean absolute
/// error of the last `RECENT_ORIGINS` origins over the median of every origin's, from
/// 1 (nothing unusual, or too few origins to tell) to `MAX_REGIME_WIDENING`.
fn regime_widening(errors: &[(usize, usize, f64)]) -> f64 {
    let mut by_origin: std::collections::BTreeMap<usize, (f64, usize)> = std::collections::BTreeMap::new();
    for (origin, _, error) in errors {
        let entry = by_origin.entry(*origin).or_insert((0.0, 0));
        entry.0 += error.abs();
        entry.1 += 1;
    }
    let means: Vec<f64> = by_origin.values().map(|(sum, count)| sum / *count as f64).collect();
    if means.len() < 4 * RECENT_ORIGINS {
        return 1.0;
    }
    let recent = means[means.len() - RECENT_ORIGINS..].iter().sum::<f64>() / RECENT_ORIGINS as f64;
    let mut sorted = means.clone();
    sorted.sort_by(f64::total_cmp);
    let typical = sorted[sorted.len() / 2];
    if typical.is_nan() || typical <= 0.0 || !recent.is_finite() {
        return 1.0;
    }
    (recent / typical).clamp(1.0, MAX_REGIME_WIDENING)
}

/// The fit's residuals understate out-of-sample errors; with nothing else to go by,
/// they are widened by this much.
const FALLBACK_WIDENING: f64 = 1.5;

/// How many buckets the first day takes: `floor(log2(day_steps)) + 1`.
fn first_day_buckets(day_steps: usize) -> usize {
    (usize::BITS - day_steps.max(1).leading_zeros()) as usize
}

/// The bucket of a distance ahead (from 1).
fn bucket(ahead: usize, day_steps: usize) -> usize {
    let ahead = ahead.max(1);
    if ahead <= day_steps {
        (usize::BITS - 1 - ahead.leading_zeros()) as usize
    } else {
        first_day_buckets(day_steps) - 1 + (ahead - 1) / day_steps
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn buckets_double_within_the_first_day_then_count_days() {
        let of = |ahead| bucket(ahead, 96);
        assert_eq!([of(1), of(2), of(3), of(4), of(63), of(64), of(96)], [0, 1, 1, 2, 5, 6, 6]);
        assert_eq!([of(97), of(192), of(193)], [7, 7, 8]);
        // Daily readings: one bucket per day from the start.
        assert_eq!([bucket(1, 1), bucket(2, 1), bucket(3, 1)], [0, 1, 2]);
    }

    #[test]
    fn a_thin_bucket_borrows_a_wider_one_and_days_past_the_calibrated_range_widen() {
        // 40 origins, with an error 1 step ahead in a quarter of them only, and a full
        // first day of errors.
        let mut errors = Vec::new();
        for origin in 0..40 {
            if origin % 4 == 0 {
                errors.push((origin, 1, 0.1));
            }
            for ahead in 2..=4 {
                errors.push((origin, ahead, f64::from(ahead as u32)));
            }
        }
        let calibration = Calibration::new(&errors, 4, vec![]);
        let (at_one, scale) = calibration.errors_at(1).expect("calibrated");
        assert_eq!((at_one[0], scale), (2.0, 1.0), "one step ahead borrows 2–3 steps ahead");
        let (_, scale) = calibration.errors_at(4 * 3 + 1).expect("extrapolated");
        assert!((scale - 4f64.sqrt()).abs() < 1e-9, "four days ahead widens by √4, got {scale}");
    }

    #[test]
    fn intervals_widen_when_the_latest_origins_missed_more_than_usual() {
        // 40 origins missing by 1; then the last three by 2, or by 10.
        let with_last = |last: f64| -> Vec<(usize, usize, f64)> {
            (0..40)
                .flat_map(|origin| (1..=4).map(move |ahead| (origin, ahead, if origin >= 37 { last } else { 1.0 })))
                .collect()
        };
        let scale = |errors: &[(usize, usize, f64)]| Calibration::new(errors, 4, vec![]).errors_at(1).unwrap().1;
        assert_eq!(scale(&with_last(1.0)), 1.0, "a settled series keeps its intervals");
        assert_eq!(scale(&with_last(-2.0)), 2.0, "the latest origins missed twice as much");
        assert_eq!(scale(&with_last(10.0)), MAX_REGIME_WIDENING, "at most threefold");
        assert_eq!(regime_widening(&with_last(10.0)[..4 * 11]), 1.0, "too few origins to tell");
    }

    #[test]
    fn no_origin_falls_back_to_widened_residuals_and_few_origins_widen() {
        let calibration = Calibration::new(&[], 96, vec![-1.0, 1.0]);
        assert_eq!(calibration.errors_at(1), Some((&[-1.0, 1.0][..], FALLBACK_WIDENING)));
        assert_eq!(Calibration::new(&[], 96, vec![]).errors_at(1), None);
        let few: Vec<_> = (0..7).flat_map(|origin| (1..=12).map(move |ahead| (origin, ahead, 1.0))).collect();
        let (_, scale) = Calibration::new(&few, 4, vec![]).errors_at(5).expect("calibrated");
        assert!(scale > 1.15 && scale < 1.25, "seven origins widen by about a fifth, got {scale}");
    }
}
