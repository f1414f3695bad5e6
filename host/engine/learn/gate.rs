//! The replay gate (`plugins.gate`): before a new plugin version or binding
//! changes the scorer or strategy serving the active phase, both the
//! plugins serving now and the candidate judge the kills whose truth became
//! known in the window (people's denials, resurrections re-killed or rolled
//! back: threats; people's approvals that held: false positives), each
//! scored, decided and ruled by the guardrails in the mode the phase is
//! for, exactly as a decision is made. The swap is refused if the candidate
//! would have revived a kill known to be a threat, or decides otherwise on
//! more than `max_disagreement` of the kills; the refusal lists the
//! diverging kills. An admin may override with a reason (audited by the
//! API). The golden kills stay the first gate (the registry runs them
//! before it asks here).

use std::sync::Weak;

use chrono::Utc;

use super::ThresholdManager;
use super::safety::KnownVerdict;
use crate::config::raw::GateSection;
use crate::config::{Mode, phases};
use crate::guardrails::{Case, HourlyWindow, judge_with};
use crate::model::{DecisionOutcome, NamedValues};
use crate::plugin::gate::{Divergence, GateRefusal, GateReport, MAX_LISTED, SwapGate};
use crate::plugin::registry::ActiveSet;

pub struct ReplayGate {
    config: std::sync::Arc<crate::config::Config>,
    settings: GateSection,
    /// Where the known verdicts come from (weak: the registry holds this
    /// gate, and the manager holds the registry).
    learning: Weak<ThresholdManager>,
}

impl ReplayGate {
    pub fn new(
        config: std::sync::Arc<crate::config::Config>,
        learning: Weak<ThresholdManager>,
    ) -> ReplayGate {
        ReplayGate {
            settings: config.medic.plugins.gate.clone(),
            config,
            learning,
        }
    }
}

/// The mode a phase's plugins judge for.
fn mode_for(set: &ActiveSet) -> Mode {
    phases::mode_of(set.phase).unwrap_or(Mode::Manual)
}

/// How `set` would decide `v`, guardrails included.
fn judge(
    config: &crate::config::Config,
    mode: Mode,
    set: &ActiveSet,
    thresholds: &NamedValues,
    v: &KnownVerdict,
) -> DecisionOutcome {
    let case = Case {
        kill: &v.kill,
        context: v.context.as_ref(),
        profile: &v.profile,
        thresholds,
        now: v.kill.timestamp,
    };
    judge_with(
        config,
        mode,
        &set.scorer,
        &set.strategy,
        &case,
        &mut HourlyWindow::default(),
    )
    .ruling
    .outcome
}

/// Replays `known` under both sets and says whether the candidate may
/// serve (pure: the tests call it with verdicts they made).
pub fn replay<'a>(
    config: &crate::config::Config,
    settings: &GateSection,
    current: &ActiveSet,
    candidate: &ActiveSet,
    thresholds: &NamedValues,
    known: impl IntoIterator<Item = &'a KnownVerdict>,
) -> Result<GateReport, GateRefusal> {
    let mode = mode_for(candidate);
    let same_plugins = std::sync::Arc::ptr_eq(&current.scorer, &candidate.scorer)
        && std::sync::Arc::ptr_eq(&current.strategy, &candidate.strategy);
    let mut report = GateReport::default();
    let mut diverging = Vec::new();
    for v in known {
        report.replayed += 1;
        report.threats += usize::from(v.threat);
        let now = judge(config, mode, current, thresholds, v);
        // A set replayed beside itself (at start) is judged once.
        let next = if same_plugins {
            now
        } else {
            judge(config, mode, candidate, thresholds, v)
        };
        let revived = v.threat && next == DecisionOutcome::ApproveAuto;
        report.threats_revived += usize::from(revived);
        if now != next || revived {
            report.disagreements += usize::from(now != next);
            diverging.push(Divergence {
                kill_id: v.kill.kill_id.clone(),
                module: v.kill.target_module.clone(),
                threat: v.threat,
                current: now,
                candidate: next,
            });
        }
    }
    report.disagreement_share = if report.replayed == 0 {
        0.0
    } else {
        report.disagreements as f64 / report.replayed as f64
    };
    // Revived threats first, then other threats, then the rest.
    diverging.sort_by_key(|d: &Divergence| {
        (
            !(d.threat && d.candidate == DecisionOutcome::ApproveAuto),
            !d.threat,
        )
    });
    diverging.truncate(MAX_LISTED);
    report.diverging = diverging;
    let reason = if report.threats_revived > 0 {
        Some(format!(
            "it would have revived {} kill(s) known to be threats",
            report.threats_revived
        ))
    } else if report.disagreement_share > settings.max_disagreement {
        Some(format!(
            "it decides otherwise than the plugins serving now on {} of {} kills ({:.1}%, more than plugins.gate.max_disagreement {:.1}%)",
            report.disagreements,
            report.replayed,
            100.0 * report.disagreement_share,
            100.0 * settings.max_disagreement
        ))
    } else {
        None
    };
    match reason {
        Some(reason) => Err(GateRefusal { reason, report }),
        None => Ok(report),
    }
}

impl ReplayGate {
    /// Replays `candidate` beside `current` under `settings`.
    fn run(
        &self,
        settings: &GateSection,
        current: &ActiveSet,
        candidate: &ActiveSet,
    ) -> Result<GateReport, GateRefusal> {
        if !settings.enabled {
            return Ok(GateReport::default());
        }
        let refused = |reason: String| GateRefusal {
            reason,
            report: GateReport::default(),
        };
        let Some(learning) = self.learning.upgrade() else {
            return Err(refused("the engine is stopping".into()));
        };
        let window = crate::config::units::span(settings.window);
        let (known, _) = learning
            .known_verdicts_within(Utc::now(), window)
            .map_err(|e| refused(format!("the kills of known truth cannot be read: {e}")))?;
        let report = replay(
            &self.config,
            settings,
            current,
            candidate,
            &learning.in_force(),
            known.iter(),
        )?;
        tracing::info!(
            replayed = report.replayed,
            disagreements = report.disagreements,
            "Replay gate passed"
        );
        Ok(report)
    }
}

impl SwapGate for ReplayGate {
    fn check(&self, current: &ActiveSet, candidate: &ActiveSet) -> Result<GateReport, GateRefusal> {
        self.run(&self.settings, current, candidate)
    }

    fn check_alone(&self, candidate: &ActiveSet) -> Result<GateReport, GateRefusal> {
        // Beside itself nothing disagrees: only a revived threat refuses.
        let settings = GateSection {
            max_disagreement: 1.0,
            ..self.settings.clone()
        };
        self.run(&settings, candidate, candidate)
    }
}
