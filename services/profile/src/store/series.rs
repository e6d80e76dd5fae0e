//! Sales time series: revenue, units and orders per period for one level
//! (total, store, channel, category, SKU, region, or a set of customers).
//! The database sums per key and UTC day; days roll up to weeks (ISO, from
//! Monday) or months here, and every period of the window is filled for every
//! key, with zeros where nothing sold.

use std::collections::{BTreeMap, BTreeSet};

use chrono::{Datelike, NaiveDate};
use patron_common::ServiceError;
use sea_orm::{ConnectionTrait, Value};

use super::sql::{self, int, text};
use crate::domain::order::{OrderStatus, SalesChannel};
use crate::domain::time::{MICROS_PER_DAY, Micros};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Level {
    Total,
    Store,
    Channel,
    Category,
    Sku,
    Region,
    Customers,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Granularity {
    Day,
    Week,
    Month,
}

#[derive(Debug, Clone)]
pub struct SeriesQuery {
    pub level: Level,
    pub keys: Vec<String>,
    pub granularity: Granularity,
    pub window: (Micros, Micros),
    pub customer_ids: Vec<String>,
    pub currency_code: String,
}

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Totals {
    pub revenue_minor: i64,
    pub units: i64,
    pub orders: i64,
}

/// Series by key, each a map from period start (UTC day number) to totals.
pub type Series = BTreeMap<String, BTreeMap<i64, Totals>>;

pub fn channel_name(code: i64) -> &'static str {
    match SalesChannel::from_code(code as i32) {
        Some(SalesChannel::Store) => "store",
        Some(SalesChannel::Web) => "web",
        Some(SalesChannel::App) => "app",
        Some(SalesChannel::Marketplace) => "marketplace",
        None => "unknown",
    }
}

pub async fn sales(db: &impl ConnectionTrait, query: &SeriesQuery) -> Result<Series, ServiceError> {
    let day = format!("(o.place_time_us / {MICROS_PER_DAY})");
    let (key, from, amounts) = match query.level {
        Level::Total | Level::Customers => ("''", "orders o", "o.total_minor, o.units"),
        Level::Store => ("o.store_id", "orders o", "o.total_minor, o.units"),
        Level::Channel => ("o.channel", "orders o", "o.total_minor, o.units"),
        Level::Region => ("o.region", "orders o", "o.total_minor, o.units"),
        Level::Category => (
            "l.category",
            "orders o JOIN order_lines l ON l.order_id = o.id",
            "l.quantity * l.unit_price_minor - l.discount_minor, l.quantity",
        ),
        Level::Sku => (
            "l.sku",
            "orders o JOIN order_lines l ON l.order_id = o.id",
            "l.quantity * l.unit_price_minor - l.discount_minor, l.quantity",
        ),
    };
    let (revenue_expression, units_expression) = amounts.split_once(", ").unwrap_or((amounts, "0"));
    let mut conditions = vec!["o.status = ?", "o.currency_code = ?", "o.place_time_us >= ?", "o.place_time_us < ?"]
        .into_iter()
        .map(str::to_owned)
        .collect::<Vec<_>>();
    let mut values: Vec<Value> = vec![
        (OrderStatus::Completed as i16).into(),
        query.currency_code.clone().into(),
        query.window.0.0.into(),
        query.window.1.0.into(),
    ];
    // Keys named in the request are filtered here rather than after the
    // grouping: a one-SKU series over a year would otherwise group and send
    // back every SKU's days. Channels are stored as codes and are few; they
    // are filtered below.
    if !query.keys.is_empty() && matches!(query.level, Level::Store | Level::Region | Level::Category | Level::Sku) {
        conditions.push(format!("{key} IN ({})", sql::text_set(db.get_database_backend())));
        values.push(sql::text_list(&query.keys));
    }
    if query.level == Level::Customers {
        // One bound parameter for the whole set, however many members it has.
        conditions.push(format!(
            "o.customer_id IN (SELECT id FROM customers WHERE external_id IN ({}))",
            sql::text_set(db.get_database_backend())
        ));
        values.push(sql::text_list(&query.customer_ids));
    }
    // PostgreSQL refuses to group by a constant, so a single series groups by day only.
    let group_by = if key == "''" { day.clone() } else { format!("{key}, {day}") };
    let rows = sql::query(
        db,
        &format!(
            "SELECT {key} AS series_key, {day} AS day, CAST(SUM({revenue_expression}) AS BIGINT) AS revenue, \
             CAST(SUM({units_expression}) AS BIGINT) AS units, COUNT(DISTINCT o.id) AS orders \
             FROM {from} WHERE {} GROUP BY {group_by}",
            conditions.join(" AND ")
        ),
        values,
    )
    .await?;
    let wanted: BTreeSet<&str> = query.keys.iter().map(String::as_str).collect();
    let mut series = Series::new();
    for row in &rows {
        let key = match query.level {
            Level::Channel => channel_name(int(row, "series_key")?).to_owned(),
            Level::Total | Level::Customers => String::new(),
            _ => text(row, "series_key")?,
        };
        if !wanted.is_empty() && !wanted.contains(key.as_str()) {
            continue;
        }
        let period = period_start(int(row, "day")?, query.granularity);
        let totals = series.entry(key).or_default().entry(period).or_default();
        totals.revenue_minor += int(row, "revenue")?;
        totals.units += int(row, "units")?;
        totals.orders += int(row, "orders")?;
    }
    for key in &wanted {
        series.entry((*key).to_owned()).or_default();
    }
    if matches!(query.level, Level::Total | Level::Customers) {
        series.entry(String::new()).or_default();
    }
    let periods = periods(query.window, query.granularity);
    for points in series.values_mut() {
        for period in &periods {
            points.entry(*period).or_default();
        }
    }
    Ok(series)
}

fn date_of(day: i64) -> NaiveDate {
    NaiveDate::from_num_days_from_ce_opt(i32::try_from(day + 719_163).unwrap_or(719_163)).unwrap_or_default()
}

fn day_of(date: NaiveDate) -> i64 {
    i64::from(date.num_days_from_ce()) - 719_163
}

/// The first day of the period containing `day` (days since the Unix epoch).
pub fn period_start(day: i64, granularity: Granularity) -> i64 {
    match granularity {
        Granularity::Day => day,
        Granularity::Week => day - i64::from(date_of(day).weekday().num_days_from_monday()),
        Granularity::Month => day_of(date_of(day).with_day(1).unwrap_or_default()),
    }
}

/// Every period start that overlaps the window.
fn periods((start, end): (Micros, Micros), granularity: Granularity) -> Vec<i64> {
    let last_day = Micros(end.0 - 1).day();
    let mut period = period_start(start.day(), granularity);
    let mut all = Vec::new();
    while period <= last_day {
        all.push(period);
        period = match granularity {
            Granularity::Day => period + 1,
            Granularity::Week => period + 7,
            Granularity::Month => {
                let date = date_of(period);
                let next = if date.month() == 12 {
                    NaiveDate::from_ymd_opt(date.year() + 1, 1, 1)
                } else {
                    NaiveDate::from_ymd_opt(date.year(), date.month() + 1, 1)
                };
                next.map(day_of).unwrap_or(i64::MAX)
            }
        };
    }
    all
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn periods_start_on_mondays_and_first_days() {
        let wednesday = day_of(NaiveDate::from_ymd_opt(2024, 3, 6).unwrap());
        assert_eq!(date_of(period_start(wednesday, Granularity::Week)), NaiveDate::from_ymd_opt(2024, 3, 4).unwrap());
        assert_eq!(date_of(period_start(wednesday, Granularity::Month)), NaiveDate::from_ymd_opt(2024, 3, 1).unwrap());
        let window = (
            Micros(day_of(NaiveDate::from_ymd_opt(2023, 12, 15).unwrap()) * MICROS_PER_DAY),
            Micros(day_of(NaiveDate::from_ymd_opt(2024, 2, 1).unwrap()) * MICROS_PER_DAY),
        );
        let months: Vec<NaiveDate> = periods(window, Granularity::Month).into_iter().map(date_of).collect();
        assert_eq!(
            months,
            [NaiveDate::from_ymd_opt(2023, 12, 1).unwrap(), NaiveDate::from_ymd_opt(2024, 1, 1).unwrap()]
        );
    }
}
