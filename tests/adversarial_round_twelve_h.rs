//! Round twelve H: the wait graph, factory/shutdown handover, fork handling, one-off rings and
//! ring reclaim, attacked together.

mod common;

use kolog::Kolog;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

const CHILD: &str = "KOLOG_R12H_CHILD";

fn is_child(test: &str) -> bool {
    std::env::var(CHILD).as_deref() == Ok(test)
}

/// Forks `n` times while other threads of the parent read `stats()`, flush, and start
/// threads that log once and exit (registering a ring, which the drainer then reclaims): the
/// locks those take (the ring registry's, the flush barrier's) may be held by a parent thread
/// at the moment of the fork, a thread that does not exist in the child. Each child logs
/// from a thread that has no ring yet, flushes, reads the stats and shuts down; a hang there
/// ends it with SIGALRM. Before the fix, children hung in `stats()`/`flush()`/the first
/// record (the registry lock held by a parent thread reading the stats at the fork). The
/// child's counts balance too: records the parent's drainer had taken out of the rings but not
/// yet counted at the fork were left as enqueued with no outcome (1 child in about 60).
#[test]
fn a_fork_while_parent_threads_hold_kolog_locks_leaves_a_child_that_does_not_hang() {
    const TEST: &str =
        "a_fork_while_parent_threads_hold_kolog_locks_leaves_a_child_that_does_not_hang";
    if is_child(TEST) {
        let k = Arc::new(
            Kolog::from_json_str(
                r#"{"queue": {"max_queue_size": 8, "backpressure_policy": "block"},
                "loggers": [{"name": "root", "handlers": [{"type": "null"}]}]}"#,
            )
            .unwrap(),
        );
        let stop = Arc::new(AtomicBool::new(false));
        let mut busy = Vec::new();
        // Threads that stay alive with a ring each: the registry's live list is long, so
        // `stats()` holds its lock for a while.
        for _ in 0..3 {
            let (k, stop) = (k.clone(), stop.clone());
            busy.push(std::thread::spawn(move || {
                let log = k.logger("root").unwrap();
                while !stop.load(Ordering::Relaxed) {
                    kolog::info!(log, "stats reader");
                    let _ = k.stats();
                }
            }));
        }
        {
            let (k, stop) = (k.clone(), stop.clone());
            busy.push(std::thread::spawn(move || {
                while !stop.load(Ordering::Relaxed) {
                    k.flush();
                }
            }));
        }
        {
            let (k, stop) = (k.clone(), stop.clone());
            busy.push(std::thread::spawn(move || {
                let log = k.logger("root").unwrap();
                while !stop.load(Ordering::Relaxed) {
                    let log = log.clone();
                    std::thread::spawn(move || kolog::info!(log, "churn"))
                        .join()
                        .unwrap();
                }
            }));
        }
        std::thread::sleep(std::time::Duration::from_millis(50));
        let mut hung = 0;
        for round in 0..60 {
            // SAFETY: the child only logs through kolog and ends with _exit.
            let pid = unsafe { libc::fork() };
            assert!(pid >= 0);
            if pid == 0 {
                // SAFETY: alarm has no preconditions.
                unsafe { libc::alarm(10) };
                let log = k.logger("root").unwrap();
                let ok = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
                    // This thread never logged in the parent: its first record registers a
                    // ring.
                    if round % 2 == 0 {
                        kolog::info!(log, "child first");
                        k.flush();
                    } else {
                        k.flush();
                        kolog::info!(log, "child first");
                    }
                    // Balanced, although the parent's drainer may have had records in hand
                    // at the fork (the parent writes them; here they are dropped).
                    common::assert_balanced(&k.stats());
                    assert!(k.shutdown().is_err());
                }))
                .is_ok();
                // SAFETY: ends the forked child without running the parent's exit handlers.
                unsafe { libc::_exit(if ok { 0 } else { 1 }) };
            }
            let mut status = 0;
            // SAFETY: `pid` is this process's child.
            assert_eq!(unsafe { libc::waitpid(pid, &mut status, 0) }, pid);
            if !(libc::WIFEXITED(status) && libc::WEXITSTATUS(status) == 0) {
                eprintln!("round {round}: status {status}");
                hung += 1;
            }
        }
        stop.store(true, Ordering::Relaxed);
        for t in busy {
            t.join().unwrap();
        }
        k.flush();
        let s = k.stats();
        common::assert_balanced(&s);
        assert_eq!(s.dropped, 0, "{s:?}");
        assert_eq!(hung, 0, "children that hung or failed");
        println!("CHILD-DONE");
        return;
    }
    let out = common::run_child(TEST, CHILD, &[], &[], 600);
    common::assert_child_succeeded(&out);
    assert!(String::from_utf8_lossy(&out.stdout).contains("CHILD-DONE"));
}

/// Threads go on logging (plain values, formatted values, records too large for the ring,
/// `ainfo!` polled once) through and after `shutdown()`, threads start and exit meanwhile, and
/// other threads read `stats()`: from the end of the drain on, every read balances; once the
/// loggers have exited the rings are all freed, and the final counts add up.
#[test]
fn stats_balance_at_every_read_while_threads_log_through_shutdown_and_rings_are_freed() {
    common::within(300, "logging through shutdown", || {
        for round in 0..6 {
            let policy = ["block", "drop", "drop_oldest"][round % 3];
            let k = Arc::new(
                Kolog::from_json_str(&format!(
                    r#"{{"queue": {{"max_queue_size": 8, "backpressure_policy": "{policy}"}},
                    "loggers": [{{"name": "root", "handlers": [{{"type": "null"}}]}}]}}"#
                ))
                .unwrap(),
            );
            let log = k.logger("root").unwrap();
            let done = Arc::new(AtomicBool::new(false));
            let shut = Arc::new(AtomicBool::new(false));
            let mut loggers = Vec::new();
            for t in 0..6 {
                let (log, done) = (log.clone(), done.clone());
                loggers.push(std::thread::spawn(move || {
                    let big = "x".repeat(5000);
                    let mut i = 0u64;
                    while !done.load(Ordering::Relaxed) {
                        match (i + t) % 5 {
                            0 => kolog::info!(log, "plain", i = i),
                            1 => kolog::info!(log, "formatted", i = %i),
                            2 => kolog::info!(log, "big", b = big.as_str()),
                            3 => {
                                let mut cx =
                                    std::task::Context::from_waker(std::task::Waker::noop());
                                let mut f = std::pin::pin!(kolog::ainfo!(log, "async", i = i));
                                let _ = std::future::Future::poll(f.as_mut(), &mut cx);
                            }
                            _ => {
                                let log = log.clone();
                                std::thread::spawn(move || kolog::info!(log, "short", i = i))
                                    .join()
                                    .unwrap();
                            }
                        }
                        i += 1;
                    }
                }));
            }
            let mut readers = Vec::new();
            for _ in 0..2 {
                let (k, done, shut) = (k.clone(), done.clone(), shut.clone());
                readers.push(std::thread::spawn(move || {
                    let mut reads = 0u64;
                    while !done.load(Ordering::Relaxed) {
                        let after = shut.load(Ordering::Acquire);
                        let s = k.stats();
                        if after {
                            common::assert_balanced(&s);
                            reads += 1;
                        }
                    }
                    reads
                }));
            }
            std::thread::sleep(std::time::Duration::from_millis(30));
            let report = k.shutdown().unwrap();
            assert_eq!(
                report.enqueued,
                report.written
                    + report.filtered
                    + report.failed
                    + report.dropped_oldest
                    + report.dropped_timeout,
                "{report:?}"
            );
            shut.store(true, Ordering::Release);
            std::thread::sleep(std::time::Duration::from_millis(100));
            done.store(true, Ordering::Relaxed);
            for t in loggers {
                t.join().unwrap();
            }
            for r in readers {
                r.join().unwrap();
            }
            let s = k.stats();
            common::assert_balanced(&s);
            assert_eq!(s.live_rings, 0, "round {round} ({policy}): {s:?}");
            assert_eq!(
                (s.written, s.enqueued),
                (report.written, report.enqueued),
                "round {round}: {s:?}"
            );
        }
    });
}

/// The two systems of [`two_systems_shutting_each_other_down_from_processors_do_not_hang`],
/// the barrier their processors meet at, and what each processor's `shutdown()` of the other
/// returned (Ok or the error's code).
static MUTUAL: std::sync::Mutex<Option<[Arc<Kolog>; 2]>> = std::sync::Mutex::new(None);
static MUTUAL_MET: std::sync::Barrier = std::sync::Barrier::new(2);
static MUTUAL_RESULTS: std::sync::Mutex<[Option<Result<u64, String>>; 2]> =
    std::sync::Mutex::new([None, None]);

fn shut_peer(from: usize, ev: &kolog::EventDict<'_>) -> kolog::process::Action {
    if ev.event == "shut" {
        let peer = MUTUAL.lock().unwrap().as_ref().unwrap()[1 - from].clone();
        // Both drainers are now in a processor; each joins the other's drainer.
        MUTUAL_MET.wait();
        let r = peer
            .shutdown()
            .map(|r| r.written)
            .map_err(|e| e.code().to_owned());
        MUTUAL_RESULTS.lock().unwrap()[from] = Some(r);
    }
    kolog::process::Action::Keep
}

/// Each of two systems' processors shuts the other down (a processor holding another
/// system, dropped or shut down when a record asks for it): each drainer joined the other's,
/// which waited in the join back, for ever, although the shutdown's wait is recorded in the
/// wait graph (its join never looked at it). Now a shutdown called on a drainer thread gives
/// up when the drainer it waits for waits back (the `LIFECYCLE` warning; the drain has begun
/// and a later `shutdown()` returns the report): for each system exactly one shutdown, from
/// the other's processor or from the test, returns its report, with the one record written.
#[test]
fn two_systems_shutting_each_other_down_from_processors_do_not_hang() {
    kolog::register_processor("r12h_shut_0", |_| {
        Ok(Box::new(|ev: &mut kolog::EventDict<'_>| shut_peer(0, ev)))
    });
    kolog::register_processor("r12h_shut_1", |_| {
        Ok(Box::new(|ev: &mut kolog::EventDict<'_>| shut_peer(1, ev)))
    });
    let make = |p: &str| {
        Arc::new(
            Kolog::from_json_str(&format!(
                r#"{{"loggers": [{{"name": "root", "handlers": [{{"type": "null",
                "processors": [{{"type": "{p}"}}]}}]}}]}}"#
            ))
            .unwrap(),
        )
    };
    let systems = [make("r12h_shut_0"), make("r12h_shut_1")];
    *MUTUAL.lock().unwrap() = Some(systems.clone());
    for k in &systems {
        let log = k.logger("root").unwrap();
        kolog::info!(log, "shut");
    }
    common::within(60, "mutual shutdown", || loop {
        if MUTUAL_RESULTS.lock().unwrap().iter().all(Option::is_some) {
            break;
        }
        std::thread::sleep(std::time::Duration::from_millis(5));
    });
    let finals = common::within(60, "shutdown after the mutual one", move || {
        let finals: Vec<_> = systems
            .iter()
            .map(|k| {
                k.shutdown()
                    .map(|r| r.written)
                    .map_err(|e| e.code().to_owned())
            })
            .collect();
        MUTUAL.lock().unwrap().take();
        finals
    });
    let from_processors = MUTUAL_RESULTS.lock().unwrap().clone();
    for (i, fin) in finals.into_iter().enumerate() {
        // System i was shut down by system 1 - i's processor.
        let by_peer = from_processors[1 - i].clone().expect("the processor ran");
        let oks: Vec<u64> = [&by_peer, &fin]
            .into_iter()
            .filter_map(|r| r.as_ref().ok().copied())
            .collect();
        assert_eq!(
            oks,
            [1],
            "system {i}: by peer {by_peer:?}, by the test {fin:?}"
        );
        for r in [by_peer, fin].into_iter().filter_map(Result::err) {
            assert_eq!(r, "QUEUE::QueueManager::LIFECYCLE::WARNING", "system {i}");
        }
    }
}

/// The three systems of [`three_systems_flooding_each_other_in_a_ring_neither_hang_nor_lose_count`].
static RING3: std::sync::Mutex<Option<[kolog::Logger; 3]>> = std::sync::Mutex::new(None);
static RING3_MET: std::sync::Barrier = std::sync::Barrier::new(3);
const RING3_FLOOD: u64 = 300;

fn flood_next(from: usize, ev: &kolog::EventDict<'_>) -> kolog::process::Action {
    if ev.event == "original" {
        let next = RING3.lock().unwrap().as_ref().unwrap()[(from + 1) % 3].clone();
        RING3_MET.wait();
        for i in 0..RING3_FLOOD {
            kolog::info!(
                next,
                "forwarded",
                i,
                pad = "................................................................"
            );
        }
    }
    kolog::process::Action::Keep
}

/// A → B → C → A: each system's processor floods the next one under `block` with the smallest
/// rings, all at once. The cycle is three edges long; no drainer may hang, and every record is
/// either written or counted in `dropped_full`.
#[test]
fn three_systems_flooding_each_other_in_a_ring_neither_hang_nor_lose_count() {
    for i in 0..3usize {
        kolog::register_processor(&format!("r12h_ring3_{i}"), move |_| {
            Ok(Box::new(move |ev: &mut kolog::EventDict<'_>| {
                flood_next(i, ev)
            }))
        });
    }
    let systems: Arc<Vec<Kolog>> = Arc::new(
        (0..3)
            .map(|i| {
                Kolog::from_json_str(&format!(
                    r#"{{"queue": {{"max_queue_size": 1, "backpressure_policy": "block"}},
                    "loggers": [{{"name": "root", "handlers": [{{"type": "null",
                    "processors": [{{"type": "r12h_ring3_{i}"}}]}}]}}]}}"#
                ))
                .unwrap()
            })
            .collect(),
    );
    *RING3.lock().unwrap() = Some([0, 1, 2].map(|i| systems[i].logger("peer").unwrap()));
    let loaded = systems.clone();
    common::within(120, "three systems flooding each other", move || {
        for k in loaded.iter() {
            kolog::info!(k.logger("app").unwrap(), "original");
        }
        for _ in 0..2 {
            for k in loaded.iter() {
                k.flush();
            }
        }
    });
    RING3.lock().unwrap().take();
    for k in systems.iter() {
        let s = k.stats();
        common::assert_balanced(&s);
        assert_eq!(s.enqueued + s.dropped, 1 + RING3_FLOOD, "{s:?}");
        assert_eq!(s.dropped, s.dropped_full, "{s:?}");
        assert_eq!(s.enqueued, s.written, "{s:?}");
    }
}

/// Threads build factories, each with a `"w"` file of its own that holds an old line, while
/// another thread shuts the queue manager down: each factory is either refused (the
/// `LIFECYCLE` warning, its file untouched) or built (its file emptied, and its one record
/// written or counted as dropped at shutdown); the report's counts match the files exactly.
#[test]
fn factories_racing_shutdown_are_refused_untouched_or_installed_and_written() {
    let dir = common::temp_dir("r12h-factories");
    common::within(300, "factories racing shutdown", move || {
        for round in 0..20 {
            let qm = Arc::new(kolog::QueueManager::start(kolog::QueueConfig::default()).unwrap());
            let paths: Vec<_> = (0..8)
                .map(|t| dir.join(format!("r{round}-t{t}.log")))
                .collect();
            for p in &paths {
                std::fs::write(p, "old\n").unwrap();
            }
            let go = Arc::new(std::sync::Barrier::new(paths.len() + 1));
            let builders: Vec<_> = paths
                .iter()
                .map(|p| {
                    let (qm, go, p) = (qm.clone(), go.clone(), p.clone());
                    std::thread::spawn(move || {
                        go.wait();
                        match kolog::LoggerFactory::from_json_str(&common::root_json_file(&p), &qm)
                        {
                            Ok(f) => {
                                kolog::info!(f.get_logger("root").unwrap(), "new");
                                true
                            }
                            Err(e) => {
                                assert_eq!(e.code(), "QUEUE::QueueManager::LIFECYCLE::WARNING");
                                false
                            }
                        }
                    })
                })
                .collect();
            go.wait();
            for _ in 0..round * 50 {
                std::hint::spin_loop();
            }
            let report = qm.shutdown().unwrap();
            let built: Vec<bool> = builders.into_iter().map(|t| t.join().unwrap()).collect();
            let mut lines = 0;
            for (p, built) in paths.iter().zip(built) {
                let text = std::fs::read_to_string(p).unwrap();
                if built {
                    assert!(
                        text.is_empty() || text.lines().count() == 1 && text.contains("\"new\""),
                        "{text:?}"
                    );
                    lines += text.lines().count() as u64;
                } else {
                    assert_eq!(text, "old\n", "a refused factory emptied its file");
                }
            }
            assert_eq!(report.written, lines, "round {round}: {report:?}");
            assert_eq!(report.enqueued, report.written, "{report:?}");
            let s = qm.stats();
            common::assert_balanced(&s);
        }
    });
}

/// A thread-local registered before kolog's, so destroyed after it: its destructor logs once
/// the thread's ring is gone (the one-off ring path).
struct LogsOnExit(Option<(kolog::Logger, u64, u64)>);

impl Drop for LogsOnExit {
    fn drop(&mut self) {
        if let Some((log, t, i)) = self.0.take() {
            kolog::info!(log, "r", t, i);
            kolog::info!(log, "r", t, i = i + 1, shown = %"formatted");
        }
    }
}

thread_local! {
    static ON_EXIT: std::cell::RefCell<LogsOnExit> = const { std::cell::RefCell::new(LogsOnExit(None)) };
}

/// Many threads log a run of records into their own ring, then two more from a thread-local
/// destructor that runs after kolog's (through one-off rings): each thread's records are
/// written in the order they were logged, none lost or doubled, and the one-off rings are
/// freed.
#[test]
fn records_logged_from_late_thread_local_destructors_keep_per_thread_order() {
    let dir = common::temp_dir("r12h-one-off-order");
    let path = dir.join("app.log");
    let k = Arc::new(Kolog::from_json_str(&common::root_json_file(&path)).unwrap());
    let log = k.logger("root").unwrap();
    const THREADS: u64 = 16;
    const EACH: u64 = 200;
    let s = common::within(120, "one-off rings", move || {
        for round in 0..5u64 {
            let threads: Vec<_> = (0..THREADS)
                .map(|t| {
                    let log = log.clone();
                    std::thread::spawn(move || {
                        let t = round * THREADS + t;
                        // Registered before kolog's thread-local: destroyed after it.
                        ON_EXIT.with(|e| e.borrow_mut().0 = Some((log.clone(), t, EACH)));
                        for i in 0..EACH {
                            kolog::info!(log, "r", t, i);
                        }
                    })
                })
                .collect();
            for t in threads {
                t.join().unwrap();
            }
        }
        k.flush();
        // The drainer frees the rings of exited threads after the pass that emptied them.
        let until = std::time::Instant::now() + std::time::Duration::from_secs(20);
        loop {
            let s = k.stats();
            if s.live_rings == 0 || std::time::Instant::now() > until {
                return s;
            }
            std::thread::sleep(std::time::Duration::from_millis(10));
        }
    });
    common::assert_balanced(&s);
    let total = 5 * THREADS * (EACH + 2);
    assert_eq!(
        (s.enqueued, s.written, s.dropped),
        (total, total, 0),
        "{s:?}"
    );
    assert_eq!(s.live_rings, 0, "{s:?}");
    let mut next = std::collections::HashMap::new();
    for v in common::json_lines(&path) {
        let (t, i) = (v["t"].as_u64().unwrap(), v["i"].as_u64().unwrap());
        let n = next.entry(t).or_insert(0u64);
        assert_eq!(i, *n, "thread {t}: record {i} after {}", *n as i64 - 1);
        *n += 1;
    }
    assert!(next.values().all(|&n| n == EACH + 2), "{next:?}");
    let _ = std::fs::remove_dir_all(&dir);
}

/// The systems of [`a_flush_cycle_with_a_ring_cycle_then_plain_forwarding_loses_nothing`].
static MIXED: std::sync::Mutex<Option<[Arc<Kolog>; 2]>> = std::sync::Mutex::new(None);
static MIXED_MET: std::sync::Barrier = std::sync::Barrier::new(2);

fn mixed(from: usize, ev: &kolog::EventDict<'_>) -> kolog::process::Action {
    let peer = || MIXED.lock().unwrap().as_ref().unwrap()[1 - from].clone();
    match (from, ev.event.as_ref()) {
        // A flushes B while B floods A.
        (0, "cycle") => {
            let b = peer();
            MIXED_MET.wait();
            b.flush();
        }
        (1, "cycle") => {
            let a = peer();
            let log = a.logger("fromb").unwrap();
            MIXED_MET.wait();
            for i in 0..200u64 {
                kolog::info!(
                    log,
                    "flood",
                    i,
                    pad = "................................................"
                );
            }
        }
        // Afterwards A forwards into B, whose drainer waits for nobody.
        (0, "forward") => {
            let b = peer();
            let log = b.logger("froma").unwrap();
            for i in 0..1000u64 {
                kolog::info!(
                    log,
                    "forwarded",
                    i,
                    pad = "................................................"
                );
            }
        }
        _ => {}
    }
    kolog::process::Action::Keep
}

/// A's processor flushes B while B's processor floods A's smallest ring (a flush edge and a
/// ring edge forming one cycle): neither hangs. Then, with both drainers free, A's processor
/// forwards 1,000 records into B under `block`: no edge left from the cycle may make it give
/// any up.
#[test]
fn a_flush_cycle_with_a_ring_cycle_then_plain_forwarding_loses_nothing() {
    kolog::register_processor("r12h_mixed_0", |_| {
        Ok(Box::new(|ev: &mut kolog::EventDict<'_>| mixed(0, ev)))
    });
    kolog::register_processor("r12h_mixed_1", |_| {
        Ok(Box::new(|ev: &mut kolog::EventDict<'_>| mixed(1, ev)))
    });
    let make = |p: &str| {
        Arc::new(
            Kolog::from_json_str(&format!(
                r#"{{"queue": {{"max_queue_size": 1, "backpressure_policy": "block"}},
                "loggers": [{{"name": "root", "handlers": [{{"type": "null",
                "processors": [{{"type": "{p}"}}]}}]}}]}}"#
            ))
            .unwrap(),
        )
    };
    let systems = [make("r12h_mixed_0"), make("r12h_mixed_1")];
    *MIXED.lock().unwrap() = Some(systems.clone());
    let s2 = systems.clone();
    let (first, second) = common::within(120, "a mixed cycle", move || {
        for k in s2.iter() {
            kolog::info!(k.logger("app").unwrap(), "cycle");
        }
        for _ in 0..2 {
            for k in s2.iter() {
                k.flush();
            }
        }
        let first = [s2[0].stats(), s2[1].stats()];
        kolog::info!(s2[0].logger("app").unwrap(), "forward");
        s2[0].flush();
        s2[1].flush();
        (first, [s2[0].stats(), s2[1].stats()])
    });
    MIXED.lock().unwrap().take();
    for s in first.iter().chain(&second) {
        common::assert_balanced(s);
    }
    // A: its two records and B's 200 (some maybe given up); B: its record.
    assert_eq!(
        first[0].enqueued + first[0].dropped_full,
        201,
        "{:?}",
        first[0]
    );
    assert_eq!(first[1].enqueued, 1, "{:?}", first[1]);
    // The forwarding phase: nothing more given up anywhere.
    assert_eq!(
        second[0].dropped_full, first[0].dropped_full,
        "{:?}",
        second[0]
    );
    assert_eq!(
        (second[1].enqueued, second[1].written, second[1].dropped),
        (1001, 1001, 0),
        "{:?}",
        second[1]
    );
}

/// The audit system of [`a_system_shut_down_while_another_drainer_waits_for_it`].
static TARGET: std::sync::Mutex<Option<kolog::Logger>> = std::sync::Mutex::new(None);

/// A's processor forwards every record into B (the smallest ring, `block`) while the test
/// shuts B down: A's drainer, waiting for room in B, must stop waiting once B is closed, and
/// every forwarded record is written by B or counted as `dropped_shutdown` there.
#[test]
fn a_system_shut_down_while_another_drainer_waits_for_it() {
    kolog::register_processor("r12h_forward", |_| {
        Ok(Box::new(|ev: &mut kolog::EventDict<'_>| {
            let log = TARGET.lock().unwrap().clone().unwrap();
            if let Some(kolog::record::Value::U64(i)) = ev.get("i") {
                let i = *i;
                kolog::info!(
                    log,
                    "forwarded",
                    i,
                    pad = "................................................"
                );
            }
            kolog::process::Action::Keep
        }))
    });
    let make = |q: usize, p: &str| {
        Kolog::from_json_str(&format!(
            r#"{{"queue": {{"max_queue_size": {q}, "backpressure_policy": "block"}},
            "loggers": [{{"name": "root", "handlers": [{{"type": "null"{p}}}]}}]}}"#
        ))
        .unwrap()
    };
    let b = make(1, "");
    *TARGET.lock().unwrap() = Some(b.logger("audit").unwrap());
    let a = make(10_000, r#", "processors": [{"type": "r12h_forward"}]"#);
    let (ra, rb) = common::within(60, "shutting down a waited-for system", move || {
        let log = a.logger("app").unwrap();
        for i in 0..5000u64 {
            kolog::info!(log, "r", i);
        }
        std::thread::sleep(std::time::Duration::from_millis(5));
        b.shutdown().unwrap();
        let ra = a.shutdown().unwrap();
        let sb = b.stats();
        common::assert_balanced(&sb);
        (ra, sb)
    });
    TARGET.lock().unwrap().take();
    assert_eq!(
        (ra.enqueued, ra.written, ra.dropped),
        (5000, 5000, 0),
        "{ra:?}"
    );
    assert_eq!(rb.written + rb.dropped_shutdown, 5000, "{rb:?}");
    assert_eq!(rb.dropped, rb.dropped_shutdown, "{rb:?}");
}
