//! Right to erasure. In one transaction: the customer's record, tags,
//! attributes, consents and campaign exposures are deleted; orders, contacts,
//! feedback and carts lose their link to the person (orders stay as anonymous
//! revenue, so sales aggregates are unchanged) and feedback loses its free-text
//! comment; remembered request ids that name the customer are dropped. An audit
//! row keeps who erased, when, why, and a keyed hash of the id — enough to
//! prove an erasure happened, not to recover whom it concerned.
//!
//! Erasing an id that is already erased answers with its audit record, so a
//! caller whose erasure was interrupted downstream (the gateway goes on to
//! the model services) can simply repeat the call.

use hmac::{Hmac, KeyInit, Mac};
use patron_common::ServiceError;
use sea_orm::{ActiveModelTrait, ColumnTrait, DatabaseConnection, EntityTrait, QueryFilter, QueryOrder, Set, Value};
use sha2::Sha256;

use super::entities::erasure_audit;
use super::sql;
use crate::domain::time::Micros;

#[derive(Debug, Clone)]
pub struct Erasure {
    pub customer_id_hash: String,
    pub erase_time: Micros,
    /// Orders this call anonymised: 0 when the id was already erased.
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
    let customer_id_hash = hash_id(hash_key, customer_id)?;
    let transaction = patron_common::storage::begin_write(db).await?;
    let row = match super::customers::find_row(&transaction, customer_id).await {
        Ok(row) => row,
        Err(not_found @ ServiceError::NotFound { .. }) => {
            transaction.rollback().await?;
            return earlier_erasure(db, &customer_id_hash).await?.ok_or(not_found);
        }
        Err(error) => return Err(error),
    };
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

/// The latest audit record of an erased id, by its keyed hash.
async fn earlier_erasure(db: &DatabaseConnection, customer_id_hash: &str) -> Result<Option<Erasure>, ServiceError> {
    let audit = erasure_audit::Entity::find()
        .filter(erasure_audit::Column::CustomerIdHash.eq(customer_id_hash))
        .order_by_desc(erasure_audit::Column::EraseTimeUs)
        .one(db)
        .await?;
    Ok(audit.map(|audit| Erasure {
        customer_id_hash: audit.customer_id_hash,
        erase_time: Micros(audit.erase_time_us),
        orders_anonymised: 0,
    }))
}
