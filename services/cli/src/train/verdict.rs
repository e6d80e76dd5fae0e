//! Whether a new model version beats the active one on a named held-out
//! metric, from the service's CompareModels answer.

use anyhow::bail;
use patron_proto::common::v1::MetricComparison;

#[derive(Debug, Clone, PartialEq)]
pub struct Verdict {
    pub metric: String,
    pub baseline: f64,
    pub candidate: f64,
    pub higher_is_better: bool,
    /// Strictly better: a tie keeps the active version.
    pub better: bool,
}

/// Judges `metric` (case-insensitive) among `comparisons`. A metric the
/// service did not report is an error naming the ones it did, so a typo in
/// a schedule never activates (or silently skips) anything.
pub fn judge(metric: &str, comparisons: &[MetricComparison]) -> anyhow::Result<Verdict> {
    let Some(found) = comparisons.iter().find(|comparison| comparison.metric.eq_ignore_ascii_case(metric.trim()))
    else {
        let known: Vec<&str> = comparisons.iter().map(|comparison| comparison.metric.as_str()).collect();
        bail!("the comparison reports no metric {metric:?}; it reports: {}", known.join(", "));
    };
    let (baseline, candidate) = (found.baseline_value, found.candidate_value);
    Ok(Verdict {
        metric: found.metric.clone(),
        baseline,
        candidate,
        higher_is_better: found.higher_is_better,
        better: is_better(found),
    })
}

/// Whether the candidate is strictly better on this metric. NaN compares
/// false either way: never better.
pub fn is_better(comparison: &MetricComparison) -> bool {
    let (baseline, candidate) = (comparison.baseline_value, comparison.candidate_value);
    if comparison.higher_is_better { candidate > baseline } else { candidate < baseline }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn comparison(metric: &str, baseline: f64, candidate: f64, higher_is_better: bool) -> MetricComparison {
        MetricComparison {
            metric: metric.into(),
            baseline_value: baseline,
            candidate_value: candidate,
            higher_is_better,
        }
    }

    #[test]
    fn direction_follows_the_metric() {
        let comparisons = [comparison("roc_auc", 0.70, 0.75, true), comparison("brier", 0.20, 0.22, false)];
        assert!(judge("roc_auc", &comparisons).expect("known").better);
        assert!(judge("ROC_AUC", &comparisons).expect("case-insensitive").better);
        assert!(!judge("brier", &comparisons).expect("known").better);
        let lower = [comparison("mase", 1.10, 0.90, false)];
        assert!(judge("mase", &lower).expect("known").better);
    }

    #[test]
    fn ties_and_nan_keep_the_active_version() {
        assert!(!judge("auc", &[comparison("auc", 0.8, 0.8, true)]).expect("known").better);
        assert!(!judge("auc", &[comparison("auc", 0.8, f64::NAN, true)]).expect("known").better);
    }

    #[test]
    fn an_unreported_metric_names_the_reported_ones() {
        let error = judge("auc", &[comparison("roc_auc", 0.7, 0.8, true)]).expect_err("unknown");
        assert!(error.to_string().contains("roc_auc"), "{error}");
    }
}
