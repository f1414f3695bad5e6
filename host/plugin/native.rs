//! The built-in plugins' logic compiled into the host: the "native" side of
//! the WASM-vs-native benchmarks, and the scorer that gives golden kills a
//! risk when a new strategy is checked. Decisions never go through here.

use medic_plugin_logic as l;

use super::{DecideRequest, LearnRequest, ScoreRequest};
use crate::model::{self as m, NamedValues};

fn named(v: &NamedValues) -> Vec<l::NamedValue> {
    v.iter()
        .map(|(name, value)| l::NamedValue {
            name: name.clone().into(),
            value: *value,
        })
        .collect()
}

/// As [`super::convert::v0_1::named_with_facts`]: the thresholds, then the facts
/// about the module.
fn named_with_facts(v: &NamedValues, p: &m::ModuleProfile) -> Vec<l::NamedValue> {
    let mut out = named(v);
    out.extend(p.facts().map(|(name, value)| l::NamedValue {
        name: std::borrow::Cow::Borrowed(name),
        value,
    }));
    out
}

fn level(v: m::RiskLevel) -> l::RiskLevel {
    match v {
        m::RiskLevel::Minimal => l::RiskLevel::Minimal,
        m::RiskLevel::Low => l::RiskLevel::Low,
        m::RiskLevel::Medium => l::RiskLevel::Medium,
        m::RiskLevel::High => l::RiskLevel::High,
        m::RiskLevel::Critical => l::RiskLevel::Critical,
    }
}

fn level_back(v: l::RiskLevel) -> m::RiskLevel {
    match v {
        l::RiskLevel::Minimal => m::RiskLevel::Minimal,
        l::RiskLevel::Low => m::RiskLevel::Low,
        l::RiskLevel::Medium => m::RiskLevel::Medium,
        l::RiskLevel::High => m::RiskLevel::High,
        l::RiskLevel::Critical => m::RiskLevel::Critical,
    }
}

fn kill(k: &m::KillReport) -> l::KillReport {
    l::KillReport {
        timestamp_ms: k.timestamp.timestamp_millis(),
        kill_reason: match k.kill_reason {
            m::KillReason::ThreatDetected => l::KillReason::ThreatDetected,
            m::KillReason::AnomalyBehavior => l::KillReason::AnomalyBehavior,
            m::KillReason::PolicyViolation => l::KillReason::PolicyViolation,
            m::KillReason::ResourceExhaustion => l::KillReason::ResourceExhaustion,
            m::KillReason::DependencyCascade => l::KillReason::DependencyCascade,
            m::KillReason::ManualOverride => l::KillReason::ManualOverride,
        },
        severity: match k.severity {
            m::Severity::Critical => l::Severity::Critical,
            m::Severity::High => l::Severity::High,
            m::Severity::Medium => l::Severity::Medium,
            m::Severity::Low => l::Severity::Low,
            m::Severity::Info => l::Severity::Info,
        },
        confidence_score: k.confidence_score,
    }
}

fn context(c: &m::SiemContext) -> l::SiemContext {
    l::SiemContext {
        risk_score: c.risk_score,
        false_positive_history: c.false_positive_history,
        indicator_count: c.indicator_count(),
        strongest_indicator: c.strongest_indicator(),
    }
}

fn profile(p: &m::ModuleProfile) -> l::ModuleProfile {
    l::ModuleProfile {
        module: p.module.clone(),
        criticality: match p.criticality {
            m::Criticality::Low => l::Criticality::Low,
            m::Criticality::Medium => l::Criticality::Medium,
            m::Criticality::High => l::Criticality::High,
            m::Criticality::Critical => l::Criticality::Critical,
        },
        always_require_approval: p.always_require_approval,
        kills_last_hour: p.kills_last_hour,
        kills_last_day: p.kills_last_day,
        kills_last_week: p.kills_last_week,
        resurrections: p.resurrections,
        successful_resurrections: p.successful_resurrections,
        re_kills: p.re_kills,
        rollbacks: p.rollbacks,
        false_positives: p.false_positives,
        last_kill_ms: p.last_kill.map(|t| t.timestamp_millis()),
    }
}

fn risk(r: &m::RiskAssessment) -> l::RiskAssessment {
    l::RiskAssessment {
        level: level(r.level),
        score: r.score,
        factors: r
            .factors
            .iter()
            .map(|f| l::RiskFactor {
                name: f.name.clone(),
                value: f.value,
                weight: f.weight,
                contribution: f.contribution,
                detail: f.detail.clone(),
            })
            .collect(),
    }
}

/// The `weighted` scorer, natively.
pub fn score(req: &ScoreRequest<'_>) -> Result<m::RiskAssessment, String> {
    score_with("weighted", req)
}

/// What a built-in scorer is given for a kill.
fn score_input(req: &ScoreRequest<'_>) -> l::ScoreInput {
    l::ScoreInput {
        kill: kill(req.kill),
        context: req.context.map(context),
        profile: profile(req.profile),
        thresholds: named_with_facts(req.thresholds, req.profile),
    }
}

/// A built-in scorer by name (`weighted`, `evidence`), natively.
pub fn score_with(scorer: &str, req: &ScoreRequest<'_>) -> Result<m::RiskAssessment, String> {
    let f = match scorer {
        "weighted" => l::scoring::score,
        "evidence" => l::evidence::score,
        other => return Err(format!("no native scorer {other:?}")),
    };
    f(&score_input(req)).map(|r| m::RiskAssessment {
        level: level_back(r.level),
        score: r.score,
        factors: r
            .factors
            .into_iter()
            .map(|f| m::RiskFactor {
                name: f.name,
                value: f.value,
                weight: f.weight,
                contribution: f.contribution,
                detail: f.detail,
            })
            .collect(),
    })
}

/// A built-in strategy by name, natively.
pub fn decide(strategy: &str, req: &DecideRequest<'_>) -> Result<m::Verdict, String> {
    let f = match strategy {
        "conservative" => l::strategies::conservative,
        "balanced" => l::strategies::balanced,
        "aggressive" => l::strategies::aggressive,
        "pessimistic" => l::evidence::pessimistic,
        other => return Err(format!("no native strategy {other:?}")),
    };
    let v = f(&l::DecideInput::new(
        score_input(&req.scored()),
        risk(req.risk),
        req.kill.dependencies.clone(),
    ));
    Ok(m::Verdict {
        outcome: match v.outcome {
            l::DecisionOutcome::ApproveAuto => m::DecisionOutcome::ApproveAuto,
            l::DecisionOutcome::ApproveManual => m::DecisionOutcome::ApproveManual,
            l::DecisionOutcome::PendingReview => m::DecisionOutcome::PendingReview,
            l::DecisionOutcome::Deny => m::DecisionOutcome::Deny,
            l::DecisionOutcome::Defer => m::DecisionOutcome::Defer,
        },
        confidence: v.confidence,
        reasoning: v.reasoning,
        recommended_action: v.recommended_action,
        constraints: v.constraints,
        timeout_minutes: v.timeout_minutes,
    })
}

/// The `bounded` learner, natively.
pub fn learn(req: &LearnRequest<'_>) -> Result<Vec<m::ThresholdAdjustment>, String> {
    learn_with("bounded", req)
}

/// A built-in learner by name (`bounded`, `calibrated`), natively.
pub fn learn_with(
    learner: &str,
    req: &LearnRequest<'_>,
) -> Result<Vec<m::ThresholdAdjustment>, String> {
    let f = match learner {
        "bounded" => l::learner::learn,
        "calibrated" => l::learner::calibrated,
        other => return Err(format!("no native learner {other:?}")),
    };
    let input = l::LearnInput {
        thresholds: named(req.thresholds),
        samples: req
            .samples
            .iter()
            .map(|s| l::OutcomeSample {
                kill_id: s.kill_id.clone(),
                module: s.module.clone(),
                risk_level: level(s.risk_level),
                risk_score: s.risk_score,
                decision: match s.decision {
                    m::DecisionOutcome::ApproveAuto => l::DecisionOutcome::ApproveAuto,
                    m::DecisionOutcome::ApproveManual => l::DecisionOutcome::ApproveManual,
                    m::DecisionOutcome::PendingReview => l::DecisionOutcome::PendingReview,
                    m::DecisionOutcome::Deny => l::DecisionOutcome::Deny,
                    m::DecisionOutcome::Defer => l::DecisionOutcome::Defer,
                },
                outcome: match s.result {
                    m::OutcomeResult::Success => l::OutcomeResult::Success,
                    m::OutcomeResult::PartialSuccess => l::OutcomeResult::Partial,
                    m::OutcomeResult::Failure => l::OutcomeResult::Failure,
                    m::OutcomeResult::ReKilled => l::OutcomeResult::ReKilled,
                    m::OutcomeResult::Rollback => l::OutcomeResult::Rollback,
                },
                time_to_stable_seconds: s.time_to_stable_seconds,
                recorded_at_ms: s.recorded_at.timestamp_millis(),
            })
            .collect(),
        settings: named(req.settings),
        now_ms: req.now.timestamp_millis(),
    };
    f(&input).map(|v| {
        v.into_iter()
            .map(|a| m::ThresholdAdjustment {
                name: a.name,
                old_value: a.old_value,
                new_value: a.new_value,
                reason: a.reason,
            })
            .collect()
    })
}
