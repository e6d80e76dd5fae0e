//! One customer's facts before a cutoff, for the customer-360 summary.
//!
//! The feature export gathers facts for chunks of customers with six grouped
//! queries; for one customer that is six round trips on the hot path of
//! GetCustomer360. Here the facts come from the customer's orders (which the
//! summary reads once, for the recent orders too) and one statement with
//! every engagement figure as a scalar subquery. They feed the same
//! `domain::features::compute` as the export, so the summary and the export
//! cannot disagree. Category breadth, carts and consents are not part of the
//! summary and stay empty.

use patron_common::ServiceError;
use sea_orm::{ConnectionTrait, Value};

use super::entities::{customer, order};
use super::sql::{self, int, optional_int};
use crate::domain::features::{CustomerFacts, PurchaseFact};
use crate::domain::order::{OrderStatus, SalesChannel};
use crate::domain::time::Micros;

/// Support contacts and survey answers of one customer before a cutoff.
#[derive(Debug, Default)]
pub struct Engagement {
    contacts: i64,
    complaints: i64,
    last_contact: Option<Micros>,
    last_nps: Option<i32>,
    last_csat: Option<i32>,
}

/// The facts of the customer stored as `row`, from `orders` (theirs, placed
/// before the cutoff `engagement` was read at) and that engagement; only
/// orders in `currency_code` count, as in the export.
pub fn from_orders(
    row: &customer::Model,
    orders: &[order::Model],
    engagement: Engagement,
    currency_code: &str,
) -> CustomerFacts {
    let mut facts = CustomerFacts {
        customer_id: row.external_id.clone(),
        region: row.region.clone(),
        home_store_id: row.home_store_id.clone(),
        create_time: Micros(row.create_time_us),
        contacts: engagement.contacts,
        complaints: engagement.complaints,
        last_contact: engagement.last_contact,
        last_nps: engagement.last_nps,
        last_csat: engagement.last_csat,
        ..Default::default()
    };
    for order in orders.iter().filter(|order| order.currency_code == currency_code) {
        let status = i32::from(order.status);
        if status == OrderStatus::Completed as i32 {
            let channel = SalesChannel::from_code(i32::from(order.channel)).unwrap_or(SalesChannel::Store);
            facts.purchases.push(PurchaseFact {
                at: Micros(order.place_time_us),
                total_minor: order.total_minor,
                channel,
            });
        } else if status == OrderStatus::Returned as i32 {
            facts.returns += 1;
        }
    }
    facts
}

/// The engagement of `customer` (internal id) from events strictly before `cutoff`.
pub async fn engagement(db: &impl ConnectionTrait, customer: i64, cutoff: Micros) -> Result<Engagement, ServiceError> {
    let Some(row) = engagement_row(db, customer, cutoff).await?.into_iter().next() else {
        return Ok(Engagement::default());
    };
    Ok(Engagement {
        contacts: int(&row, "contacts")?,
        complaints: int(&row, "complaints")?,
        last_contact: optional_int(&row, "last_contact")?.map(Micros),
        last_nps: optional_int(&row, "nps")?.map(|nps| nps as i32),
        last_csat: optional_int(&row, "csat")?.map(|csat| csat as i32),
    })
}

/// Contacts, complaints, the last contact, and the last NPS and CSAT answers
/// (latest by time, then by id, as the export orders them).
async fn engagement_row(
    db: &impl ConnectionTrait,
    customer: i64,
    cutoff: Micros,
) -> Result<Vec<sea_orm::QueryResult>, ServiceError> {
    let mut values: Vec<Value> = Vec::with_capacity(10);
    for _ in 0..5 {
        values.push(customer.into());
        values.push(cutoff.0.into());
    }
    sql::query(
        db,
        "SELECT \
         (SELECT COUNT(*) FROM support_contacts WHERE customer_id = ? AND open_time_us < ?) AS contacts, \
         (SELECT COUNT(*) FROM support_contacts WHERE customer_id = ? AND open_time_us < ? AND complaint) \
           AS complaints, \
         (SELECT MAX(open_time_us) FROM support_contacts WHERE customer_id = ? AND open_time_us < ?) \
           AS last_contact, \
         (SELECT CAST(nps AS BIGINT) FROM feedback WHERE customer_id = ? AND submit_time_us < ? \
           AND nps IS NOT NULL ORDER BY submit_time_us DESC, id DESC LIMIT 1) AS nps, \
         (SELECT CAST(csat AS BIGINT) FROM feedback WHERE customer_id = ? AND submit_time_us < ? \
           AND csat IS NOT NULL ORDER BY submit_time_us DESC, id DESC LIMIT 1) AS csat",
        values,
    )
    .await
}
