//! Forecasts of the demo data through the gateway at every level, including
//! a customer segment (members from the segmentation service), as a batch
//! stored and listed, and one segment forecast on its own.

use std::collections::BTreeSet;

use patron_proto::common::v1::JobState;
use patron_proto::forecast::v1 as pb;
use patron_proto::forecast::v1::forecast_service_client::ForecastServiceClient;
use patron_proto::segmentation::v1 as seg;
use patron_proto::segmentation::v1::segmentation_service_client::SegmentationServiceClient;
use patron_tests::Suite;
use tokio_stream::StreamExt;

/// Trains, activates and assigns a segmentation; returns the largest segment's id.
pub(crate) async fn segment_of_demo(suite: &Suite) -> String {
    let mut client = SegmentationServiceClient::new(suite.gateway());
    let job = client
        .train_segmentation(seg::TrainSegmentationRequest { seed: Some(1), ..Default::default() })
        .await
        .expect("training starts")
        .into_inner()
        .job
        .expect("job");
    let mut updates = client.watch_job(seg::WatchJobRequest { job_id: job.id }).await.expect("watch").into_inner();
    let mut last = None;
    while let Some(update) = updates.next().await {
        last = update.expect("watch answers").job;
    }
    let job = last.expect("terminal");
    assert_eq!(job.state, JobState::Succeeded as i32, "{}", job.error);
    client
        .activate_model(seg::ActivateModelRequest { request_id: String::new(), model_id: job.model_version_id.clone() })
        .await
        .expect("activated");
    let mut assigned = client
        .assign_all(seg::AssignAllRequest { request_id: String::new(), as_of: None })
        .await
        .expect("assign all")
        .into_inner();
    while let Some(message) = assigned.next().await {
        message.expect("progress");
    }
    let model =
        client.get_model(seg::GetModelRequest { model_id: job.model_version_id }).await.expect("model").into_inner();
    model.segments[0].id.clone()
}

#[tokio::test]
async fn demo_data_is_forecast_at_every_level_through_the_gateway() {
    let _shared = crate::alone::shared().await; // the overload test runs alone
    let suite = Suite::up_with_demo(400).await;
    let segment = segment_of_demo(&suite).await;
    let mut client = ForecastServiceClient::new(suite.gateway());

    let one = client
        .forecast(pb::ForecastRequest {
            series: Some(pb::forecast_request::Series::SeriesId(pb::SeriesId {
                measure: pb::Measure::Revenue as i32,
                granularity: pb::Granularity::Week as i32,
                level: pb::SeriesLevel::Segment as i32,
                key: segment.clone(),
                ..Default::default()
            })),
            horizon: 8,
            ..Default::default()
        })
        .await
        .expect("segment forecast")
        .into_inner()
        .forecast
        .expect("forecast");
    assert_eq!(one.points.len(), 8);
    let resolved = one.series_id.expect("series id");
    assert!(!resolved.segmentation_model_id.is_empty(), "the segmentation model used is recorded");
    assert!(one.points.iter().all(|p| p.value.is_finite() && p.value >= 0.0));

    let levels = [
        pb::SeriesLevel::Store,
        pb::SeriesLevel::Channel,
        pb::SeriesLevel::Category,
        pb::SeriesLevel::Sku,
        pb::SeriesLevel::Region,
    ];
    let job = client
        .batch_forecast(pb::BatchForecastRequest {
            request_id: "demo-batch".into(),
            series_set: Some(pb::SeriesSet {
                measure: pb::Measure::Units as i32,
                granularity: pb::Granularity::Week as i32,
                levels: levels.iter().map(|l| *l as i32).collect(),
                series: vec![
                    pb::LevelKey { level: pb::SeriesLevel::Total as i32, key: String::new() },
                    pb::LevelKey { level: pb::SeriesLevel::Segment as i32, key: segment },
                ],
                ..Default::default()
            }),
            horizon: 8,
            ..Default::default()
        })
        .await
        .expect("batch starts")
        .into_inner()
        .job
        .expect("job");
    let mut updates =
        client.watch_job(pb::WatchJobRequest { job_id: job.id.clone() }).await.expect("watch").into_inner();
    let mut last = None;
    while let Some(update) = updates.next().await {
        last = update.expect("watch answers").job;
    }
    let done = last.expect("terminal");
    assert_eq!(done.state, JobState::Succeeded as i32, "{}", done.error);

    let mut found = BTreeSet::new();
    let mut page_token = String::new();
    loop {
        let page = client
            .list_forecasts(pb::ListForecastsRequest {
                page_size: 100,
                page_token: page_token.clone(),
                job_id: job.id.clone(),
                ..Default::default()
            })
            .await
            .expect("list")
            .into_inner();
        for forecast in page.forecasts {
            assert_eq!(forecast.points.len(), 8);
            found.insert(forecast.series_id.expect("series").level);
        }
        if page.next_page_token.is_empty() {
            break;
        }
        page_token = page.next_page_token;
    }
    for level in levels.iter().chain(&[pb::SeriesLevel::Total, pb::SeriesLevel::Segment]) {
        assert!(found.contains(&(*level as i32)), "no stored forecast at {level:?}: {found:?}");
    }
    suite.terminate().await;
}
