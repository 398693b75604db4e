//! Tracing events whose message repeats become kolog statements of their own (the fast path
//! and the drainer's direct path); they must render exactly as the dynamic records they would
//! otherwise be, and a callsite whose message is formatted must keep every message right.
#![cfg(feature = "tracing")]

mod common;

use tracing_subscriber::prelude::*;

const THREADS: u64 = 4;
const PER_THREAD: u64 = 300;

fn events(t: u64) {
    let addr = std::net::Ipv4Addr::LOCALHOST;
    for i in 0..PER_THREAD {
        // A literal message: interned from each thread's second event on.
        tracing::info!(target: "same", a = 1u64, s = "x y", f = 0.5, addr = %addr, "same message");
        // The same text, formatted: a different callsite; it repeats too, so it is
        // interned as well, and must render the same.
        tracing::info!(target: "same", a = 1u64, s = "x y", f = 0.5, addr = %addr, "same {}", "message");
        // Formatted, repeating twice, then changing: interned at first, then dynamic.
        tracing::info!(target: "counted", thread = t, i, "pair {}", i / 2);
        // A field that is recorded only when present.
        let maybe = (i % 3 == 0).then_some(i);
        tracing::warn!(target: "optional", maybe, t, "optional field");
        // Bound context of the logger collides with a field (`a`).
        tracing::info!(target: "ctx", a = 1u64, s = "x y", "same message");
    }
}

#[test]
fn repeated_tracing_events_render_like_dynamic_ones_and_keep_every_message() {
    let dir = common::temp_dir("tracing-statements");
    let path = dir.join("app.log");
    let doc = common::root_and_ctx_json_files(&path, &dir.join("ctx.log"));
    let kolog = kolog::Kolog::from_json_str(&doc).unwrap();
    let subscriber = tracing_subscriber::registry().with(kolog::bridge::tracing::layer(&kolog));
    let dispatch = tracing::Dispatch::new(subscriber);
    std::thread::scope(|s| {
        for t in 0..THREADS {
            let dispatch = dispatch.clone();
            s.spawn(move || tracing::dispatcher::with_default(&dispatch, || events(t)));
        }
    });
    kolog.shutdown().unwrap();

    let untimed = |line: &str| line[line.find(",\"level\"").unwrap()..].to_owned();
    let raw = std::fs::read_to_string(&path).unwrap();
    let lines: Vec<&str> = raw.lines().collect();
    assert_eq!(lines.len() as u64, THREADS * PER_THREAD * 4);

    let same: Vec<String> = lines
        .iter()
        .filter(|l| l.contains("\"logger\":\"same\""))
        .map(|l| untimed(l))
        .collect();
    assert_eq!(same.len() as u64, THREADS * PER_THREAD * 2);
    assert!(same.iter().all(|r| *r == same[0]), "{:#?}", &same[..4]);
    assert_eq!(
        same[0],
        r#","level":"INFO","logger":"same","event":"same message","a":1,"s":"x y","f":0.5,"addr":"127.0.0.1"}"#
    );

    let got = common::json_lines(&path);
    let mut seen = vec![vec![false; PER_THREAD as usize]; THREADS as usize];
    for r in got.iter().filter(|r| r["logger"] == "counted") {
        let (t, i) = (r["thread"].as_u64().unwrap(), r["i"].as_u64().unwrap());
        assert_eq!(r["event"], format!("pair {}", i / 2), "{r}");
        assert!(!std::mem::replace(&mut seen[t as usize][i as usize], true));
    }
    assert!(
        seen.iter().flatten().all(|s| *s),
        "a counted record is missing"
    );

    let optional: Vec<_> = got.iter().filter(|r| r["logger"] == "optional").collect();
    assert_eq!(optional.len() as u64, THREADS * PER_THREAD);
    let mut present = 0;
    for r in &optional {
        let keys: Vec<&str> = r.as_object().unwrap().keys().map(|k| k.as_str()).collect();
        match r.get("maybe") {
            Some(m) => {
                present += 1;
                assert_eq!(m.as_u64().unwrap() % 3, 0);
                assert_eq!(
                    keys,
                    ["timestamp", "level", "logger", "event", "maybe", "t"]
                );
            }
            None => assert_eq!(keys, ["timestamp", "level", "logger", "event", "t"]),
        }
        assert_eq!(r["event"], "optional field");
    }
    assert_eq!(present, THREADS * PER_THREAD.div_ceil(3));

    let ctx: Vec<String> = std::fs::read_to_string(dir.join("ctx.log"))
        .unwrap()
        .lines()
        .map(untimed)
        .collect();
    assert_eq!(ctx.len() as u64, THREADS * PER_THREAD);
    assert!(ctx.iter().all(|r| *r == ctx[0]), "{:#?}", &ctx[..2]);
    // The record's `a` replaces the bound one in place.
    assert_eq!(
        ctx[0],
        r#","level":"INFO","logger":"ctx","event":"same message","a":1,"env":"prod","s":"x y"}"#
    );
    let _ = std::fs::remove_dir_all(dir);
}
