//! Adversarial round ten A: shutdown, crash and concurrency accounting after the producers'
//! fast path stopped checking `closed` (records published after the final drain are swept by
//! `stats()`), with exact counts.

mod common;
use common::{assert_balanced, within};
use kolog::Kolog;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Barrier};
use std::time::{Duration, Instant};

fn null_kolog(policy: &str, max_queue_size: usize, drain_timeout_s: f64) -> Kolog {
    Kolog::from_json_str(&format!(
        r#"{{"loggers": [{{"name": "root", "handlers": [{{"type": "null"}}]}}],
            "queue": {{"backpressure_policy": "{policy}", "max_queue_size": {max_queue_size},
                      "drain_timeout": {drain_timeout_s}}}}}"#
    ))
    .unwrap()
}

const POLICIES: [&str; 3] = ["block", "drop", "drop_oldest"];

/// A thread alive at shutdown keeps its ring (the sweep may still find records in it); once
/// the thread exits, the ring is freed and `live_rings` drops to 0, whether the thread logged
/// after shutdown or not, and the counts still balance on every later `stats()`.
#[test]
fn a_ring_whose_thread_exits_after_shutdown_is_freed_and_live_rings_drops_to_zero() {
    for policy in POLICIES {
        for log_after in [false, true] {
            let k = null_kolog(policy, 8, 5.0);
            let log = k.logger("root").unwrap();
            let logged = Arc::new(Barrier::new(2));
            let shut = Arc::new(Barrier::new(2));
            let t = {
                let (log, logged, shut) = (log.clone(), logged.clone(), shut.clone());
                std::thread::spawn(move || {
                    kolog::info!(log, "before", i = 1u64);
                    logged.wait();
                    shut.wait();
                    if log_after {
                        for i in 0..3u64 {
                            kolog::info!(log, "after", i);
                        }
                    }
                })
            };
            logged.wait();
            let r = k.shutdown().unwrap();
            assert_eq!((r.enqueued, r.written), (1, 1), "{policy}: {r:?}");
            shut.wait();
            t.join().unwrap();
            let s = k.stats();
            assert_balanced(&s);
            assert_eq!(s.live_rings, 0, "{policy} log_after={log_after}: {s:?}");
            assert_eq!(
                (s.enqueued, s.written, s.dropped_shutdown),
                (1, 1, if log_after { 3 } else { 0 }),
                "{policy}: {s:?}"
            );
            assert_eq!(k.stats(), s, "{policy}: a second stats() reads the same");
        }
    }
}

/// A thread that keeps logging in a loop while `shutdown()` runs does not hold the final
/// drain until `drain_timeout`: records it logged after shutdown began are written or counted
/// in `dropped_shutdown`, never in `dropped_timeout`, and the report does not say timed out.
#[test]
fn shutdown_while_a_thread_keeps_logging_returns_promptly_and_counts_no_timeout() {
    for policy in POLICIES {
        let k = null_kolog(policy, 64, 3.0);
        let log = k.logger("root").unwrap();
        let stop = Arc::new(AtomicBool::new(false));
        let count = Arc::new(AtomicU64::new(0));
        let ts: Vec<_> = (0..2)
            .map(|_| {
                let (log, stop, count) = (log.clone(), stop.clone(), count.clone());
                std::thread::spawn(move || {
                    let mut n = 0u64;
                    while !stop.load(Ordering::Relaxed) {
                        kolog::info!(log, "spin", n);
                        n += 1;
                    }
                    count.fetch_add(n, Ordering::Relaxed);
                })
            })
            .collect();
        std::thread::sleep(Duration::from_millis(50));
        let started = Instant::now();
        let r = within(30, "shutdown", move || (k.shutdown().unwrap(), k));
        let took = started.elapsed();
        let (r, k) = r;
        stop.store(true, Ordering::Relaxed);
        for t in ts {
            t.join().unwrap();
        }
        assert!(
            !r.timed_out && r.dropped_timeout == 0,
            "{policy}: took {took:?}: {r:?}"
        );
        assert!(took < Duration::from_secs(2), "{policy}: took {took:?}");
        let s = k.stats();
        assert_balanced(&s);
        assert_eq!(
            s.enqueued + s.dropped_full + s.dropped_shutdown,
            count.load(Ordering::Relaxed),
            "{policy}: {s:?}"
        );
        assert_eq!(s.live_rings, 0, "{policy}: {s:?}");
    }
}

/// Many threads log (plain values on the fast path, a `Display` value on the general path,
/// `ainfo!` futures polled to completion or dropped while they wait) into tiny rings while the
/// main thread flushes, reads stats, shuts down mid-stream and keeps reading stats; some
/// threads exit before shutdown, some after. Every attempt ends up exactly once as enqueued
/// (then written or evicted) or dropped with a reason; the counts balance on every read once
/// the threads are done, and every ring is freed.
#[test]
fn every_record_is_counted_once_when_logging_races_shutdown_stats_and_thread_exit() {
    within(120, "race", || {
        for policy in POLICIES {
            for max_queue_size in [1usize, 3, 8] {
                let k = Arc::new(null_kolog(policy, max_queue_size, 5.0));
                let log = k.logger("root").unwrap();
                let attempts = Arc::new(AtomicU64::new(0));
                let go = Arc::new(Barrier::new(7));
                let ts: Vec<_> = (0..6u64)
                    .map(|t| {
                        let (log, attempts, go) = (log.clone(), attempts.clone(), go.clone());
                        std::thread::spawn(move || {
                            go.wait();
                            let waker = std::task::Waker::noop();
                            let mut cx = std::task::Context::from_waker(waker);
                            let rounds = if t % 2 == 0 { 300 } else { 3000 };
                            let pad = "p".repeat(200);
                            let mut n = 0u64;
                            for i in 0..rounds {
                                kolog::info!(log, "plain", t, i);
                                kolog::info!(log, "display", t, i = %i, pad = pad.as_str());
                                n += 2;
                                let mut fut = Box::pin(kolog::ainfo!(log, "async", t, i));
                                n += 1;
                                for _ in 0..(i % 3) {
                                    if std::future::Future::poll(fut.as_mut(), &mut cx).is_ready() {
                                        break;
                                    }
                                    std::thread::yield_now();
                                }
                                drop(fut);
                            }
                            attempts.fetch_add(n, Ordering::Relaxed);
                        })
                    })
                    .collect();
                go.wait();
                for _ in 0..10 {
                    k.flush();
                    std::thread::sleep(Duration::from_millis(2));
                    let s = k.stats();
                    assert!(s.written <= s.enqueued, "{s:?}");
                }
                let r = k.shutdown().unwrap();
                assert!(!r.timed_out, "{policy}/{max_queue_size}: {r:?}");
                for _ in 0..50 {
                    let s = k.stats();
                    assert!(s.written <= s.enqueued, "{s:?}");
                    std::thread::yield_now();
                }
                for t in ts {
                    t.join().unwrap();
                }
                let s = k.stats();
                let what = format!("{policy}/{max_queue_size}: {s:?}");
                assert_balanced(&s);
                assert_eq!(
                    s.enqueued + s.dropped_full + s.dropped_shutdown + s.dropped_oversize,
                    attempts.load(Ordering::Relaxed),
                    "{what}"
                );
                assert_eq!(
                    (s.failed, s.filtered, s.dropped_timeout),
                    (0, 0, 0),
                    "{what}"
                );
                assert_eq!(s.written, r.written, "{what}");
                assert_eq!(s.live_rings, 0, "{what}");
                if policy != "drop_oldest" {
                    assert_eq!(s.dropped_oldest, 0, "{what}");
                }
                assert_eq!(k.stats(), s, "{what}");
            }
        }
    });
}

fn child_case() -> Option<String> {
    std::env::var("KOLOG_R10A_CHILD").ok()
}

/// Runs `test` alone in a child process with `KOLOG_R10A_CHILD` set, failing after `seconds`
/// if it hangs; asserts that it succeeded and returns its output.
fn run_child(test: &str, seconds: u64) -> std::process::Output {
    let out = common::run_child(test, "KOLOG_R10A_CHILD", &[], &[], seconds);
    common::assert_child_succeeded(&out);
    out
}

/// The process's mapped address space, in KiB.
fn vm_size_kib() -> u64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap();
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmSize:"))
        .and_then(|v| v.split_whitespace().next())
        .unwrap()
        .parse()
        .unwrap()
}

/// Threads alive at shutdown keep their rings; when they exit, the rings are freed even if
/// nobody calls `stats()` again: here the `Kolog` is dropped (nobody can) while a logger
/// handle lives on, as in a program whose components keep their loggers. The rings (128 MiB
/// of address space each) stayed mapped until the last logger handle went.
#[test]
fn rings_of_threads_exiting_after_the_system_was_dropped_are_unmapped() {
    const TEST: &str = "rings_of_threads_exiting_after_the_system_was_dropped_are_unmapped";
    if child_case().as_deref() != Some(TEST) {
        run_child(TEST, 60);
        return;
    }
    const THREADS: usize = 8;
    const RING_KIB: u64 = 128 * 1024;
    let k = null_kolog("block", 1 << 20, 5.0);
    assert_eq!(k.queue_manager().ring_bytes() as u64, RING_KIB * 1024);
    let log = k.logger("root").unwrap();
    let logged = Arc::new(Barrier::new(THREADS + 1));
    let exit = Arc::new(Barrier::new(THREADS + 1));
    let ts: Vec<_> = (0..THREADS)
        .map(|i| {
            let (log, logged, exit) = (log.clone(), logged.clone(), exit.clone());
            std::thread::spawn(move || {
                kolog::info!(log, "one", i);
                logged.wait();
                exit.wait();
                kolog::info!(log, "after shutdown", i);
            })
        })
        .collect();
    logged.wait();
    let peak = vm_size_kib();
    drop(k);
    exit.wait();
    for t in ts {
        t.join().unwrap();
    }
    let after = vm_size_kib();
    // Thread arenas of the allocator stay mapped; the rings must go.
    assert!(
        peak.saturating_sub(after) >= THREADS as u64 * RING_KIB,
        "the rings of {THREADS} exited threads are still mapped: VmSize {peak} -> {after} KiB"
    );
    drop(log);
}

/// Loggers from a reloaded configuration (a second factory on the same queue manager, the
/// first one dropped), bound loggers and the `kolog` logger race `shutdown()` from one thread,
/// `stats()` and `flush()` from another and the drop of the queue manager: every attempt is
/// counted exactly once, `level()`/`enabled()` of each handle match its configuration, and
/// records below a logger's level are never counted.
#[test]
fn reloaded_and_bound_loggers_racing_shutdown_count_every_record_once() {
    within(120, "reload race", || {
        for policy in POLICIES {
            let qm = Arc::new(
                kolog::QueueManager::start(kolog::QueueConfig {
                    max_queue_size: 4,
                    backpressure_policy: match policy {
                        "block" => kolog::config::BackpressurePolicy::Block,
                        "drop" => kolog::config::BackpressurePolicy::Drop,
                        _ => kolog::config::BackpressurePolicy::DropOldest,
                    },
                    ..Default::default()
                })
                .unwrap(),
            );
            let doc = |level: &str| {
                format!(
                    r#"{{"loggers": [{{"name": "root", "level": "{level}", "handlers": [{{"type": "null"}}]}},
                                    {{"name": "app.quiet", "level": "ERROR", "handlers": [{{"type": "null"}}]}}]}}"#
                )
            };
            let first = kolog::LoggerFactory::from_json_str(&doc("DEBUG"), &qm).unwrap();
            let old = first.get_logger("app").unwrap();
            assert_eq!(old.level(), kolog::Level::Debug);
            let second = kolog::LoggerFactory::from_json_str(&doc("WARNING"), &qm).unwrap();
            drop(first);
            let new = second.get_logger("app.x").unwrap();
            let quiet = kolog::bind!(second.get_logger("app.quiet.deep").unwrap(), k = 1);
            let bound = kolog::bind!(new, user = "u", n = 2);
            assert_eq!(
                (old.level(), new.level(), bound.level(), quiet.level()),
                (
                    kolog::Level::Debug,
                    kolog::Level::Warning,
                    kolog::Level::Warning,
                    kolog::Level::Error
                )
            );
            assert!(bound.enabled(kolog::Level::Warning) && !bound.enabled(kolog::Level::Info));
            assert!(quiet.enabled(kolog::Level::Error) && !quiet.enabled(kolog::Level::Warning));
            drop(second);
            let attempts = Arc::new(AtomicU64::new(0));
            let go = Arc::new(Barrier::new(5));
            let ts: Vec<_> = (0..4u64)
                .map(|t| {
                    let loggers = [old.clone(), new.clone(), bound.clone(), quiet.clone()];
                    let (attempts, go) = (attempts.clone(), go.clone());
                    std::thread::spawn(move || {
                        go.wait();
                        let mut n = 0;
                        for i in 0..2000u64 {
                            let log = &loggers[((i + t) % 4) as usize];
                            // Counted only when the level passes.
                            kolog::debug!(log, "d", i);
                            kolog::warning!(log, "w", i);
                            kolog::error!(log, "e", i = %i);
                            n += u64::from(log.enabled(kolog::Level::Debug))
                                + u64::from(log.enabled(kolog::Level::Warning))
                                + 1;
                        }
                        attempts.fetch_add(n, Ordering::Relaxed);
                    })
                })
                .collect();
            go.wait();
            let reader = {
                let qm = qm.clone();
                std::thread::spawn(move || {
                    for _ in 0..200 {
                        qm.flush();
                        let s = qm.stats();
                        assert!(s.written <= s.enqueued, "{s:?}");
                    }
                })
            };
            std::thread::sleep(Duration::from_millis(5));
            let r = qm.shutdown().unwrap();
            assert!(!r.timed_out, "{r:?}");
            reader.join().unwrap();
            for t in ts {
                t.join().unwrap();
            }
            let s = qm.stats();
            assert_balanced(&s);
            assert_eq!(
                s.enqueued + s.dropped_full + s.dropped_shutdown + s.dropped_oversize,
                attempts.load(Ordering::Relaxed),
                "{policy}: {s:?}"
            );
            assert_eq!(s.live_rings, 0, "{policy}: {s:?}");
            drop(Arc::try_unwrap(qm).unwrap());
        }
    });
}

/// Polls `f` to completion, parking (with no timeout) between polls: a lost wake-up hangs.
fn block_on_strict<F: std::future::Future>(f: F) -> F::Output {
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
        std::thread::park();
    }
}

/// `ainfo!` futures waiting for room in full one-record rings under `block` when shutdown
/// begins are woken and complete (their records written or counted in `dropped_shutdown`),
/// with an executor that parks without a timeout; then every record is counted once.
#[test]
fn async_producers_waiting_on_full_rings_at_shutdown_complete_and_are_counted() {
    const TEST: &str = "async_producers_waiting_on_full_rings_at_shutdown_complete_and_are_counted";
    if child_case().as_deref() != Some(TEST) {
        run_child(TEST, 120);
        return;
    }
    for round in 0..6u64 {
        let k = null_kolog("block", 1, 5.0);
        let log = k.logger("root").unwrap();
        let pad = "x".repeat(1500);
        let ts: Vec<_> = (0..3u64)
            .map(|t| {
                let (log, pad) = (log.clone(), pad.clone());
                std::thread::spawn(move || {
                    block_on_strict(async {
                        for i in 0..3000u64 {
                            kolog::ainfo!(log, "a", t, i, pad = pad.as_str()).await;
                        }
                    });
                    3000u64
                })
            })
            .collect();
        std::thread::sleep(Duration::from_millis(2 * round));
        let r = k.shutdown().unwrap();
        let attempts: u64 = ts.into_iter().map(|t| t.join().unwrap()).sum();
        let s = k.stats();
        assert_balanced(&s);
        assert_eq!(s.enqueued + s.dropped_shutdown, attempts, "{s:?}");
        assert_eq!((s.dropped_full, s.written), (0, r.written), "{s:?}");
        assert_eq!(s.live_rings, 0, "{s:?}");
    }
}

/// A thread that logs 1,000 records, then goes on logging from the moment `shutdown()` has
/// begun, has room in its ring (128 MiB, millions of records a lap): its fast path, which
/// does not check `closed`, keeps publishing until the end of the lap. The final drain takes
/// what was published when it began, not what the producer keeps adding: it writes the 1,000
/// and what the producer published before the drainer reacted, not a lap's worth, and counts
/// the rest in `dropped_shutdown` (never `dropped_timeout`).
#[test]
fn the_final_drain_does_not_chase_a_producer_that_keeps_logging_after_shutdown() {
    for policy in POLICIES {
        let k = Arc::new(null_kolog(policy, 1 << 20, 10.0));
        let log = k.logger("root").unwrap();
        let stop = Arc::new(AtomicBool::new(false));
        let logged = Arc::new(AtomicU64::new(0));
        let t = {
            let (k, log, stop, logged) = (k.clone(), log.clone(), stop.clone(), logged.clone());
            std::thread::spawn(move || {
                for i in 0..1000u64 {
                    kolog::info!(log, "before", i);
                }
                logged.store(1000, Ordering::Relaxed);
                while !k.queue_manager().is_shut_down() {
                    std::hint::spin_loop();
                }
                let mut i = 1000u64;
                while !stop.load(Ordering::Relaxed) {
                    kolog::info!(log, "after", i);
                    i += 1;
                }
                logged.store(i, Ordering::Relaxed);
            })
        };
        while logged.load(Ordering::Relaxed) < 1000 {
            std::thread::yield_now();
        }
        let r = k.shutdown().unwrap();
        stop.store(true, Ordering::Relaxed);
        t.join().unwrap();
        let what = format!("{policy}: {r:?}");
        assert!(!r.timed_out && r.dropped_timeout == 0, "{what}");
        assert!(r.written >= 1000 && r.written < 1_000_000, "{what}");
        let s = k.stats();
        assert_balanced(&s);
        assert_eq!((s.written, s.live_rings), (r.written, 0), "{policy}: {s:?}");
        assert_eq!(
            s.enqueued + s.dropped_shutdown,
            logged.load(Ordering::Relaxed),
            "{policy}: {s:?}"
        );
    }
}

/// Once the drain has ended, the counts balance at every read although threads go on logging
/// into their rings (records that can only end in `dropped_shutdown`): the `ShutdownReport`
/// and each `stats()` taken while the threads still log. A record published between the
/// sweep of stranded records and the reading of the rings' counters was in `enqueued` with no
/// outcome.
#[test]
fn the_shutdown_report_and_stats_balance_while_threads_keep_logging() {
    let balanced = |e: u64, w: u64, f: u64, fl: u64, o: u64, t: u64| e == w + f + fl + o + t;
    for policy in POLICIES {
        for _ in 0..2 {
            let k = null_kolog(policy, 100_000, 5.0);
            let log = k.logger("root").unwrap();
            let stop = Arc::new(AtomicBool::new(false));
            let logged = Arc::new(AtomicU64::new(0));
            let ts: Vec<_> = (0..2u64)
                .map(|t| {
                    let (log, stop, logged) = (log.clone(), stop.clone(), logged.clone());
                    std::thread::spawn(move || {
                        let mut i = 0u64;
                        while !stop.load(Ordering::Relaxed) {
                            kolog::info!(log, "spin", t, i);
                            i += 1;
                            // Slower than the drainer: the ring's lap lasts the whole test.
                            for _ in 0..100 {
                                std::hint::spin_loop();
                            }
                        }
                        logged.fetch_add(i, Ordering::Relaxed);
                    })
                })
                .collect();
            std::thread::sleep(Duration::from_millis(3));
            let r = k.shutdown().unwrap();
            let mut reads = vec![k.stats()];
            for _ in 0..20 {
                std::thread::sleep(Duration::from_micros(200));
                reads.push(k.stats());
            }
            stop.store(true, Ordering::Relaxed);
            for t in ts {
                t.join().unwrap();
            }
            let last = k.stats();
            assert_balanced(&last);
            assert_eq!(
                last.enqueued + last.dropped_shutdown,
                logged.load(Ordering::Relaxed),
                "{policy}: {last:?}"
            );
            assert!(
                balanced(
                    r.enqueued,
                    r.written,
                    r.filtered,
                    r.failed,
                    r.dropped_oldest,
                    r.dropped_timeout
                ),
                "{policy}: the report: {r:?}"
            );
            for s in reads {
                assert_balanced(&s);
                assert_eq!(s.written, r.written, "{policy}: {s:?}");
            }
        }
    }
}
