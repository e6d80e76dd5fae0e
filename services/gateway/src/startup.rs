//! Builds the gateway from its configuration and runs it.

use std::future::Future;
use std::net::SocketAddr;

use patron_common::GrpcServer;
use patron_common::server::AlwaysReady;
use tonic::service::Routes;

use crate::config::{Config, TlsConfig};
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
        let mut server = GrpcServer::bind("gateway", PUBLIC_SERVICES.to_vec(), server_config).await?;
        if let Some(tls) = server_tls(&config.tls)? {
            server = server.with_tls(tls);
        }
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

/// The listener's TLS settings, when a certificate and key are configured.
fn server_tls(config: &TlsConfig) -> anyhow::Result<Option<tonic::transport::ServerTlsConfig>> {
    use tonic::transport::{Certificate, Identity, ServerTlsConfig};
    let read = |path: &std::path::Path, what: &str| {
        std::fs::read(path).map_err(|error| anyhow::anyhow!("reading tls.{what} {}: {error}", path.display()))
    };
    let (cert, key) = match (&config.cert_file, &config.key_file) {
        (Some(cert), Some(key)) => (read(cert, "cert_file")?, read(key, "key_file")?),
        (None, None) if config.client_ca_file.is_none() => return Ok(None),
        _ => anyhow::bail!("tls.cert_file and tls.key_file must be set together (and for tls.client_ca_file)"),
    };
    let mut tls = ServerTlsConfig::new().identity(Identity::from_pem(cert, key));
    if let Some(ca) = &config.client_ca_file {
        tls = tls.client_ca_root(Certificate::from_pem(read(ca, "client_ca_file")?));
    }
    Ok(Some(tls))
}
