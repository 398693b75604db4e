//! [`Kolog`]: one-call setup of a queue manager and a logger factory from one document.

use std::path::Path;

use crate::config::LoggingSystemConfig;
use crate::drain::queue_manager::{ShutdownReport, Stats};
use crate::{Error, Logger, LoggerFactory, QueueManager};

/// A running logging system: the queue manager and the loggers of one configuration.
///
/// ```
/// let kolog = kolog::Kolog::from_json_str(r#"{
///     "queue": {"max_queue_size": 1000, "backpressure_policy": "block"},
///     "loggers": [{"name": "root", "level": "INFO", "handlers": [{"type": "null"}]}]
/// }"#).unwrap();
/// let log = kolog.logger("app.db").unwrap(); // resolves to `root`
/// kolog::info!(log, "connected", pool = 4);
/// kolog.flush();
/// assert_eq!(kolog.stats().written, 1);
/// ```
pub struct Kolog {
    factory: LoggerFactory,
    queue_manager: QueueManager,
}

impl Kolog {
    /// Starts a system from a typed configuration.
    pub fn from_config(config: LoggingSystemConfig) -> Result<Kolog, Error> {
        let queue_manager = QueueManager::start(config.queue.clone())?;
        let factory = LoggerFactory::new(config, &queue_manager)?;
        Ok(Kolog {
            factory,
            queue_manager,
        })
    }

    /// Loads a JSON (`.json`) or YAML (`.yaml`, `.yml`) document and starts the system.
    pub fn from_path(path: impl AsRef<Path>) -> Result<Kolog, Error> {
        Kolog::from_config(LoggingSystemConfig::from_path(path)?)
    }

    /// Parses a JSON document and starts the system.
    pub fn from_json_str(json: &str) -> Result<Kolog, Error> {
        Kolog::from_config(LoggingSystemConfig::from_json_str(json)?)
    }

    /// Parses a YAML document and starts the system.
    pub fn from_yaml_str(yaml: &str) -> Result<Kolog, Error> {
        Kolog::from_config(LoggingSystemConfig::from_yaml_str(yaml)?)
    }

    /// The logger `name`, resolved through the hierarchy (see [`LoggerFactory::get_logger`]).
    pub fn logger(&self, name: &str) -> Result<Logger, Error> {
        self.factory.get_logger(name)
    }

    /// Returns once every record logged before the call is written.
    pub fn flush(&self) {
        self.queue_manager.flush();
    }

    /// Current counters.
    pub fn stats(&self) -> Stats {
        self.queue_manager.stats()
    }

    /// Drains and stops. Dropping a `Kolog` does the same.
    pub fn shutdown(&self) -> Result<ShutdownReport, Error> {
        self.queue_manager.shutdown()
    }

    /// The queue manager (for sinks and the two-step API).
    pub fn queue_manager(&self) -> &QueueManager {
        &self.queue_manager
    }

    /// The logger factory.
    pub fn factory(&self) -> &LoggerFactory {
        &self.factory
    }
}

impl Default for Kolog {
    /// The embedded default: one logger `root` at INFO, plain text to stderr, coloured when
    /// stderr is a terminal.
    fn default() -> Kolog {
        Kolog::from_config(LoggingSystemConfig::embedded_default())
            .expect("the embedded default configuration starts")
    }
}

impl std::fmt::Debug for Kolog {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Kolog")
            .field("factory", &self.factory)
            .field("queue_manager", &self.queue_manager)
            .finish()
    }
}
