//! Files arrive in whatever encoding a spreadsheet saved them in. UTF-8, with
//! or without a byte-order mark, is read as it is. UTF-16 with a byte-order
//! mark (what Excel saves as "Unicode text") is turned into UTF-8 while it is
//! read, so its rows land like any others. Anything else (Latin-1, say) is
//! read as bytes: a value that is not UTF-8 is rejected on its own row, naming
//! the line and the field, and the rows that are UTF-8 still land.

use std::io::{self, Read};

/// `input` as UTF-8 bytes (see the module documentation).
pub fn as_utf8(mut input: impl Read + Send + 'static) -> io::Result<Box<dyn Read + Send>> {
    let mut mark = [0_u8; 2];
    let mut read = 0;
    while read < mark.len() {
        match input.read(&mut mark[read..])? {
            0 => break,
            count => read += count,
        }
    }
    Ok(match (read, mark) {
        (2, [0xFF, 0xFE]) => Box::new(Utf16::new(input, u16::from_le_bytes)),
        (2, [0xFE, 0xFF]) => Box::new(Utf16::new(input, u16::from_be_bytes)),
        _ => Box::new(io::Cursor::new(mark[..read].to_vec()).chain(input)),
    })
}

/// A byte that never occurs in UTF-8: what an unpaired surrogate or a lone
/// trailing byte becomes, so its value is refused as "not valid UTF-8"
/// instead of silently turning into U+FFFD.
const NOT_UTF8: u8 = 0xFF;

/// UTF-16 code units in, UTF-8 bytes out.
struct Utf16<R> {
    input: R,
    unit: fn([u8; 2]) -> u16,
    /// A byte of a code unit whose other byte is in the next read.
    odd_byte: Option<u8>,
    /// A high surrogate waiting for its low half.
    high: Option<u16>,
    /// Encoded bytes not yet handed out, from `start`.
    output: Vec<u8>,
    start: usize,
    finished: bool,
}

impl<R: Read> Utf16<R> {
    fn new(input: R, unit: fn([u8; 2]) -> u16) -> Self {
        Self { input, unit, odd_byte: None, high: None, output: Vec::new(), start: 0, finished: false }
    }

    /// Decodes the next chunk of input into `output`; false at the end.
    fn fill(&mut self) -> io::Result<bool> {
        let mut chunk = [0_u8; 8 * 1024];
        let count = self.input.read(&mut chunk)?;
        self.output.clear();
        self.start = 0;
        if count == 0 {
            if self.odd_byte.take().is_some() || self.high.take().is_some() {
                self.output.push(NOT_UTF8);
            }
            return Ok(!self.output.is_empty());
        }
        let mut bytes = chunk[..count].iter().copied();
        let mut units = Vec::with_capacity(count / 2 + 1);
        if let Some(first) = self.odd_byte.take() {
            match bytes.next() {
                Some(second) => units.push((self.unit)([first, second])),
                None => self.odd_byte = Some(first),
            }
        }
        let rest: Vec<u8> = bytes.collect();
        let mut pairs = rest.chunks_exact(2);
        units.extend(pairs.by_ref().map(|pair| (self.unit)([pair[0], pair[1]])));
        self.odd_byte = pairs.remainder().first().copied();
        for unit in units {
            self.push_unit(unit);
        }
        Ok(true)
    }

    fn push_unit(&mut self, unit: u16) {
        let character = match (self.high.take(), unit) {
            (Some(high), 0xDC00..=0xDFFF) => char::decode_utf16([high, unit]).next().and_then(Result::ok),
            (high, 0xD800..=0xDBFF) => {
                if high.is_some() {
                    self.output.push(NOT_UTF8);
                }
                self.high = Some(unit);
                return;
            }
            (high, _) => {
                if high.is_some() {
                    self.output.push(NOT_UTF8);
                }
                char::from_u32(u32::from(unit))
            }
        };
        match character {
            Some(character) => self.output.extend_from_slice(character.encode_utf8(&mut [0; 4]).as_bytes()),
            None => self.output.push(NOT_UTF8),
        }
    }
}

impl<R: Read> Read for Utf16<R> {
    fn read(&mut self, buffer: &mut [u8]) -> io::Result<usize> {
        while self.start == self.output.len() {
            if self.finished || !self.fill()? {
                self.finished = true;
                return Ok(0);
            }
        }
        let count = buffer.len().min(self.output.len() - self.start);
        buffer[..count].copy_from_slice(&self.output[self.start..self.start + count]);
        self.start += count;
        Ok(count)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn decoded(bytes: Vec<u8>) -> Vec<u8> {
        let mut text = Vec::new();
        as_utf8(io::Cursor::new(bytes)).and_then(|mut reader| reader.read_to_end(&mut text)).expect("reads");
        text
    }

    fn utf16(text: &str, big_endian: bool) -> Vec<u8> {
        let mark: &[u8] = if big_endian { &[0xFE, 0xFF] } else { &[0xFF, 0xFE] };
        let units =
            text.encode_utf16().flat_map(|unit| if big_endian { unit.to_be_bytes() } else { unit.to_le_bytes() });
        mark.iter().copied().chain(units).collect()
    }

    #[test]
    fn utf16_with_a_byte_order_mark_becomes_utf8() {
        let text = "customer_id,name\nc-1,José 🙂 עברית\n";
        assert_eq!(decoded(utf16(text, false)), text.as_bytes());
        assert_eq!(decoded(utf16(text, true)), text.as_bytes());
        // Longer than one chunk, so code units and surrogate pairs straddle reads.
        let long = "🙂é".repeat(10_000);
        assert_eq!(decoded(utf16(&long, false)), long.as_bytes());
    }

    #[test]
    fn other_bytes_pass_through_unchanged() {
        for bytes in [b"a,b\n1,2\n".to_vec(), b"\xEF\xBB\xBFa\n".to_vec(), b"Jos\xE9\n".to_vec(), b"x".to_vec(), vec![]]
        {
            assert_eq!(decoded(bytes.clone()), bytes);
        }
    }

    #[test]
    fn broken_utf16_is_marked_not_replaced() {
        // An unpaired high surrogate, then a lone trailing byte.
        let bytes = [0xFF, 0xFE, b'a', 0, 0x3D, 0xD8, b'b', 0, b'c'];
        assert_eq!(decoded(bytes.to_vec()), [b'a', NOT_UTF8, b'b', NOT_UTF8]);
    }
}
