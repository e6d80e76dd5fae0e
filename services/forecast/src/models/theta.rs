//! The standard Theta method (Assimakopoulos & Nikolopoulos, 2000) in the
//! form of Hyndman & Billah (IJF 19, 2003): simple exponential smoothing
//! plus half the slope of the linear trend,
//! y(h) = l_n + b0/2 (h - 1 + 1/alpha - (1 - alpha)^n / alpha).
//! The series given is already seasonally adjusted.

use super::ets::{self, ErrorKind, EtsForm, Season, Trend};

/// Point forecasts of the Theta method; `None` when the series is too short.
pub fn theta(y: &[f64], horizon: usize) -> Option<Vec<f64>> {
    let form = EtsForm { error: ErrorKind::Additive, trend: Trend::None, season: Season::None, period: 1 };
    let (fit, _) = ets::fit_form(y, form, None)?;
    let n = y.len() as f64;
    let mean_time = (n - 1.0) / 2.0;
    let mean_value = y.iter().sum::<f64>() / n;
    let covariance: f64 = y.iter().enumerate().map(|(t, v)| (t as f64 - mean_time) * (v - mean_value)).sum();
    let spread: f64 = (0..y.len()).map(|t| (t as f64 - mean_time).powi(2)).sum();
    let slope = if spread > 0.0 { covariance / spread } else { 0.0 };
    let alpha = fit.parameters.alpha;
    let level = fit.state.level;
    let offset = 1.0 / alpha - (1.0 - alpha).powf(n) / alpha;
    Some((1..=horizon).map(|h| level + slope / 2.0 * (h as f64 - 1.0 + offset)).collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn follows_half_the_trend_of_a_line() {
        let y: Vec<f64> = (0..50).map(|t| 10.0 + 2.0 * t as f64).collect();
        let forecast = theta(&y, 3).expect("long enough");
        // Steps grow by half the slope: b0/2 = 1 per period.
        assert!((forecast[1] - forecast[0] - 1.0).abs() < 1e-9);
        assert!(forecast[0] > 100.0 && forecast[0] < 112.0, "{forecast:?}");
    }
}
