//! Sufficient statistics for the BG/NBD likelihood: customers with identical
//! (x, t_x, T) contribute identical terms, so they are grouped with a count
//! and the likelihood is a weighted sum over groups. Real data has far fewer
//! groups than customers (times are whole days or weeks), which is what
//! makes a 10,000,000-customer fit fast.

use std::collections::HashMap;
use std::hash::{BuildHasherDefault, Hasher};

use rayon::prelude::*;

use crate::btyd::error::{BtydError, Field, InputError, Result};
use crate::btyd::input::Rfm;

/// Customers grouped by identical (x, t_x, T), in canonical order (by x, then
/// t_x, then T), so that any way of building the same data gives the same
/// groups and therefore bit-identical fits.
#[derive(Debug, Clone, PartialEq)]
pub struct SufficientStats {
    /// The distinct x values, ascending.
    pub(crate) xs: Vec<f64>,
    /// Customers per distinct x.
    pub(crate) x_weights: Vec<f64>,
    /// Per group: index into `xs`, t_x, T and the number of customers.
    pub(crate) x_index: Vec<u32>,
    pub(crate) recency: Vec<f64>,
    pub(crate) age: Vec<f64>,
    pub(crate) weight: Vec<f64>,
    customers: u64,
    repeat_customers: u64,
    max_age: f64,
}

/// Grouping key: x, and the bit patterns of t_x and T (validated >= 0 with
/// -0 normalised, so bit order is numeric order).
type Key = (u32, u64, u64);

/// FxHash-style multiply-rotate mixing with a MurmurHash3 finaliser; the
/// keys are not attacker-controlled, and SipHash would dominate the grouping
/// time. The finaliser matters: the bit patterns of whole-number times have
/// all-zero low bits, and without it the low bits of the hash (which pick
/// the bucket) would depend on x alone.
#[derive(Default)]
pub(crate) struct FxHasher(u64);

impl Hasher for FxHasher {
    fn finish(&self) -> u64 {
        let mut h = self.0;
        h ^= h >> 33;
        h = h.wrapping_mul(0xff51_afd7_ed55_8ccd);
        h ^= h >> 33;
        h = h.wrapping_mul(0xc4ce_b9fe_1a85_ec53);
        h ^ (h >> 33)
    }
    fn write(&mut self, bytes: &[u8]) {
        for &b in bytes {
            self.write_u64(u64::from(b));
        }
    }
    fn write_u32(&mut self, v: u32) {
        self.write_u64(u64::from(v));
    }
    fn write_u64(&mut self, v: u64) {
        self.0 = (self.0.rotate_left(5) ^ v).wrapping_mul(0x517c_c1b7_2722_0a95);
    }
}

type Counts = HashMap<Key, u64, BuildHasherDefault<FxHasher>>;

/// Rows per task when grouping in parallel.
const GROUP_CHUNK: usize = 1 << 16;

fn key(rfm: &Rfm) -> Result<Key, InputError> {
    rfm.validate()?;
    if rfm.frequency > f64::from(u32::MAX) {
        return Err(InputError::OutOfRange { field: Field::Frequency, value: rfm.frequency, range: "[0, 4294967295]" });
    }
    // `+ 0.0` turns -0.0 into +0.0.
    Ok((rfm.frequency as u32, (rfm.recency + 0.0).to_bits(), (rfm.age + 0.0).to_bits()))
}

/// Merges two partial results; of two errors the one of the earlier row
/// wins, so the reported row does not depend on scheduling.
fn merge(a: Result<Counts>, b: Result<Counts>) -> Result<Counts> {
    match (a, b) {
        (Ok(mut a), Ok(mut b)) => {
            if a.len() < b.len() {
                std::mem::swap(&mut a, &mut b);
            }
            for (k, n) in b {
                *a.entry(k).or_insert(0) += n;
            }
            Ok(a)
        }
        (Err(a), Err(b)) => Err(if row_of(&a) <= row_of(&b) { a } else { b }),
        (Err(e), Ok(_)) | (Ok(_), Err(e)) => Err(e),
    }
}

fn row_of(e: &BtydError) -> usize {
    match e {
        BtydError::InvalidRow { row, .. } => *row,
        _ => usize::MAX,
    }
}

impl SufficientStats {
    /// Groups raw customer rows (in parallel). Any invalid row is an error
    /// naming the row and the field.
    pub fn from_rows(rows: &[Rfm]) -> Result<Self> {
        let counts = rows
            .par_chunks(GROUP_CHUNK)
            .enumerate()
            .map(|(c, chunk)| {
                let mut counts = Counts::default();
                for (i, rfm) in chunk.iter().enumerate() {
                    let k = key(rfm).map_err(|source| BtydError::InvalidRow { row: c * GROUP_CHUNK + i, source })?;
                    *counts.entry(k).or_insert(0) += 1;
                }
                Ok(counts)
            })
            .reduce(|| Ok(Counts::default()), merge)?;
        Ok(Self::from_counts(counts))
    }

    /// Builds the statistics from already grouped rows, each (x, t_x, T) with
    /// the number of customers it stands for (> 0). Repeated keys add up.
    pub fn from_groups<I>(groups: I) -> Result<Self>
    where
        I: IntoIterator<Item = (Rfm, u64)>,
    {
        let mut counts = Counts::default();
        for (row, (rfm, n)) in groups.into_iter().enumerate() {
            let k = key(&rfm).map_err(|source| BtydError::InvalidRow { row, source })?;
            if n == 0 {
                return Err(BtydError::InvalidRow {
                    row,
                    source: InputError::NotPositive { field: Field::Count, value: 0.0 },
                });
            }
            *counts.entry(k).or_insert(0) += n;
        }
        Ok(Self::from_counts(counts))
    }

    fn from_counts(counts: Counts) -> Self {
        let mut groups: Vec<(Key, u64)> = counts.into_iter().collect();
        groups.par_sort_unstable_by_key(|&(k, _)| k);

        let mut s = SufficientStats {
            xs: Vec::new(),
            x_weights: Vec::new(),
            x_index: Vec::with_capacity(groups.len()),
            recency: Vec::with_capacity(groups.len()),
            age: Vec::with_capacity(groups.len()),
            weight: Vec::with_capacity(groups.len()),
            customers: 0,
            repeat_customers: 0,
            max_age: 0.0,
        };
        for ((x, t_x, t), n) in groups {
            let x = f64::from(x);
            if s.xs.last() != Some(&x) {
                s.xs.push(x);
                s.x_weights.push(0.0);
            }
            let xi = s.xs.len() - 1;
            s.x_weights[xi] += n as f64;
            // At most as many distinct x as groups, and groups fit in memory.
            s.x_index.push(xi as u32);
            s.recency.push(f64::from_bits(t_x));
            let age = f64::from_bits(t);
            s.age.push(age);
            s.max_age = s.max_age.max(age);
            s.weight.push(n as f64);
            s.customers += n;
            if x > 0.0 {
                s.repeat_customers += n;
            }
        }
        s
    }

    /// Number of customers.
    pub fn customers(&self) -> u64 {
        self.customers
    }

    /// Number of customers with x > 0.
    pub fn repeat_customers(&self) -> u64 {
        self.repeat_customers
    }

    /// Number of distinct (x, t_x, T) groups.
    pub fn groups(&self) -> usize {
        self.weight.len()
    }

    /// The largest T.
    pub fn max_age(&self) -> f64 {
        self.max_age
    }

    /// Weighted mean of T and of x (for a starting point of the fit).
    pub(crate) fn means(&self) -> (f64, f64) {
        let n = self.customers.max(1) as f64;
        let t: f64 = self.age.iter().zip(&self.weight).map(|(t, w)| t * w).sum();
        let x: f64 = self.xs.iter().zip(&self.x_weights).map(|(x, w)| x * w).sum();
        (t / n, x / n)
    }

    /// The groups as ((x, t_x, T), count), in canonical order.
    pub fn iter(&self) -> impl Iterator<Item = (Rfm, u64)> + '_ {
        (0..self.groups())
            .map(|i| (Rfm::new(self.xs[self.x_index[i] as usize], self.recency[i], self.age[i]), self.weight[i] as u64))
    }
}
