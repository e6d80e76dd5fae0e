//! Spawns the gateway in-process on port 0 in front of the real profile
//! service (fresh SQLite file, requiring the internal token) and scripted
//! fake backends for segmentation, forecast and churn.

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use bytes::Bytes;
use http_body::Frame;
use patron_common::config::{DatabaseConfig, ServerConfig};
use patron_gateway::auth::{ApiKeyEntry, hash_api_key};
use patron_gateway::config::LimitsConfig;
use patron_gateway::rpc_table::Role;
use secrecy::SecretString;
use tokio::sync::oneshot;
use tonic::Code;
use tonic::metadata::AsciiMetadataValue;
use tonic::service::Routes;
use tonic::service::interceptor::InterceptedService;
use tonic::transport::Channel;

pub const PEPPER: &str = "test-pepper";
pub const INTERNAL_TOKEN: &str = "internal-test-token";

/// The test API key of each role.
pub fn key_of(role: Role) -> String {
    format!("pak_test_{}", role.name())
}

/// Adds `name: value` metadata to every call.
#[derive(Clone)]
pub struct Header(&'static str, Option<AsciiMetadataValue>);

impl tonic::service::Interceptor for Header {
    fn call(&mut self, mut request: tonic::Request<()>) -> Result<tonic::Request<()>, tonic::Status> {
        if let Some(value) = &self.1 {
            request.metadata_mut().insert(self.0, value.clone());
        }
        Ok(request)
    }
}

pub type Authed = InterceptedService<Channel, Header>;

pub fn channel(addr: SocketAddr) -> Channel {
    Channel::from_shared(format!("http://{addr}")).expect("uri").connect_lazy()
}

pub fn with_bearer(channel: Channel, token: Option<&str>) -> Authed {
    let value = token.map(|token| format!("Bearer {token}").parse().expect("ascii"));
    InterceptedService::new(channel, Header("authorization", value))
}

pub fn with_internal_token(channel: Channel, token: Option<&str>) -> Authed {
    InterceptedService::new(
        channel,
        Header("x-patron-internal-token", token.map(|token| token.parse().expect("ascii"))),
    )
}

/// What a fake backend does with each call.
#[derive(Debug, Clone, Default)]
pub struct Script {
    pub delay: Duration,
    /// Answer UNAVAILABLE to this many calls first.
    pub unavailable_first: usize,
    /// Answer every call with this code (after the first ones).
    pub code: Option<Code>,
}

/// A gRPC server answering every method with an empty message (the default
/// of any response type) or a scripted error, counting calls and keeping
/// the metadata of the last one.
#[derive(Clone)]
pub struct FakeBackend {
    pub addr: SocketAddr,
    pub calls: Arc<AtomicUsize>,
    pub script: Arc<Mutex<Script>>,
    pub last_headers: Arc<Mutex<BTreeMap<String, String>>>,
    pub last_path: Arc<Mutex<String>>,
}

impl FakeBackend {
    pub async fn start(script: Script) -> Self {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let addr = listener.local_addr().expect("addr");
        let fake = Self {
            addr,
            calls: Arc::new(AtomicUsize::new(0)),
            script: Arc::new(Mutex::new(script)),
            last_headers: Arc::new(Mutex::new(BTreeMap::new())),
            last_path: Arc::new(Mutex::new(String::new())),
        };
        let state = fake.clone();
        let router = axum::Router::new().fallback(move |request: http::Request<axum::body::Body>| {
            let state = state.clone();
            async move { state.answer(request).await }
        });
        let incoming = tonic::transport::server::TcpIncoming::from(listener);
        tokio::spawn(
            tonic::transport::Server::builder().add_routes(Routes::from(router)).serve_with_incoming(incoming),
        );
        fake
    }

    pub fn calls(&self) -> usize {
        self.calls.load(Ordering::SeqCst)
    }

    pub fn header(&self, name: &str) -> Option<String> {
        self.last_headers.lock().expect("lock").get(name).cloned()
    }

    /// The path (`/package.Service/Method`) of the last call.
    pub fn path(&self) -> String {
        self.last_path.lock().expect("lock").clone()
    }

    async fn answer(&self, request: http::Request<axum::body::Body>) -> http::Response<axum::body::Body> {
        let call = self.calls.fetch_add(1, Ordering::SeqCst);
        *self.last_path.lock().expect("lock") = request.uri().path().to_owned();
        *self.last_headers.lock().expect("lock") = request
            .headers()
            .iter()
            .map(|(name, value)| (name.to_string(), value.to_str().unwrap_or("").to_owned()))
            .collect();
        let script = self.script.lock().expect("lock").clone();
        tokio::time::sleep(script.delay).await;
        let code = if call < script.unavailable_first { Some(Code::Unavailable) } else { script.code };
        if let Some(code) = code {
            // Errors come trailers-only, as tonic servers send them.
            return http::Response::builder()
                .header("content-type", "application/grpc")
                .header("grpc-status", code as i32)
                .body(axum::body::Body::empty())
                .expect("response");
        }
        let mut trailers = http::HeaderMap::new();
        trailers.insert("grpc-status", http::HeaderValue::from(Code::Ok as i32));
        let frames: Vec<Result<Frame<Bytes>, std::convert::Infallible>> =
            vec![Ok(Frame::data(Bytes::from_static(&[0, 0, 0, 0, 0]))), Ok(Frame::trailers(trailers))];
        let body = http_body_util::StreamBody::new(futures::stream::iter(frames));
        http::Response::builder()
            .header("content-type", "application/grpc")
            .body(axum::body::Body::new(body))
            .expect("response")
    }
}

pub struct ProfileApp {
    pub addr: SocketAddr,
    database: std::path::PathBuf,
    shutdown: Option<oneshot::Sender<()>>,
}

impl ProfileApp {
    pub async fn start() -> Self {
        static COUNTER: AtomicUsize = AtomicUsize::new(0);
        let database = std::env::temp_dir().join(format!(
            "patron_gateway_test_{}_{}.db",
            std::process::id(),
            COUNTER.fetch_add(1, Ordering::SeqCst)
        ));
        let config = patron_profile::Config {
            server: ServerConfig {
                internal_token: Some(SecretString::from(INTERNAL_TOKEN)),
                drain_timeout_ms: Duration::from_secs(2),
                ..ServerConfig::default()
            },
            database: DatabaseConfig::sqlite_file(&database.display().to_string()),
            telemetry: Default::default(),
            profile: Default::default(),
        };
        let application = patron_profile::Application::build(config).await.expect("profile builds");
        let addr = application.local_addr();
        let (shutdown, stop) = oneshot::channel::<()>();
        tokio::spawn(application.run_until_stopped(async {
            let _ = stop.await;
        }));
        wait_until_serving(addr).await;
        Self { addr, database, shutdown: Some(shutdown) }
    }
}

/// Waits until health says SERVING (the database is migrated and answers).
async fn wait_until_serving(addr: SocketAddr) {
    use tonic_health::pb::HealthCheckRequest;
    use tonic_health::pb::health_check_response::ServingStatus;
    use tonic_health::pb::health_client::HealthClient;
    let started = std::time::Instant::now();
    loop {
        let response = HealthClient::new(channel(addr)).check(HealthCheckRequest { service: String::new() }).await;
        if response.is_ok_and(|response| response.into_inner().status == ServingStatus::Serving as i32) {
            return;
        }
        assert!(started.elapsed() < Duration::from_secs(20), "the profile service did not become SERVING");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

impl Drop for ProfileApp {
    fn drop(&mut self) {
        if let Some(shutdown) = self.shutdown.take() {
            let _ = shutdown.send(());
        }
        for suffix in ["", "-wal", "-shm"] {
            let _ = std::fs::remove_file(format!("{}{suffix}", self.database.display()));
        }
    }
}

/// Backends behind a test gateway: the real profile service and three fakes.
pub struct Backends {
    pub profile: ProfileApp,
    pub segmentation: FakeBackend,
    pub forecast: FakeBackend,
    pub churn: FakeBackend,
}

impl Backends {
    pub async fn start() -> Self {
        Self {
            profile: ProfileApp::start().await,
            segmentation: FakeBackend::start(Script::default()).await,
            forecast: FakeBackend::start(Script::default()).await,
            churn: FakeBackend::start(Script::default()).await,
        }
    }
}

pub struct TestGateway {
    pub addr: SocketAddr,
    pub backends: Backends,
    shutdown: Option<oneshot::Sender<()>>,
}

impl TestGateway {
    pub async fn start() -> Self {
        Self::start_with(|_| {}).await
    }

    /// Starts a gateway with a key per role; `adjust` may change its config.
    pub async fn start_with(adjust: impl FnOnce(&mut patron_gateway::Config)) -> Self {
        let backends = Backends::start().await;
        let pepper = SecretString::from(PEPPER);
        let mut config = patron_gateway::Config {
            server: ServerConfig {
                internal_token: Some(SecretString::from(INTERNAL_TOKEN)),
                drain_timeout_ms: Duration::from_secs(2),
                ..ServerConfig::default()
            },
            ..patron_gateway::Config::default()
        };
        config.backends.profile = format!("http://{}", backends.profile.addr);
        config.backends.segmentation = format!("http://{}", backends.segmentation.addr);
        config.backends.forecast = format!("http://{}", backends.forecast.addr);
        config.backends.churn = format!("http://{}", backends.churn.addr);
        config.auth.api_keys = Role::ALL
            .into_iter()
            .map(|role| ApiKeyEntry {
                name: format!("test-{}", role.name()),
                role,
                hash: hash_api_key(&pepper, &key_of(role)),
            })
            .collect();
        config.auth.pepper = pepper;
        config.limits = LimitsConfig { retry_backoff_ms: Duration::from_millis(5), ..LimitsConfig::default() };
        adjust(&mut config);
        let application = patron_gateway::Application::build(config).await.expect("gateway builds");
        let addr = application.local_addr();
        let (shutdown, stop) = oneshot::channel::<()>();
        tokio::spawn(application.run_until_stopped(async {
            let _ = stop.await;
        }));
        Self { addr, backends, shutdown: Some(shutdown) }
    }

    /// A channel to the gateway presenting the key of `role` (none for `None`).
    pub fn as_role(&self, role: Option<Role>) -> Authed {
        with_bearer(channel(self.addr), role.map(key_of).as_deref())
    }

    pub fn admin(&self) -> Authed {
        self.as_role(Some(Role::Admin))
    }
}

impl Drop for TestGateway {
    fn drop(&mut self) {
        if let Some(shutdown) = self.shutdown.take() {
            let _ = shutdown.send(());
        }
    }
}

/// Calls `path` with an empty request message, whatever its type: enough
/// for the gate, which decides before any backend decodes a byte.
pub async fn call_raw(channel: Authed, path: &'static str, timeout: Option<Duration>) -> Result<(), tonic::Status> {
    let mut grpc = tonic::client::Grpc::new(channel);
    grpc.ready().await.map_err(|error| tonic::Status::unavailable(error.to_string()))?;
    let mut request = tonic::Request::new(());
    if let Some(timeout) = timeout {
        // The header alone, not `set_timeout`: tonic's channel would also run
        // its own timer and, on a busy machine, answer CANCELLED itself before
        // the gateway's answer (sent a few ms before the deadline) arrives.
        // These tests are about what the gateway answers.
        let header = format!("{}u", timeout.as_micros());
        request.metadata_mut().insert("grpc-timeout", header.parse().expect("ascii"));
    }
    let codec = tonic_prost::ProstCodec::<(), ()>::default();
    let call = grpc.unary(request, http::uri::PathAndQuery::from_static(path), codec);
    // Never hang on a gateway that misses the deadline: fail the test instead.
    let bound = timeout.unwrap_or(Duration::from_secs(30)) + Duration::from_secs(10);
    match tokio::time::timeout(bound, call).await {
        Ok(outcome) => outcome.map(|_| ()),
        Err(_) => Err(tonic::Status::internal(format!("no answer within {bound:?}"))),
    }
}
