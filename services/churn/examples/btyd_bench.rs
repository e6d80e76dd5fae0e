//! Timings: fits on the CDNOW sample and on N synthetic customers (default
//! 10,000,000), and scoring M customers (default 1,000,000).
//!
//! cargo run --release -p patron-churn --example btyd_bench -- [N] [M]

use std::time::Instant;

use patron_churn::btyd::{
    BgNbdFitOptions, BgNbdParams, ClvConfig, CustomerRow, GammaGammaFitOptions, Rfm, Scorer, SufficientStats, bgnbd,
    gamma_gamma,
};
use rand::rngs::StdRng;
use rand::{RngExt, SeedableRng};
use rand_distr::{Beta, Distribution, Exp, Gamma};
use rayon::prelude::*;

fn cdnow() -> Vec<CustomerRow> {
    include_str!("../../../tests/fixtures/cdnow/cdnow_sample_summary.csv")
        .lines()
        .skip(1)
        .map(|line| {
            let f: Vec<f64> = line.split(',').map(|v| v.parse().unwrap()).collect();
            CustomerRow::new(f[1], f[2], f[3], f[4])
        })
        .collect()
}

/// BG/NBD purchases and Gamma-Gamma spend, times in whole days: T uniform in
/// 1..=730 days; r = 0.5, alpha = 56 days, a = 0.6, b = 2.5; p = 6, q = 4,
/// gamma = 1500 (minor units).
fn simulate(n: usize) -> Vec<CustomerRow> {
    const CHUNK: usize = 100_000;
    (0..n.div_ceil(CHUNK))
        .into_par_iter()
        .flat_map_iter(|c| {
            let mut rng = StdRng::seed_from_u64(c as u64);
            let rate = Gamma::new(0.5, 1.0 / 56.0).unwrap();
            let dropout = Beta::new(0.6, 2.5).unwrap();
            let nu = Gamma::new(4.0, 1.0 / 1500.0).unwrap();
            (c * CHUNK..((c + 1) * CHUNK).min(n))
                .map(|_| {
                    let lambda: f64 = rate.sample(&mut rng);
                    let p: f64 = dropout.sample(&mut rng);
                    let age = f64::from(rng.random_range(1..=730u32));
                    let wait = Exp::new(lambda).unwrap();
                    let (mut x, mut t_x, mut t) = (0.0f64, 0.0, 0.0);
                    loop {
                        t += wait.sample(&mut rng);
                        if t > age {
                            break;
                        }
                        x += 1.0;
                        t_x = t;
                        if rng.random::<f64>() < p {
                            break;
                        }
                    }
                    // Whole days, as the profile service reports them.
                    let t_x = if x > 0.0 { t_x.floor().max(1.0).min(age) } else { 0.0 };
                    let m = if x > 0.0 {
                        // Mean of x Gamma(p, nu) purchases ~ Gamma(p x, rate x nu).
                        let v: f64 = nu.sample(&mut rng);
                        Gamma::new(6.0 * x, 1.0 / (x * v)).unwrap().sample(&mut rng)
                    } else {
                        0.0
                    };
                    CustomerRow::new(x, t_x, age, m)
                })
                .collect::<Vec<_>>()
        })
        .collect()
}

fn main() {
    let args: Vec<usize> = std::env::args().skip(1).map(|a| a.replace('_', "").parse().unwrap()).collect();
    let n = args.first().copied().unwrap_or(10_000_000);
    let m = args.get(1).copied().unwrap_or(1_000_000);
    println!("threads: {}", rayon::current_num_threads());

    // CDNOW: 2,357 customers.
    let rows = cdnow();
    let rfm: Vec<Rfm> = rows.iter().map(|r| r.rfm).collect();
    let reps = 20;
    let start = Instant::now();
    for _ in 0..reps {
        bgnbd::fit_rows(&rfm, &BgNbdFitOptions::default()).unwrap();
    }
    let bg_ms = start.elapsed().as_secs_f64() * 1e3 / f64::from(reps);
    let start = Instant::now();
    for _ in 0..reps {
        gamma_gamma::fit(&rows, &GammaGammaFitOptions::default()).unwrap();
    }
    let gg_ms = start.elapsed().as_secs_f64() * 1e3 / f64::from(reps);
    println!("CDNOW fit (mean of {reps}): BG/NBD {bg_ms:.2} ms, Gamma-Gamma {gg_ms:.2} ms");

    // Synthetic customers.
    let start = Instant::now();
    let rows = simulate(n);
    println!("simulated {n} customers in {:.2} s", start.elapsed().as_secs_f64());
    let rfm: Vec<Rfm> = rows.iter().map(|r| r.rfm).collect();

    let start = Instant::now();
    let stats = SufficientStats::from_rows(&rfm).unwrap();
    let grouping = start.elapsed().as_secs_f64();
    let start = Instant::now();
    let fit = bgnbd::fit(&stats, &BgNbdFitOptions::default()).unwrap();
    let fitting = start.elapsed().as_secs_f64();
    println!(
        "BG/NBD on {n}: grouping {grouping:.2} s ({} groups), fit {fitting:.2} s ({} iterations, converged {}), \
         total {:.2} s; {:?}",
        stats.groups(),
        fit.iterations,
        fit.converged,
        grouping + fitting,
        fit.params
    );
    let start = Instant::now();
    let gg = gamma_gamma::fit(&rows, &GammaGammaFitOptions::default()).unwrap();
    println!(
        "Gamma-Gamma on {} repeat customers: {:.2} s ({} iterations); {:?}",
        gg.customers,
        start.elapsed().as_secs_f64(),
        gg.iterations,
        gg.params
    );

    // Scoring: daily model (u = 1) with H = 365 days, and the same customers
    // and model in weeks (u = 7, H = 365/7), both at d = 10%.
    let sample = &rows[..m.min(rows.len())];
    let daily = Scorer::new(fit.params, gg.params, ClvConfig::new(365.0, 0.1, 1.0).unwrap());
    let weekly_rows: Vec<CustomerRow> = sample
        .iter()
        .map(|r| CustomerRow::new(r.rfm.frequency, r.rfm.recency / 7.0, r.rfm.age / 7.0, r.monetary_value))
        .collect();
    let weekly_params = BgNbdParams { alpha: fit.params.alpha / 7.0, ..fit.params };
    let weekly = Scorer::new(weekly_params, gg.params, ClvConfig::new(365.0 / 7.0, 0.1, 7.0).unwrap());
    for (name, scorer, rows) in
        [("weekly, 53 periods", &weekly, &weekly_rows[..]), ("daily, 365 periods", &daily, sample)]
    {
        let start = Instant::now();
        let scores = scorer.score_all(rows);
        let secs = start.elapsed().as_secs_f64();
        let ok = scores.iter().filter(|s| s.is_ok()).count();
        let total_clv: f64 = scores.iter().filter_map(|s| s.as_ref().ok()).map(|s| s.clv).sum();
        println!(
            "score_all {name}: {} customers in {secs:.2} s ({:.2} us/customer/thread), {ok} ok, mean CLV {:.0}",
            rows.len(),
            secs * 1e6 * rayon::current_num_threads() as f64 / rows.len() as f64,
            total_clv / ok as f64
        );
    }
}
