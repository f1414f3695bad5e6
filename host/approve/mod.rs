//! The human side of resurrection: the approval queue (spec §3.3).

pub mod queue;

pub use queue::{ApprovalQueue, QueueError, QueueStats};
