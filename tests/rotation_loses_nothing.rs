//! Rotation under load: 4 threads write 1,000,000 records with dozens of size rotations; the
//! files together hold every record exactly once and no line is split across files. Also the
//! naming, the backup limit, oversize records and time-based rotation.
mod common;

use std::path::Path;
use std::time::Duration;

use kolog::config::{HandlerKind, RendererKind, RotatingFileParams};
use kolog::{info, Kolog, Level, QueueConfig};

use common::files;

fn rotating(path: &Path, max_bytes: u64, backup_count: u32, interval: Option<Duration>) -> Kolog {
    Kolog::from_config(common::system(
        vec![common::logger(
            "root",
            Some(Level::Info),
            HandlerKind::RotatingFile(RotatingFileParams {
                filename: path.to_owned(),
                max_bytes,
                backup_count,
                rotation_interval: interval,
                mode: "a".into(),
                encoding: "utf-8".into(),
            }),
            RendererKind::FileJson,
        )],
        QueueConfig::default(),
    ))
    .unwrap()
}

#[test]
fn four_threads_one_million_records_dozens_of_rotations_every_record_exactly_once() {
    const THREADS: u64 = 4;
    const PER_THREAD: u64 = 250_000;
    const MAX_BYTES: u64 = 4 << 20;
    let dir = common::temp_dir("rotate-load");
    let path = dir.join("app.log");
    let k = rotating(&path, MAX_BYTES, 1000, None);
    let log = k.logger("load").unwrap();
    std::thread::scope(|s| {
        for t in 0..THREADS {
            let log = log.clone();
            s.spawn(move || {
                for i in 0..PER_THREAD {
                    info!(
                        log,
                        "rotating record",
                        t,
                        i,
                        pad = "xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx"
                    );
                }
            });
        }
    });
    let report = k.shutdown().unwrap();
    assert_eq!(report.written, THREADS * PER_THREAD);
    assert_eq!(report.failed + report.dropped, 0);
    let files = files(&dir);
    assert!(
        files.len() >= 24,
        "dozens of rotations: {} files",
        files.len()
    );
    let mut seen = vec![vec![false; PER_THREAD as usize]; THREADS as usize];
    let mut total = 0;
    for (name, text) in &files {
        assert!(
            name == "app.log"
                || name
                    .strip_prefix("app.log.")
                    .unwrap()
                    .parse::<u32>()
                    .is_ok(),
            "{name}"
        );
        assert!(
            text.len() as u64 <= MAX_BYTES,
            "{name} is {} bytes",
            text.len()
        );
        assert!(
            text.is_empty() || text.ends_with('\n'),
            "{name} ends mid-record"
        );
        for line in text.lines() {
            let v: serde_json::Value = serde_json::from_str(line)
                .unwrap_or_else(|e| panic!("{name}: split line {line:?}: {e}"));
            let (t, i) = (
                v["t"].as_u64().unwrap() as usize,
                v["i"].as_u64().unwrap() as usize,
            );
            assert!(!seen[t][i], "record {t}/{i} twice");
            seen[t][i] = true;
            total += 1;
        }
    }
    assert_eq!(total, THREADS * PER_THREAD);
    let _ = std::fs::remove_dir_all(dir);
}

#[test]
fn size_rotation_names_files_like_python_and_keeps_backup_count() {
    let dir = common::temp_dir("rotate-names");
    let path = dir.join("app.log");
    let k = rotating(&path, 300, 2, None);
    let log = k.logger("x").unwrap();
    for i in 0..10u64 {
        info!(log, "r", i);
        k.flush(); // one batch per record: rotation decisions are per record anyway
    }
    k.shutdown().unwrap();
    let files = files(&dir);
    let names: Vec<_> = files.keys().cloned().collect();
    assert_eq!(names, ["app.log", "app.log.1", "app.log.2"]);
    // Each JSON record is 90 bytes: three fit under 300 (a fourth would reach 360 >= 300);
    // the two newest rotated files are kept, app.log.3 is deleted.
    let ids = |name: &str| -> Vec<u64> {
        files[name]
            .lines()
            .map(|l| {
                serde_json::from_str::<serde_json::Value>(l).unwrap()["i"]
                    .as_u64()
                    .unwrap()
            })
            .collect()
    };
    assert_eq!(ids("app.log"), [9]);
    assert_eq!(ids("app.log.1"), [6, 7, 8]);
    assert_eq!(ids("app.log.2"), [3, 4, 5]);
    let _ = std::fs::remove_dir_all(dir);
}

#[test]
fn an_oversize_record_goes_alone_into_a_fresh_file() {
    let dir = common::temp_dir("rotate-oversize");
    let path = dir.join("app.log");
    let k = rotating(&path, 200, 5, None);
    let log = k.logger("x").unwrap();
    let big = "y".repeat(1000);
    info!(log, "small", i = 1u64);
    info!(log, "big", big = big.as_str());
    info!(log, "small", i = 2u64);
    k.shutdown().unwrap();
    let files = files(&dir);
    assert_eq!(files.len(), 3);
    assert!(files["app.log.1"].contains(&big) && files["app.log.1"].lines().count() == 1);
    assert!(files["app.log.2"].contains("\"i\":1"));
    assert!(files["app.log"].contains("\"i\":2"));
    let _ = std::fs::remove_dir_all(dir);
}

#[test]
fn time_rotation_uses_a_timestamp_suffix() {
    let dir = common::temp_dir("rotate-time");
    let path = dir.join("app.log");
    let k = rotating(&path, 0, 0, Some(Duration::from_millis(1100)));
    let log = k.logger("x").unwrap();
    info!(log, "first");
    k.flush();
    std::thread::sleep(Duration::from_millis(1200));
    info!(log, "second");
    k.shutdown().unwrap();
    let files = files(&dir);
    assert_eq!(files.len(), 2, "{:?}", files.keys());
    let rotated = files.keys().find(|n| *n != "app.log").unwrap();
    let suffix = rotated.strip_prefix("app.log.").unwrap();
    assert_eq!(suffix.len(), "2024-01-01_12-00-00".len(), "{rotated}");
    assert!(files[rotated].contains("first") && files["app.log"].contains("second"));
    let _ = std::fs::remove_dir_all(dir);
}
