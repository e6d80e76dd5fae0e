//! `patron evaluate churn|forecast|segmentation [--version V]`: how a model
//! version (default: the active one) does on data it was not trained on, as
//! the service's holdout or backtest report.
//!
//! - churn: a time-based holdout (metrics, calibration bins, lift deciles);
//!   `--plot` draws the calibration curve and the lift chart.
//! - forecast: a rolling-origin backtest, one row per method and one for the
//!   model's per-series choice.
//! - segmentation: out-of-time customers against the version's RFM baseline,
//!   and each segment's held-out share; `--plot` places the segments by two
//!   features of their centroids (`--x`, `--y`, default the first two).

use std::path::PathBuf;

use patron_proto::churn::v1 as churn;
use patron_proto::churn::v1::churn_service_client::ChurnServiceClient;
use patron_proto::forecast::v1 as forecast;
use patron_proto::forecast::v1::forecast_service_client::ForecastServiceClient;
use patron_proto::segmentation::v1 as seg;
use patron_proto::segmentation::v1::segmentation_service_client::SegmentationServiceClient;

use crate::connection::{Authed, GatewayArgs};
use crate::failure::{CallContext, Failure};
use crate::output::{Cell, OutputFormat, Table};
use crate::plot::charts::{ChurnChart, SegmentScatterChart};
use crate::time;
use crate::train::ModelService;

#[derive(Debug, clap::Args)]
pub struct EvaluateArgs {
    #[arg(value_enum)]
    service: ModelService,
    /// The model version [default: the active one].
    #[arg(long, value_name = "MODEL_ID")]
    version: Option<String>,
    /// churn: the holdout cutoff [default: the latest whose labels are observed];
    /// segmentation: the held-out feature cutoff [default: now].
    #[arg(long, value_name = "DATE")]
    cutoff: Option<String>,
    /// churn: bins of the calibration curve (2-50).
    #[arg(long, default_value_t = 10)]
    bins: i32,
    /// segmentation --plot: the feature on the horizontal axis.
    #[arg(long, value_name = "FEATURE")]
    x: Option<String>,
    /// segmentation --plot: the feature on the vertical axis.
    #[arg(long, value_name = "FEATURE")]
    y: Option<String>,
    /// Draw the report (churn, segmentation) into FILE.png or FILE.svg.
    #[arg(long, value_name = "FILE")]
    plot: Option<PathBuf>,
    #[arg(long, value_enum, default_value_t)]
    output: OutputFormat,
    #[command(flatten)]
    gateway: GatewayArgs,
}

pub async fn run(args: EvaluateArgs) -> anyhow::Result<()> {
    crate::plot::check_target(args.plot.as_deref())?;
    if args.plot.is_some() && matches!(args.service, ModelService::Forecast) {
        return Err(Failure::usage(
            "--plot: `evaluate forecast` has no chart; `patron report forecast --plot` draws a forecast with its intervals",
        ));
    }
    let cutoff = args.cutoff.as_deref().map(|value| time::parse_instant("--cutoff", value)).transpose()?;
    let channel = args.gateway.authed().await?;
    let model_id = args.version.clone().unwrap_or_default();
    let tables = match args.service {
        ModelService::Churn => churn_report(channel, model_id, cutoff, &args).await?,
        ModelService::Forecast => forecast_report(channel, model_id).await?,
        ModelService::Segmentation => segmentation_report(channel, model_id, cutoff, &args).await?,
    };
    crate::output::print(args.output, &tables)
}

async fn churn_report(
    channel: Authed,
    model_id: String,
    holdout_cutoff: Option<prost_types::Timestamp>,
    args: &EvaluateArgs,
) -> anyhow::Result<Vec<Table>> {
    let request = churn::EvaluateModelRequest { model_id, holdout_cutoff, calibration_bins: args.bins };
    let response = ChurnServiceClient::new(channel)
        .evaluate_model(request)
        .await
        .doing("evaluating the churn model")?
        .into_inner();
    let evaluation = response.evaluation.unwrap_or_default();
    let summary = Table::fields(
        "holdout",
        vec![
            ("model_id", response.model_id.as_str().into()),
            ("holdout_cutoff", time::text(evaluation.holdout_cutoff.as_ref()).into()),
            ("label_window_days", evaluation.label_window_days.into()),
            ("customers", evaluation.customer_count.into()),
            ("churned", evaluation.churned_count.into()),
            ("roc_auc", evaluation.roc_auc.into()),
            ("pr_auc", evaluation.pr_auc.into()),
            ("brier", evaluation.brier_score.into()),
            ("top_decile_lift", evaluation.top_decile_lift.into()),
        ],
    );
    let mut calibration =
        Table::new("calibration", &["lower", "upper", "customers", "mean_predicted", "observed_rate"]);
    for bin in &evaluation.calibration_bins {
        calibration.push(vec![
            bin.lower.into(),
            bin.upper.into(),
            bin.customer_count.into(),
            bin.mean_predicted.into(),
            bin.observed_rate.into(),
        ]);
    }
    let mut lift = Table::new(
        "lift",
        &[
            "decile",
            "customers",
            "churned",
            "min_predicted",
            "max_predicted",
            "churn_rate",
            "lift",
            "cumulative_lift",
            "cumulative_capture",
        ],
    );
    for decile in &evaluation.deciles {
        lift.push(vec![
            decile.decile.into(),
            decile.customer_count.into(),
            decile.churned_count.into(),
            decile.min_predicted.into(),
            decile.max_predicted.into(),
            decile.churn_rate.into(),
            decile.lift.into(),
            decile.cumulative_lift.into(),
            decile.cumulative_capture.into(),
        ]);
    }
    if let Some(path) = &args.plot {
        let chart = ChurnChart {
            title: format!("churn {}", response.model_id),
            calibration: evaluation
                .calibration_bins
                .iter()
                .map(|bin| (bin.mean_predicted, bin.observed_rate, bin.customer_count))
                .collect(),
            deciles: evaluation
                .deciles
                .iter()
                .map(|decile| (decile.decile, decile.lift, decile.cumulative_lift))
                .collect(),
        };
        crate::plot::save(&chart, path)?;
    }
    Ok(vec![summary, calibration, lift])
}

async fn forecast_report(channel: Authed, model_id: String) -> anyhow::Result<Vec<Table>> {
    let request = forecast::EvaluateModelRequest { model_id, data: None };
    let response = ForecastServiceClient::new(channel)
        .evaluate_model(request)
        .await
        .doing("evaluating the forecast model")?
        .into_inner();
    let summary = Table::fields(
        "backtest",
        vec![
            ("model_id", response.model_id.as_str().into()),
            ("series", response.series_count.into()),
            ("fallback_series", response.fallback_count.into()),
            ("out_of_sample", response.out_of_sample.into()),
        ],
    );
    // One coverage column per interval level any row reports.
    let mut levels: Vec<f64> =
        response.rows.iter().flat_map(|row| row.coverage.iter().map(|coverage| coverage.level)).collect();
    levels.sort_by(f64::total_cmp);
    levels.dedup();
    let coverage_columns: Vec<String> = levels.iter().map(|level| format!("coverage_{level}")).collect();
    let mut columns = vec!["method", "model_choice", "series", "chosen_for", "mase", "smape", "rmse"];
    columns.extend(coverage_columns.iter().map(String::as_str));
    let mut methods = Table::new("methods", &columns);
    for row in &response.rows {
        let method = if row.model_choice {
            "model_choice".to_owned()
        } else {
            row.method().as_str_name().trim_start_matches("FORECAST_METHOD_").to_lowercase()
        };
        let mut cells: Vec<Cell> = vec![
            method.into(),
            row.model_choice.into(),
            row.series_count.into(),
            row.chosen_count.into(),
            row.mean_mase.into(),
            row.mean_smape.into(),
            row.mean_rmse.into(),
        ];
        for level in &levels {
            cells.push(
                row.coverage.iter().find(|coverage| coverage.level == *level).map(|coverage| coverage.coverage).into(),
            );
        }
        methods.push(cells);
    }
    Ok(vec![summary, methods])
}

async fn segmentation_report(
    channel: Authed,
    model_id: String,
    as_of: Option<prost_types::Timestamp>,
    args: &EvaluateArgs,
) -> anyhow::Result<Vec<Table>> {
    let mut client = SegmentationServiceClient::new(channel);
    let holdout = Some(seg::Holdout { as_of, ..Default::default() });
    let request = seg::EvaluateModelRequest { model_id, holdout };
    let response = client.evaluate_model(request).await.doing("evaluating the segmentation model")?.into_inner();
    let summary = Table::fields(
        "holdout",
        vec![
            ("model_id", response.model_id.as_str().into()),
            ("as_of", time::text(response.as_of.as_ref()).into()),
            ("customers", response.customers.into()),
        ],
    );
    let mut metrics = Table::new("metrics", &["metric", "rfm_baseline", "kmeans", "higher_is_better"]);
    for metric in &response.metrics {
        metrics.push(vec![
            metric.metric.as_str().into(),
            metric.baseline_value.into(),
            metric.candidate_value.into(),
            metric.higher_is_better.into(),
        ]);
    }
    let mut segments = Table::new(
        "segments",
        &[
            "segment_id",
            "name",
            "training_share",
            "customers",
            "holdout_share",
            "revenue_share",
            "mean_squared_distance",
        ],
    );
    for segment in &response.segments {
        segments.push(vec![
            segment.segment_id.as_str().into(),
            segment.segment_name.as_str().into(),
            segment.training_share.into(),
            segment.customers.into(),
            segment.holdout_share.into(),
            segment.holdout_revenue_share.into(),
            segment.mean_squared_distance.into(),
        ]);
    }
    if let Some(path) = &args.plot {
        let model = client
            .get_model(seg::GetModelRequest { model_id: response.model_id.clone() })
            .await
            .doing("reading the segmentation model")?
            .into_inner();
        let chart = scatter(&model, args.x.as_deref(), args.y.as_deref())?;
        crate::plot::save(&chart, path)?;
    }
    Ok(vec![summary, metrics, segments])
}

/// The k-means segments at two features of their centroids, in original units.
fn scatter(model: &seg::GetModelResponse, x: Option<&str>, y: Option<&str>) -> anyhow::Result<SegmentScatterChart> {
    let features = model.model.as_ref().map(|model| model.features.clone()).unwrap_or_default();
    let pick = |given: Option<&str>, default_index: usize, flag: &str| -> anyhow::Result<usize> {
        match given {
            Some(name) => features.iter().position(|feature| feature == name).ok_or_else(|| {
                Failure::usage(format!("{flag} {name} is not a feature of this model; it has: {}", features.join(", ")))
            }),
            None if default_index < features.len() => Ok(default_index),
            None => Err(Failure::usage("the model has fewer than two features to plot")),
        }
    };
    let (x_index, y_index) = (pick(x, 0, "--x")?, pick(y, 1, "--y")?);
    let value =
        |segment: &seg::Segment, index: usize| segment.centroid.get(index).map_or(f64::NAN, |value| value.value);
    let label = |index: usize| {
        let unit = model.transforms.get(index).map(|transform| format!(" ({})", transform.unit)).unwrap_or_default();
        format!("{}{unit}", features.get(index).map(String::as_str).unwrap_or_default())
    };
    Ok(SegmentScatterChart {
        title: format!("segments of {}", model.model.as_ref().map(|model| model.id.as_str()).unwrap_or_default()),
        x_feature: label(x_index),
        y_feature: label(y_index),
        segments: model
            .segments
            .iter()
            .map(|segment| (segment.name.clone(), value(segment, x_index), value(segment, y_index), segment.size))
            .collect(),
    })
}
