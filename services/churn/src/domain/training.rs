//! A training run, as pure computation over exports the caller fetched:
//!
//! 1. BG/NBD and Gamma-Gamma on the purchases before the calibration cutoff;
//! 2. classifier features as of the calibration cutoff, labels from
//!    [calibration cutoff, + N days) — features never see the label window;
//! 3. the classifier, calibrated on a validation split;
//! 4. a time-based holdout: features as of the holdout cutoff (same fitted
//!    models), labels from [holdout cutoff, + N days).

use std::collections::{BTreeMap, HashMap};

use crate::btyd::{
    BgNbdFitOptions, BtydError, ClvConfig, CustomerRow, GammaGammaFitOptions, Scorer, SufficientStats, bgnbd,
    gamma_gamma,
};
use crate::classifier::evaluation::EvaluationError;
use crate::classifier::{ChurnClassifier, ClassifierError, Evaluation, FEATURE_NAMES, TrainOptions, evaluate};
use crate::domain::model::{BgNbdSummary, ChurnModel, Engine, GammaGammaSummary};
use crate::domain::settings::TrainSettings;
use crate::domain::snapshot::{Snapshot, bought_since};

/// Exports of the profile service a run needs.
#[derive(Debug, Clone, Default)]
pub struct TrainingData {
    /// Buyers as of the calibration cutoff.
    pub calibration: Vec<Snapshot>,
    /// Buyers as of calibration cutoff + N days (training labels).
    pub calibration_outcome: Vec<Snapshot>,
    /// Buyers as of the holdout cutoff.
    pub holdout: Vec<Snapshot>,
    /// Buyers as of holdout cutoff + N days (holdout labels).
    pub holdout_outcome: Vec<Snapshot>,
}

/// Why a run cannot produce a model.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum TrainError {
    /// The data cannot support the model (FAILED_PRECONDITION).
    #[error("{0}")]
    InsufficientData(String),
    #[error("{0}")]
    Numerical(String),
}

impl From<BtydError> for TrainError {
    fn from(e: BtydError) -> Self {
        if e.is_failed_precondition() {
            TrainError::InsufficientData(e.to_string())
        } else {
            TrainError::Numerical(e.to_string())
        }
    }
}

impl From<ClassifierError> for TrainError {
    fn from(e: ClassifierError) -> Self {
        match e {
            ClassifierError::TooFewOfAClass { .. } => TrainError::InsufficientData(e.to_string()),
            ClassifierError::Fit(_) => TrainError::Numerical(e.to_string()),
        }
    }
}

impl From<EvaluationError> for TrainError {
    fn from(e: EvaluationError) -> Self {
        TrainError::InsufficientData(format!("holdout: {e}"))
    }
}

/// A finished run.
#[derive(Debug, Clone)]
pub struct Trained {
    pub engine: Engine,
    pub metrics: BTreeMap<String, f64>,
    pub training_rows: i64,
}

/// Customers with a label: those in `before` who are still in `after`
/// (an erased customer has no outcome), with churned = no purchase since.
pub fn labelled<'a>(before: &'a [Snapshot], after: &[Snapshot], cutoff_us: i64) -> (Vec<&'a Snapshot>, Vec<bool>) {
    let later: HashMap<&str, &Snapshot> = after.iter().map(|s| (s.customer_id.as_str(), s)).collect();
    before.iter().filter_map(|s| later.get(s.customer_id.as_str()).map(|l| (s, !bought_since(l, cutoff_us)))).unzip()
}

pub fn train(
    data: &TrainingData,
    settings: &TrainSettings,
    progress: &(dyn Fn(f64, &str) + Sync),
) -> Result<Trained, TrainError> {
    let unit = settings.time_unit.days();
    let window_days = f64::from(settings.label_window_days);
    let longest = data.calibration.iter().map(|s| s.age * unit).fold(0.0, f64::max);
    if longest < window_days {
        return Err(TrainError::InsufficientData(format!(
            "history too short: the longest customer history before the calibration cutoff is {longest:.0} days; \
             at least the label window ({window_days:.0} days) is needed"
        )));
    }

    progress(0.1, "fitting BG/NBD");
    let rows: Vec<CustomerRow> = data.calibration.iter().map(Snapshot::btyd_row).collect();
    let rfm: Vec<_> = rows.iter().map(|r| r.rfm).collect();
    let stats = SufficientStats::from_rows(&rfm)?;
    let bg_options = BgNbdFitOptions {
        l2_penalty: settings.l2_penalty,
        min_repeat_customers: settings.min_repeat_customers,
        ..BgNbdFitOptions::default()
    };
    let bg = bgnbd::fit(&stats, &bg_options)?;
    if !bg.converged || bg.at_bound {
        return Err(TrainError::InsufficientData(format!(
            "BG/NBD did not find an interior optimum (converged: {}, parameter at a bound: {}); \
             the data cannot identify the model",
            bg.converged, bg.at_bound
        )));
    }

    progress(0.3, "fitting Gamma-Gamma");
    let gg = gamma_gamma::fit(
        &rows,
        &GammaGammaFitOptions {
            max_spend_frequency_correlation: settings.max_spend_frequency_correlation,
            min_customers: settings.min_repeat_customers,
            ..GammaGammaFitOptions::default()
        },
    )?;

    progress(0.45, "building classifier features");
    let label_scorer = Scorer::new(
        bg.params,
        gg.params,
        ClvConfig::new(window_days / unit, settings.annual_discount_rate, unit).map_err(BtydError::from)?,
    );
    let (train_customers, train_labels) =
        labelled(&data.calibration, &data.calibration_outcome, settings.calibration_cutoff_us);
    let train_rows = feature_rows(&label_scorer, &train_customers)?;

    progress(0.6, "fitting the classifier");
    let options = TrainOptions {
        l2: settings.logistic_alpha,
        calibration: settings.calibration,
        seed: settings.seed,
        medium_risk_threshold: settings.medium_risk_threshold,
        high_risk_threshold: settings.high_risk_threshold,
        ..TrainOptions::default()
    };
    let classifier = ChurnClassifier::train(&train_rows, &train_labels, &options)?;

    progress(0.8, "evaluating on the holdout");
    let (holdout_customers, holdout_labels) =
        labelled(&data.holdout, &data.holdout_outcome, settings.holdout_cutoff_us);
    let holdout_rows = feature_rows(&label_scorer, &holdout_customers)?;
    let predicted: Vec<f64> = holdout_rows.iter().map(|r| classifier.probability(r)).collect();
    let holdout = evaluate(&predicted, &holdout_labels, 10)?;

    let model = ChurnModel {
        settings: settings.clone(),
        bg_nbd: BgNbdSummary {
            r: bg.params.r,
            alpha: bg.params.alpha,
            a: bg.params.a,
            b: bg.params.b,
            log_likelihood: bg.log_likelihood,
            customer_count: bg.customers,
            distinct_statistics_count: bg.groups as u64,
        },
        gamma_gamma: GammaGammaSummary {
            p: gg.params.p,
            q: gg.params.q,
            gamma: gg.params.gamma,
            log_likelihood: gg.log_likelihood,
            spend_frequency_correlation: gg.spend_frequency_correlation,
            customer_count: gg.customers,
        },
        classifier,
        holdout,
    };
    let metrics = metrics(&model);
    let engine = Engine::new(model)?;
    Ok(Trained { engine, metrics, training_rows: train_rows.len() as i64 })
}

fn feature_rows(scorer: &Scorer, customers: &[&Snapshot]) -> Result<Vec<Vec<f64>>, TrainError> {
    let owned: Vec<Snapshot> = customers.iter().map(|s| (*s).clone()).collect();
    crate::domain::scoring::classifier_rows(scorer, &owned).into_iter().map(|r| r.map_err(TrainError::from)).collect()
}

/// The metrics recorded with the version (names from churn.proto).
pub fn metrics(model: &ChurnModel) -> BTreeMap<String, f64> {
    let mut m = evaluation_metrics(&model.holdout);
    m.insert("bgnbd_log_likelihood".to_owned(), model.bg_nbd.log_likelihood);
    m.insert("spend_frequency_correlation".to_owned(), model.gamma_gamma.spend_frequency_correlation);
    m
}

pub fn evaluation_metrics(e: &Evaluation) -> BTreeMap<String, f64> {
    BTreeMap::from([
        ("roc_auc".to_owned(), e.roc_auc),
        ("pr_auc".to_owned(), e.pr_auc),
        ("brier".to_owned(), e.brier_score),
        ("top_decile_lift".to_owned(), e.top_decile_lift),
    ])
}

/// Evaluates a model on a holdout (EvaluateModel, CompareModels).
pub fn evaluate_on(
    engine: &Engine,
    holdout: &[Snapshot],
    outcome: &[Snapshot],
    cutoff_us: i64,
    bins: usize,
) -> Result<Evaluation, TrainError> {
    let (customers, labels) = labelled(holdout, outcome, cutoff_us);
    let rows = feature_rows(&engine.label_window_scorer, &customers)?;
    let predicted: Vec<f64> = rows.iter().map(|r| engine.model.classifier.probability(r)).collect();
    Ok(evaluate(&predicted, &labels, bins)?)
}

/// The feature names recorded with the version.
pub fn feature_names() -> Vec<String> {
    FEATURE_NAMES.iter().map(|s| (*s).to_owned()).collect()
}
