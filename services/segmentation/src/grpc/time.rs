//! Timestamps as integer microseconds since the Unix epoch, as every Patron store keeps them.

use prost_types::Timestamp;

pub fn now_micros() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |elapsed| i64::try_from(elapsed.as_micros()).unwrap_or(i64::MAX))
}

pub fn timestamp(micros: i64) -> Timestamp {
    Timestamp { seconds: micros.div_euclid(1_000_000), nanos: (micros.rem_euclid(1_000_000) * 1_000) as i32 }
}

pub fn micros_of(timestamp: &Timestamp) -> i64 {
    timestamp.seconds.saturating_mul(1_000_000).saturating_add(i64::from(timestamp.nanos) / 1_000)
}

/// The UTC calendar date of a timestamp, e.g. "2026-01-01", for messages.
pub fn date_label(micros: i64) -> String {
    // Civil-from-days (Howard Hinnant's algorithm), to avoid a date dependency for one label.
    let days = micros.div_euclid(86_400_000_000);
    let shifted = days + 719_468;
    let era = shifted.div_euclid(146_097);
    let day_of_era = shifted - era * 146_097;
    let year_of_era = (day_of_era - day_of_era / 1_460 + day_of_era / 36_524 - day_of_era / 146_096) / 365;
    let day_of_year = day_of_era - (365 * year_of_era + year_of_era / 4 - year_of_era / 100);
    let month_index = (5 * day_of_year + 2) / 153;
    let day = day_of_year - (153 * month_index + 2) / 5 + 1;
    let month = if month_index < 10 { month_index + 3 } else { month_index - 9 };
    let year = year_of_era + era * 400 + i64::from(month <= 2);
    format!("{year:04}-{month:02}-{day:02}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dates_and_round_trips() {
        assert_eq!(date_label(0), "1970-01-01");
        assert_eq!(date_label(1_767_225_600_000_000), "2026-01-01");
        assert_eq!(date_label(951_782_400_000_000), "2000-02-29");
        assert_eq!(micros_of(&timestamp(-1_500_001)), -1_500_001);
    }
}
