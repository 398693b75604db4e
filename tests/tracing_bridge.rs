//! A library instrumented with `tracing` ends up in a kolog file: event target as the logger,
//! level, message, fields, and the enclosing spans' fields as bound context.
#![cfg(feature = "tracing")]

mod common;

use tracing_subscriber::prelude::*;

mod service {
    #[tracing::instrument(fields(request_id = "abc123"))]
    pub fn handle(user_id: u64) {
        tracing::debug!("below the logger's level");
        tracing::info!(latency_ms = 12.5, ok = true, "request handled");
        let span = tracing::info_span!("db", table = "users");
        let _g = span.enter();
        tracing::error!(target: "service::db", rows = 0u64, "query failed: {}", "timeout");
        let owned = String::from("ow ned");
        tracing::warn!(request_id = "override", owned, dbg = ?vec![1, 2], "{:?}", ("a", 1));
    }
}

#[test]
fn tracing_events_arrive_with_fields_and_span_context() {
    let dir = common::temp_dir("tracing-bridge");
    let path = dir.join("app.log");
    let doc = common::root_json_file(&path);
    let kolog = kolog::Kolog::from_json_str(&doc).unwrap();
    let subscriber = tracing_subscriber::registry().with(kolog::bridge::tracing::layer(&kolog));
    tracing::subscriber::with_default(subscriber, || service::handle(7));
    kolog.shutdown().unwrap();
    let got = common::json_lines(&path);
    assert_eq!(got.len(), 3, "{got:?}");
    let r = &got[0];
    assert_eq!(r["logger"], "tracing_bridge.service");
    assert_eq!(r["level"], "INFO");
    assert_eq!(r["event"], "request handled");
    assert_eq!(r["latency_ms"], 12.5);
    assert_eq!(r["ok"], true);
    assert_eq!(r["request_id"], "abc123", "span field as context");
    assert_eq!(r["user_id"], 7, "instrumented argument as context");
    let r = &got[1];
    assert_eq!(r["logger"], "service.db");
    assert_eq!(r["level"], "ERROR");
    assert_eq!(r["event"], "query failed: timeout");
    assert_eq!(r["rows"], 0);
    assert_eq!(r["table"], "users", "inner span");
    assert_eq!(r["request_id"], "abc123", "outer span");
    let r = &got[2];
    assert_eq!(r["level"], "WARNING");
    assert_eq!(r["event"], "(\"a\", 1)");
    assert_eq!(
        r["request_id"], "override",
        "the event's field replaces the span's"
    );
    assert_eq!(r["owned"], "ow ned");
    assert_eq!(r["dbg"], "[1, 2]");
    assert_eq!(r["user_id"], 7);
    assert_eq!(
        r.as_object()
            .unwrap()
            .keys()
            .filter(|k| *k == "request_id")
            .count(),
        1
    );
    let _ = std::fs::remove_dir_all(dir);
}
