//! kolog: Block policy, one `root` logger with a `file` (or `null`) handler and `file_json`.

use std::hint::black_box;
use std::path::Path;
use std::time::Duration;

use kolog::config::{
    FileParams, HandlerConfig, HandlerKind, LoggerConfig, RendererConfig, RendererKind,
};
use kolog::{BackpressurePolicy, Kolog, Level, Logger, LoggingSystemConfig, QueueConfig};

use super::{KologHandler, Options, Peer, IP, LATENCY_MS};

pub struct KologPeer {
    kolog: Kolog,
    log: Logger,
    handler: KologHandler,
}

impl Peer for KologPeer {
    fn start(file: &Path, options: &Options) -> KologPeer {
        let kind = match options.kolog_handler {
            KologHandler::File => HandlerKind::File(FileParams {
                filename: file.to_path_buf(),
                mode: "w".into(),
                encoding: "utf-8".into(),
                override_existing: true,
            }),
            KologHandler::Null => HandlerKind::Null,
        };
        let config = LoggingSystemConfig {
            loggers: vec![LoggerConfig {
                name: "root".into(),
                level: Some(Level::Info),
                handlers: vec![HandlerConfig {
                    kind,
                    renderer: RendererConfig::new(RendererKind::FileJson),
                    processors: vec![],
                }],
                context: Default::default(),
            }],
            default_level: Level::Info,
            queue: QueueConfig {
                backpressure_policy: BackpressurePolicy::Block,
                drain_timeout: Duration::from_secs(120),
                ..QueueConfig::default()
            },
        };
        let kolog = Kolog::from_config(config).expect("kolog setup");
        let log = kolog.logger("bench").expect("kolog logger");
        KologPeer {
            kolog,
            log,
            handler: options.kolog_handler,
        }
    }

    #[inline(always)]
    fn log(&self, i: u64) {
        kolog::info!(
            self.log,
            "request handled",
            user_id = black_box(i),
            ip = black_box(IP),
            latency_ms = black_box(LATENCY_MS)
        );
    }

    fn finish(self) -> Option<u64> {
        self.kolog.flush();
        let report = self.kolog.shutdown().expect("kolog shutdown");
        if report.dropped + report.failed != 0 {
            eprintln!("kolog: {report:?}");
        }
        match self.handler {
            KologHandler::Null => Some(report.written),
            KologHandler::File => None,
        }
    }
}
