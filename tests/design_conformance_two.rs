//! More statements of DESIGN.md checked as an acceptance test would write them: the public
//! names and signatures of section 2 exactly as spelled there, and the `Error` methods of
//! section 4 called as methods, without importing any trait.
mod common;

use kolog::{ErrorKind, Kolog};

/// DESIGN §4: "One `kolog::Error` with `kind()`, `code()`, `msg()`, `recoverable()`,
/// `source()`": all five are methods of the error, so `e.source()` works without
/// `use std::error::Error`, and it gives the same cause as the trait's `source`.
#[test]
fn error_source_is_a_method_of_the_error() {
    // An I/O failure keeps the `std::io::Error` as its source.
    let e = Kolog::from_path("/nonexistent-kolog-dir/kolog.json").unwrap_err();
    assert_eq!(e.kind(), ErrorKind::Configuration);
    assert_eq!(e.code(), "CONFIGURATION::LoggerFactory::IO::ERROR");
    assert!(!e.recoverable());
    let io = e.source().expect("the I/O error is the source");
    assert_eq!(
        io.downcast_ref::<std::io::Error>().unwrap().kind(),
        std::io::ErrorKind::NotFound
    );
    // Malformed JSON keeps the parser's error.
    let e = Kolog::from_json_str("{").unwrap_err();
    assert_eq!(e.code(), "CONFIGURATION::LoggerFactory::PARSING::ERROR");
    assert!(e.source().unwrap().is::<serde_json::Error>());
    // A validation error has no cause.
    let e =
        Kolog::from_json_str(r#"{"loggers": [{"name": "root", "level": "LOUD"}]}"#).unwrap_err();
    assert_eq!(e.code(), "CONFIGURATION::LoggerFactory::VALIDATION::ERROR");
    assert!(e.source().is_none());
    // The method and the trait agree, through a `dyn Error` too.
    let e = Kolog::from_path("/nonexistent-kolog-dir/kolog.yaml").unwrap_err();
    let via_trait = std::error::Error::source(&e).unwrap();
    assert!(std::ptr::addr_eq(e.source().unwrap(), via_trait));
    let as_dyn: &dyn std::error::Error = &e;
    assert!(std::ptr::addr_eq(as_dyn.source().unwrap(), via_trait));
}

/// DESIGN §2: `sink.records()` gives the structured events; like a structlog event dict or a
/// `serde_json::Value`, a record is indexed by key (`records[0]["user_id"]`), `null` when the
/// key is absent.
#[test]
fn sink_records_are_indexed_by_key() {
    let k = Kolog::from_json_str(
        r#"{"loggers": [{"name": "app", "context": {"service": "auth"},
            "handlers": [{"type": "null", "renderer": {"type": "stream_json"}}]}]}"#,
    )
    .unwrap();
    let sink = kolog::Sink::new();
    k.queue_manager().add_sink("app", sink.clone());
    let log = k.logger("app.db").unwrap();
    kolog::warning!(
        log,
        "Rate limit exceeded",
        ip = "192.168.1.1",
        n = 3,
        ok = true
    );
    let records = sink.records();
    assert_eq!(records.len(), 1);
    let r = &records[0];
    assert_eq!(r["level"], "WARNING");
    assert_eq!(r["logger"], "app.db");
    assert_eq!(r["event"], "Rate limit exceeded");
    assert_eq!(r["service"], "auth");
    assert_eq!(r["ip"], "192.168.1.1");
    assert_eq!(r["n"], 3);
    assert_eq!(r["ok"], true);
    assert_eq!(r["absent"], serde_json::Value::Null);
    // Indexing agrees with `get` and `fields` for every key.
    for (key, value) in &r.fields {
        assert_eq!(&r[key.as_str()], value);
        assert_eq!(r.get(key), Some(value));
    }
    assert_eq!(r.fields.len(), 7);
    k.shutdown().unwrap();
}
