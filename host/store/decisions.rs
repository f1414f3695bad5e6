//! Kills, their context and their decision: stored once per kill_id, and
//! queried by kill_id, by module and by time range.

use std::collections::HashMap;

use chrono::{DateTime, Duration, Utc};
use serde::{Deserialize, Serialize};

use super::groups::{Pending, TimeEntry};
use super::log::{KIND_RECORD, Loc};
use super::{Result, SledStore};
use crate::model::{Decision, DecisionOutcome, JudgedWith, KillReport, SiemContext};

/// The time a UUIDv7 decision id carries, in milliseconds.
fn id_ms(decision_id: &str) -> Option<i64> {
    let id = uuid::Uuid::parse_str(decision_id).ok()?;
    if id.get_version_num() != 7 {
        return None;
    }
    let (secs, nanos) = id.get_timestamp()?.to_unix();
    i64::try_from(secs)
        .ok()?
        .checked_mul(1000)?
        .checked_add(i64::from(nanos / 1_000_000))
}

/// How long a scan of the store may go on (reads over the API stop at
/// theirs rather than hold a thread for as long as the store is large).
#[derive(Clone, Copy, Debug, Default)]
pub struct ScanBudget {
    deadline: Option<std::time::Instant>,
}

impl ScanBudget {
    /// No limit.
    pub fn unlimited() -> ScanBudget {
        ScanBudget::default()
    }

    /// Until `deadline`.
    pub fn until(deadline: std::time::Instant) -> ScanBudget {
        ScanBudget {
            deadline: Some(deadline),
        }
    }

    pub fn spent(&self) -> bool {
        self.deadline
            .is_some_and(|d| std::time::Instant::now() >= d)
    }
}

/// Which decisions a newest-first scan looks for: made in `[from, to)`,
/// strictly below a cursor (a decision's time and kill_id) if any, of one
/// module if any, at most `limit`.
#[derive(Clone, Copy, Debug)]
pub struct Newest<'a> {
    pub from: DateTime<Utc>,
    pub to: DateTime<Utc>,
    pub below: Option<(DateTime<Utc>, &'a str)>,
    pub limit: usize,
    pub module: Option<&'a str>,
}

/// What a scan found, and, when its budget ran out first, the last entry
/// it looked at (a decision's time in milliseconds and its kill_id): a
/// scan strictly below it goes on where this one stopped.
#[derive(Debug, Default)]
pub struct Scan {
    pub records: Vec<DecisionRecord>,
    pub stopped: Option<(i64, String)>,
}

/// Everything recorded about one kill.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct DecisionRecord {
    pub kill: KillReport,
    pub context: Option<SiemContext>,
    pub decision: Decision,
    /// The module profile and calibration the kill was judged with, kept
    /// when its truth may become known (it was resurrected or put to a
    /// person): the learning safety check judges it again with them.
    /// Absent on other decisions and on records stored before it was kept.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub judged_with: Option<JudgedWith>,
}

/// A record's JSON, exactly as `serde_json::to_vec(rec)` writes it, with
/// the decision's JSON given.
pub(crate) fn record_json(rec: &DecisionRecord, decision_json: &str) -> Result<Vec<u8>> {
    let mut out = Vec::with_capacity(decision_json.len() + 1024);
    out.extend_from_slice(b"{\"kill\":");
    serde_json::to_writer(&mut out, &rec.kill)?;
    out.extend_from_slice(b",\"context\":");
    serde_json::to_writer(&mut out, &rec.context)?;
    out.extend_from_slice(b",\"decision\":");
    out.extend_from_slice(decision_json.as_bytes());
    if let Some(judged) = &rec.judged_with {
        out.extend_from_slice(b",\"judged_with\":");
        serde_json::to_writer(&mut out, judged)?;
    }
    out.push(b'}');
    Ok(out)
}

/// Whether a record was new or the kill had been decided before.
#[derive(Clone, Debug, PartialEq)]
pub enum Stored {
    New,
    /// The kill was decided before: here is that decision.
    Duplicate(Box<Decision>),
}

/// A module's recent kills, for its profile.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct ModuleHistory {
    pub kills_last_hour: u32,
    pub kills_last_day: u32,
    pub kills_last_week: u32,
    pub last_kill: Option<DateTime<Utc>>,
}

const HOUR_MS: i64 = 3_600_000;

impl ModuleHistory {
    /// A module's history as of `now` (ms) from its kill times sorted
    /// oldest first, by binary search: `at_or_before(t)` is how many are
    /// at or before `t`, `nth(i)` the i-th. Counted: the kills in the
    /// week, day and hour before `now` and up to a second after it (a
    /// clock a little ahead), and the last of them.
    pub fn of_sorted(
        now: i64,
        at_or_before: impl Fn(i64) -> usize,
        nth: impl Fn(usize) -> Option<i64>,
    ) -> ModuleHistory {
        let upto = at_or_before(now + 1_000);
        let after = |cut: i64| upto.saturating_sub(at_or_before(cut));
        let n = |c: usize| u32::try_from(c).unwrap_or(u32::MAX);
        let week = after(now - 168 * HOUR_MS);
        ModuleHistory {
            kills_last_hour: n(after(now - HOUR_MS)),
            kills_last_day: n(after(now - 24 * HOUR_MS)),
            kills_last_week: n(week),
            // The last of the week's.
            last_kill: (week > 0)
                .then(|| nth(upto - 1))
                .flatten()
                .and_then(DateTime::from_timestamp_millis),
        }
    }
}

/// One module's recent kill times, in milliseconds since the Unix epoch
/// (the store's own unit), oldest first. A profile searches thousands of
/// them per kill: integers compare in one instruction where a `DateTime`
/// compares its fields one by one.
#[derive(Clone, Debug, Default)]
pub struct KillTimes(std::collections::VecDeque<i64>);

impl From<Vec<DateTime<Utc>>> for KillTimes {
    /// From times sorted oldest first.
    fn from(times: Vec<DateTime<Utc>>) -> Self {
        KillTimes(times.iter().map(DateTime::timestamp_millis).collect())
    }
}

impl KillTimes {
    /// The module's history as of a kill at `at`, which is then added:
    /// times a week or more before it are forgotten, and no more than
    /// `cap` are kept (the oldest go first).
    pub fn add(&mut self, at: DateTime<Utc>, cap: usize) -> ModuleHistory {
        let now = at.timestamp_millis();
        self.forget_before(now - 168 * HOUR_MS);
        let history = self.history(now);
        self.insert(now, cap);
        history
    }

    /// The module's history as of `now` (ms).
    pub fn history(&self, now: i64) -> ModuleHistory {
        let times = &self.0;
        ModuleHistory::of_sorted(
            now,
            |t| times.partition_point(|x| *x <= t),
            |i| times.get(i).copied(),
        )
    }

    /// Forgets the times at or before `cut` (ms).
    pub fn forget_before(&mut self, cut: i64) {
        while self.0.front().is_some_and(|t| *t <= cut) {
            self.0.pop_front();
        }
    }

    /// Adds a kill at `t` (ms), keeping no more than `cap` (the oldest go
    /// first).
    pub fn insert(&mut self, t: i64, cap: usize) {
        let times = &mut self.0;
        if times.len() >= cap {
            times.pop_front();
        }
        // Kept sorted: kills mostly arrive in order, so this appends.
        let at = times.partition_point(|x| *x <= t);
        times.insert(at, t);
    }

    /// The newest time kept (ms).
    pub fn newest(&self) -> Option<i64> {
        self.0.back().copied()
    }
}

impl ModuleHistory {
    /// Counts kill times relative to `now`.
    pub fn from_times(times: impl Iterator<Item = DateTime<Utc>>, now: DateTime<Utc>) -> Self {
        let mut h = ModuleHistory::default();
        for t in times.filter(|t| *t > now - Duration::weeks(1) && *t <= now + Duration::seconds(1))
        {
            h.kills_last_week += 1;
            if t > now - Duration::days(1) {
                h.kills_last_day += 1;
            }
            if t > now - Duration::hours(1) {
                h.kills_last_hour += 1;
            }
            h.last_kill = Some(h.last_kill.map_or(t, |l| l.max(t)));
        }
        h
    }
}

impl SledStore {
    /// The decision already made for a kill, if any.
    pub fn decision_for_kill(&self, kill_id: &str) -> Result<Option<Decision>> {
        Ok(self.claimed(kill_id)?.0.map(|r| r.decision))
    }

    /// The decision record of a kill already decided, if any.
    pub fn record_for_kill(&self, kill_id: &str) -> Result<Option<DecisionRecord>> {
        Ok(self.claimed(kill_id)?.0)
    }

    /// The record a kill's claim holds, if any, and the candidates found
    /// to hold nothing (records a crash lost before they were durable).
    fn claimed(&self, kill_id: &str) -> Result<(Option<DecisionRecord>, Vec<Loc>)> {
        let mut dead = Vec::new();
        for loc in self.claims.candidates(kill_id.as_bytes()) {
            match self.load_json::<DecisionRecord>(loc)? {
                Some(rec) if rec.kill.kill_id == kill_id => return Ok((Some(rec), dead)),
                // Another kill_id with the same hash.
                Some(_) => {}
                None => dead.push(loc),
            }
        }
        Ok((None, dead))
    }

    /// Claims the kill of a record already in the log at `loc` and indexes
    /// it, unless the kill is claimed (opening: the log's tail, migration).
    pub(crate) fn claim_if_free(&self, rec: &DecisionRecord, loc: Loc) -> Result<bool> {
        let kill_id = &rec.decision.kill_id;
        let (earlier, dead) = self.claimed(kill_id)?;
        if earlier.is_some() {
            return Ok(false);
        }
        self.claims.claim(kill_id.as_bytes(), loc, &dead);
        self.index_decision(&mut self.groups.lock(), rec, loc)?;
        Ok(true)
    }

    /// A decision's record by its id: through the time index when the id
    /// carries the decision's time (ids Medic makes do), else through the
    /// `decisions` tree.
    pub fn record(&self, decision_id: &str) -> Result<Option<DecisionRecord>> {
        let mut loc = None;
        if let Some(ms) = id_ms(decision_id) {
            loc = self.groups.find(ms, decision_id)?;
        }
        if loc.is_none() {
            loc = self
                .decisions
                .get(decision_id)?
                .and_then(|v| Loc::from_bytes(&v));
        }
        match loc {
            Some(loc) => self.load_json(loc),
            None => Ok(None),
        }
    }

    /// Adds a stored decision to the time index (and to the `decisions`
    /// tree when its id is not a UUIDv7 of its decision's millisecond).
    pub(crate) fn index_decision(
        &self,
        pending: &mut Pending,
        rec: &DecisionRecord,
        loc: Loc,
    ) -> Result<()> {
        let d = &rec.decision;
        let ms = d.timestamp.timestamp_millis();
        if id_ms(&d.decision_id) != Some(ms) {
            self.decisions
                .insert(d.decision_id.as_bytes(), &loc.to_bytes())?;
        }
        pending.times.push(TimeEntry {
            ms,
            kill_ms: rec.kill.timestamp.timestamp_millis(),
            kill_id: d.kill_id.clone(),
            decision_id: d.decision_id.clone(),
            module: rec.kill.target_module.clone(),
            loc,
        });
        Ok(())
    }

    /// Stores a decided kill unless its kill_id was decided before. The
    /// claim is checked, the record appended, and the kill claimed and
    /// indexed all under the index lock, so racing deliveries store one
    /// record, and a flush never records a log position past an unindexed
    /// record. A claim whose record a crash lost (see [`super::log`]) is
    /// taken over.
    pub fn store_decision(&self, rec: &DecisionRecord) -> Result<Stored> {
        self.store_decision_encoded(rec, &serde_json::to_string(&rec.decision)?)
    }

    /// [`SledStore::store_decision`] for a caller that has the decision's JSON
    /// already (it publishes the same JSON): the record is built around it
    /// instead of encoding the decision twice.
    pub fn store_decision_encoded(
        &self,
        rec: &DecisionRecord,
        decision_json: &str,
    ) -> Result<Stored> {
        let d = &rec.decision;
        let bytes = record_json(rec, decision_json)?;
        let mut pending = self.groups.lock();
        let (earlier, dead) = self.claimed(&d.kill_id)?;
        if let Some(earlier) = earlier {
            return Ok(Stored::Duplicate(Box::new(earlier.decision)));
        }
        if !dead.is_empty() {
            tracing::warn!(kill_id = %d.kill_id, lost = dead.len(), "A kill's earlier claim has no record (lost in a crash before it was acknowledged); storing this decision");
        }
        let loc =
            self.groups
                .log
                .append_at(KIND_RECORD, &bytes, Some(d.timestamp.timestamp_millis()))?;
        self.claims.claim(d.kill_id.as_bytes(), loc, &dead);
        self.index_decision(&mut pending, rec, loc)?;
        Ok(Stored::New)
    }

    /// Visits the time index entries of kills stamped in `[from, to)`, in
    /// no particular order, one index group in memory at a time. A kill is
    /// decided after it is stamped (give or take the clock skew validation
    /// allows), so the decisions from `from - skew` on hold them.
    fn visit_killed_between(
        &self,
        from: DateTime<Utc>,
        to: DateTime<Utc>,
        mut visit: impl FnMut(TimeEntry) -> Result<()>,
    ) -> Result<()> {
        let (from_ms, to_ms) = (from.timestamp_millis(), to.timestamp_millis());
        let skew = crate::model::MAX_FUTURE.num_milliseconds();
        self.groups
            .visit_between(from_ms.saturating_sub(skew), i64::MAX, |e| {
                if e.kill_ms >= from_ms && e.kill_ms < to_ms {
                    visit(e)?;
                }
                Ok(())
            })
    }

    /// Every module's kill times in `[from, to)`, oldest first.
    pub fn kill_times_by_module(
        &self,
        from: DateTime<Utc>,
        to: DateTime<Utc>,
    ) -> Result<HashMap<String, Vec<DateTime<Utc>>>> {
        let mut ms: HashMap<String, Vec<i64>> = HashMap::new();
        self.visit_killed_between(from, to, |e| {
            ms.entry(e.module).or_default().push(e.kill_ms);
            Ok(())
        })?;
        Ok(ms
            .into_iter()
            .map(|(module, mut times)| {
                times.sort_unstable();
                let times = times
                    .into_iter()
                    .filter_map(DateTime::from_timestamp_millis)
                    .collect();
                (module, times)
            })
            .collect())
    }

    /// A module's decided kills stamped in `[from, to)`, oldest first.
    pub fn records_for_module(
        &self,
        module: &str,
        from: DateTime<Utc>,
        to: DateTime<Utc>,
    ) -> Result<Vec<DecisionRecord>> {
        let mut entries = Vec::new();
        self.visit_killed_between(from, to, |e| {
            if e.module == module {
                entries.push(e);
            }
            Ok(())
        })?;
        entries.sort_by(|a, b| (a.kill_ms, &a.kill_id).cmp(&(b.kill_ms, &b.kill_id)));
        let mut out = Vec::new();
        for e in entries {
            out.extend(self.load_json::<DecisionRecord>(e.loc)?);
        }
        Ok(out)
    }

    /// Counts a module's kills in the hour, day and week before `now`.
    pub fn module_history(&self, module: &str, now: DateTime<Utc>) -> Result<ModuleHistory> {
        let mut times = Vec::new();
        self.visit_killed_between(now - Duration::weeks(1), now + Duration::seconds(1), |e| {
            if e.module == module {
                times.extend(DateTime::from_timestamp_millis(e.kill_ms));
            }
            Ok(())
        })?;
        Ok(ModuleHistory::from_times(times.into_iter(), now))
    }

    /// Decisions made in `[from, to)`, oldest first. Collects them all:
    /// for a short range only (see [`SledStore::visit_records_between`]).
    pub fn records_between(
        &self,
        from: DateTime<Utc>,
        to: DateTime<Utc>,
    ) -> Result<Vec<DecisionRecord>> {
        let mut out = Vec::new();
        for e in self
            .groups
            .times_between(from.timestamp_millis(), to.timestamp_millis())?
        {
            out.extend(self.load_json::<DecisionRecord>(e.loc)?);
        }
        Ok(out)
    }

    /// Visits the decisions made in `[from, to)`, in no particular order,
    /// one record in memory at a time (reports over a day or a week: what
    /// a report reads is not kept).
    pub fn visit_records_between(
        &self,
        from: DateTime<Utc>,
        to: DateTime<Utc>,
        mut visit: impl FnMut(&DecisionRecord),
    ) -> Result<()> {
        self.groups
            .visit_between(from.timestamp_millis(), to.timestamp_millis(), |e| {
                if let Some(rec) = self.load_json::<DecisionRecord>(e.loc)? {
                    visit(&rec);
                }
                Ok(())
            })
    }

    /// Visits the times of the decisions made in `[from, to)`, in no
    /// particular order, from the time index alone (no record is read).
    pub fn visit_decision_times(
        &self,
        from: DateTime<Utc>,
        to: DateTime<Utc>,
        mut visit: impl FnMut(i64),
    ) -> Result<()> {
        self.groups
            .visit_between(from.timestamp_millis(), to.timestamp_millis(), |e| {
                visit(e.ms);
                Ok(())
            })
    }

    /// The newest decisions `page` asks for that `wanted` accepts, newest
    /// first. The module is read off the time index, so a
    /// module with few decisions costs an index scan, not a read of every
    /// record. The scan stops when `budget` is spent: what it found so far
    /// comes back with where it stopped, to go on from.
    pub fn records_newest(
        &self,
        page: &Newest,
        budget: &ScanBudget,
        wanted: impl Fn(&DecisionRecord) -> bool,
    ) -> Result<Scan> {
        let Newest {
            from,
            to,
            below,
            limit,
            module,
        } = *page;
        let mut scan = Scan::default();
        if limit == 0 {
            return Ok(scan);
        }
        self.groups.newest(
            from.timestamp_millis(),
            to.timestamp_millis(),
            below.map(|(t, kill_id)| (t.timestamp_millis(), kill_id)),
            |e| {
                if module.is_none_or(|m| m == e.module)
                    && let Some(rec) = self.load_json::<DecisionRecord>(e.loc)?
                    && wanted(&rec)
                {
                    scan.records.push(rec);
                }
                if scan.records.len() >= limit {
                    return Ok(false);
                }
                // Every scan looks at one entry at least, so going on from
                // where it stopped always gets further.
                if budget.spent() {
                    scan.stopped = Some((e.ms, e.kill_id.clone()));
                    return Ok(false);
                }
                Ok(true)
            },
        )?;
        Ok(scan)
    }

    /// Auto-approvals decided since `since` (the hourly cap's count),
    /// oldest first. Each record is read for its outcome alone, one at a
    /// time: an hour of a busy fleet is a hundred thousand records.
    pub fn auto_approvals_since(&self, since: DateTime<Utc>) -> Result<Vec<DateTime<Utc>>> {
        #[derive(Deserialize)]
        struct Outcome {
            outcome: DecisionOutcome,
            timestamp: DateTime<Utc>,
        }
        #[derive(Deserialize)]
        struct Only {
            decision: Outcome,
        }
        let mut out = Vec::new();
        self.groups.visit_between(
            since.timestamp_millis(),
            (Utc::now() + Duration::minutes(1)).timestamp_millis(),
            |e| {
                if let Some(rec) = self.load_json::<Only>(e.loc)?
                    && rec.decision.outcome == DecisionOutcome::ApproveAuto
                {
                    out.push(rec.decision.timestamp);
                }
                Ok(())
            },
        )?;
        out.sort_unstable();
        Ok(out)
    }

    /// How many kills have a decision.
    pub fn decision_count(&self) -> usize {
        self.claims.len()
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    /// A record as the load test makes them (with and without context).
    pub(crate) const RECORD: &str = r#"{"kill":{"kill_id":"k-0","timestamp":"2026-11-26T12:57:07.854273353Z","target_module":"svc-0","target_instance_id":"svc-0-1","kill_reason":"anomaly_behavior","severity":"low","confidence_score":0.5,"evidence":["load \"quoted\""],"dependencies":[],"source_agent":"loadtest","metadata":{"k":"v"}},"context":{"query_id":"intel-file:k-0","kill_id":"k-0","timestamp":"2026-11-26T12:57:07.854273353Z","threat_indicators":[],"historical_behavior":{},"false_positive_history":3,"network_context":{},"user_context":null,"risk_score":0.1,"recommendation":""},"decision":{"decision_id":"01a217ee-603b-7eb7-b429-97ba03b04263","kill_id":"k-0","timestamp":"2026-11-26T12:57:07.899614908Z","outcome":"pending_review","risk_level":"low","risk_score":0.272,"confidence":1.0,"reasoning":["a","b"],"recommended_action":"queue svc-0 for human review","requires_human_review":true,"auto_approve_eligible":false,"constraints":[],"timeout_minutes":60,"target_module":"svc-0","target_instance_id":"svc-0-1","risk_factors":[{"name":"false_positive_history","value":0.4,"weight":0.2,"contribution":0.08000000000000002,"detail":"3"}],"strategy_outcome":"pending_review","guardrails":[],"mode":"observer","phase":"phase_1_observer","executed":false,"context_status":{"status":"ok"},"scorer":{"name":"weighted","version":"0.1.0","sha256":"d8"},"strategy":{"name":"conservative","version":"0.1.0","sha256":"6e"},"correlation_id":"lt-0","source":"redis","latency_us":803}}"#;

    #[test]
    fn kill_times_count_as_the_store_does_and_keep_no_more_than_their_cap() {
        // Kills over two weeks, mostly in order, some late, a few at the
        // same millisecond; each one's history is counted from the ones
        // before it as `SledStore::module_history` counts them, less those a
        // week older than the newest kill so far (forgotten by then).
        let start = DateTime::from_timestamp_millis(1_780_000_000_000).expect("in range");
        let mut at_ms: i64 = 0;
        let mut seen: Vec<DateTime<Utc>> = Vec::new();
        let mut times = KillTimes::default();
        let mut x: u64 = 0x2545_f491_4f6c_dd1d;
        for _ in 0..2_000 {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            at_ms += (x % 1_200_000) as i64;
            let late = if x.is_multiple_of(7) {
                (x % 5_000_000) as i64
            } else {
                0
            };
            let at = start + Duration::milliseconds(at_ms - late);
            let newest = seen.iter().copied().chain([at]).max().expect("one");
            let kept = seen
                .iter()
                .copied()
                .filter(|t| *t > newest - Duration::weeks(1));
            let expected = ModuleHistory::from_times(kept, at);
            assert_eq!(times.add(at, usize::MAX), expected, "at {at}");
            seen.push(at);
        }
        assert!(seen.len() > times.0.len(), "a week's worth is kept");
        assert!(
            times
                .0
                .iter()
                .zip(times.0.iter().skip(1))
                .all(|(a, b)| a <= b)
        );

        let mut capped = KillTimes::default();
        for s in 0..10 {
            capped.add(start + Duration::seconds(s), 4);
        }
        let h = capped.add(start + Duration::seconds(10), 4);
        assert_eq!(h.kills_last_hour, 4);
        assert_eq!(h.last_kill, Some(start + Duration::seconds(9)));
    }

    #[test]
    fn kills_decided_before_a_reopen_are_claimed_after_it() {
        let dir = tempfile::tempdir().expect("dir");
        let base: DecisionRecord = serde_json::from_str(RECORD).expect("record");
        let record = |i: usize| {
            let mut rec = base.clone();
            rec.kill.kill_id = format!("k-{i}");
            rec.decision.kill_id = rec.kill.kill_id.clone();
            rec.decision.decision_id = uuid::Uuid::new_v4().to_string();
            rec
        };
        {
            let store = SledStore::open(dir.path()).expect("open");
            for i in 0..300 {
                assert_eq!(
                    store.store_decision(&record(i)).expect("store"),
                    Stored::New
                );
            }
            assert!(store.decision_for_kill("k-0").expect("get").is_some());
            assert!(matches!(
                store.store_decision(&record(7)).expect("store"),
                Stored::Duplicate(_)
            ));
            // Half of them reach the time index; the rest only the log.
            store.groups.write().expect("groups");
            store.groups.log.sync().expect("sync");
            for i in 300..600 {
                store.store_decision(&record(i)).expect("store");
            }
            store.groups.log.sync().expect("sync");
        }
        let store = SledStore::open(dir.path()).expect("reopen");
        assert_eq!(store.decision_count(), 600);
        for i in 0..600 {
            let found = store.decision_for_kill(&format!("k-{i}")).expect("get");
            assert_eq!(found.map(|d| d.kill_id), Some(format!("k-{i}")));
        }
        assert!(store.decision_for_kill("k-new").expect("get").is_none());
        assert_eq!(
            store.store_decision(&record(600)).expect("store"),
            Stored::New
        );
        assert!(store.decision_for_kill("k-600").expect("get").is_some());
        let again = record(300);
        assert!(matches!(
            store.store_decision(&again).expect("store"),
            Stored::Duplicate(_)
        ));
    }

    /// Deciding kills writes nothing sled alone holds (records and audit
    /// events go to the log, their index keys are rebuilt from it), so a
    /// flush of decisions syncs the log and leaves sled to its own flush; a
    /// dead letter (kept only in sled) makes the next flush wait for sled.
    #[tokio::test]
    async fn a_flush_of_decisions_waits_for_sled_only_after_a_sled_only_write() {
        let store = SledStore::temporary().expect("store");
        let flushes = || {
            (
                store.flush_times.record_log.tally(u64::MAX).count,
                store.flush_times.sled.tally(u64::MAX).count,
            )
        };
        let mut rec: DecisionRecord = serde_json::from_str(RECORD).expect("record");
        for i in 0..3 {
            rec.kill.kill_id = format!("k-{i}");
            rec.decision.kill_id = rec.kill.kill_id.clone();
            rec.decision.decision_id = uuid::Uuid::now_v7().to_string();
            assert_eq!(store.store_decision(&rec).expect("store"), Stored::New);
            store
                .audit(
                    crate::AuditKind::DecisionMade,
                    Some(&rec.kill.kill_id),
                    None,
                    "medic",
                    serde_json::json!({}),
                )
                .expect("audit");
            store.flush().await.expect("flush");
        }
        assert_eq!(flushes(), (3, 0), "the log synced, sled left alone");
        store
            .dead_letter(&crate::DeadLetter {
                at: Utc::now(),
                source: "redis".into(),
                entry_id: Some("1-0".into()),
                field: "kill_id".into(),
                reason: "is required".into(),
                raw: "{}".into(),
            })
            .expect("dead letter");
        store.flush().await.expect("flush");
        assert_eq!(flushes(), (4, 1), "the dead letter made it wait for sled");
        store.flush().await.expect("flush");
        assert_eq!(flushes(), (5, 1), "once");
        assert!(store.decision_for_kill("k-2").expect("get").is_some());
    }

    /// Reads over a day or a week (reports, the hourly cap at start, a
    /// module's history) hold one index group and one record at a time,
    /// never the range: memory freed stays with `medic serve`, so a read
    /// that collected a week of records raised its resident size for good
    /// (docs/BENCHMARKS.md, "Memory of a large store").
    #[test]
    fn reads_over_a_long_range_hold_a_record_at_a_time_not_the_range() {
        let store = SledStore::temporary().expect("store");
        let base: DecisionRecord = serde_json::from_str(RECORD).expect("record");
        let n = 20_000;
        let now = Utc::now();
        for i in 0..n {
            let mut rec = base.clone();
            let at = now - Duration::milliseconds(i64::from(i) * 150);
            rec.kill.kill_id = format!("k-{i}");
            rec.kill.timestamp = at - Duration::milliseconds(40);
            rec.decision.kill_id = rec.kill.kill_id.clone();
            rec.decision.timestamp = at;
            rec.decision.decision_id = uuid::Uuid::new_v4().to_string();
            if i % 2 == 0 {
                rec.decision.outcome = DecisionOutcome::ApproveAuto;
            }
            store.store_decision(&rec).expect("store");
        }
        store.groups.write().expect("groups");
        let (from, to) = (now - Duration::hours(2), now + Duration::minutes(1));
        // Collected, the range is ~40 MB of decoded records.
        let (all, collected) =
            crate::held::peak_during(|| store.records_between(from, to).expect("records"));
        assert_eq!(all.len(), n as usize);
        drop(all);
        let mut seen = 0;
        let ((), streamed) = crate::held::peak_during(|| {
            store
                .visit_records_between(from, to, |_| seen += 1)
                .expect("visit")
        });
        assert_eq!(seen, n);
        assert!(
            streamed < 4 << 20 && streamed * 10 < collected,
            "a visit held {streamed} bytes at its peak; collecting {collected}"
        );
        let (approvals, held) = crate::held::peak_during(|| {
            store
                .auto_approvals_since(now - Duration::hours(1))
                .expect("approvals")
        });
        assert_eq!(approvals.len(), 10_000);
        assert!(held < 4 << 20, "the hourly cap's count held {held} bytes");
        let (by_module, held) = crate::held::peak_during(|| {
            store
                .kill_times_by_module(now - Duration::weeks(1), now + Duration::minutes(5))
                .expect("times")
        });
        assert_eq!(by_module["svc-0"].len(), n as usize);
        assert!(held < 4 << 20, "the kill times held {held} bytes");
    }

    /// Opening reads the record log's tail past `indexed_to` and cuts the
    /// zeros behind the last segment a frame at a time: both read whole
    /// segments into memory before (256 MiB each), which stayed with
    /// `medic serve` after every start.
    #[test]
    fn an_open_reads_the_logs_tail_a_frame_at_a_time() {
        let dir = tempfile::tempdir().expect("dir");
        let base: DecisionRecord = serde_json::from_str(RECORD).expect("record");
        {
            let store = SledStore::open(dir.path()).expect("open");
            for i in 0..20_000 {
                let mut rec = base.clone();
                rec.kill.kill_id = format!("k-{i}");
                rec.decision.kill_id = rec.kill.kill_id.clone();
                rec.decision.decision_id = uuid::Uuid::new_v4().to_string();
                store.store_decision(&rec).expect("store");
            }
            // Durable, but `indexed_to` left behind (as a crash leaves it):
            // the next open reads the ~40 MB segment past it.
            store.groups.write().expect("groups");
            store.groups.log.sync().expect("sync");
        }
        let (store, held) = crate::held::peak_during(|| {
            let mut tries = 0;
            loop {
                // A handle just dropped may hold sled's lock a moment.
                match SledStore::open(dir.path()) {
                    Ok(s) => break s,
                    Err(_) if tries < 100 => {
                        tries += 1;
                        std::thread::sleep(std::time::Duration::from_millis(50));
                    }
                    Err(e) => panic!("{e}"),
                }
            }
        });
        assert_eq!(store.decision_count(), 20_000);
        assert!(held < 24 << 20, "opening held {held} bytes at its peak");
    }

    #[test]
    fn a_record_built_around_its_decisions_json_is_the_records_own_json() {
        let mut rec: DecisionRecord = serde_json::from_str(RECORD).expect("record");
        assert_eq!(rec.judged_with, None, "a record stored before it was kept");
        let mut profile = crate::model::ModuleProfile::new(
            &rec.kill.target_module,
            crate::model::Criticality::High,
            false,
        );
        profile.re_kills = 2;
        profile.known = Some(crate::model::Resembling {
            all: crate::model::Tally {
                threats: 3,
                false_positives: 40,
                unresolved: 1,
            },
            ..Default::default()
        });
        let judged = crate::model::JudgedWith::of(&profile);
        for (context, judged_with) in [
            (rec.context.clone(), None),
            (None, None),
            (rec.context.clone(), Some(judged.clone())),
        ] {
            rec.context = context;
            rec.judged_with = judged_with;
            let decision = serde_json::to_string(&rec.decision).expect("decision");
            let built = record_json(&rec, &decision).expect("built");
            let json = String::from_utf8(built).expect("utf-8");
            assert_eq!(json, serde_json::to_string(&rec).expect("record"));
            let back: DecisionRecord = serde_json::from_str(&json).expect("reads back");
            assert_eq!(back, rec);
        }
        // The calibration comes back with the profile it was judged with.
        assert_eq!(judged.into_profile(), profile);
    }
}
