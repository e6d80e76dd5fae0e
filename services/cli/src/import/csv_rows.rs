//! The default CSV layout of `patron import`: a header line naming the
//! columns, then one record per line. Columns are matched to fields by name
//! (case-insensitive, any order); `--map COLUMN=FIELD` renames a source
//! column; columns that name no field are ignored, with a warning. Only the
//! id column (and, for events, the time column) must be present.
//!
//! ```text
//! customers: customer_id,name,email,phone,home_store_id,region,tags,created_at,consents
//!   tags: ";"-separated; consents: "email:granted;sms:denied" (email|sms|phone|push :
//!   granted|denied|revoked)
//! orders:    order_id,customer_id,placed_at,channel,store_id,region,currency,status,
//!            line_number,sku,category,quantity,unit_price,discount,unit_cost,total
//!   one row per order line; a row with an empty sku is a total-only order (its amount in
//!   `total`); channel: store|web|app|marketplace; status: completed|returned|cancelled
//!   (empty: completed); currency: ISO 4217 (empty: USD); line_number: when empty, the
//!   row's position among its order's rows in the file; discount is for the whole line;
//!   unit_cost optional
//! contacts:  contact_id,customer_id,channel,reason,complaint,opened_at,resolved_at
//!   channel: email|phone|chat|social|in_store; complaint: true|false (empty: false)
//! feedback:  feedback_id,customer_id,nps,csat,comment,touchpoint,submitted_at
//!   nps 0-10 or csat 1-5, one of them
//! ```
//!
//! Values: times are RFC 3339 ("2026-03-14T15:04:05Z"), "YYYY-MM-DD HH:MM:SS"
//! (UTC) or "YYYY-MM-DD" (midnight UTC). Money is in major units of the row's
//! currency with a decimal point ("12.50" USD is 1250 cents; JPY has no
//! decimals), converted exactly. Text is sent verbatim; numbers, times and
//! codes may carry surrounding spaces. An empty value is an unset field.

use std::collections::HashMap;
use std::io::Read;
use std::str::FromStr;

use anyhow::{Context, bail, ensure};
use csv::ByteRecord;
use patron_proto::profile::v1::{
    Consent, ConsentChannel, ConsentState, ContactChannel, Customer, Feedback, ImportRow, OrderRow, OrderStatus,
    SalesChannel, SupportContact, feedback::Score, import_row::Record,
};

use super::dates::parse_instant;
use super::money;
use super::quotes::QuoteWatch;
use super::rows::{Kind, LineNumbers, Parsed, RowError, RowSource};

pub const CUSTOMER_FIELDS: [&str; 9] =
    ["customer_id", "name", "email", "phone", "home_store_id", "region", "tags", "created_at", "consents"];
pub const ORDER_FIELDS: [&str; 16] = [
    "order_id",
    "customer_id",
    "placed_at",
    "channel",
    "store_id",
    "region",
    "currency",
    "status",
    "line_number",
    "sku",
    "category",
    "quantity",
    "unit_price",
    "discount",
    "unit_cost",
    "total",
];
pub const CONTACT_FIELDS: [&str; 7] =
    ["contact_id", "customer_id", "channel", "reason", "complaint", "opened_at", "resolved_at"];
pub const FEEDBACK_FIELDS: [&str; 7] =
    ["feedback_id", "customer_id", "nps", "csat", "comment", "touchpoint", "submitted_at"];

/// The currency of order rows whose currency column is absent or empty.
pub const DEFAULT_CURRENCY: &str = "USD";

/// The layout, for `patron import --help`.
pub const HEADER_HELP: &str = "\
Default CSV header (columns in any order, names case-insensitive; rename others with --map COLUMN=FIELD):
  customers: customer_id,name,email,phone,home_store_id,region,tags,created_at,consents
             tags \";\"-separated; consents like \"email:granted;sms:denied\"
  orders:    order_id,customer_id,placed_at,channel,store_id,region,currency,status,
             line_number,sku,category,quantity,unit_price,discount,unit_cost,total
             one row per order line; empty sku = total-only order (amount in total);
             channel store|web|app|marketplace; status completed|returned|cancelled;
             currency default USD; empty line_number = position within the order in the file
  contacts:  contact_id,customer_id,channel,reason,complaint,opened_at,resolved_at
             channel email|phone|chat|social|in_store; complaint true|false
  feedback:  feedback_id,customer_id,nps,csat,comment,touchpoint,submitted_at
             nps 0-10 or csat 1-5
Times: RFC 3339, \"YYYY-MM-DD HH:MM:SS\" (UTC) or YYYY-MM-DD. Money: major units, e.g. 12.50 (exact).
Presets (--preset, orders only): uci = UCI Online Retail columns; cdnow = CDNOW whitespace-separated text.";

/// The column a server-side field name stands for: the server names the
/// contract's fields ("place_time", "unit_price_minor"), the file has columns.
pub fn column_of(server_field: &str) -> &str {
    const RENAMED: [(&str, &str); 10] = [
        ("place_time", "placed_at"),
        ("currency_code", "currency"),
        ("unit_price_minor", "unit_price"),
        ("discount_minor", "discount"),
        ("unit_cost_minor", "unit_cost"),
        ("total_minor", "total"),
        ("create_time", "created_at"),
        ("open_time", "opened_at"),
        ("resolve_time", "resolved_at"),
        ("submit_time", "submitted_at"),
    ];
    RENAMED.iter().find(|(contract, _)| *contract == server_field).map_or(server_field, |(_, column)| column)
}

pub fn fields(kind: Kind) -> &'static [&'static str] {
    match kind {
        Kind::Customers => &CUSTOMER_FIELDS,
        Kind::Orders => &ORDER_FIELDS,
        Kind::Contacts => &CONTACT_FIELDS,
        Kind::Feedback => &FEEDBACK_FIELDS,
    }
}

/// Columns without which no row of the file could be valid.
fn required_fields(kind: Kind) -> &'static [&'static str] {
    match kind {
        Kind::Customers => &["customer_id"],
        Kind::Orders => &["order_id", "placed_at"],
        Kind::Contacts => &["contact_id", "opened_at"],
        Kind::Feedback => &["feedback_id", "submitted_at"],
    }
}

/// Where each field sits in the file's records.
#[derive(Debug)]
struct Columns {
    position: HashMap<&'static str, usize>,
    width: usize,
}

/// Rows of a CSV file with the default header (after `--map`).
pub struct CsvRows<R> {
    kind: Kind,
    reader: csv::Reader<QuoteWatch<R>>,
    columns: Columns,
    record: ByteRecord,
    line_numbers: LineNumbers,
    ignored_columns: Vec<String>,
}

impl<R: Read> CsvRows<R> {
    /// Reads the header line and matches it to the kind's fields; `mapping`
    /// holds `--map` pairs (source column, field).
    pub fn new(input: R, kind: Kind, mapping: &[(String, String)]) -> anyhow::Result<Self> {
        let mut reader = csv::ReaderBuilder::new().flexible(true).from_reader(QuoteWatch::new(input));
        let header = reader.byte_headers().context("reading the header line")?.clone();
        let (columns, ignored_columns) = match_columns(&header, kind, mapping)?;
        Ok(Self {
            kind,
            reader,
            columns,
            record: ByteRecord::new(),
            line_numbers: LineNumbers::default(),
            ignored_columns,
        })
    }

    /// Source columns that match no field (after `--map`).
    pub fn ignored_columns(&self) -> &[String] {
        &self.ignored_columns
    }
}

impl<R: Read + Send> RowSource for CsvRows<R> {
    fn next_row(&mut self) -> anyhow::Result<Option<Parsed>> {
        if !self.reader.read_byte_record(&mut self.record).context("reading the file")? {
            return Ok(None);
        }
        let line = self.record.position().map_or(0, |position| i64::try_from(position.line()).unwrap_or(i64::MAX));
        let unclosed = self.reader.get_ref().unclosed_quote().and_then(|opened| i64::try_from(opened).ok());
        // Line breaks outside quotes end a record, so each one inside a value is a line the record spans;
        // in a file that ends inside a quote, the file's own last line break is inside the value too.
        let breaks = self.record.iter().map(|value| value.iter().filter(|&&byte| byte == b'\n').count()).sum::<usize>();
        let final_break =
            unclosed.is_some() && self.record.iter().next_back().is_some_and(|value| value.ends_with(b"\n"));
        let last_line = line.saturating_add(i64::try_from(breaks - usize::from(final_break)).unwrap_or(i64::MAX));
        if self.record.len() != self.columns.width {
            let mut reason = format!("has {} columns but the header has {}", self.record.len(), self.columns.width);
            if last_line > line {
                reason = format!("{reason}; it runs from line {line} to line {last_line}: is a quote left open?");
            }
            return Ok(Some(Parsed::Rejected(RowError::new(line, "record", reason))));
        }
        if let Some(opened) = unclosed.filter(|opened| (line..=last_line).contains(opened) && last_line > line) {
            let reason = format!(
                "a quote opened on line {opened} is never closed, so lines {line} to {last_line} were read as one \
                 row; close the quote and import the file again"
            );
            return Ok(Some(Parsed::Rejected(RowError::new(line, "record", reason))));
        }
        let row = Fields { record: &self.record, columns: &self.columns, line };
        let record = match self.kind {
            Kind::Customers => customer(&row).map(Record::Customer),
            Kind::Orders => order(&row, &mut self.line_numbers).map(Record::Order),
            Kind::Contacts => contact(&row).map(Record::Contact),
            Kind::Feedback => feedback(&row).map(Record::Feedback),
        };
        Ok(Some(match record {
            Ok(record) => Parsed::Row(ImportRow { line, record: Some(record) }),
            Err(error) => Parsed::Rejected(error),
        }))
    }

    fn bytes_read(&self) -> u64 {
        self.reader.position().byte()
    }
}

fn match_columns(
    header: &ByteRecord,
    kind: Kind,
    mapping: &[(String, String)],
) -> anyhow::Result<(Columns, Vec<String>)> {
    let fields = fields(kind);
    let names: Vec<String> = header
        .iter()
        .map(|name| String::from_utf8_lossy(name).trim_start_matches('\u{feff}').trim().to_owned())
        .collect();
    for (column, field) in mapping {
        ensure!(
            fields.contains(&field.as_str()),
            "--map {column}={field}: {} have no field {field:?}; the fields are {}",
            kind.name(),
            fields.join(",")
        );
        ensure!(names.contains(column), "--map {column}={field}: the header has no column {column:?}");
    }
    let mut position = HashMap::new();
    let mut ignored = Vec::new();
    for (index, name) in names.iter().enumerate() {
        let target = mapping.iter().find(|(column, _)| column == name).map_or(name.as_str(), |(_, field)| field);
        match fields.iter().find(|field| field.eq_ignore_ascii_case(target)) {
            Some(field) => {
                if position.insert(*field, index).is_some() {
                    bail!("two columns of the header give the field {field}");
                }
            }
            None => ignored.push(name.clone()),
        }
    }
    for field in required_fields(kind) {
        ensure!(
            position.contains_key(field),
            "the header has no {field} column (name one so, or use --map COLUMN={field}); found: {}",
            names.join(",")
        );
    }
    Ok((Columns { position, width: names.len() }, ignored))
}

/// One record's values, by field name.
struct Fields<'a> {
    record: &'a ByteRecord,
    columns: &'a Columns,
    line: i64,
}

impl<'a> Fields<'a> {
    /// The verbatim text of `field`; empty when the file has no such column.
    fn text(&self, field: &'static str) -> Result<&'a str, RowError> {
        let Some(&position) = self.columns.position.get(field) else { return Ok("") };
        let bytes = self.record.get(position).unwrap_or_default();
        std::str::from_utf8(bytes).map_err(|_| self.error(field, "is not valid UTF-8; save the file as UTF-8"))
    }

    fn owned(&self, field: &'static str) -> Result<String, RowError> {
        self.text(field).map(str::to_owned)
    }

    /// A value to parse, without surrounding spaces; `None` when empty.
    fn value<T>(
        &self,
        field: &'static str,
        parse: impl FnOnce(&str) -> Result<T, String>,
    ) -> Result<Option<T>, RowError> {
        let text = self.text(field)?.trim();
        if text.is_empty() {
            return Ok(None);
        }
        parse(text).map(Some).map_err(|reason| self.error(field, reason))
    }

    fn error(&self, field: &str, reason: impl Into<String>) -> RowError {
        RowError::new(self.line, field, reason)
    }
}

fn customer(row: &Fields) -> Result<Customer, RowError> {
    Ok(Customer {
        customer_id: row.owned("customer_id")?,
        name: row.owned("name")?,
        email: row.owned("email")?,
        phone: row.owned("phone")?,
        home_store_id: row.owned("home_store_id")?,
        region: row.owned("region")?,
        tags: row.text("tags")?.split(';').map(str::trim).filter(|tag| !tag.is_empty()).map(str::to_owned).collect(),
        consents: row.value("consents", consents)?.unwrap_or_default(),
        create_time: row.value("created_at", parse_instant)?,
        ..Customer::default()
    })
}

fn order(row: &Fields, line_numbers: &mut LineNumbers) -> Result<OrderRow, RowError> {
    let order_id = row.owned("order_id")?;
    let sku = row.owned("sku")?;
    // The row's position within its order, for files without line numbers.
    let position = if sku.is_empty() { 0 } else { line_numbers.next(&order_id) };
    let line_number = row.value("line_number", integer)?.unwrap_or(position);
    let currency_code = match row.text("currency")?.trim() {
        "" => DEFAULT_CURRENCY.to_owned(),
        code => code.to_owned(),
    };
    let amount = |field| row.value(field, |text| money::to_minor(text, &currency_code));
    Ok(OrderRow {
        customer_id: row.owned("customer_id")?,
        place_time: row.value("placed_at", parse_instant)?,
        channel: row.value("channel", sales_channel)?.map_or(0, i32::from),
        store_id: row.owned("store_id")?,
        region: row.owned("region")?,
        status: row.value("status", order_status)?.map_or(0, i32::from),
        line_number,
        category: row.owned("category")?,
        quantity: row.value("quantity", integer)?.unwrap_or(0),
        unit_price_minor: amount("unit_price")?.unwrap_or(0),
        discount_minor: amount("discount")?.unwrap_or(0),
        unit_cost_minor: amount("unit_cost")?,
        total_minor: amount("total")?.unwrap_or(0),
        order_id,
        sku,
        currency_code,
    })
}

fn contact(row: &Fields) -> Result<SupportContact, RowError> {
    Ok(SupportContact {
        contact_id: row.owned("contact_id")?,
        customer_id: row.owned("customer_id")?,
        channel: row.value("channel", contact_channel)?.map_or(0, i32::from),
        reason: row.owned("reason")?,
        complaint: row.value("complaint", boolean)?.unwrap_or(false),
        open_time: row.value("opened_at", parse_instant)?,
        resolve_time: row.value("resolved_at", parse_instant)?,
    })
}

fn feedback(row: &Fields) -> Result<Feedback, RowError> {
    let score = match (row.value("nps", integer)?, row.value("csat", integer)?) {
        (Some(nps), None) => Some(Score::Nps(nps)),
        (None, Some(csat)) => Some(Score::Csat(csat)),
        (None, None) => None,
        (Some(_), Some(_)) => return Err(row.error("csat", "give nps or csat, not both")),
    };
    Ok(Feedback {
        feedback_id: row.owned("feedback_id")?,
        customer_id: row.owned("customer_id")?,
        score,
        comment: row.owned("comment")?,
        touchpoint: row.owned("touchpoint")?,
        submit_time: row.value("submitted_at", parse_instant)?,
    })
}

fn integer<T: FromStr>(text: &str) -> Result<T, String> {
    text.parse().map_err(|_| format!("{text:?} is not a whole number"))
}

fn boolean(text: &str) -> Result<bool, String> {
    choose(text, &[("true", true), ("false", false), ("yes", true), ("no", false), ("1", true), ("0", false)])
}

pub fn sales_channel(text: &str) -> Result<SalesChannel, String> {
    choose(
        text,
        &[
            ("store", SalesChannel::Store),
            ("web", SalesChannel::Web),
            ("app", SalesChannel::App),
            ("marketplace", SalesChannel::Marketplace),
        ],
    )
}

fn order_status(text: &str) -> Result<OrderStatus, String> {
    choose(
        text,
        &[
            ("completed", OrderStatus::Completed),
            ("returned", OrderStatus::Returned),
            ("cancelled", OrderStatus::Cancelled),
            ("canceled", OrderStatus::Cancelled),
        ],
    )
}

fn contact_channel(text: &str) -> Result<ContactChannel, String> {
    choose(
        text,
        &[
            ("email", ContactChannel::Email),
            ("phone", ContactChannel::Phone),
            ("chat", ContactChannel::Chat),
            ("social", ContactChannel::Social),
            ("in_store", ContactChannel::InStore),
            ("in-store", ContactChannel::InStore),
        ],
    )
}

/// "email:granted;sms:denied" into one consent per channel.
fn consents(text: &str) -> Result<Vec<Consent>, String> {
    let channels = [
        ("email", ConsentChannel::Email),
        ("sms", ConsentChannel::Sms),
        ("phone", ConsentChannel::Phone),
        ("push", ConsentChannel::Push),
    ];
    let states =
        [("granted", ConsentState::Granted), ("denied", ConsentState::Denied), ("revoked", ConsentState::Revoked)];
    text.split(';')
        .map(str::trim)
        .filter(|entry| !entry.is_empty())
        .map(|entry| {
            let (channel, state) =
                entry.split_once(':').ok_or_else(|| format!("{entry:?} is not CHANNEL:STATE, e.g. email:granted"))?;
            Ok(Consent {
                channel: choose(channel.trim(), &channels)?.into(),
                state: choose(state.trim(), &states)?.into(),
                update_time: None,
            })
        })
        .collect()
}

/// One of a fixed set of case-insensitive names.
fn choose<T: Copy>(text: &str, options: &[(&str, T)]) -> Result<T, String> {
    options.iter().find(|(name, _)| name.eq_ignore_ascii_case(text)).map(|&(_, value)| value).ok_or_else(|| {
        let names: Vec<&str> = options.iter().map(|(name, _)| *name).collect();
        format!("{text:?} is not one of {}", names.join(", "))
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse_all(kind: Kind, mapping: &[(&str, &str)], text: &str) -> Vec<Parsed> {
        let mapping: Vec<(String, String)> =
            mapping.iter().map(|(column, field)| ((*column).to_owned(), (*field).to_owned())).collect();
        let mut rows = CsvRows::new(text.as_bytes(), kind, &mapping).unwrap_or_else(|error| panic!("{error:#}"));
        std::iter::from_fn(|| rows.next_row().unwrap_or_else(|error| panic!("{error:#}"))).collect()
    }

    fn record(parsed: &Parsed) -> (i64, &Record) {
        match parsed {
            Parsed::Row(ImportRow { line, record: Some(record) }) => (*line, record),
            other => panic!("not a record: {other:?}"),
        }
    }

    #[test]
    fn reads_orders_with_the_default_header() {
        let rows = parse_all(
            Kind::Orders,
            &[],
            "order_id,customer_id,placed_at,channel,store_id,region,currency,status,line_number,sku,category,quantity,unit_price,discount,unit_cost,total\n\
             o-1,c-1,2026-03-14T15:04:05Z,store,s-1,north,USD,completed,1,sku-1,shoes,2,12.50,1.00,6.25,\n\
             o-1,c-1,2026-03-14T15:04:05Z,store,s-1,north,USD,completed,,sku-2,socks,1,3,,,\n\
             o-2,,2026-03-15,Web,,south,JPY,returned,,,,,,,,1500\n",
        );
        assert_eq!(rows.len(), 3);
        let (line, Record::Order(first)) = record(&rows[0]) else { panic!("not an order") };
        assert_eq!(line, 2);
        assert_eq!(first.order_id, "o-1");
        assert_eq!(first.channel, i32::from(SalesChannel::Store));
        assert_eq!(first.status, i32::from(OrderStatus::Completed));
        assert_eq!((first.quantity, first.unit_price_minor, first.discount_minor), (2, 1250, 100));
        assert_eq!(first.unit_cost_minor, Some(625));
        assert_eq!(first.place_time.map(|at| at.seconds), Some(1_773_500_645));
        let (_, Record::Order(second)) = record(&rows[1]) else { panic!("not an order") };
        // No line number given: the second line of o-1 in the file.
        assert_eq!((second.line_number, second.unit_price_minor, second.unit_cost_minor), (2, 300, None));
        let (line, Record::Order(total_only)) = record(&rows[2]) else { panic!("not an order") };
        assert_eq!(line, 4);
        assert_eq!((total_only.sku.as_str(), total_only.line_number, total_only.total_minor), ("", 0, 1500));
        assert_eq!(total_only.status, i32::from(OrderStatus::Returned));
        assert_eq!(total_only.channel, i32::from(SalesChannel::Web));
    }

    #[test]
    fn reads_customers_contacts_and_feedback() {
        let rows = parse_all(
            Kind::Customers,
            &[],
            "customer_id,name,email,phone,home_store_id,region,tags,created_at,consents\n\
             c-1,\"Lovelace, Ada\",ada@example.com,+15550100,s-1,north,vip; loyalty ;,2025-01-02,email:granted;SMS:denied\n",
        );
        let (_, Record::Customer(customer)) = record(&rows[0]) else { panic!("not a customer") };
        assert_eq!(customer.name, "Lovelace, Ada");
        assert_eq!(customer.tags, ["vip", "loyalty"]);
        assert_eq!(customer.consents.len(), 2);
        assert_eq!(customer.consents[1].channel, i32::from(ConsentChannel::Sms));
        assert_eq!(customer.consents[1].state, i32::from(ConsentState::Denied));
        assert!(customer.create_time.is_some());

        let rows = parse_all(
            Kind::Contacts,
            &[],
            "contact_id,customer_id,channel,reason,complaint,opened_at,resolved_at\n\
             t-1,c-1,in_store,late_delivery,true,2026-01-01T10:00:00Z,\n",
        );
        let (_, Record::Contact(contact)) = record(&rows[0]) else { panic!("not a contact") };
        assert!(contact.complaint);
        assert_eq!(contact.channel, i32::from(ContactChannel::InStore));
        assert!(contact.resolve_time.is_none());

        let rows = parse_all(
            Kind::Feedback,
            &[],
            "feedback_id,customer_id,nps,csat,comment,touchpoint,submitted_at\n\
             f-1,c-1,9,,\"Great, \"\"really\"\"\",email,2026-01-01\n\
             f-2,c-1,,4,,support,2026-01-02\n",
        );
        let (_, Record::Feedback(first)) = record(&rows[0]) else { panic!("not feedback") };
        assert_eq!((first.score, first.comment.as_str()), (Some(Score::Nps(9)), "Great, \"really\""));
        let (_, Record::Feedback(second)) = record(&rows[1]) else { panic!("not feedback") };
        assert_eq!(second.score, Some(Score::Csat(4)));
    }

    #[test]
    fn maps_other_column_names_and_ignores_unknown_ones() {
        let mapping = [("Order No", "order_id"), ("When", "placed_at"), ("Price", "unit_price")];
        let text = "Order No,When,SKU,Quantity,Price,Note\nA-7,2026-02-01,x,3,0.99,hello\n";
        let mut rows = CsvRows::new(text.as_bytes(), Kind::Orders, &mapping.map(|(c, f)| (c.to_owned(), f.to_owned())))
            .unwrap_or_else(|error| panic!("{error:#}"));
        assert_eq!(rows.ignored_columns(), ["Note"]);
        let Some(Parsed::Row(row)) = rows.next_row().ok().flatten() else { panic!("no row") };
        let Some(Record::Order(order)) = row.record else { panic!("not an order") };
        assert_eq!((order.order_id.as_str(), order.sku.as_str()), ("A-7", "x"));
        assert_eq!((order.quantity, order.unit_price_minor, order.line_number), (3, 99, 1));
    }

    #[test]
    fn refuses_headers_it_cannot_use() {
        let open = |text: &str, mapping: &[(&str, &str)]| {
            let mapping: Vec<(String, String)> =
                mapping.iter().map(|(c, f)| ((*c).to_owned(), (*f).to_owned())).collect();
            CsvRows::new(text.as_bytes(), Kind::Orders, &mapping).err().map(|error| error.to_string())
        };
        assert!(open("order_id,sku\n", &[]).is_some_and(|error| error.contains("placed_at")));
        assert!(open("order_id,placed_at\n", &[("nope", "sku")]).is_some_and(|error| error.contains("no column")));
        assert!(
            open("order_id,placed_at\n", &[("order_id", "colour")]).is_some_and(|error| error.contains("no field"))
        );
        assert!(open("order_id,placed_at,sku,SKU\n", &[]).is_some_and(|error| error.contains("two columns")));
        assert!(open("\u{feff}Order_ID,Placed_At\n", &[]).is_none());
    }

    #[test]
    fn rejects_unparseable_values_with_line_and_field() {
        let rows = parse_all(
            Kind::Orders,
            &[],
            "order_id,placed_at,channel,quantity,unit_price,currency\n\
             o-1,2026-13-01,store,1,1.00,\n\
             o-2,2026-01-01,store,one,1.00,\n\
             o-3,2026-01-01,store,1,1.001,\n\
             o-4,2026-01-01,shop,1,1.00,\n\
             o-5,2026-01-01,store,1\n\
             o-6,2026-01-01,,-1,1.00,XYZ\n",
        );
        let rejected: Vec<(i64, &str)> = rows
            .iter()
            .filter_map(|parsed| match parsed {
                Parsed::Rejected(error) => Some((error.line, error.field.as_str())),
                Parsed::Row(_) => None,
            })
            .collect();
        assert_eq!(rejected, [(2, "placed_at"), (3, "quantity"), (4, "unit_price"), (5, "channel"), (6, "record")]);
        // Empty or out-of-range values are the server's to judge: the row is sent.
        let (line, Record::Order(last)) = record(&rows[5]) else { panic!("not an order") };
        assert_eq!((line, last.channel, last.quantity, last.currency_code.as_str()), (7, 0, -1, "XYZ"));
    }

    #[test]
    fn rejects_both_scores_and_bad_consents() {
        let rows = parse_all(
            Kind::Feedback,
            &[],
            "feedback_id,nps,csat,submitted_at\nf-1,9,4,2026-01-01\nf-2,11,,2026-01-01\n",
        );
        assert!(matches!(&rows[0], Parsed::Rejected(error) if error.field == "csat"));
        assert!(matches!(&rows[1], Parsed::Row(_)), "out-of-range scores are the server's to reject");
        let rows = parse_all(Kind::Customers, &[], "customer_id,consents\nc-1,email=yes\nc-2,fax:granted\n");
        assert!(rows.iter().all(|parsed| matches!(parsed, Parsed::Rejected(error) if error.field == "consents")));
    }

    #[test]
    fn names_server_fields_as_columns() {
        assert_eq!(column_of("place_time"), "placed_at");
        assert_eq!(column_of("unit_price_minor"), "unit_price");
        assert_eq!(column_of("quantity"), "quantity");
        assert_eq!(column_of("consents[0].state"), "consents[0].state");
    }

    #[test]
    fn help_names_every_field() {
        // The help wraps long headers; compare without the wrapping.
        let help: String = HEADER_HELP.split_whitespace().collect();
        for kind in [Kind::Customers, Kind::Orders, Kind::Contacts, Kind::Feedback] {
            let listed = fields(kind).join(",");
            assert!(help.contains(&listed), "--help does not list {listed}");
        }
    }
}
