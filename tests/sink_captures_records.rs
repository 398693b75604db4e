mod common;

use kolog::config::{HandlerKind, RendererKind};
use kolog::{bind, info, warning, Kolog, Level, QueueConfig, Sink};

fn kolog() -> Kolog {
    Kolog::from_config(common::system(
        vec![
            common::logger(
                "root",
                Some(Level::Info),
                HandlerKind::Null,
                RendererKind::StreamPlain,
            ),
            common::logger(
                "app",
                Some(Level::Debug),
                HandlerKind::Null,
                RendererKind::StreamPlain,
            ),
        ],
        QueueConfig::default(),
    ))
    .unwrap()
}

#[test]
fn sink_captures_structured_records_in_order() {
    let k = kolog();
    let sink = Sink::new();
    k.queue_manager().add_sink("app", sink.clone());
    let log = k.logger("app.db").unwrap();
    for i in 0..100u64 {
        info!(
            log,
            "row",
            i,
            neg = -(i as i64),
            f = 0.5,
            ok = true,
            s = "x y"
        );
    }
    k.flush();
    let records = sink.records();
    assert_eq!(records.len(), 100);
    for (i, r) in records.iter().enumerate() {
        assert_eq!(r.get("event").unwrap(), "row");
        assert_eq!(r.get("logger").unwrap(), "app.db");
        assert_eq!(r.get("level").unwrap(), "INFO");
        assert_eq!(r.get("i").unwrap(), i as u64);
        assert_eq!(r.get("neg").unwrap(), -(i as i64));
        assert_eq!(r.get("f").unwrap(), 0.5);
        assert_eq!(r.get("ok").unwrap(), true);
        assert_eq!(r.get("s").unwrap(), "x y");
    }
    assert_eq!(sink.events().len(), 100);
    sink.clear();
    assert!(sink.is_empty());
    let stats = k.stats();
    assert_eq!(stats.enqueued, 100);
    assert_eq!(stats.written, 100);
    assert_eq!(stats.dropped, 0);
}

#[test]
fn bind_is_immutable_and_chains() {
    let k = kolog();
    let sink = Sink::new();
    k.queue_manager().add_sink("app", sink.clone());
    let log = k.logger("app").unwrap();
    let api = bind!(log, service = "api", version = "v1");
    let req = bind!(api, request_id = "abc123", version = "v2");
    info!(log, "plain");
    info!(api, "Request received", endpoint = "/users");
    warning!(req, "Processing", user_id = 456);
    k.flush();
    let r = sink.records();
    assert_eq!(r.len(), 3);
    assert_eq!(r[0].fields.len(), 3, "{:?}", r[0]);
    assert_eq!(r[1].get("service").unwrap(), "api");
    assert_eq!(r[1].get("version").unwrap(), "v1");
    assert_eq!(r[1].get("endpoint").unwrap(), "/users");
    assert_eq!(r[2].get("version").unwrap(), "v2");
    assert_eq!(r[2].get("request_id").unwrap(), "abc123");
    assert_eq!(r[2].get("user_id").unwrap(), 456);
    assert_eq!(r[2].get("level").unwrap(), "WARNING");
    let keys: Vec<_> = r[2].fields.keys().cloned().collect();
    assert!(keys.contains(&"service".to_string()));
    assert_eq!(api.context().len(), 2);
    assert!(log.context().is_empty());
}

#[test]
fn levels_filter_per_logger() {
    let k = kolog();
    let sink = Sink::new();
    k.queue_manager().add_sink("root", sink.clone());
    let root = k.logger("other").unwrap();
    let app = k.logger("app.x").unwrap();
    kolog::debug!(root, "hidden");
    kolog::debug!(app, "shown");
    kolog::log!(root, Level::Error, "err");
    k.flush();
    let ev: Vec<_> = sink
        .records()
        .iter()
        .map(|r| r.get("event").unwrap().clone())
        .collect();
    assert_eq!(ev, ["shown", "err"]);
    assert!(!root.enabled(Level::Debug));
    assert!(app.enabled(Level::Debug));
}

#[test]
fn remove_sink_restores_handlers() {
    let k = kolog();
    let sink = Sink::new();
    let log = k.logger("app").unwrap();
    k.queue_manager().add_sink("app", sink.clone());
    info!(log, "a");
    k.queue_manager().remove_sink("app");
    info!(log, "b");
    k.flush();
    assert_eq!(sink.len(), 1);
    assert_eq!(k.stats().written, 2);
}

#[test]
fn unknown_logger_without_root_is_a_configuration_error() {
    let k = Kolog::from_config(common::system(
        vec![common::logger(
            "app",
            None,
            HandlerKind::Null,
            RendererKind::StreamPlain,
        )],
        QueueConfig::default(),
    ))
    .unwrap();
    assert!(k.logger("app.db.pool").is_ok());
    let err = k.logger("billing").unwrap_err();
    assert_eq!(err.kind(), kolog::ErrorKind::Configuration);
    assert_eq!(
        err.code(),
        "CONFIGURATION::LoggerFactory::VALIDATION::ERROR"
    );
    assert!(err.msg().contains("billing"), "{}", err.msg());
}

#[test]
fn info_life_logs_begin_and_end_with_elapsed_seconds() {
    let k = kolog();
    let sink = Sink::new();
    k.queue_manager().add_sink("app", sink.clone());
    let log = k.logger("app").unwrap();
    {
        let q = kolog::info_life!(log, "Database query", table = "users");
        info!(q, "Did work");
        std::thread::sleep(std::time::Duration::from_millis(120));
    }
    k.flush();
    let r = sink.records();
    assert_eq!(r.len(), 3);
    assert_eq!(r[0].get("event").unwrap(), "Begin: Database query");
    assert_eq!(r[0].get("table").unwrap(), "users");
    assert_eq!(r[1].get("event").unwrap(), "Did work");
    assert_eq!(r[1].get("table").unwrap(), "users");
    let end = r[2].get("event").unwrap().as_str().unwrap();
    assert!(
        end.starts_with("End (0.1") && end.ends_with("): Database query"),
        "{end}"
    );
    assert_eq!(end.len(), "End (0.12): Database query".len());
}

/// One thread logs to several queue managers in turn (its first producer is kept inline, the
/// others in a list): every record reaches its own manager's sink, and a manager shut down
/// midway neither takes records meant for the others nor loses the ones logged to it after.
#[test]
fn one_thread_interleaving_queue_managers_keeps_them_apart() {
    let ks: Vec<Kolog> = (0..3).map(|_| kolog()).collect();
    let sinks: Vec<Sink> = ks
        .iter()
        .map(|k| {
            let sink = Sink::new();
            k.queue_manager().add_sink("app", sink.clone());
            sink
        })
        .collect();
    let logs: Vec<_> = ks.iter().map(|k| k.logger("app").unwrap()).collect();
    for i in 0..300u64 {
        let m = (i % 3) as usize;
        info!(logs[m], "row", i, m = m as u64);
    }
    let mut ks = ks.into_iter();
    let first = ks.next().unwrap();
    first.flush();
    let report = first.shutdown().unwrap();
    assert_eq!(report.written, 100);
    // Logged after its manager shut down: counted, not written anywhere.
    for i in 0..30u64 {
        info!(logs[0], "late", i);
    }
    let fourth = kolog();
    let sink4 = Sink::new();
    fourth.queue_manager().add_sink("app", sink4.clone());
    let log4 = fourth.logger("app").unwrap();
    for i in 300..600u64 {
        let m = (i % 3) as usize;
        if m == 0 {
            info!(log4, "row", i, m = 3u64);
        } else {
            info!(logs[m], "row", i, m = m as u64);
        }
    }
    let rest: Vec<Kolog> = ks.collect();
    for k in &rest {
        k.flush();
    }
    fourth.flush();
    assert_eq!(sinks[0].len(), 100);
    for (m, sink) in sinks.iter().enumerate() {
        let records = sink.records();
        let expect: Vec<u64> = (0..if m == 0 { 300 } else { 600 })
            .filter(|i| (i % 3) as usize == m)
            .collect();
        let got: Vec<u64> = records
            .iter()
            .map(|r| r.get("i").unwrap().as_u64().unwrap())
            .collect();
        assert_eq!(got, expect, "manager {m}");
        assert!(records.iter().all(|r| r.get("m").unwrap() == m as u64));
    }
    let got4: Vec<u64> = sink4
        .records()
        .iter()
        .map(|r| r.get("i").unwrap().as_u64().unwrap())
        .collect();
    assert_eq!(
        got4,
        (300..600).filter(|i| i % 3 == 0).collect::<Vec<u64>>()
    );
    assert_eq!(first.stats().dropped_shutdown, 30);
}

/// ko-log's own test pattern: log, then assert on the sink at once, with no flush. Reading a
/// sink waits for what was logged before the read (each round logs a record the drainer has
/// not seen yet: without the wait most rounds would find it missing).
#[test]
fn a_sink_read_right_after_logging_sees_the_record() {
    let k = kolog();
    let log = k.logger("test").unwrap();
    let sink = Sink::new();
    k.queue_manager().add_sink("test", sink.clone());
    for i in 0..200u64 {
        info!(log, "Test message", i);
        assert_eq!(sink.events().len() as u64, i + 1);
        assert!(sink.events()[i as usize].contains("Test message"));
        assert_eq!(sink.records()[i as usize].get("i").unwrap(), i);
    }
    info!(log, "last");
    assert_eq!(sink.len(), 201);
    info!(log, "cleared with the rest");
    sink.clear();
    assert!(sink.is_empty());
    k.queue_manager().remove_sink("test");
    // After shutdown reading returns at once.
    k.shutdown().unwrap();
    assert!(sink.events().is_empty());
}

/// A custom processor (on the drainer's thread) may read a sink: it sees what was captured so
/// far and does not wait for the drainer, that is for itself.
#[test]
fn a_processor_reading_a_sink_on_the_drainer_does_not_wait_for_itself() {
    use kolog::config::{HandlerConfig, LoggerConfig, ProcessorConfig, RendererConfig};
    use kolog::process::Action;
    static SEEN: std::sync::OnceLock<Sink> = std::sync::OnceLock::new();
    let sink = SEEN.get_or_init(Sink::new).clone();
    kolog::register_processor("test_counts_the_sink", |_| {
        Ok(Box::new(|ev: &mut kolog::EventDict<'_>| {
            let n = SEEN.get().map_or(0, |s| s.len()) as u64;
            ev.insert("seen", kolog::record::Value::U64(n));
            Action::Keep
        }))
    });
    let k = Kolog::from_config(common::system(
        vec![LoggerConfig {
            name: "root".into(),
            level: Some(Level::Info),
            handlers: vec![HandlerConfig {
                kind: HandlerKind::Null,
                renderer: RendererConfig::new(RendererKind::StreamPlain),
                processors: vec![ProcessorConfig::Custom {
                    name: "test_counts_the_sink".into(),
                    params: serde_json::json!({}),
                }],
            }],
            context: Default::default(),
        }],
        QueueConfig::default(),
    ))
    .unwrap();
    k.queue_manager().add_sink("root", sink.clone());
    let log = k.logger("root").unwrap();
    for i in 0..20u64 {
        info!(log, "counted", i);
    }
    let seen: Vec<u64> = sink
        .records()
        .iter()
        .map(|r| r.get("seen").unwrap().as_u64().unwrap())
        .collect();
    assert_eq!(seen, (0..20).collect::<Vec<_>>());
}
