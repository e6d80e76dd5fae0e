//! Domain results rendered as protobuf messages.

use patron_proto::forecast::v1 as pb;

use crate::domain::period::{Granularity, timestamp};
use crate::domain::series::{Level, Measure, SeriesRef};
use crate::models::intermittent::{DemandClass, Intermittency};
use crate::models::selection::{Backtest, CandidateScore, IntervalKind, SeriesForecast};
use crate::models::{BacktestSettings, Method};

pub fn method(method: Method) -> pb::ForecastMethod {
    match method {
        Method::SeasonalNaive => pb::ForecastMethod::SeasonalNaive,
        Method::Ets => pb::ForecastMethod::Ets,
        Method::MstlEts => pb::ForecastMethod::MstlEts,
        Method::Theta => pb::ForecastMethod::Theta,
        Method::Croston => pb::ForecastMethod::Croston,
        Method::Sba => pb::ForecastMethod::Sba,
        Method::Tsb => pb::ForecastMethod::Tsb,
        Method::Combination => pb::ForecastMethod::Combination,
    }
}

pub fn granularity(granularity: Granularity) -> pb::Granularity {
    match granularity {
        Granularity::Day => pb::Granularity::Day,
        Granularity::Week => pb::Granularity::Week,
        Granularity::Month => pb::Granularity::Month,
    }
}

pub fn level(level: Level) -> pb::SeriesLevel {
    match level {
        Level::Total => pb::SeriesLevel::Total,
        Level::Store => pb::SeriesLevel::Store,
        Level::Channel => pb::SeriesLevel::Channel,
        Level::Category => pb::SeriesLevel::Category,
        Level::Sku => pb::SeriesLevel::Sku,
        Level::Region => pb::SeriesLevel::Region,
        Level::Segment => pb::SeriesLevel::Segment,
    }
}

pub fn series_id(series: &SeriesRef) -> pb::SeriesId {
    pb::SeriesId {
        measure: match series.measure {
            Measure::Revenue => pb::Measure::Revenue,
            Measure::Units => pb::Measure::Units,
        } as i32,
        granularity: granularity(series.granularity) as i32,
        level: level(series.level) as i32,
        key: series.key.clone(),
        segmentation_model_id: series.segmentation_model_id.clone(),
        currency_code: series.currency_code.clone(),
    }
}

pub fn intermittency(value: &Intermittency) -> pb::Intermittency {
    pb::Intermittency {
        classification: match value.class {
            DemandClass::Smooth => pb::IntermittencyClass::Smooth,
            DemandClass::Erratic => pb::IntermittencyClass::Erratic,
            DemandClass::Intermittent => pb::IntermittencyClass::Intermittent,
            DemandClass::Lumpy => pb::IntermittencyClass::Lumpy,
        } as i32,
        adi: value.adi,
        cv_squared: value.cv_squared,
        zero_fraction: value.zero_fraction,
    }
}

pub fn backtest_settings(settings: &BacktestSettings) -> pb::BacktestSettings {
    pb::BacktestSettings {
        windows: settings.windows as i32,
        horizon: settings.horizon as i32,
        step: settings.step as i32,
    }
}

pub fn candidate(score: &CandidateScore) -> pb::CandidateScore {
    pb::CandidateScore {
        method: method(score.method) as i32,
        specification: score.specification.clone(),
        selected: score.selected,
        mase: score.mase,
        smape: score.smape,
        rmse: score.rmse,
        interval_method: match score.interval {
            IntervalKind::Analytic => pb::IntervalMethod::Analytic,
            IntervalKind::Conformal => pb::IntervalMethod::Conformal,
        } as i32,
        coverage: score
            .coverage
            .iter()
            .filter(|c| score.skip_reason.is_none() && c.points > 0)
            .map(|c| pb::IntervalCoverage {
                level: c.level,
                coverage: c.coverage.unwrap_or_default(),
                points: c.points as i32,
            })
            .collect(),
        skip_reason: score.skip_reason.clone().unwrap_or_default(),
    }
}

fn periods_longest_first(periods: &[usize]) -> Vec<i32> {
    let mut periods: Vec<i32> = periods.iter().map(|p| *p as i32).collect();
    periods.sort_unstable_by(|a, b| b.cmp(a));
    periods
}

pub fn backtest(
    backtest: &Backtest,
    granularity: Granularity,
    start: i64,
    history_length: usize,
) -> pb::BacktestResponse {
    pb::BacktestResponse {
        candidates: backtest.candidates.iter().map(candidate).collect(),
        backtest: Some(backtest_settings(&backtest.settings)),
        origins: backtest.origins.iter().map(|o| timestamp(granularity.add(start, *o as i64))).collect(),
        seasonal_periods: periods_longest_first(&backtest.periods),
        intermittency: Some(intermittency(&backtest.intermittency)),
        history_length: history_length as i32,
    }
}

pub fn selection(forecast: &SeriesForecast, settings: &BacktestSettings, from_model: bool) -> pb::Selection {
    pb::Selection {
        method: method(forecast.method) as i32,
        specification: forecast.specification.clone(),
        combination_members: forecast.members.iter().map(|m| method(*m) as i32).collect(),
        fallback: forecast.fallback_reason.is_some(),
        fallback_reason: forecast.fallback_reason.clone().unwrap_or_default(),
        candidates: forecast
            .backtest
            .as_ref()
            .map(|b| b.candidates.iter().map(candidate).collect())
            .unwrap_or_default(),
        backtest: Some(backtest_settings(forecast.backtest.as_ref().map(|b| &b.settings).unwrap_or(settings))),
        seasonal_periods: periods_longest_first(&forecast.periods),
        intermittency: Some(intermittency(&forecast.intermittency)),
        from_model,
        reason: forecast.backtest.as_ref().map(|b| b.reason.clone()).unwrap_or_default(),
    }
}

/// The points of a forecast starting at `cutoff`.
pub fn points(
    forecast: &SeriesForecast,
    levels: &[f64],
    granularity: Granularity,
    cutoff: i64,
) -> Vec<pb::ForecastPoint> {
    forecast
        .mean
        .iter()
        .enumerate()
        .map(|(step, value)| pb::ForecastPoint {
            start_time: Some(timestamp(granularity.add(cutoff, step as i64))),
            value: *value,
            intervals: levels
                .iter()
                .zip(&forecast.intervals)
                .map(|(level, bounds)| pb::PredictionInterval {
                    level: *level,
                    lower: bounds[step].0,
                    upper: bounds[step].1,
                })
                .collect(),
        })
        .collect()
}
