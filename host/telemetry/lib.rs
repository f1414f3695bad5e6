//! Structured logging (docs/reference/logging.md) and the engine's counters.

// The modules of the crates below, under the names the code uses.
#[allow(unused_imports)]
use medic_config as config;
#[allow(unused_imports)]
use medic_model::{self as model, sync, wire_time};

mod histogram;
mod log_writer;
pub mod logging;
pub mod metrics;
pub mod process;

pub use histogram::{FlushTimes, Histogram, Tally, family, label_value, labels, sample};
pub use logging::init;
pub use metrics::{Counter, Gauge, Metrics};
