//! `patron up`: runs the whole suite as separate processes on 127.0.0.1, each
//! backend with its own SQLite database under the data directory, waits until
//! every process reports SERVING, prints how to call it, and stops them all
//! cleanly on Ctrl-C or SIGTERM.
//!
//! Each run makes fresh secrets: the internal token the services require of
//! each other (so only the gateway reaches the backends), and an admin API
//! key for development, printed in the banner and written to
//! `<data-dir>/dev-api-key`, where the other `patron` commands find it (the
//! internal token goes to `<data-dir>/internal-token`, for development tools
//! that call a backend directly).

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use nix::sys::signal::{Signal, kill};
use nix::unistd::Pid;
use tokio::process::{Child, Command};
use tonic_health::pb::HealthCheckRequest;
use tonic_health::pb::health_check_response::ServingStatus;
use tonic_health::pb::health_client::HealthClient;

use crate::credentials;

#[derive(Debug, clap::Args)]
pub struct UpArgs {
    /// Port of the gateway; the backends listen on PORT+10..PORT+13 and
    /// metrics on PORT+20..PORT+24.
    #[arg(long, default_value_t = 50051, env = "PATRON_PORT")]
    port: u16,
    /// Where the services keep their SQLite databases.
    #[arg(long, default_value = "data")]
    data_dir: PathBuf,
    /// Directory holding the patron-* binaries; default: beside this one.
    #[arg(long)]
    bin_dir: Option<PathBuf>,
    /// How long to wait for every service to report SERVING.
    #[arg(long, default_value_t = 60)]
    ready_timeout_secs: u64,
    /// Once up, load the demo data set (written to <data-dir>/demo/ on first use).
    #[arg(long)]
    demo: bool,
    /// Customers in the demo data set.
    #[arg(long, default_value_t = 5_000)]
    demo_customers: u32,
}

/// The secrets of one run; nothing here outlives it.
struct RunSecrets {
    internal_token: String,
    pepper: String,
    dev_key: String,
}

impl RunSecrets {
    fn generate() -> anyhow::Result<Self> {
        Ok(Self {
            internal_token: credentials::random_secret()?,
            pepper: credentials::random_secret()?,
            dev_key: format!("{}{}", patron_gateway::auth::API_KEY_PREFIX, credentials::random_secret()?),
        })
    }

    /// The gateway's `auth.api_keys`: the development key, as a hash only.
    fn api_keys_env(&self) -> String {
        let hash = patron_gateway::auth::hash_api_key(&secrecy::SecretString::from(self.pepper.clone()), &self.dev_key);
        format!(r#"[{{name="dev",role="admin",hash="{hash}"}}]"#)
    }
}

struct Process {
    name: &'static str,
    port: u16,
    metrics_port: u16,
    child: Child,
}

const BACKENDS: [&str; 4] = ["profile", "segmentation", "forecast", "churn"];

pub async fn run(args: UpArgs) -> anyhow::Result<()> {
    let bin_dir = match &args.bin_dir {
        Some(dir) => dir.clone(),
        None => std::env::current_exe()?.parent().context("locating the patron binaries")?.to_path_buf(),
    };
    std::fs::create_dir_all(&args.data_dir).with_context(|| format!("creating {}", args.data_dir.display()))?;
    let port_of = |offset: u16| args.port.checked_add(offset).context("--port is too high for the suite's port range");
    let secrets = RunSecrets::generate()?;
    let key_file = args.data_dir.join(credentials::DEV_KEY_FILE);
    credentials::write_private(&key_file, &secrets.dev_key)?;
    // For development tools that call a backend directly, as a peer would (the bench).
    credentials::write_private(&args.data_dir.join(credentials::INTERNAL_TOKEN_FILE), &secrets.internal_token)?;

    let mut processes = Vec::new();
    let started = start_all(&args, &bin_dir, &port_of, &secrets, &mut processes).await;
    let ready = match started {
        Ok(()) => wait_until_serving(&mut processes, Duration::from_secs(args.ready_timeout_secs)).await,
        Err(error) => Err(error),
    };
    let ready = match ready {
        Ok(()) if args.demo => load_demo(&args, &secrets).await,
        other => other,
    };
    if let Err(error) = ready {
        stop_all(&mut processes).await;
        return Err(error);
    }
    print_banner(&processes, &args.data_dir, &secrets.dev_key);

    let stopped_by = tokio::select! {
        () = shutdown_signal() => None,
        exited = first_exit(&mut processes) => Some(exited),
    };
    if let Some((name, status)) = &stopped_by {
        eprintln!("patron: {name} exited unexpectedly ({status}); stopping the suite");
    }
    stop_all(&mut processes).await;
    match stopped_by {
        Some((name, _)) => bail!("{name} stopped unexpectedly"),
        None => Ok(()),
    }
}

async fn start_all(
    args: &UpArgs,
    bin_dir: &Path,
    port_of: &impl Fn(u16) -> anyhow::Result<u16>,
    secrets: &RunSecrets,
    processes: &mut Vec<Process>,
) -> anyhow::Result<()> {
    let mut backend_urls = Vec::new();
    for (index, name) in BACKENDS.into_iter().enumerate() {
        let offset = u16::try_from(index).unwrap_or(0);
        backend_urls.push((name, format!("http://127.0.0.1:{}", port_of(10 + offset)?)));
    }
    for (index, name) in BACKENDS.into_iter().enumerate() {
        let offset = u16::try_from(index).unwrap_or(0);
        let port = port_of(10 + offset)?;
        let database = args.data_dir.join(format!("{name}.db"));
        let metrics_port = port_of(21 + offset)?;
        let mut command = service_command(args, bin_dir, name, port, metrics_port, secrets)?;
        command.env("PATRON_DATABASE__URL", format!("sqlite://{}?mode=rwc", database.display()));
        // The model services read from their peers; the profile service calls no one.
        if name != "profile" {
            for (peer, peer_url) in &backend_urls {
                command.env(format!("PATRON_PEERS__{}", peer.to_uppercase()), peer_url);
            }
        }
        let child = command.spawn().with_context(|| format!("starting patron-{name}"))?;
        processes.push(Process { name, port, metrics_port, child });
    }
    let gateway_port = port_of(0)?;
    let metrics_port = port_of(20)?;
    let mut command = service_command(args, bin_dir, "gateway", gateway_port, metrics_port, secrets)?;
    command.env("PATRON_AUTH__PEPPER", &secrets.pepper).env("PATRON_AUTH__API_KEYS", secrets.api_keys_env());
    for (name, url) in backend_urls {
        command.env(format!("PATRON_BACKENDS__{}", name.to_uppercase()), url);
    }
    let child = command.spawn().context("starting patron-gateway")?;
    processes.push(Process { name: "gateway", port: gateway_port, metrics_port, child });
    Ok(())
}

/// The command for one service; its output goes to `<data>/logs/<name>.log`
/// so the terminal keeps only the suite's own messages.
fn service_command(
    args: &UpArgs,
    bin_dir: &Path,
    name: &str,
    port: u16,
    metrics_port: u16,
    secrets: &RunSecrets,
) -> anyhow::Result<Command> {
    let binary = bin_dir.join(format!("patron-{name}"));
    if !binary.exists() {
        bail!("{} is missing; build it with `cargo build --release --workspace --bins`", binary.display());
    }
    let logs = args.data_dir.join("logs");
    std::fs::create_dir_all(&logs).with_context(|| format!("creating {}", logs.display()))?;
    let log = std::fs::File::create(logs.join(format!("{name}.log")))?;
    let mut command = Command::new(binary);
    without_client_settings(&mut command);
    command
        .env("PATRON_SERVER__LISTEN_ADDR", format!("127.0.0.1:{port}"))
        .env("PATRON_SERVER__METRICS_ADDR", format!("127.0.0.1:{metrics_port}"))
        // Backends require it of callers; the gateway presents it to them.
        .env("PATRON_SERVER__INTERNAL_TOKEN", &secrets.internal_token)
        .stdout(log.try_clone()?)
        .stderr(log)
        .stdin(std::process::Stdio::null())
        .kill_on_drop(true);
    Ok(command)
}

/// The CLI's own settings, which a caller may have exported. Services read
/// every `PATRON_*` variable and refuse unknown ones, so these must not reach
/// them.
const CLIENT_SETTINGS: [&str; 4] = ["PATRON_ADDR", "PATRON_TOKEN", "PATRON_CONFIG", "PATRON_PLOT_FONT"];

fn without_client_settings(command: &mut Command) {
    for name in CLIENT_SETTINGS {
        command.env_remove(name);
    }
}

async fn wait_until_serving(processes: &mut [Process], limit: Duration) -> anyhow::Result<()> {
    let deadline = Instant::now() + limit;
    for process in processes.iter_mut() {
        loop {
            if let Some(status) = process.child.try_wait()? {
                bail!("patron-{} exited during start-up ({status})", process.name);
            }
            if health_of(process.port).await == Some(ServingStatus::Serving) {
                break;
            }
            if Instant::now() > deadline {
                bail!("patron-{} did not report SERVING within {limit:?}", process.name);
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }
    Ok(())
}

async fn health_of(port: u16) -> Option<ServingStatus> {
    let channel = tonic::transport::Endpoint::from_shared(format!("http://127.0.0.1:{port}"))
        .ok()?
        .connect_timeout(Duration::from_millis(500))
        .connect()
        .await
        .ok()?;
    let mut client = HealthClient::new(channel);
    let response = client.check(HealthCheckRequest { service: String::new() }).await.ok()?;
    ServingStatus::try_from(response.into_inner().status).ok()
}

/// Writes the demo data set (once) and imports it through the gateway with
/// this same program's `demo-data` and `import` commands. Imports are
/// idempotent, so a second `patron up --demo` changes nothing.
async fn load_demo(args: &UpArgs, secrets: &RunSecrets) -> anyhow::Result<()> {
    let patron = std::env::current_exe()?;
    let demo = args.data_dir.join("demo");
    if !demo.join("orders.csv").exists() {
        println!("Writing the demo data set ({} customers over two years) to {}/", args.demo_customers, demo.display());
        let status = Command::new(&patron)
            .args([
                "demo-data",
                "--customers",
                &args.demo_customers.to_string(),
                "--days",
                "730",
                "--seed",
                "1",
                "--out",
            ])
            .arg(&demo)
            .status()
            .await?;
        if !status.success() {
            bail!("patron demo-data failed ({status})");
        }
    }
    let gateway = format!("http://127.0.0.1:{}", args.port);
    for kind in ["customers", "orders", "contacts", "feedback"] {
        println!("Importing demo {kind}");
        let status = Command::new(&patron)
            .arg("import")
            .arg(demo.join(format!("{kind}.csv")))
            .args(["--kind", kind, "--addr", &gateway])
            .env("PATRON_TOKEN", &secrets.dev_key)
            .status()
            .await?;
        if !status.success() {
            bail!("importing demo {kind} failed ({status})");
        }
    }
    Ok(())
}

fn print_banner(processes: &[Process], data_dir: &Path, dev_key: &str) {
    let gateway = processes.iter().find(|process| process.name == "gateway").map_or(0, |process| process.port);
    println!("Patron is up. Data in {0}/, service logs in {0}/logs/.", data_dir.display());
    println!();
    for process in processes {
        println!(
            "  {:<13} 127.0.0.1:{:<6} SERVING  (metrics: http://127.0.0.1:{}/metrics)",
            process.name, process.port, process.metrics_port
        );
    }
    println!();
    println!("Development API key (admin, this run only): {dev_key}");
    println!(
        "  saved in {}; `patron import` and the other commands use it by default.",
        data_dir.join(credentials::DEV_KEY_FILE).display()
    );
    println!();
    println!("Call it through the gateway:");
    println!("  grpcurl -plaintext 127.0.0.1:{gateway} list");
    println!(
        "  grpcurl -plaintext -H 'authorization: Bearer {dev_key}' -d '{{\"customer\":{{\"customer_id\":\"c-1\",\"name\":\"Ada\"}}}}' 127.0.0.1:{gateway} patron.profile.v1.ProfileService/CreateCustomer"
    );
    println!(
        "  grpcurl -plaintext -H 'authorization: Bearer {dev_key}' -d '{{\"customer_id\":\"c-1\"}}' 127.0.0.1:{gateway} patron.profile.v1.ProfileService/GetCustomer"
    );
    println!();
    println!("Press Ctrl-C to stop every service.");
}

/// Resolves with the name and status of the first process that exits.
async fn first_exit(processes: &mut [Process]) -> (&'static str, String) {
    loop {
        for process in processes.iter_mut() {
            if let Ok(Some(status)) = process.child.try_wait() {
                return (process.name, status.to_string());
            }
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

/// SIGTERM to everyone (the gateway first, so no new calls reach the
/// backends), then a bounded wait, then SIGKILL for stragglers.
async fn stop_all(processes: &mut [Process]) {
    for process in processes.iter().rev() {
        if let Some(pid) = process.child.id().and_then(|pid| i32::try_from(pid).ok()) {
            let _ = kill(Pid::from_raw(pid), Signal::SIGTERM);
        }
    }
    for process in processes.iter_mut() {
        match tokio::time::timeout(Duration::from_secs(20), process.child.wait()).await {
            Ok(Ok(status)) if status.success() => {}
            Ok(Ok(status)) => eprintln!("patron: {} stopped with {status}", process.name),
            Ok(Err(error)) => eprintln!("patron: waiting for {}: {error}", process.name),
            Err(_) => {
                eprintln!("patron: {} did not stop in time; killing it", process.name);
                let _ = process.child.kill().await;
            }
        }
    }
}

async fn shutdown_signal() {
    let mut terminate = match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
        Ok(signal) => signal,
        Err(_) => {
            let _ = tokio::signal::ctrl_c().await;
            return;
        }
    };
    tokio::select! {
        _ = tokio::signal::ctrl_c() => {}
        _ = terminate.recv() => {}
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn services_do_not_inherit_the_clients_settings() {
        let mut command = Command::new("patron-profile");
        without_client_settings(&mut command);
        let removed: std::collections::BTreeSet<_> = command
            .as_std()
            .get_envs()
            .filter(|(_, value)| value.is_none())
            .map(|(name, _)| name.to_string_lossy().into_owned())
            .collect();
        assert_eq!(removed, CLIENT_SETTINGS.iter().map(|name| name.to_string()).collect());
    }
}
