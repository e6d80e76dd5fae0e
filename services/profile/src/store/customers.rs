//! Customers with their tags, attributes and consents.

use std::collections::{BTreeMap, BTreeSet, HashMap};

use patron_common::ServiceError;
use sea_orm::sea_query::{Expr, ExprTrait, Query};
use sea_orm::{
    ActiveModelTrait, ColumnTrait, Condition, ConnectionTrait, DatabaseConnection, EntityTrait, QueryFilter,
    QueryOrder, QuerySelect, Set, SqlErr, TransactionTrait, Value,
};

use super::entities::{customer, customer_attribute, customer_consent, customer_tag, order};
use super::idempotency::{self, RequestKey};
use super::page_token;
use super::sql;
use crate::domain::customer::{
    AttributeValue, Consent, ConsentChannel, ConsentState, Customer, CustomerChanges, CustomerFilter,
};
use crate::domain::order::OrderStatus;
use crate::domain::time::Micros;

const RESOURCE: &str = "customer";

pub async fn create(
    db: &DatabaseConnection,
    customer: &Customer,
    key: Option<&RequestKey>,
) -> Result<Customer, ServiceError> {
    if let Some(existing) = idempotency::previous(db, key).await? {
        return get(db, &existing).await;
    }
    let now = Micros::now();
    let transaction = db.begin().await?;
    let row = customer::ActiveModel {
        external_id: Set(customer.customer_id.clone()),
        name: Set(customer.name.clone()),
        email: Set(customer.email.clone()),
        phone: Set(customer.phone.clone()),
        home_store_id: Set(customer.home_store_id.clone()),
        region: Set(customer.region.clone()),
        create_time_us: Set(now.0),
        update_time_us: Set(now.0),
        ..Default::default()
    }
    .insert(&transaction)
    .await
    .map_err(|error| match error.sql_err() {
        Some(SqlErr::UniqueConstraintViolation(_)) => {
            ServiceError::AlreadyExists { resource: RESOURCE, id: customer.customer_id.clone() }
        }
        _ => error.into(),
    })?;
    add_details(&transaction, row.id, customer).await?;
    idempotency::remember(&transaction, key, &customer.customer_id).await?;
    transaction.commit().await?;
    get(db, &customer.customer_id).await
}

pub async fn get(db: &impl ConnectionTrait, customer_id: &str) -> Result<Customer, ServiceError> {
    with_details(db, find_row(db, customer_id).await?).await
}

/// The customer stored as `row`, with their tags, attributes and consents.
pub async fn with_details(db: &impl ConnectionTrait, row: customer::Model) -> Result<Customer, ServiceError> {
    let customer_id = row.external_id.clone();
    hydrate(db, vec![row]).await?.pop().ok_or_else(|| ServiceError::not_found(RESOURCE, &customer_id))
}

/// The customer's internal row, or NOT_FOUND.
pub async fn find_row(db: &impl ConnectionTrait, customer_id: &str) -> Result<customer::Model, ServiceError> {
    customer::Entity::find()
        .filter(customer::Column::ExternalId.eq(customer_id))
        .one(db)
        .await?
        .ok_or_else(|| ServiceError::not_found(RESOURCE, customer_id))
}

pub async fn update(
    db: &DatabaseConnection,
    customer_id: &str,
    changes: &CustomerChanges,
    key: Option<&RequestKey>,
) -> Result<Customer, ServiceError> {
    if idempotency::previous(db, key).await?.is_some() {
        return get(db, customer_id).await;
    }
    let transaction = db.begin().await?;
    let row = find_row(&transaction, customer_id).await?;
    let id = row.id;
    let mut active: customer::ActiveModel = row.into();
    if let Some(name) = &changes.name {
        active.name = Set(name.clone());
    }
    if let Some(email) = &changes.email {
        active.email = Set(email.clone());
    }
    if let Some(phone) = &changes.phone {
        active.phone = Set(phone.clone());
    }
    if let Some(home_store_id) = &changes.home_store_id {
        active.home_store_id = Set(home_store_id.clone());
    }
    if let Some(region) = &changes.region {
        active.region = Set(region.clone());
    }
    active.update_time_us = Set(Micros::now().0);
    active.update(&transaction).await?;
    if let Some(tags) = &changes.tags {
        replace_tags(&transaction, id, tags).await?;
    }
    if let Some(attributes) = &changes.attributes {
        replace_attributes(&transaction, id, attributes).await?;
    }
    idempotency::remember(&transaction, key, customer_id).await?;
    transaction.commit().await?;
    get(db, customer_id).await
}

/// Adds (`add = true`) or removes tags; the customer must exist.
pub async fn change_tags(
    db: &DatabaseConnection,
    customer_id: &str,
    tags: &BTreeSet<String>,
    add: bool,
    key: Option<&RequestKey>,
) -> Result<Customer, ServiceError> {
    if idempotency::previous(db, key).await?.is_some() {
        return get(db, customer_id).await;
    }
    let transaction = db.begin().await?;
    let row = find_row(&transaction, customer_id).await?;
    let mut current = tags_of(&transaction, &[row.id]).await?.remove(&row.id).unwrap_or_default();
    if add {
        current.extend(tags.iter().cloned());
    } else {
        current.retain(|tag| !tags.contains(tag));
    }
    if current.len() > crate::domain::limits::TAGS_PER_CUSTOMER {
        return Err(ServiceError::invalid(
            "tags",
            format!("a customer has at most {} tags", crate::domain::limits::TAGS_PER_CUSTOMER),
        ));
    }
    replace_tags(&transaction, row.id, &current).await?;
    touch(&transaction, row).await?;
    idempotency::remember(&transaction, key, customer_id).await?;
    transaction.commit().await?;
    get(db, customer_id).await
}

pub async fn set_consent(
    db: &DatabaseConnection,
    customer_id: &str,
    channel: ConsentChannel,
    state: ConsentState,
    key: Option<&RequestKey>,
) -> Result<Customer, ServiceError> {
    if idempotency::previous(db, key).await?.is_some() {
        return get(db, customer_id).await;
    }
    let transaction = db.begin().await?;
    let row = find_row(&transaction, customer_id).await?;
    upsert_consent(&transaction, row.id, channel, state, Micros::now()).await?;
    touch(&transaction, row).await?;
    idempotency::remember(&transaction, key, customer_id).await?;
    transaction.commit().await?;
    get(db, customer_id).await
}

/// One page of customers matching `filter`, in creation order.
pub async fn list(
    db: &DatabaseConnection,
    filter: &CustomerFilter,
    page_size: usize,
    page_token: &str,
) -> Result<(Vec<Customer>, String), ServiceError> {
    let after = page_token::decode(page_token)?;
    let mut condition = Condition::all().add(customer::Column::Id.gt(after));
    if let Some(region) = &filter.region {
        condition = condition.add(customer::Column::Region.eq(region.as_str()));
    }
    if let Some(store) = &filter.home_store_id {
        condition = condition.add(customer::Column::HomeStoreId.eq(store.as_str()));
    }
    for tag in &filter.tags {
        condition = condition.add(
            customer::Column::Id.in_subquery(
                Query::select()
                    .column(customer_tag::Column::CustomerId)
                    .from(customer_tag::Entity)
                    .and_where(customer_tag::Column::Tag.eq(tag.as_str()))
                    .to_owned(),
            ),
        );
    }
    for (name, value) in &filter.attribute_equals {
        condition = condition.add(
            customer::Column::Id.in_subquery(
                Query::select()
                    .column(customer_attribute::Column::CustomerId)
                    .from(customer_attribute::Entity)
                    .and_where(customer_attribute::Column::Name.eq(name.as_str()))
                    .and_where(customer_attribute::Column::Value.eq(value.as_str()))
                    .to_owned(),
            ),
        );
    }
    if let Some(channel) = filter.consent_granted {
        condition = condition.add(
            customer::Column::Id.in_subquery(
                Query::select()
                    .column(customer_consent::Column::CustomerId)
                    .from(customer_consent::Entity)
                    .and_where(customer_consent::Column::Channel.eq(channel as i16))
                    .and_where(customer_consent::Column::State.eq(ConsentState::Granted as i16))
                    .to_owned(),
            ),
        );
    }
    if let Some((start, end)) = filter.first_purchase {
        condition = condition.add(customer::Column::Id.in_subquery(purchase_window_query(true, start, end)));
    }
    if let Some((start, end)) = filter.last_purchase {
        condition = condition.add(customer::Column::Id.in_subquery(purchase_window_query(false, start, end)));
    }
    let mut rows = customer::Entity::find()
        .filter(condition)
        .order_by_asc(customer::Column::Id)
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

/// Customers whose first (or last) completed order falls in [start, end).
fn purchase_window_query(first: bool, start: Micros, end: Micros) -> sea_orm::sea_query::SelectStatement {
    let bound =
        if first { Expr::col(order::Column::PlaceTimeUs).min() } else { Expr::col(order::Column::PlaceTimeUs).max() };
    Query::select()
        .column(order::Column::CustomerId)
        .from(order::Entity)
        .and_where(order::Column::Status.eq(OrderStatus::Completed as i16))
        .and_where(order::Column::CustomerId.is_not_null())
        .group_by_col(order::Column::CustomerId)
        .and_having(bound.clone().gte(start.0))
        .and_having(bound.lt(end.0))
        .to_owned()
}

/// Adds the customer's tags, and sets its attributes and consents per key,
/// leaving other stored tags, attributes and consents as they are.
pub async fn add_details(db: &impl ConnectionTrait, id: i64, customer: &Customer) -> Result<(), ServiceError> {
    let present = tags_of(db, &[id]).await?.remove(&id).unwrap_or_default();
    let new_tags: Vec<_> = customer.tags.difference(&present).cloned().collect();
    if !new_tags.is_empty() {
        customer_tag::Entity::insert_many(
            new_tags.into_iter().map(|tag| customer_tag::ActiveModel { customer_id: Set(id), tag: Set(tag) }),
        )
        .exec(db)
        .await?;
    }
    if !customer.attributes.is_empty() {
        customer_attribute::Entity::delete_many()
            .filter(customer_attribute::Column::CustomerId.eq(id))
            .filter(customer_attribute::Column::Name.is_in(customer.attributes.keys().cloned()))
            .exec(db)
            .await?;
        insert_attributes(db, id, &customer.attributes).await?;
    }
    for (channel, consent) in &customer.consents {
        upsert_consent(db, id, *channel, consent.state, consent.update_time).await?;
    }
    Ok(())
}

async fn touch(db: &impl ConnectionTrait, row: customer::Model) -> Result<(), ServiceError> {
    let mut active: customer::ActiveModel = row.into();
    active.update_time_us = Set(Micros::now().0);
    active.update(db).await?;
    Ok(())
}

async fn replace_tags(db: &impl ConnectionTrait, id: i64, tags: &BTreeSet<String>) -> Result<(), ServiceError> {
    customer_tag::Entity::delete_many().filter(customer_tag::Column::CustomerId.eq(id)).exec(db).await?;
    if !tags.is_empty() {
        customer_tag::Entity::insert_many(
            tags.iter().map(|tag| customer_tag::ActiveModel { customer_id: Set(id), tag: Set(tag.clone()) }),
        )
        .exec(db)
        .await?;
    }
    Ok(())
}

async fn replace_attributes(
    db: &impl ConnectionTrait,
    id: i64,
    attributes: &BTreeMap<String, AttributeValue>,
) -> Result<(), ServiceError> {
    customer_attribute::Entity::delete_many().filter(customer_attribute::Column::CustomerId.eq(id)).exec(db).await?;
    insert_attributes(db, id, attributes).await
}

async fn insert_attributes(
    db: &impl ConnectionTrait,
    id: i64,
    attributes: &BTreeMap<String, AttributeValue>,
) -> Result<(), ServiceError> {
    if attributes.is_empty() {
        return Ok(());
    }
    customer_attribute::Entity::insert_many(attributes.iter().map(|(name, value)| {
        let (kind, text) = value.to_stored();
        customer_attribute::ActiveModel {
            customer_id: Set(id),
            name: Set(name.clone()),
            kind: Set(kind.to_owned()),
            value: Set(text),
        }
    }))
    .exec(db)
    .await?;
    Ok(())
}

async fn upsert_consent(
    db: &impl ConnectionTrait,
    id: i64,
    channel: ConsentChannel,
    state: ConsentState,
    at: Micros,
) -> Result<(), ServiceError> {
    customer_consent::Entity::delete_many()
        .filter(customer_consent::Column::CustomerId.eq(id))
        .filter(customer_consent::Column::Channel.eq(channel as i16))
        .exec(db)
        .await?;
    customer_consent::ActiveModel {
        customer_id: Set(id),
        channel: Set(channel as i16),
        state: Set(state as i16),
        update_time_us: Set(at.0),
    }
    .insert(db)
    .await?;
    Ok(())
}

async fn tags_of(db: &impl ConnectionTrait, ids: &[i64]) -> Result<HashMap<i64, BTreeSet<String>>, ServiceError> {
    let rows =
        customer_tag::Entity::find().filter(customer_tag::Column::CustomerId.is_in(ids.to_vec())).all(db).await?;
    let mut tags: HashMap<i64, BTreeSet<String>> = HashMap::new();
    for row in rows {
        tags.entry(row.customer_id).or_default().insert(row.tag);
    }
    Ok(tags)
}

/// The stored customers among `external_ids`, with their row ids, in a few
/// queries per 500 ids.
pub async fn load_many(
    db: &impl ConnectionTrait,
    external_ids: &[String],
) -> Result<HashMap<String, (i64, Customer)>, ServiceError> {
    let mut found = HashMap::with_capacity(external_ids.len());
    for chunk in external_ids.chunks(500) {
        let rows = customer::Entity::find().filter(customer::Column::ExternalId.is_in(chunk.to_vec())).all(db).await?;
        let ids: Vec<i64> = rows.iter().map(|row| row.id).collect();
        for (id, customer) in ids.into_iter().zip(hydrate(db, rows).await?) {
            found.insert(customer.customer_id.clone(), (id, customer));
        }
    }
    Ok(found)
}

/// Loads tags, attributes and consents for a page of customer rows.
async fn hydrate(db: &impl ConnectionTrait, rows: Vec<customer::Model>) -> Result<Vec<Customer>, ServiceError> {
    if rows.is_empty() {
        return Ok(Vec::new());
    }
    let ids: Vec<i64> = rows.iter().map(|row| row.id).collect();
    let Details { mut tags, mut attributes, mut consents } = details_of(db, &ids).await?;
    Ok(rows
        .into_iter()
        .map(|row| Customer {
            tags: tags.remove(&row.id).unwrap_or_default(),
            attributes: attributes.remove(&row.id).unwrap_or_default(),
            consents: consents.remove(&row.id).unwrap_or_default(),
            customer_id: row.external_id,
            name: row.name,
            email: row.email,
            phone: row.phone,
            home_store_id: row.home_store_id,
            region: row.region,
            create_time: Micros(row.create_time_us),
            update_time: Micros(row.update_time_us),
        })
        .collect())
}

/// The tags, attributes and consents of some customers, by internal id.
#[derive(Default)]
struct Details {
    tags: HashMap<i64, BTreeSet<String>>,
    attributes: HashMap<i64, BTreeMap<String, AttributeValue>>,
    consents: HashMap<i64, BTreeMap<ConsentChannel, Consent>>,
}

/// One statement for all three tables: every customer read (GetCustomer,
/// the customer-360 summary) pays a round trip per statement, and on SQLite
/// each is a hand-off to the connection's thread.
async fn details_of(db: &impl ConnectionTrait, ids: &[i64]) -> Result<Details, ServiceError> {
    const TAG: i64 = 0;
    const ATTRIBUTE: i64 = 1;
    const CONSENT: i64 = 2;
    let list = sql::placeholders(ids.len());
    let statement = format!(
        "SELECT customer_id, {TAG} AS part, tag AS name, '' AS kind, '' AS value, \
           0 AS channel, 0 AS state, 0 AS update_time_us FROM customer_tags WHERE customer_id IN ({list}) \
         UNION ALL SELECT customer_id, {ATTRIBUTE}, name, kind, value, 0, 0, 0 \
           FROM customer_attributes WHERE customer_id IN ({list}) \
         UNION ALL SELECT customer_id, {CONSENT}, '', '', '', CAST(channel AS BIGINT), CAST(state AS BIGINT), \
           update_time_us FROM customer_consents WHERE customer_id IN ({list})"
    );
    let values: Vec<Value> = (0..3).flat_map(|_| ids.iter().map(|&id| Value::from(id))).collect();
    let mut details = Details::default();
    for row in sql::query(db, &statement, values).await? {
        let customer_id = sql::int(&row, "customer_id")?;
        match sql::int(&row, "part")? {
            TAG => {
                details.tags.entry(customer_id).or_default().insert(sql::text(&row, "name")?);
            }
            ATTRIBUTE => {
                if let Some(value) = AttributeValue::from_stored(&sql::text(&row, "kind")?, &sql::text(&row, "value")?)
                {
                    details.attributes.entry(customer_id).or_default().insert(sql::text(&row, "name")?, value);
                }
            }
            _ => {
                let channel = ConsentChannel::from_code(sql::int(&row, "channel")? as i32);
                let state = ConsentState::from_code(sql::int(&row, "state")? as i32);
                if let (Some(channel), Some(state)) = (channel, state) {
                    let update_time = Micros(sql::int(&row, "update_time_us")?);
                    details.consents.entry(customer_id).or_default().insert(channel, Consent { state, update_time });
                }
            }
        }
    }
    Ok(details)
}
