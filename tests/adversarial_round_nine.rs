//! Adversarial round nine: what users of `tracing` and `slog` expect of the API (macro
//! argument evaluation, field names, two-step misuse) and hostile zones, with exact assertions.

mod common;
use kolog::{Kolog, Level, Sink};
use std::cell::Cell;
use std::future::Future;

fn sink_kolog(level: &str) -> (Kolog, Sink) {
    let k = Kolog::from_json_str(&format!(
        r#"{{"loggers": [{{"name": "root", "level": "{level}", "handlers": [{{"type": "null", "renderer": {{"type": "stream_json"}}}}]}}]}}"#
    ))
    .unwrap();
    let sink = Sink::new();
    k.queue_manager().add_sink("root", sink.clone());
    (k, sink)
}

/// Field values are evaluated exactly once, in order, when the level is enabled, and not at
/// all when it is disabled (sync and async, a level held in a variable); trailing commas,
/// match arms and closures work. A raw identifier names its field without the `r#`, as in
/// `tracing` (`r#type = 1` is the field `type`), in records and in `bind!`, whose repeated key
/// keeps its last value once.
#[test]
fn macro_fields_evaluate_once_only_when_enabled_and_raw_identifiers_lose_their_prefix() {
    let (k, sink) = sink_kolog("INFO");
    let log = k.logger("root").unwrap();
    let n = Cell::new(0u64);
    let bump = || {
        n.set(n.get() + 1);
        n.get()
    };
    kolog::info!(log, "a", x = bump(), y = %bump(), z = ?bump(),);
    kolog::debug!(log, "b", x = bump(), y = %bump(), z = ?bump());
    let lv = Level::Debug;
    kolog::log!(log, lv, "c", x = bump());
    let mut f = Box::pin(kolog::adebug!(log, "d", x = bump()));
    let waker = std::task::Waker::noop();
    assert!(f
        .as_mut()
        .poll(&mut std::task::Context::from_waker(waker))
        .is_ready());
    assert_eq!(n.get(), 3);
    let r#type = 5u64;
    kolog::info!(log, "raw", r#type = 1u64, r#match = %2u64);
    kolog::info!(log, "short", r#type);
    match Some(1) {
        Some(_) => kolog::info!(log, "arm"),
        None => kolog::info!(log, "none"),
    }
    let c = || kolog::info!(log, "closure", a = 1u64);
    c();
    let b = kolog::bind!(log, a = 1u64, a = 2u64, r#fn = 3u64);
    assert_eq!(
        b.context(),
        &[
            ("a".to_owned(), serde_json::json!(2)),
            ("fn".to_owned(), serde_json::json!(3))
        ]
    );
    kolog::info!(b, "bound");
    let events: Vec<String> = sink
        .events()
        .iter()
        .map(|e| e.split_once(r#","level""#).unwrap().1.to_owned())
        .collect();
    assert_eq!(
        events,
        [
            r#":"INFO","logger":"root","event":"a","x":1,"y":"2","z":"3"}"#,
            r#":"INFO","logger":"root","event":"raw","type":1,"match":"2"}"#,
            r#":"INFO","logger":"root","event":"short","type":5}"#,
            r#":"INFO","logger":"root","event":"arm"}"#,
            r#":"INFO","logger":"root","event":"closure","a":1}"#,
            r#":"INFO","logger":"root","event":"bound","a":2,"fn":3}"#,
        ]
    );
}
