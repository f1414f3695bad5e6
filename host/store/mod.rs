//! The durable store (sled): kills with their SIEM context and decision, an
//! append-only audit log, dead letters, the approval queue, resurrection
//! requests and their outcomes, thresholds and run-time plugin bindings,
//! under a schema version.
//!
//! Writes go to sled's log at once and are made durable by [`Store::flush`]
//! — one flush for a whole batch (group commit) — which callers await before
//! acknowledging anything. A crash therefore loses nothing acknowledged.

mod audit;
mod bindings;
mod dead_letters;
mod decisions;
mod keys;
mod outcomes;
mod queue;
mod requests;
mod thresholds;

use std::path::Path;

pub use audit::{AuditEvent, AuditKind};
pub use dead_letters::DeadLetter;
pub use decisions::{DecisionRecord, ModuleHistory, Stored};
pub use outcomes::{OutcomeCounts, OutcomeFilter};
pub use thresholds::{ChangeSource, ThresholdChange};

/// Bumped when the layout of a tree changes.
pub const SCHEMA_VERSION: u32 = 1;

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("store: {0}")]
    Sled(#[from] sled::Error),
    #[error("store: cannot encode or decode a record: {0}")]
    Codec(#[from] serde_json::Error),
    #[error(
        "store at {path} has schema version {found}; this Medic reads version {SCHEMA_VERSION}"
    )]
    Schema { path: String, found: u32 },
}

pub type Result<T> = std::result::Result<T, StoreError>;

/// The store; cheap to clone (sled trees are shared handles).
#[derive(Clone)]
pub struct Store {
    db: sled::Db,
    pub(crate) decisions: sled::Tree,
    pub(crate) by_kill: sled::Tree,
    pub(crate) by_module: sled::Tree,
    pub(crate) by_time: sled::Tree,
    pub(crate) audit: sled::Tree,
    pub(crate) dead: sled::Tree,
    pub(crate) requests: sled::Tree,
    pub(crate) queue: sled::Tree,
    pub(crate) queue_decided: sled::Tree,
    pub(crate) outcomes: sled::Tree,
    pub(crate) outcomes_by_module: sled::Tree,
    pub(crate) thresholds: sled::Tree,
    pub(crate) threshold_history: sled::Tree,
    pub(crate) plugin_bindings: sled::Tree,
}

impl Store {
    /// Opens (or creates) the store at `path`.
    pub fn open(path: &Path) -> Result<Store> {
        let db = sled::Config::new()
            .path(path)
            .mode(sled::Mode::HighThroughput)
            .open()?;
        Store::from_db(db, &path.display().to_string())
    }

    /// A store that lives only as long as the process (tests, replay).
    pub fn temporary() -> Result<Store> {
        let db = sled::Config::new().temporary(true).open()?;
        Store::from_db(db, "<temporary>")
    }

    fn from_db(db: sled::Db, path: &str) -> Result<Store> {
        let meta = db.open_tree("meta")?;
        match meta.get("schema_version")? {
            Some(v) => {
                let found = u32::from_be_bytes(v.as_ref().try_into().unwrap_or([0; 4]));
                if found != SCHEMA_VERSION {
                    return Err(StoreError::Schema {
                        path: path.to_string(),
                        found,
                    });
                }
            }
            None => {
                meta.insert("schema_version", &SCHEMA_VERSION.to_be_bytes())?;
            }
        }
        Ok(Store {
            decisions: db.open_tree("decisions")?,
            by_kill: db.open_tree("decision_by_kill")?,
            by_module: db.open_tree("kills_by_module")?,
            by_time: db.open_tree("kills_by_time")?,
            audit: db.open_tree("audit")?,
            dead: db.open_tree("dead_letters")?,
            requests: db.open_tree("requests")?,
            queue: db.open_tree("approval_queue")?,
            queue_decided: db.open_tree("approval_queue_decided")?,
            outcomes: db.open_tree("outcomes")?,
            outcomes_by_module: db.open_tree("outcomes_by_module")?,
            thresholds: db.open_tree("thresholds")?,
            threshold_history: db.open_tree("threshold_history")?,
            plugin_bindings: db.open_tree("plugin_bindings")?,
            db,
        })
    }

    /// Makes every write so far durable. Await before acknowledging.
    pub async fn flush(&self) -> Result<()> {
        self.db.flush_async().await?;
        Ok(())
    }

    /// Whether the store answers (for health checks).
    pub fn healthy(&self) -> bool {
        self.db.was_recovered() || self.db.size_on_disk().is_ok()
    }

    pub(crate) fn next_id(&self) -> Result<u64> {
        Ok(self.db.generate_id()?)
    }
}
