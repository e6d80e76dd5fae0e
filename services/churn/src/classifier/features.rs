//! One customer's classifier features as of a cutoff. Everything here is
//! computed from events strictly before the cutoff, so a label measured
//! after it cannot leak in.

/// What the classifier knows about a customer at a cutoff: the profile
/// service's export plus the BG/NBD outputs over the label window.
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub struct FeatureInput {
    /// BG/NBD P(alive) at the cutoff.
    pub probability_alive: f64,
    /// BG/NBD E[Y(N days)]: expected purchases in the label window.
    pub expected_purchases: f64,
    /// BG/NBD P(no purchase in the label window).
    pub probability_no_purchase: f64,
    pub days_since_last_purchase: f64,
    /// x, repeat purchase days.
    pub frequency: f64,
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
    /// Last NPS answer (0-10), if any.
    pub last_nps: Option<f64>,
    pub days_since_last_contact: Option<f64>,
    pub abandoned_carts: f64,
}

/// Feature names in vector order (ModelVersion.features).
pub const FEATURE_NAMES: [&str; 19] = [
    "probability_alive",
    "expected_purchases_in_label_window",
    "probability_no_purchase_in_label_window",
    "days_since_last_purchase",
    "frequency",
    "tenure_days",
    "orders",
    "log_revenue",
    "average_order_value",
    "category_count",
    "share_web",
    "share_app",
    "returns",
    "contacts",
    "complaints",
    "nps",
    "nps_missing",
    "days_since_last_contact",
    "abandoned_carts",
];

/// Index of "nps" in [`FEATURE_NAMES`]; a missing answer is imputed there.
pub const NPS_INDEX: usize = 15;

/// The feature vector of one customer. A missing NPS is NaN here (imputed
/// with the training mean by the model, flagged by "nps_missing"); a
/// customer who never contacted support counts as "no contact in all their
/// tenure".
pub fn feature_vector(input: &FeatureInput) -> [f64; FEATURE_NAMES.len()] {
    [
        input.probability_alive,
        input.expected_purchases,
        input.probability_no_purchase,
        input.days_since_last_purchase,
        input.frequency,
        input.tenure_days,
        input.orders,
        // Revenue is heavy-tailed; its logarithm keeps a few big spenders
        // from dominating the standardised scale.
        input.revenue_minor.max(0.0).ln_1p(),
        input.average_order_value,
        input.category_count,
        input.share_web,
        input.share_app,
        input.returns,
        input.contacts,
        input.complaints,
        input.last_nps.unwrap_or(f64::NAN),
        if input.last_nps.is_some() { 0.0 } else { 1.0 },
        input.days_since_last_contact.unwrap_or(input.tenure_days),
        input.abandoned_carts,
    ]
}
