//! Shared setup for the benchmarks: a system with one JSON handler of the given kind.
#![allow(dead_code)]

use std::path::PathBuf;
use std::time::{Duration, Instant};

use kolog::config::{
    FileParams, HandlerConfig, HandlerKind, LoggerConfig, RendererConfig, RendererKind,
    RotatingFileParams,
};
use kolog::{BackpressurePolicy, Kolog, Level, LoggingSystemConfig, QueueConfig};

/// Where benchmark log files go: tmpfs when there is one, else the temp dir.
pub fn bench_dir() -> PathBuf {
    let shm = PathBuf::from("/dev/shm");
    let dir = if shm.is_dir() {
        shm
    } else {
        std::env::temp_dir()
    };
    dir.join(format!("kolog-bench-{}", std::process::id()))
}

pub fn file_kind(name: &str) -> HandlerKind {
    let dir = bench_dir();
    std::fs::create_dir_all(&dir).unwrap();
    HandlerKind::File(FileParams {
        filename: dir.join(name),
        mode: "w".into(),
        encoding: "utf-8".into(),
        override_existing: true,
    })
}

/// A rotating file bounded to two 64 MiB files, for benchmarks that log without end.
pub fn bounded_file_kind(name: &str) -> HandlerKind {
    let dir = bench_dir();
    std::fs::create_dir_all(&dir).unwrap();
    HandlerKind::RotatingFile(RotatingFileParams {
        filename: dir.join(name),
        max_bytes: 64 << 20,
        backup_count: 1,
        rotation_interval: None,
        mode: "w".into(),
        encoding: "utf-8".into(),
    })
}

/// Removes the benchmark's files (tmpfs is memory).
pub fn clean_up() {
    let _ = std::fs::remove_dir_all(bench_dir());
}

pub fn kolog(kind: HandlerKind, renderer: RendererKind) -> Kolog {
    Kolog::from_config(LoggingSystemConfig {
        loggers: vec![LoggerConfig {
            name: "root".into(),
            level: Some(Level::Info),
            handlers: vec![HandlerConfig {
                kind,
                renderer: RendererConfig::new(renderer),
                processors: vec![],
            }],
            context: Default::default(),
        }],
        default_level: Level::Info,
        queue: QueueConfig {
            max_queue_size: 16_384,
            backpressure_policy: BackpressurePolicy::Block,
            drain_timeout: Duration::from_secs(60),
        },
    })
    .unwrap()
}

/// Calls per timed burst in the caller-cost benches.
pub const BURST: u64 = 1_000;

/// Times `iters` calls of `call` in bursts of [`BURST`], flushing `k` between bursts (not
/// timed): the caller's cost, not the drainer's speed.
pub fn timed_bursts(k: &Kolog, iters: u64, mut call: impl FnMut(u64)) -> Duration {
    let mut total = Duration::ZERO;
    let mut done = 0;
    while done < iters {
        let n = BURST.min(iters - done);
        let start = Instant::now();
        for i in 0..n {
            call(done + i);
        }
        total += start.elapsed();
        done += n;
        k.flush();
    }
    total
}
