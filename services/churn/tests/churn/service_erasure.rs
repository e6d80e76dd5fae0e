//! ForgetCustomer (right to erasure): the customer's stored scores go from
//! every kept run, not only the latest; a ScoreAll that read the customer
//! before the erasure leaves them out when it completes.

use patron_churn::store::scores::{self, StoredScore};
use patron_common::erasures::Erasures;
use patron_common::testing::database_config;
use patron_proto::churn::v1 as pb;
use sea_orm_migration::MigratorTrait;
use tokio_stream::StreamExt;
use tonic::Code;

use crate::demo;
use crate::helpers::{Store, TestApp, fresh_database, remove_database, spawn_app, violated_fields};

on_every_store!(
    forgetting_removes_the_scores_of_every_kept_run,
    a_customer_forgotten_while_scores_are_written_is_left_out_when_the_run_completes,
);

async fn score_all(app: &mut TestApp, request_id: &str) {
    let mut stream = app
        .churn
        .score_all(pb::ScoreAllRequest { request_id: request_id.into() })
        .await
        .expect("score all")
        .into_inner();
    while let Some(update) = stream.next().await {
        update.expect("progress");
    }
}

async fn listed(app: &mut TestApp) -> Vec<String> {
    let mut seen = Vec::new();
    let mut token = String::new();
    loop {
        let page = app
            .churn
            .list_scores(pb::ListScoresRequest { page_size: 1_000, page_token: token.clone(), risk_band: 0 })
            .await
            .expect("list scores")
            .into_inner();
        seen.extend(page.scores.into_iter().map(|score| score.customer_id));
        if page.next_page_token.is_empty() {
            return seen;
        }
        token = page.next_page_token;
    }
}

fn forget(request_id: &str, customer_id: &str) -> pb::ForgetCustomerRequest {
    pb::ForgetCustomerRequest { request_id: request_id.into(), customer_id: customer_id.into() }
}

async fn forgetting_removes_the_scores_of_every_kept_run(store: Store) {
    let mut app = spawn_app(store).await;
    let demo = demo::seed(&mut app.profile, 400, 13).await;
    app.train_and_activate("train-1").await;
    // Two runs: the latest and the previous one, kept for readers paging through it.
    score_all(&mut app, "all-1").await;
    score_all(&mut app, "all-2").await;
    let customer_id = demo.buyers[0].clone();
    app.churn
        .get_customer_score(pb::GetCustomerScoreRequest { customer_id: customer_id.clone() })
        .await
        .expect("a stored score");

    let forgotten = app.churn.forget_customer(forget("forget-1", &customer_id)).await.expect("forgotten").into_inner();
    assert_eq!(forgotten.rows_removed, 2, "one score in each kept run");
    let status = app
        .churn
        .get_customer_score(pb::GetCustomerScoreRequest { customer_id: customer_id.clone() })
        .await
        .expect_err("no stored score");
    assert_eq!(status.code(), Code::NotFound);
    let remaining = listed(&mut app).await;
    assert_eq!(remaining.len(), demo.buyers.len() - 1);
    assert!(!remaining.contains(&customer_id));

    // Idempotent: a repeat, and an id never seen, remove nothing and succeed.
    for (request_id, id) in [("forget-1", customer_id.as_str()), ("forget-2", "nobody")] {
        let again = app.churn.forget_customer(forget(request_id, id)).await.expect("idempotent").into_inner();
        assert_eq!(again.rows_removed, 0, "{id}");
    }

    // Bad input names the field; nothing is removed.
    let other = demo.buyers[1].clone();
    for (request, field) in [
        (forget("", &other), "request_id"),
        (forget("forget-3", ""), "customer_id"),
        (forget("forget-3", &"c".repeat(129)), "customer_id"),
        (forget("forget-3", "nul\0id"), "customer_id"),
    ] {
        let status = app.churn.forget_customer(request).await.expect_err("refused");
        assert_eq!(violated_fields(&status), [field]);
    }
    app.churn
        .get_customer_score(pb::GetCustomerScoreRequest { customer_id: other })
        .await
        .expect("a refused call removes nothing");
    app.stop().await;
}

fn score(customer_id: &str) -> StoredScore {
    StoredScore {
        customer_id: customer_id.into(),
        risk_band: 1,
        value_at_risk_minor: 100,
        region: "north".into(),
        score: Vec::new(),
    }
}

/// The store under the service, driven as ScoreAll and ForgetCustomer drive
/// it, in the one order a gRPC test cannot force: the run has read the
/// customer, the customer is forgotten, and only then does the run write them.
async fn a_customer_forgotten_while_scores_are_written_is_left_out_when_the_run_completes(store: Store) {
    let url = fresh_database(store, "patron_churn_erasure").await;
    let db = patron_common::storage::connect(&database_config(&url)).await.expect("store");
    patron_churn::migration::Migrator::up(&db, None).await.expect("migrated");
    let erasures = Erasures::default();

    let run = erasures.watch_run();
    scores::start_run(&db, "run-1", "job-1", "churn-1", 4).await.expect("run started");
    scores::insert(&db, "run-1", vec![score("a"), score("b")]).await.expect("first batch");
    assert_eq!(
        erasures.forget("b", scores::forget(&db, "b")).await.expect("forgotten"),
        1,
        "the written score goes at once"
    );
    assert_eq!(erasures.forget("c", scores::forget(&db, "c")).await.expect("forgotten"), 0);
    scores::insert(&db, "run-1", vec![score("c"), score("d")]).await.expect("second batch");
    let (serial, forgotten) = run.forgotten().await;
    assert_eq!(forgotten, ["b", "c"]);
    scores::complete_run(&db, "run-1", 4, 0, &forgotten).await.expect("completed");
    drop(serial);
    drop(run);

    let latest = scores::latest_run(&db).await.expect("a completed run");
    assert_eq!((latest.id.as_str(), latest.scored_count), ("run-1", 2), "the scores stored");
    let stored: Vec<String> =
        scores::list(&db, "run-1", "", None, 10).await.expect("list").into_iter().map(|row| row.customer_id).collect();
    assert_eq!(stored, ["a", "d"]);
    assert_eq!(
        erasures.forget("d", scores::forget(&db, "d")).await.expect("forgotten"),
        1,
        "after completion, directly"
    );
    db.close().await.expect("closed");
    remove_database(&url).await;
}
