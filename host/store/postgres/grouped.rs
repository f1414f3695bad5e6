//! The statements every kill makes, grouped ([`super::batch`]): whether
//! its kill_id was decided before, its module's kill counts, and its
//! decision (with its `decision_made` audit event). Each answers a batch
//! of calls over arrays (`unnest`), in the calls' order.

use std::collections::HashMap;

use chrono::{DateTime, Utc};
use sqlx::PgPool;

use std::sync::Arc;

use super::batch::Batcher;
use super::bridge::Bridge;
use super::ledger::{self, Ledger};
use crate::{ModuleHistory, Result, StoreError};

/// A decision to store.
pub(crate) struct NewDecision {
    pub(crate) kill_id: String,
    pub(crate) decision_id: String,
    pub(crate) decided_ms: i64,
    pub(crate) killed_ms: i64,
    pub(crate) module: String,
    pub(crate) outcome: &'static str,
    /// The whole record's JSON.
    pub(crate) record: String,
    /// Its `decision_made` event, when it has one: when, by whom, details.
    pub(crate) made: Option<(DateTime<Utc>, String, String)>,
}

/// What became of a decision to store.
pub(crate) enum Inserted {
    New,
    /// Its kill was decided before: that decision's JSON.
    Earlier(String),
}

pub(crate) struct Grouped {
    /// A kill_id's stored record (JSON), if decided.
    pub(crate) decided: Batcher<String, Option<String>>,
    /// A module's kill counts before a time (ms).
    pub(crate) history: Batcher<(String, i64), ModuleHistory>,
    pub(crate) inserts: Batcher<NewDecision, Inserted>,
    /// Makes every write before it durable (the commits before a commit
    /// that waits for the disk are on the disk with it).
    pub(crate) flushes: Batcher<(), ()>,
}

impl Grouped {
    pub(crate) fn start(
        bridge: &Bridge,
        pool: &PgPool,
        ledger: &Arc<parking_lot::Mutex<Ledger>>,
    ) -> Result<Grouped> {
        let gone = || StoreError::Setup("the PostgreSQL store's runtime is shut down".into());
        let p = pool.clone();
        let decided = Batcher::start(bridge, move |kill_ids| decided(p.clone(), kill_ids))
            .ok_or_else(gone)?;
        let (p, l) = (pool.clone(), ledger.clone());
        let history = Batcher::start(bridge, move |asked| history(p.clone(), l.clone(), asked))
            .ok_or_else(gone)?;
        let (p, l) = (pool.clone(), ledger.clone());
        let inserts = Batcher::start(bridge, move |new| insert(p.clone(), l.clone(), new))
            .ok_or_else(gone)?;
        let p = pool.clone();
        let flushes =
            Batcher::start(bridge, move |asked| flush(p.clone(), asked)).ok_or_else(gone)?;
        Ok(Grouped {
            decided,
            history,
            inserts,
            flushes,
        })
    }
}

async fn decided(pool: PgPool, kill_ids: Vec<String>) -> sqlx::Result<Vec<Option<String>>> {
    // Planned for each batch (not a prepared plan kept per connection):
    // a plan made while the table was nearly empty scans all of it for
    // each batch once it is not, and PostgreSQL may keep that plan.
    let rows: Vec<(String, String)> =
        sqlx::query_as("SELECT kill_id, record::text FROM decisions WHERE kill_id = ANY($1)")
            .bind(&kill_ids)
            .persistent(false)
            .fetch_all(&pool)
            .await?;
    let found: HashMap<String, String> = rows.into_iter().collect();
    // A kill_id asked twice in a batch gets its record twice.
    Ok(kill_ids.iter().map(|k| found.get(k).cloned()).collect())
}

/// Counted from the kill times each replica keeps (`ledger.rs`), once
/// they hold every decision stored before this batch.
async fn history(
    pool: PgPool,
    ledger: Arc<parking_lot::Mutex<Ledger>>,
    asked: Vec<(String, i64)>,
) -> sqlx::Result<Vec<ModuleHistory>> {
    ledger::catch_up(&pool, &ledger).await?;
    let ledger = ledger.lock();
    Ok(asked
        .iter()
        .map(|(module, now)| ledger.history(module, *now))
        .collect())
}

/// Inserts the decisions whose kill was not decided before (of two for
/// one kill in a batch, the first), each new one's `decision_made` event
/// beside it in the same statement; the others get the decision stored.
async fn insert(
    pool: PgPool,
    ledger: Arc<parking_lot::Mutex<Ledger>>,
    new: Vec<NewDecision>,
) -> sqlx::Result<Vec<Inserted>> {
    let mut cols = Columns::default();
    for d in &new {
        cols.kill_id.push(d.kill_id.as_str());
        cols.decision_id.push(d.decision_id.as_str());
        cols.decided_ms.push(d.decided_ms);
        cols.killed_ms.push(d.killed_ms);
        cols.module.push(d.module.as_str());
        cols.outcome.push(d.outcome);
        cols.record.push(d.record.as_str());
        cols.at.push(d.made.as_ref().map(|m| m.0));
        cols.actor.push(d.made.as_ref().map(|m| m.1.as_str()));
        cols.details.push(d.made.as_ref().map(|m| m.2.as_str()));
    }
    let stored: Vec<(String, i64)> = sqlx::query_as(
        "WITH input AS ( \
           SELECT * FROM unnest($1::text[], $2::text[], $3::int8[], $4::int8[], $5::text[], \
             $6::text[], $7::text[], $8::timestamptz[], $9::text[], $10::text[]) WITH ORDINALITY \
             AS t(kill_id, decision_id, decided_ms, killed_ms, module, outcome, record, at, actor, details, i)), \
         d AS ( \
           INSERT INTO decisions (kill_id, decision_id, decided_ms, killed_ms, module, outcome, record) \
           SELECT kill_id, decision_id, decided_ms, killed_ms, module, outcome, record::jsonb \
           FROM input ORDER BY i \
           ON CONFLICT (kill_id) DO NOTHING RETURNING decision_id, seq), \
         a AS ( \
           INSERT INTO audit (at, kind, kill_id, decision_id, actor, details) \
           SELECT input.at, $11, input.kill_id, input.decision_id, input.actor, input.details::jsonb \
           FROM d JOIN input USING (decision_id) WHERE input.details IS NOT NULL ORDER BY input.i) \
         SELECT decision_id, seq FROM d",
    )
    .bind(&cols.kill_id)
    .bind(&cols.decision_id)
    .bind(&cols.decided_ms)
    .bind(&cols.killed_ms)
    .bind(&cols.module)
    .bind(&cols.outcome)
    .bind(&cols.record)
    .bind(&cols.at)
    .bind(&cols.actor)
    .bind(&cols.details)
    .bind(crate::model::wire_str(&crate::AuditKind::DecisionMade))
    .fetch_all(&pool)
    .await?;
    let stored: HashMap<String, i64> = stored.into_iter().collect();
    {
        let mut ledger = ledger.lock();
        for d in &new {
            if let Some(seq) = stored.get(&d.decision_id) {
                ledger.stored(*seq, &d.module, d.killed_ms);
            }
        }
    }
    let before: Vec<&str> = new
        .iter()
        .filter(|d| !stored.contains_key(&d.decision_id))
        .map(|d| d.kill_id.as_str())
        .collect();
    let earlier: HashMap<String, String> = if before.is_empty() {
        HashMap::new()
    } else {
        sqlx::query_as(
            "SELECT kill_id, (record->'decision')::text FROM decisions WHERE kill_id = ANY($1)",
        )
        .bind(&before)
        .fetch_all(&pool)
        .await?
        .into_iter()
        .collect()
    };
    new.iter()
        .map(|d| {
            if stored.contains_key(&d.decision_id) {
                return Ok(Inserted::New);
            }
            earlier
                .get(&d.kill_id)
                .cloned()
                .map(Inserted::Earlier)
                .ok_or_else(|| {
                    sqlx::Error::Protocol(format!(
                        "kill {} was neither stored nor found stored",
                        d.kill_id
                    ))
                })
        })
        .collect()
}

/// One transaction that waits for the WAL to reach the disk, in one round
/// trip (a simple query may hold several statements): it holds every
/// commit before it, so one serves every flush asked for meanwhile. An id
/// makes the commit write a record, and so wait.
async fn flush(pool: PgPool, asked: Vec<()>) -> sqlx::Result<Vec<()>> {
    use sqlx::Executor;
    pool.execute("BEGIN; SET LOCAL synchronous_commit = on; SELECT txid_current(); COMMIT")
        .await?;
    Ok(asked)
}

/// A batch of decisions as the arrays `unnest` takes.
#[derive(Default)]
struct Columns<'a> {
    kill_id: Vec<&'a str>,
    decision_id: Vec<&'a str>,
    decided_ms: Vec<i64>,
    killed_ms: Vec<i64>,
    module: Vec<&'a str>,
    outcome: Vec<&'a str>,
    record: Vec<&'a str>,
    at: Vec<Option<DateTime<Utc>>>,
    actor: Vec<Option<&'a str>>,
    details: Vec<Option<&'a str>>,
}
