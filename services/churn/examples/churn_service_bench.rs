//! The churn service on demo-like data, in-process over loopback gRPC with
//! the profile service (SQLite): classifier training time and holdout AUC,
//! ScoreCustomer latency (p50/p99) and ScoreAll throughput.
//!
//! cargo run --release -p patron-churn --example churn_service_bench -- [CUSTOMERS] [CALLS]

#[path = "../tests/churn/demo.rs"]
mod demo;
#[path = "../tests/churn/helpers.rs"]
mod helpers;

use std::time::{Duration, Instant};

use patron_proto::churn::v1 as pb;
use tokio_stream::StreamExt;

fn percentile(sorted: &[Duration], q: f64) -> Duration {
    let index = ((sorted.len() as f64 - 1.0) * q).round() as usize;
    sorted[index.min(sorted.len() - 1)]
}

#[tokio::main]
async fn main() {
    let args: Vec<usize> = std::env::args().skip(1).filter_map(|a| a.replace('_', "").parse().ok()).collect();
    let customers = args.first().copied().unwrap_or(5_000);
    let calls = args.get(1).copied().unwrap_or(2_000);
    let mut app = helpers::spawn_app(helpers::Store::Sqlite).await;

    let started = Instant::now();
    let demo = demo::seed(&mut app.profile, customers, 1).await;
    let seeding = started.elapsed();

    let started = Instant::now();
    let job = app
        .train(pb::TrainChurnModelRequest { request_id: "bench-train".into(), ..Default::default() })
        .await
        .expect("training starts");
    let training = started.elapsed();
    assert!(job.error.is_empty(), "training failed: {}", job.error);
    let model_id = job.model_version_id.clone();
    let model = app
        .churn
        .get_model(pb::GetModelRequest { model_id: model_id.clone() })
        .await
        .expect("model")
        .into_inner()
        .model
        .expect("model");
    let metric = |name: &str| model.metrics.get(name).copied().unwrap_or(f64::NAN);
    app.churn
        .activate_model(pb::ActivateModelRequest { request_id: "bench-activate".into(), model_id })
        .await
        .expect("activate");

    // ScoreCustomer, sequentially on loopback, after a warm-up.
    let mut latencies = Vec::with_capacity(calls);
    for i in 0..calls + 100 {
        let customer_id = demo.buyers[(i * 7919) % demo.buyers.len()].clone();
        let start = Instant::now();
        app.churn
            .score_customer(pb::ScoreCustomerRequest { customer_id, model_id: String::new() })
            .await
            .expect("score customer");
        if i >= 100 {
            latencies.push(start.elapsed());
        }
    }
    latencies.sort();

    let started = Instant::now();
    let mut stream = app
        .churn
        .score_all(pb::ScoreAllRequest { request_id: "bench-all".into() })
        .await
        .expect("score all")
        .into_inner();
    let mut last = None;
    while let Some(update) = stream.next().await {
        last = Some(update.expect("progress"));
    }
    let score_all = started.elapsed();
    let scored = last.map_or(0, |l| l.scored_count);

    println!();
    println!(
        "churn service on {customers} demo customers (in-process, loopback gRPC, SQLite; {} buyers)",
        demo.buyers.len()
    );
    println!("| measure | value |");
    println!("| --- | --- |");
    println!("| demo load through the profile import | {:.2} s |", seeding.as_secs_f64());
    println!(
        "| TrainChurnModel job (4 exports, BG/NBD, Gamma-Gamma, classifier, holdout) | {:.2} s |",
        training.as_secs_f64()
    );
    println!(
        "| holdout ROC AUC / PR AUC / Brier / top-decile lift | {:.3} / {:.3} / {:.3} / {:.2} |",
        metric("roc_auc"),
        metric("pr_auc"),
        metric("brier"),
        metric("top_decile_lift")
    );
    println!(
        "| ScoreCustomer p50 / p99 ({calls} sequential calls) | {:.2} ms / {:.2} ms |",
        percentile(&latencies, 0.5).as_secs_f64() * 1e3,
        percentile(&latencies, 0.99).as_secs_f64() * 1e3
    );
    println!(
        "| ScoreAll ({scored} customers, export + score + store) | {:.2} s, {:.0} customers/s |",
        score_all.as_secs_f64(),
        scored as f64 / score_all.as_secs_f64()
    );
    app.stop().await;
}
