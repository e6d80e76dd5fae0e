use rand::SeedableRng;
use rand::rngs::StdRng;
use rand_distr::{Distribution, Normal};

use super::*;
use crate::models::intermittent::DemandClass;

fn settings(horizon: usize) -> SelectionSettings {
    SelectionSettings {
        candidates: Vec::new(),
        backtest: BacktestSettings { windows: 3, horizon, step: horizon },
        combination_size: 3,
        seasonal_periods: None,
        calendar_periods: vec![7, 365],
        levels: vec![80.0, 95.0],
        required: None,
    }
}

/// A local-level series with an additive weekly season: ETS(A,N,A) with
/// alpha 0.2 and Gaussian errors of sd `sigma`.
fn local_level_weekly(rng: &mut StdRng, length: usize, sigma: f64) -> Vec<f64> {
    let noise = Normal::new(0.0, sigma).unwrap_or_else(|_| unreachable!());
    let season = [10.0, 4.0, -2.0, -6.0, -8.0, 0.0, 2.0];
    let mut level = 200.0;
    (0..length)
        .map(|t| {
            let error = noise.sample(rng);
            let value = level + season[t % 7] + error;
            level += 0.2 * error;
            value
        })
        .collect()
}

#[test]
fn intermittent_series_go_to_the_intermittent_models() {
    let mut rng = StdRng::seed_from_u64(5);
    let sizes = Normal::new(6.0, 2.0).unwrap_or_else(|_| unreachable!());
    let mut draws = rand::rngs::StdRng::seed_from_u64(6);
    use rand::RngExt;
    let y: Vec<f64> = (0..300)
        .map(|_| {
            if draws.random::<f64>() < 0.25 {
                {
                    let size: f64 = sizes.sample(&mut rng);
                    size.round().max(1.0)
                }
            } else {
                0.0
            }
        })
        .collect();
    let forecast = forecast_series(&y, 14, &settings(14)).expect("long enough");
    assert_eq!(forecast.intermittency.class, DemandClass::Intermittent);
    let backtest = forecast.backtest.as_ref().expect("no fallback");
    let chosen = backtest.selected().expect("one is selected");
    let routed = chosen.method.is_intermittent()
        || (chosen.method == Method::Combination && chosen.members.iter().all(|m| m.is_intermittent()));
    assert!(routed, "{chosen:?}");
    for candidate in &backtest.candidates {
        if matches!(candidate.method, Method::Ets | Method::MstlEts | Method::Theta | Method::SeasonalNaive) {
            assert!(candidate.skip_reason.as_deref().is_some_and(|r| r.contains("intermittent")), "{candidate:?}");
        }
    }
    // Without routing the whole table is scored, and the routed choice is still marked.
    let table = backtest_series_unrouted(&y);
    assert!(table.candidates.iter().filter(|c| c.skip_reason.is_none()).count() >= 7, "{table:?}");
    assert!(table.selected().is_some_and(|c| c.method.is_intermittent() || c.method == Method::Combination));
}

fn backtest_series_unrouted(y: &[f64]) -> Backtest {
    backtest(y, &settings(14), false).expect("long enough")
}

#[test]
fn smooth_seasonal_series_choose_a_seasonal_model_and_beat_the_naive_one() {
    let mut rng = StdRng::seed_from_u64(9);
    let y = local_level_weekly(&mut rng, 400, 2.0);
    let forecast = forecast_series(&y, 28, &settings(28)).expect("long enough");
    assert_eq!(forecast.periods, vec![7]);
    let backtest = forecast.backtest.expect("no fallback");
    let chosen = backtest.selected().expect("selected");
    assert!(!chosen.method.is_intermittent(), "{chosen:?}");
    let naive = backtest.candidates.iter().find(|c| c.method == Method::SeasonalNaive).and_then(|c| c.mase);
    assert!(chosen.mase.unwrap_or(f64::INFINITY) <= naive.unwrap_or(f64::INFINITY));
}

#[test]
fn the_95_percent_interval_covers_90_to_99_percent_of_a_long_holdout() {
    let mut rng = StdRng::seed_from_u64(2026);
    let horizon = 28;
    let (mut inside, mut points) = (0usize, 0usize);
    for _ in 0..40 {
        let y = local_level_weekly(&mut rng, 365 + horizon, 5.0);
        let (history, holdout) = y.split_at(365);
        let mut settings = settings(horizon);
        settings.levels = vec![95.0];
        let forecast = forecast_series(history, horizon, &settings).expect("long enough");
        for ((lower, upper), actual) in forecast.intervals[0].iter().zip(holdout) {
            points += 1;
            if actual >= lower && actual <= upper {
                inside += 1;
            }
        }
    }
    let coverage = 100.0 * inside as f64 / points as f64;
    assert!((90.0..=99.0).contains(&coverage), "coverage {coverage:.1}% over {points} points");
}

#[test]
fn short_series_get_a_flagged_fallback_and_tiny_ones_an_error() {
    let y = [3.0, 4.0, 5.0, 4.0, 3.0, 4.0, 5.0, 4.0, 3.0, 4.0];
    let forecast = forecast_series(&y, 5, &settings(5)).expect("fallback");
    assert_eq!(forecast.method, Method::SeasonalNaive);
    assert_eq!(forecast.fallback_reason.as_deref(), Some("10 periods, backtest needs 23"));
    assert!(forecast.backtest.is_none());
    assert_eq!(forecast.mean.len(), 5);
    assert_eq!(forecast_series(&[1.0], 5, &settings(5)).err(), Some(TooShort { length: 1, minimum: 2 }));
}

#[test]
fn degenerate_series_never_yield_nan() {
    let cases: Vec<Vec<f64>> = vec![
        vec![0.0; 200],
        vec![5.0; 200],
        (0..200).map(|t| if t == 150 { 1e9 } else { 0.0 }).collect(),
        (0..200).map(|t| (t % 2) as f64 * 1e-9).collect(),
    ];
    for y in cases {
        let forecast = forecast_series(&y, 30, &settings(30)).expect("long enough");
        assert!(forecast.mean.iter().all(|v| v.is_finite() && *v >= 0.0), "{forecast:?}");
        for level in &forecast.intervals {
            assert!(level.iter().all(|(l, u)| l.is_finite() && u.is_finite() && l <= u));
        }
        if let Some(backtest) = &forecast.backtest {
            for candidate in &backtest.candidates {
                assert!(candidate.mase.is_none_or(f64::is_finite));
                assert!(candidate.rmse.is_none_or(f64::is_finite));
            }
        }
    }
}
