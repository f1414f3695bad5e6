//! The built-in `weighted` risk scorer (logic in `medic-plugin-logic::scoring`).

use medic_plugin_logic::scoring;
use medic_plugin_sdk::convert::score_input;
use medic_plugin_sdk::scorer::Guest;
use medic_plugin_sdk::types::{Kill, KillFacts, PluginInfo, PluginKind, RiskAssessment};

struct Weighted;

impl Guest for Weighted {
    fn describe() -> PluginInfo {
        PluginInfo {
            name: "weighted".to_string(),
            version: env!("CARGO_PKG_VERSION").to_string(),
            kind: PluginKind::RiskScorer,
            description: "Weighted mean of smith confidence, SIEM risk, false-positive history, module criticality and time of day (the configured risk.weights).".to_string(),
            uses: scoring::FACTORS.iter().map(|f| f.to_string()).collect(),
            reads: medic_plugin_sdk::convert::reads(),
        }
    }

    fn score(facts: KillFacts, _kill: &Kill, values: Vec<f64>) -> Result<RiskAssessment, String> {
        scoring::score(&score_input(facts, &values)).map(Into::into)
    }
}

medic_plugin_sdk::scorer::export_risk_scorer!(Weighted);
