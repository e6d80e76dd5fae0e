//! Train on customers of known behaviour, activate, assign, list members,
//! retrain, roll back, evaluate and compare.

use std::collections::{BTreeSet, HashMap};

use patron_proto::common::v1::{JobState, ModelStatus};
use patron_proto::segmentation::v1 as pb;
use patron_proto::segmentation::v1::train_segmentation_request::KChoice;
use tonic::Code;

use crate::customers::{features, orders};
use crate::helpers::{Store, TestApp, spawn_app};

async fn assign(app: &TestApp, customer_id: &str) -> pb::SegmentAssignment {
    app.client
        .clone()
        .assign_customer(pb::AssignCustomerRequest {
            customer: Some(pb::assign_customer_request::Customer::CustomerId(customer_id.into())),
            ..Default::default()
        })
        .await
        .expect("assigned")
        .into_inner()
        .assignment
        .expect("an assignment")
}

async fn train_activate_assign_and_roll_back(store: Store) {
    let app = spawn_app(store).await;
    app.import_orders(orders(40)).await;
    let mut client = app.client.clone();

    let job = app
        .train(pb::TrainSegmentationRequest {
            request_id: "train-1".into(),
            features: features(),
            k_choice: Some(KChoice::KRange(pb::KRange { min: 2, max: 6 })),
            seed: Some(7),
            ..Default::default()
        })
        .await;
    assert_eq!(job.state, JobState::Succeeded as i32, "{}", job.error);
    assert_eq!(job.metrics.get("k"), Some(&4.0), "four behavioural groups: {:?}", job.metrics);
    let first_id = job.model_version_id.clone();

    let model = client.get_model(pb::GetModelRequest { model_id: first_id.clone() }).await.expect("model").into_inner();
    let version = model.model.expect("version");
    assert_eq!(version.status, ModelStatus::Candidate as i32);
    assert_eq!(version.training_rows, 160);
    assert_eq!(version.features, features());
    assert_eq!(version.parameters.get("seed").map(String::as_str), Some("7"));
    assert_eq!(model.transforms.len(), 6);
    assert!(model.transforms.iter().all(|transform| transform.std > 0.0));
    let ks: Vec<i32> = model.k_selection.iter().map(|score| score.k).collect();
    assert_eq!(ks, vec![2, 3, 4, 5, 6]);
    assert_eq!(model.k_selection.iter().filter(|score| score.selected).count(), 1);
    assert_eq!(model.segments.len(), 4);
    assert!(model.segments.iter().all(|segment| segment.size == 40), "sizes {:?}", model.segments);
    let names: BTreeSet<&str> = model.segments.iter().map(|segment| segment.name.as_str()).collect();
    assert_eq!(names.len(), 4, "names are unique: {names:?}");
    assert_eq!(model.rfm_segments.iter().map(|segment| segment.size).sum::<i64>(), 160);
    let revenue_share: f64 = model.segments.iter().map(|segment| segment.revenue_share).sum();
    assert!((revenue_share - 1.0).abs() < 1e-9);
    assert_eq!(model.rfm_quartiles.expect("quartiles").recency.expect("recency").cut_points.len(), 3);

    // Nothing is active yet.
    let status = client
        .assign_customer(pb::AssignCustomerRequest {
            customer: Some(pb::assign_customer_request::Customer::CustomerId("champ-000".into())),
            ..Default::default()
        })
        .await
        .unwrap_err();
    assert_eq!(status.code(), Code::FailedPrecondition);

    let activated = client
        .activate_model(pb::ActivateModelRequest { request_id: "activate-1".into(), model_id: first_id.clone() })
        .await
        .expect("activated")
        .into_inner();
    assert_eq!(activated.previous_model_id, "");

    // Each behavioural group lands in one segment, a different one per group.
    let mut segment_of_group: HashMap<&str, String> = HashMap::new();
    for group in ["champ", "lost", "new", "steady"] {
        for index in [0, 1, 17] {
            let assignment = assign(&app, &format!("{group}-{index:03}")).await;
            assert_eq!(assignment.model_id, first_id);
            let expected = segment_of_group.entry(group).or_insert_with(|| assignment.segment_id.clone());
            assert_eq!(&assignment.segment_id, expected, "{group}-{index:03}");
        }
    }
    assert_eq!(segment_of_group.values().collect::<BTreeSet<_>>().len(), 4);
    let champion = assign(&app, "champ-000").await;
    let lost = assign(&app, "lost-000").await;
    assert!(champion.rfm.as_ref().expect("rfm").recency >= 3);
    assert_eq!(lost.rfm.as_ref().expect("rfm").recency, 1);

    // Memberships are stored only by AssignAll.
    let status = client
        .get_customer_segment(pb::GetCustomerSegmentRequest {
            customer_id: "champ-000".into(),
            model_id: String::new(),
        })
        .await
        .unwrap_err();
    assert_eq!(status.code(), Code::FailedPrecondition);
    let messages = app.assign_all("assign-1").await.expect("assign all");
    let last = messages.last().expect("a final message");
    assert!(last.done);
    assert_eq!(last.model_id, first_id);
    assert_eq!(last.customers_assigned, 160);
    assert_eq!(last.segment_sizes.values().sum::<i64>(), 160);
    // A retry of the completed run returns only its final message.
    let replay = app.assign_all("assign-1").await.expect("replayed");
    assert_eq!(replay.len(), 1);
    assert_eq!(replay[0].customers_assigned, 160);

    // Members of the champions' segment, page by page, ascending.
    let mut members = Vec::new();
    let mut page_token = String::new();
    loop {
        let page = client
            .list_segment_members(pb::ListSegmentMembersRequest {
                model_id: String::new(),
                segment_id: champion.segment_id.clone(),
                page_size: 15,
                page_token,
            })
            .await
            .expect("members")
            .into_inner();
        members.extend(page.members.into_iter().map(|member| member.customer_id));
        if page.next_page_token.is_empty() {
            break;
        }
        page_token = page.next_page_token;
    }
    let expected: Vec<String> = (0..40).map(|index| format!("champ-{index:03}")).collect();
    assert_eq!(members, expected);
    // A page token outlives no recomputation: after another AssignAll it is refused.
    let first_page = client
        .list_segment_members(pb::ListSegmentMembersRequest { page_size: 10, ..Default::default() })
        .await
        .expect("first page")
        .into_inner();
    assert_eq!(first_page.members.len(), 10);
    app.assign_all("assign-2").await.expect("recomputed");
    let status = client
        .list_segment_members(pb::ListSegmentMembersRequest {
            page_size: 10,
            page_token: first_page.next_page_token,
            ..Default::default()
        })
        .await
        .unwrap_err();
    assert_eq!(status.code(), Code::Aborted);

    let stored = client
        .get_customer_segment(pb::GetCustomerSegmentRequest { customer_id: "lost-003".into(), model_id: String::new() })
        .await
        .expect("stored membership")
        .into_inner()
        .assignment
        .expect("assignment");
    assert_eq!(stored.segment_id, lost.segment_id);
    let segment = client
        .get_segment(pb::GetSegmentRequest { model_id: String::new(), segment_id: champion.segment_id.clone() })
        .await
        .expect("segment")
        .into_inner()
        .segment
        .expect("segment");
    assert_eq!(segment.member_count, 40);
    assert_eq!(segment.centroid.len(), 6);

    // Retrain with another k, activate it, then roll back to the first.
    let job = app
        .train(pb::TrainSegmentationRequest {
            request_id: "train-2".into(),
            features: features(),
            k_choice: Some(KChoice::K(3)),
            seed: Some(8),
            ..Default::default()
        })
        .await;
    assert_eq!(job.state, JobState::Succeeded as i32, "{}", job.error);
    let second_id = job.model_version_id.clone();
    let activated = client
        .activate_model(pb::ActivateModelRequest { request_id: String::new(), model_id: second_id.clone() })
        .await
        .expect("activated")
        .into_inner();
    assert_eq!(activated.previous_model_id, first_id);
    assert_eq!(assign(&app, "champ-000").await.model_id, second_id);
    let rolled_back = client
        .rollback_model(pb::RollbackModelRequest { request_id: "rollback-1".into() })
        .await
        .expect("rolled back")
        .into_inner();
    assert_eq!(rolled_back.model.expect("model").id, first_id);
    assert_eq!(rolled_back.previous_model_id, second_id);
    assert_eq!(assign(&app, "champ-000").await.model_id, first_id);
    let active = client
        .list_models(pb::ListModelsRequest { status: ModelStatus::Active as i32, ..Default::default() })
        .await
        .expect("models")
        .into_inner()
        .models;
    assert_eq!(active.iter().map(|model| model.id.clone()).collect::<Vec<_>>(), vec![first_id.clone()]);

    // Held-out evaluation and comparison on the same customers.
    let evaluation = client
        .evaluate_model(pb::EvaluateModelRequest { model_id: String::new(), holdout: None })
        .await
        .expect("evaluation")
        .into_inner();
    assert_eq!(evaluation.customers, 160);
    assert_eq!(evaluation.segments.iter().map(|segment| segment.customers).sum::<i64>(), 160);
    let silhouette = evaluation.metrics.iter().find(|metric| metric.metric == "silhouette").expect("silhouette");
    assert!(silhouette.candidate_value > silhouette.baseline_value, "k-means beats RFM here: {silhouette:?}");
    let comparison = client
        .compare_models(pb::CompareModelsRequest {
            baseline_model_id: String::new(),
            candidate_model_id: second_id.clone(),
            holdout: None,
        })
        .await
        .expect("comparison")
        .into_inner();
    assert_eq!(comparison.customers, 160);
    assert!(comparison.adjusted_rand_index > 0.3 && comparison.adjusted_rand_index < 1.0);
    assert_eq!(comparison.overlaps.iter().map(|overlap| overlap.customers).sum::<i64>(), 160);
    app.stop().await;
}

on_every_store!(train_activate_assign_and_roll_back);
