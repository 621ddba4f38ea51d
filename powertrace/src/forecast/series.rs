//! A regular series ready to forecast: read from `timestamp,value` CSV or from meter
//! readings, checked line by line, resampled to its interval, its gaps filled and its
//! outages marked, with the calendar slot of every point — the preparation runs in polars.

use chrono::{DateTime, FixedOffset, TimeZone, Utc};
use polars::prelude::{
    ChunkedArray, Column, DataFrame, DataType, Duration, Int64Type, IntoLazy, IntoSeries, PolarsUpsample, TimeUnit,
    col, lit,
};
use polars::prelude::{ClosedWindow, DynamicGroupOptions, FillNullStrategy, Label, StartBy};

use super::ForecastError;

const MINUTE_MS: i64 = 60_000;
const DAY_MS: i64 = 86_400_000;
pub(crate) const WEEK_DAYS: usize = 7;
/// Weeks of history the weekly seasonality needs: one to learn the pattern, one to
/// confirm it.
pub const MIN_WEEKS: usize = 2;
/// Most points a series may span once regular (ten years of 15-minute readings), so a
/// stray timestamp cannot make the grid exhaust memory.
pub const MAX_POINTS: usize = 350_640;
/// A reading nearer zero than this share of its week slot's usual level is an outage (a
/// trip or a blackout, not demand): it is left out of the fit so it cannot drag the
/// forecast down.
const OUTAGE_SHARE: f64 = 0.1;
/// Readings beyond this magnitude are refused: no demand is that large, and sums of
/// squares of such values would overflow.
const MAX_MAGNITUDE: f64 = 1e15;

/// A run of missing readings that were filled.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct Gap {
    /// The first missing timestamp.
    pub from: DateTime<FixedOffset>,
    /// How many readings were missing.
    pub readings: usize,
}

/// A regular series: one value (or a filled gap) every `interval_ms` from `start`.
#[derive(Debug, Clone)]
pub struct Series {
    /// The first timestamp, in the offset the input used.
    pub start: DateTime<FixedOffset>,
    pub interval_ms: i64,
    /// Each point's value; `None` where a gap was filled.
    pub values: Vec<Option<f64>>,
    /// Each point's slot in the local week (0 = Monday 00:00), from the calendar.
    pub week_slot: Vec<u32>,
    /// Points that are outages (well under the usual demand); kept in `values` but left
    /// out of the fit.
    pub outage: Vec<bool>,
    pub gaps: Vec<Gap>,
}

impl Series {
    /// Reads `timestamp,value` CSV (RFC 3339 timestamps): every bad line is named.
    ///
    /// Timestamps keep their own offsets, so a series across a daylight-saving change
    /// reads its calendar in local time on both sides. A series whose steps are regular
    /// only in local time (daily readings at local midnight across such a change) is
    /// put on a local-time grid.
    pub fn from_csv(text: &str) -> Result<Series, ForecastError> {
        let mut reader = csv::ReaderBuilder::new()
            .has_headers(true)
            .flexible(true)
            .trim(csv::Trim::All)
            .from_reader(text.as_bytes());
        let unreadable = |error: csv::Error| {
            let line = error.position().map_or(1, |position| position.line() as usize);
            let message = match error.kind() {
                csv::ErrorKind::Utf8 { .. } => "the line is not UTF-8 text".to_owned(),
                csv::ErrorKind::Io(error) => format!("cannot be read: {error}"),
                _ => "the line is not valid CSV".to_owned(),
            };
            ForecastError::Line { line, message }
        };
        let headers = reader.headers().map_err(unreadable)?;
        let names: Vec<&str> = headers.iter().collect();
        if names != ["timestamp", "value"] {
            return Err(ForecastError::Line {
                line: 1,
                message: format!("the header must be `timestamp,value`, found `{}`", names.join(",")),
            });
        }
        let mut stamps: Vec<DateTime<FixedOffset>> = Vec::new();
        let mut values = Vec::new();
        let mut lines = Vec::new();
        for record in reader.records() {
            let record = record.map_err(unreadable)?;
            let line = record.position().map_or(0, |position| position.line() as usize);
            let bad = |message: String| ForecastError::Line { line, message };
            if record.len() != 2 {
                return Err(bad(format!("expected 2 fields (timestamp,value), found {}", record.len())));
            }
            let stamp = DateTime::parse_from_rfc3339(&record[0]).map_err(|error| {
                bad(format!("timestamp `{}` is not RFC 3339 (like 2026-11-02T00:15:00+01:00): {error}", &record[0]))
            })?;
            let text = &record[1];
            if text.is_empty() {
                return Err(bad("the value is empty".into()));
            }
            let value: f64 = text.parse().map_err(|_| bad(format!("value `{text}` is not a number")))?;
            if !value.is_finite() {
                return Err(bad(format!("value `{text}` is not a finite number")));
            }
            if value.abs() > MAX_MAGNITUDE {
                return Err(bad(format!("value `{text}` is beyond ±{MAX_MAGNITUDE:e}: is the unit right (kW, MW)?")));
            }
            if let (Some(previous), Some(previous_line)) = (stamps.last(), lines.last()) {
                if stamp == *previous {
                    return Err(bad(format!("timestamp {} repeats line {previous_line}", stamp.to_rfc3339())));
                }
                if stamp < *previous {
                    return Err(bad(format!(
                        "timestamp {} is before line {previous_line}'s ({}): the series must be sorted by time",
                        stamp.to_rfc3339(),
                        previous.to_rfc3339()
                    )));
                }
            }
            stamps.push(stamp);
            values.push(value);
            lines.push(line);
        }
        if stamps.is_empty() {
            return Err(ForecastError::Line { line: 2, message: "the series has no values".into() });
        }
        let last_offset = *stamps[stamps.len() - 1].offset();
        let instants: Vec<i64> = stamps.iter().map(DateTime::timestamp_millis).collect();
        let offsets: Vec<i64> =
            stamps.iter().map(|stamp| i64::from(stamp.offset().local_minus_utc()) * 1_000).collect();
        match detect_interval(&instants, &lines) {
            Ok(interval_ms) => Series::regular(&instants, &offsets, &values, interval_ms, last_offset),
            Err(error) => {
                // Steps of a day or more fall on local midnights, which move with the
                // offset: read them on the local clock, in the last offset.
                let last_ms = i64::from(last_offset.local_minus_utc()) * 1_000;
                let wall: Vec<i64> = instants.iter().zip(&offsets).map(|(at, offset)| at + offset - last_ms).collect();
                match detect_interval(&wall, &lines) {
                    Ok(interval_ms) if offsets.iter().any(|offset| *offset != last_ms) => {
                        Series::regular(&wall, &vec![last_ms; wall.len()], &values, interval_ms, last_offset)
                    }
                    _ => Err(error),
                }
            }
        }
    }

    /// A site's or a switchboard's demand from meter readings (several meters, any order):
    /// each meter averaged per interval, the meters summed. An interval where a meter has
    /// no reading is a gap, since the sum would understate demand.
    pub fn from_readings(
        read_at_ms: &[i64],
        meter: &[u32],
        kw: &[f64],
        interval_ms: i64,
    ) -> Result<Series, ForecastError> {
        if read_at_ms.is_empty() {
            return Err(ForecastError::NoReadings);
        }
        check_interval(interval_ms)?;
        let frame = DataFrame::new_infer_height(vec![
            datetime_column("at", read_at_ms.to_vec()),
            Column::new("meter".into(), meter),
            Column::new("kw".into(), kw),
        ])?;
        let meters = frame.column("meter")?.n_unique()? as u32;
        let every = Duration::try_parse(&format!("{}m", interval_ms / MINUTE_MS))?;
        let per_meter = frame
            .lazy()
            .sort(["at"], Default::default())
            .group_by_dynamic(
                col("at"),
                [col("meter")],
                DynamicGroupOptions {
                    every,
                    period: every,
                    offset: Duration::try_parse("0m")?,
                    label: Label::Left,
                    closed_window: ClosedWindow::Left,
                    start_by: StartBy::WindowBound,
                    ..Default::default()
                },
            )
            .agg([col("kw").mean()]);
        let summed = per_meter
            .group_by([col("at")])
            .agg([col("kw").sum(), col("meter").n_unique().alias("meters")])
            .filter(col("meters").eq(lit(meters)))
            .sort(["at"], Default::default())
            .collect()?;
        let at = summed.column("at")?.cast(&DataType::Int64)?;
        let at: Vec<i64> = at.i64()?.into_no_null_iter().map(|nanos| nanos / 1_000_000).collect();
        let kw: Vec<f64> = summed.column("kw")?.f64()?.into_no_null_iter().collect();
        if at.is_empty() {
            return Err(ForecastError::NoReadings);
        }
        let utc = FixedOffset::east_opt(0).expect("zero offset");
        Series::regular(&at, &vec![0; at.len()], &kw, interval_ms, utc)
    }

    /// Puts sorted points (`millis` since the epoch, each read in its own `offsets_ms`)
    /// on a regular grid (polars `upsample`), marks the filled gaps and the outages, and
    /// derives each point's slot in the local week; timestamps are written in `offset`.
    fn regular(
        millis: &[i64],
        offsets_ms: &[i64],
        values: &[f64],
        interval_ms: i64,
        offset: FixedOffset,
    ) -> Result<Series, ForecastError> {
        let span = (millis[millis.len() - 1] - millis[0]) / interval_ms + 1;
        if span > MAX_POINTS as i64 {
            return Err(ForecastError::TooLong {
                points: span,
                most: MAX_POINTS,
                interval: describe_interval(interval_ms),
            });
        }
        let frame = DataFrame::new_infer_height(vec![
            datetime_column("at", millis.to_vec()),
            Column::new("value".into(), values),
            Column::new("offset_ms".into(), offsets_ms),
        ])?;
        let every = Duration::try_parse(&format!("{}m", interval_ms / MINUTE_MS))?;
        let grid = frame.upsample::<[&str; 0]>([], "at", every)?;
        let minutes_per_slot = interval_ms / MINUTE_MS;
        // Calendar features are read in local time: a site's day starts at its own
        // midnight. A filled point takes the offset of the reading before it.
        let local = (col("at").cast(DataType::Int64)
            + col("offset_ms").fill_null_with_strategy(FillNullStrategy::Forward(None)) * lit(1_000_000i64))
        .cast(DataType::Datetime(TimeUnit::Nanoseconds, None));
        let calendar = grid
            .lazy()
            .with_column(local.alias("local"))
            .with_columns([((col("local").dt().weekday().cast(DataType::Int64) - lit(1i64)) * lit(24 * 60i64)
                + col("local").dt().hour().cast(DataType::Int64) * lit(60i64)
                + col("local").dt().minute().cast(DataType::Int64))
            .alias("minute_of_week")])
            .collect()?;
        let value: Vec<Option<f64>> = calendar.column("value")?.f64()?.iter().collect();
        let week_slot: Vec<u32> = calendar
            .column("minute_of_week")?
            .i64()?
            .into_no_null_iter()
            .map(|minute| (minute / minutes_per_slot) as u32)
            .collect();
        let start =
            Utc.timestamp_millis_opt(millis[0]).single().ok_or(ForecastError::Timestamp)?.with_timezone(&offset);

        let mut gaps: Vec<Gap> = Vec::new();
        let mut previous_missing = false;
        for (index, point) in value.iter().enumerate() {
            if point.is_none() {
                if previous_missing {
                    if let Some(gap) = gaps.last_mut() {
                        gap.readings += 1;
                    }
                } else {
                    let from = start + chrono::Duration::milliseconds(interval_ms * index as i64);
                    gaps.push(Gap { from, readings: 1 });
                }
            }
            previous_missing = point.is_none();
        }
        let filled: usize = gaps.iter().map(|gap| gap.readings).sum();
        if filled * 2 > value.len() {
            return Err(ForecastError::MostlyGaps { filled, points: value.len() });
        }
        let outage = outages(&value, &week_slot, (WEEK_DAYS as i64 * DAY_MS / interval_ms) as usize);
        let series = Series { start, interval_ms, values: value, week_slot, outage, gaps };
        series.check_length()?;
        Ok(series)
    }

    pub fn len(&self) -> usize {
        self.values.len()
    }

    pub fn is_empty(&self) -> bool {
        self.values.is_empty()
    }

    /// Readings per day.
    pub fn day_steps(&self) -> usize {
        (DAY_MS / self.interval_ms) as usize
    }

    /// Readings per week.
    pub fn week_steps(&self) -> usize {
        self.day_steps() * WEEK_DAYS
    }

    /// How many readings were filled.
    pub fn filled(&self) -> usize {
        self.gaps.iter().map(|gap| gap.readings).sum()
    }

    /// How many readings were outages.
    pub fn outages(&self) -> usize {
        self.outage.iter().filter(|outage| **outage).count()
    }

    /// The timestamp of point `index` (which may lie past the end).
    pub fn at(&self, index: usize) -> DateTime<FixedOffset> {
        self.start + chrono::Duration::milliseconds(self.interval_ms * index as i64)
    }

    /// The first `points` points, as a series of its own (a backtest's history).
    pub fn prefix(&self, points: usize) -> Series {
        let points = points.min(self.len());
        let gaps = self
            .gaps
            .iter()
            .filter(|gap| gap.from < self.at(points))
            .map(|gap| {
                let first = ((gap.from - self.start).num_milliseconds() / self.interval_ms) as usize;
                Gap { from: gap.from, readings: gap.readings.min(points - first) }
            })
            .collect();
        Series {
            start: self.start,
            interval_ms: self.interval_ms,
            values: self.values[..points].to_vec(),
            week_slot: self.week_slot[..points].to_vec(),
            outage: self.outage[..points].to_vec(),
            gaps,
        }
    }

    /// The value usable for fitting: present and not an outage.
    pub(crate) fn usable(&self, index: usize) -> Option<f64> {
        if self.outage[index] { None } else { self.values[index] }
    }

    pub(crate) fn check_length(&self) -> Result<(), ForecastError> {
        let needed = MIN_WEEKS * self.week_steps();
        if self.len() < needed {
            return Err(ForecastError::TooShort {
                have: describe_span(self.len(), self.interval_ms),
                need: format!(
                    "{} days ({needed} readings at {})",
                    MIN_WEEKS * WEEK_DAYS,
                    describe_interval(self.interval_ms)
                ),
            });
        }
        Ok(())
    }
}

/// The series' interval: the most common step between readings. Every step must be a
/// whole number of intervals (a larger one is a gap); any other is named.
fn detect_interval(millis: &[i64], lines: &[usize]) -> Result<i64, ForecastError> {
    if millis.len() < 2 {
        return Err(ForecastError::Line { line: lines[0], message: "a series needs more than one value".into() });
    }
    let steps: Vec<i64> = millis.windows(2).map(|pair| pair[1] - pair[0]).collect();
    let mut counts: std::collections::BTreeMap<i64, usize> = std::collections::BTreeMap::new();
    for step in &steps {
        *counts.entry(*step).or_default() += 1;
    }
    let interval = counts
        .iter()
        .max_by_key(|(step, count)| (**count, std::cmp::Reverse(**step)))
        .map(|(step, _)| *step)
        .unwrap_or(0);
    check_interval(interval).map_err(|error| ForecastError::Line { line: lines[1], message: error.to_string() })?;
    for (index, step) in steps.iter().enumerate() {
        if *step <= 0 || step % interval != 0 {
            return Err(ForecastError::Line {
                line: lines[index + 1],
                message: format!(
                    "irregular interval: {} after line {}, where the series steps every {}",
                    describe_interval(*step),
                    lines[index],
                    describe_interval(interval)
                ),
            });
        }
    }
    Ok(interval)
}

fn check_interval(interval_ms: i64) -> Result<(), ForecastError> {
    if interval_ms < MINUTE_MS || interval_ms % MINUTE_MS != 0 || DAY_MS % interval_ms != 0 {
        return Err(ForecastError::Interval(describe_interval(interval_ms)));
    }
    Ok(())
}

fn datetime_column(name: &str, millis: Vec<i64>) -> Column {
    datetime_column_nanos(name, millis.into_iter().map(|at| at * 1_000_000).collect())
}

fn datetime_column_nanos(name: &str, nanos: Vec<i64>) -> Column {
    ChunkedArray::<Int64Type>::from_vec(name.into(), nanos)
        .into_datetime(TimeUnit::Nanoseconds, None)
        .into_series()
        .into()
}

/// Marks the readings near zero where their slot of the week is usually well away from
/// it. Judged slot by slot, so a quiet weekend, a night shift or a solar site's negative
/// midday net load stay demand; only a reading that collapses towards zero against its
/// own slot's median is an outage.
fn outages(values: &[Option<f64>], week_slot: &[u32], week_steps: usize) -> Vec<bool> {
    let mut by_slot: Vec<Vec<f64>> = vec![Vec::new(); week_steps];
    for (value, slot) in values.iter().zip(week_slot) {
        if let (Some(value), Some(readings)) = (value, by_slot.get_mut(*slot as usize)) {
            readings.push(*value);
        }
    }
    let usual: Vec<Option<f64>> = by_slot.into_iter().map(|readings| median(readings.into_iter())).collect();
    values
        .iter()
        .zip(week_slot)
        .map(|(value, slot)| match (value, usual.get(*slot as usize).copied().flatten()) {
            (Some(value), Some(usual)) => usual.abs() > 0.0 && value.abs() < usual.abs() * OUTAGE_SHARE,
            _ => false,
        })
        .collect()
}

fn median(values: impl Iterator<Item = f64>) -> Option<f64> {
    let mut values: Vec<f64> = values.collect();
    if values.is_empty() {
        return None;
    }
    let middle = values.len() / 2;
    let (_, median, _) = values.select_nth_unstable_by(middle, f64::total_cmp);
    Some(*median)
}

/// "15 min", "1 h", "1 day", "90 s".
pub fn describe_interval(interval_ms: i64) -> String {
    match interval_ms {
        ms if ms > 0 && ms % DAY_MS == 0 => format!("{} day{}", ms / DAY_MS, if ms == DAY_MS { "" } else { "s" }),
        ms if ms > 0 && ms % 3_600_000 == 0 => format!("{} h", ms / 3_600_000),
        ms if ms > 0 && ms % MINUTE_MS == 0 => format!("{} min", ms / MINUTE_MS),
        ms if ms % 1_000 == 0 => format!("{} s", ms / 1_000),
        ms => format!("{ms} ms"),
    }
}

/// "5 days 3 h (492 readings)".
fn describe_span(points: usize, interval_ms: i64) -> String {
    let total_minutes = points as i64 * interval_ms / MINUTE_MS;
    let (days, hours) = (total_minutes / (24 * 60), total_minutes % (24 * 60) / 60);
    format!("{days} days {hours} h ({points} readings)")
}
