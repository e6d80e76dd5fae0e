//! Domain values as protobuf messages.

use patron_proto::churn::v1 as pb;
use patron_proto::common::v1::Money;

use crate::classifier::{Evaluation, RiskBand};
use crate::domain::model::ChurnModel;
use crate::domain::scoring::Outcome;
use crate::domain::snapshot::Snapshot;
use crate::grpc::parse::pb_time_unit;
use crate::time::{duration_of_days, timestamp};

/// Latest instant a Timestamp may hold (9999-12-31T23:59:59Z).
const MAX_TIMESTAMP_US: i64 = 253_402_300_799_000_000;

pub fn money(currency: &str, amount_minor: i64) -> Money {
    Money { currency_code: currency.to_owned(), amount_minor }
}

pub fn risk_band(band: RiskBand) -> pb::RiskBand {
    match band {
        RiskBand::Low => pb::RiskBand::Low,
        RiskBand::Medium => pb::RiskBand::Medium,
        RiskBand::High => pb::RiskBand::High,
    }
}

pub fn customer_score(
    model_id: &str,
    model: &ChurnModel,
    snapshot: &Snapshot,
    outcome: &Outcome,
    as_of_us: i64,
    score_time_us: i64,
) -> pb::CustomerScore {
    let s = &model.settings;
    let currency = s.currency_code.as_str();
    let unit_days = s.time_unit.days();
    let wait_days = outcome.btyd.next_purchase.median_wait * unit_days;
    let wait_us = wait_days * 86_400e6;
    let expected_time = (wait_us.is_finite() && (as_of_us as f64 + wait_us) < MAX_TIMESTAMP_US as f64)
        .then(|| timestamp(as_of_us + wait_us as i64));
    pb::CustomerScore {
        customer_id: snapshot.customer_id.clone(),
        model_id: model_id.to_owned(),
        score_time: Some(timestamp(score_time_us)),
        as_of: Some(timestamp(as_of_us)),
        statistics: Some(pb::BtydStatistics {
            frequency: snapshot.frequency,
            recency: snapshot.recency,
            age: snapshot.age,
            monetary_value: snapshot.monetary_value,
            time_unit: pb_time_unit(s.time_unit) as i32,
        }),
        horizon: Some(duration_of_days(s.clv_horizon_days)),
        probability_alive: outcome.btyd.p_alive,
        churn_probability: outcome.churn.probability,
        risk_band: risk_band(outcome.churn.band) as i32,
        expected_purchases: outcome.btyd.expected_purchases,
        probability_no_purchase: outcome.btyd.p_no_purchase,
        next_order: Some(pb::NextOrder {
            expected_time,
            median_wait: wait_days.is_finite().then(|| duration_of_days(wait_days.min(3_000_000.0))),
            probability: outcome.btyd.next_purchase.probability,
        }),
        expected_order_value: Some(money(currency, outcome.expected_order_value_minor)),
        clv: Some(money(currency, outcome.clv_minor)),
        value_at_risk: Some(money(currency, outcome.value_at_risk_minor)),
        last_order_time: snapshot.last_purchase_us.map(timestamp),
        lapsed: outcome.lapsed,
        top_factors: outcome
            .churn
            .top_factors
            .iter()
            .map(|f| pb::ChurnFactor {
                feature: f.feature.to_owned(),
                value: if f.value.is_finite() { f.value } else { 0.0 },
                direction: if f.contribution > 0.0 {
                    pb::FactorDirection::IncreasesRisk
                } else {
                    pb::FactorDirection::DecreasesRisk
                } as i32,
                contribution: f.contribution,
            })
            .collect(),
    }
}

pub fn evaluation(e: &Evaluation, holdout_cutoff_us: i64, label_window_days: i32) -> pb::ChurnEvaluation {
    pb::ChurnEvaluation {
        holdout_cutoff: Some(timestamp(holdout_cutoff_us)),
        label_window_days,
        customer_count: e.customer_count as i64,
        churned_count: e.churned_count as i64,
        roc_auc: e.roc_auc,
        pr_auc: e.pr_auc,
        brier_score: e.brier_score,
        top_decile_lift: e.top_decile_lift,
        calibration_bins: e
            .calibration_bins
            .iter()
            .map(|b| pb::CalibrationBin {
                lower: b.lower,
                upper: b.upper,
                customer_count: b.customer_count as i64,
                mean_predicted: b.mean_predicted,
                observed_rate: b.observed_rate,
            })
            .collect(),
        deciles: e
            .deciles
            .iter()
            .map(|d| pb::LiftDecile {
                decile: d.decile as i32,
                customer_count: d.customer_count as i64,
                churned_count: d.churned_count as i64,
                min_predicted: d.min_predicted,
                max_predicted: d.max_predicted,
                churn_rate: d.churn_rate,
                lift: d.lift,
                cumulative_lift: d.cumulative_lift,
                cumulative_capture: d.cumulative_capture,
            })
            .collect(),
    }
}

pub fn detail(model: &ChurnModel) -> pb::ChurnModelDetail {
    let s = &model.settings;
    pb::ChurnModelDetail {
        time_unit: pb_time_unit(s.time_unit) as i32,
        label_window_days: s.label_window_days,
        calibration_cutoff: Some(timestamp(s.calibration_cutoff_us)),
        holdout_cutoff: Some(timestamp(s.holdout_cutoff_us)),
        currency_code: s.currency_code.clone(),
        clv_horizon: Some(duration_of_days(s.clv_horizon_days)),
        annual_discount_rate: s.annual_discount_rate,
        medium_risk_threshold: s.medium_risk_threshold,
        high_risk_threshold: s.high_risk_threshold,
        bg_nbd: Some(pb::BgNbdFit {
            r: model.bg_nbd.r,
            alpha: model.bg_nbd.alpha,
            a: model.bg_nbd.a,
            b: model.bg_nbd.b,
            log_likelihood: model.bg_nbd.log_likelihood,
            l2_penalty: s.l2_penalty,
            customer_count: model.bg_nbd.customer_count as i64,
            distinct_statistics_count: model.bg_nbd.distinct_statistics_count as i64,
        }),
        gamma_gamma: Some(pb::GammaGammaFit {
            p: model.gamma_gamma.p,
            q: model.gamma_gamma.q,
            gamma: model.gamma_gamma.gamma,
            log_likelihood: model.gamma_gamma.log_likelihood,
            spend_frequency_correlation: model.gamma_gamma.spend_frequency_correlation,
            max_spend_frequency_correlation: s.max_spend_frequency_correlation,
            customer_count: model.gamma_gamma.customer_count as i64,
        }),
        classifier: Some(pb::ClassifierFit {
            classifier: pb::Classifier::LogisticRegression as i32,
            probability_calibration: match model.classifier.calibration.method() {
                crate::classifier::CalibrationMethod::Platt => pb::ProbabilityCalibration::Platt,
                crate::classifier::CalibrationMethod::Isotonic => pb::ProbabilityCalibration::Isotonic,
            } as i32,
            intercept: model.classifier.intercept,
            coefficients: crate::classifier::FEATURE_NAMES
                .iter()
                .zip(&model.classifier.coefficients)
                .map(|(f, w)| pb::FeatureWeight { feature: (*f).to_owned(), weight: *w })
                .collect(),
            feature_importances: Vec::new(),
        }),
        holdout_evaluation: Some(evaluation(&model.holdout, s.holdout_cutoff_us, s.label_window_days)),
    }
}
