//! `patron report kpis|pareto|segments|winback|forecast`: the tables a
//! manager asks for, from the profile, segmentation, churn and forecast
//! services.
//!
//! - kpis: retail KPIs for a period beside the period before it.
//! - pareto: how concentrated revenue is (`--plot`: the Pareto curve).
//! - segments: the active (or `--model`) segmentation's segments
//!   (`--plot`: sizes with revenue shares).
//! - winback: customers worth winning back, by value at risk, who agreed to
//!   be contacted on `--channel`.
//! - forecast: one series forecast with its intervals (`--plot`: with history
//!   and the 80/95% bands).

use std::path::PathBuf;

use chrono::Utc;
use patron_proto::churn::v1 as churn;
use patron_proto::churn::v1::churn_service_client::ChurnServiceClient;
use patron_proto::common::v1::{Money, TimeWindow};
use patron_proto::forecast::v1 as forecast;
use patron_proto::forecast::v1::forecast_service_client::ForecastServiceClient;
use patron_proto::profile::v1 as profile;
use patron_proto::profile::v1::profile_service_client::ProfileServiceClient;
use patron_proto::segmentation::v1 as seg;
use patron_proto::segmentation::v1::segmentation_service_client::SegmentationServiceClient;

use crate::connection::{Authed, GatewayArgs};
use crate::failure::{CallContext, Failure};
use crate::output::{Cell, OutputFormat, Table};
use crate::plot::charts::{ForecastChart, ForecastPeriod, ParetoChart, SegmentSizesChart};
use crate::time;

#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum ReportKind {
    Kpis,
    Pareto,
    Segments,
    Winback,
    Forecast,
}

#[derive(Debug, Clone, Copy, clap::ValueEnum)]
enum ChannelArg {
    Email,
    Sms,
    Phone,
    Push,
}

/// What is forecast, shared by `report forecast` and `batch forecasts`.
#[derive(Debug, clap::Args)]
pub struct SeriesArgs {
    /// forecast: revenue or units.
    #[arg(long, default_value = "revenue")]
    pub measure: String,
    /// forecast: day, week or month.
    #[arg(long, default_value = "week")]
    pub granularity: String,
    /// forecast: periods ahead.
    #[arg(long, default_value_t = 12)]
    pub horizon: i32,
}

impl SeriesArgs {
    /// The measure and granularity as proto values.
    pub fn proto(&self) -> anyhow::Result<(i32, i32)> {
        Ok((
            enum_named("--measure", &self.measure, "MEASURE_", forecast::Measure::from_str_name)?,
            enum_named("--granularity", &self.granularity, "GRANULARITY_", forecast::Granularity::from_str_name)?,
        ))
    }
}

#[derive(Debug, clap::Args)]
pub struct ReportArgs {
    #[arg(value_enum)]
    what: ReportKind,
    /// kpis, pareto: start of the period [default: --days before --to].
    #[arg(long, value_name = "DATE")]
    from: Option<String>,
    /// kpis, pareto: end (exclusive) of the period [default: now].
    #[arg(long, value_name = "DATE")]
    to: Option<String>,
    /// kpis, pareto: the period's length in days when --from is not given.
    #[arg(long, default_value_t = 365)]
    days: i64,
    /// kpis, pareto: only this region.
    #[arg(long)]
    region: Option<String>,
    /// pareto: how many top customers to list.
    #[arg(long, default_value_t = 10)]
    top: i32,
    /// segments: the segmentation model [default: the active one].
    #[arg(long, value_name = "MODEL_ID")]
    model: Option<String>,
    /// winback: the campaign's channel; only customers who consented on it.
    #[arg(long, value_enum)]
    channel: Option<ChannelArg>,
    /// winback: only members of this segment of the active segmentation.
    #[arg(long, value_name = "SEGMENT_ID")]
    segment: Option<String>,
    /// winback: at most this many customers.
    #[arg(long, default_value_t = 50)]
    limit: i32,
    /// forecast: the series level (total, store, channel, category, sku, region, segment).
    #[arg(long, default_value = "total")]
    level: String,
    /// forecast: the series key (store id, sku...); empty for total.
    #[arg(long, default_value = "")]
    key: String,
    #[command(flatten)]
    series: SeriesArgs,
    /// Draw the report (pareto, segments, forecast) into FILE.png or FILE.svg.
    #[arg(long, value_name = "FILE")]
    plot: Option<PathBuf>,
    #[arg(long, value_enum, default_value_t)]
    output: OutputFormat,
    #[command(flatten)]
    gateway: GatewayArgs,
}

pub async fn run(args: ReportArgs) -> anyhow::Result<()> {
    crate::plot::check_target(args.plot.as_deref())?;
    if args.plot.is_some() && matches!(args.what, ReportKind::Kpis | ReportKind::Winback) {
        return Err(Failure::usage("--plot applies to `report pareto`, `report segments` and `report forecast`"));
    }
    let channel = args.gateway.authed().await?;
    let tables = match args.what {
        ReportKind::Kpis => kpis(channel, &args).await?,
        ReportKind::Pareto => pareto(channel, &args).await?,
        ReportKind::Segments => segments(channel, &args).await?,
        ReportKind::Winback => winback(channel, &args).await?,
        ReportKind::Forecast => forecast_report(channel, &args).await?,
    };
    crate::output::print(args.output, &tables)
}

fn window(args: &ReportArgs) -> anyhow::Result<TimeWindow> {
    let end = match &args.to {
        Some(value) => time::parse_instant("--to", value)?,
        None => prost_types::Timestamp { seconds: Utc::now().timestamp(), nanos: 0 },
    };
    let start = match &args.from {
        Some(value) => time::parse_instant("--from", value)?,
        None => {
            let seconds = args
                .days
                .checked_mul(86_400)
                .filter(|_| (1..=36_500).contains(&args.days))
                .ok_or_else(|| Failure::usage("--days must be between 1 and 36,500"))?;
            prost_types::Timestamp { seconds: end.seconds - seconds, nanos: 0 }
        }
    };
    Ok(TimeWindow { start_time: Some(start), end_time: Some(end) })
}

fn filter(args: &ReportArgs) -> Option<profile::ReportFilter> {
    Some(profile::ReportFilter { region: args.region.clone().unwrap_or_default(), ..Default::default() })
}

fn money_text(money: Option<&Money>) -> Cell {
    money.map_or(Cell::Empty, |money| Cell::Text(format!("{} {}", money.amount_minor, money.currency_code)))
}

/// A KPI's name and how to read it from one period's KPIs.
type KpiRow = (&'static str, fn(&profile::Kpis) -> Cell);

async fn kpis(channel: Authed, args: &ReportArgs) -> anyhow::Result<Vec<Table>> {
    let request = profile::GetKpisRequest { window: Some(window(args)?), filter: filter(args) };
    let response = ProfileServiceClient::new(channel).get_kpis(request).await.doing("reading KPIs")?.into_inner();
    let (now, before) = (response.kpis.unwrap_or_default(), response.previous.unwrap_or_default());
    let rows: Vec<KpiRow> = vec![
        ("active_customers", |kpis| kpis.active_customers.into()),
        ("new_customers", |kpis| kpis.new_customers.into()),
        ("retention_rate", |kpis| kpis.retention_rate.into()),
        ("repeat_purchase_rate", |kpis| kpis.repeat_purchase_rate.into()),
        ("orders", |kpis| kpis.orders.into()),
        ("revenue_minor", |kpis| kpis.revenue.as_ref().map(|money| money.amount_minor).into()),
        ("average_order_value_minor", |kpis| kpis.average_order_value_minor.into()),
        ("purchase_frequency", |kpis| kpis.purchase_frequency.into()),
        ("historical_clv_minor", |kpis| kpis.historical_clv_minor.into()),
        ("nps", |kpis| kpis.nps.into()),
        ("nps_responses", |kpis| kpis.nps_responses.into()),
        ("csat", |kpis| kpis.csat.into()),
        ("csat_responses", |kpis| kpis.csat_responses.into()),
        ("contacts", |kpis| kpis.contacts.into()),
        ("customer_contact_ratio", |kpis| kpis.customer_contact_ratio.into()),
        ("cart_abandonment_rate", |kpis| kpis.cart_abandonment_rate.into()),
        ("returns", |kpis| kpis.returns.into()),
    ];
    let mut table = Table::new("kpis", &["kpi", "period", "previous_period"]);
    for (name, value) in rows {
        table.push(vec![name.into(), value(&now), value(&before)]);
    }
    Ok(vec![table])
}

async fn pareto(channel: Authed, args: &ReportArgs) -> anyhow::Result<Vec<Table>> {
    let request = profile::GetParetoReportRequest {
        window: Some(window(args)?),
        filter: filter(args),
        customer_shares: vec![0.1, 0.2, 0.5],
        top_n: args.top,
    };
    let response = ProfileServiceClient::new(channel)
        .get_pareto_report(request)
        .await
        .doing("reading the Pareto report")?
        .into_inner();
    let summary = Table::fields(
        "revenue",
        vec![("customers", response.customers.into()), ("revenue", money_text(response.revenue.as_ref()))],
    );
    let mut points = Table::new("concentration", &["customer_share", "revenue_share"]);
    for point in &response.points {
        points.push(vec![point.customer_share.into(), point.revenue_share.into()]);
    }
    let mut top = Table::new("top_customers", &["customer_id", "revenue_minor", "margin_minor", "orders"]);
    for customer in &response.top_by_revenue {
        top.push(vec![
            customer.customer_id.as_str().into(),
            customer.revenue_minor.into(),
            customer.margin_minor.into(),
            customer.orders.into(),
        ]);
    }
    if let Some(path) = &args.plot {
        let pair = |point: &profile::ParetoPoint| (point.customer_share, point.revenue_share);
        let chart = ParetoChart {
            title: format!("revenue concentration, {} customers", response.customers),
            curve: response.curve.iter().map(pair).collect(),
            marks: response.points.iter().map(pair).collect(),
        };
        crate::plot::save(&chart, path)?;
    }
    Ok(vec![summary, points, top])
}

/// The segments of a version, as `report segments` and `models show` print them.
pub fn segments_table(segments: &[seg::Segment]) -> Table {
    let mut table = Table::new(
        "segments",
        &[
            "segment_id",
            "name",
            "scheme",
            "customers",
            "customer_share",
            "revenue_minor",
            "revenue_share",
            "members",
            "description",
        ],
    );
    for segment in segments {
        table.push(vec![
            segment.id.as_str().into(),
            segment.name.as_str().into(),
            segment.scheme().as_str_name().trim_start_matches("SEGMENT_SCHEME_").to_lowercase().into(),
            segment.size.into(),
            segment.customer_share.into(),
            segment.revenue.as_ref().map(|money| money.amount_minor).into(),
            segment.revenue_share.into(),
            segment.member_count.into(),
            segment.description.as_str().into(),
        ]);
    }
    table
}

async fn segments(channel: Authed, args: &ReportArgs) -> anyhow::Result<Vec<Table>> {
    let mut client = SegmentationServiceClient::new(channel);
    let mut all = Vec::new();
    let mut page_token = String::new();
    loop {
        let request = seg::ListSegmentsRequest {
            model_id: args.model.clone().unwrap_or_default(),
            scheme: seg::SegmentScheme::Kmeans.into(),
            page_size: 1000,
            page_token,
        };
        let page = client.list_segments(request).await.doing("listing segments")?.into_inner();
        all.extend(page.segments);
        if page.next_page_token.is_empty() {
            break;
        }
        page_token = page.next_page_token;
    }
    if let Some(path) = &args.plot {
        let model = all.first().map(|segment| segment.model_id.clone()).unwrap_or_default();
        let chart = SegmentSizesChart {
            title: format!("segments of {model}: customers and revenue"),
            segments: all
                .iter()
                .map(|segment| (segment.name.clone(), segment.customer_share, segment.revenue_share))
                .collect(),
        };
        crate::plot::save(&chart, path)?;
    }
    Ok(vec![segments_table(&all)])
}

async fn winback(channel: Authed, args: &ReportArgs) -> anyhow::Result<Vec<Table>> {
    let consent = match args.channel {
        None => return Err(Failure::usage("`report winback` needs --channel (the campaign's channel)")),
        Some(ChannelArg::Email) => profile::ConsentChannel::Email,
        Some(ChannelArg::Sms) => profile::ConsentChannel::Sms,
        Some(ChannelArg::Phone) => profile::ConsentChannel::Phone,
        Some(ChannelArg::Push) => profile::ConsentChannel::Push,
    };
    let request = churn::GetWinBackListRequest {
        page_size: args.limit,
        channel: consent.into(),
        segment_id: args.segment.clone().unwrap_or_default(),
        region: args.region.clone().unwrap_or_default(),
        ..Default::default()
    };
    let response = ChurnServiceClient::new(channel)
        .get_win_back_list(request)
        .await
        .doing("reading the win-back list")?
        .into_inner();
    let mut table = Table::new(
        "winback",
        &[
            "rank",
            "customer_id",
            "churn_probability",
            "value_at_risk_minor",
            "clv_minor",
            "currency_code",
            "last_order",
            "lapsed",
            "segment_id",
            "region",
        ],
    );
    for candidate in &response.candidates {
        let score = candidate.score.clone().unwrap_or_default();
        table.push(vec![
            candidate.rank.into(),
            score.customer_id.as_str().into(),
            score.churn_probability.into(),
            score.value_at_risk.as_ref().map(|money| money.amount_minor).into(),
            score.clv.as_ref().map(|money| money.amount_minor).into(),
            score.clv.as_ref().map(|money| money.currency_code.clone()).into(),
            time::date_text(score.last_order_time.as_ref()).into(),
            score.lapsed.into(),
            candidate.segment_id.as_str().into(),
            candidate.region.as_str().into(),
        ]);
    }
    Ok(vec![table])
}

/// A proto enum value from its short name (`week` for `GRANULARITY_WEEK`).
pub fn enum_named<E: Into<i32>>(
    flag: &str,
    value: &str,
    prefix: &str,
    from_name: fn(&str) -> Option<E>,
) -> anyhow::Result<i32> {
    from_name(&format!("{prefix}{}", value.trim().to_uppercase()))
        .map(Into::into)
        .ok_or_else(|| Failure::usage(format!("{flag} {value} is not a known value")))
}

async fn forecast_report(channel: Authed, args: &ReportArgs) -> anyhow::Result<Vec<Table>> {
    let (measure, granularity) = args.series.proto()?;
    let series_id = forecast::SeriesId {
        measure,
        granularity,
        level: enum_named("--level", &args.level, "SERIES_LEVEL_", forecast::SeriesLevel::from_str_name)?,
        key: args.key.clone(),
        ..Default::default()
    };
    let request = forecast::ForecastRequest {
        series: Some(forecast::forecast_request::Series::SeriesId(series_id)),
        horizon: args.series.horizon,
        interval_levels: vec![80.0, 95.0],
        include_history: true,
        ..Default::default()
    };
    let response = ForecastServiceClient::new(channel).forecast(request).await.doing("forecasting")?.into_inner();
    let result = response.forecast.unwrap_or_default();
    let selection = result.selection.clone().unwrap_or_default();
    let summary = Table::fields(
        "forecast",
        vec![
            ("model_id", result.model_id.as_str().into()),
            ("method", selection.specification.as_str().into()),
            ("fallback", selection.fallback.into()),
            ("data_cutoff", time::text(result.data_cutoff.as_ref()).into()),
            ("history_periods", result.history_length.into()),
        ],
    );
    let mut points = Table::new("points", &["period_start", "value", "lower_80", "upper_80", "lower_95", "upper_95"]);
    let bound = |point: &forecast::ForecastPoint, level: f64| {
        point
            .intervals
            .iter()
            .find(|interval| (interval.level - level).abs() < 1e-9)
            .map(|interval| (interval.lower, interval.upper))
    };
    for point in &result.points {
        let (low_80, high_80) = bound(point, 80.0).unzip();
        let (low_95, high_95) = bound(point, 95.0).unzip();
        points.push(vec![
            time::date_text(point.start_time.as_ref()).into(),
            point.value.into(),
            low_80.into(),
            high_80.into(),
            low_95.into(),
            high_95.into(),
        ]);
    }
    if let Some(path) = &args.plot {
        let history = response.history.unwrap_or_default();
        let start = history.start_time.as_ref().map_or(0, |start| start.seconds);
        let granularity = forecast::Granularity::try_from(history.granularity).unwrap_or(forecast::Granularity::Week);
        let history_points = history
            .values
            .iter()
            .enumerate()
            .filter_map(|(index, value)| period_start(start, granularity, index).map(|seconds| (seconds, *value)))
            .collect();
        let chart = ForecastChart {
            title: format!("{} {} forecast ({})", args.level, args.series.measure, selection.specification),
            unit: args.series.measure.clone(),
            history: history_points,
            forecast: result
                .points
                .iter()
                .map(|point| ForecastPeriod {
                    start: point.start_time.as_ref().map_or(0, |start| start.seconds),
                    value: point.value,
                    bands: point
                        .intervals
                        .iter()
                        .map(|interval| (interval.level, interval.lower, interval.upper))
                        .collect(),
                })
                .collect(),
        };
        crate::plot::save(&chart, path)?;
    }
    Ok(vec![summary, points])
}

/// The start of the `index`-th period after `start` (Unix seconds, UTC).
fn period_start(start: i64, granularity: forecast::Granularity, index: usize) -> Option<i64> {
    let index = i64::try_from(index).ok()?;
    match granularity {
        forecast::Granularity::Day => Some(start + index * 86_400),
        forecast::Granularity::Month => {
            let first = chrono::DateTime::from_timestamp(start, 0)?;
            let months = chrono::Months::new(u32::try_from(index).ok()?);
            first.checked_add_months(months).map(|time| time.timestamp())
        }
        _ => Some(start + index * 7 * 86_400),
    }
}
