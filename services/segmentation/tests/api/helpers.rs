//! Spawns the profile and segmentation services in-process on port 0, each
//! with a fresh database on the store under test, and seeds the profile
//! service with customers of known behaviour through its import RPC.

use std::time::Duration;

use patron_common::config::{PeersConfig, ServerConfig};
use patron_common::testing::database_config;
pub use patron_common::testing::{Store, fresh_database, remove_database};
use patron_proto::profile::v1 as profile_pb;
use patron_proto::profile::v1::profile_service_client::ProfileServiceClient;
use patron_proto::segmentation::v1 as pb;
use patron_proto::segmentation::v1::segmentation_service_client::SegmentationServiceClient;
use prost_types::Timestamp;
use tokio::sync::oneshot;
use tokio_stream::StreamExt;
use tonic::transport::Channel;

struct Running {
    shutdown: oneshot::Sender<()>,
    task: tokio::task::JoinHandle<anyhow::Result<()>>,
    database_url: String,
}

pub struct TestApp {
    pub client: SegmentationServiceClient<Channel>,
    /// The segmentation service's channel, for calls without the typed client.
    pub channel: Channel,
    pub profile: ProfileServiceClient<Channel>,
    services: Vec<Running>,
}

pub async fn spawn_app(store: Store) -> TestApp {
    if std::env::var("PATRON_TEST_LOG").is_ok() {
        static TELEMETRY: std::sync::OnceLock<Option<patron_common::telemetry::TelemetryGuard>> =
            std::sync::OnceLock::new();
        TELEMETRY.get_or_init(|| patron_common::telemetry::init("segmentation-test", &Default::default()).ok());
    }
    let profile_url = fresh_database(store, "patron_seg_profile").await;
    let profile_config = patron_profile::Config {
        server: ServerConfig { drain_timeout_ms: Duration::from_secs(5), ..ServerConfig::default() },
        database: database_config(&profile_url),
        telemetry: Default::default(),
        profile: Default::default(),
    };
    let profile_app = patron_profile::Application::build(profile_config).await.expect("profile builds");
    let profile_addr = profile_app.local_addr();
    let (profile_stop, stopped) = oneshot::channel::<()>();
    let profile_task = tokio::spawn(profile_app.run_until_stopped(async {
        let _ = stopped.await;
    }));

    let segmentation_url = fresh_database(store, "patron_segmentation").await;
    let config = patron_segmentation::Config {
        server: ServerConfig { drain_timeout_ms: Duration::from_secs(5), ..ServerConfig::default() },
        database: database_config(&segmentation_url),
        telemetry: Default::default(),
        peers: PeersConfig { profile: format!("http://{profile_addr}"), ..PeersConfig::default() },
        segmentation: Default::default(),
    };
    let application = patron_segmentation::Application::build(config).await.expect("segmentation builds");
    let addr = application.local_addr();
    let (stop, stopped) = oneshot::channel::<()>();
    let task = tokio::spawn(application.run_until_stopped(async {
        let _ = stopped.await;
    }));

    let channel = Channel::from_shared(format!("http://{addr}")).expect("valid uri").connect_lazy();
    let profile_channel = Channel::from_shared(format!("http://{profile_addr}")).expect("valid uri").connect_lazy();
    // Migrations run when a service first reaches its database: wait until both serve.
    for channel in [&channel, &profile_channel] {
        wait_until_serving(channel.clone()).await;
    }
    TestApp {
        channel: channel.clone(),
        client: SegmentationServiceClient::new(channel).max_decoding_message_size(64 * 1024 * 1024),
        profile: ProfileServiceClient::new(profile_channel),
        services: vec![
            Running { shutdown: stop, task, database_url: segmentation_url },
            Running { shutdown: profile_stop, task: profile_task, database_url: profile_url },
        ],
    }
}

impl TestApp {
    pub async fn stop(self) {
        for service in self.services {
            let _ = service.shutdown.send(());
            let _ = service.task.await;
            remove_database(&service.database_url).await;
        }
    }

    /// Imports orders through the profile service's bulk import.
    pub async fn import_orders(&self, orders: Vec<profile_pb::OrderRow>) {
        let rows: Vec<profile_pb::ImportRow> = orders
            .into_iter()
            .enumerate()
            .map(|(index, order)| profile_pb::ImportRow {
                line: index as i64 + 1,
                record: Some(profile_pb::import_row::Record::Order(order)),
            })
            .collect();
        let mut messages = vec![profile_pb::ImportRecordsRequest {
            payload: Some(profile_pb::import_records_request::Payload::Header(profile_pb::ImportHeader {
                request_id: String::new(),
                kind: profile_pb::ImportKind::Orders as i32,
                source: "segmentation-test".into(),
            })),
        }];
        messages.extend(rows.chunks(500).map(|rows| profile_pb::ImportRecordsRequest {
            payload: Some(profile_pb::import_records_request::Payload::Batch(profile_pb::ImportBatch {
                rows: rows.to_vec(),
            })),
        }));
        let mut answers = self
            .profile
            .clone()
            .import_records(tokio_stream::iter(messages))
            .await
            .expect("import starts")
            .into_inner();
        while let Some(answer) = answers.next().await {
            let answer = answer.expect("import answers");
            assert!(answer.errors.is_empty(), "import errors: {:?}", answer.errors);
        }
    }

    /// Starts training and waits for the job's terminal state.
    pub async fn train(&self, request: pb::TrainSegmentationRequest) -> patron_proto::common::v1::Job {
        let job = self.client.clone().train_segmentation(request).await.expect("training starts").into_inner().job;
        let job_id = job.expect("a job").id;
        let mut stream =
            self.client.clone().watch_job(pb::WatchJobRequest { job_id }).await.expect("watch starts").into_inner();
        let mut last = None;
        while let Some(update) = stream.next().await {
            last = update.expect("watch answers").job;
        }
        // The terminal state reaches watchers before the registry's job writer
        // has stored it; on SQLite a write racing that store fails with
        // "database is locked" (a registry issue, reported). Let it land.
        tokio::time::sleep(Duration::from_millis(300)).await;
        last.expect("a terminal job state")
    }

    /// Runs AssignAll to the end and returns every message.
    pub async fn assign_all(&self, request_id: &str) -> Result<Vec<pb::AssignAllResponse>, tonic::Status> {
        let mut stream = self
            .client
            .clone()
            .assign_all(pb::AssignAllRequest { request_id: request_id.to_owned(), as_of: None })
            .await?
            .into_inner();
        let mut messages = Vec::new();
        while let Some(message) = stream.next().await {
            messages.push(message?);
        }
        Ok(messages)
    }
}

async fn wait_until_serving(channel: Channel) {
    use tonic_health::pb::health_check_response::ServingStatus;
    let mut health = tonic_health::pb::health_client::HealthClient::new(channel);
    let started = std::time::Instant::now();
    loop {
        let status = health
            .check(tonic_health::pb::HealthCheckRequest { service: String::new() })
            .await
            .ok()
            .map(|response| response.into_inner().status);
        if status == Some(ServingStatus::Serving as i32) {
            return;
        }
        assert!(started.elapsed() < Duration::from_secs(20), "service did not become SERVING");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

pub fn days_ago(days: f64) -> Timestamp {
    let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap_or_default().as_secs_f64();
    let at = now - days * 86_400.0;
    Timestamp { seconds: at.floor() as i64, nanos: 0 }
}

/// The field of the first BadRequest violation of an INVALID_ARGUMENT status.
pub fn violated_fields(status: &tonic::Status) -> Vec<String> {
    use tonic_types::StatusExt;
    status
        .get_details_bad_request()
        .map(|details| details.field_violations.into_iter().map(|violation| violation.field).collect())
        .unwrap_or_default()
}
