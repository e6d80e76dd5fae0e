//! The gateway's configuration (see `patron_common::config` for layering).

use std::path::Path;
use std::time::Duration;

use patron_common::config::{self, ConfigError, ServerConfig, TelemetryConfig};
use serde::{Deserialize, Serialize};

/// Default gRPC port of the gateway, the suite's one public address.
pub const DEFAULT_PORT: u16 = 50051;

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Config {
    pub server: ServerConfig,
    pub telemetry: TelemetryConfig,
    pub backends: BackendsConfig,
}

/// Where each backend service listens, e.g. `PATRON_BACKENDS__PROFILE=http://profile:50061`.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct BackendsConfig {
    pub profile: String,
    pub segmentation: String,
    pub forecast: String,
    pub churn: String,
    /// Longest wait for a TCP connection to a backend.
    #[serde(with = "config::duration_ms")]
    pub connect_timeout_ms: Duration,
}

impl Default for Config {
    fn default() -> Self {
        Self {
            server: ServerConfig::with_port(DEFAULT_PORT),
            telemetry: TelemetryConfig::default(),
            backends: BackendsConfig::default(),
        }
    }
}

impl Default for BackendsConfig {
    fn default() -> Self {
        Self {
            profile: "http://127.0.0.1:50061".to_owned(),
            segmentation: "http://127.0.0.1:50062".to_owned(),
            forecast: "http://127.0.0.1:50063".to_owned(),
            churn: "http://127.0.0.1:50064".to_owned(),
            connect_timeout_ms: Duration::from_secs(1),
        }
    }
}

impl Config {
    pub fn load(file: Option<&Path>) -> Result<Self, ConfigError> {
        config::load(Self::default(), file)
    }
}
