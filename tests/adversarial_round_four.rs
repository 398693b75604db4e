//! Fourth adversarial round: rotation and file modes at their edges, the memory-mapped
//! writer's final length, configuration files by path, sinks against their handlers, logger
//! names and levels, lifecycle guards, the async front end under a hand-written executor,
//! processors at their edges, and JSON values at their limits.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use kolog::{info, Kolog, Sink};

mod common;

use common::{assert_balanced, files, within};

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

/// A plain renderer writing only the event.
const EVENT_ONLY: &str = r#"{"type": "file_plain", "params": {"fmt": "%(event)s"}}"#;

fn file_handler(path: &Path, mode: &str) -> String {
    format!(
        r#""type": "file", "params": {{"filename": "{}", "mode": "{mode}"}}"#,
        path.display()
    )
}

/// Empties `path` as logrotate's `copytruncate` does, while a handler has it open.
fn truncate_behind_the_handler(path: &Path) {
    std::fs::OpenOptions::new()
        .write(true)
        .open(path)
        .unwrap()
        .set_len(0)
        .unwrap();
}

fn child_env() -> Option<String> {
    std::env::var("KOLOG_R4_CHILD").ok()
}

/// Re-runs this test binary on one test, as a child process with `KOLOG_R4_CHILD` set.
fn child(test: &str) -> std::process::Command {
    common::child_command(test, "KOLOG_R4_CHILD")
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
            EVENT_ONLY,
            "[]",
        );
        let log = k.logger("root").unwrap();
        for i in 0..3 {
            info!(log, "before", i = i);
        }
        k.flush();
        truncate_behind_the_handler(&path);
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

// ==== HELD UP ====

/// In the child: a 4 KiB file-size limit, a few lines, the file truncated by someone else,
/// then a record larger than the limit. Prints the file's bytes and the counts.
#[cfg(unix)]
#[test]
fn truncated_then_failing_child() {
    if child_env().as_deref() != Some("truncated_then_failing_child") {
        return;
    }
    let path = PathBuf::from(std::env::var("KOLOG_R4_PATH").unwrap());
    // SAFETY: plain libc calls with valid arguments; this child process is single-purpose.
    unsafe {
        libc::signal(libc::SIGXFSZ, libc::SIG_IGN);
        let lim = libc::rlimit {
            rlim_cur: 4096,
            rlim_max: libc::RLIM_INFINITY,
        };
        assert_eq!(libc::setrlimit(libc::RLIMIT_FSIZE, &lim), 0);
    }
    let k = kolog_with(&file_handler(&path, "a"), EVENT_ONLY, "[]");
    let log = k.logger("root").unwrap();
    for _ in 0..10 {
        info!(
            log,
            "a line of a hundred bytes, give or take a few of them, padded out with this text ...."
        );
    }
    k.flush();
    truncate_behind_the_handler(&path);
    let big = "x".repeat(6000);
    info!(log, "big", pad = big.as_str());
    k.flush();
    let s = k.stats();
    println!("COUNTS {} {}", s.written, s.failed);
    let bytes = std::fs::read(&path).unwrap();
    println!(
        "FILE {} {:?}",
        bytes.len(),
        String::from_utf8_lossy(&bytes[..bytes.len().min(40)])
    );
}

/// A batch that fails part-way after the file was truncated by someone else is cut back to
/// where the file ended, not to the length the handler remembered: no partial line, no NUL.
#[cfg(unix)]
#[test]
fn a_failed_write_after_an_external_truncation_leaves_no_partial_line() {
    let dir = temp_dir("trunc-fail");
    let path = dir.join("app.log");
    let out = child("truncated_then_failing_child")
        .env("KOLOG_R4_PATH", &path)
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{out:?}");
    assert!(stdout.contains("COUNTS 10 1"), "{stdout}");
    assert!(stdout.contains("FILE 0 \"\""), "{stdout}");
}

/// Two loggers with handlers of their own appending to one path from four threads: every
/// line whole, every record once, no NUL byte.
#[test]
fn many_loggers_appending_to_one_path() {
    let dir = temp_dir("shared-path");
    let path = dir.join("app.log");
    let handler = format!(
        r#"{{"type": "file", "params": {{"filename": "{}", "mode": "a"}},
            "renderer": {{"type": "file_plain", "params": {{"fmt": "%(name)s %(i)s"}}}}}}"#,
        path.display()
    );
    let k = std::sync::Arc::new(
        Kolog::from_json_str(&format!(
            r#"{{"loggers": [{{"name": "a", "handlers": [{handler}]}}, {{"name": "b", "handlers": [{handler}]}}]}}"#
        ))
        .unwrap(),
    );
    let threads: Vec<_> = ["a", "b", "a.x", "b.y"]
        .into_iter()
        .map(|name| {
            let log = k.logger(name).unwrap();
            std::thread::spawn(move || {
                for i in 0..2000u32 {
                    info!(log, "r", i = i);
                }
            })
        })
        .collect();
    for t in threads {
        t.join().unwrap();
    }
    let s = k.shutdown().unwrap();
    assert_eq!((s.written, s.failed), (8000, 0), "{s:?}");
    let bytes = std::fs::read(&path).unwrap();
    assert!(!bytes.contains(&0));
    let text = String::from_utf8(bytes).unwrap();
    let mut got: Vec<&str> = text.lines().collect();
    got.sort_unstable();
    let mut want: Vec<String> = ["a", "b", "a.x", "b.y"]
        .iter()
        .flat_map(|n| (0..2000).map(move |i| format!("{n} {i}")))
        .collect();
    want.sort_unstable();
    assert_eq!(got, want);
}

// ---------------------------------------------------------------------------------------------
// JSON values at their limits
// ---------------------------------------------------------------------------------------------

#[test]
fn json_values_at_their_limits_parse_back_exactly() {
    let dir = temp_dir("json-limits");
    let path = dir.join("a.log");
    for renderer in [
        r#"{"type": "file_json"}"#,
        r#"{"type": "file_json", "params": {"indentation": 3}}"#,
    ] {
        let k = kolog_with(&file_handler(&path, "w"), renderer, "[]");
        let log = k.logger("root").unwrap();
        let controls: String = (0u8..0x20)
            .map(char::from)
            .chain(['\u{7f}', '"', '\\', '\u{2028}', '\u{2029}', '\u{feff}'])
            .collect();
        info!(
            log,
            "",
            umax = u64::MAX,
            imin = i64::MIN,
            nan = f64::NAN,
            inf = f64::INFINITY,
            ninf = f64::NEG_INFINITY,
            nzero = -0.0f64,
            tiny = f64::MIN_POSITIVE,
            big = f64::MAX,
            f32v = 0.1f32,
            t = true,
            f = false,
            empty = "",
            ctl = controls.as_str(),
            u128max = u128::MAX,
            i128min = i128::MIN,
        );
        k.shutdown().unwrap();
        let text = read(&path);
        let values: Vec<serde_json::Value> = serde_json::Deserializer::from_str(&text)
            .into_iter()
            .collect::<Result<_, _>>()
            .unwrap_or_else(|e| panic!("{e}: {text}"));
        assert_eq!(values.len(), 1, "{text}");
        let v = &values[0];
        assert_eq!(v["umax"], serde_json::json!(u64::MAX), "{text}");
        assert_eq!(v["imin"], serde_json::json!(i64::MIN), "{text}");
        assert_eq!(v["event"], "", "{text}");
        assert_eq!(v["empty"], "", "{text}");
        assert_eq!(v["ctl"], controls.as_str(), "{text}");
        assert_eq!(v["t"], true);
        assert_eq!(v["f"], false);
        assert_eq!(v["big"].as_f64(), Some(f64::MAX), "{text}");
        assert_eq!(v["tiny"].as_f64(), Some(f64::MIN_POSITIVE), "{text}");
        if !renderer.contains("indentation") {
            assert_eq!(text.lines().count(), 1, "{text}");
        }
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
    let k = kolog_with(&file_handler(&path, "a"), EVENT_ONLY, "[]");
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

#[test]
fn the_mmap_writer_leaves_exactly_the_lines_after_shutdown_drop_and_a_panic() {
    for end in ["shutdown", "drop", "panic"] {
        let (bytes, _) = mmap_run(end);
        assert_eq!(
            String::from_utf8_lossy(&bytes),
            String::from_utf8_lossy(&expected_mmap_lines()),
            "{end}"
        );
    }
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

fn from_path_err(path: &Path) -> kolog::Error {
    let r = std::panic::catch_unwind(|| Kolog::from_path(path));
    match r {
        Ok(Ok(_)) => panic!("{} loaded", path.display()),
        Ok(Err(e)) => e,
        Err(_) => panic!("{} panicked", path.display()),
    }
}

#[test]
fn configuration_files_that_cannot_be_used_are_clear_errors() {
    let dir = temp_dir("from-path");
    let good = r#"{"loggers": [{"name": "root", "handlers": [{"type": "null"}]}]}"#;
    let parsing = "CONFIGURATION::LoggerFactory::PARSING::ERROR";
    let validation = "CONFIGURATION::LoggerFactory::VALIDATION::ERROR";
    let io = "CONFIGURATION::LoggerFactory::IO::ERROR";
    // Extensions are matched in any case (session 8): these load.
    for (name, bytes) in [("upper.JSON", good), ("upper.YML", "loggers: []")] {
        let path = dir.join(name);
        std::fs::write(&path, bytes).unwrap();
        assert!(kolog::Kolog::from_path(&path).is_ok(), "{name}");
    }
    let cases: Vec<(&str, Vec<u8>, &str)> = vec![
        ("noext", good.into(), validation),
        ("trailing.", good.into(), validation),
        (".json", good.into(), validation),
        ("empty.json", Vec::new(), parsing),
        (
            "latin1.json",
            b"{\"loggers\": [{\"name\": \"r\xe9\"}]}".to_vec(),
            validation,
        ),
        ("list.yaml", b"- a\n- b\n".to_vec(), validation),
        ("scalar.json", b"42".to_vec(), validation),
    ];
    for (name, bytes, code) in &cases {
        let path = dir.join(name);
        std::fs::write(&path, bytes).unwrap();
        let e = from_path_err(&path);
        assert_eq!(e.code(), *code, "{name}: {e}");
        assert_eq!(e.kind(), kolog::ErrorKind::Configuration, "{name}");
        assert!(!e.msg().is_empty());
    }
    // Missing, a directory (even one named like a config), a path through a regular file.
    std::fs::create_dir(dir.join("dir.json")).unwrap();
    for p in [
        dir.join("missing.json"),
        dir.join("dir.json"),
        dir.join("upper.JSON").join("x.json"),
    ] {
        let e = from_path_err(&p);
        assert_eq!(e.code(), io, "{}: {e}", p.display());
        assert!(
            std::error::Error::source(&e).is_some_and(|s| s.is::<std::io::Error>()),
            "{}",
            p.display()
        );
    }
}

/// A UTF-8 byte order mark (what Notepad writes) starts the file, not the document: JSON
/// and YAML files and strings with one load as without it.
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
    // The same text as a string (read by the program itself), for JSON as for YAML.
    let with_mark = format!("\u{feff}{good}");
    for k in [
        Kolog::from_json_str(&with_mark).unwrap(),
        Kolog::from_yaml_str(&with_mark).unwrap(),
    ] {
        assert_eq!(k.logger("x").unwrap().level(), kolog::Level::Warning);
    }
    let qm = kolog::QueueManager::start(kolog::QueueConfig::default()).unwrap();
    let factory = kolog::LoggerFactory::from_json_str(&with_mark, &qm).unwrap();
    assert_eq!(
        factory.get_logger("x").unwrap().level(),
        kolog::Level::Warning
    );
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
    let want: BTreeMap<String, String> = [
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
        let want: BTreeMap<String, String> = want
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
    let cause = common::creation_cause(&e);
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

// ---------------------------------------------------------------------------------------------
// Processors at their edges
// ---------------------------------------------------------------------------------------------

/// One JSON line per record for `root` with `processors`, after logging with `f`.
fn json_records(
    tag: &str,
    processors: &str,
    f: impl FnOnce(&kolog::Logger),
) -> Vec<serde_json::Value> {
    let dir = temp_dir(tag);
    let path = dir.join("a.log");
    let k = kolog_with(
        &file_handler(&path, "w"),
        r#"{"type": "file_json"}"#,
        processors,
    );
    f(&k.logger("root").unwrap());
    k.shutdown().unwrap();
    read(&path)
        .lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("{e}: {l}")))
        .collect()
}

/// `add_context_defaults` fills only what neither the record, nor bound context has; the
/// same statement logged through differently bound loggers gets each its own answer.
#[test]
fn context_defaults_never_override_bound_or_record_values() {
    let defaults = r#"[{"type": "add_context_defaults", "params": {"defaults": {"zone": "eu", "svc": "dflt", "n": 0}}}]"#;
    for chain in [
        defaults.to_owned(),
        // A non-static chain takes the general path.
        defaults.replace("}}]", r#"}}, {"type": "filter_markup"}]"#),
    ] {
        let recs = json_records("defaults", &chain, |log| {
            let bound = kolog::bind!(log, zone = "bound");
            for l in [log, &bound, log] {
                info!(l, "same statement", n = 7);
            }
        });
        let got: Vec<(String, String, i64, usize)> = recs
            .iter()
            .map(|r| {
                (
                    r["zone"].as_str().unwrap().to_owned(),
                    r["svc"].as_str().unwrap().to_owned(),
                    r["n"].as_i64().unwrap(),
                    r.as_object().unwrap().len(),
                )
            })
            .collect();
        let want = vec![
            ("eu".into(), "dflt".into(), 7, 7),
            ("bound".into(), "dflt".into(), 7, 7),
            ("eu".into(), "dflt".into(), 7, 7),
        ];
        assert_eq!(got, want, "{chain}");
    }
}

#[derive(Debug)]
struct Chained(&'static str, Option<Box<Chained>>);

impl std::fmt::Display for Chained {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.0)
    }
}

impl std::error::Error for Chained {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        self.1.as_deref().map(|e| e as _)
    }
}

/// An error that is its own source: an endless chain.
#[derive(Debug)]
struct Ouroboros;

impl std::fmt::Display for Ouroboros {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("again")
    }
}

impl std::error::Error for Ouroboros {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        Some(self)
    }
}

#[test]
fn dict_tracebacks_with_a_deep_chain_and_an_endless_one() {
    let recs = within(20, "endless chain", || {
        json_records("tracebacks", r#"[{"type": "dict_tracebacks"}]"#, |log| {
            let e = Chained(
                "top",
                Some(Box::new(Chained(
                    "mid",
                    Some(Box::new(Chained("root cause", None))),
                ))),
            );
            kolog::error!(log, "deep", error = &e);
            kolog::error!(log, "loop", error = &Ouroboros);
            kolog::error!(log, "renamed", exc_info = &e);
        })
    });
    assert_eq!(recs.len(), 3);
    assert_eq!(recs[0]["error"]["message"], "top");
    assert_eq!(
        recs[0]["error"]["chain"],
        serde_json::json!(["mid", "root cause"])
    );
    let lp = recs[1]["error"]["chain"].as_array().unwrap();
    assert_eq!(lp.len(), 64);
    assert!(lp.iter().all(|m| m == "again"));
    assert!(recs[2].get("exc_info").is_none());
    assert_eq!(recs[2]["exception"]["message"], "top");
}

/// `filter_markup` on nested and adjacent tags, in the event and in string fields; other
/// fields untouched.
#[test]
fn filter_markup_on_nested_markup() {
    let recs = json_records("markup", r#"[{"type": "filter_markup"}]"#, |log| {
        info!(
            log,
            "[bold][italic red]deep[/italic red][/bold][u]er[/u]",
            s = "[link=https://x.org/a?b=[c]]site[/link]",
            n = 3,
            plain = "arr[0] = [1, 2]",
        );
    });
    assert_eq!(recs[0]["event"], "deeper");
    assert_eq!(recs[0]["n"], 3);
    assert_eq!(recs[0]["plain"], "arr[0] = [1, 2]");
    // As Rich: `[link=..?b=` holds a `[`, so it is no tag; `[c]` and `[/link]` are.
    assert_eq!(recs[0]["s"], "[link=https://x.org/a?b=]site");
}

/// `filter_keys` removing a key the plain `fmt` names: the format renders it as empty, the
/// record is written, and the key does not come back as a trailing field. `event` and
/// `level` are the record's own, not fields: listing them removes nothing.
#[test]
fn filter_keys_removing_a_key_the_format_uses() {
    let dir = temp_dir("filter-fmt");
    let path = dir.join("a.log");
    let k = kolog_with(
        &file_handler(&path, "w"),
        r#"{"type": "file_plain", "params": {"fmt": "%(event)s|%(user)s|%(level)s"}}"#,
        r#"[{"type": "filter_keys", "params": {"keys": ["user", "level", "event"]}}]"#,
    );
    let log = k.logger("root").unwrap();
    info!(log, "hello", user = "ann", other = 1);
    let s = k.shutdown().unwrap();
    assert_eq!(s.written, 1);
    assert_eq!(read(&path), "hello||INFO other=1\n");
}

// ---------------------------------------------------------------------------------------------
// Levels and names
// ---------------------------------------------------------------------------------------------

#[test]
fn level_spellings_in_every_place_a_level_is_read() {
    let doc = |level: &str| {
        format!(
            r#"{{"default_level": "{level}", "loggers": [{{"name": "root", "level": "{level}",
                "handlers": [{{"type": "null", "processors": [{{"type": "filter_by_level", "params": {{"min_level": "{level}"}}}}]}}]}}]}}"#
        )
    };
    for (s, want) in [
        ("WARN", kolog::Level::Warning),
        ("warn", kolog::Level::Warning),
        ("wArNiNg", kolog::Level::Warning),
        ("Critical", kolog::Level::Critical),
        ("trace", kolog::Level::Trace),
    ] {
        let k = Kolog::from_json_str(&doc(s)).unwrap_or_else(|e| panic!("{s}: {e}"));
        assert_eq!(k.logger("root").unwrap().level(), want, "{s}");
    }
    for bad in [
        "", " INFO", "INFO ", "FATAL", "WARNINGS", "İNFO", "inf", "10", "NOTSET",
    ] {
        let e = Kolog::from_json_str(&doc(bad)).unwrap_err();
        assert_eq!(
            e.code(),
            "CONFIGURATION::LoggerFactory::VALIDATION::ERROR",
            "{bad:?}"
        );
        assert!(e.msg().contains("invalid level"), "{bad:?}: {e}");
    }
}

#[test]
fn logger_names_with_odd_segments_resolve_to_their_configured_ancestor() {
    let long = "x".repeat(10_000);
    let k = Kolog::from_json_str(&format!(
        r#"{{"loggers": [
            {{"name": "root", "level": "ERROR", "handlers": [{{"type": "null"}}]}},
            {{"name": "a", "level": "DEBUG", "handlers": [{{"type": "null"}}]}},
            {{"name": "ünï.cødé", "level": "WARN", "handlers": [{{"type": "null"}}]}},
            {{"name": "{long}", "level": "TRACE", "handlers": [{{"type": "null"}}]}}]}}"#
    ))
    .unwrap();
    for (name, want) in [
        ("a..b", kolog::Level::Debug),
        ("a.", kolog::Level::Debug),
        (".a", kolog::Level::Error),
        ("a.b.", kolog::Level::Debug),
        ("ab", kolog::Level::Error),
        ("ünï.cødé.x", kolog::Level::Warning),
        ("ünï", kolog::Level::Error),
        (".", kolog::Level::Error),
        ("..", kolog::Level::Error),
        (&format!("{long}.y"), kolog::Level::Trace),
        (&format!("{long}x"), kolog::Level::Error),
    ] {
        let log = k.logger(name).unwrap_or_else(|e| panic!("{name}: {e}"));
        assert_eq!(log.level(), want, "{name}");
        assert_eq!(log.name(), name);
    }
    for bad in ["a..b", ".a", "a.", ""] {
        let e = Kolog::from_json_str(&format!(
            r#"{{"loggers": [{{"name": "{bad}", "handlers": []}}]}}"#
        ))
        .unwrap_err();
        assert_eq!(
            e.code(),
            "CONFIGURATION::LoggerFactory::VALIDATION::ERROR",
            "{bad:?}"
        );
    }
}

// ---------------------------------------------------------------------------------------------
// Lifecycles and the async front end under a hand-written executor
// ---------------------------------------------------------------------------------------------

/// A waker that counts its wakes.
struct CountingWaker(std::sync::atomic::AtomicUsize);

impl std::task::Wake for CountingWaker {
    fn wake(self: std::sync::Arc<Self>) {
        self.0.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
    }
}

fn counting_waker() -> (std::sync::Arc<CountingWaker>, std::task::Waker) {
    let w = std::sync::Arc::new(CountingWaker(Default::default()));
    (w.clone(), std::task::Waker::from(w))
}

/// Futures on a full ring under `block`: the waker changes between polls, polls are spurious,
/// and a future polled again after `Ready` enqueues nothing more. The last registered waker
/// is woken; every record is written exactly once.
#[test]
fn ainfo_with_changing_wakers_spurious_polls_and_polls_after_ready() {
    use std::future::Future;
    use std::task::{Context, Poll};
    within(30, "hand-rolled executor", || {
        let dir = temp_dir("async-wakers");
        let path = dir.join("a.log");
        let k = Kolog::from_json_str(&format!(
            r#"{{"queue": {{"max_queue_size": 1, "backpressure_policy": "block"}}, "loggers": [{{"name": "root",
                "handlers": [{{"type": "file", "params": {{"filename": "{}", "mode": "w"}},
                "renderer": {{"type": "file_plain", "params": {{"fmt": "%(i)s"}}}}}}]}}]}}"#,
            path.display()
        ))
        .unwrap();
        let log = k.logger("root").unwrap();
        let pad = "p".repeat(300);
        let mut futures: Vec<_> = (0..200u32)
            .map(|i| Box::pin(kolog::ainfo!(log, "r", i = i, pad = pad.as_str())))
            .collect();
        let mut done = vec![false; futures.len()];
        let mut wakers = Vec::new();
        let mut rounds = 0;
        while done.iter().any(|d| !d) {
            rounds += 1;
            assert!(rounds < 1_000_000, "no progress");
            for (i, f) in futures.iter_mut().enumerate() {
                // A fresh waker on every poll; sometimes two polls back to back.
                for _ in 0..(1 + rounds % 2) {
                    let (count, waker) = counting_waker();
                    wakers.push(count);
                    let mut cx = Context::from_waker(&waker);
                    if f.as_mut().poll(&mut cx) == Poll::Ready(()) {
                        done[i] = true;
                    }
                }
            }
            std::thread::yield_now();
        }
        // Polling completed futures again does nothing.
        for f in &mut futures {
            let (_, waker) = counting_waker();
            assert_eq!(
                f.as_mut().poll(&mut Context::from_waker(&waker)),
                Poll::Ready(())
            );
        }
        drop(futures);
        let s = k.shutdown().unwrap();
        assert_eq!((s.enqueued, s.written, s.dropped), (200, 200, 0), "{s:?}");
        let text = read(&path);
        let lines: Vec<u32> = text
            .lines()
            .map(|l| {
                l.split(' ')
                    .next()
                    .unwrap()
                    .parse()
                    .unwrap_or_else(|_| panic!("{l:?} in {text}"))
            })
            .collect();
        assert_eq!(lines.len(), 200);
        let mut sorted = lines.clone();
        sorted.sort_unstable();
        assert_eq!(sorted, (0..200).collect::<Vec<_>>());
    });
}

/// Under `drop` and `drop_oldest`, an `ainfo!` future is ready at its first poll, however
/// full the ring is: it never waits.
#[test]
fn ainfo_never_waits_under_drop_policies() {
    use std::future::Future;
    use std::task::{Context, Poll};
    for policy in ["drop", "drop_oldest"] {
        let k = Kolog::from_json_str(&format!(
            r#"{{"queue": {{"max_queue_size": 1, "backpressure_policy": "{policy}"}}, "loggers": [{{"name": "root",
                "handlers": [{{"type": "null"}}]}}]}}"#
        ))
        .unwrap();
        let log = k.logger("root").unwrap();
        let (count, waker) = counting_waker();
        let mut cx = Context::from_waker(&waker);
        let pad = "p".repeat(500);
        for i in 0..5000u32 {
            let mut f = std::pin::pin!(kolog::ainfo!(log, "r", i = i, pad = pad.as_str()));
            assert_eq!(f.as_mut().poll(&mut cx), Poll::Ready(()), "{policy} {i}");
        }
        assert_eq!(count.0.load(std::sync::atomic::Ordering::SeqCst), 0);
        k.flush();
        let s = k.stats();
        assert_balanced(&s);
        assert_eq!(s.enqueued + s.dropped_full, 5000, "{policy} {s:?}");
        k.shutdown().unwrap();
    }
}

/// `info_life!` guards nested, moved to other threads and dropped there, and one dropped after
/// shutdown: exact Begin/End text, in order per guard, the late End counted as dropped.
#[test]
fn life_guards_nested_moved_and_outliving_shutdown() {
    let k =
        Kolog::from_json_str(r#"{"loggers": [{"name": "root", "handlers": [{"type": "null"}]}]}"#)
            .unwrap();
    let sink = Sink::new();
    k.queue_manager().add_sink("root", sink.clone());
    let log = k.logger("root").unwrap();
    let outer = kolog::info_life!(log, "outer", depth = 0);
    let inner = kolog::info_life!(outer, "inner");
    let moved = kolog::info_life!(log, "moved");
    std::thread::spawn(move || drop(moved)).join().unwrap();
    drop(inner);
    let late = kolog::info_life!(log, "late");
    drop(outer);
    // `End (<seconds with two decimals>): <name>`; the seconds themselves are not checked.
    let events: Vec<String> = sink
        .records()
        .iter()
        .map(|r| {
            let e = r.get("event").unwrap().as_str().unwrap();
            match e
                .strip_prefix("End (")
                .and_then(|rest| rest.split_once("): "))
            {
                Some((secs, name)) => {
                    let (whole, frac) = secs.split_once('.').unwrap();
                    assert!(
                        whole.bytes().all(|b| b.is_ascii_digit()) && !whole.is_empty(),
                        "{e}"
                    );
                    assert!(
                        frac.len() == 2 && frac.bytes().all(|b| b.is_ascii_digit()),
                        "{e}"
                    );
                    format!("End: {name}")
                }
                None => e.to_owned(),
            }
        })
        .collect();
    assert_eq!(
        events,
        [
            "Begin: outer",
            "Begin: inner",
            "Begin: moved",
            "End: moved",
            "End: inner",
            "Begin: late",
            "End: outer",
        ]
    );
    let depth: Vec<_> = sink
        .records()
        .iter()
        .map(|r| r.get("depth").cloned())
        .collect();
    assert_eq!(depth[0], Some(serde_json::json!(0)));
    assert_eq!(
        depth[6],
        Some(serde_json::json!(0)),
        "the End record carries the fields too"
    );
    let s = k.shutdown().unwrap();
    assert_eq!((s.written, s.dropped_shutdown), (7, 0), "{s:?}");
    drop(late);
    let s = k.stats();
    assert_eq!((s.written, s.dropped_shutdown), (7, 1), "{s:?}");
}
