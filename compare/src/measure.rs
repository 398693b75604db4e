//! What a child process measures: per-call latency on the producer's thread, or records/s
//! until everything is on disk. Both are generic over [`Peer`] so the timed call is inlined.

use std::hint::black_box;
use std::path::Path;
use std::time::{Duration, Instant};

use serde::{Deserialize, Serialize};

use crate::clock;
use crate::peers::{Options, Peer};

/// Calls per burst; a burst is followed by a 1 ms sleep so queues never fill.
pub const BURST: u64 = 20;
/// Calls made (in bursts, same as measured ones) before timing starts.
pub const WARM_UP: u64 = 2_000;

/// p50 / p99 / p99.9 in ns.
#[derive(Debug, Clone, Copy, Default, Serialize, Deserialize)]
pub struct Percentiles {
    pub p50: f64,
    pub p99: f64,
    pub p999: f64,
}

/// What one child reports, as one JSON line on stdout prefixed with `RESULT `.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct Measured {
    /// Per-call cost of the peer's call (latency mode).
    pub call: Option<Percentiles>,
    /// Per-call cost of `black_box(i)` timed the same way in the same process (latency mode).
    pub empty: Option<Percentiles>,
    /// Per-call cost of `black_box(rdtsc)` timed the same way: the floor for a logger that
    /// reads the time-stamp counter once per record (latency mode).
    #[serde(default)]
    pub stamp: Option<Percentiles>,
    /// Records per second, start of logging to everything on disk (throughput mode).
    pub records_per_s: Option<f64>,
    /// Records logged.
    pub expected: u64,
    /// Records found in the file (or counted by the peer).
    pub written: u64,
    /// Calibrated ns per TSC tick.
    pub ns_per_tick: f64,
}

/// Times `calls` calls one by one with the TSC, in bursts of [`BURST`] and a 1 ms sleep.
#[inline(always)]
fn time_bursts(samples: &mut Vec<u64>, first: u64, calls: u64, call: impl FnMut(u64)) {
    if clock::plain() {
        time_bursts_with(samples, first, calls, call, clock::ticks_plain);
    } else {
        time_bursts_with(samples, first, calls, call, clock::ticks);
    }
}

#[inline(always)]
fn time_bursts_with(
    samples: &mut Vec<u64>,
    first: u64,
    calls: u64,
    mut call: impl FnMut(u64),
    ticks: impl Fn() -> u64,
) {
    let mut i = first;
    let end = first + calls;
    while i < end {
        let burst_end = (i + BURST).min(end);
        while i < burst_end {
            let t0 = ticks();
            call(i);
            let t1 = ticks();
            samples.push(t1.wrapping_sub(t0));
            i += 1;
        }
        std::thread::sleep(Duration::from_millis(1));
    }
}

fn percentiles(mut ticks: Vec<u64>, ns_per_tick: f64) -> Percentiles {
    ticks.sort_unstable();
    let at = |q: f64| {
        let rank = ((q * ticks.len() as f64).ceil() as usize).clamp(1, ticks.len());
        ticks[rank - 1] as f64 * ns_per_tick
    };
    Percentiles {
        p50: at(0.50),
        p99: at(0.99),
        p999: at(0.999),
    }
}

/// Lines in `file` (newline bytes), 0 if it does not exist.
fn count_lines(file: &Path) -> u64 {
    match std::fs::read(file) {
        Ok(bytes) => bytes.iter().filter(|&&b| b == b'\n').count() as u64,
        Err(_) => 0,
    }
}

/// Lines in the file (or the peer's own count), then the file is removed unless `keep`.
fn written(counted: Option<u64>, file: &Path, keep: bool) -> u64 {
    let written = counted.unwrap_or_else(|| count_lines(file));
    if !keep {
        let _ = std::fs::remove_file(file);
    }
    written
}

/// Latency mode: warm up, time `calls` empty calls, then `calls` peer calls.
pub fn latency<P: Peer>(file: &Path, options: &Options, calls: u64, keep: bool) -> Measured {
    let ns_per_tick = clock::calibrate(Duration::from_millis(200));
    let peer = P::start(file, options);
    let mut samples = Vec::with_capacity(calls.max(WARM_UP) as usize);
    time_bursts(
        &mut samples,
        0,
        WARM_UP,
        #[inline(always)]
        |i| peer.log(i),
    );
    samples.clear();
    time_bursts(&mut samples, 0, calls, |i| {
        black_box(i);
    });
    let empty = percentiles(std::mem::take(&mut samples), ns_per_tick);
    time_bursts(&mut samples, 0, calls, |i| {
        black_box(clock::ticks_plain() ^ i);
    });
    let stamp = percentiles(std::mem::take(&mut samples), ns_per_tick);
    let mut samples = Vec::with_capacity(calls as usize);
    time_bursts(
        &mut samples,
        WARM_UP,
        calls,
        #[inline(always)]
        |i| peer.log(i),
    );
    let call = percentiles(samples, ns_per_tick);
    Measured {
        call: Some(call),
        empty: Some(empty),
        stamp: Some(stamp),
        records_per_s: None,
        expected: WARM_UP + calls,
        written: written(peer.finish(), file, keep),
        ns_per_tick,
    }
}

/// Throughput mode: `producers` threads log `records` in all, then the peer is flushed and torn
/// down; the clock stops when everything is on disk.
pub fn throughput<P: Peer>(
    file: &Path,
    options: &Options,
    producers: u64,
    records: u64,
    keep: bool,
) -> Measured {
    let peer = P::start(file, options);
    let per_thread = records / producers;
    let start = Instant::now();
    std::thread::scope(|s| {
        for t in 0..producers {
            let peer = &peer;
            s.spawn(move || {
                for i in t * per_thread..(t + 1) * per_thread {
                    peer.log(i);
                }
            });
        }
    });
    let counted = peer.finish();
    let elapsed = start.elapsed();
    let written = written(counted, file, keep);
    Measured {
        call: None,
        empty: None,
        stamp: None,
        records_per_s: Some((per_thread * producers) as f64 / elapsed.as_secs_f64()),
        expected: per_thread * producers,
        written,
        ns_per_tick: 0.0,
    }
}
