//! Right to erasure. In one transaction: the customer's record, tags,
//! attributes, consents and campaign exposures are deleted; orders, contacts,
//! feedback and carts lose their link to the person (orders stay as anonymous
//! revenue, so sales aggregates are unchanged) and feedback loses its free-text
//! comment; remembered request ids that name the customer are dropped. An audit
//! row keeps who erased, when, why, and a keyed hash of the id — enough to
//! prove an erasure happened, not to recover whom it concerned.

use hmac::{Hmac, KeyInit, Mac};
use patron_common::ServiceError;
use sea_orm::{ActiveModelTrait, DatabaseConnection, Set, TransactionTrait, Value};
use sha2::Sha256;

use super::entities::erasure_audit;
use super::sql;
use crate::domain::time::Micros;

#[derive(Debug, Clone)]
pub struct Erasure {
    pub customer_id_hash: String,
    pub erase_time: Micros,
    pub orders_anonymised: i64,
}

/// Keyed SHA-256 (HMAC) of an external id, hex-encoded.
pub fn hash_id(key: &[u8], customer_id: &str) -> Result<String, ServiceError> {
    let mut mac = Hmac::<Sha256>::new_from_slice(key).map_err(ServiceError::internal)?;
    mac.update(customer_id.as_bytes());
    Ok(mac.finalize().into_bytes().iter().map(|byte| format!("{byte:02x}")).collect())
}

pub async fn erase(
    db: &DatabaseConnection,
    customer_id: &str,
    erased_by: &str,
    reason: &str,
    hash_key: &[u8],
) -> Result<Erasure, ServiceError> {
    let transaction = db.begin().await?;
    let row = super::customers::find_row(&transaction, customer_id).await?;
    let id: Value = row.id.into();
    let orders =
        sql::query(&transaction, "SELECT COUNT(*) AS n FROM orders WHERE customer_id = ?", vec![id.clone()]).await?;
    let orders_anonymised = orders.first().map(|row| sql::int(row, "n")).transpose()?.unwrap_or(0);
    for statement in [
        "UPDATE orders SET customer_id = NULL WHERE customer_id = ?",
        "UPDATE support_contacts SET customer_id = NULL WHERE customer_id = ?",
        "UPDATE feedback SET customer_id = NULL, comment = '' WHERE customer_id = ?",
        "UPDATE cart_events SET customer_id = NULL WHERE customer_id = ?",
        "DELETE FROM campaign_exposures WHERE customer_id = ?",
        "DELETE FROM customer_tags WHERE customer_id = ?",
        "DELETE FROM customer_attributes WHERE customer_id = ?",
        "DELETE FROM customer_consents WHERE customer_id = ?",
        "DELETE FROM customers WHERE id = ?",
    ] {
        sql::execute(&transaction, statement, vec![id.clone()]).await?;
    }
    sql::execute(&transaction, "DELETE FROM idempotency_keys WHERE resource_id = ?", vec![customer_id.into()]).await?;
    let erase_time = Micros::now();
    let customer_id_hash = hash_id(hash_key, customer_id)?;
    erasure_audit::ActiveModel {
        customer_id_hash: Set(customer_id_hash.clone()),
        erased_by: Set(erased_by.to_owned()),
        reason: Set(reason.to_owned()),
        erase_time_us: Set(erase_time.0),
        ..Default::default()
    }
    .insert(&transaction)
    .await?;
    transaction.commit().await?;
    Ok(Erasure { customer_id_hash, erase_time, orders_anonymised })
}
