//! Backends trust only the gateway: a direct call without the internal
//! token is refused, health stays open, and the gateway's calls get through
//! without the caller's bearer token reaching the backend.

use patron_proto::profile::v1 as pb;
use patron_proto::profile::v1::profile_service_client::ProfileServiceClient;
use tonic::Code;
use tonic_health::pb::HealthCheckRequest;
use tonic_health::pb::health_client::HealthClient;

use crate::helpers::{INTERNAL_TOKEN, TestGateway, call_raw, channel, with_internal_token};

#[tokio::test]
async fn a_direct_call_without_the_internal_token_is_refused() {
    let gateway = TestGateway::start().await;
    let profile = gateway.backends.profile.addr;
    let request = || pb::GetCustomerRequest { customer_id: "c-1".into() };

    let refused = ProfileServiceClient::new(channel(profile)).get_customer(request()).await.expect_err("refused");
    assert_eq!(refused.code(), Code::Unauthenticated);
    let wrong = ProfileServiceClient::new(with_internal_token(channel(profile), Some("internal-test-tokeN")))
        .get_customer(request())
        .await
        .expect_err("refused");
    assert_eq!(wrong.code(), Code::Unauthenticated);
    let peer = ProfileServiceClient::new(with_internal_token(channel(profile), Some(INTERNAL_TOKEN)))
        .get_customer(request())
        .await
        .expect_err("no such customer");
    assert_eq!(peer.code(), Code::NotFound, "a peer with the token reaches the handler");

    // Probes need no token.
    HealthClient::new(channel(profile)).check(HealthCheckRequest { service: String::new() }).await.expect("open");

    // Through the gateway, the internal token is added and the bearer token removed.
    let through = ProfileServiceClient::new(gateway.admin()).get_customer(request()).await.expect_err("not found");
    assert_eq!(through.code(), Code::NotFound);
    call_raw(gateway.admin(), "/patron.churn.v1.ChurnService/GetJob", None).await.expect("fake answers");
    let churn = &gateway.backends.churn;
    assert_eq!(churn.header("x-patron-internal-token").as_deref(), Some(INTERNAL_TOKEN));
    assert_eq!(churn.header("authorization"), None, "the caller's token stays at the gateway");
    assert!(churn.header("x-request-id").is_some_and(|id| id.starts_with("gw-")), "a request id is added");
}
