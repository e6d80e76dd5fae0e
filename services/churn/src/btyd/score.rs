//! Scoring customers with fitted models: everything ScoreCustomer and
//! ScoreAll report from the BTYD models, one customer or many in parallel.

use rayon::prelude::*;

use crate::btyd::bgnbd::{BgNbdParams, NextPurchase, Workspace};
use crate::btyd::clv::{ClvConfig, clv_unchecked};
use crate::btyd::error::{BtydError, Result};
use crate::btyd::gamma_gamma::GammaGammaParams;
use crate::btyd::input::CustomerRow;

/// The BTYD outputs for one customer; all purchases and probabilities refer
/// to the horizon H of the [`ClvConfig`].
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Score {
    pub p_alive: f64,
    /// E[Y(H) | x, t_x, T]
    pub expected_purchases: f64,
    /// P(no purchase in (T, T + H])
    pub p_no_purchase: f64,
    pub next_purchase: NextPurchase,
    /// E[M | x, m_x]
    pub expected_order_value: f64,
    /// Discounted CLV over H (see [`crate::btyd::clv`]).
    pub clv: f64,
}

/// Fitted models plus the CLV settings.
#[derive(Debug, Clone, PartialEq)]
pub struct Scorer {
    pub bg_nbd: BgNbdParams,
    pub gamma_gamma: GammaGammaParams,
    pub clv: ClvConfig,
}

/// Per-thread buffers.
#[derive(Default)]
struct Buffers {
    ws: Workspace,
    expected: Vec<f64>,
}

impl Scorer {
    pub fn new(bg_nbd: BgNbdParams, gamma_gamma: GammaGammaParams, clv: ClvConfig) -> Self {
        Scorer { bg_nbd, gamma_gamma, clv }
    }

    /// Scores one customer; an invalid row is an error naming the field.
    pub fn score(&self, row: &CustomerRow) -> Result<Score> {
        row.validate()?;
        self.score_valid(row, &mut Buffers::default())
    }

    /// Scores many customers in parallel; result i belongs to row i, and an
    /// invalid row gets an error naming the row and the field.
    pub fn score_all(&self, rows: &[CustomerRow]) -> Vec<Result<Score>> {
        rows.par_iter()
            .enumerate()
            .map_init(Buffers::default, |buffers, (i, row)| {
                row.validate().map_err(|source| BtydError::InvalidRow { row: i, source })?;
                self.score_valid(row, buffers)
            })
            .collect()
    }

    fn score_valid(&self, row: &CustomerRow, b: &mut Buffers) -> Result<Score> {
        let bg = &self.bg_nbd;
        let value = clv_unchecked(bg, &self.gamma_gamma, row, &self.clv, &mut b.ws, &mut b.expected)?;
        let p_alive = bg.p_alive_unchecked(&row.rfm);
        Ok(Score {
            p_alive,
            expected_purchases: value.expected_purchases,
            p_no_purchase: bg.p_no_purchase_given_alive(&row.rfm, self.clv.horizon(), p_alive),
            next_purchase: NextPurchase {
                median_wait: bg.median_time_to_next_purchase_unchecked(&row.rfm),
                probability: p_alive,
            },
            expected_order_value: value.expected_order_value,
            clv: value.clv,
        })
    }
}
