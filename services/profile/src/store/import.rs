//! Writes for bulk import: idempotent by external id, so re-importing a file
//! reports every row unchanged and writes nothing. Each function runs inside
//! the caller's batch transaction.

use std::collections::HashMap;

use patron_common::ServiceError;
use sea_orm::{ActiveModelTrait, ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter, Set};

use super::entities::{customer, order, order_line};
use super::events::WriteOutcome;
use super::orders::ensure_customer;
use crate::domain::customer::Customer;
use crate::domain::order::{Order, OrderLine};
use crate::domain::time::Micros;

/// Upserts a customer: row fields replace stored ones, tags are added (an
/// import never removes a tag), attributes and consents are set per key.
pub async fn customer(db: &impl ConnectionTrait, incoming: &Customer) -> Result<WriteOutcome, ServiceError> {
    let existing = super::customers::find_row(db, &incoming.customer_id).await.ok();
    let Some(row) = existing else {
        let now = Micros::now();
        let created = if incoming.create_time.0 != 0 { incoming.create_time } else { now };
        let row = customer::ActiveModel {
            external_id: Set(incoming.customer_id.clone()),
            name: Set(incoming.name.clone()),
            email: Set(incoming.email.clone()),
            phone: Set(incoming.phone.clone()),
            home_store_id: Set(incoming.home_store_id.clone()),
            region: Set(incoming.region.clone()),
            create_time_us: Set(created.0),
            update_time_us: Set(now.0),
            ..Default::default()
        }
        .insert(db)
        .await?;
        super::customers::add_details(db, row.id, incoming).await?;
        return Ok(WriteOutcome::Created);
    };
    let stored = super::customers::get(db, &incoming.customer_id).await?;
    let same_fields = stored.name == incoming.name
        && stored.email == incoming.email
        && stored.phone == incoming.phone
        && stored.home_store_id == incoming.home_store_id
        && stored.region == incoming.region;
    let tags_present = incoming.tags.is_subset(&stored.tags);
    let attributes_same = incoming.attributes.iter().all(|(name, value)| stored.attributes.get(name) == Some(value));
    let consents_same = incoming
        .consents
        .iter()
        .all(|(channel, consent)| stored.consents.get(channel).is_some_and(|current| current.state == consent.state));
    if same_fields && tags_present && attributes_same && consents_same {
        return Ok(WriteOutcome::Unchanged);
    }
    let id = row.id;
    let mut active: customer::ActiveModel = row.into();
    active.name = Set(incoming.name.clone());
    active.email = Set(incoming.email.clone());
    active.phone = Set(incoming.phone.clone());
    active.home_store_id = Set(incoming.home_store_id.clone());
    active.region = Set(incoming.region.clone());
    active.update_time_us = Set(Micros::now().0);
    active.update(db).await?;
    let mut merged = incoming.clone();
    merged.tags = incoming.tags.difference(&stored.tags).cloned().collect();
    merged.attributes = incoming
        .attributes
        .iter()
        .filter(|(name, value)| stored.attributes.get(*name) != Some(*value))
        .map(|(name, value)| (name.clone(), value.clone()))
        .collect();
    super::customers::add_details(db, id, &merged).await?;
    Ok(WriteOutcome::Updated)
}

/// One imported order row: the order's fields plus, unless the source has
/// totals only, one line.
#[derive(Debug, Clone)]
pub struct OrderRow {
    pub order: Order,
    pub line: Option<OrderLine>,
}

/// Writes the rows of one order (all with the same order id); returns each
/// row's outcome in input order.
pub async fn order_rows(db: &impl ConnectionTrait, rows: &[OrderRow]) -> Result<Vec<WriteOutcome>, ServiceError> {
    let Some(first) = rows.first() else { return Ok(Vec::new()) };
    let header = &first.order;
    let customer_pk = match &header.customer_id {
        Some(customer_id) => Some(ensure_customer(db, customer_id, header.place_time).await?),
        None => None,
    };
    let existing = order::Entity::find().filter(order::Column::ExternalId.eq(header.order_id.as_str())).one(db).await?;
    let total_only = rows.iter().all(|row| row.line.is_none());
    let header_matches = |row: &order::Model| {
        row.customer_id == customer_pk
            && row.place_time_us == header.place_time.0
            && row.channel == header.channel as i16
            && row.store_id == header.store_id
            && row.region == header.region
            && row.currency_code == header.currency_code
            && row.status == header.status as i16
            && (!total_only || row.total_minor == header.total_minor)
    };
    let (order_id, header_outcome) = match existing {
        Some(row) if header_matches(&row) => (row.id, WriteOutcome::Unchanged),
        Some(row) => {
            let id = row.id;
            let mut active: order::ActiveModel = row.into();
            set_header(&mut active, header, customer_pk, total_only);
            active.update(db).await?;
            (id, WriteOutcome::Updated)
        }
        None => {
            let mut active = order::ActiveModel {
                external_id: Set(header.order_id.clone()),
                total_minor: Set(0),
                units: Set(0),
                ..Default::default()
            };
            set_header(&mut active, header, customer_pk, total_only);
            (active.insert(db).await?.id, WriteOutcome::Created)
        }
    };

    let mut stored_lines: HashMap<i32, order_line::Model> = order_line::Entity::find()
        .filter(order_line::Column::OrderId.eq(order_id))
        .all(db)
        .await?
        .into_iter()
        .map(|line| (line.line_number, line))
        .collect();
    let mut outcomes = Vec::with_capacity(rows.len());
    let mut lines_changed = false;
    for row in rows {
        let Some(line) = &row.line else {
            outcomes.push(header_outcome);
            continue;
        };
        let wanted = order_line::Model {
            order_id,
            line_number: line.line_number,
            sku: line.sku.clone(),
            category: line.category.clone(),
            quantity: line.quantity,
            unit_price_minor: line.unit_price_minor,
            discount_minor: line.discount_minor,
            unit_cost_minor: line.unit_cost_minor,
        };
        let line_outcome = match stored_lines.get(&line.line_number) {
            Some(stored) if *stored == wanted => WriteOutcome::Unchanged,
            Some(_) => {
                order_line::ActiveModel::from(wanted.clone()).reset_all().update(db).await?;
                WriteOutcome::Updated
            }
            None => {
                order_line::ActiveModel::from(wanted.clone()).insert(db).await?;
                WriteOutcome::Created
            }
        };
        stored_lines.insert(line.line_number, wanted);
        lines_changed |= line_outcome != WriteOutcome::Unchanged;
        outcomes.push(match (header_outcome, line_outcome) {
            (WriteOutcome::Unchanged, line_outcome) => line_outcome,
            (WriteOutcome::Created, _) | (WriteOutcome::Updated, WriteOutcome::Created) => WriteOutcome::Created,
            (WriteOutcome::Updated, _) => WriteOutcome::Updated,
        });
    }
    if lines_changed {
        refresh_totals(db, order_id).await?;
    }
    Ok(outcomes)
}

fn set_header(active: &mut order::ActiveModel, header: &Order, customer_pk: Option<i64>, total_only: bool) {
    super::orders::set_header(active, header, customer_pk);
    if total_only {
        active.total_minor = Set(header.total_minor);
        active.units = Set(0);
    }
}

/// An order with lines totals its stored lines, including lines imported in
/// earlier batches.
async fn refresh_totals(db: &impl ConnectionTrait, order_id: i64) -> Result<(), ServiceError> {
    let lines = order_line::Entity::find().filter(order_line::Column::OrderId.eq(order_id)).all(db).await?;
    let mut total: i64 = 0;
    let mut units: i64 = 0;
    for line in &lines {
        let amount = line
            .quantity
            .checked_mul(line.unit_price_minor)
            .and_then(|gross| gross.checked_sub(line.discount_minor))
            .ok_or_else(|| ServiceError::invalid("unit_price_minor", "order amounts overflow"))?;
        total = total
            .checked_add(amount)
            .ok_or_else(|| ServiceError::invalid("unit_price_minor", "order total overflows"))?;
        units = units.saturating_add(line.quantity);
    }
    order::Entity::update_many()
        .col_expr(order::Column::TotalMinor, sea_orm::sea_query::Expr::value(total))
        .col_expr(order::Column::Units, sea_orm::sea_query::Expr::value(units))
        .filter(order::Column::Id.eq(order_id))
        .exec(db)
        .await?;
    Ok(())
}
