//! Discounted customer lifetime value, exactly as churn.proto defines it:
//!
//!   CLV = E[M | x, m_x] * sum_{k=1..ceil(H)} (E[Y(t_k)] - E[Y(t_{k-1})]) / (1+d)^(t_k u / 365.25)
//!
//! with t_0 = 0, t_k = min(k, H), E[Y(t)] the BG/NBD conditional expectation
//! (eq. 10), u the days per time unit and d the annual rate: each period's
//! expected purchases are discounted at the end of the period, and a horizon
//! that is not a whole number of periods ends with a partial period. No
//! margin is applied.

use crate::btyd::bgnbd::{BgNbdParams, Workspace};
use crate::btyd::error::{Field, InputError, Result};
use crate::btyd::gamma_gamma::GammaGammaParams;
use crate::btyd::input::{CustomerRow, positive, validate_discount_rate, validate_horizon};

/// Days in the year of the discount rate.
const DAYS_PER_YEAR: f64 = 365.25;
/// Most periods a horizon may span (e.g. 270 years of days).
pub const MAX_PERIODS: usize = 100_000;

/// The horizon and discounting of a CLV, with the period grid t_k and the
/// discount factors 1/(1+d)^(t_k u/365.25) computed once for all customers.
#[derive(Debug, Clone, PartialEq)]
pub struct ClvConfig {
    horizon: f64,
    annual_discount_rate: f64,
    days_per_time_unit: f64,
    grid: Vec<f64>,
    discount: Vec<f64>,
}

impl ClvConfig {
    /// H > 0 in time units (at most [`MAX_PERIODS`] periods), d in [0, 1),
    /// u > 0 days per time unit (1 for daily, 7 for weekly models).
    pub fn new(horizon: f64, annual_discount_rate: f64, days_per_time_unit: f64) -> Result<Self, InputError> {
        let horizon = validate_horizon(horizon)?;
        let d = validate_discount_rate(annual_discount_rate)?;
        let u = positive(Field::DaysPerTimeUnit, days_per_time_unit)?;
        if horizon.ceil() > MAX_PERIODS as f64 {
            return Err(InputError::OutOfRange { field: Field::Horizon, value: horizon, range: "(0, 100000] periods" });
        }
        let periods = horizon.ceil() as usize;
        let grid: Vec<f64> = (1..=periods).map(|k| (k as f64).min(horizon)).collect();
        // (1+d)^-(t u / 365.25) = exp(-t u ln(1+d) / 365.25)
        let rate = u * d.ln_1p() / DAYS_PER_YEAR;
        let discount = grid.iter().map(|t| (-t * rate).exp()).collect();
        Ok(ClvConfig { horizon, annual_discount_rate: d, days_per_time_unit: u, grid, discount })
    }

    pub fn horizon(&self) -> f64 {
        self.horizon
    }

    pub fn annual_discount_rate(&self) -> f64 {
        self.annual_discount_rate
    }

    pub fn days_per_time_unit(&self) -> f64 {
        self.days_per_time_unit
    }

    /// The period ends t_1 .. t_ceil(H).
    pub fn grid(&self) -> &[f64] {
        &self.grid
    }
}

/// Discounted expected purchases and their value for one customer.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Clv {
    /// E[Y(H) | x, t_x, T], undiscounted.
    pub expected_purchases: f64,
    /// sum_k (E[Y(t_k)] - E[Y(t_{k-1})]) / (1+d)^(t_k u/365.25)
    pub discounted_purchases: f64,
    /// E[M | x, m_x]
    pub expected_order_value: f64,
    /// expected_order_value * discounted_purchases
    pub clv: f64,
}

/// The CLV of one customer (see the module docs).
pub fn clv(bg: &BgNbdParams, gg: &GammaGammaParams, row: &CustomerRow, config: &ClvConfig) -> Result<Clv> {
    row.validate()?;
    let mut ws = Workspace::default();
    let mut buf = Vec::new();
    clv_unchecked(bg, gg, row, config, &mut ws, &mut buf)
}

/// The purchases of a customer who is alive at T after x repeat purchases:
/// E[Y(H) | alive] and its discounted sum. They depend on (x, T) only, so
/// scoring computes them once per distinct (x, T); multiplied by P(alive)
/// they give E[Y(H) | x, t_x, T] and the discounted purchases of the CLV.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) struct AlivePurchases {
    pub expected: f64,
    pub discounted: f64,
}

pub(crate) fn alive_purchases(
    bg: &BgNbdParams,
    frequency: f64,
    age: f64,
    config: &ClvConfig,
    ws: &mut Workspace,
    expected: &mut Vec<f64>,
) -> Result<AlivePurchases> {
    expected.clear();
    expected.resize(config.grid.len(), 0.0);
    bg.expected_purchases_if_alive_many(frequency, age, &config.grid, expected, ws)?;
    // E[Y(t)] is non-decreasing; rounding can make neighbouring grid values
    // dip by an ulp or so, and a discounted dip would let CLV exceed the
    // undiscounted value. Taking the running maximum keeps each step >= 0.
    let mut previous: f64 = 0.0;
    let mut discounted = 0.0;
    for (e, d) in expected.iter().zip(&config.discount) {
        let reached = previous.max(*e);
        discounted += (reached - previous) * d;
        previous = reached;
    }
    Ok(AlivePurchases { expected: previous, discounted })
}

/// The CLV of a customer from the shared [`AlivePurchases`] of their (x, T).
pub(crate) fn clv_from_alive(gg: &GammaGammaParams, row: &CustomerRow, p_alive: f64, alive: &AlivePurchases) -> Clv {
    let expected_order_value = gg.expected_order_value_unchecked(row);
    let discounted_purchases = p_alive * alive.discounted;
    Clv {
        expected_purchases: p_alive * alive.expected,
        discounted_purchases,
        expected_order_value,
        clv: expected_order_value * discounted_purchases,
    }
}

/// [`clv`] for a validated row, with caller-owned buffers.
pub(crate) fn clv_unchecked(
    bg: &BgNbdParams,
    gg: &GammaGammaParams,
    row: &CustomerRow,
    config: &ClvConfig,
    ws: &mut Workspace,
    expected: &mut Vec<f64>,
) -> Result<Clv> {
    let alive = alive_purchases(bg, row.rfm.frequency, row.rfm.age, config, ws, expected)?;
    Ok(clv_from_alive(gg, row, bg.p_alive_unchecked(&row.rfm), &alive))
}
