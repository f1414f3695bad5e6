//! How a resurrection ends: its outcome record — stored, audited, counted,
//! fed into the module's history and reported to the SIEM.

use chrono::Utc;
use serde_json::json;

use super::resurrector::{Halt, Resurrector};
use crate::model::{DecisionOutcome, JsonMap, OutcomeRecord, OutcomeResult, ResurrectionRequest};
use crate::store::AuditKind;

impl Resurrector {
    pub(super) async fn finish(
        &self,
        r: &ResurrectionRequest,
        record: Option<&crate::store::DecisionRecord>,
        result: OutcomeResult,
        time_to_stable: Option<u32>,
        lessons: Vec<String>,
    ) -> Result<(), Halt> {
        self.finish_with(r, record, result, time_to_stable, JsonMap::new(), lessons)
            .await
    }

    /// Records the outcome, counts it, reports it to the SIEM.
    pub(super) async fn finish_with(
        &self,
        r: &ResurrectionRequest,
        record: Option<&crate::store::DecisionRecord>,
        result: OutcomeResult,
        time_to_stable: Option<u32>,
        mut metrics: JsonMap,
        lessons: Vec<String>,
    ) -> Result<(), Halt> {
        metrics.insert("attempts".into(), json!(r.attempts));
        metrics.insert("backend".into(), json!(r.backend));
        let d = record.map(|rec| &rec.decision);
        let outcome = OutcomeRecord {
            outcome_id: uuid::Uuid::now_v7().to_string(),
            request_id: r.request_id.clone(),
            decision_id: r.decision_id.clone(),
            kill_id: r.kill_id.clone(),
            result,
            recorded_at: Utc::now(),
            time_to_stable,
            post_resurrection_metrics: metrics,
            smith_feedback: None,
            human_feedback: r.notes.clone(),
            lessons_learned: lessons,
            should_adjust_threshold: !matches!(
                result,
                OutcomeResult::Success | OutcomeResult::PartialSuccess
            ),
            target_module: r.target_module.clone(),
            risk_level: d.map_or(crate::model::RiskLevel::Critical, |d| d.risk_level),
            risk_score: d.map_or(1.0, |d| d.risk_score),
            decision: d.map_or(DecisionOutcome::ApproveManual, |d| d.outcome),
            strategy: d.map_or_else(String::new, |d| {
                format!("{}@{}", d.strategy.name, d.strategy.version)
            }),
            kill_reason: record.map(|rec| rec.kill.kill_reason),
            smith_confidence: record.map(|rec| rec.kill.confidence_score),
            reading: record
                .and_then(|rec| crate::model::Reading::of(&rec.kill, rec.context.as_ref())),
        };
        self.store.put_outcome(&outcome)?;
        self.store.audit(
            AuditKind::OutcomeRecorded,
            Some(&r.kill_id),
            Some(&r.decision_id),
            "medic",
            json!({"request_id": r.request_id, "outcome_id": outcome.outcome_id, "result": result, "time_to_stable": time_to_stable}),
        )?;
        self.store.flush().await?;
        self.fleet.outcome(
            &r.target_module,
            result,
            r.approved_by.as_deref() == Some("auto"),
        );
        self.metrics
            .resurrected(&crate::model::wire_name(&result), &r.backend);
        tracing::info!(kill_id = %r.kill_id, request_id = %r.request_id, outcome_id = %outcome.outcome_id, result = ?result, time_to_stable, "Resurrection outcome recorded");
        match self.siem.report_outcome(&outcome).await {
            Ok(_) => {}
            Err(e) => {
                tracing::warn!(kill_id = %r.kill_id, request_id = %r.request_id, error = %e, "Reporting the outcome to the SIEM failed")
            }
        }
        Ok(())
    }
}
