//! Learning from outcomes (the learning phase): thresholds adjusted through
//! the learner plugin within the host's bounds, with a history that can be
//! reverted; pattern analysis and the weekly report; stepping the mode
//! down when automatic resurrections burn the phase's error budget.

pub mod check;
pub mod demotion;
pub mod gate;
pub mod patterns;
pub mod safety;
pub mod schedule;
pub mod thresholds;
pub mod weekly;

pub use thresholds::{LearnError, LearnRun, ThresholdManager};
