//! The built-in `pessimistic` strategy (logic in `medic-plugin-logic::evidence`).

use medic_plugin_logic::evidence;
use medic_plugin_sdk::convert::decide_input;
use medic_plugin_sdk::strategy::Guest;
use medic_plugin_sdk::types::{Kill, KillFacts, PluginInfo, PluginKind, RiskAssessment, Verdict};

struct Pessimistic;

impl Guest for Pessimistic {
    fn describe() -> PluginInfo {
        PluginInfo {
            name: "pessimistic".to_string(),
            version: env!("CARGO_PKG_VERSION").to_string(),
            kind: PluginKind::Strategy,
            description: "Auto-approve only when even the cautious reading of the evidence is safe (confidence = 1 - risk score), deny only when even the hopeful reading says the kill was right, a human for the rest.".to_string(),
            uses: ["risk", "siem_context", "module_profile", "auto_approve.min_confidence", "auto_approve.max_risk_score"]
                .iter()
                .map(|s| s.to_string())
                .collect(),
            reads: medic_plugin_sdk::convert::reads(),
        }
    }

    fn decide(
        facts: KillFacts,
        kill: &Kill,
        risk: RiskAssessment,
        values: Vec<f64>,
    ) -> Result<Verdict, String> {
        Ok(evidence::pessimistic(&decide_input(facts, kill, risk, &values)).into())
    }
}

medic_plugin_sdk::strategy::export_strategy!(Pessimistic);
