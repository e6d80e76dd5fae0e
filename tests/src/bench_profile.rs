//! Profile benchmarks: streaming import of order lines into SQLite and
//! PostgreSQL beside PostgreSQL's own `COPY` of the same rows as CSV, then
//! KPI and Pareto latency over the imported data. Needs `psql` on the PATH and
//! the local PostgreSQL (as `make test` does).

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use patron_proto::common::v1::TimeWindow;
use patron_proto::profile::v1 as pb;
use patron_proto::profile::v1::profile_service_client::ProfileServiceClient;
use tokio_stream::StreamExt;
use tonic::transport::Channel;

/// Deterministic synthetic order lines: `customers` customers,
/// `lines_per_order` lines per order, spread over two years.
pub struct Workload {
    pub order_lines: usize,
    pub customers: usize,
    pub lines_per_order: usize,
}

/// Rows per ImportRecords batch message: the most the service takes, so
/// per-message and per-transaction costs are spread over as many rows as allowed.
pub const IMPORT_BATCH_ROWS: usize = 10_000;

const START_SECONDS: i64 = 1_672_531_200; // 2023-01-01T00:00:00Z
const SPAN_SECONDS: i64 = 730 * 86_400;

impl Workload {
    /// Line `index` of the workload (a small LCG keeps it reproducible without a dependency).
    pub fn row(&self, index: usize) -> pb::OrderRow {
        let per_order = self.lines_per_order.max(1);
        let order = index / per_order;
        let mix = |salt: u64| (order as u64).wrapping_mul(6_364_136_223_846_793_005).wrapping_add(salt).rotate_left(17);
        pb::OrderRow {
            order_id: format!("o-{order}"),
            customer_id: format!("c-{}", mix(1) % self.customers as u64),
            place_time: Some(prost_types::Timestamp {
                seconds: START_SECONDS + (mix(2) % SPAN_SECONDS as u64) as i64,
                nanos: 0,
            }),
            channel: (mix(3) % 4 + 1) as i32,
            store_id: format!("s-{}", mix(4) % 20),
            region: format!("r-{}", mix(5) % 5),
            currency_code: "USD".into(),
            status: pb::OrderStatus::Completed as i32,
            line_number: (index % per_order + 1) as i32,
            sku: format!("sku-{}", mix(6 + (index % per_order) as u64) % 2_000),
            category: format!("cat-{}", mix(7) % 30),
            quantity: (mix(8) % 3 + 1) as i64,
            unit_price_minor: (mix(9) % 10_000 + 100) as i64,
            discount_minor: 0,
            unit_cost_minor: None,
            total_minor: 0,
        }
    }

    /// The same rows as CSV, for `COPY`.
    pub fn write_csv(&self, path: &Path) -> std::io::Result<()> {
        let mut file = std::io::BufWriter::new(std::fs::File::create(path)?);
        writeln!(
            file,
            "order_id,customer_id,placed_at,channel,store_id,region,currency,status,line_number,sku,category,quantity,unit_price_minor"
        )?;
        for index in 0..self.order_lines {
            let row = self.row(index);
            let seconds = row.place_time.map_or(0, |at| at.seconds);
            writeln!(
                file,
                "{},{},{},{},{},{},{},{},{},{},{},{},{}",
                row.order_id,
                row.customer_id,
                seconds,
                row.channel,
                row.store_id,
                row.region,
                row.currency_code,
                row.status,
                row.line_number,
                row.sku,
                row.category,
                row.quantity,
                row.unit_price_minor
            )?;
        }
        file.flush()
    }

    /// Streams every row through ImportRecords; returns the wall time.
    pub async fn import(&self, channel: Channel) -> Result<Duration, tonic::Status> {
        let batch_size = IMPORT_BATCH_ROWS;
        let total = self.order_lines;
        let rows: Vec<pb::ImportRecordsRequest> = std::iter::once(pb::ImportRecordsRequest {
            payload: Some(pb::import_records_request::Payload::Header(pb::ImportHeader {
                request_id: "bench".into(),
                kind: pb::ImportKind::Orders as i32,
                source: "bench".into(),
            })),
        })
        .collect();
        let batches = (0..total.div_ceil(batch_size)).map(move |batch| {
            let rows = (batch * batch_size..((batch + 1) * batch_size).min(total))
                .map(|index| pb::ImportRow {
                    line: index as i64 + 2,
                    record: Some(pb::import_row::Record::Order(self.row(index))),
                })
                .collect();
            pb::ImportRecordsRequest {
                payload: Some(pb::import_records_request::Payload::Batch(pb::ImportBatch { rows })),
            }
        });
        let messages: Vec<_> = rows.into_iter().chain(batches).collect();
        let started = Instant::now();
        let mut client = ProfileServiceClient::new(channel).max_decoding_message_size(64 << 20);
        let mut answers = client.import_records(tokio_stream::iter(messages)).await?.into_inner();
        while let Some(answer) = answers.next().await {
            let answer = answer?;
            if let Some(error) = answer.errors.first() {
                return Err(tonic::Status::internal(format!(
                    "row {} rejected: {} {}",
                    error.line, error.field, error.reason
                )));
            }
        }
        Ok(started.elapsed())
    }
}

/// A throwaway PostgreSQL database, dropped at the end.
pub struct ScratchDatabase {
    pub name: String,
}

fn psql(database: &str, sql: &str) -> std::io::Result<()> {
    let status = Command::new("psql")
        .env("PGOPTIONS", "--client-min-messages=warning")
        .args(["-h", "127.0.0.1", "-U", "postgres", "-d", database, "-q", "-v", "ON_ERROR_STOP=1", "-c", sql])
        .stdout(Stdio::null())
        .status()?;
    if status.success() { Ok(()) } else { Err(std::io::Error::other(format!("psql failed: {sql}"))) }
}

impl ScratchDatabase {
    pub fn create(prefix: &str) -> std::io::Result<Self> {
        let name = format!("{prefix}_{}", std::process::id());
        let _ = psql("test", &format!("DROP DATABASE IF EXISTS {name}"));
        psql("test", &format!("CREATE DATABASE {name}"))?;
        Ok(Self { name })
    }

    pub fn url(&self) -> String {
        format!("postgres://postgres@127.0.0.1:5432/{}", self.name)
    }

    /// `COPY` of the CSV into a plain table with the same columns; returns the wall time.
    pub fn copy_csv(&self, csv: &Path) -> std::io::Result<Duration> {
        psql(
            &self.name,
            "CREATE TABLE lines (order_id text, customer_id text, placed_at bigint, channel smallint, store_id text, \
             region text, currency text, status smallint, line_number int, sku text, category text, quantity bigint, \
             unit_price_minor bigint)",
        )?;
        let started = Instant::now();
        psql(&self.name, &format!("\\copy lines FROM '{}' WITH (FORMAT csv, HEADER true)", csv.display()))?;
        Ok(started.elapsed())
    }
}

impl Drop for ScratchDatabase {
    fn drop(&mut self) {
        let _ = psql("test", &format!("DROP DATABASE IF EXISTS {} WITH (FORCE)", self.name));
    }
}

/// A profile service process on its own port and database.
pub struct ProfileProcess {
    child: std::process::Child,
    pub port: u16,
}

impl ProfileProcess {
    pub async fn start(bin_dir: &Path, database_url: &str) -> std::io::Result<Self> {
        let port = crate::free_port_base();
        let child = Command::new(bin_dir.join("patron-profile"))
            .env("PATRON_SERVER__LISTEN_ADDR", format!("127.0.0.1:{port}"))
            .env("PATRON_DATABASE__URL", database_url)
            .env("PATRON_TELEMETRY__LOG_FILTER", "warn")
            .stdout(Stdio::null())
            .spawn()?;
        let process = Self { child, port };
        for _ in 0..200 {
            if tokio::net::TcpStream::connect(("127.0.0.1", port)).await.is_ok() {
                tokio::time::sleep(Duration::from_millis(300)).await; // migrations on first contact
                return Ok(process);
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        Err(std::io::Error::other("patron-profile did not start"))
    }

    pub fn channel(&self) -> Channel {
        Channel::from_shared(format!("http://127.0.0.1:{}", self.port)).expect("uri").connect_lazy()
    }

    /// Peak resident memory of the process so far (VmHWM), in MiB.
    pub fn peak_memory_mib(&self) -> Option<f64> {
        let status = std::fs::read_to_string(format!("/proc/{}/status", self.child.id())).ok()?;
        let line = status.lines().find(|line| line.starts_with("VmHWM:"))?;
        let kib: f64 = line.split_whitespace().nth(1)?.parse().ok()?;
        Some(kib / 1024.0)
    }
}

impl Drop for ProfileProcess {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Latency of `calls` sequential calls of `call`: (p50, p99, max).
pub async fn latency<F, Fut>(calls: usize, mut call: F) -> Result<(Duration, Duration, Duration), tonic::Status>
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Result<(), tonic::Status>>,
{
    let mut samples = Vec::with_capacity(calls);
    for _ in 0..calls {
        let started = Instant::now();
        call().await?;
        samples.push(started.elapsed());
    }
    samples.sort_unstable();
    let at = |q: f64| samples[((samples.len() as f64 * q).ceil() as usize).clamp(1, samples.len()) - 1];
    Ok((at(0.5), at(0.99), samples[samples.len() - 1]))
}

pub fn year_window() -> Option<TimeWindow> {
    let start = START_SECONDS + 365 * 86_400;
    Some(TimeWindow {
        start_time: Some(prost_types::Timestamp { seconds: start, nanos: 0 }),
        end_time: Some(prost_types::Timestamp { seconds: start + 365 * 86_400, nanos: 0 }),
    })
}

pub fn scratch_dir() -> PathBuf {
    let dir = std::env::temp_dir().join(format!("patron-bench-{}", std::process::id()));
    let _ = std::fs::create_dir_all(&dir);
    dir
}

/// One kind of write the reports must follow.
#[derive(Debug, Clone, Copy)]
pub enum ReportWrite {
    /// RecordOrder of a new order in the report window.
    RecordedOrder,
    /// RecordOrder again, cancelling the order recorded just before.
    StatusChange,
    /// ImportRecords of 1,000 new orders.
    Import,
    /// EraseCustomer of a customer with orders.
    Erasure,
}

impl ReportWrite {
    pub const ALL: [ReportWrite; 4] = [Self::RecordedOrder, Self::StatusChange, Self::Import, Self::Erasure];

    pub fn label(self) -> &'static str {
        match self {
            Self::RecordedOrder => "a recorded order",
            Self::StatusChange => "a status change",
            Self::Import => "an import of 1,000 orders",
            Self::Erasure => "an erasure",
        }
    }
}

/// Performs write number `round` of `kind` against a service holding `workload`.
pub async fn write_for_reports(
    client: &mut ProfileServiceClient<Channel>,
    workload: &Workload,
    kind: ReportWrite,
    round: usize,
) -> Result<(), tonic::Status> {
    let in_window = year_window().and_then(|window| window.start_time);
    let order = |status: pb::OrderStatus| pb::Order {
        order_id: format!("bench-written-{round}"),
        customer_id: format!("c-{}", round % workload.customers.max(1)),
        place_time: in_window,
        channel: pb::SalesChannel::Web as i32,
        store_id: "s-1".into(),
        region: "r-1".into(),
        currency_code: "USD".into(),
        status: status as i32,
        total_minor: 12_345,
        ..Default::default()
    };
    match kind {
        ReportWrite::RecordedOrder | ReportWrite::StatusChange => {
            let status = match kind {
                ReportWrite::RecordedOrder => pb::OrderStatus::Completed,
                _ => pb::OrderStatus::Cancelled,
            };
            let request = pb::RecordOrderRequest { request_id: String::new(), order: Some(order(status)) };
            client.record_order(request).await?;
        }
        ReportWrite::Import => {
            let rows = (0..1_000)
                .map(|index| {
                    let mut row = workload.row(index);
                    row.order_id = format!("bench-imported-{round}-{index}");
                    pb::ImportRow { line: index as i64 + 2, record: Some(pb::import_row::Record::Order(row)) }
                })
                .collect();
            let messages = vec![
                pb::ImportRecordsRequest {
                    payload: Some(pb::import_records_request::Payload::Header(pb::ImportHeader {
                        request_id: format!("bench-report-import-{round}"),
                        kind: pb::ImportKind::Orders as i32,
                        source: "bench".into(),
                    })),
                },
                pb::ImportRecordsRequest {
                    payload: Some(pb::import_records_request::Payload::Batch(pb::ImportBatch { rows })),
                },
            ];
            let mut answers = client.import_records(tokio_stream::iter(messages)).await?.into_inner();
            while answers.next().await.transpose()?.is_some() {}
        }
        ReportWrite::Erasure => {
            let request = pb::EraseCustomerRequest {
                request_id: String::new(),
                customer_id: format!("c-{}", workload.customers.saturating_sub(1 + round)),
                reason: "bench".into(),
            };
            client.erase_customer(request).await?;
        }
    }
    Ok(())
}
