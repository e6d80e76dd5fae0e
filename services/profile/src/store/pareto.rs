//! Revenue concentration: what share of revenue the top customers bring.

use std::collections::HashMap;

use patron_common::ServiceError;
use sea_orm::{ConnectionTrait, Value};

use super::order_facts::OrderFacts;
use super::report_filter::OrderSelection;
use super::sql::{self, int, text};
use crate::domain::order::OrderStatus;
use crate::domain::time::Micros;

#[derive(Debug, Clone, PartialEq)]
pub struct CustomerRevenue {
    pub customer_id: String,
    pub revenue_minor: i64,
    pub orders: i64,
    /// Revenue less cost, when every order has lines and every line a cost.
    pub margin_minor: Option<i64>,
}

/// Each identified customer's revenue in a window, and the top customers.
#[derive(Debug, Clone, Default)]
pub struct Pareto {
    /// Every customer's revenue, largest first.
    pub revenues: Vec<i64>,
    /// Largest revenue first, ties by customer id.
    pub top_by_revenue: Vec<CustomerRevenue>,
    /// Largest margin first (customers whose margin is known), ties by customer id.
    pub top_by_margin: Vec<CustomerRevenue>,
}

/// One customer's completed orders in the window.
#[derive(Debug, Clone, Copy, Default)]
struct Totals {
    orders: i64,
    revenue_minor: i64,
    orders_with_lines: i64,
    lines_without_cost: i64,
    margin_minor: i64,
}

impl Totals {
    fn margin(&self) -> Option<i64> {
        (self.lines_without_cost == 0 && self.orders_with_lines == self.orders).then_some(self.margin_minor)
    }
}

/// The Pareto figures of `[start, end)` over the selected orders, with the
/// `top_n` customers by revenue and by margin.
pub async fn report(
    db: &impl ConnectionTrait,
    facts: &OrderFacts,
    selection: &OrderSelection,
    (start, end): (Micros, Micros),
    top_n: usize,
) -> Result<Pareto, ServiceError> {
    let mut totals = vec![Totals::default(); facts.customer_ids.len()];
    let completed = OrderStatus::Completed as i16;
    for order in facts.between(start.0, end.0) {
        if order.status != completed || !selection.selects(order) {
            continue;
        }
        let Some(customer) = totals.get_mut(order.customer as usize) else { continue }; // anonymous
        customer.orders += 1;
        customer.revenue_minor = customer.revenue_minor.saturating_add(order.total_minor);
        if order.lines > 0 {
            customer.orders_with_lines += 1;
            customer.lines_without_cost += i64::from(order.lines_without_cost);
            customer.margin_minor = customer.margin_minor.saturating_add(order.margin_minor);
        }
    }
    let buyers: Vec<(i64, Totals)> = facts
        .customer_ids
        .iter()
        .zip(&totals)
        .filter(|(_, totals)| totals.orders > 0)
        .map(|(id, totals)| (*id, *totals))
        .collect();
    let mut revenues: Vec<i64> = buyers.iter().map(|(_, totals)| totals.revenue_minor).collect();
    revenues.sort_unstable_by(|left, right| right.cmp(left));
    let by_revenue = top(db, &buyers, top_n, |totals| Some(totals.revenue_minor)).await?;
    let by_margin = top(db, &buyers, top_n, Totals::margin).await?;
    Ok(Pareto { revenues, top_by_revenue: by_revenue, top_by_margin: by_margin })
}

/// The `n` customers with the largest `key` (ties by external id). Only the
/// customers that can make the cut have their external ids read.
async fn top(
    db: &impl ConnectionTrait,
    buyers: &[(i64, Totals)],
    n: usize,
    key: impl Fn(&Totals) -> Option<i64>,
) -> Result<Vec<CustomerRevenue>, ServiceError> {
    let mut keys: Vec<i64> = buyers.iter().filter_map(|(_, totals)| key(totals)).collect();
    if n == 0 || keys.is_empty() {
        return Ok(Vec::new());
    }
    let threshold =
        if keys.len() > n { *keys.select_nth_unstable_by(n - 1, |left, right| right.cmp(left)).1 } else { i64::MIN };
    let candidates: Vec<(i64, Totals)> =
        buyers.iter().filter(|(_, totals)| key(totals).is_some_and(|value| value >= threshold)).copied().collect();
    let external_ids = external_ids(db, candidates.iter().map(|(id, _)| *id)).await?;
    let mut ranked: Vec<(i64, CustomerRevenue)> = candidates
        .iter()
        .filter_map(|(id, totals)| {
            let customer_id = external_ids.get(id)?.clone();
            let customer = CustomerRevenue {
                customer_id,
                revenue_minor: totals.revenue_minor,
                orders: totals.orders,
                margin_minor: totals.margin(),
            };
            Some((key(totals)?, customer))
        })
        .collect();
    ranked.sort_by(|(left_key, left), (right_key, right)| {
        right_key.cmp(left_key).then_with(|| left.customer_id.cmp(&right.customer_id))
    });
    Ok(ranked.into_iter().take(n).map(|(_, customer)| customer).collect())
}

/// Internal id -> external id of the given customers.
async fn external_ids(
    db: &impl ConnectionTrait,
    ids: impl Iterator<Item = i64>,
) -> Result<HashMap<i64, String>, ServiceError> {
    const CHUNK: usize = 1_000;
    let ids: Vec<i64> = ids.collect();
    let mut found = HashMap::with_capacity(ids.len());
    for chunk in ids.chunks(CHUNK) {
        let rows = sql::query(
            db,
            &format!("SELECT id, external_id FROM customers WHERE id IN ({})", sql::placeholders(chunk.len())),
            chunk.iter().map(|id| Value::from(*id)).collect(),
        )
        .await?;
        for row in &rows {
            found.insert(int(row, "id")?, text(row, "external_id")?);
        }
    }
    Ok(found)
}

/// The share of revenue of the top `share` of customers (revenues sorted
/// largest first); the top group is `ceil(share × n)` customers.
pub fn revenue_share(sorted: &[i64], share: f64) -> f64 {
    let total: i64 = sorted.iter().sum();
    if sorted.is_empty() || total <= 0 {
        return 0.0;
    }
    let top = ((share * sorted.len() as f64).ceil() as usize).clamp(0, sorted.len());
    let top_revenue: i64 = sorted.iter().take(top).sum();
    top_revenue as f64 / total as f64
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn top_twenty_percent_of_ten_is_two_customers() {
        let sorted = [50, 20, 10, 5, 5, 4, 3, 1, 1, 1];
        assert!((revenue_share(&sorted, 0.2) - 0.7).abs() < 1e-12);
        assert!((revenue_share(&sorted, 1.0) - 1.0).abs() < 1e-12);
        assert_eq!(revenue_share(&[], 0.2), 0.0);
    }
}
