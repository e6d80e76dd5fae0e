//! 2F1 against closed forms, computed independently with std's elementary
//! functions, covering the direct series (z <= 0.8), the 1 - z
//! transformation, its integer-m (logarithmic) cases and large c.
//!
//! Tolerances: 1e-12 relative in general. Where c - a - b is an integer the
//! transformation is interpolated from nodes near the integer, where its two
//! terms cancel; statrs' ln_gamma (relative error up to ~3e-14) then limits
//! the accuracy to ~2e-10, hence 1e-9 there.

use patron_churn::btyd::hyp2f1::hyp2f1;
use statrs::function::gamma::gamma;

/// Tolerance where c - a - b is an integer (see the module docs).
const INTEGER_M: f64 = 1e-9;

const ZS: [f64; 12] = [0.0, 0.05, 0.3, 0.5, 0.79, 0.8, 0.81, 0.9, 0.95, 0.99, 0.9999, 1.0 - 1e-9];

fn check(a: f64, b: f64, c: f64, z: f64, expected: f64, tol: f64) {
    let got = hyp2f1(a, b, c, z).unwrap_or_else(|e| panic!("2F1({a}, {b}; {c}; {z}): {e}"));
    let err = ((got - expected) / expected).abs();
    assert!(err <= tol, "2F1({a}, {b}; {c}; {z}) = {got}, expected {expected} (rel. error {err:e})");
}

#[test]
fn log_case_m_zero() {
    // 2F1(1, 1; 2; z) = -ln(1 - z) / z; c - a - b = 0.
    for z in ZS.into_iter().filter(|&z| z > 0.0) {
        check(1.0, 1.0, 2.0, z, -(-z).ln_1p() / z, INTEGER_M);
    }
}

#[test]
fn log_case_m_one() {
    // 2F1(1, 1; 3; z) = 2 ((1 - z) ln(1 - z) + z) / z^2; c - a - b = 1.
    for z in ZS.into_iter().filter(|&z| z > 0.01) {
        let expected = 2.0 * ((1.0 - z) * (-z).ln_1p() + z) / (z * z);
        check(1.0, 1.0, 3.0, z, expected, INTEGER_M);
    }
}

#[test]
fn binomial_case() {
    // 2F1(a, b; b; z) = (1 - z)^-a, for non-integer and integer m = -a, and
    // small and large b.
    for &(a, b) in &[(0.7f64, 1.3f64), (2.0, 0.5), (1.0, 3.0), (0.25, 40.0), (1.5, 10_000.0), (-0.3, 2.2)] {
        for z in ZS {
            let tol = if a == a.round() { INTEGER_M } else { 1e-12 };
            check(a, b, b, z, (1.0 - z).powf(-a), tol);
        }
    }
}

#[test]
fn arcsin_and_atanh() {
    // 2F1(1/2, 1/2; 3/2; s^2) = asin(s)/s (m = 1/2);
    // 2F1(1/2, 1; 3/2; s^2) = atanh(s)/s (m = 0).
    for z in ZS.into_iter().filter(|&z| z > 0.0) {
        let s = z.sqrt();
        // asin(s) as atan2(s, sqrt(1 - s^2)): well conditioned as s -> 1.
        check(0.5, 0.5, 1.5, z, s.atan2((1.0 - z).sqrt()) / s, 1e-12);
        // atanh(s) = ln(1 + s) - ln(1 - z) / 2: well conditioned as s -> 1.
        check(0.5, 1.0, 1.5, z, (s.ln_1p() - 0.5 * (1.0 - z).ln()) / s, INTEGER_M);
    }
}

#[test]
fn trigonometric_case() {
    // 2F1(a, 1 - a; 3/2; sin^2 x) = sin((2a - 1) x) / ((2a - 1) sin x).
    for &a in &[0.3f64, 0.05, 1.7] {
        for &x in &[0.2f64, 1.0, 1.3, 1.5, 1.57] {
            let z = x.sin().powi(2);
            let expected = ((2.0 * a - 1.0) * x).sin() / ((2.0 * a - 1.0) * x.sin());
            check(a, 1.0 - a, 1.5, z, expected, 1e-12);
        }
    }
}

#[test]
fn gauss_sum_at_one() {
    // 2F1(a, b; c; 1) = G(c) G(c-a-b) / (G(c-a) G(c-b)) when c - a - b > 0;
    // at z = 1 - 1e-12 the difference is O((1-z)^(c-a-b)).
    for &(a, b, c) in &[(0.3, 0.4, 2.1), (1.2, -0.4, 3.0), (2.5, 1.5, 7.3)] {
        let expected = gamma(c) * gamma(c - a - b) / (gamma(c - a) * gamma(c - b));
        check(a, b, c, 1.0 - 1e-12, expected, 1e-10);
    }
}

#[test]
fn terminating_series() {
    // 2F1(-3, 2; 5; z) = 1 - 6/5 z + 3/5 z^2 - 2/15 z^3 ... computed by hand:
    // sum_n (-3)_n (2)_n / ((5)_n n!) z^n.
    for z in ZS {
        let expected = 1.0 - 1.2 * z + 0.6 * z * z - (4.0 / 35.0) * z.powi(3);
        check(-3.0, 2.0, 5.0, z, expected, 1e-13);
    }
}

#[test]
fn rejects_arguments_outside_the_domain() {
    assert!(hyp2f1(1.0, 1.0, 2.0, 1.0).is_err());
    assert!(hyp2f1(1.0, 1.0, 2.0, -0.1).is_err());
    assert!(hyp2f1(1.0, 1.0, -2.0, 0.5).is_err());
    assert!(hyp2f1(f64::NAN, 1.0, 2.0, 0.5).is_err());
}
