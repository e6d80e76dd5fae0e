//! The model-registry RPCs every model service shares (Train, WatchJob,
//! ListModels, GetModel, CompareModels, ActivateModel, RollbackModel), behind
//! one type so `patron train` and `patron models` are written once. Each
//! service has its own generated messages; this maps them.

use std::pin::Pin;

use patron_proto::churn::v1 as churn;
use patron_proto::churn::v1::churn_service_client::ChurnServiceClient;
use patron_proto::common::v1::{Job, MetricComparison, ModelVersion};
use patron_proto::forecast::v1 as forecast;
use patron_proto::forecast::v1::forecast_service_client::ForecastServiceClient;
use patron_proto::segmentation::v1 as segmentation;
use patron_proto::segmentation::v1::segmentation_service_client::SegmentationServiceClient;
use tokio_stream::{Stream, StreamExt};
use tonic::Status;
use tonic::transport::Channel;

use crate::connection::Authed;
use crate::credentials::Bearer;

pub type JobUpdates = Pin<Box<dyn Stream<Item = Result<Job, Status>> + Send>>;

/// A Train request of one of the services.
pub enum TrainRequest {
    Segmentation(segmentation::TrainSegmentationRequest),
    Churn(churn::TrainChurnModelRequest),
    Forecast(forecast::TrainForecastModelRequest),
}

pub enum ModelClient {
    Segmentation(SegmentationServiceClient<Authed>),
    Churn(ChurnServiceClient<Authed>),
    Forecast(ForecastServiceClient<Authed>),
}

fn job_of(job: Option<Job>) -> Result<Job, Status> {
    job.ok_or_else(|| Status::internal("the service answered without a job"))
}

fn model_of(model: Option<ModelVersion>) -> Result<ModelVersion, Status> {
    model.ok_or_else(|| Status::internal("the service answered without a model version"))
}

/// A service's GetModel answer: the version and what the service knows of it.
pub enum ModelDetail {
    Segmentation(Box<segmentation::GetModelResponse>),
    Churn(Box<churn::GetModelResponse>),
    Forecast(Box<forecast::GetModelResponse>),
}

/// A service's CompareModels answer.
pub enum Comparison {
    Segmentation(Box<segmentation::CompareModelsResponse>),
    Churn(Box<churn::CompareModelsResponse>),
    Forecast(Box<forecast::CompareModelsResponse>),
}

impl Comparison {
    pub fn metrics(&self) -> &[MetricComparison] {
        match self {
            Self::Segmentation(response) => &response.metrics,
            Self::Churn(response) => &response.metrics,
            Self::Forecast(response) => &response.metrics,
        }
    }
}

/// The answer of ActivateModel and RollbackModel: the version now active and the one before.
pub struct Activation {
    pub model: ModelVersion,
    pub previous_model_id: String,
}

/// Largest page the three services accept.
const PAGE_SIZE: i32 = 1000;

impl ModelClient {
    pub fn new(service: crate::train::ModelService, channel: Authed) -> Self {
        use crate::train::ModelService;
        match service {
            ModelService::Segmentation => Self::Segmentation(SegmentationServiceClient::new(channel)),
            ModelService::Churn => Self::Churn(ChurnServiceClient::new(channel)),
            ModelService::Forecast => Self::Forecast(ForecastServiceClient::new(channel)),
        }
    }

    /// Every version, all pages, optionally only one status or tag.
    pub async fn list(&mut self, status: i32, tag: &str) -> Result<Vec<ModelVersion>, Status> {
        let mut models = Vec::new();
        let mut page_token = String::new();
        loop {
            let tag = tag.to_owned();
            let (page, next) = match self {
                Self::Segmentation(client) => {
                    let request = segmentation::ListModelsRequest { page_size: PAGE_SIZE, page_token, status, tag };
                    let response = client.list_models(request).await?.into_inner();
                    (response.models, response.next_page_token)
                }
                Self::Churn(client) => {
                    let request = churn::ListModelsRequest { page_size: PAGE_SIZE, page_token, status, tag };
                    let response = client.list_models(request).await?.into_inner();
                    (response.models, response.next_page_token)
                }
                Self::Forecast(client) => {
                    let request = forecast::ListModelsRequest { page_size: PAGE_SIZE, page_token, status, tag };
                    let response = client.list_models(request).await?.into_inner();
                    (response.models, response.next_page_token)
                }
            };
            models.extend(page);
            if next.is_empty() {
                return Ok(models);
            }
            page_token = next;
        }
    }

    pub async fn get(&mut self, model_id: &str) -> Result<ModelDetail, Status> {
        let model_id = model_id.to_owned();
        Ok(match self {
            Self::Segmentation(client) => ModelDetail::Segmentation(Box::new(
                client.get_model(segmentation::GetModelRequest { model_id }).await?.into_inner(),
            )),
            Self::Churn(client) => {
                ModelDetail::Churn(Box::new(client.get_model(churn::GetModelRequest { model_id }).await?.into_inner()))
            }
            Self::Forecast(client) => ModelDetail::Forecast(Box::new(
                client.get_model(forecast::GetModelRequest { model_id }).await?.into_inner(),
            )),
        })
    }

    /// `candidate` against `baseline` (empty: the active version) on the
    /// service's default held-out data.
    pub async fn compare(&mut self, baseline: &str, candidate: &str) -> Result<Comparison, Status> {
        let (baseline_model_id, candidate_model_id) = (baseline.to_owned(), candidate.to_owned());
        Ok(match self {
            Self::Segmentation(client) => {
                let request =
                    segmentation::CompareModelsRequest { baseline_model_id, candidate_model_id, holdout: None };
                Comparison::Segmentation(Box::new(client.compare_models(request).await?.into_inner()))
            }
            Self::Churn(client) => {
                let request =
                    churn::CompareModelsRequest { baseline_model_id, candidate_model_id, ..Default::default() };
                Comparison::Churn(Box::new(client.compare_models(request).await?.into_inner()))
            }
            Self::Forecast(client) => {
                let request = forecast::CompareModelsRequest { baseline_model_id, candidate_model_id, data: None };
                Comparison::Forecast(Box::new(client.compare_models(request).await?.into_inner()))
            }
        })
    }

    pub async fn rollback(&mut self, request_id: String) -> Result<Activation, Status> {
        let (model, previous_model_id) = match self {
            Self::Segmentation(client) => {
                let response =
                    client.rollback_model(segmentation::RollbackModelRequest { request_id }).await?.into_inner();
                (response.model, response.previous_model_id)
            }
            Self::Churn(client) => {
                let response = client.rollback_model(churn::RollbackModelRequest { request_id }).await?.into_inner();
                (response.model, response.previous_model_id)
            }
            Self::Forecast(client) => {
                let response = client.rollback_model(forecast::RollbackModelRequest { request_id }).await?.into_inner();
                (response.model, response.previous_model_id)
            }
        };
        Ok(Activation { model: model_of(model)?, previous_model_id })
    }
    /// Starts training; the request decides which service is called.
    pub fn for_request(request: &TrainRequest, channel: Channel, bearer: Bearer) -> Self {
        match request {
            TrainRequest::Segmentation(_) => {
                Self::Segmentation(SegmentationServiceClient::with_interceptor(channel, bearer))
            }
            TrainRequest::Churn(_) => Self::Churn(ChurnServiceClient::with_interceptor(channel, bearer)),
            TrainRequest::Forecast(_) => Self::Forecast(ForecastServiceClient::with_interceptor(channel, bearer)),
        }
    }

    pub async fn train(&mut self, request: TrainRequest) -> Result<Job, Status> {
        match (self, request) {
            (Self::Segmentation(client), TrainRequest::Segmentation(request)) => {
                job_of(client.train_segmentation(request).await?.into_inner().job)
            }
            (Self::Churn(client), TrainRequest::Churn(request)) => {
                job_of(client.train_churn_model(request).await?.into_inner().job)
            }
            (Self::Forecast(client), TrainRequest::Forecast(request)) => {
                job_of(client.train_forecast_model(request).await?.into_inner().job)
            }
            _ => Err(Status::internal("a train request went to another service's client")),
        }
    }

    /// The job's state now, then every change, ending after a terminal state.
    pub async fn watch(&mut self, job_id: String) -> Result<JobUpdates, Status> {
        Ok(match self {
            Self::Segmentation(client) => {
                let stream = client.watch_job(segmentation::WatchJobRequest { job_id }).await?.into_inner();
                Box::pin(stream.map(|response| response.and_then(|response| job_of(response.job))))
            }
            Self::Churn(client) => {
                let stream = client.watch_job(churn::WatchJobRequest { job_id }).await?.into_inner();
                Box::pin(stream.map(|response| response.and_then(|response| job_of(response.job))))
            }
            Self::Forecast(client) => {
                let stream = client.watch_job(forecast::WatchJobRequest { job_id }).await?.into_inner();
                Box::pin(stream.map(|response| response.and_then(|response| job_of(response.job))))
            }
        })
    }

    /// `candidate` against the active version, on the service's default held-out data.
    pub async fn compare_with_active(&mut self, candidate: &str) -> Result<Vec<MetricComparison>, Status> {
        Ok(self.compare("", candidate).await?.metrics().to_vec())
    }

    pub async fn activate(&mut self, model_id: &str, request_id: String) -> Result<Activation, Status> {
        let model_id = model_id.to_owned();
        let (model, previous_model_id) = match self {
            Self::Segmentation(client) => {
                let request = segmentation::ActivateModelRequest { request_id, model_id };
                let response = client.activate_model(request).await?.into_inner();
                (response.model, response.previous_model_id)
            }
            Self::Churn(client) => {
                let request = churn::ActivateModelRequest { request_id, model_id };
                let response = client.activate_model(request).await?.into_inner();
                (response.model, response.previous_model_id)
            }
            Self::Forecast(client) => {
                let request = forecast::ActivateModelRequest { request_id, model_id };
                let response = client.activate_model(request).await?.into_inner();
                (response.model, response.previous_model_id)
            }
        };
        Ok(Activation { model: model_of(model)?, previous_model_id })
    }
}
