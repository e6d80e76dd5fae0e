//! Builds the gateway from its configuration and runs it.

use std::future::Future;
use std::net::SocketAddr;

use patron_common::GrpcServer;
use patron_common::server::AlwaysReady;
use tonic::service::Routes;

use crate::config::Config;
use crate::gate::Gateway;

/// The services the gateway reports in health and lists in reflection.
pub const PUBLIC_SERVICES: [&str; 5] = [
    "patron.profile.v1.ProfileService",
    "patron.segmentation.v1.SegmentationService",
    "patron.forecast.v1.ForecastService",
    "patron.churn.v1.ChurnService",
    "patron.gateway.v1.InsightService",
];

pub struct Application {
    server: GrpcServer,
    gateway: Gateway,
}

impl Application {
    pub async fn build(config: Config) -> anyhow::Result<Self> {
        let gateway = Gateway::new(&config)?;
        // The internal token is what the gateway presents to the backends;
        // its own listener is public and asks callers for bearer tokens.
        let server_config = patron_common::config::ServerConfig { internal_token: None, ..config.server.clone() };
        let server = GrpcServer::bind("gateway", PUBLIC_SERVICES.to_vec(), server_config).await?;
        Ok(Self { server, gateway })
    }

    pub fn local_addr(&self) -> SocketAddr {
        self.server.local_addr()
    }

    pub async fn run_until_stopped(self, shutdown: impl Future<Output = ()> + Send) -> anyhow::Result<()> {
        // Health and reflection are routed by the server; every other path goes through the gate.
        let router = Routes::default().into_axum_router().fallback_service(self.gateway);
        self.server.serve(Routes::from(router), AlwaysReady, std::time::Duration::from_secs(1), shutdown).await
    }
}
