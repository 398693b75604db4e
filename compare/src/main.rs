//! `compare`: kolog against tracing, slog, spdlog-rs, ftlog and a synchronous serde_json
//! baseline, on one record shape, each peer in a child process of this binary.
//!
//! `compare --all` runs every peer in both modes and prints a Markdown table; a child is
//! `compare --peer NAME --mode latency|throughput ...` and prints one `RESULT {json}` line.

mod clock;
mod measure;
mod peers;
mod report;

use std::path::PathBuf;
use std::process::ExitCode;

use peers::{KologHandler, Options, Peer};

/// Command-line settings, shared by the parent and its children.
#[derive(Debug, Clone)]
pub struct Args {
    /// Child mode: the peer to measure.
    pub peer: Option<String>,
    /// Child mode: `latency` or `throughput`.
    pub mode: Option<String>,
    /// Parent: which peers (default all).
    pub peers: Vec<String>,
    /// Parent: which modes (default both).
    pub modes: Vec<String>,
    /// Producer-thread counts for throughput.
    pub producers: Vec<u64>,
    /// Records per throughput run.
    pub records: u64,
    /// Timed calls per latency run.
    pub calls: u64,
    /// Throughput runs per peer and producer count (the median is reported).
    pub runs: usize,
    /// How many times to run the whole suite (the noise table needs 2 or more).
    pub repeat: usize,
    /// Where log files go.
    pub dir: PathBuf,
    /// kolog's sink.
    pub kolog_handler: KologHandler,
    /// Keep the log files (to inspect what each peer wrote).
    pub keep: bool,
}

const USAGE: &str = "\
usage: compare --all [--dir DIR] [--kolog-handler file|null] [--records N] [--calls N]
               [--runs N] [--repeat N] [--peers a,b] [--modes latency,throughput]
               [--producers 1,2] [--keep]
       compare --peer NAME --mode latency|throughput [--producers P] [...]
peers: kolog tracing slog spdlog ftlog baseline";

fn list(v: &str) -> Vec<String> {
    v.split(',')
        .filter(|s| !s.is_empty())
        .map(str::to_owned)
        .collect()
}

fn parse(argv: &[String]) -> Result<Args, String> {
    let mut args = Args {
        peer: None,
        mode: None,
        peers: peers::NAMES.iter().map(|s| s.to_string()).collect(),
        modes: vec!["latency".into(), "throughput".into()],
        producers: vec![1, 2],
        records: 2_000_000,
        calls: 20_000,
        runs: 3,
        repeat: 1,
        dir: PathBuf::from("/dev/shm/kolog-compare"),
        kolog_handler: KologHandler::File,
        keep: false,
    };
    let mut all = false;
    let mut it = argv.iter();
    while let Some(flag) = it.next() {
        if flag == "--all" {
            all = true;
            continue;
        }
        if flag == "--keep" {
            args.keep = true;
            continue;
        }
        let value = it.next().ok_or_else(|| format!("{flag} needs a value"))?;
        let number = |v: &str| v.parse::<u64>().map_err(|e| format!("{flag} {v}: {e}"));
        match flag.as_str() {
            "--peer" => args.peer = Some(value.clone()),
            "--mode" => args.mode = Some(value.clone()),
            "--peers" => args.peers = list(value),
            "--modes" => args.modes = list(value),
            "--producers" => {
                args.producers = list(value)
                    .iter()
                    .map(|p| number(p))
                    .collect::<Result<_, _>>()?
            }
            "--records" => args.records = number(value)?,
            "--calls" => args.calls = number(value)?,
            "--runs" => args.runs = number(value)?.max(1) as usize,
            "--repeat" => args.repeat = number(value)?.max(1) as usize,
            "--dir" => args.dir = PathBuf::from(value),
            "--kolog-handler" => {
                args.kolog_handler = match value.as_str() {
                    "file" => KologHandler::File,
                    "null" => KologHandler::Null,
                    other => return Err(format!("--kolog-handler {other}: file or null")),
                }
            }
            other => return Err(format!("unknown flag {other}")),
        }
    }
    if let Some(p) = args
        .peers
        .iter()
        .find(|p| !peers::NAMES.contains(&p.as_str()))
    {
        return Err(format!("unknown peer {p}"));
    }
    if args.peer.is_none() && !all && argv.is_empty() {
        return Err("nothing to do".into());
    }
    Ok(args)
}

/// Runs one measurement of `P` in this process and prints its `RESULT` line.
fn run_child<P: Peer>(args: &Args, peer: &str, mode: &str) -> Result<(), String> {
    let options = Options {
        kolog_handler: args.kolog_handler,
    };
    std::fs::create_dir_all(&args.dir).map_err(|e| format!("{}: {e}", args.dir.display()))?;
    let producers = args.producers.first().copied().unwrap_or(1).max(1);
    let file = args.dir.join(format!(
        "{peer}-{mode}-{producers}-{}.log",
        std::process::id()
    ));
    let _ = std::fs::remove_file(&file);
    let measured = match mode {
        "latency" => measure::latency::<P>(&file, &options, args.calls, args.keep),
        "throughput" => {
            measure::throughput::<P>(&file, &options, producers, args.records, args.keep)
        }
        other => return Err(format!("unknown mode {other}")),
    };
    println!(
        "RESULT {}",
        serde_json::to_string(&measured).map_err(|e| e.to_string())?
    );
    Ok(())
}

fn child(args: &Args, peer: &str, mode: &str) -> Result<(), String> {
    match peer {
        "kolog" => run_child::<peers::kolog::KologPeer>(args, peer, mode),
        "tracing" => run_child::<peers::tracing::TracingPeer>(args, peer, mode),
        "slog" => run_child::<peers::slog::SlogPeer>(args, peer, mode),
        "spdlog" => run_child::<peers::spdlog::SpdlogPeer>(args, peer, mode),
        "ftlog" => run_child::<peers::ftlog::FtlogPeer>(args, peer, mode),
        "baseline" => run_child::<peers::baseline::BaselinePeer>(args, peer, mode),
        other => Err(format!("unknown peer {other}")),
    }
}

fn main() -> ExitCode {
    let argv: Vec<String> = std::env::args().skip(1).collect();
    let args = match parse(&argv) {
        Ok(args) => args,
        Err(e) => {
            eprintln!("compare: {e}\n{USAGE}");
            return ExitCode::from(2);
        }
    };
    let result = match (&args.peer, &args.mode) {
        (Some(peer), Some(mode)) => child(&args, peer, mode),
        (Some(_), None) | (None, Some(_)) => Err("--peer and --mode go together".into()),
        (None, None) => report::run_all(&args),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("compare: {e}");
            ExitCode::FAILURE
        }
    }
}
