//! `patron batch segments|scores|forecasts`: runs the job that stores the
//! results `patron export` and the reports read: every customer's segment
//! under the active segmentation (AssignAll), every customer's churn score
//! under the active churn model (ScoreAll), or forecasts of every series at
//! the given levels (BatchForecast).

use patron_proto::churn::v1 as churn;
use patron_proto::churn::v1::churn_service_client::ChurnServiceClient;
use patron_proto::common::v1::JobState;
use patron_proto::forecast::v1 as forecast;
use patron_proto::forecast::v1::forecast_service_client::ForecastServiceClient;
use patron_proto::segmentation::v1 as seg;
use patron_proto::segmentation::v1::segmentation_service_client::SegmentationServiceClient;
use tokio_stream::StreamExt;

use crate::connection::GatewayArgs;
use crate::failure::CallContext;
use crate::output::{OutputFormat, Table};
use crate::registry::ModelClient;
use crate::train::ModelService;

#[derive(Debug, Clone, Copy, clap::ValueEnum)]
pub enum BatchKind {
    /// Assign every customer to a segment of the active segmentation model.
    Segments,
    /// Score every customer with the active churn model.
    Scores,
    /// Forecast every series at --levels with the active forecast model.
    Forecasts,
}

#[derive(Debug, clap::Args)]
pub struct BatchArgs {
    #[arg(value_enum)]
    what: BatchKind,
    /// segments: the feature cutoff [default: now].
    #[arg(long, value_name = "DATE")]
    as_of: Option<String>,
    /// forecasts: series levels, e.g. total,store,category.
    #[arg(long, value_delimiter = ',', default_value = "total")]
    levels: Vec<String>,
    #[command(flatten)]
    series: crate::report::SeriesArgs,
    #[arg(long, value_enum, default_value_t)]
    output: OutputFormat,
    #[command(flatten)]
    gateway: GatewayArgs,
}

pub async fn run(args: BatchArgs) -> anyhow::Result<()> {
    let as_of = args.as_of.as_deref().map(|value| crate::time::parse_instant("--as-of", value)).transpose()?;
    let request_id = format!("batch-{}", &crate::credentials::random_secret()?[..16]);
    let channel = args.gateway.authed().await?;
    let table = match args.what {
        BatchKind::Segments => {
            let request = seg::AssignAllRequest { request_id, as_of };
            let doing = "assigning every customer";
            let mut stream =
                SegmentationServiceClient::new(channel).assign_all(request).await.doing(doing)?.into_inner();
            let mut last = None;
            while let Some(progress) = stream.next().await {
                let progress = progress.doing(doing)?;
                eprintln!("assigned {} of {}", progress.customers_assigned, progress.customers_total);
                last = Some(progress);
            }
            let last =
                last.filter(|progress| progress.done).ok_or_else(|| anyhow::anyhow!("{doing}: the run ended early"))?;
            Table::fields(
                "segments",
                vec![
                    ("model_id", last.model_id.as_str().into()),
                    ("customers_assigned", last.customers_assigned.into()),
                ],
            )
        }
        BatchKind::Scores => {
            let request = churn::ScoreAllRequest { request_id };
            let doing = "scoring every customer";
            let mut stream = ChurnServiceClient::new(channel).score_all(request).await.doing(doing)?.into_inner();
            let mut last = None;
            while let Some(progress) = stream.next().await {
                let progress = progress.doing(doing)?;
                eprintln!("scored {} of {}", progress.scored_count, progress.total_count);
                last = Some(progress);
            }
            let last = last.ok_or_else(|| anyhow::anyhow!("{doing}: the service sent nothing"))?;
            let job = last.job.clone().unwrap_or_default();
            if job.state() != JobState::Succeeded {
                anyhow::bail!("{doing}: the job ended {:?}: {}", job.state(), job.error);
            }
            Table::fields(
                "scores",
                vec![
                    ("model_id", last.model_id.as_str().into()),
                    ("scored", last.scored_count.into()),
                    ("skipped", last.skipped_count.into()),
                ],
            )
        }
        BatchKind::Forecasts => {
            let (measure, granularity) = args.series.proto()?;
            let levels = args
                .levels
                .iter()
                .map(|level| {
                    crate::report::enum_named("--levels", level, "SERIES_LEVEL_", forecast::SeriesLevel::from_str_name)
                })
                .collect::<anyhow::Result<Vec<i32>>>()?;
            let request = forecast::BatchForecastRequest {
                request_id,
                series_set: Some(forecast::SeriesSet { measure, granularity, levels, ..Default::default() }),
                horizon: args.series.horizon,
                ..Default::default()
            };
            let started = ForecastServiceClient::new(channel.clone())
                .batch_forecast(request)
                .await
                .doing("starting the batch forecast")?
                .into_inner()
                .job
                .ok_or_else(|| anyhow::anyhow!("the forecast service answered without a job"))?;
            let job = crate::train::follow(&mut ModelClient::new(ModelService::Forecast, channel), started).await?;
            if job.state() != JobState::Succeeded {
                anyhow::bail!("batch forecast job {} ended {:?}: {}", job.id, job.state(), job.error);
            }
            let mut metrics: Vec<_> = job.metrics.iter().collect();
            metrics.sort_by(|left, right| left.0.cmp(right.0));
            let mut fields = vec![("job_id", job.id.as_str().into())];
            fields.extend(metrics.into_iter().map(|(name, value)| (name.as_str(), (*value).into())));
            Table::fields("forecasts", fields)
        }
    };
    crate::output::print(args.output, &[table])
}
