//! The host's safety check on a learner's proposal: does it widen
//! automation, and would it — replayed through the strategy and the
//! guardrails exactly as a decision is made — have revived a kill known to
//! be a threat? Replay and the live threshold manager both ask here.

use std::collections::VecDeque;

use chrono::{DateTime, Utc};

use medic_plugin_logic::values::names as n;

use crate::config::{Config, Mode};
use crate::guardrails::HourlyWindow;
use crate::guardrails::{Rule, rule};
use crate::model::{
    DecisionOutcome, KillReport, ModuleProfile, NamedValues, RiskAssessment, SiemContext,
};
use crate::plugin::validate::level_for;
use crate::plugin::{DecideRequest, Plugin};

/// Known verdicts kept for the check, of each kind (the most recent ones).
pub const KEEP_KNOWN: usize = 1_000;

/// Below this share of real threats among the kills a proposal would
/// automate, automating them costs less than having a person look (a
/// threat revived costs about a hundred looks).
pub const ACCEPTABLE_THREAT_SHARE: f64 = 0.01;

/// How many kills known to be false positives, and none known to be a
/// threat, a widening proposal must newly automate before the host believes
/// threats there are rarer than [`ACCEPTABLE_THREAT_SHARE`] (the "rule of
/// three": with none seen in n, the 95% upper bound is about 3/n).
pub const MIN_CLEAN_EVIDENCE: usize = 300;

/// How long after a threat was revived automatically no proposal may widen
/// automation.
pub const QUIET_AFTER_UNSAFE: chrono::TimeDelta = chrono::TimeDelta::days(7);

/// A kill whose truth is known — a person approved it and it held, a person
/// denied it, or it came back and was re-killed or rolled back — as it was
/// judged.
#[derive(Clone, Debug)]
pub struct KnownVerdict {
    pub kill: KillReport,
    pub context: Option<SiemContext>,
    pub profile: ModuleProfile,
    /// The risk it was given (the score; its level follows the thresholds).
    pub risk: RiskAssessment,
    /// The kill was right: a real threat.
    pub threat: bool,
    /// When it became known.
    pub known_at: DateTime<Utc>,
}

/// The most recent known verdicts, threats and false positives apart.
#[derive(Clone, Debug, Default)]
pub struct KnownVerdicts {
    threats: VecDeque<KnownVerdict>,
    false_positives: VecDeque<KnownVerdict>,
}

impl KnownVerdicts {
    pub fn push(&mut self, v: KnownVerdict) {
        let list = if v.threat {
            &mut self.threats
        } else {
            &mut self.false_positives
        };
        if list.len() == KEEP_KNOWN {
            list.pop_front();
        }
        list.push_back(v);
    }

    /// Every known verdict: threats, then false positives.
    pub fn iter(&self) -> impl Iterator<Item = &KnownVerdict> {
        self.threats.iter().chain(self.false_positives.iter())
    }

    /// Known threats, known false positives.
    pub fn len(&self) -> (usize, usize) {
        (self.threats.len(), self.false_positives.len())
    }
}

/// Whether `proposed` loosens any gate on automation compared with
/// `current`: a lower confidence bar, a higher score limit, a wider band.
pub fn widens(current: &NamedValues, proposed: &NamedValues) -> bool {
    let get = |t: &NamedValues, k: &str| t.get(k).copied().unwrap_or(f64::NAN);
    let lower = |k: &str| get(proposed, k) < get(current, k);
    let higher = |k: &str| get(proposed, k) > get(current, k);
    lower(n::AUTO_APPROVE_MIN_CONFIDENCE)
        || higher(n::AUTO_APPROVE_MAX_RISK_SCORE)
        || [n::RISK_MINIMAL, n::RISK_LOW, n::RISK_MEDIUM, n::RISK_HIGH]
            .iter()
            .any(|k| higher(k))
}

/// What judges a kill as a decision would: the configuration, the mode and
/// the strategy in force.
#[derive(Clone, Copy)]
pub struct Judge<'a> {
    pub config: &'a Config,
    pub mode: Mode,
    pub strategy: &'a Plugin,
}

/// Why `proposed` must be refused, if it must: it widens automation within
/// [`QUIET_AFTER_UNSAFE`] of an unsafe outcome; or, replayed through the strategy and the guardrails
/// on the kills whose truth is known, it would have revived one known to be
/// a threat; or it would automate too few kills known to be false positives
/// to show that threats among them are rare ([`MIN_CLEAN_EVIDENCE`]).
pub fn refuse(
    judge: &Judge<'_>,
    current: &NamedValues,
    proposed: &NamedValues,
    known: &KnownVerdicts,
    last_unsafe: Option<DateTime<Utc>>,
    now: DateTime<Utc>,
) -> Option<String> {
    let Judge {
        config,
        mode,
        strategy,
    } = *judge;
    if !widens(current, proposed) {
        return None;
    }
    if let Some(at) = last_unsafe.filter(|at| now - *at < QUIET_AFTER_UNSAFE) {
        return Some(format!(
            "it widens automation, and a threat revived automatically came to light at {} (less than {} days ago)",
            at.to_rfc3339(),
            QUIET_AFTER_UNSAFE.num_days()
        ));
    }
    let automated = |v: &KnownVerdict| {
        let risk = RiskAssessment {
            level: level_for(v.risk.score, proposed),
            ..v.risk.clone()
        };
        let req = DecideRequest {
            kill: &v.kill,
            context: v.context.as_ref(),
            profile: &v.profile,
            thresholds: proposed,
            risk: &risk,
        };
        let verdict = strategy.decide(&req);
        rule(
            &Rule {
                config,
                mode,
                kill: &v.kill,
                profile: &v.profile,
                has_context: v.context.is_some(),
                risk: Ok(&risk),
                verdict: Some(verdict.as_ref()),
                thresholds: proposed,
                now: v.kill.timestamp,
                // Judgement, not the state of execution, is what is checked.
                acting: None,
            },
            &mut HourlyWindow::default(),
        )
        .outcome
            == DecisionOutcome::ApproveAuto
    };
    if let Some(t) = known.threats.iter().find(|t| automated(t)) {
        return Some(format!(
            "under it, kill {} of {} (known to be a threat, risk {:.3}) would have been revived automatically",
            t.kill.kill_id, t.kill.target_module, t.risk.score
        ));
    }
    let clean = known
        .false_positives
        .iter()
        .filter(|v| automated(v))
        .count();
    (clean < MIN_CLEAN_EVIDENCE).then(|| {
        format!(
            "under it, only {clean} kills known to be false positives would be automated (and none known to be a threat); {MIN_CLEAN_EVIDENCE} are needed to show threats there are rarer than {ACCEPTABLE_THREAT_SHARE}"
        )
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lowering_the_bar_or_raising_a_limit_widens() {
        let c = Config::embedded().unwrap();
        let base = crate::plugin::thresholds_from_config(&c);
        let mut p = base.clone();
        assert!(!widens(&base, &p));
        p.insert(n::AUTO_APPROVE_MIN_CONFIDENCE.into(), 0.8);
        assert!(widens(&base, &p));
        let mut p = base.clone();
        p.insert(n::RISK_LOW.into(), 0.35);
        assert!(!widens(&base, &p), "a narrower band does not widen");
        p.insert(n::AUTO_APPROVE_MAX_RISK_SCORE.into(), 0.5);
        assert!(widens(&base, &p));
    }
}
