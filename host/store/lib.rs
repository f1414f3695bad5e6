//! The durable store: kills with their SIEM context and decision, an
//! append-only audit log, dead letters, the approval queue, resurrection
//! requests and their outcomes, people's verdicts on queued kills,
//! thresholds and run-time plugin bindings.
//!
//! [`Store`] is what the rest of Medic holds: one [`Backend`], chosen by
//! `learning.database.type`.
//! - `sled` ([`SledStore`], `embedded.rs`), the default: one process on
//!   one machine. Decision records and audit events live in an append-only
//!   record log ([`log`]); sled holds the indexes that point into it (the
//!   time and audit indexes a group at a time, [`groups`]) and everything
//!   else.
//! - `postgres` ([`postgres::PgStore`]): a PostgreSQL database that
//!   several replicas share, with versioned migrations applied at start.
//!
//! Writes are made durable by [`Store::flush`] — one flush for a whole
//! batch (group commit) — which callers await before acknowledging
//! anything. A crash therefore loses nothing acknowledged.

// The modules of the crates below, under the names the code uses.
#[allow(unused_imports)]
use medic_config as config;
#[allow(unused_imports)]
use medic_model::{self as model, wire_time};
#[allow(unused_imports)]
use medic_telemetry as telemetry;

mod audit;
mod backend;
mod bindings;
pub mod calibration;
mod claims;
mod dead_letters;
mod decisions;
mod durable;
mod embedded;
pub mod fence;
#[cfg(test)]
mod fixtures;
mod groups;
mod keys;
mod log;
mod outbox;
mod outcomes;
pub mod postgres;
mod queue;
pub mod replica;
mod requests;
mod retention;
mod shadow;
mod thresholds;
mod verdicts;

use std::ops::Deref;
use std::path::Path;
use std::sync::Arc;

use serde::Serialize;

pub use crate::telemetry::FlushTimes;
pub use backend::{Backend, Flushing};
pub use embedded::{SLED_CACHE_BYTES, SledStore, open_db};

pub use audit::{AuditEvent, AuditKind};
pub use dead_letters::DeadLetter;
pub use decisions::{DecisionRecord, KillTimes, ModuleHistory, Newest, Scan, ScanBudget, Stored};
pub use outbox::Response;
pub use outcomes::{OutcomeCounts, OutcomeFilter};
pub use retention::{BATCH as SWEEP_BATCH, Retention, Swept};
pub use shadow::ShadowRecord;
pub use thresholds::{ChangeSource, ThresholdChange};
pub use verdicts::{HumanVerdict, HumanVerdicts};

/// Bumped when the layout of a tree changes. Version 2 moved decision
/// records and audit events out of sled into the record log; version 3
/// dropped the `decision_by_kill` tree (claims are read back from the time
/// index, [`claims`]). Older stores are migrated when opened.
pub const SCHEMA_VERSION: u32 = 3;

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("store: {0}")]
    Sled(#[from] sled::Error),
    #[error("store: cannot encode or decode a record: {0}")]
    Codec(#[from] serde_json::Error),
    #[error("store: record log: {0}")]
    Log(#[from] std::io::Error),
    #[error(
        "store at {path} has schema version {found}; this Medic reads version {SCHEMA_VERSION}"
    )]
    Schema { path: String, found: u32 },
    #[error(
        "store at {path} is open in another process (its lock is held); stop that process or use another store path"
    )]
    Locked { path: String },
    #[error("store: PostgreSQL: {0}")]
    Postgres(#[from] sqlx::Error),
    /// A statement answering several calls at once failed: each caller
    /// gets the one error.
    #[error("store: PostgreSQL: {0}")]
    Batch(std::sync::Arc<sqlx::Error>),
    #[error("store: PostgreSQL migration: {0}")]
    Migrate(#[from] sqlx::migrate::MigrateError),
    #[error("store: {0}")]
    Setup(String),
    #[error(
        "store: request {request_id} is run by another replica now (it took it over when this one stopped stamping it)"
    )]
    TakenOver { request_id: String },
    #[error(
        "store: this replica no longer does the work that runs once (it was elected at epoch {epoch}; another replica holds the role now): the write was not made"
    )]
    Fenced { epoch: u64 },
}

pub type Result<T> = std::result::Result<T, StoreError>;

/// The role whose holder does the work that must run once across
/// replicas: queue expiry, retention sweeps, scheduled learning.
pub const SINGLETON_ROLE: &str = "singletons";

/// The store Medic holds: one [`Backend`] (cheap to clone). Every method
/// of the backend is reached through it; the few below add what a trait
/// object cannot offer (generic arguments) or what is built from others.
#[derive(Clone)]
pub struct Store {
    backend: Arc<dyn Backend>,
}

impl Deref for Store {
    type Target = dyn Backend;
    fn deref(&self) -> &Self::Target {
        &*self.backend
    }
}

impl From<SledStore> for Store {
    fn from(s: SledStore) -> Store {
        Store {
            backend: Arc::new(s),
        }
    }
}

impl From<postgres::PgStore> for Store {
    fn from(s: postgres::PgStore) -> Store {
        Store {
            backend: Arc::new(s),
        }
    }
}

impl Store {
    /// Opens (or creates) the embedded store at `path`.
    pub fn open(path: &Path) -> Result<Store> {
        Ok(SledStore::open(path)?.into())
    }

    /// [`Store::open`], with record log segments of `segment_bytes`.
    pub fn open_with(path: &Path, segment_bytes: u64) -> Result<Store> {
        Ok(SledStore::open_with(path, segment_bytes)?.into())
    }

    /// An embedded store that lives only as long as its handles (tests,
    /// replay).
    pub fn temporary() -> Result<Store> {
        Ok(SledStore::temporary()?.into())
    }

    /// Connects to the PostgreSQL database at `url` and brings its schema
    /// up to date.
    pub fn connect(url: &str) -> Result<Store> {
        Ok(postgres::PgStore::connect(url)?.into())
    }

    /// The store `learning.database` names: `sled` at its `path`, or
    /// `postgres` at its `url`.
    pub fn open_configured(db: &config::raw::LearningDatabase) -> Result<Store> {
        match db.kind {
            config::raw::DatabaseType::Sled => Store::open(&db.path),
            config::raw::DatabaseType::Postgres => match &db.url {
                Some(url) => Store::connect(url.as_str()),
                None => Err(StoreError::Setup(
                    "learning.database.url is not set (type postgres needs one; or set MEDIC_DATABASE_URL)"
                        .into(),
                )),
            },
        }
    }

    /// Where the store lives, for messages: the sled path, or the
    /// PostgreSQL URL without its password.
    pub fn describe(db: &config::raw::LearningDatabase) -> String {
        match (db.kind, &db.url) {
            (config::raw::DatabaseType::Postgres, Some(url)) => config::redact::url(url.as_str()),
            _ => db.path.display().to_string(),
        }
    }

    /// Whether this process does the work that must run once (queue
    /// expiry, retention, scheduled learning): always on sled; on
    /// PostgreSQL, when it is the elected replica. A store that cannot
    /// say is taken as a no (the work waits for the next try).
    pub fn leads(&self) -> bool {
        self.lease().is_some()
    }

    /// [`Store::leads`], with the epoch this process was elected at: run
    /// the work with it in [`fence::as_leader`], so that its writes are
    /// refused once another replica holds the role.
    pub fn lease(&self) -> Option<u64> {
        match self.backend.lead(SINGLETON_ROLE) {
            Ok(epoch) => epoch,
            Err(e) => {
                tracing::error!(error = %e, "Cannot tell whether this replica leads; leaving the work that runs once to the next try");
                None
            }
        }
    }

    /// Makes every write so far durable. Await before acknowledging.
    pub async fn flush(&self) -> Result<()> {
        self.backend.flush().await
    }

    /// [`Store::flush`], and a tidy shutdown.
    pub async fn flush_all(&self) -> Result<()> {
        self.backend.flush_all().await
    }

    /// Appends an audit event; returns its sequence number.
    pub fn audit(
        &self,
        kind: AuditKind,
        kill_id: Option<&str>,
        decision_id: Option<&str>,
        actor: &str,
        details: impl Serialize,
    ) -> Result<u64> {
        let details = serde_json::value::to_raw_value(&details)?;
        self.backend
            .audit_raw(kind, kill_id, decision_id, actor, &details)
    }

    /// Stores a decided kill unless its kill_id was decided before.
    pub fn store_decision(&self, rec: &DecisionRecord) -> Result<Stored> {
        self.backend
            .store_decision_encoded(rec, &serde_json::to_string(&rec.decision)?)
    }

    /// Stores a decided kill (its decision's JSON given) unless its
    /// kill_id was decided before, with its `decision_made` audit event
    /// ([`Backend::store_decision_made`]).
    pub fn store_decision_audited(
        &self,
        rec: &DecisionRecord,
        decision_json: &str,
        actor: &str,
        details: impl Serialize,
    ) -> Result<Stored> {
        let details = serde_json::value::to_raw_value(&details)?;
        self.backend
            .store_decision_made(rec, decision_json, actor, &details)
    }

    /// The decision already made for a kill, if any.
    pub fn decision_for_kill(&self, kill_id: &str) -> Result<Option<model::Decision>> {
        Ok(self.backend.record_for_kill(kill_id)?.map(|r| r.decision))
    }

    /// A decision by its id.
    pub fn decision(&self, decision_id: &str) -> Result<Option<model::Decision>> {
        Ok(self.backend.record(decision_id)?.map(|r| r.decision))
    }

    /// Visits the decisions made in `[from, to)`, a record at a time.
    pub fn visit_records_between(
        &self,
        from: chrono::DateTime<chrono::Utc>,
        to: chrono::DateTime<chrono::Utc>,
        mut visit: impl FnMut(&DecisionRecord),
    ) -> Result<()> {
        self.backend.visit_records_between(from, to, &mut visit)
    }

    /// Visits the times (ms) of the decisions made in `[from, to)`.
    pub fn visit_decision_times(
        &self,
        from: chrono::DateTime<chrono::Utc>,
        to: chrono::DateTime<chrono::Utc>,
        mut visit: impl FnMut(i64),
    ) -> Result<()> {
        self.backend.visit_decision_times(from, to, &mut visit)
    }

    /// The newest decisions `page` asks for that `wanted` accepts.
    pub fn records_newest(
        &self,
        page: &Newest,
        budget: &ScanBudget,
        wanted: impl Fn(&DecisionRecord) -> bool,
    ) -> Result<Scan> {
        self.backend.records_newest(page, budget, &wanted)
    }

    /// A module's outcomes over the last `days`, oldest first.
    pub fn module_outcome_history(
        &self,
        module: &str,
        days: u32,
        now: chrono::DateTime<chrono::Utc>,
    ) -> Result<Vec<model::OutcomeRecord>> {
        let f = OutcomeFilter {
            module: Some(module.to_string()),
            from: Some(now - chrono::Duration::days(i64::from(days))),
            ..OutcomeFilter::default()
        };
        self.backend.query_outcomes(&f, usize::MAX)
    }

    /// All of a module's outcome counts.
    pub fn module_outcome_counts(&self, module: &str) -> Result<OutcomeCounts> {
        self.backend.module_counts_between(
            module,
            chrono::DateTime::<chrono::Utc>::MIN_UTC,
            chrono::DateTime::<chrono::Utc>::MAX_UTC,
        )
    }

    /// A module's outcomes, oldest first.
    pub fn module_outcomes(&self, module: &str) -> Result<Vec<model::OutcomeRecord>> {
        let f = OutcomeFilter {
            module: Some(module.to_string()),
            ..OutcomeFilter::default()
        };
        self.backend.query_outcomes(&f, usize::MAX)
    }
}

/// Counts the bytes each thread has allocated and not yet freed, and their
/// peak, for tests that a read streams rather than collects (a thread's
/// own count: tests run side by side in this binary).
/// The store at `path`, opened again in a test: a handle just dropped may
/// hold sled's lock a moment longer.
#[cfg(test)]
pub(crate) fn reopened(path: &Path) -> SledStore {
    for _ in 0..100 {
        if let Ok(s) = SledStore::open(path) {
            return s;
        }
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
    panic!("the store did not open again");
}

#[cfg(test)]
pub(crate) mod held {
    use std::alloc::{GlobalAlloc, Layout, System};
    use std::cell::Cell;

    struct Counting;

    thread_local! {
        static NOW: Cell<isize> = const { Cell::new(0) };
        static PEAK: Cell<isize> = const { Cell::new(0) };
    }

    fn add(n: isize) {
        // `try_with`: a thread being torn down has no counts left.
        let _ = NOW.try_with(|now| {
            let v = now.get() + n;
            now.set(v);
            let _ = PEAK.try_with(|p| p.set(p.get().max(v)));
        });
    }

    // SAFETY: every call is passed on to the system allocator unchanged.
    unsafe impl GlobalAlloc for Counting {
        unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
            add(layout.size() as isize);
            // SAFETY: the caller's layout, as given.
            unsafe { System.alloc(layout) }
        }
        unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
            add(-(layout.size() as isize));
            // SAFETY: allocated by `alloc` above with this layout.
            unsafe { System.dealloc(ptr, layout) }
        }
        unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
            add(new_size as isize - layout.size() as isize);
            // SAFETY: as `dealloc` and `alloc`.
            unsafe { System.realloc(ptr, layout, new_size) }
        }
    }

    #[global_allocator]
    static COUNTING: Counting = Counting;

    /// The most bytes this thread held at once while `f` ran, beyond what
    /// it held before.
    pub fn peak_during<T>(f: impl FnOnce() -> T) -> (T, usize) {
        let before = NOW.with(Cell::get);
        PEAK.with(|p| p.set(before));
        let out = f();
        let peak = PEAK.with(Cell::get) - before;
        (out, usize::try_from(peak).unwrap_or(0))
    }
}
