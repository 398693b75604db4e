//! The parent: runs each peer and mode in a child process of this binary, collects the
//! `RESULT` lines and prints the Markdown tables.

use std::process::Command;

use crate::measure::{Measured, Percentiles};
use crate::peers::{self, KologHandler};
use crate::Args;

/// One table row: a peer in one mode (latency, or throughput with P producers).
struct Row {
    peer: String,
    /// 0 for latency, else the producer count.
    producers: u64,
    /// Latency: the one child's result. Throughput: one per run.
    runs: Vec<Measured>,
    error: Option<String>,
}

impl Row {
    fn mode(&self) -> String {
        match self.producers {
            0 => "latency".into(),
            p => format!("throughput {p}p"),
        }
    }

    fn lost(&self) -> u64 {
        self.runs
            .iter()
            .map(|m| m.expected.saturating_sub(m.written))
            .max()
            .unwrap_or(0)
    }

    fn call(&self) -> Option<Percentiles> {
        self.runs.first().and_then(|m| m.call)
    }

    fn empty(&self) -> Option<Percentiles> {
        self.runs.first().and_then(|m| m.empty)
    }

    fn stamp(&self) -> Option<Percentiles> {
        self.runs.first().and_then(|m| m.stamp)
    }

    /// Median, min and max records/s over the runs.
    fn rates(&self) -> Option<(f64, f64, f64)> {
        let mut r: Vec<f64> = self.runs.iter().filter_map(|m| m.records_per_s).collect();
        if r.is_empty() {
            return None;
        }
        r.sort_by(f64::total_cmp);
        Some((median_sorted(&r), r[0], r[r.len() - 1]))
    }

    /// The number a noise table compares across suites: p50 (latency) or median records/s.
    fn headline(&self) -> Option<f64> {
        match self.producers {
            0 => self.call().map(|c| c.p50),
            _ => self.rates().map(|r| r.0),
        }
    }
}

fn median_sorted(v: &[f64]) -> f64 {
    let n = v.len();
    if n % 2 == 1 {
        v[n / 2]
    } else {
        (v[n / 2 - 1] + v[n / 2]) / 2.0
    }
}

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(f64::total_cmp);
    median_sorted(&v)
}

/// Runs one child and parses its `RESULT` line; its stderr is passed on.
fn spawn(args: &Args, peer: &str, mode: &str, producers: u64) -> Result<Measured, String> {
    let exe = std::env::current_exe().map_err(|e| e.to_string())?;
    let handler = match args.kolog_handler {
        KologHandler::File => "file",
        KologHandler::Null => "null",
    };
    let mut command = Command::new(exe);
    if args.keep {
        command.arg("--keep");
    }
    let out = command
        .args(["--peer", peer, "--mode", mode])
        .args(["--producers", &producers.max(1).to_string()])
        .args(["--records", &args.records.to_string()])
        .args(["--calls", &args.calls.to_string()])
        .args(["--kolog-handler", handler])
        .arg("--dir")
        .arg(&args.dir)
        .output()
        .map_err(|e| format!("spawn: {e}"))?;
    let stderr = String::from_utf8_lossy(&out.stderr);
    for line in stderr.lines() {
        eprintln!("  [{peer}] {line}");
    }
    let stdout = String::from_utf8_lossy(&out.stdout);
    match stdout.lines().find_map(|l| l.strip_prefix("RESULT ")) {
        Some(json) if out.status.success() => serde_json::from_str(json).map_err(|e| e.to_string()),
        _ => Err(format!(
            "{}: {}",
            out.status,
            stderr.lines().last().unwrap_or("no result")
        )),
    }
}

fn push(row: &mut Row, result: Result<Measured, String>) {
    match result {
        Ok(m) => row.runs.push(m),
        Err(e) => row.error = Some(e),
    }
}

/// Runs every selected peer and mode once (throughput `runs` times, interleaved by peer so
/// drift spreads over all of them).
fn run_suite(args: &Args) -> Vec<Row> {
    let mut rows = Vec::new();
    if args.modes.iter().any(|m| m == "latency") {
        for peer in &args.peers {
            eprintln!("latency: {peer}");
            let mut row = Row {
                peer: peer.clone(),
                producers: 0,
                runs: vec![],
                error: None,
            };
            push(&mut row, spawn(args, peer, "latency", 1));
            rows.push(row);
        }
    }
    if args.modes.iter().any(|m| m == "throughput") {
        let first = rows.len();
        for &p in &args.producers {
            for peer in &args.peers {
                rows.push(Row {
                    peer: peer.clone(),
                    producers: p,
                    runs: vec![],
                    error: None,
                });
            }
        }
        for run in 0..args.runs {
            for row in rows[first..].iter_mut() {
                if row.error.is_some() {
                    continue;
                }
                let result = spawn(args, &row.peer, "throughput", row.producers);
                match &result {
                    Ok(m) => eprintln!(
                        "throughput {}p run {}/{}: {} {:.2} M/s",
                        row.producers,
                        run + 1,
                        args.runs,
                        row.peer,
                        m.records_per_s.unwrap_or(0.0) / 1e6
                    ),
                    Err(e) => eprintln!("throughput: {} failed: {e}", row.peer),
                }
                push(row, result);
            }
        }
    }
    rows
}

fn ns(v: f64) -> String {
    if v >= 100.0 {
        format!("{v:.0}")
    } else {
        format!("{v:.1}")
    }
}

fn rate(v: f64) -> String {
    format!("{:.2} M", v / 1e6)
}

fn kolog_row(rows: &[Row], producers: u64) -> Option<&Row> {
    rows.iter()
        .find(|r| r.peer == "kolog" && r.producers == producers && r.error.is_none())
}

fn print_table(args: &Args, rows: &[Row]) {
    println!(
        "| peer | mode | p50 ns | p99 ns | p99.9 ns | p50 above empty ns | records/s median (min–max of {}) | vs kolog | lost |",
        args.runs
    );
    println!("|---|---|---:|---:|---:|---:|---:|---:|---:|");
    let dash = "–";
    for row in rows {
        if let Some(e) = &row.error {
            println!(
                "| {} | {} | failed: {} | | | | | | |",
                row.peer,
                row.mode(),
                e.replace('|', "/")
            );
            continue;
        }
        let kolog = kolog_row(rows, row.producers);
        let lost = row.lost().to_string();
        match row.producers {
            0 => {
                let (c, e) = (
                    row.call().unwrap_or_default(),
                    row.empty().unwrap_or_default(),
                );
                let ratio = kolog
                    .and_then(Row::call)
                    .map_or(dash.to_string(), |k| format!("{:.2}×", c.p50 / k.p50));
                println!(
                    "| {} | latency | {} | {} | {} | {} | {dash} | {ratio} | {lost} |",
                    row.peer,
                    ns(c.p50),
                    ns(c.p99),
                    ns(c.p999),
                    ns(c.p50 - e.p50)
                );
            }
            _ => {
                let (med, min, max) = row.rates().unwrap_or_default();
                let ratio = kolog
                    .and_then(Row::rates)
                    .map_or(dash.to_string(), |k| format!("{:.2}×", med / k.0));
                println!(
                    "| {} | {} | {dash} | {dash} | {dash} | {dash} | {} ({}–{}) | {ratio} | {lost} |",
                    row.peer,
                    row.mode(),
                    rate(med),
                    rate(min),
                    rate(max)
                );
            }
        }
    }
    // Reference calls timed like the peers: medians over the latency children.
    let reference = |pick: fn(&Row) -> Option<Percentiles>| {
        let all: Vec<Percentiles> = rows.iter().filter_map(pick).collect();
        (!all.is_empty()).then(|| Percentiles {
            p50: median(all.iter().map(|p| p.p50).collect()),
            p99: median(all.iter().map(|p| p.p99).collect()),
            p999: median(all.iter().map(|p| p.p999).collect()),
        })
    };
    let Some(empty) = reference(Row::empty) else {
        return;
    };
    let print = |label: &str, p: Percentiles| {
        println!(
            "| {label} | latency | {} | {} | {} | {} | {dash} | {dash} | {dash} |",
            ns(p.p50),
            ns(p.p99),
            ns(p.p999),
            ns(p.p50 - empty.p50)
        )
    };
    print(
        "empty call (`black_box`, median over the latency children)",
        empty,
    );
    if let Some(stamp) = reference(Row::stamp) {
        print(
            "timestamp-only call (`black_box(rdtsc)`, the floor for a logger that reads the TSC per record)",
            stamp,
        );
    }
}

fn print_noise(suites: &[Vec<Row>]) {
    println!(
        "\n### Noise over {} suites (min / median / max of each suite's headline)\n",
        suites.len()
    );
    println!("| peer | mode | metric | min | median | max |");
    println!("|---|---|---|---:|---:|---:|");
    for (i, row) in suites[0].iter().enumerate() {
        let v: Vec<f64> = suites.iter().filter_map(|s| s.get(i)?.headline()).collect();
        if v.is_empty() {
            continue;
        }
        let mut sorted = v.clone();
        sorted.sort_by(f64::total_cmp);
        let (lo, mid, hi) = (sorted[0], median_sorted(&sorted), sorted[sorted.len() - 1]);
        let (metric, f): (&str, fn(f64) -> String) = match row.producers {
            0 => ("p50 ns", ns),
            _ => ("records/s", rate),
        };
        println!(
            "| {} | {} | {metric} | {} | {} | {} |",
            row.peer,
            row.mode(),
            f(lo),
            f(mid),
            f(hi)
        );
    }
}

/// `/proc/loadavg`'s first three fields: other work on the machine skews every number.
fn load_average() -> String {
    std::fs::read_to_string("/proc/loadavg")
        .map(|s| s.split_whitespace().take(3).collect::<Vec<_>>().join(" "))
        .unwrap_or_else(|_| "unknown".into())
}

/// The parent's job: every suite, its table, the noise table, the notes.
pub fn run_all(args: &Args) -> Result<(), String> {
    std::fs::create_dir_all(&args.dir).map_err(|e| format!("{}: {e}", args.dir.display()))?;
    let command: Vec<String> = std::env::args().collect();
    let load_before = load_average();
    let mut suites = Vec::new();
    for i in 0..args.repeat {
        eprintln!("suite {}/{}", i + 1, args.repeat);
        suites.push(run_suite(args));
    }
    println!("Command: `{}`\n", command.join(" "));
    println!(
        "Files in `{}`; kolog handler `{}`; {} records per throughput run, {} timed calls per latency run (bursts of {}, 1 ms sleep, {} warm-up calls, {} rdtsc); {} CPUs.\n",
        args.dir.display(),
        match args.kolog_handler {
            KologHandler::File => "file",
            KologHandler::Null => "null",
        },
        args.records,
        args.calls,
        crate::measure::BURST,
        crate::measure::WARM_UP,
        if crate::clock::plain() {
            "plain"
        } else {
            "lfence-fenced"
        },
        std::thread::available_parallelism().map_or(0, |n| n.get()),
    );
    println!(
        "Load average (1/5/15 min) before: {load_before}; after: {}.\n",
        load_average()
    );
    for (i, rows) in suites.iter().enumerate() {
        if suites.len() > 1 {
            println!("### Suite {}\n", i + 1);
        }
        print_table(args, rows);
        println!();
    }
    if suites.len() > 1 {
        print_noise(&suites);
    }
    println!("\nvs kolog: latency = peer p50 ÷ kolog p50 (above 1: the peer is slower); throughput = peer records/s ÷ kolog records/s (below 1: the peer is slower). lost = records logged minus lines in the file (worst run).\n");
    for peer in &args.peers {
        println!("- {peer}: {}", peers::describe(peer));
    }
    Ok(())
}
