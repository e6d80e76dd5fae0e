//! `make bench`: AssignCustomer latency and AssignAll throughput of the real
//! segmentation service, in-process beside the real profile service (SQLite,
//! temporary files), with customers imported through the profile import RPC.
//!
//! Run: `cargo run --release -p patron-segmentation --example assign_bench`
//! (`PATRON_ASSIGN_BENCH_CUSTOMERS` sets the customer count; default 1,000,000;
//! `PATRON_ASSIGN_BENCH_DIR` keeps the databases in that directory and reuses
//! an imported profile database of the same size on the next run, to iterate
//! on the measured part without the import; `PATRON_ASSIGN_BENCH_PROFILE_DB`
//! puts the profile store at that database URL instead, e.g. an empty
//! PostgreSQL database).

use std::time::{Duration, Instant};

use patron_common::config::{DatabaseConfig, PeersConfig, ServerConfig};
use patron_proto::common::v1::JobState;
use patron_proto::profile::v1 as profile_pb;
use patron_proto::profile::v1::profile_service_client::ProfileServiceClient;
use patron_proto::segmentation::v1 as pb;
use patron_proto::segmentation::v1::segmentation_service_client::SegmentationServiceClient;
use secrecy::SecretString;
use tokio_stream::StreamExt;
use tonic::transport::Channel;

const ASSIGN_CALLS: usize = 2_000;

fn database(path: &std::path::Path) -> DatabaseConfig {
    DatabaseConfig {
        url: SecretString::from(format!("sqlite://{}?mode=rwc", path.display())),
        ..DatabaseConfig::default()
    }
}

async fn wait_until_serving(channel: Channel) {
    use tonic_health::pb::health_check_response::ServingStatus;
    let mut health = tonic_health::pb::health_client::HealthClient::new(channel);
    loop {
        let request = tonic_health::pb::HealthCheckRequest { service: String::new() };
        if health.check(request).await.ok().map(|answer| answer.into_inner().status)
            == Some(ServingStatus::Serving as i32)
        {
            return;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

fn timestamp_days_ago(now: i64, days: i64) -> prost_types::Timestamp {
    prost_types::Timestamp { seconds: now - days * 86_400, nanos: 0 }
}

/// Orders of `customers` customers with varied recency, frequency and spend (deterministic).
fn orders(customers: usize) -> Vec<profile_pb::OrderRow> {
    let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap_or_default().as_secs() as i64;
    let mut rows = Vec::new();
    for customer in 0..customers {
        let mixed = (customer as u64).wrapping_mul(0x9E37_79B9_7F4A_7C15);
        let count = 1 + (mixed % 5) as usize;
        let first = 30 + (mixed >> 8) % 600;
        for order in 0..count {
            rows.push(profile_pb::OrderRow {
                order_id: format!("o-{customer}-{order}"),
                customer_id: format!("c-{customer:07}"),
                place_time: Some(timestamp_days_ago(now, first as i64 - order as i64 * 25)),
                channel: if mixed.is_multiple_of(3) {
                    profile_pb::SalesChannel::Web
                } else {
                    profile_pb::SalesChannel::Store
                } as i32,
                currency_code: "USD".into(),
                status: profile_pb::OrderStatus::Completed as i32,
                total_minor: 1_000 + ((mixed >> 20) % 30_000) as i64,
                ..Default::default()
            });
        }
    }
    rows
}

fn percentile(sorted: &[Duration], fraction: f64) -> Duration {
    sorted[((sorted.len() - 1) as f64 * fraction).round() as usize]
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let customers: usize =
        std::env::var("PATRON_ASSIGN_BENCH_CUSTOMERS").ok().and_then(|value| value.parse().ok()).unwrap_or(1_000_000);
    let kept = std::env::var_os("PATRON_ASSIGN_BENCH_DIR").map(std::path::PathBuf::from);
    let scratch = kept
        .clone()
        .unwrap_or_else(|| std::env::temp_dir().join(format!("patron-assign-bench-{}", std::process::id())));
    std::fs::create_dir_all(&scratch)?;
    // A fresh segmentation store each run; the profile store only if it does not hold this size.
    for suffix in ["", "-wal", "-shm"] {
        let _ = std::fs::remove_file(scratch.join(format!("segmentation.db{suffix}")));
    }
    let imported_marker = scratch.join(format!("imported-{customers}"));
    let reuse = kept.is_some() && imported_marker.exists();
    if !reuse {
        for suffix in ["", "-wal", "-shm"] {
            let _ = std::fs::remove_file(scratch.join(format!("profile.db{suffix}")));
        }
    }

    let profile_store = match std::env::var("PATRON_ASSIGN_BENCH_PROFILE_DB") {
        Ok(url) => DatabaseConfig { url: SecretString::from(url), ..DatabaseConfig::default() },
        Err(_) => database(&scratch.join("profile.db")),
    };
    let store_name = if profile_store.url().starts_with("postgres") { "PostgreSQL" } else { "SQLite" };
    let profile = patron_profile::Application::build(patron_profile::Config {
        server: ServerConfig::default(),
        database: profile_store,
        telemetry: Default::default(),
        profile: Default::default(),
    })
    .await?;
    let profile_addr = profile.local_addr();
    tokio::spawn(profile.run_until_stopped(std::future::pending()));
    let segmentation = patron_segmentation::Application::build(patron_segmentation::Config {
        server: ServerConfig { request_timeout_ms: Duration::from_secs(600), ..ServerConfig::default() },
        database: database(&scratch.join("segmentation.db")),
        telemetry: Default::default(),
        peers: PeersConfig { profile: format!("http://{profile_addr}"), ..PeersConfig::default() },
        segmentation: Default::default(),
    })
    .await?;
    let addr = segmentation.local_addr();
    tokio::spawn(segmentation.run_until_stopped(std::future::pending()));
    let profile_channel = Channel::from_shared(format!("http://{profile_addr}"))?.connect_lazy();
    let channel = Channel::from_shared(format!("http://{addr}"))?.connect_lazy();
    wait_until_serving(profile_channel.clone()).await;
    wait_until_serving(channel.clone()).await;

    println!(
        "segmentation service benchmark: {customers} customers, profile store {store_name}, in-process profile service"
    );
    if !reuse {
        import_orders(profile_channel.clone(), customers).await?;
        if kept.is_some() {
            std::fs::write(&imported_marker, b"")?;
        }
    }
    let assign = measure(channel, profile_addr, customers).await;
    if kept.is_none() {
        let _ = std::fs::remove_dir_all(&scratch);
    }
    assign
}

async fn import_orders(profile_channel: Channel, customers: usize) -> anyhow::Result<()> {
    let started = Instant::now();
    let rows = orders(customers);
    let mut messages = vec![profile_pb::ImportRecordsRequest {
        payload: Some(profile_pb::import_records_request::Payload::Header(profile_pb::ImportHeader {
            request_id: String::new(),
            kind: profile_pb::ImportKind::Orders as i32,
            source: "assign-bench".into(),
        })),
    }];
    messages.extend(rows.chunks(5_000).enumerate().map(|(batch, chunk)| {
        profile_pb::ImportRecordsRequest {
            payload: Some(profile_pb::import_records_request::Payload::Batch(profile_pb::ImportBatch {
                rows: chunk
                    .iter()
                    .enumerate()
                    .map(|(index, order)| profile_pb::ImportRow {
                        line: (batch * 5_000 + index + 1) as i64,
                        record: Some(profile_pb::import_row::Record::Order(order.clone())),
                    })
                    .collect(),
            })),
        }
    }));
    let mut answers = ProfileServiceClient::new(profile_channel)
        .max_decoding_message_size(64 << 20)
        .import_records(tokio_stream::iter(messages))
        .await?
        .into_inner();
    while let Some(answer) = answers.next().await {
        answer?;
    }
    println!(
        "imported {} orders in {:.1} s (setup, not measured against a target)",
        rows.len(),
        started.elapsed().as_secs_f64()
    );
    Ok(())
}

async fn measure(channel: Channel, profile_addr: std::net::SocketAddr, customers: usize) -> anyhow::Result<()> {
    let mut client = SegmentationServiceClient::new(channel).max_decoding_message_size(64 << 20);
    let features: Vec<String> =
        ["recency_days", "orders", "monetary", "tenure_days", "average_order_value", "share_store"]
            .iter()
            .map(|name| (*name).to_owned())
            .collect();
    let training = Instant::now();
    let job = client
        .train_segmentation(pb::TrainSegmentationRequest {
            features: features.clone(),
            k_choice: Some(pb::train_segmentation_request::KChoice::K(6)),
            seed: Some(1),
            ..Default::default()
        })
        .await?
        .into_inner()
        .job
        .unwrap_or_default();
    let mut updates = client.watch_job(pb::WatchJobRequest { job_id: job.id }).await?.into_inner();
    let mut last = None;
    while let Some(update) = updates.next().await {
        last = update?.job;
    }
    let job = last.unwrap_or_default();
    anyhow::ensure!(job.state == JobState::Succeeded as i32, "training failed: {}", job.error);
    let training_time = training.elapsed();
    client
        .activate_model(pb::ActivateModelRequest { request_id: String::new(), model_id: job.model_version_id })
        .await?;

    // AssignCustomer from given values: the in-memory path.
    let mut latencies = Vec::with_capacity(ASSIGN_CALLS);
    for call in 0..ASSIGN_CALLS {
        let values = features
            .iter()
            .enumerate()
            .map(|(index, name)| (name.clone(), ((call * 7 + index * 13) % 97) as f64))
            .collect();
        let request = pb::AssignCustomerRequest {
            customer: Some(pb::assign_customer_request::Customer::Features(pb::CustomerFeatures { values })),
            ..Default::default()
        };
        let sent = Instant::now();
        client.assign_customer(request).await?;
        latencies.push(sent.elapsed());
    }
    latencies.sort();
    // AssignCustomer by id: one profile export lookup per call.
    let mut by_id = Vec::with_capacity(ASSIGN_CALLS / 4);
    for call in 0..ASSIGN_CALLS / 4 {
        let request = pb::AssignCustomerRequest {
            customer: Some(pb::assign_customer_request::Customer::CustomerId(format!(
                "c-{:07}",
                (call * 7919) % customers
            ))),
            ..Default::default()
        };
        let sent = Instant::now();
        client.assign_customer(request).await?;
        by_id.push(sent.elapsed());
    }
    by_id.sort();

    // The profile export alone, the floor under AssignAll's time.
    let exporting = Instant::now();
    let mut export = ProfileServiceClient::new(Channel::from_shared(format!("http://{profile_addr}"))?.connect_lazy())
        .max_decoding_message_size(64 << 20)
        .export_customer_features(profile_pb::ExportCustomerFeaturesRequest { batch_size: 5_000, ..Default::default() })
        .await?
        .into_inner();
    let mut exported = 0usize;
    while let Some(message) = export.next().await {
        exported += message?.rows.len();
    }
    let export_time = exporting.elapsed();

    let assigning = Instant::now();
    let mut stream =
        client.assign_all(pb::AssignAllRequest { request_id: String::new(), as_of: None }).await?.into_inner();
    let mut done = None;
    while let Some(message) = stream.next().await {
        done = Some(message?);
    }
    let assign_all = assigning.elapsed();
    let assigned = done.map(|message| message.customers_assigned).unwrap_or_default();

    println!();
    println!("| measurement                                  | value          |");
    println!("|----------------------------------------------|---------------:|");
    println!("| TrainSegmentation k = 6, n_init 10 (job)      | {:>11.2} s  |", training_time.as_secs_f64());
    println!(
        "| AssignCustomer (values) p50, {ASSIGN_CALLS} calls       | {:>11.3} ms |",
        percentile(&latencies, 0.5).as_secs_f64() * 1e3
    );
    println!(
        "| AssignCustomer (values) p99                   | {:>11.3} ms |",
        percentile(&latencies, 0.99).as_secs_f64() * 1e3
    );
    println!(
        "| AssignCustomer (customer_id) p50, {} calls   | {:>11.3} ms |",
        by_id.len(),
        percentile(&by_id, 0.5).as_secs_f64() * 1e3
    );
    println!(
        "| AssignCustomer (customer_id) p99              | {:>11.3} ms |",
        percentile(&by_id, 0.99).as_secs_f64() * 1e3
    );
    println!("| profile export alone ({exported} rows)         | {:>11.2} s  |", export_time.as_secs_f64());
    println!("| AssignAll customers                           | {assigned:>14} |");
    println!("| AssignAll time                                | {:>11.2} s  |", assign_all.as_secs_f64());
    println!(
        "| AssignAll throughput                          | {:>9.0} /s   |",
        assigned as f64 / assign_all.as_secs_f64()
    );
    Ok(())
}
