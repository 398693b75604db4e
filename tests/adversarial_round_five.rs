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
