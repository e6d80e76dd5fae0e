//! Exact Lloyd iterations accelerated with Hamerly's bounds (Hamerly 2010,
//! "Making k-means even faster").
//!
//! Every point keeps an upper bound on the distance to its centroid and a
//! lower bound on the distance to any other centroid. After centroids move by
//! δ, the upper bound grows by δ of its own centroid and the lower bound shrinks
//! by the largest δ of the others. A point whose upper bound is below both its
//! lower bound and half the distance from its centroid to the nearest other
//! centroid cannot change cluster, so its distances are not computed. The
//! assignments, and so the centroids, are exactly Lloyd's.

use rayon::prelude::*;

use super::chunks::{CHUNK_ROWS, nearest, squared_distance, two_nearest};

/// The result of one exact k-means fit.
#[derive(Debug, Clone)]
pub struct LloydOutcome {
    /// Row-major, `k × dimension`.
    pub centroids: Vec<f64>,
    /// The nearest final centroid of each row.
    pub labels: Vec<u32>,
    /// Σ squared distance of each row to its final centroid.
    pub inertia: f64,
    /// Assignment-and-update steps taken.
    pub iterations: usize,
    /// False when `max_iterations` ended the fit first.
    pub converged: bool,
}

/// How far each centroid moved in the last update, summarised for the bounds.
struct Movement {
    per_centroid: Vec<f64>,
    largest_index: usize,
    largest: f64,
    second_largest: f64,
}

impl Movement {
    fn new(per_centroid: Vec<f64>) -> Self {
        let (mut largest_index, mut largest, mut second_largest) = (0, 0.0, 0.0);
        for (index, &moved) in per_centroid.iter().enumerate() {
            if moved > largest {
                second_largest = largest;
                largest = moved;
                largest_index = index;
            } else if moved > second_largest {
                second_largest = moved;
            }
        }
        Self { per_centroid, largest_index, largest, second_largest }
    }

    /// The most any centroid other than `label` moved.
    fn largest_other(&self, label: usize) -> f64 {
        if label == self.largest_index { self.second_largest } else { self.largest }
    }
}

/// Per-point state carried between iterations.
struct Bounds {
    labels: Vec<u32>,
    upper: Vec<f64>,
    lower: Vec<f64>,
}

/// Runs exact k-means from `initial` centroids (row-major, `k × dimension`)
/// until no centroid moves further than `tolerance` or `max_iterations` steps.
/// A centroid that loses every point stays where it was.
pub fn fit_from(
    data: &[f64],
    dimension: usize,
    initial: Vec<f64>,
    max_iterations: usize,
    tolerance: f64,
) -> LloydOutcome {
    let rows = data.len() / dimension;
    let k = initial.len() / dimension;
    let mut centroids = initial;
    let mut bounds = Bounds { labels: vec![0; rows], upper: vec![0.0; rows], lower: vec![0.0; rows] };
    let mut movement: Option<Movement> = None;
    let mut iterations = 0;
    let mut converged = false;

    while iterations < max_iterations.max(1) {
        let separation = movement.as_ref().map(|_| half_separation(&centroids, dimension, k));
        let (sums, counts) =
            assignment_pass(data, dimension, &centroids, separation.as_deref(), movement.as_ref(), &mut bounds);
        let moved = update_centroids(&mut centroids, &sums, &counts, dimension);
        iterations += 1;
        let largest = moved.iter().cloned().fold(0.0, f64::max);
        movement = Some(Movement::new(moved));
        if largest <= tolerance {
            converged = true;
            break;
        }
    }

    let (labels, inertia) = final_assignment(data, dimension, &centroids, bounds.labels);
    LloydOutcome { centroids, labels, inertia, iterations, converged }
}

/// Half the distance from each centroid to its nearest other centroid.
fn half_separation(centroids: &[f64], dimension: usize, k: usize) -> Vec<f64> {
    (0..k)
        .map(|index| {
            let own = &centroids[index * dimension..(index + 1) * dimension];
            let nearest_other = centroids
                .chunks_exact(dimension)
                .enumerate()
                .filter(|(other, _)| *other != index)
                .map(|(_, other)| squared_distance(own, other))
                .fold(f64::INFINITY, f64::min);
            0.5 * nearest_other.sqrt()
        })
        .collect()
}

/// Assigns every row (using the bounds when `separation` is given, exactly
/// otherwise) and returns per-cluster coordinate sums and counts.
fn assignment_pass(
    data: &[f64],
    dimension: usize,
    centroids: &[f64],
    separation: Option<&[f64]>,
    movement: Option<&Movement>,
    bounds: &mut Bounds,
) -> (Vec<f64>, Vec<u64>) {
    let k = centroids.len() / dimension;
    let partials: Vec<(Vec<f64>, Vec<u64>)> = data
        .par_chunks(CHUNK_ROWS * dimension)
        .zip(bounds.labels.par_chunks_mut(CHUNK_ROWS))
        .zip(bounds.upper.par_chunks_mut(CHUNK_ROWS))
        .zip(bounds.lower.par_chunks_mut(CHUNK_ROWS))
        .map(|(((points, labels), upper), lower)| {
            let mut sums = vec![0.0; k * dimension];
            let mut counts = vec![0u64; k];
            for (index, point) in points.chunks_exact(dimension).enumerate() {
                let label = match (separation, movement) {
                    (Some(separation), Some(movement)) => {
                        let current = labels[index] as usize;
                        upper[index] += movement.per_centroid[current];
                        lower[index] -= movement.largest_other(current);
                        let threshold = separation[current].max(lower[index]);
                        if upper[index] <= threshold {
                            current
                        } else {
                            let own = &centroids[current * dimension..(current + 1) * dimension];
                            upper[index] = squared_distance(point, own).sqrt();
                            if upper[index] <= threshold {
                                current
                            } else {
                                reassign(point, centroids, dimension, index, labels, upper, lower)
                            }
                        }
                    }
                    _ => reassign(point, centroids, dimension, index, labels, upper, lower),
                };
                counts[label] += 1;
                for (sum, value) in sums[label * dimension..(label + 1) * dimension].iter_mut().zip(point) {
                    *sum += value;
                }
            }
            (sums, counts)
        })
        .collect();

    let mut sums = vec![0.0; k * dimension];
    let mut counts = vec![0u64; k];
    for (chunk_sums, chunk_counts) in partials {
        sums.iter_mut().zip(chunk_sums).for_each(|(total, part)| *total += part);
        counts.iter_mut().zip(chunk_counts).for_each(|(total, part)| *total += part);
    }
    (sums, counts)
}

/// Computes every distance for one row and resets its bounds.
fn reassign(
    point: &[f64],
    centroids: &[f64],
    dimension: usize,
    index: usize,
    labels: &mut [u32],
    upper: &mut [f64],
    lower: &mut [f64],
) -> usize {
    let (label, first, second) = two_nearest(point, centroids, dimension);
    labels[index] = label as u32;
    upper[index] = first.sqrt();
    lower[index] = second.sqrt();
    label
}

/// Moves each centroid to the mean of its rows; returns how far each moved.
fn update_centroids(centroids: &mut [f64], sums: &[f64], counts: &[u64], dimension: usize) -> Vec<f64> {
    centroids
        .chunks_exact_mut(dimension)
        .zip(sums.chunks_exact(dimension))
        .zip(counts)
        .map(|((centroid, sum), &count)| {
            if count == 0 {
                return 0.0;
            }
            let mut moved = 0.0;
            for (coordinate, total) in centroid.iter_mut().zip(sum) {
                let mean = total / count as f64;
                moved += (mean - *coordinate) * (mean - *coordinate);
                *coordinate = mean;
            }
            moved.sqrt()
        })
        .collect()
}

/// Exact nearest centroid of every row and the total squared distance.
pub fn assign_exactly(data: &[f64], dimension: usize, centroids: &[f64]) -> (Vec<u32>, f64) {
    final_assignment(data, dimension, centroids, vec![0; data.len() / dimension])
}

fn final_assignment(data: &[f64], dimension: usize, centroids: &[f64], mut labels: Vec<u32>) -> (Vec<u32>, f64) {
    let inertias: Vec<f64> = data
        .par_chunks(CHUNK_ROWS * dimension)
        .zip(labels.par_chunks_mut(CHUNK_ROWS))
        .map(|(points, labels)| {
            let mut inertia = 0.0;
            for (point, label) in points.chunks_exact(dimension).zip(labels.iter_mut()) {
                let (nearest_index, distance) = nearest(point, centroids, dimension);
                *label = nearest_index as u32;
                inertia += distance;
            }
            inertia
        })
        .collect();
    (labels, inertias.iter().sum())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Plain Lloyd, written the obvious way, as the oracle for the bounded version.
    fn plain_lloyd(data: &[f64], dimension: usize, mut centroids: Vec<f64>, iterations: usize) -> Vec<f64> {
        let k = centroids.len() / dimension;
        for _ in 0..iterations {
            let mut sums = vec![0.0; k * dimension];
            let mut counts = vec![0u64; k];
            for point in data.chunks_exact(dimension) {
                let (label, _) = nearest(point, &centroids, dimension);
                counts[label] += 1;
                for (sum, value) in sums[label * dimension..(label + 1) * dimension].iter_mut().zip(point) {
                    *sum += value;
                }
            }
            update_centroids(&mut centroids, &sums, &counts, dimension);
        }
        centroids
    }

    fn scattered(rows: usize) -> Vec<f64> {
        // A deterministic, irregular cloud (no clean clusters), where many points switch.
        (0..rows * 3).map(|i| (((i * 2_654_435_761) % 10_007) as f64 / 1000.0).sin() * 5.0 + (i % 7) as f64).collect()
    }

    #[test]
    fn bounded_iterations_match_plain_lloyd_step_for_step() {
        let data = scattered(5_000);
        let initial = data[..5 * 3].to_vec();
        for steps in [1, 2, 5, 20] {
            let bounded = fit_from(&data, 3, initial.clone(), steps, 0.0);
            let plain = plain_lloyd(&data, 3, initial.clone(), bounded.iterations);
            for (a, b) in bounded.centroids.iter().zip(&plain) {
                assert!((a - b).abs() < 1e-9, "after {steps} steps: {a} vs {b}");
            }
        }
    }

    #[test]
    fn reported_inertia_matches_the_labels() {
        let data = scattered(3_000);
        let outcome = fit_from(&data, 3, data[..4 * 3].to_vec(), 100, 1e-8);
        let recomputed: f64 = data
            .chunks_exact(3)
            .zip(&outcome.labels)
            .map(|(point, &label)| {
                squared_distance(point, &outcome.centroids[label as usize * 3..label as usize * 3 + 3])
            })
            .sum();
        assert!((recomputed - outcome.inertia).abs() < 1e-6 * recomputed.max(1.0));
        assert!((assign_exactly(&data, 3, &outcome.centroids).1 - outcome.inertia).abs() < 1e-6 * recomputed.max(1.0));
    }
}
