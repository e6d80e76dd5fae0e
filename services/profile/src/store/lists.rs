//! The lists reminder and win-back automation act on: lapsed customers and
//! abandoned carts, keyset-paginated.

use patron_common::ServiceError;
use sea_orm::{ConnectionTrait, Value};

use super::sql::{self, int, text};
use crate::domain::customer::{ConsentChannel, ConsentState};
use crate::domain::order::OrderStatus;
use crate::domain::time::Micros;

#[derive(Debug, Clone, PartialEq)]
pub struct LapsedCustomer {
    pub customer_id: String,
    pub last_order: Micros,
    pub orders: i64,
    pub revenue_minor: i64,
}

/// Customers who bought before and not since `lapsed_since`, most recently
/// lapsed first. The page token is "<last order µs>:<internal id>".
pub async fn lapsed_customers(
    db: &impl ConnectionTrait,
    as_of: Micros,
    lapsed_since: Micros,
    consent: Option<ConsentChannel>,
    page_size: usize,
    page_token: &str,
) -> Result<(Vec<LapsedCustomer>, String), ServiceError> {
    let after = decode_pair(page_token)?;
    let mut values: Vec<Value> = vec![(OrderStatus::Completed as i16).into(), as_of.0.into()];
    let mut consent_condition = String::new();
    if let Some(channel) = consent {
        consent_condition =
            " AND c.id IN (SELECT customer_id FROM customer_consents WHERE channel = ? AND state = ?)".into();
        values.push((channel as i16).into());
        values.push((ConsentState::Granted as i16).into());
    }
    values.push(lapsed_since.0.into());
    let mut page_condition = String::new();
    if let Some((last_order, id)) = after {
        page_condition = " AND (t.last_order < ? OR (t.last_order = ? AND t.id > ?))".into();
        values.extend([last_order.into(), last_order.into(), id.into()]);
    }
    let rows = sql::query(
        db,
        &format!(
            "SELECT t.id, t.external_id, t.last_order, t.orders, t.revenue FROM \
             (SELECT c.id, c.external_id, MAX(o.place_time_us) AS last_order, COUNT(*) AS orders, \
              CAST(SUM(o.total_minor) AS BIGINT) AS revenue \
              FROM orders o JOIN customers c ON c.id = o.customer_id \
              WHERE o.status = ? AND o.place_time_us < ?{consent_condition} GROUP BY c.id, c.external_id) t \
             WHERE t.last_order < ?{page_condition} ORDER BY t.last_order DESC, t.id LIMIT {}",
            page_size + 1
        ),
        values,
    )
    .await?;
    let mut customers = Vec::with_capacity(rows.len());
    let mut keys = Vec::with_capacity(rows.len());
    for row in &rows {
        keys.push((int(row, "last_order")?, int(row, "id")?));
        customers.push(LapsedCustomer {
            customer_id: text(row, "external_id")?,
            last_order: Micros(int(row, "last_order")?),
            orders: int(row, "orders")?,
            revenue_minor: int(row, "revenue")?,
        });
    }
    let next = if customers.len() > page_size {
        customers.truncate(page_size);
        keys.get(page_size - 1).map(|(last_order, id)| format!("{last_order}:{id}")).unwrap_or_default()
    } else {
        String::new()
    };
    Ok((customers, next))
}

fn decode_pair(token: &str) -> Result<Option<(i64, i64)>, ServiceError> {
    if token.is_empty() {
        return Ok(None);
    }
    let invalid = || ServiceError::invalid("page_token", "is not a token this service issued");
    let (first, second) = token.split_once(':').ok_or_else(invalid)?;
    Ok(Some((first.parse().map_err(|_| invalid())?, second.parse().map_err(|_| invalid())?)))
}

#[derive(Debug, Clone, PartialEq)]
pub struct AbandonedCart {
    pub cart_id: String,
    pub customer_id: Option<String>,
    pub last_event: Micros,
    pub value_minor: i64,
    pub currency_code: String,
}

/// Carts whose last event is in `[start, end)`, never converted, and whose
/// abandonment timeout has passed by now; in cart id order.
pub async fn abandoned_carts(
    db: &impl ConnectionTrait,
    (start, end): (Micros, Micros),
    timeout_micros: i64,
    page_size: usize,
    page_token: &str,
) -> Result<(Vec<AbandonedCart>, String), ServiceError> {
    let judged_at = Micros::now().0.saturating_sub(timeout_micros);
    let rows = sql::query(
        db,
        &format!(
            "SELECT t.cart_id, t.last_event, c.external_id, \
             (SELECT e2.value_minor FROM cart_events e2 WHERE e2.cart_id = t.cart_id ORDER BY e2.event_time_us DESC, e2.id DESC LIMIT 1) AS value_minor, \
             (SELECT e3.currency_code FROM cart_events e3 WHERE e3.cart_id = t.cart_id ORDER BY e3.event_time_us DESC, e3.id DESC LIMIT 1) AS currency_code \
             FROM (SELECT e.cart_id, MAX(e.customer_id) AS customer_id, MAX(e.event_time_us) AS last_event, \
                   MAX(CASE WHEN e.event_type = ? THEN 1 ELSE 0 END) AS converted \
                   FROM cart_events e GROUP BY e.cart_id) t \
             LEFT JOIN customers c ON c.id = t.customer_id \
             WHERE t.converted = 0 AND t.last_event >= ? AND t.last_event < ? AND t.last_event <= ? AND t.cart_id > ? \
             ORDER BY t.cart_id LIMIT {}",
            page_size + 1
        ),
        vec![Value::from(3_i16), start.0.into(), end.0.into(), judged_at.into(), page_token.to_owned().into()],
    )
    .await?;
    let mut carts = Vec::with_capacity(rows.len());
    for row in &rows {
        carts.push(AbandonedCart {
            cart_id: text(row, "cart_id")?,
            customer_id: row.try_get::<Option<String>>("", "external_id").map_err(ServiceError::internal)?,
            last_event: Micros(int(row, "last_event")?),
            value_minor: sql::optional_int(row, "value_minor")?.unwrap_or(0),
            currency_code: row
                .try_get::<Option<String>>("", "currency_code")
                .map_err(ServiceError::internal)?
                .unwrap_or_default(),
        });
    }
    let next = if carts.len() > page_size {
        carts.truncate(page_size);
        carts.last().map(|cart| cart.cart_id.clone()).unwrap_or_default()
    } else {
        String::new()
    };
    Ok((carts, next))
}
