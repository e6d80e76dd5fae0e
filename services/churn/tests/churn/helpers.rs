//! Spawns the profile and churn services in-process on port 0, each with a
//! fresh database on the chosen store (a new SQLite file, or a new
//! PostgreSQL database on the local server), the churn service pointed at
//! that profile service.
#![allow(dead_code)] // each test module uses a different subset

use std::time::Duration;

use patron_common::config::{PeersConfig, ServerConfig};
use patron_common::testing::database_config;
pub use patron_common::testing::{Store, fresh_database, remove_database};
use patron_proto::churn::v1 as pb;
use patron_proto::churn::v1::churn_service_client::ChurnServiceClient;
use patron_proto::common::v1::{Job, JobState};
use patron_proto::profile::v1::profile_service_client::ProfileServiceClient;
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

/// The two services of a test.
pub struct TestApp {
    pub profile: ProfileServiceClient<Channel>,
    pub churn: ChurnServiceClient<Channel>,
    channels: Vec<Channel>,
    running: Vec<Running>,
}

pub async fn spawn_app(store: Store) -> TestApp {
    // Service logs for a failing test: RUST_LOG=warn cargo test ...
    let _ = tracing_subscriber::fmt().with_env_filter(tracing_subscriber::EnvFilter::from_default_env()).try_init();
    let profile_url = fresh_database(store, "patron_churn_profile").await;
    let config = patron_profile::Config {
        server: server(),
        database: database_config(&profile_url),
        telemetry: Default::default(),
        profile: Default::default(),
    };
    let profile_app = patron_profile::Application::build(config).await.expect("profile builds");
    let profile_addr = profile_app.local_addr();
    let (profile_stop, stop) = oneshot::channel::<()>();
    let profile_task = tokio::spawn(profile_app.run_until_stopped(async {
        let _ = stop.await;
    }));

    let churn_url = fresh_database(store, "patron_churn").await;
    let config = patron_churn::Config {
        server: server(),
        database: database_config(&churn_url),
        telemetry: Default::default(),
        peers: PeersConfig {
            profile: format!("http://{profile_addr}"),
            // Nothing listens there: segment filters fail UNAVAILABLE.
            segmentation: "http://127.0.0.1:9".to_owned(),
            ..PeersConfig::default()
        },
        churn: patron_churn::config::ChurnSettings { model_poll_ms: Duration::from_millis(200), ..Default::default() },
    };
    let churn_app = patron_churn::Application::build(config).await.expect("churn builds");
    let churn_addr = churn_app.local_addr();
    let (churn_stop, stop) = oneshot::channel::<()>();
    let churn_task = tokio::spawn(churn_app.run_until_stopped(async {
        let _ = stop.await;
    }));

    let channel = |addr| Channel::from_shared(format!("http://{addr}")).expect("valid uri").connect_lazy();
    let (profile_channel, churn_channel) = (channel(profile_addr), channel(churn_addr));
    let app = TestApp {
        profile: ProfileServiceClient::new(profile_channel.clone()).max_decoding_message_size(64 << 20),
        churn: ChurnServiceClient::new(churn_channel.clone()).max_decoding_message_size(64 << 20),
        channels: vec![profile_channel, churn_channel],
        running: vec![
            Running { shutdown: churn_stop, task: churn_task, database_url: churn_url },
            Running { shutdown: profile_stop, task: profile_task, database_url: profile_url },
        ],
    };
    app.wait_until_serving().await;
    app
}

impl TestApp {
    /// Waits until both services report SERVING (their databases migrated).
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
