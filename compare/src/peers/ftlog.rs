//! ftlog: the `log` facade, a bounded channel that blocks when full, a `FileAppender`.
//! ftlog has no JSON output: each line is its default text prefix followed by a JSON body,
//! which `log::info!`'s format arguments build on the caller's thread.

use std::hint::black_box;
use std::path::Path;

use ftlog::appender::FileAppender;
use ftlog::LoggerGuard;

use super::{Options, Peer, IP, LATENCY_MS};

pub struct FtlogPeer {
    guard: LoggerGuard,
}

impl Peer for FtlogPeer {
    fn start(file: &Path, _: &Options) -> FtlogPeer {
        let _ = std::fs::remove_file(file); // FileAppender appends
        let guard = ftlog::builder()
            .max_log_level(log::LevelFilter::Info)
            .root(FileAppender::new(file))
            .bounded(100_000, true)
            .utc()
            .try_init()
            .expect("ftlog setup");
        FtlogPeer { guard }
    }

    #[inline(always)]
    fn log(&self, i: u64) {
        log::info!(
            "{{\"event\":\"request handled\",\"user_id\":{},\"ip\":\"{}\",\"latency_ms\":{}}}",
            black_box(i),
            black_box(IP),
            black_box(LATENCY_MS)
        );
    }

    fn finish(self) -> Option<u64> {
        // Sends Flush after every queued message and waits for the log thread's answer.
        drop(self.guard);
        None
    }
}
