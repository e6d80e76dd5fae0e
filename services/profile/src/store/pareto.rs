//! Revenue concentration: what share of revenue the top customers bring.

use patron_common::ServiceError;
use sea_orm::{ConnectionTrait, Value};

use super::kpis::ReportFilter;
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

/// Each identified customer's revenue in `[start, end)`, largest first.
pub async fn customer_revenue(
    db: &impl ConnectionTrait,
    filter: &ReportFilter,
    (start, end): (Micros, Micros),
) -> Result<Vec<CustomerRevenue>, ServiceError> {
    let (order_filter, order_values) = filter.order_conditions();
    let with_window = || -> Vec<Value> {
        let mut values = vec![Value::from(OrderStatus::Completed as i16)];
        values.extend(order_values.iter().cloned());
        values.extend([start.0.into(), end.0.into()]);
        values
    };
    let scope = format!(
        "o.status = ? AND {order_filter} AND o.customer_id IS NOT NULL AND o.place_time_us >= ? AND o.place_time_us < ?"
    );
    let mut customers = Vec::new();
    let mut index_of = std::collections::HashMap::new();
    for row in sql::query(
        db,
        &format!(
            "SELECT o.customer_id, c.external_id, COUNT(*) AS orders, CAST(SUM(o.total_minor) AS BIGINT) AS revenue \
             FROM orders o JOIN customers c ON c.id = o.customer_id WHERE {scope} GROUP BY o.customer_id, c.external_id"
        ),
        with_window(),
    )
    .await?
    {
        index_of.insert(int(&row, "customer_id")?, customers.len());
        customers.push(CustomerRevenue {
            customer_id: text(&row, "external_id")?,
            revenue_minor: int(&row, "revenue")?,
            orders: int(&row, "orders")?,
            margin_minor: None,
        });
    }
    for row in sql::query(
        db,
        &format!(
            "SELECT o.customer_id, COUNT(DISTINCT o.id) AS orders_with_lines, \
             COUNT(CASE WHEN l.unit_cost_minor IS NULL THEN 1 END) AS lines_without_cost, \
             CAST(SUM(l.quantity * l.unit_price_minor - l.discount_minor - l.quantity * COALESCE(l.unit_cost_minor, 0)) AS BIGINT) AS margin \
             FROM orders o JOIN order_lines l ON l.order_id = o.id WHERE {scope} GROUP BY o.customer_id"
        ),
        with_window(),
    )
    .await?
    {
        let Some(&index) = index_of.get(&int(&row, "customer_id")?) else { continue };
        let complete = int(&row, "lines_without_cost")? == 0 && int(&row, "orders_with_lines")? == customers[index].orders;
        if complete {
            customers[index].margin_minor = Some(int(&row, "margin")?);
        }
    }
    customers.sort_by(|left, right| {
        right.revenue_minor.cmp(&left.revenue_minor).then_with(|| left.customer_id.cmp(&right.customer_id))
    });
    Ok(customers)
}

/// The share of revenue of the top `share` of customers (sorted largest
/// first); the top group is `ceil(share × n)` customers.
pub fn revenue_share(sorted: &[CustomerRevenue], share: f64) -> f64 {
    let total: i64 = sorted.iter().map(|customer| customer.revenue_minor).sum();
    if sorted.is_empty() || total <= 0 {
        return 0.0;
    }
    let top = ((share * sorted.len() as f64).ceil() as usize).clamp(0, sorted.len());
    let top_revenue: i64 = sorted[..top].iter().map(|customer| customer.revenue_minor).sum();
    top_revenue as f64 / total as f64
}

#[cfg(test)]
mod tests {
    use super::*;

    fn customer(revenue: i64) -> CustomerRevenue {
        CustomerRevenue { customer_id: revenue.to_string(), revenue_minor: revenue, orders: 1, margin_minor: None }
    }

    #[test]
    fn top_twenty_percent_of_ten_is_two_customers() {
        let sorted: Vec<_> = [50, 20, 10, 5, 5, 4, 3, 1, 1, 1].into_iter().map(customer).collect();
        assert!((revenue_share(&sorted, 0.2) - 0.7).abs() < 1e-12);
        assert!((revenue_share(&sorted, 1.0) - 1.0).abs() < 1e-12);
        assert_eq!(revenue_share(&[], 0.2), 0.0);
    }
}
