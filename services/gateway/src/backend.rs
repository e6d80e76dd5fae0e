//! One backend as the gateway sees it: a lazily connected HTTP/2 connection,
//! a concurrency limit, a circuit breaker, and the retry rule.
//!
//! Calls are relayed as raw HTTP/2 (bodies and trailers streamed, never
//! decoded). Only unary calls are ever repeated, and only after UNAVAILABLE:
//! reads always, writes only when they carry a `request_id` (the backends
//! make those idempotent).

use std::hash::{BuildHasher, Hasher};
use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::Bytes;
use http_body_util::BodyExt;
use tokio::sync::{OwnedSemaphorePermit, Semaphore};
use tonic::{Code, Status};

use crate::call::DEADLINE_MARGIN;
use crate::config::LimitsConfig;
use crate::connection::BackendConnection;
use crate::protection::{CircuitBreaker, OverloadGuard};
use crate::rpc_table::CallClass;
use crate::wire;

pub struct Backend {
    pub name: &'static str,
    connection: BackendConnection,
    permits: Arc<Semaphore>,
    breaker: CircuitBreaker,
    retry_attempts: u32,
    retry_backoff: Duration,
    max_message_bytes: usize,
}

/// What the gateway knows about the call being relayed.
pub struct Relayed<'a> {
    pub class: CallClass,
    /// Field number of the request's `request_id`, when it has one.
    pub request_id_field: Option<u32>,
    pub deadline: Instant,
    /// The RPC's overload guard (quick unary calls only).
    pub overload: Option<&'a Arc<OverloadGuard>>,
}

pub type BackendResponse = http::Response<hyper::body::Incoming>;

impl Backend {
    pub fn new(
        name: &'static str,
        url: &str,
        connect_timeout: Duration,
        limits: &LimitsConfig,
        max_message_bytes: usize,
    ) -> anyhow::Result<Self> {
        let connection = BackendConnection::new(url, connect_timeout)
            .map_err(|error| anyhow::anyhow!("backends.{name}: {error}"))?;
        Ok(Self {
            name,
            connection,
            permits: Arc::new(Semaphore::new(limits.backend_max_concurrent_calls.max(1))),
            breaker: CircuitBreaker::new(limits.breaker_failures, limits.breaker_cooldown_ms),
            retry_attempts: limits.retry_attempts.max(1),
            retry_backoff: limits.retry_backoff_ms,
            max_message_bytes,
        })
    }

    pub fn connection(&self) -> BackendConnection {
        self.connection.clone()
    }

    /// Relays `request`, returning the backend's response (whose body the
    /// caller streams) and the concurrency slot to hold until it ends.
    pub async fn relay(
        &self,
        request: http::Request<axum::body::Body>,
        call: &Relayed<'_>,
    ) -> Result<(BackendResponse, OwnedSemaphorePermit), Status> {
        let permit = self.permits.clone().try_acquire_owned().map_err(|_| {
            Status::resource_exhausted(format!("the {} service is at its concurrency limit; retry later", self.name))
        })?;
        if !self.breaker.admit(Instant::now()) {
            return Err(Status::unavailable(format!("the {} service is failing; calls are paused", self.name)));
        }
        let (mut parts, body) = request.into_parts();
        if call.class == CallClass::Stream {
            set_timeout(&mut parts.headers, call.deadline);
            let request = http::Request::from_parts(parts, tonic::body::Body::new(body));
            return self.send(request).await.map(|response| (response, permit));
        }

        // Unary: the one request message is small and buffered, so it can be sent again.
        let limit = self.max_message_bytes.saturating_add(5);
        let collected = tokio::time::timeout_at(
            deadline_instant(call.deadline),
            http_body_util::Limited::new(body, limit).collect(),
        )
        .await
        .map_err(|_| Status::deadline_exceeded("deadline exceeded"))?
        .map_err(|_| Status::out_of_range("request message too large or cut short"))?
        .to_bytes();
        // Shed only once the request is read, so a refusal never cuts the
        // caller's request stream short (HTTP/2 would reset it).
        let in_flight = match call.overload {
            Some(guard) => Some(guard.admit(Instant::now()).ok_or_else(|| {
                use tonic_types::{ErrorDetails, StatusExt};
                Status::with_error_details(
                    Code::ResourceExhausted,
                    format!("the {} service is overloaded; retry after the delay in RetryInfo", self.name),
                    ErrorDetails::with_retry_info(Some(guard.retry_after())),
                )
            })?),
            None => None,
        };
        let retryable = match call.class {
            CallClass::Read => true,
            _ => call.request_id_field.is_some_and(|field| wire::carries_nonempty_string(&collected, field)),
        };
        let attempts = if retryable { self.retry_attempts } else { 1 };
        let mut attempt = 0;
        loop {
            attempt += 1;
            let outcome = self.send(copy_request(&parts, collected.clone(), call.deadline)).await;
            let unavailable = match &outcome {
                Ok(response) => wire::status_code(response.headers()) == Some(Code::Unavailable),
                Err(status) => status.code() == Code::Unavailable,
            };
            if !unavailable || attempt >= attempts {
                if let (Some(in_flight), Ok(_)) = (in_flight, &outcome) {
                    in_flight.complete(Instant::now());
                }
                return outcome.map(|response| (response, permit));
            }
            let pause = jittered_backoff(self.retry_backoff, attempt);
            if Instant::now() + pause + DEADLINE_MARGIN >= call.deadline {
                return outcome.map(|response| (response, permit));
            }
            tracing::debug!(backend = self.name, attempt, "retrying after UNAVAILABLE");
            tokio::time::sleep(pause).await;
        }
    }

    async fn send(&self, request: http::Request<tonic::body::Body>) -> Result<BackendResponse, Status> {
        match self.connection.send(request).await {
            Ok(response) => {
                if wire::status_code(response.headers()) == Some(Code::Unavailable) {
                    self.breaker.record_failure(Instant::now());
                } else {
                    self.breaker.record_success();
                }
                Ok(response)
            }
            Err(error) => {
                self.breaker.record_failure(Instant::now());
                tracing::warn!(backend = self.name, %error, "backend unreachable");
                Err(Status::unavailable(format!("the {} service is unreachable", self.name)))
            }
        }
    }
}

fn deadline_instant(deadline: Instant) -> tokio::time::Instant {
    deadline.checked_sub(DEADLINE_MARGIN).unwrap_or(deadline).into()
}

/// Tells the backend how much of the caller's deadline is left.
fn set_timeout(headers: &mut http::HeaderMap, deadline: Instant) {
    let remaining = deadline.saturating_duration_since(Instant::now());
    headers.insert("grpc-timeout", wire::format_timeout(remaining));
}

fn copy_request(parts: &http::request::Parts, body: Bytes, deadline: Instant) -> http::Request<tonic::body::Body> {
    let mut request = http::Request::new(tonic::body::Body::new(http_body_util::Full::new(body)));
    *request.method_mut() = parts.method.clone();
    *request.uri_mut() = parts.uri.clone();
    *request.version_mut() = parts.version;
    *request.headers_mut() = parts.headers.clone();
    set_timeout(request.headers_mut(), deadline);
    request
}

/// Full jitter: a uniform pause in [0, base·2^(attempt-1)], so retrying
/// clients spread out instead of hitting a recovering backend together.
fn jittered_backoff(base: Duration, attempt: u32) -> Duration {
    let ceiling = base.saturating_mul(1_u32 << attempt.saturating_sub(1).min(10));
    let mut hasher = std::collections::hash_map::RandomState::new().build_hasher();
    hasher.write_u128(Instant::now().elapsed().as_nanos());
    let unit = (hasher.finish() >> 11) as f64 / (1_u64 << 53) as f64;
    ceiling.mul_f64(unit)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_stays_within_its_doubling_ceiling_and_varies() {
        let base = Duration::from_millis(20);
        let pauses: Vec<_> = (0..50).map(|_| jittered_backoff(base, 3)).collect();
        assert!(pauses.iter().all(|pause| *pause <= Duration::from_millis(80)));
        assert!(pauses.iter().any(|pause| *pause != pauses[0]), "jittered");
        assert!(jittered_backoff(base, 1) <= base);
    }
}
