//! A custom processor registered in code and used from configuration:
//! `cargo run --example custom_processor`.

use kolog::process::Action;
use kolog::record::Value;
use kolog::{info, register_processor, Kolog};

fn main() -> Result<(), kolog::Error> {
    // Register before loading the configuration that names it.
    register_processor("add_request_id", |params| {
        let id = params["request_id"].as_str().unwrap_or("none").to_owned();
        Ok(Box::new(move |ev: &mut kolog::EventDict<'_>| {
            ev.insert_default("request_id", Value::String(id.clone()));
            // Drop health checks entirely.
            if ev.get("path").and_then(Value::as_str) == Some("/health") {
                return Action::Drop;
            }
            Action::Keep
        }))
    });
    let kolog = Kolog::from_json_str(
        r#"{"loggers": [{"name": "root", "handlers": [{
              "type": "stream", "params": {"use_stderr": true},
              "renderer": {"type": "stream_json"},
              "processors": [{"type": "add_request_id", "params": {"request_id": "req-42"}}]}]}]}"#,
    )?;
    let log = kolog.logger("api")?;
    info!(log, "request", path = "/users");
    info!(log, "request", path = "/health");
    let report = kolog.shutdown()?;
    eprintln!("written {}, filtered {}", report.written, report.filtered);
    assert_eq!((report.written, report.filtered), (1, 1));
    Ok(())
}
