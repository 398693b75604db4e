//! 10,000 threads that each log one record and exit: every record is written, and the rings
//! of exited threads are reclaimed.
mod common;

use kolog::config::{HandlerKind, RendererKind};
use kolog::{info, Kolog, Level, QueueConfig, Sink};

#[test]
fn ten_thousand_short_lived_threads_lose_nothing_and_leak_no_rings() {
    let k = Kolog::from_config(common::system(
        vec![common::logger(
            "root",
            Some(Level::Info),
            HandlerKind::Null,
            RendererKind::StreamPlain,
        )],
        QueueConfig {
            max_queue_size: 1000,
            ..QueueConfig::default()
        },
    ))
    .unwrap();
    let sink = Sink::new();
    k.queue_manager().add_sink("root", sink.clone());
    let log = k.logger("churn").unwrap();
    let mut peak_live = 0;
    for batch in 0..100u64 {
        let handles: Vec<_> = (0..100u64)
            .map(|i| {
                let log = log.clone();
                std::thread::spawn(move || info!(log, "hello", n = batch * 100 + i))
            })
            .collect();
        for h in handles {
            h.join().unwrap();
        }
        // At most the rings of the batches since the last check below (10 batches).
        peak_live = peak_live.max(k.stats().live_rings);
        // Every 10 batches (the others are left to the drainer's own pace): a flush returns
        // only after the rings of the threads that exited before it are freed, however
        // slowly the drainer was scheduled.
        if batch % 10 == 9 {
            k.flush();
            assert_eq!(
                k.stats().live_rings,
                0,
                "rings of exited threads must be reclaimed"
            );
        }
    }
    // Bounded by the 10 batches between checks, whatever the drainer's pace.
    assert!(
        peak_live <= 1000,
        "live rings stay bounded, saw {peak_live}"
    );
    let stats = k.stats();
    assert_eq!(stats.enqueued, 10_000);
    assert_eq!(stats.written, 10_000);
    assert_eq!(stats.dropped, 0);
    let mut seen: Vec<u64> = sink
        .records()
        .iter()
        .map(|r| r.get("n").unwrap().as_u64().unwrap())
        .collect();
    seen.sort_unstable();
    assert_eq!(seen, (0..10_000).collect::<Vec<_>>());
}
