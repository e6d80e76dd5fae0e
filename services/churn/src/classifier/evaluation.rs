//! The holdout report of a churn classifier (see `ChurnEvaluation` in
//! churn.proto): ROC AUC, PR AUC (average precision), Brier score, a
//! ten-decile lift table and an equal-width calibration curve. The positive
//! class is "churned".

use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CalibrationBin {
    pub lower: f64,
    pub upper: f64,
    pub customer_count: u64,
    pub mean_predicted: f64,
    pub observed_rate: f64,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct LiftDecile {
    pub decile: u32,
    pub customer_count: u64,
    pub churned_count: u64,
    pub min_predicted: f64,
    pub max_predicted: f64,
    pub churn_rate: f64,
    pub lift: f64,
    pub cumulative_lift: f64,
    pub cumulative_capture: f64,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Evaluation {
    pub customer_count: u64,
    pub churned_count: u64,
    pub roc_auc: f64,
    pub pr_auc: f64,
    pub brier_score: f64,
    pub top_decile_lift: f64,
    pub calibration_bins: Vec<CalibrationBin>,
    pub deciles: Vec<LiftDecile>,
}

/// Why a holdout cannot be evaluated.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum EvaluationError {
    #[error("the holdout has {customers} customers; at least 10 are needed for a decile table")]
    TooFewCustomers { customers: usize },
    #[error("the holdout has {churned} churned of {customers} customers; both classes are needed")]
    OneClass { churned: usize, customers: usize },
}

/// Evaluates calibrated probabilities against outcomes (churned = true).
pub fn evaluate(predicted: &[f64], churned: &[bool], bins: usize) -> Result<Evaluation, EvaluationError> {
    let n = predicted.len().min(churned.len());
    let positives = churned[..n].iter().filter(|&&c| c).count();
    if n < 10 {
        return Err(EvaluationError::TooFewCustomers { customers: n });
    }
    if positives == 0 || positives == n {
        return Err(EvaluationError::OneClass { churned: positives, customers: n });
    }
    // Highest risk first; ties keep input order so the report is stable.
    let mut order: Vec<usize> = (0..n).collect();
    order.sort_by(|&i, &j| predicted[j].total_cmp(&predicted[i]));

    let brier_score =
        (0..n).map(|i| (predicted[i] - if churned[i] { 1.0 } else { 0.0 }).powi(2)).sum::<f64>() / n as f64;
    let deciles = lift_table(predicted, churned, &order, positives);
    Ok(Evaluation {
        customer_count: n as u64,
        churned_count: positives as u64,
        roc_auc: roc_auc(predicted, churned, &order, positives),
        pr_auc: average_precision(predicted, churned, &order, positives),
        brier_score,
        top_decile_lift: deciles[0].lift,
        calibration_bins: calibration_curve(predicted, churned, bins.max(1)),
        deciles,
    })
}

/// Groups of tied predictions along `order` (descending), as index ranges.
fn tie_groups<'a>(predicted: &'a [f64], order: &'a [usize]) -> impl Iterator<Item = std::ops::Range<usize>> + 'a {
    let mut start = 0;
    std::iter::from_fn(move || {
        if start >= order.len() {
            return None;
        }
        let mut end = start + 1;
        while end < order.len() && predicted[order[end]] == predicted[order[start]] {
            end += 1;
        }
        let range = start..end;
        start = end;
        Some(range)
    })
}

/// The probability that a random churner is ranked above a random
/// non-churner, ties counting one half (Mann-Whitney U / (n+ n-)).
fn roc_auc(predicted: &[f64], churned: &[bool], order: &[usize], positives: usize) -> f64 {
    let negatives = order.len() - positives;
    // Walk from the highest score: each negative is outranked by the
    // positives seen before its tie group, plus half the positives in it.
    let mut positives_above = 0.0;
    let mut pairs = 0.0;
    for group in tie_groups(predicted, order) {
        let p = group.clone().filter(|&k| churned[order[k]]).count() as f64;
        let q = group.len() as f64 - p;
        pairs += q * (positives_above + 0.5 * p);
        positives_above += p;
    }
    pairs / (positives as f64 * negatives as f64)
}

/// Average precision: sum over thresholds of (recall gained) x precision,
/// each tie group taken as one threshold.
fn average_precision(predicted: &[f64], churned: &[bool], order: &[usize], positives: usize) -> f64 {
    let (mut seen, mut hits, mut ap) = (0.0, 0.0, 0.0);
    for group in tie_groups(predicted, order) {
        let p = group.clone().filter(|&k| churned[order[k]]).count() as f64;
        seen += group.len() as f64;
        hits += p;
        ap += (p / positives as f64) * (hits / seen);
    }
    ap
}

fn lift_table(predicted: &[f64], churned: &[bool], order: &[usize], positives: usize) -> Vec<LiftDecile> {
    let n = order.len();
    let overall = positives as f64 / n as f64;
    let (mut cumulative_customers, mut cumulative_churned) = (0u64, 0u64);
    (0..10)
        .map(|d| {
            let rows = &order[d * n / 10..(d + 1) * n / 10];
            let churned_count = rows.iter().filter(|&&i| churned[i]).count() as u64;
            let customer_count = rows.len() as u64;
            cumulative_customers += customer_count;
            cumulative_churned += churned_count;
            let churn_rate = if customer_count > 0 { churned_count as f64 / customer_count as f64 } else { 0.0 };
            let values = rows.iter().map(|&i| predicted[i]);
            LiftDecile {
                decile: d as u32 + 1,
                customer_count,
                churned_count,
                min_predicted: values.clone().fold(f64::INFINITY, f64::min),
                max_predicted: values.fold(f64::NEG_INFINITY, f64::max),
                churn_rate,
                lift: churn_rate / overall,
                cumulative_lift: (cumulative_churned as f64 / cumulative_customers as f64) / overall,
                cumulative_capture: cumulative_churned as f64 / positives as f64,
            }
        })
        .collect()
}

fn calibration_curve(predicted: &[f64], churned: &[bool], bins: usize) -> Vec<CalibrationBin> {
    let mut sums = vec![(0u64, 0.0, 0u64); bins];
    for (p, &c) in predicted.iter().zip(churned) {
        let bin = ((p * bins as f64).floor() as usize).min(bins - 1);
        sums[bin].0 += 1;
        sums[bin].1 += p;
        sums[bin].2 += u64::from(c);
    }
    sums.iter()
        .enumerate()
        .filter(|(_, s)| s.0 > 0)
        .map(|(b, &(count, total, churned))| CalibrationBin {
            lower: b as f64 / bins as f64,
            upper: (b + 1) as f64 / bins as f64,
            customer_count: count,
            mean_predicted: total / count as f64,
            observed_rate: churned as f64 / count as f64,
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hand_computed_metrics() {
        // Ten customers, scores descending; churned at ranks 1, 2, 4, 7.
        let predicted = [0.9, 0.8, 0.7, 0.6, 0.5, 0.4, 0.3, 0.2, 0.1, 0.05];
        let churned = [true, true, false, true, false, false, true, false, false, false];
        let e = evaluate(&predicted, &churned, 10).unwrap();
        // Pairs (positive above negative): 6 + 6 + 5 + 3 = 20 of 24.
        assert!((e.roc_auc - 20.0 / 24.0).abs() < 1e-12);
        // AP = (1/1 + 2/2 + 3/4 + 4/7) / 4.
        assert!((e.pr_auc - (1.0 + 1.0 + 0.75 + 4.0 / 7.0) / 4.0).abs() < 1e-12);
        // Top decile = one customer, churned: rate 1 / overall 0.4 = 2.5.
        assert!((e.top_decile_lift - 2.5).abs() < 1e-12);
        assert_eq!(e.deciles.len(), 10);
        assert!((e.deciles[9].cumulative_capture - 1.0).abs() < 1e-12);
        let brier: f64 = predicted
            .iter()
            .zip(churned)
            .map(|(p, c)| (p - if c { 1.0 } else { 0.0 }) * (p - if c { 1.0 } else { 0.0 }))
            .sum::<f64>()
            / 10.0;
        assert!((e.brier_score - brier).abs() < 1e-12);
        // 0.05 falls in [0, 0.1); 0.9 in [0.9, 1].
        assert_eq!(e.calibration_bins.first().unwrap().customer_count, 1);
        assert_eq!(e.calibration_bins.len(), 10);
    }

    #[test]
    fn ties_count_half() {
        let predicted = [0.5; 10];
        let churned = [true, false, true, false, false, false, false, false, false, false];
        let e = evaluate(&predicted, &churned, 10).unwrap();
        assert!((e.roc_auc - 0.5).abs() < 1e-12);
        assert!((e.pr_auc - 0.2).abs() < 1e-12);
    }

    #[test]
    fn one_class_is_refused() {
        assert!(matches!(evaluate(&[0.1; 12], &[false; 12], 10), Err(EvaluationError::OneClass { .. })));
    }
}
