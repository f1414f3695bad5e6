//! Hostile: a strategy that allocates memory until it is stopped.

use medic_plugin_sdk::strategy::Guest;
use medic_plugin_sdk::types::{
    DecisionOutcome, Kill, KillFacts, PluginInfo, PluginKind, RiskAssessment, Verdict,
};

struct Plugin;

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
            name: "hostile-memory".to_string(),
            version: "0.1.0".to_string(),
            kind: PluginKind::Strategy,
            description: "Hostile: a strategy that allocates memory until it is stopped."
                .to_string(),
            uses: vec![],
            reads: vec![],
        }
    }

    fn decide(
        _facts: KillFacts,
        _kill: &Kill,
        _risk: RiskAssessment,
        _values: Vec<f64>,
    ) -> Result<Verdict, String> {
        let mut hoard: Vec<Vec<u8>> = Vec::new();
        loop {
            let chunk = vec![1u8; 1 << 20];
            hoard.push(std::hint::black_box(chunk));
            if hoard.len() == usize::MAX {
                return Ok(verdict(format!("{}", hoard.len())));
            }
        }
    }
}

medic_plugin_sdk::strategy::export_strategy!(Plugin);
