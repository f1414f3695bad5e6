//! Records the store's tests build: one shape of each, which a test
//! changes with struct update syntax (`OutcomeRecord { target_module, ..
//! fixtures::outcome(1, OutcomeResult::Success) }`).

use chrono::{DateTime, Duration, Utc};

use crate::DecisionRecord;
use crate::model::{
    DecisionOutcome, OutcomeRecord, OutcomeResult, QueueItem, QueueStatus, RiskLevel,
};

/// Outcome `n` (ids `o-n`, `r-n`, `d-n`, `k-n`) of an automatic
/// resurrection of module `m`, recorded now, with no evidence read.
pub fn outcome(n: u32, result: OutcomeResult) -> OutcomeRecord {
    OutcomeRecord {
        outcome_id: format!("o-{n}"),
        request_id: format!("r-{n}"),
        decision_id: format!("d-{n}"),
        kill_id: format!("k-{n}"),
        result,
        recorded_at: Utc::now(),
        time_to_stable: None,
        post_resurrection_metrics: Default::default(),
        smith_feedback: None,
        human_feedback: None,
        lessons_learned: Vec::new(),
        should_adjust_threshold: false,
        target_module: "m".into(),
        risk_level: RiskLevel::Low,
        risk_score: 0.1,
        decision: DecisionOutcome::ApproveAuto,
        strategy: "pessimistic@0.1.0".into(),
        kill_reason: None,
        smith_confidence: None,
        reading: None,
    }
}

/// The queue item `item_id` for `rec`'s decision, enqueued at `at` for an
/// hour, in `status`: decided by alice at `at` unless pending or expired.
pub fn queue_item(
    item_id: String,
    rec: &DecisionRecord,
    status: QueueStatus,
    at: DateTime<Utc>,
) -> QueueItem {
    let decided = !matches!(status, QueueStatus::Pending | QueueStatus::Expired);
    QueueItem {
        item_id,
        decision: rec.decision.clone(),
        kill: rec.kill.clone(),
        reason: "test".into(),
        enqueued_at: at,
        expires_at: at + Duration::hours(1),
        status,
        decided_by: decided.then(|| "alice".into()),
        decided_at: decided.then_some(at),
        note: None,
        request_id: None,
        cannot_resurrect: None,
    }
}
