//! What the user sees during an import: a progress bar over the file's bytes
//! (only when stdout is a terminal), each rejected row, and the totals.

use std::io::IsTerminal;

use indicatif::{ProgressBar, ProgressStyle};
use patron_proto::common::v1::ImportProgress;

use super::rows::RowError;

/// Running totals: the server's, plus the rows rejected before sending.
#[derive(Debug, Clone, Copy, Default)]
pub struct Totals {
    pub server: ImportProgress,
    pub rejected_by_client: i64,
}

impl Totals {
    pub fn read(&self) -> i64 {
        self.server.rows_read + self.rejected_by_client
    }

    pub fn rejected(&self) -> i64 {
        self.server.rows_rejected + self.rejected_by_client
    }

    fn counts(&self) -> String {
        format!(
            "{} read, {} written, {} unchanged, {} rejected",
            self.read(),
            self.server.rows_written,
            self.server.rows_unchanged,
            self.rejected()
        )
    }
}

pub struct Reporter {
    bar: ProgressBar,
}

impl Reporter {
    pub fn new(file_bytes: u64) -> Self {
        let bar = if std::io::stdout().is_terminal() { ProgressBar::new(file_bytes) } else { ProgressBar::hidden() };
        let style = ProgressStyle::with_template("[{bar:30}] {percent:>3}% {msg} ({elapsed}, eta {eta})");
        if let Ok(style) = style {
            bar.set_style(style.progress_chars("=> "));
        }
        Self { bar }
    }

    /// The server committed the file up to `bytes`.
    pub fn advance(&self, bytes: u64, totals: &Totals) {
        self.bar.set_position(bytes);
        self.bar.set_message(totals.counts());
    }

    /// Prints rejected rows in line order, above the bar.
    pub fn rejected(&self, mut errors: Vec<RowError>) {
        if errors.is_empty() {
            return;
        }
        errors.sort_by_key(|error| error.line);
        self.bar.suspend(|| {
            for error in errors {
                println!("line {}: {}: {}", error.line, error.field, error.reason);
            }
        });
    }

    pub fn finish(&self, source: &str, totals: &Totals) {
        self.bar.finish_and_clear();
        let before_sending = match totals.rejected_by_client {
            0 => String::new(),
            count => format!(" ({count} before sending)"),
        };
        println!("{source}: {}{before_sending}", totals.counts());
    }
}

impl Drop for Reporter {
    /// An import that stops on an error leaves no half-drawn bar behind.
    fn drop(&mut self) {
        if !self.bar.is_finished() {
            self.bar.finish_and_clear();
        }
    }
}
