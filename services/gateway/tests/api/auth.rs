//! Every public RPC, generated from the role table (itself checked against
//! the descriptor set): no token gets UNAUTHENTICATED, the role just below
//! the required one gets PERMISSION_DENIED, the required role gets through.

use patron_gateway::rpc_table::{RPC_TABLE, Role};
use tonic::Code;

use crate::helpers::{TestGateway, call_raw, channel, with_bearer};

#[tokio::test]
async fn every_rpc_refuses_missing_and_insufficient_credentials_and_admits_its_role() {
    let gateway = TestGateway::start().await;
    for entry in RPC_TABLE {
        let anonymous = call_raw(gateway.as_role(None), entry.path, None).await.expect_err("refused");
        assert_eq!(anonymous.code(), Code::Unauthenticated, "{} without a token: {anonymous:?}", entry.path);

        if let Some(below) = entry.role.below() {
            let denied = call_raw(gateway.as_role(Some(below)), entry.path, None).await.expect_err("denied");
            assert_eq!(denied.code(), Code::PermissionDenied, "{} as {}: {denied:?}", entry.path, below.name());
            assert!(denied.message().contains(entry.role.name()), "names the role needed: {}", denied.message());
        }

        // Past the gate, the backend answers (an empty message is often
        // invalid, or the fake accepts it): anything but the gate's refusals.
        let admitted = call_raw(gateway.as_role(Some(entry.role)), entry.path, None).await;
        if let Err(status) = admitted {
            assert!(
                !matches!(status.code(), Code::Unauthenticated | Code::PermissionDenied | Code::Unimplemented),
                "{} as {}: {status:?}",
                entry.path,
                entry.role.name()
            );
        }
    }
}

#[tokio::test]
async fn a_wrong_key_or_scheme_is_unauthenticated_and_unknown_methods_are_unimplemented() {
    let gateway = TestGateway::start().await;
    let path = "/patron.profile.v1.ProfileService/GetCustomer";
    let wrong = call_raw(with_bearer(channel(gateway.addr), Some("pak_guess")), path, None).await.expect_err("refused");
    assert_eq!(wrong.code(), Code::Unauthenticated);
    assert!(!wrong.message().contains("pak_guess"), "the token is never echoed: {}", wrong.message());

    let unknown =
        call_raw(gateway.admin(), "/patron.profile.v1.ProfileService/DropEverything", None).await.expect_err("unknown");
    assert_eq!(unknown.code(), Code::Unimplemented);
    let other = call_raw(gateway.admin(), "/some.other.Service/Call", None).await.expect_err("unknown");
    assert_eq!(other.code(), Code::Unimplemented);
}

#[tokio::test]
async fn health_and_reflection_need_no_credential() {
    use tonic_health::pb::HealthCheckRequest;
    use tonic_health::pb::health_client::HealthClient;
    let gateway = TestGateway::start().await;
    let status = HealthClient::new(channel(gateway.addr))
        .check(HealthCheckRequest { service: "patron.gateway.v1.InsightService".into() })
        .await
        .expect("health answers anonymously")
        .into_inner()
        .status;
    assert_eq!(status, tonic_health::pb::health_check_response::ServingStatus::Serving as i32);
}

#[tokio::test]
async fn an_admin_key_reaches_erasure_and_a_modeler_key_does_not() {
    use patron_proto::profile::v1::EraseCustomerRequest;
    use patron_proto::profile::v1::profile_service_client::ProfileServiceClient;
    let gateway = TestGateway::start().await;
    let request = || EraseCustomerRequest { customer_id: "nobody".into(), ..Default::default() };
    let denied = ProfileServiceClient::new(gateway.as_role(Some(Role::Modeler)))
        .erase_customer(request())
        .await
        .expect_err("modeler may not erase");
    assert_eq!(denied.code(), Code::PermissionDenied);
    let reached = ProfileServiceClient::new(gateway.admin()).erase_customer(request()).await;
    if let Err(status) = reached {
        assert_eq!(status.code(), Code::NotFound, "the profile service answered: {status:?}");
    }
}
