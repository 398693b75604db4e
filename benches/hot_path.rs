//! The cost of one `info!` call on the producer's thread: user_id (u64), ip (&str),
//! latency_ms (f64). Calls are timed in bursts of 1,000 with the ring drained between bursts
//! (not timed), so the numbers are the enqueue cost, not the drainer's speed.

mod common;

use criterion::{black_box, criterion_group, criterion_main, Criterion};
use kolog::config::{HandlerKind, RendererKind};
use kolog::{ainfo, info, Logger};

fn sync_call(log: &Logger, i: u64) {
    info!(
        log,
        "request handled",
        user_id = black_box(i),
        ip = black_box("192.168.1.1"),
        latency_ms = black_box(0.25)
    );
}

fn bench_hot_path(c: &mut Criterion) {
    let mut group = c.benchmark_group("hot_path");
    for (name, kind) in [
        ("info_null_json", HandlerKind::Null),
        ("info_file_json", common::bounded_file_kind("hot_path.log")),
    ] {
        let k = common::kolog(kind, RendererKind::FileJson);
        let log = k.logger("bench").unwrap();
        sync_call(&log, 0);
        group.bench_function(name, |b| {
            b.iter_custom(|iters| common::timed_bursts(&k, iters, |i| sync_call(&log, i)))
        });
    }
    let k = common::kolog(HandlerKind::Null, RendererKind::FileJson);
    let log = k.logger("bench").unwrap();
    group.bench_function("disabled_debug", |b| {
        b.iter(|| kolog::debug!(log, "not logged", user_id = black_box(1u64)))
    });
    // The async front end when the ring has room: the future is ready at once.
    let waker = std::task::Waker::noop();
    let mut cx = std::task::Context::from_waker(waker);
    group.bench_function("ainfo_null_json", |b| {
        b.iter_custom(|iters| {
            common::timed_bursts(&k, iters, |i| {
                let mut f = ainfo!(
                    log,
                    "request handled",
                    user_id = black_box(i),
                    ip = black_box("192.168.1.1"),
                    latency_ms = black_box(0.25)
                );
                let _ = std::pin::Pin::new(&mut f).poll_fut(&mut cx);
            })
        })
    });
    group.finish();
    common::clean_up();
}

trait PollFut {
    fn poll_fut(self, cx: &mut std::task::Context<'_>) -> std::task::Poll<()>;
}

impl PollFut for std::pin::Pin<&mut kolog::EnqueueFuture> {
    fn poll_fut(self, cx: &mut std::task::Context<'_>) -> std::task::Poll<()> {
        std::future::Future::poll(self, cx)
    }
}

criterion_group!(benches, bench_hot_path);
criterion_main!(benches);
