//! The churn service's limits through gRPC, at the limit and one past it
//! (the rows of docs/limits.md): label window, CLV horizon and calibration
//! bins. Each request carries one other deliberately bad field, so nothing
//! trains or evaluates and the answer lists exactly the fields the limits
//! refuse.

use patron_proto::churn::v1 as pb;
use patron_proto::common::v1::TimeUnit;

use crate::helpers::{Store, spawn_app, violated_fields};

const DAY: i64 = 86_400;

/// TrainChurnModel with an unknown currency (always refused).
fn training(time_unit: TimeUnit, label_window_days: i32, clv_horizon_days: i64) -> pb::TrainChurnModelRequest {
    pb::TrainChurnModelRequest {
        request_id: "train-limits".into(),
        time_unit: time_unit as i32,
        label_window_days,
        clv_horizon: Some(prost_types::Duration { seconds: clv_horizon_days * DAY, nanos: 0 }),
        currency_code: "usd".into(),
        ..Default::default()
    }
}

fn sorted(mut fields: Vec<String>) -> Vec<String> {
    fields.sort();
    fields
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn training_and_evaluation_limits_are_accepted_at_the_limit_and_refused_past_it() {
    let app = spawn_app(Store::Sqlite).await;
    let mut churn = app.churn.clone();
    // Label window 1-730 days; CLV horizon at most 100,000 periods of the time unit.
    let cases: [(pb::TrainChurnModelRequest, &[&str]); 8] = [
        (training(TimeUnit::Weeks, 1, 365), &[]),
        (training(TimeUnit::Weeks, 730, 365), &[]),
        (training(TimeUnit::Weeks, 731, 365), &["label_window_days"]),
        (training(TimeUnit::Weeks, -1, 365), &["label_window_days"]),
        (training(TimeUnit::Days, 90, 100_000), &[]),
        (training(TimeUnit::Days, 90, 100_001), &["clv_horizon"]),
        (training(TimeUnit::Weeks, 90, 700_000), &[]),
        (training(TimeUnit::Weeks, 90, 700_007), &["clv_horizon"]),
    ];
    for (request, refused) in cases {
        let shown = format!("{request:?}");
        let status = churn.train_churn_model(request).await.expect_err("the currency is refused");
        let expected: Vec<String> =
            sorted(refused.iter().chain(&["currency_code"]).map(|field| field.to_string()).collect());
        assert_eq!(sorted(violated_fields(&status)), expected, "{shown}");
    }

    // Cutoffs at i64's ends are refused, not overflowed (a panic before the fix).
    for seconds in [i64::MIN, i64::MAX] {
        let at = Some(prost_types::Timestamp { seconds, nanos: 0 });
        let request = pb::TrainChurnModelRequest {
            holdout_cutoff: at,
            calibration_cutoff: at,
            ..training(TimeUnit::Weeks, 90, 365)
        };
        let status = churn.train_churn_model(request).await.expect_err("the cutoffs are refused");
        assert_eq!(sorted(violated_fields(&status)), ["calibration_cutoff", "currency_code", "holdout_cutoff"]);
    }

    // Calibration bins 2-50 (with no candidate named).
    for (bins, refused) in [(2, false), (50, false), (1, true), (51, true)] {
        let status = churn
            .compare_models(pb::CompareModelsRequest { calibration_bins: bins, ..Default::default() })
            .await
            .expect_err("the candidate is missing");
        let expected: &[&str] =
            if refused { &["calibration_bins", "candidate_model_id"] } else { &["candidate_model_id"] };
        assert_eq!(sorted(violated_fields(&status)), expected, "calibration_bins {bins}");
    }
    app.stop().await;
}
