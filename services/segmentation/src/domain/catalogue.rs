//! The features a segmentation can use, read from a row of the profile
//! service's feature export, each with its unit.

use patron_proto::profile::v1::CustomerFeatures as ExportRow;

/// What a feature measures; decides its unit label and how it is shown.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Unit {
    Days,
    Orders,
    /// Major units of the reporting currency.
    Money,
    Share,
    Count,
    Score,
}

impl Unit {
    pub fn label(self, currency_code: &str) -> String {
        match self {
            Unit::Days => "days".to_owned(),
            Unit::Orders => "orders".to_owned(),
            Unit::Money => currency_code.to_owned(),
            Unit::Share => "share".to_owned(),
            Unit::Count => "count".to_owned(),
            Unit::Score => "score".to_owned(),
        }
    }
}

#[derive(Debug)]
pub struct FeatureSpec {
    pub name: &'static str,
    pub unit: Unit,
    /// Reads the feature from an export row; money is converted with `minor_per_major`.
    read: fn(&ExportRow, f64) -> f64,
}

impl FeatureSpec {
    pub fn read(&self, row: &ExportRow, minor_per_major: f64) -> f64 {
        (self.read)(row, minor_per_major)
    }
}

/// Net Promoter category of the last answer: promoter (9–10) +1, passive
/// (7–8) or no answer 0, detractor (0–6) −1. A category, not the raw score,
/// so customers who never answered sit at the neutral point instead of at 0.
fn nps_category(row: &ExportRow) -> f64 {
    match row.last_nps {
        Some(score) if score >= 9 => 1.0,
        Some(score) if score <= 6 => -1.0,
        _ => 0.0,
    }
}

pub const CATALOGUE: &[FeatureSpec] = &[
    FeatureSpec { name: "recency_days", unit: Unit::Days, read: |row, _| row.days_since_last_purchase },
    FeatureSpec { name: "orders", unit: Unit::Orders, read: |row, _| row.orders as f64 },
    FeatureSpec { name: "frequency", unit: Unit::Orders, read: |row, _| row.frequency as f64 },
    FeatureSpec { name: "monetary", unit: Unit::Money, read: |row, minor| row.revenue_minor as f64 / minor },
    FeatureSpec { name: "tenure_days", unit: Unit::Days, read: |row, _| row.tenure_days },
    FeatureSpec { name: "average_order_value", unit: Unit::Money, read: |row, minor| row.average_order_value / minor },
    FeatureSpec { name: "repeat_value", unit: Unit::Money, read: |row, minor| row.monetary_value / minor },
    FeatureSpec { name: "category_count", unit: Unit::Count, read: |row, _| row.category_count as f64 },
    FeatureSpec { name: "share_store", unit: Unit::Share, read: |row, _| row.share_store },
    FeatureSpec { name: "share_web", unit: Unit::Share, read: |row, _| row.share_web },
    FeatureSpec { name: "share_app", unit: Unit::Share, read: |row, _| row.share_app },
    FeatureSpec { name: "share_marketplace", unit: Unit::Share, read: |row, _| row.share_marketplace },
    FeatureSpec { name: "returns", unit: Unit::Count, read: |row, _| row.returns as f64 },
    FeatureSpec { name: "contacts", unit: Unit::Count, read: |row, _| row.contacts as f64 },
    FeatureSpec { name: "complaints", unit: Unit::Count, read: |row, _| row.complaints as f64 },
    FeatureSpec { name: "abandoned_carts", unit: Unit::Count, read: |row, _| row.abandoned_carts as f64 },
    FeatureSpec { name: "nps", unit: Unit::Score, read: |row, _| nps_category(row) },
];

/// The default set: recency, frequency, monetary, tenure, average order
/// value, category breadth, channel mix and engagement.
pub const DEFAULT_FEATURES: &[&str] = &[
    "recency_days",
    "orders",
    "monetary",
    "tenure_days",
    "average_order_value",
    "category_count",
    "share_store",
    "contacts",
    "complaints",
    "nps",
];

pub fn find(name: &str) -> Option<&'static FeatureSpec> {
    CATALOGUE.iter().find(|spec| spec.name == name)
}

pub fn known_names() -> String {
    CATALOGUE.iter().map(|spec| spec.name).collect::<Vec<_>>().join(", ")
}
