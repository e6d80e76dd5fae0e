//! Instants in CSV files. Every time without an offset is taken as UTC, the
//! zone Patron stores and reports in.

use chrono::{DateTime, NaiveDate, NaiveDateTime, Utc};
use prost_types::Timestamp;

/// Parses the forms the default header accepts: RFC 3339 with an offset
/// ("2026-03-14T15:04:05Z", "…+02:00"), a date and time without one
/// ("2026-03-14 15:04:05", "2026-03-14T15:04"), or a bare date
/// ("2026-03-14", midnight UTC).
pub fn parse_instant(text: &str) -> Result<Timestamp, String> {
    if let Ok(at) = DateTime::parse_from_rfc3339(text) {
        return Ok(timestamp(at.with_timezone(&Utc)));
    }
    const NAIVE_FORMATS: [&str; 4] =
        ["%Y-%m-%dT%H:%M:%S%.f", "%Y-%m-%d %H:%M:%S%.f", "%Y-%m-%dT%H:%M", "%Y-%m-%d %H:%M"];
    if let Some(at) = NAIVE_FORMATS.iter().find_map(|format| NaiveDateTime::parse_from_str(text, format).ok()) {
        return Ok(timestamp(at.and_utc()));
    }
    match NaiveDate::parse_from_str(text, "%Y-%m-%d") {
        Ok(date) => Ok(timestamp(date.and_time(chrono::NaiveTime::MIN).and_utc())),
        Err(_) => Err(format!("{text:?} is not a date (YYYY-MM-DD) or an RFC 3339 time")),
    }
}

/// Parses a date or date-time in one source-specific `format` (chrono
/// syntax), falling back to the default forms of [`parse_instant`].
pub fn parse_instant_as(text: &str, format: &str) -> Result<Timestamp, String> {
    if let Ok(at) = NaiveDateTime::parse_from_str(text, format) {
        return Ok(timestamp(at.and_utc()));
    }
    if let Ok(date) = NaiveDate::parse_from_str(text, format) {
        return Ok(timestamp(date.and_time(chrono::NaiveTime::MIN).and_utc()));
    }
    parse_instant(text)
}

pub fn timestamp(at: DateTime<Utc>) -> Timestamp {
    // Sub-second nanos of a chrono time are always in [0, 1e9) here.
    Timestamp { seconds: at.timestamp(), nanos: i32::try_from(at.timestamp_subsec_nanos()).unwrap_or(0) }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn seconds(text: &str) -> i64 {
        parse_instant(text).map(|at| at.seconds).unwrap_or_else(|error| panic!("{error}"))
    }

    #[test]
    fn reads_rfc3339_naive_times_and_dates_as_utc() {
        // 2026-03-14T00:00:00Z
        let midnight = 1_773_446_400;
        assert_eq!(seconds("2026-03-14"), midnight);
        assert_eq!(seconds("2026-03-14T00:00:00Z"), midnight);
        assert_eq!(seconds("2026-03-14T02:00:00+02:00"), midnight);
        assert_eq!(seconds("2026-03-14 15:04:05"), midnight + 15 * 3600 + 4 * 60 + 5);
        assert_eq!(seconds("2026-03-14T15:04"), midnight + 15 * 3600 + 4 * 60);
        assert_eq!(parse_instant("2026-03-14T15:04:05.250Z").map(|at| at.nanos), Ok(250_000_000));
    }

    #[test]
    fn refuses_what_is_not_a_time() {
        for bad in ["", "yesterday", "2026-02-30", "14/03/2026", "2026-13-01", "20260314"] {
            assert!(parse_instant(bad).is_err(), "{bad:?} was accepted");
        }
    }

    #[test]
    fn reads_source_specific_formats() {
        let at = parse_instant_as("12/1/2010 8:26", "%m/%d/%Y %H:%M").map(|at| at.seconds);
        assert_eq!(at, Ok(1_291_191_960));
        assert_eq!(parse_instant_as("19970101", "%Y%m%d").map(|at| at.seconds), Ok(852_076_800));
        assert!(parse_instant_as("19971301", "%Y%m%d").is_err());
    }
}
