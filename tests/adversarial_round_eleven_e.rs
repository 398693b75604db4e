//! Adversarial round eleven E: kolog against a hostile environment: a real full file system (a
//! small tmpfs) under the `file`, memory-mapped and `rotating_file` writers, and configuration
//! files that are not regular files (a FIFO, an endless device). Scenarios that could crash or
//! hang run in a child process of their own.

mod common;
use kolog::Kolog;
use std::future::Future as _;
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};

/// The variable telling a child which test it is.
const CHILD: &str = "KOLOG_R11E_CHILD";

fn is_child(test: &str) -> bool {
    std::env::var(CHILD).as_deref() == Ok(test)
}

/// Runs `test` alone in a child process with `env` set, failing after `secs` if it hangs;
/// asserts that it succeeded and got to its end (printed `CHILD-DONE`).
fn run_child_to_the_end(test: &str, env: &[(&str, &str)], secs: u64) {
    let out = common::run_child(test, CHILD, env, &[], secs);
    common::assert_child_succeeded(&out);
    assert!(
        String::from_utf8_lossy(&out.stdout).contains("CHILD-DONE"),
        "{test} {env:?}"
    );
}

/// A tmpfs of `kib` KiB mounted on a fresh directory, unmounted when dropped. `None` (with a
/// note printed) where mounting is not allowed.
struct Tmpfs(PathBuf);

impl Tmpfs {
    fn mount(tag: &str, kib: u32) -> Option<Tmpfs> {
        let dir = common::temp_dir(tag);
        let out = std::process::Command::new("mount")
            .args(["-t", "tmpfs", "-o", &format!("size={kib}k"), "tmpfs"])
            .arg(&dir)
            .output();
        match out {
            Ok(o) if o.status.success() => Some(Tmpfs(dir)),
            other => {
                println!("note: cannot mount a tmpfs here, case skipped: {other:?}");
                None
            }
        }
    }
}

impl Drop for Tmpfs {
    fn drop(&mut self) {
        let _ = std::process::Command::new("umount")
            .arg("-l")
            .arg(&self.0)
            .status();
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// Lines of exactly 128 bytes (the event, 127 bytes, and `\n`): 32 fill a 4 KiB page.
const LINE: usize = 128;

fn event(i: usize) -> String {
    format!("{i:06}{}", "x".repeat(LINE - 1 - 6))
}

/// A system writing each record's event alone on a line to `path` through `handler` (`file`
/// or `rotating_file`) with `params` added.
fn event_kolog(handler: &str, path: &Path, params: &str) -> Kolog {
    Kolog::from_json_str(&format!(
        r#"{{"loggers": [{{"name": "root", "level": "INFO", "handlers": [{{"type": "{handler}",
            "params": {{"filename": "{}", "mode": "a"{params}}},
            "renderer": {{"type": "file_plain", "params": {{"fmt": "%(p)s"}}}}}}]}}]}}"#,
        path.display()
    ))
    .unwrap()
}

/// Logs events `from..to`, each flushed alone (one record per batch, so how many fit is
/// exact).
fn log_each(k: &Kolog, from: usize, to: usize) {
    let log = k.logger("root").unwrap();
    for i in from..to {
        let e = event(i);
        kolog::info!(log, "e", p = e.as_str());
        k.flush();
    }
}

/// The lines of events `events`, with kolog's recovery report (`failed=N`, the event not in
/// the format) after the line of event `after`.
fn lines(events: impl IntoIterator<Item = usize>, recovery: Option<(usize, u64)>) -> String {
    let mut text = String::new();
    for i in events {
        text.push_str(&event(i));
        text.push('\n');
        if let Some((after, n)) = recovery {
            if i == after {
                text.push_str(&format!(" failed={n}\n"));
            }
        }
    }
    text
}

fn read(path: &Path) -> String {
    String::from_utf8(std::fs::read(path).unwrap()).unwrap()
}

/// On a 64 KiB file system with a 32 KiB filler file, a log file takes 256 lines; the next
/// are counted as failed and leave no partial line. Once the filler is deleted, logging
/// resumes on a new line, and kolog's report of the recovery follows the first record written. `writer` is `plain` or `mmap` (the `KOLOG_FILE_WRITER` switch).
fn disk_full_child(test: &str) {
    let dir = PathBuf::from(std::env::var("KOLOG_R11E_DIR").unwrap());
    let filler = dir.join("filler");
    std::fs::write(&filler, vec![b'f'; 32 * 1024]).unwrap();
    let path = dir.join("app.log");
    let k = event_kolog("file", &path, "");
    log_each(&k, 0, 300);
    let s = k.stats();
    common::assert_balanced(&s);
    assert_eq!((s.written, s.failed), (256, 44), "{test}: {s:?}");
    assert_eq!(read(&path), lines(0..256, None), "{test}");
    std::fs::remove_file(&filler).unwrap();
    log_each(&k, 300, 310);
    k.shutdown().unwrap();
    let s = k.stats();
    common::assert_balanced(&s);
    assert_eq!((s.written, s.failed), (266, 44), "{test}: {s:?}");
    assert_eq!(
        read(&path),
        lines((0..256).chain(300..310), Some((300, 44))),
        "{test}"
    );
    println!("CHILD-DONE");
}

fn run_disk_full(test: &str, writer: &str) {
    if is_child(test) {
        return disk_full_child(test);
    }
    let Some(fs) = Tmpfs::mount(test, 64) else {
        return;
    };
    let dir = fs.0.to_str().unwrap().to_owned();
    run_child_to_the_end(
        test,
        &[("KOLOG_R11E_DIR", &dir), ("KOLOG_FILE_WRITER", writer)],
        120,
    );
}

/// The `file` writer on a full file system: exact counts, whole lines, recovery.
#[test]
fn a_full_file_system_fails_records_exactly_and_recovers() {
    run_disk_full(
        "a_full_file_system_fails_records_exactly_and_recovers",
        "plain",
    );
}

/// The memory-mapped writer grew its file sparsely and wrote through the map: on a full
/// file system the first page with no block behind it was a SIGBUS that killed the process.
#[test]
fn the_mmap_writer_on_a_full_file_system_fails_records_instead_of_crashing() {
    run_disk_full(
        "the_mmap_writer_on_a_full_file_system_fails_records_instead_of_crashing",
        "mmap",
    );
}

/// A configuration path naming a FIFO nobody writes: `from_path` waited in `open` for a
/// writer, for ever. Now it reads what a writer sends (here nothing: an empty document).
#[test]
fn a_configuration_fifo_without_a_writer_is_an_error_not_a_hang() {
    let dir = common::temp_dir("r11e-fifo");
    let path = dir.join("kolog.json");
    let c = std::ffi::CString::new(path.to_str().unwrap()).unwrap();
    // SAFETY: `c` is a NUL-terminated path valid for the call.
    assert_eq!(unsafe { libc::mkfifo(c.as_ptr(), 0o600) }, 0);
    let p = path.clone();
    let e = common::within(30, "from_path on a FIFO", move || {
        Kolog::from_path(&p).expect_err("an empty document")
    });
    assert_eq!(
        e.code(),
        "CONFIGURATION::LoggerFactory::PARSING::ERROR",
        "{e}"
    );
    // A FIFO whose writer sends a document loads it. The writer may open the FIFO before or
    // after a read starts, and a read may end (empty, or cut off) before the writer is done:
    // the writer sends the document again until a read got it whole.
    let got = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let (p, done) = (path.clone(), got.clone());
    let writer = std::thread::spawn(move || {
        use std::io::Write as _;
        let doc = r#"{"loggers": [{"name": "root", "handlers": [{"type": "null"}]}]}"#;
        while !done.load(std::sync::atomic::Ordering::SeqCst) {
            if let Ok(mut f) = std::fs::OpenOptions::new().write(true).open(&p) {
                let _ = f.write_all(doc.as_bytes());
            }
        }
    });
    let p = path.clone();
    let k = common::within(30, "from_path on a FIFO with a writer", move || loop {
        match Kolog::from_path(&p) {
            Ok(k) => break k,
            Err(e) => assert_eq!(
                e.code(),
                "CONFIGURATION::LoggerFactory::PARSING::ERROR",
                "{e}"
            ),
        }
    });
    got.store(true, std::sync::atomic::Ordering::SeqCst);
    // Wake the writer if it waits in `open` for a reader.
    let _reader = std::fs::OpenOptions::new()
        .read(true)
        .custom_flags(libc::O_NONBLOCK)
        .open(&path)
        .unwrap();
    writer.join().unwrap();
    k.shutdown().unwrap();
}

/// A configuration path naming an endless device (`/dev/zero` behind a `.json` name): the
/// whole "file" was read into memory until the process ran out of it. Now a configuration
/// file larger than 16 MiB is refused, saying so. In a child with its address space capped,
/// so the unfixed code fails instead of eating the machine's memory.
#[test]
fn an_endless_configuration_file_is_refused_not_read_into_memory() {
    const TEST: &str = "an_endless_configuration_file_is_refused_not_read_into_memory";
    if is_child(TEST) {
        let limit = libc::rlimit {
            rlim_cur: 2 << 30,
            rlim_max: 2 << 30,
        };
        // SAFETY: `limit` is a valid rlimit for the call.
        assert_eq!(unsafe { libc::setrlimit(libc::RLIMIT_AS, &limit) }, 0);
        let dir = common::temp_dir("r11e-zero");
        let path = dir.join("zero.json");
        std::os::unix::fs::symlink("/dev/zero", &path).unwrap();
        let e = Kolog::from_path(&path).expect_err("refused");
        assert_eq!(
            e.code(),
            "CONFIGURATION::LoggerFactory::VALIDATION::ERROR",
            "{e}"
        );
        assert!(e.msg().contains("larger than 16 MiB"), "{e}");
        // A file just over the limit is refused the same way; one at it is read (and is not
        // a document).
        let big = dir.join("big.json");
        std::fs::write(&big, vec![b' '; (16 << 20) + 1]).unwrap();
        let e = Kolog::from_path(&big).expect_err("refused");
        assert!(e.msg().contains("larger than 16 MiB"), "{e}");
        std::fs::write(&big, vec![b' '; 16 << 20]).unwrap();
        let e = Kolog::from_path(&big).expect_err("empty document");
        assert_eq!(
            e.code(),
            "CONFIGURATION::LoggerFactory::PARSING::ERROR",
            "{e}"
        );
        println!("CHILD-DONE");
        return;
    }
    run_child_to_the_end(TEST, &[], 120);
}

/// A `rotating_file` handler filling a 64 KiB file system: files of 63 lines (two pages
/// each), so eight fill it exactly; the ninth file is started by the rotation and takes
/// nothing. Every later record is counted as failed, no file holds a partial line, and once
/// the oldest backup is deleted logging resumes (with kolog's report of the recovery).
#[test]
fn a_rotating_handler_filling_the_file_system_fails_records_exactly_and_recovers() {
    const TEST: &str =
        "a_rotating_handler_filling_the_file_system_fails_records_exactly_and_recovers";
    if is_child(TEST) {
        let dir = PathBuf::from(std::env::var("KOLOG_R11E_DIR").unwrap());
        let path = dir.join("app.log");
        let k = event_kolog(
            "rotating_file",
            &path,
            r#", "max_bytes": 8192, "backup_count": 20"#,
        );
        log_each(&k, 0, 600);
        let s = k.stats();
        common::assert_balanced(&s);
        assert_eq!((s.written, s.failed), (504, 96), "{s:?}");
        assert_eq!(read(&path), "");
        let backup = |j: usize| dir.join(format!("app.log.{j}"));
        for j in 1..=8 {
            let first = 63 * (8 - j);
            assert_eq!(
                read(&backup(j)),
                lines(first..first + 63, None),
                "app.log.{j}"
            );
        }
        assert!(!backup(9).exists());
        std::fs::remove_file(backup(8)).unwrap();
        log_each(&k, 600, 610);
        k.shutdown().unwrap();
        let s = k.stats();
        common::assert_balanced(&s);
        assert_eq!((s.written, s.failed), (514, 96), "{s:?}");
        assert_eq!(read(&path), lines(600..610, Some((600, 96))));
        println!("CHILD-DONE");
        return;
    }
    let Some(fs) = Tmpfs::mount(TEST, 64) else {
        return;
    };
    let dir = fs.0.to_str().unwrap().to_owned();
    run_child_to_the_end(TEST, &[("KOLOG_R11E_DIR", &dir)], 120);
}

/// A program that restores SIGPIPE's default action (CLI programs do, to end quietly under
/// `| head`) and logs to a named pipe whose reader goes away: kolog's write into the pipe
/// raised SIGPIPE, which killed the process. kolog's threads now get `EPIPE` instead: the
/// record is counted as failed and the process lives on.
#[test]
fn a_fifo_reader_going_away_does_not_kill_a_process_with_default_sigpipe() {
    const TEST: &str = "a_fifo_reader_going_away_does_not_kill_a_process_with_default_sigpipe";
    if is_child(TEST) {
        // SAFETY: setting a signal's disposition to its default has no preconditions.
        assert_ne!(
            unsafe { libc::signal(libc::SIGPIPE, libc::SIG_DFL) },
            libc::SIG_ERR
        );
        let dir = common::temp_dir("r11e-sigpipe");
        let path = dir.join("pipe.log");
        let c = std::ffi::CString::new(path.to_str().unwrap()).unwrap();
        // SAFETY: `c` is a NUL-terminated path valid for the call.
        assert_eq!(unsafe { libc::mkfifo(c.as_ptr(), 0o600) }, 0);
        let reader = std::fs::OpenOptions::new()
            .read(true)
            .custom_flags(libc::O_NONBLOCK)
            .open(&path)
            .unwrap();
        let k = event_kolog("file", &path, "");
        log_each(&k, 0, 1);
        assert_eq!(k.stats().written, 1);
        drop(reader);
        log_each(&k, 1, 3);
        k.shutdown().unwrap();
        let s = k.stats();
        common::assert_balanced(&s);
        assert_eq!((s.written, s.failed), (1, 2), "{s:?}");
        println!("CHILD-DONE");
        return;
    }
    for io_thread in ["1", "0"] {
        run_child_to_the_end(TEST, &[("KOLOG_IO_THREAD", io_thread)], 120);
    }
}

/// A process under a file-size limit (`ulimit -f`, systemd's `LimitFSIZE`) that keeps
/// SIGXFSZ's default action: the write past the limit raised SIGXFSZ, which killed the
/// process (with a core dump). kolog's threads now get `EFBIG` instead: the records past the
/// limit are counted as failed, the file holds whole lines up to it, and logging resumes once
/// the limit is raised. With the plain and the memory-mapped writer.
#[test]
fn a_file_size_limit_fails_records_instead_of_killing_the_process() {
    const TEST: &str = "a_file_size_limit_fails_records_instead_of_killing_the_process";
    if is_child(TEST) {
        let dir = common::temp_dir("r11e-fsize");
        let path = dir.join("app.log");
        let k = event_kolog("file", &path, "");
        let limit = |bytes: u64| {
            let l = libc::rlimit {
                rlim_cur: bytes,
                rlim_max: libc::RLIM_INFINITY,
            };
            // SAFETY: `l` is a valid rlimit for the call.
            assert_eq!(unsafe { libc::setrlimit(libc::RLIMIT_FSIZE, &l) }, 0);
        };
        limit(64 * 1024);
        log_each(&k, 0, 600);
        let s = k.stats();
        common::assert_balanced(&s);
        assert_eq!((s.written, s.failed), (512, 88), "{s:?}");
        assert_eq!(read(&path), lines(0..512, None));
        limit(libc::RLIM_INFINITY);
        log_each(&k, 600, 610);
        k.shutdown().unwrap();
        let s = k.stats();
        common::assert_balanced(&s);
        assert_eq!((s.written, s.failed), (522, 88), "{s:?}");
        assert_eq!(
            read(&path),
            lines((0..512).chain(600..610), Some((600, 88)))
        );
        println!("CHILD-DONE");
        return;
    }
    for writer in ["plain", "mmap"] {
        run_child_to_the_end(TEST, &[("KOLOG_FILE_WRITER", writer)], 120);
    }
}

/// A `rotating_file` handler whose backup names would be longer than the file system allows
/// (`NAME_MAX`, 255 bytes here): the file itself opened, but every rotation failed with
/// `ENAMETOOLONG`, so after the first file filled every record was lost (or, rotating by
/// time, one record per interval) while the file kept growing. Refused when the handler is
/// built, naming the backup name's length; a name whose backups just fit loads.
#[test]
fn a_rotating_file_whose_backup_names_are_too_long_is_refused_at_load() {
    let dir = common::temp_dir("r11e-long-backup");
    let doc = |name: &str, params: &str| {
        format!(
            r#"{{"loggers": [{{"name": "root", "handlers": [{{"type": "rotating_file",
                "params": {{"filename": "{}", {params}}}}}]}}]}}"#,
            dir.join(name).display()
        )
    };
    let cases = [
        // app.log.<n>: 1 + the digits of backup_count.
        (
            "a".repeat(253),
            r#""max_bytes": 300, "backup_count": 9"#,
            255,
            true,
        ),
        (
            "a".repeat(254),
            r#""max_bytes": 300, "backup_count": 9"#,
            256,
            false,
        ),
        (
            "a".repeat(252),
            r#""max_bytes": 300, "backup_count": 10"#,
            255,
            true,
        ),
        (
            "a".repeat(253),
            r#""max_bytes": 300, "backup_count": 10"#,
            256,
            false,
        ),
        // app.log.2024-01-01_12-00-00: 20 more.
        ("a".repeat(235), r#""rotation_interval": 60"#, 255, true),
        ("a".repeat(236), r#""rotation_interval": 60"#, 256, false),
        // Up to ten a second: app.log.<stamp>.9 at most.
        ("a".repeat(233), r#""rotation_interval": 0.1"#, 255, true),
        ("a".repeat(234), r#""rotation_interval": 0.1"#, 256, false),
        // Never rotating: any name the file system takes.
        (
            "a".repeat(255),
            r#""max_bytes": 0, "backup_count": 9"#,
            0,
            true,
        ),
        (
            "a".repeat(255),
            r#""max_bytes": 300, "backup_count": 0"#,
            0,
            true,
        ),
    ];
    for (name, params, longest, loads) in cases {
        match Kolog::from_json_str(&doc(&name, params)) {
            Ok(k) => {
                assert!(loads, "{} {params}: loaded", name.len());
                k.shutdown().unwrap();
            }
            Err(e) => {
                assert!(!loads, "{} {params}: {e}", name.len());
                let cause = common::creation_cause(&e);
                assert_eq!(
                    cause.code(),
                    "HANDLER::RotatingFileHandler::IO::ERROR",
                    "{cause}"
                );
                assert!(
                    cause.msg().contains(&format!(
                        "its backup names would be {longest} bytes long, more than the 255"
                    )),
                    "{cause}"
                );
            }
        }
    }
}

/// A `stream` handler whose stdout is a file on a full file system (`prog > /mnt/full/out`):
/// the write that fills it leaves part of a record, which a stream cannot take back. The
/// records written whole before it were counted as failed with it when they shared its
/// batch, and the first record after space came back was glued onto the partial one, one
/// line holding two records. Now the records written whole count as written, and the next
/// write starts with a newline ending the cut-off line, so every record after it starts a
/// line of its own.
#[test]
fn a_stream_on_a_full_file_system_counts_whole_records_and_starts_the_next_on_a_new_line() {
    const TEST: &str =
        "a_stream_on_a_full_file_system_counts_whole_records_and_starts_the_next_on_a_new_line";
    // Lines of 100 bytes: 81 fill 8,100 of the 8,192 bytes free, and 92 of the 82nd fit.
    let record = |i: usize| format!("{i:04}{}", "y".repeat(95));
    if is_child(TEST) {
        use std::os::unix::io::AsRawFd;
        let dir = PathBuf::from(std::env::var("KOLOG_R11E_DIR").unwrap());
        std::fs::write(dir.join("filler"), vec![b'f'; 8 * 1024]).unwrap();
        let out = std::fs::File::create(dir.join("out")).unwrap();
        // SAFETY: plain descriptor calls on descriptors this process holds open.
        let saved = unsafe { libc::dup(1) };
        // SAFETY: as above.
        assert_eq!(unsafe { libc::dup2(out.as_raw_fd(), 1) }, 1);
        let k = Kolog::from_json_str(
            r#"{"loggers": [{"name": "root", "handlers": [{"type": "stream",
                "params": {"use_stderr": false},
                "renderer": {"type": "file_plain", "params": {"fmt": "%(p)s"}}}]}]}"#,
        )
        .unwrap();
        let log = k.logger("root").unwrap();
        // Logged at once: the drainer takes them in batches of any size.
        for i in 0..100 {
            let r = record(i);
            kolog::info!(log, "e", p = r.as_str());
        }
        k.flush();
        let mid = k.stats();
        std::fs::remove_file(dir.join("filler")).unwrap();
        for i in 100..105 {
            let r = record(i);
            kolog::info!(log, "e", p = r.as_str());
            k.flush();
        }
        k.shutdown().unwrap();
        let end = k.stats();
        // SAFETY: as above.
        assert_eq!(unsafe { libc::dup2(saved, 1) }, 1);
        common::assert_balanced(&mid);
        assert_eq!((mid.written, mid.failed), (81, 19), "{mid:?}");
        common::assert_balanced(&end);
        assert_eq!((end.written, end.failed), (86, 19), "{end:?}");
        let mut expected = String::new();
        for i in 0..81 {
            expected.push_str(&record(i));
            expected.push('\n');
        }
        expected.push_str(&record(81)[..92]);
        expected.push('\n');
        expected.push_str(&record(100));
        expected.push_str("\n failed=19\n");
        for i in 101..105 {
            expected.push_str(&record(i));
            expected.push('\n');
        }
        assert_eq!(read(&dir.join("out")), expected);
        println!("CHILD-DONE");
        return;
    }
    let Some(fs) = Tmpfs::mount(TEST, 16) else {
        return;
    };
    let dir = fs.0.to_str().unwrap().to_owned();
    run_child_to_the_end(TEST, &[("KOLOG_R11E_DIR", &dir)], 120);
}

/// Log file names no file can ever have: one ending in `/` or `/.` (a directory's name,
/// whether or not the directory exists) and one longer than the file system allows
/// (`NAME_MAX`). They loaded, and every record then failed for ever (`EISDIR`, `ENOENT`,
/// `ENAMETOOLONG`); now they are refused when the handler is built, like a directory or a
/// name with a NUL byte. A name of exactly `NAME_MAX` bytes loads and is written.
#[test]
fn log_file_names_no_file_can_have_are_refused_at_load() {
    let dir = common::temp_dir("r11e-bad-names");
    let d = dir.display().to_string();
    let doc = |handler: &str, filename: &str| {
        format!(
            r#"{{"loggers": [{{"name": "root", "handlers": [{{"type": "{handler}",
                "params": {{"filename": "{filename}"}}}}]}}]}}"#
        )
    };
    for (handler, service) in [
        ("file", "HANDLER::FileHandler::IO::ERROR"),
        ("rotating_file", "HANDLER::RotatingFileHandler::IO::ERROR"),
    ] {
        for (name, says) in [
            (format!("{d}/x.log/"), "it names a directory"),
            (format!("{d}/x.log/."), "it names a directory"),
            (format!("{d}/new/"), "it names a directory"),
            (
                format!("{d}/{}", "z".repeat(256)),
                "the file name is 256 bytes long, more than the 255",
            ),
        ] {
            let e =
                Kolog::from_json_str(&doc(handler, &name)).expect_err(&format!("{handler} {name}"));
            let cause = common::creation_cause(&e);
            assert_eq!(cause.code(), service, "{cause}");
            assert!(cause.msg().contains(says), "{cause}");
        }
        let path = dir.join("z".repeat(255));
        let k = Kolog::from_json_str(&doc(handler, path.to_str().unwrap())).unwrap();
        kolog::info!(k.logger("root").unwrap(), "fits");
        k.shutdown().unwrap();
        assert_eq!((k.stats().written, k.stats().failed), (1, 0));
        assert!(read(&path).contains("fits"));
        std::fs::remove_file(&path).unwrap();
    }
}

/// A stdout pipe in non-blocking mode (set by the program's event loop, or inherited from a
/// parent such as Node.js that shares the pipe) that fills because its reader is slow: the
/// write failed with `EAGAIN` and the records were counted as failed, though the reader
/// would have taken them a moment later. The stream handler's I/O thread now waits for the
/// pipe to take bytes again (as a blocking write does): every record arrives, none fails.
#[test]
fn a_non_blocking_stdout_pipe_that_fills_loses_no_record() {
    const TEST: &str = "a_non_blocking_stdout_pipe_that_fills_loses_no_record";
    if is_child(TEST) {
        use std::io::Read as _;
        use std::os::unix::io::FromRawFd;
        let mut fds = [0; 2];
        // SAFETY: plain descriptor calls; `fds` has room for the two descriptors.
        unsafe {
            assert_eq!(libc::pipe(fds.as_mut_ptr()), 0);
            let flags = libc::fcntl(fds[1], libc::F_GETFL);
            assert_eq!(
                libc::fcntl(fds[1], libc::F_SETFL, flags | libc::O_NONBLOCK),
                0
            );
        }
        // SAFETY: as above.
        let saved = unsafe { libc::dup(1) };
        // SAFETY: as above.
        assert_eq!(unsafe { libc::dup2(fds[1], 1) }, 1);
        let read_end = fds[0];
        // The reader starts only once the pipe is (nearly) full.
        let reader = std::thread::spawn(move || {
            loop {
                let mut queued: libc::c_int = 0;
                // SAFETY: FIONREAD stores the bytes queued in the pipe into `queued`.
                assert_eq!(
                    unsafe { libc::ioctl(read_end, libc::FIONREAD, &mut queued) },
                    0
                );
                if queued >= 60_000 {
                    break;
                }
                std::thread::sleep(std::time::Duration::from_millis(1));
            }
            // SAFETY: the read end is this thread's alone from here on.
            let mut f = unsafe { std::fs::File::from_raw_fd(read_end) };
            let mut text = String::new();
            f.read_to_string(&mut text).unwrap();
            text
        });
        let k = Kolog::from_json_str(
            r#"{"loggers": [{"name": "root", "handlers": [{"type": "stream",
                "params": {"use_stderr": false},
                "renderer": {"type": "file_plain", "params": {"fmt": "%(p)s"}}}]}]}"#,
        )
        .unwrap();
        let log = k.logger("root").unwrap();
        for i in 0..1000 {
            let r = format!("{i:04}{}", "y".repeat(195));
            kolog::info!(log, "e", p = r.as_str());
        }
        k.shutdown().unwrap();
        let s = k.stats();
        // Close every write end: the reader sees the end of the pipe.
        // SAFETY: as above.
        unsafe {
            assert_eq!(libc::dup2(saved, 1), 1);
            libc::close(fds[1]);
        }
        let text = reader.join().unwrap();
        common::assert_balanced(&s);
        assert_eq!((s.written, s.failed), (1000, 0), "{s:?}");
        let expected: String = (0..1000)
            .map(|i| format!("{i:04}{}\n", "y".repeat(195)))
            .collect();
        assert!(text == expected, "{} bytes read", text.len());
        println!("CHILD-DONE");
        return;
    }
    run_child_to_the_end(TEST, &[], 120);
}

/// A process forked after kolog started (a daemon forking, a pre-fork server, a test
/// harness): the child has the system's memory but not its drainer or I/O threads. `flush()`
/// waited for ever, a `Block` producer with a full ring parked for ever, an `ainfo!` future
/// stayed `Pending` for ever, and `shutdown()` (or dropping the `Kolog`) panicked in std's
/// thread join. Now the first of these (or `stats()`) finds the process is not the one that
/// started the system and closes it there: nothing waits, what the child logs is counted as
/// dropped (the counts balance), `shutdown()` is a `LIFECYCLE` warning, and the parent goes
/// on writing. Each of the six first steps in a child of its own; a hang there ends it with
/// SIGALRM.
#[test]
fn a_forked_child_neither_hangs_nor_panics_and_the_parent_keeps_writing() {
    const TEST: &str = "a_forked_child_neither_hangs_nor_panics_and_the_parent_keeps_writing";
    if is_child(TEST) {
        let dir = common::temp_dir("r11e-fork");
        let path = dir.join("app.log");
        let k = Kolog::from_json_str(&format!(
            r#"{{"queue": {{"max_queue_size": 8, "backpressure_policy": "block"}},
                "loggers": [{{"name": "root", "handlers": [{{"type": "file",
                "params": {{"filename": "{}"}},
                "renderer": {{"type": "file_plain", "params": {{"fmt": "%(event)s"}}}}}}]}}]}}"#,
            path.display()
        ))
        .unwrap();
        let log = k.logger("root").unwrap();
        kolog::info!(log, "parent before");
        k.flush();
        for (i, first) in ["async", "block", "flush", "stats", "factory", "shutdown"]
            .into_iter()
            .enumerate()
        {
            // SAFETY: the child only logs through kolog, writes a file and ends with _exit.
            let pid = unsafe { libc::fork() };
            assert!(pid >= 0);
            if pid == 0 {
                // SAFETY: alarm has no preconditions.
                unsafe { libc::alarm(30) };
                let outcome = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
                    forked_child_steps(&k, &log, first, i as u64 + 1)
                }));
                let code = match outcome {
                    Ok(()) => 0,
                    Err(p) => {
                        let msg = p
                            .downcast_ref::<String>()
                            .cloned()
                            .or_else(|| p.downcast_ref::<&str>().map(|s| s.to_string()))
                            .unwrap_or_default();
                        let _ = std::fs::write(dir.join(format!("{first}.panic")), msg);
                        1
                    }
                };
                // SAFETY: ends the forked child without running the parent's exit handlers.
                unsafe { libc::_exit(code) };
            }
            let mut status = 0;
            // SAFETY: `pid` is this process's child.
            assert_eq!(unsafe { libc::waitpid(pid, &mut status, 0) }, pid);
            let panic = std::fs::read_to_string(dir.join(format!("{first}.panic")));
            assert!(
                libc::WIFEXITED(status) && libc::WEXITSTATUS(status) == 0,
                "{first}: status {status} (signal {}), {panic:?}",
                libc::WTERMSIG(status)
            );
            kolog::info!(log, "parent after");
            k.flush();
        }
        k.shutdown().unwrap();
        let s = k.stats();
        common::assert_balanced(&s);
        assert_eq!((s.enqueued, s.written), (7, 7), "{s:?}");
        assert_eq!(
            read(&path),
            format!("parent before\n{}", "parent after\n".repeat(6))
        );
        println!("CHILD-DONE");
        return;
    }
    run_child_to_the_end(TEST, &[], 300);
}

/// In a forked child: `first` (what finds the fork), then everything else. The parent had
/// written `written` records; the child's 401 are all dropped.
fn forked_child_steps(k: &Kolog, log: &kolog::Logger, first: &str, written: u64) {
    let steps = ["async", "block", "flush", "stats", "factory", "shutdown"];
    let order = std::iter::once(first).chain(steps.into_iter().filter(|s| *s != first));
    for step in order {
        match step {
            // Futures polled once each: a full ring with no drainer left one pending.
            "async" => {
                let mut cx = std::task::Context::from_waker(std::task::Waker::noop());
                for _ in 0..200 {
                    let mut f = std::pin::pin!(kolog::ainfo!(log, "child async"));
                    assert!(f.as_mut().poll(&mut cx).is_ready(), "a pending ainfo!");
                }
            }
            // Far more than the ring holds: a parked producer waited for ever.
            "block" => {
                for _ in 0..200 {
                    kolog::info!(log, "child block");
                }
            }
            "flush" => {
                kolog::info!(log, "child flush");
                k.flush();
            }
            "stats" => common::assert_balanced(&k.stats()),
            // A new configuration: refused (the system is closed here), taking no lock a
            // thread of the parent may have held at the fork.
            "factory" => {
                let Err(e) = kolog::LoggerFactory::from_json_str(
                    r#"{"loggers": [{"name": "root", "handlers": [{"type": "null"}]}]}"#,
                    k.queue_manager(),
                ) else {
                    panic!("a factory built in a forked child");
                };
                assert_eq!(e.code(), "QUEUE::QueueManager::LIFECYCLE::WARNING", "{e}");
            }
            "shutdown" => {
                let e = k.shutdown().expect_err("a lifecycle warning");
                assert_eq!(e.code(), "QUEUE::QueueManager::LIFECYCLE::WARNING", "{e}");
            }
            other => unreachable!("{other}"),
        }
    }
    let s = k.stats();
    common::assert_balanced(&s);
    assert_eq!((s.written, s.dropped_shutdown), (written, 401), "{s:?}");
}
