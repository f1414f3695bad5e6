//! The append-only audit log (docs/reference/logging.md#audit-log).

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use super::log::KIND_AUDIT;
use super::{Result, SledStore};

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum AuditKind {
    KillReceived,
    DecisionMade,
    HumanApproval,
    HumanDenial,
    ResurrectionExecuted,
    RollbackTriggered,
    ThresholdAdjusted,
    ThresholdRefused,
    ConfigurationChanged,
    PluginChanged,
    InputRejected,
    QueuedForReview,
    QueueOverflow,
    QueueExpired,
    ResurrectionVetoed,
    ResurrectionFailed,
    OutcomeRecorded,
    ModeChanged,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct AuditEvent {
    pub seq: u64,
    pub at: DateTime<Utc>,
    pub kind: AuditKind,
    pub kill_id: Option<String>,
    pub decision_id: Option<String>,
    /// Who did it: `medic`, a key's name, `smith`.
    pub actor: String,
    pub details: serde_json::Value,
}

/// An [`AuditEvent`] as it is written: the same fields, borrowed, with
/// details of any serializable type (no JSON map built per event).
#[derive(Serialize)]
struct NewEvent<'a, D: Serialize> {
    seq: u64,
    #[serde(serialize_with = "crate::wire_time::rfc3339")]
    at: DateTime<Utc>,
    kind: AuditKind,
    kill_id: Option<&'a str>,
    decision_id: Option<&'a str>,
    actor: &'a str,
    details: D,
}

impl SledStore {
    /// Appends an event; `seq` is assigned here and only grows.
    pub fn audit(
        &self,
        kind: AuditKind,
        kill_id: Option<&str>,
        decision_id: Option<&str>,
        actor: &str,
        details: impl Serialize,
    ) -> Result<u64> {
        // Numbered, appended and indexed under the index lock, so the
        // index's groups hold consecutive runs of sequence numbers.
        let mut pending = self.groups.lock();
        let seq = self.next_id()?;
        let event = NewEvent {
            seq,
            at: Utc::now(),
            kind,
            kill_id,
            decision_id,
            actor,
            details,
        };
        let loc = self.groups.log.append_at(
            KIND_AUDIT,
            &serde_json::to_vec(&event)?,
            Some(event.at.timestamp_millis()),
        )?;
        pending.audit.push((seq, loc));
        pending.audited_at(event.at.timestamp_millis());
        Ok(seq)
    }

    /// Audit events, oldest first, after `after_seq`, at most `limit`.
    pub fn audit_events(&self, after_seq: Option<u64>, limit: usize) -> Result<Vec<AuditEvent>> {
        let start = after_seq.map_or(0, |s| s.saturating_add(1));
        let mut out = Vec::with_capacity(limit.min(1024));
        for (_, loc) in self.groups.audit_from(start, limit)? {
            out.extend(self.load_json::<AuditEvent>(loc)?);
        }
        Ok(out)
    }

    /// Audit events, newest first, numbered below `before_seq` (all when
    /// none), at most `limit`.
    pub fn audit_events_before(
        &self,
        before_seq: Option<u64>,
        limit: usize,
    ) -> Result<Vec<AuditEvent>> {
        let end = before_seq.unwrap_or(u64::MAX);
        let mut out = Vec::with_capacity(limit.min(1024));
        for (_, loc) in self.groups.audit_before(end, limit)? {
            out.extend(self.load_json::<AuditEvent>(loc)?);
        }
        Ok(out)
    }
}
