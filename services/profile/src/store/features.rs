//! Gathers the facts behind the feature export, a chunk of customers at a
//! time: a handful of independent grouped queries per chunk, run at once, so
//! memory stays bounded and the first rows stream out at once. Only events strictly before the cutoff
//! are read, so nothing after it leaks in.

use std::collections::HashMap;

use patron_common::ServiceError;
use sea_orm::{ConnectionTrait, QueryResult, Value};

use super::sql::{self, int, optional_int, text};
use crate::domain::customer::{ConsentChannel, ConsentState};
use crate::domain::features::{CustomerFacts, PurchaseFact};
use crate::domain::order::{OrderStatus, SalesChannel};
use crate::domain::time::Micros;

/// Which customers and which cutoff.
#[derive(Debug, Clone)]
pub struct FeatureScope {
    pub cutoff: Micros,
    /// Only orders in this currency count.
    pub currency_code: String,
    /// A cart not converted this long after its last event is abandoned.
    pub abandonment_timeout_micros: i64,
    pub include_non_buyers: bool,
}

/// One chunk of customers with their facts, in internal-id order.
#[derive(Debug, Default)]
pub struct Chunk {
    pub facts: Vec<CustomerFacts>,
    /// Where the next chunk starts (`after_id`); `None` when this one was empty.
    pub last_id: Option<i64>,
}

/// The next (at most `limit`) customers after internal id `after_id`; `only`
/// restricts to the given external ids (at most `limit` of them).
pub async fn next_chunk(
    db: &impl ConnectionTrait,
    scope: &FeatureScope,
    only: Option<&[String]>,
    after_id: i64,
    limit: usize,
) -> Result<Chunk, ServiceError> {
    let mut sql_text = String::from(
        "SELECT c.id, c.external_id, c.region, c.home_store_id, c.create_time_us FROM customers c WHERE c.id > ?",
    );
    let mut values: Vec<Value> = vec![after_id.into()];
    if let Some(ids) = only {
        sql_text.push_str(&format!(" AND c.external_id IN ({})", sql::placeholders(ids.len())));
        values.extend(ids.iter().map(|id| Value::from(id.clone())));
    }
    if !scope.include_non_buyers {
        sql_text.push_str(
            " AND EXISTS (SELECT 1 FROM orders o WHERE o.customer_id = c.id AND o.status = ? \
             AND o.place_time_us < ? AND o.currency_code = ?)",
        );
        values.push((OrderStatus::Completed as i16).into());
        values.push(scope.cutoff.0.into());
        values.push(scope.currency_code.clone().into());
    }
    sql_text.push_str(&format!(" ORDER BY c.id LIMIT {limit}"));
    let rows = sql::query(db, &sql_text, values).await?;
    let mut ids = Vec::with_capacity(rows.len());
    let mut facts = Vec::with_capacity(rows.len());
    for row in &rows {
        ids.push(int(row, "id")?);
        facts.push(CustomerFacts {
            customer_id: text(row, "external_id")?,
            region: text(row, "region")?,
            home_store_id: text(row, "home_store_id")?,
            create_time: Micros(int(row, "create_time_us")?),
            ..Default::default()
        });
    }
    if let (Some(&first), Some(&last)) = (ids.first(), ids.last()) {
        let position: HashMap<i64, usize> = ids.iter().enumerate().map(|(index, id)| (*id, index)).collect();
        fill(db, scope, first, last, &position, &mut facts).await?;
    }
    Ok(Chunk { facts, last_id: ids.last().copied() })
}

/// The rows of the customers `first_id..=last_id` from each fact table. The
/// queries are independent, so they run at once, each on its own pooled
/// connection.
async fn fill(
    db: &impl ConnectionTrait,
    scope: &FeatureScope,
    first_id: i64,
    last_id: i64,
    position: &HashMap<i64, usize>,
    facts: &mut [CustomerFacts],
) -> Result<(), ServiceError> {
    let range = (first_id, last_id);
    let (orders, categories, contacts, feedback, carts, consents) = tokio::try_join!(
        order_rows(db, scope, range),
        category_rows(db, scope, range),
        contact_rows(db, scope, range),
        feedback_rows(db, scope, range),
        cart_rows(db, scope, range),
        consent_rows(db, scope, range),
    )?;
    let at = |row: &QueryResult| -> Result<Option<usize>, ServiceError> {
        Ok(position.get(&int(row, "customer_id")?).copied())
    };
    let completed = OrderStatus::Completed as i64;
    for row in &orders {
        let Some(customer) = at(row)?.and_then(|index| facts.get_mut(index)) else { continue };
        let status = int(row, "status")?;
        if status == completed {
            let channel = SalesChannel::from_code(int(row, "channel")? as i32).unwrap_or(SalesChannel::Store);
            customer.purchases.push(PurchaseFact {
                at: Micros(int(row, "place_time_us")?),
                total_minor: int(row, "total_minor")?,
                channel,
            });
        } else if status == OrderStatus::Returned as i64 {
            customer.returns += 1;
        }
    }
    for row in &categories {
        if let Some(customer) = at(row)?.and_then(|index| facts.get_mut(index)) {
            customer.category_count = int(row, "categories")?;
        }
    }
    for row in &contacts {
        if let Some(customer) = at(row)?.and_then(|index| facts.get_mut(index)) {
            customer.contacts = int(row, "contacts")?;
            customer.complaints = int(row, "complaints")?;
            customer.last_contact = optional_int(row, "last_contact")?.map(Micros);
        }
    }
    // Ordered by time, so the last answer of each kind wins.
    for row in &feedback {
        if let Some(customer) = at(row)?.and_then(|index| facts.get_mut(index)) {
            if let Some(nps) = optional_int(row, "nps")? {
                customer.last_nps = Some(nps as i32);
            }
            if let Some(csat) = optional_int(row, "csat")? {
                customer.last_csat = Some(csat as i32);
            }
        }
    }
    for row in &carts {
        let abandoned = int(row, "converted")? == 0
            && int(row, "last_event")?.saturating_add(scope.abandonment_timeout_micros) <= scope.cutoff.0;
        if let (true, Some(customer)) = (abandoned, at(row)?.and_then(|index| facts.get_mut(index))) {
            customer.abandoned_carts += 1;
        }
    }
    for row in &consents {
        let channel = ConsentChannel::from_code(int(row, "channel")? as i32);
        if let (Some(channel), Some(customer)) = (channel, at(row)?.and_then(|index| facts.get_mut(index))) {
            customer.consents_granted.insert(channel);
        }
    }
    Ok(())
}

/// `customer_id BETWEEN first AND last` and the cutoff, as values.
fn range_values(scope: &FeatureScope, (first_id, last_id): (i64, i64)) -> Vec<Value> {
    vec![first_id.into(), last_id.into(), scope.cutoff.0.into()]
}

// Small integer columns are read as BIGINT: a column decoded on the first
// try costs no failed attempts (each builds an error) per row.

async fn order_rows(
    db: &impl ConnectionTrait,
    scope: &FeatureScope,
    range: (i64, i64),
) -> Result<Vec<QueryResult>, ServiceError> {
    let mut values = range_values(scope, range);
    values.push(scope.currency_code.clone().into());
    sql::query(
        db,
        "SELECT customer_id, place_time_us, total_minor, CAST(channel AS BIGINT) AS channel, \
         CAST(status AS BIGINT) AS status FROM orders \
         WHERE customer_id BETWEEN ? AND ? AND place_time_us < ? AND currency_code = ?",
        values,
    )
    .await
}

async fn category_rows(
    db: &impl ConnectionTrait,
    scope: &FeatureScope,
    range: (i64, i64),
) -> Result<Vec<QueryResult>, ServiceError> {
    let mut values = range_values(scope, range);
    values.push((OrderStatus::Completed as i16).into());
    sql::query(
        db,
        "SELECT o.customer_id, COUNT(DISTINCT l.category) AS categories FROM order_lines l \
         JOIN orders o ON o.id = l.order_id \
         WHERE o.customer_id BETWEEN ? AND ? AND o.place_time_us < ? AND o.status = ? \
         GROUP BY o.customer_id",
        values,
    )
    .await
}

async fn contact_rows(
    db: &impl ConnectionTrait,
    scope: &FeatureScope,
    range: (i64, i64),
) -> Result<Vec<QueryResult>, ServiceError> {
    sql::query(
        db,
        "SELECT customer_id, COUNT(*) AS contacts, \
         COUNT(CASE WHEN complaint THEN 1 END) AS complaints, MAX(open_time_us) AS last_contact \
         FROM support_contacts WHERE customer_id BETWEEN ? AND ? AND open_time_us < ? GROUP BY customer_id",
        range_values(scope, range),
    )
    .await
}

async fn feedback_rows(
    db: &impl ConnectionTrait,
    scope: &FeatureScope,
    range: (i64, i64),
) -> Result<Vec<QueryResult>, ServiceError> {
    sql::query(
        db,
        "SELECT customer_id, CAST(nps AS BIGINT) AS nps, CAST(csat AS BIGINT) AS csat FROM feedback \
         WHERE customer_id BETWEEN ? AND ? AND submit_time_us < ? ORDER BY submit_time_us, id",
        range_values(scope, range),
    )
    .await
}

async fn cart_rows(
    db: &impl ConnectionTrait,
    scope: &FeatureScope,
    range: (i64, i64),
) -> Result<Vec<QueryResult>, ServiceError> {
    let mut values = range_values(scope, range);
    values.insert(0, Value::from(3_i16)); // CONVERTED
    sql::query(
        db,
        "SELECT customer_id, cart_id, MAX(event_time_us) AS last_event, \
         MAX(CASE WHEN event_type = ? THEN 1 ELSE 0 END) AS converted \
         FROM cart_events WHERE customer_id BETWEEN ? AND ? AND event_time_us < ? \
         GROUP BY customer_id, cart_id",
        values,
    )
    .await
}

async fn consent_rows(
    db: &impl ConnectionTrait,
    scope: &FeatureScope,
    range: (i64, i64),
) -> Result<Vec<QueryResult>, ServiceError> {
    let mut values = range_values(scope, range);
    values.push((ConsentState::Granted as i16).into());
    sql::query(
        db,
        "SELECT customer_id, CAST(channel AS BIGINT) AS channel FROM customer_consents \
         WHERE customer_id BETWEEN ? AND ? AND update_time_us < ? AND state = ?",
        values,
    )
    .await
}
