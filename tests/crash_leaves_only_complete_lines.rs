//! Crash safety: a child process logs to a file and is killed with SIGKILL mid-stream. The
//! file holds only complete, valid lines, and every record the child had seen flushed is there.
mod common;

use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Command, Stdio};

use kolog::config::{FileParams, HandlerKind, RendererKind};
use kolog::{info, Kolog, Level, QueueConfig};

const CHILD: &str = "KOLOG_CRASH_CHILD";

#[test]
fn child_logs_until_killed() {
    let Some(dir) = std::env::var_os(CHILD) else {
        return;
    };
    let k = Kolog::from_config(common::system(
        vec![common::logger(
            "root",
            Some(Level::Info),
            HandlerKind::File(FileParams {
                filename: Path::new(&dir).join("app.log"),
                mode: "w".into(),
                encoding: "utf-8".into(),
                override_existing: false,
            }),
            RendererKind::FileJson,
        )],
        QueueConfig::default(),
    ))
    .unwrap();
    let log = k.logger("crash").unwrap();
    for i in 0u64.. {
        info!(log, "record", i, pad = "yyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyy");
        if i % 1000 == 999 {
            k.flush();
            println!("flushed {i}");
        }
    }
}

#[test]
fn sigkill_mid_stream_leaves_complete_lines_and_every_flushed_record() {
    let dir = common::temp_dir("crash");
    let mut child = Command::new(std::env::current_exe().unwrap())
        .args([
            "--exact",
            "child_logs_until_killed",
            "--nocapture",
            "--test-threads=1",
        ])
        .env(CHILD, &dir)
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let mut flushed = None;
    for line in BufReader::new(child.stdout.take().unwrap()).lines() {
        let line = line.unwrap();
        if let Some(n) = line.strip_prefix("flushed ") {
            let n: u64 = n.parse().unwrap();
            flushed = Some(n);
            if n >= 50_000 {
                break;
            }
        }
    }
    child.kill().unwrap(); // SIGKILL
    child.wait().unwrap();
    let flushed = flushed.expect("the child reported progress");
    let text = std::fs::read_to_string(dir.join("app.log")).unwrap();
    assert!(text.ends_with('\n'), "no partial last line");
    let mut next = 0u64;
    for line in text.lines() {
        let v: serde_json::Value =
            serde_json::from_str(line).unwrap_or_else(|e| panic!("garbage {line:?}: {e}"));
        assert_eq!(v["i"].as_u64().unwrap(), next, "in order, nothing missing");
        next += 1;
    }
    assert!(
        next > flushed,
        "every flushed record is in the file: {next} lines, flushed up to {flushed}"
    );
    let _ = std::fs::remove_dir_all(dir);
}
