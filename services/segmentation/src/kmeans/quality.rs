//! Clustering quality scores: silhouette on a seeded sample,
//! Calinski–Harabasz, and the adjusted Rand index between two partitions.

use std::collections::HashMap;

use rand::rngs::Xoshiro256PlusPlus;
use rand::{RngExt, SeedableRng};
use rayon::prelude::*;

use super::chunks::{CHUNK_ROWS, squared_distance};

/// `size` distinct row indices drawn with the seed, ascending; every row when
/// there are no more than `size`.
pub fn sample_rows(rows: usize, size: usize, seed: u64) -> Vec<usize> {
    if rows <= size {
        return (0..rows).collect();
    }
    // Partial Fisher–Yates: the first `size` slots end up a uniform sample.
    let mut indices: Vec<usize> = (0..rows).collect();
    let mut rng = Xoshiro256PlusPlus::seed_from_u64(seed);
    for slot in 0..size {
        let pick = rng.random_range(slot..rows);
        indices.swap(slot, pick);
    }
    indices.truncate(size);
    indices.sort_unstable();
    indices
}

/// Mean silhouette coefficient (Rousseeuw 1987) of the sampled rows, computed
/// among the sampled rows only: s = (b − a) / max(a, b) with a the mean
/// distance to the row's own cluster and b the smallest mean distance to
/// another cluster. A row alone in its cluster scores 0.
pub fn silhouette(data: &[f64], dimension: usize, labels: &[u32], k: usize, sample: &[usize]) -> f64 {
    if sample.len() < 2 || k < 2 {
        return 0.0;
    }
    let mut sizes = vec![0usize; k];
    for &row in sample {
        sizes[labels[row] as usize] += 1;
    }
    let point = |row: usize| &data[row * dimension..(row + 1) * dimension];
    let scores: Vec<f64> = sample
        .par_iter()
        .map(|&row| {
            let own = labels[row] as usize;
            if sizes[own] < 2 {
                return 0.0;
            }
            let mut sums = vec![0.0; k];
            for &other in sample {
                sums[labels[other] as usize] += squared_distance(point(row), point(other)).sqrt();
            }
            let within = sums[own] / (sizes[own] - 1) as f64;
            let between = (0..k)
                .filter(|&cluster| cluster != own && sizes[cluster] > 0)
                .map(|cluster| sums[cluster] / sizes[cluster] as f64)
                .fold(f64::INFINITY, f64::min);
            let scale = within.max(between);
            if !between.is_finite() || scale <= 0.0 { 0.0 } else { (between - within) / scale }
        })
        .collect();
    scores.iter().sum::<f64>() / scores.len() as f64
}

/// Per-cluster means and sizes of `labels` over `data`.
pub fn cluster_means(data: &[f64], dimension: usize, labels: &[u32], k: usize) -> (Vec<f64>, Vec<u64>) {
    let partials: Vec<(Vec<f64>, Vec<u64>)> = data
        .par_chunks(CHUNK_ROWS * dimension)
        .zip(labels.par_chunks(CHUNK_ROWS))
        .map(|(points, labels)| {
            let mut sums = vec![0.0; k * dimension];
            let mut counts = vec![0u64; k];
            for (point, &label) in points.chunks_exact(dimension).zip(labels) {
                let label = label as usize;
                counts[label] += 1;
                sums[label * dimension..(label + 1) * dimension].iter_mut().zip(point).for_each(|(s, v)| *s += v);
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
    for (mean, &count) in sums.chunks_exact_mut(dimension).zip(&counts) {
        if count > 0 {
            mean.iter_mut().for_each(|value| *value /= count as f64);
        }
    }
    (sums, counts)
}

/// Calinski–Harabasz index (1974): between-cluster over within-cluster
/// dispersion, each divided by its degrees of freedom, (B / (k − 1)) / (W / (n − k)).
/// 0 when it is undefined (fewer than two non-empty clusters or n <= k); when
/// every row sits on its centroid (W = 0) it is infinite, reported as f64::MAX.
pub fn calinski_harabasz(data: &[f64], dimension: usize, labels: &[u32], k: usize) -> f64 {
    let rows = labels.len();
    let (means, counts) = cluster_means(data, dimension, labels, k);
    let clusters = counts.iter().filter(|&&count| count > 0).count();
    if clusters < 2 || rows <= clusters {
        return 0.0;
    }
    let mut overall = vec![0.0; dimension];
    for (mean, &count) in means.chunks_exact(dimension).zip(&counts) {
        overall.iter_mut().zip(mean).for_each(|(o, m)| *o += m * count as f64 / rows as f64);
    }
    let between: f64 = means
        .chunks_exact(dimension)
        .zip(&counts)
        .map(|(mean, &count)| count as f64 * squared_distance(mean, &overall))
        .sum();
    let within_parts: Vec<f64> = data
        .par_chunks(CHUNK_ROWS * dimension)
        .zip(labels.par_chunks(CHUNK_ROWS))
        .map(|(points, labels)| {
            points
                .chunks_exact(dimension)
                .zip(labels)
                .map(|(point, &label)| {
                    let label = label as usize;
                    squared_distance(point, &means[label * dimension..(label + 1) * dimension])
                })
                .sum()
        })
        .collect();
    let within: f64 = within_parts.iter().sum();
    if within <= 0.0 {
        return f64::MAX;
    }
    (between / (clusters - 1) as f64) / (within / (rows - clusters) as f64)
}

/// Adjusted Rand index (Hubert & Arabie 1985) of two labelings of the same
/// rows: 1 for identical partitions up to renaming, about 0 for chance.
pub fn adjusted_rand_index(first: &[u32], second: &[u32]) -> f64 {
    let rows = first.len().min(second.len());
    let pairs = |count: u64| (count * count.saturating_sub(1)) as f64 / 2.0;
    let mut cells: HashMap<(u32, u32), u64> = HashMap::new();
    let mut rows_of_first: HashMap<u32, u64> = HashMap::new();
    let mut rows_of_second: HashMap<u32, u64> = HashMap::new();
    for (&a, &b) in first.iter().zip(second) {
        *cells.entry((a, b)).or_default() += 1;
        *rows_of_first.entry(a).or_default() += 1;
        *rows_of_second.entry(b).or_default() += 1;
    }
    let index: f64 = cells.values().map(|&count| pairs(count)).sum();
    let first_pairs: f64 = rows_of_first.values().map(|&count| pairs(count)).sum();
    let second_pairs: f64 = rows_of_second.values().map(|&count| pairs(count)).sum();
    let expected = first_pairs * second_pairs / pairs(rows as u64).max(1.0);
    let maximum = (first_pairs + second_pairs) / 2.0;
    if (maximum - expected).abs() < f64::EPSILON {
        // Both partitions are trivial (one cluster, or all singletons): they agree.
        return 1.0;
    }
    (index - expected) / (maximum - expected)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn adjusted_rand_index_ignores_label_names_and_punishes_mixing() {
        assert!((adjusted_rand_index(&[0, 0, 1, 1, 2, 2], &[5, 5, 3, 3, 9, 9]) - 1.0).abs() < 1e-12);
        // Hand-computed: contingency [[2,1],[0,3]] → index 4, sums 6 and 7, expected 2.8, max 6.5.
        let value = adjusted_rand_index(&[0, 0, 0, 1, 1, 1], &[0, 0, 1, 1, 1, 1]);
        assert!((value - (4.0 - 2.8) / (6.5 - 2.8)).abs() < 1e-12, "{value}");
    }

    #[test]
    fn silhouette_and_calinski_harabasz_on_a_hand_checked_example() {
        // Two clusters on a line: {0, 1} and {10, 11}.
        let data = [0.0, 1.0, 10.0, 11.0];
        let labels = [0, 0, 1, 1];
        // Row 0: a = 1, b = (10 + 11) / 2 = 10.5, s = 9.5 / 10.5; by symmetry every row alike except
        // row 1: a = 1, b = (9 + 10) / 2 = 9.5, s = 8.5 / 9.5.
        let expected = (2.0 * 9.5 / 10.5 + 2.0 * 8.5 / 9.5) / 4.0;
        let value = silhouette(&data, 1, &labels, 2, &[0, 1, 2, 3]);
        assert!((value - expected).abs() < 1e-12, "{value} vs {expected}");
        // Means 0.5 and 10.5, overall 5.5: B = 2·25 + 2·25 = 100; W = 4·0.25 = 1; (100 / 1) / (1 / 2) = 200.
        assert!((calinski_harabasz(&data, 1, &labels, 2) - 200.0).abs() < 1e-9);
    }

    #[test]
    fn samples_are_distinct_sorted_and_reproducible() {
        let sample = sample_rows(1000, 100, 3);
        assert_eq!(sample.len(), 100);
        assert!(sample.windows(2).all(|pair| pair[0] < pair[1]));
        assert_eq!(sample, sample_rows(1000, 100, 3));
        assert_eq!(sample_rows(50, 100, 3), (0..50).collect::<Vec<_>>());
    }
}
