//! 8 threads x 200,000 records under `block` into one JSON file: exactly 1,600,000 lines,
//! every line valid JSON, each thread's records in its own order.
mod common;

use kolog::config::{FileParams, HandlerKind, RendererKind};
use kolog::{info, Kolog, Level, QueueConfig};

#[test]
fn eight_threads_into_one_file_lose_nothing_and_keep_order() {
    const THREADS: u64 = 8;
    const PER_THREAD: u64 = 200_000;
    let dir = common::temp_dir("block8");
    let path = dir.join("app.log");
    let k = Kolog::from_config(common::system(
        vec![common::logger(
            "root",
            Some(Level::Info),
            HandlerKind::File(FileParams {
                filename: path.clone(),
                mode: "w".into(),
                encoding: "utf-8".into(),
                override_existing: false,
            }),
            RendererKind::FileJson,
        )],
        QueueConfig {
            max_queue_size: 1_000,
            ..QueueConfig::default()
        },
    ))
    .unwrap();
    let log = k.logger("load").unwrap();
    std::thread::scope(|s| {
        for t in 0..THREADS {
            let log = log.clone();
            s.spawn(move || {
                for i in 0..PER_THREAD {
                    info!(
                        log,
                        "request handled",
                        t,
                        i,
                        ip = "192.168.1.1",
                        latency_ms = i as f64 * 0.5
                    );
                }
            });
        }
    });
    let report = k.shutdown().unwrap();
    assert_eq!(report.enqueued, THREADS * PER_THREAD);
    assert_eq!(report.written, THREADS * PER_THREAD);
    assert_eq!(report.dropped + report.failed, 0);

    let text = std::fs::read_to_string(&path).unwrap();
    let mut next = [0u64; THREADS as usize];
    let mut lines = 0u64;
    for line in text.lines() {
        let v: serde_json::Value =
            serde_json::from_str(line).unwrap_or_else(|e| panic!("invalid JSON {line:?}: {e}"));
        let t = v["t"].as_u64().unwrap() as usize;
        let i = v["i"].as_u64().unwrap();
        assert_eq!(i, next[t], "thread {t} out of order");
        assert_eq!(v["event"], "request handled");
        assert_eq!(v["logger"], "load");
        next[t] += 1;
        lines += 1;
    }
    assert_eq!(lines, THREADS * PER_THREAD);
    assert!(next.iter().all(|&n| n == PER_THREAD));
    let _ = std::fs::remove_dir_all(dir);
}
