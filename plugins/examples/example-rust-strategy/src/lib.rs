//! example-rust-strategy: a Medic strategy. It gets the kill, the SIEM context, the
//! module's history, the thresholds and the risk the scorer gave, and
//! returns a verdict. Everything it may use is in its input: no clock, no
//! randomness, no I/O. The host's guardrails still have the last word.

use medic_plugin_sdk::helpers::{Reasons, names, read, strongest_indicator};
use medic_plugin_sdk::strategy::Guest;
use medic_plugin_sdk::types::{
    DecideInput, DecisionOutcome, PluginInfo, PluginKind, RiskLevel, Verdict,
};

/// The named numbers it reads; each call's `values` holds them in this order.
const READS: &[&str] = &["auto_approve.min_confidence"];

struct Plugin;

impl Guest for Plugin {
    fn describe() -> PluginInfo {
        PluginInfo {
            name: "example-rust-strategy".to_string(),
            version: env!("CARGO_PKG_VERSION").to_string(),
            kind: PluginKind::Strategy,
            description: "Approves low risk with SIEM context and no strong indicator; denies critical; a human decides the rest.".to_string(),
            uses: vec!["risk".into(), "context".into(), "auto_approve.min_confidence".into()],
            reads: names(READS),
        }
    }

    fn decide(input: DecideInput) -> Result<Verdict, String> {
        let mut why = Reasons::new("example-rust-strategy");
        let strongest = strongest_indicator(input.context.as_ref());
        let min_confidence = read(READS, &input.values, "auto_approve.min_confidence", 0.85);
        let (outcome, confidence) = match input.risk.level {
            RiskLevel::Critical => {
                why.add("critical risk: do not resurrect");
                (DecisionOutcome::Deny, input.risk.score)
            }
            RiskLevel::Minimal | RiskLevel::Low if input.context.is_some() && strongest < 0.8 => {
                why.add(format!("{:?} risk with SIEM context and no strong indicator", input.risk.level));
                (DecisionOutcome::ApproveAuto, min_confidence.max(1.0 - input.risk.score))
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
            recommended_action: format!("{outcome:?} for {}", input.kill.target_module),
            constraints: vec![],
            timeout_minutes: 60,
        })
    }
}

medic_plugin_sdk::strategy::export_strategy!(Plugin);
