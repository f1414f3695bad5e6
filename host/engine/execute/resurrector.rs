//! The resurrector: turns approved decisions into resurrection requests and
//! drives each through the workflow — Smith's veto, upstream dependencies
//! first, the backend's restart with retries under the execution limit,
//! monitoring, rollback — storing and publishing every move, and ending each
//! resurrection in an outcome record.

use std::sync::Arc;
use std::time::{Duration, Instant};

use chrono::{DateTime, Utc};
use parking_lot::Mutex;
use serde_json::json;
use tokio::sync::{Notify, mpsc, watch};
use tokio_util::sync::CancellationToken;
use tracing::Instrument;

use super::backend::{BackendError, Backends, Bound};
use super::health::HealthCheck;
use super::template::Target;
use super::veto::VetoChannel;
use super::workflow::{self, IllegalTransition};
use crate::approve::{ApprovalQueue, QueueError};
use crate::config::{Config, Feature};
use crate::decide::Intent;
use crate::enrich::SiemAdapter;
use crate::events::Event;
use crate::fleet::{Fleet, Interrupt, Signals, Up};
use crate::model::{
    Decision, JsonMap, KillReport, OutcomeResult, QueueItem, QueueStatus, ResurrectionRequest,
    ResurrectionStatus, WorkflowState,
};
use crate::monitor::{self, Ending, Plan};
use crate::publish::Publisher;
use crate::store::replica::{RollbackAsked, Take, Taken};
use crate::store::{AuditKind, Store, StoreError};
use crate::telemetry::Metrics;

/// How often a replica sharing the store stamps the requests it runs, and
/// looks for ones whose replica stopped.
pub const STAMP_EVERY: Duration = Duration::from_secs(2);

/// A request not stamped for this long is taken over by another replica
/// (five missed stamps: a busy replica is not mistaken for a dead one).
pub const ADOPT_AFTER: Duration = Duration::from_secs(10);

pub use crate::guardrails::Refusal;

pub struct Resurrector {
    pub(super) config: Arc<Config>,
    pub(super) store: Store,
    backends: Backends,
    checks: Vec<HealthCheck>,
    pub queue: Arc<ApprovalQueue>,
    pub(super) siem: Arc<dyn SiemAdapter>,
    pub(super) metrics: Arc<Metrics>,
    events: Publisher,
    pub(super) veto: Option<Arc<VetoChannel>>,
    /// Each module's state, shared with the decider.
    pub(super) fleet: Arc<Fleet>,
}

/// What acting talks to beyond the engine, connected before the engine is
/// built: where resurrection events go, and Smith's veto channel (with
/// `smith.veto_protocol.enabled`). The default is neither.
pub struct Links {
    pub events: Publisher,
    pub veto: Option<Arc<VetoChannel>>,
}

impl Default for Links {
    fn default() -> Self {
        Links {
            events: Publisher::none(),
            veto: None,
        }
    }
}

/// Why the workflow could not go on.
#[derive(Debug, thiserror::Error)]
pub(super) enum Halt {
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error(transparent)]
    Illegal(#[from] IllegalTransition),
}

impl Resurrector {
    pub fn new(
        config: Arc<Config>,
        store: Store,
        siem: Arc<dyn SiemAdapter>,
        metrics: Arc<Metrics>,
        fleet: Arc<Fleet>,
        links: Links,
        env: &dyn Fn(&str) -> Option<String>,
    ) -> Result<Arc<Resurrector>, BackendError> {
        let r = &config.medic.resurrection;
        let backends = Backends::from_config(&r.backends, env)?;
        let checks = r
            .backends
            .iter()
            .map(|b| HealthCheck::new(&b.health_check).map_err(BackendError::Config))
            .collect::<Result<Vec<_>, _>>()?;
        let q = &config.medic.interfaces.approval_queue;
        let queue = Arc::new(ApprovalQueue::new(
            store.clone(),
            metrics.clone(),
            q.max_pending,
            q.timeout,
        ));
        Ok(Arc::new(Resurrector {
            config,
            store,
            backends,
            checks,
            queue,
            siem,
            metrics,
            events: links.events,
            veto: links.veto,
            fleet,
        }))
    }

    /// Whether a dependency the acting modes need is down (the veto
    /// channel, when the protocol is on).
    pub fn degraded(&self) -> Option<String> {
        let v = self.veto.as_ref()?;
        (!v.healthy()).then(|| "the Smith veto channel is down".to_string())
    }

    /// Says on a pending item why approving it cannot bring its module
    /// back, when no backend serves the module (an approval would be
    /// refused), so the approver sees it before trying.
    pub fn explain(&self, mut item: QueueItem) -> QueueItem {
        let module = &item.kill.target_module;
        item.cannot_resurrect = (item.status == QueueStatus::Pending
            && self.backends.for_module(module).is_none())
        .then(|| {
            format!(
                "no entry of resurrection.backends serves {module}: an approval cannot bring it back; deny it, or add a backend for it and approve"
            )
        });
        item
    }

    fn bound(&self, module: &str) -> Option<(&Bound, &HealthCheck)> {
        let b = self.backends.for_module(module)?;
        let i = self.backends.index_of(b).and_then(|i| self.checks.get(i))?;
        Some((b, i))
    }

    /// Makes the request for a decision to bring `kill`'s module back: the
    /// backend that serves it and the health checks that will judge it.
    pub fn new_request(
        &self,
        d: &Decision,
        kill: &KillReport,
        now: DateTime<Utc>,
    ) -> ResurrectionRequest {
        let (kind, checks) = match self.bound(&kill.target_module) {
            Some((b, h)) => {
                let t = Target {
                    module: kill.target_module.clone(),
                    instance: kill.target_instance_id.clone(),
                    kill_id: kill.kill_id.clone(),
                    request_id: String::new(),
                };
                (b.backend.kind(), vec![h.describe(&t)])
            }
            None => ("none", vec![]),
        };
        workflow::new_request(
            d,
            kill,
            kind,
            self.config
                .medic
                .resurrection
                .monitoring_duration
                .as_secs_f64()
                / 60.0,
            checks,
            now,
        )
    }

    /// A human approves a queued item; the request runs.
    pub fn approve(
        self: &Arc<Self>,
        item_id: &str,
        approver: &str,
        notes: Option<&str>,
    ) -> Result<(QueueItem, ResurrectionRequest), QueueError> {
        let now = Utc::now();
        let mut taken = None;
        let approved = self.queue.approve(item_id, approver, notes, now, |item| {
            let module = &item.kill.target_module;
            if let Some(refusal) = self.fleet.refusal(module, true, now) {
                return Err(refusal.to_string());
            }
            // Replicas sharing the store: the module must be free there too.
            let take = Take {
                kill_id: &item.kill.kill_id,
                module,
                now,
                automatic: None,
            };
            match self.store.take_resurrection(&take) {
                Ok(Taken::Granted) => taken = Some((module.clone(), item.kill.kill_id.clone())),
                Ok(Taken::Held(held)) => return Err(Refusal::held(module, held).to_string()),
                Ok(Taken::CapReached) => return Err("the hourly cap holds it".into()),
                Err(e) => return Err(format!("the store could not take {module}: {e}")),
            }
            let mut r = self.new_request(&item.decision, &item.kill, now);
            r.approved_by = Some(approver.to_string());
            r.notes = notes.map(str::to_string);
            workflow::advance(
                &mut r,
                WorkflowState::Approved,
                format!("approved by {approver}"),
                now,
            )
            .map_err(|e| e.to_string())?;
            let id = r.request_id.clone();
            Ok((r, id))
        });
        let (item, request) = match approved {
            Ok(done) => done,
            Err(e) => {
                // Decided meanwhile by another replica: the module is not
                // this approval's to bring back.
                if let Some((module, kill_id)) = taken {
                    self.store.release_module(&module, &kill_id)?;
                }
                return Err(e);
            }
        };
        // Stored only once the item is settled as approved here: when
        // another replica decided it first, no request of this one exists
        // to be resumed and run a second time.
        self.store.put_request(&request)?;
        self.dispatch(request.clone());
        Ok((item, request))
    }

    /// A human denies a queued item; the module stays down.
    pub fn deny(&self, item_id: &str, denier: &str, reason: &str) -> Result<QueueItem, QueueError> {
        self.queue.deny(item_id, denier, reason, Utc::now())
    }

    /// A request's status.
    pub fn get_status(&self, request_id: &str) -> Result<Option<ResurrectionStatus>, StoreError> {
        Ok(self.store.request(request_id)?.map(|r| r.status))
    }

    /// Asks a request being watched to roll back: `requested` when this
    /// replica runs it; on a store replicas share, `relayed` when another
    /// replica runs it (that one reads the ask when it next stamps its
    /// requests, within [`STAMP_EVERY`], and rolls back).
    pub fn rollback(
        &self,
        request_id: &str,
        reason: &str,
        by: &str,
    ) -> Result<&'static str, String> {
        let not_watched = || {
            format!(
                "request {request_id} is not being monitored: only a resurrection being monitored can be rolled back"
            )
        };
        if let Some(signals) = self.fleet.signals_of(request_id) {
            signals.interrupt(Interrupt::Rollback {
                reason: reason.to_string(),
                by: by.to_string(),
            });
            return Ok("requested");
        }
        if !self.store.shared() {
            return Err(not_watched());
        }
        let asked = RollbackAsked {
            reason: reason.to_string(),
            by: by.to_string(),
            at: Utc::now(),
        };
        match self.store.ask_rollback(request_id, &asked) {
            Ok(true) => {
                tracing::info!(
                    request_id,
                    by,
                    "Rollback asked of the replica running the request"
                );
                Ok("relayed")
            }
            Ok(false) => Err(not_watched()),
            Err(e) => Err(format!(
                "request {request_id}: the rollback could not be asked: {e}"
            )),
        }
    }

    /// Runs a request's workflow in the background. The module is marked
    /// as being resurrected at once, so a dependent dispatched right after
    /// waits for it.
    pub fn dispatch(self: &Arc<Self>, r: ResurrectionRequest) {
        let claimed = self.fleet.claim(&r);
        self.drive_claimed(r, claimed);
    }

    /// Drives the requests the decider stores, as they come, until the
    /// decider is gone.
    pub async fn take_intents(self: Arc<Self>, mut intents: mpsc::UnboundedReceiver<Intent>) {
        while let Some(Intent { request, signals }) = intents.recv().await {
            self.drive_claimed(request, Ok(signals));
        }
    }

    fn drive_claimed(self: &Arc<Self>, r: ResurrectionRequest, claimed: Result<Signals, String>) {
        let me = self.clone();
        let span = tracing::info_span!("resurrection", kill_id = %r.kill_id, request_id = %r.request_id, module = %r.target_module);
        tokio::spawn(
            async move {
                let mut r = r;
                let result = match claimed {
                    Ok(handles) => me.drive(&mut r, handles).await,
                    Err(msg) => {
                        r.error = Some(msg.clone());
                        me.move_to(&mut r, WorkflowState::Failed, msg).await
                    }
                };
                if let Err(e) = result {
                    tracing::error!(kill_id = %r.kill_id, request_id = %r.request_id, error = %e, "Resurrection workflow halted");
                }
                me.fleet.release(&r);
            }
            .instrument(span),
        );
    }

    /// After a restart: requests that had not ended go on where that is
    /// safe; ones cut off mid-execution end as failed. On a store replicas
    /// share, only requests no live replica runs are taken
    /// ([`ADOPT_AFTER`] without a stamp).
    pub fn resume(self: &Arc<Self>) -> Result<usize, StoreError> {
        let adopted = self.store.adopt_requests(ADOPT_AFTER)?;
        self.go_on(adopted, "interrupted by a Medic restart")
    }

    /// Goes on with requests this process now owns: ones waiting or being
    /// watched are driven from where they are; ones cut off mid-execution
    /// end as failed (`note` says why), a stable one as completed.
    fn go_on(
        self: &Arc<Self>,
        requests: Vec<ResurrectionRequest>,
        note: &str,
    ) -> Result<usize, StoreError> {
        let mut n = 0;
        for mut r in requests {
            let now = Utc::now();
            let end = match r.state {
                WorkflowState::Pending | WorkflowState::Approved | WorkflowState::Monitoring => {
                    tracing::info!(kill_id = %r.kill_id, request_id = %r.request_id, state = ?r.state, why = note, "Resuming resurrection");
                    self.dispatch(r);
                    n += 1;
                    continue;
                }
                WorkflowState::Stable => WorkflowState::Completed,
                WorkflowState::RollingBack => {
                    r.rollback_reason.get_or_insert_with(|| note.to_string());
                    WorkflowState::Failed
                }
                _ => WorkflowState::Failed,
            };
            r.error.get_or_insert_with(|| note.to_string());
            if workflow::advance(&mut r, end, note, now).is_ok() {
                self.store.put_request(&r)?;
                // Its module is free for the replicas sharing the store.
                self.fleet.release(&r);
            }
        }
        Ok(n)
    }

    /// On a store replicas share, every [`STAMP_EVERY`] until `stop`:
    /// stamps the requests this replica runs as alive, and takes over the
    /// ones whose replica stopped stamping them (it died, or lost the
    /// database), finishing their watch. A store one process holds needs
    /// neither: this returns at once.
    pub async fn share_requests(self: Arc<Self>, stop: CancellationToken) {
        if !self.store.shared() {
            return;
        }
        loop {
            tokio::select! {
                _ = stop.cancelled() => return,
                _ = tokio::time::sleep(STAMP_EVERY) => {}
            }
            let me = self.clone();
            let turn = tokio::task::spawn_blocking(move || -> Result<(), StoreError> {
                let running = me.fleet.running();
                let ids: Vec<String> = running.iter().map(|r| r.request_id.clone()).collect();
                for lost in me.store.stamp_requests(&ids)? {
                    tracing::error!(request_id = %lost, "Another replica took over a request this one runs (its stamps were late): this one stops at its next step");
                }
                // Rollbacks asked through other replicas.
                for (request_id, asked) in me.store.rollbacks_asked(&ids)? {
                    match me.rollback(&request_id, &asked.reason, &asked.by) {
                        Ok(_) => {
                            tracing::warn!(request_id = %request_id, by = %asked.by, reason = %asked.reason, "Rolling back as asked through another replica")
                        }
                        Err(e) => {
                            tracing::warn!(request_id = %request_id, error = %e, "A rollback asked through another replica could not be made")
                        }
                    }
                }
                // A kill of a module being brought back here that reached
                // another replica: Smith killed it again.
                let horizon = Utc::now() + chrono::Duration::minutes(5);
                for r in &running {
                    let again = me
                        .store
                        .records_for_module(&r.module, r.since, horizon)?
                        .into_iter()
                        .find(|rec| rec.kill.kill_id != r.kill_id);
                    if let Some(rec) = again {
                        me.fleet
                            .killed_elsewhere(&r.module, &r.request_id, &rec.kill.kill_id);
                    }
                }
                let orphans = me.store.adopt_requests(ADOPT_AFTER)?;
                if !orphans.is_empty() {
                    tracing::warn!(
                        requests = orphans.len(),
                        "Taking over requests whose replica stopped"
                    );
                }
                me.go_on(orphans, "taken over from a replica that stopped")?;
                Ok(())
            });
            match turn.await {
                Ok(Ok(())) => {}
                Ok(Err(e)) => {
                    tracing::error!(error = %e, "Stamping or taking over requests failed")
                }
                Err(e) => tracing::error!(error = %e, "Stamping or taking over requests stopped"),
            }
        }
    }

    /// Expires queue items past their time, every `every`, until `stop`.
    pub async fn expire_queue(self: Arc<Self>, every: Duration, stop: CancellationToken) {
        loop {
            // One replica expires a queue they share (an item is expired
            // once either way: a second expiry is a conflict), each expiry
            // fenced by the epoch it was elected at (`store::fence`).
            let expiring = match self.store.lease() {
                Some(epoch) => {
                    crate::store::fence::as_leader(epoch, || self.queue.expire_due(Utc::now()))
                }
                None => Ok(Vec::new()),
            };
            match expiring {
                Ok(items) if !items.is_empty() => {
                    if let Err(e) = self.store.flush().await {
                        tracing::error!(error = %e, "Flushing queue expiries failed");
                    }
                }
                Ok(_) => {}
                Err(e) => tracing::error!(error = %e, "Expiring queue items failed"),
            }
            tokio::select! {
                _ = stop.cancelled() => return,
                _ = tokio::time::sleep(every) => {}
            }
        }
    }

    /// Publishes an event on the events stream (once a publisher is set).
    pub async fn publish(&self, event: Event) {
        self.emit(event).await;
    }

    async fn emit(&self, event: Event) {
        self.events
            .event(&self.config.medic.smith.event_bus.events_topic, &event)
            .await;
    }

    /// One workflow move: checked, stored, published.
    pub(super) async fn move_to(
        &self,
        r: &mut ResurrectionRequest,
        to: WorkflowState,
        note: impl Into<String>,
    ) -> Result<(), Halt> {
        let note = note.into();
        let from = r.state;
        let before = workflow::advance(r, to, note.clone(), Utc::now())?;
        self.store.put_request(r)?;
        if to.is_final() {
            // The module is free for its next resurrection from here on.
            self.fleet.release(r);
        }
        tracing::info!(kill_id = %r.kill_id, request_id = %r.request_id, from = ?from, to = ?to, note = %note, "Resurrection workflow moved");
        self.emit(Event::moved(r, before, from, note)).await;
        Ok(())
    }

    fn target(r: &ResurrectionRequest) -> Target {
        Target {
            module: r.target_module.clone(),
            instance: r.target_instance_id.clone(),
            kill_id: r.kill_id.clone(),
            request_id: r.request_id.clone(),
        }
    }

    async fn drive(self: &Arc<Self>, r: &mut ResurrectionRequest, h: Signals) -> Result<(), Halt> {
        // The decision must be durable before anything acts on it.
        self.store.flush().await?;
        let record = self.store.record(&r.decision_id)?;
        let Signals {
            up: up_tx,
            interrupt,
            why,
        } = h;
        let result = self
            .run_workflow(r, record.as_ref(), &up_tx, interrupt, &why)
            .await;
        // Dependents waiting on a module that never came up go no further.
        if *up_tx.borrow() == Up::Starting {
            up_tx.send_replace(Up::Down);
        }
        result
    }

    async fn run_workflow(
        self: &Arc<Self>,
        r: &mut ResurrectionRequest,
        record: Option<&crate::store::DecisionRecord>,
        up: &watch::Sender<Up>,
        interrupt: Arc<Notify>,
        why: &Arc<Mutex<Option<Interrupt>>>,
    ) -> Result<(), Halt> {
        let res = &self.config.medic.resurrection;
        if r.state == WorkflowState::Pending {
            self.emit(Event::requested(r)).await;
            if !self.negotiate(r, record).await? {
                return Ok(());
            }
        }
        let Some((bound, check)) = self.bound(&r.target_module) else {
            let msg = format!("no resurrection.backends entry serves {}", r.target_module);
            r.error = Some(msg.clone());
            return self.move_to(r, WorkflowState::Failed, msg).await;
        };
        if r.state == WorkflowState::Approved {
            if let Err(msg) = self.wait_upstream(r).await {
                r.error = Some(msg.clone());
                self.move_to(r, WorkflowState::Failed, msg.clone()).await?;
                return self
                    .finish(r, record, OutcomeResult::Failure, None, vec![msg])
                    .await;
            }
            self.move_to(
                r,
                WorkflowState::Executing,
                format!("restarting through the {} backend", bound.backend.kind()),
            )
            .await?;
            self.fleet.resurrected(&r.target_module, Utc::now());
            self.store.audit(
                AuditKind::ResurrectionExecuted,
                Some(&r.kill_id),
                Some(&r.decision_id),
                r.approved_by.as_deref().unwrap_or("auto"),
                json!({"request_id": r.request_id, "module": r.target_module, "backend": bound.backend.kind()}),
            )?;
            if let Err(e) = self.execute(r, bound).await {
                let msg = e.to_string();
                r.error = Some(msg.clone());
                self.move_to(r, WorkflowState::Failed, msg.clone()).await?;
                self.store.audit(
                    AuditKind::ResurrectionFailed,
                    Some(&r.kill_id),
                    Some(&r.decision_id),
                    "medic",
                    json!({"request_id": r.request_id, "error": msg, "attempts": r.attempts}),
                )?;
                return self
                    .finish(
                        r,
                        record,
                        OutcomeResult::Failure,
                        None,
                        vec![format!("the backend could not restart it: {msg}")],
                    )
                    .await;
            }
            self.move_to(
                r,
                WorkflowState::Monitoring,
                "restarted; watching its health",
            )
            .await?;
        }
        // Monitoring (also where a restart resumes).
        let target = Self::target(r);
        let mut plan = Plan::from_config(res);
        if !self.config.feature(Feature::PostResurrectionMonitor) {
            // Only the first health check decides.
            plan.duration = Duration::ZERO;
        }
        let report = monitor::watch(
            || check.probe(bound, &target),
            &plan,
            interrupt,
            || {
                up.send_replace(Up::Running);
            },
        )
        .await;
        let mut metrics = JsonMap::new();
        if let Ok(serde_json::Value::Object(m)) = serde_json::to_value(&report) {
            metrics = m;
        }
        let time_to_stable = report
            .first_healthy_ms
            .map(|ms| u32::try_from(ms.div_ceil(1000)).unwrap_or(u32::MAX));
        let interrupted = why.lock().clone();
        let (should_roll, roll_reason) = report.should_rollback(&plan);
        // How it ends: stable, failed (with why), or rolled back (with why).
        enum End {
            Stable(OutcomeResult),
            Fail(OutcomeResult, String),
            RollBack(String, Vec<String>),
        }
        let end = match (report.ending, interrupted) {
            (Ending::Stable, _) if report.failures == 0 => End::Stable(OutcomeResult::Success),
            (Ending::Stable, _) => End::Stable(OutcomeResult::PartialSuccess),
            (Ending::Interrupted, Some(Interrupt::ReKilled(kill_id))) => End::Fail(
                OutcomeResult::ReKilled,
                format!("Smith killed {} again (kill {kill_id})", r.target_module),
            ),
            (Ending::Interrupted, Some(Interrupt::Rollback { reason, by })) => {
                End::RollBack(format!("rollback requested by {by}: {reason}"), vec![])
            }
            _ if should_roll => End::RollBack(
                roll_reason.clone(),
                vec![format!("rolled back: {roll_reason}")],
            ),
            _ => End::Fail(
                OutcomeResult::Failure,
                format!(
                    "anomaly score {:.2} over the threshold at the end of monitoring, and automatic rollback is off",
                    report.final_anomaly
                ),
            ),
        };
        let (result, lessons) = match end {
            End::Stable(result) => {
                self.move_to(r, WorkflowState::Stable, "monitoring passed")
                    .await?;
                self.move_to(r, WorkflowState::Completed, "").await?;
                (result, vec![])
            }
            End::Fail(result, msg) => {
                self.move_to(r, WorkflowState::AnomalyDetected, msg.clone())
                    .await?;
                r.error = Some(msg.clone());
                self.move_to(r, WorkflowState::Failed, msg.clone()).await?;
                (result, vec![msg])
            }
            End::RollBack(msg, lessons) => {
                self.move_to(r, WorkflowState::AnomalyDetected, msg.clone())
                    .await?;
                self.roll_back(r, bound, &target, msg).await?;
                (OutcomeResult::Rollback, lessons)
            }
        };
        self.finish_with(r, record, result, time_to_stable, metrics, lessons)
            .await
    }

    async fn roll_back(
        &self,
        r: &mut ResurrectionRequest,
        bound: &Bound,
        target: &Target,
        reason: String,
    ) -> Result<(), Halt> {
        r.rollback_reason = Some(reason.clone());
        self.move_to(r, WorkflowState::RollingBack, reason.clone())
            .await?;
        self.store.audit(
            AuditKind::RollbackTriggered,
            Some(&r.kill_id),
            Some(&r.decision_id),
            "medic",
            json!({"request_id": r.request_id, "module": r.target_module, "reason": reason}),
        )?;
        let done = bound.backend.rollback(target).await;
        let note = match &done {
            Ok(()) => "rolled back".to_string(),
            Err(e) => {
                r.error = Some(format!("rollback failed: {e}"));
                format!("rollback failed: {e}")
            }
        };
        tracing::warn!(kill_id = %r.kill_id, request_id = %r.request_id, reason = %reason, result = %note, "Resurrection rolled back");
        self.move_to(r, WorkflowState::Failed, note).await
    }

    /// Waits for upstream modules being resurrected to come up first.
    async fn wait_upstream(&self, r: &ResurrectionRequest) -> Result<(), String> {
        let limit = self.config.medic.resurrection.execution_timeout;
        let deadline = Instant::now() + limit;
        for dep in &r.dependencies {
            let rx = self.fleet.watch_up(dep);
            let Some(mut rx) = rx else { continue };
            tracing::info!(kill_id = %r.kill_id, request_id = %r.request_id, upstream = %dep, "Waiting for an upstream module to come back first");
            let waited =
                tokio::time::timeout_at(deadline.into(), rx.wait_for(|u| *u != Up::Starting)).await;
            match waited {
                Ok(Ok(u)) if *u == Up::Running => {}
                Ok(_) => return Err(format!("upstream {dep} did not come back")),
                Err(_) => {
                    return Err(format!(
                        "upstream {dep} was not back within resurrection.execution_timeout_seconds ({:.0} s)",
                        limit.as_secs_f64()
                    ));
                }
            }
        }
        Ok(())
    }

    /// The backend's restart, retried, within the execution limit.
    async fn execute(
        &self,
        r: &mut ResurrectionRequest,
        bound: &Bound,
    ) -> Result<(), BackendError> {
        let res = &self.config.medic.resurrection;
        let limit = res.execution_timeout;
        let deadline = Instant::now() + limit;
        let target = Self::target(r);
        let mut last = None;
        // 0.2 s before the first retry, doubling up to 6.4 s.
        let mut waits =
            crate::backoff::Delays::new(Duration::from_millis(200), Duration::from_millis(6_400));
        for attempt in 0..=res.max_retry_attempts {
            r.attempts = attempt + 1;
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero() {
                break;
            }
            match tokio::time::timeout(left, bound.backend.restart(&target)).await {
                Ok(Ok(())) => return Ok(()),
                Ok(Err(e)) => {
                    tracing::warn!(kill_id = %r.kill_id, request_id = %r.request_id, attempt = r.attempts, error = %e, "Restart attempt failed");
                    if matches!(
                        e,
                        BackendError::Unsafe(_)
                            | BackendError::Config(_)
                            | BackendError::Unsupported(_)
                    ) {
                        return Err(e);
                    }
                    last = Some(e);
                }
                Err(_) => {
                    last = Some(BackendError::Timeout {
                        action: "restart",
                        seconds: limit.as_secs_f64(),
                    });
                    break;
                }
            }
            let backoff = waits.next_wait();
            tokio::time::sleep(backoff.min(deadline.saturating_duration_since(Instant::now())))
                .await;
        }
        Err(last.unwrap_or(BackendError::Timeout {
            action: "restart",
            seconds: limit.as_secs_f64(),
        }))
    }
}
