//! The host's safety check on a learner's proposal: does it widen
//! automation, and would it — replayed through the strategy and the
//! guardrails exactly as a decision is made — have revived a kill known to
//! be a threat? Replay and the live threshold manager both ask here.

use std::collections::VecDeque;

use chrono::{DateTime, Utc};

use medic_plugin_logic::values::names as n;

use crate::config::{Config, Mode};
use crate::decide::{Rule, rule};
use crate::guardrails::HourlyWindow;
use crate::model::{
    DecisionOutcome, KillReport, ModuleProfile, NamedValues, RiskAssessment, SiemContext,
};
use crate::plugin::validate::level_for;
use crate::plugin::{DecideRequest, Plugin};

/// Known threats kept for the check (the most recent ones).
pub const KEEP_KNOWN_THREATS: usize = 2_000;

/// A kill known to have been a threat (a human denied it, or it was
/// re-killed or rolled back after coming back), as it was judged.
#[derive(Clone, Debug)]
pub struct KnownThreat {
    pub kill: KillReport,
    pub context: Option<SiemContext>,
    pub profile: ModuleProfile,
    /// The risk it was given (the score; its level follows the thresholds).
    pub risk: RiskAssessment,
    /// When it became known.
    pub known_at: DateTime<Utc>,
}

/// The most recent known threats.
#[derive(Clone, Debug, Default)]
pub struct KnownThreats {
    items: VecDeque<KnownThreat>,
}

impl KnownThreats {
    pub fn push(&mut self, t: KnownThreat) {
        if self.items.len() == KEEP_KNOWN_THREATS {
            self.items.pop_front();
        }
        self.items.push_back(t);
    }

    pub fn len(&self) -> usize {
        self.items.len()
    }

    pub fn is_empty(&self) -> bool {
        self.items.is_empty()
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

/// Why `proposed` must be refused, if it must: it widens automation after
/// an unsafe outcome, or the strategy and guardrails would, under it, have
/// revived one of `threats` automatically.
pub fn refuse(
    config: &Config,
    mode: Mode,
    strategy: &Plugin,
    current: &NamedValues,
    proposed: &NamedValues,
    threats: &KnownThreats,
    unsafe_seen: bool,
) -> Option<String> {
    if !widens(current, proposed) {
        return None;
    }
    if unsafe_seen {
        return Some(
            "it widens automation, and a threat was revived automatically since the last run"
                .to_string(),
        );
    }
    for t in &threats.items {
        let risk = RiskAssessment {
            level: level_for(t.risk.score, proposed),
            ..t.risk.clone()
        };
        let req = DecideRequest {
            kill: &t.kill,
            context: t.context.as_ref(),
            profile: &t.profile,
            thresholds: proposed,
            risk: &risk,
        };
        let verdict = strategy.decide(&req);
        let ruling = rule(
            &Rule {
                config,
                mode,
                kill: &t.kill,
                profile: &t.profile,
                has_context: t.context.is_some(),
                risk: Ok(&risk),
                verdict: Some(verdict.as_ref()),
                thresholds: proposed,
                now: t.kill.timestamp,
            },
            &mut HourlyWindow::default(),
        );
        if ruling.outcome == DecisionOutcome::ApproveAuto {
            return Some(format!(
                "under it, kill {} of {} (known to be a threat, risk {:.3}) would have been revived automatically",
                t.kill.kill_id, t.kill.target_module, t.risk.score
            ));
        }
    }
    None
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
