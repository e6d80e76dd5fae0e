//! `ProfileService.EraseCustomer`, served by the gateway itself so that one
//! call erases a customer from every store. The profile service erases the
//! record and writes the audit; then the segmentation and churn services, in
//! parallel and within the caller's deadline, forget every row derived from
//! the customer (memberships of every model version, scores of every kept
//! run). If one of them fails, the caller gets UNAVAILABLE saying the erasure
//! is incomplete; repeating the call completes it, because the profile
//! answers an id it already erased with the original audit record and
//! forgetting is idempotent.

use std::time::{Duration, Instant};

use patron_proto::churn::v1 as churn;
use patron_proto::churn::v1::churn_service_client::ChurnServiceClient;
use patron_proto::profile::v1 as profile;
use patron_proto::profile::v1::profile_service_client::ProfileServiceClient;
use patron_proto::segmentation::v1 as segmentation;
use patron_proto::segmentation::v1::segmentation_service_client::SegmentationServiceClient;
use tonic::metadata::{AsciiMetadataValue, MetadataMap};
use tonic::{Code, Request, Response, Status};

use crate::call::DEADLINE_MARGIN;
use crate::connection::BackendConnection;
use crate::gate::{PRINCIPAL_HEADER, REQUEST_ID_HEADER};

/// The RPC the gateway serves in place of the profile service.
pub const ERASE_CUSTOMER_PATH: &str = "/patron.profile.v1.ProfileService/EraseCustomer";

/// The `request_id` of the ForgetCustomer calls when the call's own request
/// id does not fit theirs (at most 64 characters, printable ASCII here).
const FALLBACK_REQUEST_ID: &str = "gateway-erasure";

/// How a ForgetCustomer that met UNAVAILABLE is repeated (it is idempotent).
#[derive(Debug, Clone, Copy)]
pub struct Retry {
    /// Attempts, the first one included.
    pub attempts: u32,
    /// Pause before the second attempt; doubled before each further one.
    pub backoff: Duration,
}

#[derive(Clone)]
pub struct Erasure {
    profile: ProfileServiceClient<BackendConnection>,
    segmentation: SegmentationServiceClient<BackendConnection>,
    churn: ChurnServiceClient<BackendConnection>,
    internal_token: Option<AsciiMetadataValue>,
    retry: Retry,
}

/// What every backend call of one erasure carries: the caller's principal
/// and request id, and what is left of the deadline.
struct Forwarded {
    deadline: Instant,
    principal: Option<AsciiMetadataValue>,
    request_id: Option<AsciiMetadataValue>,
}

impl Erasure {
    pub fn new(
        profile: BackendConnection,
        segmentation: BackendConnection,
        churn: BackendConnection,
        internal_token: Option<&http::HeaderValue>,
        retry: Retry,
    ) -> Self {
        Self {
            profile: ProfileServiceClient::new(profile),
            segmentation: SegmentationServiceClient::new(segmentation),
            churn: ChurnServiceClient::new(churn),
            internal_token: internal_token.and_then(|token| AsciiMetadataValue::try_from(token.as_bytes()).ok()),
            retry,
        }
    }

    /// Answers one EraseCustomer call (already authenticated and authorised
    /// by the gate) before `deadline`.
    pub async fn serve(
        &self,
        request: http::Request<axum::body::Body>,
        deadline: Instant,
    ) -> http::Response<tonic::body::Body> {
        let erasure = self.clone();
        let service = tower::service_fn(move |request: Request<profile::EraseCustomerRequest>| {
            let erasure = erasure.clone();
            async move { erasure.erase(request, deadline).await }
        });
        let codec = tonic_prost::ProstCodec::<profile::EraseCustomerResponse, profile::EraseCustomerRequest>::default();
        tonic::server::Grpc::new(codec).unary(service, request).await
    }

    async fn erase(
        &self,
        request: Request<profile::EraseCustomerRequest>,
        deadline: Instant,
    ) -> Result<Response<profile::EraseCustomerResponse>, Status> {
        let call = Forwarded {
            deadline,
            principal: request.metadata().get(PRINCIPAL_HEADER).cloned(),
            request_id: request.metadata().get(REQUEST_ID_HEADER).cloned(),
        };
        let erase = request.into_inner();
        // The record first: if it fails (an unknown id, a bad request), nothing else is touched.
        let mut profile = self.profile.clone();
        let erased = within(deadline, profile.erase_customer(self.outgoing(erase.clone(), &call))).await?;

        let request_id = forget_request_id(&call);
        let (segmentation, churn) = tokio::join!(
            self.with_retries(&call, || {
                let mut client = self.segmentation.clone();
                let request = segmentation::ForgetCustomerRequest {
                    request_id: request_id.clone(),
                    customer_id: erase.customer_id.clone(),
                };
                let request = self.outgoing(request, &call);
                async move { client.forget_customer(request).await.map(|_| ()) }
            }),
            self.with_retries(&call, || {
                let mut client = self.churn.clone();
                let request = churn::ForgetCustomerRequest {
                    request_id: request_id.clone(),
                    customer_id: erase.customer_id.clone(),
                };
                let request = self.outgoing(request, &call);
                async move { client.forget_customer(request).await.map(|_| ()) }
            }),
        );
        let failed: Vec<(&str, Code)> = [("segmentation", segmentation), ("churn", churn)]
            .into_iter()
            .filter_map(|(service, outcome)| outcome.err().map(|status| (service, status.code())))
            .collect();
        if failed.is_empty() {
            // The message only: the profile's response headers are not ours to pass on.
            return Ok(Response::new(erased.into_inner()));
        }
        for (service, code) in &failed {
            tracing::warn!(service, ?code, "erasure incomplete: a service did not forget the customer");
        }
        Err(incomplete(&failed))
    }

    /// `send` once, and again after UNAVAILABLE while attempts and time remain.
    async fn with_retries<F, Fut>(&self, call: &Forwarded, mut send: F) -> Result<(), Status>
    where
        F: FnMut() -> Fut,
        Fut: Future<Output = Result<(), Status>>,
    {
        let mut pause = self.retry.backoff;
        let mut attempt = 1;
        loop {
            let outcome = within(call.deadline, send()).await;
            let unavailable = matches!(&outcome, Err(status) if status.code() == Code::Unavailable);
            if !unavailable || attempt >= self.retry.attempts.max(1) {
                return outcome;
            }
            if Instant::now() + pause + DEADLINE_MARGIN * 2 >= call.deadline {
                return outcome;
            }
            tokio::time::sleep(pause).await;
            pause = pause.saturating_mul(2);
            attempt += 1;
        }
    }

    /// A backend request carrying the internal credential, the caller's
    /// principal and request id, the trace context and the time left.
    fn outgoing<T>(&self, message: T, call: &Forwarded) -> Request<T> {
        let mut request = Request::new(message);
        let metadata: &mut MetadataMap = request.metadata_mut();
        if let Some(token) = &self.internal_token {
            metadata.insert(patron_common::upstream::INTERNAL_TOKEN_HEADER, token.clone());
        }
        if let Some(principal) = &call.principal {
            metadata.insert(PRINCIPAL_HEADER, principal.clone());
        }
        if let Some(id) = &call.request_id {
            metadata.insert(REQUEST_ID_HEADER, id.clone());
        }
        patron_common::telemetry::inject_current_context(metadata);
        request.set_timeout(call.deadline.saturating_duration_since(Instant::now()).max(Duration::from_millis(1)));
        request
    }
}

/// The call's request id when ForgetCustomer accepts it as its own.
fn forget_request_id(call: &Forwarded) -> String {
    call.request_id
        .as_ref()
        .and_then(|id| id.to_str().ok())
        .filter(|id| !id.is_empty() && id.len() <= 64)
        .unwrap_or(FALLBACK_REQUEST_ID)
        .to_owned()
}

/// Why the caller must repeat the call. Only services and codes are named:
/// a backend's message might quote the request.
fn incomplete(failed: &[(&str, Code)]) -> Status {
    let which: Vec<String> =
        failed.iter().map(|(service, code)| format!("the {service} service ({})", code.description())).collect();
    Status::unavailable(format!(
        "erasure incomplete: the customer's record is erased, but {} did not forget the customer; \
         repeat EraseCustomer with the same customer_id to complete it",
        which.join(" and ")
    ))
}

/// Runs a backend call, giving up just before the deadline so the answer
/// still reaches the caller in time.
async fn within<T>(deadline: Instant, call: impl Future<Output = Result<T, Status>>) -> Result<T, Status> {
    let give_up = deadline.checked_sub(DEADLINE_MARGIN * 2).unwrap_or(deadline);
    tokio::time::timeout_at(give_up.into(), call)
        .await
        .unwrap_or_else(|_| Err(Status::deadline_exceeded("deadline exceeded")))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_incomplete_message_names_the_services_and_asks_for_a_repeat() {
        let status = incomplete(&[("segmentation", Code::Unavailable), ("churn", Code::DeadlineExceeded)]);
        assert_eq!(status.code(), Code::Unavailable);
        assert!(status.message().contains("the segmentation service"), "{}", status.message());
        assert!(status.message().contains("the churn service"), "{}", status.message());
        assert!(status.message().contains("repeat EraseCustomer"), "{}", status.message());
    }

    #[test]
    fn forgets_carry_the_call_request_id_when_it_fits() {
        let call = |id: Option<&'static str>| Forwarded {
            deadline: Instant::now(),
            principal: None,
            request_id: id.map(AsciiMetadataValue::from_static),
        };
        assert_eq!(forget_request_id(&call(Some("gw-1234-7"))), "gw-1234-7");
        assert_eq!(forget_request_id(&call(None)), FALLBACK_REQUEST_ID);
        let long: &'static str = Box::leak("r".repeat(65).into_boxed_str());
        assert_eq!(forget_request_id(&call(Some(long))), FALLBACK_REQUEST_ID);
    }
}
