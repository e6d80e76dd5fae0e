//! What the demo writes, as the simulation leaves it: every record in time
//! order with its external id, referring to customers and orders by index.

use chrono::{DateTime, NaiveDate, Utc};
use patron_proto::profile::v1::{CartEventType, ContactChannel, OrderStatus, SalesChannel, feedback::Score};

use super::catalog::Catalog;

#[derive(Debug, Clone, Copy)]
pub struct DemoConfig {
    pub customers: usize,
    pub days: u32,
    pub seed: u64,
    /// The first day after the data.
    pub end: NaiveDate,
}

#[derive(Debug)]
pub struct Dataset {
    pub catalog: Catalog,
    pub customers: Vec<Customer>,
    /// By time placed.
    pub orders: Vec<Order>,
    pub contacts: Vec<Contact>,
    pub answers: Vec<Answer>,
    pub carts: Vec<Cart>,
    pub campaign_id: String,
    pub exposures: Vec<Exposure>,
}

#[derive(Debug)]
pub struct Customer {
    pub id: String,
    pub name: String,
    pub email: String,
    pub phone: String,
    pub home_store: usize,
    pub region: &'static str,
    pub tags: Vec<&'static str>,
    /// (channel, state), e.g. ("email", "granted").
    pub consents: Vec<(&'static str, &'static str)>,
    pub created_at: DateTime<Utc>,
    pub truth: Truth,
}

/// What the simulation knows and the data only hints at: the yardstick for
/// the models trained on it.
#[derive(Debug, Clone, Copy)]
pub struct Truth {
    /// λ, purchases per day before the calendar's multipliers.
    pub purchase_rate: f64,
    /// p, before complaints and satisfaction raise it.
    pub dropout_probability: f64,
    /// Latent, ~ N(0, 1); drives survey answers, contacts and dropout.
    pub satisfaction: f64,
    /// Orders that ended in a complaint (recorded or after the window).
    pub complaints: u32,
    /// When the order that brought the first complaint was placed.
    pub first_complaint_at: Option<DateTime<Utc>>,
    /// When the customer left for good (right after that order).
    pub dropped_out_at: Option<DateTime<Utc>>,
}

#[derive(Debug)]
pub struct Order {
    pub id: String,
    /// Index into [`Dataset::customers`].
    pub customer: usize,
    pub placed_at: DateTime<Utc>,
    pub channel: SalesChannel,
    pub store_id: &'static str,
    pub region: &'static str,
    pub status: OrderStatus,
    pub lines: Vec<Line>,
}

impl Order {
    pub fn total_minor(&self) -> i64 {
        self.lines.iter().map(|line| line.quantity * line.unit_price_minor - line.discount_minor).sum()
    }
}

#[derive(Debug, Clone)]
pub struct Line {
    /// Index into the catalogue's SKUs.
    pub sku: usize,
    pub quantity: i64,
    pub unit_price_minor: i64,
    /// For the whole line.
    pub discount_minor: i64,
    pub unit_cost_minor: i64,
}

#[derive(Debug)]
pub struct Contact {
    pub id: String,
    pub customer: usize,
    pub channel: ContactChannel,
    pub reason: &'static str,
    pub complaint: bool,
    pub opened_at: DateTime<Utc>,
    pub resolved_at: Option<DateTime<Utc>>,
}

#[derive(Debug)]
pub struct Answer {
    pub id: String,
    pub customer: usize,
    pub score: Score,
    pub comment: &'static str,
    pub touchpoint: &'static str,
    pub submitted_at: DateTime<Utc>,
}

#[derive(Debug)]
pub struct Cart {
    pub id: String,
    pub customer: usize,
    pub events: Vec<CartStep>,
}

#[derive(Debug)]
pub struct CartStep {
    pub kind: CartEventType,
    pub at: DateTime<Utc>,
    pub value_minor: i64,
    /// Index into [`Dataset::orders`], for the converting step.
    pub order: Option<usize>,
}

#[derive(Debug)]
pub struct Exposure {
    pub id: String,
    pub customer: usize,
    pub variant: &'static str,
    pub exposed_at: DateTime<Utc>,
}
