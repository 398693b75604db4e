//! Adversarial round seven: hostile inputs and races not covered by rounds one to six, each
//! asserting exact counts and bytes.

mod common;

use common::{assert_balanced, within};
use kolog::{Kolog, QueueConfig, Sink};
#[cfg(feature = "tracing")]
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
#[cfg(feature = "tracing")]
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

/// A `QueueConfig` built in code with values beyond what a document takes (which
/// `QueueManager::start` accepts: the ring size is capped, a timeout of `Duration::MAX` means
/// "wait") serializes to a document that parses back, with the largest values a document
/// holds, which behave the same.
#[test]
fn queue_configs_beyond_a_documents_limits_serialize_to_ones_that_parse_back() {
    use std::time::Duration;
    for (size, timeout) in [
        (usize::MAX, Duration::MAX),
        ((1 << 24) + 1, Duration::from_secs(1_000_000_001)),
        (1 << 40, Duration::from_secs(5)),
    ] {
        let q = QueueConfig {
            max_queue_size: size,
            backpressure_policy: kolog::BackpressurePolicy::Drop,
            drain_timeout: timeout,
        };
        let qm = kolog::QueueManager::start(q.clone()).unwrap();
        qm.shutdown().unwrap();
        let json = serde_json::to_string(&q).unwrap();
        let back: QueueConfig =
            serde_json::from_str(&json).unwrap_or_else(|e| panic!("{json}: {e}"));
        let want = QueueConfig {
            max_queue_size: size.min(1 << 24),
            backpressure_policy: kolog::BackpressurePolicy::Drop,
            drain_timeout: timeout.min(Duration::from_secs(1_000_000_000)),
        };
        assert_eq!(back, want, "{json}");
        let doc = format!(r#"{{"queue": {json}, "loggers": []}}"#);
        assert_eq!(
            kolog::LoggingSystemConfig::from_json_str(&doc)
                .unwrap()
                .queue,
            want
        );
    }
}

fn child_case() -> Option<String> {
    std::env::var("KOLOG_R7_CHILD").ok()
}

/// Runs `test` alone in a child process with `KOLOG_R7_CHILD` set.
fn run_child(test: &str, env: &[(&str, &str)]) -> std::process::Output {
    common::run_child(test, "KOLOG_R7_CHILD", env, &[], 60)
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
    let out = run_child(TEST, &[]);
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

#[test]
fn static_processor_chains_render_the_same_on_the_direct_and_event_paths() {
    let dir = common::temp_dir("r7-paths");
    let chains = [
        r#"[{"type": "add_context_defaults", "params": {"defaults": {"event": "d", "level": 1, "timestamp": true, "logger": null, "lineno": 5, "a": [1, {"b": 2}], "x": 9}}}, {"type": "add_callsite_params", "params": {"parameters": ["lineno", "filename", "lineno"]}}]"#,
        r#"[{"type": "add_callsite_params"}, {"type": "add_context_defaults", "params": {"defaults": {"lineno": 5, "module": "m", "x": "y z"}}}, {"type": "add_callsite_params", "params": {"parameters": ["module"]}}]"#,
        r#"[{"type": "filter_by_level", "params": {"min_level": "DEBUG"}}, {"type": "add_context_defaults", "params": {"defaults": {"ctx": 1, "k": 2}}}, {"type": "filter_by_level", "params": {"min_level": "INFO"}}]"#,
        r#"[{"type": "add_context_defaults", "params": {"defaults": {"": "", "a b": "c=d", "q\"": "\n"}}}]"#,
    ];
    for (ci, chain) in chains.iter().enumerate() {
        for renderer in ["file_json", "file_plain"] {
            let mut outs = Vec::new();
            for extra in [
                "",
                r#", {"type": "filter_keys", "params": {"keys": ["zzz_none"]}}"#,
            ] {
                let chain = format!("{}{}]", &chain[..chain.len() - 1], extra);
                let path = dir.join(format!("{ci}-{renderer}-{}.log", extra.len()));
                let plain = dir.join(format!("{ci}-{renderer}-{}-plain.log", extra.len()));
                let k = Kolog::from_json_str(&format!(
                    r#"{{"loggers": [{{"name": "root", "level": "DEBUG", "context": {{"ctx": "c", "x": 0}}, "handlers": [{{"type": "file", "params": {{"filename": "{}"}}, "renderer": {{"type": "{renderer}", "params": {{"fmt": "%(level)s|%(name)s|%(event)s"}}}}, "processors": {chain}}}]}},
                    {{"name": "plain", "level": "DEBUG", "handlers": [{{"type": "file", "params": {{"filename": "{}"}}, "renderer": {{"type": "{renderer}", "params": {{"fmt": "%(level)s|%(name)s|%(event)s"}}}}, "processors": {chain}}}]}}]}}"#,
                    path.display(), plain.display()
                ))
                .unwrap();
                for name in ["root", "plain"] {
                    let log = k.logger(name).unwrap();
                    for _ in 0..2 {
                        kolog::info!(log, "m", a = 1, lineno = 2u64);
                        kolog::debug!(log, "d", x = "s");
                        kolog::warning!(log, "w");
                        kolog::info!(log, "k", k = 1.5);
                    }
                }
                k.shutdown().unwrap();
                let text = std::fs::read_to_string(&path).unwrap()
                    + &std::fs::read_to_string(&plain).unwrap();
                // Strip timestamps and line-dependent content.
                let text: String = text
                    .lines()
                    .map(|l| {
                        let l = if let Some(i) = l.find("\"timestamp\":\"") {
                            format!("{}{}", &l[..i], &l[i + 41..])
                        } else {
                            l.to_owned()
                        };
                        l + "\n"
                    })
                    .collect();
                outs.push(text);
            }
            assert_eq!(outs[0], outs[1], "chain {ci}, {renderer}");
            assert_eq!(
                outs[0].lines().count(),
                if ci == 2 { 12 } else { 16 },
                "{}",
                outs[0]
            );
        }
    }
}

/// `std::process::exit` right after `flush()` (no shutdown, no destructors): every record the
/// flush covered is in the file, in the rotating file and its backups, and on stdout, whole.
#[test]
fn process_exit_right_after_flush_keeps_every_flushed_record() {
    const TEST: &str = "process_exit_right_after_flush_keeps_every_flushed_record";
    if child_case().as_deref() == Some(TEST) {
        let dir = std::env::var("KOLOG_R7_DIR").unwrap();
        let k = Kolog::from_json_str(&format!(
            r#"{{"loggers": [{{"name": "root", "handlers": [
                {{"type": "file", "params": {{"filename": "{0}/plain.log"}}}},
                {{"type": "rotating_file", "params": {{"filename": "{0}/rot.log", "max_bytes": 2000, "backup_count": 1000}}, "renderer": {{"type": "file_json"}}}},
                {{"type": "stream", "renderer": {{"type": "stream_plain", "params": {{"fmt": "LINE %(event)s"}}}}}}]}}]}}"#,
            dir
        ))
        .unwrap();
        let log = k.logger("root").unwrap();
        let threads: Vec<_> = (0..2u64)
            .map(|t| {
                let log = log.clone();
                std::thread::spawn(move || {
                    for i in 0..500u64 {
                        kolog::info!(log, "r", t, i);
                    }
                })
            })
            .collect();
        for t in threads {
            t.join().unwrap();
        }
        k.flush();
        std::process::exit(0);
    }
    let dir = common::temp_dir("r7-exit");
    let out = run_child(TEST, &[("KOLOG_R7_DIR", dir.to_str().unwrap())]);
    assert!(out.status.success(), "{out:?}");
    let stdout = String::from_utf8_lossy(&out.stdout);
    // The harness prints `test <name> ... ` before the first line, without a newline.
    let lines = stdout.matches("LINE r").count();
    assert_eq!(lines, 1000, "{stdout}");
    let files = common::files(&dir);
    let plain = &files["plain.log"];
    assert_eq!(plain.lines().count(), 1000);
    assert!(plain.ends_with('\n'));
    let mut rotated = 0;
    for (name, text) in &files {
        if name.starts_with("rot.log") {
            for l in text.lines() {
                serde_json::from_str::<serde_json::Value>(l).unwrap();
                rotated += 1;
            }
        }
    }
    assert_eq!(rotated, 1000, "{:?}", files.keys());
}

/// Records logged from thread-local destructors while the thread exits are all written, in
/// order: those that run before kolog's own destructor through the thread's ring, those that run
/// after it (`BEFORE`, set before the thread's first record, is destroyed after kolog's state)
/// through a one-off ring each. Before session 9 the latter were counted in `dropped_shutdown`.
#[test]
fn logging_from_thread_local_destructors_is_written_in_order() {
    within(20, "tls", || {
        let (k, sink) = sink_kolog();
        let log = k.logger("root").unwrap();
        struct LogsOnDrop(kolog::Logger, &'static str);
        impl Drop for LogsOnDrop {
            fn drop(&mut self) {
                kolog::info!(self.0, "from tls", which = self.1);
                kolog::info!(self.0, "from tls fmt", which = %self.1);
            }
        }
        thread_local! {
            static BEFORE: std::cell::RefCell<Option<LogsOnDrop>> = const { std::cell::RefCell::new(None) };
            static AFTER: std::cell::RefCell<Option<LogsOnDrop>> = const { std::cell::RefCell::new(None) };
        }
        for _ in 0..3 {
            let log = log.clone();
            std::thread::spawn(move || {
                BEFORE.with(|b| *b.borrow_mut() = Some(LogsOnDrop(log.clone(), "before")));
                kolog::info!(log, "body");
                AFTER.with(|b| *b.borrow_mut() = Some(LogsOnDrop(log.clone(), "after")));
            })
            .join()
            .unwrap();
        }
        k.flush();
        let s = k.stats();
        assert_balanced(&s);
        assert_eq!((s.enqueued, s.written, s.dropped), (15, 15, 0), "{s:?}");
        // The one-off rings are freed like any abandoned ring (after the pass that drained
        // them).
        let freed = std::time::Instant::now();
        while k.stats().live_rings > 0 {
            assert!(
                freed.elapsed() < std::time::Duration::from_secs(5),
                "{:?}",
                k.stats()
            );
            std::thread::sleep(std::time::Duration::from_millis(1));
        }
        let got: Vec<(String, String)> = sink
            .events()
            .iter()
            .map(|line| {
                let v: serde_json::Value = serde_json::from_str(line).unwrap();
                let which = v.get("which").and_then(|w| w.as_str()).unwrap_or("");
                (v["event"].as_str().unwrap().to_owned(), which.to_owned())
            })
            .collect();
        let one_thread = [
            ("body", ""),
            ("from tls", "after"),
            ("from tls fmt", "after"),
            ("from tls", "before"),
            ("from tls fmt", "before"),
        ];
        let want: Vec<(String, String)> = (0..3)
            .flat_map(|_| one_thread.iter())
            .map(|(e, w)| ((*e).to_owned(), (*w).to_owned()))
            .collect();
        assert_eq!(got, want);
    });
}

/// Span fields recorded after the span was made (`span.record`: declared empty, or replacing a
/// value with one of another type), an event with an explicit parent on another thread, a
/// span entered on another thread, and an event with `parent: None` inside a span.
#[cfg(feature = "tracing")]
#[test]
fn tracing_span_fields_recorded_later_and_spans_used_across_threads() {
    within(20, "spans", || {
        let (k, sink) = sink_kolog();
        let sub = std::sync::Arc::new(
            tracing_subscriber::registry().with(kolog::bridge::tracing::layer(&k)),
        );
        let d = tracing::Dispatch::from(sub.clone());
        tracing::dispatcher::with_default(&d, || {
            let outer = tracing::info_span!(
                "outer",
                a = 1u64,
                late = tracing::field::Empty,
                m = tracing::field::Empty
            );
            let _g = outer.enter();
            tracing::info!(e = 1, "before record");
            outer.record("late", "now");
            outer.record("m", 5u64);
            outer.record("a", "replaced");
            tracing::info!(e = 2, "after record");
            let inner = tracing::info_span!("inner", a = 3u64, message = "span message");
            let span2 = inner.clone();
            let d2 = d.clone();
            std::thread::spawn(move || {
                tracing::dispatcher::with_default(&d2, || {
                    tracing::info!(parent: &span2, e = 3, "explicit parent on another thread");
                    let _g = span2.enter();
                    tracing::info!(e = 4, "entered on another thread");
                    tracing::event!(parent: None, tracing::Level::WARN, e = 5, "no parent");
                });
            })
            .join()
            .unwrap();
        });
        k.flush();
        let got: Vec<String> = sink
            .records()
            .iter()
            .map(|r| {
                let mut f = r.fields.clone();
                f.retain(|k, _| k != "logger");
                serde_json::Value::Object(f).to_string()
            })
            .collect();
        assert_eq!(
            got,
            [
                r#"{"level":"INFO","event":"before record","a":1,"e":1}"#,
                r#"{"level":"INFO","event":"after record","a":"replaced","late":"now","m":5,"e":2}"#,
                r#"{"level":"INFO","event":"explicit parent on another thread","a":3,"late":"now","m":5,"e":3}"#,
                r#"{"level":"INFO","event":"entered on another thread","a":3,"late":"now","m":5,"e":4}"#,
                r#"{"level":"WARNING","event":"no parent","e":5}"#,
            ]
        );
        let s = k.stats();
        assert_balanced(&s);
        assert_eq!((s.enqueued, s.written), (5, 5));
    });
}

/// A `stream` handler's lines and the program's own output on the same stream come out in the
/// order the program made them when it flushes in between: what `flush()` covered is on the
/// stream before the next print, and a print std still buffers goes out before the batch.
#[test]
fn stream_output_interleaves_with_the_programs_prints_in_flush_order() {
    const TEST: &str = "stream_output_interleaves_with_the_programs_prints_in_flush_order";
    if child_case().as_deref() == Some(TEST) {
        use std::io::Write;
        for use_stderr in [false, true] {
            let k = Kolog::from_json_str(&format!(
                r#"{{"loggers": [{{"name": "root", "handlers": [{{"type": "stream", "params": {{"use_stderr": {use_stderr}}},
                    "renderer": {{"type": "stream_plain", "params": {{"fmt": "REC %(event)s"}}}}}}]}}]}}"#
            ))
            .unwrap();
            let log = k.logger("root").unwrap();
            let mut out: Box<dyn Write> = if use_stderr {
                Box::new(std::io::stderr())
            } else {
                Box::new(std::io::stdout())
            };
            out.write_all(b"<A\n").unwrap();
            kolog::info!(log, "x", i = 1);
            k.flush();
            out.write_all(b"B\npartial ").unwrap();
            kolog::info!(log, "y");
            kolog::info!(log, "z");
            k.flush();
            out.write_all(b"C>\n").unwrap();
            out.flush().unwrap();
            k.shutdown().unwrap();
        }
        return;
    }
    let out = run_child(TEST, &[]);
    assert!(out.status.success(), "{out:?}");
    let want = "<A\nREC x i=1\nB\npartial REC y\nREC z\nC>\n";
    for stream in [&out.stdout, &out.stderr] {
        let text = String::from_utf8_lossy(stream);
        assert!(text.contains(want), "{text:?}");
    }
}

/// Thousands of short-lived threads, each logging to two systems alternately through rings of
/// the smallest size, under each policy: every attempt is accounted for in each system, the
/// rings of the finished threads are reclaimed, and the shutdown report agrees with `stats()`.
#[test]
fn short_lived_threads_logging_to_two_systems_alternately_under_each_policy() {
    for policy in ["block", "drop", "drop_oldest"] {
        within(60, "churn", move || {
            let k = null_kolog(&format!(
                r#"{{"max_queue_size": 1, "backpressure_policy": "{policy}"}}"#
            ));
            let k2 = null_kolog(&format!(
                r#"{{"max_queue_size": 1, "backpressure_policy": "{policy}"}}"#
            ));
            let log = k.logger("root").unwrap();
            let log2 = k2.logger("root").unwrap();
            let pad = "q".repeat(500);
            for _ in 0..50 {
                let hs: Vec<_> = (0..20)
                    .map(|_| {
                        let (log, log2, pad) = (log.clone(), log2.clone(), pad.clone());
                        std::thread::spawn(move || {
                            for i in 0..20u64 {
                                kolog::info!(log, "c", i, pad = pad.as_str());
                                kolog::info!(log2, "c", i, pad = %pad);
                            }
                        })
                    })
                    .collect();
                for h in hs {
                    h.join().unwrap();
                }
            }
            for k in [k, k2] {
                k.flush();
                let s = k.stats();
                assert_balanced(&s);
                assert_eq!(s.enqueued + s.dropped_full, 20000, "{policy}: {s:?}");
                assert_eq!((s.failed, s.filtered, s.dropped_oversize), (0, 0, 0));
                assert_eq!(s.dropped_shutdown + s.dropped_timeout, 0, "{s:?}");
                match policy {
                    "block" => assert_eq!(s.written, 20000),
                    "drop" => assert_eq!(s.dropped_oldest, 0),
                    _ => assert_eq!((s.enqueued, s.dropped_full), (20000, 0)),
                }
                let r = k.shutdown().unwrap();
                let after = k.stats();
                assert_eq!(after.live_rings, 0, "{after:?}");
                assert_eq!(
                    (
                        r.enqueued,
                        r.written,
                        r.dropped,
                        r.dropped_full,
                        r.dropped_oldest
                    ),
                    (
                        after.enqueued,
                        after.written,
                        after.dropped,
                        after.dropped_full,
                        after.dropped_oldest
                    )
                );
                assert_eq!((r.enqueued, r.written), (s.enqueued, s.written));
            }
        });
    }
}

/// A `LoggerFactory` built on a queue manager that was shut down is a lifecycle error: it
/// builds nothing, so a `"w"` file keeps its content (its handlers would never write) and no
/// I/O thread is started for it.
#[test]
fn a_factory_built_on_a_shut_down_queue_manager_is_an_error_and_empties_no_file() {
    let dir = common::temp_dir("r7-factory-after-shutdown");
    let path = dir.join("keep.log");
    std::fs::write(&path, "precious\n").unwrap();
    let qm = kolog::QueueManager::start(QueueConfig::default()).unwrap();
    qm.shutdown().unwrap();
    let doc = format!(
        r#"{{"loggers": [{{"name": "root", "handlers": [{{"type": "file", "params": {{"filename": "{}", "mode": "w"}}}}]}}]}}"#,
        path.display()
    );
    let Err(e) = kolog::LoggerFactory::from_json_str(&doc, &qm) else {
        panic!("a factory was built on a shut-down queue manager");
    };
    assert_eq!(e.kind(), kolog::ErrorKind::QueueManager);
    assert_eq!(e.code(), "QUEUE::QueueManager::LIFECYCLE::WARNING");
    assert_eq!(std::fs::read_to_string(&path).unwrap(), "precious\n");
    let s = qm.stats();
    assert_eq!((s.enqueued, s.dropped, s.live_rings), (0, 0, 0));
    // A running one still builds, and truncates as asked.
    let qm = kolog::QueueManager::start(QueueConfig::default()).unwrap();
    let f = kolog::LoggerFactory::from_json_str(&doc, &qm).unwrap();
    kolog::info!(f.get_logger("root").unwrap(), "x");
    qm.shutdown().unwrap();
    let text = std::fs::read_to_string(&path).unwrap();
    assert!(
        !text.contains("precious") && text.ends_with(": x\n"),
        "{text}"
    );
}

/// The largest `max_queue_size` a document takes makes 1 GiB rings. Where the system will not
/// map that much for a thread (an address-space limit, strict overcommit), the thread's first
/// record must not abort the process: its ring is made as large as the system allows, and
/// nothing is lost under `block`.
#[test]
fn a_ring_the_system_will_not_map_at_full_size_does_not_abort_the_process() {
    const TEST: &str = "a_ring_the_system_will_not_map_at_full_size_does_not_abort_the_process";
    if child_case().as_deref() == Some(TEST) {
        let k = Kolog::from_json_str(
            r#"{"queue": {"max_queue_size": 16777216}, "loggers": [{"name": "root", "handlers": [{"type": "null"}]}]}"#,
        )
        .unwrap();
        let log = k.logger("root").unwrap();
        // The address space in use now, plus 400 MiB: no room for a 1 GiB ring.
        let status = std::fs::read_to_string("/proc/self/status").unwrap();
        let vm_kib: u64 = status
            .lines()
            .find_map(|l| l.strip_prefix("VmSize:"))
            .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
            .unwrap();
        let limit = (vm_kib + 400 * 1024) * 1024;
        // SAFETY: setrlimit with a valid, initialised struct.
        let rc = unsafe {
            libc::setrlimit(
                libc::RLIMIT_AS,
                &libc::rlimit {
                    rlim_cur: limit,
                    rlim_max: libc::RLIM_INFINITY,
                },
            )
        };
        assert_eq!(rc, 0);
        let t = std::thread::Builder::new()
            .stack_size(256 * 1024)
            .spawn(move || {
                for i in 0..1000u64 {
                    kolog::info!(log, "r", i);
                }
            })
            .unwrap();
        t.join().unwrap();
        let r = k.shutdown().unwrap();
        eprintln!(
            "REPORT enqueued={} written={} dropped={}",
            r.enqueued, r.written, r.dropped
        );
        return;
    }
    let out = run_child(TEST, &[]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{:?} {stderr}", out.status);
    assert!(
        stderr.contains("REPORT enqueued=1000 written=1000 dropped=0"),
        "{stderr}"
    );
    assert_eq!(
        stderr
            .matches("kolog: a ring of 1073741824 bytes could not be mapped")
            .count(),
        1,
        "{stderr}"
    );
}

/// A record two handlers both fail to write (or one fails to write and the other's processor
/// panics on) is one failed record, and the records of another logger that were written stay
/// `written`: the second failure report must not move a record that was written elsewhere.
#[test]
fn records_failed_by_two_handlers_do_not_turn_other_written_records_into_failures() {
    kolog::register_processor("r7_panics", |_| {
        Ok(Box::new(
            |_: &mut kolog::EventDict<'_>| -> kolog::process::Action {
                panic!("r7 processor panic")
            },
        ))
    });
    let dir = common::temp_dir("r7-two-failing");
    let good = dir.join("good.log");
    let k = Kolog::from_json_str(&format!(
        r#"{{"loggers": [
          {{"name": "root", "handlers": [
            {{"type": "file", "params": {{"filename": "/dev/full"}}}},
            {{"type": "file", "params": {{"filename": "/dev/full"}}, "renderer": {{"type": "file_json"}}}}]}},
          {{"name": "mixed", "handlers": [
            {{"type": "file", "params": {{"filename": "/dev/full"}}}},
            {{"type": "null", "processors": [{{"type": "r7_panics"}}]}},
            {{"type": "file", "params": {{"filename": "{0}.other"}}}}]}},
          {{"name": "good", "handlers": [{{"type": "file", "params": {{"filename": "{0}"}}}}]}}]}}"#,
        good.display()
    ))
    .unwrap();
    let bad = k.logger("bad").unwrap();
    let mixed = k.logger("mixed").unwrap();
    let ok = k.logger("good").unwrap();
    for round in 0..3u64 {
        for i in 0..10u64 {
            kolog::info!(ok, "good", round, i);
        }
        k.flush();
        for i in 0..10u64 {
            kolog::info!(bad, "bad", round, i);
            kolog::info!(mixed, "mixed", round, i);
        }
        k.flush();
        let s = k.stats();
        assert_balanced(&s);
        let n = 10 * (round + 1);
        assert_eq!(
            (s.enqueued, s.written, s.failed),
            (3 * n, n, 2 * n),
            "{s:?}"
        );
    }
    assert_eq!(std::fs::read_to_string(&good).unwrap().lines().count(), 30);
    let r = k.shutdown().unwrap();
    assert_eq!((r.enqueued, r.written, r.failed), (90, 30, 60), "{r:?}");
}

/// Size and time rotation together (a 10 ms interval, 400-byte files) while four threads log
/// and flush: every record is in exactly one file, whole, and every file holds whole lines.
#[test]
fn size_and_time_rotation_with_several_threads_keep_every_record_once() {
    let dir = common::temp_dir("r7-rotation-threads");
    let path = dir.join("app.log");
    let k = Kolog::from_json_str(&format!(
        r#"{{"loggers": [{{"name": "root", "handlers": [{{"type": "rotating_file",
            "params": {{"filename": "{}", "max_bytes": 400, "backup_count": 100000, "rotation_interval": 0.01}},
            "renderer": {{"type": "file_plain", "params": {{"fmt": "%(t)s-%(i)s"}}}}}}]}}]}}"#,
        path.display()
    ))
    .unwrap();
    let k = std::sync::Arc::new(k);
    let threads: Vec<_> = (0..4u64)
        .map(|t| {
            let k = k.clone();
            std::thread::spawn(move || {
                let log = k.logger("root").unwrap();
                for i in 0..300u64 {
                    kolog::info!(log, "r", t, i);
                    if i % 50 == 49 {
                        k.flush();
                        std::thread::sleep(std::time::Duration::from_millis(12));
                    }
                }
            })
        })
        .collect();
    for t in threads {
        t.join().unwrap();
    }
    let r = k.shutdown().unwrap();
    assert_eq!((r.enqueued, r.written, r.failed), (1200, 1200, 0), "{r:?}");
    let files = common::files(&dir);
    assert!(files.len() > 4, "{:?}", files.keys());
    let mut all = Vec::new();
    for (name, text) in &files {
        assert!(text.is_empty() || text.ends_with('\n'), "{name}: {text:?}");
        assert!(
            text.len() <= 400 || text.lines().count() == 1,
            "{name}: {text:?}"
        );
        all.extend(text.lines().map(str::to_owned));
    }
    all.sort();
    let mut want: Vec<String> = (0..4u64)
        .flat_map(|t| (0..300u64).map(move |i| format!("{t}-{i}")))
        .collect();
    want.sort();
    assert_eq!(all, want);
}

/// Two hundred tasks on a current-thread runtime, each awaiting twenty `ainfo!` records of
/// 300 bytes into one ring of the smallest size, under each policy: every record is accounted
/// for, nothing waits forever, and under `block` every one is written.
#[test]
fn many_ainfo_tasks_on_a_current_thread_runtime_with_the_smallest_ring_under_each_policy() {
    for policy in ["block", "drop", "drop_oldest"] {
        within(60, policy, move || {
            let k = null_kolog(&format!(
                r#"{{"max_queue_size": 1, "backpressure_policy": "{policy}"}}"#
            ));
            let log = k.logger("root").unwrap();
            let rt = tokio::runtime::Builder::new_current_thread()
                .build()
                .unwrap();
            let pad = "p".repeat(300);
            rt.block_on(async {
                let tasks: Vec<_> = (0..200u64)
                    .map(|t| {
                        let (log, pad) = (log.clone(), pad.clone());
                        tokio::spawn(async move {
                            for i in 0..20u64 {
                                kolog::ainfo!(log, "a", t, i, pad = pad.as_str()).await;
                                if i % 3 == 0 {
                                    tokio::task::yield_now().await;
                                }
                            }
                        })
                    })
                    .collect();
                for t in tasks {
                    t.await.unwrap();
                }
            });
            k.flush();
            let s = k.stats();
            assert_balanced(&s);
            assert_eq!(s.enqueued + s.dropped_full, 4000, "{policy}: {s:?}");
            assert_eq!(
                (s.failed, s.dropped_oversize, s.dropped_shutdown),
                (0, 0, 0)
            );
            match policy {
                "block" => assert_eq!(s.written, 4000),
                "drop" => assert_eq!(s.dropped_oldest, 0),
                _ => assert_eq!(s.dropped_full, 0),
            }
        });
    }
}

/// Padded and repeated `fmt` keys (the date twice, `level` and `levelname`, `event` and
/// `message`), a literal `%` in `fmt` and `datefmt`, non-ASCII names and values, control
/// characters, and bound context of every JSON type render byte for byte the same on the
/// direct path and the event path.
#[test]
fn padded_and_repeated_format_keys_render_the_same_on_both_paths() {
    let dir = common::temp_dir("r7-pad");
    let mut outs = Vec::new();
    for extra in [
        "",
        r#", {"type": "filter_keys", "params": {"keys": ["zzz"]}}"#,
    ] {
        let path = dir.join(format!("p{}.log", extra.len()));
        let k = Kolog::from_json_str(&format!(
            r#"{{"loggers": [{{"name": "root", "level": "DEBUG", "context": {{"c": "x y", "n": null, "o": {{"a": [1]}}}}, "handlers": [{{"type": "file", "params": {{"filename": "{}"}}, "renderer": {{"type": "file_plain", "params": {{"fmt": "%(asctime)-9s|%(asctime)3s|%(level)8s|%(levelname)-9s|%(name)-6s|%(event)12s|%(message)-3s|%%", "datefmt": "%Y %%"}}}}, "processors": [{{"type": "add_context_defaults", "params": {{"defaults": {{"d": "é ü"}}}}}}{extra}]}}]}}]}}"#,
            path.display()
        ))
        .unwrap();
        let log = k.logger("root.ünï").unwrap();
        kolog::info!(log, "évent", a = "", b = "q\"z", c = 1u64);
        kolog::debug!(log, "", x = -1.5);
        kolog::error!(log, "x\ny", e = "\u{7f}\u{85}");
        k.shutdown().unwrap();
        outs.push(std::fs::read_to_string(&path).unwrap());
    }
    assert_eq!(outs[0], outs[1]);
    let year = &outs[0][..4];
    let want = concat!(
        "Y %   |Y %|    INFO|INFO     |root.ünï|       évent|évent|% c=1 n=null o=\"{\\\"a\\\":[1]}\" a=\"\" b=\"q\\\"z\" d=\"é ü\"\n",
        "Y %   |Y %|   DEBUG|DEBUG    |root.ünï|            |   |% c=\"x y\" n=null o=\"{\\\"a\\\":[1]}\" x=-1.5 d=\"é ü\"\n",
        "Y %   |Y %|   ERROR|ERROR    |root.ünï|        x\\ny|x\\ny|% c=\"x y\" n=null o=\"{\\\"a\\\":[1]}\" e=\\u{7f}\\u{85} d=\"é ü\"\n",
    )
    .replace('Y', year);
    assert_eq!(outs[0], want);
}

/// stdout and stderr both a pipe whose reader is gone (`prog 2>&1 | head -1` after `head`
/// exited): the stream handler's records fail, and kolog's own reports on stderr fail too.
/// Neither may panic a kolog thread (std's `eprintln!` panics when stderr fails): the drainer
/// keeps going, the records are counted as failed, and `shutdown()` reports normally, with
/// the handler's writes on an I/O thread or on the drainer.
#[test]
fn a_broken_pipe_on_stdout_and_stderr_panics_no_kolog_thread() {
    const TEST: &str = "a_broken_pipe_on_stdout_and_stderr_panics_no_kolog_thread";
    if child_case().as_deref() == Some(TEST) {
        let out = std::env::var("KOLOG_R7_OUT").unwrap();
        let mut fds = [0; 2];
        // SAFETY: plain descriptor calls on descriptors this process owns.
        unsafe {
            assert_eq!(libc::pipe(fds.as_mut_ptr()), 0);
            libc::dup2(fds[1], 1);
            libc::dup2(fds[1], 2);
            libc::close(fds[1]);
            libc::close(fds[0]);
        }
        let k = Kolog::from_json_str(
            r#"{"queue": {"max_queue_size": 1, "backpressure_policy": "drop"},
                "loggers": [{"name": "app", "handlers": [{"type": "stream"}]}]}"#,
        )
        .unwrap();
        let log = k.logger("app").unwrap();
        for i in 0..200u64 {
            kolog::info!(
                log,
                "r",
                i,
                pad = "ppppppppppppppppppppppppppppppppppppppppppppppppppp"
            );
        }
        k.flush();
        let s = k.stats();
        let r = k.shutdown();
        let line = match r {
            Ok(r) => format!(
                "REPORT ok balanced={} written={} failed_all={}\n",
                r.enqueued == r.written + r.failed,
                r.written,
                r.failed == r.enqueued && r.enqueued == s.enqueued && s.failed == s.enqueued,
            ),
            Err(e) => format!("REPORT error {}\n", e.code()),
        };
        std::fs::write(out, line).unwrap();
        // The harness would fail printing its result to the broken stdout.
        std::process::exit(0);
    }
    let dir = common::temp_dir("r7-broken-pipe");
    for io_thread in ["1", "0"] {
        let out = dir.join(format!("out-{io_thread}"));
        let child = run_child(
            TEST,
            &[
                ("KOLOG_R7_OUT", out.to_str().unwrap()),
                ("KOLOG_IO_THREAD", io_thread),
            ],
        );
        let report = std::fs::read_to_string(&out).unwrap_or_default();
        assert!(
            child.status.success(),
            "KOLOG_IO_THREAD={io_thread}: {child:?} {report}"
        );
        assert_eq!(
            report, "REPORT ok balanced=true written=0 failed_all=true\n",
            "KOLOG_IO_THREAD={io_thread}"
        );
    }
}
