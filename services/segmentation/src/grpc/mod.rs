//! The gRPC adapter: parse the request, call the registry, the domain or the
//! store, render the answer. No business rule lives here.

mod assign_all;
mod holdout;
pub mod parse;
pub mod profile;
mod render;
pub mod time;

use std::collections::BTreeMap;
use std::pin::Pin;
use std::sync::Arc;
use std::time::{Duration, Instant};

use futures::StreamExt;
use patron_common::registry::{
    ActiveModel, JobBoard, ListModelsQuery, LoadedModel, ModelRegistry, NewModelVersion, RequestLog,
};
use patron_common::{ServiceError, Validator};
use patron_proto::common::v1::{ModelStatus, ModelVersion};
use patron_proto::segmentation::v1 as pb;
use patron_proto::segmentation::v1::assign_customer_request::Customer;
use patron_proto::segmentation::v1::segmentation_service_server::SegmentationService;
use sea_orm::DatabaseConnection;
use tokio_stream::Stream;
use tonic::{Request, Response, Status};

use crate::domain::model::{AssignError, SegmentationModel};
use crate::domain::rfm::{FREQUENCY_FEATURE, MONETARY_FEATURE, RECENCY_FEATURE};
use crate::domain::training::{self, TrainingPlan};
use crate::store::memberships::{self, SegmentFilter};
use patron_common::erasures::Erasures;
use profile::ProfileClient;
use time::{date_label, now_micros, timestamp};

type ResponseStream<T> = Pin<Box<dyn Stream<Item = Result<T, Status>> + Send>>;
type RpcResult<T> = Result<Response<T>, Status>;

/// Metadata the gateway sets to the authenticated principal's name.
pub const PRINCIPAL_HEADER: &str = "x-patron-principal";
/// How often every replica checks which version is active.
pub const ACTIVE_MODEL_POLL: Duration = Duration::from_secs(2);

/// Where money comes from: the profile service's reporting currency.
#[derive(Debug, Clone)]
pub struct Currency {
    pub code: String,
    pub minor_per_major: f64,
}

pub type Loaded = Arc<LoadedModel<SegmentationModel>>;

#[derive(Clone)]
pub struct SegmentationApi {
    db: DatabaseConnection,
    registry: ModelRegistry,
    jobs: JobBoard,
    requests: RequestLog,
    active: ActiveModel<SegmentationModel>,
    profile: ProfileClient,
    currency: Currency,
    /// One AssignAll at a time in this process.
    assign_all_running: Arc<tokio::sync::Mutex<()>>,
    /// Customers erased while an AssignAll of this process runs.
    erasures: Erasures,
}

fn decode_model(version: &ModelVersion, payload: &[u8]) -> Result<SegmentationModel, ServiceError> {
    SegmentationModel::decode(payload)
        .map_err(|error| ServiceError::internal(format!("model {} payload: {error}", version.id)))
}

fn model_kind(mini_batch: bool) -> &'static str {
    if mini_batch { "mini_batch_kmeans" } else { "kmeans" }
}

fn principal<T>(request: &Request<T>) -> String {
    request.metadata().get(PRINCIPAL_HEADER).and_then(|value| value.to_str().ok()).unwrap_or_default().to_owned()
}

fn assign_error(error: AssignError) -> ServiceError {
    let field = |feature: &str| format!("features.values[{feature:?}]");
    match error {
        AssignError::Missing { feature } => ServiceError::invalid(field(&feature), "missing model feature"),
        AssignError::NotFinite { feature, value } => {
            ServiceError::invalid(field(&feature), format!("must be finite, got {value}"))
        }
        AssignError::NegativeForLog { feature, value } => {
            ServiceError::invalid(field(&feature), format!("must not be negative (log1p feature), got {value}"))
        }
    }
}

/// An export value the model cannot take, reported with the customer.
fn export_error(customer_id: &str, error: AssignError) -> ServiceError {
    match error {
        AssignError::NotFinite { feature, value } => {
            let what = if value.is_nan() { "NaN" } else { "infinite" };
            ServiceError::FailedPrecondition(format!("feature {feature} is {what} for customer {customer_id}"))
        }
        AssignError::NegativeForLog { feature, value } => ServiceError::FailedPrecondition(format!(
            "feature {feature} is negative ({value}) for customer {customer_id}, but the model takes its log1p"
        )),
        AssignError::Missing { feature } => {
            ServiceError::FailedPrecondition(format!("feature {feature} is missing for customer {customer_id}"))
        }
    }
}

impl SegmentationApi {
    pub fn new(db: DatabaseConnection, profile: ProfileClient, currency: Currency) -> Self {
        let registry = ModelRegistry::new(db.clone(), "seg");
        Self {
            jobs: JobBoard::new(db.clone(), "segjob"),
            requests: RequestLog::new(db.clone()),
            active: ActiveModel::new(registry.clone(), ACTIVE_MODEL_POLL, decode_model),
            registry,
            db,
            profile,
            currency,
            assign_all_running: Arc::new(tokio::sync::Mutex::new(())),
            erasures: Erasures::default(),
        }
    }

    /// The version's member counts per segment id, from its latest completed AssignAll.
    async fn member_counts(&self, model_id: &str) -> Result<BTreeMap<String, i64>, ServiceError> {
        Ok(memberships::completed_run(&self.db, model_id).await?.map(|run| run.segment_counts).unwrap_or_default())
    }

    /// Trains in the background and reports to the job.
    async fn start_training(
        &self,
        request: parse::TrainingRequest,
        trained_by: String,
    ) -> Result<pb::TrainSegmentationResponse, ServiceError> {
        let handle = self.jobs.start("train_segmentation").await?;
        let job = handle.job();
        let api = self.clone();
        tokio::spawn(async move {
            let reporter = handle.clone();
            match api.train(request, trained_by, &reporter).await {
                Ok((model_id, metrics)) => handle.succeed(Some(model_id), metrics).await,
                Err(error) => handle.fail(&error).await,
            }
        });
        Ok(pb::TrainSegmentationResponse { job: Some(job) })
    }

    async fn train(
        &self,
        request: parse::TrainingRequest,
        trained_by: String,
        job: &patron_common::registry::JobHandle,
    ) -> Result<(String, BTreeMap<String, f64>), ServiceError> {
        let started = Instant::now();
        job.progress(0.0, "exporting features from the profile service");
        let rows = profile::export_rows(&self.profile, request.as_of_us, Vec::new()).await?;
        job.progress(0.1, format!("fitting on {} customers", rows.len()));
        let plan = TrainingPlan {
            features: request.features.clone(),
            ks: request.ks.clone(),
            params: request.params.clone(),
            silhouette_sample: request.silhouette_sample,
            seed: request.seed,
            currency_code: self.currency.code.clone(),
            minor_per_major: self.currency.minor_per_major,
            cutoff_label: date_label(request.as_of_us),
        };
        let reporter = job.clone();
        let span = tracing::Span::current();
        let trained = tokio::task::spawn_blocking(move || {
            let _entered = span.enter();
            let report = |fraction: f64, message: String| reporter.progress(fraction, message);
            training::train(&rows, &plan, &report).map(|trained| (trained, rows.len()))
        })
        .await
        .map_err(ServiceError::internal)??;
        let (trained, training_rows) = trained;
        let payload = trained.model.encode().map_err(ServiceError::internal)?;
        let version = self
            .registry
            .create(NewModelVersion {
                kind: model_kind(request.mini_batch).to_owned(),
                parameters: request.parameters,
                features: trained.model.features(),
                data_cutoff: Some(timestamp(request.as_of_us)),
                training_rows: training_rows as i64,
                training_duration: started.elapsed(),
                metrics: trained.metrics.clone(),
                trained_by,
                failed: false,
                payload,
            })
            .await?;
        Ok((version.id, trained.metrics))
    }

    /// A loaded version, refusing FAILED ones.
    async fn usable(&self, model_id: &str) -> Result<Loaded, ServiceError> {
        if !model_id.is_empty() {
            let version = self.registry.get(model_id).await?;
            if version.status == ModelStatus::Failed as i32 {
                return Err(ServiceError::FailedPrecondition(format!("model {model_id} failed training")));
            }
        }
        self.active.get(model_id).await
    }

    async fn assign_customer(
        &self,
        request: pb::AssignCustomerRequest,
    ) -> Result<pb::AssignCustomerResponse, ServiceError> {
        let loaded = self.usable(&request.model_id).await?;
        let model = &loaded.model;
        let now = now_micros();
        let (customer_id, placement, rfm, features_as_of) = match request.customer {
            Some(Customer::Features(features)) => {
                let raw = model
                    .features()
                    .iter()
                    .map(|feature| {
                        features.values.get(feature).copied().ok_or(AssignError::Missing { feature: feature.clone() })
                    })
                    .collect::<Result<Vec<f64>, _>>()
                    .map_err(assign_error)?;
                let standardized = model.standardize(&raw).map_err(assign_error)?;
                let placement = model.place(&standardized);
                let rfm_values = [RECENCY_FEATURE, FREQUENCY_FEATURE, MONETARY_FEATURE]
                    .map(|name| features.values.get(name).copied().filter(|value| value.is_finite()));
                let rfm = match rfm_values {
                    [Some(recency), Some(orders), Some(monetary)] => {
                        let (score, segment) = model.rfm_of(recency, orders, monetary);
                        Some(render::rfm_score(model, score, segment))
                    }
                    _ => None,
                };
                (String::new(), placement, rfm, None)
            }
            Some(Customer::CustomerId(customer_id)) => {
                parse::required_id("customer_id", &customer_id)?;
                let as_of = request.as_of.as_ref().map_or(now, time::micros_of);
                if as_of > now {
                    return Err(ServiceError::invalid("as_of", "must not be in the future"));
                }
                let rows = profile::export_rows(&self.profile, as_of, vec![customer_id.clone()]).await?;
                let row = rows
                    .into_iter()
                    .find(|row| row.customer_id == customer_id)
                    .ok_or_else(|| ServiceError::not_found("customer", customer_id.clone()))?;
                let placement = model.place_row(&row).map_err(|error| export_error(&customer_id, error))?;
                let (score, segment) = model.rfm_of_row(&row);
                (customer_id, placement, Some(render::rfm_score(model, score, segment)), Some(timestamp(as_of)))
            }
            None => return Err(ServiceError::invalid("customer", "set features or customer_id")),
        };
        let segment = model.segments.get(placement.segment).ok_or_else(|| {
            ServiceError::internal(format!("model {} has no segment {}", loaded.version.id, placement.segment))
        })?;
        Ok(pb::AssignCustomerResponse {
            assignment: Some(pb::SegmentAssignment {
                customer_id,
                model_id: loaded.version.id.clone(),
                segment_id: segment.id.clone(),
                segment_name: segment.name.clone(),
                distance: placement.distance,
                rfm,
                features_as_of,
                assign_time: Some(timestamp(now)),
            }),
        })
    }

    fn stored_assignment(
        model: &Loaded,
        run: &memberships::CompletedRun,
        row: memberships::Membership,
    ) -> pb::SegmentAssignment {
        let model_ref = &model.model;
        pb::SegmentAssignment {
            customer_id: row.customer_id,
            model_id: model.version.id.clone(),
            segment_name: render::segment_name(model_ref, &row.segment_id),
            segment_id: row.segment_id,
            distance: row.distance,
            rfm: Some(pb::RfmScore {
                recency: i32::from(row.rfm[0]),
                frequency: i32::from(row.rfm[1]),
                monetary: i32::from(row.rfm[2]),
                segment_name: render::segment_name(model_ref, &row.rfm_segment_id),
                segment_id: row.rfm_segment_id,
            }),
            features_as_of: Some(timestamp(run.features_as_of_us)),
            assign_time: Some(timestamp(run.assign_time_us)),
        }
    }

    async fn completed_run(&self, model_id: &str) -> Result<memberships::CompletedRun, ServiceError> {
        memberships::completed_run(&self.db, model_id).await?.ok_or_else(|| {
            ServiceError::FailedPrecondition(format!("no AssignAll has completed for model {model_id}; run AssignAll"))
        })
    }
}

const MEMBERS_TOKEN: &str = "m1.";
const SEGMENTS_TOKEN: &str = "s1.";

#[tonic::async_trait]
impl SegmentationService for SegmentationApi {
    async fn train_segmentation(
        &self,
        request: Request<pb::TrainSegmentationRequest>,
    ) -> RpcResult<pb::TrainSegmentationResponse> {
        let trained_by = principal(&request);
        let request = request.into_inner();
        let parsed = parse::training_request(&request)?;
        let response = self
            .requests
            .once(&request.request_id, "TrainSegmentation", &request, self.start_training(parsed, trained_by))
            .await?;
        Ok(Response::new(response))
    }

    type WatchJobStream = ResponseStream<pb::WatchJobResponse>;

    async fn watch_job(&self, request: Request<pb::WatchJobRequest>) -> RpcResult<Self::WatchJobStream> {
        let request = request.into_inner();
        parse::required_id("job_id", &request.job_id)?;
        let stream = self.jobs.watch(&request.job_id).await?;
        Ok(Response::new(Box::pin(stream.map(|job| job.map(|job| pb::WatchJobResponse { job: Some(job) })))))
    }

    async fn get_job(&self, request: Request<pb::GetJobRequest>) -> RpcResult<pb::GetJobResponse> {
        let request = request.into_inner();
        parse::required_id("job_id", &request.job_id)?;
        Ok(Response::new(pb::GetJobResponse { job: Some(self.jobs.get(&request.job_id).await?) }))
    }

    async fn get_model(&self, request: Request<pb::GetModelRequest>) -> RpcResult<pb::GetModelResponse> {
        let request = request.into_inner();
        parse::required_id("model_id", &request.model_id)?;
        let version = self.registry.get(&request.model_id).await?;
        if version.status == ModelStatus::Failed as i32 {
            return Ok(Response::new(pb::GetModelResponse { model: Some(version), ..Default::default() }));
        }
        let loaded = self.active.get(&request.model_id).await?;
        let counts = self.member_counts(&version.id).await?;
        Ok(Response::new(render::get_model(version, &loaded.model, &counts)))
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
        parse::required_id("model_id", &request.model_id)?;
        let response = self
            .requests
            .once(&request.request_id, "ActivateModel", &request, async {
                let activation = self.active.activate(&request.model_id).await?;
                Ok(pb::ActivateModelResponse {
                    model: Some(activation.model),
                    previous_model_id: activation.previous_model_id,
                })
            })
            .await?;
        Ok(Response::new(response))
    }

    async fn rollback_model(&self, request: Request<pb::RollbackModelRequest>) -> RpcResult<pb::RollbackModelResponse> {
        let request = request.into_inner();
        let response = self
            .requests
            .once(&request.request_id, "RollbackModel", &request, async {
                let activation = self.active.rollback().await?;
                Ok(pb::RollbackModelResponse {
                    model: Some(activation.model),
                    previous_model_id: activation.previous_model_id,
                })
            })
            .await?;
        Ok(Response::new(response))
    }

    async fn tag_model(&self, request: Request<pb::TagModelRequest>) -> RpcResult<pb::TagModelResponse> {
        let request = request.into_inner();
        parse::required_id("model_id", &request.model_id)?;
        let response = self
            .requests
            .once(&request.request_id, "TagModel", &request, async {
                let model = self.registry.tag(&request.model_id, &request.add_tags, &request.remove_tags).await?;
                Ok(pb::TagModelResponse { model: Some(model) })
            })
            .await?;
        Ok(Response::new(response))
    }

    async fn compare_models(&self, request: Request<pb::CompareModelsRequest>) -> RpcResult<pb::CompareModelsResponse> {
        let request = request.into_inner();
        parse::required_id("candidate_model_id", &request.candidate_model_id)?;
        let holdout = holdout::parse(request.holdout.as_ref())?;
        let baseline = self.usable(&request.baseline_model_id).await?;
        let candidate = self.usable(&request.candidate_model_id).await?;
        let rows = holdout::rows(&self.profile, &holdout).await?;
        let response = tokio::task::spawn_blocking(move || holdout::compare(&baseline, &candidate, &rows, &holdout))
            .await
            .map_err(ServiceError::internal)??;
        Ok(Response::new(response))
    }

    async fn evaluate_model(&self, request: Request<pb::EvaluateModelRequest>) -> RpcResult<pb::EvaluateModelResponse> {
        let request = request.into_inner();
        let holdout = holdout::parse(request.holdout.as_ref())?;
        let loaded = self.usable(&request.model_id).await?;
        let rows = holdout::rows(&self.profile, &holdout).await?;
        let response = tokio::task::spawn_blocking(move || holdout::evaluate(&loaded, &rows, &holdout))
            .await
            .map_err(ServiceError::internal)??;
        Ok(Response::new(response))
    }

    async fn assign_customer(
        &self,
        request: Request<pb::AssignCustomerRequest>,
    ) -> RpcResult<pb::AssignCustomerResponse> {
        Ok(Response::new(SegmentationApi::assign_customer(self, request.into_inner()).await?))
    }

    type AssignAllStream = ResponseStream<pb::AssignAllResponse>;

    async fn assign_all(&self, request: Request<pb::AssignAllRequest>) -> RpcResult<Self::AssignAllStream> {
        let request = request.into_inner();
        let stream = assign_all::start(self.clone(), request).await?;
        Ok(Response::new(stream))
    }

    async fn get_segment(&self, request: Request<pb::GetSegmentRequest>) -> RpcResult<pb::GetSegmentResponse> {
        let request = request.into_inner();
        parse::required_id("segment_id", &request.segment_id)?;
        let loaded = self.usable(&request.model_id).await?;
        let counts = self.member_counts(&loaded.version.id).await?;
        let segment = render::segments(&loaded.version.id, &loaded.model, pb::SegmentScheme::Unspecified, &counts)
            .into_iter()
            .find(|segment| segment.id == request.segment_id)
            .ok_or_else(|| ServiceError::not_found("segment", request.segment_id.clone()))?;
        Ok(Response::new(pb::GetSegmentResponse { segment: Some(segment) }))
    }

    async fn list_segments(&self, request: Request<pb::ListSegmentsRequest>) -> RpcResult<pb::ListSegmentsResponse> {
        let request = request.into_inner();
        let mut check = Validator::new();
        let scheme = pb::SegmentScheme::try_from(request.scheme).unwrap_or_else(|_| {
            check.violation("scheme", "unknown scheme");
            pb::SegmentScheme::Unspecified
        });
        check.finish()?;
        let size = parse::page_size(request.page_size, 100, 1_000)? as usize;
        let offset = if request.page_token.is_empty() {
            0
        } else {
            parse::decode_token(SEGMENTS_TOKEN, &request.page_token)?
                .parse::<usize>()
                .map_err(|_| ServiceError::invalid("page_token", "malformed or foreign page token"))?
        };
        let loaded = self.usable(&request.model_id).await?;
        let counts = self.member_counts(&loaded.version.id).await?;
        let all = render::segments(&loaded.version.id, &loaded.model, scheme, &counts);
        let end = (offset + size).min(all.len());
        let next_page_token =
            if end < all.len() { parse::encode_token(SEGMENTS_TOKEN, &end.to_string()) } else { String::new() };
        let segments = all.into_iter().skip(offset).take(size).collect();
        Ok(Response::new(pb::ListSegmentsResponse { segments, next_page_token }))
    }

    async fn list_segment_members(
        &self,
        request: Request<pb::ListSegmentMembersRequest>,
    ) -> RpcResult<pb::ListSegmentMembersResponse> {
        let request = request.into_inner();
        let size = parse::page_size(request.page_size, 1_000, 10_000)?;
        let after = if request.page_token.is_empty() {
            None
        } else {
            let position = parse::decode_token(MEMBERS_TOKEN, &request.page_token)?;
            let (run_id, customer_id) = position
                .split_once('\n')
                .ok_or_else(|| ServiceError::invalid("page_token", "malformed or foreign page token"))?;
            Some((run_id.to_owned(), customer_id.to_owned()))
        };
        let loaded = self.usable(&request.model_id).await?;
        let filter = if request.segment_id.is_empty() {
            SegmentFilter::Every
        } else if loaded.model.segments.iter().any(|segment| segment.id == request.segment_id) {
            SegmentFilter::KMeans(request.segment_id.clone())
        } else if crate::domain::rfm::RFM_SEGMENTS.iter().any(|(id, _, _)| *id == request.segment_id) {
            SegmentFilter::Rfm(request.segment_id.clone())
        } else {
            return Err(ServiceError::not_found("segment", request.segment_id.clone()).into());
        };
        let run = self.completed_run(&loaded.version.id).await?;
        if let Some((run_id, _)) = &after
            && *run_id != run.run_id
        {
            return Err(Status::aborted(
                "memberships were recomputed since this page token was issued; restart the listing",
            ));
        }
        let rows =
            memberships::page(&self.db, &run.run_id, &filter, after.as_ref().map(|(_, id)| id.as_str()), size).await?;
        let next_page_token = match rows.last() {
            Some(last) if rows.len() as u64 == size => {
                parse::encode_token(MEMBERS_TOKEN, &format!("{}\n{}", run.run_id, last.customer_id))
            }
            _ => String::new(),
        };
        let members = rows.into_iter().map(|row| Self::stored_assignment(&loaded, &run, row)).collect();
        Ok(Response::new(pb::ListSegmentMembersResponse { members, next_page_token }))
    }

    async fn get_customer_segment(
        &self,
        request: Request<pb::GetCustomerSegmentRequest>,
    ) -> RpcResult<pb::GetCustomerSegmentResponse> {
        let request = request.into_inner();
        parse::required_id("customer_id", &request.customer_id)?;
        let loaded = self.usable(&request.model_id).await?;
        let run = self.completed_run(&loaded.version.id).await?;
        let row = memberships::of_customer(&self.db, &run.run_id, &request.customer_id)
            .await?
            .ok_or_else(|| ServiceError::not_found("customer membership", request.customer_id.clone()))?;
        Ok(Response::new(pb::GetCustomerSegmentResponse {
            assignment: Some(Self::stored_assignment(&loaded, &run, row)),
        }))
    }

    async fn forget_customer(
        &self,
        request: Request<pb::ForgetCustomerRequest>,
    ) -> RpcResult<pb::ForgetCustomerResponse> {
        let request = request.into_inner();
        let mut check = Validator::new();
        // Checked as every request_id is, but not remembered: the request names the customer.
        check.check(
            request.request_id.chars().count() <= parse::MAX_REQUEST_ID_CHARS
                && !request.request_id.chars().any(char::is_control),
            "request_id",
            format!("must be at most {} characters without control characters", parse::MAX_REQUEST_ID_CHARS),
        );
        check.identifier("customer_id", &request.customer_id, parse::MAX_ID_CHARS);
        check.finish()?;
        let rows_removed =
            self.erasures.forget(&request.customer_id, memberships::forget(&self.db, &request.customer_id)).await?;
        tracing::info!(rows_removed, "customer forgotten");
        Ok(Response::new(pb::ForgetCustomerResponse { rows_removed: rows_removed as i64 }))
    }
}
