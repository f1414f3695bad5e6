//! The SIEM's circuit breaker: after `failure_threshold` failures in a row
//! the SIEM is not called for `recovery_timeout`; then up to
//! `half_open_max_calls` probes decide whether it closes again.

use std::time::{Duration, Instant};

use parking_lot::Mutex;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum State {
    Closed,
    Open,
    HalfOpen,
}

impl State {
    pub fn name(self) -> &'static str {
        match self {
            State::Closed => "closed",
            State::Open => "open",
            State::HalfOpen => "half_open",
        }
    }
}

struct Inner {
    state: State,
    failures: u32,
    opened_at: Option<Instant>,
    half_open_calls: u32,
}

pub struct CircuitBreaker {
    failure_threshold: u32,
    recovery_timeout: Duration,
    half_open_max_calls: u32,
    inner: Mutex<Inner>,
}

impl CircuitBreaker {
    pub fn new(
        failure_threshold: u32,
        recovery_timeout: Duration,
        half_open_max_calls: u32,
    ) -> Self {
        CircuitBreaker {
            failure_threshold: failure_threshold.max(1),
            recovery_timeout,
            half_open_max_calls: half_open_max_calls.max(1),
            inner: Mutex::new(Inner {
                state: State::Closed,
                failures: 0,
                opened_at: None,
                half_open_calls: 0,
            }),
        }
    }

    fn lock(&self) -> parking_lot::MutexGuard<'_, Inner> {
        self.inner.lock()
    }

    pub fn state(&self) -> State {
        self.lock().state
    }

    /// Whether a call may go ahead now (moving open to half-open when the
    /// recovery time has passed).
    pub fn can_execute(&self) -> bool {
        let mut i = self.lock();
        match i.state {
            State::Closed => true,
            State::Open => {
                if i.opened_at
                    .is_some_and(|t| t.elapsed() >= self.recovery_timeout)
                {
                    i.state = State::HalfOpen;
                    i.half_open_calls = 1;
                    true
                } else {
                    false
                }
            }
            State::HalfOpen => {
                if i.half_open_calls < self.half_open_max_calls {
                    i.half_open_calls += 1;
                    true
                } else {
                    false
                }
            }
        }
    }

    pub fn record_success(&self) {
        let mut i = self.lock();
        if i.state != State::Closed {
            tracing::info!(breaker = "siem", "Circuit breaker closed");
        }
        i.state = State::Closed;
        i.failures = 0;
        i.half_open_calls = 0;
        i.opened_at = None;
    }

    pub fn record_failure(&self) {
        let mut i = self.lock();
        i.failures += 1;
        if i.state == State::HalfOpen || i.failures >= self.failure_threshold {
            if i.state != State::Open {
                tracing::warn!(
                    breaker = "siem",
                    failures = i.failures,
                    "Circuit breaker opened"
                );
            }
            i.state = State::Open;
            i.opened_at = Some(Instant::now());
            i.half_open_calls = 0;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn opens_after_the_threshold_and_recovers_through_half_open() {
        let b = CircuitBreaker::new(2, Duration::from_millis(20), 1);
        assert!(b.can_execute());
        b.record_failure();
        assert_eq!(b.state(), State::Closed);
        b.record_failure();
        assert_eq!(b.state(), State::Open);
        assert!(!b.can_execute());
        std::thread::sleep(Duration::from_millis(25));
        assert!(b.can_execute());
        assert_eq!(b.state(), State::HalfOpen);
        assert!(!b.can_execute(), "only one probe while half-open");
        b.record_failure();
        assert_eq!(b.state(), State::Open);
        std::thread::sleep(Duration::from_millis(25));
        assert!(b.can_execute());
        b.record_success();
        assert_eq!(b.state(), State::Closed);
    }
}
