//! One kill's story: enrich → profile → score → decide → guardrails →
//! store. Callers make the store durable (one flush per batch) before they
//! acknowledge or answer. Every log line carries the kill_id.

use std::sync::Arc;
use std::time::Instant;

use chrono::{DateTime, Utc};
use parking_lot::Mutex;
use serde_json::json;
use tracing::Instrument;

use crate::approve::{ApprovalQueue, QueueError};
use crate::config::{Config, Feature, Mode, ModeReader};
use crate::enrich::SiemAdapter;
use crate::fleet::{Fleet, Signals};
use crate::guardrails::{Acting, HourlyWindow, Refusal, Rule, rule, unknown_risk};
use crate::model::{
    ContextStatus, Decision, DecisionOutcome, JudgedWith, KillReport, ModuleProfile, NamedValues,
    PluginUse, Reading, ResurrectionRequest, RiskAssessment, RiskLevel, SiemContext, Verdict,
    strategy_recommended, wire_str,
};
use crate::plugin::threads::{Judgement, PluginThreads, ToJudge};
use crate::plugin::{Registry, Served};
use crate::store::replica::{Automatic, Take, Taken};
use crate::store::{AuditKind, DecisionRecord, Store, StoreError, Stored};
use crate::telemetry::Metrics;

/// A refused mode change.
#[derive(Debug, thiserror::Error)]
pub enum ModeError {
    #[error("{0}")]
    Invalid(String),
    /// The constitution does not allow it now.
    #[error("{0}")]
    Refused(String),
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// A kill as it arrives, with where it came from.
#[derive(Clone, Debug)]
pub struct Incoming {
    pub kill: KillReport,
    pub correlation_id: Option<String>,
    pub reply_to: Option<String>,
    /// `redis`, `http`, `replay`.
    pub source: &'static str,
    pub received: Instant,
}

/// What handling a kill produced.
#[derive(Clone, Debug)]
pub enum Handled {
    /// Decided now (and stored, not yet flushed), with the decision's JSON
    /// (stored with the record; published as is).
    Decided(Box<DecisionRecord>, String),
    /// Decided before: the earlier decision, untouched.
    Duplicate(Box<Decision>),
    /// Its kill_id was decided before for a different kill: refused (the
    /// earlier decision stands), with why. Callers dead-letter it.
    Conflict(Box<Decision>, String),
}

impl Handled {
    pub fn decision(&self) -> &Decision {
        match self {
            Handled::Decided(r, _) => &r.decision,
            Handled::Duplicate(d) | Handled::Conflict(d, _) => d,
        }
    }

    /// The decision as JSON (encoded once when it was just decided).
    pub fn decision_json(&self) -> std::borrow::Cow<'_, str> {
        match self {
            Handled::Decided(_, json) => json.as_str().into(),
            Handled::Duplicate(d) | Handled::Conflict(d, _) => {
                serde_json::to_string(d).unwrap_or_default().into()
            }
        }
    }
}

/// A resurrection request the decider stored, with the signals of the
/// module it claimed: execution takes these from a channel and drives them.
pub struct Intent {
    pub request: ResurrectionRequest,
    pub signals: Signals,
}

/// Makes the resurrection request for an automatic approval (execution
/// knows the backend and the health checks it names).
pub type RequestMaker =
    Arc<dyn Fn(&Decision, &KillReport, DateTime<Utc>) -> ResurrectionRequest + Send + Sync>;

/// Why the acting modes should fall back now, if they should (a dependency
/// they rely on, such as Smith's veto channel, is down).
pub type Degraded = Arc<dyn Fn() -> Option<String> + Send + Sync>;

/// What the decider needs to turn decisions into actions, given by the
/// engine when Medic acts: the approval queue, how a request is made, where
/// stored requests go, and whether acting is degraded.
pub struct Actions {
    pub queue: Arc<ApprovalQueue>,
    pub request: RequestMaker,
    pub intents: tokio::sync::mpsc::UnboundedSender<Intent>,
    pub degraded: Degraded,
    /// Where decided kills go for the phase's shadow, if one is bound.
    pub shadow: crate::shadow::ShadowTap,
}

/// Everything a decision needs, shared by every ingest source.
pub struct Decider {
    pub config: Arc<Config>,
    pub registry: Arc<Registry>,
    /// Where the plugins judge, off the async runtime's workers.
    plugin_threads: PluginThreads,
    pub store: Store,
    pub siem: Arc<dyn SiemAdapter>,
    pub metrics: Arc<Metrics>,
    /// The mode in force; changed at run time, read by the learner too.
    mode: Arc<Mutex<Mode>>,
    /// Held from the guardrails' ruling to the stored intent, so the
    /// hourly cap, the queue's room and each module's state are facts no
    /// concurrent decision can change in between.
    window: Mutex<HourlyWindow>,
    /// Each module's state (kills, outcomes, cooldowns, resurrections).
    pub fleet: Arc<Fleet>,
    /// How decisions become actions (absent: they are only recorded).
    actions: Option<Actions>,
}

impl Decider {
    #[allow(clippy::too_many_arguments)]
    pub fn new(
        config: Arc<Config>,
        registry: Arc<Registry>,
        plugin_threads: PluginThreads,
        store: Store,
        siem: Arc<dyn SiemAdapter>,
        metrics: Arc<Metrics>,
        fleet: Arc<Fleet>,
        actions: Option<Actions>,
    ) -> Result<Decider, StoreError> {
        let since = Utc::now() - chrono::Duration::hours(1);
        let window = HourlyWindow::from_times(store.auto_approvals_since(since)?);
        metrics.watch_store(store.flush_times());
        // Replicas sharing a store run in the mode last set through any of
        // them, also one started later (a store one process holds keeps
        // none: the configured mode).
        let mode = match store.stored_mode()? {
            Some(name) => match Mode::named(&name).filter(|m| enabled(&config, *m).is_ok()) {
                Some(m) => {
                    tracing::info!(
                        mode = m.name(),
                        "Mode set through a replica sharing the store is in force, not the configuration's"
                    );
                    m
                }
                None => {
                    tracing::warn!(mode = %name, "The store's mode is unknown or its phase is not enabled here; the configured mode is in force");
                    config.medic.mode.current
                }
            },
            None => config.medic.mode.current,
        };
        Ok(Decider {
            mode: Arc::new(Mutex::new(mode)),
            config,
            registry,
            plugin_threads,
            store,
            siem,
            metrics,
            window: Mutex::new(window),
            fleet,
            actions,
        })
    }

    pub fn mode(&self) -> Mode {
        *self.mode.lock()
    }

    /// A read handle on the mode, for what must judge as the engine does
    /// (the threshold manager's safety check).
    pub fn mode_reader(&self) -> ModeReader {
        ModeReader::new(self.mode.clone())
    }

    /// Whether kills are enriched from a SIEM (an adapter is configured and
    /// the constitution's phase allows queries).
    pub fn queries_siem(&self) -> bool {
        self.siem.kind() != "none" && self.config.feature(Feature::SiemQuery)
    }

    /// Switches the mode at run time, audited. Refused when the
    /// constitution does not enable the phase the mode needs.
    pub fn set_mode(&self, mode: Mode, actor: &str, reason: &str) -> Result<Mode, ModeError> {
        if reason.trim().is_empty() {
            return Err(ModeError::Invalid(
                "reason: a mode change needs a reason".into(),
            ));
        }
        enabled(&self.config, mode)?;
        let before = {
            let mut m = self.mode.lock();
            std::mem::replace(&mut *m, mode)
        };
        // A new mode's error budget starts afresh.
        self.fleet.forget_failures();
        // Every replica sharing the store switches too.
        self.store.set_stored_mode(mode.name())?;
        self.store.audit(
            AuditKind::ModeChanged,
            None,
            None,
            actor,
            json!({"from": before.name(), "to": mode.name(), "reason": reason}),
        )?;
        tracing::warn!(
            from = before.name(),
            to = mode.name(),
            actor,
            reason,
            "Mode changed"
        );
        Ok(before)
    }

    /// Takes up the mode another replica sharing the store switched to
    /// (that one audited it). One whose phase this replica's constitution
    /// does not enable is refused, and the mode in force stays.
    pub fn adopt_mode(&self, name: &str) -> Result<(), ModeError> {
        let mode = Mode::named(name)
            .ok_or_else(|| ModeError::Invalid(format!("mode: {name} is not a mode")))?;
        enabled(&self.config, mode)?;
        let before = std::mem::replace(&mut *self.mode.lock(), mode);
        if before != mode {
            self.fleet.forget_failures();
            tracing::warn!(
                from = before.name(),
                to = mode.name(),
                "Mode changed through a replica sharing the store"
            );
        }
        Ok(())
    }

    /// Decides one kill (or returns its earlier decision) and stores it.
    pub async fn handle(&self, inc: Incoming) -> Result<Handled, StoreError> {
        let span = tracing::info_span!("kill", kill_id = %inc.kill.kill_id, module = %inc.kill.target_module, source = inc.source);
        self.handle_inner(inc).instrument(span).await
    }

    async fn handle_inner(&self, inc: Incoming) -> Result<Handled, StoreError> {
        let kill = &inc.kill;
        if let Some(earlier) = self.decided_before(kill)? {
            return Ok(earlier);
        }
        // A kill of a module being brought back interrupts that.
        let rekilled = self.fleet.kill_arrived(kill);
        tracing::info!(kill_id = %kill.kill_id, reason = wire_str(&kill.kill_reason), severity = wire_str(&kill.severity), confidence = kill.confidence_score, "Kill report received");

        let (context, context_status) = self.enrich(kill).await;
        let mut profile = self.profile(kill)?;
        // What the kills of known truth say of one with this evidence.
        profile.known = Some(self.store.resembling(Reading::of(kill, context.as_ref())));
        let thresholds = self.registry.thresholds();
        // The plugins judge on a plugin thread while this task waits, so
        // the worker it runs on goes on serving I/O (docs/ARCHITECTURE.md,
        // "Where plugin calls run"). The kill goes there and comes back.
        let to_judge = ToJudge {
            kill: inc.kill,
            context,
            profile,
            thresholds,
        };
        let (judged, Judgement { scored, decided }) =
            self.plugin_threads.judge(&self.registry, to_judge).await;
        let ToJudge {
            kill: judged_kill,
            context,
            profile,
            thresholds,
        } = judged;
        let kill = &judged_kill;
        for (plugin, err) in [
            (scored.plugin.as_str(), scored.value.as_ref().err()),
            (
                decided.as_ref().map_or("", |d| d.plugin.as_str()),
                decided.as_ref().and_then(|d| d.value.as_ref().err()),
            ),
        ] {
            if let Some(e) = err {
                self.metrics.plugin_error(plugin, e.cause());
                tracing::error!(kill_id = %kill.kill_id, plugin, error = %e, "Plugin failed");
            }
        }
        // A dependency the mode relies on is down: run in the fallback mode.
        let mut mode = self.mode();
        let fallback = self.config.medic.mode.fallback;
        let mut mode_note = None;
        if mode != fallback {
            let down = (self.siem.breaker_state() == Some("open"))
                .then(|| "SIEM circuit breaker open".to_string())
                .or_else(|| self.actions.as_ref().and_then(|a| (a.degraded)()));
            if let Some(why) = down {
                mode_note = Some(format!("{why}: {mode:?} mode falls back to {fallback:?}"));
                mode = fallback;
            }
        }
        let now = Utc::now();
        // The guardrails rule, the decision and the intent it implies are
        // stored, all under the window's lock: the facts they rule on stay
        // true until the intent is stored.
        let mut window = self.window.lock();
        // Handled meanwhile on another path (a redelivery racing this one).
        // A store other processes share refuses a second decision itself
        // (its kill_id key), and this lock does not cover them: there the
        // store's answer below tells, and this lock is held for one round
        // trip to the database fewer.
        if !self.store.shared()
            && let Some(earlier) = self.decided_before(kill)?
        {
            return Ok(earlier);
        }
        let mut acting = match &self.actions {
            Some(a) if mode != Mode::Observer => Some(Acting {
                refusal: rekilled
                    .map(|request_id| Refusal::ReKilled {
                        module: kill.target_module.clone(),
                        request_id,
                    })
                    .or_else(|| self.fleet.refusal(&kill.target_module, false, now)),
                queue_full: a.queue.full(),
            }),
            _ => None,
        };
        // What the guardrails rule on, but for acting's facts (which a
        // shared store may add to below).
        let judged = || Judged {
            config: &self.config,
            kill,
            has_context: context.is_some(),
            context_status: context_status.clone(),
            profile: &profile,
            scored: &scored,
            decided: decided.as_ref(),
            thresholds: &thresholds,
            mode,
            mode_note: mode_note.clone(),
            phase: self.registry.active().phase.to_string(),
            now,
            acting: None,
        };
        // The id carries the decision's time: the store finds a decision
        // by its id through its time index.
        let decision_id = uuid::Uuid::new_v7(uuid::Timestamp::from_unix(
            uuid::NoContext,
            u64::try_from(now.timestamp()).unwrap_or(0),
            now.timestamp_subsec_nanos(),
        ))
        .to_string();
        let automatic = Automatic {
            cap: self
                .config
                .constitution
                .constraints
                .max_auto_resurrections_per_hour,
            cooldown: self.config.medic.resurrection.cooldown,
        };
        let mut decision = conclude(
            Judged {
                acting: acting.as_ref(),
                ..judged()
            },
            decision_id.clone(),
            &mut window,
        );
        let mut tries = 0;
        while let Some(a) = acting
            .as_mut()
            .filter(|_| decision.outcome == DecisionOutcome::ApproveAuto)
        {
            let take = Take {
                kill_id: &kill.kill_id,
                module: &kill.target_module,
                now,
                automatic: Some(automatic),
            };
            match self.store.take_resurrection(&take)? {
                Taken::Granted => break,
                // Replicas sharing the store hold the module (busy, in a
                // cooldown): the guardrails rule again on that.
                Taken::Held(held) => a.refusal = Some(Refusal::held(&kill.target_module, held)),
                // Replicas sharing the store took the hour's last
                // approvals: the guardrails rule again on the count they
                // all share (after two tries, on a full hour: never over
                // the cap).
                Taken::CapReached => {
                    tries += 1;
                    let taken = if tries < 3 {
                        self.store
                            .auto_approvals_since(now - chrono::Duration::hours(1))?
                    } else {
                        vec![now; usize::try_from(automatic.cap).unwrap_or(usize::MAX)]
                    };
                    *window = HourlyWindow::from_times(taken);
                }
            }
            decision = conclude(
                Judged {
                    acting: acting.as_ref(),
                    ..judged()
                },
                decision_id.clone(),
                &mut window,
            );
        }
        // A store replicas share is the authority on what this lock
        // guards (it refuses a second decision for a kill, and takes a
        // module and the cap in transactions of its own): the lock is not
        // held across its round trips, so concurrent kills overlap them.
        let window = if self.store.shared() {
            drop(window);
            None
        } else {
            Some(window)
        };
        let executes = acting.is_some() && decision.outcome == DecisionOutcome::ApproveAuto;
        decision.executed = executes;
        decision.correlation_id = inc.correlation_id;
        decision.source = inc.source.to_string();
        decision.latency_us = u64::try_from(inc.received.elapsed().as_micros()).unwrap_or(u64::MAX);
        // A kill resurrected or put to a person may become known (its
        // outcome, the person's verdict): the safety check of a learner's
        // proposal will judge it again as it was judged here.
        let judged_with = matches!(
            decision.outcome,
            DecisionOutcome::ApproveAuto
                | DecisionOutcome::ApproveManual
                | DecisionOutcome::PendingReview
        )
        .then(|| JudgedWith::of(&profile));
        let record = DecisionRecord {
            kill: judged_kill,
            context,
            decision,
            judged_with,
        };
        let decision_json = serde_json::to_string(&record.decision)?;
        let d = &record.decision;
        let made = MadeDetails {
            outcome: d.outcome,
            risk_level: d.risk_level,
            risk_score: d.risk_score,
            confidence: d.confidence,
            guardrails: &d.guardrails,
            strategy: &d.strategy.name,
            scorer: &d.scorer.name,
            mode: &d.mode,
            source: &d.source,
        };
        if let Stored::Duplicate(earlier) =
            self.store
                .store_decision_audited(&record, &decision_json, "medic", made)?
        {
            // Decided meanwhile by another process sharing the store (one
            // holding it alone stores under this lock, after the check
            // above): a redelivery gets that decision, a different kill
            // under the id is a conflict. Never acted on twice.
            if executes && !earlier.executed {
                // The module was taken for this kill, which that decision
                // does not bring back.
                self.store
                    .release_module(&record.kill.target_module, &record.kill.kill_id)?;
            }
            if let Some(handled) = self.decided_before(&record.kill)? {
                return Ok(handled);
            }
            self.metrics.duplicates.inc();
            return Ok(Handled::Duplicate(earlier));
        }
        if let (Some(a), Some(_)) = (&self.actions, &acting) {
            self.intend(a, &record, now)?;
        }
        drop(window);
        let d = &record.decision;
        self.metrics.decided(d.outcome, d.risk_level, d.latency_us);
        tracing::info!(kill_id = %d.kill_id, decision_id = %d.decision_id, outcome = wire_str(&d.outcome), risk_level = wire_str(&d.risk_level),
            risk_score = d.risk_score, confidence = d.confidence, guardrails = ?d.guardrails, latency_us = d.latency_us,
            "Resurrection decision made");
        if let (Some(a), Some((scorer, strategy))) = (&self.actions, &self.registry.active().shadow)
        {
            // Off the kill's path: the shadow's worker judges it later.
            a.shadow.offer(crate::shadow::ShadowJob {
                kill: record.kill.clone(),
                context: record.context.clone(),
                profile,
                thresholds: thresholds.clone(),
                decision_id: d.decision_id.clone(),
                decided_at: now,
                phase: d.phase.clone(),
                mode,
                live: d.outcome,
                scorer: scorer.clone(),
                strategy: strategy.clone(),
            });
        }
        Ok(Handled::Decided(Box::new(record), decision_json))
    }

    /// A kill whose id was decided before: a redelivery of the same kill
    /// gets the earlier decision; a different kill under that id is a
    /// conflict, refused and counted, never judged as the earlier one.
    fn decided_before(&self, kill: &KillReport) -> Result<Option<Handled>, StoreError> {
        let Some(earlier) = self.store.record_for_kill(&kill.kill_id)? else {
            return Ok(None);
        };
        let differs = earlier.kill.differences(kill);
        let decision = Box::new(earlier.decision);
        if differs.is_empty() {
            self.metrics.duplicates.inc();
            tracing::info!(kill_id = %kill.kill_id, decision_id = %decision.decision_id, "Kill already decided; not deciding again");
            return Ok(Some(Handled::Duplicate(decision)));
        }
        self.metrics.kill_conflicts.inc();
        let why = format!(
            "already decided (decision {}) for a different kill: {} differ (earlier: module {}, instance {}, at {})",
            decision.decision_id,
            differs.join(", "),
            earlier.kill.target_module,
            earlier.kill.target_instance_id,
            earlier.kill.timestamp.to_rfc3339()
        );
        tracing::error!(kill_id = %kill.kill_id, decision_id = %decision.decision_id, differ = ?differs, "Kill id reused for a different kill: refused, not decided");
        Ok(Some(Handled::Conflict(decision, why)))
    }

    /// Stores what a fresh decision implies (under the window's lock, right
    /// after the decision): an automatic approval claims its module and
    /// becomes a request that execution takes from the channel; a decision
    /// for a person becomes a queue item; a tripped flapping guardrail
    /// starts the module's cooldown.
    fn intend(
        &self,
        a: &Actions,
        record: &DecisionRecord,
        now: DateTime<Utc>,
    ) -> Result<(), StoreError> {
        let (d, kill) = (&record.decision, &record.kill);
        if d.guardrails.iter().any(|g| g == "flapping") {
            self.fleet.flapping(&kill.target_module, now)?;
        }
        if d.guardrails.iter().any(|g| g == "queue_full") {
            self.metrics.queue_overflow.inc();
            a.queue.overflowed(d, kill)?;
            tracing::error!(kill_id = %d.kill_id, module = %kill.target_module, "Approval queue full: decision denied instead of queued");
        }
        match d.outcome {
            DecisionOutcome::ApproveAuto if d.executed => {
                let request = (a.request)(d, kill, now);
                // The refusal fact said the module was free, under this lock.
                let signals = match self.fleet.claim(&request) {
                    Ok(s) => s,
                    Err(why) => {
                        tracing::error!(kill_id = %d.kill_id, error = %why, "Module claimed by another request although it was free when ruled");
                        return Ok(());
                    }
                };
                self.store.put_request(&request)?;
                if a.intents.send(Intent { request, signals }).is_err() {
                    tracing::error!(kill_id = %d.kill_id, "Execution has stopped: the request stays stored and resumes at the next start");
                }
            }
            DecisionOutcome::PendingReview | DecisionOutcome::ApproveManual => {
                match a
                    .queue
                    .enqueue(d, kill, &crate::approve::reason_for(d), now)
                {
                    Ok(_) => {}
                    Err(QueueError::Store(e)) => return Err(e),
                    Err(other) => {
                        tracing::error!(kill_id = %d.kill_id, error = %other, "Could not queue for review")
                    }
                }
            }
            _ => {}
        }
        Ok(())
    }

    async fn enrich(&self, kill: &KillReport) -> (Option<SiemContext>, ContextStatus) {
        if !self.queries_siem() {
            return (None, ContextStatus::Disabled);
        }
        let started = Instant::now();
        let result = self.siem.query_context(kill).await;
        self.metrics.siem_latency(started.elapsed());
        match result {
            Ok(ctx) => (Some(ctx), ContextStatus::Ok),
            Err(e) => {
                self.metrics.siem_errors.inc();
                tracing::warn!(kill_id = %kill.kill_id, error = %e, "SIEM enrichment failed; deciding without context");
                (None, ContextStatus::Failed(e.to_string()))
            }
        }
    }

    fn profile(&self, kill: &KillReport) -> Result<ModuleProfile, StoreError> {
        let history = self.fleet.kill_times(kill)?;
        let counts = self.fleet.counts(&kill.target_module)?;
        let mut profile = ModuleProfile {
            kills_last_hour: history.kills_last_hour,
            kills_last_day: history.kills_last_day,
            kills_last_week: history.kills_last_week,
            last_kill: history.last_kill,
            ..self.config.module_profile(&kill.target_module)
        };
        counts.fill(&mut profile);
        // People's approvals and denials, kept in memory by the store.
        self.store
            .human_verdicts(&kill.target_module)
            .fill(&mut profile);
        Ok(profile)
    }
}

/// A `decision_made` audit event's details.
#[derive(serde::Serialize)]
struct MadeDetails<'a> {
    outcome: DecisionOutcome,
    risk_level: RiskLevel,
    risk_score: f64,
    confidence: f64,
    guardrails: &'a [String],
    strategy: &'a str,
    scorer: &'a str,
    mode: &'a str,
    source: &'a str,
}

fn plugin_use<T>(s: &Served<T>) -> PluginUse {
    PluginUse {
        name: s.plugin.clone(),
        version: s.version.clone(),
        sha256: s.sha256.clone(),
        fallback: s.fallback.clone(),
    }
}

/// What a decision is made from, once the plugins have answered.
pub struct Judged<'a> {
    pub config: &'a Config,
    pub kill: &'a KillReport,
    pub has_context: bool,
    pub context_status: ContextStatus,
    pub profile: &'a ModuleProfile,
    pub scored: &'a Served<RiskAssessment>,
    pub decided: Option<&'a Served<Verdict>>,
    /// The thresholds in force when the plugins judged.
    pub thresholds: &'a NamedValues,
    pub mode: Mode,
    /// Why the mode differs from the configured one, if it does.
    pub mode_note: Option<String>,
    pub phase: String,
    /// The decision's time: now in production, the kill's time in replay.
    pub now: DateTime<Utc>,
    /// What acting on the decision depends on (absent: nothing is acted on).
    pub acting: Option<&'a Acting>,
}

/// Turns plugin answers into a decision through the guardrails. Production
/// and replay both decide here, so replay judges exactly as production does.
/// `window` holds the hour's auto-approvals (updated when this is one).
pub fn conclude(j: Judged<'_>, decision_id: String, window: &mut HourlyWindow) -> Decision {
    let kill = j.kill;
    let verdict = j.decided.and_then(|d| d.value.as_ref().ok());
    let critical = unknown_risk();
    let risk = j.scored.value.as_ref().unwrap_or(&critical);
    let ruling = rule(
        &Rule {
            config: j.config,
            mode: j.mode,
            kill,
            profile: j.profile,
            has_context: j.has_context,
            risk: j.scored.value.as_ref(),
            verdict: j.decided.map(|d| d.value.as_ref()),
            thresholds: j.thresholds,
            now: j.now,
            acting: j.acting,
        },
        window,
    );
    let mut reasoning = verdict.map(|v| v.reasoning.clone()).unwrap_or_default();
    if let ContextStatus::Failed(why) = &j.context_status {
        reasoning.push(format!("SIEM context unavailable: {why}"));
    }
    reasoning.extend(j.mode_note);
    if let Some(v) = verdict.filter(|v| v.outcome != ruling.outcome) {
        reasoning.push(strategy_recommended(v.outcome, &v.recommended_action));
    }
    reasoning.extend(ruling.reasoning.iter().cloned());
    if j.mode == Mode::Observer {
        reasoning.push("observer mode: recorded, not executed".into());
    }
    let rollout_only = ["mode", "auto_resurrection_off", "auto_approve_disabled"];
    Decision {
        decision_id,
        kill_id: kill.kill_id.clone(),
        timestamp: j.now,
        outcome: ruling.outcome,
        risk_level: risk.level,
        risk_score: risk.score,
        confidence: verdict.map_or(0.0, |v| v.confidence),
        reasoning,
        recommended_action: ruling.outcome.recommended_action(&kill.target_module),
        requires_human_review: ruling.outcome == DecisionOutcome::PendingReview,
        auto_approve_eligible: verdict.is_some_and(|v| v.outcome == DecisionOutcome::ApproveAuto)
            && ruling.applied.iter().all(|g| rollout_only.contains(g)),
        constraints: verdict.map(|v| v.constraints.clone()).unwrap_or_default(),
        timeout_minutes: verdict.map_or(j.config.medic.decision.default_timeout_minutes, |v| {
            v.timeout_minutes
        }),
        target_module: kill.target_module.clone(),
        target_instance_id: kill.target_instance_id.clone(),
        risk_factors: risk.factors.clone(),
        strategy_outcome: verdict.map(|v| v.outcome),
        guardrails: ruling.applied.iter().map(|s| s.to_string()).collect(),
        mode: j.mode.name().to_string(),
        phase: j.phase,
        executed: false,
        context_status: j.context_status,
        scorer: plugin_use(j.scored),
        strategy: j.decided.map(plugin_use).unwrap_or_default(),
        correlation_id: None,
        source: String::new(),
        latency_us: 0,
    }
}

/// Refused unless the constitution enables the phase `mode` needs.
fn enabled(config: &Config, mode: Mode) -> Result<(), ModeError> {
    if config.phase_for(mode).is_some_and(|p| p.enabled) {
        return Ok(());
    }
    Err(ModeError::Refused(format!(
        "mode {} needs the constitution's {} enabled",
        mode.name(),
        crate::config::phases::needed_by(mode).name()
    )))
}
