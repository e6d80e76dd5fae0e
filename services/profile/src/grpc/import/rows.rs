//! One batch message of an import, validated row by row into the domain
//! records its kind holds, plus the rows it rejected (line, field, reason).

use std::collections::HashMap;

use patron_common::{FieldViolation, ServiceError, Validator};
use patron_proto::common::v1::ImportRowError;
use patron_proto::profile::v1 as pb;
use pb::import_row::Record;

use crate::domain::customer::Customer;
use crate::domain::events::{CampaignExposure, CartEvent, Feedback, SupportContact};
use crate::domain::order::Order;
use crate::grpc::parse;
use crate::store::import::OrderRow;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    Customers,
    Orders,
    Contacts,
    Feedback,
    CartEvents,
    Exposures,
}

impl Kind {
    pub fn from_proto(code: i32) -> Option<Self> {
        match pb::ImportKind::try_from(code) {
            Ok(pb::ImportKind::Customers) => Some(Self::Customers),
            Ok(pb::ImportKind::Orders) => Some(Self::Orders),
            Ok(pb::ImportKind::Contacts) => Some(Self::Contacts),
            Ok(pb::ImportKind::Feedback) => Some(Self::Feedback),
            Ok(pb::ImportKind::CartEvents) => Some(Self::CartEvents),
            Ok(pb::ImportKind::Exposures) => Some(Self::Exposures),
            _ => None,
        }
    }

    /// The tables an import of this kind writes.
    pub fn tables(self) -> &'static str {
        match self {
            Self::Customers => "customers, customer_tags, customer_attributes, customer_consents",
            Self::Orders => "customers, orders, order_lines",
            Self::Contacts => "customers, support_contacts",
            Self::Feedback => "customers, feedback",
            Self::CartEvents => "customers, cart_events",
            Self::Exposures => "customers, campaign_exposures",
        }
    }
}

/// A batch's accepted rows, all of the import's kind.
pub enum Records {
    Customers(Vec<Customer>),
    Orders(Vec<OrderRow>),
    Contacts(Vec<SupportContact>),
    Feedback(Vec<Feedback>),
    CartEvents(Vec<CartEvent>),
    Exposures(Vec<CampaignExposure>),
}

impl Records {
    pub fn count(&self) -> usize {
        match self {
            Self::Customers(records) => records.len(),
            Self::Orders(records) => records.len(),
            Self::Contacts(records) => records.len(),
            Self::Feedback(records) => records.len(),
            Self::CartEvents(records) => records.len(),
            Self::Exposures(records) => records.len(),
        }
    }
}

pub struct ParsedBatch {
    pub rows_read: i64,
    pub records: Records,
    pub errors: Vec<ImportRowError>,
}

/// Validates every row; a row of another kind is rejected like an invalid one.
pub fn parse_batch(kind: Kind, rows: &[pb::ImportRow]) -> ParsedBatch {
    let mut errors = Vec::new();
    let records = match kind {
        Kind::Customers => Records::Customers(accept(rows, &mut errors, |row| match &row.record {
            Some(Record::Customer(customer)) => Some(parse::imported_customer(customer).map_err(into_violations)),
            _ => None,
        })),
        Kind::Orders => {
            let orders = accept(rows, &mut errors, |row| match &row.record {
                Some(Record::Order(order)) => {
                    Some(validated(|validator| (row.line, parse::order_row(validator, order))))
                }
                _ => None,
            });
            let (orders, conflicts) = reject_conflicting_orders(orders);
            errors.extend(conflicts);
            Records::Orders(orders)
        }
        Kind::Contacts => Records::Contacts(accept(rows, &mut errors, |row| match &row.record {
            Some(Record::Contact(contact)) => {
                Some(validated(|validator| parse::contact(validator, "contact", contact)))
            }
            _ => None,
        })),
        Kind::Feedback => Records::Feedback(accept(rows, &mut errors, |row| match &row.record {
            Some(Record::Feedback(answer)) => {
                Some(validated(|validator| parse::feedback(validator, "feedback", answer)))
            }
            _ => None,
        })),
        Kind::CartEvents => Records::CartEvents(accept(rows, &mut errors, |row| match &row.record {
            Some(Record::CartEvent(event)) => {
                Some(validated(|validator| parse::cart_event(validator, "cart_event", event)))
            }
            _ => None,
        })),
        Kind::Exposures => Records::Exposures(accept(rows, &mut errors, |row| match &row.record {
            Some(Record::Exposure(exposure)) => {
                Some(validated(|validator| parse::exposure(validator, "exposure", exposure)))
            }
            _ => None,
        })),
    };
    ParsedBatch { rows_read: rows.len() as i64, records, errors }
}

/// The rows `parse` accepts; the others' violations go to `errors`. `parse`
/// answers `None` for a row holding another kind of record.
fn accept<T>(
    rows: &[pb::ImportRow],
    errors: &mut Vec<ImportRowError>,
    parse: impl Fn(&pb::ImportRow) -> Option<Result<T, Vec<FieldViolation>>>,
) -> Vec<T> {
    let mut accepted = Vec::with_capacity(rows.len());
    for row in rows {
        match parse(row).unwrap_or_else(|| Err(vec![FieldViolation::new("record", "does not match the import's kind")]))
        {
            Ok(record) => accepted.push(record),
            Err(violations) => errors.extend(violations.into_iter().map(|violation| ImportRowError {
                line: row.line,
                field: violation.field,
                reason: violation.reason,
            })),
        }
    }
    accepted
}

fn validated<T>(parse: impl FnOnce(&mut Validator) -> T) -> Result<T, Vec<FieldViolation>> {
    let mut validator = Validator::new();
    let parsed = parse(&mut validator);
    validator.finish().map(|()| parsed).map_err(into_violations)
}

/// A row's fields are named as the file's columns: "customer.email" is
/// "email", and an order row's one line is flat ("order.lines[0].sku" is "sku").
fn into_violations(error: ServiceError) -> Vec<FieldViolation> {
    match error {
        ServiceError::InvalidArgument(violations) => violations
            .into_iter()
            .map(|violation| {
                let field = violation.field.replacen("lines[0].", "", 1);
                let field = field.split_once('.').map_or(field.as_str(), |(_, rest)| rest).to_owned();
                FieldViolation { field, reason: violation.reason }
            })
            .collect(),
        other => vec![FieldViolation::new("record", other.to_string())],
    }
}

/// Rows of one order must agree on the order's fields, and each order line
/// may appear once per batch; a row that contradicts or repeats an earlier
/// row of the same order in the batch is rejected.
fn reject_conflicting_orders(rows: Vec<(i64, OrderRow)>) -> (Vec<OrderRow>, Vec<ImportRowError>) {
    let mut first_seen: HashMap<String, (i64, Order)> = HashMap::new();
    let mut line_seen: HashMap<(String, i32), i64> = HashMap::new();
    let mut kept = Vec::with_capacity(rows.len());
    let mut errors = Vec::new();
    for (line, row) in rows {
        if let Some(order_line) = &row.line {
            let key = (row.order.order_id.clone(), order_line.line_number);
            if let Some(first_line) = line_seen.get(&key) {
                errors.push(ImportRowError {
                    line,
                    field: "line_number".to_owned(),
                    reason: format!("repeats line {first_line}: the same order line twice in one batch"),
                });
                continue;
            }
            line_seen.insert(key, line);
        }
        match first_seen.get(&row.order.order_id) {
            Some((first_line, first)) if !same_order_fields(first, &row.order) => {
                errors.push(ImportRowError {
                    line,
                    field: "order".to_owned(),
                    reason: format!("order fields differ from line {first_line} of the same order"),
                });
                continue;
            }
            Some(_) => {}
            None => {
                first_seen.insert(row.order.order_id.clone(), (line, row.order.clone()));
            }
        }
        kept.push(row);
    }
    (kept, errors)
}

fn same_order_fields(left: &Order, right: &Order) -> bool {
    left.customer_id == right.customer_id
        && left.place_time == right.place_time
        && left.channel == right.channel
        && left.store_id == right.store_id
        && left.region == right.region
        && left.currency_code == right.currency_code
        && left.status == right.status
}
