//! Second adversarial round: the bridges, sinks, lifecycle guards, many queue managers, the
//! panic hook, rotation and streams under stress, and configuration values of the wrong type.
#![cfg(all(feature = "log", feature = "tracing"))]

use std::process::Command;
use std::sync::{Arc, Barrier};
use std::time::Duration;

use kolog::process::Action;
use kolog::{info, info_life, register_processor, Kolog, Sink};
use tracing_subscriber::prelude::*;

mod common;

use common::assert_balanced;

/// Runs `f` on its own thread; a hang fails the test after 10 s instead of sticking.
fn within_10s<T: Send + 'static>(f: impl FnOnce() -> T + Send + 'static) -> T {
    common::within(10, "round two", f)
}

fn null_kolog(queue: &str) -> Kolog {
    Kolog::from_json_str(&format!(
        r#"{{"queue": {queue}, "loggers": [{{"name": "root", "level": "TRACE", "handlers": [{{"type": "null"}}]}}]}}"#
    ))
    .unwrap()
}

fn sink_kolog() -> (Kolog, Sink) {
    let k = null_kolog(r#"{"max_queue_size": 1000}"#);
    let sink = Sink::new();
    k.queue_manager().add_sink("root", sink.clone());
    (k, sink)
}

fn temp_dir(tag: &str) -> std::path::PathBuf {
    let d = std::env::temp_dir().join(format!("kolog-r2-{tag}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&d);
    std::fs::create_dir_all(&d).unwrap();
    d
}

fn child_env() -> Option<String> {
    std::env::var("KOLOG_R2_CHILD").ok()
}

/// Re-runs this test binary on one test, as a child process with `KOLOG_R2_CHILD` set.
fn child(test: &str) -> Command {
    common::child_command(test, "KOLOG_R2_CHILD")
}

// ---------------------------------------------------------------------------------------------
// log bridge (one `log` logger per process: everything in one test)
// ---------------------------------------------------------------------------------------------

struct PanicsInDisplay;
impl std::fmt::Display for PanicsInDisplay {
    fn fmt(&self, _: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        panic!("display panicked")
    }
}

#[test]
fn log_bridge_odd_targets_values_init_twice_and_shutdown() {
    within_10s(|| {
        let (k, sink) = sink_kolog();
        kolog::bridge::log::init(&k).unwrap();
        let again = kolog::bridge::log::init(&k).unwrap_err();
        assert_eq!(again.kind(), kolog::ErrorKind::LoggerCreation);

        let long = "x".repeat(10_000);
        log::info!(target: "", "empty target");
        log::info!(target: "::", "colons only");
        log::info!(target: "a::::b::", "odd colons");
        log::info!(target: &long, "long target");
        log::info!(target: "app::db", "normal");
        let n = sink.len();
        assert_eq!(n, 5, "{:?}", sink.events());
        let r = sink.records();
        let loggers: Vec<_> = r.iter().map(|r| r.get("logger").unwrap().clone()).collect();
        assert_eq!(loggers[0], "root");
        assert_eq!(loggers[4], "app.db");
        assert_eq!(loggers[3].as_str().unwrap().len(), 10_000);
        sink.clear();

        // Values of every kind.
        let v = vec![vec![1, 2], vec![3]];
        log::info!(
            i = -5i64, u = u64::MAX, f = 1.5f64, nan = f64::NAN, b = true, s = "str", c = 'c',
            big = u128::MAX, neg = i128::MIN, d:? = v, e:% = 7, unit:? = ();
            "kinds"
        );
        let r = sink.records();
        assert_eq!(r.len(), 1);
        let r = &r[0];
        assert_eq!(r.get("i").unwrap(), -5);
        assert_eq!(r.get("u").unwrap(), u64::MAX);
        assert_eq!(r.get("f").unwrap(), 1.5);
        assert_eq!(r.get("b").unwrap(), true);
        assert_eq!(r.get("s").unwrap(), "str");
        assert_eq!(r.get("c").unwrap(), "c");
        assert_eq!(
            r.get("big").unwrap(),
            &serde_json::json!(u128::MAX.to_string()),
            "{r:?}"
        );
        assert_eq!(
            r.get("neg").unwrap(),
            &serde_json::json!(i128::MIN.to_string()),
            "{r:?}"
        );
        assert_eq!(r.get("d").unwrap(), "[[1, 2], [3]]");
        assert_eq!(r.get("e").unwrap(), "7");
        assert_eq!(r.get("unit").unwrap(), "()");
        sink.clear();

        // A Display that panics unwinds to the caller; the next record goes through.
        let p = std::panic::catch_unwind(|| log::info!("boom {}", PanicsInDisplay));
        assert!(p.is_err());
        log::info!("after the panic");
        assert_eq!(sink.len(), 1);

        // Many threads logging while the system shuts down: every attempt accounted for.
        let barrier = Arc::new(Barrier::new(5));
        let threads: Vec<_> = (0..4)
            .map(|t| {
                let b = barrier.clone();
                std::thread::spawn(move || {
                    b.wait();
                    for i in 0..5_000 {
                        log::info!(target: "app", t = t, i = i; "racing");
                    }
                })
            })
            .collect();
        barrier.wait();
        std::thread::sleep(Duration::from_millis(2));
        let report = k.shutdown().unwrap();
        for t in threads {
            t.join().unwrap();
        }
        let s = k.stats();
        assert_balanced(&s);
        assert!(report.enqueued <= s.enqueued);
        // After shutdown: counted, not lost, not hanging.
        let before = k.stats().dropped_shutdown;
        log::info!("after shutdown");
        assert_eq!(k.stats().dropped_shutdown, before + 1);
        drop(k);
        log::info!("after drop");
        log::logger().flush();
    });
}

// ---------------------------------------------------------------------------------------------
// tracing layer
// ---------------------------------------------------------------------------------------------

struct PanicsInDebug;
impl std::fmt::Debug for PanicsInDebug {
    fn fmt(&self, _: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        panic!("debug panicked")
    }
}

const LONG_TARGET: &str = concat!(
    "a::b::c::d::e::f::g::h::i::j::k::l::m::n::o::p::q::r::s::t::u::v::w::x::y::z::",
    "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
);

#[test]
fn tracing_odd_targets_nested_spans_and_panicking_fields() {
    within_10s(|| {
        let (k, sink) = sink_kolog();
        let sub = tracing_subscriber::registry().with(kolog::bridge::tracing::layer(&k));
        tracing::subscriber::with_default(sub, || {
            tracing::info!(target: "", "empty");
            tracing::info!(target: "::", "colons");
            tracing::info!(target: LONG_TARGET, "long");
            // 20 nested spans of 5 fields each; inner values replace outer ones.
            let mut guards = Vec::new();
            for depth in 0..20u64 {
                let span = tracing::info_span!(
                    "s",
                    depth,
                    a = depth,
                    b = "x",
                    c = depth as f64,
                    d = depth % 2 == 0
                );
                guards.push(span.entered());
            }
            tracing::info!(e = 1, "deep");
            drop(guards);
            // A span whose field's Debug panics: the panic reaches the caller; later events
            // still work.
            let p = std::panic::catch_unwind(|| {
                let _s = tracing::info_span!("bad", x = ?PanicsInDebug).entered();
            });
            assert!(p.is_err());
            let p = std::panic::catch_unwind(|| tracing::info!(x = ?PanicsInDebug, "bad event"));
            assert!(p.is_err());
            tracing::info!("after");
        });
        let r = sink.records();
        let events: Vec<_> = r.iter().map(|r| r.get("event").unwrap().clone()).collect();
        assert_eq!(
            events,
            ["empty", "colons", "long", "deep", "after"],
            "{r:?}"
        );
        assert_eq!(r[0].get("logger").unwrap(), "root");
        let deep = &r[3];
        assert_eq!(deep.get("depth").unwrap(), 19);
        assert_eq!(deep.get("a").unwrap(), 19);
        assert_eq!(deep.get("d").unwrap(), false);
        assert_eq!(deep.get("e").unwrap(), 1);
        assert_balanced(&k.stats());
    });
}

#[test]
fn tracing_events_after_shutdown_and_drop_are_counted() {
    within_10s(|| {
        let k = null_kolog(r#"{"max_queue_size": 100}"#);
        let layer = kolog::bridge::tracing::layer(&k);
        let sub = Arc::new(tracing_subscriber::registry().with(layer));
        let barrier = Arc::new(Barrier::new(5));
        let threads: Vec<_> = (0..4)
            .map(|_| {
                let sub = sub.clone();
                let b = barrier.clone();
                std::thread::spawn(move || {
                    tracing::subscriber::with_default(sub, || {
                        b.wait();
                        for i in 0..3_000 {
                            let _s = tracing::info_span!("req", i).entered();
                            tracing::info!(i, "racing");
                        }
                    })
                })
            })
            .collect();
        barrier.wait();
        std::thread::sleep(Duration::from_millis(2));
        k.shutdown().unwrap();
        for t in threads {
            t.join().unwrap();
        }
        let s = k.stats();
        assert_balanced(&s);
        assert_eq!(
            s.enqueued + s.dropped_shutdown + s.dropped_full,
            12_000,
            "{s:?}"
        );
        let before = s.dropped_shutdown;
        tracing::subscriber::with_default(sub.clone(), || tracing::info!("late"));
        assert_eq!(k.stats().dropped_shutdown, before + 1);
        drop(k);
        tracing::subscriber::with_default(sub, || tracing::info!("after drop"));
    });
}

// ---------------------------------------------------------------------------------------------
// Sinks
// ---------------------------------------------------------------------------------------------

#[test]
fn sinks_added_and_removed_while_threads_log_lose_nothing() {
    within_10s(|| {
        let dir = temp_dir("sink-toggle");
        let path = dir.join("app.log");
        let k = Kolog::from_json_str(&format!(
            r#"{{"queue": {{"max_queue_size": 256}}, "loggers": [{{"name": "root", "handlers": [
                {{"type": "file", "params": {{"filename": "{}"}}, "renderer": {{"type": "file_json"}}}}]}}]}}"#,
            path.display()
        ))
        .unwrap();
        let a = Sink::new();
        let b = Sink::new();
        let log = k.logger("app.db").unwrap();
        let threads: Vec<_> = (0..3)
            .map(|t| {
                let log = log.clone();
                std::thread::spawn(move || {
                    for i in 0..4_000 {
                        info!(log, "r", t = t, i = i);
                    }
                })
            })
            .collect();
        for i in 0..40 {
            k.queue_manager().add_sink("app", a.clone());
            k.queue_manager().add_sink("app.db", b.clone());
            if i % 3 == 0 {
                let _ = b.events();
            }
            k.queue_manager().remove_sink("app.db");
            k.queue_manager().remove_sink("app");
        }
        for t in threads {
            t.join().unwrap();
        }
        k.flush();
        // The file opens on its first write: when the sinks caught every record there is none.
        let lines = std::fs::read_to_string(&path).map_or(0, |t| t.lines().count());
        let total = lines + a.len() + b.len();
        assert_eq!(total, 12_000, "file {lines} a {} b {}", a.len(), b.len());
        let s = k.stats();
        assert_balanced(&s);
        assert_eq!(s.written, 12_000);
        drop(k);
        // Read after its Kolog is gone: what it captured, at once.
        let _ = a.events();
        let _ = b.records();
    });
}

#[test]
fn two_sinks_on_overlapping_names_the_most_specific_one_captures() {
    within_10s(|| {
        let k = null_kolog(r#"{"max_queue_size": 100}"#);
        let outer = Sink::new();
        let inner = Sink::new();
        k.queue_manager().add_sink("app", outer.clone());
        k.queue_manager().add_sink("app.db", inner.clone());
        info!(k.logger("app.db").unwrap(), "db");
        info!(k.logger("app.web").unwrap(), "web");
        assert_eq!(inner.len(), 1);
        assert_eq!(outer.len(), 1);
        assert_eq!(inner.records()[0].get("logger").unwrap(), "app.db");
        assert_eq!(outer.records()[0].get("logger").unwrap(), "app.web");
    });
}

#[test]
fn sink_clear_racing_logging_neither_hangs_nor_unbalances() {
    within_10s(|| {
        let (k, sink) = sink_kolog();
        let log = k.logger("x").unwrap();
        let t = std::thread::spawn(move || {
            for i in 0..20_000 {
                info!(log, "r", i = i);
            }
        });
        for _ in 0..200 {
            sink.clear();
        }
        t.join().unwrap();
        k.flush();
        let s = k.stats();
        assert_balanced(&s);
        assert_eq!(s.written, 20_000);
    });
}

#[test]
fn a_processor_reading_a_sink_does_not_deadlock() {
    static SINK: std::sync::OnceLock<Sink> = std::sync::OnceLock::new();
    register_processor("r2_reads_sink", |_| {
        Ok(Box::new(|_: &mut kolog::EventDict<'_>| {
            let s = SINK.get().unwrap();
            let _ = s.events();
            let _ = s.records();
            let _ = s.len();
            s.clear();
            Action::Keep
        }))
    });
    within_10s(|| {
        let k = Kolog::from_json_str(
            r#"{"loggers": [{"name": "root", "handlers": [{"type": "null",
                "processors": [{"type": "r2_reads_sink"}]}]}]}"#,
        )
        .unwrap();
        let sink = SINK.get_or_init(Sink::new).clone();
        k.queue_manager().add_sink("root", sink.clone());
        let log = k.logger("a").unwrap();
        for i in 0..100 {
            info!(log, "r", i = i);
        }
        k.flush();
        let s = k.stats();
        assert_balanced(&s);
        assert_eq!(s.written, 100);
        assert_eq!(sink.len(), 1, "each record clears the previous one");
    });
}

// ---------------------------------------------------------------------------------------------
// Lifecycle guards
// ---------------------------------------------------------------------------------------------

#[test]
fn a_life_guard_dropped_while_unwinding_logs_its_end() {
    within_10s(|| {
        let (k, sink) = sink_kolog();
        let log = k.logger("app").unwrap();
        let r = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
            let _g = info_life!(log, "doomed", n = 1);
            panic!("inside the guard");
        }));
        assert!(r.is_err());
        let ev = sink.events();
        assert_eq!(ev.len(), 2, "{ev:?}");
        assert!(ev[0].contains("Begin: doomed"), "{ev:?}");
        assert!(
            ev[1].contains("End (") && ev[1].contains("): doomed"),
            "{ev:?}"
        );
    });
}

#[test]
fn a_life_guard_outliving_its_kolog_is_counted_without_hanging() {
    within_10s(|| {
        let k = null_kolog(r#"{"max_queue_size": 1}"#);
        let log = k.logger("app").unwrap();
        let g = info_life!(log, "long lived");
        let started = Arc::new(Barrier::new(2));
        let long = std::thread::spawn({
            let log = log.clone();
            let started = started.clone();
            move || {
                let g = info_life!(log, "on another thread");
                started.wait();
                std::thread::sleep(Duration::from_millis(50));
                drop(g);
            }
        });
        started.wait();
        let report = k.shutdown().unwrap();
        assert_eq!(report.written + report.dropped_shutdown, 2, "{report:?}");
        drop(g);
        long.join().unwrap();
        let s = k.stats();
        assert_balanced(&s);
        assert_eq!(s.written + s.dropped_shutdown, 4, "{s:?}");
        drop(k);
        drop(log);
    });
}

fn block_on<F: std::future::Future>(f: F) -> F::Output {
    tokio::runtime::Builder::new_current_thread()
        .enable_time()
        .build()
        .unwrap()
        .block_on(f)
}

#[test]
fn ainfo_life_around_a_panicking_or_cancelled_future_logs_its_end() {
    within_10s(|| {
        let (k, sink) = sink_kolog();
        let log = k.logger("app").unwrap();
        let r = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
            block_on(log.ainfo_life("panicky", async {
                panic!("future panicked");
            }))
        }));
        assert!(r.is_err());
        // Cancelled while the wrapped future is pending (a timeout, a select).
        block_on(async {
            let life = log.ainfo_life("cancelled", std::future::pending::<()>());
            let r = tokio::time::timeout(Duration::from_millis(10), life).await;
            assert!(r.is_err());
        });
        let out = block_on(log.ainfo_life("fine", async { 5 }));
        assert_eq!(out, 5);
        let ev: Vec<String> = sink
            .events()
            .iter()
            .map(|e| e.split("]: ").nth(1).unwrap().to_owned())
            .map(|e| {
                e.split_once(" (").map_or(e.clone(), |(a, b)| {
                    format!("{a} ({}", &b[b.find(')').unwrap()..])
                })
            })
            .collect();
        assert_eq!(
            ev,
            [
                "Begin: panicky",
                "End (): panicky",
                "Begin: cancelled",
                "End (): cancelled",
                "Begin: fine",
                "End (): fine"
            ]
        );
        let s = k.stats();
        assert_balanced(&s);
        assert_eq!((s.written, s.dropped), (6, 0));
    });
}

// ---------------------------------------------------------------------------------------------
// Many queue managers
// ---------------------------------------------------------------------------------------------

#[test]
fn one_thread_logging_to_many_kologs_at_once() {
    within_10s(|| {
        let systems: Vec<(Kolog, Sink)> = (0..16).map(|_| sink_kolog()).collect();
        let loggers: Vec<_> = systems
            .iter()
            .map(|(k, _)| k.logger("app").unwrap())
            .collect();
        for round in 0..50u64 {
            for (i, log) in loggers.iter().enumerate() {
                info!(log, "r", round = round, i = i);
            }
        }
        for (i, (k, sink)) in systems.iter().enumerate() {
            let r = sink.records();
            assert_eq!(r.len(), 50);
            assert!(r.iter().all(|r| r.get("i").unwrap() == i));
            let s = k.stats();
            assert_balanced(&s);
            assert_eq!(s.live_rings, 1);
        }
        // Loggers outlive their systems.
        drop(systems);
        for log in &loggers {
            info!(log, "late");
        }
    });
}

fn drainer_threads() -> usize {
    std::fs::read_dir("/proc/self/task")
        .unwrap()
        .filter_map(|t| std::fs::read_to_string(t.ok()?.path().join("comm")).ok())
        .filter(|c| c.starts_with("kolog-"))
        .inspect(|c| eprintln!("left: {c}"))
        .count()
}

#[test]
fn kologs_created_and_dropped_in_a_loop_leave_no_threads() {
    if child_env().as_deref() == Some("kologs_created_and_dropped_in_a_loop_leave_no_threads") {
        let dir = temp_dir("churn");
        for i in 0..60 {
            let k = Kolog::from_json_str(&format!(
                r#"{{"loggers": [{{"name": "root", "handlers": [
                    {{"type": "file", "params": {{"filename": "{}"}}}},
                    {{"type": "rotating_file", "params": {{"filename": "{}", "max_bytes": 100, "backup_count": 1}}}}]}}]}}"#,
                dir.join(format!("f{}.log", i % 3)).display(),
                dir.join(format!("r{}.log", i % 3)).display()
            ))
            .unwrap();
            let log = k.logger("app").unwrap();
            info!(log, "x", i = i);
            std::thread::spawn(move || info!(log, "y")).join().unwrap();
            if i % 2 == 0 {
                k.shutdown().unwrap();
            }
        }
        std::thread::sleep(Duration::from_millis(200));
        println!("KOLOG_THREADS={}", drainer_threads());
        return;
    }
    let out = within_10s(|| {
        child("kologs_created_and_dropped_in_a_loop_leave_no_threads")
            .output()
            .unwrap()
    });
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        stdout.contains("KOLOG_THREADS=0"),
        "{stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

// ---------------------------------------------------------------------------------------------
// Panic hook (process-global: in a child process)
// ---------------------------------------------------------------------------------------------

#[test]
fn panic_hook_logs_concurrent_panics_and_processor_panics() {
    if child_env().as_deref() == Some("panic_hook_logs_concurrent_panics_and_processor_panics") {
        register_processor("r2_panics", |_| {
            Ok(Box::new(|ev: &mut kolog::EventDict<'_>| {
                if ev.event == "explode" {
                    panic!("processor exploded");
                }
                Action::Keep
            }))
        });
        let k = Kolog::from_json_str(
            r#"{"loggers": [{"name": "root", "handlers": [{"type": "null",
                "processors": [{"type": "r2_panics"}]}]}]}"#,
        )
        .unwrap();
        let sink = Sink::new();
        k.queue_manager().add_sink("root", sink.clone());
        kolog::install_panic_hook(&k).unwrap();
        const N: usize = 8;
        let barrier = Arc::new(Barrier::new(N));
        let threads: Vec<_> = (0..N)
            .map(|i| {
                let b = barrier.clone();
                std::thread::spawn(move || {
                    b.wait();
                    panic!("thread {i} panicked");
                })
            })
            .collect();
        for t in threads {
            assert!(t.join().is_err());
        }
        let panics = sink
            .records()
            .iter()
            .filter(|r| r.get("event").unwrap() == "panic")
            .count();
        println!("THREAD_PANICS={panics}");
        sink.clear();
        info!(k.logger("app").unwrap(), "explode");
        k.flush();
        let messages: Vec<String> = sink
            .records()
            .iter()
            .filter_map(|r| Some(r.get("message")?.as_str()?.to_owned()))
            .collect();
        println!("PROCESSOR_PANICS={messages:?}");
        let s = k.stats();
        assert_balanced(&s);
        println!("FAILED={}", s.failed);
        // Installed twice: still terminates.
        kolog::install_panic_hook(&k).unwrap();
        let _ = std::thread::spawn(|| panic!("after the second install")).join();
        drop(k);
        let _ = std::thread::spawn(|| panic!("after drop")).join();
        println!("DONE");
        return;
    }
    let out = within_10s(|| {
        child("panic_hook_logs_concurrent_panics_and_processor_panics")
            .output()
            .unwrap()
    });
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{stdout}\n{stderr}");
    assert!(stdout.contains("THREAD_PANICS=8"), "{stdout}");
    assert!(
        stdout.contains("PROCESSOR_PANICS=[\"processor exploded\"]"),
        "{stdout}"
    );
    assert!(stdout.contains("FAILED=1"), "{stdout}");
    assert!(stdout.contains("DONE"), "{stdout}");
}

// ---------------------------------------------------------------------------------------------
// Streams with a closed pipe, rotation under concurrency
// ---------------------------------------------------------------------------------------------

#[test]
fn a_closed_stdout_pipe_is_counted_as_failed() {
    if child_env().as_deref() == Some("a_closed_stdout_pipe_is_counted_as_failed") {
        // stdout becomes a pipe whose reading end is closed (what a parent that stopped
        // reading leaves); the test harness's own output goes to a saved copy.
        let saved = unsafe { libc::dup(1) };
        let mut fds = [0; 2];
        assert_eq!(unsafe { libc::pipe(fds.as_mut_ptr()) }, 0);
        unsafe {
            libc::close(fds[0]);
            libc::dup2(fds[1], 1);
            libc::close(fds[1]);
        }
        let k = Kolog::from_json_str(
            r#"{"loggers": [{"name": "root", "handlers": [{"type": "stream"}]}]}"#,
        )
        .unwrap();
        let log = k.logger("app").unwrap();
        for i in 0..100 {
            info!(log, "to a closed pipe", i = i);
        }
        let r = k.shutdown().unwrap();
        unsafe { libc::dup2(saved, 1) };
        eprintln!(
            "REPORT enqueued={} written={} failed={}",
            r.enqueued, r.written, r.failed
        );
        return;
    }
    let out = within_10s(|| {
        child("a_closed_stdout_pipe_is_counted_as_failed")
            .output()
            .unwrap()
    });
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{:?} {stderr}", out.status);
    assert!(
        stderr.contains("REPORT enqueued=100 written=0 failed=100"),
        "{stderr}"
    );
}

#[test]
fn rotation_with_several_threads_and_removed_files_keeps_counts() {
    within_10s(|| {
        for backup_count in [0u32, 1] {
            let dir = temp_dir(&format!("rot{backup_count}"));
            let path = dir.join("app.log");
            let k = Kolog::from_json_str(&format!(
                r#"{{"queue": {{"max_queue_size": 64}}, "loggers": [{{"name": "root", "handlers": [
                    {{"type": "rotating_file", "params": {{"filename": "{}", "max_bytes": 300,
                      "backup_count": {backup_count}}}, "renderer": {{"type": "file_json"}}}}]}}]}}"#,
                path.display()
            ))
            .unwrap();
            let log = k.logger("app").unwrap();
            let threads: Vec<_> = (0..3)
                .map(|t| {
                    let log = log.clone();
                    std::thread::spawn(move || {
                        for i in 0..2_000 {
                            info!(log, "rotate", t = t, i = i);
                        }
                    })
                })
                .collect();
            for _ in 0..50 {
                let _ = std::fs::remove_file(&path);
                let _ = std::fs::remove_file(dir.join("app.log.1"));
                std::thread::sleep(Duration::from_millis(1));
            }
            for t in threads {
                t.join().unwrap();
            }
            let r = k.shutdown().unwrap();
            let s = k.stats();
            assert_balanced(&s);
            assert_eq!(r.enqueued, 6_000);
            assert_eq!(r.written + r.failed, 6_000, "{r:?}");
            // Only complete lines in what is left.
            for f in std::fs::read_dir(&dir).unwrap() {
                let text = std::fs::read_to_string(f.unwrap().path()).unwrap();
                for line in text.lines() {
                    serde_json::from_str::<serde_json::Value>(line).unwrap();
                }
            }
            if backup_count == 0 {
                assert!(!dir.join("app.log.1").exists());
            }
        }
    });
}

// ---------------------------------------------------------------------------------------------
// Configuration values of the wrong type
// ---------------------------------------------------------------------------------------------

fn config_error(doc: &str) -> kolog::Error {
    match kolog::LoggingSystemConfig::from_json_str(doc) {
        Ok(c) => match Kolog::from_config(c) {
            Ok(_) => panic!("accepted: {doc}"),
            Err(e) => e,
        },
        Err(e) => e,
    }
}

fn handler_doc(handler: &str) -> String {
    format!(r#"{{"loggers": [{{"name": "root", "handlers": [{handler}]}}]}}"#)
}

#[test]
fn wrong_json_types_name_the_offending_key() {
    let cases: Vec<(String, &str)> = vec![
        (
            r#"{"loggers": [], "queue": {"max_queue_size": "10"}}"#.into(),
            "queue.max_queue_size",
        ),
        (
            r#"{"loggers": [], "queue": {"max_queue_size": -1}}"#.into(),
            "queue.max_queue_size",
        ),
        (
            r#"{"loggers": [], "queue": {"max_queue_size": 1.5}}"#.into(),
            "queue.max_queue_size",
        ),
        (
            r#"{"loggers": [], "queue": {"max_queue_size": 18446744073709551616}}"#.into(),
            "queue.max_queue_size",
        ),
        (
            r#"{"loggers": [], "queue": {"drain_timeout": "5"}}"#.into(),
            "queue.drain_timeout",
        ),
        (
            r#"{"loggers": [], "queue": {"drain_timeout": -1}}"#.into(),
            "queue.drain_timeout",
        ),
        (
            r#"{"loggers": [], "queue": {"backpressure_policy": null}}"#.into(),
            "queue.backpressure_policy",
        ),
        (r#"{"loggers": [], "queue": []}"#.into(), "queue"),
        (r#"{"loggers": {}}"#.into(), "loggers"),
        (r#"{"loggers": [{"name": null}]}"#.into(), "loggers[0].name"),
        (
            r#"{"loggers": [{"name": "a", "level": 3}]}"#.into(),
            "loggers[0].level",
        ),
        (
            r#"{"loggers": [{"name": "a", "context": []}]}"#.into(),
            "loggers[0].context",
        ),
        (
            r#"{"loggers": [{"name": "a", "handlers": {}}]}"#.into(),
            "loggers[0].handlers",
        ),
        (
            handler_doc(
                r#"{"type": "rotating_file", "params": {"filename": "/tmp/x.log", "max_bytes": "10"}}"#,
            ),
            "loggers[0].handlers[0].params.max_bytes",
        ),
        (
            handler_doc(
                r#"{"type": "rotating_file", "params": {"filename": "/tmp/x.log", "max_bytes": -10}}"#,
            ),
            "loggers[0].handlers[0].params.max_bytes",
        ),
        (
            handler_doc(
                r#"{"type": "rotating_file", "params": {"filename": "/tmp/x.log", "max_bytes": 1.5}}"#,
            ),
            "loggers[0].handlers[0].params.max_bytes",
        ),
        (
            handler_doc(
                r#"{"type": "rotating_file", "params": {"filename": "/tmp/x.log", "max_bytes": 99999999999999999999999}}"#,
            ),
            "loggers[0].handlers[0].params.max_bytes",
        ),
        (
            handler_doc(
                r#"{"type": "rotating_file", "params": {"filename": "/tmp/x.log", "backup_count": -1}}"#,
            ),
            "loggers[0].handlers[0].params.backup_count",
        ),
        (
            handler_doc(
                r#"{"type": "rotating_file", "params": {"filename": "/tmp/x.log", "backup_count": 2.5}}"#,
            ),
            "loggers[0].handlers[0].params.backup_count",
        ),
        (
            handler_doc(
                r#"{"type": "rotating_file", "params": {"filename": "/tmp/x.log", "rotation_interval": "60"}}"#,
            ),
            "loggers[0].handlers[0].params.rotation_interval",
        ),
        (
            handler_doc(
                r#"{"type": "rotating_file", "params": {"filename": "/tmp/x.log", "rotation_interval": -60}}"#,
            ),
            "loggers[0].handlers[0].params.rotation_interval",
        ),
        (
            handler_doc(
                r#"{"type": "rotating_file", "params": {"filename": "/tmp/x.log", "rotation_interval": 0}}"#,
            ),
            "loggers[0].handlers[0].params.rotation_interval",
        ),
        (
            handler_doc(r#"{"type": "rotating_file", "params": {"filename": null}}"#),
            "loggers[0].handlers[0].params.filename",
        ),
        (
            handler_doc(r#"{"type": "file", "params": {"filename": ["a"]}}"#),
            "loggers[0].handlers[0].params.filename",
        ),
        (
            handler_doc(r#"{"type": "file", "params": {"filename": "/tmp/x.log", "mode": 1}}"#),
            "loggers[0].handlers[0].params.mode",
        ),
        (
            handler_doc(
                r#"{"type": "file", "params": {"filename": "/tmp/x.log", "override_existing": "yes"}}"#,
            ),
            "loggers[0].handlers[0].params.override_existing",
        ),
        (
            handler_doc(
                r#"{"type": "file", "params": {"filename": "/tmp/x.log", "encoding": null}}"#,
            ),
            "loggers[0].handlers[0].params.encoding",
        ),
        (
            handler_doc(r#"{"type": "stream", "params": {"use_stderr": "true"}}"#),
            "loggers[0].handlers[0].params.use_stderr",
        ),
        (
            handler_doc(r#"{"type": "stream", "params": []}"#),
            "loggers[0].handlers[0].params",
        ),
        (
            handler_doc(r#"{"type": "stream", "renderer": []}"#),
            "loggers[0].handlers[0].renderer",
        ),
        (
            handler_doc(r#"{"type": "stream", "processors": {}}"#),
            "loggers[0].handlers[0].processors",
        ),
        (
            handler_doc(
                r#"{"type": "stream", "renderer": {"type": "stream_json", "params": {"indentation": "2"}}}"#,
            ),
            "loggers[0].handlers[0].renderer.params.indentation",
        ),
        (
            handler_doc(
                r#"{"type": "stream", "renderer": {"type": "stream_json", "params": {"indentation": -2}}}"#,
            ),
            "loggers[0].handlers[0].renderer.params.indentation",
        ),
        (
            handler_doc(
                r#"{"type": "stream", "renderer": {"type": "stream_json", "params": {"indentation": 1.5}}}"#,
            ),
            "loggers[0].handlers[0].renderer.params.indentation",
        ),
        (
            handler_doc(
                r#"{"type": "stream", "renderer": {"type": "stream_json", "params": {"indentation": 18446744073709551616}}}"#,
            ),
            "loggers[0].handlers[0].renderer.params.indentation",
        ),
        (
            handler_doc(
                r#"{"type": "stream", "renderer": {"type": "stream_plain", "params": {"fmt": 5}}}"#,
            ),
            "loggers[0].handlers[0].renderer.params.fmt",
        ),
        (
            handler_doc(
                r#"{"type": "stream", "renderer": {"type": "stream_plain", "params": {"datefmt": []}}}"#,
            ),
            "loggers[0].handlers[0].renderer.params.datefmt",
        ),
        (
            handler_doc(
                r#"{"type": "stream", "renderer": {"type": "stream_plain", "params": {"utc": "no"}}}"#,
            ),
            "loggers[0].handlers[0].renderer.params.utc",
        ),
        (
            handler_doc(r#"{"type": "stream", "renderer": {"type": null}}"#),
            "loggers[0].handlers[0].renderer.type",
        ),
        (
            handler_doc(
                r#"{"type": "stream", "processors": [{"type": "filter_by_level", "params": {"min_level": 20}}]}"#,
            ),
            "loggers[0].handlers[0].processors[0].params.min_level",
        ),
        (
            handler_doc(
                r#"{"type": "stream", "processors": [{"type": "filter_by_level", "params": {"min_level": null}}]}"#,
            ),
            "loggers[0].handlers[0].processors[0].params.min_level",
        ),
        (
            handler_doc(
                r#"{"type": "stream", "processors": [{"type": "filter_keys", "params": {"keys": "a"}}]}"#,
            ),
            "loggers[0].handlers[0].processors[0].params.keys",
        ),
        (
            handler_doc(
                r#"{"type": "stream", "processors": [{"type": "filter_keys", "params": {"keys": [1]}}]}"#,
            ),
            "loggers[0].handlers[0].processors[0].params.keys",
        ),
        (
            handler_doc(
                r#"{"type": "stream", "processors": [{"type": "add_context_defaults", "params": {"defaults": []}}]}"#,
            ),
            "loggers[0].handlers[0].processors[0].params.defaults",
        ),
        (
            handler_doc(
                r#"{"type": "stream", "processors": [{"type": "add_callsite_params", "params": {"parameters": "filename"}}]}"#,
            ),
            "loggers[0].handlers[0].processors[0].params.parameters",
        ),
        (
            handler_doc(
                r#"{"type": "stream", "processors": [{"type": "add_callsite_params", "params": {"parameters": ["nope"]}}]}"#,
            ),
            "loggers[0].handlers[0].processors[0].params.parameters",
        ),
        (
            handler_doc(
                r#"{"type": "stream", "processors": [{"type": "dict_tracebacks", "params": []}]}"#,
            ),
            "loggers[0].handlers[0].processors[0].params",
        ),
        (
            handler_doc(
                r#"{"type": "stream", "processors": [{"type": "filter_markup", "params": 5}]}"#,
            ),
            "loggers[0].handlers[0].processors[0].params",
        ),
        (
            handler_doc(r#"{"type": "stream", "processors": [null]}"#),
            "loggers[0].handlers[0].processors[0]",
        ),
        (
            handler_doc(r#"{"type": "null", "params": {"x": 1}}"#),
            "loggers[0].handlers[0].params",
        ),
    ];
    let mut bad = Vec::new();
    for (doc, path) in &cases {
        let e = std::panic::catch_unwind(|| config_error(doc))
            .unwrap_or_else(|_| panic!("panicked on {doc}"));
        let mut text = e.msg().to_owned();
        let mut src = std::error::Error::source(&e);
        while let Some(s) = src {
            text.push_str(" / ");
            text.push_str(&s.to_string());
            src = s.source();
        }
        if e.kind() != kolog::ErrorKind::Configuration
            && e.kind() != kolog::ErrorKind::LoggerCreation
            || !(text.contains(&format!("`{path}`"))
                || text.contains(&format!("`{path}[0]`"))
                || text.contains(&format!("`{path}.x`")))
        {
            bad.push(format!("{doc}\n  want {path}\n  got  {} {text}", e.code()));
        }
    }
    assert!(bad.is_empty(), "{}", bad.join("\n"));
}

#[test]
fn nulls_where_optional_are_defaults_and_elsewhere_errors() {
    let f = r#""filename": "/tmp/kolog-r2-null.log""#;
    let cases: Vec<(String, ())> = vec![
        (r#"{"loggers": [], "default_level": null}"#.into(), ()),
        (
            handler_doc(&format!(
                r#"{{"type": "rotating_file", "params": {{{f}, "rotation_interval": null}}}}"#
            )),
            (),
        ),
        (r#"{"loggers": [{"name": "a", "level": null}]}"#.into(), ()),
        (
            r#"{"loggers": [{"name": "a", "context": null}]}"#.into(),
            (),
        ),
        (
            r#"{"loggers": [{"name": "a", "handlers": null}]}"#.into(),
            (),
        ),
        (handler_doc(r#"{"type": "null", "params": null}"#), ()),
        (handler_doc(r#"{"type": "null", "renderer": null}"#), ()),
        (handler_doc(r#"{"type": "null", "processors": null}"#), ()),
        (
            handler_doc(
                r#"{"type": "stream", "renderer": {"type": "stream_json", "params": {"indentation": null}}}"#,
            ),
            (),
        ),
        (
            handler_doc(
                r#"{"type": "stream", "renderer": {"type": "stream_plain", "params": {"fmt": null}}}"#,
            ),
            (),
        ),
        (
            handler_doc(
                r#"{"type": "stream", "renderer": {"type": "stream_plain", "params": {"datefmt": null}}}"#,
            ),
            (),
        ),
        (
            handler_doc(r#"{"type": "stream", "params": {"use_stderr": null}}"#),
            (),
        ),
        (
            handler_doc(&format!(
                r#"{{"type": "rotating_file", "params": {{{f}, "max_bytes": null}}}}"#
            )),
            (),
        ),
        (
            handler_doc(&format!(
                r#"{{"type": "rotating_file", "params": {{{f}, "backup_count": null}}}}"#
            )),
            (),
        ),
        (
            handler_doc(&format!(
                r#"{{"type": "file", "params": {{{f}, "mode": null}}}}"#
            )),
            (),
        ),
        (
            handler_doc(
                r#"{"type": "stream", "processors": [{"type": "filter_markup", "params": null}]}"#,
            ),
            (),
        ),
        (
            handler_doc(
                r#"{"type": "stream", "processors": [{"type": "add_context_defaults", "params": {"defaults": null}}]}"#,
            ),
            (),
        ),
        (
            handler_doc(
                r#"{"type": "stream", "processors": [{"type": "filter_keys", "params": {"keys": null}}]}"#,
            ),
            (),
        ),
        (handler_doc(r#"{"type": null}"#), ()),
        (
            r#"{"loggers": [{"name": "a", "context": {"k": null}}]}"#.into(),
            (),
        ),
        (r#"{"loggers": null}"#.into(), ()),
        (r#"{"loggers": [], "queue": null}"#.into(), ()),
    ];
    for (doc, _) in &cases {
        let r = std::panic::catch_unwind(|| kolog::LoggingSystemConfig::from_json_str(doc))
            .unwrap_or_else(|_| panic!("panicked on {doc}"));
        // Optional sections and values take their default; a null where a list, string,
        // number or boolean is expected is an error naming the key.
        if let Err(e) = r {
            assert_eq!(e.code(), "CONFIGURATION::LoggerFactory::VALIDATION::ERROR");
            assert!(
                e.msg().starts_with('`')
                    && e.msg().contains("`: expected ")
                    && e.msg().contains("found null"),
                "{doc}: {}",
                e.msg()
            );
        }
    }
}

fn rss_kib() -> u64 {
    let statm = std::fs::read_to_string("/proc/self/statm").unwrap();
    let pages: u64 = statm.split_whitespace().nth(1).unwrap().parse().unwrap();
    pages * 4
}

#[test]
fn bridges_of_dropped_kologs_release_their_memory() {
    if child_env().as_deref() == Some("bridges_of_dropped_kologs_release_their_memory") {
        let round = |i: u64| {
            let k = null_kolog(r#"{"max_queue_size": 10000}"#);
            if std::env::var("KOLOG_R2_DIRECT").is_ok() {
                let log = k.logger("app").unwrap();
                for j in 0..2_000u64 {
                    info!(log, "event", i = i, j = j);
                }
                k.shutdown().unwrap();
                return;
            }
            let sub = tracing_subscriber::registry().with(kolog::bridge::tracing::layer(&k));
            tracing::subscriber::with_default(sub, || {
                for j in 0..2_000u64 {
                    tracing::info!(target: "app", i, j, "event");
                }
            });
            k.shutdown().unwrap();
        };
        for i in 0..5 {
            round(i);
        }
        let before = rss_kib();
        for i in 0..60 {
            round(i);
        }
        println!("RSS_GROWTH_KIB={}", rss_kib().saturating_sub(before));
        return;
    }
    let out = within_10s(|| {
        child("bridges_of_dropped_kologs_release_their_memory")
            .output()
            .unwrap()
    });
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{stdout}");
    let growth: u64 = stdout
        .split("RSS_GROWTH_KIB=")
        .nth(1)
        .and_then(|s| s.split_whitespace().next())
        .unwrap()
        .parse()
        .unwrap();
    assert!(
        growth < 8 * 1024,
        "{growth} KiB kept after 60 systems came and went"
    );
}
