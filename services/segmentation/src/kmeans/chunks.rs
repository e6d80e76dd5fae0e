//! Row-major point buffers and the fixed chunking every parallel pass uses.
//!
//! Chunks have a fixed number of rows (not one per thread) and their partial
//! results are combined in chunk order, so sums do not depend on scheduling.

/// Rows per parallel work item.
pub const CHUNK_ROWS: usize = 4096;

/// Squared Euclidean distance between two equally long rows.
#[inline]
pub fn squared_distance(a: &[f64], b: &[f64]) -> f64 {
    a.iter().zip(b).map(|(x, y)| (x - y) * (x - y)).sum()
}

/// The nearest and second-nearest centroid of `point` (squared distances).
/// With a single centroid the second distance is infinite.
#[inline]
pub fn two_nearest(point: &[f64], centroids: &[f64], dimension: usize) -> (usize, f64, f64) {
    let mut best = (0, f64::INFINITY);
    let mut second = f64::INFINITY;
    for (index, centroid) in centroids.chunks_exact(dimension).enumerate() {
        let distance = squared_distance(point, centroid);
        if distance < best.1 {
            second = best.1;
            best = (index, distance);
        } else if distance < second {
            second = distance;
        }
    }
    (best.0, best.1, second)
}

/// The nearest centroid of `point` and its squared distance (ties: lowest index).
#[inline]
pub fn nearest(point: &[f64], centroids: &[f64], dimension: usize) -> (usize, f64) {
    let mut best = (0, f64::INFINITY);
    for (index, centroid) in centroids.chunks_exact(dimension).enumerate() {
        let distance = squared_distance(point, centroid);
        if distance < best.1 {
            best = (index, distance);
        }
    }
    best
}
