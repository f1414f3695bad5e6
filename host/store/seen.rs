//! Which kill_ids may have a claim: a Bloom filter in front of the
//! `decision_by_kill` tree, so the duplicate check every kill begins with
//! costs no sled lookup for a kill never seen (nearly every kill). A
//! "maybe" is answered by sled as before; a "no" is never wrong: every
//! claim's kill_id is added before the claim is written, and the claims
//! already in the store are read at open by a thread of its own (so a
//! large store opens as fast as before). Until that thread is done, every
//! check goes to sled, and the kill_ids claimed meanwhile are kept aside
//! and added when the filter is published.
//!
//! Sized for twice the claims found at open (at least a million), ten bits
//! and seven hashes per kill_id: about 1% of new kills still look theirs
//! up. A store that outgrows it only looks up more often.

use std::hash::{BuildHasher, BuildHasherDefault, DefaultHasher};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

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

#[derive(Default)]
pub struct Seen {
    /// Published once the claims stored at open are all in it.
    filter: ArcSwapOption<Filter>,
    /// Hashes of kill_ids claimed before then.
    early: Mutex<Vec<u64>>,
}

impl Seen {
    /// Notes that `key` is about to be claimed.
    pub fn insert(&self, key: &[u8]) {
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

    /// Whether `key` certainly has no claim (false until the filter is
    /// published, and for about 1% of keys never claimed).
    pub fn surely_absent(&self, key: &[u8]) -> bool {
        self.filter
            .load()
            .as_ref()
            .is_some_and(|f| !f.may_contain(hash(key)))
    }

    /// Reads the claims in `by_kill` on a thread of its own, then publishes
    /// the filter. If reading the tree fails, every check keeps going to
    /// sled.
    pub fn fill_from(self: &Arc<Self>, by_kill: sled::Tree) {
        let seen = self.clone();
        let spawned = std::thread::Builder::new()
            .name("medic-seen".into())
            .spawn(move || {
                let mut hashes = Vec::new();
                for key in by_kill.iter().keys() {
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
                let mut early = seen.early.lock().unwrap_or_else(|p| p.into_inner());
                early.drain(..).for_each(|h| filter.insert(h));
                seen.filter.store(Some(Arc::new(filter)));
            });
        if let Err(e) = spawned {
            tracing::warn!(error = %e, "Could not start reading the kills' claims; every duplicate check asks the store");
        }
    }

    #[cfg(test)]
    pub(super) fn is_published(&self) -> bool {
        self.filter.load().is_some()
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
}
