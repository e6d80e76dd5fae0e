//! Scoring customers with fitted models: everything ScoreCustomer and
//! ScoreAll report from the BTYD models, one customer or many in parallel.
//!
//! The costly part of a score, E[Y(t) | alive] on the CLV's period grid,
//! depends on x and T only (the posterior process is (r + x, alpha + T, a,
//! b + x)); t_x enters only through P(alive), a cheap factor. So many
//! customers are scored by computing that part once per distinct (x, T) —
//! whole days or weeks make these few — and combining it per customer.

use std::collections::HashMap;
use std::hash::BuildHasherDefault;

use rayon::prelude::*;

use crate::btyd::bgnbd::{BgNbdParams, NextPurchase, Workspace};
use crate::btyd::clv::{AlivePurchases, ClvConfig, alive_purchases, clv_from_alive};
use crate::btyd::error::{BtydError, Result};
use crate::btyd::gamma_gamma::GammaGammaParams;
use crate::btyd::input::CustomerRow;
use crate::btyd::sufficient_stats::FxHasher;

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

/// The part of a score shared by every customer with the same (x, T).
#[derive(Debug, Clone, Copy)]
struct Shared {
    alive: AlivePurchases,
    p_purchase_if_alive: f64,
    median_wait: f64,
}

/// Grouping key: the bit patterns of x and T (validated >= 0, -0 normalised).
type Key = (u64, u64);

fn key(row: &CustomerRow) -> Key {
    ((row.rfm.frequency + 0.0).to_bits(), (row.rfm.age + 0.0).to_bits())
}

impl Scorer {
    pub fn new(bg_nbd: BgNbdParams, gamma_gamma: GammaGammaParams, clv: ClvConfig) -> Self {
        Scorer { bg_nbd, gamma_gamma, clv }
    }

    /// Scores one customer; an invalid row is an error naming the field.
    pub fn score(&self, row: &CustomerRow) -> Result<Score> {
        row.validate()?;
        let shared = self.shared(row.rfm.frequency, row.rfm.age, &mut Buffers::default())?;
        Ok(self.combine(row, &shared))
    }

    /// Scores many customers in parallel; result i belongs to row i, and an
    /// invalid row gets an error naming the row and the field. Each result
    /// equals [`Scorer::score`] of its row, bit for bit.
    pub fn score_all(&self, rows: &[CustomerRow]) -> Vec<Result<Score>> {
        let invalid: Vec<Option<BtydError>> = rows
            .par_iter()
            .enumerate()
            .map(|(i, row)| row.validate().err().map(|source| BtydError::InvalidRow { row: i, source }))
            .collect();

        // Distinct (x, T) of the valid rows, and each row's group.
        let mut groups: HashMap<Key, u32, BuildHasherDefault<FxHasher>> = HashMap::default();
        let mut distinct: Vec<(f64, f64)> = Vec::new();
        let group_of: Vec<u32> = rows
            .iter()
            .zip(&invalid)
            .map(|(row, bad)| {
                if bad.is_some() {
                    return u32::MAX;
                }
                *groups.entry(key(row)).or_insert_with(|| {
                    distinct.push((row.rfm.frequency, row.rfm.age));
                    (distinct.len() - 1) as u32
                })
            })
            .collect();

        let shared: Vec<Result<Shared>> = distinct
            .par_iter()
            .map_init(Buffers::default, |buffers, &(frequency, age)| self.shared(frequency, age, buffers))
            .collect();

        rows.par_iter()
            .zip(invalid)
            .zip(group_of)
            .map(|((row, bad), group)| match bad {
                Some(error) => Err(error),
                None => match &shared[group as usize] {
                    Ok(shared) => Ok(self.combine(row, shared)),
                    Err(error) => Err(error.clone()),
                },
            })
            .collect()
    }

    fn shared(&self, frequency: f64, age: f64, b: &mut Buffers) -> Result<Shared> {
        let bg = &self.bg_nbd;
        Ok(Shared {
            alive: alive_purchases(bg, frequency, age, &self.clv, &mut b.ws, &mut b.expected)?,
            p_purchase_if_alive: bg.p_purchase_if_alive(frequency, age, self.clv.horizon()),
            median_wait: bg.median_wait_if_alive(frequency, age),
        })
    }

    fn combine(&self, row: &CustomerRow, shared: &Shared) -> Score {
        let p_alive = self.bg_nbd.p_alive_unchecked(&row.rfm);
        let value = clv_from_alive(&self.gamma_gamma, row, p_alive, &shared.alive);
        Score {
            p_alive,
            expected_purchases: value.expected_purchases,
            p_no_purchase: 1.0 - p_alive * shared.p_purchase_if_alive,
            next_purchase: NextPurchase { median_wait: shared.median_wait, probability: p_alive },
            expected_order_value: value.expected_order_value,
            clv: value.clv,
        }
    }
}
