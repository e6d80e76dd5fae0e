//! Per-customer behavioural features as of a cutoff, the input of every model.
//!
//! Purchases follow the "buy till you die" convention (Fader, Hardie & Lee
//! 2005; the `lifetimes` summary): completed orders on the same UTC day are one
//! purchase, `x` counts purchase days after the first, `t_x` is the time from
//! the first to the last purchase day, and `T` the time from the first purchase
//! day to the last day before the cutoff, all in whole days then expressed in
//! the requested unit. `monetary_value` is the mean value of the repeat purchase
//! days (0 when x = 0).

use std::collections::{BTreeMap, BTreeSet};

use super::customer::ConsentChannel;
use super::order::SalesChannel;
use super::time::{MICROS_PER_DAY, Micros};

/// One completed order, as the feature computation needs it.
#[derive(Debug, Clone, Copy)]
pub struct PurchaseFact {
    pub at: Micros,
    pub total_minor: i64,
    pub channel: SalesChannel,
}

/// Everything known about one customer before the cutoff.
#[derive(Debug, Clone, Default)]
pub struct CustomerFacts {
    pub customer_id: String,
    pub region: String,
    pub home_store_id: String,
    pub create_time: Micros,
    /// Completed orders, in any order.
    pub purchases: Vec<PurchaseFact>,
    pub returns: i64,
    pub category_count: i64,
    pub contacts: i64,
    pub complaints: i64,
    pub last_contact: Option<Micros>,
    pub last_nps: Option<i32>,
    pub last_csat: Option<i32>,
    pub abandoned_carts: i64,
    pub consents_granted: BTreeSet<ConsentChannel>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct CustomerFeatures {
    pub customer_id: String,
    pub frequency: i64,
    pub recency: f64,
    pub age: f64,
    pub monetary_value: f64,
    pub days_since_last_purchase: f64,
    pub tenure_days: f64,
    pub orders: i64,
    pub revenue_minor: i64,
    pub average_order_value: f64,
    pub category_count: i64,
    pub share_store: f64,
    pub share_web: f64,
    pub share_app: f64,
    pub share_marketplace: f64,
    pub returns: i64,
    pub contacts: i64,
    pub complaints: i64,
    pub last_nps: Option<i32>,
    pub last_csat: Option<i32>,
    pub days_since_last_contact: Option<f64>,
    pub abandoned_carts: i64,
    pub consents_granted: Vec<ConsentChannel>,
    pub region: String,
    pub home_store_id: String,
    pub first_purchase_time: Option<Micros>,
    pub last_purchase_time: Option<Micros>,
}

fn days_between(from: Micros, to: Micros) -> f64 {
    (to.0 - from.0) as f64 / MICROS_PER_DAY as f64
}

/// Computes the features of one customer as of `cutoff`; `unit_days` is the
/// length of the time unit of recency and age (1 for days, 7 for weeks).
pub fn compute(facts: CustomerFacts, cutoff: Micros, unit_days: f64) -> CustomerFeatures {
    let mut day_totals: BTreeMap<i64, i64> = BTreeMap::new();
    let mut channel_counts = [0_i64; 4];
    let mut revenue: i64 = 0;
    for purchase in &facts.purchases {
        *day_totals.entry(purchase.at.day()).or_insert(0) += purchase.total_minor;
        revenue = revenue.saturating_add(purchase.total_minor);
        channel_counts[purchase.channel as usize - 1] += 1;
    }
    let orders = facts.purchases.len() as i64;
    let first_purchase_time = facts.purchases.iter().map(|purchase| purchase.at).min();
    let last_purchase_time = facts.purchases.iter().map(|purchase| purchase.at).max();
    // The last whole day before the cutoff: an instant at midnight excludes that day.
    let last_observed_day = Micros(cutoff.0 - 1).day();
    let (frequency, recency, age, monetary_value) = match (day_totals.keys().next(), day_totals.keys().last()) {
        (Some(&first_day), Some(&last_day)) => {
            let repeat_days = day_totals.len() as i64 - 1;
            let repeat_spend: i64 = day_totals.iter().skip(1).map(|(_, total)| *total).sum();
            let monetary = if repeat_days > 0 { repeat_spend as f64 / repeat_days as f64 } else { 0.0 };
            (
                repeat_days,
                (last_day - first_day) as f64 / unit_days,
                (last_observed_day - first_day) as f64 / unit_days,
                monetary,
            )
        }
        _ => (0, 0.0, 0.0, 0.0),
    };
    let share = |index: usize| if orders > 0 { channel_counts[index] as f64 / orders as f64 } else { 0.0 };
    let since = first_purchase_time.map_or(facts.create_time, |first| first.min(facts.create_time));
    CustomerFeatures {
        frequency,
        recency,
        age,
        monetary_value,
        days_since_last_purchase: last_purchase_time.map_or(0.0, |last| days_between(last, cutoff)),
        tenure_days: days_between(since, cutoff).max(0.0),
        orders,
        revenue_minor: revenue,
        average_order_value: if orders > 0 { revenue as f64 / orders as f64 } else { 0.0 },
        category_count: facts.category_count,
        share_store: share(SalesChannel::Store as usize - 1),
        share_web: share(SalesChannel::Web as usize - 1),
        share_app: share(SalesChannel::App as usize - 1),
        share_marketplace: share(SalesChannel::Marketplace as usize - 1),
        returns: facts.returns,
        contacts: facts.contacts,
        complaints: facts.complaints,
        last_nps: facts.last_nps,
        last_csat: facts.last_csat,
        days_since_last_contact: facts.last_contact.map(|last| days_between(last, cutoff)),
        abandoned_carts: facts.abandoned_carts,
        consents_granted: facts.consents_granted.into_iter().collect(),
        customer_id: facts.customer_id,
        region: facts.region,
        home_store_id: facts.home_store_id,
        first_purchase_time,
        last_purchase_time,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn day(days: i64, hour: i64) -> Micros {
        Micros(days * MICROS_PER_DAY + hour * 3_600_000_000)
    }

    fn purchase(at: Micros, total_minor: i64) -> PurchaseFact {
        PurchaseFact { at, total_minor, channel: SalesChannel::Web }
    }

    #[test]
    fn same_day_orders_are_one_purchase_and_the_first_is_not_a_repeat() {
        let facts = CustomerFacts {
            purchases: vec![
                purchase(day(10, 9), 1_000),
                purchase(day(10, 18), 500), // same day as the first: merged, not a repeat
                purchase(day(17, 12), 2_000),
                purchase(day(24, 8), 1_000),
                purchase(day(24, 20), 3_000),
            ],
            ..Default::default()
        };
        let features = compute(facts, day(31, 0), 7.0);
        assert_eq!(features.frequency, 2);
        assert!((features.recency - 2.0).abs() < 1e-12, "14 days = 2 weeks");
        assert!((features.age - 20.0 / 7.0).abs() < 1e-12, "to day 30, the last day before the cutoff");
        assert!((features.monetary_value - 3_000.0).abs() < 1e-12, "mean of 2,000 and 4,000");
        assert_eq!(features.orders, 5);
        assert_eq!(features.revenue_minor, 7_500);
        assert!((features.average_order_value - 1_500.0).abs() < 1e-12);
        assert!((features.share_web - 1.0).abs() < 1e-12);
    }

    #[test]
    fn a_customer_without_purchases_has_zero_btyd_features() {
        let facts = CustomerFacts { create_time: day(1, 0), ..Default::default() };
        let features = compute(facts, day(11, 0), 1.0);
        assert_eq!((features.frequency, features.recency, features.age), (0, 0.0, 0.0));
        assert!((features.tenure_days - 10.0).abs() < 1e-12);
        assert_eq!(features.first_purchase_time, None);
    }
}
