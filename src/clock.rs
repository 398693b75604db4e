//! The record clock: read on the producer's thread, converted to wall time on the drainer.
//!
//! On x86_64 with an invariant TSC (CPUID `0x8000_0007` EDX bit 8), a record's ticks are the
//! raw time-stamp counter: one `rdtsc`, no vDSO call. The tick rate is calibrated against
//! `Instant` when a queue manager starts (a 2 ms spin) and refined by the drainer every
//! second over the whole baseline. Elsewhere ticks are nanoseconds of `Instant` since a
//! process-wide base. Either way ticks are monotonic and comparable across threads, so the
//! drainer can merge rings in order; [`to_unix_nanos`] adds the wall-clock time of the base.
//!
//! Tests can pin the wall time the drainer reports with [`set_fixed_time`], so golden outputs
//! are byte-for-byte reproducible.

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::OnceLock;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use crossbeam_utils::CachePadded;

static FIXED: AtomicU64 = AtomicU64::new(0);
/// Whether ticks are TSC cycles (set once, before any record is made). The drainer's copy,
/// next to the calibration it rewrites every second.
static TSC: AtomicBool = AtomicBool::new(false);
/// The same flag for [`now`], on the producers' hot path: on cache lines of its own that the
/// drainer never reads. On this VM a line that the drainer also reads was cold at a
/// producer's first record after an idle millisecond in 6–20% of bursts, against 0.2% for
/// lines only the producer reads (PERF.md, "Session 4: the producer's read set").
static RECORD_TSC: CachePadded<AtomicBool> = CachePadded::new(AtomicBool::new(false));
/// Nanoseconds per TSC tick, as `f64` bits.
static NS_PER_TICK: AtomicU64 = AtomicU64::new(0);

struct Base {
    instant: Instant,
    unix_nanos: u64,
    tsc: u64,
}

fn base() -> &'static Base {
    static BASE: OnceLock<Base> = OnceLock::new();
    BASE.get_or_init(|| {
        let tsc = read_tsc();
        Base {
            instant: Instant::now(),
            unix_nanos: SystemTime::now()
                .duration_since(UNIX_EPOCH)
                .map(|d| d.as_nanos() as u64)
                .unwrap_or(0),
            tsc,
        }
    })
}

#[cfg(target_arch = "x86_64")]
#[inline(always)]
fn read_tsc() -> u64 {
    // SAFETY: `rdtsc` has no preconditions on x86_64; it only reads the counter.
    #[allow(unused_unsafe)]
    unsafe {
        std::arch::x86_64::_rdtsc()
    }
}

#[cfg(not(target_arch = "x86_64"))]
#[inline(always)]
fn read_tsc() -> u64 {
    0
}

#[cfg(target_arch = "x86_64")]
fn invariant_tsc() -> bool {
    use std::arch::x86_64::__cpuid;
    // SAFETY: `cpuid` is available on every x86_64 CPU; leaf 0x8000_0000 says which extended
    // leaves exist before 0x8000_0007 is read.
    #[allow(unused_unsafe)]
    unsafe {
        __cpuid(0x8000_0000).eax >= 0x8000_0007 && __cpuid(0x8000_0007).edx & (1 << 8) != 0
    }
}

#[cfg(not(target_arch = "x86_64"))]
fn invariant_tsc() -> bool {
    false
}

/// Picks the clock and calibrates it. Called when a queue manager starts, before any record
/// can be made; later calls only refine the calibration.
pub(crate) fn init() {
    static INIT: OnceLock<()> = OnceLock::new();
    INIT.get_or_init(|| {
        let b = base();
        if std::env::var_os("KOLOG_NO_TSC").is_none() && invariant_tsc() {
            while b.instant.elapsed() < Duration::from_millis(2) {
                std::hint::spin_loop();
            }
            if recalibrate() {
                TSC.store(true, Ordering::Release);
                RECORD_TSC.store(true, Ordering::Release);
            }
        }
    });
}

/// Refines the TSC rate over the baseline since the base instant. Returns false when the
/// counter did not advance sensibly (then the `Instant` clock is used).
pub(crate) fn recalibrate() -> bool {
    let b = base();
    let tsc = read_tsc();
    let ns = b.instant.elapsed().as_nanos() as f64;
    let ticks = tsc.wrapping_sub(b.tsc) as f64;
    if ticks <= 0.0 || ns <= 0.0 || !(0.01..=100.0).contains(&(ns / ticks)) {
        return false;
    }
    NS_PER_TICK.store((ns / ticks).to_bits(), Ordering::Relaxed);
    true
}

/// Ticks for a record's timestamp (producers).
#[inline(always)]
pub(crate) fn now() -> u64 {
    ticks(RECORD_TSC.load(Ordering::Relaxed))
}

/// The record clock as a value a producer keeps next to its ring, so that its hot path reads
/// no global flag at all. Valid once [`init`] has run (before any ring exists).
#[derive(Clone, Copy)]
pub(crate) struct RecordClock {
    tsc: bool,
}

impl RecordClock {
    pub(crate) fn current() -> RecordClock {
        RecordClock {
            tsc: RECORD_TSC.load(Ordering::Acquire),
        }
    }

    /// Ticks for a record's timestamp: the same as [`now`].
    #[inline(always)]
    pub(crate) fn now(self) -> u64 {
        ticks(self.tsc)
    }
}

/// Ticks now, for the drainer (its cut-off and drop reports): the same clock as [`now`],
/// without reading the producers' flag.
pub(crate) fn drainer_now() -> u64 {
    ticks(TSC.load(Ordering::Relaxed))
}

#[inline(always)]
fn ticks(tsc: bool) -> u64 {
    if tsc {
        read_tsc()
    } else {
        base().instant.elapsed().as_nanos() as u64
    }
}

/// Nanoseconds since the Unix epoch for ticks (or the fixed test time, if set).
#[inline]
pub(crate) fn to_unix_nanos(ticks: u64) -> u64 {
    let fixed = FIXED.load(Ordering::Relaxed);
    if fixed != 0 {
        return fixed;
    }
    let b = base();
    if TSC.load(Ordering::Relaxed) {
        let per_tick = f64::from_bits(NS_PER_TICK.load(Ordering::Relaxed));
        b.unix_nanos + (ticks.saturating_sub(b.tsc) as f64 * per_tick) as u64
    } else {
        b.unix_nanos + ticks
    }
}

/// Makes every record report this wall time (nanoseconds since the Unix epoch) from now on;
/// `0` restores the real clock. For golden tests; affects every queue manager in the process.
#[doc(hidden)]
pub fn set_fixed_time(unix_nanos: u64) {
    FIXED.store(unix_nanos, Ordering::Relaxed);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ticks_convert_to_wall_time_close_to_the_system_clock() {
        init();
        let t = now();
        let wall = to_unix_nanos(t);
        let sys = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .unwrap()
            .as_nanos() as u64;
        let diff = wall.abs_diff(sys);
        assert!(diff < 5_000_000, "off by {diff} ns");
        std::thread::sleep(Duration::from_millis(20));
        let t2 = now();
        let elapsed = to_unix_nanos(t2) - to_unix_nanos(t);
        assert!((19_000_000..200_000_000).contains(&elapsed), "{elapsed}");
    }

    /// A producer's copy of the clock reads the same counter as `now` and the drainer's
    /// `drainer_now` (the TSC and `Instant` ticks differ by orders of magnitude, so mixing
    /// them would break the order).
    #[test]
    fn record_clock_copies_tick_in_step_with_the_global_clock() {
        init();
        let copy = RecordClock::current();
        for _ in 0..1000 {
            let a = now();
            let b = copy.now();
            let c = drainer_now();
            let d = now();
            assert!(a <= b && b <= c && c <= d, "{a} {b} {c} {d}");
        }
    }
}
