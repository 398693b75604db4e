//! Load: 10,000,000 records from every core under `block` with a slow handler: nothing lost,
//! memory bounded by the rings, no deadlock at shutdown. Run in release by `.ci/run`:
//! `cargo test --release --test load_ten_million_records -- --ignored --nocapture`.

use std::time::{Duration, Instant};

use kolog::config::{
    HandlerConfig, HandlerKind, LoggerConfig, ProcessorConfig, RendererConfig, RendererKind,
};
use kolog::process::Action;
use kolog::{info, BackpressurePolicy, Kolog, Level, LoggingSystemConfig, QueueConfig};

fn peak_rss_kib() -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("VmHWM:"))
                .and_then(|l| l.split_whitespace().nth(1)?.parse().ok())
        })
        .unwrap_or(0)
}

#[test]
#[ignore = "10 million records: run in release (see .ci/run)"]
fn ten_million_records_from_every_core_lose_nothing_in_bounded_memory() {
    const TOTAL: u64 = 10_000_000;
    kolog::register_processor("load_slow", |_| {
        Ok(Box::new(|_: &mut kolog::EventDict<'_>| {
            let t = Instant::now();
            while t.elapsed() < Duration::from_nanos(100) {
                std::hint::spin_loop();
            }
            Action::Keep
        }))
    });
    let k = Kolog::from_config(LoggingSystemConfig {
        loggers: vec![LoggerConfig {
            name: "root".into(),
            level: Some(Level::Info),
            handlers: vec![HandlerConfig {
                kind: HandlerKind::Null,
                renderer: RendererConfig::new(RendererKind::FileJson),
                processors: vec![ProcessorConfig::Custom {
                    name: "load_slow".into(),
                    params: serde_json::json!({}),
                }],
            }],
            context: Default::default(),
        }],
        default_level: Level::Info,
        queue: QueueConfig {
            max_queue_size: 10_000,
            backpressure_policy: BackpressurePolicy::Block,
            drain_timeout: Duration::from_secs(120),
        },
    })
    .unwrap();
    let log = k.logger("load").unwrap();
    let producers = std::thread::available_parallelism().map_or(2, |n| n.get()) as u64;
    let start = Instant::now();
    std::thread::scope(|s| {
        for p in 0..producers {
            let log = log.clone();
            s.spawn(move || {
                for i in 0..TOTAL / producers {
                    info!(log, "load", p, i, ip = "10.0.0.1", latency_ms = 0.5);
                }
            });
        }
    });
    let report = k.shutdown().unwrap();
    let elapsed = start.elapsed();
    let peak = peak_rss_kib();
    println!(
        "load: {} records from {producers} producers in {elapsed:?} ({:.2} M/s), drained in {:?}, peak RSS {} MiB",
        report.written,
        report.written as f64 / elapsed.as_secs_f64() / 1e6,
        report.drain_time,
        peak / 1024
    );
    let expected = TOTAL / producers * producers;
    assert_eq!(report.enqueued, expected);
    assert_eq!(report.written, expected);
    assert_eq!(report.dropped + report.failed, 0);
    assert!(!report.timed_out);
    // Rings are 2 MiB per producer; the rest is the binary, the test harness and buffers.
    assert!(peak < 256 * 1024, "peak RSS {peak} KiB");
}
