//! Hostile: a strategy that tries to read files, env, the clock and sockets; metadata key attempt picks which.

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
            name: "hostile-wasi".to_string(),
            version: "0.1.0".to_string(),
            kind: PluginKind::Strategy,
            description: "Hostile: a strategy that tries to read files, env, the clock and sockets; metadata key attempt picks which.".to_string(),
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
        let attempt = kill
            .report()
            .metadata
            .iter()
            .find(|e| e.key == "attempt")
            .map(|e| e.value.trim_matches('"').to_string())
            .unwrap_or_default();
        let got = match attempt.as_str() {
            "file" => std::fs::read_to_string("/etc/passwd")
                .map(|s| format!("read {} bytes", s.len()))
                .map_err(|e| e.to_string()),
            "env" => Ok(format!("{} env vars", std::env::vars().count())),
            "clock" => Ok(format!("{:?}", std::time::SystemTime::now())),
            "socket" => std::net::TcpStream::connect("127.0.0.1:6379")
                .map(|_| "connected".to_string())
                .map_err(|e| e.to_string()),
            _ => Ok("nothing attempted".to_string()),
        };
        match got {
            Ok(leak) => Ok(verdict(format!("escaped the sandbox: {leak}"))),
            Err(e) => Err(format!("{attempt} denied: {e}")),
        }
    }
}

medic_plugin_sdk::strategy::export_strategy!(Plugin);
