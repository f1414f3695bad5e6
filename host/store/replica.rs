//! What replicas sharing a store must agree on, beyond a kill decided
//! once: a module's resurrection taken by one of them under the guardrails
//! they share (the hourly cap, a module busy, in its cooldown or its
//! flapping cooldown), a request run by one owner at a time, and the
//! changes each must apply (plugin bindings, thresholds, the mode).
//!
//! A store one process holds ([`crate::SledStore`]) grants every take:
//! that process's own guardrails are the whole truth there.

use std::time::Duration;

use chrono::{DateTime, Utc};

/// A resurrection asked of the store.
#[derive(Clone, Copy, Debug)]
pub struct Take<'a> {
    pub kill_id: &'a str,
    pub module: &'a str,
    pub now: DateTime<Utc>,
    /// Automatic: the hour's cap (`max_auto_resurrections_per_hour`) and
    /// `resurrection.cooldown` apply, as does a flapping cooldown. `None`
    /// for one a person approved: only a module busy holds it back.
    pub automatic: Option<Automatic>,
}

/// The limits on an automatic resurrection.
#[derive(Clone, Copy, Debug)]
pub struct Automatic {
    pub cap: u32,
    pub cooldown: Duration,
}

/// What the store answered.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Taken {
    /// The resurrection is this process's: the module is busy with the
    /// kill until released, and the cap counts it.
    Granted,
    /// The hour's automatic resurrections are all taken.
    CapReached,
    /// The module may not be brought back now.
    Held(Held),
}

/// Why a module may not be brought back now, as the store knows it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Held {
    /// Another kill's resurrection of it is under way.
    Busy { kill_id: String },
    /// Brought back at `at`; automatic resurrection waits until `until`.
    Cooldown {
        at: DateTime<Utc>,
        until: DateTime<Utc>,
    },
    /// The flapping guardrail tripped: no automatic resurrection until then.
    Flapping { until: DateTime<Utc> },
}

/// A kind of change every replica applies when another makes it.
pub const CHANGE_BINDINGS: &str = "bindings";
pub const CHANGE_THRESHOLDS: &str = "thresholds";
pub const CHANGE_MODE: &str = "mode";

/// How long a busy claim whose request never got stored (its replica died
/// between the two writes) holds its module.
pub const UNSTORED_CLAIM: Duration = Duration::from_secs(60);

/// A rollback asked through a process other than the one running the
/// request ([`crate::Backend::ask_rollback`]).
#[derive(Clone, Debug, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct RollbackAsked {
    pub reason: String,
    pub by: String,
    pub at: DateTime<Utc>,
}
