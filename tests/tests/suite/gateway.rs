//! The gateway in a full run: every public RPC needs a token and reaches its
//! backend with one, backends refuse direct calls without the internal
//! token, the logs of the whole run hold no personal data or secret, and a
//! backend killed mid-test costs only its own calls and its 360 part; a
//! direct caller whose deadline passes hears DEADLINE_EXCEEDED.

use std::path::Path;
use std::process::Stdio;
use std::time::{Duration, Instant};

use patron_gateway::rpc_table::RPC_TABLE;
use patron_proto::gateway::v1::GetCustomer360Request;
use patron_proto::gateway::v1::insight_service_client::InsightServiceClient;
use patron_proto::profile::v1 as pb;
use patron_proto::profile::v1::profile_service_client::ProfileServiceClient;
use patron_tests::{Credential, Suite, binaries_dir, call_raw, free_port_base};
use tokio::process::{Child, Command};
use tonic::Code;
use tonic::service::interceptor::InterceptedService;
use tonic::transport::Channel;

#[tokio::test]
async fn every_rpc_needs_a_token_backends_need_the_gateway_and_the_logs_hold_no_personal_data() {
    let _shared = crate::alone::shared().await; // the overload test runs alone
    let suite = Suite::up_with_demo(200).await;
    assert!(suite.banner.iter().any(|line| line.contains(&suite.dev_key)), "the banner shows the development key");

    for entry in RPC_TABLE {
        let anonymous = call_raw(suite.gateway_with(None), entry.path).await.expect_err("no token");
        assert_eq!(anonymous.code(), Code::Unauthenticated, "{}: {anonymous:?}", entry.path);
        let guessed = call_raw(suite.gateway_with(Some("pak_guess")), entry.path).await.expect_err("bad token");
        assert_eq!(guessed.code(), Code::Unauthenticated, "{}: {guessed:?}", entry.path);
        if let Err(status) = call_raw(suite.gateway(), entry.path).await {
            // The backend's own answer (a service still being built answers
            // UNIMPLEMENTED itself), never the gateway's refusal.
            let refused_by_gateway = matches!(status.code(), Code::Unauthenticated | Code::PermissionDenied)
                || (status.code() == Code::Unimplemented && status.message() == "no such method");
            assert!(!refused_by_gateway, "{} as admin reaches its backend: {status:?}", entry.path);
        }
    }

    // Backends refuse callers without the internal token, and accept a peer that has it.
    for (offset, path) in [
        (10, "/patron.profile.v1.ProfileService/GetCustomer"),
        (11, "/patron.segmentation.v1.SegmentationService/GetJob"),
        (12, "/patron.forecast.v1.ForecastService/GetJob"),
        (13, "/patron.churn.v1.ChurnService/GetJob"),
    ] {
        let direct = call_raw(suite.channel(offset), path).await.expect_err("refused");
        assert_eq!(direct.code(), Code::Unauthenticated, "{path}: {direct:?}");
        if let Err(status) = call_raw(suite.backend_as_peer(offset), path).await {
            assert_ne!(status.code(), Code::Unauthenticated, "{path}: {status:?}");
        }
    }

    // Customer-360 of a demo customer, through the gateway.
    let view = InsightServiceClient::new(suite.gateway())
        .get_customer360(GetCustomer360Request { customer_id: "cus-000001".into(), recent_orders: 3 })
        .await
        .expect("360")
        .into_inner();
    let profile = view.profile.expect("profile part");
    assert!(profile.status.expect("status").available);
    assert!(profile.orders > 0 && !profile.recent_orders.is_empty(), "{} orders", profile.orders);

    // Personal data and secrets that passed through this run.
    let mut client = ProfileServiceClient::new(suite.gateway());
    let customer = pb::Customer {
        customer_id: "log-probe".into(),
        name: "Probe Person".into(),
        email: "probe.person@example.org".into(),
        phone: "+15559870123".into(),
        ..Default::default()
    };
    client
        .create_customer(pb::CreateCustomerRequest { request_id: "log-1".into(), customer: Some(customer) })
        .await
        .expect("created");
    let invalid = pb::Customer { customer_id: "log-bad".into(), email: "not-an-email@".into(), ..Default::default() };
    let _ =
        client.create_customer(pb::CreateCustomerRequest { request_id: String::new(), customer: Some(invalid) }).await;
    let mut secrets = vec![
        suite.dev_key.clone(),
        std::fs::read_to_string(suite.data_dir.join("internal-token")).expect("token file").trim().to_owned(),
        "probe.person@example.org".into(),
        "+15559870123".into(),
        "Probe Person".into(),
    ];
    secrets.extend(demo_personal_data(&suite.data_dir.join("demo/customers.csv")));

    let (status, logs) = suite.terminate_collecting_logs().await;
    assert!(status.success());
    assert!(logs.contains("patron_gateway::access"), "the access log is there: {} bytes", logs.len());
    assert!(!logs.contains('\u{1b}'), "log files carry no terminal colour codes");
    let access_360 = logs
        .lines()
        .find(|line| line.contains("access") && line.contains("GetCustomer360") && line.contains("principal"));
    assert!(
        access_360.is_some_and(|line| line.contains("principal") && line.contains("dev") && line.contains("admin")),
        "an access line names the rpc, principal and role: {access_360:?}"
    );
    for secret in &secrets {
        assert!(!logs.contains(secret.as_str()), "the logs contain {secret:?}");
    }
    assert!(!logs.to_ascii_lowercase().contains("bearer "), "no authorization header in the logs");
}

/// Every email and phone number in the demo customers file.
fn demo_personal_data(path: &Path) -> Vec<String> {
    let text = std::fs::read_to_string(path).expect("demo customers");
    let mut values = Vec::new();
    for line in text.lines().skip(1) {
        let fields: Vec<&str> = line.split(',').collect();
        for value in fields.iter().skip(2).take(2) {
            if value.len() > 5 {
                values.push((*value).to_owned());
            }
        }
    }
    assert!(values.len() > 100, "read the demo's emails and phones");
    values
}

/// The four backends and the gateway as separate processes, so one can be killed.
struct Processes {
    dir: std::path::PathBuf,
    gateway_port: u16,
    children: Vec<(&'static str, Child)>,
}

const KEY: &str = "pak_suite_admin";

impl Processes {
    async fn start() -> Self {
        let base = free_port_base();
        let dir = std::env::temp_dir().join(format!("patron-gateway-kill-{}-{base}", std::process::id()));
        std::fs::create_dir_all(&dir).expect("temp dir");
        let token = "suite-internal-token";
        let names = ["profile", "segmentation", "forecast", "churn"];
        let mut children = Vec::new();
        for (index, name) in names.iter().enumerate() {
            let port = base + 10 + index as u16;
            let mut command = Command::new(binaries_dir().join(format!("patron-{name}")));
            command
                .env("PATRON_SERVER__LISTEN_ADDR", format!("127.0.0.1:{port}"))
                .env("PATRON_SERVER__INTERNAL_TOKEN", token)
                .env("PATRON_DATABASE__URL", format!("sqlite://{}/{name}.db?mode=rwc", dir.display()));
            for (peer_index, peer) in names.iter().enumerate() {
                if *name != "profile" {
                    command.env(
                        format!("PATRON_PEERS__{}", peer.to_uppercase()),
                        format!("http://127.0.0.1:{}", base + 10 + peer_index as u16),
                    );
                }
            }
            children.push((*name, spawn(command)));
        }
        let pepper = secrecy::SecretString::from("suite-pepper");
        let hash = patron_gateway::auth::hash_api_key(&pepper, KEY);
        let mut command = Command::new(binaries_dir().join("patron-gateway"));
        command
            .env("PATRON_SERVER__LISTEN_ADDR", format!("127.0.0.1:{base}"))
            .env("PATRON_SERVER__INTERNAL_TOKEN", token)
            .env("PATRON_AUTH__PEPPER", "suite-pepper")
            .env("PATRON_AUTH__API_KEYS", format!(r#"[{{name="suite",role="admin",hash="{hash}"}}]"#));
        for (index, name) in names.iter().enumerate() {
            command.env(
                format!("PATRON_BACKENDS__{}", name.to_uppercase()),
                format!("http://127.0.0.1:{}", base + 10 + index as u16),
            );
        }
        children.push(("gateway", spawn(command)));
        let processes = Self { dir, gateway_port: base, children };
        for offset in [0, 10, 11, 12, 13] {
            wait_for_health(base + offset).await;
        }
        processes
    }

    fn gateway(&self) -> InterceptedService<Channel, Credential> {
        let channel =
            Channel::from_shared(format!("http://127.0.0.1:{}", self.gateway_port)).expect("uri").connect_lazy();
        InterceptedService::new(channel, Credential::bearer(Some(KEY)))
    }

    async fn kill(&mut self, name: &str) {
        let (_, child) = self.children.iter_mut().find(|(child_name, _)| *child_name == name).expect("known");
        child.kill().await.expect("killed");
    }
}

impl Drop for Processes {
    fn drop(&mut self) {
        for (_, child) in &mut self.children {
            let _ = child.start_kill();
        }
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

fn spawn(mut command: Command) -> Child {
    command.stdout(Stdio::null()).stderr(Stdio::null()).stdin(Stdio::null()).kill_on_drop(true);
    command.spawn().expect("service binaries are built")
}

async fn wait_for_health(port: u16) {
    use tonic_health::pb::HealthCheckRequest;
    use tonic_health::pb::health_client::HealthClient;
    let started = Instant::now();
    loop {
        let channel = Channel::from_shared(format!("http://127.0.0.1:{port}")).expect("uri").connect_lazy();
        let status = HealthClient::new(channel).check(HealthCheckRequest { service: String::new() }).await;
        if status.is_ok_and(|response| response.into_inner().status == 1) {
            return;
        }
        assert!(started.elapsed() < Duration::from_secs(60), "port {port} never served");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

#[tokio::test]
async fn a_killed_backend_gives_unavailable_quickly_and_a_partial_customer_360() {
    let _shared = crate::alone::shared().await; // the overload test runs alone
    let mut processes = Processes::start().await;
    let mut profile = ProfileServiceClient::new(processes.gateway());
    let customer = pb::Customer { customer_id: "k-1".into(), name: "Kim".into(), ..Default::default() };
    profile
        .create_customer(pb::CreateCustomerRequest { request_id: String::new(), customer: Some(customer) })
        .await
        .expect("created");
    let ask = || GetCustomer360Request { customer_id: "k-1".into(), recent_orders: 0 };
    let mut insight = InsightServiceClient::new(processes.gateway());
    insight.get_customer360(ask()).await.expect("360 with every backend up");

    processes.kill("churn").await;
    let started = Instant::now();
    let status =
        call_raw(processes.gateway(), "/patron.churn.v1.ChurnService/GetJob").await.expect_err("churn is gone");
    assert_eq!(status.code(), Code::Unavailable, "{status:?}");
    assert!(started.elapsed() < Duration::from_secs(1), "UNAVAILABLE quickly: {:?}", started.elapsed());

    let started = Instant::now();
    let view = insight.get_customer360(ask()).await.expect("partial 360").into_inner();
    assert!(started.elapsed() < Duration::from_secs(2), "{:?}", started.elapsed());
    let profile_part = view.profile.expect("profile");
    assert!(profile_part.status.expect("status").available);
    assert_eq!(profile_part.customer.expect("customer").name, "Kim");
    let churn = view.churn.expect("churn").status.expect("status");
    assert_eq!((churn.available, churn.reason.as_str()), (false, "unavailable"));
    // The other backends still answer.
    profile.get_customer(pb::GetCustomerRequest { customer_id: "k-1".into() }).await.expect("profile still up");
}

#[tokio::test]
async fn a_direct_call_past_its_deadline_is_deadline_exceeded_not_cancelled() {
    let _shared = crate::alone::shared().await; // the overload test runs alone
    let suite = Suite::up().await;
    // tonic's own channel enforces the deadline on the client side too (as
    // CANCELLED, a moment before the server's answer); the gateway's plain
    // HTTP/2 connection does not, so the server's answer is what comes back.
    let profile_url = format!("http://127.0.0.1:{}", suite.port(10));
    let connection =
        patron_gateway::connection::BackendConnection::new(&profile_url, Duration::from_secs(2)).expect("backend URL");
    let mut grpc = tonic::client::Grpc::new(connection);
    grpc.ready().await.expect("profile is up");
    let token = std::fs::read_to_string(suite.data_dir.join("internal-token")).expect("patron up writes it");
    // The request message never comes, so only the deadline can end the call.
    let mut request = tonic::Request::new(tokio_stream::pending::<pb::GetCustomerRequest>());
    request.set_timeout(Duration::from_millis(300));
    request.metadata_mut().insert("x-patron-internal-token", token.trim().parse().expect("printable token"));
    let codec = tonic_prost::ProstCodec::<pb::GetCustomerRequest, pb::GetCustomerResponse>::default();
    let path = http::uri::PathAndQuery::from_static("/patron.profile.v1.ProfileService/GetCustomer");
    let started = Instant::now();
    let status = grpc.client_streaming(request, path, codec).await.expect_err("the deadline passes");
    assert_eq!(status.code(), Code::DeadlineExceeded, "{status:?}");
    let elapsed = started.elapsed();
    assert!(elapsed >= Duration::from_millis(290) && elapsed < Duration::from_secs(2), "{elapsed:?}");
    assert!(suite.terminate().await.success());
}
