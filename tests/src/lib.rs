//! Helpers for the cross-service suite: run `patron up` as a real process on
//! free ports and a temporary data directory, and stop it as an operator would.

use std::path::PathBuf;
use std::process::Stdio;
use std::time::Duration;

use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::process::{Child, Command};
use tonic::metadata::AsciiMetadataValue;
use tonic::service::interceptor::InterceptedService;
use tonic::transport::Channel;

pub mod bench_profile;
pub mod load;
pub mod models;

/// Calls `path` with an empty request message, whatever its type: enough
/// to see whether the gateway lets a credential through to the backend.
pub async fn call_raw<T>(channel: T, path: &'static str) -> Result<(), tonic::Status>
where
    T: tonic::client::GrpcService<tonic::body::Body>,
    T::Error: Into<Box<dyn std::error::Error + Send + Sync>>,
    T::ResponseBody: tonic::transport::Body<Data = tonic::codegen::Bytes> + Send + 'static,
    <T::ResponseBody as tonic::transport::Body>::Error: Into<Box<dyn std::error::Error + Send + Sync>> + Send,
{
    let mut grpc = tonic::client::Grpc::new(channel);
    grpc.ready().await.map_err(|error| tonic::Status::unavailable(error.into().to_string()))?;
    let request = tonic::Request::new(());
    let codec = tonic_prost::ProstCodec::<(), ()>::default();
    grpc.unary(request, http::uri::PathAndQuery::from_static(path), codec).await.map(|_| ())
}

/// The directory holding this build's binaries (`target/debug` or `target/release`).
pub fn binaries_dir() -> PathBuf {
    let exe = std::env::current_exe().expect("own binary path");
    let dir = exe.parent().expect("binary directory");
    // Test binaries live in target/<profile>/deps, other binaries in target/<profile>.
    if dir.ends_with("deps") { dir.parent().expect("target directory").to_path_buf() } else { dir.to_path_buf() }
}

/// A port base whose range (base .. base+24) is free right now.
pub fn free_port_base() -> u16 {
    for _ in 0..200 {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind an ephemeral port");
        let base = listener.local_addr().expect("address").port();
        drop(listener);
        if base > 60_000 {
            continue;
        }
        let all_free = (0..25).all(|offset| std::net::TcpListener::bind(("127.0.0.1", base + offset)).is_ok());
        if all_free {
            return base;
        }
    }
    panic!("no free port range found");
}

pub struct Suite {
    pub gateway_port: u16,
    pub data_dir: PathBuf,
    child: Child,
    pub banner: Vec<String>,
    /// The admin API key `patron up` made for this run.
    pub dev_key: String,
}

/// Adds one credential to every call: a bearer token for the gateway, or
/// the internal token a Patron service presents to another.
#[derive(Clone)]
pub struct Credential {
    key: &'static str,
    value: Option<AsciiMetadataValue>,
}

impl Credential {
    pub fn bearer(token: Option<&str>) -> Self {
        let value = token.map(|token| format!("Bearer {token}").parse().expect("printable token"));
        Self { key: "authorization", value }
    }

    pub fn internal(token: &str) -> Self {
        Self { key: "x-patron-internal-token", value: Some(token.parse().expect("printable token")) }
    }
}

impl tonic::service::Interceptor for Credential {
    fn call(&mut self, mut request: tonic::Request<()>) -> Result<tonic::Request<()>, tonic::Status> {
        if let Some(value) = &self.value {
            request.metadata_mut().insert(self.key, value.clone());
        }
        Ok(request)
    }
}

/// A channel that presents a credential (or none).
pub type GatewayChannel = InterceptedService<Channel, Credential>;

impl Suite {
    /// Runs `patron up` and waits for its banner.
    pub async fn up() -> Self {
        Self::start(&[]).await
    }

    /// Runs `patron up --demo` with `customers` demo customers loaded through
    /// the gateway before the banner is printed.
    pub async fn up_with_demo(customers: u32) -> Self {
        Self::start(&["--demo", "--demo-customers", &customers.to_string()]).await
    }

    async fn start(extra_args: &[&str]) -> Self {
        // One suite comes up at a time in this process, so a free range found
        // here is taken before the next test looks for one.
        static STARTING: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());
        let _starting = STARTING.lock().await;
        let port = free_port_base();
        let data_dir = std::env::temp_dir().join(format!("patron-suite-{}-{port}", std::process::id()));
        let _ = std::fs::remove_dir_all(&data_dir);
        let bin_dir = binaries_dir();
        let mut child = Command::new(bin_dir.join("patron"))
            .args(["up", "--port", &port.to_string(), "--data-dir"])
            .arg(&data_dir)
            .args(extra_args)
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .stdin(Stdio::null())
            // Its own process group, so dropping the suite also stops the
            // services `patron up` started, even when the test panicked.
            .process_group(0)
            .kill_on_drop(true)
            .spawn()
            .expect("patron binary is built (make test builds every binary first)");
        let stdout = child.stdout.take().expect("piped stdout");
        let mut lines = BufReader::new(stdout).lines();
        let mut banner = Vec::new();
        let ready = tokio::time::timeout(Duration::from_secs(90), async {
            while let Ok(Some(line)) = lines.next_line().await {
                let done = line.starts_with("Press Ctrl-C");
                banner.push(line);
                if done {
                    return true;
                }
            }
            false
        })
        .await;
        assert_eq!(ready, Ok(true), "patron up did not come up; it printed: {banner:#?}");
        // Keep draining stdout so the child never blocks on a full pipe.
        tokio::spawn(async move { while let Ok(Some(_)) = lines.next_line().await {} });
        let dev_key = std::fs::read_to_string(data_dir.join("dev-api-key"))
            .expect("patron up writes the development key")
            .trim()
            .to_owned();
        Self { gateway_port: port, data_dir, child, banner, dev_key }
    }

    pub fn port(&self, offset: u16) -> u16 {
        self.gateway_port + offset
    }

    /// The gateway, called as admin with the run's development key.
    pub fn gateway(&self) -> GatewayChannel {
        self.gateway_with(Some(&self.dev_key))
    }

    /// The gateway, called with `token` (or anonymously with `None`).
    pub fn gateway_with(&self, token: Option<&str>) -> GatewayChannel {
        InterceptedService::new(self.channel(0), Credential::bearer(token))
    }

    /// The backend at `offset`, called as a Patron peer with the run's internal token.
    pub fn backend_as_peer(&self, offset: u16) -> GatewayChannel {
        let token = std::fs::read_to_string(self.data_dir.join("internal-token")).expect("patron up writes it");
        InterceptedService::new(self.channel(offset), Credential::internal(token.trim()))
    }

    /// A plain channel to the process at `offset` from the gateway's port
    /// (backends at +10..+13), carrying no credential.
    pub fn channel(&self, offset: u16) -> Channel {
        Channel::from_shared(format!("http://127.0.0.1:{}", self.port(offset))).expect("uri").connect_lazy()
    }

    /// Stops the suite like [`Suite::terminate`] and returns, with its exit
    /// status, everything the services wrote to `<data-dir>/logs/`.
    pub async fn terminate_collecting_logs(mut self) -> (std::process::ExitStatus, String) {
        let status = self.stop().await;
        let mut logs = String::new();
        if let Ok(entries) = std::fs::read_dir(self.data_dir.join("logs")) {
            for entry in entries.flatten() {
                logs.push_str(&std::fs::read_to_string(entry.path()).unwrap_or_default());
            }
        }
        let _ = std::fs::remove_dir_all(&self.data_dir);
        (status, logs)
    }

    async fn stop(&mut self) -> std::process::ExitStatus {
        let pid = self.child.id().and_then(|pid| i32::try_from(pid).ok()).expect("running");
        nix::sys::signal::kill(nix::unistd::Pid::from_raw(pid), nix::sys::signal::Signal::SIGTERM).expect("signal");
        tokio::time::timeout(Duration::from_secs(60), self.child.wait())
            .await
            .expect("patron up stops within its drain bound")
            .expect("exit status")
    }

    /// SIGTERM, as a terminal's Ctrl-C or an orchestrator would send; returns the exit status.
    pub async fn terminate(mut self) -> std::process::ExitStatus {
        let status = self.stop().await;
        let _ = std::fs::remove_dir_all(&self.data_dir);
        status
    }
}

impl Drop for Suite {
    fn drop(&mut self) {
        // After a clean stop the group is empty and this finds no one.
        if let Some(pid) = self.child.id().and_then(|pid| i32::try_from(pid).ok()) {
            let _ = nix::sys::signal::killpg(nix::unistd::Pid::from_raw(pid), nix::sys::signal::Signal::SIGKILL);
        }
    }
}
