//! The seed README's configuration, loaded from JSON and from YAML, logged through and checked
//! field by field; and every processor end to end through a file. The wall clock is pinned
//! (`set_fixed_time`) so outputs compare byte for byte; every test in this binary uses it.
mod common;

use kolog::process::Action;
use kolog::record::Value;
use kolog::{debug, error, info, Kolog};

const FIXED: u64 = 1_704_110_400_123_456_000; // 2024-01-01T12:00:00.123456Z

fn log_workload(k: &Kolog) {
    let log = k.logger("app.api").unwrap();
    debug!(log, "below INFO: filtered by the processor");
    info!(log, "Application started", version = "1.0.0");
    error!(log, "Request failed", user_id = 123, latency_ms = 12.5);
    k.shutdown().unwrap();
}

fn json_values(text: &str) -> Vec<serde_json::Value> {
    serde_json::Deserializer::from_str(text)
        .into_iter::<serde_json::Value>()
        .map(|v| v.unwrap())
        .collect()
}

#[test]
fn the_seed_config_behaves_as_described_and_yaml_output_is_byte_identical() {
    kolog::set_fixed_time(FIXED);
    let dir = common::temp_dir("seed-e2e");
    let json_path = dir.join("json.log");
    let yaml_path = dir.join("yaml.log");
    log_workload(&Kolog::from_json_str(&common::seed_json(json_path.to_str().unwrap())).unwrap());
    log_workload(&Kolog::from_yaml_str(&common::seed_yaml(yaml_path.to_str().unwrap())).unwrap());
    let json_out = std::fs::read_to_string(&json_path).unwrap();
    let yaml_out = std::fs::read_to_string(&yaml_path).unwrap();
    assert_eq!(json_out, yaml_out, "same system, same bytes");
    assert!(
        json_out.starts_with("{\n  \"timestamp\": \"2024-01-01T12:00:00.123456Z\",\n"),
        "indentation 2: {json_out}"
    );
    let records = json_values(&json_out);
    assert_eq!(
        records.len(),
        2,
        "the DEBUG record is filtered out: {json_out}"
    );
    let r = &records[1];
    assert_eq!(r["level"], "ERROR");
    assert_eq!(r["logger"], "app.api");
    assert_eq!(r["event"], "Request failed");
    assert_eq!(r["app"], "myapp");
    assert_eq!(r["env"], "production");
    assert_eq!(r["user_id"], 123);
    assert_eq!(r["latency_ms"], 12.5);
    assert_eq!(r["filename"], "seed_config_end_to_end.rs");
    assert!(r["lineno"].as_u64().unwrap() > 0);
    assert_eq!(r["funcName"], "log_workload");
    assert!(
        r.get("module").is_none() && r.get("pathname").is_none(),
        "only the listed parameters"
    );
    assert_eq!(records[0]["version"], "1.0.0");
    let _ = std::fs::remove_dir_all(dir);
}

#[test]
fn every_processor_end_to_end_through_a_file() {
    kolog::set_fixed_time(FIXED);
    kolog::register_processor("e2e_add_request_id", |params| {
        let id = params["request_id"].as_str().unwrap_or("none").to_owned();
        Ok(Box::new(move |ev: &mut kolog::EventDict<'_>| {
            if ev.get("drop_me").is_some() {
                return Action::Drop;
            }
            ev.insert_default("request_id", Value::String(id.clone()));
            Action::Keep
        }))
    });
    let dir = common::temp_dir("processors-e2e");
    let path = dir.join("app.log");
    let doc = format!(
        r#"{{"loggers": [{{"name": "root", "level": "DEBUG", "handlers": [{{
            "type": "file",
            "params": {{"filename": "{}", "mode": "w"}},
            "renderer": {{"type": "file_json"}},
            "processors": [
                {{"type": "filter_by_level", "params": {{"min_level": "INFO"}}}},
                {{"type": "add_callsite_params"}},
                {{"type": "add_context_defaults", "params": {{"defaults": {{"region": "eu", "user_id": 0}}}}}},
                {{"type": "dict_tracebacks"}},
                {{"type": "filter_keys", "params": {{"keys": ["secret", "pathname"]}}}},
                {{"type": "filter_markup"}},
                {{"type": "e2e_add_request_id", "params": {{"request_id": "req-42"}}}}
            ]}}]}}]}}"#,
        path.display()
    );
    let k = Kolog::from_json_str(&doc).unwrap();
    let log = k.logger("svc").unwrap();
    debug!(log, "filtered by level");
    let err = common::DbError(std::io::Error::other("connection reset"));
    error!(
        log,
        "[bold red]Query[/] failed \\[retry]",
        user_id = 7,
        secret = "hunter2",
        error = &err
    );
    info!(log, "dropped by the custom processor", drop_me = true);
    let report = k.shutdown().unwrap();
    assert_eq!(report.written, 1);
    assert_eq!(report.filtered, 2);
    let text = std::fs::read_to_string(&path).unwrap();
    assert_eq!(text.lines().count(), 1, "{text}");
    let r: serde_json::Value = serde_json::from_str(&text).unwrap();
    assert_eq!(r["event"], "Query failed [retry]", "filter_markup");
    assert_eq!(r["user_id"], 7, "defaults never override");
    assert_eq!(r["region"], "eu", "add_context_defaults");
    assert!(
        r.get("secret").is_none() && r.get("pathname").is_none(),
        "filter_keys"
    );
    assert_eq!(
        r["filename"], "seed_config_end_to_end.rs",
        "add_callsite_params"
    );
    assert_eq!(r["module"], "seed_config_end_to_end");
    assert_eq!(r["request_id"], "req-42", "custom processor from config");
    assert_eq!(
        r["error"],
        serde_json::json!({"type": "seed_config_end_to_end::common::DbError", "message": "query failed", "chain": ["connection reset"]}),
        "dict_tracebacks"
    );
    assert_eq!(r["timestamp"], "2024-01-01T12:00:00.123456Z");
    let _ = std::fs::remove_dir_all(dir);
}
