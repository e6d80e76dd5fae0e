//! Property tests on extreme inputs: x up to 10,000, t_x = T, T down to
//! 1e-6, t_x = 0 with x = 0, horizons from 1e-3 to 1e4, and parameters over
//! several orders of magnitude.

use patron_churn::btyd::{BgNbdParams, ClvConfig, CustomerRow, GammaGammaParams, Rfm, Scorer};
use proptest::prelude::*;

fn params() -> impl Strategy<Value = BgNbdParams> {
    prop_oneof![
        Just(BgNbdParams::new(0.243, 4.414, 0.793, 2.426).unwrap()),
        (-2.0..1.3f64, -2.0..2.7f64, -2.0..1.3f64, -2.0..2.3f64).prop_map(|(r, alpha, a, b)| {
            BgNbdParams::new(10f64.powf(r), 10f64.powf(alpha), 10f64.powf(a), 10f64.powf(b)).unwrap()
        }),
    ]
}

fn history() -> impl Strategy<Value = Rfm> {
    let x = prop_oneof![Just(0u32), 1..20u32, 9_990..=10_000u32, 0..=10_000u32];
    let age = prop_oneof![Just(1e-6), (-6.0..4.0f64).prop_map(|e| 10f64.powf(e))];
    let recency_share = prop_oneof![Just(1.0), Just(0.0), 0.0..=1.0f64];
    (x, age, recency_share).prop_map(|(x, age, share)| {
        let x = f64::from(x);
        // t_x = 0 when x = 0; otherwise a share of T (t_x = T included).
        let recency = if x == 0.0 { 0.0 } else { (share * age).min(age) };
        Rfm::new(x, recency, age)
    })
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(400))]

    #[test]
    fn predictions_are_probabilities_and_monotone(
        p in params(),
        rfm in history(),
        h in (-3.0..4.0f64).prop_map(|e| 10f64.powf(e)),
        growth in prop_oneof![Just(1.001), 1.0..10.0f64],
    ) {
        let alive = p.p_alive(&rfm).unwrap();
        prop_assert!(alive.is_finite() && (0.0..=1.0).contains(&alive), "P(alive) = {alive}");

        let e1 = p.expected_purchases(&rfm, h).unwrap();
        let e2 = p.expected_purchases(&rfm, h * growth).unwrap();
        prop_assert!(e1.is_finite() && e2.is_finite(), "{e1} {e2}");
        prop_assert!(e1 >= 0.0, "E[Y({h})] = {e1}");
        // Non-decreasing in the horizon (up to rounding).
        prop_assert!(e2 >= e1 * (1.0 - 1e-9), "E[Y({h})] = {e1} > E[Y({})] = {e2}", h * growth);

        let none = p.p_no_purchase(&rfm, h).unwrap();
        prop_assert!(none.is_finite() && (0.0..=1.0).contains(&none), "P(no purchase) = {none}");
        let none2 = p.p_no_purchase(&rfm, h * growth).unwrap();
        prop_assert!(none2 <= none + 1e-12);

        let next = p.next_purchase(&rfm).unwrap();
        prop_assert!(!next.median_wait.is_nan() && next.median_wait >= 0.0);
        prop_assert_eq!(next.probability, alive);
    }

    #[test]
    fn scores_are_finite(
        p in params(),
        rfm in history(),
        m in 0.01..1e6f64,
        h in 0.01..200.0f64,
        d in 0.0..0.99f64,
    ) {
        let gg = GammaGammaParams::new(6.25, 3.74, 15.44).unwrap();
        let scorer = Scorer::new(p, gg, ClvConfig::new(h, d, 7.0).unwrap());
        let s = scorer.score(&CustomerRow { rfm, monetary_value: m }).unwrap();
        for v in [s.p_alive, s.expected_purchases, s.p_no_purchase, s.expected_order_value, s.clv] {
            prop_assert!(v.is_finite() && v >= 0.0, "{s:?}");
        }
        // Discounting never adds value: CLV <= E[M] E[Y(H)].
        prop_assert!(s.clv <= s.expected_order_value * s.expected_purchases * (1.0 + 1e-9) + 1e-12);
    }
}
