//! Churn on the demo data, through the gateway: train, activate, score one
//! customer, score everyone, read a stored score, and list win-back
//! candidates of one segment of the active segmentation model.

use std::collections::HashSet;

use patron_proto::churn::v1 as pb;
use patron_proto::churn::v1::churn_service_client::ChurnServiceClient;
use patron_proto::common::v1::JobState;
use patron_proto::profile::v1::ConsentChannel;
use patron_proto::segmentation::v1 as seg;
use patron_proto::segmentation::v1::segmentation_service_client::SegmentationServiceClient;
use patron_tests::Suite;
use tokio_stream::StreamExt;

#[tokio::test]
async fn demo_data_is_scored_and_win_back_candidates_are_listed_through_the_gateway() {
    let _shared = crate::alone::shared().await; // the overload test runs alone
    let suite = Suite::up_with_demo(600).await;
    let mut churn = ChurnServiceClient::new(suite.gateway());

    let job = churn
        .train_churn_model(pb::TrainChurnModelRequest { request_id: "suite-train".into(), ..Default::default() })
        .await
        .expect("training starts")
        .into_inner()
        .job
        .expect("a job");
    let mut updates = churn.watch_job(pb::WatchJobRequest { job_id: job.id }).await.expect("watch").into_inner();
    let mut last = None;
    while let Some(update) = updates.next().await {
        last = update.expect("watch answers").job;
    }
    let job = last.expect("a terminal state");
    assert_eq!(job.state, JobState::Succeeded as i32, "{}", job.error);
    assert!(job.metrics.get("roc_auc").is_some_and(|auc| *auc > 0.5), "{:?}", job.metrics);
    println!("churn holdout metrics on the demo data: {:?}", job.metrics);
    churn
        .activate_model(pb::ActivateModelRequest {
            request_id: "suite-activate".into(),
            model_id: job.model_version_id,
        })
        .await
        .expect("activated");

    let mut scored =
        churn.score_all(pb::ScoreAllRequest { request_id: "suite-all".into() }).await.expect("score all").into_inner();
    let mut last = None;
    while let Some(message) = scored.next().await {
        last = Some(message.expect("progress"));
    }
    let last = last.expect("a final message");
    assert!(last.scored_count >= 100 && last.scored_count == last.total_count - last.skipped_count, "{last:?}");

    // Segments of the active segmentation model, then one segment's win-back list.
    let mut segmentation = SegmentationServiceClient::new(suite.gateway());
    let job = segmentation
        .train_segmentation(seg::TrainSegmentationRequest { seed: Some(1), ..Default::default() })
        .await
        .expect("segmentation training starts")
        .into_inner()
        .job
        .expect("a job");
    let mut updates =
        segmentation.watch_job(seg::WatchJobRequest { job_id: job.id }).await.expect("watch").into_inner();
    let mut last = None;
    while let Some(update) = updates.next().await {
        last = update.expect("watch answers").job;
    }
    let job = last.expect("a terminal state");
    assert_eq!(job.state, JobState::Succeeded as i32, "{}", job.error);
    segmentation
        .activate_model(seg::ActivateModelRequest { request_id: String::new(), model_id: job.model_version_id.clone() })
        .await
        .expect("activated");
    let mut assigned = segmentation
        .assign_all(seg::AssignAllRequest { request_id: "suite-assign".into(), as_of: None })
        .await
        .expect("assign all")
        .into_inner();
    while let Some(message) = assigned.next().await {
        message.expect("progress");
    }
    let model = segmentation
        .get_model(seg::GetModelRequest { model_id: job.model_version_id })
        .await
        .expect("segmentation model")
        .into_inner();
    let segment = model.segments[0].id.clone();
    let mut members = HashSet::new();
    let mut token = String::new();
    loop {
        let page = segmentation
            .list_segment_members(seg::ListSegmentMembersRequest {
                segment_id: segment.clone(),
                page_size: 1000,
                page_token: token.clone(),
                ..Default::default()
            })
            .await
            .expect("members")
            .into_inner();
        members.extend(page.members.into_iter().map(|m| m.customer_id));
        if page.next_page_token.is_empty() {
            break;
        }
        token = page.next_page_token;
    }

    let list = churn
        .get_win_back_list(pb::GetWinBackListRequest {
            page_size: 1000,
            channel: ConsentChannel::Email as i32,
            segment_id: segment.clone(),
            ..Default::default()
        })
        .await
        .expect("win-back list")
        .into_inner();
    assert!(!list.candidates.is_empty());
    for (i, candidate) in list.candidates.iter().enumerate() {
        let score = candidate.score.as_ref().expect("score");
        assert!(members.contains(&score.customer_id), "{} is not in {segment}", score.customer_id);
        assert_eq!(candidate.rank, i as i64 + 1);
        assert_eq!(candidate.segment_id, segment);
    }
    let stored = churn
        .get_customer_score(pb::GetCustomerScoreRequest {
            customer_id: list.candidates[0].score.as_ref().expect("score").customer_id.clone(),
        })
        .await
        .expect("stored score")
        .into_inner();
    assert!(stored.score.is_some());
    suite.terminate().await;
}
