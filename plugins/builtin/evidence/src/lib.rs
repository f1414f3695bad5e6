//! The built-in `evidence` risk scorer (logic in `medic-plugin-logic::evidence`).

use medic_plugin_logic::evidence;
use medic_plugin_sdk::convert::score_input;
use medic_plugin_sdk::scorer::Guest;
use medic_plugin_sdk::types::{Kill, KillFacts, PluginInfo, PluginKind, RiskAssessment};

struct Evidence;

impl Guest for Evidence {
    fn describe() -> PluginInfo {
        PluginInfo {
            name: "evidence".to_string(),
            version: env!("CARGO_PKG_VERSION").to_string(),
            kind: PluginKind::RiskScorer,
            description: "The cautious (upper-bound) likelihood that the kill was right, from the module's confirmed outcomes, the SIEM's risk, indicators and false-positive record, and Smith's confidence, times the module's impact.".to_string(),
            uses: ["module_history", "siem_risk_score", "threat_indicators", "false_positive_history", "smith_confidence", "module_criticality", "risk.minimal", "risk.low", "risk.medium", "risk.high"]
                .iter()
                .map(|s| s.to_string())
                .collect(),
            reads: medic_plugin_sdk::convert::reads(),
        }
    }

    fn score(facts: KillFacts, _kill: &Kill, values: Vec<f64>) -> Result<RiskAssessment, String> {
        evidence::score(&score_input(facts, &values)).map(Into::into)
    }
}

medic_plugin_sdk::scorer::export_risk_scorer!(Evidence);
