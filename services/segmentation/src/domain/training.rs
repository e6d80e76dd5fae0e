//! Training one segmentation version from exported feature rows: checks the
//! data, fits the transform, chooses k, then describes and names the
//! segments and fits the RFM baseline beside them. Blocking; run it off the
//! async runtime.

use std::collections::BTreeMap;

use ndarray::Array2;
use patron_common::ServiceError;
use patron_proto::profile::v1::CustomerFeatures as ExportRow;

use super::catalogue::{self, FeatureSpec};
use super::model::{KScore, SegmentStats, SegmentationModel};
use super::naming::{Profile, name_segments};
use super::rfm::{RFM_SEGMENTS, RfmCutPoints};
use super::transform::{FeatureTransform, TransformError};
use crate::kmeans::quality::cluster_means;
use crate::kmeans::{KMeansParams, select_k};

/// Customers always required, whatever k.
pub const MIN_CUSTOMERS: usize = 100;
/// Customers required per segment of the largest k tried.
pub const CUSTOMERS_PER_SEGMENT: usize = 10;

#[derive(Debug, Clone)]
pub struct TrainingPlan {
    pub features: Vec<&'static FeatureSpec>,
    /// Candidate k, ascending.
    pub ks: Vec<usize>,
    pub params: KMeansParams,
    pub silhouette_sample: usize,
    pub seed: u64,
    pub currency_code: String,
    pub minor_per_major: f64,
    /// The data cutoff as shown in messages, e.g. "2026-01-01".
    pub cutoff_label: String,
}

#[derive(Debug)]
pub struct Trained {
    pub model: SegmentationModel,
    pub metrics: BTreeMap<String, f64>,
}

pub fn train(
    rows: &[ExportRow],
    plan: &TrainingPlan,
    progress: &(dyn Fn(f64, String) + Sync),
) -> Result<Trained, ServiceError> {
    let largest_k = plan.ks.iter().copied().max().unwrap_or(2);
    let needed = MIN_CUSTOMERS.max(CUSTOMERS_PER_SEGMENT * largest_k);
    if rows.len() < needed {
        return Err(ServiceError::FailedPrecondition(format!(
            "{} customers before {}; at least {needed} needed",
            rows.len(),
            plan.cutoff_label
        )));
    }

    let columns = read_columns(rows, plan)?;
    let transforms = columns
        .iter()
        .zip(&plan.features)
        .map(|(values, spec)| {
            FeatureTransform::fit(spec.name, &spec.unit.label(&plan.currency_code), values).map_err(
                |TransformError::Constant { value }| {
                    ServiceError::FailedPrecondition(format!("feature {} is constant ({value:.1})", spec.name))
                },
            )
        })
        .collect::<Result<Vec<_>, _>>()?;
    let dimension = transforms.len();
    let mut standardized = Array2::<f64>::zeros((rows.len(), dimension));
    for (column, (values, transform)) in columns.iter().zip(&transforms).enumerate() {
        for (row, &value) in values.iter().enumerate() {
            standardized[[row, column]] = transform.apply(value);
        }
    }

    let fit_progress = |fraction: f64, message: String| progress(0.1 + 0.8 * fraction, message);
    let selection = select_k(&standardized, &plan.ks, &plan.params, plan.silhouette_sample, plan.seed, &fit_progress)
        .map_err(|error| ServiceError::FailedPrecondition(error.to_string()))?;
    progress(0.9, "describing segments".to_owned());

    let chosen = &selection.candidates[selection.selected];
    let k = chosen.k;
    // Segment ids follow descending size, so kmeans-0 is the largest.
    let mut sizes = vec![0usize; k];
    for &label in &selection.model.training_labels {
        sizes[label as usize] += 1;
    }
    let mut order: Vec<usize> = (0..k).collect();
    order.sort_by(|&a, &b| sizes[b].cmp(&sizes[a]).then(a.cmp(&b)));
    let mut rank = vec![0u32; k];
    for (position, &cluster) in order.iter().enumerate() {
        rank[cluster] = position as u32;
    }
    let labels: Vec<u32> = selection.model.training_labels.iter().map(|&label| rank[label as usize]).collect();
    let centroids: Vec<Vec<f64>> =
        order.iter().map(|&cluster| selection.model.centroids.row(cluster).to_vec()).collect();

    let data = standardized.as_slice().unwrap_or(&[]);
    let revenue: Vec<i64> = rows.iter().map(|row| row.revenue_minor).collect();
    let total_revenue: i64 = revenue.iter().sum();
    let mut segments =
        describe(data, dimension, &labels, k, &revenue, total_revenue, |index| format!("kmeans-{index}"));
    let profiles: Vec<Profile> = centroids.iter().map(|centroid| naming_profile(&transforms, centroid)).collect();
    for ((segment, (name, description)), centroid) in segments.iter_mut().zip(name_segments(&profiles)).zip(&centroids)
    {
        segment.name = name;
        segment.description = typical_values(&description, &transforms, centroid, &plan.currency_code);
    }

    let read = |name: &str| -> Vec<f64> {
        let spec = catalogue::find(name);
        rows.iter().map(|row| spec.map_or(0.0, |spec| spec.read(row, plan.minor_per_major))).collect()
    };
    let (recency, orders, monetary) = (read("recency_days"), read("orders"), read("monetary"));
    let cut_points = RfmCutPoints::fit(&recency, &orders, &monetary);
    let rfm_labels: Vec<u32> = (0..rows.len())
        .map(|row| cut_points.score(recency[row], orders[row], monetary[row]).segment() as u32)
        .collect();
    let mut rfm_segments =
        describe(data, dimension, &rfm_labels, RFM_SEGMENTS.len(), &revenue, total_revenue, |index| {
            RFM_SEGMENTS[index].0.to_owned()
        });
    for (index, segment) in rfm_segments.iter_mut().enumerate() {
        segment.name = RFM_SEGMENTS[index].1.to_owned();
        segment.description = RFM_SEGMENTS[index].2.to_owned();
    }
    rfm_segments.retain(|segment| segment.size > 0);
    rfm_segments.sort_by(|a, b| b.size.cmp(&a.size).then(a.id.cmp(&b.id)));

    let k_selection = selection
        .candidates
        .iter()
        .enumerate()
        .map(|(index, candidate)| KScore {
            k: candidate.k,
            inertia: candidate.inertia,
            silhouette: candidate.silhouette,
            calinski_harabasz: candidate.calinski_harabasz,
            selected: index == selection.selected,
        })
        .collect();
    let metrics = BTreeMap::from([
        ("k".to_owned(), k as f64),
        ("inertia".to_owned(), chosen.inertia),
        ("mean_squared_distance".to_owned(), chosen.inertia / rows.len() as f64),
        ("silhouette".to_owned(), chosen.silhouette),
        ("calinski_harabasz".to_owned(), chosen.calinski_harabasz),
        ("iterations".to_owned(), chosen.iterations as f64),
    ]);
    let model = SegmentationModel::new(
        plan.currency_code.clone(),
        plan.minor_per_major,
        transforms,
        centroids,
        segments,
        cut_points,
        rfm_segments,
        k_selection,
    )
    .map_err(ServiceError::internal)?;
    Ok(Trained { model, metrics })
}

/// The raw columns of the plan's features, refusing NaN and infinities with the customer named.
fn read_columns(rows: &[ExportRow], plan: &TrainingPlan) -> Result<Vec<Vec<f64>>, ServiceError> {
    plan.features
        .iter()
        .map(|spec| {
            rows.iter()
                .map(|row| {
                    let value = spec.read(row, plan.minor_per_major);
                    if value.is_finite() {
                        Ok(value)
                    } else {
                        let what = if value.is_nan() { "NaN" } else { "infinite" };
                        Err(ServiceError::FailedPrecondition(format!(
                            "feature {} is {what} for customer {}",
                            spec.name, row.customer_id
                        )))
                    }
                })
                .collect()
        })
        .collect()
}

/// Size, shares and standardised mean of each label's members.
fn describe(
    data: &[f64],
    dimension: usize,
    labels: &[u32],
    k: usize,
    revenue: &[i64],
    total_revenue: i64,
    id: impl Fn(usize) -> String,
) -> Vec<SegmentStats> {
    let (means, counts) = cluster_means(data, dimension, labels, k);
    let mut revenue_of = vec![0i64; k];
    for (&label, &amount) in labels.iter().zip(revenue) {
        revenue_of[label as usize] += amount;
    }
    let customers = labels.len().max(1) as f64;
    (0..k)
        .map(|index| SegmentStats {
            id: id(index),
            name: String::new(),
            description: String::new(),
            size: counts[index] as i64,
            customer_share: counts[index] as f64 / customers,
            revenue_minor: revenue_of[index],
            revenue_share: if total_revenue != 0 { revenue_of[index] as f64 / total_revenue as f64 } else { 0.0 },
            centroid_standardized: means[index * dimension..(index + 1) * dimension].to_vec(),
        })
        .collect()
}

fn position(transforms: &[FeatureTransform], names: &[&str]) -> Option<usize> {
    names.iter().find_map(|name| transforms.iter().position(|transform| transform.feature == *name))
}

fn naming_profile(transforms: &[FeatureTransform], centroid: &[f64]) -> Profile {
    let axis = |names: &[&str]| position(transforms, names).map_or(0.0, |index| centroid[index]);
    Profile {
        recency: -axis(&["recency_days"]),
        frequency: axis(&["orders", "frequency"]),
        monetary: axis(&["monetary", "average_order_value", "repeat_value"]),
        tenure: axis(&["tenure_days"]),
    }
}

/// The archetype's line plus the centroid's typical recency, orders and spend.
fn typical_values(description: &str, transforms: &[FeatureTransform], centroid: &[f64], currency: &str) -> String {
    let value = |name: &str| position(transforms, &[name]).map(|index| transforms[index].invert(centroid[index]));
    let mut parts = Vec::new();
    if let Some(days) = value("recency_days") {
        parts.push(format!("{days:.0} days since the last order"));
    }
    if let Some(orders) = value("orders") {
        parts.push(format!("{orders:.1} orders"));
    }
    if let Some(spend) = value("monetary") {
        parts.push(format!("{currency} {spend:.2} spent"));
    }
    let mut characters = description.chars();
    let mut line: String =
        characters.next().map(|first| first.to_uppercase().chain(characters).collect()).unwrap_or_default();
    if !parts.is_empty() {
        line.push_str(&format!("; typically {}", parts.join(", ")));
    }
    line
}
