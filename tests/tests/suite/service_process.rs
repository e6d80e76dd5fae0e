//! One Patron service binary as a child process with its own environment,
//! its log captured to a file, and health polled over gRPC: what the fault
//! and shutdown tests need to watch a single service from outside.

use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::{Duration, Instant};

use patron_tests::{Credential, binaries_dir};
use tokio::process::{Child, Command};
use tonic::service::interceptor::InterceptedService;
use tonic::transport::Channel;
use tonic_health::pb::HealthCheckRequest;
use tonic_health::pb::health_check_response::ServingStatus;
use tonic_health::pb::health_client::HealthClient;

pub struct ServiceProcess {
    pub child: Child,
    pub port: u16,
    pub log: PathBuf,
    internal_token: String,
}

impl ServiceProcess {
    /// Starts `patron-<name>` on `port` with `env` (plus the listen address
    /// and an internal token), writing its stdout and stderr to `log`.
    pub fn spawn(name: &str, port: u16, internal_token: &str, env: &[(&str, String)], log: &Path) -> Self {
        let file = std::fs::File::create(log).expect("log file");
        let mut command = Command::new(binaries_dir().join(format!("patron-{name}")));
        command
            .env("PATRON_SERVER__LISTEN_ADDR", format!("127.0.0.1:{port}"))
            .env("PATRON_SERVER__INTERNAL_TOKEN", internal_token)
            .env("PATRON_TELEMETRY__LOG_FILTER", "info")
            .envs(env.iter().map(|(key, value)| (*key, value.as_str())))
            .stdin(Stdio::null())
            .stdout(file.try_clone().expect("log handle"))
            .stderr(file)
            .kill_on_drop(true);
        let child = command.spawn().expect("service binaries are built (cargo build --workspace --bins)");
        Self { child, port, log: log.to_path_buf(), internal_token: internal_token.to_owned() }
    }

    /// A channel presenting the internal token, as the gateway would.
    pub fn client_channel(&self) -> InterceptedService<Channel, Credential> {
        let channel = Channel::from_shared(format!("http://127.0.0.1:{}", self.port))
            .expect("uri")
            .connect_timeout(Duration::from_secs(1))
            .connect_lazy();
        InterceptedService::new(channel, Credential::internal(&self.internal_token))
    }

    /// The overall health status, or `None` when the process does not answer.
    pub async fn health(&self) -> Option<ServingStatus> {
        let channel = Channel::from_shared(format!("http://127.0.0.1:{}", self.port))
            .expect("uri")
            .connect_timeout(Duration::from_millis(500))
            .timeout(Duration::from_millis(500))
            .connect_lazy();
        let response = HealthClient::new(channel).check(HealthCheckRequest { service: String::new() }).await.ok()?;
        ServingStatus::try_from(response.into_inner().status).ok()
    }

    /// Polls health every 20 ms until it reports `wanted`; returns how long that took.
    pub async fn wait_for(&self, wanted: ServingStatus, limit: Duration) -> Duration {
        let started = Instant::now();
        loop {
            if self.health().await == Some(wanted) {
                return started.elapsed();
            }
            assert!(started.elapsed() < limit, "health did not turn {wanted:?} within {limit:?}");
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }

    pub fn pid(&self) -> nix::unistd::Pid {
        let pid = self.child.id().and_then(|pid| i32::try_from(pid).ok()).expect("running");
        nix::unistd::Pid::from_raw(pid)
    }

    pub fn log_text(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }
}
