//! Greedy k-means++ seeding (Arthur & Vassilvitskii 2007, "k-means++: the
//! advantages of careful seeding", with the greedy variant of section 5).
//!
//! Each new centre is drawn with probability proportional to D(x)², the squared
//! distance to the nearest centre chosen so far. The greedy variant draws
//! `2 + ⌊ln k⌋` candidates per step and keeps the one that lowers the potential
//! Σ D(x)² most, which makes a poor seeding far less likely than plain k-means++.

use rand::{Rng, RngExt};
use rayon::prelude::*;

use super::chunks::{CHUNK_ROWS, squared_distance};

/// Chooses `k` rows of `data` (row-major, `dimension` columns) as initial centres.
/// Requires at least `k` rows and `k >= 1`.
pub fn greedy_kmeans_plus_plus(data: &[f64], dimension: usize, k: usize, rng: &mut impl Rng) -> Vec<f64> {
    let rows = data.len() / dimension;
    let mut centroids = Vec::with_capacity(k * dimension);
    let first = rng.random_range(0..rows);
    centroids.extend_from_slice(row(data, dimension, first));

    let mut closest = vec![0.0; rows];
    let mut chunk_potentials = update_closest(data, dimension, row(data, dimension, first), &mut closest, true);
    let trials = 2 + (k as f64).ln().floor() as usize;

    for _ in 1..k {
        let potential: f64 = chunk_potentials.iter().sum();
        let candidates: Vec<usize> = (0..trials)
            .map(|_| draw_proportional(&closest, &chunk_potentials, potential, rng.random::<f64>(), rng))
            .collect();
        let candidate_potentials = potentials_with(data, dimension, &closest, &candidates);
        let best = candidate_potentials
            .iter()
            .enumerate()
            .fold((0, f64::INFINITY), |best, (index, &value)| if value < best.1 { (index, value) } else { best })
            .0;
        let chosen = row(data, dimension, candidates[best]);
        centroids.extend_from_slice(chosen);
        chunk_potentials = update_closest(data, dimension, chosen, &mut closest, false);
    }
    centroids
}

fn row(data: &[f64], dimension: usize, index: usize) -> &[f64] {
    &data[index * dimension..(index + 1) * dimension]
}

/// Lowers every `closest` to its distance from `centre` (or sets it, on the
/// first call) and returns the potential of each chunk.
fn update_closest(data: &[f64], dimension: usize, centre: &[f64], closest: &mut [f64], first: bool) -> Vec<f64> {
    data.par_chunks(CHUNK_ROWS * dimension)
        .zip(closest.par_chunks_mut(CHUNK_ROWS))
        .map(|(points, distances)| {
            let mut potential = 0.0;
            for (point, distance) in points.chunks_exact(dimension).zip(distances.iter_mut()) {
                let to_centre = squared_distance(point, centre);
                if first || to_centre < *distance {
                    *distance = to_centre;
                }
                potential += *distance;
            }
            potential
        })
        .collect()
}

/// The potential Σ min(D(x)², d(x, candidate)²) for each candidate.
fn potentials_with(data: &[f64], dimension: usize, closest: &[f64], candidates: &[usize]) -> Vec<f64> {
    let candidate_rows: Vec<&[f64]> = candidates.iter().map(|&index| row(data, dimension, index)).collect();
    let per_chunk: Vec<Vec<f64>> = data
        .par_chunks(CHUNK_ROWS * dimension)
        .zip(closest.par_chunks(CHUNK_ROWS))
        .map(|(points, distances)| {
            let mut sums = vec![0.0; candidate_rows.len()];
            for (point, &distance) in points.chunks_exact(dimension).zip(distances) {
                for (sum, candidate) in sums.iter_mut().zip(&candidate_rows) {
                    *sum += squared_distance(point, candidate).min(distance);
                }
            }
            sums
        })
        .collect();
    let mut totals = vec![0.0; candidates.len()];
    for sums in per_chunk {
        for (total, sum) in totals.iter_mut().zip(sums) {
            *total += sum;
        }
    }
    totals
}

/// Draws a row with probability proportional to its `closest` value, using the
/// chunk potentials to skip whole chunks. `uniform` is in [0, 1).
fn draw_proportional(
    closest: &[f64],
    chunk_potentials: &[f64],
    potential: f64,
    uniform: f64,
    rng: &mut impl Rng,
) -> usize {
    if potential <= 0.0 || !potential.is_finite() {
        // Every row coincides with a centre already; any row will do.
        return rng.random_range(0..closest.len());
    }
    let mut remaining = uniform * potential;
    let mut last_positive_chunk = 0;
    for (chunk, &chunk_potential) in chunk_potentials.iter().enumerate() {
        if chunk_potential <= 0.0 {
            continue;
        }
        last_positive_chunk = chunk;
        if remaining >= chunk_potential {
            remaining -= chunk_potential;
            continue;
        }
        let start = chunk * CHUNK_ROWS;
        for (offset, &distance) in closest[start..].iter().take(CHUNK_ROWS).enumerate() {
            if distance > 0.0 {
                if remaining < distance {
                    return start + offset;
                }
                remaining -= distance;
            }
        }
    }
    // Rounding left a sliver past the end: take the last row with weight.
    let start = last_positive_chunk * CHUNK_ROWS;
    start + closest[start..].iter().take(CHUNK_ROWS).rposition(|&d| d > 0.0).unwrap_or(0)
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::SeedableRng;
    use rand::rngs::Xoshiro256PlusPlus;

    #[test]
    fn picks_distinct_rows_and_covers_separated_groups() {
        // Three tight groups far apart: the seeding must take one row from each.
        let mut data = Vec::new();
        for centre in [0.0, 100.0, 200.0] {
            for offset in 0..50 {
                data.extend_from_slice(&[centre + offset as f64 * 0.01, -centre]);
            }
        }
        for seed in 0..20 {
            let mut rng = Xoshiro256PlusPlus::seed_from_u64(seed);
            let centres = greedy_kmeans_plus_plus(&data, 2, 3, &mut rng);
            let mut groups: Vec<i64> = centres.chunks(2).map(|c| (c[0] / 100.0).round() as i64).collect();
            groups.sort_unstable();
            assert_eq!(groups, vec![0, 1, 2], "seed {seed}");
        }
    }

    #[test]
    fn same_seed_same_centres() {
        let data: Vec<f64> = (0..3000).map(|i| ((i * 7919) % 1000) as f64 / 10.0).collect();
        let first = greedy_kmeans_plus_plus(&data, 3, 5, &mut Xoshiro256PlusPlus::seed_from_u64(9));
        let second = greedy_kmeans_plus_plus(&data, 3, 5, &mut Xoshiro256PlusPlus::seed_from_u64(9));
        assert_eq!(first, second);
    }

    #[test]
    fn identical_rows_still_give_k_centres() {
        let data = vec![1.0; 40];
        let centres = greedy_kmeans_plus_plus(&data, 2, 4, &mut Xoshiro256PlusPlus::seed_from_u64(1));
        assert_eq!(centres.len(), 8);
    }
}
