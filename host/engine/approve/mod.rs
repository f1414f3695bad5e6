//! The human side of resurrection: the approval queue.

pub mod queue;

pub use queue::{ApprovalQueue, QueueError, QueueStats};

use crate::model::Decision;

/// Why a decision is put to a person, as the queue shows it: the last
/// guardrail that sent it there, else the strategy's last reason.
pub fn reason_for(d: &Decision) -> String {
    d.reasoning
        .iter()
        .rev()
        .find(|r| r.starts_with("guardrail"))
        .cloned()
        .or_else(|| {
            d.reasoning
                .last()
                .map(|r| format!("strategy {}: {r}", d.strategy.name))
        })
        .unwrap_or_else(|| "the strategy asks for human review".into())
}
