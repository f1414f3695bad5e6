//! The SIEM's retry policy: exponential backoff with jitter (the engine's
//! one schedule, `crate::backoff`), retrying only what may succeed on a
//! second try.

use std::future::Future;
use std::time::Duration;

use backon::Retryable;

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
            initial: r.backoff,
            max: r.max_backoff,
            jitter: r.jitter,
        }
    }

    /// Runs `op` until it succeeds, fails for good, or attempts run out.
    pub async fn run<T, F, Fut>(&self, op: F) -> Result<T, SiemError>
    where
        F: FnMut() -> Fut,
        Fut: Future<Output = Result<T, SiemError>>,
    {
        let retries = self.max_attempts.saturating_sub(1) as usize;
        op.retry(crate::backoff::schedule(
            self.initial,
            self.max,
            Some(retries),
            self.jitter,
        ))
        .sleep(tokio::time::sleep)
        .when(SiemError::retryable)
        .notify(|e, delay| {
            tracing::debug!(error = %e, delay_ms = delay.as_millis() as u64, "Retrying SIEM query");
        })
        .await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn retries_only_retryable_errors_up_to_the_attempts() {
        let p = RetryPolicy {
            max_attempts: 3,
            initial: Duration::ZERO,
            max: Duration::ZERO,
            jitter: false,
        };
        let mut calls = 0;
        let r: Result<(), _> = p
            .run(|| {
                calls += 1;
                async { Err(SiemError::Timeout(1.0)) }
            })
            .await;
        assert!(r.is_err());
        assert_eq!(calls, 3);
        let mut calls = 0;
        let r: Result<(), _> = p
            .run(|| {
                calls += 1;
                async { Err(SiemError::Authorization(401)) }
            })
            .await;
        assert!(r.is_err());
        assert_eq!(calls, 1);
        // One attempt: no retry.
        let once = RetryPolicy {
            max_attempts: 1,
            ..p
        };
        let mut calls = 0;
        let _ = once
            .run(|| {
                calls += 1;
                async { Err::<(), _>(SiemError::Timeout(1.0)) }
            })
            .await;
        assert_eq!(calls, 1);
    }
}
