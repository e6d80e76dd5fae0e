//! Mini-batch k-means (Sculley 2010, "Web-scale k-means clustering"): each
//! step assigns a random batch to the nearest centres and moves every centre
//! towards its batch members with a per-centre learning rate 1 / (points seen),
//! so a centre is the running mean of everything ever assigned to it.
//! Approximate, but each step costs O(batch) instead of O(n).

use rand::{Rng, RngExt};

use super::chunks::nearest;

/// Refines `centroids` with at most `steps` batches of `batch_size` rows drawn
/// with replacement. Stops early once ten consecutive batches move no centre
/// further than `tolerance`. Returns the number of batches used.
pub fn refine(
    data: &[f64],
    dimension: usize,
    centroids: &mut [f64],
    batch_size: usize,
    steps: usize,
    tolerance: f64,
    rng: &mut impl Rng,
) -> usize {
    let rows = data.len() / dimension;
    let k = centroids.len() / dimension;
    let mut seen = vec![0u64; k];
    let mut batch_labels = vec![0usize; batch_size];
    let mut batch_rows = vec![0usize; batch_size];
    let mut quiet_steps = 0;
    let mut step = 0;
    while step < steps {
        step += 1;
        for (row, label) in batch_rows.iter_mut().zip(batch_labels.iter_mut()) {
            *row = rng.random_range(0..rows);
            *label = nearest(&data[*row * dimension..(*row + 1) * dimension], centroids, dimension).0;
        }
        let before = centroids.to_vec();
        for (&row, &label) in batch_rows.iter().zip(&batch_labels) {
            seen[label] += 1;
            let rate = 1.0 / seen[label] as f64;
            let centre = &mut centroids[label * dimension..(label + 1) * dimension];
            for (coordinate, value) in centre.iter_mut().zip(&data[row * dimension..(row + 1) * dimension]) {
                *coordinate += rate * (value - *coordinate);
            }
        }
        let largest_move = before
            .chunks_exact(dimension)
            .zip(centroids.chunks_exact(dimension))
            .map(|(old, new)| old.iter().zip(new).map(|(a, b)| (a - b) * (a - b)).sum::<f64>().sqrt())
            .fold(0.0, f64::max);
        quiet_steps = if largest_move <= tolerance { quiet_steps + 1 } else { 0 };
        if quiet_steps >= 10 {
            break;
        }
    }
    step
}
