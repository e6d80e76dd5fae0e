//! Set-based writes of imported order rows: a handful of multi-row statements
//! per batch instead of several round trips per row.
//!
//! Each statement is an upsert whose update fires only when a value differs,
//! and reports (RETURNING) the rows it inserted or changed; a row counts as
//! written when its order's fields or its line changed, and as unchanged
//! otherwise. Re-importing a file therefore writes nothing.

use std::collections::{BTreeSet, HashMap, HashSet};

use patron_common::ServiceError;
use sea_orm::{ConnectionTrait, DbBackend, Value};

use super::import::OrderRow;
use super::row_source::{Column, NULL_INT, RowSource};
use super::sql::{self, int, text};
use crate::domain::order::{Order, OrderLine};
use crate::domain::time::Micros;

/// Rows per statement, well under SQLite's and PostgreSQL's bound-parameter limits.
const ROWS_PER_STATEMENT: usize = 500;

/// How many rows of a batch were written and how many were already stored as given.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Counts {
    pub written: i64,
    pub unchanged: i64,
}

/// "a IS DISTINCT FROM excluded.a OR …" in the backend's spelling.
fn any_differs(backend: DbBackend, table: &str, columns: &[&str]) -> String {
    let operator = if backend == DbBackend::Postgres { "IS DISTINCT FROM" } else { "IS NOT" };
    columns
        .iter()
        .map(|column| format!("{table}.{column} {operator} excluded.{column}"))
        .collect::<Vec<_>>()
        .join(" OR ")
}

/// Writes the rows (all valid, with consistent order fields) in the caller's transaction.
pub async fn write(db: &impl ConnectionTrait, rows: &[OrderRow]) -> Result<Counts, ServiceError> {
    if rows.is_empty() {
        return Ok(Counts::default());
    }
    let backend = db.get_database_backend();
    ensure_customers(db, rows).await?;

    // One header per order: the first row's (later rows agree, or were rejected).
    let mut headers: Vec<&OrderRow> = Vec::new();
    let mut seen = HashSet::new();
    for row in rows {
        if seen.insert(row.order.order_id.as_str()) {
            headers.push(row);
        }
    }
    let lined: HashSet<&str> =
        rows.iter().filter(|row| row.line.is_some()).map(|row| row.order.order_id.as_str()).collect();
    let (with_lines, total_only): (Vec<&OrderRow>, Vec<&OrderRow>) =
        headers.into_iter().partition(|row| lined.contains(row.order.order_id.as_str()));
    let mut changed_orders = upsert_headers(db, &with_lines, false).await?;
    changed_orders.extend(upsert_headers(db, &total_only, true).await?);

    let lines: Vec<(&OrderRow, &OrderLine)> =
        rows.iter().filter_map(|row| row.line.as_ref().map(|line| (row, line))).collect();
    let mut changed_lines: HashSet<(i64, i32)> = HashSet::new();
    let line_columns = ["sku", "category", "quantity", "unit_price_minor", "discount_minor", "unit_cost_minor"];
    let source = RowSource::new(vec![
        ("order_external_id", Column::Text(lines.iter().map(|(row, _)| row.order.order_id.clone()).collect())),
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
    for chunk in source.chunks(backend) {
        let statement = format!(
            "WITH {cte} \
             INSERT INTO order_lines (order_id, line_number, sku, category, quantity, unit_price_minor, discount_minor, \
             unit_cost_minor) \
             SELECT o.id, v.line_number, v.sku, v.category, v.quantity, v.unit_price_minor, v.discount_minor, \
             NULLIF(v.unit_cost_minor, {NULL_INT}) FROM v JOIN orders o ON o.external_id = v.order_external_id \
             WHERE 1 = 1 \
             ON CONFLICT (order_id, line_number) DO UPDATE SET sku = excluded.sku, category = excluded.category, \
             quantity = excluded.quantity, unit_price_minor = excluded.unit_price_minor, \
             discount_minor = excluded.discount_minor, unit_cost_minor = excluded.unit_cost_minor \
             WHERE {differs} RETURNING order_id, line_number",
            cte = chunk.cte,
            differs = any_differs(backend, "order_lines", &line_columns),
        );
        for row in sql::query(db, &statement, chunk.values).await? {
            changed_lines.insert((int(&row, "order_id")?, int(&row, "line_number")? as i32));
        }
    }

    // Orders whose lines changed total their stored lines, earlier batches' included.
    let changed_order_ids: BTreeSet<i64> = changed_lines.iter().map(|(order_id, _)| *order_id).collect();
    let ids: Vec<i64> = changed_order_ids.iter().copied().collect();
    for chunk in ids.chunks(ROWS_PER_STATEMENT) {
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

    // Attribute outcomes to rows.
    let line_rows: Vec<&OrderRow> = lines.iter().map(|(row, _)| *row).collect();
    let order_ids = internal_ids(db, &line_rows).await?;
    let mut counts = Counts::default();
    for row in rows {
        let header_changed = changed_orders.contains(&row.order.order_id);
        let line_changed = row.line.as_ref().is_some_and(|line| {
            order_ids
                .get(row.order.order_id.as_str())
                .is_some_and(|order_id| changed_lines.contains(&(*order_id, line.line_number)))
        });
        if header_changed || line_changed {
            counts.written += 1;
        } else {
            counts.unchanged += 1;
        }
    }
    Ok(counts)
}

/// Upserts the orders' own fields; a total-only order also sets its total (an
/// order with lines totals them later). Returns the external ids of the
/// orders inserted or changed.
async fn upsert_headers(
    db: &impl ConnectionTrait,
    headers: &[&OrderRow],
    with_total: bool,
) -> Result<HashSet<String>, ServiceError> {
    let backend = db.get_database_backend();
    let mut compared = vec!["customer_id", "place_time_us", "channel", "store_id", "region", "currency_code", "status"];
    let mut set = compared.iter().map(|column| format!("{column} = excluded.{column}")).collect::<Vec<_>>();
    if with_total {
        compared.push("total_minor");
        set.push("total_minor = excluded.total_minor".to_owned());
    }
    let orders: Vec<&Order> = headers.iter().map(|row| &row.order).collect();
    let source = RowSource::new(vec![
        ("external_id", Column::Text(orders.iter().map(|order| order.order_id.clone()).collect())),
        (
            "customer_external_id",
            // Customer ids are never empty, so '' stands for an anonymous order.
            Column::Text(orders.iter().map(|order| order.customer_id.clone().unwrap_or_default()).collect()),
        ),
        ("place_time_us", Column::BigInt(orders.iter().map(|order| order.place_time.0).collect())),
        ("channel", Column::SmallInt(orders.iter().map(|order| order.channel as i16).collect())),
        ("store_id", Column::Text(orders.iter().map(|order| order.store_id.clone()).collect())),
        ("region", Column::Text(orders.iter().map(|order| order.region.clone()).collect())),
        ("currency_code", Column::Text(orders.iter().map(|order| order.currency_code.clone()).collect())),
        ("status", Column::SmallInt(orders.iter().map(|order| order.status as i16).collect())),
        (
            "total_minor",
            Column::BigInt(orders.iter().map(|order| if with_total { order.total_minor } else { 0 }).collect()),
        ),
    ]);
    let mut changed = HashSet::new();
    for chunk in source.chunks(backend) {
        let statement = format!(
            "WITH {cte} \
             INSERT INTO orders (external_id, customer_id, place_time_us, channel, store_id, region, currency_code, \
             status, total_minor, units) \
             SELECT v.external_id, c.id, v.place_time_us, v.channel, v.store_id, v.region, v.currency_code, v.status, \
             v.total_minor, 0 FROM v LEFT JOIN customers c ON c.external_id = NULLIF(v.customer_external_id, '') \
             WHERE 1 = 1 \
             ON CONFLICT (external_id) DO UPDATE SET {set} WHERE {differs} RETURNING external_id",
            cte = chunk.cte,
            set = set.join(", "),
            differs = any_differs(backend, "orders", &compared),
        );
        for row in sql::query(db, &statement, chunk.values).await? {
            changed.insert(text(&row, "external_id")?);
        }
    }
    Ok(changed)
}

/// Creates a bare record for every customer the rows name that does not exist yet.
async fn ensure_customers(db: &impl ConnectionTrait, rows: &[OrderRow]) -> Result<(), ServiceError> {
    let mut first_seen: HashMap<&str, Micros> = HashMap::new();
    for row in rows {
        if let Some(customer_id) = &row.order.customer_id {
            let seen = first_seen.entry(customer_id.as_str()).or_insert(row.order.place_time);
            *seen = (*seen).min(row.order.place_time);
        }
    }
    let mut customers: Vec<(&str, Micros)> = first_seen.into_iter().collect();
    customers.sort_unstable();
    let now = Micros::now().0;
    let source = RowSource::new(vec![
        ("external_id", Column::Text(customers.iter().map(|(id, _)| (*id).to_owned()).collect())),
        ("create_time_us", Column::BigInt(customers.iter().map(|(_, seen)| seen.0).collect())),
    ]);
    for chunk in source.chunks(db.get_database_backend()) {
        let statement = format!(
            "WITH {cte} INSERT INTO customers (external_id, name, email, phone, home_store_id, region, \
             create_time_us, update_time_us) SELECT v.external_id, '', '', '', '', '', v.create_time_us, {now} \
             FROM v WHERE 1 = 1 ON CONFLICT (external_id) DO NOTHING",
            cte = chunk.cte,
        );
        sql::execute(db, &statement, chunk.values).await?;
    }
    Ok(())
}

/// Internal ids of the orders the line rows belong to.
async fn internal_ids(db: &impl ConnectionTrait, lines: &[&OrderRow]) -> Result<HashMap<String, i64>, ServiceError> {
    let external: Vec<String> =
        lines.iter().map(|row| row.order.order_id.clone()).collect::<BTreeSet<_>>().into_iter().collect();
    let mut ids = HashMap::with_capacity(external.len());
    for chunk in external.chunks(ROWS_PER_STATEMENT) {
        let statement =
            format!("SELECT id, external_id FROM orders WHERE external_id IN ({})", sql::placeholders(chunk.len()));
        for row in sql::query(db, &statement, chunk.iter().map(|id| Value::from(id.clone())).collect()).await? {
            ids.insert(text(&row, "external_id")?, int(&row, "id")?);
        }
    }
    Ok(ids)
}
