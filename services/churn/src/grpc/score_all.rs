//! ScoreAll: scores every customer with a purchase with the active model, as
//! a job, storing the scores as a new run that replaces the previous one
//! when it completes. One run at a time per replica: a call while one runs
//! streams that run.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};

use futures::StreamExt;
use patron_common::registry::{JobHandle, LoadedModel};
use patron_common::{ServiceError, Validator};
use patron_proto::churn::v1 as pb;
use patron_proto::common::v1::{Job, JobState};
use prost::Message;
use tokio::sync::watch;

use crate::domain::model::Engine;
use crate::grpc::{ChurnApi, ResponseStream, parse, render};
use crate::profile::ExportQuery;
use crate::store::scores::{self, StoredScore};
use crate::time::now_micros;

/// Rows per committed batch.
const BATCH: usize = 500;

/// The run in progress on this replica, if any.
#[derive(Clone, Default)]
pub struct Runner {
    current: Arc<Mutex<Option<watch::Receiver<pb::ScoreAllResponse>>>>,
}

fn is_terminal(job: Option<&Job>) -> bool {
    job.is_some_and(|job| {
        [JobState::Succeeded, JobState::Failed, JobState::Cancelled].iter().any(|s| *s as i32 == job.state)
    })
}

/// The receiver's current value, then every change, ending after a terminal job.
fn follow(receiver: watch::Receiver<pb::ScoreAllResponse>) -> ResponseStream<pb::ScoreAllResponse> {
    let stream = futures::stream::unfold((receiver, true, false), |(mut receiver, first, done)| async move {
        if done {
            return None;
        }
        if !first && receiver.changed().await.is_err() {
            // The run's task ended without a terminal report; its last state stands.
            let last = receiver.borrow().clone();
            return (!is_terminal(last.job.as_ref())).then_some((Ok(last), (receiver, false, true)));
        }
        let value = receiver.borrow_and_update().clone();
        let done = is_terminal(value.job.as_ref());
        Some((Ok(value), (receiver, false, done)))
    });
    Box::pin(stream)
}

impl ChurnApi {
    pub(super) async fn score_all(
        &self,
        request: pb::ScoreAllRequest,
    ) -> Result<ResponseStream<pb::ScoreAllResponse>, ServiceError> {
        let mut v = Validator::new();
        parse::request_id(&mut v, &request.request_id);
        v.finish()?;
        let first = self.requests.once(&request.request_id, "ScoreAll", &request, self.start_or_join()).await?;
        let job_id = first.job.as_ref().map(|job| job.id.clone()).unwrap_or_default();
        let live = self
            .score_runs
            .current
            .lock()
            .ok()
            .and_then(|current| current.clone())
            .filter(|receiver| receiver.borrow().job.as_ref().is_some_and(|job| job.id == job_id));
        if let Some(receiver) = live {
            return Ok(follow(receiver));
        }
        // A run that ended, or one another replica runs: follow its job.
        let db = self.db.clone();
        let model_id = first.model_id.clone();
        let jobs = self.jobs.watch(&job_id).await?;
        Ok(Box::pin(jobs.then(move |job| {
            let db = db.clone();
            let model_id = model_id.clone();
            async move {
                let job = job?;
                let run = scores::run_of_job(&db, &job.id).await.map_err(tonic::Status::from)?;
                Ok(pb::ScoreAllResponse {
                    model_id,
                    total_count: run.as_ref().map_or(0, |r| r.total_count),
                    scored_count: run.as_ref().map_or(0, |r| r.scored_count),
                    skipped_count: run.as_ref().map_or(0, |r| r.skipped_count),
                    job: Some(job),
                })
            }
        })))
    }

    async fn start_or_join(&self) -> Result<pb::ScoreAllResponse, ServiceError> {
        if let Some(running) = self.running() {
            return Ok(running);
        }
        let loaded = self.engine("").await?;
        let job = self.jobs.start("score_all").await?;
        let first =
            pb::ScoreAllResponse { job: Some(job.job()), model_id: loaded.version.id.clone(), ..Default::default() };
        let (sender, receiver) = watch::channel(first.clone());
        // Another call may have started a run meanwhile: join it instead.
        let joined = {
            let mut current = self.score_runs.current.lock().map_err(|_| ServiceError::internal("runner lock"))?;
            match current.as_ref().filter(|r| !is_terminal(r.borrow().job.as_ref())) {
                Some(other) => Some(other.borrow().clone()),
                None => {
                    *current = Some(receiver);
                    None
                }
            }
        };
        if let Some(running) = joined {
            job.fail(&ServiceError::FailedPrecondition("another ScoreAll run started first".to_owned())).await;
            return Ok(running);
        }
        tokio::spawn(self.clone().run_scoring(job, loaded, sender));
        Ok(first)
    }

    fn running(&self) -> Option<pb::ScoreAllResponse> {
        let current = self.score_runs.current.lock().ok()?;
        let value = current.as_ref()?.borrow().clone();
        (!is_terminal(value.job.as_ref())).then_some(value)
    }

    async fn run_scoring(
        self,
        job: JobHandle,
        loaded: Arc<LoadedModel<Engine>>,
        sender: watch::Sender<pb::ScoreAllResponse>,
    ) {
        let run_id = format!("run-{}", job.id());
        let mut counts = (0i64, 0i64, 0i64);
        let outcome = self.score_and_store(&job, &loaded, &sender, &run_id, &mut counts).await;
        let job_id = job.id();
        match outcome {
            Ok(()) => {
                let metrics = BTreeMap::from([
                    ("total_count".to_owned(), counts.0 as f64),
                    ("scored_count".to_owned(), counts.1 as f64),
                    ("skipped_count".to_owned(), counts.2 as f64),
                ]);
                job.succeed(None, metrics).await;
            }
            Err(error) => {
                if let Err(cleanup) = scores::abandon_run(&self.db, &run_id).await {
                    tracing::warn!(error = %cleanup, "could not remove the rows of a failed score run");
                }
                job.fail(&error).await;
            }
        }
        let final_job = self.jobs.get(&job_id).await.ok();
        sender.send_modify(|response| {
            response.job = final_job;
            response.total_count = counts.0;
            response.scored_count = counts.1;
            response.skipped_count = counts.2;
        });
    }

    async fn score_and_store(
        &self,
        job: &JobHandle,
        loaded: &Arc<LoadedModel<Engine>>,
        sender: &watch::Sender<pb::ScoreAllResponse>,
        run_id: &str,
        counts: &mut (i64, i64, i64),
    ) -> Result<(), ServiceError> {
        let s = &loaded.model.model.settings;
        // Before the export is read: customers erased from here on are left out.
        let erasures = self.erasures.watch_run();
        job.progress(0.01, "exporting customers from the profile service");
        let now = now_micros();
        let query = ExportQuery {
            as_of_us: now,
            time_unit: s.time_unit,
            currency_code: &s.currency_code,
            customer_ids: &[],
            include_non_buyers: false,
        };
        let snapshots = self.profile.export(&query, |_| {}).await?;
        counts.0 = snapshots.len() as i64;
        scores::start_run(&self.db, run_id, &job.id(), &loaded.version.id, counts.0).await?;
        job.progress(0.1, format!("scoring {} customers", counts.0));

        let model = Arc::clone(loaded);
        let rows = tokio::task::spawn_blocking(move || {
            let outcomes = model.model.score_many(&snapshots);
            snapshots
                .iter()
                .zip(outcomes)
                .map(|(snapshot, outcome)| {
                    let outcome = outcome.ok()?;
                    let score =
                        render::customer_score(&model.version.id, &model.model.model, snapshot, &outcome, now, now);
                    Some(StoredScore {
                        customer_id: snapshot.customer_id.clone(),
                        risk_band: score.risk_band,
                        value_at_risk_minor: outcome.value_at_risk_minor,
                        region: snapshot.region.clone(),
                        score: score.encode_to_vec(),
                    })
                })
                .collect::<Vec<_>>()
        })
        .await
        .map_err(ServiceError::internal)?;

        let scored: Vec<StoredScore> = rows.into_iter().flatten().collect();
        counts.2 = counts.0 - scored.len() as i64;
        let total = scored.len().max(1) as f64;
        let mut written = 0usize;
        let mut batches = scored.into_iter().peekable();
        while batches.peek().is_some() {
            let batch: Vec<StoredScore> = batches.by_ref().take(BATCH).collect();
            written += batch.len();
            scores::insert(&self.db, run_id, batch).await?;
            counts.1 = written as i64;
            job.progress(0.1 + 0.9 * written as f64 / total, format!("stored {written} scores"));
            let snapshot = job.job();
            sender.send_modify(|response| {
                response.job = Some(snapshot);
                response.total_count = counts.0;
                response.scored_count = counts.1;
                response.skipped_count = counts.2;
            });
        }
        let (_no_forget_meanwhile, forgotten) = erasures.forgotten().await;
        scores::complete_run(&self.db, run_id, counts.1, counts.2, &forgotten).await
    }
}
