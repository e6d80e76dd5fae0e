//! A customer's purchase statistics and their validation (the rules of
//! `patron.churn.v1.BtydStatistics`).

use crate::btyd::error::{Field, InputError};

/// A customer's purchase history summarised as the BG/NBD sufficient
/// statistics, all times in the model's time unit.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Rfm {
    /// x: repeat purchases (a whole number >= 0).
    pub frequency: f64,
    /// t_x: time from the first to the last purchase (0 when x = 0).
    pub recency: f64,
    /// T: time from the first purchase to the as-of instant.
    pub age: f64,
}

impl Rfm {
    /// Statistics (x, t_x, T), unvalidated; see [`Rfm::validate`].
    pub fn new(frequency: f64, recency: f64, age: f64) -> Self {
        Rfm { frequency, recency, age }
    }

    /// A newly acquired customer: x = t_x = T = 0.
    pub fn new_customer() -> Self {
        Rfm::new(0.0, 0.0, 0.0)
    }

    /// Checks each >= 0 and finite, x whole, t_x <= T, t_x = 0 when x = 0.
    pub fn validate(&self) -> Result<(), InputError> {
        non_negative(Field::Frequency, self.frequency)?;
        non_negative(Field::Recency, self.recency)?;
        non_negative(Field::Age, self.age)?;
        if self.frequency.fract() != 0.0 {
            return Err(InputError::FractionalFrequency { value: self.frequency });
        }
        if self.recency > self.age {
            return Err(InputError::RecencyExceedsAge { recency: self.recency, age: self.age });
        }
        if self.frequency == 0.0 && self.recency != 0.0 {
            return Err(InputError::RecencyWithoutRepeatPurchase { recency: self.recency });
        }
        Ok(())
    }
}

/// A customer to score: the BG/NBD statistics plus m_x, the mean value of
/// the repeat purchases (ignored when x = 0).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct CustomerRow {
    pub rfm: Rfm,
    pub monetary_value: f64,
}

impl CustomerRow {
    pub fn new(frequency: f64, recency: f64, age: f64, monetary_value: f64) -> Self {
        CustomerRow { rfm: Rfm::new(frequency, recency, age), monetary_value }
    }

    /// [`Rfm::validate`], and m_x > 0 when x > 0.
    pub fn validate(&self) -> Result<(), InputError> {
        self.rfm.validate()?;
        if self.rfm.frequency > 0.0 {
            positive(Field::MonetaryValue, self.monetary_value)?;
        }
        Ok(())
    }
}

pub(crate) fn finite(field: Field, value: f64) -> Result<f64, InputError> {
    if value.is_finite() { Ok(value) } else { Err(InputError::NotFinite { field, value }) }
}

pub(crate) fn non_negative(field: Field, value: f64) -> Result<f64, InputError> {
    finite(field, value)?;
    if value < 0.0 { Err(InputError::Negative { field, value }) } else { Ok(value) }
}

pub(crate) fn positive(field: Field, value: f64) -> Result<f64, InputError> {
    finite(field, value)?;
    if value > 0.0 { Ok(value) } else { Err(InputError::NotPositive { field, value }) }
}

/// The prediction horizon H: finite and > 0.
pub fn validate_horizon(horizon: f64) -> Result<f64, InputError> {
    positive(Field::Horizon, horizon)
}

/// The annual discount rate d: in [0, 1).
pub fn validate_discount_rate(rate: f64) -> Result<f64, InputError> {
    finite(Field::AnnualDiscountRate, rate)?;
    if (0.0..1.0).contains(&rate) {
        Ok(rate)
    } else {
        Err(InputError::OutOfRange { field: Field::AnnualDiscountRate, value: rate, range: "[0, 1)" })
    }
}
