//! The record clock: read on the producer's thread, converted to wall time on the drainer.
//!
//! Producers store monotonic ticks (nanoseconds since a process-wide base instant), so ticks
//! from different threads can be merged in order; [`to_unix_nanos`] adds the wall-clock time of
//! the base. Tests can pin the wall time the drainer reports with [`set_fixed_time`], so golden
//! outputs are byte-for-byte reproducible.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::OnceLock;
use std::time::{Instant, SystemTime, UNIX_EPOCH};

static FIXED: AtomicU64 = AtomicU64::new(0);

struct Base {
    instant: Instant,
    unix_nanos: u64,
}

fn base() -> &'static Base {
    static BASE: OnceLock<Base> = OnceLock::new();
    BASE.get_or_init(|| Base {
        instant: Instant::now(),
        unix_nanos: SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map(|d| d.as_nanos() as u64)
            .unwrap_or(0),
    })
}

/// Monotonic ticks (nanoseconds since the process's base instant) for a record's timestamp.
#[inline]
pub(crate) fn now() -> u64 {
    base().instant.elapsed().as_nanos() as u64
}

/// Nanoseconds since the Unix epoch for ticks (or the fixed test time, if set).
#[inline]
pub(crate) fn to_unix_nanos(ticks: u64) -> u64 {
    match FIXED.load(Ordering::Relaxed) {
        0 => base().unix_nanos + ticks,
        fixed => fixed,
    }
}

/// Makes every record report this wall time (nanoseconds since the Unix epoch) from now on;
/// `0` restores the real clock. For golden tests; affects every queue manager in the process.
#[doc(hidden)]
pub fn set_fixed_time(unix_nanos: u64) {
    FIXED.store(unix_nanos, Ordering::Relaxed);
}
