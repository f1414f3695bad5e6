//! Outcome records: in time order, each value led by its result byte, and
//! indexed by module (`module \0 time id` → result byte + record key). A
//! module's history and success rate come from its index range — counts
//! without decoding a single record.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use super::keys::{module_key, module_prefix, time_be, time_key};
use super::{Result, SledStore};
use crate::model::{DecisionOutcome, OutcomeRecord, OutcomeResult, RiskLevel};

fn result_byte(r: OutcomeResult) -> u8 {
    match r {
        OutcomeResult::Success => 0,
        OutcomeResult::PartialSuccess => 1,
        OutcomeResult::Failure => 2,
        OutcomeResult::ReKilled => 3,
        OutcomeResult::Rollback => 4,
    }
}

fn result_of(b: u8) -> Option<OutcomeResult> {
    Some(match b {
        0 => OutcomeResult::Success,
        1 => OutcomeResult::PartialSuccess,
        2 => OutcomeResult::Failure,
        3 => OutcomeResult::ReKilled,
        4 => OutcomeResult::Rollback,
        _ => return None,
    })
}

pub(super) fn decode(v: &[u8]) -> Result<OutcomeRecord> {
    Ok(serde_json::from_slice(v.get(1..).unwrap_or_default())?)
}

/// A module's resurrection history in counts.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct OutcomeCounts {
    pub resurrections: u32,
    pub successes: u32,
    pub failures: u32,
    pub re_kills: u32,
    pub rollbacks: u32,
}

impl OutcomeCounts {
    pub fn add(&mut self, result: OutcomeResult) {
        self.add_n(result, 1);
    }

    /// Counts `n` outcomes of one result at once (a store that counts
    /// them for us).
    pub fn add_n(&mut self, result: OutcomeResult, n: u32) {
        self.resurrections = self.resurrections.saturating_add(n);
        let kind = match result {
            OutcomeResult::Success | OutcomeResult::PartialSuccess => &mut self.successes,
            OutcomeResult::ReKilled => &mut self.re_kills,
            OutcomeResult::Rollback => &mut self.rollbacks,
            OutcomeResult::Failure => &mut self.failures,
        };
        *kind = kind.saturating_add(n);
    }

    /// Puts these counts in a module profile, as the plugins see them: a
    /// module that came back and stayed was killed by mistake.
    pub fn fill(&self, profile: &mut crate::model::ModuleProfile) {
        profile.resurrections = self.resurrections;
        profile.successful_resurrections = self.successes;
        profile.false_positives = self.successes;
        profile.re_kills = self.re_kills;
        profile.rollbacks = self.rollbacks;
    }

    /// Successes over resurrections (`None` with none).
    pub fn success_rate(&self) -> Option<f64> {
        (self.resurrections > 0).then(|| f64::from(self.successes) / f64::from(self.resurrections))
    }
}

/// Which outcomes a query wants; every field narrows it.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct OutcomeFilter {
    pub module: Option<String>,
    pub result: Option<OutcomeResult>,
    pub risk_level: Option<RiskLevel>,
    pub decision: Option<DecisionOutcome>,
    /// `name` or `name@version`.
    pub strategy: Option<String>,
    pub from: Option<DateTime<Utc>>,
    pub to: Option<DateTime<Utc>>,
}

impl OutcomeFilter {
    pub(crate) fn wants(&self, o: &OutcomeRecord) -> bool {
        self.result.is_none_or(|r| r == o.result)
            && self.risk_level.is_none_or(|r| r == o.risk_level)
            && self.decision.is_none_or(|d| d == o.decision)
            && self.strategy.as_ref().is_none_or(|s| {
                o.strategy == *s || o.strategy.split('@').next() == Some(s.as_str())
            })
    }
}

/// The widest time range a query covers.
fn bounds(
    from: Option<DateTime<Utc>>,
    to: Option<DateTime<Utc>>,
) -> (DateTime<Utc>, DateTime<Utc>) {
    (
        from.unwrap_or(DateTime::<Utc>::MIN_UTC),
        to.unwrap_or(DateTime::<Utc>::MAX_UTC),
    )
}

impl SledStore {
    /// Records an outcome.
    pub fn put_outcome(&self, o: &OutcomeRecord) -> Result<()> {
        let key = time_key(o.recorded_at, &o.outcome_id);
        let b = result_byte(o.result);
        let mut value = vec![b];
        value.extend(serde_json::to_vec(o)?);
        self.outcomes.insert(&key, value)?;
        let mut index = vec![b];
        index.extend_from_slice(&key);
        self.outcomes_by_module.insert(
            module_key(&o.target_module, o.recorded_at, &o.outcome_id),
            index,
        )?;
        self.calibrate_outcome(o);
        Ok(())
    }

    /// A module's index entries recorded in `[from, to)`.
    fn module_index(&self, module: &str, from: DateTime<Utc>, to: DateTime<Utc>) -> sled::Iter {
        let at = |t| {
            let mut k = module_prefix(module);
            k.extend_from_slice(&time_be(t));
            k
        };
        self.outcomes_by_module.range(at(from)..at(to))
    }

    /// Outcomes recorded in `[from, to)`, oldest first.
    pub fn outcomes_between(
        &self,
        from: DateTime<Utc>,
        to: DateTime<Utc>,
    ) -> Result<Vec<OutcomeRecord>> {
        self.outcomes
            .range(time_key(from, "")..time_key(to, ""))
            .map(|item| decode(&item?.1))
            .collect()
    }

    /// Outcomes matching `f`, oldest first, at most `limit` (the newest
    /// `limit` when there are more).
    pub fn query_outcomes(&self, f: &OutcomeFilter, limit: usize) -> Result<Vec<OutcomeRecord>> {
        let (from, to) = bounds(f.from, f.to);
        let mut out = Vec::new();
        // Newest first, so a limit keeps the most recent.
        match &f.module {
            Some(m) => {
                for item in self.module_index(m, from, to).rev() {
                    let (_, v) = item?;
                    if f.result
                        .is_some_and(|r| v.first().copied().and_then(result_of) != Some(r))
                    {
                        continue;
                    }
                    if let Some(rec) = self.outcomes.get(v.get(1..).unwrap_or_default())? {
                        let o = decode(&rec)?;
                        if f.wants(&o) {
                            out.push(o);
                            if out.len() >= limit {
                                break;
                            }
                        }
                    }
                }
            }
            None => {
                for item in self
                    .outcomes
                    .range(time_key(from, "")..time_key(to, ""))
                    .rev()
                {
                    let (_, v) = item?;
                    if f.result
                        .is_some_and(|r| v.first().copied().and_then(result_of) != Some(r))
                    {
                        continue;
                    }
                    let o = decode(&v)?;
                    if f.wants(&o) {
                        out.push(o);
                        if out.len() >= limit {
                            break;
                        }
                    }
                }
            }
        }
        out.reverse();
        Ok(out)
    }

    /// Counts of a module's outcomes in `[from, to)`, from the index alone.
    pub fn module_counts_between(
        &self,
        module: &str,
        from: DateTime<Utc>,
        to: DateTime<Utc>,
    ) -> Result<OutcomeCounts> {
        let mut c = OutcomeCounts::default();
        for item in self.module_index(module, from, to) {
            if let Some(r) = item?.1.first().copied().and_then(result_of) {
                c.add(r);
            }
        }
        Ok(c)
    }

    /// Counts of every outcome in `[from, to)` (reads one byte a record).
    pub fn counts_between(&self, from: DateTime<Utc>, to: DateTime<Utc>) -> Result<OutcomeCounts> {
        let mut c = OutcomeCounts::default();
        for item in self.outcomes.range(time_key(from, "")..time_key(to, "")) {
            if let Some(r) = item?.1.first().copied().and_then(result_of) {
                c.add(r);
            }
        }
        Ok(c)
    }
}
