//! Long-running jobs (training, batch scoring, batch forecasting).
//!
//! The replica running a job holds its state in a watch channel: WatchJob on
//! that replica streams every change at once. One writer task per job
//! persists the latest state at most once a second, and at least every
//! [`HEARTBEAT`] while it runs, so other replicas can serve GetJob and
//! WatchJob from the store, and a job whose replica died is recognised by its
//! silence instead of showing RUNNING forever.

use std::collections::{BTreeMap, HashMap};
use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use futures::Stream;
use patron_proto::common::v1::{Job, JobState};
use sea_orm::ActiveValue::Set;
use sea_orm::{DatabaseConnection, EntityTrait};
use tokio::sync::watch;

use super::ids::{new_id, now_micros, timestamp};
use super::tables::job;
use crate::ServiceError;

/// Job states, as streamed by WatchJob.
pub type JobStream = Pin<Box<dyn Stream<Item = Result<Job, tonic::Status>> + Send>>;

/// Longest gap between two writes of a running job.
const HEARTBEAT: Duration = Duration::from_secs(10);
/// A running job unheard of for this long lost its worker.
const STALE_AFTER: Duration = Duration::from_secs(60);
/// Progress is written to the store at most this often.
const PERSIST_EVERY: Duration = Duration::from_secs(1);
/// How often a watcher on another replica re-reads the store.
const REMOTE_POLL: Duration = Duration::from_millis(500);

#[derive(Clone)]
pub struct JobBoard {
    db: DatabaseConnection,
    id_prefix: &'static str,
    live: Arc<Mutex<HashMap<String, watch::Receiver<Job>>>>,
}

impl JobBoard {
    /// `id_prefix` starts every job id, e.g. "seg-job".
    pub fn new(db: DatabaseConnection, id_prefix: &'static str) -> Self {
        Self { db, id_prefix, live: Arc::default() }
    }

    /// Records a QUEUED job of `kind` and returns the handle its worker reports through.
    pub async fn start(&self, kind: &str) -> Result<JobHandle, ServiceError> {
        let now = now_micros();
        let job = Job {
            id: new_id(self.id_prefix),
            kind: kind.to_owned(),
            state: JobState::Queued as i32,
            message: "queued".to_owned(),
            create_time: Some(timestamp(now)),
            update_time: Some(timestamp(now)),
            ..Job::default()
        };
        job::Entity::insert(to_row(&job, now)?).exec_without_returning(&self.db).await?;
        let (sender, receiver) = watch::channel(job);
        let id = receiver.borrow().id.clone();
        if let Ok(mut live) = self.live.lock() {
            live.insert(id.clone(), receiver.clone());
        }
        let writer = tokio::spawn(persist(self.clone(), id, receiver));
        Ok(JobHandle { sender: Arc::new(sender), writer: Arc::new(Mutex::new(Some(writer))) })
    }

    pub async fn get(&self, id: &str) -> Result<Job, ServiceError> {
        if let Some(receiver) = self.live_receiver(id) {
            return Ok(receiver.borrow().clone());
        }
        self.load(id).await
    }

    /// The job's state now, then each change, ending after a terminal state.
    pub async fn watch(&self, id: &str) -> Result<JobStream, ServiceError> {
        if let Some(receiver) = self.live_receiver(id) {
            return Ok(Box::pin(watch_live(receiver)));
        }
        let first = self.load(id).await?;
        Ok(Box::pin(watch_stored(self.clone(), first)))
    }

    fn live_receiver(&self, id: &str) -> Option<watch::Receiver<Job>> {
        self.live.lock().ok().and_then(|live| live.get(id).cloned())
    }

    async fn load(&self, id: &str) -> Result<Job, ServiceError> {
        super::ids::check_lookup_id("job_id", id)?;
        let row = job::Entity::find_by_id(id.to_owned()).one(&self.db).await?;
        let row = row.ok_or_else(|| ServiceError::not_found("job", id))?;
        let silent_for = Duration::from_micros(u64::try_from(now_micros() - row.update_time_us).unwrap_or(0));
        let mut job = from_row(row)?;
        if !is_terminal(&job) && silent_for > STALE_AFTER {
            job.state = JobState::Failed as i32;
            job.error = "ABORTED: the job stopped reporting; the service instance running it stopped. Start it again"
                .to_owned();
            job::Entity::update(to_row(&job, now_micros())?).exec(&self.db).await?;
        }
        Ok(job)
    }
}

/// How a job's worker reports. Dropping every clone before a terminal report
/// (a worker that panicked) fails the job rather than leaving it running.
#[derive(Clone)]
pub struct JobHandle {
    sender: Arc<watch::Sender<Job>>,
    writer: Arc<Mutex<Option<tokio::task::JoinHandle<()>>>>,
}

impl JobHandle {
    /// The job as it is now (QUEUED right after start).
    pub fn job(&self) -> Job {
        self.sender.borrow().clone()
    }

    pub fn id(&self) -> String {
        self.sender.borrow().id.clone()
    }

    /// Reports progress in [0, 1] and the current step; cheap, callable from any thread.
    pub fn progress(&self, fraction: f64, message: impl Into<String>) {
        let message = message.into();
        self.sender.send_if_modified(|job| {
            if is_terminal(job) {
                return false;
            }
            job.state = JobState::Running as i32;
            job.progress = if fraction.is_finite() { fraction.clamp(0.0, 1.0) } else { job.progress };
            job.message = message;
            job.update_time = Some(timestamp(now_micros()));
            true
        });
    }

    /// Ends the job SUCCEEDED with its model version (if it made one) and final metrics.
    pub async fn succeed(self, model_version_id: Option<String>, metrics: BTreeMap<String, f64>) {
        self.finish(|job| {
            job.state = JobState::Succeeded as i32;
            job.progress = 1.0;
            job.message = "done".to_owned();
            job.model_version_id = model_version_id.unwrap_or_default();
            job.metrics = metrics.into_iter().filter(|(_, value)| value.is_finite()).collect();
        })
        .await;
    }

    /// Ends the job FAILED; `Job.error` is "<CODE>: <message>", e.g.
    /// "FAILED_PRECONDITION: 37 customers before 2026-01-01; at least 100 needed".
    pub async fn fail(self, error: &ServiceError) {
        let text = format!("{}: {}", code_name(error.code()), error.public_message());
        self.finish(|job| {
            job.state = JobState::Failed as i32;
            job.message = "failed".to_owned();
            job.error = text;
        })
        .await;
    }

    async fn finish(self, change: impl FnOnce(&mut Job)) {
        self.sender.send_modify(|job| {
            change(job);
            job.update_time = Some(timestamp(now_micros()));
        });
        // Wait until the writer has stored the terminal state, so a GetJob
        // served from the store right after this returns sees it.
        let writer = self.writer.lock().ok().and_then(|mut writer| writer.take());
        if let Some(writer) = writer {
            let _ = tokio::time::timeout(Duration::from_secs(5), writer).await;
        }
    }
}

impl Drop for JobHandle {
    fn drop(&mut self) {
        // Only the last clone decides; `strong_count` is 1 for it.
        if Arc::strong_count(&self.sender) == 1 {
            self.sender.send_if_modified(|job| {
                if is_terminal(job) {
                    return false;
                }
                job.state = JobState::Failed as i32;
                job.message = "failed".to_owned();
                job.error = "INTERNAL: the job ended without a result; see the service log".to_owned();
                job.update_time = Some(timestamp(now_micros()));
                true
            });
        }
    }
}

/// The job's writer: stores the latest state, throttled, with heartbeats,
/// until the terminal state is stored; then the job leaves the live map.
async fn persist(board: JobBoard, id: String, mut receiver: watch::Receiver<Job>) {
    loop {
        let job = receiver.borrow_and_update().clone();
        let written = match to_row(&job, now_micros()) {
            Ok(row) => job::Entity::update(row).exec(&board.db).await.map(drop).map_err(ServiceError::from),
            Err(error) => Err(error),
        };
        if let Err(error) = written {
            tracing::warn!(job_id = %id, %error, "could not store the job's state");
        }
        if is_terminal(&job) {
            break;
        }
        let next_write = tokio::time::Instant::now() + PERSIST_EVERY;
        if let Ok(Err(_)) = tokio::time::timeout(HEARTBEAT, receiver.changed()).await {
            break;
        }
        // Progress waits for the throttle; the terminal state does not.
        tokio::select! {
            () = tokio::time::sleep_until(next_write) => {}
            _ = receiver.wait_for(is_terminal) => {}
        }
    }
    if let Ok(mut live) = board.live.lock() {
        live.remove(&id);
    }
}

fn watch_live(receiver: watch::Receiver<Job>) -> impl Stream<Item = Result<Job, tonic::Status>> + Send {
    futures::stream::unfold((receiver, true, false), |(mut receiver, first, ended)| async move {
        if ended {
            return None;
        }
        if !first && receiver.changed().await.is_err() {
            // The writer finished: the last state was already sent.
            return None;
        }
        let job = receiver.borrow_and_update().clone();
        let ended = is_terminal(&job);
        Some((Ok(job), (receiver, false, ended)))
    })
}

enum Stored {
    Send(Job),
    Poll(Job),
    Done,
}

impl Stored {
    fn after(job: &Job) -> Self {
        if is_terminal(job) { Self::Done } else { Self::Poll(job.clone()) }
    }
}

/// Watches a job another replica runs (or ran) by re-reading the store.
fn watch_stored(board: JobBoard, first: Job) -> impl Stream<Item = Result<Job, tonic::Status>> + Send {
    futures::stream::unfold((board, Stored::Send(first)), |(board, state)| async move {
        match state {
            Stored::Done => None,
            Stored::Send(job) => {
                let next = Stored::after(&job);
                Some((Ok(job), (board, next)))
            }
            Stored::Poll(last) => loop {
                tokio::time::sleep(REMOTE_POLL).await;
                match board.load(&last.id).await {
                    Err(error) => return Some((Err(tonic::Status::from(error)), (board, Stored::Done))),
                    Ok(job) if job != last => {
                        let next = Stored::after(&job);
                        return Some((Ok(job), (board, next)));
                    }
                    Ok(_) => {}
                }
            },
        }
    })
}

fn is_terminal(job: &Job) -> bool {
    matches!(JobState::try_from(job.state), Ok(JobState::Succeeded | JobState::Failed | JobState::Cancelled))
}

/// The canonical name of a status code, as written in `Job.error`.
fn code_name(code: tonic::Code) -> &'static str {
    use tonic::Code;
    match code {
        Code::Ok => "OK",
        Code::Cancelled => "CANCELLED",
        Code::Unknown => "UNKNOWN",
        Code::InvalidArgument => "INVALID_ARGUMENT",
        Code::DeadlineExceeded => "DEADLINE_EXCEEDED",
        Code::NotFound => "NOT_FOUND",
        Code::AlreadyExists => "ALREADY_EXISTS",
        Code::PermissionDenied => "PERMISSION_DENIED",
        Code::ResourceExhausted => "RESOURCE_EXHAUSTED",
        Code::FailedPrecondition => "FAILED_PRECONDITION",
        Code::Aborted => "ABORTED",
        Code::OutOfRange => "OUT_OF_RANGE",
        Code::Unimplemented => "UNIMPLEMENTED",
        Code::Internal => "INTERNAL",
        Code::Unavailable => "UNAVAILABLE",
        Code::DataLoss => "DATA_LOSS",
        Code::Unauthenticated => "UNAUTHENTICATED",
    }
}

fn to_row(job: &Job, update_time_us: i64) -> Result<job::ActiveModel, ServiceError> {
    let metrics: BTreeMap<&String, &f64> = job.metrics.iter().collect();
    Ok(job::ActiveModel {
        id: Set(job.id.clone()),
        kind: Set(job.kind.clone()),
        state: Set(job.state),
        progress: Set(job.progress),
        message: Set(job.message.clone()),
        model_version_id: Set(job.model_version_id.clone()),
        metrics_json: Set(serde_json::to_string(&metrics).map_err(ServiceError::internal)?),
        error: Set(job.error.clone()),
        create_time_us: Set(job.create_time.as_ref().map_or(update_time_us, super::ids::micros_of)),
        update_time_us: Set(update_time_us),
    })
}

fn from_row(row: job::Model) -> Result<Job, ServiceError> {
    let metrics: BTreeMap<String, f64> = serde_json::from_str(&row.metrics_json)
        .map_err(|error| ServiceError::internal(format!("jobs.metrics_json: {error}")))?;
    Ok(Job {
        id: row.id,
        kind: row.kind,
        state: row.state,
        progress: row.progress,
        message: row.message,
        model_version_id: row.model_version_id,
        metrics: metrics.into_iter().collect(),
        error: row.error,
        create_time: Some(timestamp(row.create_time_us)),
        update_time: Some(timestamp(row.update_time_us)),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn code_names_match_the_grpc_spelling() {
        assert_eq!(code_name(tonic::Code::FailedPrecondition), "FAILED_PRECONDITION");
        assert_eq!(code_name(tonic::Code::InvalidArgument), "INVALID_ARGUMENT");
    }
}
