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
    let doc = common::root_json_file(&path);
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
    let owned = String::from("ow ned");
    log::info!(
        target: "types",
        small = 5u128, big = u128::MAX, neg = -3i64, negbig = i128::MIN, c = 'z',
        f = 2.5f64, b = false, owned = owned.as_str(), none:? = None::<u8>;
        "types"
    );
    kolog.shutdown().unwrap();

    let got = common::json_lines(&path);
    assert_eq!(got.len() as u64, THREADS * PER_THREAD + 3);
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
