//! The store's state in PostgreSQL's tables (`migrations/`): every
//! [`Backend`] method as the queries it makes. Long reads go a page at a
//! time (keyset pagination), so a scan over millions of decisions holds
//! one page in memory and no connection for longer than a page.

use std::collections::HashMap;
use std::sync::Arc;

use chrono::{DateTime, Utc};
use serde::Serialize;
use serde_json::value::RawValue;
use sqlx::{Executor, Row};

use super::grouped::{Inserted, NewDecision};
use super::replica::bump;
use super::{PgStore, json};
use crate::SWEEP_BATCH as BATCH;
use crate::backend::{Backend, Flushing};
use crate::config::raw::PluginBinding;
use crate::decisions::record_json;
use crate::model::{
    Decision, NamedValues, OutcomeRecord, PluginKind, QueueItem, QueueStatus, Reading, Resembling,
    ResurrectionRequest, wire_str,
};
use crate::replica::{CHANGE_BINDINGS, CHANGE_THRESHOLDS, RollbackAsked, Take, Taken};
use crate::{
    AuditEvent, AuditKind, DeadLetter, DecisionRecord, FlushTimes, HumanVerdict, HumanVerdicts,
    ModuleHistory, Newest, OutcomeCounts, OutcomeFilter, Response, Result, Retention, Scan,
    ScanBudget, ShadowRecord, StoreError, Stored, Swept, ThresholdChange,
};

/// A fenced write's answer: made, or refused because this process no
/// longer holds the role at `epoch`.
fn fenced(made: bool, epoch: Option<u64>) -> Result<()> {
    if made { Ok(()) } else { Err(fenced_out(epoch)) }
}

fn fenced_out(epoch: Option<u64>) -> StoreError {
    StoreError::Fenced {
        epoch: epoch.unwrap_or(0),
    }
}

/// What [`PgStore::visit_decisions`] calls with each row: the decision's
/// time (ms), its kill_id and, when asked for, the record's JSON.
type VisitRow<'a> = dyn FnMut(i64, &str, Option<&str>) -> Result<()> + 'a;

/// Rows read per page by a long scan.
const PAGE: i64 = 1_000;

pub(super) fn ms(t: DateTime<Utc>) -> i64 {
    t.timestamp_millis()
}

/// A count or limit as PostgreSQL takes it.
fn limit(n: usize) -> i64 {
    i64::try_from(n).unwrap_or(i64::MAX)
}

pub(super) fn text<T: Serialize>(v: &T) -> Result<String> {
    Ok(serde_json::to_string(v)?)
}

pub(super) fn all<T: serde::de::DeserializeOwned>(rows: Vec<String>) -> Result<Vec<T>> {
    rows.iter().map(|r| json(r)).collect()
}

/// An enum value from the name serde writes for it.
fn named<T: serde::de::DeserializeOwned>(name: &str) -> Result<T> {
    Ok(serde_json::from_value(serde_json::Value::String(
        name.to_string(),
    ))?)
}

/// Counts of outcomes from `(result, how many)` rows.
fn counts(rows: Vec<(String, i64)>) -> Result<OutcomeCounts> {
    let mut c = OutcomeCounts::default();
    for (result, n) in rows {
        c.add_n(named(&result)?, u32::try_from(n).unwrap_or(u32::MAX));
    }
    Ok(c)
}

/// How long a replica holds the responses it took from the outbox to
/// publish (far longer than a publish takes).
const OUTBOX_LEASE_MS: i64 = 30_000;

const SETTING_CURRENT: &str = "current";
const SETTING_LAST_LEARNED: &str = "last_learned_at";
const SETTING_LAST_RUN: &str = "last_learning_run_at";

impl PgStore {
    pub(super) fn setting<T: serde::de::DeserializeOwned>(&self, key: &str) -> Result<Option<T>> {
        let row: Option<String> = self.run(
            sqlx::query_scalar("SELECT value::text FROM settings WHERE key = $1")
                .bind(key)
                .fetch_optional(&self.pool),
        )?;
        row.map(|v| json(&v)).transpose()
    }

    /// Writes a setting; fenced (`fence.rs`) when the work that runs once
    /// writes it.
    fn set_setting<T: Serialize>(&self, key: &str, value: &T) -> Result<()> {
        let value = text(value)?;
        let epoch = crate::fence::epoch();
        let made = self.run(async {
            let Some(mut tx) = self.fenced_begin(epoch).await? else {
                return Ok(false);
            };
            sqlx::query(
                "INSERT INTO settings (key, value) VALUES ($1, $2::jsonb) \
                 ON CONFLICT (key) DO UPDATE SET value = EXCLUDED.value",
            )
            .bind(key)
            .bind(&value)
            .execute(&mut *tx)
            .await?;
            tx.commit().await?;
            Ok::<_, sqlx::Error>(true)
        })?;
        fenced(made, epoch)
    }

    /// Inserts a decision unless its kill was decided before (then the
    /// earlier decision comes back), with its `decision_made` event when
    /// `made` names the actor and details: one statement either way,
    /// shared with the decisions stored at the same time.
    fn insert_decision(
        &self,
        rec: &DecisionRecord,
        decision_json: &str,
        made: Option<(&str, &RawValue)>,
    ) -> Result<Stored> {
        let d = &rec.decision;
        let record = String::from_utf8(record_json(rec, decision_json)?)
            .map_err(|e| StoreError::Setup(format!("a record is not UTF-8: {e}")))?;
        let new = NewDecision {
            kill_id: d.kill_id.clone(),
            decision_id: d.decision_id.clone(),
            decided_ms: ms(d.timestamp),
            killed_ms: ms(rec.kill.timestamp),
            module: rec.kill.target_module.clone(),
            outcome: wire_str(&d.outcome),
            record,
            made: made
                .map(|(actor, details)| (Utc::now(), actor.to_string(), details.get().to_string())),
        };
        match self.run(self.grouped.inserts.call(new))? {
            Inserted::New => Ok(Stored::New),
            Inserted::Earlier(earlier) => {
                Ok(Stored::Duplicate(Box::new(json::<Decision>(&earlier)?)))
            }
        }
    }

    fn count(&self, sql: &str) -> usize {
        match self.run(sqlx::query_scalar::<_, i64>(sql).fetch_one(&self.pool)) {
            Ok(n) => usize::try_from(n).unwrap_or(0),
            Err(e) => {
                tracing::error!(error = %e, query = sql, "Store count failed");
                0
            }
        }
    }

    /// Visits the decisions made in `[from, to)` in time order, a page at
    /// a time: each row's time, kill_id and (when `records`) the record.
    fn visit_decisions(
        &self,
        from: DateTime<Utc>,
        to: DateTime<Utc>,
        records: bool,
        visit: &mut VisitRow<'_>,
    ) -> Result<()> {
        let sql = if records {
            "SELECT decided_ms, kill_id, record::text FROM decisions \
             WHERE decided_ms >= $1 AND decided_ms < $2 AND (decided_ms, kill_id) > ($3, $4) \
             ORDER BY decided_ms, kill_id LIMIT $5"
        } else {
            "SELECT decided_ms, kill_id, NULL::text FROM decisions \
             WHERE decided_ms >= $1 AND decided_ms < $2 AND (decided_ms, kill_id) > ($3, $4) \
             ORDER BY decided_ms, kill_id LIMIT $5"
        };
        let mut after = (i64::MIN, String::new());
        loop {
            let rows: Vec<(i64, String, Option<String>)> = self.run(
                sqlx::query_as(sql)
                    .bind(ms(from))
                    .bind(ms(to))
                    .bind(after.0)
                    .bind(&after.1)
                    .bind(PAGE)
                    .fetch_all(&self.pool),
            )?;
            let full = rows.len() as i64 == PAGE;
            for (t, kill_id, record) in &rows {
                visit(*t, kill_id, record.as_deref())?;
            }
            match rows.into_iter().last() {
                Some((t, kill_id, _)) if full => after = (t, kill_id),
                _ => return Ok(()),
            }
        }
    }

    /// Deletes up to [`BATCH`] rows of `table` that `condition` selects
    /// (with `$1` bound to `cut`); how many went.
    fn delete_before(&self, table: &str, condition: &str, cut: i64) -> Result<usize> {
        let sql = format!(
            "DELETE FROM {table} WHERE ctid = ANY(ARRAY(SELECT ctid FROM {table} WHERE {condition} LIMIT {BATCH}))"
        );
        let done = self.run(sqlx::query(&sql).bind(cut).execute(&self.pool))?;
        Ok(usize::try_from(done.rows_affected()).unwrap_or(usize::MAX))
    }

    /// Counts a decided item just written: an expiry of an item that was
    /// waiting in the calibration (its truth unknown), a person's verdict
    /// once per item.
    fn count_decided(&self, item: &QueueItem, was_waiting: bool) -> Result<()> {
        if was_waiting && item.status == QueueStatus::Expired {
            let reading = self.reading_of(item)?;
            self.calibration.lock().unresolved(reading, true);
        }
        self.index_human_verdict(item)
    }

    /// Indexes a person's verdict on a decided queue item, once per item.
    fn index_human_verdict(&self, item: &QueueItem) -> Result<()> {
        let Some(entry) = HumanVerdict::on(item, || self.reading_of(item))? else {
            return Ok(());
        };
        let done = self.run(
            sqlx::query(
                "INSERT INTO human_verdicts (item_id, at_ms, module, approved, verdict) \
                 VALUES ($1, $2, $3, $4, $5::jsonb) ON CONFLICT (item_id) DO NOTHING",
            )
            .bind(&entry.item_id)
            .bind(ms(entry.at))
            .bind(&entry.module)
            .bind(entry.approved)
            .bind(text(&entry)?)
            .execute(&self.pool),
        )?;
        if done.rows_affected() == 1 {
            crate::verdicts::count_new(entry, &self.verdict_counts, &self.calibration);
        }
        Ok(())
    }

    fn audit_rows(&self, sql: &str, seq: i64, n: usize) -> Result<Vec<AuditEvent>> {
        type AuditRow = (
            i64,
            DateTime<Utc>,
            String,
            Option<String>,
            Option<String>,
            String,
            String,
        );
        let rows: Vec<AuditRow> = self.run(
            sqlx::query_as(sql)
                .bind(seq)
                .bind(limit(n))
                .fetch_all(&self.pool),
        )?;
        rows.into_iter()
            .map(|(seq, at, kind, kill_id, decision_id, actor, details)| {
                Ok(AuditEvent {
                    seq: u64::try_from(seq).unwrap_or(0),
                    at,
                    kind: named(&kind)?,
                    kill_id,
                    decision_id,
                    actor,
                    details: json(&details)?,
                })
            })
            .collect()
    }
}

impl Backend for PgStore {
    fn kind(&self) -> &'static str {
        "postgres"
    }

    fn shared(&self) -> bool {
        true
    }

    fn flush(&self) -> Flushing<'_> {
        Box::pin(PgStore::flush(self))
    }

    fn flush_all(&self) -> Flushing<'_> {
        Box::pin(PgStore::flush(self))
    }

    fn healthy(&self) -> bool {
        let pool = &self.pool;
        self.run(async {
            tokio::time::timeout(std::time::Duration::from_secs(2), pool.execute("SELECT 1"))
                .await
                .is_ok_and(|r| r.is_ok())
        })
    }

    fn flush_times(&self) -> Arc<FlushTimes> {
        self.flush_times.clone()
    }

    fn lead(&self, role: &str) -> Result<Option<u64>> {
        PgStore::lead(self, role)
    }

    fn holds(&self, role: &str) -> bool {
        self.leading.lock().contains_key(role)
    }

    fn store_decision_encoded(&self, rec: &DecisionRecord, decision_json: &str) -> Result<Stored> {
        self.insert_decision(rec, decision_json, None)
    }

    fn store_decision_made(
        &self,
        rec: &DecisionRecord,
        decision_json: &str,
        actor: &str,
        details: &RawValue,
    ) -> Result<Stored> {
        self.insert_decision(rec, decision_json, Some((actor, details)))
    }

    fn record_for_kill(&self, kill_id: &str) -> Result<Option<DecisionRecord>> {
        let row = self.run(self.grouped.decided.call(kill_id.to_string()))?;
        row.map(|r| json(&r)).transpose()
    }

    fn record(&self, decision_id: &str) -> Result<Option<DecisionRecord>> {
        let row: Option<String> = self.run(
            sqlx::query_scalar("SELECT record::text FROM decisions WHERE decision_id = $1")
                .bind(decision_id)
                .fetch_optional(&self.pool),
        )?;
        row.map(|r| json(&r)).transpose()
    }

    fn kill_times_by_module(
        &self,
        from: DateTime<Utc>,
        to: DateTime<Utc>,
    ) -> Result<HashMap<String, Vec<DateTime<Utc>>>> {
        let rows: Vec<(String, i64)> = self.run(
            sqlx::query_as(
                "SELECT module, killed_ms FROM decisions \
                 WHERE killed_ms >= $1 AND killed_ms < $2 ORDER BY killed_ms",
            )
            .bind(ms(from))
            .bind(ms(to))
            .fetch_all(&self.pool),
        )?;
        let mut out: HashMap<String, Vec<DateTime<Utc>>> = HashMap::new();
        for (module, t) in rows {
            out.entry(module)
                .or_default()
                .extend(DateTime::from_timestamp_millis(t));
        }
        Ok(out)
    }

    fn records_for_module(
        &self,
        module: &str,
        from: DateTime<Utc>,
        to: DateTime<Utc>,
    ) -> Result<Vec<DecisionRecord>> {
        all(self.run(
            sqlx::query_scalar(
                "SELECT record::text FROM decisions \
                 WHERE module = $1 AND killed_ms >= $2 AND killed_ms < $3 ORDER BY killed_ms, kill_id",
            )
            .bind(module)
            .bind(ms(from))
            .bind(ms(to))
            .fetch_all(&self.pool),
        )?)
    }

    fn module_history(&self, module: &str, now: DateTime<Utc>) -> Result<ModuleHistory> {
        self.run(self.grouped.history.call((module.to_string(), ms(now))))
    }

    fn records_between(
        &self,
        from: DateTime<Utc>,
        to: DateTime<Utc>,
    ) -> Result<Vec<DecisionRecord>> {
        let mut out = Vec::new();
        self.visit_decisions(from, to, true, &mut |_, _, rec| {
            if let Some(rec) = rec {
                out.push(json(rec)?);
            }
            Ok(())
        })?;
        Ok(out)
    }

    fn visit_records_between(
        &self,
        from: DateTime<Utc>,
        to: DateTime<Utc>,
        visit: &mut dyn FnMut(&DecisionRecord),
    ) -> Result<()> {
        self.visit_decisions(from, to, true, &mut |_, _, rec| {
            if let Some(rec) = rec {
                visit(&json(rec)?);
            }
            Ok(())
        })
    }

    fn visit_decision_times(
        &self,
        from: DateTime<Utc>,
        to: DateTime<Utc>,
        visit: &mut dyn FnMut(i64),
    ) -> Result<()> {
        self.visit_decisions(from, to, false, &mut |t, _, _| {
            visit(t);
            Ok(())
        })
    }

    fn records_newest(
        &self,
        page: &Newest,
        budget: &ScanBudget,
        wanted: &dyn Fn(&DecisionRecord) -> bool,
    ) -> Result<Scan> {
        let mut scan = Scan::default();
        if page.limit == 0 {
            return Ok(scan);
        }
        // Strictly below the cursor: the greatest (time, kill_id) a page
        // may hold.
        let mut below = page
            .below
            .map(|(t, kill_id)| (ms(t), kill_id.to_string()))
            .unwrap_or((i64::MAX, String::new()));
        let unbounded = page.below.is_none();
        let mut first = true;
        loop {
            let rows: Vec<(i64, String, String)> = self.run(
                sqlx::query_as(
                    "SELECT decided_ms, kill_id, record::text FROM decisions \
                     WHERE decided_ms >= $1 AND decided_ms < $2 \
                     AND ($6 OR (decided_ms, kill_id) < ($3, $4)) \
                     AND ($5::text IS NULL OR module = $5) \
                     ORDER BY decided_ms DESC, kill_id DESC LIMIT $7",
                )
                .bind(ms(page.from))
                .bind(ms(page.to))
                .bind(below.0)
                .bind(&below.1)
                .bind(page.module)
                .bind(unbounded && first)
                .bind(PAGE)
                .fetch_all(&self.pool),
            )?;
            first = false;
            let full = rows.len() as i64 == PAGE;
            let mut last = None;
            for (t, kill_id, record) in rows {
                let rec: DecisionRecord = json(&record)?;
                if wanted(&rec) {
                    scan.records.push(rec);
                }
                if scan.records.len() >= page.limit {
                    return Ok(scan);
                }
                if budget.spent() {
                    scan.stopped = Some((t, kill_id));
                    return Ok(scan);
                }
                last = Some((t, kill_id));
            }
            match last {
                Some(l) if full => below = l,
                _ => return Ok(scan),
            }
        }
    }

    fn auto_approvals_since(&self, since: DateTime<Utc>) -> Result<Vec<DateTime<Utc>>> {
        let rows: Vec<i64> = self.run(
            sqlx::query_scalar(
                "SELECT at_ms FROM auto_approvals WHERE at_ms >= $1 AND at_ms < $2 ORDER BY at_ms",
            )
            .bind(ms(since))
            .bind(ms(Utc::now() + chrono::Duration::minutes(1)))
            .fetch_all(&self.pool),
        )?;
        Ok(rows
            .into_iter()
            .filter_map(DateTime::from_timestamp_millis)
            .collect())
    }

    fn take_resurrection(&self, take: &Take<'_>) -> Result<Taken> {
        self.take_module(take)
    }

    fn release_module(&self, module: &str, kill_id: &str) -> Result<()> {
        self.release(module, kill_id)
    }

    fn hold_flapping(&self, module: &str, until: DateTime<Utc>) -> Result<()> {
        self.flapping_until(module, until)
    }

    fn decision_count(&self) -> usize {
        self.count("SELECT count(*) FROM decisions")
    }

    fn audit_raw(
        &self,
        kind: AuditKind,
        kill_id: Option<&str>,
        decision_id: Option<&str>,
        actor: &str,
        details: &RawValue,
    ) -> Result<u64> {
        let seq: i64 = self.run(
            sqlx::query_scalar(
                "INSERT INTO audit (at, kind, kill_id, decision_id, actor, details) \
                 VALUES ($1, $2, $3, $4, $5, $6::jsonb) RETURNING seq",
            )
            .bind(Utc::now())
            .bind(wire_str(&kind))
            .bind(kill_id)
            .bind(decision_id)
            .bind(actor)
            .bind(details.get())
            .fetch_one(&self.pool),
        )?;
        Ok(u64::try_from(seq).unwrap_or(0))
    }

    fn audit_events(&self, after_seq: Option<u64>, n: usize) -> Result<Vec<AuditEvent>> {
        let after = after_seq.map_or(0, |s| i64::try_from(s).unwrap_or(i64::MAX));
        self.audit_rows(
            "SELECT seq, at, kind, kill_id, decision_id, actor, details::text FROM audit \
             WHERE seq > $1 ORDER BY seq LIMIT $2",
            after,
            n,
        )
    }

    fn audit_events_before(&self, before_seq: Option<u64>, n: usize) -> Result<Vec<AuditEvent>> {
        let before = before_seq.map_or(i64::MAX, |s| i64::try_from(s).unwrap_or(i64::MAX));
        self.audit_rows(
            "SELECT seq, at, kind, kill_id, decision_id, actor, details::text FROM audit \
             WHERE seq < $1 ORDER BY seq DESC LIMIT $2",
            before,
            n,
        )
    }

    fn dead_letter(&self, dl: &DeadLetter) -> Result<()> {
        self.run(
            sqlx::query("INSERT INTO dead_letters (at_ms, letter) VALUES ($1, $2::jsonb)")
                .bind(ms(dl.at))
                .bind(text(dl)?)
                .execute(&self.pool),
        )?;
        Ok(())
    }

    fn dead_letters_between(
        &self,
        from: DateTime<Utc>,
        to: DateTime<Utc>,
    ) -> Result<Vec<DeadLetter>> {
        all(self.run(
            sqlx::query_scalar(
                "SELECT letter::text FROM dead_letters WHERE at_ms >= $1 AND at_ms < $2 ORDER BY at_ms, id",
            )
            .bind(ms(from))
            .bind(ms(to))
            .fetch_all(&self.pool),
        )?)
    }

    fn dead_letters_count_between(&self, from: DateTime<Utc>, to: DateTime<Utc>) -> Result<usize> {
        let n: i64 = self.run(
            sqlx::query_scalar(
                "SELECT count(*) FROM dead_letters WHERE at_ms >= $1 AND at_ms < $2",
            )
            .bind(ms(from))
            .bind(ms(to))
            .fetch_one(&self.pool),
        )?;
        Ok(usize::try_from(n).unwrap_or(0))
    }

    fn put_queue_item(&self, item: &QueueItem) -> Result<()> {
        let pending = item.status == QueueStatus::Pending;
        // Whether it was waiting before this write (NULL: it was not here).
        let was_waiting: Option<bool> = self.run(
            sqlx::query_scalar(
                "WITH old AS (SELECT pending FROM queue_items WHERE item_id = $1) \
                 INSERT INTO queue_items (item_id, pending, decision_ms, item) VALUES ($1, $2, $3, $4::jsonb) \
                 ON CONFLICT (item_id) DO UPDATE SET pending = EXCLUDED.pending, \
                 decision_ms = EXCLUDED.decision_ms, item = EXCLUDED.item \
                 RETURNING (SELECT pending FROM old)",
            )
            .bind(&item.item_id)
            .bind(pending)
            .bind(ms(item.decision.timestamp))
            .bind(text(item)?)
            .fetch_one(&self.pool),
        )?;
        if !pending {
            self.count_decided(item, was_waiting == Some(true))?;
        }
        Ok(())
    }

    fn settle_queue_item(&self, item: &QueueItem) -> Result<bool> {
        if item.status == QueueStatus::Pending {
            return Ok(false);
        }
        // Decided once: the row changes only while it is still pending,
        // whichever replica gets there first. Fenced (`fence.rs`) when the
        // work that runs once (expiry) settles it.
        let row = text(item)?;
        let epoch = crate::fence::epoch();
        let done = self.run(async {
            let Some(mut tx) = self.fenced_begin(epoch).await? else {
                return Ok(None);
            };
            let done = sqlx::query(
                "UPDATE queue_items SET pending = false, decision_ms = $2, item = $3::jsonb \
                 WHERE item_id = $1 AND pending",
            )
            .bind(&item.item_id)
            .bind(ms(item.decision.timestamp))
            .bind(&row)
            .execute(&mut *tx)
            .await?;
            tx.commit().await?;
            Ok::<_, sqlx::Error>(Some(done.rows_affected()))
        })?;
        let Some(done) = done else {
            return Err(fenced_out(epoch));
        };
        if done != 1 {
            return Ok(false);
        }
        self.count_decided(item, true)?;
        Ok(true)
    }

    fn queue_item(&self, item_id: &str) -> Result<Option<QueueItem>> {
        let row: Option<String> = self.run(
            sqlx::query_scalar("SELECT item::text FROM queue_items WHERE item_id = $1")
                .bind(item_id)
                .fetch_optional(&self.pool),
        )?;
        row.map(|r| json(&r)).transpose()
    }

    fn remove_queue_item(&self, item_id: &str) -> Result<Option<QueueItem>> {
        let row: Option<String> = self.run(
            sqlx::query_scalar("DELETE FROM queue_items WHERE item_id = $1 RETURNING item::text")
                .bind(item_id)
                .fetch_optional(&self.pool),
        )?;
        row.map(|r| json(&r)).transpose()
    }

    fn pending_queue_items(&self) -> Result<Vec<QueueItem>> {
        all(self.run(
            sqlx::query_scalar("SELECT item::text FROM queue_items WHERE pending ORDER BY item_id")
                .fetch_all(&self.pool),
        )?)
    }

    fn oldest_pending_queue_item(&self) -> Result<Option<QueueItem>> {
        let row: Option<String> = self.run(
            sqlx::query_scalar(
                "SELECT item::text FROM queue_items WHERE pending ORDER BY item_id LIMIT 1",
            )
            .fetch_optional(&self.pool),
        )?;
        row.map(|r| json(&r)).transpose()
    }

    fn pending_queue_len(&self) -> usize {
        self.count("SELECT count(*) FROM queue_items WHERE pending")
    }

    fn queue_items(&self) -> Result<Vec<QueueItem>> {
        all(self.run(
            sqlx::query_scalar("SELECT item::text FROM queue_items ORDER BY item_id")
                .fetch_all(&self.pool),
        )?)
    }

    fn human_verdicts(&self, module: &str) -> HumanVerdicts {
        self.verdict_counts
            .lock()
            .get(module)
            .copied()
            .unwrap_or_default()
    }

    fn human_verdicts_between(
        &self,
        from: DateTime<Utc>,
        to: DateTime<Utc>,
    ) -> Result<Vec<HumanVerdict>> {
        all(self.run(
            sqlx::query_scalar(
                "SELECT verdict::text FROM human_verdicts \
                 WHERE at_ms >= $1 AND at_ms < $2 ORDER BY at_ms, item_id",
            )
            .bind(ms(from))
            .bind(ms(to))
            .fetch_all(&self.pool),
        )?)
    }

    fn resembling(&self, reading: Option<Reading>) -> Resembling {
        self.calibration.lock().resembling(reading)
    }

    fn put_request(&self, r: &ResurrectionRequest) -> Result<()> {
        self.write_request(r)
    }

    fn remove_request(&self, request_id: &str) -> Result<()> {
        self.run(
            sqlx::query("DELETE FROM requests WHERE request_id = $1")
                .bind(request_id)
                .execute(&self.pool),
        )?;
        Ok(())
    }

    fn request(&self, request_id: &str) -> Result<Option<ResurrectionRequest>> {
        let row: Option<String> = self.run(
            sqlx::query_scalar("SELECT request::text FROM requests WHERE request_id = $1")
                .bind(request_id)
                .fetch_optional(&self.pool),
        )?;
        row.map(|r| json(&r)).transpose()
    }

    fn requests(&self, n: usize) -> Result<Vec<ResurrectionRequest>> {
        all(self.run(
            sqlx::query_scalar(
                "SELECT request::text FROM requests ORDER BY request_id DESC LIMIT $1",
            )
            .bind(limit(n))
            .fetch_all(&self.pool),
        )?)
    }

    fn unfinished_requests(&self) -> Result<Vec<ResurrectionRequest>> {
        all(self.run(
            sqlx::query_scalar(
                "SELECT request::text FROM requests WHERE NOT final ORDER BY request_id",
            )
            .fetch_all(&self.pool),
        )?)
    }

    fn adopt_requests(&self, stale: std::time::Duration) -> Result<Vec<ResurrectionRequest>> {
        self.adopt(stale)
    }

    fn stamp_requests(&self, request_ids: &[String]) -> Result<Vec<String>> {
        self.stamp(request_ids)
    }

    fn ask_rollback(&self, request_id: &str, asked: &RollbackAsked) -> Result<bool> {
        PgStore::ask_rollback(self, request_id, asked)
    }

    fn rollbacks_asked(&self, request_ids: &[String]) -> Result<Vec<(String, RollbackAsked)>> {
        self.take_rollbacks(request_ids)
    }

    fn put_outcome(&self, o: &OutcomeRecord) -> Result<()> {
        self.run(
            sqlx::query(
                "INSERT INTO outcomes (outcome_id, recorded_ms, module, result, record) \
                 VALUES ($1, $2, $3, $4, $5::jsonb) ON CONFLICT (outcome_id) DO UPDATE \
                 SET recorded_ms = EXCLUDED.recorded_ms, module = EXCLUDED.module, \
                 result = EXCLUDED.result, record = EXCLUDED.record",
            )
            .bind(&o.outcome_id)
            .bind(ms(o.recorded_at))
            .bind(&o.target_module)
            .bind(wire_str(&o.result))
            .bind(text(o)?)
            .execute(&self.pool),
        )?;
        if let Some(threat) = crate::calibration::truth_of(o.result) {
            self.calibration.lock().add(o.reading, threat);
        }
        Ok(())
    }

    fn outcomes_between(
        &self,
        from: DateTime<Utc>,
        to: DateTime<Utc>,
    ) -> Result<Vec<OutcomeRecord>> {
        all(self.run(
            sqlx::query_scalar(
                "SELECT record::text FROM outcomes \
                 WHERE recorded_ms >= $1 AND recorded_ms < $2 ORDER BY recorded_ms, outcome_id",
            )
            .bind(ms(from))
            .bind(ms(to))
            .fetch_all(&self.pool),
        )?)
    }

    fn query_outcomes(&self, f: &OutcomeFilter, n: usize) -> Result<Vec<OutcomeRecord>> {
        let rows: Vec<String> = self.run(
            sqlx::query_scalar(
                "SELECT record::text FROM outcomes \
                 WHERE recorded_ms >= $1 AND recorded_ms < $2 \
                 AND ($3::text IS NULL OR module = $3) AND ($4::text IS NULL OR result = $4) \
                 ORDER BY recorded_ms DESC, outcome_id DESC",
            )
            .bind(f.from.map_or(i64::MIN, ms))
            .bind(f.to.map_or(i64::MAX, ms))
            .bind(f.module.as_deref())
            .bind(f.result.as_ref().map(wire_str))
            .fetch_all(&self.pool),
        )?;
        let mut out = Vec::new();
        for row in rows {
            let o: OutcomeRecord = json(&row)?;
            if f.wants(&o) {
                out.push(o);
                if out.len() >= n {
                    break;
                }
            }
        }
        out.reverse();
        Ok(out)
    }

    fn module_counts_between(
        &self,
        module: &str,
        from: DateTime<Utc>,
        to: DateTime<Utc>,
    ) -> Result<OutcomeCounts> {
        counts(
            self.run(
                sqlx::query_as(
                    "SELECT result, count(*) FROM outcomes \
                 WHERE module = $1 AND recorded_ms >= $2 AND recorded_ms < $3 GROUP BY result",
                )
                .bind(module)
                .bind(ms(from))
                .bind(ms(to))
                .fetch_all(&self.pool),
            )?,
        )
    }

    fn counts_between(&self, from: DateTime<Utc>, to: DateTime<Utc>) -> Result<OutcomeCounts> {
        counts(
            self.run(
                sqlx::query_as(
                    "SELECT result, count(*) FROM outcomes \
                 WHERE recorded_ms >= $1 AND recorded_ms < $2 GROUP BY result",
                )
                .bind(ms(from))
                .bind(ms(to))
                .fetch_all(&self.pool),
            )?,
        )
    }

    fn current_thresholds(&self) -> Result<Option<NamedValues>> {
        self.setting(SETTING_CURRENT)
    }

    fn record_threshold_change(
        &self,
        mut change: ThresholdChange,
        now_in_force: &NamedValues,
    ) -> Result<ThresholdChange> {
        let current = text(now_in_force)?;
        // Fenced (`fence.rs`) when scheduled learning makes it.
        let epoch = crate::fence::epoch();
        let made = self.run(async {
            let Some(mut tx) = self.fenced_begin(epoch).await? else {
                return Ok(false);
            };
            let id: i64 = sqlx::query_scalar("SELECT nextval('threshold_change_ids')")
                .fetch_one(&mut *tx)
                .await?;
            change.id = u64::try_from(id).unwrap_or(0);
            let row = serde_json::to_string(&change).map_err(|e| sqlx::Error::Encode(e.into()))?;
            sqlx::query("INSERT INTO threshold_changes (id, change) VALUES ($1, $2::jsonb)")
                .bind(id)
                .bind(row)
                .execute(&mut *tx)
                .await?;
            sqlx::query(
                "INSERT INTO settings (key, value) VALUES ($1, $2::jsonb) \
                 ON CONFLICT (key) DO UPDATE SET value = EXCLUDED.value",
            )
            .bind(SETTING_CURRENT)
            .bind(&current)
            .execute(&mut *tx)
            .await?;
            bump(&mut tx, CHANGE_THRESHOLDS).await?;
            tx.commit().await?;
            Ok::<_, sqlx::Error>(true)
        })?;
        fenced(made, epoch)?;
        Ok(change)
    }

    fn threshold_change(&self, id: u64) -> Result<Option<ThresholdChange>> {
        let row: Option<String> = self.run(
            sqlx::query_scalar("SELECT change::text FROM threshold_changes WHERE id = $1")
                .bind(i64::try_from(id).unwrap_or(i64::MAX))
                .fetch_optional(&self.pool),
        )?;
        row.map(|r| json(&r)).transpose()
    }

    fn threshold_change_count(&self) -> usize {
        self.count("SELECT count(*) FROM threshold_changes")
    }

    fn threshold_history(&self) -> Result<Vec<ThresholdChange>> {
        all(self.run(
            sqlx::query_scalar("SELECT change::text FROM threshold_changes ORDER BY id")
                .fetch_all(&self.pool),
        )?)
    }

    fn last_learned_at(&self) -> Result<Option<DateTime<Utc>>> {
        self.setting(SETTING_LAST_LEARNED)
    }

    fn set_last_learned_at(&self, at: DateTime<Utc>) -> Result<()> {
        self.set_setting(SETTING_LAST_LEARNED, &at)
    }

    fn last_learning_run_at(&self) -> Result<Option<DateTime<Utc>>> {
        self.setting(SETTING_LAST_RUN)
    }

    fn set_last_learning_run_at(&self, at: DateTime<Utc>) -> Result<()> {
        self.set_setting(SETTING_LAST_RUN, &at)
    }

    fn put_plugin_binding(
        &self,
        phase: &str,
        kind: PluginKind,
        binding: &PluginBinding,
    ) -> Result<()> {
        let row = text(&(phase, kind, binding))?;
        let pool = &self.pool;
        self.run(async {
            let mut tx = pool.begin().await?;
            sqlx::query(
                "INSERT INTO plugin_bindings (phase, kind, binding) VALUES ($1, $2, $3::jsonb) \
                 ON CONFLICT (phase, kind) DO UPDATE SET binding = EXCLUDED.binding",
            )
            .bind(phase)
            .bind(kind.to_string())
            .bind(row)
            .execute(&mut *tx)
            .await?;
            bump(&mut tx, CHANGE_BINDINGS).await?;
            tx.commit().await
        })?;
        Ok(())
    }

    fn refresh_counts(&self) -> Result<()> {
        self.load_counts()
    }

    fn revisions(&self) -> Result<Vec<(String, u64)>> {
        self.revision_rows()
    }

    fn stored_mode(&self) -> Result<Option<String>> {
        self.mode_setting()
    }

    fn set_stored_mode(&self, mode: &str) -> Result<()> {
        self.put_mode_setting(mode)
    }

    fn plugin_bindings(&self) -> Result<Vec<(String, PluginKind, PluginBinding)>> {
        all(self.run(
            sqlx::query_scalar("SELECT binding::text FROM plugin_bindings ORDER BY phase, kind")
                .fetch_all(&self.pool),
        )?)
    }

    fn put_shadow(&self, r: &ShadowRecord) -> Result<()> {
        self.run(
            sqlx::query(
                "INSERT INTO shadow_decisions (kill_id, decided_ms, record) VALUES ($1, $2, $3::jsonb) \
                 ON CONFLICT (kill_id) DO UPDATE SET decided_ms = EXCLUDED.decided_ms, record = EXCLUDED.record",
            )
            .bind(&r.kill_id)
            .bind(ms(r.decided_at))
            .bind(text(r)?)
            .execute(&self.pool),
        )?;
        Ok(())
    }

    fn shadows_between(&self, from: DateTime<Utc>, to: DateTime<Utc>) -> Result<Vec<ShadowRecord>> {
        all(self.run(
            sqlx::query_scalar(
                "SELECT record::text FROM shadow_decisions \
                 WHERE decided_ms >= $1 AND decided_ms < $2 ORDER BY decided_ms, kill_id",
            )
            .bind(ms(from))
            .bind(ms(to))
            .fetch_all(&self.pool),
        )?)
    }

    fn outbox_put(&self, r: &Response) -> Result<u64> {
        let seq: i64 = self.run(
            sqlx::query_scalar("INSERT INTO outbox (response) VALUES ($1::jsonb) RETURNING seq")
                .bind(text(r)?)
                .fetch_one(&self.pool),
        )?;
        Ok(u64::try_from(seq).unwrap_or(0))
    }

    fn outbox_waiting(&self, n: usize) -> Result<Vec<(u64, Response)>> {
        // Taken for a while: replicas sharing the outbox skip what another
        // is publishing, and take it over if that one dies.
        let now = ms(Utc::now());
        let mut rows = self.run(
            sqlx::query(
                "UPDATE outbox SET leased_until_ms = $2, leased_by = $4 WHERE seq IN \
                 (SELECT seq FROM outbox WHERE leased_until_ms < $3 OR leased_by = $4 \
                 ORDER BY seq LIMIT $1 FOR UPDATE SKIP LOCKED) RETURNING seq, response::text",
            )
            .bind(limit(n))
            .bind(now + OUTBOX_LEASE_MS)
            .bind(now)
            .bind(&self.instance)
            .fetch_all(&self.pool),
        )?;
        rows.sort_by_key(|row| row.try_get::<i64, _>(0).unwrap_or(i64::MAX));
        rows.iter()
            .map(|row| {
                let seq: i64 = row.try_get(0)?;
                let response: String = row.try_get(1)?;
                Ok((u64::try_from(seq).unwrap_or(0), json(&response)?))
            })
            .collect()
    }

    fn outbox_done(&self, seq: u64) -> Result<()> {
        self.run(
            sqlx::query("DELETE FROM outbox WHERE seq = $1")
                .bind(i64::try_from(seq).unwrap_or(i64::MAX))
                .execute(&self.pool),
        )?;
        Ok(())
    }

    fn outbox_len(&self) -> usize {
        self.count("SELECT count(*) FROM outbox")
    }

    fn sweep(&self, retention: &Retention, now: DateTime<Utc>) -> Result<Swept> {
        let cut = ms(now - retention.decisions);
        let audit_cut = now - retention.audit.max(retention.decisions);
        let mut s = Swept {
            queue_items: self.delete_before(
                "queue_items",
                "NOT pending AND decision_ms < $1",
                cut,
            )?,
            verdicts: self.delete_before("human_verdicts", "at_ms < $1", cut)?,
            outcomes: self.delete_before("outcomes", "recorded_ms < $1", cut)?,
            shadow_decisions: self.delete_before("shadow_decisions", "decided_ms < $1", cut)?,
            dead_letters: self.delete_before("dead_letters", "at_ms < $1", cut)?,
            requests: self.delete_before("requests", "final AND created_ms < $1", cut)?,
            decisions: self.delete_before("decisions", "decided_ms < $1", cut)?,
            audit_events: self.delete_before(
                "audit",
                "at < to_timestamp($1::double precision / 1000)",
                ms(audit_cut),
            )?,
            ..Swept::default()
        };
        // Kept a day: the cap looks back an hour.
        self.delete_before(
            "auto_approvals",
            "at_ms < $1",
            ms(now - chrono::Duration::days(1)),
        )?;
        s.more = [
            s.queue_items,
            s.verdicts,
            s.outcomes,
            s.shadow_decisions,
            s.dead_letters,
            s.requests,
            s.decisions,
            s.audit_events,
        ]
        .contains(&BATCH);
        if s.queue_items + s.verdicts + s.outcomes > 0 {
            // The counts in memory, as a reconnect would build them.
            self.load_counts()?;
        }
        Ok(s)
    }
}
