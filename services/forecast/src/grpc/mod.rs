//! The gRPC adapter: parse the request, fetch the series, run the models off
//! the async runtime, render the answer. No forecasting rule lives here.

pub mod parse;
mod render;

use std::collections::BTreeMap;
use std::pin::Pin;
use std::sync::Arc;
use std::time::{Duration, Instant};

use futures::StreamExt;
use patron_common::registry::{
    ActiveModel, JobBoard, JobHandle, ListModelsQuery, ModelRegistry, NewModelVersion, RequestLog,
};
use patron_common::{ServiceError, Validator};
use patron_proto::common::v1::{ModelStatus, ModelVersion};
use patron_proto::forecast::v1 as pb;
use patron_proto::forecast::v1::forecast_service_server::ForecastService;
use prost::Message;
use rayon::prelude::*;
use sea_orm::DatabaseConnection;
use tokio_stream::Stream;
use tonic::{Code, Request, Response, Status};
use tonic_types::{ErrorDetails, StatusExt};

use crate::domain::evaluation;
use crate::domain::model::{ForecastModel, SeriesSet, StoredSelection};
use crate::domain::period::{Granularity, micros_of, now_micros, timestamp};
use crate::domain::series::{History, Level, SeriesRef, SeriesSource};
use crate::models::selection::{self, SeriesForecast, TooShort};
use crate::models::{Method, SelectionSettings, seasonality};
use crate::store::forecasts::{self, ListFilter, NewForecast};
use parse::SeriesInput;

/// The two arms of a request's `series` oneof, as references.
macro_rules! series_arms {
    ($series:expr, $oneof:path) => {{
        use $oneof as Series;
        match &$series {
            Some(Series::SeriesId(id)) => (Some(id), None),
            Some(Series::SeriesData(data)) => (None, Some(data)),
            None => (None, None),
        }
    }};
}

type RpcResult<T> = Result<Response<T>, Status>;
type ResponseStream<T> = Pin<Box<dyn Stream<Item = Result<T, Status>> + Send>>;

/// How often every replica checks which version is active.
pub const ACTIVE_MODEL_POLL: Duration = Duration::from_secs(2);
const MODEL_KIND: &str = "auto_forecast";
const LIST_DEFAULT: u64 = 100;
const LIST_MAX: u64 = 1000;

#[derive(Clone)]
pub struct ForecastApi {
    db: DatabaseConnection,
    source: SeriesSource,
    registry: ModelRegistry,
    jobs: JobBoard,
    requests: RequestLog,
    active: ActiveModel<ForecastModel>,
}

fn decode_model(version: &ModelVersion, payload: &[u8]) -> Result<ForecastModel, ServiceError> {
    ForecastModel::decode(payload)
        .map_err(|error| ServiceError::internal(format!("model {} payload: {error}", version.id)))
}

/// FAILED_PRECONDITION with a google.rpc.PreconditionFailure "SERIES_TOO_SHORT".
fn too_short(subject: &str, too_short: TooShort) -> Status {
    let mut details = ErrorDetails::new();
    details.add_precondition_failure_violation("SERIES_TOO_SHORT", subject, too_short.to_string());
    Status::with_error_details(Code::FailedPrecondition, format!("series too short: {too_short}"), details)
}

/// The proto asks for INVALID_ARGUMENT on a reused request_id; the shared log says ALREADY_EXISTS.
fn idempotency(error: ServiceError) -> Status {
    match error {
        ServiceError::AlreadyExists { resource: "request_id", .. } => {
            ServiceError::invalid("request_id", "was used before with a different request").into()
        }
        other => other.into(),
    }
}

async fn blocking<T: Send + 'static>(work: impl FnOnce() -> T + Send + 'static) -> Result<T, ServiceError> {
    let span = tracing::Span::current();
    tokio::task::spawn_blocking(move || span.in_scope(work)).await.map_err(ServiceError::internal)
}

/// A history ready for the models, with where it starts and ends.
struct Prepared {
    series: Option<SeriesRef>,
    granularity: Granularity,
    start: i64,
    cutoff: i64,
    values: Vec<f64>,
}

impl ForecastApi {
    pub fn new(db: DatabaseConnection, source: SeriesSource) -> Self {
        let registry = ModelRegistry::new(db.clone(), "fcm");
        Self {
            jobs: JobBoard::new(db.clone(), "fcjob"),
            requests: RequestLog::new(db.clone()),
            active: ActiveModel::new(registry.clone(), ACTIVE_MODEL_POLL, decode_model),
            registry,
            source,
            db,
        }
    }

    async fn prepare(&self, input: SeriesInput, cutoff: i64) -> Result<Prepared, ServiceError> {
        match input {
            SeriesInput::Given { start, granularity, values } => {
                let cutoff = granularity.add(start, values.len() as i64);
                Ok(Prepared { series: None, granularity, start, cutoff, values })
            }
            SeriesInput::Named(mut series) => {
                let history = self.source.history(&mut series, cutoff, "series_id").await?;
                Ok(Prepared {
                    granularity: series.granularity,
                    series: Some(series),
                    start: history.start,
                    cutoff,
                    values: history.values,
                })
            }
        }
    }

    /// The model version to use: the named one, else the active one if any.
    async fn model(
        &self,
        model_id: &str,
    ) -> Result<Option<Arc<patron_common::registry::LoadedModel<ForecastModel>>>, ServiceError> {
        if model_id.is_empty() {
            return Ok(self.active.current());
        }
        let loaded = self.active.get(model_id).await?;
        if loaded.version.status == ModelStatus::Failed as i32 {
            return Err(ServiceError::FailedPrecondition(format!("model {model_id} failed to train")));
        }
        Ok(Some(loaded))
    }

    async fn parse_series_set(&self, set: Option<&pb::SeriesSet>) -> Result<SeriesSet, ServiceError> {
        let mut validator = Validator::new();
        let Some(set) = set else {
            return Err(ServiceError::invalid("series_set", "must name at least one series"));
        };
        let granularity = parse::granularity(&mut validator, "series_set.granularity", set.granularity);
        let measure = match patron_proto::forecast::v1::Measure::try_from(set.measure) {
            Ok(pb::Measure::Revenue) => crate::domain::series::Measure::Revenue,
            Ok(pb::Measure::Units) => crate::domain::series::Measure::Units,
            _ => {
                validator.violation("series_set.measure", "must be REVENUE or UNITS");
                crate::domain::series::Measure::Revenue
            }
        };
        let mut levels = Vec::new();
        for (index, value) in set.levels.iter().enumerate() {
            let field = format!("series_set.levels[{index}]");
            let level = parse::level(&mut validator, &field, *value);
            if level == Level::Segment {
                validator.violation(field, "name segments one by one in series_set.series");
            } else if !levels.contains(&level) {
                levels.push(level);
            }
        }
        let mut series = Vec::new();
        for (index, item) in set.series.iter().enumerate() {
            let level = parse::level(&mut validator, &format!("series_set.series[{index}].level"), item.level);
            parse::key(&mut validator, &format!("series_set.series[{index}].key"), level, &item.key);
            if !series.contains(&(level, item.key.clone())) {
                series.push((level, item.key.clone()));
            }
        }
        if levels.is_empty() && series.is_empty() {
            validator.violation("series_set", "must name at least one series");
        }
        validator.finish()?;
        Ok(SeriesSet {
            measure,
            granularity,
            levels,
            series,
            segmentation_model_id: set.segmentation_model_id.clone(),
            currency_code: set.currency_code.clone(),
        })
    }

    /// Every history of a set, fetched before a job starts so unknown keys
    /// are refused on the call.
    async fn collect(&self, set: &SeriesSet, cutoff: i64) -> Result<Vec<(SeriesRef, History)>, ServiceError> {
        let mut collected: Vec<(SeriesRef, History)> = Vec::new();
        for level in &set.levels {
            let template = set.template(*level, "");
            for (key, history) in self.source.histories(&template, Vec::new(), cutoff).await? {
                collected.push((set.template(*level, &key), history));
            }
        }
        for (index, (level, key)) in set.series.iter().enumerate() {
            if collected.iter().any(|(s, _)| s.level == *level && s.key == *key) {
                continue;
            }
            let mut series = set.template(*level, key);
            let field = format!("series_set.series[{index}]");
            let history = self.source.history(&mut series, cutoff, &field).await?;
            collected.push((series, history));
        }
        Ok(collected)
    }
}

fn forecast_message(
    prepared: &Prepared,
    forecast: &SeriesForecast,
    settings: &SelectionSettings,
    model_id: &str,
    job_id: &str,
    id: &str,
    from_model: bool,
) -> pb::SeriesForecast {
    pb::SeriesForecast {
        id: id.to_owned(),
        series_id: prepared.series.as_ref().map(render::series_id),
        granularity: render::granularity(prepared.granularity) as i32,
        data_cutoff: Some(timestamp(prepared.cutoff)),
        history_length: prepared.values.len() as i32,
        model_id: model_id.to_owned(),
        interval_levels: settings.levels.clone(),
        points: render::points(forecast, &settings.levels, prepared.granularity, prepared.cutoff),
        selection: Some(render::selection(forecast, &settings.backtest, from_model)),
        job_id: job_id.to_owned(),
        create_time: Some(timestamp(now_micros())),
    }
}

fn subject(prepared: &Prepared) -> String {
    match &prepared.series {
        Some(series) => format!("{}:{}", series.level.name(), series.key),
        None => "series_data".to_owned(),
    }
}

#[tonic::async_trait]
impl ForecastService for ForecastApi {
    async fn forecast(&self, request: Request<pb::ForecastRequest>) -> RpcResult<pb::ForecastResponse> {
        let request = request.into_inner();
        let mut validator = Validator::new();
        let (id, data) = series_arms!(request.series, pb::forecast_request::Series);
        let input = parse::series(&mut validator, id, data);
        let granularity = input.as_ref().map(SeriesInput::granularity).unwrap_or(Granularity::Day);
        let horizon = parse::horizon(&mut validator, "horizon", request.horizon, granularity);
        let levels = parse::interval_levels(&mut validator, &request.interval_levels);
        let cutoff = parse::data_cutoff(&mut validator, request.data_cutoff.as_ref(), input.as_ref());
        let model = self.model(&request.model_id).await?;
        let base = model.as_ref().map(|m| &m.model.settings);
        let settings =
            parse::selection(&mut validator, request.selection.as_ref(), granularity, Some(horizon), levels, base);
        validator.finish()?;
        let Some(input) = input else { return Err(ServiceError::invalid("series", "is required").into()) };
        let prepared = self.prepare(input, cutoff).await?;
        if prepared.values.len() < selection::ABSOLUTE_MINIMUM {
            return Err(too_short(
                &subject(&prepared),
                TooShort { length: prepared.values.len(), minimum: selection::ABSOLUTE_MINIMUM },
            ));
        }
        let minimum = settings.backtest.minimum_length();
        if request.fail_on_short_series && prepared.values.len() < minimum {
            return Err(too_short(&subject(&prepared), TooShort { length: prepared.values.len(), minimum }));
        }
        let stored = match (&model, &prepared.series, &request.selection) {
            (Some(model), Some(series), None) => stored_choice(&model.model, series),
            _ => None,
        };
        let run_settings = settings_for(&settings, stored.as_ref());
        let values = prepared.values.clone();
        let forecast = blocking(move || selection::forecast_series(&values, horizon, &run_settings))
            .await?
            .map_err(|error| too_short(&subject(&prepared), error))?;
        let model_id = model.as_ref().map(|m| m.version.id.clone()).unwrap_or_default();
        let from_model = stored.is_some_and(|stored| stored.method == forecast.method);
        let message = forecast_message(&prepared, &forecast, &settings, &model_id, "", "", from_model);
        let history = request.include_history.then(|| pb::SeriesData {
            start_time: Some(timestamp(prepared.start)),
            granularity: render::granularity(prepared.granularity) as i32,
            values: prepared.values.clone(),
        });
        Ok(Response::new(pb::ForecastResponse { forecast: Some(message), history }))
    }

    async fn batch_forecast(&self, request: Request<pb::BatchForecastRequest>) -> RpcResult<pb::BatchForecastResponse> {
        let request = request.into_inner();
        let api = self.clone();
        let run = async {
            let set = api.parse_series_set(request.series_set.as_ref()).await?;
            let mut validator = Validator::new();
            let horizon = parse::horizon(&mut validator, "horizon", request.horizon, set.granularity);
            let levels = parse::interval_levels(&mut validator, &request.interval_levels);
            let cutoff = data_cutoff_for(&mut validator, request.data_cutoff.as_ref(), set.granularity);
            let model = api.model(&request.model_id).await?;
            let base = model.as_ref().map(|m| &m.model.settings);
            let settings = parse::selection(
                &mut validator,
                request.selection.as_ref(),
                set.granularity,
                Some(horizon),
                levels,
                base,
            );
            validator.finish()?;
            let collected = api.collect(&set, cutoff).await?;
            let handle = api.jobs.start("batch_forecast").await?;
            let job = handle.job();
            let model_id = model.as_ref().map(|m| m.version.id.clone()).unwrap_or_default();
            let stored = if request.selection.is_none() { model.map(|m| m.model.clone()) } else { None };
            let worker = api.clone();
            tokio::spawn(async move {
                let reporter = handle.clone();
                let plan = BatchPlan { settings, model: stored, horizon, cutoff, model_id };
                match worker.run_batch(collected, plan, &reporter).await {
                    Ok(metrics) => handle.succeed(None, metrics).await,
                    Err(error) => handle.fail(&error).await,
                }
            });
            Ok(pb::BatchForecastResponse { job: Some(job) })
        };
        let response =
            self.requests.once(&request.request_id, "BatchForecast", &request, run).await.map_err(idempotency)?;
        Ok(Response::new(response))
    }

    async fn get_forecast(&self, request: Request<pb::GetForecastRequest>) -> RpcResult<pb::GetForecastResponse> {
        let request = request.into_inner();
        let mut validator = Validator::new();
        validator.identifier("forecast_id", &request.forecast_id, 128);
        validator.finish()?;
        let body = forecasts::get(&self.db, &request.forecast_id).await?;
        let forecast = pb::SeriesForecast::decode(body.as_slice()).map_err(ServiceError::internal)?;
        Ok(Response::new(pb::GetForecastResponse { forecast: Some(forecast) }))
    }

    async fn list_forecasts(&self, request: Request<pb::ListForecastsRequest>) -> RpcResult<pb::ListForecastsResponse> {
        let request = request.into_inner();
        let mut validator = Validator::new();
        validator.check((0..=LIST_MAX as i32).contains(&request.page_size), "page_size", "must be 0-1000");
        let after = if request.page_token.is_empty() {
            None
        } else {
            // The id part is looked up in the store: PostgreSQL refuses NUL in a parameter.
            let parsed = request
                .page_token
                .split_once(':')
                .filter(|(_, id)| !id.contains('\0'))
                .and_then(|(time, id)| time.parse::<i64>().ok().map(|time| (time, id.to_owned())));
            validator.check(parsed.is_some(), "page_token", "is not a token this service issued");
            parsed
        };
        let level = if request.level == 0 {
            None
        } else {
            Some(render::level(parse::level(&mut validator, "level", request.level)) as i32)
        };
        // Optional filters, but looked up in the store: PostgreSQL refuses NUL in a parameter.
        for (field, value) in [("key", &request.key), ("model_id", &request.model_id), ("job_id", &request.job_id)] {
            if !value.is_empty() {
                validator.identifier(field, value, 1_024);
            }
        }
        validator.finish()?;
        let size = if request.page_size == 0 { LIST_DEFAULT } else { request.page_size as u64 };
        let filter = ListFilter {
            level,
            key: (!request.key.is_empty()).then(|| request.key.clone()),
            model_id: (!request.model_id.is_empty()).then(|| request.model_id.clone()),
            job_id: (!request.job_id.is_empty()).then(|| request.job_id.clone()),
        };
        let mut rows = forecasts::list(&self.db, &filter, after, size + 1).await?;
        let next_page_token = if rows.len() as u64 > size {
            rows.truncate(size as usize);
            rows.last().map(|row| format!("{}:{}", row.create_time_us, row.id)).unwrap_or_default()
        } else {
            String::new()
        };
        let forecasts = rows
            .iter()
            .map(|row| pb::SeriesForecast::decode(row.body.as_slice()).map_err(ServiceError::internal))
            .collect::<Result<Vec<_>, _>>()?;
        Ok(Response::new(pb::ListForecastsResponse { forecasts, next_page_token }))
    }

    async fn backtest(&self, request: Request<pb::BacktestRequest>) -> RpcResult<pb::BacktestResponse> {
        let request = request.into_inner();
        let mut validator = Validator::new();
        let (id, data) = series_arms!(request.series, pb::backtest_request::Series);
        let input = parse::series(&mut validator, id, data);
        let granularity = input.as_ref().map(SeriesInput::granularity).unwrap_or(Granularity::Day);
        let levels = parse::interval_levels(&mut validator, &request.interval_levels);
        let cutoff = parse::data_cutoff(&mut validator, request.data_cutoff.as_ref(), input.as_ref());
        let settings = parse::selection(&mut validator, request.selection.as_ref(), granularity, None, levels, None);
        validator.finish()?;
        let Some(input) = input else { return Err(ServiceError::invalid("series", "is required").into()) };
        let prepared = self.prepare(input, cutoff).await?;
        let values = prepared.values.clone();
        let backtest = blocking(move || selection::backtest(&values, &settings, false))
            .await?
            .map_err(|error| too_short(&subject(&prepared), error))?;
        Ok(Response::new(render::backtest(&backtest, prepared.granularity, prepared.start, prepared.values.len())))
    }

    async fn detect_seasonality(
        &self,
        request: Request<pb::DetectSeasonalityRequest>,
    ) -> RpcResult<pb::DetectSeasonalityResponse> {
        let request = request.into_inner();
        let mut validator = Validator::new();
        let (id, data) = series_arms!(request.series, pb::detect_seasonality_request::Series);
        let input = parse::series(&mut validator, id, data);
        let cutoff = parse::data_cutoff(&mut validator, request.data_cutoff.as_ref(), input.as_ref());
        validator.finish()?;
        let Some(input) = input else { return Err(ServiceError::invalid("series", "is required").into()) };
        let prepared = self.prepare(input, cutoff).await?;
        if prepared.values.len() < selection::ABSOLUTE_MINIMUM {
            return Err(too_short(
                &subject(&prepared),
                TooShort { length: prepared.values.len(), minimum: selection::ABSOLUTE_MINIMUM },
            ));
        }
        let values = prepared.values.clone();
        let calendar = prepared.granularity.calendar_periods();
        let (found, intermittency) =
            blocking(move || (seasonality::detect(&values, &calendar), crate::models::intermittent::classify(&values)))
                .await?;
        Ok(Response::new(pb::DetectSeasonalityResponse {
            periods: found
                .iter()
                .map(|p| pb::SeasonalPeriod { period: p.period as i32, strength: p.strength })
                .collect(),
            intermittency: Some(render::intermittency(&intermittency)),
            history_length: prepared.values.len() as i32,
        }))
    }

    async fn train_forecast_model(
        &self,
        request: Request<pb::TrainForecastModelRequest>,
    ) -> RpcResult<pb::TrainForecastModelResponse> {
        let request = request.into_inner();
        let api = self.clone();
        let run = async {
            let set = api.parse_series_set(request.series_set.as_ref()).await?;
            let mut validator = Validator::new();
            let levels = parse::interval_levels(&mut validator, &request.interval_levels);
            let cutoff = data_cutoff_for(&mut validator, request.data_cutoff.as_ref(), set.granularity);
            let settings =
                parse::selection(&mut validator, request.selection.as_ref(), set.granularity, None, levels, None);
            for (index, tag) in request.tags.iter().enumerate() {
                let ok = (1..=64).contains(&tag.len())
                    && tag.chars().all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_' || c == '-');
                validator.check(ok, format!("tags[{index}]"), "must be 1-64 characters of [a-z0-9_-]");
            }
            validator.finish()?;
            let collected = api.collect(&set, cutoff).await?;
            let handle = api.jobs.start("train_forecast").await?;
            let job = handle.job();
            let worker = api.clone();
            let tags = request.tags.clone();
            tokio::spawn(async move {
                let reporter = handle.clone();
                match worker.train(set, collected, settings, cutoff, tags, &reporter).await {
                    Ok((model_id, metrics)) => handle.succeed(Some(model_id), metrics).await,
                    Err(error) => handle.fail(&error).await,
                }
            });
            Ok(pb::TrainForecastModelResponse { job: Some(job) })
        };
        let response =
            self.requests.once(&request.request_id, "TrainForecastModel", &request, run).await.map_err(idempotency)?;
        Ok(Response::new(response))
    }

    type WatchJobStream = ResponseStream<pb::WatchJobResponse>;

    async fn watch_job(&self, request: Request<pb::WatchJobRequest>) -> RpcResult<Self::WatchJobStream> {
        let request = request.into_inner();
        let stream = self.jobs.watch(&request.job_id).await?;
        Ok(Response::new(Box::pin(stream.map(|job| job.map(|job| pb::WatchJobResponse { job: Some(job) })))))
    }

    async fn get_job(&self, request: Request<pb::GetJobRequest>) -> RpcResult<pb::GetJobResponse> {
        let job = self.jobs.get(&request.into_inner().job_id).await?;
        Ok(Response::new(pb::GetJobResponse { job: Some(job) }))
    }

    async fn get_model(&self, request: Request<pb::GetModelRequest>) -> RpcResult<pb::GetModelResponse> {
        let request = request.into_inner();
        let loaded = self.active.get(&request.model_id).await?;
        let model = &loaded.model;
        let mut usage: BTreeMap<crate::models::Method, i32> = BTreeMap::new();
        for selection in &model.selections {
            *usage.entry(selection.method).or_default() += 1;
        }
        let mut method_usage: Vec<pb::MethodUsage> = usage
            .into_iter()
            .map(|(method, count)| pb::MethodUsage { method: render::method(method) as i32, series_count: count })
            .collect();
        method_usage.sort_by_key(|usage| std::cmp::Reverse(usage.series_count));
        let set = &model.series_set;
        Ok(Response::new(pb::GetModelResponse {
            model: Some(loaded.version.clone()),
            series_set: Some(pb::SeriesSet {
                measure: render::series_id(&set.template(Level::Total, "")).measure,
                granularity: render::granularity(set.granularity) as i32,
                levels: set.levels.iter().map(|l| render::level(*l) as i32).collect(),
                series: set
                    .series
                    .iter()
                    .map(|(level, key)| pb::LevelKey { level: render::level(*level) as i32, key: key.clone() })
                    .collect(),
                segmentation_model_id: set.segmentation_model_id.clone(),
                currency_code: set.currency_code.clone(),
            }),
            selection: Some(pb::SelectionConfig {
                candidates: model.settings.candidates.iter().map(|m| render::method(*m) as i32).collect(),
                backtest: Some(render::backtest_settings(&model.settings.backtest)),
                combination_size: model.settings.combination_size as i32,
                seasonal_periods: model
                    .settings
                    .seasonal_periods
                    .as_ref()
                    .map(|p| p.iter().map(|v| *v as i32).collect())
                    .unwrap_or_default(),
            }),
            interval_levels: model.settings.levels.clone(),
            series_count: model.selections.len() as i32,
            fallback_count: model.selections.iter().filter(|s| s.fallback).count() as i32,
            method_usage,
        }))
    }

    async fn list_models(&self, request: Request<pb::ListModelsRequest>) -> RpcResult<pb::ListModelsResponse> {
        let request = request.into_inner();
        let query = ListModelsQuery {
            page_size: request.page_size,
            page_token: request.page_token,
            status: request.status,
            tag: request.tag,
        };
        let (models, next_page_token) = self.registry.list(&query).await?;
        Ok(Response::new(pb::ListModelsResponse { models, next_page_token }))
    }

    async fn activate_model(&self, request: Request<pb::ActivateModelRequest>) -> RpcResult<pb::ActivateModelResponse> {
        let request = request.into_inner();
        let run = async {
            let activation = self.active.activate(&request.model_id).await?;
            Ok(pb::ActivateModelResponse {
                model: Some(activation.model),
                previous_model_id: activation.previous_model_id,
            })
        };
        let response =
            self.requests.once(&request.request_id, "ActivateModel", &request, run).await.map_err(idempotency)?;
        Ok(Response::new(response))
    }

    async fn rollback_model(&self, request: Request<pb::RollbackModelRequest>) -> RpcResult<pb::RollbackModelResponse> {
        let request = request.into_inner();
        let run = async {
            let activation = self.active.rollback().await?;
            Ok(pb::RollbackModelResponse {
                model: Some(activation.model),
                previous_model_id: activation.previous_model_id,
            })
        };
        let response =
            self.requests.once(&request.request_id, "RollbackModel", &request, run).await.map_err(idempotency)?;
        Ok(Response::new(response))
    }

    async fn tag_model(&self, request: Request<pb::TagModelRequest>) -> RpcResult<pb::TagModelResponse> {
        let request = request.into_inner();
        let run = async {
            let model = self.registry.tag(&request.model_id, &request.add_tags, &request.remove_tags).await?;
            Ok(pb::TagModelResponse { model: Some(model) })
        };
        let response = self.requests.once(&request.request_id, "TagModel", &request, run).await.map_err(idempotency)?;
        Ok(Response::new(response))
    }

    async fn compare_models(&self, request: Request<pb::CompareModelsRequest>) -> RpcResult<pb::CompareModelsResponse> {
        let request = request.into_inner();
        let mut validator = Validator::new();
        // An empty baseline is the active version, as in segmentation and churn.
        if !request.baseline_model_id.is_empty() {
            validator.identifier("baseline_model_id", &request.baseline_model_id, 128);
        }
        validator.identifier("candidate_model_id", &request.candidate_model_id, 128);
        validator.finish()?;
        let baseline = self.usable_model(&request.baseline_model_id).await?;
        let candidate = self.usable_model(&request.candidate_model_id).await?;
        // Both are judged on the candidate's series and windows unless the request says otherwise.
        let judged_candidate = self.evaluate(&candidate, &candidate.model, request.data.as_ref()).await?;
        let judged_baseline = self.evaluate(&baseline, &candidate.model, request.data.as_ref()).await?;
        let mut both = Vec::new();
        for (b, c) in judged_baseline.series.iter().zip(&judged_candidate.series) {
            if let (Some(b), Some(c)) =
                (b.as_ref().and_then(|e| e.choice.clone()), c.as_ref().and_then(|e| e.choice.clone()))
            {
                both.push((b, c));
            }
        }
        let better = both.iter().filter(|(b, c)| matches!((b.mase, c.mase), (Some(b), Some(c)) if c < b)).count();
        let baseline_summary = evaluation::summarise(both.iter().map(|(b, _)| b));
        let candidate_summary = evaluation::summarise(both.iter().map(|(_, c)| c));
        let mut metrics = Vec::new();
        let pairs = [
            ("mase", baseline_summary.mean_mase, candidate_summary.mean_mase),
            ("smape", baseline_summary.mean_smape, candidate_summary.mean_smape),
            ("rmse", baseline_summary.mean_rmse, candidate_summary.mean_rmse),
        ];
        for (name, b, c) in pairs {
            if let (Some(b), Some(c)) = (b, c) {
                metrics.push(comparison(name.to_owned(), b, c));
            }
        }
        for (key, (level, candidate_coverage, _)) in &candidate_summary.coverage {
            if let Some((_, baseline_coverage, _)) = baseline_summary.coverage.get(key) {
                metrics.push(comparison(
                    format!("coverage_error_{level}"),
                    (baseline_coverage - level).abs(),
                    (candidate_coverage - level).abs(),
                ));
            }
        }
        Ok(Response::new(pb::CompareModelsResponse {
            metrics,
            series_count: both.len() as i32,
            candidate_better_count: better as i32,
            backtest: Some(render::backtest_settings(&judged_candidate.settings.backtest)),
            out_of_sample: judged_candidate.first_origin >= cutoff_of(&baseline.version)
                && judged_candidate.first_origin >= cutoff_of(&candidate.version),
        }))
    }

    async fn evaluate_model(&self, request: Request<pb::EvaluateModelRequest>) -> RpcResult<pb::EvaluateModelResponse> {
        let request = request.into_inner();
        let loaded = if request.model_id.is_empty() {
            let version = self.registry.resolve("").await?;
            self.usable_model(&version.id).await?
        } else {
            self.usable_model(&request.model_id).await?
        };
        let judged = self.evaluate(&loaded, &loaded.model, request.data.as_ref()).await?;
        let evaluations: Vec<&evaluation::SeriesEvaluation> = judged.series.iter().flatten().collect();
        let fallback_count = judged.series.iter().filter(|e| e.is_none()).count();
        let coverage_rows = |summary: &evaluation::Summary| -> Vec<pb::IntervalCoverage> {
            summary
                .coverage
                .values()
                .map(|(level, coverage, points)| pb::IntervalCoverage {
                    level: *level,
                    coverage: *coverage,
                    points: *points as i32,
                })
                .collect()
        };
        let choice = evaluation::summarise(evaluations.iter().filter_map(|e| e.choice.as_ref()));
        let mut rows = vec![pb::MethodEvaluation {
            method: pb::ForecastMethod::Unspecified as i32,
            model_choice: true,
            series_count: choice.series_count as i32,
            chosen_count: 0,
            mean_mase: choice.mean_mase,
            mean_smape: choice.mean_smape,
            mean_rmse: choice.mean_rmse,
            coverage: coverage_rows(&choice),
        }];
        let mut methods: Vec<Method> = evaluations.iter().flat_map(|e| e.table.iter().map(|c| c.method)).collect();
        methods.sort();
        methods.dedup();
        let mut method_rows: Vec<pb::MethodEvaluation> = methods
            .into_iter()
            .map(|method| {
                let summary = evaluation::summarise(
                    evaluations.iter().flat_map(|e| e.table.iter().filter(move |c| c.method == method)),
                );
                pb::MethodEvaluation {
                    method: render::method(method) as i32,
                    model_choice: false,
                    series_count: summary.series_count as i32,
                    chosen_count: evaluations.iter().filter(|e| e.chosen_method == Some(method)).count() as i32,
                    mean_mase: summary.mean_mase,
                    mean_smape: summary.mean_smape,
                    mean_rmse: summary.mean_rmse,
                    coverage: coverage_rows(&summary),
                }
            })
            .collect();
        method_rows
            .sort_by(|a, b| a.mean_mase.unwrap_or(f64::INFINITY).total_cmp(&b.mean_mase.unwrap_or(f64::INFINITY)));
        rows.extend(method_rows);
        Ok(Response::new(pb::EvaluateModelResponse {
            model_id: loaded.version.id.clone(),
            rows,
            series_count: judged.series.len() as i32,
            fallback_count: fallback_count as i32,
            backtest: Some(render::backtest_settings(&judged.settings.backtest)),
            out_of_sample: judged.first_origin >= cutoff_of(&loaded.version),
        }))
    }
}

fn comparison(metric: String, baseline: f64, candidate: f64) -> patron_proto::common::v1::MetricComparison {
    patron_proto::common::v1::MetricComparison {
        metric,
        baseline_value: baseline,
        candidate_value: candidate,
        higher_is_better: false,
    }
}

fn cutoff_of(version: &ModelVersion) -> i64 {
    version.data_cutoff.as_ref().map(micros_of).unwrap_or(i64::MIN)
}

/// A model judged on a set of series.
struct Judged {
    /// Per series, `None` for a series too short for the backtest.
    series: Vec<Option<evaluation::SeriesEvaluation>>,
    settings: SelectionSettings,
    /// Start of the first backtest window.
    first_origin: i64,
}

type Loaded = Arc<patron_common::registry::LoadedModel<ForecastModel>>;

impl ForecastApi {
    /// A version that can be judged: known (NOT_FOUND otherwise) and not FAILED.
    async fn usable_model(&self, model_id: &str) -> Result<Loaded, ServiceError> {
        let loaded = self.active.get(model_id).await?;
        if loaded.version.status == ModelStatus::Failed as i32 {
            return Err(ServiceError::FailedPrecondition(format!("model {model_id} failed to train")));
        }
        Ok(loaded)
    }

    /// Backtests `loaded` on `data`, defaulting to the series and windows of `defaults`.
    async fn evaluate(
        &self,
        loaded: &Loaded,
        defaults: &ForecastModel,
        data: Option<&pb::EvaluationData>,
    ) -> Result<Judged, ServiceError> {
        let set = match data.and_then(|d| d.series_set.as_ref()) {
            Some(set) => self.parse_series_set(Some(set)).await?,
            None => defaults.series_set.clone(),
        };
        let mut validator = Validator::new();
        let cutoff = data_cutoff_for(&mut validator, data.and_then(|d| d.data_cutoff.as_ref()), set.granularity);
        let mut base = loaded.model.settings.clone();
        base.backtest = defaults.settings.backtest;
        let config = data
            .and_then(|d| d.backtest)
            .map(|backtest| pb::SelectionConfig { backtest: Some(backtest), ..Default::default() });
        let levels = base.levels.clone();
        let settings = parse::selection(&mut validator, config.as_ref(), set.granularity, None, levels, Some(&base));
        validator.finish()?;
        let collected = self.collect(&set, cutoff).await?;
        let model = loaded.model.clone();
        let run_settings = settings.clone();
        let series = blocking(move || {
            collected
                .par_iter()
                .map(|(series, history)| evaluation::evaluate_series(&history.values, &run_settings, &model, series))
                .collect::<Vec<_>>()
        })
        .await?;
        let span = settings.backtest.horizon + (settings.backtest.windows - 1) * settings.backtest.step;
        let first_origin = set.granularity.add(cutoff, -(span as i64));
        Ok(Judged { series, settings, first_origin })
    }
}

/// A batch's or training's cutoff: one for every series.
fn data_cutoff_for(
    validator: &mut Validator,
    cutoff: Option<&prost_types::Timestamp>,
    granularity: Granularity,
) -> i64 {
    let now = now_micros();
    match cutoff {
        Some(cutoff) => {
            let micros = micros_of(cutoff);
            validator.check(micros <= now, "data_cutoff", "must not be in the future");
            granularity.floor(micros)
        }
        None => granularity.floor(now),
    }
}

/// How a BatchForecast job forecasts: the configuration, the model whose
/// stored choices apply (none when the request overrides the selection), the
/// horizon and the one cutoff of every series.
struct BatchPlan {
    settings: SelectionSettings,
    model: Option<ForecastModel>,
    horizon: usize,
    cutoff: i64,
    model_id: String,
}

/// A model's usable stored choice for a series it was trained on.
fn stored_choice(model: &ForecastModel, series: &SeriesRef) -> Option<StoredSelection> {
    model.selection_for(series).filter(|stored| !stored.fallback).cloned()
}

/// A series the model was trained on keeps the model's choice (refitted on
/// the requested history, so the same history gives the same parameters);
/// every other series runs selection with the model's configuration.
fn settings_for(settings: &SelectionSettings, stored: Option<&StoredSelection>) -> SelectionSettings {
    let mut settings = settings.clone();
    if let Some(stored) = stored {
        settings.candidates = if stored.method == Method::Combination {
            settings.combination_size = stored.members.len();
            stored.members.iter().copied().chain([Method::Combination]).collect()
        } else {
            vec![stored.method]
        };
        settings.required = Some(stored.method);
    }
    settings
}

/// Forecasts every history in parallel on the rayon pool, reporting progress;
/// `model` supplies stored choices unless the request overrode the selection.
fn forecast_all(
    collected: &[(SeriesRef, History)],
    settings: &SelectionSettings,
    model: Option<&ForecastModel>,
    horizon: usize,
    handle: &JobHandle,
) -> Vec<Option<SeriesForecast>> {
    let done = std::sync::atomic::AtomicUsize::new(0);
    let total = collected.len().max(1);
    collected
        .par_iter()
        .map(|(series, history)| {
            let stored = model.and_then(|model| stored_choice(model, series));
            let series_settings = settings_for(settings, stored.as_ref());
            let result = selection::forecast_series(&history.values, horizon, &series_settings).ok();
            let finished = done.fetch_add(1, std::sync::atomic::Ordering::Relaxed) + 1;
            handle.progress(finished as f64 / total as f64, format!("{finished} of {total} series"));
            result
        })
        .collect()
}

impl ForecastApi {
    async fn run_batch(
        &self,
        collected: Vec<(SeriesRef, History)>,
        plan: BatchPlan,
        handle: &JobHandle,
    ) -> Result<BTreeMap<String, f64>, ServiceError> {
        let BatchPlan { settings, model, horizon, cutoff, model_id } = plan;
        let job_id = handle.id();
        let worker_handle = handle.clone();
        let (collected, settings, model, results) = blocking(move || {
            let results = forecast_all(&collected, &settings, model.as_ref(), horizon, &worker_handle);
            (collected, settings, model, results)
        })
        .await?;
        let created = now_micros();
        let mut rows = Vec::new();
        let (mut fallback, mut skipped, mut mase) = (0usize, 0usize, Vec::new());
        for (index, ((series, history), result)) in collected.iter().zip(&results).enumerate() {
            let Some(forecast) = result else {
                skipped += 1;
                continue;
            };
            if forecast.fallback_reason.is_some() {
                fallback += 1;
            }
            if let Some(value) = forecast.backtest.as_ref().and_then(|b| b.selected()).and_then(|c| c.mase) {
                mase.push(value);
            }
            let id = format!("fc-{}-{index:06}", job_id);
            let prepared = Prepared {
                series: Some(series.clone()),
                granularity: series.granularity,
                start: history.start,
                cutoff,
                values: Vec::new(),
            };
            let from_model = model
                .as_ref()
                .and_then(|model| stored_choice(model, series))
                .is_some_and(|stored| stored.method == forecast.method);
            let mut message = forecast_message(&prepared, forecast, &settings, &model_id, &job_id, &id, from_model);
            message.history_length = history.values.len() as i32;
            message.create_time = Some(timestamp(created));
            rows.push(NewForecast {
                id,
                job_id: job_id.clone(),
                model_id: model_id.clone(),
                level: render::level(series.level) as i32,
                series_key: series.key.clone(),
                create_time_us: created,
                body: message.encode_to_vec(),
            });
        }
        let stored = rows.len();
        for chunk in rows.chunks(200) {
            forecasts::insert_many(&self.db, chunk.iter().map(clone_row).collect()).await?;
        }
        let mut metrics = BTreeMap::new();
        metrics.insert("series_total".to_owned(), collected.len() as f64);
        metrics.insert("series_done".to_owned(), stored as f64);
        metrics.insert("series_fallback".to_owned(), fallback as f64);
        metrics.insert("series_skipped".to_owned(), skipped as f64);
        if !mase.is_empty() {
            metrics.insert("mean_mase".to_owned(), mase.iter().sum::<f64>() / mase.len() as f64);
        }
        Ok(metrics)
    }

    async fn train(
        &self,
        set: SeriesSet,
        collected: Vec<(SeriesRef, History)>,
        settings: SelectionSettings,
        cutoff: i64,
        tags: Vec<String>,
        handle: &JobHandle,
    ) -> Result<(String, BTreeMap<String, f64>), ServiceError> {
        let started = Instant::now();
        let worker_handle = handle.clone();
        let horizon = settings.backtest.horizon;
        let (collected, settings, results) = blocking(move || {
            let results = forecast_all(&collected, &settings, None, horizon, &worker_handle);
            (collected, settings, results)
        })
        .await?;
        let mut selections = Vec::new();
        let (mut mase, mut smape) = (Vec::new(), Vec::new());
        let mut coverage: BTreeMap<String, Vec<f64>> = BTreeMap::new();
        for ((series, _), result) in collected.iter().zip(&results) {
            let Some(forecast) = result else { continue };
            let chosen = forecast.backtest.as_ref().and_then(|b| b.selected());
            if let Some(chosen) = chosen {
                mase.extend(chosen.mase);
                smape.extend(chosen.smape);
                for c in &chosen.coverage {
                    if let Some(value) = c.coverage {
                        coverage.entry(format!("coverage_{}", c.level)).or_default().push(value);
                    }
                }
            }
            selections.push(StoredSelection {
                series: series.clone(),
                method: forecast.method,
                specification: forecast.specification.clone(),
                members: forecast.members.clone(),
                fallback: forecast.fallback_reason.is_some(),
                mase: chosen.and_then(|c| c.mase),
            });
        }
        if selections.is_empty() {
            return Err(ServiceError::FailedPrecondition("no series in the set has at least 2 periods".to_owned()));
        }
        let mean = |values: &[f64]| values.iter().sum::<f64>() / values.len().max(1) as f64;
        let mut metrics = BTreeMap::new();
        if !mase.is_empty() {
            metrics.insert("mase".to_owned(), mean(&mase));
        }
        if !smape.is_empty() {
            metrics.insert("smape".to_owned(), mean(&smape));
        }
        for (name, values) in &coverage {
            metrics.insert(name.clone(), mean(values));
        }
        let fallback = selections.iter().filter(|s| s.fallback).count() as f64;
        metrics.insert("fallback_fraction".to_owned(), fallback / selections.len() as f64);
        let mut parameters = BTreeMap::new();
        parameters.insert("windows".to_owned(), settings.backtest.windows.to_string());
        parameters.insert("horizon".to_owned(), settings.backtest.horizon.to_string());
        parameters.insert("step".to_owned(), settings.backtest.step.to_string());
        parameters.insert("combination_size".to_owned(), settings.combination_size.to_string());
        let candidates: Vec<&str> = settings.candidates.iter().map(|m| m.name()).collect();
        parameters.insert(
            "candidates".to_owned(),
            if candidates.is_empty() { "ALL".to_owned() } else { candidates.join(",") },
        );
        let mut features: Vec<String> = set.levels.iter().map(|l| l.name().to_owned()).collect();
        for (level, _) in &set.series {
            if !features.iter().any(|f| f == level.name()) {
                features.push(level.name().to_owned());
            }
        }
        let training_rows = selections.len() as i64;
        let model = ForecastModel { settings, series_set: set, selections };
        let payload = model.encode().map_err(ServiceError::internal)?;
        let version = self
            .registry
            .create(NewModelVersion {
                kind: MODEL_KIND.to_owned(),
                parameters,
                features,
                data_cutoff: Some(timestamp(cutoff)),
                training_rows,
                training_duration: started.elapsed(),
                metrics: metrics.clone(),
                trained_by: String::new(),
                failed: false,
                payload,
            })
            .await?;
        if !tags.is_empty() {
            self.registry.tag(&version.id, &tags, &[]).await?;
        }
        Ok((version.id, metrics))
    }
}

fn clone_row(row: &NewForecast) -> NewForecast {
    NewForecast {
        id: row.id.clone(),
        job_id: row.job_id.clone(),
        model_id: row.model_id.clone(),
        level: row.level,
        series_key: row.series_key.clone(),
        create_time_us: row.create_time_us,
        body: row.body.clone(),
    }
}
