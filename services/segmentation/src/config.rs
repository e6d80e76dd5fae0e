//! The segmentation service's configuration (see `patron_common::config` for layering).

use std::path::Path;

use patron_common::config::{self, ConfigError, DatabaseConfig, PeersConfig, ServerConfig, TelemetryConfig};
use serde::{Deserialize, Serialize};

/// Default gRPC port of the segmentation service.
pub const DEFAULT_PORT: u16 = 50062;

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Config {
    pub server: ServerConfig,
    pub database: DatabaseConfig,
    pub telemetry: TelemetryConfig,
    pub peers: PeersConfig,
    pub segmentation: SegmentationSettings,
}

/// Business settings of the segmentation service.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct SegmentationSettings {
    /// Currency whose orders the feature export counts, and in which money
    /// features and segment revenue are reported (`PATRON_SEGMENTATION__CURRENCY_CODE`).
    pub currency_code: String,
    /// Digits of its minor unit: 2 for USD and EUR, 0 for JPY.
    pub currency_minor_digits: u8,
}

impl Default for SegmentationSettings {
    fn default() -> Self {
        Self { currency_code: "USD".to_owned(), currency_minor_digits: 2 }
    }
}

impl SegmentationSettings {
    pub fn minor_per_major(&self) -> f64 {
        10f64.powi(i32::from(self.currency_minor_digits.min(4)))
    }
}

impl Default for Config {
    fn default() -> Self {
        Self {
            server: ServerConfig::with_port(DEFAULT_PORT),
            database: DatabaseConfig::sqlite_file("data/segmentation.db"),
            telemetry: TelemetryConfig::default(),
            peers: PeersConfig::default(),
            segmentation: SegmentationSettings::default(),
        }
    }
}

pub fn load(file: Option<&Path>) -> Result<Config, ConfigError> {
    config::load(Config::default(), file)
}
