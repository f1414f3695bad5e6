//! Golden kills: fixed cases every new or changed plugin is run against
//! before it may serve, with its outputs validated. They cover a low-risk
//! kill, a critical threat, a module that always needs approval, a
//! dependency cascade, and a kill with no SIEM context.

use std::sync::LazyLock;

use chrono::{TimeZone, Utc};
use serde::Deserialize;

use super::error::LoadError;
use super::loaded::Plugin;
use super::{DecideRequest, LearnRequest, ScoreRequest, native};
use crate::model::{
    DecisionOutcome, KillCase, ModuleProfile, NamedValues, OutcomeResult, OutcomeSample,
    PluginKind, RiskLevel,
};

/// One golden case: a name and a kill with its context.
#[derive(Clone, Debug, Deserialize)]
pub struct GoldenCase {
    pub name: String,
    #[serde(flatten)]
    pub case: KillCase,
}

static CASES: LazyLock<Vec<GoldenCase>> = LazyLock::new(|| {
    // The file is part of the binary and covered by tests: it always parses.
    serde_json::from_str(include_str!("golden_kills.json")).unwrap_or_else(|e| {
        tracing::error!(error = %e, "Golden kills do not parse");
        Vec::new()
    })
});

/// The golden kills.
pub fn cases() -> &'static [GoldenCase] {
    &CASES
}

/// The golden case with this name, for tests.
pub fn case(name: &str) -> Option<&'static KillCase> {
    cases().iter().find(|c| c.name == name).map(|c| &c.case)
}

/// Outcome samples for checking a learner: one band that fails too often,
/// one that never fails, enough of each to pass `min_samples`.
pub fn learner_samples() -> Vec<OutcomeSample> {
    let at = Utc
        .with_ymd_and_hms(2024, 1, 15, 12, 0, 0)
        .single()
        .unwrap_or_default();
    let mut out = Vec::new();
    for i in 0..60 {
        out.push(OutcomeSample {
            kill_id: format!("golden-low-{i}"),
            module: "report-renderer".into(),
            risk_level: RiskLevel::Low,
            risk_score: 0.3,
            decision: DecisionOutcome::ApproveAuto,
            result: if i % 3 == 0 {
                OutcomeResult::ReKilled
            } else {
                OutcomeResult::Success
            },
            time_to_stable_seconds: Some(20),
            recorded_at: at,
        });
        out.push(OutcomeSample {
            kill_id: format!("golden-minimal-{i}"),
            module: "report-renderer".into(),
            risk_level: RiskLevel::Minimal,
            risk_score: 0.1,
            decision: DecisionOutcome::ApproveAuto,
            result: OutcomeResult::Success,
            time_to_stable_seconds: Some(10),
            recorded_at: at,
        });
    }
    out
}

/// Runs a plugin on every golden case; the first failure rejects it.
pub fn check(
    plugin: &Plugin,
    thresholds: &NamedValues,
    learner_settings: &NamedValues,
) -> Result<(), LoadError> {
    let origin = plugin.source().to_string();
    let fail = |case: &str, source| LoadError::Golden {
        origin: origin.clone(),
        case: case.to_string(),
        source,
    };
    if plugin.kind() == PluginKind::ThresholdLearner {
        let samples = learner_samples();
        let req = LearnRequest {
            thresholds,
            samples: &samples,
            settings: learner_settings,
            now: Utc
                .with_ymd_and_hms(2024, 1, 16, 0, 0, 0)
                .single()
                .unwrap_or_default(),
        };
        return plugin
            .learn(&req)
            .map(|_| ())
            .map_err(|e| fail("learner-samples", e));
    }
    for golden in cases() {
        let profile: ModuleProfile = golden.case.profile_or_default();
        let req = ScoreRequest {
            kill: &golden.case.kill,
            context: golden.case.context.as_ref(),
            profile: &profile,
            thresholds,
        };
        match plugin.kind() {
            PluginKind::RiskScorer => {
                plugin.score(&req).map_err(|e| fail(&golden.name, e))?;
            }
            _ => {
                // Strategies are checked on the built-in scorer's risk, so a
                // strategy's check does not depend on which scorer is active.
                let Ok(risk) = native::score(&req) else {
                    continue;
                };
                plugin
                    .decide(&DecideRequest::new(req, &risk))
                    .map_err(|e| fail(&golden.name, e))?;
            }
        }
    }
    Ok(())
}
