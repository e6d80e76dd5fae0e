//! E[X(t)], the expected number of purchases by time t of a customer who is
//! alive at time 0 (FHL 2005, eq. 9), for many t at once.
//!
//! Eq. 10 (the conditional expectation given a history) is the same
//! function: given alive at T after x repeat purchases, the purchase rate is
//! Gamma(r + x, alpha + T) and the dropout probability Beta(a, b + x), and the
//! future is a fresh BG/NBD process with those parameters, so
//! E[Y(t) | x, t_x, T] = P(alive) * E[X(t); r + x, alpha + T, a, b + x].
//!
//! Eq. 9 reads E[X(t)] = (a+b-1)/(a-1) [1 - (alpha/(alpha+t))^r 2F1(r, b; a+b-1; z)]
//! with z = t / (alpha + t). It is singular at a = 1 and a + b = 1 and
//! cancels badly near them, so it is rewritten. With C = a+b-1, e = a-1,
//! A = C - r, y = 1 - z = alpha/(alpha+t), Euler's transformation gives
//! y^r 2F1(r, b; C; z) = y^e 2F1(A, e; C; z), and since (e)_n = e (e+1)_{n-1},
//!
//!   E[X(t)] = C (1 - y^e) / e - y^e S(z),
//!   S(z) = sum_{n>=1} (A)_n (e+1)_{n-1} / ((C+1)_{n-1} n!) z^n,
//!
//! where (1 - y^e)/e = -expm1(e ln y)/e -> -ln y as e -> 0, and C + 1 = a + b > 0
//! keeps every denominator positive. For z <= 0.8, S is summed for all t
//! together (the coefficients are shared). For z > 0.8, eq. 9 itself is used
//! with the transformed 2F1 of [`crate::btyd::hyp2f1`], interpolating in a (or b)
//! across the removable singularities e = 0 (C = 0).

use crate::btyd::hyp2f1::{Hyp2f1, Hyp2f1Error};

/// The parameters of a BG/NBD purchase process started alive at time 0.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Process {
    pub r: f64,
    pub alpha: f64,
    pub a: f64,
    pub b: f64,
}

/// Above this z the series S converges too slowly; see the module docs.
const Z_SERIES: f64 = 0.8;
const MAX_TERMS: usize = 20_000;
/// |e| or |C| below twice this may be interpolated across (the far formula
/// divides by e and 2F1 has c = C); see `singular`.
const NEAR_SINGULAR: f64 = 1e-3;

/// Reusable buffers, so scoring does not allocate per customer.
#[derive(Debug, Default)]
pub(crate) struct Workspace {
    z: Vec<f64>,
    term: Vec<f64>,
    sum: Vec<f64>,
}

/// Writes E[X(t)] (eq. 9) for each t of `ts` (ascending, each > 0) to `out`.
pub(crate) fn expected_count(p: &Process, ts: &[f64], out: &mut [f64], ws: &mut Workspace) -> Result<(), Hyp2f1Error> {
    debug_assert!(ts.windows(2).all(|w| w[0] <= w[1]));
    let c = p.a + p.b - 1.0;
    let e = p.a - 1.0;
    let big_a = c - p.r;
    // Points with z = t/(alpha+t) <= Z_SERIES come first (ts ascending).
    let near = ts.partition_point(|&t| t / (p.alpha + t) <= Z_SERIES);
    let (ts_near, ts_far) = ts.split_at(near);

    ws.z.clear();
    ws.z.extend(ts_near.iter().map(|&t| t / (p.alpha + t)));
    series_s(big_a, e, c, ws)?;
    let ln_alpha = p.alpha.ln();
    for (i, &t) in ts_near.iter().enumerate() {
        // -ln y = ln(1 + t/alpha): log1p where it matters for accuracy, the
        // cheaper difference of logs elsewhere (rel. error < 1e-15 there).
        let u = t / p.alpha;
        let l = if u < 0.25 { u.ln_1p() } else { (p.alpha + t).ln() - ln_alpha };
        let (y_e, one_minus_y_e_over_e) = pow_terms(e, l);
        out[i] = c * one_minus_y_e_over_e - y_e * ws.sum[i];
    }

    if !ts_far.is_empty() {
        let far = Far::new(p.r, p.a, p.b)?;
        for (i, &t) in ts_far.iter().enumerate() {
            let z = t / (p.alpha + t);
            let y = p.alpha / (p.alpha + t);
            out[near + i] = far.eval(z, y)?;
        }
    }
    Ok(())
}

/// (y^e, (1 - y^e)/e) given l = -ln y, with the limit (1, l) at e = 0:
/// expm1 where 1 - y^e would cancel, a plain exp elsewhere (cheaper, and
/// accurate once |e l| >= 0.1).
fn pow_terms(e: f64, l: f64) -> (f64, f64) {
    let el = e * l;
    if el.abs() < 0.1 {
        let em = (-el).exp_m1();
        (1.0 + em, if e == 0.0 { l } else { -em / e })
    } else {
        let y_e = (-el).exp();
        (y_e, (1.0 - y_e) / e)
    }
}

/// S(z_k) for every z_k of `ws.z` into `ws.sum`, sharing the coefficient
/// recurrence s_1 = A, s_{n+1} = s_n (A+n)(e+n) / ((C+n)(n+1)). The z_k
/// ascend, so the terms of the first ones become negligible first and drop
/// out.
fn series_s(big_a: f64, e: f64, c: f64, ws: &mut Workspace) -> Result<(), Hyp2f1Error> {
    let Workspace { z, term, sum } = ws;
    let k = z.len();
    term.clear();
    sum.clear();
    term.extend(z.iter().map(|&z| big_a * z));
    sum.extend_from_slice(term);
    let mut lo = 0;
    let mut n = 1.0;
    while lo < k {
        if n > MAX_TERMS as f64 {
            return Err(Hyp2f1Error::NotConverged);
        }
        let q = (big_a + n) * (e + n) / ((c + n) * (n + 1.0));
        for ((t, s), &z) in term[lo..].iter_mut().zip(&mut sum[lo..]).zip(&z[lo..]) {
            *t *= q * z;
            *s += *t;
        }
        // Drop the leading points whose remaining tail (geometric bound
        // with the current ratio) is below machine precision.
        while lo < k {
            let rho = (q * z[lo]).abs();
            let t = term[lo].abs();
            let done = t == 0.0 || (rho < 1.0 && t * rho <= 0.25 * f64::EPSILON * (1.0 - rho) * sum[lo].abs());
            if !done {
                break;
            }
            lo += 1;
        }
        if lo < k && !sum[lo].is_finite() {
            return Err(Hyp2f1Error::NotConverged);
        }
        n += 1.0;
    }
    Ok(())
}

/// Eq. 9 for z near 1: E = (C/e) (1 - y^e 2F1(A, e; C; z)), with the 2F1
/// prefactors computed once per customer.
enum Far {
    Direct {
        c_over_e: f64,
        e: f64,
        f: Hyp2f1,
    },
    /// e or C is near 0: interpolated across the singularity per point.
    Singular {
        r: f64,
        a: f64,
        b: f64,
    },
}

impl Far {
    fn new(r: f64, a: f64, b: f64) -> Result<Self, Hyp2f1Error> {
        let (e, c) = (a - 1.0, a + b - 1.0);
        if e.abs() < 2.0 * NEAR_SINGULAR || c.abs() < 2.0 * NEAR_SINGULAR {
            Ok(Far::Singular { r, a, b })
        } else {
            Far::direct(r, a, b)
        }
    }

    fn direct(r: f64, a: f64, b: f64) -> Result<Self, Hyp2f1Error> {
        let (e, c) = (a - 1.0, a + b - 1.0);
        Ok(Far::Direct { c_over_e: c / e, e, f: Hyp2f1::new(c - r, e, c)? })
    }

    fn eval(&self, z: f64, y: f64) -> Result<f64, Hyp2f1Error> {
        match self {
            Far::Direct { c_over_e, e, f } => Ok(c_over_e * (1.0 - (e * y.ln()).exp() * f.eval(z, y)?)),
            Far::Singular { r, a, b } => singular(*r, *a, *b, z, y, 0),
        }
    }
}

/// Eq. 9 near e = 0 or C = 0 by cubic Lagrange interpolation in a (or b)
/// from nodes at distances d and 2d on both sides. E contains y^e, so its
/// derivatives in a grow like |ln y|^k: d shrinks as 1/|ln y| to keep the
/// interpolation error ~ (d ln y)^4 small, while the cancellation in 1 - y^e F
/// grows only as 1/(d |ln y|).
fn singular(r: f64, a: f64, b: f64, z: f64, y: f64, depth: u32) -> Result<f64, Hyp2f1Error> {
    let d = 2.0 * NEAR_SINGULAR * (2.0 / y.ln().abs()).min(1.0);
    let (e, c) = (a - 1.0, a + b - 1.0);
    let offsets = [-2.0, -1.0, 1.0, 2.0].map(|j| j * d);
    let (at, nodes): (f64, Vec<(f64, f64)>) = if depth < 2 && e.abs() < d {
        // Vary a across 1 (then C may still be near 0: recurse).
        let nodes = offsets
            .iter()
            .map(|o| Ok((1.0 + o, singular(r, 1.0 + o, b, z, y, depth + 1)?)))
            .collect::<Result<_, Hyp2f1Error>>()?;
        (a, nodes)
    } else if depth < 2 && c.abs() < d {
        // Vary b so that C = a + b - 1 crosses 0 (e stays fixed).
        let nodes = offsets
            .iter()
            .map(|o| Ok((1.0 - a + o, singular(r, a, 1.0 - a + o, z, y, depth + 1)?)))
            .collect::<Result<_, Hyp2f1Error>>()?;
        (b, nodes)
    } else {
        return Far::direct(r, a, b)?.eval(z, y);
    };
    let mut value = 0.0;
    for (j, &(xj, vj)) in nodes.iter().enumerate() {
        let w: f64 =
            nodes.iter().enumerate().filter(|&(i, _)| i != j).map(|(_, &(xi, _))| (at - xi) / (xj - xi)).product();
        value += w * vj;
    }
    Ok(value)
}
