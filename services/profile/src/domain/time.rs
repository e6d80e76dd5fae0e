//! Instants as integer microseconds since the Unix epoch (UTC), the unit the
//! store keeps, with the conversions the edges need.

/// Microseconds since 1970-01-01T00:00:00Z.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub struct Micros(pub i64);

pub const MICROS_PER_SECOND: i64 = 1_000_000;
pub const MICROS_PER_DAY: i64 = 86_400 * MICROS_PER_SECOND;

impl Micros {
    pub fn now() -> Self {
        Self(chrono::Utc::now().timestamp_micros())
    }

    pub fn from_seconds_nanos(seconds: i64, nanos: i32) -> Option<Self> {
        seconds.checked_mul(MICROS_PER_SECOND)?.checked_add(i64::from(nanos) / 1_000).map(Self)
    }

    pub fn seconds(self) -> i64 {
        self.0.div_euclid(MICROS_PER_SECOND)
    }

    pub fn subsec_nanos(self) -> i32 {
        // In [0, 1e9), so it fits.
        (self.0.rem_euclid(MICROS_PER_SECOND) * 1_000) as i32
    }

    /// The UTC calendar day, as days since the epoch.
    pub fn day(self) -> i64 {
        self.0.div_euclid(MICROS_PER_DAY)
    }
}
