//! {{name}}: a Medic strategy. It gets the kill's facts (its numbers,
//! the SIEM's and its module's history), the kill itself to read the rest
//! from (`kill.report()`, `kill.context()`), the thresholds and the risk
//! the scorer gave, and returns a verdict. Everything it may use is in its
//! input: no clock, no randomness, no I/O. The host's guardrails still have
//! the last word.

use medic_plugin_sdk::helpers::{Reasons, names, read, strongest_indicator};
use medic_plugin_sdk::strategy::Guest;
use medic_plugin_sdk::types::{
    DecisionOutcome, Kill, KillFacts, PluginInfo, PluginKind, RiskAssessment, RiskLevel, Verdict,
};

/// The named numbers it reads; each call's `values` holds them in this order.
const READS: &[&str] = &["auto_approve.min_confidence"];

struct Plugin;

impl Guest for Plugin {
    fn describe() -> PluginInfo {
        PluginInfo {
            name: "{{name}}".to_string(),
            version: env!("CARGO_PKG_VERSION").to_string(),
            kind: PluginKind::Strategy,
            description: "Approves low risk with SIEM context and no strong indicator; denies critical; a human decides the rest.".to_string(),
            uses: vec!["risk".into(), "context".into(), "auto_approve.min_confidence".into()],
            reads: names(READS),
        }
    }

    fn decide(
        facts: KillFacts,
        _kill: &Kill,
        risk: RiskAssessment,
        values: Vec<f64>,
    ) -> Result<Verdict, String> {
        let mut why = Reasons::new("{{name}}");
        let strongest = strongest_indicator(facts.siem.as_ref());
        let min_confidence = read(READS, &values, "auto_approve.min_confidence", 0.85);
        let (outcome, confidence) = match risk.level {
            RiskLevel::Critical => {
                why.add("critical risk: do not resurrect");
                (DecisionOutcome::Deny, risk.score)
            }
            RiskLevel::Minimal | RiskLevel::Low if facts.siem.is_some() && strongest < 0.8 => {
                why.add(format!("{:?} risk with SIEM context and no strong indicator", risk.level));
                (DecisionOutcome::ApproveAuto, min_confidence.max(1.0 - risk.score))
            }
            _ => {
                why.add("not clearly safe: a human decides");
                (DecisionOutcome::PendingReview, 0.5)
            }
        };
        Ok(Verdict {
            outcome,
            confidence: confidence.clamp(0.0, 1.0),
            reasoning: why.into_vec(),
            recommended_action: format!("{outcome:?} for {}", facts.profile.module),
            constraints: vec![],
            timeout_minutes: 60,
        })
    }
}

medic_plugin_sdk::strategy::export_strategy!(Plugin);
