//! [`LoggerFactory`]: compiles a [`LoggingSystemConfig`] into routes and handlers on a queue
//! manager, and hands out loggers by hierarchical name.

use std::collections::HashMap;
use std::sync::Arc;

use super::command::Command;
use super::handler::Handler;
use super::route::Route;
use super::shared::Shared;
use crate::config::{BackpressurePolicy, LoggingSystemConfig, QueueConfig};
use crate::process::Chain;
use crate::render::Renderer;
use crate::{write, Error, ErrorKind, Logger, QueueManager};

/// Queue settings as the configuration spells them, for messages.
fn describe(q: &QueueConfig) -> String {
    let policy = match q.backpressure_policy {
        BackpressurePolicy::Block => "block",
        BackpressurePolicy::Drop => "drop",
        BackpressurePolicy::DropOldest => "drop_oldest",
    };
    format!(
        "max_queue_size {}, backpressure_policy {policy}, drain_timeout {}",
        q.max_queue_size,
        q.drain_timeout.as_secs_f64()
    )
}

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
    /// nothing is handed over: its handlers would never write, yet a `"w"` file would be
    /// emptied. Against a `shutdown()` running meanwhile, the factory is either refused so or
    /// its handlers reach the drainer before its final drain, which installs and closes them.
    ///
    /// Records go through `queue_manager` with its own [`QueueConfig`]: a `config.queue`
    /// other than the defaults that differs from the queue manager's does not apply, and one
    /// stderr line says so (the same document can serve both forms; start the queue manager
    /// with it, `QueueManager::start(config.queue.clone())`, for its settings to apply).
    pub fn new(
        config: LoggingSystemConfig,
        queue_manager: &QueueManager,
    ) -> Result<LoggerFactory, Error> {
        if config.queue != QueueConfig::default() && config.queue != *queue_manager.config() {
            crate::error::report(format_args!(
                "kolog: a LoggerFactory's `queue` settings ({}) differ from its queue manager's \
                 ({}), which apply: a factory's records go through the QueueManager it is built \
                 on (start one with these settings, `QueueManager::start(config.queue)`, or \
                 leave `queue` out)",
                describe(&config.queue),
                describe(queue_manager.config())
            ));
        }
        let shared = queue_manager.shared.clone();
        let shut_down = || {
            Error::new(
                ErrorKind::QueueManager,
                "QUEUE",
                "QueueManager",
                "LIFECYCLE",
                "cannot build loggers on a queue manager that is shut down",
            )
            .with_severity(crate::Severity::Warning)
        };
        // In a process forked from the one that started the system, it is closed (no drainer
        // here), and a lock below may have been held by a parent's thread at the fork.
        if shared.orphaned_by_fork() || shared.is_closed() {
            return Err(shut_down());
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
        // From the check that the system is open to the handover, under the lock `shutdown()`
        // sets `closed` under: the handlers reach the drainer before its final drain (which
        // installs and closes them), or nothing is handed over and no file is emptied.
        let system = shared.clone();
        let mut next = system
            .next_handler
            .lock()
            .unwrap_or_else(|e| e.into_inner());
        if shared.is_closed() {
            return Err(shut_down());
        }
        #[cfg(test)]
        run_hook(&AFTER_CLOSED_CHECK);
        // Everything built: empty the "w" files now, once each, before any handler writes.
        let leases =
            write::truncate_at_start(built.iter_mut().map(|(.., writer)| writer), &shared.files);
        let handlers: Vec<_> = built
            .into_iter()
            .zip(leases)
            .map(|((label, chain, renderer, writer), lease)| {
                Handler::new(
                    label,
                    chain,
                    renderer,
                    writer,
                    shared.deadline.clone(),
                    lease,
                )
            })
            .collect();
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
        let longest = loggers.keys().map(String::len).max().unwrap_or(0);
        let factory = LoggerFactory {
            shared,
            loggers,
            longest,
            config,
        };
        // The internal logger goes with the handlers, under the same lock: never to a drainer
        // that has finished. It is the route, held weakly (see `Command::AddInternalLogger`).
        if let Some(internal) = factory.configured(INTERNAL_LOGGER) {
            factory
                .shared
                .commands
                .push(Command::AddInternalLogger(Arc::downgrade(&internal.route)));
        }
        drop(next);
        #[cfg(test)]
        run_hook(&AFTER_HANDOVER);
        factory.shared.flush();
        Ok(factory)
    }

    /// Parses a JSON document (the `loggers`/`default_level` schema) and builds the factory.
    /// A `queue` section must match the queue manager's settings (see [`LoggerFactory::new`]).
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
        let Some(configured) = self.configured(name) else {
            return Err(Error::configuration(
                "LoggerFactory",
                format!("Logger `{name}` not found"),
            ));
        };
        Ok(Logger::new(
            name,
            configured.route.clone(),
            self.shared.clone(),
            configured.context.clone(),
        ))
    }
}

impl LoggerFactory {
    /// The configuration logger `name` resolves to: its own, the nearest configured
    /// ancestor's, else `root`'s.
    fn configured(&self, name: &str) -> Option<&Configured> {
        // Walks up one segment at a time; only prefixes no longer than the longest configured
        // name are hashed, so a name with many segments costs one scan, not one hash of the
        // whole remaining prefix per segment.
        let mut candidate = name;
        loop {
            if candidate.len() <= self.longest {
                if let Some(c) = self.loggers.get(candidate) {
                    return Some(c);
                }
            }
            match candidate.rfind('.') {
                Some(i) => candidate = &candidate[..i],
                None => return self.loggers.get("root"),
            }
        }
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

#[cfg(test)]
type Hook = std::cell::RefCell<Option<Box<dyn FnOnce()>>>;

#[cfg(test)]
thread_local! {
    /// Run once by [`LoggerFactory::new`] on this thread just after it found the queue manager
    /// open (tests of a shutdown in between).
    pub(crate) static AFTER_CLOSED_CHECK: Hook = const { std::cell::RefCell::new(None) };
    /// Run once by [`LoggerFactory::new`] on this thread once its handlers and internal logger
    /// are handed to the drainer, before it returns.
    pub(crate) static AFTER_HANDOVER: Hook = const { std::cell::RefCell::new(None) };
}

#[cfg(test)]
fn run_hook(hook: &'static std::thread::LocalKey<Hook>) {
    if let Some(f) = hook.with(|h| h.borrow_mut().take()) {
        f();
    }
}

#[cfg(test)]
mod tests {
    use std::path::{Path, PathBuf};
    use std::sync::{Arc, Weak};
    use std::time::{Duration, Instant};

    use super::{LoggerFactory, AFTER_CLOSED_CHECK, AFTER_HANDOVER};
    use crate::drain::shared::Shared;
    use crate::{Error, QueueConfig, QueueManager, ShutdownReport};

    fn temp_file(name: &str) -> PathBuf {
        let dir = std::env::temp_dir().join(format!("kolog-factory-{}-{name}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        dir.join("app.log")
    }

    /// A `root` logger (so the factory has an internal logger) with a truncating file handler.
    fn doc(path: &Path) -> String {
        format!(
            r#"{{"loggers": [{{"name": "root", "handlers": [{{"type": "file",
                "params": {{"filename": "{}", "mode": "w"}},
                "renderer": {{"type": "file_plain", "params": {{"fmt": "%(event)s"}}}}}}]}}]}}"#,
            path.display()
        )
    }

    /// Waits (a little) for everything holding the system to let go; returns whether it was
    /// freed.
    fn freed(weak: &Weak<Shared>) -> bool {
        let until = Instant::now() + Duration::from_secs(5);
        while weak.strong_count() > 0 && Instant::now() < until {
            std::thread::sleep(Duration::from_millis(10));
        }
        weak.strong_count() == 0
    }

    /// The report of the `shutdown()` a hook started on a thread of its own.
    fn join_shutter(
        shutter: &std::sync::Mutex<Option<std::thread::JoinHandle<Result<ShutdownReport, Error>>>>,
    ) -> ShutdownReport {
        let t = shutter.lock().unwrap().take().expect("the hook ran");
        t.join().unwrap().unwrap()
    }

    /// A shutdown exactly between the factory's check that the queue manager is open and the
    /// handover of its handlers (another thread shuts down while the factory is there): the
    /// factory is either refused (its `"w"` file not emptied) or its handlers are installed
    /// before the drainer finishes — never handed to a drainer that is gone, never leaked.
    #[test]
    fn a_shutdown_between_the_closed_check_and_the_handover() {
        let path = temp_file("closed-check");
        std::fs::write(&path, "old\n").unwrap();
        let qm = Arc::new(QueueManager::start(QueueConfig::default()).unwrap());
        let weak = Arc::downgrade(&qm.shared);
        let shutter: Arc<std::sync::Mutex<Option<std::thread::JoinHandle<_>>>> = Arc::default();
        AFTER_CLOSED_CHECK.with(|h| {
            let (qm, shutter) = (qm.clone(), shutter.clone());
            *h.borrow_mut() = Some(Box::new(move || {
                let t = std::thread::spawn(move || qm.shutdown());
                // Give the shutdown every chance to finish here (it must not be able to).
                let until = Instant::now() + Duration::from_millis(300);
                while !t.is_finished() && Instant::now() < until {
                    std::thread::sleep(Duration::from_millis(5));
                }
                *shutter.lock().unwrap() = Some(t);
            }))
        });
        let built = LoggerFactory::from_json_str(&doc(&path), &qm);
        let report = join_shutter(&shutter);
        assert!(
            qm.shared.commands.is_empty(),
            "a command was left for a drainer that is gone"
        );
        match built {
            Ok(f) => {
                assert_eq!(std::fs::read_to_string(&path).unwrap(), "");
                let log = f.get_logger("app").unwrap();
                crate::info!(log, "after shutdown");
                drop((f, log));
                let s = qm.stats();
                assert_eq!((s.enqueued, s.dropped_shutdown), (0, 1), "{s:?} {report:?}");
            }
            Err(e) => {
                assert_eq!(e.code(), "QUEUE::QueueManager::LIFECYCLE::WARNING");
                assert_eq!(std::fs::read_to_string(&path).unwrap(), "old\n");
            }
        }
        drop(qm);
        assert!(freed(&weak), "the system was never freed");
        let _ = std::fs::remove_dir_all(path.parent().unwrap());
    }

    /// A shutdown right after the handover: the factory's handlers are closed by the final
    /// drain, and nothing the factory handed over keeps the system alive (a command holding a
    /// logger, which holds the system, left in the system's own command queue).
    #[test]
    fn a_shutdown_right_after_the_handover_leaves_no_reference_cycle() {
        let path = temp_file("after-handover");
        let qm = Arc::new(QueueManager::start(QueueConfig::default()).unwrap());
        let weak = Arc::downgrade(&qm.shared);
        AFTER_HANDOVER.with(|h| {
            let qm = qm.clone();
            *h.borrow_mut() = Some(Box::new(move || {
                qm.shutdown().unwrap();
            }))
        });
        let f = LoggerFactory::from_json_str(&doc(&path), &qm).unwrap();
        assert!(qm.is_shut_down());
        assert!(
            qm.shared.commands.is_empty(),
            "a command was left for a drainer that is gone"
        );
        let log = f.get_logger("app").unwrap();
        crate::info!(log, "after shutdown");
        assert_eq!(qm.stats().dropped_shutdown, 1);
        drop((f, log, qm));
        assert!(freed(&weak), "the system was never freed");
        let _ = std::fs::remove_dir_all(path.parent().unwrap());
    }

    /// An older factory's internal logger is not kept by the drainer once the factory is gone,
    /// and a newer one's route is freed when the newer factory goes, even while the older one
    /// lives (its handlers closed).
    #[test]
    fn the_drainer_keeps_no_dropped_factorys_route() {
        let (pa, pb) = (temp_file("route-a"), temp_file("route-b"));
        let qm = QueueManager::start(QueueConfig::default()).unwrap();
        let a = LoggerFactory::from_json_str(&doc(&pa), &qm).unwrap();
        let b = LoggerFactory::from_json_str(&doc(&pb), &qm).unwrap();
        let route_a = Arc::downgrade(&a.loggers["root"].route);
        let route_b = Arc::downgrade(&b.loggers["root"].route);
        qm.flush();
        drop(b);
        qm.flush();
        qm.flush();
        assert_eq!(
            route_b.strong_count(),
            0,
            "the newer factory's route is kept alive"
        );
        assert_eq!(route_a.strong_count(), 1);
        drop(a);
        qm.flush();
        qm.flush();
        assert_eq!(
            route_a.strong_count(),
            0,
            "the older factory's route is kept alive"
        );
        qm.shutdown().unwrap();
        for p in [pa, pb] {
            let _ = std::fs::remove_dir_all(p.parent().unwrap());
        }
    }

    /// A fork taken while a thread of the parent is in `shutdown()`, waiting for the handover
    /// lock a factory holds (here: this thread, in the factory, forks): the child's
    /// `shutdown()` took the queue manager's drainer slot, which the parent's shutting-down
    /// thread held at the fork, and hung for ever (SIGALRM here). It is now refused with the
    /// `LIFECYCLE` warning before any lock is taken.
    #[test]
    fn a_fork_while_a_shutdown_waits_for_the_handover_lock() {
        let path = temp_file("fork-handover");
        let qm = Arc::new(QueueManager::start(QueueConfig::default()).unwrap());
        let status: Arc<std::sync::Mutex<Option<i32>>> = Arc::default();
        let shutter: Arc<std::sync::Mutex<Option<std::thread::JoinHandle<_>>>> = Arc::default();
        AFTER_CLOSED_CHECK.with(|h| {
            let (qm, status, shutter) = (qm.clone(), status.clone(), shutter.clone());
            *h.borrow_mut() = Some(Box::new(move || {
                let other = qm.clone();
                let t = std::thread::spawn(move || other.shutdown());
                // The shutdown now holds the drainer slot, waiting for this factory's lock.
                std::thread::sleep(Duration::from_millis(200));
                // SAFETY: the child only calls kolog's shutdown and ends with _exit.
                let pid = unsafe { libc::fork() };
                assert!(pid >= 0);
                if pid == 0 {
                    // SAFETY: alarm has no preconditions.
                    unsafe { libc::alarm(10) };
                    let ok = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
                        let e = qm.shutdown().expect_err("a lifecycle warning");
                        assert_eq!(e.code(), "QUEUE::QueueManager::LIFECYCLE::WARNING");
                    }))
                    .is_ok();
                    // SAFETY: ends the forked child without running the parent's exit handlers.
                    unsafe { libc::_exit(if ok { 0 } else { 1 }) };
                }
                let mut st = 0;
                // SAFETY: `pid` is this process's child.
                assert_eq!(unsafe { libc::waitpid(pid, &mut st, 0) }, pid);
                *status.lock().unwrap() = Some(st);
                *shutter.lock().unwrap() = Some(t);
            }))
        });
        let built = LoggerFactory::from_json_str(&doc(&path), &qm);
        let report = join_shutter(&shutter);
        assert!(built.is_ok());
        assert_eq!(report.dropped, 0, "{report:?}");
        let st = status.lock().unwrap().take().unwrap();
        assert!(
            libc::WIFEXITED(st) && libc::WEXITSTATUS(st) == 0,
            "the forked child: status {st} (signal {})",
            libc::WTERMSIG(st)
        );
        let _ = std::fs::remove_dir_all(path.parent().unwrap());
    }
}
