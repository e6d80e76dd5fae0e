//! Training and prediction of the churn classifier: L2-regularised logistic
//! regression (linfa-logistic) on standardised features, calibrated on a
//! validation split, with risk bands and per-customer factors
//! (coefficient x standardised value: the additive log-odds contribution
//! relative to the average training customer).

use linfa::prelude::*;
use linfa_logistic::LogisticRegression;
use ndarray::{Array1, Array2};
use serde::{Deserialize, Serialize};

use crate::classifier::calibration::{Calibration, CalibrationMethod};
use crate::classifier::features::{FEATURE_NAMES, NPS_INDEX};
use crate::classifier::standardize::Standardizer;

/// Settings of [`ChurnClassifier::train`].
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct TrainOptions {
    /// L2 strength of the logistic regression (linfa's alpha).
    pub l2: f64,
    pub calibration: CalibrationMethod,
    /// Share of the training customers kept aside to fit the calibration.
    pub validation_share: f64,
    /// Seeds the split into fitting and validation customers.
    pub seed: u64,
    pub max_iterations: u64,
    /// Thresholds of the risk bands, 0 < medium < high < 1.
    pub medium_risk_threshold: f64,
    pub high_risk_threshold: f64,
    /// Refuse fewer churned (or fewer retained) training customers.
    pub min_class_count: usize,
}

impl Default for TrainOptions {
    fn default() -> Self {
        TrainOptions {
            l2: 1.0,
            calibration: CalibrationMethod::Isotonic,
            validation_share: 0.25,
            seed: 1,
            max_iterations: 200,
            medium_risk_threshold: 0.3,
            high_risk_threshold: 0.6,
            min_class_count: 20,
        }
    }
}

#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum ClassifierError {
    /// Not enough of one class to learn from (FAILED_PRECONDITION).
    #[error(
        "too few training customers of one class: {churned} churned and {retained} retained, \
         at least {required} of each are needed"
    )]
    TooFewOfAClass { churned: usize, retained: usize, required: usize },
    #[error("logistic regression failed: {0}")]
    Fit(String),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum RiskBand {
    Low,
    Medium,
    High,
}

/// One factor of a prediction (see `ChurnFactor` in churn.proto).
#[derive(Debug, Clone, PartialEq)]
pub struct Factor {
    pub feature: &'static str,
    /// The raw feature value (NaN for a missing NPS).
    pub value: f64,
    /// Positive raises the churn log-odds.
    pub contribution: f64,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Prediction {
    /// Calibrated churn probability.
    pub probability: f64,
    pub band: RiskBand,
    /// Up to five, largest |contribution| first.
    pub top_factors: Vec<Factor>,
}

/// A trained classifier; serialised into the model version's payload.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ChurnClassifier {
    pub standardizer: Standardizer,
    pub intercept: f64,
    /// Log-odds of churn per standard deviation, in feature order.
    pub coefficients: Vec<f64>,
    pub calibration: Calibration,
    pub medium_risk_threshold: f64,
    pub high_risk_threshold: f64,
}

const TOP_FACTORS: usize = 5;

impl ChurnClassifier {
    /// Trains on feature rows (see [`crate::classifier::feature_vector`]) and
    /// labels (true = churned).
    pub fn train(rows: &[Vec<f64>], churned: &[bool], options: &TrainOptions) -> Result<Self, ClassifierError> {
        let positives = churned.iter().filter(|&&c| c).count();
        let negatives = churned.len() - positives;
        if positives < options.min_class_count || negatives < options.min_class_count {
            return Err(ClassifierError::TooFewOfAClass {
                churned: positives,
                retained: negatives,
                required: options.min_class_count,
            });
        }
        let width = FEATURE_NAMES.len();
        // Fitting and validation customers by a seeded hash of the row
        // index, stratified so both splits keep both classes.
        let validation: Vec<bool> =
            (0..rows.len()).map(|i| unit_hash(options.seed, i as u64) < options.validation_share).collect();
        let split_has_both = |in_validation: bool| {
            let chosen = || churned.iter().zip(&validation).filter(move |(_, v)| **v == in_validation);
            chosen().any(|(c, _)| *c) && chosen().any(|(c, _)| !*c)
        };
        if !split_has_both(true) || !split_has_both(false) {
            return Err(ClassifierError::TooFewOfAClass {
                churned: positives,
                retained: negatives,
                required: options.min_class_count,
            });
        }

        let fit_rows: Vec<Vec<f64>> =
            rows.iter().zip(&validation).filter(|(_, v)| !**v).map(|(r, _)| r.clone()).collect();
        let fit_labels: Vec<bool> = churned.iter().zip(&validation).filter(|(_, v)| !**v).map(|(c, _)| *c).collect();
        let standardizer = Standardizer::fit(&fit_rows, width);
        let mut x = Array2::<f64>::zeros((fit_rows.len(), width));
        for (i, row) in fit_rows.iter().enumerate() {
            for (j, z) in standardizer.transform(row).into_iter().enumerate() {
                x[[i, j]] = z;
            }
        }
        let dataset = Dataset::new(x, Array1::from(fit_labels));
        let fitted = LogisticRegression::default()
            .alpha(options.l2)
            .max_iterations(options.max_iterations)
            .fit(&dataset)
            .map_err(|e| ClassifierError::Fit(e.to_string()))?;
        // linfa models the larger class as positive; turn that into the
        // log-odds of churn.
        let sign = if fitted.labels().pos.class { 1.0 } else { -1.0 };
        let coefficients: Vec<f64> = fitted.params().iter().map(|w| sign * w).collect();
        let intercept = sign * fitted.intercept();

        let mut model = ChurnClassifier {
            standardizer,
            intercept,
            coefficients,
            calibration: Calibration::Platt { a: 1.0, b: 0.0 },
            medium_risk_threshold: options.medium_risk_threshold,
            high_risk_threshold: options.high_risk_threshold,
        };
        let (scores, labels): (Vec<f64>, Vec<bool>) = rows
            .iter()
            .zip(churned)
            .zip(&validation)
            .filter(|(_, v)| **v)
            .map(|((row, c), _)| (model.raw_score(row), *c))
            .unzip();
        model.calibration = Calibration::fit(options.calibration, &scores, &labels);
        Ok(model)
    }

    /// Uncalibrated churn log-odds.
    pub fn raw_score(&self, row: &[f64]) -> f64 {
        let z = self.standardizer.transform(row);
        self.intercept + z.iter().zip(&self.coefficients).map(|(z, w)| z * w).sum::<f64>()
    }

    pub fn probability(&self, row: &[f64]) -> f64 {
        self.calibration.probability(self.raw_score(row)).clamp(0.0, 1.0)
    }

    pub fn band(&self, probability: f64) -> RiskBand {
        if probability < self.medium_risk_threshold {
            RiskBand::Low
        } else if probability < self.high_risk_threshold {
            RiskBand::Medium
        } else {
            RiskBand::High
        }
    }

    pub fn predict(&self, row: &[f64]) -> Prediction {
        let z = self.standardizer.transform(row);
        let mut factors: Vec<Factor> = z
            .iter()
            .zip(&self.coefficients)
            .enumerate()
            .map(|(j, (z, w))| Factor { feature: FEATURE_NAMES[j], value: row[j], contribution: z * w })
            .filter(|f| f.contribution != 0.0 && f.contribution.is_finite())
            .collect();
        factors.sort_by(|a, b| b.contribution.abs().total_cmp(&a.contribution.abs()));
        factors.truncate(TOP_FACTORS);
        let probability = self.probability(row);
        Prediction { probability, band: self.band(probability), top_factors: factors }
    }

    /// The imputed NPS (training mean), for reporting a missing value.
    pub fn imputed_nps(&self) -> f64 {
        self.standardizer.means[NPS_INDEX]
    }
}

/// A uniform number in [0, 1) from (seed, i): SplitMix64.
fn unit_hash(seed: u64, i: u64) -> f64 {
    let mut z = seed.wrapping_mul(0x9e37_79b9_7f4a_7c15) ^ i.wrapping_add(0x9e37_79b9_7f4a_7c15);
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^= z >> 31;
    (z >> 11) as f64 / (1u64 << 53) as f64
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::classifier::calibration::sigmoid;

    /// Rows where churn odds rise with feature 3 (days since last purchase)
    /// and fall with feature 4 (frequency); the other features are noise.
    fn data(n: usize) -> (Vec<Vec<f64>>, Vec<bool>) {
        let (mut rows, mut labels) = (Vec::new(), Vec::new());
        for i in 0..n {
            // Keys far from the split's seed, so the split is independent of the data.
            let u = |k: u64| unit_hash(1_000 + k, i as u64);
            let mut row: Vec<f64> = (0..FEATURE_NAMES.len()).map(|j| u(100 + j as u64)).collect();
            row[3] = 200.0 * u(1);
            row[4] = (10.0 * u(2)).floor();
            row[NPS_INDEX] = if u(3) < 0.3 { f64::NAN } else { (10.0 * u(4)).floor() };
            let p = sigmoid(0.02 * (row[3] - 100.0) - 0.4 * (row[4] - 5.0));
            rows.push(row);
            labels.push(u(5) < p);
        }
        (rows, labels)
    }

    #[test]
    fn learns_the_direction_of_each_signal_and_explains_it() {
        let (rows, labels) = data(4000);
        for calibration in [CalibrationMethod::Platt, CalibrationMethod::Isotonic] {
            let options = TrainOptions { calibration, ..TrainOptions::default() };
            let model = ChurnClassifier::train(&rows, &labels, &options).unwrap();
            assert!(model.coefficients[3] > 0.5, "{:?}", model.coefficients);
            assert!(model.coefficients[4] < -0.5, "{:?}", model.coefficients);
            let mut quiet = rows[0].clone();
            quiet[3] = 190.0;
            quiet[4] = 0.0;
            let mut loyal = quiet.clone();
            loyal[3] = 5.0;
            loyal[4] = 9.0;
            let (q, l) = (model.predict(&quiet), model.predict(&loyal));
            assert!(q.probability > 0.8 && l.probability < 0.2, "{} {}", q.probability, l.probability);
            assert_eq!(q.band, RiskBand::High);
            assert_eq!(l.band, RiskBand::Low);
            let top = &q.top_factors[0];
            assert!(["days_since_last_purchase", "frequency"].contains(&top.feature));
            assert!(top.contribution > 0.0);
            assert!(q.top_factors.len() <= 5);
        }
    }

    #[test]
    fn one_class_is_refused() {
        let (rows, _) = data(100);
        let error = ChurnClassifier::train(&rows, &[false; 100], &TrainOptions::default()).unwrap_err();
        assert!(matches!(error, ClassifierError::TooFewOfAClass { churned: 0, .. }));
    }
}
