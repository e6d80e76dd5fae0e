//! Clock readings and conversions; times are microseconds since the Unix
//! epoch (UTC), as in every Patron store.

/// Microseconds per day.
pub const DAY_US: i64 = 86_400_000_000;

pub fn now_micros() -> i64 {
    chrono::Utc::now().timestamp_micros()
}

pub fn timestamp(micros: i64) -> prost_types::Timestamp {
    prost_types::Timestamp {
        seconds: micros.div_euclid(1_000_000),
        nanos: (micros.rem_euclid(1_000_000) * 1_000) as i32,
    }
}

pub fn micros_of(timestamp: &prost_types::Timestamp) -> i64 {
    timestamp.seconds.saturating_mul(1_000_000).saturating_add(i64::from(timestamp.nanos) / 1_000)
}

/// A Duration of `days` (fractional days allowed).
pub fn duration_of_days(days: f64) -> prost_types::Duration {
    let seconds = days * 86_400.0;
    prost_types::Duration { seconds: seconds.trunc() as i64, nanos: (seconds.fract() * 1e9).round() as i32 }
}

pub fn days_of(duration: &prost_types::Duration) -> f64 {
    (duration.seconds as f64 + f64::from(duration.nanos) * 1e-9) / 86_400.0
}
