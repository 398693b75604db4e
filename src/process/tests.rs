use super::*;
use crate::record::{Callsite, CallsiteKind, ErrorValue};

static CS: Callsite = Callsite {
    message: "[bold]Hello[/] \\[world]",
    fields: &[],
    file: "src/app/handlers.rs",
    line: 77,
    module_path: "app::handlers",
    kind: CallsiteKind::Event,
    function: None,
};

fn ev<'a>(level: Level) -> EventDict<'a> {
    let mut e = EventDict::new(0, level, "app", &CS);
    e.insert("user", Value::Str("[red]alice[/red]"));
    e.insert("n", Value::U64(3));
    e
}

fn chain(c: Vec<ProcessorConfig>) -> Chain {
    Chain::build(&c).unwrap()
}

fn keys(e: &EventDict<'_>) -> Vec<String> {
    e.fields().iter().map(|f| f.key.to_string()).collect()
}

#[test]
fn add_callsite_params_adds_static_callsite_fields() {
    let mut c = chain(vec![ProcessorConfig::AddCallsiteParams {
        parameters: CallsiteParam::ALL.to_vec(),
    }]);
    let mut e = ev(Level::Info);
    assert_eq!(c.run(&mut e), Outcome::Keep);
    assert_eq!(
        keys(&e),
        ["user", "n", "filename", "lineno", "funcName", "module", "pathname"]
    );
    assert_eq!(e.get("filename"), Some(&Value::Str("handlers.rs")));
    assert_eq!(e.get("lineno"), Some(&Value::U64(77)));
    assert_eq!(e.get("funcName"), Some(&Value::Str("handlers")));
    assert_eq!(e.get("module"), Some(&Value::Str("app::handlers")));
    assert_eq!(e.get("pathname"), Some(&Value::Str("src/app/handlers.rs")));
}

#[test]
fn add_context_defaults_never_overrides() {
    let defaults =
        serde_json::json!({"n": 99, "region": "eu", "ratio": 0.5, "on": true, "obj": {"a": 1}});
    let mut c = chain(vec![ProcessorConfig::AddContextDefaults {
        defaults: defaults.as_object().unwrap().clone(),
    }]);
    let mut e = ev(Level::Info);
    c.run(&mut e);
    assert_eq!(e.get("n"), Some(&Value::U64(3)));
    assert_eq!(e.get("region"), Some(&Value::Str("eu")));
    assert_eq!(e.get("ratio"), Some(&Value::F64(0.5)));
    assert_eq!(e.get("on"), Some(&Value::Bool(true)));
    assert_eq!(e.get("obj").unwrap().to_json(), serde_json::json!({"a": 1}));
}

#[test]
fn dict_tracebacks_structures_errors() {
    let mut chain_bytes = Vec::new();
    chain_bytes.extend_from_slice(&4u32.to_le_bytes());
    chain_bytes.extend_from_slice(b"root");
    let err = ErrorValue::new("io::Error", "failed", &chain_bytes);
    let mut c = chain(vec![ProcessorConfig::DictTracebacks]);
    let mut e = ev(Level::Error);
    e.insert("error", Value::Error(err.clone()));
    e.insert("exc_info", Value::Error(err.clone()));
    c.run(&mut e);
    assert_eq!(keys(&e), ["user", "n", "error", "exception"]);
    let expected = serde_json::json!({"type": "io::Error", "message": "failed", "chain": ["root"]});
    assert_eq!(e.get("error").unwrap().to_json(), expected);
    assert_eq!(e.get("exception").unwrap().to_json(), expected);
}

#[test]
fn filter_by_level_and_filter_keys() {
    let mut c = chain(vec![
        ProcessorConfig::FilterByLevel {
            min_level: Level::Warning,
        },
        ProcessorConfig::FilterKeys {
            keys: vec!["user".into(), "absent".into()],
        },
    ]);
    assert_eq!(c.run(&mut ev(Level::Info)), Outcome::Filtered);
    let mut e = ev(Level::Warning);
    assert_eq!(c.run(&mut e), Outcome::Keep);
    assert_eq!(keys(&e), ["n"]);
}

#[test]
fn filter_markup_strips_event_and_string_fields() {
    let mut c = chain(vec![ProcessorConfig::FilterMarkup]);
    let mut e = ev(Level::Info);
    c.run(&mut e);
    assert_eq!(e.event, "Hello [world]");
    assert_eq!(e.get("user").and_then(Value::as_str), Some("alice"));
    assert_eq!(e.get("n"), Some(&Value::U64(3)));
}

#[test]
fn custom_processors_run_in_order_and_panics_are_contained() {
    register_processor("test_tag", |params| {
        let tag = params["tag"].as_str().unwrap_or("?").to_owned();
        Ok(Box::new(move |e: &mut EventDict<'_>| {
            let prev = e
                .get("trail")
                .and_then(Value::as_str)
                .unwrap_or("")
                .to_owned();
            e.insert("trail", Value::String(prev + &tag));
            Action::Keep
        }))
    });
    register_processor("test_boom", |_| {
        Ok(Box::new(|e: &mut EventDict<'_>| {
            if e.level == Level::Error {
                panic!("boom");
            }
            Action::Keep
        }))
    });
    let mut c = chain(vec![
        ProcessorConfig::Custom {
            name: "test_tag".into(),
            params: serde_json::json!({"tag": "a"}),
        },
        ProcessorConfig::Custom {
            name: "test_boom".into(),
            params: serde_json::json!({}),
        },
        ProcessorConfig::Custom {
            name: "test_tag".into(),
            params: serde_json::json!({"tag": "b"}),
        },
    ]);
    let mut e = ev(Level::Info);
    assert_eq!(c.run(&mut e), Outcome::Keep);
    assert_eq!(e.get("trail").and_then(Value::as_str), Some("ab"));
    assert_eq!(c.run(&mut ev(Level::Error)), Outcome::Panicked);
    let mut e = ev(Level::Info);
    assert_eq!(
        c.run(&mut e),
        Outcome::Keep,
        "the chain works after a panic"
    );
    let err = Chain::build(&[ProcessorConfig::Custom {
        name: "never_registered".into(),
        params: serde_json::json!({}),
    }])
    .err()
    .unwrap();
    assert_eq!(err.kind(), crate::ErrorKind::Processor);
    assert_eq!(
        err.code(),
        "PROCESSOR::ProcessorFactory::CONFIGURATION::ERROR"
    );
}

#[test]
fn context_defaults_are_interned_by_content_and_order() {
    let map = |doc: &str| match serde_json::from_str(doc).unwrap() {
        serde_json::Value::Object(m) => m,
        _ => unreachable!(),
    };
    let a = super::interned(&map(r#"{"i1": 1, "i2": {"x": 1, "y": 2}}"#));
    let b = super::interned(&map(r#"{"i1": 1, "i2": {"x": 1, "y": 2}}"#));
    assert!(std::ptr::eq(a, b));
    // Another order is another output: kept apart.
    let c = super::interned(&map(r#"{"i2": {"x": 1, "y": 2}, "i1": 1}"#));
    let d = super::interned(&map(r#"{"i1": 1, "i2": {"y": 2, "x": 1}}"#));
    assert!(!std::ptr::eq(a, c) && !std::ptr::eq(a, d));
    assert_eq!(c.keys().collect::<Vec<_>>(), ["i2", "i1"]);
}
