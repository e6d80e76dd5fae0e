//! One HTTP/2 connection to a backend, opened on first use and opened again
//! after it closes. Calls go straight to hyper's connection: tonic's
//! `Channel` puts a buffer task in front of it, one more task hop (and
//! wake-up) per call, which showed in the gateway's added latency.

use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};
use std::time::Duration;

use hyper::body::Incoming;
use hyper::client::conn::http2::SendRequest;
use hyper_util::rt::{TokioExecutor, TokioIo};
use tokio::net::TcpStream;

/// Cheap to clone; clones share the connection.
#[derive(Clone)]
pub struct BackendConnection {
    shared: Arc<Shared>,
}

struct Shared {
    scheme: http::uri::Scheme,
    authority: http::uri::Authority,
    connect_timeout: Duration,
    current: Mutex<Option<SendRequest<tonic::body::Body>>>,
    /// One connection attempt at a time; the others wait for its result.
    connecting: tokio::sync::Mutex<()>,
}

#[derive(Debug, thiserror::Error)]
pub enum ConnectionError {
    #[error("cannot connect to {authority}: {reason}")]
    Connect { authority: String, reason: String },
    #[error(transparent)]
    Http(#[from] hyper::Error),
}

impl BackendConnection {
    /// `url` is `http://host:port`; nothing is connected until the first call.
    pub fn new(url: &str, connect_timeout: Duration) -> anyhow::Result<Self> {
        let uri: http::Uri = url.parse().map_err(|error| anyhow::anyhow!("invalid URL {url:?}: {error}"))?;
        let (Some(scheme), Some(authority)) = (uri.scheme().cloned(), uri.authority().cloned()) else {
            anyhow::bail!("URL {url:?} needs a scheme and a host");
        };
        if scheme != http::uri::Scheme::HTTP {
            anyhow::bail!("URL {url:?}: backends are reached over plain http (h2c) inside the cluster");
        }
        Ok(Self {
            shared: Arc::new(Shared {
                scheme,
                authority,
                connect_timeout,
                current: Mutex::new(None),
                connecting: tokio::sync::Mutex::new(()),
            }),
        })
    }

    /// Sends `request` (its path kept, its scheme and authority the backend's).
    pub async fn send(
        &self,
        mut request: http::Request<tonic::body::Body>,
    ) -> Result<http::Response<Incoming>, ConnectionError> {
        let mut parts = http::uri::Parts::default();
        parts.scheme = Some(self.shared.scheme.clone());
        parts.authority = Some(self.shared.authority.clone());
        parts.path_and_query = request.uri().path_and_query().cloned();
        if let Ok(uri) = http::Uri::from_parts(parts) {
            *request.uri_mut() = uri;
        }
        let mut sender = self.sender().await?;
        Ok(sender.send_request(request).await?)
    }

    fn open_sender(&self) -> Option<SendRequest<tonic::body::Body>> {
        let current = self.shared.current.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        current.as_ref().filter(|sender| !sender.is_closed()).cloned()
    }

    async fn sender(&self) -> Result<SendRequest<tonic::body::Body>, ConnectionError> {
        if let Some(sender) = self.open_sender() {
            return Ok(sender);
        }
        let _connecting = self.shared.connecting.lock().await;
        if let Some(sender) = self.open_sender() {
            return Ok(sender);
        }
        let sender = self.connect().await?;
        *self.shared.current.lock().unwrap_or_else(std::sync::PoisonError::into_inner) = Some(sender.clone());
        Ok(sender)
    }

    async fn connect(&self) -> Result<SendRequest<tonic::body::Body>, ConnectionError> {
        let authority = &self.shared.authority;
        let failed = |reason: String| ConnectionError::Connect { authority: authority.to_string(), reason };
        let port = authority.port_u16().unwrap_or(80);
        // An IPv6 host comes bracketed, as in the URL.
        let host = authority.host().trim_start_matches('[').trim_end_matches(']');
        let stream = tokio::time::timeout(self.shared.connect_timeout, TcpStream::connect((host, port)))
            .await
            .map_err(|_| failed("timed out".to_owned()))?
            .map_err(|error| failed(error.to_string()))?;
        // Without TCP_NODELAY, small frames wait on delayed ACKs.
        stream.set_nodelay(true).map_err(|error| failed(error.to_string()))?;
        let (sender, connection) =
            hyper::client::conn::http2::Builder::new(TokioExecutor::new()).handshake(TokioIo::new(stream)).await?;
        let authority = authority.to_string();
        tokio::spawn(async move {
            if let Err(error) = connection.await {
                tracing::debug!(backend = %authority, %error, "backend connection closed");
            }
        });
        Ok(sender)
    }
}

/// Lets the generated tonic clients (the customer-360 fan-out) use the
/// connection; a failed connection is UNAVAILABLE, as with tonic's channel.
impl tower::Service<http::Request<tonic::body::Body>> for BackendConnection {
    type Response = http::Response<Incoming>;
    type Error = tonic::Status;
    type Future =
        std::pin::Pin<Box<dyn std::future::Future<Output = Result<Self::Response, Self::Error>> + Send + 'static>>;

    fn poll_ready(&mut self, _context: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, request: http::Request<tonic::body::Body>) -> Self::Future {
        let connection = self.clone();
        Box::pin(async move {
            connection.send(request).await.map_err(|error| tonic::Status::unavailable(error.to_string()))
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_plain_http_urls_with_a_host_are_accepted() {
        assert!(BackendConnection::new("http://127.0.0.1:50061", Duration::from_secs(1)).is_ok());
        assert!(BackendConnection::new("https://profile:50061", Duration::from_secs(1)).is_err());
        assert!(BackendConnection::new("/no-host", Duration::from_secs(1)).is_err());
        assert!(BackendConnection::new("not a url", Duration::from_secs(1)).is_err());
    }
}
