//! Database faults: the profile service runs on a private PostgreSQL cluster
//! (never the shared one on 5432) under a steady load of orders with lines;
//! the cluster is stopped and started again. Health must turn NOT_SERVING
//! within 2 s, calls must fail fast with UNAVAILABLE (never hang, never
//! INTERNAL), no order may be half-written, and the same process must serve
//! again once PostgreSQL is back. The database password and internal token
//! given by environment must appear in no log line and no error message.

use std::collections::{BTreeMap, HashSet};
use std::path::PathBuf;
use std::process::Command;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use patron_proto::profile::v1 as pb;
use patron_proto::profile::v1::profile_service_client::ProfileServiceClient;
use patron_tests::free_port_base;
use sea_orm::{ConnectionTrait, Database, DbBackend, Statement};
use tonic::Code;
use tonic_health::pb::health_check_response::ServingStatus;

use crate::service_process::ServiceProcess;

const PASSWORD: &str = "db-fault-password-3141";
const INTERNAL_TOKEN: &str = "db-fault-internal-token-2718";
/// The pool's wait for a connection; a call fails with UNAVAILABLE after it.
const ACQUIRE_TIMEOUT: Duration = Duration::from_millis(1000);
const WRITERS: usize = 12;

/// A PostgreSQL cluster of its own in a temporary directory, on its own port.
struct PrivateCluster {
    dir: PathBuf,
    port: u16,
    bin: PathBuf,
}

/// The newest installed PostgreSQL server binaries (Debian layout).
fn postgres_bin_dir() -> PathBuf {
    let mut versions: Vec<PathBuf> = std::fs::read_dir("/usr/lib/postgresql")
        .expect("PostgreSQL is installed under /usr/lib/postgresql (make test needs it)")
        .flatten()
        .map(|entry| entry.path().join("bin"))
        .filter(|bin| bin.join("initdb").exists() && bin.join("pg_ctl").exists())
        .collect();
    versions.sort();
    versions.pop().expect("initdb and pg_ctl under /usr/lib/postgresql/<version>/bin")
}

fn running_as_root() -> bool {
    Command::new("id").arg("-u").output().is_ok_and(|output| output.stdout.trim_ascii() == b"0")
}

impl PrivateCluster {
    fn create(port: u16) -> Self {
        let dir = std::env::temp_dir().join(format!("patron-db-faults-{}-{port}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).expect("cluster directory");
        let cluster = Self { dir, port, bin: postgres_bin_dir() };
        if running_as_root() {
            // PostgreSQL refuses to run as root: the cluster belongs to `postgres`.
            let status = Command::new("chown").arg("postgres:postgres").arg(&cluster.dir).status().expect("chown");
            assert!(status.success(), "chown the cluster directory to postgres");
        }
        cluster.run("initdb", &["-D", &cluster.data(), "-A", "trust", "-U", "postgres", "--no-sync", "-E", "UTF8"]);
        cluster
    }

    fn data(&self) -> String {
        self.dir.join("data").display().to_string()
    }

    fn run(&self, program: &str, args: &[&str]) {
        let program = self.bin.join(program);
        let mut command = if running_as_root() {
            let mut command = Command::new("runuser");
            command.args(["-u", "postgres", "--"]).arg(&program);
            command
        } else {
            Command::new(&program)
        };
        let output = command.args(args).output().expect("PostgreSQL tools run");
        assert!(
            output.status.success(),
            "{} {args:?}: {}{}",
            program.display(),
            String::from_utf8_lossy(&output.stdout),
            String::from_utf8_lossy(&output.stderr)
        );
    }

    fn start(&self) {
        let options = format!("-p {} -k {} -c listen_addresses=127.0.0.1", self.port, self.dir.display());
        let log = self.dir.join("postgres.log").display().to_string();
        self.run("pg_ctl", &["-D", &self.data(), "-l", &log, "-o", &options, "-w", "-t", "60", "start"]);
    }

    /// A fast shutdown: open sessions are ended, in-flight transactions rolled back.
    fn stop(&self) {
        self.run("pg_ctl", &["-D", &self.data(), "-m", "fast", "-w", "-t", "60", "stop"]);
    }

    fn url(&self) -> String {
        format!("postgres://postgres:{PASSWORD}@127.0.0.1:{}/postgres", self.port)
    }
}

impl Drop for PrivateCluster {
    fn drop(&mut self) {
        let pg_ctl = self.bin.join("pg_ctl");
        let data = self.data();
        let args = ["-D", data.as_str(), "-m", "immediate", "-w", "stop"];
        let _ = if running_as_root() {
            Command::new("runuser").args(["-u", "postgres", "--"]).arg(&pg_ctl).args(args).output()
        } else {
            Command::new(&pg_ctl).args(args).output()
        };
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// One RecordOrder call: when it started, how long it took, and its code.
#[derive(Debug, Clone)]
struct Outcome {
    order_id: String,
    started: Instant,
    elapsed: Duration,
    code: Code,
    message: String,
}

fn order(order_id: &str, writer: usize) -> pb::Order {
    let line = |sku: &str, quantity: i64, price: i64| pb::OrderLine {
        sku: sku.into(),
        category: "fault".into(),
        quantity,
        unit_price_minor: price,
        discount_minor: 0,
        unit_cost_minor: None,
    };
    pb::Order {
        order_id: order_id.into(),
        customer_id: format!("fault-customer-{writer}"),
        place_time: Some(prost_types::Timestamp { seconds: 1_704_067_200, nanos: 0 }),
        channel: pb::SalesChannel::Store as i32,
        store_id: "s-1".into(),
        region: "north".into(),
        currency_code: "USD".into(),
        status: pb::OrderStatus::Completed as i32,
        lines: vec![line("a", 1, 250), line("b", 2, 1_000), line("c", 3, 75)],
        total_minor: 0,
    }
}

/// Writes orders as fast as the service answers until `stop` is set.
async fn writer(profile: &ServiceProcess, writer: usize, stop: Arc<AtomicBool>) -> Vec<Outcome> {
    let mut client = ProfileServiceClient::new(profile.client_channel());
    let mut outcomes = Vec::new();
    for sequence in 0.. {
        if stop.load(Ordering::Relaxed) {
            break;
        }
        let order_id = format!("fault-{writer}-{sequence}");
        let mut request = tonic::Request::new(pb::RecordOrderRequest {
            request_id: String::new(),
            order: Some(order(&order_id, writer)),
        });
        // A hang shows up as DEADLINE_EXCEEDED, which the test refuses.
        request.set_timeout(Duration::from_secs(10));
        let started = Instant::now();
        let result = client.record_order(request).await;
        let (code, message) = match result {
            Ok(_) => (Code::Ok, String::new()),
            Err(status) => (status.code(), status.message().to_owned()),
        };
        outcomes.push(Outcome { order_id, started, elapsed: started.elapsed(), code, message });
        if code != Code::Ok {
            // A client backs off a little after an error rather than spinning.
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }
    outcomes
}

#[tokio::test(flavor = "multi_thread")]
async fn postgres_stopping_and_starting_under_load() {
    let _shared = crate::alone::shared().await; // the overload test runs alone
    let base = free_port_base();
    let cluster = PrivateCluster::create(base);
    cluster.start();
    let log = cluster.dir.join("profile.log");
    let profile = Arc::new(ServiceProcess::spawn(
        "profile",
        base + 1,
        INTERNAL_TOKEN,
        &[
            ("PATRON_DATABASE__URL", cluster.url()),
            ("PATRON_DATABASE__ACQUIRE_TIMEOUT_MS", ACQUIRE_TIMEOUT.as_millis().to_string()),
        ],
        &log,
    ));
    profile.wait_for(ServingStatus::Serving, Duration::from_secs(60)).await;

    let stop = Arc::new(AtomicBool::new(false));
    let writers: Vec<_> = (0..WRITERS)
        .map(|index| {
            let (profile, stop) = (profile.clone(), stop.clone());
            tokio::spawn(async move { writer(&profile, index, stop).await })
        })
        .collect();
    tokio::time::sleep(Duration::from_secs(1)).await;

    // PostgreSQL goes away under load.
    let stop_began = Instant::now();
    cluster.stop();
    let down_at = Instant::now();
    let stop_took = down_at - stop_began;
    let not_serving_after = profile.wait_for(ServingStatus::NotServing, Duration::from_secs(10)).await;
    assert!(not_serving_after <= Duration::from_secs(2), "NOT_SERVING {not_serving_after:?} after PostgreSQL stopped");
    let not_serving_at = Instant::now();
    tokio::time::sleep(Duration::from_secs(3)).await;
    assert_eq!(profile.health().await, Some(ServingStatus::NotServing), "stays NOT_SERVING while the database is down");

    // PostgreSQL comes back; the same process serves again.
    let restarted_at = Instant::now();
    cluster.start();
    let serving_after = profile.wait_for(ServingStatus::Serving, Duration::from_secs(20)).await;
    let serving_at = Instant::now();
    tokio::time::sleep(Duration::from_secs(1)).await;
    stop.store(true, Ordering::Relaxed);
    let mut outcomes = Vec::new();
    for task in writers {
        outcomes.extend(task.await.expect("writer"));
    }

    let count = |code: Code| outcomes.iter().filter(|outcome| outcome.code == code).count();
    let mut codes: BTreeMap<String, usize> = BTreeMap::new();
    for outcome in &outcomes {
        *codes.entry(format!("{:?}", outcome.code)).or_default() += 1;
    }
    println!(
        "database faults: pg_ctl stop took {stop_took:?}; NOT_SERVING {not_serving_after:?} after it; \
         SERVING {serving_after:?} after restart ({:?} of outage); calls by code {codes:?}",
        restarted_at - down_at
    );
    for outcome in &outcomes {
        assert!(
            matches!(outcome.code, Code::Ok | Code::Unavailable),
            "only OK or UNAVAILABLE, got {:?}: {}",
            outcome.code,
            outcome.message
        );
        for secret in [PASSWORD, INTERNAL_TOKEN] {
            assert!(!outcome.message.contains(secret), "an error message carries a secret: {}", outcome.message);
        }
    }
    // Fail fast: bounded by the pool's wait, never the caller's deadline.
    let during_outage: Vec<&Outcome> = outcomes
        .iter()
        // Ended before the restart began: a call still waiting for a connection then may rightly succeed.
        .filter(|outcome| outcome.started >= not_serving_at && outcome.started + outcome.elapsed < restarted_at)
        .collect();
    assert!(during_outage.len() >= WRITERS, "calls were made during the outage: {}", during_outage.len());
    let slowest = during_outage.iter().map(|outcome| outcome.elapsed).max().unwrap_or_default();
    println!("database faults: {} calls during the outage, slowest {slowest:?}", during_outage.len());
    for outcome in &during_outage {
        assert_eq!(outcome.code, Code::Unavailable, "a call while the database is down: {}", outcome.message);
        assert!(outcome.elapsed < ACQUIRE_TIMEOUT + Duration::from_secs(1), "failed fast: {:?}", outcome.elapsed);
    }
    let after_recovery: Vec<&Outcome> = outcomes.iter().filter(|outcome| outcome.started >= serving_at).collect();
    assert!(!after_recovery.is_empty(), "calls were made after recovery");
    for outcome in &after_recovery {
        assert_eq!(outcome.code, Code::Ok, "after recovery: {}", outcome.message);
    }
    assert!(count(Code::Ok) > after_recovery.len(), "orders were written before the outage too");

    assert_nothing_half_written(&cluster.url(), &outcomes).await;
    let logs = profile.log_text();
    assert!(logs.contains("health changed"), "the log shows the health changes");
    for secret in [PASSWORD, INTERNAL_TOKEN] {
        assert!(!logs.contains(secret), "the service log carries a secret: {secret}");
    }
}

/// Every acknowledged order is stored whole; every stored order was sent and is whole.
async fn assert_nothing_half_written(url: &str, outcomes: &[Outcome]) {
    let db = Database::connect(url).await.expect("the private cluster answers");
    let rows = db
        .query_all_raw(Statement::from_string(
            DbBackend::Postgres,
            "SELECT o.external_id, o.total_minor, COUNT(l.order_id) AS lines, \
             COALESCE(SUM(l.quantity * l.unit_price_minor - l.discount_minor), 0)::BIGINT AS line_sum \
             FROM orders o LEFT JOIN order_lines l ON l.order_id = o.id GROUP BY o.id, o.external_id, o.total_minor"
                .to_owned(),
        ))
        .await
        .expect("read orders");
    let expected_total = 250 + 2 * 1_000 + 3 * 75;
    let mut stored = HashSet::new();
    for row in &rows {
        let order_id: String = row.try_get("", "external_id").expect("external_id");
        let total: i64 = row.try_get("", "total_minor").expect("total");
        let lines: i64 = row.try_get("", "lines").expect("lines");
        let line_sum: i64 = row.try_get("", "line_sum").expect("line sum");
        assert_eq!((lines, total, line_sum), (3, expected_total, expected_total), "order {order_id} is whole");
        stored.insert(order_id);
    }
    let sent: HashSet<&str> = outcomes.iter().map(|outcome| outcome.order_id.as_str()).collect();
    for order_id in &stored {
        assert!(sent.contains(order_id.as_str()), "stored order {order_id} was sent");
    }
    let acknowledged: Vec<&Outcome> = outcomes.iter().filter(|outcome| outcome.code == Code::Ok).collect();
    for outcome in &acknowledged {
        assert!(stored.contains(&outcome.order_id), "acknowledged order {} is stored", outcome.order_id);
    }
    println!(
        "database faults: {} orders acknowledged, {} stored, every one with its 3 lines and total",
        acknowledged.len(),
        stored.len()
    );
}
