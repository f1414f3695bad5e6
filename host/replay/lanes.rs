//! Runs every candidate's lane over the recording on a few threads. A lane
//! takes the kills sent to it one shipment at a time and in order (its
//! world depends on every kill before); different lanes run side by side,
//! so no thread waits at a batch's end for another candidate to finish it.
//! The main thread sends shipments and takes each shipment's results back
//! from every lane, in order: what comes back never depends on the threads.

use std::collections::VecDeque;
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::sync::{Arc, Condvar, Mutex, MutexGuard};

/// One lane: its worker (away while a thread runs it), the shipments it
/// has not run yet, and its results not taken yet.
struct Slot<W, I, O> {
    worker: Option<W>,
    pending: VecDeque<Arc<I>>,
    finished: u64,
    results: VecDeque<O>,
}

struct State<W, I, O> {
    slots: Vec<Slot<W, I, O>>,
    /// No more shipments will come.
    closed: bool,
    /// A lane's work panicked: its message.
    failed: Option<String>,
}

/// Lanes of workers `W` each running every input `I` in order into an
/// output `O`.
pub(super) struct Lanes<W, I, O> {
    state: Mutex<State<W, I, O>>,
    changed: Condvar,
}

#[derive(Debug, thiserror::Error)]
#[error("a replay thread stopped: {0}")]
pub struct LaneFailed(pub String);

impl<W: Send, I: Send + Sync, O: Send> Lanes<W, I, O> {
    pub fn new(workers: Vec<W>) -> Self {
        Lanes {
            state: Mutex::new(State {
                slots: workers
                    .into_iter()
                    .map(|w| Slot {
                        worker: Some(w),
                        pending: VecDeque::new(),
                        finished: 0,
                        results: VecDeque::new(),
                    })
                    .collect(),
                closed: false,
                failed: None,
            }),
            changed: Condvar::new(),
        }
    }

    fn lock(&self) -> MutexGuard<'_, State<W, I, O>> {
        // A panic is caught before it could poison the lock; if one did,
        // the state is still whole (it is changed only between runs).
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Sends one shipment to every lane.
    pub fn send(&self, input: Arc<I>) {
        let mut st = self.lock();
        for slot in &mut st.slots {
            slot.pending.push_back(input.clone());
        }
        drop(st);
        self.changed.notify_all();
    }

    /// No more shipments: the threads return once every lane has run all.
    pub fn close(&self) {
        self.lock().closed = true;
        self.changed.notify_all();
    }

    /// Waits for the oldest shipment not taken yet to be run by every lane
    /// and returns its results, one per lane in order.
    pub fn take(&self) -> Result<Vec<O>, LaneFailed> {
        let mut st = self.lock();
        loop {
            if st.slots.iter().all(|s| !s.results.is_empty()) {
                let out = st
                    .slots
                    .iter_mut()
                    .filter_map(|s| s.results.pop_front())
                    .collect();
                return Ok(out);
            }
            if let Some(why) = &st.failed {
                return Err(LaneFailed(why.clone()));
            }
            st = self.changed.wait(st).unwrap_or_else(|p| p.into_inner());
        }
    }

    /// A thread's work: runs lanes' shipments until all is closed and run
    /// (or a lane failed). Of the lanes with work, the one furthest behind
    /// goes first, so lanes stay close together.
    pub fn serve(&self, work: &(dyn Fn(&mut W, &Arc<I>) -> O + Sync)) {
        let mut st = self.lock();
        loop {
            if st.failed.is_some() {
                return;
            }
            // A lane at rest with a shipment waiting: its worker and the
            // shipment are taken together.
            let next = st
                .slots
                .iter_mut()
                .enumerate()
                .filter(|(_, s)| s.worker.is_some() && !s.pending.is_empty())
                .min_by_key(|(_, s)| s.finished)
                .and_then(|(i, s)| Some((i, s.worker.take()?, s.pending.pop_front()?)));
            let Some((i, mut worker, input)) = next else {
                if st.closed && st.slots.iter().all(|s| s.pending.is_empty()) {
                    return;
                }
                st = self.changed.wait(st).unwrap_or_else(|p| p.into_inner());
                continue;
            };
            drop(st);
            let out = catch_unwind(AssertUnwindSafe(|| work(&mut worker, &input)));
            st = self.lock();
            match out {
                Ok(out) => {
                    let slot = &mut st.slots[i];
                    slot.worker = Some(worker);
                    slot.finished += 1;
                    slot.results.push_back(out);
                }
                Err(panic) => {
                    let why = panic
                        .downcast_ref::<&str>()
                        .map(|s| s.to_string())
                        .or_else(|| panic.downcast_ref::<String>().cloned())
                        .unwrap_or_else(|| "a panic".to_string());
                    st.failed = Some(format!("lane {i}: {why}"));
                }
            }
            self.changed.notify_all();
        }
    }

    /// The workers back, once every thread has returned.
    pub fn into_workers(self) -> Vec<W> {
        let st = self.state.into_inner().unwrap_or_else(|p| p.into_inner());
        st.slots.into_iter().filter_map(|s| s.worker).collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Each lane sums what it is sent, in order; results come back per
    /// shipment in lane order whatever the number of threads.
    #[test]
    fn each_lane_runs_its_shipments_in_order_and_results_come_back_in_order() {
        for threads in [1, 2, 3] {
            let lanes: Lanes<(usize, Vec<u64>), u64, (usize, u64)> =
                Lanes::new((0..3).map(|i| (i, Vec::new())).collect());
            let work = |w: &mut (usize, Vec<u64>), x: &Arc<u64>| {
                w.1.push(**x);
                (w.0, w.1.iter().sum::<u64>() * (w.0 as u64 + 1))
            };
            let taken = std::thread::scope(|s| {
                for _ in 0..threads {
                    s.spawn(|| lanes.serve(&work));
                }
                let mut taken = Vec::new();
                for x in 1..=50u64 {
                    lanes.send(Arc::new(x));
                    if x > 3 {
                        taken.push(lanes.take().unwrap());
                    }
                }
                lanes.close();
                for _ in 0..3 {
                    taken.push(lanes.take().unwrap());
                }
                taken
            });
            for (n, per_lane) in taken.iter().enumerate() {
                let sum: u64 = (1..=n as u64 + 1).sum();
                assert_eq!(
                    per_lane,
                    &vec![(0, sum), (1, 2 * sum), (2, 3 * sum)],
                    "{threads} threads, shipment {n}"
                );
            }
            let workers = lanes.into_workers();
            assert_eq!(workers.len(), 3);
            assert!(workers.iter().all(|w| w.1 == (1..=50).collect::<Vec<_>>()));
        }
    }

    #[test]
    fn a_lane_that_panics_fails_the_take_instead_of_hanging_it() {
        let lanes: Lanes<u32, u32, u32> = Lanes::new(vec![0, 1]);
        let work = |w: &mut u32, x: &Arc<u32>| {
            if *w == 1 && **x == 2 {
                panic!("lane one cannot take two");
            }
            **x
        };
        let err = std::thread::scope(|s| {
            s.spawn(|| lanes.serve(&work));
            lanes.send(Arc::new(1));
            lanes.send(Arc::new(2));
            let first = lanes.take();
            let second = lanes.take();
            lanes.close();
            assert_eq!(first.unwrap(), vec![1, 1]);
            second.unwrap_err()
        });
        assert!(
            err.to_string().contains("lane one cannot take two"),
            "{err}"
        );
    }
}
