//! The threads plugin calls run on: a fixed set of named threads
//! (`medic-plugin-0`, `medic-plugin-1`, …) fed by one channel, so the async
//! runtime's workers only do I/O (docs/ARCHITECTURE.md, "Where plugin
//! calls run").
//!
//! A plugin call holds its thread for as long as the plugin computes (up
//! to its deadline, `plugins.timeout_ms`) and awaits nothing; on a tokio
//! worker it would keep that worker from every connection it serves. Here
//! the caller awaits the answer, and the operating system shares the cores
//! between these threads and the workers. `medic replay` does not use
//! this: it judges on its own lanes' threads and has no I/O to keep alive.

use std::any::Any;
use std::panic::{AssertUnwindSafe, catch_unwind, resume_unwind};
use std::sync::Arc;

use crate::model::{KillReport, ModuleProfile, NamedValues, RiskAssessment, SiemContext, Verdict};
use crate::sandbox::SharedKill;
use crate::{Prepared, Registry, ScoreRequest, Served};

/// The name every plugin thread's name starts with.
pub const THREAD_NAME: &str = "medic-plugin";

#[derive(Debug, thiserror::Error)]
pub enum ThreadsError {
    #[error("cannot start plugin thread {index}: {source}")]
    Spawn {
        index: usize,
        #[source]
        source: std::io::Error,
    },
}

type Job = Box<dyn FnOnce() + Send>;

/// The plugin threads. Dropping the last handle lets them finish the calls
/// already sent and end.
pub struct PluginThreads {
    jobs: crossbeam_channel::Sender<Job>,
    count: usize,
}

/// A kill to judge, owned so that it can cross to a plugin thread; given
/// back with the judgement.
pub struct ToJudge {
    pub kill: KillReport,
    pub context: Option<SiemContext>,
    pub profile: ModuleProfile,
    pub thresholds: Arc<NamedValues>,
}

/// What the scorer and the strategy said of a kill.
pub struct Judgement {
    pub scored: Served<RiskAssessment>,
    pub decided: Option<Served<Verdict>>,
}

impl PluginThreads {
    /// Starts `count` threads (`0`: one per core the process may use).
    pub fn start(count: usize) -> Result<PluginThreads, ThreadsError> {
        let count = if count == 0 {
            std::thread::available_parallelism().map_or(2, |n| n.get())
        } else {
            count
        };
        let (jobs, queue) = crossbeam_channel::unbounded::<Job>();
        for index in 0..count {
            let queue = queue.clone();
            std::thread::Builder::new()
                .name(format!("{THREAD_NAME}-{index}"))
                .spawn(move || {
                    // Ends when every sender is gone and the queue is empty.
                    for job in queue {
                        job();
                    }
                })
                .map_err(|source| ThreadsError::Spawn { index, source })?;
        }
        tracing::info!(threads = count, "Plugin threads started");
        Ok(PluginThreads { jobs, count })
    }

    /// How many threads run plugin calls.
    pub fn count(&self) -> usize {
        self.count
    }

    /// Runs `call` on a plugin thread and waits for its answer without
    /// holding the caller's thread. The caller's tracing span goes with it
    /// (its log lines keep the kill_id). A panic in `call` is resumed in
    /// the caller, as if it had run there; the thread survives it.
    pub async fn run<T: Send + 'static>(&self, call: impl FnOnce() -> T + Send + 'static) -> T {
        let (answer, answered) = tokio::sync::oneshot::channel::<Result<T, Box<dyn Any + Send>>>();
        let span = tracing::Span::current();
        let job: Job = Box::new(move || {
            let _entered = span.enter();
            // The caller may have gone (its request was cancelled): the
            // answer is then dropped.
            let _ = answer.send(catch_unwind(AssertUnwindSafe(call)));
        });
        // The receiving threads end only once this sender is dropped, which
        // `&self` prevents: sending cannot fail while `self` lives.
        if self.jobs.send(job).is_err() {
            unreachable!("plugin threads end only when PluginThreads is dropped");
        }
        match answered.await {
            Ok(Ok(value)) => value,
            Ok(Err(panic)) => resume_unwind(panic),
            // Every job sends its answer, panic or not, before it is dropped.
            Err(_) => unreachable!("a plugin thread dropped a call without answering"),
        }
    }

    /// Scores and decides `kill` with `registry`'s active plugins on a
    /// plugin thread ([`Registry::judge`]); gives the kill back with what
    /// they said.
    pub async fn judge(&self, registry: &Arc<Registry>, kill: ToJudge) -> (ToJudge, Judgement) {
        let registry = registry.clone();
        self.run(move || {
            let ToJudge {
                kill,
                context,
                profile,
                thresholds,
            } = kill;
            // Lent to the plugins' `kill` resource for the calls (moved,
            // not copied), and taken back whole after them.
            let shared = Arc::new(SharedKill { kill, context });
            let req = ScoreRequest {
                kill: &shared.kill,
                context: shared.context.as_ref(),
                profile: &profile,
                thresholds: &thresholds,
            };
            let (scored, decided) = registry.judge(&mut Prepared::lending(req, shared.clone()));
            let SharedKill { kill, context } =
                Arc::try_unwrap(shared).unwrap_or_else(|still_lent| (*still_lent).clone());
            let judged = ToJudge {
                kill,
                context,
                profile,
                thresholds,
            };
            (judged, Judgement { scored, decided })
        })
        .await
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::{Duration, Instant};

    #[tokio::test(flavor = "current_thread")]
    async fn a_call_runs_on_a_plugin_thread_not_the_callers() {
        let threads = PluginThreads::start(2).expect("threads");
        assert_eq!(threads.count(), 2);
        let caller = std::thread::current().id();
        let (name, id) = threads
            .run(|| {
                let t = std::thread::current();
                (t.name().map(str::to_string), t.id())
            })
            .await;
        let name = name.expect("plugin threads are named");
        assert!(name.starts_with(THREAD_NAME), "{name}");
        assert_ne!(id, caller);
    }

    /// A call that computes for a long time leaves the caller's runtime
    /// free: on a single-threaded runtime, another task keeps running
    /// while the call is under way.
    #[tokio::test(flavor = "current_thread")]
    async fn a_long_call_does_not_hold_the_callers_runtime() {
        let threads = PluginThreads::start(1).expect("threads");
        let busy = Duration::from_millis(300);
        let ticks = Arc::new(std::sync::atomic::AtomicU32::new(0));
        let ticking = {
            let ticks = ticks.clone();
            tokio::spawn(async move {
                loop {
                    tokio::time::sleep(Duration::from_millis(10)).await;
                    ticks.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
                }
            })
        };
        let during = threads
            .run({
                let ticks = ticks.clone();
                move || {
                    let start = Instant::now();
                    let before = ticks.load(std::sync::atomic::Ordering::SeqCst);
                    while start.elapsed() < busy {
                        std::hint::spin_loop();
                    }
                    ticks.load(std::sync::atomic::Ordering::SeqCst) - before
                }
            })
            .await;
        ticking.abort();
        // 300 ms of 10 ms ticks: well over a few, unless the call held the
        // runtime's only thread (then none).
        assert!(
            during >= 5,
            "the runtime ticked {during} times during the call"
        );
    }

    #[tokio::test(flavor = "current_thread")]
    async fn a_panicking_call_panics_its_caller_and_the_thread_serves_on() {
        let threads = Arc::new(PluginThreads::start(1).expect("threads"));
        let panicked = {
            let threads = threads.clone();
            tokio::spawn(async move { threads.run(|| -> u32 { panic!("a host bug") }).await }).await
        };
        assert!(
            panicked
                .expect_err("the panic reached the caller")
                .is_panic()
        );
        // The one thread survived the panic and answers the next call.
        assert_eq!(threads.run(|| 7).await, 7);
    }

    #[tokio::test(flavor = "current_thread")]
    async fn zero_threads_means_one_per_core() {
        let cores = std::thread::available_parallelism().map_or(2, |n| n.get());
        assert_eq!(PluginThreads::start(0).expect("threads").count(), cores);
    }
}
