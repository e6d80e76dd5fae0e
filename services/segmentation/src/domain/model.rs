//! A trained segmentation version as stored (JSON payload in the registry)
//! and as served: the transform, centroids, named segments and RFM baseline.

use ndarray::Array2;
use patron_proto::profile::v1::CustomerFeatures as ExportRow;
use serde::{Deserialize, Serialize};

use super::catalogue::{self, FeatureSpec};
use super::rfm::{FREQUENCY_FEATURE, MONETARY_FEATURE, RECENCY_FEATURE, RfmCutPoints, RfmScore};
use super::transform::FeatureTransform;
use crate::kmeans::KMeansModel;

/// Statistics of one segment over the training customers.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SegmentStats {
    pub id: String,
    pub name: String,
    pub description: String,
    pub size: i64,
    pub customer_share: f64,
    pub revenue_minor: i64,
    pub revenue_share: f64,
    /// Mean of the members' standardised features, in model feature order.
    pub centroid_standardized: Vec<f64>,
}

/// The fit obtained for one candidate k.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct KScore {
    pub k: usize,
    pub inertia: f64,
    pub silhouette: f64,
    pub calinski_harabasz: f64,
    pub selected: bool,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct SegmentationModel {
    pub currency_code: String,
    pub minor_per_major: f64,
    /// One per feature, in model order.
    pub transforms: Vec<FeatureTransform>,
    /// k-means centroids in standardised units; index i is segment `kmeans-i`.
    pub centroids: Vec<Vec<f64>>,
    /// k-means segments, index-aligned with `centroids` (descending size).
    pub segments: Vec<SegmentStats>,
    pub rfm_cut_points: RfmCutPoints,
    /// RFM baseline segments, by descending size.
    pub rfm_segments: Vec<SegmentStats>,
    pub k_selection: Vec<KScore>,
    #[serde(skip)]
    serving: Option<Serving>,
}

/// What assignment needs, rebuilt after decoding.
#[derive(Debug, Clone)]
struct Serving {
    specs: Vec<&'static FeatureSpec>,
    kmeans: KMeansModel,
}

/// One customer's place in a version.
#[derive(Debug, Clone, PartialEq)]
pub struct Placement {
    /// Index into `segments`.
    pub segment: usize,
    /// Euclidean distance to the centroid, standardised units.
    pub distance: f64,
}

/// Why a row or a set of values cannot be assigned.
#[derive(Debug, Clone, PartialEq)]
pub enum AssignError {
    Missing { feature: String },
    NotFinite { feature: String, value: f64 },
    NegativeForLog { feature: String, value: f64 },
}

impl SegmentationModel {
    #[allow(clippy::too_many_arguments)]
    pub fn new(
        currency_code: String,
        minor_per_major: f64,
        transforms: Vec<FeatureTransform>,
        centroids: Vec<Vec<f64>>,
        segments: Vec<SegmentStats>,
        rfm_cut_points: RfmCutPoints,
        rfm_segments: Vec<SegmentStats>,
        k_selection: Vec<KScore>,
    ) -> Result<Self, String> {
        let model = Self {
            currency_code,
            minor_per_major,
            transforms,
            centroids,
            segments,
            rfm_cut_points,
            rfm_segments,
            k_selection,
            serving: None,
        };
        model.prepared()
    }

    /// Decodes a stored payload and prepares it for serving.
    pub fn decode(payload: &[u8]) -> Result<Self, String> {
        let model: Self = serde_json::from_slice(payload).map_err(|error| error.to_string())?;
        model.prepared()
    }

    pub fn encode(&self) -> Result<Vec<u8>, String> {
        serde_json::to_vec(self).map_err(|error| error.to_string())
    }

    fn prepared(mut self) -> Result<Self, String> {
        let specs = self
            .transforms
            .iter()
            .map(|transform| {
                catalogue::find(&transform.feature).ok_or_else(|| format!("unknown feature {}", transform.feature))
            })
            .collect::<Result<Vec<_>, _>>()?;
        let dimension = self.transforms.len();
        let flat: Vec<f64> = self.centroids.iter().flatten().copied().collect();
        let centroids =
            Array2::from_shape_vec((self.centroids.len(), dimension), flat).map_err(|error| error.to_string())?;
        let kmeans =
            KMeansModel { centroids, inertia: 0.0, iterations: 0, converged: true, training_labels: Vec::new() };
        self.serving = Some(Serving { specs, kmeans });
        Ok(self)
    }

    pub fn features(&self) -> Vec<String> {
        self.transforms.iter().map(|transform| transform.feature.clone()).collect()
    }

    /// Standardises raw values (model order), refusing what the transform cannot take.
    pub fn standardize(&self, raw: &[f64]) -> Result<Vec<f64>, AssignError> {
        self.transforms
            .iter()
            .zip(raw)
            .map(|(transform, &value)| {
                if !value.is_finite() {
                    return Err(AssignError::NotFinite { feature: transform.feature.clone(), value });
                }
                if transform.log1p && value < 0.0 {
                    return Err(AssignError::NegativeForLog { feature: transform.feature.clone(), value });
                }
                Ok(transform.apply(value))
            })
            .collect()
    }

    /// The nearest k-means segment of standardised values.
    pub fn place(&self, standardized: &[f64]) -> Placement {
        match &self.serving {
            Some(serving) => {
                let (segment, squared) = serving.kmeans.nearest(standardized);
                Placement { segment, distance: squared.sqrt() }
            }
            None => Placement { segment: 0, distance: f64::INFINITY },
        }
    }

    /// The model's raw feature values of an export row, in model order.
    pub fn read_row(&self, row: &ExportRow) -> Vec<f64> {
        match &self.serving {
            Some(serving) => serving.specs.iter().map(|spec| spec.read(row, self.minor_per_major)).collect(),
            None => Vec::new(),
        }
    }

    /// Places an export row: its features standardised, then the nearest centroid.
    pub fn place_row(&self, row: &ExportRow) -> Result<Placement, AssignError> {
        let standardized = self.standardize(&self.read_row(row))?;
        Ok(self.place(&standardized))
    }

    /// The RFM score and baseline segment (index into `rfm_segments`) of an export row.
    pub fn rfm_of_row(&self, row: &ExportRow) -> (RfmScore, usize) {
        let read = |name: &str| catalogue::find(name).map_or(0.0, |spec| spec.read(row, self.minor_per_major));
        self.rfm_of(read(RECENCY_FEATURE), read(FREQUENCY_FEATURE), read(MONETARY_FEATURE))
    }

    pub fn rfm_of(&self, recency_days: f64, orders: f64, monetary: f64) -> (RfmScore, usize) {
        let score = self.rfm_cut_points.score(recency_days, orders, monetary);
        let id = super::rfm::RFM_SEGMENTS[score.segment()].0;
        let index = self.rfm_segments.iter().position(|segment| segment.id == id).unwrap_or(0);
        (score, index)
    }
}
