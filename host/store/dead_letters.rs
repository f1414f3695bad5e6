//! Inputs refused by validation, kept with the reason (also sent to the
//! dead-letter stream when they came from Redis).

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use super::keys::time_be;
use super::{Result, SledStore};

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct DeadLetter {
    pub at: DateTime<Utc>,
    pub source: String,
    /// The stream entry id, for Redis input.
    pub entry_id: Option<String>,
    pub field: String,
    pub reason: String,
    /// The input as received, cut to a bounded size.
    pub raw: String,
}

impl DeadLetter {
    /// A response Redis refused for good (its `reply_to` is not a stream):
    /// kept under the field `reply_to`, now.
    pub fn response_refused(
        source: &str,
        entry_id: Option<&str>,
        reason: String,
        raw: &str,
    ) -> DeadLetter {
        DeadLetter {
            at: Utc::now(),
            source: source.to_string(),
            entry_id: entry_id.map(str::to_string),
            field: "reply_to".into(),
            reason,
            raw: raw.chars().take(4096).collect(),
        }
    }
}

impl SledStore {
    pub fn dead_letter(&self, dl: &DeadLetter) -> Result<()> {
        let mut key = time_be(dl.at).to_vec();
        key.extend_from_slice(&self.next_id()?.to_be_bytes());
        self.dead.insert(key, serde_json::to_vec(dl)?)?;
        Ok(())
    }

    pub fn dead_letters_between(
        &self,
        from: DateTime<Utc>,
        to: DateTime<Utc>,
    ) -> Result<Vec<DeadLetter>> {
        self.dead
            .range(time_be(from).to_vec()..time_be(to).to_vec())
            .map(|item| Ok(serde_json::from_slice(&item?.1)?))
            .collect()
    }

    /// How many dead letters were kept in `[from, to)` (none decoded).
    pub fn dead_letters_count_between(
        &self,
        from: DateTime<Utc>,
        to: DateTime<Utc>,
    ) -> Result<usize> {
        let mut n = 0;
        for item in self
            .dead
            .range(time_be(from).to_vec()..time_be(to).to_vec())
        {
            item?;
            n += 1;
        }
        Ok(n)
    }
}
