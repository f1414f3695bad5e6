//! Sled trees whose contents the record log cannot rebuild (dead letters,
//! the approval queue, requests, outcomes, thresholds, plugin bindings).
//!
//! Deciding a kill writes only to the record log and to indexes rebuilt
//! from it after a crash ([`super::SledStore::reindex_tail`]), so a flush that
//! makes a batch of decisions durable need not wait for sled's own log and
//! fsync as well (sled still flushes itself every half-second). A flush
//! waits for sled only when a [`Durable`] tree was written since the last
//! sled flush began: every write to these trees goes through this type and
//! is counted, so no write site can forget to ask for it.

use std::ops::RangeBounds;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use sled::IVec;

/// Writes to durable trees, and how many of them sled's last completed
/// flush covers.
#[derive(Default)]
pub struct SledWrites {
    /// Writes completed so far (counted after each write returns).
    written: AtomicU64,
    /// `written` as it was when the last completed flush began: those
    /// writes are durable.
    flushed: AtomicU64,
    /// One sled flush at a time, so a flush that finds another under way
    /// waits for it and, when that one covers its writes, does not repeat it.
    one_at_a_time: tokio::sync::Mutex<()>,
}

impl SledWrites {
    fn wrote(&self) {
        self.written.fetch_add(1, Ordering::AcqRel);
    }

    /// Makes every durable-tree write completed before this call durable:
    /// flushes sled unless a completed flush already covers them. Returns
    /// how long the flush took, or `None` when none was needed.
    pub async fn flush(&self, db: &sled::Db) -> sled::Result<Option<Duration>> {
        let wanted = self.written.load(Ordering::Acquire);
        if self.flushed.load(Ordering::Acquire) >= wanted {
            return Ok(None);
        }
        let _one = self.one_at_a_time.lock().await;
        if self.flushed.load(Ordering::Acquire) >= wanted {
            return Ok(None);
        }
        // Read before the flush starts: every write counted here completed
        // before it, so the flush covers it.
        let upto = self.written.load(Ordering::Acquire);
        let started = Instant::now();
        db.flush_async().await?;
        self.flushed.fetch_max(upto, Ordering::AcqRel);
        Ok(Some(started.elapsed()))
    }
}

/// A sled tree holding what the record log cannot rebuild: reads as sled
/// does; each write is counted towards the next [`SledWrites::flush`].
#[derive(Clone)]
pub struct Durable {
    tree: sled::Tree,
    writes: Arc<SledWrites>,
}

impl Durable {
    pub fn open(db: &sled::Db, name: &str, writes: &Arc<SledWrites>) -> sled::Result<Durable> {
        Ok(Durable {
            tree: db.open_tree(name)?,
            writes: writes.clone(),
        })
    }

    pub fn insert<K: AsRef<[u8]>, V: Into<IVec>>(
        &self,
        key: K,
        value: V,
    ) -> sled::Result<Option<IVec>> {
        let old = self.tree.insert(key, value);
        self.writes.wrote();
        old
    }

    pub fn remove<K: AsRef<[u8]>>(&self, key: K) -> sled::Result<Option<IVec>> {
        let old = self.tree.remove(key);
        self.writes.wrote();
        old
    }

    pub fn get<K: AsRef<[u8]>>(&self, key: K) -> sled::Result<Option<IVec>> {
        self.tree.get(key)
    }

    pub fn range<K: AsRef<[u8]>, R: RangeBounds<K>>(&self, range: R) -> sled::Iter {
        self.tree.range(range)
    }

    pub fn iter(&self) -> sled::Iter {
        self.tree.iter()
    }

    pub fn len(&self) -> usize {
        self.tree.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn sled_is_flushed_only_for_writes_no_flush_covers_yet() {
        let db = sled::Config::new().temporary(true).open().unwrap();
        let writes = Arc::new(SledWrites::default());
        let tree = Durable::open(&db, "t", &writes).unwrap();
        assert_eq!(writes.flush(&db).await.unwrap(), None, "nothing written");
        tree.insert("a", "1").unwrap();
        assert!(writes.flush(&db).await.unwrap().is_some(), "an insert");
        assert_eq!(writes.flush(&db).await.unwrap(), None, "covered already");
        tree.remove("a").unwrap();
        assert!(writes.flush(&db).await.unwrap().is_some(), "a removal");
        // A plain tree of the same database (an index the log rebuilds)
        // asks for no flush.
        db.open_tree("index").unwrap().insert("k", "v").unwrap();
        assert_eq!(writes.flush(&db).await.unwrap(), None);
    }

    #[tokio::test]
    async fn flushes_at_once_each_cover_the_writes_before_them() {
        let db = sled::Config::new().temporary(true).open().unwrap();
        let writes = Arc::new(SledWrites::default());
        let tree = Durable::open(&db, "t", &writes).unwrap();
        tree.insert("a", "1").unwrap();
        let (a, b) = tokio::join!(writes.flush(&db), writes.flush(&db));
        // One flushed; the other waited for it and found its write covered.
        assert_eq!(
            [a.unwrap().is_some(), b.unwrap().is_some()]
                .iter()
                .filter(|f| **f)
                .count(),
            1
        );
        assert_eq!(
            writes.flushed.load(Ordering::Acquire),
            writes.written.load(Ordering::Acquire)
        );
    }
}
