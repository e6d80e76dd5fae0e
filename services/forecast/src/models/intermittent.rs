//! Intermittent demand: the Syntetos-Boylan classification (ADI and CV²,
//! Syntetos, Boylan & Croston, JORS 56, 2005) and three forecasting methods:
//! Croston (1972), the Syntetos-Boylan approximation (2005, the bias-corrected
//! Croston) and Teunter-Syntetos-Babai (EJOR 214, 2011).

use serde::{Deserialize, Serialize};

use super::optimize::{self, Options};

/// ADI at or above this is intermittent (Syntetos et al. 2005).
pub const ADI_CUTOFF: f64 = 1.32;
/// CV² at or above this is erratic or lumpy.
pub const CV_SQUARED_CUTOFF: f64 = 0.49;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum DemandClass {
    Smooth,
    Erratic,
    Intermittent,
    Lumpy,
}

#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Intermittency {
    pub class: DemandClass,
    /// Periods per non-zero value; `None` without any.
    pub adi: Option<f64>,
    /// Of the non-zero values; `None` with fewer than two.
    pub cv_squared: Option<f64>,
    pub zero_fraction: f64,
}

impl Intermittency {
    /// Intermittent and lumpy series go to the intermittent-demand methods.
    pub fn is_intermittent(&self) -> bool {
        matches!(self.class, DemandClass::Intermittent | DemandClass::Lumpy)
    }
}

pub fn classify(y: &[f64]) -> Intermittency {
    let demands: Vec<f64> = y.iter().copied().filter(|&v| v > 0.0).collect();
    let zero_fraction = if y.is_empty() { 0.0 } else { 1.0 - demands.len() as f64 / y.len() as f64 };
    let adi = (!demands.is_empty()).then(|| y.len() as f64 / demands.len() as f64);
    let cv_squared = (demands.len() >= 2).then(|| {
        let mean = demands.iter().sum::<f64>() / demands.len() as f64;
        let variance = demands.iter().map(|d| (d - mean).powi(2)).sum::<f64>() / demands.len() as f64;
        variance / (mean * mean)
    });
    // With no demand at all the series is as intermittent as it gets.
    let intermittent = adi.is_none_or(|adi| adi >= ADI_CUTOFF);
    let erratic = cv_squared.is_some_and(|cv| cv >= CV_SQUARED_CUTOFF);
    let class = match (intermittent, erratic) {
        (false, false) => DemandClass::Smooth,
        (false, true) => DemandClass::Erratic,
        (true, false) => DemandClass::Intermittent,
        (true, true) => DemandClass::Lumpy,
    };
    Intermittency { class, adi, cv_squared, zero_fraction }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum IntermittentMethod {
    Croston,
    Sba,
    Tsb,
}

/// A fitted intermittent-demand model: a flat forecast.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct IntermittentFit {
    pub method: IntermittentMethod,
    /// Smoothing of demand sizes.
    pub alpha: f64,
    /// Smoothing of intervals (Croston, SBA) or of the demand probability (TSB).
    pub beta: f64,
    /// The flat per-period forecast.
    pub rate: f64,
}

/// One pass of the method's recursions; returns the one-step forecasts'
/// squared error sum and the final per-period forecast.
fn run(y: &[f64], method: IntermittentMethod, alpha: f64, beta: f64) -> (f64, f64) {
    let first = y.iter().position(|&v| v > 0.0);
    let Some(first) = first else { return (0.0, 0.0) };
    let mut size = y[first];
    let mut sse = 0.0;
    match method {
        IntermittentMethod::Croston | IntermittentMethod::Sba => {
            let correction = if method == IntermittentMethod::Sba { 1.0 - beta / 2.0 } else { 1.0 };
            let mut interval = (first + 1) as f64;
            let mut since = 0usize;
            for &value in &y[first + 1..] {
                since += 1;
                let forecast = correction * size / interval;
                sse += (value - forecast).powi(2);
                if value > 0.0 {
                    size += alpha * (value - size);
                    interval += beta * (since as f64 - interval);
                    since = 0;
                }
            }
            (sse, correction * size / interval)
        }
        IntermittentMethod::Tsb => {
            let mut probability = 1.0 / (first + 1) as f64;
            for &value in &y[first + 1..] {
                let forecast = probability * size;
                sse += (value - forecast).powi(2);
                let occurred = if value > 0.0 { 1.0 } else { 0.0 };
                probability += beta * (occurred - probability);
                if value > 0.0 {
                    size += alpha * (value - size);
                }
            }
            (sse, probability * size)
        }
    }
}

/// Fits the smoothing constants in [0.01, 0.5] by in-sample one-step squared
/// error (a series without demand forecasts zero).
pub fn fit(y: &[f64], method: IntermittentMethod) -> IntermittentFit {
    let minimum = optimize::minimize(
        |p| run(y, method, p[0], p[1]).0,
        &[0.1, 0.1],
        &[0.01, 0.01],
        &[0.5, 0.5],
        Options { max_evaluations: 120, tolerance: 1e-6 },
    );
    let (alpha, beta) = (minimum.point[0], minimum.point[1]);
    let (_, rate) = run(y, method, alpha, beta);
    IntermittentFit { method, alpha, beta, rate: rate.max(0.0) }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn classification_follows_the_cutoffs() {
        let smooth: Vec<f64> = (0..100).map(|t| 10.0 + (t % 3) as f64).collect();
        assert_eq!(classify(&smooth).class, DemandClass::Smooth);
        let intermittent: Vec<f64> = (0..100).map(|t| if t % 4 == 0 { 5.0 + (t % 3) as f64 } else { 0.0 }).collect();
        let class = classify(&intermittent);
        assert_eq!(class.class, DemandClass::Intermittent);
        assert!((class.adi.unwrap_or_default() - 4.0).abs() < 1e-12);
        let lumpy: Vec<f64> =
            (0..100).map(|t| if t % 5 == 0 { if t % 10 == 0 { 1.0 } else { 40.0 } } else { 0.0 }).collect();
        assert_eq!(classify(&lumpy).class, DemandClass::Lumpy);
        let none = classify(&[0.0; 10]);
        assert_eq!(none.class, DemandClass::Intermittent);
        assert_eq!(none.adi, None);
    }

    #[test]
    fn sba_is_croston_deflated_and_tsb_tracks_the_rate() {
        let y: Vec<f64> = (0..200).map(|t| if t % 4 == 0 { 8.0 } else { 0.0 }).collect();
        let croston = fit(&y, IntermittentMethod::Croston);
        let sba = fit(&y, IntermittentMethod::Sba);
        let tsb = fit(&y, IntermittentMethod::Tsb);
        // The true mean demand per period is 2.
        assert!((croston.rate - 2.0).abs() < 0.2, "{croston:?}");
        assert!(sba.rate < croston.rate + 1e-9 && sba.rate > 1.5, "{sba:?}");
        assert!((tsb.rate - 2.0).abs() < 0.5, "{tsb:?}");
    }
}
