//! A forecast model version's payload: the configuration and, per series it
//! was trained on, the choice made and its scores.

use serde::{Deserialize, Serialize};

use super::period::Granularity;
use super::series::{Level, Measure, SeriesRef};
use crate::models::{Method, SelectionSettings};

/// The series a model or batch covers.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SeriesSet {
    pub measure: Measure,
    pub granularity: Granularity,
    pub levels: Vec<Level>,
    pub series: Vec<(Level, String)>,
    pub segmentation_model_id: String,
    pub currency_code: String,
}

impl SeriesSet {
    pub fn template(&self, level: Level, key: &str) -> SeriesRef {
        SeriesRef {
            measure: self.measure,
            granularity: self.granularity,
            level,
            key: key.to_owned(),
            segmentation_model_id: if level == Level::Segment {
                self.segmentation_model_id.clone()
            } else {
                String::new()
            },
            currency_code: self.currency_code.clone(),
        }
    }
}

/// One series' stored choice.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct StoredSelection {
    pub series: SeriesRef,
    pub method: Method,
    pub specification: String,
    pub members: Vec<Method>,
    pub fallback: bool,
    pub mase: Option<f64>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ForecastModel {
    pub settings: SelectionSettings,
    pub series_set: SeriesSet,
    pub selections: Vec<StoredSelection>,
}

impl ForecastModel {
    pub fn encode(&self) -> Result<Vec<u8>, serde_json::Error> {
        serde_json::to_vec(self)
    }

    pub fn decode(payload: &[u8]) -> Result<Self, serde_json::Error> {
        serde_json::from_slice(payload)
    }

    pub fn selection_for(&self, series: &SeriesRef) -> Option<&StoredSelection> {
        self.selections.iter().find(|s| {
            s.series.level == series.level
                && s.series.key == series.key
                && s.series.measure == series.measure
                && s.series.granularity == series.granularity
        })
    }
}
