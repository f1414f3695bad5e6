//! When the threshold learner runs by itself: by the wall clock, counted
//! from its last run as recorded in the store, so a Medic restarted more
//! often than `learning.analysis.schedule` still learns.
//!
//! - It has run before: the next run is due one period (a day or a week)
//!   after the last one — scheduled or on demand, whether or not it changed
//!   anything. One overdue at start-up runs at once.
//! - It has never run: the first run is due as soon as there are
//!   `learning.analysis.min_samples` outcomes to learn from (looked at
//!   hourly), not at the first start-up: a run on an empty store would only
//!   put the first real one off by a period.

use std::sync::Arc;
use std::time::{Duration, Instant};

use chrono::{DateTime, Utc};
use tokio_util::sync::CancellationToken;

use super::{LearnError, ThresholdManager};
use crate::config::raw::Schedule;
use crate::store::StoreError;

/// The longest the scheduler sleeps before it looks at the wall clock and
/// the store again: a manual run moves the next due time, a clock can be
/// set, and a monotonic sleep of a week does not follow the wall clock
/// across a suspended machine. One read an hour costs nothing.
const RECHECK: Duration = Duration::from_secs(3600);
/// How often a replica that does not lead looks whether it should.
const FOLLOWER_RECHECK: Duration = Duration::from_secs(60);

/// How long one learning period is.
pub fn period(schedule: Schedule) -> chrono::Duration {
    match schedule {
        Schedule::Daily => chrono::Duration::days(1),
        Schedule::Weekly => chrono::Duration::weeks(1),
    }
}

/// When the next scheduled run is due, given the last: one period after it.
/// A last run later than `now` (the clock was set back since) counts as
/// `now`, so setting the clock back puts learning off by one period at
/// most.
pub fn next_due(last_run: DateTime<Utc>, schedule: Schedule, now: DateTime<Utc>) -> DateTime<Utc> {
    last_run.min(now) + period(schedule)
}

/// What the scheduler should do now.
#[derive(Debug, PartialEq)]
enum Due {
    Now,
    /// Look again after this long (at most [`RECHECK`]).
    Later(Duration),
}

impl ThresholdManager {
    fn due(&self, now: DateTime<Utc>) -> Result<Due, StoreError> {
        let l = &self.config.medic.learning.analysis;
        match self.store.last_learning_run_at()? {
            Some(last) => {
                let at = next_due(last, l.schedule, now);
                Ok(match (at - now).to_std() {
                    Ok(wait) if !wait.is_zero() => Due::Later(wait.min(RECHECK)),
                    // Negative or zero: due (or overdue).
                    _ => Due::Now,
                })
            }
            None if self.unseen_outcomes(now)?.len() >= l.min_samples as usize => Ok(Due::Now),
            None => Ok(Due::Later(RECHECK)),
        }
    }

    /// Runs the learner whenever it is due (see the module's notes) until
    /// `stop` is cancelled.
    pub async fn schedule(self: Arc<Self>, stop: CancellationToken) {
        let schedule = self.config.medic.learning.analysis.schedule;
        let mut last_attempt: Option<Instant> = None;
        loop {
            if stop.is_cancelled() {
                return;
            }
            let me = self.clone();
            // One replica learns for a store they share; the others look
            // again a minute later, in case it went.
            let lease = tokio::task::spawn_blocking(move || me.store.lease())
                .await
                .unwrap_or(None);
            let Some(epoch) = lease else {
                if !wait_or_stop(&stop, FOLLOWER_RECHECK).await {
                    return;
                }
                continue;
            };
            let me = self.clone();
            let wait = match tokio::task::spawn_blocking(move || me.due(Utc::now())).await {
                Ok(Ok(Due::Later(wait))) => wait,
                Ok(Ok(Due::Now)) => match last_attempt.map(|t| t.elapsed()) {
                    // Due again within the hour after a run: its time could
                    // not be recorded. Wait rather than run over and over.
                    Some(since) if since < RECHECK => RECHECK - since,
                    _ => {
                        last_attempt = Some(Instant::now());
                        match self.run_scheduled(epoch).await {
                            // Looked at again from the store, where the run
                            // recorded itself: not due for another period.
                            Ran::Recorded(at) => {
                                tracing::info!(next_due = %next_due(at, schedule, at), "Next scheduled learning run");
                                continue;
                            }
                            Ran::Failed => RECHECK,
                            Ran::Off => return,
                        }
                    }
                },
                Ok(Err(e)) => {
                    tracing::error!(error = %e, "Cannot tell when learning is due; looking again in an hour");
                    RECHECK
                }
                Err(e) => {
                    tracing::error!(error = %e, "Cannot tell when learning is due; looking again in an hour");
                    RECHECK
                }
            };
            if !wait_or_stop(&stop, wait).await {
                return;
            }
        }
    }

    /// One scheduled run, logged: what changed, or why nothing did.
    /// One scheduled run, by the replica elected at `epoch`: its writes
    /// are refused if another replica holds the role meanwhile
    /// (`store::fence`).
    async fn run_scheduled(self: &Arc<Self>, epoch: u64) -> Ran {
        let me = self.clone();
        let at = Utc::now();
        let ran = tokio::task::spawn_blocking(move || {
            crate::store::fence::as_leader(epoch, || me.run("schedule", at))
        })
        .await;
        // Durable now, as after a manual run: a change and the run's time
        // must survive a crash, or a restart would run it again.
        if let Err(e) = self.store.flush().await {
            tracing::error!(error = %e, "Could not flush the store after scheduled learning");
        }
        match ran {
            Ok(Ok(run)) => {
                match &run.change {
                    Some(change) => tracing::info!(
                        samples = run.samples,
                        change_id = change.id,
                        "Scheduled learning changed the thresholds"
                    ),
                    None => tracing::info!(
                        samples = run.samples,
                        "Scheduled learning ran and changed nothing: the learner proposed no change"
                    ),
                }
                Ran::Recorded(at)
            }
            // Configuration does not change while Medic runs.
            Ok(Err(LearnError::Disabled(why))) => {
                tracing::info!(reason = why, "Scheduled learning stops");
                Ran::Off
            }
            Ok(Err(LearnError::Store(e))) => {
                tracing::error!(error = %e, "Scheduled learning failed on the store; trying again in an hour");
                Ran::Failed
            }
            Ok(Err(e)) => {
                tracing::info!(reason = %e, "Scheduled learning ran and changed nothing");
                Ran::Recorded(at)
            }
            Err(e) => {
                tracing::error!(error = %e, "Scheduled learning failed; trying again in an hour");
                Ran::Failed
            }
        }
    }
}

/// How a scheduled run went, for the scheduler.
enum Ran {
    /// It ran (changing something or not) and its time is recorded.
    Recorded(DateTime<Utc>),
    /// It did not get to run (the store failed, or the task panicked):
    /// nothing recorded, so the scheduler waits before it tries again.
    Failed,
    /// Learning is switched off.
    Off,
}

/// Sleeps for `wait`; `false` when `stop` was cancelled first.
async fn wait_or_stop(stop: &CancellationToken, wait: Duration) -> bool {
    tokio::select! {
        _ = stop.cancelled() => false,
        _ = tokio::time::sleep(wait) => true,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(s: &str) -> DateTime<Utc> {
        s.parse().expect("a test time")
    }

    #[test]
    fn the_next_run_is_one_period_after_the_last() {
        let now = at("2026-03-10T12:00:00Z");
        assert_eq!(
            next_due(at("2026-03-09T18:00:00Z"), Schedule::Daily, now),
            at("2026-03-10T18:00:00Z"),
            "ran 18 hours ago: due in 6"
        );
        assert_eq!(
            next_due(at("2026-03-09T18:00:00Z"), Schedule::Weekly, now),
            at("2026-03-16T18:00:00Z")
        );
    }

    #[test]
    fn an_old_last_run_is_overdue() {
        let now = at("2026-03-10T12:00:00Z");
        let due = next_due(at("2026-03-02T12:00:00Z"), Schedule::Weekly, now);
        assert_eq!(due, at("2026-03-09T12:00:00Z"));
        assert!(due < now, "eight days after a weekly run it is overdue");
        assert!(next_due(at("2026-03-09T11:59:59Z"), Schedule::Daily, now) < now);
        assert_eq!(
            next_due(at("2026-03-09T12:00:00Z"), Schedule::Daily, now),
            now,
            "due exactly a period later"
        );
    }

    #[test]
    fn a_last_run_in_the_future_puts_learning_off_by_one_period_at_most() {
        let now = at("2026-03-10T12:00:00Z");
        assert_eq!(
            next_due(at("2027-01-01T00:00:00Z"), Schedule::Weekly, now),
            at("2026-03-17T12:00:00Z")
        );
    }
}
