//! Helpers shared by the integration tests.
#![allow(dead_code)]

use kolog::config::{HandlerConfig, HandlerKind, LoggerConfig, RendererConfig, RendererKind};
use kolog::{Level, LoggingSystemConfig, QueueConfig};

/// A logger config with one handler.
pub fn logger(
    name: &str,
    level: Option<Level>,
    kind: HandlerKind,
    renderer: RendererKind,
) -> LoggerConfig {
    LoggerConfig {
        name: name.into(),
        level,
        handlers: vec![HandlerConfig {
            kind,
            renderer: RendererConfig::new(renderer),
            processors: vec![],
        }],
        context: Default::default(),
    }
}

/// A system with the given loggers and queue.
pub fn system(loggers: Vec<LoggerConfig>, queue: QueueConfig) -> LoggingSystemConfig {
    LoggingSystemConfig {
        loggers,
        default_level: Level::Info,
        queue,
    }
}

/// A unique temporary directory for one test.
pub fn temp_dir(test: &str) -> std::path::PathBuf {
    let dir = std::env::temp_dir().join(format!("kolog-test-{}-{}", test, std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// Every file in `dir`, name → content.
pub fn files(dir: &std::path::Path) -> std::collections::BTreeMap<String, String> {
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

/// A JSON configuration with one `root` logger at INFO writing JSON lines to `path`.
#[allow(dead_code)]
pub fn root_json_file(path: &std::path::Path) -> String {
    format!(
        r#"{{"loggers": [
            {{"name": "root", "level": "INFO", "handlers": [{{"type": "file", "params": {{"filename": "{}", "mode": "w"}}, "renderer": {{"type": "file_json"}}}}]}}
        ]}}"#,
        path.display()
    )
}

/// [`root_json_file`] plus a `ctx` logger at INFO with bound context `a = "bound"` and
/// `env = "prod"` (keys that collide with the bridge tests' records), writing to `ctx`.
#[allow(dead_code)]
pub fn root_and_ctx_json_files(root: &std::path::Path, ctx: &std::path::Path) -> String {
    format!(
        r#"{{"loggers": [
            {{"name": "root", "level": "INFO", "handlers": [{{"type": "file", "params": {{"filename": "{}", "mode": "w"}}, "renderer": {{"type": "file_json"}}}}]}},
            {{"name": "ctx", "level": "INFO", "context": {{"a": "bound", "env": "prod"}}, "handlers": [{{"type": "file", "params": {{"filename": "{}", "mode": "w"}}, "renderer": {{"type": "file_json"}}}}]}}
        ]}}"#,
        root.display(),
        ctx.display()
    )
}

/// The file's lines, each parsed as JSON.
#[allow(dead_code)]
pub fn json_lines(path: &std::path::Path) -> Vec<serde_json::Value> {
    std::fs::read_to_string(path)
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect()
}

/// The seed README's JSON example, verbatim apart from the file path.
pub fn seed_json(path: &str) -> String {
    r#"{
  "loggers": [
    {
      "name": "root",
      "level": "DEBUG",
      "handlers": [
        {
          "type": "file",
          "params": {
            "filename": "PATH",
            "mode": "wb",
            "encoding": "utf-8",
            "override_existing": false
          },
          "renderer": {
            "type": "file_json",
            "params": {
              "fmt": "%(asctime)s - %(level)s - %(event)s",
              "datefmt": "%Y-%m-%d %H:%M:%S",
              "indentation": 2
            }
          },
          "processors": [
            {
              "type": "add_callsite_params",
              "params": {
                "parameters": ["filename", "lineno", "funcName"]
              }
            },
            {
              "type": "filter_by_level",
              "params": {
                "min_level": "INFO"
              }
            }
          ]
        }
      ],
      "context": {
        "app": "myapp",
        "env": "production"
      }
    }
  ],
  "default_level": "INFO"
}"#
    .replace("PATH", path)
}

/// The same document in YAML.
pub fn seed_yaml(path: &str) -> String {
    format!(
        r#"loggers:
  - name: root
    level: DEBUG
    handlers:
      - type: file
        params:
          filename: "{path}"
          mode: wb
          encoding: utf-8
          override_existing: false
        renderer:
          type: file_json
          params:
            fmt: "%(asctime)s - %(level)s - %(event)s"
            datefmt: "%Y-%m-%d %H:%M:%S"
            indentation: 2
        processors:
          - type: add_callsite_params
            params:
              parameters: [filename, lineno, funcName]
          - type: filter_by_level
            params:
              min_level: INFO
    context:
      app: myapp
      env: production
default_level: INFO
"#
    )
}

/// An error with a source: `query failed`, caused by the I/O error it holds.
#[derive(Debug)]
pub struct DbError(pub std::io::Error);

impl std::fmt::Display for DbError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("query failed")
    }
}

impl std::error::Error for DbError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        Some(&self.0)
    }
}

/// Runs `f` on a thread of its own and returns its result, failing the test if it takes
/// longer than `secs` (a hang) and re-raising its panic if it panicked.
pub fn within<T: Send + 'static>(
    secs: u64,
    what: &str,
    f: impl FnOnce() -> T + Send + 'static,
) -> T {
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::Builder::new()
        .name(format!("within: {what}"))
        .spawn(move || {
            let r = std::panic::catch_unwind(std::panic::AssertUnwindSafe(f));
            let _ = tx.send(r);
        })
        .unwrap();
    match rx.recv_timeout(std::time::Duration::from_secs(secs)) {
        Ok(Ok(v)) => v,
        Ok(Err(panic)) => std::panic::resume_unwind(panic),
        Err(_) => panic!("hang: `{what}` did not finish within {secs} s"),
    }
}

/// A command re-running this test binary on the one test `test`, with the environment
/// variable `var` set to the test's name (so the test knows it is the child).
pub fn child_command(test: &str, var: &str) -> std::process::Command {
    let mut c = std::process::Command::new(std::env::current_exe().unwrap());
    c.args([test, "--exact", "--nocapture", "--test-threads=1"])
        .env(var, test);
    c
}

/// Runs the test `test` of this test binary alone in a child process, with the environment
/// variable `var` set to the test's name (so the test knows it is the child), `env` set and
/// `remove` removed, failing after `secs` if the child hangs. Returns the child's output
/// whatever its exit status.
pub fn run_child(
    test: &str,
    var: &str,
    env: &[(&str, &str)],
    remove: &[&str],
    secs: u64,
) -> std::process::Output {
    let mut c = child_command(test, var);
    c.envs(env.iter().copied());
    for name in remove {
        c.env_remove(name);
    }
    within(secs, "child", move || c.output().unwrap())
}

/// Asserts that a child run by [`run_child`] succeeded, showing its output if not.
pub fn assert_child_succeeded(out: &std::process::Output) {
    assert!(
        out.status.success(),
        "{:?}\n{}{}",
        out.status,
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}

/// The accounting identity after a flush or shutdown: every enqueued record was written,
/// filtered, failed, evicted by drop_oldest or left behind by the drain timeout.
pub fn assert_balanced(s: &kolog::Stats) {
    assert_eq!(
        s.enqueued,
        s.written + s.filtered + s.failed + s.dropped_oldest + s.dropped_timeout,
        "enqueued must equal written + filtered + failed + dropped_oldest + dropped_timeout: {s:?}"
    );
    assert_dropped_is_the_sum_of_its_reasons(s);
}

/// `dropped` is the sum of the counts by reason (true at any moment, not only after a flush).
pub fn assert_dropped_is_the_sum_of_its_reasons(s: &kolog::Stats) {
    assert_eq!(
        s.dropped,
        s.dropped_full
            + s.dropped_oldest
            + s.dropped_oversize
            + s.dropped_shutdown
            + s.dropped_timeout,
        "{s:?}"
    );
}

/// The cause of a logger-creation error (`e` must be one: its code is
/// `LOGGER_CREATION::LoggerFactory::INITIALIZATION::ERROR`), which a handler, renderer or
/// processor failure carries as its `source()`.
#[allow(dead_code)]
pub fn creation_cause(e: &kolog::Error) -> &kolog::Error {
    assert_eq!(
        e.code(),
        "LOGGER_CREATION::LoggerFactory::INITIALIZATION::ERROR",
        "{}",
        e.msg()
    );
    std::error::Error::source(e)
        .and_then(|c| c.downcast_ref::<kolog::Error>())
        .unwrap_or_else(|| panic!("no kolog::Error as the source of {e}"))
}
