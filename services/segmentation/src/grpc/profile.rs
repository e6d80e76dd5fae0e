//! Reading the profile service's per-customer feature export.

use patron_common::ServiceError;
use patron_common::upstream::UpstreamChannel;
use patron_proto::common::v1::TimeUnit;
use patron_proto::profile::v1::profile_service_client::ProfileServiceClient;
use patron_proto::profile::v1::{CustomerFeatures as ExportRow, ExportCustomerFeaturesRequest};
use tonic::Code;

use super::time::timestamp;

/// The profile service, and the currency whose orders its export counts.
#[derive(Clone)]
pub struct ProfileClient {
    pub client: ProfileServiceClient<UpstreamChannel>,
    pub currency_code: String,
}

const ROWS_PER_MESSAGE: i32 = 5_000;

/// A failed call to the profile service, as this service reports it.
pub fn upstream_error(status: tonic::Status) -> ServiceError {
    match status.code() {
        Code::Unavailable | Code::DeadlineExceeded | Code::Cancelled | Code::ResourceExhausted => {
            ServiceError::Unavailable(format!("profile service: {}", status.message()))
        }
        _ => ServiceError::FailedPrecondition(format!("profile service: {}", status.message())),
    }
}

/// Opens the export stream as of `as_of_us`, for `customer_ids` (empty = every buyer).
pub async fn open_export(
    client: &ProfileClient,
    as_of_us: i64,
    customer_ids: Vec<String>,
) -> Result<tonic::Streaming<patron_proto::profile::v1::ExportCustomerFeaturesResponse>, ServiceError> {
    let request = ExportCustomerFeaturesRequest {
        as_of: Some(timestamp(as_of_us)),
        time_unit: TimeUnit::Days as i32,
        customer_ids,
        include_non_buyers: false,
        currency_code: client.currency_code.clone(),
        batch_size: ROWS_PER_MESSAGE,
    };
    let response = client.client.clone().export_customer_features(request).await.map_err(upstream_error)?;
    Ok(response.into_inner())
}

/// Every exported row as of `as_of_us`.
pub async fn export_rows(
    client: &ProfileClient,
    as_of_us: i64,
    customer_ids: Vec<String>,
) -> Result<Vec<ExportRow>, ServiceError> {
    let mut stream = open_export(client, as_of_us, customer_ids).await?;
    let mut rows = Vec::new();
    while let Some(message) = stream.message().await.map_err(upstream_error)? {
        rows.extend(message.rows);
    }
    Ok(rows)
}
