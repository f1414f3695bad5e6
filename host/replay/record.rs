//! `medic record`: captures kills into a recording — exported from the
//! store with the SIEM context Medic saw, or read from Smith's Redis stream
//! with XRANGE (nothing consumed, nothing acknowledged).

use std::io::Write;

use chrono::{DateTime, Duration, Utc};

use super::recording::{Header, Recorded, RecordedProfile, VERSION, Writer};
use crate::config::Config;
use crate::store::Store;

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

/// Exports the decisions of the last `hours` from the store.
pub fn from_store<W: Write>(
    config: &Config,
    store: &Store,
    hours: i64,
    out: W,
) -> Result<Captured, RecordError> {
    let mut w = Writer::new(out, &header("medic record (store)"))?;
    let now = Utc::now();
    let mut n = Captured::default();
    for rec in store.records_between(now - Duration::hours(hours), now + Duration::minutes(1))? {
        let criticality = config
            .medic
            .modules
            .criticality
            .get(&rec.kill.target_module)
            .copied();
        w.write(&Recorded {
            kill: rec.kill,
            context: rec.context,
            profile: Some(RecordedProfile { criticality }),
            label: None,
        })?;
        n.written += 1;
    }
    w.finish()?;
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
