//! Helpers shared by the integration tests.
#![allow(dead_code)]

use kolog::config::{HandlerConfig, HandlerKind, LoggerConfig, RendererConfig, RendererKind};
use kolog::{Level, LoggingSystemConfig, QueueConfig};

/// A logger config with one handler.
pub fn logger(
    name: &str,
    level: Option<Level>,
    kind: HandlerKind,
    renderer: RendererKind,
) -> LoggerConfig {
    LoggerConfig {
        name: name.into(),
        level,
        handlers: vec![HandlerConfig {
            kind,
            renderer: RendererConfig::new(renderer),
            processors: vec![],
        }],
        context: Default::default(),
    }
}

/// A system with the given loggers and queue.
pub fn system(loggers: Vec<LoggerConfig>, queue: QueueConfig) -> LoggingSystemConfig {
    LoggingSystemConfig {
        loggers,
        default_level: Level::Info,
        queue,
    }
}

/// A unique temporary directory for one test.
pub fn temp_dir(test: &str) -> std::path::PathBuf {
    let dir = std::env::temp_dir().join(format!("kolog-test-{}-{}", test, std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}
