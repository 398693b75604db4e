//! Adversarial round twelve F: custom processors that use kolog themselves (forwarding into
//! another system, flushing it, reading its sink), sinks, lifecycle guards, loggers and the
//! async front end at their edges, each asserting exact counts and bytes.

mod common;

use std::sync::{Arc, Mutex};

use common::{assert_balanced, within};
use kolog::process::Action;
use kolog::record::Value;
use kolog::{info, Kolog, Logger, Stats};

/// What `attempted` records of a system came to: every one enqueued or dropped.
fn attempted(s: &Stats) -> u64 {
    s.enqueued + s.dropped - s.dropped_oldest - s.dropped_timeout
}

/// The `i` field of a record (0 when absent).
fn field_i(ev: &kolog::EventDict<'_>) -> u64 {
    match ev.get("i") {
        Some(Value::U64(i)) => *i,
        _ => 0,
    }
}

/// A system with one `root` logger on a null handler, under `block`, whose handler runs the
/// processor `processor` (none if empty).
fn block_kolog(max_queue_size: usize, processor: &str) -> Kolog {
    let processors = if processor.is_empty() {
        String::new()
    } else {
        format!(r#", "processors": [{{"type": "{processor}"}}]"#)
    };
    Kolog::from_json_str(&format!(
        r#"{{"queue": {{"max_queue_size": {max_queue_size}, "backpressure_policy": "block"}},
            "loggers": [{{"name": "root", "handlers": [{{"type": "null", "renderer": {{"type": "file_json"}}{processors}}}]}}]}}"#
    ))
    .unwrap()
}

// ---------------------------------------------------------------------------------------------
// Processors that log into another system
// ---------------------------------------------------------------------------------------------

/// The audit system the forwarding processor logs into, and the audit system's stats as the
/// processor read them right after flushing it.
static AUDIT: Mutex<Option<(Arc<Kolog>, Logger)>> = Mutex::new(None);
static AUDIT_AFTER_FLUSH: Mutex<Option<Stats>> = Mutex::new(None);

/// A custom processor that forwards every record into a second system (an audit log) under
/// `block`, with a ring far smaller than the burst, then flushes the audit system after the
/// last one. The audit system's drainer is independent of the one the processor runs on, so
/// nothing stops the processor from waiting for room there, as any producer does under
/// `block`: nothing may be lost, and its `flush()` must wait for what was forwarded. They used
/// to be treated as if the processor waited for its own drainer: 932 of 1,000 forwarded
/// records were counted in `dropped_full`, and the flush returned at once.
#[test]
fn a_processor_forwarding_into_another_system_under_block_loses_nothing_and_flushes_it() {
    kolog::register_processor("r12f_forward", |_| {
        Ok(Box::new(|ev: &mut kolog::EventDict<'_>| {
            let (audit, log) = AUDIT.lock().unwrap().clone().unwrap();
            let i = field_i(ev);
            info!(
                log,
                "forwarded",
                i,
                pad = "................................................................"
            );
            if i == 999 {
                audit.flush();
                *AUDIT_AFTER_FLUSH.lock().unwrap() = Some(audit.stats());
            }
            Action::Keep
        }))
    });
    let audit = Arc::new(block_kolog(1, ""));
    *AUDIT.lock().unwrap() = Some((audit.clone(), audit.logger("audit").unwrap()));
    let main = block_kolog(10_000, "r12f_forward");
    let log = main.logger("app").unwrap();
    within(30, "forwarding into another system", move || {
        for i in 0..1000u64 {
            info!(log, "r", i);
        }
        main.flush();
        let s = main.stats();
        assert_eq!((s.enqueued, s.written, s.dropped), (1000, 1000, 0), "{s:?}");
    });
    let s = AUDIT_AFTER_FLUSH.lock().unwrap().take().unwrap();
    assert_eq!(
        (s.enqueued, s.written, s.dropped),
        (1000, 1000, 0),
        "the audit system as the processor saw it after its flush: {s:?}"
    );
    AUDIT.lock().unwrap().take();
    let report = Arc::try_unwrap(audit).unwrap().shutdown().unwrap();
    assert_eq!((report.written, report.dropped), (1000, 0), "{report:?}");
}

/// The two systems of [`two_systems_forwarding_into_each_other_neither_hang_nor_lose_count`],
/// and the barrier their processors meet at before each floods the other.
static PEERS: Mutex<Option<[Logger; 2]>> = Mutex::new(None);
static PEERS_MET: std::sync::Barrier = std::sync::Barrier::new(2);
const FLOOD: u64 = 200;

fn flood_peer(from: usize, ev: &kolog::EventDict<'_>) {
    // Only the record the test logs is forwarded (not those forwarded to this system).
    if ev.event != "original" {
        return;
    }
    let peer = PEERS.lock().unwrap().as_ref().unwrap()[1 - from].clone();
    // Both drainers are now in a processor: neither drains its own ring until it returns.
    PEERS_MET.wait();
    for i in 0..FLOOD {
        info!(
            peer,
            "forwarded",
            i,
            pad = "................................................................"
        );
    }
}

/// Two systems whose processors each flood the other with records under `block`, with the
/// smallest rings, both at once: each drainer ends up waiting for room in the other's ring,
/// which the other cannot free while it waits for room in this one's. Neither may hang: a
/// processor that would wait for a drainer that is (directly or through others) waiting for
/// it gives up that record, counted in `dropped_full`, as one that logs into its own system's
/// full ring does. Every record is accounted for. (Without the cycle check this hangs; before
/// processors could wait for another system at all, every record past the first ring-full
/// was dropped, cycle or not.)
#[test]
fn two_systems_forwarding_into_each_other_neither_hang_nor_lose_count() {
    kolog::register_processor("r12f_peer_0", |_| {
        Ok(Box::new(|ev: &mut kolog::EventDict<'_>| {
            flood_peer(0, ev);
            Action::Keep
        }))
    });
    kolog::register_processor("r12f_peer_1", |_| {
        Ok(Box::new(|ev: &mut kolog::EventDict<'_>| {
            flood_peer(1, ev);
            Action::Keep
        }))
    });
    let systems = Arc::new([block_kolog(1, "r12f_peer_0"), block_kolog(1, "r12f_peer_1")]);
    *PEERS.lock().unwrap() = Some([
        systems[0].logger("peer0").unwrap(),
        systems[1].logger("peer1").unwrap(),
    ]);
    let loaded = systems.clone();
    within(60, "two systems flooding each other", move || {
        for k in loaded.iter() {
            info!(k.logger("app").unwrap(), "original");
        }
        // (Each system's flush returns once its own processor is done; the other's may
        // still be forwarding into it.)
        loaded[0].flush();
        loaded[1].flush();
        loaded[0].flush();
    });
    PEERS.lock().unwrap().take();
    let mut dropped = 0;
    for k in systems.iter() {
        let s = k.stats();
        assert_balanced(&s);
        // Its own record, and those the other forwarded.
        assert_eq!(attempted(&s), 1 + FLOOD, "{s:?}");
        assert_eq!(s.dropped, s.dropped_full, "{s:?}");
        assert_eq!(s.failed + s.filtered, 0, "{s:?}");
        dropped += s.dropped_full;
    }
    // Both drainers waited for each other: at least one gave up a record.
    assert!(dropped > 0);
}

/// The systems of [`two_systems_flushing_each_other_from_processors_do_not_hang`].
static FLUSHERS: Mutex<Option<[Arc<Kolog>; 2]>> = Mutex::new(None);
static FLUSHERS_MET: std::sync::Barrier = std::sync::Barrier::new(2);

fn flush_peer(from: usize, ev: &kolog::EventDict<'_>) {
    if ev.event != "flush the other" {
        return;
    }
    let peer = FLUSHERS.lock().unwrap().as_ref().unwrap()[1 - from].clone();
    FLUSHERS_MET.wait();
    peer.flush();
    // Reading a sink attached to the other system flushes it too.
    let sink = kolog::Sink::new();
    peer.queue_manager().add_sink("nobody", sink.clone());
    assert!(sink.is_empty());
}

/// Processors of two systems that flush each other at the same moment (each drainer waits for
/// the other's): neither waits for ever; the flushes return once the cycle is seen, and the
/// records are written.
#[test]
fn two_systems_flushing_each_other_from_processors_do_not_hang() {
    kolog::register_processor("r12f_flush_0", |_| {
        Ok(Box::new(|ev: &mut kolog::EventDict<'_>| {
            flush_peer(0, ev);
            Action::Keep
        }))
    });
    kolog::register_processor("r12f_flush_1", |_| {
        Ok(Box::new(|ev: &mut kolog::EventDict<'_>| {
            flush_peer(1, ev);
            Action::Keep
        }))
    });
    let systems = [
        Arc::new(block_kolog(1000, "r12f_flush_0")),
        Arc::new(block_kolog(1000, "r12f_flush_1")),
    ];
    *FLUSHERS.lock().unwrap() = Some(systems.clone());
    let loaded = systems.clone();
    within(60, "two systems flushing each other", move || {
        for k in loaded.iter() {
            info!(k.logger("app").unwrap(), "flush the other");
        }
        loaded[0].flush();
        loaded[1].flush();
    });
    FLUSHERS.lock().unwrap().take();
    for k in systems {
        let s = k.stats();
        assert_balanced(&s);
        assert_eq!((s.enqueued, s.written, s.dropped), (1, 1, 0), "{s:?}");
        Arc::try_unwrap(k).unwrap().shutdown().unwrap();
    }
}

// ---------------------------------------------------------------------------------------------
// Loggers with a huge bound context
// ---------------------------------------------------------------------------------------------

/// A logger whose bound context has 200,000 keys (from configuration, then one more bound with
/// `bind!`), logging on the direct path (plain values) and the event path (a `%` value): every
/// line has every key once, in order. The drainer used to look each context key up among those
/// already set (and the direct path to compare every pair of keys), quadratic in the context:
/// 2·10^10 string comparisons a record, hours for these few lines; linear now (a hang guard of
/// two minutes, against well under a second).
#[test]
fn a_logger_with_a_huge_bound_context_is_drained_in_linear_time() {
    const KEYS: usize = 200_000;
    let dir = common::temp_dir("r12f-huge-context");
    let path = dir.join("app.log");
    let context: serde_json::Map<String, serde_json::Value> =
        (0..KEYS).map(|i| (format!("k{i}"), i.into())).collect();
    let doc = serde_json::json!({
        "loggers": [{"name": "root", "context": context, "handlers": [{"type": "file",
            "params": {"filename": path.to_str().unwrap(), "mode": "w"},
            "renderer": {"type": "file_json"}}]}]
    });
    let k = Kolog::from_config(kolog::LoggingSystemConfig::from_json_value(&doc).unwrap()).unwrap();
    let log = k.logger("app").unwrap();
    let s = within(120, "a huge bound context", move || {
        let bound = kolog::bind!(log, extra = "bound", k7 = "rebound");
        for i in 0..3u64 {
            info!(bound, "direct", i);
            info!(bound, "event", i, shown = %i);
        }
        k.flush();
        k.stats()
    });
    assert_balanced(&s);
    assert_eq!((s.enqueued, s.written), (6, 6), "{s:?}");
    let text = std::fs::read_to_string(&path).unwrap();
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(lines.len(), 6);
    for (n, line) in lines.iter().enumerate() {
        let v: serde_json::Map<String, serde_json::Value> = serde_json::from_str(line).unwrap();
        let event = if n % 2 == 0 { "direct" } else { "event" };
        // timestamp, level, logger, event, the context, `extra`, `i` (and `shown`).
        assert_eq!(v.len(), 4 + KEYS + 2 + n % 2, "line {n}");
        assert_eq!(v["event"], event);
        assert_eq!(v["k0"], 0);
        assert_eq!(v["k7"], "rebound");
        assert_eq!(v[&format!("k{}", KEYS - 1)], KEYS as u64 - 1);
        assert_eq!(v["i"], (n / 2) as u64);
        // No key twice (serde_json keeps the last of repeated keys: count them in the text).
        assert_eq!(line.matches("\"k123456\":").count(), 1);
    }
    let _ = std::fs::remove_dir_all(&dir);
}
