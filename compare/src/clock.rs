//! The time-stamp counter: one read around each call, converted to ns with a ratio calibrated
//! against the OS clock when the child starts.

#[cfg(not(target_arch = "x86_64"))]
compile_error!("the comparison reads the x86_64 time-stamp counter (rdtsc)");

use std::arch::x86_64::{_mm_lfence, _rdtsc};
use std::time::{Duration, Instant};

/// Reads the TSC between two `lfence`s, so the read neither drifts into the measured call nor
/// waits for loads issued after it.
#[inline(always)]
pub fn ticks() -> u64 {
    // SAFETY: lfence and rdtsc are part of the x86_64 baseline (SSE2, TSC); they read a
    // counter and order loads, with no memory effects.
    unsafe {
        _mm_lfence();
        let t = _rdtsc();
        _mm_lfence();
        t
    }
}

/// Reads the TSC with no fence (`COMPARE_CLOCK=plain`): the read may overlap the work around
/// it, as in a harness that times calls with a bare `rdtsc`.
#[inline(always)]
pub fn ticks_plain() -> u64 {
    // SAFETY: rdtsc is part of the x86_64 baseline; it reads a counter, no memory effects.
    unsafe { _rdtsc() }
}

/// Whether the children time calls with [`ticks_plain`] (`COMPARE_CLOCK=plain`, inherited by
/// the child processes) instead of the fenced [`ticks`].
pub fn plain() -> bool {
    std::env::var_os("COMPARE_CLOCK").is_some_and(|v| v == "plain")
}

/// Nanoseconds per TSC tick, measured over `span` against `Instant`.
pub fn calibrate(span: Duration) -> f64 {
    let (i0, t0) = (Instant::now(), ticks());
    std::thread::sleep(span);
    let (i1, t1) = (Instant::now(), ticks());
    (i1 - i0).as_nanos() as f64 / (t1 - t0) as f64
}
