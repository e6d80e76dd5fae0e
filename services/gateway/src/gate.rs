//! The gateway's front door for every public RPC: authenticate, authorise
//! against the role table, rate-limit per credential, fix the deadline, then
//! hand the call to its backend (or to the gateway's own InsightService) and
//! log it when it ends.

use std::collections::HashMap;
use std::convert::Infallible;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use axum::body::Body;
use patron_proto::gateway::v1::insight_service_server::InsightServiceServer;
use tonic::{Code, Status};
use tonic_types::{ErrorDetails, StatusExt};
use tower::ServiceExt;

use crate::auth::{AuthError, Authenticator, Principal};
use crate::backend::{Backend, Relayed};
use crate::call::{CallBody, CallRecord, DEADLINE_MARGIN};
use crate::config::{Config, DeadlinesConfig};
use crate::erasure::{ERASE_CUSTOMER_PATH, Erasure, Retry};
use crate::insight::{CallDeadline, Insight};
use crate::protection::{OverloadGuard, RateLimiter};
use crate::rpc_table::{self, CallClass, RpcPolicy};
use crate::wire;

/// Metadata key of the request id carried to the backends and into logs.
pub const REQUEST_ID_HEADER: &str = "x-request-id";
/// Metadata key of the authenticated principal's name, which the backends
/// record (who trained a model, who erased a customer). Only the gateway sets it.
pub const PRINCIPAL_HEADER: &str = "x-patron-principal";

/// Where a public RPC is served.
#[derive(Debug, Clone, Copy)]
enum Target {
    Backend(usize),
    Insight,
    /// EraseCustomer: the profile, then every service holding derived rows.
    Erasure,
}

struct Route {
    policy: &'static RpcPolicy,
    target: Target,
    request_id_field: Option<u32>,
    /// Per RPC, so a slow method's latency does not set a quick one's budget.
    overload: Option<Arc<OverloadGuard>>,
}

struct Inner {
    routes: HashMap<&'static str, Route>,
    authenticator: Authenticator,
    rate: RateLimiter,
    deadlines: DeadlinesConfig,
    backends: Vec<Backend>,
    insight: InsightServiceServer<Insight>,
    erasure: Erasure,
    internal_token: Option<http::HeaderValue>,
    request_ids: RequestIds,
}

#[derive(Clone)]
pub struct Gateway {
    inner: Arc<Inner>,
}

/// Backend names, in `Target::Backend` order, with the package each owns.
pub const BACKEND_PACKAGES: [(&str, &str); 4] = [
    ("profile", "patron.profile.v1"),
    ("segmentation", "patron.segmentation.v1"),
    ("forecast", "patron.forecast.v1"),
    ("churn", "patron.churn.v1"),
];

impl Gateway {
    pub fn new(config: &Config) -> anyhow::Result<Self> {
        let authenticator = Authenticator::new(&config.auth)?;
        if authenticator.is_disabled() {
            tracing::warn!("authentication is disabled: every caller is admin (development only)");
        }
        let urls = [
            &config.backends.profile,
            &config.backends.segmentation,
            &config.backends.forecast,
            &config.backends.churn,
        ];
        let backends = BACKEND_PACKAGES
            .iter()
            .zip(urls)
            .map(|((name, _), url)| {
                Backend::new(
                    name,
                    url,
                    config.backends.connect_timeout_ms,
                    &config.limits,
                    config.server.max_message_bytes,
                )
            })
            .collect::<anyhow::Result<Vec<_>>>()?;
        let internal_token = config
            .server
            .internal_token
            .as_ref()
            .map(|token| {
                use secrecy::ExposeSecret;
                let mut value = http::HeaderValue::from_str(token.expose_secret())
                    .map_err(|_| anyhow::anyhow!("server.internal_token must be printable ASCII"))?;
                value.set_sensitive(true);
                anyhow::Ok(value)
            })
            .transpose()?;
        if internal_token.is_none() {
            tracing::warn!("server.internal_token is unset: backends must accept calls without it (development only)");
        }
        let insight = Insight::new(
            backends[0].connection(),
            backends[1].connection(),
            backends[3].connection(),
            internal_token.clone(),
        );
        let erasure = Erasure::new(
            backends[0].connection(),
            backends[1].connection(),
            backends[3].connection(),
            internal_token.as_ref(),
            Retry { attempts: config.limits.retry_attempts, backoff: config.limits.retry_backoff_ms },
        );
        let request_id_fields = request_id_fields();
        let mut routes = HashMap::new();
        for policy in rpc_table::RPC_TABLE {
            let target = if policy.path == ERASE_CUSTOMER_PATH {
                Target::Erasure
            } else if policy.path.starts_with("/patron.gateway.v1.") {
                Target::Insight
            } else {
                let index = BACKEND_PACKAGES
                    .iter()
                    .position(|(_, package)| policy.path[1..].starts_with(&format!("{package}.")))
                    .ok_or_else(|| anyhow::anyhow!("no backend serves {}", policy.path))?;
                Target::Backend(index)
            };
            let request_id_field = request_id_fields.get(policy.path).copied();
            // Heavy calls (training, imports) and streams run long by design.
            let overload = matches!(policy.class, CallClass::Read | CallClass::Write).then(|| {
                Arc::new(OverloadGuard::new(
                    config.limits.overload_min_in_flight,
                    config.limits.overload_latency_factor,
                    Duration::from_micros(config.limits.overload_latency_slack_us),
                    Instant::now(),
                ))
            });
            routes.insert(policy.path, Route { policy, target, request_id_field, overload });
        }
        Ok(Self {
            inner: Arc::new(Inner {
                routes,
                authenticator,
                rate: RateLimiter::new(config.limits.rate_per_second, config.limits.rate_burst),
                deadlines: config.deadlines.clone(),
                backends,
                insight: InsightServiceServer::new(insight),
                erasure,
                internal_token,
                request_ids: RequestIds::new(),
            }),
        })
    }
}

impl tower::Service<http::Request<Body>> for Gateway {
    type Response = http::Response<Body>;
    type Error = Infallible;
    type Future = Pin<Box<dyn Future<Output = Result<Self::Response, Infallible>> + Send>>;

    fn poll_ready(&mut self, _context: &mut Context<'_>) -> Poll<Result<(), Infallible>> {
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, request: http::Request<Body>) -> Self::Future {
        let inner = self.inner.clone();
        Box::pin(async move { Ok(inner.handle(request).await) })
    }
}

impl Inner {
    async fn handle(&self, mut request: http::Request<Body>) -> http::Response<Body> {
        let started = Instant::now();
        let Some(route) = self.routes.get(request.uri().path()) else {
            return reply(Status::unimplemented("no such method"));
        };
        let authorization = request.headers().get(http::header::AUTHORIZATION).map(http::HeaderValue::as_bytes);
        let principal = match self.authenticator.authenticate(authorization) {
            Ok(principal) => principal,
            Err(error) => {
                let message = match error {
                    AuthError::Missing => error.to_string(),
                    AuthError::Invalid | AuthError::InvalidToken(_) => error.to_string(),
                };
                tracing::info!(target: "patron_gateway::access", parent: None, rpc = route.policy.path, code = ?Code::Unauthenticated, "rpc");
                return reply(Status::unauthenticated(message));
            }
        };
        let request_id = self.request_ids.ensure(request.headers_mut());
        let mut record = CallRecord::new(route.policy.path, principal.clone(), request_id, started);
        if principal.role < route.policy.role {
            record.finish(Code::PermissionDenied);
            return reply(permission_denied(&principal, route.policy));
        }
        if let Err(wait) = self.rate.acquire(&principal.name, started) {
            record.finish(Code::ResourceExhausted);
            let status = Status::with_error_details(
                Code::ResourceExhausted,
                "rate limit of this credential exceeded; retry after the delay in RetryInfo",
                ErrorDetails::with_retry_info(Some(wait)),
            );
            return reply(status);
        }
        let deadline = self.deadline(route.policy, request.headers(), started);

        // Backends trust the gateway's credential, not the caller's.
        let headers = request.headers_mut();
        headers.remove(http::header::AUTHORIZATION);
        // Only the gateway speaks for itself to the backends.
        headers.remove(patron_common_token_header());
        if let Some(token) = &self.internal_token {
            headers.insert(patron_common_token_header(), token.clone());
        }
        // Nor names the principal: a caller's own value is replaced.
        match http::HeaderValue::from_str(&principal.name) {
            Ok(name) => headers.insert(PRINCIPAL_HEADER, name),
            Err(_) => headers.remove(PRINCIPAL_HEADER),
        };
        patron_common::telemetry::inject_current_context_into_headers(headers);

        let outcome = match route.target {
            Target::Backend(index) => {
                let call = Relayed {
                    class: route.policy.class,
                    request_id_field: route.request_id_field,
                    deadline,
                    overload: route.overload.as_ref(),
                };
                let relay = self.backends[index].relay(request, &call);
                match tokio::time::timeout_at(margin_before(deadline), relay).await {
                    Ok(Ok((response, permit))) => Ok((response.map(tonic::body::Body::new), Some(permit))),
                    Ok(Err(status)) => Err(status),
                    Err(_) => Err(Status::deadline_exceeded("deadline exceeded")),
                }
            }
            Target::Erasure => {
                let call = self.erasure.serve(request, deadline);
                match tokio::time::timeout_at(margin_before(deadline), call).await {
                    Ok(response) => Ok((response, None)),
                    Err(_) => Err(Status::deadline_exceeded("deadline exceeded")),
                }
            }
            Target::Insight => {
                request.extensions_mut().insert(CallDeadline(deadline));
                let call = self.insight.clone().oneshot(request);
                match tokio::time::timeout_at(margin_before(deadline), call).await {
                    Ok(Ok(response)) => Ok((response, None)),
                    Ok(Err(never)) => match never {},
                    Err(_) => Err(Status::deadline_exceeded("deadline exceeded")),
                }
            }
        };
        match outcome {
            Err(status) => {
                record.finish(status.code());
                reply(status)
            }
            Ok((response, permit)) => {
                let (mut parts, body) = response.into_parts();
                match wire::status_code(&parts.headers) {
                    // Trailers-only: the call is over.
                    Some(code) => {
                        let code = if code == Code::Cancelled && Instant::now() + DEADLINE_MARGIN >= deadline {
                            parts.headers.insert("grpc-status", http::HeaderValue::from(Code::DeadlineExceeded as i32));
                            parts.headers.insert("grpc-message", http::HeaderValue::from_static("deadline exceeded"));
                            Code::DeadlineExceeded
                        } else {
                            code
                        };
                        record.finish(code);
                        http::Response::from_parts(parts, Body::new(CallBody::new(body, deadline, None)))
                    }
                    None => {
                        record.hold(permit);
                        http::Response::from_parts(parts, Body::new(CallBody::new(body, deadline, Some(record))))
                    }
                }
            }
        }
    }

    /// The caller's deadline, or the class default, never past the class maximum.
    fn deadline(&self, policy: &RpcPolicy, headers: &http::HeaderMap, now: Instant) -> Instant {
        let limits = self.deadlines.of(policy.class);
        let wanted = headers.get("grpc-timeout").and_then(wire::parse_timeout).unwrap_or(limits.default_ms);
        now + wanted.min(limits.max_ms)
    }
}

fn patron_common_token_header() -> http::HeaderName {
    http::HeaderName::from_static(patron_common::upstream::INTERNAL_TOKEN_HEADER)
}

fn margin_before(deadline: Instant) -> tokio::time::Instant {
    deadline.checked_sub(DEADLINE_MARGIN).unwrap_or(deadline).into()
}

fn permission_denied(principal: &Principal, policy: &RpcPolicy) -> Status {
    Status::permission_denied(format!(
        "{} needs the {} role; this credential has {}",
        policy.path.rsplit('/').next().unwrap_or(policy.path),
        policy.role.name(),
        principal.role.name()
    ))
}

fn reply(status: Status) -> http::Response<Body> {
    status.into_http::<Body>()
}

/// The field number of `request_id` in each RPC's request message, read
/// from the descriptor set so new RPCs need no code here.
fn request_id_fields() -> HashMap<String, u32> {
    use prost::Message;
    let Ok(set) = prost_types::FileDescriptorSet::decode(patron_proto::FILE_DESCRIPTOR_SET) else {
        return HashMap::new();
    };
    let mut message_fields = HashMap::new();
    for file in &set.file {
        for message in &file.message_type {
            let name = format!(".{}.{}", file.package(), message.name());
            if let Some(field) = message.field.iter().find(|field| field.name() == "request_id") {
                message_fields.insert(name, u32::try_from(field.number()).unwrap_or(0));
            }
        }
    }
    let mut fields = HashMap::new();
    for file in &set.file {
        for service in &file.service {
            for method in &service.method {
                if let Some(number) = message_fields.get(method.input_type()) {
                    fields.insert(format!("/{}.{}/{}", file.package(), service.name(), method.name()), *number);
                }
            }
        }
    }
    fields
}

/// Request ids for calls that bring none: a per-process random prefix and a
/// counter, unique without coordination.
struct RequestIds {
    prefix: String,
    next: AtomicU64,
}

impl RequestIds {
    fn new() -> Self {
        use std::hash::{BuildHasher, Hasher};
        let mut hasher = std::collections::hash_map::RandomState::new().build_hasher();
        hasher.write_u32(std::process::id());
        Self { prefix: format!("gw-{:08x}", hasher.finish() as u32), next: AtomicU64::new(1) }
    }

    /// Keeps a well-formed caller id, or sets a new one; returns it for the log.
    fn ensure(&self, headers: &mut http::HeaderMap) -> Option<Arc<str>> {
        if let Some(existing) = headers.get(REQUEST_ID_HEADER).and_then(|value| value.to_str().ok()) {
            let loggable = existing.len() <= 64
                && existing.bytes().all(|byte| byte.is_ascii_alphanumeric() || b"-_.:".contains(&byte));
            return loggable.then(|| Arc::from(existing));
        }
        let id = format!("{}-{}", self.prefix, self.next.fetch_add(1, Ordering::Relaxed));
        let value = http::HeaderValue::from_str(&id).ok()?;
        headers.insert(REQUEST_ID_HEADER, value);
        Some(Arc::from(id))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn request_id_fields_are_read_from_the_descriptors() {
        let fields = request_id_fields();
        assert_eq!(fields.get("/patron.profile.v1.ProfileService/RecordOrder"), Some(&1));
        assert_eq!(fields.get("/patron.profile.v1.ProfileService/GetCustomer"), None);
    }

    #[test]
    fn request_ids_are_kept_when_sane_and_made_when_missing() {
        let ids = RequestIds::new();
        let mut headers = http::HeaderMap::new();
        let made = ids.ensure(&mut headers).expect("made");
        assert_eq!(headers.get(REQUEST_ID_HEADER).and_then(|value| value.to_str().ok()), Some(&*made));
        let mut headers = http::HeaderMap::new();
        headers.insert(REQUEST_ID_HEADER, http::HeaderValue::from_static("abc-1"));
        assert_eq!(ids.ensure(&mut headers).as_deref(), Some("abc-1"));
        headers.insert(REQUEST_ID_HEADER, http::HeaderValue::from_static("ada@example.com"));
        assert_eq!(ids.ensure(&mut headers), None, "not logged");
    }
}
