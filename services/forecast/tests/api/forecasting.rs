//! Forecasts of profile-service series at every level, and of given series.

use patron_proto::forecast::v1 as pb;

use crate::helpers::{Store, day_start, orders, spawn_app};

fn named(level: pb::SeriesLevel, key: &str) -> pb::forecast_request::Series {
    pb::forecast_request::Series::SeriesId(pb::SeriesId {
        measure: pb::Measure::Units as i32,
        granularity: pb::Granularity::Day as i32,
        level: level as i32,
        key: key.to_owned(),
        ..Default::default()
    })
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn forecasts_demo_orders_at_every_profile_level() {
    let app = spawn_app(Store::Sqlite).await;
    app.import_orders(orders()).await;
    let cases = [
        (pb::SeriesLevel::Total, ""),
        (pb::SeriesLevel::Store, "s1"),
        (pb::SeriesLevel::Channel, "web"),
        (pb::SeriesLevel::Category, "food"),
        (pb::SeriesLevel::Sku, "sku-steady"),
        (pb::SeriesLevel::Sku, "sku-rare"),
        (pb::SeriesLevel::Region, "south"),
    ];
    for (level, key) in cases {
        let response = app
            .client
            .clone()
            .forecast(pb::ForecastRequest { series: Some(named(level, key)), horizon: 14, ..Default::default() })
            .await
            .unwrap_or_else(|status| panic!("{level:?} {key}: {status:?}"))
            .into_inner();
        let forecast = response.forecast.expect("a forecast");
        assert_eq!(forecast.points.len(), 14, "{level:?} {key}");
        assert_eq!(forecast.interval_levels, vec![80.0, 95.0]);
        assert_eq!(forecast.data_cutoff, Some(day_start(0)));
        assert!(forecast.history_length >= 170, "{level:?} {key}: {}", forecast.history_length);
        for point in &forecast.points {
            assert!(point.value.is_finite() && point.value >= 0.0);
            assert_eq!(point.intervals.len(), 2);
            assert!(point.intervals.iter().all(|i| i.lower <= point.value && point.value <= i.upper));
        }
        let selection = forecast.selection.expect("a selection");
        assert!(!selection.fallback, "{level:?} {key}: {}", selection.fallback_reason);
        assert!(selection.candidates.iter().filter(|c| c.selected).count() == 1, "{level:?} {key}");
        let chosen = pb::ForecastMethod::try_from(selection.method).expect("a method");
        // The reason names the chosen method: kept as preferred, best outright, or a significant challenger.
        let name = chosen.as_str_name().trim_start_matches("FORECAST_METHOD_");
        assert!(selection.reason.contains(name), "{level:?} {key}: {:?}", selection.reason);
        let intermittent = matches!(
            pb::ForecastMethod::try_from(selection.method),
            Ok(pb::ForecastMethod::Croston | pb::ForecastMethod::Sba | pb::ForecastMethod::Tsb)
        ) || (chosen == pb::ForecastMethod::Combination
            && selection.combination_members.iter().all(|m| {
                matches!(
                    pb::ForecastMethod::try_from(*m),
                    Ok(pb::ForecastMethod::Croston | pb::ForecastMethod::Sba | pb::ForecastMethod::Tsb)
                )
            }));
        if key == "sku-rare" {
            assert!(intermittent, "sku-rare chose {chosen:?}");
        }
        if key == "sku-steady" {
            assert!(!intermittent, "sku-steady chose {chosen:?}");
            // Weekly pattern plus a 3-day cycle in the quantities: 7 and 21 are both real.
            assert!(selection.seasonal_periods.contains(&7), "{:?}", selection.seasonal_periods);
        }
    }
    app.stop().await;
}

fn weekly_data(length: usize) -> pb::SeriesData {
    let pattern = [20.0, 12.0, 10.0, 11.0, 15.0, 30.0, 26.0];
    pb::SeriesData {
        start_time: Some(day_start(400)),
        granularity: pb::Granularity::Day as i32,
        values: (0..length).map(|t| pattern[t % 7] + (t % 5) as f64).collect(),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn given_series_are_forecast_backtested_and_their_season_found() {
    let app = spawn_app(Store::Sqlite).await;
    let mut client = app.client.clone();
    let data = weekly_data(210);
    let forecast = client
        .forecast(pb::ForecastRequest {
            series: Some(pb::forecast_request::Series::SeriesData(data.clone())),
            horizon: 21,
            interval_levels: vec![95.0, 50.0, 95.0],
            include_history: true,
            ..Default::default()
        })
        .await
        .expect("forecast")
        .into_inner();
    let history = forecast.history.expect("history asked for");
    assert_eq!(history.values, data.values);
    let forecast = forecast.forecast.expect("forecast");
    assert_eq!(forecast.interval_levels, vec![50.0, 95.0]);
    assert!(forecast.series_id.is_none());
    assert_eq!(forecast.points.len(), 21);
    // The first point starts where the given values end.
    assert_eq!(forecast.points[0].start_time, Some(day_start(400 - 210)));

    let backtest = client
        .backtest(pb::BacktestRequest {
            series: Some(pb::backtest_request::Series::SeriesData(data.clone())),
            ..Default::default()
        })
        .await
        .expect("backtest")
        .into_inner();
    assert_eq!(backtest.backtest, Some(pb::BacktestSettings { windows: 3, horizon: 28, step: 28 }));
    assert_eq!(backtest.origins.len(), 3);
    assert_eq!(backtest.seasonal_periods, vec![7]);
    // Without routing every method is scored (COMBINATION included).
    let scored = backtest.candidates.iter().filter(|c| c.skip_reason.is_empty()).count();
    assert!(scored >= 7, "{:?}", backtest.candidates);
    let mases: Vec<f64> = backtest.candidates.iter().filter_map(|c| c.mase).collect();
    assert!(mases.windows(2).all(|pair| pair[0] <= pair[1]), "best MASE first: {mases:?}");

    let seasonality = client
        .detect_seasonality(pb::DetectSeasonalityRequest {
            series: Some(pb::detect_seasonality_request::Series::SeriesData(data)),
            ..Default::default()
        })
        .await
        .expect("detect")
        .into_inner();
    assert_eq!(seasonality.periods.first().map(|p| p.period), Some(7), "{:?}", seasonality.periods);
    assert!(seasonality.periods[0].strength > 0.8);
    assert_eq!(seasonality.history_length, 210);
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn short_series_get_a_fallback_or_the_minimum_length() {
    let app = spawn_app(Store::Sqlite).await;
    let mut client = app.client.clone();
    let data = weekly_data(30);
    let fallback = client
        .forecast(pb::ForecastRequest {
            series: Some(pb::forecast_request::Series::SeriesData(data.clone())),
            horizon: 28,
            ..Default::default()
        })
        .await
        .expect("fallback forecast")
        .into_inner()
        .forecast
        .expect("forecast");
    let selection = fallback.selection.expect("selection");
    assert!(selection.fallback);
    assert_eq!(selection.method, pb::ForecastMethod::SeasonalNaive as i32);
    assert_eq!(selection.fallback_reason, "30 periods, backtest needs 92");
    assert!(selection.candidates.is_empty());

    let refused = client
        .forecast(pb::ForecastRequest {
            series: Some(pb::forecast_request::Series::SeriesData(data)),
            horizon: 28,
            fail_on_short_series: true,
            ..Default::default()
        })
        .await
        .expect_err("too short");
    assert_eq!(refused.code(), tonic::Code::FailedPrecondition);
    use tonic_types::StatusExt;
    let failure = refused.get_details_precondition_failure().expect("a PreconditionFailure");
    assert_eq!(failure.violations[0].r#type, "SERIES_TOO_SHORT");
    assert_eq!(failure.violations[0].description, "30 periods, at least 92 needed");

    let single = weekly_data(1);
    let refused = client
        .forecast(pb::ForecastRequest {
            series: Some(pb::forecast_request::Series::SeriesData(single)),
            horizon: 3,
            ..Default::default()
        })
        .await
        .expect_err("one period");
    assert_eq!(refused.code(), tonic::Code::FailedPrecondition);
    assert!(refused.message().contains("1 periods, at least 2 needed"), "{}", refused.message());
    app.stop().await;
}
