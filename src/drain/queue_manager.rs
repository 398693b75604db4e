//! [`QueueManager`]: owns the drainer thread, and the flush, stats, sink and shutdown controls.

use std::sync::atomic::Ordering;
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::Duration;

use super::command::Command;
use super::shared::Shared;
use super::Drainer;
use crate::{Error, ErrorKind, QueueConfig, Sink};

/// Counters of a queue manager, as [`QueueManager::stats`] reads them.
///
/// After [`QueueManager::flush`] returns: `enqueued == written + filtered + failed` for records
/// logged before the flush. Every record a producer attempted is either `enqueued` or
/// `dropped` (with the reason in the `dropped_*` fields).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Stats {
    /// Records accepted into a ring.
    pub enqueued: u64,
    /// Records delivered to their handlers (or a sink).
    pub written: u64,
    /// Records discarded, for any reason (sum of the `dropped_*` fields).
    pub dropped: u64,
    /// Records that failed: a handler's write failed, or a processor panicked.
    pub failed: u64,
    /// Records every handler's processors filtered out on purpose (e.g. `filter_by_level`),
    /// and records of a logger with no handlers (`"handlers": []`).
    pub filtered: u64,
    /// Dropped because the ring was full: under `drop`; under `block`, an `ainfo!` future
    /// dropped while it waited for room, or a record logged into a full ring by code the
    /// drainer runs (a custom processor), which cannot wait for itself (nor for a system
    /// whose drainer waits for it).
    pub dropped_full: u64,
    /// Dropped to make room for newer records (`drop_oldest` policy).
    pub dropped_oldest: u64,
    /// Dropped because the record was larger than the ring.
    pub dropped_oversize: u64,
    /// Dropped because they were logged after shutdown began (or while the thread exited).
    pub dropped_shutdown: u64,
    /// Dropped because `shutdown` ran out of `drain_timeout` before writing them.
    pub dropped_timeout: u64,
    /// Rings currently allocated (one per thread that logged and has not been reclaimed).
    /// After [`QueueManager::flush`] returns, the rings of threads that exited before it was
    /// called are reclaimed.
    pub live_rings: usize,
}

/// What [`QueueManager::shutdown`] did: the final counts and how long draining took.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ShutdownReport {
    /// Records accepted into a ring.
    pub enqueued: u64,
    /// Records delivered to their handlers (or a sink).
    pub written: u64,
    /// Records discarded, for any reason (sum of the `dropped_*` fields).
    pub dropped: u64,
    /// Records that failed to write, or whose processor panicked.
    pub failed: u64,
    /// Records filtered out on purpose by processors, or of a logger with no handlers.
    pub filtered: u64,
    /// Dropped because the ring was full: under `drop`; under `block`, an `ainfo!` future
    /// dropped while it waited for room, or a record logged into a full ring by code the
    /// drainer runs (a custom processor), which cannot wait for itself (nor for a system
    /// whose drainer waits for it).
    pub dropped_full: u64,
    /// Dropped to make room for newer records (`drop_oldest` policy).
    pub dropped_oldest: u64,
    /// Dropped because the record was larger than the ring.
    pub dropped_oversize: u64,
    /// Dropped because they were logged after shutdown began.
    pub dropped_shutdown: u64,
    /// Left unwritten when `drain_timeout` ran out.
    pub dropped_timeout: u64,
    /// How long the final drain took.
    pub drain_time: Duration,
    /// Whether `drain_timeout` ran out before everything was written.
    pub timed_out: bool,
}

impl ShutdownReport {
    pub(crate) fn from_stats(s: Stats, drain_time: Duration, timed_out: bool) -> ShutdownReport {
        ShutdownReport {
            enqueued: s.enqueued,
            written: s.written,
            dropped: s.dropped,
            failed: s.failed,
            filtered: s.filtered,
            dropped_full: s.dropped_full,
            dropped_oldest: s.dropped_oldest,
            dropped_oversize: s.dropped_oversize,
            dropped_shutdown: s.dropped_shutdown,
            dropped_timeout: s.dropped_timeout,
            drain_time,
            timed_out,
        }
    }
}

pub(crate) fn stats(shared: &Shared) -> Stats {
    // In a forked child nothing drains the rings: what they hold is counted as dropped.
    shared.orphaned_by_fork();
    // Once the drainer has finished, the stranded rings stay locked while the counts are
    // read (see below).
    let finished = shared.sweep_stranded();
    // Outcomes first, records last: a record is counted in `enqueued` before the drainer can
    // see it, and the drainer's counts are released after it took the record, so whatever
    // outcome is read here was enqueued by the time the rings are read. `failed` is read
    // before `written`, which a failed write moves records out of into `failed`.
    let c = &shared.counters;
    let failed = c.failed.load(Ordering::Acquire);
    let filtered = c.filtered.load(Ordering::Acquire);
    let dropped_shutdown = c.dropped_shutdown.load(Ordering::Acquire);
    let dropped_timeout = c.dropped_timeout.load(Ordering::Acquire);
    let cancelled = c.cancelled.load(Ordering::Acquire);
    let stranded = c.stranded.load(Ordering::Acquire);
    let written = c.written.load(Ordering::Acquire);
    let (rings, live_rings) = shared.registry.totals();
    // Once the drainer has finished, a record still in a ring (published after the sweep
    // above, by a thread that goes on logging) can only end as `dropped_shutdown`: it is
    // counted so now rather than as enqueued with no outcome, so the counts balance at every
    // read (and in the `ShutdownReport`). The next sweep takes it out of the ring and moves
    // it to `stranded`.
    let unconsumed = if finished.is_some() {
        rings.unconsumed
    } else {
        0
    };
    // (Set before `drainer_done`: seen whenever the sweep above saw the drainer finished.)
    let crashed = finished.is_some() && shared.crashed.load(Ordering::Acquire);
    drop(finished);
    let mut dropped_shutdown = dropped_shutdown + unconsumed;
    let mut enqueued = rings.enqueued.saturating_sub(stranded + unconsumed);
    if crashed || shared.orphaned.load(Ordering::Acquire) {
        // In a forked child: records the parent's drainer had taken out of the rings at the
        // fork but not yet counted. The parent writes them; here they can only end as
        // `dropped_shutdown`, like the records left in the rings, so the counts balance.
        // After the drainer panicked (a bug), the same for the records it had taken out of
        // the rings in the pass it panicked in: that pass's counts were never published, and
        // nothing will publish them (what its handlers had buffered may still have reached
        // their destinations as they were dropped).
        let outcomes = written + filtered + failed + rings.dropped_oldest + dropped_timeout;
        let in_hand = enqueued.saturating_sub(outcomes);
        enqueued -= in_hand;
        dropped_shutdown += in_hand;
    }
    let dropped_full = rings.dropped_full + cancelled;
    Stats {
        enqueued,
        written,
        failed,
        filtered,
        dropped: dropped_full
            + rings.dropped_oldest
            + rings.dropped_oversize
            + dropped_shutdown
            + dropped_timeout,
        dropped_full,
        dropped_oldest: rings.dropped_oldest,
        dropped_oversize: rings.dropped_oversize,
        dropped_shutdown,
        dropped_timeout,
        live_rings,
    }
}

/// The queue and its drainer thread (ko-log's `QueueManager`).
///
/// Start one, build loggers on it with [`LoggerFactory`](crate::LoggerFactory), and shut it
/// down (or drop it) at the end. [`Kolog`](crate::Kolog) does all of that in one call.
///
/// ```
/// use kolog::{QueueManager, QueueConfig, LoggerFactory, info};
/// let qm = QueueManager::start(QueueConfig::default()).unwrap();
/// let factory = LoggerFactory::from_json_str(
///     r#"{"loggers": [{"name": "app", "handlers": [{"type": "null"}]}]}"#, &qm).unwrap();
/// let log = factory.get_logger("app").unwrap();
/// info!(log, "hello", n = 1);
/// let report = qm.shutdown().unwrap();
/// assert_eq!(report.written, 1);
/// ```
pub struct QueueManager {
    pub(crate) shared: Arc<Shared>,
    drainer: Mutex<Option<JoinHandle<ShutdownReport>>>,
}

impl QueueManager {
    /// Starts the drainer thread.
    pub fn start(config: QueueConfig) -> Result<QueueManager, Error> {
        if config.max_queue_size == 0 {
            return Err(Error::configuration(
                "QueueManager",
                "queue.max_queue_size must be at least 1",
            ));
        }
        crate::clock::init();
        crate::ring::fork_guard::install();
        let shared = Shared::new(config);
        let drainer = Drainer::new(shared.clone());
        let crashed = shared.clone();
        let handle = std::thread::Builder::new()
            .name("kolog-drainer".into())
            .spawn(move || {
                // Writers without an I/O thread of their own write here.
                crate::write::block_write_signals();
                match std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| drainer.run())) {
                    Ok(report) => report,
                    Err(panic) => {
                        crashed.drainer_crashed();
                        std::panic::resume_unwind(panic)
                    }
                }
            })
            .map_err(|e| {
                Error::new(
                    ErrorKind::QueueManager,
                    "QUEUE",
                    "QueueManager",
                    "STARTUP",
                    format!("cannot spawn the drainer thread: {e}"),
                )
                .with_source(e)
            })?;
        let _ = shared.drainer.set(handle.thread().clone());
        Ok(QueueManager {
            shared,
            drainer: Mutex::new(Some(handle)),
        })
    }

    /// The queue settings.
    pub fn config(&self) -> &QueueConfig {
        &self.shared.config
    }

    /// Each thread's ring size in bytes (derived from `max_queue_size`).
    pub fn ring_bytes(&self) -> usize {
        self.shared.ring_bytes
    }

    /// Returns once every record enqueued before the call has been written (or counted as
    /// failed). Returns at once after shutdown.
    pub fn flush(&self) {
        self.shared.flush();
    }

    /// Current counters.
    pub fn stats(&self) -> Stats {
        stats(&self.shared)
    }

    /// Diverts the records of `logger_name` (and its descendants; `root` for all) to `sink`
    /// instead of their handlers' destinations, rendered as the logger's first handler renders
    /// them (`stream_plain`'s default format for a logger with no handlers). Takes effect for every record logged after the call returns. Where the names of
    /// several sinks cover a logger, the most specific captures its records (a sink on
    /// `app.db` keeps `app.db`'s records from one on `app` or `root`, in whatever order they
    /// were added).
    pub fn add_sink(&self, logger_name: &str, sink: Sink) {
        sink.attach(&self.shared);
        self.reconfigure(Command::AddSink {
            logger: logger_name.to_owned(),
            sink,
        });
    }

    /// Stops diverting the records of `logger_name`; its handlers write again.
    pub fn remove_sink(&self, logger_name: &str) {
        self.reconfigure(Command::RemoveSink {
            logger: logger_name.to_owned(),
        });
    }

    /// Applies `cmd` between the records logged before the call and those logged after it:
    /// the first flush drains the former under the old routing, the second makes the drainer
    /// apply the command before it reads any later record.
    fn reconfigure(&self, cmd: Command) {
        self.flush();
        self.shared.commands.push(cmd);
        self.flush();
    }

    /// Stops accepting records, drains what is queued within `drain_timeout`, closes the
    /// handlers and returns the final counts. Calling it again is an error.
    pub fn shutdown(&self) -> Result<ShutdownReport, Error> {
        let lifecycle = |msg: &str| {
            Error::new(
                ErrorKind::QueueManager,
                "QUEUE",
                "QueueManager",
                "LIFECYCLE",
                msg,
            )
            .with_severity(crate::Severity::Warning)
        };
        if self.shared.orphaned_by_fork() {
            // The drainer thread is the parent's: joining it here would not return its report
            // (std panics). The parent's system is not affected. The slot is not waited for:
            // a thread of the parent may have held it at the fork (a shutdown waiting for the
            // handover lock); the handle is forgotten where it can be taken, and by `drop`.
            if let Ok(mut slot) = self.drainer.try_lock() {
                std::mem::forget(slot.take());
            }
            return Err(lifecycle(
                "shutdown() in a process forked from the one that started kolog: the drainer is the parent's; records logged here were counted as dropped",
            ));
        }
        let mut slot = self.drainer.lock().unwrap_or_else(|e| e.into_inner());
        let handle = slot
            .take()
            .ok_or_else(|| lifecycle("the queue manager is already shut down"))?;
        // Under the lock a factory hands its handlers over under (see `Shared::next_handler`).
        {
            let _handover = self
                .shared
                .next_handler
                .lock()
                .unwrap_or_else(|e| e.into_inner());
            self.shared.closed.store(true, Ordering::SeqCst);
        }
        self.shared.deadline.begin();
        self.shared.stop.store(true, Ordering::SeqCst);
        self.shared.wake_drainer();
        if handle.thread().id() == std::thread::current().id() {
            // Code the drainer runs (a custom processor) cannot wait for the drainer, that is
            // for itself: the shutdown has begun, and the owner's `shutdown()` waits for it.
            *slot = Some(handle);
            return Err(lifecycle(
                "shutdown() called on the drainer thread cannot wait for the drain: it has begun, and the next shutdown() from another thread returns the report",
            ));
        }
        drop(slot);
        // A processor of another system shutting this one down: recorded, so that this
        // system's processors waiting for that one give up instead of waiting for ever; and
        // it gives up itself when this system's drainer waits (through others) for its own,
        // as when two systems' processors shut each other down.
        if let Some(wait) = super::wait::DrainerWait::begin(&self.shared) {
            let mut done = self
                .shared
                .flush
                .done
                .lock()
                .unwrap_or_else(|e| e.into_inner());
            while !self.shared.drainer_done.load(Ordering::Acquire) {
                if wait.deadlocked() {
                    drop(done);
                    *self.drainer.lock().unwrap_or_else(|e| e.into_inner()) = Some(handle);
                    return Err(lifecycle(
                        "shutdown() called by code another system's drainer runs, whose drainer waits for this one, cannot wait for the drain: it has begun, and the next shutdown() returns the report",
                    ));
                }
                // The drainer wakes the flushers when it finishes (or crashes).
                done = self
                    .shared
                    .flush
                    .cond
                    .wait_timeout(done, std::time::Duration::from_millis(10))
                    .unwrap_or_else(|e| e.into_inner())
                    .0;
            }
        }
        handle.join().map_err(|_| {
            Error::new(
                ErrorKind::QueueManager,
                "QUEUE",
                "QueueManager",
                "WORKER",
                "the drainer thread panicked",
            )
            .with_severity(crate::Severity::Critical)
        })
    }

    /// Whether `shutdown` has begun.
    pub fn is_shut_down(&self) -> bool {
        self.shared.is_closed()
    }
}

impl Drop for QueueManager {
    fn drop(&mut self) {
        let _ = self.shutdown();
        if self.shared.orphaned_by_fork() {
            // The parent's drainer thread, which does not exist here: never detached.
            let slot = self.drainer.get_mut().unwrap_or_else(|e| e.into_inner());
            std::mem::forget(slot.take());
        }
    }
}

impl std::fmt::Debug for QueueManager {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("QueueManager")
            .field("config", &self.shared.config)
            .field("shut_down", &self.is_shut_down())
            .finish()
    }
}
