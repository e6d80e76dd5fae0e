//! The report rollup: every completed or returned order as a compact,
//! time-sorted fact held in memory, so KPIs and the Pareto report over a
//! million orders are one pass over an array instead of grouped scans of the
//! orders table (which take seconds at that size).
//!
//! Before each report the change log kept by database triggers (migrations
//! `report_changes`, `report_change_orders`) is checked, so a report never
//! sees data older than the last committed write. The orders written since
//! the facts were read are re-read and merged into a new copy of the facts,
//! which then replaces the old one whole: a reader holds either. Only when
//! the log cannot say what changed are all orders reloaded. The log position
//! and the orders are read in one snapshot.

mod changes;

use std::collections::HashMap;
use std::sync::Arc;

use patron_common::ServiceError;
use sea_orm::{
    AccessMode, ConnectionTrait, DatabaseConnection, DatabaseTransaction, DbBackend, IsolationLevel, TransactionTrait,
    Value,
};
use tokio::sync::Mutex;

use super::sql::{self, int, optional_int, text};
use crate::domain::order::OrderStatus;
use changes::{Changes, Position};

/// The customer index of an anonymous (or erased) order.
pub const ANONYMOUS: u32 = u32::MAX;

/// One order, as the reports need it.
#[derive(Debug, Clone, Copy)]
pub struct OrderFact {
    /// The order's internal id: what the change log names.
    pub order_id: i64,
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
#[derive(Debug, Default, Clone)]
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

/// All completed and returned orders, sorted by place time (then id).
#[derive(Debug, Default)]
pub struct OrderFacts {
    pub orders: Vec<OrderFact>,
    /// Internal customer id of each customer index.
    pub customer_ids: Vec<i64>,
    customer_indexes: HashMap<i64, u32>,
    pub stores: Dictionary,
    pub regions: Dictionary,
    pub currencies: Dictionary,
    /// Where in the change log these facts were read; `None` until loaded.
    position: Option<Position>,
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

    /// These facts with the orders `changed` replaced by their `fresh` rows
    /// (those still completed or returned), read at `position`. `coded` holds
    /// the dictionaries and customer indexes the fresh rows were coded with.
    fn with_changes(&self, changed: &[i64], mut fresh: Vec<OrderFact>, coded: OrderFacts, position: Position) -> Self {
        fresh.sort_unstable_by_key(time_order);
        let mut fresh = fresh.into_iter().peekable();
        let mut orders = Vec::with_capacity(self.orders.len() + fresh.len());
        for order in self.orders.iter().filter(|order| changed.binary_search(&order.order_id).is_err()) {
            while let Some(earlier) = fresh.next_if(|fresh| time_order(fresh) < time_order(order)) {
                orders.push(earlier);
            }
            orders.push(*order);
        }
        orders.extend(fresh);
        Self { orders, position: Some(position), ..coded }
    }

    /// An empty copy that codes new rows as these facts do.
    fn codes(&self) -> Self {
        Self {
            orders: Vec::new(),
            customer_ids: self.customer_ids.clone(),
            customer_indexes: self.customer_indexes.clone(),
            stores: self.stores.clone(),
            regions: self.regions.clone(),
            currencies: self.currencies.clone(),
            position: None,
        }
    }
}

/// The order of the facts: by place time, ties by id, so an incremental
/// refresh and a full load give the same array.
fn time_order(order: &OrderFact) -> (i64, i64) {
    (order.place_time_us, order.order_id)
}

/// The facts of one database, shared by every report request.
#[derive(Default)]
pub struct OrderFactsCache {
    current: Mutex<Option<Arc<OrderFacts>>>,
}

/// Orders read per query while loading, so no result set holds them all.
const LOAD_CHUNK: i64 = 100_000;

/// Changed orders re-read per query (their ids are bound as one parameter).
const REREAD_CHUNK: usize = 10_000;

impl OrderFactsCache {
    /// The facts as of the last committed write; brings them up to date
    /// first if anything was written since they were read. One refresh at a
    /// time; concurrent callers wait for it and share its result.
    pub async fn get(&self, db: &DatabaseConnection) -> Result<Arc<OrderFacts>, ServiceError> {
        let mut current = self.current.lock().await;
        let stale = match current.as_ref().and_then(|facts| facts.position.as_ref()) {
            Some(position) => changes::any_since(db, position).await?,
            None => true,
        };
        if let (false, Some(facts)) = (stale, current.as_ref()) {
            return Ok(Arc::clone(facts));
        }
        let started = std::time::Instant::now();
        let refreshed = match current.as_deref() {
            Some(facts) => refresh(db, facts).await?,
            None => None,
        };
        let (facts, how) = match refreshed {
            Some(facts) => (facts, "applied changes"),
            None => {
                *current = None; // Free the stale facts before reading them all again.
                (load(db).await?, "reloaded")
            }
        };
        tracing::info!(
            orders = facts.orders.len(),
            elapsed_ms = started.elapsed().as_millis() as u64,
            how,
            "order facts"
        );
        let facts = Arc::new(facts);
        *current = Some(Arc::clone(&facts));
        if let Some(position) = facts.position.clone() {
            fold_in_background(db.clone(), position);
        }
        Ok(facts)
    }
}

/// Folds the applied part of the change log off the request path.
fn fold_in_background(db: DatabaseConnection, position: Position) {
    tokio::spawn(async move {
        let folded = async {
            let transaction = db.begin().await?;
            changes::fold(&transaction, &position).await?;
            transaction.commit().await?;
            Ok::<(), ServiceError>(())
        };
        if let Err(error) = folded.await {
            tracing::warn!(%error, "report change log not folded");
        }
    });
}

/// A transaction whose reads all see one snapshot, the change-log position included.
async fn snapshot(db: &DatabaseConnection) -> Result<DatabaseTransaction, ServiceError> {
    Ok(match db.get_database_backend() {
        DbBackend::Postgres => {
            db.begin_with_config(Some(IsolationLevel::RepeatableRead), Some(AccessMode::ReadOnly)).await?
        }
        _ => db.begin().await?,
    })
}

/// `facts` with the orders changed since they were read applied, or `None`
/// when the log cannot say what changed (or so much did that a full load is
/// as cheap).
async fn refresh(db: &DatabaseConnection, facts: &OrderFacts) -> Result<Option<OrderFacts>, ServiceError> {
    let Some(since) = facts.position.as_ref() else { return Ok(None) };
    let transaction = snapshot(db).await?;
    let position = changes::current(&transaction).await?;
    let changed = match changes::since(&transaction, since).await? {
        // Re-reading orders by id costs about what loading them does: past
        // half of all orders, a full load is as cheap and simpler.
        Changes::Orders(changed) if changed.len() <= REREAD_CHUNK.max(facts.orders.len() / 2) => changed,
        _ => return Ok(None),
    };
    let mut coded = facts.codes();
    let mut fresh = Vec::new();
    for ids in changed.chunks(REREAD_CHUNK) {
        let set = order_id_set(db.get_database_backend());
        let list = Value::from(serde_json::Value::from(ids.to_vec()).to_string());
        let condition = OrderRange {
            lines: format!("order_id IN ({set})"),
            orders: format!("o.id IN ({set})"),
            values: vec![list.clone(), list],
        };
        fresh.extend(read_orders(&transaction, condition, &mut coded).await?);
    }
    transaction.commit().await?;
    Ok(Some(facts.with_changes(&changed, fresh, coded, position)))
}

/// A subquery yielding the integers of one bound JSON array parameter.
fn order_id_set(backend: DbBackend) -> &'static str {
    match backend {
        DbBackend::Postgres => "SELECT CAST(jsonb_array_elements_text(CAST(? AS jsonb)) AS BIGINT)",
        _ => "SELECT value FROM json_each(?)",
    }
}

async fn load(db: &DatabaseConnection) -> Result<OrderFacts, ServiceError> {
    let transaction = snapshot(db).await?;
    let mut facts = OrderFacts { position: Some(changes::current(&transaction).await?), ..Default::default() };
    let rows = sql::query(&transaction, "SELECT COALESCE(MAX(id), 0) AS last FROM orders", vec![]).await?;
    let last_id = rows.first().map(|row| int(row, "last")).transpose()?.unwrap_or(0);
    let mut after = 0;
    while after < last_id {
        let upto = after.saturating_add(LOAD_CHUNK);
        let condition = OrderRange {
            lines: "order_id > ? AND order_id <= ?".to_owned(),
            orders: "o.id > ? AND o.id <= ?".to_owned(),
            values: vec![after.into(), upto.into(), after.into(), upto.into()],
        };
        let mut orders = read_orders(&transaction, condition, &mut facts).await?;
        facts.orders.append(&mut orders);
        after = upto;
    }
    transaction.commit().await?;
    facts.orders.sort_unstable_by_key(time_order);
    Ok(facts)
}

/// Which orders to read: a condition on `order_lines.order_id`, the same on
/// `orders` (alias `o`), and the values of both in that order.
struct OrderRange {
    lines: String,
    orders: String,
    values: Vec<Value>,
}

/// The completed and returned orders `which` selects, each with its lines
/// summed, coded with the dictionaries and customer indexes of `facts`.
async fn read_orders(
    db: &impl ConnectionTrait,
    which: OrderRange,
    facts: &mut OrderFacts,
) -> Result<Vec<OrderFact>, ServiceError> {
    let OrderRange { lines, orders, mut values } = which;
    values.push((OrderStatus::Completed as i16).into());
    values.push((OrderStatus::Returned as i16).into());
    let rows = sql::query(
        db,
        // Small integers as BIGINT, which the row decoder tries first.
        &format!(
            "SELECT o.id, o.customer_id, o.place_time_us, CAST(o.channel AS BIGINT) AS channel, o.store_id, \
             o.region, o.currency_code, CAST(o.status AS BIGINT) AS status, o.total_minor, l.lines, \
             l.lines_without_cost, l.margin \
             FROM orders o LEFT JOIN \
             (SELECT order_id, COUNT(*) AS lines, \
              COUNT(CASE WHEN unit_cost_minor IS NULL THEN 1 END) AS lines_without_cost, \
              CAST(SUM(quantity * unit_price_minor - discount_minor - quantity * COALESCE(unit_cost_minor, 0)) \
              AS BIGINT) AS margin \
              FROM order_lines WHERE {lines} GROUP BY order_id) l ON l.order_id = o.id \
             WHERE {orders} AND o.status IN (?, ?)"
        ),
        values,
    )
    .await?;
    let mut read = Vec::with_capacity(rows.len());
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
        read.push(OrderFact {
            order_id: int(row, "id")?,
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
    Ok(read)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fact(order_id: i64, place_time_us: i64, total_minor: i64) -> OrderFact {
        OrderFact {
            order_id,
            place_time_us,
            total_minor,
            margin_minor: 0,
            customer: ANONYMOUS,
            store: 0,
            region: 0,
            currency: 0,
            channel: 1,
            status: OrderStatus::Completed as i16,
            lines: 0,
            lines_without_cost: 0,
        }
    }

    fn ids(facts: &OrderFacts) -> Vec<(i64, i64)> {
        facts.orders.iter().map(|order| (order.order_id, order.total_minor)).collect()
    }

    #[test]
    fn changes_replace_remove_and_merge_in_time_order() {
        let facts = OrderFacts {
            orders: vec![fact(1, 10, 100), fact(2, 20, 200), fact(3, 20, 300), fact(4, 40, 400)],
            ..Default::default()
        };
        // 2 changed total, 3 left (cancelled), 4 moved earlier, 5 is new and ties with 2 at time 20.
        let fresh = vec![fact(5, 20, 500), fact(4, 5, 450), fact(2, 20, 250)];
        let next = facts.with_changes(&[2, 3, 4, 5], fresh, facts.codes(), Position::Sequence(9));
        assert_eq!(ids(&next), [(4, 450), (1, 100), (2, 250), (5, 500)]);
        assert_eq!(next.position, Some(Position::Sequence(9)));
        assert_eq!(ids(&facts).len(), 4, "the facts readers hold are untouched");
    }

    #[test]
    fn new_customers_and_strings_extend_the_codes_without_renumbering() {
        let mut facts = OrderFacts::default();
        let known = facts.stores.code("s-1".to_owned());
        facts.customer_indexes.insert(7, 0);
        facts.customer_ids.push(7);
        let mut coded = facts.codes();
        assert_eq!(coded.stores.code("s-1".to_owned()), known);
        assert_eq!(coded.stores.code("s-2".to_owned()), known + 1);
        assert_eq!(coded.customer_index(7), Some(0));
    }
}
