//! The replay gate: before a new plugin version or binding takes effect,
//! the candidate set of plugins is replayed on kills whose truth is known,
//! beside the set serving now. The gate itself — what history, which
//! rules — is the engine's (it holds the store); the registry asks it at
//! every swap that changes the scorer or the strategy serving the active
//! phase, after the golden kills, and refuses the swap if it says so,
//! unless an admin overrides with a reason.

use serde::Serialize;

use super::registry::ActiveSet;
use crate::model::DecisionOutcome;

/// One kill on which the candidate decides otherwise than the plugins
/// serving now.
#[derive(Clone, Debug, PartialEq, Serialize, utoipa::ToSchema)]
pub struct Divergence {
    pub kill_id: String,
    pub module: String,
    /// Whether the kill is known to have been a real threat.
    pub threat: bool,
    pub current: DecisionOutcome,
    pub candidate: DecisionOutcome,
}

/// What a replay found.
#[derive(Clone, Debug, Default, PartialEq, Serialize, utoipa::ToSchema)]
pub struct GateReport {
    /// Kills replayed (their truth known).
    pub replayed: usize,
    /// Of them, real threats.
    pub threats: usize,
    /// Known threats the candidate would have revived automatically.
    pub threats_revived: usize,
    /// Kills decided otherwise by the candidate, and their share.
    pub disagreements: usize,
    pub disagreement_share: f64,
    /// The diverging kills (threats first; at most [`MAX_LISTED`]).
    pub diverging: Vec<Divergence>,
}

/// How many diverging kills a report lists.
pub const MAX_LISTED: usize = 20;

/// A swap the gate refuses, with what it found.
#[derive(Clone, Debug, thiserror::Error)]
#[error(
    "the replay gate refuses it: {reason} (replayed on {} kill(s) of known truth; an admin may override with a reason){}",
    report.replayed,
    listed(&report.diverging)
)]
pub struct GateRefusal {
    pub reason: String,
    pub report: GateReport,
}

fn listed(d: &[Divergence]) -> String {
    if d.is_empty() {
        return String::new();
    }
    let kills: Vec<String> = d
        .iter()
        .map(|d| {
            format!(
                "{} ({}, {}: {} → {})",
                d.kill_id,
                d.module,
                if d.threat { "threat" } else { "false positive" },
                crate::model::wire_str(&d.current),
                crate::model::wire_str(&d.candidate)
            )
        })
        .collect();
    format!("; diverging: {}", kills.join(", "))
}

/// An admin's decision to let a swap through the gate.
#[derive(Clone, Debug)]
pub struct Override {
    pub actor: String,
    pub reason: String,
}

/// Judges a swap of the plugins serving the active phase.
pub trait SwapGate: Send + Sync {
    /// `candidate` would serve instead of `current`: replayed on history,
    /// may it?
    fn check(&self, current: &ActiveSet, candidate: &ActiveSet) -> Result<GateReport, GateRefusal>;

    /// `candidate` serves and nothing is known of what served before it (a
    /// plugin file found at start): replayed alone, refused only if it
    /// would revive a kill known to be a threat.
    fn check_alone(&self, candidate: &ActiveSet) -> Result<GateReport, GateRefusal>;
}
