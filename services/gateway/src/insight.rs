//! `InsightService.GetCustomer360`: one customer's whole picture, asked of
//! the profile, segmentation and churn services in parallel within the
//! caller's deadline. A part whose backend fails or is too slow comes back
//! marked unavailable with a reason; the call itself fails only when the
//! customer does not exist or the request is malformed.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use patron_common::Validator;
use patron_proto::churn::v1 as churn;
use patron_proto::churn::v1::churn_service_client::ChurnServiceClient;
use patron_proto::gateway::v1 as pb;
use patron_proto::gateway::v1::insight_service_server::InsightService;
use patron_proto::profile::v1 as profile;
use patron_proto::profile::v1::profile_service_client::ProfileServiceClient;
use patron_proto::segmentation::v1 as segmentation;
use patron_proto::segmentation::v1::segmentation_service_client::SegmentationServiceClient;
use tonic::{Code, Request, Response, Status};

use crate::call::DEADLINE_MARGIN;
use crate::connection::BackendConnection;

/// The deadline the gate fixed for this call, in the request's extensions.
#[derive(Debug, Clone, Copy)]
pub struct CallDeadline(pub Instant);

/// What the backend calls of one GetCustomer360 share.
struct Call {
    deadline: Instant,
    request_id: Option<tonic::metadata::AsciiMetadataValue>,
    /// The caller the gate authenticated, so backend audits name them.
    principal: Option<tonic::metadata::AsciiMetadataValue>,
}

const DEFAULT_RECENT_ORDERS: i32 = 5;
const MAX_RECENT_ORDERS: i32 = 50;
/// The profile service's limit on identifiers.
const MAX_ID_CHARS: usize = 128;

#[derive(Clone)]
pub struct Insight {
    profile: ProfileServiceClient<BackendConnection>,
    segmentation: SegmentationServiceClient<BackendConnection>,
    churn: ChurnServiceClient<BackendConnection>,
    internal_token: Option<http::HeaderValue>,
    /// Segment descriptions by (model_id, segment_id): a segment never
    /// changes within its model version, so one GetSegment per segment is enough.
    descriptions: Arc<Mutex<HashMap<(String, String), String>>>,
}

/// Bounds the description cache; models have a few dozen segments each.
const MAX_CACHED_DESCRIPTIONS: usize = 4096;

impl Insight {
    pub fn new(
        profile: BackendConnection,
        segmentation: BackendConnection,
        churn: BackendConnection,
        internal_token: Option<http::HeaderValue>,
    ) -> Self {
        Self {
            profile: ProfileServiceClient::new(profile),
            segmentation: SegmentationServiceClient::new(segmentation),
            churn: ChurnServiceClient::new(churn),
            internal_token,
            descriptions: Arc::default(),
        }
    }

    /// A request to a backend carrying the internal credential, the trace
    /// context and what is left of the deadline.
    fn outgoing<T>(&self, message: T, call: &Call) -> Request<T> {
        let deadline = call.deadline;
        let mut request = Request::new(message);
        if let Some(id) = &call.request_id {
            request.metadata_mut().insert(crate::gate::REQUEST_ID_HEADER, id.clone());
        }
        if let Some(principal) = &call.principal {
            request.metadata_mut().insert(crate::gate::PRINCIPAL_HEADER, principal.clone());
        }
        if let Some(token) = &self.internal_token
            && let Ok(value) = tonic::metadata::AsciiMetadataValue::try_from(token.as_bytes())
        {
            request.metadata_mut().insert(patron_common::upstream::INTERNAL_TOKEN_HEADER, value);
        }
        patron_common::telemetry::inject_current_context(request.metadata_mut());
        request.set_timeout(remaining(deadline));
        request
    }

    async fn profile_part(
        &self,
        customer_id: &str,
        recent_orders: i32,
        call: &Call,
    ) -> Result<pb::ProfilePart, Status> {
        let deadline = call.deadline;
        let request =
            profile::GetCustomerSummaryRequest { customer_id: customer_id.to_owned(), as_of: None, recent_orders };
        let mut client = self.profile.clone();
        match within(deadline, client.get_customer_summary(self.outgoing(request, call))).await {
            Ok(summary) => {
                let summary = summary.into_inner();
                Ok(pb::ProfilePart {
                    status: Some(available()),
                    customer: summary.customer,
                    orders: summary.orders,
                    revenue: summary.revenue,
                    average_order_value: summary.average_order_value,
                    last_order_time: summary.last_order_time,
                    last_nps: summary.last_nps,
                    last_csat: summary.last_csat,
                    contacts: summary.contacts,
                    complaints: summary.complaints,
                    recent_orders: summary.recent_orders,
                })
            }
            // The one failure that fails the call: there is no such customer.
            Err(status) if status.code() == Code::NotFound => Err(Status::not_found(status.message().to_owned())),
            Err(status) => Ok(pb::ProfilePart { status: Some(unavailable(&status)), ..Default::default() }),
        }
    }

    async fn segment_part(&self, customer_id: &str, call: &Call) -> pb::SegmentPart {
        let deadline = call.deadline;
        let mut client = self.segmentation.clone();
        let request =
            segmentation::GetCustomerSegmentRequest { customer_id: customer_id.to_owned(), model_id: String::new() };
        let assignment = match within(deadline, client.get_customer_segment(self.outgoing(request, call))).await {
            Ok(response) => response.into_inner().assignment.unwrap_or_default(),
            Err(status) => return pb::SegmentPart { status: Some(unavailable(&status)), ..Default::default() },
        };
        let description = self.segment_description(&mut client, &assignment, call).await;
        pb::SegmentPart {
            status: Some(available()),
            model_id: assignment.model_id,
            segment_id: assignment.segment_id,
            name: assignment.segment_name,
            description,
        }
    }

    /// The description is a nicety: without it the assignment still stands.
    async fn segment_description(
        &self,
        client: &mut SegmentationServiceClient<BackendConnection>,
        assignment: &segmentation::SegmentAssignment,
        call: &Call,
    ) -> String {
        let key = (assignment.model_id.clone(), assignment.segment_id.clone());
        if let Some(description) = self.cached(&key) {
            return description;
        }
        let request = segmentation::GetSegmentRequest { model_id: key.0.clone(), segment_id: key.1.clone() };
        let Ok(response) = within(call.deadline, client.get_segment(self.outgoing(request, call))).await else {
            return String::new();
        };
        let description = response.into_inner().segment.map(|segment| segment.description).unwrap_or_default();
        let mut cache = self.descriptions.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        if cache.len() >= MAX_CACHED_DESCRIPTIONS {
            cache.clear();
        }
        cache.insert(key, description.clone());
        description
    }

    fn cached(&self, key: &(String, String)) -> Option<String> {
        self.descriptions.lock().unwrap_or_else(std::sync::PoisonError::into_inner).get(key).cloned()
    }

    async fn churn_part(&self, customer_id: &str, call: &Call) -> pb::ChurnPart {
        let deadline = call.deadline;
        let mut client = self.churn.clone();
        let request = churn::GetCustomerScoreRequest { customer_id: customer_id.to_owned() };
        let score = match within(deadline, client.get_customer_score(self.outgoing(request, call))).await {
            Ok(response) => response.into_inner().score.unwrap_or_default(),
            Err(status) => return pb::ChurnPart { status: Some(unavailable(&status)), ..Default::default() },
        };
        let next_order = score.next_order.unwrap_or_default();
        pb::ChurnPart {
            status: Some(available()),
            model_id: score.model_id,
            churn_probability: score.churn_probability,
            band: risk_band(score.risk_band),
            probability_alive: score.probability_alive,
            expected_next_order_time: next_order.expected_time,
            next_order_probability: next_order.probability,
            clv: score.clv,
            top_factors: score
                .top_factors
                .into_iter()
                .map(|factor| pb::ChurnFactor { feature: factor.feature, contribution: factor.contribution })
                .collect(),
        }
    }
}

#[tonic::async_trait]
impl InsightService for Insight {
    async fn get_customer360(
        &self,
        request: Request<pb::GetCustomer360Request>,
    ) -> Result<Response<pb::GetCustomer360Response>, Status> {
        let deadline = request
            .extensions()
            .get::<CallDeadline>()
            .map(|deadline| deadline.0)
            .unwrap_or_else(|| Instant::now() + Duration::from_secs(10));
        let request_id = request.metadata().get(crate::gate::REQUEST_ID_HEADER).cloned();
        // Both set by the gate, which replaced any value the caller sent.
        let principal = request.metadata().get(crate::gate::PRINCIPAL_HEADER).cloned();
        let call = Call { deadline, request_id, principal };
        let request = request.into_inner();
        let mut validator = Validator::new();
        validator.identifier("customer_id", &request.customer_id, MAX_ID_CHARS);
        validator.check(
            (0..=MAX_RECENT_ORDERS).contains(&request.recent_orders),
            "recent_orders",
            format!("must be between 0 and {MAX_RECENT_ORDERS}"),
        );
        validator.finish().map_err(Status::from)?;
        let recent_orders = if request.recent_orders == 0 { DEFAULT_RECENT_ORDERS } else { request.recent_orders };

        let customer_id = request.customer_id.as_str();
        let (profile, segment, churn) = tokio::join!(
            self.profile_part(customer_id, recent_orders, &call),
            self.segment_part(customer_id, &call),
            self.churn_part(customer_id, &call),
        );
        Ok(Response::new(pb::GetCustomer360Response {
            profile: Some(profile?),
            segment: Some(segment),
            churn: Some(churn),
        }))
    }
}

/// Runs a backend call, giving up just before the deadline so the answer
/// (with this part unavailable) still reaches the caller in time.
async fn within<T>(deadline: Instant, call: impl Future<Output = Result<T, Status>>) -> Result<T, Status> {
    let give_up = deadline.checked_sub(DEADLINE_MARGIN * 2).unwrap_or(deadline);
    tokio::time::timeout_at(give_up.into(), call)
        .await
        .unwrap_or_else(|_| Err(Status::deadline_exceeded("deadline exceeded")))
}

fn remaining(deadline: Instant) -> Duration {
    deadline.saturating_duration_since(Instant::now()).max(Duration::from_millis(1))
}

fn available() -> pb::PartStatus {
    pb::PartStatus { available: true, reason: String::new() }
}

fn unavailable(status: &Status) -> pb::PartStatus {
    let reason = match status.code() {
        Code::DeadlineExceeded | Code::Cancelled => "deadline exceeded".to_owned(),
        Code::Unavailable => "unavailable".to_owned(),
        Code::NotFound => "no data for this customer".to_owned(),
        Code::Unimplemented => "not served yet".to_owned(),
        Code::FailedPrecondition => format!("not ready: {}", status.message()),
        Code::PermissionDenied | Code::Unauthenticated => "refused by the backend".to_owned(),
        other => format!("failed: {}", other.description()),
    };
    pb::PartStatus { available: false, reason }
}

fn risk_band(band: i32) -> i32 {
    let band = match churn::RiskBand::try_from(band) {
        Ok(churn::RiskBand::Low) => pb::ChurnRiskBand::Low,
        Ok(churn::RiskBand::Medium) => pb::ChurnRiskBand::Medium,
        Ok(churn::RiskBand::High) => pb::ChurnRiskBand::High,
        _ => pb::ChurnRiskBand::Unspecified,
    };
    band as i32
}
