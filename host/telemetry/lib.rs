//! Structured logging (docs/reference/logging.md) and the engine's metrics
//! (docs/guide.md ("Metrics")), served through prometheus-client.

// The modules of the crates below, under the names the code uses.
#[allow(unused_imports)]
use medic_config as config;
#[allow(unused_imports)]
use medic_model::{self as model, wire_time};

pub mod exposition;
mod histogram;
mod log_writer;
pub mod logging;
pub mod metrics;
pub mod process;

pub use histogram::{FlushTimes, Histogram, Tally};
pub use logging::init;
pub use metrics::{Counter, Gauge, Metrics};
