//! A trained churn model: what is stored as a version's payload (JSON) and
//! the decoded, ready-to-score form held in memory.

use serde::{Deserialize, Serialize};

use crate::btyd::{BgNbdParams, BtydError, ClvConfig, GammaGammaParams, Scorer};
use crate::classifier::{ChurnClassifier, Evaluation};
use crate::domain::settings::TrainSettings;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct BgNbdSummary {
    pub r: f64,
    pub alpha: f64,
    pub a: f64,
    pub b: f64,
    pub log_likelihood: f64,
    pub customer_count: u64,
    pub distinct_statistics_count: u64,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct GammaGammaSummary {
    pub p: f64,
    pub q: f64,
    pub gamma: f64,
    pub log_likelihood: f64,
    pub spend_frequency_correlation: f64,
    pub customer_count: u64,
}

/// The payload of a churn model version.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ChurnModel {
    pub settings: TrainSettings,
    pub bg_nbd: BgNbdSummary,
    pub gamma_gamma: GammaGammaSummary,
    pub classifier: ChurnClassifier,
    pub holdout: Evaluation,
}

/// A model ready to score: the payload plus scorers for the CLV horizon and
/// for the label window (the classifier's BTYD features).
#[derive(Debug, Clone)]
pub struct Engine {
    pub model: ChurnModel,
    pub scorer: Scorer,
    pub label_window_scorer: Scorer,
}

impl Engine {
    pub fn new(model: ChurnModel) -> Result<Self, BtydError> {
        let s = &model.settings;
        let unit = s.time_unit.days();
        let bg = BgNbdParams::new(model.bg_nbd.r, model.bg_nbd.alpha, model.bg_nbd.a, model.bg_nbd.b)?;
        let gg = GammaGammaParams::new(model.gamma_gamma.p, model.gamma_gamma.q, model.gamma_gamma.gamma)?;
        let scorer = Scorer::new(bg, gg, ClvConfig::new(s.clv_horizon_days / unit, s.annual_discount_rate, unit)?);
        let label_window_scorer =
            Scorer::new(bg, gg, ClvConfig::new(f64::from(s.label_window_days) / unit, s.annual_discount_rate, unit)?);
        Ok(Engine { model, scorer, label_window_scorer })
    }

    pub fn to_json(&self) -> Result<Vec<u8>, serde_json::Error> {
        serde_json::to_vec(&self.model)
    }

    pub fn from_json(bytes: &[u8]) -> Result<Self, String> {
        let model: ChurnModel = serde_json::from_slice(bytes).map_err(|e| format!("undecodable churn model: {e}"))?;
        Engine::new(model).map_err(|e| format!("invalid churn model: {e}"))
    }
}
