//! Typed errors. Input errors name the offending field (with the names of
//! `patron.churn.v1.BtydStatistics` and the request fields) so the service can
//! turn them into INVALID_ARGUMENT with a `BadRequest` field violation;
//! insufficient data and violated model assumptions map to FAILED_PRECONDITION.

use std::fmt;

use thiserror::Error;

/// An input field that can fail validation.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Field {
    /// x, repeat purchases.
    Frequency,
    /// t_x, time from the first to the last purchase.
    Recency,
    /// T, time from the first purchase to the as-of instant.
    Age,
    /// m_x, mean value of the repeat purchases.
    MonetaryValue,
    /// The number of customers a grouped row stands for.
    Count,
    /// H, the prediction horizon.
    Horizon,
    /// d, the annual discount rate.
    AnnualDiscountRate,
    /// u, days per model time unit.
    DaysPerTimeUnit,
    /// lambda, the L2 penalty.
    L2Penalty,
    /// The threshold on |corr(x, m_x)| for Gamma-Gamma.
    MaxSpendFrequencyCorrelation,
    /// A model parameter (r, alpha, a, b, p, q, gamma).
    Parameter(&'static str),
}

impl Field {
    /// The field's name as the API spells it.
    pub fn as_str(self) -> &'static str {
        match self {
            Field::Frequency => "frequency",
            Field::Recency => "recency",
            Field::Age => "age",
            Field::MonetaryValue => "monetary_value",
            Field::Count => "count",
            Field::Horizon => "horizon",
            Field::AnnualDiscountRate => "annual_discount_rate",
            Field::DaysPerTimeUnit => "days_per_time_unit",
            Field::L2Penalty => "l2_penalty",
            Field::MaxSpendFrequencyCorrelation => "max_spend_frequency_correlation",
            Field::Parameter(name) => name,
        }
    }
}

impl fmt::Display for Field {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A single value failed validation (INVALID_ARGUMENT).
#[derive(Debug, Clone, PartialEq, Error)]
pub enum InputError {
    #[error("{field} must be a finite number, got {value}")]
    NotFinite { field: Field, value: f64 },
    #[error("{field} must be >= 0, got {value}")]
    Negative { field: Field, value: f64 },
    #[error("{field} must be > 0, got {value}")]
    NotPositive { field: Field, value: f64 },
    #[error("frequency must be a whole number of purchases, got {value}")]
    FractionalFrequency { value: f64 },
    #[error("recency ({recency}) must not exceed age ({age})")]
    RecencyExceedsAge { recency: f64, age: f64 },
    #[error("recency must be 0 when frequency is 0, got {recency}")]
    RecencyWithoutRepeatPurchase { recency: f64 },
    #[error("{field} must be in {range}, got {value}")]
    OutOfRange { field: Field, value: f64, range: &'static str },
}

impl InputError {
    /// The field that failed validation.
    pub fn field(&self) -> Field {
        match self {
            InputError::NotFinite { field, .. }
            | InputError::Negative { field, .. }
            | InputError::NotPositive { field, .. }
            | InputError::OutOfRange { field, .. } => *field,
            InputError::FractionalFrequency { .. } => Field::Frequency,
            InputError::RecencyExceedsAge { .. } | InputError::RecencyWithoutRepeatPurchase { .. } => Field::Recency,
        }
    }
}

/// Everything that can go wrong in this crate.
#[derive(Debug, Clone, PartialEq, Error)]
pub enum BtydError {
    /// An argument (horizon, rate, parameter...) failed validation.
    #[error(transparent)]
    InvalidArgument(#[from] InputError),
    /// One row of a training or scoring batch failed validation.
    #[error("row {row}: {source}")]
    InvalidRow { row: usize, source: InputError },
    /// Fewer customers than the fit needs.
    #[error("too few customers to fit: {found} < {required}")]
    TooFewCustomers { found: u64, required: u64 },
    /// Fewer repeat customers (x > 0) than the fit needs.
    #[error("too few repeat customers (x > 0) to fit: {found} < {required}")]
    TooFewRepeatCustomers { found: u64, required: u64 },
    /// Every customer has T = 0: there is no history to learn from.
    #[error("zero-length history: every customer has age T = 0")]
    ZeroLengthHistory,
    /// Gamma-Gamma assumes spend and frequency are independent.
    #[error(
        "spend/frequency correlation {correlation:.2} exceeds {threshold:.2} in absolute value; \
         Gamma-Gamma refused"
    )]
    SpendFrequencyCorrelation { correlation: f64, threshold: f64 },
    /// Gamma-Gamma with q <= 1 has no finite mean spend, so no expected order value.
    #[error("Gamma-Gamma fit has q = {q} <= 1: the mean spend is infinite; refused")]
    InfiniteMeanSpend { q: f64 },
    /// A numerical routine failed (should not happen on valid input).
    #[error("numerical failure: {0}")]
    Numerical(&'static str),
}

impl BtydError {
    /// The field that failed validation, for INVALID_ARGUMENT errors.
    pub fn field(&self) -> Option<Field> {
        match self {
            BtydError::InvalidArgument(e) | BtydError::InvalidRow { source: e, .. } => Some(e.field()),
            _ => None,
        }
    }

    /// True for errors caused by a bad argument (INVALID_ARGUMENT).
    pub fn is_invalid_argument(&self) -> bool {
        self.field().is_some()
    }

    /// True for errors caused by unsuitable data (FAILED_PRECONDITION).
    pub fn is_failed_precondition(&self) -> bool {
        matches!(
            self,
            BtydError::TooFewCustomers { .. }
                | BtydError::TooFewRepeatCustomers { .. }
                | BtydError::ZeroLengthHistory
                | BtydError::SpendFrequencyCorrelation { .. }
                | BtydError::InfiniteMeanSpend { .. }
        )
    }
}

pub type Result<T, E = BtydError> = std::result::Result<T, E>;
