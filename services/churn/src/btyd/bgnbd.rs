//! The BG/NBD model (Fader, Hardie & Lee 2005, "Counting your customers the
//! easy way: an alternative to the Pareto/NBD model", Marketing Science
//! 24(2)): while alive, a customer buys at Poisson rate lambda ~ Gamma(r,
//! alpha); after each repeat purchase they drop out with probability
//! p ~ Beta(a, b).

mod expectation;

use statrs::function::gamma::{digamma, ln_gamma};

use crate::btyd::error::{BtydError, Field, InputError, Result};
use crate::btyd::input::{Rfm, non_negative, positive, validate_horizon};
use crate::btyd::optimize::{self, minimize};
use crate::btyd::parsum::chunked_sum;
use crate::btyd::sufficient_stats::SufficientStats;

pub(crate) use expectation::Workspace;
use expectation::{Process, expected_count};

/// BG/NBD parameters: purchase rate lambda ~ Gamma(shape r, rate alpha),
/// dropout probability p ~ Beta(a, b). alpha is in the model's time unit.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct BgNbdParams {
    pub r: f64,
    pub alpha: f64,
    pub a: f64,
    pub b: f64,
}

/// The result of a maximum-likelihood fit.
#[derive(Debug, Clone, PartialEq)]
pub struct BgNbdFit {
    pub params: BgNbdParams,
    /// Total log-likelihood at the optimum, without the penalty.
    pub log_likelihood: f64,
    /// Quasi-Newton iterations used.
    pub iterations: usize,
    /// Whether the optimiser met its gradient tolerance.
    pub converged: bool,
    /// Whether some parameter ended on its bound ([`BgNbdFitOptions`]).
    pub at_bound: bool,
    pub customers: u64,
    /// Distinct (x, t_x, T) groups the likelihood was summed over.
    pub groups: usize,
}

/// Options of [`fit`].
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct BgNbdFitOptions {
    /// lambda >= 0: minimise -LL/n + lambda (r^2 + alpha^2 + a^2 + b^2).
    pub l2_penalty: f64,
    /// Refuse fewer customers than this.
    pub min_customers: u64,
    /// Refuse fewer repeat customers (x > 0) than this.
    pub min_repeat_customers: u64,
    pub max_iterations: usize,
}

impl Default for BgNbdFitOptions {
    fn default() -> Self {
        BgNbdFitOptions { l2_penalty: 0.0, min_customers: 50, min_repeat_customers: 10, max_iterations: 500 }
    }
}

/// Bounds of r, a and b; alpha's are these times the mean age, since alpha
/// scales with the time unit.
const PARAM_MIN: f64 = 1e-6;
const PARAM_MAX: f64 = 1e6;

/// The prediction for the next order (see churn.proto, "Next order").
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct NextPurchase {
    /// Median waiting time W from T to the next purchase given alive:
    /// P(W > w) = ((alpha+T)/(alpha+T+w))^(r+x), so the median is
    /// (alpha+T)(2^(1/(r+x)) - 1). +inf when it overflows (r + x tiny).
    pub median_wait: f64,
    /// The probability that a next order happens at all: an alive customer
    /// buys again eventually (lambda > 0 almost surely), so P(alive).
    pub probability: f64,
}

impl BgNbdParams {
    /// Parameters, each finite and > 0.
    pub fn new(r: f64, alpha: f64, a: f64, b: f64) -> Result<Self, InputError> {
        Ok(BgNbdParams {
            r: positive(Field::Parameter("r"), r)?,
            alpha: positive(Field::Parameter("alpha"), alpha)?,
            a: positive(Field::Parameter("a"), a)?,
            b: positive(Field::Parameter("b"), b)?,
        })
    }

    /// ln L(r, alpha, a, b | x, t_x, T), eq. 6 of FHL 2005 in logs:
    ///
    /// ```text
    /// ln G(r+x) - ln G(r) + r ln alpha + ln B(a, b+x) - ln B(a, b)
    ///   + ln[(alpha+T)^-(r+x) + [x>0] a/(b+x-1) (alpha+t_x)^-(r+x)]
    /// ```
    ///
    /// with the last term by log-sum-exp (B(a+1, b+x-1)/B(a, b+x) = a/(b+x-1)).
    pub fn log_likelihood(&self, rfm: &Rfm) -> Result<f64, InputError> {
        rfm.validate()?;
        let BgNbdParams { r, alpha, a, b } = *self;
        let x = rfm.frequency;
        let head = ln_gamma(r + x) - ln_gamma(r) + r * alpha.ln() + ln_gamma(b + x) - ln_gamma(a + b + x) - ln_gamma(b)
            + ln_gamma(a + b);
        let u1 = -(r + x) * (alpha + rfm.age).ln();
        let tail =
            if x > 0.0 { log_sum_exp(u1, (a / (b + x - 1.0)).ln() - (r + x) * (alpha + rfm.recency).ln()) } else { u1 };
        Ok(head + tail)
    }

    /// P(alive | x, t_x, T) (FHL 2005, eq. 12):
    /// 1 / (1 + [x>0] a/(b+x-1) ((alpha+T)/(alpha+t_x))^(r+x)).
    pub fn p_alive(&self, rfm: &Rfm) -> Result<f64, InputError> {
        rfm.validate()?;
        Ok(self.p_alive_unchecked(rfm))
    }

    pub(crate) fn p_alive_unchecked(&self, rfm: &Rfm) -> f64 {
        let x = rfm.frequency;
        if x == 0.0 {
            return 1.0;
        }
        // ln of the odds of having dropped out; (alpha+T)/(alpha+t_x) as
        // 1 + (T-t_x)/(alpha+t_x) so that t_x close to T loses nothing.
        let ln_odds = (self.a / (self.b + x - 1.0)).ln()
            + (self.r + x) * ((rfm.age - rfm.recency) / (self.alpha + rfm.recency)).ln_1p();
        1.0 / (1.0 + ln_odds.exp())
    }

    /// E[X(t)]: expected purchases of a newly acquired customer by time t
    /// (FHL 2005, eq. 9).
    pub fn expected_purchases_new_customer(&self, t: f64) -> Result<f64> {
        validate_horizon(t)?;
        let mut out = [0.0];
        expected_count(&self.process(), &[t], &mut out, &mut Workspace::default())
            .map_err(|_| BtydError::Numerical("2F1 did not converge"))?;
        Ok(out[0])
    }

    /// E[Y(t) | x, t_x, T]: expected purchases in (T, T + t] given the
    /// history (FHL 2005, eq. 10). x = t_x = T = 0 gives eq. 9.
    pub fn expected_purchases(&self, rfm: &Rfm, t: f64) -> Result<f64> {
        rfm.validate()?;
        validate_horizon(t)?;
        let mut out = [0.0];
        self.expected_purchases_many(rfm, &[t], &mut out, &mut Workspace::default())?;
        Ok(out[0])
    }

    /// Eq. 10 at several ascending horizons, unvalidated.
    pub(crate) fn expected_purchases_many(
        &self,
        rfm: &Rfm,
        ts: &[f64],
        out: &mut [f64],
        ws: &mut Workspace,
    ) -> Result<()> {
        self.expected_purchases_if_alive_many(rfm.frequency, rfm.age, ts, out, ws)?;
        let p_alive = self.p_alive_unchecked(rfm);
        out.iter_mut().for_each(|v| *v *= p_alive);
        Ok(())
    }

    /// E[Y(t) | alive at T, x] at several ascending horizons: eq. 10 without
    /// its P(alive) factor. It depends on x and T only, not on t_x, which is
    /// what lets scoring share it between customers (see [`crate::btyd::score`]).
    pub(crate) fn expected_purchases_if_alive_many(
        &self,
        frequency: f64,
        age: f64,
        ts: &[f64],
        out: &mut [f64],
        ws: &mut Workspace,
    ) -> Result<()> {
        expected_count(&self.posterior_of(frequency, age), ts, out, ws)
            .map_err(|_| BtydError::Numerical("2F1 did not converge"))
    }

    /// P(Y(t) = 0 | x, t_x, T): no purchase in (T, T + t]. Either the
    /// customer has dropped out, or is alive and the Poisson process has no
    /// event in t: 1 - P(alive) (1 - ((alpha+T)/(alpha+T+t))^(r+x)).
    pub fn p_no_purchase(&self, rfm: &Rfm, t: f64) -> Result<f64, InputError> {
        rfm.validate()?;
        validate_horizon(t)?;
        Ok(self.p_no_purchase_unchecked(rfm, t))
    }

    pub(crate) fn p_no_purchase_unchecked(&self, rfm: &Rfm, t: f64) -> f64 {
        self.p_no_purchase_given_alive(rfm, t, self.p_alive_unchecked(rfm))
    }

    /// [`Self::p_no_purchase`] with P(alive) already computed.
    pub(crate) fn p_no_purchase_given_alive(&self, rfm: &Rfm, t: f64, p_alive: f64) -> f64 {
        1.0 - p_alive * self.p_purchase_if_alive(rfm.frequency, rfm.age, t)
    }

    /// P(Y(t) > 0 | alive at T, x) = 1 - ((alpha+T)/(alpha+T+t))^(r+x);
    /// depends on x and T only.
    pub(crate) fn p_purchase_if_alive(&self, frequency: f64, age: f64, t: f64) -> f64 {
        let post = self.posterior_of(frequency, age);
        -(-post.r * (t / post.alpha).ln_1p()).exp_m1()
    }

    /// The next order: median waiting time given alive, and the probability
    /// that it happens at all (see [`NextPurchase`]).
    pub fn next_purchase(&self, rfm: &Rfm) -> Result<NextPurchase, InputError> {
        rfm.validate()?;
        Ok(NextPurchase {
            median_wait: self.median_time_to_next_purchase_unchecked(rfm),
            probability: self.p_alive_unchecked(rfm),
        })
    }

    /// Given alive, lambda ~ Gamma(r+x, alpha+T), so the waiting time W has
    /// P(W > w) = E[e^(-lambda w)] = ((alpha+T)/(alpha+T+w))^(r+x) (Lomax);
    /// solving = 1/2 gives (alpha+T)(2^(1/(r+x)) - 1).
    pub(crate) fn median_time_to_next_purchase_unchecked(&self, rfm: &Rfm) -> f64 {
        self.median_wait_if_alive(rfm.frequency, rfm.age)
    }

    /// The median of [`Self::median_time_to_next_purchase_unchecked`] from
    /// x and T alone.
    pub(crate) fn median_wait_if_alive(&self, frequency: f64, age: f64) -> f64 {
        let post = self.posterior_of(frequency, age);
        post.alpha * (std::f64::consts::LN_2 / post.r).exp_m1()
    }

    fn process(&self) -> Process {
        Process { r: self.r, alpha: self.alpha, a: self.a, b: self.b }
    }

    /// The process after the history, given alive at T: Gamma-Poisson and
    /// Beta-geometric conjugacy give (r + x, alpha + T, a, b + x).
    fn posterior_of(&self, frequency: f64, age: f64) -> Process {
        Process { r: self.r + frequency, alpha: self.alpha + age, a: self.a, b: self.b + frequency }
    }
}

fn log_sum_exp(u: f64, v: f64) -> f64 {
    let (hi, lo) = if u >= v { (u, v) } else { (v, u) };
    hi + (lo - hi).exp().ln_1p()
}

/// Fits BG/NBD by maximum likelihood from raw rows (grouped first).
pub fn fit_rows(rows: &[Rfm], options: &BgNbdFitOptions) -> Result<BgNbdFit> {
    fit(&SufficientStats::from_rows(rows)?, options)
}

/// Fits BG/NBD by maximum likelihood from sufficient statistics: minimises
/// -LL/n + lambda (r^2 + alpha^2 + a^2 + b^2) over ln(r, alpha, a, b) within
/// bounds. Refuses data that cannot identify the model.
pub fn fit(stats: &SufficientStats, options: &BgNbdFitOptions) -> Result<BgNbdFit> {
    let lambda = non_negative(Field::L2Penalty, options.l2_penalty)?;
    if stats.customers() < options.min_customers.max(1) {
        return Err(BtydError::TooFewCustomers { found: stats.customers(), required: options.min_customers.max(1) });
    }
    if stats.max_age() <= 0.0 {
        return Err(BtydError::ZeroLengthHistory);
    }
    if stats.repeat_customers() < options.min_repeat_customers.max(1) {
        return Err(BtydError::TooFewRepeatCustomers {
            found: stats.repeat_customers(),
            required: options.min_repeat_customers.max(1),
        });
    }

    let (mean_age, mean_x) = stats.means();
    let lo = [PARAM_MIN, PARAM_MIN * mean_age, PARAM_MIN, PARAM_MIN].map(f64::ln);
    let hi = [PARAM_MAX, PARAM_MAX * mean_age, PARAM_MAX, PARAM_MAX].map(f64::ln);
    // Start: r = a = b = 1 and alpha from E[X(T)] ~ r T / alpha.
    let start = [1.0, mean_age / (mean_x + 1.0), 1.0, 1.0].map(f64::ln);
    let n = stats.customers() as f64;

    let objective = |theta: &[f64], grad: &mut [f64]| {
        let p = params_from(theta);
        let (ll, g) = log_likelihood_and_gradient(stats, &p);
        let pv = [p.r, p.alpha, p.a, p.b];
        let mut value = -ll / n;
        for i in 0..4 {
            value += lambda * pv[i] * pv[i];
            // d/dtheta = p d/dp.
            grad[i] = pv[i] * (-g[i] / n + 2.0 * lambda * pv[i]);
        }
        value
    };
    let opts = optimize::Options { max_iterations: options.max_iterations, ..optimize::Options::default() };
    let out = minimize(objective, &start, &lo, &hi, opts)
        .ok_or(BtydError::Numerical("BG/NBD log-likelihood not finite at the start"))?;
    let params = params_from(&out.theta);
    let (log_likelihood, _) = log_likelihood_and_gradient(stats, &params);
    if !log_likelihood.is_finite() {
        return Err(BtydError::Numerical("BG/NBD log-likelihood not finite at the optimum"));
    }
    let at_bound = (0..4).any(|i| out.theta[i] <= lo[i] || out.theta[i] >= hi[i]);
    Ok(BgNbdFit {
        params,
        log_likelihood,
        iterations: out.iterations,
        converged: out.converged,
        at_bound,
        customers: stats.customers(),
        groups: stats.groups(),
    })
}

/// The total log-likelihood of the grouped data (eq. 6 summed over
/// customers), e.g. to compare fits or compute standard errors.
pub fn log_likelihood(stats: &SufficientStats, params: &BgNbdParams) -> f64 {
    log_likelihood_and_gradient(stats, params).0
}

fn params_from(theta: &[f64]) -> BgNbdParams {
    BgNbdParams { r: theta[0].exp(), alpha: theta[1].exp(), a: theta[2].exp(), b: theta[3].exp() }
}

/// Per distinct x: the parts of eq. 6 that depend on x but not on t_x, T.
struct PerX {
    /// r + x
    s: f64,
    /// ln(a / (b + x - 1)), the log weight of the "dropped out at t_x" term.
    ln_q: f64,
    /// 1 / (b + x - 1)
    inv_bx1: f64,
}

/// The total log-likelihood (eq. 6 summed with weights) and its gradient
/// with respect to (r, alpha, a, b). Terms that depend only on x are
/// computed once per distinct x and weighted by its customer count; the
/// log-sum-exp term is summed over groups in parallel.
pub(crate) fn log_likelihood_and_gradient(stats: &SufficientStats, p: &BgNbdParams) -> (f64, [f64; 4]) {
    let BgNbdParams { r, alpha, a, b } = *p;
    let n: f64 = stats.x_weights.iter().sum();
    // r ln alpha - ln G(r) - ln B(a, b), for everyone.
    let mut ll = n * (r * alpha.ln() - ln_gamma(r) + ln_gamma(a + b) - ln_gamma(b));
    let (psi_r, psi_ab, psi_b) = (digamma(r), digamma(a + b), digamma(b));
    let mut g = [n * (alpha.ln() - psi_r), n * r / alpha, 0.0, n * (psi_ab - psi_b)];
    let mut per_x = Vec::with_capacity(stats.xs.len());
    for (&x, &w) in stats.xs.iter().zip(&stats.x_weights) {
        // ln G(r+x) + ln G(b+x) - ln G(a+b+x) (with the terms above: the
        // ratios G(r+x)/G(r) and B(a, b+x)/B(a, b)).
        ll += w * (ln_gamma(r + x) + ln_gamma(b + x) - ln_gamma(a + b + x));
        let psi_abx = digamma(a + b + x);
        g[0] += w * digamma(r + x);
        g[2] += w * (psi_ab - psi_abx);
        g[3] += w * (digamma(b + x) - psi_abx);
        per_x.push(PerX {
            s: r + x,
            ln_q: if x > 0.0 { (a / (b + x - 1.0)).ln() } else { 0.0 },
            inv_bx1: if x > 0.0 { 1.0 / (b + x - 1.0) } else { 0.0 },
        });
    }

    // ln[(alpha+T)^-s + [x>0] q (alpha+t_x)^-s] and its derivatives, with
    // w1, w2 the shares of the two terms.
    let sums = chunked_sum::<5, _>(stats.groups(), |range| {
        let mut acc = [0.0; 5];
        for i in range {
            let px = &per_x[stats.x_index[i] as usize];
            let w = stats.weight[i];
            let l1 = (alpha + stats.age[i]).ln();
            let u1 = -px.s * l1;
            if px.inv_bx1 == 0.0 {
                acc[0] += w * u1;
                acc[1] -= w * l1;
                acc[2] -= w * px.s / (alpha + stats.age[i]);
                continue;
            }
            let l2 = (alpha + stats.recency[i]).ln();
            let u2 = px.ln_q - px.s * l2;
            let lse = log_sum_exp(u1, u2);
            let w2 = (u2 - lse).exp();
            let w1 = 1.0 - w2;
            acc[0] += w * lse;
            acc[1] -= w * (w1 * l1 + w2 * l2);
            acc[2] -= w * px.s * (w1 / (alpha + stats.age[i]) + w2 / (alpha + stats.recency[i]));
            acc[3] += w * w2;
            acc[4] += w * w2 * px.inv_bx1;
        }
        acc
    });
    ll += sums[0];
    g[0] += sums[1];
    g[1] += sums[2];
    g[2] += sums[3] / a;
    g[3] -= sums[4];
    (ll, g)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn stats() -> SufficientStats {
        let rows = [
            (0.0, 0.0, 30.0),
            (2.0, 10.0, 35.0),
            (1.0, 3.5, 12.0),
            (5.0, 20.0, 20.0),
            (0.0, 0.0, 5.0),
            (2.0, 10.0, 35.0),
        ];
        SufficientStats::from_rows(&rows.map(|(x, t, a)| Rfm::new(x, t, a))).unwrap()
    }

    #[test]
    fn gradient_matches_finite_differences() {
        let s = stats();
        let p = BgNbdParams::new(0.7, 3.0, 0.8, 2.5).unwrap();
        let (_, g) = log_likelihood_and_gradient(&s, &p);
        let f = |q: BgNbdParams| log_likelihood_and_gradient(&s, &q).0;
        let h = 1e-6;
        let numeric = [
            (f(BgNbdParams { r: p.r + h, ..p }) - f(BgNbdParams { r: p.r - h, ..p })) / (2.0 * h),
            (f(BgNbdParams { alpha: p.alpha + h, ..p }) - f(BgNbdParams { alpha: p.alpha - h, ..p })) / (2.0 * h),
            (f(BgNbdParams { a: p.a + h, ..p }) - f(BgNbdParams { a: p.a - h, ..p })) / (2.0 * h),
            (f(BgNbdParams { b: p.b + h, ..p }) - f(BgNbdParams { b: p.b - h, ..p })) / (2.0 * h),
        ];
        for i in 0..4 {
            assert!((g[i] - numeric[i]).abs() < 1e-5 * (1.0 + numeric[i].abs()), "{i}: {g:?} vs {numeric:?}");
        }
    }

    #[test]
    fn grouped_likelihood_equals_the_sum_of_per_customer_terms() {
        let s = stats();
        let p = BgNbdParams::new(0.7, 3.0, 0.8, 2.5).unwrap();
        let direct: f64 = s.iter().map(|(rfm, n)| n as f64 * p.log_likelihood(&rfm).unwrap()).sum();
        let (grouped, _) = log_likelihood_and_gradient(&s, &p);
        assert!((direct - grouped).abs() < 1e-10 * direct.abs(), "{direct} vs {grouped}");
    }

    #[test]
    fn median_wait_halves_the_survival_function() {
        let p = BgNbdParams::new(0.7, 3.0, 0.8, 2.5).unwrap();
        let rfm = Rfm::new(3.0, 10.0, 15.0);
        let w = p.next_purchase(&rfm).unwrap().median_wait;
        let survival = ((p.alpha + 15.0) / (p.alpha + 15.0 + w)).powf(p.r + 3.0);
        assert!((survival - 0.5).abs() < 1e-12);
    }
}
