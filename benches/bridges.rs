//! The caller's cost of a record through the `log` and `tracing` bridges (the same record as
//! `hot_path`: user_id, ip, latency_ms), timed in bursts of 1,000 with the ring drained between
//! bursts (not timed). `hot_path`'s `info_null_json` is the same record through kolog's macro.

mod common;

use criterion::{black_box, criterion_group, criterion_main, Criterion};
use kolog::config::{HandlerKind, RendererKind};
use tracing_subscriber::prelude::*;

fn bench_bridges(c: &mut Criterion) {
    let mut group = c.benchmark_group("bridges");
    let k = common::kolog(HandlerKind::Null, RendererKind::FileJson);
    kolog::bridge::log::init(&k).unwrap();
    group.bench_function("log_key_values", |b| {
        b.iter_custom(|iters| {
            common::timed_bursts(&k, iters, |i| {
                log::info!(
                    user_id = black_box(i), ip = black_box("192.168.1.1"),
                    latency_ms = black_box(0.25);
                    "request handled"
                )
            })
        })
    });
    group.bench_function("log_formatted_message", |b| {
        b.iter_custom(|iters| {
            common::timed_bursts(&k, iters, |i| {
                log::info!(
                    "request handled user_id={} ip={} latency_ms={}",
                    black_box(i),
                    black_box("192.168.1.1"),
                    black_box(0.25)
                )
            })
        })
    });
    // Below the logger's level: `log`'s own max-level check (set by `init`) skips it.
    group.bench_function("log_below_level", |b| {
        b.iter(|| {
            log::debug!(
                user_id = black_box(7u64), ip = black_box("192.168.1.1"),
                latency_ms = black_box(0.25);
                "request handled"
            )
        })
    });
    let subscriber = tracing_subscriber::registry().with(kolog::bridge::tracing::layer(&k));
    tracing::subscriber::with_default(subscriber, || {
        group.bench_function("tracing_event", |b| {
            b.iter_custom(|iters| {
                common::timed_bursts(&k, iters, |i| {
                    tracing::info!(
                        user_id = black_box(i),
                        ip = black_box("192.168.1.1"),
                        latency_ms = black_box(0.25),
                        "request handled"
                    )
                })
            })
        });
    });
    group.finish();
    common::clean_up();
}

criterion_group!(benches, bench_bridges);
criterion_main!(benches);
