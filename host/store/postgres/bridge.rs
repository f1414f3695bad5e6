//! The PostgreSQL store's own runtime. The store's methods are synchronous
//! (sled answers in microseconds, and the engine calls them under its
//! locks); the client is asynchronous. Each call runs its query on the
//! caller's thread, polled by a plain executor, with this runtime entered
//! so the connections' sockets and timers are driven by its threads. That
//! works from a tokio worker (of any runtime flavour) and from a plain
//! thread alike: nothing here starts a runtime the caller is in, and a
//! tokio worker's wait is announced to its runtime (see [`Bridge::block`]).

use std::future::Future;

use tokio::runtime::{Builder, Runtime, RuntimeFlavor};

pub(crate) struct Bridge {
    runtime: Option<Runtime>,
}

impl Bridge {
    pub(crate) fn new() -> std::io::Result<Bridge> {
        let runtime = Builder::new_multi_thread()
            .worker_threads(2)
            .thread_name("medic-postgres")
            .enable_all()
            .build()?;
        Ok(Bridge {
            runtime: Some(runtime),
        })
    }

    /// Runs `f` to completion on this thread, in the store's runtime.
    ///
    /// Unconstrained by tokio's cooperative budget: a caller on a tokio
    /// worker may have spent its task's budget, and tokio then defers the
    /// wake of a resource polled here until that task yields — which it
    /// cannot while this blocks (it hung the Redis consumer, which decides
    /// a batch in one poll).
    ///
    /// On a worker of a multi-threaded tokio runtime the wait is announced
    /// to tokio (`block_in_place`): the worker's other tasks move to
    /// another thread meanwhile, so concurrent callers' round trips
    /// overlap instead of queueing behind one another.
    pub(crate) fn block<F: Future>(&self, f: F) -> F::Output {
        let run = || {
            let _entered = self.runtime.as_ref().map(Runtime::enter);
            futures::executor::block_on(tokio::task::unconstrained(f))
        };
        match tokio::runtime::Handle::try_current() {
            Ok(h) if h.runtime_flavor() == RuntimeFlavor::MultiThread => {
                tokio::task::block_in_place(run)
            }
            _ => run(),
        }
    }
}

impl Bridge {
    /// Runs `f` on the store's runtime; awaiting the handle does not hold
    /// the caller's thread.
    pub(crate) fn spawn<F>(&self, f: F) -> Option<tokio::task::JoinHandle<F::Output>>
    where
        F: Future + Send + 'static,
        F::Output: Send + 'static,
    {
        self.runtime.as_ref().map(|rt| rt.spawn(f))
    }
}

impl Drop for Bridge {
    fn drop(&mut self) {
        // Dropping a runtime waits for its threads, which may not be done
        // from within another runtime (the last handle may go in a task).
        if let Some(rt) = self.runtime.take() {
            rt.shutdown_background();
        }
    }
}
