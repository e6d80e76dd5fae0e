//! What keeps one caller or one sick backend from hurting everyone else: a
//! token bucket per credential and a circuit breaker per backend.

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
