//! Configuration documents: the seed's example loads; malformed documents give an error of
//! kind Configuration with the exact code and the path (and, for JSON text, the line).
mod common;

use kolog::config::{CallsiteParam, HandlerKind, ProcessorConfig, RendererKind};
use kolog::{BackpressurePolicy, ErrorKind, Level, LoggingSystemConfig};

#[test]
fn the_seed_example_loads_with_the_expected_values() {
    let c = LoggingSystemConfig::from_json_str(&common::seed_json("/tmp/kolog-seed.log")).unwrap();
    assert_eq!(c.default_level, Level::Info);
    assert_eq!(c.loggers.len(), 1);
    let root = &c.loggers[0];
    assert_eq!(root.name, "root");
    assert_eq!(root.level, Some(Level::Debug));
    assert_eq!(root.context["app"], "myapp");
    assert_eq!(root.context["env"], "production");
    let h = &root.handlers[0];
    match &h.kind {
        HandlerKind::File(p) => {
            assert_eq!(p.filename, std::path::Path::new("/tmp/kolog-seed.log"));
            assert_eq!(p.mode, "wb");
            assert!(p.truncates());
            assert!(!p.override_existing);
        }
        other => panic!("{other:?}"),
    }
    assert_eq!(h.renderer.kind, RendererKind::FileJson);
    assert_eq!(h.renderer.indentation, Some(2));
    assert_eq!(
        h.processors,
        [
            ProcessorConfig::AddCallsiteParams {
                parameters: vec![
                    CallsiteParam::Filename,
                    CallsiteParam::Lineno,
                    CallsiteParam::FuncName
                ]
            },
            ProcessorConfig::FilterByLevel {
                min_level: Level::Info
            },
        ]
    );
    assert_eq!(c.queue, kolog::QueueConfig::default());
}

#[test]
fn yaml_gives_the_same_system() {
    let json =
        LoggingSystemConfig::from_json_str(&common::seed_json("/tmp/kolog-seed.log")).unwrap();
    let yaml =
        LoggingSystemConfig::from_yaml_str(&common::seed_yaml("/tmp/kolog-seed.log")).unwrap();
    assert_eq!(json, yaml);
}

#[test]
fn the_queue_section_is_read() {
    let c = LoggingSystemConfig::from_json_str(
        r#"{"queue": {"max_queue_size": 500, "backpressure_policy": "drop_oldest", "drain_timeout": 2.5}, "loggers": []}"#,
    )
    .unwrap();
    assert_eq!(c.queue.max_queue_size, 500);
    assert_eq!(c.queue.backpressure_policy, BackpressurePolicy::DropOldest);
    assert_eq!(
        c.queue.drain_timeout,
        std::time::Duration::from_millis(2500)
    );
}

#[test]
fn example_documents_load_and_agree() {
    let json = LoggingSystemConfig::from_path("examples/kolog.json").unwrap();
    let yaml = LoggingSystemConfig::from_path("examples/kolog.yaml").unwrap();
    assert_eq!(json, yaml);
}

const VALIDATION: &str = "CONFIGURATION::LoggerFactory::VALIDATION::ERROR";
const PARSING: &str = "CONFIGURATION::LoggerFactory::PARSING::ERROR";

fn logger_with(handler: &str) -> String {
    format!(r#"{{"loggers": [{{"name": "app", "handlers": [{handler}]}}]}}"#)
}

#[test]
fn malformed_json_documents_name_the_problem() {
    let deep = "[".repeat(100_000);
    let cases: Vec<(String, &str, &str)> = vec![
        ("{ not json".into(), PARSING, "line 1"),
        ("".into(), PARSING, "EOF"),
        (r#"{"loggers": ["#.into(), PARSING, "EOF"),
        (deep.clone(), PARSING, "recursion"),
        ("[]".into(), VALIDATION, "expected an object"),
        ("{}".into(), VALIDATION, "missing required field `loggers`"),
        (
            r#"{"loggers": 5}"#.into(),
            VALIDATION,
            "`loggers`: expected an array",
        ),
        (
            r#"{"loggers": [], "extra": 1}"#.into(),
            VALIDATION,
            "`extra`: unknown field",
        ),
        (
            r#"{"loggers": [{"level": "INFO"}]}"#.into(),
            VALIDATION,
            "`loggers[0]`: missing required field `name`",
        ),
        (
            r#"{"loggers": [{"name": 7}]}"#.into(),
            VALIDATION,
            "`loggers[0].name`: expected a string",
        ),
        (
            r#"{"loggers": [{"name": "a..b"}]}"#.into(),
            VALIDATION,
            "`loggers[0].name`: invalid logger name",
        ),
        (
            r#"{"loggers": [{"name": "a"}, {"name": "a"}]}"#.into(),
            VALIDATION,
            "`loggers[1].name`: duplicate logger name",
        ),
        (
            r#"{"loggers": [{"name": "a", "level": "LOUD"}]}"#.into(),
            VALIDATION,
            "`loggers[0].level`: invalid level `LOUD`",
        ),
        (
            r#"{"loggers": [], "default_level": 3}"#.into(),
            VALIDATION,
            "`default_level`: expected a string",
        ),
        (
            r#"{"loggers": [{"name": "a", "context": []}]}"#.into(),
            VALIDATION,
            "`loggers[0].context`: expected an object",
        ),
        (
            r#"{"loggers": [{"name": "a", "handlers": {}}]}"#.into(),
            VALIDATION,
            "`loggers[0].handlers`: expected an array",
        ),
        (
            logger_with(r#"{"type": "socket"}"#),
            VALIDATION,
            "`loggers[0].handlers[0].type`: unknown handler type `socket`",
        ),
        (
            logger_with(r#"{"params": {}}"#),
            VALIDATION,
            "`loggers[0].handlers[0]`: missing required field `type`",
        ),
        (
            logger_with(r#"{"type": "file"}"#),
            VALIDATION,
            "`loggers[0].handlers[0]`: missing required field `params`",
        ),
        (
            logger_with(r#"{"type": "file", "params": {}}"#),
            VALIDATION,
            "`loggers[0].handlers[0].params`: missing required field `filename`",
        ),
        (
            logger_with(r#"{"type": "file", "params": {"filename": "x", "mode": "r"}}"#),
            VALIDATION,
            "`loggers[0].handlers[0].params.mode`: unsupported mode `r`",
        ),
        (
            logger_with(r#"{"type": "file", "params": {"filename": "x", "encoding": "latin-1"}}"#),
            VALIDATION,
            "params.encoding`: unsupported encoding",
        ),
        (
            logger_with(r#"{"type": "file", "params": {"filename": "x", "colour": true}}"#),
            VALIDATION,
            "`loggers[0].handlers[0].params.colour`: unknown field",
        ),
        (
            logger_with(r#"{"type": "null", "params": {"x": 1}}"#),
            VALIDATION,
            "`loggers[0].handlers[0].params.x`: unknown field `x` (this object takes no fields)",
        ),
        (
            logger_with(
                r#"{"type": "rotating_file", "params": {"filename": "x", "max_bytes": -5}}"#,
            ),
            VALIDATION,
            "`loggers[0].handlers[0].params.max_bytes`: must not be negative",
        ),
        (
            logger_with(
                r#"{"type": "rotating_file", "params": {"filename": "x", "backup_count": 1.5}}"#,
            ),
            VALIDATION,
            "params.backup_count`: expected a whole number",
        ),
        (
            logger_with(
                r#"{"type": "rotating_file", "params": {"filename": "x", "rotation_interval": 0}}"#,
            ),
            VALIDATION,
            "params.rotation_interval`: seconds must be greater than 0",
        ),
        (
            logger_with(r#"{"type": "stream", "params": {"use_stderr": "yes"}}"#),
            VALIDATION,
            "params.use_stderr`: expected a boolean",
        ),
        (
            logger_with(r#"{"type": "null", "renderer": {"type": "xml"}}"#),
            VALIDATION,
            "`loggers[0].handlers[0].renderer.type`: unknown renderer type `xml`",
        ),
        (
            logger_with(
                r#"{"type": "null", "renderer": {"type": "file_json", "params": {"indentation": -1}}}"#,
            ),
            VALIDATION,
            "renderer.params.indentation`: must not be negative",
        ),
        (
            logger_with(r#"{"type": "null", "processors": [{"type": "nope"}]}"#),
            VALIDATION,
            "`loggers[0].handlers[0].processors[0].type`: unknown processor type `nope`",
        ),
        (
            logger_with(r#"{"type": "null", "processors": [{"type": "filter_by_level"}]}"#),
            VALIDATION,
            "processors[0].params`: missing required field `min_level`",
        ),
        (
            logger_with(
                r#"{"type": "null", "processors": [{"type": "filter_by_level", "params": {"min_level": "LOTS"}}]}"#,
            ),
            VALIDATION,
            "processors[0].params.min_level`: invalid level",
        ),
        (
            logger_with(
                r#"{"type": "null", "processors": [{"type": "add_callsite_params", "params": {"parameters": ["colno"]}}]}"#,
            ),
            VALIDATION,
            "params.parameters[0]`: unknown callsite parameter `colno`",
        ),
        (
            logger_with(
                r#"{"type": "null", "processors": [{"type": "filter_keys", "params": {"keys": [1]}}]}"#,
            ),
            VALIDATION,
            "params.keys[0]`: expected a string",
        ),
        (
            r#"{"queue": {"max_queue_size": 0}, "loggers": []}"#.into(),
            VALIDATION,
            "`queue.max_queue_size`: must be between 1",
        ),
        (
            r#"{"queue": {"backpressure_policy": "wait"}, "loggers": []}"#.into(),
            VALIDATION,
            "`queue.backpressure_policy`: unknown backpressure policy `wait`",
        ),
        (
            r#"{"queue": {"drain_timeout": -1}, "loggers": []}"#.into(),
            VALIDATION,
            "`queue.drain_timeout`: seconds must be 0 or more",
        ),
    ];
    assert!(cases.len() >= 30);
    for (doc, code, needle) in &cases {
        let err = LoggingSystemConfig::from_json_str(doc).unwrap_err();
        assert_eq!(err.kind(), ErrorKind::Configuration, "{doc:.80}");
        assert_eq!(err.code(), *code, "{doc:.80}: {}", err.msg());
        assert!(err.msg().contains(needle), "{doc:.80}: {}", err.msg());
        if *code == VALIDATION && doc.starts_with('{') {
            assert!(err.msg().contains(" at line "), "{doc:.80}: {}", err.msg());
        }
    }
}

#[test]
fn the_line_and_column_point_at_the_bad_value() {
    let doc = "{\n  \"loggers\": [\n    {\"name\": \"app\",\n     \"handlers\": [{\"type\": \"null\", \"renderer\": {\"type\": \"xml\"}}]}\n  ]\n}";
    let err = LoggingSystemConfig::from_json_str(doc).unwrap_err();
    assert_eq!(
        err.msg(),
        "`loggers[0].handlers[0].renderer.type`: unknown renderer type `xml` (expected one of: stream_plain, stream_colored, stream_json, file_plain, file_json) at line 4 column 49"
    );
}

#[test]
fn malformed_yaml_documents_are_errors() {
    let deep = "- ".repeat(10_000) + "x";
    let just_too_deep = "- ".repeat(65) + "x";
    let nested_context = format!(
        "loggers:\n  - name: a\n    context:\n      k: {}1{}\n",
        "[".repeat(50),
        "]".repeat(50)
    );
    let c = LoggingSystemConfig::from_yaml_str(&nested_context).unwrap();
    assert!(
        c.loggers[0].context["k"].is_array(),
        "50 levels of user data load"
    );
    for (doc, code) in [
        (just_too_deep.as_str(), PARSING),
        ("loggers: [\n", PARSING),
        ("loggers:\n\t- name: a\n", PARSING),
        (deep.as_str(), PARSING),
        ("loggers:\n  - name: a\n    level: LOUD\n", VALIDATION),
        ("loggers: 3\n", VALIDATION),
    ] {
        let err = LoggingSystemConfig::from_yaml_str(doc).unwrap_err();
        assert_eq!(err.kind(), ErrorKind::Configuration);
        assert_eq!(err.code(), code, "{doc:.60}: {}", err.msg());
    }
}

#[test]
fn files_that_cannot_be_read_or_decoded_are_errors() {
    let err = LoggingSystemConfig::from_path("/nonexistent/kolog.json").unwrap_err();
    assert_eq!(err.code(), "CONFIGURATION::LoggerFactory::IO::ERROR");
    assert!(std::error::Error::source(&err).is_some());
    let dir = common::temp_dir("cfg-utf8");
    let bad = dir.join("bad.json");
    std::fs::write(&bad, b"{\"loggers\": [\xff]}").unwrap();
    let err = LoggingSystemConfig::from_path(&bad).unwrap_err();
    assert_eq!(err.code(), VALIDATION);
    assert!(err.msg().contains("not valid UTF-8"), "{}", err.msg());
    let other = dir.join("kolog.toml");
    std::fs::write(&other, b"x").unwrap();
    let err = LoggingSystemConfig::from_path(&other).unwrap_err();
    assert!(err.msg().contains("unknown extension"), "{}", err.msg());
    // Extensions in capitals or mixed case name the same formats.
    let json = r#"{"loggers": [{"name": "root", "level": "DEBUG"}]}"#;
    let yaml = "loggers:\n  - name: root\n    level: DEBUG\n";
    for (name, text) in [("a.JSON", json), ("b.Yaml", yaml), ("c.YML", yaml)] {
        let path = dir.join(name);
        std::fs::write(&path, text).unwrap();
        let config = LoggingSystemConfig::from_path(&path).unwrap();
        assert_eq!(config.loggers[0].level, Some(kolog::Level::Debug), "{name}");
    }
    let _ = std::fs::remove_dir_all(dir);
}
