//! Every malformed request is INVALID_ARGUMENT naming its fields.

use patron_proto::forecast::v1 as pb;
use tonic_types::StatusExt;

use crate::helpers::{Store, day_start, orders, spawn_app};

fn fields(status: &tonic::Status) -> Vec<String> {
    assert_eq!(status.code(), tonic::Code::InvalidArgument, "{status:?}");
    status
        .get_details_bad_request()
        .map(|b| b.field_violations.into_iter().map(|v| v.field).collect())
        .unwrap_or_default()
}

fn data(values: Vec<f64>) -> Option<pb::forecast_request::Series> {
    Some(pb::forecast_request::Series::SeriesData(pb::SeriesData {
        start_time: Some(day_start(100)),
        granularity: pb::Granularity::Day as i32,
        values,
    }))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_requests_name_their_fields() {
    let app = spawn_app(Store::Sqlite).await;
    app.import_orders(orders()).await;
    let mut client = app.client.clone();
    let good: Vec<f64> = (0..60).map(|t| (t % 7) as f64).collect();

    let cases: Vec<(pb::ForecastRequest, Vec<&str>)> = vec![
        (pb::ForecastRequest { series: data(good.clone()), horizon: 0, ..Default::default() }, vec!["horizon"]),
        (pb::ForecastRequest { series: data(good.clone()), horizon: 731, ..Default::default() }, vec!["horizon"]),
        (
            pb::ForecastRequest {
                series: data(good.clone()),
                horizon: 7,
                interval_levels: vec![80.0, 100.0, 0.0],
                ..Default::default()
            },
            vec!["interval_levels[1]", "interval_levels[2]"],
        ),
        (
            pb::ForecastRequest { series: data(vec![1.0, -2.0, 3.0, f64::NAN]), horizon: 7, ..Default::default() },
            vec!["series_data.values[1]", "series_data.values[3]"],
        ),
        (
            pb::ForecastRequest {
                series: data(good.clone()),
                horizon: 7,
                data_cutoff: Some(day_start(1)),
                ..Default::default()
            },
            vec!["data_cutoff"],
        ),
        (pb::ForecastRequest { series: None, horizon: 7, ..Default::default() }, vec!["series"]),
        (
            pb::ForecastRequest {
                series: data(good.clone()),
                horizon: 7,
                selection: Some(pb::SelectionConfig {
                    candidates: vec![
                        pb::ForecastMethod::Ets as i32,
                        pb::ForecastMethod::Ets as i32,
                        pb::ForecastMethod::Arima as i32,
                    ],
                    combination_size: 9,
                    ..Default::default()
                }),
                ..Default::default()
            },
            vec!["selection.candidates[1]", "selection.candidates[2]", "selection.combination_size"],
        ),
        (
            pb::ForecastRequest {
                series: Some(pb::forecast_request::Series::SeriesData(pb::SeriesData {
                    start_time: Some(prost_types::Timestamp { seconds: day_start(10).seconds + 3600, nanos: 0 }),
                    granularity: pb::Granularity::Day as i32,
                    values: good.clone(),
                })),
                horizon: 7,
                ..Default::default()
            },
            vec!["series_data.start_time"],
        ),
        (
            pb::ForecastRequest {
                series: Some(pb::forecast_request::Series::SeriesId(pb::SeriesId {
                    measure: pb::Measure::Units as i32,
                    granularity: pb::Granularity::Day as i32,
                    level: pb::SeriesLevel::Unspecified as i32,
                    ..Default::default()
                })),
                horizon: 7,
                ..Default::default()
            },
            vec!["series_id.level"],
        ),
        (
            pb::ForecastRequest {
                series: Some(pb::forecast_request::Series::SeriesId(pb::SeriesId {
                    measure: pb::Measure::Units as i32,
                    granularity: pb::Granularity::Day as i32,
                    level: pb::SeriesLevel::Sku as i32,
                    key: "no-such-sku".into(),
                    ..Default::default()
                })),
                horizon: 7,
                ..Default::default()
            },
            vec!["series_id.key"],
        ),
        (
            pb::ForecastRequest {
                series: Some(pb::forecast_request::Series::SeriesId(pb::SeriesId {
                    measure: pb::Measure::Units as i32,
                    granularity: pb::Granularity::Day as i32,
                    level: pb::SeriesLevel::Total as i32,
                    key: "x".into(),
                    ..Default::default()
                })),
                horizon: 7,
                data_cutoff: Some(day_start(-3)),
                ..Default::default()
            },
            vec!["series_id.key", "data_cutoff"],
        ),
    ];
    for (request, expected) in cases {
        let status = client.forecast(request.clone()).await.expect_err("invalid");
        assert_eq!(fields(&status), expected, "{request:?}");
    }

    let status = client
        .batch_forecast(pb::BatchForecastRequest { horizon: 7, ..Default::default() })
        .await
        .expect_err("no series set");
    assert_eq!(fields(&status), vec!["series_set"]);
    let status = client
        .batch_forecast(pb::BatchForecastRequest {
            horizon: 7,
            series_set: Some(pb::SeriesSet {
                measure: pb::Measure::Units as i32,
                granularity: pb::Granularity::Day as i32,
                series: vec![pb::LevelKey { level: pb::SeriesLevel::Sku as i32, key: "ghost".into() }],
                ..Default::default()
            }),
            ..Default::default()
        })
        .await
        .expect_err("unknown key");
    assert_eq!(fields(&status), vec!["series_set.series[0].key"]);
    app.stop().await;
}

// PostgreSQL refuses NUL in a text parameter: these once came back INTERNAL
// from the PostgreSQL store (found by the hostile test, key bytes 22 01 00).
crate::on_every_store!(list_filters_with_control_characters_name_their_fields, |store| async move {
    let app = spawn_app(store).await;
    let mut client = app.client.clone();
    let cases = [
        (pb::ListForecastsRequest { key: "\u{1}\0".into(), ..Default::default() }, "key"),
        (pb::ListForecastsRequest { model_id: "fc-\0".into(), ..Default::default() }, "model_id"),
        (pb::ListForecastsRequest { job_id: "\njob".into(), ..Default::default() }, "job_id"),
        (pb::ListForecastsRequest { page_token: "a\0b".into(), ..Default::default() }, "page_token"),
        (pb::ListForecastsRequest { page_token: "1:\0".into(), ..Default::default() }, "page_token"),
    ];
    for (request, field) in cases {
        let status = client.list_forecasts(request.clone()).await.expect_err("invalid");
        assert_eq!(fields(&status), vec![field], "{request:?}");
    }
    let listed = client.list_forecasts(pb::ListForecastsRequest { key: "sku-1".into(), ..Default::default() }).await;
    assert!(listed.expect("a plain key is fine").into_inner().forecasts.is_empty());
    app.stop().await;
});
