//! ImportRecords: a header, then batches of rows. Each batch is validated row
//! by row; its good rows are written in one transaction, and the answer after
//! the commit carries the running totals and the batch's rejected rows (line,
//! field, reason). A database fault ends the stream with UNAVAILABLE: batches
//! already answered are committed, the failing one left no trace, and
//! re-sending the file resumes where it stopped (writes are idempotent).
//!
//! Reading and validating batch N+1 runs in its own task while batch N is
//! written, with at most one validated batch waiting, so memory stays bounded
//! by a few batches whatever the file's size.

mod rows;

use patron_common::{ServiceError, Validator};
use patron_proto::common::v1::ImportProgress;
use patron_proto::profile::v1 as pb;
use sea_orm::{ConnectionTrait, DatabaseConnection};
use tokio::sync::mpsc;
use tokio_stream::StreamExt;
use tonic::{Status, Streaming};

use self::rows::{Kind, ParsedBatch, Records, parse_batch};
use crate::store::import::Counts;
use crate::store::import::events;
use crate::store::{import_customers, import_orders};

/// Most rows accepted in one batch message.
pub const MAX_ROWS_PER_BATCH: usize = 10_000;

pub type Answers = mpsc::Sender<Result<pb::ImportRecordsResponse, Status>>;

/// Reads the stream to its end, answering on `answers`.
pub async fn run(db: DatabaseConnection, mut requests: Streaming<pb::ImportRecordsRequest>, answers: Answers) {
    let outcome = match read_header(&mut requests).await {
        Ok(kind) => import(&db, kind, requests, &answers).await,
        Err(status) => Err(status),
    };
    if let Err(status) = outcome {
        let _ = answers.send(Err(status)).await;
    }
}

async fn read_header(requests: &mut Streaming<pb::ImportRecordsRequest>) -> Result<Kind, Status> {
    match requests.next().await {
        Some(Ok(pb::ImportRecordsRequest { payload: Some(pb::import_records_request::Payload::Header(header)) })) => {
            Ok(header_kind(&header)?)
        }
        Some(Ok(_)) => Err(ServiceError::invalid("header", "the first message must be the import header").into()),
        Some(Err(status)) => Err(status),
        None => Err(ServiceError::invalid("header", "the stream ended before the import header").into()),
    }
}

async fn import(
    db: &DatabaseConnection,
    kind: Kind,
    requests: Streaming<pb::ImportRecordsRequest>,
    answers: &Answers,
) -> Result<(), Status> {
    let (batches, mut validated) = mpsc::channel(1);
    let reader =
        tokio::spawn(tracing::Instrument::instrument(read_batches(kind, requests, batches), tracing::Span::current()));
    let mut progress = ImportProgress::default();
    let mut statistics = StatisticsRefresh::new(db, kind);
    let outcome = async {
        while let Some(batch) = validated.recv().await {
            let batch: ParsedBatch = batch?;
            progress.rows_read += batch.rows_read;
            progress.rows_rejected += batch.rows_read - batch.records.count() as i64;
            let counts = write_batch(db, batch.records).await?;
            progress.rows_written += counts.written;
            progress.rows_unchanged += counts.unchanged;
            progress.batches_committed += 1;
            statistics.after_batch(progress.rows_written);
            let answer = pb::ImportRecordsResponse { progress: Some(progress), errors: batch.errors };
            if answers.send(Ok(answer)).await.is_err() {
                return Ok(false); // The client went away; what was committed stays.
            }
        }
        Ok::<bool, Status>(true)
    }
    .await;
    // Dropping the receiver stops the reader at its next batch.
    drop(validated);
    reader.abort();
    if !outcome? {
        return Ok(());
    }
    statistics.at_end(progress.rows_written);
    progress.done = true;
    let _ = answers.send(Ok(pb::ImportRecordsResponse { progress: Some(progress), errors: Vec::new() })).await;
    Ok(())
}

/// Validates each batch message as it arrives and hands it on; a fault of
/// the stream is handed on too, and ends the reading.
async fn read_batches(
    kind: Kind,
    mut requests: Streaming<pb::ImportRecordsRequest>,
    batches: mpsc::Sender<Result<ParsedBatch, Status>>,
) {
    while let Some(message) = requests.next().await {
        let parsed = message.and_then(|message| match message.payload {
            Some(pb::import_records_request::Payload::Batch(batch)) if batch.rows.len() > MAX_ROWS_PER_BATCH => {
                Err(ServiceError::invalid("batch.rows", format!("at most {MAX_ROWS_PER_BATCH} rows per batch")).into())
            }
            Some(pb::import_records_request::Payload::Batch(batch)) => Ok(parse_batch(kind, &batch.rows)),
            Some(pb::import_records_request::Payload::Header(_)) => {
                Err(ServiceError::invalid("header", "only the first message may be a header").into())
            }
            None => Err(ServiceError::invalid("payload", "must be a header or a batch").into()),
        });
        let failed = parsed.is_err();
        if batches.send(parsed).await.is_err() || failed {
            return;
        }
    }
}

/// Rows written before the first statistics refresh of an import.
const FIRST_ANALYZE_ROWS: i64 = 5_000;

/// During and after a bulk load, PostgreSQL's planner still believes the
/// tables hold what they held before; until autovacuum catches up it picks
/// plans (scans of the growing tables per batch) that are quadratic in the
/// new rows. So the tables the import writes are ANALYZEd each time the
/// import has doubled them (a logarithmic cost) and once at its end.
///
/// ANALYZE takes a lock that does not block writes, so it runs in its own
/// task on another pooled connection, beside the batches rather than between
/// them (it was about a tenth of PostgreSQL's work on the import path), and
/// the import's final answer does not wait for the last one. At most one
/// runs per import; a doubling reached while one runs is refreshed later.
struct StatisticsRefresh {
    db: Option<DatabaseConnection>,
    kind: Kind,
    /// Rows written when the running or last refresh started.
    analyzed_at: i64,
    running: Option<tokio::task::JoinHandle<()>>,
}

impl StatisticsRefresh {
    fn new(db: &DatabaseConnection, kind: Kind) -> Self {
        let postgres = db.get_database_backend() == sea_orm::DbBackend::Postgres;
        Self { db: postgres.then(|| db.clone()), kind, analyzed_at: 0, running: None }
    }

    fn after_batch(&mut self, rows_written: i64) {
        if rows_written >= (2 * self.analyzed_at).max(FIRST_ANALYZE_ROWS) {
            self.start(rows_written);
        }
    }

    /// The last refresh, left running when the import answers.
    fn at_end(mut self, rows_written: i64) {
        if rows_written > self.analyzed_at {
            self.running = None; // Detached, not aborted: it may wait for the one before.
            self.start(rows_written);
        }
    }

    fn start(&mut self, rows_written: i64) {
        let Some(db) = &self.db else { return };
        if self.running.as_ref().is_some_and(|running| !running.is_finished()) {
            return;
        }
        let (db, tables) = (db.clone(), self.kind.tables());
        self.analyzed_at = rows_written;
        self.running = Some(tokio::spawn(tracing::Instrument::instrument(
            async move {
                if let Err(error) = db.execute_unprepared(&format!("ANALYZE {tables}")).await {
                    tracing::warn!(%error, "analyze after import failed");
                }
            },
            tracing::Span::current(),
        )));
    }
}

fn header_kind(header: &pb::ImportHeader) -> Result<Kind, ServiceError> {
    let mut validator = Validator::new();
    validator.text("header.request_id", &header.request_id, crate::domain::limits::ID_CHARS);
    validator.text("header.source", &header.source, crate::domain::limits::TEXT_CHARS);
    let kind = Kind::from_proto(header.kind);
    validator.check(
        kind.is_some(),
        "header.kind",
        "must be CUSTOMERS, ORDERS, CONTACTS, FEEDBACK, CART_EVENTS or EXPOSURES",
    );
    validator.finish()?;
    kind.ok_or_else(|| ServiceError::internal("validated kind missing"))
}

/// Writes one batch's accepted rows in one transaction (holding SQLite's
/// write lock from its start, so concurrent imports take turns).
async fn write_batch(db: &DatabaseConnection, records: Records) -> Result<Counts, ServiceError> {
    let transaction = patron_common::storage::begin_write(db).await?;
    let counts = match &records {
        Records::Customers(customers) => {
            let mut counts = Counts::default();
            for outcome in import_customers::write(&transaction, customers).await? {
                counts.add(outcome != crate::store::events::WriteOutcome::Unchanged);
            }
            counts
        }
        Records::Orders(rows) => import_orders::write(&transaction, rows).await?,
        Records::Contacts(contacts) => events::write_contacts(&transaction, contacts).await?,
        Records::Feedback(answers) => events::write_feedback(&transaction, answers).await?,
        Records::CartEvents(cart_events) => events::write_cart_events(&transaction, cart_events).await?,
        Records::Exposures(exposures) => events::write_exposures(&transaction, exposures).await?,
    };
    transaction.commit().await?;
    Ok(counts)
}
