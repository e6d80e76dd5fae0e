//! `make bench`: automatic model selection on 2,000 synthetic daily series
//! (730 days of history with weekly and yearly seasonality and noise, 10%
//! intermittent), forecasting 28 days that are then compared with a held-out
//! truth. Prints the wall and CPU time of the whole automatic run (rayon, every core),
//! and per single method its CPU time per series and mean MASE on the holdout,
//! beside the seasonal naive method's and the automatic choice's on the same series.

use std::time::{Duration, Instant};

use patron_forecast::models::method::{self, FitContext};
use patron_forecast::models::selection::{self, BacktestSettings, SelectionSettings};
use patron_forecast::models::{Method, intermittent, metrics};
use rand::rngs::StdRng;
use rand::{RngExt, SeedableRng};
use rand_distr::{Distribution, Normal};
use rayon::prelude::*;

const SERIES: usize = 2_000;
const HISTORY: usize = 730;
const HORIZON: usize = 28;
const INTERMITTENT_SHARE: f64 = 0.10;

/// One synthetic series of HISTORY + HORIZON days.
fn synthetic(seed: u64) -> Vec<f64> {
    let mut rng = StdRng::seed_from_u64(seed);
    let length = HISTORY + HORIZON;
    if rng.random::<f64>() < INTERMITTENT_SHARE {
        // Sparse demand: a sale on a quarter of days or fewer, sizes 1-12.
        let probability = 0.05 + 0.2 * rng.random::<f64>();
        return (0..length)
            .map(|_| if rng.random::<f64>() < probability { f64::from(rng.random_range(1..=12u32)) } else { 0.0 })
            .collect();
    }
    let level = 50.0 + 450.0 * rng.random::<f64>();
    let slope = level * (rng.random::<f64>() - 0.5) * 0.001;
    let weekly_amplitude = level * (0.1 + 0.3 * rng.random::<f64>());
    let yearly_amplitude = level * (0.1 + 0.4 * rng.random::<f64>());
    let weekly_phase = rng.random::<f64>() * std::f64::consts::TAU;
    let yearly_phase = rng.random::<f64>() * std::f64::consts::TAU;
    let weekend_boost = level * 0.2 * rng.random::<f64>();
    let noise = Normal::new(0.0, level * (0.05 + 0.1 * rng.random::<f64>())).unwrap_or_else(|_| unreachable!());
    (0..length)
        .map(|t| {
            let time = t as f64;
            let weekly = weekly_amplitude * (std::f64::consts::TAU * time / 7.0 + weekly_phase).sin()
                + if t % 7 >= 5 { weekend_boost } else { 0.0 };
            let yearly = yearly_amplitude * (std::f64::consts::TAU * time / 365.25 + yearly_phase).sin();
            let value: f64 = level + slope * time + weekly + yearly + noise.sample(&mut rng);
            value.max(0.0)
        })
        .collect()
}

/// CPU time the calling thread has run (Linux: /proc/thread-self/schedstat),
/// so per-series times do not count the waits of a shared, loaded machine.
fn thread_cpu_time() -> Option<Duration> {
    let stat = std::fs::read_to_string("/proc/thread-self/schedstat").ok()?;
    let nanoseconds: u64 = stat.split_whitespace().next()?.parse().ok()?;
    Some(Duration::from_nanos(nanoseconds))
}

/// Runs `work`, returning its result and the CPU time it took (wall time
/// where CPU time cannot be read).
fn timed<T>(work: impl FnOnce() -> T) -> (T, Duration) {
    let (cpu, wall) = (thread_cpu_time(), Instant::now());
    let result = work();
    let elapsed = match (cpu, thread_cpu_time()) {
        (Some(before), Some(after)) => after.saturating_sub(before),
        _ => wall.elapsed(),
    };
    (result, elapsed)
}

/// MASE of a forecast on the holdout, scaled by the history's one-step
/// seasonal naive (period 7) in-sample MAE, as for every method alike.
fn holdout_mase(history: &[f64], holdout: &[f64], forecast: &[f64]) -> Option<f64> {
    let scale = metrics::mase_scale(history, 7)?;
    Some(metrics::mean_absolute_error(holdout, forecast) / scale)
}

/// Mean MASE over the smooth series and over the intermittent ones.
fn by_kind(scores: &[Option<f64>], intermittent: &[bool]) -> (f64, f64) {
    let pick = |wanted: bool| -> Vec<f64> {
        scores.iter().zip(intermittent).filter(|(_, i)| **i == wanted).filter_map(|(s, _)| *s).collect()
    };
    (mean(&pick(false)), mean(&pick(true)))
}

fn mean(values: &[f64]) -> f64 {
    if values.is_empty() { f64::NAN } else { values.iter().sum::<f64>() / values.len() as f64 }
}

fn shown(value: f64) -> String {
    if value.is_finite() { format!("{value:.3}") } else { "n/a".to_owned() }
}

struct Row {
    name: String,
    mean_mase: f64,
    /// Mean MASE on the smooth and on the intermittent series.
    by_kind: (f64, f64),
    scored: usize,
    /// The automatic choice's mean MASE on the same series (a method that
    /// cannot forecast a series, e.g. MSTL_ETS without a season, is compared
    /// where it can).
    automatic_on_same: f64,
    cpu_per_series: Duration,
    wall: Duration,
}

fn main() {
    let threads = rayon::current_num_threads();
    println!("forecast bench: {SERIES} daily series, {HISTORY} days of history, horizon {HORIZON}, {threads} threads");
    let data: Vec<Vec<f64>> = (0..SERIES as u64).map(synthetic).collect();
    let intermittent: Vec<bool> =
        data.iter().map(|series| intermittent::classify(&series[..HISTORY]).is_intermittent()).collect();
    let settings = SelectionSettings {
        candidates: Vec::new(),
        backtest: BacktestSettings { windows: 3, horizon: HORIZON, step: HORIZON },
        combination_size: 3,
        seasonal_periods: None,
        calendar_periods: vec![7, 365],
        levels: vec![80.0, 95.0],
        required: None,
    };

    // Automatic selection over the whole pool.
    let started = Instant::now();
    let automatic: Vec<(selection::SeriesForecast, Duration)> = data
        .par_iter()
        .map(|series| timed(|| selection::forecast_series(&series[..HISTORY], HORIZON, &settings)))
        .map(|(forecast, elapsed)| match forecast {
            Ok(forecast) => (forecast, elapsed),
            Err(too_short) => panic!("synthetic series too short: {too_short}"),
        })
        .collect();
    let automatic_wall = started.elapsed();

    let mut rows = Vec::new();
    let automatic_scores: Vec<Option<f64>> = automatic
        .iter()
        .zip(&data)
        .map(|((forecast, _), series)| holdout_mase(&series[..HISTORY], &series[HISTORY..], &forecast.mean))
        .collect();
    let automatic_mase: Vec<f64> = automatic_scores.iter().flatten().copied().collect();
    let (mut covered_95, mut points) = (0usize, 0usize);
    for ((forecast, _), series) in automatic.iter().zip(&data) {
        for ((lower, upper), actual) in forecast.intervals[1].iter().zip(&series[HISTORY..]) {
            points += 1;
            covered_95 += usize::from(actual >= lower && actual <= upper);
        }
    }
    rows.push(Row {
        name: "AUTO (selection)".to_owned(),
        mean_mase: mean(&automatic_mase),
        by_kind: by_kind(&automatic_scores, &intermittent),
        scored: automatic_mase.len(),
        automatic_on_same: mean(&automatic_mase),
        cpu_per_series: automatic.iter().map(|(_, d)| *d).sum::<Duration>() / SERIES as u32,
        wall: automatic_wall,
    });

    // Every single method, fitted on the whole history with the periods the
    // selection used for that series.
    for method in Method::ALL.into_iter().filter(|m| *m != Method::Combination) {
        let started = Instant::now();
        let results: Vec<(Option<f64>, Duration)> = data
            .par_iter()
            .zip(&automatic)
            .map(|(series, (auto, _))| {
                let (fitted, elapsed) = timed(|| {
                    let mut context = FitContext::final_fit();
                    method::forecast(method, &series[..HISTORY], &auto.periods, HORIZON, &mut context)
                });
                let mase = fitted.ok().and_then(|f| {
                    let clamped: Vec<f64> = f.mean.iter().map(|v| v.max(0.0)).collect();
                    holdout_mase(&series[..HISTORY], &series[HISTORY..], &clamped)
                });
                (mase, elapsed)
            })
            .collect();
        let wall = started.elapsed();
        let scores: Vec<f64> = results.iter().filter_map(|(m, _)| *m).collect();
        let per_series: Vec<Option<f64>> = results.iter().map(|(m, _)| *m).collect();
        let automatic_on_same: Vec<f64> =
            per_series.iter().zip(&automatic_scores).filter_map(|(single, automatic)| single.and(*automatic)).collect();
        rows.push(Row {
            name: method.name().to_owned(),
            mean_mase: mean(&scores),
            by_kind: by_kind(&per_series, &intermittent),
            scored: scores.len(),
            automatic_on_same: mean(&automatic_on_same),
            cpu_per_series: results.iter().map(|(_, d)| *d).sum::<Duration>() / SERIES as u32,
            wall,
        });
    }

    let naive = rows.iter().find(|r| r.name == "SEASONAL_NAIVE").map(|r| r.mean_mase).unwrap_or(f64::NAN);
    println!();
    println!(
        "| method            | mean MASE (holdout) | vs seasonal naive | smooth | intermittent | series scored | AUTO on these | CPU time/series | wall, {threads} threads |"
    );
    println!(
        "|-------------------|--------------------:|------------------:|-------:|-------------:|--------------:|--------------:|----------------:|----------------:|"
    );
    for row in &rows {
        println!(
            "| {:<17} | {:>19.4} | {:>16.1}% | {:>6} | {:>12} | {:>13} | {:>13.4} | {:>12.2} ms | {:>13.2} s |",
            row.name,
            row.mean_mase,
            100.0 * row.mean_mase / naive,
            shown(row.by_kind.0),
            shown(row.by_kind.1),
            row.scored,
            row.automatic_on_same,
            row.cpu_per_series.as_secs_f64() * 1e3,
            row.wall.as_secs_f64(),
        );
    }
    let mut chosen: Vec<(Method, usize)> = Vec::new();
    for (forecast, _) in &automatic {
        match chosen.iter_mut().find(|(m, _)| *m == forecast.method) {
            Some((_, count)) => *count += 1,
            None => chosen.push((forecast.method, 1)),
        }
    }
    chosen.sort_by_key(|(_, count)| std::cmp::Reverse(*count));
    let summary: Vec<String> = chosen.iter().map(|(m, c)| format!("{} {c}", m.name())).collect();
    println!();
    let automatic_cpu = automatic.iter().map(|(_, d)| *d).sum::<Duration>();
    println!("automatic selection: all {SERIES} series in {:.2} s wall (target < 40 s)", automatic_wall.as_secs_f64());
    println!(
        "automatic selection CPU time: {:.2} s, i.e. {:.2} s wall on {threads} otherwise idle cores",
        automatic_cpu.as_secs_f64(),
        automatic_cpu.as_secs_f64() / threads as f64
    );
    println!("chosen methods: {}", summary.join(", "));
    println!(
        "95% interval holdout coverage of the automatic choice: {:.1}% of {points} points",
        100.0 * covered_95 as f64 / points as f64
    );
    let best_single = rows[1..].iter().map(|r| r.mean_mase).fold(f64::INFINITY, f64::min);
    println!(
        "automatic mean MASE {:.4} vs best single method {:.4}: {}",
        rows[0].mean_mase,
        best_single,
        if rows[0].mean_mase < best_single { "below every single method" } else { "NOT below every single method" }
    );
    let beaten_on_same = rows[1..].iter().filter(|r| r.automatic_on_same < r.mean_mase).count();
    println!(
        "on the series each method forecasts, the automatic choice is below {beaten_on_same} of {} single methods",
        rows.len() - 1
    );
    let mut reasons = [0usize; 3];
    for (forecast, _) in &automatic {
        let reason = forecast.backtest.as_ref().map(|b| b.reason.as_str()).unwrap_or_default();
        let kind = if reason.contains(" kept: ") {
            0
        } else if reason.contains("significantly") {
            1
        } else {
            2
        };
        reasons[kind] += 1;
    }
    println!(
        "selection: preferred method kept over a not significantly better one {}, replaced by a significantly better one {}, preferred method best outright or fallback {}",
        reasons[0], reasons[1], reasons[2]
    );
}
