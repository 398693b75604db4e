//! Adversarial round nine: what users of `tracing` and `slog` expect of the API (macro
//! argument evaluation, field names, two-step misuse) and hostile zones, with exact assertions.

mod common;
use kolog::{Kolog, Level, Sink};
use std::cell::Cell;
use std::future::Future;

fn sink_kolog(level: &str) -> (Kolog, Sink) {
    let k = Kolog::from_json_str(&format!(
        r#"{{"loggers": [{{"name": "root", "level": "{level}", "handlers": [{{"type": "null", "renderer": {{"type": "stream_json"}}}}]}}]}}"#
    ))
    .unwrap();
    let sink = Sink::new();
    k.queue_manager().add_sink("root", sink.clone());
    (k, sink)
}

/// Field values are evaluated exactly once, in order, when the level is enabled, and not at
/// all when it is disabled (sync and async, a level held in a variable); trailing commas,
/// match arms and closures work. A raw identifier names its field without the `r#`, as in
/// `tracing` (`r#type = 1` is the field `type`), in records and in `bind!`, whose repeated key
/// keeps its last value once.
#[test]
fn macro_fields_evaluate_once_only_when_enabled_and_raw_identifiers_lose_their_prefix() {
    let (k, sink) = sink_kolog("INFO");
    let log = k.logger("root").unwrap();
    let n = Cell::new(0u64);
    let bump = || {
        n.set(n.get() + 1);
        n.get()
    };
    kolog::info!(log, "a", x = bump(), y = %bump(), z = ?bump(),);
    kolog::debug!(log, "b", x = bump(), y = %bump(), z = ?bump());
    let lv = Level::Debug;
    kolog::log!(log, lv, "c", x = bump());
    let mut f = Box::pin(kolog::adebug!(log, "d", x = bump()));
    let waker = std::task::Waker::noop();
    assert!(f
        .as_mut()
        .poll(&mut std::task::Context::from_waker(waker))
        .is_ready());
    assert_eq!(n.get(), 3);
    let r#type = 5u64;
    kolog::info!(log, "raw", r#type = 1u64, r#match = %2u64);
    kolog::info!(log, "short", r#type);
    match Some(1) {
        Some(_) => kolog::info!(log, "arm"),
        None => kolog::info!(log, "none"),
    }
    let c = || kolog::info!(log, "closure", a = 1u64);
    c();
    let b = kolog::bind!(log, a = 1u64, a = 2u64, r#fn = 3u64);
    assert_eq!(
        b.context(),
        &[
            ("a".to_owned(), serde_json::json!(2)),
            ("fn".to_owned(), serde_json::json!(3))
        ]
    );
    kolog::info!(b, "bound");
    let events: Vec<String> = sink
        .events()
        .iter()
        .map(|e| e.split_once(r#","level""#).unwrap().1.to_owned())
        .collect();
    assert_eq!(
        events,
        [
            r#":"INFO","logger":"root","event":"a","x":1,"y":"2","z":"3"}"#,
            r#":"INFO","logger":"root","event":"raw","type":1,"match":"2"}"#,
            r#":"INFO","logger":"root","event":"short","type":5}"#,
            r#":"INFO","logger":"root","event":"arm"}"#,
            r#":"INFO","logger":"root","event":"closure","a":1}"#,
            r#":"INFO","logger":"root","event":"bound","a":2,"fn":3}"#,
        ]
    );
}

/// Re-runs this test binary on one test, as a child process (the test tells it is the child
/// by the environment it is given).
fn child(test: &str) -> std::process::Command {
    let mut c = std::process::Command::new(std::env::current_exe().unwrap());
    c.args([test, "--exact", "--nocapture", "--test-threads=1"]);
    c
}

/// A TZif (version 1) file with one local time type: `offset` seconds east, abbreviation
/// `abbr`.
fn tzif(offset: i32, abbr: &[u8]) -> Vec<u8> {
    let mut b = b"TZif".to_vec();
    b.resize(20, 0);
    for count in [0u32, 0, 0, 0, 1, abbr.len() as u32 + 1] {
        b.extend_from_slice(&count.to_be_bytes());
    }
    b.extend_from_slice(&offset.to_be_bytes());
    b.extend_from_slice(&[0, 0]);
    b.extend_from_slice(abbr);
    b.push(0);
    b
}

/// `%Z` writes the zone abbreviation, which comes from the environment: a POSIX `TZ` such as
/// `<a\nb"c>-1`, or a zone file (`TZ=/path`) whose abbreviation holds a CR, ESC or tab. Its
/// control characters are escaped as values are, so a record stays on one line; a quote is
/// kept (the date is not quoted).
#[test]
fn hostile_zone_abbreviations_keep_a_record_on_one_line() {
    if let Ok(path) = std::env::var("KOLOG_R9_CHILD_OUT") {
        let k = Kolog::from_json_str(&format!(
            r#"{{"loggers": [{{"name": "root", "handlers": [{{"type": "file", "params": {{"filename": "{path}"}},
                "renderer": {{"type": "file_plain", "params": {{"utc": false, "datefmt": "%Z %z|", "fmt": "%(asctime)s%(event)s"}}}}}}]}}]}}"#
        ))
        .unwrap();
        let log = k.logger("root").unwrap();
        kolog::info!(log, "one");
        k.shutdown().unwrap();
        return;
    }
    let dir = common::temp_dir("r9-tz");
    let zone = dir.join("zone");
    std::fs::write(&zone, tzif(-3600, b"X\rY\x1b\tZ")).unwrap();
    for (i, (tz, expected)) in [
        ("<a\nb\"c>-1".to_owned(), "a\\nb\"c +0100|one\n"),
        (zone.display().to_string(), "X\\rY\\u{1b}\\tZ -0100|one\n"),
    ]
    .into_iter()
    .enumerate()
    {
        let out = dir.join(format!("out{i}.log"));
        let status = child("hostile_zone_abbreviations_keep_a_record_on_one_line")
            .env("TZ", &tz)
            .env("KOLOG_R9_CHILD_OUT", &out)
            .status()
            .unwrap();
        assert!(status.success(), "{tz:?}");
        assert_eq!(std::fs::read_to_string(&out).unwrap(), expected, "{tz:?}");
    }
}

/// Two handlers on one file when one of them is `rotating_file` (each would rotate by its own
/// size count and rename the file from under the other, which goes on writing into the
/// renamed backup) are refused at load with an error naming both handlers, whether the paths
/// are spelled alike or not. Nothing is created. A `rotating_file` that never rotates
/// (`max_bytes` 0, no interval) only appends, and may share (round five's truncating test). A second factory on the same queue manager
/// naming the file (a reloaded configuration) is not refused.
#[test]
fn a_rotating_handler_sharing_its_file_is_refused_naming_both_handlers() {
    let dir = common::temp_dir("r9-rot-shared");
    let path = dir.join("r.log");
    let dotted = dir.join(".").join("r.log");
    let rotating = |name: &str, p: &std::path::Path| {
        format!(
            r#"{{"name": "{name}", "handlers": [{{"type": "rotating_file", "params": {{"filename": "{}", "max_bytes": 100, "backup_count": 2}},
                "renderer": {{"type": "file_plain", "params": {{"fmt": "%(event)s"}}}}}}]}}"#,
            p.display()
        )
    };
    let file = |name: &str, p: &std::path::Path| {
        format!(
            r#"{{"name": "{name}", "handlers": [{{"type": "null"}}, {{"type": "file", "params": {{"filename": "{}"}}}}]}}"#,
            p.display()
        )
    };
    let timed = |name: &str, p: &std::path::Path| {
        rotating(name, p).replace(
            r#""max_bytes": 100"#,
            r#""max_bytes": 0, "rotation_interval": 60"#,
        )
    };
    let refused = |e: kolog::Error, first: &str, second: &str, p: &std::path::Path| {
        let cause = common::creation_cause(&e);
        assert_eq!(
            cause.code(),
            "HANDLER::RotatingFileHandler::VALIDATION::ERROR"
        );
        assert_eq!(
            cause.msg(),
            format!(
                "handlers {first} and {second} both write `{}`, and a rotating_file handler cannot share its file: give each its own filename",
                p.display()
            )
        );
    };
    for (doc, first, second, p) in [
        (
            format!("{}, {}", rotating("root", &path), rotating("b", &path)),
            "`root`[0]",
            "`b`[0]",
            &path,
        ),
        (
            format!("{}, {}", rotating("root", &path), rotating("b", &dotted)),
            "`root`[0]",
            "`b`[0]",
            &dotted,
        ),
        (
            format!("{}, {}", file("root", &path), rotating("b", &dotted)),
            "`root`[1]",
            "`b`[0]",
            &dotted,
        ),
        (
            format!("{}, {}", rotating("root", &dotted), file("b", &path)),
            "`root`[0]",
            "`b`[1]",
            &path,
        ),
        (
            format!("{}, {}", rotating("root", &path), timed("b", &path)),
            "`root`[0]",
            "`b`[0]",
            &path,
        ),
    ] {
        let e = Kolog::from_json_str(&format!(r#"{{"loggers": [{doc}]}}"#)).unwrap_err();
        refused(e, first, second, p);
    }
    assert!(!path.exists());

    // Another factory on the same queue manager is not compared: it may be a reloaded
    // configuration replacing the first, and records keep going to the one file.
    let qm = kolog::QueueManager::start(kolog::QueueConfig::default()).unwrap();
    let doc = format!(r#"{{"loggers": [{}]}}"#, rotating("root", &path));
    let old = kolog::LoggerFactory::from_json_str(&doc, &qm).unwrap();
    kolog::info!(old.get_logger("root").unwrap(), "old");
    drop(old);
    let reloaded = kolog::LoggerFactory::from_json_str(&doc, &qm).unwrap();
    kolog::info!(reloaded.get_logger("root").unwrap(), "new");
    qm.flush();
    assert_eq!(
        common::files(&dir).into_iter().collect::<Vec<_>>(),
        [("r.log".to_owned(), "old\nnew\n".to_owned())]
    );
    qm.shutdown().unwrap();
}
