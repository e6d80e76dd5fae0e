//! The fitted per-feature transform: z = (t(x) − mean) / std with
//! t = log1p for non-negative features whose skewness exceeds 1 (money and
//! counts are long-tailed; without it a few big customers would dominate
//! every distance), identity otherwise.

use serde::{Deserialize, Serialize};

/// Skewness above which a non-negative feature is log-transformed.
const SKEWNESS_LIMIT: f64 = 1.0;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FeatureTransform {
    pub feature: String,
    pub unit: String,
    pub log1p: bool,
    pub mean: f64,
    /// Population standard deviation of t(x); > 0.
    pub std: f64,
}

/// Why a column cannot be standardised.
#[derive(Debug, Clone, PartialEq)]
pub enum TransformError {
    Constant { value: f64 },
}

impl FeatureTransform {
    /// Fits the transform of one column of finite values.
    pub fn fit(feature: &str, unit: &str, values: &[f64]) -> Result<Self, TransformError> {
        let first = values.first().copied().unwrap_or(0.0);
        if values.iter().all(|&value| value == first) {
            return Err(TransformError::Constant { value: first });
        }
        let non_negative = values.iter().all(|&value| value >= 0.0);
        let log1p = non_negative && skewness(values) > SKEWNESS_LIMIT;
        let transformed: Vec<f64> = values.iter().map(|&value| if log1p { value.ln_1p() } else { value }).collect();
        let (mean, variance) = mean_and_variance(&transformed);
        Ok(Self { feature: feature.to_owned(), unit: unit.to_owned(), log1p, mean, std: variance.sqrt() })
    }

    pub fn apply(&self, value: f64) -> f64 {
        let transformed = if self.log1p { value.ln_1p() } else { value };
        (transformed - self.mean) / self.std
    }

    /// Back to original units; for log1p features a geometric-mean-like value.
    pub fn invert(&self, standardized: f64) -> f64 {
        let transformed = standardized * self.std + self.mean;
        if self.log1p { transformed.exp_m1() } else { transformed }
    }
}

fn mean_and_variance(values: &[f64]) -> (f64, f64) {
    let count = values.len().max(1) as f64;
    let mean = values.iter().sum::<f64>() / count;
    let variance = values.iter().map(|value| (value - mean) * (value - mean)).sum::<f64>() / count;
    (mean, variance)
}

/// Population skewness E[(x − μ)³] / σ³; 0 for a constant column.
pub fn skewness(values: &[f64]) -> f64 {
    let (mean, variance) = mean_and_variance(values);
    if variance <= 0.0 {
        return 0.0;
    }
    let count = values.len() as f64;
    let third = values.iter().map(|value| (value - mean).powi(3)).sum::<f64>() / count;
    third / variance.powf(1.5)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn skewed_non_negative_columns_get_log1p_and_round_trip() {
        let spend: Vec<f64> = (0..200).map(|i| if i % 20 == 0 { 5_000.0 } else { 20.0 + i as f64 }).collect();
        let transform = FeatureTransform::fit("monetary", "USD", &spend).expect("fits");
        assert!(transform.log1p);
        for &value in &[0.0, 20.0, 5_000.0] {
            assert!((transform.invert(transform.apply(value)) - value).abs() < 1e-9 * value.max(1.0));
        }
        let z: Vec<f64> = spend.iter().map(|&value| transform.apply(value)).collect();
        let (mean, variance) = mean_and_variance(&z);
        assert!(mean.abs() < 1e-12 && (variance - 1.0).abs() < 1e-12);
    }

    #[test]
    fn symmetric_or_signed_columns_stay_linear() {
        let symmetric: Vec<f64> = (0..100).map(|i| i as f64).collect();
        assert!(!FeatureTransform::fit("tenure_days", "days", &symmetric).expect("fits").log1p);
        let signed: Vec<f64> = (0..100).map(|i| if i % 10 == 0 { 50.0 } else { -1.0 }).collect();
        assert!(!FeatureTransform::fit("nps", "score", &signed).expect("fits").log1p);
    }

    #[test]
    fn constant_columns_are_refused() {
        assert_eq!(
            FeatureTransform::fit("complaints", "count", &[0.0; 10]),
            Err(TransformError::Constant { value: 0.0 })
        );
    }
}
