//! Seeded synthetic data with known clusters, for tests and the benchmark.

use ndarray::Array2;
use rand::rngs::Xoshiro256PlusPlus;
use rand::{RngExt, SeedableRng};

/// `rows` points around `centres` (row-major, `dimension` columns), a centre
/// per row in turn, with Gaussian spread `spread` per coordinate. A share
/// `noise` of the rows is instead uniform over the centres' bounding box
/// widened by 3 spreads; their true label is their nearest centre.
/// Returns the points and each point's true centre.
pub fn blobs(
    rows: usize,
    centres: &[f64],
    dimension: usize,
    spread: f64,
    noise: f64,
    seed: u64,
) -> (Array2<f64>, Vec<u32>) {
    let k = centres.len() / dimension;
    let mut rng = Xoshiro256PlusPlus::seed_from_u64(seed);
    let (low, high): (Vec<f64>, Vec<f64>) = (0..dimension)
        .map(|column| {
            let values = centres.iter().skip(column).step_by(dimension);
            let low = values.clone().cloned().fold(f64::INFINITY, f64::min) - 3.0 * spread;
            let high = values.cloned().fold(f64::NEG_INFINITY, f64::max) + 3.0 * spread;
            (low, high)
        })
        .unzip();
    let mut data = Vec::with_capacity(rows * dimension);
    let mut labels = Vec::with_capacity(rows);
    for row in 0..rows {
        if rng.random::<f64>() < noise {
            let point: Vec<f64> =
                (0..dimension).map(|column| low[column] + rng.random::<f64>() * (high[column] - low[column])).collect();
            labels.push(super::chunks::nearest(&point, centres, dimension).0 as u32);
            data.extend(point);
        } else {
            let centre = row % k;
            for column in 0..dimension {
                data.push(centres[centre * dimension + column] + spread * standard_normal(&mut rng));
            }
            labels.push(centre as u32);
        }
    }
    let points = Array2::from_shape_vec((rows, dimension), data).unwrap_or_else(|_| Array2::zeros((0, dimension)));
    (points, labels)
}

/// `k` centres in `dimension` columns, uniform in [-scale, scale], at least
/// `min_separation` apart (redrawn until they are).
pub fn separated_centres(k: usize, dimension: usize, scale: f64, min_separation: f64, seed: u64) -> Vec<f64> {
    let mut rng = Xoshiro256PlusPlus::seed_from_u64(seed);
    let mut centres: Vec<f64> = Vec::with_capacity(k * dimension);
    while centres.len() < k * dimension {
        let candidate: Vec<f64> = (0..dimension).map(|_| (rng.random::<f64>() * 2.0 - 1.0) * scale).collect();
        let far_enough = centres
            .chunks_exact(dimension)
            .all(|centre| super::chunks::squared_distance(centre, &candidate).sqrt() >= min_separation);
        if far_enough {
            centres.extend(candidate);
        }
    }
    centres
}

/// Box–Muller: one standard normal draw from two uniforms.
fn standard_normal(rng: &mut Xoshiro256PlusPlus) -> f64 {
    let uniform: f64 = 1.0 - rng.random::<f64>(); // (0, 1], so the logarithm is finite
    let angle: f64 = rng.random::<f64>() * std::f64::consts::TAU;
    (-2.0 * uniform.ln()).sqrt() * angle.cos()
}
