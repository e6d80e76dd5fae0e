//! Builds the forecast service from its configuration and runs it.

use std::future::Future;
use std::net::SocketAddr;

use patron_common::service::DatabaseService;
use tonic::service::Routes;

use crate::config::Config;
use crate::migration::Migrator;

pub struct Application {
    service: DatabaseService<Migrator>,
}

impl Application {
    pub async fn build(config: Config) -> anyhow::Result<Self> {
        // The ForecastService API is not served by this build yet: only
        // health and reflection, so callers get UNIMPLEMENTED, not a wrong answer.
        let service = DatabaseService::build("forecast", Vec::new(), &config.server, &config.database).await?;
        Ok(Self { service })
    }

    pub fn local_addr(&self) -> SocketAddr {
        self.service.local_addr()
    }

    pub async fn run_until_stopped(self, shutdown: impl Future<Output = ()> + Send) -> anyhow::Result<()> {
        self.service.run(Routes::default(), shutdown).await
    }
}
