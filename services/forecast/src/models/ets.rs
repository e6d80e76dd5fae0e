//! Exponential smoothing in the Holt-Winters family as innovations state-space
//! models (Hyndman, Koehler, Ord & Snyder, "Forecasting with Exponential
//! Smoothing", 2008, tables 2.2/2.3): level, optional additive or damped
//! trend, optional additive or multiplicative season, with additive or
//! multiplicative errors, parameters by maximum likelihood (Nelder-Mead) and
//! the form chosen by AICc.
//!
//! The recursions are written in error-correction form with `beta = alpha *
//! beta*` and `gamma = gamma* * (1 - alpha)`; optimising over `beta*` and
//! `gamma*` in (0, 1) keeps every fit inside the usual admissible region.
//! Additive- and multiplicative-error models share these point recursions
//! (HKOS 2008, section 2.5.2); they differ in the likelihood and intervals.

use serde::{Deserialize, Serialize};

use super::optimize::{self, Options};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum ErrorKind {
    Additive,
    Multiplicative,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum Trend {
    None,
    Additive,
    Damped,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum Season {
    None,
    Additive,
    Multiplicative,
}

/// One member of the family, e.g. ETS(A,Ad,A) with period 7.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct EtsForm {
    pub error: ErrorKind,
    pub trend: Trend,
    pub season: Season,
    /// Seasonal period; 1 without a season.
    pub period: usize,
}

impl EtsForm {
    /// The conventional name, e.g. `ETS(M,Ad,M)[7]`.
    pub fn specification(&self) -> String {
        let error = match self.error {
            ErrorKind::Additive => "A",
            ErrorKind::Multiplicative => "M",
        };
        let trend = match self.trend {
            Trend::None => "N",
            Trend::Additive => "A",
            Trend::Damped => "Ad",
        };
        let season = match self.season {
            Season::None => "N",
            Season::Additive => "A",
            Season::Multiplicative => "M",
        };
        if self.season == Season::None {
            format!("ETS({error},{trend},{season})")
        } else {
            format!("ETS({error},{trend},{season})[{}]", self.period)
        }
    }

    fn has_season(&self) -> bool {
        self.season != Season::None
    }
}

/// Smoothing parameters in error-correction form.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct EtsParameters {
    pub alpha: f64,
    pub beta: f64,
    pub gamma: f64,
    pub phi: f64,
}

/// Level, trend and the last `period` seasonal components, where
/// `seasonal[t % period]` is the component that applies at time `t`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct EtsState {
    pub level: f64,
    pub trend: f64,
    pub seasonal: Vec<f64>,
}

/// What one pass of the recursions over a series yields.
#[derive(Debug, Clone)]
pub struct Filtered {
    /// One-step-ahead predictions, one per observation.
    pub fitted: Vec<f64>,
    /// The state after the last observation.
    pub state: EtsState,
    pub sum_squared_errors: f64,
    /// Sum of squared relative errors (e / fitted), for multiplicative errors.
    pub sum_squared_relative_errors: f64,
    pub sum_log_abs_fitted: f64,
}

/// Runs the recursions over `y` from `initial`. Returns `None` when a
/// multiplicative component meets a non-positive value (the model is not
/// defined there).
pub fn filter(y: &[f64], form: &EtsForm, parameters: &EtsParameters, initial: &EtsState) -> Option<Filtered> {
    let EtsParameters { alpha, beta, gamma, phi } = *parameters;
    let damping = if form.trend == Trend::Damped { phi } else { 1.0 };
    let period = form.period.max(1);
    let mut level = initial.level;
    let mut trend = if form.trend == Trend::None { 0.0 } else { initial.trend };
    let mut seasonal = initial.seasonal.clone();
    if form.has_season() && seasonal.len() != period {
        return None;
    }
    let mut fitted = Vec::with_capacity(y.len());
    let (mut sse, mut relative_sse, mut log_fitted) = (0.0, 0.0, 0.0);
    for (time, &value) in y.iter().enumerate() {
        let base = level + damping * trend;
        let phase = time % period;
        let prediction = match form.season {
            Season::None => base,
            Season::Additive => base + seasonal[phase],
            Season::Multiplicative => base * seasonal[phase],
        };
        let error = value - prediction;
        let season_before = seasonal.get(phase).copied().unwrap_or(0.0);
        match form.season {
            Season::None => {
                level = base + alpha * error;
            }
            Season::Additive => {
                level = base + alpha * error;
                seasonal[phase] += gamma * error;
            }
            Season::Multiplicative => {
                if season_before <= 0.0 || base <= 0.0 {
                    return None;
                }
                level = base + alpha * error / season_before;
                seasonal[phase] = season_before + gamma * error / base;
            }
        }
        let trend_correction = if form.season == Season::Multiplicative { error / season_before } else { error };
        trend = match form.trend {
            Trend::None => 0.0,
            _ => damping * trend + beta * trend_correction,
        };
        sse += error * error;
        if form.error == ErrorKind::Multiplicative {
            if prediction <= 0.0 {
                return None;
            }
            relative_sse += (error / prediction).powi(2);
            log_fitted += prediction.ln();
        }
        fitted.push(prediction);
    }
    if !level.is_finite() || !trend.is_finite() || seasonal.iter().any(|s| !s.is_finite()) {
        return None;
    }
    Some(Filtered {
        fitted,
        state: EtsState { level, trend, seasonal },
        sum_squared_errors: sse,
        sum_squared_relative_errors: relative_sse,
        sum_log_abs_fitted: log_fitted,
    })
}

/// Point forecasts and, for additive-error models with additive or no
/// season (class 1 of HKOS 2008, ch. 6), the forecast variance per step.
pub fn project(
    form: &EtsForm,
    parameters: &EtsParameters,
    state: &EtsState,
    history_length: usize,
    horizon: usize,
    sigma2: f64,
) -> (Vec<f64>, Option<Vec<f64>>) {
    let period = form.period.max(1);
    let damping = if form.trend == Trend::Damped { parameters.phi } else { 1.0 };
    let trend = if form.trend == Trend::None { 0.0 } else { state.trend };
    let mut mean = Vec::with_capacity(horizon);
    let mut cumulative_damping = 0.0;
    let mut power = 1.0;
    for step in 1..=horizon {
        power *= damping;
        cumulative_damping += power;
        let base = state.level + cumulative_damping * trend;
        let phase = (history_length + step - 1) % period;
        mean.push(match form.season {
            Season::None => base,
            Season::Additive => base + state.seasonal[phase],
            Season::Multiplicative => base * state.seasonal[phase],
        });
    }
    let analytic = form.error == ErrorKind::Additive && form.season != Season::Multiplicative;
    let variance = analytic.then(|| {
        let mut variances = Vec::with_capacity(horizon);
        let mut sum_squares = 0.0;
        let (mut cumulative, mut power) = (0.0, 1.0);
        for step in 1..=horizon {
            variances.push(sigma2 * (1.0 + sum_squares));
            // c_j for the next step, j = step: alpha + beta * phi_j + gamma * [j divisible by m].
            power *= damping;
            cumulative += power;
            let trend_term = if form.trend == Trend::None { 0.0 } else { parameters.beta * cumulative };
            let season_term =
                if form.season == Season::Additive && step % period == 0 { parameters.gamma } else { 0.0 };
            let coefficient = parameters.alpha + trend_term + season_term;
            sum_squares += coefficient * coefficient;
        }
        variances
    });
    (mean, variance)
}

/// A fitted member of the family.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct EtsFit {
    pub form: EtsForm,
    pub parameters: EtsParameters,
    pub initial: EtsState,
    pub state: EtsState,
    /// Variance of the one-step errors (relative errors for multiplicative ones).
    pub sigma2: f64,
    pub aicc: f64,
    pub history_length: usize,
}

impl EtsFit {
    pub fn forecast(&self, horizon: usize) -> (Vec<f64>, Option<Vec<f64>>) {
        project(&self.form, &self.parameters, &self.state, self.history_length, horizon, self.sigma2)
    }
}

/// Heuristic initial states from the first full cycles (HKOS 2008, section 2.6.1).
fn initial_state(y: &[f64], form: &EtsForm) -> EtsState {
    let period = form.period.max(1);
    if form.has_season() {
        let cycles = (y.len() / period).clamp(1, 3);
        let means: Vec<f64> =
            (0..cycles).map(|c| y[c * period..(c + 1) * period].iter().sum::<f64>() / period as f64).collect();
        let slope = if cycles >= 2 { (means[cycles - 1] - means[0]) / ((cycles - 1) * period) as f64 } else { 0.0 };
        let mut seasonal = vec![0.0; period];
        for (phase, slot) in seasonal.iter_mut().enumerate() {
            let mut total = 0.0;
            for (cycle, mean) in means.iter().enumerate() {
                let value = y[cycle * period + phase];
                total += match form.season {
                    Season::Multiplicative => value / mean,
                    _ => value - mean,
                };
            }
            *slot = total / cycles as f64;
        }
        // Normalise: additive components sum to 0, multiplicative average 1.
        let average = seasonal.iter().sum::<f64>() / period as f64;
        for slot in &mut seasonal {
            match form.season {
                Season::Multiplicative => *slot /= average,
                _ => *slot -= average,
            }
        }
        let trend = if form.trend == Trend::None { 0.0 } else { slope };
        let level = means[0] - trend * (period as f64 + 1.0) / 2.0;
        EtsState { level, trend, seasonal }
    } else {
        let head = &y[..y.len().min(10)];
        let count = head.len() as f64;
        let mean_time = (count - 1.0) / 2.0;
        let mean_value = head.iter().sum::<f64>() / count;
        let slope = if form.trend == Trend::None || head.len() < 2 {
            0.0
        } else {
            let covariance: f64 = head.iter().enumerate().map(|(t, v)| (t as f64 - mean_time) * (v - mean_value)).sum();
            let spread: f64 = (0..head.len()).map(|t| (t as f64 - mean_time).powi(2)).sum();
            covariance / spread
        };
        // Level one period before the first observation.
        let level = mean_value - slope * (mean_time + 1.0);
        EtsState { level, trend: slope, seasonal: Vec::new() }
    }
}

/// Parameters estimated for a form: the smoothing parameters plus the initial level.
fn parameter_count(form: &EtsForm) -> usize {
    let smoothing = 1
        + usize::from(form.trend != Trend::None)
        + usize::from(form.has_season())
        + usize::from(form.trend == Trend::Damped);
    let states = 1 + usize::from(form.trend != Trend::None) + if form.has_season() { form.period - 1 } else { 0 };
    smoothing + states
}

/// -2 log-likelihood, concentrated over sigma (HKOS 2008, eqs. 5.3 and 5.4 up to constants).
fn minus_twice_log_likelihood(filtered: &Filtered, form: &EtsForm, observations: usize) -> f64 {
    let n = observations as f64;
    match form.error {
        ErrorKind::Additive => n * (filtered.sum_squared_errors / n).max(1e-300).ln(),
        ErrorKind::Multiplicative => {
            n * (filtered.sum_squared_relative_errors / n).max(1e-300).ln() + 2.0 * filtered.sum_log_abs_fitted
        }
    }
}

/// The optimiser's coordinates: alpha, [beta*], [gamma*], [phi], initial level.
fn unpack(form: &EtsForm, point: &[f64], base: &EtsState) -> (EtsParameters, EtsState) {
    let mut values = point.iter().copied();
    let alpha = values.next().unwrap_or(0.1);
    let beta_star = if form.trend != Trend::None { values.next().unwrap_or(0.1) } else { 0.0 };
    let gamma_star = if form.has_season() { values.next().unwrap_or(0.1) } else { 0.0 };
    let phi = if form.trend == Trend::Damped { values.next().unwrap_or(0.98) } else { 1.0 };
    let level = values.next().unwrap_or(base.level);
    let parameters = EtsParameters { alpha, beta: alpha * beta_star, gamma: gamma_star * (1.0 - alpha), phi };
    (parameters, EtsState { level, ..base.clone() })
}

/// Fits one form by maximum likelihood. `start` (in optimiser coordinates,
/// from an earlier fit of the same form) speeds up refits on longer data.
pub fn fit_form(y: &[f64], form: EtsForm, start: Option<&[f64]>) -> Option<(EtsFit, Vec<f64>)> {
    let count = parameter_count(&form);
    if y.len() < count + 2 || (form.has_season() && y.len() < 2 * form.period) {
        return None;
    }
    let base = initial_state(y, &form);
    let scale = {
        let mean = y.iter().sum::<f64>() / y.len() as f64;
        let variance = y.iter().map(|v| (v - mean).powi(2)).sum::<f64>() / y.len() as f64;
        variance.sqrt().max(mean.abs() * 0.1).max(1e-6)
    };
    let mut lower = vec![1e-4];
    let mut upper = vec![0.9999];
    let mut initial_point = vec![if form.has_season() { 0.1 } else { 0.3 }];
    if form.trend != Trend::None {
        lower.push(1e-4);
        upper.push(0.9999);
        initial_point.push(0.05);
    }
    if form.has_season() {
        lower.push(1e-4);
        upper.push(0.9999);
        initial_point.push(0.05);
    }
    if form.trend == Trend::Damped {
        lower.push(0.8);
        upper.push(0.98);
        initial_point.push(0.95);
    }
    lower.push(base.level - 2.0 * scale);
    upper.push(base.level + 2.0 * scale);
    initial_point.push(base.level);
    let start_point = match start {
        Some(point) if point.len() == initial_point.len() => point.to_vec(),
        _ => initial_point,
    };

    let minimum = optimize::minimize(
        |point| {
            let (parameters, initial) = unpack(&form, point, &base);
            match filter(y, &form, &parameters, &initial) {
                Some(filtered) => minus_twice_log_likelihood(&filtered, &form, y.len()),
                None => f64::INFINITY,
            }
        },
        &start_point,
        &lower,
        &upper,
        Options { max_evaluations: 60 * lower.len() + 100, tolerance: 1e-6 },
    );
    if !minimum.value.is_finite() {
        return None;
    }
    let (parameters, initial) = unpack(&form, &minimum.point, &base);
    let filtered = filter(y, &form, &parameters, &initial)?;
    let n = y.len() as f64;
    let k = (count + 1) as f64;
    let aicc =
        if n - k - 1.0 > 0.0 { minimum.value + 2.0 * k + 2.0 * k * (k + 1.0) / (n - k - 1.0) } else { f64::INFINITY };
    let residual_freedom = (n - count as f64).max(1.0);
    let sigma2 = match form.error {
        ErrorKind::Additive => filtered.sum_squared_errors / residual_freedom,
        ErrorKind::Multiplicative => filtered.sum_squared_relative_errors / residual_freedom,
    };
    let fit = EtsFit { form, parameters, initial, state: filtered.state, sigma2, aicc, history_length: y.len() };
    Some((fit, minimum.point))
}

/// The forms AICc chooses among for a series: seasonal ones need a period
/// of 2..=max_period and two full cycles; multiplicative ones need strictly
/// positive data. Additive errors with multiplicative seasons are left out
/// (numerically unstable, HKOS 2008, section 15.1).
pub fn candidate_forms(y: &[f64], period: Option<usize>) -> Vec<EtsForm> {
    let positive = y.iter().all(|&v| v > 0.0);
    let mut seasons = vec![(ErrorKind::Additive, Season::None, 1)];
    if let Some(period) = period.filter(|&p| (2..=MAX_ETS_PERIOD).contains(&p) && y.len() >= 2 * p) {
        seasons.push((ErrorKind::Additive, Season::Additive, period));
        if positive {
            seasons.push((ErrorKind::Multiplicative, Season::Multiplicative, period));
        }
    }
    let mut forms = Vec::new();
    for (error, season, period) in seasons {
        for trend in [Trend::None, Trend::Additive, Trend::Damped] {
            forms.push(EtsForm { error, trend, season, period });
        }
    }
    forms
}

/// Longest season ETS models directly; longer ones (e.g. 365) go through MSTL.
pub const MAX_ETS_PERIOD: usize = 52;

/// Fits every candidate form and keeps the one with the lowest AICc.
pub fn auto_fit(y: &[f64], period: Option<usize>) -> Option<EtsFit> {
    candidate_forms(y, period)
        .into_iter()
        .filter_map(|form| fit_form(y, form, None).map(|(fit, _)| fit))
        .min_by(|a, b| a.aicc.total_cmp(&b.aicc))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The component form of Holt-Winters' additive and multiplicative
    /// methods as textbooks write them (Hyndman & Athanasopoulos, FPP3 §8.3),
    /// with beta* and gamma as smoothing weights: a reference independent of
    /// the error-correction form used by `filter`.
    #[allow(clippy::too_many_arguments)]
    fn holt_winters_reference(
        y: &[f64],
        multiplicative: bool,
        alpha: f64,
        beta_star: f64,
        gamma: f64,
        phi: f64,
        initial: &EtsState,
        horizon: usize,
    ) -> (Vec<f64>, Vec<f64>) {
        let m = initial.seasonal.len();
        let (mut level, mut trend) = (initial.level, initial.trend);
        // seasons[t] is s_{t-m}: the initial components come first.
        let mut seasons: Vec<f64> = initial.seasonal.clone();
        let mut fitted = Vec::new();
        for (t, &value) in y.iter().enumerate() {
            let season = seasons[t];
            let previous_level = level;
            let previous_trend = trend;
            fitted.push(if multiplicative {
                (previous_level + phi * previous_trend) * season
            } else {
                previous_level + phi * previous_trend + season
            });
            level = if multiplicative {
                alpha * value / season + (1.0 - alpha) * (previous_level + phi * previous_trend)
            } else {
                alpha * (value - season) + (1.0 - alpha) * (previous_level + phi * previous_trend)
            };
            trend = beta_star * (level - previous_level) + (1.0 - beta_star) * phi * previous_trend;
            seasons.push(if multiplicative {
                gamma * value / (previous_level + phi * previous_trend) + (1.0 - gamma) * season
            } else {
                gamma * (value - previous_level - phi * previous_trend) + (1.0 - gamma) * season
            });
        }
        let n = y.len();
        let forecasts = (1..=horizon)
            .map(|h| {
                let damped: f64 = (1..=h).map(|i| phi.powi(i as i32)).sum();
                let season = seasons[n + (h - 1) % m];
                if multiplicative { (level + damped * trend) * season } else { level + damped * trend + season }
            })
            .collect();
        (fitted, forecasts)
    }

    fn seasonal_series() -> Vec<f64> {
        (0..60)
            .map(|t| {
                let t = t as f64;
                50.0 + 0.4 * t + 8.0 * (std::f64::consts::TAU * t / 7.0).sin() + 3.0 * (1.3 * t).cos()
            })
            .collect()
    }

    #[test]
    fn seasonal_ets_matches_the_holt_winters_component_recursions() {
        let y = seasonal_series();
        let initial = EtsState { level: 49.0, trend: 0.3, seasonal: vec![0.5, 6.0, 7.5, 3.0, -3.5, -7.5, -6.0] };
        let multiplicative_initial =
            EtsState { seasonal: initial.seasonal.iter().map(|s| 1.0 + s / 50.0).collect(), ..initial.clone() };
        let (alpha, beta_star, gamma, phi) = (0.35, 0.2, 0.25, 0.9);
        for (season, initial) in [(Season::Additive, &initial), (Season::Multiplicative, &multiplicative_initial)] {
            for (trend, phi) in [(Trend::Additive, 1.0), (Trend::Damped, phi)] {
                let form = EtsForm { error: ErrorKind::Additive, trend, season, period: 7 };
                // Error-correction parameters: beta = alpha beta*; the component
                // form's s_t = g (y_t - l_{t-1} - phi b_{t-1}) + (1 - g) s_{t-m} is
                // s_{t-m} + g e_t, so gamma carries over unchanged.
                let parameters = EtsParameters { alpha, beta: alpha * beta_star, gamma, phi };
                let filtered = filter(&y, &form, &parameters, initial).expect("admissible");
                let (forecast, _) = project(&form, &parameters, &filtered.state, y.len(), 14, 1.0);
                let multiplicative = season == Season::Multiplicative;
                let (reference_fitted, reference_forecast) =
                    holt_winters_reference(&y, multiplicative, alpha, beta_star, gamma, phi, initial, 14);
                for (a, b) in filtered.fitted.iter().zip(&reference_fitted) {
                    assert!((a - b).abs() < 1e-9, "{:?} {:?}: fitted {a} vs {b}", season, trend);
                }
                for (a, b) in forecast.iter().zip(&reference_forecast) {
                    assert!((a - b).abs() < 1e-9, "{:?} {:?}: forecast {a} vs {b}", season, trend);
                }
            }
        }
    }

    #[test]
    fn auto_fit_picks_a_seasonal_form_on_seasonal_data() {
        let fit = auto_fit(&seasonal_series(), Some(7)).expect("fits");
        assert_ne!(fit.form.season, Season::None, "{}", fit.form.specification());
        let (forecast, variance) = fit.forecast(7);
        assert!(forecast.iter().all(|v| v.is_finite()));
        if let Some(variance) = variance {
            assert!(variance.windows(2).all(|pair| pair[1] >= pair[0] - 1e-12));
        }
    }
}
