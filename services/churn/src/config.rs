//! The churn service's configuration (see `patron_common::config` for layering).

use std::path::Path;
use std::time::Duration;

use patron_common::config::{self, ConfigError, DatabaseConfig, PeersConfig, ServerConfig, TelemetryConfig};
use serde::{Deserialize, Serialize};

/// Default gRPC port of the churn service.
pub const DEFAULT_PORT: u16 = 50064;

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Config {
    pub server: ServerConfig,
    pub database: DatabaseConfig,
    pub telemetry: TelemetryConfig,
    pub peers: PeersConfig,
    pub churn: ChurnSettings,
}

/// Settings of the churn service itself (`PATRON_CHURN__…`).
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ChurnSettings {
    /// Currency of training and scoring when a request names none; should
    /// match the profile service's default currency.
    pub default_currency: String,
    /// How often each replica checks for a newly activated model version.
    #[serde(with = "config::duration_ms")]
    pub model_poll_ms: Duration,
}

impl Default for ChurnSettings {
    fn default() -> Self {
        Self { default_currency: "USD".to_owned(), model_poll_ms: Duration::from_secs(2) }
    }
}

impl Default for Config {
    fn default() -> Self {
        Self {
            server: ServerConfig::with_port(DEFAULT_PORT),
            database: DatabaseConfig::sqlite_file("data/churn.db"),
            telemetry: TelemetryConfig::default(),
            peers: PeersConfig::default(),
            churn: ChurnSettings::default(),
        }
    }
}

pub fn load(file: Option<&Path>) -> Result<Config, ConfigError> {
    config::load(Config::default(), file)
}
