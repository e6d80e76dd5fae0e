//! Spawns the profile and forecast services in-process on port 0, each with
//! a fresh database on the store under test, and seeds the profile service
//! with orders of known shape through its import RPC.

use std::time::Duration;

use patron_common::config::{PeersConfig, ServerConfig, ServiceConfig};
use patron_common::testing::database_config;
pub use patron_common::testing::{Store, fresh_database, remove_database};
use patron_proto::forecast::v1 as pb;
use patron_proto::forecast::v1::forecast_service_client::ForecastServiceClient;
use patron_proto::profile::v1 as profile_pb;
use patron_proto::profile::v1::profile_service_client::ProfileServiceClient;
use tokio::sync::oneshot;
use tokio_stream::StreamExt;
use tonic::transport::Channel;

struct Running {
    shutdown: oneshot::Sender<()>,
    task: tokio::task::JoinHandle<anyhow::Result<()>>,
    database_url: String,
}

pub struct TestApp {
    pub client: ForecastServiceClient<Channel>,
    /// The service's channel, for calls without the typed client.
    pub channel: Channel,
    pub profile: ProfileServiceClient<Channel>,
    services: Vec<Running>,
}

pub async fn spawn_app(store: Store) -> TestApp {
    let profile_url = fresh_database(store, "patron_fc_profile").await;
    let profile_config = patron_profile::Config {
        server: ServerConfig { drain_timeout_ms: Duration::from_secs(5), ..ServerConfig::default() },
        database: database_config(&profile_url),
        telemetry: Default::default(),
        profile: Default::default(),
    };
    let profile_app = patron_profile::Application::build(profile_config).await.expect("profile builds");
    let profile_addr = profile_app.local_addr();
    let (profile_stop, stopped) = oneshot::channel::<()>();
    let profile_task = tokio::spawn(profile_app.run_until_stopped(async {
        let _ = stopped.await;
    }));

    let forecast_url = fresh_database(store, "patron_forecast").await;
    let config = ServiceConfig {
        server: ServerConfig { drain_timeout_ms: Duration::from_secs(5), ..ServerConfig::default() },
        database: database_config(&forecast_url),
        telemetry: Default::default(),
        peers: PeersConfig { profile: format!("http://{profile_addr}"), ..PeersConfig::default() },
    };
    let application = patron_forecast::Application::build(config).await.expect("forecast builds");
    let addr = application.local_addr();
    let (stop, stopped) = oneshot::channel::<()>();
    let task = tokio::spawn(application.run_until_stopped(async {
        let _ = stopped.await;
    }));

    let channel = Channel::from_shared(format!("http://{addr}")).expect("valid uri").connect_lazy();
    let profile_channel = Channel::from_shared(format!("http://{profile_addr}")).expect("valid uri").connect_lazy();
    for channel in [&channel, &profile_channel] {
        wait_until_serving(channel.clone()).await;
    }
    TestApp {
        channel: channel.clone(),
        client: ForecastServiceClient::new(channel).max_decoding_message_size(64 * 1024 * 1024),
        profile: ProfileServiceClient::new(profile_channel),
        services: vec![
            Running { shutdown: stop, task, database_url: forecast_url },
            Running { shutdown: profile_stop, task: profile_task, database_url: profile_url },
        ],
    }
}

async fn wait_until_serving(channel: Channel) {
    use tonic_health::pb::HealthCheckRequest;
    use tonic_health::pb::health_check_response::ServingStatus;
    use tonic_health::pb::health_client::HealthClient;
    let mut health = HealthClient::new(channel);
    for _ in 0..200 {
        if let Ok(response) = health.check(HealthCheckRequest { service: String::new() }).await
            && response.into_inner().status == ServingStatus::Serving as i32
        {
            return;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("service did not become SERVING");
}

impl TestApp {
    pub async fn stop(self) {
        for service in self.services {
            let _ = service.shutdown.send(());
            let _ = service.task.await;
            remove_database(&service.database_url).await;
        }
    }

    /// Imports orders through the profile service's bulk import.
    pub async fn import_orders(&self, orders: Vec<profile_pb::OrderRow>) {
        let rows: Vec<profile_pb::ImportRow> = orders
            .into_iter()
            .enumerate()
            .map(|(index, order)| profile_pb::ImportRow {
                line: index as i64 + 1,
                record: Some(profile_pb::import_row::Record::Order(order)),
            })
            .collect();
        let mut messages = vec![profile_pb::ImportRecordsRequest {
            payload: Some(profile_pb::import_records_request::Payload::Header(profile_pb::ImportHeader {
                request_id: String::new(),
                kind: profile_pb::ImportKind::Orders as i32,
                source: "forecast-test".into(),
            })),
        }];
        messages.extend(rows.chunks(500).map(|rows| profile_pb::ImportRecordsRequest {
            payload: Some(profile_pb::import_records_request::Payload::Batch(profile_pb::ImportBatch {
                rows: rows.to_vec(),
            })),
        }));
        let mut answers = self
            .profile
            .clone()
            .import_records(tokio_stream::iter(messages))
            .await
            .expect("import starts")
            .into_inner();
        while let Some(answer) = answers.next().await {
            let answer = answer.expect("import answers");
            assert!(answer.errors.is_empty(), "import errors: {:?}", answer.errors);
        }
    }

    /// Waits for a job's terminal state through WatchJob.
    pub async fn wait(&self, job_id: String) -> patron_proto::common::v1::Job {
        let mut stream =
            self.client.clone().watch_job(pb::WatchJobRequest { job_id }).await.expect("watch starts").into_inner();
        let mut last = None;
        while let Some(update) = stream.next().await {
            last = update.expect("watch answers").job;
        }
        last.expect("a terminal job state")
    }
}

/// Runs a test body once on SQLite and once on PostgreSQL, each on fresh databases.
#[macro_export]
macro_rules! on_every_store {
    ($name:ident, $body:expr) => {
        mod $name {
            use super::*;
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn sqlite() {
                ($body)($crate::helpers::Store::Sqlite).await;
            }
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn postgres() {
                ($body)($crate::helpers::Store::Postgres).await;
            }
        }
    };
}

const MICROS_PER_DAY: i64 = 86_400_000_000;

/// Start of the UTC day `days` days before today.
pub fn day_start(days_ago: i64) -> prost_types::Timestamp {
    let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap_or_default();
    let today = now.as_micros() as i64 / MICROS_PER_DAY * MICROS_PER_DAY;
    let micros = today - days_ago * MICROS_PER_DAY;
    prost_types::Timestamp { seconds: micros / 1_000_000, nanos: 0 }
}

/// 180 days of orders: a weekly-patterned seller "sku-steady" in store s1
/// (region north, channel store), and an intermittent "sku-rare" sold on the
/// web every fourth day (region south).
pub fn orders() -> Vec<profile_pb::OrderRow> {
    let mut rows = Vec::new();
    let weekly = [6, 4, 4, 5, 7, 12, 10];
    for day in 1..=180i64 {
        let noon = {
            let start = day_start(day);
            prost_types::Timestamp { seconds: start.seconds + 12 * 3600, nanos: 0 }
        };
        let weekday = ((day_start(day).seconds / 86_400 + 3) % 7) as usize;
        let quantity = weekly[weekday] + (day % 3);
        rows.push(profile_pb::OrderRow {
            order_id: format!("steady-{day}"),
            customer_id: format!("c-{}", day % 20),
            place_time: Some(noon),
            channel: profile_pb::SalesChannel::Store as i32,
            store_id: "s1".into(),
            region: "north".into(),
            currency_code: "USD".into(),
            status: profile_pb::OrderStatus::Completed as i32,
            line_number: 1,
            sku: "sku-steady".into(),
            category: "food".into(),
            quantity,
            unit_price_minor: 250,
            total_minor: quantity * 250,
            ..Default::default()
        });
        if day % 4 == 0 {
            rows.push(profile_pb::OrderRow {
                order_id: format!("rare-{day}"),
                customer_id: format!("c-{}", 100 + day % 7),
                place_time: Some(noon),
                channel: profile_pb::SalesChannel::Web as i32,
                store_id: "s2".into(),
                region: "south".into(),
                currency_code: "USD".into(),
                status: profile_pb::OrderStatus::Completed as i32,
                line_number: 1,
                sku: "sku-rare".into(),
                category: "tools".into(),
                quantity: 1 + day % 3,
                unit_price_minor: 1000,
                total_minor: (1 + day % 3) * 1000,
                ..Default::default()
            });
        }
    }
    rows
}

/// The fields an INVALID_ARGUMENT names, in order.
pub fn violated_fields(status: &tonic::Status) -> Vec<String> {
    use tonic_types::StatusExt;
    status
        .get_details_bad_request()
        .map(|details| details.field_violations.into_iter().map(|violation| violation.field).collect())
        .unwrap_or_default()
}
