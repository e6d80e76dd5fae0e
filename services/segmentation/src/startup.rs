//! Builds the segmentation service from its configuration and runs it.

use std::future::Future;
use std::net::SocketAddr;

use patron_common::service::DatabaseService;
use patron_proto::profile::v1::profile_service_client::ProfileServiceClient;
use patron_proto::segmentation::v1::segmentation_service_server::SegmentationServiceServer;
use tonic::server::NamedService;
use tonic::service::Routes;

use crate::config::Config;
use crate::grpc::profile::ProfileClient;
use crate::grpc::{Currency, SegmentationApi};
use crate::migration::Migrator;

pub const SERVICE_NAME: &str = <SegmentationServiceServer<SegmentationApi> as NamedService>::NAME;

pub struct Application {
    service: DatabaseService<Migrator>,
    config: Config,
}

impl Application {
    /// Binds the ports and opens the (lazy) database pool; nothing is served yet.
    pub async fn build(config: Config) -> anyhow::Result<Self> {
        let service =
            DatabaseService::build("segmentation", vec![SERVICE_NAME], &config.server, &config.database).await?;
        Ok(Self { service, config })
    }

    pub fn local_addr(&self) -> SocketAddr {
        self.service.local_addr()
    }

    /// Serves until `shutdown` resolves, then drains in-flight calls.
    pub async fn run_until_stopped(self, shutdown: impl Future<Output = ()> + Send) -> anyhow::Result<()> {
        let max_message_bytes = self.service.max_message_bytes();
        let channel = patron_common::upstream::connect_lazy(
            &self.config.peers.profile,
            self.config.server.internal_token.as_ref(),
            self.config.peers.connect_timeout_ms,
        )?;
        let settings = &self.config.segmentation;
        let currency = Currency { code: settings.currency_code.clone(), minor_per_major: settings.minor_per_major() };
        let profile = ProfileClient {
            client: ProfileServiceClient::new(channel).max_decoding_message_size(max_message_bytes),
            currency_code: currency.code.clone(),
        };
        let api = SegmentationServiceServer::new(SegmentationApi::new(self.service.db().clone(), profile, currency))
            .max_decoding_message_size(max_message_bytes)
            .max_encoding_message_size(max_message_bytes);
        self.service.run(Routes::new(api), shutdown).await
    }
}
