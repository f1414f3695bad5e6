//! The SIEM's retry policy: exponential backoff with jitter, retrying only
//! what may succeed on a second try.

use std::future::Future;
use std::time::Duration;

use rand::Rng;

use super::SiemError;
use crate::config::raw::RetrySection;

#[derive(Clone, Debug)]
pub struct RetryPolicy {
    pub max_attempts: u32,
    pub initial: Duration,
    pub max: Duration,
    pub jitter: bool,
}

impl RetryPolicy {
    pub fn from_config(r: &RetrySection) -> Self {
        RetryPolicy {
            max_attempts: r.max_attempts.max(1),
            initial: Duration::from_secs_f64(r.backoff_seconds.max(0.0)),
            max: Duration::from_secs_f64(r.max_backoff_seconds.max(0.0)),
            jitter: r.jitter,
        }
    }

    /// The delay before retry number `retry` (0 for the first retry).
    pub fn delay(&self, retry: u32) -> Duration {
        let base = self
            .initial
            .saturating_mul(2u32.saturating_pow(retry.min(20)))
            .min(self.max);
        if self.jitter && !base.is_zero() {
            base.mul_f64(rand::rng().random_range(0.5..=1.0))
        } else {
            base
        }
    }

    /// Runs `op` until it succeeds, fails for good, or attempts run out.
    pub async fn run<T, F, Fut>(&self, mut op: F) -> Result<T, SiemError>
    where
        F: FnMut(u32) -> Fut,
        Fut: Future<Output = Result<T, SiemError>>,
    {
        let mut attempt = 0;
        loop {
            match op(attempt).await {
                Ok(v) => return Ok(v),
                Err(e) if e.retryable() && attempt + 1 < self.max_attempts => {
                    let delay = self.delay(attempt);
                    tracing::debug!(attempt = attempt + 1, error = %e, delay_ms = delay.as_millis() as u64, "Retrying SIEM query");
                    tokio::time::sleep(delay).await;
                    attempt += 1;
                }
                Err(e) => return Err(e),
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn delays_grow_and_are_capped() {
        let p = RetryPolicy {
            max_attempts: 5,
            initial: Duration::from_millis(100),
            max: Duration::from_millis(350),
            jitter: false,
        };
        assert_eq!(p.delay(0), Duration::from_millis(100));
        assert_eq!(p.delay(1), Duration::from_millis(200));
        assert_eq!(p.delay(2), Duration::from_millis(350));
        let j = RetryPolicy { jitter: true, ..p };
        for _ in 0..50 {
            let d = j.delay(1);
            assert!(
                d >= Duration::from_millis(100) && d <= Duration::from_millis(200),
                "{d:?}"
            );
        }
    }

    #[tokio::test]
    async fn retries_only_retryable_errors() {
        let p = RetryPolicy {
            max_attempts: 3,
            initial: Duration::ZERO,
            max: Duration::ZERO,
            jitter: false,
        };
        let mut calls = 0;
        let r: Result<(), _> = p
            .run(|_| {
                calls += 1;
                async { Err(SiemError::Timeout(1.0)) }
            })
            .await;
        assert!(r.is_err());
        assert_eq!(calls, 3);
        let mut calls = 0;
        let r: Result<(), _> = p
            .run(|_| {
                calls += 1;
                async { Err(SiemError::Authorization(401)) }
            })
            .await;
        assert!(r.is_err());
        assert_eq!(calls, 1);
    }
}
