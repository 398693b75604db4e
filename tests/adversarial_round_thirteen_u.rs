//! Round thirteen (U): exact accounting leftovers.
mod common;

use kolog::{info, Kolog};

/// Threads that each log a record and exit, joined: one `flush()` returns only after their
/// rings (drained, their producers gone) are freed, so `live_rings` is 0 right after it, not
/// one pass later. Many rounds, so that a drainer freeing them after it woke the flusher
/// (as it did) is seen.
#[test]
fn one_flush_frees_the_rings_of_joined_threads() {
    let k =
        Kolog::from_json_str(r#"{"loggers": [{"name": "root", "handlers": [{"type": "null"}]}]}"#)
            .unwrap();
    let log = k.logger("root").unwrap();
    for round in 0..200u64 {
        let threads: Vec<_> = (0..4u64)
            .map(|i| {
                let log = log.clone();
                std::thread::spawn(move || info!(log, "from a short-lived thread", round, i))
            })
            .collect();
        for t in threads {
            t.join().unwrap();
        }
        k.flush();
        let s = k.stats();
        assert_eq!(s.live_rings, 0, "round {round}: {s:?}");
        assert_eq!(
            (s.enqueued, s.written),
            (4 * (round + 1), 4 * (round + 1)),
            "{s:?}"
        );
    }
    let report = k.shutdown().unwrap();
    assert_eq!(
        (report.enqueued, report.written, report.dropped),
        (800, 800, 0)
    );
}
