//! People's verdicts on queued kills, per module: an approval or a denial
//! is indexed by the time it was made (`time item_id` → a small JSON entry
//! naming the module, the kill and the decision), written with the decided
//! queue item. Counts per module are kept in memory, built from the index
//! when the store opens, so a module profile reads them without a scan; the
//! learner reads the recent entries by time. An expiry is no verdict, and
//! removing a decided item from the queue does not undo the verdict.
//!
//! Opening reads the whole index once: 100,000 verdicts (200 modules) took
//! 1.1 s in a debug build on this project's 2-core machines, and people
//! decide a few hundred kills a week — years of verdicts cost about a
//! second at start-up, and nothing afterwards.

use std::collections::HashMap;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use super::keys::time_key;
use super::{Result, SledStore};
use crate::model::{ModuleProfile, QueueItem, QueueStatus, Reading};

/// Kills of one module that people approved and denied.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct HumanVerdicts {
    pub approvals: u32,
    pub denials: u32,
}

impl HumanVerdicts {
    pub(crate) fn add(&mut self, approved: bool) {
        if approved {
            self.approvals = self.approvals.saturating_add(1);
        } else {
            self.denials = self.denials.saturating_add(1);
        }
    }

    /// Takes back a verdict counted before (past retention, removed).
    pub(crate) fn forget(&mut self, approved: bool) {
        if approved {
            self.approvals = self.approvals.saturating_sub(1);
        } else {
            self.denials = self.denials.saturating_sub(1);
        }
    }

    /// Puts these counts in a module profile, as the plugins see them.
    pub fn fill(&self, profile: &mut ModuleProfile) {
        profile.human_approvals = self.approvals;
        profile.human_denials = self.denials;
    }
}

/// One person's verdict on one queued kill, as indexed.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct HumanVerdict {
    pub module: String,
    pub kill_id: String,
    pub decision_id: String,
    pub item_id: String,
    /// Approved (brought back); otherwise denied (kept down).
    pub approved: bool,
    /// When the person decided.
    pub at: DateTime<Utc>,
    /// The kill's evidence, for calibration (none in entries written
    /// before it was kept, or for a kill without SIEM context).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reading: Option<Reading>,
}

impl HumanVerdict {
    /// A person's verdict on a decided queue item, with the kill's
    /// evidence (`reading`, asked only for a verdict); `None` for an item
    /// pending or expired (no person decided it).
    pub(crate) fn on(
        item: &QueueItem,
        reading: impl FnOnce() -> Result<Option<Reading>>,
    ) -> Result<Option<HumanVerdict>> {
        let approved = match item.status {
            QueueStatus::Approved => true,
            QueueStatus::Denied => false,
            QueueStatus::Pending | QueueStatus::Expired => return Ok(None),
        };
        Ok(Some(HumanVerdict {
            module: item.kill.target_module.clone(),
            kill_id: item.kill.kill_id.clone(),
            decision_id: item.decision.decision_id.clone(),
            item_id: item.item_id.clone(),
            approved,
            at: item.decided_at.unwrap_or(item.enqueued_at),
            reading: reading()?,
        }))
    }
}

/// The counts per module, shared by the store's handles.
pub(crate) type VerdictCounts = parking_lot::Mutex<HashMap<String, HumanVerdicts>>;

/// Counts a verdict indexed for the first time (either store): in its
/// module's counts, and a denial in the calibration — a person's word that
/// the kill was right (an approval waits for its outcome).
pub(crate) fn count_new(
    entry: HumanVerdict,
    counts: &VerdictCounts,
    calibration: &crate::calibration::Shared,
) {
    if !entry.approved {
        calibration.lock().add(entry.reading, true);
    }
    counts
        .lock()
        .entry(entry.module)
        .or_default()
        .add(entry.approved);
}

/// Whether the index was built from the decided queue items already (a
/// store made before it existed has verdicts only there).
const INDEXED: &str = "human_verdicts_indexed";

impl SledStore {
    /// Indexes a person's verdict on a decided queue item (an expiry or a
    /// pending item is none). Writing the same item again counts it once.
    pub(crate) fn index_human_verdict(&self, item: &QueueItem) -> Result<()> {
        let Some(entry) = HumanVerdict::on(item, || self.reading_of(item))? else {
            return Ok(());
        };
        let old = self.human_verdicts.insert(
            time_key(entry.at, &item.item_id),
            serde_json::to_vec(&entry)?,
        )?;
        if old.is_none() {
            count_new(entry, &self.verdict_counts, &self.calibration);
        }
        Ok(())
    }

    /// Kills of `module` that people approved and denied (from memory).
    pub fn human_verdicts(&self, module: &str) -> HumanVerdicts {
        self.verdict_counts
            .lock()
            .get(module)
            .copied()
            .unwrap_or_default()
    }

    /// People's verdicts made in `[from, to)`, oldest first.
    pub fn human_verdicts_between(
        &self,
        from: DateTime<Utc>,
        to: DateTime<Utc>,
    ) -> Result<Vec<HumanVerdict>> {
        self.human_verdicts
            .range(time_key(from, "")..time_key(to, ""))
            .map(|item| Ok(serde_json::from_slice(&item?.1)?))
            .collect()
    }

    /// Builds the counts from the index at open, indexing the decided queue
    /// items first if this store predates the index. Returns the evidence
    /// of every denial, for the calibration (read in the same pass).
    pub(crate) fn load_human_verdicts(&self, meta: &sled::Tree) -> Result<Vec<Option<Reading>>> {
        if meta.get(INDEXED)?.is_none() {
            for item in self.queue_decided.iter() {
                let item: QueueItem = serde_json::from_slice(&item?.1)?;
                self.index_human_verdict(&item)?;
            }
            meta.insert(INDEXED, &[1])?;
        }
        let mut counts: HashMap<String, HumanVerdicts> = HashMap::new();
        let mut denied = Vec::new();
        for item in self.human_verdicts.iter() {
            let entry: HumanVerdict = serde_json::from_slice(&item?.1)?;
            if !entry.approved {
                denied.push(entry.reading);
            }
            counts.entry(entry.module).or_default().add(entry.approved);
        }
        *self.verdict_counts.lock() = counts;
        Ok(denied)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::DecisionRecord;

    fn item(n: u32, module: &str, status: QueueStatus, at: DateTime<Utc>) -> QueueItem {
        let mut rec: DecisionRecord =
            serde_json::from_str(crate::decisions::tests::RECORD).unwrap();
        rec.kill.kill_id = format!("k-{n}");
        rec.kill.target_module = module.into();
        rec.decision.decision_id = format!("d-{n}");
        crate::fixtures::queue_item(format!("i-{n:04}"), &rec, status, at)
    }

    use crate::reopened as open;

    #[test]
    fn verdicts_are_counted_once_per_item_by_module_and_survive_reopening() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("store");
        let t0 = Utc::now() - chrono::TimeDelta::hours(3);
        let at = |h: i64| t0 + chrono::TimeDelta::hours(h);
        {
            let s = SledStore::open(&path).unwrap();
            s.put_queue_item(&item(1, "x", QueueStatus::Pending, at(0)))
                .unwrap();
            for (n, status) in [
                (1, QueueStatus::Denied),
                (2, QueueStatus::Denied),
                (3, QueueStatus::Approved),
                (4, QueueStatus::Expired),
            ] {
                s.put_queue_item(&item(n, "x", status, at(i64::from(n))))
                    .unwrap();
            }
            s.put_queue_item(&item(5, "y", QueueStatus::Approved, at(2)))
                .unwrap();
            // Written again (the same decision): counted once.
            s.put_queue_item(&item(2, "x", QueueStatus::Denied, at(2)))
                .unwrap();
            // A decided item removed from the queue is still a verdict.
            s.remove_queue_item("i-0003").unwrap();
            let x = HumanVerdicts {
                approvals: 1,
                denials: 2,
            };
            assert_eq!(s.human_verdicts("x"), x, "the expiry is no verdict");
            // Each denial is a known threat for calibration, once; an
            // approval waits for its outcome.
            assert_eq!(s.resembling(None).all.threats, 2);
            assert_eq!(s.resembling(None).all.false_positives, 0);
            assert_eq!(s.human_verdicts("y").approvals, 1);
            assert_eq!(s.human_verdicts("z"), HumanVerdicts::default());
            let recent = s.human_verdicts_between(at(2), at(4)).unwrap();
            let ids: Vec<_> = recent.iter().map(|v| v.kill_id.as_str()).collect();
            assert_eq!(ids, ["k-2", "k-5", "k-3"], "by time, [from, to)");
            assert_eq!(recent[0].at, at(2));
            assert_eq!(recent[0].decision_id, "d-2");
            assert!(!recent[0].approved && recent[2].approved);
        }
        let s = open(&path);
        assert_eq!(
            s.human_verdicts("x"),
            HumanVerdicts {
                approvals: 1,
                denials: 2
            }
        );
        assert_eq!(s.human_verdicts("y").approvals, 1);
        assert_eq!(s.resembling(None).all.threats, 2);
    }

    #[test]
    fn a_queued_kill_that_expires_undecided_counts_as_unresolved_and_stays_so() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("store");
        let now = Utc::now();
        {
            let s = SledStore::open(&path).unwrap();
            s.put_queue_item(&item(1, "x", QueueStatus::Pending, now))
                .unwrap();
            s.put_queue_item(&item(2, "x", QueueStatus::Pending, now))
                .unwrap();
            assert_eq!(
                s.resembling(None).all.unresolved,
                0,
                "waiting is not unresolved"
            );
            s.put_queue_item(&item(1, "x", QueueStatus::Expired, now))
                .unwrap();
            s.put_queue_item(&item(2, "x", QueueStatus::Denied, now))
                .unwrap();
            // Written again: counted once.
            s.put_queue_item(&item(1, "x", QueueStatus::Expired, now))
                .unwrap();
            let all = s.resembling(None).all;
            assert_eq!((all.unresolved, all.threats), (1, 1));
        }
        let s = open(&path);
        assert_eq!(s.resembling(None).all.unresolved, 1);
    }

    #[test]
    fn a_store_made_before_the_index_is_indexed_from_its_decided_items() {
        let s = SledStore::temporary().unwrap();
        let now = Utc::now();
        s.put_queue_item(&item(1, "x", QueueStatus::Denied, now))
            .unwrap();
        s.put_queue_item(&item(2, "x", QueueStatus::Expired, now))
            .unwrap();
        // As a store from before the index: the decided items, no index.
        s.human_verdicts.remove(time_key(now, "i-0001")).unwrap();
        let meta = s.db.open_tree("meta").unwrap();
        meta.remove(INDEXED).unwrap();
        s.load_human_verdicts(&meta).unwrap();
        assert_eq!(s.human_verdicts("x").denials, 1);
        assert_eq!(s.human_verdicts("x").approvals, 0);
        assert_eq!(
            s.human_verdicts_between(now, now + chrono::TimeDelta::seconds(1))
                .unwrap()
                .len(),
            1
        );
    }
}
