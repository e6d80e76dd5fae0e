//! The demo data set as CSV files. The four importable files use the import's
//! default header (the same field lists), so `patron import` reads them as
//! they are; carts, exposures and the simulation's ground truth use headers
//! of their own. Money is in major units, times are RFC 3339 UTC.

use std::fs::File;
use std::io::{BufWriter, Write};
use std::path::Path;

use anyhow::Context;
use chrono::{DateTime, SecondsFormat, Utc};
use patron_proto::profile::v1::{CartEventType, ContactChannel, OrderStatus, SalesChannel, feedback::Score};

use super::records::{Dataset, Truth};
use crate::import::csv_rows::{CONTACT_FIELDS, CUSTOMER_FIELDS, FEEDBACK_FIELDS, ORDER_FIELDS};
use crate::import::money::to_major;

const CURRENCY: &str = "USD";
const CART_FIELDS: [&str; 8] =
    ["event_id", "cart_id", "customer_id", "type", "event_time", "value", "currency", "order_id"];
const EXPOSURE_FIELDS: [&str; 5] = ["exposure_id", "campaign_id", "variant", "customer_id", "exposed_at"];
const TRUTH_FIELDS: [&str; 7] = [
    "customer_id",
    "purchase_rate_per_day",
    "dropout_probability",
    "satisfaction",
    "complaints",
    "first_complaint_at",
    "dropped_out_at",
];

/// One output file.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Table {
    Customers,
    Orders,
    Contacts,
    Feedback,
    Carts,
    Exposures,
    Truth,
}

impl Table {
    pub const ALL: [Table; 7] = [
        Table::Customers,
        Table::Orders,
        Table::Contacts,
        Table::Feedback,
        Table::Carts,
        Table::Exposures,
        Table::Truth,
    ];

    pub fn file_name(self) -> &'static str {
        match self {
            Table::Customers => "customers.csv",
            Table::Orders => "orders.csv",
            Table::Contacts => "contacts.csv",
            Table::Feedback => "feedback.csv",
            Table::Carts => "carts.csv",
            Table::Exposures => "exposures.csv",
            Table::Truth => "truth.csv",
        }
    }

    /// Writes the table with its header; returns the number of data rows.
    pub fn write<W: Write>(self, dataset: &Dataset, out: W) -> csv::Result<usize> {
        let mut out = csv::Writer::from_writer(out);
        let rows = match self {
            Table::Customers => customers(dataset, &mut out)?,
            Table::Orders => orders(dataset, &mut out)?,
            Table::Contacts => contacts(dataset, &mut out)?,
            Table::Feedback => feedback(dataset, &mut out)?,
            Table::Carts => carts(dataset, &mut out)?,
            Table::Exposures => exposures(dataset, &mut out)?,
            Table::Truth => truth(dataset, &mut out)?,
        };
        out.flush()?;
        Ok(rows)
    }
}

/// Writes every table into `dir` (created if missing); returns the rows per file.
pub fn write_all(dataset: &Dataset, dir: &Path) -> anyhow::Result<Vec<(Table, usize)>> {
    std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
    Table::ALL
        .iter()
        .map(|&table| {
            let path = dir.join(table.file_name());
            let file = File::create(&path).with_context(|| format!("creating {}", path.display()))?;
            let rows =
                table.write(dataset, BufWriter::new(file)).with_context(|| format!("writing {}", path.display()))?;
            Ok((table, rows))
        })
        .collect()
}

fn customers<W: Write>(dataset: &Dataset, out: &mut csv::Writer<W>) -> csv::Result<usize> {
    out.write_record(CUSTOMER_FIELDS)?;
    for customer in &dataset.customers {
        let consents: Vec<String> =
            customer.consents.iter().map(|(channel, state)| format!("{channel}:{state}")).collect();
        out.write_record([
            customer.id.as_str(),
            &customer.name,
            &customer.email,
            &customer.phone,
            dataset.catalog.stores[customer.home_store].id,
            customer.region,
            &customer.tags.join(";"),
            &time(customer.created_at),
            &consents.join(";"),
        ])?;
    }
    Ok(dataset.customers.len())
}

/// One row per order line.
fn orders<W: Write>(dataset: &Dataset, out: &mut csv::Writer<W>) -> csv::Result<usize> {
    out.write_record(ORDER_FIELDS)?;
    let mut rows = 0;
    for order in &dataset.orders {
        let customer_id = &dataset.customers[order.customer].id;
        let placed_at = time(order.placed_at);
        for (number, line) in order.lines.iter().enumerate() {
            let sku = &dataset.catalog.skus[line.sku];
            out.write_record([
                order.id.as_str(),
                customer_id,
                &placed_at,
                sales_channel(order.channel),
                order.store_id,
                order.region,
                CURRENCY,
                order_status(order.status),
                &(number + 1).to_string(),
                &sku.id,
                sku.category,
                &line.quantity.to_string(),
                &to_major(line.unit_price_minor, CURRENCY),
                &to_major(line.discount_minor, CURRENCY),
                &to_major(line.unit_cost_minor, CURRENCY),
                // Lines carry no total; the server sums them.
                "",
            ])?;
            rows += 1;
        }
    }
    Ok(rows)
}

fn contacts<W: Write>(dataset: &Dataset, out: &mut csv::Writer<W>) -> csv::Result<usize> {
    out.write_record(CONTACT_FIELDS)?;
    for contact in &dataset.contacts {
        out.write_record([
            contact.id.as_str(),
            &dataset.customers[contact.customer].id,
            contact_channel(contact.channel),
            contact.reason,
            if contact.complaint { "true" } else { "false" },
            &time(contact.opened_at),
            &contact.resolved_at.map(time).unwrap_or_default(),
        ])?;
    }
    Ok(dataset.contacts.len())
}

fn feedback<W: Write>(dataset: &Dataset, out: &mut csv::Writer<W>) -> csv::Result<usize> {
    out.write_record(FEEDBACK_FIELDS)?;
    for answer in &dataset.answers {
        let (nps, csat) = match answer.score {
            Score::Nps(score) => (score.to_string(), String::new()),
            Score::Csat(score) => (String::new(), score.to_string()),
        };
        out.write_record([
            answer.id.as_str(),
            &dataset.customers[answer.customer].id,
            &nps,
            &csat,
            answer.comment,
            answer.touchpoint,
            &time(answer.submitted_at),
        ])?;
    }
    Ok(dataset.answers.len())
}

fn carts<W: Write>(dataset: &Dataset, out: &mut csv::Writer<W>) -> csv::Result<usize> {
    out.write_record(CART_FIELDS)?;
    let mut rows = 0;
    for cart in &dataset.carts {
        for (number, step) in cart.events.iter().enumerate() {
            let order_id = step.order.and_then(|order| dataset.orders.get(order)).map_or("", |order| order.id.as_str());
            out.write_record([
                format!("{}-{}", cart.id, number + 1).as_str(),
                &cart.id,
                &dataset.customers[cart.customer].id,
                cart_event(step.kind),
                &time(step.at),
                &to_major(step.value_minor, CURRENCY),
                CURRENCY,
                order_id,
            ])?;
            rows += 1;
        }
    }
    Ok(rows)
}

fn exposures<W: Write>(dataset: &Dataset, out: &mut csv::Writer<W>) -> csv::Result<usize> {
    out.write_record(EXPOSURE_FIELDS)?;
    for exposure in &dataset.exposures {
        out.write_record([
            exposure.id.as_str(),
            &dataset.campaign_id,
            exposure.variant,
            &dataset.customers[exposure.customer].id,
            &time(exposure.exposed_at),
        ])?;
    }
    Ok(dataset.exposures.len())
}

fn truth<W: Write>(dataset: &Dataset, out: &mut csv::Writer<W>) -> csv::Result<usize> {
    out.write_record(TRUTH_FIELDS)?;
    for customer in &dataset.customers {
        let Truth { purchase_rate, dropout_probability, satisfaction, complaints, first_complaint_at, dropped_out_at } =
            customer.truth;
        out.write_record([
            customer.id.as_str(),
            &format!("{purchase_rate:.6}"),
            &format!("{dropout_probability:.6}"),
            &format!("{satisfaction:.4}"),
            &complaints.to_string(),
            &first_complaint_at.map(time).unwrap_or_default(),
            &dropped_out_at.map(time).unwrap_or_default(),
        ])?;
    }
    Ok(dataset.customers.len())
}

fn time(at: DateTime<Utc>) -> String {
    at.to_rfc3339_opts(SecondsFormat::Secs, true)
}

fn sales_channel(channel: SalesChannel) -> &'static str {
    match channel {
        SalesChannel::Store | SalesChannel::Unspecified => "store",
        SalesChannel::Web => "web",
        SalesChannel::App => "app",
        SalesChannel::Marketplace => "marketplace",
    }
}

fn order_status(status: OrderStatus) -> &'static str {
    match status {
        OrderStatus::Completed | OrderStatus::Unspecified => "completed",
        OrderStatus::Returned => "returned",
        OrderStatus::Cancelled => "cancelled",
    }
}

fn contact_channel(channel: ContactChannel) -> &'static str {
    match channel {
        ContactChannel::Email | ContactChannel::Unspecified => "email",
        ContactChannel::Phone => "phone",
        ContactChannel::Chat => "chat",
        ContactChannel::Social => "social",
        ContactChannel::InStore => "in_store",
    }
}

fn cart_event(kind: CartEventType) -> &'static str {
    match kind {
        CartEventType::Created | CartEventType::Unspecified => "created",
        CartEventType::Updated => "updated",
        CartEventType::Converted => "converted",
    }
}

#[cfg(test)]
mod tests {
    use chrono::NaiveDate;
    use patron_proto::profile::v1::import_row::Record;

    use super::*;
    use crate::demo::model::generate;
    use crate::demo::records::DemoConfig;
    use crate::import::csv_rows::CsvRows;
    use crate::import::rows::{Kind, Parsed, RowSource};

    fn dataset(seed: u64) -> Dataset {
        let end = NaiveDate::from_ymd_opt(2026, 11, 1).unwrap_or_default();
        generate(&DemoConfig { customers: 400, days: 365, seed, end }).unwrap_or_else(|error| panic!("{error:#}"))
    }

    fn csv_bytes(dataset: &Dataset, table: Table) -> Vec<u8> {
        let mut bytes = Vec::new();
        table.write(dataset, &mut bytes).unwrap_or_else(|error| panic!("{error}"));
        bytes
    }

    #[test]
    fn the_same_seed_writes_the_same_files() {
        let (first, again, other) = (dataset(11), dataset(11), dataset(12));
        for table in Table::ALL {
            assert_eq!(csv_bytes(&first, table), csv_bytes(&again, table), "{} differs", table.file_name());
        }
        assert_ne!(csv_bytes(&first, Table::Orders), csv_bytes(&other, Table::Orders));
    }

    /// Every row the demo writes goes through the importer's parsing without
    /// a client-side rejection, and obeys the server's rules.
    #[test]
    fn every_importable_row_parses_as_the_importer_reads_it() {
        let dataset = dataset(5);
        let end = NaiveDate::from_ymd_opt(2026, 11, 1).and_then(|day| day.and_hms_opt(0, 0, 0)).map(|at| at.and_utc());
        let end_seconds = end.map_or(0, |at| at.timestamp());
        let tables = [
            (Table::Customers, Kind::Customers),
            (Table::Orders, Kind::Orders),
            (Table::Contacts, Kind::Contacts),
            (Table::Feedback, Kind::Feedback),
        ];
        for (table, kind) in tables {
            let bytes = csv_bytes(&dataset, table);
            let mut rows = CsvRows::new(bytes.as_slice(), kind, &[]).unwrap_or_else(|error| panic!("{error:#}"));
            assert!(rows.ignored_columns().is_empty());
            let mut count = 0;
            while let Some(parsed) = rows.next_row().unwrap_or_else(|error| panic!("{error:#}")) {
                let row = match parsed {
                    Parsed::Row(row) => row,
                    Parsed::Rejected(error) => panic!("{}: {error:?}", table.file_name()),
                };
                count += 1;
                assert_eq!(row.line, count + 1, "one line per row after the header");
                let before_end = |at: &Option<prost_types::Timestamp>| at.is_some_and(|at| at.seconds < end_seconds);
                match row.record {
                    Some(Record::Customer(customer)) => {
                        assert!(customer.email.ends_with("@example.com") && customer.phone.starts_with("+1555"));
                        assert!(!customer.consents.is_empty() && before_end(&customer.create_time));
                    }
                    Some(Record::Order(order)) => {
                        assert!(order.quantity > 0 && order.unit_price_minor > 0 && order.line_number >= 1);
                        assert!((0..=order.quantity * order.unit_price_minor).contains(&order.discount_minor));
                        assert!(order.unit_cost_minor.is_some_and(|cost| cost < order.unit_price_minor));
                        assert!(order.channel > 0 && order.status > 0 && !order.sku.is_empty());
                        assert!(order.currency_code == "USD" && before_end(&order.place_time));
                    }
                    Some(Record::Contact(contact)) => {
                        assert!(contact.channel > 0 && !contact.reason.is_empty() && before_end(&contact.open_time));
                        let opened = contact.open_time.map_or(0, |at| at.seconds);
                        assert!(contact.resolve_time.is_none_or(|at| at.seconds >= opened && at.seconds < end_seconds));
                    }
                    Some(Record::Feedback(answer)) => {
                        assert!(matches!(answer.score, Some(Score::Nps(0..=10)) | Some(Score::Csat(1..=5))));
                        assert!(before_end(&answer.submit_time));
                    }
                    Some(Record::CartEvent(_) | Record::Exposure(_)) => {
                        panic!("{}: only customers, orders, contacts and feedback are tabled", table.file_name())
                    }
                    None => panic!("a row without a record"),
                }
            }
            let written = table.write(&dataset, std::io::sink()).unwrap_or_default();
            assert_eq!(count as usize, written, "{}", table.file_name());
            assert!(count > 0, "{} is empty", table.file_name());
        }
    }
}
