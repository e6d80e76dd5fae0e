//! Identifiers and clock readings shared by the registry's tables.

use std::hash::{BuildHasher, Hasher};
use std::sync::atomic::{AtomicU64, Ordering};

use chrono::{DateTime, Utc};

use crate::ServiceError;

/// Microseconds since the Unix epoch, now.
pub fn now_micros() -> i64 {
    Utc::now().timestamp_micros()
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

/// A new id such as `seg-20261124-063412-7f3a9c01`: sortable by creation
/// time to the second and unique across replicas, so replicas need no shared
/// counter. The suffix is a per-process random start plus a counter: ids of
/// one process never repeat (a random suffix per id, 24 bits, collided for
/// about 3% of 1,000 ids made in one second), and two processes collide only
/// if their 32-bit sequences meet within the same second.
pub fn new_id(prefix: &str) -> String {
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    static START: std::sync::OnceLock<u64> = std::sync::OnceLock::new();
    // RandomState is seeded from the OS per process.
    let start = *START.get_or_init(|| {
        let mut hasher = std::collections::hash_map::RandomState::new().build_hasher();
        hasher.write_u128(std::time::SystemTime::UNIX_EPOCH.elapsed().map(|since| since.as_nanos()).unwrap_or(0));
        hasher.finish()
    });
    let now: DateTime<Utc> = Utc::now();
    let suffix = start.wrapping_add(COUNTER.fetch_add(1, Ordering::Relaxed)) & 0xffff_ffff;
    format!("{prefix}-{}-{suffix:08x}", now.format("%Y%m%d-%H%M%S"))
}

/// Checks an id a caller asks the registry to look up. Stored ids are never
/// empty and hold no control character, and PostgreSQL refuses NUL in a query
/// parameter outright, so such an id is named as the caller's mistake instead
/// of failing inside the store.
pub fn check_lookup_id(field: &str, id: &str) -> Result<(), ServiceError> {
    if id.is_empty() {
        return Err(ServiceError::invalid(field, "is required"));
    }
    if id.chars().any(char::is_control) {
        return Err(ServiceError::invalid(field, "must not contain control characters"));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn timestamps_round_trip_including_before_the_epoch() {
        for micros in [0, 1, 1_764_000_000_123_456, -1, -1_500_000] {
            assert_eq!(micros_of(&timestamp(micros)), micros);
        }
    }

    #[test]
    fn ids_are_distinct_and_prefixed() {
        let ids: std::collections::HashSet<String> = (0..100_000).map(|_| new_id("seg")).collect();
        assert_eq!(ids.len(), 100_000);
        assert!(ids.iter().all(|id| id.starts_with("seg-") && id.len() == "seg-20261124-063412-7f3a9c01".len()));
    }
}
