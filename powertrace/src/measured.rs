//! The measured side of a load list: peak, 95th-percentile and average demand from the
//! meter readings, and the ratio of the measured peak to the calculated maximum demand
//! — the engineer's sanity check of the load list (well under 1: the list is
//! conservative or loads are missing from the meters; over 1: loads are missing from
//! the list or its factors are too low).

use chrono::{DateTime, FixedOffset};

use crate::forecast::Series;

/// Demand as metered over a series (outages and gaps left out).
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct Measured {
    pub peak_kw: f64,
    pub peak_at: DateTime<FixedOffset>,
    /// The demand exceeded by 5 % of the readings.
    pub p95_kw: f64,
    pub average_kw: f64,
    pub readings: usize,
    pub from: DateTime<FixedOffset>,
    pub to: DateTime<FixedOffset>,
}

impl Measured {
    /// The figures of `series`, or `None` when it has no usable reading.
    pub fn of(series: &Series) -> Option<Measured> {
        let readings: Vec<(usize, f64)> =
            (0..series.len()).filter_map(|index| series.usable(index).map(|value| (index, value))).collect();
        let (peak_index, peak_kw) = readings.iter().copied().max_by(|a, b| a.1.total_cmp(&b.1))?;
        let mut sorted: Vec<f64> = readings.iter().map(|(_, value)| *value).collect();
        sorted.sort_by(f64::total_cmp);
        // Nearest rank: the smallest reading with at least 95 % of readings at or below it.
        let rank = ((sorted.len() as f64) * 0.95).ceil() as usize;
        let p95_kw = sorted[rank.clamp(1, sorted.len()) - 1];
        Some(Measured {
            peak_kw,
            peak_at: series.at(peak_index),
            p95_kw,
            average_kw: sorted.iter().sum::<f64>() / sorted.len() as f64,
            readings: sorted.len(),
            from: series.start,
            to: series.at(series.len() - 1),
        })
    }

    /// Measured peak over the calculated maximum demand (kW); `None` when nothing is
    /// calculated.
    pub fn ratio_to(&self, maximum_demand_kw: f64) -> Option<f64> {
        (maximum_demand_kw > 0.0).then(|| self.peak_kw / maximum_demand_kw)
    }
}
