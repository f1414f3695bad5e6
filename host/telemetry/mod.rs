//! Structured logging (docs/reference/logging.md) and the engine's counters.

mod histogram;
mod log_writer;
pub mod logging;
pub mod metrics;

pub use histogram::{FlushTimes, Histogram, Tally, family, label_value, labels, sample};
pub use logging::init;
pub use metrics::{Counter, Gauge, Metrics};
