//! Builds the forecast service from its configuration and runs it.

use std::future::Future;
use std::net::SocketAddr;

use patron_common::service::DatabaseService;
use patron_proto::forecast::v1::forecast_service_server::ForecastServiceServer;
use patron_proto::profile::v1::profile_service_client::ProfileServiceClient;
use patron_proto::segmentation::v1::segmentation_service_client::SegmentationServiceClient;
use tonic::server::NamedService;
use tonic::service::Routes;

use crate::config::Config;
use crate::domain::series::SeriesSource;
use crate::grpc::ForecastApi;
use crate::migration::Migrator;

pub const SERVICE_NAME: &str = <ForecastServiceServer<ForecastApi> as NamedService>::NAME;

pub struct Application {
    service: DatabaseService<Migrator>,
    config: Config,
}

impl Application {
    /// Binds the ports and opens the (lazy) database pool; nothing is served yet.
    pub async fn build(config: Config) -> anyhow::Result<Self> {
        let service = DatabaseService::build("forecast", vec![SERVICE_NAME], &config.server, &config.database).await?;
        Ok(Self { service, config })
    }

    pub fn local_addr(&self) -> SocketAddr {
        self.service.local_addr()
    }

    /// Serves until `shutdown` resolves, then drains in-flight calls.
    pub async fn run_until_stopped(self, shutdown: impl Future<Output = ()> + Send) -> anyhow::Result<()> {
        let max_message_bytes = self.service.max_message_bytes();
        let token = self.config.server.internal_token.as_ref();
        let timeout = self.config.peers.connect_timeout_ms;
        let profile = ProfileServiceClient::new(patron_common::upstream::connect_lazy(
            &self.config.peers.profile,
            token,
            timeout,
        )?)
        .max_decoding_message_size(max_message_bytes);
        let segmentation = SegmentationServiceClient::new(patron_common::upstream::connect_lazy(
            &self.config.peers.segmentation,
            token,
            timeout,
        )?)
        .max_decoding_message_size(max_message_bytes);
        let api = ForecastApi::new(self.service.db().clone(), SeriesSource::new(profile, segmentation));
        let server = ForecastServiceServer::new(api)
            .max_decoding_message_size(max_message_bytes)
            .max_encoding_message_size(max_message_bytes);
        self.service.run(Routes::new(server), shutdown).await
    }
}
