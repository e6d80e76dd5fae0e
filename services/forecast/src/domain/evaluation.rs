//! Judging a model version on a set of series: per series, every method of
//! its pool backtested on the same windows, and the model's own choice (its
//! stored method, or what its configuration selects for a series it has no
//! selection for). Summaries pool the per-series scores.

use std::collections::BTreeMap;

use super::model::ForecastModel;
use super::series::SeriesRef;
use crate::models::Method;
use crate::models::selection::{self, CandidateScore, SelectionSettings};

/// One series judged.
#[derive(Debug, Clone)]
pub struct SeriesEvaluation {
    /// The row of the model's choice; `None` when it could not be scored.
    pub choice: Option<CandidateScore>,
    /// Every method of the pool (combination included), scored or skipped.
    pub table: Vec<CandidateScore>,
    pub chosen_method: Option<Method>,
}

/// `None` when the history is too short for the backtest (a fallback series).
pub fn evaluate_series(
    values: &[f64],
    settings: &SelectionSettings,
    model: &ForecastModel,
    series: &SeriesRef,
) -> Option<SeriesEvaluation> {
    let backtest = selection::backtest(values, settings, false).ok()?;
    let stored = model.selection_for(series).filter(|stored| !stored.fallback).map(|stored| stored.method);
    let chosen_method = stored.or_else(|| backtest.selected().map(|c| c.method));
    let choice = chosen_method
        .and_then(|method| backtest.candidates.iter().find(|c| c.method == method && c.skip_reason.is_none()))
        .cloned();
    Some(SeriesEvaluation { choice, table: backtest.candidates, chosen_method })
}

/// Means of the scored rows and their pooled interval coverage.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Summary {
    pub series_count: usize,
    pub mean_mase: Option<f64>,
    pub mean_smape: Option<f64>,
    pub mean_rmse: Option<f64>,
    /// Level -> (coverage percent, points).
    pub coverage: BTreeMap<u64, (f64, f64, usize)>,
}

fn mean(values: &[f64]) -> Option<f64> {
    (!values.is_empty()).then(|| values.iter().sum::<f64>() / values.len() as f64)
}

pub fn summarise<'a>(rows: impl Iterator<Item = &'a CandidateScore>) -> Summary {
    let (mut mase, mut smape, mut rmse) = (Vec::new(), Vec::new(), Vec::new());
    let mut count = 0;
    // Keyed by level in thousandths so levels order and compare exactly.
    let mut pooled: BTreeMap<u64, (f64, f64, usize)> = BTreeMap::new();
    for row in rows.filter(|row| row.skip_reason.is_none()) {
        count += 1;
        mase.extend(row.mase);
        smape.extend(row.smape);
        rmse.extend(row.rmse);
        for coverage in &row.coverage {
            if let Some(share) = coverage.coverage {
                let entry = pooled.entry((coverage.level * 1000.0).round() as u64).or_insert((coverage.level, 0.0, 0));
                entry.1 += share * coverage.points as f64;
                entry.2 += coverage.points;
            }
        }
    }
    let coverage = pooled
        .into_iter()
        .map(|(key, (level, inside, points))| (key, (level, inside / points.max(1) as f64, points)))
        .collect();
    Summary { series_count: count, mean_mase: mean(&mase), mean_smape: mean(&smape), mean_rmse: mean(&rmse), coverage }
}
