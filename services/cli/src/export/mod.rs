//! `patron export features|segments|scores|forecasts --format csv|parquet
//! --out FILE`: streams a table from the services into a file a notebook can
//! load. Every customer-level row starts with the customer's external id
//! (`customer_id`); forecasts are per series and carry its level and key.

mod rows;
pub mod sink;

use std::path::PathBuf;

use patron_proto::churn::v1::churn_service_client::ChurnServiceClient;
use patron_proto::common::v1::TimeUnit;
use patron_proto::forecast::v1::forecast_service_client::ForecastServiceClient;
use patron_proto::profile::v1::profile_service_client::ProfileServiceClient;
use patron_proto::segmentation::v1::segmentation_service_client::SegmentationServiceClient;
use patron_proto::{churn::v1 as churn, forecast::v1 as forecast, profile::v1 as profile, segmentation::v1 as seg};
use tokio_stream::StreamExt;

use self::sink::{FileFormat, Sink};
use crate::connection::GatewayArgs;
use crate::failure::{CallContext, Failure};

#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum ExportKind {
    /// Per-customer behaviour (RFM, BTYD statistics, channels, service) from the profile service.
    Features,
    /// Every customer's stored segment (k-means and RFM) under a segmentation model.
    Segments,
    /// The latest stored churn, P(alive) and CLV score of every customer.
    Scores,
    /// Stored forecasts, one row per forecast period with its interval bounds.
    Forecasts,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum TimeUnitArg {
    Days,
    Weeks,
}

#[derive(Debug, clap::Args)]
pub struct ExportArgs {
    #[arg(value_enum)]
    what: ExportKind,
    /// The file format [default: from the --out extension, else csv].
    #[arg(long, value_enum)]
    format: Option<FileFormat>,
    /// The file to write; replaced only once the export is complete.
    #[arg(long, value_name = "FILE")]
    out: PathBuf,
    /// features: only events strictly before this date or instant [default: now].
    #[arg(long, value_name = "DATE")]
    as_of: Option<String>,
    /// features: the unit of recency, age (T) and tenure.
    #[arg(long, value_enum, default_value = "days")]
    time_unit: TimeUnitArg,
    /// features: also customers without a completed order.
    #[arg(long)]
    include_non_buyers: bool,
    /// segments: the segmentation model; forecasts: the forecast model [default: the active one / any].
    #[arg(long, value_name = "MODEL_ID")]
    model: Option<String>,
    /// forecasts: only those stored by this BatchForecast job.
    #[arg(long, value_name = "JOB_ID")]
    job: Option<String>,
    /// forecasts: interval levels to give columns `lower_<L>`, `upper_<L>`.
    #[arg(long, value_delimiter = ',', default_value = "80,95")]
    interval_levels: Vec<f64>,
    #[command(flatten)]
    gateway: GatewayArgs,
}

impl ExportArgs {
    fn format(&self) -> FileFormat {
        self.format.unwrap_or_else(|| {
            let parquet = self.out.extension().is_some_and(|extension| extension.eq_ignore_ascii_case("parquet"));
            if parquet { FileFormat::Parquet } else { FileFormat::Csv }
        })
    }

    /// Flags that mean nothing for this export are refused, not ignored.
    fn check_flags(&self) -> anyhow::Result<()> {
        let features_only = self.as_of.is_some() || self.include_non_buyers || self.time_unit != TimeUnitArg::Days;
        if features_only && self.what != ExportKind::Features {
            return Err(Failure::usage(
                "--as-of, --time-unit and --include-non-buyers apply to `export features` only",
            ));
        }
        if self.model.is_some() && !matches!(self.what, ExportKind::Segments | ExportKind::Forecasts) {
            return Err(Failure::usage("--model applies to `export segments` and `export forecasts` only"));
        }
        if self.job.is_some() && self.what != ExportKind::Forecasts {
            return Err(Failure::usage("--job applies to `export forecasts` only"));
        }
        if let Some(level) = self.interval_levels.iter().find(|level| !(**level > 0.0 && **level < 100.0)) {
            return Err(Failure::usage(format!("--interval-levels {level} is not in (0, 100)")));
        }
        Ok(())
    }
}

pub async fn run(args: ExportArgs) -> anyhow::Result<()> {
    args.check_flags()?;
    let as_of = args.as_of.as_deref().map(|value| crate::time::parse_instant("--as-of", value)).transpose()?;
    let channel = args.gateway.authed().await?;
    let columns = match args.what {
        ExportKind::Features => rows::feature_columns(),
        ExportKind::Segments => rows::segment_columns(),
        ExportKind::Scores => rows::score_columns(),
        ExportKind::Forecasts => rows::forecast_columns(&args.interval_levels),
    };
    let mut sink = Sink::create(&args.out, args.format(), columns)?;
    let streamed = match args.what {
        ExportKind::Features => {
            let time_unit = match args.time_unit {
                TimeUnitArg::Days => TimeUnit::Days,
                TimeUnitArg::Weeks => TimeUnit::Weeks,
            };
            let request = profile::ExportCustomerFeaturesRequest {
                as_of,
                time_unit: time_unit.into(),
                include_non_buyers: args.include_non_buyers,
                batch_size: 5_000,
                ..Default::default()
            };
            features(ProfileServiceClient::new(channel), request, &mut sink).await
        }
        ExportKind::Segments => segments(SegmentationServiceClient::new(channel), args.model, &mut sink).await,
        ExportKind::Scores => scores(ChurnServiceClient::new(channel), &mut sink).await,
        ExportKind::Forecasts => {
            let request = forecast::ListForecastsRequest {
                page_size: 1000,
                model_id: args.model.unwrap_or_default(),
                job_id: args.job.unwrap_or_default(),
                ..Default::default()
            };
            forecasts(ForecastServiceClient::new(channel), request, &args.interval_levels, &mut sink).await
        }
    };
    if let Err(error) = streamed {
        sink.abandon();
        return Err(error);
    }
    let written = sink.finish()?;
    eprintln!("Wrote {written} rows to {}", args.out.display());
    Ok(())
}

async fn features(
    mut client: ProfileServiceClient<crate::connection::Authed>,
    request: profile::ExportCustomerFeaturesRequest,
    sink: &mut Sink,
) -> anyhow::Result<()> {
    let doing = "exporting customer features";
    let mut stream = client.export_customer_features(request).await.doing(doing)?.into_inner();
    while let Some(message) = stream.next().await {
        for row in message.doing(doing)?.rows {
            sink.write(rows::feature_row(&row))?;
        }
    }
    Ok(())
}

async fn segments(
    mut client: SegmentationServiceClient<crate::connection::Authed>,
    model: Option<String>,
    sink: &mut Sink,
) -> anyhow::Result<()> {
    let mut page_token = String::new();
    loop {
        // An empty segment id lists every customer of the version.
        let request = seg::ListSegmentMembersRequest {
            model_id: model.clone().unwrap_or_default(),
            segment_id: String::new(),
            page_size: 10_000,
            page_token,
        };
        let page = client.list_segment_members(request).await.doing("exporting segment members")?.into_inner();
        for member in &page.members {
            sink.write(rows::segment_row(member))?;
        }
        if page.next_page_token.is_empty() {
            return Ok(());
        }
        page_token = page.next_page_token;
    }
}

async fn scores(mut client: ChurnServiceClient<crate::connection::Authed>, sink: &mut Sink) -> anyhow::Result<()> {
    let mut page_token = String::new();
    loop {
        let request = churn::ListScoresRequest { page_size: 10_000, page_token, ..Default::default() };
        let page = client.list_scores(request).await.doing("exporting churn scores")?.into_inner();
        for score in &page.scores {
            sink.write(rows::score_row(score))?;
        }
        if page.next_page_token.is_empty() {
            return Ok(());
        }
        page_token = page.next_page_token;
    }
}

async fn forecasts(
    mut client: ForecastServiceClient<crate::connection::Authed>,
    mut request: forecast::ListForecastsRequest,
    levels: &[f64],
    sink: &mut Sink,
) -> anyhow::Result<()> {
    loop {
        let page = client.list_forecasts(request.clone()).await.doing("exporting forecasts")?.into_inner();
        for stored in &page.forecasts {
            for row in rows::forecast_rows(stored, levels) {
                sink.write(row)?;
            }
        }
        if page.next_page_token.is_empty() {
            return Ok(());
        }
        request.page_token = page.next_page_token;
    }
}
