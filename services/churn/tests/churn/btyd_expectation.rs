//! Eq. 9 / eq. 10 against an independent computation: for fixed (lambda, p)
//! E[X(t)] = (1 - e^(-lambda p t)) / p, so E[X(t)] = E_p[(1 - (alpha/(alpha + p t))^r) / p]
//! with p ~ Beta(a, b), a one-dimensional integral done here by tanh-sinh
//! quadrature (no 2F1 involved). Covers the series (z <= 0.8) and the
//! transformation (z > 0.8), a = 1 and a + b = 1 (where eq. 9 is 0/0),
//! integer c - a - b and large x.

use std::f64::consts::PI;

use patron_churn::btyd::{BgNbdParams, Rfm};
use statrs::function::gamma::ln_gamma;

/// E_p[(1 - (alpha/(alpha+pt))^r)/p], p ~ Beta(a, b), by tanh-sinh quadrature.
fn by_quadrature(r: f64, alpha: f64, a: f64, b: f64, t: f64) -> f64 {
    let ln_beta = ln_gamma(a) + ln_gamma(b) - ln_gamma(a + b);
    let h = 1.0 / 256.0;
    let mut sum = 0.0;
    for k in -1792..=1792 {
        let u = f64::from(k) * h;
        let v = 0.5 * PI * u.sinh();
        // p = (1 + tanh v)/2 and 1 - p, each without cancellation.
        let ln_p = -(-2.0 * v).exp().ln_1p();
        let ln_q = -(2.0 * v).exp().ln_1p();
        let p = ln_p.exp();
        if p == 0.0 || ln_q == f64::NEG_INFINITY {
            continue;
        }
        let f = -(-r * (p * t / alpha).ln_1p()).exp_m1() / p;
        // Beta density times dp/du = 2 p (1-p) (pi/2) cosh u.
        sum += f * (a * ln_p + b * ln_q - ln_beta).exp() * PI * u.cosh();
    }
    sum * h
}

fn close(got: f64, expected: f64, what: &str) {
    close_to(got, expected, 1e-9, what);
}

fn close_to(got: f64, expected: f64, tol: f64, what: &str) {
    let err = ((got - expected) / expected).abs();
    assert!(err < tol, "{what}: {got} vs quadrature {expected} (rel. error {err:e})");
}

#[test]
fn new_customer_matches_quadrature() {
    let cases = [
        (0.243, 4.414, 0.793, 2.426), // CDNOW
        (0.5, 8.0, 0.6, 2.5),
        (2.0, 1.0, 1.0, 3.0),    // a = 1
        (2.3, 1.0, 1.0005, 3.0), // a near 1
        (0.7, 2.0, 0.4, 0.6),    // a + b = 1
        (0.7, 2.0, 0.4, 0.6003), // a + b near 1
        (0.5, 3.0, 0.5, 1.5),    // c - a - b = r + 1 - a = 1, an integer
        (1.3, 0.5, 3.5, 40.0),   // a > 1, large b
        (0.05, 20.0, 0.05, 0.2), // tiny r, a, b
    ];
    for &(r, alpha, a, b) in &cases {
        let p = BgNbdParams::new(r, alpha, a, b).unwrap();
        // z = t/(alpha+t) from 0.09 through 0.8 to 1 - 1e-5.
        for &ratio in &[0.1, 1.0, 3.9, 4.1, 20.0, 1e3, 1e5] {
            let t = ratio * alpha;
            let got = p.expected_purchases_new_customer(t).unwrap();
            close(got, by_quadrature(r, alpha, a, b, t), &format!("{p:?} t = {t}"));
        }
    }
}

#[test]
fn doubly_degenerate_corner_is_accurate_to_1e_7() {
    // a within 2e-3 of 1 and c - a - b = r + 1 - a within 1e-3 of an integer,
    // with z near 1: 2F1's ~1e-10 near an integer m is amplified by
    // 1/((a-1) ln(1-z)) in 1 - y^e F. Relative error ~2e-8 at worst.
    let (r, alpha, a, b) = (2.0, 1.0, 1.0005, 3.0);
    let p = BgNbdParams::new(r, alpha, a, b).unwrap();
    for &t in &[0.1, 4.1, 1e3, 1e5] {
        let got = p.expected_purchases_new_customer(t).unwrap();
        close_to(got, by_quadrature(r, alpha, a, b, t), 1e-7, &format!("t = {t}"));
    }
}

#[test]
fn conditional_expectation_matches_quadrature() {
    // E[Y(t) | x, t_x, T] = P(alive) E[X(t); r+x, alpha+T, a, b+x].
    let p = BgNbdParams::new(0.243, 4.414, 0.793, 2.426).unwrap();
    for &(x, t_x, age) in &[(2.0, 30.43, 38.86), (0.0, 0.0, 10.0), (50.0, 70.0, 70.0), (10_000.0, 9.0, 10.0)] {
        let rfm = Rfm::new(x, t_x, age);
        let alive = p.p_alive(&rfm).unwrap();
        for &t in &[1.0, 39.0, 500.0, 1e5] {
            let got = p.expected_purchases(&rfm, t).unwrap();
            let expected = alive * by_quadrature(p.r + x, p.alpha + age, p.a, p.b + x, t);
            close(got, expected, &format!("{rfm:?} t = {t}"));
        }
    }
}

#[test]
fn quadrature_reproduces_the_published_value() {
    // Guards the reference itself: FHL 2005 report E[X(78)] = 1.858.
    let e = by_quadrature(0.2426, 4.4135, 0.7930, 2.4259, 78.0);
    assert!((e - 1.858).abs() < 1e-3, "{e}");
}
