//! Which kill_ids may have a claim: a Bloom filter in front of the
//! `decision_by_kill` tree, so the duplicate check every kill begins with
//! costs no sled lookup for a kill never seen (nearly every kill). A
//! "maybe" is answered by sled as before; a "no" is never wrong: every
//! claim's kill_id is added before the claim is written, and the claims
//! already in the store are read at open by a thread of its own (so a
//! large store opens as fast as before). Until that thread is done, every
//! check goes to sled, and the kill_ids claimed meanwhile are kept aside
//! and added when the filter is published. Dropping the store stops and
//! joins the thread, so the database is closed when the store is (and can
//! be opened again at once).
//!
//! Sized for twice the claims found at open (at least a million), ten bits
//! and seven hashes per kill_id: about 1% of new kills still look theirs
//! up. A store that outgrows it only looks up more often.

use std::hash::{BuildHasher, BuildHasherDefault, DefaultHasher};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;

use arc_swap::ArcSwapOption;

const BITS_PER_KEY: usize = 10;
const HASHES: u64 = 7;
const MIN_KEYS: usize = 1 << 20;

fn hash(key: &[u8]) -> u64 {
    BuildHasherDefault::<DefaultHasher>::default().hash_one(key)
}

/// The bits, set from keys' 64-bit hashes (double hashing).
struct Filter {
    bits: Vec<AtomicU64>,
}

impl Filter {
    fn with_capacity(keys: usize) -> Filter {
        let words = (keys.max(MIN_KEYS) * BITS_PER_KEY).div_ceil(64);
        Filter {
            bits: (0..words).map(|_| AtomicU64::new(0)).collect(),
        }
    }

    fn positions(&self, h: u64) -> impl Iterator<Item = usize> {
        let step = h.rotate_left(32) | 1;
        let len = (self.bits.len() * 64) as u64;
        (0..HASHES).map(move |i| (h.wrapping_add(i.wrapping_mul(step)) % len) as usize)
    }

    fn insert(&self, h: u64) {
        for p in self.positions(h) {
            self.bits[p / 64].fetch_or(1 << (p % 64), Ordering::Relaxed);
        }
    }

    fn may_contain(&self, h: u64) -> bool {
        self.positions(h)
            .all(|p| self.bits[p / 64].load(Ordering::Relaxed) & (1 << (p % 64)) != 0)
    }
}

/// What the store and the reading thread share.
#[derive(Default)]
struct Shared {
    /// Published once the claims stored at open are all in it.
    filter: ArcSwapOption<Filter>,
    /// Hashes of kill_ids claimed before then.
    early: Mutex<Vec<u64>>,
    /// Set when the store goes: the reading thread stops.
    stop: AtomicBool,
}

#[derive(Default)]
pub struct Seen {
    shared: Arc<Shared>,
    reader: Mutex<Option<JoinHandle<()>>>,
}

impl Drop for Seen {
    fn drop(&mut self) {
        self.shared.stop.store(true, Ordering::Relaxed);
        let reader = self.reader.get_mut().map(Option::take);
        if let Ok(Some(reader)) = reader {
            let _ = reader.join();
        }
    }
}

impl Shared {
    fn insert(&self, key: &[u8]) {
        let h = hash(key);
        if let Some(f) = self.filter.load().as_ref() {
            return f.insert(h);
        }
        let mut early = self.early.lock().unwrap_or_else(|p| p.into_inner());
        // Published meanwhile (under this lock): straight into it.
        match self.filter.load().as_ref() {
            Some(f) => f.insert(h),
            None => early.push(h),
        }
    }

    fn surely_absent(&self, key: &[u8]) -> bool {
        self.filter
            .load()
            .as_ref()
            .is_some_and(|f| !f.may_contain(hash(key)))
    }

    /// Reads the claims in `by_kill`, then publishes the filter (unless
    /// told to stop first).
    fn fill(&self, by_kill: sled::Tree) {
        let mut hashes = Vec::new();
        for key in by_kill.iter().keys() {
            if self.stop.load(Ordering::Relaxed) {
                return;
            }
            match key {
                Ok(k) => hashes.push(hash(&k)),
                Err(e) => {
                    tracing::warn!(error = %e, "Could not read the kills' claims; every duplicate check asks the store");
                    return;
                }
            }
        }
        let filter = Filter::with_capacity(hashes.len().saturating_mul(2));
        hashes.into_iter().for_each(|h| filter.insert(h));
        let mut early = self.early.lock().unwrap_or_else(|p| p.into_inner());
        early.drain(..).for_each(|h| filter.insert(h));
        self.filter.store(Some(Arc::new(filter)));
    }
}

impl Seen {
    /// Notes that `key` is about to be claimed.
    pub fn insert(&self, key: &[u8]) {
        self.shared.insert(key);
    }

    /// Whether `key` certainly has no claim (false until the filter is
    /// published, and for about 1% of keys never claimed).
    pub fn surely_absent(&self, key: &[u8]) -> bool {
        self.shared.surely_absent(key)
    }

    /// Reads the claims in `by_kill` on a thread of its own, then publishes
    /// the filter. If reading the tree fails, every check keeps going to
    /// sled.
    pub fn fill_from(&self, by_kill: sled::Tree) {
        let shared = self.shared.clone();
        match std::thread::Builder::new()
            .name("medic-seen".into())
            .spawn(move || shared.fill(by_kill))
        {
            Ok(reader) => {
                if let Ok(mut r) = self.reader.lock() {
                    *r = Some(reader);
                }
            }
            Err(e) => {
                tracing::warn!(error = %e, "Could not start reading the kills' claims; every duplicate check asks the store")
            }
        }
    }

    #[cfg(test)]
    pub(super) fn is_published(&self) -> bool {
        self.shared.filter.load().is_some()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn inserted_keys_are_always_found_and_about_one_percent_of_others() {
        let filter = Filter::with_capacity(0);
        let key = |i: u64| hash(&i.to_le_bytes());
        for i in 0..MIN_KEYS as u64 {
            filter.insert(key(i));
        }
        assert!((0..MIN_KEYS as u64).all(|i| filter.may_contain(key(i))));
        let others = 100_000;
        let false_positives = (0..others)
            .filter(|i| filter.may_contain(key(i + (1 << 40))))
            .count();
        // Full to its designed size: about 0.8% (ten bits, seven hashes).
        assert!(false_positives < 1_500, "{false_positives} of {others}");
    }

    #[test]
    fn stored_claims_and_claims_made_while_reading_are_never_surely_absent() {
        let db = sled::Config::new().temporary(true).open().expect("sled");
        let tree = db.open_tree("claims").expect("tree");
        for i in 0..20_000 {
            tree.insert(format!("stored-{i}"), "c").expect("insert");
        }
        let seen = Arc::new(Seen::default());
        seen.insert(b"before");
        assert!(!seen.surely_absent(b"new-kill"), "not read yet");
        seen.fill_from(tree);
        // Claimed while the thread reads (before or after it publishes).
        let mut during = 0;
        let started = std::time::Instant::now();
        while !seen.is_published() {
            assert!(started.elapsed().as_secs() < 30, "never published");
            seen.insert(format!("during-{during}").as_bytes());
            during += 1;
        }
        let present = (0..20_000)
            .map(|i| format!("stored-{i}"))
            .chain((0..during).map(|i| format!("during-{i}")))
            .chain(["before".to_string()]);
        for key in present {
            assert!(!seen.surely_absent(key.as_bytes()), "{key}");
        }
        assert!(seen.surely_absent(b"new-kill"));
    }

    #[test]
    fn dropping_the_filter_stops_its_reader_so_the_database_opens_again_at_once() {
        let dir = tempfile::tempdir().expect("dir");
        let path = dir.path().join("db");
        {
            let db = sled::open(&path).expect("open");
            let tree = db.open_tree("claims").expect("tree");
            let mut batch = sled::Batch::default();
            for i in 0..200_000u32 {
                batch.insert(&i.to_be_bytes(), b"c");
            }
            tree.apply_batch(batch).expect("batch");
            db.flush().expect("flush");
        }
        let db = sled::open(&path).expect("open");
        let seen = Seen::default();
        seen.fill_from(db.open_tree("claims").expect("tree"));
        drop(seen);
        drop(db);
        sled::open(&path).expect("the reader let the database go");
    }
}
