//! The retail KPIs of one period (definitions in `profile.proto`, message
//! `Kpis`): order figures from the in-memory order facts, feedback, contacts
//! and carts from grouped queries.

use patron_common::ServiceError;
use sea_orm::{ConnectionTrait, Value};

use super::order_facts::OrderFacts;
use super::report_filter::OrderSelection;
use super::sql::{self, int, optional_int, text};
use crate::domain::order::OrderStatus;
use crate::domain::time::{MICROS_PER_DAY, Micros};

pub use super::report_filter::ReportFilter;

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

/// The KPIs of `[start, end)`; the previous period is the same length just
/// before. Order figures come from the order facts, the rest from the
/// (much smaller) event tables.
pub async fn compute(
    db: &impl ConnectionTrait,
    facts: &OrderFacts,
    selection: &OrderSelection,
    filter: &ReportFilter,
    window: (Micros, Micros),
    abandonment_timeout_micros: i64,
) -> Result<Kpis, ServiceError> {
    let mut kpis = Kpis::default();
    order_kpis(facts, selection, window, &mut kpis);
    event_kpis(db, filter, window, abandonment_timeout_micros, &mut kpis).await?;
    Ok(kpis)
}

const REPEAT: u8 = 1;
const ACTIVE_BEFORE: u8 = 2;

/// Orders, revenue, returns and the customer counts of `[start, end)`, in one
/// pass over the selected orders placed before `end` (time-sorted, so each
/// customer's first order is the first one met).
fn order_kpis(facts: &OrderFacts, selection: &OrderSelection, (start, end): (Micros, Micros), kpis: &mut Kpis) {
    const NO_DAY: i64 = i64::MIN;
    let previous_start = start.0 - (end.0 - start.0);
    let customers = facts.customer_ids.len();
    let mut first_order = vec![i64::MAX; customers];
    let mut first_day_in_period = vec![NO_DAY; customers];
    let mut flags = vec![0_u8; customers];
    let completed = OrderStatus::Completed as i16;
    let returned = OrderStatus::Returned as i16;
    for order in facts.before(end.0).iter().filter(|order| selection.selects(order)) {
        let in_period = order.place_time_us >= start.0;
        if order.status == returned {
            kpis.returns += i64::from(in_period);
            continue;
        }
        if order.status != completed {
            continue;
        }
        if in_period {
            kpis.orders += 1;
            kpis.revenue_minor = kpis.revenue_minor.saturating_add(order.total_minor);
        }
        let customer = order.customer as usize;
        let (Some(first), Some(first_day), Some(flag)) =
            (first_order.get_mut(customer), first_day_in_period.get_mut(customer), flags.get_mut(customer))
        else {
            continue; // anonymous
        };
        *first = (*first).min(order.place_time_us);
        kpis.customer_revenue_to_date_minor = kpis.customer_revenue_to_date_minor.saturating_add(order.total_minor);
        if in_period {
            let day = order.place_time_us / MICROS_PER_DAY;
            if *first_day == NO_DAY {
                *first_day = day;
            } else if *first_day != day {
                *flag |= REPEAT; // a second purchase day
            }
        } else if order.place_time_us >= previous_start {
            *flag |= ACTIVE_BEFORE;
        }
    }
    for ((first, first_day), flag) in first_order.iter().zip(&first_day_in_period).zip(&flags) {
        let active = *first_day != NO_DAY;
        kpis.customers_to_date += i64::from(*first != i64::MAX);
        kpis.new_customers += i64::from(*first != i64::MAX && *first >= start.0);
        kpis.active_customers += i64::from(active);
        kpis.repeat_customers += i64::from(flag & REPEAT != 0);
        kpis.previous_active_customers += i64::from(flag & ACTIVE_BEFORE != 0);
        kpis.retained_customers += i64::from(active && flag & ACTIVE_BEFORE != 0);
    }
}

/// Feedback, support contacts and carts of `[start, end)`.
async fn event_kpis(
    db: &impl ConnectionTrait,
    filter: &ReportFilter,
    (start, end): (Micros, Micros),
    abandonment_timeout_micros: i64,
    kpis: &mut Kpis,
) -> Result<(), ServiceError> {
    let backend = db.get_database_backend();
    let (feedback_filter, mut values) = filter.event_conditions(backend, "f.customer_id");
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

    let (contact_filter, mut values) = filter.event_conditions(backend, "k.customer_id");
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

    let (cart_filter, mut values) = filter.event_conditions(backend, "e.customer_id");
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
    Ok(())
}
