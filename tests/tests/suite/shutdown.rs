//! Graceful shutdown: SIGTERM reaches the profile service while a burst of
//! imports is in flight. Every in-flight import completes with all its rows,
//! new calls are refused, and the process exits within its drain bound
//! (`PATRON_SERVER__DRAIN_TIMEOUT_MS`) even when one caller never finishes.

use std::time::{Duration, Instant};

use patron_proto::profile::v1 as pb;
use patron_proto::profile::v1::profile_service_client::ProfileServiceClient;
use patron_tests::bench_profile::Workload;
use patron_tests::free_port_base;
use sea_orm::{ConnectionTrait, Database, DbBackend, Statement};
use tokio::sync::mpsc;
use tokio_stream::StreamExt;
use tokio_stream::wrappers::ReceiverStream;
use tonic::Code;
use tonic_health::pb::health_check_response::ServingStatus;

use crate::service_process::ServiceProcess;

const DRAIN_BOUND: Duration = Duration::from_millis(4_000);
const IMPORTS: usize = 8;
const BATCHES: usize = 5;
const ROWS_PER_BATCH: usize = 200;

/// Batch `batch` of import `import`: order rows with ids of their own.
fn batch(import: usize, batch: usize) -> pb::ImportRecordsRequest {
    let workload = Workload { order_lines: BATCHES * ROWS_PER_BATCH, customers: 50, lines_per_order: 2 };
    let rows = (batch * ROWS_PER_BATCH..(batch + 1) * ROWS_PER_BATCH)
        .map(|index| {
            let mut row = workload.row(index);
            row.order_id = format!("drain-{import}-{}", row.order_id);
            pb::ImportRow { line: index as i64 + 2, record: Some(pb::import_row::Record::Order(row)) }
        })
        .collect();
    pb::ImportRecordsRequest { payload: Some(pb::import_records_request::Payload::Batch(pb::ImportBatch { rows })) }
}

fn header(import: usize) -> pb::ImportRecordsRequest {
    pb::ImportRecordsRequest {
        payload: Some(pb::import_records_request::Payload::Header(pb::ImportHeader {
            request_id: format!("drain-{import}"),
            kind: pb::ImportKind::Orders as i32,
            source: "shutdown test".into(),
        })),
    }
}

/// An import whose first batch the server has committed: the call is in flight.
struct InFlightImport {
    sender: mpsc::Sender<pb::ImportRecordsRequest>,
    answers: tonic::Streaming<pb::ImportRecordsResponse>,
}

async fn begin_import(profile: &ServiceProcess, import: usize) -> InFlightImport {
    let (sender, receiver) = mpsc::channel(BATCHES + 1);
    sender.send(header(import)).await.expect("queued");
    sender.send(batch(import, 0)).await.expect("queued");
    let mut client = ProfileServiceClient::new(profile.client_channel());
    let mut answers = client.import_records(ReceiverStream::new(receiver)).await.expect("import starts").into_inner();
    let first = answers.next().await.expect("an answer").expect("first batch committed");
    assert_eq!(first.progress.expect("progress").batches_committed, 1);
    InFlightImport { sender, answers }
}

/// Sends the remaining batches, closes the stream and reads to the end; returns the rows written.
async fn finish_import(import: usize, mut in_flight: InFlightImport) -> Result<i64, tonic::Status> {
    for index in 1..BATCHES {
        in_flight.sender.send(batch(import, index)).await.map_err(|_| tonic::Status::cancelled("stream closed"))?;
    }
    drop(in_flight.sender);
    let mut last = None;
    while let Some(answer) = in_flight.answers.next().await {
        last = answer?.progress;
    }
    let progress = last.ok_or_else(|| tonic::Status::internal("no progress"))?;
    assert!(progress.done, "the import finished: {progress:?}");
    Ok(progress.rows_written + progress.rows_unchanged)
}

#[tokio::test(flavor = "multi_thread")]
async fn sigterm_completes_in_flight_calls_refuses_new_ones_and_exits_within_the_drain_bound() {
    let _shared = crate::alone::shared().await; // the overload test runs alone
    let port = free_port_base();
    let dir = std::env::temp_dir().join(format!("patron-shutdown-{}-{port}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("temp dir");
    let database = dir.join("profile.db");
    let url = format!("sqlite://{}?mode=rwc", database.display());
    let mut profile = ServiceProcess::spawn(
        "profile",
        port,
        "shutdown-internal-token",
        &[
            ("PATRON_DATABASE__URL", url.clone()),
            ("PATRON_SERVER__DRAIN_TIMEOUT_MS", DRAIN_BOUND.as_millis().to_string()),
        ],
        &dir.join("profile.log"),
    );
    profile.wait_for(ServingStatus::Serving, Duration::from_secs(60)).await;

    let mut in_flight = Vec::new();
    for import in 0..IMPORTS {
        in_flight.push(begin_import(&profile, import).await);
    }
    // One more caller that will never finish its stream: it must not hold the process past the bound.
    let stalled = begin_import(&profile, IMPORTS).await;

    nix::sys::signal::kill(profile.pid(), nix::sys::signal::Signal::SIGTERM).expect("SIGTERM");
    let signalled = Instant::now();
    let finishing: Vec<_> = in_flight
        .into_iter()
        .enumerate()
        .map(|(import, in_flight)| tokio::spawn(finish_import(import, in_flight)))
        .collect();

    // New calls, on a new connection, are refused while the old ones drain.
    tokio::time::sleep(Duration::from_millis(200)).await;
    let started = Instant::now();
    let refused = ProfileServiceClient::new(profile.client_channel())
        .get_customer(pb::GetCustomerRequest { customer_id: "c-1".into() })
        .await
        .expect_err("a new call after SIGTERM is refused");
    assert_eq!(refused.code(), Code::Unavailable, "{refused:?}");
    assert!(started.elapsed() < Duration::from_secs(2), "refused at once: {:?}", started.elapsed());

    let mut rows = 0;
    for task in finishing {
        rows += task.await.expect("import task").expect("an in-flight import completes during the drain");
    }
    let drained_in = signalled.elapsed();
    let status = tokio::time::timeout(DRAIN_BOUND + Duration::from_secs(3), profile.child.wait())
        .await
        .expect("the process exits within its drain bound")
        .expect("exit status");
    let exited_in = signalled.elapsed();
    drop(stalled);
    println!(
        "shutdown: {IMPORTS} in-flight imports finished {drained_in:?} after SIGTERM ({rows} rows); \
         exit {status} after {exited_in:?} (drain bound {DRAIN_BOUND:?}, one stream left open)"
    );
    assert!(status.success(), "a drained shutdown exits 0: {status}");
    assert!(exited_in <= DRAIN_BOUND + Duration::from_secs(2), "exit {exited_in:?} after SIGTERM");
    assert_eq!(rows as usize, IMPORTS * BATCHES * ROWS_PER_BATCH, "every row of every in-flight import landed");

    // The store holds every completed import whole, and the stalled one's committed batch.
    let db = Database::connect(&url).await.expect("open the store");
    let row = db
        .query_one_raw(Statement::from_string(DbBackend::Sqlite, "SELECT COUNT(*) AS n FROM order_lines".to_owned()))
        .await
        .expect("count")
        .expect("a row");
    let lines: i64 = row.try_get("", "n").expect("count");
    assert_eq!(lines as usize, (IMPORTS + 1) * BATCHES * ROWS_PER_BATCH - (BATCHES - 1) * ROWS_PER_BATCH);
    let logs = profile.log_text();
    assert!(logs.contains("shutdown requested"), "the log shows the drain: {logs}");
    drop(db);
    let _ = std::fs::remove_dir_all(&dir);
}
