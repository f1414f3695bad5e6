//! Reads of the store over HTTP (decision lists, reports, outcomes, the
//! audit trail) never hold up a decision: each runs on the blocking pool,
//! not on the threads that take and decide kills; at most
//! `interfaces.web.max_concurrent_reads` run at once, the rest wait their
//! turn for up to [`READ_WAIT`] and are then answered 503 `busy` with
//! `Retry-After`; and a scan of decisions stops at
//! `interfaces.web.read_budget_ms`, answering what it found with a cursor
//! to go on from.

use std::sync::Arc;
use std::time::{Duration, Instant};

use tokio::sync::Semaphore;

use super::ApiError;
use crate::config::raw::WebSection;
use crate::store::ScanBudget;

/// How long a read waits for its turn before it is answered 503 `busy`.
pub const READ_WAIT: Duration = Duration::from_secs(5);

/// The gate every store read of the API passes.
#[derive(Clone, Debug)]
pub struct Reads {
    turns: Arc<Semaphore>,
    budget: Duration,
    wait: Duration,
}

impl Reads {
    pub fn new(web: &WebSection) -> Reads {
        Reads {
            turns: Arc::new(Semaphore::new(web.max_concurrent_reads.max(1) as usize)),
            budget: web.read_budget,
            wait: READ_WAIT,
        }
    }

    /// Runs `read` on the blocking pool when its turn comes, with the scan
    /// budget it may spend.
    pub async fn run<T: Send + 'static>(
        &self,
        read: impl FnOnce(ScanBudget) -> Result<T, ApiError> + Send + 'static,
    ) -> Result<T, ApiError> {
        if std::env::var("EXP_INLINE").is_ok() {
            return read(ScanBudget::unlimited());
        }
        let turn = tokio::time::timeout(self.wait, self.turns.clone().acquire_owned())
            .await
            .map_err(|_| ApiError::Busy {
                retry_after_secs: 1,
            })?
            .map_err(|_| ApiError::Internal("the read gate is closed".into()))?;
        let budget = self.budget;
        tokio::task::spawn_blocking(move || {
            let _turn = turn;
            read(ScanBudget::until(Instant::now() + budget))
        })
        .await
        .map_err(|e| ApiError::Internal(format!("a store read stopped: {e}")))?
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test(flavor = "current_thread")]
    async fn a_read_runs_off_the_calling_thread_and_waits_its_turn() {
        let web = WebSection {
            max_concurrent_reads: 1,
            read_budget: Duration::from_millis(50),
            ..WebSection::default()
        };
        let reads = Reads::new(&web);
        // On a single-threaded runtime a blocking read on the runtime's
        // thread would stop the timer below from ever firing.
        let caller = std::thread::current().id();
        let slow = reads.run(move |budget| {
            assert_ne!(std::thread::current().id(), caller);
            while !budget.spent() {
                std::thread::sleep(Duration::from_millis(5));
            }
            Ok(1)
        });
        let ticked = async {
            tokio::time::sleep(Duration::from_millis(10)).await;
            2
        };
        let (a, b) = tokio::join!(slow, ticked);
        assert_eq!((a.unwrap(), b), (1, 2));
    }

    #[tokio::test(flavor = "current_thread")]
    async fn a_read_that_waits_too_long_for_its_turn_is_busy() {
        let mut reads = Reads::new(&WebSection::default());
        reads.wait = Duration::from_millis(20);
        let held = reads.turns.clone().acquire_owned().await.unwrap();
        let r = reads.run(|_| Ok(())).await;
        assert!(
            matches!(
                r,
                Err(ApiError::Busy {
                    retry_after_secs: 1
                })
            ),
            "{r:?}"
        );
        drop(held);
        assert!(reads.run(|_| Ok(())).await.is_ok());
    }
}
