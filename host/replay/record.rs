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

/// Writes the decisions of the last `hours` as a recording, oldest first,
/// an hour at a time: `hour(from, to)` gives those made in `[from, to)`,
/// oldest first, so memory holds one hour of records, not the whole export.
fn by_hour<W: Write, E: From<RecordError>>(
    config: &Config,
    hours: i64,
    out: W,
    generator: &str,
    mut hour: impl FnMut(DateTime<Utc>, DateTime<Utc>) -> Result<Vec<DecisionRecord>, E>,
) -> Result<Captured, E> {
    let mut w = Writer::new(out, &header(generator)).map_err(RecordError::from)?;
    let (mut from, end) = window(hours);
    let mut n = Captured::default();
    while from < end {
        let to = (from + Duration::hours(1)).min(end);
        for rec in hour(from, to)? {
            w.write(&recorded(config, rec)).map_err(RecordError::from)?;
            n.written += 1;
        }
        from = to;
    }
    w.finish().map_err(RecordError::from)?;
    Ok(n)
}

/// Exports the decisions of the last `hours` from the store.
pub fn from_store<W: Write>(
    config: &Config,
    store: &Store,
    hours: i64,
    out: W,
) -> Result<Captured, RecordError> {
    by_hour(config, hours, out, "medic record (store)", |from, to| {
        Ok(store.records_between(from, to)?)
    })
}

/// One page of a running Medic's records, newest first (`GET
/// /api/v1/decisions/records`): the records and the cursor to the next.
pub type Page = (Vec<DecisionRecord>, Option<String>);

/// Exports the decisions of the last `hours` from a running Medic, through
/// `page(from, to, cursor)`, whose bounds are both inclusive (as the API's
/// are) and whose pages run newest first: each hour's pages are read, then
/// written reversed.
pub fn from_pages<W: Write, E: From<RecordError>>(
    config: &Config,
    hours: i64,
    out: W,
    mut page: impl FnMut(DateTime<Utc>, DateTime<Utc>, Option<&str>) -> Result<Page, E>,
) -> Result<Captured, E> {
    by_hour(config, hours, out, "medic record (api)", |from, to| {
        // The hour ends a millisecond before the next one starts.
        let last = to - Duration::milliseconds(1);
        let mut hour = Vec::new();
        let mut cursor: Option<String> = None;
        loop {
            let (records, next) = page(from, last, cursor.as_deref())?;
            hour.extend(records);
            match next {
                Some(c) => cursor = Some(c),
                None => break,
            }
        }
        hour.reverse();
        Ok(hour)
    })
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
