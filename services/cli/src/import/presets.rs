//! Readers for two public retail layouts, both of orders. Errors name the
//! source's own columns ("UnitPrice", "amount").
//!
//! - `uci` — UCI Online Retail, a CSV with the header InvoiceNo, StockCode,
//!   Description, Quantity, InvoiceDate ("12/1/2010 8:26"), UnitPrice,
//!   CustomerID, Country. Each row is one order line of a web order in GBP:
//!   the invoice is the order, its line number the row's position within the
//!   invoice, the country its region. An invoice starting with "C" is a
//!   cancellation: status cancelled, with the (negative) quantity made
//!   positive. An empty CustomerID is an anonymous order. Times are UTC.
//! - `cdnow` — the CDNOW purchase log: whitespace-separated, no header,
//!   "customer date(YYYYMMDD) quantity amount"; the 1/10 sample adds a sample
//!   id after the customer id, told apart by the column count. Each row is a
//!   total-only web order in USD with the number of CDs as quantity. CDNOW has
//!   no order ids, so one is made from the row: `cdnow-<customer>-<date>-<n>`,
//!   n counting that customer's rows of that day in file order, so importing
//!   the same file again names the same orders.

use std::collections::HashMap;
use std::io::{BufRead, Read};

use anyhow::Context;
use csv::ByteRecord;
use patron_proto::profile::v1::{ImportRow, OrderRow, OrderStatus, SalesChannel, import_row::Record};

use super::dates::parse_instant_as;
use super::money;
use super::rows::{LineNumbers, Parsed, RowError, RowSource};

#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Preset {
    /// UCI Online Retail (InvoiceNo, StockCode, Description, Quantity, InvoiceDate, UnitPrice, CustomerID, Country).
    Uci,
    /// CDNOW purchase log: "customer [sample_id] YYYYMMDD quantity amount", whitespace-separated, no header.
    Cdnow,
}

const UCI_CURRENCY: &str = "GBP";
const UCI_COLUMNS: [&str; 7] =
    ["InvoiceNo", "StockCode", "Quantity", "InvoiceDate", "UnitPrice", "CustomerID", "Country"];
const CDNOW_CURRENCY: &str = "USD";

/// Rows of a UCI Online Retail CSV.
pub struct UciRows<R> {
    reader: csv::Reader<R>,
    record: ByteRecord,
    /// Positions of [`UCI_COLUMNS`] in the file, in that order.
    positions: [usize; UCI_COLUMNS.len()],
    width: usize,
    line_numbers: LineNumbers,
}

impl<R: Read> UciRows<R> {
    pub fn new(input: R) -> anyhow::Result<Self> {
        let mut reader = csv::ReaderBuilder::new().flexible(true).from_reader(input);
        let header = reader.byte_headers().context("reading the header line")?.clone();
        let names: Vec<String> = header
            .iter()
            .map(|name| String::from_utf8_lossy(name).trim_start_matches('\u{feff}').trim().to_owned())
            .collect();
        let mut positions = [0; UCI_COLUMNS.len()];
        for (position, column) in positions.iter_mut().zip(UCI_COLUMNS) {
            *position = names
                .iter()
                .position(|name| name.eq_ignore_ascii_case(column))
                .with_context(|| format!("not a UCI Online Retail file: the header has no {column} column"))?;
        }
        Ok(Self {
            reader,
            record: ByteRecord::new(),
            positions,
            width: names.len(),
            line_numbers: LineNumbers::default(),
        })
    }

    fn order_row(&mut self, line: i64) -> Result<OrderRow, RowError> {
        let [invoice, sku, quantity, placed_at, unit_price, customer, country] = self
            .positions
            .map(|position| std::str::from_utf8(self.record.get(position).unwrap_or_default()).ok().map(str::trim));
        let invoice = field(invoice, line, "InvoiceNo")?;
        let line_number = self.line_numbers.next(invoice);
        let cancelled = invoice.starts_with(['C', 'c']);
        let quantity: i64 = field(quantity, line, "Quantity")?
            .parse()
            .map_err(|_| RowError::new(line, "Quantity", "is not a whole number"))?;
        let place_time = parse_instant_as(field(placed_at, line, "InvoiceDate")?, "%m/%d/%Y %H:%M")
            .map_err(|reason| RowError::new(line, "InvoiceDate", reason))?;
        let unit_price_minor = money::to_minor(field(unit_price, line, "UnitPrice")?, UCI_CURRENCY)
            .map_err(|reason| RowError::new(line, "UnitPrice", reason))?;
        // Some exports write the id as a float ("17850.0").
        let customer = field(customer, line, "CustomerID")?;
        let customer = customer.strip_suffix(".0").unwrap_or(customer);
        Ok(OrderRow {
            order_id: invoice.to_owned(),
            customer_id: customer.to_owned(),
            place_time: Some(place_time),
            channel: SalesChannel::Web.into(),
            region: field(country, line, "Country")?.to_owned(),
            currency_code: UCI_CURRENCY.to_owned(),
            status: if cancelled { OrderStatus::Cancelled } else { OrderStatus::Completed }.into(),
            line_number,
            sku: field(sku, line, "StockCode")?.to_owned(),
            // Only cancellations are made positive; any other negative
            // quantity (stock adjustments) is the server's to reject.
            quantity: if cancelled { quantity.abs() } else { quantity },
            unit_price_minor,
            ..OrderRow::default()
        })
    }
}

/// A UCI column's text, or the row's rejection when it is not UTF-8 (the
/// files circulate in Latin-1 too; only the columns used must be clean).
fn field<'a>(value: Option<&'a str>, line: i64, column: &str) -> Result<&'a str, RowError> {
    value.ok_or_else(|| RowError::new(line, column, "is not valid UTF-8"))
}

impl<R: Read + Send> RowSource for UciRows<R> {
    fn next_row(&mut self) -> anyhow::Result<Option<Parsed>> {
        if !self.reader.read_byte_record(&mut self.record).context("reading the file")? {
            return Ok(None);
        }
        let line = self.record.position().map_or(0, |position| i64::try_from(position.line()).unwrap_or(i64::MAX));
        if self.record.len() != self.width {
            let reason = format!("has {} columns but the header has {}", self.record.len(), self.width);
            return Ok(Some(Parsed::Rejected(RowError::new(line, "record", reason))));
        }
        Ok(Some(match self.order_row(line) {
            Ok(order) => Parsed::Row(ImportRow { line, record: Some(Record::Order(order)) }),
            Err(error) => Parsed::Rejected(error),
        }))
    }

    fn bytes_read(&self) -> u64 {
        self.reader.position().byte()
    }
}

/// Rows of a CDNOW purchase log.
pub struct CdnowRows<R> {
    input: R,
    buffer: Vec<u8>,
    line: i64,
    bytes_read: u64,
    /// Rows seen so far per (customer, date), for the order ids.
    occurrences: HashMap<(String, String), u32>,
}

impl<R: BufRead> CdnowRows<R> {
    pub fn new(input: R) -> Self {
        Self { input, buffer: Vec::new(), line: 0, bytes_read: 0, occurrences: HashMap::new() }
    }

    fn order_row(&mut self, text: &str) -> Result<OrderRow, RowError> {
        let line = self.line;
        let columns: Vec<&str> = text.split_whitespace().collect();
        let [customer, date, quantity, amount] = match columns[..] {
            [customer, date, quantity, amount] | [customer, _, date, quantity, amount] => {
                [customer, date, quantity, amount]
            }
            _ => {
                let reason = format!(
                    "has {} columns; expected customer, date, quantity, amount (and a sample id after the customer)",
                    columns.len()
                );
                return Err(RowError::new(line, "record", reason));
            }
        };
        // Counted before the values are checked, so that fixing one bad row
        // does not rename the orders after it.
        let occurrence = self.occurrences.entry((customer.to_owned(), date.to_owned())).or_insert(0);
        *occurrence += 1;
        let order_id = format!("cdnow-{customer}-{date}-{occurrence}");
        let place_time = parse_instant_as(date, "%Y%m%d").map_err(|reason| RowError::new(line, "date", reason))?;
        let quantity = quantity
            .parse()
            .map_err(|_| RowError::new(line, "quantity", format!("{quantity:?} is not a whole number")))?;
        let total_minor =
            money::to_minor(amount, CDNOW_CURRENCY).map_err(|reason| RowError::new(line, "amount", reason))?;
        Ok(OrderRow {
            order_id,
            customer_id: customer.to_owned(),
            place_time: Some(place_time),
            channel: SalesChannel::Web.into(),
            currency_code: CDNOW_CURRENCY.to_owned(),
            status: OrderStatus::Completed.into(),
            quantity,
            total_minor,
            ..OrderRow::default()
        })
    }
}

impl<R: BufRead + Send> RowSource for CdnowRows<R> {
    fn next_row(&mut self) -> anyhow::Result<Option<Parsed>> {
        loop {
            self.buffer.clear();
            let read = self.input.read_until(b'\n', &mut self.buffer).context("reading the file")?;
            if read == 0 {
                return Ok(None);
            }
            self.bytes_read += read as u64;
            self.line += 1;
            let line = self.line;
            let buffer = std::mem::take(&mut self.buffer);
            let parsed = match std::str::from_utf8(&buffer) {
                Ok(text) if text.trim().is_empty() => None,
                Ok(text) => Some(match self.order_row(text) {
                    Ok(order) => Parsed::Row(ImportRow { line, record: Some(Record::Order(order)) }),
                    Err(error) => Parsed::Rejected(error),
                }),
                Err(_) => Some(Parsed::Rejected(RowError::new(line, "record", "is not valid UTF-8"))),
            };
            self.buffer = buffer;
            if parsed.is_some() {
                return Ok(parsed);
            }
        }
    }

    fn bytes_read(&self) -> u64 {
        self.bytes_read
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn orders(source: &mut dyn RowSource) -> Vec<Result<(i64, OrderRow), RowError>> {
        std::iter::from_fn(|| source.next_row().unwrap_or_else(|error| panic!("{error:#}")))
            .map(|parsed| match parsed {
                Parsed::Row(ImportRow { line, record: Some(Record::Order(order)) }) => Ok((line, order)),
                Parsed::Row(other) => panic!("not an order: {other:?}"),
                Parsed::Rejected(error) => Err(error),
            })
            .collect()
    }

    const UCI_SAMPLE: &str = "\
InvoiceNo,StockCode,Description,Quantity,InvoiceDate,UnitPrice,CustomerID,Country
536365,85123A,WHITE HANGING HEART T-LIGHT HOLDER,6,12/1/2010 8:26,2.55,17850,United Kingdom
536365,71053,\"WHITE METAL LANTERN, LARGE\",6,12/1/2010 8:26,3.39,17850,United Kingdom
C536379,D,Discount,-1,12/1/2010 9:41,27.50,14527.0,United Kingdom
536414,22139,,56,12/1/2010 11:52,0,,United Kingdom
536415,22140,BAD PRICE,1,12/1/2010 11:53,0.001,,France
536416,22141,BAD DATE,1,31/12/2010 11:53,1.00,,France
";

    #[test]
    fn reads_uci_online_retail() {
        let mut source = UciRows::new(UCI_SAMPLE.as_bytes()).unwrap_or_else(|error| panic!("{error:#}"));
        let rows = orders(&mut source);
        let Ok((line, first)) = &rows[0] else { panic!("first row rejected") };
        assert_eq!(*line, 2);
        assert_eq!((first.order_id.as_str(), first.sku.as_str(), first.line_number), ("536365", "85123A", 1));
        assert_eq!((first.quantity, first.unit_price_minor, first.currency_code.as_str()), (6, 255, "GBP"));
        assert_eq!((first.customer_id.as_str(), first.region.as_str()), ("17850", "United Kingdom"));
        assert_eq!(first.place_time.map(|at| at.seconds), Some(1_291_191_960));
        assert_eq!(first.channel, i32::from(SalesChannel::Web));
        assert_eq!(first.status, i32::from(OrderStatus::Completed));
        let Ok((_, second)) = &rows[1] else { panic!("second row rejected") };
        assert_eq!((second.line_number, second.unit_price_minor), (2, 339));
        let Ok((_, cancelled)) = &rows[2] else { panic!("cancellation rejected") };
        assert_eq!(cancelled.status, i32::from(OrderStatus::Cancelled));
        assert_eq!((cancelled.quantity, cancelled.customer_id.as_str()), (1, "14527"));
        let Ok((_, anonymous)) = &rows[3] else { panic!("anonymous row rejected") };
        assert_eq!((anonymous.customer_id.as_str(), anonymous.unit_price_minor), ("", 0));
        assert!(matches!(&rows[4], Err(error) if error.field == "UnitPrice" && error.line == 6));
        assert!(matches!(&rows[5], Err(error) if error.field == "InvoiceDate" && error.line == 7));
    }

    #[test]
    fn refuses_a_file_that_is_not_uci() {
        let error = UciRows::new("order_id,placed_at\n".as_bytes()).err().map(|error| error.to_string());
        assert!(error.is_some_and(|error| error.contains("InvoiceNo")));
    }

    #[test]
    fn reads_cdnow_with_and_without_the_sample_id() {
        // The first lines of the 1/10 sample (CRLF and all), then the full
        // file's layout, a same-day repeat and bad rows.
        let text = " 00004 0001 19970101  2   29.33\r\n 00004 0001 19970118  2   29.73\r\n\n\
                    1 19970101 1 11.77\n1 19970101 3 40.10\n2 19971301 1 5.00\n3 19970102 x 5.00\n4 19970102\n";
        let rows = orders(&mut CdnowRows::new(text.as_bytes()));
        let Ok((line, first)) = &rows[0] else { panic!("first row rejected") };
        assert_eq!(*line, 1);
        assert_eq!((first.order_id.as_str(), first.customer_id.as_str()), ("cdnow-00004-19970101-1", "00004"));
        assert_eq!((first.quantity, first.total_minor, first.sku.as_str()), (2, 2933, ""));
        assert_eq!((first.currency_code.as_str(), first.channel), ("USD", i32::from(SalesChannel::Web)));
        assert_eq!(first.place_time.map(|at| at.seconds), Some(852_076_800));
        let Ok((line, full_layout)) = &rows[2] else { panic!("full-file row rejected") };
        assert_eq!((*line, full_layout.order_id.as_str(), full_layout.total_minor), (4, "cdnow-1-19970101-1", 1177));
        let Ok((_, repeat)) = &rows[3] else { panic!("repeat rejected") };
        assert_eq!(repeat.order_id, "cdnow-1-19970101-2");
        let rejected: Vec<(i64, &str)> = rows[4..]
            .iter()
            .filter_map(|row| row.as_ref().err())
            .map(|error| (error.line, error.field.as_str()))
            .collect();
        assert_eq!(rejected, [(6, "date"), (7, "quantity"), (8, "record")]);
    }

    #[test]
    fn reads_the_whole_cdnow_sample() {
        // The reference sample, kept in the project's fixtures.
        let path = concat!(env!("CARGO_MANIFEST_DIR"), "/../../tests/fixtures/cdnow/cdnow_sample_transactions.txt");
        let text = std::fs::read_to_string(path).unwrap_or_else(|error| panic!("{path}: {error}"));
        let rows = orders(&mut CdnowRows::new(text.as_bytes()));
        assert_eq!(rows.len(), 6919);
        let orders: Vec<&OrderRow> = rows
            .iter()
            .map(|row| row.as_ref().map(|(_, order)| order))
            .collect::<Result<_, _>>()
            .unwrap_or_else(|error| panic!("{error:?}"));
        let customers: std::collections::HashSet<&str> =
            orders.iter().map(|order| order.customer_id.as_str()).collect();
        assert_eq!(customers.len(), 2357);
        let ids: std::collections::HashSet<&str> = orders.iter().map(|order| order.order_id.as_str()).collect();
        assert_eq!(ids.len(), 6919, "order ids are unique");
    }
}
