//! The gRPC adapter of `patron.churn.v1.ChurnService`: parse the request,
//! call the registry, the profile service or the domain, render the answer.

mod models;
mod pages;
pub mod parse;
mod render;
mod score_all;
mod scoring;
mod training;
mod winback;

use std::pin::Pin;
use std::sync::Arc;

use futures::{Stream, StreamExt};
use patron_common::ServiceError;
use patron_common::registry::{ActiveModel, JobBoard, ModelRegistry, RequestLog};
use patron_proto::churn::v1 as pb;
use patron_proto::churn::v1::churn_service_server::ChurnService;
use patron_proto::common::v1::ModelVersion;
use sea_orm::DatabaseConnection;
use tonic::{Request, Response, Status};

use crate::config::ChurnSettings;
use crate::domain::model::Engine;
use crate::profile::Profile;
use crate::segmentation::Segmentation;
use patron_common::erasures::Erasures;

/// Metadata the gateway sets to the authenticated principal's name.
pub const PRINCIPAL_HEADER: &str = "x-patron-principal";

/// Prefix of model version ids ("churn-20261124-063412-7f3a9c01").
pub const MODEL_ID_PREFIX: &str = "churn";
pub const JOB_ID_PREFIX: &str = "churn-job";

#[derive(Clone)]
pub struct ChurnApi {
    db: DatabaseConnection,
    registry: ModelRegistry,
    models: ActiveModel<Engine>,
    jobs: JobBoard,
    requests: RequestLog,
    profile: Profile,
    segmentation: Segmentation,
    settings: ChurnSettings,
    score_runs: score_all::Runner,
    /// Customers erased while a ScoreAll of this replica runs.
    erasures: Erasures,
}

fn decode_engine(_version: &ModelVersion, payload: &[u8]) -> Result<Engine, ServiceError> {
    Engine::from_json(payload).map_err(ServiceError::Internal)
}

impl ChurnApi {
    /// Must be called inside a Tokio runtime (the active model is polled).
    pub fn new(db: DatabaseConnection, profile: Profile, segmentation: Segmentation, settings: ChurnSettings) -> Self {
        let registry = ModelRegistry::new(db.clone(), MODEL_ID_PREFIX);
        Self {
            models: ActiveModel::new(registry.clone(), settings.model_poll_ms, decode_engine),
            jobs: JobBoard::new(db.clone(), JOB_ID_PREFIX),
            requests: RequestLog::new(db.clone()),
            registry,
            profile,
            segmentation,
            settings,
            score_runs: score_all::Runner::default(),
            erasures: Erasures::default(),
            db,
        }
    }

    /// A model by id ("" = active); an unknown id is INVALID_ARGUMENT.
    async fn engine(&self, model_id: &str) -> Result<Arc<patron_common::registry::LoadedModel<Engine>>, ServiceError> {
        self.models.get(model_id).await.map_err(parse::unknown_model_is_invalid("model_id"))
    }
}

type ResponseStream<T> = Pin<Box<dyn Stream<Item = Result<T, Status>> + Send>>;
type RpcResult<T> = Result<Response<T>, Status>;

fn principal<T>(request: &Request<T>) -> String {
    request.metadata().get(PRINCIPAL_HEADER).and_then(|v| v.to_str().ok()).unwrap_or("direct-call").to_owned()
}

#[tonic::async_trait]
impl ChurnService for ChurnApi {
    async fn train_churn_model(
        &self,
        request: Request<pb::TrainChurnModelRequest>,
    ) -> RpcResult<pb::TrainChurnModelResponse> {
        let trained_by = principal(&request);
        Ok(Response::new(self.start_training(request.into_inner(), trained_by).await?))
    }

    type WatchJobStream = ResponseStream<pb::WatchJobResponse>;

    async fn watch_job(&self, request: Request<pb::WatchJobRequest>) -> RpcResult<Self::WatchJobStream> {
        let stream = self.jobs.watch(&request.into_inner().job_id).await?;
        Ok(Response::new(Box::pin(stream.map(|job| job.map(|job| pb::WatchJobResponse { job: Some(job) })))))
    }

    async fn get_job(&self, request: Request<pb::GetJobRequest>) -> RpcResult<pb::GetJobResponse> {
        let job = self.jobs.get(&request.into_inner().job_id).await?;
        Ok(Response::new(pb::GetJobResponse { job: Some(job) }))
    }

    async fn get_model(&self, request: Request<pb::GetModelRequest>) -> RpcResult<pb::GetModelResponse> {
        Ok(Response::new(self.model_with_detail(&request.into_inner().model_id).await?))
    }

    async fn list_models(&self, request: Request<pb::ListModelsRequest>) -> RpcResult<pb::ListModelsResponse> {
        Ok(Response::new(self.list_models(request.into_inner()).await?))
    }

    async fn activate_model(&self, request: Request<pb::ActivateModelRequest>) -> RpcResult<pb::ActivateModelResponse> {
        Ok(Response::new(self.activate(request.into_inner()).await?))
    }

    async fn rollback_model(&self, request: Request<pb::RollbackModelRequest>) -> RpcResult<pb::RollbackModelResponse> {
        Ok(Response::new(self.rollback(request.into_inner()).await?))
    }

    async fn tag_model(&self, request: Request<pb::TagModelRequest>) -> RpcResult<pb::TagModelResponse> {
        Ok(Response::new(self.tag(request.into_inner()).await?))
    }

    async fn compare_models(&self, request: Request<pb::CompareModelsRequest>) -> RpcResult<pb::CompareModelsResponse> {
        Ok(Response::new(self.compare(request.into_inner()).await?))
    }

    async fn evaluate_model(&self, request: Request<pb::EvaluateModelRequest>) -> RpcResult<pb::EvaluateModelResponse> {
        Ok(Response::new(self.evaluate(request.into_inner()).await?))
    }

    async fn score_customer(&self, request: Request<pb::ScoreCustomerRequest>) -> RpcResult<pb::ScoreCustomerResponse> {
        Ok(Response::new(self.score_customer(request.into_inner()).await?))
    }

    type ScoreAllStream = ResponseStream<pb::ScoreAllResponse>;

    async fn score_all(&self, request: Request<pb::ScoreAllRequest>) -> RpcResult<Self::ScoreAllStream> {
        Ok(Response::new(self.score_all(request.into_inner()).await?))
    }

    async fn get_customer_score(
        &self,
        request: Request<pb::GetCustomerScoreRequest>,
    ) -> RpcResult<pb::GetCustomerScoreResponse> {
        Ok(Response::new(self.stored_score(request.into_inner()).await?))
    }

    async fn list_scores(&self, request: Request<pb::ListScoresRequest>) -> RpcResult<pb::ListScoresResponse> {
        Ok(Response::new(self.list_scores(request.into_inner()).await?))
    }

    async fn get_win_back_list(
        &self,
        request: Request<pb::GetWinBackListRequest>,
    ) -> RpcResult<pb::GetWinBackListResponse> {
        Ok(Response::new(self.win_back_list(request.into_inner()).await?))
    }

    async fn predict_btyd(&self, request: Request<pb::PredictBtydRequest>) -> RpcResult<pb::PredictBtydResponse> {
        Ok(Response::new(self.predict_btyd(request.into_inner()).await?))
    }

    async fn forget_customer(
        &self,
        request: Request<pb::ForgetCustomerRequest>,
    ) -> RpcResult<pb::ForgetCustomerResponse> {
        let request = request.into_inner();
        let mut v = patron_common::Validator::new();
        // Checked as every request_id is, but not remembered: the request names the customer.
        parse::request_id(&mut v, &request.request_id);
        parse::customer_id_into(&mut v, &request.customer_id);
        v.finish()?;
        let rows_removed = self
            .erasures
            .forget(&request.customer_id, crate::store::scores::forget(&self.db, &request.customer_id))
            .await?;
        tracing::info!(rows_removed, "customer forgotten");
        Ok(Response::new(pb::ForgetCustomerResponse { rows_removed: rows_removed as i64 }))
    }
}
