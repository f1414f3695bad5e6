//! The embedded store: sled for indexes and small trees, the record log
//! for decision records and audit events (`learning.database.type: sled`,
//! the default). One process at a time holds it.

use std::path::Path;
use std::sync::{Arc, Weak};
use std::time::{Duration, Instant};

use serde::de::DeserializeOwned;

use crate::claims::Claims;
use crate::durable::{Durable, SledWrites};
use crate::groups::Groups;
use crate::log::{self, KIND_AUDIT, KIND_RECORD, Loc, RecordLog};
use crate::{
    AuditEvent, DecisionRecord, FlushTimes, Result, SCHEMA_VERSION, StoreError, calibration,
    verdicts,
};

/// The store; cheap to clone (sled trees and the log are shared handles).
#[derive(Clone)]
pub struct SledStore {
    pub(crate) db: sled::Db,
    /// Decision id → record location, only for ids that do not carry their
    /// decision's time (see [`SledStore::store_decision`]).
    pub(crate) decisions: sled::Tree,
    /// Which record holds each kill's decision.
    pub(crate) claims: Arc<Claims>,
    pub(crate) dead: Durable,
    pub(crate) requests: Durable,
    pub(crate) queue: Durable,
    pub(crate) queue_decided: Durable,
    pub(crate) outcomes: Durable,
    pub(crate) outcomes_by_module: Durable,
    pub(crate) thresholds: Durable,
    pub(crate) threshold_history: Durable,
    pub(crate) plugin_bindings: Durable,
    /// Shadow decisions beside the real ones ([`shadow`]).
    pub(crate) shadow: Durable,
    /// People's approvals and denials by time ([`verdicts`]).
    pub(crate) human_verdicts: Durable,
    /// Responses waiting to reach Redis ([`outbox`]).
    pub(crate) outbox: Durable,
    /// Their counts per module, built at open and kept up to date.
    pub(crate) verdict_counts: Arc<verdicts::VerdictCounts>,
    /// Kills of known truth by their evidence ([`calibration`]), built at
    /// open and kept up to date.
    pub(crate) calibration: Arc<calibration::Shared>,
    /// The record log and the indexes written a group at a time.
    pub(crate) groups: Arc<Groups>,
    /// Writes to the durable trees, for [`SledStore::flush`].
    sled_writes: Arc<SledWrites>,
    /// How long each part of [`SledStore::flush`] took (for `/metrics`).
    pub flush_times: Arc<FlushTimes>,
    /// The directory of a temporary store, removed with its last handle.
    _temporary: Option<Arc<tempfile::TempDir>>,
}

/// `meta` key: how many claims the store held when last opened or closed.
const CLAIMS: &str = "claims";

/// How often the pending index groups and the record log are made durable
/// without being asked (as sled does for its own log), for writers that
/// never flush.
const SYNC_EVERY: Duration = Duration::from_millis(500);

impl SledStore {
    /// Opens (or creates) the store at `path`.
    pub fn open(path: &Path) -> Result<SledStore> {
        SledStore::open_with(path, log::SEGMENT_BYTES)
    }

    /// [`SledStore::open`], with record log segments of `segment_bytes` (tests
    /// of retention use small ones: only whole segments are removed).
    pub fn open_with(path: &Path, segment_bytes: u64) -> Result<SledStore> {
        let db = open_db(path)?;
        let log = RecordLog::open_with(&path.join("records"), segment_bytes)?;
        SledStore::from_db(db, log, None, &path.display().to_string())
    }

    /// A store that lives only as long as its handles (tests, replay).
    pub fn temporary() -> Result<SledStore> {
        let dir = tempfile::Builder::new().prefix("medic-store-").tempdir()?;
        let db = sled::Config::new()
            .temporary(true)
            .cache_capacity(SLED_CACHE_BYTES)
            .open()?;
        let log = RecordLog::open(dir.path())?;
        SledStore::from_db(db, log, Some(Arc::new(dir)), "<temporary>")
    }

    fn from_db(
        db: sled::Db,
        log: Arc<RecordLog>,
        temporary: Option<Arc<tempfile::TempDir>>,
        path: &str,
    ) -> Result<SledStore> {
        let meta = db.open_tree("meta")?;
        let found = match meta.get("schema_version")? {
            Some(v) => u32::from_be_bytes(v.as_ref().try_into().unwrap_or([0; 4])),
            None => SCHEMA_VERSION,
        };
        if !(1..=SCHEMA_VERSION).contains(&found) {
            return Err(StoreError::Schema {
                path: path.to_string(),
                found,
            });
        }
        let groups = Arc::new(Groups::new(
            log,
            db.open_tree("kills_by_time")?,
            db.open_tree("audit")?,
            meta.clone(),
            db.clone(),
        ));
        // Version 1 had no time index to read them from: they are claimed
        // as its records are moved.
        let claims = if found == 1 {
            Claims::default()
        } else {
            // Gathered in an array sized for the claims the last run left.
            let expected = match meta.get(CLAIMS)? {
                Some(n) => u64::from_be_bytes(n.as_ref().try_into().unwrap_or([0; 8])),
                None => 0,
            };
            Claims::load(usize::try_from(expected).unwrap_or(0), |claim| {
                groups.visit_claims(claim)
            })?
        };
        let sled_writes = Arc::new(SledWrites::default());
        let store = SledStore {
            decisions: db.open_tree("decisions")?,
            claims: Arc::new(claims),
            dead: Durable::open(&db, "dead_letters", &sled_writes)?,
            requests: Durable::open(&db, "requests", &sled_writes)?,
            queue: Durable::open(&db, "approval_queue", &sled_writes)?,
            queue_decided: Durable::open(&db, "approval_queue_decided", &sled_writes)?,
            outcomes: Durable::open(&db, "outcomes", &sled_writes)?,
            outcomes_by_module: Durable::open(&db, "outcomes_by_module", &sled_writes)?,
            thresholds: Durable::open(&db, "thresholds", &sled_writes)?,
            threshold_history: Durable::open(&db, "threshold_history", &sled_writes)?,
            plugin_bindings: Durable::open(&db, "plugin_bindings", &sled_writes)?,
            shadow: Durable::open(&db, "shadow_decisions", &sled_writes)?,
            human_verdicts: Durable::open(&db, "human_verdicts", &sled_writes)?,
            outbox: Durable::open(&db, "outbox", &sled_writes)?,
            verdict_counts: Arc::default(),
            calibration: Arc::default(),
            db,
            groups,
            sled_writes,
            flush_times: Arc::default(),
            _temporary: temporary,
        };
        if found == 1 {
            store.migrate_from_v1(path)?;
        } else {
            store.reindex_tail()?;
        }
        meta.insert(CLAIMS, &(store.claims.len() as u64).to_be_bytes())?;
        if found < 3 {
            // Claims are kept in memory and read back from the time index.
            store.db.drop_tree("decision_by_kill")?;
        }
        let denied = store.load_human_verdicts(&meta)?;
        store.load_calibration(denied)?;
        meta.insert("schema_version", &SCHEMA_VERSION.to_be_bytes())?;
        store.groups.write()?;
        store.groups.log.sync()?;
        // Again, now that the log is durable: `indexed_to` moves up to it.
        store.groups.write()?;
        store.db.flush()?;
        spawn_syncer(Arc::downgrade(&store.groups));
        Ok(store)
    }

    /// Indexes the frames a crash left in the record log past the last
    /// durable groups: each decision whose kill has no claim yet (in log
    /// order, so the first decision stored for a kill keeps it), and every
    /// audit event past the last one indexed. A decision that a group
    /// written after `indexed_to` indexes (its sled key and frame both
    /// survived) is claimed already, and is skipped.
    fn reindex_tail(&self) -> Result<()> {
        let from = self.groups.indexed_to()?;
        let frames = self.groups.log.frames_from(from)?;
        if frames.is_empty() {
            return Ok(());
        }
        let last_seq = self.groups.last_audit_seq()?;
        let mut found = 0;
        for (loc, kind, payload) in frames {
            if kind == KIND_RECORD {
                let rec = serde_json::from_slice::<DecisionRecord>(&payload)?;
                if self.claim_if_free(&rec, loc)? {
                    found += 1;
                }
            } else if kind == KIND_AUDIT {
                let event = serde_json::from_slice::<AuditEvent>(&payload)?;
                if last_seq.is_none_or(|last| event.seq > last) {
                    let mut pending = self.groups.lock();
                    pending.audit.push((event.seq, loc));
                    pending.audited_at(event.at.timestamp_millis());
                    found += 1;
                }
            }
        }
        self.groups
            .lock()
            .audit
            .sort_unstable_by_key(|(seq, _)| *seq);
        tracing::warn!(
            entries = found,
            "Record log held entries written after the last durable index groups; indexed them again"
        );
        Ok(())
    }

    /// Version 1 kept records and audit events as sled values, with a time
    /// and a module index entry per decision: copy each into the record log
    /// and make the copies durable, then point the claims at them and index
    /// them in groups (the caller raises the version and flushes).
    fn migrate_from_v1(&self, path: &str) -> Result<()> {
        let by_time = self.db.open_tree("kills_by_time")?;
        let audit = self.db.open_tree("audit")?;
        let mut records = Vec::new();
        for item in self.decisions.iter() {
            let (_, value) = item?;
            let rec: DecisionRecord = serde_json::from_slice(&value)?;
            let at = Some(rec.decision.timestamp.timestamp_millis());
            records.push((self.groups.log.append_at(KIND_RECORD, &value, at)?, rec));
        }
        let mut events = Vec::new();
        let mut newest_event = None;
        for item in audit.iter() {
            let (_, value) = item?;
            let event: AuditEvent = serde_json::from_slice(&value)?;
            let at = Some(event.at.timestamp_millis());
            newest_event = newest_event.max(at);
            events.push((
                event.seq,
                self.groups.log.append_at(KIND_AUDIT, &value, at)?,
            ));
        }
        // Durable in the log before sled lets go of the originals.
        self.groups.log.sync()?;
        for (loc, rec) in &records {
            self.decisions.remove(rec.decision.decision_id.as_bytes())?;
            self.claim_if_free(rec, *loc)?;
        }
        let moved = records.len() + events.len();
        by_time.clear()?;
        audit.clear()?;
        // Module histories are read from the time index now.
        self.db.drop_tree("kills_by_module")?;
        let mut pending = self.groups.lock();
        pending.audit.extend(events);
        if let Some(ms) = newest_event {
            pending.audited_at(ms);
        }
        drop(pending);
        self.groups.write()?;
        tracing::info!(
            store = path,
            records = moved,
            "Store migrated from schema version 1 to {SCHEMA_VERSION}"
        );
        Ok(())
    }

    /// Makes every write so far durable: the pending index groups are
    /// written, then the record log is synced and, at the same time, sled
    /// is flushed when a durable tree was written since its last flush
    /// (`durable.rs`). Sled's other trees (the index groups' keys, how far
    /// they reach) are rebuilt from the log by [`SledStore::reindex_tail`]
    /// after a crash, so they are left to sled's own flush every
    /// half-second: deciding a kill waits for one fsync, not two. Sled's
    /// indexes may point past the durable log after a crash whatever the
    /// order, since sled flushes on its own; reads allow for that. Await
    /// before acknowledging.
    pub async fn flush(&self) -> Result<()> {
        self.groups.write()?;
        let log = self.groups.log.clone();
        let started = Instant::now();
        let record_log = async {
            tokio::task::spawn_blocking(move || log.sync())
                .await
                .map_err(std::io::Error::other)??;
            Ok::<_, StoreError>(started.elapsed())
        };
        let (record_log, sled) = tokio::join!(record_log, self.sled_writes.flush(&self.db));
        self.flush_times.record_log.observe(record_log?);
        if let Some(took) = sled? {
            self.flush_times.sled.observe(took);
        }
        Ok(())
    }

    /// [`SledStore::flush`], then all of sled, indexes included (on shutdown: the
    /// next start has nothing to index again).
    pub async fn flush_all(&self) -> Result<()> {
        self.flush().await?;
        // `indexed_to` up to the log just made durable: the next open has
        // no tail to read again.
        self.groups.write()?;
        self.groups
            .meta()
            .insert(CLAIMS, &(self.claims.len() as u64).to_be_bytes())?;
        self.db.flush_async().await?;
        Ok(())
    }

    /// The JSON value at a record location; `None` when the record log does
    /// not hold it (an entry a crash left behind).
    pub(crate) fn load_json<T: DeserializeOwned>(&self, loc: Loc) -> Result<Option<T>> {
        match self.groups.log.read(loc)? {
            Some(bytes) => Ok(Some(serde_json::from_slice(&bytes)?)),
            None => Ok(None),
        }
    }

    /// Whether the store answers (for health checks).
    pub fn healthy(&self) -> bool {
        self.db.was_recovered() || self.db.size_on_disk().is_ok()
    }

    pub(crate) fn next_id(&self) -> Result<u64> {
        Ok(self.db.generate_id()?)
    }
}

/// The most memory sled's page cache may hold. Sled's default is 1 GiB,
/// and it fills as trees are read (every start reads the time index once,
/// for the claims): resident memory grew with the store. Sled holds only
/// indexes and small trees here (records live in the record log), so a
/// small cache costs reads little (docs/BENCHMARKS.md, "Memory of a large store").
pub const SLED_CACHE_BYTES: u64 = 32 << 20;

/// How long opening waits for sled's lock on the store. A handle of this
/// process that was just dropped can keep it a moment longer: its sync
/// thread may be in the middle of a sync when the last handle goes.
const LOCK_WAIT: Duration = Duration::from_secs(2);

/// Opens sled at `path`, waiting up to [`LOCK_WAIT`] while its lock is
/// held; past that another process has the store open, and the error
/// says so. Public for the tests that write a store's sled database
/// directly (as a crash or an older layout left it) right after a handle
/// was dropped.
pub fn open_db(path: &Path) -> Result<sled::Db> {
    let started = Instant::now();
    loop {
        let opened = sled::Config::new()
            .path(path)
            .mode(sled::Mode::HighThroughput)
            .cache_capacity(SLED_CACHE_BYTES)
            .open();
        match opened {
            Err(sled::Error::Io(e)) if lock_held(&e) => {
                if started.elapsed() >= LOCK_WAIT {
                    return Err(StoreError::Locked {
                        path: path.display().to_string(),
                    });
                }
                std::thread::sleep(Duration::from_millis(20));
            }
            other => return Ok(other?),
        }
    }
}

/// sled reports a held lock as an error of kind `Other` whose message
/// carries the `WouldBlock` of `flock`.
fn lock_held(e: &std::io::Error) -> bool {
    e.kind() == std::io::ErrorKind::WouldBlock || e.to_string().contains("could not acquire lock")
}

/// Writes the pending groups and syncs the record log every [`SYNC_EVERY`]
/// while the store is open.
fn spawn_syncer(groups: Weak<Groups>) {
    let spawned = std::thread::Builder::new()
        .name("medic-store-sync".into())
        .spawn(move || {
            loop {
                std::thread::sleep(SYNC_EVERY);
                let Some(groups) = groups.upgrade() else {
                    return;
                };
                if let Err(e) = groups.write().and_then(|()| Ok(groups.log.sync()?)) {
                    tracing::error!(error = %e, "Store background sync failed");
                }
            }
        });
    if let Err(e) = spawned {
        tracing::error!(error = %e, "Could not start the store's sync thread; writes are made durable only by flushes");
    }
}
