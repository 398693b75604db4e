//! `Kolog::default()`: logger `root`, INFO, plain text to stderr (no colour when stderr is not
//! a terminal). The test re-runs itself as a child process and reads the child's stderr.

use std::process::Command;

const CHILD: &str = "KOLOG_DEFAULT_CHILD";

#[test]
fn child_logs_through_the_embedded_default() {
    if std::env::var_os(CHILD).is_none() {
        return;
    }
    let kolog = kolog::Kolog::default();
    let log = kolog.logger("app.db").unwrap();
    kolog::debug!(log, "below the default level");
    kolog::info!(log, "hello", user_id = 7, note = "two words");
    kolog::warning!(log, "careful", ok = false);
    let report = kolog.shutdown().unwrap();
    assert_eq!(report.written, 2);
}

#[test]
fn default_writes_plain_lines_to_stderr() {
    let out = Command::new(std::env::current_exe().unwrap())
        .args([
            "--exact",
            "child_logs_through_the_embedded_default",
            "--nocapture",
            "--test-threads=1",
        ])
        .env(CHILD, "1")
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let stderr = String::from_utf8(out.stderr).unwrap();
    let lines: Vec<&str> = stderr.lines().filter(|l| l.contains("[app.db]")).collect();
    assert_eq!(lines.len(), 2, "{stderr}");
    // [2026-11-25 04:40:00] [INFO    ] [app.db]: hello user_id=7 note="two words"
    let date = &lines[0][1..20];
    assert_eq!(date.len(), 19);
    assert!(
        date.as_bytes()[4] == b'-' && date.as_bytes()[10] == b' ' && date.as_bytes()[13] == b':',
        "{date}"
    );
    assert_eq!(
        &lines[0][20..],
        "] [INFO    ] [app.db]: hello user_id=7 note=\"two words\""
    );
    assert_eq!(&lines[1][20..], "] [WARNING ] [app.db]: careful ok=false");
    assert!(
        !stderr.contains('\x1b'),
        "no colour when stderr is not a terminal"
    );
}
