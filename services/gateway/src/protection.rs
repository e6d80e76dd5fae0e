//! What keeps one caller or one sick backend from hurting everyone else: a
//! token bucket per credential, a circuit breaker per backend, and a
//! per-backend overload guard that sheds calls instead of queueing them.

use std::collections::HashMap;
use std::sync::Arc;
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// Token buckets keyed by credential name: `rate` tokens a second, at most
/// `burst` saved up. A refused call learns how long until a token is back.
pub struct RateLimiter {
    rate: f64,
    burst: f64,
    buckets: Mutex<HashMap<Arc<str>, Bucket>>,
}

struct Bucket {
    tokens: f64,
    refilled: Instant,
}

impl RateLimiter {
    pub fn new(rate_per_second: f64, burst: f64) -> Self {
        Self {
            rate: rate_per_second.max(f64::MIN_POSITIVE),
            burst: burst.max(1.0),
            buckets: Mutex::new(HashMap::new()),
        }
    }

    /// Takes one token for `caller`, or says when to retry.
    pub fn acquire(&self, caller: &Arc<str>, now: Instant) -> Result<(), Duration> {
        let mut buckets = self.buckets.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        let bucket = buckets.entry(caller.clone()).or_insert_with(|| Bucket { tokens: self.burst, refilled: now });
        let elapsed = now.saturating_duration_since(bucket.refilled).as_secs_f64();
        bucket.tokens = (bucket.tokens + elapsed * self.rate).min(self.burst);
        bucket.refilled = now;
        if bucket.tokens >= 1.0 {
            bucket.tokens -= 1.0;
            Ok(())
        } else {
            Err(Duration::from_secs_f64((1.0 - bucket.tokens) / self.rate).max(Duration::from_millis(1)))
        }
    }
}

/// Closed while calls succeed; after `threshold` consecutive failures it opens
/// and fails calls at once for `cooldown`, then lets a single probe through:
/// its success closes the circuit, its failure opens it again.
pub struct CircuitBreaker {
    threshold: u32,
    cooldown: Duration,
    state: Mutex<BreakerState>,
}

#[derive(Default)]
struct BreakerState {
    consecutive_failures: u32,
    open_until: Option<Instant>,
    probing: bool,
}

impl CircuitBreaker {
    pub fn new(threshold: u32, cooldown: Duration) -> Self {
        Self { threshold: threshold.max(1), cooldown, state: Mutex::new(BreakerState::default()) }
    }

    fn state(&self) -> std::sync::MutexGuard<'_, BreakerState> {
        self.state.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// Whether a call may go to the backend now.
    pub fn admit(&self, now: Instant) -> bool {
        let mut state = self.state();
        match state.open_until {
            None => true,
            Some(until) if now < until => false,
            // Half-open: one probe at a time.
            Some(_) => !std::mem::replace(&mut state.probing, true),
        }
    }

    pub fn record_success(&self) {
        let mut state = self.state();
        if state.consecutive_failures != 0 || state.open_until.is_some() {
            *state = BreakerState::default();
        }
    }

    pub fn record_failure(&self, now: Instant) {
        let mut state = self.state();
        state.consecutive_failures = state.consecutive_failures.saturating_add(1);
        if state.probing || state.consecutive_failures >= self.threshold {
            state.open_until = Some(now + self.cooldown);
            state.probing = false;
        }
    }
}

/// Sheds unary calls to one RPC of a backend once more are in flight than it
/// answers within `latency_factor` times its unloaded latency: an adaptive
/// concurrency limit, additive increase and multiplicative decrease on
/// latency (the "AIMD" limit of Netflix's concurrency-limits, TCP Reno's
/// rule with a slow window standing in for a lost packet).
///
/// Latency is judged per window of [`WINDOW_SAMPLES`] answers by its mean:
/// single answers on a shared machine are too noisy (one descheduled call
/// is several times the typical one, and cutting on it starves a healthy
/// backend). The unloaded latency is the lowest window mean of the last two
/// [`BASELINE_PERIOD`]s — even under load the limit's floor keeps probing
/// it, and a backend that has really become slower resets it within two
/// periods. A window over the budget cuts the limit by a quarter and starts
/// a new round: answers to calls started before the cut are not counted,
/// since the load that caused the cut slowed them. A window within the
/// budget while at least half the limit was in flight raises it by
/// [`INCREASE`]: a slow climb, because every step past the right limit
/// costs a window of slow answers, and under overload those windows are
/// the accepted calls' tail. Past the limit a call gets RESOURCE_EXHAUSTED
/// at once: shedding costs the gateway almost nothing, where a queue would
/// make every accepted call slow.
///
/// With a budget of twice the unloaded latency the limit settles near twice
/// the concurrency at which the backend saturates: full throughput, and
/// accepted calls at most about twice as slow as unloaded ones. The default
/// budget is 1.5 (the tolerance Netflix's Gradient2 limit uses): under
/// overload the gateway's own refusals and the backend share the machine,
/// and a tighter budget keeps the accepted calls' p99, not just their mean,
/// near the unloaded one.
pub struct OverloadGuard {
    min_limit: f64,
    latency_factor: f64,
    latency_slack: Duration,
    state: Mutex<GuardState>,
}

/// Answers per judgement of the latency.
const WINDOW_SAMPLES: u32 = 16;
/// How long one period of the unloaded-latency estimate lasts.
const BASELINE_PERIOD: Duration = Duration::from_secs(10);
/// The limit before any answer has been seen.
const INITIAL_LIMIT: f64 = 32.0;
/// The highest limit; far above what one backend answers at once.
const MAX_LIMIT: f64 = 1_000.0;
/// The shortest wait a shed caller is asked for.
const MIN_RETRY_AFTER: Duration = Duration::from_millis(1);
/// What a window over the budget leaves of the limit.
const BACKOFF: f64 = 0.75;
/// What a quick window with the limit in use adds to it: a quarter call, so
/// the limit moves up one call every four windows (64 answers).
const INCREASE: f64 = 0.25;

struct GuardState {
    in_flight: usize,
    limit: f64,
    /// Calls started before this instant ran under an older limit.
    round_started: Instant,
    window: Window,
    period_started: Instant,
    /// Lowest window mean in (the current period, the previous period).
    lowest_mean: (Duration, Duration),
}

#[derive(Default)]
struct Window {
    samples: u32,
    total: Duration,
    most_in_flight: usize,
}

impl OverloadGuard {
    /// `latency_slack`: a window is never judged slow for being less than
    /// this over the unloaded latency. Below a millisecond, wake-up jitter on
    /// a shared host is a large fraction of an answer, and a budget of a
    /// factor alone would shed a lightly loaded backend.
    pub fn new(min_limit: usize, latency_factor: f64, latency_slack: Duration, now: Instant) -> Self {
        let min_limit = min_limit.max(1) as f64;
        Self {
            min_limit,
            latency_factor: latency_factor.max(1.0),
            latency_slack,
            state: Mutex::new(GuardState {
                in_flight: 0,
                limit: INITIAL_LIMIT.max(min_limit),
                round_started: now,
                window: Window::default(),
                period_started: now,
                lowest_mean: (Duration::MAX, Duration::MAX),
            }),
        }
    }

    fn state(&self) -> std::sync::MutexGuard<'_, GuardState> {
        self.state.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// Admits one call, or `None` when the backend has enough in flight.
    pub fn admit(self: &Arc<Self>, now: Instant) -> Option<InFlight> {
        let mut state = self.state();
        if state.in_flight as f64 >= state.limit.floor() {
            return None;
        }
        state.in_flight += 1;
        state.window.most_in_flight = state.window.most_in_flight.max(state.in_flight);
        Some(InFlight { guard: self.clone(), started: now, counted: true })
    }

    /// Calls allowed in flight now.
    pub fn limit_now(&self) -> usize {
        self.state().limit.floor() as usize
    }

    /// How long a shed caller should wait: the latency budget, about when
    /// an admitted call frees its slot (at least a millisecond).
    pub fn retry_after(&self) -> Duration {
        let state = self.state();
        let unloaded = state.lowest_mean.0.min(state.lowest_mean.1);
        if unloaded == Duration::MAX {
            return MIN_RETRY_AFTER;
        }
        self.budget(unloaded).max(MIN_RETRY_AFTER)
    }

    /// The slowest window mean that is not overload.
    fn budget(&self, unloaded: Duration) -> Duration {
        unloaded.mul_f64(self.latency_factor).max(unloaded.saturating_add(self.latency_slack))
    }

    fn complete(&self, started: Instant, now: Instant) {
        let mut state = self.state();
        state.in_flight = state.in_flight.saturating_sub(1);
        if started < state.round_started {
            return;
        }
        state.window.samples += 1;
        state.window.total += now.saturating_duration_since(started);
        if state.window.samples < WINDOW_SAMPLES {
            return;
        }
        let next = Window { most_in_flight: state.in_flight, ..Window::default() };
        let window = std::mem::replace(&mut state.window, next);
        let mean = window.total / window.samples;
        if now.saturating_duration_since(state.period_started) >= BASELINE_PERIOD {
            state.period_started = now;
            state.lowest_mean = (Duration::MAX, state.lowest_mean.0);
        }
        state.lowest_mean.0 = state.lowest_mean.0.min(mean);
        let unloaded = state.lowest_mean.0.min(state.lowest_mean.1);
        let limit = state.limit.floor();
        if mean > self.budget(unloaded) {
            state.limit = (state.limit * BACKOFF).max(self.min_limit);
            state.round_started = now;
        } else if window.most_in_flight as f64 * 2.0 >= limit {
            state.limit = (state.limit + INCREASE).min(MAX_LIMIT);
        }
    }

    fn abandon(&self) {
        let mut state = self.state();
        state.in_flight = state.in_flight.saturating_sub(1);
    }
}

/// One admitted call. [`InFlight::complete`] when the backend has answered
/// (its latency then counts); dropping it otherwise only frees the slot.
pub struct InFlight {
    guard: Arc<OverloadGuard>,
    started: Instant,
    counted: bool,
}

impl InFlight {
    pub fn complete(mut self, now: Instant) {
        self.counted = false;
        self.guard.complete(self.started, now);
    }
}

impl Drop for InFlight {
    fn drop(&mut self) {
        if self.counted {
            self.guard.abandon();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_bucket_allows_its_burst_then_the_rate() {
        let limiter = RateLimiter::new(10.0, 3.0);
        let caller: Arc<str> = Arc::from("ci");
        let start = Instant::now();
        for _ in 0..3 {
            assert!(limiter.acquire(&caller, start).is_ok());
        }
        let wait = limiter.acquire(&caller, start).expect_err("burst spent");
        assert!(wait > Duration::from_millis(90) && wait <= Duration::from_millis(100), "{wait:?}");
        assert!(limiter.acquire(&caller, start + Duration::from_millis(100)).is_ok());
        // Another credential has its own bucket.
        assert!(limiter.acquire(&Arc::from("other"), start).is_ok());
    }

    /// Admits `count` calls at `at` and answers them all `latency` later.
    fn answer(guard: &Arc<OverloadGuard>, count: usize, at: Instant, latency: Duration) -> Instant {
        let calls: Vec<_> = (0..count).map(|_| guard.admit(at).expect("within the limit")).collect();
        for call in calls {
            call.complete(at + latency);
        }
        at + latency
    }

    #[test]
    fn the_guard_cuts_its_limit_on_slow_windows_and_grows_while_they_are_quick() {
        let ms = Duration::from_millis;
        let start = Instant::now();
        let guard = Arc::new(OverloadGuard::new(2, 2.0, Duration::ZERO, start));
        // Nothing measured yet: the initial limit.
        let held: Vec<_> = (0..32).map(|_| guard.admit(start).expect("within the initial limit")).collect();
        assert!(guard.admit(start).is_none(), "the 33rd is shed");
        drop(held);
        assert!(guard.admit(start).is_some(), "abandoned calls free their slots");

        // Four windows of 16 quick answers with the limit in use: one more.
        let mut now = start;
        for window in 1..=4 {
            now = answer(&guard, 16, now, ms(1));
            assert_eq!(guard.limit_now(), if window < 4 { 32 } else { 33 }, "after window {window}");
        }
        assert_eq!(guard.retry_after(), ms(2), "a shed caller waits the latency budget");
        // One slow answer in a window is noise, not overload: the mean decides.
        let calls: Vec<_> = (0..17).map(|_| guard.admit(now).expect("room")).collect();
        let mut calls = calls.into_iter();
        calls.next().expect("a call").complete(now + ms(4));
        for call in calls.by_ref().take(15) {
            call.complete(now + ms(1));
        }
        assert_eq!(guard.limit_now(), 33, "a mean of 1.19 ms is within the 2 ms budget (33.25)");
        drop(calls);
        now += ms(4);

        // A slow window cuts the limit by a quarter and starts a new round.
        let before_the_cut = guard.admit(now).expect("room");
        now = answer(&guard, 16, now, ms(5));
        assert_eq!(guard.limit_now(), 24, "33.25 * 0.75");
        // Answers to calls started before the cut are not counted.
        before_the_cut.complete(now + ms(50));
        for _ in 0..15 {
            let started = now;
            now += ms(1);
            guard.admit(started).expect("room").complete(now);
        }
        assert_eq!(guard.limit_now(), 24, "15 answers of the new round: no window yet");

        // Never below the floor, however slow.
        for _ in 0..100 {
            now = answer(&guard, 2, now, ms(10));
        }
        assert_eq!(guard.limit_now(), 2, "the floor");
        let first = guard.admit(now).expect("first");
        let _second = guard.admit(now).expect("second");
        assert!(guard.admit(now).is_none(), "a third is shed");
        drop(first);
        assert!(guard.admit(now).is_some(), "an abandoned call frees its slot");
    }

    #[test]
    fn sub_millisecond_answers_get_the_slack_not_just_the_factor() {
        let us = Duration::from_micros;
        let start = Instant::now();
        let guard = Arc::new(OverloadGuard::new(1, 1.5, us(500), start));
        let mut now = answer(&guard, 16, start, us(200));
        let limit = guard.limit_now();
        // Three times the unloaded 0.2 ms, but within 0.2 + 0.5 ms: jitter, not overload.
        now = answer(&guard, 16, now, us(600));
        assert_eq!(guard.limit_now(), limit, "no cut at 0.6 ms");
        assert_eq!(guard.retry_after(), us(1_000), "the 0.7 ms budget, but at least a millisecond");
        answer(&guard, 16, now, us(800));
        assert!(guard.limit_now() < limit, "0.8 ms is over the 0.7 ms budget");
    }

    #[test]
    fn the_limit_grows_only_while_in_use_and_settles_where_latency_doubles() {
        let ms = Duration::from_millis;
        let start = Instant::now();
        let guard = Arc::new(OverloadGuard::new(2, 2.0, Duration::ZERO, start));
        // A trickle of quick calls, one at a time, does not raise the limit.
        let mut now = start;
        for _ in 0..160 {
            let started = now;
            now += ms(1);
            guard.admit(started).expect("room").complete(now);
        }
        assert_eq!(guard.limit_now(), 32);
        // A backend that answers 4 calls at once in 1 ms, and queues the
        // rest: n in flight take n/4 ms. The limit ends up near 8, where
        // latency is twice the unloaded 1 ms.
        for _ in 0..2_000 {
            let in_flight = guard.limit_now();
            let latency = Duration::from_secs_f64(1e-3 * (in_flight as f64 / 4.0).max(1.0));
            now = answer(&guard, in_flight, now, latency);
        }
        let settled = guard.limit_now();
        assert!((6..=9).contains(&settled), "settles near twice the saturating concurrency: {settled}");
    }

    #[test]
    fn the_breaker_opens_after_consecutive_failures_and_probes_after_the_cooldown() {
        let breaker = CircuitBreaker::new(3, Duration::from_secs(1));
        let start = Instant::now();
        breaker.record_failure(start);
        breaker.record_failure(start);
        breaker.record_success();
        breaker.record_failure(start);
        breaker.record_failure(start);
        assert!(breaker.admit(start), "a success resets the count");
        breaker.record_failure(start);
        assert!(!breaker.admit(start), "open after three in a row");
        let later = start + Duration::from_secs(1);
        assert!(breaker.admit(later), "one probe after the cooldown");
        assert!(!breaker.admit(later), "only one");
        breaker.record_failure(later);
        assert!(!breaker.admit(later + Duration::from_millis(500)), "a failed probe reopens");
        let much_later = later + Duration::from_secs(1);
        assert!(breaker.admit(much_later));
        breaker.record_success();
        assert!(breaker.admit(much_later) && breaker.admit(much_later), "closed again");
    }
}
