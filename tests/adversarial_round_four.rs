//! Fourth adversarial round: rotation and file modes at their edges, the memory-mapped
//! writer's final length, configuration files by path, sinks against their handlers, logger
//! names and levels, lifecycle guards, the async front end under a hand-written executor,
//! processors at their edges, and JSON values at their limits.

use std::path::PathBuf;

use kolog::{info, Kolog};

fn temp_dir(tag: &str) -> PathBuf {
    let d = std::env::temp_dir().join(format!("kolog-r4-{tag}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&d);
    std::fs::create_dir_all(&d).unwrap();
    d
}

/// `root` at DEBUG writing `renderer` output to one handler built from `handler` (type and
/// params JSON) with `processors`.
fn kolog_with(handler: &str, renderer: &str, processors: &str) -> Kolog {
    Kolog::from_json_str(&format!(
        r#"{{"queue": {{"drain_timeout": 10}}, "loggers": [{{"name": "root", "level": "DEBUG",
            "handlers": [{{{handler}, "renderer": {renderer}, "processors": {processors}}}]}}]}}"#
    ))
    .unwrap()
}

// ---------------------------------------------------------------------------------------------
// File modes
// ---------------------------------------------------------------------------------------------

/// A file truncated by someone else (logrotate's `copytruncate`) while a `mode: "w"` handler
/// has it open: the next records go at the new end, the file holds no hole of NUL bytes.
#[test]
fn a_truncating_handler_writes_at_the_end_after_an_external_truncation() {
    let dir = temp_dir("copytruncate");
    for (mode, extra) in [
        ("w", ""),
        ("a", r#", "override_existing": true"#),
        ("a", ""),
    ] {
        let path = dir.join("app.log");
        std::fs::write(&path, "old line\n").unwrap();
        let k = kolog_with(
            &format!(
                r#""type": "file", "params": {{"filename": "{}", "mode": "{mode}"{extra}}}"#,
                path.display()
            ),
            r#"{"type": "file_plain", "params": {"fmt": "%(event)s"}}"#,
            "[]",
        );
        let log = k.logger("root").unwrap();
        for i in 0..3 {
            info!(log, "before", i = i);
        }
        k.flush();
        std::fs::OpenOptions::new()
            .write(true)
            .open(&path)
            .unwrap()
            .set_len(0)
            .unwrap();
        info!(log, "after");
        k.shutdown().unwrap();
        let bytes = std::fs::read(&path).unwrap();
        assert_eq!(
            String::from_utf8_lossy(&bytes),
            "after\n",
            "mode {mode}{extra}: {bytes:?}"
        );
    }
}
