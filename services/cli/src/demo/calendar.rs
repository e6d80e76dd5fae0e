//! When people shop: weekly and yearly rhythms and the retailer's promotion
//! days, as multipliers of each customer's purchase rate.

use chrono::{Datelike, NaiveDate, Weekday};

/// Monday..Sunday: Friday and the weekend are busiest.
const WEEKDAY_FACTOR: [f64; 7] = [0.85, 0.85, 0.9, 0.95, 1.1, 1.35, 1.0];
/// January..December: the holiday season peaks, January slumps.
const MONTH_FACTOR: [f64; 12] = [0.75, 0.8, 0.95, 1.0, 1.0, 1.05, 1.05, 1.0, 0.95, 1.0, 1.2, 1.7];
/// How much likelier a purchase is on a promotion day.
const PROMOTION_FACTOR: f64 = 2.2;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Promotion {
    pub name: &'static str,
    /// Taken off every order line.
    pub discount_percent: i64,
}

const SPRING_SALE: Promotion = Promotion { name: "spring_sale", discount_percent: 15 };
const SUMMER_SALE: Promotion = Promotion { name: "summer_sale", discount_percent: 20 };
const BLACK_FRIDAY: Promotion = Promotion { name: "black_friday", discount_percent: 25 };
const BOXING_DAY: Promotion = Promotion { name: "boxing_day", discount_percent: 20 };

/// The yearly promotions: spring sale (March 15-17), summer sale (July
/// 10-12), Black Friday through Cyber Monday, and Boxing Day (December 26).
pub fn promotion(date: NaiveDate) -> Option<Promotion> {
    let (month, day) = (date.month(), date.day());
    match month {
        3 if (15..=17).contains(&day) => Some(SPRING_SALE),
        7 if (10..=12).contains(&day) => Some(SUMMER_SALE),
        12 if day == 26 => Some(BOXING_DAY),
        11 | 12 => {
            let black_friday = black_friday(date.year())?;
            let cyber_monday = black_friday + chrono::Days::new(3);
            (black_friday..=cyber_monday).contains(&date).then_some(BLACK_FRIDAY)
        }
        _ => None,
    }
}

/// The day after the fourth Thursday of November.
fn black_friday(year: i32) -> Option<NaiveDate> {
    NaiveDate::from_weekday_of_month_opt(year, 11, Weekday::Thu, 4)?.succ_opt()
}

/// The purchase-rate multiplier of a day.
pub fn seasonality(date: NaiveDate) -> f64 {
    let weekday = WEEKDAY_FACTOR[date.weekday().num_days_from_monday() as usize];
    let month = MONTH_FACTOR[date.month0() as usize];
    let promotion = if promotion(date).is_some() { PROMOTION_FACTOR } else { 1.0 };
    weekday * month * promotion
}

#[cfg(test)]
mod tests {
    use super::*;

    fn date(text: &str) -> NaiveDate {
        NaiveDate::parse_from_str(text, "%Y-%m-%d").unwrap_or_else(|error| panic!("{text}: {error}"))
    }

    #[test]
    fn knows_the_promotion_days() {
        assert_eq!(promotion(date("2026-11-27")), Some(BLACK_FRIDAY));
        assert_eq!(promotion(date("2026-11-30")), Some(BLACK_FRIDAY), "Cyber Monday");
        assert_eq!(promotion(date("2026-12-01")), None);
        assert_eq!(promotion(date("2025-11-28")), Some(BLACK_FRIDAY));
        assert_eq!(promotion(date("2025-11-27")), None, "Thanksgiving itself");
        assert_eq!(promotion(date("2026-12-26")), Some(BOXING_DAY));
        assert_eq!(promotion(date("2026-07-12")), Some(SUMMER_SALE));
        assert_eq!(promotion(date("2026-03-18")), None);
    }

    #[test]
    fn december_weekends_beat_january_weekdays() {
        assert!(seasonality(date("2026-12-19")) > 2.0 * seasonality(date("2026-01-13")));
    }
}
