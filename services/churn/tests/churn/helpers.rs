//! Spawns the profile and churn services in-process on port 0, each with a
//! fresh database on the chosen store (a new SQLite file, or a new
//! PostgreSQL database on the local server), the churn service pointed at
//! that profile service — and, for tests that filter win-back lists by
//! segment, a segmentation service on the same profile.
#![allow(dead_code)] // each test module uses a different subset

use std::time::Duration;

use patron_common::config::{PeersConfig, ServerConfig};
use patron_common::testing::database_config;
pub use patron_common::testing::{Store, fresh_database, remove_database};
use patron_proto::churn::v1 as pb;
use patron_proto::churn::v1::churn_service_client::ChurnServiceClient;
use patron_proto::common::v1::{Job, JobState};
use patron_proto::profile::v1::profile_service_client::ProfileServiceClient;
use patron_proto::segmentation::v1 as segmentation_pb;
use patron_proto::segmentation::v1::segmentation_service_client::SegmentationServiceClient;
use tokio::sync::oneshot;
use tokio_stream::StreamExt;
use tonic::transport::Channel;

fn server() -> ServerConfig {
    ServerConfig { drain_timeout_ms: Duration::from_secs(5), ..ServerConfig::default() }
}

struct Running {
    shutdown: oneshot::Sender<()>,
    task: tokio::task::JoinHandle<anyhow::Result<()>>,
    database_url: String,
}

/// The services of a test.
pub struct TestApp {
    pub profile: ProfileServiceClient<Channel>,
    pub churn: ChurnServiceClient<Channel>,
    /// Present when spawned by [`spawn_app_with_segmentation`].
    pub segmentation: Option<SegmentationServiceClient<Channel>>,
    channels: Vec<Channel>,
    running: Vec<Running>,
}

/// Profile and churn; the churn service's segmentation peer is an address
/// where nothing listens, so segment filters fail UNAVAILABLE.
pub async fn spawn_app(store: Store) -> TestApp {
    spawn(store, false).await
}

/// Profile, segmentation (on that profile) and churn (on both).
pub async fn spawn_app_with_segmentation(store: Store) -> TestApp {
    spawn(store, true).await
}

/// Serves a built application on a spawned task until told to stop.
macro_rules! serve {
    ($application:expr, $database_url:expr) => {{
        let application = $application;
        let addr = application.local_addr();
        let (shutdown, stop) = oneshot::channel::<()>();
        let task = tokio::spawn(application.run_until_stopped(async {
            let _ = stop.await;
        }));
        (addr, Running { shutdown, task, database_url: $database_url })
    }};
}

async fn spawn(store: Store, with_segmentation: bool) -> TestApp {
    // Service logs for a failing test: RUST_LOG=warn cargo test ...
    let _ = tracing_subscriber::fmt().with_env_filter(tracing_subscriber::EnvFilter::from_default_env()).try_init();
    let mut running = Vec::new();
    let profile_url = fresh_database(store, "patron_churn_profile").await;
    let config = patron_profile::Config {
        server: server(),
        database: database_config(&profile_url),
        telemetry: Default::default(),
        profile: Default::default(),
    };
    let (profile_addr, profile) =
        serve!(patron_profile::Application::build(config).await.expect("profile builds"), profile_url);

    let segmentation_addr = if with_segmentation {
        let segmentation_url = fresh_database(store, "patron_churn_segmentation").await;
        let config = patron_segmentation::Config {
            server: server(),
            database: database_config(&segmentation_url),
            telemetry: Default::default(),
            peers: PeersConfig { profile: format!("http://{profile_addr}"), ..PeersConfig::default() },
            segmentation: Default::default(),
        };
        let (addr, segmentation) = serve!(
            patron_segmentation::Application::build(config).await.expect("segmentation builds"),
            segmentation_url
        );
        running.push(segmentation);
        Some(addr)
    } else {
        None
    };

    let churn_url = fresh_database(store, "patron_churn").await;
    let config = patron_churn::Config {
        server: server(),
        database: database_config(&churn_url),
        telemetry: Default::default(),
        peers: PeersConfig {
            profile: format!("http://{profile_addr}"),
            // Without a segmentation service nothing listens there: segment filters fail UNAVAILABLE.
            segmentation: segmentation_addr
                .map_or_else(|| "http://127.0.0.1:9".to_owned(), |addr| format!("http://{addr}")),
            ..PeersConfig::default()
        },
        churn: patron_churn::config::ChurnSettings { model_poll_ms: Duration::from_millis(200), ..Default::default() },
    };
    let (churn_addr, churn) = serve!(patron_churn::Application::build(config).await.expect("churn builds"), churn_url);
    // Stopped in this order: churn first, profile last.
    running.insert(0, churn);
    running.push(profile);

    let channel = |addr| Channel::from_shared(format!("http://{addr}")).expect("valid uri").connect_lazy();
    let (profile_channel, churn_channel) = (channel(profile_addr), channel(churn_addr));
    let mut channels = vec![profile_channel.clone(), churn_channel.clone()];
    let segmentation = segmentation_addr.map(|addr| {
        let segmentation_channel = channel(addr);
        channels.push(segmentation_channel.clone());
        SegmentationServiceClient::new(segmentation_channel).max_decoding_message_size(64 << 20)
    });
    let app = TestApp {
        profile: ProfileServiceClient::new(profile_channel).max_decoding_message_size(64 << 20),
        churn: ChurnServiceClient::new(churn_channel).max_decoding_message_size(64 << 20),
        segmentation,
        channels,
        running,
    };
    app.wait_until_serving().await;
    app
}

impl TestApp {
    /// Waits until every service reports SERVING (their databases migrated).
    async fn wait_until_serving(&self) {
        use tonic_health::pb::HealthCheckRequest;
        use tonic_health::pb::health_check_response::ServingStatus;
        let started = std::time::Instant::now();
        for channel in &self.channels {
            let mut health = tonic_health::pb::health_client::HealthClient::new(channel.clone());
            loop {
                let status = health.check(HealthCheckRequest { service: String::new() }).await;
                if status.is_ok_and(|s| s.into_inner().status == ServingStatus::Serving as i32) {
                    break;
                }
                assert!(started.elapsed() < Duration::from_secs(20), "a service did not become SERVING");
                tokio::time::sleep(Duration::from_millis(20)).await;
            }
        }
    }

    /// The churn service's channel, for calls without the typed client.
    pub fn churn_channel(&self) -> Channel {
        self.channels[1].clone()
    }

    pub async fn stop(self) {
        for running in self.running {
            let _ = running.shutdown.send(());
            let _ = running.task.await;
            remove_database(&running.database_url).await;
        }
    }

    /// Starts training and follows the job to its end.
    pub async fn train(&mut self, request: pb::TrainChurnModelRequest) -> Result<Job, tonic::Status> {
        let job = self.churn.train_churn_model(request).await?.into_inner().job.expect("job");
        Ok(self.finish(&job.id).await)
    }

    /// Follows a job with WatchJob; returns its terminal state.
    pub async fn finish(&mut self, job_id: &str) -> Job {
        let mut stream = self
            .churn
            .watch_job(pb::WatchJobRequest { job_id: job_id.to_owned() })
            .await
            .expect("watch job")
            .into_inner();
        let mut last = None;
        let deadline = tokio::time::Instant::now() + Duration::from_secs(300);
        while let Ok(Some(update)) = tokio::time::timeout_at(deadline, stream.next()).await {
            last = update.expect("job update").job;
        }
        let job = last.expect("at least one job state");
        assert!(
            job.state == JobState::Succeeded as i32 || job.state == JobState::Failed as i32,
            "job did not end: {job:?}"
        );
        job
    }

    /// Trains with defaults (weekly, 90-day window) and activates the version.
    pub async fn train_and_activate(&mut self, request_id: &str) -> String {
        let job = self
            .train(pb::TrainChurnModelRequest { request_id: request_id.to_owned(), ..Default::default() })
            .await
            .expect("training starts");
        assert_eq!(job.state, JobState::Succeeded as i32, "{job:?}");
        let model_id = job.model_version_id.clone();
        self.churn
            .activate_model(pb::ActivateModelRequest {
                request_id: format!("{request_id}-activate"),
                model_id: model_id.clone(),
            })
            .await
            .expect("activate");
        model_id
    }

    /// Trains a segmentation model (k = 4, on recency, frequency and
    /// monetary value: the demo data's other features may be constant) on
    /// the profile's customers and activates it; panics without a
    /// segmentation service.
    pub async fn train_and_activate_segments(&mut self, request_id: &str) -> String {
        let mut client = self.segmentation.clone().expect("spawned with a segmentation service");
        let request = segmentation_pb::TrainSegmentationRequest {
            request_id: request_id.to_owned(),
            features: ["recency_days", "orders", "monetary"].map(str::to_owned).to_vec(),
            k_choice: Some(segmentation_pb::train_segmentation_request::KChoice::K(4)),
            seed: Some(7),
            ..Default::default()
        };
        let job = client.train_segmentation(request).await.expect("segmentation training starts").into_inner();
        let job_id = job.job.expect("a job").id;
        let mut updates =
            client.watch_job(segmentation_pb::WatchJobRequest { job_id }).await.expect("watch starts").into_inner();
        let mut last = None;
        while let Some(update) = updates.next().await {
            last = update.expect("watch answers").job;
        }
        let job = last.expect("a terminal job state");
        assert_eq!(job.state, JobState::Succeeded as i32, "{job:?}");
        client
            .activate_model(segmentation_pb::ActivateModelRequest {
                request_id: format!("{request_id}-activate"),
                model_id: job.model_version_id.clone(),
            })
            .await
            .expect("segmentation model activates");
        job.model_version_id
    }
}

/// The field names of an INVALID_ARGUMENT's BadRequest.
pub fn violated_fields(status: &tonic::Status) -> Vec<String> {
    use tonic_types::StatusExt;
    assert_eq!(status.code(), tonic::Code::InvalidArgument, "{status:?}");
    status
        .get_details_bad_request()
        .map(|bad| bad.field_violations.into_iter().map(|v| v.field).collect())
        .unwrap_or_default()
}
