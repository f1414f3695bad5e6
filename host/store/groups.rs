//! Indexes written a group at a time: the time index of decisions and the
//! audit index. Deciding a kill adds an entry to each; writing them to sled
//! one by one cost more than everything else in a decision (sled splits a
//! leaf every 16 entries and rewrites it into its log). Here entries wait in
//! memory ([`Pending`]) and are written as one frame of the record log per
//! group when the store is flushed, read or synced (every half-second),
//! with sled holding only the group's key and the frame's location (large
//! sled values made sled rewrite large leaves).
//!
//! - Time index (`kills_by_time`): key `min time ‖ group id`; the group's
//!   entries (decision time, kill time, kill_id, decision_id, module,
//!   record location). No group spans
//!   more than [`SPAN_MS`], so a range query reads the groups whose first
//!   time is in `[from - SPAN_MS, to)`.
//! - Audit index (`audit`): key `first seq`; the entries are
//!   `(seq, location)` pairs.
//!   Sequence numbers are given under the pending lock, so groups hold
//!   consecutive runs and never interleave.
//!
//! `meta/indexed_to` records how far into the record log the groups reach,
//! moved only as far as the log is durable; a store opened after a crash
//! indexes the frames past it again, skipping those whose groups survived
//! ([`super::SledStore::reindex_tail`]).

use std::collections::BinaryHeap;
use std::sync::Arc;

use parking_lot::{Mutex, MutexGuard};

use super::Result;
use super::keys::{ms_of_time_be, time_be_ms};
use super::log::{KIND_INDEX, Loc, RecordLog};

/// The widest time span of one group of the time index (groups are
/// written at least every half-second, so most span much less).
pub const SPAN_MS: i64 = 2_000;
/// The most entries in one group.
const GROUP_ENTRIES: usize = 4096;

/// One decision in the time index.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TimeEntry {
    /// The decision's time.
    pub ms: i64,
    /// The time Smith stamped on the kill.
    pub kill_ms: i64,
    pub kill_id: String,
    pub decision_id: String,
    pub module: String,
    pub loc: Loc,
}

impl Ord for TimeEntry {
    fn cmp(&self, other: &Self) -> std::cmp::Ordering {
        (self.ms, &self.kill_id, &self.decision_id).cmp(&(
            other.ms,
            &other.kill_id,
            &other.decision_id,
        ))
    }
}

impl PartialOrd for TimeEntry {
    fn partial_cmp(&self, other: &Self) -> Option<std::cmp::Ordering> {
        Some(self.cmp(other))
    }
}

fn put_str(out: &mut Vec<u8>, s: &str) {
    let len = u16::try_from(s.len()).unwrap_or(u16::MAX);
    out.extend_from_slice(&len.to_be_bytes());
    out.extend_from_slice(&s.as_bytes()[..usize::from(len)]);
}

/// Reads the pieces of encoded entries in turn; `None` once the bytes end
/// (or are cut short).
struct Reader<'a>(&'a [u8]);

impl<'a> Reader<'a> {
    fn take(&mut self, n: usize) -> Option<&'a [u8]> {
        let (head, rest) = (self.0.get(..n)?, self.0.get(n..)?);
        self.0 = rest;
        Some(head)
    }
    fn u64(&mut self) -> Option<u64> {
        Some(u64::from_be_bytes(self.take(8)?.try_into().ok()?))
    }
    fn loc(&mut self) -> Option<Loc> {
        Loc::from_bytes(self.take(12)?)
    }
    /// A length-prefixed string's bytes (see [`put_str`]).
    fn bytes(&mut self) -> Option<&'a [u8]> {
        let len = u16::from_be_bytes(self.take(2)?.try_into().ok()?);
        self.take(usize::from(len))
    }
    fn str(&mut self) -> Option<String> {
        Some(String::from_utf8_lossy(self.bytes()?).into_owned())
    }
    /// A time entry's kill_id and record location, the rest skipped
    /// (the fields of [`Reader::time_entry`], in its order).
    fn claim(&mut self) -> Option<(&'a [u8], Loc)> {
        self.take(16)?;
        let loc = self.loc()?;
        let kill_id = self.bytes()?;
        self.bytes()?;
        self.bytes()?;
        Some((kill_id, loc))
    }
    fn time_entry(&mut self) -> Option<TimeEntry> {
        Some(TimeEntry {
            ms: self.u64()? as i64,
            kill_ms: self.u64()? as i64,
            loc: self.loc()?,
            kill_id: self.str()?,
            decision_id: self.str()?,
            module: self.str()?,
        })
    }
}

fn decode_times(bytes: &[u8]) -> Vec<TimeEntry> {
    let mut r = Reader(bytes);
    std::iter::from_fn(|| r.time_entry()).collect()
}

fn decode_audit(bytes: &[u8]) -> Vec<(u64, Loc)> {
    let mut r = Reader(bytes);
    std::iter::from_fn(|| Some((r.u64()?, r.loc()?))).collect()
}

/// Entries not yet written to sled.
#[derive(Default)]
pub struct Pending {
    pub times: Vec<TimeEntry>,
    pub audit: Vec<(u64, Loc)>,
    /// The newest time (ms) of the audit events in `audit`, when every one
    /// was given ([`Pending::audited_at`]): their groups' frames carry it.
    pub audit_ms: Option<i64>,
    /// Where the log ended after each write of groups, oldest first, until
    /// the log is durable that far and `indexed_to` may say so.
    ends: std::collections::VecDeque<Loc>,
}

impl Pending {
    /// Notes an audit event's time, as its entry is added to `audit`.
    pub fn audited_at(&mut self, ms: i64) {
        self.audit_ms = Some(self.audit_ms.map_or(ms, |m| m.max(ms)));
    }
}

pub struct Groups {
    pending: Mutex<Pending>,
    pub(crate) log: Arc<RecordLog>,
    by_time: sled::Tree,
    audit: sled::Tree,
    meta: sled::Tree,
    db: sled::Db,
}

impl Groups {
    pub fn new(
        log: Arc<RecordLog>,
        by_time: sled::Tree,
        audit: sled::Tree,
        meta: sled::Tree,
        db: sled::Db,
    ) -> Groups {
        Groups {
            pending: Mutex::new(Pending::default()),
            log,
            by_time,
            audit,
            meta,
            db,
        }
    }

    /// The pending entries, locked. Whoever appends a frame and adds its
    /// entry does both under this lock, so that [`Groups::write`] never
    /// records a log position past a frame whose entry is still to come.
    pub fn lock(&self) -> MutexGuard<'_, Pending> {
        self.pending.lock()
    }

    /// Writes the pending entries as groups: a frame of the record log
    /// each, found through its sled key.
    pub fn write(&self) -> Result<()> {
        let mut p = self.lock();
        if p.times.is_empty() && p.audit.is_empty() {
            return self.advance_indexed_to(&mut p);
        }
        // An index frame carries the newest time of its entries: a segment
        // holding a group is kept as long as the group's entries are.
        let mut times = std::mem::take(&mut p.times);
        times.sort_unstable();
        let mut rest = &times[..];
        while let Some(first) = rest.first() {
            let n = rest
                .iter()
                .take(GROUP_ENTRIES)
                .take_while(|e| e.ms - first.ms <= SPAN_MS)
                .count();
            let (group, tail) = rest.split_at(n);
            let mut key = time_be_ms(first.ms).to_vec();
            key.extend_from_slice(&self.db.generate_id()?.to_be_bytes());
            let mut value = Vec::with_capacity(group.len() * 96);
            for e in group {
                value.extend_from_slice(&(e.ms as u64).to_be_bytes());
                value.extend_from_slice(&(e.kill_ms as u64).to_be_bytes());
                value.extend_from_slice(&e.loc.to_bytes());
                put_str(&mut value, &e.kill_id);
                put_str(&mut value, &e.decision_id);
                put_str(&mut value, &e.module);
            }
            let newest = group.iter().map(|e| e.ms).max();
            let loc = self.log.append_at(KIND_INDEX, &value, newest)?;
            self.by_time.insert(key, &loc.to_bytes())?;
            rest = tail;
        }
        let audit_ms = p.audit_ms.take();
        for group in std::mem::take(&mut p.audit).chunks(GROUP_ENTRIES) {
            let mut value = Vec::with_capacity(group.len() * 20);
            for (seq, loc) in group {
                value.extend_from_slice(&seq.to_be_bytes());
                value.extend_from_slice(&loc.to_bytes());
            }
            let loc = self.log.append_at(KIND_INDEX, &value, audit_ms)?;
            self.audit
                .insert(group[0].0.to_be_bytes(), &loc.to_bytes())?;
        }
        p.ends.push_back(self.log.end());
        self.advance_indexed_to(&mut p)
    }

    /// Moves `meta/indexed_to` to the newest end of written groups that the
    /// log has made durable. Never further: sled may make it durable at any
    /// time (it flushes on its own too), and a crash must not leave it past
    /// records whose groups were lost with the log's unsynced tail (they
    /// would never be indexed again).
    fn advance_indexed_to(&self, p: &mut Pending) -> Result<()> {
        let durable = self.log.durable();
        let mut reached = None;
        while let Some(end) = p.ends.front().copied()
            && end <= durable
        {
            reached = Some(end);
            p.ends.pop_front();
        }
        if let Some(end) = reached {
            self.meta.insert("indexed_to", &end.to_bytes())?;
        }
        Ok(())
    }

    /// The store's `meta` tree.
    pub fn meta(&self) -> &sled::Tree {
        &self.meta
    }

    /// The highest sequence number the audit index's readable groups hold.
    pub fn last_audit_seq(&self) -> Result<Option<u64>> {
        for group in self.audit.iter().rev() {
            let (_, at) = group?;
            if let Some(seq) = decode_audit(&self.group(&at)?)
                .iter()
                .map(|(s, _)| *s)
                .max()
            {
                return Ok(Some(seq));
            }
        }
        Ok(None)
    }

    /// A group's entries, read from the record log (empty when a crash
    /// left the key without its frame: the tail is indexed again instead).
    fn group(&self, at: &[u8]) -> Result<Vec<u8>> {
        Ok(match Loc::from_bytes(at) {
            Some(loc) => self.log.read(loc)?.unwrap_or_default(),
            None => Vec::new(),
        })
    }

    /// How far into the record log the written groups reach.
    pub fn indexed_to(&self) -> Result<Loc> {
        Ok(self
            .meta
            .get("indexed_to")?
            .and_then(|v| Loc::from_bytes(&v))
            .unwrap_or(Loc {
                segment: 0,
                offset: 0,
            }))
    }

    /// Every written time index entry's kill_id and record location (the
    /// claims), group by group.
    pub fn visit_claims(&self, mut visit: impl FnMut(&[u8], Loc)) -> Result<()> {
        for group in self.by_time.iter() {
            let (_, at) = group?;
            let value = self.group(&at)?;
            let mut r = Reader(&value);
            while let Some((kill_id, loc)) = r.claim() {
                visit(kill_id, loc);
            }
        }
        Ok(())
    }

    /// Time index entries with times in `[from_ms, to_ms)`, oldest first.
    /// Collects them all: for a short range only (see
    /// [`Groups::visit_between`]).
    pub fn times_between(&self, from_ms: i64, to_ms: i64) -> Result<Vec<TimeEntry>> {
        let mut out = Vec::new();
        self.visit_between(from_ms, to_ms, |e| {
            out.push(e);
            Ok(())
        })?;
        out.sort_unstable();
        Ok(out)
    }

    /// Visits the time index entries with times in `[from_ms, to_ms)`, a
    /// group at a time, roughly oldest first (groups overlap in time, so
    /// not sorted). Holds one group in memory, never the whole range: a
    /// week of a busy fleet is a million entries, a quarter of a gigabyte
    /// collected (docs/BENCHMARKS.md, "Memory of a large store").
    pub fn visit_between(
        &self,
        from_ms: i64,
        to_ms: i64,
        mut visit: impl FnMut(TimeEntry) -> Result<()>,
    ) -> Result<()> {
        self.write()?;
        let start = time_be_ms(from_ms.saturating_sub(SPAN_MS));
        for group in self.by_time.range(start..time_be_ms(to_ms)) {
            let (_, at) = group?;
            let value = self.group(&at)?;
            for e in decode_times(&value) {
                if e.ms >= from_ms && e.ms < to_ms {
                    visit(e)?;
                }
            }
        }
        Ok(())
    }

    /// The location of the decision `decision_id` made at `ms`.
    pub fn find(&self, ms: i64, decision_id: &str) -> Result<Option<Loc>> {
        self.write()?;
        let start = time_be_ms(ms.saturating_sub(SPAN_MS));
        for group in self.by_time.range(start..time_be_ms(ms.saturating_add(1))) {
            let (_, at) = group?;
            let value = self.group(&at)?;
            if let Some(e) = decode_times(&value)
                .into_iter()
                .find(|e| e.ms == ms && e.decision_id == decision_id)
            {
                return Ok(Some(e.loc));
            }
        }
        Ok(None)
    }

    /// Visits time index entries in `[from_ms, to_ms)` below `below` (a
    /// time and kill_id), newest first, until `visit` says stop.
    ///
    /// Groups are read newest first. A group that starts at `m` holds
    /// nothing after `m + SPAN_MS`, nor does any group before it, so every
    /// gathered entry after `m + SPAN_MS` can be given out in order.
    pub fn newest(
        &self,
        from_ms: i64,
        to_ms: i64,
        below: Option<(i64, &str)>,
        mut visit: impl FnMut(&TimeEntry) -> Result<bool>,
    ) -> Result<()> {
        self.write()?;
        let under = |e: &TimeEntry| match below {
            Some((ms, kill)) => (e.ms, e.kill_id.as_str()) < (ms, kill),
            None => true,
        };
        let mut heap = BinaryHeap::new();
        for group in self.by_time.range(..time_be_ms(to_ms)).rev() {
            let (key, at) = group?;
            let value = self.group(&at)?;
            let start = ms_of_time_be(&key);
            heap.extend(
                decode_times(&value)
                    .into_iter()
                    .filter(|e| e.ms >= from_ms && e.ms < to_ms && under(e)),
            );
            while heap
                .peek()
                .is_some_and(|e: &TimeEntry| e.ms > start.saturating_add(SPAN_MS))
            {
                if let Some(e) = heap.pop()
                    && !visit(&e)?
                {
                    return Ok(());
                }
            }
            if start.saturating_add(SPAN_MS) < from_ms {
                break;
            }
        }
        while let Some(e) = heap.pop() {
            if !visit(&e)? {
                break;
            }
        }
        Ok(())
    }

    /// Removes the time index groups whose every entry is older than
    /// `before_ms`, visiting each entry first (a group that reaches past it
    /// waits for a later sweep); at most `max_groups` of them. Returns how
    /// many groups were removed.
    pub fn expire_times(
        &self,
        before_ms: i64,
        max_groups: usize,
        mut visit: impl FnMut(&TimeEntry) -> Result<()>,
    ) -> Result<usize> {
        self.write()?;
        let mut removed = 0;
        for group in self.by_time.range(..time_be_ms(before_ms)) {
            if removed >= max_groups {
                break;
            }
            let (key, at) = group?;
            let entries = decode_times(&self.group(&at)?);
            if entries.iter().any(|e| e.ms >= before_ms) {
                continue;
            }
            for e in &entries {
                visit(e)?;
            }
            self.by_time.remove(key)?;
            removed += 1;
        }
        Ok(removed)
    }

    /// Removes the audit index groups, oldest first, whose newest event
    /// (`time_of` reads an event's time in milliseconds; `None` for one no
    /// longer in the log) is older than `before_ms`; at most `max_groups`.
    /// Returns how many events they indexed.
    pub fn expire_audit(
        &self,
        before_ms: i64,
        max_groups: usize,
        mut time_of: impl FnMut(Loc) -> Result<Option<i64>>,
    ) -> Result<usize> {
        self.write()?;
        let mut events = 0;
        for (n, group) in self.audit.iter().enumerate() {
            if n >= max_groups {
                break;
            }
            let (key, at) = group?;
            let entries = decode_audit(&self.group(&at)?);
            if let Some((_, last)) = entries.iter().max_by_key(|(seq, _)| *seq)
                && time_of(*last)?.is_some_and(|ms| ms >= before_ms)
            {
                break;
            }
            self.audit.remove(key)?;
            events += entries.len();
        }
        Ok(events)
    }

    /// Audit index entries from sequence number `start` on, at most `limit`.
    pub fn audit_from(&self, start: u64, limit: usize) -> Result<Vec<(u64, Loc)>> {
        self.write()?;
        // The group holding `start` begins at or before it.
        let first = match self.audit.range(..=start.to_be_bytes()).next_back() {
            Some(group) => group?.0.to_vec(),
            None => start.to_be_bytes().to_vec(),
        };
        let mut out = Vec::new();
        for group in self.audit.range(first..) {
            let (_, at) = group?;
            let value = self.group(&at)?;
            for entry in decode_audit(&value)
                .into_iter()
                .filter(|(s, _)| *s >= start)
            {
                if out.len() >= limit {
                    return Ok(out);
                }
                out.push(entry);
            }
        }
        Ok(out)
    }

    /// Audit entries numbered below `end`, newest first, at most `limit`:
    /// the groups are walked back from the one holding `end - 1`.
    pub fn audit_before(&self, end: u64, limit: usize) -> Result<Vec<(u64, Loc)>> {
        self.write()?;
        let mut out = Vec::new();
        for group in self.audit.range(..end.to_be_bytes()).rev() {
            let (_, at) = group?;
            let value = self.group(&at)?;
            for entry in decode_audit(&value)
                .into_iter()
                .rev()
                .filter(|(s, _)| *s < end)
            {
                if out.len() >= limit {
                    return Ok(out);
                }
                out.push(entry);
            }
        }
        Ok(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn groups() -> (tempfile::TempDir, Groups) {
        let dir = tempfile::tempdir().expect("tempdir");
        let db = sled::Config::new().temporary(true).open().expect("sled");
        let log = RecordLog::open(dir.path()).expect("log");
        let g = Groups::new(
            log,
            db.open_tree("t").expect("tree"),
            db.open_tree("a").expect("tree"),
            db.open_tree("m").expect("tree"),
            db,
        );
        (dir, g)
    }

    fn entry(ms: i64, n: usize) -> TimeEntry {
        TimeEntry {
            ms,
            kill_ms: ms - 5,
            kill_id: format!("k{n:05}"),
            decision_id: format!("d{n}"),
            module: format!("svc-{}", n % 7),
            loc: Loc {
                segment: 1,
                offset: n as u64,
            },
        }
    }

    #[test]
    fn time_queries_find_every_entry_across_groups_in_order() {
        let (_dir, g) = groups();
        // Entries out of order, over a minute, written in several flushes
        // whose time spans overlap (as concurrent deciders make them).
        let mut all = Vec::new();
        for n in 0..3000 {
            let ms = 1_000_000 + ((n * 7919) % 60_000) as i64;
            all.push(entry(ms, n));
        }
        for chunk in all.chunks(400) {
            g.lock().times.extend(chunk.iter().cloned());
            g.write().expect("write");
        }
        all.sort();
        let (from, to) = (1_010_000, 1_040_000);
        let want: Vec<_> = all
            .iter()
            .filter(|e| e.ms >= from && e.ms < to)
            .cloned()
            .collect();
        assert_eq!(g.times_between(from, to).expect("between"), want);
        for e in [&want[0], &want[want.len() / 2], &want[want.len() - 1]] {
            assert_eq!(g.find(e.ms, &e.decision_id).expect("find"), Some(e.loc));
        }
        assert_eq!(
            g.find(want[0].ms + 1, &want[0].decision_id).expect("find"),
            None
        );

        let mut newest = Vec::new();
        g.newest(from, to, None, |e| {
            newest.push(e.clone());
            Ok(true)
        })
        .expect("newest");
        let mut want_rev = want.clone();
        want_rev.reverse();
        assert_eq!(newest, want_rev, "newest first, nothing missed");

        // Paging below a cursor, stopping at a limit.
        let cursor = &want_rev[100];
        let mut page = Vec::new();
        g.newest(from, to, Some((cursor.ms, &cursor.kill_id)), |e| {
            page.push(e.clone());
            Ok(page.len() < 50)
        })
        .expect("page");
        assert_eq!(page, want_rev[101..151].to_vec());
    }

    #[test]
    fn audit_pages_from_any_sequence_number() {
        let (_dir, g) = groups();
        for seq in 1..=1000u64 {
            g.lock().audit.push((
                seq,
                Loc {
                    segment: 1,
                    offset: seq,
                },
            ));
            if seq % 97 == 0 {
                g.write().expect("write");
            }
        }
        let seqs = |start, limit| -> Vec<u64> {
            g.audit_from(start, limit)
                .expect("audit")
                .into_iter()
                .map(|(s, _)| s)
                .collect()
        };
        assert_eq!(seqs(0, 5), vec![1, 2, 3, 4, 5]);
        assert_eq!(seqs(96, 4), vec![96, 97, 98, 99]);
        assert_eq!(seqs(995, 100), vec![995, 996, 997, 998, 999, 1000]);
        assert!(seqs(1001, 10).is_empty());
        assert_eq!(seqs(1, 1000).len(), 1000);
        // And back from any number, newest first.
        let back = |end, limit| -> Vec<u64> {
            g.audit_before(end, limit)
                .expect("audit")
                .into_iter()
                .map(|(s, _)| s)
                .collect()
        };
        assert_eq!(back(u64::MAX, 3), vec![1000, 999, 998]);
        assert_eq!(back(99, 4), vec![98, 97, 96, 95]);
        assert_eq!(back(6, 100), vec![5, 4, 3, 2, 1]);
        assert!(back(1, 10).is_empty());
        assert_eq!(back(1001, 1000).len(), 1000);
        // `indexed_to` moves only as far as the log is durable.
        let start = Loc {
            segment: 0,
            offset: 0,
        };
        assert_eq!(g.indexed_to().expect("indexed"), start, "nothing synced");
        g.log.sync().expect("sync");
        g.write().expect("write");
        assert_eq!(g.indexed_to().expect("indexed"), g.log.end());
    }
}
