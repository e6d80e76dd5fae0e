//! Standardisation: z = (v - mean) / sd with the training customers'
//! moments, so logistic coefficients are log-odds per standard deviation
//! and a factor's contribution is relative to the average training customer.

use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Standardizer {
    pub means: Vec<f64>,
    /// 1 for a constant feature, so its z-score is 0 rather than NaN.
    pub deviations: Vec<f64>,
}

impl Standardizer {
    /// Moments of each column over the finite values (NaN marks a missing
    /// value, imputed with the mean).
    pub fn fit(rows: &[Vec<f64>], width: usize) -> Self {
        let mut means = vec![0.0; width];
        let mut deviations = vec![1.0; width];
        for j in 0..width {
            let values: Vec<f64> = rows.iter().map(|r| r[j]).filter(|v| v.is_finite()).collect();
            if values.is_empty() {
                continue;
            }
            let n = values.len() as f64;
            let mean = values.iter().sum::<f64>() / n;
            let variance = values.iter().map(|v| (v - mean) * (v - mean)).sum::<f64>() / n;
            means[j] = mean;
            deviations[j] = if variance > 1e-24 { variance.sqrt() } else { 1.0 };
        }
        Standardizer { means, deviations }
    }

    /// z-scores of one row; a missing (non-finite) value becomes 0, the mean.
    pub fn transform(&self, row: &[f64]) -> Vec<f64> {
        row.iter()
            .zip(self.means.iter().zip(&self.deviations))
            .map(|(v, (m, s))| if v.is_finite() { (v - m) / s } else { 0.0 })
            .collect()
    }
}
