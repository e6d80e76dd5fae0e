//! Spawns the profile service in-process on port 0 with a fresh database:
//! a new SQLite file, or a new PostgreSQL database on the local server.

use std::time::{Duration, Instant};

use patron_common::config::{DatabaseConfig, ServerConfig};
pub use patron_common::testing::{Store, fresh_database, remove_database};
use patron_proto::profile::v1::profile_service_client::ProfileServiceClient;
use secrecy::SecretString;
use tokio::sync::oneshot;
use tonic::transport::Channel;
use tonic_health::pb::HealthCheckRequest;
use tonic_health::pb::health_check_response::ServingStatus;
use tonic_health::pb::health_client::HealthClient;

pub struct TestApp {
    pub addr: std::net::SocketAddr,
    pub database_url: String,
    pub client: ProfileServiceClient<Channel>,
    pub health: HealthClient<Channel>,
    shutdown: Option<oneshot::Sender<()>>,
    task: Option<tokio::task::JoinHandle<anyhow::Result<()>>>,
}

pub struct AppOptions {
    pub database_url: String,
    pub max_message_bytes: usize,
    pub max_concurrent_calls: usize,
}

impl AppOptions {
    pub async fn on(store: Store) -> Self {
        Self {
            database_url: patron_common::testing::fresh_database(store, "patron_profile").await,
            max_message_bytes: 4 * 1024 * 1024,
            max_concurrent_calls: 64,
        }
    }
}

pub async fn spawn_app(store: Store) -> TestApp {
    spawn_with(AppOptions::on(store).await).await
}

pub async fn spawn_with(options: AppOptions) -> TestApp {
    let config = patron_profile::Config {
        server: ServerConfig {
            max_message_bytes: options.max_message_bytes,
            max_concurrent_calls: options.max_concurrent_calls,
            drain_timeout_ms: Duration::from_secs(5),
            ..ServerConfig::default()
        },
        database: DatabaseConfig {
            url: SecretString::from(options.database_url.clone()),
            acquire_timeout_ms: Duration::from_millis(1500),
            health_interval_ms: Duration::from_millis(100),
            ..DatabaseConfig::default()
        },
        telemetry: Default::default(),
        profile: Default::default(),
    };
    let application = patron_profile::Application::build(config).await.expect("service builds");
    let addr = application.local_addr();
    let (shutdown, stop) = oneshot::channel::<()>();
    let task = tokio::spawn(application.run_until_stopped(async {
        let _ = stop.await;
    }));
    let channel = Channel::from_shared(format!("http://{addr}")).expect("valid uri").connect_lazy();
    let app = TestApp {
        addr,
        database_url: options.database_url,
        client: ProfileServiceClient::new(channel.clone()).max_decoding_message_size(64 * 1024 * 1024),
        health: HealthClient::new(channel),
        shutdown: Some(shutdown),
        task: Some(task),
    };
    app.wait_for_health(ServingStatus::Serving, Duration::from_secs(20)).await;
    app
}

impl TestApp {
    pub async fn health_status(&self) -> Option<ServingStatus> {
        let mut health = self.health.clone();
        let response = health.check(HealthCheckRequest { service: String::new() }).await.ok()?;
        ServingStatus::try_from(response.into_inner().status).ok()
    }

    /// Waits until health reports `wanted`; panics after `limit`.
    pub async fn wait_for_health(&self, wanted: ServingStatus, limit: Duration) -> Duration {
        let started = Instant::now();
        loop {
            if self.health_status().await == Some(wanted) {
                return started.elapsed();
            }
            assert!(started.elapsed() < limit, "health did not become {wanted:?} within {limit:?}");
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }

    /// Signals shutdown (as SIGTERM would), waits for the server to stop, and
    /// removes the test's database.
    pub async fn stop(mut self) -> anyhow::Result<()> {
        if let Some(shutdown) = self.shutdown.take() {
            let _ = shutdown.send(());
        }
        let stopped = match self.task.take() {
            Some(task) => task.await?,
            None => Ok(()),
        };
        remove_database(&self.database_url).await;
        stopped
    }

    pub fn begin_shutdown(&mut self) -> tokio::task::JoinHandle<anyhow::Result<()>> {
        if let Some(shutdown) = self.shutdown.take() {
            let _ = shutdown.send(());
        }
        self.task.take().expect("server task is running")
    }
}

/// A TCP relay to PostgreSQL that a test can cut and restore, to play a
/// database that goes away and comes back.
pub struct DatabaseLink {
    pub port: u16,
    open: tokio::sync::watch::Sender<bool>,
}

impl DatabaseLink {
    pub async fn start(target: std::net::SocketAddr) -> Self {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind relay");
        let port = listener.local_addr().expect("relay address").port();
        let (open, watch) = tokio::sync::watch::channel(true);
        tokio::spawn(async move {
            loop {
                let Ok((mut inbound, _)) = listener.accept().await else { continue };
                if !*watch.borrow() {
                    drop(inbound);
                    continue;
                }
                let mut watch = watch.clone();
                tokio::spawn(async move {
                    let Ok(mut outbound) = tokio::net::TcpStream::connect(target).await else { return };
                    tokio::select! {
                        _ = tokio::io::copy_bidirectional(&mut inbound, &mut outbound) => {}
                        _ = watch.wait_for(|open| !*open) => {}
                    }
                });
            }
        });
        Self { port, open }
    }

    pub fn cut(&self) {
        let _ = self.open.send(false);
    }

    pub fn restore(&self) {
        let _ = self.open.send(true);
    }
}

/// An instant `seconds` after the Unix epoch, as the API takes it.
pub fn at(seconds: i64) -> Option<prost_types::Timestamp> {
    Some(prost_types::Timestamp { seconds, nanos: 0 })
}

/// A UTC date and hour, as the API takes it.
pub fn utc(year: i32, month: u32, day: u32, hour: u32) -> Option<prost_types::Timestamp> {
    let at = chrono::NaiveDate::from_ymd_opt(year, month, day).and_then(|date| date.and_hms_opt(hour, 0, 0))?;
    Some(prost_types::Timestamp { seconds: at.and_utc().timestamp(), nanos: 0 })
}
