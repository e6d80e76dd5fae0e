//! Sends a file through ProfileService.ImportRecords and reads the server's
//! answer to each committed batch.
//!
//! The request stream is an iterator that parses the next batch when the
//! transport asks for it, so reading the file is paced by the network and
//! stops the moment the call ends. What the reader learns on the way (rows it
//! rejected, where each batch ends in the file, a read failure) reaches the
//! answering side as [`Event`]s, in file order.

use anyhow::bail;
use patron_proto::profile::v1::profile_service_client::ProfileServiceClient;
use patron_proto::profile::v1::{
    ImportBatch, ImportHeader, ImportRecordsRequest, ImportRecordsResponse, import_records_request::Payload,
};
use prost::Message;
use tokio::sync::mpsc::{UnboundedReceiver, UnboundedSender, unbounded_channel};
use tonic::Streaming;

use super::csv_rows::column_of;
use super::report::{Reporter, Totals};
use super::rows::{Parsed, RowError, RowSource};

/// Largest encoded row sent: the longest valid row (every text field at its
/// limit) is far smaller, so a bigger one is refused here, on its line, rather
/// than making its whole batch too big for the server.
const MAX_ROW_BYTES: usize = 1024 * 1024;
/// Encoded size at which a batch is cut before reaching `batch_size` rows,
/// well inside the servers' default 16 MiB message limit.
const MAX_BATCH_BYTES: usize = 4 * 1024 * 1024;

pub struct Upload {
    /// The gateway or the profile service, with the bearer token.
    pub channel: crate::connection::Authed,
    pub header: ImportHeader,
    pub batch_size: usize,
}

enum Event {
    Rejected(RowError),
    /// A batch went out; the file up to `end_byte` is in it or rejected.
    BatchSent {
        end_byte: u64,
    },
    /// The file could not be read further; the stream ended early.
    ReadFailed(anyhow::Error),
}

/// Streams `source` and returns the final totals. Rejected rows are reported
/// as they are known; an error is a failure of the call or of the file.
pub async fn upload(source: Box<dyn RowSource>, upload: Upload, reporter: &Reporter) -> anyhow::Result<Totals> {
    let mut client = ProfileServiceClient::new(upload.channel);
    let (events, mut received) = unbounded_channel();
    let requests = Requests { header: Some(upload.header), source, batch_size: upload.batch_size, events, done: false };
    let responses = client.import_records(tokio_stream::iter(requests)).await.map_err(refused)?.into_inner();
    receive(responses, &mut received, reporter).await
}

/// The header, then one batch per `next`.
struct Requests {
    header: Option<ImportHeader>,
    source: Box<dyn RowSource>,
    batch_size: usize,
    events: UnboundedSender<Event>,
    done: bool,
}

impl Iterator for Requests {
    type Item = ImportRecordsRequest;

    fn next(&mut self) -> Option<ImportRecordsRequest> {
        if let Some(header) = self.header.take() {
            return Some(ImportRecordsRequest { payload: Some(Payload::Header(header)) });
        }
        let mut rows = Vec::with_capacity(self.batch_size);
        let mut bytes = 0;
        while !self.done && rows.len() < self.batch_size && bytes < MAX_BATCH_BYTES {
            match self.source.next_row() {
                Ok(Some(Parsed::Row(row))) if row.encoded_len() > MAX_ROW_BYTES => {
                    let reason =
                        format!("is {} bytes; no valid row takes more than {MAX_ROW_BYTES}", row.encoded_len());
                    _ = self.events.send(Event::Rejected(RowError::new(row.line, "record", reason)));
                }
                Ok(Some(Parsed::Row(row))) => {
                    bytes += row.encoded_len();
                    rows.push(row);
                }
                // A send fails only once the call is over; nothing is left to tell.
                Ok(Some(Parsed::Rejected(error))) => _ = self.events.send(Event::Rejected(error)),
                Ok(None) => self.done = true,
                Err(error) => {
                    _ = self.events.send(Event::ReadFailed(error));
                    self.done = true;
                }
            }
        }
        if rows.is_empty() {
            return None;
        }
        _ = self.events.send(Event::BatchSent { end_byte: self.source.bytes_read() });
        Some(ImportRecordsRequest { payload: Some(Payload::Batch(ImportBatch { rows })) })
    }
}

async fn receive(
    mut responses: Streaming<ImportRecordsResponse>,
    events: &mut UnboundedReceiver<Event>,
    reporter: &Reporter,
) -> anyhow::Result<Totals> {
    let mut totals = Totals::default();
    loop {
        let response = responses.message().await.map_err(refused)?;
        let Some(response) = response else { bail!("the server ended the import without its final summary") };
        let progress = response.progress.unwrap_or_default();
        let mut rejected: Vec<RowError> = response
            .errors
            .into_iter()
            .map(|error| RowError::new(error.line, column_of(&error.field), error.reason))
            .collect();
        // Every event of this answer's batch was sent before the batch itself.
        let mut end_byte = None;
        while let Ok(event) = events.try_recv() {
            match event {
                Event::Rejected(error) => {
                    totals.rejected_by_client += 1;
                    rejected.push(error);
                }
                Event::ReadFailed(error) => {
                    reporter.rejected(rejected);
                    return Err(error.context("reading the file stopped; the batches before it were imported"));
                }
                Event::BatchSent { end_byte: end } => {
                    end_byte = Some(end);
                    if !progress.done {
                        break;
                    }
                }
            }
        }
        totals.server = progress;
        reporter.rejected(rejected);
        if let Some(end_byte) = end_byte {
            reporter.advance(end_byte, &totals);
        }
        if progress.done {
            return Ok(totals);
        }
    }
}

/// One line for a failed call: the status code and the server's message.
fn refused(status: tonic::Status) -> anyhow::Error {
    crate::failure::Failure::call("import failed", status)
}

/// The batches and the rows rejected on the way that `source` gives, as the
/// uploader would send them, without a server.
#[cfg(test)]
pub fn batches(source: Box<dyn RowSource>, batch_size: usize) -> (Vec<ImportBatch>, Vec<RowError>) {
    let (events, mut received) = unbounded_channel();
    let requests = Requests { header: None, source, batch_size, events, done: false };
    let batches = requests
        .filter_map(|request| match request.payload {
            Some(Payload::Batch(batch)) => Some(batch),
            _ => None,
        })
        .collect();
    let mut rejected = Vec::new();
    while let Ok(event) = received.try_recv() {
        match event {
            Event::Rejected(error) => rejected.push(error),
            Event::ReadFailed(error) => panic!("reading stopped: {error:#}"),
            Event::BatchSent { .. } => {}
        }
    }
    (batches, rejected)
}
