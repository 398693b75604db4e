//! The `log` bridge under load: many threads and more targets than a thread caches, values
//! the record only lends as `Display`/`Debug`, and a record logged from inside the formatting
//! of another.
#![cfg(feature = "log")]

mod common;

use std::collections::HashMap;
use std::fmt;

/// Logs a record of its own while being formatted.
struct Nested(u64);

impl fmt::Display for Nested {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        log::warn!(target: "nested", inner = self.0; "formatted inside");
        write!(f, "outer-{}", self.0)
    }
}

#[test]
fn log_bridge_keeps_every_record_across_threads_targets_and_nesting() {
    let dir = common::temp_dir("log-bridge-threads");
    let path = dir.join("app.log");
    // Root, plus a logger with bound context whose keys collide with the records' (`a`).
    let doc = common::root_and_ctx_json_files(&path, &dir.join("ctx.log"));
    let kolog = kolog::Kolog::from_json_str(&doc).unwrap();
    kolog::bridge::log::init(&kolog).unwrap();
    const THREADS: u64 = 4;
    const PER_THREAD: u64 = 500;
    // More targets than a thread's cache holds, so entries are evicted and looked up again.
    let targets: Vec<String> = (0..24).map(|t| format!("svc{t}::part")).collect();
    std::thread::scope(|s| {
        for t in 0..THREADS {
            let targets = &targets;
            s.spawn(move || {
                for i in 0..PER_THREAD {
                    let target = targets[((t * 7 + i) % 24) as usize].as_str();
                    let addr = std::net::Ipv4Addr::new(10, 0, t as u8, (i % 250) as u8);
                    log::info!(
                        target: target,
                        thread = t, i = i, addr:% = addr, list:? = [t, i], name = "x y";
                        "record {} of thread {}", i, t
                    );
                }
            });
        }
    });
    log::info!(target: "outer", value:% = Nested(5); "formatting logs");
    // A statement with a static message, location and keys becomes a kolog callsite; one with
    // a formatted message stays a dynamic record. Both must render the same.
    for target in ["same", "ctx"] {
        for _ in 0..3 {
            let addr = std::net::Ipv4Addr::LOCALHOST;
            log::info!(target: target, a = 1u64, s = "x y", f = 0.5, addr:% = addr; "same message");
            log::info!(target: target, a = 1u64, s = "x y", f = 0.5, addr:% = addr; "same {}", "message");
        }
    }
    // Repeated keys stay dynamic (merged to the last value).
    log::info!(target: "same", k = 1u64, k = 2u64; "repeated");
    let owned = String::from("ow ned");
    log::info!(
        target: "types",
        small = 5u128, big = u128::MAX, neg = -3i64, negbig = i128::MIN, c = 'z',
        f = 2.5f64, b = false, owned = owned.as_str(), none:? = None::<u8>;
        "types"
    );
    kolog.shutdown().unwrap();

    let got = common::json_lines(&path);
    assert_eq!(got.len() as u64, THREADS * PER_THREAD + 3 + 6 + 1);
    // Compared as text, timestamps cut off: same keys in the same order, same values.
    let untimed = |line: &str| line[line.find(",\"level\"").unwrap()..].to_owned();
    let raw = std::fs::read_to_string(&path).unwrap();
    let same: Vec<String> = raw
        .lines()
        .filter(|l| l.contains("\"logger\":\"same\",\"event\":\"same message\""))
        .map(untimed)
        .collect();
    assert_eq!(same.len(), 6);
    assert!(same.iter().all(|r| *r == same[0]), "{same:#?}");
    assert_eq!(
        same[0],
        r#","level":"INFO","logger":"same","event":"same message","a":1,"s":"x y","f":0.5,"addr":"127.0.0.1"}"#
    );
    let repeated = got.iter().find(|r| r["event"] == "repeated").unwrap();
    assert_eq!(repeated["k"], 2);
    let ctx: Vec<String> = std::fs::read_to_string(dir.join("ctx.log"))
        .unwrap()
        .lines()
        .map(untimed)
        .collect();
    assert_eq!(ctx.len(), 6);
    assert!(ctx.iter().all(|r| *r == ctx[0]), "{ctx:#?}");
    // The record's `a` replaces the bound one in place.
    assert_eq!(
        ctx[0],
        r#","level":"INFO","logger":"ctx","event":"same message","a":1,"env":"prod","s":"x y","f":0.5,"addr":"127.0.0.1"}"#
    );
    let types = got
        .iter()
        .find(|r| r["logger"] == "types")
        .expect("types record");
    assert_eq!(types["small"], 5);
    assert_eq!(types["big"], u128::MAX.to_string());
    assert_eq!(types["neg"], -3);
    assert_eq!(types["negbig"], i128::MIN.to_string());
    assert_eq!(types["c"], "z");
    assert_eq!(types["f"], 2.5);
    assert_eq!(types["b"], false);
    assert_eq!(types["owned"], "ow ned");
    assert_eq!(types["none"], "None");
    let mut per_target: HashMap<String, u64> = HashMap::new();
    let mut seen = vec![vec![false; PER_THREAD as usize]; THREADS as usize];
    for r in got.iter().filter(|r| r.get("thread").is_some()) {
        let t = r["thread"].as_u64().unwrap();
        let i = r["i"].as_u64().unwrap();
        assert!(!seen[t as usize][i as usize], "duplicate {t}/{i}");
        seen[t as usize][i as usize] = true;
        let target = format!("svc{}.part", (t * 7 + i) % 24);
        assert_eq!(r["logger"], target.as_str());
        assert_eq!(r["event"], format!("record {i} of thread {t}"));
        assert_eq!(r["addr"], format!("10.0.{t}.{}", i % 250));
        assert_eq!(r["list"], format!("[{t}, {i}]"));
        assert_eq!(r["name"], "x y");
        *per_target.entry(target).or_default() += 1;
    }
    assert!(seen.iter().flatten().all(|s| *s), "a record is missing");
    assert_eq!(per_target.len(), 24);
    assert_eq!(per_target.values().sum::<u64>(), THREADS * PER_THREAD);
    // The record logged while another was being formatted, and that other one.
    let inner = got
        .iter()
        .find(|r| r["logger"] == "nested")
        .expect("nested record");
    assert_eq!(inner["event"], "formatted inside");
    assert_eq!(inner["inner"], 5);
    let outer = got
        .iter()
        .find(|r| r["logger"] == "outer")
        .expect("outer record");
    assert_eq!(outer["value"], "outer-5");
    assert_eq!(outer["event"], "formatting logs");
    let _ = std::fs::remove_dir_all(dir);
}
