//! Hostile requests on the gateway's own InsightService, with the real
//! profile service (holding customer "c-1", an id the generator names) and
//! fake segmentation and churn backends behind it: random and boundary field
//! values come back OK or with a documented code, never a panic or an
//! internal error (see `patron_common::testing::hostile`).

use patron_common::testing::hostile::every_rpc_survives_hostile_requests;
use patron_proto::profile::v1 as profile;
use patron_proto::profile::v1::profile_service_client::ProfileServiceClient;

use crate::helpers::TestGateway;

/// Requests per RPC: enough to reach every field's boundary values in
/// `make test`; `make fuzz` does the volume.
const CASES: u32 = 24;

#[test]
fn every_insight_rpc_answers_hostile_requests() {
    let runtime = tokio::runtime::Runtime::new().expect("a runtime");
    let gateway = runtime.block_on(TestGateway::start());
    let admin = runtime.block_on(async {
        let customer = profile::Customer { customer_id: "c-1".into(), name: "Ada".into(), ..Default::default() };
        ProfileServiceClient::new(gateway.admin())
            .create_customer(profile::CreateCustomerRequest { request_id: String::new(), customer: Some(customer) })
            .await
            .expect("customer created");
        gateway.admin()
    });
    every_rpc_survives_hostile_requests(&runtime, &admin, "patron.gateway.v1.InsightService", CASES);
    drop(gateway);
}
