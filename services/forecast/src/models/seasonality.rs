//! Seasonal periods of a series and their strength. Candidates are the
//! calendar periods of the granularity (7 and 365 on days, 52 on weeks, 12 on
//! months) plus the strongest local peaks of the autocorrelation function of
//! the linearly detrended series. A candidate needs an autocorrelation above
//! the white-noise band at its own lag (so a long period with only two noisy
//! cycles is not mistaken for a season); MSTL on the rest then measures each
//! one's strength, and those at or above `MIN_STRENGTH` are kept.

use super::stl;

/// Seasonal strength below this is noise, not a season.
pub const MIN_STRENGTH: f64 = 0.3;
/// How many autocorrelation peaks become candidates.
const ACF_PEAKS: usize = 3;
/// Smallest autocorrelation of a peak that is not a calendar period.
const MIN_PEAK_AUTOCORRELATION: f64 = 0.2;

#[derive(Debug, Clone, Copy, PartialEq)]
pub struct SeasonalPeriod {
    pub period: usize,
    pub strength: f64,
}

/// Autocorrelations at lags 0..=max_lag of `y` after removing a least-squares line.
pub fn autocorrelation(y: &[f64], max_lag: usize) -> Vec<f64> {
    let n = y.len();
    if n < 3 {
        return vec![1.0];
    }
    let mean_time = (n as f64 - 1.0) / 2.0;
    let mean_value = y.iter().sum::<f64>() / n as f64;
    let covariance: f64 = y.iter().enumerate().map(|(t, v)| (t as f64 - mean_time) * (v - mean_value)).sum();
    let spread: f64 = (0..n).map(|t| (t as f64 - mean_time).powi(2)).sum();
    let slope = covariance / spread;
    let detrended: Vec<f64> =
        y.iter().enumerate().map(|(t, v)| v - mean_value - slope * (t as f64 - mean_time)).collect();
    let denominator: f64 = detrended.iter().map(|v| v * v).sum();
    if denominator <= 0.0 {
        return vec![1.0];
    }
    (0..=max_lag.min(n - 1))
        .map(|lag| detrended[lag..].iter().zip(&detrended).map(|(a, b)| a * b).sum::<f64>() / denominator)
        .collect()
}

/// Lags where the autocorrelation has a local maximum above the white-noise
/// band 2/sqrt(n), strongest first, at most `ACF_PEAKS`, skipping multiples of
/// a stronger peak (harmonics of the same season).
fn autocorrelation_peaks(acf: &[f64]) -> Vec<usize> {
    let mut peaks: Vec<(usize, f64)> = (2..acf.len().saturating_sub(1))
        .filter(|&lag| acf[lag] > MIN_PEAK_AUTOCORRELATION && acf[lag] > acf[lag - 1] && acf[lag] >= acf[lag + 1])
        .map(|lag| (lag, acf[lag]))
        .collect();
    peaks.sort_by(|a, b| b.1.total_cmp(&a.1));
    let mut chosen: Vec<usize> = Vec::new();
    for (lag, _) in peaks {
        if chosen.len() == ACF_PEAKS {
            break;
        }
        if chosen.iter().any(|&kept| lag % kept == 0) {
            continue;
        }
        chosen.push(lag);
    }
    chosen
}

/// The periods of `y` with strength >= `MIN_STRENGTH` and at least two full
/// cycles, strongest first.
pub fn detect(y: &[f64], calendar_periods: &[usize]) -> Vec<SeasonalPeriod> {
    let n = y.len();
    let acf = autocorrelation(y, n / 2);
    let band = 2.0 / (n as f64).sqrt();
    let mut candidates: Vec<usize> = calendar_periods
        .iter()
        .copied()
        .chain(autocorrelation_peaks(&acf))
        .filter(|&p| p >= 2 && 2 * p <= n && acf.get(p).is_some_and(|&r| r > band))
        .collect();
    candidates.sort_unstable();
    candidates.dedup();
    if candidates.is_empty() {
        return Vec::new();
    }
    let decomposition = stl::mstl(y, &candidates);
    let mut found: Vec<SeasonalPeriod> = decomposition
        .periods
        .iter()
        .enumerate()
        .map(|(index, &period)| SeasonalPeriod { period, strength: decomposition.strength(index) })
        .filter(|found| found.strength >= MIN_STRENGTH)
        .collect();
    found.sort_by(|a, b| b.strength.total_cmp(&a.strength));
    found
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::rngs::StdRng;
    use rand::{RngExt, SeedableRng};

    fn noise(rng: &mut StdRng) -> f64 {
        // Sum of uniforms: roughly normal, unit variance.
        (0..12).map(|_| rng.random::<f64>()).sum::<f64>() - 6.0
    }

    #[test]
    fn finds_weekly_and_yearly_seasons_on_daily_data() {
        let mut rng = StdRng::seed_from_u64(7);
        let y: Vec<f64> = (0..730)
            .map(|t| {
                let t = t as f64;
                200.0
                    + 30.0 * (std::f64::consts::TAU * t / 7.0).sin()
                    + 60.0 * (std::f64::consts::TAU * t / 365.0).sin()
                    + 8.0 * noise(&mut rng)
            })
            .collect();
        let periods: Vec<usize> = detect(&y, &[7, 365]).iter().map(|p| p.period).collect();
        assert!(periods.contains(&7), "{periods:?}");
        assert!(periods.contains(&365), "{periods:?}");
    }

    #[test]
    fn finds_a_period_that_is_not_a_calendar_one() {
        let mut rng = StdRng::seed_from_u64(11);
        let y: Vec<f64> = (0..240)
            .map(|t| 50.0 + [0.0, 9.0, 14.0, 3.0, -6.0, -12.0, -8.0, 0.0][t % 8] + 2.0 * noise(&mut rng))
            .collect();
        let found = detect(&y, &[]);
        assert_eq!(found.first().map(|p| p.period), Some(8), "{found:?}");
    }

    #[test]
    fn white_noise_has_no_season() {
        for seed in 0..5 {
            let mut rng = StdRng::seed_from_u64(seed);
            let y: Vec<f64> = (0..730).map(|_| 100.0 + 5.0 * noise(&mut rng)).collect();
            let found = detect(&y, &[7, 365]);
            assert!(found.is_empty(), "seed {seed}: {found:?}");
        }
    }
}
