//! A new user's first programs, written from DESIGN.md, the seed README, kolog's README and
//! rustdoc only (not the implementation). Each checks exact output: bytes or parsed JSON
//! fields of files and sinks, exact `stats()` counts, exact error `code()` strings.
//!
//! Programs that write to stdout/stderr, or install a process-global logger (`log` bridge),
//! re-run this test binary as a child process on one test and read its output.

mod common;

use std::path::{Path, PathBuf};
use std::time::Duration;

use kolog::{
    acritical, adebug, aerror, ainfo, awarning, bind, critical, debug, error, info, info_life, log,
    warning,
};
use kolog::{
    BackpressurePolicy, Error, ErrorKind, Kolog, Level, Logger, LoggerFactory, LoggingSystemConfig,
    QueueConfig, QueueManager, Sink,
};

const CHILD: &str = "KOLOG_NEW_USER_CHILD";

fn is_child(test: &str) -> bool {
    std::env::var(CHILD).as_deref() == Ok(test)
}

/// Runs `test` alone in a child process and returns its (stdout, stderr), asserting success.
fn run_child(test: &str) -> (String, String) {
    let out = common::run_child(test, CHILD, &[], &["NO_COLOR"], 120);
    common::assert_child_succeeded(&out);
    (
        String::from_utf8(out.stdout).unwrap(),
        String::from_utf8(out.stderr).unwrap(),
    )
}

fn tmp(test: &str) -> PathBuf {
    common::temp_dir(&format!("new-user-{test}"))
}

fn s(p: &Path) -> String {
    p.display().to_string()
}

/// `2026-12-01T13:48:21.123456Z`: RFC 3339, UTC, microseconds, `Z`.
fn assert_rfc3339_micros(ts: &str) {
    let b = ts.as_bytes();
    assert_eq!(b.len(), 27, "{ts}");
    for (i, c) in b.iter().enumerate() {
        match i {
            4 | 7 => assert_eq!(*c, b'-', "{ts}"),
            10 => assert_eq!(*c, b'T', "{ts}"),
            13 | 16 => assert_eq!(*c, b':', "{ts}"),
            19 => assert_eq!(*c, b'.', "{ts}"),
            26 => assert_eq!(*c, b'Z', "{ts}"),
            _ => assert!(c.is_ascii_digit(), "{ts}"),
        }
    }
}

/// `[2026-12-01 13:48:21] rest` → `rest`, checking the date's shape.
fn strip_asctime(line: &str) -> &str {
    let b = line.as_bytes();
    assert!(b.len() > 21 && b[0] == b'[' && b[20] == b']', "{line:?}");
    for (i, c) in b[1..20].iter().enumerate() {
        match i {
            4 | 7 => assert_eq!(*c, b'-', "{line}"),
            10 => assert_eq!(*c, b' ', "{line}"),
            13 | 16 => assert_eq!(*c, b':', "{line}"),
            _ => assert!(c.is_ascii_digit(), "{line}"),
        }
    }
    &line[21..]
}

/// `End (0.05): name` → 0.05, checking the two decimals.
fn end_secs(event: &str, name: &str) -> f64 {
    let rest = event
        .strip_prefix("End (")
        .unwrap_or_else(|| panic!("{event:?}"));
    let (secs, tail) = rest.split_once(')').unwrap();
    assert_eq!(tail, format!(": {name}"), "{event:?}");
    let (_, frac) = secs.split_once('.').unwrap();
    assert_eq!(frac.len(), 2, "{event:?}");
    secs.parse().unwrap()
}

/// Every JSON value in `text` (one per line, or pretty-printed ones back to back).
fn json_values(text: &str) -> Vec<serde_json::Value> {
    serde_json::Deserializer::from_str(text)
        .into_iter::<serde_json::Value>()
        .map(Result::unwrap)
        .collect()
}

// ---------------------------------------------------------------------------------------------
// 1. The seed README, example by example
// ---------------------------------------------------------------------------------------------

#[test]
fn child_seed_quick_start() {
    if !is_child("child_seed_quick_start") {
        return;
    }
    // 1. Configure queue manager
    let qm = QueueManager::start(QueueConfig {
        max_queue_size: 10_000,
        backpressure_policy: BackpressurePolicy::Block,
        drain_timeout: Duration::from_secs_f64(5.0),
    })
    .unwrap();
    // 2. Configure logging system
    let config = LoggingSystemConfig::from_json_str(
        r#"{"loggers": [{"name": "app", "level": "INFO", "handlers": [{
            "type": "stream",
            "renderer": {"type": "stream_plain", "params": {
                "fmt": "[%(asctime)s] [%(level)-8s] [%(name)s]: %(event)s",
                "datefmt": "%Y-%m-%d %H:%M:%S"}},
            "params": {"use_stderr": false}}]}]}"#,
    )
    .unwrap();
    // 3. Create logger factory
    let factory = LoggerFactory::new(config, &qm).unwrap();
    // 4. Get logger and use it
    let logger: Logger = factory.get_logger("app").unwrap();
    info!(logger, "Application started", version = "1.0.0");
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_time()
        .build()
        .unwrap();
    rt.block_on(async {
        ainfo!(logger, "Processing request", user_id = 123).await;
        let bound_logger = bind!(logger, service = "auth", env = "prod");
        warning!(bound_logger, "Rate limit exceeded", ip = "192.168.1.1");
        logger
            .ainfo_life("Database migration", async {
                tokio::time::sleep(Duration::from_millis(50)).await;
            })
            .await;
    });
    // 5. Cleanup
    let report = qm.shutdown().unwrap();
    assert_eq!(
        (
            report.enqueued,
            report.written,
            report.dropped,
            report.failed
        ),
        (5, 5, 0, 0)
    );
}

#[test]
fn seed_quick_start_prints_the_seed_output_on_stdout() {
    let (stdout, _) = run_child("child_seed_quick_start");
    // (the harness's own "test … " may precede the first line)
    let lines: Vec<&str> = stdout
        .lines()
        .filter_map(|l| l.find("[20").map(|i| &l[i..]))
        .collect();
    assert_eq!(lines.len(), 5, "{stdout}");
    let rest: Vec<&str> = lines.iter().map(|l| strip_asctime(l)).collect();
    assert_eq!(
        rest[..4],
        [
            " [INFO    ] [app]: Application started version=1.0.0",
            " [INFO    ] [app]: Processing request user_id=123",
            " [WARNING ] [app]: Rate limit exceeded service=auth env=prod ip=192.168.1.1",
            " [INFO    ] [app]: Begin: Database migration",
        ]
    );
    let end = rest[4].strip_prefix(" [INFO    ] [app]: ").unwrap();
    assert!(end_secs(end, "Database migration") >= 0.05, "{end}");
}

/// The seed's JSON example, unchanged but for the file name, through `Kolog::from_json_str`.
fn seed_json(path: &Path) -> String {
    common::seed_json(&s(path))
}

fn check_seed_json_file(path: &Path, info_line: u32, func: &str) {
    let text = std::fs::read_to_string(path).unwrap();
    // indentation 2: pretty-printed
    assert!(text.starts_with("{\n  \"timestamp\": \""), "{text}");
    let values = json_values(&text);
    assert_eq!(values.len(), 1, "{text}");
    let v = values[0].as_object().unwrap();
    assert_rfc3339_micros(v["timestamp"].as_str().unwrap());
    let keys: Vec<&str> = v.keys().map(String::as_str).collect();
    assert_eq!(
        keys,
        [
            "timestamp",
            "level",
            "logger",
            "event",
            "app",
            "env",
            "user_id",
            "filename",
            "lineno",
            "funcName"
        ],
        "{text}"
    );
    assert_eq!(v["level"], "INFO");
    assert_eq!(v["logger"], "root");
    assert_eq!(v["event"], "Application started");
    assert_eq!(v["app"], "myapp");
    assert_eq!(v["env"], "production");
    assert_eq!(v["user_id"], 123);
    assert_eq!(v["filename"], "new_user_round.rs");
    assert_eq!(v["lineno"], info_line);
    assert_eq!(v["funcName"], func);
}

#[test]
fn seed_json_config_loads_unchanged_through_kolog_from_json_str() {
    let dir = tmp("seed-json");
    let path = dir.join("app.log");
    std::fs::write(&path, "old content\n").unwrap(); // "mode": "wb" truncates
    let kolog = Kolog::from_json_str(&seed_json(&path)).unwrap();
    let logger = kolog.logger("root").unwrap();
    assert_eq!(logger.level(), Level::Debug);
    debug!(logger, "dropped by filter_by_level"); // logger passes DEBUG, processor drops it
    let line = line!() + 1;
    info!(logger, "Application started", user_id = 123);
    let report = kolog.shutdown().unwrap();
    assert_eq!(
        (
            report.enqueued,
            report.written,
            report.filtered,
            report.dropped,
            report.failed
        ),
        (2, 1, 1, 0, 0)
    );
    assert!(!report.timed_out);
    check_seed_json_file(
        &path,
        line,
        "seed_json_config_loads_unchanged_through_kolog_from_json_str",
    );
}

#[test]
fn seed_json_config_loads_unchanged_through_logger_factory() {
    let dir = tmp("seed-factory");
    let path = dir.join("app.log");
    // QueueManager.from_json({"max_queue_size": 10000})
    let queue: QueueConfig = serde_json::from_str(r#"{"max_queue_size": 10000}"#).unwrap();
    assert_eq!(queue.backpressure_policy, BackpressurePolicy::Block);
    assert_eq!(queue.drain_timeout, Duration::from_secs(5));
    let qm = QueueManager::start(queue).unwrap();
    let factory = LoggerFactory::from_json_str(&seed_json(&path), &qm).unwrap();
    let logger = factory.get_logger("root").unwrap();
    let line = line!() + 1;
    info!(logger, "Application started", user_id = 123);
    qm.flush();
    let st = qm.stats();
    assert_eq!((st.enqueued, st.written, st.live_rings), (1, 1, 1));
    check_seed_json_file(
        &path,
        line,
        "seed_json_config_loads_unchanged_through_logger_factory",
    );

    // The same document as a serde_json::Value, on the same queue manager.
    let path2 = dir.join("app2.log");
    let value: serde_json::Value = serde_json::from_str(&seed_json(&path2)).unwrap();
    let factory2 = LoggerFactory::from_json_value(&value, &qm).unwrap();
    let logger2 = factory2.get_logger("root").unwrap();
    let line = line!() + 1;
    info!(logger2, "Application started", user_id = 123);
    let report = qm.shutdown().unwrap();
    assert_eq!((report.enqueued, report.written), (2, 2));
    check_seed_json_file(
        &path2,
        line,
        "seed_json_config_loads_unchanged_through_logger_factory",
    );
}

/// Context binding and chained binding (seed "Advanced Usage").
#[test]
fn bind_and_chained_bind_merge_context_and_leave_the_original_unchanged() {
    let kolog = Kolog::from_json_str(
        r#"{"loggers": [{"name": "app", "context": {"app": "myapp"}, "handlers": [{"type": "null",
            "renderer": {"type": "stream_plain", "params": {"fmt": "%(name)s %(event)s"}}}]}]}"#,
    )
    .unwrap();
    let sink = Sink::new();
    kolog.queue_manager().add_sink("app", sink.clone());
    let logger = kolog.logger("app").unwrap();
    let api_logger = bind!(logger, service = "api", version = "v1");
    info!(api_logger, "Request received", endpoint = "/users");
    let request_logger = bind!(api_logger, request_id = "abc123");
    info!(request_logger, "Processing", user_id = 456);
    let rebound = bind!(request_logger, service = "billing"); // a key bound again
    info!(rebound, "Charged");
    info!(logger, "Unbound");
    assert_eq!(
        sink.events(),
        [
            "app Request received app=myapp service=api version=v1 endpoint=/users",
            "app Processing app=myapp service=api version=v1 request_id=abc123 user_id=456",
            "app Charged app=myapp service=billing version=v1 request_id=abc123",
            "app Unbound app=myapp",
        ]
    );
    let recs = sink.records();
    assert_eq!(recs[1]["user_id"], 456);
    assert_eq!(recs[1]["request_id"], "abc123");
    assert_eq!(recs[3].get("service"), None);
    assert_eq!(logger.context().len(), 1);
    assert_eq!(kolog.shutdown().unwrap().written, 4);
}

/// Lifecycle contexts (seed "Advanced Usage"): sync guard with logging inside, async form.
#[test]
fn info_life_and_ainfo_life_log_begin_and_end() {
    let kolog = Kolog::from_json_str(
        r#"{"loggers": [{"name": "root", "handlers": [{"type": "null",
            "renderer": {"type": "stream_plain", "params": {"fmt": "%(level)s %(event)s"}}}]}]}"#,
    )
    .unwrap();
    let sink = Sink::new();
    kolog.queue_manager().add_sink("root", sink.clone());
    let logger = kolog.logger("svc").unwrap();
    {
        let log = info_life!(logger, "Database query", table = "users");
        info!(log, "Did work");
        std::thread::sleep(Duration::from_millis(20));
    }
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_time()
        .build()
        .unwrap();
    let out = rt.block_on(async {
        let log = bind!(logger, endpoint = "/data");
        log.ainfo_life("API call", async {
            tokio::time::sleep(Duration::from_millis(20)).await;
            ainfo!(log, "Data fetched").await;
            42
        })
        .await
    });
    assert_eq!(out, 42);
    let ev = sink.events();
    assert_eq!(ev.len(), 6, "{ev:?}");
    assert_eq!(ev[0], "INFO Begin: Database query table=users");
    assert_eq!(ev[1], "INFO Did work table=users");
    let (head, tail) = ev[2].split_at(5);
    assert_eq!(head, "INFO ");
    let end = tail.strip_suffix(" table=users").unwrap();
    assert!(end_secs(end, "Database query") >= 0.02, "{end}");
    assert_eq!(ev[3], "INFO Begin: API call endpoint=/data");
    assert_eq!(ev[4], "INFO Data fetched endpoint=/data");
    let end = ev[5]
        .strip_prefix("INFO ")
        .unwrap()
        .strip_suffix(" endpoint=/data")
        .unwrap();
    assert!(end_secs(end, "API call") >= 0.02, "{end}");
    assert_eq!(kolog.shutdown().unwrap().written, 6);
}

/// Seed "Reproducible Error Examples": a logger that is not configured.
#[test]
fn missing_logger_is_a_configuration_error_with_the_seed_code() {
    let qm = QueueManager::start(QueueConfig::default()).unwrap();
    let factory = LoggerFactory::from_json_str(
        r#"{"loggers": [{"name": "app", "handlers": [{"type": "null"}]}]}"#,
        &qm,
    )
    .unwrap();
    let e: Error = factory.get_logger("non_existent").unwrap_err();
    assert_eq!(e.kind(), ErrorKind::Configuration);
    assert_eq!(e.code(), "CONFIGURATION::LoggerFactory::VALIDATION::ERROR");
    assert!(e.msg().contains("`non_existent`"), "{}", e.msg());
    assert!(!e.recoverable());
    assert!(e.source().is_none());
    // Best practice 1 of the seed: fall back to another logger.
    let logger = factory
        .get_logger("non_existent")
        .or_else(|_| factory.get_logger("app"))
        .unwrap();
    assert_eq!(logger.name(), "app");
    qm.shutdown().unwrap();
}

/// Seed "Processor Error": an unknown processor is a logger-creation error (the seed) or a
/// validation error naming the path (DESIGN.md: unknown types are errors naming the path).
#[test]
fn unknown_processor_names_its_path() {
    let e = Kolog::from_json_str(
        r#"{"loggers": [{"name": "app", "handlers": [{"type": "null",
            "processors": [{"type": "add_callsite_params"}, {"type": "unknown_processor"}]}]}]}"#,
    )
    .unwrap_err();
    assert_eq!(e.code(), "CONFIGURATION::LoggerFactory::VALIDATION::ERROR");
    assert!(
        e.msg().contains("loggers[0].handlers[0].processors[1]"),
        "{}",
        e.msg()
    );
    assert!(e.msg().contains("unknown_processor"), "{}", e.msg());
}

/// Seed "Handler I/O Error": a file that cannot be opened.
#[test]
fn unopenable_file_is_a_logger_creation_error_with_a_handler_source() {
    let dir = tmp("unopenable");
    let missing = dir.join("no-such-dir").join("app.log");
    let e = Kolog::from_json_str(&format!(
        r#"{{"loggers": [{{"name": "root", "handlers": [{{"type": "file",
            "params": {{"filename": "{}", "mode": "wb", "override_existing": true}}}}]}}]}}"#,
        s(&missing)
    ))
    .unwrap_err();
    assert_eq!(e.kind(), ErrorKind::LoggerCreation);
    assert_eq!(
        e.code(),
        "LOGGER_CREATION::LoggerFactory::INITIALIZATION::ERROR"
    );
    assert_eq!(e.msg(), "Failed to create logger `root`");
    let cause = e.source().unwrap().downcast_ref::<Error>().unwrap();
    assert_eq!(cause.kind(), ErrorKind::Handler);
    assert_eq!(cause.code(), "HANDLER::FileHandler::IO::ERROR");
    assert!(cause.msg().contains(&s(&missing)), "{}", cause.msg());
}

// ---------------------------------------------------------------------------------------------
// 2. A YAML file on disk: every handler, processor and renderer type, a custom processor
// ---------------------------------------------------------------------------------------------

fn register_custom_processors() {
    use kolog::process::Action;
    use kolog::record::Value;
    // With params: adds `request_id` from the configuration.
    kolog::register_processor("nu_add_request_id", |params| {
        let id = params["request_id"].as_str().unwrap_or("none").to_owned();
        Ok(Box::new(move |ev: &mut kolog::EventDict<'_>| {
            ev.insert_default("request_id", Value::String(id.clone()));
            Action::Keep
        }))
    });
    // Without params: drops health checks.
    kolog::register_processor("nu_drop_health", |_params| {
        Ok(Box::new(|ev: &mut kolog::EventDict<'_>| {
            if ev.get("path").and_then(Value::as_str) == Some("/health") {
                Action::Drop
            } else {
                Action::Keep
            }
        }))
    });
}

fn every_type_yaml(dir: &Path) -> String {
    format!(
        r#"# every handler, renderer and processor type
queue:
  max_queue_size: 1000
  backpressure_policy: block
  drain_timeout: 5
default_level: warn
loggers:
  - name: root
    handlers:
      - type: "null"
  - name: app
    level: debug
    context:
      service: checkout
    handlers:
      - type: file
        params:
          filename: {dir}/app.json
          mode: w
        renderer:
          type: file_json
        processors:
          - type: add_context_defaults
            params:
              defaults: {{region: eu, service: ignored}}
          - type: add_callsite_params
          - type: filter_keys
            params: {{keys: [secret]}}
          - type: filter_markup
          - type: dict_tracebacks
          - type: filter_by_level
            params: {{min_level: INFO}}
          - type: nu_add_request_id
            params: {{request_id: req-42}}
          - type: nu_drop_health
      - type: rotating_file
        params:
          filename: {dir}/app.txt
          max_bytes: 60
          backup_count: 2
          rotation_interval: null
        renderer:
          type: file_plain
          params:
            fmt: "%(level)-8s|%(name)s|%(event)s"
        processors:
          - type: add_callsite_params
            params:
              parameters: [lineno]
          - type: filter_keys
            params:
              keys: [secret, service, lineno]
      - type: stream
        params:
          use_stderr: false
        renderer:
          type: stream_plain
          params:
            fmt: "OUT %(asctime)s %(level)s %(event)s"
            datefmt: "%Y"
      - type: stream
        params: {{use_stderr: true}}
        renderer: {{type: stream_colored, params: {{fmt: "ERR %(level)s %(event)s"}}}}
      - type: "null"
        renderer: {{type: stream_json}}
"#,
        dir = s(dir)
    )
}

#[test]
fn child_yaml_file_with_every_type() {
    if !is_child("child_yaml_file_with_every_type") {
        return;
    }
    let dir = PathBuf::from(std::env::var("NU_DIR").unwrap());
    register_custom_processors();
    let path = dir.join("kolog.yaml");
    std::fs::write(&path, every_type_yaml(&dir)).unwrap();
    let kolog = Kolog::from_path(&path).unwrap();
    let log = kolog.logger("app.api").unwrap();
    assert_eq!(log.level(), Level::Debug);
    assert_eq!(kolog.logger("other").unwrap().level(), Level::Warning);
    debug!(log, "debug line");
    let line = line!() + 1;
    info!(
        log,
        "[bold red]request[/]",
        path = "/users",
        secret = "hunter2",
        n = 1
    );
    info!(log, "request", path = "/health");
    let e = common::DbError(std::io::Error::other("disk gone"));
    let error_line = line!() + 1;
    error!(log, "failed", error = &e);
    let report = kolog.shutdown().unwrap();
    assert_eq!(report.enqueued, 4);
    assert_eq!(report.written, 4, "{report:?}");
    assert_eq!((report.filtered, report.failed, report.dropped), (0, 0, 0));

    // file_json: filter_by_level dropped the DEBUG record, nu_drop_health the health check.
    let v = common::json_lines(&dir.join("app.json"));
    assert_eq!(v.len(), 2, "{v:?}");
    let first = v[0].as_object().unwrap();
    let keys: Vec<&str> = first.keys().map(String::as_str).collect();
    assert_eq!(
        keys,
        [
            "timestamp",
            "level",
            "logger",
            "event",
            "service",
            "path",
            "n",
            "region",
            "filename",
            "lineno",
            "funcName",
            "module",
            "pathname",
            "request_id"
        ]
    );
    assert_eq!(first["event"], "request"); // markup stripped
    assert_eq!(first["logger"], "app.api");
    assert_eq!(first["service"], "checkout");
    assert_eq!(first["region"], "eu");
    assert_eq!(first["lineno"], line);
    assert_eq!(first["funcName"], "child_yaml_file_with_every_type");
    assert_eq!(first["module"], "new_user_round");
    assert_eq!(first["request_id"], "req-42");
    // dict_tracebacks: the error and its source chain as an object.
    assert_eq!(
        v[1],
        serde_json::json!({
            "timestamp": v[1]["timestamp"], "level": "ERROR", "logger": "app.api",
            "event": "failed", "service": "checkout",
            "error": {"type": "new_user_round::common::DbError", "message": "query failed",
                      "chain": ["disk gone"]},
            "region": "eu", "filename": "new_user_round.rs", "lineno": error_line,
            "funcName": "child_yaml_file_with_every_type", "module": "new_user_round",
            "pathname": "tests/new_user_round.rs", "request_id": "req-42"
        })
    );
    assert_rfc3339_micros(v[1]["timestamp"].as_str().unwrap());
}

#[test]
fn yaml_file_with_every_type_writes_every_destination() {
    let dir = tmp("every-type");
    let out = common::run_child(
        "child_yaml_file_with_every_type",
        CHILD,
        &[("NU_DIR", &s(&dir))],
        &["NO_COLOR"],
        120,
    );
    common::assert_child_succeeded(&out);
    let stdout = String::from_utf8(out.stdout).unwrap();
    let stderr = String::from_utf8(out.stderr).unwrap();
    let year = &stdout[stdout.find("OUT ").unwrap() + 4..][..4];
    assert!(year.starts_with("20"), "{stdout}");
    let out_lines: Vec<&str> = stdout
        .lines()
        .filter_map(|l| l.find("OUT ").map(|i| &l[i..]))
        .collect();
    assert_eq!(
        out_lines,
        [
            format!("OUT {year} DEBUG debug line service=checkout"),
            format!(
                "OUT {year} INFO [bold red]request[/] service=checkout path=/users secret=hunter2 n=1"
            ),
            format!("OUT {year} INFO request service=checkout path=/health"),
            format!("OUT {year} ERROR failed service=checkout error=\"query failed\""),
        ]
    );
    // stream_colored on a pipe: no colour.
    let err_lines: Vec<&str> = stderr.lines().filter(|l| l.starts_with("ERR ")).collect();
    assert_eq!(
        err_lines,
        [
            "ERR DEBUG debug line service=checkout",
            "ERR INFO [bold red]request[/] service=checkout path=/users secret=hunter2 n=1",
            "ERR INFO request service=checkout path=/health",
            "ERR ERROR failed service=checkout error=\"query failed\"",
        ]
    );
    // rotating_file: 60 bytes each, two backups; the DEBUG line rotated out.
    let files = common::files(&dir);
    let names: Vec<&str> = files.keys().map(String::as_str).collect();
    assert_eq!(
        names,
        [
            "app.json",
            "app.txt",
            "app.txt.1",
            "app.txt.2",
            "kolog.yaml"
        ]
    );
    assert_eq!(
        files["app.txt"],
        "ERROR   |app.api|failed error=\"query failed\"\n"
    );
    assert_eq!(
        files["app.txt.1"],
        "INFO    |app.api|request path=/health\n"
    );
    assert_eq!(
        files["app.txt.2"],
        "INFO    |app.api|[bold red]request[/] path=/users n=1\n"
    );
}

/// The same small document as `.yml`, `.json`, and `.YAML` (extension in any case).
#[test]
fn from_path_picks_the_format_by_extension() {
    let dir = tmp("by-ext");
    let yaml = |out: &Path| {
        format!(
            "loggers:\n  - name: root\n    handlers:\n      - type: file\n        params: {{filename: {}, mode: w}}\n        renderer: {{type: file_plain, params: {{fmt: \"%(level)s %(event)s\"}}}}\n",
            s(out)
        )
    };
    let json = |out: &Path| {
        format!(
            r#"{{"loggers": [{{"name": "root", "handlers": [{{"type": "file", "params": {{"filename": "{}", "mode": "w"}}, "renderer": {{"type": "file_plain", "params": {{"fmt": "%(level)s %(event)s"}}}}}}]}}]}}"#,
            s(out)
        )
    };
    for (name, text) in [
        ("a.yml", yaml(&dir.join("a.log"))),
        ("b.YAML", yaml(&dir.join("b.log"))),
        ("c.json", json(&dir.join("c.log"))),
    ] {
        let path = dir.join(name);
        std::fs::write(&path, text).unwrap();
        let kolog = Kolog::from_path(&path).unwrap();
        warning!(kolog.logger("x").unwrap(), "from file", n = 1);
        drop(kolog);
    }
    for log in ["a.log", "b.log", "c.log"] {
        assert_eq!(
            std::fs::read_to_string(dir.join(log)).unwrap(),
            "WARNING from file n=1\n",
            "{log}"
        );
    }
    let path = dir.join("d.toml");
    std::fs::write(&path, "").unwrap();
    let e = Kolog::from_path(&path).unwrap_err();
    assert_eq!(e.code(), "CONFIGURATION::LoggerFactory::VALIDATION::ERROR");
    assert!(e.msg().contains("d.toml"), "{}", e.msg());
    let e = Kolog::from_path(dir.join("missing.yaml")).unwrap_err();
    assert_eq!(e.code(), "CONFIGURATION::LoggerFactory::IO::ERROR");
    assert!(e.source().unwrap().is::<std::io::Error>());
}

// ---------------------------------------------------------------------------------------------
// 3. The two-step form and QueueConfig from JSON
// ---------------------------------------------------------------------------------------------

#[test]
fn queue_config_deserialises_from_json_in_seconds_with_policy_spellings() {
    for (policy, want) in [
        ("block", BackpressurePolicy::Block),
        ("drop", BackpressurePolicy::Drop),
        ("drop_oldest", BackpressurePolicy::DropOldest),
    ] {
        let q: QueueConfig = serde_json::from_str(&format!(
            r#"{{"max_queue_size": 64, "backpressure_policy": "{policy}", "drain_timeout": 2.5}}"#
        ))
        .unwrap();
        assert_eq!(
            q,
            QueueConfig {
                max_queue_size: 64,
                backpressure_policy: want,
                drain_timeout: Duration::from_millis(2500),
            }
        );
        // and back
        let back: serde_json::Value = serde_json::to_value(&q).unwrap();
        assert_eq!(back["backpressure_policy"], policy);
        assert_eq!(back["drain_timeout"], 2.5);
    }
    let d = QueueConfig::default();
    assert_eq!(
        (d.max_queue_size, d.backpressure_policy, d.drain_timeout),
        (10_000, BackpressurePolicy::Block, Duration::from_secs(5))
    );
    for bad in [
        r#"{"backpressure_policy": "Block"}"#,
        r#"{"backpressure_policy": "dropoldest"}"#,
        r#"{"drain_timeout": -1}"#,
        r#"{"max_queue_size": 0}"#,
        r#"{"max_size": 10}"#,
    ] {
        assert!(serde_json::from_str::<QueueConfig>(bad).is_err(), "{bad}");
    }
    let e = serde_json::from_str::<QueueConfig>(r#"{"backpressure_policy": "sometimes"}"#)
        .unwrap_err()
        .to_string();
    assert!(e.contains("backpressure_policy"), "{e}");
}

#[test]
fn two_step_form_flush_stats_and_shutdown_report() {
    let dir = tmp("two-step");
    let path = dir.join("app.log");
    let qm = QueueManager::start(QueueConfig {
        max_queue_size: 16,
        ..QueueConfig::default()
    })
    .unwrap();
    assert_eq!(qm.ring_bytes(), 4096);
    let config = LoggingSystemConfig::from_json_str(&format!(
        r#"{{"loggers": [{{"name": "app", "level": "DEBUG", "handlers": [{{"type": "file",
            "params": {{"filename": "{}", "mode": "w"}},
            "renderer": {{"type": "file_plain", "params": {{"fmt": "%(levelname)s:%(name)s:%(message)s"}}}},
            "processors": [{{"type": "filter_by_level", "params": {{"min_level": "INFO"}}}}]}}]}}]}}"#,
        s(&path)
    ))
    .unwrap();
    let factory = LoggerFactory::new(config, &qm).unwrap();
    let log = factory.get_logger("app").unwrap();
    let threads: Vec<_> = (0..4)
        .map(|t| {
            let log = log.clone();
            std::thread::spawn(move || {
                for i in 0..250 {
                    info!(log, "line", t = t, i = i);
                    debug!(log, "filtered");
                }
            })
        })
        .collect();
    for t in threads {
        t.join().unwrap();
    }
    qm.flush();
    let st = qm.stats();
    assert_eq!(
        (
            st.enqueued,
            st.written,
            st.filtered,
            st.dropped,
            st.failed,
            st.live_rings
        ),
        (2000, 1000, 1000, 0, 0, 0),
        "{st:?}"
    );
    let text = std::fs::read_to_string(&path).unwrap();
    assert_eq!(text.lines().count(), 1000);
    for t in 0..4 {
        let mine: Vec<&str> = text
            .lines()
            .filter(|l| l.contains(&format!(" t={t} ")))
            .collect();
        let want: Vec<String> = (0..250)
            .map(|i| format!("INFO:app:line t={t} i={i}"))
            .collect();
        assert_eq!(mine, want);
    }
    info!(log, "last");
    let report = qm.shutdown().unwrap();
    assert_eq!(
        (
            report.enqueued,
            report.written,
            report.filtered,
            report.dropped,
            report.failed,
            report.dropped_timeout,
            report.timed_out
        ),
        (2001, 1001, 1000, 0, 0, 0, false)
    );
    assert!(report.drain_time < Duration::from_secs(5));
    assert!(qm.is_shut_down());
    // After shutdown: logging is counted, never blocks; a second shutdown is a warning.
    info!(log, "too late");
    assert_eq!(qm.stats().dropped_shutdown, 1);
    let e = qm.shutdown().unwrap_err();
    assert_eq!(e.kind(), ErrorKind::QueueManager);
    assert_eq!(e.code(), "QUEUE::QueueManager::LIFECYCLE::WARNING");
    assert!(std::fs::read_to_string(&path)
        .unwrap()
        .ends_with("INFO:app:last\n"));
}

// ---------------------------------------------------------------------------------------------
// 4. Sinks
// ---------------------------------------------------------------------------------------------

#[test]
fn sink_events_are_rendered_as_the_first_handler_renders_and_records_are_structured() {
    let dir = tmp("sink");
    let path = dir.join("app.log");
    let kolog = Kolog::from_json_str(&format!(
        r#"{{"loggers": [{{"name": "app", "context": {{"svc": "api"}}, "handlers": [
            {{"type": "file", "params": {{"filename": "{}", "mode": "w"}},
              "renderer": {{"type": "file_json"}},
              "processors": [{{"type": "filter_keys", "params": {{"keys": ["token"]}}}}]}},
            {{"type": "null", "renderer": {{"type": "stream_plain"}}}}]}}]}}"#,
        s(&path)
    ))
    .unwrap();
    let log = kolog.logger("app.db").unwrap();
    let sink = Sink::new();
    kolog.queue_manager().add_sink("app", sink.clone());
    info!(
        log,
        "Test message",
        user_id = 7,
        token = "t",
        ok = true,
        ratio = 0.5
    );
    warning!(log, "second");
    assert_eq!(sink.len(), 2);
    let events = sink.events();
    let v: serde_json::Value = serde_json::from_str(&events[0]).unwrap();
    assert_rfc3339_micros(v["timestamp"].as_str().unwrap());
    assert_eq!(
        events[0],
        format!(
            r#"{{"timestamp":"{}","level":"INFO","logger":"app.db","event":"Test message","svc":"api","user_id":7,"ok":true,"ratio":0.5}}"#,
            v["timestamp"].as_str().unwrap()
        )
    );
    let recs = sink.records();
    assert_eq!(recs.len(), 2);
    assert_eq!(
        serde_json::Value::Object(recs[0].fields.clone()),
        serde_json::json!({"level": "INFO", "logger": "app.db", "event": "Test message",
                           "svc": "api", "user_id": 7, "ok": true, "ratio": 0.5})
    );
    assert_eq!(recs[1]["level"], "WARNING");
    assert!(recs[0].timestamp_ns <= recs[1].timestamp_ns);
    sink.clear();
    assert!(sink.is_empty());
    assert_eq!(sink.events(), Vec::<String>::new());
    // A clone shares what is captured.
    let clone = sink.clone();
    info!(log, "third");
    assert_eq!(clone.records()[0]["event"], "third");
    // While attached, the handlers did not write (a file is opened on its first write).
    kolog.flush();
    assert!(!path.exists());
    kolog.queue_manager().remove_sink("app");
    info!(log, "to the file");
    kolog.flush();
    assert_eq!(sink.len(), 1);
    let lines = common::json_lines(&path);
    assert_eq!(lines.len(), 1);
    assert_eq!(lines[0]["event"], "to the file");
    let st = kolog.stats();
    assert_eq!((st.enqueued, st.written), (4, 4));
}

// ---------------------------------------------------------------------------------------------
// 5. Async under tokio
// ---------------------------------------------------------------------------------------------

#[test]
fn async_macros_under_block_with_a_tiny_queue_lose_nothing() {
    common::within(120, "async block tiny queue", || {
        let kolog = Kolog::from_json_str(
            r#"{"queue": {"max_queue_size": 1, "backpressure_policy": "block"},
                "loggers": [{"name": "root", "level": "DEBUG", "handlers": [{"type": "null"}]}]}"#,
        )
        .unwrap();
        assert_eq!(kolog.queue_manager().ring_bytes(), 4096);
        let sink = Sink::new();
        kolog.queue_manager().add_sink("root", sink.clone());
        let rt = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .build()
            .unwrap();
        let log = kolog.logger("worker").unwrap();
        rt.block_on(async {
            let tasks: Vec<_> = (0..8u64)
                .map(|t| {
                    let log = log.clone();
                    tokio::spawn(async move {
                        for i in 0..500u64 {
                            match i % 5 {
                                0 => {
                                    adebug!(log, "padding padding padding padding", t = t, i = i)
                                        .await
                                }
                                1 => {
                                    ainfo!(log, "padding padding padding padding", t = t, i = i)
                                        .await
                                }
                                2 => {
                                    awarning!(log, "padding padding padding padding", t = t, i = i)
                                        .await
                                }
                                3 => {
                                    aerror!(log, "padding padding padding padding", t = t, i = i)
                                        .await
                                }
                                _ => {
                                    acritical!(log, "padding padding padding padding", t = t, i = i)
                                        .await
                                }
                            }
                        }
                    })
                })
                .collect();
            for t in tasks {
                t.await.unwrap();
            }
        });
        let report = kolog.shutdown().unwrap();
        assert_eq!(
            (report.enqueued, report.written, report.dropped),
            (4000, 4000, 0)
        );
        let recs = sink.records();
        assert_eq!(recs.len(), 4000);
        for t in 0..8u64 {
            let is: Vec<u64> = recs
                .iter()
                .filter(|r| r["t"] == t)
                .map(|r| r["i"].as_u64().unwrap())
                .collect();
            assert_eq!(is, (0..500).collect::<Vec<_>>(), "task {t} in order");
        }
        let levels: Vec<&str> = recs[..0]
            .iter()
            .map(|r| r["level"].as_str().unwrap())
            .collect();
        assert!(levels.is_empty());
        let first_of_task0: Vec<&str> = recs
            .iter()
            .filter(|r| r["t"] == 0)
            .take(5)
            .map(|r| r["level"].as_str().unwrap())
            .collect();
        assert_eq!(
            first_of_task0,
            ["DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL"]
        );
    });
}

// ---------------------------------------------------------------------------------------------
// 6. Hierarchical names
// ---------------------------------------------------------------------------------------------

#[test]
fn hierarchical_names_fall_back_to_the_nearest_configured_ancestor_then_root() {
    let kolog = Kolog::from_json_str(
        r#"{"default_level": "ERROR", "loggers": [
            {"name": "root", "level": "WARNING", "handlers": [{"type": "null",
                "renderer": {"type": "stream_plain", "params": {"fmt": "root:%(name)s:%(event)s"}}}]},
            {"name": "app", "level": "DEBUG", "context": {"layer": "app"}, "handlers": [{"type": "null",
                "renderer": {"type": "stream_plain", "params": {"fmt": "app:%(name)s:%(event)s"}}}]},
            {"name": "app.db.pool", "handlers": [{"type": "null",
                "renderer": {"type": "stream_plain", "params": {"fmt": "pool:%(name)s:%(event)s"}}}]}
        ]}"#,
    )
    .unwrap();
    let sinks: Vec<Sink> = ["root", "app", "app.db.pool"]
        .iter()
        .map(|n| {
            let s = Sink::new();
            kolog.queue_manager().add_sink(n, s.clone());
            s
        })
        .collect();
    let levels: Vec<(String, Level)> = [
        "app",
        "app.db",
        "app.db.pool",
        "app.db.pool.x",
        "application",
        "other",
    ]
    .iter()
    .map(|n| {
        let l = kolog.logger(n).unwrap();
        assert_eq!(l.name(), *n);
        (l.name().to_owned(), l.level())
    })
    .collect();
    assert_eq!(
        levels.iter().map(|(_, l)| *l).collect::<Vec<_>>(),
        [
            Level::Debug,
            Level::Debug,
            Level::Error, // own config without a level: default_level
            Level::Error,
            Level::Warning,
            Level::Warning
        ]
    );
    for (name, _) in &levels {
        let l = kolog.logger(name).unwrap();
        debug!(l, "d");
        error!(l, "e");
    }
    assert_eq!(sinks[0].events(), ["root:application:e", "root:other:e"]);
    assert_eq!(
        sinks[1].events(),
        [
            "app:app:d layer=app",
            "app:app:e layer=app",
            "app:app.db:d layer=app",
            "app:app.db:e layer=app"
        ]
    );
    assert_eq!(
        sinks[2].events(),
        ["pool:app.db.pool:e", "pool:app.db.pool.x:e"]
    );

    // No root, no ancestor.
    let kolog =
        Kolog::from_json_str(r#"{"loggers": [{"name": "app", "handlers": [{"type": "null"}]}]}"#)
            .unwrap();
    assert_eq!(kolog.logger("app.db").unwrap().name(), "app.db");
    for name in ["other", "application", "apps.db"] {
        let e = kolog.logger(name).unwrap_err();
        assert_eq!(e.kind(), ErrorKind::Configuration);
        assert_eq!(e.code(), "CONFIGURATION::LoggerFactory::VALIDATION::ERROR");
        assert!(e.msg().contains(&format!("`{name}`")), "{}", e.msg());
        println!("{e}");
    }
}

// ---------------------------------------------------------------------------------------------
// 7. Errors naming their path
// ---------------------------------------------------------------------------------------------

fn two_handlers(second: &str) -> String {
    format!(r#"{{"loggers": [{{"name": "root", "handlers": [{{"type": "null"}}, {second}]}}]}}"#)
}

#[test]
fn config_mistakes_name_their_path_with_the_validation_code() {
    let cases: Vec<(String, &str)> = vec![
        (
            two_handlers(r#"{"type": "null", "renderer": {"type": "xml"}}"#),
            "loggers[0].handlers[1].renderer.type",
        ),
        (
            two_handlers(r#"{"type": "stream", "params": {"use_stderr": true, "colour": 1}}"#),
            "loggers[0].handlers[1].params.colour",
        ),
        (
            two_handlers(r#"{"type": "socket"}"#),
            "loggers[0].handlers[1].type",
        ),
        (
            two_handlers(
                r#"{"type": "null", "processors": [{"type": "filter_by_level", "params": {"min_level": "LOUD"}}]}"#,
            ),
            "loggers[0].handlers[1].processors[0].params.min_level",
        ),
        (
            two_handlers(
                r#"{"type": "null", "processors": [{"type": "add_callsite_params", "params": {"parameters": ["colno"]}}]}"#,
            ),
            "loggers[0].handlers[1].processors[0].params.parameters[0]",
        ),
        (
            two_handlers(r#"{"type": "null", "processors": [{"type": "filter_keys"}]}"#),
            "loggers[0].handlers[1].processors[0].params",
        ),
        (
            r#"{"loggers": [{"name": "root", "level": "VERBOSE"}]}"#.into(),
            "loggers[0].level",
        ),
        (
            r#"{"loggers": [], "default_level": 3}"#.into(),
            "default_level",
        ),
        (
            r#"{"queue": {"backpressure_policy": "sometimes"}, "loggers": []}"#.into(),
            "queue.backpressure_policy",
        ),
        (r#"{"loggers": [], "handlers": []}"#.into(), "handlers"),
        (
            r#"{"loggers": [{"name": "root", "handler": []}]}"#.into(),
            "loggers[0].handler",
        ),
    ];
    for (doc, path) in cases {
        let e = Kolog::from_json_str(&doc).unwrap_err();
        assert_eq!(e.kind(), ErrorKind::Configuration, "{doc}");
        assert_eq!(
            e.code(),
            "CONFIGURATION::LoggerFactory::VALIDATION::ERROR",
            "{doc}: {}",
            e.msg()
        );
        assert!(
            e.msg().contains(&format!("`{path}`")),
            "{doc}: {} should name {path}",
            e.msg()
        );
        assert!(!e.recoverable());
        assert!(e.to_string().contains(e.msg()), "{e}");
        println!("{}\n  -> {e}", e.msg());
        // The same mistakes in YAML (JSON is YAML) name the same path.
        let y = Kolog::from_yaml_str(&doc).unwrap_err();
        assert!(y.msg().contains(&format!("`{path}`")), "{}", y.msg());
        // and through the two-step form
        let qm = QueueManager::start(QueueConfig::default()).unwrap();
        if !path.starts_with("queue") {
            let f = LoggerFactory::from_json_str(&doc, &qm).unwrap_err();
            assert_eq!(f.code(), e.code());
            assert!(f.msg().contains(&format!("`{path}`")), "{}", f.msg());
        }
    }
    // Malformed JSON: PARSING, with line and column.
    let e = Kolog::from_json_str("{\n  \"loggers\": [,]\n}").unwrap_err();
    assert_eq!(e.code(), "CONFIGURATION::LoggerFactory::PARSING::ERROR");
    assert!(e.msg().contains("line 2"), "{}", e.msg());
    assert!(e.source().is_some());
}

/// A YAML user writes the null handler as `type: null`, which YAML reads as no value.
#[test]
fn yaml_null_handler_type_written_bare_says_to_quote_it() {
    let e = Kolog::from_yaml_str("loggers:\n  - name: root\n    handlers:\n      - type: null\n")
        .unwrap_err();
    assert_eq!(e.code(), "CONFIGURATION::LoggerFactory::VALIDATION::ERROR");
    assert!(
        e.msg().contains("`loggers[0].handlers[0].type`"),
        "{}",
        e.msg()
    );
    assert!(e.msg().contains(r#"type: "null""#), "{}", e.msg());
}

// ---------------------------------------------------------------------------------------------
// 10. Levels
// ---------------------------------------------------------------------------------------------

#[test]
fn levels_parse_case_insensitively_and_filter_at_the_logger() {
    for (text, want) in [
        ("trace", Level::Trace),
        ("Debug", Level::Debug),
        ("INFO", Level::Info),
        ("warning", Level::Warning),
        ("WARN", Level::Warning),
        ("warn", Level::Warning),
        ("Error", Level::Error),
        ("CRITICAL", Level::Critical),
    ] {
        assert_eq!(text.parse::<Level>().unwrap(), want, "{text}");
    }
    for bad in ["", "FATAL", "information", " INFO", "WARNINGS"] {
        let e = bad.parse::<Level>().unwrap_err();
        assert!(e.to_string().contains(bad.trim()), "{e}");
    }
    assert_eq!(Level::Warning.to_string(), "WARNING");
    assert_eq!(Level::Critical.as_str(), "CRITICAL");
    assert!(Level::Trace < Level::Debug && Level::Error < Level::Critical);

    let kolog = Kolog::from_json_str(
        r#"{"loggers": [{"name": "root", "level": "info", "handlers": [{"type": "null",
            "renderer": {"type": "stream_plain", "params": {"fmt": "%(level)s %(event)s"}}}]}]}"#,
    )
    .unwrap();
    let sink = Sink::new();
    kolog.queue_manager().add_sink("root", sink.clone());
    let log = kolog.logger("root").unwrap();
    assert!(!log.enabled(Level::Debug) && log.enabled(Level::Info));
    let mut evaluated = 0;
    debug!(
        log,
        "filtered",
        n = {
            evaluated += 1;
            evaluated
        }
    );
    assert_eq!(evaluated, 0, "fields of a disabled level are not evaluated");
    kolog::trace!(log, "filtered too");
    for level in Level::ALL {
        log!(log, level, "dynamic", lvl = %level);
    }
    info!(log, "i");
    warning!(log, "w");
    error!(log, "e");
    critical!(log, "c");
    assert_eq!(
        sink.events(),
        [
            "INFO dynamic lvl=INFO",
            "WARNING dynamic lvl=WARNING",
            "ERROR dynamic lvl=ERROR",
            "CRITICAL dynamic lvl=CRITICAL",
            "INFO i",
            "WARNING w",
            "ERROR e",
            "CRITICAL c",
        ]
    );
    let st = kolog.stats();
    assert_eq!(
        (st.enqueued, st.written, st.filtered, st.dropped),
        (8, 8, 0, 0)
    );
}

// ---------------------------------------------------------------------------------------------
// 8. Bridges
// ---------------------------------------------------------------------------------------------

fn bridge_doc() -> &'static str {
    r#"{"loggers": [
        {"name": "root", "level": "INFO", "handlers": [{"type": "null",
            "renderer": {"type": "stream_plain", "params": {"fmt": "%(level)s [%(name)s] %(event)s"}}}]},
        {"name": "app.db", "level": "DEBUG", "context": {"layer": "db"}, "handlers": [{"type": "null",
            "renderer": {"type": "stream_plain", "params": {"fmt": "%(level)s [%(name)s] %(event)s"}}}]}
    ]}"#
}

#[test]
fn child_log_bridge() {
    if !is_child("child_log_bridge") {
        return;
    }
    let kolog = Kolog::from_json_str(bridge_doc()).unwrap();
    let sink = Sink::new();
    kolog.queue_manager().add_sink("root", sink.clone());
    kolog::bridge::log::init(&kolog).unwrap();
    assert_eq!(::log::max_level(), ::log::LevelFilter::Debug);
    log::info!(target: "app::db", user_id = 7; "connected"); // the log crate beside kolog::log
    ::log::debug!(target: "app::db::pool", "pool size {}", 4);
    ::log::debug!(target: "other", "below root's level");
    ::log::warn!(target: "other", "careful");
    ::log::trace!(target: "app::db", "below every level");
    let e = kolog::bridge::log::init(&kolog).unwrap_err();
    assert_eq!(e.code(), "LOGGER::LogBridge::CONFIGURATION::ERROR");
    assert_eq!(e.kind(), ErrorKind::LoggerCreation);
    assert_eq!(
        sink.events(),
        [
            "INFO [app.db] connected layer=db user_id=7",
            "DEBUG [app.db.pool] pool size 4 layer=db",
            "WARNING [other] careful",
        ]
    );
    let st = kolog.shutdown().unwrap();
    assert_eq!((st.enqueued, st.written), (3, 3));
}

#[test]
fn log_bridge_routes_by_target_with_levels_and_key_values() {
    run_child("child_log_bridge");
}

#[test]
fn tracing_layer_routes_by_target_with_span_fields_as_context() {
    use tracing_subscriber::layer::SubscriberExt;
    let kolog = Kolog::from_json_str(bridge_doc()).unwrap();
    let sink = Sink::new();
    kolog.queue_manager().add_sink("root", sink.clone());
    let subscriber = tracing_subscriber::registry().with(kolog::bridge::tracing::layer(&kolog));
    tracing::subscriber::with_default(subscriber, || {
        tracing::info!(target: "app::db", user_id = 7, "connected");
        let span = tracing::info_span!("request", request_id = "abc");
        let _g = span.enter();
        let inner = tracing::info_span!("query", table = "users");
        let _h = inner.enter();
        tracing::warn!(target: "app::db", rows = 3, "slow query");
        tracing::debug!(target: "other", "below root's level");
        tracing::error!(target: "other", ok = false, "failed");
    });
    assert_eq!(
        sink.events(),
        [
            "INFO [app.db] connected layer=db user_id=7",
            "WARNING [app.db] slow query layer=db request_id=abc table=users rows=3",
            "ERROR [other] failed request_id=abc table=users ok=false",
        ]
    );
    let st = kolog.shutdown().unwrap();
    assert_eq!((st.enqueued, st.written), (3, 3));
}

// ---------------------------------------------------------------------------------------------
// 9. Kolog::default(), and dropping a Kolog without shutdown
// ---------------------------------------------------------------------------------------------

#[test]
fn child_default_then_drop() {
    if !is_child("child_default_then_drop") {
        return;
    }
    let kolog = Kolog::default();
    let log = kolog.logger("app").unwrap();
    assert_eq!(log.level(), Level::Info);
    debug!(log, "hidden");
    for i in 0..1000 {
        info!(log, "record", i = i);
    }
    let threads: Vec<_> = (0..3)
        .map(|t| {
            let log = log.clone();
            std::thread::spawn(move || {
                for i in 0..1000 {
                    warning!(log, "from thread", t = t, i = i);
                }
            })
        })
        .collect();
    for t in threads {
        t.join().unwrap();
    }
    drop(kolog); // no shutdown(), no flush()
    println!("DROPPED");
}

#[test]
fn default_writes_plain_text_to_stderr_and_drop_writes_everything() {
    let (stdout, stderr) = run_child("child_default_then_drop");
    assert!(stdout.contains("DROPPED"), "{stdout}");
    let lines: Vec<&str> = stderr
        .lines()
        .filter(|l| l.starts_with("[20"))
        .map(strip_asctime)
        .collect();
    assert_eq!(lines.len(), 4000, "{stderr}");
    let mine: Vec<String> = lines
        .iter()
        .filter(|l| l.starts_with(" [INFO"))
        .map(|l| l.to_string())
        .collect();
    let want: Vec<String> = (0..1000)
        .map(|i| format!(" [INFO    ] [app]: record i={i}"))
        .collect();
    assert_eq!(mine, want);
    for t in 0..3 {
        let theirs: Vec<&str> = lines
            .iter()
            .copied()
            .filter(|l| l.contains(&format!(" t={t} ")))
            .collect();
        let want: Vec<String> = (0..1000)
            .map(|i| format!(" [WARNING ] [app]: from thread t={t} i={i}"))
            .collect();
        assert_eq!(theirs, want);
    }
    assert!(!stderr.contains('\x1b'));
}

#[test]
fn dropping_a_kolog_writes_its_file() {
    let dir = tmp("drop-file");
    let path = dir.join("app.log");
    let kolog = Kolog::from_json_str(&common::root_json_file(&path)).unwrap();
    let log = kolog.logger("svc").unwrap();
    for i in 0..5000u64 {
        info!(log, "record", i = i);
    }
    drop(kolog);
    // The logger outlives its system: logging is counted as dropped, never blocks or panics.
    info!(log, "after drop");
    let v = common::json_lines(&path);
    assert_eq!(v.len(), 5000);
    for (i, r) in v.iter().enumerate() {
        assert_eq!(r["i"], i as u64);
        assert_eq!(r["logger"], "svc");
    }
}

// ---------------------------------------------------------------------------------------------
// What a user expects of the types
// ---------------------------------------------------------------------------------------------

#[test]
fn public_types_are_debug_and_loggers_are_send_sync_clone() {
    fn send_sync_clone<T: Send + Sync + Clone + 'static>() {}
    fn send_static<T: Send + 'static>(_: &T) {}
    send_sync_clone::<Logger>();
    send_sync_clone::<Sink>();
    fn send_sync<T: Send + Sync + 'static>() {}
    send_sync::<Error>();
    let kolog =
        Kolog::from_json_str(r#"{"loggers": [{"name": "root", "handlers": [{"type": "null"}]}]}"#)
            .unwrap();
    let log = kolog.logger("app").unwrap();
    let guard = info_life!(log, "Database query", table = "users");
    let debug = format!("{guard:?}");
    assert!(debug.contains("Database query"), "{debug}");
    drop(guard);
    let fut = ainfo!(log, "future");
    send_static(&fut);
    assert!(format!("{fut:?}").contains("EnqueueFuture"));
    drop(fut);
    let layer = kolog::bridge::tracing::layer(&kolog);
    assert!(format!("{layer:?}").contains("KologLayer"));
    // kolog::Error works with `?` into Box<dyn Error + Send + Sync>.
    fn load() -> Result<Kolog, Box<dyn std::error::Error + Send + Sync>> {
        Ok(Kolog::from_json_str("{")?)
    }
    assert!(load().unwrap_err().to_string().contains("PARSING"));
    let st = kolog.shutdown().unwrap();
    assert_eq!((st.enqueued, st.written), (3, 3));
}

// ---------------------------------------------------------------------------------------------
// Field syntax, file modes, renderer params a user tries next
// ---------------------------------------------------------------------------------------------

#[test]
fn field_syntax_display_debug_shorthand_raw_identifiers() {
    let kolog = Kolog::from_json_str(
        r#"{"loggers": [{"name": "root", "handlers": [{"type": "null", "renderer": {"type": "stream_json"}}]}]}"#,
    )
    .unwrap();
    let sink = Sink::new();
    kolog.queue_manager().add_sink("root", sink.clone());
    let log = kolog.logger("root").unwrap();
    let addr: std::net::SocketAddr = "127.0.0.1:8080".parse().unwrap();
    let e = std::io::Error::other("boom");
    let user_id = 123u32;
    let name = String::from("ann");
    let opt: Option<u8> = None;
    info!(
        log,
        "Processing request",
        user_id,
        ip = %addr,
        err = ?e.kind(),
        r#type = "t",
        name = name.as_str(),
        owned = name.clone(),
        neg = -5i64,
        big = u64::MAX,
        f = 1.5f64,
        yes = true,
        opt = ?opt,
        ch = 'x'
    );
    let by_ref: &Logger = &log;
    info!(by_ref, "by reference");
    let arc = std::sync::Arc::new(log.clone());
    info!(arc, "through an Arc");
    let lvl: Level = "warn".parse().unwrap();
    log!(log, lvl, "dynamic level");
    let recs = sink.records();
    assert_eq!(
        serde_json::Value::Object(recs[0].fields.clone()),
        serde_json::json!({"level": "INFO", "logger": "root", "event": "Processing request",
            "user_id": 123, "ip": "127.0.0.1:8080", "err": "Other", "type": "t",
            "name": "ann", "owned": "ann", "neg": -5, "big": u64::MAX, "f": 1.5, "yes": true,
            "opt": "None", "ch": "x"})
    );
    assert_eq!(recs[1]["event"], "by reference");
    assert_eq!(recs[2]["event"], "through an Arc");
    assert_eq!(recs[3]["level"], "WARNING");
    assert_eq!(kolog.shutdown().unwrap().written, 4);
}

#[test]
fn file_modes_append_truncate_and_override_existing() {
    let dir = tmp("modes");
    let doc = |path: &Path, params: &str| {
        format!(
            r#"{{"loggers": [{{"name": "root", "handlers": [{{"type": "file",
                "params": {{"filename": "{}"{params}}},
                "renderer": {{"type": "file_plain", "params": {{"fmt": "%(event)s"}}}}}}]}}]}}"#,
            s(path)
        )
    };
    let cases = [
        ("", "old\nnew\n"),
        (r#", "mode": "a""#, "old\nnew\n"),
        (r#", "mode": "ab""#, "old\nnew\n"),
        (r#", "mode": "w""#, "new\n"),
        (r#", "mode": "wb""#, "new\n"),
        (r#", "mode": "a", "override_existing": true"#, "new\n"),
        (r#", "mode": "w", "override_existing": false"#, "new\n"),
        (r#", "encoding": "utf-8""#, "old\nnew\n"),
    ];
    for (i, (params, want)) in cases.iter().enumerate() {
        let path = dir.join(format!("{i}.log"));
        std::fs::write(&path, "old\n").unwrap();
        let kolog = Kolog::from_json_str(&doc(&path, params)).unwrap();
        info!(kolog.logger("root").unwrap(), "new");
        kolog.shutdown().unwrap();
        assert_eq!(std::fs::read_to_string(&path).unwrap(), *want, "{params}");
    }
    let e =
        Kolog::from_json_str(&doc(&dir.join("x.log"), r#", "encoding": "latin-1""#)).unwrap_err();
    assert!(
        e.msg().contains("`loggers[0].handlers[0].params.encoding`"),
        "{}",
        e.msg()
    );
}

#[test]
fn renderer_params_indentation_datefmt_and_default_fmt() {
    let kolog = Kolog::from_json_str(
        r#"{"loggers": [
            {"name": "j", "handlers": [{"type": "null", "renderer": {"type": "stream_json", "params": {"indentation": 4}}}]},
            {"name": "p", "handlers": [{"type": "null", "renderer": {"type": "stream_plain", "params": {"datefmt": "%H:%M:%S.%f"}}}]},
            {"name": "q", "handlers": [{"type": "null", "renderer": {"type": "file_plain", "params": {"fmt": "%(asctime)s|%(name).3s|%(n)05d|%(event)r|%%"}}}]}
        ]}"#,
    )
    .unwrap();
    let sinks: Vec<Sink> = ["j", "p", "q"]
        .iter()
        .map(|n| {
            let s = Sink::new();
            kolog.queue_manager().add_sink(n, s.clone());
            s
        })
        .collect();
    info!(kolog.logger("j").unwrap(), "pretty", n = 1);
    info!(
        kolog.logger("p").unwrap(),
        "plain",
        n = 2,
        note = "two words"
    );
    info!(kolog.logger("q.x").unwrap(), "hello", n = 42);
    let j = &sinks[0].events()[0];
    let v: serde_json::Value = serde_json::from_str(j).unwrap();
    let ts = v["timestamp"].as_str().unwrap();
    assert_eq!(
        *j,
        format!(
            "{{\n    \"timestamp\": \"{ts}\",\n    \"level\": \"INFO\",\n    \"logger\": \"j\",\n    \"event\": \"pretty\",\n    \"n\": 1\n}}"
        )
    );
    let p = &sinks[1].events()[0];
    // [13:48:21.123456] [INFO    ] [p]: plain n=2 note="two words"
    assert_eq!(&p[..1], "[");
    assert_eq!(&p[16..], "] [INFO    ] [p]: plain n=2 note=\"two words\"");
    assert_eq!(&p[3..4], ":");
    assert_eq!(&p[9..10], ".");
    let q = &sinks[2].events()[0];
    assert_eq!(&q[19..], "|q.x|00042|'hello'|%");
}

#[test]
fn custom_processor_typed_config_and_unregistered_names() {
    use kolog::config::ProcessorConfig;
    // A name nobody registered: the document names the path and says how to register.
    let e = Kolog::from_json_str(
        r#"{"loggers": [{"name": "root", "handlers": [{"type": "null", "processors": [{"type": "nu_not_registered"}]}]}]}"#,
    )
    .unwrap_err();
    println!("{}", e.msg());
    assert!(e.msg().contains("register_processor"), "{}", e.msg());
    // Registered afterwards, the same document loads.
    kolog::register_processor("nu_not_registered", |_| {
        Ok(Box::new(|_: &mut kolog::EventDict<'_>| {
            kolog::process::Action::Drop
        }))
    });
    let kolog = Kolog::from_json_str(
        r#"{"loggers": [{"name": "root", "handlers": [{"type": "null", "processors": [{"type": "nu_not_registered"}]}]}]}"#,
    )
    .unwrap();
    info!(kolog.logger("root").unwrap(), "dropped");
    let r = kolog.shutdown().unwrap();
    assert_eq!((r.enqueued, r.written, r.filtered), (1, 0, 1));
    let _ = ProcessorConfig::FilterMarkup;
}

// ---------------------------------------------------------------------------------------------
// Embedding, sharing, spawning
// ---------------------------------------------------------------------------------------------

#[test]
fn logging_config_embeds_in_an_application_config() {
    #[derive(serde::Deserialize)]
    struct AppConfig {
        port: u16,
        logging: LoggingSystemConfig,
    }
    let app: AppConfig = serde_json::from_str(
        r#"{"port": 8080, "logging": {"queue": {"max_queue_size": 100, "backpressure_policy": "drop"},
            "loggers": [{"name": "root", "level": "warn", "handlers": [{"type": "null"}]}]}}"#,
    )
    .unwrap();
    assert_eq!(app.port, 8080);
    assert_eq!(
        app.logging.queue.backpressure_policy,
        BackpressurePolicy::Drop
    );
    assert_eq!(app.logging.loggers[0].level, Some(Level::Warning));
    let kolog = Kolog::from_config(app.logging).unwrap();
    assert_eq!(kolog.logger("x").unwrap().level(), Level::Warning);
    let e = serde_json::from_str::<AppConfig>(
        r#"{"port": 1, "logging": {"loggers": [{"name": "root", "handlers": [{"type": "null", "renderer": {"type": "xml"}}]}]}}"#,
    )
    .err()
    .unwrap()
    .to_string();
    assert!(e.contains("loggers[0].handlers[0].renderer.type"), "{e}");
}

#[test]
fn a_kolog_shared_across_threads_and_tasks() {
    common::within(120, "shared kolog", || {
        let kolog = std::sync::Arc::new(
            Kolog::from_json_str(
                r#"{"queue": {"max_queue_size": 4}, "loggers": [{"name": "root", "handlers": [{"type": "null"}]}]}"#,
            )
            .unwrap(),
        );
        let threads: Vec<_> = (0..4)
            .map(|t| {
                let kolog = kolog.clone();
                std::thread::spawn(move || {
                    let log = kolog.logger(&format!("worker.{t}")).unwrap();
                    for i in 0..1000 {
                        info!(log, "tick", i = i);
                    }
                })
            })
            .collect();
        let rt = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_time()
            .build()
            .unwrap();
        let log = kolog.logger("tasks").unwrap();
        let outputs = rt.block_on(async {
            let mut handles = Vec::new();
            for t in 0..4u64 {
                let log = log.clone();
                // The futures of ainfo! and ainfo_life are Send + 'static once the logger is
                // moved in: tokio::spawn takes them.
                handles.push(tokio::spawn(ainfo!(log, "spawned", t = t)));
                handles.push(tokio::spawn(async move {
                    log.ainfo_life("task", async move {
                        tokio::task::yield_now().await;
                    })
                    .await
                }));
            }
            let mut n = 0;
            for h in handles {
                h.await.unwrap();
                n += 1;
            }
            n
        });
        assert_eq!(outputs, 8);
        for t in threads {
            t.join().unwrap();
        }
        kolog.flush();
        let st = kolog.stats();
        assert_eq!(
            (st.enqueued, st.written, st.dropped),
            (4000 + 4 + 8, 4012, 0),
            "{st:?}"
        );
    });
}

#[test]
fn lifecycle_below_the_logger_level_logs_nothing_and_bind_works_on_a_guard() {
    let kolog = Kolog::from_json_str(
        r#"{"loggers": [{"name": "root", "level": "WARNING", "handlers": [{"type": "null",
            "renderer": {"type": "stream_plain", "params": {"fmt": "%(event)s"}}}]}]}"#,
    )
    .unwrap();
    let sink = Sink::new();
    kolog.queue_manager().add_sink("root", sink.clone());
    let log = kolog.logger("root").unwrap();
    {
        let g = info_life!(log, "quiet", step = 1);
        let b = bind!(g, extra = true);
        warning!(b, "inside");
    }
    assert_eq!(sink.events(), ["inside step=1 extra=true"]);
}

#[test]
fn logger_names_that_are_not_names() {
    let kolog =
        Kolog::from_json_str(r#"{"loggers": [{"name": "root", "handlers": [{"type": "null"}]}]}"#)
            .unwrap();
    for name in ["", ".", "app.", ".app", "app..db"] {
        match kolog.logger(name) {
            Ok(l) => println!("{name:?} -> Ok({})", l.name()),
            Err(e) => println!("{name:?} -> {e}"),
        }
    }
    let e = Kolog::from_json_str(r#"{"loggers": [{"name": "app..db"}]}"#).unwrap_err();
    assert!(e.msg().contains("`loggers[0].name`"), "{}", e.msg());
}

// ---------------------------------------------------------------------------------------------
// Loss accounting a user checks once
// ---------------------------------------------------------------------------------------------

#[test]
fn drop_and_drop_oldest_account_for_every_record() {
    common::within(120, "drop policies", || {
        for policy in ["drop", "drop_oldest"] {
            let kolog = Kolog::from_json_str(&format!(
                r#"{{"queue": {{"max_queue_size": 1, "backpressure_policy": "{policy}"}},
                    "loggers": [{{"name": "root", "handlers": [{{"type": "null"}}]}}]}}"#
            ))
            .unwrap();
            let sink = Sink::new();
            kolog.queue_manager().add_sink("root", sink.clone());
            let log = kolog.logger("root").unwrap();
            for i in 0..20_000u64 {
                info!(
                    log,
                    "burst",
                    i = i,
                    pad = "padding padding padding padding padding"
                );
            }
            let r = kolog.shutdown().unwrap();
            let got: Vec<u64> = sink
                .records()
                .iter()
                .map(|r| r["i"].as_u64().unwrap())
                .collect();
            assert_eq!(r.written as usize, got.len(), "{policy}: {r:?}");
            assert!(got.windows(2).all(|w| w[0] < w[1]), "{policy}: in order");
            assert_eq!(
                r.failed + r.filtered + r.dropped_timeout + r.dropped_oversize,
                0
            );
            if policy == "drop" {
                assert_eq!(r.written + r.dropped_full, 20_000, "{r:?}");
                assert_eq!(r.enqueued, r.written, "{r:?}");
                assert_eq!(r.dropped, r.dropped_full);
            } else {
                assert_eq!(r.written + r.dropped_oldest, 20_000, "{r:?}");
                assert_eq!(r.enqueued, 20_000, "{r:?}");
                assert_eq!(r.dropped, r.dropped_oldest);
                assert_eq!(*got.last().unwrap(), 19_999, "the newest survives");
            }
        }
    });
}

#[test]
fn child_panic_hook() {
    if !is_child("child_panic_hook") {
        return;
    }
    let path = PathBuf::from(std::env::var("NU_DIR").unwrap()).join("panic.log");
    let kolog = Kolog::from_json_str(&common::root_json_file(&path)).unwrap();
    kolog::install_panic_hook(&kolog).unwrap();
    let h = std::thread::Builder::new()
        .name("worker".into())
        .spawn(|| panic!("worker failed: {}", 7))
        .unwrap();
    assert!(h.join().is_err());
    let v = common::json_lines(&path); // the hook flushed
    assert_eq!(v.len(), 1);
    assert_eq!(v[0]["level"], "CRITICAL");
    assert_eq!(v[0]["logger"], "panic");
    println!("PANIC RECORD {}", v[0]);
    assert!(v[0].to_string().contains("worker failed: 7"));
    assert!(v[0].to_string().contains("new_user_round.rs"));
}

#[test]
fn install_panic_hook_logs_panics_at_critical() {
    let no_root =
        Kolog::from_json_str(r#"{"loggers": [{"name": "app", "handlers": [{"type": "null"}]}]}"#)
            .unwrap();
    let e = kolog::install_panic_hook(&no_root).unwrap_err();
    assert_eq!(e.code(), "CONFIGURATION::LoggerFactory::VALIDATION::ERROR");
    assert!(e.msg().contains("`panic`"), "{}", e.msg());
    let dir = tmp("panic-hook");
    let out = common::run_child("child_panic_hook", CHILD, &[("NU_DIR", &s(&dir))], &[], 120);
    common::assert_child_succeeded(&out);
}

// ---------------------------------------------------------------------------------------------
// The seed's configuration in code (typed), as its Quick Start builds it
// ---------------------------------------------------------------------------------------------

#[test]
fn typed_configuration_in_code() {
    use kolog::config::{
        FileParams, HandlerConfig, HandlerKind, LoggerConfig, ProcessorConfig, RendererConfig,
        RendererKind,
    };
    let dir = tmp("typed");
    let path = dir.join("typed.log");
    let config = LoggingSystemConfig {
        loggers: vec![LoggerConfig {
            name: "app".into(),
            level: Some(Level::Info),
            handlers: vec![HandlerConfig {
                kind: HandlerKind::File(FileParams::new(&path)),
                renderer: RendererConfig {
                    fmt: Some("[%(level)-8s] [%(name)s]: %(event)s".into()),
                    ..RendererConfig::new(RendererKind::FilePlain)
                },
                processors: vec![ProcessorConfig::FilterByLevel {
                    min_level: Level::Warning,
                }],
            }],
            context: Default::default(),
        }],
        ..Default::default()
    };
    let qm = QueueManager::start(config.queue.clone()).unwrap();
    let factory = LoggerFactory::new(config.clone(), &qm).unwrap();
    let log = factory.get_logger("app").unwrap();
    info!(log, "filtered");
    warning!(log, "kept", n = 1);
    let r = qm.shutdown().unwrap();
    assert_eq!((r.enqueued, r.written, r.filtered), (2, 1, 1));
    assert_eq!(
        std::fs::read_to_string(&path).unwrap(),
        "[WARNING ] [app]: kept n=1\n"
    );
    // The constructors give what a document without those keys gives.
    let from_doc = LoggingSystemConfig::from_json_str(&format!(
        r#"{{"loggers": [{{"name": "a", "handlers": [
            {{"type": "file", "params": {{"filename": "{0}"}}}},
            {{"type": "rotating_file", "params": {{"filename": "{0}"}}}}]}}]}}"#,
        s(&path)
    ))
    .unwrap();
    assert_eq!(
        from_doc.loggers[0].handlers[0].kind,
        HandlerKind::File(FileParams::new(&path))
    );
    assert_eq!(
        from_doc.loggers[0].handlers[1].kind,
        HandlerKind::RotatingFile(kolog::config::RotatingFileParams::new(&path))
    );
    // An unregistered custom processor in a typed config: a logger-creation error whose
    // source is the processor error.
    let mut bad = config;
    bad.loggers[0].handlers[0].processors = vec![ProcessorConfig::Custom {
        name: "nu_nobody_registered_this".into(),
        params: serde_json::Value::Null,
    }];
    let qm = QueueManager::start(QueueConfig::default()).unwrap();
    let e = LoggerFactory::new(bad, &qm).unwrap_err();
    assert_eq!(e.kind(), ErrorKind::LoggerCreation);
    assert_eq!(e.msg(), "Failed to create logger `app`");
    let cause = e.source().unwrap().downcast_ref::<Error>().unwrap();
    assert_eq!(cause.kind(), ErrorKind::Processor);
    assert_eq!(
        cause.code(),
        "PROCESSOR::ProcessorFactory::CONFIGURATION::ERROR"
    );
    assert!(
        cause.msg().contains("nu_nobody_registered_this"),
        "{}",
        cause.msg()
    );
}

// ---------------------------------------------------------------------------------------------
// More first attempts
// ---------------------------------------------------------------------------------------------

#[test]
fn seed_yaml_through_from_yaml_str() {
    let dir = tmp("seed-yaml");
    let path = dir.join("app.log");
    let kolog = Kolog::from_yaml_str(&common::seed_yaml(&s(&path))).unwrap();
    let logger = kolog.logger("root").unwrap();
    let line = line!() + 1;
    info!(logger, "Application started", user_id = 123);
    debug!(logger, "filtered");
    kolog.shutdown().unwrap();
    check_seed_json_file(&path, line, "seed_yaml_through_from_yaml_str");
}

#[test]
fn bad_fmt_and_datefmt_in_a_document() {
    for (params, what) in [
        (r#"{"fmt": "%(event)q"}"#, "fmt"),
        (r#"{"fmt": "%(event"}"#, "fmt"),
        (r#"{"datefmt": "%Q"}"#, "datefmt"),
    ] {
        let e = Kolog::from_json_str(&format!(
            r#"{{"loggers": [{{"name": "root", "handlers": [{{"type": "null", "renderer": {{"type": "stream_plain", "params": {params}}}}}]}}]}}"#
        ))
        .unwrap_err();
        println!("{} -> {e}", params);
        assert_eq!(e.kind(), ErrorKind::Configuration, "{e}");
        assert!(
            e.msg()
                .contains(&format!("`loggers[0].handlers[0].renderer.params.{what}`")),
            "{e}"
        );
    }
}

#[test]
fn context_defaults_with_nested_values_and_fixed_keys_that_stay() {
    let kolog = Kolog::from_json_str(
        r#"{"loggers": [{"name": "root", "context": {"tags": ["a", "b"]}, "handlers": [{"type": "null",
            "renderer": {"type": "stream_json"},
            "processors": [
              {"type": "add_context_defaults", "params": {"defaults": {"meta": {"v": 1}, "none": null}}},
              {"type": "filter_keys", "params": {"keys": ["event", "level", "gone"]}}
            ]}]}]}"#,
    )
    .unwrap();
    let sink = Sink::new();
    kolog.queue_manager().add_sink("root", sink.clone());
    info!(kolog.logger("root").unwrap(), "kept", gone = 1);
    let line: serde_json::Value = serde_json::from_str(&sink.events()[0]).unwrap();
    let mut obj = line.as_object().unwrap().clone();
    obj.remove("timestamp");
    assert_eq!(
        serde_json::Value::Object(obj),
        serde_json::json!({"level": "INFO", "logger": "root", "event": "kept",
            "tags": "[\"a\",\"b\"]", "meta": "{\"v\":1}", "none": "null"})
    );
}

#[test]
fn a_logger_without_handlers_and_a_sink() {
    let kolog = Kolog::from_json_str(
        r#"{"loggers": [{"name": "root", "handlers": []}, {"name": "quiet"}]}"#,
    )
    .unwrap();
    let log = kolog.logger("quiet").unwrap();
    info!(log, "nowhere");
    kolog.flush();
    let st = kolog.stats();
    // No handler took it: counted as filtered, not written.
    assert_eq!(
        (st.enqueued, st.written, st.filtered, st.failed),
        (1, 0, 1, 0),
        "{st:?}"
    );
    let sink = Sink::new();
    kolog.queue_manager().add_sink("quiet", sink.clone());
    info!(log, "captured", n = 1);
    assert_eq!(sink.records()[0]["n"], 1);
    let events = sink.events();
    assert_eq!(events.len(), 1);
    // No first handler: stream_plain's default format.
    assert_eq!(
        strip_asctime(&events[0]),
        " [INFO    ] [quiet]: captured n=1"
    );
    assert_eq!(kolog.stats().written, 1);
}

#[test]
fn async_logging_after_shutdown_completes_and_is_counted() {
    common::within(60, "ainfo after shutdown", || {
        let kolog = Kolog::from_json_str(
            r#"{"queue": {"max_queue_size": 1}, "loggers": [{"name": "root", "handlers": [{"type": "null"}]}]}"#,
        )
        .unwrap();
        let log = kolog.logger("root").unwrap();
        kolog.shutdown().unwrap();
        let rt = tokio::runtime::Builder::new_current_thread()
            .build()
            .unwrap();
        rt.block_on(async {
            for _ in 0..100 {
                ainfo!(log, "late", pad = "padding padding padding padding padding").await;
            }
            let v = log.ainfo_life("late life", async { 5 }).await;
            assert_eq!(v, 5);
        });
        let st = kolog.stats();
        assert_eq!((st.enqueued, st.written, st.dropped_shutdown), (0, 0, 102));
    });
}

#[test]
fn level_serde_and_zero_drain_timeout_and_two_systems() {
    assert_eq!(
        serde_json::to_string(&Level::Warning).unwrap(),
        "\"WARNING\""
    );
    assert_eq!(
        serde_json::from_str::<Level>("\"warn\"").unwrap(),
        Level::Warning
    );
    assert!(serde_json::from_str::<Level>("\"loud\"").is_err());

    // drain_timeout 0: shutdown does not wait; what it did not write is counted.
    let kolog = Kolog::from_json_str(
        r#"{"queue": {"drain_timeout": 0}, "loggers": [{"name": "root", "handlers": [{"type": "null"}]}]}"#,
    )
    .unwrap();
    assert_eq!(kolog.queue_manager().config().drain_timeout, Duration::ZERO);
    let log = kolog.logger("root").unwrap();
    for i in 0..1000 {
        info!(log, "r", i = i);
    }
    let r = kolog.shutdown().unwrap();
    assert_eq!(r.enqueued, 1000);
    assert_eq!(r.written + r.dropped_timeout, 1000, "{r:?}");
    assert_eq!(r.timed_out, r.dropped_timeout > 0);

    // Two systems in one process, each writing its own file.
    let dir = tmp("two-systems");
    let (a, b) = (dir.join("a.log"), dir.join("b.log"));
    let ka = Kolog::from_json_str(&common::root_json_file(&a)).unwrap();
    let kb = Kolog::from_json_str(&common::root_json_file(&b)).unwrap();
    info!(ka.logger("x").unwrap(), "to a");
    info!(kb.logger("x").unwrap(), "to b");
    info!(ka.logger("x").unwrap(), "to a again");
    drop(ka);
    drop(kb);
    let ev = |p: &Path| -> Vec<String> {
        common::json_lines(p)
            .iter()
            .map(|v| v["event"].as_str().unwrap().to_owned())
            .collect()
    };
    assert_eq!(ev(&a), ["to a", "to a again"]);
    assert_eq!(ev(&b), ["to b"]);

    // A directory where the configuration file should be.
    let e = Kolog::from_path(&dir).unwrap_err();
    println!("{e}");
    assert_eq!(e.kind(), ErrorKind::Configuration);
}

#[test]
fn bind_with_display_debug_many_fields_unicode_widths_and_oversize() {
    let kolog = Kolog::from_json_str(
        r#"{"queue": {"max_queue_size": 100},
            "loggers": [{"name": "root", "handlers": [{"type": "null",
            "renderer": {"type": "stream_plain", "params": {"fmt": "%(name)-6s|%(event).4s|"}}}]}]}"#,
    )
    .unwrap();
    let sink = Sink::new();
    kolog.queue_manager().add_sink("root", sink.clone());
    let log = kolog.logger("héé").unwrap();
    let addr: std::net::IpAddr = "10.0.0.1".parse().unwrap();
    let e = std::io::Error::other("gone");
    let b = bind!(log, ip = %addr, kind = ?e.kind(), err = &e);
    info!(b, "ünïcode");
    info!(
        log,
        "many",
        f01 = 1,
        f02 = 2,
        f03 = 3,
        f04 = 4,
        f05 = 5,
        f06 = 6,
        f07 = 7,
        f08 = 8,
        f09 = 9,
        f10 = 10,
        f11 = 11,
        f12 = 12,
        f13 = 13,
        f14 = 14,
        f15 = 15,
        f16 = 16,
        f17 = 17,
        f18 = 18,
        f19 = 19,
        f20 = 20,
        f21 = 21,
        f22 = 22,
        f23 = 23,
        f24 = 24,
        f25 = 25
    );
    let huge = "x".repeat(64 * 1024);
    info!(log, "huge", s = huge.as_str());
    let ev = sink.events();
    assert_eq!(ev[0], "héé   |ünïc| ip=10.0.0.1 kind=Other err=gone");
    let want: String = (1..=25).map(|i| format!(" f{i:02}={i}")).collect();
    assert_eq!(ev[1], format!("héé   |many|{want}"));
    assert_eq!(ev.len(), 2, "the 64 KiB record does not fit a 16 KiB ring");
    let st = kolog.stats();
    assert_eq!((st.dropped_oversize, st.dropped), (1, 1), "{st:?}");
}

#[test]
fn child_relative_filename() {
    if !is_child("child_relative_filename") {
        return;
    }
    let conf = PathBuf::from(std::env::var("NU_CONF").unwrap());
    let kolog = Kolog::from_path(&conf).unwrap();
    info!(kolog.logger("root").unwrap(), "relative");
    kolog.shutdown().unwrap();
}

/// A relative `filename` is relative to the working directory, not to the configuration file.
#[test]
fn relative_filenames_are_relative_to_the_working_directory() {
    let dir = tmp("relative");
    let (conf_dir, cwd) = (dir.join("etc"), dir.join("run"));
    std::fs::create_dir_all(&conf_dir).unwrap();
    std::fs::create_dir_all(&cwd).unwrap();
    let conf = conf_dir.join("kolog.yaml");
    std::fs::write(
        &conf,
        "loggers:\n  - name: root\n    handlers:\n      - type: file\n        params: {filename: rel.log}\n        renderer: {type: file_plain, params: {fmt: '%(event)s'}}\n",
    )
    .unwrap();
    let mut c = common::child_command("child_relative_filename", CHILD);
    c.env("NU_CONF", &conf).current_dir(&cwd);
    let out = common::within(120, "child", move || c.output().unwrap());
    common::assert_child_succeeded(&out);
    assert_eq!(
        std::fs::read_to_string(cwd.join("rel.log")).unwrap(),
        "relative\n"
    );
    assert!(!conf_dir.join("rel.log").exists());
}

/// The two-step form takes its queue settings from the QueueManager: a document given to a
/// factory whose `queue` section says otherwise still loads (a document written for
/// `Kolog::from_path` serves both forms), and one stderr line per such factory says that the
/// queue manager's settings apply, rather than ignoring them silently. The same settings as
/// the queue manager's, or none (the defaults), say nothing.
#[test]
fn a_queue_section_given_to_a_factory_that_differs_from_its_queue_manager_is_reported() {
    const TEST: &str =
        "a_queue_section_given_to_a_factory_that_differs_from_its_queue_manager_is_reported";
    if !is_child(TEST) {
        let (_, stderr) = run_child(TEST);
        let line = "kolog: a LoggerFactory's `queue` settings (max_queue_size 1, \
                    backpressure_policy drop, drain_timeout 5) differ from its queue manager's \
                    (max_queue_size 64, backpressure_policy block, drain_timeout 5), which apply: \
                    a factory's records go through the QueueManager it is built on (start one \
                    with these settings, `QueueManager::start(config.queue)`, or leave `queue` out)";
        let reported: Vec<&str> = stderr.lines().filter(|l| l.starts_with("kolog:")).collect();
        assert_eq!(reported, [line; 3], "{stderr}");
        return;
    }
    let qm = QueueManager::start(QueueConfig {
        max_queue_size: 64,
        ..QueueConfig::default()
    })
    .unwrap();
    let doc = r#"{"queue": {"max_queue_size": 1, "backpressure_policy": "drop"},
        "loggers": [{"name": "root", "handlers": [{"type": "null"}]}]}"#;
    let sink = Sink::new();
    qm.add_sink("root", sink.clone());
    // Three factories from the document, each reported once; their loggers work.
    let f = LoggerFactory::from_json_str(doc, &qm).unwrap();
    let value: serde_json::Value = serde_json::from_str(doc).unwrap();
    LoggerFactory::from_json_value(&value, &qm).unwrap();
    let config = LoggingSystemConfig::from_json_str(doc).unwrap();
    LoggerFactory::new(config.clone(), &qm).unwrap();
    // The same settings as the queue manager's, or none (the defaults): nothing to say.
    let qm2 = QueueManager::start(config.queue.clone()).unwrap();
    LoggerFactory::new(config, &qm2).unwrap();
    LoggerFactory::from_json_str(
        r#"{"loggers": [{"name": "root", "handlers": [{"type": "null"}]}]}"#,
        &qm,
    )
    .unwrap();
    LoggerFactory::from_json_str(
        r#"{"queue": {"max_queue_size": 64}, "loggers": [{"name": "root", "handlers": [{"type": "null"}]}]}"#,
        &qm,
    )
    .unwrap();
    let log = f.get_logger("root").unwrap();
    info!(log, "written");
    qm.flush();
    assert_eq!(sink.records().len(), 1);
    qm2.shutdown().unwrap();
    qm.shutdown().unwrap();
}

#[test]
fn sinks_before_attaching_after_shutdown_and_on_two_loggers() {
    common::within(60, "sink edges", || {
        let lonely = Sink::new();
        assert_eq!(lonely.events(), Vec::<String>::new());
        assert!(lonely.records().is_empty());
        let kolog = Kolog::from_json_str(
            r#"{"loggers": [{"name": "root", "handlers": [{"type": "null",
                "renderer": {"type": "stream_plain", "params": {"fmt": "%(name)s %(event)s"}}}]}]}"#,
        )
        .unwrap();
        let sink = Sink::new();
        kolog.queue_manager().add_sink("a", sink.clone());
        kolog.queue_manager().add_sink("b", sink.clone());
        info!(kolog.logger("a").unwrap(), "one");
        info!(kolog.logger("b.c").unwrap(), "two");
        info!(kolog.logger("c").unwrap(), "not captured");
        let log = kolog.logger("a").unwrap();
        let r = kolog.shutdown().unwrap();
        assert_eq!((r.enqueued, r.written), (3, 3));
        assert_eq!(sink.events(), ["a one", "b.c two"]);
        info!(log, "after shutdown");
        kolog.queue_manager().add_sink("a", Sink::new());
        kolog.queue_manager().remove_sink("b");
        assert_eq!(sink.len(), 2);
        sink.clear();
        assert!(sink.is_empty());
        kolog.flush();
        assert_eq!(kolog.stats().dropped_shutdown, 1);
    });
}

#[test]
fn level_display_honours_width_like_str() {
    assert_eq!(format!("[{:<8}]", Level::Info), "[INFO    ]");
    assert_eq!(format!("[{:>8}]", Level::Warning), "[ WARNING]");
    assert_eq!(format!("[{:.4}]", Level::Critical), "[CRIT]");
}

/// Display is the message and code; the cause is `source()` (as Rust error reporters expect),
/// and Debug shows the whole chain.
#[test]
fn creation_error_display_and_debug() {
    let e = Kolog::from_json_str(
        r#"{"loggers": [{"name": "root", "handlers": [{"type": "file", "params": {"filename": "/nonexistent-dir/app.log"}}]}]}"#,
    )
    .unwrap_err();
    assert_eq!(
        e.to_string(),
        "Failed to create logger `root` [LOGGER_CREATION::LoggerFactory::INITIALIZATION::ERROR]"
    );
    let mut chain = Vec::new();
    let mut cur: Option<&dyn std::error::Error> = e.source();
    while let Some(c) = cur {
        chain.push(c.to_string());
        cur = c.source();
    }
    assert_eq!(chain.len(), 2, "{chain:?}");
    assert!(chain[0].starts_with("Failed to open the file at path `/nonexistent-dir/app.log`"));
    assert!(
        chain[0].ends_with("[HANDLER::FileHandler::IO::ERROR]"),
        "{}",
        chain[0]
    );
    let debug = format!("{e:?}");
    assert!(debug.contains("No such file or directory"), "{debug}");
}
