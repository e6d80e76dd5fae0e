//! Fitting from raw rows and from grouped counts gives identical results.

use std::collections::BTreeMap;

use crate::common::cdnow_rfm;
use patron_churn::btyd::{BgNbdFitOptions, Rfm, SufficientStats, bgnbd};

#[test]
fn raw_rows_and_grouped_counts_fit_identically() {
    let rows = cdnow_rfm();
    // Group independently of the crate (BTreeMap on the bit patterns), and
    // hand the groups over in reverse order.
    let mut counts: BTreeMap<(u64, u64, u64), u64> = BTreeMap::new();
    for r in &rows {
        *counts.entry((r.frequency.to_bits(), r.recency.to_bits(), r.age.to_bits())).or_default() += 1;
    }
    let groups: Vec<(Rfm, u64)> = counts
        .iter()
        .rev()
        .map(|(&(x, t, a), &n)| (Rfm::new(f64::from_bits(x), f64::from_bits(t), f64::from_bits(a)), n))
        .collect();
    assert!(groups.len() < rows.len() / 2, "CDNOW has many repeated statistics");

    let from_rows = SufficientStats::from_rows(&rows).unwrap();
    let from_groups = SufficientStats::from_groups(groups).unwrap();
    assert_eq!(from_rows, from_groups);
    assert_eq!(from_rows.customers(), 2357);

    let options = BgNbdFitOptions::default();
    let a = bgnbd::fit_rows(&rows, &options).unwrap();
    let b = bgnbd::fit(&from_groups, &options).unwrap();
    // Bit-identical, not merely close: grouping is canonical and the
    // parallel sums are deterministic.
    assert_eq!(a, b);
}

#[test]
fn grouping_many_rows_is_deterministic() {
    // Enough rows for many parallel chunks.
    let rows: Vec<Rfm> = (0..300_000u32)
        .map(|i| {
            let x = f64::from(i % 7);
            let age = f64::from(10 + i % 50);
            let recency = if x == 0.0 { 0.0 } else { f64::from(i % 10) };
            Rfm::new(x, recency, age)
        })
        .collect();
    let a = SufficientStats::from_rows(&rows).unwrap();
    let b = SufficientStats::from_rows(&rows).unwrap();
    assert_eq!(a, b);
    assert_eq!(a.customers(), 300_000);
    let total: u64 = a.iter().map(|(_, n)| n).sum();
    assert_eq!(total, 300_000);
    assert!(a.groups() <= 7 * 50 * 10);
}
