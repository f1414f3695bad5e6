//! The resurrector: turns approved decisions into resurrection requests and
//! drives each through the workflow — Smith's veto, upstream dependencies
//! first, the backend's restart with retries under the execution limit,
//! monitoring, rollback — storing and publishing every move, and ending each
//! resurrection in an outcome record.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, OnceLock};
use std::time::{Duration, Instant};

use chrono::{DateTime, Utc};
use serde_json::json;
use tokio::sync::{Notify, watch};
use tracing::Instrument;

use super::backend::{BackendError, Backends, Bound};
use super::health::HealthCheck;
use super::template::Target;
use super::veto::VetoChannel;
use super::workflow::{self, IllegalTransition};
use crate::approve::{ApprovalQueue, QueueError};
use crate::config::{Config, Feature};
use crate::enrich::SiemAdapter;
use crate::model::{
    Decision, DecisionOutcome, JsonMap, KillReport, OutcomeResult, QueueItem, ResurrectionRequest,
    ResurrectionStatus, WorkflowState,
};
use crate::monitor::{self, Ending, Plan};
use crate::publish::Publisher;
use crate::store::{AuditKind, OutcomeCounts, Store, StoreError};
use crate::sync::lock;
use crate::telemetry::Metrics;

/// Why a module may not be resurrected now.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum Refusal {
    #[error("phase_2_manual.resurrection_executor is off: Medic does not execute resurrections")]
    ExecutorOff,
    #[error("no resurrection.backends entry serves {0}")]
    NoBackend(String),
    #[error("{0} is blacklisted by the constitution")]
    Blacklisted(String),
    #[error(
        "{module} was resurrected at {at}; resurrection.cooldown_seconds holds automatic resurrection until {until}"
    )]
    Cooldown {
        module: String,
        at: String,
        until: String,
    },
    #[error("{module} is flapping; no automatic resurrection until {until}")]
    Flapping { module: String, until: String },
    #[error("{module} is already being resurrected (request {request_id})")]
    Busy { module: String, request_id: String },
    #[error("Smith killed {module} again while request {request_id} was bringing it back")]
    ReKilled { module: String, request_id: String },
}

impl Refusal {
    /// The guardrail name it shows as on a decision.
    pub fn guardrail(&self) -> &'static str {
        match self {
            Refusal::ExecutorOff => "executor_off",
            Refusal::NoBackend(_) => "no_backend",
            Refusal::Blacklisted(_) => "blacklisted",
            Refusal::Cooldown { .. } => "cooldown",
            Refusal::Flapping { .. } => "flapping_cooldown",
            Refusal::Busy { .. } => "busy",
            Refusal::ReKilled { .. } => "re_killed",
        }
    }
}

/// Whether an upstream module is back.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Up {
    Starting,
    Running,
    Down,
}

/// Why a watch was interrupted.
#[derive(Clone, Debug, PartialEq)]
enum Interrupt {
    ReKilled(String),
    Rollback { reason: String, by: String },
}

/// The signals of a request being driven.
struct Handles {
    up: watch::Sender<Up>,
    interrupt: Arc<Notify>,
    why: Arc<Mutex<Option<Interrupt>>>,
}

/// A request being driven.
struct Active {
    request_id: String,
    up: watch::Sender<Up>,
    interrupt: Arc<Notify>,
    why: Arc<Mutex<Option<Interrupt>>>,
}

#[derive(Default)]
pub(super) struct State {
    last_resurrected: HashMap<String, DateTime<Utc>>,
    flapping_until: HashMap<String, DateTime<Utc>>,
    active: HashMap<String, Active>,
    pub(super) counts: HashMap<String, OutcomeCounts>,
    /// Kills that interrupted a resurrection, by kill_id: the module they
    /// hit, and the request.
    rekills: HashMap<String, (String, String)>,
}

/// What a decision led to.
#[derive(Clone, Debug)]
pub enum Action {
    /// Nothing to do (observer mode, denied, deferred).
    None,
    /// Waiting for a human.
    Queued(Box<QueueItem>),
    /// An automatic resurrection, to dispatch once the decision is stored.
    Execute(Box<ResurrectionRequest>),
}

pub struct Resurrector {
    pub(super) config: Arc<Config>,
    pub(super) store: Store,
    backends: Backends,
    checks: Vec<HealthCheck>,
    pub queue: Arc<ApprovalQueue>,
    pub(super) siem: Arc<dyn SiemAdapter>,
    pub(super) metrics: Arc<Metrics>,
    events: OnceLock<Publisher>,
    pub(super) veto: OnceLock<Arc<VetoChannel>>,
    pub(super) state: Mutex<State>,
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
            q.max_pending,
            q.timeout_hours,
        ));
        let mut state = State::default();
        for req in store.requests(usize::MAX).unwrap_or_default() {
            if let Some(at) = req.executed_at {
                let e = state
                    .last_resurrected
                    .entry(req.target_module.clone())
                    .or_insert(at);
                *e = (*e).max(at);
            }
        }
        Ok(Arc::new(Resurrector {
            config,
            store,
            backends,
            checks,
            queue,
            siem,
            metrics,
            events: OnceLock::new(),
            veto: OnceLock::new(),
            state: Mutex::new(state),
        }))
    }

    /// Where resurrection events go (none until set).
    pub fn set_events(&self, publisher: Publisher) {
        let _ = self.events.set(publisher);
    }

    /// Turns on the Smith veto protocol.
    pub fn set_veto(&self, channel: Arc<VetoChannel>) {
        let _ = self.veto.set(channel);
    }

    /// Whether a dependency the acting modes need is down (the veto
    /// channel, when the protocol is on).
    pub fn degraded(&self) -> Option<String> {
        let v = self.veto.get()?;
        (!v.healthy()).then(|| "the Smith veto channel is down".to_string())
    }

    pub(super) fn state(&self) -> std::sync::MutexGuard<'_, State> {
        lock(&self.state)
    }

    fn bound(&self, module: &str) -> Option<(&Bound, &HealthCheck)> {
        let b = self.backends.for_module(module)?;
        let i = self.backends.index_of(b).and_then(|i| self.checks.get(i))?;
        Some((b, i))
    }

    /// Whether the module may be resurrected now: a backend serves it, it is
    /// not blacklisted, not being resurrected, and — unless a human approved
    /// — not in a cooldown.
    pub fn can_resurrect(
        &self,
        module: &str,
        by_human: bool,
        now: DateTime<Utc>,
    ) -> Result<(), Refusal> {
        if !self.config.feature(Feature::ResurrectionExecutor) {
            return Err(Refusal::ExecutorOff);
        }
        let c = &self.config.constitution.constraints;
        if c.blacklisted_modules.iter().any(|m| m == module) {
            return Err(Refusal::Blacklisted(module.to_string()));
        }
        if self.backends.for_module(module).is_none() {
            return Err(Refusal::NoBackend(module.to_string()));
        }
        let st = self.state();
        if let Some(a) = st.active.get(module) {
            return Err(Refusal::Busy {
                module: module.to_string(),
                request_id: a.request_id.clone(),
            });
        }
        if by_human {
            return Ok(());
        }
        if let Some(until) = st.flapping_until.get(module).filter(|u| **u > now) {
            return Err(Refusal::Flapping {
                module: module.to_string(),
                until: until.to_rfc3339(),
            });
        }
        let cooldown = chrono::Duration::milliseconds(
            (self.config.medic.resurrection.cooldown_seconds * 1000.0) as i64,
        );
        if let Some(at) = st.last_resurrected.get(module)
            && *at + cooldown > now
        {
            return Err(Refusal::Cooldown {
                module: module.to_string(),
                at: at.to_rfc3339(),
                until: (*at + cooldown).to_rfc3339(),
            });
        }
        Ok(())
    }

    /// The requests being driven now (request ids, oldest claim order not
    /// kept): what is in progress, from memory rather than a store scan.
    pub fn in_progress(&self) -> Vec<String> {
        self.state()
            .active
            .values()
            .map(|a| a.request_id.clone())
            .collect()
    }

    /// A kill arrived: if its module is being resurrected, that is a
    /// re-kill — the resurrection ends, and this kill goes to a human.
    pub fn on_kill(&self, kill: &KillReport) {
        let mut st = self.state();
        let State {
            active, rekills, ..
        } = &mut *st;
        if let Some(a) = active.get(&kill.target_module) {
            rekills.insert(
                kill.kill_id.clone(),
                (kill.target_module.clone(), a.request_id.clone()),
            );
            *lock(&a.why) = Some(Interrupt::ReKilled(kill.kill_id.clone()));
            a.interrupt.notify_one();
            tracing::warn!(kill_id = %kill.kill_id, request_id = %a.request_id, module = %kill.target_module, "Module killed again while being resurrected");
        }
    }

    /// A module's resurrection history (for its profile).
    pub fn counts(&self, module: &str) -> Result<OutcomeCounts, StoreError> {
        if let Some(c) = self.state().counts.get(module) {
            return Ok(*c);
        }
        let c = self.store.module_outcome_counts(module)?;
        self.state().counts.insert(module.to_string(), c);
        Ok(c)
    }

    fn new_request(
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
            self.config.medic.resurrection.monitoring_duration_minutes,
            checks,
            now,
        )
    }

    /// Acts on a fresh decision (before it is stored): an automatic
    /// approval becomes a request, unless the module may not be
    /// resurrected now — then it goes to a human, like every decision that
    /// needs one. A full queue turns the decision into a denial, visibly.
    pub fn on_decision(
        &self,
        d: &mut Decision,
        kill: &KillReport,
        now: DateTime<Utc>,
    ) -> Result<Action, StoreError> {
        if d.guardrails.iter().any(|g| g == "flapping") {
            let minutes = self.config.medic.resurrection.flapping.cooldown_minutes;
            let until = now + chrono::Duration::milliseconds((minutes * 60_000.0) as i64);
            self.state()
                .flapping_until
                .insert(kill.target_module.clone(), until);
        }
        let rekilled = self.state().rekills.remove(&kill.kill_id);
        if d.outcome == DecisionOutcome::ApproveAuto {
            let allowed = match rekilled {
                Some((module, request_id)) => Err(Refusal::ReKilled { module, request_id }),
                None => self.can_resurrect(&kill.target_module, false, now),
            };
            match allowed {
                Ok(()) => {
                    d.executed = true;
                    let r = self.new_request(d, kill, now);
                    self.store.put_request(&r)?;
                    return Ok(Action::Execute(Box::new(r)));
                }
                Err(refusal) => {
                    d.overrule(
                        DecisionOutcome::PendingReview,
                        refusal.guardrail(),
                        &refusal.to_string(),
                    );
                }
            }
        }
        if !matches!(
            d.outcome,
            DecisionOutcome::PendingReview | DecisionOutcome::ApproveManual
        ) {
            return Ok(Action::None);
        }
        let reason = d
            .reasoning
            .iter()
            .rev()
            .find(|r| r.starts_with("guardrail"))
            .cloned()
            .or_else(|| {
                d.reasoning
                    .last()
                    .map(|r| format!("strategy {}: {r}", d.strategy.name))
            })
            .unwrap_or_else(|| "the strategy asks for human review".into());
        match self.queue.enqueue(d, kill, &reason, now) {
            Ok(item) => Ok(Action::Queued(Box::new(item))),
            Err(QueueError::Full { pending, max }) => {
                self.metrics.queue_overflow.inc();
                d.overrule(
                    DecisionOutcome::Deny,
                    "queue_full",
                    &format!(
                        "the approval queue holds {pending} (max_pending {max}); not queued, so denied — the module stays down"
                    ),
                );
                tracing::error!(kill_id = %d.kill_id, module = %kill.target_module, pending, max, "Approval queue full: decision denied instead of queued");
                Ok(Action::None)
            }
            Err(QueueError::Store(e)) => Err(e),
            Err(other) => {
                tracing::error!(kill_id = %d.kill_id, error = %other, "Could not queue for review");
                Ok(Action::None)
            }
        }
    }

    /// Undoes what [`Resurrector::on_decision`] wrote, for a decision that
    /// turned out to be a duplicate.
    pub fn withdraw(&self, action: &Action) -> Result<(), StoreError> {
        match action {
            Action::Queued(item) => {
                self.store.remove_queue_item(&item.item_id)?;
            }
            Action::Execute(r) => {
                self.store.remove_request(&r.request_id)?;
            }
            Action::None => {}
        }
        Ok(())
    }

    /// A human approves a queued item; the request runs.
    pub fn approve(
        self: &Arc<Self>,
        item_id: &str,
        approver: &str,
        notes: Option<&str>,
    ) -> Result<(QueueItem, ResurrectionRequest), QueueError> {
        let now = Utc::now();
        let (item, request) = self.queue.approve(item_id, approver, notes, now, |item| {
            self.can_resurrect(&item.kill.target_module, true, now)
                .map_err(|r| r.to_string())?;
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
            self.store.put_request(&r).map_err(|e| e.to_string())?;
            let id = r.request_id.clone();
            Ok((r, id))
        })?;
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

    /// Asks a request being watched to roll back.
    pub fn rollback(&self, request_id: &str, reason: &str, by: &str) -> Result<(), String> {
        let st = self.state();
        let a = st
            .active
            .values()
            .find(|a| a.request_id == request_id)
            .ok_or_else(|| format!("request {request_id} is not being monitored: only a resurrection being monitored can be rolled back"))?;
        *lock(&a.why) = Some(Interrupt::Rollback {
            reason: reason.to_string(),
            by: by.to_string(),
        });
        a.interrupt.notify_one();
        Ok(())
    }

    /// Runs a request's workflow in the background. The module is marked
    /// as being resurrected at once, so a dependent dispatched right after
    /// waits for it.
    pub fn dispatch(self: &Arc<Self>, r: ResurrectionRequest) {
        let me = self.clone();
        let span = tracing::info_span!("resurrection", kill_id = %r.kill_id, request_id = %r.request_id, module = %r.target_module);
        let claimed = self.claim(&r);
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
                me.release(&r);
            }
            .instrument(span),
        );
    }

    /// Marks the module as being resurrected by `r`, unless another
    /// request already is.
    fn claim(&self, r: &ResurrectionRequest) -> Result<Handles, String> {
        let mut st = self.state();
        if let Some(a) = st.active.get(&r.target_module)
            && a.request_id != r.request_id
        {
            return Err(format!(
                "{} is already being resurrected (request {})",
                r.target_module, a.request_id
            ));
        }
        let (up, _) = watch::channel(Up::Starting);
        let handles = Handles {
            up,
            interrupt: Arc::new(Notify::new()),
            why: Arc::default(),
        };
        st.active.insert(
            r.target_module.clone(),
            Active {
                request_id: r.request_id.clone(),
                up: handles.up.clone(),
                interrupt: handles.interrupt.clone(),
                why: handles.why.clone(),
            },
        );
        Ok(handles)
    }

    /// After a restart: requests that had not ended go on where that is
    /// safe; ones cut off mid-execution end as failed.
    pub fn resume(self: &Arc<Self>) -> Result<usize, StoreError> {
        let mut n = 0;
        for mut r in self.store.unfinished_requests()? {
            let now = Utc::now();
            let note = "interrupted by a Medic restart";
            let end = match r.state {
                WorkflowState::Pending | WorkflowState::Approved | WorkflowState::Monitoring => {
                    tracing::info!(kill_id = %r.kill_id, request_id = %r.request_id, state = ?r.state, "Resuming resurrection after restart");
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
            }
        }
        Ok(n)
    }

    /// Expires queue items past their time, every `every`, until `stop`.
    pub async fn expire_queue(self: Arc<Self>, every: Duration, mut stop: watch::Receiver<bool>) {
        loop {
            match self.queue.expire_due(Utc::now()) {
                Ok(items) if !items.is_empty() => {
                    if let Err(e) = self.store.flush().await {
                        tracing::error!(error = %e, "Flushing queue expiries failed");
                    }
                }
                Ok(_) => {}
                Err(e) => tracing::error!(error = %e, "Expiring queue items failed"),
            }
            tokio::select! {
                _ = stop.changed() => return,
                _ = tokio::time::sleep(every) => {}
            }
        }
    }

    async fn emit(&self, event: serde_json::Value) {
        if let Some(p) = self.events.get() {
            p.event(&self.config.medic.smith.event_bus.events_topic, &event)
                .await;
        }
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
            self.release(r);
        }
        tracing::info!(kill_id = %r.kill_id, request_id = %r.request_id, from = ?from, to = ?to, note = %note, "Resurrection workflow moved");
        self.emit(json!({
            "event_type": "resurrection.status_changed",
            "request_id": r.request_id,
            "previous_status": before,
            "new_status": r.status,
            "timestamp": Utc::now().to_rfc3339(),
            "metadata": {"kill_id": r.kill_id, "target_module": r.target_module,
                         "from_state": from, "to_state": to, "note": note},
        }))
        .await;
        Ok(())
    }

    /// Forgets a request as the module's active one.
    fn release(&self, r: &ResurrectionRequest) {
        let mut st = self.state();
        if st
            .active
            .get(&r.target_module)
            .is_some_and(|a| a.request_id == r.request_id)
        {
            st.active.remove(&r.target_module);
        }
    }

    fn target(r: &ResurrectionRequest) -> Target {
        Target {
            module: r.target_module.clone(),
            instance: r.target_instance_id.clone(),
            kill_id: r.kill_id.clone(),
            request_id: r.request_id.clone(),
        }
    }

    async fn drive(self: &Arc<Self>, r: &mut ResurrectionRequest, h: Handles) -> Result<(), Halt> {
        // The decision must be durable before anything acts on it.
        self.store.flush().await?;
        let record = self.store.record(&r.decision_id)?;
        let Handles {
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
            self.emit(json!({
                "event_type": "resurrection.requested",
                "request_id": r.request_id,
                "decision_id": r.decision_id,
                "target_module": r.target_module,
                "timestamp": Utc::now().to_rfc3339(),
            }))
            .await;
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
            self.state()
                .last_resurrected
                .insert(r.target_module.clone(), Utc::now());
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
        let interrupted = lock(why).clone();
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
        let limit =
            Duration::from_secs_f64(self.config.medic.resurrection.execution_timeout_seconds);
        let deadline = Instant::now() + limit;
        for dep in &r.dependencies {
            let rx = self.state().active.get(dep).map(|a| a.up.subscribe());
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
        let limit = Duration::from_secs_f64(res.execution_timeout_seconds);
        let deadline = Instant::now() + limit;
        let target = Self::target(r);
        let mut last = None;
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
            let backoff = Duration::from_millis(200 * 2u64.pow(attempt.min(5)));
            tokio::time::sleep(backoff.min(deadline.saturating_duration_since(Instant::now())))
                .await;
        }
        Err(last.unwrap_or(BackendError::Timeout {
            action: "restart",
            seconds: limit.as_secs_f64(),
        }))
    }
}
