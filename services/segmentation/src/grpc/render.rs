//! Domain values rendered as protobuf messages.

use std::collections::BTreeMap;

use patron_proto::common::v1::{ModelVersion, Money};
use patron_proto::segmentation::v1 as pb;

use crate::domain::catalogue::{self, Unit};
use crate::domain::model::{SegmentStats, SegmentationModel};
use crate::domain::rfm::{FREQUENCY_FEATURE, MONETARY_FEATURE, RECENCY_FEATURE, RfmScore};

fn money(model: &SegmentationModel, amount_minor: i64) -> Money {
    Money { currency_code: model.currency_code.clone(), amount_minor }
}

pub fn segment(
    model_id: &str,
    model: &SegmentationModel,
    stats: &SegmentStats,
    scheme: pb::SegmentScheme,
    member_counts: &BTreeMap<String, i64>,
) -> pb::Segment {
    let centroid = model
        .transforms
        .iter()
        .zip(&stats.centroid_standardized)
        .map(|(transform, &standardized)| {
            let value = transform.invert(standardized);
            let is_money = catalogue::find(&transform.feature).is_some_and(|spec| spec.unit == Unit::Money);
            pb::FeatureValue {
                feature: transform.feature.clone(),
                value,
                unit: transform.unit.clone(),
                money: is_money.then(|| money(model, (value * model.minor_per_major).round() as i64)),
            }
        })
        .collect();
    pb::Segment {
        id: stats.id.clone(),
        model_id: model_id.to_owned(),
        scheme: scheme as i32,
        name: stats.name.clone(),
        description: stats.description.clone(),
        size: stats.size,
        customer_share: stats.customer_share,
        revenue: Some(money(model, stats.revenue_minor)),
        revenue_share: stats.revenue_share,
        centroid_standardized: stats.centroid_standardized.clone(),
        centroid,
        member_count: member_counts.get(&stats.id).copied().unwrap_or(0),
    }
}

/// Both schemes: k-means first, then RFM, each by descending size.
pub fn segments(
    model_id: &str,
    model: &SegmentationModel,
    scheme: pb::SegmentScheme,
    member_counts: &BTreeMap<String, i64>,
) -> Vec<pb::Segment> {
    let mut kmeans: Vec<&SegmentStats> = model.segments.iter().collect();
    kmeans.sort_by(|a, b| b.size.cmp(&a.size).then(a.id.cmp(&b.id)));
    let mut listed = Vec::new();
    if matches!(scheme, pb::SegmentScheme::Unspecified | pb::SegmentScheme::Kmeans) {
        listed.extend(
            kmeans.iter().map(|stats| segment(model_id, model, stats, pb::SegmentScheme::Kmeans, member_counts)),
        );
    }
    if matches!(scheme, pb::SegmentScheme::Unspecified | pb::SegmentScheme::RfmQuartile) {
        listed.extend(
            model
                .rfm_segments
                .iter()
                .map(|stats| segment(model_id, model, stats, pb::SegmentScheme::RfmQuartile, member_counts)),
        );
    }
    listed
}

pub fn get_model(
    version: ModelVersion,
    model: &SegmentationModel,
    member_counts: &BTreeMap<String, i64>,
) -> pb::GetModelResponse {
    let model_id = version.id.clone();
    let all = segments(&model_id, model, pb::SegmentScheme::Unspecified, member_counts);
    let (kmeans, rfm): (Vec<_>, Vec<_>) =
        all.into_iter().partition(|segment| segment.scheme == pb::SegmentScheme::Kmeans as i32);
    let cut = |feature: &str, points: &[f64; 3]| pb::RfmCutPoints {
        feature: feature.to_owned(),
        cut_points: points.to_vec(),
    };
    pb::GetModelResponse {
        model: Some(version),
        transforms: model
            .transforms
            .iter()
            .map(|transform| pb::FeatureTransform {
                feature: transform.feature.clone(),
                unit: transform.unit.clone(),
                log1p: transform.log1p,
                mean: transform.mean,
                std: transform.std,
            })
            .collect(),
        k_selection: model
            .k_selection
            .iter()
            .map(|score| pb::KSelectionScore {
                k: score.k as i32,
                inertia: score.inertia,
                silhouette: score.silhouette,
                calinski_harabasz: score.calinski_harabasz,
                selected: score.selected,
            })
            .collect(),
        segments: kmeans,
        rfm_segments: rfm,
        rfm_quartiles: Some(pb::RfmQuartiles {
            recency: Some(cut(RECENCY_FEATURE, &model.rfm_cut_points.recency)),
            frequency: Some(cut(FREQUENCY_FEATURE, &model.rfm_cut_points.frequency)),
            monetary: Some(cut(MONETARY_FEATURE, &model.rfm_cut_points.monetary)),
        }),
    }
}

pub fn rfm_score(model: &SegmentationModel, score: RfmScore, segment: usize) -> pb::RfmScore {
    let stats = model.rfm_segments.get(segment);
    pb::RfmScore {
        recency: score.recency,
        frequency: score.frequency,
        monetary: score.monetary,
        segment_id: stats.map(|stats| stats.id.clone()).unwrap_or_default(),
        segment_name: stats.map(|stats| stats.name.clone()).unwrap_or_default(),
    }
}

/// The name of a segment id of either scheme ("" when unknown).
pub fn segment_name(model: &SegmentationModel, segment_id: &str) -> String {
    model
        .segments
        .iter()
        .chain(&model.rfm_segments)
        .find(|stats| stats.id == segment_id)
        .map(|stats| stats.name.clone())
        .unwrap_or_else(|| {
            crate::domain::rfm::RFM_SEGMENTS
                .iter()
                .find(|(id, _, _)| *id == segment_id)
                .map(|(_, name, _)| (*name).to_owned())
                .unwrap_or_default()
        })
}
