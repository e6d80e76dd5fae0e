//! Orders and their lines.

use super::time::Micros;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum SalesChannel {
    Store = 1,
    Web = 2,
    App = 3,
    Marketplace = 4,
}

impl SalesChannel {
    pub fn from_code(code: i32) -> Option<Self> {
        match code {
            1 => Some(Self::Store),
            2 => Some(Self::Web),
            3 => Some(Self::App),
            4 => Some(Self::Marketplace),
            _ => None,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OrderStatus {
    Completed = 1,
    Returned = 2,
    Cancelled = 3,
}

impl OrderStatus {
    pub fn from_code(code: i32) -> Option<Self> {
        match code {
            1 => Some(Self::Completed),
            2 => Some(Self::Returned),
            3 => Some(Self::Cancelled),
            _ => None,
        }
    }
}

#[derive(Debug, Clone, PartialEq)]
pub struct Order {
    pub order_id: String,
    /// External id of the customer; `None` for anonymous orders.
    pub customer_id: Option<String>,
    pub place_time: Micros,
    pub channel: SalesChannel,
    pub store_id: String,
    pub region: String,
    pub currency_code: String,
    pub status: OrderStatus,
    pub lines: Vec<OrderLine>,
    /// After discounts, in minor units.
    pub total_minor: i64,
}

impl Order {
    /// Units sold across the lines (0 for a total-only order).
    pub fn units(&self) -> i64 {
        self.lines.iter().map(|line| line.quantity).sum()
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OrderLine {
    pub line_number: i32,
    pub sku: String,
    pub category: String,
    pub quantity: i64,
    pub unit_price_minor: i64,
    pub discount_minor: i64,
    pub unit_cost_minor: Option<i64>,
}

impl OrderLine {
    /// quantity × unit price − discount, or `None` on overflow.
    pub fn amount_minor(&self) -> Option<i64> {
        self.quantity.checked_mul(self.unit_price_minor)?.checked_sub(self.discount_minor)
    }
}

/// Sum of the lines' amounts, or `None` on overflow.
pub fn lines_total(lines: &[OrderLine]) -> Option<i64> {
    lines.iter().try_fold(0_i64, |total, line| total.checked_add(line.amount_minor()?))
}
