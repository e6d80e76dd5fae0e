//! A customer as of a cutoff: the profile service's feature export in the
//! model's time unit, as the models consume it.

use crate::btyd::CustomerRow;
use crate::classifier::FeatureInput;

#[derive(Debug, Clone, PartialEq, Default)]
pub struct Snapshot {
    pub customer_id: String,
    /// x, t_x, T (in the model's time unit) and m_x (minor units).
    pub frequency: f64,
    pub recency: f64,
    pub age: f64,
    pub monetary_value: f64,
    pub days_since_last_purchase: f64,
    pub tenure_days: f64,
    pub orders: f64,
    pub revenue_minor: f64,
    pub average_order_value: f64,
    pub category_count: f64,
    pub share_web: f64,
    pub share_app: f64,
    pub returns: f64,
    pub contacts: f64,
    pub complaints: f64,
    pub last_nps: Option<f64>,
    pub days_since_last_contact: Option<f64>,
    pub abandoned_carts: f64,
    pub region: String,
    /// `patron.profile.v1.ConsentChannel` values with consent GRANTED.
    pub consents_granted: Vec<i32>,
    /// When the last purchase before the cutoff happened (None: no purchase).
    pub last_purchase_us: Option<i64>,
}

impl Snapshot {
    pub fn has_purchase(&self) -> bool {
        self.last_purchase_us.is_some()
    }

    pub fn btyd_row(&self) -> CustomerRow {
        CustomerRow::new(self.frequency, self.recency, self.age, self.monetary_value)
    }

    /// The classifier's inputs, with the BTYD outputs over the label window.
    pub fn feature_input(&self, p_alive: f64, expected_purchases: f64, p_no_purchase: f64) -> FeatureInput {
        FeatureInput {
            probability_alive: p_alive,
            expected_purchases,
            probability_no_purchase: p_no_purchase,
            days_since_last_purchase: self.days_since_last_purchase,
            frequency: self.frequency,
            tenure_days: self.tenure_days,
            orders: self.orders,
            revenue_minor: self.revenue_minor,
            average_order_value: self.average_order_value,
            category_count: self.category_count,
            share_web: self.share_web,
            share_app: self.share_app,
            returns: self.returns,
            contacts: self.contacts,
            complaints: self.complaints,
            last_nps: self.last_nps,
            days_since_last_contact: self.days_since_last_contact,
            abandoned_carts: self.abandoned_carts,
        }
    }

    /// Lapsed: no purchase in the `window_days` before the cutoff.
    pub fn lapsed(&self, window_days: i32) -> bool {
        self.days_since_last_purchase >= f64::from(window_days)
    }
}

/// Whether a customer bought in [cutoff, cutoff + N days), judged from the
/// export at cutoff + N days: their last purchase before it is at or after
/// the cutoff.
pub fn bought_since(later: &Snapshot, cutoff_us: i64) -> bool {
    later.last_purchase_us.is_some_and(|last| last >= cutoff_us)
}
