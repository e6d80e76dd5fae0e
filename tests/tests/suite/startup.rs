use std::time::Duration;

use patron_proto::profile::v1 as pb;
use patron_proto::profile::v1::profile_service_client::ProfileServiceClient;
use patron_tests::Suite;
use tokio_stream::StreamExt;
use tonic::Code;
use tonic_health::pb::HealthCheckRequest;
use tonic_health::pb::health_client::HealthClient;
use tonic_reflection::pb::v1alpha::ServerReflectionRequest;
use tonic_reflection::pb::v1alpha::server_reflection_client::ServerReflectionClient;
use tonic_reflection::pb::v1alpha::server_reflection_request::MessageRequest;
use tonic_reflection::pb::v1alpha::server_reflection_response::MessageResponse;

/// What `grpcurl -plaintext HOST list` asks: reflection v1alpha's list_services.
async fn listed_services(channel: tonic::transport::Channel) -> Vec<String> {
    let mut client = ServerReflectionClient::new(channel);
    let request = ServerReflectionRequest {
        host: String::new(),
        message_request: Some(MessageRequest::ListServices(String::new())),
    };
    let mut responses =
        client.server_reflection_info(tokio_stream::iter([request])).await.expect("reflection answers").into_inner();
    let response = responses.next().await.expect("one response").expect("ok");
    match response.message_response {
        Some(MessageResponse::ListServicesResponse(list)) => {
            list.service.into_iter().map(|service| service.name).collect()
        }
        other => panic!("unexpected reflection answer {other:?}"),
    }
}

#[tokio::test]
async fn patron_up_runs_five_serving_processes_behind_one_gateway() {
    let _shared = crate::alone::shared().await; // the overload test runs alone
    let suite = Suite::up().await;
    assert!(suite.banner.iter().any(|line| line.contains("grpcurl -plaintext")), "{:#?}", suite.banner);

    // Five processes, each answering health SERVING on its own port.
    for offset in [0, 10, 11, 12, 13] {
        let channel = tonic::transport::Channel::from_shared(format!("http://127.0.0.1:{}", suite.port(offset)))
            .unwrap()
            .connect_lazy();
        let status = HealthClient::new(channel)
            .check(HealthCheckRequest { service: String::new() })
            .await
            .unwrap()
            .into_inner()
            .status;
        assert_eq!(
            status,
            tonic_health::pb::health_check_response::ServingStatus::Serving as i32,
            "port offset {offset}"
        );
    }

    // `grpcurl list` on the gateway lists every Patron service, without a credential.
    let services = listed_services(suite.channel(0)).await;
    for expected in [
        "patron.profile.v1.ProfileService",
        "patron.segmentation.v1.SegmentationService",
        "patron.forecast.v1.ForecastService",
        "patron.churn.v1.ChurnService",
        "patron.gateway.v1.InsightService",
        "grpc.health.v1.Health",
    ] {
        assert!(services.iter().any(|service| service == expected), "{expected} missing from {services:?}");
    }

    // The same stubs work against the gateway as against the service.
    let mut profile = ProfileServiceClient::new(suite.gateway());
    let customer = pb::Customer { customer_id: "c-1".into(), name: "Ada".into(), ..Default::default() };
    profile
        .create_customer(pb::CreateCustomerRequest { request_id: "r-1".into(), customer: Some(customer) })
        .await
        .unwrap();
    let fetched =
        profile.get_customer(pb::GetCustomerRequest { customer_id: "c-1".into() }).await.unwrap().into_inner();
    assert_eq!(fetched.customer.unwrap().name, "Ada");
    let invalid = profile.get_customer(pb::GetCustomerRequest { customer_id: String::new() }).await.unwrap_err();
    assert_eq!(invalid.code(), Code::InvalidArgument);
    assert!(invalid.message().contains("customer_id"), "{}", invalid.message());

    // Metrics count the calls, with their status codes.
    let metrics = http_get(suite.port(21), "/metrics").await;
    assert!(
        metrics.contains("patron_rpc_calls_total{service=\"patron.profile.v1.ProfileService\",method=\"GetCustomer\",code=\"InvalidArgument\"} 1"),
        "{metrics}"
    );

    let status = suite.terminate().await;
    assert!(status.success(), "patron up exits cleanly on SIGTERM: {status}");
}

/// A minimal HTTP/1.0 GET, enough for a metrics endpoint on loopback.
async fn http_get(port: u16, path: &str) -> String {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let mut stream = tokio::net::TcpStream::connect(("127.0.0.1", port)).await.expect("metrics endpoint listens");
    stream.write_all(format!("GET {path} HTTP/1.0\r\nHost: localhost\r\n\r\n").as_bytes()).await.unwrap();
    let mut body = String::new();
    tokio::time::timeout(Duration::from_secs(5), stream.read_to_string(&mut body)).await.unwrap().unwrap();
    body
}
