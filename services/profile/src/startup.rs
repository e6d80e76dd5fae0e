//! Builds the profile service from its configuration and runs it.

use std::future::Future;
use std::net::SocketAddr;

use patron_common::service::DatabaseService;
use patron_proto::profile::v1::profile_service_server::ProfileServiceServer;
use tonic::server::NamedService;
use tonic::service::Routes;

use crate::config::{Config, ProfileSettings};
use crate::grpc::ProfileApi;
use crate::migration::Migrator;

pub const SERVICE_NAME: &str = <ProfileServiceServer<ProfileApi> as NamedService>::NAME;

pub struct Application {
    service: DatabaseService<Migrator>,
    settings: ProfileSettings,
}

impl Application {
    /// Binds the ports and opens the (lazy) database pool; nothing is served yet.
    pub async fn build(config: Config) -> anyhow::Result<Self> {
        let service = DatabaseService::build("profile", vec![SERVICE_NAME], &config.server, &config.database).await?;
        Ok(Self { service, settings: config.profile })
    }

    pub fn local_addr(&self) -> SocketAddr {
        self.service.local_addr()
    }

    pub fn metrics_addr(&self) -> Option<SocketAddr> {
        self.service.metrics_addr()
    }

    /// Serves until `shutdown` resolves, then drains in-flight calls.
    pub async fn run_until_stopped(self, shutdown: impl Future<Output = ()> + Send) -> anyhow::Result<()> {
        let max_message_bytes = self.service.max_message_bytes();
        let api = ProfileServiceServer::new(ProfileApi::new(self.service.db().clone(), self.settings))
            .max_decoding_message_size(max_message_bytes)
            .max_encoding_message_size(max_message_bytes);
        self.service.run(Routes::new(api), shutdown).await
    }
}
