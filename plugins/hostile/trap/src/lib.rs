//! Hostile: a strategy that traps (or panics, on request).

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
            name: "hostile-trap".to_string(),
            version: "0.1.0".to_string(),
            kind: PluginKind::Strategy,
            description: "Hostile: a strategy that traps.".to_string(),
            uses: vec![],
            reads: vec![],
        }
    }

    /// Traps with `unreachable`; with metadata `mode` = "panic", panics
    /// instead (std then reaches for stderr to print the message).
    fn decide(
        _facts: KillFacts,
        kill: &Kill,
        _risk: RiskAssessment,
        _values: Vec<f64>,
    ) -> Result<Verdict, String> {
        let report = kill.report();
        let panic = report
            .metadata
            .iter()
            .any(|e| e.key == "mode" && e.value.contains("panic"));
        if panic {
            panic!("hostile-trap panics on purpose");
        }
        if std::hint::black_box(!report.kill_id.is_empty()) {
            core::arch::wasm32::unreachable();
        }
        Ok(verdict("unreachable".to_string()))
    }
}

medic_plugin_sdk::strategy::export_strategy!(Plugin);
