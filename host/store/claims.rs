//! Which record holds each kill's decision (its claim), kept in memory.
//!
//! A kill_id is claimed by the first decision stored for it, and only a
//! decision that wins the claim is appended to the record log. The claims
//! are not written anywhere of their own: every stored decision's time
//! index entry names its kill_id and record ([`super::groups`]), so they
//! are read back from the time index when the store opens, and from the
//! record log's tail for the decisions a crash left unindexed
//! ([`super::Store::reindex_tail`]). Claiming a kill therefore costs a
//! hash-map insert instead of a sled compare-and-swap (which was a fifth
//! of the CPU time of a decision), and nothing more to flush.
//!
//! A claim is kept as a 64-bit hash of the kill_id (keyed afresh by each
//! process, so kill_ids cannot be chosen to collide) and the record's
//! location, about 20 bytes a kill (16 in its map's table). A hash only names candidates: the
//! store reads a candidate record and compares its kill_id, so a collision
//! costs a read, never a wrong answer. A candidate whose record a crash
//! lost reads as missing and is dropped when the kill is claimed again.
//!
//! The claims are split in [`SHARDS`] maps by bits of the hash. A hash map
//! grows by moving every entry to a table twice the size, under its lock, and
//! no decision can be stored meanwhile: one map took ~11 ms to grow past
//! 229,376 claims and ~23 ms past 458,752 (twice as long at each doubling),
//! and the load test's kills waited in a burst around it
//! (docs/benchmarks-history.md, issue 3). Each shard grows on its own, at a
//! 64th of the size.

use std::collections::HashMap;
use std::collections::hash_map::Entry;
use std::hash::{BuildHasher, BuildHasherDefault, Hasher, RandomState};
use std::sync::{Mutex, MutexGuard};

use super::log::Loc;
use crate::sync::lock;

/// Passes through a key that is already a hash.
#[derive(Default)]
struct Prehashed(u64);

impl Hasher for Prehashed {
    fn finish(&self) -> u64 {
        self.0
    }
    fn write(&mut self, bytes: &[u8]) {
        for b in bytes {
            self.0 = self.0.rotate_left(8) ^ u64::from(*b);
        }
    }
    fn write_u64(&mut self, n: u64) {
        self.0 = n;
    }
}

type ByHash<V> = HashMap<u64, V, BuildHasherDefault<Prehashed>>;

/// A location packed in 64 bits (segment in the top 24, offset in the low
/// 40): a claim's entry is then 16 bytes, not 24 (a [`Loc`] pads to 16),
/// a third less memory at a million claims. `None` past those bounds
/// (such a claim goes in the lists instead).
fn pack(loc: Loc) -> Option<u64> {
    (loc.segment < 1 << 24 && loc.offset < 1 << 40)
        .then(|| (u64::from(loc.segment) << 40) | loc.offset)
}

fn unpack(p: u64) -> Loc {
    Loc {
        segment: (p >> 40) as u32,
        offset: p & ((1 << 40) - 1),
    }
}

#[derive(Default)]
struct Map {
    /// Hashes with one candidate (nearly all), packed.
    one: ByHash<u64>,
    /// Hashes with more: a collision, or a claim a crash lost and the
    /// claim that took it over.
    more: ByHash<Vec<Loc>>,
}

/// How many maps the claims are split in.
pub const SHARDS: usize = 64;

pub struct Claims {
    keys: RandomState,
    shards: Box<[Mutex<Map>]>,
}

impl Default for Claims {
    fn default() -> Self {
        Claims {
            keys: RandomState::new(),
            shards: (0..SHARDS).map(|_| Mutex::default()).collect(),
        }
    }
}

/// The shard of a hash: bits 32–37, which a shard's own table does not
/// use (it places an entry by the low bits and tags it with the top
/// seven), so that within a shard hashes still spread over all of them.
fn shard_of(h: u64) -> usize {
    (h >> 32) as usize % SHARDS
}

impl Claims {
    fn hash(&self, kill_id: &[u8]) -> u64 {
        self.keys.hash_one(kill_id)
    }

    fn map(&self, h: u64) -> MutexGuard<'_, Map> {
        lock(&self.shards[shard_of(h)])
    }

    /// The records that may hold `kill_id`'s decision (usually none).
    pub fn candidates(&self, kill_id: &[u8]) -> Vec<Loc> {
        let h = self.hash(kill_id);
        let map = self.map(h);
        match (map.one.get(&h), map.more.get(&h)) {
            (Some(p), _) => vec![unpack(*p)],
            (None, Some(locs)) => locs.clone(),
            (None, None) => Vec::new(),
        }
    }

    /// Notes that the record at `loc` holds `kill_id`'s decision, dropping
    /// the candidates `dead` that were found to hold nothing.
    pub fn claim(&self, kill_id: &[u8], loc: Loc, dead: &[Loc]) {
        let h = self.hash(kill_id);
        let mut map = self.map(h);
        let Map { one, more } = &mut *map;
        let packed = pack(loc);
        let mut locs = match (more.remove(&h), one.entry(h), packed) {
            // Nearly every claim: a hash never seen, or one whose only
            // candidate was found dead. No list is made.
            (None, Entry::Vacant(slot), Some(p)) => {
                slot.insert(p);
                return;
            }
            (None, Entry::Occupied(mut slot), Some(p)) if dead.contains(&unpack(*slot.get())) => {
                slot.insert(p);
                return;
            }
            (None, Entry::Occupied(slot), _) => vec![unpack(slot.remove())],
            (None, Entry::Vacant(_), None) => Vec::new(),
            (Some(locs), _, _) => locs,
        };
        locs.retain(|l| !dead.contains(l));
        locs.push(loc);
        match (&locs[..], locs.first().copied().and_then(pack)) {
            ([_], Some(p)) => {
                one.insert(h, p);
            }
            _ => {
                more.insert(h, locs);
            }
        }
    }

    /// Makes room for `total` claims in all, a share in each map, so that
    /// reading them at open never grows a table.
    pub fn reserve(&self, total: usize) {
        let each = total / SHARDS + total / SHARDS / 16 + 16;
        for shard in self.shards.iter() {
            lock(shard).one.reserve(each);
        }
    }

    /// Forgets the claim of the record at `loc` on `kill_id` (a record past
    /// retention, removed with its index entry): the kill is unclaimed.
    pub fn release(&self, kill_id: &[u8], loc: Loc) {
        let h = self.hash(kill_id);
        let mut map = self.map(h);
        let Map { one, more } = &mut *map;
        if pack(loc).is_some_and(|p| one.get(&h) == Some(&p)) {
            one.remove(&h);
        } else if let Some(locs) = more.get_mut(&h) {
            locs.retain(|l| *l != loc);
            match (&locs[..], locs.first().copied().and_then(pack)) {
                ([], _) => {
                    more.remove(&h);
                }
                ([_], Some(p)) => {
                    more.remove(&h);
                    one.insert(h, p);
                }
                _ => {}
            }
        }
    }

    /// How many records are claimed (a claim a crash lost counts until
    /// its kill is claimed again).
    pub fn len(&self) -> usize {
        self.shards
            .iter()
            .map(|shard| {
                let map = lock(shard);
                map.one.len() + map.more.values().map(Vec::len).sum::<usize>()
            })
            .sum()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(offset: u64) -> Loc {
        Loc { segment: 1, offset }
    }

    #[test]
    fn a_claim_is_a_candidate_of_its_kill_only() {
        let claims = Claims::default();
        assert!(claims.candidates(b"k-1").is_empty());
        claims.claim(b"k-1", at(10), &[]);
        claims.claim(b"k-2", at(20), &[]);
        assert_eq!(claims.candidates(b"k-1"), vec![at(10)]);
        assert_eq!(claims.candidates(b"k-2"), vec![at(20)]);
        assert!(claims.candidates(b"k-3").is_empty());
        assert_eq!(claims.len(), 2);
    }

    #[test]
    fn a_second_claim_on_one_hash_keeps_both_until_one_is_found_dead() {
        let claims = Claims::default();
        claims.claim(b"k", at(10), &[]);
        // Another kill_id with the same hash, or a retake after a crash
        // whose earlier record could not be read yet: both are candidates.
        claims.claim(b"k", at(20), &[]);
        assert_eq!(claims.candidates(b"k"), vec![at(10), at(20)]);
        assert_eq!(claims.len(), 2);
        // Claimed again with the first found dead: it goes.
        claims.claim(b"k", at(30), &[at(10)]);
        assert_eq!(claims.candidates(b"k"), vec![at(20), at(30)]);
        claims.claim(b"k", at(40), &[at(20), at(30)]);
        assert_eq!(claims.candidates(b"k"), vec![at(40)]);
        assert_eq!(claims.len(), 1);
    }

    #[test]
    fn a_released_claim_is_no_candidate_and_far_locations_are_kept_whole() {
        let claims = Claims::default();
        let far = Loc {
            segment: 1 << 25,
            offset: 1 << 41,
        };
        assert_eq!(pack(far), None);
        assert_eq!(unpack(pack(at(77)).expect("packs")), at(77));
        claims.claim(b"k-far", far, &[]);
        claims.claim(b"k-1", at(10), &[]);
        claims.claim(b"k-1", at(20), &[]);
        assert_eq!(claims.candidates(b"k-far"), vec![far]);
        claims.release(b"k-1", at(10));
        assert_eq!(claims.candidates(b"k-1"), vec![at(20)]);
        claims.release(b"k-1", at(20));
        claims.release(b"k-far", far);
        assert!(claims.candidates(b"k-1").is_empty());
        assert!(claims.candidates(b"k-far").is_empty());
        assert_eq!(claims.len(), 0);
    }

    #[test]
    fn claims_spread_over_every_shard_and_are_all_found() {
        let claims = Claims::default();
        let n: u64 = 20_000;
        for i in 0..n {
            claims.claim(format!("k-{i}").as_bytes(), at(i), &[]);
        }
        assert_eq!(claims.len(), n as usize);
        for i in (0..n).step_by(97) {
            assert_eq!(claims.candidates(format!("k-{i}").as_bytes()), vec![at(i)]);
        }
        // Each shard holds about a 64th (a shard chosen by bits a table
        // already uses would hold all or nothing of some of them).
        for shard in claims.shards.iter() {
            let held = shard.lock().unwrap().one.len() as u64;
            assert!(
                (n / SHARDS as u64 / 2..n / SHARDS as u64 * 2).contains(&held),
                "a shard holds {held} of {n}"
            );
        }
    }

    #[test]
    fn hashes_are_keyed_per_process_not_fixed() {
        let (a, b) = (Claims::default(), Claims::default());
        let same = (0..8)
            .filter(|i| {
                let k = format!("k-{i}");
                a.hash(k.as_bytes()) == b.hash(k.as_bytes())
            })
            .count();
        assert_eq!(
            same, 0,
            "two maps hash alike: kill_ids could be chosen to collide"
        );
    }
}
