//! Which record holds each kill's decision (its claim), kept in memory.
//!
//! A kill_id is claimed by the first decision stored for it, and only a
//! decision that wins the claim is appended to the record log. The claims
//! are not written anywhere of their own: every stored decision's time
//! index entry names its kill_id and record ([`super::groups`]), so they
//! are read back from the time index when the store opens, and from the
//! record log's tail for the decisions a crash left unindexed
//! ([`super::SledStore::reindex_tail`]). Claiming a kill therefore costs a
//! hash-map insert instead of a sled compare-and-swap (which was a fifth
//! of the CPU time of a decision), and nothing more to flush.
//!
//! A claim is kept as a hash of the kill_id (keyed afresh by each
//! process, so kill_ids cannot be chosen to collide) and the record's
//! location. A hash only names candidates: the store reads a candidate
//! record and compares its kill_id, so a collision costs a read, never a
//! wrong answer. A candidate whose record a crash lost reads as missing and
//! is dropped when the kill is claimed again.
//!
//! The claims read when the store opens (nearly all of them) are kept in
//! one array sorted by hash, built once ([`Loaded`]): 12 bytes a claim (the
//! top 32 bits of its hash and its packed location) and a directory of
//! where each run of hashes starts. In hash maps they took ~36 bytes each
//! (16-byte entries at about half load): ~36 MB of `medic serve`'s memory
//! at a million stored decisions, ~12 MB in the array (docs/BENCHMARKS.md,
//! "Memory of a large store"). 32 bits name a wrong candidate for a new
//! kill about once in 4,000 kills at a million claims (a read, as above).
//! Claims made after the store opened go in hash maps, keyed by the whole
//! 64-bit hash.
//!
//! Those maps are split in [`SHARDS`] by bits of the hash. A hash map
//! grows by moving every entry to a table twice the size, under its lock, and
//! no decision can be stored meanwhile: one map took ~11 ms to grow past
//! 229,376 claims and ~23 ms past 458,752 (twice as long at each doubling),
//! and the load test's kills waited in a burst around it
//! (docs/benchmarks-history.md, issue 3). Each shard grows on its own, at a
//! 64th of the size.

use std::collections::HashMap;
use std::collections::hash_map::Entry;
use std::hash::{BuildHasher, BuildHasherDefault, Hasher, RandomState};
use std::sync::atomic::{AtomicU32, AtomicUsize, Ordering};

use parking_lot::{Mutex, MutexGuard};

use super::log::Loc;

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
/// (such a claim goes in the lists instead). The last segment number is
/// left out: a loaded claim's top half all ones marks it released.
fn pack(loc: Loc) -> Option<u64> {
    (loc.segment < (1 << 24) - 1 && loc.offset < 1 << 40)
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

/// How many maps the claims made after opening are split in.
pub const SHARDS: usize = 64;

/// The top half of a released loaded claim's packed location (no packed
/// location has it: see [`pack`]).
const RELEASED: u32 = u32::MAX;

/// One loaded claim: the top 32 bits of its hash, then its packed
/// location's top and bottom halves (12 bytes; a `u64` would pad it to 16).
/// The location's top half becomes [`RELEASED`] when the claim goes.
type Slot = [AtomicU32; 3];

/// The claims read when the store opened, sorted by hash (then location,
/// so that candidates come oldest first), never added to.
#[derive(Default)]
struct Loaded {
    slots: Box<[Slot]>,
    /// `starts[b]` is the first slot whose hash's top `bits` bits are `b`
    /// or more; `starts[2^bits]` is the number of slots.
    starts: Box<[u32]>,
    bits: u32,
    /// How many slots are not released.
    live: AtomicUsize,
}

fn hash_of(slot: &Slot) -> u32 {
    slot[0].load(Ordering::Relaxed)
}

fn packed_of(slot: &Slot) -> Option<u64> {
    let top = slot[1].load(Ordering::Relaxed);
    (top != RELEASED).then(|| (u64::from(top) << 32) | u64::from(slot[2].load(Ordering::Relaxed)))
}

impl Loaded {
    /// Sorts `slots` and builds their directory: four to eight slots to an
    /// entry (of 4 bytes).
    fn build(mut slots: Vec<Slot>) -> Loaded {
        slots.sort_unstable_by_key(|s| {
            (
                hash_of(s),
                s[1].load(Ordering::Relaxed),
                s[2].load(Ordering::Relaxed),
            )
        });
        // A vector that grew past the last run's count (or one sized for
        // far more): give back what it does not use.
        if slots.capacity() / 2 > slots.len() {
            slots.shrink_to_fit();
        }
        let bits = (slots.len() / 4).max(1).ilog2().min(24);
        let mut starts = Vec::with_capacity((1 << bits) + 1);
        let mut at = 0;
        for b in 0..1u64 << bits {
            while slots
                .get(at)
                .is_some_and(|s| (u64::from(hash_of(s)) >> (32 - bits)) < b)
            {
                at += 1;
            }
            starts.push(at as u32);
        }
        starts.push(slots.len() as u32);
        Loaded {
            live: AtomicUsize::new(slots.len()),
            slots: slots.into_boxed_slice(),
            starts: starts.into_boxed_slice(),
            bits,
        }
    }

    /// The slots whose hash has the top 32 bits `top`.
    fn slots_of(&self, top: u32) -> impl Iterator<Item = &Slot> {
        let b = (u64::from(top) >> (32 - self.bits)) as usize;
        let run = match (self.starts.get(b), self.starts.get(b + 1)) {
            (Some(from), Some(to)) => self
                .slots
                .get(*from as usize..*to as usize)
                .unwrap_or_default(),
            _ => &[],
        };
        run.iter().filter(move |s| hash_of(s) == top)
    }

    /// Releases the slot of `top` holding `loc`, if any; whether one was.
    fn release(&self, top: u32, loc: Loc) -> bool {
        let Some(p) = pack(loc) else {
            return false;
        };
        for slot in self.slots_of(top) {
            if packed_of(slot) == Some(p)
                && slot[1]
                    .compare_exchange(
                        (p >> 32) as u32,
                        RELEASED,
                        Ordering::Relaxed,
                        Ordering::Relaxed,
                    )
                    .is_ok()
            {
                self.live.fetch_sub(1, Ordering::Relaxed);
                return true;
            }
        }
        false
    }
}

pub struct Claims {
    keys: RandomState,
    loaded: Loaded,
    shards: Box<[Mutex<Map>]>,
}

impl Default for Claims {
    fn default() -> Self {
        Claims {
            keys: RandomState::new(),
            loaded: Loaded::default(),
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

/// The part of a hash a loaded claim keeps.
fn top(h: u64) -> u32 {
    (h >> 32) as u32
}

impl Claims {
    /// The claims `read` gives (each kill_id and its record's location, as
    /// read from the store when it opens), about `expected` of them (the
    /// last run's count: the array they are gathered in is sized for it).
    pub fn load<E>(
        expected: usize,
        read: impl FnOnce(&mut dyn FnMut(&[u8], Loc)) -> Result<(), E>,
    ) -> Result<Claims, E> {
        let mut claims = Claims::default();
        let mut slots: Vec<Slot> = Vec::with_capacity(expected + expected / 64);
        read(&mut |kill_id, loc| {
            let h = claims.hash(kill_id);
            match pack(loc) {
                // Indexed by `u32` in the directory.
                Some(p) if slots.len() < u32::MAX as usize => slots.push([
                    AtomicU32::new(top(h)),
                    AtomicU32::new((p >> 32) as u32),
                    AtomicU32::new(p as u32),
                ]),
                _ => claims.claim(kill_id, loc, &[]),
            }
        })?;
        claims.loaded = Loaded::build(slots);
        Ok(claims)
    }

    fn hash(&self, kill_id: &[u8]) -> u64 {
        self.keys.hash_one(kill_id)
    }

    fn map(&self, h: u64) -> MutexGuard<'_, Map> {
        self.shards[shard_of(h)].lock()
    }

    /// The records that may hold `kill_id`'s decision (usually none),
    /// oldest first.
    pub fn candidates(&self, kill_id: &[u8]) -> Vec<Loc> {
        let h = self.hash(kill_id);
        let mut out: Vec<Loc> = self
            .loaded
            .slots_of(top(h))
            .filter_map(packed_of)
            .map(unpack)
            .collect();
        let map = self.map(h);
        match (map.one.get(&h), map.more.get(&h)) {
            (Some(p), _) => out.push(unpack(*p)),
            (None, Some(locs)) => out.extend_from_slice(locs),
            (None, None) => {}
        }
        out
    }

    /// Notes that the record at `loc` holds `kill_id`'s decision, dropping
    /// the candidates `dead` that were found to hold nothing.
    pub fn claim(&self, kill_id: &[u8], loc: Loc, dead: &[Loc]) {
        let h = self.hash(kill_id);
        for d in dead {
            self.loaded.release(top(h), *d);
        }
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

    /// Forgets the claim of the record at `loc` on `kill_id` (a record past
    /// retention, removed with its index entry): the kill is unclaimed.
    pub fn release(&self, kill_id: &[u8], loc: Loc) {
        let h = self.hash(kill_id);
        if self.loaded.release(top(h), loc) {
            return;
        }
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
        self.loaded.live.load(Ordering::Relaxed)
            + self
                .shards
                .iter()
                .map(|shard| {
                    let map = shard.lock();
                    map.one.len() + map.more.values().map(Vec::len).sum::<usize>()
                })
                .sum::<usize>()
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
            let held = shard.lock().one.len() as u64;
            assert!(
                (n / SHARDS as u64 / 2..n / SHARDS as u64 * 2).contains(&held),
                "a shard holds {held} of {n}"
            );
        }
    }

    /// What the loaded claims must answer for a kill: every loaded claim
    /// whose hash keeps the same 32 bits (its own and any collision),
    /// oldest first, and nothing else. By those bits.
    fn expected(claims: &Claims, loaded: &[(String, Loc)]) -> HashMap<u32, Vec<Loc>> {
        let mut out: HashMap<u32, Vec<Loc>> = HashMap::new();
        // A far location is kept in the maps, by the whole hash.
        for (k, l) in loaded.iter().filter(|(_, l)| pack(*l).is_some()) {
            out.entry(top(claims.hash(k.as_bytes())))
                .or_default()
                .push(*l);
        }
        for locs in out.values_mut() {
            locs.sort();
        }
        out
    }

    fn load(loaded: &[(String, Loc)]) -> Claims {
        Claims::load(loaded.len(), |claim| {
            for (k, l) in loaded {
                claim(k.as_bytes(), *l);
            }
            Ok::<_, ()>(())
        })
        .expect("load")
    }

    #[test]
    fn loaded_claims_lose_none_and_find_no_false_one() {
        let n: u64 = 60_000;
        // Read in no particular order (groups overlap in time), one kill
        // claimed twice (a retake after a crash), one far location.
        let mut loaded: Vec<(String, Loc)> = (0..n)
            .map(|i| (format!("k-{}", (i * 7_919) % n), at(i * 10)))
            .collect();
        loaded.push(("k-5".into(), at(n * 10 + 5)));
        let far = Loc {
            segment: 1 << 25,
            offset: 3,
        };
        loaded.push(("k-far".into(), far));
        let claims = load(&loaded);
        let want = expected(&claims, &loaded);
        let want = |k: &str| {
            want.get(&top(claims.hash(k.as_bytes())))
                .cloned()
                .unwrap_or_default()
        };
        assert_eq!(claims.len(), loaded.len());
        for (k, l) in &loaded {
            let found = claims.candidates(k.as_bytes());
            assert!(found.contains(l), "{k} lost its claim at {l:?}");
            if pack(*l).is_some() {
                assert_eq!(found, want(k), "{k}");
            }
        }
        assert_eq!(
            claims.candidates(b"k-5"),
            want("k-5"),
            "both of a kill's claims, oldest first"
        );
        assert!(claims.candidates(b"k-5").len() >= 2);
        assert!(claims.candidates(b"k-far").contains(&far));
        // Kills never claimed: only a loaded claim whose hash shares the
        // kept bits may be named (none here, but exactly those if any).
        for i in n..n + 20_000 {
            let k = format!("k-{i}");
            assert_eq!(claims.candidates(k.as_bytes()), want(&k));
        }
    }

    #[test]
    fn loaded_claims_are_released_and_taken_over_and_new_ones_join_them() {
        let loaded: Vec<(String, Loc)> =
            (0..1_000).map(|i| (format!("k-{i}"), at(i * 10))).collect();
        let claims = load(&loaded);
        // Released by retention: gone, and counted out.
        claims.release(b"k-1", at(10));
        assert!(!claims.candidates(b"k-1").contains(&at(10)));
        assert_eq!(claims.len(), 999);
        // Released twice, or a location it never held: nothing changes.
        claims.release(b"k-1", at(10));
        claims.release(b"k-2", at(30));
        assert_eq!(claims.len(), 999);
        assert!(claims.candidates(b"k-2").contains(&at(20)));
        // A loaded claim found dead is taken over by a new one.
        claims.claim(b"k-3", at(50_000), &[at(30)]);
        let k3 = claims.candidates(b"k-3");
        assert!(k3.contains(&at(50_000)) && !k3.contains(&at(30)), "{k3:?}");
        assert_eq!(claims.len(), 999);
        // New kills after opening are found beside the loaded ones.
        claims.claim(b"new", at(60_000), &[]);
        assert!(claims.candidates(b"new").contains(&at(60_000)));
        assert!(claims.candidates(b"k-4").contains(&at(40)));
        assert_eq!(claims.len(), 1_000);
    }

    #[test]
    fn an_empty_or_tiny_load_answers_like_an_empty_map() {
        let claims = load(&[]);
        assert!(claims.candidates(b"k").is_empty());
        assert_eq!(claims.len(), 0);
        let claims = load(&[("k".into(), at(1))]);
        assert_eq!(claims.candidates(b"k"), vec![at(1)]);
        assert!(claims.candidates(b"j").len() <= 1);
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
