//! Shadow decisions: what a shadow scorer and strategy would have decided
//! on a live kill, recorded beside the real decision (never acted on), by
//! the time of the kill's decision.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use super::keys::time_key;
use super::{Result, SledStore};
use crate::model::DecisionOutcome;

/// A shadow's would-be decision on one live kill.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct ShadowRecord {
    pub kill_id: String,
    /// The real decision it shadows.
    pub decision_id: String,
    pub module: String,
    /// When the real decision was made.
    pub decided_at: DateTime<Utc>,
    pub phase: String,
    /// What the plugins in force decided (after the guardrails).
    pub live: DecisionOutcome,
    /// What the shadow would have decided (after the same guardrails).
    pub shadow: DecisionOutcome,
    /// The shadow's scorer and strategy (`name@version`).
    pub scorer: String,
    pub strategy: String,
    pub risk_score: f64,
    pub confidence: f64,
    /// Why the shadow could not judge (a plugin error), if it could not.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
}

impl SledStore {
    /// Records a shadow decision.
    pub fn put_shadow(&self, r: &ShadowRecord) -> Result<()> {
        self.shadow
            .insert(time_key(r.decided_at, &r.kill_id), serde_json::to_vec(r)?)?;
        Ok(())
    }

    /// Shadow decisions of kills decided in `[from, to)`, oldest first.
    pub fn shadows_between(
        &self,
        from: DateTime<Utc>,
        to: DateTime<Utc>,
    ) -> Result<Vec<ShadowRecord>> {
        self.shadow
            .range(time_key(from, "")..time_key(to, ""))
            .map(|item| Ok(serde_json::from_slice(&item?.1)?))
            .collect()
    }
}
