//! {{name}}: a Medic risk scorer. It gets the kill's facts (its numbers,
//! the SIEM's and its module's history), the kill itself to read the rest
//! from (`kill.report()`, `kill.context()`) and the thresholds, and
//! returns a score in [0, 1] with its level and the factors behind it. No
//! clock, no randomness, no I/O.

use medic_plugin_sdk::helpers::{RISK_BANDS, names, risk_level};
use medic_plugin_sdk::scorer::Guest;
use medic_plugin_sdk::types::{
    Kill, KillFacts, PluginInfo, PluginKind, RiskAssessment, RiskFactor, Severity,
};

struct Plugin;

fn severity(s: Severity) -> f64 {
    match s {
        Severity::Critical => 1.0,
        Severity::High => 0.8,
        Severity::Medium => 0.6,
        Severity::Low => 0.4,
        Severity::Info => 0.2,
    }
}

impl Guest for Plugin {
    fn describe() -> PluginInfo {
        PluginInfo {
            name: "{{name}}".to_string(),
            version: env!("CARGO_PKG_VERSION").to_string(),
            kind: PluginKind::RiskScorer,
            description: "Half Smith's confidence weighted by severity, half the SIEM's risk.".to_string(),
            uses: names(&RISK_BANDS),
            // The band thresholds, given in this order in each call's `values`.
            reads: names(&RISK_BANDS),
        }
    }

    fn score(facts: KillFacts, _kill: &Kill, values: Vec<f64>) -> Result<RiskAssessment, String> {
        let smith = facts.confidence_score * severity(facts.severity);
        // Without SIEM context, assume the worst for its half.
        let siem = facts.siem.as_ref().map_or(1.0, |c| c.risk_score);
        let factors = vec![
            RiskFactor {
                name: "smith".into(),
                value: smith,
                weight: 0.5,
                contribution: 0.5 * smith,
                detail: format!("confidence {:.2} x severity", facts.confidence_score),
            },
            RiskFactor {
                name: "siem".into(),
                value: siem,
                weight: 0.5,
                contribution: 0.5 * siem,
                detail: if facts.siem.is_some() { "SIEM risk".into() } else { "no SIEM context".into() },
            },
        ];
        let score = (0.5 * smith + 0.5 * siem).clamp(0.0, 1.0);
        Ok(RiskAssessment {
            level: risk_level(score, &RISK_BANDS, &values),
            score,
            factors,
        })
    }
}

medic_plugin_sdk::scorer::export_risk_scorer!(Plugin);
