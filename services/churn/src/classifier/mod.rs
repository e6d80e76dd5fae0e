//! The supervised churn classifier, as pure computation without I/O:
//! label = no purchase in the N days after a cutoff; features as of that
//! cutoff (BTYD outputs, RFM, engagement, complaints, NPS); L2-regularised
//! logistic regression (linfa) on standardised features; probabilities
//! calibrated on a validation split (Platt or isotonic); a holdout report.
//!
//! - [`features`]: the feature vector of one customer and its names.
//! - [`standardize`]: z-scores with the training means and deviations.
//! - [`calibration`]: Platt scaling and isotonic regression.
//! - [`evaluation`]: ROC AUC, PR AUC, Brier, lift table, calibration curve.
//! - [`model`]: training and prediction, with risk bands and top factors.

pub mod calibration;
pub mod evaluation;
pub mod features;
pub mod model;
pub mod standardize;

pub use calibration::{Calibration, CalibrationMethod};
pub use evaluation::{CalibrationBin, Evaluation, LiftDecile, evaluate};
pub use features::{FEATURE_NAMES, FeatureInput, feature_vector};
pub use model::{ChurnClassifier, ClassifierError, Factor, Prediction, RiskBand, TrainOptions};
