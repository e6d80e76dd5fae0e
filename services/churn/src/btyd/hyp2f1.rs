//! The Gauss hypergeometric function 2F1(a, b; c; z) for real parameters and
//! 0 <= z < 1, the range BG/NBD's conditional expectation (FHL 2005, eq. 10)
//! needs.
//!
//! - z <= 0.8: the Gauss series, summed term by term until the remaining
//!   tail (bounded by the geometric tail of the current term ratio) is below
//!   machine precision.
//! - z > 0.8: the series converges slowly (like z^n), so unless c is large
//!   enough for it to converge fast anyway, the linear transformation to
//!   1 - z (Abramowitz & Stegun 15.3.6) is used, whose two series converge
//!   like (1 - z)^n. It is singular when m = c - a - b is an integer (the
//!   logarithmic cases 15.3.10-12); near those, the function is smooth in c,
//!   so it is interpolated (cubic Lagrange) from four values of c with m at
//!   a safe distance from the integer. Accuracy: ~1e-13 relative in general,
//!   ~1e-10 where c - a - b is within 1e-3 of an integer. If the two terms cancel badly, the
//!   direct series is summed to the end instead (slow, but exact).

use statrs::function::gamma::ln_gamma;
use thiserror::Error;

/// Why 2F1 could not be evaluated.
#[derive(Debug, Clone, PartialEq, Error)]
pub enum Hyp2f1Error {
    #[error("2F1 argument out of the supported domain: {0}")]
    Domain(&'static str),
    #[error("2F1 series did not converge")]
    NotConverged,
}

/// Above this, z is "near 1" and the transformation is used.
const Z_SERIES: f64 = 0.8;
/// Term cap of the series for z <= `Z_SERIES` (converges like 0.8^n).
const SERIES_TERMS: usize = 20_000;
/// Term cap of the last-resort series for z near 1.
const LONG_SERIES_TERMS: usize = 5_000_000;
/// m closer than this to an integer is interpolated (for 1 - z >= 0.018;
/// closer to 1 the band narrows, see `NearOne::eval`). The generic formula
/// loses about 3e-14 / distance (statrs' ln_gamma is accurate to ~3e-14),
/// so ~3e-11 at the edge of the band.
const NEAR_INTEGER: f64 = 1e-3;
/// The transformation is trusted while |term1| + |term2| <= this * |sum|.
const MAX_CANCELLATION: f64 = 1e5;

/// 2F1(a, b; c; z) for 0 <= z < 1. c must not be 0 or a negative integer.
///
/// ```
/// // 2F1(1, 1; 2; z) = -ln(1 - z) / z
/// let z = 0.9;
/// let f = patron_churn::btyd::hyp2f1::hyp2f1(1.0, 1.0, 2.0, z).unwrap();
/// assert!((f - (-(1.0f64 - z).ln() / z)).abs() < 1e-9);
/// ```
pub fn hyp2f1(a: f64, b: f64, c: f64, z: f64) -> Result<f64, Hyp2f1Error> {
    Hyp2f1::new(a, b, c)?.eval(z, 1.0 - z)
}

/// 2F1 with fixed parameters, evaluated at many z: everything that depends
/// only on (a, b, c) (the gamma-function prefactors of the transformation)
/// is computed once.
#[derive(Debug, Clone)]
pub(crate) struct Hyp2f1 {
    a: f64,
    b: f64,
    c: f64,
    /// The series terminates (a or b a non-positive integer).
    polynomial: bool,
    /// The series converges fast even at z -> 1 (large c).
    fast_series: bool,
    near_one: NearOne,
}

/// The 1 - z transformation for fixed (a, b, c).
#[derive(Debug, Clone)]
struct NearOne {
    m: f64,
    /// The nearest integer to m.
    n: f64,
    /// The transformation at the true m (unused when m is an integer).
    exact: Transform,
    /// Transformations at m_j = n + j * NEAR_INTEGER (j = -2, -1, 1, 2), for
    /// interpolation when m is within NEAR_INTEGER of n; built only then.
    nodes: Option<Vec<(f64, Transform)>>,
}

impl NearOne {
    fn new(a: f64, b: f64, c: f64) -> Self {
        let m = c - a - b;
        let n = m.round();
        let nodes = ((m - n).abs() < NEAR_INTEGER).then(|| Self::nodes(a, b, n, NEAR_INTEGER));
        NearOne { m, n, exact: Transform::new(a, b, c), nodes }
    }

    fn nodes(a: f64, b: f64, n: f64, spacing: f64) -> Vec<(f64, Transform)> {
        [-2.0, -1.0, 1.0, 2.0]
            .iter()
            .map(|j| {
                let mj = n + j * spacing;
                (mj, Transform::new(a, b, a + b + mj))
            })
            .collect()
    }

    /// (value, |term 1| + |term 2|) at 1 - z = y.
    ///
    /// Near an integer n, F is smooth in m but contains y^m, so its
    /// derivatives in m grow like |ln y|^k: the interpolation spacing shrinks
    /// as 1/|ln y| (keeping the cubic's error ~ (spacing ln y)^4 / 6 ~ 4e-11),
    /// while the cancellation between the two terms grows as 1/spacing.
    fn eval(&self, y: f64) -> (f64, f64) {
        let spacing = NEAR_INTEGER * (4.0 / y.ln().abs()).min(1.0);
        if (self.m - self.n).abs() >= spacing {
            return self.exact.eval(y);
        }
        let (a, b) = (self.exact.a, self.exact.b);
        let built;
        let nodes = match &self.nodes {
            Some(nodes) if spacing == NEAR_INTEGER => nodes,
            _ => {
                built = Self::nodes(a, b, self.n, spacing);
                &built
            }
        };
        let mut value = 0.0;
        let mut spread = 0.0;
        for (j, (mj, t)) in nodes.iter().enumerate() {
            let (v, s) = t.eval(y);
            let w = lagrange_weight(nodes, j, self.m, *mj);
            value += w * v;
            spread += w.abs() * s;
        }
        (value, spread)
    }
}

impl Hyp2f1 {
    pub(crate) fn new(a: f64, b: f64, c: f64) -> Result<Self, Hyp2f1Error> {
        if !(a.is_finite() && b.is_finite() && c.is_finite()) {
            return Err(Hyp2f1Error::Domain("parameters must be finite"));
        }
        if is_non_positive_integer(c) {
            return Err(Hyp2f1Error::Domain("c must not be 0 or a negative integer"));
        }
        let polynomial = is_non_positive_integer(a) || is_non_positive_integer(b);
        Ok(Hyp2f1 { a, b, c, polynomial, fast_series: converges_fast(a, b, c), near_one: NearOne::new(a, b, c) })
    }

    /// 2F1 at z, with `one_minus_z` = 1 - z passed separately so callers can
    /// supply it without cancellation (e.g. alpha / (alpha + t)).
    pub(crate) fn eval(&self, z: f64, one_minus_z: f64) -> Result<f64, Hyp2f1Error> {
        if !((0.0..1.0).contains(&z) && one_minus_z > 0.0 && one_minus_z <= 1.0) {
            return Err(Hyp2f1Error::Domain("z must be in [0, 1)"));
        }
        if z == 0.0 {
            return Ok(1.0);
        }
        if self.polynomial {
            return series(self.a, self.b, self.c, z, LONG_SERIES_TERMS);
        }
        if z <= Z_SERIES || self.fast_series {
            return series(self.a, self.b, self.c, z, SERIES_TERMS);
        }
        let transformed = self.near_one.eval(one_minus_z);
        match transformed {
            (v, spread) if v.is_finite() && spread <= MAX_CANCELLATION * v.abs() => Ok(v),
            // Severe cancellation between the two terms: sum directly.
            _ => series(self.a, self.b, self.c, z, LONG_SERIES_TERMS),
        }
    }
}

/// The weight of node j in cubic Lagrange interpolation at m.
fn lagrange_weight(nodes: &[(f64, Transform)], j: usize, m: f64, mj: f64) -> f64 {
    nodes.iter().enumerate().filter(|&(i, _)| i != j).map(|(_, (mi, _))| (m - mi) / (mj - mi)).product()
}

/// The two gamma-function prefactors of A&S 15.3.6 for fixed (a, b, c):
/// 2F1(a,b;c;z) = G1 2F1(a,b;1-m;1-z) + G2 (1-z)^m 2F1(c-a,c-b;1+m;1-z),
/// G1 = G(c)G(m)/(G(c-a)G(c-b)), G2 = G(c)G(-m)/(G(a)G(b)), m = c - a - b,
/// both kept as (ln|G|, sign) so large parameters do not overflow.
#[derive(Debug, Clone)]
struct Transform {
    a: f64,
    b: f64,
    c: f64,
    m: f64,
    ln_g1: f64,
    sign_g1: f64,
    ln_g2: f64,
    sign_g2: f64,
}

impl Transform {
    fn new(a: f64, b: f64, c: f64) -> Self {
        let m = c - a - b;
        let (lc, sc) = ln_gamma_signed(c);
        let (lm, sm) = ln_gamma_signed(m);
        let (lnm, snm) = ln_gamma_signed(-m);
        let (lca, sca) = ln_gamma_signed(c - a);
        let (lcb, scb) = ln_gamma_signed(c - b);
        let (la, sa) = ln_gamma_signed(a);
        let (lb, sb) = ln_gamma_signed(b);
        // 1/Gamma is 0 at a pole (sign 0): that term vanishes.
        Transform {
            a,
            b,
            c,
            m,
            ln_g1: lc + lm - lca - lcb,
            sign_g1: sc * sm * sca * scb,
            ln_g2: lc + lnm - la - lb,
            sign_g2: sc * snm * sa * sb,
        }
    }

    /// (value, |term 1| + |term 2|) at 1 - z = y; NaN if a series fails.
    fn eval(&self, y: f64) -> (f64, f64) {
        let term = |sign: f64, ln_g: f64, a: f64, b: f64, c: f64, ln_power: f64| {
            if sign == 0.0 {
                return 0.0;
            }
            match series(a, b, c, y, SERIES_TERMS) {
                Ok(s) => sign * s.signum() * (ln_g + ln_power + s.abs().ln()).exp(),
                Err(_) => f64::NAN,
            }
        };
        let t1 = term(self.sign_g1, self.ln_g1, self.a, self.b, 1.0 - self.m, 0.0);
        let t2 = term(self.sign_g2, self.ln_g2, self.c - self.a, self.c - self.b, 1.0 + self.m, self.m * y.ln());
        (t1 + t2, t1.abs() + t2.abs())
    }
}

/// The Gauss series sum_n (a)_n (b)_n / ((c)_n n!) z^n for 0 <= z < 1.
///
/// Stops when the tail, bounded by term * rho / (1 - rho) with rho the
/// current term ratio (< 1), is below machine precision relative to the sum.
pub(crate) fn series(a: f64, b: f64, c: f64, z: f64, max_terms: usize) -> Result<f64, Hyp2f1Error> {
    let mut sum = 1.0f64;
    let mut term = 1.0f64;
    for n in 0..max_terms {
        let k = n as f64;
        let ratio = (a + k) * (b + k) / ((c + k) * (k + 1.0)) * z;
        term *= ratio;
        sum += term;
        if term == 0.0 {
            return Ok(sum);
        }
        let rho = ratio.abs();
        if rho < 1.0 && term.abs() * rho / (1.0 - rho) <= f64::EPSILON * 0.25 * sum.abs() {
            return Ok(sum);
        }
        if !sum.is_finite() {
            return Err(Hyp2f1Error::NotConverged);
        }
    }
    Err(Hyp2f1Error::NotConverged)
}

/// Whether the series converges within a few dozen terms for every z < 1:
/// the term bound at z = 1 has fallen below machine precision after 40
/// terms and is still falling fast (c large relative to a and b).
fn converges_fast(a: f64, b: f64, c: f64) -> bool {
    let mut bound = 1.0f64;
    let mut ratio = 1.0;
    for n in 0..40 {
        let k = n as f64;
        ratio = ((a + k) * (b + k) / ((c + k) * (k + 1.0))).abs();
        bound *= ratio;
    }
    bound < 1e-18 && ratio < 0.5
}

fn is_non_positive_integer(x: f64) -> bool {
    x <= 0.0 && x == x.floor()
}

/// (ln|Gamma(x)|, sign of Gamma(x)); sign 0 (and ln = +inf) at the poles
/// x = 0, -1, -2, ..., where 1/Gamma(x) = 0.
pub(crate) fn ln_gamma_signed(x: f64) -> (f64, f64) {
    if x > 0.0 {
        return (ln_gamma(x), 1.0);
    }
    if x == x.floor() {
        return (f64::INFINITY, 0.0);
    }
    // Reflection: Gamma(x) Gamma(1 - x) = pi / sin(pi x), with the argument
    // of sin reduced to [0, 2) first for accuracy.
    let s = (std::f64::consts::PI * x.rem_euclid(2.0)).sin();
    (std::f64::consts::PI.ln() - s.abs().ln() - ln_gamma(1.0 - x), s.signum())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn signed_ln_gamma_matches_known_values() {
        // Gamma(-0.5) = -2 sqrt(pi), Gamma(-1.5) = 4 sqrt(pi) / 3.
        let (l, s) = ln_gamma_signed(-0.5);
        assert_eq!(s, -1.0);
        assert!((l.exp() - 2.0 * std::f64::consts::PI.sqrt()).abs() < 1e-13);
        let (l, s) = ln_gamma_signed(-1.5);
        assert_eq!(s, 1.0);
        assert!((l.exp() - 4.0 * std::f64::consts::PI.sqrt() / 3.0).abs() < 1e-13);
        assert_eq!(ln_gamma_signed(-2.0).1, 0.0);
    }
}
