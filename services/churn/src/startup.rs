//! Builds the churn service from its configuration and runs it.

use std::future::Future;
use std::net::SocketAddr;

use patron_common::service::DatabaseService;
use patron_common::upstream::connect_lazy;
use patron_proto::churn::v1::churn_service_server::ChurnServiceServer;
use tonic::server::NamedService;
use tonic::service::Routes;

use crate::config::Config;
use crate::grpc::ChurnApi;
use crate::migration::Migrator;
use crate::profile::Profile;
use crate::segmentation::Segmentation;

pub const SERVICE_NAME: &str = <ChurnServiceServer<ChurnApi> as NamedService>::NAME;

pub struct Application {
    service: DatabaseService<Migrator>,
    config: Config,
}

impl Application {
    /// Binds the ports and opens the (lazy) database pool; nothing is served yet.
    pub async fn build(config: Config) -> anyhow::Result<Self> {
        let service = DatabaseService::build("churn", vec![SERVICE_NAME], &config.server, &config.database).await?;
        Ok(Self { service, config })
    }

    pub fn local_addr(&self) -> SocketAddr {
        self.service.local_addr()
    }

    pub fn metrics_addr(&self) -> Option<SocketAddr> {
        self.service.metrics_addr()
    }

    /// Serves until `shutdown` resolves, then drains in-flight calls.
    pub async fn run_until_stopped(self, shutdown: impl Future<Output = ()> + Send) -> anyhow::Result<()> {
        let token = self.config.server.internal_token.as_ref();
        let timeout = self.config.peers.connect_timeout_ms;
        let profile = Profile::new(connect_lazy(&self.config.peers.profile, token, timeout)?);
        let segmentation = Segmentation::new(connect_lazy(&self.config.peers.segmentation, token, timeout)?);
        let max_message_bytes = self.service.max_message_bytes();
        let api = ChurnApi::new(self.service.db().clone(), profile, segmentation, self.config.churn.clone());
        let server = ChurnServiceServer::new(api)
            .max_decoding_message_size(max_message_bytes)
            .max_encoding_message_size(max_message_bytes);
        self.service.run(Routes::new(server), shutdown).await
    }
}
