//! Every module's kill times of the week, in memory, as the embedded
//! store's engine keeps them, for every replica sharing the database.
//!
//! A kill's profile counts its module's kills in the hour, day and week
//! before it. Counting them in the database for every kill visits every
//! one of a busy module's rows again (and its heap page: fresh rows are
//! not all-visible), which cost more than the rest of a kill's work
//! together. Instead each replica keeps the times, adds the decisions it
//! stores as its inserts return, and before answering a batch of counts
//! reads the decisions any replica stored since it last looked: by
//! `seq` (migration 6), the order in which rows were numbered.
//!
//! Numbers are taken before rows commit, and not every number becomes a
//! row (a kill decided before takes one and stores nothing), so a reader
//! that saw row 12 may not have seen row 11 yet. A number below the
//! highest seen that was not read is a *hole*: asked for again at each
//! look until it is read or [`HOLE_KEPT`] has passed (a statement between
//! taking its numbers and committing takes milliseconds; a number that
//! never becomes a row is then forgotten). A kill is counted once
//! whichever way it is seen first: by this replica's own insert or by a
//! look.

use std::collections::{HashMap, HashSet};
use std::time::{Duration, Instant};

use sqlx::PgPool;

use crate::{KillTimes, ModuleHistory};

/// How long a number not read is asked for again.
const HOLE_KEPT: Duration = Duration::from_secs(30);

/// At connect, the numbers below the highest one that are checked for
/// rows still to commit.
const HOLES_AT_CONNECT: i64 = 10_000;

/// The most rows one look reads; it reads again while full. Small enough
/// that PostgreSQL reads them by the index in order whatever its
/// statistics say (with a large limit and statistics from before the
/// last rows, it chose to scan the whole table).
const LOOK: i64 = 1_000;

/// The most times kept per module (the oldest go first), as the engine
/// keeps with the embedded store.
const KEPT: usize = 100_000;

const WEEK_MS: i64 = 7 * 24 * 3_600_000;

#[derive(Default)]
pub(crate) struct Ledger {
    times: HashMap<String, KillTimes>,
    /// The highest number a look has read.
    top: i64,
    /// Numbers at or below `top` not read yet, and since when.
    holes: HashMap<i64, Instant>,
    /// Numbers above `top` that this replica's inserts counted already.
    ahead: HashSet<i64>,
}

impl Ledger {
    /// The kill times of the week before `now_ms`, read in one snapshot
    /// with the highest number and the numbers below it still to commit.
    pub(crate) async fn load(pool: &PgPool, now_ms: i64) -> sqlx::Result<Ledger> {
        let mut tx = pool.begin().await?;
        sqlx::query("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ")
            .execute(&mut *tx)
            .await?;
        let top: Option<i64> = sqlx::query_scalar("SELECT max(seq) FROM decisions")
            .fetch_one(&mut *tx)
            .await?;
        let top = top.unwrap_or(0);
        let rows: Vec<(String, i64)> = sqlx::query_as(
            "SELECT module, killed_ms FROM decisions WHERE killed_ms > $1 ORDER BY killed_ms",
        )
        .bind(now_ms - WEEK_MS)
        .fetch_all(&mut *tx)
        .await?;
        let present: HashSet<i64> =
            sqlx::query_scalar::<_, i64>("SELECT seq FROM decisions WHERE seq > $1")
                .bind(top - HOLES_AT_CONNECT)
                .fetch_all(&mut *tx)
                .await?
                .into_iter()
                .collect();
        tx.commit().await?;
        let mut ledger = Ledger {
            top,
            ..Ledger::default()
        };
        let since = Instant::now();
        ledger.holes = ((top - HOLES_AT_CONNECT).max(0) + 1..=top)
            .filter(|n| !present.contains(n))
            .map(|n| (n, since))
            .collect();
        for (module, killed_ms) in rows {
            ledger.add(module, killed_ms);
        }
        Ok(ledger)
    }

    /// This replica stored decision number `seq`: counted unless a look
    /// read it first.
    pub(crate) fn stored(&mut self, seq: i64, module: &str, killed_ms: i64) {
        let first = if seq > self.top {
            self.ahead.insert(seq)
        } else {
            self.holes.remove(&seq).is_some()
        };
        if first {
            self.add(module.to_string(), killed_ms);
        }
    }

    /// What a look asks for: rows above `top`, and the holes.
    fn unseen(&self) -> (i64, Vec<i64>) {
        (self.top, self.holes.keys().copied().collect())
    }

    /// Counts what a look read (rows in number order): each row not
    /// counted yet; the numbers it skipped become holes.
    fn read(&mut self, rows: Vec<(i64, String, i64)>) {
        let now = Instant::now();
        let before = self.top;
        let mut read = HashSet::with_capacity(rows.len());
        for (seq, module, killed_ms) in rows {
            read.insert(seq);
            let first = if seq > before {
                self.top = self.top.max(seq);
                !self.ahead.remove(&seq)
            } else {
                self.holes.remove(&seq).is_some()
            };
            if first {
                self.add(module, killed_ms);
            }
        }
        for n in before + 1..=self.top {
            // One this replica stored is counted, and committed: a look
            // that did not read it began before its commit.
            if !read.contains(&n) && !self.ahead.remove(&n) {
                self.holes.insert(n, now);
            }
        }
        self.holes.retain(|_, since| since.elapsed() < HOLE_KEPT);
    }

    fn add(&mut self, module: String, killed_ms: i64) {
        let times = self.times.entry(module).or_default();
        times.insert(killed_ms, KEPT);
        if let Some(newest) = times.newest() {
            times.forget_before(newest - WEEK_MS);
        }
    }

    /// A module's history as of `now_ms` (call [`catch_up`] first).
    pub(crate) fn history(&self, module: &str, now_ms: i64) -> ModuleHistory {
        self.times
            .get(module)
            .map(|t| t.history(now_ms))
            .unwrap_or_default()
    }
}

/// Reads the decisions stored since the last look (by any replica) into
/// `ledger`.
pub(crate) async fn catch_up(
    pool: &PgPool,
    ledger: &parking_lot::Mutex<Ledger>,
) -> sqlx::Result<()> {
    loop {
        let (top, holes) = ledger.lock().unseen();
        // Two parts, each an index search (one condition with OR in it
        // is a scan of the whole index).
        let rows: Vec<(i64, String, i64)> = sqlx::query_as(
            "SELECT seq, module, killed_ms FROM decisions WHERE seq = ANY($2) \
             UNION ALL \
             (SELECT seq, module, killed_ms FROM decisions WHERE seq > $1 ORDER BY seq LIMIT $3) \
             ORDER BY 1",
        )
        .bind(top)
        .bind(&holes)
        .bind(LOOK)
        // Planned each time, as `grouped::decided` is.
        .persistent(false)
        .fetch_all(pool)
        .await?;
        let full = rows.iter().filter(|r| r.0 > top).count() as i64 == LOOK;
        ledger.lock().read(rows);
        if !full {
            return Ok(());
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn kills(l: &Ledger, module: &str) -> u32 {
        l.history(module, 10_000_000).kills_last_week
    }

    #[test]
    fn a_kill_is_counted_once_whichever_way_it_is_seen_first() {
        let mut l = Ledger::default();
        // Stored here, then read by a look.
        l.stored(1, "a", 1_000);
        l.read(vec![(1, "a".into(), 1_000)]);
        assert_eq!(kills(&l, "a"), 1);
        // Read by a look first (another replica's, or this one's before
        // its insert returned), then this replica's insert returns.
        l.read(vec![(2, "a".into(), 2_000)]);
        l.stored(2, "a", 2_000);
        assert_eq!(kills(&l, "a"), 2);
        assert!(l.holes.is_empty() && l.ahead.is_empty());
    }

    #[test]
    fn a_number_skipped_is_asked_for_again_and_counted_when_it_commits() {
        let mut l = Ledger::default();
        // Row 2 is not committed when the look reads 1 and 3.
        l.read(vec![(1, "a".into(), 1_000), (3, "b".into(), 3_000)]);
        assert_eq!(l.unseen(), (3, vec![2]));
        assert_eq!(kills(&l, "a") + kills(&l, "b"), 2);
        l.read(vec![(2, "a".into(), 2_000), (4, "a".into(), 4_000)]);
        assert_eq!(kills(&l, "a"), 3);
        assert!(l.holes.is_empty());
        // A hole this replica fills itself is not counted again by a look.
        l.read(vec![(6, "c".into(), 6_000)]);
        l.stored(5, "c", 5_000);
        l.read(vec![(5, "c".into(), 5_000)]);
        assert_eq!(kills(&l, "c"), 2);
    }

    #[test]
    fn a_kill_stored_here_that_a_look_began_too_early_to_read_is_not_a_hole() {
        let mut l = Ledger::default();
        l.stored(2, "a", 2_000);
        // The look began before 2 committed; it read 3.
        l.read(vec![(1, "a".into(), 1_000), (3, "a".into(), 3_000)]);
        assert!(l.holes.is_empty(), "{:?}", l.holes);
        assert_eq!(kills(&l, "a"), 3);
    }

    #[test]
    fn holes_are_forgotten_after_a_while() {
        let mut l = Ledger::default();
        l.read(vec![(3, "a".into(), 3_000)]);
        assert_eq!(l.holes.len(), 2);
        for since in l.holes.values_mut() {
            *since -= HOLE_KEPT;
        }
        l.read(Vec::new());
        assert!(l.holes.is_empty());
    }

    #[test]
    fn counts_are_of_the_week_the_day_and_the_hour_before() {
        let mut l = Ledger::default();
        let hour = 3_600_000;
        let now = 30 * 24 * hour;
        for (seq, t) in [
            (1, now - 8 * 24 * hour),
            (2, now - 3 * 24 * hour),
            (3, now - 5 * hour),
            (4, now - 10),
        ] {
            l.stored(seq, "m", t);
        }
        let h = l.history("m", now);
        assert_eq!(
            (h.kills_last_hour, h.kills_last_day, h.kills_last_week),
            (1, 2, 3)
        );
        assert_eq!(l.history("other", now), ModuleHistory::default());
    }
}
