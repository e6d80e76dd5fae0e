//! Segmentation on the demo data, through the gateway: train with the
//! default features, activate, assign one customer, assign everyone, list a
//! segment's members, retrain and roll back.

use patron_proto::common::v1::JobState;
use patron_proto::segmentation::v1 as pb;
use patron_proto::segmentation::v1::segmentation_service_client::SegmentationServiceClient;
use patron_tests::{GatewayChannel, Suite};
use tokio_stream::StreamExt;

type Client = SegmentationServiceClient<GatewayChannel>;

async fn train(client: &mut Client, seed: u64) -> patron_proto::common::v1::Job {
    let job = client
        .train_segmentation(pb::TrainSegmentationRequest { seed: Some(seed), ..Default::default() })
        .await
        .expect("training starts")
        .into_inner()
        .job
        .expect("a job");
    let mut updates =
        client.watch_job(pb::WatchJobRequest { job_id: job.id }).await.expect("watch starts").into_inner();
    let mut last = None;
    while let Some(update) = updates.next().await {
        last = update.expect("watch answers").job;
    }
    last.expect("a terminal state")
}

#[tokio::test]
async fn demo_data_is_segmented_assigned_and_rolled_back_through_the_gateway() {
    let _shared = crate::alone::shared().await; // the overload test runs alone
    let suite = Suite::up_with_demo(600).await;
    let mut client = SegmentationServiceClient::new(suite.gateway());

    let first = train(&mut client, 1).await;
    assert_eq!(first.state, JobState::Succeeded as i32, "{}", first.error);
    let k = first.metrics.get("k").copied().unwrap_or_default();
    assert!((3.0..=8.0).contains(&k), "k chosen over 3..8: {:?}", first.metrics);
    let model = client
        .get_model(pb::GetModelRequest { model_id: first.model_version_id.clone() })
        .await
        .expect("model")
        .into_inner();
    assert_eq!(model.transforms.len(), 10, "the default feature set");
    assert_eq!(model.segments.len(), k as usize);
    client
        .activate_model(pb::ActivateModelRequest {
            request_id: String::new(),
            model_id: first.model_version_id.clone(),
        })
        .await
        .expect("activated");

    let mut assigned = client
        .assign_all(pb::AssignAllRequest { request_id: "demo-assign".into(), as_of: None })
        .await
        .expect("assign all starts")
        .into_inner();
    let mut last = None;
    while let Some(message) = assigned.next().await {
        last = Some(message.expect("progress"));
    }
    let last = last.expect("a final message");
    assert!(last.done && last.customers_assigned >= 100, "{last:?}");

    let largest = &model.segments[0];
    let members = client
        .list_segment_members(pb::ListSegmentMembersRequest {
            segment_id: largest.id.clone(),
            page_size: 5,
            ..Default::default()
        })
        .await
        .expect("members")
        .into_inner()
        .members;
    assert_eq!(members.len(), 5);
    let member = &members[0].customer_id;
    let live = client
        .assign_customer(pb::AssignCustomerRequest {
            customer: Some(pb::assign_customer_request::Customer::CustomerId(member.clone())),
            ..Default::default()
        })
        .await
        .expect("assigned")
        .into_inner()
        .assignment
        .expect("assignment");
    assert_eq!(live.segment_id, largest.id, "the live assignment matches the stored one");

    let second = train(&mut client, 2).await;
    assert_eq!(second.state, JobState::Succeeded as i32, "{}", second.error);
    client
        .activate_model(pb::ActivateModelRequest { request_id: String::new(), model_id: second.model_version_id })
        .await
        .expect("activated");
    let rolled_back = client
        .rollback_model(pb::RollbackModelRequest { request_id: String::new() })
        .await
        .expect("rolled back")
        .into_inner();
    assert_eq!(rolled_back.model.expect("model").id, first.model_version_id);
    suite.terminate().await;
}
