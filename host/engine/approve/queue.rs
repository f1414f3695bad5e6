//! The approval queue: decisions that need a human wait here, durably, until
//! approved, denied or expired. Capacity is enforced — a full queue refuses,
//! visibly — and each item is decided exactly once: decisions on one item are
//! serialised and a second one is a conflict.

use std::sync::Arc;

use chrono::{DateTime, Utc};
use parking_lot::Mutex;
use serde::Serialize;
use serde_json::json;

use crate::model::{Decision, KillReport, QueueItem, QueueStatus};
use crate::store::{AuditKind, Store, StoreError};
use crate::telemetry::metrics::Metrics;

#[derive(Debug, thiserror::Error)]
pub enum QueueError {
    #[error(
        "approval queue is full ({pending} pending, interfaces.approval_queue.max_pending is {max})"
    )]
    Full { pending: usize, max: u32 },
    #[error("no queue item {0}")]
    NotFound(String),
    #[error("queue item {id} is already {status} (by {by} at {at})")]
    Conflict {
        id: String,
        status: String,
        by: String,
        at: String,
    },
    #[error("{field}: {problem}")]
    Invalid { field: String, problem: String },
    #[error("queue item {id} cannot be approved: {reason}")]
    Refused { id: String, reason: String },
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// The answer to deciding an item decided already.
fn decided_already(item: QueueItem) -> QueueError {
    QueueError::Conflict {
        id: item.item_id,
        status: crate::model::wire_name(&item.status),
        by: item.decided_by.unwrap_or_default(),
        at: item.decided_at.map(|t| t.to_rfc3339()).unwrap_or_default(),
    }
}

/// The queue's counts.
#[derive(Clone, Debug, Default, PartialEq, Serialize, utoipa::ToSchema)]
pub struct QueueStats {
    pub pending: usize,
    pub approved: usize,
    pub denied: usize,
    pub expired: usize,
    pub max_pending: u32,
    pub timeout_hours: f64,
    /// Age of the oldest pending item, in seconds.
    pub oldest_pending_seconds: Option<i64>,
}

pub struct ApprovalQueue {
    store: Store,
    /// Counts people's verdicts and expiries.
    metrics: Arc<Metrics>,
    max_pending: u32,
    /// How long an item waits for a person before it expires
    /// (`interfaces.approval_queue.timeout_hours`).
    timeout: std::time::Duration,
    /// Serialises enqueueing and deciding, so capacity and decide-once hold.
    lock: Mutex<()>,
}

impl ApprovalQueue {
    pub fn new(
        store: Store,
        metrics: Arc<Metrics>,
        max_pending: u32,
        timeout: std::time::Duration,
    ) -> Self {
        ApprovalQueue {
            store,
            metrics,
            max_pending,
            timeout,
            lock: Mutex::new(()),
        }
    }

    fn guard(&self) -> parking_lot::MutexGuard<'_, ()> {
        self.lock.lock()
    }

    /// (items pending, `max_pending`) when the queue has no room: a fact
    /// the guardrails rule on before a decision for a person is stored.
    pub fn full(&self) -> Option<(usize, u32)> {
        let pending = self.store.pending_queue_len();
        (pending >= self.max_pending as usize).then_some((pending, self.max_pending))
    }

    /// Audits a decision denied because the queue was full.
    pub fn overflowed(&self, decision: &Decision, kill: &KillReport) -> Result<(), StoreError> {
        self.store.audit(
            AuditKind::QueueOverflow,
            Some(&decision.kill_id),
            Some(&decision.decision_id),
            "medic",
            json!({"pending": self.store.pending_queue_len(), "max_pending": self.max_pending, "module": kill.target_module}),
        )?;
        Ok(())
    }

    /// Queues a decision for a human; refused when the queue is full.
    pub fn enqueue(
        &self,
        decision: &Decision,
        kill: &KillReport,
        reason: &str,
        now: DateTime<Utc>,
    ) -> Result<QueueItem, QueueError> {
        let _g = self.guard();
        if let Some((pending, max)) = self.full() {
            self.overflowed(decision, kill)?;
            return Err(QueueError::Full { pending, max });
        }
        let item = QueueItem {
            item_id: uuid::Uuid::now_v7().to_string(),
            decision: decision.clone(),
            kill: kill.clone(),
            reason: reason.to_string(),
            enqueued_at: now,
            expires_at: now + crate::config::units::span(self.timeout),
            status: QueueStatus::Pending,
            decided_by: None,
            decided_at: None,
            note: None,
            request_id: None,
            cannot_resurrect: None,
        };
        self.store.put_queue_item(&item)?;
        self.store.audit(
            AuditKind::QueuedForReview,
            Some(&decision.kill_id),
            Some(&decision.decision_id),
            "medic",
            json!({"item_id": item.item_id, "module": kill.target_module, "reason": reason, "expires_at": item.expires_at}),
        )?;
        tracing::info!(kill_id = %decision.kill_id, decision_id = %decision.decision_id, item_id = %item.item_id, module = %kill.target_module, reason, "Queued for human review");
        Ok(item)
    }

    /// Removes an item whatever its status.
    pub fn dequeue(&self, item_id: &str) -> Result<Option<QueueItem>, QueueError> {
        let _g = self.guard();
        Ok(self.store.remove_queue_item(item_id)?)
    }

    pub fn get(&self, item_id: &str) -> Result<Option<QueueItem>, QueueError> {
        Ok(self.store.queue_item(item_id)?)
    }

    /// The pending items, oldest first.
    pub fn list_pending(&self, limit: usize) -> Result<Vec<QueueItem>, QueueError> {
        let mut items = self.store.pending_queue_items()?;
        items.truncate(limit);
        Ok(items)
    }

    /// The newest `limit` items, decided ones included, oldest first: what
    /// was queued lately, not what was queued first months ago.
    pub fn list_all(&self, limit: usize) -> Result<Vec<QueueItem>, QueueError> {
        let mut items = self.store.queue_items()?;
        items.drain(..items.len().saturating_sub(limit));
        Ok(items)
    }

    /// A pending item, or why it cannot be decided. Expires it on the way
    /// when its time has passed.
    fn pending(&self, item_id: &str, now: DateTime<Utc>) -> Result<QueueItem, QueueError> {
        let mut item = self
            .store
            .queue_item(item_id)?
            .ok_or_else(|| QueueError::NotFound(item_id.to_string()))?;
        if item.status == QueueStatus::Pending && item.expires_at <= now {
            self.expire(&mut item, now)?;
        }
        if item.status != QueueStatus::Pending {
            return Err(decided_already(item));
        }
        Ok(item)
    }

    /// Writes a decided item if the store still holds it pending. Another
    /// Medic sharing the store (a replica) may have decided it since it
    /// was read: then this decision is a conflict and nothing is written.
    fn settle(&self, item: &QueueItem) -> Result<(), QueueError> {
        if self.store.settle_queue_item(item)? {
            return Ok(());
        }
        match self.store.queue_item(&item.item_id)? {
            Some(stored) => Err(decided_already(stored)),
            None => Err(QueueError::NotFound(item.item_id.clone())),
        }
    }

    /// Marks the item approved by `approver`. `make` builds (and may refuse)
    /// the resurrection request while the item is held, so an approval that
    /// cannot run leaves the item pending.
    pub fn approve<R>(
        &self,
        item_id: &str,
        approver: &str,
        notes: Option<&str>,
        now: DateTime<Utc>,
        make: impl FnOnce(&QueueItem) -> Result<(R, String), String>,
    ) -> Result<(QueueItem, R), QueueError> {
        let _g = self.guard();
        let mut item = self.pending(item_id, now)?;
        let (made, request_id) = make(&item).map_err(|reason| QueueError::Refused {
            id: item_id.to_string(),
            reason,
        })?;
        item.status = QueueStatus::Approved;
        item.decided_by = Some(approver.to_string());
        item.decided_at = Some(now);
        item.note = notes.map(str::to_string);
        item.request_id = Some(request_id.clone());
        self.settle(&item)?;
        self.store.audit(
            AuditKind::HumanApproval,
            Some(&item.decision.kill_id),
            Some(&item.decision.decision_id),
            approver,
            json!({"item_id": item.item_id, "module": item.kill.target_module, "notes": notes, "request_id": request_id}),
        )?;
        self.metrics.queue_verdict(QueueStatus::Approved);
        tracing::info!(kill_id = %item.decision.kill_id, item_id = %item.item_id, request_id = %request_id, approver, "Resurrection approved by a human");
        Ok((item, made))
    }

    /// Marks the item denied: the module stays down; the reason is required.
    pub fn deny(
        &self,
        item_id: &str,
        denier: &str,
        reason: &str,
        now: DateTime<Utc>,
    ) -> Result<QueueItem, QueueError> {
        if reason.trim().is_empty() {
            return Err(QueueError::Invalid {
                field: "reason".into(),
                problem: "a denial needs a reason".into(),
            });
        }
        let _g = self.guard();
        let mut item = self.pending(item_id, now)?;
        item.status = QueueStatus::Denied;
        item.decided_by = Some(denier.to_string());
        item.decided_at = Some(now);
        item.note = Some(reason.to_string());
        self.settle(&item)?;
        self.store.audit(
            AuditKind::HumanDenial,
            Some(&item.decision.kill_id),
            Some(&item.decision.decision_id),
            denier,
            json!({"item_id": item.item_id, "module": item.kill.target_module, "reason": reason}),
        )?;
        self.metrics.queue_verdict(QueueStatus::Denied);
        tracing::info!(kill_id = %item.decision.kill_id, item_id = %item.item_id, denier, reason, "Resurrection denied by a human");
        Ok(item)
    }

    fn expire(&self, item: &mut QueueItem, now: DateTime<Utc>) -> Result<(), QueueError> {
        item.status = QueueStatus::Expired;
        item.decided_by = Some("medic".into());
        item.decided_at = Some(now);
        item.note = Some(format!(
            "not decided within interfaces.approval_queue.timeout_hours ({})",
            self.timeout_hours()
        ));
        self.settle(item)?;
        self.store.audit(
            AuditKind::QueueExpired,
            Some(&item.decision.kill_id),
            Some(&item.decision.decision_id),
            "medic",
            json!({"item_id": item.item_id, "module": item.kill.target_module, "enqueued_at": item.enqueued_at}),
        )?;
        self.metrics.queue_verdict(QueueStatus::Expired);
        tracing::warn!(kill_id = %item.decision.kill_id, item_id = %item.item_id, "Queue item expired undecided; the module stays down");
        Ok(())
    }

    fn timeout_hours(&self) -> f64 {
        self.timeout.as_secs_f64() / 3_600.0
    }

    /// Expires every pending item whose time has passed; returns them.
    pub fn expire_due(&self, now: DateTime<Utc>) -> Result<Vec<QueueItem>, QueueError> {
        let _g = self.guard();
        let mut expired = Vec::new();
        for mut item in self.store.pending_queue_items()? {
            if item.expires_at <= now {
                match self.expire(&mut item, now) {
                    Ok(()) => expired.push(item),
                    // Decided or expired by another replica meanwhile.
                    Err(QueueError::Conflict { .. } | QueueError::NotFound(_)) => {}
                    Err(e) => return Err(e),
                }
            }
        }
        Ok(expired)
    }

    /// The queue's counts, and the age of its oldest pending item.
    pub fn stats(&self, now: DateTime<Utc>) -> Result<QueueStats, QueueError> {
        let mut s = QueueStats {
            max_pending: self.max_pending,
            timeout_hours: self.timeout_hours(),
            ..QueueStats::default()
        };
        for item in self.store.queue_items()? {
            match item.status {
                QueueStatus::Pending => {
                    s.pending += 1;
                    let age = (now - item.enqueued_at).num_seconds();
                    s.oldest_pending_seconds =
                        Some(s.oldest_pending_seconds.map_or(age, |a| a.max(age)));
                }
                QueueStatus::Approved => s.approved += 1,
                QueueStatus::Denied => s.denied += 1,
                QueueStatus::Expired => s.expired += 1,
            }
        }
        Ok(s)
    }
}
