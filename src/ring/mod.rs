//! Per-thread SPSC byte rings and their registry.
//!
//! A [`Ring`] holds variable-length records in a power-of-two byte buffer. Each record sits in
//! a slot: an 8-byte header (`u32` payload length, `u32` tag) then the payload, padded to a
//! multiple of 8. A record that does not fit before the end of the buffer is preceded by a
//! padding slot that fills the rest, so every payload is contiguous.
//!
//! The producer side ([`Producer`]) and the consumer side ([`Consumer`]) are separate handles:
//! neither is `Clone`, both are `Send` but not `Sync`, so each index has exactly one writer.
//! Each side keeps a cached copy of the other side's index and reloads it only when the ring
//! looks full (producer) or empty (consumer), as in rtrb and crossbeam's `ArrayQueue`.
//!
//! Under `drop_oldest` the producer may also advance `tail`, discarding the oldest records.
//! Then the consumer reads differently: it sets the `READING` bit (bit 0 of `tail`; slot
//! positions are multiples of 8) with a CAS, copies a bounded run of records out, and stores
//! the new tail, clearing the bit. The producer evicts only with a CAS from a tail without the
//! bit, so it never frees bytes the consumer is copying; it waits at most for one bounded copy.

#[cfg(all(unix, not(loom)))]
pub(crate) mod fork_guard;
#[cfg(not(all(unix, not(loom))))]
pub(crate) mod fork_guard {
    //! No `fork()` here (or under loom): nothing to guard.
    pub(crate) struct Section;
    pub(crate) fn section() -> Section {
        Section
    }
    pub(crate) fn install() {}
}
pub(crate) mod registry;
pub(crate) mod sync;

use std::alloc::{self, Layout};
use std::cell::Cell;
use std::marker::PhantomData;
use std::ptr::NonNull;

use crossbeam_utils::CachePadded;

use self::sync::{fence, Arc, AtomicBool, AtomicU64, AtomicUsize, Mutex, Ordering};

const SLOT_HEADER: usize = 8;
const TAG_RECORD: u32 = 1;
const TAG_PAD: u32 = 2;
/// Bit of `tail` set while the consumer copies records out (drop-oldest mode).
const READING: usize = 1;
/// Bytes the consumer copies out per claim in drop-oldest mode.
const CLAIM_BYTES: usize = 64 * 1024;

/// The records [`Consumer::claim_copied`] appended to a buffer, in order.
pub(crate) fn copied_records(mut copy: &[u8]) -> impl Iterator<Item = &[u8]> {
    std::iter::from_fn(move || {
        let len = u32::from_le_bytes(copy.get(..4)?.try_into().ok()?) as usize;
        let (record, rest) = copy[4..].split_at(len);
        copy = rest;
        Some(record)
    })
}
/// Smallest ring, in bytes.
pub(crate) const MIN_RING_BYTES: usize = 4096;
/// Bytes per record assumed when sizing a ring from `max_queue_size`.
pub(crate) const TYPICAL_RECORD_BYTES: usize = 128;

/// The ring size for a `max_queue_size`: `next_power_of_two(max(n * 128, 4096))`.
pub(crate) fn ring_bytes(max_queue_size: usize) -> usize {
    max_queue_size
        .saturating_mul(TYPICAL_RECORD_BYTES)
        .clamp(MIN_RING_BYTES, 1 << 30)
        .next_power_of_two()
}

/// The slot size of a payload of `len` bytes.
#[inline]
fn slot_len(len: usize) -> usize {
    (SLOT_HEADER + len + 7) & !7
}

/// Who to wake when a full ring gets space.
pub(crate) enum Waiter {
    /// A parked thread.
    Thread(std::thread::Thread),
    /// A pending future (the async front end).
    #[allow(dead_code)]
    Task(std::task::Waker),
}

/// Counters written only by the producer (plain load + store, no read-modify-write).
#[derive(Default)]
pub(crate) struct ProducerCounters {
    /// Records published.
    pub enqueued: AtomicU64,
    /// Records discarded because the ring was full (`Drop`).
    pub dropped_full: AtomicU64,
    /// Records discarded to make room (`DropOldest`).
    pub dropped_oldest: AtomicU64,
    /// Records larger than the ring.
    pub dropped_oversize: AtomicU64,
}

impl ProducerCounters {
    #[inline]
    fn bump(counter: &AtomicU64) {
        counter.store(counter.load(Ordering::Relaxed) + 1, Ordering::Relaxed);
    }
}

/// The shared part of one ring.
pub(crate) struct Ring {
    /// The start of `map`: every access to the bytes goes through this pointer.
    buf: NonNull<u8>,
    /// Owns the memory (unmapped on drop); used directly only for `madvise`.
    map: memmap2::MmapMut,
    cap: usize,
    /// Next byte the producer writes (monotonic; position is `head & (cap - 1)`).
    head: CachePadded<AtomicUsize>,
    /// Next byte the consumer reads (monotonic).
    tail: CachePadded<AtomicUsize>,
    /// Producer-written counters, on their own cache line.
    pub(crate) counters: CachePadded<ProducerCounters>,
    /// Set when the producer handle is dropped (its thread exited).
    producer_gone: AtomicBool,
    /// Set while a producer waits for space; the consumer wakes `waiter` after freeing space.
    waiting: AtomicBool,
    waiters: Mutex<Vec<Waiter>>,
    /// Records the consumer has taken out (drained, copied out or discarded), written by the
    /// consumer only (plain load + store). With the producer's `enqueued` and `dropped_oldest`
    /// it tells how many published records are still in the ring (see
    /// [`registry::RingTotals`]). Next to `waiting`, which the consumer reads anyway.
    pub(crate) taken: AtomicU64,
}

// SAFETY: the buffer is only accessed through `Producer` (bytes in [tail, tail + cap) not yet
// published) and `Consumer` (bytes in [tail, head)), which never overlap: the producer writes
// only after the consumer released the bytes (tail store with Release / load with Acquire) and
// the consumer reads only after the producer published them (head store Release / load
// Acquire). Everything else in `Ring` is atomics or a mutex.
unsafe impl Send for Ring {}
// SAFETY: as above; shared access goes through atomics and the two single-owner handles.
unsafe impl Sync for Ring {}

impl Ring {
    /// A ring of `cap` bytes (a power of two, at least 64), split into its two handles.
    pub(crate) fn with_capacity(cap: usize) -> (Producer, Consumer) {
        Ring::try_with_capacity(cap)
            .unwrap_or_else(|| alloc::handle_alloc_error(Layout::from_size_align(cap, 64).unwrap()))
    }

    /// A ring of `cap` bytes (a power of two, at least [`MIN_RING_BYTES`]) or, when the system
    /// will not map that much (an address-space limit, strict overcommit), the largest smaller
    /// power of two it will: a thread's first record must not abort the process over the size
    /// of its ring (up to 1 GiB). Only a failure at [`MIN_RING_BYTES`] is an allocation
    /// failure. Says so on stderr, once per process.
    pub(crate) fn with_capacity_at_most(cap: usize) -> (Producer, Consumer) {
        // Outside the loom model: a process-wide flag.
        static REPORTED: std::sync::atomic::AtomicBool = std::sync::atomic::AtomicBool::new(false);
        let mut smaller = cap;
        while smaller > MIN_RING_BYTES {
            if let Some(ring) = Ring::try_with_capacity(smaller) {
                if smaller < cap && !REPORTED.swap(true, std::sync::atomic::Ordering::Relaxed) {
                    crate::error::report(format_args!(
                        "kolog: a ring of {cap} bytes could not be mapped; a thread's ring has {smaller} bytes instead"
                    ));
                }
                return ring;
            }
            smaller /= 2;
        }
        Ring::with_capacity(smaller)
    }

    fn try_with_capacity(cap: usize) -> Option<(Producer, Consumer)> {
        assert!(cap.is_power_of_two() && cap >= 64);
        // An anonymous mapping: zeroed (every byte initialised), page-aligned, and faulted in
        // lazily, so a thread that logs once touches one page. The drainer populates pages
        // ahead of the producer (see `Consumer::prefault`), keeping page faults off the hot
        // path.
        let mut map = memmap2::MmapMut::map_anon(cap).ok()?;
        let buf = NonNull::new(map.as_mut_ptr()).expect("mmap returns a non-null address");
        let ring = Arc::new(Ring {
            buf,
            map,
            cap,
            head: CachePadded::new(AtomicUsize::new(0)),
            tail: CachePadded::new(AtomicUsize::new(0)),
            counters: CachePadded::new(ProducerCounters::default()),
            producer_gone: AtomicBool::new(false),
            taken: AtomicU64::new(0),
            waiting: AtomicBool::new(false),
            waiters: Mutex::new(Vec::new()),
        });
        let producer = Producer {
            ring: ring.clone(),
            head: 0,
            limit: cap,
            cached_tail: 0,
            buf,
            mask: cap - 1,
            enqueued: 0,
            _not_sync: PhantomData,
        };
        let consumer = Consumer {
            ring,
            populated: 0,
            tail: 0,
            head: 0,
            bound: usize::MAX,
            _not_sync: PhantomData,
        };
        Some((producer, consumer))
    }

    /// Whether the producer is gone and every record was consumed: the ring can be freed.
    pub(crate) fn is_abandoned(&self) -> bool {
        self.producer_gone.load(Ordering::Acquire)
            && self.head.load(Ordering::Acquire) == self.tail.load(Ordering::Acquire)
    }

    /// Registers `waiter` to be woken when space is freed. The caller must re-check for space
    /// after this returns, then park or return `Pending`.
    ///
    /// Returns `waiter` when an equivalent one is already registered: the caller drops it,
    /// after releasing whatever it holds (dropping a waker runs the executor's code, which
    /// may log).
    #[must_use = "dropping a waker runs the executor's code: drop it with nothing held"]
    pub(crate) fn register_waiter(&self, waiter: Waiter) -> Option<Waiter> {
        let mut waiters = self.waiters.lock().unwrap_or_else(|e| e.into_inner());
        let known = match &waiter {
            Waiter::Task(w) => waiters
                .iter()
                .any(|x| matches!(x, Waiter::Task(y) if y.will_wake(w))),
            Waiter::Thread(t) => waiters
                .iter()
                .any(|x| matches!(x, Waiter::Thread(y) if y.id() == t.id())),
        };
        let unused = if known {
            Some(waiter)
        } else {
            waiters.push(waiter);
            None
        };
        self.waiting.store(true, Ordering::Relaxed);
        drop(waiters);
        // Pairs with the fence in `wake_waiter`: either the producer's re-check of `tail` after
        // this sees the consumer's release, or the consumer sees `waiting` (store-load fences,
        // as in Dekker's algorithm).
        fence(Ordering::SeqCst);
        unused
    }

    /// Wakes every registered waiter. Called by the consumer after it stored a new tail.
    pub(crate) fn wake_waiter(&self) {
        fence(Ordering::SeqCst);
        if self.waiting.load(Ordering::Relaxed) && self.waiting.swap(false, Ordering::AcqRel) {
            let waiters =
                std::mem::take(&mut *self.waiters.lock().unwrap_or_else(|e| e.into_inner()));
            for w in waiters {
                match w {
                    Waiter::Thread(t) => t.unpark(),
                    Waiter::Task(w) => w.wake(),
                }
            }
        }
    }

    #[inline(always)]
    fn slot_ptr(&self, pos: usize) -> *mut u8 {
        debug_assert!(pos < self.cap);
        // SAFETY: `pos < cap`, so the result stays inside the allocation.
        unsafe { self.buf.as_ptr().add(pos) }
    }

    /// The payload of the record slot at `pos`.
    ///
    /// # Safety
    ///
    /// The caller must own the slot for the lifetime of the slice: the consumer after an
    /// Acquire load of `head` showed it published and before it stores a `tail` past it (or
    /// while it holds the `READING` claim), so the producer cannot write it meanwhile.
    unsafe fn payload(&self, pos: usize, len: usize) -> &[u8] {
        debug_assert!(pos + SLOT_HEADER + len <= self.cap);
        // SAFETY: in bounds (slots never straddle the end), and unaliased by writes per the
        // caller's contract.
        unsafe { std::slice::from_raw_parts(self.slot_ptr(pos).add(SLOT_HEADER), len) }
    }

    #[inline(always)]
    fn write_slot_header(&self, pos: usize, len: usize, tag: u32) {
        let mut h = [0u8; SLOT_HEADER];
        h[..4].copy_from_slice(&(len as u32).to_le_bytes());
        h[4..].copy_from_slice(&tag.to_le_bytes());
        // SAFETY: `pos` is 8-aligned and `pos + 8 <= cap` (slots never straddle the end), and
        // the producer owns these bytes (see `Producer::push`).
        unsafe { std::ptr::copy_nonoverlapping(h.as_ptr(), self.slot_ptr(pos), SLOT_HEADER) };
    }

    fn read_slot_header(&self, pos: usize) -> (usize, u32) {
        let mut h = [0u8; SLOT_HEADER];
        // SAFETY: as in `write_slot_header`; the caller owns these bytes (consumer: published
        // and not yet released).
        unsafe { std::ptr::copy_nonoverlapping(self.slot_ptr(pos), h.as_mut_ptr(), SLOT_HEADER) };
        let len = u32::from_le_bytes(h[..4].try_into().unwrap()) as usize;
        let tag = u32::from_le_bytes(h[4..].try_into().unwrap());
        (len, tag)
    }
}

/// Why a push did not happen.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum PushError {
    /// Not enough free space now.
    Full,
    /// The record can never fit in this ring.
    TooLarge,
}

/// The producing end of a ring. Owned by one thread (its thread-local), `Send` but not `Sync`.
pub(crate) struct Producer {
    ring: Arc<Ring>,
    head: usize,
    /// A push with `head + slot <= limit` needs no other check: the smaller of the cached
    /// tail + capacity (free space) and the next wrap boundary (no slot straddles the end).
    limit: usize,
    cached_tail: usize,
    /// Copies of the ring's buffer address and `cap - 1`, next to `head` and `limit`.
    buf: NonNull<u8>,
    mask: usize,
    /// Records published; the ring's `enqueued` counter is a copy, stored (never loaded) on
    /// each publish so the hot path does not read a line the drainer may hold.
    enqueued: u64,
    _not_sync: PhantomData<Cell<()>>,
}

// SAFETY: `buf` is a copy of the ring's buffer address, which the `Arc<Ring>` in the same
// struct keeps mapped; the producer writes only the bytes it owns (see `push`), from whichever
// single thread holds it. `Producer` stays !Sync (`_not_sync`).
unsafe impl Send for Producer {}

impl Producer {
    /// The shared ring.
    pub(crate) fn ring(&self) -> &Arc<Ring> {
        &self.ring
    }

    /// [`Producer::push`] when it needs no other check than one comparison (the slot is free
    /// per the cached tail and does not wrap); returns false, writing nothing, otherwise. The
    /// hot path calls this and leaves the rest to its general path, so `fill` is only ever
    /// inlined here and never handed to an out-of-line function.
    #[inline(always)]
    pub(crate) fn push_fast(&mut self, len: usize, fill: impl FnOnce(&mut [u8])) -> bool {
        let slot = slot_len(len);
        let head = self.head;
        if head + slot > self.limit {
            return false;
        }
        // SAFETY: `head + slot <= limit`, so the slot is free (limit <= cached tail + cap, and
        // the cached tail came from an Acquire load of the consumer's tail) and contiguous
        // (limit <= the next wrap boundary).
        unsafe { self.publish(head & self.mask, head + slot, len, fill) };
        true
    }

    /// Writes the slot header and payload at `pos` and publishes `new_head`.
    ///
    /// # Safety
    ///
    /// `[pos, pos + slot_len(len))` lies inside the buffer and is free: released by the
    /// consumer and not yet published.
    #[inline(always)]
    unsafe fn publish(
        &mut self,
        pos: usize,
        new_head: usize,
        len: usize,
        fill: impl FnOnce(&mut [u8]),
    ) {
        let ring = &*self.ring;
        let mut h = [0u8; SLOT_HEADER];
        h[..4].copy_from_slice(&(len as u32).to_le_bytes());
        h[4..].copy_from_slice(&TAG_RECORD.to_le_bytes());
        // SAFETY: per the caller, the slot is inside the buffer and owned by the producer;
        // `buf` is the ring's buffer; the consumer will not read these bytes before the Release
        // store of head below.
        let payload = unsafe {
            let slot = self.buf.as_ptr().add(pos);
            std::ptr::copy_nonoverlapping(h.as_ptr(), slot, SLOT_HEADER);
            std::slice::from_raw_parts_mut(slot.add(SLOT_HEADER), len)
        };
        fill(payload);
        self.head = new_head;
        // Counted before it is published: a record the drainer can see (and count as written)
        // is already in `enqueued`, so `stats()` never shows more outcomes than records.
        self.enqueued += 1;
        ring.counters
            .enqueued
            .store(self.enqueued, Ordering::Relaxed);
        ring.head.store(new_head, Ordering::Release);
    }

    /// Recomputes `limit` after `head` or `cached_tail` moved.
    fn refresh_limit(&mut self) {
        let cap = self.mask + 1;
        let boundary = (self.head & !self.mask) + cap;
        self.limit = (self.cached_tail + cap).min(boundary);
    }

    /// Reserves a slot for a payload of exactly `len` bytes, lets `fill` write it, and
    /// publishes it: reloads the consumer's tail when the cached one shows too little room, and
    /// wraps to the start (padding the end) when the slot would straddle it.
    ///
    /// A slot that does not fit before the end goes at the start of the next lap whatever
    /// happens, so the padding is published on its own as soon as its bytes are free. Requiring
    /// room for the padding and the slot at once would refuse for good a slot larger than both
    /// the space before the end and the space after the start (over half the ring) even in an
    /// empty ring; this way any slot up to the ring's size goes in once the consumer is past
    /// the padding.
    pub(crate) fn push(
        &mut self,
        len: usize,
        fill: impl FnOnce(&mut [u8]),
    ) -> Result<(), PushError> {
        let cap = self.mask + 1;
        let slot = slot_len(len);
        if slot > cap {
            return Err(PushError::TooLarge);
        }
        let mut pos = self.head & self.mask;
        if slot > cap - pos {
            if !self.room_for(cap - pos) {
                return Err(PushError::Full);
            }
            self.pad_to_end(pos);
            pos = 0;
        }
        if !self.room_for(slot) {
            return Err(PushError::Full);
        }
        // SAFETY: `pos + slot <= cap` (either `slot <= cap - pos`, or `pos` is 0 and
        // `slot <= cap`), and `room_for` saw the slot's bytes free in an Acquire load of tail.
        unsafe { self.publish(pos, self.head + slot, len, fill) };
        self.refresh_limit();
        Ok(())
    }

    /// Whether `need` bytes from `head` on are free, reloading the consumer's tail only when
    /// the cached one shows too little room.
    fn room_for(&mut self, need: usize) -> bool {
        let cap = self.mask + 1;
        if cap - (self.head - self.cached_tail) >= need {
            return true;
        }
        self.cached_tail = self.ring.tail.load(Ordering::Acquire) & !READING;
        self.refresh_limit();
        cap - (self.head - self.cached_tail) >= need
    }

    /// Publishes padding from `pos` (free, per `room_for`) to the end of the buffer.
    fn pad_to_end(&mut self, pos: usize) {
        let to_end = self.mask + 1 - pos;
        self.ring
            .write_slot_header(pos, to_end - SLOT_HEADER, TAG_PAD);
        self.head += to_end;
        self.ring.head.store(self.head, Ordering::Release);
        self.refresh_limit();
    }

    /// Whether [`Producer::push`] of a payload of `len` bytes can make progress now (reloads
    /// the consumer's index): the slot fits, or it must wrap and the padding before it fits.
    pub(crate) fn has_room(&mut self, len: usize) -> bool {
        let to_end = self.mask + 1 - (self.head & self.mask);
        self.room_for(slot_len(len).min(to_end))
    }

    /// Drop-oldest: discards the oldest unconsumed slot. Returns false when it could not (the
    /// consumer is copying records out, or the ring is empty); the caller retries.
    pub(crate) fn evict_oldest(&mut self) -> bool {
        let ring = &*self.ring;
        let tail = ring.tail.load(Ordering::Acquire);
        if tail & READING != 0 {
            std::hint::spin_loop();
            return false;
        }
        if tail == self.head {
            return false;
        }
        // The slot at `tail` was written by this producer and published; the consumer only
        // reads it after claiming with the CAS below failing for us, and nobody writes it.
        let (len, tag) = ring.read_slot_header(tail & (ring.cap - 1));
        let next = tail + slot_len(len);
        if ring
            .tail
            .compare_exchange(tail, next, Ordering::AcqRel, Ordering::Relaxed)
            .is_err()
        {
            return false;
        }
        if tag == TAG_RECORD {
            ProducerCounters::bump(&ring.counters.dropped_oldest);
        }
        self.cached_tail = next;
        self.refresh_limit();
        true
    }

    /// Counts a record discarded because the ring was full.
    pub(crate) fn count_dropped_full(&self) {
        ProducerCounters::bump(&self.ring.counters.dropped_full);
    }

    /// Counts a record that can never fit.
    pub(crate) fn count_dropped_oversize(&self) {
        ProducerCounters::bump(&self.ring.counters.dropped_oversize);
    }
}

impl Drop for Producer {
    fn drop(&mut self) {
        self.ring.producer_gone.store(true, Ordering::Release);
    }
}

/// The consuming end of a ring, owned by the drainer.
pub(crate) struct Consumer {
    ring: Arc<Ring>,
    /// Bytes of the buffer, from its start, already populated for writing.
    populated: usize,
    tail: usize,
    /// The producer's head as of the last [`Consumer::snapshot`].
    head: usize,
    /// How far the consumer reads (`usize::MAX`: everything published); see
    /// [`Consumer::bound_at_head`].
    bound: usize,
    _not_sync: PhantomData<Cell<()>>,
}

/// How far ahead of the producer's head the consumer populates the ring's pages.
const PREFAULT_AHEAD: usize = 256 * 1024;

/// The least the consumer populates in one call.
const PREFAULT_MIN_STEP: usize = 16 * 1024;

/// How often (in bytes consumed) the consumer releases space while draining a long run.
const RELEASE_EVERY: usize = 64 * 1024;

impl Consumer {
    /// The shared ring.
    pub(crate) fn ring(&self) -> &Arc<Ring> {
        &self.ring
    }

    /// Reads the producer's head: the records published so far (up to the bound, if set) are
    /// what [`Consumer::next_key`] and [`Consumer::drain_while`] see until the next snapshot.
    pub(crate) fn snapshot(&mut self) {
        self.head = self.ring.head.load(Ordering::Acquire).min(self.bound);
    }

    /// From now on reads only the records published so far (unless a bound is set already):
    /// the final drain takes what was published when it began, not what a producer that
    /// goes on logging keeps adding. Head positions only grow and each is a slot boundary,
    /// so the bound is one too.
    pub(crate) fn bound_at_head(&mut self) {
        if self.bound == usize::MAX {
            self.bound = self.ring.head.load(Ordering::Acquire);
        }
    }

    /// Reads everything published again (undoes [`Consumer::bound_at_head`]).
    pub(crate) fn unbound(&mut self) {
        self.bound = usize::MAX;
    }

    /// Populates the pages the producer will write next, so it does not take a page fault per
    /// 4 KiB on the hot path. The look-ahead grows with what the producer has written, up to
    /// [`PREFAULT_AHEAD`] bytes past its head: a thread that logs a few records and exits costs
    /// the page it touched, not a populated look-ahead (100 threads a millisecond would
    /// otherwise have the drainer zero megabytes for them). After the producer's first lap the
    /// whole ring is resident and this does nothing. Best effort: without
    /// `MADV_POPULATE_WRITE` (Linux < 5.14, other systems) pages fault in on first write as
    /// usual.
    pub(crate) fn prefault(&mut self) {
        let cap = self.ring.cap;
        if self.populated >= cap {
            return;
        }
        let head = self.ring.head.load(Ordering::Relaxed);
        let ahead = head.min(PREFAULT_AHEAD);
        let want = head.saturating_add(ahead).min(cap);
        // In steps of a quarter of the look-ahead, and at least `PREFAULT_MIN_STEP`: one system
        // call per 64 KiB written once the look-ahead is full.
        if want < cap && want < self.populated + (ahead / 4).max(PREFAULT_MIN_STEP) {
            return;
        }
        #[cfg(target_os = "linux")]
        {
            let start = self.populated;
            // Populating never changes the bytes (the pages are zero or already written), so
            // it is sound while the producer writes the same range.
            if self
                .ring
                .map
                .advise_range(memmap2::Advice::PopulateWrite, start, want - start)
                .is_err()
            {
                // Unsupported here: stop trying.
                self.populated = cap;
                return;
            }
        }
        self.populated = want;
    }

    /// Skips padding and returns `key` of the next record of the snapshot, if any. Padding
    /// it skips is released at once: a producer may be waiting for the space behind it (a
    /// slot too large for the end of the lap is published after its padding, see
    /// [`Producer::push`]), and no record follows to release it with.
    ///
    /// Not for drop-oldest rings, whose tail the producer moves too (see
    /// [`Consumer::drain_copied`]).
    pub(crate) fn next_key(&mut self, key: impl Fn(&[u8]) -> u64) -> Option<u64> {
        let ring = &*self.ring;
        let start = self.tail;
        let mut found = None;
        while self.tail != self.head {
            let pos = self.tail & (ring.cap - 1);
            let (len, tag) = ring.read_slot_header(pos);
            if tag == TAG_RECORD {
                // SAFETY: published (snapshot's Acquire load of head) and not yet released.
                let payload = unsafe { ring.payload(pos, len) };
                found = Some(key(payload));
                break;
            }
            self.tail += slot_len(len);
        }
        if self.tail != start {
            ring.tail.store(self.tail, Ordering::Release);
            ring.wake_waiter();
        }
        found
    }

    /// Counts `n` records taken out of the ring.
    #[inline]
    fn count_taken(&self, n: usize) {
        if n > 0 {
            let taken = &self.ring.taken;
            taken.store(taken.load(Ordering::Relaxed) + n as u64, Ordering::Relaxed);
        }
    }

    /// Calls `f` with each record of the snapshot, in order, while `key(record) <= limit`;
    /// releases the space as it goes. Returns the number of records.
    pub(crate) fn drain_while(
        &mut self,
        limit: u64,
        key: impl Fn(&[u8]) -> u64,
        mut f: impl FnMut(&[u8]),
    ) -> usize {
        let ring = &*self.ring;
        let mut released = self.tail;
        let mut n = 0;
        while self.tail != self.head {
            let pos = self.tail & (ring.cap - 1);
            let (len, tag) = ring.read_slot_header(pos);
            if tag == TAG_RECORD {
                // SAFETY: [pos + 8, pos + 8 + len) was published (snapshot's Acquire load of
                // head) and is not released until a tail store below, so the producer does not
                // write it while this shared slice lives.
                let payload = unsafe { ring.payload(pos, len) };
                if key(payload) > limit {
                    break;
                }
                f(payload);
                n += 1;
            }
            self.tail += slot_len(len);
            if self.tail - released >= RELEASE_EVERY {
                ring.tail.store(self.tail, Ordering::Release);
                released = self.tail;
                ring.wake_waiter();
            }
        }
        if released != self.tail {
            ring.tail.store(self.tail, Ordering::Release);
            ring.wake_waiter();
        }
        self.count_taken(n);
        n
    }

    /// Calls `f` with the payload of every record published so far, in order, releasing the
    /// space as it goes. Returns the number of records.
    #[cfg(test)]
    pub(crate) fn drain(&mut self, f: impl FnMut(&[u8])) -> usize {
        self.snapshot();
        self.drain_while(u64::MAX, |_| 0, f)
    }

    /// Drop-oldest mode: like [`Consumer::drain`], but a run at a time through
    /// [`Consumer::claim_copied`], so the producer may evict records concurrently.
    pub(crate) fn drain_copied(&mut self, copy: &mut Vec<u8>, mut f: impl FnMut(&[u8])) -> usize {
        let mut n = 0;
        loop {
            copy.clear();
            let more = self.claim_copied(copy, u64::MAX, |_| 0);
            for payload in copied_records(copy) {
                f(payload);
                n += 1;
            }
            if !more {
                return n;
            }
        }
    }

    /// Drop-oldest mode: claims the next run of records with `key(record) <= limit` (at most
    /// 64 KiB, or one record) with the `READING` bit, appends them to `copy` as
    /// ([`copied_records`]) and releases their space, so the producer may evict records
    /// concurrently. Returns whether the ring may hold more such records (false: it was empty,
    /// or the next record is past `limit`).
    pub(crate) fn claim_copied(
        &mut self,
        copy: &mut Vec<u8>,
        limit: u64,
        key: impl Fn(&[u8]) -> u64,
    ) -> bool {
        let ring = &*self.ring;
        let more = loop {
            // Without `READING`: only this consumer sets it, and clears it before returning.
            let tail = ring.tail.load(Ordering::Acquire);
            // Up to the bound, which the producer's evictions may have moved `tail` past.
            let head = ring.head.load(Ordering::Acquire).min(self.bound);
            if tail >= head {
                break false;
            }
            if ring
                .tail
                .compare_exchange(tail, tail | READING, Ordering::AcqRel, Ordering::Relaxed)
                .is_err()
            {
                continue; // the producer evicted a record; look again
            }
            let mut t = tail;
            let mut reached = false;
            let mut n = 0;
            while t != head && t - tail < CLAIM_BYTES {
                let pos = t & (ring.cap - 1);
                let (len, tag) = ring.read_slot_header(pos);
                if tag == TAG_RECORD {
                    // SAFETY: published (Acquire load of head) and claimed (READING set, so the
                    // producer neither evicts nor overwrites it) until the store below.
                    let payload = unsafe { ring.payload(pos, len) };
                    if key(payload) > limit {
                        reached = true;
                        break;
                    }
                    copy.extend_from_slice(&(len as u32).to_le_bytes());
                    copy.extend_from_slice(payload);
                    n += 1;
                }
                t += slot_len(len);
            }
            ring.tail.store(t, Ordering::Release);
            ring.wake_waiter();
            self.count_taken(n);
            break !reached;
        };
        self.tail = ring.tail.load(Ordering::Acquire) & !READING;
        more
    }
}

#[cfg(all(test, not(loom)))]
mod tests {
    use super::*;

    #[test]
    fn sizes() {
        assert_eq!(ring_bytes(0), 4096);
        assert_eq!(ring_bytes(10_000), 2 * 1024 * 1024);
        assert_eq!(slot_len(0), 8);
        assert_eq!(slot_len(1), 16);
        assert_eq!(slot_len(8), 16);
    }

    #[test]
    fn push_and_drain_in_order_across_wraps() {
        let (mut p, mut c) = Ring::with_capacity(256);
        let mut expected = Vec::new();
        let mut got = Vec::new();
        for i in 0..10_000u32 {
            let len = (i % 37) as usize + 1;
            let payload: Vec<u8> = (0..len).map(|j| (i as usize + j) as u8).collect();
            loop {
                match p.push(len, |b| b.copy_from_slice(&payload)) {
                    Ok(()) => break,
                    Err(PushError::Full) => {
                        c.drain(|b| got.push(b.to_vec()));
                    }
                    Err(PushError::TooLarge) => unreachable!(),
                }
            }
            expected.push(payload);
        }
        c.drain(|b| got.push(b.to_vec()));
        assert_eq!(got, expected);
        assert_eq!(p.ring().counters.enqueued.load(Ordering::Relaxed), 10_000);
    }

    #[test]
    fn prefault_runs_ahead_of_the_producer_and_keeps_the_bytes() {
        let cap = 1 << 20;
        let (mut p, mut c) = Ring::with_capacity(cap);
        // Nothing written, nothing populated.
        c.prefault();
        assert_eq!(c.populated, 0);
        // A thread that logs a few records keeps to the page it touched.
        for i in 0..30u32 {
            p.push(100, |b| b.fill(i as u8)).unwrap();
        }
        assert!(p.head < 4096);
        c.prefault();
        assert_eq!(c.populated, 0);
        // Past half the least step: populated to twice the head (the look-ahead is what the
        // producer has written).
        while p.head < PREFAULT_MIN_STEP / 2 {
            p.push(100, |b| b.fill(7)).unwrap();
        }
        c.prefault();
        assert_eq!(c.populated, 2 * p.head);
        // Less than a step further: no new system call.
        let before = c.populated;
        p.push(100, |b| b.fill(7)).unwrap();
        c.prefault();
        assert_eq!(c.populated, before);
        // Once the producer has written the full look-ahead: head + the look-ahead.
        while p.head < PREFAULT_AHEAD {
            p.push(100, |b| b.fill(7)).unwrap();
        }
        c.prefault();
        assert_eq!(c.populated, p.head + PREFAULT_AHEAD);
        let mut n = 0u32;
        c.drain(|b| {
            let want = if n < 30 { n as u8 } else { 7 };
            assert!(b.iter().all(|&x| x == want));
            n += 1;
        });
        assert!(n > 2000);
        // Near the end of the buffer the rest is populated at once; then nothing is left.
        while p.head < cap - PREFAULT_AHEAD {
            if p.push(1000, |b| b.fill(1)).is_err() {
                c.drain(|_| {});
            }
        }
        c.prefault();
        assert_eq!(c.populated, cap);
    }

    #[test]
    fn fast_push_declines_at_the_wrap_and_at_the_cached_tail() {
        let (mut p, mut c) = Ring::with_capacity(256);
        // 24-byte slots: ten fit before the 256-byte boundary (240), the eleventh would wrap.
        for i in 0..10u8 {
            assert!(p.push_fast(16, |b| b.fill(i)));
        }
        assert!(!p.push_fast(16, |_| unreachable!()));
        assert_eq!(c.drain(|_| {}), 10);
        // The consumer freed everything, but the producer still holds the old tail and is at
        // the end: the checked push reloads, pads the end and wraps.
        assert!(!p.push_fast(16, |_| unreachable!()));
        assert_eq!(p.push(16, |b| b.fill(10)), Ok(()));
        assert_eq!(p.head, 256 + 24);
        // Room again without another check.
        assert!(p.push_fast(16, |b| b.fill(11)));
        let mut got = Vec::new();
        c.drain(|b| got.push(b[0]));
        assert_eq!(got, [10, 11]);
        assert_eq!(p.ring().counters.enqueued.load(Ordering::Relaxed), 12);
    }

    #[test]
    fn a_bound_stops_the_consumer_at_the_head_it_saw_until_lifted() {
        for copied in [false, true] {
            let (mut p, mut c) = Ring::with_capacity(256);
            for i in 0..3u8 {
                p.push(8, |b| b.fill(i)).unwrap();
            }
            c.bound_at_head();
            for i in 3..5u8 {
                p.push(8, |b| b.fill(i)).unwrap();
            }
            // A second call keeps the first bound.
            c.bound_at_head();
            let mut got = Vec::new();
            let mut copy = Vec::new();
            let mut take = |c: &mut Consumer, got: &mut Vec<u8>| {
                if copied {
                    c.drain_copied(&mut copy, |b| got.push(b[0]))
                } else {
                    c.drain(|b| got.push(b[0]))
                }
            };
            assert_eq!(take(&mut c, &mut got), 3);
            assert_eq!(take(&mut c, &mut got), 0);
            c.unbound();
            assert_eq!(take(&mut c, &mut got), 2);
            assert_eq!(got, [0, 1, 2, 3, 4]);
        }
        // Drop-oldest: evictions may move the tail up to and past the bound.
        let (mut p, mut c) = Ring::with_capacity(256);
        for i in 0..3u8 {
            p.push(8, |b| b.fill(i)).unwrap();
        }
        c.bound_at_head();
        p.push(8, |b| b.fill(3)).unwrap();
        assert!(p.evict_oldest() && p.evict_oldest());
        let mut got = Vec::new();
        assert_eq!(c.drain_copied(&mut Vec::new(), |b| got.push(b[0])), 1);
        assert!(p.evict_oldest());
        assert_eq!(c.drain_copied(&mut Vec::new(), |b| got.push(b[0])), 0);
        c.unbound();
        assert_eq!(c.drain_copied(&mut Vec::new(), |b| got.push(b[0])), 0);
        assert_eq!(got, [2]);
    }

    #[test]
    fn too_large_and_full() {
        let (mut p, mut c) = Ring::with_capacity(64);
        assert_eq!(p.push(57, |_| {}), Err(PushError::TooLarge));
        assert_eq!(p.push(56, |_| {}), Ok(()));
        assert_eq!(p.push(0, |_| {}), Err(PushError::Full));
        assert_eq!(c.drain(|b| assert_eq!(b.len(), 56)), 1);
        assert_eq!(p.push(0, |_| {}), Ok(()));
    }

    #[test]
    fn a_slot_larger_than_either_side_of_the_wrap_goes_in_after_the_padding() {
        let (mut p, mut c) = Ring::with_capacity(64);
        // Head at 40: 24 bytes before the end, 40 after the start once drained.
        assert_eq!(p.push(32, |b| b.fill(1)), Ok(()));
        assert_eq!(c.drain(|b| assert_eq!(b, [1; 32])), 1);
        // A 48-byte slot fits on neither side. The padding goes in on its own first ...
        assert_eq!(p.push(40, |b| b.fill(2)), Err(PushError::Full));
        assert_eq!(p.head, 64);
        assert!(!p.has_room(40));
        // ... and once the consumer is past it, the slot goes in at the start.
        assert_eq!(c.drain(|_| panic!("padding is not a record")), 0);
        assert!(p.has_room(40));
        assert_eq!(p.push(40, |b| b.fill(2)), Ok(()));
        assert_eq!(c.drain(|b| assert_eq!(b, [2; 40])), 1);
        // A slot of the whole ring, from 48 bytes into a lap.
        assert!(p.has_room(56), "the padding to the end fits");
        assert_eq!(p.push(56, |b| b.fill(4)), Err(PushError::Full));
        c.drain(|_| panic!("padding is not a record"));
        assert_eq!(p.push(56, |b| b.fill(4)), Ok(()));
        assert_eq!(c.drain(|b| assert_eq!(b, [4; 56])), 1);
        assert_eq!(p.ring().counters.enqueued.load(Ordering::Relaxed), 3);
    }

    #[test]
    fn abandoned_after_producer_drop_and_drain() {
        let (p, mut c) = Ring::with_capacity(64);
        let ring = c.ring().clone();
        let mut p = p;
        p.push(3, |b| b.copy_from_slice(b"abc")).unwrap();
        drop(p);
        assert!(!ring.is_abandoned());
        c.drain(|_| {});
        assert!(ring.is_abandoned());
    }

    #[test]
    fn evict_oldest_keeps_the_newest_in_order() {
        let (mut p, mut c) = Ring::with_capacity(256);
        for i in 0..100u64 {
            while p.push(8, |b| b.copy_from_slice(&i.to_le_bytes())).is_err() {
                assert!(p.evict_oldest());
            }
        }
        let mut got = Vec::new();
        let mut copy = Vec::new();
        c.drain_copied(&mut copy, |b| {
            got.push(u64::from_le_bytes(b.try_into().unwrap()))
        });
        // 256 bytes hold 16 slots of 16 bytes.
        assert_eq!(got, (84..100).collect::<Vec<_>>());
        assert_eq!(p.ring().counters.dropped_oldest.load(Ordering::Relaxed), 84);
    }

    #[test]
    fn concurrent_evicting_producer_and_copying_consumer_account_for_everything() {
        let (mut p, mut c) = Ring::with_capacity(512);
        let ring = p.ring().clone();
        let t = std::thread::spawn(move || {
            for i in 0..200_000u64 {
                while p.push(8, |b| b.copy_from_slice(&i.to_le_bytes())).is_err() {
                    p.evict_oldest();
                }
            }
        });
        let mut got = Vec::new();
        let mut copy = Vec::new();
        while !t.is_finished() {
            c.drain_copied(&mut copy, |b| {
                got.push(u64::from_le_bytes(b.try_into().unwrap()))
            });
        }
        t.join().unwrap();
        c.drain_copied(&mut copy, |b| {
            got.push(u64::from_le_bytes(b.try_into().unwrap()))
        });
        assert!(
            got.windows(2).all(|w| w[0] < w[1]),
            "survivors stay in order"
        );
        assert_eq!(*got.last().unwrap(), 199_999, "the newest record survives");
        let dropped = ring.counters.dropped_oldest.load(Ordering::Relaxed);
        assert_eq!(got.len() as u64 + dropped, 200_000);
    }

    #[test]
    fn concurrent_producer_consumer() {
        let (mut p, mut c) = Ring::with_capacity(1024);
        let t = std::thread::spawn(move || {
            for i in 0..200_000u64 {
                let bytes = i.to_le_bytes();
                let len = 8 + (i % 13) as usize;
                while p.push(len, |b| b[..8].copy_from_slice(&bytes)).is_err() {
                    std::hint::spin_loop();
                }
            }
        });
        let mut next = 0u64;
        while next < 200_000 {
            c.drain(|b| {
                assert_eq!(u64::from_le_bytes(b[..8].try_into().unwrap()), next);
                assert_eq!(b.len(), 8 + (next % 13) as usize);
                next += 1;
            });
        }
        t.join().unwrap();
    }
}

/// Model checks of the ring's protocol under loom: `RUSTFLAGS="--cfg loom" cargo test --release
/// --lib ring::loom_tests` (see `.ci/run` for the bounds used in CI).
#[cfg(all(test, loom))]
mod loom_tests {
    use super::*;
    use loom::sync::atomic::AtomicBool as LoomBool;
    use std::task::{RawWaker, RawWakerVTable, Waker};

    fn push_u64(p: &mut Producer, v: u64) -> Result<(), PushError> {
        p.push(8, |b| b.copy_from_slice(&v.to_le_bytes()))
    }

    fn read_u64(b: &[u8]) -> u64 {
        u64::from_le_bytes(b.try_into().unwrap())
    }

    /// Records published across a wrap-around arrive whole and in order.
    #[test]
    fn publish_consume_wraps_in_order() {
        loom::model(|| {
            // 64 bytes: four 16-byte slots; five records force a wrap.
            let (mut p, mut c) = Ring::with_capacity(64);
            let t = loom::thread::spawn(move || {
                for i in 0..5u64 {
                    while push_u64(&mut p, i).is_err() {
                        loom::thread::yield_now();
                    }
                }
            });
            let mut got = Vec::new();
            while got.len() < 5 {
                if c.drain(|b| got.push(read_u64(b))) == 0 {
                    loom::thread::yield_now();
                }
            }
            t.join().unwrap();
            assert_eq!(got, [0, 1, 2, 3, 4]);
        });
    }

    /// Padding published on its own ahead of a slot too large for either side of the wrap
    /// (a 40-byte slot puts the head 40 bytes into a 64-byte ring; a 48-byte slot then fits
    /// neither the 24 bytes before the end nor the 40 after the start, and goes in only once
    /// the consumer is past the padding) is released by the drainer's way of consuming
    /// (`next_key`, then `drain_while`), and every record arrives whole and in order.
    #[test]
    fn a_slot_after_its_own_padding_arrives_whole() {
        loom::model(|| {
            let (mut p, mut c) = Ring::with_capacity(64);
            let t = loom::thread::spawn(move || {
                for (i, len) in [(0u8, 32), (1, 40)] {
                    while p.push(len, |b| b.fill(i)).is_err() {
                        loom::thread::yield_now();
                    }
                }
            });
            let mut got = Vec::new();
            while got.len() < 2 {
                c.snapshot();
                if c.next_key(|b| b[0] as u64).is_none() {
                    loom::thread::yield_now();
                    continue;
                }
                c.drain_while(
                    u64::MAX,
                    |b| b[0] as u64,
                    |b| {
                        assert!(b.iter().all(|&x| x == b[0]));
                        got.push((b[0], b.len()));
                    },
                );
            }
            t.join().unwrap();
            assert_eq!(got, [(0, 32), (1, 40)]);
        });
    }

    fn flag_waker(flag: &'static LoomBool) -> Waker {
        fn clone(p: *const ()) -> RawWaker {
            RawWaker::new(p, &VTABLE)
        }
        fn wake(p: *const ()) {
            // SAFETY: `p` is the `&'static LoomBool` given to `RawWaker::new` below.
            unsafe { &*(p as *const LoomBool) }.store(true, Ordering::SeqCst);
        }
        fn drop(_: *const ()) {}
        static VTABLE: RawWakerVTable = RawWakerVTable::new(clone, wake, wake, drop);
        // SAFETY: the vtable functions treat the pointer as the 'static flag it is.
        unsafe { Waker::from_raw(RawWaker::new(flag as *const LoomBool as *const (), &VTABLE)) }
    }

    /// A producer that finds the ring full, registers its waker and re-checks, is either told
    /// there is room or woken by the consumer: no lost wake-up.
    #[test]
    fn full_ring_wakeup_is_never_lost() {
        loom::model(|| {
            let (mut p, mut c) = Ring::with_capacity(64);
            for i in 0..4 {
                push_u64(&mut p, i).unwrap();
            }
            assert_eq!(push_u64(&mut p, 4), Err(PushError::Full));
            let woken: &'static LoomBool = Box::leak(Box::new(LoomBool::new(false)));
            let ring = p.ring().clone();
            let consumer = loom::thread::spawn(move || {
                c.drain(|_| {});
            });
            let _ = ring.register_waiter(Waiter::Task(flag_waker(woken)));
            let room = p.has_room(8);
            consumer.join().unwrap();
            assert!(room || woken.load(Ordering::SeqCst), "lost wake-up");
        });
    }

    /// Drop-oldest: a producer evicting while the consumer claims and copies out never loses
    /// track of a record: survivors are in order and survivors + evicted == published.
    #[test]
    fn evict_and_claim_account_for_every_record() {
        loom::model(|| {
            let (mut p, mut c) = Ring::with_capacity(64);
            let ring = p.ring().clone();
            let t = loom::thread::spawn(move || {
                for i in 0..6u64 {
                    loop {
                        match push_u64(&mut p, i) {
                            Ok(()) => break,
                            Err(_) => {
                                if !p.evict_oldest() {
                                    loom::thread::yield_now();
                                }
                            }
                        }
                    }
                }
            });
            let mut got = Vec::new();
            let mut copy = Vec::new();
            c.drain_copied(&mut copy, |b| got.push(read_u64(b)));
            t.join().unwrap();
            c.drain_copied(&mut copy, |b| got.push(read_u64(b)));
            assert!(got.windows(2).all(|w| w[0] < w[1]), "{got:?}");
            assert_eq!(got.last(), Some(&5));
            let dropped = ring.counters.dropped_oldest.load(Ordering::Relaxed);
            assert_eq!(got.len() as u64 + dropped, 6);
        });
    }
}
