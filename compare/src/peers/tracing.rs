//! tracing + tracing-subscriber's JSON formatter + tracing-appender's non-blocking writer
//! (lossy off, so a full buffer blocks the caller) over a never-rolling file appender.

use std::hint::black_box;
use std::path::Path;

use tracing_appender::non_blocking::{NonBlockingBuilder, WorkerGuard};

use super::{Options, Peer, IP, LATENCY_MS};

pub struct TracingPeer {
    guard: WorkerGuard,
}

impl Peer for TracingPeer {
    fn start(file: &Path, _: &Options) -> TracingPeer {
        let appender = tracing_appender::rolling::never(
            file.parent().expect("file in a directory"),
            file.file_name().expect("file name"),
        );
        let (writer, guard) = NonBlockingBuilder::default().lossy(false).finish(appender);
        tracing_subscriber::fmt()
            .json()
            .with_writer(writer)
            .with_max_level(tracing::Level::INFO)
            .init();
        TracingPeer { guard }
    }

    #[inline(always)]
    fn log(&self, i: u64) {
        tracing::info!(
            user_id = black_box(i),
            ip = black_box(IP),
            latency_ms = black_box(LATENCY_MS),
            "request handled"
        );
    }

    fn finish(self) -> Option<u64> {
        // The guard's drop waits (up to ~1 s) for the worker to write what is queued; the
        // line count catches anything left behind.
        drop(self.guard);
        None
    }
}
