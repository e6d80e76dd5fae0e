//! The segmentation service's limits through gRPC, at the limit and one past
//! it (the rows of docs/limits.md): the training parameters, each request
//! carrying a deliberately bad tolerance so nothing trains and the answer
//! lists exactly the fields the limits refuse; and the member page, lowered
//! to its maximum over a model with more members than one page holds.

use patron_proto::common::v1::JobState;
use patron_proto::profile::v1 as profile_pb;
use patron_proto::segmentation::v1 as pb;
use patron_proto::segmentation::v1::train_segmentation_request::KChoice;

use crate::helpers::{Store, days_ago, spawn_app, violated_fields};

/// TrainSegmentation with `adjust` applied to a request whose tolerance is refused.
fn training(adjust: impl FnOnce(&mut pb::TrainSegmentationRequest)) -> pb::TrainSegmentationRequest {
    let mut request = pb::TrainSegmentationRequest { tolerance: -1.0, ..Default::default() };
    adjust(&mut request);
    request
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn training_parameters_are_accepted_at_the_limit_and_refused_past_it() {
    let app = spawn_app(Store::Sqlite).await;
    let k = |k| move |request: &mut pb::TrainSegmentationRequest| request.k_choice = Some(KChoice::K(k));
    let range = |min, max| {
        move |request: &mut pb::TrainSegmentationRequest| {
            request.k_choice = Some(KChoice::KRange(pb::KRange { min, max }))
        }
    };
    let cases: [(pb::TrainSegmentationRequest, &[&str]); 22] = [
        (training(k(2)), &[]),
        (training(k(32)), &[]),
        (training(k(1)), &["k"]),
        (training(k(33)), &["k"]),
        (training(range(2, 32)), &[]),
        (training(range(1, 32)), &["k_range.min"]),
        (training(range(2, 33)), &["k_range.max"]),
        (training(|request| request.n_init = 1), &[]),
        (training(|request| request.n_init = 64), &[]),
        (training(|request| request.n_init = 65), &["n_init"]),
        (training(|request| request.n_init = -1), &["n_init"]),
        (training(|request| request.max_iterations = 1), &[]),
        (training(|request| request.max_iterations = 10_000), &[]),
        (training(|request| request.max_iterations = 10_001), &["max_iterations"]),
        (training(|request| request.silhouette_sample_size = 100), &[]),
        (training(|request| request.silhouette_sample_size = 99), &["silhouette_sample_size"]),
        (training(|request| request.silhouette_sample_size = 50_000), &[]),
        (training(|request| request.silhouette_sample_size = 50_001), &["silhouette_sample_size"]),
        (training(|request| request.mini_batch_size = 1), &[]),
        (training(|request| request.mini_batch_size = 1_000_000), &[]),
        (training(|request| request.mini_batch_size = 1_000_001), &["mini_batch_size"]),
        (training(|request| request.mini_batch_size = -1), &["mini_batch_size"]),
    ];
    for (request, refused) in cases {
        let shown = format!("{request:?}");
        let status = app.client.clone().train_segmentation(request).await.expect_err("the tolerance is refused");
        let mut expected: Vec<&str> = refused.iter().copied().chain(["tolerance"]).collect();
        expected.sort();
        let mut fields = violated_fields(&status);
        fields.sort();
        assert_eq!(fields, expected, "{shown}");
    }
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn member_pages_are_lowered_to_ten_thousand() {
    const CUSTOMERS: usize = 10_001;
    let app = spawn_app(Store::Sqlite).await;
    let orders = (0..CUSTOMERS)
        .map(|index| profile_pb::OrderRow {
            order_id: format!("o-{index}"),
            customer_id: format!("c-{index:05}"),
            place_time: Some(days_ago(1.0 + (index % 300) as f64)),
            channel: profile_pb::SalesChannel::Web as i32,
            currency_code: "USD".into(),
            status: profile_pb::OrderStatus::Completed as i32,
            total_minor: 100 + (index % 977) as i64 * 10,
            ..Default::default()
        })
        .collect();
    app.import_orders(orders).await;
    let job = app
        .train(pb::TrainSegmentationRequest {
            request_id: "train-limits".into(),
            features: vec!["recency_days".into(), "monetary".into()],
            k_choice: Some(KChoice::K(2)),
            n_init: 1,
            seed: Some(1),
            silhouette_sample_size: 100,
            ..Default::default()
        })
        .await;
    assert_eq!(job.state, JobState::Succeeded as i32, "{}", job.error);
    let mut client = app.client.clone();
    client
        .activate_model(pb::ActivateModelRequest {
            request_id: "activate-limits".into(),
            model_id: job.model_version_id.clone(),
        })
        .await
        .expect("activated");
    app.assign_all("assign-limits").await.expect("assigned");

    for (asked, served) in [(10_000, 10_000), (10_001, 10_000), (i32::MAX, 10_000), (0, 1_000)] {
        let page = client
            .list_segment_members(pb::ListSegmentMembersRequest { page_size: asked, ..Default::default() })
            .await
            .expect("a page of members")
            .into_inner();
        assert_eq!(page.members.len(), served, "page_size {asked}");
        assert!(!page.next_page_token.is_empty(), "more members follow");
    }
    // A model has far fewer than 1,000 segments, so a page of segments is
    // never full; a size past the maximum is served like the maximum.
    let segments = |page_size| {
        let mut client = client.clone();
        async move {
            let request = pb::ListSegmentsRequest { page_size, ..Default::default() };
            client.list_segments(request).await.expect("segments").into_inner()
        }
    };
    let (at, past) = (segments(1_000).await, segments(1_001).await);
    assert!(at.next_page_token.is_empty() && !at.segments.is_empty());
    assert_eq!(past, at);
    app.stop().await;
}
