//! The profile service, as this service needs it: customer snapshots from
//! its feature export as of a cutoff (`ExportCustomerFeatures`, streamed).

use futures::StreamExt;
use patron_common::ServiceError;
use patron_common::upstream::UpstreamChannel;
use patron_proto::common::v1::TimeUnit as PbTimeUnit;
use patron_proto::profile::v1 as pb;
use patron_proto::profile::v1::profile_service_client::ProfileServiceClient;

use crate::domain::settings::TimeUnit;
use crate::domain::snapshot::Snapshot;
use crate::time::{micros_of, timestamp};

const EXPORT_BATCH: i32 = 5_000;

#[derive(Clone)]
pub struct Profile {
    client: ProfileServiceClient<UpstreamChannel>,
}

/// What to export.
#[derive(Debug, Clone)]
pub struct ExportQuery<'a> {
    pub as_of_us: i64,
    pub time_unit: TimeUnit,
    pub currency_code: &'a str,
    /// Empty: every customer with a purchase.
    pub customer_ids: &'a [String],
    pub include_non_buyers: bool,
}

impl Profile {
    pub fn new(channel: UpstreamChannel) -> Self {
        Self { client: ProfileServiceClient::new(channel).max_decoding_message_size(64 * 1024 * 1024) }
    }

    /// Every exported row as a snapshot; `on_rows` hears the running count.
    pub async fn export(
        &self,
        query: &ExportQuery<'_>,
        on_rows: impl Fn(usize),
    ) -> Result<Vec<Snapshot>, ServiceError> {
        let request = pb::ExportCustomerFeaturesRequest {
            as_of: Some(timestamp(query.as_of_us)),
            time_unit: match query.time_unit {
                TimeUnit::Days => PbTimeUnit::Days,
                TimeUnit::Weeks => PbTimeUnit::Weeks,
            } as i32,
            customer_ids: query.customer_ids.to_vec(),
            include_non_buyers: query.include_non_buyers,
            currency_code: query.currency_code.to_owned(),
            batch_size: EXPORT_BATCH,
        };
        let mut stream =
            self.client.clone().export_customer_features(request).await.map_err(upstream_error)?.into_inner();
        let mut snapshots = Vec::new();
        while let Some(message) = stream.next().await {
            let message = message.map_err(upstream_error)?;
            snapshots.extend(message.rows.into_iter().map(snapshot));
            on_rows(snapshots.len());
        }
        Ok(snapshots)
    }
}

/// A failed call to the profile service, as this service reports it.
fn upstream_error(status: tonic::Status) -> ServiceError {
    match status.code() {
        tonic::Code::InvalidArgument => {
            ServiceError::Internal(format!("profile service refused the export: {}", status.message()))
        }
        _ => ServiceError::Unavailable(format!("profile service: {}", status.message())),
    }
}

fn snapshot(row: pb::CustomerFeatures) -> Snapshot {
    Snapshot {
        frequency: row.frequency as f64,
        recency: row.recency,
        age: row.age,
        monetary_value: row.monetary_value,
        days_since_last_purchase: row.days_since_last_purchase,
        tenure_days: row.tenure_days,
        orders: row.orders as f64,
        revenue_minor: row.revenue_minor as f64,
        average_order_value: row.average_order_value,
        category_count: row.category_count as f64,
        share_web: row.share_web,
        share_app: row.share_app,
        returns: row.returns as f64,
        contacts: row.contacts as f64,
        complaints: row.complaints as f64,
        last_nps: row.last_nps.map(f64::from),
        days_since_last_contact: row.days_since_last_contact,
        abandoned_carts: row.abandoned_carts as f64,
        region: row.region,
        consents_granted: row.consents_granted,
        last_purchase_us: row.last_purchase_time.as_ref().map(micros_of),
        customer_id: row.customer_id,
    }
}
