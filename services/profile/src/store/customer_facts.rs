//! One customer's facts before a cutoff, for the customer-360 summary.
//!
//! The feature export gathers facts for chunks of customers with six grouped
//! queries; for one customer that is six round trips on the hot path of
//! GetCustomer360. Two queries give the same facts here: the customer's
//! orders, and every engagement figure as scalar subqueries of one statement.
//! The facts feed the same `domain::features::compute` as the export, so the
//! summary and the export cannot disagree. Category breadth, carts and
//! consents are not part of the summary and stay empty.

use patron_common::ServiceError;
use sea_orm::{ConnectionTrait, Value};

use super::entities::customer;
use super::sql::{self, int, optional_int};
use crate::domain::features::{CustomerFacts, PurchaseFact};
use crate::domain::order::{OrderStatus, SalesChannel};
use crate::domain::time::Micros;

/// Facts of the customer stored as `row`, from events strictly before
/// `cutoff`; only orders in `currency_code` count, as in the export.
pub async fn before(
    db: &impl ConnectionTrait,
    row: &customer::Model,
    cutoff: Micros,
    currency_code: &str,
) -> Result<CustomerFacts, ServiceError> {
    let (orders, engagement) =
        tokio::try_join!(order_rows(db, row.id, cutoff, currency_code), engagement_row(db, row.id, cutoff))?;
    let mut facts = CustomerFacts {
        customer_id: row.external_id.clone(),
        region: row.region.clone(),
        home_store_id: row.home_store_id.clone(),
        create_time: Micros(row.create_time_us),
        ..Default::default()
    };
    for order in &orders {
        let status = int(order, "status")?;
        if status == OrderStatus::Completed as i64 {
            let channel = SalesChannel::from_code(int(order, "channel")? as i32).unwrap_or(SalesChannel::Store);
            facts.purchases.push(PurchaseFact {
                at: Micros(int(order, "place_time_us")?),
                total_minor: int(order, "total_minor")?,
                channel,
            });
        } else if status == OrderStatus::Returned as i64 {
            facts.returns += 1;
        }
    }
    if let Some(engagement) = engagement.first() {
        facts.contacts = int(engagement, "contacts")?;
        facts.complaints = int(engagement, "complaints")?;
        facts.last_contact = optional_int(engagement, "last_contact")?.map(Micros);
        facts.last_nps = optional_int(engagement, "nps")?.map(|nps| nps as i32);
        facts.last_csat = optional_int(engagement, "csat")?.map(|csat| csat as i32);
    }
    Ok(facts)
}

async fn order_rows(
    db: &impl ConnectionTrait,
    customer: i64,
    cutoff: Micros,
    currency_code: &str,
) -> Result<Vec<sea_orm::QueryResult>, ServiceError> {
    sql::query(
        db,
        "SELECT place_time_us, total_minor, CAST(channel AS BIGINT) AS channel, CAST(status AS BIGINT) AS status \
         FROM orders WHERE customer_id = ? AND place_time_us < ? AND currency_code = ?",
        vec![customer.into(), cutoff.0.into(), currency_code.into()],
    )
    .await
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
