//! Fixture inputs for this crate's unit tests.

use crate::types::*;

fn kill(reason: KillReason, severity: Severity, confidence: f64) -> KillReport {
    KillReport {
        // 2024-01-15T10:30:00Z: working hours.
        timestamp_ms: 1_705_314_600_000,
        kill_reason: reason,
        severity,
        confidence_score: confidence,
    }
}

fn context(risk: f64, fp: u32, indicator: Option<f64>) -> SiemContext {
    SiemContext {
        risk_score: risk,
        false_positive_history: fp,
        indicator_count: u32::from(indicator.is_some()),
        strongest_indicator: indicator.unwrap_or(0.0),
    }
}

fn profile(criticality: Criticality) -> ModuleProfile {
    ModuleProfile {
        module: "test-service".into(),
        criticality,
        always_require_approval: false,
        kills_last_hour: 0,
        kills_last_day: 0,
        kills_last_week: 0,
        resurrections: 0,
        successful_resurrections: 0,
        re_kills: 0,
        rollbacks: 0,
        false_positives: 0,
        last_kill_ms: None,
    }
}

pub fn low_risk() -> ScoreInput {
    ScoreInput {
        kill: kill(KillReason::AnomalyBehavior, Severity::Low, 0.5),
        context: Some(context(0.1, 4, None)),
        profile: profile(Criticality::Low),
        thresholds: vec![],
    }
}

/// [`low_risk`] with no SIEM context.
pub fn low_risk_without_context() -> ScoreInput {
    ScoreInput {
        context: None,
        ..low_risk()
    }
}

pub fn critical_threat() -> ScoreInput {
    ScoreInput {
        kill: kill(KillReason::ThreatDetected, Severity::Critical, 0.95),
        context: Some(context(0.9, 0, Some(0.95))),
        profile: profile(Criticality::Critical),
        thresholds: vec![],
    }
}

/// The same input with `call.explain` 0: nobody will read the words.
pub fn unexplained(input: &ScoreInput) -> ScoreInput {
    let mut quiet = input.clone();
    quiet.thresholds.push(NamedValue {
        name: crate::values::names::CALL_EXPLAIN.into(),
        value: 0.0,
    });
    quiet
}

/// Asserts that two assessments of one kill are the same numbers, `told`
/// with every factor described and `untold` with none.
pub fn assert_same_numbers_without_words(told: &RiskAssessment, untold: &RiskAssessment) {
    assert_eq!((told.score, told.level), (untold.score, untold.level));
    assert_eq!(told.factors.len(), untold.factors.len());
    for (a, b) in told.factors.iter().zip(&untold.factors) {
        assert_eq!(
            (&a.name, a.value, a.weight, a.contribution),
            (&b.name, b.value, b.weight, b.contribution)
        );
        assert!(!a.detail.is_empty() && b.detail.is_empty(), "{a:?} {b:?}");
    }
}
