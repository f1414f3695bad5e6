//! Structured logging (spec §10.2) and the engine's counters.

pub mod logging;
pub mod metrics;

pub use logging::init;
pub use metrics::{Counter, Metrics};
