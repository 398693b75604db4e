//! A counting global allocator shows that `info!` with integer, float, bool and `&str` fields
//! allocates nothing on the caller's thread after the thread's first record.
mod common;

use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::Cell;

use kolog::config::{HandlerKind, RendererKind};
use kolog::{info, Kolog, Level, QueueConfig};

struct Counting;

thread_local! {
    static ALLOCS: Cell<u64> = const { Cell::new(0) };
}

// SAFETY: delegates to the system allocator; only counts calls on the current thread.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        let _ = ALLOCS.try_with(|c| c.set(c.get() + 1));
        // SAFETY: same contract as the caller's.
        unsafe { System.alloc(layout) }
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        // SAFETY: same contract as the caller's.
        unsafe { System.dealloc(ptr, layout) }
    }
    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        let _ = ALLOCS.try_with(|c| c.set(c.get() + 1));
        // SAFETY: same contract as the caller's.
        unsafe { System.alloc_zeroed(layout) }
    }
    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        let _ = ALLOCS.try_with(|c| c.set(c.get() + 1));
        // SAFETY: same contract as the caller's.
        unsafe { System.realloc(ptr, layout, new_size) }
    }
}

#[global_allocator]
static GLOBAL: Counting = Counting;

fn allocs() -> u64 {
    ALLOCS.with(|c| c.get())
}

#[test]
fn info_with_scalar_and_str_fields_allocates_nothing_after_the_first_record() {
    let k = Kolog::from_config(common::system(
        vec![common::logger(
            "root",
            Some(Level::Info),
            HandlerKind::Null,
            RendererKind::StreamJson,
        )],
        QueueConfig::default(),
    ))
    .unwrap();
    let log = k.logger("hot").unwrap();
    let ip = String::from("10.1.2.3");
    info!(
        log,
        "warm up",
        user_id = 1u64,
        ip = ip.as_str(),
        latency_ms = 0.5,
        ok = true
    );
    let before = allocs();
    for i in 0..10_000u64 {
        info!(
            log,
            "request",
            user_id = i,
            ip = ip.as_str(),
            latency_ms = i as f64 * 0.25,
            ok = i % 2 == 0,
            delta = -(i as i64)
        );
        kolog::debug!(log, "filtered out by level", user_id = i);
    }
    let after = allocs();
    assert_eq!(after - before, 0, "info! allocated on the hot path");
    k.flush();
    assert_eq!(k.stats().written, 10_001);
}
