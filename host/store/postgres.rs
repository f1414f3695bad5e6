//! The PostgreSQL store (`learning.database.type: postgres`): every kind of
//! state the embedded store keeps, in tables that several Medic replicas
//! share (`migrations/`), through a connection pool.
//!
//! - **Schema**: versioned migrations, embedded in the binary and applied
//!   at connect under PostgreSQL's advisory lock (replicas starting at once
//!   apply each once). A database migrated by a newer Medic is refused.
//! - **Decided once**: `decisions.kill_id` is the primary key, so of two
//!   replicas storing a decision for one kill the second gets the first's.
//! - **Durable before acknowledged**: writes commit without waiting for
//!   the WAL to reach the disk (`synchronous_commit = off` on the pool's
//!   connections), and [`PgStore::flush`] then commits one transaction that
//!   does wait: PostgreSQL's log is sequential, so that wait covers every
//!   write before it. A batch of decisions costs one WAL flush, as the
//!   embedded store's group commit costs one fsync.
//! - **Counts kept in memory** (people's verdicts per module, calibration)
//!   are built from the tables at connect and kept up to date by this
//!   process's writes, as the embedded store does.

mod batch;
mod bridge;
mod grouped;
mod ledger;
mod replica;
mod tables;

use std::borrow::Cow;
use std::collections::HashMap;
use std::str::FromStr;
use std::sync::Arc;
use std::time::Duration;

use serde::de::DeserializeOwned;
use sqlx::migrate::{Migration, MigrationType, Migrator};
use sqlx::postgres::{PgConnectOptions, PgPool, PgPoolOptions};
use sqlx::{ConnectOptions, Executor};

use crate::calibration::{Calibration, truth_of};
use crate::model::{QueueItem, Reading};
use crate::verdicts::{HumanVerdict, HumanVerdicts};
use crate::{DecisionRecord, FlushTimes, Result};

use bridge::Bridge;

/// The schema's migrations, in order: (version, description, SQL).
const MIGRATIONS: &[(i64, &str, &str)] = &[
    (1, "store", include_str!("migrations/0001_store.sql")),
    (
        2,
        "auto approvals",
        include_str!("migrations/0002_auto_approvals.sql"),
    ),
    (
        3,
        "outbox lease",
        include_str!("migrations/0003_outbox_lease.sql"),
    ),
    (4, "leaders", include_str!("migrations/0004_leaders.sql")),
    (
        5,
        "replica state",
        include_str!("migrations/0005_replica_state.sql"),
    ),
    (
        6,
        "decision order",
        include_str!("migrations/0006_decision_order.sql"),
    ),
    (
        7,
        "rollback asked",
        include_str!("migrations/0007_rollback_asked.sql"),
    ),
];

/// The most connections a replica holds.
const POOL_SIZE: u32 = 8;

/// How long a call waits for a free connection (or a first one) before it
/// fails: a database that does not answer must not hang the engine.
const ACQUIRE_TIMEOUT: Duration = Duration::from_secs(10);

/// The store; cheap to clone is not needed (it is shared behind an `Arc`).
pub struct PgStore {
    pub(crate) pool: PgPool,
    /// People's verdicts per module, built at connect.
    pub(crate) verdict_counts: parking_lot::Mutex<HashMap<String, HumanVerdicts>>,
    /// Kills of known truth by their evidence, built at connect.
    pub(crate) calibration: parking_lot::Mutex<Calibration>,
    pub(crate) flush_times: Arc<FlushTimes>,
    /// This connection's own name (what it leases from the outbox, and
    /// the holder of the roles it leads).
    pub(crate) instance: String,
    /// The roles this process leads: the connection holding each one's
    /// advisory lock, and the epoch it took it at.
    pub(crate) leading: parking_lot::Mutex<HashMap<String, (sqlx::PgConnection, u64)>>,
    /// The statements every kill makes, each answering concurrent calls
    /// at once.
    pub(crate) grouped: grouped::Grouped,
    /// Every module's kill times of the week (see `ledger.rs`).
    pub(crate) ledger: Arc<parking_lot::Mutex<ledger::Ledger>>,
    /// Last: the pool's sockets belong to its runtime.
    bridge: Bridge,
}

impl PgStore {
    /// Connects to `url`, applies the migrations this Medic has that the
    /// database lacks, and reads the counts kept in memory.
    pub fn connect(url: &str) -> Result<PgStore> {
        let options = PgConnectOptions::from_str(url)?
            .application_name("medic")
            .log_statements(tracing::log::LevelFilter::Trace);
        let bridge = Bridge::new()?;
        let pool = bridge.block(async {
            PgPoolOptions::new()
                .max_connections(POOL_SIZE)
                .acquire_timeout(ACQUIRE_TIMEOUT)
                .after_connect(|conn, _| {
                    Box::pin(async move {
                        conn.execute("SET synchronous_commit = off").await?;
                        Ok(())
                    })
                })
                .connect_with(options)
                .await
        })?;
        let ledger = Arc::default();
        let grouped = grouped::Grouped::start(&bridge, &pool, &ledger)?;
        let store = PgStore {
            grouped,
            ledger,
            pool,
            verdict_counts: parking_lot::Mutex::default(),
            calibration: parking_lot::Mutex::default(),
            flush_times: Arc::default(),
            instance: uuid::Uuid::new_v4().to_string(),
            leading: parking_lot::Mutex::default(),
            bridge,
        };
        store.migrate()?;
        store.load_counts()?;
        let loaded = store.run(ledger::Ledger::load(
            &store.pool,
            chrono::Utc::now().timestamp_millis(),
        ))?;
        *store.ledger.lock() = loaded;
        Ok(store)
    }

    /// Runs `f` to completion (see `bridge.rs`).
    pub(crate) fn run<F: std::future::Future>(&self, f: F) -> F::Output {
        self.bridge.block(f)
    }

    fn migrate(&self) -> Result<()> {
        let migrations = MIGRATIONS
            .iter()
            .map(|(version, description, sql)| {
                Migration::new(
                    *version,
                    Cow::Borrowed(*description),
                    MigrationType::Simple,
                    Cow::Borrowed(*sql),
                    false,
                )
            })
            .collect::<Vec<_>>();
        let migrator = Migrator {
            migrations: Cow::Owned(migrations),
            // A database a newer Medic migrated is refused, not guessed at.
            ignore_missing: false,
            ..Migrator::DEFAULT
        };
        self.run(migrator.run(&self.pool))?;
        Ok(())
    }

    /// Makes every write so far durable (with every other flush asked
    /// for meanwhile: see `grouped.rs`). Awaiting it does not hold the
    /// caller's thread.
    pub(crate) async fn flush(&self) -> Result<()> {
        let started = std::time::Instant::now();
        self.grouped.flushes.call(()).await?;
        self.flush_times.record_log.observe(started.elapsed());
        Ok(())
    }

    /// Leads `role` if no other process does: `Some(epoch)` while this
    /// one holds the role's advisory lock (on a connection kept for it),
    /// `None` while another does. A lost connection loses the role; the
    /// next call tries to take it again.
    pub(crate) fn lead(&self, role: &str) -> Result<Option<u64>> {
        use sqlx::Connection;
        let mut leading = self.leading.lock();
        if let Some((conn, epoch)) = leading.get_mut(role) {
            let epoch = *epoch;
            let alive = self.run(async {
                let held: Option<i64> =
                    sqlx::query_scalar("SELECT epoch FROM leaders WHERE role = $1 AND holder = $2")
                        .bind(role)
                        .bind(&self.instance)
                        .fetch_optional(&mut *conn)
                        .await?;
                Ok::<_, sqlx::Error>(held == i64::try_from(epoch).ok())
            });
            match alive {
                Ok(true) => return Ok(Some(epoch)),
                Ok(false) | Err(_) => {
                    tracing::warn!(
                        role,
                        epoch,
                        "Lost a leader's role (its connection or epoch is gone)"
                    );
                    leading.remove(role);
                }
            }
        }
        let pool = self.pool.clone();
        let taken = self.run(async {
            let mut conn = pool.acquire().await?.detach();
            let got: bool =
                // Keyed by the schema too (advisory locks are the
                // database's; deployments may share one in schemas of
                // their own).
                sqlx::query_scalar(
                    "SELECT pg_try_advisory_lock(hashtext('medic.leader.' || current_schema() || '.' || $1))",
                )
                    .bind(role)
                    .fetch_one(&mut conn)
                    .await?;
            if !got {
                conn.close().await?;
                return Ok::<_, sqlx::Error>(None);
            }
            let epoch: i64 = sqlx::query_scalar(
                "INSERT INTO leaders (role, epoch, holder) VALUES ($1, 1, $2) \
                 ON CONFLICT (role) DO UPDATE SET epoch = leaders.epoch + 1, holder = $2, since = now() \
                 RETURNING epoch",
            )
            .bind(role)
            .bind(&self.instance)
            .fetch_one(&mut conn)
            .await?;
            Ok(Some((conn, u64::try_from(epoch).unwrap_or(0))))
        })?;
        Ok(taken.map(|(conn, epoch)| {
            tracing::info!(role, epoch, "Leading");
            leading.insert(role.to_string(), (conn, epoch));
            epoch
        }))
    }

    /// Builds the counts kept in memory from the tables: people's verdicts
    /// per module, and the calibration from outcomes, denials and queue
    /// items that expired undecided (as the embedded store does at open).
    pub(crate) fn load_counts(&self) -> Result<()> {
        let pool = &self.pool;
        let (verdicts, outcomes, expired) = self.run(async {
            let verdicts: Vec<String> =
                sqlx::query_scalar("SELECT verdict::text FROM human_verdicts")
                    .fetch_all(pool)
                    .await?;
            let outcomes: Vec<String> = sqlx::query_scalar("SELECT record::text FROM outcomes")
                .fetch_all(pool)
                .await?;
            let expired: Vec<String> = sqlx::query_scalar(
                "SELECT d.record::text FROM queue_items q JOIN decisions d \
                 ON d.decision_id = q.item->'decision'->>'decision_id' \
                 WHERE NOT q.pending AND q.item->>'status' = 'expired'",
            )
            .fetch_all(pool)
            .await?;
            Ok::<_, sqlx::Error>((verdicts, outcomes, expired))
        })?;
        let mut counts: HashMap<String, HumanVerdicts> = HashMap::new();
        let mut c = Calibration::default();
        for v in verdicts {
            let v: HumanVerdict = json(&v)?;
            counts.entry(v.module).or_default().add(v.approved);
            if !v.approved {
                c.add(v.reading, true);
            }
        }
        for o in outcomes {
            let o: crate::model::OutcomeRecord = json(&o)?;
            if let Some(threat) = truth_of(o.result) {
                c.add(o.reading, threat);
            }
        }
        for rec in expired {
            let rec: DecisionRecord = json(&rec)?;
            c.unresolved(Reading::of(&rec.kill, rec.context.as_ref()), true);
        }
        *self.verdict_counts.lock() = counts;
        *self.calibration.lock() = c;
        Ok(())
    }

    /// The evidence of a queued kill, from its decision record.
    pub(crate) fn reading_of(&self, item: &QueueItem) -> Result<Option<Reading>> {
        use crate::Backend;
        Ok(self
            .record(&item.decision.decision_id)?
            .and_then(|r| Reading::of(&r.kill, r.context.as_ref())))
    }
}

/// A value from its JSON text.
pub(crate) fn json<T: DeserializeOwned>(text: &str) -> Result<T> {
    Ok(serde_json::from_str(text)?)
}
