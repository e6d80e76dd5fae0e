//! The gRPC server bootstrap every service runs on.
//!
//! [`GrpcServer::bind`] reserves the ports (so tests can bind port 0 and ask
//! for the address), then [`GrpcServer::serve`] adds health and reflection
//! (v1 and v1alpha) to the service's routes and serves until the shutdown
//! future resolves:
//! - health starts NOT_SERVING and follows the [`ReadinessProbe`] (the store);
//! - on shutdown, health flips to NOT_SERVING, new calls are refused, in-flight
//!   calls finish, and the drain is bounded by `drain_timeout_ms`.

use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;

use tokio::net::TcpListener;
use tonic::service::Routes;
use tonic::transport::server::TcpIncoming;
use tonic_health::ServingStatus;
use tonic_health::server::HealthReporter;

use crate::config::ServerConfig;
use crate::metrics::{self, RpcMetrics};
use crate::rpc_layer::RpcLayer;

/// What decides whether the service can serve: usually "the store answers".
pub trait ReadinessProbe: Send + Sync + 'static {
    /// `Ok` when ready; `Err(NotReady)` while it should report NOT_SERVING;
    /// `Err(Fatal)` when the process must stop (e.g. a schema it does not know).
    fn check(&self) -> impl Future<Output = Result<(), ProbeError>> + Send;
}

#[derive(Debug, thiserror::Error)]
pub enum ProbeError {
    #[error("not ready: {0}")]
    NotReady(String),
    #[error("{0}")]
    Fatal(String),
}

/// A probe for services with nothing to wait for.
#[derive(Debug, Clone, Copy)]
pub struct AlwaysReady;

impl ReadinessProbe for AlwaysReady {
    async fn check(&self) -> Result<(), ProbeError> {
        Ok(())
    }
}

pub struct GrpcServer {
    name: &'static str,
    grpc_services: Vec<&'static str>,
    config: ServerConfig,
    listener: TcpListener,
    metrics_listener: Option<TcpListener>,
    metrics: Arc<RpcMetrics>,
    health: HealthReporter,
    #[cfg(feature = "tls")]
    tls: Option<tonic::transport::ServerTlsConfig>,
}

impl GrpcServer {
    /// Binds the gRPC (and metrics) listeners. `grpc_services` are the fully
    /// qualified names whose health is reported and that reflection lists.
    pub async fn bind(
        name: &'static str,
        grpc_services: Vec<&'static str>,
        config: ServerConfig,
    ) -> std::io::Result<Self> {
        let listener = TcpListener::bind(config.listen_addr).await?;
        let metrics_listener = metrics::bind_metrics(config.metrics_addr).await?;
        let health = HealthReporter::new();
        let server = Self {
            name,
            grpc_services,
            config,
            listener,
            metrics_listener,
            metrics: Arc::new(RpcMetrics::new(name)),
            health,
            #[cfg(feature = "tls")]
            tls: None,
        };
        server.set_health(ServingStatus::NotServing).await;
        Ok(server)
    }

    pub fn local_addr(&self) -> SocketAddr {
        // A bound listener always has an address.
        self.listener.local_addr().unwrap_or(self.config.listen_addr)
    }

    pub fn metrics_addr(&self) -> Option<SocketAddr> {
        self.metrics_listener.as_ref().and_then(|listener| listener.local_addr().ok())
    }

    pub fn config(&self) -> &ServerConfig {
        &self.config
    }

    /// Serves TLS (and, if the config names a client CA, asks clients for certificates).
    #[cfg(feature = "tls")]
    pub fn with_tls(mut self, tls: tonic::transport::ServerTlsConfig) -> Self {
        self.tls = Some(tls);
        self
    }

    async fn set_health(&self, status: ServingStatus) {
        set_health(&self.health, &self.grpc_services, status).await;
    }

    /// Serves `routes` until `shutdown` resolves, then drains.
    pub async fn serve<P: ReadinessProbe>(
        self,
        routes: Routes,
        probe: P,
        probe_interval: std::time::Duration,
        shutdown: impl Future<Output = ()> + Send,
    ) -> anyhow::Result<()> {
        let local_addr = self.local_addr();
        let health_service = tonic_health::pb::health_server::HealthServer::new(
            tonic_health::server::HealthService::from_health_reporter(self.health.clone()),
        );
        let routes = add_reflection(routes.add_service(health_service), &self.grpc_services)?;

        let metrics_task =
            self.metrics_listener.map(|listener| tokio::spawn(metrics::serve_metrics(listener, self.metrics.clone())));

        let (stop_serving, stop_signal) = tokio::sync::oneshot::channel::<()>();
        let builder = tonic::transport::Server::builder();
        #[cfg(feature = "tls")]
        let builder = match self.tls {
            Some(tls) => builder.tls_config(tls)?,
            None => builder,
        };
        let server = builder
            .timeout(self.config.request_timeout_ms)
            .layer(
                RpcLayer::new(self.config.max_concurrent_calls, self.metrics.clone())
                    .with_internal_token(self.config.internal_token.as_ref())
                    .with_timeout(self.config.request_timeout_ms),
            )
            .add_routes(routes)
            // Without TCP_NODELAY, small responses wait on delayed ACKs (~40 ms tails).
            .serve_with_incoming_shutdown(TcpIncoming::from(self.listener).with_nodelay(Some(true)), async {
                let _ = stop_signal.await;
            });
        let mut server = tokio::spawn(server);

        let (fatal_sender, mut fatal) = tokio::sync::mpsc::channel::<String>(1);
        let readiness = tokio::spawn(watch_readiness(
            self.health.clone(),
            self.grpc_services.clone(),
            probe,
            probe_interval,
            fatal_sender,
        ));
        tracing::info!(service = self.name, %local_addr, "serving grpc");

        let outcome = tokio::select! {
            () = shutdown => { tracing::info!("shutdown requested; draining"); Ok(()) }
            Some(reason) = fatal.recv() => Err(anyhow::anyhow!(reason)),
            result = &mut server => {
                return result.map_err(anyhow::Error::from)?.map_err(anyhow::Error::from);
            }
        };

        readiness.abort();
        set_health(&self.health, &self.grpc_services, ServingStatus::NotServing).await;
        let _ = stop_serving.send(());
        match tokio::time::timeout(self.config.drain_timeout_ms, &mut server).await {
            Ok(joined) => joined??,
            Err(_) => {
                tracing::warn!(
                    drain_timeout_ms = self.config.drain_timeout_ms.as_millis() as u64,
                    "drain timed out; dropping remaining calls"
                );
                server.abort();
            }
        }
        if let Some(task) = metrics_task {
            task.abort();
        }
        tracing::info!(service = self.name, "stopped");
        outcome
    }
}

async fn set_health(health: &HealthReporter, services: &[&'static str], status: ServingStatus) {
    health.set_service_status("", status).await;
    for service in services {
        health.set_service_status(*service, status).await;
    }
}

/// Re-checks the probe forever and mirrors it into the health service.
async fn watch_readiness<P: ReadinessProbe>(
    health: HealthReporter,
    services: Vec<&'static str>,
    probe: P,
    interval: std::time::Duration,
    fatal: tokio::sync::mpsc::Sender<String>,
) {
    let mut last: Option<bool> = None;
    loop {
        let checked =
            tokio::time::timeout(interval.max(std::time::Duration::from_millis(200)) * 2, probe.check()).await;
        let ready = match checked {
            Ok(Ok(())) => true,
            Ok(Err(ProbeError::Fatal(reason))) => {
                tracing::error!(%reason, "cannot serve");
                let _ = fatal.send(reason).await;
                return;
            }
            Ok(Err(ProbeError::NotReady(reason))) => {
                if last != Some(false) {
                    tracing::warn!(%reason, "not ready");
                }
                false
            }
            Err(_) => {
                if last != Some(false) {
                    tracing::warn!("readiness check timed out");
                }
                false
            }
        };
        if last != Some(ready) {
            let status = if ready { ServingStatus::Serving } else { ServingStatus::NotServing };
            tracing::info!(?status, "health changed");
            set_health(&health, &services, status).await;
            last = Some(ready);
        }
        tokio::time::sleep(interval).await;
    }
}

/// Adds reflection v1 and v1alpha (grpcurl still speaks v1alpha), listing the
/// service's own APIs plus health.
fn add_reflection(routes: Routes, services: &[&'static str]) -> anyhow::Result<Routes> {
    let builder = || {
        let mut builder = tonic_reflection::server::Builder::configure()
            .register_encoded_file_descriptor_set(patron_proto::FILE_DESCRIPTOR_SET)
            .register_encoded_file_descriptor_set(tonic_health::pb::FILE_DESCRIPTOR_SET)
            .with_service_name("grpc.health.v1.Health");
        for service in services {
            builder = builder.with_service_name(*service);
        }
        builder
    };
    Ok(routes.add_service(builder().build_v1()?).add_service(builder().build_v1alpha()?))
}

/// Resolves on Ctrl-C or SIGTERM.
pub async fn shutdown_signal() {
    let interrupt = async {
        if let Err(error) = tokio::signal::ctrl_c().await {
            tracing::error!(%error, "cannot listen for ctrl-c");
            std::future::pending::<()>().await;
        }
    };
    #[cfg(unix)]
    let terminate = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut signal) => {
                signal.recv().await;
            }
            Err(error) => {
                tracing::error!(%error, "cannot listen for sigterm");
                std::future::pending::<()>().await;
            }
        }
    };
    #[cfg(not(unix))]
    let terminate = std::future::pending::<()>();
    tokio::select! {
        () = interrupt => {}
        () = terminate => {}
    }
}
