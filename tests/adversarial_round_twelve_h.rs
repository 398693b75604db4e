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
/// record (the registry lock held by a parent thread reading the stats at the fork).
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
                    // (Not balanced here when the parent's drainer had records in hand at the
                    // fork: the parent writes them, the child cannot count them.)
                    let _ = k.stats();
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
