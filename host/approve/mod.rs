//! The human side of resurrection: the approval queue.

pub mod queue;

pub use queue::{ApprovalQueue, QueueError, QueueStats};
