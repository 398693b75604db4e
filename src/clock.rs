//! The record clock: read on the producer's thread, converted to wall time on the drainer.
//!
//! On x86_64 with an invariant TSC (CPUID `0x8000_0007` EDX bit 8), a record's ticks are the
//! raw time-stamp counter: one `rdtsc`, no vDSO call. The tick rate is calibrated against
//! `Instant` when a queue manager starts (a 2 ms spin) and refined by the drainer every
//! second over a baseline that restarts if the two counters diverge (a suspend, a migration).
//! Elsewhere ticks are nanoseconds of `Instant` since a process-wide base. Either way ticks are
//! monotonic and comparable across threads, so the drainer can merge rings in order.
//!
//! Wall time is the drainer's business: [`Anchor::to_unix_nanos`] converts ticks from an
//! anchor, the system clock's reading at a known tick, which each drainer takes again once a
//! second ([`recalibrate`]). Records made a second or more after the system clock is stepped
//! (NTP, an administrator, a resumed virtual machine) carry the new time, as they would with
//! `time.time()`; a producer still reads nothing but the counter. Times before 1970 or past
//! 2554 (what a `u64` of nanoseconds holds) are clamped to those bounds.
//!
//! Tests can pin the wall time the drainer reports with [`set_fixed_time`], so golden outputs
//! are byte-for-byte reproducible.

use std::sync::atomic::{AtomicBool, AtomicI64, AtomicU64, Ordering};
use std::sync::{Mutex, OnceLock};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use crossbeam_utils::CachePadded;

static FIXED: AtomicU64 = AtomicU64::new(0);
/// Seconds added to the system clock, for tests that step it (see [`set_wall_clock_offset`]).
static WALL_OFFSET_SECS: AtomicI64 = AtomicI64::new(0);
/// Whether ticks are TSC cycles (set once, before any record is made). The drainers' copy.
static TSC: AtomicBool = AtomicBool::new(false);
/// The same flag for [`now`], on the producers' hot path: on cache lines of its own that the
/// drainer never reads. On this VM a line that the drainer also reads was cold at a
/// producer's first record after an idle millisecond in 6–20% of bursts, against 0.2% for
/// lines only the producer reads (PERF.md, "Session 4: the producer's read set").
static RECORD_TSC: CachePadded<AtomicBool> = CachePadded::new(AtomicBool::new(false));

struct Base {
    instant: Instant,
}

fn base() -> &'static Base {
    static BASE: OnceLock<Base> = OnceLock::new();
    BASE.get_or_init(|| Base {
        instant: Instant::now(),
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

/// The conversion from ticks to wall time that a drainer holds, and refreshes with
/// [`recalibrate`] once a second: the wall time at one tick, and the rate from there.
#[derive(Clone, Copy, Debug, PartialEq)]
pub(crate) struct Anchor {
    /// The ticks at the anchor.
    tick: u64,
    /// The system clock's time at `tick`, nanoseconds since the Unix epoch (negative before it).
    unix: i128,
    /// Nanoseconds per tick (1 for `Instant` ticks).
    ns_per_tick: f64,
}

impl Anchor {
    /// Nanoseconds since the Unix epoch for ticks (or the fixed test time, if set), clamped to
    /// what a `u64` holds: 1970-01-01T00:00:00Z to 2554-07-21T23:34:33.709551615Z. Ticks
    /// before the anchor (a record made before the last re-anchoring) count back from it.
    #[inline]
    pub(crate) fn to_unix_nanos(self, ticks: u64) -> u64 {
        let fixed = FIXED.load(Ordering::Relaxed);
        if fixed != 0 {
            return fixed;
        }
        // Signed ticks since the anchor; `as` saturates the float to `i64`'s range.
        let since = ticks.wrapping_sub(self.tick) as i64;
        let ns = (since as f64 * self.ns_per_tick) as i64;
        (self.unix + i128::from(ns)).clamp(0, i128::from(u64::MAX)) as u64
    }
}

/// One reading of the clocks, taken as close together as a few tries allow.
#[derive(Clone, Copy, Debug, PartialEq)]
struct Sample {
    /// The ticks at the reading (the middle of `spread`).
    tick: u64,
    /// Nanoseconds of `Instant` since the base.
    mono: u64,
    /// The system clock, nanoseconds since the Unix epoch.
    wall: i128,
    /// Ticks between the first and the last read.
    spread: u64,
}

/// Reads the ticks, `Instant` and the system clock: the tightest of three tries (a thread
/// preempted between the reads would otherwise anchor the wall time off by the preemption).
fn sample(tsc: bool) -> Sample {
    let mut best: Option<Sample> = None;
    for _ in 0..3 {
        let t1 = ticks(tsc);
        let mono = base().instant.elapsed().as_nanos() as u64;
        let wall = system_clock();
        let t2 = ticks(tsc);
        let spread = t2.wrapping_sub(t1);
        let s = Sample {
            tick: t1.wrapping_add(spread / 2),
            mono,
            wall,
            spread,
        };
        if best.is_none_or(|b| s.spread < b.spread) {
            best = Some(s);
        }
    }
    best.expect("three tries")
}

/// The rate between the TSC and `Instant` from sample `a` to sample `b`, if both advanced and
/// it is plausible (10 MHz to 100 GHz).
fn rate(a: &Sample, b: &Sample) -> Option<f64> {
    let ticks = b.tick.checked_sub(a.tick).filter(|&t| t > 0)?;
    let ns = b.mono.checked_sub(a.mono).filter(|&n| n > 0)?;
    let r = ns as f64 / ticks as f64;
    (0.01..=100.0).contains(&r).then_some(r)
}

/// The process-wide calibration, which every drainer refreshes (at most twice a second in
/// all) and copies its [`Anchor`] from.
#[derive(Clone, Copy, Debug)]
struct Calibration {
    tsc: bool,
    /// Where the baseline of the rate starts.
    from: Sample,
    /// The sample of the current anchor.
    last: Sample,
    anchor: Anchor,
}

/// How far the rate over the last interval may stray from the calibrated one before the
/// counters are taken to have diverged (a suspend that stopped one of them, a migration to a
/// host whose TSC runs at another rate): 1%, where crystals differ by 0.01% and NTP slews by
/// 0.05% at most.
const MAX_RATE_STRAY: f64 = 0.01;
/// A sample whose reads were further apart than this (in nanoseconds: the thread was
/// preempted in all three tries) does not re-anchor; the next one a second later will.
const MAX_SPREAD_NS: f64 = 1_000_000.0;
/// A drainer re-anchors only if the anchor is at least this old (nanoseconds): with several
/// queue managers, each drainer's once-a-second call would otherwise re-anchor on an interval
/// too short to measure the rate over.
const MIN_INTERVAL_NS: u64 = 500_000_000;

impl Calibration {
    fn new(tsc: bool, from: Sample, last: Sample, ns_per_tick: f64) -> Calibration {
        Calibration {
            tsc,
            from,
            last,
            anchor: Anchor {
                tick: last.tick,
                unix: last.wall,
                ns_per_tick,
            },
        }
    }

    /// Re-anchors at `s`, and refines the rate: over the whole baseline while the last
    /// interval agrees with it, else the baseline restarts (and the last interval's rate is
    /// taken, if it is plausible). Returns false (nothing changed) for a sample too spread out.
    fn update(&mut self, s: Sample) -> bool {
        if self.tsc {
            if s.spread as f64 * self.anchor.ns_per_tick > MAX_SPREAD_NS {
                return false;
            }
            match rate(&self.last, &s) {
                Some(r) if (r / self.anchor.ns_per_tick - 1.0).abs() <= MAX_RATE_STRAY => {
                    if let Some(r) = rate(&self.from, &s) {
                        self.anchor.ns_per_tick = r;
                    }
                }
                Some(r) => {
                    self.from = self.last;
                    self.anchor.ns_per_tick = r;
                }
                // The counter went back (reset by a suspend) or stood still: the rate is kept.
                None => self.from = s,
            }
        } else if s.spread > MAX_SPREAD_NS as u64 {
            return false;
        }
        self.last = s;
        self.anchor.tick = s.tick;
        self.anchor.unix = s.wall;
        true
    }
}

static CALIBRATION: Mutex<Option<Calibration>> = Mutex::new(None);

/// Picks the clock and calibrates it. Called when a queue manager starts, before any record
/// can be made; later calls do nothing.
pub(crate) fn init() {
    static INIT: OnceLock<()> = OnceLock::new();
    INIT.get_or_init(|| {
        let b = base();
        let mut calibration = None;
        if std::env::var_os("KOLOG_NO_TSC").is_none() && invariant_tsc() {
            let first = sample(true);
            while b.instant.elapsed() < Duration::from_nanos(first.mono) + Duration::from_millis(2)
            {
                std::hint::spin_loop();
            }
            let second = sample(true);
            if let Some(r) = rate(&first, &second) {
                calibration = Some(Calibration::new(true, first, second, r));
                TSC.store(true, Ordering::Release);
                RECORD_TSC.store(true, Ordering::Release);
            }
        }
        let calibration = calibration.unwrap_or_else(|| {
            let s = sample(false);
            Calibration::new(false, s, s, 1.0)
        });
        *lock_calibration() = Some(calibration);
    });
}

/// The calibration, locked inside a fork-guarded section (a child forked while a drainer
/// held the lock would otherwise find it locked for ever).
fn with_calibration<T>(f: impl FnOnce(&mut Calibration) -> T) -> T {
    init();
    let _fork = crate::ring::fork_guard::section();
    let mut c = lock_calibration();
    f(c.as_mut().expect("calibrated by init"))
}

fn lock_calibration() -> std::sync::MutexGuard<'static, Option<Calibration>> {
    CALIBRATION.lock().unwrap_or_else(|e| e.into_inner())
}

/// The current conversion to wall time, for a drainer that starts.
pub(crate) fn anchor() -> Anchor {
    with_calibration(|c| c.anchor)
}

/// Re-anchors the conversion to the system clock as it reads now, so that records follow a
/// step of the clock, and refines the TSC rate; returns the conversion for the drainer to
/// keep. Called by each drainer once a second; a conversion anchored less than half a second
/// ago is returned as it is.
pub(crate) fn recalibrate() -> Anchor {
    with_calibration(|c| {
        let s = sample(c.tsc);
        if s.mono.saturating_sub(c.last.mono) >= MIN_INTERVAL_NS {
            c.update(s);
        }
        c.anchor
    })
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

/// Makes every record report this wall time (nanoseconds since the Unix epoch) from now on;
/// `0` restores the real clock. For golden tests; affects every queue manager in the process.
#[doc(hidden)]
pub fn set_fixed_time(unix_nanos: u64) {
    FIXED.store(unix_nanos, Ordering::Relaxed);
}

/// The system clock as kolog reads it: nanoseconds since the Unix epoch (negative before it),
/// shifted by the test offset.
fn system_clock() -> i128 {
    let ns = match SystemTime::now().duration_since(UNIX_EPOCH) {
        Ok(d) => d.as_nanos() as i128,
        Err(e) => -(e.duration().as_nanos() as i128),
    };
    ns + i128::from(WALL_OFFSET_SECS.load(Ordering::Relaxed)) * 1_000_000_000
}

/// The system clock in whole seconds since the Unix epoch, clamped to `u64`'s range (0 before
/// 1970): for file names stamped with the time (and shifted like records by the test offset).
pub(crate) fn system_unix_secs() -> u64 {
    system_clock()
        .div_euclid(1_000_000_000)
        .clamp(0, i128::from(u64::MAX)) as u64
}

/// Makes kolog read the system clock as `seconds` later than it is (earlier if negative), as if
/// it had been stepped; `0` restores it. For tests of clock steps: the machine's clock is left
/// alone. Affects the whole process.
#[doc(hidden)]
pub fn set_wall_clock_offset(seconds: i64) {
    WALL_OFFSET_SECS.store(seconds, Ordering::Relaxed);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ticks_convert_to_wall_time_close_to_the_system_clock() {
        init();
        let clock = super::anchor();
        let to_unix_nanos = |t| clock.to_unix_nanos(t);
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

    const W: i128 = 1_700_000_000_000_000_000; // 2023-11-14T22:13:20Z

    fn reading(tick: u64, mono: u64, wall: i128) -> Sample {
        Sample {
            tick,
            mono,
            wall,
            spread: 0,
        }
    }

    fn synthetic(tick: u64, unix: i128, ns_per_tick: f64) -> Anchor {
        Anchor {
            tick,
            unix,
            ns_per_tick,
        }
    }

    /// Ticks after the anchor count forward, ticks before it (a record made before the last
    /// re-anchoring) back; times before 1970 and past 2554 clamp; no tick value overflows.
    #[test]
    fn an_anchor_converts_ticks_on_both_sides_and_clamps_at_the_bounds() {
        let a = synthetic(1_000_000, W, 0.5);
        assert_eq!(a.to_unix_nanos(1_002_000), W as u64 + 1_000);
        assert_eq!(a.to_unix_nanos(998_000), W as u64 - 1_000);
        assert_eq!(a.to_unix_nanos(0), W as u64 - 500_000);
        assert_eq!(a.to_unix_nanos(u64::MAX), W as u64 - 500_000);
        // A system clock before 1970: the epoch until the ticks reach it.
        let a = synthetic(1_000, -5_000_000_000, 1.0);
        assert_eq!(a.to_unix_nanos(1_000), 0);
        assert_eq!(a.to_unix_nanos(4_000_000_000), 0);
        assert_eq!(a.to_unix_nanos(5_000_001_000), 0);
        assert_eq!(a.to_unix_nanos(5_000_001_001), 1);
        // Past 2554: the last nanosecond a u64 holds.
        let a = synthetic(0, i128::from(u64::MAX) - 10, 1.0);
        assert_eq!(a.to_unix_nanos(5), u64::MAX - 5);
        assert_eq!(a.to_unix_nanos(11), u64::MAX);
        assert_eq!(a.to_unix_nanos(1 << 62), u64::MAX);
        let a = synthetic(0, 1_000_000_000_000_000_000_000_000, 1.0);
        assert_eq!(a.to_unix_nanos(0), u64::MAX);
        // The largest distances either way, at the largest rate: saturated to 2^63 ns either
        // side of the anchor, then clamped.
        let a = synthetic(1 << 63, W, 100.0);
        assert_eq!(a.to_unix_nanos(0), 0);
        assert_eq!(a.to_unix_nanos(u64::MAX), W as u64 + i64::MAX as u64);
    }

    /// Weeks of uptime at 3 GHz (ticks near 1e16): the conversion stays exact to the
    /// nanosecond a second past the anchor, and to the microsecond even if the anchor is five
    /// weeks old.
    #[test]
    fn conversions_stay_exact_after_weeks_of_ticks() {
        let rate = 1.0 / 3.0;
        let a = synthetic(10_000_000_000_000_000, W, rate);
        let t = a.to_unix_nanos(10_000_003_000_000_000);
        assert!(t.abs_diff(W as u64 + 1_000_000_000) <= 1, "{t}");
        let t = a.to_unix_nanos(10_000_000_000_000_000 + 9_072_000_000_000_003);
        assert!(t.abs_diff(W as u64 + 3_024_000_000_000_001) < 1_000, "{t}");
        let a = synthetic(0, W, rate);
        let t = a.to_unix_nanos(10_000_000_000_000_002);
        assert!(t.abs_diff(W as u64 + 3_333_333_333_333_334) < 1_000, "{t}");
    }

    /// Re-anchoring takes the system clock's new reading (a step of an hour forward, then of
    /// two back), so a record made after it carries the new time and one made just before it
    /// counts back from the new anchor; the rate is refined over the whole baseline.
    #[test]
    fn recalibration_follows_a_stepped_system_clock() {
        const HOUR: i128 = 3_600_000_000_000;
        let mut c = Calibration::new(
            true,
            reading(0, 0, W),
            reading(6_000_000, 2_000_000, W + 2_000_000),
            0.332,
        );
        assert!(c.update(reading(
            3_000_000_000,
            1_000_000_000,
            W + 1_000_000_000 + HOUR
        )));
        assert_eq!(c.anchor.ns_per_tick, 1.0 / 3.0);
        assert_eq!(
            c.anchor.to_unix_nanos(3_000_000_000),
            (W + HOUR) as u64 + 1_000_000_000
        );
        assert_eq!(
            c.anchor.to_unix_nanos(2_999_999_700),
            (W + HOUR) as u64 + 999_999_900
        );
        assert_eq!(
            c.anchor.to_unix_nanos(3_000_000_300),
            (W + HOUR) as u64 + 1_000_000_100
        );
        assert!(c.update(reading(
            6_000_000_000,
            2_000_000_000,
            W + 2_000_000_000 - HOUR
        )));
        assert_eq!(
            c.anchor.to_unix_nanos(6_000_000_300),
            (W - HOUR) as u64 + 2_000_000_100
        );
        assert_eq!(c.from, reading(0, 0, W));
        // A reading whose thread was preempted between the reads changes nothing.
        let before = c.anchor;
        let mut late = reading(9_000_000_000, 3_000_000_000, W + 3_000_000_000 + HOUR);
        late.spread = 30_000_000;
        assert!(!c.update(late));
        assert_eq!(c.anchor, before);
    }

    /// A suspend that stopped `Instant` while the TSC ran on (or half as long), or reset the
    /// TSC: the rate never leaves the plausible range and is right again one interval after
    /// the counters agree again; before the fix the whole baseline kept the divergence.
    #[test]
    fn recalibration_recovers_from_counters_that_diverged() {
        let rate = 1.0 / 3.0;
        let mut c = Calibration::new(
            true,
            reading(0, 0, W),
            reading(3_000_000_000, 1_000_000_000, W + 1_000_000_000),
            rate,
        );
        // 100 s of TSC in one second of Instant: implausible, the rate is kept.
        assert!(c.update(reading(303_000_000_000, 2_000_000_000, W + 102_000_000_000)));
        assert_eq!(c.anchor.ns_per_tick, rate);
        assert_eq!(
            c.from,
            reading(303_000_000_000, 2_000_000_000, W + 102_000_000_000)
        );
        assert!(c.update(reading(306_000_000_000, 3_000_000_000, W + 103_000_000_000)));
        assert_eq!(c.anchor.ns_per_tick, rate);
        // Half a second of TSC more than Instant: taken for one interval, then corrected.
        assert!(c.update(reading(310_500_000_000, 4_000_000_000, W + 104_500_000_000)));
        assert_eq!(c.anchor.ns_per_tick, 1.0 / 4.5);
        assert!(c.update(reading(313_500_000_000, 5_000_000_000, W + 105_500_000_000)));
        assert_eq!(c.anchor.ns_per_tick, rate);
        assert!(c.update(reading(316_500_000_000, 6_000_000_000, W + 106_500_000_000)));
        assert_eq!(c.anchor.ns_per_tick, rate);
        // The TSC reset to near zero: the rate is kept, the anchor moves to the new counter.
        assert!(c.update(reading(3_000, 7_000_000_000, W + 110_000_000_000)));
        assert_eq!(c.anchor.ns_per_tick, rate);
        assert_eq!(
            c.anchor.to_unix_nanos(3_000 + 3_000),
            W as u64 + 110_000_001_000
        );
        assert!(c.update(reading(3_000_003_000, 8_000_000_000, W + 111_000_000_000)));
        assert_eq!(c.anchor.ns_per_tick, rate);
    }

    /// `Instant` ticks: the rate is one nanosecond per tick whatever happens; the anchor
    /// follows the system clock.
    #[test]
    fn instant_ticks_re_anchor_without_a_rate() {
        let s = reading(5_000, 5_000, W);
        let mut c = Calibration::new(false, s, s, 1.0);
        assert!(c.update(reading(1_000_005_000, 1_000_005_000, W - 7_000_000_000)));
        assert_eq!(c.anchor, synthetic(1_000_005_000, W - 7_000_000_000, 1.0));
        assert_eq!(
            c.anchor.to_unix_nanos(1_000_004_000),
            W as u64 - 7_000_001_000
        );
    }
}
