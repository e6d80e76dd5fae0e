//! GetCustomer360: parts from the profile, segmentation and churn services,
//! asked in parallel; a failing or slow backend marks its part unavailable
//! and the rest still comes back within the caller's deadline.

use std::time::{Duration, Instant};

use patron_proto::gateway::v1::GetCustomer360Request;
use patron_proto::gateway::v1::insight_service_client::InsightServiceClient;
use patron_proto::profile::v1 as profile;
use patron_proto::profile::v1::profile_service_client::ProfileServiceClient;
use tonic::Code;

use crate::helpers::{Script, TestGateway};

async fn seed(gateway: &TestGateway) {
    let mut client = ProfileServiceClient::new(gateway.admin());
    let customer = profile::Customer {
        customer_id: "c-360".into(),
        name: "Ada".into(),
        region: "north".into(),
        ..Default::default()
    };
    client
        .create_customer(profile::CreateCustomerRequest { request_id: String::new(), customer: Some(customer) })
        .await
        .expect("customer created");
}

fn request(customer_id: &str) -> tonic::Request<GetCustomer360Request> {
    tonic::Request::new(GetCustomer360Request { customer_id: customer_id.into(), recent_orders: 0 })
}

#[tokio::test]
async fn every_part_is_filled_when_every_backend_answers() {
    let gateway = TestGateway::start().await;
    seed(&gateway).await;
    let view = InsightServiceClient::new(gateway.as_role(Some(patron_gateway::rpc_table::Role::Reader)))
        .get_customer360(request("c-360"))
        .await
        .expect("360")
        .into_inner();
    let profile = view.profile.expect("profile part");
    assert!(profile.status.expect("status").available);
    assert_eq!(profile.customer.expect("customer").name, "Ada");
    assert!(view.segment.expect("segment").status.expect("status").available);
    assert!(view.churn.expect("churn").status.expect("status").available);
    // GetCustomerSegment then GetSegment for the description; GetCustomerScore.
    assert_eq!(gateway.backends.segmentation.calls(), 2);
    assert_eq!(gateway.backends.churn.calls(), 1);
    // The backends' audits name the caller, as on every relayed call.
    for backend in [&gateway.backends.segmentation, &gateway.backends.churn] {
        assert_eq!(backend.header("x-patron-principal").as_deref(), Some("test-reader"));
    }
    // A segment's description is asked once per model version.
    InsightServiceClient::new(gateway.admin()).get_customer360(request("c-360")).await.expect("again");
    assert_eq!(gateway.backends.segmentation.calls(), 3, "only GetCustomerSegment the second time");
    // One request id for the whole fan-out, with the internal credential.
    let churn_id = gateway.backends.churn.header("x-request-id").expect("request id propagated");
    assert_eq!(gateway.backends.segmentation.header("x-request-id"), Some(churn_id));
    assert!(gateway.backends.churn.header("x-patron-internal-token").is_some());
}

#[tokio::test]
async fn a_down_and_a_slow_backend_give_a_partial_view_within_the_deadline() {
    let gateway = TestGateway::start().await;
    seed(&gateway).await;
    *gateway.backends.segmentation.script.lock().unwrap() =
        Script { code: Some(Code::Unavailable), ..Script::default() };
    *gateway.backends.churn.script.lock().unwrap() = Script { delay: Duration::from_secs(5), ..Script::default() };

    let mut call = request("c-360");
    call.set_timeout(Duration::from_millis(400));
    let started = Instant::now();
    let view = InsightServiceClient::new(gateway.admin()).get_customer360(call).await.expect("partial").into_inner();
    let elapsed = started.elapsed();
    assert!(elapsed < Duration::from_millis(450), "answered within the caller's deadline: {elapsed:?}");

    let profile = view.profile.expect("profile");
    assert!(profile.status.expect("status").available);
    assert_eq!(profile.customer.expect("customer").customer_id, "c-360");
    let segment = view.segment.expect("segment").status.expect("status");
    assert_eq!((segment.available, segment.reason.as_str()), (false, "unavailable"));
    let churn = view.churn.expect("churn").status.expect("status");
    assert_eq!((churn.available, churn.reason.as_str()), (false, "deadline exceeded"));
}

#[tokio::test]
async fn an_unknown_customer_is_not_found_and_a_bad_request_names_its_fields() {
    let gateway = TestGateway::start().await;
    let mut client = InsightServiceClient::new(gateway.admin());
    let missing = client.get_customer360(request("nobody")).await.expect_err("no such customer");
    assert_eq!(missing.code(), Code::NotFound);

    let bad = GetCustomer360Request { customer_id: String::new(), recent_orders: 51 };
    let invalid = client.get_customer360(bad).await.expect_err("invalid");
    assert_eq!(invalid.code(), Code::InvalidArgument);
    assert!(
        invalid.message().contains("customer_id") && invalid.message().contains("recent_orders"),
        "{}",
        invalid.message()
    );
}
