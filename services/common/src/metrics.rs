//! Per-RPC Prometheus metrics and the `/metrics` HTTP endpoint.

use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use http_body_util::Full;
use hyper::body::Bytes;
use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::{Histogram, exponential_buckets};
use prometheus_client::registry::Registry;
use tokio::net::TcpListener;

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct CallLabels {
    pub service: String,
    pub method: String,
    pub code: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct MethodLabels {
    pub service: String,
    pub method: String,
}

/// The metrics every Patron server records for each call.
pub struct RpcMetrics {
    registry: Registry,
    calls: Family<CallLabels, Counter>,
    latency: Family<MethodLabels, Histogram>,
    in_flight: Gauge,
    shed: Counter,
}

impl RpcMetrics {
    pub fn new(service_name: &str) -> Self {
        let mut registry = Registry::with_prefix("patron");
        let calls = Family::<CallLabels, Counter>::default();
        // 100 µs .. ~52 s, doubling.
        let latency = Family::<MethodLabels, Histogram>::new_with_constructor(|| {
            Histogram::new(exponential_buckets(0.0001, 2.0, 20))
        });
        let in_flight = Gauge::default();
        let shed = Counter::default();
        registry.register("rpc_calls", "Finished gRPC calls by method and status code", calls.clone());
        registry.register("rpc_duration_seconds", "gRPC call latency until the last response byte", latency.clone());
        registry.register("rpc_in_flight", "gRPC calls being served", in_flight.clone());
        registry.register("rpc_shed", "Calls refused with RESOURCE_EXHAUSTED at the concurrency limit", shed.clone());
        let info = Family::<Vec<(String, String)>, Gauge>::default();
        info.get_or_create(&vec![
            ("service".to_owned(), service_name.to_owned()),
            ("version".to_owned(), env!("CARGO_PKG_VERSION").to_owned()),
        ])
        .set(1);
        registry.register("build_info", "Service name and version", info);
        Self { registry, calls, latency, in_flight, shed }
    }

    pub(crate) fn call_started(&self) {
        self.in_flight.inc();
    }

    pub(crate) fn call_finished(&self, service: &str, method: &str, code: tonic::Code, elapsed: Duration) {
        self.in_flight.dec();
        self.calls
            .get_or_create(&CallLabels {
                service: service.to_owned(),
                method: method.to_owned(),
                code: format!("{code:?}"),
            })
            .inc();
        self.latency
            .get_or_create(&MethodLabels { service: service.to_owned(), method: method.to_owned() })
            .observe(elapsed.as_secs_f64());
    }

    pub(crate) fn call_shed(&self) {
        self.shed.inc();
    }

    /// The OpenMetrics text exposition of every metric.
    pub fn render(&self) -> String {
        let mut text = String::new();
        // Writing into a String cannot fail.
        let _ = prometheus_client::encoding::text::encode(&mut text, &self.registry);
        text
    }
}

/// Serves `GET /metrics` over HTTP/1 until the task is dropped.
pub(crate) async fn serve_metrics(listener: TcpListener, metrics: Arc<RpcMetrics>) {
    use hyper::service::service_fn;
    use hyper_util::rt::TokioIo;

    loop {
        let (stream, _) = match listener.accept().await {
            Ok(accepted) => accepted,
            Err(error) => {
                tracing::warn!(%error, "metrics listener accept failed");
                tokio::time::sleep(Duration::from_millis(100)).await;
                continue;
            }
        };
        let metrics = metrics.clone();
        tokio::spawn(async move {
            let service = service_fn(move |request: hyper::Request<hyper::body::Incoming>| {
                let metrics = metrics.clone();
                async move {
                    let response = if request.uri().path() == "/metrics" {
                        hyper::Response::builder()
                            .header("content-type", "application/openmetrics-text; version=1.0.0; charset=utf-8")
                            .body(Full::new(Bytes::from(metrics.render())))
                    } else {
                        hyper::Response::builder().status(404).body(Full::new(Bytes::from_static(b"not found\n")))
                    };
                    Ok::<_, Infallible>(response.unwrap_or_default())
                }
            });
            let _ = hyper::server::conn::http1::Builder::new().serve_connection(TokioIo::new(stream), service).await;
        });
    }
}

/// Binds the metrics listener when an address is configured.
pub(crate) async fn bind_metrics(addr: Option<SocketAddr>) -> std::io::Result<Option<TcpListener>> {
    match addr {
        Some(addr) => TcpListener::bind(addr).await.map(Some),
        None => Ok(None),
    }
}
