//! Batch forecasts stored with their model version and cutoff, and the
//! model registry, on SQLite and PostgreSQL alike.

use patron_proto::common::v1::{JobState, ModelStatus};
use patron_proto::forecast::v1 as pb;

use crate::helpers::{Store, day_start, orders, spawn_app};
use crate::on_every_store;

fn sku_set() -> pb::SeriesSet {
    pb::SeriesSet {
        measure: pb::Measure::Units as i32,
        granularity: pb::Granularity::Day as i32,
        levels: vec![pb::SeriesLevel::Sku as i32],
        series: vec![pb::LevelKey { level: pb::SeriesLevel::Total as i32, key: String::new() }],
        ..Default::default()
    }
}

on_every_store!(trains_activates_batches_and_lists, |store: Store| async move {
    let app = spawn_app(store).await;
    app.import_orders(orders()).await;
    let mut client = app.client.clone();

    // Train a model on the SKUs and the total, then activate it.
    let started = client
        .train_forecast_model(pb::TrainForecastModelRequest {
            request_id: "train-1".into(),
            series_set: Some(sku_set()),
            tags: vec!["nightly".into()],
            ..Default::default()
        })
        .await
        .expect("training starts")
        .into_inner()
        .job
        .expect("job");
    assert_eq!(started.kind, "train_forecast");
    let job = app.wait(started.id.clone()).await;
    assert_eq!(job.state, JobState::Succeeded as i32, "{job:?}");
    let model_id = job.model_version_id.clone();
    let model = client.get_model(pb::GetModelRequest { model_id: model_id.clone() }).await.expect("model").into_inner();
    assert_eq!(model.series_count, 3);
    assert_eq!(model.method_usage.iter().map(|u| u.series_count).sum::<i32>(), 3);
    let version = model.model.expect("version");
    assert_eq!(version.kind, "auto_forecast");
    assert_eq!(version.status, ModelStatus::Candidate as i32);
    assert_eq!(version.training_rows, 3);
    assert!(
        version.metrics.contains_key("mase") && version.metrics.contains_key("coverage_95"),
        "{:?}",
        version.metrics
    );
    assert_eq!(version.data_cutoff, Some(day_start(0)));
    let activated = client
        .activate_model(pb::ActivateModelRequest { request_id: "act-1".into(), model_id: model_id.clone() })
        .await
        .expect("activate")
        .into_inner();
    assert_eq!(activated.model.map(|m| m.status), Some(ModelStatus::Active as i32));
    let listed =
        client.list_models(pb::ListModelsRequest { tag: "nightly".into(), ..Default::default() }).await.expect("list");
    assert_eq!(listed.into_inner().models.len(), 1);

    // A batch with the active model stores one forecast per series.
    let batch = client
        .batch_forecast(pb::BatchForecastRequest {
            request_id: "batch-1".into(),
            series_set: Some(sku_set()),
            horizon: 7,
            ..Default::default()
        })
        .await
        .expect("batch starts")
        .into_inner()
        .job
        .expect("job");
    // A retry with the same request_id returns the same job.
    let retry = client
        .batch_forecast(pb::BatchForecastRequest {
            request_id: "batch-1".into(),
            series_set: Some(sku_set()),
            horizon: 7,
            ..Default::default()
        })
        .await
        .expect("retry")
        .into_inner()
        .job
        .expect("job");
    assert_eq!(retry.id, batch.id);
    let done = app.wait(batch.id.clone()).await;
    assert_eq!(done.state, JobState::Succeeded as i32, "{done:?}");
    assert_eq!(done.metrics.get("series_total"), Some(&3.0));
    assert_eq!(done.metrics.get("series_done"), Some(&3.0));

    let mut seen = Vec::new();
    let mut page_token = String::new();
    loop {
        let page = client
            .list_forecasts(pb::ListForecastsRequest {
                page_size: 2,
                page_token: page_token.clone(),
                job_id: batch.id.clone(),
                ..Default::default()
            })
            .await
            .expect("list forecasts")
            .into_inner();
        seen.extend(page.forecasts);
        if page.next_page_token.is_empty() {
            break;
        }
        page_token = page.next_page_token;
    }
    assert_eq!(seen.len(), 3);
    for forecast in &seen {
        assert_eq!(forecast.model_id, model_id);
        assert_eq!(forecast.job_id, batch.id);
        assert_eq!(forecast.data_cutoff, Some(day_start(0)));
        assert_eq!(forecast.points.len(), 7);
    }
    let one = client
        .get_forecast(pb::GetForecastRequest { forecast_id: seen[0].id.clone() })
        .await
        .expect("get")
        .into_inner()
        .forecast
        .expect("forecast");
    assert_eq!(one, seen[0]);
    let by_key = client
        .list_forecasts(pb::ListForecastsRequest {
            level: pb::SeriesLevel::Sku as i32,
            key: "sku-rare".into(),
            ..Default::default()
        })
        .await
        .expect("filtered")
        .into_inner();
    assert_eq!(by_key.forecasts.len(), 1);
    let missing =
        client.get_forecast(pb::GetForecastRequest { forecast_id: "fc-none".into() }).await.expect_err("unknown");
    assert_eq!(missing.code(), tonic::Code::NotFound);

    // A plain Forecast now reports the active model.
    let forecast = client
        .forecast(pb::ForecastRequest {
            series: Some(pb::forecast_request::Series::SeriesId(pb::SeriesId {
                measure: pb::Measure::Units as i32,
                granularity: pb::Granularity::Day as i32,
                level: pb::SeriesLevel::Total as i32,
                ..Default::default()
            })),
            horizon: 7,
            ..Default::default()
        })
        .await
        .expect("forecast")
        .into_inner()
        .forecast
        .expect("forecast");
    assert_eq!(forecast.model_id, model_id);
    // The total was trained on: the model's choice is reused, not re-selected.
    let selection = forecast.selection.expect("selection");
    assert!(selection.from_model, "{selection:?}");
    let trained = model.method_usage.iter().map(|u| u.method).collect::<Vec<_>>();
    assert!(trained.contains(&selection.method));
    assert!(seen.iter().all(|f| f.selection.as_ref().is_some_and(|s| s.from_model)));

    // Evaluation of the active model: its choice first, then every method.
    let evaluated = client.evaluate_model(pb::EvaluateModelRequest::default()).await.expect("evaluate").into_inner();
    assert_eq!(evaluated.model_id, model_id);
    assert_eq!(evaluated.series_count, 3);
    assert!(evaluated.rows[0].model_choice);
    assert_eq!(evaluated.rows[0].series_count, 3);
    assert!(evaluated.rows[0].mean_mase.is_some());
    assert!(evaluated.rows.len() >= 8, "{:?}", evaluated.rows);
    assert_eq!(evaluated.rows[1..].iter().map(|r| r.chosen_count).sum::<i32>(), 3);
    assert!(!evaluated.out_of_sample, "the windows lie inside the training history");

    // A seasonal-naive-only model compared with the automatic one.
    let naive_job = client
        .train_forecast_model(pb::TrainForecastModelRequest {
            series_set: Some(sku_set()),
            selection: Some(pb::SelectionConfig {
                candidates: vec![pb::ForecastMethod::SeasonalNaive as i32],
                ..Default::default()
            }),
            ..Default::default()
        })
        .await
        .expect("training starts")
        .into_inner()
        .job
        .expect("job");
    let naive = app.wait(naive_job.id).await;
    assert_eq!(naive.state, JobState::Succeeded as i32, "{naive:?}");
    let compared = client
        .compare_models(pb::CompareModelsRequest {
            baseline_model_id: model_id.clone(),
            candidate_model_id: naive.model_version_id.clone(),
            data: None,
        })
        .await
        .expect("compare")
        .into_inner();
    assert_eq!(compared.series_count, 3);
    let mase = compared.metrics.iter().find(|m| m.metric == "mase").expect("mase compared");
    // Same series, same windows: the baseline's MASE is the one EvaluateModel reported for it.
    let evaluated_mase = evaluated.rows[0].mean_mase.unwrap_or_default();
    assert!((mase.baseline_value - evaluated_mase).abs() < 1e-9, "{mase:?} vs {evaluated_mase}");
    assert!(mase.candidate_value.is_finite() && mase.candidate_value > 0.0);
    assert!((0..=3).contains(&compared.candidate_better_count));
    assert!(compared.metrics.iter().any(|m| m.metric == "coverage_error_95"), "{:?}", compared.metrics);
    // An empty baseline is the active version (here the same model).
    let against_active = client
        .compare_models(pb::CompareModelsRequest {
            baseline_model_id: String::new(),
            candidate_model_id: naive.model_version_id.clone(),
            data: None,
        })
        .await
        .expect("compare with the active version")
        .into_inner();
    let active_mase = against_active.metrics.iter().find(|m| m.metric == "mase").expect("mase compared");
    assert!((active_mase.baseline_value - mase.baseline_value).abs() < 1e-9, "{active_mase:?} vs {mase:?}");
    let unknown = client
        .compare_models(pb::CompareModelsRequest {
            baseline_model_id: "fcm-none".into(),
            candidate_model_id: model_id.clone(),
            data: None,
        })
        .await
        .expect_err("unknown model");
    assert_eq!(unknown.code(), tonic::Code::NotFound);
    app.stop().await;
});
