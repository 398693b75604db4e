//! Fourth adversarial round: rotation and file modes at their edges, the memory-mapped
//! writer's final length, configuration files by path, sinks against their handlers, logger
//! names and levels, lifecycle guards, the async front end under a hand-written executor,
//! processors at their edges, and JSON values at their limits.

use std::path::{Path, PathBuf};

use kolog::{info, Kolog, Sink};

mod common;

use common::{assert_balanced, within};

fn temp_dir(tag: &str) -> PathBuf {
    let d = std::env::temp_dir().join(format!("kolog-r4-{tag}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&d);
    std::fs::create_dir_all(&d).unwrap();
    d
}

fn read(path: &Path) -> String {
    std::fs::read_to_string(path).unwrap_or_default()
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

fn child_env() -> Option<String> {
    std::env::var("KOLOG_R4_CHILD").ok()
}

/// Re-runs this test binary on one test, as a child process with `KOLOG_R4_CHILD` set.
fn child(test: &str) -> std::process::Command {
    let mut c = std::process::Command::new(std::env::current_exe().unwrap());
    c.args([test, "--exact", "--nocapture", "--test-threads=1"])
        .env("KOLOG_R4_CHILD", test);
    c
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

// ---------------------------------------------------------------------------------------------
// The memory-mapped writer (`KOLOG_FILE_WRITER=mmap`, read when a handler is built: children)
// ---------------------------------------------------------------------------------------------

/// In the child: logs `n` records through the mmap writer into `$KOLOG_R4_PATH`, then ends
/// as `$KOLOG_R4_END` says.
#[test]
fn mmap_child() {
    if child_env().as_deref() != Some("mmap_child") {
        return;
    }
    let path = PathBuf::from(std::env::var("KOLOG_R4_PATH").unwrap());
    let end = std::env::var("KOLOG_R4_END").unwrap();
    let k = kolog_with(
        &format!(
            r#""type": "file", "params": {{"filename": "{}", "mode": "a"}}"#,
            path.display()
        ),
        r#"{"type": "file_plain", "params": {"fmt": "%(event)s"}}"#,
        "[]",
    );
    let log = k.logger("root").unwrap();
    for i in 0..100 {
        info!(log, "line", i = i);
    }
    k.flush();
    match end.as_str() {
        "flush" => {
            // A reader after flush() sees exactly the lines, then the process ends at once.
            let bytes = std::fs::read(&path).unwrap();
            println!(
                "AFTER-FLUSH {} {}",
                bytes.len(),
                bytes.iter().filter(|&&b| b == 0).count()
            );
            std::process::exit(0);
        }
        "exit" => std::process::exit(0),
        "shutdown" => {
            k.shutdown().unwrap();
        }
        "drop" => drop(k),
        "panic" => {
            let _k = k;
            panic!("user code panics while the Kolog is alive");
        }
        other => panic!("{other}"),
    }
}

fn mmap_run(end: &str) -> (Vec<u8>, String) {
    let dir = temp_dir(&format!("mmap-{end}"));
    let path = dir.join("app.log");
    std::fs::write(&path, "kept\n").unwrap();
    let out = child("mmap_child")
        .env("KOLOG_FILE_WRITER", "mmap")
        .env("KOLOG_R4_PATH", &path)
        .env("KOLOG_R4_END", end)
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    assert_eq!(out.status.success(), end != "panic", "{end}: {out:?}");
    (std::fs::read(&path).unwrap(), stdout)
}

fn expected_mmap_lines() -> Vec<u8> {
    let mut want = b"kept\n".to_vec();
    for i in 0..100 {
        want.extend_from_slice(format!("line i={i}\n").as_bytes());
    }
    want
}

/// `flush()` makes the lines visible, and only the lines: a reader (or `tail -f`) sees no
/// run of NUL bytes after them, and a process that then exits leaves exactly the lines.
#[test]
fn the_mmap_writer_holds_no_nul_tail_after_flush() {
    let (bytes, stdout) = mmap_run("flush");
    let want = expected_mmap_lines();
    assert!(
        stdout.contains(&format!("AFTER-FLUSH {} 0", want.len())),
        "{stdout}"
    );
    assert_eq!(bytes, want);
}

// ---------------------------------------------------------------------------------------------
// Configuration files by path
// ---------------------------------------------------------------------------------------------

/// A UTF-8 byte order mark (what Notepad writes) starts the file, not the document: JSON
/// and YAML files with one load as without it.
#[test]
fn configuration_files_with_a_byte_order_mark_load() {
    let dir = temp_dir("bom");
    let good =
        r#"{"loggers": [{"name": "root", "level": "WARN", "handlers": [{"type": "null"}]}]}"#;
    for name in ["bom.json", "bom.yaml", "bom.yml"] {
        let path = dir.join(name);
        std::fs::write(&path, format!("\u{feff}{good}")).unwrap();
        let k = Kolog::from_path(&path).unwrap_or_else(|e| panic!("{name}: {e}"));
        assert_eq!(
            k.logger("x").unwrap().level(),
            kolog::Level::Warning,
            "{name}"
        );
    }
    // Only a leading mark: one inside the document is content (here, outside a string).
    let path = dir.join("inner.json");
    std::fs::write(&path, format!("{{\u{feff}{}", &good[1..])).unwrap();
    let e = Kolog::from_path(&path).unwrap_err();
    assert_eq!(
        e.code(),
        "CONFIGURATION::LoggerFactory::PARSING::ERROR",
        "{e}"
    );
}

#[test]
fn empty_yaml_documents_are_validation_errors() {
    let dir = temp_dir("empty-yaml");
    for (name, text) in [
        ("empty.yaml", ""),
        ("comment.yml", "# nothing\n"),
        ("bom.yaml", "\u{feff}"),
    ] {
        let path = dir.join(name);
        std::fs::write(&path, text).unwrap();
        let e = Kolog::from_path(&path).unwrap_err();
        assert_eq!(
            e.code(),
            "CONFIGURATION::LoggerFactory::VALIDATION::ERROR",
            "{name}: {e}"
        );
        assert!(
            e.msg().contains("expected an object, found null"),
            "{name}: {e}"
        );
    }
}

// ---------------------------------------------------------------------------------------------
// rotating_file at its edges
// ---------------------------------------------------------------------------------------------

fn rotating_handler(path: &Path, params: &str) -> String {
    format!(
        r#""type": "rotating_file", "params": {{"filename": "{}", "mode": "w"{params}}}"#,
        path.display()
    )
}

const EVENT_ONLY: &str = r#"{"type": "file_plain", "params": {"fmt": "%(event)s"}}"#;

/// Every file in `dir`, name → content.
fn files(dir: &Path) -> std::collections::BTreeMap<String, String> {
    std::fs::read_dir(dir)
        .unwrap()
        .map(|e| {
            let e = e.unwrap();
            (
                e.file_name().to_string_lossy().into_owned(),
                std::fs::read_to_string(e.path()).unwrap(),
            )
        })
        .collect()
}

#[test]
fn max_bytes_below_one_record_keeps_one_record_per_file_and_backup_count_files() {
    let dir = temp_dir("rot-tiny");
    let path = dir.join("app.log");
    let k = kolog_with(
        &rotating_handler(&path, r#", "max_bytes": 3, "backup_count": 2"#),
        EVENT_ONLY,
        "[]",
    );
    let log = k.logger("root").unwrap();
    for i in 0..5 {
        kolog::log!(log, kolog::Level::Info, "record", i = i);
    }
    let s = k.shutdown().unwrap();
    assert_eq!((s.enqueued, s.written, s.failed), (5, 5, 0), "{s:?}");
    let got = files(&dir);
    let want: std::collections::BTreeMap<String, String> = [
        ("app.log", "record i=4\n"),
        ("app.log.1", "record i=3\n"),
        ("app.log.2", "record i=2\n"),
    ]
    .into_iter()
    .map(|(a, b)| (a.to_owned(), b.to_owned()))
    .collect();
    assert_eq!(got, want);
}

#[test]
fn backup_count_zero_never_rotates_by_size_and_one_keeps_one() {
    for (backups, want) in [
        (0u32, vec![("app.log", "a\nb\nc\n")]),
        (1, vec![("app.log", "c\n"), ("app.log.1", "b\n")]),
    ] {
        let dir = temp_dir(&format!("rot-backups-{backups}"));
        let path = dir.join("app.log");
        let k = kolog_with(
            &rotating_handler(
                &path,
                &format!(r#", "max_bytes": 2, "backup_count": {backups}"#),
            ),
            r#"{"type": "file_plain", "params": {"fmt": "%(v)s"}}"#,
            "[]",
        );
        let log = k.logger("root").unwrap();
        for v in ["a", "b", "c"] {
            info!(log, "record", v = v);
        }
        k.shutdown().unwrap();
        let want: std::collections::BTreeMap<String, String> = want
            .into_iter()
            .map(|(a, b)| (a.to_owned(), b.to_owned()))
            .collect();
        assert_eq!(files(&dir), want, "backup_count {backups}");
    }
}

/// Size and time rotation together: every record is in exactly one file, numbered backups
/// come from size, stamped ones from time.
#[test]
fn size_and_time_rotation_together_keep_every_record_once() {
    let dir = temp_dir("rot-both");
    let path = dir.join("app.log");
    let k = kolog_with(
        &rotating_handler(
            &path,
            r#", "max_bytes": 30, "backup_count": 100, "rotation_interval": 0.05"#,
        ),
        r#"{"type": "file_plain", "params": {"fmt": "%(n)s"}}"#,
        "[]",
    );
    let log = k.logger("root").unwrap();
    let mut n = 0u32;
    for _round in 0..3 {
        for _ in 0..10 {
            info!(log, "r", n = n);
            n += 1;
        }
        k.flush();
        // Longer than the interval: the next record rotates by time.
        std::thread::sleep(std::time::Duration::from_millis(80));
    }
    info!(log, "r", n = n);
    n += 1;
    let s = k.shutdown().unwrap();
    assert_eq!((s.written, s.failed), (u64::from(n), 0), "{s:?}");
    let got = files(&dir);
    let mut all: Vec<u32> = got
        .values()
        .flat_map(|c| c.lines().map(|l| l.parse::<u32>().unwrap()))
        .collect();
    all.sort_unstable();
    assert_eq!(all, (0..n).collect::<Vec<_>>(), "{got:?}");
    let stamped = got
        .keys()
        .filter(|k| k.len() > "app.log.".len() + 10)
        .count();
    let numbered = got
        .keys()
        .filter(|k| {
            k.strip_prefix("app.log.")
                .is_some_and(|r| r.parse::<u32>().is_ok())
        })
        .count();
    assert!(stamped >= 3, "{got:?}");
    assert!(numbered >= 1, "{got:?}");
    // Each file holds at most 30 bytes' worth by size: 10 lines of up to 3 bytes.
    for (name, content) in &got {
        assert!(
            content.len() < 30 || content.lines().count() == 1,
            "{name}: {content:?}"
        );
    }
}

/// A directory removed under a rotating handler: the records are counted as failed, and
/// once the directory is back the handler writes again.
#[test]
fn a_rotating_handlers_directory_removed_and_recreated() {
    let dir = temp_dir("rot-vanish");
    let sub = dir.join("logs");
    std::fs::create_dir(&sub).unwrap();
    let path = sub.join("app.log");
    let k = kolog_with(
        &rotating_handler(&path, r#", "max_bytes": 1000, "backup_count": 2"#),
        r#"{"type": "file_plain", "params": {"fmt": "%(event)s %(n)s"}}"#,
        "[]",
    );
    let log = k.logger("root").unwrap();
    info!(log, "before", n = 0);
    k.flush();
    std::fs::remove_dir_all(&sub).unwrap();
    // The handler checks at most once a second that its path still names its file.
    std::thread::sleep(std::time::Duration::from_millis(1100));
    for n in 0..5 {
        info!(log, "during", n = n);
    }
    k.flush();
    let s = k.stats();
    assert_eq!((s.written, s.failed), (1, 5), "{s:?}");
    std::fs::create_dir(&sub).unwrap();
    info!(log, "after", n = 0);
    k.flush();
    let s = k.stats();
    assert_balanced(&s);
    assert_eq!((s.written, s.failed), (2, 5), "{s:?}");
    k.shutdown().unwrap();
    let text = read(&path);
    assert!(text.contains("after 0\n"), "{text}");
    assert!(!text.contains("during"), "{text}");
}

/// A rotating handler whose path is a directory is refused at load, like a file handler.
#[test]
fn a_rotating_handler_on_a_directory_is_a_handler_error() {
    let dir = temp_dir("rot-dir");
    let e = Kolog::from_json_str(&format!(
        r#"{{"loggers": [{{"name": "root", "handlers": [{{"type": "rotating_file",
            "params": {{"filename": "{}", "max_bytes": 10, "backup_count": 1}}}}]}}]}}"#,
        dir.display()
    ))
    .unwrap_err();
    assert_eq!(
        e.code(),
        "LOGGER_CREATION::LoggerFactory::INITIALIZATION::ERROR"
    );
    let cause = std::error::Error::source(&e)
        .and_then(|c| c.downcast_ref::<kolog::Error>())
        .unwrap();
    assert_eq!(
        cause.code(),
        "HANDLER::RotatingFileHandler::IO::ERROR",
        "{cause}"
    );
}

/// A log file whose name is not UTF-8 (unix bytes) rotates by size and by time, and time
/// pruning finds its backups.
#[cfg(unix)]
#[test]
fn a_non_utf8_file_name_rotates_and_prunes() {
    use std::os::unix::ffi::OsStrExt;
    let dir = temp_dir("rot-bytes");
    let path = dir.join(std::ffi::OsStr::from_bytes(b"app\xff.log"));
    for (max_bytes, interval) in [
        (3u64, None),
        (0, Some(std::time::Duration::from_millis(20))),
    ] {
        for e in std::fs::read_dir(&dir).unwrap() {
            std::fs::remove_file(e.unwrap().path()).unwrap();
        }
        let mut cfg = common::system(
            vec![common::logger(
                "root",
                Some(kolog::Level::Info),
                kolog::config::HandlerKind::RotatingFile(kolog::config::RotatingFileParams {
                    filename: path.clone(),
                    max_bytes,
                    backup_count: 1,
                    rotation_interval: interval,
                    mode: "w".into(),
                    encoding: "utf-8".into(),
                }),
                kolog::config::RendererKind::FilePlain,
            )],
            kolog::QueueConfig::default(),
        );
        cfg.loggers[0].handlers[0].renderer.fmt = Some("%(n)s".into());
        let k = Kolog::from_config(cfg).unwrap();
        let log = k.logger("root").unwrap();
        for n in 0..4 {
            info!(log, "r", n = n);
            k.flush();
            if interval.is_some() {
                std::thread::sleep(std::time::Duration::from_millis(40));
            }
        }
        let s = k.shutdown().unwrap();
        assert_eq!((s.written, s.failed), (4, 0), "{s:?}");
        let mut names: Vec<Vec<u8>> = std::fs::read_dir(&dir)
            .unwrap()
            .map(|e| e.unwrap().file_name().as_bytes().to_vec())
            .collect();
        names.sort();
        assert_eq!(names.len(), 2, "{names:?}");
        assert_eq!(names[0], b"app\xff.log");
        assert!(names[1].starts_with(b"app\xff.log."), "{names:?}");
        assert_eq!(std::fs::read_to_string(&path).unwrap(), "3\n");
    }
}

// ---------------------------------------------------------------------------------------------
// Sinks against their handlers
// ---------------------------------------------------------------------------------------------

/// Logs a fixed set of records from one place (same callsites every call).
fn emit_fixture(log: &kolog::Logger) {
    let bound = kolog::bind!(log, svc = "auth", n = 1);
    info!(log, "plain", a = 1, s = "x y", f = 1.5, b = true);
    kolog::warning!(bound, "bound", n = 2, q = "quote\"d");
    kolog::debug!(log, "below info");
    kolog::error!(log, "[bold]marked[/bold]", e = %"disp", d = ?"dbg");
    let err = common::DbError(std::io::Error::other("disk"));
    kolog::error!(log, "failed", error = &err);
}

/// Records go to `sink` while it is attached; detached, the same records go to the file.
/// The sink's events are the file's lines, byte for byte (timestamps aside), for each
/// renderer and a chain of every built-in processor, on a logger that inherits `app`'s config.
#[test]
fn sink_events_render_exactly_as_the_first_handler_writes() {
    let dir = temp_dir("sink-render");
    let renderers = [
        r#"{"type": "file_plain", "params": {"fmt": "%(level)-8s|%(name)s|%(event)s"}}"#,
        r#"{"type": "file_json"}"#,
        r#"{"type": "stream_plain", "params": {"fmt": "%(level)s %(event)s %(lineno)d"}}"#,
    ];
    let chains = [
        "[]",
        r#"[{"type": "add_callsite_params", "params": {"parameters": ["lineno", "funcName"]}},
            {"type": "add_context_defaults", "params": {"defaults": {"svc": "default", "zone": "eu"}}},
            {"type": "filter_by_level", "params": {"min_level": "INFO"}}]"#,
        r#"[{"type": "dict_tracebacks"}, {"type": "filter_keys", "params": {"keys": ["s", "q"]}},
            {"type": "filter_markup"}, {"type": "add_callsite_params", "params": {"parameters": ["lineno"]}}]"#,
    ];
    for renderer in renderers {
        for chain in chains {
            let path = dir.join("app.log");
            let k = Kolog::from_json_str(&format!(
                r#"{{"loggers": [
                    {{"name": "root", "level": "INFO", "handlers": [{{"type": "null"}}]}},
                    {{"name": "app", "level": "DEBUG", "context": {{"env": "prod"}}, "handlers": [
                        {{"type": "file", "params": {{"filename": "{}", "mode": "w"}},
                          "renderer": {renderer}, "processors": {chain}}},
                        {{"type": "null"}}]}}]}}"#,
                path.display()
            ))
            .unwrap();
            let log = k.logger("app.db.pool").unwrap();
            let sink = Sink::new();
            k.queue_manager().add_sink("app.db", sink.clone());
            emit_fixture(&log);
            let events = sink.events();
            k.queue_manager().remove_sink("app.db");
            emit_fixture(&log);
            k.shutdown().unwrap();
            let strip = |l: &str| -> String {
                match serde_json::from_str::<serde_json::Value>(l) {
                    Ok(mut v) => {
                        v.as_object_mut().unwrap().remove("timestamp");
                        v.to_string()
                    }
                    Err(_) => l.to_owned(),
                }
            };
            let file: Vec<String> = read(&path).lines().map(strip).collect();
            let events: Vec<String> = events.iter().map(|l| strip(l)).collect();
            assert_eq!(events, file, "{renderer} {chain}");
            assert!(!events.is_empty());
        }
    }
}

/// `clear()` while other threads log: every record reaches the sink once, before or after
/// the clear; nothing hangs and the counts balance.
#[test]
fn sink_clear_and_reattach_while_threads_log() {
    within(30, "sink clear", || {
        let k = std::sync::Arc::new(
            Kolog::from_json_str(
                r#"{"queue": {"max_queue_size": 64}, "loggers": [{"name": "root", "handlers": [{"type": "null"}]}]}"#,
            )
            .unwrap(),
        );
        let sink = Sink::new();
        k.queue_manager().add_sink("root", sink.clone());
        let threads: Vec<_> = (0..2)
            .map(|t| {
                let log = k.logger(&format!("t{t}")).unwrap();
                std::thread::spawn(move || {
                    for i in 0..2000u32 {
                        info!(log, "r", t = t, i = i);
                    }
                })
            })
            .collect();
        let mut cleared = 0;
        for _ in 0..50 {
            cleared += sink.len();
            sink.clear();
            k.queue_manager().add_sink("root", sink.clone());
        }
        for t in threads {
            t.join().unwrap();
        }
        let rest = sink.len();
        let s = k.stats();
        assert_balanced(&s);
        assert_eq!(s.written, 4000, "{s:?}");
        assert!(cleared + rest <= 4000);
        let records = sink.records();
        assert_eq!(records.len(), rest);
    });
}
