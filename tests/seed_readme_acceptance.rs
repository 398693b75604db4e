//! Acceptance audit: every feature and example of the seed README (ko-log's), translated to
//! kolog's public Rust API as DESIGN.md names it. Where DESIGN.md and the seed disagree,
//! DESIGN.md wins; Python-only parts of the seed are left out (see the report).
//!
//! The wall clock is pinned (`set_fixed_time`) in every test of this binary, so that outputs
//! compare byte for byte: 2024-01-01T12:00:00.123456Z, a Monday. Nothing here depends on the
//! record clock running (rotation by interval and lifecycle timings use monotonic time).
//!
//! Stream handlers write to the process's real stdout/stderr: those tests re-run this test
//! binary as a child process (one test, selected with `--exact`) and read its output.

mod common;

use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Condvar, Mutex};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use kolog::config::{
    HandlerConfig, HandlerKind, LoggerConfig, ProcessorConfig, RendererConfig, RendererKind,
    StreamParams,
};
use kolog::process::Action;
use kolog::record::Value;
use kolog::{
    acritical, adebug, aerror, ainfo, awarning, bind, critical, debug, error, info, info_life, log,
    warning, BackpressurePolicy, ErrorKind, Kolog, Level, LoggerFactory, LoggingSystemConfig,
    QueueConfig, QueueManager, Sink,
};
use serde_json::json;

// ---------------------------------------------------------------------------------------------
// Helpers
// ---------------------------------------------------------------------------------------------

/// 2024-01-01T12:00:00.123456Z
const FIXED: u64 = 1_704_110_400_123_456_000;
const TS: &str = "2024-01-01T12:00:00.123456Z";
const ASC: &str = "2024-01-01 12:00:00";
const CHILD_ENV: &str = "KOLOG_SEED_ACCEPTANCE_CHILD";

fn pin() {
    kolog::set_fixed_time(FIXED);
}

/// A unique temporary directory, removed on drop.
struct Tmp(PathBuf);

impl Tmp {
    fn new(tag: &str) -> Tmp {
        static N: AtomicU64 = AtomicU64::new(0);
        let nanos = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .unwrap()
            .subsec_nanos();
        let dir = std::env::temp_dir().join(format!(
            "kolog-seed-acceptance-{tag}-{}-{}-{nanos}",
            std::process::id(),
            N.fetch_add(1, Ordering::Relaxed)
        ));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        Tmp(dir)
    }

    fn join(&self, name: &str) -> PathBuf {
        self.0.join(name)
    }
}

impl Drop for Tmp {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

fn s(p: &Path) -> String {
    p.to_str().unwrap().to_owned()
}

fn read(p: &Path) -> String {
    std::fs::read_to_string(p).unwrap_or_else(|e| panic!("{}: {e}", p.display()))
}

/// A `Kolog` from a JSON value.
fn kolog(doc: serde_json::Value) -> Kolog {
    pin();
    Kolog::from_json_str(&doc.to_string()).unwrap()
}

/// One logger `root` at `level` with the given handlers.
fn root_doc(level: &str, handlers: serde_json::Value) -> serde_json::Value {
    json!({"loggers": [{"name": "root", "level": level, "handlers": handlers}]})
}

/// A `file` handler writing to `path` (truncated at open) with `renderer` and `processors`.
fn file_handler(
    path: &Path,
    renderer: serde_json::Value,
    processors: serde_json::Value,
) -> serde_json::Value {
    json!({"type": "file", "params": {"filename": s(path), "mode": "w"},
           "renderer": renderer, "processors": processors})
}

/// A plain renderer with the given fmt.
fn plain(fmt: &str) -> serde_json::Value {
    json!({"type": "file_plain", "params": {"fmt": fmt}})
}

/// A Sink attached to `logger` of `k`.
fn sink_on(k: &Kolog, logger: &str) -> Sink {
    let sink = Sink::new();
    k.queue_manager().add_sink(logger, sink.clone());
    sink
}

fn events_of(sink: &Sink) -> Vec<String> {
    sink.records()
        .iter()
        .map(|r| r.get("event").unwrap().as_str().unwrap().to_owned())
        .collect()
}

/// Whether this process is the child run of `test`.
fn is_child(test: &str) -> bool {
    std::env::var(CHILD_ENV).is_ok_and(|v| v == test)
}

fn child_command(test: &str) -> Command {
    common::child_command(test, CHILD_ENV)
}

/// Runs `test` alone in a child process; returns its stdout and stderr.
fn run_child(test: &str, env: &[(&str, &str)], remove: &[&str]) -> (String, String) {
    let mut c = child_command(test);
    for (k, v) in env {
        c.env(k, v);
    }
    for k in remove {
        c.env_remove(k);
    }
    let out = c.output().unwrap();
    let stdout = String::from_utf8(out.stdout).unwrap();
    let stderr = String::from_utf8(out.stderr).unwrap();
    assert!(
        out.status.success(),
        "child {test} failed\n--- stdout\n{stdout}\n--- stderr\n{stderr}"
    );
    (stdout, stderr)
}

/// Runs `test` alone in a child process whose stdout is a pseudo-terminal; returns what the
/// terminal received, with the terminal's `\r\n` turned back into `\n`.
fn run_child_on_pty(test: &str) -> String {
    run_child_on_pty_as(test, false)
}

/// [`run_child_on_pty`], with the terminal as stderr (stdout discarded) when `stderr`.
fn run_child_on_pty_as(test: &str, stderr: bool) -> String {
    use std::os::fd::{FromRawFd, OwnedFd};
    let (mut master, mut slave) = (0, 0);
    // SAFETY: openpty writes two fds into the given integers; the other arguments may be null.
    let rc = unsafe {
        libc::openpty(
            &mut master,
            &mut slave,
            std::ptr::null_mut(),
            std::ptr::null_mut(),
            std::ptr::null_mut(),
        )
    };
    assert_eq!(rc, 0, "openpty");
    // SAFETY: both fds were just opened by openpty and are owned by nobody else.
    let (master, slave) = unsafe { (OwnedFd::from_raw_fd(master), OwnedFd::from_raw_fd(slave)) };
    let mut child = {
        let mut c = child_command(test);
        c.env_remove("NO_COLOR");
        if stderr {
            c.stderr(Stdio::from(slave)).stdout(Stdio::null());
        } else {
            c.stdout(Stdio::from(slave)).stderr(Stdio::null());
        }
        c.spawn().unwrap()
        // The command (holding the parent's copy of the slave) is dropped here.
    };
    let mut f = std::fs::File::from(master);
    let mut out = Vec::new();
    let mut buf = [0u8; 4096];
    loop {
        match f.read(&mut buf) {
            Ok(0) => break,
            Ok(n) => out.extend_from_slice(&buf[..n]),
            Err(e) if e.raw_os_error() == Some(libc::EIO) => break,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
            Err(e) => panic!("reading the pty: {e}"),
        }
    }
    assert!(child.wait().unwrap().success(), "child {test} failed");
    String::from_utf8(out).unwrap().replace("\r\n", "\n")
}

/// The lines of `out` that contain `marker`, each from the marker on (the test harness may
/// print `test name ... ` before the first one).
fn lines_from(out: &str, marker: &str) -> Vec<String> {
    out.lines()
        .filter_map(|l| l.find(marker).map(|i| l[i..].to_owned()))
        .collect()
}

/// `End (S.SS): name` → S.SS, checking the shape.
fn end_secs(event: &str, name: &str) -> f64 {
    let rest = event
        .strip_prefix("End (")
        .unwrap_or_else(|| panic!("{event}"));
    let (secs, tail) = rest.split_once("): ").unwrap_or_else(|| panic!("{event}"));
    assert_eq!(tail, name, "{event}");
    let (whole, frac) = secs.split_once('.').unwrap_or_else(|| panic!("{event}"));
    assert!(
        !whole.is_empty() && frac.len() == 2,
        "two decimals: {event}"
    );
    secs.parse().unwrap()
}

/// The kolog errors of `e`'s chain, outermost first.
fn kolog_chain(e: &kolog::Error) -> Vec<&kolog::Error> {
    let mut out = vec![e];
    let mut cur: &dyn std::error::Error = e;
    while let Some(next) = cur.source() {
        if let Some(k) = next.downcast_ref::<kolog::Error>() {
            out.push(k);
        }
        cur = next;
    }
    out
}

/// A processor that holds the drainer on the record whose event is `gate` until opened.
struct Gate {
    open: Mutex<bool>,
    cond: Condvar,
    entered: AtomicBool,
}

impl Gate {
    const fn new() -> Gate {
        Gate {
            open: Mutex::new(false),
            cond: Condvar::new(),
            entered: AtomicBool::new(false),
        }
    }

    fn register(&'static self, name: &str) -> ProcessorConfig {
        kolog::register_processor(name, move |_| {
            Ok(Box::new(move |ev: &mut kolog::EventDict<'_>| {
                if ev.event == "gate" {
                    self.entered.store(true, Ordering::SeqCst);
                    let mut open = self.open.lock().unwrap();
                    while !*open {
                        open = self.cond.wait(open).unwrap();
                    }
                }
                Action::Keep
            }))
        });
        ProcessorConfig::Custom {
            name: name.into(),
            params: json!({}),
        }
    }

    fn wait_entered(&self) {
        let t = Instant::now();
        while !self.entered.load(Ordering::SeqCst) {
            assert!(t.elapsed() < Duration::from_secs(30), "gate never entered");
            std::thread::yield_now();
        }
    }

    fn open(&self) {
        *self.open.lock().unwrap() = true;
        self.cond.notify_all();
    }
}

/// `root` with one null handler running `processors`, and the given queue.
fn null_system(processors: Vec<ProcessorConfig>, queue: QueueConfig) -> LoggingSystemConfig {
    LoggingSystemConfig {
        loggers: vec![LoggerConfig {
            name: "root".into(),
            level: Some(Level::Info),
            handlers: vec![HandlerConfig {
                kind: HandlerKind::Null,
                renderer: RendererConfig::new(RendererKind::StreamPlain),
                processors,
            }],
            context: Default::default(),
        }],
        default_level: Level::Info,
        queue,
    }
}

#[derive(Debug)]
struct DbError(std::io::Error);

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

/// The seed README's JSON configuration, verbatim apart from the file name.
fn seed_config(path: &Path) -> String {
    common::seed_json(&s(path))
}

/// The same document in YAML.
fn seed_config_yaml(path: &Path) -> String {
    common::seed_yaml(&s(path))
}

/// What the seed configuration writes for `info!(log, "Application started", version =
/// "1.0.0")` at line `line` of function `func`, logger `root`.
fn seed_config_expected(line: u32, func: &str) -> String {
    format!(
        "{{\n  \"timestamp\": \"{TS}\",\n  \"level\": \"INFO\",\n  \"logger\": \"root\",\n  \"event\": \"Application started\",\n  \"app\": \"myapp\",\n  \"env\": \"production\",\n  \"version\": \"1.0.0\",\n  \"filename\": \"seed_readme_acceptance.rs\",\n  \"lineno\": {line},\n  \"funcName\": \"{func}\"\n}}\n"
    )
}

// ---------------------------------------------------------------------------------------------
// Quick Start
// ---------------------------------------------------------------------------------------------

fn quick_start_child() {
    pin();
    // 1. Configure the queue manager.
    let queue_manager = QueueManager::start(QueueConfig {
        max_queue_size: 10_000,
        backpressure_policy: BackpressurePolicy::Block,
        drain_timeout: Duration::from_secs_f64(5.0),
    })
    .unwrap();
    // 2. Configure the logging system (in code, as the seed's Python example does).
    let system_config = LoggingSystemConfig {
        loggers: vec![LoggerConfig {
            name: "app".into(),
            level: Some(Level::Info),
            handlers: vec![HandlerConfig {
                kind: HandlerKind::Stream(StreamParams { use_stderr: false }),
                renderer: RendererConfig {
                    fmt: Some("[%(asctime)s] [%(level)-8s] [%(name)s]: %(event)s".into()),
                    datefmt: Some("%Y-%m-%d %H:%M:%S".into()),
                    ..RendererConfig::new(RendererKind::StreamPlain)
                },
                processors: vec![],
            }],
            context: Default::default(),
        }],
        ..Default::default()
    };
    // 3. Create the logger factory. 4. Get a logger and use it.
    let factory = LoggerFactory::new(system_config, &queue_manager).unwrap();
    let logger = factory.get_logger("app").unwrap();
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_time()
        .build()
        .unwrap();
    info!(logger, "Application started", version = "1.0.0");
    rt.block_on(async { ainfo!(logger, "Processing request", user_id = 123).await });
    let bound_logger = bind!(logger, service = "auth", env = "prod");
    warning!(bound_logger, "Rate limit exceeded", ip = "192.168.1.1");
    rt.block_on(logger.ainfo_life("Database migration", async {
        tokio::time::sleep(Duration::from_millis(500)).await
    }));
    // 5. Cleanup.
    let report = queue_manager.shutdown().unwrap();
    assert_eq!(report.written, 5);
    assert_eq!(report.dropped, 0);
}

/// Seed "Quick Start": the two-step form (QueueManager, LoggingSystemConfig in code,
/// LoggerFactory), sync + async logging, bind, ainfo_life, shutdown; its "Output:" block,
/// plus the fields as ` key=value` (DESIGN §3), on stdout (`use_stderr=False`).
#[test]
fn quick_start_two_step_form_prints_the_seed_output_on_stdout() {
    const NAME: &str = "quick_start_two_step_form_prints_the_seed_output_on_stdout";
    if is_child(NAME) {
        return quick_start_child();
    }
    let (out, err) = run_child(NAME, &[], &[]);
    let lines = lines_from(&out, "[2024-01-01 ");
    assert_eq!(lines.len(), 5, "{out}");
    assert_eq!(
        lines[0],
        "[2024-01-01 12:00:00] [INFO    ] [app]: Application started version=1.0.0"
    );
    assert_eq!(
        lines[1],
        "[2024-01-01 12:00:00] [INFO    ] [app]: Processing request user_id=123"
    );
    assert_eq!(
        lines[2],
        "[2024-01-01 12:00:00] [WARNING ] [app]: Rate limit exceeded service=auth env=prod ip=192.168.1.1"
    );
    assert_eq!(
        lines[3],
        "[2024-01-01 12:00:00] [INFO    ] [app]: Begin: Database migration"
    );
    let end = lines[4]
        .strip_prefix("[2024-01-01 12:00:00] [INFO    ] [app]: ")
        .unwrap();
    let secs = end_secs(end, "Database migration");
    assert!((0.5..2.0).contains(&secs), "{end}");
    assert!(!err.contains("Application started"), "stdout only: {err}");
}

// ---------------------------------------------------------------------------------------------
// Configuration
// ---------------------------------------------------------------------------------------------

/// Seed "From JSON" + "Then load and use": the JSON example loads unchanged, the queue manager
/// from `{"max_queue_size": 10000}`, the factory from the parsed value, `get_logger("root")`.
/// `mode: "wb"` truncates; `filter_by_level` INFO drops the DEBUG record though the logger is
/// at DEBUG; `add_callsite_params` adds exactly the three listed keys; `context` is bound;
/// `indentation: 2` pretty-prints; `fmt`/`datefmt` do not change JSON output (DESIGN §3).
#[test]
fn seed_json_config_loads_unchanged_through_the_two_step_form() {
    pin();
    let dir = Tmp::new("seed-json");
    let path = dir.join("app.log");
    std::fs::write(&path, "OLD LINE\n").unwrap();
    let config: serde_json::Value = serde_json::from_str(&seed_config(&path)).unwrap();
    let queue_config: QueueConfig =
        serde_json::from_value(json!({"max_queue_size": 10000})).unwrap();
    assert_eq!(
        queue_config,
        QueueConfig {
            max_queue_size: 10_000,
            ..QueueConfig::default()
        }
    );
    let queue_manager = QueueManager::start(queue_config).unwrap();
    let factory = LoggerFactory::from_json_value(&config, &queue_manager).unwrap();
    let logger = factory.get_logger("root").unwrap();
    debug!(logger, "below the processor's INFO");
    let line = line!() + 1;
    info!(logger, "Application started", version = "1.0.0");
    let report = queue_manager.shutdown().unwrap();
    assert_eq!(
        read(&path),
        seed_config_expected(
            line,
            "seed_json_config_loads_unchanged_through_the_two_step_form"
        )
    );
    assert_eq!(report.enqueued, 2);
    assert_eq!(report.written, 1);
    assert_eq!(report.filtered, 1);
    assert_eq!(report.dropped + report.failed, 0);
}

fn log_seed_workload(k: &Kolog) -> u32 {
    let logger = k.logger("root").unwrap();
    debug!(logger, "below the processor's INFO");
    let line = line!() + 1;
    info!(logger, "Application started", version = "1.0.0");
    k.shutdown().unwrap();
    line
}

/// DESIGN §2: `Kolog::from_path` — JSON or YAML by extension (`.json`, `.yaml`, `.yml`), the
/// same document giving the same bytes; `from_json_str`/`from_yaml_str` likewise; another
/// extension and a missing file are configuration errors.
#[test]
fn config_files_load_by_extension_json_yaml_yml() {
    pin();
    let dir = Tmp::new("by-ext");
    for (i, ext) in ["json", "yaml", "yml", "json-str", "yaml-str"]
        .iter()
        .enumerate()
    {
        let log = dir.join(&format!("out{i}.log"));
        let (json, yaml) = (seed_config(&log), seed_config_yaml(&log));
        let k = match *ext {
            "json-str" => Kolog::from_json_str(&json).unwrap(),
            "yaml-str" => Kolog::from_yaml_str(&yaml).unwrap(),
            _ => {
                let cfg = dir.join(&format!("kolog.{ext}"));
                std::fs::write(&cfg, if *ext == "json" { &json } else { &yaml }).unwrap();
                Kolog::from_path(&cfg).unwrap()
            }
        };
        let line = log_seed_workload(&k);
        assert_eq!(
            read(&log),
            seed_config_expected(line, "log_seed_workload"),
            "{ext}"
        );
    }
    let txt = dir.join("kolog.txt");
    std::fs::write(&txt, seed_config(&dir.join("x.log"))).unwrap();
    let e = Kolog::from_path(&txt).unwrap_err();
    assert_eq!(e.kind(), ErrorKind::Configuration);
    assert_eq!(e.code(), "CONFIGURATION::LoggerFactory::VALIDATION::ERROR");
    let e = Kolog::from_path(dir.join("missing.json")).unwrap_err();
    assert_eq!(e.kind(), ErrorKind::Configuration);
    assert_eq!(e.code(), "CONFIGURATION::LoggerFactory::IO::ERROR");
    assert!(std::error::Error::source(&e)
        .unwrap()
        .downcast_ref::<std::io::Error>()
        .is_some());
}

/// Seed "Type Safety": `LoggerConfig(name="test", level="INVALID")` is a validation error;
/// DESIGN §3: it names the path in the document. Levels parse case-insensitively, `WARN` is
/// `Warning`.
#[test]
fn invalid_level_is_a_validation_error_and_levels_parse_case_insensitively() {
    let e = Kolog::from_json_str(
        &json!({"loggers": [{"name": "test", "level": "INVALID"}]}).to_string(),
    )
    .unwrap_err();
    assert_eq!(e.kind(), ErrorKind::Configuration);
    assert_eq!(e.code(), "CONFIGURATION::LoggerFactory::VALIDATION::ERROR");
    assert!(e.msg().contains("`loggers[0].level`"), "{}", e.msg());
    assert!("INVALID".parse::<Level>().is_err());
    for (text, level) in [
        ("trace", Level::Trace),
        ("DEBUG", Level::Debug),
        ("Info", Level::Info),
        ("warning", Level::Warning),
        ("WARN", Level::Warning),
        ("warn", Level::Warning),
        ("ERROR", Level::Error),
        ("critical", Level::Critical),
    ] {
        assert_eq!(text.parse::<Level>().unwrap(), level, "{text}");
        let cfg = LoggingSystemConfig::from_json_value(&json!({
            "loggers": [{"name": "root", "level": text}], "default_level": text
        }))
        .unwrap();
        assert_eq!(cfg.loggers[0].level, Some(level));
        assert_eq!(cfg.default_level, level);
    }
    // The same in YAML.
    let e = Kolog::from_yaml_str("loggers:\n  - name: test\n    level: INVALID\n").unwrap_err();
    assert_eq!(e.code(), "CONFIGURATION::LoggerFactory::VALIDATION::ERROR");
    assert!(e.msg().contains("`loggers[0].level`"), "{}", e.msg());
}

/// Seed "AlConfigurationError: invalid enum values, malformed JSON"; DESIGN §3: unknown fields,
/// types and enum values are errors naming the path.
#[test]
fn unknown_types_fields_and_enum_values_name_their_path() {
    let h =
        |handler: serde_json::Value| json!({"loggers": [{"name": "root", "handlers": [handler]}]});
    let cases = [
        (h(json!({"type": "socket"})), "loggers[0].handlers[0].type"),
        (
            h(json!({"type": "null", "renderer": {"type": "xml"}})),
            "loggers[0].handlers[0].renderer.type",
        ),
        (
            h(json!({"type": "null", "processors": [{"type": "unknown_processor"}]})),
            "loggers[0].handlers[0].processors[0].type",
        ),
        (
            h(json!({"type": "stream", "params": {"use_stdout": true}})),
            "loggers[0].handlers[0].params.use_stdout",
        ),
        (
            h(json!({"type": "stream", "params": {"use_stderr": "yes"}})),
            "loggers[0].handlers[0].params.use_stderr",
        ),
        (
            h(json!({"type": "file", "params": {"filename": "/tmp/x.log", "mode": "r"}})),
            "loggers[0].handlers[0].params.mode",
        ),
        (
            h(
                json!({"type": "rotating_file", "params": {"filename": "/tmp/x.log", "max_bytes": -1}}),
            ),
            "loggers[0].handlers[0].params.max_bytes",
        ),
        (
            h(
                json!({"type": "null", "processors": [{"type": "filter_by_level", "params": {"min_level": "LOUD"}}]}),
            ),
            "loggers[0].handlers[0].processors[0].params.min_level",
        ),
        (
            json!({"loggers": [], "queue": {"backpressure_policy": "spill"}}),
            "queue.backpressure_policy",
        ),
        (json!({"loggers": [], "colour": true}), "colour"),
    ];
    for (doc, path) in cases {
        let e = Kolog::from_json_str(&doc.to_string()).unwrap_err();
        assert_eq!(e.kind(), ErrorKind::Configuration, "{doc}");
        assert_eq!(
            e.code(),
            "CONFIGURATION::LoggerFactory::VALIDATION::ERROR",
            "{doc}"
        );
        assert!(e.msg().contains(&format!("`{path}`")), "{doc}: {}", e.msg());
    }
    // Malformed JSON.
    let e = Kolog::from_json_str("{\"loggers\": [").unwrap_err();
    assert_eq!(e.kind(), ErrorKind::Configuration);
    assert_eq!(e.code(), "CONFIGURATION::LoggerFactory::PARSING::ERROR");
}

/// Seed config: `default_level` applies to loggers without `level`; `queue` settings from the
/// document reach the queue manager (DESIGN §2).
#[test]
fn default_level_and_queue_section_apply() {
    let k = kolog(json!({
        "queue": {"max_queue_size": 64, "backpressure_policy": "drop_oldest", "drain_timeout": 0.5},
        "loggers": [
            {"name": "root", "handlers": [{"type": "null"}]},
            {"name": "loud", "level": "DEBUG", "handlers": [{"type": "null"}]}
        ],
        "default_level": "WARNING"
    }));
    assert_eq!(
        *k.queue_manager().config(),
        QueueConfig {
            max_queue_size: 64,
            backpressure_policy: BackpressurePolicy::DropOldest,
            drain_timeout: Duration::from_millis(500),
        }
    );
    let root = k.logger("root").unwrap();
    let loud = k.logger("loud").unwrap();
    assert_eq!(root.level(), Level::Warning);
    assert!(!root.enabled(Level::Info) && root.enabled(Level::Warning));
    assert_eq!(loud.level(), Level::Debug);
    let sink = sink_on(&k, "root");
    info!(root, "hidden");
    warning!(root, "shown");
    debug!(loud, "loud debug");
    assert_eq!(events_of(&sink), ["shown", "loud debug"]);
}

// ---------------------------------------------------------------------------------------------
// Logging API: levels, sync and async, field values
// ---------------------------------------------------------------------------------------------

/// Seed "Dual API": sync `logger.info()` and async `await logger.ainfo()` for every level;
/// DESIGN §2: `debug!`…`critical!`, `log!(log, Level, ..)`, `adebug!`…`acritical!`.
#[test]
fn sync_and_async_methods_exist_for_every_level_and_respect_the_logger_level() {
    let dir = Tmp::new("levels");
    let path = dir.join("levels.log");
    let k = kolog(root_doc(
        "DEBUG",
        json!([file_handler(&path, plain("%(level)s|%(event)s"), json!([]))]),
    ));
    let log = k.logger("root").unwrap();
    kolog::trace!(log, "trace is below DEBUG");
    debug!(log, "d");
    info!(log, "i");
    warning!(log, "w");
    error!(log, "e");
    critical!(log, "c");
    log!(log, Level::Warning, "via log!", n = 1);
    log!(log, Level::Trace, "hidden via log!");
    let rt = tokio::runtime::Builder::new_current_thread()
        .build()
        .unwrap();
    rt.block_on(async {
        adebug!(log, "ad").await;
        ainfo!(log, "ai", n = 2).await;
        awarning!(log, "aw").await;
        aerror!(log, "ae").await;
        acritical!(log, "ac").await;
    });
    k.flush();
    assert_eq!(
        read(&path),
        "DEBUG|d\nINFO|i\nWARNING|w\nERROR|e\nCRITICAL|c\nWARNING|via log! n=1\n\
         DEBUG|ad\nINFO|ai n=2\nWARNING|aw\nERROR|ae\nCRITICAL|ac\n"
    );
    let st = k.stats();
    assert_eq!((st.enqueued, st.written, st.dropped), (11, 11, 0));
}

/// DESIGN §2/§3: field values (integers, floats, bool, strings, `%` Display, `?` Debug) in a
/// JSON line (numbers as numbers, bools as bools, the rest as strings) and in the plain
/// renderer's ` key=value` tail (quoted when it has spaces, `=` or quotes).
#[test]
fn field_values_render_exactly_in_json_and_plain() {
    let dir = Tmp::new("values");
    let (jp, pp) = (dir.join("v.json"), dir.join("v.log"));
    let k = kolog(root_doc(
        "INFO",
        json!([
            file_handler(&jp, json!({"type": "file_json"}), json!([])),
            file_handler(&pp, json!({"type": "file_plain"}), json!([]))
        ]),
    ));
    let log = k.logger("root").unwrap();
    let addr = std::net::Ipv4Addr::new(10, 0, 0, 1);
    let owned = String::from("x");
    let list = vec![1, 2];
    info!(
        log,
        "kinds",
        i = -3i64,
        u = 7u64,
        f = 12.5,
        t = true,
        s = "a b",
        owned = owned,
        addr = %addr,
        dbg = ?list,
        eq = "k=v",
        q = "say \"hi\""
    );
    k.shutdown().unwrap();
    assert_eq!(
        read(&jp),
        format!(
            "{{\"timestamp\":\"{TS}\",\"level\":\"INFO\",\"logger\":\"root\",\"event\":\"kinds\",\"i\":-3,\"u\":7,\"f\":12.5,\"t\":true,\"s\":\"a b\",\"owned\":\"x\",\"addr\":\"10.0.0.1\",\"dbg\":\"[1, 2]\",\"eq\":\"k=v\",\"q\":\"say \\\"hi\\\"\"}}\n"
        )
    );
    assert_eq!(
        read(&pp),
        format!("[{ASC}] [INFO    ] [root]: kinds i=-3 u=7 f=12.5 t=true s=\"a b\" owned=x addr=10.0.0.1 dbg=\"[1, 2]\" eq=\"k=v\" q=\"say \\\"hi\\\"\"\n")
    );
}

// ---------------------------------------------------------------------------------------------
// Context binding
// ---------------------------------------------------------------------------------------------

/// Seed "Context Binding": `bind()` returns a new logger with merged context, the old one is
/// unchanged; bindings chain. The logger's configured `context` is bound too. JSON keys in
/// order: fixed keys, bound context, the record's fields (DESIGN §3).
#[test]
fn bind_is_immutable_chains_and_merges_with_configured_context() {
    let dir = Tmp::new("bind");
    let path = dir.join("bind.log");
    let k = kolog(json!({"loggers": [{
        "name": "app", "level": "INFO", "context": {"app": "myapp"},
        "handlers": [file_handler(&path, json!({"type": "file_json"}), json!([]))]
    }]}));
    let logger = k.logger("app").unwrap();
    let api_logger = bind!(logger, service = "api", version = "v1");
    let _cheap: kolog::Logger = api_logger.clone();
    info!(api_logger, "Request received", endpoint = "/users");
    let request_logger = bind!(api_logger, request_id = "abc123");
    info!(request_logger, "Processing", user_id = 456);
    info!(logger, "unbound");
    // A later binding replaces an earlier value of the same key.
    let v2 = bind!(request_logger, version = "v2");
    info!(v2, "rebound");
    k.shutdown().unwrap();
    let head = |event: &str| {
        format!("{{\"timestamp\":\"{TS}\",\"level\":\"INFO\",\"logger\":\"app\",\"event\":\"{event}\",\"app\":\"myapp\"")
    };
    let want = [
        format!(
            "{},\"service\":\"api\",\"version\":\"v1\",\"endpoint\":\"/users\"}}",
            head("Request received")
        ),
        format!(
            "{},\"service\":\"api\",\"version\":\"v1\",\"request_id\":\"abc123\",\"user_id\":456}}",
            head("Processing")
        ),
        format!("{}}}", head("unbound")),
        format!(
            "{},\"service\":\"api\",\"version\":\"v2\",\"request_id\":\"abc123\"}}",
            head("rebound")
        ),
    ];
    let text = read(&path);
    let got: Vec<&str> = text.lines().collect();
    assert_eq!(got, want);
    assert_eq!(
        logger.context().len(),
        1,
        "the original keeps only its configured context"
    );
    assert_eq!(api_logger.context().len(), 3);
    assert_eq!(request_logger.context().len(), 4);
}

/// A record's own field with the same key as bound context: one key in the output, the record's
/// value (structlog's `bind` then `info(key=...)`).
#[test]
fn a_record_field_overrides_bound_context_with_the_same_key() {
    let dir = Tmp::new("override");
    let path = dir.join("o.log");
    let k = kolog(json!({"loggers": [{
        "name": "root", "context": {"env": "production"},
        "handlers": [file_handler(&path, json!({"type": "file_json"}), json!([]))]
    }]}));
    let log = bind!(k.logger("root").unwrap(), service = "auth");
    info!(log, "x", service = "billing", env = "staging");
    k.shutdown().unwrap();
    let v: serde_json::Value = serde_json::from_str(read(&path).trim_end()).unwrap();
    let obj = v.as_object().unwrap();
    assert_eq!(obj.len(), 6, "{v}");
    assert_eq!(v["service"], "billing");
    assert_eq!(v["env"], "staging");
}

// ---------------------------------------------------------------------------------------------
// Hierarchical loggers and routing
// ---------------------------------------------------------------------------------------------

/// Seed "flexible routing with hierarchical logger names"; DESIGN §2: `app.db` uses its own
/// config, else the nearest configured ancestor, else `root`. The record keeps the requested
/// name; the resolved config gives level, context and handlers; no propagation to ancestors.
#[test]
fn hierarchical_names_route_to_the_nearest_configured_ancestor() {
    let dir = Tmp::new("routing");
    let (rp, ap, dp) = (
        dir.join("root.log"),
        dir.join("app.log"),
        dir.join("db.log"),
    );
    let fmt = plain("%(name)s %(level)s %(event)s");
    let k = kolog(json!({"loggers": [
        {"name": "root", "level": "INFO", "handlers": [file_handler(&rp, fmt.clone(), json!([]))]},
        {"name": "app", "level": "DEBUG", "context": {"tier": "app"},
         "handlers": [file_handler(&ap, fmt.clone(), json!([]))]},
        {"name": "app.db", "level": "WARNING", "handlers": [file_handler(&dp, fmt, json!([]))]}
    ]}));
    for name in [
        "app.db.pool",
        "app.db",
        "app.web",
        "app",
        "billing",
        "root",
        "application",
    ] {
        let log = k.logger(name).unwrap();
        assert_eq!(log.name(), name);
        debug!(log, "d");
        info!(log, "i");
        warning!(log, "w");
    }
    k.shutdown().unwrap();
    assert_eq!(read(&dp), "app.db.pool WARNING w\napp.db WARNING w\n");
    assert_eq!(
        read(&ap),
        "app.web DEBUG d tier=app\napp.web INFO i tier=app\napp.web WARNING w tier=app\n\
         app DEBUG d tier=app\napp INFO i tier=app\napp WARNING w tier=app\n"
    );
    assert_eq!(
        read(&rp),
        "billing INFO i\nbilling WARNING w\nroot INFO i\nroot WARNING w\n\
         application INFO i\napplication WARNING w\n"
    );
}

/// Seed "Configuration Error" example: `get_logger("non_existent")` → msg
/// "Logger `non_existent` not found", code `CONFIGURATION::LoggerFactory::VALIDATION::ERROR`
/// (when neither it, an ancestor nor `root` is configured). With `root`, it resolves to root.
#[test]
fn get_logger_of_an_unconfigured_name_is_the_seed_configuration_error() {
    let qm = QueueManager::start(QueueConfig::default()).unwrap();
    let factory = LoggerFactory::from_json_str(
        &json!({"loggers": [{"name": "app", "handlers": [{"type": "null"}]}]}).to_string(),
        &qm,
    )
    .unwrap();
    let e = factory.get_logger("non_existent").unwrap_err();
    assert_eq!(e.kind(), ErrorKind::Configuration);
    assert_eq!(e.msg(), "Logger `non_existent` not found");
    assert_eq!(e.code(), "CONFIGURATION::LoggerFactory::VALIDATION::ERROR");
    assert!(!e.recoverable());
    // Seed "Best Practices" 1: fall back to another logger.
    let fallback = factory
        .get_logger("non_existent")
        .or_else(|_| factory.get_logger("app"));
    assert_eq!(fallback.unwrap().name(), "app");
    let with_root = LoggerFactory::from_json_str(
        &json!({"loggers": [{"name": "root", "handlers": [{"type": "null"}]}]}).to_string(),
        &qm,
    )
    .unwrap();
    assert_eq!(
        with_root.get_logger("non_existent").unwrap().name(),
        "non_existent"
    );
    qm.shutdown().unwrap();
}

// ---------------------------------------------------------------------------------------------
// Processors
// ---------------------------------------------------------------------------------------------

/// Seed: `add_callsite_params` "Adds filename, lineno, funcName, module, pathname" (all five
/// without params, DESIGN §3), or exactly the listed ones.
#[test]
fn add_callsite_params_adds_all_five_by_default_or_the_listed_ones() {
    let dir = Tmp::new("callsite");
    let (all, some) = (dir.join("all.log"), dir.join("some.log"));
    let k = kolog(root_doc(
        "INFO",
        json!([
            file_handler(
                &all,
                json!({"type": "file_json"}),
                json!([{"type": "add_callsite_params"}])
            ),
            file_handler(
                &some,
                json!({"type": "file_json"}),
                json!([{"type": "add_callsite_params", "params": {"parameters": ["lineno", "pathname"]}}])
            )
        ]),
    ));
    let log = k.logger("root").unwrap();
    let line = line!() + 1;
    info!(log, "here", k = 1);
    k.shutdown().unwrap();
    let head = format!("{{\"timestamp\":\"{TS}\",\"level\":\"INFO\",\"logger\":\"root\",\"event\":\"here\",\"k\":1");
    assert_eq!(
        read(&all),
        format!("{head},\"filename\":\"seed_readme_acceptance.rs\",\"lineno\":{line},\"funcName\":\"add_callsite_params_adds_all_five_by_default_or_the_listed_ones\",\"module\":\"seed_readme_acceptance\",\"pathname\":\"tests/seed_readme_acceptance.rs\"}}\n")
    );
    assert_eq!(
        read(&some),
        format!("{head},\"lineno\":{line},\"pathname\":\"tests/seed_readme_acceptance.rs\"}}\n")
    );
}

/// Seed: `add_context_defaults` "Merges default key-value pairs into context": keys the event
/// lacks are added; bound context and the record's own fields win.
#[test]
fn add_context_defaults_adds_only_missing_keys() {
    let dir = Tmp::new("defaults");
    let path = dir.join("d.log");
    let k = kolog(
        json!({"loggers": [{"name": "root", "context": {"env": "production"},
        "handlers": [file_handler(&path, json!({"type": "file_json"}),
            json!([{"type": "add_context_defaults", "params": {"defaults":
                {"env": "dev", "region": "eu", "user_id": 0, "sampled": false}}}]))]}]}),
    );
    let log = k.logger("root").unwrap();
    info!(log, "a", user_id = 9);
    info!(log, "b");
    k.shutdown().unwrap();
    let head = |e: &str| {
        format!("{{\"timestamp\":\"{TS}\",\"level\":\"INFO\",\"logger\":\"root\",\"event\":\"{e}\",\"env\":\"production\"")
    };
    assert_eq!(
        read(&path),
        format!(
            "{},\"user_id\":9,\"region\":\"eu\",\"sampled\":false}}\n{},\"region\":\"eu\",\"user_id\":0,\"sampled\":false}}\n",
            head("a"),
            head("b")
        )
    );
}

/// Seed: `dict_tracebacks` "Converts exc_info to structured dict with traceback frames";
/// DESIGN §2: `error = &e` keeps its source chain for `dict_tracebacks`. Without the processor
/// an error renders as its message (a string).
#[test]
fn dict_tracebacks_structures_errors_and_their_source_chain() {
    let dir = Tmp::new("tracebacks");
    let (with, without) = (dir.join("with.log"), dir.join("without.log"));
    let k = kolog(root_doc(
        "INFO",
        json!([
            file_handler(
                &with,
                json!({"type": "file_json"}),
                json!([{"type": "dict_tracebacks"}])
            ),
            file_handler(&without, json!({"type": "file_json"}), json!([]))
        ]),
    ));
    let log = k.logger("root").unwrap();
    let e = DbError(std::io::Error::other("connection reset"));
    error!(log, "Operation failed", operation = "risky", error = &e);
    error!(log, "Operation failed", exc_info = &e);
    k.shutdown().unwrap();
    let head = format!("{{\"timestamp\":\"{TS}\",\"level\":\"ERROR\",\"logger\":\"root\",\"event\":\"Operation failed\"");
    let obj = r#"{"type":"seed_readme_acceptance::DbError","message":"query failed","chain":["connection reset"]}"#;
    assert_eq!(
        read(&with),
        format!("{head},\"operation\":\"risky\",\"error\":{obj}}}\n{head},\"exception\":{obj}}}\n")
    );
    assert_eq!(
        read(&without),
        format!("{head},\"operation\":\"risky\",\"error\":\"query failed\"}}\n{head},\"exc_info\":\"query failed\"}}\n")
    );
}

/// Seed: `filter_by_level` "Drops logs below min_level (raises DropLog)" — per handler; the
/// drop is counted as filtered, not as lost.
#[test]
fn filter_by_level_drops_below_min_level_for_its_handler_only() {
    let dir = Tmp::new("filter-level");
    let (filtered, all) = (dir.join("warn.log"), dir.join("all.log"));
    let k = kolog(root_doc(
        "DEBUG",
        json!([
            file_handler(
                &filtered,
                plain("%(level)s %(event)s"),
                json!([{"type": "filter_by_level", "params": {"min_level": "warning"}}])
            ),
            file_handler(&all, plain("%(level)s %(event)s"), json!([]))
        ]),
    ));
    let log = k.logger("root").unwrap();
    debug!(log, "d");
    info!(log, "i");
    warning!(log, "w");
    error!(log, "e");
    k.shutdown().unwrap();
    assert_eq!(read(&filtered), "WARNING w\nERROR e\n");
    assert_eq!(read(&all), "DEBUG d\nINFO i\nWARNING w\nERROR e\n");
}

/// `filter_by_level` on the only handler: the records it drops are counted in `filtered` and
/// `enqueued == written + filtered + failed` after flush.
#[test]
fn filter_by_level_drops_are_counted_as_filtered() {
    let k = Kolog::from_config(LoggingSystemConfig {
        loggers: vec![LoggerConfig {
            level: Some(Level::Debug),
            ..null_system(
                vec![ProcessorConfig::FilterByLevel {
                    min_level: Level::Error,
                }],
                QueueConfig::default(),
            )
            .loggers
            .remove(0)
        }],
        ..Default::default()
    })
    .unwrap();
    let log = k.logger("root").unwrap();
    for _ in 0..3 {
        info!(log, "i");
    }
    error!(log, "e");
    debug!(log, "d");
    k.flush();
    let st = k.stats();
    assert_eq!(
        (st.enqueued, st.written, st.filtered, st.failed, st.dropped),
        (5, 1, 4, 0, 0)
    );
}

/// Seed: `filter_keys` "Removes specified keys from event dict" — fields and bound context.
#[test]
fn filter_keys_removes_the_named_keys() {
    let dir = Tmp::new("filter-keys");
    let path = dir.join("k.log");
    let k = kolog(
        json!({"loggers": [{"name": "root", "context": {"secret_ctx": "s", "app": "myapp"},
        "handlers": [file_handler(&path, json!({"type": "file_json"}),
            json!([{"type": "filter_keys", "params": {"keys": ["password", "secret_ctx", "absent"]}}]))]}]}),
    );
    let log = k.logger("root").unwrap();
    info!(log, "login", user = "bob", password = "hunter2");
    k.shutdown().unwrap();
    assert_eq!(
        read(&path),
        format!("{{\"timestamp\":\"{TS}\",\"level\":\"INFO\",\"logger\":\"root\",\"event\":\"login\",\"app\":\"myapp\",\"user\":\"bob\"}}\n")
    );
}

/// Seed: `filter_markup` "Strips Rich markup tags from messages" (the event and string fields);
/// text that is not a tag stays.
#[test]
fn filter_markup_strips_rich_markup() {
    let dir = Tmp::new("markup");
    let path = dir.join("m.log");
    let k = kolog(root_doc(
        "INFO",
        json!([file_handler(
            &path,
            plain("%(event)s"),
            json!([{"type": "filter_markup"}])
        )]),
    ));
    let log = k.logger("root").unwrap();
    let log = bind!(log, tag = "[b]bound[/b]");
    info!(
        log,
        "[bold red]Alert[/bold red] in [link=https://x.org]module[/link] [1, 2]",
        note = "[i]x[/]"
    );
    info!(log, r"literal \[bold] stays");
    k.shutdown().unwrap();
    assert_eq!(
        read(&path),
        "Alert in module [1, 2] tag=bound note=x\nliteral [bold] stays tag=bound\n"
    );
}

/// Seed "Custom Processor Example": a factory reading `params.request_id`, a processor doing
/// `event_dict.setdefault("request_id", request_id)`, registered by name and used in config.
#[test]
fn custom_processor_from_the_seed_example() {
    kolog::register_processor("seed_acc_add_request_id", |params| {
        let request_id = params["request_id"].as_str().unwrap_or("none").to_owned();
        Ok(Box::new(move |ev: &mut kolog::EventDict<'_>| {
            ev.insert_default("request_id", Value::String(request_id.clone()));
            Action::Keep
        }))
    });
    let dir = Tmp::new("custom");
    let path = dir.join("c.log");
    let k = kolog(root_doc(
        "INFO",
        json!([file_handler(
            &path,
            plain("%(event)s"),
            json!([{"type": "seed_acc_add_request_id", "params": {"request_id": "req-7"}}])
        )]),
    ));
    let log = k.logger("root").unwrap();
    info!(log, "default id");
    info!(log, "own id", request_id = "mine");
    k.shutdown().unwrap();
    assert_eq!(
        read(&path),
        "default id request_id=req-7\nown id request_id=mine\n"
    );
}

/// DESIGN §1/§3: a chain runs in order — a key added then removed is gone; removed then added
/// is present.
#[test]
fn processors_run_in_the_configured_order() {
    let dir = Tmp::new("order");
    let (a, b) = (dir.join("a.log"), dir.join("b.log"));
    let add = json!({"type": "add_context_defaults", "params": {"defaults": {"x": 1}}});
    let del = json!({"type": "filter_keys", "params": {"keys": ["x"]}});
    let k = kolog(root_doc(
        "INFO",
        json!([
            file_handler(&a, plain("%(event)s"), json!([add.clone(), del.clone()])),
            file_handler(&b, plain("%(event)s"), json!([del, add]))
        ]),
    ));
    info!(k.logger("root").unwrap(), "e", x = 5);
    k.shutdown().unwrap();
    assert_eq!(read(&a), "e\n");
    assert_eq!(read(&b), "e x=1\n");
}

/// The same records rendered without processors (rendered straight from the ring) and with a
/// pass-through custom processor (through the event dictionary) give the same bytes, for the
/// plain and the JSON renderer: what a handler writes does not depend on its chain.
#[test]
fn output_does_not_depend_on_whether_a_chain_is_present() {
    kolog::register_processor("seed_acc_noop", |_| {
        Ok(Box::new(|_: &mut kolog::EventDict<'_>| Action::Keep))
    });
    fn workload(k: &Kolog) {
        let log = bind!(k.logger("root").unwrap(), svc = "a b", n = 3);
        let e = DbError(std::io::Error::other("reset"));
        for i in 0..3u64 {
            info!(log, "row", i, f = 0.25, s = "x=y", t = false, d = %i, q = ?"q");
        }
        warning!(log, "tab\tand\nnewline", neg = -1i64);
        error!(log, "err", error = &e);
        k.shutdown().unwrap();
    }
    let dir = Tmp::new("paths");
    for renderer in [
        json!({"type": "file_plain"}),
        json!({"type": "file_json"}),
        json!({"type": "file_plain", "params": {"fmt": "%(level)-8s|%(name)s|%(event)s|%(s)s"}}),
    ] {
        let (fast, slow) = (dir.join("fast.log"), dir.join("slow.log"));
        workload(&kolog(
            json!({"loggers": [{"name": "root", "context": {"app": "myapp"},
            "handlers": [file_handler(&fast, renderer.clone(), json!([]))]}]}),
        ));
        workload(&kolog(
            json!({"loggers": [{"name": "root", "context": {"app": "myapp"},
            "handlers": [file_handler(&slow, renderer.clone(), json!([{"type": "seed_acc_noop"}]))]}]}),
        ));
        assert_eq!(read(&fast), read(&slow), "{renderer}");
        assert_eq!(read(&fast).lines().count(), 5);
    }
}

// ---------------------------------------------------------------------------------------------
// Renderers
// ---------------------------------------------------------------------------------------------

/// DESIGN §3: the plain renderer's default `fmt` is `[%(asctime)s] [%(level)-8s] [%(name)s]:
/// %(event)s`, default `datefmt` `%Y-%m-%d %H:%M:%S`, then the fields as ` key=value`; a file
/// handler without a renderer uses `file_plain`.
#[test]
fn plain_renderer_default_format() {
    let dir = Tmp::new("plain-default");
    let (a, b) = (dir.join("a.log"), dir.join("b.log"));
    let k = kolog(root_doc(
        "DEBUG",
        json!([
            file_handler(&a, json!({"type": "file_plain"}), json!([])),
            {"type": "file", "params": {"filename": s(&b), "mode": "w"}}
        ]),
    ));
    let log = k.logger("root").unwrap();
    info!(log, "Application started", version = "1.0.0");
    critical!(log, "Disk on fire");
    k.shutdown().unwrap();
    let want = format!(
        "[{ASC}] [INFO    ] [root]: Application started version=1.0.0\n[{ASC}] [CRITICAL] [root]: Disk on fire\n"
    );
    assert_eq!(read(&a), want);
    assert_eq!(read(&b), want);
}

/// Seed: "PlainRenderer: Percent-style formatted output: %(asctime)s - %(level)s - %(event)s"
/// with the seed's `datefmt`.
#[test]
fn plain_renderer_seed_fmt_and_datefmt() {
    let dir = Tmp::new("plain-seed");
    let path = dir.join("p.log");
    let k = kolog(root_doc(
        "INFO",
        json!([file_handler(
            &path,
            json!({"type": "file_plain", "params": {
            "fmt": "%(asctime)s - %(level)s - %(event)s", "datefmt": "%Y-%m-%d %H:%M:%S"}}),
            json!([])
        )]),
    ));
    warning!(
        k.logger("root").unwrap(),
        "Rate limit exceeded",
        ip = "192.168.1.1"
    );
    k.shutdown().unwrap();
    assert_eq!(
        read(&path),
        format!("{ASC} - WARNING - Rate limit exceeded ip=192.168.1.1\n")
    );
}

/// DESIGN §3 / kolog README: `fmt` keys `asctime`, `level`/`levelname`, `name`, `event`/`message`
/// and any field name (printed in place, left out of the tail; empty when absent); `-` and a
/// width align; `%%` is `%`; conversions `s`, `d`, `r` (Python's `repr`: a string in quotes).
#[test]
fn plain_renderer_fmt_keys_widths_fields_and_percent() {
    let dir = Tmp::new("plain-keys");
    let path = dir.join("k.log");
    let k = kolog(root_doc(
        "INFO",
        json!([file_handler(&path, plain(
            "%(levelname)8s|%(level)-8s|%(name)s|%(message)s|%(user_id)d|%(missing)s|%(event)r|100%%"), json!([]))]),
    ));
    info!(
        k.logger("root").unwrap(),
        "hello",
        user_id = 42,
        ip = "1.2.3.4"
    );
    k.shutdown().unwrap();
    assert_eq!(
        read(&path),
        "    INFO|INFO    |root|hello|42||'hello'|100% ip=1.2.3.4\n"
    );
}

/// DESIGN §3: `datefmt` (strftime subset) — every documented directive, UTC.
#[test]
fn plain_renderer_datefmt_directives() {
    let dir = Tmp::new("datefmt");
    let path = dir.join("d.log");
    let k = kolog(root_doc(
        "INFO",
        json!([file_handler(
            &path,
            json!({"type": "file_plain", "params": {
            "fmt": "%(asctime)s %(event)s",
            "datefmt": "%Y %y %m %d %H %I %M %S %f %j %b %B %a %A %p %z %Z %s %%"}}),
            json!([])
        )]),
    ));
    info!(k.logger("root").unwrap(), "e");
    k.shutdown().unwrap();
    assert_eq!(
        read(&path),
        "2024 24 01 01 12 12 00 00 123456 001 Jan January Mon Monday PM +0000 UTC 1704110400 % e\n"
    );
    let e = Kolog::from_json_str(
        &root_doc("INFO", json!([{"type": "null", "renderer": {"type": "stream_plain", "params": {"datefmt": "%Q"}}}]))
            .to_string(),
    )
    .unwrap_err();
    assert_eq!(e.kind(), ErrorKind::Configuration);
    assert!(e.msg().contains("datefmt"), "{}", e.msg());
}

/// Control characters in the event or a value do not break the one-record-one-line rule.
#[test]
fn plain_renderer_keeps_one_record_on_one_line() {
    let dir = Tmp::new("escape");
    let path = dir.join("e.log");
    let k = kolog(root_doc(
        "INFO",
        json!([file_handler(&path, plain("%(event)s"), json!([]))]),
    ));
    info!(k.logger("root").unwrap(), "two\nlines", v = "a\rb");
    k.shutdown().unwrap();
    assert_eq!(read(&path), "two\\nlines v=a\\rb\n");
}

/// DESIGN §3: a JSON line is one flat object (timestamp RFC 3339 UTC with microseconds and
/// `Z`); `indentation` absent = one object per line, `indentation: n` pretty-prints with n
/// spaces; `fmt`/`datefmt` do not change it.
#[test]
fn json_renderer_lines_and_indentation() {
    let dir = Tmp::new("json");
    let (line, two, four) = (dir.join("l.log"), dir.join("2.log"), dir.join("4.log"));
    let k = kolog(root_doc(
        "INFO",
        json!([
            file_handler(
                &line,
                json!({"type": "file_json", "params": {"fmt": "%(event)s", "datefmt": "%Y"}}),
                json!([])
            ),
            file_handler(
                &two,
                json!({"type": "file_json", "params": {"indentation": 2}}),
                json!([])
            ),
            file_handler(
                &four,
                json!({"type": "file_json", "params": {"indentation": 4}}),
                json!([])
            )
        ]),
    ));
    let log = k.logger("root").unwrap();
    info!(log, "one", n = 1);
    warning!(log, "two");
    k.shutdown().unwrap();
    assert_eq!(
        read(&line),
        format!("{{\"timestamp\":\"{TS}\",\"level\":\"INFO\",\"logger\":\"root\",\"event\":\"one\",\"n\":1}}\n{{\"timestamp\":\"{TS}\",\"level\":\"WARNING\",\"logger\":\"root\",\"event\":\"two\"}}\n")
    );
    let pretty = |ind: &str| {
        format!("{{\n{ind}\"timestamp\": \"{TS}\",\n{ind}\"level\": \"INFO\",\n{ind}\"logger\": \"root\",\n{ind}\"event\": \"one\",\n{ind}\"n\": 1\n}}\n{{\n{ind}\"timestamp\": \"{TS}\",\n{ind}\"level\": \"WARNING\",\n{ind}\"logger\": \"root\",\n{ind}\"event\": \"two\"\n}}\n")
    };
    assert_eq!(read(&two), pretty("  "));
    assert_eq!(read(&four), pretty("    "));
}

fn streams_child() {
    let k = kolog(json!({"loggers": [
        {"name": "out", "handlers": [{"type": "stream", "params": {"use_stderr": false},
            "renderer": {"type": "stream_plain", "params": {"fmt": "OUT %(level)s %(event)s"}}}]},
        {"name": "err", "handlers": [{"type": "stream", "params": {"use_stderr": true},
            "renderer": {"type": "stream_json"}}]},
        {"name": "dflt", "handlers": [{"type": "stream"}]}
    ]}));
    info!(k.logger("out").unwrap(), "to stdout", n = 1);
    error!(k.logger("err").unwrap(), "to stderr", n = 2);
    info!(k.logger("dflt").unwrap(), "default stream");
    k.shutdown().unwrap();
}

/// Seed "Stream Handler: Writes to stdout/stderr" (`use_stderr`, default stdout; default
/// renderer `stream_plain`); `stream_json` writes one JSON line.
#[test]
fn stream_handler_writes_to_stdout_or_stderr() {
    const NAME: &str = "stream_handler_writes_to_stdout_or_stderr";
    if is_child(NAME) {
        return streams_child();
    }
    let (out, err) = run_child(NAME, &[], &[]);
    assert_eq!(lines_from(&out, "OUT "), ["OUT INFO to stdout n=1"]);
    assert_eq!(
        lines_from(&out, "[2024-01-01"),
        [format!("[{ASC}] [INFO    ] [dflt]: default stream")]
    );
    assert_eq!(
        lines_from(&err, "{\"timestamp\""),
        [format!("{{\"timestamp\":\"{TS}\",\"level\":\"ERROR\",\"logger\":\"err\",\"event\":\"to stderr\",\"n\":2}}")]
    );
    assert!(
        !out.contains("to stderr") && !err.contains("to stdout") && !err.contains("default stream")
    );
}

fn colored_child() {
    let k = kolog(root_doc(
        "INFO",
        json!([{"type": "stream", "renderer": {"type": "stream_colored"}}]),
    ));
    info!(k.logger("root").unwrap(), "coloured", n = 1);
    k.shutdown().unwrap();
}

/// Removes ANSI SGR sequences (`ESC [ ... m`).
fn strip_ansi(s: &str) -> String {
    let mut out = String::new();
    let mut it = s.chars().peekable();
    while let Some(c) = it.next() {
        if c == '\x1b' && it.peek() == Some(&'[') {
            for d in it.by_ref() {
                if d == 'm' {
                    break;
                }
            }
        } else {
            out.push(c);
        }
    }
    out
}

/// Seed "ColoredRenderer: ANSI-colored output (for terminals)"; DESIGN: `stream_colored` is
/// plain with colours on a terminal; plain text otherwise and with `NO_COLOR`.
#[test]
fn stream_colored_colours_only_on_a_terminal() {
    const NAME: &str = "stream_colored_colours_only_on_a_terminal";
    if is_child(NAME) {
        return colored_child();
    }
    let want = format!("[{ASC}] [INFO    ] [root]: coloured n=1");
    let tty = run_child_on_pty(NAME);
    let lines = lines_from(&tty, "[2024-01-01");
    assert_eq!(lines.len(), 1, "{tty:?}");
    assert!(
        lines[0].contains("\x1b["),
        "coloured on a terminal: {:?}",
        lines[0]
    );
    assert_eq!(strip_ansi(&lines[0]), want);
    let (piped, _) = run_child(NAME, &[], &["NO_COLOR"]);
    assert_eq!(
        lines_from(&piped, "[2024-01-01"),
        std::slice::from_ref(&want)
    );
    let (no_color, _) = run_child(NAME, &[("NO_COLOR", "1")], &[]);
    assert_eq!(lines_from(&no_color, "[2024-01-01"), [want]);
}

// ---------------------------------------------------------------------------------------------
// Handlers
// ---------------------------------------------------------------------------------------------

/// Seed "File Handler: Writes to a file. Lazy-opens on first write."
#[test]
fn file_handler_opens_lazily_on_first_write() {
    let dir = Tmp::new("lazy");
    let path = dir.join("lazy.log");
    let k = kolog(root_doc(
        "INFO",
        json!([file_handler(&path, plain("%(event)s"), json!([]))]),
    ));
    let log = k.logger("root").unwrap();
    k.flush();
    assert!(!path.exists(), "not created before the first record");
    info!(log, "first");
    k.flush();
    assert_eq!(read(&path), "first\n");
    k.shutdown().unwrap();
}

/// DESIGN §3: "A file handler truncates at open when `mode` starts with `w` or
/// `override_existing` is true, and appends otherwise" (seed params `mode`, `encoding`,
/// `override_existing`).
#[test]
fn file_handler_mode_and_override_existing() {
    let dir = Tmp::new("modes");
    let cases: [(Option<&str>, Option<bool>, bool); 9] = [
        (None, None, false),
        (Some("a"), None, false),
        (Some("ab"), Some(false), false),
        (Some("a+"), None, false),
        (Some("w"), None, true),
        (Some("wb"), Some(false), true),
        (Some("w+"), None, true),
        (Some("a"), Some(true), true),
        (Some("wb"), Some(true), true),
    ];
    for (i, (mode, over, truncates)) in cases.into_iter().enumerate() {
        let path = dir.join(&format!("m{i}.log"));
        std::fs::write(&path, "OLD\n").unwrap();
        let mut params = json!({"filename": s(&path), "encoding": "utf-8"});
        if let Some(m) = mode {
            params["mode"] = json!(m);
        }
        if let Some(o) = over {
            params["override_existing"] = json!(o);
        }
        let k = kolog(root_doc(
            "INFO",
            json!([{"type": "file", "params": params,
            "renderer": plain("%(event)s")}]),
        ));
        info!(k.logger("root").unwrap(), "new ünïcode");
        k.shutdown().unwrap();
        let want = if truncates {
            "new ünïcode\n"
        } else {
            "OLD\nnew ünïcode\n"
        };
        assert_eq!(
            read(&path),
            want,
            "mode {mode:?} override_existing {over:?}"
        );
    }
}

/// Seed "Handler I/O Error": a file that cannot be opened is a handler error, code
/// `HANDLER::<FileHandler>::IO::ERROR`, msg "Failed to open the file at path `...`". (The seed's
/// service name is Python's class `AsyncFileHandler`; kolog's is `FileHandler`. Found anywhere in
/// the error's chain: see the ignored `logger_creation_failures_...` test for the wrapping.)
#[test]
fn file_handler_in_a_missing_directory_is_a_handler_io_error() {
    let dir = Tmp::new("missing-dir");
    for (ty, service) in [
        ("file", "FileHandler"),
        ("rotating_file", "RotatingFileHandler"),
    ] {
        let path = dir.join("read-only/path/app.log");
        let e = Kolog::from_json_str(
            &root_doc(
                "INFO",
                json!([{"type": ty, "params": {"filename": s(&path), "mode": "wb"}}]),
            )
            .to_string(),
        )
        .unwrap_err();
        let chain = kolog_chain(&e);
        let h = chain
            .iter()
            .find(|e| e.kind() == ErrorKind::Handler)
            .unwrap_or_else(|| panic!("{e:?}"));
        assert_eq!(h.code(), format!("HANDLER::{service}::IO::ERROR"));
        assert!(
            h.msg().starts_with(&format!(
                "Failed to open the file at path `{}`",
                path.display()
            )),
            "{}",
            h.msg()
        );
    }
}

/// Seed "Rotating File Handler: Rotates logs based on file size": before a record would take
/// the file to `max_bytes` (Python's rule), `app.log` → `app.log.1` → ... → `app.log.N`, the
/// oldest beyond `backup_count` deleted; a record is never split.
#[test]
fn rotating_file_rotates_by_size_keeping_backup_count() {
    let dir = Tmp::new("rotate-size");
    let path = dir.join("app.log");
    let k = kolog(root_doc(
        "INFO",
        json!([{"type": "rotating_file",
            "params": {"filename": s(&path), "max_bytes": 30, "backup_count": 2, "rotation_interval": null},
            "renderer": plain("%(event)s")}]),
    ));
    let log = k.logger("root").unwrap();
    for i in 0..10u64 {
        info!(log, "line", i);
        k.flush();
    }
    k.shutdown().unwrap();
    let lines = |r: std::ops::Range<u64>| r.map(|i| format!("line i={i}\n")).collect::<String>();
    // "line i=N\n" is 9 bytes: 3 per file (27 + 9 >= 30 rotates).
    assert_eq!(read(&path), lines(9..10));
    assert_eq!(read(&dir.join("app.log.1")), lines(6..9));
    assert_eq!(read(&dir.join("app.log.2")), lines(3..6));
    assert!(
        !dir.join("app.log.3").exists(),
        "only backup_count backups are kept"
    );
    let n = std::fs::read_dir(&dir.0).unwrap().count();
    assert_eq!(n, 3);
}

/// Python's rule kept by kolog: `backup_count` 0 or `max_bytes` 0 never rotates by size; a
/// record larger than `max_bytes` goes alone into a fresh file.
#[test]
fn rotating_file_size_edge_cases() {
    let dir = Tmp::new("rotate-edges");
    let (zero_backups, zero_bytes, big) = (dir.join("a.log"), dir.join("b.log"), dir.join("c.log"));
    let rot = |p: &Path, max: u64, backups: u32| {
        json!({"type": "rotating_file", "params": {"filename": s(p), "max_bytes": max, "backup_count": backups},
               "renderer": plain("%(event)s")})
    };
    let k = kolog(json!({"loggers": [
        {"name": "a", "handlers": [rot(&zero_backups, 10, 0)]},
        {"name": "b", "handlers": [rot(&zero_bytes, 0, 3)]},
        {"name": "c", "handlers": [rot(&big, 10, 3)]}
    ]}));
    for name in ["a", "b"] {
        let log = k.logger(name).unwrap();
        for i in 0..5u64 {
            info!(log, "r", i);
        }
    }
    let c = k.logger("c").unwrap();
    info!(c, "small");
    info!(c, "this record is much longer than ten bytes");
    info!(c, "tail");
    k.shutdown().unwrap();
    let five: String = (0..5).map(|i| format!("r i={i}\n")).collect();
    assert_eq!(read(&zero_backups), five);
    assert_eq!(read(&zero_bytes), five);
    assert!(!dir.join("a.log.1").exists() && !dir.join("b.log.1").exists());
    assert_eq!(read(&big), "tail\n");
    assert_eq!(
        read(&dir.join("c.log.1")),
        "this record is much longer than ten bytes\n"
    );
    assert_eq!(read(&dir.join("c.log.2")), "small\n");
}

/// Seed "Rotating File Handler: Rotates logs based on ... time" (`rotation_interval` seconds):
/// after the interval the file is renamed with the UTC time it was opened
/// (`app.log.YYYY-MM-DD_HH-MM-SS`), keeping the newest `backup_count`.
#[test]
fn rotating_file_rotates_by_interval() {
    let dir = Tmp::new("rotate-time");
    let path = dir.join("app.log");
    let k = kolog(root_doc(
        "INFO",
        json!([{"type": "rotating_file",
            "params": {"filename": s(&path), "max_bytes": 0, "backup_count": 1, "rotation_interval": 0.5},
            "renderer": plain("%(event)s")}]),
    ));
    let log = k.logger("root").unwrap();
    let before = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs();
    info!(log, "first");
    info!(log, "first again");
    k.flush();
    std::thread::sleep(Duration::from_millis(700));
    info!(log, "second");
    k.flush();
    let after_first = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs();
    let mut backups: Vec<PathBuf> = std::fs::read_dir(&dir.0)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p != &path)
        .collect();
    assert_eq!(backups.len(), 1, "{backups:?}");
    assert_eq!(read(&backups[0]), "first\nfirst again\n");
    assert_eq!(read(&path), "second\n");
    // The suffix is the UTC time `app.log` was opened.
    let name = backups[0].file_name().unwrap().to_str().unwrap().to_owned();
    let stamp = name.strip_prefix("app.log.").unwrap();
    let ok = (before..=after_first).any(|t| {
        let d = t / 86_400;
        let r = t % 86_400;
        // 2024+ dates only need the time of day and a date check by round trip through the
        // renderer-independent civil computation below.
        let (y, m, dd) = civil_from_days(d as i64);
        stamp
            == format!(
                "{y:04}-{m:02}-{dd:02}_{:02}-{:02}-{:02}",
                r / 3600,
                r % 3600 / 60,
                r % 60
            )
    });
    assert!(ok, "{name}");
    std::thread::sleep(Duration::from_millis(700));
    info!(log, "third");
    k.shutdown().unwrap();
    backups = std::fs::read_dir(&dir.0)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p != &path)
        .collect();
    assert_eq!(
        backups.len(),
        1,
        "backup_count 1 keeps the newest: {backups:?}"
    );
    assert_eq!(read(&backups[0]), "second\n");
    assert_eq!(read(&path), "third\n");
}

fn civil_from_days(z: i64) -> (i64, u32, u32) {
    let z = z + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    (yoe + era * 400 + i64::from(m <= 2), m, d)
}

/// Seed "Null Handler: Discards all logs (unless a Sink is attached)".
#[test]
fn null_handler_discards_unless_a_sink_is_attached() {
    let k = kolog(root_doc("INFO", json!([{"type": "null"}])));
    let log = k.logger("root").unwrap();
    info!(log, "discarded");
    let sink = sink_on(&k, "root");
    info!(log, "captured", n = 1);
    assert_eq!(
        sink.events(),
        [format!("[{ASC}] [INFO    ] [root]: captured n=1")]
    );
    k.flush();
    let st = k.stats();
    assert_eq!(
        (st.enqueued, st.written, st.dropped, st.failed),
        (2, 2, 0, 0)
    );
}

// ---------------------------------------------------------------------------------------------
// Testing with a Sink
// ---------------------------------------------------------------------------------------------

/// Seed "Testing": the `logger_with_sink` fixture and `test_logging`, as written: attach a Sink
/// to `test`, log, assert at once (no flush), remove the sink. While attached, the sink takes
/// the logger's records instead of its handlers; `events` are rendered as the first handler
/// renders them; `records` are structured; `clear` forgets.
#[test]
fn sink_fixture_from_the_seed() {
    let dir = Tmp::new("sink");
    let path = dir.join("test.log");
    let queue_manager = QueueManager::start(QueueConfig::default()).unwrap();
    pin();
    let factory = LoggerFactory::from_json_value(
        &json!({"loggers": [{"name": "test", "handlers": [
            file_handler(&path, json!({"type": "file_plain", "params": {"fmt": "%(level)s %(event)s"}}), json!([])),
            {"type": "null", "renderer": {"type": "stream_json"}}
        ]}]}),
        &queue_manager,
    )
    .unwrap();
    // fixture
    let logger = factory.get_logger("test").unwrap();
    let sink = Sink::new();
    queue_manager.add_sink("test", sink.clone());
    // test_logging
    info!(logger, "Test message");
    assert_eq!(sink.events().len(), 1);
    assert!(sink.events()[0].contains("Test message"));
    assert_eq!(sink.events()[0], "INFO Test message");
    let child = factory.get_logger("test.child").unwrap();
    warning!(child, "from a child", k = 1);
    let records = sink.records();
    assert_eq!(records.len(), 2);
    assert_eq!(records[1].get("event").unwrap(), "from a child");
    assert_eq!(records[1].get("logger").unwrap(), "test.child");
    assert_eq!(records[1].get("level").unwrap(), "WARNING");
    assert_eq!(records[1].get("k").unwrap(), 1);
    assert_eq!(records[1].timestamp_ns, FIXED);
    sink.clear();
    assert_eq!(sink.len(), 0);
    // teardown
    queue_manager.remove_sink("test");
    info!(logger, "to the file again");
    queue_manager.flush();
    assert_eq!(
        read(&path),
        "INFO to the file again\n",
        "nothing reached the file while the sink was attached"
    );
    assert!(sink.events().is_empty());
    queue_manager.shutdown().unwrap();
}

// ---------------------------------------------------------------------------------------------
// Lifecycle contexts
// ---------------------------------------------------------------------------------------------

/// Seed "Lifecycle Contexts" (sync): `info_life("Database query", table="users")` logs
/// "Begin: Database query", the scope logs through it ("Did work"), and "End (0.15): Database
/// query" (seconds, 2 decimals) at the end; the fields are bound to all three.
#[test]
fn info_life_logs_begin_and_end_with_elapsed_seconds() {
    let k = kolog(root_doc(
        "INFO",
        json!([{"type": "null", "renderer": {"type": "stream_plain", "params": {"fmt": "%(level)s %(event)s"}}}]),
    ));
    let sink = sink_on(&k, "root");
    let logger = k.logger("root").unwrap();
    {
        let log = info_life!(logger, "Database query", table = "users");
        std::thread::sleep(Duration::from_millis(150));
        info!(log, "Did work");
    }
    let ev = sink.events();
    assert_eq!(ev.len(), 3, "{ev:?}");
    assert_eq!(ev[0], "INFO Begin: Database query table=users");
    assert_eq!(ev[1], "INFO Did work table=users");
    let end = ev[2]
        .strip_prefix("INFO ")
        .unwrap()
        .strip_suffix(" table=users")
        .unwrap();
    let secs = end_secs(end, "Database query");
    assert!((0.15..2.0).contains(&secs), "{end}");
    // Below the logger's level nothing is logged.
    let quiet = kolog(root_doc("WARNING", json!([{"type": "null"}])));
    let qs = sink_on(&quiet, "root");
    {
        let _g = info_life!(quiet.logger("root").unwrap(), "quiet");
    }
    assert!(qs.is_empty());
}

/// Seed "Lifecycle Contexts" (async): `ainfo_life("API call", ...)` around awaited work; DESIGN
/// §2: `log.ainfo_life("API call", future).await` returns the future's output. The seed's
/// keyword fields are bound first with `bind!`.
#[test]
fn ainfo_life_wraps_a_future_and_returns_its_output() {
    let k = kolog(root_doc(
        "INFO",
        json!([{"type": "null", "renderer": {"type": "stream_plain", "params": {"fmt": "%(event)s"}}}]),
    ));
    let sink = sink_on(&k, "root");
    let logger = bind!(k.logger("root").unwrap(), endpoint = "/data");
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_time()
        .build()
        .unwrap();
    let inner = logger.clone();
    let out = rt.block_on(logger.ainfo_life("API call", async move {
        tokio::time::sleep(Duration::from_millis(100)).await;
        ainfo!(inner, "Data fetched").await;
        7
    }));
    assert_eq!(out, 7);
    let ev = sink.events();
    assert_eq!(ev.len(), 3, "{ev:?}");
    assert_eq!(ev[0], "Begin: API call endpoint=/data");
    assert_eq!(ev[1], "Data fetched endpoint=/data");
    let end = ev[2].strip_suffix(" endpoint=/data").unwrap();
    assert!((0.1..2.0).contains(&end_secs(end, "API call")), "{end}");
}

// ---------------------------------------------------------------------------------------------
// Backpressure
// ---------------------------------------------------------------------------------------------

/// Seed "Backpressure Policies: ... block ... when queue is full"; DESIGN: under `Block` nothing
/// is lost — sync producers wait, `ainfo!` futures wait through a waker. A one-record queue,
/// four threads and an async task: every record written, each producer's in order.
#[test]
fn block_policy_loses_nothing_with_a_tiny_queue() {
    let dir = Tmp::new("block");
    let path = dir.join("b.log");
    let k = kolog(json!({
        "queue": {"max_queue_size": 1, "backpressure_policy": "block"},
        "loggers": [{"name": "root", "handlers": [file_handler(&path, plain("%(event)s"), json!([]))]}]
    }));
    let log = k.logger("root").unwrap();
    const N: u64 = 10_000;
    let threads: Vec<_> = (0..4u64)
        .map(|p| {
            let log = log.clone();
            std::thread::spawn(move || {
                for i in 0..N {
                    info!(log, "r", p, i);
                }
            })
        })
        .collect();
    let rt = tokio::runtime::Builder::new_current_thread()
        .build()
        .unwrap();
    rt.block_on(async {
        for i in 0..N {
            ainfo!(log, "r", p = 4u64, i).await;
        }
    });
    for t in threads {
        t.join().unwrap();
    }
    let report = k.shutdown().unwrap();
    assert_eq!(
        (report.enqueued, report.written, report.dropped),
        (5 * N, 5 * N, 0)
    );
    let mut next = [0u64; 5];
    for line in read(&path).lines() {
        let rest = line.strip_prefix("r p=").unwrap();
        let (p, i) = rest.split_once(" i=").unwrap();
        let (p, i): (usize, u64) = (p.parse().unwrap(), i.parse().unwrap());
        assert_eq!(i, next[p], "producer {p} in order");
        next[p] += 1;
    }
    assert_eq!(next, [N; 5]);
}

static GATE_DROP: Gate = Gate::new();
static GATE_OLDEST: Gate = Gate::new();

/// Seed "Backpressure Policies: Drop"; DESIGN: the new record is discarded when its thread's
/// ring is full, and counted (`dropped_full`); the survivors are the oldest, in order.
#[test]
fn drop_policy_discards_new_records_and_counts_them() {
    let gate = GATE_DROP.register("seed_acc_gate_drop");
    let k = Kolog::from_config(null_system(
        vec![gate],
        QueueConfig {
            max_queue_size: 32,
            backpressure_policy: BackpressurePolicy::Drop,
            drain_timeout: Duration::from_secs(30),
        },
    ))
    .unwrap();
    let sink = sink_on(&k, "svc");
    let log = k.logger("svc").unwrap();
    info!(log, "gate");
    GATE_DROP.wait_entered();
    for i in 0..10_000u64 {
        info!(log, "r", i);
    }
    let before = k.stats();
    GATE_DROP.open();
    k.flush();
    let records = sink.records();
    assert_eq!(records[0].get("event").unwrap(), "gate");
    let survivors: Vec<u64> = records[1..]
        .iter()
        .map(|r| r.get("i").unwrap().as_u64().unwrap())
        .collect();
    let n = survivors.len() as u64;
    assert!(n > 0 && n < 10_000);
    assert_eq!(
        survivors,
        (0..n).collect::<Vec<_>>(),
        "the oldest survive, in order"
    );
    let st = k.stats();
    assert_eq!(before.dropped_full, 10_000 - n);
    assert_eq!(st.dropped_full, 10_000 - n);
    assert_eq!(st.dropped, st.dropped_full);
    assert_eq!(st.dropped_oldest, 0);
    assert_eq!(st.written, 1 + n);
    assert_eq!(st.enqueued, 1 + n);
}

/// Seed "Backpressure Policies: drop-oldest"; DESIGN `DropOldest`: the oldest unwritten records
/// are discarded to make room and counted (`dropped_oldest`); the survivors are the newest.
#[test]
fn drop_oldest_policy_keeps_the_newest_records() {
    let gate = GATE_OLDEST.register("seed_acc_gate_oldest");
    let k = Kolog::from_config(null_system(
        vec![gate],
        QueueConfig {
            max_queue_size: 32,
            backpressure_policy: BackpressurePolicy::DropOldest,
            drain_timeout: Duration::from_secs(30),
        },
    ))
    .unwrap();
    let sink = sink_on(&k, "svc");
    let log = k.logger("svc").unwrap();
    info!(log, "gate");
    GATE_OLDEST.wait_entered();
    for i in 0..10_000u64 {
        info!(log, "r", i);
    }
    GATE_OLDEST.open();
    k.flush();
    let records = sink.records();
    assert_eq!(records[0].get("event").unwrap(), "gate");
    let survivors: Vec<u64> = records[1..]
        .iter()
        .map(|r| r.get("i").unwrap().as_u64().unwrap())
        .collect();
    let n = survivors.len() as u64;
    assert!(n > 0 && n < 10_000);
    assert_eq!(
        survivors,
        (10_000 - n..10_000).collect::<Vec<_>>(),
        "the newest survive, in order"
    );
    let st = k.stats();
    assert_eq!(st.dropped_oldest, 10_000 - n);
    assert_eq!(st.dropped, st.dropped_oldest);
    assert_eq!(st.dropped_full, 0);
    assert_eq!(st.written, 1 + n);
    // Evicted records had been enqueued: every one is accounted for.
    assert_eq!(st.enqueued, 10_001);
    assert_eq!(st.enqueued, st.written + st.dropped_oldest);
}

// ---------------------------------------------------------------------------------------------
// Stats, flush and shutdown
// ---------------------------------------------------------------------------------------------

/// DESIGN §2: `flush()` returns when every record enqueued before the call is written.
#[test]
fn flush_returns_after_every_earlier_record_is_written() {
    let dir = Tmp::new("flush");
    let path = dir.join("f.log");
    let k = kolog(root_doc(
        "INFO",
        json!([file_handler(&path, plain("%(event)s"), json!([]))]),
    ));
    let log = k.logger("root").unwrap();
    for round in 1..=3usize {
        for i in 0..2_000u64 {
            info!(log, "r", i);
        }
        k.flush();
        assert_eq!(read(&path).lines().count(), round * 2_000);
    }
    k.shutdown().unwrap();
}

/// DESIGN §2: `shutdown()` drains what is queued and reports exact counts; a record logged
/// after shutdown is counted (`dropped_shutdown`); dropping a `Kolog` shuts it down and writes
/// everything.
#[test]
fn shutdown_drains_reports_and_counts_late_records() {
    let dir = Tmp::new("shutdown");
    let path = dir.join("s.log");
    let k = kolog(root_doc(
        "INFO",
        json!([file_handler(&path, plain("%(event)s"), json!([]))]),
    ));
    let log = k.logger("root").unwrap();
    for i in 0..5_000u64 {
        info!(log, "r", i);
    }
    debug!(log, "below the level: not enqueued");
    let report = k.shutdown().unwrap();
    assert_eq!(read(&path).lines().count(), 5_000);
    assert_eq!(
        (
            report.enqueued,
            report.written,
            report.dropped,
            report.failed,
            report.filtered
        ),
        (5_000, 5_000, 0, 0, 0)
    );
    assert!(!report.timed_out);
    info!(log, "late");
    let st = k.stats();
    assert_eq!(st.dropped_shutdown, 1);
    assert_eq!(st.dropped, 1);
    assert_eq!(read(&path).lines().count(), 5_000);
    // Shutting down twice is not a second drain.
    let again = k.shutdown().unwrap_err();
    assert_eq!(again.kind(), ErrorKind::QueueManager);
    drop(k);

    let path2 = dir.join("dropped.log");
    {
        let k = kolog(root_doc(
            "INFO",
            json!([file_handler(&path2, plain("%(event)s"), json!([]))]),
        ));
        let log = k.logger("root").unwrap();
        for i in 0..1_000u64 {
            info!(log, "r", i);
        }
    }
    assert_eq!(read(&path2).lines().count(), 1_000);
}

/// DESIGN §2: "`qm.shutdown()` drains within `drain_timeout`"; what could not be written in time
/// is counted (`dropped_timeout`), never hidden. A handler taking 20 ms per record with 100
/// queued and a 0.2 s timeout: shutdown returns in about 0.2 s, not after all 2 s of work.
#[test]
fn shutdown_returns_within_drain_timeout() {
    kolog::register_processor("seed_acc_sleep_20ms", |_| {
        Ok(Box::new(|_: &mut kolog::EventDict<'_>| {
            std::thread::sleep(Duration::from_millis(20));
            Action::Keep
        }))
    });
    let k = Kolog::from_config(null_system(
        vec![ProcessorConfig::Custom {
            name: "seed_acc_sleep_20ms".into(),
            params: json!({}),
        }],
        QueueConfig {
            max_queue_size: 1_000,
            backpressure_policy: BackpressurePolicy::Block,
            drain_timeout: Duration::from_millis(200),
        },
    ))
    .unwrap();
    let log = k.logger("root").unwrap();
    for i in 0..100u64 {
        info!(log, "slow", i);
    }
    let t = Instant::now();
    let report = k.shutdown().unwrap();
    let took = t.elapsed();
    assert!(took < Duration::from_millis(700), "shutdown took {took:?}");
    assert!(report.timed_out);
    assert!(report.dropped_timeout > 0);
    assert_eq!(report.written + report.dropped_timeout, 100);
}

// ---------------------------------------------------------------------------------------------
// Errors
// ---------------------------------------------------------------------------------------------

/// Seed "Error Code Format": `LAYER::Service::CATEGORY::SEVERITY[::RECOVERABLE]`; "Exception
/// Attributes": msg, code, msg_code (message + code: kolog's `Display`), recoverable, cause
/// (`source()`).
#[test]
fn error_codes_have_the_seed_format_and_attributes() {
    let errors = [
        Kolog::from_json_str("{ not json").unwrap_err(),
        Kolog::from_json_str(&json!({"loggers": [{"name": "x", "level": "LOUD"}]}).to_string())
            .unwrap_err(),
        Kolog::from_path("/nonexistent-kolog-dir/kolog.json").unwrap_err(),
    ];
    for e in &errors {
        let code = e.code();
        let parts: Vec<&str> = code.split("::").collect();
        assert!(
            parts.len() == 4 || (parts.len() == 5 && parts[4] == "RECOVERABLE"),
            "{code}"
        );
        assert!(parts[0].chars().all(|c| c.is_ascii_uppercase()), "{code}");
        assert!(
            parts[1].chars().next().unwrap().is_ascii_uppercase(),
            "{code}"
        );
        assert!(parts[2].chars().all(|c| c.is_ascii_uppercase()), "{code}");
        assert!(
            ["WARNING", "ERROR", "CRITICAL"].contains(&parts[3]),
            "{code}"
        );
        assert_eq!(parts.len() == 5, e.recoverable(), "{code}");
        let shown = e.to_string();
        assert!(shown.contains(e.msg()) && shown.contains(&code), "{shown}");
    }
    assert_eq!(
        errors[0].code(),
        "CONFIGURATION::LoggerFactory::PARSING::ERROR"
    );
    assert!(
        std::error::Error::source(&errors[0]).is_some(),
        "the parser's error is the cause"
    );
    assert_eq!(
        errors[1].code(),
        "CONFIGURATION::LoggerFactory::VALIDATION::ERROR"
    );
    assert_eq!(errors[2].code(), "CONFIGURATION::LoggerFactory::IO::ERROR");
    // Seed "Best Practices" 3: monitoring by severity in the code.
    assert!(!errors[0].code().contains("CRITICAL"));
}

/// Seed "Processor Error" example: an unknown processor type in a logger's config. In a
/// document it is a validation error naming the path (DESIGN §3); built in code, a processor
/// error (`PROCESSOR::...`) whose message names the type, found in the error's chain.
#[test]
fn unknown_processor_type_is_reported() {
    let doc = json!({"loggers": [{"name": "app", "handlers": [{"type": "null",
        "processors": [{"type": "unknown_processor"}]}]}]});
    let e = Kolog::from_json_str(&doc.to_string()).unwrap_err();
    assert_eq!(e.kind(), ErrorKind::Configuration);
    assert!(
        e.msg()
            .contains("loggers[0].handlers[0].processors[0].type"),
        "{}",
        e.msg()
    );
    assert!(e.msg().contains("unknown_processor"), "{}", e.msg());

    let qm = QueueManager::start(QueueConfig::default()).unwrap();
    let e = LoggerFactory::new(unknown_processor_config(), &qm).unwrap_err();
    let p = kolog_chain(&e)
        .into_iter()
        .find(|e| e.kind() == ErrorKind::Processor)
        .unwrap_or_else(|| panic!("{e:?}"));
    assert!(p.code().starts_with("PROCESSOR::"), "{}", p.code());
    assert_eq!(p.msg(), "Unknown processor type: unknown_processor");
    qm.shutdown().unwrap();
}

fn unknown_processor_config() -> LoggingSystemConfig {
    LoggingSystemConfig {
        loggers: vec![LoggerConfig {
            name: "app".into(),
            level: None,
            handlers: vec![HandlerConfig {
                kind: HandlerKind::Null,
                renderer: RendererConfig::new(RendererKind::StreamPlain),
                processors: vec![ProcessorConfig::Custom {
                    name: "unknown_processor".into(),
                    params: json!({}),
                }],
            }],
            context: Default::default(),
        }],
        ..Default::default()
    }
}

/// Seed "Exception Types": `AlLoggerCreationError` — "Logger instantiation fails: Handler
/// creation error, processor registration failure"; seed "Processor Error" example:
/// `e.msg == "Failed to create logger ..."`, `e.__cause__` is the `AlProcessorError`
/// "Unknown processor type: unknown_processor". DESIGN §4 lists the kind `LoggerCreation`.
#[test]
fn logger_creation_failures_are_logger_creation_errors_with_their_cause() {
    let qm = QueueManager::start(QueueConfig::default()).unwrap();
    let e = LoggerFactory::new(unknown_processor_config(), &qm).unwrap_err();
    assert_eq!(e.kind(), ErrorKind::LoggerCreation, "{e:?}");
    assert_eq!(e.msg(), "Failed to create logger `app`");
    let cause = std::error::Error::source(&e)
        .and_then(|c| c.downcast_ref::<kolog::Error>())
        .expect("the processor error is the cause");
    assert_eq!(cause.kind(), ErrorKind::Processor);
    assert_eq!(cause.msg(), "Unknown processor type: unknown_processor");

    let dir = Tmp::new("creation");
    let mut cfg = unknown_processor_config();
    cfg.loggers[0].handlers[0] = HandlerConfig {
        kind: HandlerKind::File(kolog::config::FileParams {
            filename: dir.join("missing/app.log"),
            mode: "wb".into(),
            encoding: "utf-8".into(),
            override_existing: true,
        }),
        renderer: RendererConfig::new(RendererKind::FilePlain),
        processors: vec![],
    };
    let e = LoggerFactory::new(cfg, &qm).unwrap_err();
    assert_eq!(e.kind(), ErrorKind::LoggerCreation, "{e:?}");
    assert_eq!(e.msg(), "Failed to create logger `app`");
    let cause = std::error::Error::source(&e)
        .and_then(|c| c.downcast_ref::<kolog::Error>())
        .expect("the handler error is the cause");
    assert_eq!(cause.code(), "HANDLER::FileHandler::IO::ERROR");
    qm.shutdown().unwrap();
}

// ---------------------------------------------------------------------------------------------
// More of the seed's promises: never blocking, ordering, limits, run-time faults, clocks
// ---------------------------------------------------------------------------------------------

static GATE_NONBLOCK: Gate = Gate::new();

/// Seed "What is Ko-Log?": "pushes records to a queue and lets a background worker handle
/// I/O"; DESIGN: "logging must never block the code that logs". With the drainer held inside a
/// processor, logging calls with room in the queue still return at once.
#[test]
fn logging_does_not_wait_for_the_background_worker() {
    let gate = GATE_NONBLOCK.register("seed_acc_gate_nonblock");
    let k = Kolog::from_config(null_system(vec![gate], QueueConfig::default())).unwrap();
    let sink = sink_on(&k, "svc");
    let log = k.logger("svc").unwrap();
    info!(log, "gate");
    GATE_NONBLOCK.wait_entered();
    let t = Instant::now();
    for i in 0..1_000u64 {
        info!(log, "while the worker is busy", i);
    }
    let rt = tokio::runtime::Builder::new_current_thread()
        .build()
        .unwrap();
    rt.block_on(async {
        for i in 0..1_000u64 {
            ainfo!(log, "async while the worker is busy", i).await;
        }
    });
    let took = t.elapsed();
    assert!(took < Duration::from_secs(5), "2,000 records took {took:?}");
    assert_eq!(k.stats().written, 0, "the worker is still held");
    GATE_NONBLOCK.open();
    assert_eq!(sink.len(), 2_001);
    assert_eq!(k.stats().dropped, 0);
}

/// DESIGN §1: the drainer merges the per-thread queues "in timestamp order": records that two
/// threads log strictly one after the other come out in that order.
#[test]
fn records_from_several_threads_are_written_in_time_order() {
    use std::sync::mpsc;
    let dir = Tmp::new("order-threads");
    let path = dir.join("o.log");
    let k = kolog(root_doc(
        "INFO",
        json!([file_handler(&path, plain("%(event)s"), json!([]))]),
    ));
    let log = k.logger("root").unwrap();
    let (to_b, b_rx) = mpsc::channel::<u64>();
    let (to_a, a_rx) = mpsc::channel::<u64>();
    let lb = log.clone();
    let b = std::thread::spawn(move || {
        while let Ok(i) = b_rx.recv() {
            info!(lb, "b", i);
            to_a.send(i).unwrap();
        }
    });
    for i in 0..200u64 {
        info!(log, "a", i);
        to_b.send(i).unwrap();
        a_rx.recv().unwrap();
    }
    drop(to_b);
    b.join().unwrap();
    k.shutdown().unwrap();
    let want: String = (0..200).map(|i| format!("a i={i}\nb i={i}\n")).collect();
    assert_eq!(read(&path), want);
}

/// DESIGN §2: "a record larger than [the ring] still fits or is counted as dropped, never
/// truncated".
#[test]
fn an_oversized_record_is_written_whole_or_counted_never_truncated() {
    let dir = Tmp::new("oversize");
    let path = dir.join("big.log");
    let k = kolog(json!({
        "queue": {"max_queue_size": 1},
        "loggers": [{"name": "root", "handlers": [file_handler(&path, plain("%(event)s"), json!([]))]}]
    }));
    let log = k.logger("root").unwrap();
    let big = "x".repeat(100_000);
    info!(log, "big", v = big.as_str());
    info!(log, "after");
    let report = k.shutdown().unwrap();
    let text = read(&path);
    if report.dropped_oversize == 1 {
        assert_eq!(text, "after\n");
        assert_eq!((report.written, report.dropped), (1, 1));
    } else {
        assert_eq!(text, format!("big v={big}\nafter\n"));
        assert_eq!((report.written, report.dropped), (2, 0));
    }
}

/// DESIGN §1/§2: one ring per producing thread, reclaimed after its thread exits and the ring
/// is drained; `Stats::live_rings` counts them.
#[test]
fn rings_of_exited_threads_are_reclaimed() {
    let k = kolog(root_doc("INFO", json!([{"type": "null"}])));
    let log = k.logger("root").unwrap();
    assert_eq!(k.stats().live_rings, 0);
    let threads: Vec<_> = (0..16)
        .map(|_| {
            let log = log.clone();
            std::thread::spawn(move || info!(log, "once"))
        })
        .collect();
    for t in threads {
        t.join().unwrap();
    }
    let t = Instant::now();
    loop {
        k.flush();
        if k.stats().live_rings == 0 {
            break;
        }
        assert!(
            t.elapsed() < Duration::from_secs(10),
            "live_rings {}",
            k.stats().live_rings
        );
        std::thread::sleep(Duration::from_millis(20));
    }
    let st = k.stats();
    assert_eq!((st.enqueued, st.written), (16, 16));
}

/// Seed "AlProcessorError: Processor execution fails"; DESIGN: the hot path never returns
/// errors — a custom processor that drops a record (ko-log's `DropLog`) is counted as filtered,
/// one that panics as failed, and the next record is written.
#[test]
fn custom_processor_drop_and_panic_are_counted() {
    kolog::register_processor("seed_acc_drop_or_panic", |_| {
        Ok(Box::new(|ev: &mut kolog::EventDict<'_>| match &*ev.event {
            "drop me" => Action::Drop,
            "boom" => panic!("processor bug (expected by the test)"),
            _ => Action::Keep,
        }))
    });
    let dir = Tmp::new("custom-fail");
    let path = dir.join("c.log");
    let k = kolog(root_doc(
        "INFO",
        json!([file_handler(
            &path,
            plain("%(event)s"),
            json!([{"type": "seed_acc_drop_or_panic"}])
        )]),
    ));
    let log = k.logger("root").unwrap();
    info!(log, "kept");
    info!(log, "drop me");
    info!(log, "boom");
    info!(log, "still kept");
    let report = k.shutdown().unwrap();
    assert_eq!(read(&path), "kept\nstill kept\n");
    assert_eq!(
        (
            report.enqueued,
            report.written,
            report.filtered,
            report.failed,
            report.dropped
        ),
        (4, 2, 1, 1, 0)
    );
}

/// DESIGN §2: `Logger` is `Clone + Send + Sync`; `Sink` is `Clone`; `Kolog` and the queue
/// manager can be shared with threads.
#[test]
fn public_types_are_thread_safe() {
    fn assert_send_sync_clone<T: Send + Sync + Clone>() {}
    fn assert_send_sync<T: Send + Sync>() {}
    assert_send_sync_clone::<kolog::Logger>();
    assert_send_sync_clone::<Sink>();
    assert_send_sync::<Kolog>();
    assert_send_sync::<QueueManager>();
    assert_send_sync::<LoggerFactory>();
    assert_send_sync::<kolog::Error>();
}

fn runtime_fault_child() {
    let k = kolog(root_doc(
        "INFO",
        json!([{"type": "file", "params": {"filename": "/proc/kolog-seed-acceptance.log"},
                "renderer": {"type": "file_plain"}}]),
    ));
    let log = k.logger("root").unwrap();
    for i in 0..3u64 {
        info!(log, "cannot be written", i);
    }
    k.flush();
    let st = k.stats();
    assert_eq!(
        (st.enqueued, st.written, st.failed, st.dropped),
        (3, 0, 3, 0)
    );
    let report = k.shutdown().unwrap();
    assert_eq!((report.written, report.failed), (0, 3));
}

/// Seed "Handler I/O Error" at write time (the seed's handler opens lazily, on `_write_sync`);
/// DESIGN §4: "a handler that fails at run time ... is reported through `stats()`, a fallback
/// stderr line"; records are counted, never silently lost. (`/proc` refuses new files even to
/// root.)
#[test]
fn a_handler_failing_at_run_time_is_counted_and_reported_on_stderr() {
    const NAME: &str = "a_handler_failing_at_run_time_is_counted_and_reported_on_stderr";
    if is_child(NAME) {
        return runtime_fault_child();
    }
    let (_, err) = run_child(NAME, &[], &[]);
    let reports: Vec<&str> = err.lines().filter(|l| l.starts_with("kolog: ")).collect();
    assert_eq!(reports.len(), 1, "one line per burst: {err}");
    assert!(reports[0].contains("failed to write"), "{err}");
}

fn clock_child() {
    let dir = Tmp::new("clock");
    let (pp, jp) = (dir.join("p.log"), dir.join("j.log"));
    let k = Kolog::from_json_str(
        &root_doc(
            "INFO",
            json!([
                file_handler(
                    &pp,
                    json!({"type": "file_plain", "params": {
                    "fmt": "%(asctime)s %(event)s", "datefmt": "%Y-%m-%d %j %a %H:%M:%S.%f"}}),
                    json!([])
                ),
                file_handler(&jp, json!({"type": "file_json"}), json!([]))
            ]),
        )
        .to_string(),
    )
    .unwrap();
    let log = k.logger("root").unwrap();
    for t in [
        FIXED,
        FIXED + 500_000_000,       // same second, other microseconds
        FIXED + 1_000_001_000,     // next second
        1_709_251_199_999_999_000, // 2024-02-29T23:59:59.999999Z (leap day)
        1_709_251_200_000_000_000, // 2024-03-01T00:00:00.000000Z
    ] {
        kolog::set_fixed_time(t);
        info!(log, "e");
        k.flush();
    }
    k.shutdown().unwrap();
    print!("{}", read(&pp));
    print!("{}", read(&jp));
}

/// DESIGN §3: `asctime` per `datefmt` (`%f` microseconds) and the JSON `timestamp` (RFC 3339,
/// UTC, microseconds, `Z`) follow each record's own time — across seconds, days and a leap day.
/// (Run in a child: it moves the pinned clock.)
#[test]
fn timestamps_follow_each_record_time() {
    const NAME: &str = "timestamps_follow_each_record_time";
    if is_child(NAME) {
        return clock_child();
    }
    let (out, _) = run_child(NAME, &[], &[]);
    assert_eq!(
        lines_from(&out, "2024-0")
            .into_iter()
            .filter(|l| l.ends_with(" e"))
            .collect::<Vec<_>>(),
        [
            "2024-01-01 001 Mon 12:00:00.123456 e",
            "2024-01-01 001 Mon 12:00:00.623456 e",
            "2024-01-01 001 Mon 12:00:01.123457 e",
            "2024-02-29 060 Thu 23:59:59.999999 e",
            "2024-03-01 061 Fri 00:00:00.000000 e",
        ]
    );
    let ts: Vec<String> = lines_from(&out, "{\"timestamp\"")
        .iter()
        .map(|l| {
            serde_json::from_str::<serde_json::Value>(l).unwrap()["timestamp"]
                .as_str()
                .unwrap()
                .to_owned()
        })
        .collect();
    assert_eq!(
        ts,
        [
            "2024-01-01T12:00:00.123456Z",
            "2024-01-01T12:00:00.623456Z",
            "2024-01-01T12:00:01.123457Z",
            "2024-02-29T23:59:59.999999Z",
            "2024-03-01T00:00:00.000000Z",
        ]
    );
}

fn default_child() {
    pin();
    let k = Kolog::default();
    let log = k.logger("app").unwrap();
    debug!(log, "below INFO");
    info!(log, "hello", n = 1);
    k.shutdown().unwrap();
}

/// DESIGN §2: `Kolog::default()` — one logger `root`, INFO, plain text to stderr (not a
/// terminal here); any name resolves to it.
#[test]
fn kolog_default_writes_plain_text_to_stderr() {
    const NAME: &str = "kolog_default_writes_plain_text_to_stderr";
    if is_child(NAME) {
        return default_child();
    }
    let (out, err) = run_child(NAME, &[], &[]);
    assert_eq!(
        lines_from(&err, "[2024-01-01"),
        [format!("[{ASC}] [INFO    ] [app]: hello n=1")]
    );
    assert!(!out.contains("hello"));
}

/// Python's `RotatingFileHandler` (the seed's model) appends to an existing file and rotates it
/// first when the next record would take it to `max_bytes`.
#[test]
fn rotating_file_appends_to_an_existing_file_and_rotates_it_when_full() {
    let dir = Tmp::new("rotate-existing");
    let path = dir.join("app.log");
    std::fs::write(&path, "0123456789012345678901234\n").unwrap(); // 26 bytes
    let k = kolog(root_doc(
        "INFO",
        json!([{"type": "rotating_file", "params": {"filename": s(&path), "max_bytes": 40, "backup_count": 1},
                "renderer": plain("%(event)s")}]),
    ));
    let log = k.logger("root").unwrap();
    info!(log, "fits"); // 26 + 5 = 31 < 40
    info!(log, "rotates first"); // 31 + 14 = 45 >= 40
    k.shutdown().unwrap();
    assert_eq!(
        read(&dir.join("app.log.1")),
        "0123456789012345678901234\nfits\n"
    );
    assert_eq!(read(&path), "rotates first\n");
}

/// The seed's two-step form lets several factories share one queue manager: each factory's
/// loggers go to that factory's handlers, even with the same logger names.
#[test]
fn several_factories_share_one_queue_manager() {
    pin();
    let dir = Tmp::new("factories");
    let (a, b) = (dir.join("a.log"), dir.join("b.log"));
    let qm = QueueManager::start(QueueConfig::default()).unwrap();
    let fa = LoggerFactory::from_json_value(
        &root_doc(
            "INFO",
            json!([file_handler(&a, plain("A %(event)s"), json!([]))]),
        ),
        &qm,
    )
    .unwrap();
    let fb = LoggerFactory::from_json_value(
        &root_doc(
            "INFO",
            json!([file_handler(&b, plain("B %(event)s"), json!([]))]),
        ),
        &qm,
    )
    .unwrap();
    info!(fa.get_logger("root").unwrap(), "one");
    info!(fb.get_logger("root").unwrap(), "two");
    info!(fa.get_logger("x.y").unwrap(), "three");
    let report = qm.shutdown().unwrap();
    assert_eq!(read(&a), "A one\nA three\n");
    assert_eq!(read(&b), "B two\n");
    assert_eq!((report.enqueued, report.written), (3, 3));
}

/// A Sink on a configured logger without handlers still captures its records, and a Sink on an
/// unconfigured descendant name captures only that subtree.
#[test]
fn sinks_on_loggers_without_handlers_and_on_descendants() {
    let k = kolog(json!({"loggers": [
        {"name": "bare", "handlers": []},
        {"name": "app", "handlers": [{"type": "null", "renderer": {"type": "stream_plain", "params": {"fmt": "%(name)s %(event)s"}}}]}
    ]}));
    let bare = sink_on(&k, "bare");
    let db = sink_on(&k, "app.db");
    info!(k.logger("bare").unwrap(), "from bare");
    info!(k.logger("app").unwrap(), "from app");
    info!(k.logger("app.db").unwrap(), "from app.db");
    info!(k.logger("app.db.pool").unwrap(), "from app.db.pool");
    assert_eq!(events_of(&bare), ["from bare"]);
    assert_eq!(
        db.events(),
        ["app.db from app.db", "app.db.pool from app.db.pool"]
    );
}

/// DESIGN §3: every JSON line is one JSON object, whatever the values (non-finite floats,
/// control characters, quotes, non-ASCII).
#[test]
fn json_lines_stay_valid_json_for_any_values() {
    let dir = Tmp::new("json-valid");
    let path = dir.join("j.log");
    let k = kolog(root_doc(
        "INFO",
        json!([file_handler(&path, json!({"type": "file_json"}), json!([]))]),
    ));
    let log = k.logger("root").unwrap();
    info!(
        log,
        "weird \"event\"\n\t\u{1}",
        nan = f64::NAN,
        inf = f64::INFINITY,
        s = "ünï\u{7f}\"\\",
        max = u64::MAX,
        min = i64::MIN
    );
    k.shutdown().unwrap();
    let text = read(&path);
    assert_eq!(text.lines().count(), 1, "{text}");
    let v: serde_json::Value = serde_json::from_str(text.trim_end()).unwrap();
    assert_eq!(v["event"], "weird \"event\"\n\t\u{1}");
    assert_eq!(v["s"], "ünï\u{7f}\"\\");
    assert_eq!(v["max"], u64::MAX);
    assert_eq!(v["min"], i64::MIN);
    assert!(!v["nan"].is_number() && !v["inf"].is_number(), "{text}");
}

static GATE_DISPLAY: Gate = Gate::new();

/// DESIGN §1: "Display/Debug values (`%x`, `?x`) are formatted on the caller": what a value
/// shows is its state when it was logged, even if the worker renders the record later.
#[test]
fn display_and_debug_values_are_formatted_when_logged() {
    struct Counter<'a>(&'a AtomicU64);
    impl std::fmt::Display for Counter<'_> {
        fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
            write!(f, "n{}", self.0.load(Ordering::SeqCst))
        }
    }
    impl std::fmt::Debug for Counter<'_> {
        fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
            write!(f, "Counter({})", self.0.load(Ordering::SeqCst))
        }
    }
    let gate = GATE_DISPLAY.register("seed_acc_gate_display");
    let k = Kolog::from_config(null_system(vec![gate], QueueConfig::default())).unwrap();
    let sink = sink_on(&k, "svc");
    let log = k.logger("svc").unwrap();
    info!(log, "gate");
    GATE_DISPLAY.wait_entered();
    let n = AtomicU64::new(1);
    info!(log, "v", d = %Counter(&n), g = ?Counter(&n));
    n.store(2, Ordering::SeqCst);
    GATE_DISPLAY.open();
    let r = sink.records();
    assert_eq!(r[1].get("d").unwrap(), "n1");
    assert_eq!(r[1].get("g").unwrap(), "Counter(1)");
}

static GATE_EXECUTOR: Gate = Gate::new();

/// DESIGN §2: under `Block`, `ainfo!` "waits for space through a waker, never blocking the
/// executor's thread": on a single-threaded runtime, another task keeps running while a logging
/// task waits for a full queue, and can even be the one that lets the worker go on.
#[test]
fn ainfo_under_block_never_blocks_the_executor_thread() {
    use std::sync::mpsc;
    let gate = GATE_EXECUTOR.register("seed_acc_gate_executor");
    let k = Kolog::from_config(null_system(
        vec![gate],
        QueueConfig {
            max_queue_size: 1,
            backpressure_policy: BackpressurePolicy::Block,
            drain_timeout: Duration::from_secs(30),
        },
    ))
    .unwrap();
    let sink = sink_on(&k, "svc");
    let log = k.logger("svc").unwrap();
    info!(log, "gate");
    GATE_EXECUTOR.wait_entered();
    let (done_tx, done_rx) = mpsc::channel();
    let runner = std::thread::spawn(move || {
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_time()
            .build()
            .unwrap();
        rt.block_on(async move {
            let logging = tokio::spawn(async move {
                for i in 0..2_000u64 {
                    ainfo!(log, "async", i, pad = "................................").await;
                }
            });
            // Runs on the same thread while the logging task waits for space.
            tokio::time::sleep(Duration::from_millis(100)).await;
            GATE_EXECUTOR.open();
            logging.await.unwrap();
        });
        done_tx.send(()).unwrap();
    });
    if done_rx.recv_timeout(Duration::from_secs(20)).is_err() {
        GATE_EXECUTOR.open();
        panic!("the executor thread was blocked");
    }
    runner.join().unwrap();
    assert_eq!(sink.len(), 2_001);
    assert_eq!(k.stats().dropped, 0);
}

/// A queue of zero records is refused, not a panic or a hang.
#[test]
fn a_zero_sized_queue_is_a_configuration_error() {
    let e = QueueManager::start(QueueConfig {
        max_queue_size: 0,
        ..QueueConfig::default()
    })
    .unwrap_err();
    assert_eq!(e.kind(), ErrorKind::Configuration);
    let e =
        Kolog::from_json_str(&json!({"loggers": [], "queue": {"max_queue_size": 0}}).to_string())
            .unwrap_err();
    assert_eq!(e.code(), "CONFIGURATION::LoggerFactory::VALIDATION::ERROR");
    assert!(e.msg().contains("`queue.max_queue_size`"), "{}", e.msg());
}

/// Like `output_does_not_depend_on_whether_a_chain_is_present`, with the seed's own chain
/// (`add_callsite_params`, `add_context_defaults`, `filter_by_level`) and record fields that
/// repeat keys of the configured and the bound context: the same bytes with and without an
/// extra pass-through processor, and each key once per line.
#[test]
fn seed_chain_output_is_the_same_on_every_path_and_keys_are_unique() {
    kolog::register_processor("seed_acc_noop2", |_| {
        Ok(Box::new(|_: &mut kolog::EventDict<'_>| Action::Keep))
    });
    fn workload(k: &Kolog) -> u32 {
        let log = bind!(k.logger("root").unwrap(), svc = "a b", n = 3);
        debug!(log, "filtered");
        let line = line!() + 1;
        info!(
            log,
            "row",
            svc = "own",
            env = "field",
            region = "own",
            i = 1u64
        );
        warning!(log, "plain");
        k.shutdown().unwrap();
        line
    }
    let chain = json!([
        {"type": "add_callsite_params", "params": {"parameters": ["lineno", "funcName"]}},
        {"type": "add_context_defaults", "params": {"defaults": {"region": "eu", "svc": "default"}}},
        {"type": "filter_by_level", "params": {"min_level": "INFO"}}
    ]);
    let mut slow_chain = chain.clone();
    slow_chain
        .as_array_mut()
        .unwrap()
        .push(json!({"type": "seed_acc_noop2"}));
    let dir = Tmp::new("paths2");
    for renderer in [json!({"type": "file_json"}), json!({"type": "file_plain"})] {
        let (fast, slow) = (dir.join("fast.log"), dir.join("slow.log"));
        let doc = |p: &Path, c: &serde_json::Value| {
            json!({"loggers": [{"name": "root", "level": "DEBUG", "context": {"env": "production"},
                "handlers": [file_handler(p, renderer.clone(), c.clone())]}]})
        };
        let line = workload(&kolog(doc(&fast, &chain)));
        workload(&kolog(doc(&slow, &slow_chain)));
        let text = read(&fast);
        assert_eq!(text, read(&slow), "{renderer}");
        let first = text.lines().next().unwrap();
        if renderer["type"] == "file_json" {
            assert_eq!(
                first,
                format!("{{\"timestamp\":\"{TS}\",\"level\":\"INFO\",\"logger\":\"root\",\"event\":\"row\",\"env\":\"field\",\"svc\":\"own\",\"n\":3,\"region\":\"own\",\"i\":1,\"lineno\":{line},\"funcName\":\"workload\"}}")
            );
        } else {
            assert_eq!(
                first,
                format!("[{ASC}] [INFO    ] [root]: row env=field svc=own n=3 region=own i=1 lineno={line} funcName=workload")
            );
        }
        assert_eq!(text.lines().count(), 2);
    }
}

/// Seed "Processor: A callable that transforms EventDict" and "Testing": a Sink captures what
/// the (first) handler's processors leave — dropped records are not captured, added keys are.
#[test]
fn a_sink_sees_the_records_as_the_handler_processors_leave_them() {
    kolog::register_processor("seed_acc_shout", |_| {
        Ok(Box::new(|ev: &mut kolog::EventDict<'_>| {
            let upper = ev.event.to_uppercase();
            ev.event = upper.into();
            let n = match ev.get("n") {
                Some(Value::I64(n)) => Some(*n),
                Some(Value::U64(n)) => Some(*n as i64),
                _ => None,
            };
            if let Some(n) = n {
                ev.insert("n2", Value::I64(n * 2));
            }
            ev.remove("secret");
            Action::Keep
        }))
    });
    let k = kolog(root_doc(
        "DEBUG",
        json!([{"type": "null",
        "renderer": {"type": "stream_plain", "params": {"fmt": "%(level)s %(event)s"}},
        "processors": [
            {"type": "filter_by_level", "params": {"min_level": "INFO"}},
            {"type": "add_context_defaults", "params": {"defaults": {"team": "core"}}},
            {"type": "seed_acc_shout"}
        ]}]),
    ));
    let sink = sink_on(&k, "root");
    let log = k.logger("root").unwrap();
    debug!(log, "dropped by the chain");
    info!(log, "hello", n = 21i64, secret = "x");
    assert_eq!(sink.events(), ["INFO HELLO n=21 team=core n2=42"]);
    let r = &sink.records()[0];
    assert_eq!(r.get("event").unwrap(), "HELLO");
    assert!(r.get("secret").is_none());
}

/// DESIGN §2: `Kolog::default()` writes "plain coloured output to stderr when it is a
/// terminal"; a `stream_colored` handler with `use_stderr` looks at stderr, not stdout.
#[test]
fn kolog_default_colours_stderr_when_it_is_a_terminal() {
    const NAME: &str = "kolog_default_colours_stderr_when_it_is_a_terminal";
    if is_child(NAME) {
        return default_child();
    }
    let tty = run_child_on_pty_as(NAME, true);
    let lines = lines_from(&tty, "[2024-01-01");
    assert_eq!(lines.len(), 1, "{tty:?}");
    assert!(lines[0].contains("\x1b["), "coloured: {:?}", lines[0]);
    assert_eq!(
        strip_ansi(&lines[0]),
        format!("[{ASC}] [INFO    ] [app]: hello n=1")
    );
}

/// `ainfo_life` below the logger's level logs nothing and still returns the future's output.
#[test]
fn ainfo_life_below_the_level_logs_nothing() {
    let k = kolog(root_doc("WARNING", json!([{"type": "null"}])));
    let sink = sink_on(&k, "root");
    let log = k.logger("root").unwrap();
    let rt = tokio::runtime::Builder::new_current_thread()
        .build()
        .unwrap();
    assert_eq!(rt.block_on(log.ainfo_life("quiet", async { 5 })), 5);
    assert!(sink.is_empty());
    assert_eq!(k.stats().enqueued, 0);
}

/// Stats count records, not deliveries: a record with no handler, with two handlers of which
/// one filters it, or with two that both filter it, is one record — `enqueued == written +
/// filtered + failed` after `flush()`.
#[test]
fn each_record_is_counted_once_whatever_its_handlers() {
    let filter = json!({"type": "filter_by_level", "params": {"min_level": "ERROR"}});
    let k = kolog(json!({"loggers": [
        {"name": "none", "handlers": []},
        {"name": "two", "handlers": [{"type": "null"}, {"type": "null", "processors": [filter.clone()]}]},
        {"name": "both", "handlers": [{"type": "null", "processors": [filter.clone()]}, {"type": "null", "processors": [filter]}]}
    ]}));
    let mut want = Vec::new();
    for name in ["none", "two", "both"] {
        info!(k.logger(name).unwrap(), "a");
        k.flush();
        let st = k.stats();
        want.push((st.enqueued, st.written, st.filtered, st.failed));
    }
    assert_eq!(want, [(1, 0, 1, 0), (2, 1, 1, 0), (3, 1, 2, 0)]);
}

/// DESIGN §3: "`params` may be omitted where nothing is required"; where something is required
/// its absence is a validation error naming the place.
#[test]
fn processor_params_may_be_omitted_only_where_nothing_is_required() {
    for ok in [
        json!({"type": "add_callsite_params"}),
        json!({"type": "dict_tracebacks"}),
        json!({"type": "filter_markup"}),
        json!({"type": "filter_markup", "params": {}}),
        json!({"type": "dict_tracebacks", "params": null}),
    ] {
        let doc = root_doc(
            "INFO",
            json!([{"type": "null", "processors": [ok.clone()]}]),
        );
        LoggingSystemConfig::from_json_value(&doc).unwrap_or_else(|e| panic!("{ok}: {e}"));
    }
    for (bad, field) in [
        (json!({"type": "filter_by_level"}), "min_level"),
        (json!({"type": "add_context_defaults"}), "defaults"),
        (json!({"type": "filter_keys", "params": {}}), "keys"),
    ] {
        let doc = root_doc(
            "INFO",
            json!([{"type": "null", "processors": [bad.clone()]}]),
        );
        let e = LoggingSystemConfig::from_json_value(&doc).unwrap_err();
        assert_eq!(e.code(), "CONFIGURATION::LoggerFactory::VALIDATION::ERROR");
        assert!(
            e.msg().contains("loggers[0].handlers[0].processors[0]") && e.msg().contains(field),
            "{bad}: {}",
            e.msg()
        );
    }
    // A file handler needs `filename`.
    let e = LoggingSystemConfig::from_json_value(&root_doc("INFO", json!([{"type": "file"}])))
        .unwrap_err();
    assert!(
        e.msg().contains("loggers[0].handlers[0]") && e.msg().contains("filename"),
        "{}",
        e.msg()
    );
}

/// DESIGN §2: "`error = &e` for a `&dyn std::error::Error` keeps its source chain".
#[test]
fn a_dyn_error_reference_keeps_its_chain() {
    let dir = Tmp::new("dyn-error");
    let path = dir.join("e.log");
    let k = kolog(root_doc(
        "INFO",
        json!([file_handler(
            &path,
            json!({"type": "file_json"}),
            json!([{"type": "dict_tracebacks"}])
        )]),
    ));
    let db = DbError(std::io::Error::other("connection reset"));
    let e: &dyn std::error::Error = &db;
    error!(k.logger("root").unwrap(), "failed", error = e);
    k.shutdown().unwrap();
    let v: serde_json::Value = serde_json::from_str(read(&path).trim_end()).unwrap();
    assert_eq!(v["error"]["message"], "query failed");
    assert_eq!(v["error"]["chain"], json!(["connection reset"]));
}

/// Seed "Handlers": each "Configuration through JSON" snippet parses into the typed handler it
/// describes (the seed's "Configuration through Python" form, in Rust), in JSON and in YAML.
#[test]
fn seed_handler_snippets_parse_into_their_typed_form() {
    use kolog::config::{FileParams, RotatingFileParams};
    let cases = [
        (
            json!({"type": "file", "params": {"filename": "/var/log/app.log", "mode": "wb", "encoding": "utf-8", "override_existing": true}}),
            "type: file\nparams:\n  filename: /var/log/app.log\n  mode: wb\n  encoding: utf-8\n  override_existing: true\n",
            HandlerKind::File(FileParams {
                filename: "/var/log/app.log".into(),
                mode: "wb".into(),
                encoding: "utf-8".into(),
                override_existing: true,
            }),
        ),
        (
            json!({"type": "rotating_file", "params": {"filename": "/var/log/app.log", "max_bytes": 10485760, "backup_count": 5, "rotation_interval": null}}),
            "type: rotating_file\nparams:\n  filename: /var/log/app.log\n  max_bytes: 10485760\n  backup_count: 5\n  rotation_interval: null\n",
            HandlerKind::RotatingFile(RotatingFileParams {
                filename: "/var/log/app.log".into(),
                max_bytes: 10_485_760,
                backup_count: 5,
                rotation_interval: None,
                mode: "a".into(),
                encoding: "utf-8".into(),
            }),
        ),
        (
            json!({"type": "stream", "params": {"use_stderr": false}}),
            "type: stream\nparams:\n  use_stderr: false\n",
            HandlerKind::Stream(StreamParams { use_stderr: false }),
        ),
        (json!({"type": "null"}), "type: \"null\"\n", HandlerKind::Null),
    ];
    for (snippet, yaml, kind) in cases {
        let cfg = LoggingSystemConfig::from_json_value(&root_doc("INFO", json!([snippet.clone()])))
            .unwrap();
        assert_eq!(cfg.loggers[0].handlers[0].kind, kind, "{snippet}");
        let indented: String = yaml
            .lines()
            .enumerate()
            .map(|(i, l)| {
                if i == 0 {
                    format!("      - {l}\n")
                } else {
                    format!("        {l}\n")
                }
            })
            .collect();
        let doc = format!("loggers:\n  - name: root\n    handlers:\n{indented}");
        let cfg = LoggingSystemConfig::from_yaml_str(&doc).unwrap_or_else(|e| panic!("{doc}: {e}"));
        assert_eq!(cfg.loggers[0].handlers[0].kind, kind, "{doc}");
    }
    let cfg = LoggingSystemConfig::from_json_value(&root_doc(
        "INFO",
        json!([{"type": "rotating_file",
        "params": {"filename": "/var/log/app.log", "rotation_interval": 3600}}]),
    ))
    .unwrap();
    match &cfg.loggers[0].handlers[0].kind {
        HandlerKind::RotatingFile(p) => {
            assert_eq!(p.rotation_interval, Some(Duration::from_secs(3600)))
        }
        other => panic!("{other:?}"),
    }
}

/// `indentation: 0` is Python's `json.dumps(indent=0)`: one key per line, no spaces before
/// them (the seed's renderer params come from Python).
#[test]
fn json_indentation_zero_is_pythons_indent_zero() {
    let dir = Tmp::new("indent0");
    let path = dir.join("j.log");
    let k = kolog(root_doc(
        "INFO",
        json!([file_handler(
            &path,
            json!({"type": "file_json", "params": {"indentation": 0}}),
            json!([])
        )]),
    ));
    info!(k.logger("root").unwrap(), "one", n = 1);
    k.shutdown().unwrap();
    assert_eq!(
        read(&path),
        format!("{{\n\"timestamp\": \"{TS}\",\n\"level\": \"INFO\",\n\"logger\": \"root\",\n\"event\": \"one\",\n\"n\": 1\n}}\n")
    );
}

/// Loggers that outlive their `Kolog`: logging neither blocks nor panics (sync or async, under
/// `block`), and every such record is counted as `dropped_shutdown`.
#[test]
fn loggers_outliving_their_kolog_neither_block_nor_panic() {
    use std::sync::mpsc;
    let k = kolog(
        json!({"queue": {"max_queue_size": 1, "backpressure_policy": "block"},
        "loggers": [{"name": "root", "handlers": [{"type": "null"}]}]}),
    );
    let log = k.logger("root").unwrap();
    let kept = k.logger("root").unwrap();
    k.shutdown().unwrap();
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        for i in 0..1_000u64 {
            info!(log, "late", i);
        }
        let rt = tokio::runtime::Builder::new_current_thread()
            .build()
            .unwrap();
        rt.block_on(async {
            for i in 0..1_000u64 {
                ainfo!(log, "late async", i).await;
            }
        });
        tx.send(()).unwrap();
    });
    rx.recv_timeout(Duration::from_secs(20))
        .expect("logging after shutdown must not block");
    assert_eq!(k.stats().dropped_shutdown, 2_000);
    drop(k);
    info!(kept, "after the Kolog is dropped");
}
