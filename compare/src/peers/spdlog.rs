//! spdlog-rs: an `AsyncPoolSink` (OverflowPolicy::Block, its own one-thread pool) over a
//! `FileSink` with spdlog's `JsonFormatter`; the fields go in as structured `kv`.

use std::hint::black_box;
use std::path::Path;
use std::sync::Arc;

use spdlog::formatter::JsonFormatter;
use spdlog::sink::{AsyncPoolSink, FileSink, OverflowPolicy};
use spdlog::{Logger, ThreadPool};

use super::{Options, Peer, IP, LATENCY_MS};

pub struct SpdlogPeer {
    logger: Arc<Logger>,
    pool: Arc<ThreadPool>,
}

impl Peer for SpdlogPeer {
    fn start(file: &Path, _: &Options) -> SpdlogPeer {
        let file_sink = FileSink::builder()
            .path(file)
            .truncate(true)
            .formatter(JsonFormatter::new())
            .build_arc()
            .expect("spdlog file sink");
        let pool = ThreadPool::builder().build_arc().expect("spdlog pool");
        let sink = AsyncPoolSink::builder()
            .sink(file_sink)
            .overflow_policy(OverflowPolicy::Block)
            .thread_pool(Arc::clone(&pool))
            .build_arc()
            .expect("spdlog async sink");
        let logger = Logger::builder()
            .sink(sink)
            .build_arc()
            .expect("spdlog logger");
        SpdlogPeer { logger, pool }
    }

    #[inline(always)]
    fn log(&self, i: u64) {
        spdlog::info!(logger: self.logger, "request handled", kv: {
            user_id = black_box(i),
            ip = black_box(IP),
            latency_ms = black_box(LATENCY_MS)
        });
    }

    fn finish(self) -> Option<u64> {
        self.logger.flush();
        drop(self.logger);
        // The last reference to the pool: destroying it joins the worker after it has run
        // every queued task; the FileSink's BufWriter is flushed when its backend drops.
        drop(self.pool);
        None
    }
}
