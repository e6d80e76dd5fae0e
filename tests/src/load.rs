//! gRPC load generators. Closed loop: `concurrency` workers each send the
//! next call as soon as the previous one answers, for a fixed duration — or,
//! after a RESOURCE_EXHAUSTED carrying a RetryInfo, once its delay has
//! passed, as a well-behaved client does (a worker that retried at once
//! would only measure how fast the server can refuse). Open
//! loop: calls start at a fixed rate whatever the answers, and each latency
//! is measured from when the call was due, so a stall shows up in the tail
//! instead of silently lowering the load.

use std::future::Future;
use std::time::{Duration, Instant};

use tonic::Code;

#[derive(Debug, Clone)]
pub struct LoadReport {
    pub calls: usize,
    pub errors: usize,
    pub codes: std::collections::BTreeMap<String, usize>,
    /// One message per error code seen in the open loop, to tell where errors come from.
    pub samples: std::collections::BTreeMap<String, String>,
    pub elapsed: Duration,
    pub p50: Duration,
    pub p90: Duration,
    pub p99: Duration,
    pub max: Duration,
    /// Open loop only: latencies of the calls answered OK, sorted, each from
    /// when it was sent (not when it was due): the service time of the calls
    /// a server accepted, without the generator's own lag.
    pub accepted: Vec<Duration>,
    /// RESOURCE_EXHAUSTED answers that said when to retry (RetryInfo).
    pub retry_hints: usize,
}

impl LoadReport {
    pub fn throughput(&self) -> f64 {
        self.calls as f64 / self.elapsed.as_secs_f64()
    }

    /// Calls answered OK per second.
    pub fn ok_throughput(&self) -> f64 {
        self.codes.get("Ok").copied().unwrap_or(0) as f64 / self.elapsed.as_secs_f64()
    }
}

/// Runs `call` from `concurrency` workers for `duration`.
pub async fn closed_loop<F, Fut>(concurrency: usize, duration: Duration, call: F) -> LoadReport
where
    F: Fn() -> Fut + Clone + Send + 'static,
    Fut: Future<Output = Result<(), tonic::Status>> + Send,
{
    let started = Instant::now();
    let deadline = started + duration;
    let workers: Vec<_> = (0..concurrency)
        .map(|_| {
            let call = call.clone();
            tokio::spawn(async move {
                let mut latencies = Vec::new();
                let mut codes = Vec::new();
                let mut retry_hints = 0;
                while Instant::now() < deadline {
                    let sent = Instant::now();
                    let outcome = call().await;
                    latencies.push(sent.elapsed());
                    codes.push(outcome.as_ref().map(|()| Code::Ok).unwrap_or_else(tonic::Status::code));
                    if let Some(delay) = outcome.err().as_ref().and_then(retry_delay) {
                        retry_hints += 1;
                        tokio::time::sleep(delay.min(deadline.saturating_duration_since(Instant::now()))).await;
                    }
                }
                (latencies, codes, retry_hints)
            })
        })
        .collect();
    let mut latencies = Vec::new();
    let mut codes = std::collections::BTreeMap::new();
    let mut retry_hints = 0;
    for worker in workers {
        let Ok((worker_latencies, worker_codes, worker_hints)) = worker.await else { continue };
        retry_hints += worker_hints;
        latencies.extend(worker_latencies);
        for code in worker_codes {
            *codes.entry(format!("{code:?}")).or_insert(0) += 1;
        }
    }
    LoadReport { retry_hints, ..summarize(latencies, codes, started.elapsed()) }
}

/// The delay a RESOURCE_EXHAUSTED asks for in its RetryInfo.
fn retry_delay(status: &tonic::Status) -> Option<Duration> {
    use tonic_types::StatusExt;
    if status.code() != Code::ResourceExhausted {
        return None;
    }
    status.get_details_retry_info()?.retry_delay
}

/// Starts `call` `rate` times a second for `duration`, each in its own task.
pub async fn open_loop<F, Fut>(rate: f64, duration: Duration, call: F) -> LoadReport
where
    F: Fn() -> Fut + Send + 'static,
    Fut: Future<Output = Result<(), tonic::Status>> + Send + 'static,
{
    let started = Instant::now();
    let interval = Duration::from_secs_f64(1.0 / rate.max(1.0));
    let total = (duration.as_secs_f64() * rate).round() as usize;
    let mut tasks = Vec::with_capacity(total);
    for index in 0..total {
        let due = started + interval.mul_f64(index as f64);
        tokio::time::sleep_until(due.into()).await;
        let outcome = call();
        tasks.push(tokio::spawn(async move {
            let sent = Instant::now();
            let outcome = outcome.await;
            (due.elapsed(), sent.elapsed(), outcome.err())
        }));
    }
    let mut latencies = Vec::with_capacity(total);
    let mut accepted = Vec::with_capacity(total);
    let mut codes = std::collections::BTreeMap::new();
    let mut samples = std::collections::BTreeMap::new();
    let mut retry_hints = 0;
    for task in tasks {
        let Ok((latency, service_time, error)) = task.await else { continue };
        latencies.push(latency);
        if error.is_none() {
            accepted.push(service_time);
        }
        let code = format!("{:?}", error.as_ref().map_or(Code::Ok, tonic::Status::code));
        if let Some(status) = error {
            retry_hints += usize::from(retry_delay(&status).is_some());
            samples.entry(code.clone()).or_insert_with(|| describe(&status));
        }
        *codes.entry(code).or_insert(0) += 1;
    }
    let mut report = summarize(latencies, codes, started.elapsed());
    report.samples = samples;
    accepted.sort_unstable();
    report.accepted = accepted;
    report.retry_hints = retry_hints;
    report
}

/// One step of [`saturating_throughput`]'s ramp.
#[derive(Debug, Clone, Copy)]
pub struct RampStep {
    pub offered: f64,
    pub answered_ok: f64,
}

/// The saturating throughput of `call`: the most calls a second answered OK
/// under any offered rate. Open-loop steps of `step` each, from `start`
/// calls/s up by half each time, until the OK rate falls below 80% of the
/// offered one (the server no longer keeps up) or `ceiling` is passed.
///
/// A closed loop cannot find it through a server that sheds: its workers
/// wait out every refusal's RetryInfo, so it measures the shedding policy's
/// pace, not what the server can answer.
pub async fn saturating_throughput<F, Fut>(start: f64, ceiling: f64, step: Duration, call: F) -> (f64, Vec<RampStep>)
where
    F: Fn() -> Fut + Clone + Send + 'static,
    Fut: Future<Output = Result<(), tonic::Status>> + Send + 'static,
{
    let mut steps = Vec::new();
    let mut offered = start.max(1.0);
    loop {
        let report = open_loop(offered, step, call.clone()).await;
        let answered_ok = report.ok_throughput();
        steps.push(RampStep { offered, answered_ok });
        if answered_ok < 0.8 * offered || offered > ceiling {
            break;
        }
        offered *= 1.5;
    }
    let saturating = steps.iter().map(|step| step.answered_ok).fold(0.0, f64::max);
    (saturating, steps)
}

/// A status's message with the chain of errors under it: tonic says only
/// "transport error" for a failed connection, and the cause is below.
fn describe(status: &tonic::Status) -> String {
    let mut text = status.message().to_owned();
    let mut source = std::error::Error::source(status);
    while let Some(error) = source {
        text.push_str(": ");
        text.push_str(&error.to_string());
        source = error.source();
    }
    text
}

/// The `q` quantile of sorted latencies (nearest rank); zero when empty.
pub fn quantile(sorted: &[Duration], q: f64) -> Duration {
    if sorted.is_empty() {
        return Duration::ZERO;
    }
    let index = ((sorted.len() as f64 * q).ceil() as usize).clamp(1, sorted.len()) - 1;
    sorted[index]
}

fn summarize(
    mut latencies: Vec<Duration>,
    codes: std::collections::BTreeMap<String, usize>,
    elapsed: Duration,
) -> LoadReport {
    latencies.sort_unstable();
    let quantile = |q: f64| quantile(&latencies, q);
    LoadReport {
        calls: latencies.len(),
        errors: codes.iter().filter(|(code, _)| code.as_str() != "Ok").map(|(_, count)| count).sum(),
        p50: quantile(0.50),
        p90: quantile(0.90),
        p99: quantile(0.99),
        max: latencies.last().copied().unwrap_or_default(),
        codes,
        samples: Default::default(),
        accepted: Vec::new(),
        retry_hints: 0,
        elapsed,
    }
}
