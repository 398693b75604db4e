//! The hot path after the level check: find this thread's ring for the queue manager, encode
//! the record into it, and apply the backpressure policy when it is full.

use std::cell::RefCell;
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::Duration;

use smallvec::SmallVec;

use super::logger::LoggerInner;
use super::value::FieldValue;
use crate::clock;
use crate::config::BackpressurePolicy;
use crate::drain::shared::Shared;
use crate::record::encode::{self, Header, Scratch};
use crate::record::Callsite;
use crate::ring::{Producer, PushError, Ring, Waiter};
use crate::Level;

/// This thread's producers (one per queue manager it logs to) and its formatting scratch.
#[derive(Default)]
struct Local {
    producers: SmallVec<[(u64, Arc<Shared>, Producer); 2]>,
    scratch: Scratch,
}

thread_local! {
    static LOCAL: RefCell<Local> = RefCell::new(Local::default());
}

impl Local {
    #[inline]
    fn producer(&mut self, shared: &Arc<Shared>) -> &mut Producer {
        match self
            .producers
            .iter()
            .position(|(id, _, _)| *id == shared.id)
        {
            Some(i) => &mut self.producers[i].2,
            None => self.register(shared),
        }
    }

    #[cold]
    fn register(&mut self, shared: &Arc<Shared>) -> &mut Producer {
        // Forget rings of queue managers that were shut down.
        self.producers.retain(|(_, s, _)| !s.is_closed());
        let (producer, consumer) = Ring::with_capacity(shared.ring_bytes);
        shared.registry.register(consumer);
        self.producers.push((shared.id, shared.clone(), producer));
        &mut self.producers.last_mut().expect("just pushed").2
    }
}

/// Encodes and enqueues one record (the level check has passed).
#[inline]
pub(crate) fn emit(
    inner: &LoggerInner,
    level: Level,
    callsite: &'static Callsite,
    values: &[FieldValue<'_>],
) {
    let shared = &inner.shared;
    if shared.is_closed() {
        count_shutdown_drop(shared);
        return;
    }
    let header = Header {
        level,
        timestamp: clock::now(),
        callsite: callsite as *const Callsite as usize,
        logger: inner.core() as *const _ as usize,
    };
    let done = LOCAL.try_with(|cell| {
        if needs_formatting(values) {
            // Take the scratch out while user Display/Debug code runs, so a record logged from
            // inside a Display impl finds the thread-local free.
            let mut scratch = std::mem::take(&mut cell.borrow_mut().scratch);
            let len = encode::prepare(values, &mut scratch);
            enqueue(
                &mut cell.borrow_mut(),
                shared,
                len,
                &header,
                values,
                &scratch,
            );
            cell.borrow_mut().scratch = scratch;
        } else {
            let scratch = Scratch::default();
            let len = encode::prepare(values, &mut Scratch::default());
            enqueue(
                &mut cell.borrow_mut(),
                shared,
                len,
                &header,
                values,
                &scratch,
            );
        }
    });
    if done.is_err() {
        // The thread is exiting and its thread-local is gone: nowhere to queue.
        count_shutdown_drop(shared);
    }
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

#[cold]
fn count_shutdown_drop(shared: &Shared) {
    shared
        .counters
        .dropped_shutdown
        .fetch_add(1, Ordering::Relaxed);
}

#[inline]
fn enqueue(
    local: &mut Local,
    shared: &Arc<Shared>,
    len: usize,
    header: &Header,
    values: &[FieldValue<'_>],
    scratch: &Scratch,
) {
    let producer = local.producer(shared);
    let fill = |dst: &mut [u8]| encode::write(dst, header, values, scratch);
    match producer.push(len, fill) {
        Ok(()) => {}
        Err(PushError::TooLarge) => producer.count_dropped_oversize(),
        Err(PushError::Full) => full(producer, shared, len, header, values, scratch),
    }
}

#[cold]
#[inline(never)]
fn full(
    producer: &mut Producer,
    shared: &Shared,
    len: usize,
    header: &Header,
    values: &[FieldValue<'_>],
    scratch: &Scratch,
) {
    match shared.policy {
        BackpressurePolicy::Drop | BackpressurePolicy::DropOldest => producer.count_dropped_full(),
        BackpressurePolicy::Block => {
            let mut attempt = 0u32;
            loop {
                let fill = |dst: &mut [u8]| encode::write(dst, header, values, scratch);
                match producer.push(len, fill) {
                    Ok(()) => return,
                    Err(PushError::TooLarge) => return producer.count_dropped_oversize(),
                    Err(PushError::Full) => {}
                }
                if shared.is_closed() {
                    return count_shutdown_drop(shared);
                }
                wait_for_space(producer, shared, len, attempt);
                attempt += 1;
            }
        }
    }
}

/// Bounded spin, then yield, then park until the drainer frees space (with a timeout as a
/// safety net against a lost wake-up).
fn wait_for_space(producer: &mut Producer, shared: &Shared, len: usize, attempt: u32) {
    if attempt < 32 {
        std::hint::spin_loop();
    } else if attempt < 48 {
        std::thread::yield_now();
    } else {
        producer
            .ring()
            .register_waiter(Waiter::Thread(std::thread::current()));
        shared.wake_drainer();
        if !producer.has_room(len) {
            std::thread::park_timeout(Duration::from_millis(1));
        }
    }
}
