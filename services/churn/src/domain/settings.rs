//! Training settings after defaults (see `TrainChurnModelRequest`), and
//! their record in `ModelVersion.parameters`.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::classifier::CalibrationMethod;

/// The model's time unit: days or weeks.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum TimeUnit {
    Days,
    Weeks,
}

impl TimeUnit {
    pub fn days(self) -> f64 {
        match self {
            TimeUnit::Days => 1.0,
            TimeUnit::Weeks => 7.0,
        }
    }

    pub fn name(self) -> &'static str {
        match self {
            TimeUnit::Days => "days",
            TimeUnit::Weeks => "weeks",
        }
    }
}

/// Everything a training run needs to know, defaults applied.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TrainSettings {
    pub time_unit: TimeUnit,
    pub label_window_days: i32,
    pub calibration_cutoff_us: i64,
    pub holdout_cutoff_us: i64,
    pub calibration: CalibrationMethod,
    pub l2_penalty: f64,
    pub clv_horizon_days: f64,
    pub annual_discount_rate: f64,
    pub medium_risk_threshold: f64,
    pub high_risk_threshold: f64,
    pub max_spend_frequency_correlation: f64,
    pub currency_code: String,
    /// Seed of the fitting/validation split.
    pub seed: u64,
    /// L2 strength of the logistic regression.
    pub logistic_alpha: f64,
    pub min_repeat_customers: u64,
}

/// Advanced options accepted in `TrainChurnModelRequest.parameters`.
pub const ADVANCED_KEYS: [&str; 3] = ["seed", "logistic.alpha", "min_repeat_customers"];

impl TrainSettings {
    /// The settings as recorded in `ModelVersion.parameters`.
    pub fn parameters(&self) -> BTreeMap<String, String> {
        let mut p = BTreeMap::new();
        let mut put = |k: &str, v: String| {
            p.insert(k.to_owned(), v);
        };
        put("time_unit", self.time_unit.name().to_owned());
        put("label_window_days", self.label_window_days.to_string());
        put("calibration_cutoff", rfc3339(self.calibration_cutoff_us));
        put("holdout_cutoff", rfc3339(self.holdout_cutoff_us));
        put("classifier", "logistic_regression".to_owned());
        put(
            "probability_calibration",
            match self.calibration {
                CalibrationMethod::Platt => "platt",
                CalibrationMethod::Isotonic => "isotonic",
            }
            .to_owned(),
        );
        put("l2_penalty", self.l2_penalty.to_string());
        put("clv_horizon_days", self.clv_horizon_days.to_string());
        put("annual_discount_rate", self.annual_discount_rate.to_string());
        put("medium_risk_threshold", self.medium_risk_threshold.to_string());
        put("high_risk_threshold", self.high_risk_threshold.to_string());
        put("max_spend_frequency_correlation", self.max_spend_frequency_correlation.to_string());
        put("currency_code", self.currency_code.clone());
        put("seed", self.seed.to_string());
        put("logistic.alpha", self.logistic_alpha.to_string());
        put("min_repeat_customers", self.min_repeat_customers.to_string());
        p
    }
}

/// A UTC instant as RFC 3339, e.g. "2026-01-01T00:00:00Z".
pub fn rfc3339(micros: i64) -> String {
    chrono::DateTime::from_timestamp_micros(micros)
        .map(|t| t.to_rfc3339_opts(chrono::SecondsFormat::AutoSi, true))
        .unwrap_or_else(|| micros.to_string())
}
