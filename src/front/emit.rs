//! The hot path after the level check: find this thread's ring for the queue manager, encode
//! the record into it, and apply the backpressure policy when it is full.

use std::cell::RefCell;
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;

use super::logger::LoggerInner;
use super::value::FieldValue;
use crate::clock;
use crate::config::BackpressurePolicy;
use crate::drain::shared::Shared;
use crate::record::encode::{self, Header, Scratch};
use crate::record::Callsite;
use crate::ring::{Producer, PushError, Ring, Waiter, MIN_RING_BYTES};
use crate::Level;

/// A producer of this thread and the queue manager its ring belongs to.
struct Entry {
    shared: Arc<Shared>,
    producer: Producer,
    /// The record clock, read here rather than from its global flag (one cache line fewer on
    /// the hot path).
    clock: clock::RecordClock,
}

impl Entry {
    /// Whether this entry is for `shared`. Comparing addresses is exact: the entry holds a
    /// reference, so no other queue manager can live at that address meanwhile.
    #[inline(always)]
    fn is_for(&self, shared: &Arc<Shared>) -> bool {
        Arc::ptr_eq(&self.shared, shared)
    }
}

/// This thread's producers (one per queue manager it logs to) and its formatting scratch.
#[derive(Default)]
struct Local {
    /// The most recently registered, inline in the thread-local: a thread usually logs to one
    /// queue manager, and the hot path reaches its producer without following a pointer.
    first: Option<Entry>,
    others: Vec<Entry>,
    scratch: Scratch,
    /// Entries of shut-down queue managers that [`Local::register`] took out, dropped once the
    /// thread-local is no longer borrowed (see [`release_retired`]).
    retired: Vec<Entry>,
}

thread_local! {
    static LOCAL: RefCell<Local> = RefCell::new(Local::default());
}

impl Entry {
    /// Drops the producer (its ring is then abandoned once consumed), then, if the system's
    /// drainer has finished, sweeps its rings: nobody else may ever do it (the `Kolog` may be
    /// gone while logger handles live on), and the ring would stay mapped until the system
    /// itself is dropped.
    #[cold]
    fn forget(self) {
        let Entry {
            shared, producer, ..
        } = self;
        drop(producer);
        drop(shared.sweep_stranded());
    }
}

impl Drop for Local {
    /// The thread is exiting. (Its thread-local is being destroyed: code the sweep's wakers
    /// run cannot reach it, and counts what it logs as dropped.)
    fn drop(&mut self) {
        if let Some(e) = self.first.take() {
            e.forget();
        }
        for e in self.others.drain(..) {
            e.forget();
        }
    }
}

impl Local {
    /// This thread's entry for `shared`, if registered.
    #[inline(always)]
    fn find(&mut self, shared: &Arc<Shared>) -> Option<&mut Entry> {
        if self.first.as_ref().is_some_and(|e| e.is_for(shared)) {
            return self.first.as_mut();
        }
        self.find_other(shared)
    }

    #[cold]
    fn find_other(&mut self, shared: &Arc<Shared>) -> Option<&mut Entry> {
        self.others.iter_mut().find(|e| e.is_for(shared))
    }

    /// This thread's producer for `shared`, registering a ring on first use.
    #[inline]
    fn producer(&mut self, shared: &Arc<Shared>) -> &mut Producer {
        if self.find(shared).is_none() {
            return self.register(shared);
        }
        &mut self.find(shared).expect("found above").producer
    }

    #[cold]
    fn register(&mut self, shared: &Arc<Shared>) -> &mut Producer {
        // Forget rings of queue managers that were shut down. (Without a sweep, and dropped
        // only once the thread-local is free: this runs with it borrowed, and a sweep wakes
        // waiters, and dropping a system's last handle drops them, both running the wakers'
        // code. The next sweep, or the system's own drop, frees the rings.)
        let (closed, open): (Vec<Entry>, Vec<Entry>) = std::mem::take(&mut self.others)
            .into_iter()
            .partition(|e| e.shared.is_closed());
        self.others = open;
        self.retired.extend(closed);
        let (producer, consumer) = Ring::with_capacity_at_most(shared.ring_bytes);
        shared.registry.register(consumer);
        let entry = Entry {
            shared: shared.clone(),
            producer,
            clock: clock::RecordClock::current(),
        };
        if let Some(old) = self.first.replace(entry) {
            if old.shared.is_closed() {
                self.retired.push(old);
            } else {
                self.others.push(old);
            }
        }
        &mut self.first.as_mut().expect("just set").producer
    }
}

/// Encodes and enqueues one record (the level check has passed). Under `Block` a full ring
/// makes the caller wait; see [`emit_async`] for the variant that never blocks.
///
/// Inlined into each logging statement: the statement's values are a constant-shaped array,
/// so the fast path's length computation and encoding fold into straight-line stores.
#[inline(always)]
pub(crate) fn emit(
    inner: &LoggerInner,
    level: Level,
    callsite: &'static Callsite,
    values: &[FieldValue<'_>],
) {
    if !push_plain(inner, level, callsite, values) {
        emit_general(inner, level, callsite, values);
    }
}

#[inline(never)]
pub(crate) fn emit_general(
    inner: &LoggerInner,
    level: Level,
    callsite: &'static Callsite,
    values: &[FieldValue<'_>],
) {
    encode_and_enqueue(inner, level, callsite, values, Wait::Park);
}

/// Like [`emit`], but when the ring is full under `Block` the record is encoded into an owned
/// buffer and returned, for an [`EnqueueFuture`] to publish once there is room.
#[inline(always)]
pub(crate) fn emit_async(
    inner: &LoggerInner,
    level: Level,
    callsite: &'static Callsite,
    values: &[FieldValue<'_>],
) -> Option<Vec<u8>> {
    if push_plain(inner, level, callsite, values) {
        None
    } else {
        emit_async_general(inner, level, callsite, values)
    }
}

#[inline(never)]
pub(crate) fn emit_async_general(
    inner: &LoggerInner,
    level: Level,
    callsite: &'static Callsite,
    values: &[FieldValue<'_>],
) -> Option<Vec<u8>> {
    encode_and_enqueue(inner, level, callsite, values, Wait::Return)
}

/// The fast path: values that need no formatting (numbers, booleans, strings), this thread's
/// ring already registered, and room in it. Returns false, having written nothing, in every
/// other case; the general path then handles the record (registration, formatting,
/// backpressure, shutdown).
#[inline(always)]
pub(crate) fn push_plain(
    inner: &LoggerInner,
    level: Level,
    callsite: &'static Callsite,
    values: &[FieldValue<'_>],
) -> bool {
    let Some(len) = encode::plain_len(values) else {
        return false;
    };
    // No `closed` check here: once shutdown has begun, a record published into a registered
    // ring is released and counted as `dropped_shutdown` by `Shared::sweep_stranded` (at the
    // next `stats()`), and once the ring is full the general path counts the rest. The check
    // would cost a dependent load of the queue manager's line on every record, which a call
    // made after an idle spell waits for.
    let Ok(local) = LOCAL.try_with(|cell| cell as *const RefCell<Local>) else {
        return false;
    };
    // SAFETY: `try_with` succeeded, so this thread's `LOCAL` is alive and not being destroyed;
    // thread-local destructors run only once this thread is exiting, never during this call,
    // so the reference is valid for the rest of this function. (Taking the pointer out instead
    // of working inside the closure keeps `try_with` small enough to be inlined, and with it
    // the encoding, which then folds to straight-line stores.)
    let cell = unsafe { &*local };
    let Ok(mut local) = cell.try_borrow_mut() else {
        return false;
    };
    let Some(entry) = local.find(&inner.shared) else {
        return false;
    };
    let header = record_header(inner, level, callsite, entry.clock.now());
    entry.producer.push_fast(
        len,
        #[inline(always)]
        |dst| encode::write_plain(dst, &header, values),
    )
}

/// The fixed part of a record made now by `inner` at `callsite`.
#[inline(always)]
fn record_header(
    inner: &LoggerInner,
    level: Level,
    callsite: &'static Callsite,
    timestamp: u64,
) -> Header {
    Header {
        level,
        timestamp,
        callsite: callsite as *const Callsite as usize,
        logger: inner.core() as *const _ as usize,
    }
}

/// What a producer does when the ring is full under `Block`.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Wait {
    /// Spin, yield, then park until the drainer frees space.
    Park,
    /// Hand the encoded record back to the caller.
    Return,
}

#[inline]
fn encode_and_enqueue(
    inner: &LoggerInner,
    level: Level,
    callsite: &'static Callsite,
    values: &[FieldValue<'_>],
    wait: Wait,
) -> Option<Vec<u8>> {
    let shared = &inner.shared;
    if shared.is_closed() {
        count_shutdown_drop(shared);
        return None;
    }
    let header = record_header(inner, level, callsite, clock::now());
    // The thread-local is borrowed only for moments in which no user code runs, and never
    // with `borrow_mut`: a record logged while it is borrowed all the same (from code that a
    // waker, a `Display` impl or a destructor runs somewhere below) goes through a ring of its
    // own, as from a thread that is exiting, instead of panicking.
    let done = LOCAL.try_with(|cell| {
        let formatting = needs_formatting(values);
        // Take the scratch out while user Display/Debug code runs, so a record logged from
        // inside a Display impl finds the thread-local free.
        let mut scratch = if formatting {
            cell.try_borrow_mut()
                .ok()
                .map(|mut local| std::mem::take(&mut local.scratch))
        } else {
            None
        };
        let taken = scratch.is_some();
        let scratch = scratch.get_or_insert_with(Scratch::default);
        let len = encode::prepare(values, scratch);
        let pending = if formatting && shared.is_closed() {
            // Shutdown began while user code formatted the values.
            count_shutdown_drop(shared);
            None
        } else {
            let record = Record {
                len,
                header,
                values,
                scratch,
            };
            let pending = match cell.try_borrow_mut() {
                Ok(mut local) => enqueue(&mut local, shared, &record, wait),
                Err(_) => {
                    push_one_off(shared, &record);
                    None
                }
            };
            pending
        };
        if taken {
            if let Ok(mut local) = cell.try_borrow_mut() {
                local.scratch = std::mem::take(scratch);
            }
        }
        release_retired(cell);
        pending
    });
    match done {
        Ok(pending) => pending,
        Err(_) => {
            // The thread is exiting and its thread-local is gone: a thread-local destructor
            // that runs after kolog's own is logging.
            enqueue_one_off(shared, header, values);
            None
        }
    }
}

/// Publishes one record through a ring of its own, for a thread whose ring is gone (it is
/// exiting, and this runs in a thread-local destructor that outlived kolog's). The ring is
/// abandoned at once: the drainer merges its record in timestamp order with the rest, after the
/// thread's earlier records, and then frees it. The cost (a small mapping per record) is paid
/// only on this path.
#[cold]
#[inline(never)]
fn enqueue_one_off(shared: &Shared, header: Header, values: &[FieldValue<'_>]) {
    let mut scratch = Scratch::default();
    let len = encode::prepare(values, &mut scratch);
    if shared.is_closed() {
        count_shutdown_drop(shared);
        return;
    }
    let record = Record {
        len,
        header,
        values,
        scratch: &scratch,
    };
    push_one_off(shared, &record);
}

/// Publishes `record` through a ring of its own (see [`enqueue_one_off`]): for a thread whose
/// ring is gone, or cannot be reached because its thread-local is borrowed (code run below a
/// producer of this thread is logging). Never waits: the ring is empty.
#[cold]
#[inline(never)]
fn push_one_off(shared: &Shared, record: &Record<'_, '_>) {
    push_bytes_one_off(shared, record.len, |dst| {
        encode::write(dst, &record.header, record.values, record.scratch)
    });
}

/// Publishes a record of `len` bytes, written by `fill`, through a ring of its own.
#[cold]
fn push_bytes_one_off(shared: &Shared, len: usize, fill: impl FnOnce(&mut [u8])) {
    let mut producer = one_off_producer(shared, len);
    match producer.push(len, fill) {
        Ok(()) => {}
        Err(PushError::TooLarge) => producer.count_dropped_oversize(),
        // An empty ring with room for the record.
        Err(PushError::Full) => producer.count_dropped_full(),
    }
}

/// A fresh ring for one record of `len` bytes, registered with `shared` and abandoned when
/// the producer is dropped: the drainer merges its record in timestamp order with the rest,
/// then frees it. A record that fits the smallest ring gets one; a larger one gets the
/// configured size, so that what is too large for a thread's ring is counted as such here too.
fn one_off_producer(shared: &Shared, len: usize) -> Producer {
    let bytes = if len + 16 <= MIN_RING_BYTES {
        MIN_RING_BYTES
    } else {
        shared.ring_bytes
    };
    let (producer, consumer) = Ring::with_capacity_at_most(bytes);
    shared.registry.register(consumer);
    producer
}

/// Drops, with the thread-local no longer borrowed, the entries [`Local::register`] retired
/// (dropping one may free a ring, and with it wakers whose drop runs user code).
#[inline]
fn release_retired(cell: &RefCell<Local>) {
    let retired = match cell.try_borrow_mut() {
        Ok(mut local) if !local.retired.is_empty() => std::mem::take(&mut local.retired),
        _ => return,
    };
    drop(retired);
}

#[inline]
fn needs_formatting(values: &[FieldValue<'_>]) -> bool {
    values.iter().any(|v| {
        matches!(
            v,
            FieldValue::Display(_) | FieldValue::Debug(_) | FieldValue::Error(..)
        )
    })
}

/// Counts a record that cannot be encoded at all (more values than a record holds) as
/// dropped for its size, like one larger than the ring.
#[cold]
pub(crate) fn count_oversize(inner: &LoggerInner) {
    let shared = &inner.shared;
    if shared.is_closed() {
        return count_shutdown_drop(shared);
    }
    let counted = LOCAL.try_with(|cell| {
        let counted = match cell.try_borrow_mut() {
            Ok(mut local) => {
                local.producer(shared).count_dropped_oversize();
                true
            }
            Err(_) => false,
        };
        release_retired(cell);
        counted
    });
    if counted != Ok(true) {
        // The thread-local is gone (the thread is exiting) or borrowed (code run below a
        // producer of this thread is logging), as in `encode_and_enqueue`: counted in a ring of
        // its own.
        one_off_producer(shared, 0).count_dropped_oversize();
    }
}

#[cold]
fn count_shutdown_drop(shared: &Shared) {
    shared
        .counters
        .dropped_shutdown
        .fetch_add(1, Ordering::Relaxed);
}

/// A record ready to be written into a ring.
struct Record<'r, 'v> {
    len: usize,
    header: Header,
    values: &'r [FieldValue<'v>],
    scratch: &'r Scratch,
}

impl Record<'_, '_> {
    #[inline]
    fn push(&self, producer: &mut Producer) -> Result<(), PushError> {
        producer.push(self.len, |dst| {
            encode::write(dst, &self.header, self.values, self.scratch)
        })
    }

    fn to_vec(&self) -> Vec<u8> {
        let mut v = vec![0; self.len];
        encode::write(&mut v, &self.header, self.values, self.scratch);
        v
    }
}

#[inline]
fn enqueue(
    local: &mut Local,
    shared: &Arc<Shared>,
    record: &Record<'_, '_>,
    wait: Wait,
) -> Option<Vec<u8>> {
    let producer = local.producer(shared);
    match record.push(producer) {
        Ok(()) => None,
        Err(PushError::TooLarge) => {
            producer.count_dropped_oversize();
            None
        }
        Err(PushError::Full) => full(producer, shared, record, wait),
    }
}

#[cold]
#[inline(never)]
fn full(
    producer: &mut Producer,
    shared: &Shared,
    record: &Record<'_, '_>,
    wait: Wait,
) -> Option<Vec<u8>> {
    let record = &mut Record { ..*record };
    match shared.policy {
        BackpressurePolicy::Drop => producer.count_dropped_full(),
        BackpressurePolicy::DropOldest => retry(producer, record, |p, attempt| {
            if shared.is_closed() {
                count_shutdown_drop(shared);
                return false;
            }
            // Fails only while the drainer copies a bounded run out (microseconds).
            if !p.evict_oldest() && attempt > 64 {
                std::thread::yield_now();
            }
            true
        }),
        // Code the drainer runs (a custom processor) that logs into a full ring would wait for
        // the drainer, that is for itself: the record is dropped and counted instead. (An
        // async record from any drainer thread too: nothing there can wait for its future.)
        BackpressurePolicy::Block
            if crate::drain::drainer_of(shared)
                || (wait == Wait::Return && crate::drain::on_drainer_thread()) =>
        {
            producer.count_dropped_full()
        }
        BackpressurePolicy::Block if wait == Wait::Return => return Some(record.to_vec()),
        BackpressurePolicy::Block => {
            let len = record.len;
            // On another system's drainer: it waits as any producer does, unless this system's
            // drainer waits (through others) for that one (see `drain::wait`).
            let drainer_wait = crate::drain::wait::DrainerWait::begin(shared);
            retry(producer, record, |p, attempt| {
                if shared.is_closed() {
                    count_shutdown_drop(shared);
                    return false;
                }
                if attempt >= 32 && drainer_wait.as_ref().is_some_and(|w| w.deadlocked()) {
                    p.count_dropped_full();
                    return false;
                }
                wait_for_space(p, shared, len, attempt);
                true
            })
        }
    }
    None
}

/// Pushes `record`, calling `make_room` between attempts until it fits, is too large for the
/// ring (counted), or `make_room` gives up.
///
/// Each attempt stamps the record with the time it is made: a record that waited for room
/// (a parked producer) is published with the time it entered the ring, not the time it was
/// first tried, so it cannot come out behind records other threads logged while it waited
/// with an earlier timestamp than theirs (the drainer merges rings by timestamp, and each
/// ring's records must be in timestamp order).
fn retry(
    producer: &mut Producer,
    record: &mut Record<'_, '_>,
    mut make_room: impl FnMut(&mut Producer, u32) -> bool,
) {
    let mut attempt = 0u32;
    loop {
        record.header.timestamp = clock::now();
        match record.push(producer) {
            Ok(()) => return,
            Err(PushError::TooLarge) => return producer.count_dropped_oversize(),
            Err(PushError::Full) => {}
        }
        if !make_room(producer, attempt) {
            return;
        }
        attempt = attempt.saturating_add(1);
    }
}

/// Bounded spin, then yield, then park until the drainer frees space (with a timeout as a
/// safety net against a lost wake-up).
fn wait_for_space(producer: &mut Producer, shared: &Shared, len: usize, attempt: u32) {
    if attempt < 32 {
        std::hint::spin_loop();
    } else if attempt < 48 {
        std::thread::yield_now();
    } else if !shared.orphaned_by_fork() {
        // (In a forked child nothing would free space: the system is closed there, and the
        // caller's next check counts the record as dropped.) A thread handle already
        // registered is dropped here: no user code.
        drop(
            producer
                .ring()
                .register_waiter(Waiter::Thread(std::thread::current())),
        );
        shared.wake_drainer();
        if !producer.has_room(len) {
            std::thread::park_timeout(Duration::from_millis(1));
        }
    }
}

/// Publishes an already-encoded record from an [`EnqueueFuture`]: `Ready` once it is in this
/// thread's ring (or counted as dropped), `Pending` with the waker registered when full.
/// Each attempt stamps the record with the time it is made, as [`retry`] does: the future may
/// have waited, and may be polled on another thread, whose ring must stay in timestamp order.
pub(crate) fn poll_enqueue(
    inner: &LoggerInner,
    bytes: &mut [u8],
    cx: &mut Context<'_>,
) -> Poll<()> {
    let shared = &inner.shared;
    if shared.is_closed() {
        count_shutdown_drop(shared);
        return Poll::Ready(());
    }
    // The waker is cloned, and a clone the ring did not need dropped, with the thread-local
    // free: both run the executor's code, which may log.
    let mut waiter = None;
    loop {
        let attempt = LOCAL.try_with(|cell| {
            let Ok(mut local) = cell.try_borrow_mut() else {
                return Attempt::Busy;
            };
            let producer = local.producer(shared);
            encode::restamp(bytes, clock::now());
            match producer.push(bytes.len(), |dst| dst.copy_from_slice(bytes)) {
                Ok(()) => return Attempt::Done(None),
                Err(PushError::TooLarge) => {
                    producer.count_dropped_oversize();
                    return Attempt::Done(None);
                }
                Err(PushError::Full) => {}
            }
            if crate::drain::on_drainer_thread() {
                // As in `full`: the drainer cannot wait for itself.
                producer.count_dropped_full();
                return Attempt::Done(None);
            }
            // In a forked child no drainer will ever free room, and the ring's waiter lock may
            // have been held by a thread of the parent at the fork (cold: the ring is full).
            if shared.orphaned_by_fork() {
                count_shutdown_drop(shared);
                return Attempt::Done(None);
            }
            let Some(waiter) = waiter.take() else {
                return Attempt::NeedWaker;
            };
            #[cfg(test)]
            if let Some(hook) = BEFORE_REGISTER.with(|h| h.borrow_mut().take()) {
                hook();
            }
            let unused = producer.ring().register_waiter(waiter);
            // Checked again once registered: a drainer that crashed since the check above
            // woke the waiters it could see, not this one, and will never free room.
            // (`register_waiter` ends with a SeqCst fence; `drainer_crashed` stores `closed`
            // SeqCst before it wakes them.)
            if shared.is_closed() {
                count_shutdown_drop(shared);
                return Attempt::Done(unused);
            }
            shared.wake_drainer();
            if producer.has_room(bytes.len()) {
                Attempt::Retry(unused)
            } else {
                Attempt::Pending(unused)
            }
        });
        let _ = LOCAL.try_with(release_retired);
        match attempt {
            Ok(Attempt::Done(unused)) => {
                drop(unused);
                return Poll::Ready(());
            }
            Ok(Attempt::Pending(unused)) => {
                drop(unused);
                return Poll::Pending;
            }
            Ok(Attempt::Retry(unused)) => drop(unused),
            Ok(Attempt::NeedWaker) => waiter = Some(Waiter::Task(cx.waker().clone())),
            // This thread's ring cannot be reached: the thread is exiting and its thread-local
            // is gone (a thread-local destructor that outlived kolog's is awaiting), or it is
            // borrowed (code run below a producer of this thread is awaiting). The record goes
            // through a ring of its own, which is empty: it never waits.
            Ok(Attempt::Busy) | Err(_) => {
                encode::restamp(bytes, clock::now());
                push_bytes_one_off(shared, bytes.len(), |dst| dst.copy_from_slice(bytes));
                return Poll::Ready(());
            }
        }
    }
}

/// What one attempt of [`poll_enqueue`] came to; the waiter the ring did not keep (it had one
/// that wakes the same task) is returned, to be dropped with the thread-local free.
enum Attempt {
    /// Published, or counted as dropped.
    Done(Option<Waiter>),
    /// The ring is full: a clone of the waker is needed to register.
    NeedWaker,
    /// Registered, and the ring is still full.
    Pending(Option<Waiter>),
    /// Registered, and room appeared meanwhile: try again.
    Retry(Option<Waiter>),
    /// The thread-local is borrowed.
    Busy,
}

#[cfg(test)]
thread_local! {
    /// Run by [`poll_enqueue`] on this thread, once, just before it registers its waker (tests
    /// of what happens in between).
    pub(crate) static BEFORE_REGISTER: RefCell<Option<Box<dyn FnOnce()>>> = const { RefCell::new(None) };
}

/// Publishes `payload` into this thread's ring for `shared` without the `closed` check: what
/// a producer that passed the check just before shutdown does.
#[cfg(test)]
pub(crate) fn push_unchecked(shared: &Arc<Shared>, payload: &[u8]) {
    LOCAL.with(|cell| {
        let mut local = cell.borrow_mut();
        let producer = local.producer(shared);
        producer
            .push(payload.len(), |dst| dst.copy_from_slice(payload))
            .expect("room in the ring");
    });
}
