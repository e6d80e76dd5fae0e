//! The profile service's configuration (see `patron_common::config` for layering).

use std::path::Path;
use std::time::Duration;

use patron_common::config::{self, ConfigError, DatabaseConfig, ServerConfig, TelemetryConfig};
use secrecy::SecretString;
use serde::{Deserialize, Serialize};

/// Default gRPC port of the profile service.
pub const DEFAULT_PORT: u16 = 50061;

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Config {
    pub server: ServerConfig,
    pub database: DatabaseConfig,
    pub telemetry: TelemetryConfig,
    pub profile: ProfileSettings,
}

/// Business settings of the profile service.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ProfileSettings {
    /// Currency of reports and exports when a request names none.
    pub default_currency: String,
    /// A cart not converted this long after its last event counts as abandoned.
    #[serde(with = "config::duration_ms")]
    pub cart_abandonment_timeout_ms: Duration,
    /// Key of the keyed hash kept in the erasure audit; set a long random
    /// value in production (`PATRON_PROFILE__ERASURE_HASH_KEY`).
    #[serde(serialize_with = "config::serialize_secret")]
    pub erasure_hash_key: SecretString,
}

impl ProfileSettings {
    /// The abandonment timeout in the store's unit.
    pub fn abandonment_timeout_micros(&self) -> i64 {
        i64::try_from(self.cart_abandonment_timeout_ms.as_micros()).unwrap_or(i64::MAX)
    }
}

impl Default for ProfileSettings {
    fn default() -> Self {
        Self {
            default_currency: "USD".to_owned(),
            cart_abandonment_timeout_ms: Duration::from_secs(24 * 3600),
            erasure_hash_key: SecretString::from("patron-development-erasure-key"),
        }
    }
}

impl Default for Config {
    fn default() -> Self {
        Self {
            server: ServerConfig::with_port(DEFAULT_PORT),
            database: DatabaseConfig::sqlite_file("data/profile.db"),
            telemetry: TelemetryConfig::default(),
            profile: ProfileSettings::default(),
        }
    }
}

impl Config {
    pub fn load(file: Option<&Path>) -> Result<Self, ConfigError> {
        config::load(Self::default(), file)
    }
}
