//! `request_id` idempotency for the registry's mutating calls: the first
//! successful response is stored with the request, and a retry with the same
//! id gets that response back instead of acting twice.

use std::future::Future;

use sea_orm::ActiveValue::Set;
use sea_orm::sea_query::OnConflict;
use sea_orm::{DatabaseConnection, EntityTrait};

use super::ids::now_micros;
use super::tables::request_log;
use crate::ServiceError;

const MAX_REQUEST_ID_CHARS: usize = 64;

#[derive(Clone)]
pub struct RequestLog {
    db: DatabaseConnection,
}

impl RequestLog {
    pub fn new(db: DatabaseConnection) -> Self {
        Self { db }
    }

    /// Runs `run` once per `request_id`. A repeat of the same request returns
    /// the stored response; the same id with other arguments (or another
    /// method) is ALREADY_EXISTS. Failures are not stored, so a failed call
    /// may be retried. An empty `request_id` disables deduplication.
    pub async fn once<R, Q, F>(&self, request_id: &str, method: &str, request: &Q, run: F) -> Result<R, ServiceError>
    where
        R: prost::Message + Default,
        Q: prost::Message,
        F: Future<Output = Result<R, ServiceError>>,
    {
        if request_id.is_empty() {
            return run.await;
        }
        if request_id.chars().count() > MAX_REQUEST_ID_CHARS || request_id.chars().any(char::is_control) {
            return Err(ServiceError::invalid(
                "request_id",
                format!("must be at most {MAX_REQUEST_ID_CHARS} characters without control characters"),
            ));
        }
        let request_bytes = request.encode_to_vec();
        if let Some(previous) = request_log::Entity::find_by_id(request_id.to_owned()).one(&self.db).await? {
            if previous.method != method || previous.request != request_bytes {
                return Err(ServiceError::AlreadyExists { resource: "request_id", id: request_id.to_owned() });
            }
            return R::decode(previous.response.as_slice())
                .map_err(|error| ServiceError::internal(format!("stored response of {request_id}: {error}")));
        }
        let response = run.await?;
        let row = request_log::ActiveModel {
            request_id: Set(request_id.to_owned()),
            method: Set(method.to_owned()),
            request: Set(request_bytes),
            response: Set(response.encode_to_vec()),
            create_time_us: Set(now_micros()),
        };
        // A concurrent duplicate may have stored first; either response is the answer.
        request_log::Entity::insert(row)
            .on_conflict(OnConflict::column(request_log::Column::RequestId).do_nothing().to_owned())
            .try_insert()
            .exec_without_returning(&self.db)
            .await?;
        Ok(response)
    }
}
