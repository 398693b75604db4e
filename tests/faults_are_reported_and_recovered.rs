//! Faults while running: a deleted log file, a log directory that disappears, a file-size
//! limit (RLIMIT_FSIZE, in a child process). kolog reports the failure on stderr and in
//! `stats().failed`, never writes a partial record, keeps running, and writes again when the
//! fault clears.
mod common;

use std::path::Path;
use std::process::Command;
use std::time::Duration;

use kolog::config::{FileParams, HandlerKind, RendererKind};
use kolog::{info, Kolog, Level, QueueConfig};

fn file_kolog(path: &Path) -> Kolog {
    Kolog::from_config(common::system(
        vec![common::logger(
            "root",
            Some(Level::Info),
            HandlerKind::File(FileParams {
                filename: path.to_owned(),
                mode: "a".into(),
                encoding: "utf-8".into(),
                override_existing: false,
            }),
            RendererKind::FileJson,
        )],
        QueueConfig::default(),
    ))
    .unwrap()
}

fn lines(path: &Path) -> Vec<serde_json::Value> {
    std::fs::read_to_string(path)
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect()
}

#[test]
fn a_deleted_log_file_is_recreated() {
    let dir = common::temp_dir("deleted");
    let path = dir.join("app.log");
    let k = file_kolog(&path);
    let log = k.logger("app").unwrap();
    info!(log, "before", i = 0u64);
    k.flush();
    std::fs::remove_file(&path).unwrap();
    std::thread::sleep(Duration::from_millis(1100)); // the writer checks the path once a second
    info!(log, "after", i = 1u64);
    k.flush();
    let got = lines(&path);
    assert_eq!(got.len(), 1);
    assert_eq!(got[0]["event"], "after");
    assert_eq!(k.stats().failed, 0);
    let _ = std::fs::remove_dir_all(dir);
}

#[test]
fn a_vanished_directory_is_counted_as_failures_then_writing_resumes() {
    let dir = common::temp_dir("vanished");
    let logs = dir.join("logs");
    std::fs::create_dir(&logs).unwrap();
    let path = logs.join("app.log");
    let k = file_kolog(&path);
    let log = k.logger("app").unwrap();
    info!(log, "one");
    k.flush();
    std::fs::remove_dir_all(&logs).unwrap();
    std::thread::sleep(Duration::from_millis(1100));
    for i in 0..10u64 {
        info!(log, "lost while the directory is gone", i);
        k.flush();
    }
    let s = k.stats();
    assert_eq!(
        s.failed, 10,
        "every record of the failed batches is counted"
    );
    assert_eq!(s.written, 1);
    std::fs::create_dir(&logs).unwrap();
    info!(log, "back");
    k.flush();
    // The next successful write reports the failure where the records were missed.
    let got = lines(&path);
    assert_eq!(got.len(), 2, "{got:?}");
    assert_eq!(got[0]["event"], "back");
    assert_eq!(got[1]["level"], "WARNING");
    assert_eq!(got[1]["logger"], "kolog");
    assert_eq!(got[1]["failed"], 10);
    assert_eq!(
        got[1]["event"],
        "handler `root`[0] recovered after 10 records failed to write"
    );
    let s = k.stats();
    assert_eq!((s.written, s.failed), (2, 10));
    // Reported once.
    info!(log, "again");
    k.flush();
    assert_eq!(lines(&path).len(), 3);
    let _ = std::fs::remove_dir_all(dir);
}

const CHILD: &str = "KOLOG_FSIZE_CHILD";

#[test]
fn child_hits_the_file_size_limit() {
    let Some(dir) = std::env::var_os(CHILD) else {
        return;
    };
    let path = Path::new(&dir).join("app.log");
    // SAFETY: plain libc calls with valid arguments; this child process is single-purpose.
    unsafe {
        libc::signal(libc::SIGXFSZ, libc::SIG_IGN);
        let lim = libc::rlimit {
            rlim_cur: 64 * 1024,
            rlim_max: libc::RLIM_INFINITY,
        };
        assert_eq!(libc::setrlimit(libc::RLIMIT_FSIZE, &lim), 0);
    }
    let k = file_kolog(&path);
    let log = k.logger("app").unwrap();
    for i in 0..2_000u64 {
        info!(
            log,
            "filling",
            i,
            pad = "xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx"
        );
        // One record per batch: sizes never shrink as `i` grows, so once a batch fails every
        // later one does, and the failures form exactly one burst (with larger, varying
        // batches a smaller one can still fit, recovering and starting a second burst).
        k.flush();
    }
    k.flush();
    let s = k.stats();
    assert!(s.failed > 0, "the limit must be hit");
    assert_eq!(s.written + s.failed, 2_000);
    let size = std::fs::metadata(&path).unwrap().len();
    assert!(size <= 64 * 1024, "{size}");
    let before = lines(&path); // every line complete and valid
    assert_eq!(before.len() as u64, s.written);
    // The fault clears.
    // SAFETY: as above.
    unsafe {
        let lim = libc::rlimit {
            rlim_cur: libc::RLIM_INFINITY,
            rlim_max: libc::RLIM_INFINITY,
        };
        assert_eq!(libc::setrlimit(libc::RLIMIT_FSIZE, &lim), 0);
    }
    info!(log, "after the limit");
    k.flush();
    let after = lines(&path);
    assert_eq!(after.len(), before.len() + 2);
    assert_eq!(after[before.len()]["event"], "after the limit");
    assert_eq!(after[before.len() + 1]["failed"], s.failed);
    assert_eq!(k.stats().failed, s.failed);
}

#[test]
fn the_file_size_limit_is_reported_once_per_burst_and_recovered_from() {
    let dir = common::temp_dir("fsize");
    let out = Command::new(std::env::current_exe().unwrap())
        .args([
            "--exact",
            "child_hits_the_file_size_limit",
            "--nocapture",
            "--test-threads=1",
        ])
        .env(CHILD, &dir)
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{stderr}");
    assert_eq!(
        stderr.matches("failed to write").count(),
        1,
        "one report per burst: {stderr}"
    );
    assert_eq!(stderr.matches("recovered after").count(), 1, "{stderr}");
    let _ = std::fs::remove_dir_all(dir);
}
