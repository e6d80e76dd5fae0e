//! The server-streaming exports the model services train on.

use patron_common::{ServiceError, Validator};
use patron_proto::common::v1::TimeUnit;
use patron_proto::profile::v1 as pb;
use sea_orm::DatabaseConnection;
use tokio::sync::mpsc;
use tonic::Status;

use super::{parse, render};
use crate::config::ProfileSettings;
use crate::domain::features::{self, CustomerFacts};
use crate::domain::time::{MICROS_PER_DAY, Micros};
use crate::store::features::{self as store, FeatureScope};
use crate::store::series;

const DEFAULT_BATCH: usize = 1_000;
const MAX_BATCH: usize = 10_000;

/// A validated ExportCustomerFeatures request.
pub struct FeatureExport {
    scope: FeatureScope,
    unit: TimeUnit,
    only: Option<Vec<String>>,
    batch_size: usize,
}

impl FeatureExport {
    pub fn parse(
        request: &pb::ExportCustomerFeaturesRequest,
        settings: &ProfileSettings,
    ) -> Result<Self, ServiceError> {
        let mut validator = Validator::new();
        let cutoff = parse::timestamp(&mut validator, "as_of", request.as_of.as_ref()).unwrap_or_else(Micros::now);
        let unit = match TimeUnit::try_from(request.time_unit) {
            Ok(TimeUnit::Unspecified) | Ok(TimeUnit::Days) => TimeUnit::Days,
            Ok(TimeUnit::Weeks) => TimeUnit::Weeks,
            Err(_) => {
                validator.violation("time_unit", "must be DAYS or WEEKS");
                TimeUnit::Days
            }
        };
        let currency_code =
            parse::currency(&mut validator, "currency_code", &request.currency_code, &settings.default_currency);
        let batch_size = match request.batch_size {
            0 => DEFAULT_BATCH,
            size if size < 0 || size as usize > MAX_BATCH => {
                validator.violation("batch_size", format!("must be between 1 and {MAX_BATCH}"));
                DEFAULT_BATCH
            }
            size => size as usize,
        };
        for (index, id) in request.customer_ids.iter().enumerate() {
            validator.identifier(&format!("customer_ids[{index}]"), id, crate::domain::limits::ID_CHARS);
        }
        validator.finish()?;
        Ok(Self {
            scope: FeatureScope {
                cutoff,
                currency_code,
                abandonment_timeout_micros: settings.abandonment_timeout_micros(),
                include_non_buyers: request.include_non_buyers,
            },
            unit,
            only: (!request.customer_ids.is_empty()).then(|| request.customer_ids.clone()),
            batch_size,
        })
    }

    /// Streams every selected customer's features, a batch per message.
    pub async fn run(
        self,
        db: DatabaseConnection,
        rows: mpsc::Sender<Result<pb::ExportCustomerFeaturesResponse, Status>>,
    ) {
        if let Err(error) = self.stream(&db, &rows).await {
            let _ = rows.send(Err(error.into())).await;
        }
    }

    async fn stream(
        &self,
        db: &DatabaseConnection,
        rows: &mpsc::Sender<Result<pb::ExportCustomerFeaturesResponse, Status>>,
    ) -> Result<(), ServiceError> {
        let unit_days = if self.unit == TimeUnit::Weeks { 7.0 } else { 1.0 };
        let send = |facts: Vec<CustomerFacts>| {
            let batch: Vec<pb::CustomerFeatures> = facts
                .into_iter()
                .map(|facts| render::features(features::compute(facts, self.scope.cutoff, unit_days), self.unit))
                .collect();
            rows.send(Ok(pb::ExportCustomerFeaturesResponse { rows: batch }))
        };
        match &self.only {
            Some(ids) => {
                for ids in ids.chunks(self.batch_size) {
                    let chunk = store::next_chunk(db, &self.scope, Some(ids), 0, self.batch_size).await?;
                    if send(chunk.facts).await.is_err() {
                        return Ok(());
                    }
                }
            }
            None => {
                // A reader task fetches the next customers while these are computed and sent.
                let (chunks, mut ready) = mpsc::channel(1);
                let reading = read_all(db.clone(), self.scope.clone(), chunks);
                let reader = tokio::spawn(tracing::Instrument::instrument(reading, tracing::Span::current()));
                while let Some(chunk) = ready.recv().await {
                    let mut facts = chunk?.facts;
                    while !facts.is_empty() {
                        let rest = facts.split_off(facts.len().min(self.batch_size));
                        if send(std::mem::replace(&mut facts, rest)).await.is_err() {
                            reader.abort();
                            return Ok(()); // The client went away.
                        }
                    }
                }
            }
        }
        Ok(())
    }
}

/// Customers read per database round: several messages' worth, so the
/// per-chunk queries are fewer and each covers a longer id range.
const CUSTOMERS_PER_READ: usize = 5_000;

/// Reads every selected customer's facts in id order, a chunk at a time,
/// until the customers or the receiver run out.
async fn read_all(
    db: DatabaseConnection,
    scope: FeatureScope,
    chunks: mpsc::Sender<Result<store::Chunk, ServiceError>>,
) {
    let mut after = 0;
    loop {
        let chunk = match store::next_chunk(&db, &scope, None, after, CUSTOMERS_PER_READ).await {
            Ok(chunk) => chunk,
            Err(error) => {
                let _ = chunks.send(Err(error)).await;
                return;
            }
        };
        let Some(last) = chunk.last_id else { return };
        if chunks.send(Ok(chunk)).await.is_err() {
            return; // The stream was dropped.
        }
        after = last;
    }
}

/// Points per streamed message of a series export.
const POINTS_PER_MESSAGE: usize = 1_000;

pub async fn sales_series(
    db: DatabaseConnection,
    query: series::SeriesQuery,
    points: mpsc::Sender<Result<pb::ExportSalesSeriesResponse, Status>>,
) {
    let outcome = async {
        let series = series::sales(&db, &query).await?;
        let mut batch = Vec::with_capacity(POINTS_PER_MESSAGE);
        for (key, periods) in series {
            for (day, totals) in periods {
                batch.push(pb::SeriesPoint {
                    key: key.clone(),
                    period_start: Some(render::timestamp(Micros(day * MICROS_PER_DAY))),
                    revenue_minor: totals.revenue_minor,
                    units: totals.units,
                    orders: totals.orders,
                });
                if batch.len() == POINTS_PER_MESSAGE {
                    let full = std::mem::replace(&mut batch, Vec::with_capacity(POINTS_PER_MESSAGE));
                    if points.send(Ok(pb::ExportSalesSeriesResponse { points: full })).await.is_err() {
                        return Ok(());
                    }
                }
            }
        }
        if !batch.is_empty() {
            let _ = points.send(Ok(pb::ExportSalesSeriesResponse { points: batch })).await;
        }
        Ok::<(), ServiceError>(())
    }
    .await;
    if let Err(error) = outcome {
        let _ = points.send(Err(error.into())).await;
    }
}

/// Longest series a request may ask for, in periods (ten years of days).
const MAX_PERIODS: i64 = 3_660;

pub fn series_query(
    request: &pb::ExportSalesSeriesRequest,
    settings: &ProfileSettings,
) -> Result<series::SeriesQuery, ServiceError> {
    let mut validator = Validator::new();
    let level = match pb::SeriesLevel::try_from(request.level) {
        Ok(pb::SeriesLevel::Total) => Some(series::Level::Total),
        Ok(pb::SeriesLevel::Store) => Some(series::Level::Store),
        Ok(pb::SeriesLevel::Channel) => Some(series::Level::Channel),
        Ok(pb::SeriesLevel::Category) => Some(series::Level::Category),
        Ok(pb::SeriesLevel::Sku) => Some(series::Level::Sku),
        Ok(pb::SeriesLevel::Region) => Some(series::Level::Region),
        Ok(pb::SeriesLevel::Customers) => Some(series::Level::Customers),
        _ => None,
    };
    validator.check(level.is_some(), "level", "must be TOTAL, STORE, CHANNEL, CATEGORY, SKU, REGION or CUSTOMERS");
    let granularity = match pb::Granularity::try_from(request.granularity) {
        Ok(pb::Granularity::Day) => Some(series::Granularity::Day),
        Ok(pb::Granularity::Week) => Some(series::Granularity::Week),
        Ok(pb::Granularity::Month) => Some(series::Granularity::Month),
        _ => None,
    };
    validator.check(granularity.is_some(), "granularity", "must be DAY, WEEK or MONTH");
    let window = parse::required_window(&mut validator, "window", request.window.as_ref());
    if let Some((start, end)) = window {
        validator.check((end.0 - start.0) / MICROS_PER_DAY <= MAX_PERIODS, "window", "spans more than ten years");
    }
    if level == Some(series::Level::Customers) {
        validator.check(!request.customer_ids.is_empty(), "customer_ids", "must list the members for level CUSTOMERS");
        validator.check(
            request.customer_ids.len() <= super::reports::MAX_FILTER_CUSTOMERS,
            "customer_ids",
            format!("at most {} customers", super::reports::MAX_FILTER_CUSTOMERS),
        );
    }
    let currency_code =
        parse::currency(&mut validator, "currency_code", &request.currency_code, &settings.default_currency);
    validator.finish()?;
    match (level, granularity, window) {
        (Some(level), Some(granularity), Some(window)) => Ok(series::SeriesQuery {
            level,
            keys: request.keys.clone(),
            granularity,
            window,
            customer_ids: request.customer_ids.clone(),
            currency_code,
        }),
        _ => Err(ServiceError::internal("validated series query is incomplete")),
    }
}
