//! The approval queue's items, keyed by item_id (time-ordered ids, so the
//! oldest come first). Pending items live in their own tree, so counting
//! and listing them costs no scan of history; decided items move to a
//! second tree and stay, with who decided and when; a person's approval
//! or denial is indexed as a verdict on the module as it moves
//! ([`super::verdicts`]).

use super::{Result, SledStore};
use crate::model::{QueueItem, QueueStatus};

fn decode(v: &[u8]) -> Result<QueueItem> {
    Ok(serde_json::from_slice(v)?)
}

impl SledStore {
    /// Writes an item to the tree its status belongs in.
    pub fn put_queue_item(&self, item: &QueueItem) -> Result<()> {
        let key = item.item_id.as_bytes();
        let bytes = serde_json::to_vec(item)?;
        if item.status == QueueStatus::Pending {
            self.queue.insert(key, bytes)?;
        } else {
            self.queue_decided.insert(key, bytes)?;
            let was_waiting = self.queue.remove(key)?.is_some();
            if was_waiting && item.status == QueueStatus::Expired {
                self.calibrate_expired(item)?;
            }
            self.index_human_verdict(item)?;
        }
        Ok(())
    }

    /// Writes a decided item only if it is still pending here. One
    /// process holds a sled store, and its approval queue decides an item
    /// under one lock, so this check and the write cannot interleave with
    /// another decision.
    pub fn settle_queue_item(&self, item: &QueueItem) -> Result<bool> {
        if item.status == QueueStatus::Pending || self.queue.get(item.item_id.as_bytes())?.is_none()
        {
            return Ok(false);
        }
        self.put_queue_item(item)?;
        Ok(true)
    }

    pub fn queue_item(&self, item_id: &str) -> Result<Option<QueueItem>> {
        let key = item_id.as_bytes();
        match self.queue.get(key)? {
            Some(v) => Ok(Some(decode(&v)?)),
            None => self.queue_decided.get(key)?.map(|v| decode(&v)).transpose(),
        }
    }

    /// Removes an item, whatever its status.
    pub fn remove_queue_item(&self, item_id: &str) -> Result<Option<QueueItem>> {
        let key = item_id.as_bytes();
        let pending = self.queue.remove(key)?;
        let decided = self.queue_decided.remove(key)?;
        pending.or(decided).map(|v| decode(&v)).transpose()
    }

    /// Items still waiting, oldest first.
    pub fn pending_queue_items(&self) -> Result<Vec<QueueItem>> {
        self.queue.iter().map(|item| decode(&item?.1)).collect()
    }

    /// The item that has waited longest, if any.
    pub fn oldest_pending_queue_item(&self) -> Result<Option<QueueItem>> {
        self.queue
            .iter()
            .next()
            .transpose()?
            .map(|(_, v)| decode(&v))
            .transpose()
    }

    /// How many items wait.
    pub fn pending_queue_len(&self) -> usize {
        self.queue.len()
    }

    /// Every item, oldest first.
    pub fn queue_items(&self) -> Result<Vec<QueueItem>> {
        let mut all = self.pending_queue_items()?;
        for item in self.queue_decided.iter() {
            all.push(decode(&item?.1)?);
        }
        all.sort_by(|a, b| a.item_id.cmp(&b.item_id));
        Ok(all)
    }
}
