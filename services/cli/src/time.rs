//! Instants on the command line and in output: dates or RFC 3339 in,
//! RFC 3339 (UTC, whole seconds) out.

use chrono::{DateTime, SecondsFormat, Utc};
use prost_types::Timestamp;

/// A date (midnight UTC), a date and time (UTC) or an RFC 3339 instant, as
/// `patron import` reads them; `what` names the flag in the error, a usage
/// error.
pub fn parse_instant(what: &str, value: &str) -> anyhow::Result<Timestamp> {
    crate::import::dates::parse_instant(value)
        .map_err(|reason| crate::failure::Failure::usage(format!("{what}: {reason}")))
}

pub fn to_time(timestamp: &Timestamp) -> Option<DateTime<Utc>> {
    DateTime::from_timestamp(timestamp.seconds, u32::try_from(timestamp.nanos).unwrap_or(0))
}

/// RFC 3339 text of an optional timestamp; empty when unset.
pub fn text(timestamp: Option<&Timestamp>) -> String {
    timestamp.and_then(to_time).map(|time| time.to_rfc3339_opts(SecondsFormat::Secs, true)).unwrap_or_default()
}

/// The date part only, for tables.
pub fn date_text(timestamp: Option<&Timestamp>) -> String {
    timestamp.and_then(to_time).map(|time| time.format("%Y-%m-%d").to_string()).unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dates_and_instants_round_trip() {
        let time = parse_instant("--as-of", "2026-01-31").expect("date");
        assert_eq!(text(Some(&time)), "2026-01-31T00:00:00Z");
        let time = parse_instant("--as-of", "2026-01-31T12:30:00+02:00").expect("rfc 3339");
        assert_eq!(text(Some(&time)), "2026-01-31T10:30:00Z");
        assert_eq!(date_text(Some(&time)), "2026-01-31");
        let error = parse_instant("--as-of", "31/01/2026").expect_err("neither");
        assert!(error.to_string().contains("--as-of"), "{error}");
        assert_eq!(text(None), "");
    }
}
