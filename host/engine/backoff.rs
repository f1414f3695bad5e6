//! Waiting between attempts: every retry and reconnect loop of the engine
//! (SIEM queries and outcome reports, the Redis consumer's reconnects, the
//! response outbox, a backend's restart attempts) takes its delays from one
//! exponential schedule, built by the `backon` crate: `first`, doubling
//! each time, capped at `max`; with jitter each wait is drawn between
//! itself and twice itself.

use std::time::Duration;

use backon::{BackoffBuilder, ExponentialBackoff, ExponentialBuilder};

/// The schedule of waits: `first`, doubling up to `max`; `retries` waits at
/// most (none: as many as asked for).
pub fn schedule(
    first: Duration,
    max: Duration,
    retries: Option<usize>,
    jitter: bool,
) -> ExponentialBuilder {
    let b = ExponentialBuilder::new()
        .with_min_delay(first)
        .with_max_delay(max.max(first));
    let b = match retries {
        Some(n) => b.with_max_times(n),
        None => b.without_max_times(),
    };
    if jitter { b.with_jitter() } else { b }
}

/// The waits of a loop that never gives up (a reconnect): [`Delays::next_wait`]
/// the wait before the next try, [`Delays::reset`] after a success.
pub struct Delays {
    builder: ExponentialBuilder,
    waits: ExponentialBackoff,
    max: Duration,
}

impl Delays {
    /// Waits from `first`, doubling up to `max`, without end.
    pub fn new(first: Duration, max: Duration) -> Delays {
        let builder = schedule(first, max, None, false);
        Delays {
            builder,
            waits: builder.build(),
            max,
        }
    }

    /// The wait before the next try.
    pub fn next_wait(&mut self) -> Duration {
        // A schedule without a limit on its waits always has another.
        self.waits.next().unwrap_or(self.max)
    }

    /// Back to the first wait (after a success).
    pub fn reset(&mut self) {
        self.waits = self.builder.build();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const MS: fn(u64) -> Duration = Duration::from_millis;

    /// Whole milliseconds (backon multiplies by an `f32` factor).
    fn ms(waits: &[Duration]) -> Vec<u128> {
        waits.iter().map(Duration::as_millis).collect()
    }

    #[test]
    fn waits_double_up_to_the_cap_and_stop_after_the_retries() {
        let waits: Vec<Duration> = schedule(MS(100), MS(350), Some(4), false).build().collect();
        assert_eq!(ms(&waits), [100, 200, 350, 350]);
    }

    #[test]
    fn jitter_draws_each_wait_between_itself_and_twice_itself() {
        for wait in schedule(MS(100), MS(100), Some(50), true).build() {
            assert!((MS(100)..MS(200)).contains(&wait), "{wait:?}");
        }
    }

    #[test]
    fn a_reconnect_loop_never_runs_out_and_starts_over_after_a_success() {
        let mut d = Delays::new(MS(100), MS(400));
        let waits: Vec<Duration> = (0..40).map(|_| d.next_wait()).collect();
        assert_eq!(ms(&waits[..4]), [100, 200, 400, 400]);
        assert!(waits.iter().all(|w| *w <= MS(400)));
        d.reset();
        assert_eq!(d.next_wait(), MS(100));
    }
}
