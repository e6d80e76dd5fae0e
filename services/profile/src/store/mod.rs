//! The profile service's storage: sea-orm entities and the queries over them.
//! Every write that touches several rows runs in one transaction.

pub mod campaigns;
pub mod customer_facts;
pub mod customers;
pub mod entities;
pub mod erasure;
pub mod events;
pub mod features;
pub mod idempotency;
pub mod import;
pub mod import_customers;
pub mod import_orders;
pub mod kpis;
pub mod lists;
pub mod order_facts;
pub mod orders;
pub mod pareto;
pub mod report_filter;
pub mod row_source;
pub mod series;
pub mod sql;

/// Keyset pagination: a page token is the last row id seen, opaque to clients.
pub mod page_token {
    use patron_common::ServiceError;

    pub fn encode(last_id: i64) -> String {
        format!("p{last_id:x}")
    }

    /// The id after which the page starts (0 for the first page).
    pub fn decode(token: &str) -> Result<i64, ServiceError> {
        if token.is_empty() {
            return Ok(0);
        }
        token
            .strip_prefix('p')
            .and_then(|hex| i64::from_str_radix(hex, 16).ok())
            .filter(|id| *id > 0)
            .ok_or_else(|| ServiceError::invalid("page_token", "is not a token this service issued"))
    }
}
