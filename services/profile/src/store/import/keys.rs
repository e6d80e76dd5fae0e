//! Row ids by external id for a whole batch, and the bare customer records an
//! import creates for customers its rows name before (or without) their own
//! customer rows.
//!
//! Callers join on the returned ids instead of joining the growing tables by
//! external id inside their writes, which keeps every statement's plan an
//! index probe per batch key.

use std::collections::HashMap;

use patron_common::ServiceError;
use sea_orm::{ConnectionTrait, DbBackend, Value};

use crate::domain::time::Micros;
use crate::store::row_source::{Column, RowSource};
use crate::store::sql::{self, int, text};

/// Keys per `IN (…)` list on SQLite, well under its bound-parameter limit.
const SQLITE_KEYS_PER_STATEMENT: usize = 500;

/// Row ids of the `table` rows that have these external ids; unknown ids are absent.
pub async fn ids_by_external_id(
    db: &impl ConnectionTrait,
    table: &'static str,
    external_ids: &[String],
) -> Result<HashMap<String, i64>, ServiceError> {
    let mut ids = HashMap::with_capacity(external_ids.len());
    if external_ids.is_empty() {
        return Ok(ids);
    }
    let mut collect = |rows: Vec<sea_orm::QueryResult>| -> Result<(), ServiceError> {
        for row in rows {
            ids.insert(text(&row, "external_id")?, int(&row, "id")?);
        }
        Ok(())
    };
    if db.get_database_backend() == DbBackend::Postgres {
        // One array parameter: one index probe per key, and the same statement text for every batch.
        let statement = format!("SELECT id, external_id FROM {table} WHERE external_id = ANY(?::text[])");
        collect(sql::query(db, &statement, vec![Value::from(external_ids.to_vec())]).await?)?;
    } else {
        for chunk in external_ids.chunks(SQLITE_KEYS_PER_STATEMENT) {
            let statement = format!(
                "SELECT id, external_id FROM {table} WHERE external_id IN ({})",
                sql::placeholders(chunk.len())
            );
            collect(sql::query(db, &statement, chunk.iter().map(|id| Value::from(id.clone())).collect()).await?)?;
        }
    }
    Ok(ids)
}

/// The earliest time each customer is seen in the given (customer, time) pairs.
pub fn first_seen<'a>(sightings: impl Iterator<Item = (&'a str, Micros)>) -> HashMap<&'a str, Micros> {
    let mut first: HashMap<&str, Micros> = HashMap::new();
    for (customer_id, at) in sightings {
        let seen = first.entry(customer_id).or_insert(at);
        *seen = (*seen).min(at);
    }
    first
}

/// Row ids of the named customers, creating a bare record (created when first
/// seen) for each one not stored yet.
pub async fn ensure_customers(
    db: &impl ConnectionTrait,
    first_seen: HashMap<&str, Micros>,
) -> Result<HashMap<String, i64>, ServiceError> {
    let mut wanted: Vec<String> = first_seen.keys().map(|id| (*id).to_owned()).collect();
    wanted.sort_unstable();
    let mut ids = ids_by_external_id(db, "customers", &wanted).await?;
    let missing: Vec<&String> = wanted.iter().filter(|id| !ids.contains_key(id.as_str())).collect();
    if missing.is_empty() {
        return Ok(ids);
    }
    let now = Micros::now().0;
    let source = RowSource::new(vec![
        ("external_id", Column::Text(missing.iter().map(|id| (*id).clone()).collect())),
        (
            "create_time_us",
            Column::BigInt(missing.iter().map(|id| first_seen.get(id.as_str()).map_or(now, |at| at.0)).collect()),
        ),
    ]);
    for chunk in source.chunks(db.get_database_backend()) {
        let statement = format!(
            "WITH {cte} INSERT INTO customers (external_id, name, email, phone, home_store_id, region, \
             create_time_us, update_time_us) SELECT v.external_id, '', '', '', '', '', v.create_time_us, {now} \
             FROM v WHERE 1 = 1 ON CONFLICT (external_id) DO NOTHING RETURNING id, external_id",
            cte = chunk.cte,
        );
        for row in sql::query(db, &statement, chunk.values).await? {
            ids.insert(text(&row, "external_id")?, int(&row, "id")?);
        }
    }
    // A concurrent import may have created some of them first (those conflicted and returned nothing).
    let raced: Vec<String> = missing.into_iter().filter(|id| !ids.contains_key(id.as_str())).cloned().collect();
    ids.extend(ids_by_external_id(db, "customers", &raced).await?);
    Ok(ids)
}

/// The row id of a customer [`ensure_customers`] resolved.
pub fn customer_pk(ids: &HashMap<String, i64>, customer_id: &str) -> Result<i64, ServiceError> {
    ids.get(customer_id).copied().ok_or_else(|| ServiceError::internal(format!("customer {customer_id} has no row id")))
}
