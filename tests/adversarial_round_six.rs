//! Adversarial round six: hostile inputs and races not covered by rounds one to five, each
//! asserting exact counts and bytes.

mod common;

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;

use common::{assert_balanced, within};
use kolog::process::Action;
use kolog::{info, Kolog};

/// A custom processor that spins for `micros` per record: a drainer slower than its producer.
fn register_slow(name: &str, micros: u64) {
    kolog::register_processor(name, move |_| {
        Ok(Box::new(move |_: &mut kolog::EventDict<'_>| {
            let until = std::time::Instant::now() + std::time::Duration::from_micros(micros);
            while std::time::Instant::now() < until {
                std::hint::spin_loop();
            }
            Action::Keep
        }))
    });
}

/// Under `drop_oldest`, a producer that never pauses must not keep the drainer on its ring:
/// `flush()` from another thread returns while it still logs.
#[test]
fn drop_oldest_flush_returns_while_a_producer_keeps_logging() {
    register_slow("r6_slow", 5);
    within(30, "drop_oldest flush", || {
        let k = Kolog::from_json_str(
            r#"{"queue": {"max_queue_size": 20000, "backpressure_policy": "drop_oldest"},
                "loggers": [{"name": "root", "handlers": [{"type": "null", "processors": [{"type": "r6_slow"}]}]}]}"#,
        )
        .unwrap();
        let log = k.logger("root").unwrap();
        let stop = Arc::new(AtomicBool::new(false));
        let done = Arc::new(AtomicBool::new(false));
        let logged = Arc::new(AtomicU64::new(0));
        let producer = std::thread::spawn({
            let (stop, done, logged, log) =
                (stop.clone(), done.clone(), logged.clone(), log.clone());
            move || {
                let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
                while !stop.load(Ordering::Relaxed) && std::time::Instant::now() < deadline {
                    info!(log, "spin", i = 1u64);
                    logged.fetch_add(1, Ordering::Relaxed);
                }
                done.store(true, Ordering::SeqCst);
            }
        });
        while logged.load(Ordering::Relaxed) < 10_000 {
            std::thread::yield_now();
        }
        k.flush();
        let still_running = !done.load(Ordering::SeqCst);
        stop.store(true, Ordering::Relaxed);
        producer.join().unwrap();
        assert!(still_running, "flush() waited for the producer to stop");
        k.flush();
        let s = k.stats();
        assert_balanced(&s);
        assert_eq!(s.enqueued + s.dropped_full, logged.load(Ordering::Relaxed));
    });
}

/// Under `drop_oldest`, the survivors of several threads are written in timestamp order, as
/// under the other policies (the drainer merges the rings).
#[test]
fn drop_oldest_merges_threads_in_timestamp_order() {
    within(30, "drop_oldest order", || {
        // A ring large enough for everything, and one that evicts.
        for size in [200_000, 64] {
            let dir = common::temp_dir(&format!("r6-drop-oldest-order-{size}"));
            let path = dir.join("o.log");
            let k = Kolog::from_json_str(&format!(
            r#"{{"queue": {{"max_queue_size": {size}, "backpressure_policy": "drop_oldest"}},
                "loggers": [{{"name": "root", "handlers": [{{"type": "file", "params": {{"filename": "{}"}}, "renderer": {{"type": "file_json"}}}}]}}]}}"#,
            path.display()
        ))
        .unwrap();
            let log = k.logger("root").unwrap();
            let barrier = Arc::new(std::sync::Barrier::new(3));
            let threads: Vec<_> = (0..3u64)
                .map(|t| {
                    let log = log.clone();
                    let barrier = barrier.clone();
                    std::thread::spawn(move || {
                        barrier.wait();
                        for i in 0..20000u64 {
                            info!(log, "r", t, i);
                        }
                    })
                })
                .collect();
            for t in threads {
                t.join().unwrap();
            }
            let s = k.shutdown().unwrap();
            assert_balanced(&kolog::Stats {
                live_rings: 0,
                ..k.stats()
            });
            let lines = common::json_lines(&path);
            assert_eq!(lines.len() as u64, s.written);
            let stamps: Vec<&str> = lines
                .iter()
                .map(|l| l["timestamp"].as_str().unwrap())
                .collect();
            let mut sorted = stamps.clone();
            sorted.sort();
            let first_bad = stamps.iter().zip(&sorted).position(|(a, b)| a != b);
            assert_eq!(first_bad, None, "out of timestamp order");
            assert_eq!(s.enqueued, 60_000);
        }
    });
}
