//! Where kills come from: Smith's Redis stream (`redis.rs`) and
//! `POST /api/v1/kills` (`api/kills.rs`). Both parse with `envelope.rs`,
//! validate with `validate.rs`, and hand valid kills to the decider.

pub mod duplicate_keys;
pub mod envelope;
mod handoff;
pub mod redis;
pub mod validate;

pub use validate::ValidationError;
