//! Writes for bulk import: idempotent by external id, so re-importing a file
//! reports every row unchanged and writes nothing. Each function runs inside
//! the caller's batch transaction; order rows go through [`super::import_orders`].

use patron_common::ServiceError;
use sea_orm::{ActiveModelTrait, ConnectionTrait, Set};

use super::entities::customer;
use super::events::WriteOutcome;
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
