//! Smith's Redis stream, read with a consumer group
//! (docs/reference/protocols.md#kills-from-a-redis-stream).
//!
//! On start the consumer re-reads its own pending entries (kills it read
//! before a crash but never acknowledged), then claims entries left pending
//! too long by dead consumers (XAUTOCLAIM), then reads new ones. Each batch
//! is decided with bounded concurrency (the plugins judging on their own
//! threads, docs/ARCHITECTURE.md, "Where plugin calls run"), made durable
//! with one flush, and
//! only then acknowledged — in one pipeline that sends its dead letters and
//! published responses first and the XACK last. Redis going away is
//! survived with reconnects and backoff; nothing unacknowledged is lost,
//! because Redis redelivers it.

use std::sync::Arc;
use std::time::{Duration, Instant};

use chrono::{DateTime, Utc};
use futures::{FutureExt, StreamExt};
use redis::AsyncCommands;
use redis::aio::MultiplexedConnection;
use redis::streams::{
    StreamAutoClaimOptions, StreamAutoClaimReply, StreamId, StreamInfoGroupsReply,
    StreamReadOptions,
};
use tokio_util::sync::CancellationToken;

use super::envelope;
use super::validate::ValidationError;
use crate::backoff::Delays;
use crate::config::raw::{EventBusSection, StartFrom};
use crate::decide::{Decider, Handled, Incoming};
pub use crate::event_bus::{BusError, client, url};
use crate::publish::encoded_response;
use crate::store::StoreError;

#[derive(Debug, thiserror::Error)]
pub enum ConsumerError {
    #[error("redis: {0}")]
    Redis(#[from] redis::RedisError),
    #[error(transparent)]
    Bus(#[from] BusError),
}

/// Called with the ids of entries just acknowledged (for measurements).
pub type AckHook = Arc<dyn Fn(&[String]) + Send + Sync>;

#[derive(Clone)]
pub struct RedisConsumer {
    bus: Arc<EventBusSection>,
    client: redis::Client,
    decider: Arc<Decider>,
    on_ack: Option<AckHook>,
    acks: Arc<tokio::sync::Semaphore>,
    batches: Arc<tokio::sync::Semaphore>,
}

/// Batches flushed and acknowledged in the background at once.
const ACKS_IN_FLIGHT: usize = 2;

/// Batches decided at once on a store replicas share (see
/// [`RedisConsumer::process_beside`]).
const BATCHES_IN_FLIGHT: usize = 2;

/// The most a reconnect waits.
const MAX_BACKOFF: Duration = Duration::from_secs(5);

impl RedisConsumer {
    pub fn new(bus: &EventBusSection, decider: Arc<Decider>) -> Result<Self, ConsumerError> {
        Ok(RedisConsumer {
            bus: Arc::new(bus.clone()),
            client: client(bus)?,
            decider,
            on_ack: None,
            acks: Arc::new(tokio::sync::Semaphore::new(ACKS_IN_FLIGHT)),
            batches: Arc::new(tokio::sync::Semaphore::new(BATCHES_IN_FLIGHT)),
        })
    }

    /// Calls `hook` with each batch of acknowledged entry ids.
    pub fn on_ack(mut self, hook: AckHook) -> Self {
        self.on_ack = Some(hook);
        self
    }

    /// Consumes until `shutdown` is cancelled, reconnecting on failure.
    pub async fn run(self, shutdown: CancellationToken) {
        let mut waits = Delays::new(Duration::from_millis(100), MAX_BACKOFF);
        loop {
            if shutdown.is_cancelled() {
                return;
            }
            let started = Instant::now();
            let ended = self.session(&shutdown).await;
            self.drain_acks().await;
            match ended {
                Ok(()) => return,
                Err(e) => {
                    // A session that lasted starts the waits over.
                    if started.elapsed() > Duration::from_secs(10) {
                        waits.reset();
                    }
                    let backoff = waits.next_wait();
                    self.decider.metrics.event_bus_up.set(0);
                    self.decider.metrics.redis_reconnects.inc();
                    tracing::warn!(error = %e, retry_in_ms = backoff.as_millis() as u64, "Redis connection lost; reconnecting");
                    tokio::select! {
                        _ = tokio::time::sleep(backoff) => {}
                        _ = shutdown.cancelled() => return,
                    }
                }
            }
        }
    }

    async fn session(&self, shutdown: &CancellationToken) -> Result<(), ConsumerError> {
        // Blocking reads get their own connection so acks never wait on them.
        let mut reader = self.client.get_multiplexed_async_connection().await?;
        let mut writer = self.client.get_multiplexed_async_connection().await?;
        let bus = &self.bus;
        let start = match bus.start_from {
            StartFrom::Earliest => "0",
            StartFrom::Latest => "$",
        };
        let created: Result<(), redis::RedisError> = writer
            .xgroup_create_mkstream(&bus.topic, &bus.consumer_group, start)
            .await;
        if let Err(e) = created
            && e.code() != Some("BUSYGROUP")
        {
            return Err(e.into());
        }
        tracing::info!(stream = %bus.topic, group = %bus.consumer_group, consumer = %bus.consumer_name, "Consuming kill notifications");
        self.decider.metrics.event_bus_up.set(1);

        // 1. Our own pending entries, from before a restart.
        let mut from = "0".to_string();
        loop {
            let opts = StreamReadOptions::default()
                .group(&bus.consumer_group, &bus.consumer_name)
                .count(bus.batch_size as usize);
            let reply: redis::Value = reader.xread_options(&[&bus.topic], &[&from], &opts).await?;
            let entries = entries_of_reply(reply);
            let Some(last) = entries.last() else { break };
            from = last.id.clone();
            tracing::info!(
                count = entries.len(),
                "Re-processing this consumer's pending entries"
            );
            self.process(&mut writer, entries).await?;
        }
        // 2. Entries abandoned by dead consumers; then 3. new entries.
        self.claim(&mut writer).await?;
        self.sample_backlog(&mut writer).await;
        let mut last_claim = Instant::now();
        let claim_every = (self.bus.claim_idle / 2).max(Duration::from_millis(100));
        loop {
            if shutdown.is_cancelled() {
                return Ok(());
            }
            if last_claim.elapsed() >= claim_every {
                self.claim(&mut writer).await?;
                self.sample_backlog(&mut writer).await;
                last_claim = Instant::now();
            }
            let opts = StreamReadOptions::default()
                .group(&bus.consumer_group, &bus.consumer_name)
                .count(bus.batch_size as usize)
                .block(bus.block.as_millis() as usize);
            let keys = [&bus.topic];
            let reply: redis::Value = tokio::select! {
                r = reader.xread_options(&keys, &[">"], &opts) => r?,
                _ = shutdown.cancelled() => return Ok(()),
            };
            let entries = entries_of_reply(reply);
            if entries.is_empty() {
                continue;
            }
            if self.decider.store.shared() {
                self.process_beside(&writer, entries).await;
            } else {
                self.process(&mut writer, entries).await?;
            }
        }
    }

    /// Decides a batch beside the one under way, while the next is read
    /// ([`BATCHES_IN_FLIGHT`] at once), on a store replicas share: each
    /// kill's calls wait for statements that answer many kills at once,
    /// and a batch's last kills wait for them with the machine idle.
    /// Whatever the batch becomes, its entries are acknowledged only
    /// once its decisions are durable, as [`RedisConsumer::process`]
    /// does; one left pending is delivered again or claimed.
    async fn process_beside(&self, writer: &MultiplexedConnection, entries: Vec<Entry>) {
        let Ok(slot) = self.batches.clone().acquire_owned().await else {
            return;
        };
        let (me, mut conn) = (self.clone(), writer.clone());
        tokio::spawn(async move {
            let _slot = slot;
            if let Err(e) = me.process(&mut conn, entries).await {
                tracing::warn!(error = %e, "A batch was not acknowledged; its entries stay pending and are delivered again");
            }
        });
    }

    /// Reads the group's lag and pending count (XINFO GROUPS) into the
    /// metrics. A failure only leaves the last values: it is not a reason
    /// to stop consuming.
    async fn sample_backlog(&self, conn: &mut MultiplexedConnection) {
        let info: Result<StreamInfoGroupsReply, _> = conn.xinfo_groups(&self.bus.topic).await;
        match info {
            Ok(info) => {
                if let Some(g) = info
                    .groups
                    .iter()
                    .find(|g| g.name == self.bus.consumer_group)
                {
                    let m = &self.decider.metrics;
                    m.redis_pending
                        .set(i64::try_from(g.pending).unwrap_or(i64::MAX));
                    // Redis reports no lag when it cannot tell (after XDEL).
                    m.redis_lag
                        .set(g.lag.map_or(-1, |l| i64::try_from(l).unwrap_or(i64::MAX)));
                }
            }
            Err(e) => tracing::debug!(error = %e, "Could not read the consumer group's backlog"),
        }
    }

    async fn claim(&self, conn: &mut MultiplexedConnection) -> Result<(), ConsumerError> {
        let bus = &self.bus;
        let mut cursor = "0-0".to_string();
        loop {
            let opts = StreamAutoClaimOptions::default().count(bus.batch_size as usize);
            let reply: StreamAutoClaimReply = conn
                .xautoclaim_options(
                    &bus.topic,
                    &bus.consumer_group,
                    &bus.consumer_name,
                    bus.claim_idle.as_millis() as u64,
                    &cursor,
                    opts,
                )
                .await?;
            if !reply.claimed.is_empty() {
                tracing::info!(
                    count = reply.claimed.len(),
                    "Claimed entries abandoned by another consumer"
                );
                let claimed = reply.claimed.iter().map(Entry::of_stream_id).collect();
                self.process(conn, claimed).await?;
            }
            if reply.next_stream_id == "0-0" || reply.next_stream_id == cursor {
                return Ok(());
            }
            cursor = reply.next_stream_id;
        }
    }

    /// Decides a batch, flushes the store, then acknowledges.
    async fn process(
        &self,
        conn: &mut MultiplexedConnection,
        entries: Vec<Entry>,
    ) -> Result<(), ConsumerError> {
        let bus = &self.bus;
        let now = Utc::now();
        // Not a MULTI: Redis runs a connection's commands in order, so the
        // XACK at the end runs after every response and dead letter before
        // it, and a transaction would only add its queuing (it undoes
        // nothing when a command fails). A crash between a response and the
        // XACK leaves the entry pending: it is delivered again, found
        // decided, and its stored decision is published again.
        let mut pipe = redis::pipe();
        // Every entry of the batch is handled in this task, up to
        // max_in_flight at once: while a kill's plugins judge on the plugin
        // threads, the worker under this task parses, stores and encodes
        // the others and serves the connections' I/O. Answers come in the
        // batch's order.
        let in_flight = (bus.max_in_flight as usize).max(1);
        let decider = &self.decider;
        let handled: Vec<_> = if decider.store.shared() {
            // A store replicas share answers each call in a round trip to
            // the database, which holds the caller's thread: each entry is
            // a task of its own, so the batch's round trips overlap.
            futures::stream::iter(entries)
                .map(|entry| {
                    let (decider, bus, id) = (decider.clone(), self.bus.clone(), entry.id.clone());
                    let task =
                        tokio::spawn(
                            async move { handle_guarded(&decider, &bus, entry, now).await },
                        );
                    async move { task.await.unwrap_or(Err(id)) }
                })
                .buffered(in_flight)
                .collect()
                .await
        } else {
            futures::stream::iter(entries)
                .map(|entry| handle_guarded(decider, bus, entry, now))
                .buffered(in_flight)
                .collect()
                .await
        };
        let mut ack: Vec<String> = Vec::new();
        for done in handled {
            match done {
                Ok((id, Ok(cmd))) => {
                    pipe.add_command(cmd).ignore();
                    ack.push(id);
                }
                // Not acknowledged: Redis delivers it again.
                Ok((id, Err(e))) => {
                    tracing::error!(entry_id = %id, error = %e, "Decision not stored; entry left pending")
                }
                Err(id) => {
                    tracing::error!(entry_id = %id, "Deciding this entry panicked; entry left pending")
                }
            }
        }
        if ack.is_empty() {
            return Ok(());
        }
        pipe.cmd("XACK")
            .arg(&bus.topic)
            .arg(&bus.consumer_group)
            .arg(&ack)
            .ignore();
        // Durable before acknowledged: the flush and the ack run while the
        // next batch is read and decided, at most ACKS_IN_FLIGHT at once.
        // Entries whose ack fails stay pending and are claimed again.
        let permit = self.acks.clone().acquire_owned().await;
        let (decider, hook, mut conn) = (self.decider.clone(), self.on_ack.clone(), conn.clone());
        tokio::spawn(async move {
            let _permit = permit;
            if let Err(e) = decider.store.flush().await {
                tracing::error!(error = %e, "Store flush failed; batch left pending");
                return;
            }
            // Each command's own reply: Redis runs every command of the
            // pipeline, so one it refuses (a response to a reply_to that
            // is not a stream) does not stop the XACK after it.
            let n = ack.len() + 1;
            match redis::aio::ConnectionLike::req_packed_commands(&mut conn, &pipe, 0, n).await {
                Ok(replies) => {
                    let mut replies = replies.into_iter().map(redis::Value::extract_error);
                    for (id, reply) in ack.iter().zip(replies.by_ref()) {
                        if let Err(e) = reply {
                            refused_by_redis(&decider, id, &e);
                        }
                    }
                    match replies.next() {
                        Some(Err(e)) => {
                            tracing::warn!(error = %e, count = ack.len(), "Acknowledging failed; the entries will be claimed again")
                        }
                        _ => {
                            if let Some(hook) = hook {
                                hook(&ack);
                            }
                        }
                    }
                }
                Err(e) => {
                    tracing::warn!(error = %e, count = ack.len(), "Acknowledging failed; the entries will be claimed again")
                }
            }
        });
        Ok(())
    }

    /// Waits until every batch decided beside the reads and every
    /// flush-and-acknowledge in flight has finished.
    async fn drain_acks(&self) {
        if let Ok(all) = self.batches.acquire_many(BATCHES_IN_FLIGHT as u32).await {
            drop(all);
        }
        if let Ok(all) = self.acks.acquire_many(ACKS_IN_FLIGHT as u32).await {
            drop(all);
        }
    }
}

/// An entry whose response (or dead letter) Redis refused for good: it is
/// acknowledged all the same (its decision is stored, and readable over the
/// API), so it is kept as a dead letter and logged as lost, not as retried.
fn refused_by_redis(decider: &Decider, entry_id: &str, e: &redis::RedisError) {
    tracing::error!(entry_id, error = %e, "Redis refused this entry's response for good (is its reply_to a stream?): the entry is acknowledged and not retried; its decision is stored");
    let dl = crate::store::DeadLetter::response_refused(
        "redis",
        Some(entry_id),
        format!("Redis refused the response: {e}"),
        "",
    );
    decider.metrics.dead_letters.inc();
    if let Err(err) = decider.store.dead_letter(&dl) {
        tracing::error!(error = %err, "Could not record dead letter");
    }
}

/// [`handle_entry`], with a panic in deciding one entry kept to that
/// entry (`Err` with its id: it stays pending and Redis delivers it
/// again), not the whole batch.
async fn handle_guarded(
    decider: &Decider,
    bus: &EventBusSection,
    entry: Entry,
    now: DateTime<Utc>,
) -> Result<(String, Result<redis::Cmd, StoreError>), String> {
    let id = entry.id.clone();
    match std::panic::AssertUnwindSafe(handle_entry(decider, bus, entry, now))
        .catch_unwind()
        .await
    {
        Ok(done) => Ok(done),
        Err(_) => Err(id),
    }
}

/// One entry of a batch: decided (its response's XADD) or, when invalid,
/// dead-lettered (the dead letter's XADD); either way it is acknowledged
/// with the batch. An error leaves it pending.
async fn handle_entry(
    decider: &Decider,
    bus: &EventBusSection,
    entry: Entry,
    now: DateTime<Utc>,
) -> (String, Result<redis::Cmd, StoreError>) {
    // Every entry that arrives, whatever becomes of it.
    decider.metrics.kills_received.inc();
    let parsed = entry.parse(now);
    let Entry { id, fields, .. } = entry;
    match parsed.and_then(|p| envelope::with_allowed_reply(p, bus)) {
        Ok(parsed) => {
            let reply_to = parsed.reply_to.clone();
            let done = match decider.handle(Incoming::new(parsed, "redis")).await {
                // A kill_id reused for another kill: refused like bad input.
                Ok(Handled::Conflict(_, why)) => {
                    let e = ValidationError::new("kill_id", why);
                    return (id.clone(), Ok(dead_letter(decider, bus, &id, &fields, &e)));
                }
                done => done.map(|handled| {
                    encoded_response(
                        reply_to.as_deref().unwrap_or(&bus.response_topic),
                        handled.decision(),
                        &handled.decision_json(),
                    )
                }),
            };
            (id, done)
        }
        Err(e) => {
            let cmd = dead_letter(decider, bus, &id, &fields, &e);
            (id, Ok(cmd))
        }
    }
}

/// Records a refused entry as a dead letter and returns the XADD that puts
/// it on the dead-letter stream, with the field and the reason.
fn dead_letter(
    decider: &Decider,
    bus: &EventBusSection,
    id: &str,
    fields: &[(String, String)],
    e: &ValidationError,
) -> redis::Cmd {
    let raw: String = serde_json::to_string(fields)
        .unwrap_or_default()
        .chars()
        .take(4096)
        .collect();
    if let Err(err) = decider.reject("redis", Some(id), "smith", e, &raw) {
        tracing::error!(error = %err, "Could not record dead letter");
    }
    let mut cmd = redis::cmd("XADD");
    cmd.arg(&bus.dead_letter_topic)
        .arg("*")
        .arg("reason")
        .arg(e.to_string())
        .arg("field")
        .arg(&e.field)
        .arg("entry_id")
        .arg(id)
        .arg("source_stream")
        .arg(&bus.topic)
        .arg("raw")
        .arg(raw);
    cmd
}

/// A stream entry: its id and its fields as strings. A field whose name or
/// value is not UTF-8 is kept (lossily, for the dead letter) and named in
/// `not_utf8`: such an entry is invalid input, never guessed at.
#[derive(Debug, Default, PartialEq)]
pub struct Entry {
    pub id: String,
    pub fields: Vec<(String, String)>,
    pub not_utf8: Option<String>,
}

impl Entry {
    pub fn of_stream_id(entry: &StreamId) -> Entry {
        let mut not_utf8 = None;
        let fields = entry
            .map
            .iter()
            .map(|(k, v)| {
                let (v, ok) = text_of(v.clone());
                if !ok && not_utf8.is_none() {
                    not_utf8 = Some(k.clone());
                }
                (k.clone(), v)
            })
            .collect();
        Entry {
            id: entry.id.clone(),
            fields,
            not_utf8,
        }
    }

    /// `[id, [field, value, …]]`; the fields are nil for an entry deleted
    /// while pending. `None` when the shape is not an entry.
    fn of_value(v: redis::Value) -> Option<Entry> {
        let mut parts = items(v)?.into_iter();
        let id = text_of(parts.next()?).0;
        let mut fields = Vec::new();
        let mut not_utf8 = None;
        if let Some(list) = parts.next().and_then(items) {
            let mut list = list.into_iter();
            while let (Some(k), Some(v)) = (list.next(), list.next()) {
                let ((k, k_ok), (v, v_ok)) = (text_of(k), text_of(v));
                if !(k_ok && v_ok) && not_utf8.is_none() {
                    not_utf8 = Some(k.clone());
                }
                fields.push((k, v));
            }
        }
        Some(Entry {
            id,
            fields,
            not_utf8,
        })
    }

    /// The kill it carries, if its fields are text.
    pub fn parse(&self, now: DateTime<Utc>) -> Result<envelope::Parsed, ValidationError> {
        match &self.not_utf8 {
            Some(field) => Err(ValidationError::new(
                field,
                "is not valid UTF-8 text: refused, not guessed at",
            )),
            None => envelope::from_stream_fields(&self.fields, now),
        }
    }
}

/// The items of an array (or of a RESP3 set); `None` for anything else.
fn items(v: redis::Value) -> Option<Vec<redis::Value>> {
    match v {
        redis::Value::Array(a) | redis::Value::Set(a) => Some(a),
        _ => None,
    }
}

/// A reply value as text, taking a bulk string's bytes without copying
/// them when they are UTF-8; with whether they were (a lossy copy if not).
fn text_of(v: redis::Value) -> (String, bool) {
    match v {
        redis::Value::BulkString(b) => match String::from_utf8(b) {
            Ok(s) => (s, true),
            Err(e) => (String::from_utf8_lossy(e.as_bytes()).into_owned(), false),
        },
        redis::Value::SimpleString(s) => (s, true),
        redis::Value::Int(i) => (i.to_string(), true),
        other => (format!("{other:?}"), true),
    }
}

/// The entries of an XREAD/XREADGROUP reply, read straight from the reply
/// (RESP2 arrays of `[stream, entries]`, or a RESP3 map), without building
/// a map per entry first. Nil (a blocking read that timed out) is none.
pub fn entries_of_reply(reply: redis::Value) -> Vec<Entry> {
    let streams: Vec<redis::Value> = match reply {
        redis::Value::Map(m) => m.into_iter().map(|(_, entries)| entries).collect(),
        redis::Value::Array(a) => a
            .into_iter()
            .filter_map(|s| items(s)?.into_iter().nth(1))
            .collect(),
        _ => Vec::new(),
    };
    streams
        .into_iter()
        .filter_map(items)
        .flatten()
        .filter_map(Entry::of_value)
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use redis::Value;

    fn bulk(s: &str) -> Value {
        Value::BulkString(s.as_bytes().to_vec())
    }

    fn entry(id: &str, fields: &[(&str, &str)]) -> Value {
        let flat = fields
            .iter()
            .flat_map(|(k, v)| [bulk(k), bulk(v)])
            .collect();
        Value::Array(vec![bulk(id), Value::Array(flat)])
    }

    fn expected(id: &str, fields: &[(&str, &str)]) -> Entry {
        Entry {
            id: id.into(),
            fields: fields
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect(),
            not_utf8: None,
        }
    }

    #[test]
    fn an_entry_that_is_not_utf8_is_refused_naming_the_field() {
        let raw = Value::Array(vec![
            bulk("1-0"),
            Value::Array(vec![
                bulk("data"),
                Value::BulkString(b"{\"kill_id\":\"k\xff\"}".to_vec()),
            ]),
        ]);
        let e = Entry::of_value(raw).expect("an entry");
        assert_eq!(e.not_utf8.as_deref(), Some("data"));
        let err = e.parse(Utc::now()).unwrap_err();
        assert_eq!(err.field, "data");
        assert!(err.problem.contains("UTF-8"), "{err}");
    }

    #[test]
    fn entries_are_read_from_resp2_and_resp3_replies_in_order() {
        let a = [("data", "{\"x\":1}"), ("kill_id", "k-1")];
        let b = [("payload", "{}")];
        let resp2 = Value::Array(vec![Value::Array(vec![
            bulk("smith.events.kill_notifications"),
            Value::Array(vec![entry("1-0", &a), entry("1-1", &b)]),
        ])]);
        let want = vec![expected("1-0", &a), expected("1-1", &b)];
        assert_eq!(entries_of_reply(resp2), want);
        let resp3 = Value::Map(vec![(
            bulk("smith.events.kill_notifications"),
            Value::Array(vec![entry("1-0", &a), entry("1-1", &b)]),
        )]);
        assert_eq!(entries_of_reply(resp3), want);
    }

    #[test]
    fn a_timed_out_read_a_deleted_entry_and_binary_values_are_handled() {
        assert!(entries_of_reply(Value::Nil).is_empty());
        let deleted = Value::Array(vec![Value::Array(vec![
            bulk("s"),
            Value::Array(vec![Value::Array(vec![bulk("2-0"), Value::Nil])]),
        ])]);
        assert_eq!(entries_of_reply(deleted), vec![expected("2-0", &[])]);
        let binary = Value::Array(vec![Value::Array(vec![
            bulk("s"),
            Value::Array(vec![Value::Array(vec![
                bulk("3-0"),
                Value::Array(vec![bulk("data"), Value::BulkString(vec![0xff, b'a'])]),
            ])]),
        ])]);
        // Kept lossily for the dead letter, and named as not text.
        assert_eq!(
            entries_of_reply(binary),
            vec![Entry {
                not_utf8: Some("data".into()),
                ..expected("3-0", &[("data", "\u{fffd}a")])
            }]
        );
    }
}
