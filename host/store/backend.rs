//! What a store backend keeps and answers: every kind of state Medic
//! holds, as one trait. [`crate::Store`] wraps one backend, chosen by
//! `learning.database.type` (`sled`: embedded, one process;
//! `postgres`: shared by replicas), so the engine, the API and the
//! commands never name one.
//!
//! Methods are synchronous: sled answers in microseconds, and the
//! PostgreSQL backend runs its queries on its own runtime
//! (`postgres/bridge.rs`), so either may be called from a tokio worker or
//! from a plain thread. [`Backend::flush`] is the one wait: it makes
//! every write so far durable, and callers await it before acknowledging.

use std::collections::HashMap;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;

use chrono::{DateTime, Utc};

use crate::config::raw::PluginBinding;
use crate::model::{
    NamedValues, OutcomeRecord, PluginKind, QueueItem, Reading, Resembling, ResurrectionRequest,
};
use crate::replica::{RollbackAsked, Take, Taken};
use crate::{
    AuditEvent, AuditKind, DeadLetter, DecisionRecord, FlushTimes, HumanVerdict, HumanVerdicts,
    ModuleHistory, Newest, OutcomeCounts, OutcomeFilter, Response, Result, Retention, Scan,
    ScanBudget, ShadowRecord, Stored, Swept, ThresholdChange,
};

/// A flush under way.
pub type Flushing<'a> = Pin<Box<dyn Future<Output = Result<()>> + Send + 'a>>;

/// Every kind of state Medic keeps. Implemented by the sled store
/// ([`crate::SledStore`]) and the PostgreSQL store
/// ([`crate::postgres::PgStore`]); the contract tests run one suite
/// against both (`tests/integration/store_backends.rs`).
pub trait Backend: Send + Sync {
    /// `sled` or `postgres` (for `/health` and logs).
    fn kind(&self) -> &'static str;
    /// Whether other processes may write to this store at the same time
    /// (replicas sharing PostgreSQL); a sled store has one process.
    fn shared(&self) -> bool;
    /// Makes every write so far durable. Await before acknowledging.
    fn flush(&self) -> Flushing<'_>;
    /// [`Backend::flush`], and whatever else a clean shutdown leaves tidy.
    fn flush_all(&self) -> Flushing<'_>;
    /// Whether the store answers (for health checks).
    fn healthy(&self) -> bool;
    /// How long each part of a flush took (for `/metrics`).
    fn flush_times(&self) -> Arc<FlushTimes>;
    /// Whether this process does the work of `role` that must run once
    /// (`Some(epoch)`) or another process sharing the store does (`None`).
    /// One process holds a sled store, so it leads every role (epoch 1);
    /// replicas sharing PostgreSQL elect one by an advisory lock, and the
    /// epoch goes up each time the role changes hands.
    fn lead(&self, role: &str) -> Result<Option<u64>>;
    /// Whether this process held `role` when it last asked ([`Backend::lead`]),
    /// without asking the store again.
    fn holds(&self, role: &str) -> bool;

    // Decisions, one per kill_id.
    /// Stores a decided kill unless its kill_id was decided before, in
    /// which case the earlier decision comes back. `decision_json` is the
    /// decision's JSON, which the caller has already.
    fn store_decision_encoded(&self, rec: &DecisionRecord, decision_json: &str) -> Result<Stored>;
    /// [`Backend::store_decision_encoded`], and when the decision is new
    /// its `decision_made` audit event by `actor` with `details`: in one
    /// round trip where the backend can (PostgreSQL), so the event is
    /// never missing beside a decision stored.
    fn store_decision_made(
        &self,
        rec: &DecisionRecord,
        decision_json: &str,
        actor: &str,
        details: &serde_json::value::RawValue,
    ) -> Result<Stored> {
        let stored = self.store_decision_encoded(rec, decision_json)?;
        if matches!(stored, Stored::New) {
            let d = &rec.decision;
            self.audit_raw(
                AuditKind::DecisionMade,
                Some(&d.kill_id),
                Some(&d.decision_id),
                actor,
                details,
            )?;
        }
        Ok(stored)
    }
    /// The decision record of a kill already decided, if any.
    fn record_for_kill(&self, kill_id: &str) -> Result<Option<DecisionRecord>>;
    /// A decision's record by the decision's id.
    fn record(&self, decision_id: &str) -> Result<Option<DecisionRecord>>;
    /// Every module's kill times in `[from, to)`, oldest first.
    fn kill_times_by_module(
        &self,
        from: DateTime<Utc>,
        to: DateTime<Utc>,
    ) -> Result<HashMap<String, Vec<DateTime<Utc>>>>;
    /// A module's decided kills stamped in `[from, to)`, oldest first.
    fn records_for_module(
        &self,
        module: &str,
        from: DateTime<Utc>,
        to: DateTime<Utc>,
    ) -> Result<Vec<DecisionRecord>>;
    /// Counts a module's kills in the hour, day and week before `now`.
    fn module_history(&self, module: &str, now: DateTime<Utc>) -> Result<ModuleHistory>;
    /// Decisions made in `[from, to)`, oldest first (a short range).
    fn records_between(
        &self,
        from: DateTime<Utc>,
        to: DateTime<Utc>,
    ) -> Result<Vec<DecisionRecord>>;
    /// Visits the decisions made in `[from, to)`, a record at a time.
    fn visit_records_between(
        &self,
        from: DateTime<Utc>,
        to: DateTime<Utc>,
        visit: &mut dyn FnMut(&DecisionRecord),
    ) -> Result<()>;
    /// Visits the times (ms) of the decisions made in `[from, to)`.
    fn visit_decision_times(
        &self,
        from: DateTime<Utc>,
        to: DateTime<Utc>,
        visit: &mut dyn FnMut(i64),
    ) -> Result<()>;
    /// The newest decisions `page` asks for that `wanted` accepts, newest
    /// first, stopping where `budget` runs out.
    fn records_newest(
        &self,
        page: &Newest,
        budget: &ScanBudget,
        wanted: &dyn Fn(&DecisionRecord) -> bool,
    ) -> Result<Scan>;
    /// Auto-approvals counted towards the hourly cap since `since`, oldest
    /// first: decided ones (sled), or taken by any replica (PostgreSQL,
    /// [`Backend::take_resurrection`]).
    fn auto_approvals_since(&self, since: DateTime<Utc>) -> Result<Vec<DateTime<Utc>>>;
    /// Takes the resurrection of `take.module` for `take.kill_id`, under
    /// the guardrails every process sharing the store must agree on (see
    /// [`crate::replica`]): granted, the module is busy with the kill until
    /// [`Backend::release_module`], and an automatic one counts towards the
    /// hour's cap. A store one process holds grants every take: that
    /// process's own guardrails are the whole truth.
    fn take_resurrection(&self, take: &Take<'_>) -> Result<Taken>;
    /// The kill's resurrection of `module` ended: the module is free.
    fn release_module(&self, module: &str, kill_id: &str) -> Result<()>;
    /// The flapping guardrail tripped for `module`: no process resurrects
    /// it automatically until `until`.
    fn hold_flapping(&self, module: &str, until: DateTime<Utc>) -> Result<()>;
    /// How many kills have a decision.
    fn decision_count(&self) -> usize;

    // The audit log.
    /// Appends an event; returns its sequence number.
    fn audit_raw(
        &self,
        kind: AuditKind,
        kill_id: Option<&str>,
        decision_id: Option<&str>,
        actor: &str,
        details: &serde_json::value::RawValue,
    ) -> Result<u64>;
    /// Events after `after_seq`, oldest first, at most `limit`.
    fn audit_events(&self, after_seq: Option<u64>, limit: usize) -> Result<Vec<AuditEvent>>;
    /// Events before `before_seq`, newest first, at most `limit`.
    fn audit_events_before(&self, before_seq: Option<u64>, limit: usize)
    -> Result<Vec<AuditEvent>>;

    // Dead letters.
    fn dead_letter(&self, dl: &DeadLetter) -> Result<()>;
    fn dead_letters_between(
        &self,
        from: DateTime<Utc>,
        to: DateTime<Utc>,
    ) -> Result<Vec<DeadLetter>>;
    fn dead_letters_count_between(&self, from: DateTime<Utc>, to: DateTime<Utc>) -> Result<usize>;

    // The approval queue.
    /// Writes an item as its status says (pending, or decided and kept).
    fn put_queue_item(&self, item: &QueueItem) -> Result<()>;
    /// Writes a decided item (approved, denied, expired) only if the store
    /// still holds it pending; `false` when it was decided meanwhile (by
    /// another process sharing the store), and nothing is written.
    fn settle_queue_item(&self, item: &QueueItem) -> Result<bool>;
    fn queue_item(&self, item_id: &str) -> Result<Option<QueueItem>>;
    /// Removes an item, whatever its status.
    fn remove_queue_item(&self, item_id: &str) -> Result<Option<QueueItem>>;
    /// Items still waiting, oldest first.
    fn pending_queue_items(&self) -> Result<Vec<QueueItem>>;
    fn oldest_pending_queue_item(&self) -> Result<Option<QueueItem>>;
    fn pending_queue_len(&self) -> usize;
    /// Every item, oldest first.
    fn queue_items(&self) -> Result<Vec<QueueItem>>;

    // People's verdicts on queued kills.
    /// Kills of `module` that people approved and denied.
    fn human_verdicts(&self, module: &str) -> HumanVerdicts;
    fn human_verdicts_between(
        &self,
        from: DateTime<Utc>,
        to: DateTime<Utc>,
    ) -> Result<Vec<HumanVerdict>>;
    /// What the kills of known truth say of one with this evidence.
    fn resembling(&self, reading: Option<Reading>) -> Resembling;
    /// Reads again, from what every process sharing the store wrote, the
    /// counts kept in memory (people's verdicts per module, the
    /// calibration). A store one process holds has them all already.
    fn refresh_counts(&self) -> Result<()>;

    // Resurrection requests.
    fn put_request(&self, r: &ResurrectionRequest) -> Result<()>;
    fn remove_request(&self, request_id: &str) -> Result<()>;
    fn request(&self, request_id: &str) -> Result<Option<ResurrectionRequest>>;
    /// The newest `limit` requests, newest first.
    fn requests(&self, limit: usize) -> Result<Vec<ResurrectionRequest>>;
    /// Requests not in a final state, oldest first.
    fn unfinished_requests(&self) -> Result<Vec<ResurrectionRequest>>;
    /// Unfinished requests no live process runs, which are this process's
    /// to finish from now on, oldest first: every unfinished one of a store
    /// one process holds (call it at start-up); of a shared store, those
    /// whose owner has not stamped them ([`Backend::stamp_requests`]) for
    /// `stale`.
    fn adopt_requests(&self, stale: std::time::Duration) -> Result<Vec<ResurrectionRequest>>;
    /// Stamps the requests this process runs as alive; returns those of
    /// them another process has taken over (this one must stop running
    /// them: its writes to them are refused).
    fn stamp_requests(&self, request_ids: &[String]) -> Result<Vec<String>>;
    /// Asks the process running an unfinished request to roll it back
    /// (a store processes share; it reads the ask with
    /// [`Backend::rollbacks_asked`]). `false` when the request is
    /// finished, unknown, or the store is one process's (that process
    /// runs every request itself).
    fn ask_rollback(&self, _request_id: &str, _asked: &RollbackAsked) -> Result<bool> {
        Ok(false)
    }
    /// Takes the rollbacks asked of the requests this process runs among
    /// `request_ids`.
    fn rollbacks_asked(&self, _request_ids: &[String]) -> Result<Vec<(String, RollbackAsked)>> {
        Ok(Vec::new())
    }

    // Outcomes.
    fn put_outcome(&self, o: &OutcomeRecord) -> Result<()>;
    fn outcomes_between(
        &self,
        from: DateTime<Utc>,
        to: DateTime<Utc>,
    ) -> Result<Vec<OutcomeRecord>>;
    /// Outcomes matching `f`, oldest first, the newest `limit` of them.
    fn query_outcomes(&self, f: &OutcomeFilter, limit: usize) -> Result<Vec<OutcomeRecord>>;
    fn module_counts_between(
        &self,
        module: &str,
        from: DateTime<Utc>,
        to: DateTime<Utc>,
    ) -> Result<OutcomeCounts>;
    fn counts_between(&self, from: DateTime<Utc>, to: DateTime<Utc>) -> Result<OutcomeCounts>;

    // Thresholds and learning.
    fn current_thresholds(&self) -> Result<Option<NamedValues>>;
    /// Numbers `change`, keeps it, and makes `now_in_force` current.
    fn record_threshold_change(
        &self,
        change: ThresholdChange,
        now_in_force: &NamedValues,
    ) -> Result<ThresholdChange>;
    fn threshold_change(&self, id: u64) -> Result<Option<ThresholdChange>>;
    fn threshold_change_count(&self) -> usize;
    /// Every change, oldest first.
    fn threshold_history(&self) -> Result<Vec<ThresholdChange>>;
    fn last_learned_at(&self) -> Result<Option<DateTime<Utc>>>;
    fn set_last_learned_at(&self, at: DateTime<Utc>) -> Result<()>;
    fn last_learning_run_at(&self) -> Result<Option<DateTime<Utc>>>;
    fn set_last_learning_run_at(&self, at: DateTime<Utc>) -> Result<()>;

    // Changes every process sharing the store applies.
    /// The revision of each kind of change ([`crate::replica`]'s
    /// `CHANGE_*`) other processes may make; empty for a store one process
    /// holds.
    fn revisions(&self) -> Result<Vec<(String, u64)>>;
    /// The mode set through any process sharing the store (kept for them
    /// all, and for one started later); a store one process holds keeps
    /// none (its mode starts as configured).
    fn stored_mode(&self) -> Result<Option<String>>;
    fn set_stored_mode(&self, mode: &str) -> Result<()>;

    // Plugin bindings made at run time.
    fn put_plugin_binding(
        &self,
        phase: &str,
        kind: PluginKind,
        binding: &PluginBinding,
    ) -> Result<()>;
    fn plugin_bindings(&self) -> Result<Vec<(String, PluginKind, PluginBinding)>>;

    // Shadow decisions.
    fn put_shadow(&self, r: &ShadowRecord) -> Result<()>;
    fn shadows_between(&self, from: DateTime<Utc>, to: DateTime<Utc>) -> Result<Vec<ShadowRecord>>;

    // Responses waiting to reach Redis.
    fn outbox_put(&self, r: &Response) -> Result<u64>;
    /// The oldest `limit` responses waiting, with their sequence numbers.
    /// A store replicas share hands each to one replica at a time (for a
    /// lease of 30 s, until [`Backend::outbox_done`]).
    fn outbox_waiting(&self, limit: usize) -> Result<Vec<(u64, Response)>>;
    fn outbox_done(&self, seq: u64) -> Result<()>;
    fn outbox_len(&self) -> usize;

    // Retention.
    /// Removes what retention no longer keeps, a bounded batch at a time
    /// (`more` says whether to call again).
    fn sweep(&self, retention: &Retention, now: DateTime<Utc>) -> Result<Swept>;
}

/// The sled store, behind the trait: each method is the store's own.
macro_rules! delegate {
    ($( fn $name:ident(&self $(, $arg:ident : $ty:ty)*) -> $ret:ty; )*) => {
        $( fn $name(&self $(, $arg: $ty)*) -> $ret { crate::SledStore::$name(self $(, $arg)*) } )*
    };
}

impl Backend for crate::SledStore {
    fn kind(&self) -> &'static str {
        "sled"
    }
    fn shared(&self) -> bool {
        false
    }
    fn flush(&self) -> Flushing<'_> {
        Box::pin(crate::SledStore::flush(self))
    }
    fn flush_all(&self) -> Flushing<'_> {
        Box::pin(crate::SledStore::flush_all(self))
    }
    fn flush_times(&self) -> Arc<FlushTimes> {
        self.flush_times.clone()
    }
    fn take_resurrection(&self, _take: &Take<'_>) -> Result<Taken> {
        Ok(Taken::Granted)
    }
    fn release_module(&self, _module: &str, _kill_id: &str) -> Result<()> {
        Ok(())
    }
    fn hold_flapping(&self, _module: &str, _until: DateTime<Utc>) -> Result<()> {
        Ok(())
    }
    fn adopt_requests(&self, _stale: std::time::Duration) -> Result<Vec<ResurrectionRequest>> {
        crate::SledStore::unfinished_requests(self)
    }
    fn stamp_requests(&self, _request_ids: &[String]) -> Result<Vec<String>> {
        Ok(Vec::new())
    }
    fn revisions(&self) -> Result<Vec<(String, u64)>> {
        Ok(Vec::new())
    }
    fn stored_mode(&self) -> Result<Option<String>> {
        Ok(None)
    }
    fn refresh_counts(&self) -> Result<()> {
        Ok(())
    }
    fn set_stored_mode(&self, _mode: &str) -> Result<()> {
        Ok(())
    }
    fn lead(&self, _role: &str) -> Result<Option<u64>> {
        Ok(Some(1))
    }
    fn holds(&self, _role: &str) -> bool {
        true
    }
    fn visit_records_between(
        &self,
        from: DateTime<Utc>,
        to: DateTime<Utc>,
        visit: &mut dyn FnMut(&DecisionRecord),
    ) -> Result<()> {
        crate::SledStore::visit_records_between(self, from, to, visit)
    }
    fn visit_decision_times(
        &self,
        from: DateTime<Utc>,
        to: DateTime<Utc>,
        visit: &mut dyn FnMut(i64),
    ) -> Result<()> {
        crate::SledStore::visit_decision_times(self, from, to, visit)
    }
    fn records_newest(
        &self,
        page: &Newest,
        budget: &ScanBudget,
        wanted: &dyn Fn(&DecisionRecord) -> bool,
    ) -> Result<Scan> {
        crate::SledStore::records_newest(self, page, budget, wanted)
    }
    fn audit_raw(
        &self,
        kind: AuditKind,
        kill_id: Option<&str>,
        decision_id: Option<&str>,
        actor: &str,
        details: &serde_json::value::RawValue,
    ) -> Result<u64> {
        crate::SledStore::audit(self, kind, kill_id, decision_id, actor, details)
    }
    delegate! {
        fn healthy(&self) -> bool;
        fn store_decision_encoded(&self, rec: &DecisionRecord, decision_json: &str) -> Result<Stored>;
        fn record_for_kill(&self, kill_id: &str) -> Result<Option<DecisionRecord>>;
        fn record(&self, decision_id: &str) -> Result<Option<DecisionRecord>>;
        fn kill_times_by_module(&self, from: DateTime<Utc>, to: DateTime<Utc>) -> Result<HashMap<String, Vec<DateTime<Utc>>>>;
        fn records_for_module(&self, module: &str, from: DateTime<Utc>, to: DateTime<Utc>) -> Result<Vec<DecisionRecord>>;
        fn module_history(&self, module: &str, now: DateTime<Utc>) -> Result<ModuleHistory>;
        fn records_between(&self, from: DateTime<Utc>, to: DateTime<Utc>) -> Result<Vec<DecisionRecord>>;
        fn auto_approvals_since(&self, since: DateTime<Utc>) -> Result<Vec<DateTime<Utc>>>;
        fn decision_count(&self) -> usize;
        fn audit_events(&self, after_seq: Option<u64>, limit: usize) -> Result<Vec<AuditEvent>>;
        fn audit_events_before(&self, before_seq: Option<u64>, limit: usize) -> Result<Vec<AuditEvent>>;
        fn dead_letter(&self, dl: &DeadLetter) -> Result<()>;
        fn dead_letters_between(&self, from: DateTime<Utc>, to: DateTime<Utc>) -> Result<Vec<DeadLetter>>;
        fn dead_letters_count_between(&self, from: DateTime<Utc>, to: DateTime<Utc>) -> Result<usize>;
        fn put_queue_item(&self, item: &QueueItem) -> Result<()>;
        fn settle_queue_item(&self, item: &QueueItem) -> Result<bool>;
        fn queue_item(&self, item_id: &str) -> Result<Option<QueueItem>>;
        fn remove_queue_item(&self, item_id: &str) -> Result<Option<QueueItem>>;
        fn pending_queue_items(&self) -> Result<Vec<QueueItem>>;
        fn oldest_pending_queue_item(&self) -> Result<Option<QueueItem>>;
        fn pending_queue_len(&self) -> usize;
        fn queue_items(&self) -> Result<Vec<QueueItem>>;
        fn human_verdicts(&self, module: &str) -> HumanVerdicts;
        fn human_verdicts_between(&self, from: DateTime<Utc>, to: DateTime<Utc>) -> Result<Vec<HumanVerdict>>;
        fn resembling(&self, reading: Option<Reading>) -> Resembling;
        fn put_request(&self, r: &ResurrectionRequest) -> Result<()>;
        fn remove_request(&self, request_id: &str) -> Result<()>;
        fn request(&self, request_id: &str) -> Result<Option<ResurrectionRequest>>;
        fn requests(&self, limit: usize) -> Result<Vec<ResurrectionRequest>>;
        fn unfinished_requests(&self) -> Result<Vec<ResurrectionRequest>>;
        fn put_outcome(&self, o: &OutcomeRecord) -> Result<()>;
        fn outcomes_between(&self, from: DateTime<Utc>, to: DateTime<Utc>) -> Result<Vec<OutcomeRecord>>;
        fn query_outcomes(&self, f: &OutcomeFilter, limit: usize) -> Result<Vec<OutcomeRecord>>;
        fn module_counts_between(&self, module: &str, from: DateTime<Utc>, to: DateTime<Utc>) -> Result<OutcomeCounts>;
        fn counts_between(&self, from: DateTime<Utc>, to: DateTime<Utc>) -> Result<OutcomeCounts>;
        fn current_thresholds(&self) -> Result<Option<NamedValues>>;
        fn record_threshold_change(&self, change: ThresholdChange, now_in_force: &NamedValues) -> Result<ThresholdChange>;
        fn threshold_change(&self, id: u64) -> Result<Option<ThresholdChange>>;
        fn threshold_change_count(&self) -> usize;
        fn threshold_history(&self) -> Result<Vec<ThresholdChange>>;
        fn last_learned_at(&self) -> Result<Option<DateTime<Utc>>>;
        fn set_last_learned_at(&self, at: DateTime<Utc>) -> Result<()>;
        fn last_learning_run_at(&self) -> Result<Option<DateTime<Utc>>>;
        fn set_last_learning_run_at(&self, at: DateTime<Utc>) -> Result<()>;
        fn put_plugin_binding(&self, phase: &str, kind: PluginKind, binding: &PluginBinding) -> Result<()>;
        fn plugin_bindings(&self) -> Result<Vec<(String, PluginKind, PluginBinding)>>;
        fn put_shadow(&self, r: &ShadowRecord) -> Result<()>;
        fn shadows_between(&self, from: DateTime<Utc>, to: DateTime<Utc>) -> Result<Vec<ShadowRecord>>;
        fn outbox_put(&self, r: &Response) -> Result<u64>;
        fn outbox_waiting(&self, limit: usize) -> Result<Vec<(u64, Response)>>;
        fn outbox_done(&self, seq: u64) -> Result<()>;
        fn outbox_len(&self) -> usize;
        fn sweep(&self, retention: &Retention, now: DateTime<Utc>) -> Result<Swept>;
    }
}
