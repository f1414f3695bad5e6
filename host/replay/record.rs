//! `medic record`: captures kills into a recording — exported from the
//! store with the SIEM context Medic saw, or read from Smith's Redis stream
//! with XRANGE (nothing consumed, nothing acknowledged).

use std::io::Write;

use chrono::{DateTime, Duration, Utc};

use super::recording::{Header, Recorded, RecordedProfile, VERSION, Writer};
use crate::config::Config;
use crate::store::{DecisionRecord, Store};

#[derive(Debug, thiserror::Error)]
pub enum RecordError {
    #[error(transparent)]
    Store(#[from] crate::store::StoreError),
    #[error("redis: {0}")]
    Redis(#[from] redis::RedisError),
    #[error("cannot write the recording: {0}")]
    Io(#[from] std::io::Error),
}

/// What a capture wrote and skipped.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Captured {
    pub written: usize,
    pub skipped_invalid: usize,
}

fn header(generator: &str) -> Header {
    Header {
        medic_recording: VERSION,
        generator: generator.into(),
        scenario: None,
        seed: None,
    }
}

/// A decision record as a recorded kill, with the module's criticality as
/// the configuration gives it.
fn recorded(config: &Config, rec: DecisionRecord) -> Recorded {
    let criticality = config
        .medic
        .modules
        .criticality
        .get(&rec.kill.target_module)
        .copied();
    Recorded {
        kill: rec.kill,
        context: rec.context,
        profile: Some(RecordedProfile { criticality }),
        label: None,
    }
}

/// The window an export covers: the last `hours`, to a minute ahead (a
/// decision stamped by a clock a little ahead of this one).
fn window(hours: i64) -> (DateTime<Utc>, DateTime<Utc>) {
    let now = Utc::now();
    (now - Duration::hours(hours), now + Duration::minutes(1))
}

/// Exports the decisions of the last `hours` from the store.
pub fn from_store<W: Write>(
    config: &Config,
    store: &Store,
    hours: i64,
    out: W,
) -> Result<Captured, RecordError> {
    let mut w = Writer::new(out, &header("medic record (store)"))?;
    let (from, to) = window(hours);
    let mut n = Captured::default();
    for rec in store.records_between(from, to)? {
        w.write(&recorded(config, rec))?;
        n.written += 1;
    }
    w.finish()?;
    Ok(n)
}

/// One page of a running Medic's records, newest first (`GET
/// /api/v1/decisions/records`): the records and the cursor to the next.
pub type Page = (Vec<DecisionRecord>, Option<String>);

/// Exports the decisions of the last `hours` from a running Medic, through
/// `page(from, to, cursor)`. The API pages newest first and a recording runs
/// oldest first, so the window is walked an hour at a time, each hour's
/// pages reversed: memory holds one hour of records, not the whole export.
pub fn from_pages<W: Write, E: From<RecordError>>(
    config: &Config,
    hours: i64,
    out: W,
    mut page: impl FnMut(DateTime<Utc>, DateTime<Utc>, Option<&str>) -> Result<Page, E>,
) -> Result<Captured, E> {
    let mut w = Writer::new(out, &header("medic record (api)")).map_err(RecordError::from)?;
    let (mut from, end) = window(hours);
    let mut n = Captured::default();
    while from < end {
        // Both bounds are inclusive: the next hour starts a millisecond on.
        let to = (from + Duration::hours(1) - Duration::milliseconds(1)).min(end);
        let mut hour = Vec::new();
        let mut cursor: Option<String> = None;
        loop {
            let (records, next) = page(from, to, cursor.as_deref())?;
            hour.extend(records);
            match next {
                Some(c) => cursor = Some(c),
                None => break,
            }
        }
        for rec in hour.into_iter().rev() {
            w.write(&recorded(config, rec)).map_err(RecordError::from)?;
            n.written += 1;
        }
        from = to + Duration::milliseconds(1);
    }
    w.finish().map_err(RecordError::from)?;
    Ok(n)
}

/// Reads a Redis stream from its start without consuming it. Entries that
/// are not valid kills are skipped (and counted).
pub async fn from_redis<W: Write>(
    url: &str,
    stream: &str,
    out: W,
) -> Result<Captured, RecordError> {
    let client = redis::Client::open(url)?;
    let mut conn = client.get_multiplexed_async_connection().await?;
    let mut w = Writer::new(out, &header("medic record (redis)"))?;
    let mut n = Captured::default();
    let mut start = "-".to_string();
    loop {
        let reply: redis::streams::StreamRangeReply = redis::cmd("XRANGE")
            .arg(stream)
            .arg(&start)
            .arg("+")
            .arg("COUNT")
            .arg(1000)
            .query_async(&mut conn)
            .await?;
        let Some(last) = reply.ids.last().map(|e| e.id.clone()) else {
            break;
        };
        for entry in &reply.ids {
            let parsed = crate::ingest::redis::Entry::of_stream_id(entry);
            // Judged as of when Redis received it, so old entries still count.
            let received = entry
                .id
                .split('-')
                .next()
                .and_then(|ms| ms.parse::<i64>().ok())
                .and_then(DateTime::from_timestamp_millis)
                .unwrap_or_else(Utc::now);
            match parsed.parse(received) {
                Ok(parsed) => {
                    w.write(&Recorded {
                        kill: parsed.kill,
                        context: None,
                        profile: None,
                        label: None,
                    })?;
                    n.written += 1;
                }
                Err(_) => n.skipped_invalid += 1,
            }
        }
        // Continue after the last id (exclusive range).
        start = format!("({last}");
        if reply.ids.len() < 1000 {
            break;
        }
    }
    w.finish()?;
    Ok(n)
}
