//! The threshold manager: runs the active learner plugin over the outcomes
//! since its last run, checks what it proposes (the plugin host's bounds,
//! then [`super::check`], then — for a proposal that widens automation —
//! [`super::safety`] against the kills whose truth is known), and puts the
//! result in force atomically — or refuses it, with the reason, changing
//! nothing. Operators' changes and reverts go through [`super::check`] and
//! the same history, but not the safety check: an operator may override.

use std::sync::Arc;

use chrono::{DateTime, Utc};
use parking_lot::Mutex;
use serde::Serialize;
use serde_json::json;

use super::check;
use super::safety::{self, KNOWN_WINDOW, KnownVerdict, KnownVerdicts};
use crate::config::ModeReader;
use crate::config::{Config, Mode};
use crate::model::{
    DecisionOutcome, NamedValues, OutcomeRecord, OutcomeResult, PluginUse, RiskAssessment,
};
use crate::plugin::{LearnRequest, Registry, learner_settings_from_config};
use crate::store::{AuditKind, ChangeSource, Store, StoreError, ThresholdChange};

#[derive(Debug, thiserror::Error)]
pub enum LearnError {
    #[error("{0}")]
    Disabled(&'static str),
    #[error("only {found} outcome(s) since the last run; learning.analysis.min_samples is {min}")]
    TooFewSamples { found: usize, min: u32 },
    #[error("refused: {0}")]
    Refused(String),
    #[error("no threshold change {0}")]
    NotFound(u64),
    #[error("{field}: {problem}")]
    Invalid { field: String, problem: String },
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// What one learner run did.
#[derive(Clone, Debug, PartialEq, Serialize, utoipa::ToSchema)]
pub struct LearnRun {
    pub samples: usize,
    /// The change put in force; `None` when the learner proposed none.
    pub change: Option<ThresholdChange>,
}

pub struct ThresholdManager {
    pub(super) config: Arc<Config>,
    registry: Arc<Registry>,
    pub(super) store: Store,
    /// The engine's mode, which the safety check judges in (absent: the
    /// configured mode).
    mode: Option<ModeReader>,
    /// One change at a time.
    lock: Mutex<()>,
}

impl ThresholdManager {
    /// Puts the thresholds last in force (if the store has any that still
    /// pass the checks) back in force.
    pub fn new(
        config: Arc<Config>,
        registry: Arc<Registry>,
        store: Store,
    ) -> Result<ThresholdManager, StoreError> {
        restore(&registry, &store)?;
        Ok(ThresholdManager {
            config,
            registry,
            store,
            mode: None,
            lock: Mutex::new(()),
        })
    }

    /// Judges in the engine's mode as it changes at run time.
    pub fn with_mode(mut self, mode: ModeReader) -> ThresholdManager {
        self.mode = Some(mode);
        self
    }

    /// The thresholds in force.
    pub fn in_force(&self) -> std::sync::Arc<crate::model::NamedValues> {
        self.registry.thresholds()
    }

    fn mode(&self) -> Mode {
        self.mode
            .as_ref()
            .map_or(self.config.medic.mode.current, ModeReader::get)
    }

    /// The kills whose truth became known in the [`KNOWN_WINDOW`] before
    /// `now` (at most [`safety::KEEP_KNOWN`] of each kind, the newest), each as it
    /// was judged; and when the newest automatic resurrection of a threat
    /// came to light. A person's denial says the kill was a threat; a
    /// resurrection re-killed or rolled back, too; a person's approval whose
    /// resurrection held says it was a false positive. Also counted by
    /// score for the learner (up to [`safety::KEEP_SCORED`] of them).
    pub fn known_verdicts(
        &self,
        now: DateTime<Utc>,
    ) -> Result<(KnownVerdicts, Option<DateTime<Utc>>), StoreError> {
        self.read_known_verdicts(now, KNOWN_WINDOW, safety::KEEP_SCORED)
    }

    /// [`ThresholdManager::known_verdicts`] over `window` before `now`,
    /// without the counts by score (only the verdicts kept are read).
    pub fn known_verdicts_within(
        &self,
        now: DateTime<Utc>,
        window: chrono::TimeDelta,
    ) -> Result<(KnownVerdicts, Option<DateTime<Utc>>), StoreError> {
        self.read_known_verdicts(now, window, 0)
    }

    /// The known verdicts of `window` before `now`: the newest `scored` of
    /// both kinds, all counted by score, or with `scored` 0 only the newest
    /// [`safety::KEEP_KNOWN`] of each kind (what is kept whole).
    fn read_known_verdicts(
        &self,
        now: DateTime<Utc>,
        window: chrono::TimeDelta,
        scored: usize,
    ) -> Result<(KnownVerdicts, Option<DateTime<Utc>>), StoreError> {
        let (from, to) = (now - window, now + chrono::TimeDelta::milliseconds(1));
        // (when known, decision id, threat)
        let mut found: Vec<(DateTime<Utc>, String, bool)> = self
            .store
            .human_verdicts_between(from, to)?
            .into_iter()
            .filter(|v| !v.approved)
            .map(|v| (v.at, v.decision_id, true))
            .collect();
        let mut last_unsafe = None;
        for o in self.store.outcomes_between(from, to)? {
            let confirms = matches!(o.result, OutcomeResult::ReKilled | OutcomeResult::Rollback);
            let held = matches!(
                o.result,
                OutcomeResult::Success | OutcomeResult::PartialSuccess
            );
            if confirms {
                if o.decision == DecisionOutcome::ApproveAuto {
                    last_unsafe = last_unsafe.max(Some(o.recorded_at));
                }
                found.push((o.recorded_at, o.decision_id, true));
            } else if held && o.decision != DecisionOutcome::ApproveAuto {
                // A resurrection not decided automatically ran because a
                // person approved it. Its outcome carries the stored
                // decision's outcome (pending_review, or approve_manual when
                // the strategy asked for a person), not the approval.
                found.push((o.recorded_at, o.decision_id, false));
            }
        }
        // Newest first. Counting by score reads the newest `scored` of both
        // kinds together (a record read each, so one run reads a bounded
        // number however busy the fleet); otherwise only the newest
        // KEEP_KNOWN of each kind, which is all that is kept whole. Then
        // oldest first, as they are pushed.
        found.sort_by_key(|f| std::cmp::Reverse(f.0));
        if scored > 0 {
            found.truncate(scored);
        } else {
            let (mut threats, mut clean) = (0, 0);
            found.retain(|(_, _, threat)| {
                let n = if *threat { &mut threats } else { &mut clean };
                *n += 1;
                *n <= safety::KEEP_KNOWN
            });
        }
        found.reverse();
        let mut known = KnownVerdicts::default();
        for (known_at, decision_id, threat) in found {
            let Some(rec) = self.store.record(&decision_id)? else {
                tracing::debug!(
                    decision_id,
                    "Known verdict without a stored decision; left out of the safety check"
                );
                continue;
            };
            let module = &rec.kill.target_module;
            // The profile and calibration the kill was judged with, as
            // stored with its decision; a record stored before they were
            // kept gets what the configuration says of the module
            // (criticality, whether it always needs approval) and no
            // history.
            let profile = match rec.judged_with {
                Some(judged) => judged.into_profile(),
                None => self.config.module_profile(module),
            };
            let d = rec.decision;
            let deniable = crate::guardrails::denial_needs_a_person(
                &self.config,
                module,
                profile.criticality,
                d.risk_level,
            )
            .is_none();
            known.push(KnownVerdict {
                kill: rec.kill,
                context: rec.context,
                profile,
                risk: RiskAssessment {
                    level: d.risk_level,
                    score: d.risk_score,
                    factors: d.risk_factors,
                },
                threat,
                known_at,
                deniable,
            });
        }
        Ok((known, last_unsafe))
    }

    fn guard(&self) -> parking_lot::MutexGuard<'_, ()> {
        self.lock.lock()
    }

    /// Checks `next` and puts it in force, recording the change.
    fn put_in_force(
        &self,
        next: NamedValues,
        mut change: ThresholdChange,
    ) -> Result<ThresholdChange, LearnError> {
        let current = self.registry.thresholds();
        check::values(&next).map_err(LearnError::Refused)?;
        change.before = next
            .keys()
            .filter(|k| current.get(*k) != next.get(*k))
            .map(|k| (k.clone(), current.get(k).copied().unwrap_or(f64::NAN)))
            .collect();
        change.after = change.before.keys().map(|k| (k.clone(), next[k])).collect();
        let change = self.store.record_threshold_change(change, &next)?;
        self.store.audit(
            AuditKind::ThresholdAdjusted,
            None,
            None,
            &change.actor,
            json!({"change_id": change.id, "source": change.source, "before": change.before,
                   "after": change.after, "reasons": change.reasons, "samples": change.samples,
                   "plugin": change.plugin, "reverts": change.reverts}),
        )?;
        self.registry.set_thresholds(next);
        tracing::warn!(change_id = change.id, source = ?change.source, actor = %change.actor, after = ?change.after, "Thresholds changed");
        Ok(change)
    }

    fn refused(&self, actor: &str, why: &str) -> Result<(), StoreError> {
        self.store.audit(
            AuditKind::ThresholdRefused,
            None,
            None,
            actor,
            json!({"reason": why}),
        )?;
        tracing::warn!(actor, reason = why, "Threshold change refused");
        Ok(())
    }

    /// Runs the learner on the outcomes since its last run, and records the
    /// run (for the schedule) whatever it did — too few samples, nothing
    /// proposed, refused — so a run that changes nothing is not repeated at
    /// once. Only a run that the store failed is not recorded.
    pub fn run(&self, actor: &str, now: DateTime<Utc>) -> Result<LearnRun, LearnError> {
        let l = &self.config.medic.learning;
        if !l.enabled {
            return Err(LearnError::Disabled("learning.enabled is false"));
        }
        if !l.threshold_adjustment.enabled {
            return Err(LearnError::Disabled(
                "learning.threshold_adjustment.enabled is false",
            ));
        }
        let _g = self.guard();
        let ran = self.run_locked(actor, now);
        if !matches!(ran, Err(LearnError::Store(_)))
            && let Err(e) = self.store.set_last_learning_run_at(now)
        {
            // The run stands (a change it made is in force and audited);
            // the scheduler, finding no new run time, waits before retrying.
            tracing::error!(error = %e, "Could not record when the learner ran");
        }
        ran
    }

    /// The outcomes the next run would learn from: those recorded after the
    /// newest one the last run saw, up to `now`.
    pub(super) fn unseen_outcomes(
        &self,
        now: DateTime<Utc>,
    ) -> Result<Vec<OutcomeRecord>, StoreError> {
        let since = self
            .store
            .last_learned_at()?
            .unwrap_or(DateTime::<Utc>::MIN_UTC);
        let outcomes = self
            .store
            .outcomes_between(since, now + chrono::Duration::milliseconds(1))?;
        // Outcomes at exactly `since` were seen by the last run.
        Ok(outcomes
            .into_iter()
            .filter(|o| o.recorded_at > since || since == DateTime::<Utc>::MIN_UTC)
            .collect())
    }

    fn run_locked(&self, actor: &str, now: DateTime<Utc>) -> Result<LearnRun, LearnError> {
        let l = &self.config.medic.learning;
        let outcomes = self.unseen_outcomes(now)?;
        let min = l.analysis.min_samples;
        if outcomes.len() < min as usize {
            return Err(LearnError::TooFewSamples {
                found: outcomes.len(),
                min,
            });
        }
        let samples: Vec<_> = outcomes.iter().map(|o| o.sample()).collect();
        let newest = outcomes.iter().map(|o| o.recorded_at).max().unwrap_or(now);
        let current = self.registry.thresholds();
        // The kills whose truth is known: counted by score for the learner
        // (where people deny), and the safety check's evidence.
        let (known, last_unsafe) = self.known_verdicts(now)?;
        let mut settings = learner_settings_from_config(&self.config);
        settings.extend(known.by_score());
        let served = self.registry.learn(&LearnRequest {
            thresholds: &current,
            samples: &samples,
            settings: &settings,
            now,
        });
        let plugin = PluginUse {
            name: served.plugin.clone(),
            version: served.version.clone(),
            sha256: served.sha256.clone(),
            fallback: served.fallback.clone(),
        };
        let adjustments = match served.value {
            Ok(a) => a,
            Err(e) => {
                let why = format!("learner {}: {e}", plugin.name);
                self.refused(&plugin.name, &why)?;
                return Err(LearnError::Refused(why));
            }
        };
        if adjustments.is_empty() {
            self.store.set_last_learned_at(newest)?;
            return Ok(LearnRun {
                samples: samples.len(),
                change: None,
            });
        }
        let changes: NamedValues = adjustments
            .iter()
            .map(|a| (a.name.clone(), a.new_value))
            .collect();
        let bounds = &self.config.constitution.learning_bounds;
        let next = match check::apply(&current, &changes).and_then(|n| {
            check::values(&n)?;
            check::within_bounds(&current, &n, bounds, samples.len())?;
            Ok(n)
        }) {
            Ok(n) => n,
            Err(e) => {
                let why = format!("learner {}: {e}", plugin.name);
                self.refused(&plugin.name, &why)?;
                return Err(LearnError::Refused(why));
            }
        };
        if safety::widens(&current, &next) || safety::denies_more(&current, &next) {
            let strategy = self.registry.active().strategy.clone();
            let judge = safety::Judge {
                config: &self.config,
                mode: self.mode(),
                strategy: &strategy,
            };
            if let Some(e) = safety::refuse(&judge, &current, &next, &known, last_unsafe, now) {
                let why = format!("learner {}: {e}", plugin.name);
                self.refused(&plugin.name, &why)?;
                return Err(LearnError::Refused(why));
            }
        }
        let change = self.put_in_force(
            next,
            ThresholdChange {
                id: 0,
                at: now,
                source: ChangeSource::Learner,
                actor: format!("{actor} via {}", plugin.name),
                before: NamedValues::new(),
                after: NamedValues::new(),
                reasons: adjustments
                    .iter()
                    .map(|a| format!("{}: {}", a.name, a.reason))
                    .collect(),
                samples: u32::try_from(samples.len()).unwrap_or(u32::MAX),
                plugin: Some(plugin),
                reverts: None,
            },
        )?;
        self.store.set_last_learned_at(newest)?;
        Ok(LearnRun {
            samples: samples.len(),
            change: Some(change),
        })
    }

    /// An operator's change (`PUT /api/v1/config/thresholds`): any known key,
    /// checked like the learner's, recorded with a reason.
    pub fn set(
        &self,
        changes: &NamedValues,
        actor: &str,
        reason: &str,
        now: DateTime<Utc>,
    ) -> Result<ThresholdChange, LearnError> {
        if reason.trim().is_empty() {
            return Err(LearnError::Invalid {
                field: "reason".into(),
                problem: "a threshold change needs a reason".into(),
            });
        }
        if changes.is_empty() {
            return Err(LearnError::Invalid {
                field: "values".into(),
                problem: "no threshold to change".into(),
            });
        }
        let _g = self.guard();
        let current = self.registry.thresholds();
        let next = check::apply(&current, changes).map_err(|e| LearnError::Invalid {
            field: "values".into(),
            problem: e,
        })?;
        check::values(&next).map_err(|e| LearnError::Invalid {
            field: "values".into(),
            problem: e,
        })?;
        self.put_in_force(
            next,
            ThresholdChange {
                id: 0,
                at: now,
                source: ChangeSource::Manual,
                actor: actor.to_string(),
                before: NamedValues::new(),
                after: NamedValues::new(),
                reasons: vec![reason.to_string()],
                samples: 0,
                plugin: None,
                reverts: None,
            },
        )
    }

    /// Undoes change `id`: its keys go back to their values before it.
    pub fn revert(
        &self,
        id: u64,
        actor: &str,
        now: DateTime<Utc>,
    ) -> Result<ThresholdChange, LearnError> {
        let _g = self.guard();
        let change = self
            .store
            .threshold_change(id)?
            .ok_or(LearnError::NotFound(id))?;
        let current = self.registry.thresholds();
        let next = check::apply(&current, &change.before).map_err(LearnError::Refused)?;
        if *current == next {
            return Err(LearnError::Refused(format!(
                "change {id} is already undone: its keys hold their earlier values"
            )));
        }
        self.put_in_force(
            next,
            ThresholdChange {
                id: 0,
                at: now,
                source: ChangeSource::Revert,
                actor: actor.to_string(),
                before: NamedValues::new(),
                after: NamedValues::new(),
                reasons: vec![format!("revert of change {id}")],
                samples: 0,
                plugin: None,
                reverts: Some(id),
            },
        )
    }

    /// The thresholds in force and every change.
    pub fn snapshot(&self) -> Result<(Arc<NamedValues>, Vec<ThresholdChange>), StoreError> {
        Ok((self.registry.thresholds(), self.store.threshold_history()?))
    }
}

/// Puts the thresholds last in force (learned, or set through any replica
/// sharing the store) in force, if the store has any that still pass the
/// checks and know no tunable this Medic does not; the configuration's stay
/// otherwise. A tunable new to this Medic (stored by an older one) takes
/// its configured value beside the stored ones.
pub fn restore(registry: &Registry, store: &Store) -> Result<(), StoreError> {
    if let Some(stored) = store.current_thresholds()? {
        let from_config = registry.thresholds();
        let unknown: Vec<&String> = stored
            .keys()
            .filter(|k| !from_config.contains_key(*k))
            .collect();
        let new_here: Vec<&String> = from_config
            .keys()
            .filter(|k| !stored.contains_key(*k))
            .collect();
        let merged: NamedValues = from_config
            .iter()
            .map(|(k, v)| (k.clone(), stored.get(k).copied().unwrap_or(*v)))
            .collect();
        match check::values(&merged) {
            Ok(()) if unknown.is_empty() => {
                if !new_here.is_empty() {
                    tracing::info!(
                        tunables = ?new_here,
                        "Tunables the stored thresholds lack take the configuration's values"
                    );
                }
                if *from_config != merged {
                    tracing::info!(
                        "Thresholds from the store (as learned or set) are in force, not the configuration's"
                    );
                }
                registry.set_thresholds(merged);
            }
            Ok(()) => tracing::warn!(
                tunables = ?unknown,
                "Stored thresholds have tunables this Medic does not know; using the configuration's"
            ),
            Err(e) => {
                tracing::warn!(problem = %e, "Stored thresholds fail the checks; using the configuration's")
            }
        }
    }
    Ok(())
}
