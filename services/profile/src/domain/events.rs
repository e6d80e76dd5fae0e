//! What customers did besides buying: support contacts, survey answers, cart
//! events and campaign exposures.

use super::time::Micros;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ContactChannel {
    Email = 1,
    Phone = 2,
    Chat = 3,
    Social = 4,
    InStore = 5,
}

impl ContactChannel {
    pub fn from_code(code: i32) -> Option<Self> {
        match code {
            1 => Some(Self::Email),
            2 => Some(Self::Phone),
            3 => Some(Self::Chat),
            4 => Some(Self::Social),
            5 => Some(Self::InStore),
            _ => None,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SupportContact {
    pub contact_id: String,
    pub customer_id: Option<String>,
    pub channel: ContactChannel,
    pub reason: String,
    pub complaint: bool,
    pub open_time: Micros,
    pub resolve_time: Option<Micros>,
}

/// A survey answer: Net Promoter Score (0-10) or satisfaction (1-5).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Score {
    Nps(i16),
    Csat(i16),
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Feedback {
    pub feedback_id: String,
    pub customer_id: Option<String>,
    pub score: Score,
    pub comment: String,
    pub touchpoint: String,
    pub submit_time: Micros,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CartEventType {
    Created = 1,
    Updated = 2,
    Converted = 3,
}

impl CartEventType {
    pub fn from_code(code: i32) -> Option<Self> {
        match code {
            1 => Some(Self::Created),
            2 => Some(Self::Updated),
            3 => Some(Self::Converted),
            _ => None,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CartEvent {
    pub event_id: String,
    pub cart_id: String,
    pub customer_id: Option<String>,
    pub kind: CartEventType,
    pub event_time: Micros,
    pub value_minor: i64,
    pub currency_code: String,
    /// The order the cart became; set for `Converted`.
    pub order_id: String,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CampaignExposure {
    pub exposure_id: String,
    pub campaign_id: String,
    pub variant: String,
    pub customer_id: String,
    pub expose_time: Micros,
}
