//! ForgetCustomer (right to erasure): every stored membership of the
//! customer goes, in the active and in a retired version, and the stored
//! member counts follow; an AssignAll that read the customer before the
//! erasure leaves them out when it completes.

use std::collections::BTreeMap;

use patron_common::erasures::Erasures;
use patron_common::testing::database_config;
use patron_proto::segmentation::v1 as pb;
use patron_proto::segmentation::v1::train_segmentation_request::KChoice;
use patron_segmentation::store::memberships::{self, CompletedRun, Membership, SegmentFilter};
use sea_orm_migration::MigratorTrait;
use tonic::Code;

use crate::customers::{features, orders};
use crate::helpers::{Store, TestApp, fresh_database, remove_database, spawn_app, violated_fields};

on_every_store!(
    forgetting_removes_the_customer_from_every_version_and_lowers_the_counts,
    a_customer_forgotten_while_a_run_is_written_is_left_out_when_it_completes,
);

async fn train_activate_and_assign(app: &TestApp, name: &str, k: i32) -> String {
    let job = app
        .train(pb::TrainSegmentationRequest {
            request_id: format!("train-{name}"),
            features: features(),
            k_choice: Some(KChoice::K(k)),
            seed: Some(7),
            ..Default::default()
        })
        .await;
    assert!(job.error.is_empty(), "{}", job.error);
    app.client
        .clone()
        .activate_model(pb::ActivateModelRequest {
            request_id: format!("activate-{name}"),
            model_id: job.model_version_id.clone(),
        })
        .await
        .expect("activated");
    app.assign_all(&format!("assign-{name}")).await.expect("assigned");
    job.model_version_id
}

async fn membership(app: &TestApp, model_id: &str, customer_id: &str) -> Result<pb::SegmentAssignment, tonic::Status> {
    app.client
        .clone()
        .get_customer_segment(pb::GetCustomerSegmentRequest {
            customer_id: customer_id.into(),
            model_id: model_id.into(),
        })
        .await
        .map(|response| response.into_inner().assignment.expect("an assignment"))
}

async fn member_count(app: &TestApp, model_id: &str, segment_id: &str) -> i64 {
    let segment = app
        .client
        .clone()
        .get_segment(pb::GetSegmentRequest { model_id: model_id.into(), segment_id: segment_id.into() })
        .await
        .expect("segment")
        .into_inner()
        .segment
        .expect("segment");
    segment.member_count
}

async fn members(app: &TestApp, model_id: &str) -> Vec<String> {
    let page = app
        .client
        .clone()
        .list_segment_members(pb::ListSegmentMembersRequest {
            model_id: model_id.into(),
            page_size: 1_000,
            ..Default::default()
        })
        .await
        .expect("members")
        .into_inner();
    page.members.into_iter().map(|member| member.customer_id).collect()
}

fn forget(request_id: &str, customer_id: &str) -> pb::ForgetCustomerRequest {
    pb::ForgetCustomerRequest { request_id: request_id.into(), customer_id: customer_id.into() }
}

async fn forgetting_removes_the_customer_from_every_version_and_lowers_the_counts(store: Store) {
    let app = spawn_app(store).await;
    app.import_orders(orders(40)).await;
    let retired = train_activate_and_assign(&app, "first", 4).await;
    let active = train_activate_and_assign(&app, "second", 3).await;
    let in_retired = membership(&app, &retired, "champ-000").await.expect("a membership of the retired version");
    let in_active = membership(&app, &active, "champ-000").await.expect("a membership of the active version");
    let (retired_count, active_count) = (
        member_count(&app, &retired, &in_retired.segment_id).await,
        member_count(&app, &active, &in_active.segment_id).await,
    );
    let rfm_segment = in_active.rfm.as_ref().expect("rfm").segment_id.clone();
    let rfm_count = member_count(&app, &active, &rfm_segment).await;

    let mut client = app.client.clone();
    let forgotten = client.forget_customer(forget("forget-1", "champ-000")).await.expect("forgotten").into_inner();
    assert_eq!(forgotten.rows_removed, 2, "one membership in each version");
    for model_id in [&retired, &active] {
        let status = membership(&app, model_id, "champ-000").await.expect_err("no membership left");
        assert_eq!(status.code(), Code::NotFound, "{model_id}");
        let listed = members(&app, model_id).await;
        assert_eq!(listed.len(), 159, "{model_id}");
        assert!(!listed.iter().any(|id| id == "champ-000"), "{model_id}");
    }
    assert_eq!(member_count(&app, &retired, &in_retired.segment_id).await, retired_count - 1);
    assert_eq!(member_count(&app, &active, &in_active.segment_id).await, active_count - 1);
    assert_eq!(member_count(&app, &active, &rfm_segment).await, rfm_count - 1);
    // The others keep theirs.
    assert!(membership(&app, &active, "champ-001").await.is_ok());

    // Idempotent: a repeat, and an id never seen, remove nothing and succeed.
    for (request_id, customer_id) in [("forget-1", "champ-000"), ("", "champ-000"), ("forget-2", "nobody")] {
        let again = client.forget_customer(forget(request_id, customer_id)).await.expect("idempotent").into_inner();
        assert_eq!(again.rows_removed, 0, "{customer_id}");
    }
    assert_eq!(member_count(&app, &active, &in_active.segment_id).await, active_count - 1, "counted once");

    // Bad input names the field.
    for (request, field) in [
        (forget("forget-3", ""), "customer_id"),
        (forget("forget-3", &"c".repeat(129)), "customer_id"),
        (forget("forget-3", "nul\0id"), "customer_id"),
        (forget(&"r".repeat(65), "champ-001"), "request_id"),
    ] {
        let status = client.forget_customer(request).await.expect_err("refused");
        assert_eq!(status.code(), Code::InvalidArgument);
        assert_eq!(violated_fields(&status), [field]);
    }
    assert!(membership(&app, &active, "champ-001").await.is_ok(), "a refused call removes nothing");
    app.stop().await;
}

fn row(customer_id: &str, segment_id: &str) -> Membership {
    Membership {
        customer_id: customer_id.into(),
        segment_id: segment_id.into(),
        distance: 0.5,
        rfm: [1, 2, 3],
        rfm_segment_id: "rfm-loyal".into(),
    }
}

/// The store under the service, driven as AssignAll and ForgetCustomer
/// drive it, in the one order a gRPC test cannot force: the run has read
/// the customer, the customer is forgotten, and only then does the run
/// write them.
async fn a_customer_forgotten_while_a_run_is_written_is_left_out_when_it_completes(store: Store) {
    let url = fresh_database(store, "patron_seg_erasure").await;
    let db = patron_common::storage::connect(&database_config(&url)).await.expect("store");
    patron_segmentation::migration::Migrator::up(&db, None).await.expect("migrated");
    let erasures = Erasures::default();

    let run = erasures.watch_run();
    memberships::insert(&db, "run-1", &[row("a", "kmeans-0"), row("b", "kmeans-0")]).await.expect("first batch");
    // "b" is already written, "c" not yet: both are forgotten mid-run.
    assert_eq!(
        erasures.forget("b", memberships::forget(&db, "b")).await.expect("forgotten"),
        1,
        "the written row goes at once"
    );
    assert_eq!(erasures.forget("c", memberships::forget(&db, "c")).await.expect("forgotten"), 0);
    memberships::insert(&db, "run-1", &[row("c", "kmeans-1"), row("d", "kmeans-1")]).await.expect("second batch");

    // The run's own counts still include both.
    let counted = CompletedRun {
        run_id: "run-1".into(),
        features_as_of_us: 1,
        assign_time_us: 2,
        customers: 4,
        segment_counts: BTreeMap::from([
            ("kmeans-0".to_owned(), 2),
            ("kmeans-1".to_owned(), 2),
            ("rfm-loyal".to_owned(), 4),
        ]),
    };
    let (serial, forgotten) = run.forgotten().await;
    assert_eq!(forgotten, ["b", "c"]);
    let stored = memberships::complete(&db, "seg-1", &counted, &forgotten).await.expect("completed");
    drop(serial);
    drop(run);
    let expected =
        BTreeMap::from([("kmeans-0".to_owned(), 1), ("kmeans-1".to_owned(), 1), ("rfm-loyal".to_owned(), 2)]);
    assert_eq!((stored.customers, &stored.segment_counts), (2, &expected));
    let visible = memberships::completed_run(&db, "seg-1").await.expect("read").expect("a completed run");
    assert_eq!((visible.customers, &visible.segment_counts), (2, &expected));
    let listed: Vec<String> = memberships::page(&db, "run-1", &SegmentFilter::Every, None, 10)
        .await
        .expect("page")
        .into_iter()
        .map(|member| member.customer_id)
        .collect();
    assert_eq!(listed, ["a", "d"]);

    // After completion a forget reaches the completed run directly, counts included.
    assert_eq!(erasures.forget("d", memberships::forget(&db, "d")).await.expect("forgotten"), 1);
    let visible = memberships::completed_run(&db, "seg-1").await.expect("read").expect("a completed run");
    assert_eq!(visible.customers, 1);
    assert_eq!(visible.segment_counts.get("kmeans-1"), Some(&0));
    assert_eq!(visible.segment_counts.get("rfm-loyal"), Some(&1));

    // Rows of a run no version points at (one a crash left behind) are found too.
    memberships::insert(&db, "run-crashed", &[row("a", "kmeans-0")]).await.expect("orphan rows");
    assert_eq!(
        erasures.forget("a", memberships::forget(&db, "a")).await.expect("forgotten"),
        2,
        "the completed and the orphaned row"
    );
    db.close().await.expect("closed");
    remove_database(&url).await;
}
