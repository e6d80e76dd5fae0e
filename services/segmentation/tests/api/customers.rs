//! Customers of known behaviour, as profile orders: four groups that a
//! segmentation should tell apart.

use patron_proto::profile::v1 as pb;

use crate::helpers::days_ago;

/// A behavioural group: how many orders, how long ago, how big.
pub struct Group {
    pub prefix: &'static str,
    pub customers: usize,
    orders: fn(usize) -> usize,
    first_days_ago: fn(usize) -> f64,
    gap_days: f64,
    total_minor: fn(usize) -> i64,
    channel: pb::SalesChannel,
}

/// Frequent recent big spenders, long-lapsed one-off buyers, recent first
/// buyers, and regular mid-value customers.
pub const GROUPS: &[Group] = &[
    Group {
        prefix: "champ",
        customers: 40,
        orders: |i| 10 + i % 4,
        first_days_ago: |i| 300.0 + (i % 7) as f64 * 5.0,
        gap_days: 28.0,
        total_minor: |i| 20_000 + (i as i64 % 9) * 1_000,
        channel: pb::SalesChannel::Web,
    },
    Group {
        prefix: "lost",
        customers: 40,
        orders: |i| 1 + i % 2,
        first_days_ago: |i| 420.0 + (i % 11) as f64 * 6.0,
        gap_days: 20.0,
        total_minor: |i| 1_500 + (i as i64 % 5) * 200,
        channel: pb::SalesChannel::Store,
    },
    Group {
        prefix: "new",
        customers: 40,
        orders: |_| 1,
        first_days_ago: |i| 3.0 + (i % 10) as f64,
        gap_days: 1.0,
        total_minor: |i| 5_000 + (i as i64 % 7) * 300,
        channel: pb::SalesChannel::App,
    },
    Group {
        prefix: "steady",
        customers: 40,
        orders: |i| 4 + i % 3,
        first_days_ago: |i| 250.0 + (i % 9) as f64 * 4.0,
        gap_days: 45.0,
        total_minor: |i| 8_000 + (i as i64 % 6) * 400,
        channel: pb::SalesChannel::Store,
    },
];

pub fn customer_id(group: &Group, index: usize) -> String {
    format!("{}-{index:03}", group.prefix)
}

/// Every order of every group, with `groups` limited to the first `count` customers each.
pub fn orders(count: usize) -> Vec<pb::OrderRow> {
    let mut rows = Vec::new();
    for group in GROUPS {
        for index in 0..group.customers.min(count) {
            let first = (group.first_days_ago)(index);
            for order in 0..(group.orders)(index) {
                let at = (first - order as f64 * group.gap_days).max(0.5);
                rows.push(pb::OrderRow {
                    order_id: format!("{}-o{order}", customer_id(group, index)),
                    customer_id: customer_id(group, index),
                    place_time: Some(days_ago(at)),
                    channel: group.channel as i32,
                    currency_code: "USD".into(),
                    status: pb::OrderStatus::Completed as i32,
                    total_minor: (group.total_minor)(index),
                    ..Default::default()
                });
            }
        }
    }
    rows
}

/// Features that vary in this data (contacts, complaints, NPS and categories do not).
pub fn features() -> Vec<String> {
    ["recency_days", "orders", "monetary", "tenure_days", "average_order_value", "share_store"]
        .iter()
        .map(|name| (*name).to_owned())
        .collect()
}
