//! State shared by a queue manager's producers, its drainer and its handles.

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Condvar, Mutex, MutexGuard, OnceLock};
use std::thread::Thread;

use crossbeam_queue::SegQueue;
use crossbeam_utils::CachePadded;

use super::command::Command;
use crate::config::{BackpressurePolicy, QueueConfig};
use crate::front::logger::LoggerCore;
use crate::ring::registry::Registry;
use crate::ring::Consumer;

/// Counters written by the drainer (and by producers on cold paths).
#[derive(Default)]
pub(crate) struct DrainCounters {
    pub written: AtomicU64,
    pub filtered: AtomicU64,
    pub failed: AtomicU64,
    pub dropped_shutdown: AtomicU64,
    pub dropped_timeout: AtomicU64,
    /// Records published after the drainer's final drain, released by
    /// [`Shared::sweep_stranded`]: counted in `dropped_shutdown` and taken out of `enqueued`
    /// (they were logged after shutdown began).
    pub stranded: AtomicU64,
    /// `ainfo!` futures dropped while their record waited for room (counted in
    /// `dropped_full`).
    pub cancelled: AtomicU64,
}

/// When `shutdown()` must be done draining: set when it begins, `drain_timeout` later. Shared
/// with the handlers' I/O lanes, which stop waiting for a destination that takes no more
/// bytes once it has passed.
#[derive(Debug)]
pub(crate) struct DrainDeadline {
    began: OnceLock<std::time::Instant>,
    timeout: std::time::Duration,
}

impl DrainDeadline {
    pub(crate) fn new(timeout: std::time::Duration) -> DrainDeadline {
        DrainDeadline {
            began: OnceLock::new(),
            timeout,
        }
    }

    /// Shutdown began now (the first call counts).
    pub(crate) fn begin(&self) {
        let _ = self.began.set(std::time::Instant::now());
    }

    /// Whether shutdown began and its `drain_timeout` has run out.
    pub(crate) fn passed(&self) -> bool {
        self.began.get().is_some_and(|b| {
            b.checked_add(self.timeout)
                .is_some_and(|d| std::time::Instant::now() >= d)
        })
    }
}

/// Flush barrier state: tickets requested and completed.
#[derive(Default)]
pub(crate) struct FlushState {
    pub requested: AtomicU64,
    pub done: Mutex<u64>,
    pub cond: Condvar,
}

pub(crate) struct Shared {
    pub config: QueueConfig,
    pub policy: BackpressurePolicy,
    pub ring_bytes: usize,
    pub registry: Registry,
    pub commands: SegQueue<Command>,
    /// Logger cores whose last handle was dropped; freed by the drainer once no ring can
    /// still reference them.
    pub retired: SegQueue<Arc<LoggerCore>>,
    /// Written by flushing threads and the drainer: on its own cache lines.
    pub flush: CachePadded<FlushState>,
    /// Set by shutdown; read by producers on every record, so on cache lines of its own that
    /// the drainer never reads (it reads `stop`; see `clock::RECORD_TSC` for why).
    pub closed: CachePadded<AtomicBool>,
    /// Set right after `closed`: tells the drainer to finish.
    pub stop: AtomicBool,
    /// Started with `stop`.
    pub deadline: Arc<DrainDeadline>,
    pub drainer_done: AtomicBool,
    /// Set (before `drainer_done`) when the drainer thread panicked: `stats()` then counts
    /// the records it had taken out of the rings and not counted (see `queue_manager::stats`).
    pub crashed: AtomicBool,
    pub drainer: OnceLock<Thread>,
    /// Written by the drainer on every pass: on their own cache lines.
    pub counters: CachePadded<DrainCounters>,
    /// Next free index in the drainer's handler table; held while handlers are handed over so
    /// they arrive in index order. `shutdown()` sets `closed` under it, and a factory checks
    /// `closed` and hands its handlers over under it: a factory's handlers either reach the
    /// drainer before its final drain (which installs and closes them) or are never built.
    pub next_handler: Mutex<usize>,
    /// The files the system's open handlers write, so that a later factory's truncating
    /// handler does not empty a file they write (see `write::truncate_at_start`); a handler
    /// gives its file back when it closes.
    pub files: Arc<Mutex<crate::write::LiveFiles>>,
    /// The rings, handed over by the drainer when it finishes. A producer that passed the
    /// `closed` check just before shutdown may publish after the final drain; such records
    /// are counted as `dropped_shutdown` by [`Shared::sweep_stranded`].
    pub stranded: Mutex<Vec<Consumer>>,
    /// The process that started the system. A child forked from it has the system's memory
    /// but not its drainer or I/O threads (see [`Shared::orphaned_by_fork`]).
    pub pid: u32,
    /// Set in a forked child once it found out.
    pub orphaned: AtomicBool,
}

/// The stranded rings, locked (see [`Shared::sweep_stranded`]), inside a fork-guarded section
/// (see `ring::fork_guard`).
pub(crate) struct Stranded<'a> {
    // Field order: the lock is released before the section is left.
    _rings: MutexGuard<'a, Vec<Consumer>>,
    _fork: crate::ring::fork_guard::Section,
}

impl Shared {
    pub(crate) fn new(config: QueueConfig) -> Arc<Shared> {
        let deadline = Arc::new(DrainDeadline::new(config.drain_timeout));
        Arc::new(Shared {
            policy: config.backpressure_policy,
            ring_bytes: crate::ring::ring_bytes(config.max_queue_size),
            config,
            registry: Registry::default(),
            commands: SegQueue::new(),
            retired: SegQueue::new(),
            flush: CachePadded::default(),
            closed: CachePadded::new(AtomicBool::new(false)),
            stop: AtomicBool::new(false),
            deadline,
            drainer_done: AtomicBool::new(false),
            crashed: AtomicBool::new(false),
            drainer: OnceLock::new(),
            counters: CachePadded::default(),
            next_handler: Mutex::new(0),
            files: Arc::default(),
            stranded: Mutex::new(Vec::new()),
            pid: std::process::id(),
            orphaned: AtomicBool::new(false),
        })
    }

    /// Wakes the drainer if it is parked.
    pub(crate) fn wake_drainer(&self) {
        if let Some(t) = self.drainer.get() {
            t.unpark();
        }
    }

    #[inline]
    pub(crate) fn is_closed(&self) -> bool {
        self.closed.load(Ordering::Acquire)
    }

    /// After the drainer thread panicked (a bug: processors and writers are contained): nothing
    /// may wait for it any more. Producers stop blocking and count what they log as dropped,
    /// `flush()` returns, waiting async producers are woken; `shutdown()` reports the panic.
    #[cold]
    pub(crate) fn drainer_crashed(&self) {
        self.closed.store(true, Ordering::SeqCst);
        self.crashed.store(true, Ordering::SeqCst);
        self.drainer_done.store(true, Ordering::SeqCst);
        self.wake_flushers(None);
        self.registry.wake_all_waiters();
        // After the waiters are released: nothing here may keep them waiting.
        crate::error::report(format_args!(
            "kolog: the drainer thread panicked; records logged from now on are counted as dropped, and shutdown() returns an error"
        ));
    }

    /// Whether this process is a child forked from the one that started the system: its
    /// drainer and I/O threads stayed in the parent, and nothing here will ever drain the
    /// rings. The first time, the system is closed in this process as after a drainer crash:
    /// producers stop waiting and count what they log as dropped, `flush()` returns, waiting
    /// async producers are woken, `stats()` counts the records left in the rings as
    /// `dropped_shutdown`, and `shutdown()` is a lifecycle warning. Checked where a thread
    /// would wait for the drainer, and by `stats()` (cold paths; one `getpid`).
    #[cold]
    pub(crate) fn orphaned_by_fork(&self) -> bool {
        if std::process::id() == self.pid {
            return false;
        }
        if !self.orphaned.swap(true, Ordering::SeqCst) {
            // Nobody to wake: no thread of this process waits for the drainer (each checks
            // this first), and the waiters left in the rings and on the flush barrier are the
            // parent's threads, absent here (waking an async one would run its executor's
            // code, whose locks a parent thread may have held at the fork, as it may have held
            // the flush barrier's).
            self.closed.store(true, Ordering::SeqCst);
            self.stop.store(true, Ordering::SeqCst);
            self.drainer_done.store(true, Ordering::SeqCst);
            crate::error::report(format_args!(
                "kolog: this process was forked from the one that started kolog, whose drainer stayed there; records logged here are not written (counted as dropped)"
            ));
        }
        true
    }

    /// Wakes threads waiting in `flush()`, recording `ticket` as completed if given (at exit
    /// they see `drainer_done` instead).
    pub(crate) fn wake_flushers(&self, ticket: Option<u64>) {
        let mut done = self.flush.done.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(t) = ticket {
            *done = t;
        }
        self.flush.cond.notify_all();
    }

    /// Once the drainer has finished: releases records published after its final drain
    /// (logged after shutdown began) and counts them as `dropped_shutdown`, so that every
    /// record enqueued is accounted for. Rings registered after the drainer finished are
    /// taken over here too. Returns the stranded rings, still locked (no other sweep can
    /// change the counts while the caller reads them), or `None` while the drainer runs.
    pub(crate) fn sweep_stranded(&self) -> Option<Stranded<'_>> {
        if !self.drainer_done.load(Ordering::Acquire) {
            return None;
        }
        let fork = crate::ring::fork_guard::section();
        let mut rings = self.stranded.lock().unwrap_or_else(|e| e.into_inner());
        self.registry.adopt(&mut rings);
        let n = self.discard(&mut rings);
        // Rings whose thread has exited are freed, and their counts kept, as the drainer does.
        self.registry.reclaim(&mut rings);
        if n > 0 {
            self.counters.stranded.fetch_add(n, Ordering::Relaxed);
            self.counters
                .dropped_shutdown
                .fetch_add(n, Ordering::Relaxed);
        }
        Some(Stranded {
            _rings: rings,
            _fork: fork,
        })
    }

    /// Releases every record published in `rings` without processing it; returns how many.
    pub(crate) fn discard(&self, rings: &mut [Consumer]) -> u64 {
        let mut n = 0;
        let mut copy = Vec::new();
        for ring in rings {
            n += if self.policy == BackpressurePolicy::DropOldest {
                ring.drain_copied(&mut copy, |_| {})
            } else {
                ring.snapshot();
                ring.drain_while(u64::MAX, |_| 0, |_| {})
            };
        }
        n as u64
    }

    /// Hands a logger core to the drainer to free once no queued record can reference it.
    pub(crate) fn retire(&self, core: Arc<LoggerCore>) {
        if self.drainer_done.load(Ordering::Acquire) {
            drop(core);
        } else {
            self.retired.push(core);
        }
    }

    /// Waits until every record enqueued before the call has been written. Returns at once
    /// on this system's drainer thread (a custom processor flushing, or reading a sink), which
    /// would otherwise wait for itself. On another system's drainer it waits, unless this
    /// system's drainer waits (directly or through others) for that one: then it returns (see
    /// [`super::wait`]).
    pub(crate) fn flush(&self) {
        if self.orphaned_by_fork()
            || self.drainer_done.load(Ordering::Acquire)
            || super::drainer_of(self)
        {
            return;
        }
        let wait = super::wait::DrainerWait::begin(self);
        let ticket = self.flush.requested.fetch_add(1, Ordering::SeqCst) + 1;
        self.wake_drainer();
        let mut done = self.flush.done.lock().unwrap_or_else(|e| e.into_inner());
        while *done < ticket && !self.drainer_done.load(Ordering::Acquire) {
            if wait
                .as_ref()
                .is_some_and(super::wait::DrainerWait::deadlocked)
            {
                return;
            }
            let (d, _) = self
                .flush
                .cond
                .wait_timeout(done, std::time::Duration::from_millis(50))
                .unwrap_or_else(|e| e.into_inner());
            done = d;
        }
    }
}
