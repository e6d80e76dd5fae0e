//! Builds the gateway from its configuration and runs it.

use std::future::Future;
use std::net::SocketAddr;

use patron_common::GrpcServer;
use patron_common::server::AlwaysReady;
use tonic::service::Routes;

use crate::config::Config;
use crate::forward::{FORWARDED_SERVICES, Forwarder};

pub struct Application {
    server: GrpcServer,
    forwarder: Forwarder,
}

impl Application {
    pub async fn build(config: Config) -> anyhow::Result<Self> {
        let forwarder = Forwarder::new(&config.backends)?;
        let services = FORWARDED_SERVICES.iter().map(|(_, service)| *service).collect();
        let server = GrpcServer::bind("gateway", services, config.server.clone()).await?;
        Ok(Self { server, forwarder })
    }

    pub fn local_addr(&self) -> SocketAddr {
        self.server.local_addr()
    }

    pub async fn run_until_stopped(self, shutdown: impl Future<Output = ()> + Send) -> anyhow::Result<()> {
        // Health and reflection are routed by the server; every other path is relayed.
        let router = Routes::default().into_axum_router().fallback_service(self.forwarder);
        self.server.serve(Routes::from(router), AlwaysReady, std::time::Duration::from_secs(1), shutdown).await
    }
}
