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
