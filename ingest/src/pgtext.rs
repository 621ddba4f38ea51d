//! PostgreSQL's text forms of dates, timestamps, bytea and arrays, read exactly over
//! PostgreSQL's whole range (with `DateStyle = ISO`, `TimeZone = UTC`, as the sessions
//! set them).
//!
//! Dates and timestamps are computed with the proleptic Gregorian calendar as PostgreSQL
//! does. What the warehouse can store is narrower than PostgreSQL's range: the Delta
//! writer turns every value into a calendar date for its file statistics, and that
//! calendar (`chrono`) stops at the years 262,144 BC and AD 262,142, while PostgreSQL's
//! dates go to 5,874,897. `-infinity` and `infinity` are stored as the first and last
//! moments of that range, so they sort and compare as in PostgreSQL; a real value must lie
//! strictly between them, and one beyond is refused naming the range.

/// Microseconds in a day.
const MICROS_PER_DAY: i64 = 86_400_000_000;
/// Days since 1970-01-01 of `-infinity` (262144 BC, January 1st) and `infinity` (AD
/// 262142, December 31st).
pub const DATE_NEG_INFINITY: i32 = days_from_civil(-262_143, 1, 1) as i32;
pub const DATE_INFINITY: i32 = days_from_civil(262_142, 12, 31) as i32;
/// Microseconds since the Unix epoch of `-infinity` and `infinity`: the first and last
/// microseconds of those days.
pub const TIMESTAMP_NEG_INFINITY: i64 = DATE_NEG_INFINITY as i64 * MICROS_PER_DAY;
pub const TIMESTAMP_INFINITY: i64 = (DATE_INFINITY as i64 + 1) * MICROS_PER_DAY - 1;

/// Why a value beyond the stored range is refused.
const OUT_OF_RANGE: &str = "outside the years the warehouse can store, 262144 BC to AD 262142";

/// Why a text form was refused: what was expected, and why when it is not obvious.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Refusal {
    pub expected: &'static str,
    pub reason: Option<String>,
}

impl Refusal {
    pub fn new(expected: &'static str) -> Self {
        Self { expected, reason: None }
    }

    fn because(expected: &'static str, reason: impl Into<String>) -> Self {
        Self { expected, reason: Some(reason.into()) }
    }
}

/// `YYYY-MM-DD` with an optional ` BC`, or `±infinity` → days since 1970-01-01.
pub fn parse_date(text: &str) -> Result<i32, Refusal> {
    match text {
        "infinity" => return Ok(DATE_INFINITY),
        "-infinity" => return Ok(DATE_NEG_INFINITY),
        _ => {}
    }
    let (body, before_christ) = split_era(text);
    let days = civil_days(body, before_christ).ok_or_else(|| Refusal::new("date"))?;
    if days <= i64::from(DATE_NEG_INFINITY) || days >= i64::from(DATE_INFINITY) {
        return Err(Refusal::because("date", OUT_OF_RANGE));
    }
    i32::try_from(days).map_err(|_| Refusal::because("date", OUT_OF_RANGE))
}

/// `YYYY-MM-DD HH:MM:SS[.ffffff][±HH[:MM[:SS]]][ BC]` or `±infinity` → microseconds since
/// the Unix epoch (UTC). The offset is required with time zone and refused without.
pub fn parse_timestamp(text: &str, with_zone: bool) -> Result<i64, Refusal> {
    match text {
        "infinity" => return Ok(TIMESTAMP_INFINITY),
        "-infinity" => return Ok(TIMESTAMP_NEG_INFINITY),
        _ => {}
    }
    let bad = || Refusal::new("timestamp");
    let (body, before_christ) = split_era(text);
    let (date, time) = body.split_once(' ').ok_or_else(bad)?;
    let days = civil_days(date, before_christ).ok_or_else(bad)?;
    let (clock, offset_seconds) = if with_zone {
        let sign_at = time.rfind(['+', '-']).ok_or_else(bad)?;
        let (clock, offset) = time.split_at(sign_at);
        (clock, parse_offset(offset).ok_or_else(bad)?)
    } else {
        (time, 0)
    };
    let micros_of_day = parse_clock(clock).ok_or_else(bad)?;
    let micros = i128::from(days) * i128::from(MICROS_PER_DAY) + i128::from(micros_of_day)
        - i128::from(offset_seconds) * 1_000_000;
    if micros <= i128::from(TIMESTAMP_NEG_INFINITY) || micros >= i128::from(TIMESTAMP_INFINITY) {
        return Err(Refusal::because("timestamp", OUT_OF_RANGE));
    }
    i64::try_from(micros).map_err(|_| Refusal::because("timestamp", OUT_OF_RANGE))
}

/// `\x0aff` → bytes.
pub fn decode_bytea(text: &str) -> Option<Vec<u8>> {
    let hex = text.strip_prefix("\\x")?;
    if hex.len() % 2 != 0 {
        return None;
    }
    (0..hex.len()).step_by(2).map(|index| u8::from_str_radix(hex.get(index..index + 2)?, 16).ok()).collect()
}

/// The elements of a one-dimensional array literal (`{a,"b c",NULL}`), unquoted and
/// unescaped; `None` for SQL NULL. Multi-dimensional arrays and arrays whose index does
/// not start at 1 are refused: a list cannot hold their shape.
pub fn parse_array(text: &str) -> Result<Vec<Option<String>>, Refusal> {
    let bad = |reason: &str| Refusal::because("array", reason.to_owned());
    if text.starts_with('[') {
        return Err(bad("arrays whose index does not start at 1 have no list form"));
    }
    let inner = text.strip_prefix('{').and_then(|rest| rest.strip_suffix('}')).ok_or_else(|| bad("no braces"))?;
    let mut elements = Vec::new();
    if inner.trim().is_empty() {
        return Ok(elements);
    }
    let mut characters = inner.chars().peekable();
    loop {
        while characters.next_if(|c| c.is_ascii_whitespace()).is_some() {}
        let element = match characters.peek() {
            Some('"') => {
                characters.next();
                let mut value = String::new();
                loop {
                    match characters.next() {
                        Some('"') => break,
                        Some('\\') => value.push(characters.next().ok_or_else(|| bad("unterminated escape"))?),
                        Some(c) => value.push(c),
                        None => return Err(bad("unterminated quotes")),
                    }
                }
                while characters.next_if(|c| c.is_ascii_whitespace()).is_some() {}
                Some(value)
            }
            Some('{') => return Err(bad("multi-dimensional arrays have no list form")),
            _ => {
                let mut value = String::new();
                while let Some(c) = characters.next_if(|c| *c != ',') {
                    match c {
                        '\\' => value.push(characters.next().ok_or_else(|| bad("unterminated escape"))?),
                        '"' | '{' | '}' => return Err(bad("unexpected character in an unquoted element")),
                        c => value.push(c),
                    }
                }
                let value = value.trim_end().to_owned();
                if value.is_empty() {
                    return Err(bad("empty element"));
                }
                (!value.eq_ignore_ascii_case("NULL")).then_some(value)
            }
        };
        elements.push(element);
        match characters.next() {
            None => return Ok(elements),
            Some(',') => {}
            Some(_) => return Err(bad("elements must be separated by commas")),
        }
    }
}

/// Splits a trailing ` BC` off.
fn split_era(text: &str) -> (&str, bool) {
    match text.strip_suffix(" BC") {
        Some(body) => (body, true),
        None => (text, false),
    }
}

/// `YYYY-MM-DD` (year 1 or more, in the given era) → days since 1970-01-01.
fn civil_days(text: &str, before_christ: bool) -> Option<i64> {
    let mut parts = text.splitn(3, '-');
    let year: i64 = digits(parts.next()?)?;
    let month: i64 = digits(parts.next()?)?;
    let day: i64 = digits(parts.next()?)?;
    if year < 1 || !(1..=12).contains(&month) || day < 1 || day > days_in_month(year, month, before_christ) {
        return None;
    }
    // 1 BC is the astronomical year 0, 2 BC is -1, …
    let year = if before_christ { 1 - year } else { year };
    Some(days_from_civil(year, month, day))
}

fn days_in_month(year: i64, month: i64, before_christ: bool) -> i64 {
    let astronomical = if before_christ { 1 - year } else { year };
    let leap =
        astronomical.rem_euclid(4) == 0 && (astronomical.rem_euclid(100) != 0 || astronomical.rem_euclid(400) == 0);
    match month {
        2 if leap => 29,
        2 => 28,
        4 | 6 | 9 | 11 => 30,
        _ => 31,
    }
}

/// Days from 1970-01-01 to a proleptic Gregorian date (astronomical year numbering),
/// counting whole 400-year eras of 146,097 days.
const fn days_from_civil(year: i64, month: i64, day: i64) -> i64 {
    let year = if month <= 2 { year - 1 } else { year };
    let era = year.div_euclid(400);
    let year_of_era = year.rem_euclid(400);
    let day_of_year = (153 * (month + if month > 2 { -3 } else { 9 }) + 2) / 5 + day - 1;
    let day_of_era = year_of_era * 365 + year_of_era / 4 - year_of_era / 100 + day_of_year;
    era * 146_097 + day_of_era - 719_468
}

/// `HH:MM:SS[.ffffff]` → microseconds since midnight (`24:00:00` is allowed, as in
/// PostgreSQL).
fn parse_clock(text: &str) -> Option<i64> {
    let (whole, fraction) = match text.split_once('.') {
        Some((whole, fraction)) => (whole, fraction),
        None => (text, ""),
    };
    let mut parts = whole.splitn(3, ':');
    let hours: i64 = digits(parts.next()?)?;
    let minutes: i64 = digits(parts.next()?)?;
    let seconds: i64 = digits(parts.next()?)?;
    if fraction.len() > 6 || !fraction.bytes().all(|byte| byte.is_ascii_digit()) {
        return None;
    }
    let micros: i64 = if fraction.is_empty() { 0 } else { format!("{fraction:0<6}").parse().ok()? };
    let micros_of_day = ((hours * 60 + minutes) * 60 + seconds) * 1_000_000 + micros;
    (minutes < 60 && seconds < 60 && micros_of_day <= MICROS_PER_DAY).then_some(micros_of_day)
}

/// `+HH`, `-HH:MM`, `+HH:MM:SS` → seconds east of UTC.
fn parse_offset(text: &str) -> Option<i64> {
    let (sign, rest) = match text.split_at_checked(1)? {
        ("+", rest) => (1, rest),
        ("-", rest) => (-1, rest),
        _ => return None,
    };
    let mut seconds = 0;
    let mut parts = 0;
    for (part, scale) in rest.split(':').zip([3600, 60, 1]) {
        let value: i64 = digits(part)?;
        if part.len() != 2 || (scale != 3600 && value >= 60) {
            return None;
        }
        seconds += value * scale;
        parts += 1;
    }
    (parts == rest.split(':').count()).then_some(sign * seconds)
}

/// A non-empty run of ASCII digits.
fn digits(text: &str) -> Option<i64> {
    if text.is_empty() || text.len() > 18 || !text.bytes().all(|byte| byte.is_ascii_digit()) {
        return None;
    }
    text.parse().ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dates_cover_postgres_range_with_eras_and_infinities() {
        let cases = [
            ("1970-01-01", Ok(0)),
            ("2026-11-21", Ok(20_778)),
            ("2000-02-29", Ok(11_016)),
            ("0001-01-01", Ok(-719_162)),
            // 1 BC is the leap year before AD 1.
            ("0001-12-31 BC", Ok(-719_163)),
            ("0001-02-29 BC", Ok(-719_469)),
            ("4713-01-01 BC", Ok(-2_440_550)),
            ("10000-01-01", Ok(2_932_897)),
            ("262142-12-30", Ok(DATE_INFINITY - 1)),
            ("262144-01-02 BC", Ok(DATE_NEG_INFINITY + 1)),
            ("infinity", Ok(DATE_INFINITY)),
            ("-infinity", Ok(DATE_NEG_INFINITY)),
        ];
        for (text, expected) in cases {
            assert_eq!(parse_date(text).map_err(|refusal| refusal.expected), expected, "{text}");
        }
        // The infinities are the ends of the calendar the Delta writer uses.
        let epoch = chrono::NaiveDate::from_ymd_opt(1970, 1, 1).unwrap();
        assert_eq!(i64::from(DATE_INFINITY), (chrono::NaiveDate::MAX - epoch).num_days());
        assert_eq!(i64::from(DATE_NEG_INFINITY), (chrono::NaiveDate::MIN - epoch).num_days());
        assert_eq!(
            chrono::DateTime::from_timestamp_micros(TIMESTAMP_INFINITY).unwrap().to_string(),
            "+262142-12-31 23:59:59.999999 UTC"
        );
        assert_eq!(
            chrono::DateTime::from_timestamp_micros(TIMESTAMP_NEG_INFINITY).unwrap().to_string(),
            "-262143-01-01 00:00:00 UTC"
        );
        for beyond in ["262142-12-31", "5874897-12-31", "262144-01-01 BC"] {
            assert_eq!(parse_date(beyond).unwrap_err().reason.as_deref(), Some(OUT_OF_RANGE), "{beyond}");
        }
        for bad in ["2026-02-29", "0000-01-01", "2026-13-01", "2026-1-1x", "today", "", "2026-11-21 AD"] {
            assert!(parse_date(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn timestamps_keep_microseconds_offsets_eras_and_infinities() {
        let cases = [
            ("2026-11-21 06:15:00.25", false, Ok(1_795_241_700_250_000)),
            ("2026-11-21 06:15:00.25+00", true, Ok(1_795_241_700_250_000)),
            ("2026-11-21 08:15:00.25+02", true, Ok(1_795_241_700_250_000)),
            ("2026-11-21 01:00:00-05:15", true, Ok(1_795_241_700_000_000)),
            ("1850-01-01 00:00:00+00:09:21", true, Ok(-3_786_825_600_000_000 - 561_000_000)),
            ("0044-03-15 12:00:00.5 BC", false, Ok(-63_517_780_799_500_000)),
            ("2026-11-21 24:00:00", false, Ok(1_795_305_600_000_000)),
            ("infinity", true, Ok(TIMESTAMP_INFINITY)),
            ("-infinity", false, Ok(TIMESTAMP_NEG_INFINITY)),
        ];
        for (text, with_zone, expected) in cases {
            assert_eq!(parse_timestamp(text, with_zone).map_err(|refusal| refusal.expected), expected, "{text}");
        }
        assert_eq!(parse_timestamp("262142-12-31 23:59:59.999998", false), Ok(TIMESTAMP_INFINITY - 1));
        for beyond in ["262142-12-31 23:59:59.999999", "294276-12-31 23:59:59", "262144-01-01 00:00:00 BC"] {
            assert_eq!(parse_timestamp(beyond, false).unwrap_err().reason.as_deref(), Some(OUT_OF_RANGE), "{beyond}");
        }
        for bad in ["2026-11-21", "2026-11-21 06:15", "2026-11-21 06:61:00", "2026-11-21 06:15:00.1234567"] {
            assert!(parse_timestamp(bad, false).is_err(), "{bad}");
        }
        assert!(parse_timestamp("2026-11-21 06:15:00", true).is_err(), "an offset is required with time zone");
    }

    #[test]
    fn array_literals_unquote_unescape_and_refuse_shapes_lists_cannot_hold() {
        let elements = parse_array(r#"{a,"b c",NULL,"\"q\"","x,y","","NULL","back\\slash",null}"#).unwrap();
        assert_eq!(
            elements,
            [
                Some("a"),
                Some("b c"),
                None,
                Some("\"q\""),
                Some("x,y"),
                Some(""),
                Some("NULL"),
                Some("back\\slash"),
                None
            ]
            .map(|element| element.map(str::to_owned))
        );
        assert_eq!(parse_array("{}").unwrap(), Vec::<Option<String>>::new());
        assert_eq!(parse_array("{ 1 , 2 }").unwrap(), [Some("1".to_owned()), Some("2".to_owned())]);
        let reason = |text: &str| parse_array(text).unwrap_err().reason.unwrap();
        assert_eq!(reason("{{1,2},{3,4}}"), "multi-dimensional arrays have no list form");
        assert_eq!(reason("[0:1]={1,2}"), "arrays whose index does not start at 1 have no list form");
        assert_eq!(reason(r#"{"open}"#), "unterminated quotes");
        assert_eq!(reason("{a,,b}"), "empty element");
        assert_eq!(reason("a,b"), "no braces");
    }
}
