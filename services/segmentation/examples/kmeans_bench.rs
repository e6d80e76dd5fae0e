//! `make bench`: Patron's k-means against linfa-clustering's stock `KMeans` on
//! 1,000,000 × 6 fixed-seed blobs (k = 8) plus uniform noise, in one run, on
//! the same rayon pool. Prints a results table.
//!
//! Run: `cargo run --release -p patron-segmentation --example kmeans_bench`

use std::time::{Duration, Instant};

use linfa::DatasetBase;
use linfa::prelude::{Fit, Predict};
use linfa_clustering::{KMeans, KMeansInit};
use ndarray::{Array1, Array2};
use patron_segmentation::kmeans::synthetic::{blobs, separated_centres};
use patron_segmentation::kmeans::{Initialisation, KMeansParams};
use rand_xoshiro::Xoshiro256Plus;
use rand_xoshiro::rand_core::SeedableRng;

const ROWS: usize = 1_000_000;
const DIMENSION: usize = 6;
const K: usize = 8;
const SEED: u64 = 2026;
const RESTARTS: usize = 10;

fn main() {
    let centres = separated_centres(K, DIMENSION, 10.0, 8.0, SEED);
    let (points, _) = blobs(ROWS, &centres, DIMENSION, 1.0, 0.02, SEED + 1);
    let dataset = DatasetBase::from(points.clone());
    println!(
        "k-means benchmark: {ROWS} x {DIMENSION} blobs, k = {K}, 2% noise, seed {SEED}, {} rayon threads",
        rayon::current_num_threads()
    );

    // The headline: each library's fit with 10 initialisations, same seed, same threads.
    let (ours, ours_time) = timed(|| KMeansParams::new(K).n_init(RESTARTS).seed(SEED).fit(&dataset).expect("our fit"));
    let ours_inertia = inertia_of(&points, &ours.centroids);
    let (stock, stock_time) = timed(|| {
        KMeans::params_with_rng(K, Xoshiro256Plus::seed_from_u64(SEED))
            .n_runs(RESTARTS)
            .fit(&dataset)
            .expect("linfa fit")
    });
    let stock_inertia = inertia_of(&points, stock.centroids());

    // A one-iteration fit each, from the same centroids: one Lloyd step plus each
    // library's fixed costs (ours: a finiteness check and a final exact assignment).
    let start: Array2<f64> = ours.centroids.clone();
    let (_, ours_step) = timed(|| {
        KMeansParams::new(K)
            .initialisation(Initialisation::Precomputed(start.clone()))
            .max_iterations(1)
            .fit(&dataset)
            .expect("one step")
    });
    let (_, stock_step) = timed(|| {
        KMeans::params_with_rng(K, Xoshiro256Plus::seed_from_u64(SEED))
            .init_method(KMeansInit::Precomputed(start.clone()))
            .n_runs(1)
            .max_n_iterations(1)
            .fit(&dataset)
            .expect("one step")
    });

    // Best of 10 seeds: single-initialisation fits of both libraries.
    let mut single_ours = Vec::new();
    let mut single_stock = Vec::new();
    for seed in 0..10 {
        let model = KMeansParams::new(K).n_init(1).seed(seed).fit(&dataset).expect("single fit");
        single_ours.push(inertia_of(&points, &model.centroids));
        let model = KMeans::params_with_rng(K, Xoshiro256Plus::seed_from_u64(seed))
            .n_runs(1)
            .fit(&dataset)
            .expect("single linfa fit");
        single_stock.push(inertia_of(&points, model.centroids()));
    }
    let best = single_ours.iter().chain(&single_stock).cloned().fold(f64::INFINITY, f64::min).min(ours_inertia);
    let within = |values: &[f64]| values.iter().filter(|&&value| value <= best * 1.001).count();

    println!();
    println!(
        "| fit ({RESTARTS} initialisations)       | time (s) | iterations | 1-step fit (ms) | inertia          | vs best of 10 seeds |"
    );
    println!(
        "|---------------------------------|---------:|-----------:|----------------:|-----------------:|--------------------:|"
    );
    println!(
        "| patron (greedy k-means++, Hamerly) | {:8.3} | {:10} | {:15.1} | {:16.1} | {:+18.4}% |",
        ours_time.as_secs_f64(),
        ours.iterations,
        ours_step.as_secs_f64() * 1e3,
        ours_inertia,
        (ours_inertia / best - 1.0) * 100.0
    );
    println!(
        "| linfa-clustering 0.8.1 KMeans   | {:8.3} | {:>10} | {:15.1} | {:16.1} | {:+18.4}% |",
        stock_time.as_secs_f64(),
        "not exposed",
        stock_step.as_secs_f64() * 1e3,
        stock_inertia,
        (stock_inertia / best - 1.0) * 100.0
    );
    println!();
    println!(
        "speedup (linfa time / patron time): {:.1}x (target >= 8x)",
        stock_time.as_secs_f64() / ours_time.as_secs_f64()
    );
    println!("patron inertia vs best of 10 seeds: {:+.4}% (target within 0.1%)", (ours_inertia / best - 1.0) * 100.0);
    println!(
        "single-initialisation fits within 0.1% of the best: patron {}/10, linfa {}/10",
        within(&single_ours),
        within(&single_stock)
    );
}

fn timed<T>(run: impl FnOnce() -> T) -> (T, Duration) {
    let start = Instant::now();
    let value = run();
    (value, start.elapsed())
}

/// Σ squared distance to the nearest centroid, computed the same way for both libraries.
fn inertia_of(points: &Array2<f64>, centroids: &Array2<f64>) -> f64 {
    let labels: Array1<usize> = nearest_labels(points, centroids);
    points
        .rows()
        .into_iter()
        .zip(labels.iter())
        .map(|(row, &label)| row.iter().zip(centroids.row(label).iter()).map(|(a, b)| (a - b) * (a - b)).sum::<f64>())
        .sum()
}

fn nearest_labels(points: &Array2<f64>, centroids: &Array2<f64>) -> Array1<usize> {
    let model = patron_segmentation::kmeans::KMeansModel {
        centroids: centroids.clone(),
        inertia: 0.0,
        iterations: 0,
        converged: true,
        training_labels: Vec::new(),
    };
    model.predict(points)
}
