//! Fixture inputs for this crate's unit tests.

use crate::types::*;

fn kill(reason: KillReason, severity: Severity, confidence: f64) -> KillReport {
    KillReport {
        kill_id: "test-kill-001".into(),
        // 2024-01-15T10:30:00Z: working hours.
        timestamp_ms: 1_705_314_600_000,
        target_module: "test-service".into(),
        target_instance_id: "instance-001".into(),
        kill_reason: reason,
        severity,
        confidence_score: confidence,
        evidence: vec!["log-entry-001".into()],
        dependencies: vec![],
        source_agent: "smith-01".into(),
        metadata: vec![],
    }
}

fn context(risk: f64, fp: u32, indicator: Option<f64>) -> SiemContext {
    SiemContext {
        query_id: "q-1".into(),
        kill_id: "test-kill-001".into(),
        timestamp_ms: 1_705_314_600_000,
        threat_indicators: indicator
            .map(|s| ThreatIndicator {
                indicator_type: "ip".into(),
                value: "203.0.113.9".into(),
                threat_score: s,
                source: "intel".into(),
                last_seen_ms: 1_705_314_000_000,
                tags: vec![],
            })
            .into_iter()
            .collect(),
        historical_behavior: vec![],
        false_positive_history: fp,
        network_context: vec![],
        user_context: None,
        risk_score: risk,
        recommendation: String::new(),
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
