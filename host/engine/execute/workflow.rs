//! The resurrection workflow as a table of legal moves. Every move is checked
//! here, stamped, and kept in the request; an illegal one is an error and
//! changes nothing.

use chrono::{DateTime, Utc};

use crate::model::{
    Decision, KillReport, ResurrectionRequest, ResurrectionStatus, Transition, WorkflowState,
};

/// A move the table does not allow.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("request {request_id}: illegal workflow move {from:?} → {to:?}")]
pub struct IllegalTransition {
    pub request_id: String,
    pub from: WorkflowState,
    pub to: WorkflowState,
}

/// The legal moves (docs/reference/data-model.md#workflow). Besides the
/// straight path, a request not yet running may be `cancelled` (vetoed, or
/// withdrawn), and an anomaly that cannot be rolled back (rollback off, or
/// Smith killed the module again) ends in `failed`.
pub fn allowed(from: WorkflowState, to: WorkflowState) -> bool {
    use WorkflowState::*;
    matches!(
        (from, to),
        (Pending, Approved | Failed | Cancelled)
            | (Approved, Executing | Failed | Cancelled)
            | (Executing, Monitoring | Failed)
            | (Monitoring, Stable | AnomalyDetected)
            | (Stable, Completed)
            | (AnomalyDetected, RollingBack | Stable | Failed)
            | (RollingBack, Failed)
    )
}

/// The status a workflow state shows as.
pub fn status_of(r: &ResurrectionRequest, state: WorkflowState) -> ResurrectionStatus {
    use WorkflowState::*;
    match state {
        Pending => ResurrectionStatus::Pending,
        Approved => ResurrectionStatus::Approved,
        Executing | Monitoring | Stable | AnomalyDetected | RollingBack => {
            ResurrectionStatus::InProgress
        }
        Completed => ResurrectionStatus::Completed,
        Failed if r.rollback_reason.is_some() => ResurrectionStatus::RolledBack,
        Failed => ResurrectionStatus::Failed,
        Cancelled => ResurrectionStatus::Cancelled,
    }
}

/// A new request for a decided kill, in `pending`.
pub fn new_request(
    decision: &Decision,
    kill: &KillReport,
    backend: &str,
    monitoring_duration_minutes: f64,
    health_checks: Vec<String>,
    now: DateTime<Utc>,
) -> ResurrectionRequest {
    ResurrectionRequest {
        request_id: uuid::Uuid::now_v7().to_string(),
        decision_id: decision.decision_id.clone(),
        kill_id: decision.kill_id.clone(),
        target_module: kill.target_module.clone(),
        target_instance_id: kill.target_instance_id.clone(),
        status: ResurrectionStatus::Pending,
        created_at: now,
        approved_at: None,
        approved_by: None,
        executed_at: None,
        completed_at: None,
        rollback_reason: None,
        monitoring_duration_minutes,
        health_checks,
        state: WorkflowState::Pending,
        transitions: Vec::new(),
        backend: backend.to_string(),
        attempts: 0,
        error: None,
        dependencies: kill.dependencies.clone(),
        notes: None,
    }
}

/// Moves a request, stamping the times its record keeps. Returns the status
/// before the move.
pub fn advance(
    r: &mut ResurrectionRequest,
    to: WorkflowState,
    note: impl Into<String>,
    now: DateTime<Utc>,
) -> Result<ResurrectionStatus, IllegalTransition> {
    let from = r.state;
    if !allowed(from, to) {
        return Err(IllegalTransition {
            request_id: r.request_id.clone(),
            from,
            to,
        });
    }
    let before = r.status;
    match to {
        WorkflowState::Approved => r.approved_at = Some(now),
        WorkflowState::Executing => r.executed_at = r.executed_at.or(Some(now)),
        s if s.is_final() => r.completed_at = Some(now),
        _ => {}
    }
    r.state = to;
    r.status = status_of(r, to);
    r.transitions.push(Transition {
        from,
        to,
        at: now,
        note: note.into(),
    });
    Ok(before)
}

#[cfg(test)]
mod tests {
    use super::*;
    use WorkflowState::*;

    const ALL: [WorkflowState; 10] = WorkflowState::ALL;

    fn request() -> ResurrectionRequest {
        let kill: KillReport = serde_json::from_value(serde_json::json!({
            "kill_id": "k1", "timestamp": "2026-01-01T00:00:00Z", "target_module": "svc",
            "target_instance_id": "svc-1", "kill_reason": "anomaly_behavior", "severity": "low",
            "confidence_score": 0.5, "source_agent": "smith"
        }))
        .unwrap();
        let decision = crate::model::Decision {
            decision_id: "d1".into(),
            kill_id: "k1".into(),
            timestamp: kill.timestamp,
            outcome: crate::model::DecisionOutcome::ApproveAuto,
            risk_level: crate::model::RiskLevel::Low,
            risk_score: 0.3,
            confidence: 0.9,
            reasoning: vec![],
            recommended_action: String::new(),
            requires_human_review: false,
            auto_approve_eligible: true,
            constraints: vec![],
            timeout_minutes: 60,
            target_module: "svc".into(),
            target_instance_id: "svc-1".into(),
            risk_factors: vec![],
            strategy_outcome: None,
            guardrails: vec![],
            mode: "semi_auto".into(),
            phase: String::new(),
            executed: true,
            context_status: crate::model::ContextStatus::Ok,
            scorer: Default::default(),
            strategy: Default::default(),
            correlation_id: None,
            source: "test".into(),
            latency_us: 0,
        };
        new_request(&decision, &kill, "process", 1.0, vec![], kill.timestamp)
    }

    #[test]
    fn the_happy_path_is_legal_and_stamped() {
        let mut r = request();
        let now = Utc::now();
        for to in [Approved, Executing, Monitoring, Stable, Completed] {
            advance(&mut r, to, "", now).unwrap();
        }
        assert_eq!(r.status, ResurrectionStatus::Completed);
        assert_eq!(r.transitions.len(), 5);
        assert!(r.approved_at.is_some() && r.executed_at.is_some() && r.completed_at.is_some());
    }

    #[test]
    fn a_rollback_shows_as_rolled_back() {
        let mut r = request();
        let now = Utc::now();
        for to in [
            Approved,
            Executing,
            Monitoring,
            AnomalyDetected,
            RollingBack,
        ] {
            advance(&mut r, to, "", now).unwrap();
        }
        r.rollback_reason = Some("unhealthy".into());
        advance(&mut r, Failed, "", now).unwrap();
        assert_eq!(r.status, ResurrectionStatus::RolledBack);
    }

    #[test]
    fn every_move_outside_the_table_is_refused_and_changes_nothing() {
        let legal = 15;
        let mut seen = 0;
        for from in ALL {
            for to in ALL {
                let mut r = request();
                r.state = from;
                let before = r.clone();
                match advance(&mut r, to, "", Utc::now()) {
                    Ok(_) => seen += 1,
                    Err(e) => {
                        assert_eq!((e.from, e.to), (from, to));
                        assert_eq!(r, before);
                    }
                }
            }
        }
        assert_eq!(seen, legal);
        // Nothing leaves a final state.
        for s in [Completed, Failed, Cancelled] {
            assert!(ALL.iter().all(|to| !allowed(s, *to)));
        }
    }
}
