//! Bounded minimisation for the maximum-likelihood fits: a projected BFGS
//! quasi-Newton method with an Armijo backtracking line search, on
//! log-transformed parameters with box bounds.
//!
//! Why this shape: the models' parameters are positive and span orders of
//! magnitude, so the fits work on theta = ln(parameter), where the
//! likelihoods are smooth and well scaled; the bounds keep theta finite (no
//! degenerate fits at 0 or infinity) and are enforced by projection, with
//! bound-constrained coordinates frozen (the active set of L-BFGS-B). The
//! analytic gradient makes each iteration one pass over the data.

/// Stopping rules.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Options {
    pub max_iterations: usize,
    /// Converged when the largest projected-gradient component is below this.
    pub gradient_tolerance: f64,
}

impl Default for Options {
    fn default() -> Self {
        Options { max_iterations: 500, gradient_tolerance: 1e-9 }
    }
}

/// The result of a minimisation.
#[derive(Debug, Clone)]
pub(crate) struct Outcome {
    pub theta: Vec<f64>,
    pub iterations: usize,
    pub converged: bool,
}

/// Largest step in theta per iteration: e^4 ~ 55-fold change of a parameter.
const MAX_STEP: f64 = 4.0;
/// Armijo sufficient-decrease constant.
const ARMIJO: f64 = 1e-4;
/// A projected gradient this small counts as converged when no further
/// decrease is possible in floating point.
const STALL_GRADIENT: f64 = 1e-6;

/// Minimises `f` (which returns the value and writes the gradient) over the
/// box `lo <= theta <= hi`, starting from `theta0` (clamped into the box).
/// Returns `None` when the objective is not finite at the start.
pub(crate) fn minimize<F>(mut f: F, theta0: &[f64], lo: &[f64], hi: &[f64], options: Options) -> Option<Outcome>
where
    F: FnMut(&[f64], &mut [f64]) -> f64,
{
    let n = theta0.len();
    let clamp = |v: &mut [f64]| {
        for i in 0..n {
            v[i] = v[i].clamp(lo[i], hi[i]);
        }
    };
    let mut x = theta0.to_vec();
    clamp(&mut x);
    let mut g = vec![0.0; n];
    let mut fx = f(&x, &mut g);
    if !fx.is_finite() || g.iter().any(|v| !v.is_finite()) {
        return None;
    }

    let mut h = identity(n);
    let mut first_update = true;
    let mut xn = vec![0.0; n];
    let mut gn = vec![0.0; n];
    let mut d = vec![0.0; n];

    for iteration in 1..=options.max_iterations {
        // Projected gradient: coordinates at a bound with the gradient
        // pointing out of the box are frozen.
        let free: Vec<bool> =
            (0..n).map(|i| !((x[i] <= lo[i] && g[i] > 0.0) || (x[i] >= hi[i] && g[i] < 0.0))).collect();
        let pg: Vec<f64> = (0..n).map(|i| if free[i] { g[i] } else { 0.0 }).collect();
        let pg_max = pg.iter().fold(0.0f64, |m, v| m.max(v.abs()));
        if pg_max <= options.gradient_tolerance {
            return Some(done(x, iteration - 1, true));
        }

        // Quasi-Newton direction on the free coordinates; steepest descent
        // if it is not a descent direction.
        for i in 0..n {
            d[i] = if free[i] { -(0..n).filter(|&j| free[j]).map(|j| h[i][j] * g[j]).sum::<f64>() } else { 0.0 };
        }
        if dot(&d, &pg) >= 0.0 {
            h = identity(n);
            first_update = true;
            d.iter_mut().zip(&pg).for_each(|(d, p)| *d = -p);
        }
        let longest = d.iter().fold(0.0f64, |m, v| m.max(v.abs()));
        if longest > MAX_STEP {
            d.iter_mut().for_each(|v| *v *= MAX_STEP / longest);
        }

        // Backtracking line search along the projected path.
        let mut step = 1.0;
        let mut fnew;
        loop {
            for i in 0..n {
                xn[i] = x[i] + step * d[i];
            }
            clamp(&mut xn);
            fnew = f(&xn, &mut gn);
            let decrease: f64 = (0..n).map(|i| g[i] * (xn[i] - x[i])).sum();
            if fnew.is_finite() && gn.iter().all(|v| v.is_finite()) && fnew <= fx + ARMIJO * decrease {
                break;
            }
            step *= 0.5;
            if step < 1e-20 {
                // No decrease representable in floating point: converged if
                // the gradient is already tiny, otherwise stuck.
                return Some(done(x, iteration, pg_max <= STALL_GRADIENT));
            }
        }

        // BFGS update of the inverse Hessian, skipped when curvature is not
        // positive (keeps H positive definite).
        let s: Vec<f64> = (0..n).map(|i| xn[i] - x[i]).collect();
        let y: Vec<f64> = (0..n).map(|i| gn[i] - g[i]).collect();
        let sy = dot(&s, &y);
        if sy > 1e-12 * norm(&s) * norm(&y) {
            if first_update {
                // Scale the initial H to the observed curvature.
                let scale = sy / dot(&y, &y);
                h = identity(n);
                h.iter_mut().enumerate().for_each(|(i, row)| row[i] = scale);
                first_update = false;
            }
            bfgs_update(&mut h, &s, &y, sy);
        }

        let no_progress = fx - fnew <= f64::EPSILON * fx.abs();
        x.copy_from_slice(&xn);
        g.copy_from_slice(&gn);
        fx = fnew;
        if no_progress && pg_max <= STALL_GRADIENT {
            return Some(done(x, iteration, true));
        }
    }
    Some(done(x, options.max_iterations, false))
}

fn done(theta: Vec<f64>, iterations: usize, converged: bool) -> Outcome {
    Outcome { theta, iterations, converged }
}

fn identity(n: usize) -> Vec<Vec<f64>> {
    (0..n).map(|i| (0..n).map(|j| if i == j { 1.0 } else { 0.0 }).collect()).collect()
}

fn dot(a: &[f64], b: &[f64]) -> f64 {
    a.iter().zip(b).map(|(a, b)| a * b).sum()
}

fn norm(a: &[f64]) -> f64 {
    dot(a, a).sqrt()
}

/// H <- (I - rho s y^T) H (I - rho y s^T) + rho s s^T, rho = 1 / (s^T y).
fn bfgs_update(h: &mut [Vec<f64>], s: &[f64], y: &[f64], sy: f64) {
    let n = s.len();
    let rho = 1.0 / sy;
    let hy: Vec<f64> = (0..n).map(|i| dot(&h[i], y)).collect();
    let yhy = dot(y, &hy);
    for i in 0..n {
        for j in 0..n {
            h[i][j] += -rho * (hy[i] * s[j] + s[i] * hy[j]) + (rho * rho * yhy + rho) * s[i] * s[j];
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Rosenbrock in two dimensions, unconstrained optimum (1, 1).
    fn rosenbrock(x: &[f64], g: &mut [f64]) -> f64 {
        let (a, b) = (x[0], x[1]);
        g[0] = -2.0 * (1.0 - a) - 400.0 * a * (b - a * a);
        g[1] = 200.0 * (b - a * a);
        (1.0 - a).powi(2) + 100.0 * (b - a * a).powi(2)
    }

    #[test]
    fn finds_the_unconstrained_minimum() {
        let out = minimize(rosenbrock, &[-1.2, 1.0], &[-5.0; 2], &[5.0; 2], Options::default()).expect("finite start");
        assert!(out.converged, "{out:?}");
        assert!((out.theta[0] - 1.0).abs() < 1e-7 && (out.theta[1] - 1.0).abs() < 1e-7);
    }

    #[test]
    fn respects_the_bounds() {
        // The optimum (1, 1) lies outside the box: the constrained optimum
        // is on the boundary a = 0.5, b = 0.25.
        let out =
            minimize(rosenbrock, &[0.0, 0.0], &[-5.0, -5.0], &[0.5, 5.0], Options::default()).expect("finite start");
        assert!(out.converged, "{out:?}");
        assert_eq!(out.theta[0], 0.5);
        assert!((out.theta[1] - 0.25).abs() < 1e-7, "{out:?}");
    }

    #[test]
    fn refuses_a_non_finite_start() {
        let out = minimize(|_, _| f64::NAN, &[0.0], &[-1.0], &[1.0], Options::default());
        assert!(out.is_none());
    }
}
