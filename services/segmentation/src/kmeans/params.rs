//! Hyperparameters of a k-means fit and linfa's `Fit` for them.

use linfa::DatasetBase;
use linfa::prelude::Fit;
use ndarray::{Array2, ArrayBase, Data, Ix2};
use rand::SeedableRng;
use rand::rngs::Xoshiro256PlusPlus;
use rayon::prelude::*;

use super::error::ClusteringError;
use super::hamerly::{LloydOutcome, assign_exactly, fit_from};
use super::init::greedy_kmeans_plus_plus;
use super::minibatch;
use super::model::KMeansModel;

/// How the centroids are refined after seeding.
#[derive(Debug, Clone, PartialEq)]
pub enum Algorithm {
    /// Exact Lloyd iterations (Hamerly-accelerated).
    Lloyd,
    /// Mini-batch k-means with this many rows per batch; each iteration is one batch.
    MiniBatch { batch_size: usize },
}

/// Where each initialisation starts.
#[derive(Debug, Clone, PartialEq)]
pub enum Initialisation {
    /// Greedy k-means++ from the seeded generator, `n_init` times.
    GreedyKMeansPlusPlus,
    /// These centroids (`k × dimension`), once; `n_init` is ignored.
    Precomputed(Array2<f64>),
}

#[derive(Debug, Clone, PartialEq)]
pub struct KMeansParams {
    k: usize,
    n_init: usize,
    seed: u64,
    max_iterations: usize,
    tolerance: f64,
    algorithm: Algorithm,
    initialisation: Initialisation,
}

impl KMeansParams {
    /// `k` clusters; 10 initialisations, seed 0, at most 300 iterations,
    /// tolerance 1e-4, exact Lloyd from greedy k-means++.
    pub fn new(k: usize) -> Self {
        Self {
            k,
            n_init: 10,
            seed: 0,
            max_iterations: 300,
            tolerance: 1e-4,
            algorithm: Algorithm::Lloyd,
            initialisation: Initialisation::GreedyKMeansPlusPlus,
        }
    }

    pub fn n_init(mut self, n_init: usize) -> Self {
        self.n_init = n_init;
        self
    }

    pub fn seed(mut self, seed: u64) -> Self {
        self.seed = seed;
        self
    }

    pub fn max_iterations(mut self, max_iterations: usize) -> Self {
        self.max_iterations = max_iterations;
        self
    }

    /// Stop once no centroid moves further than this.
    pub fn tolerance(mut self, tolerance: f64) -> Self {
        self.tolerance = tolerance;
        self
    }

    pub fn algorithm(mut self, algorithm: Algorithm) -> Self {
        self.algorithm = algorithm;
        self
    }

    pub fn initialisation(mut self, initialisation: Initialisation) -> Self {
        self.initialisation = initialisation;
        self
    }

    pub fn k(&self) -> usize {
        self.k
    }

    /// The same parameters for another number of clusters.
    pub fn with_k(mut self, k: usize) -> Self {
        self.k = k;
        self
    }

    fn check(&self, rows: usize, dimension: usize) -> Result<(), ClusteringError> {
        let invalid = |name, reason: &str| Err(ClusteringError::InvalidParameter { name, reason: reason.to_owned() });
        if self.k == 0 {
            return invalid("k", "must be at least 1");
        }
        if self.n_init == 0 {
            return invalid("n_init", "must be at least 1");
        }
        if self.max_iterations == 0 {
            return invalid("max_iterations", "must be at least 1");
        }
        if !(self.tolerance >= 0.0 && self.tolerance.is_finite()) {
            return invalid("tolerance", "must be finite and >= 0");
        }
        if let Algorithm::MiniBatch { batch_size: 0 } = self.algorithm {
            return invalid("mini_batch_size", "must be at least 1");
        }
        if dimension == 0 {
            return invalid("records", "need at least one feature");
        }
        if rows < self.k {
            return Err(ClusteringError::TooFewRows { rows, needed: self.k });
        }
        if let Initialisation::Precomputed(centroids) = &self.initialisation
            && centroids.dim() != (self.k, dimension)
        {
            return Err(ClusteringError::InitialCentroidShape {
                rows: centroids.nrows(),
                columns: centroids.ncols(),
                expected_rows: self.k,
                expected_columns: dimension,
            });
        }
        Ok(())
    }

    /// The generator of initialisation `run`: independent streams per run, all from one seed.
    fn generator(&self, run: usize) -> Xoshiro256PlusPlus {
        Xoshiro256PlusPlus::seed_from_u64(self.seed ^ (run as u64 + 1).wrapping_mul(0x9E37_79B9_7F4A_7C15))
    }

    /// One initialisation: seed (or take the given centroids), then refine.
    fn run_once(&self, data: &[f64], dimension: usize, run: usize) -> LloydOutcome {
        let mut rng = self.generator(run);
        let initial = match &self.initialisation {
            Initialisation::Precomputed(centroids) => centroids.iter().copied().collect(),
            Initialisation::GreedyKMeansPlusPlus => match self.algorithm {
                Algorithm::Lloyd => greedy_kmeans_plus_plus(data, dimension, self.k, &mut rng),
                Algorithm::MiniBatch { batch_size } => {
                    // Seeding on every row would cost more than the mini-batch fit saves.
                    let sample = seeding_sample(data, dimension, (3 * batch_size).max(10 * self.k), &mut rng);
                    greedy_kmeans_plus_plus(&sample, dimension, self.k, &mut rng)
                }
            },
        };
        match self.algorithm {
            Algorithm::Lloyd => fit_from(data, dimension, initial, self.max_iterations, self.tolerance),
            Algorithm::MiniBatch { batch_size } => {
                let mut centroids = initial;
                let iterations = minibatch::refine(
                    data,
                    dimension,
                    &mut centroids,
                    batch_size,
                    self.max_iterations,
                    self.tolerance,
                    &mut rng,
                );
                let (labels, inertia) = assign_exactly(data, dimension, &centroids);
                LloydOutcome { centroids, labels, inertia, iterations, converged: iterations < self.max_iterations }
            }
        }
    }
}

/// Rows drawn with replacement (all rows, in order, when there are fewer).
fn seeding_sample(data: &[f64], dimension: usize, size: usize, rng: &mut Xoshiro256PlusPlus) -> Vec<f64> {
    use rand::RngExt;
    let rows = data.len() / dimension;
    if rows <= size {
        return data.to_vec();
    }
    let mut sample = Vec::with_capacity(size * dimension);
    for _ in 0..size {
        let row = rng.random_range(0..rows);
        sample.extend_from_slice(&data[row * dimension..(row + 1) * dimension]);
    }
    sample
}

impl<D: Data<Elem = f64>, T> Fit<ArrayBase<D, Ix2>, T, ClusteringError> for KMeansParams {
    type Object = KMeansModel;

    fn fit(&self, dataset: &DatasetBase<ArrayBase<D, Ix2>, T>) -> Result<KMeansModel, ClusteringError> {
        let records = dataset.records.as_standard_layout();
        let (rows, dimension) = records.dim();
        self.check(rows, dimension)?;
        let data = records
            .as_slice()
            .ok_or(ClusteringError::InvalidParameter { name: "records", reason: "not contiguous".to_owned() })?;
        if let Some(position) = data.iter().position(|value| !value.is_finite()) {
            return Err(ClusteringError::NonFinite { row: position / dimension, column: position % dimension });
        }

        let runs = match self.initialisation {
            Initialisation::Precomputed(_) => 1,
            Initialisation::GreedyKMeansPlusPlus => self.n_init,
        };
        let outcomes: Vec<LloydOutcome> =
            (0..runs).into_par_iter().map(|run| self.run_once(data, dimension, run)).collect();
        // Lowest inertia wins; ties go to the earliest run, so the choice is reproducible.
        let best = outcomes
            .into_iter()
            .reduce(|best, next| if next.inertia < best.inertia { next } else { best })
            .ok_or(ClusteringError::InvalidParameter { name: "n_init", reason: "must be at least 1".to_owned() })?;

        let centroids = Array2::from_shape_vec((self.k, dimension), best.centroids)
            .map_err(|error| ClusteringError::InvalidParameter { name: "records", reason: error.to_string() })?;
        Ok(KMeansModel {
            centroids,
            inertia: best.inertia,
            iterations: best.iterations,
            converged: best.converged,
            training_labels: best.labels,
        })
    }
}
