//! The churn service's configuration (see `patron_common::config` for layering).

use std::path::Path;

use patron_common::config::{self, ConfigError, DatabaseConfig, ServerConfig, TelemetryConfig};
use serde::{Deserialize, Serialize};

/// Default gRPC port of the churn service.
pub const DEFAULT_PORT: u16 = 50064;

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Config {
    pub server: ServerConfig,
    pub database: DatabaseConfig,
    pub telemetry: TelemetryConfig,
}

impl Default for Config {
    fn default() -> Self {
        Self {
            server: ServerConfig::with_port(DEFAULT_PORT),
            database: DatabaseConfig::sqlite_file("data/churn.db"),
            telemetry: TelemetryConfig::default(),
        }
    }
}

impl Config {
    pub fn load(file: Option<&Path>) -> Result<Self, ConfigError> {
        config::load(Self::default(), file)
    }
}
