//! A customer as the profile service knows them.

use std::collections::{BTreeMap, BTreeSet};

use super::time::Micros;

#[derive(Debug, Clone, PartialEq)]
pub struct Customer {
    pub customer_id: String,
    pub name: String,
    pub email: String,
    pub phone: String,
    pub home_store_id: String,
    pub region: String,
    pub tags: BTreeSet<String>,
    pub attributes: BTreeMap<String, AttributeValue>,
    pub consents: BTreeMap<ConsentChannel, Consent>,
    pub create_time: Micros,
    pub update_time: Micros,
}

#[derive(Debug, Clone, PartialEq)]
pub enum AttributeValue {
    Text(String),
    Number(f64),
    Bool(bool),
    /// A valid calendar date, `YYYY-MM-DD`.
    Date(String),
}

impl AttributeValue {
    /// The stored kind and the canonical text that filters compare against.
    pub fn to_stored(&self) -> (&'static str, String) {
        match self {
            Self::Text(text) => ("string", text.clone()),
            Self::Number(number) => ("number", number.to_string()),
            Self::Bool(flag) => ("bool", flag.to_string()),
            Self::Date(date) => ("date", date.clone()),
        }
    }

    /// Reads a stored attribute back; `None` for a kind this build does not know.
    pub fn from_stored(kind: &str, value: &str) -> Option<Self> {
        match kind {
            "string" => Some(Self::Text(value.to_owned())),
            "number" => value.parse().ok().map(Self::Number),
            "bool" => value.parse().ok().map(Self::Bool),
            "date" => Some(Self::Date(value.to_owned())),
            _ => None,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum ConsentChannel {
    Email = 1,
    Sms = 2,
    Phone = 3,
    Push = 4,
}

impl ConsentChannel {
    pub fn from_code(code: i32) -> Option<Self> {
        match code {
            1 => Some(Self::Email),
            2 => Some(Self::Sms),
            3 => Some(Self::Phone),
            4 => Some(Self::Push),
            _ => None,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ConsentState {
    Granted = 1,
    Denied = 2,
    Revoked = 3,
}

impl ConsentState {
    pub fn from_code(code: i32) -> Option<Self> {
        match code {
            1 => Some(Self::Granted),
            2 => Some(Self::Denied),
            3 => Some(Self::Revoked),
            _ => None,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Consent {
    pub state: ConsentState,
    pub update_time: Micros,
}

/// The mutable fields of a customer, each replaced only when present.
#[derive(Debug, Clone, Default)]
pub struct CustomerChanges {
    pub name: Option<String>,
    pub email: Option<String>,
    pub phone: Option<String>,
    pub home_store_id: Option<String>,
    pub region: Option<String>,
    pub tags: Option<BTreeSet<String>>,
    pub attributes: Option<BTreeMap<String, AttributeValue>>,
}

/// Which customers a listing returns; every set field must match.
#[derive(Debug, Clone, Default)]
pub struct CustomerFilter {
    pub region: Option<String>,
    pub home_store_id: Option<String>,
    pub tags: Vec<String>,
    pub attribute_equals: Vec<(String, String)>,
    pub consent_granted: Option<ConsentChannel>,
    pub first_purchase: Option<(Micros, Micros)>,
    pub last_purchase: Option<(Micros, Micros)>,
}
