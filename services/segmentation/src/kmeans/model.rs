//! A fitted k-means model: centroids, and assignment of new rows to them.

use linfa::prelude::PredictInplace;
use ndarray::{Array1, Array2, ArrayBase, Data, Ix2};
use rayon::prelude::*;

use super::chunks::nearest;

#[derive(Debug, Clone, PartialEq)]
pub struct KMeansModel {
    /// `k × dimension`, in the units of the training records.
    pub centroids: Array2<f64>,
    /// Σ squared distance of each training row to its centroid.
    pub inertia: f64,
    /// Steps taken by the kept initialisation.
    pub iterations: usize,
    /// False when the iteration limit stopped the kept initialisation.
    pub converged: bool,
    /// The cluster of each training row, in record order.
    pub training_labels: Vec<u32>,
}

impl KMeansModel {
    pub fn k(&self) -> usize {
        self.centroids.nrows()
    }

    /// The nearest centroid of one row and the squared distance to it.
    pub fn nearest(&self, row: &[f64]) -> (usize, f64) {
        let centroids = self.centroids.as_slice().unwrap_or(&[]);
        nearest(row, centroids, self.centroids.ncols())
    }
}

impl<D: Data<Elem = f64>> PredictInplace<ArrayBase<D, Ix2>, Array1<usize>> for KMeansModel {
    fn predict_inplace(&self, records: &ArrayBase<D, Ix2>, targets: &mut Array1<usize>) {
        let dimension = self.centroids.ncols();
        let records = records.as_standard_layout();
        let (Some(rows), Some(centroids), Some(targets)) =
            (records.as_slice(), self.centroids.as_slice(), targets.as_slice_mut())
        else {
            return;
        };
        rows.par_chunks(dimension * 1024).zip(targets.par_chunks_mut(1024)).for_each(|(points, labels)| {
            for (point, label) in points.chunks_exact(dimension).zip(labels) {
                *label = nearest(point, centroids, dimension).0;
            }
        });
    }

    fn default_target(&self, records: &ArrayBase<D, Ix2>) -> Array1<usize> {
        Array1::zeros(records.nrows())
    }
}
