//! Requests parsed into domain values; every bad field is reported at once,
//! named by its path in the request.

use patron_common::Validator;
use patron_proto::forecast::v1 as pb;

use crate::domain::period::{Granularity, micros_of, now_micros};
use crate::domain::series::{Level, Measure, SeriesRef};
use crate::models::{BacktestSettings, Method, SelectionSettings};

/// Most values a given series may hold.
pub const MAX_SERIES_VALUES: usize = 100_000;
const MAX_INTERVAL_LEVELS: usize = 10;
const DEFAULT_LEVELS: [f64; 2] = [80.0, 95.0];
const DEFAULT_WINDOWS: usize = 3;
const DEFAULT_COMBINATION_SIZE: usize = 3;

/// Where a request's series comes from.
#[derive(Debug, Clone)]
pub enum SeriesInput {
    Named(SeriesRef),
    Given { start: i64, granularity: Granularity, values: Vec<f64> },
}

impl SeriesInput {
    pub fn granularity(&self) -> Granularity {
        match self {
            SeriesInput::Named(series) => series.granularity,
            SeriesInput::Given { granularity, .. } => *granularity,
        }
    }
}

pub fn method(value: pb::ForecastMethod) -> Option<Method> {
    Some(match value {
        pb::ForecastMethod::SeasonalNaive => Method::SeasonalNaive,
        pb::ForecastMethod::Ets => Method::Ets,
        pb::ForecastMethod::MstlEts => Method::MstlEts,
        pb::ForecastMethod::Theta => Method::Theta,
        pb::ForecastMethod::Croston => Method::Croston,
        pb::ForecastMethod::Sba => Method::Sba,
        pb::ForecastMethod::Tsb => Method::Tsb,
        pb::ForecastMethod::Combination => Method::Combination,
        pb::ForecastMethod::Arima | pb::ForecastMethod::Unspecified => return None,
    })
}

pub fn granularity(validator: &mut Validator, field: &str, value: i32) -> Granularity {
    match pb::Granularity::try_from(value) {
        Ok(pb::Granularity::Day) => Granularity::Day,
        Ok(pb::Granularity::Week) => Granularity::Week,
        Ok(pb::Granularity::Month) => Granularity::Month,
        _ => {
            validator.violation(field, "must be DAY, WEEK or MONTH");
            Granularity::Day
        }
    }
}

fn measure(validator: &mut Validator, field: &str, value: i32) -> Measure {
    match pb::Measure::try_from(value) {
        Ok(pb::Measure::Revenue) => Measure::Revenue,
        Ok(pb::Measure::Units) => Measure::Units,
        _ => {
            validator.violation(field, "must be REVENUE or UNITS");
            Measure::Revenue
        }
    }
}

pub fn level(validator: &mut Validator, field: &str, value: i32) -> Level {
    match pb::SeriesLevel::try_from(value) {
        Ok(pb::SeriesLevel::Total) => Level::Total,
        Ok(pb::SeriesLevel::Store) => Level::Store,
        Ok(pb::SeriesLevel::Channel) => Level::Channel,
        Ok(pb::SeriesLevel::Category) => Level::Category,
        Ok(pb::SeriesLevel::Sku) => Level::Sku,
        Ok(pb::SeriesLevel::Region) => Level::Region,
        Ok(pb::SeriesLevel::Segment) => Level::Segment,
        _ => {
            validator.violation(field, "must name a series level");
            Level::Total
        }
    }
}

/// Checks a level's key: empty for TOTAL, present otherwise.
pub fn key(validator: &mut Validator, field: &str, level: Level, key: &str) {
    if level == Level::Total {
        validator.check(key.is_empty(), field, "must be empty for the TOTAL level");
    } else {
        validator.identifier(field, key, 256);
    }
}

pub fn series_id(validator: &mut Validator, field: &str, id: &pb::SeriesId) -> SeriesRef {
    let level = level(validator, &format!("{field}.level"), id.level);
    key(validator, &format!("{field}.key"), level, &id.key);
    if level != Level::Segment && !id.segmentation_model_id.is_empty() {
        validator
            .violation(format!("{field}.segmentation_model_id"), "only the SEGMENT level takes a segmentation model");
    }
    SeriesRef {
        measure: measure(validator, &format!("{field}.measure"), id.measure),
        granularity: granularity(validator, &format!("{field}.granularity"), id.granularity),
        level,
        key: id.key.clone(),
        segmentation_model_id: id.segmentation_model_id.clone(),
        currency_code: id.currency_code.clone(),
    }
}

pub fn series_data(validator: &mut Validator, data: &pb::SeriesData) -> SeriesInput {
    let granularity = granularity(validator, "series_data.granularity", data.granularity);
    let start = data.start_time.as_ref().map(micros_of);
    match start {
        None => validator.violation("series_data.start_time", "is required"),
        Some(start) => validator.check(
            granularity.is_boundary(start),
            "series_data.start_time",
            "must be the start of a period of the granularity (00:00 UTC; Monday for weeks; the 1st for months)",
        ),
    }
    if data.values.len() > MAX_SERIES_VALUES {
        validator.violation("series_data.values", format!("must hold at most {MAX_SERIES_VALUES} values"));
    }
    for (index, value) in data.values.iter().enumerate() {
        if !value.is_finite() || *value < 0.0 {
            validator.violation(format!("series_data.values[{index}]"), "must be finite and not negative");
        }
    }
    SeriesInput::Given { start: start.unwrap_or_default(), granularity, values: data.values.clone() }
}

/// Either a named or a given series; the oneof must be set.
pub fn series(
    validator: &mut Validator,
    id: Option<&pb::SeriesId>,
    data: Option<&pb::SeriesData>,
) -> Option<SeriesInput> {
    match (id, data) {
        (Some(id), _) => Some(SeriesInput::Named(series_id(validator, "series_id", id))),
        (None, Some(data)) => Some(series_data(validator, data)),
        (None, None) => {
            validator.violation("series", "set series_id or series_data");
            None
        }
    }
}

pub fn horizon(validator: &mut Validator, field: &str, horizon: i32, granularity: Granularity) -> usize {
    let max = granularity.max_horizon();
    if horizon <= 0 || horizon as usize > max {
        validator.violation(field, format!("must be between 1 and {max} periods at this granularity"));
        return 1;
    }
    horizon as usize
}

/// Levels in percent, merged and ascending; empty means 80 and 95.
pub fn interval_levels(validator: &mut Validator, levels: &[f64]) -> Vec<f64> {
    if levels.is_empty() {
        return DEFAULT_LEVELS.to_vec();
    }
    if levels.len() > MAX_INTERVAL_LEVELS {
        validator.violation("interval_levels", format!("must hold at most {MAX_INTERVAL_LEVELS} levels"));
    }
    for (index, level) in levels.iter().enumerate() {
        if !(level.is_finite() && *level > 0.0 && *level < 100.0) {
            validator.violation(format!("interval_levels[{index}]"), "must be in the open range (0, 100)");
        }
    }
    let mut merged: Vec<f64> = levels.iter().copied().filter(|l| l.is_finite() && *l > 0.0 && *l < 100.0).collect();
    merged.sort_by(f64::total_cmp);
    merged.dedup();
    merged
}

/// A data cutoff for a named series: rounded down to a period boundary,
/// not in the future; default the start of the current period.
pub fn data_cutoff(
    validator: &mut Validator,
    cutoff: Option<&prost_types::Timestamp>,
    series: Option<&SeriesInput>,
) -> i64 {
    let granularity = series.map(SeriesInput::granularity).unwrap_or(Granularity::Day);
    let now = now_micros();
    match (cutoff, series) {
        (Some(_), Some(SeriesInput::Given { .. })) => {
            validator.violation("data_cutoff", "is only for named series; a given series ends where its values end");
            0
        }
        (Some(cutoff), _) => {
            let micros = micros_of(cutoff);
            validator.check(micros <= now, "data_cutoff", "must not be in the future");
            granularity.floor(micros)
        }
        (None, _) => granularity.floor(now),
    }
}

/// The selection configuration, over `base` (the model's or the defaults).
pub fn selection(
    validator: &mut Validator,
    config: Option<&pb::SelectionConfig>,
    granularity: Granularity,
    forecast_horizon: Option<usize>,
    levels: Vec<f64>,
    base: Option<&SelectionSettings>,
) -> SelectionSettings {
    let default_horizon = forecast_horizon.unwrap_or_else(|| granularity.default_backtest_horizon());
    let mut settings = base.cloned().unwrap_or(SelectionSettings {
        candidates: Vec::new(),
        backtest: BacktestSettings { windows: DEFAULT_WINDOWS, horizon: default_horizon, step: default_horizon },
        combination_size: DEFAULT_COMBINATION_SIZE,
        seasonal_periods: None,
        calendar_periods: granularity.calendar_periods(),
        levels: Vec::new(),
        required: None,
    });
    settings.levels = levels;
    settings.calendar_periods = granularity.calendar_periods();
    if base.is_some() && forecast_horizon.is_some() {
        // A model's backtest horizon follows the forecast horizon asked for now.
        settings.backtest.horizon = default_horizon;
        settings.backtest.step = default_horizon;
    }
    let Some(config) = config else { return settings };

    if !config.candidates.is_empty() {
        let mut candidates = Vec::new();
        for (index, value) in config.candidates.iter().enumerate() {
            let field = format!("selection.candidates[{index}]");
            match pb::ForecastMethod::try_from(*value).ok().and_then(method) {
                Some(m) if candidates.contains(&m) => validator.violation(field, "is a duplicate"),
                Some(m) => candidates.push(m),
                None => validator.violation(field, "must be a method this server supports (not UNSPECIFIED or ARIMA)"),
            }
        }
        settings.candidates = candidates;
    }
    if let Some(backtest) = &config.backtest {
        if backtest.windows != 0 {
            validator.check((1..=50).contains(&backtest.windows), "selection.backtest.windows", "must be 1-50");
            settings.backtest.windows = backtest.windows.clamp(1, 50) as usize;
        }
        if backtest.horizon != 0 {
            let max = granularity.max_horizon();
            validator.check(
                backtest.horizon > 0 && backtest.horizon as usize <= max,
                "selection.backtest.horizon",
                format!("must be between 1 and {max} periods at this granularity"),
            );
            settings.backtest.horizon = backtest.horizon.clamp(1, max as i32) as usize;
            settings.backtest.step = settings.backtest.horizon;
        }
        if backtest.step != 0 {
            validator.check(backtest.step >= 1, "selection.backtest.step", "must be at least 1");
            settings.backtest.step = backtest.step.max(1) as usize;
        }
    }
    if config.combination_size != 0 {
        validator.check((2..=5).contains(&config.combination_size), "selection.combination_size", "must be 2-5");
        settings.combination_size = config.combination_size.clamp(2, 5) as usize;
    }
    if !config.seasonal_periods.is_empty() {
        for (index, period) in config.seasonal_periods.iter().enumerate() {
            validator.check(*period >= 2, format!("selection.seasonal_periods[{index}]"), "must be at least 2");
        }
        settings.seasonal_periods = Some(config.seasonal_periods.iter().map(|p| (*p).max(2) as usize).collect());
    }
    settings
}
