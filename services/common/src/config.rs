//! Typed configuration shared by every service.
//!
//! Layers, later ones winning: built-in defaults, then an optional YAML file
//! (`--config FILE` or `PATRON_CONFIG`), then `PATRON_…` environment variables
//! with `__` between sections, e.g. `PATRON_DATABASE__URL` or
//! `PATRON_SERVER__LISTEN_ADDR`. Secrets are [`SecretString`]s, which print as
//! `[REDACTED]` in logs and debug output.

use std::net::SocketAddr;
use std::path::Path;
use std::time::Duration;

use figment::Figment;
use figment::providers::{Env, Format, Serialized, Yaml};
use secrecy::{ExposeSecret, SecretString};
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};

/// Environment variable naming an optional YAML configuration file.
pub const CONFIG_FILE_ENV: &str = "PATRON_CONFIG";

/// Loads a service's configuration: `defaults`, then the YAML file (if any),
/// then `PATRON_` environment variables.
pub fn load<T>(defaults: T, file: Option<&Path>) -> Result<T, ConfigError>
where
    T: Serialize + DeserializeOwned,
{
    let mut figment = Figment::from(Serialized::defaults(defaults));
    let file = file.map(Path::to_path_buf).or_else(|| std::env::var_os(CONFIG_FILE_ENV).map(Into::into));
    if let Some(path) = file {
        if !path.exists() {
            return Err(ConfigError(format!("configuration file {} does not exist", path.display())));
        }
        figment = figment.merge(Yaml::file(path));
    }
    figment = figment.merge(Env::prefixed("PATRON_").split("__").ignore(&["config"]));
    figment.extract().map_err(|error| ConfigError(error.to_string()))
}

#[derive(Debug, thiserror::Error)]
#[error("invalid configuration: {0}")]
pub struct ConfigError(String);

/// The configuration of a service that has no settings of its own.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ServiceConfig {
    pub server: ServerConfig,
    pub database: DatabaseConfig,
    pub telemetry: TelemetryConfig,
    pub peers: PeersConfig,
}

impl ServiceConfig {
    /// Defaults for a service listening on `port` with its SQLite database in `database_file`.
    pub fn defaults(port: u16, database_file: &str) -> Self {
        Self {
            server: ServerConfig::with_port(port),
            database: DatabaseConfig::sqlite_file(database_file),
            telemetry: TelemetryConfig::default(),
            peers: PeersConfig::default(),
        }
    }
}

/// Where the other Patron services listen, for services that call them
/// (e.g. `PATRON_PEERS__PROFILE=http://profile:50061`).
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct PeersConfig {
    pub profile: String,
    pub segmentation: String,
    pub forecast: String,
    pub churn: String,
    #[serde(with = "duration_ms")]
    pub connect_timeout_ms: Duration,
}

impl Default for PeersConfig {
    fn default() -> Self {
        Self {
            profile: "http://127.0.0.1:50061".to_owned(),
            segmentation: "http://127.0.0.1:50062".to_owned(),
            forecast: "http://127.0.0.1:50063".to_owned(),
            churn: "http://127.0.0.1:50064".to_owned(),
            connect_timeout_ms: Duration::from_secs(2),
        }
    }
}

/// The gRPC server: address, limits and shutdown.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ServerConfig {
    /// Address of the gRPC listener; port 0 picks a free port.
    pub listen_addr: SocketAddr,
    /// Address of the Prometheus `/metrics` endpoint; unset disables it.
    pub metrics_addr: Option<SocketAddr>,
    /// Largest accepted or sent gRPC message, in bytes.
    pub max_message_bytes: usize,
    /// Calls served at once; beyond this, calls are shed with RESOURCE_EXHAUSTED.
    pub max_concurrent_calls: usize,
    /// Deadline applied to calls that carry none (a caller's `grpc-timeout` wins when shorter).
    #[serde(with = "duration_ms")]
    pub request_timeout_ms: Duration,
    /// Longest wait for in-flight calls after a shutdown signal.
    #[serde(with = "duration_ms")]
    pub drain_timeout_ms: Duration,
    /// Credential Patron's services present to each other (the gateway on
    /// forwarded calls, one backend calling another). When set, calls without
    /// it are refused; unset accepts every caller (development only).
    #[serde(serialize_with = "serialize_optional_secret")]
    pub internal_token: Option<SecretString>,
    /// Threads serving calls: 0 is one per CPU core; 1 runs everything on
    /// one thread, the lowest latency per call (see `runtime::build`).
    pub worker_threads: usize,
}

impl ServerConfig {
    pub fn with_port(port: u16) -> Self {
        Self { listen_addr: SocketAddr::from(([127, 0, 0, 1], port)), ..Self::default() }
    }
}

impl Default for ServerConfig {
    fn default() -> Self {
        Self {
            listen_addr: SocketAddr::from(([127, 0, 0, 1], 0)),
            metrics_addr: None,
            max_message_bytes: 16 * 1024 * 1024,
            max_concurrent_calls: 512,
            request_timeout_ms: Duration::from_secs(30),
            drain_timeout_ms: Duration::from_secs(15),
            internal_token: None,
            worker_threads: 0,
        }
    }
}

/// The service's own database.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct DatabaseConfig {
    /// `sqlite://data/profile.db?mode=rwc` or `postgres://user:pass@host/db`.
    #[serde(serialize_with = "serialize_secret")]
    pub url: SecretString,
    pub max_connections: u32,
    /// Longest wait for a pooled connection before a call fails with UNAVAILABLE.
    #[serde(with = "duration_ms")]
    pub acquire_timeout_ms: Duration,
    /// How often health re-checks that the database answers.
    #[serde(with = "duration_ms")]
    pub health_interval_ms: Duration,
}

impl DatabaseConfig {
    pub fn sqlite_file(path: &str) -> Self {
        Self { url: SecretString::from(format!("sqlite://{path}?mode=rwc")), ..Self::default() }
    }

    pub fn url(&self) -> &str {
        self.url.expose_secret()
    }
}

impl Default for DatabaseConfig {
    fn default() -> Self {
        Self {
            url: SecretString::from("sqlite::memory:"),
            max_connections: 16,
            acquire_timeout_ms: Duration::from_secs(3),
            health_interval_ms: Duration::from_millis(500),
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "lowercase")]
pub enum LogFormat {
    #[default]
    Text,
    Json,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct TelemetryConfig {
    pub log_format: LogFormat,
    /// A `tracing` filter such as `info,patron_profile=debug`; `RUST_LOG` wins when set.
    pub log_filter: String,
    /// OTLP/gRPC endpoint for traces; `OTEL_EXPORTER_OTLP_ENDPOINT` wins when set.
    pub otlp_endpoint: Option<String>,
}

impl Default for TelemetryConfig {
    fn default() -> Self {
        Self { log_format: LogFormat::Text, log_filter: "info".to_owned(), otlp_endpoint: None }
    }
}

pub fn serialize_secret<S: serde::Serializer>(secret: &SecretString, serializer: S) -> Result<S::Ok, S::Error> {
    // Only used to seed figment's defaults; never for printing.
    serializer.serialize_str(secret.expose_secret())
}

pub fn serialize_optional_secret<S: serde::Serializer>(
    secret: &Option<SecretString>,
    serializer: S,
) -> Result<S::Ok, S::Error> {
    match secret {
        Some(secret) => serializer.serialize_some(secret.expose_secret()),
        None => serializer.serialize_none(),
    }
}

/// Durations are written as integer milliseconds in files and environment.
pub mod duration_ms {
    use std::time::Duration;

    use serde::{Deserialize, Deserializer, Serializer};

    pub fn serialize<S: Serializer>(duration: &Duration, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_u64(u64::try_from(duration.as_millis()).unwrap_or(u64::MAX))
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(deserializer: D) -> Result<Duration, D::Error> {
        u64::deserialize(deserializer).map(Duration::from_millis)
    }
}

#[cfg(test)]
#[allow(clippy::result_large_err)] // figment's Jail API returns its own large error.
mod tests {
    use super::*;

    #[derive(Debug, Default, Serialize, Deserialize)]
    #[serde(default)]
    struct Sample {
        server: ServerConfig,
        database: DatabaseConfig,
    }

    #[test]
    fn environment_overrides_file_and_defaults() {
        figment::Jail::expect_with(|jail| {
            jail.create_file("patron.yaml", "server:\n  max_concurrent_calls: 7\n  drain_timeout_ms: 250\n")?;
            jail.set_env("PATRON_SERVER__MAX_CONCURRENT_CALLS", "9");
            jail.set_env("PATRON_DATABASE__URL", "postgres://user:hunter2@db/patron");
            let loaded = load(Sample::default(), Some(Path::new("patron.yaml"))).expect("loads");
            assert_eq!(loaded.server.max_concurrent_calls, 9);
            assert_eq!(loaded.server.drain_timeout_ms, Duration::from_millis(250));
            assert_eq!(loaded.database.url(), "postgres://user:hunter2@db/patron");
            Ok(())
        });
    }

    #[test]
    fn secrets_never_print() {
        let config = DatabaseConfig { url: SecretString::from("postgres://user:hunter2@db/x"), ..Default::default() };
        assert!(!format!("{config:?}").contains("hunter2"));
    }

    #[test]
    fn unknown_keys_are_rejected() {
        figment::Jail::expect_with(|jail| {
            jail.create_file("bad.yaml", "server:\n  listen_adr: 1.2.3.4:5\n")?;
            let error = load(Sample::default(), Some(Path::new("bad.yaml"))).expect_err("rejects typo");
            assert!(error.to_string().contains("listen_adr"), "{error}");
            Ok(())
        });
    }

    #[test]
    fn missing_file_is_an_error() {
        let error = load(Sample::default(), Some(Path::new("/nonexistent/patron.yaml"))).expect_err("missing");
        assert!(error.to_string().contains("does not exist"));
    }
}
