//! Hostile: a strategy whose decide never returns.

use medic_plugin_sdk::strategy::Guest;
use medic_plugin_sdk::types::{
    DecisionOutcome, Kill, KillFacts, PluginInfo, PluginKind, RiskAssessment, Verdict,
};

struct Plugin;

#[allow(dead_code)]
fn verdict(reason: String) -> Verdict {
    Verdict {
        outcome: DecisionOutcome::PendingReview,
        confidence: 0.5,
        reasoning: vec![reason],
        recommended_action: "review".to_string(),
        constraints: vec![],
        timeout_minutes: 60,
    }
}

impl Guest for Plugin {
    fn describe() -> PluginInfo {
        PluginInfo {
            name: "hostile-spin".to_string(),
            version: "0.1.0".to_string(),
            kind: PluginKind::Strategy,
            description: "Hostile: a strategy whose decide never returns.".to_string(),
            uses: vec![],
            reads: vec![],
        }
    }

    fn decide(
        _facts: KillFacts,
        kill: &Kill,
        _risk: RiskAssessment,
        _values: Vec<f64>,
    ) -> Result<Verdict, String> {
        let mut n: u64 = 0;
        loop {
            n = std::hint::black_box(n.wrapping_add(kill.report().kill_id.len() as u64));
        }
    }
}

medic_plugin_sdk::strategy::export_strategy!(Plugin);
