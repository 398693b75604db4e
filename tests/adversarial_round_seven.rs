//! Adversarial round seven: hostile inputs and races not covered by rounds one to six, each
//! asserting exact counts and bytes.

mod common;

use common::{assert_balanced, within};
use kolog::{Kolog, QueueConfig, Sink};
use tracing_subscriber::prelude::*;

fn null_kolog(queue: &str) -> Kolog {
    Kolog::from_json_str(&format!(
        r#"{{"queue": {queue}, "loggers": [{{"name": "root", "level": "TRACE", "handlers": [{{"type": "null", "renderer": {{"type": "stream_json"}}}}]}}]}}"#
    ))
    .unwrap()
}

fn sink_kolog() -> (Kolog, Sink) {
    let k = null_kolog(r#"{"max_queue_size": 1000}"#);
    let sink = Sink::new();
    k.queue_manager().add_sink("root", sink.clone());
    (k, sink)
}

/// A tracing event's `message` field is the event whatever its type (`message = 42` is the
/// event `42`, as tracing's own formatter prints it), on the first record of a callsite (the
/// dynamic path) and on later ones (an interned callsite), never an empty event with a
/// `message` field beside it.
#[test]
fn tracing_messages_that_are_not_strings_are_the_event() {
    within(20, "tracing messages", || {
        let (k, sink) = sink_kolog();
        let sub = tracing_subscriber::registry().with(kolog::bridge::tracing::layer(&k));
        tracing::subscriber::with_default(sub, || {
            for _ in 0..2 {
                tracing::info!(message = 42i64, x = 1);
                tracing::info!(message = 7u64);
                tracing::info!(message = true);
                tracing::info!(message = 1.5f64);
            }
        });
        k.flush();
        let got: Vec<(String, Vec<String>)> = sink
            .records()
            .iter()
            .map(|r| {
                (
                    r.get("event").unwrap().as_str().unwrap().to_owned(),
                    r.fields.keys().cloned().collect(),
                )
            })
            .collect();
        let keys = |extra: &[&str]| {
            let mut k: Vec<String> = ["level", "logger", "event"].map(String::from).to_vec();
            k.extend(extra.iter().map(|s| s.to_string()));
            k
        };
        let one = [
            ("42".to_owned(), keys(&["x"])),
            ("7".to_owned(), keys(&[])),
            ("true".to_owned(), keys(&[])),
            ("1.5".to_owned(), keys(&[])),
        ];
        assert_eq!(got.len(), 8, "{got:?}");
        assert_eq!(got[..4], one[..], "{got:?}");
        assert_eq!(got[4..], one[..], "{got:?}");
        let s = k.stats();
        assert_balanced(&s);
        assert_eq!((s.enqueued, s.written), (8, 8));
    });
}

/// A `QueueConfig` serialized and parsed back, alone or inside a whole document, is the same
/// configuration, down to nanoseconds of `drain_timeout` and at each limit.
#[test]
fn queue_configs_round_trip_through_serialize_at_their_edges() {
    use kolog::BackpressurePolicy::*;
    use std::time::Duration;
    for (policy, size, timeout) in [
        (Block, 1, Duration::ZERO),
        (Drop, 1 << 24, Duration::from_nanos(1)),
        (DropOldest, 10_000, Duration::from_nanos(123_456_789_123)),
        (Block, 7, Duration::from_nanos(999_999_999)),
        (Drop, 3, Duration::from_millis(100)),
        (DropOldest, 2, Duration::from_secs(1_000_000_000)),
    ] {
        let q = QueueConfig {
            max_queue_size: size,
            backpressure_policy: policy,
            drain_timeout: timeout,
        };
        let json = serde_json::to_string(&q).unwrap();
        assert_eq!(
            serde_json::from_str::<QueueConfig>(&json).unwrap(),
            q,
            "{json}"
        );
        let doc = format!(r#"{{"queue": {json}, "loggers": []}}"#);
        assert_eq!(
            kolog::LoggingSystemConfig::from_json_str(&doc)
                .unwrap()
                .queue,
            q
        );
        let yaml = format!("queue: {json}\nloggers: []\n");
        assert_eq!(
            kolog::LoggingSystemConfig::from_yaml_str(&yaml)
                .unwrap()
                .queue,
            q
        );
    }
}

fn child_case() -> Option<String> {
    std::env::var("KOLOG_R7_CHILD").ok()
}

/// Runs `test` alone in a child process with `KOLOG_R7_CHILD` set.
fn run_child(test: &str) -> std::process::Output {
    let test = test.to_owned();
    within(60, "child", move || {
        std::process::Command::new(std::env::current_exe().unwrap())
            .args([test.as_str(), "--exact", "--nocapture", "--test-threads=1"])
            .env("KOLOG_R7_CHILD", &test)
            .output()
            .unwrap()
    })
}

/// A `stream` handler whose descriptor was closed (a daemon that closed stdout, a service
/// started with `2>&-`): std's stdout and stderr report writes to a closed descriptor as
/// successful, but the records reach nobody, so they are counted as failed, not written.
#[test]
fn a_stream_handler_on_a_closed_descriptor_counts_its_records_as_failed() {
    const TEST: &str = "a_stream_handler_on_a_closed_descriptor_counts_its_records_as_failed";
    if child_case().as_deref() == Some(TEST) {
        for (fd, use_stderr) in [(1, false), (2, true)] {
            // The report goes to the other stream.
            // SAFETY: plain descriptor calls on descriptors this process owns.
            let saved = unsafe {
                let saved = libc::dup(fd);
                libc::close(fd);
                saved
            };
            let k = Kolog::from_json_str(&format!(
                r#"{{"loggers": [{{"name": "root",
                    "handlers": [{{"type": "stream", "params": {{"use_stderr": {use_stderr}}}}}]}}]}}"#
            ))
            .unwrap();
            let log = k.logger("root").unwrap();
            for i in 0..5u64 {
                kolog::info!(log, "r", i);
            }
            k.flush();
            let s = k.stats();
            let r = k.shutdown().unwrap();
            // SAFETY: as above.
            unsafe {
                libc::dup2(saved, fd);
                libc::close(saved);
            }
            let line = format!(
                "REPORT fd={fd} enqueued={} written={} failed={} report_written={} report_failed={}\n",
                s.enqueued, s.written, s.failed, r.written, r.failed
            );
            use std::io::Write;
            if fd == 1 {
                std::io::stderr().write_all(line.as_bytes()).unwrap();
            } else {
                std::io::stdout().write_all(line.as_bytes()).unwrap();
            }
        }
        return;
    }
    let out = run_child(TEST);
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{:?} {stdout} {stderr}", out.status);
    assert!(
        stderr
            .contains("REPORT fd=1 enqueued=5 written=0 failed=5 report_written=0 report_failed=5"),
        "{stdout} {stderr}"
    );
    assert!(
        stdout
            .contains("REPORT fd=2 enqueued=5 written=0 failed=5 report_written=0 report_failed=5"),
        "{stdout} {stderr}"
    );
}
