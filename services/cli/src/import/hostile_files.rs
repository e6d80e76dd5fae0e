//! Hostile files through the importer's reading and batching, as `patron
//! import` sends them (no server): malformed, truncated, huge-field,
//! wrong-encoding, formula-injection and quote-broken files. Each bad row is
//! reported with its line and a reason, every good row is sent, unchanged,
//! and nothing panics.

use std::io::Cursor;

use patron_proto::profile::v1::{Customer, ImportRow, OrderRow, import_row::Record};
use prost::Message;
use rand::{RngExt, SeedableRng};

use super::csv_rows::CsvRows;
use super::encoding::as_utf8;
use super::rows::{Kind, RowError};
use super::upload::batches;

const CUSTOMERS: &str = "customer_id,name,email,tags\n";
const ORDERS: &str = "order_id,placed_at,sku,quantity,unit_price\n";

/// What the uploader would send, and what it reported, for a file.
struct Outcome {
    sent: Vec<ImportRow>,
    rejected: Vec<RowError>,
    batch_bytes: Vec<usize>,
}

fn import(kind: Kind, bytes: impl Into<Vec<u8>>) -> Outcome {
    let input = as_utf8(Cursor::new(bytes.into())).expect("an in-memory file reads");
    let source = CsvRows::new(input, kind, &[]).unwrap_or_else(|error| panic!("{error:#}"));
    let (batches, rejected) = batches(Box::new(source), 1_000);
    Outcome {
        batch_bytes: batches.iter().map(Message::encoded_len).collect(),
        sent: batches.into_iter().flat_map(|batch| batch.rows).collect(),
        rejected,
    }
}

impl Outcome {
    fn sent_lines(&self) -> Vec<i64> {
        self.sent.iter().map(|row| row.line).collect()
    }

    /// (line, field) of each rejected row, in line order.
    fn rejected_at(&self) -> Vec<(i64, &str)> {
        let mut rejected: Vec<(i64, &str)> =
            self.rejected.iter().map(|error| (error.line, error.field.as_str())).collect();
        rejected.sort();
        rejected
    }

    fn reason(&self, line: i64) -> &str {
        self.rejected.iter().find(|error| error.line == line).map_or("", |error| error.reason.as_str())
    }

    fn customer(&self, line: i64) -> &Customer {
        match self.sent.iter().find(|row| row.line == line).and_then(|row| row.record.as_ref()) {
            Some(Record::Customer(customer)) => customer,
            other => panic!("line {line} sent no customer: {other:?}"),
        }
    }

    fn order(&self, line: i64) -> &OrderRow {
        match self.sent.iter().find(|row| row.line == line).and_then(|row| row.record.as_ref()) {
            Some(Record::Order(order)) => order,
            other => panic!("line {line} sent no order: {other:?}"),
        }
    }
}

#[test]
fn malformed_and_truncated_rows_are_reported_on_their_lines() {
    let file = [
        CUSTOMERS.as_bytes(),
        b"c-1,Ada,ada@example.com,vip\n",
        b"c-2,Bob\n",
        b"c-3,Cy,cy@example.com,a,extra\n",
        b"c-4,Di,di@example.com,\xC3\n",
        b"c-5,Ev,ev@example.com,x\n",
        // Cut off mid-row, without a final line break.
        b"c-6,Fa",
    ]
    .concat();
    let outcome = import(Kind::Customers, file);
    assert_eq!(outcome.sent_lines(), [2, 6]);
    assert_eq!(outcome.rejected_at(), [(3, "record"), (4, "record"), (5, "tags"), (7, "record")]);
    assert_eq!(outcome.reason(3), "has 2 columns but the header has 4");
    assert!(outcome.reason(5).contains("not valid UTF-8"), "{}", outcome.reason(5));

    assert!(import(Kind::Customers, CUSTOMERS).sent.is_empty(), "a header alone is an empty import");
    let no_header =
        CsvRows::new(Cursor::new(Vec::<u8>::new()), Kind::Customers, &[]).err().map(|error| error.to_string());
    assert!(
        no_header.is_some_and(|error| error.contains("customer_id")),
        "an empty file is refused, naming the column"
    );
}

#[test]
fn huge_fields_are_refused_on_their_line_and_batches_stay_small() {
    let huge = "x".repeat(3 * 1024 * 1024);
    let file = format!("{CUSTOMERS}c-1,Ada,,\nc-2,{huge},,\nc-3,Cy,,\n");
    let outcome = import(Kind::Customers, file);
    assert_eq!(outcome.sent_lines(), [2, 4]);
    assert_eq!(outcome.rejected_at(), [(3, "record")]);
    assert!(outcome.reason(3).contains("bytes"), "{}", outcome.reason(3));

    // 2,000 rows of 8 KB each: 1,000-row batches would be 8 MB messages, so batches are cut by size.
    let long_name = "n".repeat(8_192);
    let rows: String = (0..2_000).map(|index| format!("c-{index},{long_name},,\n")).collect();
    let outcome = import(Kind::Customers, format!("{CUSTOMERS}{rows}"));
    assert_eq!(outcome.sent_lines(), (2..2_002).collect::<Vec<i64>>());
    assert!(outcome.batch_bytes.len() >= 4, "{:?}", outcome.batch_bytes);
    assert!(outcome.batch_bytes.iter().all(|&bytes| bytes <= 5 * 1024 * 1024), "{:?}", outcome.batch_bytes);
}

#[test]
fn latin1_rows_are_refused_and_utf16_files_land() {
    let latin1 = [CUSTOMERS.as_bytes(), b"c-1,Jos\xE9,,\n", b"c-2,Ann,,\n"].concat();
    let outcome = import(Kind::Customers, latin1);
    assert_eq!(outcome.rejected_at(), [(2, "name")]);
    assert_eq!(outcome.sent_lines(), [3]);

    let text = format!("{CUSTOMERS}c-1,José 🙂 עברית,jose@example.com,\"vip;a,b\"\nc-2,Ann,,\n");
    let little_endian: Vec<u8> =
        [0xFF, 0xFE].into_iter().chain(text.encode_utf16().flat_map(u16::to_le_bytes)).collect();
    let big_endian: Vec<u8> = [0xFE, 0xFF].into_iter().chain(text.encode_utf16().flat_map(u16::to_be_bytes)).collect();
    let utf8_with_mark = [b"\xEF\xBB\xBF".as_slice(), text.as_bytes()].concat();
    for file in [little_endian, big_endian, utf8_with_mark] {
        let outcome = import(Kind::Customers, file);
        assert!(outcome.rejected.is_empty(), "{:?}", outcome.rejected);
        let first = outcome.customer(2);
        assert_eq!((first.customer_id.as_str(), first.name.as_str()), ("c-1", "José 🙂 עברית"));
        assert_eq!(first.tags, ["vip", "a,b"]);
        assert_eq!(outcome.customer(3).name, "Ann");
    }
}

#[test]
fn formula_injection_is_stored_as_text_and_refused_as_a_number() {
    let formulas = ["=cmd|' /C calc'!A0", "+SUM(1;2)", "-2+3", "@SUM(A1)", "=HYPERLINK(\"http://x.invalid\")"];
    let rows: String = formulas
        .iter()
        .enumerate()
        .map(|(index, formula)| format!("c-{index},\"{}\",,\n", formula.replace('"', "\"\"")))
        .collect();
    let outcome = import(Kind::Customers, format!("{CUSTOMERS}{rows}"));
    assert!(outcome.rejected.is_empty(), "{:?}", outcome.rejected);
    for (index, formula) in formulas.iter().enumerate() {
        assert_eq!(outcome.customer(index as i64 + 2).name, *formula, "text is sent verbatim");
    }

    let orders = format!(
        "{ORDERS}o-1,2026-01-01,s-1,=1+1,1.00\no-2,2026-01-01,s-1,1,=A1*2\no-3,=NOW(),s-1,1,1.00\no-4,2026-01-01,=cmd|' /C calc'!A0,2,1.50\n"
    );
    let outcome = import(Kind::Orders, orders);
    assert_eq!(outcome.rejected_at(), [(2, "quantity"), (3, "unit_price"), (4, "placed_at")]);
    assert_eq!(outcome.order(5).sku, "=cmd|' /C calc'!A0");
}

#[test]
fn a_quote_left_open_is_reported_where_it_opened() {
    // The open quote swallows the rest of the file into the last column: the
    // column count is right, so only the quote tells.
    let file = format!("{CUSTOMERS}c-1,Ada,,vip\nc-2,Bob,,\"x\nc-3,Cy,,y\nc-4,Di,,z\n");
    let outcome = import(Kind::Customers, file);
    assert_eq!(outcome.sent_lines(), [2]);
    assert_eq!(outcome.rejected_at(), [(3, "record")]);
    assert!(outcome.reason(3).contains("quote opened on line 3 is never closed"), "{}", outcome.reason(3));
    assert!(outcome.reason(3).contains("lines 3 to 5"), "{}", outcome.reason(3));

    // Swallowed into a middle column: the count is wrong, and the reason says where the row ran.
    let file = format!("{CUSTOMERS}c-1,Ada,,vip\nc-2,\"Bob,,x\nc-3,Cy,,y\n");
    let outcome = import(Kind::Customers, file);
    assert_eq!(outcome.sent_lines(), [2]);
    assert_eq!(outcome.rejected_at(), [(3, "record")]);
    assert!(outcome.reason(3).contains("runs from line 3"), "{}", outcome.reason(3));

    // Quotes used correctly, across lines too, land as written.
    let file = format!("{CUSTOMERS}c-1,\"Lovelace, \"\"Ada\"\"\",,\nc-2,\"two\nlines\",,\nc-3,Cy,,\n");
    let outcome = import(Kind::Customers, file);
    assert!(outcome.rejected.is_empty(), "{:?}", outcome.rejected);
    assert_eq!(outcome.customer(2).name, "Lovelace, \"Ada\"");
    assert_eq!(outcome.customer(3).name, "two\nlines");
    assert_eq!(outcome.customer(5).name, "Cy", "a row after a two-line value keeps its file line");
}

/// Random files built from the pieces that break CSV readers: every row is
/// sent or rejected with a line inside the file and a reason; none panics.
#[test]
fn random_hostile_files_never_panic_and_every_row_is_accounted_for() {
    const PIECES: [&[u8]; 16] = [
        b",",
        b"\"",
        b"\"\"",
        b"\n",
        b"\r\n",
        b"\r",
        b"c-1",
        b"o-1",
        b"2026-01-01",
        b"12.50",
        b"=1+1",
        b"\xFF\xFE",
        b"\xC3",
        "é🙂\u{202e}".as_bytes(),
        b"\0",
        b" ",
    ];
    let mut rng = rand::rngs::ChaCha8Rng::seed_from_u64(10);
    for round in 0..400 {
        let (kind, header) = if round % 2 == 0 { (Kind::Customers, CUSTOMERS) } else { (Kind::Orders, ORDERS) };
        let mut file = header.as_bytes().to_vec();
        for _ in 0..rng.random_range(0..120) {
            file.extend_from_slice(PIECES[rng.random_range(0..PIECES.len())]);
        }
        let lines = file.iter().filter(|&&byte| byte == b'\n').count() as i64 + 1;
        let outcome = import(kind, file);
        for line in outcome.sent_lines() {
            assert!((2..=lines).contains(&line), "round {round}: sent line {line} of {lines}");
        }
        for error in &outcome.rejected {
            assert!((2..=lines).contains(&error.line), "round {round}: rejected line {} of {lines}", error.line);
            assert!(!error.reason.is_empty(), "round {round}: a reason for line {}", error.line);
        }
    }
}
