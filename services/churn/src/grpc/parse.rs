//! Request validation: each request becomes domain values or an
//! INVALID_ARGUMENT naming every bad field.

use patron_common::{ServiceError, Validator};
use patron_proto::churn::v1 as pb;
use patron_proto::common::v1::TimeUnit as PbTimeUnit;

use crate::btyd::{BtydError, CustomerRow};
use crate::classifier::CalibrationMethod;
use crate::domain::settings::{ADVANCED_KEYS, TimeUnit, TrainSettings};
use crate::time::{DAY_US, days_of, micros_of};

const MAX_ID_CHARS: usize = 128;

pub fn time_unit(v: &mut Validator, field: &str, value: i32, default: TimeUnit) -> TimeUnit {
    match PbTimeUnit::try_from(value) {
        Ok(PbTimeUnit::Unspecified) => default,
        Ok(PbTimeUnit::Days) => TimeUnit::Days,
        Ok(PbTimeUnit::Weeks) => TimeUnit::Weeks,
        Err(_) => {
            v.violation(field, format!("unknown time unit {value}"));
            default
        }
    }
}

pub fn pb_time_unit(unit: TimeUnit) -> PbTimeUnit {
    match unit {
        TimeUnit::Days => PbTimeUnit::Days,
        TimeUnit::Weeks => PbTimeUnit::Weeks,
    }
}

pub fn customer_id(value: &str) -> Result<(), ServiceError> {
    let mut v = Validator::new();
    customer_id_into(&mut v, value);
    v.finish()
}

/// `customer_id` checked beside the request's other fields.
pub fn customer_id_into(v: &mut Validator, value: &str) {
    v.identifier("customer_id", value, MAX_ID_CHARS);
}

/// The request id every mutating call carries (1-128 characters).
pub fn request_id(v: &mut Validator, value: &str) {
    v.identifier("request_id", value, MAX_ID_CHARS);
}

/// TrainChurnModelRequest with the documented defaults, as of `now_us`.
pub fn train_settings(
    request: &pb::TrainChurnModelRequest,
    now_us: i64,
    default_currency: &str,
) -> Result<TrainSettings, ServiceError> {
    let mut v = Validator::new();
    request_id(&mut v, &request.request_id);
    let time_unit = time_unit(&mut v, "time_unit", request.time_unit, TimeUnit::Weeks);
    let label_window_days = match request.label_window_days {
        0 => 90,
        n @ 1..=730 => n,
        n => {
            v.violation("label_window_days", format!("must be 1-730 (0 means 90), got {n}"));
            90
        }
    };
    let window_us = i64::from(label_window_days) * DAY_US;
    let latest_holdout = now_us - window_us;
    let holdout_cutoff_us =
        instant(&mut v, "holdout_cutoff", request.holdout_cutoff.as_ref()).unwrap_or(latest_holdout);
    if holdout_cutoff_us > latest_holdout {
        v.violation("holdout_cutoff", "must be at most now - label_window_days, so its labels are fully observed");
    }
    let calibration_cutoff_us = instant(&mut v, "calibration_cutoff", request.calibration_cutoff.as_ref())
        .unwrap_or(holdout_cutoff_us - window_us);
    if calibration_cutoff_us > holdout_cutoff_us - window_us {
        v.violation(
            "calibration_cutoff",
            "must be at most holdout_cutoff - label_window_days, so training and holdout labels do not overlap",
        );
    }
    match pb::Classifier::try_from(request.classifier) {
        Ok(pb::Classifier::Unspecified | pb::Classifier::LogisticRegression) => {}
        Ok(pb::Classifier::GradientBoostedTrees) => v.violation(
            "classifier",
            "gradient-boosted trees are not offered: no kept Rust GBT crate showed a measured win over the \
             logistic regression; use CLASSIFIER_LOGISTIC_REGRESSION",
        ),
        Err(_) => v.violation("classifier", format!("unknown classifier {}", request.classifier)),
    }
    let calibration = match pb::ProbabilityCalibration::try_from(request.probability_calibration) {
        Ok(pb::ProbabilityCalibration::Platt) => CalibrationMethod::Platt,
        Ok(_) => CalibrationMethod::Isotonic,
        Err(_) => {
            v.violation("probability_calibration", format!("unknown calibration {}", request.probability_calibration));
            CalibrationMethod::Isotonic
        }
    };
    let l2_penalty = request.l2_penalty;
    v.check(l2_penalty.is_finite() && l2_penalty >= 0.0, "l2_penalty", "must be >= 0");
    let clv_horizon_days = request.clv_horizon.as_ref().map_or(365.0, days_of);
    v.check(clv_horizon_days.is_finite() && clv_horizon_days > 0.0, "clv_horizon", "must be > 0");
    v.check(
        clv_horizon_days / time_unit.days() <= crate::btyd::clv::MAX_PERIODS as f64,
        "clv_horizon",
        "spans too many periods of the time unit",
    );
    let annual_discount_rate = request.annual_discount_rate.unwrap_or(0.10);
    discount_rate(&mut v, "annual_discount_rate", annual_discount_rate);
    let medium = if request.medium_risk_threshold == 0.0 { 0.3 } else { request.medium_risk_threshold };
    let high = if request.high_risk_threshold == 0.0 { 0.6 } else { request.high_risk_threshold };
    if !(medium > 0.0 && medium < high && high < 1.0) {
        v.violation("medium_risk_threshold", format!("need 0 < medium < high < 1, got {medium} and {high}"));
    }
    let max_correlation =
        if request.max_spend_frequency_correlation == 0.0 { 0.3 } else { request.max_spend_frequency_correlation };
    v.check(max_correlation > 0.0 && max_correlation <= 1.0, "max_spend_frequency_correlation", "must be in (0, 1]");
    let currency_code =
        if request.currency_code.is_empty() { default_currency.to_owned() } else { request.currency_code.clone() };
    v.check(
        currency_code.len() == 3 && currency_code.chars().all(|c| c.is_ascii_uppercase()),
        "currency_code",
        "must be an ISO 4217 code such as USD",
    );
    let mut seed = 1u64;
    let mut logistic_alpha = 1.0;
    let mut min_repeat_customers = 10u64;
    for (key, value) in &request.parameters {
        let field = format!("parameters[{key}]");
        match key.as_str() {
            "seed" => match value.parse() {
                Ok(s) => seed = s,
                Err(_) => v.violation(field, "must be a whole number >= 0"),
            },
            "logistic.alpha" => match value.parse::<f64>() {
                Ok(a) if a.is_finite() && a >= 0.0 => logistic_alpha = a,
                _ => v.violation(field, "must be a number >= 0"),
            },
            "min_repeat_customers" => match value.parse::<u64>() {
                Ok(n) if n >= 2 => min_repeat_customers = n,
                _ => v.violation(field, "must be a whole number >= 2"),
            },
            _ => v.violation(field, format!("unknown parameter; known: {}", ADVANCED_KEYS.join(", "))),
        }
    }
    v.finish()?;
    Ok(TrainSettings {
        time_unit,
        label_window_days,
        calibration_cutoff_us,
        holdout_cutoff_us,
        calibration,
        l2_penalty,
        clv_horizon_days,
        annual_discount_rate,
        medium_risk_threshold: medium,
        high_risk_threshold: high,
        max_spend_frequency_correlation: max_correlation,
        currency_code,
        seed,
        logistic_alpha,
        min_repeat_customers,
    })
}

/// A request time in microseconds; `None` when absent or refused. Times
/// outside the years 1900-9999 are a unit mistake, and refusing them keeps
/// the cutoff arithmetic far from overflowing.
fn instant(v: &mut Validator, field: &str, value: Option<&prost_types::Timestamp>) -> Option<i64> {
    const EARLIEST_US: i64 = -2_208_988_800_000_000;
    const LATEST_US: i64 = 253_402_300_799_000_000;
    let micros = micros_of(value?);
    if (EARLIEST_US..=LATEST_US).contains(&micros) {
        Some(micros)
    } else {
        v.violation(field, "is out of range (years 1900-9999)");
        None
    }
}

pub fn discount_rate(v: &mut Validator, field: &str, rate: f64) {
    v.check(rate.is_finite() && (0.0..1.0).contains(&rate), field, format!("must be in [0, 1), got {rate}"));
}

/// Bins of a calibration curve: 2-50, 0 means 10.
pub fn calibration_bins(v: &mut Validator, value: i32) -> usize {
    match value {
        0 => 10,
        n @ 2..=50 => n as usize,
        n => {
            v.violation("calibration_bins", format!("must be 2-50 (0 means 10), got {n}"));
            10
        }
    }
}

/// A holdout cutoff for a model trained up to `data_cutoff_us` with a label
/// window of `window_days`: default now - N days; within [data cutoff, now - N].
pub fn holdout_cutoff(
    v: &mut Validator,
    requested: Option<&prost_types::Timestamp>,
    data_cutoffs_us: &[i64],
    window_days: i32,
    now_us: i64,
) -> i64 {
    let latest = now_us - i64::from(window_days) * DAY_US;
    let cutoff = requested.map_or(latest, micros_of);
    if cutoff > latest {
        v.violation("holdout_cutoff", "must be at most now - label_window_days, so its labels are fully observed");
    }
    if data_cutoffs_us.iter().any(|&d| cutoff < d) {
        v.violation("holdout_cutoff", "must not be before the model's data_cutoff: its labels were used in training");
    }
    cutoff
}

/// The BTYD statistics of a PredictBtyd request, in the model's unit.
pub fn statistics(
    v: &mut Validator,
    statistics: Option<&pb::BtydStatistics>,
    model_unit: TimeUnit,
) -> Option<CustomerRow> {
    let Some(s) = statistics else {
        v.violation("statistics", "is required");
        return None;
    };
    if s.time_unit != 0 && time_unit(v, "statistics.time_unit", s.time_unit, model_unit) != model_unit {
        v.violation("statistics.time_unit", format!("must be the model's unit, {}", model_unit.name()));
    }
    let row = CustomerRow::new(s.frequency, s.recency, s.age, s.monetary_value);
    if let Err(e) = row.validate() {
        v.violation(format!("statistics.{}", e.field()), e.to_string());
        return None;
    }
    Some(row)
}

/// A BTYD error as INVALID_ARGUMENT (naming the field) or FAILED_PRECONDITION.
pub fn btyd_error(prefix: &str, error: &BtydError) -> ServiceError {
    match error.field() {
        Some(field) => ServiceError::invalid(format!("{prefix}{field}"), error.to_string()),
        None if error.is_failed_precondition() => ServiceError::FailedPrecondition(error.to_string()),
        None => ServiceError::internal(error),
    }
}

/// A model id argument that names no version is INVALID_ARGUMENT (churn.proto).
pub fn unknown_model_is_invalid(field: &'static str) -> impl Fn(ServiceError) -> ServiceError {
    move |error| match error {
        ServiceError::NotFound { id, .. } => ServiceError::invalid(field, format!("no model version {id:?}")),
        other => other,
    }
}
