//! UTC calendar periods: days from 00:00, ISO weeks from Monday 00:00, months
//! from the 1st at 00:00. Times are microseconds since the Unix epoch.

use chrono::{DateTime, Datelike, Months, NaiveDate, TimeDelta, Utc};

#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub enum Granularity {
    Day,
    Week,
    Month,
}

const MICROS_PER_DAY: i64 = 86_400_000_000;

impl Granularity {
    /// The longest horizon accepted: two years.
    pub fn max_horizon(self) -> usize {
        match self {
            Granularity::Day => 730,
            Granularity::Week => 104,
            Granularity::Month => 24,
        }
    }

    /// The default backtest horizon when there is no forecast horizon.
    pub fn default_backtest_horizon(self) -> usize {
        match self {
            Granularity::Day => 28,
            Granularity::Week => 13,
            Granularity::Month => 6,
        }
    }

    /// Calendar seasons offered to seasonality detection.
    pub fn calendar_periods(self) -> Vec<usize> {
        match self {
            Granularity::Day => vec![7, 365],
            Granularity::Week => vec![52],
            Granularity::Month => vec![12],
        }
    }

    /// How far back a named series is read: ten years of weeks and months,
    /// three of days (enough for two yearly cycles plus the backtest).
    pub fn lookback_periods(self) -> i64 {
        match self {
            Granularity::Day => 3 * 366,
            Granularity::Week => 520,
            Granularity::Month => 120,
        }
    }

    /// The start of the period containing `micros`.
    pub fn floor(self, micros: i64) -> i64 {
        let date = date_of(micros);
        let start = match self {
            Granularity::Day => date,
            Granularity::Week => date - TimeDelta::days(i64::from(date.weekday().num_days_from_monday())),
            Granularity::Month => date.with_day(1).unwrap_or(date),
        };
        micros_of_date(start)
    }

    pub fn is_boundary(self, micros: i64) -> bool {
        self.floor(micros) == micros
    }

    /// The start of the period `count` periods after the one starting at `start`.
    pub fn add(self, start: i64, count: i64) -> i64 {
        match self {
            Granularity::Day => start + count * MICROS_PER_DAY,
            Granularity::Week => start + count * 7 * MICROS_PER_DAY,
            Granularity::Month => {
                let date = date_of(start);
                let moved = if count >= 0 {
                    date.checked_add_months(Months::new(count as u32))
                } else {
                    date.checked_sub_months(Months::new(count.unsigned_abs() as u32))
                };
                micros_of_date(moved.unwrap_or(date))
            }
        }
    }
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

pub fn now_micros() -> i64 {
    Utc::now().timestamp_micros()
}

fn date_of(micros: i64) -> NaiveDate {
    DateTime::<Utc>::from_timestamp_micros(micros).map(|t| t.date_naive()).unwrap_or_default()
}

fn micros_of_date(date: NaiveDate) -> i64 {
    date.and_hms_opt(0, 0, 0).map(|t| t.and_utc().timestamp_micros()).unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(y: i32, m: u32, d: u32) -> i64 {
        micros_of_date(NaiveDate::from_ymd_opt(y, m, d).unwrap_or_default())
    }

    #[test]
    fn periods_start_where_the_calendar_says() {
        // 2026-11-24 is a Tuesday.
        let tuesday_noon = at(2026, 11, 24) + MICROS_PER_DAY / 2;
        assert_eq!(Granularity::Day.floor(tuesday_noon), at(2026, 11, 24));
        assert_eq!(Granularity::Week.floor(tuesday_noon), at(2026, 11, 23));
        assert_eq!(Granularity::Month.floor(tuesday_noon), at(2026, 11, 1));
        assert_eq!(Granularity::Month.add(at(2026, 11, 1), 3), at(2027, 2, 1));
        assert_eq!(Granularity::Month.add(at(2026, 11, 1), -11), at(2025, 12, 1));
        assert!(!Granularity::Week.is_boundary(at(2026, 11, 24)));
    }
}
