//! Replaying recorded kills through candidate strategies (`medic replay`),
//! generating labelled recordings (`medic simulate`), and the recording
//! format both use.

pub mod engine;
pub mod html;
mod lane;
mod lanes;
pub mod record;
pub mod recording;
pub mod simulate;
pub mod summary;

pub use engine::{Options, ReplayError, Reviewer, run};
pub use summary::{ReplayReport, Timing};
