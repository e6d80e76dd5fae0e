//! Trained, active models for a running suite: a segmentation model with
//! every customer assigned, and a churn model with every customer scored,
//! so customer-360 views carry a segment and a churn score.

use patron_proto::churn::v1 as churn;
use patron_proto::churn::v1::churn_service_client::ChurnServiceClient;
use patron_proto::common::v1::{Job, JobState};
use patron_proto::segmentation::v1 as segmentation;
use patron_proto::segmentation::v1::segmentation_service_client::SegmentationServiceClient;
use tokio_stream::StreamExt;
use tonic::Status;

use crate::GatewayChannel;

/// The active versions after [`train_and_activate`].
#[derive(Debug, Clone)]
pub struct ActiveModels {
    pub segmentation: String,
    pub churn: String,
    pub customers_assigned: i64,
    pub customers_scored: i64,
}

/// Trains both models on what the profile service holds, activates them,
/// assigns every customer a segment and scores every customer.
pub async fn train_and_activate(gateway: GatewayChannel) -> Result<ActiveModels, Status> {
    let mut segments = SegmentationServiceClient::new(gateway.clone());
    let started = segments.train_segmentation(segmentation::TrainSegmentationRequest {
        request_id: request_id("train-segmentation"),
        seed: Some(1),
        ..Default::default()
    });
    let job = started.await?.into_inner().job.ok_or_else(|| Status::internal("no segmentation job"))?;
    let updates = segments.watch_job(segmentation::WatchJobRequest { job_id: job.id }).await?.into_inner();
    let job = succeeded(last_job(updates.map(|update| update.map(|update| update.job))).await?)?;
    let segmentation_id = job.model_version_id;
    let activate = segmentation::ActivateModelRequest {
        request_id: request_id("activate-segmentation"),
        model_id: segmentation_id.clone(),
    };
    segments.activate_model(activate).await?;
    let mut assigned = segments
        .assign_all(segmentation::AssignAllRequest { request_id: request_id("assign-all"), as_of: None })
        .await?
        .into_inner();
    let mut customers_assigned = 0;
    while let Some(progress) = assigned.next().await {
        customers_assigned = progress?.customers_assigned;
    }

    let mut scores = ChurnServiceClient::new(gateway);
    let started = scores.train_churn_model(churn::TrainChurnModelRequest {
        request_id: request_id("train-churn"),
        ..Default::default()
    });
    let job = started.await?.into_inner().job.ok_or_else(|| Status::internal("no churn job"))?;
    let updates = scores.watch_job(churn::WatchJobRequest { job_id: job.id }).await?.into_inner();
    let job = succeeded(last_job(updates.map(|update| update.map(|update| update.job))).await?)?;
    let churn_id = job.model_version_id;
    let activate = churn::ActivateModelRequest { request_id: request_id("activate-churn"), model_id: churn_id.clone() };
    scores.activate_model(activate).await?;
    let mut scored =
        scores.score_all(churn::ScoreAllRequest { request_id: request_id("score-all") }).await?.into_inner();
    let mut customers_scored = 0;
    while let Some(progress) = scored.next().await {
        customers_scored = progress?.scored_count;
    }
    Ok(ActiveModels { segmentation: segmentation_id, churn: churn_id, customers_assigned, customers_scored })
}

/// Unique per call: a repeated request id would replay an earlier answer.
fn request_id(purpose: &str) -> String {
    static CALLS: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);
    let call = CALLS.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    format!("models-{purpose}-{}-{call}", std::process::id())
}

async fn last_job(
    mut updates: impl tokio_stream::Stream<Item = Result<Option<Job>, Status>> + Unpin,
) -> Result<Job, Status> {
    let mut last = None;
    while let Some(update) = updates.next().await {
        last = update?.or(last);
    }
    last.ok_or_else(|| Status::internal("the job stream ended without a job"))
}

fn succeeded(job: Job) -> Result<Job, Status> {
    if job.state == JobState::Succeeded as i32 {
        Ok(job)
    } else {
        Err(Status::failed_precondition(format!("training job {} ended in state {}: {}", job.id, job.state, job.error)))
    }
}
