//! Support contacts, feedback, cart events and campaign exposures. Each is an
//! upsert by its external id; writing the same record again changes nothing.

use std::collections::HashMap;

use patron_common::ServiceError;
use sea_orm::{
    ActiveModelTrait, ColumnTrait, ConnectionTrait, DatabaseConnection, EntityTrait, QueryFilter, TransactionTrait,
};

use super::entities::{campaign_exposure, cart_event, customer, feedback, support_contact};
use super::idempotency::{self, RequestKey};
use super::orders::ensure_customer;
use crate::domain::events::{
    CampaignExposure, CartEvent, CartEventType, ContactChannel, Feedback, Score, SupportContact,
};
use crate::domain::time::Micros;

/// What a write did to the stored record.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum WriteOutcome {
    Created,
    Updated,
    Unchanged,
}

async fn customer_pk(
    db: &impl ConnectionTrait,
    customer_id: Option<&str>,
    seen_at: Micros,
) -> Result<Option<i64>, ServiceError> {
    match customer_id {
        Some(customer_id) => Ok(Some(ensure_customer(db, customer_id, seen_at).await?)),
        None => Ok(None),
    }
}

async fn external_ids(db: &impl ConnectionTrait, ids: Vec<i64>) -> Result<HashMap<i64, String>, ServiceError> {
    Ok(customer::Entity::find()
        .filter(customer::Column::Id.is_in(ids))
        .all(db)
        .await?
        .into_iter()
        .map(|row| (row.id, row.external_id))
        .collect())
}

/// Runs `write` in a transaction guarded by the request key, then reads the record back.
macro_rules! recorded {
    ($db:expr, $key:expr, $id:expr, $write:expr, $read:expr) => {{
        if let Some(existing) = idempotency::previous($db, $key).await? {
            return Ok(($read($db, existing).await?, false));
        }
        let transaction = $db.begin().await?;
        let outcome = $write(&transaction).await?;
        idempotency::remember(&transaction, $key, $id).await?;
        transaction.commit().await?;
        Ok(($read($db, $id.to_owned()).await?, outcome == WriteOutcome::Created))
    }};
}

// --- support contacts -------------------------------------------------------

pub async fn record_contact(
    db: &DatabaseConnection,
    contact: &SupportContact,
    key: Option<&RequestKey>,
) -> Result<(SupportContact, bool), ServiceError> {
    recorded!(db, key, &contact.contact_id, |tx| write_contact(tx, contact), |db, id: String| async move {
        get_contact(db, &id).await
    })
}

pub async fn write_contact(db: &impl ConnectionTrait, contact: &SupportContact) -> Result<WriteOutcome, ServiceError> {
    let customer_pk = customer_pk(db, contact.customer_id.as_deref(), contact.open_time).await?;
    let existing = support_contact::Entity::find()
        .filter(support_contact::Column::ExternalId.eq(contact.contact_id.as_str()))
        .one(db)
        .await?;
    let wanted = support_contact::Model {
        id: existing.as_ref().map_or(0, |row| row.id),
        external_id: contact.contact_id.clone(),
        customer_id: customer_pk,
        channel: contact.channel as i16,
        reason: contact.reason.clone(),
        complaint: contact.complaint,
        open_time_us: contact.open_time.0,
        resolve_time_us: contact.resolve_time.map(|at| at.0),
    };
    upsert(db, existing, wanted, |row| support_contact::ActiveModel { id: sea_orm::ActiveValue::NotSet, ..row.into() })
        .await
}

async fn get_contact(db: &impl ConnectionTrait, contact_id: &str) -> Result<SupportContact, ServiceError> {
    let row = support_contact::Entity::find()
        .filter(support_contact::Column::ExternalId.eq(contact_id))
        .one(db)
        .await?
        .ok_or_else(|| ServiceError::not_found("contact", contact_id))?;
    let customers = external_ids(db, row.customer_id.into_iter().collect()).await?;
    Ok(SupportContact {
        customer_id: row.customer_id.and_then(|id| customers.get(&id).cloned()),
        channel: ContactChannel::from_code(i32::from(row.channel))
            .ok_or_else(|| ServiceError::internal(format!("contact {contact_id} has channel {}", row.channel)))?,
        contact_id: row.external_id,
        reason: row.reason,
        complaint: row.complaint,
        open_time: Micros(row.open_time_us),
        resolve_time: row.resolve_time_us.map(Micros),
    })
}

// --- feedback ---------------------------------------------------------------

pub async fn record_feedback(
    db: &DatabaseConnection,
    answer: &Feedback,
    key: Option<&RequestKey>,
) -> Result<(Feedback, bool), ServiceError> {
    recorded!(db, key, &answer.feedback_id, |tx| write_feedback(tx, answer), |db, id: String| async move {
        get_feedback(db, &id).await
    })
}

pub async fn write_feedback(db: &impl ConnectionTrait, answer: &Feedback) -> Result<WriteOutcome, ServiceError> {
    let customer_pk = customer_pk(db, answer.customer_id.as_deref(), answer.submit_time).await?;
    let existing =
        feedback::Entity::find().filter(feedback::Column::ExternalId.eq(answer.feedback_id.as_str())).one(db).await?;
    let (nps, csat) = match answer.score {
        Score::Nps(score) => (Some(score), None),
        Score::Csat(score) => (None, Some(score)),
    };
    let wanted = feedback::Model {
        id: existing.as_ref().map_or(0, |row| row.id),
        external_id: answer.feedback_id.clone(),
        customer_id: customer_pk,
        nps,
        csat,
        comment: answer.comment.clone(),
        touchpoint: answer.touchpoint.clone(),
        submit_time_us: answer.submit_time.0,
    };
    upsert(db, existing, wanted, |row| feedback::ActiveModel { id: sea_orm::ActiveValue::NotSet, ..row.into() }).await
}

async fn get_feedback(db: &impl ConnectionTrait, feedback_id: &str) -> Result<Feedback, ServiceError> {
    let row = feedback::Entity::find()
        .filter(feedback::Column::ExternalId.eq(feedback_id))
        .one(db)
        .await?
        .ok_or_else(|| ServiceError::not_found("feedback", feedback_id))?;
    let customers = external_ids(db, row.customer_id.into_iter().collect()).await?;
    let score = match (row.nps, row.csat) {
        (Some(nps), _) => Score::Nps(nps),
        (None, Some(csat)) => Score::Csat(csat),
        (None, None) => return Err(ServiceError::internal(format!("feedback {feedback_id} has no score"))),
    };
    Ok(Feedback {
        customer_id: row.customer_id.and_then(|id| customers.get(&id).cloned()),
        feedback_id: row.external_id,
        score,
        comment: row.comment,
        touchpoint: row.touchpoint,
        submit_time: Micros(row.submit_time_us),
    })
}

// --- cart events ------------------------------------------------------------

pub async fn record_cart_event(
    db: &DatabaseConnection,
    event: &CartEvent,
    key: Option<&RequestKey>,
) -> Result<(CartEvent, bool), ServiceError> {
    recorded!(db, key, &event.event_id, |tx| write_cart_event(tx, event), |db, id: String| async move {
        get_cart_event(db, &id).await
    })
}

async fn write_cart_event(db: &impl ConnectionTrait, event: &CartEvent) -> Result<WriteOutcome, ServiceError> {
    let customer_pk = customer_pk(db, event.customer_id.as_deref(), event.event_time).await?;
    let existing =
        cart_event::Entity::find().filter(cart_event::Column::ExternalId.eq(event.event_id.as_str())).one(db).await?;
    let wanted = cart_event::Model {
        id: existing.as_ref().map_or(0, |row| row.id),
        external_id: event.event_id.clone(),
        cart_id: event.cart_id.clone(),
        customer_id: customer_pk,
        event_type: event.kind as i16,
        event_time_us: event.event_time.0,
        value_minor: event.value_minor,
        currency_code: event.currency_code.clone(),
        order_external_id: event.order_id.clone(),
    };
    upsert(db, existing, wanted, |row| cart_event::ActiveModel { id: sea_orm::ActiveValue::NotSet, ..row.into() }).await
}

async fn get_cart_event(db: &impl ConnectionTrait, event_id: &str) -> Result<CartEvent, ServiceError> {
    let row = cart_event::Entity::find()
        .filter(cart_event::Column::ExternalId.eq(event_id))
        .one(db)
        .await?
        .ok_or_else(|| ServiceError::not_found("cart event", event_id))?;
    let customers = external_ids(db, row.customer_id.into_iter().collect()).await?;
    Ok(CartEvent {
        customer_id: row.customer_id.and_then(|id| customers.get(&id).cloned()),
        kind: CartEventType::from_code(i32::from(row.event_type))
            .ok_or_else(|| ServiceError::internal(format!("cart event {event_id} has type {}", row.event_type)))?,
        event_id: row.external_id,
        cart_id: row.cart_id,
        event_time: Micros(row.event_time_us),
        value_minor: row.value_minor,
        currency_code: row.currency_code,
        order_id: row.order_external_id,
    })
}

// --- campaign exposures -----------------------------------------------------

pub async fn record_exposure(
    db: &DatabaseConnection,
    exposure: &CampaignExposure,
    key: Option<&RequestKey>,
) -> Result<(CampaignExposure, bool), ServiceError> {
    recorded!(db, key, &exposure.exposure_id, |tx| write_exposure(tx, exposure), |db, id: String| async move {
        get_exposure(db, &id).await
    })
}

async fn write_exposure(db: &impl ConnectionTrait, exposure: &CampaignExposure) -> Result<WriteOutcome, ServiceError> {
    let customer_pk = ensure_customer(db, &exposure.customer_id, exposure.expose_time).await?;
    let existing = campaign_exposure::Entity::find()
        .filter(campaign_exposure::Column::ExternalId.eq(exposure.exposure_id.as_str()))
        .one(db)
        .await?;
    let wanted = campaign_exposure::Model {
        id: existing.as_ref().map_or(0, |row| row.id),
        external_id: exposure.exposure_id.clone(),
        campaign_id: exposure.campaign_id.clone(),
        variant: exposure.variant.clone(),
        customer_id: customer_pk,
        expose_time_us: exposure.expose_time.0,
    };
    upsert(db, existing, wanted, |row| campaign_exposure::ActiveModel {
        id: sea_orm::ActiveValue::NotSet,
        ..row.into()
    })
    .await
}

async fn get_exposure(db: &impl ConnectionTrait, exposure_id: &str) -> Result<CampaignExposure, ServiceError> {
    let row = campaign_exposure::Entity::find()
        .filter(campaign_exposure::Column::ExternalId.eq(exposure_id))
        .one(db)
        .await?
        .ok_or_else(|| ServiceError::not_found("exposure", exposure_id))?;
    let customers = external_ids(db, vec![row.customer_id]).await?;
    Ok(CampaignExposure {
        customer_id: customers.get(&row.customer_id).cloned().unwrap_or_default(),
        exposure_id: row.external_id,
        campaign_id: row.campaign_id,
        variant: row.variant,
        expose_time: Micros(row.expose_time_us),
    })
}

/// Inserts `wanted`, or updates the existing row when it differs.
async fn upsert<M, A>(
    db: &impl ConnectionTrait,
    existing: Option<M>,
    wanted: M,
    for_insert: impl FnOnce(M) -> A,
) -> Result<WriteOutcome, ServiceError>
where
    M: PartialEq + sea_orm::ModelTrait + sea_orm::IntoActiveModel<A>,
    A: ActiveModelTrait<Entity = M::Entity> + sea_orm::ActiveModelBehavior + Send,
    <M::Entity as EntityTrait>::Model: sea_orm::IntoActiveModel<A>,
{
    match existing {
        Some(row) if row == wanted => Ok(WriteOutcome::Unchanged),
        Some(_) => {
            // Every column changes to the wanted value (reset_all marks them dirty).
            wanted.into_active_model().reset_all().update(db).await?;
            Ok(WriteOutcome::Updated)
        }
        None => {
            for_insert(wanted).insert(db).await?;
            Ok(WriteOutcome::Created)
        }
    }
}
