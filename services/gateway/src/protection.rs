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
/// rule with a slow answer standing in for a lost packet).
///
/// The unloaded latency is the fastest answer seen in the last two windows
/// (a minimum stays honest under load, where some calls still meet an idle
/// backend). An answer slower than the budget cuts the limit by a quarter,
/// at most once per round trip: only a call started after the last cut
/// tells something new. Each answer within the budget while at least half
/// the limit is in flight adds 1/limit, so a limit in use grows by up to
/// one per round trip. Past the
/// limit a call gets RESOURCE_EXHAUSTED at once: shedding costs the gateway
/// almost nothing, where a queue would make every accepted call slow.
pub struct OverloadGuard {
    min_limit: f64,
    latency_factor: f64,
    state: Mutex<GuardState>,
}

/// How long one window of the fastest-answer estimate lasts.
const WINDOW: Duration = Duration::from_secs(10);
/// The limit before any answer has been seen.
const INITIAL_LIMIT: f64 = 32.0;
/// The highest limit; far above what one backend answers at once.
const MAX_LIMIT: f64 = 1_000.0;
/// What an answer over the budget leaves of the limit.
const BACKOFF: f64 = 0.75;

struct GuardState {
    in_flight: usize,
    limit: f64,
    window_started: Instant,
    /// Fastest answer in (the current window, the previous window).
    fastest: (Duration, Duration),
    /// When the limit was last cut: slow answers of calls started before
    /// then were caused by the load that cut it.
    last_cut: Instant,
}

impl OverloadGuard {
    pub fn new(min_limit: usize, latency_factor: f64, now: Instant) -> Self {
        let min_limit = min_limit.max(1) as f64;
        Self {
            min_limit,
            latency_factor: latency_factor.max(1.0),
            state: Mutex::new(GuardState {
                in_flight: 0,
                limit: INITIAL_LIMIT.max(min_limit),
                window_started: now,
                fastest: (Duration::MAX, Duration::MAX),
                last_cut: now,
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
        Some(InFlight { guard: self.clone(), started: now, counted: true })
    }

    /// Calls allowed in flight now.
    pub fn limit_now(&self) -> usize {
        self.state().limit.floor() as usize
    }

    fn complete(&self, started: Instant, now: Instant) {
        let mut state = self.state();
        // Only a limit in use is evidence that it could be higher.
        let in_use = state.in_flight as f64 * 2.0 >= state.limit.floor();
        state.in_flight = state.in_flight.saturating_sub(1);
        if now.saturating_duration_since(state.window_started) >= WINDOW {
            state.window_started = now;
            state.fastest = (Duration::MAX, state.fastest.0);
        }
        let latency = now.saturating_duration_since(started);
        state.fastest.0 = state.fastest.0.min(latency);
        let unloaded = state.fastest.0.min(state.fastest.1);
        if latency.as_secs_f64() > unloaded.as_secs_f64() * self.latency_factor {
            if started >= state.last_cut {
                state.limit = (state.limit * BACKOFF).max(self.min_limit);
                state.last_cut = now;
            }
        } else if in_use {
            state.limit = (state.limit + 1.0 / state.limit).min(MAX_LIMIT);
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

    #[test]
    fn the_guard_cuts_its_limit_on_slow_answers_once_per_round_trip_and_grows_while_answers_are_quick() {
        let start = Instant::now();
        let guard = Arc::new(OverloadGuard::new(2, 2.0, start));
        // Nothing measured yet: the initial limit.
        let calls: Vec<_> = (0..32).map(|_| guard.admit(start).expect("within the initial limit")).collect();
        assert!(guard.admit(start).is_none(), "the 33rd is shed");
        // The first answer sets the unloaded latency (1 ms); the rest of the
        // same round trip are over the 2 ms budget and cut the limit once.
        let mut now = start + Duration::from_millis(1);
        let mut calls = calls.into_iter();
        calls.next().expect("a call").complete(now);
        now += Duration::from_millis(4);
        for call in calls.by_ref().take(10) {
            call.complete(now);
        }
        assert_eq!(guard.limit_now(), 24, "one cut by a quarter for one round trip");
        // Calls started after the cut that are slow cut it again.
        let late: Vec<_> = (0..3).map(|_| guard.admit(now).expect("room")).collect();
        now += Duration::from_millis(5);
        for call in late {
            call.complete(now);
        }
        assert_eq!(guard.limit_now(), 18);
        drop(calls);
        // Never below the floor, however slow.
        for _ in 0..40 {
            let started = now;
            now += Duration::from_millis(10);
            guard.admit(started).expect("room").complete(now);
        }
        assert_eq!(guard.limit_now(), 2, "the floor");
        let first = guard.admit(now).expect("first");
        let second = guard.admit(now).expect("second");
        assert!(guard.admit(now).is_none(), "a third is shed");
        drop(first);
        assert!(guard.admit(now).is_some(), "an abandoned call frees its slot");
        drop(second);
        // Quick answers while the limit is in use raise it by one per round trip.
        for _ in 0..40 {
            let limit = guard.limit_now();
            let batch: Vec<_> = (0..limit).map_while(|_| guard.admit(now)).collect();
            assert_eq!(batch.len(), limit, "the whole limit is admitted");
            now += Duration::from_millis(1);
            for call in batch {
                call.complete(now);
            }
        }
        // Each answer adds 1/limit while at least half the limit is in flight:
        // between a half and one more per round trip.
        assert!((20..=42).contains(&guard.limit_now()), "grows by up to one per round trip: {}", guard.limit_now());
        // A trickle of quick calls does not raise an unused limit.
        let before = guard.limit_now();
        for _ in 0..100 {
            let started = now;
            now += Duration::from_millis(1);
            guard.admit(started).expect("room").complete(now);
        }
        assert_eq!(guard.limit_now(), before);
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
