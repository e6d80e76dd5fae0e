//! The shared server plumbing, proven on the profile service: health follows
//! the database, oversize messages are refused, shutdown drains.

use std::time::Duration;

use patron_proto::profile::v1 as pb;
use tonic::Code;
use tonic_health::pb::health_check_response::ServingStatus;

use crate::helpers::{AppOptions, DatabaseLink, Store, fresh_database, spawn_with};

#[tokio::test]
async fn health_follows_the_database() {
    let database_url = fresh_database(Store::Postgres, "patron_profile").await;
    let link = DatabaseLink::start("127.0.0.1:5432".parse().unwrap()).await;
    let relayed = database_url.replacen("127.0.0.1:5432", &format!("127.0.0.1:{}", link.port), 1);
    assert_ne!(relayed, database_url, "the test database goes through the relay");
    let mut app = spawn_with(AppOptions { database_url: relayed, ..AppOptions::on(Store::Sqlite).await }).await;
    app.client.get_customer(pb::GetCustomerRequest { customer_id: "x".into() }).await.unwrap_err();

    link.cut();
    let took = app.wait_for_health(ServingStatus::NotServing, Duration::from_secs(5)).await;
    assert!(took < Duration::from_secs(5));
    let started = std::time::Instant::now();
    let error = app.client.create_customer(pb::CreateCustomerRequest {
        request_id: String::new(),
        customer: Some(pb::Customer { customer_id: "c-1".into(), ..Default::default() }),
    });
    let error = error.await.unwrap_err();
    assert_eq!(error.code(), Code::Unavailable, "{error:?}");
    assert!(started.elapsed() < Duration::from_secs(5), "fails fast, does not hang");

    link.restore();
    app.wait_for_health(ServingStatus::Serving, Duration::from_secs(10)).await;
    app.client
        .create_customer(pb::CreateCustomerRequest {
            request_id: String::new(),
            customer: Some(pb::Customer { customer_id: "c-1".into(), ..Default::default() }),
        })
        .await
        .expect("recovers without restart");
    app.stop().await.unwrap();
}

#[tokio::test]
async fn oversize_message_is_refused_clearly() {
    let mut app = spawn_with(AppOptions { max_message_bytes: 64 * 1024, ..AppOptions::on(Store::Sqlite).await }).await;
    let huge = pb::Customer { customer_id: "c-1".into(), name: "x".repeat(100 * 1024), ..Default::default() };
    let status = app
        .client
        .create_customer(pb::CreateCustomerRequest { request_id: String::new(), customer: Some(huge) })
        .await
        .unwrap_err();
    assert_eq!(status.code(), Code::OutOfRange, "{status:?}");
    assert!(status.message().contains("message length too large"), "{}", status.message());
    app.stop().await.unwrap();
}

#[tokio::test]
async fn unknown_page_token_is_invalid_argument() {
    let mut app = spawn_with(AppOptions::on(Store::Sqlite).await).await;
    let status = app
        .client
        .list_customers(pb::ListCustomersRequest { page_token: "not-ours".into(), ..Default::default() })
        .await
        .unwrap_err();
    assert_eq!(status.code(), Code::InvalidArgument);
    assert!(status.message().contains("page_token"), "{}", status.message());
    app.stop().await.unwrap();
}

#[tokio::test]
async fn shutdown_lets_in_flight_calls_finish_and_refuses_new_ones() {
    let mut app = spawn_with(AppOptions::on(Store::Sqlite).await).await;
    // A burst of real calls, in flight when shutdown begins.
    let calls: Vec<_> = (0..40)
        .map(|index| {
            let mut client = app.client.clone();
            tokio::spawn(async move {
                let customer = pb::Customer { customer_id: format!("c-{index}"), ..Default::default() };
                client
                    .create_customer(pb::CreateCustomerRequest { request_id: String::new(), customer: Some(customer) })
                    .await
            })
        })
        .collect();
    tokio::time::sleep(Duration::from_millis(5)).await;
    let server = app.begin_shutdown();
    let mut finished = 0;
    for call in calls {
        match call.await.unwrap() {
            Ok(_) => finished += 1,
            // Calls that had not reached the server before it stopped accepting are refused, never cut off.
            Err(status) => assert_eq!(status.code(), Code::Unavailable, "{status:?}"),
        }
    }
    assert!(finished > 0, "in-flight calls completed");
    tokio::time::timeout(Duration::from_secs(10), server).await.expect("drain is bounded").unwrap().unwrap();
    let after = tokio::net::TcpStream::connect(app.addr).await;
    assert!(after.is_err(), "the listener is closed after shutdown");
}

#[tokio::test]
async fn calls_past_the_concurrency_limit_are_shed_but_health_answers() {
    let mut app = spawn_with(AppOptions { max_concurrent_calls: 1, ..AppOptions::on(Store::Sqlite).await }).await;
    // An import whose client has not sent its header yet stays in flight: it holds the only slot.
    let (requests, pending) = tokio::sync::mpsc::channel::<pb::ImportRecordsRequest>(1);
    let held = app
        .client
        .clone()
        .import_records(tokio_stream::wrappers::ReceiverStream::new(pending))
        .await
        .expect("import starts");
    let shed = app.client.get_customer(pb::GetCustomerRequest { customer_id: "c-1".into() }).await.unwrap_err();
    assert!(shed.message().contains("concurrency limit"), "{}", shed.message());
    assert_eq!(shed.code(), Code::ResourceExhausted, "{shed:?}");
    assert_eq!(app.health_status().await, Some(ServingStatus::Serving), "health is never shed");

    // The client ends its stream without a header: the call ends, and so does its hold.
    drop(requests);
    drop(held);
    let recovered = async {
        loop {
            match app.client.get_customer(pb::GetCustomerRequest { customer_id: "c-1".into() }).await {
                Err(status) if status.code() == Code::ResourceExhausted => {}
                Err(status) => {
                    assert_eq!(status.code(), Code::NotFound, "{status:?}");
                    break;
                }
                Ok(_) => break,
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    };
    tokio::time::timeout(Duration::from_secs(5), recovered).await.expect("the slot frees once the call ends");
    app.stop().await.unwrap();
}
