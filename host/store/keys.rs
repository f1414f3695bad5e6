//! Key encodings: big-endian times so sled's byte order is time order.

use chrono::{DateTime, Utc};

pub fn time_be(t: DateTime<Utc>) -> [u8; 8] {
    time_be_ms(t.timestamp_millis())
}

/// Milliseconds since 1970, shifted so earlier times still sort below
/// later ones.
pub fn time_be_ms(ms: i64) -> [u8; 8] {
    ((ms as u64) ^ (1 << 63)).to_be_bytes()
}

/// The milliseconds a [`time_be_ms`] key starts with.
pub fn ms_of_time_be(key: &[u8]) -> i64 {
    key.get(..8)
        .and_then(|b| <[u8; 8]>::try_from(b).ok())
        .map_or(0, |b| (u64::from_be_bytes(b) ^ (1 << 63)) as i64)
}

/// `module \0 time kill_id`: a module's kills in time order.
pub fn module_key(module: &str, t: DateTime<Utc>, kill_id: &str) -> Vec<u8> {
    let mut k = module_prefix(module);
    k.extend_from_slice(&time_be(t));
    k.extend_from_slice(kill_id.as_bytes());
    k
}

pub fn module_prefix(module: &str) -> Vec<u8> {
    let mut k = Vec::with_capacity(module.len() + 1 + 8 + 36);
    k.extend_from_slice(module.as_bytes());
    k.push(0);
    k
}

/// `time kill_id`: all kills in time order.
pub fn time_key(t: DateTime<Utc>, kill_id: &str) -> Vec<u8> {
    let mut k = time_be(t).to_vec();
    k.extend_from_slice(kill_id.as_bytes());
    k
}
