//! The forecast service's work limits through gRPC, at the limit and one past
//! it: horizon per granularity, series length and interval levels. Each
//! request carries one other deliberately bad field, so the answer lists
//! exactly the fields the limits refuse without running a forecast (the
//! limits are listed in docs/limits.md).

use patron_proto::forecast::v1 as pb;
use tonic::Code;

use crate::helpers::{Store, spawn_app};

/// Monday 2024-01-01 00:00 UTC: a period start at every granularity.
const START: i64 = 1_704_067_200;

fn request(granularity: pb::Granularity, values: usize, horizon: i32, levels: Vec<f64>) -> pb::ForecastRequest {
    pb::ForecastRequest {
        series: Some(pb::forecast_request::Series::SeriesData(pb::SeriesData {
            start_time: Some(prost_types::Timestamp { seconds: START, nanos: 0 }),
            granularity: granularity as i32,
            values: vec![1.0; values],
        })),
        horizon,
        interval_levels: levels,
        ..Default::default()
    }
}

async fn refused_fields(app: &mut crate::helpers::TestApp, request: pb::ForecastRequest) -> Vec<String> {
    let status = app.client.forecast(request).await.expect_err("the request has a bad field");
    assert_eq!(status.code(), Code::InvalidArgument, "{status:?}");
    crate::helpers::violated_fields(&status)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn horizon_series_length_and_levels_are_accepted_at_the_limit_and_refused_past_it() {
    let mut app = spawn_app(Store::Sqlite).await;
    let bad_level = vec![100.0];
    for (granularity, max) in [(pb::Granularity::Day, 730), (pb::Granularity::Week, 104), (pb::Granularity::Month, 24)]
    {
        let at = refused_fields(&mut app, request(granularity, 10, max, bad_level.clone())).await;
        assert_eq!(at, ["interval_levels[0]"], "{granularity:?} horizon {max} is allowed");
        let past = refused_fields(&mut app, request(granularity, 10, max + 1, bad_level.clone())).await;
        assert_eq!(past, ["horizon", "interval_levels[0]"], "{granularity:?} horizon {} is refused", max + 1);
    }

    const MAX_VALUES: usize = 100_000;
    let at = refused_fields(&mut app, request(pb::Granularity::Day, MAX_VALUES, 0, vec![])).await;
    assert_eq!(at, ["horizon"], "{MAX_VALUES} values are allowed");
    let past = refused_fields(&mut app, request(pb::Granularity::Day, MAX_VALUES + 1, 0, vec![])).await;
    assert_eq!(past, ["series_data.values", "horizon"]);

    let levels = |count: usize| (1..=count).map(|level| level as f64).collect::<Vec<_>>();
    let at = refused_fields(&mut app, request(pb::Granularity::Day, 10, 0, levels(10))).await;
    assert_eq!(at, ["horizon"], "10 interval levels are allowed");
    let past = refused_fields(&mut app, request(pb::Granularity::Day, 10, 0, levels(11))).await;
    assert_eq!(past, ["horizon", "interval_levels"]);
    app.stop().await;
}
