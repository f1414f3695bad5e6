//! Thresholds as learned or set: the values in force, the newest outcome
//! the learner has seen, when it last ran, and every change (before,
//! after, why, who), numbered.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use super::{Result, SledStore};
use crate::model::{NamedValues, PluginUse};

/// Who changed the thresholds.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum ChangeSource {
    Learner,
    Manual,
    Revert,
}

/// One change of the thresholds, as applied.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct ThresholdChange {
    pub id: u64,
    pub at: DateTime<Utc>,
    pub source: ChangeSource,
    /// A key's name, or the learner plugin's.
    pub actor: String,
    /// The changed keys' values before and after.
    pub before: NamedValues,
    pub after: NamedValues,
    pub reasons: Vec<String>,
    /// Outcome samples the learner was given.
    pub samples: u32,
    pub plugin: Option<PluginUse>,
    /// The change this one undid.
    pub reverts: Option<u64>,
}

const CURRENT: &[u8] = b"current";
const LAST_LEARNED: &[u8] = b"last_learned_at";
const LAST_RUN: &[u8] = b"last_learning_run_at";

impl SledStore {
    /// The thresholds last put in force, if any were.
    pub fn current_thresholds(&self) -> Result<Option<NamedValues>> {
        self.thresholds
            .get(CURRENT)?
            .map(|v| Ok(serde_json::from_slice(&v)?))
            .transpose()
    }

    /// Records a change and the values now in force together.
    pub fn record_threshold_change(
        &self,
        mut change: ThresholdChange,
        now_in_force: &NamedValues,
    ) -> Result<ThresholdChange> {
        change.id = self.next_id()?;
        self.threshold_history
            .insert(change.id.to_be_bytes(), serde_json::to_vec(&change)?)?;
        self.thresholds
            .insert(CURRENT, serde_json::to_vec(now_in_force)?)?;
        Ok(change)
    }

    pub fn threshold_change(&self, id: u64) -> Result<Option<ThresholdChange>> {
        self.threshold_history
            .get(id.to_be_bytes())?
            .map(|v| Ok(serde_json::from_slice(&v)?))
            .transpose()
    }

    /// How many changes there have been (no record is read).
    pub fn threshold_change_count(&self) -> usize {
        self.threshold_history.len()
    }

    /// Every change, oldest first.
    pub fn threshold_history(&self) -> Result<Vec<ThresholdChange>> {
        self.threshold_history
            .iter()
            .map(|item| Ok(serde_json::from_slice(&item?.1)?))
            .collect()
    }

    /// The time of the newest outcome the learner has seen.
    pub fn last_learned_at(&self) -> Result<Option<DateTime<Utc>>> {
        self.thresholds
            .get(LAST_LEARNED)?
            .map(|v| Ok(serde_json::from_slice(&v)?))
            .transpose()
    }

    pub fn set_last_learned_at(&self, at: DateTime<Utc>) -> Result<()> {
        self.thresholds
            .insert(LAST_LEARNED, serde_json::to_vec(&at)?)?;
        Ok(())
    }

    /// When the learner last ran (scheduled or on demand), whether or not
    /// it changed anything: the schedule counts from here. Not the same as
    /// [`SledStore::last_learned_at`], which is the newest outcome it was given.
    pub fn last_learning_run_at(&self) -> Result<Option<DateTime<Utc>>> {
        self.thresholds
            .get(LAST_RUN)?
            .map(|v| Ok(serde_json::from_slice(&v)?))
            .transpose()
    }

    pub fn set_last_learning_run_at(&self, at: DateTime<Utc>) -> Result<()> {
        self.thresholds.insert(LAST_RUN, serde_json::to_vec(&at)?)?;
        Ok(())
    }
}
