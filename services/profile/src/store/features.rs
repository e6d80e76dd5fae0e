//! Gathers the facts behind the feature export, a chunk of customers at a
//! time: the customers with their orders, then a handful of independent
//! grouped queries over the event tables, run at once, so memory stays
//! bounded and the first rows stream out at once. Only events strictly
//! before the cutoff are read, so nothing after it leaks in.

use std::collections::HashMap;

use patron_common::ServiceError;
use sea_orm::{ConnectionTrait, DbBackend, QueryResult, Value};

use super::sql::{self, int, optional_int};
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
    // (PostgreSQL's json as text: the driver reads text columns only as strings.)
    let (aggregate, array, as_json, as_text) = match db.get_database_backend() {
        DbBackend::Postgres => ("json_agg", "json_build_array", "", "text"),
        _ => ("json_group_array", "json_array", "json", ""),
    };
    // The whole chunk comes back as one JSON value, each customer with its
    // orders: SQLite's driver hands rows over one at a time across threads
    // (about a microsecond each), so a row per order, or even per customer,
    // cost more than the query itself. The subqueries follow each customer's
    // few orders (and their lines) by index.
    let mut sql_text = format!(
        "SELECT {as_text}({aggregate}({array}(c.id, c.external_id, c.region, c.home_store_id, c.create_time_us, \
         {as_json}((SELECT {aggregate}({array}(o.place_time_us, o.total_minor, o.channel, o.status)) \
          FROM orders o WHERE o.customer_id = c.id AND o.place_time_us < ? AND o.currency_code = ? \
          AND o.status IN (?, ?))), \
         (SELECT COUNT(DISTINCT l.category) FROM orders o JOIN order_lines l ON l.order_id = o.id \
          WHERE o.customer_id = c.id AND o.place_time_us < ? AND o.status = ?)))) AS customers \
         FROM (SELECT id, external_id, region, home_store_id, create_time_us FROM customers WHERE id > ?"
    );
    let completed: Value = (OrderStatus::Completed as i16).into();
    let mut values: Vec<Value> = vec![
        scope.cutoff.0.into(),
        scope.currency_code.clone().into(),
        completed.clone(),
        (OrderStatus::Returned as i16).into(),
        scope.cutoff.0.into(),
        completed,
        after_id.into(),
    ];
    if let Some(ids) = only {
        sql_text.push_str(&format!(" AND external_id IN ({})", sql::placeholders(ids.len())));
        values.extend(ids.iter().map(|id| Value::from(id.clone())));
    }
    sql_text.push_str(&format!(" ORDER BY id LIMIT {limit}) c"));
    let rows = sql::query(db, &sql_text, values).await?;
    let packed: Option<String> = match rows.first() {
        Some(row) => row
            .try_get("", "customers")
            .map_err(|error| ServiceError::internal(format!("column customers: {error}")))?,
        None => None,
    };
    let mut customers: Vec<PackedCustomer> = match packed {
        Some(packed) => serde_json::from_str(&packed).map_err(ServiceError::internal)?,
        None => Vec::new(), // PostgreSQL aggregates no rows to NULL
    };
    customers.sort_unstable_by_key(|customer| customer.0);
    let mut ids = Vec::with_capacity(customers.len());
    let mut facts = Vec::with_capacity(customers.len());
    for (id, customer_id, region, home_store_id, create_time_us, orders, category_count) in customers {
        ids.push(id);
        let mut customer = CustomerFacts {
            customer_id,
            region,
            home_store_id,
            create_time: Micros(create_time_us),
            category_count,
            ..Default::default()
        };
        add_orders(&mut customer, orders.unwrap_or_default());
        facts.push(customer);
    }
    if let (Some(&first), Some(&last)) = (ids.first(), ids.last()) {
        let position: HashMap<i64, usize> = ids.iter().enumerate().map(|(index, id)| (*id, index)).collect();
        fill(db, scope, (first, last), &position, &mut facts).await?;
    }
    // A buyer is exactly a customer with a purchase fact.
    if !scope.include_non_buyers {
        facts.retain(|customer| !customer.purchases.is_empty());
    }
    Ok(Chunk { facts, last_id: ids.last().copied() })
}

/// One customer of a chunk as the query packs it: id, external id, region,
/// home store, creation time, orders (`[time, total, channel, status]`) and
/// category breadth.
type PackedCustomer = (i64, String, String, String, i64, Option<Vec<[i64; 4]>>, i64);

/// Adds the orders of one customer: completed ones as purchases, returned
/// ones to the returns.
fn add_orders(customer: &mut CustomerFacts, orders: Vec<[i64; 4]>) {
    for [at, total_minor, channel, status] in orders {
        if status == OrderStatus::Completed as i64 {
            let channel = SalesChannel::from_code(channel as i32).unwrap_or(SalesChannel::Store);
            customer.purchases.push(PurchaseFact { at: Micros(at), total_minor, channel });
        } else {
            customer.returns += 1;
        }
    }
}

/// The rows of the customers `first_id..=last_id` from each event table. The
/// queries are independent, so they run at once, each on its own pooled
/// connection.
async fn fill(
    db: &impl ConnectionTrait,
    scope: &FeatureScope,
    range: (i64, i64),
    position: &HashMap<i64, usize>,
    facts: &mut [CustomerFacts],
) -> Result<(), ServiceError> {
    let (contacts, feedback, carts, consents) = tokio::try_join!(
        contact_rows(db, scope, range),
        feedback_rows(db, scope, range),
        cart_rows(db, scope, range),
        consent_rows(db, scope, range),
    )?;
    let at = |row: &QueryResult| -> Result<Option<usize>, ServiceError> {
        Ok(position.get(&int(row, "customer_id")?).copied())
    };
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
