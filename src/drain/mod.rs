//! The drainer: one thread per [`QueueManager`](crate::QueueManager) that polls every ring,
//! routes each record to its logger's handlers (or a sink), runs their processor chains,
//! renders into reusable buffers and writes a batch at a time.

pub(crate) mod command;
pub(crate) mod factory;
pub(crate) mod handler;
pub(crate) mod queue_manager;
pub(crate) mod route;
pub(crate) mod shared;
pub(crate) mod wait;

use std::borrow::Cow;
use std::collections::HashMap;
use std::hash::BuildHasherDefault;
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::{Duration, Instant};

use self::command::Command;
use self::handler::{Delivery, Handler, SharedFailed};
use self::queue_manager::ShutdownReport;
use self::shared::Shared;
use crate::clock;
use crate::config::{BackpressurePolicy, RendererConfig, RendererKind};
use crate::front::logger::LoggerCore;
use crate::process::Outcome;
use crate::record::decode::{self, RawHeader, Values};
use crate::record::{Callsite, CallsiteKind, EventDict, Value};
use crate::render::{JsonTemplate, LoggerJson, Renderer};
use crate::ring::Consumer;
use crate::write::sink::{Sink, SinkRecord};

/// How often the drainer reports dropped records through the `kolog` logger.
const DROP_REPORT_INTERVAL: Duration = Duration::from_secs(1);

/// Which records a pass takes.
#[derive(Clone, Copy)]
enum Cutoff {
    /// Records stamped before the pass began: a record stamped earlier but published later
    /// cannot then be overtaken by one stamped after it (Quill's strict timestamp order).
    Now,
    /// Everything published (the final drain at shutdown).
    Everything,
}

/// A record's timestamp, from its encoded header (0 if malformed, so it is taken at once).
fn timestamp_of(payload: &[u8]) -> u64 {
    decode::header(payload).map_or(0, |(h, _)| h.timestamp)
}

/// The ring whose next record is earliest (the first such ring on a tie), that record's
/// timestamp, and the earliest next timestamp of the other rings (`u64::MAX` if none): the
/// chosen ring's run may go on while its records are not later than that. `None` when every
/// ring is done.
#[inline]
fn earliest(keys: &[Option<u64>]) -> Option<(usize, u64, u64)> {
    let mut best: Option<(usize, u64)> = None;
    let mut second = u64::MAX;
    for (i, k) in keys.iter().enumerate() {
        let Some(k) = *k else { continue };
        match best {
            Some((_, b)) if k >= b => second = second.min(k),
            _ => {
                if let Some((_, b)) = best {
                    second = second.min(b);
                }
                best = Some((i, k));
            }
        }
    }
    best.map(|(i, k)| (i, k, second))
}

/// Drains every ring's published records stamped at or before `cutoff`, merged across rings
/// in timestamp order: runs of one ring are taken while they are not later than the next
/// record of any other ring. Returns the number of records.
fn merge(
    rings: &mut [Consumer],
    keys: &mut Vec<Option<u64>>,
    cutoff: u64,
    mut f: impl FnMut(&[u8]),
) -> usize {
    keys.clear();
    for r in rings.iter_mut() {
        r.snapshot();
        keys.push(r.next_key(timestamp_of));
    }
    let mut n = 0;
    while let Some((i, k, second)) = earliest(keys) {
        if k > cutoff {
            break;
        }
        n += rings[i].drain_while(second.min(cutoff), timestamp_of, &mut f);
        keys[i] = rings[i].next_key(timestamp_of);
    }
    n
}

/// The records of one drop-oldest ring copied out during a pass (see
/// [`Consumer::claim_copied`]), how far they have been taken, and whether the ring may hold
/// more records for the pass.
#[derive(Default)]
struct Copied {
    buf: Vec<u8>,
    at: usize,
    more: bool,
}

impl Copied {
    /// The next record's timestamp, copying the next run out of `ring` when the last one is
    /// used up; `None` when the ring has nothing more for this pass.
    fn peek(&mut self, ring: &mut Consumer, cutoff: u64) -> Option<u64> {
        while self.at == self.buf.len() {
            if !self.more {
                return None;
            }
            self.buf.clear();
            self.at = 0;
            self.more = ring.claim_copied(&mut self.buf, cutoff, timestamp_of);
        }
        crate::ring::copied_records(&self.buf[self.at..])
            .next()
            .map(timestamp_of)
    }
}

/// [`merge`] for drop-oldest rings, whose records are copied out a run at a time (the
/// producer may evict the oldest ones meanwhile): runs of each ring's copied records are
/// taken in timestamp order across rings, up to `cutoff`. Returns the number of records.
fn merge_copied(
    rings: &mut [Consumer],
    copied: &mut Vec<Copied>,
    keys: &mut Vec<Option<u64>>,
    cutoff: u64,
    mut f: impl FnMut(&[u8]),
) -> usize {
    copied.resize_with(rings.len(), Copied::default);
    keys.clear();
    for (c, r) in copied.iter_mut().zip(rings.iter_mut()) {
        c.buf.clear();
        c.at = 0;
        c.more = true;
        keys.push(c.peek(r, cutoff));
    }
    let mut n = 0;
    while let Some((i, _, second)) = earliest(keys) {
        let (c, ring) = (&mut copied[i], &mut rings[i]);
        keys[i] = loop {
            match c.peek(ring, cutoff) {
                Some(k) if k <= second => {}
                next => break next,
            }
            let record = crate::ring::copied_records(&c.buf[c.at..])
                .next()
                .unwrap_or_default();
            f(record);
            c.at += 4 + record.len();
            n += 1;
        };
    }
    n
}

/// Counts of one drain pass, published to the shared counters once per pass.
#[derive(Default)]
struct PassCounts {
    written: u64,
    filtered: u64,
    failed: u64,
    /// Records counted as written (in this pass or, with an I/O thread, an earlier one) whose
    /// write failed.
    unwritten: u64,
}

impl PassCounts {
    /// Moves `n` records that were counted as written to failed (their write failed).
    fn write_failed(&mut self, n: u64) {
        self.unwritten += n;
    }
}

/// Moves `n` records already counted as written to failed.
///
/// Handlers report failures in records of their own batches; a record routed to several
/// handlers is reported by the first of them that fails it only (see
/// [`handler::SharedFailed`]), so it is counted once, as failed when any of its handlers
/// failed it. Moving at most what is counted as written keeps the counts consistent even so.
fn publish_unwritten(shared: &Shared, n: u64) {
    if n == 0 {
        return;
    }
    let c = &shared.counters;
    let before = c
        .written
        .fetch_update(Ordering::Release, Ordering::Relaxed, |w| {
            Some(w.saturating_sub(n))
        })
        .unwrap_or_else(|w| w);
    c.failed.fetch_add(n.min(before), Ordering::Release);
}

pub(crate) struct Drainer {
    shared: Arc<Shared>,
    rings: Vec<Consumer>,
    handlers: Vec<Handler>,
    sinks: Vec<(String, Sink)>,
    templates: Templates,
    sink_renderer: Renderer,
    sink_buf: Vec<u8>,
    /// Records copied out of each ring under `drop_oldest`.
    copied: Vec<Copied>,
    /// Each ring's next timestamp during a merge.
    keys: Vec<Option<u64>>,
    /// Cores whose last handle is gone, freed after the next pass (queued records may still
    /// hold their addresses).
    retiring: Vec<Arc<LoggerCore>>,
    flushed: u64,
    /// The internal loggers (`kolog`) of the factories built on the system, oldest first, held
    /// weakly: a factory's is dropped once the factory and its loggers are gone (checked once
    /// per pass), and its handlers are then closed like any other route's. Drops are reported
    /// through the newest one alive.
    internal: Vec<std::sync::Weak<route::Route>>,
    /// Drops already reported, and when the report was made.
    reported_drops: u64,
    last_report: Instant,
    timeout: Timeout,
    /// Records routed to several handlers already counted as failed (see [`SharedFailed`]),
    /// and the number the last such record got.
    failed_shared: SharedFailed,
    shared_numbers: u64,
    /// Records to dispatch before an injected panic (see [`Command::PanicAtRecord`]).
    #[cfg(test)]
    panic_at: Option<u64>,
    /// The conversion of ticks to wall time, re-anchored to the system clock once a second.
    clock: clock::Anchor,
}

impl Drop for Drainer {
    /// After a panic (a bug: processors and writers are contained) the rings are handed over
    /// as at shutdown, so that [`Shared::sweep_stranded`] releases and counts what they hold
    /// and what producers publish into them afterwards (the producers' fast path does not
    /// check `closed`). After `finish` there is nothing left to hand over.
    fn drop(&mut self) {
        if self.rings.is_empty() {
            return;
        }
        for r in self.rings.iter_mut() {
            r.unbound();
        }
        let _fork = crate::ring::fork_guard::section();
        let mut stranded = self
            .shared
            .stranded
            .lock()
            .unwrap_or_else(|e| e.into_inner());
        stranded.append(&mut self.rings);
    }
}

/// `drain_timeout`, enforced record by record once the drainer has seen shutdown begin: a long
/// pass or a slow processor cannot hold `shutdown()` past it. Records reached after it has run
/// out are released unprocessed and counted in `dropped_timeout`.
#[derive(Default)]
struct Timeout {
    /// When the clock started (shutdown seen), and the deadline (None: too far to represent).
    started: Option<Instant>,
    deadline: Option<Instant>,
    expired: bool,
}

impl Timeout {
    /// Starts the clock, if it is not running yet; returns when it started.
    fn start(&mut self, timeout: Duration) -> Instant {
        let deadline = &mut self.deadline;
        *self.started.get_or_insert_with(|| {
            let now = Instant::now();
            *deadline = now.checked_add(timeout);
            now
        })
    }

    /// Whether the deadline has passed. Before shutdown this is one load of the drainer's own
    /// stop flag.
    #[inline]
    fn expired(&mut self, shared: &Shared) -> bool {
        if !self.expired && (self.started.is_some() || shared.stop.load(Ordering::Relaxed)) {
            self.start(shared.config.drain_timeout);
            self.expired = self.deadline.is_some_and(|d| Instant::now() >= d);
        }
        self.expired
    }
}

impl Drainer {
    pub(crate) fn new(shared: Arc<Shared>) -> Drainer {
        let sink_renderer = Renderer::build(&RendererConfig::new(RendererKind::StreamPlain), false)
            .expect("the default renderer builds");
        Drainer {
            shared,
            rings: Vec::new(),
            handlers: Vec::new(),
            sinks: Vec::new(),
            templates: Templates::default(),
            sink_renderer,
            sink_buf: Vec::new(),
            copied: Vec::new(),
            keys: Vec::new(),
            retiring: Vec::new(),
            flushed: 0,
            internal: Vec::new(),
            reported_drops: 0,
            timeout: Timeout::default(),
            last_report: Instant::now(),
            failed_shared: SharedFailed::default(),
            shared_numbers: 0,
            #[cfg(test)]
            panic_at: None,
            clock: clock::anchor(),
        }
    }

    /// Forgets the failed records routed to several handlers that no handler still holds
    /// (buffered or in flight): no later report can name them.
    fn prune_failed_shared(&self) {
        let mut counted = self.failed_shared.lock().unwrap_or_else(|e| e.into_inner());
        if counted.is_empty() {
            return;
        }
        match self
            .handlers
            .iter()
            .filter_map(Handler::oldest_shared)
            .min()
        {
            None => counted.clear(),
            Some(oldest) => *counted = counted.split_off(&oldest),
        }
    }

    /// The drainer thread's body: runs until shutdown, then drains within the timeout.
    pub(crate) fn run(mut self) -> ShutdownReport {
        wait::set_drainer_of(&self.shared);
        let mut idle = 0u32;
        loop {
            let ticket = self.shared.flush.requested.load(Ordering::SeqCst);
            let closing = self.shared.stop.load(Ordering::SeqCst);
            let n = self.step(Cutoff::Now);
            // Before a flush completes: the rings of threads that exited before it was
            // requested, drained by now, are freed when it returns (`live_rings` counts
            // only rings that may still be written).
            self.shared.registry.reclaim(&mut self.rings);
            if ticket > self.flushed {
                self.complete_flush(ticket);
            } else {
                self.report_recoveries();
            }
            if self.last_report.elapsed() >= DROP_REPORT_INTERVAL {
                self.clock = clock::recalibrate();
                self.report_drops();
            }
            if closing {
                return self.finish();
            }
            if n > 0 {
                idle = 0;
            } else {
                idle += 1;
                if idle < 16 {
                    std::hint::spin_loop();
                } else if idle < 64 {
                    std::thread::yield_now();
                } else {
                    std::thread::park_timeout(Duration::from_millis(1));
                }
            }
        }
    }

    /// One pass: take retired logger cores, apply commands, adopt new rings, drain every ring,
    /// write the batches, then free the cores (no record drained later can reference them).
    fn step(&mut self, cutoff: Cutoff) -> usize {
        while let Some(core) = self.shared.retired.pop() {
            self.retiring.push(core);
        }
        while let Some(cmd) = self.shared.commands.pop() {
            self.apply(cmd);
        }
        // Internal loggers of factories that are gone (one check per factory, per pass).
        if !self.internal.is_empty() {
            self.internal.retain(|r| r.strong_count() > 0);
        }
        self.shared.registry.adopt(&mut self.rings);
        let cutoff = match cutoff {
            Cutoff::Now => clock::drainer_now(),
            Cutoff::Everything => {
                // The final drain takes what each ring holds when the drainer first sees it
                // after shutdown began: producers' fast path does not check `closed`, and one
                // that goes on logging would otherwise be chased to the end of its ring's lap
                // (or to `drain_timeout`, its records then counted as timed out).
                for r in self.rings.iter_mut() {
                    r.bound_at_head();
                }
                u64::MAX
            }
        };
        let n = self.pass(cutoff);
        self.retiring.clear();
        n
    }

    fn apply(&mut self, cmd: Command) {
        match cmd {
            Command::AddHandlers { first, handlers } => {
                debug_assert_eq!(first, self.handlers.len());
                self.handlers.extend(handlers);
                for h in &mut self.handlers[first..] {
                    h.count_shared_failures_in(&self.failed_shared);
                }
            }
            Command::AddSink { logger, sink } => {
                self.sinks.retain(|(name, _)| *name != logger);
                self.sinks.push((logger, sink));
            }
            Command::RemoveSink { logger } => self.sinks.retain(|(name, _)| *name != logger),
            Command::RemoveHandlers(ids) => {
                let mut failed = 0;
                for id in ids {
                    if let Some(h) = self.handlers.get_mut(id) {
                        failed += h.retire();
                    }
                }
                publish_unwritten(&self.shared, failed);
            }
            Command::AddInternalLogger(route) => self.internal.push(route),
            #[cfg(test)]
            Command::Panic => panic!("injected drainer panic"),
            #[cfg(test)]
            Command::Stall { reached, go } => {
                let _ = reached.send(());
                let _ = go.recv();
            }
            #[cfg(test)]
            Command::PanicAtRecord(n) => self.panic_at = Some(n),
        }
    }

    fn pass(&mut self, cutoff: u64) -> usize {
        let mut counts = PassCounts::default();
        let Drainer {
            rings,
            handlers,
            templates,
            sinks,
            sink_renderer,
            sink_buf,
            copied,
            shared,
            keys,
            timeout,
            failed_shared,
            shared_numbers,
            #[cfg(test)]
            panic_at,
            clock,
            ..
        } = self;
        let copy = shared.policy == BackpressurePolicy::DropOldest;
        let mut router = Router {
            handlers,
            templates,
            sinks,
            sink_renderer,
            sink_buf,
            counts: &mut counts,
            failed_shared,
            shared_numbers,
            #[cfg(test)]
            panic_at,
            clock: *clock,
        };
        let mut timed_out = 0;
        let mut take = |payload: &[u8]| {
            if timeout.expired(shared) {
                timed_out += 1;
            } else {
                router.dispatch(payload);
            }
        };
        let n = if copy {
            // Drop-oldest rings are copied out a run at a time (see `merge_copied`).
            merge_copied(rings, copied, keys, cutoff, &mut take)
        } else {
            merge(rings, keys, cutoff, &mut take)
        };
        for h in self.handlers.iter_mut() {
            let failed = h.write_batch();
            counts.write_failed(failed);
        }
        for ring in self.rings.iter_mut() {
            ring.prefault();
        }
        let c = &self.shared.counters;
        if counts.written > 0 {
            c.written.fetch_add(counts.written, Ordering::Release);
        }
        if counts.filtered > 0 {
            c.filtered.fetch_add(counts.filtered, Ordering::Release);
        }
        if counts.failed > 0 {
            c.failed.fetch_add(counts.failed, Ordering::Release);
        }
        if timed_out > 0 {
            c.dropped_timeout.fetch_add(timed_out, Ordering::Release);
        }
        publish_unwritten(&self.shared, counts.unwritten);
        self.prune_failed_shared();
        n
    }

    /// Logs a WARNING through kolog's own logger when records were dropped since the last
    /// report ("dropped N records since <time>"). Delivered straight to the handlers: the
    /// drainer never waits on a ring.
    fn report_drops(&mut self) {
        static CALLSITE: Callsite = own_callsite("dropped records", line!());
        let now = Instant::now();
        let since = self.last_report;
        self.last_report = now;
        let stats = queue_manager::stats(&self.shared);
        let new = stats.dropped - self.reported_drops.min(stats.dropped);
        if new == 0 {
            return;
        }
        self.reported_drops = stats.dropped;
        let Some(route) = self
            .internal
            .iter()
            .rev()
            .find_map(std::sync::Weak::upgrade)
        else {
            crate::error::report(format_args!(
                "kolog: dropped {new} records in the last {:.1} s",
                (now - since).as_secs_f64()
            ));
            return;
        };
        if crate::Level::Warning < route.level() {
            return;
        }
        let name = factory::INTERNAL_LOGGER;
        let wall_now = self.clock.to_unix_nanos(clock::drainer_now());
        let since_unix = wall_now.saturating_sub((now - since).as_nanos() as u64);
        let mut ev = EventDict::new(wall_now, crate::Level::Warning, name, &CALLSITE);
        ev.event = Cow::Owned(format!(
            "dropped {new} records since {}",
            crate::render::rfc3339(since_unix)
        ));
        ev.insert("dropped", Value::U64(new));
        ev.insert("dropped_full", Value::U64(stats.dropped_full));
        ev.insert("dropped_oldest", Value::U64(stats.dropped_oldest));
        ev.insert("dropped_oversize", Value::U64(stats.dropped_oversize));
        self.deliver_own(Some(name), &route.handlers, &mut ev);
    }

    /// Delivers a record the drainer makes itself (a drop or recovery report) to `handlers`
    /// (through a sink capturing `logger`, if given and one does) and writes them at once.
    /// The report was never enqueued, so it is counted neither as written nor as failed:
    /// what the handlers had in flight is collected (and counted) first, then the report is
    /// written on its own and its outcome left out of the counts.
    fn deliver_own(&mut self, logger: Option<&str>, handlers: &[usize], ev: &mut EventDict<'_>) {
        let failed = self.write_out(handlers);
        publish_unwritten(&self.shared, failed);
        let mut counts = PassCounts::default();
        let mut router = Router {
            handlers: &mut self.handlers,
            templates: &mut self.templates,
            sinks: &self.sinks,
            sink_renderer: &mut self.sink_renderer,
            sink_buf: &mut self.sink_buf,
            counts: &mut counts,
            failed_shared: &self.failed_shared,
            shared_numbers: &mut self.shared_numbers,
            #[cfg(test)]
            panic_at: &mut None,
            clock: self.clock,
        };
        match logger {
            Some(name) => router.route(name, handlers, ev),
            None => router.deliver(handlers, ev),
        }
        // The report's own outcome: not a counted record.
        self.write_out(handlers);
    }

    /// Writes what `handlers` have buffered and waits for it to reach their destinations;
    /// returns how many records failed.
    fn write_out(&mut self, handlers: &[usize]) -> u64 {
        let mut failed = 0;
        for &h in handlers {
            if let Some(h) = self.handlers.get_mut(h) {
                failed += h.write_batch() + h.flush();
            }
        }
        failed
    }

    /// Writes a WARNING into each handler whose destination is back after failed writes
    /// ("handler <label> recovered after N records failed to write", field `failed`), through
    /// that handler alone: the failure is reported where the records were missed. Returns
    /// whether any was written.
    fn report_recoveries(&mut self) -> bool {
        static CALLSITE: Callsite = own_callsite("handler recovered", line!());
        let mut any = false;
        for hid in 0..self.handlers.len() {
            let n = self.handlers[hid].take_recovered();
            if n == 0 {
                continue;
            }
            any = true;
            let name = factory::INTERNAL_LOGGER;
            let wall_now = self.clock.to_unix_nanos(clock::drainer_now());
            let mut ev = EventDict::new(wall_now, crate::Level::Warning, name, &CALLSITE);
            ev.event = Cow::Owned(format!(
                "handler {} recovered after {n} records failed to write",
                self.handlers[hid].label()
            ));
            ev.insert("failed", Value::U64(n));
            self.deliver_own(None, &[hid], &mut ev);
        }
        any
    }

    fn complete_flush(&mut self, ticket: u64) {
        let mut failed = 0;
        for h in &mut self.handlers {
            failed += h.flush();
        }
        // A destination that came back during this flush gets its report before the flush
        // completes.
        if self.report_recoveries() {
            for h in &mut self.handlers {
                failed += h.flush();
            }
        }
        publish_unwritten(&self.shared, failed);
        self.flushed = ticket;
        self.shared.wake_flushers(Some(ticket));
    }

    fn finish(mut self) -> ShutdownReport {
        let started = self.timeout.start(self.shared.config.drain_timeout);
        loop {
            // Drains every ring up to its bound (see `step`); again for rings registered
            // meanwhile. Records published past the bounds were logged after shutdown began:
            // `Shared::sweep_stranded` counts them in `dropped_shutdown`.
            self.step(Cutoff::Everything);
            if !self.shared.registry.has_new() || self.timeout.expired(&self.shared) {
                break;
            }
        }
        let timed_out = self.timeout.expired;
        // What is left when the time ran out is released, so that only records published
        // after this point are left for `Shared::sweep_stranded`.
        let left = self.shared.discard(&mut self.rings);
        self.shared
            .counters
            .dropped_timeout
            .fetch_add(left, Ordering::Relaxed);
        let mut failed = 0;
        // Collects what the I/O threads wrote, so that a destination that came back gets its
        // report before it is closed.
        for h in &mut self.handlers {
            failed += h.flush();
        }
        self.report_recoveries();
        for h in &mut self.handlers {
            failed += h.close();
        }
        publish_unwritten(&self.shared, failed);
        for r in &self.rings {
            r.ring().wake_waiter();
        }
        // Rings whose thread is gone are freed now; the others are kept for the sweep, which
        // takes everything in them.
        self.shared.registry.reclaim(&mut self.rings);
        for r in self.rings.iter_mut() {
            r.unbound();
        }
        {
            let _fork = crate::ring::fork_guard::section();
            *self
                .shared
                .stranded
                .lock()
                .unwrap_or_else(|e| e.into_inner()) = std::mem::take(&mut self.rings);
        }
        self.shared.drainer_done.store(true, Ordering::SeqCst);
        while self.shared.retired.pop().is_some() {}
        self.shared.wake_flushers(None);
        let stats = queue_manager::stats(&self.shared);
        ShutdownReport::from_stats(stats, started.elapsed(), timed_out)
    }
}

/// The callsite of a record the drainer makes itself (drop and recovery reports).
const fn own_callsite(message: &'static str, line: u32) -> Callsite {
    Callsite {
        message,
        fields: &[],
        file: file!(),
        line,
        module_path: module_path!(),
        kind: CallsiteKind::Event,
        function: None,
    }
}

pub(crate) use self::wait::{drainer_of, on_drainer_thread};

/// Hashes addresses, or small keys made of them (a callsite's address is its identity; the
/// `log` bridge keys statements by the addresses of their static strings). Cheap, and good
/// enough for keys the program's own statics make.
#[derive(Default)]
pub(crate) struct AddrHasher(u64);

impl std::hash::Hasher for AddrHasher {
    fn finish(&self) -> u64 {
        // The table indexes with low bits: bring the well-mixed high bits of the products
        // down (addresses are 8-aligned).
        self.0.rotate_left(32)
    }
    fn write(&mut self, bytes: &[u8]) {
        for &b in bytes {
            self.0 = (self.0 ^ u64::from(b)).wrapping_mul(0x100_0000_01b3);
        }
    }
    fn write_usize(&mut self, n: usize) {
        // Fibonacci hashing.
        self.0 = (self.0 ^ n as u64).wrapping_mul(0x9e37_79b9_7f4a_7c15);
    }
}

/// Each callsite's JSON template, made the first time one of its records takes the direct
/// path, keyed by the callsite's address; the last one used is looked up without hashing.
#[derive(Default)]
struct Templates {
    index: HashMap<usize, usize, BuildHasherDefault<AddrHasher>>,
    list: Vec<JsonTemplate>,
    last: Option<(usize, usize)>,
}

impl Templates {
    #[inline]
    fn get(&mut self, callsite: &'static Callsite) -> &mut JsonTemplate {
        let addr = callsite as *const Callsite as usize;
        let i = match self.last {
            Some((a, i)) if a == addr => i,
            _ => self.find(callsite, addr),
        };
        &mut self.list[i]
    }

    fn find(&mut self, callsite: &'static Callsite, addr: usize) -> usize {
        let list = &mut self.list;
        let i = *self.index.entry(addr).or_insert_with(|| {
            list.push(JsonTemplate::new(callsite));
            list.len() - 1
        });
        self.last = Some((addr, i));
        i
    }
}

/// Routes decoded records to handlers or sinks during one pass.
struct Router<'d> {
    handlers: &'d mut [Handler],
    templates: &'d mut Templates,
    sinks: &'d [(String, Sink)],
    sink_renderer: &'d mut Renderer,
    sink_buf: &'d mut Vec<u8>,
    counts: &'d mut PassCounts,
    failed_shared: &'d SharedFailed,
    shared_numbers: &'d mut u64,
    #[cfg(test)]
    panic_at: &'d mut Option<u64>,
    clock: clock::Anchor,
}

/// Sets the key/value pairs that follow in `values` (about `pairs` of them) in `ev`, which holds
/// the logger's bound context so far: a repeated key keeps its first place and takes its last value,
/// as [`EventDict::insert`] does one at a time. Past a few pairs the repeats are found through
/// a map, so a record with many keys (a `log` record may have tens of thousands) costs the
/// drainer linear time, not quadratic.
fn merge_pairs<'a>(ev: &mut EventDict<'a>, values: &mut Values<'a>, pairs: usize) {
    let mut next = || {
        let key = values.next()?;
        Some((key, values.next()?))
    };
    if pairs <= 16 {
        while let Some((key, v)) = next() {
            if let Value::Str(k) = key {
                ev.insert(k, v);
            }
        }
        return;
    }
    let mut merged: Vec<(&'a str, Value<'a>)> = Vec::with_capacity(pairs);
    let mut at: HashMap<&'a str, usize> = HashMap::with_capacity(pairs);
    while let Some((key, v)) = next() {
        let Value::Str(k) = key else { continue };
        match at.entry(k) {
            std::collections::hash_map::Entry::Occupied(e) => merged[*e.get()].1 = v,
            std::collections::hash_map::Entry::Vacant(e) => {
                e.insert(merged.len());
                merged.push((k, v));
            }
        }
    }
    // Only the context fields can already hold a key of the record.
    let context = ev.fields().len();
    for (k, v) in merged {
        if ev.fields()[..context].iter().any(|f| f.key == k) {
            ev.insert(k, v);
        } else {
            ev.push(k, v);
        }
    }
}

/// Whether a sink registered under `sink_name` captures records of logger `name`: the same
/// logger, a descendant (`app` captures `app.db`), or everything for `root`.
fn sink_matches(sink_name: &str, name: &str) -> bool {
    sink_name == "root"
        || name == sink_name
        || (name.len() > sink_name.len()
            && name.starts_with(sink_name)
            && name.as_bytes()[sink_name.len()] == b'.')
}

fn seconds(v: Option<Value<'_>>) -> f64 {
    match v {
        Some(Value::F64(s)) => s,
        _ => 0.0,
    }
}

fn name_of<'v>(v: &'v Option<Value<'_>>) -> &'v str {
    v.as_ref().and_then(Value::as_str).unwrap_or("")
}

impl Router<'_> {
    fn dispatch(&mut self, payload: &[u8]) {
        #[cfg(test)]
        if let Some(n) = self.panic_at.as_mut() {
            if *n == 0 {
                *self.panic_at = None;
                panic!("injected drainer panic in the middle of a pass");
            }
            *n -= 1;
        }
        let Some((h, values)) = decode::header(payload) else {
            self.counts.failed += 1;
            return;
        };
        // SAFETY: records reach a ring only through `front::emit`, which stores the address
        // of a `static` Callsite made by a macro (valid for the program's life) and of the
        // logger's `LoggerCore`, which stays allocated until the drainer frees it in `step`
        // after a full pass that began after the core was retired — i.e. after this record,
        // which was published before the last logger handle was dropped, has been drained.
        let (callsite, core): (&'static Callsite, &LoggerCore) = unsafe {
            (
                &*(h.callsite as usize as *const Callsite),
                &*(h.logger as usize as *const LoggerCore),
            )
        };
        if callsite.kind == CallsiteKind::Event
            && self.sinks.is_empty()
            && self.dispatch_encoded(&h, callsite, core, values)
        {
            return;
        }
        self.dispatch_event(&h, callsite, core, values);
    }

    /// The general path: builds the record's event dictionary for processors, sinks and
    /// every renderer.
    #[inline(never)]
    fn dispatch_event(
        &mut self,
        h: &RawHeader,
        callsite: &Callsite,
        core: &LoggerCore,
        values: &[u8],
    ) {
        let mut ev = EventDict::new(
            self.clock.to_unix_nanos(h.timestamp),
            h.level,
            &core.name,
            callsite,
        );
        // A logger's context keys are distinct (`bind!` replaces a key it binds again, and a
        // configured context is a JSON object): appended without looking each one up, which
        // would cost the drainer time quadratic in the context's size on every record.
        for (k, v) in &core.context {
            ev.push(k.as_str(), crate::record::context_value(v));
        }
        let mut values = Values::new(values);
        let mut names = callsite.fields.iter();
        let mut take = || {
            names.next();
            values.next()
        };
        match callsite.kind {
            CallsiteKind::Event => {}
            CallsiteKind::LifeEnd => {
                let secs = seconds(take());
                ev.event = Cow::Owned(format!("End ({secs:.2}): {}", callsite.message));
            }
            CallsiteKind::NamedBegin => {
                let name = take();
                ev.event = Cow::Owned(format!("Begin: {}", name_of(&name)));
            }
            CallsiteKind::Dynamic => {
                let message = take();
                let file = take();
                let line = take();
                let module = take();
                if let Some(Value::Str(m)) = message {
                    ev.event = Cow::Borrowed(m);
                }
                if let (Some(Value::Str(f)), Some(Value::U64(l)), Some(Value::Str(m))) =
                    (file, line, module)
                {
                    ev.source = crate::record::Source {
                        file: f,
                        line: l as u32,
                        module_path: m,
                    };
                }
                // Key/value pairs follow: names are values too.
                let pairs = usize::from(h.nvalues).saturating_sub(4) / 2;
                merge_pairs(&mut ev, &mut values, pairs);
            }
            CallsiteKind::NamedEnd => {
                let name = take();
                let secs = seconds(take());
                ev.event = Cow::Owned(format!("End ({secs:.2}): {}", name_of(&name)));
            }
        }
        if core.context.is_empty() {
            // A statement's field names are distinct (two `k = ..` with the same name write
            // the key twice); only bound context can collide with them.
            for (name, v) in names.zip(values) {
                ev.push(name, v);
            }
        } else {
            for (name, v) in names.zip(values) {
                ev.insert(*name, v);
            }
        }
        self.route(&core.name, &core.route.handlers, &mut ev);
    }

    /// The direct path: a plain event whose handlers all take records unchanged (JSON or plain
    /// renderers with no or only static processors) is rendered straight from its encoded
    /// values with the callsite's template — no event dictionary. Returns false when the
    /// general path must take the record (nothing was delivered then).
    #[inline]
    fn dispatch_encoded(
        &mut self,
        h: &RawHeader,
        callsite: &'static Callsite,
        core: &LoggerCore,
        values: &[u8],
    ) -> bool {
        let route = &core.route.handlers;
        if route.is_empty()
            || !route.iter().all(|&hid| {
                self.handlers
                    .get_mut(hid)
                    .is_some_and(|handler| handler.takes_encoded())
            })
        {
            return false;
        }
        // (A number spent on a record the general path then takes changes nothing.)
        let shared = self.number_if_shared(route);
        let template = self.templates.get(callsite);
        let logger = LoggerJson {
            id: core.id,
            name: &core.json_name,
            plain_name: &core.name,
            context: &core.context,
            context_json: &core.json_context,
        };
        // Every handler's part is checked before any renders, so a refusal leaves nothing
        // delivered for the general path to repeat.
        for &hid in route {
            if !self.handlers[hid].prepare_encoded(template, h.level, &logger, hid) {
                return false;
            }
        }
        let unix_nanos = self.clock.to_unix_nanos(h.timestamp);
        let mut any_buffered = false;
        for &hid in route {
            let handler = &mut self.handlers[hid];
            // Values that do not fit the template fail at the first rendering handler,
            // before any other rendered the record (only discarding or filtering handlers
            // come earlier, and they have no effect).
            let Some((delivery, failed)) =
                handler.accept_encoded(hid, unix_nanos, h.level, template, values, shared)
            else {
                return false;
            };
            self.counts.write_failed(failed);
            any_buffered |= delivery == Delivery::Buffered;
        }
        if any_buffered {
            self.counts.written += 1;
        } else {
            self.counts.filtered += 1;
        }
        true
    }

    /// Sends an event to the sink that captures its logger, else to the route's handlers. Of
    /// several sinks whose names cover the logger, the most specific one captures (`app.db`
    /// before `app` before `root`), whatever order they were added in: each sink keeps the
    /// records of its own name and descendants that no deeper sink takes.
    fn route(&mut self, logger: &str, handlers: &[usize], ev: &mut EventDict<'_>) {
        if !self.sinks.is_empty() {
            if let Some((_, sink)) = self
                .sinks
                .iter()
                .filter(|(s, _)| sink_matches(s, logger))
                .max_by_key(|(s, _)| if s == "root" { 0 } else { s.len() + 1 })
            {
                let sink = sink.clone();
                return self.capture(handlers, ev, &sink);
            }
        }
        self.deliver(handlers, ev);
    }

    fn deliver(&mut self, route: &[usize], ev: &mut EventDict<'_>) {
        let mut any_buffered = false;
        let mut any_failed = false;
        let last = route.len().saturating_sub(1);
        let shared = self.number_if_shared(route);
        for (i, &hid) in route.iter().enumerate() {
            let Some(handler) = self.handlers.get_mut(hid) else {
                continue;
            };
            let (delivery, failed) = if i == last {
                handler.accept(ev, shared)
            } else {
                handler.accept(&mut ev.clone(), shared)
            };
            self.counts.write_failed(failed);
            match delivery {
                Delivery::Buffered => any_buffered = true,
                Delivery::Filtered => {}
                Delivery::Failed => any_failed = true,
            }
        }
        if any_failed {
            // A handler that took the record may fail to write it later: it is failed once.
            // (If that write already failed, in mid-pass, it was moved from `written`.)
            let counted_already = any_buffered
                && shared.is_some_and(|n| {
                    !self
                        .failed_shared
                        .lock()
                        .unwrap_or_else(|e| e.into_inner())
                        .insert(n)
                });
            if counted_already {
                self.counts.written += 1;
            } else {
                self.counts.failed += 1;
            }
        } else if any_buffered {
            self.counts.written += 1;
        } else {
            self.counts.filtered += 1;
        }
    }

    /// A number for a record routed to several handlers, so that it is counted failed once
    /// however many of them fail to write it (see [`SharedFailed`]).
    #[inline]
    fn number_if_shared(&mut self, route: &[usize]) -> Option<u64> {
        (route.len() > 1).then(|| {
            *self.shared_numbers += 1;
            *self.shared_numbers
        })
    }

    fn capture(&mut self, route: &[usize], ev: &mut EventDict<'_>, sink: &Sink) {
        self.sink_buf.clear();
        let outcome = match route.first().and_then(|&hid| self.handlers.get_mut(hid)) {
            Some(handler) => handler.render_for_sink(ev, self.sink_buf),
            None => {
                self.sink_renderer.render(ev, self.sink_buf);
                Outcome::Keep
            }
        };
        match outcome {
            Outcome::Keep => {
                sink.push(
                    self.sink_buf,
                    SinkRecord {
                        timestamp_ns: ev.timestamp_ns,
                        fields: ev.to_json_map(),
                    },
                );
                self.counts.written += 1;
            }
            Outcome::Filtered => self.counts.filtered += 1,
            Outcome::Panicked => self.counts.failed += 1,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::{earliest, sink_matches};

    #[test]
    fn earliest_picks_the_first_smallest_key_and_the_next_one_of_the_others() {
        assert_eq!(earliest(&[]), None);
        assert_eq!(earliest(&[None, None]), None);
        assert_eq!(earliest(&[None, Some(7)]), Some((1, 7, u64::MAX)));
        assert_eq!(earliest(&[Some(9), Some(4), Some(6)]), Some((1, 4, 6)));
        assert_eq!(
            earliest(&[Some(4), None, Some(9), Some(5)]),
            Some((0, 4, 5))
        );
        // A tie goes to the first ring; the other's equal key bounds its run.
        assert_eq!(earliest(&[Some(3), Some(3)]), Some((0, 3, 3)));
        assert_eq!(earliest(&[Some(8), Some(2), Some(2)]), Some((1, 2, 2)));
    }

    /// Records published after the final drain (by producers that passed the `closed` check
    /// just before shutdown, one of them on a thread whose ring is registered only after the
    /// drainer finished) are counted as `dropped_shutdown`, once.
    #[test]
    fn records_published_after_the_final_drain_are_counted_as_dropped_at_shutdown() {
        let k = crate::Kolog::from_json_str(
            r#"{"loggers": [{"name": "root", "handlers": [{"type": "null", "renderer": {"type": "file_json"}}]}]}"#,
        )
        .unwrap();
        let log = k.logger("root").unwrap();
        crate::info!(log, "before");
        let report = k.shutdown().unwrap();
        assert_eq!((report.enqueued, report.written), (1, 1));
        let shared = k.queue_manager().shared.clone();
        // Producers that passed the `closed` check before shutdown, one on a thread whose ring
        // is registered only after the drainer finished.
        crate::front::emit::push_unchecked(&shared, b"late one");
        crate::front::emit::push_unchecked(&shared, b"late two");
        std::thread::spawn({
            let shared = shared.clone();
            move || crate::front::emit::push_unchecked(&shared, b"late three")
        })
        .join()
        .unwrap();
        let s = k.stats();
        assert_eq!(
            (s.enqueued, s.written, s.dropped_shutdown),
            (1, 1, 3),
            "{s:?}"
        );
        assert_eq!(s.dropped, 3);
        // Counted once.
        let s = k.stats();
        assert_eq!((s.enqueued, s.dropped_shutdown), (1, 3), "{s:?}");
    }

    /// A system with the smallest ring (4 KiB) under `block`, its `root` logger on a `null`
    /// handler.
    fn smallest_block_system() -> crate::Kolog {
        crate::Kolog::from_json_str(
            r#"{"queue": {"max_queue_size": 1, "backpressure_policy": "block"},
                "loggers": [{"name": "root", "handlers": [{"type": "null"}]}]}"#,
        )
        .unwrap()
    }

    /// Makes `k`'s drainer panic (an injected command) and waits for it: `flush()` returns
    /// although the drainer is gone. Returns the system's shared state.
    fn crash_drainer(k: &crate::Kolog) -> std::sync::Arc<super::Shared> {
        let shared = k.queue_manager().shared.clone();
        shared.commands.push(super::Command::Panic);
        shared.wake_drainer();
        k.flush();
        assert!(shared
            .drainer_done
            .load(std::sync::atomic::Ordering::SeqCst));
        shared
    }

    /// An `ainfo!` future that found its ring full and registers its waker just after the
    /// drainer crashed (which woke the waiters it could see) is not left `Pending` for good:
    /// no drainer will ever free room or wake it.
    #[test]
    fn an_async_producer_registering_as_the_drainer_crashes_is_not_left_pending() {
        let k = smallest_block_system();
        let log = k.logger("root").unwrap();
        // Registers this thread's ring; written before the crash (whether the drainer would
        // take it before the injected panic is up to the scheduler).
        crate::info!(log, "registers this thread's ring");
        k.flush();
        let shared = crash_drainer(&k);
        // The interleaving: the future passes the `closed` check before the crash is seen,
        // finds the ring full, and the crash wakes the waiters before it registers.
        shared
            .closed
            .store(false, std::sync::atomic::Ordering::SeqCst);
        let waker = std::task::Waker::noop();
        let mut cx = std::task::Context::from_waker(waker);
        let pad = "x".repeat(3000);
        let mut fut = Box::pin(crate::ainfo!(log, "fills the ring", pad = pad.as_str()));
        assert!(std::future::Future::poll(fut.as_mut(), &mut cx).is_ready());
        let mut fut = Box::pin(crate::ainfo!(log, "finds it full", pad = pad.as_str()));
        let crashed = shared.clone();
        crate::front::emit::BEFORE_REGISTER
            .with(|h| *h.borrow_mut() = Some(Box::new(move || crashed.drainer_crashed())));
        assert!(
            std::future::Future::poll(fut.as_mut(), &mut cx).is_ready(),
            "left pending with no drainer to wake it"
        );
        drop(fut);
        // The two futures' records are left in the ring by the crash: swept into
        // `dropped_shutdown`.
        let s = k.stats();
        assert_eq!(
            (s.enqueued, s.written, s.dropped_full, s.dropped_shutdown),
            (1, 1, 0, 2),
            "{s:?}"
        );
    }

    /// A waker left registered in a ring of a system whose last handle is this thread's ring
    /// entry (it registered just after the drainer crashed, which woke the waiters it could
    /// see) is dropped when the thread next registers a ring, for another system; dropping it
    /// may run code that logs. That code used to run with the thread-local borrowed, and its
    /// record made `info!` panic ("already borrowed"); now it runs once the borrow is over,
    /// and its record is written.
    #[test]
    fn a_waker_freed_with_a_shut_down_systems_ring_may_log() {
        struct LogsOnDrop(crate::Logger);
        impl std::task::Wake for LogsOnDrop {
            fn wake(self: std::sync::Arc<Self>) {}
        }
        impl Drop for LogsOnDrop {
            fn drop(&mut self) {
                crate::info!(self.0, "waker dropped", formatted = %"yes");
            }
        }
        let other = crate::Kolog::from_json_str(
            r#"{"loggers": [{"name": "root", "handlers": [{"type": "null"}]}]}"#,
        )
        .unwrap();
        let sink = crate::Sink::new();
        other.queue_manager().add_sink("root", sink.clone());
        std::thread::spawn({
            let other_log = other.logger("root").unwrap();
            move || {
                let k = smallest_block_system();
                let log = k.logger("root").unwrap();
                crate::info!(log, "registers this thread's ring");
                let shared = crash_drainer(&k);
                shared
                    .closed
                    .store(false, std::sync::atomic::Ordering::SeqCst);
                let waker =
                    std::task::Waker::from(std::sync::Arc::new(LogsOnDrop(other_log.clone())));
                let mut cx = std::task::Context::from_waker(&waker);
                let pad = "x".repeat(3000);
                let mut fut = Box::pin(crate::ainfo!(log, "fills the ring", pad = pad.as_str()));
                assert!(std::future::Future::poll(fut.as_mut(), &mut cx).is_ready());
                let mut fut = Box::pin(crate::ainfo!(log, "finds it full", pad = pad.as_str()));
                let crashed = shared.clone();
                crate::front::emit::BEFORE_REGISTER
                    .with(|h| *h.borrow_mut() = Some(Box::new(move || crashed.drainer_crashed())));
                assert!(std::future::Future::poll(fut.as_mut(), &mut cx).is_ready());
                drop(fut);
                drop((waker, log, shared, k));
                // The ring's entry holds the system's last handle, and the ring the waker.
                crate::info!(other_log, "registers a ring for the other system");
            }
        })
        .join()
        .unwrap();
        other.flush();
        let mut events: Vec<String> = sink
            .records()
            .iter()
            .map(|r| r["event"].as_str().unwrap().to_owned())
            .collect();
        // (The waker is dropped by the ring, or, when the system's drop swept the records
        // left in it, woken and dropped then: either way before or after that record.)
        events.sort();
        assert_eq!(
            events,
            ["registers a ring for the other system", "waker dropped"]
        );
        let s = other.stats();
        assert_eq!((s.enqueued, s.written, s.dropped), (2, 2, 0), "{s:?}");
    }

    /// A drainer that panics (a bug) leaves nobody waiting: blocked producers, `flush()` and
    /// async producers return, what is logged afterwards is counted as dropped, and
    /// `shutdown()` reports the panic.
    #[test]
    fn a_crashed_drainer_leaves_nobody_waiting() {
        let k = crate::Kolog::from_json_str(
            r#"{"queue": {"max_queue_size": 8, "backpressure_policy": "block"},
                "loggers": [{"name": "root", "handlers": [{"type": "null", "renderer": {"type": "file_json"}}]}]}"#,
        )
        .unwrap();
        let log = k.logger("root").unwrap();
        crate::info!(log, "before");
        k.flush();
        assert_eq!(k.stats().written, 1);
        crash_drainer(&k);
        // A 1 KiB ring: these would block forever on a dead drainer.
        let logger = log.clone();
        std::thread::spawn(move || {
            for i in 0..10_000u64 {
                crate::info!(logger, "after", i);
            }
        })
        .join()
        .unwrap();
        // This thread's ring was registered before the crash: its fast path publishes into
        // it (it does not check `closed`), and the ring, handed over by the crashed drainer,
        // is swept. Fewer than the ring holds, so none of them takes the general path.
        for i in 0..3u64 {
            crate::info!(log, "after, on the registered ring", i);
        }
        let waker = std::task::Waker::noop();
        let mut cx = std::task::Context::from_waker(waker);
        let mut fut = std::pin::pin!(crate::ainfo!(log, "async after"));
        assert!(std::future::Future::poll(fut.as_mut(), &mut cx).is_ready());
        let s = k.stats();
        assert_eq!(
            (s.enqueued, s.written, s.dropped_shutdown),
            (1, 1, 10_004),
            "{s:?}"
        );
        let e = k.shutdown().unwrap_err();
        assert_eq!(e.code(), "QUEUE::QueueManager::WORKER::CRITICAL");
    }

    /// Runs `f` on a thread of its own and returns its result; fails the test if it takes
    /// longer than a generous hang guard (a regression hangs instead of failing).
    fn within<T: Send + 'static>(f: impl FnOnce() -> T + Send + 'static) -> T {
        let (tx, rx) = std::sync::mpsc::channel();
        let t = std::thread::spawn(move || {
            let _ = tx.send(f());
        });
        match rx.recv_timeout(std::time::Duration::from_secs(120)) {
            Ok(v) => v,
            Err(std::sync::mpsc::RecvTimeoutError::Disconnected) => {
                std::panic::resume_unwind(t.join().unwrap_err())
            }
            Err(std::sync::mpsc::RecvTimeoutError::Timeout) => panic!("hung"),
        }
    }

    /// Stalls `k`'s drainer at the start of its next pass, has `log_all` log (on threads of
    /// its own, so each has a ring), then lets the drainer go on with a panic injected as it
    /// dispatches record `at` (0-based) of the pass, and waits for the crash. Returns the
    /// stats then.
    fn crash_in_the_middle_of_a_pass(
        k: &crate::Kolog,
        at: u64,
        log_all: impl FnOnce(),
    ) -> crate::Stats {
        let shared = k.queue_manager().shared.clone();
        let (reached, stalled) = std::sync::mpsc::channel();
        let (go, wait) = std::sync::mpsc::channel();
        shared
            .commands
            .push(super::Command::Stall { reached, go: wait });
        shared.wake_drainer();
        stalled.recv().unwrap();
        log_all();
        // Applied in the same round of commands as the stall, before the pass.
        shared.commands.push(super::Command::PanicAtRecord(at));
        go.send(()).unwrap();
        // Returns once the drainer is gone.
        k.flush();
        assert!(shared
            .drainer_done
            .load(std::sync::atomic::Ordering::SeqCst));
        k.stats()
    }

    /// The records a drainer took out of the rings in the pass it panicked in, and had not
    /// counted yet, are counted as `dropped_shutdown` (as the records it left in the rings
    /// are): the counts balance exactly, with nothing enqueued left without an outcome. Two
    /// threads' rings, so the pass takes two runs (the first thread's three records, then the
    /// second's) and the panic comes in the second run. They used to be missing from every
    /// count: three records enqueued, none written, failed or dropped.
    #[test]
    fn records_in_hand_when_the_drainer_panics_mid_pass_are_counted() {
        within(|| {
            let k = crate::Kolog::from_json_str(
                r#"{"queue": {"backpressure_policy": "block"},
                    "loggers": [{"name": "root", "handlers": [{"type": "null", "renderer": {"type": "file_json"}}]}]}"#,
            )
            .unwrap();
            let log = k.logger("root").unwrap();
            let s = crash_in_the_middle_of_a_pass(&k, 4, || {
                for t in 0..2u64 {
                    let log = log.clone();
                    std::thread::spawn(move || {
                        for i in 0..3u64 {
                            crate::info!(log, "before the crash", t, i);
                        }
                    })
                    .join()
                    .unwrap();
                }
            });
            assert_eq!(
                (s.enqueued, s.written, s.filtered, s.failed),
                (0, 0, 0, 0),
                "{s:?}"
            );
            assert_eq!((s.dropped, s.dropped_shutdown), (6, 6), "{s:?}");
            // Again (counted once), and after a record logged on a live ring.
            crate::info!(log, "after the crash");
            let s = k.stats();
            assert_eq!(
                (s.enqueued, s.written, s.dropped, s.dropped_shutdown),
                (0, 0, 7, 7),
                "{s:?}"
            );
            let e = k.shutdown().unwrap_err();
            assert_eq!(e.code(), "QUEUE::QueueManager::WORKER::CRITICAL");
            let s = k.stats();
            assert_eq!((s.enqueued, s.dropped_shutdown), (0, 7), "{s:?}");
        });
    }

    /// Under `drop_oldest` the drainer copies a run of records out of the ring before it
    /// dispatches them: those after the one it panicked on were taken and never dispatched.
    /// Written before the crash: the record of an earlier pass. Every other record is counted
    /// as `dropped_shutdown`.
    #[test]
    fn copied_records_when_the_drainer_panics_mid_pass_are_counted() {
        within(|| {
            let k = crate::Kolog::from_json_str(
                r#"{"queue": {"backpressure_policy": "drop_oldest"},
                    "loggers": [{"name": "root", "handlers": [{"type": "null", "renderer": {"type": "file_json"}}]}]}"#,
            )
            .unwrap();
            let log = k.logger("root").unwrap();
            crate::info!(log, "written before the crash");
            k.flush();
            assert_eq!(k.stats().written, 1);
            let s = crash_in_the_middle_of_a_pass(&k, 1, || {
                for i in 0..5u64 {
                    crate::info!(log, "before the crash", i);
                }
            });
            assert_eq!(
                (
                    s.enqueued,
                    s.written,
                    s.filtered,
                    s.failed,
                    s.dropped_oldest
                ),
                (1, 1, 0, 0, 0),
                "{s:?}"
            );
            assert_eq!((s.dropped, s.dropped_shutdown), (5, 5), "{s:?}");
        });
    }

    #[test]
    fn sink_matching_is_hierarchical() {
        assert!(sink_matches("app", "app"));
        assert!(sink_matches("app", "app.db"));
        assert!(!sink_matches("app", "application"));
        assert!(!sink_matches("app.db", "app"));
        assert!(sink_matches("root", "anything"));
    }
}
