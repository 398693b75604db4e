//! Third adversarial round: ordering and time, flush semantics, the async front end across
//! threads and runtimes, renderer key collisions and escaping, deep and repeated binds, and
//! stats read while records move.
//!
//! Tests marked `#[ignore = "bug: ..."]` assert the correct behaviour and fail today.

mod common;

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{mpsc, Arc, Barrier, Condvar, Mutex, OnceLock};
use std::time::{Duration, Instant};

use common::assert_balanced;
use kolog::process::Action;
use kolog::{ainfo, bind, info, Kolog, Sink};

// ---------------------------------------------------------------------------------------------
// Helpers
// ---------------------------------------------------------------------------------------------

/// Runs `f` on a thread of its own; a hang fails the test after `secs` instead of sticking.
fn within<T: Send + 'static>(secs: u64, f: impl FnOnce() -> T + Send + 'static) -> T {
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        let r = std::panic::catch_unwind(std::panic::AssertUnwindSafe(f));
        let _ = tx.send(r);
    });
    match rx.recv_timeout(Duration::from_secs(secs)) {
        Ok(Ok(v)) => v,
        Ok(Err(p)) => std::panic::resume_unwind(p),
        Err(_) => panic!("hung for {secs} s"),
    }
}

fn temp_dir(tag: &str) -> PathBuf {
    let d = std::env::temp_dir().join(format!("kolog-r3-{tag}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&d);
    std::fs::create_dir_all(&d).unwrap();
    d
}

fn read_lines(path: &Path) -> Vec<String> {
    std::fs::read_to_string(path)
        .unwrap_or_default()
        .lines()
        .map(str::to_owned)
        .collect()
}

fn queue(policy: &str, max_queue_size: usize) -> String {
    format!(
        r#"{{"max_queue_size": {max_queue_size}, "backpressure_policy": "{policy}", "drain_timeout": 10}}"#
    )
}

/// `root` at DEBUG writing to `path` (truncated at open) with `renderer` and `processors`.
fn file_kolog(path: &Path, queue: &str, renderer: &str, processors: &str, context: &str) -> Kolog {
    Kolog::from_json_str(&format!(
        r#"{{"queue": {queue}, "loggers": [{{"name": "root", "level": "DEBUG", "context": {context},
            "handlers": [{{"type": "file", "params": {{"filename": "{}", "mode": "w"}},
                           "renderer": {renderer}, "processors": {processors}}}]}}]}}"#,
        path.display()
    ))
    .unwrap()
}

fn null_kolog(queue: &str) -> Kolog {
    Kolog::from_json_str(&format!(
        r#"{{"queue": {queue}, "loggers": [{{"name": "root", "level": "DEBUG", "handlers": [{{"type": "null"}}]}}]}}"#
    ))
    .unwrap()
}

fn json(line: &str) -> serde_json::Map<String, serde_json::Value> {
    match serde_json::from_str::<serde_json::Value>(line) {
        Ok(serde_json::Value::Object(m)) => m,
        other => panic!("not a JSON object: {line:?} ({other:?})"),
    }
}

/// A processor that blocks the drainer on records whose event is "gate" until the gate named
/// in its params opens.
struct Gate {
    open: Mutex<bool>,
    cond: Condvar,
    entered: AtomicBool,
}

impl Gate {
    fn wait_entered(&self) {
        let t = Instant::now();
        while !self.entered.load(Ordering::SeqCst) {
            assert!(t.elapsed() < Duration::from_secs(10), "gate never reached");
            std::thread::yield_now();
        }
    }
    fn open(&self) {
        *self.open.lock().unwrap() = true;
        self.cond.notify_all();
    }
}

fn gate(name: &str) -> (Arc<Gate>, String) {
    static GATES: OnceLock<Mutex<std::collections::HashMap<String, Arc<Gate>>>> = OnceLock::new();
    let gates = GATES.get_or_init(Default::default);
    let g = Arc::new(Gate {
        open: Mutex::new(false),
        cond: Condvar::new(),
        entered: AtomicBool::new(false),
    });
    gates.lock().unwrap().insert(name.to_owned(), g.clone());
    kolog::register_processor("r3_gate", |params| {
        let name = params["gate"].as_str().unwrap().to_owned();
        let g = GATES.get().unwrap().lock().unwrap()[&name].clone();
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
        format!(r#"[{{"type": "r3_gate", "params": {{"gate": "{name}"}}}}]"#),
    )
}

/// Polls `f` to completion on this thread, parking between polls.
fn block_on<F: std::future::Future>(f: F) -> F::Output {
    struct Unpark(std::thread::Thread);
    impl std::task::Wake for Unpark {
        fn wake(self: Arc<Self>) {
            self.0.unpark();
        }
    }
    let waker = std::task::Waker::from(Arc::new(Unpark(std::thread::current())));
    let mut cx = std::task::Context::from_waker(&waker);
    let mut f = std::pin::pin!(f);
    loop {
        if let std::task::Poll::Ready(v) = f.as_mut().poll(&mut cx) {
            return v;
        }
        std::thread::park_timeout(Duration::from_millis(10));
    }
}

fn poll_once<F: std::future::Future + Unpin>(f: &mut F) -> std::task::Poll<F::Output> {
    let mut cx = std::task::Context::from_waker(std::task::Waker::noop());
    std::pin::Pin::new(f).poll(&mut cx)
}

fn timestamps(lines: &[String]) -> Vec<String> {
    lines
        .iter()
        .map(|l| json(l)["timestamp"].as_str().unwrap().to_owned())
        .collect()
}

fn assert_sorted(stamps: &[String]) {
    for w in stamps.windows(2) {
        assert!(
            w[0] <= w[1],
            "timestamps out of order: {} then {}",
            w[0],
            w[1]
        );
    }
}

// ---------------------------------------------------------------------------------------------
// Ordering and time
// ---------------------------------------------------------------------------------------------

/// A producer parked on a full ring under `block` must not come out behind a record another
/// thread logged (and the drainer wrote) while it waited, with an earlier timestamp: the
/// destination's timestamps stay in order.
#[test]
fn a_producer_waiting_on_a_full_ring_keeps_the_output_in_timestamp_order() {
    within(20, || {
        let dir = temp_dir("blocked-order");
        let path = dir.join("o.log");
        let (g, procs) = gate("blocked-order");
        let k = file_kolog(
            &path,
            &queue("block", 1),
            r#"{"type": "file_json"}"#,
            &procs,
            "{}",
        );
        let log = k.logger("root").unwrap();
        info!(log, "gate");
        g.wait_entered();
        let progress = Arc::new(AtomicU64::new(0));
        let (la, pa) = (log.clone(), progress.clone());
        let a = std::thread::spawn(move || {
            for i in 0..400u64 {
                info!(la, "a", i);
                pa.store(i + 1, Ordering::SeqCst);
            }
        });
        // Wait until `a` stops advancing: it is parked on its full ring.
        let mut last = u64::MAX;
        loop {
            std::thread::sleep(Duration::from_millis(100));
            let now = progress.load(Ordering::SeqCst);
            if now == last {
                break;
            }
            last = now;
        }
        assert!(last < 400, "the ring never filled");
        let lb = log.clone();
        std::thread::spawn(move || info!(lb, "b")).join().unwrap();
        g.open();
        a.join().unwrap();
        let s = k.shutdown().unwrap();
        assert_eq!(s.written, 402, "{s:?}");
        let lines = read_lines(&path);
        assert_eq!(lines.len(), 402);
        let stamps: Vec<String> = lines
            .iter()
            .map(|l| json(l)["timestamp"].as_str().unwrap().to_owned())
            .collect();
        for w in stamps.windows(2) {
            assert!(
                w[0] <= w[1],
                "timestamps out of order: {} then {}",
                w[0],
                w[1]
            );
        }
        // Thread a's records stay in its order.
        let a_seq: Vec<u64> = lines
            .iter()
            .map(|l| json(l))
            .filter(|m| m["event"] == "a")
            .map(|m| m["i"].as_u64().unwrap())
            .collect();
        assert_eq!(a_seq, (0..400).collect::<Vec<_>>());
    });
}

/// An `ainfo!` future left pending on a full ring on one thread and completed on another,
/// after that thread logged: its record goes into the second thread's ring, after that
/// thread's record, and must not carry an earlier timestamp than it.
#[test]
fn an_ainfo_future_completed_on_another_thread_keeps_timestamp_order() {
    within(20, || {
        let dir = temp_dir("async-order");
        let path = dir.join("o.log");
        let (g, procs) = gate("async-order");
        let k = file_kolog(
            &path,
            &queue("block", 1),
            r#"{"type": "file_json"}"#,
            &procs,
            "{}",
        );
        let log = k.logger("root").unwrap();
        info!(log, "gate");
        g.wait_entered();
        let lx = log.clone();
        let (pending, filled) = std::thread::spawn(move || {
            let mut n = 0u64;
            loop {
                let mut f = ainfo!(lx, "x", n);
                if poll_once(&mut f).is_pending() {
                    return (f, n);
                }
                n += 1;
                assert!(n < 10_000, "the ring never filled");
            }
        })
        .join()
        .unwrap();
        std::thread::sleep(Duration::from_millis(20));
        let ly = log.clone();
        let y = std::thread::spawn(move || {
            info!(ly, "y");
            block_on(pending);
        });
        std::thread::sleep(Duration::from_millis(20));
        g.open();
        y.join().unwrap();
        let s = k.shutdown().unwrap();
        assert_eq!(s.written, filled + 3, "{s:?}");
        assert_eq!(s.dropped, 0, "{s:?}");
        let lines = read_lines(&path);
        assert_eq!(lines.len() as u64, filled + 3);
        assert_sorted(&timestamps(&lines));
    });
}

/// 8 threads, a one-record ring each, `block`: every record arrives, each thread's records in
/// its order with non-decreasing timestamps.
#[test]
fn eight_threads_tiny_rings_block_per_thread_order_and_timestamps() {
    within(60, || {
        let dir = temp_dir("eight");
        let path = dir.join("o.log");
        let k = file_kolog(
            &path,
            &queue("block", 1),
            r#"{"type": "file_json"}"#,
            "[]",
            "{}",
        );
        let log = k.logger("root").unwrap();
        let barrier = Arc::new(Barrier::new(8));
        let threads: Vec<_> = (0..8u64)
            .map(|t| {
                let (log, barrier) = (log.clone(), barrier.clone());
                std::thread::spawn(move || {
                    barrier.wait();
                    for i in 0..3000u64 {
                        info!(
                            log,
                            "m",
                            t,
                            i,
                            pad = "xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx"
                        );
                    }
                })
            })
            .collect();
        for t in threads {
            t.join().unwrap();
        }
        k.flush();
        let s = k.stats();
        assert_balanced(&s);
        assert_eq!(s.written, 24_000, "{s:?}");
        assert_eq!(s.dropped, 0, "{s:?}");
        let lines = read_lines(&path);
        assert_eq!(lines.len(), 24_000);
        let mut next = [0u64; 8];
        let mut last: Vec<String> = vec![String::new(); 8];
        for l in &lines {
            let m = json(l);
            let t = m["t"].as_u64().unwrap() as usize;
            assert_eq!(m["i"].as_u64().unwrap(), next[t]);
            next[t] += 1;
            let ts = m["timestamp"].as_str().unwrap().to_owned();
            assert!(last[t] <= ts, "thread {t}: {} then {ts}", last[t]);
            last[t] = ts;
        }
        drop(k);
    });
}

/// One thread logs in bursts across the drainer's clock recalibrations (every second): the
/// timestamps it gets never go backwards.
#[test]
fn timestamps_stay_monotone_across_clock_recalibration() {
    within(30, || {
        let dir = temp_dir("recal");
        let path = dir.join("o.log");
        let k = file_kolog(
            &path,
            &queue("block", 10000),
            r#"{"type": "file_json"}"#,
            "[]",
            "{}",
        );
        let log = k.logger("root").unwrap();
        let start = Instant::now();
        let mut n = 0u64;
        while start.elapsed() < Duration::from_millis(3300) {
            let ms = start.elapsed().as_millis() % 1000;
            if !(900..=1000).contains(&ms) && ms > 100 {
                std::thread::sleep(Duration::from_millis(5));
                continue;
            }
            info!(log, "m", n);
            n += 1;
        }
        let s = k.shutdown().unwrap();
        assert_eq!(s.written, n);
        let mut last = String::new();
        let mut backwards = Vec::new();
        for l in read_lines(&path) {
            let ts = json(&l)["timestamp"].as_str().unwrap().to_owned();
            if ts < last {
                backwards.push(format!("{last} -> {ts}"));
            }
            last = ts;
        }
        assert!(
            backwards.is_empty(),
            "{} steps back: {:?}",
            backwards.len(),
            &backwards[..backwards.len().min(5)]
        );
    });
}

// ---------------------------------------------------------------------------------------------
// Stats read while records move
// ---------------------------------------------------------------------------------------------

/// A reader polling `stats()` while four threads log never sees more outcomes than records.
#[test]
fn stats_read_while_logging_never_show_more_outcomes_than_records() {
    within(60, || {
        let k = Arc::new(null_kolog(&queue("block", 64)));
        let stop = Arc::new(AtomicBool::new(false));
        let producers: Vec<_> = (0..3)
            .map(|_| {
                let (log, stop) = (k.logger("root").unwrap(), stop.clone());
                std::thread::spawn(move || {
                    let mut n = 0u64;
                    while !stop.load(Ordering::Relaxed) {
                        info!(log, "m", n);
                        n += 1;
                    }
                    n
                })
            })
            .collect();
        let mut bad = Vec::new();
        let t = Instant::now();
        let mut reads = 0;
        while t.elapsed() < Duration::from_secs(2) {
            let s = k.stats();
            reads += 1;
            let out = s.written + s.filtered + s.failed + s.dropped_oldest + s.dropped_timeout;
            if out > s.enqueued && bad.len() < 5 {
                bad.push(s);
            }
        }
        stop.store(true, Ordering::Relaxed);
        let total: u64 = producers.into_iter().map(|p| p.join().unwrap()).sum();
        k.flush();
        let s = k.stats();
        assert_balanced(&s);
        assert_eq!(s.enqueued, total);
        assert!(bad.is_empty(), "{reads} reads, impossible: {bad:#?}");
    });
}

// ---------------------------------------------------------------------------------------------
// Renderers: fixed keys, escaping, odd characters, long lines
// ---------------------------------------------------------------------------------------------

/// Counts top-level keys named `key` in a JSON object's text (compact or indented).
fn key_count(text: &str, key: &str) -> usize {
    let v: serde_json::Value = serde_json::from_str(text).unwrap();
    let obj = v.as_object().unwrap();
    // serde_json keeps the last of duplicate keys; count the key in the text instead, as a
    // key (followed by a colon) at any indentation.
    let needle = format!("\"{key}\":");
    let n = text.matches(&needle).count();
    assert!(n <= 1 || obj.contains_key(key));
    n
}

/// Context and fields named like the fixed JSON keys, compact and indented: each fixed key
/// appears once with its own value, the others as `fields.<key>`.
#[test]
fn fixed_json_keys_win_over_context_and_fields_compact_and_indented() {
    within(20, || {
        for indentation in ["", r#", "params": {"indentation": 2}"#] {
            let dir = temp_dir("fixed-keys");
            let path = dir.join("o.log");
            let k = file_kolog(
                &path,
                &queue("block", 100),
                &format!(r#"{{"type": "file_json"{indentation}}}"#),
                "[]",
                r#"{"timestamp": "ctx-ts", "level": "ctx-level", "logger": "ctx-logger", "event": "ctx-event"}"#,
            );
            let log = k.logger("root").unwrap();
            let b = bind!(log, timestamp = "b-ts", level = "b-level");
            info!(
                b,
                "the event",
                logger = "f-logger",
                event = "f-event",
                n = 1
            );
            k.shutdown().unwrap();
            let text = std::fs::read_to_string(&path).unwrap();
            let objects: Vec<serde_json::Value> = serde_json::Deserializer::from_str(&text)
                .into_iter()
                .collect::<Result<_, _>>()
                .unwrap();
            assert_eq!(objects.len(), 1, "{text}");
            for key in ["timestamp", "level", "logger", "event"] {
                assert_eq!(key_count(&text, key), 1, "{key} in {text}");
            }
            let o = objects[0].as_object().unwrap();
            assert_eq!(o["level"], "INFO", "{text}");
            assert_eq!(o["logger"], "root", "{text}");
            assert_eq!(o["event"], "the event", "{text}");
            assert!(o["timestamp"].as_str().unwrap().ends_with('Z'), "{text}");
            assert_eq!(o["fields.timestamp"], "b-ts", "{text}");
            assert_eq!(o["fields.level"], "b-level", "{text}");
            assert_eq!(o["fields.logger"], "f-logger", "{text}");
            assert_eq!(o["fields.event"], "f-event", "{text}");
            assert_eq!(o["n"], 1, "{text}");
            assert_eq!(text.matches("fields.timestamp").count(), 1, "{text}");
        }
    });
}

/// Context keys that need quoting in plain `key=value` output are quoted as values are
/// (spaces, `=`, quotes, empty), control characters escaped; `%(absent)s` prints nothing.
#[test]
fn plain_keys_with_spaces_equals_quotes_and_newlines() {
    within(20, || {
        let dir = temp_dir("plain-keys");
        let path = dir.join("o.log");
        let k = file_kolog(
            &path,
            &queue("block", 100),
            r#"{"type": "file_plain", "params": {"fmt": "%(event)s|%(absent)s|%(n)s"}}"#,
            "[]",
            r#"{"a b": 1, "k=v": 2, "q\"": 3, "nl\nx": 4, "": 5}"#,
        );
        let log = k.logger("root").unwrap();
        info!(log, "e", n = 7);
        k.shutdown().unwrap();
        let text = std::fs::read_to_string(&path).unwrap();
        assert_eq!(
            text, "e||7 \"a b\"=1 \"k=v\"=2 \"q\\\"\"=3 nl\\nx=4 \"\"=5\n",
            "{text}"
        );
    });
}

/// A lone `\r`, a BOM and a 1 MB value, plain and JSON: one line each, byte for byte.
#[test]
fn carriage_returns_boms_and_megabyte_values() {
    within(30, || {
        let big = "é".repeat(512 * 1024); // 1 MiB of UTF-8
        for renderer in ["file_plain", "file_json"] {
            let dir = temp_dir("cr-bom");
            let path = dir.join("o.log");
            let k = file_kolog(
                &path,
                &queue("block", 100_000),
                &format!(r#"{{"type": "{renderer}", "params": {{"fmt": "%(event)s"}}}}"#),
                "[]",
                "{}",
            );
            let log = k.logger("root").unwrap();
            info!(log, "cr", v = "a\rb");
            info!(log, "bom", v = "\u{FEFF}x");
            info!(log, "big", v = big.as_str());
            let s = k.shutdown().unwrap();
            assert_eq!(s.written, 3, "{s:?}");
            let lines = read_lines(&path);
            assert_eq!(lines.len(), 3);
            if renderer == "file_plain" {
                assert_eq!(lines[0], "cr v=a\\rb");
                assert_eq!(lines[1], "bom v=\u{FEFF}x");
                assert_eq!(lines[2], format!("big v={big}"));
            } else {
                assert_eq!(json(&lines[0])["v"], "a\rb");
                assert_eq!(json(&lines[1])["v"], "\u{FEFF}x");
                assert_eq!(json(&lines[2])["v"], big.as_str());
            }
        }
    });
}

// ---------------------------------------------------------------------------------------------
// bind!
// ---------------------------------------------------------------------------------------------

/// 1,000 nested binds of distinct keys, then of the same key: every key once, the last value.
#[test]
fn a_thousand_nested_binds_and_the_same_key_rebound() {
    within(30, || {
        let k = null_kolog(&queue("block", 1000));
        let sink = Sink::new();
        k.queue_manager().add_sink("root", sink.clone());
        let log = k.logger("root").unwrap();
        let mut b = log.clone();
        for i in 0..1000u64 {
            b = b.bind_fields(&[(
                format!("k{i}").as_str(),
                kolog::__private::FieldValue::U64(i),
            )]);
        }
        let mut same = log.clone();
        for i in 0..1000u64 {
            same = bind!(same, key = i);
        }
        info!(b, "deep");
        info!(same, "same");
        k.flush();
        let recs = sink.records();
        assert_eq!(recs.len(), 2);
        for i in 0..1000u64 {
            assert_eq!(recs[0].get(&format!("k{i}")).unwrap(), i);
        }
        assert_eq!(recs[1].get("key").unwrap(), 999);
        let line = &sink.events()[1];
        assert_eq!(line.matches("key=").count(), 1, "{line}");
        assert!(line.ends_with(" key=999"), "{line}");
        let s = k.shutdown().unwrap();
        assert_eq!(s.written, 2);
    });
}

/// A bound logger (and a clone of it) used after its Kolog was dropped: counted, no panic.
#[test]
fn a_bound_logger_used_after_its_kolog_is_dropped() {
    within(20, || {
        let k = null_kolog(&queue("block", 1));
        let log = k.logger("root").unwrap();
        let b = bind!(log, a = 1);
        drop(log);
        drop(k);
        let c = bind!(b, c = 2);
        for i in 0..1000 {
            info!(b, "late", i);
            info!(c, "late", i);
        }
        block_on(ainfo!(c, "late async"));
    });
}

// ---------------------------------------------------------------------------------------------
// datefmt at edge dates (a child process: the fixed time is process-wide)
// ---------------------------------------------------------------------------------------------

const EDGE_DATES: [(u64, &str); 6] = [
    // One microsecond after the epoch (0 would restore the real clock).
    (
        1_000,
        "1970 70 01 01 00 12 00 00 000001 001 Jan January Thu Thursday AM +0000 UTC 0 %",
    ),
    // A leap day in a leap century year.
    (
        951_829_509_123_456_000,
        "2000 00 02 29 13 01 05 09 123456 060 Feb February Tue Tuesday PM +0000 UTC 951829509 %",
    ),
    // 2100 is not a leap year: March 1st is day 60.
    (
        4_107_542_400_000_000_000,
        "2100 00 03 01 00 12 00 00 000000 060 Mar March Mon Monday AM +0000 UTC 4107542400 %",
    ),
    // The last microsecond of a leap year: day 366.
    (
        1_735_689_599_999_999_000,
        "2024 24 12 31 23 11 59 59 999999 366 Dec December Tue Tuesday PM +0000 UTC 1735689599 %",
    ),
    // The last nanosecond of a leap day: %f truncates, never rounds into the next day.
    (
        1_709_251_199_999_999_999,
        "2024 24 02 29 23 11 59 59 999999 060 Feb February Thu Thursday PM +0000 UTC 1709251199 %",
    ),
    // The largest time a u64 of nanoseconds holds.
    (
        u64::MAX,
        "2554 54 07 21 23 11 34 33 709551 202 Jul July Sun Sunday PM +0000 UTC 18446744073 %",
    ),
];

/// Every datefmt directive at edge dates, against hand-checked strings; the same second twice
/// with different microseconds (the per-second cache must not reuse `%f`).
#[test]
fn datefmt_every_directive_at_edge_dates() {
    if std::env::var("KOLOG_R3_CHILD").as_deref() == Ok("datefmt") {
        let k = Kolog::from_json_str(
            r#"{"loggers": [{"name": "root", "handlers": [{"type": "null", "renderer": {"type": "stream_plain",
                "params": {"fmt": "%(asctime)s", "datefmt": "%Y %y %m %d %H %I %M %S %f %j %b %B %a %A %p %z %Z %s %%"}}}]}]}"#,
        )
        .unwrap();
        let json_k = Kolog::from_json_str(
            r#"{"loggers": [{"name": "root", "handlers": [{"type": "null", "renderer": {"type": "stream_json"}}]}]}"#,
        )
        .unwrap();
        let sink = Sink::new();
        let json_sink = Sink::new();
        k.queue_manager().add_sink("root", sink.clone());
        json_k.queue_manager().add_sink("root", json_sink.clone());
        let log = k.logger("root").unwrap();
        let jlog = json_k.logger("root").unwrap();
        // Each date, then one microsecond off it in the same second (the per-second cache
        // must not reuse `%f`).
        let near = |ns: u64| {
            if ns % 1_000_000_000 > 1_000 {
                ns - 1_000
            } else {
                ns + 1_000
            }
        };
        for (ns, _) in EDGE_DATES {
            for ns in [ns, near(ns)] {
                kolog::set_fixed_time(ns);
                info!(log, "d");
                info!(jlog, "d");
                k.flush();
                json_k.flush();
            }
        }
        let got = sink.events();
        assert_eq!(got.len(), 2 * EDGE_DATES.len());
        for (i, (ns, text)) in EDGE_DATES.iter().enumerate() {
            assert_eq!(got[2 * i].trim_end(), *text, "at {ns} ns");
            let us = near(*ns) / 1_000 % 1_000_000;
            let mut other = text.split(' ').map(str::to_owned).collect::<Vec<_>>();
            other[8] = format!("{us:06}");
            assert_eq!(got[2 * i + 1].trim_end(), other.join(" "), "near {ns} ns");
        }
        let stamps: Vec<String> = json_sink
            .events()
            .iter()
            .map(|l| json(l)["timestamp"].as_str().unwrap().to_owned())
            .collect();
        assert_eq!(stamps[0], "1970-01-01T00:00:00.000001Z");
        assert_eq!(stamps[2], "2000-02-29T13:05:09.123456Z");
        assert_eq!(stamps[8], "2024-02-29T23:59:59.999999Z");
        assert_eq!(stamps[10], "2554-07-21T23:34:33.709551Z");
        println!("CHILD OK");
        return;
    }
    let out = std::process::Command::new(std::env::current_exe().unwrap())
        .args([
            "datefmt_every_directive_at_edge_dates",
            "--exact",
            "--nocapture",
            "--test-threads=1",
        ])
        .env("KOLOG_R3_CHILD", "datefmt")
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success() && stdout.contains("CHILD OK"),
        "{stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

// ---------------------------------------------------------------------------------------------
// flush
// ---------------------------------------------------------------------------------------------

/// Records other threads logged before `flush()` (their `info!` returned, and they told the
/// flushing thread) are in the file when it returns: many rounds, several flushers at once,
/// a sink on a second logger.
#[test]
fn flush_waits_for_records_other_threads_logged_before_it() {
    within(60, || {
        let dir = temp_dir("flush-others");
        let path = dir.join("o.log");
        let k = Arc::new(Kolog::from_json_str(&format!(
            r#"{{"queue": {}, "loggers": [
                {{"name": "root", "level": "DEBUG", "handlers": [{{"type": "file",
                    "params": {{"filename": "{}", "mode": "w"}}, "renderer": {{"type": "file_plain", "params": {{"fmt": "%(event)s"}}}}}}]}},
                {{"name": "side", "handlers": [{{"type": "null"}}]}}]}}"#,
            queue("block", 4),
            path.display()
        ))
        .unwrap());
        let sink = Sink::new();
        k.queue_manager().add_sink("side", sink.clone());
        let log = k.logger("root").unwrap();
        let side = k.logger("side").unwrap();
        let mut total = 0usize;
        for round in 0..30u64 {
            let barrier = Arc::new(Barrier::new(5));
            let producers: Vec<_> = (0..4u64)
                .map(|t| {
                    let (log, side, barrier) = (log.clone(), side.clone(), barrier.clone());
                    std::thread::spawn(move || {
                        for i in 0..200u64 {
                            info!(log, "r", round, t, i);
                            info!(side, "s", i);
                        }
                        barrier.wait();
                    })
                })
                .collect();
            barrier.wait();
            total += 800;
            // Three flushers at once, from threads that did not log.
            let flushers: Vec<_> = (0..3)
                .map(|_| {
                    let (k, path) = (k.clone(), path.clone());
                    std::thread::spawn(move || {
                        k.flush();
                        read_lines(&path).len()
                    })
                })
                .collect();
            for f in flushers {
                assert!(
                    f.join().unwrap() >= total,
                    "round {round}: flush returned early"
                );
            }
            assert_eq!(sink.len(), total);
            for p in producers {
                p.join().unwrap();
            }
        }
        k.flush();
        let s = k.stats();
        assert_balanced(&s);
        assert_eq!(s.written, 2 * total as u64, "{s:?}");
    });
}

/// flush() after writes failed (/dev/full) returns, with every record counted as failed.
#[test]
fn flush_after_a_failing_handler_returns_and_balances() {
    if !Path::new("/dev/full").exists() {
        return;
    }
    within(30, || {
        let k = file_kolog(
            Path::new("/dev/full"),
            &queue("block", 8),
            r#"{"type": "file_plain"}"#,
            "[]",
            "{}",
        );
        let log = k.logger("root").unwrap();
        for round in 0..5u64 {
            for i in 0..100u64 {
                info!(log, "x", round, i);
            }
            k.flush();
            let s = k.stats();
            assert_balanced(&s);
            assert_eq!(s.failed, 100 * (round + 1), "{s:?}");
            assert_eq!(s.written, 0, "{s:?}");
        }
        let r = k.shutdown().unwrap();
        assert_eq!(r.failed, 500);
    });
}

// ---------------------------------------------------------------------------------------------
// The async front end on a work-stealing runtime
// ---------------------------------------------------------------------------------------------

/// Thousands of tasks on a multi-thread runtime, a one-record ring per thread, `block`: every
/// future completes, nothing is lost, the counts are exact.
#[test]
fn thousands_of_ainfo_tasks_on_a_multi_thread_runtime_with_a_tiny_ring() {
    within(60, || {
        let k = null_kolog(&queue("block", 1));
        let log = k.logger("root").unwrap();
        let rt = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(4)
            .build()
            .unwrap();
        rt.block_on(async {
            let tasks: Vec<_> = (0..4000u64)
                .map(|t| {
                    let log = log.clone();
                    tokio::spawn(async move {
                        for i in 0..3u64 {
                            ainfo!(
                                log,
                                "task",
                                t,
                                i,
                                pad = "yyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyy"
                            )
                            .await;
                            tokio::task::yield_now().await;
                        }
                    })
                })
                .collect();
            for t in tasks {
                t.await.unwrap();
            }
        });
        drop(rt);
        k.flush();
        let s = k.stats();
        assert_balanced(&s);
        assert_eq!(s.written, 12_000, "{s:?}");
        assert_eq!(s.dropped, 0, "{s:?}");
    });
}

struct LogsOnDrop(kolog::Logger, Arc<AtomicU64>);
impl Drop for LogsOnDrop {
    fn drop(&mut self) {
        // Awaiting is impossible here: the future is polled once, then dropped if pending.
        let mut f = ainfo!(self.0, "dropped during shutdown");
        let _ = poll_once(&mut f);
        self.1.fetch_add(1, Ordering::SeqCst);
    }
}

/// Futures created before the Kolog was dropped and polled after; `ainfo!` in a Drop impl of
/// tasks torn down by a runtime shutting down: nothing hangs or panics, and every attempt
/// made while the Kolog lived is accounted for.
#[test]
fn ainfo_after_the_kolog_is_gone_and_in_drops_during_runtime_shutdown() {
    within(30, || {
        let k = null_kolog(&queue("block", 1));
        let log = k.logger("root").unwrap();
        let drops = Arc::new(AtomicU64::new(0));
        let rt = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_time()
            .build()
            .unwrap();
        for t in 0..200u64 {
            let guard = LogsOnDrop(log.clone(), drops.clone());
            rt.spawn(async move {
                let _guard = guard;
                tokio::time::sleep(Duration::from_secs(3600)).await;
                let _ = t;
            });
        }
        rt.shutdown_timeout(Duration::from_secs(5));
        assert_eq!(drops.load(Ordering::SeqCst), 200);
        k.flush();
        let s = k.stats();
        assert_balanced(&s);
        assert_eq!(s.enqueued + s.dropped_full, 200, "{s:?}");
        // Futures made while the Kolog lives, completed after it is gone.
        let late: Vec<_> = (0..50u64).map(|i| ainfo!(log, "late", i)).collect();
        drop(k);
        for f in late {
            block_on(f);
        }
        block_on(ainfo!(log, "after"));
    });
}
