//! A library logging through the `log` facade ends up in a kolog file with its target as the
//! logger name, its level, message, location and key/values.
#![cfg(feature = "log")]

mod common;

mod some_library {
    pub fn connect(attempt: u64) {
        log::debug!("below the logger's level");
        log::info!(attempt, ok = true, host = "db1"; "connected to {}", "db1");
        log::warn!(target: "some_library::pool", "pool {} of {} in use", 9, 10);
    }
}

#[test]
fn log_records_arrive_with_target_level_message_and_key_values() {
    let dir = common::temp_dir("log-bridge");
    let path = dir.join("app.log");
    let doc = format!(
        r#"{{"loggers": [
            {{"name": "root", "level": "INFO", "handlers": [{{"type": "file", "params": {{"filename": "{}", "mode": "w"}},
              "renderer": {{"type": "file_json"}}, "processors": [{{"type": "add_callsite_params", "params": {{"parameters": ["filename", "lineno", "module"]}}}}]}}]}}
        ]}}"#,
        path.display()
    );
    let kolog = kolog::Kolog::from_json_str(&doc).unwrap();
    kolog::bridge::log::init(&kolog).unwrap();
    // `root` is at INFO: `log` itself skips debug and trace statements.
    assert_eq!(log::max_level(), log::LevelFilter::Info);
    let again = kolog::bridge::log::init(&kolog).expect_err("only one log logger per process");
    assert_eq!(again.code(), "LOGGER::LogBridge::CONFIGURATION::ERROR");
    assert_eq!(again.kind(), kolog::ErrorKind::LoggerCreation);
    some_library::connect(3);
    kolog.shutdown().unwrap();
    let got = common::json_lines(&path);
    assert_eq!(got.len(), 2, "{got:?}");
    let r = &got[0];
    assert_eq!(r["logger"], "log_bridge.some_library");
    assert_eq!(r["level"], "INFO");
    assert_eq!(r["event"], "connected to db1");
    assert_eq!(r["attempt"], 3);
    assert_eq!(r["ok"], true);
    assert_eq!(r["host"], "db1");
    assert_eq!(r["filename"], "log_bridge.rs");
    assert!(r["lineno"].as_u64().unwrap() > 0);
    assert_eq!(r["module"], "log_bridge::some_library");
    assert_eq!(got[1]["logger"], "some_library.pool");
    assert_eq!(got[1]["level"], "WARNING");
    assert_eq!(got[1]["event"], "pool 9 of 10 in use");
    let _ = std::fs::remove_dir_all(dir);
}
