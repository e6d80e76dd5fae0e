//! Bulk import is idempotent by external id: re-importing a file reports
//! every row unchanged and writes nothing. Customer rows are written by
//! [`super::import_customers`], order rows by [`super::import_orders`], the
//! other record kinds by [`events`], all set-based inside the caller's batch
//! transaction.

pub mod events;
pub mod keys;

use sea_orm::DbBackend;

use crate::domain::order::{Order, OrderLine};

/// One imported order row: the order's fields plus, unless the source has
/// totals only, one line.
#[derive(Debug, Clone)]
pub struct OrderRow {
    pub order: Order,
    pub line: Option<OrderLine>,
}

/// How many rows of a batch were written and how many were already stored as given.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Counts {
    pub written: i64,
    pub unchanged: i64,
}

impl Counts {
    pub fn add(&mut self, written: bool) {
        if written {
            self.written += 1;
        } else {
            self.unchanged += 1;
        }
    }
}

/// "a IS DISTINCT FROM excluded.a OR …" in the backend's spelling, for an
/// upsert whose update fires only when a value differs.
pub fn any_differs(backend: DbBackend, table: &str, columns: &[&str]) -> String {
    let operator = if backend == DbBackend::Postgres { "IS DISTINCT FROM" } else { "IS NOT" };
    columns
        .iter()
        .map(|column| format!("{table}.{column} {operator} excluded.{column}"))
        .collect::<Vec<_>>()
        .join(" OR ")
}
