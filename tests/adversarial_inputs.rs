//! Adversarial inputs the other tests do not cover: user `Display`/`Debug` code that panics,
//! fails, logs, flushes or shuts down while being formatted; records whose size is awkward
//! for the ring; logging around and after shutdown; writers that fail (`/dev/full`, a path
//! turned into a directory, a rotation that cannot rename); processors that panic, drop, log
//! or bloat; configuration values at their edges; cancelled async records.
//!
//! The rule checked throughout: a clear error or a counted failure, never a panic in the
//! drainer, never a record neither written nor counted, never a hang. Each risky operation runs
//! on a thread of its own with a deadline, so a hang fails the test instead of stalling it.
//! Tests marked `#[ignore = "bug: ..."]` assert the correct behaviour and fail today.
mod common;

use std::fmt;
use std::future::Future;
use std::path::Path;
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Barrier, Mutex, OnceLock};
use std::task::{Context, Poll, Waker};
use std::time::{Duration, Instant};

use kolog::process::Action;
use kolog::{
    ainfo, bind, info, info_life, ErrorKind, Kolog, Logger, QueueConfig, QueueManager, Sink, Stats,
};

// ---------------------------------------------------------------------------------------------
// Helpers
// ---------------------------------------------------------------------------------------------

use common::{assert_balanced, within};

/// Records a producer attempted, per the stats: enqueued ones plus those refused at the ring.
fn attempted(s: &Stats) -> u64 {
    s.enqueued + s.dropped_full + s.dropped_oversize + s.dropped_shutdown
}

fn queue(policy: &str, max_queue_size: usize) -> String {
    format!(
        r#"{{"max_queue_size": {max_queue_size}, "backpressure_policy": "{policy}", "drain_timeout": 10}}"#
    )
}

/// `root` at DEBUG with one `null` handler rendering `renderer`, and `processors`.
fn null_kolog(queue: &str, renderer: &str, processors: &str) -> Kolog {
    Kolog::from_json_str(&format!(
        r#"{{"queue": {queue}, "loggers": [{{"name": "root", "level": "DEBUG",
            "handlers": [{{"type": "null", "renderer": {renderer}, "processors": {processors}}}]}}]}}"#
    ))
    .unwrap()
}

/// `root` at DEBUG with a sink attached (rendered by a `null` handler's plain renderer).
fn sink_kolog(queue: &str) -> (Kolog, Sink) {
    let k = null_kolog(queue, r#"{"type": "stream_plain"}"#, "[]");
    let sink = Sink::new();
    k.queue_manager().add_sink("root", sink.clone());
    (k, sink)
}

/// `root` at DEBUG writing JSON lines to `path` (truncated at open).
fn file_json_kolog(path: &Path, queue: &str, processors: &str) -> Kolog {
    Kolog::from_json_str(&format!(
        r#"{{"queue": {queue}, "loggers": [{{"name": "root", "level": "DEBUG",
            "handlers": [{{"type": "file", "params": {{"filename": "{}", "mode": "w"}},
                           "renderer": {{"type": "file_json"}}, "processors": {processors}}}]}}]}}"#,
        path.display()
    ))
    .unwrap()
}

fn events(sink: &Sink) -> Vec<String> {
    sink.records()
        .iter()
        .map(|r| r.get("event").unwrap().as_str().unwrap().to_owned())
        .collect()
}

fn read_lines(path: &Path) -> Vec<String> {
    match std::fs::read_to_string(path) {
        Ok(t) => t.lines().map(str::to_owned).collect(),
        Err(_) => Vec::new(),
    }
}

fn poll_once<F: Future + Unpin>(f: &mut F) -> Poll<F::Output> {
    let waker = Waker::noop();
    let mut cx = Context::from_waker(waker);
    Pin::new(f).poll(&mut cx)
}

/// A processor that blocks the drainer on records whose event is "gate" until the gate named
/// in its params opens (each test uses its own gate).
struct Gate {
    open: Mutex<bool>,
    cond: std::sync::Condvar,
    entered: AtomicBool,
}

impl Gate {
    fn new() -> Gate {
        Gate {
            open: Mutex::new(false),
            cond: std::sync::Condvar::new(),
            entered: AtomicBool::new(false),
        }
    }
    fn wait_entered(&self) {
        let t = Instant::now();
        while !self.entered.load(Ordering::SeqCst) {
            assert!(
                t.elapsed() < Duration::from_secs(10),
                "the gate was never reached"
            );
            std::thread::yield_now();
        }
    }
    fn open(&self) {
        *self.open.lock().unwrap() = true;
        self.cond.notify_all();
    }
}

fn gates() -> &'static Mutex<std::collections::HashMap<String, Arc<Gate>>> {
    static GATES: OnceLock<Mutex<std::collections::HashMap<String, Arc<Gate>>>> = OnceLock::new();
    GATES.get_or_init(Default::default)
}

/// A new gate named `name` and the processor config that waits on it.
fn gate(name: &str) -> (Arc<Gate>, String) {
    let g = Arc::new(Gate::new());
    gates().lock().unwrap().insert(name.to_owned(), g.clone());
    kolog::register_processor("adv_gate", |params| {
        let name = params["gate"].as_str().unwrap().to_owned();
        let g = gates().lock().unwrap()[&name].clone();
        Ok(Box::new(move |ev: &mut kolog::EventDict<'_>| {
            if ev.event == "gate" {
                g.entered.store(true, Ordering::SeqCst);
                let mut open = g.open.lock().unwrap();
                while !*open {
                    open = g.cond.wait(open).unwrap();
                }
            }
            Action::Keep
        }))
    });
    (
        g,
        format!(r#"{{"type": "adv_gate", "params": {{"gate": "{name}"}}}}"#),
    )
}

// ---------------------------------------------------------------------------------------------
// Display / Debug values that misbehave on the caller's thread
// ---------------------------------------------------------------------------------------------

/// Writes a prefix, then panics.
struct PanicsMidway;

impl fmt::Display for PanicsMidway {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("half a value ")?;
        panic!("Display exploded midway")
    }
}

impl fmt::Debug for PanicsMidway {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("half a debug ")?;
        panic!("Debug exploded midway")
    }
}

/// An error whose *source* panics when formatted (the chain is walked on the caller).
#[derive(Debug)]
struct Outer(PanickingSource);
#[derive(Debug)]
struct PanickingSource;

impl fmt::Display for Outer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("outer failed")
    }
}
impl std::error::Error for Outer {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        Some(&self.0)
    }
}
impl fmt::Display for PanickingSource {
    fn fmt(&self, _: &mut fmt::Formatter<'_>) -> fmt::Result {
        panic!("source exploded")
    }
}
impl std::error::Error for PanickingSource {}

/// A panic while formatting `%x`, `?x` or an error's source chain leaves nothing half-written
/// in a tiny ring: the thread keeps logging thousands of records through it under `block`,
/// every one arrives intact and in order, and the counts balance exactly.
#[test]
fn panics_while_formatting_leave_a_tiny_ring_intact() {
    within(20, "panics while formatting", || {
        let (k, sink) = sink_kolog(&queue("block", 1));
        let log = k.logger("app").unwrap();
        let mut panics = 0;
        for round in 0..3u64 {
            info!(
                log,
                "before",
                round,
                pad = "0123456789012345678901234567890123456789"
            );
            let r = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| match round {
                0 => info!(log, "never", ok = "x", v = %PanicsMidway, n = 5u64),
                1 => info!(log, "never", v = ?PanicsMidway),
                _ => {
                    let e = Outer(PanickingSource);
                    info!(log, "never", error = &e)
                }
            }));
            panics += r.is_err() as u32;
        }
        assert_eq!(panics, 3, "each statement's panic reaches its caller");
        // The 4 KiB ring wraps hundreds of times after the panics.
        for i in 0..5_000u64 {
            info!(log, "after", i, s = %format_args!("v{i}"));
        }
        k.flush();
        let got = events(&sink);
        assert_eq!(got.len(), 5_003);
        assert!(got[..3].iter().all(|e| e == "before"));
        assert!(got[3..].iter().all(|e| e == "after"));
        let rs = sink.records();
        for (i, r) in rs[3..].iter().enumerate() {
            assert_eq!(r.get("i").unwrap(), i as u64);
            assert_eq!(r.get("s").unwrap(), &format!("v{i}"));
        }
        let s = k.stats();
        assert_eq!(
            (s.enqueued, s.written, s.failed, s.dropped),
            (5_003, 5_003, 0, 0)
        );
        assert_balanced(&s);
    });
}

/// Writes a prefix, then returns `fmt::Error`.
struct FailsMidway;

impl fmt::Display for FailsMidway {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("partial")?;
        Err(fmt::Error)
    }
}

impl fmt::Debug for FailsMidway {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("dbg-partial")?;
        Err(fmt::Error)
    }
}

/// A `Display`/`Debug` that returns `fmt::Error` is not a panic: the record goes out with what
/// was written (documented in `record::encode`), in `info!` and `ainfo!` alike.
#[test]
fn a_display_returning_fmt_error_keeps_what_it_wrote() {
    let (k, sink) = sink_kolog(&queue("block", 100));
    let log = k.logger("app").unwrap();
    info!(log, "sync", d = %FailsMidway, g = ?FailsMidway);
    let mut f = ainfo!(log, "async", d = %FailsMidway);
    assert!(poll_once(&mut f).is_ready());
    k.flush();
    let rs = sink.records();
    assert_eq!(rs.len(), 2);
    assert_eq!(rs[0].get("d").unwrap(), "partial");
    assert_eq!(rs[0].get("g").unwrap(), "dbg-partial");
    assert_eq!(rs[1].get("d").unwrap(), "partial");
    assert_balanced(&k.stats());
}

/// `bind!` with a `%value` whose `Display` returns `fmt::Error` must not panic inside kolog
/// (`info!` accepts the same value and keeps the partial text).
#[test]
fn bind_with_a_display_returning_fmt_error_does_not_panic() {
    let (k, sink) = sink_kolog(&queue("block", 100));
    let log = k.logger("app").unwrap();
    let bound = std::panic::catch_unwind(std::panic::AssertUnwindSafe(
        || bind!(log, d = %FailsMidway, g = ?FailsMidway),
    ))
    .expect("bind! panicked on a Display that returned fmt::Error");
    info!(bound, "bound");
    k.flush();
    let rs = sink.records();
    assert_eq!(rs[0].get("d").unwrap(), "partial");
    assert_eq!(rs[0].get("g").unwrap(), "dbg-partial");
}

/// A `Display` that logs while it is being formatted (re-entrant logging on the same thread,
/// nested three deep, through `info!` with plain and formatted values and through `ainfo!`):
/// every record arrives, the inner ones first (they are enqueued first).
struct LogsWhileFormatted {
    log: Logger,
    depth: u32,
}

impl fmt::Display for LogsWhileFormatted {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let depth = self.depth;
        info!(self.log, "inner plain", depth);
        if depth < 3 {
            let deeper = LogsWhileFormatted {
                log: self.log.clone(),
                depth: depth + 1,
            };
            info!(self.log, "inner formatted", depth, v = %deeper);
        }
        let mut fut = ainfo!(self.log, "inner async", depth, s = %depth);
        while poll_once(&mut fut).is_pending() {
            std::thread::yield_now();
        }
        write!(f, "outer-{depth}")
    }
}

#[test]
fn a_display_that_logs_reentrantly_loses_nothing() {
    within(10, "re-entrant logging", || {
        let (k, sink) = sink_kolog(&queue("block", 10_000));
        let log = k.logger("app").unwrap();
        for _ in 0..50 {
            info!(
                log,
                "outer",
                v = %LogsWhileFormatted { log: log.clone(), depth: 1 }
            );
        }
        k.flush();
        let got = events(&sink);
        // Per outer record: depths 1..=3 each log "inner plain" and "inner async", depths 1
        // and 2 an "inner formatted"; then the outer one.
        let one = [
            "inner plain",
            "inner plain",
            "inner plain",
            "inner async",
            "inner formatted",
            "inner async",
            "inner formatted",
            "inner async",
            "outer",
        ];
        assert_eq!(got.len(), 50 * one.len());
        for chunk in got.chunks(one.len()) {
            assert_eq!(chunk, one);
        }
        let rs = sink.records();
        assert_eq!(rs[8].get("v").unwrap(), "outer-1");
        assert_eq!(rs[6].get("v").unwrap(), "outer-2");
        let s = k.stats();
        assert_eq!((s.enqueued, s.written, s.dropped), (450, 450, 0));
        assert_balanced(&s);
    });
}

/// A `Display` that calls `flush()` while being formatted does not deadlock.
struct Flushes(Arc<Kolog>);

impl fmt::Display for Flushes {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.flush();
        f.write_str("flushed")
    }
}

#[test]
fn a_display_that_flushes_does_not_deadlock() {
    let (k, sink) = sink_kolog(&queue("block", 1));
    let k = Arc::new(k);
    let k2 = k.clone();
    within(10, "flush inside Display", move || {
        let log = k2.logger("app").unwrap();
        for i in 0..200u64 {
            info!(log, "r", i, f = %Flushes(k2.clone()));
        }
        k2.flush();
    });
    assert_eq!(sink.len(), 200);
    assert_balanced(&k.stats());
}

/// Calls `shutdown()` while being formatted.
struct ShutsDown(Arc<Kolog>);

impl fmt::Display for ShutsDown {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.shutdown().unwrap();
        f.write_str("after shutdown")
    }
}

/// The record whose `Display` shut the system down was logged after shutdown began: it must be
/// counted (`dropped_shutdown`) or written, not pushed into a ring nobody drains any more.
#[test]
fn a_display_that_shuts_down_leaves_its_record_counted() {
    let k = Arc::new(null_kolog(
        &queue("block", 100),
        r#"{"type": "file_json"}"#,
        "[]",
    ));
    let log = k.logger("app").unwrap();
    info!(log, "first");
    info!(log, "second", v = %ShutsDown(k.clone()));
    let s = k.stats();
    assert_eq!(s.written, 1);
    assert_eq!(attempted(&s), 2);
    assert_balanced(&s);
    assert_eq!(s.dropped_shutdown, 1, "{s:?}");
}

/// Blocks in `Display` until released: a producer on another thread formatting a value while
/// the main thread shuts down.
struct SlowDisplay {
    entered: Arc<Barrier>,
    release: Arc<Barrier>,
}

impl fmt::Display for SlowDisplay {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.entered.wait();
        self.release.wait();
        f.write_str("slow")
    }
}

#[test]
fn a_record_formatted_on_another_thread_across_shutdown_is_counted() {
    let k = null_kolog(&queue("block", 100), r#"{"type": "file_json"}"#, "[]");
    let log = k.logger("app").unwrap();
    let entered = Arc::new(Barrier::new(2));
    let release = Arc::new(Barrier::new(2));
    let (e2, r2) = (entered.clone(), release.clone());
    let producer = std::thread::spawn(move || {
        info!(log, "warm-up");
        info!(log, "slow", v = %SlowDisplay { entered: e2, release: r2 });
    });
    entered.wait();
    let report = k.shutdown().unwrap();
    assert_eq!(report.written, 1);
    release.wait();
    producer.join().unwrap();
    let s = k.stats();
    assert_eq!(attempted(&s), 2);
    assert_balanced(&s);
    assert_eq!(s.written + s.dropped_shutdown, 2, "{s:?}");
}

// ---------------------------------------------------------------------------------------------
// Record sizes that are awkward for the ring
// ---------------------------------------------------------------------------------------------

/// 25 small records (56-byte slots: the head ends 1,400 bytes into the 4 KiB ring), then one
/// whose 2,952-byte slot fits the empty ring but neither the 2,696 bytes before the wrap nor
/// the 1,400 after it. Returns the number of records attempted (26).
fn small_then_large(log: &Logger, k: &Kolog) -> u64 {
    for i in 0..25u64 {
        info!(log, "s", i);
    }
    k.flush();
    let big = "x".repeat(2900);
    info!(log, "large", big = big.as_str());
    26
}

/// Under `block`, a record that fits the (empty) ring is written, whatever the ring's head
/// position: it must not wait forever for space that can never appear.
#[test]
fn block_a_record_larger_than_half_the_ring_after_small_ones_does_not_hang() {
    let (k, sink) = sink_kolog(&queue("block", 1));
    let k = Arc::new(k);
    let (k2, log) = (k.clone(), k.logger("app").unwrap());
    within(10, "block: large record after small ones", move || {
        small_then_large(&log, &k2);
        k2.flush();
    });
    assert_eq!(sink.len(), 26);
    let s = k.stats();
    assert_eq!((s.written, s.dropped), (26, 0));
}

#[test]
fn drop_oldest_a_record_larger_than_half_the_ring_after_small_ones_does_not_hang() {
    let (k, sink) = sink_kolog(&queue("drop_oldest", 1));
    let k = Arc::new(k);
    let (k2, log) = (k.clone(), k.logger("app").unwrap());
    within(
        10,
        "drop_oldest: large record after small ones",
        move || {
            small_then_large(&log, &k2);
            k2.flush();
        },
    );
    assert_eq!(sink.len(), 26);
    assert_balanced(&k.stats());
}

/// Under `drop` nothing waits: a slot that fits neither before the wrap nor after it goes in
/// only once the drainer has passed the padding published for it, so the first attempt is
/// counted as `dropped_full` (never lost silently) and the ring is not wedged: the same record
/// logged again is written.
#[test]
fn drop_a_record_larger_than_half_the_ring_after_small_ones_is_counted_then_fits() {
    let (k, sink) = sink_kolog(&queue("drop", 1));
    let log = k.logger("app").unwrap();
    let total = small_then_large(&log, &k);
    k.flush();
    let s = k.stats();
    assert_eq!(attempted(&s), total);
    assert_balanced(&s);
    assert_eq!((s.written, s.dropped_full), (25, 1), "{s:?}");
    let big = "x".repeat(2900);
    info!(log, "large", big = big.as_str());
    k.flush();
    let s = k.stats();
    assert_eq!((s.written, s.dropped_full), (26, 1), "{s:?}");
    assert_balanced(&s);
    assert_eq!(sink.len(), 26);
}

#[test]
fn async_block_a_record_larger_than_half_the_ring_after_small_ones_completes() {
    let (k, sink) = sink_kolog(&queue("block", 1));
    let k = Arc::new(k);
    let (k2, log) = (k.clone(), k.logger("app").unwrap());
    within(10, "ainfo!: large record after small ones", move || {
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_time()
            .build()
            .unwrap();
        rt.block_on(async {
            for i in 0..25u64 {
                ainfo!(log, "s", i).await;
            }
            k2.flush();
            let big = "x".repeat(2900);
            ainfo!(log, "large", big = big.as_str()).await;
        });
        k2.flush();
    });
    assert_eq!(sink.len(), 26);
}

/// A record larger than the ring, under each policy, sync and async, with plain and formatted
/// values: counted as `dropped_oversize`, never truncated, never a hang; the ring keeps
/// working.
#[test]
fn records_larger_than_the_ring_are_counted_under_every_policy() {
    for policy in ["block", "drop", "drop_oldest"] {
        let (k, sink) = sink_kolog(&queue(policy, 1));
        let log = k.logger("app").unwrap();
        let k = Arc::new(k);
        let k2 = k.clone();
        within(10, policy, move || {
            let huge = "h".repeat(4096);
            info!(log, "small", i = 0u64);
            info!(log, "too big plain", huge = huge.as_str());
            info!(log, "too big display", huge = %huge);
            info!(log, "too big debug", huge = ?huge);
            let mut f = ainfo!(log, "too big async", huge = huge.as_str());
            assert!(poll_once(&mut f).is_ready(), "{policy}");
            let over = "o".repeat(4052);
            info!(log, "one byte over", over = over.as_str());
            info!(log, "small", i = 1u64);
            k2.flush();
        });
        let s = k.stats();
        assert_eq!(s.dropped_oversize, 5, "{policy}: {s:?}");
        assert_balanced(&s);
        assert_eq!(attempted(&s), 7, "{policy}: {s:?}");
        let got = events(&sink);
        assert_eq!(
            got.iter().filter(|e| e.as_str() == "small").count(),
            2,
            "{policy}: {got:?}"
        );
    }
}

/// A record whose slot is exactly the ring's size (slot = 8 + 37 + n rounded up to 8; n = 4051
/// makes 4,096) fits a fresh ring, under every policy, and arrives whole.
#[test]
fn a_record_exactly_the_size_of_a_fresh_ring_is_written_whole() {
    for policy in ["block", "drop", "drop_oldest"] {
        let (k, sink) = sink_kolog(&queue(policy, 1));
        let log = k.logger("app").unwrap();
        let k = Arc::new(k);
        let k2 = k.clone();
        within(10, policy, move || {
            let exact = "e".repeat(4051);
            info!(log, "exactly the ring", exact = exact.as_str());
            k2.flush();
        });
        let rs = sink.records();
        assert_eq!(rs.len(), 1, "{policy}");
        assert_eq!(rs[0].get("exact").unwrap().as_str().unwrap().len(), 4051);
        let s = k.stats();
        assert_eq!((s.written, s.dropped), (1, 0), "{policy}");
    }
}

// ---------------------------------------------------------------------------------------------
// Shutdown, flush and drop around producers
// ---------------------------------------------------------------------------------------------

/// After `shutdown()`: every kind of statement is counted in `dropped_shutdown` exactly, on
/// the thread that logged before and on a fresh thread; `flush()`, `add_sink`, `remove_sink`,
/// reading a sink, `info_life!` and `ainfo_life` return at once; the counts stay balanced.
#[test]
fn everything_after_shutdown_is_counted_and_nothing_waits() {
    let (k, sink) = sink_kolog(&queue("block", 1));
    let k = Arc::new(k);
    let log = k.logger("app").unwrap();
    info!(log, "before");
    let report = k.shutdown().unwrap();
    assert_eq!((report.written, report.dropped), (1, 0));
    let k2 = k.clone();
    within(10, "logging after shutdown", move || {
        let k = k2;
        info!(log, "plain", i = 1u64);
        info!(log, "formatted", d = %"x", g = ?1);
        let e = std::io::Error::other("e");
        info!(log, "error", error = &e);
        let mut f = ainfo!(log, "async");
        assert!(poll_once(&mut f).is_ready());
        {
            let _g = info_life!(log, "life"); // Begin and End
        }
        let rt = tokio::runtime::Builder::new_current_thread()
            .build()
            .unwrap();
        assert_eq!(rt.block_on(log.ainfo_life("named", async { 7 })), 7); // Begin and End
        let l2 = log.clone();
        std::thread::spawn(move || {
            for i in 0..1000u64 {
                info!(l2, "fresh thread", i);
            }
        })
        .join()
        .unwrap();
        k.flush();
        k.queue_manager().add_sink("app", Sink::new());
        k.queue_manager().remove_sink("app");
        let late = k.logger("late.logger").unwrap();
        info!(late, "late logger");
    });
    assert_eq!(sink.len(), 1);
    let s = k.stats();
    assert_eq!(s.dropped_shutdown, 4 + 2 + 2 + 1000 + 1, "{s:?}");
    assert_eq!((s.enqueued, s.written), (1, 1));
    assert_balanced(&s);
    let e = k.shutdown().unwrap_err();
    assert_eq!(e.code(), "QUEUE::QueueManager::LIFECYCLE::WARNING");
}

/// An `ainfo!` future made while its record did not fit (pending), polled for the first time
/// after shutdown: Ready at once, and the record counted as dropped at shutdown.
#[test]
fn a_pending_async_record_polled_after_shutdown_is_counted() {
    let (g, gate_cfg) = gate("pending-after-shutdown");
    let k = null_kolog(
        &queue("block", 1),
        r#"{"type": "file_json"}"#,
        &format!("[{gate_cfg}]"),
    );
    let log = k.logger("app").unwrap();
    info!(log, "gate");
    g.wait_entered();
    // The drainer is held: fill the ring until a future has to wait.
    let mut pending = None;
    let mut completed = 0u64;
    for i in 0..1000u64 {
        let mut f = ainfo!(
            log,
            "r",
            i,
            pad = "................................................"
        );
        if poll_once(&mut f).is_ready() {
            completed += 1;
        } else {
            pending = Some(f);
            break;
        }
    }
    let mut pending = pending.expect("the ring fills up");
    g.open();
    let report = k.shutdown().unwrap();
    assert_eq!(report.written, 1 + completed);
    assert!(poll_once(&mut pending).is_ready());
    let s = k.stats();
    assert_eq!(s.dropped_shutdown, 1, "{s:?}");
    assert_eq!(attempted(&s), 2 + completed);
    assert_balanced(&s);
}

/// A cancelled `ainfo!` future (dropped while Pending under `block`) was attempted; per the
/// rule its record is counted somewhere (dropped), not silently forgotten.
#[test]
fn a_cancelled_pending_async_record_is_counted_as_dropped() {
    let (g, gate_cfg) = gate("cancelled");
    let k = null_kolog(
        &queue("block", 1),
        r#"{"type": "file_json"}"#,
        &format!("[{gate_cfg}]"),
    );
    let log = k.logger("app").unwrap();
    info!(log, "gate");
    g.wait_entered();
    let mut completed = 0u64;
    for i in 0..1000u64 {
        let mut f = ainfo!(
            log,
            "r",
            i,
            pad = "................................................"
        );
        if poll_once(&mut f).is_ready() {
            completed += 1;
        } else {
            drop(f); // cancelled
            break;
        }
    }
    g.open();
    k.flush();
    let s = k.stats();
    assert_eq!(s.written, 1 + completed);
    assert_eq!(
        attempted(&s),
        2 + completed,
        "the cancelled record is not counted: {s:?}"
    );
    assert_eq!(s.dropped, 1, "{s:?}");
}

/// Two threads call `shutdown()` at once: exactly one gets the report, the other the
/// LIFECYCLE warning; neither hangs.
#[test]
fn concurrent_shutdowns_one_report_one_lifecycle_error() {
    for _ in 0..20 {
        let (k, _sink) = sink_kolog(&queue("block", 100));
        let k = Arc::new(k);
        let log = k.logger("app").unwrap();
        for i in 0..100u64 {
            info!(log, "r", i);
        }
        let results = within(10, "two shutdowns", move || {
            let b = Arc::new(Barrier::new(2));
            let hs: Vec<_> = (0..2)
                .map(|_| {
                    let (k, b) = (k.clone(), b.clone());
                    std::thread::spawn(move || {
                        b.wait();
                        k.shutdown()
                    })
                })
                .collect();
            hs.into_iter()
                .map(|h| h.join().unwrap())
                .collect::<Vec<_>>()
        });
        let ok: Vec<_> = results.iter().filter_map(|r| r.as_ref().ok()).collect();
        assert_eq!(ok.len(), 1);
        assert_eq!(ok[0].written, 100);
        let err = results.iter().find_map(|r| r.as_ref().err()).unwrap();
        assert_eq!(err.kind(), ErrorKind::QueueManager);
        assert_eq!(err.code(), "QUEUE::QueueManager::LIFECYCLE::WARNING");
    }
}

/// Eight threads flush in a loop while four log (formatted values, a tiny `block` ring): no
/// flush hangs, and after the last one everything is written.
#[test]
fn flush_storm_while_logging() {
    let (k, sink) = sink_kolog(&queue("block", 1));
    let k = Arc::new(k);
    let k2 = k.clone();
    within(30, "flush storm", move || {
        let stop = Arc::new(AtomicBool::new(false));
        let flushers: Vec<_> = (0..8)
            .map(|_| {
                let (k, stop) = (k2.clone(), stop.clone());
                std::thread::spawn(move || {
                    let mut n = 0u64;
                    while !stop.load(Ordering::Relaxed) {
                        k.flush();
                        n += 1;
                    }
                    n
                })
            })
            .collect();
        let producers: Vec<_> = (0..4u64)
            .map(|p| {
                let log = k2.logger("app").unwrap();
                std::thread::spawn(move || {
                    for i in 0..5_000u64 {
                        info!(log, "r", p, i, s = %i);
                    }
                })
            })
            .collect();
        for p in producers {
            p.join().unwrap();
        }
        stop.store(true, Ordering::Relaxed);
        for f in flushers {
            assert!(f.join().unwrap() > 0);
        }
        k2.flush();
    });
    assert_eq!(sink.len(), 20_000);
    let s = k.stats();
    assert_eq!((s.enqueued, s.written, s.dropped), (20_000, 20_000, 0));
}

/// Dropping the `Kolog` while four threads keep logging on a tiny `block` ring: the drop
/// returns (it does not wait for the producers), and the producers, some of them parked on a
/// full ring, neither hang nor panic.
#[test]
fn dropping_kolog_while_threads_log_neither_hangs_nor_panics() {
    let k = null_kolog(&queue("block", 1), r#"{"type": "file_json"}"#, "[]");
    let go = Arc::new(Barrier::new(5));
    let attempts = Arc::new(AtomicU64::new(0));
    let producers: Vec<_> = (0..4u64)
        .map(|p| {
            let (log, go, attempts) = (k.logger("app").unwrap(), go.clone(), attempts.clone());
            std::thread::spawn(move || {
                go.wait();
                let t = Instant::now();
                let mut i = 0u64;
                while t.elapsed() < Duration::from_millis(300) {
                    info!(log, "r", p, i);
                    i += 1;
                }
                attempts.fetch_add(i, Ordering::SeqCst);
            })
        })
        .collect();
    go.wait();
    std::thread::sleep(Duration::from_millis(50));
    within(10, "drop while logging", move || drop(k));
    for p in producers {
        within(10, "producer after drop", move || p.join().unwrap());
    }
    assert!(attempts.load(Ordering::SeqCst) > 0);
}

/// Two-step form, shut down while four threads log values that take a moment to format:
/// once they finish, every attempt is accounted for (written or dropped at shutdown).
#[test]
fn shutdown_while_threads_log_accounts_for_every_attempt() {
    struct Slowish(u64);
    impl fmt::Display for Slowish {
        fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
            let t = Instant::now();
            while t.elapsed() < Duration::from_micros(200) {
                std::hint::spin_loop();
            }
            write!(f, "{}", self.0)
        }
    }
    let qm = Arc::new(QueueManager::start(QueueConfig::default()).unwrap());
    let factory = kolog::LoggerFactory::from_json_str(
        r#"{"loggers": [{"name": "root", "handlers": [{"type": "null", "renderer": {"type": "file_json"}}]}]}"#,
        &qm,
    )
    .unwrap();
    let attempts = Arc::new(AtomicU64::new(0));
    let go = Arc::new(Barrier::new(5));
    let producers: Vec<_> = (0..4u64)
        .map(|p| {
            let (log, go, attempts) = (
                factory.get_logger("app").unwrap(),
                go.clone(),
                attempts.clone(),
            );
            std::thread::spawn(move || {
                go.wait();
                for i in 0..2_000u64 {
                    info!(log, "r", p, i, v = %Slowish(i));
                    attempts.fetch_add(1, Ordering::SeqCst);
                }
            })
        })
        .collect();
    go.wait();
    std::thread::sleep(Duration::from_millis(30));
    let qm2 = qm.clone();
    within(10, "shutdown while logging", move || {
        qm2.shutdown().unwrap()
    });
    for p in producers {
        p.join().unwrap();
    }
    let s = qm.stats();
    assert_eq!(attempted(&s), attempts.load(Ordering::SeqCst), "{s:?}");
    assert_balanced(&s);
}

// ---------------------------------------------------------------------------------------------
// Writers that fail
// ---------------------------------------------------------------------------------------------

fn file_handler(path: &Path, renderer: &str) -> String {
    format!(
        r#"{{"type": "file", "params": {{"filename": "{}", "mode": "w"}}, "renderer": {{"type": "{renderer}"}}}}"#,
        path.display()
    )
}

/// `/dev/full` as the log file: every write fails with ENOSPC. Each record is counted as
/// failed exactly once, none as written, and nothing hangs.
#[test]
fn dev_full_counts_every_record_as_failed() {
    let k = Kolog::from_json_str(&format!(
        r#"{{"loggers": [{{"name": "root", "handlers": [{}]}}]}}"#,
        file_handler(Path::new("/dev/full"), "file_json")
    ))
    .unwrap();
    let log = k.logger("app").unwrap();
    let k = Arc::new(k);
    let k2 = k.clone();
    within(10, "/dev/full", move || {
        for i in 0..300u64 {
            info!(log, "to the void", i, s = %i);
            if i % 50 == 0 {
                k2.flush();
            }
        }
        k2.flush();
    });
    let s = k.stats();
    assert_eq!((s.enqueued, s.written, s.failed), (300, 0, 300), "{s:?}");
    assert_balanced(&s);
    let r = k.shutdown().unwrap();
    assert_eq!((r.written, r.failed), (0, 300));
}

/// One logger, two handlers that both fail (`/dev/full` twice): a record that failed in both
/// is still one record; `failed` must not count it twice (or push `written` below zero).
#[test]
fn a_record_failing_in_two_handlers_is_counted_once() {
    let k = Kolog::from_json_str(&format!(
        r#"{{"loggers": [{{"name": "root", "handlers": [{}, {}]}}]}}"#,
        file_handler(Path::new("/dev/full"), "file_json"),
        file_handler(Path::new("/dev/full"), "file_plain")
    ))
    .unwrap();
    let log = k.logger("app").unwrap();
    for i in 0..10u64 {
        info!(log, "r", i);
    }
    k.flush();
    let s = k.stats();
    assert_eq!(s.enqueued, 10);
    assert_balanced(&s);
    assert_eq!((s.written, s.failed), (0, 10), "{s:?}");
}

/// A record that one handler writes and another fails to write is counted exactly once.
#[test]
fn a_record_written_by_one_handler_and_failed_by_another_is_counted_once() {
    let dir = common::temp_dir("adv-half-failed");
    let good = dir.join("good.log");
    let k = Kolog::from_json_str(&format!(
        r#"{{"loggers": [{{"name": "root", "handlers": [{}, {}]}}]}}"#,
        file_handler(&good, "file_json"),
        file_handler(Path::new("/dev/full"), "file_json")
    ))
    .unwrap();
    let log = k.logger("app").unwrap();
    for i in 0..10u64 {
        info!(log, "r", i);
    }
    k.flush();
    let s = k.stats();
    assert_eq!(read_lines(&good).len(), 10);
    assert_eq!(s.enqueued, 10);
    assert_eq!(s.written + s.failed, 10, "{s:?}");
    assert_balanced(&s);
    let _ = std::fs::remove_dir_all(dir);
}

/// kolog's own drop report is not an enqueued record (it is not counted as written when it is
/// written); when its write fails it must not be counted as failed either, or the counts stop
/// balancing.
#[test]
fn kolog_own_reports_into_a_failing_handler_keep_the_counts_balanced() {
    let k = Kolog::from_json_str(&format!(
        r#"{{"queue": {}, "loggers": [{{"name": "root", "handlers": [{}]}}]}}"#,
        queue("drop", 1),
        file_handler(Path::new("/dev/full"), "file_json")
    ))
    .unwrap();
    let log = k.logger("app").unwrap();
    let huge = "h".repeat(10_000);
    info!(log, "oversize", huge = huge.as_str()); // dropped_oversize: a drop report follows
    info!(log, "normal");
    k.flush();
    std::thread::sleep(Duration::from_millis(1300)); // the report interval is 1 s
    info!(log, "normal again");
    k.flush();
    let s = k.stats();
    assert_eq!((s.enqueued, s.dropped_oversize), (2, 1));
    assert_balanced(&s);
    assert_eq!((s.written, s.failed), (0, 2), "{s:?}");
}

/// The log file is replaced by a directory while the system runs: writes fail and are counted,
/// then the directory goes away and writing resumes with a recovery report.
#[test]
fn a_log_file_replaced_by_a_directory_fails_counted_then_recovers() {
    let dir = common::temp_dir("adv-file-to-dir");
    let path = dir.join("app.log");
    let k = file_json_kolog(&path, &queue("block", 100), "[]");
    let log = k.logger("app").unwrap();
    info!(log, "one");
    k.flush();
    std::fs::remove_file(&path).unwrap();
    std::fs::create_dir(&path).unwrap();
    std::thread::sleep(Duration::from_millis(1100)); // the identity check runs once a second
    for i in 0..5u64 {
        info!(log, "while a directory", i);
        k.flush();
    }
    let s = k.stats();
    assert_eq!((s.written, s.failed), (1, 5), "{s:?}");
    std::fs::remove_dir(&path).unwrap();
    info!(log, "back");
    k.flush();
    let lines = read_lines(&path);
    assert_eq!(lines.len(), 2, "{lines:?}");
    assert!(lines[0].contains(r#""event":"back""#));
    assert!(lines[1].contains("recovered after 5 records failed to write"));
    let s = k.stats();
    assert_eq!((s.written, s.failed), (2, 5));
    assert_balanced(&s);
    let _ = std::fs::remove_dir_all(dir);
}

fn rotating_kolog(path: &Path, params: &str, processors: &str) -> Kolog {
    Kolog::from_json_str(&format!(
        r#"{{"loggers": [{{"name": "root", "level": "DEBUG", "handlers": [{{"type": "rotating_file",
            "params": {{"filename": "{}", {params}}}, "renderer": {{"type": "file_json"}},
            "processors": {processors}}}]}}]}}"#,
        path.display()
    ))
    .unwrap()
}

/// A rotating file deleted mid-run is recreated, like a plain file.
#[test]
fn a_deleted_rotating_file_is_recreated() {
    let dir = common::temp_dir("adv-rot-deleted");
    let path = dir.join("app.log");
    let k = rotating_kolog(&path, r#""max_bytes": 1000000, "backup_count": 2"#, "[]");
    let log = k.logger("app").unwrap();
    info!(log, "before");
    k.flush();
    std::fs::remove_file(&path).unwrap();
    std::thread::sleep(Duration::from_millis(1100));
    info!(log, "after");
    k.flush();
    let lines = read_lines(&path);
    assert_eq!(lines.len(), 1, "{lines:?}");
    assert!(lines[0].contains(r#""event":"after""#));
    let s = k.stats();
    assert_eq!((s.written, s.failed), (2, 0));
    let _ = std::fs::remove_dir_all(dir);
}

/// Size rotation that cannot rename (`app.log.1` is a directory): the records of the batch
/// that were appended before the rotation was attempted are in the file; they must not also
/// be counted as failed (the file's lines and `written` must agree).
#[test]
fn a_failed_rotation_counts_only_the_records_not_written() {
    let dir = common::temp_dir("adv-rot-blocked");
    let path = dir.join("app.log");
    std::fs::create_dir(dir.join("app.log.1")).unwrap();
    let (g, gate_cfg) = gate("rotation-blocked");
    // The gate record (DEBUG) holds the drainer, then is filtered out: the two records logged
    // meanwhile make the next batch, into an empty file.
    let k = rotating_kolog(
        &path,
        r#""max_bytes": 1, "backup_count": 1"#,
        &format!(
            r#"[{gate_cfg}, {{"type": "filter_by_level", "params": {{"min_level": "INFO"}}}}]"#
        ),
    );
    let log = k.logger("app").unwrap();
    kolog::debug!(log, "gate");
    g.wait_entered();
    info!(log, "second");
    info!(log, "third");
    g.open();
    k.flush();
    let s = k.stats();
    let lines = read_lines(&path);
    assert_eq!((s.enqueued, s.filtered), (3, 1));
    assert_balanced(&s);
    assert_eq!(
        lines.len() as u64,
        s.written,
        "lines in the file vs written: {lines:?} {s:?}"
    );
    let _ = std::fs::remove_dir_all(dir);
}

/// Time rotation faster than the one-second resolution of the backup names: names get `.1`,
/// `.2`, ... suffixes; nothing is lost, and with `backup_count` 0 every backup is kept.
#[test]
fn sub_second_time_rotation_keeps_every_record() {
    let dir = common::temp_dir("adv-rot-fast");
    let path = dir.join("app.log");
    let k = rotating_kolog(&path, r#""rotation_interval": 0.000001"#, "[]");
    let log = k.logger("app").unwrap();
    let k = Arc::new(k);
    let k2 = k.clone();
    within(20, "fast time rotation", move || {
        for i in 0..30u64 {
            info!(log, "r", i);
            k2.flush();
        }
    });
    let s = k.shutdown().unwrap();
    assert_eq!((s.written, s.failed), (30, 0));
    let mut seen = Vec::new();
    for e in std::fs::read_dir(&dir).unwrap() {
        for line in read_lines(&e.unwrap().path()) {
            let v: serde_json::Value = serde_json::from_str(&line).unwrap();
            seen.push(v["i"].as_u64().unwrap());
        }
    }
    seen.sort();
    assert_eq!(seen, (0..30).collect::<Vec<_>>());
    let _ = std::fs::remove_dir_all(dir);
}

/// With `backup_count` 3, time rotation keeps the three *newest* backups, also when more than
/// ten rotations share one second (names `.1` … `.11`).
#[test]
fn sub_second_time_rotation_keeps_the_newest_backups() {
    let dir = common::temp_dir("adv-rot-prune");
    let path = dir.join("app.log");
    let k = rotating_kolog(
        &path,
        r#""rotation_interval": 0.000001, "backup_count": 3"#,
        "[]",
    );
    let log = k.logger("app").unwrap();
    // Start right after a second boundary so that all rotations share one second.
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap();
    std::thread::sleep(Duration::from_nanos(
        1_000_000_000 - u64::from(now.subsec_nanos()),
    ));
    for i in 0..13u64 {
        info!(log, "r", i);
        k.flush();
    }
    k.shutdown().unwrap();
    let mut backups = Vec::new();
    for e in std::fs::read_dir(&dir).unwrap() {
        let p = e.unwrap().path();
        if p == path {
            continue;
        }
        for line in read_lines(&p) {
            let v: serde_json::Value = serde_json::from_str(&line).unwrap();
            backups.push(v["i"].as_u64().unwrap());
        }
    }
    backups.sort();
    assert_eq!(backups, [9, 10, 11], "the newest three backups are kept");
    let _ = std::fs::remove_dir_all(dir);
}

// ---------------------------------------------------------------------------------------------
// Custom processors that misbehave on the drainer
// ---------------------------------------------------------------------------------------------

fn custom(name: &str) -> String {
    format!(r#"[{{"type": "{name}"}}]"#)
}

/// Panics on every third record, with a `&str`, a `String` and a non-string payload in turn:
/// each counted as failed once, the rest written, the drainer alive afterwards.
#[test]
fn a_processor_panicking_sometimes_with_any_payload_is_counted_exactly() {
    kolog::register_processor("adv_panics_sometimes", |_| {
        Ok(Box::new(|ev: &mut kolog::EventDict<'_>| {
            if let Some(kolog::record::Value::U64(i)) = ev.get("i") {
                match i % 9 {
                    0 => panic!("str payload"),
                    3 => std::panic::panic_any(format!("String payload {i}")),
                    6 => std::panic::panic_any(42u32),
                    _ => {}
                }
            }
            Action::Keep
        }))
    });
    let dir = common::temp_dir("adv-panics-sometimes");
    let path = dir.join("app.log");
    let k = file_json_kolog(&path, &queue("block", 100), &custom("adv_panics_sometimes"));
    let log = k.logger("app").unwrap();
    for i in 0..90u64 {
        info!(log, "r", i);
    }
    k.flush();
    info!(log, "still alive");
    k.flush();
    let s = k.stats();
    assert_eq!((s.enqueued, s.written, s.failed), (91, 61, 30), "{s:?}");
    assert_balanced(&s);
    let lines = read_lines(&path);
    assert_eq!(lines.len(), 61);
    assert!(lines[60].contains("still alive"));
    let _ = std::fs::remove_dir_all(dir);
}

/// A processor that drops every event: all counted as filtered, through the handler and
/// through a sink.
#[test]
fn a_processor_dropping_everything_counts_every_record_as_filtered() {
    kolog::register_processor("adv_drops_all", |_| {
        Ok(Box::new(|_: &mut kolog::EventDict<'_>| Action::Drop))
    });
    let k = null_kolog(
        &queue("block", 1),
        r#"{"type": "file_json"}"#,
        &custom("adv_drops_all"),
    );
    let log = k.logger("app").unwrap();
    for i in 0..1000u64 {
        info!(log, "r", i, s = %i);
    }
    k.flush();
    let sink = Sink::new();
    k.queue_manager().add_sink("root", sink.clone());
    for i in 0..10u64 {
        info!(log, "r", i);
    }
    assert_eq!(sink.len(), 0);
    let s = k.stats();
    assert_eq!((s.enqueued, s.written, s.filtered), (1010, 0, 1010));
    assert_balanced(&s);
}

/// A processor that adds an 8 MiB field and a field with hostile key and value: the line is
/// written whole, one valid JSON object, with the key and value escaped.
#[test]
fn a_processor_adding_huge_and_hostile_fields_writes_one_valid_line() {
    kolog::register_processor("adv_bloats", |_| {
        Ok(Box::new(|ev: &mut kolog::EventDict<'_>| {
            ev.insert("huge", kolog::record::Value::String("z".repeat(8 << 20)));
            ev.insert(
                "k\"\n\u{0}ey",
                kolog::record::Value::String("v\"\\\n\u{1b}".into()),
            );
            ev.event = "line1\nline2".into();
            Action::Keep
        }))
    });
    let dir = common::temp_dir("adv-bloats");
    let path = dir.join("app.log");
    let k = file_json_kolog(&path, &queue("block", 1), &custom("adv_bloats"));
    let log = k.logger("app").unwrap();
    info!(log, "r", i = 1u64);
    info!(log, "r", i = 2u64);
    k.shutdown().unwrap();
    let lines = read_lines(&path);
    assert_eq!(lines.len(), 2);
    for l in &lines {
        let v: serde_json::Value = serde_json::from_str(l).unwrap();
        assert_eq!(v["huge"].as_str().unwrap().len(), 8 << 20);
        assert_eq!(v["k\"\n\u{0}ey"], "v\"\\\n\u{1b}");
        assert_eq!(v["event"], "line1\nline2");
    }
    let _ = std::fs::remove_dir_all(dir);
}

static LOGGING_PROCESSOR_TARGET: Mutex<Option<Logger>> = Mutex::new(None);

/// A custom processor that logs (a metrics or audit processor) runs on the drainer; under
/// `block` its own ring fills up, and the drainer must not wait for itself.
#[test]
fn a_processor_that_logs_many_records_does_not_deadlock_the_drainer() {
    kolog::register_processor("adv_logs", |_| {
        Ok(Box::new(|ev: &mut kolog::EventDict<'_>| {
            if ev.event == "trigger" {
                let log = LOGGING_PROCESSOR_TARGET.lock().unwrap().clone().unwrap();
                for i in 0..500u64 {
                    info!(
                        log,
                        "from the processor",
                        i,
                        pad = "................................"
                    );
                }
            }
            Action::Keep
        }))
    });
    let k = Arc::new(null_kolog(
        &queue("block", 1),
        r#"{"type": "file_json"}"#,
        &custom("adv_logs"),
    ));
    *LOGGING_PROCESSOR_TARGET.lock().unwrap() = Some(k.logger("audit").unwrap());
    let log = k.logger("app").unwrap();
    let k2 = k.clone();
    within(10, "processor logging under block", move || {
        info!(log, "trigger");
        k2.flush();
        k2.flush();
    });
    let s = k.stats();
    assert_eq!(attempted(&s), 501);
    assert_balanced(&s);
}

// ---------------------------------------------------------------------------------------------
// Configuration values at their edges
// ---------------------------------------------------------------------------------------------

/// `drain_timeout: Duration::MAX` in a `QueueConfig` built in code (the document form caps it
/// at 1e9 s): either rejected by `start` or honoured; a shutdown must not panic the drainer.
#[test]
fn a_huge_drain_timeout_in_code_does_not_panic_the_drainer() {
    let started = QueueManager::start(QueueConfig {
        drain_timeout: Duration::MAX,
        ..QueueConfig::default()
    });
    let qm = match started {
        Err(e) => {
            assert_eq!(e.kind(), ErrorKind::Configuration);
            return;
        }
        Ok(qm) => qm,
    };
    let f = kolog::LoggerFactory::from_json_str(
        r#"{"loggers": [{"name": "root", "handlers": [{"type": "null"}]}]}"#,
        &qm,
    )
    .unwrap();
    let log = f.get_logger("app").unwrap();
    for i in 0..10u64 {
        info!(log, "r", i);
    }
    let r = within(10, "shutdown with Duration::MAX", move || qm.shutdown());
    let r = r.expect("shutdown with a huge drain_timeout");
    assert_eq!(r.written, 10);
}

/// `drain_timeout` 0 with records queued behind a held drainer: shutdown still returns, and
/// every record is written or counted as `dropped_timeout`.
#[test]
fn a_zero_drain_timeout_accounts_for_every_queued_record() {
    let (g, gate_cfg) = gate("zero-timeout");
    let k = Arc::new(null_kolog(
        r#"{"max_queue_size": 1000, "backpressure_policy": "block", "drain_timeout": 0}"#,
        r#"{"type": "file_json"}"#,
        &format!("[{gate_cfg}]"),
    ));
    let log = k.logger("app").unwrap();
    info!(log, "gate");
    g.wait_entered();
    for i in 0..500u64 {
        info!(log, "r", i);
    }
    let g2 = g.clone();
    let opener = std::thread::spawn(move || {
        std::thread::sleep(Duration::from_millis(100));
        g2.open();
    });
    let k2 = k.clone();
    let r = within(10, "shutdown with drain_timeout 0", move || {
        k2.shutdown().unwrap()
    });
    opener.join().unwrap();
    assert_eq!(r.written + r.dropped_timeout, 501, "{r:?}");
    assert_eq!(r.enqueued, 501);
    assert_balanced(&k.stats());
}

/// `max_queue_size` far beyond the document's limit, in code: the ring is capped (1 GiB,
/// mapped lazily) and logging works.
#[test]
fn a_huge_max_queue_size_in_code_is_capped_and_works() {
    let qm = QueueManager::start(QueueConfig {
        max_queue_size: usize::MAX,
        ..QueueConfig::default()
    })
    .unwrap();
    assert_eq!(qm.ring_bytes(), 1 << 30);
    let f = kolog::LoggerFactory::from_json_str(
        r#"{"loggers": [{"name": "root", "handlers": [{"type": "null"}]}]}"#,
        &qm,
    )
    .unwrap();
    let log = f.get_logger("app").unwrap();
    for i in 0..1000u64 {
        info!(log, "r", i);
    }
    let r = qm.shutdown().unwrap();
    assert_eq!(r.written, 1000);
}

/// Queue values at and just past their documented limits.
#[test]
fn queue_values_at_their_limits() {
    let ok = |q: &str| {
        kolog::LoggingSystemConfig::from_json_str(&format!(r#"{{"queue": {q}, "loggers": []}}"#))
    };
    assert_eq!(
        ok(r#"{"max_queue_size": 1}"#).unwrap().queue.max_queue_size,
        1
    );
    assert_eq!(
        ok(r#"{"max_queue_size": 16777216}"#)
            .unwrap()
            .queue
            .max_queue_size,
        16_777_216
    );
    assert_eq!(
        ok(r#"{"drain_timeout": 0}"#).unwrap().queue.drain_timeout,
        Duration::ZERO
    );
    for (q, says) in [
        (r#"{"max_queue_size": 16777217}"#, "must be between 1"),
        (r#"{"max_queue_size": 1e3}"#, "whole number"),
        (
            r#"{"max_queue_size": 18446744073709551616}"#,
            "max_queue_size",
        ),
        (
            r#"{"max_queue_size": "10"}"#,
            "expected a non-negative integer",
        ),
        (r#"{"drain_timeout": "5"}"#, "expected a number of seconds"),
        (r#"{"drain_timeout": 1e10}"#, "seconds must be at most"),
        (
            r#"{"drain_timeout": -0.000001}"#,
            "seconds must be 0 or more",
        ),
        (r#"{"drain_timeout": null}"#, "drain_timeout"),
    ] {
        let e = ok(q).unwrap_err();
        assert_eq!(e.kind(), ErrorKind::Configuration, "{q}");
        assert_eq!(
            e.code(),
            "CONFIGURATION::LoggerFactory::VALIDATION::ERROR",
            "{q}: {}",
            e.msg()
        );
        assert!(e.msg().contains(says), "{q}: {}", e.msg());
    }
    // A number too large for any float is a parse error.
    let e = ok(r#"{"drain_timeout": 1e400}"#).unwrap_err();
    assert_eq!(e.code(), "CONFIGURATION::LoggerFactory::PARSING::ERROR");
}

/// Rotating-file values at their edges load: max_bytes 0, backup_count 0, and a huge
/// backup_count; an interval of 0 or a negative one does not.
#[test]
fn rotating_file_values_at_their_edges() {
    let doc = |params: &str| {
        format!(
            r#"{{"loggers": [{{"name": "root", "handlers": [{{"type": "rotating_file", "params": {{"filename": "/tmp/adv-x.log", {params}}}}}]}}]}}"#
        )
    };
    for good in [
        r#""max_bytes": 0, "backup_count": 0"#,
        r#""max_bytes": 18446744073709551615, "backup_count": 4294967295"#,
        r#""rotation_interval": null"#,
        r#""rotation_interval": 1e-9"#,
    ] {
        kolog::LoggingSystemConfig::from_json_str(&doc(good)).unwrap();
    }
    for (bad, says) in [
        (r#""backup_count": 4294967296"#, "too large"),
        (r#""rotation_interval": -1"#, "greater than 0"),
        (
            r#""rotation_interval": "1h""#,
            "expected a number of seconds",
        ),
        (r#""max_bytes": 1.5"#, "whole number"),
    ] {
        let e = kolog::LoggingSystemConfig::from_json_str(&doc(bad)).unwrap_err();
        assert_eq!(e.code(), "CONFIGURATION::LoggerFactory::VALIDATION::ERROR");
        assert!(e.msg().contains(says), "{bad}: {}", e.msg());
    }
}

/// `max_bytes` 1 with `backup_count` 1: every record rotates into a fresh file; the newest
/// record is in the file, the one before in `.1`, nothing else is kept and nothing fails.
#[test]
fn max_bytes_one_rotates_every_record() {
    let dir = common::temp_dir("adv-rot-one");
    let path = dir.join("app.log");
    let k = rotating_kolog(&path, r#""max_bytes": 1, "backup_count": 1"#, "[]");
    let log = k.logger("app").unwrap();
    for i in 0..20u64 {
        info!(log, "r", i);
    }
    let r = k.shutdown().unwrap();
    assert_eq!((r.written, r.failed), (20, 0));
    let cur = read_lines(&path);
    let old = read_lines(&dir.join("app.log.1"));
    assert_eq!((cur.len(), old.len()), (1, 1));
    assert!(cur[0].contains(r#""i":19"#));
    assert!(old[0].contains(r#""i":18"#));
    assert_eq!(std::fs::read_dir(&dir).unwrap().count(), 2);
    let _ = std::fs::remove_dir_all(dir);
}

/// YAML: anchors and aliases expand; merge keys work; an alias bomb, duplicate keys and
/// several documents are errors, promptly.
#[test]
fn yaml_anchors_aliases_and_bombs() {
    let c = kolog::LoggingSystemConfig::from_yaml_str(
        "loggers:\n  - name: a\n    handlers: [&h {type: \"null\"}]\n    context: &ctx {app: x}\n  - name: b\n    handlers: [*h]\n    context: {<<: *ctx, env: prod}\n",
    )
    .unwrap();
    assert_eq!(c.loggers[1].handlers, c.loggers[0].handlers);
    assert_eq!(c.loggers[1].context["app"], "x");
    assert_eq!(c.loggers[1].context["env"], "prod");
    let mut bomb = String::from("a: &a [x, x, x, x, x, x, x, x, x, x]\n");
    for (name, prev) in ["b", "c", "d", "e", "f", "g", "h", "i"]
        .iter()
        .zip(["a", "b", "c", "d", "e", "f", "g", "h"])
    {
        bomb.push_str(&format!(
            "{name}: &{name} [{}]\n",
            vec![format!("*{prev}"); 10].join(", ")
        ));
    }
    bomb.push_str("loggers: []\n");
    let bomb = Arc::new(bomb);
    for doc in [
        bomb.as_str().to_owned(),
        "loggers: []\nloggers: [{name: root}]\n".into(),
        "loggers:\n  - name: root\n    level: INFO\n    level: LOUD\n".into(),
        "---\nloggers: []\n---\nloggers: []\n".into(),
    ] {
        let e = within(10, "yaml", move || {
            kolog::LoggingSystemConfig::from_yaml_str(&doc).unwrap_err()
        });
        assert_eq!(
            e.code(),
            "CONFIGURATION::LoggerFactory::PARSING::ERROR",
            "{}",
            e.msg()
        );
    }
}

/// JSON with a duplicate key: YAML rejects the same document (`duplicate mapping key`), and a
/// validated configuration should not silently keep only the last value.
#[test]
fn json_duplicate_keys_are_errors() {
    for doc in [
        r#"{"loggers": [{"name": "root", "level": "DEBUG"}], "loggers": []}"#,
        r#"{"loggers": [{"name": "root", "level": "DEBUG", "level": "ERROR"}]}"#,
    ] {
        let e = kolog::LoggingSystemConfig::from_json_str(doc).unwrap_err();
        assert_eq!(e.kind(), ErrorKind::Configuration);
        assert!(e.msg().contains("duplicate"), "{}", e.msg());
    }
}

/// An unsupported `datefmt` directive or `fmt` conversion that is not ASCII is named as
/// written, not as its first byte read as Latin-1.
#[test]
fn non_ascii_format_errors_name_the_character() {
    let doc = |params: &str| {
        format!(
            r#"{{"loggers": [{{"name": "root", "handlers": [{{"type": "null", "renderer": {{"type": "stream_plain", "params": {params}}}}}]}}]}}"#
        )
    };
    let e = kolog::LoggingSystemConfig::from_json_str(&doc(r#"{"datefmt": "%é"}"#)).unwrap_err();
    assert!(
        e.msg().contains("unsupported directive `%é`"),
        "{}",
        e.msg()
    );
    let e = kolog::LoggingSystemConfig::from_json_str(&doc(r#"{"fmt": "%(a)é"}"#)).unwrap_err();
    assert!(
        e.msg().contains("unsupported conversion `é`"),
        "{}",
        e.msg()
    );
}

/// Malformed `fmt` strings are configuration errors, never panics; odd but valid ones load.
#[test]
fn odd_fmt_and_datefmt_strings() {
    let doc = |params: String| {
        format!(
            r#"{{"loggers": [{{"name": "root", "handlers": [{{"type": "null", "renderer": {{"type": "stream_plain", "params": {params}}}}}]}}]}}"#
        )
    };
    let fmt = |f: &str| {
        doc(format!(
            r#"{{"fmt": {}}}"#,
            serde_json::to_string(f).unwrap()
        ))
    };
    let datefmt = |f: &str| {
        doc(format!(
            r#"{{"datefmt": {}}}"#,
            serde_json::to_string(f).unwrap()
        ))
    };
    for bad in [
        "%(",
        "%(é",
        "%(a)",
        "%(a)-",
        "%(a)1025s",
        "%(a)99999999999999999999999s",
        "%",
        "%()s",
        "%(a))s",
        "tail %",
    ] {
        let e = kolog::LoggingSystemConfig::from_json_str(&fmt(bad)).unwrap_err();
        assert_eq!(
            e.code(),
            "CONFIGURATION::LoggerFactory::VALIDATION::ERROR",
            "{bad}"
        );
        assert!(
            e.msg().contains("renderer.params.fmt"),
            "{bad}: {}",
            e.msg()
        );
    }
    for good in [
        "%(a)-s",
        "%%(a)s",
        "%(%(a)s)s",
        "%(a)1024s",
        "",
        "no keys at all",
    ] {
        kolog::LoggingSystemConfig::from_json_str(&fmt(good)).unwrap();
    }
    for bad in ["%", "%Y-%", "%é", "%E", "%-d"] {
        let e = kolog::LoggingSystemConfig::from_json_str(&datefmt(bad)).unwrap_err();
        assert!(
            e.msg().contains("renderer.params.datefmt"),
            "{bad}: {}",
            e.msg()
        );
    }
    for good in ["%Y年%m月", "\u{0}%H", "", "%%"] {
        kolog::LoggingSystemConfig::from_json_str(&datefmt(good)).unwrap();
    }
}

// ---------------------------------------------------------------------------------------------
// Escaping, hostile names and keys, byte for byte
// ---------------------------------------------------------------------------------------------

/// Every C0 control character, DEL, U+0085, U+2028/U+2029, quote and backslash.
fn hostile() -> String {
    (0u8..0x20)
        .map(char::from)
        .chain(['\u{7f}', '\u{85}', '\u{2028}', '\u{2029}', '"', '\\', 'é'])
        .collect()
}

/// The plain renderer's documented escaping of one character inside a quoted tail value.
fn plain_quoted(c: char) -> String {
    let esc = match c {
        '\n' => "\\n".to_owned(),
        '\r' => "\\r".to_owned(),
        '\t' => "\\t".to_owned(),
        c if c.is_control() || c == '\u{2028}' || c == '\u{2029}' => {
            format!("\\u{{{:x}}}", c as u32)
        }
        c => c.to_string(),
    };
    if c == '"' || c == '\\' {
        format!("\\{esc}")
    } else {
        esc
    }
}

fn plain_kolog(path: &Path, context: &str, processors: &str) -> Kolog {
    Kolog::from_json_str(&format!(
        r#"{{"loggers": [{{"name": "root", "level": "DEBUG", "context": {context},
            "handlers": [{{"type": "file", "params": {{"filename": "{}", "mode": "w"}},
                "renderer": {{"type": "file_plain", "params": {{"fmt": "%(level)s|%(name)s|%(event)s"}}}},
                "processors": {processors}}}]}}]}}"#,
        path.display()
    ))
    .unwrap()
}

/// Plain output, byte for byte, on the direct path (no processors) and on the event path (a
/// custom processor): control characters in the logger name, the message, a string field, a
/// Display field and a bound context key and value are escaped; one record, one line.
#[test]
fn plain_output_escapes_every_control_character_byte_for_byte() {
    kolog::register_processor("adv_keep", |_| {
        Ok(Box::new(|_: &mut kolog::EventDict<'_>| Action::Keep))
    });
    let dir = common::temp_dir("adv-plain-escape");
    let h = hostile();
    let quoted: String = h.chars().map(plain_quoted).collect();
    let ctx = serde_json::json!({ "ctx\nkey": "a\u{1b}b" }).to_string();
    for (name, processors) in [("direct", "[]".to_owned()), ("event", custom("adv_keep"))] {
        let path = dir.join(format!("{name}.log"));
        let k = plain_kolog(&path, &ctx, &processors);
        let log = k.logger("we\nird\u{1b}.name").unwrap();
        info!(log, "msg\u{0}\u{7}\n\u{2028}end", s = h.as_str(), d = %h);
        k.shutdown().unwrap();
        let text = std::fs::read_to_string(&path).unwrap();
        let expected = format!(
            "INFO|we\\nird\\u{{1b}}.name|msg\\u{{0}}\\u{{7}}\\n\\u{{2028}}end ctx\\nkey=a\\u{{1b}}b s=\"{quoted}\" d=\"{quoted}\"\n"
        );
        assert_eq!(text, expected, "{name} path");
    }
    let _ = std::fs::remove_dir_all(dir);
}

/// JSON output: the same hostile text in the message, a field, the logger name and a context
/// key and value round-trips exactly, the line holds no raw control byte, and the direct and
/// event paths write the same bytes (apart from the timestamp).
#[test]
fn json_output_escapes_every_control_character_and_both_paths_agree() {
    kolog::register_processor("adv_keep", |_| {
        Ok(Box::new(|_: &mut kolog::EventDict<'_>| Action::Keep))
    });
    let dir = common::temp_dir("adv-json-escape");
    let h = hostile();
    let ctx = serde_json::json!({ "ctx\"\nkey": h }).to_string();
    let mut tails = Vec::new();
    for (name, processors) in [("direct", "[]".to_owned()), ("event", custom("adv_keep"))] {
        let path = dir.join(format!("{name}.log"));
        let k = Kolog::from_json_str(&format!(
            r#"{{"loggers": [{{"name": "root", "level": "DEBUG", "context": {ctx},
                "handlers": [{{"type": "file", "params": {{"filename": "{}", "mode": "w"}},
                    "renderer": {{"type": "file_json"}}, "processors": {processors}}}]}}]}}"#,
            path.display()
        ))
        .unwrap();
        let log = k.logger("we\"ird\n\u{0}").unwrap();
        info!(log, "msg\u{0}\u{1f}\u{7f}\u{2028}\"\\", s = h.as_str(), d = %h, n = -1i64);
        k.shutdown().unwrap();
        let text = std::fs::read_to_string(&path).unwrap();
        assert_eq!(text.matches('\n').count(), 1, "{name}: one line");
        let line = text.trim_end_matches('\n');
        assert!(
            line.bytes().all(|b| b >= 0x20),
            "{name}: raw control byte in {line:?}"
        );
        let v: serde_json::Value = serde_json::from_str(line).unwrap();
        assert_eq!(v["logger"], "we\"ird\n\u{0}");
        assert_eq!(v["event"], "msg\u{0}\u{1f}\u{7f}\u{2028}\"\\");
        assert_eq!(v["s"], h.as_str());
        assert_eq!(v["d"], h.as_str());
        assert_eq!(v["ctx\"\nkey"], h.as_str());
        assert_eq!(v["n"], -1);
        let tail = &line[line.find(r#","level""#).unwrap()..];
        tails.push(tail.to_owned());
    }
    assert_eq!(tails[0], tails[1], "direct and event paths differ");
    let _ = std::fs::remove_dir_all(dir);
}

/// A bound context key that a statement's field repeats: one key in the JSON line (the
/// record's value), the same on the direct path, the event path and in a sink.
#[test]
fn a_field_repeating_a_context_key_appears_once_with_the_records_value() {
    kolog::register_processor("adv_keep", |_| {
        Ok(Box::new(|_: &mut kolog::EventDict<'_>| Action::Keep))
    });
    let dir = common::temp_dir("adv-collide");
    for (name, processors) in [("direct", "[]".to_owned()), ("event", custom("adv_keep"))] {
        for renderer in ["file_json", "file_plain"] {
            let path = dir.join(format!("{name}-{renderer}.log"));
            let k = Kolog::from_json_str(&format!(
                r#"{{"loggers": [{{"name": "root", "context": {{"user": "ctx", "env": "prod"}},
                    "handlers": [{{"type": "file", "params": {{"filename": "{}", "mode": "w"}},
                        "renderer": {{"type": "{renderer}"}}, "processors": {processors}}}]}}]}}"#,
                path.display()
            ))
            .unwrap();
            let log = k.logger("app").unwrap();
            info!(log, "m", user = "rec");
            k.shutdown().unwrap();
            let text = std::fs::read_to_string(&path).unwrap();
            if renderer == "file_json" {
                assert_eq!(text.matches(r#""user":"#).count(), 1, "{name}: {text}");
                assert!(text.contains(r#""user":"rec""#), "{name}: {text}");
            } else {
                assert_eq!(text.matches(" user=").count(), 1, "{name} plain: {text}");
                assert!(text.contains(" user=rec"), "{name} plain: {text}");
            }
        }
    }
    let _ = std::fs::remove_dir_all(dir);
}

/// Logger names the configuration would reject (empty segments, dots at the ends) and a 1 MiB
/// one resolve through the hierarchy to `root` without a panic and are written as given; the
/// empty name is a configuration error.
#[test]
fn odd_and_very_long_logger_names() {
    let (k, sink) = sink_kolog(&queue("block", 100));
    let e = k.logger("").unwrap_err();
    assert_eq!(e.code(), "CONFIGURATION::LoggerFactory::VALIDATION::ERROR");
    let long = "n".repeat(1 << 20) + ".end";
    let names = [".", "app.", ".app", "a..b", "root.", long.as_str()];
    for n in names {
        let log = k.logger(n).unwrap();
        assert_eq!(log.name(), n);
        info!(log, "named");
    }
    let got: Vec<_> = sink
        .records()
        .iter()
        .map(|r| r.get("logger").unwrap().as_str().unwrap().to_owned())
        .collect();
    assert_eq!(got, names);
    assert!(sink.events()[5].len() > long.len());
}

/// `logger(name)` walks up the hierarchy one segment at a time, hashing the whole prefix each
/// time: a name with many segments (here 100,000, 800 KB) must still resolve promptly.
#[test]
fn a_logger_name_with_many_segments_resolves_promptly() {
    let k = Arc::new(null_kolog(
        &queue("block", 100),
        r#"{"type": "file_json"}"#,
        "[]",
    ));
    let name = "segment.".repeat(100_000) + "end";
    let k2 = k.clone();
    let log = within(10, "resolve a 100,000-segment name", move || {
        k2.logger(&name).unwrap()
    });
    assert!(log.name().ends_with(".end"));
}
