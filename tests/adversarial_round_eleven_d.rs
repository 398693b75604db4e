//! Adversarial round eleven D: several factories on one queue manager (which handlers are
//! closed when, which internal logger reports), file identity (a file spelled another way or
//! reached through a symlink), and rotating files whose live file is moved away, whose
//! rotation fails, or whose backups cannot be removed. Exact counts throughout; run also with
//! `KOLOG_IO_THREAD=0` (writes on the drainer thread).

mod common;

use std::path::{Path, PathBuf};
use std::time::Duration;

use common::{assert_balanced, temp_dir, within};
use kolog::{info, LoggerFactory, QueueConfig, QueueManager};

/// A plain renderer writing only the event (and the fields as ` key=value`).
const EVENT_ONLY: &str = r#"{"type": "file_plain", "params": {"fmt": "%(event)s"}}"#;

fn read(path: &Path) -> String {
    std::fs::read_to_string(path).unwrap_or_default()
}

/// A document with one logger `name` and one `file` handler on `path` in `mode`.
fn file_doc(name: &str, path: &Path, mode: &str) -> String {
    format!(
        r#"{{"loggers": [{{"name": "{name}", "level": "INFO", "handlers": [{{"type": "file",
            "params": {{"filename": "{}", "mode": "{mode}"}}, "renderer": {EVENT_ONLY}}}]}}]}}"#,
        path.display()
    )
}

/// Two flushes: a dropped factory's route goes with the last logger core, which the drainer
/// frees after a pass; the next pass closes the route's handlers.
fn settle(qm: &QueueManager) {
    qm.flush();
    qm.flush();
}

/// A queue manager whose rings are 4 KiB: a 64 KiB record is dropped (oversize), which the
/// drainer reports through an internal `kolog` logger about a second later.
fn small_rings() -> QueueManager {
    QueueManager::start(QueueConfig {
        max_queue_size: 8,
        ..QueueConfig::default()
    })
    .unwrap()
}

fn factory(doc: &str, qm: &QueueManager) -> LoggerFactory {
    LoggerFactory::from_json_str(doc, qm).unwrap()
}

/// Whether this process has a descriptor open on `path` (Linux: `/proc/self/fd`).
#[cfg(target_os = "linux")]
fn is_open(path: &Path) -> bool {
    let target = std::fs::canonicalize(path).unwrap();
    std::fs::read_dir("/proc/self/fd")
        .unwrap()
        .filter_map(|e| std::fs::read_link(e.ok()?.path()).ok())
        .any(|l| l == target)
}

#[cfg(not(target_os = "linux"))]
fn is_open(_path: &Path) -> bool {
    false
}

// ---------------------------------------------------------------------------------------------
// Several factories: which handlers are closed, which internal logger reports
// ---------------------------------------------------------------------------------------------

/// Two factories with a `root` logger each (so each has an internal `kolog` logger) on one
/// queue manager. The newer one is dropped first: its handlers are closed (its file complete
/// and no longer open), and a drop report made afterwards goes to the older factory's
/// handlers, which are still alive. Then the older one is dropped: its file is closed too.
#[test]
fn a_newer_factory_dropped_first_closes_its_handlers_and_the_older_one_reports() {
    let dir = temp_dir("r11d-newer-dropped");
    let (a, b) = (dir.join("a.log"), dir.join("b.log"));
    let qm = small_rings();
    let older = factory(&file_doc("root", &a, "w"), &qm);
    let newer = factory(&file_doc("root", &b, "w"), &qm);
    let (la, lb) = (
        older.get_logger("app").unwrap(),
        newer.get_logger("app").unwrap(),
    );
    for i in 0..3u64 {
        info!(la, "a", i);
        info!(lb, "b", i);
    }
    qm.flush();
    assert!(is_open(&a) || cfg!(not(target_os = "linux")));
    drop((newer, lb));
    settle(&qm);
    assert_eq!(read(&b), "b i=0\nb i=1\nb i=2\n");
    assert!(!is_open(&b), "the dropped factory's file is still open");
    // A drop (a record larger than the ring) reported by the drainer within a second or so:
    // through the older factory's `kolog` logger (its `root`).
    let big = "x".repeat(64 * 1024);
    info!(la, "too big", big = big.as_str());
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    while !read(&a).contains("dropped 1 records") && std::time::Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(50));
        qm.flush();
    }
    let got = read(&a);
    assert!(
        got.starts_with("a i=0\na i=1\na i=2\n"),
        "{}",
        &got[..got.len().min(500)]
    );
    assert!(
        got.contains("dropped 1 records since") && got.contains("dropped_oversize=1"),
        "the drop report must reach the live factory's handlers: {got}"
    );
    assert_eq!(
        read(&b),
        "b i=0\nb i=1\nb i=2\n",
        "nothing more in the closed file"
    );
    drop((older, la));
    settle(&qm);
    assert!(!is_open(&a), "the older factory's file is still open");
    let s = qm.shutdown().unwrap();
    assert_eq!(
        (s.enqueued, s.written, s.failed, s.dropped_oversize),
        (6, 6, 0, 1),
        "{s:?}"
    );
    let _ = std::fs::remove_dir_all(dir);
}

/// With both factories alive, the newest one's `kolog` logger reports; the older factory's
/// handlers keep writing; dropping the older one first closes its file and leaves the newer
/// one working.
#[test]
fn an_older_factory_dropped_first_closes_its_handlers_and_the_newer_one_keeps_working() {
    let dir = temp_dir("r11d-older-dropped");
    let (a, b) = (dir.join("a.log"), dir.join("b.log"));
    let qm = small_rings();
    let older = factory(&file_doc("root", &a, "w"), &qm);
    let newer = factory(&file_doc("root", &b, "w"), &qm);
    let (la, lb) = (
        older.get_logger("app").unwrap(),
        newer.get_logger("app").unwrap(),
    );
    info!(la, "a1");
    info!(lb, "b1");
    drop((older, la));
    settle(&qm);
    assert_eq!(read(&a), "a1\n");
    assert!(!is_open(&a));
    let big = "x".repeat(64 * 1024);
    info!(lb, "too big", big = big.as_str());
    info!(lb, "b2");
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    while !read(&b).contains("dropped 1 records") && std::time::Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(50));
        qm.flush();
    }
    let got = read(&b);
    assert!(
        got.starts_with("b1\nb2\n"),
        "{}",
        &got[..got.len().min(500)]
    );
    assert!(got.contains("dropped 1 records since"), "{got}");
    assert_eq!(read(&a), "a1\n");
    drop((newer, lb));
    settle(&qm);
    assert!(!is_open(&b));
    let s = qm.shutdown().unwrap();
    assert_eq!((s.enqueued, s.written, s.failed), (3, 3, 0), "{s:?}");
    let _ = std::fs::remove_dir_all(dir);
}

/// Many factories with a `root` logger built and dropped in turn on one queue manager (a
/// configuration reloaded again and again): every dropped factory's file is closed, none is
/// kept open by the drainer's internal logger.
#[test]
fn reloading_a_configuration_with_a_root_logger_closes_every_old_file() {
    let dir = temp_dir("r11d-reload-root");
    let qm = QueueManager::start(QueueConfig::default()).unwrap();
    let mut paths = Vec::new();
    for i in 0..20u64 {
        let path = dir.join(format!("app{i}.log"));
        let f = factory(&file_doc("root", &path, "a"), &qm);
        info!(f.get_logger("app").unwrap(), "line", i);
        paths.push(path);
    }
    qm.flush();
    qm.flush();
    for (i, p) in paths.iter().enumerate() {
        assert_eq!(read(p), format!("line i={i}\n"));
        assert!(!is_open(p), "{} is still open", p.display());
    }
    let s = qm.shutdown().unwrap();
    assert_eq!((s.enqueued, s.written, s.failed), (20, 20, 0), "{s:?}");
    let _ = std::fs::remove_dir_all(dir);
}

/// Factories built while another thread shuts the queue manager down: each is either refused
/// with the lifecycle warning (and its `"w"` file is not emptied) or built with its handlers
/// installed, so what was logged through it before the shutdown is written; nothing hangs.
#[test]
fn factories_built_while_the_queue_manager_shuts_down_are_refused_or_complete() {
    let dir = temp_dir("r11d-factory-vs-shutdown");
    for round in 0..30u64 {
        let path = dir.join(format!("r{round}.log"));
        std::fs::write(&path, "old\n").unwrap();
        let qm = std::sync::Arc::new(QueueManager::start(QueueConfig::default()).unwrap());
        let shutter = {
            let qm = qm.clone();
            std::thread::spawn(move || {
                std::thread::sleep(Duration::from_micros(round * 37 % 400));
                qm.shutdown().unwrap()
            })
        };
        let doc = file_doc("root", &path, "w");
        let qm2 = qm.clone();
        let built = within(30, "factory", move || {
            LoggerFactory::from_json_str(&doc, &qm2)
        });
        match built {
            Err(e) => {
                assert_eq!(e.code(), "QUEUE::QueueManager::LIFECYCLE::WARNING");
                assert_eq!(read(&path), "old\n", "a refused factory emptied its file");
            }
            Ok(f) => {
                let log = f.get_logger("app").unwrap();
                info!(log, "maybe");
                drop((f, log));
            }
        }
        let report = within(30, "join", move || shutter.join().unwrap());
        let s = qm.stats();
        assert_balanced(&s);
        assert_eq!(s.enqueued, s.written, "{s:?} {report:?}");
        // What was written is in the file.
        let got = read(&path);
        assert!(
            got == "old\n" || got.is_empty() || got == "maybe\n",
            "round {round}: {got:?} {s:?}"
        );
        assert_eq!(
            got == "maybe\n",
            s.written == 1,
            "round {round}: {got:?} {s:?}"
        );
        assert!(!is_open(&path));
    }
    let _ = std::fs::remove_dir_all(dir);
}

// ---------------------------------------------------------------------------------------------
// File identity: a later factory does not empty a live file however it is spelled; once the
// handler writing it has closed, it does
// ---------------------------------------------------------------------------------------------

/// `path` relative to the current directory (`../../tmp/...`), for the relative spelling.
fn relative_to_cwd(path: &Path) -> PathBuf {
    let cwd = std::fs::canonicalize(std::env::current_dir().unwrap()).unwrap();
    let path = std::fs::canonicalize(path.parent().unwrap())
        .unwrap()
        .join(path.file_name().unwrap());
    let mut rel = PathBuf::new();
    let mut base = cwd.as_path();
    while !path.starts_with(base) {
        rel.push("..");
        base = base.parent().unwrap();
    }
    rel.join(path.strip_prefix(base).unwrap())
}

#[test]
fn a_live_file_spelled_another_way_or_through_a_symlink_is_not_emptied_by_a_later_factory() {
    let dir = temp_dir("r11d-spelling");
    let sub = dir.join("logs");
    std::fs::create_dir(&sub).unwrap();
    let path = sub.join("app.log");
    #[cfg(unix)]
    {
        std::os::unix::fs::symlink(&path, dir.join("link.log")).unwrap();
        std::os::unix::fs::symlink(&sub, dir.join("linkdir")).unwrap();
    }
    let mut spellings = vec![
        (
            "dotdot",
            dir.join("logs").join("..").join("logs").join("app.log"),
        ),
        ("dot", sub.join(".").join("app.log")),
        ("relative", relative_to_cwd(&path)),
    ];
    if cfg!(unix) {
        spellings.push(("symlink to the file", dir.join("link.log")));
        spellings.push((
            "symlink to the directory",
            dir.join("linkdir").join("app.log"),
        ));
    }
    for (what, other) in spellings {
        for file_exists in [true, false] {
            let _ = std::fs::remove_file(&path);
            let qm = QueueManager::start(QueueConfig::default()).unwrap();
            let first = factory(&file_doc("first", &path, "a"), &qm);
            let l1 = first.get_logger("first").unwrap();
            if file_exists {
                info!(l1, "one");
                qm.flush();
            }
            let second = factory(&file_doc("second", &other, "w"), &qm);
            let l2 = second.get_logger("second").unwrap();
            info!(l2, "two");
            qm.flush();
            info!(l1, "three");
            qm.flush();
            let expected = if file_exists {
                "one\ntwo\nthree\n"
            } else {
                "two\nthree\n"
            };
            assert_eq!(
                read(&path),
                expected,
                "{what} ({}), the file existed: {file_exists}",
                other.display()
            );
            let s = qm.shutdown().unwrap();
            assert_eq!(s.failed, 0, "{s:?}");
        }
    }
    let _ = std::fs::remove_dir_all(dir);
}

/// The set of files the system writes shrinks when their handlers close: a later factory with
/// `"w"` on the file of a factory that was dropped (its handler closed) empties it as
/// configured; while another factory's handler still writes the file, it does not.
#[test]
fn a_later_factory_truncates_a_file_whose_handlers_have_all_closed() {
    let dir = temp_dir("r11d-closed-truncates");
    let path = dir.join("app.log");
    let qm = QueueManager::start(QueueConfig::default()).unwrap();
    let a = factory(&file_doc("a", &path, "w"), &qm);
    info!(a.get_logger("a").unwrap(), "from a");
    qm.flush();
    drop(a);
    settle(&qm);
    assert_eq!(read(&path), "from a\n");
    assert!(!is_open(&path));
    let b = factory(&file_doc("b", &path, "w"), &qm);
    assert_eq!(read(&path), "", "B must start with an empty file");
    info!(b.get_logger("b").unwrap(), "from b");
    // C appends to the same file; when B goes, C still writes it: D does not empty it.
    let c = factory(&file_doc("c", &dir.join(".").join("app.log"), "a"), &qm);
    info!(c.get_logger("c").unwrap(), "from c");
    qm.flush();
    drop(b);
    settle(&qm);
    let d = factory(&file_doc("d", &path, "w"), &qm);
    assert_eq!(read(&path), "from b\nfrom c\n", "C still writes the file");
    info!(d.get_logger("d").unwrap(), "from d");
    qm.flush();
    drop((c, d));
    settle(&qm);
    assert_eq!(read(&path), "from b\nfrom c\nfrom d\n");
    let e = factory(&file_doc("e", &path, "w"), &qm);
    assert_eq!(read(&path), "", "every handler of the file has closed");
    drop(e);
    let s = qm.shutdown().unwrap();
    assert_eq!((s.enqueued, s.written, s.failed), (4, 4, 0), "{s:?}");
    let _ = std::fs::remove_dir_all(dir);
}

/// The same for a rotating handler (it writes its file under a new inode after each
/// rotation).
#[test]
fn a_later_factory_truncates_a_rotated_file_once_its_handler_closed_and_not_before() {
    let dir = temp_dir("r11d-rotating-closed");
    let path = dir.join("r.log");
    let doc = |name: &str, mode: &str| {
        format!(
            r#"{{"loggers": [{{"name": "{name}", "handlers": [{{"type": "rotating_file",
                "params": {{"filename": "{}", "mode": "{mode}", "max_bytes": 40, "backup_count": 2}},
                "renderer": {EVENT_ONLY}}}]}}]}}"#,
            path.display()
        )
    };
    let qm = QueueManager::start(QueueConfig::default()).unwrap();
    let a = factory(&doc("a", "a"), &qm);
    let la = a.get_logger("a").unwrap();
    for i in 0..5u64 {
        info!(la, "record from a", i);
        qm.flush();
    }
    let live = read(&path);
    assert!(!live.is_empty());
    // A still writes (through `la`): a later "w" factory on the file leaves it alone.
    let b = factory(
        &file_doc(
            "b",
            &dir.join("..").join(dir.file_name().unwrap()).join("r.log"),
            "w",
        ),
        &qm,
    );
    assert_eq!(read(&path), live);
    drop(b);
    drop((a, la));
    settle(&qm);
    let c = factory(&doc("c", "w"), &qm);
    assert_eq!(read(&path), "");
    drop(c);
    qm.shutdown().unwrap();
    let _ = std::fs::remove_dir_all(dir);
}

// ---------------------------------------------------------------------------------------------
// Rotating files
// ---------------------------------------------------------------------------------------------

fn rotating_doc(path: &Path, max_bytes: u64, backup_count: u32, interval: Option<f64>) -> String {
    let interval = interval.map_or("null".to_owned(), |s| s.to_string());
    format!(
        r#"{{"loggers": [{{"name": "root", "handlers": [{{"type": "rotating_file",
            "params": {{"filename": "{}", "max_bytes": {max_bytes}, "backup_count": {backup_count},
                        "rotation_interval": {interval}}},
            "renderer": {EVENT_ONLY}}}]}}]}}"#,
        path.display()
    )
}

/// Every `n=<i>` line in the files of `dir`, as numbers.
fn numbers_in(dir: &Path) -> Vec<u64> {
    let mut got: Vec<u64> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap())
        .filter(|e| e.file_type().unwrap().is_file())
        .flat_map(|e| {
            read(&e.path())
                .lines()
                .map(str::to_owned)
                .collect::<Vec<_>>()
        })
        .filter_map(|l| l.split("n=").nth(1)?.parse().ok())
        .collect();
    got.sort_unstable();
    got
}

/// The live file is moved away by someone else (logrotate without `copytruncate`): records
/// already written stay in the moved file; the handler notices (at its next rotation check or
/// within a second) and writes the next records into a new live file. Nothing fails, nothing
/// is lost, no record is in two files.
#[test]
fn a_rotating_handlers_live_file_moved_away_is_replaced_and_nothing_is_lost() {
    for rotate_soon in [false, true] {
        let dir = temp_dir(&format!("r11d-moved-{rotate_soon}"));
        let path = dir.join("app.log");
        // Size rotation soon after the move (before the once-a-second check), or none.
        let max_bytes = if rotate_soon { 200 } else { 0 };
        let k = kolog::Kolog::from_json_str(&rotating_doc(&path, max_bytes, 50, None)).unwrap();
        let log = k.logger("app").unwrap();
        let mut n = 0u64;
        for _ in 0..3 {
            info!(log, "before", n);
            n += 1;
        }
        k.flush();
        std::fs::rename(&path, dir.join("moved.log")).unwrap();
        if !rotate_soon {
            std::thread::sleep(Duration::from_millis(1100));
        }
        for _ in 0..40 {
            info!(log, "after", n);
            n += 1;
            k.flush();
        }
        let s = k.stats();
        assert_eq!((s.written, s.failed), (n, 0), "{s:?}");
        assert_eq!(
            numbers_in(&dir),
            (0..n).collect::<Vec<_>>(),
            "rotate_soon={rotate_soon}"
        );
        let live = read(&path);
        assert!(live.contains(&format!("n={}", n - 1)), "{live}");
        if !rotate_soon {
            let moved = read(&dir.join("moved.log"));
            assert_eq!(moved, "before n=0\nbefore n=1\nbefore n=2\n");
            assert_eq!(live.lines().count(), 40);
        }
        k.shutdown().unwrap();
        let _ = std::fs::remove_dir_all(dir);
    }
}

/// The live file deleted by someone else: after the check (at most a second, or the next
/// rotation) records go to a new live file; nothing fails.
#[test]
fn a_rotating_handlers_live_file_deleted_is_recreated() {
    for rotate_soon in [false, true] {
        let dir = temp_dir(&format!("r11d-deleted-{rotate_soon}"));
        let path = dir.join("app.log");
        let max_bytes = if rotate_soon { 200 } else { 0 };
        let k = kolog::Kolog::from_json_str(&rotating_doc(&path, max_bytes, 50, None)).unwrap();
        let log = k.logger("app").unwrap();
        info!(log, "before", n = 0u64);
        k.flush();
        std::fs::remove_file(&path).unwrap();
        if !rotate_soon {
            std::thread::sleep(Duration::from_millis(1100));
        }
        for n in 1..=40u64 {
            info!(log, "after", n);
            k.flush();
        }
        let s = k.stats();
        assert_eq!((s.written, s.failed), (41, 0), "{s:?}");
        let got = numbers_in(&dir);
        if rotate_soon {
            // Those written into the deleted file before the rotation check (when it would
            // have reached `max_bytes`, 200 bytes of ~10-byte lines) are gone with it; from
            // the check on, every record is in a file.
            let first = got[0];
            assert!((2..=20).contains(&first), "{got:?}");
            assert_eq!(got, (first..=40).collect::<Vec<_>>());
        } else {
            assert_eq!(got, (1..=40).collect::<Vec<_>>());
        }
        k.shutdown().unwrap();
        let _ = std::fs::remove_dir_all(dir);
    }
}

const CHILD: &str = "KOLOG_R11D_CHILD";

/// Runs `test` alone in a child process (same `KOLOG_IO_THREAD`), returns its stderr.
fn run_child(test: &str) -> String {
    let out = common::run_child(test, CHILD, &[], &[], 120);
    common::assert_child_succeeded(&out);
    String::from_utf8_lossy(&out.stderr).into_owned()
}

fn is_child(test: &str) -> bool {
    std::env::var(CHILD).is_ok_and(|c| c == test)
}

/// A size rotation that cannot happen (the backup's name is taken by a directory, and with
/// `backup_count` 1 there is no other): the records keep going into the live file past
/// `max_bytes`, none fails, the failure is reported once on stderr, and rotation is tried
/// again about a second later; once the obstacle is gone, it rotates.
#[test]
fn child_a_failing_rotation_keeps_writing_into_the_live_file() {
    const TEST: &str = "child_a_failing_rotation_keeps_writing_into_the_live_file";
    if !is_child(TEST) {
        return;
    }
    let dir = temp_dir("r11d-rotation-fails");
    let path = dir.join("app.log");
    let blocker = dir.join("app.log.1");
    std::fs::create_dir(&blocker).unwrap();
    std::fs::write(blocker.join("keep"), "x").unwrap();
    let k = kolog::Kolog::from_json_str(&rotating_doc(&path, 200, 1, None)).unwrap();
    let log = k.logger("app").unwrap();
    for n in 0..50u64 {
        info!(log, "record that keeps going", n);
        k.flush();
    }
    let s = k.stats();
    assert_eq!((s.written, s.failed), (50, 0), "{s:?}");
    assert_eq!(numbers_in(&dir), (0..50).collect::<Vec<_>>());
    assert_eq!(read(&path).lines().count(), 50, "all in the live file");
    assert!(blocker.is_dir());
    // The obstacle goes; a second later, rotation works again.
    std::fs::remove_dir_all(&blocker).unwrap();
    std::thread::sleep(Duration::from_millis(1200));
    for n in 50..60u64 {
        info!(log, "record that keeps going", n);
        k.flush();
    }
    let s = k.stats();
    assert_eq!((s.written, s.failed), (60, 0), "{s:?}");
    assert!(blocker.is_file(), "rotated once the name was free");
    assert!(std::fs::metadata(&path).unwrap().len() < 200);
    // Backup count 1: the oldest records were pruned; the newest are all there, in order.
    let got = numbers_in(&dir);
    assert_eq!(got.last(), Some(&59));
    assert_eq!(got, (got[0]..60).collect::<Vec<_>>());
    k.shutdown().unwrap();
    let _ = std::fs::remove_dir_all(dir);
}

#[test]
fn a_failing_rotation_keeps_writing_into_the_live_file_and_is_reported_once() {
    let stderr = run_child("child_a_failing_rotation_keeps_writing_into_the_live_file");
    assert_eq!(
        stderr.matches("could not rotate").count(),
        1,
        "reported once: {stderr}"
    );
    assert_eq!(stderr.matches("failed to write").count(), 0, "{stderr}");
}

/// A backup that cannot be removed or moved (a non-empty directory under a backup's name):
/// it is left alone and reported once, the handler's own backups rotate around it and are
/// pruned to `backup_count` names, nothing fails.
#[test]
fn child_an_unremovable_backup_is_skipped_and_the_others_are_pruned() {
    const TEST: &str = "child_an_unremovable_backup_is_skipped_and_the_others_are_pruned";
    if !is_child(TEST) {
        return;
    }
    for blocked in [1u32, 2, 3] {
        let dir = temp_dir(&format!("r11d-unremovable-{blocked}"));
        let path = dir.join("app.log");
        let blocker = dir.join(format!("app.log.{blocked}"));
        std::fs::create_dir(&blocker).unwrap();
        std::fs::write(blocker.join("keep"), "x").unwrap();
        let k = kolog::Kolog::from_json_str(&rotating_doc(&path, 100, 3, None)).unwrap();
        let log = k.logger("app").unwrap();
        for n in 0..60u64 {
            info!(log, "record", n);
            k.flush();
        }
        let s = k.stats();
        assert_eq!((s.written, s.failed), (60, 0), "blocked {blocked}: {s:?}");
        let mut names: Vec<String> = std::fs::read_dir(&dir)
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect();
        names.sort();
        assert_eq!(
            names,
            ["app.log", "app.log.1", "app.log.2", "app.log.3"],
            "blocked {blocked}"
        );
        assert!(blocker.is_dir());
        // Two backups beside the directory, and the live file: the newest records, in order.
        let got = numbers_in(&dir);
        assert_eq!(got.last(), Some(&59), "blocked {blocked}");
        assert_eq!(got, (got[0]..60).collect::<Vec<_>>(), "blocked {blocked}");
        // Newest first: the live file, then the backups by number, skipping the directory.
        let mut order = vec![path.clone()];
        for i in 1..=3 {
            if i != blocked {
                order.push(dir.join(format!("app.log.{i}")));
            }
        }
        let firsts: Vec<u64> = order
            .iter()
            .map(|p| {
                read(p)
                    .lines()
                    .next()
                    .unwrap()
                    .split("n=")
                    .nth(1)
                    .unwrap()
                    .parse()
                    .unwrap()
            })
            .collect();
        assert!(
            firsts.windows(2).all(|w| w[0] > w[1]),
            "blocked {blocked}: {firsts:?}"
        );
        k.shutdown().unwrap();
        let _ = std::fs::remove_dir_all(dir);
    }
    // Time rotation: an unremovable directory named like the oldest timed backup is skipped;
    // the handler's own backups are still pruned to `backup_count`.
    let dir = temp_dir("r11d-unremovable-timed");
    let path = dir.join("app.log");
    let blocker = dir.join("app.log.2000-01-01_00-00-00");
    std::fs::create_dir(&blocker).unwrap();
    std::fs::write(blocker.join("keep"), "x").unwrap();
    let k = kolog::Kolog::from_json_str(&rotating_doc(&path, 0, 2, Some(0.2))).unwrap();
    let log = k.logger("app").unwrap();
    let mut n = 0u64;
    let until = std::time::Instant::now() + Duration::from_millis(1500);
    while std::time::Instant::now() < until {
        info!(log, "timed", n);
        n += 1;
        k.flush();
        std::thread::sleep(Duration::from_millis(20));
    }
    let s = k.stats();
    assert_eq!((s.written, s.failed), (n, 0), "{s:?}");
    let timed: Vec<String> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap())
        .filter(|e| e.file_type().unwrap().is_file())
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .filter(|n| n.starts_with("app.log."))
        .collect();
    assert_eq!(timed.len(), 2, "{timed:?}");
    assert!(blocker.is_dir());
    let got = numbers_in(&dir);
    assert_eq!(got.last(), Some(&(n - 1)));
    assert_eq!(got, (got[0]..n).collect::<Vec<_>>());
    k.shutdown().unwrap();
    let _ = std::fs::remove_dir_all(dir);
}

#[test]
fn an_unremovable_backup_is_skipped_reported_once_and_the_others_are_pruned() {
    let stderr = run_child("child_an_unremovable_backup_is_skipped_and_the_others_are_pruned");
    // Once per directory (three size cases, one time case).
    assert_eq!(
        stderr.matches("cannot remove or move").count(),
        4,
        "{stderr}"
    );
    assert_eq!(stderr.matches("could not rotate").count(), 0, "{stderr}");
    assert_eq!(stderr.matches("failed to write").count(), 0, "{stderr}");
}

/// Within one document, a rotating handler and another handler on the same file reached
/// through a symlink are refused like two spellings of one name.
#[cfg(unix)]
#[test]
fn a_rotating_handler_sharing_its_file_through_a_symlink_is_refused() {
    let dir = temp_dir("r11d-symlink-shared");
    let path = dir.join("r.log");
    std::fs::write(&path, "").unwrap();
    std::os::unix::fs::symlink(&path, dir.join("link.log")).unwrap();
    let doc = format!(
        r#"{{"loggers": [
            {{"name": "root", "handlers": [{{"type": "rotating_file",
                "params": {{"filename": "{}", "max_bytes": 100, "backup_count": 2}}}}]}},
            {{"name": "b", "handlers": [{{"type": "file", "params": {{"filename": "{}"}}}}]}}]}}"#,
        path.display(),
        dir.join("link.log").display()
    );
    let e = kolog::Kolog::from_json_str(&doc).unwrap_err();
    let cause = common::creation_cause(&e);
    assert_eq!(
        cause.code(),
        "HANDLER::RotatingFileHandler::VALIDATION::ERROR"
    );
    assert!(
        cause.msg().contains("`root`[0]") && cause.msg().contains("`b`[0]"),
        "{}",
        cause.msg()
    );
    let _ = std::fs::remove_dir_all(dir);
}

/// Threads building factories (all writing one file, each with a `root` logger), logging
/// through them and dropping them, while the queue manager is shut down: nothing hangs, the
/// counts balance, every record counted as written is in the file exactly once, and no
/// descriptor on the file is left open.
#[test]
fn factories_built_logged_and_dropped_on_threads_racing_shutdown() {
    let dir = temp_dir("r11d-factory-threads");
    let path = dir.join("app.log");
    for round in 0..5u64 {
        let _ = std::fs::remove_file(&path);
        let qm = std::sync::Arc::new(QueueManager::start(QueueConfig::default()).unwrap());
        let threads: Vec<_> = (0..4u64)
            .map(|t| {
                let (qm, path) = (qm.clone(), path.clone());
                std::thread::spawn(move || {
                    let mut logged = 0u64;
                    for f in 0..50u64 {
                        let Ok(factory) =
                            LoggerFactory::from_json_str(&file_doc("root", &path, "a"), &qm)
                        else {
                            break;
                        };
                        let log = factory.get_logger("app").unwrap();
                        for i in 0..5u64 {
                            info!(log, "r", t, f, i);
                            logged += 1;
                        }
                    }
                    logged
                })
            })
            .collect();
        std::thread::sleep(Duration::from_millis(20 + round * 15));
        let qm2 = qm.clone();
        within(30, "shutdown", move || qm2.shutdown().unwrap());
        let logged: u64 = within(30, "join", move || {
            threads.into_iter().map(|t| t.join().unwrap()).sum()
        });
        let s = qm.stats();
        assert_balanced(&s);
        assert_eq!(s.enqueued + s.dropped_shutdown, logged, "{s:?}");
        assert_eq!((s.failed, s.written), (0, s.enqueued), "{s:?}");
        let content = read(&path);
        let mut lines: Vec<&str> = content.lines().collect();
        assert_eq!(lines.len() as u64, s.written, "{s:?}");
        lines.sort_unstable();
        lines.dedup();
        assert_eq!(lines.len() as u64, s.written, "a line written twice");
        assert!(!is_open(&path));
    }
    let _ = std::fs::remove_dir_all(dir);
}

/// The directory of a rotating handler's live file disappears (with its backups) and comes
/// back: the records logged meanwhile are counted as failed (once per record), the next ones
/// go into a new live file with the recovery report, and size rotation works again.
#[test]
fn a_rotating_handlers_vanished_directory_is_counted_then_writing_and_rotating_resume() {
    let dir = temp_dir("r11d-rotating-vanished");
    let logs = dir.join("logs");
    std::fs::create_dir(&logs).unwrap();
    let path = logs.join("app.log");
    let k = kolog::Kolog::from_json_str(&rotating_doc(&path, 100, 2, None)).unwrap();
    let log = k.logger("app").unwrap();
    for n in 0..10u64 {
        info!(log, "one", n);
        k.flush();
    }
    std::fs::remove_dir_all(&logs).unwrap();
    std::thread::sleep(Duration::from_millis(1100));
    for n in 10..20u64 {
        info!(log, "lost", n);
        k.flush();
    }
    let s = k.stats();
    assert_eq!((s.written, s.failed), (10, 10), "{s:?}");
    std::fs::create_dir(&logs).unwrap();
    for n in 20..40u64 {
        info!(log, "back", n);
        k.flush();
    }
    let s = k.stats();
    assert_eq!((s.written, s.failed), (30, 10), "{s:?}");
    let all: String = ["app.log.2", "app.log.1", "app.log"]
        .iter()
        .map(|n| read(&logs.join(n)))
        .collect();
    assert!(
        all.contains("recovered after 10 records failed to write"),
        "{all}"
    );
    let got = numbers_in(&logs);
    assert_eq!(got.last(), Some(&39));
    assert_eq!(got, (got[0]..40).collect::<Vec<_>>(), "{all}");
    assert!(logs.join("app.log.2").exists(), "rotation works again");
    k.shutdown().unwrap();
    let _ = std::fs::remove_dir_all(dir);
}
