//! `patron models list|show|compare|activate|rollback SERVICE`: the model
//! registry of segmentation, churn or forecast, through the gateway. Every
//! service keeps the same registry, so one code path serves all three.

use patron_proto::common::v1::{MetricComparison, ModelStatus, ModelVersion};

use crate::connection::GatewayArgs;
use crate::failure::CallContext;
use crate::output::{Cell, OutputFormat, Table};
use crate::registry::{Activation, Comparison, ModelClient, ModelDetail};
use crate::time;
use crate::train::ModelService;

#[derive(Debug, clap::Args)]
pub struct ModelsArgs {
    #[command(subcommand)]
    command: ModelsCommand,
    /// How to print the result.
    #[arg(long, value_enum, default_value_t, global = true)]
    output: OutputFormat,
    #[command(flatten)]
    gateway: GatewayArgs,
}

#[derive(Debug, Clone, Copy, clap::ValueEnum)]
enum StatusArg {
    Candidate,
    Active,
    Retired,
    Failed,
}

#[derive(Debug, clap::Subcommand)]
enum ModelsCommand {
    /// Every version, newest first as the service orders them.
    List {
        #[arg(value_enum)]
        service: ModelService,
        /// Only versions in this status.
        #[arg(long, value_enum)]
        status: Option<StatusArg>,
        /// Only the version carrying this tag (e.g. champion).
        #[arg(long)]
        tag: Option<String>,
    },
    /// One version: what was trained on what, its parameters, metrics and learnt structure.
    Show {
        #[arg(value_enum)]
        service: ModelService,
        model_id: String,
    },
    /// A candidate against a baseline (default: the active version) on the same held-out data.
    Compare {
        #[arg(value_enum)]
        service: ModelService,
        candidate: String,
        /// The version to compare with [default: the active one].
        #[arg(long)]
        baseline: Option<String>,
    },
    /// Makes a version active; the active one becomes retired.
    Activate {
        #[arg(value_enum)]
        service: ModelService,
        model_id: String,
    },
    /// Re-activates the version that was active before the current one.
    Rollback {
        #[arg(value_enum)]
        service: ModelService,
    },
}

pub fn service_name(service: ModelService) -> &'static str {
    match service {
        ModelService::Segmentation => "segmentation",
        ModelService::Churn => "churn",
        ModelService::Forecast => "forecast",
    }
}

pub async fn run(args: ModelsArgs) -> anyhow::Result<()> {
    let channel = args.gateway.authed().await?;
    let tables = match args.command {
        ModelsCommand::List { service, status, tag } => {
            let status = match status {
                None => ModelStatus::Unspecified,
                Some(StatusArg::Candidate) => ModelStatus::Candidate,
                Some(StatusArg::Active) => ModelStatus::Active,
                Some(StatusArg::Retired) => ModelStatus::Retired,
                Some(StatusArg::Failed) => ModelStatus::Failed,
            };
            let models = ModelClient::new(service, channel)
                .list(status.into(), tag.as_deref().unwrap_or_default())
                .await
                .doing(format!("listing {} models", service_name(service)))?;
            vec![list_table(&models)]
        }
        ModelsCommand::Show { service, model_id } => {
            let detail = ModelClient::new(service, channel)
                .get(&model_id)
                .await
                .doing(format!("showing {} model {model_id}", service_name(service)))?;
            show_tables(&detail)
        }
        ModelsCommand::Compare { service, candidate, baseline } => {
            let comparison = ModelClient::new(service, channel)
                .compare(baseline.as_deref().unwrap_or_default(), &candidate)
                .await
                .doing(format!("comparing {} model {candidate}", service_name(service)))?;
            compare_tables(&comparison)
        }
        ModelsCommand::Activate { service, model_id } => {
            let request_id = format!("activate-{}", &crate::credentials::random_secret()?[..16]);
            let activation = ModelClient::new(service, channel)
                .activate(&model_id, request_id)
                .await
                .doing(format!("activating {} model {model_id}", service_name(service)))?;
            vec![activation_table(&activation)]
        }
        ModelsCommand::Rollback { service } => {
            let request_id = format!("rollback-{}", &crate::credentials::random_secret()?[..16]);
            let activation = ModelClient::new(service, channel)
                .rollback(request_id)
                .await
                .doing(format!("rolling back the {} model", service_name(service)))?;
            vec![activation_table(&activation)]
        }
    };
    crate::output::print(args.output, &tables)
}

fn status_name(model: &ModelVersion) -> Cell {
    Cell::Text(model.status().as_str_name().trim_start_matches("MODEL_STATUS_").to_lowercase())
}

fn sorted_metrics(model: &ModelVersion) -> Vec<(&String, &f64)> {
    let mut metrics: Vec<_> = model.metrics.iter().collect();
    metrics.sort_by(|left, right| left.0.cmp(right.0));
    metrics
}

fn list_table(models: &[ModelVersion]) -> Table {
    let mut table = Table::new(
        "models",
        &["id", "kind", "status", "tags", "data_cutoff", "training_rows", "trained_by", "created", "metrics"],
    );
    for model in models {
        let metrics: Vec<String> =
            sorted_metrics(model).iter().map(|(name, value)| format!("{name}={value:.4}")).collect();
        table.push(vec![
            model.id.as_str().into(),
            model.kind.as_str().into(),
            status_name(model),
            model.tags.join(",").into(),
            time::date_text(model.data_cutoff.as_ref()).into(),
            model.training_rows.into(),
            model.trained_by.as_str().into(),
            time::text(model.create_time.as_ref()).into(),
            metrics.join(" ").into(),
        ]);
    }
    table
}

fn version_tables(model: &ModelVersion) -> Vec<Table> {
    let seconds =
        model.training_duration.as_ref().map(|duration| duration.seconds as f64 + f64::from(duration.nanos) / 1e9);
    let version = Table::fields(
        "version",
        vec![
            ("id", model.id.as_str().into()),
            ("kind", model.kind.as_str().into()),
            ("status", status_name(model)),
            ("tags", model.tags.join(",").into()),
            ("features", model.features.join(",").into()),
            ("data_cutoff", time::text(model.data_cutoff.as_ref()).into()),
            ("training_rows", model.training_rows.into()),
            ("code_version", model.code_version.as_str().into()),
            ("training_seconds", seconds.into()),
            ("trained_by", model.trained_by.as_str().into()),
            ("created", time::text(model.create_time.as_ref()).into()),
            ("activated", time::text(model.activate_time.as_ref()).into()),
        ],
    );
    let mut parameters = Table::new("parameters", &["parameter", "value"]);
    let mut sorted: Vec<_> = model.parameters.iter().collect();
    sorted.sort();
    for (name, value) in sorted {
        parameters.push(vec![name.as_str().into(), value.as_str().into()]);
    }
    let mut metrics = Table::new("metrics", &["metric", "value"]);
    for (name, value) in sorted_metrics(model) {
        metrics.push(vec![name.as_str().into(), (*value).into()]);
    }
    vec![version, parameters, metrics]
}

fn show_tables(detail: &ModelDetail) -> Vec<Table> {
    let model = match detail {
        ModelDetail::Segmentation(response) => response.model.as_ref(),
        ModelDetail::Churn(response) => response.model.as_ref(),
        ModelDetail::Forecast(response) => response.model.as_ref(),
    };
    let mut tables = model.map(version_tables).unwrap_or_default();
    match detail {
        ModelDetail::Segmentation(response) => tables.push(crate::report::segments_table(&response.segments)),
        ModelDetail::Churn(response) => {
            if let Some(detail) = &response.detail {
                let bg_nbd = detail.bg_nbd.unwrap_or_default();
                let gamma_gamma = detail.gamma_gamma.unwrap_or_default();
                tables.push(Table::fields(
                    "churn_model",
                    vec![
                        (
                            "time_unit",
                            detail.time_unit().as_str_name().trim_start_matches("TIME_UNIT_").to_lowercase().into(),
                        ),
                        ("label_window_days", detail.label_window_days.into()),
                        ("calibration_cutoff", time::text(detail.calibration_cutoff.as_ref()).into()),
                        ("holdout_cutoff", time::text(detail.holdout_cutoff.as_ref()).into()),
                        ("currency_code", detail.currency_code.as_str().into()),
                        (
                            "clv_horizon_days",
                            detail.clv_horizon.as_ref().map(|horizon| horizon.seconds / 86_400).into(),
                        ),
                        ("annual_discount_rate", detail.annual_discount_rate.into()),
                        ("bg_nbd_r", bg_nbd.r.into()),
                        ("bg_nbd_alpha", bg_nbd.alpha.into()),
                        ("bg_nbd_a", bg_nbd.a.into()),
                        ("bg_nbd_b", bg_nbd.b.into()),
                        ("gamma_gamma_p", gamma_gamma.p.into()),
                        ("gamma_gamma_q", gamma_gamma.q.into()),
                        ("gamma_gamma_gamma_minor", gamma_gamma.gamma.into()),
                    ],
                ));
            }
        }
        ModelDetail::Forecast(response) => {
            let mut usage = Table::new("method_usage", &["method", "series"]);
            for method in &response.method_usage {
                let name = method.method().as_str_name().trim_start_matches("FORECAST_METHOD_").to_lowercase();
                usage.push(vec![name.into(), method.series_count.into()]);
            }
            tables.push(usage);
        }
    }
    tables
}

pub fn metrics_table(name: &str, metrics: &[MetricComparison]) -> Table {
    let mut table = Table::new(name, &["metric", "baseline", "candidate", "higher_is_better", "candidate_better"]);
    for metric in metrics {
        table.push(vec![
            metric.metric.as_str().into(),
            metric.baseline_value.into(),
            metric.candidate_value.into(),
            metric.higher_is_better.into(),
            crate::train::verdict::is_better(metric).into(),
        ]);
    }
    table
}

fn compare_tables(comparison: &Comparison) -> Vec<Table> {
    let mut tables = vec![metrics_table("metrics", comparison.metrics())];
    let data = match comparison {
        Comparison::Segmentation(response) => vec![
            ("as_of", time::text(response.as_of.as_ref()).into()),
            ("customers", response.customers.into()),
            ("adjusted_rand_index", response.adjusted_rand_index.into()),
        ],
        Comparison::Churn(response) => {
            let evaluation = response.candidate_evaluation.clone().unwrap_or_default();
            vec![
                ("baseline_model_id", response.baseline_model_id.as_str().into()),
                ("candidate_model_id", response.candidate_model_id.as_str().into()),
                ("holdout_cutoff", time::text(evaluation.holdout_cutoff.as_ref()).into()),
                ("customers", evaluation.customer_count.into()),
                ("churned", evaluation.churned_count.into()),
            ]
        }
        Comparison::Forecast(response) => vec![
            ("series", response.series_count.into()),
            ("candidate_better_series", response.candidate_better_count.into()),
            ("out_of_sample", response.out_of_sample.into()),
        ],
    };
    tables.push(Table::fields("held_out_data", data));
    tables
}

fn activation_table(activation: &Activation) -> Table {
    Table::fields(
        "activation",
        vec![
            ("active", activation.model.id.as_str().into()),
            ("previous", activation.previous_model_id.as_str().into()),
            ("status", status_name(&activation.model)),
        ],
    )
}
