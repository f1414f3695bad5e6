//! Hostile: a strategy that tries to carry state from one kill to the next,
//! in a static counter and on its heap, and reports what it found: its
//! confidence is the number of kills it has seen (in hundredths), and its
//! reasoning lists the kill ids it remembers. With fresh instances per kill
//! (`strict`) it must only ever see the kill in front of it.

use std::sync::Mutex;
use std::sync::atomic::{AtomicU32, Ordering};

use medic_plugin_sdk::strategy::Guest;
use medic_plugin_sdk::types::{
    DecisionOutcome, Kill, KillFacts, PluginInfo, PluginKind, RiskAssessment, Verdict,
};

static SEEN: AtomicU32 = AtomicU32::new(0);
static KILLS: Mutex<Vec<String>> = Mutex::new(Vec::new());

struct Plugin;

impl Guest for Plugin {
    fn describe() -> PluginInfo {
        PluginInfo {
            name: "hostile-remember".to_string(),
            version: "0.1.0".to_string(),
            kind: PluginKind::Strategy,
            description: "Hostile: tries to remember earlier kills.".to_string(),
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
        let seen = SEEN.fetch_add(1, Ordering::Relaxed) + 1;
        let mut kills = KILLS.lock().map_err(|_| "poisoned".to_string())?;
        kills.push(kill.report().kill_id);
        Ok(Verdict {
            outcome: DecisionOutcome::PendingReview,
            confidence: f64::from(seen.min(100)) / 100.0,
            reasoning: kills.clone(),
            recommended_action: "review".to_string(),
            constraints: vec![],
            timeout_minutes: 60,
        })
    }
}

medic_plugin_sdk::strategy::export_strategy!(Plugin);
