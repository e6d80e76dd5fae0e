//! The classic RFM-quartile baseline: recency, frequency and monetary each
//! scored 1..4 against quartile cut points fitted on the training customers,
//! and the score triple mapped to a named segment.

use serde::{Deserialize, Serialize};

pub const RECENCY_FEATURE: &str = "recency_days";
pub const FREQUENCY_FEATURE: &str = "orders";
pub const MONETARY_FEATURE: &str = "monetary";

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RfmCutPoints {
    pub recency: [f64; 3],
    pub frequency: [f64; 3],
    pub monetary: [f64; 3],
}

/// A customer's three scores, 4 being best.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RfmScore {
    pub recency: i32,
    pub frequency: i32,
    pub monetary: i32,
}

/// The baseline segments, in the order they are checked.
pub const RFM_SEGMENTS: &[(&str, &str, &str)] = &[
    ("rfm-champions", "Champions", "bought recently, buy often and spend the most (RFM)"),
    ("rfm-loyal", "Loyal", "recent and frequent, good spend (RFM)"),
    ("rfm-new", "New", "recent first purchases (RFM)"),
    ("rfm-potential-loyalists", "Potential loyalists", "recent, average frequency and spend (RFM)"),
    ("rfm-at-risk", "At risk", "frequent, big spenders who have not bought lately (RFM)"),
    ("rfm-needs-attention", "Needs attention", "middling recency, frequency and spend (RFM)"),
    ("rfm-hibernating", "Hibernating", "lapsing, low frequency and spend (RFM)"),
    ("rfm-lost", "Lost", "lowest recency, frequency and spend (RFM)"),
];

/// Linear-interpolated quantile of sorted values (type 7, as numpy's default).
fn quantile(sorted: &[f64], q: f64) -> f64 {
    if sorted.is_empty() {
        return 0.0;
    }
    let position = q * (sorted.len() - 1) as f64;
    let lower = position.floor() as usize;
    let upper = position.ceil() as usize;
    sorted[lower] + (sorted[upper] - sorted[lower]) * (position - lower as f64)
}

fn quartiles(values: &[f64]) -> [f64; 3] {
    let mut sorted = values.to_vec();
    sorted.sort_by(f64::total_cmp);
    [quantile(&sorted, 0.25), quantile(&sorted, 0.5), quantile(&sorted, 0.75)]
}

fn exceeded(value: f64, cuts: &[f64; 3]) -> i32 {
    cuts.iter().filter(|&&cut| value > cut).count() as i32
}

impl RfmCutPoints {
    pub fn fit(recency: &[f64], frequency: &[f64], monetary: &[f64]) -> Self {
        Self { recency: quartiles(recency), frequency: quartiles(frequency), monetary: quartiles(monetary) }
    }

    /// Frequency and monetary: 1 + cut points exceeded; recency (days since
    /// the last purchase, lower is better): 4 − cut points exceeded.
    pub fn score(&self, recency_days: f64, orders: f64, monetary: f64) -> RfmScore {
        RfmScore {
            recency: 4 - exceeded(recency_days, &self.recency),
            frequency: 1 + exceeded(orders, &self.frequency),
            monetary: 1 + exceeded(monetary, &self.monetary),
        }
    }
}

impl RfmScore {
    /// Index into [`RFM_SEGMENTS`].
    pub fn segment(&self) -> usize {
        let (r, f, value) = (self.recency, self.frequency, self.frequency + self.monetary);
        if r == 4 && value >= 7 {
            0
        } else if r >= 3 && value >= 6 {
            1
        } else if r == 4 && f == 1 {
            2
        } else if r >= 3 && value >= 4 {
            3
        } else if r <= 2 && value >= 6 {
            4
        } else if r >= 3 {
            5
        } else if r == 2 {
            6
        } else {
            7
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quartile_scores_follow_the_documented_rule() {
        let values: Vec<f64> = (1..=9).map(f64::from).collect();
        let cuts = RfmCutPoints::fit(&values, &values, &values);
        assert_eq!(cuts.recency, [3.0, 5.0, 7.0]);
        assert_eq!(cuts.score(1.0, 9.0, 9.0), RfmScore { recency: 4, frequency: 4, monetary: 4 });
        assert_eq!(cuts.score(9.0, 1.0, 3.0), RfmScore { recency: 1, frequency: 1, monetary: 1 });
        assert_eq!(cuts.score(5.0, 5.0, 5.5), RfmScore { recency: 3, frequency: 2, monetary: 3 });
        assert_eq!(RFM_SEGMENTS[cuts.score(1.0, 9.0, 9.0).segment()].1, "Champions");
        assert_eq!(RFM_SEGMENTS[cuts.score(9.0, 1.0, 1.0).segment()].1, "Lost");
        assert_eq!(RFM_SEGMENTS[cuts.score(8.0, 9.0, 9.0).segment()].1, "At risk");
    }
}
