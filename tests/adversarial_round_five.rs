//! Fifth adversarial round: several truncating handlers on one file, `f32` field values, and
//! the `tracing` bridge at its edges.

use std::path::Path;

use kolog::{info, Kolog};

mod common;

use common::{assert_balanced, temp_dir, within};

fn read(path: &Path) -> String {
    std::fs::read_to_string(path).unwrap_or_default()
}

/// A plain renderer writing only the event.
const EVENT_ONLY: &str = r#"{"type": "file_plain", "params": {"fmt": "%(event)s"}}"#;

// ---------------------------------------------------------------------------------------------
// Truncating handlers sharing a file
// ---------------------------------------------------------------------------------------------

/// Loggers `first` and `second`, each with one handler of `handler` (type and params JSON).
fn two_loggers(handler: &str) -> Kolog {
    let logger = |name: &str| {
        format!(
            r#"{{"name": "{name}", "level": "INFO",
                "handlers": [{{{handler}, "renderer": {EVENT_ONLY}}}]}}"#
        )
    };
    Kolog::from_json_str(&format!(
        r#"{{"queue": {{"drain_timeout": 10}}, "loggers": [{}, {}]}}"#,
        logger("first"),
        logger("second")
    ))
    .unwrap()
}

/// Two handlers truncating one file (`mode: "w"`, `override_existing`, a `rotating_file` in
/// `"w"`): the file is emptied once, when the system starts, and both append to it; a line
/// the first wrote is not truncated away when the second first writes.
#[test]
fn two_truncating_handlers_on_one_file_keep_every_line() {
    let dir = temp_dir("r5-shared-w");
    let path = dir.join("app.log");
    for params in [
        r#""type": "file", "params": {"filename": "PATH", "mode": "w"}"#,
        r#""type": "file", "params": {"filename": "PATH", "mode": "wb"}"#,
        r#""type": "file", "params": {"filename": "PATH", "mode": "a", "override_existing": true}"#,
        r#""type": "rotating_file", "params": {"filename": "PATH", "mode": "w"}"#,
    ] {
        std::fs::write(&path, "old line\n").unwrap();
        let handler = params.replace("PATH", &path.display().to_string());
        let k = two_loggers(&handler);
        // Truncated at start, before anything is logged.
        assert_eq!(read(&path), "", "{params}");
        let first = k.logger("first").unwrap();
        let second = k.logger("second").unwrap();
        info!(first, "one");
        k.flush();
        info!(second, "two");
        k.flush();
        info!(first, "three");
        k.flush();
        assert_eq!(read(&path), "one\ntwo\nthree\n", "{params}");
        let s = k.stats();
        assert_eq!((s.enqueued, s.written, s.failed), (3, 3, 0), "{params}");
        assert_balanced(&s);
        within(30, "shutdown", move || k.shutdown().unwrap());
    }
}

/// A second factory on a running system with a truncating handler on a file a handler of the
/// first factory writes (in either mode): the file is not emptied under that handler.
#[test]
fn a_later_factory_does_not_truncate_a_file_the_system_writes() {
    use kolog::{LoggerFactory, QueueConfig, QueueManager};
    let dir = temp_dir("r5-later-factory");
    let path = dir.join("app.log");
    let factory = |name: &str, mode: &str, qm: &QueueManager| {
        let doc = format!(
            r#"{{"loggers": [{{"name": "{name}", "level": "INFO", "handlers": [{{"type": "file",
                "params": {{"filename": "{}", "mode": "{mode}"}}, "renderer": {EVENT_ONLY}}}]}}]}}"#,
            path.display()
        );
        LoggerFactory::from_json_str(&doc, qm).unwrap()
    };
    for first_mode in ["a", "w"] {
        std::fs::write(&path, "old line\n").unwrap();
        let qm = QueueManager::start(QueueConfig::default()).unwrap();
        let first = factory("first", first_mode, &qm);
        info!(first.get_logger("first").unwrap(), "one");
        qm.flush();
        let second = factory("second", "w", &qm);
        info!(second.get_logger("second").unwrap(), "two");
        qm.flush();
        let old = if first_mode == "a" { "old line\n" } else { "" };
        assert_eq!(
            read(&path),
            format!("{old}one\ntwo\n"),
            "first in {first_mode}"
        );
        let s = qm.stats();
        assert_eq!((s.written, s.failed), (2, 0), "{s:?}");
        within(30, "shutdown", move || qm.shutdown().unwrap());
    }
    // A new system truncates again.
    let qm = QueueManager::start(QueueConfig::default()).unwrap();
    let third = factory("third", "w", &qm);
    info!(third.get_logger("third").unwrap(), "three");
    qm.flush();
    assert_eq!(read(&path), "three\n");
    within(30, "shutdown", move || qm.shutdown().unwrap());
}

/// A truncating handler whose file does not exist yet: nothing is created at start, the first
/// record creates it; whose directory does not exist: a logger-creation error, as before.
#[test]
fn a_truncating_handler_on_a_missing_file_or_directory() {
    let dir = temp_dir("r5-missing-w");
    let path = dir.join("app.log");
    let handler = |path: &Path| {
        format!(
            r#""type": "file", "params": {{"filename": "{}", "mode": "w"}}"#,
            path.display()
        )
    };
    let k = two_loggers(&handler(&path));
    assert!(!path.exists());
    info!(k.logger("second").unwrap(), "one");
    k.flush();
    info!(k.logger("first").unwrap(), "two");
    k.flush();
    assert_eq!(read(&path), "one\ntwo\n");
    within(30, "shutdown", move || k.shutdown().unwrap());

    let missing = dir.join("no-such-dir").join("app.log");
    let err = Kolog::from_json_str(&format!(
        r#"{{"loggers": [{{"name": "root", "handlers": [{{{}, "renderer": {EVENT_ONLY}}}]}}]}}"#,
        handler(&missing)
    ))
    .unwrap_err();
    assert_eq!(err.kind(), kolog::ErrorKind::LoggerCreation, "{err}");
    assert!(!missing.parent().unwrap().exists());
}

// ---------------------------------------------------------------------------------------------
// f32 field values
// ---------------------------------------------------------------------------------------------

/// An `f32` field renders with its own shortest form (`format!("{x}")`'s digits, as ryu
/// writes an `f32`), not widened to `f64` first (`0.10000000149011612`); non-finite ones as
/// the `f64` ones do. In JSON, plain text, a bound context and a sink.
#[test]
fn f32_fields_render_with_their_own_shortest_form() {
    let dir = temp_dir("r5-f32");
    let (json, plain) = (dir.join("f32.json"), dir.join("f32.log"));
    let k = Kolog::from_json_str(&format!(
        r#"{{"loggers": [{{"name": "root", "level": "INFO", "handlers": [
            {{"type": "file", "params": {{"filename": "{}"}}, "renderer": {{"type": "file_json"}}}},
            {{"type": "file", "params": {{"filename": "{}"}}, "renderer": {EVENT_ONLY}}}]}}]}}"#,
        json.display(),
        plain.display()
    ))
    .unwrap();
    let log = k.logger("app").unwrap();
    let nonfinite = [
        f32::NAN,
        f32::INFINITY,
        f32::NEG_INFINITY,
        f32::MIN_POSITIVE,
    ];
    for [a, b, c, d] in [[0.1f32, 1e-45, f32::MAX, -0.0], nonfinite] {
        info!(log, "m", a = a, b = b, c = c, d = d);
    }
    let [a, b, c, d] = [f64::NAN, f64::INFINITY, f64::NEG_INFINITY, 0.1];
    info!(log, "m", a = a, b = b, c = c, d = d);
    let bound = kolog::bind!(log, x = 0.1f32);
    info!(bound, "m");
    k.flush();
    let expected_plain = "m a=0.1 b=1e-45 c=3.4028235e38 d=-0.0\n\
                          m a=NaN b=inf c=-inf d=1.1754944e-38\n\
                          m a=NaN b=inf c=-inf d=0.1\n\
                          m x=0.1\n";
    assert_eq!(read(&plain), expected_plain);
    let tails: Vec<String> = read(&json)
        .lines()
        .map(|l| l[l.find(r#""event":"m""#).unwrap()..].to_owned())
        .collect();
    assert_eq!(
        tails,
        [
            r#""event":"m","a":0.1,"b":1e-45,"c":3.4028235e38,"d":-0.0}"#,
            r#""event":"m","a":"NaN","b":"inf","c":"-inf","d":1.1754944e-38}"#,
            r#""event":"m","a":"NaN","b":"inf","c":"-inf","d":0.1}"#,
            r#""event":"m","x":0.1}"#,
        ]
    );
    within(30, "shutdown", move || k.shutdown().unwrap());
}

// ---------------------------------------------------------------------------------------------
// The tracing bridge at its edges
// ---------------------------------------------------------------------------------------------

#[cfg(feature = "tracing")]
mod tracing_bridge {
    use std::path::PathBuf;

    use tracing_subscriber::prelude::*;

    use super::common::{assert_balanced, json_lines, root_json_file, temp_dir, within};

    /// Runs `f` under a tracing subscriber with kolog's layer (a `root` logger writing JSON
    /// lines to a fresh file), then flushes; returns the system and the file.
    fn traced(tag: &str, f: impl FnOnce()) -> (kolog::Kolog, PathBuf) {
        let path = temp_dir(tag).join("app.log");
        let kolog = kolog::Kolog::from_json_str(&root_json_file(&path)).unwrap();
        let sub = tracing_subscriber::registry().with(kolog::bridge::tracing::layer(&kolog));
        tracing::subscriber::with_default(sub, f);
        kolog.flush();
        (kolog, path)
    }

    fn nest(depth: u64, f: &dyn Fn()) {
        if depth == 0 {
            return f();
        }
        let span = tracing::info_span!("s", d = depth, name = tracing::field::Empty);
        span.record("name", format!("n{depth}").as_str());
        let _g = span.enter();
        nest(depth - 1, f)
    }

    /// An event 100 spans deep: the spans' fields are its context, the innermost value of a
    /// name replacing the outer ones in place; the event's own fields come after.
    #[test]
    fn an_event_a_hundred_spans_deep_gets_the_innermost_values() {
        let (kolog, path) = traced("r5-deep-spans", || {
            nest(100, &|| {
                (0..3).for_each(|i: u64| tracing::info!(x = i, "deep"))
            });
        });
        let got = json_lines(&path);
        assert_eq!(got.len(), 3);
        for (i, r) in got.iter().enumerate() {
            let keys: Vec<_> = r.as_object().unwrap().keys().cloned().collect();
            assert_eq!(
                keys,
                ["timestamp", "level", "logger", "event", "d", "name", "x"]
            );
            assert_eq!(
                (&r["d"], &r["name"], &r["x"]),
                (&1.into(), &"n1".into(), &i.into())
            );
        }
        assert_balanced(&kolog.stats());
        within(30, "shutdown", move || kolog.shutdown().unwrap());
    }

    /// Events through a layer whose system was shut down are counted as dropped at shutdown,
    /// and a new system with a new layer on the same thread gets the next ones (the thread's
    /// cache of the old one's loggers does not leak into it).
    #[test]
    fn events_after_shutdown_are_counted_and_the_next_system_gets_its_own() {
        let dir = temp_dir("r5-tracing-sequence");
        for round in 0..3u64 {
            let path = dir.join(format!("app{round}.log"));
            let kolog = kolog::Kolog::from_json_str(&root_json_file(&path)).unwrap();
            let sub = tracing_subscriber::registry().with(kolog::bridge::tracing::layer(&kolog));
            let dispatch = tracing::Dispatch::new(sub);
            let events = || {
                tracing::info!(r = round, "m");
                tracing::info!(target: "other::t", r = round, "m");
            };
            tracing::dispatcher::with_default(&dispatch, events);
            kolog.shutdown().unwrap();
            tracing::dispatcher::with_default(&dispatch, events);
            let s = kolog.stats();
            assert_balanced(&s);
            assert_eq!((s.written, s.dropped_shutdown), (2, 2), "{s:?}");
            let got = json_lines(&path);
            let loggers: Vec<_> = got.iter().map(|r| r["logger"].clone()).collect();
            assert_eq!(
                loggers,
                ["adversarial_round_five.tracing_bridge", "other.t"]
            );
            assert!(got.iter().all(|r| r["r"] == round));
        }
    }

    /// A span field larger than any ring makes each event inside the span too large: counted
    /// as dropped (oversize), not lost; an event outside it is written.
    #[test]
    fn a_huge_span_field_makes_its_events_oversize_drops() {
        let big = "\u{0}\"\\\u{2028}".repeat(1 << 20);
        let (kolog, path) = traced("r5-huge-span", || {
            tracing::info_span!("s", big = big.as_str()).in_scope(|| {
                tracing::info!(v = 1u64, "inside");
                tracing::info!("{}", "inside");
            });
            tracing::info!(v = 2u64, "outside");
        });
        let s = kolog.stats();
        assert_balanced(&s);
        assert_eq!((s.written, s.dropped_oversize), (1, 2), "{s:?}");
        let got = json_lines(&path);
        assert_eq!((got.len(), &got[0]["event"]), (1, &"outside".into()));
        within(30, "shutdown", move || kolog.shutdown().unwrap());
    }
}

// ---------------------------------------------------------------------------------------------
// The log bridge at its edges (the only test here that installs the `log` logger)
// ---------------------------------------------------------------------------------------------

#[cfg(feature = "log")]
mod log_bridge {
    use super::common::{json_lines, root_and_ctx_json_files, temp_dir, within};

    /// Key/values with keys made at run time (a dynamic record).
    struct Pairs(Vec<(String, String)>);

    impl log::kv::Source for Pairs {
        fn visit<'kvs>(
            &'kvs self,
            visitor: &mut dyn log::kv::VisitSource<'kvs>,
        ) -> Result<(), log::kv::Error> {
            for (k, v) in &self.0 {
                visitor.visit_pair(log::kv::Key::from_str(k), log::kv::Value::from(v.as_str()))?;
            }
            Ok(())
        }
    }

    fn log_pairs(target: &str, pairs: Vec<(String, String)>) {
        log::logger().log(
            &log::Record::builder()
                .args(format_args!("{} pairs", pairs.len()))
                .level(log::Level::Info)
                .target(target)
                .key_values(&Pairs(pairs))
                .build(),
        );
    }

    fn numbered(n: usize) -> Vec<(String, String)> {
        (0..n).map(|i| (format!("k{i}"), "v".to_owned())).collect()
    }

    /// The keys and values of a JSON line after `event`.
    fn fields(r: &serde_json::Value) -> Vec<(String, String)> {
        let o = r.as_object().unwrap();
        o.iter()
            .skip(4)
            .map(|(k, v)| (k.clone(), v.as_str().unwrap().to_owned()))
            .collect()
    }

    /// A `log` record with more key/values than a record holds (32,763) is counted as
    /// dropped for its size, like one larger than the ring; it is not written with its
    /// key/values cut short. One with exactly that many is written whole. Repeated keys, and
    /// keys of the logger's bound context, merge the same way in a record of few and of many
    /// key/values: the first place, the last value.
    #[test]
    fn log_records_with_many_key_values() {
        let dir = temp_dir("r5-log-wide");
        let (root, ctx) = (dir.join("root.log"), dir.join("ctx.log"));
        let kolog = kolog::Kolog::from_json_str(&root_and_ctx_json_files(&root, &ctx)).unwrap();
        kolog::bridge::log::init(&kolog).unwrap();
        const MAX: usize = 32_763;
        log_pairs("wide", numbered(MAX));
        log_pairs("wide", numbered(MAX + 1));
        log_pairs("wide", numbered(40_000));
        // Few and many key/values with repeats and context keys (`a`, `env`).
        let pair = |k: &str, v: &str| (k.to_owned(), v.to_owned());
        for n in [3, 40] {
            let mut pairs = numbered(n);
            pairs.extend([pair("a", "first"), pair("k1", "again"), pair("a", "last")]);
            pairs.extend([pair("new", "1"), pair("k0", "last"), pair("new", "2")]);
            log_pairs("ctx", pairs);
        }
        let s = within(60, "shutdown", move || kolog.shutdown().unwrap());
        assert_eq!(s.enqueued, s.written + s.failed + s.filtered, "{s:?}");
        assert_eq!(
            (s.written, s.failed, s.dropped, s.dropped_oversize),
            (3, 0, 2, 2),
            "{s:?}"
        );
        // The record written whole (kolog's own report of the drops may follow, uncounted).
        let got = json_lines(&root);
        let wide: Vec<_> = got.iter().filter(|r| r["logger"] == "wide").collect();
        assert_eq!(wide.len(), 1);
        assert_eq!(wide[0]["event"], format!("{MAX} pairs"));
        assert_eq!(fields(wide[0]), numbered(MAX));
        let merged = json_lines(&ctx);
        for (r, n) in merged.iter().zip([3, 40]) {
            let mut expected = vec![pair("a", "last"), pair("env", "prod")];
            expected.extend(numbered(n));
            expected[2] = pair("k0", "last");
            expected[3] = pair("k1", "again");
            expected.push(pair("new", "2"));
            assert_eq!(fields(r), expected, "{n} pairs");
        }
        assert_eq!(merged.len(), 2);
    }
}
