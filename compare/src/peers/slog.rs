//! slog + slog-json (ts, level, msg, then the fields) + slog-async with `OverflowStrategy::Block`.

use std::fs::File;
use std::hint::black_box;
use std::io::BufWriter;
use std::path::Path;

use slog::Drain;
use slog_async::{AsyncGuard, OverflowStrategy};

use super::{Options, Peer, IP, LATENCY_MS};

pub struct SlogPeer {
    log: slog::Logger,
    guard: AsyncGuard,
}

impl Peer for SlogPeer {
    fn start(file: &Path, _: &Options) -> SlogPeer {
        let file = BufWriter::new(File::create(file).expect("create log file"));
        let json = slog_json::Json::new(file).add_default_keys().build().fuse();
        let (drain, guard) = slog_async::Async::new(json)
            .overflow_strategy(OverflowStrategy::Block)
            .build_with_guard();
        let log = slog::Logger::root(drain.fuse(), slog::o!());
        SlogPeer { log, guard }
    }

    #[inline(always)]
    fn log(&self, i: u64) {
        slog::info!(self.log, "request handled";
            "user_id" => black_box(i),
            "ip" => black_box(IP),
            "latency_ms" => black_box(LATENCY_MS));
    }

    fn finish(self) -> Option<u64> {
        drop(self.log);
        // Sends Finish and joins the worker, which drops the drain and flushes the BufWriter.
        drop(self.guard);
        None
    }
}
