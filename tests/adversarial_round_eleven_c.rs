//! Adversarial round eleven C: the async front end's re-entrancy (wakers that log, futures
//! polled from late thread-local destructors) and the `tracing` bridge (recording on spans from
//! user code, 128-bit fields, two kolog layers in one subscriber, errors with source chains),
//! each asserting exact counts and bytes.

mod common;

use std::future::Future;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Once};
use std::task::{Context, Poll, RawWaker, RawWakerVTable, Waker};

use common::{assert_balanced, within};
use kolog::process::Action;
use kolog::{Kolog, Logger, Sink};

/// A system whose `root` logger (TRACE) has a `null` handler rendering JSON, with a sink.
fn sink_kolog(queue: &str, processors: &str) -> (Kolog, Sink) {
    let k = Kolog::from_json_str(&format!(
        r#"{{"queue": {queue}, "loggers": [{{"name": "root", "level": "TRACE", "handlers": [{{"type": "null",
            "renderer": {{"type": "stream_json"}}, "processors": {processors}}}]}}]}}"#
    ))
    .unwrap();
    let sink = Sink::new();
    k.queue_manager().add_sink("root", sink.clone());
    (k, sink)
}

/// Gates the drainers of systems whose handler runs the processor `r11c_gate_<n>`: while gate
/// `n` is closed, the drainer waits in the processor, so a producer's ring fills up and stays
/// full.
static GATES: [AtomicBool; 4] = [const { AtomicBool::new(false) }; 4];

fn gate_processors() {
    static REGISTER: Once = Once::new();
    REGISTER.call_once(|| {
        for (n, gate) in GATES.iter().enumerate() {
            kolog::register_processor(&format!("r11c_gate_{n}"), move |_| {
                Ok(Box::new(move |_: &mut kolog::EventDict<'_>| {
                    while gate.load(Ordering::SeqCst) {
                        std::thread::sleep(std::time::Duration::from_millis(1));
                    }
                    Action::Keep
                }))
            });
        }
    });
}

/// Opens its gate when dropped (a failing test does not leave a drainer waiting, and the
/// system's shutdown with it).
struct Opens(usize);

impl Drop for Opens {
    fn drop(&mut self) {
        GATES[self.0].store(false, Ordering::SeqCst);
    }
}

/// A one-record block ring behind gate `n` (closed on return; the guard, dropped before the
/// system, opens it).
fn gated_kolog(n: usize) -> (Kolog, Sink, Opens) {
    gate_processors();
    GATES[n].store(true, Ordering::SeqCst);
    let (k, sink) = sink_kolog(
        r#"{"max_queue_size": 1, "backpressure_policy": "block"}"#,
        &format!(r#"[{{"type": "r11c_gate_{n}"}}]"#),
    );
    (k, sink, Opens(n))
}

/// Polls fresh `ainfo!` futures once each (with `cx`) until one finds the gated ring full and
/// stays pending; returns it and how many records completed before it.
fn pending_ainfo(log: &Logger, cx: &mut Context<'_>) -> (kolog::EnqueueFuture, u64) {
    let pad = "p".repeat(200);
    for i in 0..10_000u64 {
        let mut fut = kolog::ainfo!(log, "r", i, pad = pad.as_str());
        if std::pin::Pin::new(&mut fut).poll(cx).is_pending() {
            return (fut, i);
        }
    }
    panic!("the gated ring never filled");
}

/// What the logging waker does with each vtable call: count it and log it to another system
/// (whose ring is not full, so the record never waits), from whatever thread it runs on.
struct WakerData {
    log: Logger,
    thread: std::thread::Thread,
    clones: AtomicU64,
    wakes: AtomicU64,
    drops: AtomicU64,
}

static LOGGING_VTABLE: RawWakerVTable =
    RawWakerVTable::new(lw_clone, lw_wake, lw_wake_by_ref, lw_drop);

fn data<'a>(p: *const ()) -> &'a WakerData {
    // SAFETY: every pointer in these wakers comes from `Arc::into_raw` of a `WakerData` whose
    // count the waker owns.
    unsafe { &*(p as *const WakerData) }
}

unsafe fn lw_clone(p: *const ()) -> RawWaker {
    let d = data(p);
    let n = d.clones.fetch_add(1, Ordering::SeqCst);
    kolog::info!(d.log, "waker cloned", n, fmt = %n);
    // SAFETY: as in `data`; the clone owns one more count.
    unsafe { Arc::increment_strong_count(p as *const WakerData) };
    RawWaker::new(p, &LOGGING_VTABLE)
}

unsafe fn lw_wake_by_ref(p: *const ()) {
    let d = data(p);
    let n = d.wakes.fetch_add(1, Ordering::SeqCst);
    kolog::info!(d.log, "waker woken", n, fmt = %n);
    d.thread.unpark();
}

unsafe fn lw_wake(p: *const ()) {
    // SAFETY: as in `data`.
    unsafe {
        lw_wake_by_ref(p);
        lw_drop(p);
    }
}

unsafe fn lw_drop(p: *const ()) {
    let d = data(p);
    let n = d.drops.fetch_add(1, Ordering::SeqCst);
    kolog::info!(d.log, "waker dropped", n, fmt = %n);
    // SAFETY: as in `data`; this waker's count.
    unsafe { Arc::decrement_strong_count(p as *const WakerData) };
}

/// A waker whose clone, wake and drop each log `info!` on the thread that runs them.
fn logging_waker(log: Logger) -> (Waker, Arc<WakerData>) {
    let d = Arc::new(WakerData {
        log,
        thread: std::thread::current(),
        clones: AtomicU64::new(0),
        wakes: AtomicU64::new(0),
        drops: AtomicU64::new(0),
    });
    let raw = RawWaker::new(Arc::into_raw(d.clone()) as *const (), &LOGGING_VTABLE);
    // SAFETY: the vtable's functions keep the `Arc` count as `RawWaker` requires.
    (unsafe { Waker::from_raw(raw) }, d)
}

/// Bug: an `ainfo!` future that found its ring full cloned its waker (and dropped a clone it
/// already had registered) while it held the thread's encoder state: a waker that logs from
/// `clone` or `drop` made `poll` panic ("already borrowed"). Now the waker's code runs with
/// that state free, every record it logs is written, and the future's own records too.
#[test]
fn ainfo_wakers_that_log_from_clone_wake_and_drop_panic_nothing_and_lose_nothing() {
    within(60, "logging waker", || {
        let (k, sink, _open) = gated_kolog(0);
        let (k2, sink2) = sink_kolog(r#"{"max_queue_size": 1000}"#, "[]");
        let log = k.logger("root").unwrap();
        let (waker, d) = logging_waker(k2.logger("root").unwrap());
        let mut cx = Context::from_waker(&waker);
        let (mut fut, before) = pending_ainfo(&log, &mut cx);
        assert!(d.clones.load(Ordering::SeqCst) >= 1);
        // Polled again with the same waker: the registration keeps the first clone and drops
        // the new one.
        assert!(std::pin::Pin::new(&mut fut).poll(&mut cx).is_pending());
        assert!(d.drops.load(Ordering::SeqCst) >= 1);
        GATES[0].store(false, Ordering::SeqCst);
        let mut fut = std::pin::pin!(fut);
        while fut.as_mut().poll(&mut cx).is_pending() {
            std::thread::park_timeout(std::time::Duration::from_millis(10));
        }
        // More records after the waits, through the same waker.
        for i in 0..3u64 {
            let mut f = std::pin::pin!(kolog::ainfo!(log, "after", i));
            while f.as_mut().poll(&mut cx).is_pending() {
                std::thread::park_timeout(std::time::Duration::from_millis(10));
            }
        }
        drop(waker);
        k.flush();
        // Wakers the drainer still holds are dropped once it wakes them (after a drain):
        // shut down to release every one before counting.
        let s = k.shutdown().unwrap();
        assert_eq!(
            (s.enqueued, s.written, s.dropped),
            (before + 4, before + 4, 0),
            "{s:?}"
        );
        let events: Vec<String> = sink
            .records()
            .iter()
            .map(|r| r["event"].as_str().unwrap().to_owned())
            .collect();
        assert_eq!(events.len() as u64, before + 4);
        assert!(events[..before as usize + 1].iter().all(|e| e == "r"));
        assert_eq!(&events[before as usize + 1..], ["after", "after", "after"]);
        let is: Vec<u64> = sink
            .records()
            .iter()
            .take(before as usize + 1)
            .map(|r| r["i"].as_u64().unwrap())
            .collect();
        assert_eq!(is, (0..=before).collect::<Vec<_>>());
        // Every clone, wake and drop logged once, in order per kind.
        assert_eq!(Arc::strong_count(&d), 1, "every waker dropped");
        k2.flush();
        let s2 = k2.stats();
        assert_balanced(&s2);
        let (c, w, dr) = (
            d.clones.load(Ordering::SeqCst),
            d.wakes.load(Ordering::SeqCst),
            d.drops.load(Ordering::SeqCst),
        );
        assert_eq!(dr, c + 1, "the original and each clone dropped once");
        assert_eq!(
            (s2.enqueued, s2.written, s2.dropped),
            (c + w + dr, c + w + dr, 0)
        );
        for (kind, count) in [
            ("waker cloned", c),
            ("waker woken", w),
            ("waker dropped", dr),
        ] {
            let ns: Vec<(u64, String)> = sink2
                .records()
                .iter()
                .filter(|r| r["event"] == kind)
                .map(|r| {
                    (
                        r["n"].as_u64().unwrap(),
                        r["fmt"].as_str().unwrap().to_owned(),
                    )
                })
                .collect();
            let mut sorted = ns.clone();
            sorted.sort();
            assert_eq!(
                sorted,
                (0..count).map(|n| (n, n.to_string())).collect::<Vec<_>>(),
                "{kind}"
            );
        }
    });
}

/// Polls `f` to completion on this thread, parking between polls.
fn block_on<F: Future>(f: F) -> F::Output {
    struct Unpark(std::thread::Thread);
    impl std::task::Wake for Unpark {
        fn wake(self: Arc<Self>) {
            self.0.unpark();
        }
    }
    let waker = Waker::from(Arc::new(Unpark(std::thread::current())));
    let mut cx = Context::from_waker(&waker);
    let mut f = std::pin::pin!(f);
    loop {
        if let Poll::Ready(v) = f.as_mut().poll(&mut cx) {
            return v;
        }
        std::thread::park_timeout(std::time::Duration::from_millis(10));
    }
}

/// Bug: an `ainfo!` future that found its ring full and is awaited from a thread-local
/// destructor that runs after kolog's own (the thread is exiting, its ring is gone) counted its
/// record as dropped at shutdown, although the system is running; `info!` from such a
/// destructor is written through a one-off ring. Now the future writes it the same way: once,
/// after the thread's earlier records.
#[test]
fn an_ainfo_future_awaited_from_a_late_thread_local_destructor_is_written_once() {
    within(60, "late ainfo", || {
        let (k, sink, _open) = gated_kolog(1);
        let log = k.logger("root").unwrap();
        struct AwaitsOnDrop(Option<(kolog::EnqueueFuture, Logger)>);
        impl Drop for AwaitsOnDrop {
            fn drop(&mut self) {
                if let Some((fut, log)) = self.0.take() {
                    block_on(fut);
                    // And a fresh one, pending or not.
                    block_on(kolog::ainfo!(log, "fresh from tls", which = %"late"));
                }
            }
        }
        thread_local! {
            // Initialised before the thread's first record: destroyed after kolog's state.
            static LATE: std::cell::RefCell<AwaitsOnDrop> =
                const { std::cell::RefCell::new(AwaitsOnDrop(None)) };
        }
        let before = std::thread::spawn(move || {
            LATE.with(|_| {});
            let waker = Waker::noop();
            let mut cx = Context::from_waker(waker);
            let (fut, before) = pending_ainfo(&log, &mut cx);
            LATE.with(|l| l.borrow_mut().0 = Some((fut, log)));
            GATES[1].store(false, Ordering::SeqCst);
            before
        })
        .join()
        .unwrap();
        k.flush();
        let s = k.stats();
        assert_balanced(&s);
        assert_eq!(
            (s.enqueued, s.written, s.dropped, s.dropped_shutdown),
            (before + 2, before + 2, 0, 0),
            "{s:?}"
        );
        let got: Vec<(String, Option<u64>)> = sink
            .records()
            .iter()
            .map(|r| (r["event"].as_str().unwrap().to_owned(), r["i"].as_u64()))
            .collect();
        let mut want: Vec<(String, Option<u64>)> =
            (0..=before).map(|i| ("r".to_owned(), Some(i))).collect();
        want.push(("fresh from tls".to_owned(), None));
        assert_eq!(got, want);
        assert_eq!(k.shutdown().unwrap().written, before + 2);
    });
}

#[cfg(feature = "tracing")]
mod tracing_bridge {
    use super::*;
    use tracing_subscriber::prelude::*;

    /// Text of each of the sink's JSON lines after the timestamp.
    fn untimed(sink: &Sink) -> Vec<String> {
        sink.events()
            .iter()
            .map(|l| l[l.find(",\"level\"").expect(l)..].to_owned())
            .collect()
    }

    /// Displays as `shown`, after logging a tracing event and recording a field on the
    /// current span (user code that re-enters the subscriber while the layer records).
    struct Reenters(&'static str);

    impl std::fmt::Display for Reenters {
        fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
            tracing::info!(target: "root", inner = self.0, "from display");
            tracing::Span::current().record("nested", self.0);
            f.write_str(self.0)
        }
    }

    impl std::fmt::Debug for Reenters {
        fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
            std::fmt::Display::fmt(self, f)
        }
    }

    /// Bug: `Span::record` visited the recorded values while holding the span's extensions
    /// locked, so a value whose `Display` logs an event inside the span (or records on the
    /// span) deadlocked. Now the values are collected first and stored under a brief lock;
    /// every event is written with the span's fields as they were when it was made.
    #[test]
    fn recording_on_a_span_from_user_code_that_logs_or_records_does_not_deadlock() {
        within(20, "span record", || {
            let (k, sink) = sink_kolog(r#"{"max_queue_size": 1000}"#, "[]");
            let sub = tracing_subscriber::registry().with(kolog::bridge::tracing::layer(&k));
            tracing::subscriber::with_default(sub, || {
                let span = tracing::info_span!(
                    target: "root",
                    "s",
                    a = 1u64,
                    late = tracing::field::Empty,
                    nested = tracing::field::Empty,
                    dbg = tracing::field::Empty
                );
                // Recorded from outside the span, then from inside it.
                span.record("late", tracing::field::display(Reenters("x")));
                let _g = span.enter();
                span.record("dbg", tracing::field::debug(Reenters("y")));
                tracing::info!(target: "root", "after");
                // An event whose own field re-enters. (tracing itself drops what its field logs
                // and records: it dispatches nothing while it dispatches an event.)
                tracing::info!(target: "root", v = %Reenters("z"), "event");
            });
            k.flush();
            assert_eq!(
                untimed(&sink),
                [
                    r#","level":"INFO","logger":"root","event":"from display","inner":"x"}"#,
                    r#","level":"INFO","logger":"root","event":"from display","a":1,"late":"x","inner":"y"}"#,
                    r#","level":"INFO","logger":"root","event":"after","a":1,"late":"x","nested":"y","dbg":"y"}"#,
                    r#","level":"INFO","logger":"root","event":"event","a":1,"late":"x","nested":"y","dbg":"y","v":"z"}"#,
                ]
            );
            let s = k.stats();
            assert_balanced(&s);
            assert_eq!((s.enqueued, s.written), (4, 4));
        });
    }

    /// Bug: 128-bit tracing fields were rendered through `Debug`, as strings, even `5u128`.
    /// Now they render exactly as the same values logged with `info!` do: a number when the
    /// value fits 64 bits, else its digits.
    #[test]
    fn tracing_128_bit_fields_render_as_info_renders_them() {
        within(20, "u128", || {
            let (k, sink) = sink_kolog(r#"{"max_queue_size": 1000}"#, "[]");
            let log = k.logger("root").unwrap();
            let sub = tracing_subscriber::registry().with(kolog::bridge::tracing::layer(&k));
            tracing::subscriber::with_default(sub, || {
                let span = tracing::info_span!("s", s_big = u128::MAX, s_small = 7i128);
                for _ in 0..2 {
                    tracing::info!(
                        target: "root",
                        small = 5u128,
                        neg = -5i128,
                        big = u128::MAX,
                        low = i128::MIN,
                        edge = u64::MAX as u128 + 1,
                        "wide"
                    );
                }
                let _g = span.enter();
                tracing::info!(target: "root", "in span");
            });
            kolog::info!(
                log,
                "wide",
                small = 5u128,
                neg = -5i128,
                big = u128::MAX,
                low = i128::MIN,
                edge = u64::MAX as u128 + 1
            );
            kolog::info!(log, "in span", s_big = u128::MAX, s_small = 7i128);
            k.flush();
            let lines = untimed(&sink);
            let wide = r#","level":"INFO","logger":"root","event":"wide","small":5,"neg":-5,"big":"340282366920938463463374607431768211455","low":"-170141183460469231731687303715884105728","edge":"18446744073709551616"}"#;
            let span = r#","level":"INFO","logger":"root","event":"in span","s_big":"340282366920938463463374607431768211455","s_small":7}"#;
            assert_eq!(lines, [wide, wide, span, wide, span]);
        });
    }

    /// Bug: a subscriber with two kolog layers panicked on the first span (both stored the
    /// span's fields under one extension type). Now each layer sends every event once to its
    /// own system, with the span's fields, also when both layers are the same system's.
    #[test]
    fn two_kolog_layers_in_one_subscriber_each_write_every_event_once() {
        within(20, "two layers", || {
            let (a, sink_a) = sink_kolog(r#"{"max_queue_size": 1000}"#, "[]");
            let (b, sink_b) = sink_kolog(r#"{"max_queue_size": 1000}"#, "[]");
            let run = || {
                let span = tracing::info_span!("s", a = 1u64, late = tracing::field::Empty);
                let _g = span.enter();
                tracing::info!(target: "root", "first");
                span.record("late", "now");
                span.record("a", 2u64);
                let inner = tracing::info_span!("t", b = true);
                inner.in_scope(|| tracing::info!(target: "root", x = 3, "second"));
            };
            let want = [
                r#","level":"INFO","logger":"root","event":"first","a":1}"#,
                r#","level":"INFO","logger":"root","event":"second","a":2,"late":"now","b":true,"x":3}"#,
            ];
            let sub = tracing_subscriber::registry()
                .with(kolog::bridge::tracing::layer(&a))
                .with(kolog::bridge::tracing::layer(&b));
            tracing::subscriber::with_default(sub, run);
            a.flush();
            b.flush();
            assert_eq!(untimed(&sink_a), want);
            assert_eq!(untimed(&sink_b), want);
            sink_a.clear();
            // The same system twice: each event twice.
            let sub = tracing_subscriber::registry()
                .with(kolog::bridge::tracing::layer(&a))
                .with(kolog::bridge::tracing::layer(&a));
            tracing::subscriber::with_default(sub, run);
            a.flush();
            assert_eq!(untimed(&sink_a), [want[0], want[0], want[1], want[1]]);
            let s = a.stats();
            assert_balanced(&s);
            assert_eq!((s.enqueued, s.written, s.dropped), (6, 6, 0));
        });
    }

    /// An error with a two-level source chain: `query failed` ← `connection reset` ←
    /// `peer gone`.
    #[derive(Debug)]
    struct Outer(Middle);
    #[derive(Debug)]
    struct Middle(std::io::Error);

    impl std::fmt::Display for Outer {
        fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
            f.write_str("query failed")
        }
    }
    impl std::error::Error for Outer {
        fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
            Some(&self.0)
        }
    }
    impl std::fmt::Display for Middle {
        fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
            f.write_str("connection \"reset\"")
        }
    }
    impl std::error::Error for Middle {
        fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
            Some(&self.0)
        }
    }

    fn outer() -> Outer {
        Outer(Middle(std::io::Error::other("peer gone")))
    }

    /// Bug: an error recorded through `Visit::record_error` kept only its message: its
    /// `source()` chain was lost (and `dict_tracebacks` saw a string). Now it is the same error
    /// value as `error = &e` with `info!`: identical bytes in JSON (with and without
    /// `dict_tracebacks`) and in plain text, on events and as span fields.
    #[test]
    fn tracing_errors_keep_their_source_chain_as_info_does() {
        within(20, "errors", || {
            for (renderer, processors, want) in [
                (
                    "stream_json",
                    r#"[{"type": "dict_tracebacks"}]"#,
                    r#","level":"ERROR","logger":"root","event":"failed","error":{"type":"dyn core::error::Error","message":"query failed","chain":["connection \"reset\"","peer gone"]},"n":1}"#,
                ),
                (
                    "stream_json",
                    "[]",
                    r#","level":"ERROR","logger":"root","event":"failed","error":"query failed","n":1}"#,
                ),
                (
                    "stream_plain",
                    r#"[{"type": "dict_tracebacks"}]"#,
                    r#" [ERROR   ] [root]: failed error="{\"type\":\"dyn core::error::Error\",\"message\":\"query failed\",\"chain\":[\"connection \\\"reset\\\"\",\"peer gone\"]}" n=1"#,
                ),
            ] {
                let k = Kolog::from_json_str(&format!(
                    r#"{{"loggers": [{{"name": "root", "handlers": [{{"type": "null",
                        "renderer": {{"type": "{renderer}"}}, "processors": {processors}}}]}}]}}"#
                ))
                .unwrap();
                let sink = Sink::new();
                k.queue_manager().add_sink("root", sink.clone());
                let log = k.logger("root").unwrap();
                let err = outer();
                kolog::error!(log, "failed", error = &err as &dyn std::error::Error, n = 1);
                let sub = tracing_subscriber::registry().with(kolog::bridge::tracing::layer(&k));
                tracing::subscriber::with_default(sub, || {
                    for _ in 0..2 {
                        tracing::error!(
                            target: "root",
                            error = &err as &dyn std::error::Error,
                            n = 1,
                            "failed"
                        );
                    }
                    let span = tracing::info_span!("s", error = &err as &dyn std::error::Error);
                    span.in_scope(|| tracing::error!(target: "root", n = 1, "failed"));
                });
                k.flush();
                let lines: Vec<String> = sink
                    .events()
                    .iter()
                    .map(|l| {
                        let at = if renderer == "stream_json" {
                            l.find(",\"level\"").expect(l)
                        } else {
                            l.find(" [").expect(l)
                        };
                        l[at..].to_owned()
                    })
                    .collect();
                assert_eq!(lines, [want; 4], "{renderer} {processors}");
            }
        });
    }
}

/// Bug: an error logged through the `log` bridge (`log::error!(error:err = e; ...)`) kept only
/// its message: its `source()` chain was lost (and `dict_tracebacks` saw a string). Now it is
/// the same error value as `error = &e` with `info!`, byte for byte. (The only test of this
/// file that installs the `log` logger: one per process.)
#[cfg(feature = "log")]
#[test]
fn log_errors_keep_their_source_chain_as_info_does() {
    within(20, "log errors", || {
        let (k, sink) = sink_kolog(
            r#"{"max_queue_size": 1000}"#,
            r#"[{"type": "dict_tracebacks"}]"#,
        );
        kolog::bridge::log::init(&k).unwrap();
        let log = k.logger("root").unwrap();
        let err = std::io::Error::other(common::DbError(std::io::Error::other("disk gone")));
        kolog::error!(log, "failed", error = &err as &dyn std::error::Error, n = 1);
        for _ in 0..2 {
            // A static statement (interned) and a formatted one (dynamic).
            log::error!(target: "root", error:err = err, n = 1; "failed");
            log::error!(target: "root", error:err = err, n = 1; "{}", "failed");
        }
        k.flush();
        let want = r#","level":"ERROR","logger":"root","event":"failed","error":{"type":"dyn core::error::Error","message":"query failed","chain":["disk gone"]},"n":1}"#;
        let lines: Vec<String> = sink
            .events()
            .iter()
            .map(|l| l[l.find(",\"level\"").expect(l)..].to_owned())
            .collect();
        assert_eq!(lines, [want; 5]);
    });
}
