//! The host's guardrails: applied after the strategy, they have the last
//! word. Each one that changes or constrains the outcome adds a line to the
//! reasoning and its name to the decision. They never turn a refusal into an
//! approval — they move an approval towards human review or denial, and the
//! constitution's big calls (a critical module, critical risk, a module that
//! always requires approval) from a denial to human review, so a person owns
//! them.

use chrono::{DateTime, Utc};

use crate::config::raw::ConstraintsSection;
use crate::config::{Config, Feature, Mode};
use crate::model::{
    Criticality, DecisionOutcome, KillReport, ModuleProfile, NamedValues, RiskAssessment,
    RiskLevel, Verdict,
};
use crate::store::replica::Held;
use medic_plugin_logic::values::names;

/// Why a module may not be brought back now (a fact the module's state
/// gives: `fleet::Fleet::refusal`).
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
    #[error(
        "{module} is already being resurrected for kill {kill_id} (by a replica sharing the store)"
    )]
    BusyWith { module: String, kill_id: String },
    #[error("Smith killed {module} again while request {request_id} was bringing it back")]
    ReKilled { module: String, request_id: String },
}

impl Refusal {
    /// What the store shared by replicas holds `module` back for.
    pub fn held(module: &str, held: Held) -> Refusal {
        let module = module.to_string();
        match held {
            Held::Busy { kill_id } => Refusal::BusyWith { module, kill_id },
            Held::Cooldown { at, until } => Refusal::Cooldown {
                module,
                at: at.to_rfc3339(),
                until: until.to_rfc3339(),
            },
            Held::Flapping { until } => Refusal::Flapping {
                module,
                until: until.to_rfc3339(),
            },
        }
    }
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
            Refusal::Busy { .. } | Refusal::BusyWith { .. } => "busy",
            Refusal::ReKilled { .. } => "re_killed",
        }
    }
}

/// What acting on a decision depends on, stated before the guardrails rule
/// (absent in observer mode and in replay, where nothing is acted on).
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Acting {
    /// Why the module could not be brought back automatically now.
    pub refusal: Option<Refusal>,
    /// The approval queue is full: (items pending, `max_pending`).
    pub queue_full: Option<(usize, u32)>,
}

/// What the guardrails look at for one kill.
pub struct Facts<'a> {
    pub module: &'a str,
    pub criticality: Criticality,
    pub risk_level: RiskLevel,
    pub risk_score: f64,
    pub confidence: f64,
    /// `auto_approve.min_confidence` in force (learned or set by an operator).
    pub min_confidence: f64,
    /// `auto_approve.max_risk_score` in force.
    pub max_risk_score: f64,
    pub has_context: bool,
    /// A plugin failed; its error goes in the reasoning.
    pub plugin_error: Option<String>,
    /// Auto-approvals already made in the last hour.
    pub auto_approvals_last_hour: u32,
    /// Kills of this module in the hour before this one.
    pub kills_last_hour: u32,
    /// What acting on the decision depends on (absent: nothing is acted on).
    pub acting: Option<&'a Acting>,
}

/// The outcome after the guardrails, and what they said.
#[derive(Debug, PartialEq)]
pub struct Ruling {
    pub outcome: DecisionOutcome,
    pub applied: Vec<&'static str>,
    pub reasoning: Vec<String>,
}

fn is_approval(o: DecisionOutcome) -> bool {
    matches!(
        o,
        DecisionOutcome::ApproveAuto | DecisionOutcome::ApproveManual
    )
}

fn module_listed(list: &[String], module: &str) -> bool {
    list.iter().any(|m| m == module)
}

/// Which guardrail puts a strategy's denial of a kill to a person, and why,
/// if one does. Leaving a module down is as big a call as bringing it back:
/// a module that always requires approval is never denied for good without
/// a person, nor (with `require_human_review_for_critical`) a critical
/// module or a kill at critical risk; the strategy's deny is their advice.
pub fn denial_needs_a_person(
    config: &Config,
    module: &str,
    criticality: Criticality,
    risk_level: RiskLevel,
) -> Option<(&'static str, String)> {
    let c = &config.constitution.constraints;
    if module_listed(&c.always_require_approval, module) {
        Some((
            "always_require_approval",
            format!("{module} always requires approval: never denied for good without a human"),
        ))
    } else if c.require_human_review_for_critical
        && (risk_level == RiskLevel::Critical || criticality == Criticality::Critical)
    {
        Some((
            "critical_review",
            "critical risk or a critical module: a human decides whether it stays down".into(),
        ))
    } else {
        None
    }
}

/// Applies every guardrail to the strategy's outcome (`None` when no
/// strategy could answer).
pub fn apply(
    config: &Config,
    mode: Mode,
    strategy: Option<DecisionOutcome>,
    f: &Facts<'_>,
) -> Ruling {
    let c: &ConstraintsSection = &config.constitution.constraints;
    let auto = &config.medic.decision.auto_approve;
    let mut r = Ruling {
        outcome: strategy.unwrap_or(DecisionOutcome::PendingReview),
        applied: Vec::new(),
        reasoning: Vec::new(),
    };
    let set = |r: &mut Ruling, name: &'static str, outcome: DecisionOutcome, why: String| {
        r.outcome = outcome;
        r.applied.push(name);
        r.reasoning.push(format!("guardrail {name}: {why}"));
    };

    if !config.feature(Feature::DecisionLogic) {
        set(
            &mut r,
            "decision_logic_off",
            DecisionOutcome::Defer,
            "phase_1_observer.decision_logic is off: recorded, not decided".into(),
        );
        return r;
    }
    if let Some(e) = &f.plugin_error {
        set(
            &mut r,
            "plugin_error",
            DecisionOutcome::PendingReview,
            format!("{e}; a human must decide"),
        );
    }
    if module_listed(&c.blacklisted_modules, f.module) {
        set(
            &mut r,
            "blacklisted",
            DecisionOutcome::Deny,
            format!("{} is blacklisted by the constitution", f.module),
        );
        return r;
    }
    let review = DecisionOutcome::PendingReview;
    let critical = c.require_human_review_for_critical
        && (f.risk_level == RiskLevel::Critical || f.criticality == Criticality::Critical);
    if r.outcome == DecisionOutcome::Deny {
        if let Some((name, why)) =
            denial_needs_a_person(config, f.module, f.criticality, f.risk_level)
        {
            set(&mut r, name, review, why);
        }
        return r;
    }
    if !is_approval(r.outcome) {
        return r;
    }
    // From here on the strategy wants the module back.
    let flapping = &config.medic.resurrection.flapping;
    if f.kills_last_hour.saturating_add(1) > flapping.max_kills_per_hour {
        set(
            &mut r,
            "flapping",
            review,
            format!(
                "{} killed {} times in the last hour (resurrection.flapping.max_kills_per_hour {}): a human decides",
                f.module,
                f.kills_last_hour + 1,
                flapping.max_kills_per_hour
            ),
        );
    } else if !f.has_context {
        set(
            &mut r,
            "no_context",
            review,
            "no SIEM context: never approved without it".into(),
        );
    } else if module_listed(&c.always_require_approval, f.module) {
        set(
            &mut r,
            "always_require_approval",
            review,
            format!("{} always requires approval", f.module),
        );
    } else if critical {
        set(
            &mut r,
            "critical_review",
            review,
            "critical risk or a critical module: human review required".into(),
        );
    } else if r.outcome == DecisionOutcome::ApproveAuto {
        if !auto.enabled {
            set(
                &mut r,
                "auto_approve_disabled",
                review,
                "decision.auto_approve.enabled is false".into(),
            );
        } else if f.risk_level > auto.max_risk_level {
            set(
                &mut r,
                "auto_approve_risk",
                review,
                format!(
                    "risk {:?} is above decision.auto_approve.max_risk_level {:?}",
                    f.risk_level, auto.max_risk_level
                ),
            );
        } else if f.risk_score > f.max_risk_score {
            set(
                &mut r,
                "auto_approve_risk",
                review,
                format!(
                    "risk score {:.2} is above auto_approve.max_risk_score {:.2}",
                    f.risk_score, f.max_risk_score
                ),
            );
        } else if f.confidence < f.min_confidence {
            set(
                &mut r,
                "auto_approve_confidence",
                review,
                format!(
                    "confidence {:.2} is below auto_approve.min_confidence {:.2}",
                    f.confidence, f.min_confidence
                ),
            );
        } else if !config.feature(Feature::AutoResurrection) {
            set(
                &mut r,
                "auto_resurrection_off",
                review,
                "phase_3_semi_auto.auto_resurrection is not enabled".into(),
            );
        } else if matches!(mode, Mode::Observer | Mode::Manual) {
            set(
                &mut r,
                "mode",
                review,
                format!("{mode:?} mode: every resurrection needs a human"),
            );
        } else if f.auto_approvals_last_hour >= c.max_auto_resurrections_per_hour {
            set(
                &mut r,
                "hourly_cap",
                review,
                format!(
                    "{} auto-approvals in the last hour reach constraints.max_auto_resurrections_per_hour ({})",
                    f.auto_approvals_last_hour, c.max_auto_resurrections_per_hour
                ),
            );
        } else if let Some(refusal) = f.acting.and_then(|a| a.refusal.as_ref()) {
            set(&mut r, refusal.guardrail(), review, refusal.to_string());
        }
    }
    r
}

/// A decision for a person that cannot be queued (the queue is full) is
/// denied, visibly: the module stays down.
fn queue_full(r: &mut Ruling, acting: Option<&Acting>) {
    let needs_person = matches!(
        r.outcome,
        DecisionOutcome::PendingReview | DecisionOutcome::ApproveManual
    );
    if let Some((pending, max)) = acting.and_then(|a| a.queue_full).filter(|_| needs_person) {
        r.outcome = DecisionOutcome::Deny;
        r.applied.push("queue_full");
        r.reasoning.push(format!(
            "guardrail queue_full: the approval queue holds {pending} (max_pending {max}); not queued, so denied — the module stays down"
        ));
    }
}

/// A rolling one-hour window of auto-approvals, for the hourly cap.
#[derive(Default)]
pub struct HourlyWindow {
    times: std::collections::VecDeque<DateTime<Utc>>,
}

impl HourlyWindow {
    pub fn from_times(mut times: Vec<DateTime<Utc>>) -> Self {
        times.sort();
        HourlyWindow {
            times: times.into(),
        }
    }

    /// Approvals in the hour before `now`.
    pub fn count(&mut self, now: DateTime<Utc>) -> u32 {
        while self
            .times
            .front()
            .is_some_and(|t| *t <= now - chrono::Duration::hours(1))
        {
            self.times.pop_front();
        }
        u32::try_from(self.times.len()).unwrap_or(u32::MAX)
    }

    pub fn push(&mut self, at: DateTime<Utc>) {
        self.times.push_back(at);
    }
}
/// What the guardrails rule on: the plugins' answers and the facts.
pub struct Rule<'a> {
    pub config: &'a Config,
    pub mode: Mode,
    pub kill: &'a KillReport,
    pub profile: &'a ModuleProfile,
    pub has_context: bool,
    pub risk: Result<&'a RiskAssessment, &'a crate::plugin::PluginError>,
    /// `None` when no strategy ran (the scorer failed).
    pub verdict: Option<Result<&'a Verdict, &'a crate::plugin::PluginError>>,
    /// The thresholds in force for this kill (a learning replay candidate's
    /// own): the auto-approval gates read theirs from here.
    pub thresholds: &'a NamedValues,
    pub now: DateTime<Utc>,
    /// What acting on the decision depends on (absent: nothing is acted on).
    pub acting: Option<&'a Acting>,
}

/// A kill judged by a scorer and a strategy and ruled by the guardrails,
/// as a decision would be (judgement only: no facts of acting).
pub struct Judgement {
    pub risk: Result<RiskAssessment, crate::plugin::PluginError>,
    /// `None` when the scorer failed (no strategy ran).
    pub verdict: Option<Result<Verdict, crate::plugin::PluginError>>,
    pub ruling: Ruling,
}

/// The kill a [`Judgement`] is about, with what the plugins are given.
pub struct Case<'a> {
    pub kill: &'a KillReport,
    pub context: Option<&'a crate::model::SiemContext>,
    pub profile: &'a ModuleProfile,
    pub thresholds: &'a NamedValues,
    pub now: DateTime<Utc>,
}

/// Scores `case` with `scorer`, decides it with `strategy` and rules it in
/// `mode`: what the replay gate and a shadow ask of a candidate.
pub fn judge_with(
    config: &Config,
    mode: Mode,
    scorer: &crate::plugin::Plugin,
    strategy: &crate::plugin::Plugin,
    case: &Case<'_>,
    window: &mut HourlyWindow,
) -> Judgement {
    let score = crate::plugin::ScoreRequest {
        kill: case.kill,
        context: case.context,
        profile: case.profile,
        thresholds: case.thresholds,
    };
    let risk = scorer.score(&score);
    let verdict = risk
        .as_ref()
        .ok()
        .map(|risk| strategy.decide(&crate::plugin::DecideRequest::new(score, risk)));
    let ruling = rule(
        &Rule {
            config,
            mode,
            kill: case.kill,
            profile: case.profile,
            has_context: case.context.is_some(),
            risk: risk.as_ref(),
            verdict: verdict.as_ref().map(|v| v.as_ref()),
            thresholds: case.thresholds,
            now: case.now,
            acting: None,
        },
        window,
    );
    Judgement {
        risk,
        verdict,
        ruling,
    }
}

/// A risk no scorer could give is treated as critical.
pub fn unknown_risk() -> RiskAssessment {
    RiskAssessment {
        level: RiskLevel::Critical,
        score: 1.0,
        factors: Vec::new(),
    }
}

/// The guardrails' ruling on a kill, counting it in the hour's
/// auto-approvals when it is one. This is the judgement production and
/// replay share; `decide::conclude` adds the record around it.
pub fn rule(r: &Rule<'_>, window: &mut HourlyWindow) -> Ruling {
    let plugin_error = r
        .risk
        .err()
        .or_else(|| r.verdict.and_then(|v| v.err()))
        .map(|e| e.to_string());
    let verdict = r.verdict.and_then(|v| v.ok());
    let critical = unknown_risk();
    let risk = r.risk.unwrap_or(&critical);
    let in_force = |name: &str| r.thresholds.get(name).copied().filter(|v| v.is_finite());
    let facts = Facts {
        module: &r.kill.target_module,
        criticality: r.profile.criticality,
        risk_level: risk.level,
        risk_score: risk.score,
        confidence: verdict.map_or(0.0, |v| v.confidence),
        // The thresholds in force are what the learner and operators move;
        // the configured values only stand in for a name they lack.
        min_confidence: in_force(names::AUTO_APPROVE_MIN_CONFIDENCE)
            .unwrap_or(r.config.medic.decision.auto_approve.min_confidence),
        max_risk_score: in_force(names::AUTO_APPROVE_MAX_RISK_SCORE)
            .unwrap_or_else(|| crate::plugin::max_auto_risk_score(r.config)),
        has_context: r.has_context,
        plugin_error,
        auto_approvals_last_hour: window.count(r.now),
        kills_last_hour: r.profile.kills_last_hour,
        acting: r.acting,
    };
    let mut ruling = apply(r.config, r.mode, verdict.map(|v| v.outcome), &facts);
    queue_full(&mut ruling, r.acting);
    if ruling.outcome == DecisionOutcome::ApproveAuto {
        window.push(r.now);
    }
    ruling
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The embedded defaults in semi-automatic operation, with auto-approval
    /// on and phases 2 and 3 enabled.
    fn semi_auto() -> Config {
        let mut c = Config::embedded().expect("embedded config");
        c.medic.mode.current = Mode::SemiAuto;
        c.medic.decision.auto_approve.enabled = true;
        for phase in ["phase_2_manual", "phase_3_semi_auto"] {
            if let Some(p) = c.constitution.phases.get_mut(phase) {
                p.enabled = true;
            }
        }
        c
    }

    fn kill() -> KillReport {
        crate::ingest::validate::kill_report(
            &serde_json::json!({"kill_id": "k-1", "timestamp": Utc::now().to_rfc3339(),
                "target_module": "web-1", "target_instance_id": "web-1-a",
                "kill_reason": "anomaly_behavior", "severity": "low", "confidence_score": 0.5,
                "source_agent": "smith"}),
            Utc::now(),
        )
        .expect("a valid kill")
    }

    /// The ruling on a strategy's `outcome` at low risk and high confidence,
    /// with `acting` stated.
    fn ruling(
        outcome: DecisionOutcome,
        acting: Option<&Acting>,
        window: &mut HourlyWindow,
    ) -> Ruling {
        let config = semi_auto();
        let kill = kill();
        let profile = ModuleProfile::new("web-1", Criticality::Low, false);
        let risk = RiskAssessment {
            level: RiskLevel::Low,
            score: 0.05,
            factors: Vec::new(),
        };
        let verdict = Verdict {
            outcome,
            confidence: 0.99,
            reasoning: Vec::new(),
            recommended_action: String::new(),
            constraints: Vec::new(),
            timeout_minutes: 60,
        };
        rule(
            &Rule {
                config: &config,
                mode: Mode::SemiAuto,
                kill: &kill,
                profile: &profile,
                has_context: true,
                risk: Ok(&risk),
                verdict: Some(Ok(&verdict)),
                thresholds: &NamedValues::new(),
                now: Utc::now(),
                acting,
            },
            window,
        )
    }

    #[test]
    fn without_facts_against_it_an_automatic_approval_stands_and_counts() {
        let mut window = HourlyWindow::default();
        let r = ruling(
            DecisionOutcome::ApproveAuto,
            Some(&Acting::default()),
            &mut window,
        );
        assert_eq!(r.outcome, DecisionOutcome::ApproveAuto, "{:?}", r.reasoning);
        assert_eq!(window.count(Utc::now()), 1);
    }

    #[test]
    fn a_refusal_of_acting_sends_an_approval_to_a_person_under_its_name_and_does_not_count() {
        let refusals = [
            Refusal::ExecutorOff,
            Refusal::NoBackend("web-1".into()),
            Refusal::Cooldown {
                module: "web-1".into(),
                at: "then".into(),
                until: "later".into(),
            },
            Refusal::Flapping {
                module: "web-1".into(),
                until: "later".into(),
            },
            Refusal::Busy {
                module: "web-1".into(),
                request_id: "r-1".into(),
            },
            Refusal::ReKilled {
                module: "web-1".into(),
                request_id: "r-1".into(),
            },
        ];
        for refusal in refusals {
            let mut window = HourlyWindow::default();
            let acting = Acting {
                refusal: Some(refusal.clone()),
                queue_full: None,
            };
            let r = ruling(DecisionOutcome::ApproveAuto, Some(&acting), &mut window);
            assert_eq!(r.outcome, DecisionOutcome::PendingReview, "{refusal:?}");
            assert_eq!(r.applied, vec![refusal.guardrail()]);
            assert!(
                r.reasoning[0].contains(&refusal.to_string()),
                "{:?}",
                r.reasoning
            );
            assert_eq!(
                window.count(Utc::now()),
                0,
                "{refusal:?} is not an auto-approval"
            );
        }
    }

    #[test]
    fn a_full_queue_denies_what_would_go_to_a_person_and_nothing_else() {
        let acting = Acting {
            refusal: None,
            queue_full: Some((500, 500)),
        };
        let mut window = HourlyWindow::default();
        let r = ruling(DecisionOutcome::PendingReview, Some(&acting), &mut window);
        assert_eq!(r.outcome, DecisionOutcome::Deny);
        assert_eq!(r.applied, vec!["queue_full"]);
        assert!(
            r.reasoning[0].contains("max_pending 500"),
            "{:?}",
            r.reasoning
        );
        // An approval that could not act goes to a person, and so is denied
        // when none can be asked.
        let acting = Acting {
            refusal: Some(Refusal::ExecutorOff),
            queue_full: Some((500, 500)),
        };
        let r = ruling(DecisionOutcome::ApproveAuto, Some(&acting), &mut window);
        assert_eq!(r.outcome, DecisionOutcome::Deny);
        assert_eq!(r.applied, vec!["executor_off", "queue_full"]);
        // What needs nobody is untouched.
        let acting = Acting {
            refusal: None,
            queue_full: Some((500, 500)),
        };
        let r = ruling(DecisionOutcome::ApproveAuto, Some(&acting), &mut window);
        assert_eq!(r.outcome, DecisionOutcome::ApproveAuto);
        // Without acting (observer mode, replay) no such fact applies.
        let r = ruling(DecisionOutcome::PendingReview, None, &mut window);
        assert_eq!(r.outcome, DecisionOutcome::PendingReview);
    }
}
