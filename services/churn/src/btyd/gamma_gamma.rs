//! The Gamma-Gamma spend model (Fader, Hardie & Lee 2005, "RFM and CLV:
//! using iso-value curves for customer base analysis", JMR 42(4); Hardie,
//! "The Gamma-Gamma model of monetary value", note 025): a customer's
//! purchase values are Gamma(p, nu) with nu ~ Gamma(q, gamma) across
//! customers, so the mean m_x of x purchases has the density of eq. 1 of
//! note 025, independent of the purchase process.

use statrs::function::gamma::{digamma, ln_gamma};

use crate::btyd::error::{BtydError, Field, InputError, Result};
use crate::btyd::input::{CustomerRow, positive};
use crate::btyd::optimize::{self, minimize};
use crate::btyd::parsum::chunked_sum;

/// Gamma-Gamma parameters; gamma is in the currency unit of m_x.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct GammaGammaParams {
    pub p: f64,
    pub q: f64,
    pub gamma: f64,
}

/// The result of a maximum-likelihood fit.
#[derive(Debug, Clone, PartialEq)]
pub struct GammaGammaFit {
    pub params: GammaGammaParams,
    /// Total log-likelihood at the optimum.
    pub log_likelihood: f64,
    pub iterations: usize,
    pub converged: bool,
    pub at_bound: bool,
    /// Repeat customers (x > 0) in the fit.
    pub customers: u64,
    /// Pearson correlation of x and m_x over those customers.
    pub spend_frequency_correlation: f64,
}

/// Options of [`fit`].
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct GammaGammaFitOptions {
    /// Refuse the fit when |corr(x, m_x)| exceeds this; in (0, 1].
    pub max_spend_frequency_correlation: f64,
    /// Refuse fewer repeat customers than this.
    pub min_customers: u64,
    pub max_iterations: usize,
}

impl Default for GammaGammaFitOptions {
    fn default() -> Self {
        GammaGammaFitOptions { max_spend_frequency_correlation: 0.3, min_customers: 10, max_iterations: 500 }
    }
}

const PARAM_MIN: f64 = 1e-6;
const PARAM_MAX: f64 = 1e6;

impl GammaGammaParams {
    /// Parameters, each finite and > 0, with q > 1 (a finite mean spend).
    pub fn new(p: f64, q: f64, gamma: f64) -> Result<Self> {
        let params = GammaGammaParams {
            p: positive(Field::Parameter("p"), p)?,
            q: positive(Field::Parameter("q"), q)?,
            gamma: positive(Field::Parameter("gamma"), gamma)?,
        };
        if q <= 1.0 {
            return Err(BtydError::InfiniteMeanSpend { q });
        }
        Ok(params)
    }

    /// ln f(m_x | p, q, gamma, x), eq. 1 of note 025 in logs:
    /// ln G(px+q) - ln G(px) - ln G(q) + q ln gamma + (px-1) ln m_x
    ///   + px ln x - (px+q) ln(gamma + m_x x).
    pub fn log_likelihood(&self, x: f64, m_x: f64) -> f64 {
        let GammaGammaParams { p, q, gamma } = *self;
        let px = p * x;
        ln_gamma(px + q) - ln_gamma(px) - ln_gamma(q) + q * gamma.ln() + (px - 1.0) * m_x.ln() + px * x.ln()
            - (px + q) * (gamma + m_x * x).ln()
    }

    /// The population mean spend per purchase, E[M] = p gamma / (q - 1).
    pub fn mean_spend(&self) -> f64 {
        self.p * self.gamma / (self.q - 1.0)
    }

    /// E[M | x, m_x] (FHL 2005b, eq. 5), a weighted mean of the population
    /// mean and the customer's own mean:
    /// (q-1)/(px+q-1) * p gamma/(q-1) + px/(px+q-1) * m_x
    /// = p (gamma + x m_x) / (px + q - 1); the population mean when x = 0.
    pub fn expected_order_value(&self, row: &CustomerRow) -> Result<f64, InputError> {
        row.validate()?;
        Ok(self.expected_order_value_unchecked(row))
    }

    pub(crate) fn expected_order_value_unchecked(&self, row: &CustomerRow) -> f64 {
        let x = row.rfm.frequency;
        if x == 0.0 {
            return self.mean_spend();
        }
        self.p * (self.gamma + x * row.monetary_value) / (self.p * x + self.q - 1.0)
    }
}

/// The repeat customers of a batch as columns.
struct Spend {
    x: Vec<f64>,
    m: Vec<f64>,
    /// Distinct x ascending, with their customer counts.
    xs: Vec<(f64, f64)>,
}

/// Fits Gamma-Gamma by maximum likelihood on the customers with x > 0 (all
/// rows are validated; x = 0 rows carry no spend information). Refuses the
/// fit when |corr(x, m_x)| exceeds the threshold (the model assumes spend is
/// independent of frequency), or when q <= 1 (no finite mean spend).
pub fn fit(rows: &[CustomerRow], options: &GammaGammaFitOptions) -> Result<GammaGammaFit> {
    let threshold = options.max_spend_frequency_correlation;
    if !(threshold > 0.0 && threshold <= 1.0) {
        return Err(InputError::OutOfRange {
            field: Field::MaxSpendFrequencyCorrelation,
            value: threshold,
            range: "(0, 1]",
        }
        .into());
    }
    let spend = repeat_customers(rows)?;
    let n = spend.x.len() as u64;
    let required = options.min_customers.max(2);
    if n < required {
        return Err(BtydError::TooFewRepeatCustomers { found: n, required });
    }
    let correlation = pearson(&spend.x, &spend.m);
    if correlation.abs() > threshold {
        return Err(BtydError::SpendFrequencyCorrelation { correlation, threshold });
    }

    let nf = n as f64;
    let mean_m = spend.m.iter().sum::<f64>() / nf;
    let lo = [PARAM_MIN, PARAM_MIN, PARAM_MIN * mean_m].map(f64::ln);
    let hi = [PARAM_MAX, PARAM_MAX, PARAM_MAX * mean_m].map(f64::ln);
    // p = 1, q = 2 makes the population mean p gamma/(q-1) = gamma = mean m.
    let start = [1.0, 2.0, mean_m].map(f64::ln);
    let constants = Constants::new(&spend);
    let objective = |theta: &[f64], grad: &mut [f64]| {
        let pv = [theta[0].exp(), theta[1].exp(), theta[2].exp()];
        let (ll, g) = log_likelihood_and_gradient(&spend, &constants, pv);
        for i in 0..3 {
            grad[i] = -pv[i] * g[i] / nf;
        }
        -ll / nf
    };
    let opts = optimize::Options { max_iterations: options.max_iterations, ..optimize::Options::default() };
    let out = minimize(objective, &start, &lo, &hi, opts)
        .ok_or(BtydError::Numerical("Gamma-Gamma log-likelihood not finite at the start"))?;
    let pv = [out.theta[0].exp(), out.theta[1].exp(), out.theta[2].exp()];
    let (log_likelihood, _) = log_likelihood_and_gradient(&spend, &constants, pv);
    if !log_likelihood.is_finite() {
        return Err(BtydError::Numerical("Gamma-Gamma log-likelihood not finite at the optimum"));
    }
    Ok(GammaGammaFit {
        params: GammaGammaParams::new(pv[0], pv[1], pv[2])?,
        log_likelihood,
        iterations: out.iterations,
        converged: out.converged,
        at_bound: (0..3).any(|i| out.theta[i] <= lo[i] || out.theta[i] >= hi[i]),
        customers: n,
        spend_frequency_correlation: correlation,
    })
}

fn repeat_customers(rows: &[CustomerRow]) -> Result<Spend> {
    let mut spend = Spend { x: Vec::new(), m: Vec::new(), xs: Vec::new() };
    for (row, c) in rows.iter().enumerate() {
        c.validate().map_err(|source| BtydError::InvalidRow { row, source })?;
        if c.rfm.frequency > 0.0 {
            spend.x.push(c.rfm.frequency);
            spend.m.push(c.monetary_value);
        }
    }
    let mut sorted = spend.x.clone();
    sorted.sort_unstable_by(f64::total_cmp);
    for x in sorted {
        match spend.xs.last_mut() {
            Some((v, w)) if *v == x => *w += 1.0,
            _ => spend.xs.push((x, 1.0)),
        }
    }
    Ok(spend)
}

/// Sums that do not depend on the parameters.
struct Constants {
    n: f64,
    sum_ln_m: f64,
    sum_x_ln_m: f64,
    sum_x_ln_x: f64,
}

impl Constants {
    fn new(s: &Spend) -> Self {
        let [sum_ln_m, sum_x_ln_m, sum_x_ln_x] = chunked_sum::<3, _>(s.x.len(), |range| {
            let mut acc = [0.0; 3];
            for i in range {
                let ln_m = s.m[i].ln();
                acc[0] += ln_m;
                acc[1] += s.x[i] * ln_m;
                acc[2] += s.x[i] * s.x[i].ln();
            }
            acc
        });
        Constants { n: s.x.len() as f64, sum_ln_m, sum_x_ln_m, sum_x_ln_x }
    }
}

/// Total log-likelihood and its gradient in (p, q, gamma). Per customer only
/// ln(gamma + m_x x) depends on both the parameters and m_x; the gamma
/// functions are computed once per distinct x.
fn log_likelihood_and_gradient(s: &Spend, k: &Constants, [p, q, gamma]: [f64; 3]) -> (f64, [f64; 3]) {
    let n = k.n;
    let mut ll = n * (q * gamma.ln() - ln_gamma(q)) + p * (k.sum_x_ln_m + k.sum_x_ln_x) - k.sum_ln_m;
    let mut g = [k.sum_x_ln_m + k.sum_x_ln_x, n * (gamma.ln() - digamma(q)), n * q / gamma];
    for &(x, w) in &s.xs {
        let psi = digamma(p * x + q);
        ll += w * (ln_gamma(p * x + q) - ln_gamma(p * x));
        g[0] += w * x * (psi - digamma(p * x));
        g[1] += w * psi;
    }
    // sum ln(gamma + m x), sum x ln(.), sum 1/(.), sum x/(.)
    let [l, xl, inv, x_inv] = chunked_sum::<4, _>(s.x.len(), |range| {
        let mut acc = [0.0; 4];
        for i in range {
            let d = gamma + s.m[i] * s.x[i];
            let ln_d = d.ln();
            acc[0] += ln_d;
            acc[1] += s.x[i] * ln_d;
            acc[2] += 1.0 / d;
            acc[3] += s.x[i] / d;
        }
        acc
    });
    ll -= p * xl + q * l;
    g[0] -= xl;
    g[1] -= l;
    g[2] -= p * x_inv + q * inv;
    (ll, g)
}

/// Pearson correlation (two-pass, for accuracy); 0 when either variable is
/// constant (no linear association can be measured).
pub fn pearson(x: &[f64], y: &[f64]) -> f64 {
    let n = x.len().min(y.len()) as f64;
    if n < 2.0 {
        return 0.0;
    }
    let mx = x.iter().sum::<f64>() / n;
    let my = y.iter().sum::<f64>() / n;
    let (mut sxy, mut sxx, mut syy) = (0.0, 0.0, 0.0);
    for (a, b) in x.iter().zip(y) {
        let (dx, dy) = (a - mx, b - my);
        sxy += dx * dy;
        sxx += dx * dx;
        syy += dy * dy;
    }
    if sxx == 0.0 || syy == 0.0 {
        return 0.0;
    }
    (sxy / (sxx * syy).sqrt()).clamp(-1.0, 1.0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn gradient_matches_finite_differences() {
        let rows: Vec<CustomerRow> = [(1.0, 20.0), (2.0, 35.5), (5.0, 12.0), (2.0, 60.0), (3.0, 18.0)]
            .iter()
            .map(|&(x, m)| CustomerRow::new(x, x, 10.0, m))
            .collect();
        let s = repeat_customers(&rows).unwrap();
        let k = Constants::new(&s);
        let p = [2.0, 3.0, 15.0];
        let (ll, g) = log_likelihood_and_gradient(&s, &k, p);
        let params = GammaGammaParams::new(p[0], p[1], p[2]).unwrap();
        let direct: f64 = s.x.iter().zip(&s.m).map(|(&x, &m)| params.log_likelihood(x, m)).sum();
        assert!((ll - direct).abs() < 1e-10 * direct.abs());
        for i in 0..3 {
            let h = 1e-6 * p[i];
            let (mut up, mut down) = (p, p);
            up[i] += h;
            down[i] -= h;
            let numeric =
                (log_likelihood_and_gradient(&s, &k, up).0 - log_likelihood_and_gradient(&s, &k, down).0) / (2.0 * h);
            assert!((g[i] - numeric).abs() < 1e-5 * (1.0 + numeric.abs()), "{i}: {} vs {numeric}", g[i]);
        }
    }
}
