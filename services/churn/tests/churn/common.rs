//! Shared test helpers.
#![allow(dead_code)] // each test module uses a different subset

use patron_churn::btyd::{CustomerRow, Rfm};

/// The CDNOW sample summary (tests/fixtures/README.md): (x, t_x, T, zbar).
pub fn cdnow() -> Vec<CustomerRow> {
    let text = include_str!("../../../../tests/fixtures/cdnow/cdnow_sample_summary.csv");
    text.lines()
        .skip(1)
        .map(|line| {
            let f: Vec<f64> = line.split(',').map(|v| v.parse().expect("number")).collect();
            CustomerRow::new(f[1], f[2], f[3], f[4])
        })
        .collect()
}

pub fn cdnow_rfm() -> Vec<Rfm> {
    cdnow().iter().map(|c| c.rfm).collect()
}

/// Rounds to `decimals` decimal places (what "to 3 decimals" means).
pub fn round(v: f64, decimals: i32) -> f64 {
    let s = 10f64.powi(decimals);
    (v * s).round() / s
}
