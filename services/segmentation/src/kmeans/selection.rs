//! Choosing k: fit every candidate k, score each fit, keep the best silhouette.

use linfa::DatasetBase;
use linfa::prelude::Fit;
use ndarray::Array2;

use super::error::ClusteringError;
use super::model::KMeansModel;
use super::params::KMeansParams;
use super::quality::{calinski_harabasz, sample_rows, silhouette};

/// The scores of the fit obtained for one k.
#[derive(Debug, Clone, PartialEq)]
pub struct KCandidate {
    pub k: usize,
    pub inertia: f64,
    pub silhouette: f64,
    pub calinski_harabasz: f64,
    pub iterations: usize,
}

#[derive(Debug, Clone)]
pub struct KSelection {
    /// One per k tried, ascending, so the elbow (inertia per k) is visible.
    pub candidates: Vec<KCandidate>,
    /// Index in `candidates` of the kept k.
    pub selected: usize,
    /// The kept fit.
    pub model: KMeansModel,
}

/// Fits `params` for every k in `ks` (ascending) and keeps the k with the best
/// silhouette on a sample of `silhouette_sample` rows drawn with `sample_seed`;
/// ties go to the smaller k. `progress` hears the fraction done after each k.
pub fn select_k(
    records: &Array2<f64>,
    ks: &[usize],
    params: &KMeansParams,
    silhouette_sample: usize,
    sample_seed: u64,
    progress: &(dyn Fn(f64, String) + Sync),
) -> Result<KSelection, ClusteringError> {
    let records = records.as_standard_layout().into_owned();
    let (rows, dimension) = records.dim();
    let data = records
        .as_slice()
        .ok_or(ClusteringError::InvalidParameter { name: "records", reason: "not contiguous".to_owned() })?;
    let sample = sample_rows(rows, silhouette_sample, sample_seed);
    let dataset = DatasetBase::from(records.clone());

    let mut candidates = Vec::with_capacity(ks.len());
    let mut best: Option<(usize, KMeansModel)> = None;
    for (position, &k) in ks.iter().enumerate() {
        progress(position as f64 / ks.len() as f64, format!("fitting k={k}"));
        let model = params.clone().with_k(k).fit(&dataset)?;
        let candidate = KCandidate {
            k,
            inertia: model.inertia,
            silhouette: silhouette(data, dimension, &model.training_labels, k, &sample),
            calinski_harabasz: calinski_harabasz(data, dimension, &model.training_labels, k),
            iterations: model.iterations,
        };
        let better = match &best {
            None => true,
            Some((index, _)) => candidate.silhouette > candidates_silhouette(&candidates, *index),
        };
        candidates.push(candidate);
        if better {
            best = Some((position, model));
        }
    }
    progress(1.0, "scored every k".to_owned());
    let (selected, model) =
        best.ok_or(ClusteringError::InvalidParameter { name: "k_range", reason: "is empty".to_owned() })?;
    Ok(KSelection { candidates, selected, model })
}

fn candidates_silhouette(candidates: &[KCandidate], index: usize) -> f64 {
    candidates.get(index).map_or(f64::NEG_INFINITY, |candidate| candidate.silhouette)
}
