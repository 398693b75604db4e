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
    let test = test.to_owned();
    let out = within(seconds, "child", move || {
        std::process::Command::new(std::env::current_exe().unwrap())
            .args([test.as_str(), "--exact", "--nocapture", "--test-threads=1"])
            .env("KOLOG_R10A_CHILD", &test)
            .output()
            .unwrap()
    });
    assert!(
        out.status.success(),
        "{:?}\n{}{}",
        out.status,
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
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
