//! The seasonal naive method: each forecast repeats the value one season
//! earlier (the last value with period 1). Its h-step variance is
//! sigma² (floor((h-1)/m) + 1), sigma² from the in-sample seasonal differences
//! (Hyndman & Athanasopoulos, FPP3 §5.5).

/// Point forecasts and per-step variances; `period` is clamped to the history.
pub fn seasonal_naive(y: &[f64], period: usize, horizon: usize) -> (Vec<f64>, Vec<f64>) {
    let n = y.len();
    let period = period.clamp(1, n.max(1));
    if n == 0 {
        return (vec![0.0; horizon], vec![0.0; horizon]);
    }
    let differences: Vec<f64> = (period..n).map(|t| y[t] - y[t - period]).collect();
    let sigma2 = if differences.is_empty() {
        0.0
    } else {
        differences.iter().map(|d| d * d).sum::<f64>() / differences.len() as f64
    };
    let mean = (0..horizon).map(|step| y[n - period + step % period]).collect();
    let variance = (0..horizon).map(|step| sigma2 * ((step / period) + 1) as f64).collect();
    (mean, variance)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn repeats_the_last_season() {
        let (mean, variance) = seasonal_naive(&[1.0, 2.0, 3.0, 4.0, 5.0, 6.0], 3, 5);
        assert_eq!(mean, vec![4.0, 5.0, 6.0, 4.0, 5.0]);
        // Every seasonal difference is 3, so sigma² = 9; the second cycle doubles it.
        assert_eq!(variance, vec![9.0, 9.0, 9.0, 18.0, 18.0]);
    }
}
