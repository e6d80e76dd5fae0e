//! `make bench`: starts the suite from release binaries and prints a results
//! table. Each issue adds its measurements here.

use std::time::Duration;

use patron_proto::gateway::v1::GetCustomer360Request;
use patron_proto::gateway::v1::insight_service_client::InsightServiceClient;
use patron_proto::profile::v1 as pb;
use patron_proto::profile::v1::profile_service_client::ProfileServiceClient;
use patron_tests::GatewayChannel;
use patron_tests::Suite;
use patron_tests::load::{LoadReport, closed_loop, open_loop, quantile, saturating_throughput};

struct Args {
    concurrency: usize,
    duration: Duration,
    customers: usize,
    order_lines: usize,
    import_customers: usize,
    report_orders: usize,
    insight_rate: f64,
    /// `--only import`: the profile import alone (no suite, no reports).
    only_import: bool,
    /// `--only gateway`: the gateway tables alone (no profile import and reports).
    gateway_only: bool,
    /// `--only reports`: the profile report latencies alone (no suite, no import table).
    only_reports: bool,
}

fn parse_args() -> Args {
    let mut args = Args {
        concurrency: 16,
        duration: Duration::from_secs(10),
        customers: 1_000,
        order_lines: 1_000_000,
        import_customers: 100_000,
        report_orders: 1_000_000,
        insight_rate: 1_000.0,
        only_import: false,
        gateway_only: false,
        only_reports: false,
    };
    let mut iter = std::env::args().skip(1);
    while let Some(flag) = iter.next() {
        let value = iter.next().unwrap_or_default();
        match flag.as_str() {
            "--concurrency" => args.concurrency = value.parse().unwrap_or(args.concurrency),
            "--duration-secs" => args.duration = Duration::from_secs(value.parse().unwrap_or(10)),
            "--customers" => args.customers = value.parse().unwrap_or(args.customers),
            "--order-lines" => args.order_lines = value.parse().unwrap_or(args.order_lines),
            "--import-customers" => args.import_customers = value.parse().unwrap_or(args.import_customers),
            "--report-orders" => args.report_orders = value.parse().unwrap_or(args.report_orders),
            "--insight-rate" => args.insight_rate = value.parse().unwrap_or(args.insight_rate),
            "--only" if value == "import" => args.only_import = true,
            "--only" if value == "gateway" => args.gateway_only = true,
            "--only" if value == "reports" => args.only_reports = true,
            other => eprintln!("ignoring unknown flag {other}"),
        }
    }
    args
}

fn row(name: &str, report: &LoadReport) {
    let ms = |duration: Duration| duration.as_secs_f64() * 1e3;
    println!(
        "| {name:<38} | {:>9.0} | {:>7.2} | {:>7.2} | {:>7.2} | {:>7.2} | {:>6} |",
        report.throughput(),
        ms(report.p50),
        ms(report.p90),
        ms(report.p99),
        ms(report.max),
        report.errors
    );
}

/// Orders each bench customer has (two lines each).
const BENCH_ORDERS_PER_CUSTOMER: usize = 3;
/// Demo customers loaded beside the bench's own, for the models to train on.
const BENCH_DEMO_CUSTOMERS: u32 = 1_000;

fn bench_order(customer: usize, number: usize) -> pb::Order {
    let line = |sku: String, quantity, unit_price_minor| pb::OrderLine {
        sku,
        category: "bench".into(),
        quantity,
        unit_price_minor,
        ..Default::default()
    };
    // Days ago, so every order is before "now" whenever the bench runs.
    let placed = std::time::SystemTime::now() - Duration::from_secs(86_400 * (30 * number as u64 + 1));
    pb::Order {
        order_id: format!("bench-{customer}-{number}"),
        customer_id: format!("bench-{customer}"),
        place_time: Some(prost_types::Timestamp::from(placed)),
        channel: pb::SalesChannel::Web as i32,
        store_id: "web".into(),
        currency_code: "USD".into(),
        status: pb::OrderStatus::Completed as i32,
        lines: vec![line(format!("sku-{}", customer % 50), 1, 1_999), line(format!("sku-{}", number), 2, 450)],
        ..Default::default()
    }
}

async fn get_customer_load(channel: GatewayChannel, args: &Args, concurrency: usize) -> LoadReport {
    let customers = args.customers;
    let client = ProfileServiceClient::new(channel);
    let counter = std::sync::Arc::new(std::sync::atomic::AtomicUsize::new(0));
    closed_loop(concurrency, args.duration, move || {
        let mut client = client.clone();
        let index = counter.fetch_add(1, std::sync::atomic::Ordering::Relaxed) % customers;
        async move {
            client.get_customer(pb::GetCustomerRequest { customer_id: format!("bench-{index}") }).await.map(|_| ())
        }
    })
    .await
}

// One thread: the load generator shares this machine's cores with the
// services it measures, and a multi-threaded runtime's idle workers spin
// and wake on every call, taking CPU from the processes under test.
#[tokio::main(flavor = "current_thread")]
async fn main() {
    let args = parse_args();
    if args.only_reports {
        if let Err(error) = profile_reports(&args).await {
            eprintln!("profile report bench failed: {error}");
            std::process::exit(1);
        }
        return;
    }
    if args.only_import {
        if let Err(error) = profile_import_and_reports(&args).await {
            eprintln!("profile import bench failed: {error}");
            std::process::exit(1);
        }
        return;
    }
    // Demo customers give the models something real to learn from; the
    // bench's own customers are the ones called.
    let suite = Suite::up_with_demo(BENCH_DEMO_CUSTOMERS).await;
    let mut profile = ProfileServiceClient::new(suite.gateway());
    for index in 0..args.customers {
        let customer = pb::Customer {
            customer_id: format!("bench-{index}"),
            name: format!("Customer {index}"),
            region: "north".into(),
            ..Default::default()
        };
        profile
            .create_customer(pb::CreateCustomerRequest { request_id: String::new(), customer: Some(customer) })
            .await
            .expect("seed customer");
        // A few orders with lines, so the customer-360 view reads and renders real orders.
        for number in 0..BENCH_ORDERS_PER_CUSTOMER {
            profile
                .record_order(pb::RecordOrderRequest {
                    request_id: String::new(),
                    order: Some(bench_order(index, number)),
                })
                .await
                .expect("seed order");
        }
    }
    // Straight to the profile service, with the internal credential a peer service would present.
    let direct = suite.backend_as_peer(10);
    println!();
    println!(
        "GetCustomer, closed loop: {} workers (and 1) for {:?} each, {} customers, SQLite; \
         a refused worker waits the RetryInfo delay before its next call",
        args.concurrency, args.duration, args.customers
    );
    println!(
        "| {:<38} | {:>9} | {:>7} | {:>7} | {:>7} | {:>7} | {:>6} |",
        "target", "calls/s", "p50 ms", "p90 ms", "p99 ms", "max ms", "errors"
    );
    println!("|{:-<40}|{:-<11}|{:-<9}|{:-<9}|{:-<9}|{:-<9}|{:-<8}|", "", "", "", "", "", "", "");
    // Alternating, so a change in the machine's load hits both alike.
    let report = get_customer_load(direct.clone(), &args, 1).await;
    row("profile direct, 1 worker", &report);
    let report = get_customer_load(suite.gateway(), &args, 1).await;
    row("through the gateway, 1 worker", &report);
    let report = get_customer_load(direct, &args, args.concurrency).await;
    row("profile direct", &report);
    let report = get_customer_load(suite.gateway(), &args, args.concurrency).await;
    row("through the gateway", &report);
    if report.errors > 0 {
        println!("codes: {:?}", report.codes);
    }
    let get_customer = {
        let client = ProfileServiceClient::new(suite.gateway());
        let counter = std::sync::Arc::new(std::sync::atomic::AtomicUsize::new(0));
        let customers = args.customers;
        move || {
            let mut client = client.clone();
            let index = counter.fetch_add(1, std::sync::atomic::Ordering::Relaxed) % customers;
            async move {
                client.get_customer(pb::GetCustomerRequest { customer_id: format!("bench-{index}") }).await.map(|_| ())
            }
        }
    };
    // The saturating throughput: the most OK answers a second an open-loop ramp gets.
    let (saturating, ramp) = saturating_throughput(250.0, 50_000.0, Duration::from_secs(2), get_customer.clone()).await;
    println!(
        "saturating throughput through the gateway: {saturating:.0} OK/s (open-loop ramp, offered -> OK/s: {})",
        ramp.iter()
            .map(|step| format!("{:.0} -> {:.0}", step.offered, step.answered_ok))
            .collect::<Vec<_>>()
            .join(", ")
    );

    // Overload: twice the saturating throughput. Only OK and RESOURCE_EXHAUSTED may come back.
    let overload = open_loop(2.0 * saturating, args.duration, get_customer).await;
    row(&format!("gateway at 2x ({:.0}/s, open loop)", 2.0 * saturating), &overload);
    println!("codes at 2x: {:?}; one message each: {:?}", overload.codes, overload.samples);
    println!(
        "accepted calls at 2x, from sending: p50 {:.2} ms, p99 {:.2} ms",
        quantile(&overload.accepted, 0.50).as_secs_f64() * 1e3,
        quantile(&overload.accepted, 0.99).as_secs_f64() * 1e3
    );
    let unexpected: usize = overload
        .codes
        .iter()
        .filter(|(code, _)| !matches!(code.as_str(), "Ok" | "ResourceExhausted"))
        .map(|(_, n)| n)
        .sum();
    if unexpected > 0 {
        println!("FAIL: {unexpected} calls at 2x ended other than OK or RESOURCE_EXHAUSTED");
    }

    // Active models, so each view and part reads a stored segment and score.
    let models = patron_tests::models::train_and_activate(suite.gateway()).await.expect("models train and activate");
    println!(
        "active models: segmentation {} ({} customers assigned), churn {} ({} customers scored)",
        models.segmentation, models.customers_assigned, models.churn, models.customers_scored
    );
    println!();
    println!(
        "GetCustomer360 through the gateway, open loop: {} calls/s for {:?}, {} customers with {BENCH_ORDERS_PER_CUSTOMER} orders of 2 lines each",
        args.insight_rate, args.duration, args.customers
    );
    println!(
        "| {:<38} | {:>9} | {:>7} | {:>7} | {:>7} | {:>7} | {:>6} |",
        "target", "calls/s", "p50 ms", "p90 ms", "p99 ms", "max ms", "errors"
    );
    println!("|{:-<40}|{:-<11}|{:-<9}|{:-<9}|{:-<9}|{:-<9}|{:-<8}|", "", "", "", "", "", "", "");
    let insight = InsightServiceClient::new(suite.gateway());
    let counter = std::sync::Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let customers = args.customers;
    let report = open_loop(args.insight_rate, args.duration, move || {
        let mut client = insight.clone();
        let index = counter.fetch_add(1, std::sync::atomic::Ordering::Relaxed) % customers;
        async move {
            let request = GetCustomer360Request { customer_id: format!("bench-{index}"), recent_orders: 5 };
            client.get_customer360(request).await.and_then(|view| whole_view(&view.into_inner()))
        }
    })
    .await;
    row("GetCustomer360", &report);
    if report.errors > 0 {
        println!("codes: {:?}; one message each: {:?}", report.codes, report.samples);
    }
    // Each backend call of the view alone, at the same rate, to show where its time goes.
    let parts = parts_at_rate(&suite, &args).await;
    for (name, part) in parts {
        row(name, &part);
        if part.errors > 0 {
            println!("  codes: {:?}; one message each: {:?}", part.codes, part.samples);
        }
    }
    let status = suite.terminate().await;
    assert!(status.success(), "suite stopped cleanly");
    if args.gateway_only {
        return;
    }

    if let Err(error) = profile_import_and_reports(&args).await {
        eprintln!("profile import bench failed: {error}");
        std::process::exit(1);
    }
}

/// GetCustomerSummary, GetCustomerSegment and GetCustomerScore through the
/// gateway, each alone in an open loop at the customer-360 rate.
async fn parts_at_rate(suite: &Suite, args: &Args) -> Vec<(&'static str, LoadReport)> {
    use patron_proto::churn::v1::GetCustomerScoreRequest;
    use patron_proto::churn::v1::churn_service_client::ChurnServiceClient;
    use patron_proto::segmentation::v1::GetCustomerSegmentRequest;
    use patron_proto::segmentation::v1::segmentation_service_client::SegmentationServiceClient;
    let duration = args.duration.min(Duration::from_secs(5));
    let customers = args.customers;
    let id = move |index: usize| format!("bench-{}", index % customers);
    let counter = std::sync::Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let profile = ProfileServiceClient::new(suite.gateway());
    let next = counter.clone();
    let summary = open_loop(args.insight_rate, duration, move || {
        let mut client = profile.clone();
        let customer_id = id(next.fetch_add(1, std::sync::atomic::Ordering::Relaxed));
        async move {
            let request = pb::GetCustomerSummaryRequest { customer_id, as_of: None, recent_orders: 5 };
            client.get_customer_summary(request).await.map(|_| ())
        }
    })
    .await;
    let segmentation = SegmentationServiceClient::new(suite.gateway());
    let next = counter.clone();
    let segment = open_loop(args.insight_rate, duration, move || {
        let mut client = segmentation.clone();
        let customer_id = id(next.fetch_add(1, std::sync::atomic::Ordering::Relaxed));
        async move {
            let request = GetCustomerSegmentRequest { customer_id, model_id: String::new() };
            client.get_customer_segment(request).await.map(|_| ())
        }
    })
    .await;
    let churn = ChurnServiceClient::new(suite.gateway());
    let next = counter.clone();
    let score = open_loop(args.insight_rate, duration, move || {
        let mut client = churn.clone();
        let customer_id = id(next.fetch_add(1, std::sync::atomic::Ordering::Relaxed));
        async move { client.get_customer_score(GetCustomerScoreRequest { customer_id }).await.map(|_| ()) }
    })
    .await;
    vec![
        ("  part: GetCustomerSummary", summary),
        ("  part: GetCustomerSegment", segment),
        ("  part: GetCustomerScore", score),
    ]
}

/// A view missing a part counts as an error: with every backend up and
/// models active, each part should be there.
fn whole_view(view: &patron_proto::gateway::v1::GetCustomer360Response) -> Result<(), tonic::Status> {
    let parts = [
        ("profile", view.profile.as_ref().and_then(|part| part.status.as_ref())),
        ("segment", view.segment.as_ref().and_then(|part| part.status.as_ref())),
        ("churn", view.churn.as_ref().and_then(|part| part.status.as_ref())),
    ];
    for (name, status) in parts {
        match status {
            Some(status) if status.available => {}
            Some(status) => return Err(tonic::Status::unavailable(format!("{name} part missing: {}", status.reason))),
            None => return Err(tonic::Status::unavailable(format!("{name} part missing"))),
        }
    }
    Ok(())
}

async fn profile_import_and_reports(args: &Args) -> Result<(), Box<dyn std::error::Error>> {
    use patron_tests::bench_profile::{IMPORT_BATCH_ROWS, ProfileProcess, ScratchDatabase, Workload, scratch_dir};

    let workload = Workload { order_lines: args.order_lines, customers: args.import_customers, lines_per_order: 3 };
    let bin_dir = patron_tests::binaries_dir();
    let dir = scratch_dir();
    let csv = dir.join("order_lines.csv");
    workload.write_csv(&csv)?;
    println!();
    println!(
        "Profile import: {} order lines, {} customers, streamed in batches of {IMPORT_BATCH_ROWS}",
        args.order_lines, args.import_customers
    );
    println!("| {:<34} | {:>10} | {:>9} | {:>14} |", "target", "rows/s", "seconds", "peak RSS MiB");
    println!("|{:-<36}|{:-<12}|{:-<11}|{:-<16}|", "", "", "", "");
    let report = |name: &str, elapsed: Duration, memory: Option<f64>| {
        println!(
            "| {name:<34} | {:>10.0} | {:>9.1} | {:>14} |",
            args.order_lines as f64 / elapsed.as_secs_f64(),
            elapsed.as_secs_f64(),
            memory.map_or("-".to_owned(), |mib| format!("{mib:.0}"))
        );
    };

    let copy_database = ScratchDatabase::create("patron_bench_copy")?;
    report("PostgreSQL COPY of the same CSV", copy_database.copy_csv(&csv)?, None);

    let postgres = ScratchDatabase::create("patron_bench_import")?;
    let profile = ProfileProcess::start(&bin_dir, &postgres.url()).await?;
    let elapsed = workload.import(profile.channel()).await?;
    report("ImportRecords, PostgreSQL", elapsed, profile.peak_memory_mib());

    let sqlite_url = format!("sqlite://{}?mode=rwc", dir.join("bench.db").display());
    let sqlite_profile = ProfileProcess::start(&bin_dir, &sqlite_url).await?;
    let elapsed = workload.import(sqlite_profile.channel()).await?;
    report("ImportRecords, SQLite", elapsed, sqlite_profile.peak_memory_mib());
    drop(sqlite_profile);

    drop(profile);
    if args.only_import {
        let _ = std::fs::remove_dir_all(&dir);
        return Ok(());
    }

    let _ = std::fs::remove_dir_all(&dir);
    profile_reports(args).await
}

/// KPI and Pareto latency over the report workload on PostgreSQL: the first
/// call (which loads the rollup), warm calls, and the first call after each
/// kind of write (which applies it to the rollup).
async fn profile_reports(args: &Args) -> Result<(), Box<dyn std::error::Error>> {
    use patron_tests::bench_profile::{
        ProfileProcess, ReportWrite, ScratchDatabase, Workload, latency, write_for_reports, year_window,
    };

    let bin_dir = patron_tests::binaries_dir();
    // Reports are specified over 100,000 customers and 1,000,000 orders: one
    // line per order, so the order count is the row count.
    let orders = Workload { order_lines: args.report_orders, customers: args.import_customers, lines_per_order: 1 };
    let reports_database = ScratchDatabase::create("patron_bench_reports")?;
    let profile = ProfileProcess::start(&bin_dir, &reports_database.url()).await?;
    orders.import(profile.channel()).await?;
    println!();
    println!(
        "Reports over {} orders of {} customers (PostgreSQL, one-year window, 20 sequential calls; 3 for all SKUs)",
        args.report_orders, args.import_customers
    );
    println!("| {:<34} | {:>9} | {:>9} | {:>9} |", "call", "p50 ms", "p99 ms", "max ms");
    println!("|{:-<36}|{:-<11}|{:-<11}|{:-<11}|", "", "", "", "");
    let client = ProfileServiceClient::new(profile.channel());
    let ms = |duration: Duration| duration.as_secs_f64() * 1e3;
    let kpis = || {
        let mut client = client.clone();
        async move { client.get_kpis(pb::GetKpisRequest { window: year_window(), filter: None }).await.map(|_| ()) }
    };
    let pareto = || {
        let mut client = client.clone();
        async move {
            let request = pb::GetParetoReportRequest { window: year_window(), ..Default::default() };
            client.get_pareto_report(request).await.map(|_| ())
        }
    };
    // The first report after the import loads the profile service's order rollup.
    let (first, _, _) = latency(1, kpis).await?;
    println!("| {:<34} | {:>9.1} | {:>9} | {:>9} |", "GetKpis, first after the import", ms(first), "-", "-");
    let row = |call: &str, (p50, p99, max): (Duration, Duration, Duration)| {
        println!("| {call:<34} | {:>9.1} | {:>9.1} | {:>9.1} |", ms(p50), ms(p99), ms(max));
    };
    row("GetKpis", latency(20, kpis).await?);
    row("GetParetoReport", latency(20, pareto).await?);
    // What a forecast of one SKU, and a forecast of every SKU, read first.
    let daily_sku_series = |keys: Vec<String>| {
        let mut client = client.clone();
        async move {
            let request = pb::ExportSalesSeriesRequest {
                level: pb::SeriesLevel::Sku as i32,
                keys,
                granularity: pb::Granularity::Day as i32,
                window: year_window(),
                ..Default::default()
            };
            let mut points = client.export_sales_series(request).await?.into_inner();
            while points.message().await?.is_some() {}
            Ok(())
        }
    };
    row("ExportSalesSeries, one SKU by day", latency(20, || daily_sku_series(vec!["sku-7".to_owned()])).await?);
    row("ExportSalesSeries, all SKUs by day", latency(3, || daily_sku_series(Vec::new())).await?);
    // After each kind of write, the next report applies it to the rollup.
    const ROUNDS: usize = 10;
    println!();
    println!("First report after a write ({ROUNDS} rounds each; PostgreSQL)");
    println!("| {:<44} | {:>9} | {:>9} |", "call", "p50 ms", "max ms");
    println!("|{:-<46}|{:-<11}|{:-<11}|", "", "", "");
    let mut writer = ProfileServiceClient::new(profile.channel());
    for kind in ReportWrite::ALL {
        let (mut after_kpis, mut after_pareto) = (Vec::new(), Vec::new());
        for round in 0..ROUNDS {
            write_for_reports(&mut writer, &orders, kind, 2 * round).await?;
            after_kpis.push(latency(1, kpis).await?.0);
            write_for_reports(&mut writer, &orders, kind, 2 * round + 1).await?;
            after_pareto.push(latency(1, pareto).await?.0);
        }
        for (call, mut samples) in [("GetKpis", after_kpis), ("GetParetoReport", after_pareto)] {
            samples.sort_unstable();
            let name = format!("{call} after {}", kind.label());
            println!(
                "| {name:<44} | {:>9.1} | {:>9.1} |",
                ms(samples[samples.len() / 2]),
                ms(samples[samples.len() - 1])
            );
        }
    }
    Ok(())
}
