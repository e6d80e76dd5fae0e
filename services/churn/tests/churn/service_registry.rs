//! Model versions through gRPC: a refused Gamma-Gamma fails the job with the
//! correlation and keeps a FAILED version; activation, rollback and tags.

use patron_proto::churn::v1 as pb;
use patron_proto::common::v1::{JobState, ModelStatus};
use tonic::Code;

use crate::demo;
use crate::helpers::{Store, spawn_app, violated_fields};

on_every_store!(a_violated_spend_assumption_fails_the_job_with_the_correlation, activation_rollback_and_tags);

async fn a_violated_spend_assumption_fails_the_job_with_the_correlation(store: Store) {
    let mut app = spawn_app(store).await;
    demo::seed(&mut app.profile, 400, 5).await;
    // A threshold below any sample correlation makes Gamma-Gamma refuse.
    let job = app
        .train(pb::TrainChurnModelRequest {
            request_id: "train-strict".into(),
            max_spend_frequency_correlation: 1e-6,
            ..Default::default()
        })
        .await
        .expect("training starts");
    assert_eq!(job.state, JobState::Failed as i32);
    assert!(job.error.starts_with("FAILED_PRECONDITION: spend/frequency correlation"), "{}", job.error);
    assert!(job.error.contains("Gamma-Gamma refused"), "{}", job.error);
    let failed = app
        .churn
        .list_models(pb::ListModelsRequest { status: ModelStatus::Failed as i32, ..Default::default() })
        .await
        .expect("list")
        .into_inner()
        .models;
    assert_eq!(failed.len(), 1);
    let got = app.churn.get_model(pb::GetModelRequest { model_id: failed[0].id.clone() }).await.expect("get");
    assert!(got.into_inner().detail.is_none());
    let status = app
        .churn
        .activate_model(pb::ActivateModelRequest { request_id: "act-failed".into(), model_id: failed[0].id.clone() })
        .await
        .expect_err("a failed version cannot serve");
    assert_eq!(status.code(), Code::FailedPrecondition);
    app.stop().await;
}

async fn activation_rollback_and_tags(store: Store) {
    let mut app = spawn_app(store).await;
    demo::seed(&mut app.profile, 400, 9).await;
    let first = app.train_and_activate("train-a").await;
    let second = app.train_and_activate("train-b").await;
    assert_ne!(first, second);
    let active = |models: &[patron_proto::common::v1::ModelVersion]| {
        models.iter().filter(|m| m.status == ModelStatus::Active as i32).map(|m| m.id.clone()).collect::<Vec<_>>()
    };
    let listed = app.churn.list_models(pb::ListModelsRequest::default()).await.expect("list").into_inner().models;
    assert_eq!(listed.iter().map(|m| m.id.clone()).collect::<Vec<_>>(), vec![second.clone(), first.clone()]);
    assert_eq!(active(&listed), vec![second.clone()]);

    // Scoring follows the active version, and a named candidate can be tried.
    let score =
        |model_id: &str| pb::ScoreCustomerRequest { customer_id: demo::customer_id(4), model_id: model_id.into() };
    let by_active = app.churn.score_customer(score("")).await.expect("score").into_inner().score.expect("score");
    assert_eq!(by_active.model_id, second);
    let by_name = app.churn.score_customer(score(&first)).await.expect("score").into_inner().score.expect("score");
    assert_eq!(by_name.model_id, first);

    let rolled = app
        .churn
        .rollback_model(pb::RollbackModelRequest { request_id: "rb-1".into() })
        .await
        .expect("rollback")
        .into_inner();
    assert_eq!(rolled.model.map(|m| m.id), Some(first.clone()));
    assert_eq!(rolled.previous_model_id, second);
    // A retried rollback replays its answer instead of walking further back.
    let retried = app
        .churn
        .rollback_model(pb::RollbackModelRequest { request_id: "rb-1".into() })
        .await
        .expect("retry")
        .into_inner();
    assert_eq!(retried.previous_model_id, second);
    let by_active = app.churn.score_customer(score("")).await.expect("score").into_inner().score.expect("score");
    assert_eq!(by_active.model_id, first);

    // Holdouts must not reach into the versions' training labels.
    let long_ago = prost_types::Timestamp { seconds: chrono::Utc::now().timestamp() - 400 * 86_400, nanos: 0 };
    let status = app
        .churn
        .compare_models(pb::CompareModelsRequest {
            baseline_model_id: first.clone(),
            candidate_model_id: second.clone(),
            holdout_cutoff: Some(long_ago),
            calibration_bins: 0,
        })
        .await
        .expect_err("holdout before the data cutoff");
    assert_eq!(violated_fields(&status), ["holdout_cutoff"]);
    let status = app
        .churn
        .evaluate_model(pb::EvaluateModelRequest { calibration_bins: 1, ..Default::default() })
        .await
        .expect_err("one bin");
    assert_eq!(violated_fields(&status), ["calibration_bins"]);
    let shorter_window = app
        .train(pb::TrainChurnModelRequest {
            request_id: "train-60".into(),
            label_window_days: 60,
            ..Default::default()
        })
        .await
        .expect("training starts");
    assert_eq!(shorter_window.state, JobState::Succeeded as i32, "{}", shorter_window.error);
    let status = app
        .churn
        .compare_models(pb::CompareModelsRequest {
            candidate_model_id: shorter_window.model_version_id.clone(),
            ..Default::default()
        })
        .await
        .expect_err("different label windows");
    assert_eq!(status.code(), Code::FailedPrecondition);

    let tagged = app
        .churn
        .tag_model(pb::TagModelRequest {
            request_id: "tag-1".into(),
            model_id: second.clone(),
            add_tags: vec!["challenger".into()],
            remove_tags: vec![],
        })
        .await
        .expect("tag")
        .into_inner();
    assert_eq!(tagged.model.map(|m| m.tags), Some(vec!["challenger".to_owned()]));
    let by_tag = app
        .churn
        .list_models(pb::ListModelsRequest { tag: "challenger".into(), ..Default::default() })
        .await
        .expect("list")
        .into_inner()
        .models;
    assert_eq!(by_tag.iter().map(|m| m.id.clone()).collect::<Vec<_>>(), vec![second.clone()]);
    let status = app
        .churn
        .tag_model(pb::TagModelRequest {
            request_id: "tag-2".into(),
            model_id: "churn-none".into(),
            add_tags: vec!["x".into()],
            remove_tags: vec![],
        })
        .await
        .expect_err("unknown version");
    assert_eq!(violated_fields(&status), ["model_id"]);
    app.stop().await;
}
