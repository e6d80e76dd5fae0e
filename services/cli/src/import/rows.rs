//! What every source of import rows (the default CSV header, the presets)
//! hands to the uploader, and the small pieces they share.

use std::collections::HashMap;

use patron_proto::profile::v1::{ImportKind, ImportRow};

/// The kind of record a file holds; one import carries one kind.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Kind {
    Customers,
    Orders,
    Contacts,
    Feedback,
}

impl Kind {
    pub fn to_proto(self) -> ImportKind {
        match self {
            Kind::Customers => ImportKind::Customers,
            Kind::Orders => ImportKind::Orders,
            Kind::Contacts => ImportKind::Contacts,
            Kind::Feedback => ImportKind::Feedback,
        }
    }

    pub fn name(self) -> &'static str {
        match self {
            Kind::Customers => "customers",
            Kind::Orders => "orders",
            Kind::Contacts => "contacts",
            Kind::Feedback => "feedback",
        }
    }
}

/// A row the client could not turn into a record (a bad number or date), or
/// one the server rejected: the file's line, the field and why.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RowError {
    pub line: i64,
    pub field: String,
    pub reason: String,
}

impl RowError {
    pub fn new(line: i64, field: impl Into<String>, reason: impl Into<String>) -> Self {
        Self { line, field: field.into(), reason: reason.into() }
    }
}

/// What a source made of one data row.
#[derive(Debug, Clone, PartialEq)]
#[allow(
    clippy::large_enum_variant,
    reason = "rows are the common case and move into the batch anyway; boxing would allocate per row"
)]
pub enum Parsed {
    Row(ImportRow),
    Rejected(RowError),
}

/// A file being read row by row.
pub trait RowSource: Send {
    /// The next data row, or `None` at the end of the file. An error means the
    /// file itself cannot be read further (I/O), not that a row is bad.
    fn next_row(&mut self) -> anyhow::Result<Option<Parsed>>;

    /// Bytes of the file consumed so far, for the progress bar.
    fn bytes_read(&self) -> u64;
}

/// Numbers the lines of each order 1, 2, 3... in the order they appear in
/// the file, for sources without a line number. The same file always gives
/// the same numbers, so re-importing it updates lines instead of adding them.
#[derive(Debug, Default)]
pub struct LineNumbers {
    seen: HashMap<String, i32>,
}

impl LineNumbers {
    pub fn next(&mut self, order_id: &str) -> i32 {
        let count = match self.seen.get_mut(order_id) {
            Some(count) => count,
            None => self.seen.entry(order_id.to_owned()).or_insert(0),
        };
        *count = count.saturating_add(1);
        *count
    }
}

#[cfg(test)]
mod tests {
    use super::LineNumbers;

    #[test]
    fn numbers_lines_per_order_in_file_order() {
        let mut lines = LineNumbers::default();
        let numbers: Vec<i32> = ["a", "a", "b", "a", "b"].iter().map(|order| lines.next(order)).collect();
        assert_eq!(numbers, [1, 2, 1, 3, 2]);
    }
}
