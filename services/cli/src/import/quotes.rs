//! Watches a file's quotes as its bytes go by. A quote left open makes a CSV
//! reader take everything up to the next quote (often the rest of the file)
//! as one value, so a row can swallow the rows after it without any column
//! count going wrong; knowing that the file ends inside a quote, and where
//! that quote opened, lets the importer report the row instead of storing it.

use std::io::{self, Read};

pub struct QuoteWatch<R> {
    input: R,
    inside: bool,
    /// The 1-based line of the last quote that opened.
    opened_on: u64,
    line: u64,
    at_end: bool,
}

impl<R> QuoteWatch<R> {
    pub fn new(input: R) -> Self {
        Self { input, inside: false, opened_on: 0, line: 1, at_end: false }
    }

    /// Once the whole file is read: the line where a quote opened that the
    /// file never closes.
    pub fn unclosed_quote(&self) -> Option<u64> {
        (self.at_end && self.inside).then_some(self.opened_on)
    }
}

impl<R: Read> Read for QuoteWatch<R> {
    fn read(&mut self, buffer: &mut [u8]) -> io::Result<usize> {
        let count = self.input.read(buffer)?;
        if count == 0 && !buffer.is_empty() {
            self.at_end = true;
        }
        for &byte in &buffer[..count] {
            match byte {
                // An escaped quote ("") closes and reopens: the state is right after both.
                b'"' => {
                    self.inside = !self.inside;
                    if self.inside {
                        self.opened_on = self.line;
                    }
                }
                b'\n' => self.line += 1,
                _ => {}
            }
        }
        Ok(count)
    }
}
