//! Fifth adversarial round: several truncating handlers on one file, `f32` field values, and
//! the `log` and `tracing` bridges at their edges.

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
