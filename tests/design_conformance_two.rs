//! More statements of DESIGN.md checked as an acceptance test would write them: the public
//! names and signatures of section 2 exactly as spelled there, sink records read by key, the
//! `Error` methods of section 4 called as methods without importing any trait, and section 3's
//! own example of an error path.
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

/// DESIGN §2's two `use` lines verbatim, and every signature the section spells, pinned as
/// function pointers (a changed parameter or return type fails to compile). Then the calls as
/// written, with the counts they must give.
mod surface {
    use std::time::Duration;

    use kolog::{
        acritical, adebug, aerror, ainfo, awarning, bind, critical, debug, error, info, info_life,
        log, warning,
    };
    use kolog::{
        BackpressurePolicy, Error, ErrorKind, Kolog, Level, Logger, LoggerFactory,
        LoggingSystemConfig, QueueConfig, QueueManager, Sink,
    };
    use kolog::{ShutdownReport, Stats};

    #[test]
    fn section_two_signatures_and_names_are_as_written() {
        let _: fn(&str) -> Result<Kolog, Error> = Kolog::from_json_str;
        let _: fn(&str) -> Result<Kolog, Error> = Kolog::from_yaml_str;
        let _: fn() -> Kolog = <Kolog as Default>::default;
        let _: fn(&Kolog, &str) -> Result<Logger, Error> = Kolog::logger;
        let _: fn(&Kolog) = Kolog::flush;
        let _: fn(&Kolog) -> Stats = Kolog::stats;
        let _: fn(&Kolog) -> Result<ShutdownReport, Error> = Kolog::shutdown;
        let _: fn(&Kolog) -> &QueueManager = Kolog::queue_manager;
        let _: fn(QueueConfig) -> Result<QueueManager, Error> = QueueManager::start;
        let _: fn(&QueueManager) = QueueManager::flush;
        let _: fn(&QueueManager) -> Result<ShutdownReport, Error> = QueueManager::shutdown;
        let _: fn(&QueueManager, &str, Sink) = QueueManager::add_sink;
        let _: fn(&QueueManager, &str) = QueueManager::remove_sink;
        let _: fn(LoggingSystemConfig, &QueueManager) -> Result<LoggerFactory, Error> =
            LoggerFactory::new;
        let _: fn(&str, &QueueManager) -> Result<LoggerFactory, Error> =
            LoggerFactory::from_json_str;
        let _: fn(&serde_json::Value, &QueueManager) -> Result<LoggerFactory, Error> =
            LoggerFactory::from_json_value;
        let _: fn(&LoggerFactory, &str) -> Result<Logger, Error> = LoggerFactory::get_logger;
        let _: fn() -> Sink = Sink::new;
        let _: fn(&Sink) -> Vec<String> = Sink::events;
        let _: fn(&Sink) = Sink::clear;
        let _: fn(&Error) -> ErrorKind = Error::kind;
        let _: fn(&Error) -> &str = Error::msg;
        let _: fn(&Error) -> bool = Error::recoverable;
        // `QueueConfig` is built from its three fields.
        let config = QueueConfig {
            max_queue_size: 64,
            backpressure_policy: BackpressurePolicy::Drop,
            drain_timeout: Duration::from_secs(3),
        };

        let qm = QueueManager::start(config).unwrap();
        let factory = LoggerFactory::from_json_str(
            r#"{"loggers": [{"name": "root", "level": "DEBUG",
                "handlers": [{"type": "null", "renderer": {"type": "stream_plain", "params": {"fmt": "%(level)s %(event)s"}}}]}]}"#,
            &qm,
        )
        .unwrap();
        let sink = Sink::new();
        qm.add_sink("root", sink.clone());
        let log: Logger = factory.get_logger("root").unwrap();
        let addr = std::net::Ipv4Addr::LOCALHOST;
        let e = std::io::Error::other("gone");
        info!(log, "Processing request", user_id = 123, ip = %addr, err = ?e.kind());
        debug!(log, "d");
        warning!(log, "w");
        error!(log, "e");
        critical!(log, "c");
        log!(log, Level::Info, "l", n = 1);
        let auth: Logger = bind!(log, service = "auth", env = "prod");
        let rt = tokio::runtime::Builder::new_current_thread()
            .build()
            .unwrap();
        rt.block_on(async {
            adebug!(auth, "ad").await;
            ainfo!(auth, "ai").await;
            awarning!(auth, "aw").await;
            aerror!(auth, "ae").await;
            acritical!(auth, "ac").await;
            assert_eq!(log.ainfo_life("API call", async { 7 }).await, 7);
        });
        drop(info_life!(log, "Database query", table = "users"));
        let mut events = sink.events();
        // The `End` lines carry the elapsed seconds with two decimals, whatever they are.
        for (i, name) in [(12, "API call"), (14, "Database query table=users")] {
            let end = &events[i];
            let secs = end
                .strip_prefix("INFO End (")
                .and_then(|rest| rest.strip_suffix(&format!("): {name}")))
                .unwrap_or_else(|| panic!("{end}"));
            assert_eq!(secs.split_once('.').map(|(_, d)| d.len()), Some(2), "{end}");
            secs.parse::<f64>().unwrap();
            events[i] = format!("INFO End (s): {name}");
        }
        assert_eq!(
            events,
            [
                "INFO Processing request user_id=123 ip=127.0.0.1 err=Other",
                "DEBUG d",
                "WARNING w",
                "ERROR e",
                "CRITICAL c",
                "INFO l n=1",
                "DEBUG ad service=auth env=prod",
                "INFO ai service=auth env=prod",
                "WARNING aw service=auth env=prod",
                "ERROR ae service=auth env=prod",
                "CRITICAL ac service=auth env=prod",
                "INFO Begin: API call",
                "INFO End (s): API call",
                "INFO Begin: Database query table=users",
                "INFO End (s): Database query table=users",
            ]
        );
        // `Stats` and `ShutdownReport`: public `u64` counts, `live_rings: usize`.
        let Stats {
            enqueued,
            written,
            dropped,
            failed,
            live_rings,
            ..
        } = qm.stats();
        let counts: [u64; 4] = [enqueued, written, dropped, failed];
        assert_eq!(counts, [15, 15, 0, 0]);
        let live_rings: usize = live_rings;
        assert_eq!(live_rings, 1, "one thread logged");
        sink.clear();
        assert!(sink.events().is_empty());
        qm.remove_sink("root");
        let ShutdownReport {
            enqueued,
            written,
            dropped,
            failed,
            ..
        } = qm.shutdown().unwrap();
        let counts: [u64; 4] = [enqueued, written, dropped, failed];
        assert_eq!(counts, [15, 15, 0, 0]);
    }
}

/// DESIGN §3's own example of an error path, `loggers[0].handlers[1].renderer.type`: the
/// second handler's renderer, named by its position, in a JSON and in a YAML document.
#[test]
fn the_design_example_path_names_the_second_handler() {
    let json = r#"{"loggers": [{"name": "root", "handlers": [
        {"type": "null", "renderer": {"type": "stream_json"}},
        {"type": "null", "renderer": {"type": "stream_xml"}}]}]}"#;
    let yaml = "loggers:\n  - name: root\n    handlers:\n      - type: \"null\"\n        renderer:\n          type: stream_json\n      - type: \"null\"\n        renderer:\n          type: stream_xml\n";
    for e in [
        Kolog::from_json_str(json).unwrap_err(),
        Kolog::from_yaml_str(yaml).unwrap_err(),
    ] {
        assert_eq!(e.kind(), ErrorKind::Configuration);
        assert_eq!(e.code(), "CONFIGURATION::LoggerFactory::VALIDATION::ERROR");
        assert!(
            e.msg()
                .starts_with("`loggers[0].handlers[1].renderer.type`: "),
            "{}",
            e.msg()
        );
        assert!(e.msg().contains("stream_xml"), "{}", e.msg());
    }
}
