//! The CLI's CSV import parser on arbitrary bytes: the first byte picks the
//! layout (a kind's default header, with that header prepended or not, or a
//! preset); every row must come back as a parsed row or a rejected row with
//! its line, and the reader must reach the end of the file. Any panic is a bug.
//!
//! The CLI is a binary crate, so its parsing modules are compiled here from
//! their sources (they depend only on the proto types, csv, chrono and anyhow).
#![no_main]
#![allow(dead_code, reason = "the parser modules carry helpers only the CLI uses")]

#[path = "../../services/cli/src/import"]
mod import {
    pub mod csv_rows;
    pub mod dates;
    pub mod money;
    pub mod presets;
    pub mod rows;
}

use import::csv_rows::{CsvRows, fields};
use import::presets::{CdnowRows, UciRows};
use import::rows::{Kind, Parsed, RowSource};
use libfuzzer_sys::fuzz_target;

const KINDS: [Kind; 4] = [Kind::Customers, Kind::Orders, Kind::Contacts, Kind::Feedback];

/// Reads every row; a rejected row must name a line and a reason.
fn drain(mut source: impl RowSource) {
    while let Ok(Some(parsed)) = source.next_row() {
        if let Parsed::Rejected(error) = parsed {
            assert!(!error.reason.is_empty(), "a rejected row carries a reason");
        }
    }
}

fuzz_target!(|data: &[u8]| {
    let Some((&layout, body)) = data.split_first() else { return };
    match layout % 10 {
        choice @ 0..=3 => {
            if let Ok(rows) = CsvRows::new(body, KINDS[usize::from(choice)], &[]) {
                drain(rows);
            }
        }
        choice @ 4..=7 => {
            let kind = KINDS[usize::from(choice - 4)];
            let mut file = fields(kind).join(",").into_bytes();
            file.push(b'\n');
            file.extend_from_slice(body);
            if let Ok(rows) = CsvRows::new(file.as_slice(), kind, &[]) {
                drain(rows);
            }
        }
        8 => {
            if let Ok(rows) = UciRows::new(body) {
                drain(rows);
            }
        }
        _ => drain(CdnowRows::new(body)),
    }
});
