//! Statements of DESIGN.md that an audit found unmet, each checked as written: serde on the
//! queue settings, flat JSON lines, 128-bit integers, renderer formats checked at load with
//! their place in the document, and exhaustive matches on `ErrorKind`.
mod common;

use std::time::Duration;

use kolog::{info, BackpressurePolicy, ErrorKind, Kolog, LoggingSystemConfig, QueueConfig};

/// The first line of the JSON file `path`, parsed, and the raw text.
fn first_line(path: &std::path::Path) -> (serde_json::Value, String) {
    let text = std::fs::read_to_string(path).unwrap();
    let line = text.lines().next().unwrap().to_owned();
    (serde_json::from_str(&line).unwrap(), line)
}

/// `root` at DEBUG writing JSON lines to `path`, with bound context `ctx` and processors
/// `procs`.
fn file_json(path: &std::path::Path, ctx: &str, procs: &str) -> Kolog {
    let doc = format!(
        r#"{{"loggers": [{{"name": "root", "level": "DEBUG", "context": {ctx},
            "handlers": [{{"type": "file", "params": {{"filename": "{}", "mode": "w"}},
                           "renderer": {{"type": "file_json"}}, "processors": {procs}}}]}}]}}"#,
        path.display()
    );
    Kolog::from_json_str(&doc).unwrap()
}

/// DESIGN §2: `QueueConfig { max_queue_size, backpressure_policy, drain_timeout }` (serde,
/// `Default`); the policy spelled `block`, `drop`, `drop_oldest`; `drain_timeout` in seconds.
#[test]
fn queue_config_is_serde_with_the_config_spelling_and_validation() {
    let q: QueueConfig = serde_json::from_str(
        r#"{"max_queue_size": 64, "backpressure_policy": "drop_oldest", "drain_timeout": 0.5}"#,
    )
    .unwrap();
    assert_eq!(
        q,
        QueueConfig {
            max_queue_size: 64,
            backpressure_policy: BackpressurePolicy::DropOldest,
            drain_timeout: Duration::from_millis(500),
        }
    );
    assert_eq!(
        serde_json::to_string(&q).unwrap(),
        r#"{"max_queue_size":64,"backpressure_policy":"drop_oldest","drain_timeout":0.5}"#
    );
    // Omitted keys take the defaults.
    let q: QueueConfig = serde_json::from_str("{}").unwrap();
    assert_eq!(q, QueueConfig::default());
    for (text, policy) in [
        ("\"block\"", BackpressurePolicy::Block),
        ("\"drop\"", BackpressurePolicy::Drop),
        ("\"drop_oldest\"", BackpressurePolicy::DropOldest),
    ] {
        assert_eq!(
            serde_json::from_str::<BackpressurePolicy>(text).unwrap(),
            policy
        );
        assert_eq!(serde_json::to_string(&policy).unwrap(), text);
    }
    // The same validation as in a document.
    for (bad, says) in [
        (
            r#"{"max_queue_size": 0}"#,
            "`max_queue_size`: must be between 1",
        ),
        (
            r#"{"backpressure_policy": "DropOldest"}"#,
            "`backpressure_policy`",
        ),
        (
            r#"{"drain_timeout": -1}"#,
            "`drain_timeout`: seconds must be 0 or more",
        ),
        (r#"{"max_queue": 10}"#, "max_queue"),
    ] {
        let e = serde_json::from_str::<QueueConfig>(bad).unwrap_err();
        assert!(e.to_string().contains(says), "{bad}: {e}");
    }
    // A whole document through serde, validated the same way.
    let doc: LoggingSystemConfig = serde_json::from_str(
        r#"{"loggers": [{"name": "root", "handlers": [{"type": "null", "renderer": {"type": "file_json"}}]}],
            "queue": {"max_queue_size": 8}}"#,
    )
    .unwrap();
    assert_eq!(doc.queue.max_queue_size, 8);
    assert_eq!(doc.loggers[0].name, "root");
    let e = serde_json::from_str::<LoggingSystemConfig>(
        r#"{"loggers": [{"name": "root", "handlers": [{"type": "null", "renderer": {"type": "xml"}}]}]}"#,
    )
    .unwrap_err();
    assert!(
        e.to_string()
            .contains("loggers[0].handlers[0].renderer.type"),
        "{e}"
    );
}

/// DESIGN §3: "the bound context, the record's fields and what processors added, each as a
/// top-level key (numbers as JSON numbers, bools as bools, everything else as strings)".
#[test]
fn json_lines_are_flat_non_scalars_become_strings() {
    let dir = common::temp_dir("conformance-flat");
    let path = dir.join("ctx.log");
    let k = file_json(
        &path,
        r#"{"tags": ["a", "b"], "meta": {"k": 1}, "none": null, "n": 7, "ok": true, "s": "x"}"#,
        r#"[{"type": "add_context_defaults", "params": {"defaults": {"limits": [1, 2], "owner": {"team": "x"}, "z": 1.5}}}]"#,
    );
    info!(k.logger("root").unwrap(), "hello", f = 2u64);
    k.shutdown().unwrap();
    let (v, line) = first_line(&path);
    assert!(
        line.ends_with(
            r#""event":"hello","tags":"[\"a\",\"b\"]","meta":"{\"k\":1}","none":"null","n":7,"ok":true,"s":"x","f":2,"limits":"[1,2]","owner":"{\"team\":\"x\"}","z":1.5}"#
        ),
        "{line}"
    );
    for key in ["tags", "meta", "none", "limits", "owner", "s"] {
        assert!(v[key].is_string(), "{key}: {line}");
    }
    let _ = std::fs::remove_dir_all(dir);
}

/// DESIGN §2: field values are integers of any width: 128-bit ones are numbers when they fit
/// in 64 bits, else their digits as a string.
#[test]
fn integers_of_128_bits_are_field_values() {
    let dir = common::temp_dir("conformance-i128");
    let path = dir.join("wide.log");
    let k = file_json(&path, "{}", "[]");
    let log = k.logger("root").unwrap();
    info!(
        log,
        "wide",
        small = 5u128,
        neg = -5i128,
        big = u128::MAX,
        low = i128::MIN
    );
    k.shutdown().unwrap();
    let (_, line) = first_line(&path);
    assert!(
        line.ends_with(
            r#""event":"wide","small":5,"neg":-5,"big":"340282366920938463463374607431768211455","low":"-170141183460469231731687303715884105728"}"#
        ),
        "{line}"
    );
    let _ = std::fs::remove_dir_all(dir);
}

/// DESIGN §3: invalid values "are errors that name the path in the document": a `fmt` or
/// `datefmt` the renderer cannot use is rejected when the document is validated.
#[test]
fn bad_renderer_formats_are_rejected_at_load_naming_their_path() {
    for (params, path, says) in [
        (
            r#"{"datefmt": "%Q"}"#,
            "loggers[0].handlers[0].renderer.params.datefmt",
            "unsupported directive `%Q`",
        ),
        (
            r#"{"fmt": "%(event)q"}"#,
            "loggers[0].handlers[0].renderer.params.fmt",
            "fmt `%(event)q`",
        ),
        (
            r#"{"fmt": "%(event"}"#,
            "loggers[0].handlers[0].renderer.params.fmt",
            "fmt `%(event`",
        ),
    ] {
        let doc = format!(
            r#"{{"loggers": [{{"name": "root", "handlers": [{{"type": "null", "renderer": {{"type": "stream_plain", "params": {params}}}}}]}}]}}"#
        );
        let e = LoggingSystemConfig::from_json_str(&doc).unwrap_err();
        assert_eq!(e.kind(), ErrorKind::Configuration);
        assert_eq!(e.code(), "CONFIGURATION::LoggerFactory::VALIDATION::ERROR");
        assert!(e.msg().contains(&format!("`{path}`")), "{}", e.msg());
        assert!(e.msg().contains(says), "{}", e.msg());
        let e = Kolog::from_json_str(&doc).unwrap_err();
        assert!(e.msg().contains(path), "{}", e.msg());
    }
    // Good ones still load.
    LoggingSystemConfig::from_json_str(
        r#"{"loggers": [{"name": "root", "handlers": [{"type": "null", "renderer": {"type": "stream_plain", "params": {"fmt": "%(asctime)s %(level)-8s %(name)s %(event)s %(user_id)s", "datefmt": "%Y-%m-%d %H:%M:%S.%f"}}}]}]}"#,
    )
    .unwrap();
}

/// DESIGN §4 lists six kinds: a program can match them exhaustively.
#[test]
fn error_kinds_match_exhaustively() {
    fn name(k: ErrorKind) -> &'static str {
        match k {
            ErrorKind::Configuration => "Configuration",
            ErrorKind::LoggerCreation => "LoggerCreation",
            ErrorKind::Logger => "Logger",
            ErrorKind::Handler => "Handler",
            ErrorKind::Processor => "Processor",
            ErrorKind::QueueManager => "QueueManager",
        }
    }
    let e = Kolog::from_json_str("{").unwrap_err();
    assert_eq!(name(e.kind()), "Configuration");
}

/// DESIGN §2: `error = &e` keeps the source chain for `dict_tracebacks`; the boxed errors
/// programs pass around (`Box<dyn Error>`, which is not itself an `Error`) are errors too.
#[test]
fn boxed_errors_keep_their_source_chain() {
    let dir = common::temp_dir("conformance-boxed");
    let path = dir.join("err.log");
    let k = file_json(&path, "{}", r#"[{"type": "dict_tracebacks"}]"#);
    let log = k.logger("root").unwrap();
    let plain: Box<dyn std::error::Error> =
        Box::new(common::DbError(std::io::Error::other("disk gone")));
    let sendable: Box<dyn std::error::Error + Send + Sync> =
        Box::new(common::DbError(std::io::Error::other("disk gone")));
    kolog::error!(log, "a", error = &plain);
    kolog::error!(log, "b", error = &sendable);
    kolog::error!(log, "c", error = sendable);
    k.shutdown().unwrap();
    let text = std::fs::read_to_string(&path).unwrap();
    let lines: Vec<serde_json::Value> = text
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(lines.len(), 3, "{text}");
    for (line, ty) in lines.iter().zip([
        "Box<dyn std::error::Error>",
        "Box<dyn std::error::Error + Send + Sync>",
        "Box<dyn std::error::Error + Send + Sync>",
    ]) {
        assert_eq!(
            line["error"],
            serde_json::json!({"type": ty, "message": "query failed", "chain": ["disk gone"]}),
            "{text}"
        );
    }
    let _ = std::fs::remove_dir_all(dir);
}

mod service {
    use kolog::{info, info_life, Logger};

    pub fn handle_request(log: &Logger) {
        info!(log, "plain function");
        let in_closure = || info!(log, "closure");
        in_closure();
        let _life = info_life!(log, "lifecycle");
    }

    pub struct Worker;

    impl Worker {
        pub fn run(&self, log: &Logger) {
            info!(log, "method");
        }
    }

    pub async fn serve(log: &Logger) {
        info!(log, "async fn");
        async { info!(log, "async block") }.await;
    }
}

/// ko-log's `add_callsite_params` `funcName`: the function the statement is in (for a closure
/// or an `async` block, the function it is in).
#[test]
fn func_name_is_the_enclosing_function() {
    let k = Kolog::from_json_str(
        r#"{"loggers": [{"name": "root", "handlers": [{"type": "null", "renderer": {"type": "file_json"},
            "processors": [{"type": "add_callsite_params", "params": {"parameters": ["funcName", "module"]}}]}]}]}"#,
    )
    .unwrap();
    let sink = kolog::Sink::new();
    k.queue_manager().add_sink("root", sink.clone());
    let log = k.logger("root").unwrap();
    service::handle_request(&log);
    service::Worker.run(&log);
    let waker = std::task::Waker::noop();
    let mut cx = std::task::Context::from_waker(waker);
    let mut fut = std::pin::pin!(service::serve(&log));
    assert!(std::future::Future::poll(fut.as_mut(), &mut cx).is_ready());
    let got: Vec<(String, String, String)> = sink
        .records()
        .iter()
        .map(|r| {
            let s = |k: &str| r.get(k).unwrap().as_str().unwrap().to_owned();
            (s("event"), s("funcName"), s("module"))
        })
        .collect();
    let want = [
        ("plain function", "handle_request"),
        ("closure", "handle_request"),
        ("Begin: lifecycle", "handle_request"),
        ("End (0.00): lifecycle", "handle_request"),
        ("method", "run"),
        ("async fn", "serve"),
        ("async block", "serve"),
    ];
    assert_eq!(got.len(), want.len(), "{got:?}");
    for ((event, func, module), (want_event, want_func)) in got.iter().zip(want) {
        assert_eq!((event.as_str(), func.as_str()), (want_event, want_func));
        assert_eq!(module, "design_conformance::service");
    }
}
