//! [`LoggerFactory`]: compiles a [`LoggingSystemConfig`] into routes and handlers on a queue
//! manager, and hands out loggers by hierarchical name.

use std::collections::HashMap;
use std::sync::Arc;

use super::command::Command;
use super::handler::Handler;
use super::route::Route;
use super::shared::Shared;
use crate::config::LoggingSystemConfig;
use crate::process::Chain;
use crate::render::Renderer;
use crate::{write, Error, ErrorKind, Logger, QueueManager};

/// The name of kolog's own logger, which reports dropped records.
pub(crate) const INTERNAL_LOGGER: &str = "kolog";

#[derive(Clone)]
struct Configured {
    route: Arc<Route>,
    context: Vec<(String, serde_json::Value)>,
}

/// Builds loggers from a configuration, on a [`QueueManager`] (ko-log's `LoggerFactory`).
/// Cloning is cheap enough for setup code (it copies the name table, not the handlers).
#[derive(Clone)]
pub struct LoggerFactory {
    shared: Arc<Shared>,
    loggers: HashMap<String, Configured>,
    /// The length of the longest configured name: longer prefixes are not looked up.
    longest: usize,
    config: LoggingSystemConfig,
}

impl LoggerFactory {
    /// Compiles `config` (handlers, renderers, processor chains) and installs its handlers on
    /// the queue manager's drainer. A handler, renderer or processor chain that cannot be
    /// built is an error of kind [`ErrorKind::LoggerCreation`] naming the logger, with the
    /// failure (a `Handler`, `Processor` or `Configuration` error) as its `source()`. On a
    /// queue manager that was shut down it is `QUEUE::QueueManager::LIFECYCLE::WARNING`, and
    /// nothing is built: its handlers would never write, yet a `"w"` file would be emptied.
    pub fn new(
        config: LoggingSystemConfig,
        queue_manager: &QueueManager,
    ) -> Result<LoggerFactory, Error> {
        let shared = queue_manager.shared.clone();
        if shared.is_closed() {
            return Err(Error::new(
                ErrorKind::QueueManager,
                "QUEUE",
                "QueueManager",
                "LIFECYCLE",
                "cannot build loggers on a queue manager that is shut down",
            )
            .with_severity(crate::Severity::Warning));
        }
        let mut built = Vec::new();
        let mut owners = Vec::new();
        let mut routes = Vec::new();
        for lc in &config.loggers {
            let mut ids = Vec::new();
            for (i, hc) in lc.handlers.iter().enumerate() {
                let build = || -> Result<_, Error> {
                    let writer = write::build(&hc.kind)?;
                    let renderer = Renderer::build(&hc.renderer, writer.is_terminal())?;
                    Ok((writer, renderer, Chain::build(&hc.processors)?))
                };
                let (writer, renderer, chain) =
                    build().map_err(|e| creation_failed(&lc.name, e))?;
                ids.push(built.len());
                built.push((format!("`{}`[{i}]", lc.name), chain, renderer, writer));
                owners.push(lc.name.as_str());
            }
            routes.push((lc, ids));
        }
        // A rotating handler may not share its file with another handler of the document.
        write::check_shared_files(
            built
                .iter()
                .map(|(label, .., writer)| (label.as_str(), &**writer)),
        )
        .map_err(|(i, e)| creation_failed(owners[i], e))?;
        // Everything built: empty the "w" files now, once each, before any handler writes.
        write::truncate_at_start(
            built.iter_mut().map(|(.., writer)| writer),
            &mut shared.files.lock().unwrap_or_else(|e| e.into_inner()),
        );
        let handlers: Vec<_> = built
            .into_iter()
            .map(|(label, chain, renderer, writer)| {
                Handler::new(label, chain, renderer, writer, shared.deadline.clone())
            })
            .collect();
        let mut next = shared
            .next_handler
            .lock()
            .unwrap_or_else(|e| e.into_inner());
        let first = *next;
        let mut loggers = HashMap::new();
        for (lc, ids) in routes {
            let level = lc.level.unwrap_or(config.default_level);
            let ids = ids.into_iter().map(|i| i + first).collect();
            let route = Arc::new(Route::new(level, ids, Arc::downgrade(&shared)));
            let context = lc
                .context
                .iter()
                .map(|(k, v)| (k.clone(), v.clone()))
                .collect();
            loggers.insert(lc.name.clone(), Configured { route, context });
        }
        *next += handlers.len();
        shared
            .commands
            .push(Command::AddHandlers { first, handlers });
        drop(next);
        let longest = loggers.keys().map(String::len).max().unwrap_or(0);
        let factory = LoggerFactory {
            shared,
            loggers,
            longest,
            config,
        };
        if let Ok(internal) = factory.get_logger(INTERNAL_LOGGER) {
            factory
                .shared
                .commands
                .push(Command::SetInternalLogger(internal));
        }
        factory.shared.flush();
        Ok(factory)
    }

    /// Parses a JSON document (the `loggers`/`default_level` schema) and builds the factory.
    pub fn from_json_str(json: &str, queue_manager: &QueueManager) -> Result<LoggerFactory, Error> {
        LoggerFactory::new(LoggingSystemConfig::from_json_str(json)?, queue_manager)
    }

    /// Validates an already-parsed JSON value and builds the factory.
    pub fn from_json_value(
        value: &serde_json::Value,
        queue_manager: &QueueManager,
    ) -> Result<LoggerFactory, Error> {
        LoggerFactory::new(LoggingSystemConfig::from_json_value(value)?, queue_manager)
    }

    /// Waits until every record logged before the call is written (the queue manager's
    /// `flush()`), for the bridges, which hold a factory.
    #[cfg_attr(not(feature = "log"), allow(dead_code))]
    pub(crate) fn flush(&self) {
        self.shared.flush();
    }

    /// The configuration the factory was built from.
    pub fn config(&self) -> &LoggingSystemConfig {
        &self.config
    }

    /// The logger `name`: its own configuration if it has one, else the nearest configured
    /// ancestor's (`app` for `app.db`), else `root`'s; with none of those, an error of kind
    /// [`ErrorKind::Configuration`](crate::ErrorKind::Configuration).
    pub fn get_logger(&self, name: &str) -> Result<Logger, Error> {
        if name.is_empty() {
            return Err(Error::configuration(
                "LoggerFactory",
                "Logger name must not be empty",
            ));
        }
        // Walks up one segment at a time; only prefixes no longer than the longest configured
        // name are hashed, so a name with many segments costs one scan, not one hash of the
        // whole remaining prefix per segment.
        let mut candidate = name;
        let configured = loop {
            if candidate.len() <= self.longest {
                if let Some(c) = self.loggers.get(candidate) {
                    break c;
                }
            }
            match candidate.rfind('.') {
                Some(i) => candidate = &candidate[..i],
                None => match self.loggers.get("root") {
                    Some(c) => break c,
                    None => {
                        return Err(Error::configuration(
                            "LoggerFactory",
                            format!("Logger `{name}` not found"),
                        ))
                    }
                },
            }
        };
        Ok(Logger::new(
            name,
            configured.route.clone(),
            self.shared.clone(),
            configured.context.clone(),
        ))
    }
}

/// A logger's handler, renderer or processor chain could not be built: a logger-creation
/// error (ko-log's `AlLoggerCreationError`) with that failure as its source.
fn creation_failed(logger: &str, cause: Error) -> Error {
    Error::new(
        ErrorKind::LoggerCreation,
        "LOGGER_CREATION",
        "LoggerFactory",
        "INITIALIZATION",
        format!("Failed to create logger `{logger}`"),
    )
    .with_source(cause)
}

impl std::fmt::Debug for LoggerFactory {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let mut names: Vec<_> = self.loggers.keys().collect();
        names.sort();
        f.debug_struct("LoggerFactory")
            .field("loggers", &names)
            .finish()
    }
}
