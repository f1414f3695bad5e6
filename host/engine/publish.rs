//! Publishing to Redis: each decision goes to `medic.responses` (or the
//! envelope's `reply_to`) with the kill's correlation id; resurrection events
//! go to `medic.events` (docs/reference/protocols.md).

use std::sync::Arc;
use std::time::Duration;

use redis::aio::ConnectionManager;
use tokio::sync::Notify;
use tokio_util::sync::CancellationToken;

use crate::backoff::Delays;
use crate::events::Event;
use crate::model::Decision;
use crate::store::{Response, Store, StoreError};
use crate::telemetry::Metrics;

/// An XADD to `stream`, capped at about a million entries.
fn capped_xadd(stream: &str) -> redis::Cmd {
    let mut cmd = redis::cmd("XADD");
    cmd.arg(stream)
        .arg("MAXLEN")
        .arg("~")
        .arg(1_000_000)
        .arg("*");
    cmd
}

/// One decision's XADD, with the decision's JSON (`data`) already made.
pub fn encoded_response(stream: &str, decision: &Decision, data: &str) -> redis::Cmd {
    response_cmd(
        stream,
        data,
        &decision.kill_id,
        &decision.decision_id,
        decision.correlation_id.as_deref().unwrap_or(""),
    )
}

/// A response's XADD: the decision's JSON and the ids Smith matches it by.
fn response_cmd(
    stream: &str,
    data: &str,
    kill_id: &str,
    decision_id: &str,
    correlation_id: &str,
) -> redis::Cmd {
    let mut cmd = capped_xadd(stream);
    cmd.arg("data")
        .arg(data)
        .arg("kill_id")
        .arg(kill_id)
        .arg("decision_id")
        .arg(decision_id)
        .arg("correlation_id")
        .arg(correlation_id);
    cmd
}

/// Publishes what Medic has to say on Redis: responses to kills that came
/// over HTTP (through the store's outbox, so none is lost to an outage or
/// a restart) and resurrection events.
#[derive(Clone)]
pub struct Publisher {
    events: Option<ConnectionManager>,
    stream: String,
    outbox: Option<Arc<Outbox>>,
}

/// Responses waiting in the store until Redis has them.
pub struct Outbox {
    store: Store,
    /// Counts the responses Redis refused for good (dead letters).
    metrics: Arc<Metrics>,
    client: redis::Client,
    wake: Notify,
}

/// Why a batch of the outbox could not be published now.
#[derive(Debug, thiserror::Error)]
enum Undelivered {
    #[error(transparent)]
    Redis(#[from] redis::RedisError),
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// The longest wait between two tries while Redis does not take responses.
const MAX_BACKOFF: Duration = Duration::from_secs(30);
/// Responses published in one round trip.
const BATCH: usize = 256;

impl Publisher {
    pub fn none() -> Self {
        Publisher {
            events: None,
            stream: String::new(),
            outbox: None,
        }
    }

    /// Publishes responses to `stream` (or a kill's `reply_to`) through the
    /// store's outbox, on a connection of its own that `Outbox::run`
    /// makes and keeps; events go on `events`, when connected.
    pub fn redis(
        client: redis::Client,
        events: Option<ConnectionManager>,
        stream: &str,
        store: Store,
        metrics: Arc<Metrics>,
    ) -> Self {
        Publisher {
            events,
            stream: stream.to_string(),
            outbox: Some(Arc::new(Outbox {
                store,
                metrics,
                client,
                wake: Notify::new(),
            })),
        }
    }

    /// The outbox, to run (`Outbox::run`), when responses go to Redis.
    pub fn outbox(&self) -> Option<Arc<Outbox>> {
        self.outbox.clone()
    }

    /// Keeps the response to `decision` in the outbox (made durable by the
    /// store's next flush, with the decision) until Redis has it.
    pub fn enqueue(&self, decision: &Decision, reply_to: Option<&str>) -> Result<(), StoreError> {
        let Some(o) = &self.outbox else {
            return Ok(());
        };
        o.store.outbox_put(&Response {
            stream: reply_to.unwrap_or(&self.stream).to_string(),
            kill_id: decision.kill_id.clone(),
            decision_id: decision.decision_id.clone(),
            correlation_id: decision.correlation_id.clone().unwrap_or_default(),
            data: serde_json::to_string(decision).unwrap_or_default(),
        })?;
        Ok(())
    }

    /// Tells the outbox there is something to publish.
    pub fn wake(&self) {
        if let Some(o) = &self.outbox {
            o.wake.notify_one();
        }
    }

    /// Responses waiting for Redis; `None` when none go to Redis.
    pub fn waiting(&self) -> Option<usize> {
        self.outbox.as_ref().map(|o| o.store.outbox_len())
    }
}

/// A waiting response's XADD.
fn response_xadd(r: &Response) -> redis::Cmd {
    response_cmd(
        &r.stream,
        &r.data,
        &r.kill_id,
        &r.decision_id,
        &r.correlation_id,
    )
}

/// Whether Redis refused a command for good (a key of another type, say),
/// rather than being unreachable or busy for now.
fn refused_for_good(e: &redis::RedisError) -> bool {
    let for_now = e.is_io_error()
        || e.is_connection_dropped()
        || e.is_timeout()
        || e.is_connection_refusal()
        || matches!(
            e.kind(),
            redis::ErrorKind::BusyLoadingError | redis::ErrorKind::TryAgain
        )
        || matches!(e.code(), Some("MASTERDOWN" | "BUSY"));
    !for_now && e.code().is_some()
}

impl Outbox {
    /// Publishes what waits, then whatever is enqueued, until `stopped`;
    /// while Redis does not take them, responses wait and are tried again
    /// (backing off to [`MAX_BACKOFF`]). What waits at start (left by an
    /// outage or a crash) goes first.
    pub async fn run(self: Arc<Self>, stopped: CancellationToken) {
        let mut conn: Option<ConnectionManager> = None;
        let mut waits = Delays::new(Duration::from_millis(250), MAX_BACKOFF);
        loop {
            match self.deliver(&mut conn).await {
                Ok(true) => {
                    waits.reset();
                    continue;
                }
                Ok(false) => {
                    waits.reset();
                    tokio::select! {
                        _ = self.wake.notified() => {}
                        _ = stopped.cancelled() => return,
                    }
                }
                Err(e) => {
                    let backoff = waits.next_wait();
                    tracing::warn!(
                        error = %e,
                        waiting = self.store.outbox_len(),
                        retry_in_ms = backoff.as_millis() as u64,
                        "Responses could not be published to Redis: they wait in the store's outbox and will be published when it takes them"
                    );
                    tokio::select! {
                        _ = tokio::time::sleep(backoff) => {}
                        _ = stopped.cancelled() => return,
                    }
                }
            }
        }
    }

    /// Publishes the oldest batch waiting; `Ok(true)` when it published
    /// some (more may wait), `Ok(false)` when none waited.
    async fn deliver(&self, conn: &mut Option<ConnectionManager>) -> Result<bool, Undelivered> {
        let batch = self.store.outbox_waiting(BATCH)?;
        if batch.is_empty() {
            return Ok(false);
        }
        // Nothing is said of a decision before it is durable (this also
        // makes the removals of the batch before durable: a response is
        // published at least once, and again only after a crash).
        self.store.flush().await?;
        let c = match conn {
            Some(c) => c,
            None => conn.insert(ConnectionManager::new(self.client.clone()).await?),
        };
        let mut pipe = redis::pipe();
        for (_, r) in &batch {
            pipe.add_command(response_xadd(r)).ignore();
        }
        match pipe.query_async::<()>(c).await {
            Ok(()) => {
                for (seq, _) in &batch {
                    self.store.outbox_done(*seq)?;
                }
            }
            Err(e) if refused_for_good(&e) => {
                // One of them Redis will never take: find it, one by one.
                for (seq, r) in &batch {
                    match response_xadd(r).query_async::<String>(c).await {
                        Ok(_) => self.store.outbox_done(*seq)?,
                        Err(e) if refused_for_good(&e) => {
                            tracing::error!(error = %e, kill_id = %r.kill_id, stream = %r.stream, "Redis refused a response for good: it is dead-lettered, not retried");
                            self.metrics.dead_letters.inc();
                            self.store
                                .dead_letter(&crate::store::DeadLetter::response_refused(
                                    "outbox",
                                    None,
                                    format!("Redis refused the response on {}: {e}", r.stream),
                                    &r.data,
                                ))?;
                            self.store.outbox_done(*seq)?;
                        }
                        Err(e) => return Err(e.into()),
                    }
                }
            }
            Err(e) => return Err(e.into()),
        }
        Ok(true)
    }
}

impl Publisher {
    /// Publishes one resurrection event to `stream`; a failure is logged,
    /// never fatal (the store holds every event's facts).
    pub async fn event(&self, stream: &str, event: &Event) {
        let Some(conn) = &self.events else { return };
        let mut conn = conn.clone();
        let kind = event.kind();
        let request_id = event.request_id();
        let data = match serde_json::to_string(event) {
            Ok(data) => data,
            Err(e) => {
                tracing::error!(error = %e, request_id, event_type = kind, "An event could not be written as JSON");
                return;
            }
        };
        let sent: redis::RedisResult<String> = capped_xadd(stream)
            .arg("data")
            .arg(data)
            .arg("event_type")
            .arg(kind)
            .arg("request_id")
            .arg(request_id)
            .query_async(&mut conn)
            .await;
        if let Err(e) = sent {
            tracing::warn!(error = %e, request_id, event_type = kind, "Publishing an event to Redis failed");
        }
    }
}
