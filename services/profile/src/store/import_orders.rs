//! Set-based writes of imported order rows: a handful of multi-row statements
//! per batch, whatever its size.
//!
//! The batch's customers and stored orders are resolved to row ids first, so
//! no write joins the growing tables by external id. Orders new to the store
//! are inserted with the total and units of their lines in the batch, so a
//! fresh import writes each order once, and their lines are inserted without
//! the conflict handling an upsert pays for. Stored orders are upserted (the update
//! fires only when a field differs) and, when their lines changed, totalled
//! again over all their stored lines. A row counts as written when its
//! order's fields or its line changed; re-importing a file writes nothing.

use std::collections::{BTreeSet, HashMap, HashSet};

use patron_common::ServiceError;
use sea_orm::{ConnectionTrait, DbBackend, Value};

use super::import::keys::{customer_pk, ensure_customers, first_seen, ids_by_external_id};
use super::import::{Counts, OrderRow, any_differs};
use super::row_source::{Column, NULL_INT, RowSource};
use super::sql::{self, int, text};
use crate::domain::order::Order;

/// Orders per re-totalling statement, well under the bound-parameter limits.
const ORDERS_PER_STATEMENT: usize = 500;

/// One order of the batch: its fields (from its first row) and what its lines in the batch add up to.
struct Header<'a> {
    order: &'a Order,
    /// The batch carries lines for it; otherwise its rows carry a total only.
    lined: bool,
    /// Sum of its lines' amounts in the batch (or its given total); `None` on overflow.
    total_minor: Option<i64>,
    units: i64,
}

/// The outcome of the header upserts.
#[derive(Default)]
struct Upserted {
    /// Row id per external id, for every order of the batch.
    ids: HashMap<String, i64>,
    /// Orders inserted or changed.
    changed: HashSet<String>,
    /// Row ids of orders this batch inserted, whose totals are already their lines'.
    fresh: HashSet<i64>,
}

/// Writes the rows (all valid, with consistent order fields) in the caller's transaction.
pub async fn write(db: &impl ConnectionTrait, rows: &[OrderRow]) -> Result<Counts, ServiceError> {
    if rows.is_empty() {
        return Ok(Counts::default());
    }
    let customers = ensure_customers(
        db,
        first_seen(rows.iter().filter_map(|row| Some((row.order.customer_id.as_deref()?, row.order.place_time)))),
    )
    .await?;
    let headers = headers(rows);
    let external_ids: Vec<String> = headers.iter().map(|header| header.order.order_id.clone()).collect();
    let stored = ids_by_external_id(db, "orders", &external_ids).await?;
    let (lined, total_only): (Vec<&Header>, Vec<&Header>) = headers.iter().partition(|header| header.lined);
    let mut upserted = Upserted { ids: stored.clone(), ..Upserted::default() };
    upsert_headers(db, &lined, &customers, &stored, &mut upserted).await?;
    upsert_headers(db, &total_only, &customers, &stored, &mut upserted).await?;
    // An order another import inserted meanwhile, as this batch has it, conflicted and returned nothing.
    let raced: Vec<String> = external_ids.into_iter().filter(|id| !upserted.ids.contains_key(id)).collect();
    upserted.ids.extend(ids_by_external_id(db, "orders", &raced).await?);

    let (fresh_lines, stored_lines): (Vec<&OrderRow>, Vec<&OrderRow>) = rows
        .iter()
        .filter(|row| row.line.is_some())
        .partition(|row| upserted.ids.get(&row.order.order_id).is_some_and(|id| upserted.fresh.contains(id)));
    write_lines(db, &fresh_lines, &upserted.ids, Lines::OfFreshOrders).await?;
    let changed_lines = write_lines(db, &stored_lines, &upserted.ids, Lines::OfStoredOrders).await?;
    let overflowed = headers.iter().filter(|header| header.total_minor.is_none()).map(|header| &header.order.order_id);
    let retotal: BTreeSet<i64> = changed_lines
        .iter()
        .map(|(order_id, _)| *order_id)
        .filter(|order_id| !upserted.fresh.contains(order_id))
        .chain(overflowed.filter_map(|order_id| upserted.ids.get(order_id).copied()))
        .collect();
    total_from_stored_lines(db, &retotal.into_iter().collect::<Vec<_>>()).await?;

    let mut counts = Counts::default();
    for row in rows {
        let header_changed = upserted.changed.contains(&row.order.order_id);
        let line_changed = row.line.as_ref().is_some_and(|line| {
            upserted
                .ids
                .get(&row.order.order_id)
                .is_some_and(|order_id| changed_lines.contains(&(*order_id, line.line_number)))
        });
        counts.add(header_changed || line_changed);
    }
    Ok(counts)
}

/// One header per order, in first-row order; later rows of an order agree on
/// its fields (or were rejected) and add their lines to its total.
fn headers(rows: &[OrderRow]) -> Vec<Header<'_>> {
    let mut headers: Vec<Header> = Vec::new();
    let mut position: HashMap<&str, usize> = HashMap::new();
    for row in rows {
        let index = *position.entry(row.order.order_id.as_str()).or_insert_with(|| {
            headers.push(Header { order: &row.order, lined: false, total_minor: Some(0), units: 0 });
            headers.len() - 1
        });
        let header = &mut headers[index];
        match &row.line {
            Some(line) => {
                if !header.lined {
                    // Lines decide the total; a total-only row of the same order is ignored.
                    header.lined = true;
                    header.total_minor = Some(0);
                }
                header.total_minor = header.total_minor.and_then(|total| total.checked_add(line.amount_minor()?));
                header.units = header.units.saturating_add(line.quantity);
            }
            None if !header.lined => header.total_minor = Some(row.order.total_minor),
            None => {}
        }
    }
    headers
}

/// Upserts the orders' own fields. A total-only order also sets its total;
/// an order with lines keeps its stored total, which is recomputed when its
/// lines change.
async fn upsert_headers(
    db: &impl ConnectionTrait,
    headers: &[&Header<'_>],
    customers: &HashMap<String, i64>,
    stored: &HashMap<String, i64>,
    upserted: &mut Upserted,
) -> Result<(), ServiceError> {
    let Some(first) = headers.first() else { return Ok(()) };
    let with_total = !first.lined;
    let backend = db.get_database_backend();
    let mut compared = vec!["customer_id", "place_time_us", "channel", "store_id", "region", "currency_code", "status"];
    if with_total {
        compared.push("total_minor");
    }
    let set: Vec<String> = compared.iter().map(|column| format!("{column} = excluded.{column}")).collect();
    let customer_ids = headers
        .iter()
        .map(|header| header.order.customer_id.as_deref().map_or(Ok(NULL_INT), |id| customer_pk(customers, id)))
        .collect::<Result<Vec<_>, _>>()?;
    let orders: Vec<&Order> = headers.iter().map(|header| header.order).collect();
    let source = RowSource::new(vec![
        ("external_id", Column::Text(orders.iter().map(|order| order.order_id.clone()).collect())),
        ("customer_id", Column::BigInt(customer_ids)),
        ("place_time_us", Column::BigInt(orders.iter().map(|order| order.place_time.0).collect())),
        ("channel", Column::SmallInt(orders.iter().map(|order| order.channel as i16).collect())),
        ("store_id", Column::Text(orders.iter().map(|order| order.store_id.clone()).collect())),
        ("region", Column::Text(orders.iter().map(|order| order.region.clone()).collect())),
        ("currency_code", Column::Text(orders.iter().map(|order| order.currency_code.clone()).collect())),
        ("status", Column::SmallInt(orders.iter().map(|order| order.status as i16).collect())),
        ("total_minor", Column::BigInt(headers.iter().map(|header| header.total_minor.unwrap_or(0)).collect())),
        ("units", Column::BigInt(headers.iter().map(|header| header.units).collect())),
    ]);
    // PostgreSQL tells an insert from an update (xmax is 0 on a new row
    // version); on SQLite the batch's write lock keeps the stored lookup true.
    let inserted = if backend == DbBackend::Postgres { "(xmax = 0)::int" } else { "1" };
    for chunk in source.chunks(backend) {
        let statement = format!(
            "WITH {cte} \
             INSERT INTO orders (external_id, customer_id, place_time_us, channel, store_id, region, currency_code, \
             status, total_minor, units) \
             SELECT v.external_id, NULLIF(v.customer_id, {NULL_INT}), v.place_time_us, v.channel, v.store_id, v.region, \
             v.currency_code, v.status, v.total_minor, v.units FROM v WHERE 1 = 1 \
             ON CONFLICT (external_id) DO UPDATE SET {set} WHERE {differs} \
             RETURNING id, external_id, {inserted} AS inserted",
            cte = chunk.cte,
            set = set.join(", "),
            differs = any_differs(backend, "orders", &compared),
        );
        for row in sql::query(db, &statement, chunk.values).await? {
            let (id, external_id) = (int(&row, "id")?, text(&row, "external_id")?);
            if int(&row, "inserted")? == 1 && !stored.contains_key(&external_id) {
                upserted.fresh.insert(id);
            }
            upserted.ids.insert(external_id.clone(), id);
            upserted.changed.insert(external_id);
        }
    }
    Ok(())
}

/// Whose lines a statement writes.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Lines {
    /// Orders this batch inserted: nobody else can see them yet and the batch
    /// repeats no line, so their lines cannot conflict and are plainly inserted.
    OfFreshOrders,
    /// Orders already stored: their lines are upserted, the update firing only when a field differs.
    OfStoredOrders,
}

/// Writes the rows' lines under their orders' row ids; returns the
/// (order id, line number) of each line of a stored order inserted or changed.
async fn write_lines(
    db: &impl ConnectionTrait,
    rows: &[&OrderRow],
    order_ids: &HashMap<String, i64>,
    lines_of: Lines,
) -> Result<HashSet<(i64, i32)>, ServiceError> {
    let backend = db.get_database_backend();
    let lines: Vec<(i64, &crate::domain::order::OrderLine)> = rows
        .iter()
        .filter_map(|row| row.line.as_ref().map(|line| (&row.order.order_id, line)))
        .map(|(order_id, line)| {
            let id = order_ids
                .get(order_id)
                .copied()
                .ok_or_else(|| ServiceError::internal(format!("order {order_id} has no row id")))?;
            Ok((id, line))
        })
        .collect::<Result<_, ServiceError>>()?;
    let line_columns = ["sku", "category", "quantity", "unit_price_minor", "discount_minor", "unit_cost_minor"];
    let source = RowSource::new(vec![
        ("order_id", Column::BigInt(lines.iter().map(|(id, _)| *id).collect())),
        ("line_number", Column::Int(lines.iter().map(|(_, line)| line.line_number).collect())),
        ("sku", Column::Text(lines.iter().map(|(_, line)| line.sku.clone()).collect())),
        ("category", Column::Text(lines.iter().map(|(_, line)| line.category.clone()).collect())),
        ("quantity", Column::BigInt(lines.iter().map(|(_, line)| line.quantity).collect())),
        ("unit_price_minor", Column::BigInt(lines.iter().map(|(_, line)| line.unit_price_minor).collect())),
        ("discount_minor", Column::BigInt(lines.iter().map(|(_, line)| line.discount_minor).collect())),
        (
            "unit_cost_minor",
            Column::BigInt(lines.iter().map(|(_, line)| line.unit_cost_minor.unwrap_or(NULL_INT)).collect()),
        ),
    ]);
    let upsert = match lines_of {
        Lines::OfFreshOrders => String::new(),
        Lines::OfStoredOrders => format!(
            " ON CONFLICT (order_id, line_number) DO UPDATE SET sku = excluded.sku, category = excluded.category, \
             quantity = excluded.quantity, unit_price_minor = excluded.unit_price_minor, \
             discount_minor = excluded.discount_minor, unit_cost_minor = excluded.unit_cost_minor \
             WHERE {differs} RETURNING order_id, line_number",
            differs = any_differs(backend, "order_lines", &line_columns),
        ),
    };
    let mut changed = HashSet::new();
    for chunk in source.chunks(backend) {
        let statement = format!(
            "WITH {cte} \
             INSERT INTO order_lines (order_id, line_number, sku, category, quantity, unit_price_minor, discount_minor, \
             unit_cost_minor) \
             SELECT v.order_id, v.line_number, v.sku, v.category, v.quantity, v.unit_price_minor, v.discount_minor, \
             NULLIF(v.unit_cost_minor, {NULL_INT}) FROM v WHERE 1 = 1{upsert}",
            cte = chunk.cte,
        );
        if lines_of == Lines::OfFreshOrders {
            sql::execute(db, &statement, chunk.values).await?;
            continue;
        }
        for row in sql::query(db, &statement, chunk.values).await? {
            changed.insert((int(&row, "order_id")?, int(&row, "line_number")? as i32));
        }
    }
    Ok(changed)
}

/// Sets the orders' totals and units from all their stored lines, earlier batches' included.
async fn total_from_stored_lines(db: &impl ConnectionTrait, order_ids: &[i64]) -> Result<(), ServiceError> {
    for chunk in order_ids.chunks(ORDERS_PER_STATEMENT) {
        let statement = format!(
            "UPDATE orders SET \
             total_minor = (SELECT COALESCE(SUM(l.quantity * l.unit_price_minor - l.discount_minor), 0) \
                            FROM order_lines l WHERE l.order_id = orders.id), \
             units = (SELECT COALESCE(SUM(l.quantity), 0) FROM order_lines l WHERE l.order_id = orders.id) \
             WHERE id IN ({})",
            sql::placeholders(chunk.len())
        );
        sql::execute(db, &statement, chunk.iter().map(|id| Value::from(*id)).collect()).await?;
    }
    Ok(())
}
