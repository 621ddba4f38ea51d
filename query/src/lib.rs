//! Queries over the warehouse: the metric catalog, occupancy statistics, PowerTrace
//! forecasting and search. Today it holds the time grains every metric is cut by.

use std::fmt;
use std::str::FromStr;

use chrono::{Datelike, Days, NaiveDate};

/// Why a query parameter was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ParameterError {
    #[error("unknown grain `{0}`: expected one of day, week, month, quarter, year")]
    UnknownGrain(String),
}

/// The time bucket a metric is aggregated by.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Grain {
    Day,
    /// ISO weeks, starting on Monday.
    Week,
    Month,
    Quarter,
    Year,
}

impl Grain {
    /// The first day of the bucket holding `date`.
    pub fn bucket_start(self, date: NaiveDate) -> NaiveDate {
        let first_of = |month: u32| NaiveDate::from_ymd_opt(date.year(), month, 1).unwrap_or(date);
        match self {
            Grain::Day => date,
            Grain::Week => {
                date.checked_sub_days(Days::new(u64::from(date.weekday().num_days_from_monday()))).unwrap_or(date)
            }
            Grain::Month => first_of(date.month()),
            Grain::Quarter => first_of((date.month0() / 3) * 3 + 1),
            Grain::Year => first_of(1),
        }
    }
}

impl fmt::Display for Grain {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        formatter.write_str(match self {
            Grain::Day => "day",
            Grain::Week => "week",
            Grain::Month => "month",
            Grain::Quarter => "quarter",
            Grain::Year => "year",
        })
    }
}

impl FromStr for Grain {
    type Err = ParameterError;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        match text {
            "day" => Ok(Grain::Day),
            "week" => Ok(Grain::Week),
            "month" => Ok(Grain::Month),
            "quarter" => Ok(Grain::Quarter),
            "year" => Ok(Grain::Year),
            other => Err(ParameterError::UnknownGrain(other.to_owned())),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn buckets_start_where_calendars_say() {
        let date = NaiveDate::from_ymd_opt(2026, 11, 21).unwrap(); // a Saturday
        let starts: Vec<String> = [Grain::Day, Grain::Week, Grain::Month, Grain::Quarter, Grain::Year]
            .iter()
            .map(|grain| format!("{grain}={}", grain.bucket_start(date)))
            .collect();
        assert_eq!(
            starts.join(" "),
            "day=2026-11-21 week=2026-11-16 month=2026-11-01 quarter=2026-10-01 year=2026-01-01"
        );
    }

    #[test]
    fn unknown_grains_are_named() {
        assert_eq!("hour".parse::<Grain>(), Err(ParameterError::UnknownGrain("hour".into())));
        assert_eq!("week".parse::<Grain>(), Ok(Grain::Week));
    }
}
