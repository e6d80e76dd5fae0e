//! EraseCustomer through the gateway erases everywhere: the real profile
//! service erases the record, then the segmentation and churn services are
//! told to forget the customer. A model service that is down leaves the
//! erasure incomplete, which the caller is told (UNAVAILABLE) and which a
//! repeat of the call completes.

use patron_proto::profile::v1 as profile;
use patron_proto::profile::v1::profile_service_client::ProfileServiceClient;
use tonic::Code;

use crate::helpers::{Authed, TestGateway};

const SEGMENTATION_FORGET: &str = "/patron.segmentation.v1.SegmentationService/ForgetCustomer";
const CHURN_FORGET: &str = "/patron.churn.v1.ChurnService/ForgetCustomer";

async fn create(client: &mut ProfileServiceClient<Authed>, customer_id: &str) {
    let customer = profile::Customer {
        customer_id: customer_id.into(),
        name: "Ada".into(),
        email: "ada@example.com".into(),
        ..Default::default()
    };
    client
        .create_customer(profile::CreateCustomerRequest { request_id: String::new(), customer: Some(customer) })
        .await
        .expect("customer created");
}

fn erase(customer_id: &str) -> profile::EraseCustomerRequest {
    profile::EraseCustomerRequest {
        request_id: format!("erase-{customer_id}"),
        customer_id: customer_id.into(),
        reason: "ticket 42".into(),
    }
}

async fn assert_gone(client: &mut ProfileServiceClient<Authed>, customer_id: &str) {
    let gone = client
        .get_customer(profile::GetCustomerRequest { customer_id: customer_id.into() })
        .await
        .expect_err("the record is erased");
    assert_eq!(gone.code(), Code::NotFound);
}

#[tokio::test]
async fn erase_customer_erases_the_record_then_forgets_in_segmentation_and_churn() {
    let gateway = TestGateway::start().await;
    let mut client = ProfileServiceClient::new(gateway.admin());
    create(&mut client, "c-erase").await;

    let erased = client.erase_customer(erase("c-erase")).await.expect("erased everywhere").into_inner();
    assert_eq!(erased.customer_id_hash.len(), 64);
    assert_gone(&mut client, "c-erase").await;
    for (backend, path) in
        [(&gateway.backends.segmentation, SEGMENTATION_FORGET), (&gateway.backends.churn, CHURN_FORGET)]
    {
        assert_eq!(backend.calls(), 1, "{path}");
        assert_eq!(backend.path(), path);
        assert_eq!(backend.header("x-patron-principal").as_deref(), Some("test-admin"), "who erased, for {path}");
        assert!(backend.header("x-patron-internal-token").is_some(), "{path} gets the internal credential");
    }

    // An id the profile does not know reaches no other service.
    let unknown = client.erase_customer(erase("c-never")).await.expect_err("unknown id");
    assert_eq!(unknown.code(), Code::NotFound);
    assert_eq!((gateway.backends.segmentation.calls(), gateway.backends.churn.calls()), (1, 1));

    // Bad input is the profile's INVALID_ARGUMENT, naming the field.
    let empty = client.erase_customer(erase("")).await.expect_err("empty id");
    assert_eq!(empty.code(), Code::InvalidArgument);
    assert!(empty.message().contains("customer_id"), "{}", empty.message());
}

#[tokio::test]
async fn a_repeat_completes_an_erasure_that_a_down_service_left_incomplete() {
    let gateway = TestGateway::start().await;
    let mut client = ProfileServiceClient::new(gateway.admin());
    create(&mut client, "c-retry").await;
    gateway.backends.churn.script.lock().expect("lock").code = Some(Code::Unavailable);

    let incomplete = client.erase_customer(erase("c-retry")).await.expect_err("churn is down");
    assert_eq!(incomplete.code(), Code::Unavailable, "{incomplete:?}");
    assert!(incomplete.message().contains("erasure incomplete"), "{}", incomplete.message());
    assert!(incomplete.message().contains("churn"), "{}", incomplete.message());
    assert!(!incomplete.message().contains("segmentation"), "segmentation forgot: {}", incomplete.message());
    assert!(!incomplete.message().contains("c-retry"), "the id is not echoed: {}", incomplete.message());
    assert_gone(&mut client, "c-retry").await;
    assert!(gateway.backends.churn.calls() >= 1);

    // Churn is back: the same call completes the erasure.
    gateway.backends.churn.script.lock().expect("lock").code = None;
    let churn_calls = gateway.backends.churn.calls();
    let segmentation_calls = gateway.backends.segmentation.calls();
    let completed = client.erase_customer(erase("c-retry")).await.expect("completed by the repeat").into_inner();
    assert_eq!(completed.customer_id_hash.len(), 64);
    assert_eq!(completed.orders_anonymised, 0, "the record was erased by the first call");
    assert_eq!(gateway.backends.churn.calls(), churn_calls + 1);
    assert_eq!(gateway.backends.churn.path(), CHURN_FORGET);
    assert_eq!(gateway.backends.segmentation.calls(), segmentation_calls + 1, "forgetting again is harmless");

    // And again: still the same audit record.
    let again = client.erase_customer(erase("c-retry")).await.expect("idempotent").into_inner();
    assert_eq!((again.customer_id_hash, again.erase_time), (completed.customer_id_hash, completed.erase_time));
}

#[tokio::test]
async fn a_service_that_answers_too_late_leaves_the_erasure_incomplete_within_the_deadline() {
    let gateway = TestGateway::start().await;
    let mut client = ProfileServiceClient::new(gateway.admin());
    create(&mut client, "c-slow").await;
    gateway.backends.segmentation.script.lock().expect("lock").delay = std::time::Duration::from_secs(30);

    // The answer comes before the caller's deadline (else it would be DEADLINE_EXCEEDED).
    let mut request = tonic::Request::new(erase("c-slow"));
    request.set_timeout(std::time::Duration::from_secs(2));
    let incomplete = client.erase_customer(request).await.expect_err("segmentation is too slow");
    assert_eq!(incomplete.code(), Code::Unavailable, "{incomplete:?}");
    assert!(incomplete.message().contains("the segmentation service"), "{}", incomplete.message());
    assert!(!incomplete.message().contains("churn"), "churn forgot in parallel: {}", incomplete.message());
    assert_eq!(gateway.backends.churn.calls(), 1);
    assert_gone(&mut client, "c-slow").await;
}
