//! k-means clustering behind linfa's interfaces.
//!
//! linfa-clustering 0.8.1's `KMeans` is kept as the reference, but it is slow on
//! large data (a generic distance per pair, an allocation per centroid update)
//! and its plain k-means++ often lands in a poor local optimum. This module
//! fits the same model faster and more reliably:
//! - greedy k-means++ seeding (several candidates per step, the one that lowers
//!   the potential most is kept; Arthur & Vassilvitskii 2007, as in scikit-learn),
//! - exact Lloyd iterations accelerated with Hamerly's bounds (Hamerly 2010),
//!   over one contiguous row-major buffer, parallel over fixed-size chunks,
//! - `n_init` restarts run in parallel, each with its own seeded generator,
//! - mini-batch k-means (Sculley 2010) for very large data.
//!
//! Results are reproducible: every random draw comes from the seed and every
//! parallel sum is reduced in a fixed chunk order.

mod chunks;
mod error;
mod hamerly;
mod init;
mod minibatch;
mod model;
mod params;
pub mod quality;
mod selection;
pub mod synthetic;
#[cfg(test)]
mod tests;

pub use error::ClusteringError;
pub use hamerly::{LloydOutcome, fit_from};
pub use init::greedy_kmeans_plus_plus;
pub use model::KMeansModel;
pub use params::{Algorithm, Initialisation, KMeansParams};
pub use selection::{KCandidate, KSelection, select_k};
