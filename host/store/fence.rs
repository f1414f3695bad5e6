//! The work that runs once across replicas (queue expiry, scheduled
//! learning) is fenced in each write, not only when a round of it starts:
//! a replica that lost the role without noticing (its lock's connection
//! cut, another replica elected at a later epoch) has its writes refused
//! instead of doing the work a second time.
//!
//! The elected replica runs the work inside [`as_leader`] with the epoch
//! it was elected at ([`crate::Store::lease`]); the store's writes that
//! such work makes (threshold changes, the learning times, settling a
//! queue item) check, in their own transaction, that this process still
//! holds the role at that epoch and keep the role's row locked until they
//! commit, so the role cannot change hands between the check and the
//! write. Outside [`as_leader`] — a person's approval, an API call — the
//! same writes are not fenced. A store one process holds has nothing to
//! fence.
//!
//! The epoch travels in a thread-local: the work runs synchronously on
//! one thread (a blocking task), so every store call it makes sees it.

use std::cell::Cell;

thread_local! {
    static FENCE: Cell<Option<u64>> = const { Cell::new(None) };
}

/// Runs `f` as the leader of the work that runs once, elected at `epoch`:
/// the fenced writes `f` makes on this thread commit only while this
/// process still holds the role at that epoch
/// ([`crate::StoreError::Fenced`] otherwise).
pub fn as_leader<T>(epoch: u64, f: impl FnOnce() -> T) -> T {
    struct Restore(Option<u64>);
    impl Drop for Restore {
        fn drop(&mut self) {
            FENCE.set(self.0);
        }
    }
    let _restore = Restore(FENCE.replace(Some(epoch)));
    f()
}

/// The epoch the calling thread's writes are fenced by, if any.
pub(crate) fn epoch() -> Option<u64> {
    FENCE.get()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_epoch_holds_inside_and_is_restored_after_even_on_a_panic() {
        assert_eq!(epoch(), None);
        as_leader(3, || {
            assert_eq!(epoch(), Some(3));
            as_leader(4, || assert_eq!(epoch(), Some(4)));
            assert_eq!(epoch(), Some(3));
        });
        assert_eq!(epoch(), None);
        let _ = std::panic::catch_unwind(|| as_leader(5, || panic!("work failed")));
        assert_eq!(epoch(), None);
        // Another thread is not fenced by this one's epoch.
        as_leader(6, || {
            std::thread::spawn(|| assert_eq!(epoch(), None))
                .join()
                .unwrap();
        });
    }
}
