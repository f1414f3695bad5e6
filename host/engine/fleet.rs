//! What Medic knows of each module right now, in one place: its recent
//! kills, its resurrection history (outcome counts), when it was last
//! brought back, whether it is in a flapping cooldown, and the resurrection
//! under way, if any, with the signals that reach it. Deciding reads it to
//! state the facts the guardrails rule on (`ready`); execution writes it as
//! resurrections start and end. Neither calls the other.

use std::collections::{HashMap, VecDeque};
use std::sync::Arc;
use std::time::Instant;

use chrono::{DateTime, Utc};

use crate::config::units::span;
use parking_lot::Mutex;
use tokio::sync::{Notify, watch};

use crate::config::{Config, Feature};
use crate::guardrails::Refusal;
use crate::model::{KillReport, OutcomeResult, ResurrectionRequest};
use crate::store::{KillTimes, ModuleHistory, OutcomeCounts, Store, StoreError};

/// Kill times kept per module (a module killed more often than this in a
/// week counts as this many).
const MAX_RECENT_KILLS: usize = 100_000;

/// Whether a module being brought back is up yet.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Up {
    Starting,
    Running,
    Down,
}

/// Why a resurrection under way was interrupted.
#[derive(Clone, Debug, PartialEq)]
pub enum Interrupt {
    /// Smith killed the module again (the kill's id).
    ReKilled(String),
    Rollback {
        reason: String,
        by: String,
    },
}

/// The signals of a resurrection under way: whether the module is up (for
/// dependents waiting on it), and an interruption with its reason.
#[derive(Clone)]
pub struct Signals {
    pub up: watch::Sender<Up>,
    pub interrupt: Arc<Notify>,
    pub why: Arc<Mutex<Option<Interrupt>>>,
}

impl Signals {
    fn new() -> Signals {
        let (up, _) = watch::channel(Up::Starting);
        Signals {
            up,
            interrupt: Arc::new(Notify::new()),
            why: Arc::default(),
        }
    }

    /// Interrupts the resurrection, saying why.
    pub fn interrupt(&self, why: Interrupt) {
        *self.why.lock() = Some(why);
        self.interrupt.notify_one();
    }
}

/// A resurrection under way: the module is busy with it.
struct Active {
    request_id: String,
    /// The kill it brings the module back from.
    kill_id: String,
    /// When this process took it up.
    since: DateTime<Utc>,
    signals: Signals,
}

/// A resurrection this process runs, as [`Fleet::running`] lists it.
#[derive(Clone, Debug)]
pub struct Running {
    pub module: String,
    pub request_id: String,
    pub kill_id: String,
    pub since: DateTime<Utc>,
}

#[derive(Default)]
struct Modules {
    last_resurrected: HashMap<String, DateTime<Utc>>,
    flapping_until: HashMap<String, DateTime<Utc>>,
    active: HashMap<String, Active>,
    /// Each module's outcome counts, and when they were read.
    counts: HashMap<String, (OutcomeCounts, Instant)>,
}

/// How long outcome counts read from a store replicas share are used
/// before they are read again.
const SHARED_COUNTS_FOR: std::time::Duration = std::time::Duration::from_secs(1);

/// Each module's state (see the module's documentation).
pub struct Fleet {
    config: Arc<Config>,
    store: Store,
    modules: Mutex<Modules>,
    /// Each module's kill times over the last week, loaded from the store
    /// (all modules in one pass) with the first kill and kept up to date
    /// here, so a profile costs no scan.
    recent: Mutex<Option<HashMap<String, KillTimes>>>,
    /// When automatic resurrections went wrong (rolled back, re-killed,
    /// failed) since the mode last changed: the acting phase's error
    /// budget counts them (learn/demotion.rs).
    failures: Mutex<VecDeque<DateTime<Utc>>>,
    /// Wakes whoever watches the budget when one is counted (shared, so a
    /// watcher need not keep the fleet, and its store, alive).
    failed: Arc<Notify>,
}

/// At most this many failures are remembered (a budget is far smaller).
const MAX_FAILURES_KEPT: usize = 10_000;

impl Fleet {
    /// The fleet as the store knows it: when each module was last brought
    /// back (kill times and outcome counts load when first needed).
    pub fn new(config: Arc<Config>, store: Store) -> Result<Fleet, StoreError> {
        let mut modules = Modules::default();
        for req in store.requests(usize::MAX)? {
            if let Some(at) = req.executed_at {
                let e = modules
                    .last_resurrected
                    .entry(req.target_module.clone())
                    .or_insert(at);
                *e = (*e).max(at);
            }
        }
        Ok(Fleet {
            config,
            store,
            modules: Mutex::new(modules),
            recent: Mutex::new(None),
            failures: Mutex::new(VecDeque::new()),
            failed: Arc::new(Notify::new()),
        })
    }

    /// Counts a kill in its module's recent history, and returns the
    /// history with it.
    pub fn kill_times(&self, kill: &KillReport) -> Result<ModuleHistory, StoreError> {
        if self.store.shared() {
            // Replicas sharing the store each hear of some kills: the
            // store counts them all (this one is not stored yet).
            return self
                .store
                .module_history(&kill.target_module, kill.timestamp);
        }
        let mut recent = self.recent.lock();
        let recent = match &mut *recent {
            Some(r) => r,
            None => {
                let now = Utc::now();
                let loaded = self.store.kill_times_by_module(
                    now - chrono::Duration::weeks(1),
                    now + chrono::Duration::minutes(5),
                )?;
                recent.insert(loaded.into_iter().map(|(m, t)| (m, t.into())).collect())
            }
        };
        Ok(recent
            .entry(kill.target_module.clone())
            .or_default()
            .add(kill.timestamp, MAX_RECENT_KILLS))
    }

    /// Forgets the outcome counts read so far: each module's are read
    /// again from the store when next needed (retention removed some).
    pub fn forget_outcome_counts(&self) {
        self.modules.lock().counts.clear();
    }

    /// A module's resurrection history (for its profile).
    pub fn counts(&self, module: &str) -> Result<OutcomeCounts, StoreError> {
        // Replicas sharing the store record outcomes each: what another
        // recorded is read again once what was read is a second old.
        let fresh = |read: &Instant| !self.store.shared() || read.elapsed() < SHARED_COUNTS_FOR;
        if let Some((c, _)) = self
            .modules
            .lock()
            .counts
            .get(module)
            .filter(|(_, r)| fresh(r))
        {
            return Ok(*c);
        }
        let c = self.store.module_outcome_counts(module)?;
        self.modules
            .lock()
            .counts
            .insert(module.to_string(), (c, Instant::now()));
        Ok(c)
    }

    /// A resurrection of `module` ended with `result` (its counts follow);
    /// one nobody approved that went wrong counts against the error budget.
    pub fn outcome(&self, module: &str, result: OutcomeResult, automatic: bool) {
        if let Some((c, _)) = self.modules.lock().counts.get_mut(module) {
            c.add(result);
        }
        if automatic
            && matches!(
                result,
                OutcomeResult::Failure | OutcomeResult::ReKilled | OutcomeResult::Rollback
            )
        {
            let mut f = self.failures.lock();
            if f.len() == MAX_FAILURES_KEPT {
                f.pop_front();
            }
            f.push_back(Utc::now());
            drop(f);
            self.failed.notify_one();
        }
    }

    /// Automatic resurrections gone wrong at or after `since` (and since
    /// the mode last changed).
    pub fn failures_since(&self, since: DateTime<Utc>) -> usize {
        self.failures.lock().iter().filter(|t| **t >= since).count()
    }

    /// The mode changed: the error budget starts afresh.
    pub fn forget_failures(&self) {
        self.failures.lock().clear();
    }

    /// Notified at each automatic resurrection that goes wrong.
    pub fn failure_signal(&self) -> Arc<Notify> {
        self.failed.clone()
    }

    /// A kill arrived. If its module is being brought back, that is a
    /// re-kill: the resurrection is interrupted, and the id of the request
    /// it cut short is returned.
    pub fn kill_arrived(&self, kill: &KillReport) -> Option<String> {
        let modules = self.modules.lock();
        let a = modules.active.get(&kill.target_module)?;
        a.signals
            .interrupt(Interrupt::ReKilled(kill.kill_id.clone()));
        tracing::warn!(kill_id = %kill.kill_id, request_id = %a.request_id, module = %kill.target_module, "Module killed again while being resurrected");
        Some(a.request_id.clone())
    }

    /// Why `module` may not be brought back now, if it may not: execution
    /// is off, no backend serves it, it is blacklisted, a resurrection of
    /// it is under way, or — unless a person approved — it is in a
    /// flapping cooldown or within `resurrection.cooldown_seconds` of its
    /// last resurrection.
    pub fn refusal(&self, module: &str, by_human: bool, now: DateTime<Utc>) -> Option<Refusal> {
        if !self.config.feature(Feature::ResurrectionExecutor) {
            return Some(Refusal::ExecutorOff);
        }
        let c = &self.config.constitution.constraints;
        if c.blacklisted_modules.iter().any(|m| m == module) {
            return Some(Refusal::Blacklisted(module.to_string()));
        }
        let res = &self.config.medic.resurrection;
        if !res.backends.iter().any(|b| b.serves(module)) {
            return Some(Refusal::NoBackend(module.to_string()));
        }
        let modules = self.modules.lock();
        if let Some(a) = modules.active.get(module) {
            return Some(Refusal::Busy {
                module: module.to_string(),
                request_id: a.request_id.clone(),
            });
        }
        if by_human {
            return None;
        }
        if let Some(until) = modules.flapping_until.get(module).filter(|u| **u > now) {
            return Some(Refusal::Flapping {
                module: module.to_string(),
                until: until.to_rfc3339(),
            });
        }
        let cooldown = span(res.cooldown);
        let at = modules.last_resurrected.get(module)?;
        (*at + cooldown > now).then(|| Refusal::Cooldown {
            module: module.to_string(),
            at: at.to_rfc3339(),
            until: (*at + cooldown).to_rfc3339(),
        })
    }

    /// The flapping guardrail tripped for `module` at `now`: no automatic
    /// resurrection for `resurrection.flapping.cooldown_minutes`.
    pub fn flapping(&self, module: &str, now: DateTime<Utc>) -> Result<(), StoreError> {
        let cooldown = self.config.medic.resurrection.flapping.cooldown;
        let until = now + span(cooldown);
        self.modules
            .lock()
            .flapping_until
            .insert(module.to_string(), until);
        // And for every replica sharing the store.
        self.store.hold_flapping(module, until)
    }

    /// Marks the module as being brought back by `r`, unless another
    /// request already is; the signals reach the resurrection from then on.
    pub fn claim(&self, r: &ResurrectionRequest) -> Result<Signals, String> {
        let mut modules = self.modules.lock();
        if let Some(a) = modules.active.get(&r.target_module) {
            if a.request_id == r.request_id {
                return Ok(a.signals.clone());
            }
            return Err(format!(
                "{} is already being resurrected (request {})",
                r.target_module, a.request_id
            ));
        }
        let signals = Signals::new();
        modules.active.insert(
            r.target_module.clone(),
            Active {
                request_id: r.request_id.clone(),
                kill_id: r.kill_id.clone(),
                since: r.created_at,
                signals: signals.clone(),
            },
        );
        Ok(signals)
    }

    /// The module is free again (if `r` was what kept it busy), here and
    /// for every replica sharing the store.
    pub fn release(&self, r: &ResurrectionRequest) {
        let mut modules = self.modules.lock();
        if modules
            .active
            .get(&r.target_module)
            .is_some_and(|a| a.request_id == r.request_id)
        {
            modules.active.remove(&r.target_module);
        }
        drop(modules);
        // Only an ended request frees the module in the store: one halted
        // here (taken over by another replica, or a store error) is still
        // someone's to finish.
        if !r.state.is_final() {
            return;
        }
        if let Err(e) = self.store.release_module(&r.target_module, &r.kill_id) {
            // Held until its request is seen final by the next taker.
            tracing::error!(kill_id = %r.kill_id, request_id = %r.request_id, error = %e, "Could not free the module in the store");
        }
    }

    /// The module was restarted at `at` (its cooldown runs from here).
    pub fn resurrected(&self, module: &str, at: DateTime<Utc>) {
        self.modules
            .lock()
            .last_resurrected
            .insert(module.to_string(), at);
    }

    /// Whether `module` is up yet, for a dependent waiting on it (none when
    /// it is not being brought back).
    pub fn watch_up(&self, module: &str) -> Option<watch::Receiver<Up>> {
        self.modules
            .lock()
            .active
            .get(module)
            .map(|a| a.signals.up.subscribe())
    }

    /// The signals of request `request_id`, if it is under way.
    pub fn signals_of(&self, request_id: &str) -> Option<Signals> {
        self.modules
            .lock()
            .active
            .values()
            .find(|a| a.request_id == request_id)
            .map(|a| a.signals.clone())
    }

    /// The resurrections under way here.
    pub fn running(&self) -> Vec<Running> {
        self.modules
            .lock()
            .active
            .iter()
            .map(|(module, a)| Running {
                module: module.clone(),
                request_id: a.request_id.clone(),
                kill_id: a.kill_id.clone(),
                since: a.since,
            })
            .collect()
    }

    /// Smith killed a module this process is bringing back, as another
    /// replica sharing the store heard: the resurrection is interrupted
    /// (as [`Fleet::kill_arrived`] does for a kill heard here).
    pub fn killed_elsewhere(&self, module: &str, request_id: &str, kill_id: &str) {
        let modules = self.modules.lock();
        if let Some(a) = modules
            .active
            .get(module)
            .filter(|a| a.request_id == request_id)
        {
            a.signals
                .interrupt(Interrupt::ReKilled(kill_id.to_string()));
            tracing::warn!(
                kill_id,
                request_id,
                module,
                "Module killed again while being resurrected (the kill reached another replica)"
            );
        }
    }

    /// The requests under way (from memory rather than a store scan).
    pub fn in_progress(&self) -> Vec<String> {
        self.modules
            .lock()
            .active
            .values()
            .map(|a| a.request_id.clone())
            .collect()
    }
}
