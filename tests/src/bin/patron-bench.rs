//! `make bench`: starts the suite from release binaries and prints a results
//! table. Each issue adds its measurements here.

use std::time::Duration;

use patron_proto::profile::v1 as pb;
use patron_proto::profile::v1::profile_service_client::ProfileServiceClient;
use patron_tests::Suite;
use patron_tests::load::{LoadReport, closed_loop};
use tonic::transport::Channel;

struct Args {
    concurrency: usize,
    duration: Duration,
    customers: usize,
}

fn parse_args() -> Args {
    let mut args = Args { concurrency: 16, duration: Duration::from_secs(10), customers: 1_000 };
    let mut iter = std::env::args().skip(1);
    while let Some(flag) = iter.next() {
        let value = iter.next().unwrap_or_default();
        match flag.as_str() {
            "--concurrency" => args.concurrency = value.parse().unwrap_or(args.concurrency),
            "--duration-secs" => args.duration = Duration::from_secs(value.parse().unwrap_or(10)),
            "--customers" => args.customers = value.parse().unwrap_or(args.customers),
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

async fn get_customer_load(channel: Channel, args: &Args) -> LoadReport {
    let customers = args.customers;
    let client = ProfileServiceClient::new(channel);
    let counter = std::sync::Arc::new(std::sync::atomic::AtomicUsize::new(0));
    closed_loop(args.concurrency, args.duration, move || {
        let mut client = client.clone();
        let index = counter.fetch_add(1, std::sync::atomic::Ordering::Relaxed) % customers;
        async move {
            client.get_customer(pb::GetCustomerRequest { customer_id: format!("bench-{index}") }).await.map(|_| ())
        }
    })
    .await
}

#[tokio::main]
async fn main() {
    let args = parse_args();
    let suite = Suite::up().await;
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
    }
    let direct = Channel::from_shared(format!("http://127.0.0.1:{}", suite.port(10))).expect("uri").connect_lazy();
    println!();
    println!(
        "GetCustomer, closed loop: {} workers for {:?}, {} customers, SQLite",
        args.concurrency, args.duration, args.customers
    );
    println!(
        "| {:<38} | {:>9} | {:>7} | {:>7} | {:>7} | {:>7} | {:>6} |",
        "target", "calls/s", "p50 ms", "p90 ms", "p99 ms", "max ms", "errors"
    );
    println!("|{:-<40}|{:-<11}|{:-<9}|{:-<9}|{:-<9}|{:-<9}|{:-<8}|", "", "", "", "", "", "", "");
    let report = get_customer_load(direct, &args).await;
    row("profile direct", &report);
    let report = get_customer_load(suite.gateway(), &args).await;
    row("through the gateway", &report);
    let status = suite.terminate().await;
    assert!(status.success(), "suite stopped cleanly");
}
