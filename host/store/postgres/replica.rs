//! The PostgreSQL store's part in what replicas agree on
//! ([`crate::replica`]): a module's resurrection taken under its row's
//! lock (with the hourly cap's), requests run by one owner that stamps
//! them, and the revisions of the changes every replica applies.

use chrono::{DateTime, Utc};
use sqlx::{Postgres, Transaction};

use super::PgStore;
use super::tables::{all, ms, text};
use crate::model::ResurrectionRequest;
use crate::replica::{Held, RollbackAsked, Take, Taken, UNSTORED_CLAIM};
use crate::{Result, StoreError};

/// The key of the stored mode in `settings`.
const SETTING_MODE: &str = "mode";

fn at(ms: i64) -> DateTime<Utc> {
    DateTime::from_timestamp_millis(ms).unwrap_or_default()
}

fn millis(d: std::time::Duration) -> i64 {
    i64::try_from(d.as_millis()).unwrap_or(i64::MAX)
}

/// Raises the revision of `kind` within `tx`.
pub(super) async fn bump(tx: &mut Transaction<'_, Postgres>, kind: &str) -> sqlx::Result<()> {
    sqlx::query(
        "INSERT INTO revisions (kind, revision) VALUES ($1, 1) \
         ON CONFLICT (kind) DO UPDATE SET revision = revisions.revision + 1",
    )
    .bind(kind)
    .execute(&mut **tx)
    .await?;
    Ok(())
}

impl PgStore {
    /// A transaction for a write the work that runs once may make, when
    /// this process still holds that role at `epoch` (the epoch the
    /// calling thread's writes are fenced by, `fence.rs`; any transaction
    /// when they are not fenced); `None` when it does not. The role's row
    /// stays locked until the transaction ends: a replica taking the role
    /// over waits for this write to commit, and the writes after it find
    /// the new epoch.
    pub(super) async fn fenced_begin(
        &self,
        epoch: Option<u64>,
    ) -> sqlx::Result<Option<Transaction<'static, Postgres>>> {
        let mut tx = self.pool.begin().await?;
        let Some(epoch) = epoch else {
            return Ok(Some(tx));
        };
        let held: Option<i32> = sqlx::query_scalar(
            "SELECT 1 FROM leaders WHERE role = $1 AND epoch = $2 AND holder = $3 FOR SHARE",
        )
        .bind(crate::SINGLETON_ROLE)
        .bind(i64::try_from(epoch).unwrap_or(i64::MAX))
        .bind(&self.instance)
        .fetch_optional(&mut *tx)
        .await?;
        Ok(held.map(|_| tx))
    }

    pub(super) fn take_module(&self, t: &Take<'_>) -> Result<Taken> {
        let pool = &self.pool;
        let now = ms(t.now);
        Ok(self.run(async {
            let mut tx = pool.begin().await?;
            // The module's row, locked until commit: takers of one module
            // go one at a time across every replica.
            sqlx::query("INSERT INTO modules (module) VALUES ($1) ON CONFLICT (module) DO NOTHING")
                .bind(t.module)
                .execute(&mut *tx)
                .await?;
            let (busy_kill, busy_since, last, flapping): (Option<String>, i64, i64, i64) =
                sqlx::query_as(
                    "SELECT busy_kill, busy_since_ms, last_resurrected_ms, flapping_until_ms \
                     FROM modules WHERE module = $1 FOR UPDATE",
                )
                .bind(t.module)
                .fetch_one(&mut *tx)
                .await?;
            if busy_kill.as_deref() == Some(t.kill_id) {
                // Taken for this kill already (a retry): still its own.
                return Ok::<_, sqlx::Error>(Taken::Granted);
            }
            if let Some(kill_id) = busy_kill {
                // Busy while its request runs; a claim whose request never
                // got stored (its replica died between) holds for a while.
                let (running, stored): (Option<bool>, i64) = sqlx::query_as(
                    "SELECT bool_or(NOT final), count(*) FROM requests WHERE kill_id = $1",
                )
                .bind(&kill_id)
                .fetch_one(&mut *tx)
                .await?;
                if running == Some(true)
                    || (stored == 0 && busy_since > now - millis(UNSTORED_CLAIM))
                {
                    return Ok(Taken::Held(Held::Busy { kill_id }));
                }
            }
            if let Some(auto) = t.automatic {
                if flapping > now {
                    return Ok(Taken::Held(Held::Flapping {
                        until: at(flapping),
                    }));
                }
                let until = last.saturating_add(millis(auto.cooldown));
                if last > 0 && until > now {
                    return Ok(Taken::Held(Held::Cooldown {
                        at: at(last),
                        until: at(until),
                    }));
                }
                // The hour's cap, one taker at a time (after the module's
                // lock, always in this order).
                // Keyed by the schema too: advisory locks are the
                // database's, and deployments may share one in schemas of
                // their own.
                sqlx::query(
                    "SELECT pg_advisory_xact_lock(hashtext('medic.auto_approvals.' || current_schema()))",
                )
                    .execute(&mut *tx)
                    .await?;
                let taken: i64 =
                    sqlx::query_scalar("SELECT count(*) FROM auto_approvals WHERE at_ms > $1")
                        .bind(now - 3_600_000)
                        .fetch_one(&mut *tx)
                        .await?;
                if taken >= i64::from(auto.cap) {
                    return Ok(Taken::CapReached);
                }
                sqlx::query(
                    "INSERT INTO auto_approvals (kill_id, at_ms) VALUES ($1, $2) \
                     ON CONFLICT (kill_id) DO NOTHING",
                )
                .bind(t.kill_id)
                .bind(now)
                .execute(&mut *tx)
                .await?;
            }
            sqlx::query(
                "UPDATE modules SET busy_kill = $2, busy_since_ms = $3, \
                 last_resurrected_ms = GREATEST(last_resurrected_ms, $3) WHERE module = $1",
            )
            .bind(t.module)
            .bind(t.kill_id)
            .bind(now)
            .execute(&mut *tx)
            .await?;
            tx.commit().await?;
            Ok(Taken::Granted)
        })?)
    }

    pub(super) fn release(&self, module: &str, kill_id: &str) -> Result<()> {
        self.run(
            sqlx::query("UPDATE modules SET busy_kill = NULL WHERE module = $1 AND busy_kill = $2")
                .bind(module)
                .bind(kill_id)
                .execute(&self.pool),
        )?;
        Ok(())
    }

    pub(super) fn flapping_until(&self, module: &str, until: DateTime<Utc>) -> Result<()> {
        self.run(
            sqlx::query(
                "INSERT INTO modules (module, flapping_until_ms) VALUES ($1, $2) \
                 ON CONFLICT (module) DO UPDATE SET \
                 flapping_until_ms = GREATEST(modules.flapping_until_ms, EXCLUDED.flapping_until_ms)",
            )
            .bind(module)
            .bind(ms(until))
            .execute(&self.pool),
        )?;
        Ok(())
    }

    /// Stores a request this process runs: a new one becomes its own; a
    /// known one is written only while it still is (another replica that
    /// took it over owns its writes).
    pub(super) fn write_request(&self, r: &ResurrectionRequest) -> Result<()> {
        let done = self.run(
            sqlx::query(
                "INSERT INTO requests (request_id, final, created_ms, request, kill_id, owner, heartbeat_ms) \
                 VALUES ($1, $2, $3, $4::jsonb, $5, $6, $7) \
                 ON CONFLICT (request_id) DO UPDATE SET final = EXCLUDED.final, \
                 request = EXCLUDED.request, heartbeat_ms = EXCLUDED.heartbeat_ms \
                 WHERE requests.owner IS NULL OR requests.owner = EXCLUDED.owner",
            )
            .bind(&r.request_id)
            .bind(r.state.is_final())
            .bind(ms(r.created_at))
            .bind(text(r)?)
            .bind(&r.kill_id)
            .bind(&self.instance)
            .bind(ms(Utc::now()))
            .execute(&self.pool),
        )?;
        if done.rows_affected() == 0 {
            return Err(StoreError::TakenOver {
                request_id: r.request_id.clone(),
            });
        }
        Ok(())
    }

    pub(super) fn adopt(&self, stale: std::time::Duration) -> Result<Vec<ResurrectionRequest>> {
        let now = ms(Utc::now());
        let rows: Vec<(i64, String)> = self.run(
            sqlx::query_as(
                "UPDATE requests SET owner = $1, heartbeat_ms = $2 WHERE request_id IN \
                 (SELECT request_id FROM requests WHERE NOT final AND heartbeat_ms < $3 \
                  FOR UPDATE SKIP LOCKED) \
                 RETURNING created_ms, request::text",
            )
            .bind(&self.instance)
            .bind(now)
            .bind(now - millis(stale))
            .fetch_all(&self.pool),
        )?;
        let mut rows = rows;
        rows.sort_by_key(|(created, _)| *created);
        all(rows.into_iter().map(|(_, r)| r).collect())
    }

    pub(super) fn stamp(&self, request_ids: &[String]) -> Result<Vec<String>> {
        if request_ids.is_empty() {
            return Ok(Vec::new());
        }
        let held: Vec<String> = self.run(
            sqlx::query_scalar(
                "UPDATE requests SET heartbeat_ms = $2 WHERE owner = $1 AND request_id = ANY($3) \
                 RETURNING request_id",
            )
            .bind(&self.instance)
            .bind(ms(Utc::now()))
            .bind(request_ids)
            .fetch_all(&self.pool),
        )?;
        Ok(request_ids
            .iter()
            .filter(|id| !held.contains(id))
            .cloned()
            .collect())
    }

    pub(super) fn ask_rollback(&self, request_id: &str, asked: &RollbackAsked) -> Result<bool> {
        let done = self.run(
            sqlx::query(
                "UPDATE requests SET rollback_asked = $2::jsonb WHERE request_id = $1 AND NOT final",
            )
            .bind(request_id)
            .bind(super::tables::text(asked)?)
            .execute(&self.pool),
        )?;
        Ok(done.rows_affected() == 1)
    }

    pub(super) fn take_rollbacks(
        &self,
        request_ids: &[String],
    ) -> Result<Vec<(String, RollbackAsked)>> {
        if request_ids.is_empty() {
            return Ok(Vec::new());
        }
        let rows: Vec<(String, String)> = self.run(
            sqlx::query_as(
                // What was asked, as it was before it is cleared.
                "UPDATE requests SET rollback_asked = NULL FROM ( \
                   SELECT request_id, rollback_asked FROM requests \
                   WHERE owner = $1 AND request_id = ANY($2) AND rollback_asked IS NOT NULL \
                   FOR UPDATE) asked \
                 WHERE requests.request_id = asked.request_id \
                 RETURNING asked.request_id, asked.rollback_asked::text",
            )
            .bind(&self.instance)
            .bind(request_ids)
            .fetch_all(&self.pool),
        )?;
        rows.into_iter()
            .map(|(id, asked)| Ok((id, super::json(&asked)?)))
            .collect()
    }

    pub(super) fn revision_rows(&self) -> Result<Vec<(String, u64)>> {
        let rows: Vec<(String, i64)> = self.run(
            sqlx::query_as("SELECT kind, revision FROM revisions ORDER BY kind")
                .fetch_all(&self.pool),
        )?;
        Ok(rows
            .into_iter()
            .map(|(k, r)| (k, u64::try_from(r).unwrap_or(0)))
            .collect())
    }

    pub(super) fn mode_setting(&self) -> Result<Option<String>> {
        self.setting(SETTING_MODE)
    }

    pub(super) fn put_mode_setting(&self, mode: &str) -> Result<()> {
        let value = text(&mode)?;
        let pool = &self.pool;
        self.run(async {
            let mut tx = pool.begin().await?;
            sqlx::query(
                "INSERT INTO settings (key, value) VALUES ($1, $2::jsonb) \
                 ON CONFLICT (key) DO UPDATE SET value = EXCLUDED.value",
            )
            .bind(SETTING_MODE)
            .bind(value)
            .execute(&mut *tx)
            .await?;
            bump(&mut tx, crate::replica::CHANGE_MODE).await?;
            tx.commit().await
        })?;
        Ok(())
    }
}
