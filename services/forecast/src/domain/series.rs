//! Reading sales series from the profile service's export (and, for
//! customer segments, the members from the segmentation service), zero-filled
//! and trimmed to start at the first period with a non-zero value.

use std::collections::BTreeMap;

use patron_common::ServiceError;
use patron_common::upstream::UpstreamChannel;
use patron_proto::common::v1::TimeWindow;
use patron_proto::profile::v1 as profile;
use patron_proto::profile::v1::profile_service_client::ProfileServiceClient;
use patron_proto::segmentation::v1 as segmentation;
use patron_proto::segmentation::v1::segmentation_service_client::SegmentationServiceClient;
use tonic::Code;

use super::period::{Granularity, micros_of, timestamp};

pub type ProfileClient = ProfileServiceClient<UpstreamChannel>;
pub type SegmentationClient = SegmentationServiceClient<UpstreamChannel>;

#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub enum Measure {
    Revenue,
    Units,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, serde::Serialize, serde::Deserialize)]
pub enum Level {
    Total,
    Store,
    Channel,
    Category,
    Sku,
    Region,
    Segment,
}

impl Level {
    pub fn name(self) -> &'static str {
        match self {
            Level::Total => "total",
            Level::Store => "store",
            Level::Channel => "channel",
            Level::Category => "category",
            Level::Sku => "sku",
            Level::Region => "region",
            Level::Segment => "segment",
        }
    }

    fn export_level(self) -> profile::SeriesLevel {
        match self {
            Level::Total => profile::SeriesLevel::Total,
            Level::Store => profile::SeriesLevel::Store,
            Level::Channel => profile::SeriesLevel::Channel,
            Level::Category => profile::SeriesLevel::Category,
            Level::Sku => profile::SeriesLevel::Sku,
            Level::Region => profile::SeriesLevel::Region,
            Level::Segment => profile::SeriesLevel::Customers,
        }
    }
}

/// One named series.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct SeriesRef {
    pub measure: Measure,
    pub granularity: Granularity,
    pub level: Level,
    pub key: String,
    /// SEGMENT only; resolved to the model actually used.
    pub segmentation_model_id: String,
    pub currency_code: String,
}

/// A history: one value per period from `start` (microseconds) on.
#[derive(Debug, Clone, PartialEq)]
pub struct History {
    pub start: i64,
    pub values: Vec<f64>,
}

/// A failed call to a peer, as this service reports it.
fn upstream_error(peer: &str, status: tonic::Status) -> ServiceError {
    match status.code() {
        Code::Unavailable | Code::DeadlineExceeded | Code::Cancelled | Code::ResourceExhausted | Code::Unknown => {
            ServiceError::Unavailable(format!("{peer} service: {}", status.message()))
        }
        _ => ServiceError::FailedPrecondition(format!("{peer} service: {}", status.message())),
    }
}

#[derive(Clone)]
pub struct SeriesSource {
    profile: ProfileClient,
    segmentation: SegmentationClient,
}

impl SeriesSource {
    pub fn new(profile: ProfileClient, segmentation: SegmentationClient) -> Self {
        Self { profile, segmentation }
    }

    /// The history of one series up to `cutoff` (exclusive, a period
    /// boundary). `field` names the series in errors, e.g. "series_id".
    pub async fn history(&self, series: &mut SeriesRef, cutoff: i64, field: &str) -> Result<History, ServiceError> {
        let customer_ids = if series.level == Level::Segment {
            let (model_id, members) = self.segment_members(&series.segmentation_model_id, &series.key, field).await?;
            series.segmentation_model_id = model_id;
            members
        } else {
            Vec::new()
        };
        let keys =
            if matches!(series.level, Level::Total | Level::Segment) { Vec::new() } else { vec![series.key.clone()] };
        let mut found = self.export(series, keys, customer_ids, cutoff).await?;
        let lookup =
            if matches!(series.level, Level::Total | Level::Segment) { String::new() } else { series.key.clone() };
        match found.remove(&lookup) {
            // A key the export knows but that sold nothing in the lookback is as good as unknown.
            Some(history) if !history.values.is_empty() || lookup.is_empty() => Ok(history),
            _ if matches!(series.level, Level::Total | Level::Segment) => {
                Ok(History { start: cutoff, values: Vec::new() })
            }
            _ => Err(ServiceError::invalid(
                format!("{field}.key"),
                format!("no {} {:?} with sales before the cutoff", series.level.name(), series.key),
            )),
        }
    }

    /// Every key's history at a level (TOTAL has the one key "").
    pub async fn histories(
        &self,
        template: &SeriesRef,
        keys: Vec<String>,
        cutoff: i64,
    ) -> Result<BTreeMap<String, History>, ServiceError> {
        self.export(template, keys, Vec::new(), cutoff).await
    }

    async fn export(
        &self,
        series: &SeriesRef,
        keys: Vec<String>,
        customer_ids: Vec<String>,
        cutoff: i64,
    ) -> Result<BTreeMap<String, History>, ServiceError> {
        let granularity = series.granularity;
        let start = granularity.add(cutoff, -granularity.lookback_periods());
        let request = profile::ExportSalesSeriesRequest {
            level: series.level.export_level() as i32,
            keys,
            granularity: match granularity {
                Granularity::Day => profile::Granularity::Day,
                Granularity::Week => profile::Granularity::Week,
                Granularity::Month => profile::Granularity::Month,
            } as i32,
            window: Some(TimeWindow { start_time: Some(timestamp(start)), end_time: Some(timestamp(cutoff)) }),
            customer_ids,
            currency_code: series.currency_code.clone(),
        };
        let mut stream = self
            .profile
            .clone()
            .export_sales_series(request)
            .await
            .map_err(|status| upstream_error("profile", status))?
            .into_inner();
        let mut points: BTreeMap<String, Vec<(i64, f64)>> = BTreeMap::new();
        while let Some(message) = stream.message().await.map_err(|status| upstream_error("profile", status))? {
            for point in message.points {
                let at = point.period_start.as_ref().map(micros_of).unwrap_or_default();
                let value = match series.measure {
                    Measure::Revenue => point.revenue_minor as f64,
                    Measure::Units => point.units as f64,
                };
                // A period whose returns exceed its sales counts as zero.
                points.entry(point.key).or_default().push((at, value.max(0.0)));
            }
        }
        Ok(points
            .into_iter()
            .map(|(key, mut periods)| {
                periods.sort_by_key(|(at, _)| *at);
                let first = periods.iter().position(|(_, v)| *v > 0.0).unwrap_or(periods.len());
                let start = periods.get(first).map(|(at, _)| *at).unwrap_or(cutoff);
                let values = periods[first..].iter().map(|(_, v)| *v).collect();
                (key, History { start, values })
            })
            .collect())
    }

    /// The segment's current members and the segmentation model id used.
    async fn segment_members(
        &self,
        model_id: &str,
        segment_id: &str,
        field: &str,
    ) -> Result<(String, Vec<String>), ServiceError> {
        let mut members = Vec::new();
        let mut resolved = model_id.to_owned();
        let mut page_token = String::new();
        loop {
            let request = segmentation::ListSegmentMembersRequest {
                model_id: model_id.to_owned(),
                segment_id: segment_id.to_owned(),
                page_size: 10_000,
                page_token: page_token.clone(),
            };
            let response = match self.segmentation.clone().list_segment_members(request).await {
                Ok(response) => response.into_inner(),
                Err(status) if matches!(status.code(), Code::NotFound | Code::InvalidArgument) => {
                    let which = if status.message().contains("model") && !model_id.is_empty() {
                        format!("{field}.segmentation_model_id")
                    } else {
                        format!("{field}.key")
                    };
                    return Err(ServiceError::invalid(which, status.message().to_owned()));
                }
                Err(status) => return Err(upstream_error("segmentation", status)),
            };
            for member in response.members {
                if resolved.is_empty() {
                    resolved = member.model_id.clone();
                }
                members.push(member.customer_id);
            }
            if response.next_page_token.is_empty() {
                break;
            }
            page_token = response.next_page_token;
        }
        if members.is_empty() {
            return Err(ServiceError::invalid(
                format!("{field}.key"),
                format!("segment {segment_id:?} has no members"),
            ));
        }
        Ok((resolved, members))
    }
}
