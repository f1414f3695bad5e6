//! Shadow evaluation: a phase's shadow scorer and strategy (the
//! constitution's `plugins.<phase>.shadow`) judge every live kill beside the
//! plugins in force, off the kill's path: the decider hands each decided
//! kill to a bounded queue ([`ShadowTap`]) and one worker thread judges it
//! — scored, decided and ruled by the same guardrails in the same mode —
//! and records the would-be decision beside the real one. The worker is
//! the CPU budget: one thread, at most [`QUEUE`] kills waiting; a kill
//! arriving when the queue is full is not shadowed (counted in
//! `medic_shadow_skipped_total`). Nothing a shadow decides is acted on.
//!
//! [`report`] joins the records with what really happened: outcomes of
//! resurrections (re-killed or rolled back: a threat; held: a false
//! positive) and people's denials (a threat).

use std::collections::HashMap;
use std::sync::Arc;
use std::sync::mpsc::{Receiver, SyncSender, TrySendError, sync_channel};

use chrono::{DateTime, Utc};
use serde::Serialize;

use crate::config::{Config, Mode};
use crate::guardrails::{Case, HourlyWindow, Judgement, judge_with};
use crate::model::{DecisionOutcome, KillReport, ModuleProfile, NamedValues, SiemContext};
use crate::plugin::Plugin;
use crate::store::{ShadowRecord, Store, StoreError};
use crate::telemetry::Metrics;

/// Kills waiting for the shadow at most.
pub const QUEUE: usize = 1024;
/// Kills a report lists in each of its lists at most.
pub const LISTED: usize = 100;

/// One decided kill, for the shadow to judge.
pub struct ShadowJob {
    pub kill: KillReport,
    pub context: Option<SiemContext>,
    pub profile: ModuleProfile,
    pub thresholds: Arc<NamedValues>,
    pub decision_id: String,
    pub decided_at: DateTime<Utc>,
    pub phase: String,
    pub mode: Mode,
    pub live: DecisionOutcome,
    pub scorer: Arc<Plugin>,
    pub strategy: Arc<Plugin>,
}

/// Where the decider hands kills to the shadow.
#[derive(Clone)]
pub struct ShadowTap {
    jobs: SyncSender<ShadowJob>,
    metrics: Arc<Metrics>,
}

impl ShadowTap {
    /// Queues `job`; never waits (a full queue skips it, counted).
    pub fn offer(&self, job: ShadowJob) {
        match self.jobs.try_send(job) {
            Ok(()) => {}
            Err(TrySendError::Full(job)) => {
                self.metrics.shadow_skipped.inc();
                tracing::debug!(kill_id = %job.kill.kill_id, "Shadow queue full: kill not shadowed");
            }
            Err(TrySendError::Disconnected(_)) => {
                self.metrics.shadow_skipped.inc();
            }
        }
    }
}

/// Starts the shadow's worker thread; the tap feeds it.
pub fn start(
    config: Arc<Config>,
    store: Store,
    metrics: Arc<Metrics>,
) -> std::io::Result<ShadowTap> {
    let (jobs, queue) = sync_channel(QUEUE);
    std::thread::Builder::new()
        .name("medic-shadow".into())
        .spawn(move || work(&config, &store, &queue))?;
    Ok(ShadowTap { jobs, metrics })
}

fn work(config: &Config, store: &Store, queue: &Receiver<ShadowJob>) {
    // The shadow's own hour of automatic approvals, as its cap would count.
    let mut window = HourlyWindow::default();
    while let Ok(job) = queue.recv() {
        let record = judge(config, &job, &mut window);
        if let Err(e) = store.put_shadow(&record) {
            tracing::error!(kill_id = %job.kill.kill_id, error = %e, "Cannot record a shadow decision");
        }
    }
}

/// The shadow's ruling on one kill.
pub fn judge(config: &Config, job: &ShadowJob, window: &mut HourlyWindow) -> ShadowRecord {
    let case = Case {
        kill: &job.kill,
        context: job.context.as_ref(),
        profile: &job.profile,
        thresholds: &job.thresholds,
        now: job.decided_at,
    };
    let Judgement {
        risk,
        verdict,
        ruling,
    } = judge_with(config, job.mode, &job.scorer, &job.strategy, &case, window);
    let error = match (&risk, &verdict) {
        (Err(e), _) | (_, Some(Err(e))) => Some(e.to_string()),
        _ => None,
    };
    let named = |p: &Plugin| format!("{}@{}", p.name(), p.info().version);
    ShadowRecord {
        kill_id: job.kill.kill_id.clone(),
        decision_id: job.decision_id.clone(),
        module: job.kill.target_module.clone(),
        decided_at: job.decided_at,
        phase: job.phase.clone(),
        live: job.live,
        shadow: ruling.outcome,
        scorer: named(&job.scorer),
        strategy: named(&job.strategy),
        risk_score: risk.as_ref().map_or(1.0, |r| r.score),
        confidence: verdict
            .as_ref()
            .and_then(|v| v.as_ref().ok())
            .map_or(0.0, |v| v.confidence),
        error,
    }
}

/// What became of a kill, as far as is known.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum Truth {
    Threat,
    FalsePositive,
    Unknown,
}

/// One kill in a report's lists.
#[derive(Clone, Debug, PartialEq, Serialize, utoipa::ToSchema)]
pub struct ShadowKill {
    pub kill_id: String,
    pub module: String,
    pub decided_at: DateTime<Utc>,
    pub live: DecisionOutcome,
    pub shadow: DecisionOutcome,
    pub truth: Truth,
}

/// How often the live and the shadow outcome were each pair.
#[derive(Clone, Debug, PartialEq, Serialize, utoipa::ToSchema)]
pub struct Pair {
    pub live: DecisionOutcome,
    pub shadow: DecisionOutcome,
    pub count: usize,
}

/// A shadow's record over a time range, joined with what happened.
#[derive(Clone, Debug, PartialEq, Serialize, utoipa::ToSchema)]
pub struct ShadowReport {
    pub from: DateTime<Utc>,
    pub to: DateTime<Utc>,
    /// Kills the shadow judged.
    pub judged: usize,
    /// Of them, decided the same way as the plugins in force.
    pub agreed: usize,
    pub agreement: f64,
    /// Kills whose truth is known, and of them real threats.
    pub known: usize,
    pub known_threats: usize,
    /// The shadow's plugin errors.
    pub errors: usize,
    /// Every (live, shadow) pair of outcomes, with its count.
    pub pairs: Vec<Pair>,
    /// Known threats the shadow would have brought back alone (unsafe).
    pub would_revive_threats: usize,
    /// Known false positives the shadow would have brought back alone
    /// that the plugins in force left to a person or down (sooner).
    pub would_recover_sooner: usize,
    /// Known threats the plugins in force brought back alone and the
    /// shadow would not have.
    pub would_hold_threats: usize,
    /// The kills of each of the three counts above (at most [`LISTED`]).
    pub revive_threats: Vec<ShadowKill>,
    pub recover_sooner: Vec<ShadowKill>,
    pub hold_threats: Vec<ShadowKill>,
}

/// The shadow's record for kills decided in `[from, to)`, joined with the
/// outcomes and people's verdicts known by `now`.
pub fn report(
    store: &Store,
    from: DateTime<Utc>,
    to: DateTime<Utc>,
    now: DateTime<Utc>,
) -> Result<ShadowReport, StoreError> {
    let records = store.shadows_between(from, to)?;
    let mut truth: HashMap<String, Truth> = HashMap::new();
    let until = now + chrono::TimeDelta::milliseconds(1);
    for v in store.human_verdicts_between(from, until)? {
        if !v.approved {
            truth.insert(v.decision_id, Truth::Threat);
        }
    }
    for o in store.outcomes_between(from, until)? {
        match crate::store::calibration::truth_of(o.result) {
            Some(true) => {
                truth.insert(o.decision_id, Truth::Threat);
            }
            Some(false) => {
                truth.entry(o.decision_id).or_insert(Truth::FalsePositive);
            }
            None => {}
        }
    }
    let mut r = ShadowReport {
        from,
        to,
        judged: records.len(),
        agreed: 0,
        agreement: 0.0,
        known: 0,
        known_threats: 0,
        errors: 0,
        pairs: Vec::new(),
        would_revive_threats: 0,
        would_recover_sooner: 0,
        would_hold_threats: 0,
        revive_threats: Vec::new(),
        recover_sooner: Vec::new(),
        hold_threats: Vec::new(),
    };
    let mut pairs: Vec<Pair> = Vec::new();
    for rec in &records {
        let t = truth
            .get(&rec.decision_id)
            .copied()
            .unwrap_or(Truth::Unknown);
        r.agreed += usize::from(rec.live == rec.shadow);
        r.errors += usize::from(rec.error.is_some());
        r.known += usize::from(t != Truth::Unknown);
        r.known_threats += usize::from(t == Truth::Threat);
        match pairs
            .iter_mut()
            .find(|p| p.live == rec.live && p.shadow == rec.shadow)
        {
            Some(p) => p.count += 1,
            None => pairs.push(Pair {
                live: rec.live,
                shadow: rec.shadow,
                count: 1,
            }),
        }
        let auto = DecisionOutcome::ApproveAuto;
        let kill = || ShadowKill {
            kill_id: rec.kill_id.clone(),
            module: rec.module.clone(),
            decided_at: rec.decided_at,
            live: rec.live,
            shadow: rec.shadow,
            truth: t,
        };
        let (count, list) = if t == Truth::Threat && rec.shadow == auto {
            (&mut r.would_revive_threats, &mut r.revive_threats)
        } else if t == Truth::FalsePositive && rec.shadow == auto && rec.live != auto {
            (&mut r.would_recover_sooner, &mut r.recover_sooner)
        } else if t == Truth::Threat && rec.live == auto && rec.shadow != auto {
            (&mut r.would_hold_threats, &mut r.hold_threats)
        } else {
            continue;
        };
        *count += 1;
        if list.len() < LISTED {
            list.push(kill());
        }
    }
    r.agreement = if r.judged == 0 {
        0.0
    } else {
        r.agreed as f64 / r.judged as f64
    };
    pairs.sort_by_key(|p| std::cmp::Reverse(p.count));
    r.pairs = pairs;
    Ok(r)
}
