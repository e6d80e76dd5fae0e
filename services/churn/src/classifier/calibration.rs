//! Mapping raw classifier scores (log-odds) to calibrated probabilities,
//! fitted on a validation split that the classifier did not train on.
//!
//! - Platt (1999): p = 1 / (1 + exp(-(A s + B))), fitted by Newton's method
//!   on the log-loss with Platt's smoothed targets (n+ + 1)/(n+ + 2) and
//!   1/(n- + 2), which keeps A and B finite on separable data.
//! - Isotonic: the pool-adjacent-violators solution of least squares under
//!   a non-decreasing constraint; prediction is piecewise constant.

use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum CalibrationMethod {
    Platt,
    Isotonic,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub enum Calibration {
    Platt {
        a: f64,
        b: f64,
    },
    /// Blocks of the isotonic fit: block i covers scores from `starts[i]`
    /// up to the next start, with probability `values[i]` (non-decreasing).
    Isotonic {
        starts: Vec<f64>,
        values: Vec<f64>,
    },
}

impl Calibration {
    /// Fits the method to (score, churned) pairs; needs both classes.
    pub fn fit(method: CalibrationMethod, scores: &[f64], labels: &[bool]) -> Calibration {
        match method {
            CalibrationMethod::Platt => platt(scores, labels),
            CalibrationMethod::Isotonic => isotonic(scores, labels),
        }
    }

    pub fn method(&self) -> CalibrationMethod {
        match self {
            Calibration::Platt { .. } => CalibrationMethod::Platt,
            Calibration::Isotonic { .. } => CalibrationMethod::Isotonic,
        }
    }

    /// The calibrated probability of a raw score, in [0, 1].
    pub fn probability(&self, score: f64) -> f64 {
        match self {
            Calibration::Platt { a, b } => sigmoid(a * score + b),
            Calibration::Isotonic { starts, values } => {
                // The last block starting at or below the score; scores
                // below the first block take its value.
                let i = starts.partition_point(|&s| s <= score).saturating_sub(1);
                values.get(i).copied().unwrap_or(0.5)
            }
        }
    }
}

pub fn sigmoid(v: f64) -> f64 {
    if v >= 0.0 {
        1.0 / (1.0 + (-v).exp())
    } else {
        let e = v.exp();
        e / (1.0 + e)
    }
}

fn platt(scores: &[f64], labels: &[bool]) -> Calibration {
    let positives = labels.iter().filter(|&&y| y).count() as f64;
    let negatives = labels.len() as f64 - positives;
    let hi = (positives + 1.0) / (positives + 2.0);
    let lo = 1.0 / (negatives + 2.0);
    let targets: Vec<f64> = labels.iter().map(|&y| if y { hi } else { lo }).collect();
    let (mut a, mut b) = (1.0, ((positives + 1.0) / (negatives + 1.0)).ln());
    for _ in 0..100 {
        // Gradient and Hessian of the log-loss in (a, b).
        let (mut ga, mut gb, mut haa, mut hab, mut hbb) = (0.0, 0.0, 0.0, 0.0, 0.0);
        for (&s, &t) in scores.iter().zip(&targets) {
            let p = sigmoid(a * s + b);
            let d = p - t;
            let w = (p * (1.0 - p)).max(1e-12);
            ga += d * s;
            gb += d;
            haa += w * s * s;
            hab += w * s;
            hbb += w;
        }
        // A small ridge keeps the step defined when all scores coincide.
        haa += 1e-9;
        hbb += 1e-9;
        let det = haa * hbb - hab * hab;
        if det.abs() < 1e-300 {
            break;
        }
        let da = (hbb * ga - hab * gb) / det;
        let db = (haa * gb - hab * ga) / det;
        a -= da;
        b -= db;
        if da.abs() < 1e-10 && db.abs() < 1e-10 {
            break;
        }
    }
    Calibration::Platt { a, b }
}

fn isotonic(scores: &[f64], labels: &[bool]) -> Calibration {
    let mut order: Vec<usize> = (0..scores.len()).collect();
    order.sort_by(|&i, &j| scores[i].total_cmp(&scores[j]));
    // Blocks as (start score, sum of labels, count); equal scores are pooled
    // first so a block never splits a tie.
    let mut blocks: Vec<(f64, f64, f64)> = Vec::new();
    for &i in &order {
        let y = if labels[i] { 1.0 } else { 0.0 };
        match blocks.last_mut() {
            Some(last) if last.0 == scores[i] => {
                last.1 += y;
                last.2 += 1.0;
            }
            _ => blocks.push((scores[i], y, 1.0)),
        }
        // Pool while the last block's mean is not above its predecessor's
        // (equal neighbours merge too, which keeps the step function small).
        while blocks.len() >= 2 {
            let n = blocks.len();
            let (prev, last) = (blocks[n - 2], blocks[n - 1]);
            if prev.1 / prev.2 < last.1 / last.2 {
                break;
            }
            blocks[n - 2] = (prev.0, prev.1 + last.1, prev.2 + last.2);
            blocks.pop();
        }
    }
    Calibration::Isotonic {
        starts: blocks.iter().map(|b| b.0).collect(),
        values: blocks.iter().map(|b| b.1 / b.2).collect(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn isotonic_pools_violators_into_monotone_steps() {
        // Labels by score: 0, 1, 0, 1, 1 -> blocks {0}, {1, 0} pooled to 0.5, {1, 1}.
        let scores = [1.0, 2.0, 3.0, 4.0, 5.0];
        let labels = [false, true, false, true, true];
        let c = Calibration::fit(CalibrationMethod::Isotonic, &scores, &labels);
        assert_eq!(c, Calibration::Isotonic { starts: vec![1.0, 2.0, 4.0], values: vec![0.0, 0.5, 1.0] });
        assert_eq!(c.probability(0.0), 0.0);
        assert_eq!(c.probability(2.5), 0.5);
        assert_eq!(c.probability(3.99), 0.5);
        assert_eq!(c.probability(9.0), 1.0);
    }

    #[test]
    fn platt_recovers_a_logistic_relation() {
        // Deterministic sample with P(y | s) = sigmoid(2 s - 1): at each s,
        // round(1000 p) positives out of 1000.
        let (mut scores, mut labels) = (Vec::new(), Vec::new());
        for k in -20..=20 {
            let s = f64::from(k) / 10.0;
            let positives = (1000.0 * sigmoid(2.0 * s - 1.0)).round() as usize;
            for i in 0..1000 {
                scores.push(s);
                labels.push(i < positives);
            }
        }
        let Calibration::Platt { a, b } = Calibration::fit(CalibrationMethod::Platt, &scores, &labels) else {
            panic!("not platt")
        };
        assert!((a - 2.0).abs() < 0.01 && (b + 1.0).abs() < 0.01, "a = {a}, b = {b}");
    }
}
