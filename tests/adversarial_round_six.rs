//! Adversarial round six: hostile inputs and races not covered by rounds one to five, each
//! asserting exact counts and bytes.

mod common;

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;

use common::{assert_balanced, within};
use kolog::process::Action;
use kolog::{info, Kolog};

/// A custom processor that spins for `micros` per record: a drainer slower than its producer.
fn register_slow(name: &str, micros: u64) {
    kolog::register_processor(name, move |_| {
        Ok(Box::new(move |_: &mut kolog::EventDict<'_>| {
            let until = std::time::Instant::now() + std::time::Duration::from_micros(micros);
            while std::time::Instant::now() < until {
                std::hint::spin_loop();
            }
            Action::Keep
        }))
    });
}

/// Under `drop_oldest`, a producer that never pauses must not keep the drainer on its ring:
/// `flush()` from another thread returns while it still logs.
#[test]
fn drop_oldest_flush_returns_while_a_producer_keeps_logging() {
    register_slow("r6_slow", 5);
    within(60, "drop_oldest flush", || {
        let k = Kolog::from_json_str(
            r#"{"queue": {"max_queue_size": 20000, "backpressure_policy": "drop_oldest"},
                "loggers": [{"name": "root", "handlers": [{"type": "null", "processors": [{"type": "r6_slow"}]}]}]}"#,
        )
        .unwrap();
        let log = k.logger("root").unwrap();
        let stop = Arc::new(AtomicBool::new(false));
        let done = Arc::new(AtomicBool::new(false));
        let logged = Arc::new(AtomicU64::new(0));
        let producer = std::thread::spawn({
            let (stop, done, logged, log) =
                (stop.clone(), done.clone(), logged.clone(), log.clone());
            move || {
                let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
                while !stop.load(Ordering::Relaxed) && std::time::Instant::now() < deadline {
                    info!(log, "spin", i = 1u64);
                    logged.fetch_add(1, Ordering::Relaxed);
                }
                done.store(true, Ordering::SeqCst);
            }
        });
        while logged.load(Ordering::Relaxed) < 10_000 {
            std::thread::yield_now();
        }
        k.flush();
        let still_running = !done.load(Ordering::SeqCst);
        stop.store(true, Ordering::Relaxed);
        producer.join().unwrap();
        assert!(still_running, "flush() waited for the producer to stop");
        k.flush();
        let s = k.stats();
        assert_balanced(&s);
        assert_eq!(s.enqueued + s.dropped_full, logged.load(Ordering::Relaxed));
    });
}

/// A gate a custom processor waits at (on the drainer thread) until the test opens it.
struct Gate {
    state: std::sync::Mutex<(bool, bool)>, // (entered, open)
    cond: std::sync::Condvar,
}

impl Gate {
    fn new() -> Arc<Gate> {
        Arc::new(Gate {
            state: std::sync::Mutex::new((false, false)),
            cond: std::sync::Condvar::new(),
        })
    }

    /// Registers processor `name`, which waits at this gate for records whose event is `gate`.
    fn register(self: &Arc<Gate>, name: &str) {
        let gate = self.clone();
        kolog::register_processor(name, move |_| {
            let gate = gate.clone();
            Ok(Box::new(move |ev: &mut kolog::EventDict<'_>| {
                if ev.event == "gate" {
                    let mut s = gate.state.lock().unwrap();
                    s.0 = true;
                    gate.cond.notify_all();
                    while !s.1 {
                        s = gate.cond.wait(s).unwrap();
                    }
                }
                Action::Keep
            }))
        });
    }

    fn wait_entered(&self) {
        let mut s = self.state.lock().unwrap();
        while !s.0 {
            s = self.cond.wait(s).unwrap();
        }
    }

    fn open(&self) {
        self.state.lock().unwrap().1 = true;
        self.cond.notify_all();
    }
}

/// Under `drop_oldest`, records of several threads are written in timestamp order, as under
/// the other policies (the drainer merges the rings): two threads log in strict alternation
/// while the drainer is held, then it takes them in one pass.
#[test]
fn drop_oldest_merges_threads_in_timestamp_order() {
    let gate = Gate::new();
    gate.register("r6_order_gate");
    within(30, "drop_oldest order", move || {
        let dir = common::temp_dir("r6-drop-oldest-order");
        let path = dir.join("o.log");
        let k = Kolog::from_json_str(&format!(
            r#"{{"queue": {{"max_queue_size": 1000, "backpressure_policy": "drop_oldest"}},
                "loggers": [{{"name": "root", "handlers": [{{"type": "file", "params": {{"filename": "{}"}},
                    "renderer": {{"type": "file_plain", "params": {{"fmt": "%(event)s"}}}},
                    "processors": [{{"type": "r6_order_gate"}}]}}]}}]}}"#,
            path.display()
        ))
        .unwrap();
        let log = k.logger("root").unwrap();
        info!(log, "gate");
        gate.wait_entered();
        // Two threads with rings of their own, taking turns: a0 b0 a1 b1 ...
        let (to_a, a_rx) = std::sync::mpsc::channel::<u64>();
        let (to_b, b_rx) = std::sync::mpsc::channel::<u64>();
        let (done_tx, done) = std::sync::mpsc::channel::<()>();
        let threads: Vec<_> = [("a", a_rx), ("b", b_rx)]
            .into_iter()
            .map(|(name, rx)| {
                let (log, done_tx) = (log.clone(), done_tx.clone());
                std::thread::spawn(move || {
                    for i in rx {
                        info!(log, "r", name, i);
                        done_tx.send(()).unwrap();
                    }
                })
            })
            .collect();
        let mut expected = vec!["gate".to_owned()];
        for i in 0..50u64 {
            for (name, tx) in [("a", &to_a), ("b", &to_b)] {
                tx.send(i).unwrap();
                done.recv().unwrap();
                expected.push(format!("r name={name} i={i}"));
            }
        }
        drop((to_a, to_b));
        for t in threads {
            t.join().unwrap();
        }
        gate.open();
        k.flush();
        let s = k.stats();
        assert_balanced(&s);
        assert_eq!((s.written, s.dropped), (101, 0), "{s:?}");
        let text = std::fs::read_to_string(&path).unwrap();
        assert_eq!(text.lines().collect::<Vec<_>>(), expected);
    });
}

/// A processor that logs a record for every record it sees (its own included) keeps the
/// drainer busy for ever, under every policy: `flush()` still returns (each pass takes what
/// was stamped before it began) and `shutdown()` ends the stream, with every record counted.
#[test]
fn a_processor_echoing_every_record_forever_neither_hangs_flush_nor_shutdown() {
    static ECHO: std::sync::Mutex<Option<kolog::Logger>> = std::sync::Mutex::new(None);
    kolog::register_processor("r6_echo", |_| {
        Ok(Box::new(|_: &mut kolog::EventDict<'_>| {
            if let Some(log) = ECHO.lock().unwrap().as_ref() {
                info!(log, "echo");
            }
            Action::Keep
        }))
    });
    for policy in ["block", "drop", "drop_oldest"] {
        let s = within(20, policy, move || {
            let k = Kolog::from_json_str(&format!(
                r#"{{"queue": {{"max_queue_size": 64, "backpressure_policy": "{policy}"}},
                    "loggers": [{{"name": "echo", "handlers": [{{"type": "null", "processors": [{{"type": "r6_echo"}}]}}]}}]}}"#
            ))
            .unwrap();
            let log = k.logger("echo").unwrap();
            *ECHO.lock().unwrap() = Some(log.clone());
            info!(log, "start");
            for _ in 0..3 {
                k.flush();
            }
            let report = k.shutdown().unwrap();
            *ECHO.lock().unwrap() = None;
            assert!(!report.timed_out, "{policy}: {report:?}");
            k.stats()
        });
        assert_balanced(&s);
        assert!(s.written >= 4, "{policy}: {s:?}");
    }
}

// ---------------------------------------------------------------------------------------------
// Destinations that never take the bytes
// ---------------------------------------------------------------------------------------------

/// A `file` handler on a named pipe nobody reads: opening it for writing would wait for a
/// reader for ever. The handler counts its records as failed instead, `flush()` and
/// `shutdown()` return, and once a reader is there the next batch reaches it.
#[test]
fn a_file_handler_on_a_fifo_without_a_reader_neither_hangs_nor_loses_count() {
    let dir = common::temp_dir("r6-fifo");
    let fifo = dir.join("pipe");
    let c = std::ffi::CString::new(fifo.as_os_str().as_encoded_bytes()).unwrap();
    // SAFETY: a valid NUL-terminated path.
    assert_eq!(unsafe { libc::mkfifo(c.as_ptr(), 0o600) }, 0);
    let doc = format!(
        r#"{{"queue": {{"drain_timeout": 0.5}}, "loggers": [{{"name": "root", "handlers": [{{"type": "file",
            "params": {{"filename": "{}", "mode": "w"}}, "renderer": {{"type": "file_plain", "params": {{"fmt": "%(event)s"}}}}}}]}}]}}"#,
        fifo.display()
    );
    let (s, read) = within(20, "fifo", move || {
        let k = Kolog::from_json_str(&doc).unwrap();
        let log = k.logger("root").unwrap();
        info!(log, "nobody reads this");
        k.flush();
        let s = k.stats();
        assert_balanced(&s);
        assert_eq!((s.enqueued, s.written, s.failed), (1, 0, 1), "{s:?}");
        // A reader comes: the next record reaches it.
        use std::io::Read as _;
        use std::os::unix::fs::OpenOptionsExt as _;
        let mut reader = std::fs::OpenOptions::new()
            .read(true)
            .custom_flags(libc::O_NONBLOCK)
            .open(&fifo)
            .unwrap();
        info!(log, "someone reads this");
        k.flush();
        let mut buf = [0u8; 256];
        let n = reader.read(&mut buf).unwrap();
        let s = k.shutdown().unwrap();
        (s, String::from_utf8_lossy(&buf[..n]).into_owned())
    });
    assert_eq!((s.enqueued, s.written, s.failed), (2, 1, 1), "{s:?}");
    // The record, then the recovery report (written before the flush returned).
    assert_eq!(
        read,
        "someone reads this\nhandler `root`[0] recovered after 1 records failed to write failed=1\n"
    );
}

/// A destination that stops taking bytes (a named pipe whose reader never reads; a hung
/// network file system) holds its handler's write for ever; `shutdown()` still returns
/// within `drain_timeout`, counting what it could not write as failed. The write waits on the
/// handler's I/O thread, which the drainer gives up: run with one whatever `KOLOG_IO_THREAD`
/// says (with writes on the drainer thread, the drainer itself waits; see README).
#[test]
fn shutdown_returns_within_drain_timeout_when_a_destination_stops_taking_bytes() {
    use std::os::unix::fs::OpenOptionsExt as _;
    const TEST: &str =
        "shutdown_returns_within_drain_timeout_when_a_destination_stops_taking_bytes";
    if child_case().as_deref() != Some(TEST) {
        run_child_with_io_threads(TEST, 60);
        return;
    }
    let dir = common::temp_dir("r6-stalled-fifo");
    let fifo = dir.join("pipe");
    let c = std::ffi::CString::new(fifo.as_os_str().as_encoded_bytes()).unwrap();
    // SAFETY: a valid NUL-terminated path.
    assert_eq!(unsafe { libc::mkfifo(c.as_ptr(), 0o600) }, 0);
    // A reader that never reads: the pipe's buffer (64 KiB) fills, then writes wait.
    let reader = std::fs::OpenOptions::new()
        .read(true)
        .custom_flags(libc::O_NONBLOCK)
        .open(&fifo)
        .unwrap();
    let doc = format!(
        r#"{{"queue": {{"drain_timeout": 0.3}}, "loggers": [{{"name": "root", "handlers": [{{"type": "file",
            "params": {{"filename": "{}"}}, "renderer": {{"type": "file_plain", "params": {{"fmt": "%(event)s %(pad)s"}}}}}}]}}]}}"#,
        fifo.display()
    );
    let (report, s) = within(20, "stalled destination", move || {
        let k = Kolog::from_json_str(&doc).unwrap();
        let log = k.logger("root").unwrap();
        let pad = "p".repeat(200);
        for i in 0..5_000u64 {
            info!(log, "r", i, pad = pad.as_str());
        }
        let report = k.shutdown().unwrap();
        (report, k.stats())
    });
    drop(reader);
    assert_balanced(&s);
    assert_eq!(s.enqueued, 5_000, "{s:?}");
    assert!(s.failed > 0, "{s:?}");
    assert!(report.timed_out, "{report:?}");
}

/// A file name with a NUL byte can never be opened: it is a handler error when the system is
/// built (as a missing directory is), not a handler that fails every record at run time.
#[test]
fn a_file_name_with_a_nul_byte_is_a_handler_error() {
    for handler in ["file", "rotating_file"] {
        let doc = format!(
            r#"{{"loggers": [{{"name": "root", "handlers": [{{"type": "{handler}", "params": {{"filename": "app\u0000.log"}}}}]}}]}}"#
        );
        let e = Kolog::from_json_str(&doc).unwrap_err();
        let source = common::creation_cause(&e);
        assert_eq!(source.kind(), kolog::ErrorKind::Handler, "{}", source.msg());
        assert!(source.msg().contains("NUL"), "{}", source.msg());
    }
}

/// `stream_colored` on a terminal (a pseudo-terminal as the child's stdout), byte for byte:
/// the level, and only the level, in its colour, the padding outside the colour codes, the
/// same on the direct path and the event path (a record with an error value).
#[test]
fn stream_colored_on_a_terminal_colours_exactly_the_level() {
    const TEST: &str = "stream_colored_on_a_terminal_colours_exactly_the_level";
    if child_case().as_deref() == Some(TEST) {
        let (mut master, mut slave) = (0, 0);
        // SAFETY: out-pointers to two ints; no name, termios or size requested.
        let rc = unsafe {
            libc::openpty(
                &mut master,
                &mut slave,
                std::ptr::null_mut(),
                std::ptr::null(),
                std::ptr::null(),
            )
        };
        assert_eq!(rc, 0);
        // SAFETY: `slave` is an open terminal; raw mode keeps `\n` as it is.
        unsafe {
            let mut t: libc::termios = std::mem::zeroed();
            assert_eq!(libc::tcgetattr(slave, &mut t), 0);
            libc::cfmakeraw(&mut t);
            assert_eq!(libc::tcsetattr(slave, libc::TCSANOW, &t), 0);
            assert_eq!(libc::dup2(slave, 1), 1);
        }
        let k = Kolog::from_json_str(
            r#"{"loggers": [{"name": "root", "level": "DEBUG", "handlers": [{"type": "stream",
                "renderer": {"type": "stream_colored", "params": {"fmt": "%(level)-8s|%(level)9s|%(name)s: %(event)s"}}}]}]}"#,
        )
        .unwrap();
        let log = k.logger("app").unwrap();
        let err = common::DbError(std::io::Error::other("disk"));
        info!(log, "direct", n = 1);
        kolog::critical!(log, "event path", error = &err);
        kolog::debug!(log, "debug");
        k.shutdown().unwrap();
        let mut out = vec![0u8; 4096];
        // SAFETY: reading into a buffer of that many bytes.
        let n = unsafe { libc::read(master, out.as_mut_ptr().cast(), out.len()) };
        assert!(n > 0);
        out.truncate(n as usize);
        let expected = "\x1b[32mINFO\x1b[0m    |     \x1b[32mINFO\x1b[0m|app: direct n=1\n\
                        \x1b[1;31mCRITICAL\x1b[0m| \x1b[1;31mCRITICAL\x1b[0m|app: event path error=\"query failed\"\n\
                        \x1b[34mDEBUG\x1b[0m   |    \x1b[34mDEBUG\x1b[0m|app: debug\n";
        if out != expected.as_bytes() {
            eprintln!("GOT {:?}", String::from_utf8_lossy(&out));
            std::process::exit(3);
        }
        return;
    }
    run_child(TEST, 30);
}

/// `shutdown()` called by code the drainer runs (a custom processor) cannot wait for the
/// drainer, that is for itself: it begins the shutdown and says so, and the owner's own
/// `shutdown()` then waits for the drain and gets the report.
#[test]
fn shutdown_from_a_processor_on_the_drainer_leaves_the_report_to_the_owner() {
    static SYSTEM: std::sync::OnceLock<Kolog> = std::sync::OnceLock::new();
    static INNER: std::sync::Mutex<Option<String>> = std::sync::Mutex::new(None);
    kolog::register_processor("r6_shutdown", |_| {
        Ok(Box::new(|ev: &mut kolog::EventDict<'_>| {
            if ev.event == "stop" {
                let r = SYSTEM.get().unwrap().shutdown();
                *INNER.lock().unwrap() = Some(match r {
                    Ok(_) => "ok".to_owned(),
                    Err(e) => e.code().to_owned(),
                });
            }
            Action::Keep
        }))
    });
    let s = within(20, "shutdown from the drainer", || {
        let k = SYSTEM.get_or_init(|| {
            Kolog::from_json_str(
                r#"{"loggers": [{"name": "root", "handlers": [{"type": "null", "processors": [{"type": "r6_shutdown"}]}]}]}"#,
            )
            .unwrap()
        });
        let log = k.logger("root").unwrap();
        info!(log, "before");
        info!(log, "stop");
        // The processor has run (and its shutdown has begun) before the owner's.
        k.flush();
        // Logged after shutdown began: written if it made the drainer's final drain,
        // otherwise counted as dropped at shutdown; never lost.
        info!(log, "after");
        let report = k.shutdown().unwrap();
        assert_eq!(
            (report.written, report.failed, report.dropped_timeout),
            (report.enqueued, 0, 0),
            "{report:?}"
        );
        assert!(report.enqueued == 2 || report.enqueued == 3, "{report:?}");
        // Shut down once: a third call is the usual warning.
        assert_eq!(
            k.shutdown().unwrap_err().code(),
            "QUEUE::QueueManager::LIFECYCLE::WARNING"
        );
        k.stats()
    });
    assert_eq!(
        INNER.lock().unwrap().as_deref(),
        Some("QUEUE::QueueManager::LIFECYCLE::WARNING")
    );
    // `after` was logged once the shutdown had begun: written if it made the final drain,
    // otherwise counted in `dropped_shutdown` (the report, taken when the drain ended, may
    // not include it; `stats()` does).
    assert_balanced(&s);
    assert_eq!(
        (s.enqueued, s.failed, s.written + s.dropped_shutdown),
        (s.written, 0, 3),
        "{s:?}"
    );
}

// ---------------------------------------------------------------------------------------------
// Sinks
// ---------------------------------------------------------------------------------------------

/// A field named like one of a record's own keys (`event = "login"` is common) does not
/// replace the record's level, logger or message in `sink.records()`: it is kept beside them
/// as `fields.<key>`, as the JSON renderer writes it.
#[test]
fn sink_records_keep_their_own_level_logger_and_event() {
    let k = Kolog::from_json_str(
        r#"{"loggers": [{"name": "root", "context": {"logger": "ctx"}, "handlers": [{"type": "null", "renderer": {"type": "file_json"}}]}]}"#,
    )
    .unwrap();
    let sink = kolog::Sink::new();
    k.queue_manager().add_sink("root", sink.clone());
    let log = k.logger("app").unwrap();
    info!(log, "Test message", event = "login", level = 3, user_id = 7);
    let records = sink.records();
    assert_eq!(records.len(), 1);
    let got: Vec<(String, serde_json::Value)> = records[0]
        .fields
        .iter()
        .map(|(k, v)| (k.clone(), v.clone()))
        .collect();
    let expected: Vec<(String, serde_json::Value)> = [
        ("level", serde_json::json!("INFO")),
        ("logger", "app".into()),
        ("event", "Test message".into()),
        ("fields.logger", "ctx".into()),
        ("fields.event", "login".into()),
        ("fields.level", 3.into()),
        ("user_id", 7.into()),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_owned(), v))
    .collect();
    assert_eq!(got, expected);
    // The rendered line says the same.
    let line: serde_json::Value = serde_json::from_str(&sink.events()[0]).unwrap();
    for (key, value) in &expected {
        assert_eq!(&line[key.as_str()], value, "{key}");
    }
    let s = k.shutdown().unwrap();
    assert_eq!((s.enqueued, s.written), (1, 1));
}

/// Numbers at their edges and hostile strings, as fields, bound context and defaults: the
/// direct path (the file) and the event path (a sink, rendered by the same handler) write the
/// same bytes, and every JSON line is one valid object with the values it was given.
#[test]
fn edge_values_render_the_same_on_both_paths_and_json_stays_valid() {
    fn emit(log: &kolog::Logger) {
        let bound = kolog::bind!(log, b_nan = f64::NAN, b_neg0 = -0.0f64, b_big = u128::MAX);
        info!(
            log,
            "floats",
            nan = f64::NAN,
            inf = f64::INFINITY,
            ninf = f64::NEG_INFINITY,
            neg0 = -0.0f64,
            max = f64::MAX,
            tiny = 5e-324f64,
            f32nan = f32::NAN,
            f32max = f32::MAX
        );
        info!(
            log,
            "ints",
            imin = i64::MIN,
            umax = u64::MAX,
            u128max = u128::MAX,
            i128min = i128::MIN,
            i128small = -5i128
        );
        info!(
            bound,
            "strings \"q\" \\ \u{7f}\u{85}é\u{1F600}",
            empty = "",
            ctl = "a\u{0}b\u{1b}c\td\re\n",
            uni = "\u{2028}\u{feff}"
        );
    }
    let dir = common::temp_dir("r6-edge-values");
    for renderer in [r#"{"type": "file_json"}"#, r#"{"type": "file_plain"}"#] {
        let path = dir.join("app.log");
        let k = Kolog::from_json_str(&format!(
            r#"{{"loggers": [{{"name": "root", "context": {{"c_big": 18446744073709551616, "c_neg0": -0.0, "c_e": 1e300, "c key": "v=1"}},
                "handlers": [{{"type": "file", "params": {{"filename": "{}", "mode": "w"}}, "renderer": {renderer},
                    "processors": [{{"type": "add_context_defaults", "params": {{"defaults": {{"d_min": -9223372036854775808, "d_f": 0.1}}}}}}]}}]}}]}}"#,
            path.display()
        ))
        .unwrap();
        let log = k.logger("root").unwrap();
        emit(&log);
        k.flush();
        let sink = kolog::Sink::new();
        k.queue_manager().add_sink("root", sink.clone());
        emit(&log);
        let events = sink.events();
        let s = k.shutdown().unwrap();
        assert_eq!((s.enqueued, s.written, s.failed), (6, 6, 0), "{s:?}");
        let text = std::fs::read_to_string(&path).unwrap();
        let strip = |l: &str| -> String {
            if renderer.contains("json") {
                let mut v: serde_json::Value = serde_json::from_str(l).unwrap();
                v.as_object_mut().unwrap().remove("timestamp");
                serde_json::to_string(&v).unwrap()
            } else {
                l.split_once("] ").unwrap().1.to_owned()
            }
        };
        let file: Vec<String> = text.lines().map(strip).collect();
        let sunk: Vec<String> = events.iter().map(|l| strip(l)).collect();
        assert_eq!(file, sunk, "{renderer}");
        assert_eq!(file.len(), 3);
        if renderer.contains("json") {
            let v: Vec<serde_json::Value> = text
                .lines()
                .map(|l| serde_json::from_str(l).unwrap())
                .collect();
            assert_eq!(v[0]["nan"], "NaN");
            assert_eq!(v[0]["inf"], "inf");
            assert_eq!(v[0]["ninf"], "-inf");
            assert_eq!(
                v[0]["neg0"].as_f64().unwrap().to_bits(),
                (-0.0f64).to_bits()
            );
            assert_eq!(v[0]["max"].as_f64().unwrap(), f64::MAX);
            assert_eq!(v[0]["tiny"].as_f64().unwrap(), 5e-324);
            assert_eq!(v[0]["f32max"].as_f64().unwrap(), 3.4028235e38);
            assert_eq!(v[1]["imin"].as_i64().unwrap(), i64::MIN);
            assert_eq!(v[1]["umax"].as_u64().unwrap(), u64::MAX);
            assert_eq!(v[1]["u128max"], u128::MAX.to_string());
            assert_eq!(v[1]["i128min"], i128::MIN.to_string());
            assert_eq!(v[1]["i128small"], -5);
            assert_eq!(v[2]["event"], "strings \"q\" \\ \u{7f}\u{85}é\u{1F600}");
            assert_eq!(v[2]["ctl"], "a\u{0}b\u{1b}c\td\re\n");
            assert_eq!(v[2]["uni"], "\u{2028}\u{feff}");
            assert_eq!(v[2]["b_big"], u128::MAX.to_string());
            assert_eq!(v[0]["d_min"].as_i64().unwrap(), i64::MIN);
            assert_eq!(v[0]["c key"], "v=1");
        }
    }
}

/// One logger, a JSON file, a plain file and a `null` handler in every order: each record is
/// written once to each file whichever path it takes (an error value sends it down the event
/// path after the direct path was tried), and counted once.
#[test]
fn a_record_routed_to_json_plain_and_null_handlers_is_written_once_to_each() {
    let dir = common::temp_dir("r6-three-handlers");
    let json = dir.join("a.json");
    let plain = dir.join("b.log");
    let h_json = format!(
        r#"{{"type": "file", "params": {{"filename": "{}", "mode": "w"}}, "renderer": {{"type": "file_json"}}}}"#,
        json.display()
    );
    let h_plain = format!(
        r#"{{"type": "file", "params": {{"filename": "{}", "mode": "w"}}, "renderer": {{"type": "file_plain", "params": {{"fmt": "%(event)s"}}}}}}"#,
        plain.display()
    );
    let h_null = r#"{"type": "null"}"#.to_owned();
    for order in [
        [&h_json, &h_plain, &h_null],
        [&h_null, &h_plain, &h_json],
        [&h_plain, &h_null, &h_json],
    ] {
        let k = Kolog::from_json_str(&format!(
            r#"{{"loggers": [{{"name": "root", "handlers": [{}, {}, {}]}}]}}"#,
            order[0], order[1], order[2]
        ))
        .unwrap();
        let log = k.logger("root").unwrap();
        let err = common::DbError(std::io::Error::other("disk"));
        info!(log, "one", n = 1);
        kolog::error!(log, "two", error = &err);
        info!(log, "three", d = %"disp", g = ?"dbg");
        kolog::error!(log, "four", n = 4, error = &err, after = true);
        let s = k.shutdown().unwrap();
        assert_eq!(
            (s.enqueued, s.written, s.failed, s.filtered),
            (4, 4, 0, 0),
            "{s:?}"
        );
        assert_eq!(
            std::fs::read_to_string(&plain).unwrap(),
            "one n=1\ntwo error=\"query failed\"\nthree d=disp g=\"\\\"dbg\\\"\"\nfour n=4 error=\"query failed\" after=true\n"
        );
        let events: Vec<String> = common::json_lines(&json)
            .iter()
            .map(|v| v["event"].as_str().unwrap().to_owned())
            .collect();
        assert_eq!(events, ["one", "two", "three", "four"]);
    }
}

// ---------------------------------------------------------------------------------------------
// Memory stays bounded (each case in a child process of its own: the `log` logger is one per
// process, and resident memory is only meaningful without the other tests running)
// ---------------------------------------------------------------------------------------------

fn child_case() -> Option<String> {
    std::env::var("KOLOG_R6_CHILD").ok()
}

/// Runs `test` alone in a child process with `KOLOG_R6_CHILD` set (and `NO_COLOR` removed),
/// failing after `seconds` if it hangs; asserts that it succeeded and returns its output.
fn run_child(test: &str, seconds: u64) -> std::process::Output {
    let out = common::run_child(test, "KOLOG_R6_CHILD", &[], &["NO_COLOR"], seconds);
    common::assert_child_succeeded(&out);
    out
}

/// [`run_child`] with `KOLOG_IO_THREAD` removed too: file and stream handlers write on I/O
/// threads of their own (the default), for tests of what only an I/O thread can do.
fn run_child_with_io_threads(test: &str, seconds: u64) -> std::process::Output {
    let out = common::run_child(
        test,
        "KOLOG_R6_CHILD",
        &[],
        &["NO_COLOR", "KOLOG_IO_THREAD"],
        seconds,
    );
    common::assert_child_succeeded(&out);
    out
}

fn rss_kib() -> u64 {
    let statm = std::fs::read_to_string("/proc/self/statm").unwrap();
    let pages: u64 = statm.split_whitespace().nth(1).unwrap().parse().unwrap();
    pages * 4
}

/// Runs `test` alone in a child process with `KOLOG_R6_CHILD` set; returns the
/// `RSS_GROWTH_KIB=` it prints.
fn child_rss_growth(test: &str) -> u64 {
    let out = run_child(test, 60);
    String::from_utf8_lossy(&out.stdout)
        .split("RSS_GROWTH_KIB=")
        .nth(1)
        .and_then(|s| s.split_whitespace().next())
        .unwrap()
        .parse()
        .unwrap()
}

/// `add_context_defaults` values live as long as their system: systems built and dropped in a
/// loop (a service reloading its configuration, a test suite) do not accumulate them.
#[test]
fn context_defaults_of_dropped_systems_are_freed() {
    const TEST: &str = "context_defaults_of_dropped_systems_are_freed";
    if child_case().as_deref() == Some(TEST) {
        use kolog::config::{HandlerKind, ProcessorConfig, RendererKind};
        let mut defaults = serde_json::Map::new();
        defaults.insert("big".into(), "x".repeat(1 << 20).into());
        let mut root = common::logger("root", None, HandlerKind::Null, RendererKind::FileJson);
        root.handlers[0].processors = vec![ProcessorConfig::AddContextDefaults { defaults }];
        let config = common::system(vec![root], Default::default());
        let round = || {
            let k = Kolog::from_config(config.clone()).unwrap();
            let log = k.logger("root").unwrap();
            info!(log, "e", n = 1);
            let s = k.shutdown().unwrap();
            assert_eq!((s.enqueued, s.written), (1, 1));
        };
        for _ in 0..3 {
            round();
        }
        let before = rss_kib();
        for _ in 0..40 {
            round();
        }
        println!("RSS_GROWTH_KIB={}", rss_kib().saturating_sub(before));
        return;
    }
    let growth = child_rss_growth(TEST);
    // A copy per system would be 40 MiB.
    assert!(growth < 10 * 1024, "{growth} KiB kept after 40 systems");
}
/// `log` records with targets made at run time (one per tenant, per request...) resolve a
/// logger each, but the bridge does not keep one per target for ever.
#[cfg(feature = "log")]
#[test]
fn log_records_with_endless_distinct_targets_keep_memory_bounded() {
    const TEST: &str = "log_records_with_endless_distinct_targets_keep_memory_bounded";
    if child_case().as_deref() == Some(TEST) {
        let k = Kolog::from_json_str(
            r#"{"loggers": [{"name": "root", "handlers": [{"type": "null", "renderer": {"type": "file_json"}}]}]}"#,
        )
        .unwrap();
        kolog::bridge::log::init(&k).unwrap();
        let pad = "t".repeat(1024);
        let target = |i: u64| format!("tenant{i}::{pad}");
        for i in 0..5_000 {
            log::info!(target: &target(i), "hello");
        }
        k.flush();
        let before = rss_kib();
        for i in 5_000..20_000 {
            log::info!(target: &target(i), "hello");
        }
        k.flush();
        let s = k.stats();
        assert_eq!((s.enqueued, s.written), (20_000, 20_000));
        println!("RSS_GROWTH_KIB={}", rss_kib().saturating_sub(before));
        return;
    }
    let growth = child_rss_growth(TEST);
    // Kept per target, 15,000 more would be about 50 MiB.
    assert!(growth < 20 * 1024, "{growth} KiB kept after 15,000 targets");
}

// ---------------------------------------------------------------------------------------------
// Numeric configuration values at their limits
// ---------------------------------------------------------------------------------------------

/// `backup_count` is any 32-bit count: a huge one rotates as promptly as a small one (what is
/// shifted is what exists, not every number up to the count), and keeps every backup.
#[test]
fn a_huge_backup_count_rotates_promptly_and_keeps_every_file() {
    for backup_count in [4_294_967_295u64, 1_000_000] {
        let dir = common::temp_dir(&format!("r6-huge-backups-{backup_count}"));
        let path = dir.join("app.log");
        let doc = format!(
            r#"{{"loggers": [{{"name": "root", "handlers": [{{"type": "rotating_file",
                "params": {{"filename": "{}", "max_bytes": 1, "backup_count": {backup_count}}},
                "renderer": {{"type": "file_plain", "params": {{"fmt": "%(event)s"}}}}}}]}}]}}"#,
            path.display()
        );
        let s = within(20, "huge backup_count", move || {
            let k = Kolog::from_json_str(&doc).unwrap();
            let log = k.logger("root").unwrap();
            for i in 0..4 {
                kolog::log!(log, kolog::Level::Info, "r", i);
                k.flush();
            }
            k.shutdown().unwrap()
        });
        assert_eq!((s.enqueued, s.written, s.failed), (4, 4, 0), "{s:?}");
        let files = common::files(&dir);
        let expected: std::collections::BTreeMap<String, String> = [
            ("app.log", "r i=3\n"),
            ("app.log.1", "r i=2\n"),
            ("app.log.2", "r i=1\n"),
            ("app.log.3", "r i=0\n"),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_owned(), v.to_owned()))
        .collect();
        assert_eq!(files, expected);
    }
}

fn threads_named(name: &str) -> usize {
    std::fs::read_dir("/proc/self/task")
        .unwrap()
        .filter(|t| {
            let comm = t.as_ref().unwrap().path().join("comm");
            std::fs::read_to_string(comm).is_ok_and(|c| c.trim_end() == name)
        })
        .count()
}

/// One queue manager, a configuration loaded again and again (the two-step form's reload):
/// the handlers of a factory whose loggers are all gone are closed, with their I/O threads
/// and files, instead of staying on the drainer for the life of the queue manager.
#[test]
fn handlers_of_dropped_factories_are_closed() {
    const TEST: &str = "handlers_of_dropped_factories_are_closed";
    if child_case().as_deref() == Some(TEST) {
        let dir = common::temp_dir("r6-reload");
        let qm = kolog::QueueManager::start(kolog::QueueConfig::default()).unwrap();
        let mut paths = Vec::new();
        for i in 0..40 {
            let path = dir.join(format!("app{i}.log"));
            let factory = kolog::LoggerFactory::from_json_str(
                &format!(
                    r#"{{"loggers": [{{"name": "app", "handlers": [{{"type": "file", "params": {{"filename": "{}"}},
                        "renderer": {{"type": "file_plain", "params": {{"fmt": "%(event)s"}}}}}}]}}]}}"#,
                    path.display()
                ),
                &qm,
            )
            .unwrap();
            let log = factory.get_logger("app").unwrap();
            info!(log, "line", i);
            paths.push(path);
        }
        qm.flush();
        qm.flush();
        let io_threads = threads_named("kolog-io");
        let fds = std::fs::read_dir("/proc/self/fd").unwrap().count();
        let s = qm.shutdown().unwrap();
        assert_eq!((s.enqueued, s.written, s.failed), (40, 40, 0), "{s:?}");
        for (i, p) in paths.iter().enumerate() {
            assert_eq!(std::fs::read_to_string(p).unwrap(), format!("line i={i}\n"));
        }
        println!("IO_THREADS={io_threads} FDS={fds}");
        assert!(
            io_threads <= 1,
            "{io_threads} I/O threads for 40 dropped factories"
        );
        assert!(fds < 30, "{fds} open descriptors");
        return;
    }
    run_child(TEST, 60);
}

/// `log::logger().flush()` (what a `log` user calls before exiting) waits for the records
/// logged through the bridge, as `Kolog::flush` does.
#[cfg(feature = "log")]
#[test]
fn the_log_bridges_flush_waits_for_what_was_logged() {
    const TEST: &str = "the_log_bridges_flush_waits_for_what_was_logged";
    if child_case().as_deref() == Some(TEST) {
        let gate = Gate::new();
        gate.register("r6_log_flush_gate");
        let dir = common::temp_dir("r6-log-flush");
        let path = dir.join("app.log");
        let k = Kolog::from_json_str(&format!(
            r#"{{"loggers": [{{"name": "root", "handlers": [{{"type": "file", "params": {{"filename": "{}"}},
                "renderer": {{"type": "file_plain", "params": {{"fmt": "%(event)s"}}}},
                "processors": [{{"type": "r6_log_flush_gate"}}]}}]}}]}}"#,
            path.display()
        ))
        .unwrap();
        kolog::bridge::log::init(&k).unwrap();
        log::info!("gate");
        gate.wait_entered();
        for i in 0..100 {
            log::info!("r{i}");
        }
        // The drainer is held: the flush must wait until it is let go.
        let opener = std::thread::spawn({
            let gate = gate.clone();
            move || {
                std::thread::sleep(std::time::Duration::from_millis(200));
                gate.open();
            }
        });
        log::logger().flush();
        let lines = std::fs::read_to_string(&path)
            .unwrap_or_default()
            .lines()
            .count();
        opener.join().unwrap();
        assert_eq!(lines, 101);
        return;
    }
    run_child(TEST, 60);
}

/// A `stream` handler whose stdout is a pipe that stops being read (a stalled log collector):
/// once the pipe's buffer is full the write waits, on the handler's I/O thread, and
/// `shutdown()` still returns once `drain_timeout` has run out, with every record accounted
/// for (the unwritten ones in `failed`). Run with I/O threads whatever `KOLOG_IO_THREAD` says
/// (with writes on the drainer thread, the drainer itself waits; see README).
#[test]
fn shutdown_returns_within_drain_timeout_when_stdout_stops_being_read() {
    const TEST: &str = "shutdown_returns_within_drain_timeout_when_stdout_stops_being_read";
    if child_case().as_deref() == Some(TEST) {
        // stdout becomes a pipe nobody reads; the test harness's own output goes to a copy.
        let mut fds = [0; 2];
        // SAFETY: plain descriptor calls on descriptors this process owns.
        let saved = unsafe {
            let saved = libc::dup(1);
            assert_eq!(libc::pipe(fds.as_mut_ptr()), 0);
            libc::dup2(fds[1], 1);
            libc::close(fds[1]);
            saved
        };
        let k = Kolog::from_json_str(
            r#"{"queue": {"drain_timeout": 0.3}, "loggers": [{"name": "root",
                "handlers": [{"type": "stream", "renderer": {"type": "stream_plain"}}]}]}"#,
        )
        .unwrap();
        let log = k.logger("root").unwrap();
        let pad = "p".repeat(200);
        for i in 0..5_000u64 {
            info!(log, "r", i, pad = pad.as_str());
        }
        let r = k.shutdown().unwrap();
        // Closing the reading end ends the write still waiting (EPIPE), which releases the
        // stdout lock the harness needs to print its result.
        // SAFETY: as above.
        unsafe {
            libc::close(fds[0]);
            libc::dup2(saved, 1);
        }
        eprintln!(
            "REPORT enqueued={} accounted={} failed_some={} timed_out={}",
            r.enqueued,
            r.written + r.failed + r.dropped,
            r.failed > 0,
            r.timed_out
        );
        return;
    }
    // The write waits on the stream handler's I/O thread, which the drainer gives up.
    let out = run_child_with_io_threads(TEST, 30);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("REPORT enqueued=5000 accounted=5000 failed_some=true timed_out=true"),
        "{stderr}"
    );
}
