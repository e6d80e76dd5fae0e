//! Bulk import is idempotent by external id: re-importing a file reports
//! every row unchanged and writes nothing. Customer rows are written by
//! [`super::import_customers`], order rows by [`super::import_orders`], both
//! set-based inside the caller's batch transaction.

use crate::domain::order::{Order, OrderLine};

/// One imported order row: the order's fields plus, unless the source has
/// totals only, one line.
#[derive(Debug, Clone)]
pub struct OrderRow {
    pub order: Order,
    pub line: Option<OrderLine>,
}
