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
