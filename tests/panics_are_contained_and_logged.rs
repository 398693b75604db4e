//! Panics: in user code while logging, in a custom processor on the drainer, and the panic
//! hook that logs panics at CRITICAL.
mod common;

use std::fmt;

use kolog::config::{
    HandlerConfig, HandlerKind, LoggerConfig, ProcessorConfig, RendererConfig, RendererKind,
};
use kolog::process::Action;
use kolog::{info, Kolog, Level, LoggingSystemConfig, QueueConfig, Sink};

fn kolog_with(processors: Vec<ProcessorConfig>) -> Kolog {
    Kolog::from_config(LoggingSystemConfig {
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
        queue: QueueConfig::default(),
    })
    .unwrap()
}

struct Exploding;

impl fmt::Display for Exploding {
    fn fmt(&self, _: &mut fmt::Formatter<'_>) -> fmt::Result {
        panic!("Display exploded")
    }
}

#[test]
fn a_panicking_display_value_unwinds_to_the_caller_and_leaves_the_logger_usable() {
    let k = kolog_with(vec![]);
    let sink = Sink::new();
    k.queue_manager().add_sink("root", sink.clone());
    let log = k.logger("app").unwrap();
    info!(log, "before", n = 1);
    let r = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        info!(log, "never enqueued", v = %Exploding);
    }));
    assert!(r.is_err());
    info!(log, "after", n = 2, s = %"display works");
    k.flush();
    let events: Vec<_> = sink
        .records()
        .iter()
        .map(|r| r.get("event").unwrap().clone())
        .collect();
    assert_eq!(events, ["before", "after"]);
    assert_eq!(sink.records()[1].get("s").unwrap(), "display works");
    let s = k.stats();
    assert_eq!((s.enqueued, s.written, s.failed), (2, 2, 0));
}

#[test]
fn a_panicking_custom_processor_is_counted_as_failed_and_the_drainer_goes_on() {
    kolog::register_processor("test_panics_on_bad", |_| {
        Ok(Box::new(|ev: &mut kolog::EventDict<'_>| {
            if ev.event == "bad" {
                panic!("processor exploded");
            }
            Action::Keep
        }))
    });
    let k = kolog_with(vec![ProcessorConfig::Custom {
        name: "test_panics_on_bad".into(),
        params: serde_json::json!({}),
    }]);
    let sink = Sink::new();
    k.queue_manager().add_sink("root", sink.clone());
    let log = k.logger("app").unwrap();
    info!(log, "good", i = 0);
    info!(log, "bad");
    for i in 1..100u64 {
        info!(log, "good", i);
    }
    k.flush();
    let s = k.stats();
    assert_eq!(s.failed, 1);
    assert_eq!(s.written, 100);
    assert_eq!(sink.len(), 100);
}

#[test]
fn the_panic_hook_logs_message_location_and_backtrace_at_critical() {
    let k = kolog_with(vec![]);
    let sink = Sink::new();
    k.queue_manager().add_sink("root", sink.clone());
    kolog::install_panic_hook(&k).unwrap();
    let t = std::thread::Builder::new()
        .name("worker-7".into())
        .spawn(|| panic!("boom {}", 42))
        .unwrap();
    assert!(t.join().is_err());
    // The hook flushed before returning: the record is already captured.
    let records = sink.records();
    assert_eq!(records.len(), 1);
    let r = &records[0];
    assert_eq!(r.get("level").unwrap(), "CRITICAL");
    assert_eq!(r.get("logger").unwrap(), "panic");
    assert_eq!(r.get("event").unwrap(), "panic");
    assert_eq!(r.get("message").unwrap(), "boom 42");
    assert_eq!(r.get("thread").unwrap(), "worker-7");
    let location = r.get("location").unwrap().as_str().unwrap();
    assert!(
        location.starts_with("tests/panics_are_contained_and_logged.rs:"),
        "{location}"
    );
    assert!(!r.get("backtrace").unwrap().as_str().unwrap().is_empty());
}
