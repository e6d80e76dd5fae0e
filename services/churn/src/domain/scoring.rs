//! Scoring customers with a trained model: the BTYD outputs over the
//! model's horizon, the classifier's churn probability and factors, and the
//! money amounts derived from them.

use rayon::prelude::*;

use crate::btyd::{BtydError, Score, Scorer};
use crate::classifier::{Prediction, feature_vector};
use crate::domain::model::Engine;
use crate::domain::snapshot::Snapshot;

/// Everything the service reports for one customer.
#[derive(Debug, Clone)]
pub struct Outcome {
    pub btyd: Score,
    pub churn: Prediction,
    pub expected_order_value_minor: i64,
    pub clv_minor: i64,
    pub value_at_risk_minor: i64,
    pub lapsed: bool,
}

/// The classifier's feature rows of `snapshots`, with the BTYD features
/// over the label window from `label_window_scorer`.
pub fn classifier_rows(label_window_scorer: &Scorer, snapshots: &[Snapshot]) -> Vec<Result<Vec<f64>, BtydError>> {
    let rows: Vec<_> = snapshots.iter().map(Snapshot::btyd_row).collect();
    let scores = label_window_scorer.score_all(&rows);
    snapshots
        .par_iter()
        .zip(scores)
        .map(|(snapshot, score)| {
            let s = score?;
            Ok(feature_vector(&snapshot.feature_input(s.p_alive, s.expected_purchases, s.p_no_purchase)).to_vec())
        })
        .collect()
}

/// Money rounded half away from zero to the minor unit.
pub fn minor_units(amount: f64) -> i64 {
    if amount.is_finite() { amount.round() as i64 } else { 0 }
}

impl Engine {
    /// Scores one customer (who has a purchase).
    pub fn score(&self, snapshot: &Snapshot) -> Result<Outcome, BtydError> {
        let mut all = self.score_many(std::slice::from_ref(snapshot));
        all.pop().unwrap_or(Err(BtydError::Numerical("no score")))
    }

    /// Scores many customers in parallel; result i belongs to snapshot i.
    pub fn score_many(&self, snapshots: &[Snapshot]) -> Vec<Result<Outcome, BtydError>> {
        let rows: Vec<_> = snapshots.iter().map(Snapshot::btyd_row).collect();
        let btyd = self.scorer.score_all(&rows);
        let features = classifier_rows(&self.label_window_scorer, snapshots);
        let window = self.model.settings.label_window_days;
        snapshots
            .par_iter()
            .zip(btyd)
            .zip(features)
            .map(|((snapshot, btyd), features)| {
                let btyd = btyd?;
                let churn = self.model.classifier.predict(&features?);
                let clv_minor = minor_units(btyd.clv);
                Ok(Outcome {
                    expected_order_value_minor: minor_units(btyd.expected_order_value),
                    clv_minor,
                    value_at_risk_minor: minor_units(clv_minor as f64 * churn.probability),
                    lapsed: snapshot.lapsed(window),
                    btyd,
                    churn,
                })
            })
            .collect()
    }
}
