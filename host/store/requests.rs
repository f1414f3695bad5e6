//! Resurrection requests (keyed by request_id, every workflow move kept in
//! the record) and their outcomes (in time order, indexed by module).

use chrono::{DateTime, Utc};

use super::keys::{module_key, module_prefix, time_key};
use super::{Result, Store};
use crate::model::{OutcomeRecord, OutcomeResult, ResurrectionRequest};

/// A module's resurrection history, for its profile.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct OutcomeCounts {
    pub resurrections: u32,
    pub successes: u32,
    pub re_kills: u32,
    pub rollbacks: u32,
}

impl OutcomeCounts {
    pub fn add(&mut self, result: OutcomeResult) {
        self.resurrections += 1;
        match result {
            OutcomeResult::Success | OutcomeResult::PartialSuccess => self.successes += 1,
            OutcomeResult::ReKilled => self.re_kills += 1,
            OutcomeResult::Rollback => self.rollbacks += 1,
            OutcomeResult::Failure => {}
        }
    }
}

impl Store {
    /// Writes a request (new or updated).
    pub fn put_request(&self, r: &ResurrectionRequest) -> Result<()> {
        self.requests
            .insert(r.request_id.as_bytes(), serde_json::to_vec(r)?)?;
        Ok(())
    }

    pub fn request(&self, request_id: &str) -> Result<Option<ResurrectionRequest>> {
        self.requests
            .get(request_id.as_bytes())?
            .map(|v| Ok(serde_json::from_slice(&v)?))
            .transpose()
    }

    /// Requests, newest first, at most `limit`.
    pub fn requests(&self, limit: usize) -> Result<Vec<ResurrectionRequest>> {
        self.requests
            .iter()
            .rev()
            .take(limit)
            .map(|item| Ok(serde_json::from_slice(&item?.1)?))
            .collect()
    }

    /// Requests whose workflow has not ended (to resume after a restart).
    pub fn unfinished_requests(&self) -> Result<Vec<ResurrectionRequest>> {
        let mut out = Vec::new();
        for item in self.requests.iter() {
            let r: ResurrectionRequest = serde_json::from_slice(&item?.1)?;
            if !r.state.is_final() {
                out.push(r);
            }
        }
        Ok(out)
    }

    /// Records an outcome.
    pub fn put_outcome(&self, o: &OutcomeRecord, module: &str) -> Result<()> {
        let key = time_key(o.recorded_at, &o.outcome_id);
        self.outcomes.insert(&key, serde_json::to_vec(o)?)?;
        self.outcomes_by_module
            .insert(module_key(module, o.recorded_at, &o.outcome_id), key)?;
        Ok(())
    }

    /// Outcomes recorded in `[from, to)`, oldest first.
    pub fn outcomes_between(
        &self,
        from: DateTime<Utc>,
        to: DateTime<Utc>,
    ) -> Result<Vec<OutcomeRecord>> {
        self.outcomes
            .range(time_key(from, "")..time_key(to, ""))
            .map(|item| Ok(serde_json::from_slice(&item?.1)?))
            .collect()
    }

    /// A module's outcomes, oldest first.
    pub fn module_outcomes(&self, module: &str) -> Result<Vec<OutcomeRecord>> {
        let mut out = Vec::new();
        for item in self.outcomes_by_module.scan_prefix(module_prefix(module)) {
            if let Some(v) = self.outcomes.get(item?.1)? {
                out.push(serde_json::from_slice(&v)?);
            }
        }
        Ok(out)
    }

    /// Counts of a module's outcomes.
    pub fn module_outcome_counts(&self, module: &str) -> Result<OutcomeCounts> {
        let mut c = OutcomeCounts::default();
        for o in self.module_outcomes(module)? {
            c.add(o.result);
        }
        Ok(c)
    }
}
