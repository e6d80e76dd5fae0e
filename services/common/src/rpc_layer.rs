//! A tower layer around every gRPC server: refuses callers without the
//! internal credential (when one is configured), sheds load past the
//! concurrency limit, opens a tracing span joined to the caller's trace,
//! answers DEADLINE_EXCEEDED when the caller's deadline passes, and records
//! the call's status code and latency when its response stream ends.
//!
//! The status code of a gRPC call is known only at the end of the response
//! body (in the trailers), or in the headers of a trailers-only response, so
//! the observation rides on the response body.

use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use http_body::{Body, Frame, SizeHint};
use tokio::sync::{OwnedSemaphorePermit, Semaphore};
use tonic::Code;
use tracing::Instrument;

use crate::metrics::RpcMetrics;
use crate::telemetry;
use crate::upstream::INTERNAL_TOKEN_HEADER;

/// Services whose calls bypass the concurrency limit: health probes must keep
/// answering on a saturated server, or Kubernetes would restart it.
const UNLIMITED_SERVICES: &[&str] = &["grpc.health.v1.Health"];

/// Services open without the internal credential: probes and `grpcurl list`.
const OPEN_SERVICES: &[&str] =
    &["grpc.health.v1.Health", "grpc.reflection.v1.ServerReflection", "grpc.reflection.v1alpha.ServerReflection"];

#[derive(Clone)]
pub struct RpcLayer {
    permits: Arc<Semaphore>,
    metrics: Arc<RpcMetrics>,
    internal_token: Option<Arc<[u8]>>,
    timeout: Option<Duration>,
}

impl RpcLayer {
    pub fn new(max_concurrent_calls: usize, metrics: Arc<RpcMetrics>) -> Self {
        Self { permits: Arc::new(Semaphore::new(max_concurrent_calls)), metrics, internal_token: None, timeout: None }
    }

    /// Ends calls with DEADLINE_EXCEEDED after `grpc-timeout`, or after
    /// `timeout` when that is shorter. tonic's server enforces the same
    /// deadline but reports CANCELLED; this layer sits inside tonic's timer
    /// and starts its own first, so its answer is the one the caller gets.
    pub fn with_timeout(mut self, timeout: Duration) -> Self {
        self.timeout = Some(timeout);
        self
    }

    /// Refuses calls that do not present `token` in `x-patron-internal-token`.
    pub fn with_internal_token(mut self, token: Option<&secrecy::SecretString>) -> Self {
        use secrecy::ExposeSecret;
        self.internal_token = token.map(|token| Arc::from(token.expose_secret().as_bytes()));
        self
    }
}

impl<S> tower::Layer<S> for RpcLayer {
    type Service = RpcService<S>;

    fn layer(&self, inner: S) -> Self::Service {
        RpcService {
            inner,
            permits: self.permits.clone(),
            metrics: self.metrics.clone(),
            internal_token: self.internal_token.clone(),
            timeout: self.timeout,
        }
    }
}

#[derive(Clone)]
pub struct RpcService<S> {
    inner: S,
    permits: Arc<Semaphore>,
    metrics: Arc<RpcMetrics>,
    internal_token: Option<Arc<[u8]>>,
    timeout: Option<Duration>,
}

type BoxFuture<T> = Pin<Box<dyn std::future::Future<Output = T> + Send>>;

impl<S, RequestBody, ResponseBody> tower::Service<http::Request<RequestBody>> for RpcService<S>
where
    S: tower::Service<http::Request<RequestBody>, Response = http::Response<ResponseBody>>,
    S::Future: Send + 'static,
    S::Error: Send + 'static,
    ResponseBody: Body + Send + 'static,
{
    type Response = http::Response<ObservedBody<ResponseBody>>;
    type Error = S::Error;
    type Future = BoxFuture<Result<Self::Response, Self::Error>>;

    fn poll_ready(&mut self, context: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(context)
    }

    fn call(&mut self, request: http::Request<RequestBody>) -> Self::Future {
        let (service, method) = split_path(request.uri().path());
        if let Some(expected) = &self.internal_token
            && !OPEN_SERVICES.contains(&service.as_str())
        {
            let presented = request.headers().get(INTERNAL_TOKEN_HEADER).map(http::HeaderValue::as_bytes);
            if !presented.is_some_and(|presented| constant_time_eq(presented, expected)) {
                self.metrics.call_started();
                self.metrics.call_finished(&service, &method, Code::Unauthenticated, Default::default());
                let response =
                    trailers_only(Code::Unauthenticated, "this service accepts calls only from patron services");
                return Box::pin(async move { Ok(response) });
            }
        }
        let permit = if UNLIMITED_SERVICES.contains(&service.as_str()) {
            None
        } else {
            match self.permits.clone().try_acquire_owned() {
                Ok(permit) => Some(permit),
                Err(_) => {
                    self.metrics.call_shed();
                    self.metrics.call_started();
                    self.metrics.call_finished(&service, &method, Code::ResourceExhausted, Default::default());
                    let response = trailers_only(Code::ResourceExhausted, "server is at its concurrency limit; retry");
                    return Box::pin(async move { Ok(response) });
                }
            }
        };

        let span = tracing::info_span!("rpc", rpc.service = %service, rpc.method = %method, otel.kind = "server");
        telemetry::adopt_remote_parent(&span, request.headers());
        let observer = CallObserver {
            service,
            method,
            started: Instant::now(),
            metrics: self.metrics.clone(),
            span: span.clone(),
            recorded: false,
            _permit: permit,
        };
        observer.metrics.call_started();
        let timeout = shorter(request.headers().get("grpc-timeout").and_then(parse_grpc_timeout), self.timeout);
        let deadline =
            timeout.and_then(|timeout| observer.started.checked_add(timeout)).map(tokio::time::Instant::from_std);
        let response = span.in_scope(|| self.inner.call(request));
        Box::pin(
            async move {
                let response = match deadline {
                    None => response.await?,
                    Some(deadline) => match tokio::time::timeout_at(deadline, response).await {
                        Ok(response) => response?,
                        Err(_) => {
                            observer.finish(Code::DeadlineExceeded);
                            return Ok(trailers_only(Code::DeadlineExceeded, "deadline exceeded"));
                        }
                    },
                };
                let (parts, body) = response.into_parts();
                let immediate_code = parts.headers.get("grpc-status").map(parse_code);
                let body = match immediate_code {
                    // Trailers-only response: the call is over.
                    Some(code) => {
                        observer.finish(code);
                        ObservedBody { inner: Some(body), observer: None }
                    }
                    None => ObservedBody { inner: Some(body), observer: Some(observer) },
                };
                Ok(http::Response::from_parts(parts, body))
            }
            .instrument(span),
        )
    }
}

/// Splits `/package.Service/Method`; anything else is labelled "other" so
/// that garbage paths cannot blow up metric cardinality.
fn split_path(path: &str) -> (String, String) {
    let mut parts = path.trim_start_matches('/').splitn(2, '/');
    match (parts.next(), parts.next()) {
        (Some(service), Some(method))
            if (service.starts_with("patron.") || service.starts_with("grpc."))
                && !method.contains('/')
                && method.len() <= 64 =>
        {
            (service.to_owned(), method.to_owned())
        }
        _ => ("other".to_owned(), "other".to_owned()),
    }
}

/// Parses `grpc-timeout`: 1 to 8 digits and a unit (H, M, S, m, u, n).
pub fn parse_grpc_timeout(value: &http::HeaderValue) -> Option<Duration> {
    let text = value.to_str().ok()?;
    if text.len() < 2 || text.len() > 9 {
        return None;
    }
    let (digits, unit) = text.split_at(text.len() - 1);
    let amount: u64 = digits.parse().ok()?;
    Some(match unit {
        "H" => Duration::from_secs(amount.saturating_mul(3600)),
        "M" => Duration::from_secs(amount.saturating_mul(60)),
        "S" => Duration::from_secs(amount),
        "m" => Duration::from_millis(amount),
        "u" => Duration::from_micros(amount),
        "n" => Duration::from_nanos(amount),
        _ => return None,
    })
}

fn shorter(left: Option<Duration>, right: Option<Duration>) -> Option<Duration> {
    match (left, right) {
        (Some(left), Some(right)) => Some(left.min(right)),
        (left, right) => left.or(right),
    }
}

/// Compares without an early exit, so the time taken does not tell how much
/// of a guessed token was right.
fn constant_time_eq(presented: &[u8], expected: &[u8]) -> bool {
    if presented.len() != expected.len() {
        return false;
    }
    let difference = presented.iter().zip(expected).fold(0_u8, |acc, (left, right)| acc | (left ^ right));
    std::hint::black_box(difference) == 0
}

fn parse_code(value: &http::HeaderValue) -> Code {
    value.to_str().ok().and_then(|text| text.parse::<i32>().ok()).map(Code::from_i32).unwrap_or(Code::Unknown)
}

fn trailers_only<B>(code: Code, message: &'static str) -> http::Response<ObservedBody<B>> {
    let mut response = http::Response::new(ObservedBody { inner: None, observer: None });
    let headers = response.headers_mut();
    headers.insert(http::header::CONTENT_TYPE, http::HeaderValue::from_static("application/grpc"));
    headers.insert("grpc-status", http::HeaderValue::from(code as i32));
    headers.insert("grpc-message", http::HeaderValue::from_static(message));
    response
}

/// Records one call's outcome exactly once; a call dropped before its status
/// is known (the client went away) counts as CANCELLED.
struct CallObserver {
    service: String,
    method: String,
    started: Instant,
    metrics: Arc<RpcMetrics>,
    span: tracing::Span,
    recorded: bool,
    _permit: Option<OwnedSemaphorePermit>,
}

impl CallObserver {
    fn finish(mut self, code: Code) {
        self.record(code);
    }

    fn record(&mut self, code: Code) {
        if std::mem::replace(&mut self.recorded, true) {
            return;
        }
        let elapsed = self.started.elapsed();
        self.metrics.call_finished(&self.service, &self.method, code, elapsed);
        let _entered = self.span.enter();
        tracing::debug!(code = ?code, latency_ms = elapsed.as_secs_f64() * 1e3, "rpc finished");
    }
}

impl Drop for CallObserver {
    fn drop(&mut self) {
        self.record(Code::Cancelled);
    }
}

pin_project_lite::pin_project! {
    /// A response body that reports the call's outcome when it ends.
    pub struct ObservedBody<B> {
        #[pin]
        inner: Option<B>,
        observer: Option<CallObserver>,
    }
}

impl<B: Body> Body for ObservedBody<B> {
    type Data = B::Data;
    type Error = B::Error;

    fn poll_frame(
        self: Pin<&mut Self>,
        context: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Self::Data>, Self::Error>>> {
        let this = self.project();
        let Some(inner) = this.inner.as_pin_mut() else {
            return Poll::Ready(None);
        };
        let polled = inner.poll_frame(context);
        match &polled {
            Poll::Ready(Some(Ok(frame))) => {
                if let Some(trailers) = frame.trailers_ref() {
                    let code = trailers.get("grpc-status").map(parse_code).unwrap_or(Code::Unknown);
                    if let Some(observer) = this.observer.take() {
                        observer.finish(code);
                    }
                }
            }
            Poll::Ready(Some(Err(_))) => {
                if let Some(observer) = this.observer.take() {
                    observer.finish(Code::Internal);
                }
            }
            Poll::Ready(None) => {
                if let Some(observer) = this.observer.take() {
                    // A body that ends without trailers broke the protocol.
                    observer.finish(Code::Unknown);
                }
            }
            Poll::Pending => {}
        }
        polled
    }

    fn is_end_stream(&self) -> bool {
        self.inner.as_ref().is_none_or(Body::is_end_stream)
    }

    fn size_hint(&self) -> SizeHint {
        self.inner.as_ref().map(Body::size_hint).unwrap_or_else(|| SizeHint::with_exact(0))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths_are_split_and_garbage_is_bucketed() {
        assert_eq!(
            split_path("/patron.profile.v1.ProfileService/GetCustomer"),
            ("patron.profile.v1.ProfileService".to_owned(), "GetCustomer".to_owned())
        );
        assert_eq!(split_path("/evil/../../x"), ("other".to_owned(), "other".to_owned()));
        assert_eq!(split_path("/"), ("other".to_owned(), "other".to_owned()));
    }

    #[test]
    fn tokens_compare_equal_only_when_identical() {
        assert!(constant_time_eq(b"s3cret", b"s3cret"));
        assert!(!constant_time_eq(b"s3cret", b"s3creT"));
        assert!(!constant_time_eq(b"s3cre", b"s3cret"));
        assert!(!constant_time_eq(b"", b"s3cret"));
    }
}
