//! The ring registry: how a thread's new ring reaches the drainer, and how the drainer keeps
//! the list of live rings that [`stats`](crate::QueueManager::stats) reads.
//!
//! A new ring reaches the drainer through a lock-free `SegQueue`. So that `stats()` counts a
//! ring from its first record, registration also appends it to the live list under a mutex
//! that only registration (once per thread), the drainer's reclamation and `stats()` take;
//! logging itself never does.

use crossbeam_queue::SegQueue;

use super::sync::{Arc, Mutex};
use super::Ring;
use super::{Consumer, ProducerCounters};

/// Counter totals of rings already freed.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub(crate) struct RingTotals {
    pub enqueued: u64,
    pub dropped_full: u64,
    pub dropped_oldest: u64,
    pub dropped_oversize: u64,
}

impl RingTotals {
    fn add(&mut self, c: &ProducerCounters) {
        use super::sync::Ordering::Relaxed;
        self.enqueued += c.enqueued.load(Relaxed);
        self.dropped_full += c.dropped_full.load(Relaxed);
        self.dropped_oldest += c.dropped_oldest.load(Relaxed);
        self.dropped_oversize += c.dropped_oversize.load(Relaxed);
    }
}

#[derive(Default)]
struct Live {
    rings: Vec<Arc<Ring>>,
    retired: RingTotals,
}

/// Rings of one queue manager.
#[derive(Default)]
pub(crate) struct Registry {
    new: SegQueue<Consumer>,
    live: Mutex<Live>,
}

impl Registry {
    /// Hands a new ring's consumer to the drainer (lock-free).
    pub(crate) fn register(&self, consumer: Consumer) {
        let ring = consumer.ring().clone();
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
        let mut live = self.live.lock().unwrap_or_else(|e| e.into_inner());
        rings.retain(|c| {
            if !c.ring().is_abandoned() {
                return true;
            }
            let ring = c.ring();
            live.retired.add(&ring.counters);
            live.rings.retain(|r| !Arc::ptr_eq(r, ring));
            false
        });
    }

    /// Totals over freed and live rings, and the number of live rings.
    pub(crate) fn totals(&self) -> (RingTotals, usize) {
        let live = self.live.lock().unwrap_or_else(|e| e.into_inner());
        let mut t = live.retired;
        for r in &live.rings {
            t.add(&r.counters);
        }
        (t, live.rings.len())
    }
}
