//! The retail KPIs of one period, computed by the database with grouped
//! queries (definitions in `profile.proto`, message `Kpis`).

use patron_common::ServiceError;
use sea_orm::{ConnectionTrait, Value};

use super::sql::{self, int, optional_int, text};
use crate::domain::order::{OrderStatus, SalesChannel};
use crate::domain::time::{MICROS_PER_DAY, Micros};

/// Restricts a report. Store, channel and region select orders (region: the
/// order's); tag and customers select customers, and so also feedback,
/// contacts and carts.
#[derive(Debug, Clone, Default)]
pub struct ReportFilter {
    pub store_id: Option<String>,
    pub channel: Option<SalesChannel>,
    pub region: Option<String>,
    pub tag: Option<String>,
    pub customer_ids: Option<Vec<String>>,
    pub currency_code: String,
}

impl ReportFilter {
    /// SQL conditions on `orders o` (besides time and status) and their values.
    pub fn order_conditions(&self) -> (String, Vec<Value>) {
        let mut conditions = vec!["o.currency_code = ?".to_owned()];
        let mut values: Vec<Value> = vec![self.currency_code.clone().into()];
        if let Some(store) = &self.store_id {
            conditions.push("o.store_id = ?".to_owned());
            values.push(store.clone().into());
        }
        if let Some(channel) = self.channel {
            conditions.push("o.channel = ?".to_owned());
            values.push((channel as i16).into());
        }
        if let Some(region) = &self.region {
            conditions.push("o.region = ?".to_owned());
            values.push(region.clone().into());
        }
        let (customer_condition, customer_values) = self.customer_conditions("o.customer_id");
        conditions.extend(customer_condition);
        values.extend(customer_values);
        (conditions.join(" AND "), values)
    }

    /// SQL conditions selecting rows whose `column` (an internal customer id)
    /// passes the customer filters.
    pub fn customer_conditions(&self, column: &str) -> (Vec<String>, Vec<Value>) {
        let mut conditions = Vec::new();
        let mut values: Vec<Value> = Vec::new();
        if let Some(tag) = &self.tag {
            conditions.push(format!("{column} IN (SELECT customer_id FROM customer_tags WHERE tag = ?)"));
            values.push(tag.clone().into());
        }
        if let Some(ids) = &self.customer_ids {
            conditions.push(format!(
                "{column} IN (SELECT id FROM customers WHERE external_id IN ({}))",
                sql::placeholders(ids.len())
            ));
            values.extend(ids.iter().map(|id| Value::from(id.clone())));
        }
        (conditions, values)
    }

    fn event_conditions(&self, column: &str) -> (String, Vec<Value>) {
        let (mut conditions, mut values) = self.customer_conditions(column);
        if let Some(region) = &self.region {
            conditions.push(format!("{column} IN (SELECT id FROM customers WHERE region = ?)"));
            values.push(region.clone().into());
        }
        if conditions.is_empty() {
            conditions.push("1 = 1".to_owned());
        }
        (conditions.join(" AND "), values)
    }
}

#[derive(Debug, Clone, Default, PartialEq)]
pub struct ComplaintRate {
    pub reason: String,
    pub contacts: i64,
    pub complaints: i64,
}

/// Raw counts of one period; rates are derived in [`Kpis`].
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Kpis {
    pub active_customers: i64,
    pub new_customers: i64,
    pub previous_active_customers: i64,
    pub retained_customers: i64,
    pub repeat_customers: i64,
    pub orders: i64,
    pub revenue_minor: i64,
    pub customers_to_date: i64,
    pub customer_revenue_to_date_minor: i64,
    pub nps_responses: i64,
    pub promoters: i64,
    pub detractors: i64,
    pub csat_responses: i64,
    pub satisfied: i64,
    pub contacts: i64,
    pub complaint_rates: Vec<ComplaintRate>,
    pub carts_created: i64,
    pub carts_abandoned: i64,
    pub returns: i64,
}

fn ratio(numerator: i64, denominator: i64) -> Option<f64> {
    (denominator > 0).then(|| numerator as f64 / denominator as f64)
}

impl Kpis {
    pub fn retention_rate(&self) -> Option<f64> {
        ratio(self.retained_customers, self.previous_active_customers)
    }
    pub fn repeat_purchase_rate(&self) -> Option<f64> {
        ratio(self.repeat_customers, self.active_customers)
    }
    pub fn average_order_value(&self) -> Option<f64> {
        ratio(self.revenue_minor, self.orders)
    }
    pub fn purchase_frequency(&self) -> Option<f64> {
        ratio(self.orders, self.active_customers)
    }
    pub fn historical_clv(&self) -> Option<f64> {
        ratio(self.customer_revenue_to_date_minor, self.customers_to_date)
    }
    /// % promoters − % detractors, in [-100, 100].
    pub fn nps(&self) -> Option<f64> {
        ratio((self.promoters - self.detractors) * 100, self.nps_responses)
    }
    /// % of answers that are 4 or 5.
    pub fn csat(&self) -> Option<f64> {
        ratio(self.satisfied * 100, self.csat_responses)
    }
    /// Orders per support contact.
    pub fn customer_contact_ratio(&self) -> Option<f64> {
        ratio(self.orders, self.contacts)
    }
    pub fn cart_abandonment_rate(&self) -> Option<f64> {
        ratio(self.carts_abandoned, self.carts_created)
    }
}

fn first_int(rows: &[sea_orm::QueryResult], column: &str) -> Result<i64, ServiceError> {
    match rows.first() {
        Some(row) => Ok(optional_int(row, column)?.unwrap_or(0)),
        None => Ok(0),
    }
}

/// The KPIs of `[start, end)`; the previous period is the same length just before.
pub async fn compute(
    db: &impl ConnectionTrait,
    filter: &ReportFilter,
    (start, end): (Micros, Micros),
    abandonment_timeout_micros: i64,
) -> Result<Kpis, ServiceError> {
    let previous_start = Micros(start.0 - (end.0 - start.0));
    let (order_filter, order_values) = filter.order_conditions();
    let completed = OrderStatus::Completed as i16;
    let with = |extra: Vec<Value>| -> Vec<Value> {
        let mut values = vec![Value::from(completed)];
        values.extend(order_values.iter().cloned());
        values.extend(extra);
        values
    };
    let completed_orders = format!("FROM orders o WHERE o.status = ? AND {order_filter}");
    let mut kpis = Kpis::default();

    let rows = sql::query(
        db,
        &format!(
            "SELECT COUNT(*) AS orders, CAST(SUM(o.total_minor) AS BIGINT) AS revenue {completed_orders} \
             AND o.place_time_us >= ? AND o.place_time_us < ?"
        ),
        with(vec![start.0.into(), end.0.into()]),
    )
    .await?;
    kpis.orders = first_int(&rows, "orders")?;
    kpis.revenue_minor = first_int(&rows, "revenue")?;

    let rows = sql::query(
        db,
        &format!(
            "SELECT COUNT(*) AS active, COUNT(CASE WHEN days >= 2 THEN 1 END) AS repeaters FROM \
             (SELECT o.customer_id, COUNT(DISTINCT o.place_time_us / {MICROS_PER_DAY}) AS days {completed_orders} \
             AND o.customer_id IS NOT NULL AND o.place_time_us >= ? AND o.place_time_us < ? GROUP BY o.customer_id) t"
        ),
        with(vec![start.0.into(), end.0.into()]),
    )
    .await?;
    kpis.active_customers = first_int(&rows, "active")?;
    kpis.repeat_customers = first_int(&rows, "repeaters")?;

    let rows = sql::query(
        db,
        &format!(
            "SELECT COUNT(*) AS new_customers FROM (SELECT o.customer_id, MIN(o.place_time_us) AS first_order \
             {completed_orders} AND o.customer_id IS NOT NULL AND o.place_time_us < ? GROUP BY o.customer_id) t \
             WHERE t.first_order >= ?"
        ),
        with(vec![end.0.into(), start.0.into()]),
    )
    .await?;
    kpis.new_customers = first_int(&rows, "new_customers")?;

    // One pass with conditional aggregates rather than a join of two DISTINCT
    // sets: its cost cannot blow up when the planner misjudges row counts.
    let mut values = vec![Value::from(start.0), Value::from(start.0)];
    values.extend(with(vec![previous_start.0.into(), end.0.into()]));
    let rows = sql::query(
        db,
        &format!(
            "SELECT COUNT(CASE WHEN t.previous_period = 1 THEN 1 END) AS previous_active, \
             COUNT(CASE WHEN t.previous_period = 1 AND t.this_period = 1 THEN 1 END) AS retained FROM \
             (SELECT o.customer_id, MAX(CASE WHEN o.place_time_us < ? THEN 1 ELSE 0 END) AS previous_period, \
              MAX(CASE WHEN o.place_time_us >= ? THEN 1 ELSE 0 END) AS this_period {completed_orders} \
              AND o.customer_id IS NOT NULL AND o.place_time_us >= ? AND o.place_time_us < ? GROUP BY o.customer_id) t"
        ),
        values,
    )
    .await?;
    kpis.previous_active_customers = first_int(&rows, "previous_active")?;
    kpis.retained_customers = first_int(&rows, "retained")?;

    let rows = sql::query(
        db,
        &format!(
            "SELECT COUNT(DISTINCT o.customer_id) AS customers, CAST(SUM(o.total_minor) AS BIGINT) AS revenue \
             {completed_orders} AND o.customer_id IS NOT NULL AND o.place_time_us < ?"
        ),
        with(vec![end.0.into()]),
    )
    .await?;
    kpis.customers_to_date = first_int(&rows, "customers")?;
    kpis.customer_revenue_to_date_minor = first_int(&rows, "revenue")?;

    let mut values = vec![Value::from(OrderStatus::Returned as i16)];
    values.extend(order_values.iter().cloned());
    values.extend([start.0.into(), end.0.into()]);
    let rows = sql::query(
        db,
        &format!(
            "SELECT COUNT(*) AS returns FROM orders o WHERE o.status = ? AND {order_filter} \
             AND o.place_time_us >= ? AND o.place_time_us < ?"
        ),
        values,
    )
    .await?;
    kpis.returns = first_int(&rows, "returns")?;

    let (feedback_filter, mut values) = filter.event_conditions("f.customer_id");
    values.extend([start.0.into(), end.0.into()]);
    let rows = sql::query(
        db,
        &format!(
            "SELECT COUNT(f.nps) AS nps_responses, COUNT(CASE WHEN f.nps >= 9 THEN 1 END) AS promoters, \
             COUNT(CASE WHEN f.nps <= 6 THEN 1 END) AS detractors, COUNT(f.csat) AS csat_responses, \
             COUNT(CASE WHEN f.csat >= 4 THEN 1 END) AS satisfied FROM feedback f \
             WHERE {feedback_filter} AND f.submit_time_us >= ? AND f.submit_time_us < ?"
        ),
        values,
    )
    .await?;
    kpis.nps_responses = first_int(&rows, "nps_responses")?;
    kpis.promoters = first_int(&rows, "promoters")?;
    kpis.detractors = first_int(&rows, "detractors")?;
    kpis.csat_responses = first_int(&rows, "csat_responses")?;
    kpis.satisfied = first_int(&rows, "satisfied")?;

    let (contact_filter, mut values) = filter.event_conditions("k.customer_id");
    values.extend([start.0.into(), end.0.into()]);
    for row in sql::query(
        db,
        &format!(
            "SELECT k.reason, COUNT(*) AS contacts, COUNT(CASE WHEN k.complaint THEN 1 END) AS complaints \
             FROM support_contacts k WHERE {contact_filter} AND k.open_time_us >= ? AND k.open_time_us < ? \
             GROUP BY k.reason ORDER BY k.reason"
        ),
        values,
    )
    .await?
    {
        let rate = ComplaintRate {
            reason: text(&row, "reason")?,
            contacts: int(&row, "contacts")?,
            complaints: int(&row, "complaints")?,
        };
        kpis.contacts += rate.contacts;
        kpis.complaint_rates.push(rate);
    }

    let (cart_filter, mut values) = filter.event_conditions("e.customer_id");
    values.insert(0, Value::from(3_i16)); // CONVERTED
    values.insert(0, Value::from(1_i16)); // CREATED
    values.extend([start.0.into(), end.0.into()]);
    // A cart counts as abandoned once its timeout has passed, by the period's end (or now).
    let judged_at = end.0.min(Micros::now().0);
    for row in sql::query(
        db,
        &format!(
            "SELECT t.last_event, t.converted FROM (SELECT e.cart_id, \
             MIN(CASE WHEN e.event_type = ? THEN e.event_time_us END) AS created, \
             MAX(e.event_time_us) AS last_event, MAX(CASE WHEN e.event_type = ? THEN 1 ELSE 0 END) AS converted \
             FROM cart_events e WHERE {cart_filter} GROUP BY e.cart_id) t \
             WHERE t.created >= ? AND t.created < ?"
        ),
        values,
    )
    .await?
    {
        kpis.carts_created += 1;
        let abandoned_by = int(&row, "last_event")?.saturating_add(abandonment_timeout_micros);
        if int(&row, "converted")? == 0 && abandoned_by <= judged_at {
            kpis.carts_abandoned += 1;
        }
    }
    Ok(kpis)
}
