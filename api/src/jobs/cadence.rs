//! When a schedule fires: a cron expression (five fields, or six with seconds first)
//! read in a time zone. Daylight-saving changes follow croner's rules, which are the
//! Vixie-cron ones: a fixed time that falls in the spring gap (02:30 Europe/Paris on
//! the last Sunday of March) fires at the first instant after the gap (03:00 summer
//! time) that day; a fixed time that occurs twice in the autumn overlap fires once,
//! at its first occurrence (02:30 summer time); expressions with `*` or steps in
//! their time fields skip the times in a gap and fire in both passes of an overlap.

use chrono::{DateTime, Utc};
use chrono_tz::Tz;
use croner::Cron;

/// A parsed cron expression and time zone.
#[derive(Debug, Clone)]
pub struct Cadence {
    cron: Cron,
    timezone: Tz,
    expression: String,
}

/// A cron expression or time zone that cannot be used, with what is wrong.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CadenceError {
    #[error(
        "`{expression}` is not a cron expression ({reason}): write five fields `minute hour day-of-month month day-of-week` (e.g. `0 7 * * 1` for Mondays at 07:00), or six with seconds first"
    )]
    Cron { expression: String, reason: String },
    #[error("unknown time zone `{0}`: write an IANA name such as Europe/Paris, Africa/Lagos or UTC")]
    TimeZone(String),
    #[error("`{0}` never fires")]
    Never(String),
}

impl CadenceError {
    /// The field of a schedule the error is about.
    pub fn field(&self) -> &'static str {
        match self {
            CadenceError::Cron { .. } | CadenceError::Never(_) => "cron",
            CadenceError::TimeZone(_) => "timezone",
        }
    }
}

impl Cadence {
    pub fn new(expression: &str, timezone: &str) -> Result<Self, CadenceError> {
        let timezone: Tz = timezone.trim().parse().map_err(|_| CadenceError::TimeZone(timezone.to_owned()))?;
        let expression = expression.trim().to_owned();
        let cron: Cron = expression.parse().map_err(|error: croner::errors::CronError| CadenceError::Cron {
            expression: expression.clone(),
            reason: error.to_string(),
        })?;
        let cadence = Self { cron, timezone, expression };
        // Some expressions parse but name no real time (`0 0 31 2 *`).
        if cadence.next_after(Utc::now()).is_none() {
            return Err(CadenceError::Never(cadence.expression));
        }
        Ok(cadence)
    }

    pub fn expression(&self) -> &str {
        &self.expression
    }

    pub fn timezone(&self) -> Tz {
        self.timezone
    }

    /// The first firing strictly after `instant`.
    pub fn next_after(&self, instant: DateTime<Utc>) -> Option<DateTime<Utc>> {
        let local = instant.with_timezone(&self.timezone);
        self.cron.find_next_occurrence(&local, false).ok().map(|next| next.with_timezone(&Utc))
    }

    /// The last firing at or before `instant`.
    pub fn last_at_or_before(&self, instant: DateTime<Utc>) -> Option<DateTime<Utc>> {
        let local = instant.with_timezone(&self.timezone);
        self.cron.find_previous_occurrence(&local, true).ok().map(|previous| previous.with_timezone(&Utc))
    }

    /// The firings in `(after, until]`, at most `limit` of them.
    pub fn between(&self, after: DateTime<Utc>, until: DateTime<Utc>, limit: usize) -> Vec<DateTime<Utc>> {
        let mut firings = Vec::new();
        let mut cursor = after;
        while firings.len() < limit {
            match self.next_after(cursor) {
                Some(next) if next <= until => {
                    firings.push(next);
                    cursor = next;
                }
                _ => break,
            }
        }
        firings
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn utc(text: &str) -> DateTime<Utc> {
        text.parse().expect("an RFC 3339 instant")
    }

    fn firings(expression: &str, from: &str, to: &str) -> Vec<String> {
        let cadence = Cadence::new(expression, "Europe/Paris").expect("a valid cadence");
        cadence
            .between(utc(from), utc(to), 100)
            .iter()
            .map(|instant| instant.with_timezone(&cadence.timezone()).to_rfc3339())
            .collect()
    }

    #[test]
    fn a_daily_0230_in_paris_across_the_2027_spring_gap_fires_once_at_0300_summer_time() {
        // Clocks go from 02:00 to 03:00 on Sunday 28 March 2027.
        let expected = ["2027-03-27T02:30:00+01:00", "2027-03-28T03:00:00+02:00", "2027-03-29T02:30:00+02:00"];
        assert_eq!(firings("30 2 * * *", "2027-03-26T12:00:00Z", "2027-03-29T12:00:00Z"), expected);
    }

    #[test]
    fn a_daily_0230_in_paris_across_the_2027_autumn_overlap_fires_once_at_the_first_0230() {
        // Clocks go from 03:00 back to 02:00 on Sunday 31 October 2027: 02:30 happens twice.
        let expected = ["2027-10-30T02:30:00+02:00", "2027-10-31T02:30:00+02:00", "2027-11-01T02:30:00+01:00"];
        assert_eq!(firings("30 2 * * *", "2027-10-29T12:00:00Z", "2027-11-01T12:00:00Z"), expected);
    }

    #[test]
    fn an_every_thirty_minutes_schedule_skips_the_gap_and_runs_both_passes_of_the_overlap() {
        let spring = firings("*/30 * * * *", "2027-03-28T00:15:00Z", "2027-03-28T01:45:00Z");
        // 01:30 then straight to 03:00 summer time (01:00 UTC): 02:00 and 02:30 do not exist.
        assert_eq!(spring, ["2027-03-28T01:30:00+01:00", "2027-03-28T03:00:00+02:00", "2027-03-28T03:30:00+02:00"]);
        let autumn = firings("*/30 * * * *", "2027-10-30T23:45:00Z", "2027-10-31T01:45:00Z");
        assert_eq!(
            autumn,
            [
                "2027-10-31T02:00:00+02:00",
                "2027-10-31T02:30:00+02:00",
                "2027-10-31T02:00:00+01:00",
                "2027-10-31T02:30:00+01:00"
            ]
        );
    }

    #[test]
    fn monday_0700_is_read_in_the_schedule_time_zone() {
        let lagos = Cadence::new("0 7 * * 1", "Africa/Lagos").expect("valid");
        assert_eq!(lagos.next_after(utc("2026-11-30T00:00:00Z")), Some(utc("2026-11-30T06:00:00Z")));
        assert_eq!(lagos.last_at_or_before(utc("2026-12-02T00:00:00Z")), Some(utc("2026-11-30T06:00:00Z")));
    }

    #[test]
    fn bad_expressions_and_zones_are_refused_with_the_field_named() {
        let cron = Cadence::new("0 7 * *", "Europe/Paris").expect_err("four fields");
        assert_eq!(cron.field(), "cron");
        assert!(cron.to_string().starts_with("`0 7 * *` is not a cron expression"), "{cron}");
        let zone = Cadence::new("0 7 * * 1", "Europe/Pariss").expect_err("unknown zone");
        assert_eq!(zone, CadenceError::TimeZone("Europe/Pariss".into()));
        assert_eq!(zone.field(), "timezone");
        assert_eq!(Cadence::new("0 0 31 2 *", "UTC").expect_err("never").field(), "cron");
    }
}
