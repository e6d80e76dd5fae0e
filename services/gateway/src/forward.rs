//! Transparent forwarding of the backends' public APIs.
//!
//! A call to `/patron.<service>.v1.<Service>/<Method>` is relayed as HTTP/2
//! to the backend that owns the package, body and trailers streamed in both
//! directions without buffering, so unary and streaming RPCs alike pass
//! through and clients use the same stubs as against the service itself.
//! The caller's `grpc-timeout` travels with the call, so backends see the
//! remaining deadline; the caller's credentials do not.

use std::collections::HashMap;
use std::convert::Infallible;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

use axum::body::Body;
use tonic::transport::{Channel, Endpoint};
use tower::ServiceExt;

use crate::config::BackendsConfig;

/// The services a backend owns, by package, e.g. `patron.profile.v1`.
pub const FORWARDED_SERVICES: [(&str, &str); 4] = [
    ("patron.profile.v1", "patron.profile.v1.ProfileService"),
    ("patron.segmentation.v1", "patron.segmentation.v1.SegmentationService"),
    ("patron.forecast.v1", "patron.forecast.v1.ForecastService"),
    ("patron.churn.v1", "patron.churn.v1.ChurnService"),
];

#[derive(Clone)]
pub struct Forwarder {
    backends: Arc<HashMap<&'static str, Channel>>,
}

impl Forwarder {
    /// Channels connect lazily: a backend that is down makes its calls fail
    /// with UNAVAILABLE, not the gateway's start.
    pub fn new(config: &BackendsConfig) -> anyhow::Result<Self> {
        let channel = |url: &str| -> anyhow::Result<Channel> {
            Ok(Endpoint::from_shared(url.to_owned())?.connect_timeout(config.connect_timeout_ms).connect_lazy())
        };
        let backends = HashMap::from([
            ("patron.profile.v1", channel(&config.profile)?),
            ("patron.segmentation.v1", channel(&config.segmentation)?),
            ("patron.forecast.v1", channel(&config.forecast)?),
            ("patron.churn.v1", channel(&config.churn)?),
        ]);
        Ok(Self { backends: Arc::new(backends) })
    }

    fn backend_for(&self, path: &str) -> Option<Channel> {
        let service = path.trim_start_matches('/').split('/').next()?;
        let package = service.rsplit_once('.')?.0;
        self.backends.get(package).cloned()
    }
}

impl tower::Service<http::Request<Body>> for Forwarder {
    type Response = http::Response<Body>;
    type Error = Infallible;
    type Future = Pin<Box<dyn Future<Output = Result<Self::Response, Infallible>> + Send>>;

    fn poll_ready(&mut self, _context: &mut Context<'_>) -> Poll<Result<(), Infallible>> {
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, request: http::Request<Body>) -> Self::Future {
        let Some(channel) = self.backend_for(request.uri().path()) else {
            let status = tonic::Status::unimplemented(format!("unknown service in {}", request.uri().path()));
            return Box::pin(async move { Ok(status.into_http()) });
        };
        let (mut parts, body) = request.into_parts();
        // Backends trust the gateway, not the caller's token.
        parts.headers.remove(http::header::AUTHORIZATION);
        patron_common::telemetry::inject_current_context_into_headers(&mut parts.headers);
        let request = http::Request::from_parts(parts, tonic::body::Body::new(body));
        Box::pin(async move {
            match channel.oneshot(request).await {
                Ok(response) => Ok(response.map(Body::new)),
                Err(error) => {
                    tracing::warn!(%error, "backend unreachable");
                    Ok(tonic::Status::unavailable(format!("backend unavailable: {error}")).into_http())
                }
            }
        })
    }
}
