//! Records per second from 1 and 2 producer threads into a JSON file until flushed, and from one
//! producer into a plain-text file; the record is user_id (u64), ip (&str), latency_ms (f64).
//! The file rotates at 64 MiB (one backup).

mod common;

use criterion::{black_box, criterion_group, criterion_main, Criterion, Throughput};
use kolog::config::RendererKind;
use kolog::info;

const RECORDS: u64 = 1_000_000;

fn bench_throughput(c: &mut Criterion) {
    let mut group = c.benchmark_group("throughput");
    group.sample_size(10);
    group.throughput(Throughput::Elements(RECORDS));
    for (format, renderer, producers) in [
        ("json", RendererKind::FileJson, 1u64),
        ("json", RendererKind::FileJson, 2),
        ("plain", RendererKind::FilePlain, 1),
    ] {
        let k = common::kolog(
            // Bounded: criterion runs dozens of iterations, and an unbounded file on tmpfs grows
            // by ~150 MB per iteration until memory pressure dominates the measurement.
            common::bounded_file_kind(&format!("throughput-{format}-{producers}.log")),
            renderer,
        );
        let log = k.logger("bench").unwrap();
        group.bench_function(format!("file_{format}_{producers}_producers"), |b| {
            b.iter(|| {
                std::thread::scope(|s| {
                    for _ in 0..producers {
                        s.spawn(|| {
                            for i in 0..RECORDS / producers {
                                info!(
                                    log,
                                    "request handled",
                                    user_id = black_box(i),
                                    ip = "192.168.1.1",
                                    latency_ms = 0.25
                                );
                            }
                        });
                    }
                });
                k.flush();
            })
        });
        let report = k.shutdown().unwrap();
        assert_eq!(report.dropped + report.failed, 0, "{report:?}");
        common::clean_up();
    }
    group.finish();
}

criterion_group!(benches, bench_throughput);
criterion_main!(benches);
