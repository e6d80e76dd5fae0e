//! CompareModels and EvaluateModel: versions scored on the same out-of-time
//! customers, drawn by a seeded hash of customer_id.

use std::collections::BTreeMap;

use patron_common::ServiceError;
use patron_proto::common::v1::MetricComparison;
use patron_proto::profile::v1::CustomerFeatures as ExportRow;
use patron_proto::segmentation::v1 as pb;

use super::time::{micros_of, now_micros, timestamp};
use super::{Loaded, export_error, profile};
use crate::kmeans::quality::{adjusted_rand_index, calinski_harabasz, sample_rows, silhouette};

const MIN_HELD_OUT: usize = 100;
/// Rows the silhouette is computed on (it is quadratic in rows).
const SILHOUETTE_ROWS: usize = 5_000;

#[derive(Debug, Clone)]
pub struct Holdout {
    pub as_of_us: i64,
    pub sample_size: usize,
    pub seed: u64,
}

pub fn parse(holdout: Option<&pb::Holdout>) -> Result<Holdout, ServiceError> {
    let default = pb::Holdout::default();
    let holdout = holdout.unwrap_or(&default);
    let now = now_micros();
    let as_of_us = holdout.as_of.as_ref().map_or(now, micros_of);
    let mut check = patron_common::Validator::new();
    check.check(as_of_us <= now, "holdout.as_of", "must not be in the future");
    let sample_size = if holdout.sample_size == 0 { 10_000 } else { holdout.sample_size };
    check.check(
        (100..=50_000).contains(&sample_size),
        "holdout.sample_size",
        "must be between 100 and 50,000 (0 = 10,000)",
    );
    check.finish()?;
    Ok(Holdout { as_of_us, sample_size: sample_size as usize, seed: holdout.seed })
}

/// FNV-1a of the seed and the id: the same Holdout always selects the same customers.
fn selection_hash(seed: u64, customer_id: &str) -> u64 {
    let mut hash = 0xcbf2_9ce4_8422_2325u64;
    for byte in seed.to_le_bytes().iter().chain(customer_id.as_bytes()) {
        hash ^= u64::from(*byte);
        hash = hash.wrapping_mul(0x0000_0100_0000_01b3);
    }
    hash
}

pub async fn rows(client: &profile::ProfileClient, holdout: &Holdout) -> Result<Vec<ExportRow>, ServiceError> {
    let mut rows = profile::export_rows(client, holdout.as_of_us, Vec::new()).await?;
    rows.sort_by_cached_key(|row| (selection_hash(holdout.seed, &row.customer_id), row.customer_id.clone()));
    rows.truncate(holdout.sample_size);
    rows.sort_by(|a, b| a.customer_id.cmp(&b.customer_id));
    if rows.len() < MIN_HELD_OUT {
        return Err(ServiceError::FailedPrecondition(format!(
            "{} held-out customers; at least {MIN_HELD_OUT} needed",
            rows.len()
        )));
    }
    Ok(rows)
}

/// Held-out rows in one version's standardised space, with k-means and RFM labels.
struct Placed {
    data: Vec<f64>,
    dimension: usize,
    kmeans: Vec<u32>,
    kmeans_squared_distance: Vec<f64>,
    rfm: Vec<u32>,
}

fn place(loaded: &Loaded, rows: &[ExportRow]) -> Result<Placed, ServiceError> {
    let model = &loaded.model;
    let dimension = model.transforms.len();
    let mut placed = Placed {
        data: Vec::with_capacity(rows.len() * dimension),
        dimension,
        kmeans: Vec::with_capacity(rows.len()),
        kmeans_squared_distance: Vec::with_capacity(rows.len()),
        rfm: Vec::with_capacity(rows.len()),
    };
    for row in rows {
        let standardized =
            model.standardize(&model.read_row(row)).map_err(|error| export_error(&row.customer_id, error))?;
        let placement = model.place(&standardized);
        placed.kmeans.push(placement.segment as u32);
        placed.kmeans_squared_distance.push(placement.distance * placement.distance);
        placed.rfm.push(model.rfm_of_row(row).1 as u32);
        placed.data.extend(standardized);
    }
    Ok(placed)
}

/// Silhouette, Calinski–Harabasz and mean squared distance of `labels` (k
/// groups) whose centroids are `centroids`.
fn scores(placed: &Placed, labels: &[u32], centroids: &[Vec<f64>], seed: u64) -> [f64; 3] {
    let k = centroids.len().max(1);
    let sample = sample_rows(labels.len(), SILHOUETTE_ROWS, seed);
    let silhouette = silhouette(&placed.data, placed.dimension, labels, k, &sample);
    let calinski_harabasz = calinski_harabasz(&placed.data, placed.dimension, labels, k);
    let squared: f64 = placed
        .data
        .chunks_exact(placed.dimension.max(1))
        .zip(labels)
        .map(|(point, &label)| {
            centroids
                .get(label as usize)
                .map_or(0.0, |centroid| point.iter().zip(centroid).map(|(a, b)| (a - b) * (a - b)).sum::<f64>())
        })
        .sum();
    [silhouette, calinski_harabasz, squared / labels.len().max(1) as f64]
}

fn comparisons(baseline: [f64; 3], candidate: [f64; 3]) -> Vec<MetricComparison> {
    [("silhouette", true), ("calinski_harabasz", true), ("mean_squared_distance", false)]
        .iter()
        .enumerate()
        .map(|(index, (metric, higher_is_better))| MetricComparison {
            metric: (*metric).to_owned(),
            baseline_value: baseline[index],
            candidate_value: candidate[index],
            higher_is_better: *higher_is_better,
        })
        .collect()
}

pub fn compare(
    baseline: &Loaded,
    candidate: &Loaded,
    rows: &[ExportRow],
    holdout: &Holdout,
) -> Result<pb::CompareModelsResponse, ServiceError> {
    let first = place(baseline, rows)?;
    let second = place(candidate, rows)?;
    let first_scores = scores(&first, &first.kmeans, &baseline.model.centroids, holdout.seed);
    let second_scores = scores(&second, &second.kmeans, &candidate.model.centroids, holdout.seed);
    let mut overlaps: BTreeMap<(u32, u32), i64> = BTreeMap::new();
    for (&a, &b) in first.kmeans.iter().zip(&second.kmeans) {
        *overlaps.entry((a, b)).or_default() += 1;
    }
    let segment = |loaded: &Loaded, index: u32| {
        loaded.model.segments.get(index as usize).map(|s| (s.id.clone(), s.name.clone())).unwrap_or_default()
    };
    Ok(pb::CompareModelsResponse {
        metrics: comparisons(first_scores, second_scores),
        as_of: Some(timestamp(holdout.as_of_us)),
        customers: rows.len() as i64,
        adjusted_rand_index: adjusted_rand_index(&first.kmeans, &second.kmeans),
        overlaps: overlaps
            .into_iter()
            .map(|((a, b), customers)| {
                let (baseline_segment_id, baseline_segment_name) = segment(baseline, a);
                let (candidate_segment_id, candidate_segment_name) = segment(candidate, b);
                pb::SegmentOverlap {
                    baseline_segment_id,
                    baseline_segment_name,
                    candidate_segment_id,
                    candidate_segment_name,
                    customers,
                }
            })
            .collect(),
    })
}

pub fn evaluate(
    loaded: &Loaded,
    rows: &[ExportRow],
    holdout: &Holdout,
) -> Result<pb::EvaluateModelResponse, ServiceError> {
    let model = &loaded.model;
    let placed = place(loaded, rows)?;
    let kmeans_scores = scores(&placed, &placed.kmeans, &model.centroids, holdout.seed);
    let rfm_centroids: Vec<Vec<f64>> =
        model.rfm_segments.iter().map(|segment| segment.centroid_standardized.clone()).collect();
    let rfm_scores = scores(&placed, &placed.rfm, &rfm_centroids, holdout.seed);

    let total_revenue: i64 = rows.iter().map(|row| row.revenue_minor).sum();
    let mut segments: Vec<pb::SegmentEvaluation> = model
        .segments
        .iter()
        .enumerate()
        .map(|(index, stats)| {
            let members: Vec<usize> = (0..rows.len()).filter(|&row| placed.kmeans[row] as usize == index).collect();
            let revenue: i64 = members.iter().map(|&row| rows[row].revenue_minor).sum();
            let squared: f64 = members.iter().map(|&row| placed.kmeans_squared_distance[row]).sum();
            pb::SegmentEvaluation {
                segment_id: stats.id.clone(),
                segment_name: stats.name.clone(),
                training_share: stats.customer_share,
                customers: members.len() as i64,
                holdout_share: members.len() as f64 / rows.len() as f64,
                holdout_revenue_share: if total_revenue != 0 { revenue as f64 / total_revenue as f64 } else { 0.0 },
                mean_squared_distance: if members.is_empty() { 0.0 } else { squared / members.len() as f64 },
            }
        })
        .collect();
    segments.sort_by(|a, b| b.customers.cmp(&a.customers).then(a.segment_id.cmp(&b.segment_id)));
    Ok(pb::EvaluateModelResponse {
        model_id: loaded.version.id.clone(),
        as_of: Some(timestamp(holdout.as_of_us)),
        customers: rows.len() as i64,
        metrics: comparisons(rfm_scores, kmeans_scores),
        segments,
    })
}
