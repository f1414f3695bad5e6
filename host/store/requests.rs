//! Resurrection requests, keyed by request_id, every workflow move kept in
//! the record.

use super::{Result, SledStore};
use crate::model::ResurrectionRequest;

impl SledStore {
    /// Writes a request (new or updated).
    pub fn put_request(&self, r: &ResurrectionRequest) -> Result<()> {
        self.requests
            .insert(r.request_id.as_bytes(), serde_json::to_vec(r)?)?;
        Ok(())
    }

    /// Removes a request (one written for a decision that turned out to be
    /// a duplicate).
    pub fn remove_request(&self, request_id: &str) -> Result<()> {
        self.requests.remove(request_id.as_bytes())?;
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
}
