//! ImportRecords: a header, then batches of rows. Each batch is validated row
//! by row; its good rows are written in one transaction, and the answer after
//! the commit carries the running totals and the batch's rejected rows (line,
//! field, reason). A database fault ends the stream with UNAVAILABLE: batches
//! already answered are committed, the failing one left no trace, and
//! re-sending the file resumes where it stopped (writes are idempotent).

use std::collections::HashMap;

use patron_common::{ServiceError, Validator};
use patron_proto::common::v1::{ImportProgress, ImportRowError};
use patron_proto::profile::v1 as pb;
use sea_orm::{DatabaseConnection, TransactionTrait};
use tokio::sync::mpsc;
use tokio_stream::StreamExt;
use tonic::{Status, Streaming};

use super::parse;
use crate::store::events::{self, WriteOutcome};
use crate::store::import::OrderRow;
use crate::store::{import_customers, import_orders};

/// Most rows accepted in one batch message.
pub const MAX_ROWS_PER_BATCH: usize = 10_000;

pub type Answers = mpsc::Sender<Result<pb::ImportRecordsResponse, Status>>;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    Customers,
    Orders,
    Contacts,
    Feedback,
}

/// Reads the stream to its end, answering on `answers`.
pub async fn run(db: DatabaseConnection, mut requests: Streaming<pb::ImportRecordsRequest>, answers: Answers) {
    let outcome = import(&db, &mut requests, &answers).await;
    if let Err(status) = outcome {
        let _ = answers.send(Err(status)).await;
    }
}

async fn import(
    db: &DatabaseConnection,
    requests: &mut Streaming<pb::ImportRecordsRequest>,
    answers: &Answers,
) -> Result<(), Status> {
    let kind = match requests.next().await {
        Some(Ok(pb::ImportRecordsRequest { payload: Some(pb::import_records_request::Payload::Header(header)) })) => {
            header_kind(&header)?
        }
        Some(Ok(_)) => {
            return Err(ServiceError::invalid("header", "the first message must be the import header").into());
        }
        Some(Err(status)) => return Err(status),
        None => return Err(ServiceError::invalid("header", "the stream ended before the import header").into()),
    };
    let mut progress = ImportProgress::default();
    // Rows written when statistics were last refreshed: refreshing each time
    // the tables have doubled keeps plans right at a logarithmic cost.
    let mut analyzed_at: i64 = 0;
    while let Some(message) = requests.next().await {
        let batch = match message?.payload {
            Some(pb::import_records_request::Payload::Batch(batch)) => batch,
            Some(pb::import_records_request::Payload::Header(_)) => {
                return Err(ServiceError::invalid("header", "only the first message may be a header").into());
            }
            None => return Err(ServiceError::invalid("payload", "must be a header or a batch").into()),
        };
        if batch.rows.len() > MAX_ROWS_PER_BATCH {
            return Err(
                ServiceError::invalid("batch.rows", format!("at most {MAX_ROWS_PER_BATCH} rows per batch")).into()
            );
        }
        let errors = write_batch(db, kind, &batch.rows, &mut progress).await?;
        progress.batches_committed += 1;
        if progress.rows_written >= (2 * analyzed_at).max(FIRST_ANALYZE_ROWS) {
            refresh_statistics(db, kind).await;
            analyzed_at = progress.rows_written;
        }
        let answer = pb::ImportRecordsResponse { progress: Some(progress), errors };
        if answers.send(Ok(answer)).await.is_err() {
            return Ok(()); // The client went away; what was committed stays.
        }
    }
    if progress.rows_written > analyzed_at {
        refresh_statistics(db, kind).await;
    }
    progress.done = true;
    let _ = answers.send(Ok(pb::ImportRecordsResponse { progress: Some(progress), errors: Vec::new() })).await;
    Ok(())
}

/// Rows written before the first statistics refresh of an import.
const FIRST_ANALYZE_ROWS: i64 = 5_000;

/// During and after a bulk load, PostgreSQL's planner still believes the
/// tables hold what they held before; until autovacuum catches up it picks
/// plans (scans of the growing tables per batch) that are quadratic in the
/// new rows. ANALYZE the tables the import wrote.
async fn refresh_statistics(db: &DatabaseConnection, kind: Kind) {
    use sea_orm::ConnectionTrait;
    if db.get_database_backend() != sea_orm::DbBackend::Postgres {
        return;
    }
    let tables = match kind {
        Kind::Customers => "customers, customer_tags, customer_attributes, customer_consents",
        Kind::Orders => "customers, orders, order_lines",
        Kind::Contacts => "customers, support_contacts",
        Kind::Feedback => "customers, feedback",
    };
    if let Err(error) = db.execute_unprepared(&format!("ANALYZE {tables}")).await {
        tracing::warn!(%error, "analyze after import failed");
    }
}

fn header_kind(header: &pb::ImportHeader) -> Result<Kind, ServiceError> {
    let mut validator = Validator::new();
    validator.text("header.request_id", &header.request_id, crate::domain::limits::ID_CHARS);
    validator.text("header.source", &header.source, crate::domain::limits::TEXT_CHARS);
    let kind = match pb::ImportKind::try_from(header.kind) {
        Ok(pb::ImportKind::Customers) => Some(Kind::Customers),
        Ok(pb::ImportKind::Orders) => Some(Kind::Orders),
        Ok(pb::ImportKind::Contacts) => Some(Kind::Contacts),
        Ok(pb::ImportKind::Feedback) => Some(Kind::Feedback),
        _ => None,
    };
    validator.check(kind.is_some(), "header.kind", "must be CUSTOMERS, ORDERS, CONTACTS or FEEDBACK");
    validator.finish()?;
    kind.ok_or_else(|| ServiceError::internal("validated kind missing"))
}

/// Validates and writes one batch; returns its rejected rows.
async fn write_batch(
    db: &DatabaseConnection,
    kind: Kind,
    rows: &[pb::ImportRow],
    progress: &mut ImportProgress,
) -> Result<Vec<ImportRowError>, ServiceError> {
    let mut errors = Vec::new();
    let mut accepted = Vec::new();
    for row in rows {
        progress.rows_read += 1;
        match parse_row(kind, row) {
            Ok(parsed) => accepted.push(parsed),
            Err(violations) => {
                progress.rows_rejected += 1;
                errors.extend(violations.into_iter().map(|violation| ImportRowError {
                    line: row.line,
                    field: violation.field,
                    reason: violation.reason,
                }));
            }
        }
    }
    let (accepted, conflicts) = reject_conflicting_orders(accepted);
    progress.rows_rejected += conflicts.len() as i64;
    errors.extend(conflicts);

    let transaction = db.begin().await?;
    let mut outcomes = Vec::with_capacity(accepted.len());
    let mut order_rows: Vec<OrderRow> = Vec::new();
    let mut customers = Vec::new();
    for row in accepted {
        match row {
            ParsedRow::Customer(customer) => customers.push(customer),
            ParsedRow::Contact(contact) => outcomes.push(events::write_contact(&transaction, &contact).await?),
            ParsedRow::Feedback(answer) => outcomes.push(events::write_feedback(&transaction, &answer).await?),
            ParsedRow::Order { row, .. } => order_rows.push(row),
        }
    }
    outcomes.extend(import_customers::write(&transaction, &customers).await?);
    let order_counts = import_orders::write(&transaction, &order_rows).await?;
    transaction.commit().await?;
    progress.rows_written += order_counts.written;
    progress.rows_unchanged += order_counts.unchanged;
    for outcome in outcomes {
        match outcome {
            WriteOutcome::Created | WriteOutcome::Updated => progress.rows_written += 1,
            WriteOutcome::Unchanged => progress.rows_unchanged += 1,
        }
    }
    Ok(errors)
}

enum ParsedRow {
    Customer(crate::domain::customer::Customer),
    Order { line: i64, row: OrderRow },
    Contact(crate::domain::events::SupportContact),
    Feedback(crate::domain::events::Feedback),
}

fn parse_row(kind: Kind, row: &pb::ImportRow) -> Result<ParsedRow, Vec<patron_common::FieldViolation>> {
    use pb::import_row::Record;
    // A row's fields are named as the file's columns: "customer.email" is
    // "email", and an order row's one line is flat ("order.lines[0].sku" is "sku").
    let into_violations = |error: ServiceError| match error {
        ServiceError::InvalidArgument(violations) => violations
            .into_iter()
            .map(|violation| {
                let field = violation.field.replacen("lines[0].", "", 1);
                let field = field.split_once('.').map_or(field.as_str(), |(_, rest)| rest).to_owned();
                patron_common::FieldViolation { field, reason: violation.reason }
            })
            .collect(),
        other => vec![patron_common::FieldViolation::new("record", other.to_string())],
    };
    let mut validator = Validator::new();
    let parsed = match (kind, &row.record) {
        (Kind::Customers, Some(Record::Customer(customer))) => {
            return parse::imported_customer(customer).map(ParsedRow::Customer).map_err(into_violations);
        }
        (Kind::Orders, Some(Record::Order(order))) => {
            ParsedRow::Order { line: row.line, row: parse::order_row(&mut validator, order) }
        }
        (Kind::Contacts, Some(Record::Contact(contact))) => {
            ParsedRow::Contact(parse::contact(&mut validator, "contact", contact))
        }
        (Kind::Feedback, Some(Record::Feedback(answer))) => {
            ParsedRow::Feedback(parse::feedback(&mut validator, "feedback", answer))
        }
        _ => return Err(vec![patron_common::FieldViolation::new("record", "does not match the import's kind")]),
    };
    validator.finish().map(|()| parsed).map_err(into_violations)
}

/// Rows of one order must agree on the order's fields, and each order line
/// may appear once per batch; a row that contradicts or repeats an earlier
/// row of the same order in the batch is rejected.
fn reject_conflicting_orders(rows: Vec<ParsedRow>) -> (Vec<ParsedRow>, Vec<ImportRowError>) {
    let mut first_seen: HashMap<String, (i64, crate::domain::order::Order)> = HashMap::new();
    let mut line_seen: HashMap<(String, i32), i64> = HashMap::new();
    let mut kept = Vec::with_capacity(rows.len());
    let mut errors = Vec::new();
    for parsed in rows {
        if let ParsedRow::Order { line, row } = &parsed {
            if let Some(order_line) = &row.line {
                let key = (row.order.order_id.clone(), order_line.line_number);
                if let Some(first_line) = line_seen.get(&key) {
                    errors.push(ImportRowError {
                        line: *line,
                        field: "line_number".to_owned(),
                        reason: format!("repeats line {first_line}: the same order line twice in one batch"),
                    });
                    continue;
                }
                line_seen.insert(key, *line);
            }
            match first_seen.get(&row.order.order_id) {
                Some((first_line, first)) if !same_order_fields(first, &row.order) => {
                    errors.push(ImportRowError {
                        line: *line,
                        field: "order".to_owned(),
                        reason: format!("order fields differ from line {first_line} of the same order"),
                    });
                    continue;
                }
                Some(_) => {}
                None => {
                    first_seen.insert(row.order.order_id.clone(), (*line, row.order.clone()));
                }
            }
        }
        kept.push(parsed);
    }
    (kept, errors)
}

fn same_order_fields(left: &crate::domain::order::Order, right: &crate::domain::order::Order) -> bool {
    left.customer_id == right.customer_id
        && left.place_time == right.place_time
        && left.channel == right.channel
        && left.store_id == right.store_id
        && left.region == right.region
        && left.currency_code == right.currency_code
        && left.status == right.status
}
