//! The model registry, jobs and request log against real stores: a fresh
//! SQLite file and a fresh PostgreSQL database on the local server.

use std::collections::BTreeMap;
use std::time::Duration;

use futures::StreamExt;
use patron_common::ServiceError;
use patron_common::registry::{
    ActiveModel, JobBoard, ListModelsQuery, ModelRegistry, NewModelVersion, RegistryTables, RequestLog,
};
use patron_common::testing::{Store, fresh_database};
use patron_proto::common::v1::{JobState, ModelStatus, ModelVersion};
use sea_orm::{Database, DatabaseConnection};
use sea_orm_migration::{MigrationTrait, MigratorTrait};

struct Migrator;

impl MigratorTrait for Migrator {
    fn migrations() -> Vec<Box<dyn MigrationTrait>> {
        vec![Box::new(RegistryTables)]
    }
}

/// A migrated, empty database on SQLite or PostgreSQL.
async fn fresh(postgres: bool) -> DatabaseConnection {
    let store = if postgres { Store::Postgres } else { Store::Sqlite };
    let db = Database::connect(fresh_database(store, "patron_registry").await).await.expect("connect");
    Migrator::up(&db, None).await.expect("migrate");
    db
}

macro_rules! on_both_stores {
    ($($name:ident),* $(,)?) => {
        mod sqlite {
            $(#[tokio::test] async fn $name() { super::$name(super::fresh(false).await).await; })*
        }
        mod postgres {
            $(#[tokio::test] async fn $name() { super::$name(super::fresh(true).await).await; })*
        }
    };
}

on_both_stores!(
    versions_list_newest_first_in_pages,
    activations_form_a_stack,
    tags_name_one_version,
    jobs_report_progress_to_watchers_and_other_replicas,
    a_job_whose_worker_vanished_fails,
    request_ids_replay_the_first_response,
    every_replica_follows_an_activation,
);

fn draft(kind: &str, failed: bool) -> NewModelVersion {
    NewModelVersion {
        kind: kind.to_owned(),
        parameters: BTreeMap::from([("k".to_owned(), "4".to_owned())]),
        features: vec!["recency_days".to_owned(), "frequency".to_owned()],
        training_rows: 1234,
        training_duration: Duration::from_millis(1500),
        metrics: BTreeMap::from([("inertia".to_owned(), 12.5), ("nan_is_dropped".to_owned(), f64::NAN)]),
        trained_by: "tester".to_owned(),
        failed,
        payload: kind.as_bytes().to_vec(),
        ..NewModelVersion::default()
    }
}

fn code(error: ServiceError) -> tonic::Code {
    tonic::Status::from(error).code()
}

async fn versions_list_newest_first_in_pages(db: DatabaseConnection) {
    let registry = ModelRegistry::new(db, "test");
    let mut created = Vec::new();
    for kind in ["a", "b", "c"] {
        created.push(registry.create(draft(kind, false)).await.expect("create"));
        tokio::time::sleep(Duration::from_millis(2)).await;
    }
    let first = &created[0];
    assert_eq!(first.status, ModelStatus::Candidate as i32);
    assert_eq!(first.features, ["recency_days", "frequency"]);
    assert_eq!(first.metrics.get("inertia"), Some(&12.5));
    assert!(!first.metrics.contains_key("nan_is_dropped"));
    assert_eq!(first.training_duration.as_ref().map(|duration| duration.nanos), Some(500_000_000));
    assert_eq!(registry.payload(&first.id).await.expect("payload"), b"a");

    let query = ListModelsQuery { page_size: 2, ..ListModelsQuery::default() };
    let (page, token) = registry.list(&query).await.expect("first page");
    let kinds: Vec<&str> = page.iter().map(|version| version.kind.as_str()).collect();
    assert_eq!(kinds, ["c", "b"]);
    assert!(!token.is_empty());
    let (page, token) = registry.list(&ListModelsQuery { page_token: token, ..query.clone() }).await.expect("next");
    assert_eq!(page.iter().map(|version| version.kind.as_str()).collect::<Vec<_>>(), ["a"]);
    assert!(token.is_empty());

    let bad_token = ListModelsQuery { page_token: "nonsense".to_owned(), ..query.clone() };
    assert_eq!(code(registry.list(&bad_token).await.expect_err("foreign token")), tonic::Code::InvalidArgument);
    let negative = ListModelsQuery { page_size: -1, ..query };
    assert_eq!(code(registry.list(&negative).await.expect_err("negative size")), tonic::Code::InvalidArgument);
    assert_eq!(code(registry.get("test-unknown").await.expect_err("unknown")), tonic::Code::NotFound);
}

async fn activations_form_a_stack(db: DatabaseConnection) {
    let registry = ModelRegistry::new(db, "test");
    assert_eq!(code(registry.resolve("").await.expect_err("none active")), tonic::Code::FailedPrecondition);
    assert_eq!(code(registry.rollback().await.expect_err("nothing to roll back")), tonic::Code::FailedPrecondition);
    let [a, b, c]: [ModelVersion; 3] = [
        registry.create(draft("a", false)).await.expect("a"),
        registry.create(draft("b", false)).await.expect("b"),
        registry.create(draft("c", false)).await.expect("c"),
    ];
    let failed = registry.create(draft("broken", true)).await.expect("failed version");
    assert_eq!(failed.status, ModelStatus::Failed as i32);
    assert_eq!(code(registry.activate(&failed.id).await.expect_err("failed")), tonic::Code::FailedPrecondition);
    assert_eq!(code(registry.activate("test-unknown").await.expect_err("unknown")), tonic::Code::NotFound);

    assert_eq!(registry.activate(&a.id).await.expect("a").previous_model_id, "");
    let again = registry.activate(&a.id).await.expect("a again");
    assert_eq!(again.previous_model_id, "", "activating the active version is a no-op");
    assert_eq!(registry.activate(&b.id).await.expect("b").previous_model_id, a.id);
    let activation = registry.activate(&c.id).await.expect("c");
    assert_eq!(activation.previous_model_id, b.id);
    assert_eq!(activation.model.status, ModelStatus::Active as i32);
    assert!(activation.model.activate_time.is_some());
    assert_eq!(registry.get(&b.id).await.expect("b").status, ModelStatus::Retired as i32);

    let back = registry.rollback().await.expect("to b");
    assert_eq!((back.model.id.as_str(), back.previous_model_id.as_str()), (b.id.as_str(), c.id.as_str()));
    let back = registry.rollback().await.expect("to a");
    assert_eq!(back.model.id, a.id);
    assert_eq!(registry.resolve("").await.expect("active").id, a.id);
    assert_eq!(registry.get(&c.id).await.expect("c").status, ModelStatus::Retired as i32);
    assert_eq!(code(registry.rollback().await.expect_err("bottom of the stack")), tonic::Code::FailedPrecondition);
    assert_eq!(registry.active_id().await.expect("active id"), Some(a.id));
}

async fn tags_name_one_version(db: DatabaseConnection) {
    let registry = ModelRegistry::new(db, "test");
    let a = registry.create(draft("a", false)).await.expect("a");
    let b = registry.create(draft("b", false)).await.expect("b");
    let tagged = registry.tag(&a.id, &["champion".to_owned(), "v1".to_owned()], &[]).await.expect("tag a");
    assert_eq!(tagged.tags, ["champion", "v1"]);
    let moved = registry.tag(&b.id, &["champion".to_owned()], &[]).await.expect("tag b");
    assert_eq!(moved.tags, ["champion"]);
    assert_eq!(registry.get(&a.id).await.expect("a").tags, ["v1"]);
    let query = ListModelsQuery { tag: "champion".to_owned(), ..ListModelsQuery::default() };
    let (found, _) = registry.list(&query).await.expect("by tag");
    assert_eq!(found.iter().map(|version| version.id.as_str()).collect::<Vec<_>>(), [b.id.as_str()]);
    let removed = registry.tag(&a.id, &[], &["v1".to_owned(), "absent".to_owned()]).await.expect("untag");
    assert!(removed.tags.is_empty());

    let error = registry.tag(&a.id, &["Bad Tag".to_owned()], &[]).await.expect_err("malformed");
    let status = tonic::Status::from(error);
    assert_eq!(status.code(), tonic::Code::InvalidArgument);
    assert!(status.message().contains("add_tags[0]"), "{}", status.message());
    let both = registry.tag(&a.id, &["x".to_owned()], &["x".to_owned()]).await.expect_err("in both lists");
    assert_eq!(code(both), tonic::Code::InvalidArgument);
    // A filter no stored tag could match is named, not sent to the store (PostgreSQL refuses NUL).
    let query = ListModelsQuery { tag: "bad\0tag".to_owned(), ..ListModelsQuery::default() };
    let status = tonic::Status::from(registry.list(&query).await.expect_err("malformed filter"));
    assert_eq!(status.code(), tonic::Code::InvalidArgument);
    assert!(status.message().contains("tag"), "{}", status.message());
}

async fn jobs_report_progress_to_watchers_and_other_replicas(db: DatabaseConnection) {
    let board = JobBoard::new(db.clone(), "job");
    let handle = board.start("train_test").await.expect("start");
    let job = handle.job();
    assert_eq!(job.state, JobState::Queued as i32);
    let mut watch = board.watch(&job.id).await.expect("watch");
    assert_eq!(watch.next().await.expect("first").expect("ok").state, JobState::Queued as i32);

    handle.progress(0.5, "half way");
    let running = watch.next().await.expect("progress").expect("ok");
    assert_eq!(
        (running.state, running.progress, running.message.as_str()),
        (JobState::Running as i32, 0.5, "half way")
    );
    handle.succeed(Some("model-1".to_owned()), BTreeMap::from([("auc".to_owned(), 0.8)])).await;
    let mut last = running;
    while let Some(next) = watch.next().await {
        last = next.expect("ok");
    }
    assert_eq!(last.state, JobState::Succeeded as i32);
    assert_eq!(last.model_version_id, "model-1");

    // Another replica sees the stored job.
    let other_replica = JobBoard::new(db, "job");
    let stored = other_replica.get(&job.id).await.expect("stored");
    assert_eq!((stored.state, stored.progress), (JobState::Succeeded as i32, 1.0));
    assert_eq!(stored.metrics.get("auc"), Some(&0.8));
    let replayed: Vec<_> = other_replica.watch(&job.id).await.expect("watch stored").collect().await;
    assert_eq!(replayed.len(), 1, "a finished job is streamed once");

    let failing = board.start("train_test").await.expect("start");
    let id = failing.id();
    failing.fail(&ServiceError::FailedPrecondition("37 customers; at least 100 needed".to_owned())).await;
    let failed = other_replica.get(&id).await.expect("failed job");
    assert_eq!(failed.state, JobState::Failed as i32);
    assert_eq!(failed.error, "FAILED_PRECONDITION: 37 customers; at least 100 needed");
    assert_eq!(code(board.get("job-unknown").await.expect_err("unknown")), tonic::Code::NotFound);
}

async fn a_job_whose_worker_vanished_fails(db: DatabaseConnection) {
    let board = JobBoard::new(db, "job");
    let handle = board.start("train_test").await.expect("start");
    let id = handle.id();
    handle.progress(0.2, "working");
    drop(handle);
    let mut watch = board.watch(&id).await.expect("watch");
    let mut last = None;
    while let Some(next) = watch.next().await {
        last = Some(next.expect("ok"));
    }
    let last = last.expect("some state");
    assert_eq!(last.state, JobState::Failed as i32);
    assert!(last.error.starts_with("INTERNAL:"), "{}", last.error);
}

async fn request_ids_replay_the_first_response(db: DatabaseConnection) {
    let log = RequestLog::new(db);
    let request = patron_proto::common::v1::Money { currency_code: "USD".to_owned(), amount_minor: 5 };
    let calls = std::sync::atomic::AtomicU32::new(0);
    let run = || async {
        let count = calls.fetch_add(1, std::sync::atomic::Ordering::SeqCst) + 1;
        Ok(patron_proto::common::v1::Money { currency_code: "EUR".to_owned(), amount_minor: i64::from(count) })
    };
    let first = log.once("req-1", "Pay", &request, run()).await.expect("first");
    let again = log.once("req-1", "Pay", &request, run()).await.expect("retry");
    assert_eq!(first, again);
    assert_eq!(calls.load(std::sync::atomic::Ordering::SeqCst), 1, "the retry did not run again");
    let other = patron_proto::common::v1::Money { currency_code: "USD".to_owned(), amount_minor: 6 };
    let reused = log.once("req-1", "Pay", &other, run()).await.expect_err("other arguments");
    assert_eq!(code(reused), tonic::Code::AlreadyExists);
    log.once("", "Pay", &request, run()).await.expect("no id");
    log.once("", "Pay", &request, run()).await.expect("no id again");
    assert_eq!(calls.load(std::sync::atomic::Ordering::SeqCst), 3, "an empty request_id is not deduplicated");
}

fn decode_kind(version: &ModelVersion, payload: &[u8]) -> Result<String, ServiceError> {
    let text = String::from_utf8(payload.to_vec()).map_err(ServiceError::internal)?;
    Ok(format!("{}:{text}", version.kind))
}

async fn every_replica_follows_an_activation(db: DatabaseConnection) {
    let registry = ModelRegistry::new(db.clone(), "test");
    let active = ActiveModel::new(registry.clone(), Duration::from_millis(50), decode_kind);
    assert_eq!(code(active.get("").await.expect_err("none active")), tonic::Code::FailedPrecondition);
    let a = registry.create(draft("a", false)).await.expect("a");
    let b = registry.create(draft("b", false)).await.expect("b");

    // Another replica activates; this one notices by polling.
    let other_replica = ModelRegistry::new(db, "test");
    other_replica.activate(&a.id).await.expect("activate a");
    let deadline = tokio::time::Instant::now() + Duration::from_secs(5);
    while active.current().map(|loaded| loaded.version.id.clone()) != Some(a.id.clone()) {
        assert!(tokio::time::Instant::now() < deadline, "the activation was not picked up");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert_eq!(active.get("").await.expect("active").model, "a:a");
    assert_eq!(active.get(&b.id).await.expect("named version").model, "b:b");

    other_replica.activate(&b.id).await.expect("activate b");
    active.refresh().await.expect("refresh");
    assert_eq!(active.current().expect("active").version.id, b.id);
}
