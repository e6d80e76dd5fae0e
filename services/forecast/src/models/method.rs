//! The candidate pool and how each method forecasts one training set.

use serde::{Deserialize, Serialize};

use super::ets::{self, EtsForm};
use super::intermittent::{self, IntermittentMethod};
use super::stl::{self, Decomposition};
use super::{naive, theta};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub enum Method {
    SeasonalNaive,
    Ets,
    MstlEts,
    Theta,
    Croston,
    Sba,
    Tsb,
    Combination,
}

impl Method {
    /// Every method this build supports, in the order ties are broken.
    pub const ALL: [Method; 8] = [
        Method::Ets,
        Method::MstlEts,
        Method::Theta,
        Method::SeasonalNaive,
        Method::Tsb,
        Method::Sba,
        Method::Croston,
        Method::Combination,
    ];

    pub fn name(self) -> &'static str {
        match self {
            Method::SeasonalNaive => "SEASONAL_NAIVE",
            Method::Ets => "ETS",
            Method::MstlEts => "MSTL_ETS",
            Method::Theta => "THETA",
            Method::Croston => "CROSTON",
            Method::Sba => "SBA",
            Method::Tsb => "TSB",
            Method::Combination => "COMBINATION",
        }
    }

    /// The intermittent-demand methods intermittent series are routed to.
    pub fn is_intermittent(self) -> bool {
        matches!(self, Method::Croston | Method::Sba | Method::Tsb)
    }

    /// Whether the method's own error model gives its intervals; the others
    /// get split-conformal intervals from backtest errors.
    pub fn has_analytic_intervals(self) -> bool {
        matches!(self, Method::SeasonalNaive | Method::Ets)
    }
}

/// One method's forecast from one training set.
#[derive(Debug, Clone)]
pub struct MethodForecast {
    pub mean: Vec<f64>,
    /// Per-step variance where the model has analytic intervals.
    pub variance: Option<Vec<f64>>,
    pub specification: String,
}

/// What fits on the same training data share, and what the fits of one
/// series reuse: the MSTL decomposition, and the ETS forms chosen by AICc
/// once (`choose_forms` on the data before the first backtest origin, or
/// else at the first fit);
/// later fits refit only the parameters of those forms.
#[derive(Debug, Default)]
pub struct FitContext {
    decomposition: Option<(usize, Decomposition)>,
    ets_form: Option<(EtsForm, Vec<f64>)>,
    adjusted_ets_form: Option<(EtsForm, Vec<f64>)>,
    /// When set, forms are chosen afresh at every fit (the final fit on the whole history).
    reselect_forms: bool,
}

impl FitContext {
    /// A context for fits on the whole history: ETS forms are chosen afresh.
    pub fn final_fit() -> Self {
        FitContext { reselect_forms: true, ..FitContext::default() }
    }

    /// Chooses by AICc, on `y`, the ETS forms of those `methods` that use one,
    /// so every later fit (each backtest window, the final fit) refits only
    /// parameters: one form search per series.
    pub fn choose_forms(&mut self, methods: &[Method], y: &[f64], periods: &[usize]) {
        if methods.contains(&Method::Ets) {
            fit_ets(y, periods.first().copied(), &mut self.ets_form, true);
        }
        if methods.contains(&Method::MstlEts) && !periods.is_empty() {
            let adjusted = self.decomposition(y, periods).seasonally_adjusted();
            fit_ets(&adjusted, None, &mut self.adjusted_ets_form, true);
        }
    }

    fn decomposition(&mut self, y: &[f64], periods: &[usize]) -> &Decomposition {
        if self.decomposition.as_ref().is_some_and(|(length, _)| *length != y.len()) {
            self.decomposition = None;
        }
        let (_, decomposition) = self.decomposition.get_or_insert_with(|| (y.len(), stl::mstl(y, periods)));
        decomposition
    }
}

/// Fits an ETS form chosen by AICc, or refits the remembered form.
fn fit_ets(
    y: &[f64],
    period: Option<usize>,
    remembered: &mut Option<(EtsForm, Vec<f64>)>,
    reselect: bool,
) -> Option<ets::EtsFit> {
    if !reselect
        && let Some((form, start)) = remembered.as_ref()
        && let Some((fit, point)) = ets::fit_form(y, *form, Some(start))
    {
        *remembered = Some((fit.form, point));
        return Some(fit);
    }
    let mut best: Option<(ets::EtsFit, Vec<f64>)> = None;
    for form in ets::candidate_forms(y, period) {
        if let Some((fit, point)) = ets::fit_form(y, form, None)
            && best.as_ref().is_none_or(|(kept, _)| fit.aicc < kept.aicc)
        {
            best = Some((fit, point));
        }
    }
    let (fit, point) = best?;
    *remembered = Some((fit.form, point));
    Some(fit)
}

/// Forecasts `horizon` periods after `y` with `method`, or says why it cannot.
/// `periods` are the seasonal periods in use, shortest first.
pub fn forecast(
    method: Method,
    y: &[f64],
    periods: &[usize],
    horizon: usize,
    context: &mut FitContext,
) -> Result<MethodForecast, String> {
    let shortest = periods.first().copied();
    match method {
        Method::SeasonalNaive => {
            let period = shortest.unwrap_or(1);
            let (mean, variance) = naive::seasonal_naive(y, period, horizon);
            let specification = if period > 1 { format!("SEASONAL_NAIVE[{period}]") } else { "NAIVE".to_owned() };
            Ok(MethodForecast { mean, variance: Some(variance), specification })
        }
        Method::Ets => {
            let reselect = context.reselect_forms;
            let fit = fit_ets(y, shortest, &mut context.ets_form, reselect)
                .ok_or_else(|| format!("ETS needs more than {} periods", y.len()))?;
            let (mean, variance) = fit.forecast(horizon);
            Ok(MethodForecast { mean, variance, specification: fit.form.specification() })
        }
        Method::MstlEts | Method::Theta => {
            if periods.is_empty() && method == Method::MstlEts {
                return Err("no seasonal period to decompose".to_owned());
            }
            let decomposition = context.decomposition(y, periods);
            let adjusted = decomposition.seasonally_adjusted();
            let seasonal = decomposition.seasonal_forecast(horizon);
            let used: Vec<String> = decomposition.periods.iter().map(ToString::to_string).collect();
            let (adjusted_forecast, specification) = if method == Method::MstlEts {
                let reselect = context.reselect_forms;
                let fit = fit_ets(&adjusted, None, &mut context.adjusted_ets_form, reselect)
                    .ok_or_else(|| format!("ETS needs more than {} periods", y.len()))?;
                (fit.forecast(horizon).0, format!("MSTL[{}]+{}", used.join(","), fit.form.specification()))
            } else {
                let forecast = theta::theta(&adjusted, horizon)
                    .ok_or_else(|| format!("Theta needs more than {} periods", y.len()))?;
                let specification =
                    if used.is_empty() { "THETA".to_owned() } else { format!("MSTL[{}]+THETA", used.join(",")) };
                (forecast, specification)
            };
            let mean = adjusted_forecast.iter().zip(&seasonal).map(|(a, s)| a + s).collect();
            Ok(MethodForecast { mean, variance: None, specification })
        }
        Method::Croston | Method::Sba | Method::Tsb => {
            let which = match method {
                Method::Croston => IntermittentMethod::Croston,
                Method::Sba => IntermittentMethod::Sba,
                _ => IntermittentMethod::Tsb,
            };
            let fit = intermittent::fit(y, which);
            let specification = format!("{}(alpha={:.3},beta={:.3})", method.name(), fit.alpha, fit.beta);
            Ok(MethodForecast { mean: vec![fit.rate; horizon], variance: None, specification })
        }
        Method::Combination => Err("a combination is formed from scored candidates".to_owned()),
    }
}
