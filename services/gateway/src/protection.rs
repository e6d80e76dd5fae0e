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

/// Sheds unary calls to one backend when more are in flight than it can
/// answer within `latency_factor` times its unloaded latency. By Little's
/// law, in flight = throughput × latency, so the limit is the backend's
/// recent peak throughput times that latency budget. The unloaded latency is
/// the lowest seen in the last two windows, the peak throughput the highest
/// rate of completions over ~100 ms in the same windows. Up to
/// `min_in_flight` calls are never shed, so light and bursty traffic passes
/// untouched; past the limit, callers get RESOURCE_EXHAUSTED at once rather
/// than a queue that makes every accepted call slow.
pub struct OverloadGuard {
    min_in_flight: usize,
    latency_factor: f64,
    state: Mutex<GuardState>,
}

const RATE_BUCKET: Duration = Duration::from_millis(100);
const WINDOW: Duration = Duration::from_secs(10);

struct GuardState {
    in_flight: usize,
    bucket_started: Instant,
    bucket_completions: u32,
    window_started: Instant,
    /// (current window, previous window)
    fastest: (Duration, Duration),
    peak_rate: (f64, f64),
}

impl OverloadGuard {
    pub fn new(min_in_flight: usize, latency_factor: f64, now: Instant) -> Self {
        Self {
            min_in_flight: min_in_flight.max(1),
            latency_factor: latency_factor.max(1.0),
            state: Mutex::new(GuardState {
                in_flight: 0,
                bucket_started: now,
                bucket_completions: 0,
                window_started: now,
                fastest: (Duration::MAX, Duration::MAX),
                peak_rate: (0.0, 0.0),
            }),
        }
    }

    fn state(&self) -> std::sync::MutexGuard<'_, GuardState> {
        self.state.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// Admits one call, or `None` when the backend has enough in flight.
    pub fn admit(self: &Arc<Self>, now: Instant) -> Option<InFlight> {
        let mut state = self.state();
        if state.in_flight >= self.limit(&state) {
            return None;
        }
        state.in_flight += 1;
        Some(InFlight { guard: self.clone(), started: now, counted: true })
    }

    /// Calls allowed in flight now.
    pub fn limit_now(&self) -> usize {
        self.limit(&self.state())
    }

    fn limit(&self, state: &GuardState) -> usize {
        let fastest = state.fastest.0.min(state.fastest.1);
        let peak_rate = state.peak_rate.0.max(state.peak_rate.1);
        if fastest == Duration::MAX {
            return usize::MAX;
        }
        let budget = fastest.as_secs_f64() * self.latency_factor;
        // Rounded, so float noise in 1,000/s x 2 ms does not make 3 of 2.
        let limit = (peak_rate * budget).round();
        // Saturating float-to-int conversion: a huge estimate means "no limit".
        (limit as usize).max(self.min_in_flight)
    }

    fn complete(&self, started: Instant, now: Instant) {
        let mut state = self.state();
        state.in_flight = state.in_flight.saturating_sub(1);
        if now.saturating_duration_since(state.window_started) >= WINDOW {
            state.window_started = now;
            state.fastest = (Duration::MAX, state.fastest.0);
            state.peak_rate = (0.0, state.peak_rate.0);
        }
        let latency = now.saturating_duration_since(started);
        state.fastest.0 = state.fastest.0.min(latency);
        state.bucket_completions += 1;
        let bucket = now.saturating_duration_since(state.bucket_started);
        if bucket >= RATE_BUCKET {
            let rate = f64::from(state.bucket_completions) / bucket.as_secs_f64();
            state.peak_rate.0 = state.peak_rate.0.max(rate);
            state.bucket_started = now;
            state.bucket_completions = 0;
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
    fn the_guard_sheds_past_peak_throughput_times_the_latency_budget() {
        let start = Instant::now();
        let guard = Arc::new(OverloadGuard::new(2, 2.0, start));
        // Nothing measured yet: no limit.
        let calls: Vec<_> = (0..50).map(|_| guard.admit(start).expect("unmeasured")).collect();
        // 1,000 calls/s answered in 1 ms each: a budget of 2 ms holds 2 in flight.
        let mut now = start;
        for call in calls {
            now += Duration::from_millis(1);
            call.complete(now);
        }
        for _ in 0..100 {
            let started = now;
            now += Duration::from_millis(1);
            guard.admit(started).expect("one at a time").complete(now);
        }
        assert_eq!(guard.limit_now(), 2, "1,000/s x 1 ms x 2");
        let first = guard.admit(now).expect("first");
        let second = guard.admit(now).expect("second");
        assert!(guard.admit(now).is_none(), "a third is shed");
        drop(first);
        assert!(guard.admit(now).is_some(), "an abandoned call frees its slot");
        drop(second);

        // While more in flight still answer in 1 ms, throughput and the limit grow together.
        for _ in 0..400 {
            let batch: Vec<_> = (0..8).map_while(|_| guard.admit(now)).collect();
            now += Duration::from_millis(1);
            for call in batch {
                call.complete(now);
            }
        }
        assert_eq!(guard.limit_now(), 16, "8 per ms at 1 ms, budget 2 ms");
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
