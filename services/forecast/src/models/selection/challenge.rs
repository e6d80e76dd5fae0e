//! The selection rule: the preferred candidate is kept unless the backtest's
//! best beats it significantly.
//!
//! Why not simply the lowest backtest MASE: a few windows of one series
//! measure the candidates' accuracy with much noise, and the lowest score is
//! then often a lucky draw (the winner's curse). On the 2,000-series benchmark
//! the plain minimum forecast the holdout worse than ETS alone did (mean MASE
//! 0.855 against 0.824), while the candidate ranked second by the backtest
//! beat the one ranked first. So the pool's order of preference
//! (`Method::ALL`: the ETS family chosen by AICc for smooth demand, TSB for
//! intermittent demand) is the default, and a challenger replaces it only when
//! a test of equal accuracy rejects at `SIGNIFICANCE`: the one-sided paired
//! t-test of the per-window MASE differences (the Diebold-Mariano test on
//! non-overlapping windows, with the Student-t reference of Harvey, Leybourne
//! & Newbold, IJF 13, 1997).

use statrs::distribution::{ContinuousCDF, StudentsT};

use super::CandidateScore;
use crate::models::Method;
use crate::models::metrics;

/// One-sided level at which a challenger must beat the preferred candidate.
pub const SIGNIFICANCE: f64 = 0.05;

/// The chosen candidate's index and why it was chosen.
#[derive(Debug, Clone, PartialEq)]
pub struct Choice {
    pub index: usize,
    pub reason: String,
}

/// Chooses among `candidates` (best backtest first) those `eligible` admits.
/// `errors` holds each candidate's absolute errors per window and step;
/// `scales` each window's MASE scale (`None` compares raw errors there).
pub fn choose(
    candidates: &[(CandidateScore, Vec<Vec<f64>>)],
    eligible: impl Fn(&CandidateScore) -> bool,
    scales: &[Option<f64>],
) -> Option<Choice> {
    let best = candidates.iter().position(|(c, _)| eligible(c))?;
    let preference = |c: &CandidateScore| Method::ALL.iter().position(|m| *m == c.method).unwrap_or(usize::MAX);
    let preferred = candidates
        .iter()
        .enumerate()
        .filter(|(_, (c, _))| eligible(c) && c.method != Method::Combination)
        .min_by_key(|(_, (c, _))| preference(c))
        .map(|(index, _)| index)
        .unwrap_or(best);
    let name = |index: usize| candidates[index].0.method.name();
    if best == preferred {
        return Some(Choice { index: best, reason: format!("{} has the lowest backtest MASE", name(best)) });
    }
    let differences: Vec<f64> = window_losses(&candidates[preferred].1, scales)
        .iter()
        .zip(window_losses(&candidates[best].1, scales))
        .map(|(kept, challenger)| kept - challenger)
        .collect();
    let Some((statistic, critical)) = paired_t(&differences) else {
        return Some(Choice {
            index: preferred,
            reason: format!(
                "{} kept: {} scored better on one window only, too few to tell from noise",
                name(preferred),
                name(best)
            ),
        });
    };
    if statistic > critical {
        Some(Choice {
            index: best,
            reason: format!(
                "{} beats the preferred {} significantly: t = {statistic:.2} > {critical:.2} over {} windows",
                name(best),
                name(preferred),
                differences.len()
            ),
        })
    } else {
        Some(Choice {
            index: preferred,
            reason: format!(
                "{} kept: {}'s lower backtest MASE is not significant: t = {statistic:.2} <= {critical:.2} over {} windows",
                name(preferred),
                name(best),
                differences.len()
            ),
        })
    }
}

/// Each window's mean absolute error, scaled where the window has a scale.
fn window_losses(errors: &[Vec<f64>], scales: &[Option<f64>]) -> Vec<f64> {
    errors
        .iter()
        .enumerate()
        .map(|(window, window_errors)| {
            let mae = window_errors.iter().sum::<f64>() / window_errors.len().max(1) as f64;
            match scales.get(window).copied().flatten() {
                Some(scale) => mae / scale,
                None => mae,
            }
        })
        .collect()
}

/// The paired t statistic of `differences` and its one-sided critical value
/// at `SIGNIFICANCE`; `None` with fewer than two differences. Identical
/// differences (no spread) count as significant when positive.
fn paired_t(differences: &[f64]) -> Option<(f64, f64)> {
    let count = differences.len();
    if count < 2 {
        return None;
    }
    let freedom = (count - 1) as f64;
    let mean = differences.iter().sum::<f64>() / count as f64;
    let variance = differences.iter().map(|d| (d - mean).powi(2)).sum::<f64>() / freedom;
    let critical = StudentsT::new(0.0, 1.0, freedom)
        .map(|t| t.inverse_cdf(1.0 - SIGNIFICANCE))
        .unwrap_or(metrics::normal_quantile(100.0 - 2.0 * 100.0 * SIGNIFICANCE));
    let spread = (variance / count as f64).sqrt();
    let statistic = if spread > 0.0 {
        mean / spread
    } else if mean > 0.0 {
        f64::INFINITY
    } else {
        0.0
    };
    Some((statistic, critical))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::models::selection::IntervalKind;

    fn candidate(method: Method, window_maes: &[f64]) -> (CandidateScore, Vec<Vec<f64>>) {
        let score = CandidateScore {
            method,
            specification: method.name().to_owned(),
            selected: false,
            mase: Some(window_maes.iter().sum::<f64>() / window_maes.len() as f64),
            smape: None,
            rmse: None,
            interval: IntervalKind::Conformal,
            coverage: Vec::new(),
            skip_reason: None,
            members: Vec::new(),
        };
        (score, window_maes.iter().map(|mae| vec![*mae; 4]).collect())
    }

    #[test]
    fn a_noisy_lead_keeps_the_preferred_method_and_a_consistent_one_replaces_it() {
        let scales = [Some(1.0), Some(1.0), Some(1.0)];
        // Theta leads on the mean only through one window.
        let noisy = [candidate(Method::Theta, &[0.5, 1.1, 1.0]), candidate(Method::Ets, &[1.0, 1.0, 1.0])];
        let choice = choose(&noisy, |_| true, &scales).expect("a choice");
        assert_eq!(noisy[choice.index].0.method, Method::Ets, "{choice:?}");
        assert!(choice.reason.contains("not significant"), "{choice:?}");
        // Theta better on every window by a steady margin.
        let steady = [candidate(Method::Theta, &[0.70, 0.72, 0.69]), candidate(Method::Ets, &[1.0, 1.01, 0.99])];
        let choice = choose(&steady, |_| true, &scales).expect("a choice");
        assert_eq!(steady[choice.index].0.method, Method::Theta, "{choice:?}");
        assert!(choice.reason.contains("significantly"), "{choice:?}");
    }

    #[test]
    fn the_preferred_method_is_the_first_eligible_in_the_pool_order() {
        let scales = [Some(1.0), Some(1.0)];
        let candidates = [
            candidate(Method::SeasonalNaive, &[0.5, 0.9]),
            candidate(Method::Ets, &[0.9, 0.9]),
            candidate(Method::Tsb, &[1.0, 1.0]),
        ];
        let choice = choose(&candidates, |c| c.method != Method::Ets, &scales).expect("a choice");
        // ETS is not eligible; of the rest SEASONAL_NAIVE comes first in Method::ALL, and it leads.
        assert_eq!(candidates[choice.index].0.method, Method::SeasonalNaive, "{choice:?}");
        assert_eq!(choice.reason, "SEASONAL_NAIVE has the lowest backtest MASE");
        let one_window = [candidate(Method::Theta, &[0.5]), candidate(Method::Ets, &[1.0])];
        let choice = choose(&one_window, |_| true, &[Some(1.0)]).expect("a choice");
        assert_eq!(one_window[choice.index].0.method, Method::Ets, "{choice:?}");
    }

    #[test]
    fn the_critical_value_is_students_t() {
        let (_, critical) = paired_t(&[0.1, 0.2, 0.3]).expect("two or more");
        // t(0.95; 2 degrees of freedom) = 2.920.
        assert!((critical - 2.919_986).abs() < 1e-5, "{critical}");
        assert_eq!(paired_t(&[0.1]), None);
    }
}
