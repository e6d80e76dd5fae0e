//! `patron train segmentation|churn|forecast`: trains a new model version
//! through the gateway, follows the job with a progress bar, prints its
//! metrics, and with `--activate-if-better METRIC` compares it with the active
//! version on the same held-out data and activates it only when it is better.
//!
//! This is the command the retraining CronJobs run (k8s/base/retraining.yaml).
//! Exit code 0: trained (activated or kept as a candidate); 1: the job
//! failed, or the metric is not one the service reports; a failed call exits
//! with the code of its gRPC status (see `patron --help`).

mod params;
pub mod verdict;

use std::io::IsTerminal;
use std::process::ExitCode;

use anyhow::bail;
use indicatif::{ProgressBar, ProgressStyle};
use patron_proto::common::v1::{Job, JobState};
use tokio_stream::StreamExt;
use tonic::Code;

use crate::failure::Failure;
use crate::registry::{ModelClient, TrainRequest};
use params::Params;

#[derive(Debug, Clone, Copy, clap::ValueEnum)]
pub enum ModelService {
    Segmentation,
    Churn,
    Forecast,
}

#[derive(Debug, clap::Args)]
pub struct TrainArgs {
    /// The model to train.
    #[arg(value_enum)]
    service: ModelService,
    /// A training parameter as KEY=VALUE; repeat it or separate pairs with
    /// commas (`--param k=5,n_init=20`). Lists use `;` (`levels=total;store`).
    #[arg(long = "param", value_name = "KEY=VALUE", value_delimiter = ',')]
    params: Vec<String>,
    /// Compare the new version with the active one on held-out data and
    /// activate it only when it is strictly better on METRIC (e.g. roc_auc,
    /// silhouette, mase). Without it, the new version stays a candidate.
    #[arg(long, value_name = "METRIC")]
    activate_if_better: Option<String>,
    #[command(flatten)]
    gateway: crate::connection::GatewayArgs,
}

pub async fn run(args: TrainArgs) -> anyhow::Result<ExitCode> {
    let params = Params::parse(&args.params)?;
    // One id per run: a retried Train call returns the same job.
    let request_id = format!("train-{}", &crate::credentials::random_secret()?[..16]);
    let request = match args.service {
        ModelService::Segmentation => TrainRequest::Segmentation(params::segmentation_request(params, request_id)?),
        ModelService::Churn => TrainRequest::Churn(params::churn_request(params, request_id)?),
        ModelService::Forecast => TrainRequest::Forecast(params::forecast_request(params, request_id)?),
    };
    let (channel, bearer) = args.gateway.connect().await?;
    let mut client = ModelClient::for_request(&request, channel, bearer);

    let started = client.train(request).await.map_err(|status| failed("starting training", &status))?;
    println!("Training job {} started", started.id);
    let job = follow(&mut client, started).await?;
    if job.state() != JobState::Succeeded {
        let reason = if job.error.is_empty() { format!("{:?}", job.state()) } else { job.error.clone() };
        eprintln!("patron: training job {} failed: {reason}", job.id);
        return Ok(ExitCode::FAILURE);
    }
    if job.model_version_id.is_empty() {
        bail!("training job {} succeeded without a model version", job.id);
    }
    println!("New version {}", job.model_version_id);
    print_metrics(&job);

    if let Some(metric) = &args.activate_if_better {
        activate_if_better(&mut client, &job.model_version_id, metric).await?;
    }
    Ok(ExitCode::SUCCESS)
}

/// Streams the job to its end, drawing a bar on a terminal and one line per
/// step otherwise (a CronJob's log).
pub async fn follow(client: &mut ModelClient, started: Job) -> anyhow::Result<Job> {
    let mut updates = client.watch(started.id.clone()).await.map_err(|status| failed("watching the job", &status))?;
    let bar = std::io::stderr().is_terminal().then(|| {
        let bar = ProgressBar::new(1000);
        bar.set_style(
            ProgressStyle::with_template("{spinner} [{elapsed_precise}] {bar:40} {percent:>3}% {msg}")
                .unwrap_or_else(|_| ProgressStyle::default_bar()),
        );
        bar
    });
    let mut last = started;
    let mut last_message = String::new();
    while let Some(update) = updates.next().await {
        let job = update.map_err(|status| failed("watching the job", &status))?;
        let permille = (job.progress.clamp(0.0, 1.0) * 1000.0).round() as u64;
        match &bar {
            Some(bar) => {
                bar.set_position(permille);
                bar.set_message(job.message.clone());
            }
            None if job.message != last_message => eprintln!("[{:>3}%] {}", permille / 10, job.message),
            None => {}
        }
        last_message.clone_from(&job.message);
        let done = matches!(job.state(), JobState::Succeeded | JobState::Failed | JobState::Cancelled);
        last = job;
        if done {
            break;
        }
    }
    if let Some(bar) = bar {
        bar.finish_and_clear();
    }
    match last.state() {
        JobState::Succeeded | JobState::Failed | JobState::Cancelled => Ok(last),
        state => bail!("the job stream ended while the job was {state:?}"),
    }
}

fn print_metrics(job: &Job) {
    if job.metrics.is_empty() {
        return;
    }
    let width = job.metrics.keys().map(String::len).max().unwrap_or(0);
    println!("Metrics:");
    let mut metrics: Vec<_> = job.metrics.iter().collect();
    metrics.sort_by(|left, right| left.0.cmp(right.0));
    for (name, value) in metrics {
        println!("  {name:<width$}  {value:.4}");
    }
}

async fn activate_if_better(client: &mut ModelClient, candidate: &str, metric: &str) -> anyhow::Result<()> {
    let comparisons = match client.compare_with_active(candidate).await {
        Ok(comparisons) => comparisons,
        // Nothing is active yet: the first version has nothing to beat.
        // (The registry's wording, shared by every model service.)
        Err(status)
            if status.code() == Code::FailedPrecondition && status.message().contains("no model version is active") =>
        {
            activate(client, candidate).await?;
            println!("No version was active; activated {candidate}");
            return Ok(());
        }
        Err(status) => return Err(failed("comparing with the active version", &status)),
    };
    let verdict = verdict::judge(metric, &comparisons)?;
    let direction = if verdict.higher_is_better { "higher" } else { "lower" };
    println!(
        "{}: active {:.4}, new {:.4} ({direction} is better)",
        verdict.metric, verdict.baseline, verdict.candidate
    );
    if verdict.better {
        activate(client, candidate).await?;
        println!("Activated {candidate}");
    } else {
        println!("Kept the active version; {candidate} stays a candidate");
    }
    Ok(())
}

async fn activate(client: &mut ModelClient, candidate: &str) -> anyhow::Result<()> {
    let request_id = format!("activate-{}", &crate::credentials::random_secret()?[..16]);
    client.activate(candidate, request_id).await.map_err(|status| failed("activating the new version", &status))?;
    Ok(())
}

fn failed(doing: &str, status: &tonic::Status) -> anyhow::Error {
    Failure::call(doing, status.clone())
}
