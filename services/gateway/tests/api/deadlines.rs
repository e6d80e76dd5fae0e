//! Deadlines: the caller's, or the class default, capped by the class
//! maximum; the remainder travels to the backend as grpc-timeout; expiry is
//! DEADLINE_EXCEEDED, never CANCELLED, and arrives on time.

use std::time::{Duration, Instant};

use patron_gateway::config::DeadlineConfig;
use tonic::Code;

use crate::helpers::{Script, TestGateway, call_raw};

const READ: &str = "/patron.churn.v1.ChurnService/GetJob";
const STREAM: &str = "/patron.churn.v1.ChurnService/WatchJob";

#[tokio::test]
async fn an_expired_deadline_is_deadline_exceeded_and_the_backend_sees_the_remainder() {
    let gateway = TestGateway::start().await;
    *gateway.backends.churn.script.lock().unwrap() = Script { delay: Duration::from_secs(5), ..Script::default() };

    let started = Instant::now();
    let status = call_raw(gateway.admin(), READ, Some(Duration::from_millis(300))).await.expect_err("too slow");
    let elapsed = started.elapsed();
    assert_eq!(status.code(), Code::DeadlineExceeded, "{status:?}");
    // Generous for a busy test machine, and far from the backend's 5 s.
    assert!(elapsed < Duration::from_millis(2_000), "answered at the deadline, not the backend's pace: {elapsed:?}");

    let timeout = gateway.backends.churn.header("grpc-timeout").expect("the remainder is passed on");
    let micros: u64 = timeout.trim_end_matches('u').parse().expect("microseconds");
    assert!(micros <= 300_000 && micros > 200_000, "{timeout}");

    // A streaming call is cut the same way.
    let status = call_raw(gateway.admin(), STREAM, Some(Duration::from_millis(200))).await.expect_err("too slow");
    assert_eq!(status.code(), Code::DeadlineExceeded, "{status:?}");
}

#[tokio::test]
async fn the_class_maximum_caps_a_longer_deadline_and_the_default_applies_without_one() {
    let gateway = TestGateway::start_with(|config| {
        config.deadlines.read =
            DeadlineConfig { default_ms: Duration::from_millis(200), max_ms: Duration::from_millis(400) };
    })
    .await;
    *gateway.backends.churn.script.lock().unwrap() = Script { delay: Duration::from_secs(3), ..Script::default() };

    let started = Instant::now();
    let capped = call_raw(gateway.admin(), READ, Some(Duration::from_secs(30))).await.expect_err("capped");
    assert_eq!(capped.code(), Code::DeadlineExceeded);
    let elapsed = started.elapsed();
    assert!(elapsed >= Duration::from_millis(390) && elapsed < Duration::from_millis(1500), "{elapsed:?}");

    let started = Instant::now();
    let defaulted = call_raw(gateway.admin(), READ, None).await.expect_err("default deadline");
    assert_eq!(defaulted.code(), Code::DeadlineExceeded);
    let elapsed = started.elapsed();
    assert!(elapsed >= Duration::from_millis(190) && elapsed < Duration::from_millis(1000), "{elapsed:?}");
}

#[tokio::test]
async fn a_backend_answering_cancelled_at_the_deadline_is_reported_as_deadline_exceeded() {
    let gateway = TestGateway::start().await;
    // The backend's own timer fires with the caller's deadline and answers CANCELLED, as tonic does.
    *gateway.backends.churn.script.lock().unwrap() =
        Script { delay: Duration::from_millis(250), code: Some(Code::Cancelled), ..Script::default() };
    let status = call_raw(gateway.admin(), READ, Some(Duration::from_millis(250))).await.expect_err("expired");
    assert_eq!(status.code(), Code::DeadlineExceeded, "{status:?}");
}
