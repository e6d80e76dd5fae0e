//! AssignAll: every exported customer placed with the active version, written
//! under a fresh run id while progress streams, then swapped in at once.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Instant;

use patron_common::ServiceError;
use patron_proto::segmentation::v1 as pb;
use tokio::sync::mpsc;
use tonic::Status;

use super::time::{micros_of, now_micros};
use super::{ResponseStream, SegmentationApi, export_error, profile};
use crate::store::memberships::{self, CompletedRun, Membership};

pub async fn start(
    api: SegmentationApi,
    request: pb::AssignAllRequest,
) -> Result<ResponseStream<pb::AssignAllResponse>, Status> {
    let now = now_micros();
    let as_of_us = request.as_of.as_ref().map_or(now, micros_of);
    if as_of_us > now {
        return Err(ServiceError::invalid("as_of", "must not be in the future").into());
    }
    let guard = api
        .assign_all_running
        .clone()
        .try_lock_owned()
        .map_err(|_| Status::aborted("an AssignAll run is already in progress; retry when it ends"))?;
    let (sender, receiver) = mpsc::channel(8);
    let span = tracing::Span::current();
    tokio::spawn(tracing::Instrument::instrument(
        async move {
            let progress = sender.clone();
            let outcome =
                api.requests.once(&request.request_id, "AssignAll", &request, run(&api, as_of_us, &progress)).await;
            let _ = sender.send(outcome.map_err(Status::from)).await;
            drop(guard);
        },
        span,
    ));
    Ok(Box::pin(tokio_stream::wrappers::ReceiverStream::new(receiver)))
}

/// Makes run ids unique within the process even when two start in the same microsecond.
static RUNS_STARTED: AtomicU64 = AtomicU64::new(0);

fn elapsed(started: Instant) -> prost_types::Duration {
    let elapsed = started.elapsed();
    prost_types::Duration { seconds: elapsed.as_secs() as i64, nanos: elapsed.subsec_nanos() as i32 }
}

async fn run(
    api: &SegmentationApi,
    as_of_us: i64,
    progress: &mpsc::Sender<Result<pb::AssignAllResponse, Status>>,
) -> Result<pb::AssignAllResponse, ServiceError> {
    let started = Instant::now();
    let loaded = api.active.get("").await?;
    let model_id = loaded.version.id.clone();
    let run_id = format!("run-{}-{}", now_micros(), RUNS_STARTED.fetch_add(1, Ordering::Relaxed));
    // Before the export is read: customers erased from here on are left out.
    let erasures = api.erasures.watch_run();
    let outcome = write_run(api, &loaded, &run_id, as_of_us, started, progress).await;
    match outcome {
        Ok((assigned, counts)) => {
            let completed = CompletedRun {
                run_id: run_id.clone(),
                features_as_of_us: as_of_us,
                assign_time_us: now_micros(),
                customers: assigned,
                segment_counts: counts,
            };
            let (_no_forget_meanwhile, forgotten) = erasures.forgotten().await;
            let stored = match memberships::complete(&api.db, &model_id, &completed, &forgotten).await {
                Ok(stored) => stored,
                Err(error) => {
                    let _ = memberships::discard(&api.db, &run_id).await;
                    return Err(error);
                }
            };
            let kmeans_sizes: std::collections::HashMap<String, i64> = stored
                .segment_counts
                .iter()
                .filter(|(id, _)| id.starts_with("kmeans-"))
                .map(|(id, count)| (id.clone(), *count))
                .collect();
            Ok(pb::AssignAllResponse {
                model_id,
                customers_assigned: stored.customers,
                customers_total: stored.customers,
                segment_sizes: kmeans_sizes,
                elapsed: Some(elapsed(started)),
                done: true,
            })
        }
        Err(error) => {
            // Abandoned (failed or cancelled): the previous memberships stay visible.
            let _ = memberships::discard(&api.db, &run_id).await;
            Err(error)
        }
    }
}

async fn write_run(
    api: &SegmentationApi,
    loaded: &super::Loaded,
    run_id: &str,
    as_of_us: i64,
    started: Instant,
    progress: &mpsc::Sender<Result<pb::AssignAllResponse, Status>>,
) -> Result<(i64, BTreeMap<String, i64>), ServiceError> {
    let model = &loaded.model;
    let mut export = profile::open_export(&api.profile, as_of_us, Vec::new()).await?;
    // Reading the export and writing memberships overlap: a writer task stores
    // batches while the next ones are read and placed.
    let (batches, mut to_store) = mpsc::channel::<Vec<Membership>>(4);
    let (db, run) = (api.db.clone(), run_id.to_owned());
    let writer = tokio::spawn(async move {
        while let Some(mut rows) = to_store.recv().await {
            // Batches that queued while the last one was written share one
            // transaction: fewer commits, each a sync of the log.
            while let Ok(more) = to_store.try_recv() {
                rows.extend(more);
            }
            memberships::insert(&db, &run, &rows).await?;
        }
        Ok::<(), ServiceError>(())
    });
    let read = read_and_place(model, &loaded.version.id, &mut export, &batches, started, progress).await;
    drop(batches);
    let written = writer.await.map_err(ServiceError::internal).and_then(|result| result);
    let (assigned, counts) = read?;
    written?;
    Ok((assigned, counts))
}

async fn read_and_place(
    model: &crate::domain::model::SegmentationModel,
    model_id: &str,
    export: &mut tonic::Streaming<patron_proto::profile::v1::ExportCustomerFeaturesResponse>,
    batches: &mpsc::Sender<Vec<Membership>>,
    started: Instant,
    progress: &mpsc::Sender<Result<pb::AssignAllResponse, Status>>,
) -> Result<(i64, BTreeMap<String, i64>), ServiceError> {
    let mut counts: BTreeMap<String, i64> = BTreeMap::new();
    let mut assigned = 0i64;
    while let Some(message) = export.message().await.map_err(profile::upstream_error)? {
        let mut batch = Vec::with_capacity(message.rows.len());
        for row in &message.rows {
            let placement = model.place_row(row).map_err(|error| export_error(&row.customer_id, error))?;
            let (score, _) = model.rfm_of_row(row);
            let segment_id = model.segments.get(placement.segment).map(|s| s.id.clone()).unwrap_or_default();
            let rfm_segment_id =
                crate::domain::rfm::RFM_SEGMENTS.get(score.segment()).map(|s| s.0.to_owned()).unwrap_or_default();
            *counts.entry(segment_id.clone()).or_default() += 1;
            *counts.entry(rfm_segment_id.clone()).or_default() += 1;
            batch.push(Membership {
                customer_id: row.customer_id.clone(),
                segment_id,
                distance: placement.distance,
                rfm: [score.recency as i16, score.frequency as i16, score.monetary as i16],
                rfm_segment_id,
            });
        }
        assigned += batch.len() as i64;
        if batches.send(batch).await.is_err() {
            // The writer stopped on an error; it is reported from there.
            break;
        }
        let update = pb::AssignAllResponse {
            model_id: model_id.to_owned(),
            customers_assigned: assigned,
            customers_total: 0,
            segment_sizes: counts
                .iter()
                .filter(|(id, _)| id.starts_with("kmeans-"))
                .map(|(id, count)| (id.clone(), *count))
                .collect(),
            elapsed: Some(elapsed(started)),
            done: false,
        };
        if progress.send(Ok(update)).await.is_err() {
            return Err(ServiceError::Unavailable("AssignAll cancelled by the caller".to_owned()));
        }
    }
    Ok((assigned, counts))
}
