//! Personal data in a full run: after segmentation, churn scoring and a
//! forecast have used a demo customer, EraseCustomer through the gateway
//! removes every trace of their external id, email and phone from every
//! table of every service's store at once (memberships of a retired model
//! and the previous score run included); the next export and model
//! retraining leave them out; and the logs of the whole run hold no email
//! address, phone number or credential.

use std::path::{Path, PathBuf};

use patron_proto::churn::v1 as churn_pb;
use patron_proto::churn::v1::churn_service_client::ChurnServiceClient;
use patron_proto::common::v1::JobState;
use patron_proto::forecast::v1 as forecast_pb;
use patron_proto::forecast::v1::forecast_service_client::ForecastServiceClient;
use patron_proto::profile::v1 as pb;
use patron_proto::profile::v1::profile_service_client::ProfileServiceClient;
use patron_proto::segmentation::v1 as seg;
use patron_proto::segmentation::v1::segmentation_service_client::SegmentationServiceClient;
use patron_tests::Suite;
use sea_orm::{ConnectionTrait, Database, DbBackend, Statement, Value};
use tokio_stream::StreamExt;

/// A demo customer: external id, email and phone, as the demo file has them.
struct Person {
    customer_id: String,
    email: String,
    phone: String,
}

impl Person {
    fn traces(&self) -> [&str; 3] {
        [&self.customer_id, &self.email, &self.phone]
    }
}

/// The demo customers that have both an email and a phone.
fn demo_people(data_dir: &Path) -> Vec<Person> {
    let text = std::fs::read_to_string(data_dir.join("demo/customers.csv")).expect("demo customers");
    let mut lines = text.lines();
    let header: Vec<&str> = lines.next().expect("header").split(',').collect();
    let column = |name: &str| header.iter().position(|field| *field == name).expect("column in the demo header");
    let (id, email, phone) = (column("customer_id"), column("email"), column("phone"));
    lines
        .map(|line| line.split(',').collect::<Vec<_>>())
        .filter(|fields| fields.len() == header.len() && !fields[email].is_empty() && !fields[phone].is_empty())
        .map(|fields| Person {
            customer_id: fields[id].to_owned(),
            email: fields[email].to_owned(),
            phone: fields[phone].to_owned(),
        })
        .collect()
}

/// Every (store file, table, text) where a table's row contains one of `needles`.
async fn scan_stores(data_dir: &Path, needles: &[&str]) -> Vec<String> {
    let mut hits = Vec::new();
    let stores: Vec<PathBuf> = std::fs::read_dir(data_dir)
        .expect("data directory")
        .flatten()
        .map(|entry| entry.path())
        .filter(|path| path.extension().is_some_and(|extension| extension == "db"))
        .collect();
    assert!(stores.len() >= 4, "a store per service: {stores:?}");
    for store in &stores {
        let db = Database::connect(format!("sqlite://{}?mode=ro", store.display())).await.expect("open store");
        let tables = db
            .query_all_raw(Statement::from_string(
                DbBackend::Sqlite,
                "SELECT name FROM sqlite_master WHERE type = 'table'".to_owned(),
            ))
            .await
            .expect("tables");
        for table in tables {
            let table: String = table.try_get("", "name").expect("name");
            let columns = db
                .query_all_raw(Statement::from_string(DbBackend::Sqlite, format!("PRAGMA table_info(\"{table}\")")))
                .await
                .expect("columns");
            let columns: Vec<String> =
                columns.iter().map(|column| column.try_get("", "name").expect("column name")).collect();
            for needle in needles {
                let condition = columns
                    .iter()
                    .map(|column| format!("instr(CAST(\"{column}\" AS TEXT), ?1) > 0"))
                    .collect::<Vec<_>>()
                    .join(" OR ");
                let sql = format!("SELECT COUNT(*) AS n FROM \"{table}\" WHERE {condition}");
                let row = db
                    .query_one_raw(Statement::from_sql_and_values(DbBackend::Sqlite, sql, [Value::from(*needle)]))
                    .await
                    .expect("scan")
                    .expect("a count");
                let found: i64 = row.try_get("", "n").expect("count");
                if found > 0 {
                    let name = store.file_name().map(|name| name.to_string_lossy().into_owned()).unwrap_or_default();
                    hits.push(format!("{name}:{table} holds {needle:?} in {found} rows"));
                }
            }
        }
        db.close().await.expect("close store");
    }
    hits
}

/// Follows a job's WatchJob stream to its end and checks it succeeded.
fn assert_succeeded(job: Option<patron_proto::common::v1::Job>) -> patron_proto::common::v1::Job {
    let job = job.expect("a terminal state");
    assert_eq!(job.state, JobState::Succeeded as i32, "{}: {}", job.kind, job.error);
    job
}

async fn train_churn_and_score_all(suite: &Suite, run: &str) {
    let mut churn = ChurnServiceClient::new(suite.gateway());
    let started = churn
        .train_churn_model(churn_pb::TrainChurnModelRequest {
            request_id: format!("erasure-train-{run}"),
            ..Default::default()
        })
        .await
        .expect("churn training starts")
        .into_inner()
        .job
        .expect("a job");
    let mut updates =
        churn.watch_job(churn_pb::WatchJobRequest { job_id: started.id }).await.expect("watch").into_inner();
    let mut last = None;
    while let Some(update) = updates.next().await {
        last = update.expect("watch answers").job;
    }
    let job = assert_succeeded(last);
    churn
        .activate_model(churn_pb::ActivateModelRequest {
            request_id: format!("erasure-activate-{run}"),
            model_id: job.model_version_id,
        })
        .await
        .expect("activated");
    score_all(suite, run).await;
}

async fn score_all(suite: &Suite, run: &str) {
    let mut scored = ChurnServiceClient::new(suite.gateway())
        .score_all(churn_pb::ScoreAllRequest { request_id: format!("erasure-score-{run}") })
        .await
        .expect("score all")
        .into_inner();
    while let Some(message) = scored.next().await {
        message.expect("scoring progress");
    }
}

async fn forecast_segment(suite: &Suite, segment: String) {
    let mut forecast = ForecastServiceClient::new(suite.gateway());
    let started = forecast
        .batch_forecast(forecast_pb::BatchForecastRequest {
            request_id: "erasure-forecast".into(),
            series_set: Some(forecast_pb::SeriesSet {
                measure: forecast_pb::Measure::Revenue as i32,
                granularity: forecast_pb::Granularity::Week as i32,
                series: vec![forecast_pb::LevelKey { level: forecast_pb::SeriesLevel::Segment as i32, key: segment }],
                ..Default::default()
            }),
            horizon: 4,
            ..Default::default()
        })
        .await
        .expect("batch forecast starts")
        .into_inner()
        .job
        .expect("a job");
    let mut updates =
        forecast.watch_job(forecast_pb::WatchJobRequest { job_id: started.id }).await.expect("watch").into_inner();
    let mut last = None;
    while let Some(update) = updates.next().await {
        last = update.expect("watch answers").job;
    }
    assert_succeeded(last);
}

/// The customer ids in the profile service's feature export (what training reads).
async fn exported_customer_ids(suite: &Suite) -> Vec<String> {
    let mut profile = ProfileServiceClient::new(suite.gateway());
    let mut export = profile
        .export_customer_features(pb::ExportCustomerFeaturesRequest { include_non_buyers: true, ..Default::default() })
        .await
        .expect("export")
        .into_inner();
    let mut ids = Vec::new();
    while let Some(message) = export.next().await {
        ids.extend(message.expect("export rows").rows.into_iter().map(|row| row.customer_id));
    }
    ids
}

async fn segment_members(suite: &Suite) -> Vec<String> {
    let mut segmentation = SegmentationServiceClient::new(suite.gateway());
    let segments =
        segmentation.list_segments(seg::ListSegmentsRequest::default()).await.expect("segments").into_inner().segments;
    let mut members = Vec::new();
    for segment in segments {
        let mut token = String::new();
        loop {
            let page = segmentation
                .list_segment_members(seg::ListSegmentMembersRequest {
                    segment_id: segment.id.clone(),
                    page_size: 1000,
                    page_token: token.clone(),
                    ..Default::default()
                })
                .await
                .expect("members")
                .into_inner();
            members.extend(page.members.into_iter().map(|member| member.customer_id));
            if page.next_page_token.is_empty() {
                break;
            }
            token = page.next_page_token;
        }
    }
    members
}

#[tokio::test]
async fn an_erased_customer_leaves_no_trace_in_stores_exports_retraining_or_logs() {
    let _shared = crate::alone::shared().await; // the overload test runs alone
    let suite = Suite::up_with_demo(300).await;
    let segment = crate::forecast::segment_of_demo(&suite).await;
    train_churn_and_score_all(&suite, "before").await;
    forecast_segment(&suite, segment).await;
    // A second model and run: the first model's memberships and the previous
    // score run are kept, and must go too.
    crate::forecast::segment_of_demo(&suite).await;
    score_all(&suite, "before-again").await;

    // A customer every service has seen: exported, segmented and scored.
    let members = segment_members(&suite).await;
    let people = demo_people(&suite.data_dir);
    let person = people.iter().find(|person| members.contains(&person.customer_id)).expect("a segmented demo customer");
    let traces = person.traces();
    let before = scan_stores(&suite.data_dir, &traces).await;
    for (what, store) in [("profile", "profile.db"), ("segmentation", "segmentation.db"), ("churn", "churn.db")] {
        assert!(
            before.iter().any(|hit| hit.starts_with(store)),
            "the {what} store holds the customer first: {before:?}"
        );
    }

    let erased = ProfileServiceClient::new(suite.gateway())
        .erase_customer(pb::EraseCustomerRequest {
            request_id: "erasure-1".into(),
            customer_id: person.customer_id.clone(),
            reason: "ticket 42".into(),
        })
        .await
        .expect("erased")
        .into_inner();
    assert_eq!(erased.customer_id_hash.len(), 64);
    let after_erasure = scan_stores(&suite.data_dir, &traces).await;
    assert!(after_erasure.is_empty(), "traces right after the erasure: {after_erasure:?}");

    // The next export, retraining and recomputation leave the customer out.
    let exported = exported_customer_ids(&suite).await;
    assert!(exported.len() > 100, "the export still has the others: {}", exported.len());
    assert!(!exported.contains(&person.customer_id), "the export names the erased customer");
    crate::forecast::segment_of_demo(&suite).await;
    train_churn_and_score_all(&suite, "after").await;
    assert!(!segment_members(&suite).await.contains(&person.customer_id), "a segment lists the erased customer");
    let score = ChurnServiceClient::new(suite.gateway())
        .get_customer_score(churn_pb::GetCustomerScoreRequest { customer_id: person.customer_id.clone() })
        .await
        .expect_err("no stored score of an erased customer");
    assert_eq!(score.code(), tonic::Code::NotFound, "{score:?}");
    let after_recomputation = scan_stores(&suite.data_dir, &traces).await;
    assert!(after_recomputation.is_empty(), "traces after the next runs: {after_recomputation:?}");

    // The logs of the whole run: no email address, phone number or credential.
    let dev_key = suite.dev_key.clone();
    let internal_token =
        std::fs::read_to_string(suite.data_dir.join("internal-token")).expect("token file").trim().to_owned();
    let (status, logs) = suite.terminate_collecting_logs().await;
    assert!(status.success());
    assert!(logs.len() > 1_000, "the run logged: {} bytes", logs.len());
    for secret in [dev_key.as_str(), internal_token.as_str()].into_iter().chain(traces.into_iter().skip(1)) {
        assert!(!logs.contains(secret), "the logs contain {secret:?}");
    }
    let emails = email_like(&logs);
    assert!(emails.is_empty(), "email addresses in the logs: {emails:?}");
    let phones = phone_like(&logs);
    assert!(phones.is_empty(), "phone numbers in the logs: {phones:?}");
}

/// Substrings shaped like `local@domain.tld`.
fn email_like(text: &str) -> Vec<String> {
    let is_local = |c: char| c.is_ascii_alphanumeric() || "._%+-".contains(c);
    let is_domain = |c: char| c.is_ascii_alphanumeric() || ".-".contains(c);
    let mut found = Vec::new();
    for (at, _) in text.match_indices('@') {
        let local: String = text[..at].chars().rev().take_while(|c| is_local(*c)).collect();
        let domain: String = text[at + 1..].chars().take_while(|c| is_domain(*c)).collect();
        let domain = domain.trim_end_matches('.');
        if !local.is_empty() && domain.contains('.') && domain.rsplit('.').next().is_some_and(|tld| tld.len() >= 2) {
            found.push(format!("{}@{domain}", local.chars().rev().collect::<String>()));
        }
    }
    found
}

/// Substrings shaped like an international phone number: `+` and 8 or more digits.
fn phone_like(text: &str) -> Vec<String> {
    text.match_indices('+')
        .filter_map(|(plus, _)| {
            let digits: String = text[plus + 1..].chars().take_while(char::is_ascii_digit).collect();
            (digits.len() >= 8).then(|| format!("+{digits}"))
        })
        .collect()
}

#[test]
fn the_log_scanners_find_what_they_look_for() {
    assert_eq!(email_like("sent to ada.l@example.com, ok"), ["ada.l@example.com"]);
    assert!(email_like("user@localhost and @ alone").is_empty());
    assert_eq!(phone_like("call +15550001234 now"), ["+15550001234"]);
    assert!(phone_like("2026-11-24T10:00:00+00:00 +1 ok").is_empty());
}
