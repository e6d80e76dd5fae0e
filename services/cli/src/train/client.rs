//! The model-lifecycle RPCs every model service shares (Train, WatchJob,
//! CompareModels, ActivateModel), behind one type so the command's flow is
//! written once. Each service has its own generated messages; this maps them.

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
use tonic::service::interceptor::InterceptedService;
use tonic::transport::Channel;

use crate::credentials::Bearer;

type Authed = InterceptedService<Channel, Bearer>;

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

impl ModelClient {
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
        let candidate_model_id = candidate.to_owned();
        Ok(match self {
            Self::Segmentation(client) => {
                let request = segmentation::CompareModelsRequest { candidate_model_id, ..Default::default() };
                client.compare_models(request).await?.into_inner().metrics
            }
            Self::Churn(client) => {
                let request = churn::CompareModelsRequest { candidate_model_id, ..Default::default() };
                client.compare_models(request).await?.into_inner().metrics
            }
            Self::Forecast(client) => {
                let request = forecast::CompareModelsRequest { candidate_model_id, ..Default::default() };
                client.compare_models(request).await?.into_inner().metrics
            }
        })
    }

    pub async fn activate(&mut self, model_id: &str, request_id: String) -> Result<ModelVersion, Status> {
        let model_id = model_id.to_owned();
        match self {
            Self::Segmentation(client) => {
                let request = segmentation::ActivateModelRequest { request_id, model_id };
                model_of(client.activate_model(request).await?.into_inner().model)
            }
            Self::Churn(client) => {
                let request = churn::ActivateModelRequest { request_id, model_id };
                model_of(client.activate_model(request).await?.into_inner().model)
            }
            Self::Forecast(client) => {
                let request = forecast::ActivateModelRequest { request_id, model_id };
                model_of(client.activate_model(request).await?.into_inner().model)
            }
        }
    }
}
