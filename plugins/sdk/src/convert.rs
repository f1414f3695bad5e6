//! Conversions between the contract's types and `medic-plugin-logic`'s plain
//! types, so the built-in plugins are thin wrappers around that crate.

use crate::types as w;
use medic_plugin_logic as l;

fn named(v: Vec<w::NamedValue>) -> Vec<l::NamedValue> {
    v.into_iter()
        .map(|n| l::NamedValue {
            name: n.name.into(),
            value: n.value,
        })
        .collect()
}

/// What the built-in scorers and strategies read
/// ([`l::values::READ_BY_JUDGES`]), for their `plugin-info`: their inputs
/// convert by it.
pub fn reads() -> Vec<String> {
    crate::helpers::names(l::values::READ_BY_JUDGES)
}

fn read(values: &[f64]) -> Vec<l::NamedValue> {
    l::values::by_position(l::values::READ_BY_JUDGES, values)
}

impl From<w::KillReason> for l::KillReason {
    fn from(v: w::KillReason) -> Self {
        match v {
            w::KillReason::ThreatDetected => l::KillReason::ThreatDetected,
            w::KillReason::AnomalyBehavior => l::KillReason::AnomalyBehavior,
            w::KillReason::PolicyViolation => l::KillReason::PolicyViolation,
            w::KillReason::ResourceExhaustion => l::KillReason::ResourceExhaustion,
            w::KillReason::DependencyCascade => l::KillReason::DependencyCascade,
            w::KillReason::ManualOverride => l::KillReason::ManualOverride,
        }
    }
}

impl From<w::Severity> for l::Severity {
    fn from(v: w::Severity) -> Self {
        match v {
            w::Severity::Critical => l::Severity::Critical,
            w::Severity::High => l::Severity::High,
            w::Severity::Medium => l::Severity::Medium,
            w::Severity::Low => l::Severity::Low,
            w::Severity::Info => l::Severity::Info,
        }
    }
}

impl From<w::Criticality> for l::Criticality {
    fn from(v: w::Criticality) -> Self {
        match v {
            w::Criticality::Low => l::Criticality::Low,
            w::Criticality::Medium => l::Criticality::Medium,
            w::Criticality::High => l::Criticality::High,
            w::Criticality::Critical => l::Criticality::Critical,
        }
    }
}

impl From<w::RiskLevel> for l::RiskLevel {
    fn from(v: w::RiskLevel) -> Self {
        match v {
            w::RiskLevel::Minimal => l::RiskLevel::Minimal,
            w::RiskLevel::Low => l::RiskLevel::Low,
            w::RiskLevel::Medium => l::RiskLevel::Medium,
            w::RiskLevel::High => l::RiskLevel::High,
            w::RiskLevel::Critical => l::RiskLevel::Critical,
        }
    }
}

impl From<l::RiskLevel> for w::RiskLevel {
    fn from(v: l::RiskLevel) -> Self {
        match v {
            l::RiskLevel::Minimal => w::RiskLevel::Minimal,
            l::RiskLevel::Low => w::RiskLevel::Low,
            l::RiskLevel::Medium => w::RiskLevel::Medium,
            l::RiskLevel::High => w::RiskLevel::High,
            l::RiskLevel::Critical => w::RiskLevel::Critical,
        }
    }
}

impl From<w::DecisionOutcome> for l::DecisionOutcome {
    fn from(v: w::DecisionOutcome) -> Self {
        match v {
            w::DecisionOutcome::ApproveAuto => l::DecisionOutcome::ApproveAuto,
            w::DecisionOutcome::ApproveManual => l::DecisionOutcome::ApproveManual,
            w::DecisionOutcome::PendingReview => l::DecisionOutcome::PendingReview,
            w::DecisionOutcome::Deny => l::DecisionOutcome::Deny,
            w::DecisionOutcome::Defer => l::DecisionOutcome::Defer,
        }
    }
}

impl From<l::DecisionOutcome> for w::DecisionOutcome {
    fn from(v: l::DecisionOutcome) -> Self {
        match v {
            l::DecisionOutcome::ApproveAuto => w::DecisionOutcome::ApproveAuto,
            l::DecisionOutcome::ApproveManual => w::DecisionOutcome::ApproveManual,
            l::DecisionOutcome::PendingReview => w::DecisionOutcome::PendingReview,
            l::DecisionOutcome::Deny => w::DecisionOutcome::Deny,
            l::DecisionOutcome::Defer => w::DecisionOutcome::Defer,
        }
    }
}

impl From<w::OutcomeResult> for l::OutcomeResult {
    fn from(v: w::OutcomeResult) -> Self {
        match v {
            w::OutcomeResult::Success => l::OutcomeResult::Success,
            w::OutcomeResult::Partial => l::OutcomeResult::Partial,
            w::OutcomeResult::Failure => l::OutcomeResult::Failure,
            w::OutcomeResult::ReKilled => l::OutcomeResult::ReKilled,
            w::OutcomeResult::Rollback => l::OutcomeResult::Rollback,
        }
    }
}

impl From<w::SiemFacts> for l::SiemContext {
    fn from(c: w::SiemFacts) -> Self {
        l::SiemContext {
            risk_score: c.risk_score,
            false_positive_history: c.false_positive_history,
            indicator_count: c.indicator_count,
            strongest_indicator: c.strongest_indicator,
        }
    }
}

/// The kill as the logic reads it: its facts.
fn kill(facts: &w::KillFacts) -> l::KillReport {
    l::KillReport {
        timestamp_ms: facts.timestamp_ms,
        kill_reason: facts.kill_reason.into(),
        severity: facts.severity.into(),
        confidence_score: facts.confidence_score,
    }
}

impl From<w::ModuleProfile> for l::ModuleProfile {
    fn from(p: w::ModuleProfile) -> Self {
        l::ModuleProfile {
            module: p.module,
            criticality: p.criticality.into(),
            always_require_approval: p.always_require_approval,
            kills_last_hour: p.kills_last_hour,
            kills_last_day: p.kills_last_day,
            kills_last_week: p.kills_last_week,
            resurrections: p.resurrections,
            successful_resurrections: p.successful_resurrections,
            re_kills: p.re_kills,
            rollbacks: p.rollbacks,
            false_positives: p.false_positives,
            last_kill_ms: p.last_kill_ms,
        }
    }
}

impl From<w::RiskAssessment> for l::RiskAssessment {
    fn from(r: w::RiskAssessment) -> Self {
        l::RiskAssessment {
            level: r.level.into(),
            score: r.score,
            factors: r
                .factors
                .into_iter()
                .map(|f| l::RiskFactor {
                    name: f.name,
                    value: f.value,
                    weight: f.weight,
                    contribution: f.contribution,
                    detail: f.detail,
                })
                .collect(),
        }
    }
}

impl From<l::RiskAssessment> for w::RiskAssessment {
    fn from(r: l::RiskAssessment) -> Self {
        w::RiskAssessment {
            level: r.level.into(),
            score: r.score,
            factors: r
                .factors
                .into_iter()
                .map(|f| w::RiskFactor {
                    name: f.name,
                    value: f.value,
                    weight: f.weight,
                    contribution: f.contribution,
                    detail: f.detail,
                })
                .collect(),
        }
    }
}

/// A scorer's call as the logic's input.
pub fn score_input(facts: w::KillFacts, values: &[f64]) -> l::ScoreInput {
    l::ScoreInput {
        kill: kill(&facts),
        context: facts.siem.map(Into::into),
        profile: facts.profile.into(),
        thresholds: read(values),
    }
}

/// A strategy's call as the logic's input: the dependencies (which only
/// the report lists) are fetched only when there are some.
pub fn decide_input(
    facts: w::KillFacts,
    kill_: &w::Kill,
    risk: w::RiskAssessment,
    values: &[f64],
) -> l::DecideInput {
    let dependencies = if facts.dependency_count > 0 {
        kill_.dependencies()
    } else {
        Vec::new()
    };
    l::DecideInput::new(score_input(facts, values), risk.into(), dependencies)
}

impl From<l::Verdict> for w::Verdict {
    fn from(v: l::Verdict) -> Self {
        w::Verdict {
            outcome: v.outcome.into(),
            confidence: v.confidence,
            reasoning: v.reasoning,
            recommended_action: v.recommended_action,
            constraints: v.constraints,
            timeout_minutes: v.timeout_minutes,
        }
    }
}

impl From<w::LearnInput> for l::LearnInput {
    fn from(i: w::LearnInput) -> Self {
        l::LearnInput {
            thresholds: named(i.thresholds),
            samples: i
                .samples
                .into_iter()
                .map(|s| l::OutcomeSample {
                    kill_id: s.kill_id,
                    module: s.module,
                    risk_level: s.risk_level.into(),
                    risk_score: s.risk_score,
                    decision: s.decision.into(),
                    outcome: s.outcome.into(),
                    time_to_stable_seconds: s.time_to_stable_seconds,
                    recorded_at_ms: s.recorded_at_ms,
                })
                .collect(),
            settings: named(i.settings),
            now_ms: i.now_ms,
        }
    }
}

impl From<l::ThresholdAdjustment> for w::ThresholdAdjustment {
    fn from(a: l::ThresholdAdjustment) -> Self {
        w::ThresholdAdjustment {
            name: a.name,
            old_value: a.old_value,
            new_value: a.new_value,
            reason: a.reason,
        }
    }
}
