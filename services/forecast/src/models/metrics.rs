//! Forecast accuracy (Hyndman & Koehler, IJF 22, 2006) and interval helpers.

use statrs::distribution::{ContinuousCDF, Normal};

/// In-sample MAE of the one-step seasonal naive forecast: the MASE scale.
/// `None` when it is zero (a constant series) or there are no differences.
pub fn mase_scale(training: &[f64], period: usize) -> Option<f64> {
    let period = period.max(1);
    if training.len() <= period {
        return None;
    }
    let total: f64 = (period..training.len()).map(|t| (training[t] - training[t - period]).abs()).sum();
    let scale = total / (training.len() - period) as f64;
    (scale > 0.0).then_some(scale)
}

pub fn mean_absolute_error(actual: &[f64], forecast: &[f64]) -> f64 {
    actual.iter().zip(forecast).map(|(a, f)| (a - f).abs()).sum::<f64>() / actual.len().max(1) as f64
}

/// Symmetric MAPE term in percent, 0 when both values are zero.
pub fn smape_term(actual: f64, forecast: f64) -> f64 {
    let denominator = actual.abs() + forecast.abs();
    if denominator == 0.0 { 0.0 } else { 200.0 * (actual - forecast).abs() / denominator }
}

/// The standard normal quantile for a two-sided interval at `level` percent.
pub fn normal_quantile(level: f64) -> f64 {
    let probability = 0.5 + level / 200.0;
    // Normal::new(0, 1) cannot fail; the fallback is the 95% value.
    Normal::new(0.0, 1.0).map(|normal| normal.inverse_cdf(probability)).unwrap_or(1.959_963_984_540_054)
}

/// The split-conformal quantile of absolute errors at `level` percent: the
/// ceil((n + 1) level)-th smallest, or the largest when there are too few.
pub fn conformal_quantile(absolute_errors: &mut [f64], level: f64) -> Option<f64> {
    if absolute_errors.is_empty() {
        return None;
    }
    absolute_errors.sort_by(f64::total_cmp);
    let n = absolute_errors.len();
    let rank = (((n + 1) as f64) * level / 100.0).ceil() as usize;
    Some(absolute_errors[rank.clamp(1, n) - 1])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn known_values() {
        assert!((normal_quantile(95.0) - 1.959_964).abs() < 1e-5);
        assert!((normal_quantile(80.0) - 1.281_552).abs() < 1e-5);
        assert_eq!(mase_scale(&[1.0, 3.0, 2.0], 1), Some(1.5));
        assert_eq!(mase_scale(&[2.0, 2.0, 2.0], 1), None);
        assert_eq!(smape_term(0.0, 0.0), 0.0);
        assert_eq!(smape_term(1.0, 0.0), 200.0);
        let mut errors: Vec<f64> = (1..=19).map(f64::from).collect();
        assert_eq!(conformal_quantile(&mut errors, 90.0), Some(18.0));
    }
}
