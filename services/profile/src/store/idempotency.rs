//! Remembered request ids, so a retried mutating call does not act twice.
//! A retry returns the current state of the resource the first call touched.

use patron_common::ServiceError;
use sea_orm::{ActiveModelTrait, ConnectionTrait, EntityTrait, Set};

use super::entities::idempotency_key;
use crate::domain::time::Micros;

/// A mutating call's request id and method; empty ids are not remembered.
#[derive(Debug, Clone)]
pub struct RequestKey {
    pub request_id: String,
    pub method: &'static str,
}

impl RequestKey {
    pub fn new(request_id: &str, method: &'static str) -> Option<Self> {
        (!request_id.is_empty()).then(|| Self { request_id: request_id.to_owned(), method })
    }
}

impl RequestKey {
    /// A request id is an identifier like any other: bounded and without
    /// control characters (PostgreSQL cannot even store NUL, which came
    /// back INTERNAL before the check; found by the hostile tests).
    fn check(&self) -> Result<(), ServiceError> {
        let mut validator = patron_common::Validator::new();
        validator.identifier("request_id", &self.request_id, crate::domain::limits::ID_CHARS);
        validator.finish()
    }
}

/// The resource a previous call with this key touched, if there was one.
pub async fn previous(db: &impl ConnectionTrait, key: Option<&RequestKey>) -> Result<Option<String>, ServiceError> {
    let Some(key) = key else { return Ok(None) };
    key.check()?;
    let found = idempotency_key::Entity::find_by_id((key.request_id.clone(), key.method.to_owned())).one(db).await?;
    Ok(found.map(|row| row.resource_id))
}

/// Records the key inside the caller's transaction.
pub async fn remember(
    db: &impl ConnectionTrait,
    key: Option<&RequestKey>,
    resource_id: &str,
) -> Result<(), ServiceError> {
    let Some(key) = key else { return Ok(()) };
    key.check()?;
    idempotency_key::ActiveModel {
        request_id: Set(key.request_id.clone()),
        method: Set(key.method.to_owned()),
        resource_id: Set(resource_id.to_owned()),
        create_time_us: Set(Micros::now().0),
    }
    .insert(db)
    .await?;
    Ok(())
}
