//! Retention: what is older than `learning.database.retention_days` (audit
//! events: `audit_retention_days`) is removed, a bounded batch at a time,
//! so the store's size follows the rate of kills, not the time it has run
//! (docs/guide.md, "The store over months").
//!
//! A sweep removes, in this order:
//! 1. decided queue items whose decision is past retention (an expired
//!    one's unresolved count is taken back from the calibration while its
//!    record can still be read for its evidence);
//! 2. people's verdicts (their module counts and a denial's calibration
//!    count taken back), outcomes (with their module index entries and
//!    calibration counts), shadow decisions, dead letters and finished
//!    resurrection requests;
//! 3. the time index groups of decisions past retention, and the claims
//!    they hold (a kill is unclaimed with its record; a redelivery that old
//!    is refused by validation first, kills older than 30 days are not
//!    decided, and retention is at least 31 days);
//! 4. the audit index groups past the audit retention;
//! 5. sled is flushed, then every finished record log segment whose frames
//!    are all past both retentions is deleted (whole segments only: the
//!    log is append-only).
//!
//! What the learner loses is exactly what a store holding only what is kept
//! would be rebuilt with at open: the counts in memory (calibration,
//! verdicts per module) are taken back as their entries go.
//! Threshold changes, plugin bindings, pending queue items, responses
//! still waiting for Redis and resurrections still running are never
//! removed.

use chrono::{DateTime, Utc};
use serde::Serialize;

use super::calibration::truth_of;
use super::keys::{module_key, time_be, time_key};
use super::{AuditEvent, HumanVerdict, Result, SledStore};
use crate::model::{OutcomeRecord, QueueItem, QueueStatus, ResurrectionRequest};

/// How long things are kept.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Retention {
    /// Decisions and everything about a kill.
    pub decisions: chrono::Duration,
    /// Audit events (never shorter than `decisions`).
    pub audit: chrono::Duration,
}

/// What one sweep removed.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize)]
pub struct Swept {
    pub decisions: usize,
    pub audit_events: usize,
    pub outcomes: usize,
    pub verdicts: usize,
    pub queue_items: usize,
    pub shadow_decisions: usize,
    pub dead_letters: usize,
    pub requests: usize,
    pub segments: usize,
    pub bytes: u64,
    /// Whether a batch limit stopped it (the next sweep goes on).
    pub more: bool,
}

impl Swept {
    /// Whether anything was removed.
    pub fn any(&self) -> bool {
        self.decisions
            + self.audit_events
            + self.outcomes
            + self.verdicts
            + self.queue_items
            + self.shadow_decisions
            + self.dead_letters
            + self.requests
            + self.segments
            > 0
    }
}

/// The most entries of one kind a sweep removes (index groups count as
/// one): each sweep is a bounded piece of work, and the next goes on.
pub const BATCH: usize = 10_000;

impl SledStore {
    /// Removes what is past `retention` as of `now` (see the module's
    /// documentation), at most [`BATCH`] entries of each kind.
    pub fn sweep(&self, retention: &Retention, now: DateTime<Utc>) -> Result<Swept> {
        let cut = now - retention.decisions;
        let audit_cut = now - retention.audit.max(retention.decisions);
        let mut s = Swept::default();
        // Everything appended so far durable and indexed, `indexed_to`
        // past it: an open after this never indexes a removed record again
        // from the log's tail.
        self.groups.write()?;
        self.groups.log.sync()?;
        self.groups.write()?;

        // 1. Decided queue items, before their records go.
        let mut old_items = Vec::new();
        for item in self.queue_decided.iter() {
            let (key, value) = item?;
            let item: QueueItem = serde_json::from_slice(&value)?;
            if item.decision.timestamp < cut {
                old_items.push((key, item));
                if old_items.len() >= BATCH {
                    s.more = true;
                    break;
                }
            }
        }
        for (key, item) in old_items {
            if item.status == QueueStatus::Expired {
                let reading = self.reading_of(&item)?;
                self.calibration.lock().unresolved(reading, false);
            }
            self.queue_decided.remove(key)?;
            s.queue_items += 1;
        }

        // 2. The trees keyed by time.
        let to = time_key(cut, "");
        let verdicts = self.take_before(&self.human_verdicts, &to, &mut s.more)?;
        for (_, value) in &verdicts {
            let v: HumanVerdict = serde_json::from_slice(value)?;
            if let Some(c) = self.verdict_counts.lock().get_mut(&v.module) {
                c.forget(v.approved);
            }
            if !v.approved {
                self.calibration.lock().forget(v.reading, true);
            }
        }
        s.verdicts = verdicts.len();
        let outcomes = self.take_before(&self.outcomes, &to, &mut s.more)?;
        for (_, value) in &outcomes {
            let o: OutcomeRecord = super::outcomes::decode(value)?;
            self.outcomes_by_module.remove(module_key(
                &o.target_module,
                o.recorded_at,
                &o.outcome_id,
            ))?;
            if let Some(threat) = truth_of(o.result) {
                self.calibration.lock().forget(o.reading, threat);
            }
        }
        s.outcomes = outcomes.len();
        s.shadow_decisions = self.take_before(&self.shadow, &to, &mut s.more)?.len();
        s.dead_letters = self
            .take_before(&self.dead, &time_be(cut), &mut s.more)?
            .len();
        let mut finished = Vec::new();
        for item in self.requests.iter() {
            let (key, value) = item?;
            let r: ResurrectionRequest = serde_json::from_slice(&value)?;
            if r.state.is_final() && r.created_at < cut {
                finished.push(key);
                if finished.len() >= BATCH {
                    s.more = true;
                    break;
                }
            }
        }
        for key in finished {
            self.requests.remove(key)?;
            s.requests += 1;
        }

        // 3. Decisions: their index groups and claims.
        let mut decisions = 0;
        let groups = self
            .groups
            .expire_times(cut.timestamp_millis(), BATCH, |e| {
                self.claims.release(e.kill_id.as_bytes(), e.loc);
                self.decisions.remove(e.decision_id.as_bytes())?;
                decisions += 1;
                Ok(())
            })?;
        s.more |= groups >= BATCH;
        s.decisions = decisions;

        // 4. Audit events.
        s.audit_events = self
            .groups
            .expire_audit(audit_cut.timestamp_millis(), BATCH, |loc| {
                Ok(self
                    .load_json::<AuditEvent>(loc)?
                    .map(|e| e.at.timestamp_millis()))
            })?;

        // 5. Whole segments, once no durable index points into them.
        self.db.flush()?;
        let oldest_kept = cut.min(audit_cut).timestamp_millis();
        for (segment, newest) in self.groups.log.finished_segments()? {
            if newest < oldest_kept {
                s.bytes += self.groups.log.remove_segment(segment)?;
                s.segments += 1;
            }
        }
        Ok(s)
    }

    /// Removes the entries of `tree` with keys below `to`, at most
    /// [`BATCH`] (setting `more` when that stopped it); returns them.
    fn take_before(
        &self,
        tree: &crate::durable::Durable,
        to: &[u8],
        more: &mut bool,
    ) -> Result<Vec<(sled::IVec, sled::IVec)>> {
        let mut out = Vec::new();
        for item in tree.range(..to) {
            if out.len() >= BATCH {
                *more = true;
                break;
            }
            out.push(item?);
        }
        for (key, _) in &out {
            tree.remove(key)?;
        }
        Ok(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{DecisionOutcome, OutcomeResult, Reading};
    use crate::{DeadLetter, DecisionRecord, Newest, ScanBudget, ShadowRecord, Stored};
    use chrono::Duration;

    const DAY: i64 = 86_400_000;

    fn days(n: i64) -> chrono::Duration {
        Duration::days(n)
    }

    /// A decided kill of `module` decided at `at`.
    fn record(kill_id: &str, module: &str, at: DateTime<Utc>) -> DecisionRecord {
        let mut rec: DecisionRecord =
            serde_json::from_str(crate::decisions::tests::RECORD).expect("record");
        rec.kill.kill_id = kill_id.into();
        rec.kill.target_module = module.into();
        rec.kill.timestamp = at - Duration::milliseconds(40);
        rec.decision.kill_id = kill_id.into();
        rec.decision.target_module = module.into();
        rec.decision.timestamp = at;
        rec.decision.decision_id = uuid::Uuid::new_v7(uuid::Timestamp::from_unix(
            uuid::NoContext,
            u64::try_from(at.timestamp()).expect("after 1970"),
            at.timestamp_subsec_nanos(),
        ))
        .to_string();
        rec
    }

    fn reading(risk: f64) -> Option<Reading> {
        Some(Reading {
            siem_risk: risk,
            on_record: 1,
            indicator: None,
            confidence: None,
            reason: None,
        })
    }

    fn outcome(n: u32, module: &str, at: DateTime<Utc>, result: OutcomeResult) -> OutcomeRecord {
        OutcomeRecord {
            recorded_at: at,
            target_module: module.into(),
            risk_score: 0.2,
            strategy: "balanced@0.1.0".into(),
            reading: reading(0.3),
            ..crate::fixtures::outcome(n, result)
        }
    }

    fn queued(rec: &DecisionRecord, status: QueueStatus, at: DateTime<Utc>) -> QueueItem {
        crate::fixtures::queue_item(format!("i-{}", rec.kill.kill_id), rec, status, at)
    }

    fn dead_letter(at: DateTime<Utc>, n: u32) -> DeadLetter {
        DeadLetter {
            at,
            source: "http".into(),
            entry_id: None,
            field: "kill_id".into(),
            reason: format!("bad {n}"),
            raw: "{}".into(),
        }
    }

    fn shadow(rec: &DecisionRecord) -> ShadowRecord {
        ShadowRecord {
            kill_id: rec.kill.kill_id.clone(),
            decision_id: rec.decision.decision_id.clone(),
            module: rec.kill.target_module.clone(),
            decided_at: rec.decision.timestamp,
            phase: "phase_1_observer".into(),
            live: DecisionOutcome::PendingReview,
            shadow: DecisionOutcome::Deny,
            scorer: "weighted@0.1.0".into(),
            strategy: "conservative@0.1.0".into(),
            risk_score: 0.2,
            confidence: 1.0,
            error: None,
        }
    }

    fn newest_kill_ids(s: &SledStore) -> Vec<String> {
        let page = Newest {
            from: DateTime::<Utc>::MIN_UTC,
            to: Utc::now() + days(1),
            below: None,
            limit: 1000,
            module: None,
        };
        let mut ids: Vec<String> = s
            .records_newest(&page, &ScanBudget::unlimited(), |_| true)
            .expect("newest")
            .records
            .into_iter()
            .map(|r| r.kill.kill_id)
            .collect();
        ids.sort();
        ids
    }

    use crate::reopened as open;

    /// What a store's learner and readers see, to compare a swept store
    /// with the same store opened afresh.
    fn learnt(s: &SledStore) -> (crate::model::Resembling, crate::HumanVerdicts, usize) {
        (
            s.resembling(reading(0.3)),
            s.human_verdicts("x"),
            s.decision_count(),
        )
    }

    #[test]
    fn expired_records_are_gone_from_reads_recent_ones_stay_and_counts_match_a_reopen() {
        let dir = tempfile::tempdir().expect("dir");
        let path = dir.path().join("store");
        let now = Utc::now();
        let (old, recent) = (now - days(120), now - days(2));
        let retention = Retention {
            decisions: days(90),
            audit: days(90),
        };
        let swept_counts = {
            let s = SledStore::open(&path).expect("open");
            let mut records = Vec::new();
            for (n, at) in [(0, old), (1, old), (2, recent), (3, recent)] {
                let rec = record(&format!("k-{n}"), "x", at + Duration::seconds(n));
                assert_eq!(s.store_decision(&rec).expect("store"), Stored::New);
                records.push(rec);
            }
            // A denial and an expiry of old kills, a recent denial.
            s.put_queue_item(&queued(&records[0], QueueStatus::Denied, old))
                .expect("queue");
            s.put_queue_item(&queued(&records[1], QueueStatus::Pending, old))
                .expect("queue");
            s.put_queue_item(&queued(&records[1], QueueStatus::Expired, old))
                .expect("queue");
            s.put_queue_item(&queued(&records[2], QueueStatus::Denied, recent))
                .expect("queue");
            s.put_outcome(&outcome(1, "x", old, OutcomeResult::ReKilled))
                .expect("outcome");
            s.put_outcome(&outcome(2, "x", recent, OutcomeResult::Success))
                .expect("outcome");
            s.dead_letter(&dead_letter(old, 1)).expect("dead letter");
            s.dead_letter(&dead_letter(recent, 2)).expect("dead letter");
            s.put_shadow(&shadow(&records[0])).expect("shadow");
            s.put_shadow(&shadow(&records[3])).expect("shadow");
            let before = learnt(&s);
            assert_eq!(before.1.denials, 2);
            assert_eq!(before.0.all.threats, 3, "two denials and a re-kill");
            assert_eq!(before.0.all.unresolved, 1, "the expiry");

            let swept = s.sweep(&retention, now).expect("sweep");
            assert_eq!((swept.decisions, swept.outcomes, swept.verdicts), (2, 1, 1));
            assert_eq!(
                (
                    swept.queue_items,
                    swept.dead_letters,
                    swept.shadow_decisions
                ),
                (2, 1, 1)
            );
            assert!(!swept.more);

            // Gone from every read; the recent ones are all there.
            assert_eq!(newest_kill_ids(&s), ["k-2", "k-3"]);
            for old_kill in ["k-0", "k-1"] {
                assert!(s.decision_for_kill(old_kill).expect("get").is_none());
            }
            assert!(
                s.record(&records[0].decision.decision_id)
                    .expect("get")
                    .is_none()
            );
            assert!(
                s.record(&records[3].decision.decision_id)
                    .expect("get")
                    .is_some()
            );
            assert!(s.decision_for_kill("k-2").expect("get").is_some());
            let far = (DateTime::<Utc>::MIN_UTC, now + days(1));
            let outcomes = s.outcomes_between(far.0, far.1).expect("outcomes");
            assert_eq!(
                outcomes
                    .iter()
                    .map(|o| o.outcome_id.as_str())
                    .collect::<Vec<_>>(),
                ["o-2"]
            );
            assert_eq!(
                s.module_counts_between("x", DateTime::<Utc>::MIN_UTC, DateTime::<Utc>::MAX_UTC)
                    .expect("counts")
                    .resurrections,
                1,
                "the module index follows"
            );
            assert_eq!(s.dead_letters_between(far.0, far.1).expect("dl").len(), 1);
            assert_eq!(s.shadows_between(far.0, far.1).expect("sh").len(), 1);
            assert_eq!(s.human_verdicts_between(far.0, far.1).expect("v").len(), 1);
            assert!(s.queue_item("i-k-0").expect("item").is_none());
            assert!(s.queue_item("i-k-2").expect("item").is_some());
            let after = learnt(&s);
            assert_eq!(after.1.denials, 1);
            assert_eq!(after.0.all.threats, 1, "the recent denial only");
            assert_eq!(after.0.all.false_positives, 1, "the recent success");
            assert_eq!(after.0.all.unresolved, 0, "the old expiry went");
            assert_eq!(after.2, 2);
            // A second sweep finds nothing more.
            assert!(!s.sweep(&retention, now).expect("sweep").any());
            after
        };
        // What the learner has in memory is what the kept store rebuilds.
        let s = open(&path);
        assert_eq!(learnt(&s), swept_counts);
        assert_eq!(newest_kill_ids(&s), ["k-2", "k-3"]);
        // The kill of a removed decision is unclaimed (medic serve refuses
        // a kill that old at validation, before it gets here).
        assert_eq!(
            s.store_decision(&record("k-0", "x", now)).expect("store"),
            Stored::New
        );
    }

    #[test]
    fn audit_events_follow_their_own_longer_retention() {
        let s = SledStore::temporary().expect("store");
        let now = Utc::now();
        for n in 0..3 {
            s.audit(
                crate::AuditKind::DecisionMade,
                Some(&format!("k-{n}")),
                None,
                "medic",
                serde_json::json!({}),
            )
            .expect("audit");
        }
        let retention = Retention {
            decisions: days(90),
            audit: days(365),
        };
        // A hundred days on: past the decisions' retention, not the audit's.
        let swept = s.sweep(&retention, now + days(100)).expect("sweep");
        assert_eq!(swept.audit_events, 0);
        assert_eq!(s.audit_events(None, 10).expect("audit").len(), 3);
        let swept = s.sweep(&retention, now + days(366)).expect("sweep");
        assert_eq!(swept.audit_events, 3);
        assert!(s.audit_events(None, 10).expect("audit").is_empty());
        // Numbering goes on past them.
        let seq = s
            .audit(
                crate::AuditKind::DecisionMade,
                None,
                None,
                "medic",
                serde_json::json!({}),
            )
            .expect("audit");
        let left = s.audit_events(None, 10).expect("audit");
        assert_eq!(left.iter().map(|e| e.seq).collect::<Vec<_>>(), [seq]);
    }

    /// The record log and sled's files, in bytes.
    fn size_on_disk(dir: &std::path::Path) -> u64 {
        let mut total = 0;
        for entry in std::fs::read_dir(dir).expect("dir").flatten() {
            let meta = entry.metadata().expect("meta");
            total += if meta.is_dir() {
                size_on_disk(&entry.path())
            } else {
                meta.len()
            };
        }
        total
    }

    #[test]
    fn the_store_stays_bounded_under_a_steady_stream_with_retention() {
        // A year of 200 kills a day, with a dead letter and an outcome
        // every tenth, over simulated days; small segments (128 KiB, about
        // a third of a day) so that whole ones can go. Retention: 31 days.
        let dir = tempfile::tempdir().expect("dir");
        let path = dir.path().join("store");
        let s = SledStore::open_with(&path, 128 << 10).expect("open");
        let retention = Retention {
            decisions: days(31),
            audit: days(31),
        };
        let start = Utc::now() - days(365);
        let per_day = 200;
        let mut sizes = Vec::new();
        let mut removed = 0;
        for day in 0..365 {
            for k in 0..per_day {
                let at = start + Duration::milliseconds(day * DAY + k * (DAY / per_day));
                let n = day * per_day + k;
                s.store_decision(&record(&format!("k-{n}"), "x", at))
                    .expect("store");
                if k % 10 == 0 {
                    s.dead_letter(&dead_letter(at, n as u32)).expect("dl");
                    s.put_outcome(&outcome(n as u32, "x", at, OutcomeResult::Success))
                        .expect("outcome");
                }
            }
            s.groups.write().expect("groups");
            let today = start + days(day + 1);
            let swept = s.sweep(&retention, today).expect("sweep");
            removed += swept.decisions;
            if day % 30 == 29 {
                sizes.push(size_on_disk(&path));
            }
        }
        let kept = s.decision_count();
        assert!(
            (31 * per_day as usize..=33 * per_day as usize).contains(&kept),
            "about 31 days of decisions kept: {kept}"
        );
        assert_eq!(removed + kept, 365 * per_day as usize);
        // After the first retention period the size on disk stops growing
        // with time: a year's last months take no more than its second.
        eprintln!("size on disk every 30 days: {sizes:?}");
        let (second, last) = (sizes[1], *sizes.last().expect("sizes"));
        assert!(
            last <= second + second / 2,
            "the store grew from {second} bytes to {last}: {sizes:?}"
        );
        // And it holds far less than a year of records would (each ~2 KB).
        let year = 365 * per_day as u64 * 2_000;
        assert!(last < year / 4, "{last} bytes of {year}");
    }
}
