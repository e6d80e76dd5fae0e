//! The segmentation service's configuration (see `patron_common::config` for layering).

use std::path::Path;

use patron_common::config::{self, ConfigError, ServiceConfig};

/// Default gRPC port of the segmentation service.
pub const DEFAULT_PORT: u16 = 50062;

/// The service has no settings of its own yet.
pub type Config = ServiceConfig;

pub fn load(file: Option<&Path>) -> Result<Config, ConfigError> {
    config::load(ServiceConfig::defaults(DEFAULT_PORT, "data/segmentation.db"), file)
}
