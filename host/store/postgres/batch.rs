//! Group statements: calls of one kind made at the same time (each kill
//! of a batch is a task of its own) are answered by one statement over
//! arrays, as the embedded store's group commit makes one fsync serve a
//! batch. A call waits at most for the statement under way and its own;
//! alone, it is a statement of one, as before.
//!
//! A [`Batcher`] runs on the store's runtime: it takes the first call
//! waiting, every other call waiting then (up to its most), and runs them
//! as one statement; while [`IN_FLIGHT`] statements run, calls gather for
//! the next.

use std::future::Future;
use std::sync::Arc;

use tokio::sync::{Semaphore, mpsc, oneshot};

use super::bridge::Bridge;
use crate::{Result, StoreError};

/// How many statements of one kind run at once (each on a connection of
/// the pool). More only splits the waiting calls into smaller batches.
pub(crate) const IN_FLIGHT: usize = 2;

/// The most calls one statement answers.
pub(crate) const MOST: usize = 512;

type Reply<R> = oneshot::Sender<std::result::Result<R, Arc<sqlx::Error>>>;

/// Gathers calls of one kind into statements.
pub(crate) struct Batcher<J, R> {
    calls: mpsc::UnboundedSender<(J, Reply<R>)>,
}

impl<J: Send + 'static, R: Send + 'static> Batcher<J, R> {
    /// Starts gathering on `bridge`'s runtime; `run` answers a batch of
    /// calls with one result each, in their order. `None` when the
    /// store's runtime is shut down.
    pub(crate) fn start<F, Fut>(bridge: &Bridge, run: F) -> Option<Batcher<J, R>>
    where
        F: Fn(Vec<J>) -> Fut + Send + Sync + 'static,
        Fut: Future<Output = std::result::Result<Vec<R>, sqlx::Error>> + Send + 'static,
    {
        let (calls, mut waiting) = mpsc::unbounded_channel::<(J, Reply<R>)>();
        let run = Arc::new(run);
        let slots = Arc::new(Semaphore::new(IN_FLIGHT));
        bridge.spawn(async move {
            while let Some(first) = waiting.recv().await {
                // Calls that come while every slot is busy join this batch.
                let Ok(slot) = slots.clone().acquire_owned().await else {
                    return;
                };
                let mut batch = vec![first];
                while batch.len() < MOST {
                    match waiting.try_recv() {
                        Ok(call) => batch.push(call),
                        Err(_) => break,
                    }
                }
                let run = run.clone();
                tokio::spawn(async move {
                    let _slot = slot;
                    let (jobs, replies): (Vec<J>, Vec<Reply<R>>) = batch.into_iter().unzip();
                    let asked = jobs.len();
                    match run(jobs).await {
                        Ok(results) if results.len() == asked => {
                            for (result, reply) in results.into_iter().zip(replies) {
                                let _ = reply.send(Ok(result));
                            }
                        }
                        Ok(results) => {
                            let e = Arc::new(sqlx::Error::Protocol(format!(
                                "a batch of {asked} calls was answered with {} results",
                                results.len()
                            )));
                            for reply in replies {
                                let _ = reply.send(Err(e.clone()));
                            }
                        }
                        Err(e) => {
                            let e = Arc::new(e);
                            for reply in replies {
                                let _ = reply.send(Err(e.clone()));
                            }
                        }
                    }
                });
            }
        })?;
        Some(Batcher { calls })
    }

    /// Answers one call, with the others waiting at the same time.
    pub(crate) async fn call(&self, job: J) -> Result<R> {
        let (reply, answer) = oneshot::channel();
        self.calls.send((job, reply)).map_err(|_| shut_down())?;
        answer
            .await
            .map_err(|_| shut_down())?
            .map_err(StoreError::Batch)
    }
}

fn shut_down() -> StoreError {
    StoreError::Setup("the PostgreSQL store is shut down".into())
}
