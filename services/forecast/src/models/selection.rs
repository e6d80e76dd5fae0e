//! Automatic choice of a method per series by rolling-origin cross-validation
//! (Tashman, IJF 16, 2000): every candidate is fitted on the data before each
//! origin and scored on the periods after it; the preferred method is kept
//! unless the lowest MASE beats it significantly (`challenge`). Intervals
//! come from the chosen model where it has analytic ones, else split-conformal
//! from its backtest errors; their empirical coverage is measured on the
//! backtest windows (leave-one-window-out for conformal ones).

use serde::{Deserialize, Serialize};

use super::intermittent::{self, Intermittency};
use super::method::{self, FitContext, Method, MethodForecast};
use super::metrics;
use super::seasonality;
use challenge::Choice;

mod challenge;

/// Fewest periods of training data before the first origin.
pub const MIN_TRAINING: usize = 8;
/// Below this nothing can be forecast, not even by the fallback.
pub const ABSOLUTE_MINIMUM: usize = 2;
/// Calibration errors a conformal interval wants per horizon step; neighbouring
/// steps are pooled until there are about this many.
const CONFORMAL_POOL: usize = 20;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct BacktestSettings {
    pub windows: usize,
    pub horizon: usize,
    pub step: usize,
}

impl BacktestSettings {
    /// Periods of history the backtest needs.
    pub fn minimum_length(&self) -> usize {
        self.horizon + (self.windows - 1) * self.step + MIN_TRAINING
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SelectionSettings {
    /// The pool; empty means every supported method.
    pub candidates: Vec<Method>,
    pub backtest: BacktestSettings,
    /// Members of a combination.
    pub combination_size: usize,
    /// Seasonal periods to use; `None` detects them.
    pub seasonal_periods: Option<Vec<usize>>,
    /// Calendar periods offered to detection (e.g. 7 and 365 on days).
    pub calendar_periods: Vec<usize>,
    /// Interval levels in percent, ascending.
    pub levels: Vec<f64>,
    /// A method chosen beforehand (a model's stored choice): it is selected
    /// whenever it can be scored, whatever the others score.
    #[serde(default)]
    pub required: Option<Method>,
}

impl SelectionSettings {
    fn pool(&self) -> Vec<Method> {
        if self.candidates.is_empty() { Method::ALL.to_vec() } else { self.candidates.clone() }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum IntervalKind {
    Analytic,
    Conformal,
}

#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Coverage {
    /// Nominal level in percent.
    pub level: f64,
    /// Share of backtest actuals inside the interval, in percent; `None` without points.
    pub coverage: Option<f64>,
    pub points: usize,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CandidateScore {
    pub method: Method,
    pub specification: String,
    pub selected: bool,
    pub mase: Option<f64>,
    pub smape: Option<f64>,
    pub rmse: Option<f64>,
    pub interval: IntervalKind,
    pub coverage: Vec<Coverage>,
    /// Why it was not scored; scores are then absent.
    pub skip_reason: Option<String>,
    /// COMBINATION only.
    pub members: Vec<Method>,
}

/// The backtest of one series.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Backtest {
    /// Best MASE first, skipped candidates last; one is `selected`.
    pub candidates: Vec<CandidateScore>,
    pub settings: BacktestSettings,
    /// Origins as indices into the series (the first forecast period), oldest first.
    pub origins: Vec<usize>,
    /// Seasonal periods used, shortest first.
    pub periods: Vec<usize>,
    pub intermittency: Intermittency,
    /// Absolute errors of the selected candidate, per window and step, for conformal intervals.
    pub selected_errors: Vec<Vec<f64>>,
    /// Why the selected candidate was chosen (see `challenge`).
    #[serde(default)]
    pub reason: String,
}

impl Backtest {
    pub fn selected(&self) -> Option<&CandidateScore> {
        self.candidates.iter().find(|candidate| candidate.selected)
    }
}

/// A forecast with its intervals and the reasons for its method.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SeriesForecast {
    pub mean: Vec<f64>,
    /// Per level (as in the settings), per step: (lower, upper).
    pub intervals: Vec<Vec<(f64, f64)>>,
    pub method: Method,
    pub specification: String,
    pub members: Vec<Method>,
    /// Set when the history was too short for the backtest.
    pub fallback_reason: Option<String>,
    /// Absent for a fallback.
    pub backtest: Option<Backtest>,
    /// Seasonal periods used, shortest first.
    pub periods: Vec<usize>,
    pub intermittency: Intermittency,
    pub history_length: usize,
}

/// A history too short for what was asked.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TooShort {
    pub length: usize,
    pub minimum: usize,
}

impl std::fmt::Display for TooShort {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} periods, at least {} needed", self.length, self.minimum)
    }
}

/// The seasonal periods a series uses when `usable_length` periods precede
/// the first origin: given or detected, each with two full cycles, shortest first.
pub fn periods_for(y: &[f64], settings: &SelectionSettings, usable_length: usize) -> Vec<usize> {
    let mut periods: Vec<usize> = match &settings.seasonal_periods {
        Some(periods) => periods.clone(),
        None => seasonality::detect(y, &settings.calendar_periods).iter().map(|found| found.period).collect(),
    };
    periods.retain(|&p| p >= 2 && 2 * p <= usable_length);
    periods.sort_unstable();
    periods.dedup();
    periods
}

/// One candidate's forecasts on every window, or why it has none.
type WindowForecasts = Result<Vec<MethodForecast>, String>;

/// Scores the pool on `y`. With `route_scoring`, intermittent series score only
/// the intermittent methods (and the others only the rest); without it every
/// method is scored, but `selected` still marks the routed choice.
pub fn backtest(y: &[f64], settings: &SelectionSettings, route_scoring: bool) -> Result<Backtest, TooShort> {
    backtest_in_context(y, settings, route_scoring, &mut FitContext::default())
}

/// As `backtest`, leaving in `context` the ETS forms chosen on the first
/// training set, so the final fit refits their parameters only.
fn backtest_in_context(
    y: &[f64],
    settings: &SelectionSettings,
    route_scoring: bool,
    context: &mut FitContext,
) -> Result<Backtest, TooShort> {
    let n = y.len();
    let window_settings = settings.backtest;
    let minimum = window_settings.minimum_length();
    if n < minimum {
        return Err(TooShort { length: n, minimum });
    }
    let first_origin = n - window_settings.horizon - (window_settings.windows - 1) * window_settings.step;
    let origins: Vec<usize> = (0..window_settings.windows).map(|w| first_origin + w * window_settings.step).collect();
    let periods = periods_for(y, settings, first_origin);
    let intermittency = intermittent::classify(y);
    let pool = settings.pool();
    let singles: Vec<Method> = pool.iter().copied().filter(|m| *m != Method::Combination).collect();
    let mut routed: Vec<Method> =
        singles.iter().copied().filter(|m| m.is_intermittent() == intermittency.is_intermittent()).collect();
    if routed.is_empty() {
        routed = singles.clone();
    }
    let scored: Vec<Method> = if route_scoring { routed.clone() } else { singles.clone() };

    // Forms are chosen on the data before the first origin only: a form
    // chosen on the whole history would have seen every window's actuals.
    context.choose_forms(&scored, &y[..first_origin], &periods);
    let horizon = window_settings.horizon;
    let season = periods.first().copied().unwrap_or(1);
    let actuals: Vec<&[f64]> = origins.iter().map(|&o| &y[o..o + horizon]).collect();
    let scales: Vec<Option<f64>> = origins.iter().map(|&o| metrics::mase_scale(&y[..o], season)).collect();

    let mut forecasts: Vec<(Method, WindowForecasts)> = scored.iter().map(|&m| (m, Ok(Vec::new()))).collect();
    for &origin in &origins {
        let training = &y[..origin];
        for (method, result) in &mut forecasts {
            if let Ok(list) = result {
                match method::forecast(*method, training, &periods, horizon, context) {
                    Ok(forecast) if forecast.mean.iter().all(|v| v.is_finite()) => list.push(forecast),
                    Ok(_) => *result = Err("fit produced non-finite values".to_owned()),
                    Err(reason) => *result = Err(reason),
                }
            }
        }
    }
    let mut candidates: Vec<(CandidateScore, Vec<Vec<f64>>)> = Vec::new();
    let mut means_by_method: Vec<(Method, Vec<Vec<f64>>)> = Vec::new();
    for (method, result) in &forecasts {
        match result {
            Ok(list) => {
                let means: Vec<Vec<f64>> = list.iter().map(|f| f.mean.clone()).collect();
                let variances: Option<Vec<Vec<f64>>> = list.iter().map(|f| f.variance.clone()).collect();
                // As fitted at the last origin; the chosen method's full-history
                // specification is reported by `forecast_series`.
                let specification = list.last().map(|f| f.specification.clone()).unwrap_or_default();
                let scored = score(*method, specification, &means, variances.as_deref(), &actuals, &scales, settings);
                means_by_method.push((*method, means));
                candidates.push(scored);
            }
            Err(reason) => candidates.push((skipped(*method, reason.clone()), Vec::new())),
        }
    }
    for method in singles.iter().filter(|m| !scored.contains(m)) {
        let reason = if intermittency.is_intermittent() {
            "excluded: the series is intermittent"
        } else {
            "excluded: the series is not intermittent"
        };
        candidates.push((skipped(*method, reason.to_owned()), Vec::new()));
    }

    if pool.contains(&Method::Combination) {
        candidates.push(combine(&candidates, &routed, &means_by_method, &actuals, &scales, settings));
    }

    // Best first; selection among the routed methods and the combination.
    candidates
        .sort_by(|(a, _), (b, _)| ranking_key(a).partial_cmp(&ranking_key(b)).unwrap_or(std::cmp::Ordering::Equal));
    let required = settings.required.and_then(|method| {
        let index = candidates.iter().position(|(c, _)| c.method == method && c.skip_reason.is_none())?;
        Some(Choice { index, reason: format!("{} is the model's stored choice", method.name()) })
    });
    let chosen = required.or_else(|| {
        challenge::choose(
            &candidates,
            |c| c.skip_reason.is_none() && (routed.contains(&c.method) || c.method == Method::Combination),
            &scales,
        )
    });
    let mut selected_errors = Vec::new();
    let mut reason = String::new();
    if let Some(choice) = chosen {
        candidates[choice.index].0.selected = true;
        selected_errors = candidates[choice.index].1.clone();
        reason = choice.reason;
    }
    Ok(Backtest {
        candidates: candidates.into_iter().map(|(c, _)| c).collect(),
        settings: window_settings,
        origins,
        periods,
        intermittency,
        selected_errors,
        reason,
    })
}

/// Sort key: scored before skipped, then MASE (absent after present), then RMSE.
fn ranking_key(candidate: &CandidateScore) -> (u8, f64, f64, usize) {
    let order = Method::ALL.iter().position(|m| *m == candidate.method).unwrap_or(0);
    match (&candidate.skip_reason, candidate.mase) {
        (Some(_), _) => (2, 0.0, 0.0, order),
        (None, Some(mase)) => (0, mase, candidate.rmse.unwrap_or(f64::INFINITY), order),
        (None, None) => (1, candidate.rmse.unwrap_or(f64::INFINITY), 0.0, order),
    }
}

fn skipped(method: Method, reason: String) -> CandidateScore {
    CandidateScore {
        method,
        specification: String::new(),
        selected: false,
        mase: None,
        smape: None,
        rmse: None,
        interval: if method.has_analytic_intervals() { IntervalKind::Analytic } else { IntervalKind::Conformal },
        coverage: Vec::new(),
        skip_reason: Some(reason),
        members: Vec::new(),
    }
}

/// Equal-weight mean of the best `combination_size` routed candidates by MASE.
///
/// Its backtest is cross-fitted: the members averaged at each window are the
/// best by MASE on the *other* windows, so the combination's score carries no
/// winner's-curse bonus from choosing members on the windows it is scored on
/// (with one window there is nothing else to choose on, and it uses that one).
/// The members reported and used for the final forecast are the best over
/// every window.
fn combine(
    candidates: &[(CandidateScore, Vec<Vec<f64>>)],
    routed: &[Method],
    means_by_method: &[(Method, Vec<Vec<f64>>)],
    actuals: &[&[f64]],
    scales: &[Option<f64>],
    settings: &SelectionSettings,
) -> (CandidateScore, Vec<Vec<f64>>) {
    let eligible: Vec<&(CandidateScore, Vec<Vec<f64>>)> =
        candidates.iter().filter(|(c, _)| c.skip_reason.is_none() && routed.contains(&c.method)).collect();
    let windows = actuals.len();
    // Mean scaled error over the windows `included` admits (RMSE-like fallback when no scale exists).
    let mase_over = |errors: &[Vec<f64>], included: &dyn Fn(usize) -> bool| -> f64 {
        let (mut total, mut count, mut raw) = (0.0, 0usize, 0.0);
        for (w, window_errors) in errors.iter().enumerate().filter(|(w, _)| included(*w)) {
            let mae = window_errors.iter().sum::<f64>() / window_errors.len().max(1) as f64;
            raw += mae;
            if let Some(scale) = scales[w] {
                total += mae / scale;
                count += 1;
            }
        }
        if count > 0 { total / count as f64 } else { 1e12 + raw }
    };
    let best = |included: &dyn Fn(usize) -> bool| -> Vec<Method> {
        let mut ranked: Vec<(f64, usize, Method)> = eligible
            .iter()
            .map(|(c, errors)| {
                let order = Method::ALL.iter().position(|m| *m == c.method).unwrap_or(0);
                (mase_over(errors, included), order, c.method)
            })
            .collect();
        ranked.sort_by(|a, b| a.0.total_cmp(&b.0).then(a.1.cmp(&b.1)));
        ranked.into_iter().take(settings.combination_size).map(|(_, _, m)| m).collect()
    };
    let members = best(&|_| true);
    if members.len() < 2 {
        return (skipped(Method::Combination, "fewer than two scored candidates to combine".to_owned()), Vec::new());
    }
    let means_of = |method: Method| means_by_method.iter().find(|(m, _)| *m == method).map(|(_, means)| means);
    let means: Vec<Vec<f64>> = (0..windows)
        .map(|w| {
            let window_members = if windows > 1 { best(&|v| v != w) } else { members.clone() };
            let member_means: Vec<&Vec<Vec<f64>>> = window_members.iter().filter_map(|m| means_of(*m)).collect();
            (0..actuals[w].len())
                .map(|step| member_means.iter().map(|means| means[w][step]).sum::<f64>() / member_means.len() as f64)
                .collect()
        })
        .collect();
    let names: Vec<&str> = members.iter().map(|m| m.name()).collect();
    let specification = format!("COMBINATION({})", names.join(","));
    let (mut score, errors) = score(Method::Combination, specification, &means, None, actuals, scales, settings);
    score.members = members;
    (score, errors)
}

/// MASE, sMAPE, RMSE and interval coverage of one candidate's window forecasts.
/// Returns the score and the absolute errors per window and step.
fn score(
    method: Method,
    specification: String,
    means: &[Vec<f64>],
    variances: Option<&[Vec<f64>]>,
    actuals: &[&[f64]],
    scales: &[Option<f64>],
    settings: &SelectionSettings,
) -> (CandidateScore, Vec<Vec<f64>>) {
    let mut scaled_errors = Vec::new();
    let (mut smape_total, mut squared_total, mut points) = (0.0, 0.0, 0usize);
    let mut errors: Vec<Vec<f64>> = Vec::with_capacity(means.len());
    for (w, (mean, actual)) in means.iter().zip(actuals).enumerate() {
        let mae = metrics::mean_absolute_error(actual, mean);
        if let Some(scale) = scales[w] {
            scaled_errors.push(mae / scale);
        }
        let mut window_errors = Vec::with_capacity(actual.len());
        for (a, f) in actual.iter().zip(mean) {
            smape_total += metrics::smape_term(*a, *f);
            squared_total += (a - f).powi(2);
            points += 1;
            window_errors.push((a - f).abs());
        }
        errors.push(window_errors);
    }
    let mase = (!scaled_errors.is_empty()).then(|| scaled_errors.iter().sum::<f64>() / scaled_errors.len() as f64);
    let smape = (points > 0).then(|| smape_total / points as f64);
    let rmse = (points > 0).then(|| (squared_total / points as f64).sqrt());
    let interval = if variances.is_some() { IntervalKind::Analytic } else { IntervalKind::Conformal };
    let coverage = settings
        .levels
        .iter()
        .map(|&level| match variances {
            Some(variances) => analytic_coverage(level, means, variances, actuals),
            None => conformal_coverage(level, means, &errors, actuals),
        })
        .collect();
    let score = CandidateScore {
        method,
        specification,
        selected: false,
        mase: mase.filter(|v| v.is_finite()),
        smape: smape.filter(|v| v.is_finite()),
        rmse: rmse.filter(|v| v.is_finite()),
        interval,
        coverage,
        skip_reason: None,
        members: Vec::new(),
    };
    (score, errors)
}

fn analytic_coverage(level: f64, means: &[Vec<f64>], variances: &[Vec<f64>], actuals: &[&[f64]]) -> Coverage {
    let z = metrics::normal_quantile(level);
    let (mut inside, mut points) = (0usize, 0usize);
    for ((mean, variance), actual) in means.iter().zip(variances).zip(actuals) {
        for ((m, v), a) in mean.iter().zip(variance).zip(actual.iter()) {
            let half = z * v.max(0.0).sqrt();
            let lower = (m - half).max(0.0);
            points += 1;
            if *a >= lower && *a <= m + half {
                inside += 1;
            }
        }
    }
    coverage_of(level, inside, points)
}

/// Leave-one-window-out: each window's interval is calibrated on the others' errors.
fn conformal_coverage(level: f64, means: &[Vec<f64>], errors: &[Vec<f64>], actuals: &[&[f64]]) -> Coverage {
    let (mut inside, mut points) = (0usize, 0usize);
    if means.len() >= 2 {
        for (w, (mean, actual)) in means.iter().zip(actuals).enumerate() {
            let others: Vec<Vec<f64>> =
                errors.iter().enumerate().filter(|(other, _)| *other != w).map(|(_, e)| e.clone()).collect();
            let half_widths = conformal_half_widths(&others, mean.len(), level);
            for ((m, half), a) in mean.iter().zip(&half_widths).zip(actual.iter()) {
                points += 1;
                if *a >= (m - half).max(0.0) && *a <= m + half {
                    inside += 1;
                }
            }
        }
    }
    coverage_of(level, inside, points)
}

fn coverage_of(level: f64, inside: usize, points: usize) -> Coverage {
    Coverage { level, coverage: (points > 0).then(|| 100.0 * inside as f64 / points as f64), points }
}

/// Split-conformal half-widths for `horizon` steps from absolute errors per
/// window and step, pooling neighbouring steps so each quantile rests on
/// about `CONFORMAL_POOL` errors; beyond the backtest horizon the last
/// width grows like sqrt(step), as a random walk's would.
pub fn conformal_half_widths(errors: &[Vec<f64>], horizon: usize, level: f64) -> Vec<f64> {
    let calibrated_steps = errors.iter().map(Vec::len).min().unwrap_or(0);
    if errors.is_empty() || calibrated_steps == 0 {
        return vec![0.0; horizon];
    }
    let band = (CONFORMAL_POOL.div_ceil(errors.len())).saturating_sub(1).div_ceil(2);
    let mut widths = Vec::with_capacity(horizon);
    for step in 0..horizon.min(calibrated_steps) {
        let from = step.saturating_sub(band);
        let to = (step + band).min(calibrated_steps - 1);
        let mut pooled: Vec<f64> = errors.iter().flat_map(|e| e[from..=to].iter().copied()).collect();
        widths.push(metrics::conformal_quantile(&mut pooled, level).unwrap_or(0.0));
    }
    let last = widths.last().copied().unwrap_or(0.0);
    for step in calibrated_steps..horizon {
        widths.push(last * ((step + 1) as f64 / calibrated_steps as f64).sqrt());
    }
    widths
}

/// Forecasts `horizon` periods after `y`: automatic selection when the
/// history allows the backtest, otherwise the flagged seasonal naive fallback.
pub fn forecast_series(y: &[f64], horizon: usize, settings: &SelectionSettings) -> Result<SeriesForecast, TooShort> {
    if y.len() < ABSOLUTE_MINIMUM {
        return Err(TooShort { length: y.len(), minimum: ABSOLUTE_MINIMUM });
    }
    // The ETS forms are chosen by AICc once, before the first origin, and kept for
    // the backtest windows and the final fit, which refit parameters only.
    let mut context = FitContext::default();
    let backtest = match backtest_in_context(y, settings, true, &mut context) {
        Ok(backtest) => backtest,
        Err(too_short) => return Ok(fallback(y, horizon, settings, too_short)),
    };
    let Some(chosen) = backtest.selected().cloned() else {
        return Ok(fallback(y, horizon, settings, TooShort { length: y.len(), minimum: y.len() + 1 }));
    };
    let periods = backtest.periods.clone();
    let members = if chosen.method == Method::Combination { chosen.members.clone() } else { vec![chosen.method] };
    let mut fits = Vec::with_capacity(members.len());
    for member in &members {
        match method::forecast(*member, y, &periods, horizon, &mut context) {
            Ok(fit) => fits.push(fit),
            Err(_) => return Ok(fallback(y, horizon, settings, TooShort { length: y.len(), minimum: y.len() + 1 })),
        }
    }
    let mean: Vec<f64> =
        (0..horizon).map(|step| fits.iter().map(|f| f.mean[step]).sum::<f64>() / fits.len() as f64).collect();
    let variance = if fits.len() == 1 { fits[0].variance.clone() } else { None };
    let intervals = settings
        .levels
        .iter()
        .map(|&level| match &variance {
            Some(variance) => analytic_intervals(&mean, variance, level),
            None => {
                let half = conformal_half_widths(&backtest.selected_errors, horizon, level);
                mean.iter().zip(&half).map(|(m, h)| (m - h, m + h)).collect()
            }
        })
        .collect();
    let specification = if chosen.method == Method::Combination {
        chosen.specification.clone()
    } else {
        fits.first().map(|f| f.specification.clone()).unwrap_or_default()
    };
    Ok(sanitised(SeriesForecast {
        mean,
        intervals,
        method: chosen.method,
        specification,
        members: chosen.members.clone(),
        fallback_reason: None,
        periods,
        intermittency: backtest.intermittency,
        history_length: y.len(),
        backtest: Some(backtest),
    }))
}

fn analytic_intervals(mean: &[f64], variance: &[f64], level: f64) -> Vec<(f64, f64)> {
    let z = metrics::normal_quantile(level);
    mean.iter().zip(variance).map(|(m, v)| (m - z * v.max(0.0).sqrt(), m + z * v.max(0.0).sqrt())).collect()
}

/// The seasonal naive forecast with its analytic intervals, flagged.
fn fallback(y: &[f64], horizon: usize, settings: &SelectionSettings, too_short: TooShort) -> SeriesForecast {
    let periods = periods_for(y, settings, y.len());
    let mut context = FitContext::default();
    let (mean, variance, specification) =
        match method::forecast(Method::SeasonalNaive, y, &periods, horizon, &mut context) {
            Ok(fit) => (fit.mean, fit.variance.unwrap_or_else(|| vec![0.0; horizon]), fit.specification),
            Err(_) => (vec![y[y.len() - 1]; horizon], vec![0.0; horizon], "NAIVE".to_owned()),
        };
    let intervals = settings.levels.iter().map(|&level| analytic_intervals(&mean, &variance, level)).collect();
    sanitised(SeriesForecast {
        mean,
        intervals,
        method: Method::SeasonalNaive,
        specification,
        members: Vec::new(),
        fallback_reason: Some(format!("{} periods, backtest needs {}", too_short.length, too_short.minimum)),
        backtest: None,
        periods,
        intermittency: intermittent::classify(y),
        history_length: y.len(),
    })
}

/// Sales are never negative and never NaN: clamp at zero and replace any
/// non-finite value (defensive; the backtest already rejects non-finite fits).
fn sanitised(mut forecast: SeriesForecast) -> SeriesForecast {
    for value in &mut forecast.mean {
        *value = if value.is_finite() { value.max(0.0) } else { 0.0 };
    }
    for level in &mut forecast.intervals {
        for (step, (lower, upper)) in level.iter_mut().enumerate() {
            let mean = forecast.mean[step];
            *lower = if lower.is_finite() { lower.max(0.0).min(mean) } else { 0.0 };
            *upper = if upper.is_finite() { upper.max(mean) } else { mean };
        }
    }
    forecast
}

#[cfg(test)]
mod tests;
