//! Demand forecasts: bad series named by line, gaps filled and reported, outages left
//! out, intervals that widen with the level, and a backtest that beats seasonal naive on
//! a series with a known daily and weekly pattern.

use expect_test::expect;
use opsflux_powertrace::forecast::{self, Series};

/// A site's hourly demand with a daily swell, quieter weekends and a slow trend: the
/// truth the forecasts are judged against (2026-01-05 is a Monday).
fn truth(hour: usize) -> f64 {
    let hour_of_day = (hour % 24) as f64;
    let day_of_week = (hour / 24) % 7;
    let daily = 1.0 + 0.25 * ((hour_of_day - 8.0) / 24.0 * std::f64::consts::TAU).sin();
    let weekly = if day_of_week >= 5 { 0.8 } else { 1.0 };
    1_000.0 * daily * weekly * (1.0 + 0.0002 * hour as f64)
}

/// Deterministic noise of about ±2 % (a linear congruential generator).
fn noisy(hours: usize) -> Vec<f64> {
    let mut seed: u64 = 42;
    (0..hours)
        .map(|hour| {
            seed = seed.wrapping_mul(6_364_136_223_846_793_005).wrapping_add(1_442_695_040_888_963_407);
            let uniform = (seed >> 11) as f64 / (1u64 << 53) as f64;
            truth(hour) * (1.0 + 0.04 * (uniform - 0.5))
        })
        .collect()
}

fn csv(values: &[Option<f64>]) -> String {
    let start = chrono::DateTime::parse_from_rfc3339("2026-01-05T00:00:00+01:00").unwrap();
    let mut text = String::from("timestamp,value\n");
    for (hour, value) in values.iter().enumerate() {
        if let Some(value) = value {
            let at = start + chrono::Duration::hours(hour as i64);
            text.push_str(&format!("{},{value:.3}\n", at.to_rfc3339()));
        }
    }
    text
}

fn error_of(text: &str) -> String {
    Series::from_csv(text).map(|_| "accepted".to_owned()).unwrap_or_else(|error| error.to_string())
}

#[test]
fn bad_series_are_named_by_line() {
    let good: Vec<Option<f64>> = noisy(24 * 21).into_iter().map(Some).collect();
    let text = csv(&good);
    let lines: Vec<&str> = text.lines().collect();
    let with_line = |index: usize, line: &str| {
        let mut changed = lines.clone();
        changed[index] = line;
        changed.join("\n")
    };
    let cases = [
        ("header", "time,kw\n2026-01-05T00:00:00+01:00,1\n".to_owned()),
        ("not a number", with_line(3, "2026-01-05T02:00:00+01:00,lots")),
        ("NaN", with_line(4, "2026-01-05T03:00:00+01:00,NaN")),
        ("empty value", with_line(5, "2026-01-05T04:00:00+01:00,")),
        ("bad timestamp", with_line(6, "05/01/2026 05:00,12")),
        ("duplicate", with_line(7, "2026-01-05T05:00:00+01:00,12")),
        ("unsorted", with_line(8, "2026-01-05T01:00:00+01:00,12")),
        ("irregular", with_line(9, "2026-01-05T08:20:00+01:00,12")),
        ("too short", csv(&good[..24 * 9])),
        ("empty", "timestamp,value\n".to_owned()),
        ("a stray year", format!("{}\n2076-01-05T00:00:00+01:00,12", lines.join("\n"))),
    ];
    let report: String = cases.iter().map(|(name, text)| format!("{name}: {}\n", error_of(text))).collect();
    expect![[r#"
        header: line 1: the header must be `timestamp,value`, found `time,kw`
        not a number: line 4: value `lots` is not a number
        NaN: line 5: value `NaN` is not a finite number
        empty value: line 6: the value is empty
        bad timestamp: line 7: timestamp `05/01/2026 05:00` is not RFC 3339 (like 2026-11-02T00:15:00+01:00): premature end of input
        duplicate: line 8: timestamp 2026-01-05T05:00:00+01:00 repeats line 7
        unsorted: line 9: timestamp 2026-01-05T01:00:00+01:00 is before line 8's (2026-01-05T06:00:00+01:00): the series must be sorted by time
        irregular: line 10: irregular interval: 80 min after line 9, where the series steps every 1 h
        too short: the series is too short for its weekly seasonality: it covers 9 days 0 h (216 readings), a forecast needs at least 14 days (336 readings at 1 h)
        empty: line 2: the series has no values
        a stray year: the series spans 438289 readings of 1 h; at most 350640 can be forecast from (is a timestamp wrong?)
    "#]]
    .assert_eq(&report);
}

#[test]
fn gaps_are_filled_and_reported_and_the_forecast_starts_one_step_after_the_end() {
    let mut values: Vec<Option<f64>> = noisy(24 * 21).into_iter().map(Some).collect();
    for value in &mut values[200..203] {
        *value = None;
    }
    let series = Series::from_csv(&csv(&values)).unwrap();
    assert_eq!(series.len(), 24 * 21);
    assert_eq!(series.filled(), 3);
    assert_eq!(series.gaps.len(), 1);
    assert_eq!(series.gaps[0].from.to_rfc3339(), "2026-01-13T08:00:00+01:00");
    let made = forecast::forecast(&series, 24, &[80.0, 95.0]).unwrap();
    assert_eq!(made.filled, 3);
    assert_eq!(made.points.len(), 24);
    assert_eq!(made.points[0].at.to_rfc3339(), "2026-01-26T00:00:00+01:00");
    assert_eq!(made.points[23].at.to_rfc3339(), "2026-01-26T23:00:00+01:00");
    assert_eq!(made.interval, "1 h");
}

#[test]
fn an_outage_does_not_drag_the_forecast_down() {
    let hours = 24 * 42;
    let mut values: Vec<Option<f64>> = noisy(hours).into_iter().map(Some).collect();
    // A blackout over the last six hours of the history.
    for value in &mut values[hours - 6..] {
        *value = Some(0.0);
    }
    let series = Series::from_csv(&csv(&values)).unwrap();
    assert_eq!(series.outages(), 6);
    let made = forecast::forecast(&series, 48, &[80.0, 95.0]).unwrap();
    for (ahead, point) in made.points.iter().enumerate() {
        let expected = truth(hours + ahead);
        let error = (point.forecast - expected).abs() / expected;
        assert!(error < 0.05, "{ahead} h ahead: forecast {:.1}, truth {expected:.1}", point.forecast);
        let ((low80, high80), (low95, high95)) = (point.intervals[0], point.intervals[1]);
        assert!(low95 <= low80 && low80 <= point.forecast && point.forecast <= high80 && high80 <= high95, "{point:?}");
    }
}

#[test]
fn the_backtest_beats_seasonal_naive_with_honest_intervals() {
    let values: Vec<Option<f64>> = noisy(24 * 42).into_iter().map(Some).collect();
    let series = Series::from_csv(&csv(&values)).unwrap();
    let result = forecast::backtest(&series, 24, 7).unwrap();
    assert_eq!(result.origins.len(), 7);
    assert_eq!(result.origins[0].to_rfc3339(), "2026-02-09T00:00:00+01:00");
    let (model, naive) = (&result.scores[0], &result.scores[1]);
    assert_eq!((model.method, naive.method), ("opsflux", "seasonal_naive"));
    assert_eq!(model.points, 7 * 24);
    assert!(model.mape < naive.mape, "{model:?} against {naive:?}");
    assert!(model.mape < 2.0, "{model:?}");
    let coverage = model.coverage_95.unwrap();
    assert!((85.0..=100.0).contains(&coverage), "{model:?}");
    assert!(model.coverage_80.unwrap() <= coverage);
}

#[test]
fn horizons_are_steps_or_durations() {
    let quarter = 15 * 60 * 1_000;
    assert_eq!(forecast::parse_horizon("96", quarter).unwrap(), 96);
    assert_eq!(forecast::parse_horizon("7d", quarter).unwrap(), 672);
    assert_eq!(forecast::parse_horizon("90min", quarter).unwrap(), 6);
    assert_eq!(forecast::parse_horizon("2w", quarter).unwrap(), 1_344);
    expect!["horizon: `10min` is not a whole number of 15 min steps"]
        .assert_eq(&forecast::parse_horizon("10min", quarter).unwrap_err().to_string());
    expect!["horizon: `soon` is neither a number of steps (96) nor a duration (90min, 12h, 7d, 2w)"]
        .assert_eq(&forecast::parse_horizon("soon", quarter).unwrap_err().to_string());
    let series = Series::from_csv(&csv(&noisy(24 * 14).into_iter().map(Some).collect::<Vec<_>>())).unwrap();
    expect!["horizon: 2300 steps of 1 h: it must be from 1 step to 92 days (2208 steps)"]
        .assert_eq(&forecast::forecast(&series, 2_300, &[95.0]).unwrap_err().to_string());
}

#[test]
fn added_load_brings_forward_the_day_capacity_is_exceeded() {
    let hours = 24 * 28;
    let values: Vec<Option<f64>> = noisy(hours).into_iter().map(Some).collect();
    let series = Series::from_csv(&csv(&values)).unwrap();
    // The weekday peak is about 1,400 kW by then (the trend included): 1,600 kW holds.
    let alone = forecast::crossing(&series, 24 * 7, 1_600.0, &[]).unwrap();
    assert_eq!(alone.expected, None);
    assert!(alone.highest.as_ref().unwrap().probability < forecast::POSSIBLE, "{alone:?}");
    // 300 kW more from the third day (Wednesday 4 February) on does not.
    let from = chrono::DateTime::parse_from_rfc3339("2026-02-04T00:00:00+01:00").unwrap();
    let added = forecast::crossing(&series, 24 * 7, 1_600.0, &[(from, 300.0)]).unwrap();
    let expected = added.expected.clone().unwrap();
    assert_eq!(expected.at.date_naive().to_string(), "2026-02-04");
    assert!(expected.demand_kw > 1_600.0);
    assert!(expected.probability > 0.5, "{added:?}");
    let possible = added.possible.clone().unwrap();
    assert!(possible.at <= expected.at && possible.at >= from, "{added:?}");
    assert!(added.peak_demand_kw > 1_650.0 && added.peak_demand_kw < 1_750.0, "{added:?}");
    // A set out from the fifth day (Friday 6 February) takes the capacity to 1,200 kW:
    // the demand alone exceeds it from then, at the capacity of that step.
    let out = chrono::DateTime::parse_from_rfc3339("2026-02-06T00:00:00+01:00").unwrap();
    let (_, reduced) = forecast::forecast_against(&series, 24 * 7, &[95.0], 1_600.0, &[(out, 1_200.0)], &[]).unwrap();
    let expected = reduced.expected.clone().unwrap();
    assert!(expected.at >= out && expected.at.date_naive().to_string() == "2026-02-06", "{reduced:?}");
    assert_eq!(expected.capacity_kw, 1_200.0);
    assert!(expected.demand_kw > 1_200.0 && expected.demand_kw < 1_600.0, "{reduced:?}");
}

#[test]
fn measured_peak_p95_and_average_leave_outages_out() {
    // 21 days of a flat 100 kW with one 180 kW hour, a 150 kW hour each day and a blackout.
    let hours = 24 * 21;
    let mut values: Vec<Option<f64>> = vec![Some(100.0); hours];
    for day in 0..21 {
        values[day * 24 + 12] = Some(150.0);
    }
    values[300] = Some(180.0);
    for value in &mut values[400..404] {
        *value = Some(0.0);
    }
    let series = Series::from_csv(&csv(&values)).unwrap();
    let measured = opsflux_powertrace::Measured::of(&series).unwrap();
    assert_eq!(measured.readings, hours - 4);
    assert_eq!(measured.peak_kw, 180.0);
    assert_eq!(measured.peak_at.to_rfc3339(), "2026-01-17T12:00:00+01:00");
    // 21 of 500 readings are over 100 kW: under 5 %, so the 95th percentile is 100 kW.
    assert_eq!(measured.p95_kw, 100.0);
    let expected_average = (100.0 * (hours - 4 - 21) as f64 + 150.0 * 20.0 + 180.0) / (hours - 4) as f64;
    assert!((measured.average_kw - expected_average).abs() < 1e-9);
    assert_eq!(measured.ratio_to(200.0), Some(0.9));
    assert_eq!(measured.ratio_to(0.0), None);
}

#[test]
fn short_horizons_get_intervals_that_widen_ahead_and_hold_the_forecast() {
    let values: Vec<Option<f64>> = noisy(24 * 28).into_iter().map(Some).collect();
    let series = Series::from_csv(&csv(&values)).unwrap();
    for horizon in [1, 4, 24] {
        let made = forecast::forecast(&series, horizon, &[95.0]).unwrap();
        for point in &made.points {
            let (low, high) = point.intervals[0];
            assert!(low < point.forecast && point.forecast < high, "horizon {horizon}: {point:?}");
        }
    }
    let made = forecast::forecast(&series, 24, &[95.0]).unwrap();
    let width = |ahead: usize| made.points[ahead].intervals[0].1 - made.points[ahead].intervals[0].0;
    assert!(width(0) < width(23), "one hour ahead ({}) is surer than a day ahead ({})", width(0), width(23));
}

#[test]
fn quiet_weekends_and_negative_net_load_are_demand_not_outages() {
    // A site that nearly stops at weekends (5 % of its weekday load), and a solar site
    // whose midday net load is negative: neither is an outage.
    let weekend: Vec<Option<f64>> = noisy(24 * 28)
        .into_iter()
        .enumerate()
        .map(|(hour, value)| Some(if (hour / 24) % 7 >= 5 { value * 0.05 } else { value }))
        .collect();
    assert_eq!(Series::from_csv(&csv(&weekend)).unwrap().outages(), 0);
    let solar: Vec<Option<f64>> = noisy(24 * 28)
        .into_iter()
        .enumerate()
        .map(|(hour, value)| Some(if (10..15).contains(&(hour % 24)) { -0.3 * value } else { value }))
        .collect();
    let series = Series::from_csv(&csv(&solar)).unwrap();
    assert_eq!(series.outages(), 0);
    let made = forecast::forecast(&series, 24, &[95.0]).unwrap();
    assert!(made.points[12].forecast < 0.0, "midday forecast {:?}", made.points[12]);
}

#[test]
fn offsets_are_kept_across_a_daylight_saving_change() {
    // Hourly readings in Paris time across the change of 2026-03-29 (+01:00, then
    // +02:00): the calendar follows local time, and the forecast continues in +02:00.
    let start = chrono::DateTime::parse_from_rfc3339("2026-03-02T00:00:00+01:00").unwrap();
    let summer = chrono::FixedOffset::east_opt(7_200).unwrap();
    let change = chrono::DateTime::parse_from_rfc3339("2026-03-29T01:00:00+00:00").unwrap();
    let mut text = String::from("timestamp,value\n");
    for (hour, value) in noisy(24 * 35).iter().enumerate() {
        let at = start + chrono::Duration::hours(hour as i64);
        let at = if at >= change { at.with_timezone(&summer) } else { at };
        text.push_str(&format!("{},{value:.3}\n", at.to_rfc3339()));
    }
    let series = Series::from_csv(&text).unwrap();
    assert_eq!((series.len(), series.filled()), (24 * 35, 0));
    // Local midnight after the change is slot 0 of its day, not 23:00.
    let midnight = chrono::DateTime::parse_from_rfc3339("2026-03-30T00:00:00+02:00").unwrap();
    let index = ((midnight - series.start).num_hours()) as usize;
    assert_eq!(series.week_slot[index], 0, "Monday 00:00 local");
    let made = forecast::forecast(&series, 24, &[95.0]).unwrap();
    assert_eq!(made.points[0].at.to_rfc3339(), "2026-04-06T01:00:00+02:00");

    // Daily readings at local midnight step 23 h over the change: read on the local clock.
    let mut text = String::from("timestamp,value\n");
    for day in 0..35 {
        let date = chrono::NaiveDate::from_ymd_opt(2026, 3, 2).unwrap() + chrono::Duration::days(day);
        let offset = if date >= chrono::NaiveDate::from_ymd_opt(2026, 3, 29).unwrap() { "+02:00" } else { "+01:00" };
        text.push_str(&format!("{date}T00:00:00{offset},{}\n", 1000 + (day % 7) * 10));
    }
    let series = Series::from_csv(&text).unwrap();
    assert_eq!((series.len(), series.interval_ms), (35, 86_400_000));
    let made = forecast::forecast(&series, 3, &[95.0]).unwrap();
    assert_eq!(made.points[0].at.to_rfc3339(), "2026-04-06T00:00:00+02:00");
}

#[test]
fn absurd_magnitudes_are_refused_by_line() {
    let text = "timestamp,value\n2026-01-05T00:00:00+01:00,12\n2026-01-05T01:00:00+01:00,1e306\n";
    expect![[r#"line 3: value `1e306` is beyond ±1e15: is the unit right (kW, MW)?"#]].assert_eq(&error_of(text));
}

#[test]
fn a_backtest_beyond_the_data_blames_the_horizon_and_an_all_zero_series_is_not_scored() {
    let values: Vec<Option<f64>> = noisy(24 * 15).into_iter().map(Some).collect();
    let series = Series::from_csv(&csv(&values)).unwrap();
    expect![[r#"horizon: 48 steps reach past the data: after the 14 days of history the first forecast needs, the series has 24 steps"#]]
        .assert_eq(&forecast::backtest(&series, 48, 7).unwrap_err().to_string());
    let zeros = vec![Some(0.0); 24 * 21];
    let series = Series::from_csv(&csv(&zeros)).unwrap();
    expect![[r#"origins: every reading after the origins is zero or missing: there is nothing to score"#]]
        .assert_eq(&forecast::backtest(&series, 24, 7).unwrap_err().to_string());
}
