//! CLV as churn.proto defines it, recomputed term by term from the public
//! per-horizon predictions.

use patron_churn::btyd::{ClvConfig, CustomerRow, GammaGammaParams, Scorer, clv};

fn models() -> (patron_churn::btyd::BgNbdParams, GammaGammaParams) {
    (
        patron_churn::btyd::BgNbdParams::new(0.243, 4.414, 0.793, 2.426).unwrap(),
        GammaGammaParams::new(6.25, 3.74, 15.44).unwrap(),
    )
}

/// E[M] * sum_{k=1..ceil(H)} (E[Y(t_k)] - E[Y(t_{k-1})]) / (1+d)^(t_k u / 365.25).
fn by_definition(row: &CustomerRow, h: f64, d: f64, u: f64) -> f64 {
    let (bg, gg) = models();
    let mut previous = 0.0;
    let mut total = 0.0;
    for k in 1..=(h.ceil() as usize) {
        let t = (k as f64).min(h);
        let e = bg.expected_purchases(&row.rfm, t).unwrap();
        total += (e - previous) / (1.0 + d).powf(t * u / 365.25);
        previous = e;
    }
    gg.expected_order_value(row).unwrap() * total
}

#[test]
fn matches_the_definition() {
    let (bg, gg) = models();
    let rows = [
        CustomerRow::new(2.0, 30.43, 38.86, 22.35),
        CustomerRow::new(0.0, 0.0, 38.86, 0.0),
        CustomerRow::new(0.0, 0.0, 0.0, 0.0),
        CustomerRow::new(15.0, 38.0, 38.5, 40.0),
    ];
    // Weekly (u = 7) and daily (u = 1), whole and partial horizons.
    for &(h, d, u) in &[(52.0, 0.1, 7.0), (52.18, 0.1, 7.0), (0.4, 0.05, 7.0), (365.0, 0.1, 1.0), (10.0, 0.0, 7.0)] {
        let config = ClvConfig::new(h, d, u).unwrap();
        for row in &rows {
            let got = clv::clv(&bg, &gg, row, &config).unwrap();
            let want = by_definition(row, h, d, u);
            assert!((got.clv - want).abs() <= 1e-10 * want, "H={h} d={d} {row:?}: {} vs {want}", got.clv);
            let e_h = bg.expected_purchases(&row.rfm, h).unwrap();
            assert!((got.expected_purchases - e_h).abs() <= 1e-12 * e_h);
        }
    }
}

#[test]
fn zero_rate_is_undiscounted_and_discounting_lowers_value() {
    let (bg, gg) = models();
    let row = CustomerRow::new(2.0, 30.43, 38.86, 22.35);
    let flat = clv::clv(&bg, &gg, &row, &ClvConfig::new(52.0, 0.0, 7.0).unwrap()).unwrap();
    let eov = gg.expected_order_value(&row).unwrap();
    assert!((flat.clv - eov * flat.expected_purchases).abs() < 1e-12 * flat.clv);
    let discounted = clv::clv(&bg, &gg, &row, &ClvConfig::new(52.0, 0.1, 7.0).unwrap()).unwrap();
    assert!(discounted.clv < flat.clv);
    // E[M | x = 2, m_x = 22.35] = p (gamma + x m_x) / (p x + q - 1).
    assert!((eov - 6.25 * (15.44 + 2.0 * 22.35) / (6.25 * 2.0 + 2.74)).abs() < 1e-12);
}

#[test]
fn scoring_in_parallel_equals_scoring_one_by_one() {
    let (bg, gg) = models();
    let scorer = Scorer::new(bg, gg, ClvConfig::new(52.0, 0.1, 7.0).unwrap());
    let rows = crate::common::cdnow();
    let all = scorer.score_all(&rows);
    for (row, score) in rows.iter().zip(&all) {
        assert_eq!(score.as_ref().unwrap(), &scorer.score(row).unwrap());
    }
}
