//! Retries, the circuit breaker, the per-backend concurrency limit and the
//! per-credential rate limit.

use std::time::{Duration, Instant};

use patron_gateway::config::LimitsConfig;
use tonic::Code;
use tonic_types::StatusExt;

use crate::helpers::{Script, TestGateway, call_raw};

const READ: &str = "/patron.churn.v1.ChurnService/GetJob";
const WRITE: &str = "/patron.churn.v1.ChurnService/ActivateModel";

#[tokio::test]
async fn reads_are_retried_after_unavailable() {
    let gateway = TestGateway::start().await;
    *gateway.backends.churn.script.lock().unwrap() = Script { unavailable_first: 2, ..Script::default() };
    call_raw(gateway.admin(), READ, None).await.expect("third attempt succeeds");
    assert_eq!(gateway.backends.churn.calls(), 3);
}

#[tokio::test]
async fn writes_are_retried_only_with_a_request_id() {
    use patron_proto::churn::v1::ActivateModelRequest;
    let gateway = TestGateway::start().await;
    let churn = &gateway.backends.churn;
    *churn.script.lock().unwrap() = Script { unavailable_first: 1, ..Script::default() };
    let status = call_raw(gateway.admin(), WRITE, None).await.expect_err("not retried");
    assert_eq!(status.code(), Code::Unavailable);
    assert_eq!(churn.calls(), 1);

    // With a request_id the backend makes the call idempotent, so it is repeated.
    *churn.script.lock().unwrap() = Script { unavailable_first: 2, ..Script::default() };
    let request = ActivateModelRequest { request_id: "activate-1".into(), model_id: "m-1".into() };
    let mut grpc = tonic::client::Grpc::new(gateway.admin());
    grpc.ready().await.expect("ready");
    let codec = tonic_prost::ProstCodec::<ActivateModelRequest, ()>::default();
    grpc.unary(tonic::Request::new(request), http::uri::PathAndQuery::from_static(WRITE), codec)
        .await
        .expect("retried");
    assert_eq!(churn.calls(), 3, "one refused call, then one refused and one accepted attempt");
}

#[tokio::test]
async fn a_failing_backend_opens_its_circuit_and_calls_fail_fast() {
    let gateway = TestGateway::start_with(|config| {
        config.limits = LimitsConfig {
            breaker_failures: 3,
            breaker_cooldown_ms: Duration::from_secs(60),
            retry_attempts: 1,
            ..config.limits.clone()
        };
    })
    .await;
    let churn = &gateway.backends.churn;
    *churn.script.lock().unwrap() = Script { code: Some(Code::Unavailable), ..Script::default() };
    for _ in 0..3 {
        assert_eq!(call_raw(gateway.admin(), READ, None).await.expect_err("down").code(), Code::Unavailable);
    }
    let status = call_raw(gateway.admin(), READ, None).await.expect_err("open");
    assert_eq!(status.code(), Code::Unavailable);
    assert!(status.message().contains("paused"), "{}", status.message());
    assert_eq!(churn.calls(), 3, "the open circuit kept the call from the backend");
    // Other backends are not affected.
    call_raw(gateway.admin(), "/patron.forecast.v1.ForecastService/GetJob", None).await.expect("forecast answers");
}

#[tokio::test]
async fn a_backend_at_its_concurrency_limit_sheds_calls() {
    let gateway = TestGateway::start_with(|config| {
        config.limits = LimitsConfig { backend_max_concurrent_calls: 1, ..config.limits.clone() };
    })
    .await;
    *gateway.backends.churn.script.lock().unwrap() = Script { delay: Duration::from_millis(500), ..Script::default() };
    let slow = tokio::spawn(call_raw(gateway.admin(), READ, None));
    tokio::time::sleep(Duration::from_millis(100)).await;
    let started = Instant::now();
    let shed = call_raw(gateway.admin(), READ, None).await.expect_err("shed");
    assert_eq!(shed.code(), Code::ResourceExhausted);
    assert!(started.elapsed() < Duration::from_millis(200), "shed at once");
    slow.await.expect("joined").expect("the first call completes");
    call_raw(gateway.admin(), READ, None).await.expect("the slot is free again");
}

#[tokio::test]
async fn a_credential_over_its_rate_gets_resource_exhausted_with_a_retry_delay() {
    let gateway = TestGateway::start_with(|config| {
        config.limits = LimitsConfig { rate_per_second: 2.0, rate_burst: 2.0, ..config.limits.clone() };
    })
    .await;
    call_raw(gateway.admin(), READ, None).await.expect("first");
    call_raw(gateway.admin(), READ, None).await.expect("second");
    let limited = call_raw(gateway.admin(), READ, None).await.expect_err("over the rate");
    assert_eq!(limited.code(), Code::ResourceExhausted);
    let retry = limited.get_details_retry_info().expect("RetryInfo attached");
    let delay = retry.retry_delay.expect("a delay");
    assert!(delay > Duration::ZERO && delay <= Duration::from_millis(500), "{delay:?}");
    // Another credential has its own budget.
    call_raw(gateway.as_role(Some(patron_gateway::rpc_table::Role::Reader)), READ, None).await.expect("own bucket");
}
