//! A record's timestamp says what the system clock said when it was made, in a long-running
//! process too: after the clock is stepped (NTP correcting it, an administrator setting it, a
//! virtual machine resumed), and when it reads before 1970 or past what a timestamp can hold.
//!
//! The machine's clock is left alone: `kolog::set_wall_clock_offset` shifts the clock kolog
//! reads. That is process-wide state, so every scenario runs in a child process of its own.

mod common;

use std::path::Path;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use kolog::Kolog;

const CHILD: &str = "KOLOG_WALL_CLOCK_CHILD";
const DAY: i64 = 86_400;

fn is_child(test: &str) -> bool {
    std::env::var(CHILD).as_deref() == Ok(test)
}

/// Runs `test` alone in a child process (hang guard: 120 s), on the TSC clock where the
/// machine has one, and checks it succeeded.
fn run_in_child(test: &str) {
    let out = common::run_child(test, CHILD, &[], &["KOLOG_NO_TSC"], 120);
    check_child(&out);
}

/// Runs `test` alone in a child process (hang guard: 120 s) with `env`, and checks it
/// succeeded.
fn run_in_child_with(test: &str, env: &[(&str, &str)]) {
    let out = common::run_child(test, CHILD, env, &[], 120);
    check_child(&out);
}

fn check_child(out: &std::process::Output) {
    common::assert_child_succeeded(out);
    assert!(
        String::from_utf8_lossy(&out.stdout).contains("CHILD-DONE"),
        "the child did not run the scenario:\n{}",
        String::from_utf8_lossy(&out.stdout)
    );
}

fn system_secs() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64
}

/// Unix seconds of an RFC 3339 timestamp `YYYY-MM-DDTHH:MM:SS.ffffffZ` (Hinnant's
/// days_from_civil).
fn unix_secs(ts: &str) -> i64 {
    assert_eq!(ts.len(), 27, "{ts}");
    assert!(ts.ends_with('Z'), "{ts}");
    let n = |r: std::ops::Range<usize>| ts[r].parse::<i64>().unwrap();
    let (y, m, d) = (n(0..4), n(5..7), n(8..10));
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = (m + 9) % 12;
    let doy = (153 * mp + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    let days = era * 146_097 + doe - 719_468;
    days * DAY + n(11..13) * 3600 + n(14..16) * 60 + n(17..19)
}

/// Each line's `timestamp`.
fn timestamps(path: &Path) -> Vec<String> {
    common::json_lines(path)
        .iter()
        .map(|l| l["timestamp"].as_str().unwrap().to_owned())
        .collect()
}

/// Logs a record a few times a second until one carries a timestamp within a minute of
/// `expected` (Unix seconds, read after the record is written), for at most 30 s; returns the
/// number of records written then. Fails if none did.
fn log_until_stamped_near(k: &Kolog, path: &Path, expected: impl Fn() -> i64) -> usize {
    let log = k.logger("root").unwrap();
    let start = Instant::now();
    loop {
        kolog::info!(log, "probe");
        k.flush();
        let ts = timestamps(path);
        let last = ts.last().unwrap();
        if (unix_secs(last) - expected()).abs() < 60 {
            return ts.len();
        }
        assert!(
            start.elapsed() < Duration::from_secs(30),
            "30 s after the step, records are still stamped {last} (expected about {}, Unix seconds)",
            expected()
        );
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// The system clock stepped forward by a day and then back by two, while the process runs:
/// within about a second of each step records carry the new time (before the fix they kept
/// the clock's offset of process start for ever), every later record too, and the records
/// stay in the order they were made. Run with the TSC clock (where the machine has one) and
/// with `KOLOG_NO_TSC=1`.
#[test]
fn timestamps_follow_the_system_clock_when_it_is_stepped_forward_and_back() {
    const TEST: &str = "timestamps_follow_the_system_clock_when_it_is_stepped_forward_and_back";
    if !is_child(TEST) {
        run_in_child_with(TEST, &[("KOLOG_NO_TSC", "1")]);
        return run_in_child(TEST);
    }
    let dir = common::temp_dir(TEST);
    let path = dir.join("out.json");
    let k = Kolog::from_json_str(&common::root_json_file(&path)).unwrap();
    let log = k.logger("root").unwrap();
    kolog::info!(log, "before");
    k.flush();
    let first = timestamps(&path);
    assert_eq!(first.len(), 1);
    assert!(
        (unix_secs(&first[0]) - system_secs()).abs() < 60,
        "{first:?}"
    );

    kolog::set_wall_clock_offset(DAY);
    log_until_stamped_near(&k, &path, || system_secs() + DAY);
    for _ in 0..3 {
        kolog::info!(log, "after the step forward");
    }
    k.flush();
    let ts = timestamps(&path);
    for t in &ts[ts.len() - 3..] {
        assert!((unix_secs(t) - (system_secs() + DAY)).abs() < 60, "{t}");
    }

    kolog::set_wall_clock_offset(-DAY);
    log_until_stamped_near(&k, &path, || system_secs() - DAY);
    for _ in 0..3 {
        kolog::info!(log, "after the step back");
    }
    k.flush();
    let ts = timestamps(&path);
    for t in &ts[ts.len() - 3..] {
        assert!((unix_secs(t) - (system_secs() - DAY)).abs() < 60, "{t}");
    }
    let events: Vec<String> = common::json_lines(&path)
        .iter()
        .map(|l| l["event"].as_str().unwrap().to_owned())
        .collect();
    assert_eq!(events[0], "before");
    assert_eq!(
        events
            .iter()
            .filter(|e| *e == "after the step back")
            .count(),
        3
    );
    assert_eq!(events[events.len() - 3..], ["after the step back"; 3]);
    k.shutdown().unwrap();
    let _ = std::fs::remove_dir_all(&dir);
    println!("CHILD-DONE");
}

/// A system clock that reads before 1970 stamps records with the epoch itself (before the
/// fix: the epoch plus the time since the process started), in JSON and in plain `asctime`.
#[test]
fn a_system_clock_before_1970_stamps_records_with_the_epoch() {
    const TEST: &str = "a_system_clock_before_1970_stamps_records_with_the_epoch";
    if !is_child(TEST) {
        return run_in_child(TEST);
    }
    kolog::set_wall_clock_offset(-system_secs() - 10 * DAY);
    stamps_are(
        TEST,
        "1970-01-01T00:00:00.000000Z",
        "1970-01-01 00:00:00.000000",
    );
}

/// A system clock past 2554-07-21T23:34:33Z (the last nanosecond a `u64` holds) stamps
/// records with that time, still valid RFC 3339 (before the fix the nanoseconds wrapped
/// around, and the record said some time in the 1990s).
#[test]
fn a_system_clock_past_2554_stamps_records_with_the_last_representable_time() {
    const TEST: &str = "a_system_clock_past_2554_stamps_records_with_the_last_representable_time";
    if !is_child(TEST) {
        return run_in_child(TEST);
    }
    // The year 2600.
    kolog::set_wall_clock_offset(20_198_073_600 - system_secs());
    stamps_are(
        TEST,
        "2554-07-21T23:34:33.709551Z",
        "2554-07-21 23:34:33.709551",
    );
}

/// Logs three records with a clock set before the queue manager starts, and checks their JSON
/// `timestamp` and plain `asctime` (`datefmt` `%Y-%m-%d %H:%M:%S.%f`).
fn stamps_are(test: &str, json: &str, plain: &str) {
    let dir = common::temp_dir(test);
    let (json_path, plain_path) = (dir.join("out.json"), dir.join("out.log"));
    let k = Kolog::from_json_str(&format!(
        r#"{{"loggers": [{{"name": "root", "level": "INFO", "handlers": [
            {{"type": "file", "params": {{"filename": "{}"}}, "renderer": {{"type": "file_json"}}}},
            {{"type": "file", "params": {{"filename": "{}"}}, "renderer": {{"type": "file_plain", "params": {{"fmt": "%(asctime)s %(event)s", "datefmt": "%Y-%m-%d %H:%M:%S.%f"}}}}}}
        ]}}]}}"#,
        json_path.display(),
        plain_path.display()
    ))
    .unwrap();
    let log = k.logger("root").unwrap();
    for i in 0..3 {
        kolog::info!(log, "record", i = i);
        std::thread::sleep(Duration::from_millis(50));
    }
    k.shutdown().unwrap();
    assert_eq!(timestamps(&json_path), [json; 3]);
    assert_eq!(
        std::fs::read_to_string(&plain_path).unwrap(),
        format!("{plain} record i=0\n{plain} record i=1\n{plain} record i=2\n")
    );
    let _ = std::fs::remove_dir_all(&dir);
    println!("CHILD-DONE");
}

/// Time rotation when the system clock is stepped back a day: the interval is measured on the
/// monotonic clock, so the file rotates once per interval (no loop, no stall), and pruning
/// keeps the newest backups, not the ones with the latest stamps. Before the fix the backup
/// made after the step, stamped a day earlier than the others, sorted oldest and was deleted
/// at once: the records it held were lost.
#[test]
fn time_rotation_after_the_clock_is_stepped_back_keeps_the_newest_backups() {
    const TEST: &str = "time_rotation_after_the_clock_is_stepped_back_keeps_the_newest_backups";
    if !is_child(TEST) {
        return run_in_child(TEST);
    }
    let dir = common::temp_dir(TEST);
    let path = dir.join("app.log");
    let k = Kolog::from_json_str(&format!(
        r#"{{"loggers": [{{"name": "root", "level": "INFO", "handlers": [
            {{"type": "rotating_file", "params": {{"filename": "{}", "rotation_interval": 1, "backup_count": 2}}, "renderer": {{"type": "file_plain", "params": {{"fmt": "%(n)s"}}}}}}
        ]}}]}}"#,
        path.display()
    ))
    .unwrap();
    let log = k.logger("root").unwrap();
    let interval = Duration::from_millis(1_100);
    for event in ["a", "b", "c"] {
        kolog::info!(log, "r", n = event);
        k.flush();
        std::thread::sleep(interval);
    }
    kolog::set_wall_clock_offset(-DAY);
    for event in ["d", "e"] {
        kolog::info!(log, "r", n = event);
        k.flush();
        std::thread::sleep(interval);
    }
    k.shutdown().unwrap();
    let files = common::files(&dir);
    let contents: Vec<&str> = files.values().map(String::as_str).collect();
    assert_eq!(files.len(), 3, "{files:?}");
    assert_eq!(files["app.log"], "e\n", "{files:?}");
    let mut backups: Vec<&str> = contents.iter().copied().filter(|c| *c != "e\n").collect();
    backups.sort();
    assert_eq!(backups, ["c\n", "d\n"], "{files:?}");
    let _ = std::fs::remove_dir_all(&dir);
    println!("CHILD-DONE");
}
