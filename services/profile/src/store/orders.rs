//! Orders and their lines. Recording is an upsert by the order's external id;
//! an order naming a customer this service has not seen creates a bare
//! customer record, as POS exports often carry no separate customer file.

use std::collections::HashMap;

use patron_common::ServiceError;
use sea_orm::{
    ActiveModelTrait, ColumnTrait, Condition, ConnectionTrait, DatabaseConnection, EntityTrait, QueryFilter,
    QueryOrder, QuerySelect, Set, TransactionTrait,
};

use super::entities::{customer, order, order_line};
use super::idempotency::{self, RequestKey};
use super::page_token;
use crate::domain::order::{Order, OrderLine, OrderStatus, SalesChannel};
use crate::domain::time::Micros;

const RESOURCE: &str = "order";

/// Inserts or replaces the order; returns it and whether it was new.
pub async fn record(
    db: &DatabaseConnection,
    order: &Order,
    key: Option<&RequestKey>,
) -> Result<(Order, bool), ServiceError> {
    if let Some(existing) = idempotency::previous(db, key).await? {
        return Ok((get(db, &existing).await?, false));
    }
    let transaction = db.begin().await?;
    let created = write(&transaction, order).await?;
    idempotency::remember(&transaction, key, &order.order_id).await?;
    transaction.commit().await?;
    Ok((get(db, &order.order_id).await?, created))
}

/// Writes one order inside the caller's transaction; true when it was new.
pub async fn write(db: &impl ConnectionTrait, order: &Order) -> Result<bool, ServiceError> {
    let customer_pk = match &order.customer_id {
        Some(customer_id) => Some(ensure_customer(db, customer_id, order.place_time).await?),
        None => None,
    };
    let existing = order::Entity::find().filter(order::Column::ExternalId.eq(order.order_id.as_str())).one(db).await?;
    let mut active = match &existing {
        Some(row) => order::ActiveModel::from(row.clone()),
        None => order::ActiveModel { external_id: Set(order.order_id.clone()), ..Default::default() },
    };
    set_header(&mut active, order, customer_pk);
    active.total_minor = Set(order.total_minor);
    active.units = Set(order.units());
    let is_new = existing.is_none();
    let id = if is_new { active.insert(db).await?.id } else { active.update(db).await?.id };
    order_line::Entity::delete_many().filter(order_line::Column::OrderId.eq(id)).exec(db).await?;
    if !order.lines.is_empty() {
        order_line::Entity::insert_many(order.lines.iter().map(|line| order_line::ActiveModel {
            order_id: Set(id),
            line_number: Set(line.line_number),
            sku: Set(line.sku.clone()),
            category: Set(line.category.clone()),
            quantity: Set(line.quantity),
            unit_price_minor: Set(line.unit_price_minor),
            discount_minor: Set(line.discount_minor),
            unit_cost_minor: Set(line.unit_cost_minor),
        }))
        .exec(db)
        .await?;
    }
    Ok(is_new)
}

/// Sets the order's own columns (not its totals, which depend on its lines).
pub fn set_header(active: &mut order::ActiveModel, order: &Order, customer_pk: Option<i64>) {
    active.customer_id = Set(customer_pk);
    active.place_time_us = Set(order.place_time.0);
    active.channel = Set(order.channel as i16);
    active.store_id = Set(order.store_id.clone());
    active.region = Set(order.region.clone());
    active.currency_code = Set(order.currency_code.clone());
    active.status = Set(order.status as i16);
}

/// The internal id of the customer, creating a bare record when unknown.
pub async fn ensure_customer(
    db: &impl ConnectionTrait,
    customer_id: &str,
    seen_at: Micros,
) -> Result<i64, ServiceError> {
    if let Some(row) = customer::Entity::find().filter(customer::Column::ExternalId.eq(customer_id)).one(db).await? {
        return Ok(row.id);
    }
    let row = customer::ActiveModel {
        external_id: Set(customer_id.to_owned()),
        name: Set(String::new()),
        email: Set(String::new()),
        phone: Set(String::new()),
        home_store_id: Set(String::new()),
        region: Set(String::new()),
        create_time_us: Set(seen_at.0),
        update_time_us: Set(Micros::now().0),
        ..Default::default()
    }
    .insert(db)
    .await?;
    Ok(row.id)
}

pub async fn get(db: &impl ConnectionTrait, order_id: &str) -> Result<Order, ServiceError> {
    let row = order::Entity::find()
        .filter(order::Column::ExternalId.eq(order_id))
        .one(db)
        .await?
        .ok_or_else(|| ServiceError::not_found(RESOURCE, order_id))?;
    hydrate(db, vec![row]).await?.pop().ok_or_else(|| ServiceError::not_found(RESOURCE, order_id))
}

/// Orders newest first, optionally for one customer and a time window.
pub async fn list(
    db: &DatabaseConnection,
    customer_id: Option<&str>,
    window: Option<(Micros, Micros)>,
    page_size: usize,
    page_token: &str,
) -> Result<(Vec<Order>, String), ServiceError> {
    let before = page_token::decode(page_token)?;
    let mut condition = Condition::all();
    if before > 0 {
        condition = condition.add(order::Column::Id.lt(before));
    }
    if let Some(customer_id) = customer_id {
        let row = super::customers::find_row(db, customer_id).await?;
        condition = condition.add(order::Column::CustomerId.eq(row.id));
    }
    if let Some((start, end)) = window {
        condition = condition.add(order::Column::PlaceTimeUs.gte(start.0)).add(order::Column::PlaceTimeUs.lt(end.0));
    }
    // Newest first by id: ids grow with insertion, and keyset paging needs a unique key.
    let mut rows = order::Entity::find()
        .filter(condition)
        .order_by_desc(order::Column::PlaceTimeUs)
        .order_by_desc(order::Column::Id)
        .limit(page_size as u64 + 1)
        .all(db)
        .await?;
    let next = if rows.len() > page_size {
        rows.truncate(page_size);
        rows.last().map(|row| page_token::encode(row.id)).unwrap_or_default()
    } else {
        String::new()
    };
    Ok((hydrate(db, rows).await?, next))
}

/// Every order of the customer (by internal id) placed before `before`,
/// newest first (by place time, then id).
pub async fn placed_before(
    db: &impl ConnectionTrait,
    customer: i64,
    before: Micros,
) -> Result<Vec<order::Model>, ServiceError> {
    Ok(order::Entity::find()
        .filter(order::Column::CustomerId.eq(customer))
        .filter(order::Column::PlaceTimeUs.lt(before.0))
        .order_by_desc(order::Column::PlaceTimeUs)
        .order_by_desc(order::Column::Id)
        .all(db)
        .await?)
}

/// Orders of the one customer `customer_id` with their lines: the customer
/// is known, so only the lines are read.
pub async fn with_lines(
    db: &impl ConnectionTrait,
    rows: Vec<order::Model>,
    customer_id: &str,
) -> Result<Vec<Order>, ServiceError> {
    let external = rows.iter().filter_map(|row| row.customer_id).map(|id| (id, customer_id.to_owned())).collect();
    assemble(db, rows, external).await
}

async fn hydrate(db: &impl ConnectionTrait, rows: Vec<order::Model>) -> Result<Vec<Order>, ServiceError> {
    if rows.is_empty() {
        return Ok(Vec::new());
    }
    let customer_ids: Vec<i64> = rows.iter().filter_map(|row| row.customer_id).collect();
    let external: HashMap<i64, String> = customer::Entity::find()
        .filter(customer::Column::Id.is_in(customer_ids))
        .all(db)
        .await?
        .into_iter()
        .map(|row| (row.id, row.external_id))
        .collect();
    assemble(db, rows, external).await
}

/// `rows` as orders, with their lines and, from `external`, their customers' external ids.
async fn assemble(
    db: &impl ConnectionTrait,
    rows: Vec<order::Model>,
    external: HashMap<i64, String>,
) -> Result<Vec<Order>, ServiceError> {
    if rows.is_empty() {
        return Ok(Vec::new());
    }
    let ids: Vec<i64> = rows.iter().map(|row| row.id).collect();
    let mut lines: HashMap<i64, Vec<OrderLine>> = HashMap::new();
    for line in order_line::Entity::find()
        .filter(order_line::Column::OrderId.is_in(ids))
        .order_by_asc(order_line::Column::LineNumber)
        .all(db)
        .await?
    {
        lines.entry(line.order_id).or_default().push(OrderLine {
            line_number: line.line_number,
            sku: line.sku,
            category: line.category,
            quantity: line.quantity,
            unit_price_minor: line.unit_price_minor,
            discount_minor: line.discount_minor,
            unit_cost_minor: line.unit_cost_minor,
        });
    }
    rows.into_iter()
        .map(|row| {
            Ok(Order {
                customer_id: row.customer_id.and_then(|id| external.get(&id).cloned()),
                lines: lines.remove(&row.id).unwrap_or_default(),
                place_time: Micros(row.place_time_us),
                channel: SalesChannel::from_code(i32::from(row.channel)).ok_or_else(|| {
                    ServiceError::internal(format!("order {} has channel {}", row.external_id, row.channel))
                })?,
                status: OrderStatus::from_code(i32::from(row.status)).ok_or_else(|| {
                    ServiceError::internal(format!("order {} has status {}", row.external_id, row.status))
                })?,
                order_id: row.external_id,
                store_id: row.store_id,
                region: row.region,
                currency_code: row.currency_code,
                total_minor: row.total_minor,
            })
        })
        .collect()
}
