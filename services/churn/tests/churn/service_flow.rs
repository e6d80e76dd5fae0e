//! The churn service end to end through gRPC on demo-like data: training
//! as a job, the registry, scoring one customer and everyone, stored scores,
//! the win-back list, evaluation and PredictBtyd.

use std::collections::HashSet;

use patron_proto::churn::v1 as pb;
use patron_proto::common::v1::{JobState, ModelStatus};
use tokio_stream::StreamExt;
use tonic::Code;

use crate::demo;
use crate::helpers::{Store, spawn_app, violated_fields};

on_every_store!(
    trains_scores_and_ranks_win_back_candidates,
    bad_input_is_refused_and_the_active_model_stays,
    insufficient_data_and_missing_state_are_reported
);

fn band_of(p: f64, medium: f64, high: f64) -> i32 {
    (if p < medium {
        pb::RiskBand::Low
    } else if p < high {
        pb::RiskBand::Medium
    } else {
        pb::RiskBand::High
    }) as i32
}

async fn trains_scores_and_ranks_win_back_candidates(store: Store) {
    let mut app = spawn_app(store).await;
    let demo = demo::seed(&mut app.profile, 600, 7).await;

    // Training: a job whose retry (same request id) is the same job.
    let request = pb::TrainChurnModelRequest { request_id: "train-1".into(), ..Default::default() };
    let first = app.churn.train_churn_model(request.clone()).await.expect("train").into_inner().job.expect("job");
    let again = app.churn.train_churn_model(request).await.expect("retry").into_inner().job.expect("job");
    assert_eq!(first.id, again.id);
    let job = app.finish(&first.id).await;
    assert_eq!(job.state, JobState::Succeeded as i32, "{job:?}");
    let model_id = job.model_version_id.clone();

    let got = app.churn.get_model(pb::GetModelRequest { model_id: model_id.clone() }).await.expect("get").into_inner();
    let model = got.model.expect("model");
    assert_eq!(model.status, ModelStatus::Candidate as i32);
    assert_eq!(model.parameters.get("label_window_days").map(String::as_str), Some("90"));
    assert!(model.features.iter().any(|f| f == "complaints"));
    let detail = got.detail.expect("detail");
    let bg = detail.bg_nbd.expect("bg/nbd");
    assert!(bg.r > 0.0 && bg.alpha > 0.0 && bg.a > 0.0 && bg.b > 0.0, "{bg:?}");
    let holdout = detail.holdout_evaluation.expect("holdout");
    // The demo's dropouts follow complaints and low NPS: the classifier must
    // rank far better than chance on customers it never saw.
    assert!(holdout.roc_auc > 0.7, "holdout AUC {}", holdout.roc_auc);
    assert_eq!(holdout.deciles.len(), 10);
    assert_eq!(model.metrics.get("roc_auc").copied(), Some(holdout.roc_auc));
    let classifier = detail.classifier.expect("classifier");
    let weight = |name: &str| classifier.coefficients.iter().find(|w| w.feature == name).map(|w| w.weight);
    assert!(weight("complaints").expect("complaints weight") > 0.0, "{classifier:?}");

    let listed = app.churn.list_models(pb::ListModelsRequest::default()).await.expect("list").into_inner();
    assert_eq!(listed.models.iter().map(|m| m.id.clone()).collect::<Vec<_>>(), vec![model_id.clone()]);

    // Nothing is active yet.
    let status = app
        .churn
        .score_customer(pb::ScoreCustomerRequest { customer_id: demo::customer_id(0), model_id: String::new() })
        .await
        .expect_err("no active model");
    assert_eq!(status.code(), Code::FailedPrecondition);
    app.churn
        .activate_model(pb::ActivateModelRequest { request_id: "act-1".into(), model_id: model_id.clone() })
        .await
        .expect("activate");

    // One customer, live.
    let score = app
        .churn
        .score_customer(pb::ScoreCustomerRequest { customer_id: demo::customer_id(3), model_id: String::new() })
        .await
        .expect("score")
        .into_inner()
        .score
        .expect("score");
    assert_eq!(score.model_id, model_id);
    for p in [score.probability_alive, score.churn_probability, score.probability_no_purchase] {
        assert!((0.0..=1.0).contains(&p), "{score:?}");
    }
    assert_eq!(
        score.risk_band,
        band_of(score.churn_probability, detail.medium_risk_threshold, detail.high_risk_threshold)
    );
    let next = score.next_order.as_ref().expect("next order");
    assert_eq!(next.probability, score.probability_alive);
    assert!(score.top_factors.len() <= 5 && !score.top_factors.is_empty());
    assert!(score.top_factors.windows(2).all(|w| w[0].contribution.abs() >= w[1].contribution.abs()));
    for factor in &score.top_factors {
        let increases = factor.direction == pb::FactorDirection::IncreasesRisk as i32;
        assert_eq!(increases, factor.contribution > 0.0, "{factor:?}");
    }
    let clv = score.clv.as_ref().expect("clv");
    assert_eq!(clv.currency_code, "USD");
    let value_at_risk = score.value_at_risk.as_ref().expect("value at risk").amount_minor;
    assert_eq!(value_at_risk, (clv.amount_minor as f64 * score.churn_probability).round() as i64);
    assert!(score.last_order_time.is_some());
    // The next order: as_of + the median wait given alive.
    let wait = next.median_wait.as_ref().expect("median wait");
    let (expected, as_of) = (next.expected_time.as_ref().expect("expected time"), score.as_of.as_ref().expect("as of"));
    assert!((expected.seconds - as_of.seconds - wait.seconds).abs() <= 1, "{next:?} {as_of:?}");

    // Unknown customers.
    let status = app
        .churn
        .score_customer(pb::ScoreCustomerRequest { customer_id: "nobody".into(), model_id: String::new() })
        .await
        .expect_err("unknown customer");
    assert_eq!(status.code(), Code::NotFound);

    // Everyone: a streamed job; its scores are stored.
    let mut stream =
        app.churn.score_all(pb::ScoreAllRequest { request_id: "all-1".into() }).await.expect("score all").into_inner();
    let mut last = None;
    while let Some(update) = stream.next().await {
        last = Some(update.expect("progress"));
    }
    let last = last.expect("final update");
    assert_eq!(last.job.as_ref().map(|j| j.state), Some(JobState::Succeeded as i32), "{last:?}");
    assert_eq!(last.model_id, model_id);
    assert_eq!(last.total_count as usize, demo.buyers.len());
    assert_eq!(last.scored_count + last.skipped_count, last.total_count);
    assert_eq!(last.skipped_count, 0);
    // A retried ScoreAll streams the same job instead of scoring again.
    let mut retried =
        app.churn.score_all(pb::ScoreAllRequest { request_id: "all-1".into() }).await.expect("retry").into_inner();
    let mut replayed = None;
    while let Some(update) = retried.next().await {
        replayed = Some(update.expect("progress"));
    }
    let replayed = replayed.expect("final update");
    assert_eq!(replayed.job.as_ref().map(|j| &j.id), last.job.as_ref().map(|j| &j.id));
    assert_eq!(replayed.scored_count, last.scored_count);

    let stored = app
        .churn
        .get_customer_score(pb::GetCustomerScoreRequest { customer_id: demo::customer_id(3) })
        .await
        .expect("stored score")
        .into_inner()
        .score
        .expect("score");
    assert_eq!(stored.customer_id, demo::customer_id(3));
    assert_eq!(stored.clv.as_ref().map(|m| m.currency_code.as_str()), Some("USD"));

    // Every stored score, page by page, in customer_id order.
    let mut seen = Vec::new();
    let mut token = String::new();
    loop {
        let page = app
            .churn
            .list_scores(pb::ListScoresRequest { page_size: 250, page_token: token.clone(), risk_band: 0 })
            .await
            .expect("list scores")
            .into_inner();
        seen.extend(page.scores.into_iter().map(|s| s.customer_id));
        if page.next_page_token.is_empty() {
            break;
        }
        token = page.next_page_token;
    }
    let mut sorted = seen.clone();
    sorted.sort();
    assert_eq!(seen, sorted);
    assert_eq!(seen.len(), demo.buyers.len());
    let first_token = token_of_first_page(&mut app).await;
    let changed = app
        .churn
        .list_scores(pb::ListScoresRequest { page_size: 250, page_token: first_token, risk_band: 3 })
        .await
        .expect_err("filter changed between pages");
    assert_eq!(violated_fields(&changed), ["page_token"]);

    // The win-back list: email consent only, ranked by value at risk.
    let consenting: HashSet<String> = demo.email_consent.iter().cloned().collect();
    let mut ranked = Vec::new();
    let mut token = String::new();
    loop {
        let page = app
            .churn
            .get_win_back_list(pb::GetWinBackListRequest {
                page_size: 100,
                page_token: token.clone(),
                channel: patron_proto::profile::v1::ConsentChannel::Email as i32,
                ..Default::default()
            })
            .await
            .expect("win-back list")
            .into_inner();
        ranked.extend(page.candidates);
        if page.next_page_token.is_empty() {
            break;
        }
        token = page.next_page_token;
    }
    assert!(!ranked.is_empty());
    assert_eq!(ranked.len(), consenting.len());
    for (i, candidate) in ranked.iter().enumerate() {
        assert_eq!(candidate.rank, i as i64 + 1);
        let score = candidate.score.as_ref().expect("score");
        assert!(consenting.contains(&score.customer_id), "{} has no email consent", score.customer_id);
    }
    let value = |c: &pb::WinBackCandidate| {
        let s = c.score.as_ref().expect("score");
        (s.value_at_risk.as_ref().map_or(0, |m| m.amount_minor), s.customer_id.clone())
    };
    assert!(ranked.windows(2).all(|w| {
        let (a, b) = (value(&w[0]), value(&w[1]));
        a.0 > b.0 || (a.0 == b.0 && a.1 < b.1)
    }));
    // Consent counts at request time: a customer who withdraws it leaves the list.
    let top = value(&ranked[0]).1;
    app.profile
        .set_consent(patron_proto::profile::v1::SetConsentRequest {
            request_id: "revoke-1".into(),
            customer_id: top.clone(),
            channel: patron_proto::profile::v1::ConsentChannel::Email as i32,
            state: patron_proto::profile::v1::ConsentState::Revoked as i32,
        })
        .await
        .expect("revoke consent");
    let first_page = app
        .churn
        .get_win_back_list(pb::GetWinBackListRequest {
            page_size: 5,
            channel: patron_proto::profile::v1::ConsentChannel::Email as i32,
            ..Default::default()
        })
        .await
        .expect("win-back list")
        .into_inner();
    let first_ids: Vec<String> = first_page.candidates.iter().map(|c| value(c).1).collect();
    let expected_ids: Vec<String> = ranked[1..6].iter().map(|c| value(c).1).collect();
    assert_eq!(first_ids, expected_ids);
    let lapsed: Vec<_> = ranked.iter().filter_map(|c| c.score.as_ref()).filter(|s| s.lapsed).collect();
    assert!(!lapsed.is_empty(), "the demo has lapsed customers");
    assert!(lapsed.iter().all(|s| s.last_order_time.is_some()));

    // Region and minimum value filters.
    let threshold = value(&ranked[ranked.len() / 2]).0;
    let filtered = app
        .churn
        .get_win_back_list(pb::GetWinBackListRequest {
            page_size: 1000,
            channel: patron_proto::profile::v1::ConsentChannel::Email as i32,
            region: "north".into(),
            min_value_at_risk: Some(patron_proto::common::v1::Money {
                currency_code: "USD".into(),
                amount_minor: threshold,
            }),
            ..Default::default()
        })
        .await
        .expect("filtered list")
        .into_inner();
    let expected: Vec<String> =
        ranked.iter().filter(|c| c.region == "north" && value(c).0 >= threshold).map(|c| value(c).1).collect();
    assert_eq!(filtered.candidates.iter().map(|c| value(c).1).collect::<Vec<_>>(), expected);
    let wrong_currency = app
        .churn
        .get_win_back_list(pb::GetWinBackListRequest {
            channel: patron_proto::profile::v1::ConsentChannel::Email as i32,
            min_value_at_risk: Some(patron_proto::common::v1::Money { currency_code: "EUR".into(), amount_minor: 1 }),
            ..Default::default()
        })
        .await
        .expect_err("currency");
    assert_eq!(violated_fields(&wrong_currency), ["min_value_at_risk.currency_code"]);

    // Holdout evaluation and comparison on the same customers.
    let evaluated = app
        .churn
        .evaluate_model(pb::EvaluateModelRequest::default())
        .await
        .expect("evaluate")
        .into_inner()
        .evaluation
        .expect("evaluation");
    assert!((evaluated.roc_auc - holdout.roc_auc).abs() < 1e-12, "same default holdout");
    let compared = app
        .churn
        .compare_models(pb::CompareModelsRequest { candidate_model_id: model_id.clone(), ..Default::default() })
        .await
        .expect("compare")
        .into_inner();
    assert_eq!(compared.metrics.len(), 4);
    assert!(compared.metrics.iter().all(|m| m.baseline_value == m.candidate_value));

    // BG/NBD and Gamma-Gamma from statistics: a customer who bought often
    // and recently is more likely alive than one who went quiet.
    let predict = |recency: f64| pb::PredictBtydRequest {
        statistics: Some(pb::BtydStatistics {
            frequency: 5.0,
            recency,
            age: 80.0,
            monetary_value: 5000.0,
            time_unit: 0,
        }),
        horizon: 52.0,
        ..Default::default()
    };
    let recent = app.churn.predict_btyd(predict(79.0)).await.expect("predict").into_inner();
    let quiet = app.churn.predict_btyd(predict(10.0)).await.expect("predict").into_inner();
    assert!(recent.probability_alive > quiet.probability_alive);
    assert!(recent.expected_purchases > quiet.expected_purchases);
    assert!(recent.clv.as_ref().map(|m| m.amount_minor) > quiet.clv.as_ref().map(|m| m.amount_minor));
    app.stop().await;
}

async fn token_of_first_page(app: &mut crate::helpers::TestApp) -> String {
    app.churn
        .list_scores(pb::ListScoresRequest { page_size: 10, page_token: String::new(), risk_band: 0 })
        .await
        .expect("first page")
        .into_inner()
        .next_page_token
}

async fn bad_input_is_refused_and_the_active_model_stays(store: Store) {
    let mut app = spawn_app(store).await;
    demo::seed(&mut app.profile, 400, 11).await;
    let model_id = app.train_and_activate("train-bad").await;

    let statistics = |frequency, recency, age, monetary_value| pb::BtydStatistics {
        frequency,
        recency,
        age,
        monetary_value,
        time_unit: 0,
    };
    let cases = [
        (
            pb::PredictBtydRequest {
                statistics: Some(statistics(2.0, 30.0, 20.0, 10.0)),
                horizon: 10.0,
                ..Default::default()
            },
            "statistics.recency",
        ),
        (
            pb::PredictBtydRequest {
                statistics: Some(statistics(-1.0, 0.0, 20.0, 10.0)),
                horizon: 10.0,
                ..Default::default()
            },
            "statistics.frequency",
        ),
        (
            pb::PredictBtydRequest {
                statistics: Some(statistics(2.0, 3.0, 20.0, 10.0)),
                horizon: 0.0,
                ..Default::default()
            },
            "horizon",
        ),
        (
            pb::PredictBtydRequest {
                statistics: Some(statistics(2.0, 3.0, 20.0, 10.0)),
                horizon: 10.0,
                annual_discount_rate: Some(1.0),
                ..Default::default()
            },
            "annual_discount_rate",
        ),
        (
            pb::PredictBtydRequest {
                model_id: "churn-unknown".into(),
                statistics: Some(statistics(2.0, 3.0, 20.0, 10.0)),
                horizon: 10.0,
                ..Default::default()
            },
            "model_id",
        ),
    ];
    for (request, field) in cases {
        let status = app.churn.predict_btyd(request).await.expect_err("invalid");
        assert_eq!(violated_fields(&status), [field], "{status:?}");
    }
    let status = app
        .churn
        .activate_model(pb::ActivateModelRequest { request_id: "act-x".into(), model_id: "churn-unknown".into() })
        .await
        .expect_err("unknown version");
    assert_eq!(violated_fields(&status), ["model_id"]);
    let status = app
        .churn
        .score_customer(pb::ScoreCustomerRequest {
            customer_id: demo::customer_id(1),
            model_id: "churn-unknown".into(),
        })
        .await
        .expect_err("unknown version");
    assert_eq!(violated_fields(&status), ["model_id"]);
    let status = app
        .churn
        .train_churn_model(pb::TrainChurnModelRequest {
            request_id: "train-x".into(),
            label_window_days: 1000,
            annual_discount_rate: Some(-0.1),
            parameters: [("bogus".to_owned(), "1".to_owned())].into(),
            ..Default::default()
        })
        .await
        .expect_err("invalid training request");
    assert_eq!(violated_fields(&status), ["label_window_days", "annual_discount_rate", "parameters[bogus]"]);

    let listed = app.churn.list_models(pb::ListModelsRequest::default()).await.expect("list").into_inner().models;
    assert_eq!(listed.len(), 1, "nothing was trained by the refused calls");
    assert_eq!(listed[0].id, model_id);
    assert_eq!(listed[0].status, ModelStatus::Active as i32);
    app.stop().await;
}

async fn insufficient_data_and_missing_state_are_reported(store: Store) {
    let mut app = spawn_app(store).await;
    demo::seed(&mut app.profile, 12, 3).await;
    let status = app
        .churn
        .train_churn_model(pb::TrainChurnModelRequest { request_id: "train-few".into(), ..Default::default() })
        .await
        .expect_err("too little data");
    assert_eq!(status.code(), Code::FailedPrecondition, "{status:?}");
    assert!(status.message().contains("too few customers"), "{}", status.message());

    let status = app.churn.list_scores(pb::ListScoresRequest::default()).await.expect_err("no run yet");
    assert_eq!(status.code(), Code::FailedPrecondition);
    let status = app
        .churn
        .get_customer_score(pb::GetCustomerScoreRequest { customer_id: demo::customer_id(0) })
        .await
        .expect_err("no stored score");
    assert_eq!(status.code(), Code::NotFound);
    let status = app.churn.score_all(pb::ScoreAllRequest { request_id: "all-x".into() }).await.expect_err("no model");
    assert_eq!(status.code(), Code::FailedPrecondition);
    let status =
        app.churn.rollback_model(pb::RollbackModelRequest { request_id: "rb".into() }).await.expect_err("none");
    assert_eq!(status.code(), Code::FailedPrecondition);
    app.stop().await;
}
