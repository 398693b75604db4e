//! Logging from a tight loop, printing the measured per-call cost:
//! `cargo run --release --example hot_loop`.

use std::time::Instant;

use kolog::{info, Kolog};

fn main() -> Result<(), kolog::Error> {
    let kolog = Kolog::from_json_str(
        r#"{"loggers": [{"name": "root", "handlers": [{"type": "null", "renderer": {"type": "stream_json"}}]}]}"#,
    )?;
    let log = kolog.logger("hot")?;
    const BURST: u64 = 1_000;
    const BURSTS: u64 = 2_000;
    let mut per_call = Vec::with_capacity(BURSTS as usize);
    for b in 0..BURSTS {
        let start = Instant::now();
        for i in 0..BURST {
            info!(
                log,
                "request handled",
                user_id = b * BURST + i,
                ip = "192.168.1.1",
                latency_ms = 0.25
            );
        }
        per_call.push(start.elapsed().as_nanos() as f64 / BURST as f64);
        kolog.flush(); // drain between bursts, outside the timing
    }
    per_call.sort_by(f64::total_cmp);
    let p = |q: f64| per_call[((per_call.len() - 1) as f64 * q) as usize];
    println!(
        "info! per call over {} bursts of {BURST}: p50 {:.1} ns, p90 {:.1} ns, p99 {:.1} ns",
        BURSTS,
        p(0.5),
        p(0.9),
        p(0.99)
    );
    let report = kolog.shutdown()?;
    assert_eq!(report.written, BURST * BURSTS);
    Ok(())
}
