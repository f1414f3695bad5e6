//! Smith's veto (docs/reference/protocols.md#smiths-veto) in the resurrection
//! workflow: before an automatic resurrection Medic asks, and Smith's answer
//! — or silence — decides whether it goes on, goes to a human, or stops.

use chrono::Utc;
use serde_json::json;

use super::resurrector::{Halt, Resurrector};
use super::veto::{Answer, VetoDecision};
use crate::config::raw::VetoTimeout;
use crate::model::{ResurrectionRequest, WorkflowState};
use crate::store::AuditKind;

impl Resurrector {
    /// Smith's veto, when the protocol is on. `Ok(true)`: go on.
    pub(super) async fn negotiate(
        &self,
        r: &mut ResurrectionRequest,
        record: Option<&crate::store::DecisionRecord>,
    ) -> Result<bool, Halt> {
        let Some(channel) = self.veto.as_ref() else {
            r.approved_by = Some("auto".into());
            self.move_to(r, WorkflowState::Approved, "approved automatically")
                .await?;
            return Ok(true);
        };
        let Some(rec) = record else {
            r.error = Some("its decision is not in the store".into());
            self.move_to(r, WorkflowState::Failed, "decision missing")
                .await?;
            return Ok(false);
        };
        let policy = self.config.medic.smith.veto_protocol.on_timeout;
        let answer = channel.ask(r, &rec.decision).await;
        tracing::info!(kill_id = %r.kill_id, request_id = %r.request_id, answer = ?answer, "Smith answered the pre-resurrection notice");
        let (proceed, queue_reason, why) = match &answer {
            Answer::Smith(a) => match a.decision {
                VetoDecision::Approve => (true, None, format!("Smith approved: {}", a.reason)),
                VetoDecision::Veto => (false, None, format!("vetoed by Smith: {}", a.reason)),
                VetoDecision::Defer => (
                    false,
                    Some(format!("Smith deferred to a human: {}", a.reason)),
                    format!("deferred by Smith: {}", a.reason),
                ),
            },
            Answer::Timeout => {
                let t = self.config.medic.smith.veto_protocol.timeout.as_secs();
                match policy {
                    VetoTimeout::Proceed => (
                        true,
                        None,
                        format!(
                            "Smith did not answer in {t} s; smith.veto_protocol.on_timeout is proceed"
                        ),
                    ),
                    VetoTimeout::Deny => (
                        false,
                        None,
                        format!(
                            "Smith did not answer in {t} s; smith.veto_protocol.on_timeout is deny"
                        ),
                    ),
                    VetoTimeout::Queue => (
                        false,
                        Some(format!("Smith did not answer the notice in {t} s")),
                        format!("Smith did not answer in {t} s: a human decides"),
                    ),
                }
            }
            Answer::Unavailable(e) => (
                false,
                Some(format!("the veto notice could not be sent: {e}")),
                format!("veto notice not sent ({e}): a human decides"),
            ),
        };
        if proceed {
            r.approved_by = Some("auto".into());
            self.move_to(r, WorkflowState::Approved, why).await?;
            return Ok(true);
        }
        // Queued first, so the item is there once the request shows
        // cancelled.
        if let Some(reason) = queue_reason {
            match self
                .queue
                .enqueue(&rec.decision, &rec.kill, &reason, Utc::now())
            {
                Ok(_) => {}
                Err(e) => {
                    tracing::error!(kill_id = %r.kill_id, error = %e, "Could not queue a deferred resurrection; the module stays down")
                }
            }
        }
        self.store.audit(
            AuditKind::ResurrectionVetoed,
            Some(&r.kill_id),
            Some(&r.decision_id),
            "smith",
            json!({"request_id": r.request_id, "module": r.target_module, "reason": why,
                   "answer": match &answer { Answer::Smith(a) => serde_json::to_value(a).unwrap_or_default(), _ => serde_json::Value::Null }}),
        )?;
        r.error = Some(why.clone());
        self.move_to(r, WorkflowState::Cancelled, why.clone())
            .await?;
        self.store.flush().await?;
        Ok(false)
    }
}
