//! The loggers under comparison, behind one trait so the measuring loops are the same
//! monomorphised code for each of them (no dynamic dispatch around the timed call).

pub mod baseline;
pub mod ftlog;
pub mod kolog;
pub mod slog;
pub mod spdlog;
pub mod tracing;

use std::path::Path;

/// The record every peer logs: message "request handled", `user_id` (u64, the call's index),
/// `ip` (&str), `latency_ms` (f64).
pub const IP: &str = "192.168.1.1";
/// `latency_ms` of every record.
pub const LATENCY_MS: f64 = 0.25;

/// kolog's handler for the run.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum KologHandler {
    /// JSON lines to the file.
    File,
    /// Rendered and discarded; written records are counted by kolog's stats.
    Null,
}

/// Settings a peer may need at start.
#[derive(Debug, Clone, Copy)]
pub struct Options {
    /// kolog's handler.
    pub kolog_handler: KologHandler,
}

/// One logger, set up to write JSON lines (or its closest format) to `file`.
pub trait Peer: Sync + Sized {
    /// Sets the logger up; records go to `file`.
    fn start(file: &Path, options: &Options) -> Self;
    /// Logs the record once, with `user_id = i`.
    fn log(&self, i: u64);
    /// Flushes and tears down until every record is on disk. Returns the number of records
    /// written when the peer counts them itself (kolog's null handler); `None` means "count the
    /// lines of the file".
    fn finish(self) -> Option<u64>;
}

/// Every peer's name, in table order.
pub const NAMES: [&str; 6] = ["kolog", "tracing", "slog", "spdlog", "ftlog", "baseline"];

/// What each peer writes, for the table's notes.
pub fn describe(name: &str) -> &'static str {
    match name {
        "kolog" => "kolog `info!`, Block policy, `file` handler + `file_json` renderer (or `null`)",
        "tracing" => {
            "tracing + tracing-subscriber `fmt().json()` + tracing-appender `non_blocking` \
             (lossy(false)) over `rolling::never`"
        }
        "slog" => "slog + slog-json (default keys) + slog-async (OverflowStrategy::Block) over BufWriter<File>",
        "spdlog" => "spdlog-rs `AsyncPoolSink` (OverflowPolicy::Block) over `FileSink` with `JsonFormatter` (kv)",
        "ftlog" => {
            "ftlog (bounded 100k, block when full) to `FileAppender`; no JSON: default text \
             prefix + a JSON body formatted by `log::info!` on the caller"
        }
        "baseline" => "serde_json::to_writer into Mutex<BufWriter<File>> on the caller's thread",
        _ => "",
    }
}
