//! The ring registry: how a thread's new ring reaches the drainer, and how the drainer keeps
//! the list of live rings that [`stats`](crate::QueueManager::stats) reads.
//!
//! A new ring reaches the drainer through a lock-free `SegQueue`. So that `stats()` counts a
//! ring from its first record, registration also appends it to the live list under a mutex
//! that only registration (once per thread), the drainer's reclamation and `stats()` take;
//! logging itself never does.

use super::sync::{Arc, Mutex};
use super::Ring;
use super::{Consumer, ProducerCounters};

/// Counter totals of rings.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub(crate) struct RingTotals {
    pub enqueued: u64,
    pub dropped_full: u64,
    pub dropped_oldest: u64,
    pub dropped_oversize: u64,
    /// Records published and neither taken out by the consumer nor evicted: in flight while
    /// the drainer runs; once it has finished, records that can only end as
    /// `dropped_shutdown`. Each ring's share is computed from the same readings of its
    /// `enqueued` and `dropped_oldest` as the other totals, so the counts stay consistent
    /// while its producer goes on publishing.
    pub unconsumed: u64,
}

impl RingTotals {
    fn add(&mut self, ring: &Ring) {
        use super::sync::Ordering::Relaxed;
        let c: &ProducerCounters = &ring.counters;
        let enqueued = c.enqueued.load(Relaxed);
        let dropped_oldest = c.dropped_oldest.load(Relaxed);
        self.enqueued += enqueued;
        self.dropped_full += c.dropped_full.load(Relaxed);
        self.dropped_oldest += dropped_oldest;
        self.dropped_oversize += c.dropped_oversize.load(Relaxed);
        self.unconsumed +=
            enqueued.saturating_sub(ring.taken.load(Relaxed).saturating_add(dropped_oldest));
    }
}

#[derive(Default)]
struct Live {
    rings: Vec<Arc<Ring>>,
    retired: RingTotals,
}

/// Newly registered rings: a lock-free `SegQueue`, or under loom a mutex-guarded queue whose
/// hand-off loom can see.
#[cfg(not(loom))]
type NewRings = crossbeam_queue::SegQueue<Consumer>;

#[cfg(loom)]
#[derive(Default)]
struct NewRings(Mutex<std::collections::VecDeque<Consumer>>);

#[cfg(loom)]
impl NewRings {
    fn push(&self, c: Consumer) {
        self.0.lock().unwrap().push_back(c);
    }
    fn pop(&self) -> Option<Consumer> {
        self.0.lock().unwrap().pop_front()
    }
    fn is_empty(&self) -> bool {
        self.0.lock().unwrap().is_empty()
    }
}

/// Rings of one queue manager.
#[derive(Default)]
pub(crate) struct Registry {
    new: NewRings,
    live: Mutex<Live>,
}

impl Registry {
    /// Hands a new ring's consumer to the drainer (lock-free).
    pub(crate) fn register(&self, consumer: Consumer) {
        let ring = consumer.ring().clone();
        let _fork = super::fork_guard::section();
        self.live
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .rings
            .push(ring);
        self.new.push(consumer);
    }

    /// Whether rings are waiting to be adopted.
    pub(crate) fn has_new(&self) -> bool {
        !self.new.is_empty()
    }

    /// Drainer: moves newly registered rings into `rings`.
    pub(crate) fn adopt(&self, rings: &mut Vec<Consumer>) {
        while let Some(c) = self.new.pop() {
            rings.push(c);
        }
    }

    /// Drainer: frees rings whose producer is gone and which are fully drained.
    pub(crate) fn reclaim(&self, rings: &mut Vec<Consumer>) {
        if !rings.iter().any(|c| c.ring().is_abandoned()) {
            return;
        }
        let _fork = super::fork_guard::section();
        let mut live = self.live.lock().unwrap_or_else(|e| e.into_inner());
        // Freed rings by address, sorted: one pass over the live list however many threads
        // exited (a pass per ring was quadratic under thread churn).
        let mut freed: Vec<*const Ring> = Vec::new();
        rings.retain(|c| {
            if !c.ring().is_abandoned() {
                return true;
            }
            live.retired.add(c.ring());
            freed.push(Arc::as_ptr(c.ring()));
            false
        });
        freed.sort_unstable();
        live.rings
            .retain(|r| freed.binary_search(&Arc::as_ptr(r)).is_err());
    }

    /// Wakes the producers waiting for space in any live ring (the drainer is gone).
    pub(crate) fn wake_all_waiters(&self) {
        let _fork = super::fork_guard::section();
        let live = self.live.lock().unwrap_or_else(|e| e.into_inner());
        for r in &live.rings {
            r.wake_waiter();
        }
    }

    /// Totals over freed and live rings, and the number of live rings.
    pub(crate) fn totals(&self) -> (RingTotals, usize) {
        let _fork = super::fork_guard::section();
        let live = self.live.lock().unwrap_or_else(|e| e.into_inner());
        let mut t = live.retired;
        for r in &live.rings {
            t.add(r);
        }
        (t, live.rings.len())
    }
}

/// Model check under loom: a thread registers a ring, logs and exits while the drainer adopts,
/// drains and reclaims concurrently; nothing is lost and the ring is freed only when drained.
#[cfg(all(test, loom))]
mod loom_tests {
    use super::*;
    use crate::ring::Ring;

    #[test]
    fn thread_exit_with_records_in_flight_is_drained_then_reclaimed() {
        loom::model(|| {
            let registry = Arc::new(Registry::default());
            let r = registry.clone();
            let producer_thread = loom::thread::spawn(move || {
                let (mut p, c) = Ring::with_capacity(64);
                r.register(c);
                for i in 0..2u64 {
                    p.push(8, |b| b.copy_from_slice(&i.to_le_bytes())).unwrap();
                }
                // The thread exits: its producer handle is dropped with records in flight.
            });
            let mut rings = Vec::new();
            let mut got = Vec::new();
            loop {
                registry.adopt(&mut rings);
                for c in rings.iter_mut() {
                    c.drain(|b| got.push(u64::from_le_bytes(b.try_into().unwrap())));
                }
                let before = rings.len();
                registry.reclaim(&mut rings);
                if before == 1 && rings.is_empty() {
                    break;
                }
                loom::thread::yield_now();
            }
            producer_thread.join().unwrap();
            assert_eq!(got, [0, 1], "reclaimed only after every record was drained");
            let (totals, live) = registry.totals();
            assert_eq!(live, 0);
            assert_eq!(totals.enqueued, 2);
        });
    }
}
