//! The report rollup: every completed or returned order as a compact,
//! time-sorted fact held in memory, so KPIs and the Pareto report over a
//! million orders are one pass over an array instead of grouped scans of the
//! orders table (which take seconds at that size).
//!
//! The facts are reloaded whenever the change counter kept by database
//! triggers (migration `report_changes`) has moved since they were read, so a
//! report never sees data older than the last committed write. The counter
//! and the facts are read in one snapshot.

use std::collections::HashMap;
use std::sync::Arc;

use patron_common::ServiceError;
use sea_orm::{AccessMode, ConnectionTrait, DatabaseConnection, DbBackend, IsolationLevel, TransactionTrait};
use tokio::sync::Mutex;

use super::sql::{self, int, optional_int, text};
use crate::domain::order::OrderStatus;

/// The customer index of an anonymous (or erased) order.
pub const ANONYMOUS: u32 = u32::MAX;

/// One order, as the reports need it.
#[derive(Debug, Clone, Copy)]
pub struct OrderFact {
    pub place_time_us: i64,
    pub total_minor: i64,
    /// Revenue less cost over the order's lines (meaningful when it has lines).
    pub margin_minor: i64,
    /// Index into [`OrderFacts::customer_ids`], or [`ANONYMOUS`].
    pub customer: u32,
    pub store: u32,
    pub region: u32,
    pub currency: u32,
    pub channel: i16,
    pub status: i16,
    pub lines: u32,
    pub lines_without_cost: u32,
}

/// Distinct strings of one column, numbered in first-seen order.
#[derive(Debug, Default)]
pub struct Dictionary {
    codes: HashMap<String, u32>,
}

impl Dictionary {
    fn code(&mut self, value: String) -> u32 {
        let next = self.codes.len() as u32;
        *self.codes.entry(value).or_insert(next)
    }

    /// The code of `value`, if any order carries it.
    pub fn find(&self, value: &str) -> Option<u32> {
        self.codes.get(value).copied()
    }
}

/// All completed and returned orders, sorted by place time.
#[derive(Debug, Default)]
pub struct OrderFacts {
    pub orders: Vec<OrderFact>,
    /// Internal customer id of each customer index.
    pub customer_ids: Vec<i64>,
    customer_indexes: HashMap<i64, u32>,
    pub stores: Dictionary,
    pub regions: Dictionary,
    pub currencies: Dictionary,
    version: (i64, i64),
}

impl OrderFacts {
    /// The orders placed before `end`.
    pub fn before(&self, end: i64) -> &[OrderFact] {
        let count = self.orders.partition_point(|order| order.place_time_us < end);
        &self.orders[..count]
    }

    /// The orders placed in `[start, end)`.
    pub fn between(&self, start: i64, end: i64) -> &[OrderFact] {
        let before_end = self.before(end);
        let first = before_end.partition_point(|order| order.place_time_us < start);
        &before_end[first..]
    }

    /// The customer index of an internal customer id, if the customer has orders.
    pub fn customer_index(&self, customer_id: i64) -> Option<u32> {
        self.customer_indexes.get(&customer_id).copied()
    }
}

/// The facts of one database, shared by every report request.
#[derive(Default)]
pub struct OrderFactsCache {
    current: Mutex<Option<Arc<OrderFacts>>>,
}

/// Orders read per query while loading, so no result set holds them all.
const LOAD_CHUNK: i64 = 100_000;

impl OrderFactsCache {
    /// The facts as of the last committed write; reloads them first if any
    /// write happened since they were read. Concurrent callers share one load.
    pub async fn get(&self, db: &DatabaseConnection) -> Result<Arc<OrderFacts>, ServiceError> {
        let mut current = self.current.lock().await;
        let version = change_version(db).await?;
        if let Some(facts) = current.as_ref().filter(|facts| facts.version == version) {
            return Ok(Arc::clone(facts));
        }
        *current = None; // Free the stale facts before building new ones.
        compact_change_log(db).await?;
        let started = std::time::Instant::now();
        let facts = Arc::new(load(db).await?);
        tracing::info!(
            orders = facts.orders.len(),
            elapsed_ms = started.elapsed().as_millis() as u64,
            "order facts loaded"
        );
        *current = Some(Arc::clone(&facts));
        Ok(facts)
    }
}

/// The change counter kept by the `report_changes` triggers (see that migration).
async fn change_version(db: &impl ConnectionTrait) -> Result<(i64, i64), ServiceError> {
    let counter = match db.get_database_backend() {
        DbBackend::Postgres => "SELECT COUNT(*) AS changes, COALESCE(MAX(id), 0) AS last FROM report_changes",
        _ => "SELECT changes, id AS last FROM report_changes",
    };
    let rows = sql::query(db, counter, vec![]).await?;
    let row = rows.first().ok_or_else(|| ServiceError::internal("report_changes answered no row"))?;
    Ok((int(row, "changes")?, int(row, "last")?))
}

/// Change-log rows kept on PostgreSQL before a reload folds them into one.
const CHANGE_LOG_COMPACT_AT: i64 = 1_000;

/// Keeps PostgreSQL's append-only change log short, so the per-request
/// counter stays cheap. Runs only before a reload, which then reads the
/// compacted counter in its own snapshot. Uncommitted rows are invisible to
/// the delete and still raise the count when they commit, and other replicas
/// see the count move and reload once, so no write goes unnoticed.
async fn compact_change_log(db: &DatabaseConnection) -> Result<(), ServiceError> {
    if db.get_database_backend() != DbBackend::Postgres {
        return Ok(()); // SQLite keeps a single counter row.
    }
    let (changes, _) = change_version(db).await?;
    if changes > CHANGE_LOG_COMPACT_AT {
        sql::execute(db, "DELETE FROM report_changes WHERE id < (SELECT MAX(id) FROM report_changes)", vec![]).await?;
    }
    Ok(())
}

async fn load(db: &DatabaseConnection) -> Result<OrderFacts, ServiceError> {
    // One snapshot for the counter and the rows: the version then names exactly this data.
    let transaction = match db.get_database_backend() {
        DbBackend::Postgres => {
            db.begin_with_config(Some(IsolationLevel::RepeatableRead), Some(AccessMode::ReadOnly)).await?
        }
        _ => db.begin().await?,
    };
    let mut facts = OrderFacts { version: change_version(&transaction).await?, ..Default::default() };
    let rows = sql::query(&transaction, "SELECT COALESCE(MAX(id), 0) AS last FROM orders", vec![]).await?;
    let last_id = rows.first().map(|row| int(row, "last")).transpose()?.unwrap_or(0);
    let mut after = 0;
    while after < last_id {
        let upto = after.saturating_add(LOAD_CHUNK);
        load_range(&transaction, (after, upto), &mut facts).await?;
        after = upto;
    }
    transaction.commit().await?;
    facts.orders.sort_by_key(|order| order.place_time_us);
    Ok(facts)
}

/// Loads the orders with `after < id <= upto`, each with its lines summed.
async fn load_range(
    db: &impl ConnectionTrait,
    (after, upto): (i64, i64),
    facts: &mut OrderFacts,
) -> Result<(), ServiceError> {
    let rows = sql::query(
        db,
        // Small integers as BIGINT, which the row decoder tries first.
        "SELECT o.customer_id, o.place_time_us, CAST(o.channel AS BIGINT) AS channel, o.store_id, o.region, \
         o.currency_code, CAST(o.status AS BIGINT) AS status, o.total_minor, l.lines, l.lines_without_cost, l.margin \
         FROM orders o LEFT JOIN \
         (SELECT order_id, COUNT(*) AS lines, \
          COUNT(CASE WHEN unit_cost_minor IS NULL THEN 1 END) AS lines_without_cost, \
          CAST(SUM(quantity * unit_price_minor - discount_minor - quantity * COALESCE(unit_cost_minor, 0)) AS BIGINT) \
          AS margin \
          FROM order_lines WHERE order_id > ? AND order_id <= ? GROUP BY order_id) l ON l.order_id = o.id \
         WHERE o.id > ? AND o.id <= ? AND o.status IN (?, ?)",
        vec![
            after.into(),
            upto.into(),
            after.into(),
            upto.into(),
            (OrderStatus::Completed as i16).into(),
            (OrderStatus::Returned as i16).into(),
        ],
    )
    .await?;
    facts.orders.reserve(rows.len());
    for row in &rows {
        let customer = match optional_int(row, "customer_id")? {
            None => ANONYMOUS,
            Some(id) => *facts.customer_indexes.entry(id).or_insert_with(|| {
                facts.customer_ids.push(id);
                facts.customer_ids.len() as u32 - 1
            }),
        };
        let small = |column: &str| -> Result<i16, ServiceError> {
            i16::try_from(int(row, column)?)
                .map_err(|_| ServiceError::internal(format!("column {column} out of range")))
        };
        facts.orders.push(OrderFact {
            place_time_us: int(row, "place_time_us")?,
            total_minor: int(row, "total_minor")?,
            margin_minor: optional_int(row, "margin")?.unwrap_or(0),
            customer,
            store: facts.stores.code(text(row, "store_id")?),
            region: facts.regions.code(text(row, "region")?),
            currency: facts.currencies.code(text(row, "currency_code")?),
            channel: small("channel")?,
            status: small("status")?,
            lines: u32::try_from(optional_int(row, "lines")?.unwrap_or(0)).unwrap_or(u32::MAX),
            lines_without_cost: u32::try_from(optional_int(row, "lines_without_cost")?.unwrap_or(0))
                .unwrap_or(u32::MAX),
        });
    }
    Ok(())
}
