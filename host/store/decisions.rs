//! Kills, their context and their decision: stored once per kill_id, and
//! queried by kill_id, by module and by time range.

use chrono::{DateTime, Duration, Utc};
use serde::{Deserialize, Serialize};

use super::keys::{module_key, module_prefix, time_be, time_key};
use super::{Result, Store};
use crate::model::{Decision, DecisionOutcome, KillReport, SiemContext};

/// Everything recorded about one kill.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct DecisionRecord {
    pub kill: KillReport,
    pub context: Option<SiemContext>,
    pub decision: Decision,
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

impl ModuleHistory {
    /// Counts from kill times sorted oldest first, by binary search.
    pub fn from_sorted(
        times: &std::collections::VecDeque<DateTime<Utc>>,
        now: DateTime<Utc>,
    ) -> Self {
        let upto = times.partition_point(|t| *t <= now + Duration::seconds(1));
        let after = |cut: DateTime<Utc>| {
            let from = times.partition_point(|t| *t <= cut);
            u32::try_from(upto.saturating_sub(from)).unwrap_or(u32::MAX)
        };
        ModuleHistory {
            kills_last_hour: after(now - Duration::hours(1)),
            kills_last_day: after(now - Duration::days(1)),
            kills_last_week: after(now - Duration::weeks(1)),
            last_kill: upto.checked_sub(1).and_then(|i| times.get(i)).copied(),
        }
    }

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

impl Store {
    /// A module's kill index entries with kill times in `[from, to)`.
    fn module_range(&self, module: &str, from: DateTime<Utc>, to: DateTime<Utc>) -> sled::Iter {
        let key = |t| {
            let mut k = module_prefix(module);
            k.extend_from_slice(&time_be(t));
            k
        };
        self.by_module.range(key(from)..key(to))
    }

    /// The decision already made for a kill, if any.
    pub fn decision_for_kill(&self, kill_id: &str) -> Result<Option<Decision>> {
        let Some(decision_id) = self.by_kill.get(kill_id)? else {
            return Ok(None);
        };
        self.decision(std::str::from_utf8(&decision_id).unwrap_or_default())
    }

    pub fn decision(&self, decision_id: &str) -> Result<Option<Decision>> {
        match self.decisions.get(decision_id)? {
            Some(bytes) => Ok(Some(
                serde_json::from_slice::<DecisionRecord>(&bytes)?.decision,
            )),
            None => Ok(None),
        }
    }

    pub fn record(&self, decision_id: &str) -> Result<Option<DecisionRecord>> {
        match self.decisions.get(decision_id)? {
            Some(bytes) => Ok(Some(serde_json::from_slice(&bytes)?)),
            None => Ok(None),
        }
    }

    /// Stores a decided kill unless its kill_id was decided before; the
    /// claim on the kill_id is atomic, so racing deliveries store one.
    pub fn store_decision(&self, rec: &DecisionRecord) -> Result<Stored> {
        let d = &rec.decision;
        let bytes = serde_json::to_vec(rec)?;
        self.decisions.insert(d.decision_id.as_bytes(), bytes)?;
        let claimed = self.by_kill.compare_and_swap(
            d.kill_id.as_bytes(),
            None as Option<&[u8]>,
            Some(d.decision_id.as_bytes()),
        )?;
        if let Err(current) = claimed {
            self.decisions.remove(d.decision_id.as_bytes())?;
            let earlier = current.current.and_then(|id| {
                self.decision(std::str::from_utf8(&id).unwrap_or_default())
                    .ok()
                    .flatten()
            });
            return Ok(match earlier {
                Some(e) => Stored::Duplicate(Box::new(e)),
                None => Stored::New,
            });
        }
        let outcome = [outcome_byte(d.outcome)];
        self.by_module.insert(
            module_key(
                &rec.kill.target_module,
                rec.kill.timestamp,
                &rec.kill.kill_id,
            ),
            &outcome,
        )?;
        self.by_time.insert(
            time_key(d.timestamp, &rec.kill.kill_id),
            d.decision_id.as_bytes(),
        )?;
        Ok(Stored::New)
    }

    /// The kill times of a module in `[from, to)`, oldest first.
    pub fn module_kill_times(
        &self,
        module: &str,
        from: DateTime<Utc>,
        to: DateTime<Utc>,
    ) -> Result<Vec<DateTime<Utc>>> {
        let prefix = module_prefix(module);
        let mut out = Vec::new();
        for item in self.module_range(module, from, to) {
            let (k, _) = item?;
            let ms = k
                .get(prefix.len()..prefix.len() + 8)
                .and_then(|b| <[u8; 8]>::try_from(b).ok())
                .map(|b| (u64::from_be_bytes(b) ^ (1 << 63)) as i64)
                .unwrap_or_default();
            out.extend(DateTime::from_timestamp_millis(ms));
        }
        Ok(out)
    }

    /// Counts a module's kills in the hour, day and week before `now`.
    pub fn module_history(&self, module: &str, now: DateTime<Utc>) -> Result<ModuleHistory> {
        let times =
            self.module_kill_times(module, now - Duration::weeks(1), now + Duration::seconds(1))?;
        Ok(ModuleHistory::from_times(times.iter().copied(), now))
    }

    /// Decisions made in `[from, to)`, oldest first.
    pub fn records_between(
        &self,
        from: DateTime<Utc>,
        to: DateTime<Utc>,
    ) -> Result<Vec<DecisionRecord>> {
        let mut out = Vec::new();
        for item in self
            .by_time
            .range(time_be(from).to_vec()..time_be(to).to_vec())
        {
            let (_, decision_id) = item?;
            if let Some(bytes) = self.decisions.get(&decision_id)? {
                out.push(serde_json::from_slice(&bytes)?);
            }
        }
        Ok(out)
    }

    /// The newest decisions made in `[from, to)` that `wanted` accepts, at
    /// most `limit`, newest first. `below`, a cursor from an earlier page
    /// (a decision's time and kill_id), pages on strictly below it.
    pub fn records_newest(
        &self,
        from: DateTime<Utc>,
        to: DateTime<Utc>,
        below: Option<(DateTime<Utc>, &str)>,
        limit: usize,
        wanted: impl Fn(&DecisionRecord) -> bool,
    ) -> Result<Vec<DecisionRecord>> {
        let mut end = time_be(to).to_vec();
        if let Some((t, kill_id)) = below {
            end = end.min(time_key(t, kill_id));
        }
        let mut out = Vec::new();
        for item in self.by_time.range(time_be(from).to_vec()..end).rev() {
            let (_, decision_id) = item?;
            if let Some(bytes) = self.decisions.get(&decision_id)? {
                let rec: DecisionRecord = serde_json::from_slice(&bytes)?;
                if wanted(&rec) {
                    out.push(rec);
                    if out.len() >= limit {
                        break;
                    }
                }
            }
        }
        Ok(out)
    }

    /// A module's decided kills with kill times in `[from, to)`, oldest first.
    pub fn records_for_module(
        &self,
        module: &str,
        from: DateTime<Utc>,
        to: DateTime<Utc>,
    ) -> Result<Vec<DecisionRecord>> {
        let prefix = module_prefix(module);
        let mut out = Vec::new();
        for item in self.module_range(module, from, to) {
            let (k, _) = item?;
            let kill_id = std::str::from_utf8(&k[prefix.len() + 8..]).unwrap_or_default();
            if let Some(decision) = self.by_kill.get(kill_id)?
                && let Some(rec) =
                    self.record(std::str::from_utf8(&decision).unwrap_or_default())?
            {
                out.push(rec);
            }
        }
        Ok(out)
    }

    /// Auto-approvals decided since `since` (the hourly cap's count).
    pub fn auto_approvals_since(&self, since: DateTime<Utc>) -> Result<Vec<DateTime<Utc>>> {
        Ok(self
            .records_between(since, Utc::now() + Duration::minutes(1))?
            .into_iter()
            .filter(|r| r.decision.outcome == DecisionOutcome::ApproveAuto)
            .map(|r| r.decision.timestamp)
            .collect())
    }

    /// How many kills have a decision.
    pub fn decision_count(&self) -> usize {
        self.by_kill.len()
    }
}

fn outcome_byte(o: DecisionOutcome) -> u8 {
    match o {
        DecisionOutcome::ApproveAuto => 0,
        DecisionOutcome::ApproveManual => 1,
        DecisionOutcome::PendingReview => 2,
        DecisionOutcome::Deny => 3,
        DecisionOutcome::Defer => 4,
    }
}
