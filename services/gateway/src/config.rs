//! The gateway's configuration (see `patron_common::config` for layering).

use std::path::{Path, PathBuf};
use std::time::Duration;

use patron_common::config::{self, ConfigError, ServerConfig, TelemetryConfig};
use serde::{Deserialize, Serialize};

use crate::auth::AuthConfig;
use crate::rpc_table::CallClass;

/// Default gRPC port of the gateway, the suite's one public address.
pub const DEFAULT_PORT: u16 = 50051;

/// `server.internal_token` is, for the gateway, the credential it presents
/// to the backends on every forwarded call; its own listener is public and
/// asks callers for bearer tokens instead (see `auth`).
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Config {
    pub server: ServerConfig,
    pub telemetry: TelemetryConfig,
    pub backends: BackendsConfig,
    pub auth: AuthConfig,
    pub deadlines: DeadlinesConfig,
    pub limits: LimitsConfig,
    pub tls: TlsConfig,
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

/// The deadline of one class of calls: `default_ms` when the caller sets
/// none, never more than `max_ms` whatever the caller asks.
#[derive(Debug, Clone, Copy, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DeadlineConfig {
    #[serde(with = "config::duration_ms")]
    pub default_ms: Duration,
    #[serde(with = "config::duration_ms")]
    pub max_ms: Duration,
}

impl DeadlineConfig {
    const fn secs(default: u64, max: u64) -> Self {
        Self { default_ms: Duration::from_secs(default), max_ms: Duration::from_secs(max) }
    }
}

/// Deadlines per call class (see `rpc_table::CallClass`).
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct DeadlinesConfig {
    pub read: DeadlineConfig,
    pub write: DeadlineConfig,
    pub heavy: DeadlineConfig,
    pub stream: DeadlineConfig,
}

impl Default for DeadlinesConfig {
    fn default() -> Self {
        Self {
            read: DeadlineConfig::secs(10, 60),
            write: DeadlineConfig::secs(15, 60),
            heavy: DeadlineConfig::secs(60, 600),
            stream: DeadlineConfig::secs(600, 3600),
        }
    }
}

impl DeadlinesConfig {
    pub fn of(&self, class: CallClass) -> DeadlineConfig {
        match class {
            CallClass::Read => self.read,
            CallClass::Write => self.write,
            CallClass::Heavy => self.heavy,
            CallClass::Stream => self.stream,
        }
    }
}

/// Protection of the backends and of the gateway itself.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct LimitsConfig {
    /// Calls in flight to one backend; more are refused with RESOURCE_EXHAUSTED.
    pub backend_max_concurrent_calls: usize,
    /// Sustained calls per second allowed to one credential.
    pub rate_per_second: f64,
    /// Calls one credential may make in a burst above the sustained rate.
    pub rate_burst: f64,
    /// Consecutive failures (UNAVAILABLE, unreachable) that open a backend's circuit.
    pub breaker_failures: u32,
    /// How long an open circuit fails calls fast before one probe is let through.
    #[serde(with = "config::duration_ms")]
    pub breaker_cooldown_ms: Duration,
    /// Attempts of a retryable call (the first one included).
    pub retry_attempts: u32,
    /// Base of the jittered exponential backoff between attempts.
    #[serde(with = "config::duration_ms")]
    pub retry_backoff_ms: Duration,
    /// The lowest the adaptive concurrency limit of one quick unary RPC goes:
    /// this many calls in flight are never shed as overload.
    pub overload_min_in_flight: usize,
    /// Latency budget of a quick unary call, as a multiple of its unloaded
    /// latency (the lowest recent mean of a window of answers): a window
    /// slower than this cuts the RPC's concurrency limit, and calls past the
    /// limit get RESOURCE_EXHAUSTED.
    pub overload_latency_factor: f64,
    /// Microseconds over the unloaded latency that never count as slow,
    /// whatever the factor: scheduler jitter, not overload, on sub-millisecond answers.
    pub overload_latency_slack_us: u64,
}

impl Default for LimitsConfig {
    fn default() -> Self {
        Self {
            backend_max_concurrent_calls: 256,
            rate_per_second: 20_000.0,
            rate_burst: 40_000.0,
            breaker_failures: 5,
            breaker_cooldown_ms: Duration::from_secs(2),
            retry_attempts: 3,
            retry_backoff_ms: Duration::from_millis(20),
            overload_min_in_flight: 1,
            overload_latency_factor: 1.5,
            overload_latency_slack_us: 250,
        }
    }
}

/// TLS on the gateway's listener. Both paths set turns it on; a client CA
/// also requires every client to present a certificate it signed.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct TlsConfig {
    pub cert_file: Option<PathBuf>,
    pub key_file: Option<PathBuf>,
    pub client_ca_file: Option<PathBuf>,
}

impl Default for Config {
    fn default() -> Self {
        Self {
            // The gate enforces each class's deadline; the server's own
            // timeout only has to stay out of the way of the longest one.
            // One thread: a relayed call then costs no wake-ups between
            // threads (release bench, GetCustomer with one caller, one run
            // each: the gateway added 68% at p50 on one thread, 105% with a
            // worker per core). Replicas scale it out; heavy work is the backends'.
            server: ServerConfig {
                request_timeout_ms: Duration::from_secs(3600),
                worker_threads: 1,
                ..ServerConfig::with_port(DEFAULT_PORT)
            },
            telemetry: TelemetryConfig::default(),
            backends: BackendsConfig::default(),
            auth: AuthConfig::default(),
            deadlines: DeadlinesConfig::default(),
            limits: LimitsConfig::default(),
            tls: TlsConfig::default(),
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

#[cfg(test)]
#[allow(clippy::result_large_err)] // figment's Jail API returns its own large error.
mod tests {
    use super::*;
    use crate::rpc_table::Role;

    #[test]
    fn api_keys_and_deadlines_come_from_the_environment() {
        figment::Jail::expect_with(|jail| {
            jail.set_env("PATRON_AUTH__PEPPER", "p");
            jail.set_env(
                "PATRON_AUTH__API_KEYS",
                r#"[{name="dev",role="admin",hash="00ff"},{name="bi",role="reader",hash="11"}]"#,
            );
            jail.set_env("PATRON_DEADLINES__READ__MAX_MS", "250");
            jail.set_env("PATRON_DEADLINES__READ__DEFAULT_MS", "100");
            let config = Config::load(None).expect("loads");
            let keys: Vec<_> = config.auth.api_keys.iter().map(|key| (key.name.as_str(), key.role)).collect();
            assert_eq!(keys, [("dev", Role::Admin), ("bi", Role::Reader)]);
            assert_eq!(config.deadlines.read.max_ms, Duration::from_millis(250));
            assert_eq!(config.deadlines.write.max_ms, Duration::from_secs(60));
            Ok(())
        });
    }
}
