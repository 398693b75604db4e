//! kolog as the `log` crate's logger (feature `log`).
//!
//! ```
//! # fn main() -> Result<(), kolog::Error> {
//! // Usually `Kolog::from_path("kolog.yaml")?`.
//! let kolog = kolog::Kolog::from_json_str(
//!     r#"{"loggers": [{"name": "root", "handlers": [{"type": "null"}]}]}"#,
//! )?;
//! let sink = kolog::Sink::new();
//! kolog.queue_manager().add_sink("root", sink.clone());
//! kolog::bridge::log::init(&kolog)?;
//! log::info!(target: "app::db", user_id = 7; "connected");
//! log::debug!("below root's INFO: `log` skips it");
//! let records = sink.records();
//! assert_eq!(records.len(), 1);
//! assert_eq!(records[0]["logger"], "app.db");
//! assert_eq!(records[0]["level"], "INFO");
//! assert_eq!(records[0]["event"], "connected");
//! assert_eq!(records[0]["user_id"], 7);
//! # Ok(())
//! # }
//! ```

use log::kv::{self, VisitSource};

use smallvec::SmallVec;

use std::sync::Arc;

use super::{with_scratch, Collected, ErrorCopy, Loggers, Text};
use crate::front::value::FieldValue;
use crate::record::Source;
use crate::{Error, ErrorKind, Kolog, Level, LoggingSystemConfig};

struct Bridge {
    loggers: Loggers,
}

fn level(l: log::Level) -> Level {
    match l {
        log::Level::Error => Level::Error,
        log::Level::Warn => Level::Warning,
        log::Level::Info => Level::Info,
        log::Level::Debug => Level::Debug,
        log::Level::Trace => Level::Trace,
    }
}

/// A record's key/values: borrowed where the record lends them, else formatted into the call's
/// scratch string.
struct Collect<'kvs, 's> {
    fields: SmallVec<[(Text<'kvs>, Collected<'kvs>); 8]>,
    /// The keys, while every one is a `&'static str`.
    static_keys: Option<SmallVec<[&'static str; 8]>>,
    /// Errors, copied with their source chains.
    errors: SmallVec<[Arc<ErrorCopy>; 1]>,
    scratch: &'s mut String,
}

impl<'kvs> VisitSource<'kvs> for Collect<'kvs, '_> {
    fn visit_pair(&mut self, key: kv::Key<'kvs>, value: kv::Value<'kvs>) -> Result<(), kv::Error> {
        if let Some(keys) = &mut self.static_keys {
            match key.to_static_str() {
                Some(k) => keys.push(k),
                None => self.static_keys = None,
            }
        }
        let key = match key.to_borrowed_str() {
            Some(k) => Text::Borrowed(k),
            None => Text::copy(self.scratch, key.as_str()),
        };
        let v = if let Some(b) = value.to_bool() {
            Collected::Value(FieldValue::Bool(b))
        } else if let Some(u) = value.to_u64() {
            Collected::Value(FieldValue::U64(u))
        } else if let Some(i) = value.to_i64() {
            Collected::Value(FieldValue::I64(i))
        } else if let Some(f) = value.to_f64() {
            Collected::Value(FieldValue::F64(f))
        } else if let Some(s) = value.to_borrowed_str() {
            Collected::Value(FieldValue::Str(s))
        } else if let Some(e) = value.to_borrowed_error() {
            // `key:err = e`: as `info!` takes `error = &e`, with its source chain.
            self.errors.push(Arc::new(ErrorCopy::of(e)));
            Collected::Error(self.errors.len() - 1)
        } else {
            Collected::Text(Text::display(self.scratch, value))
        };
        self.fields.push((key, v));
        Ok(())
    }
}

impl log::Log for Bridge {
    fn enabled(&self, metadata: &log::Metadata<'_>) -> bool {
        let level = level(metadata.level());
        self.loggers
            .with(metadata.target(), |l| l.enabled(level))
            .unwrap_or(false)
    }

    fn log(&self, record: &log::Record<'_>) {
        let level = level(record.level());
        self.loggers.with(record.target(), |logger| {
            if !logger.enabled(level) {
                return;
            }
            with_scratch(|scratch| {
                let message = match record.args().as_str() {
                    Some(s) => Text::Borrowed(s),
                    None => Text::display(scratch, record.args()),
                };
                let mut kv = Collect {
                    fields: SmallVec::new(),
                    static_keys: Some(SmallVec::new()),
                    errors: SmallVec::new(),
                    scratch,
                };
                let _ = record.key_values().visit(&mut kv);
                // Used in place: moving the collected vectors out costs a copy of each.
                let fields = &kv.fields;
                let scratch: &str = kv.scratch;
                // A statement whose message, location and keys are all static becomes a kolog
                // statement of its own: it takes the producer's fast path and the drainer's
                // direct path like `info!`.
                let site = (|| {
                    site::intern(
                        record.args().as_str()?,
                        record.file_static()?,
                        record.line().unwrap_or(0),
                        record.module_path_static()?,
                        kv.static_keys.as_deref()?,
                    )
                })();
                if let Some(callsite) = site {
                    let values: SmallVec<[FieldValue<'_>; 8]> = fields
                        .iter()
                        .map(|(_, v)| v.get(scratch, &kv.errors))
                        .collect();
                    logger.__emit(level, callsite, &values);
                    return;
                }
                let fields: SmallVec<[(&str, FieldValue<'_>); 8]> = fields
                    .iter()
                    .map(|(k, v)| (k.get(scratch), v.get(scratch, &kv.errors)))
                    .collect();
                let source = Source {
                    file: record.file().unwrap_or(""),
                    line: record.line().unwrap_or(0),
                    module_path: record.module_path().unwrap_or(""),
                };
                logger.emit_dynamic(level, message.get(scratch), source, &fields);
            });
        });
    }

    /// Waits until the records logged before the call are written, as [`Kolog::flush`] does
    /// (returns at once on the drainer thread, and after shutdown).
    fn flush(&self) {
        self.loggers.flush();
    }
}

/// Makes kolog the `log` crate's logger: `log` records arrive with their target as the logger
/// name (`::` → `.`, resolved through the hierarchy), their level, message, file, line,
/// module and key/values. Fails if another `log` logger is already installed.
///
/// Sets `log`'s maximum level to the most verbose level any configured logger passes, so a
/// `log` statement below every logger's level is skipped by `log`'s own macro (one atomic
/// load) without calling into kolog.
pub fn init(kolog: &Kolog) -> Result<(), Error> {
    log::set_boxed_logger(Box::new(Bridge {
        loggers: Loggers::new(kolog),
    }))
    .map_err(|e| {
        Error::new(
            ErrorKind::LoggerCreation,
            "LOGGER",
            "LogBridge",
            "CONFIGURATION",
            format!("cannot install kolog as the log crate's logger: {e}"),
        )
    })?;
    log::set_max_level(max_level(kolog.factory().config()));
    Ok(())
}

/// The `log` level filter that lets through exactly the records some logger of `config`
/// passes: its most verbose effective level (`Off` with no loggers, or when every logger is
/// at `CRITICAL`, which no `log` level reaches).
fn max_level(config: &LoggingSystemConfig) -> log::LevelFilter {
    let most_verbose = config
        .loggers
        .iter()
        .map(|lc| lc.level.unwrap_or(config.default_level))
        .min();
    match most_verbose {
        None | Some(Level::Critical) => log::LevelFilter::Off,
        Some(Level::Trace) => log::LevelFilter::Trace,
        Some(Level::Debug) => log::LevelFilter::Debug,
        Some(Level::Info) => log::LevelFilter::Info,
        Some(Level::Warning) => log::LevelFilter::Warn,
        Some(Level::Error) => log::LevelFilter::Error,
    }
}

/// `log` statements whose message, file, module and keys are all `&'static str`, each made
/// into a [`Callsite`] once (leaked: there are as many as there are such statements in the
/// program, capped at 4,096; later ones stay dynamic records).
mod site {
    use std::cell::RefCell;
    use std::collections::HashMap;
    use std::hash::BuildHasherDefault;
    use std::sync::{Mutex, OnceLock};

    use smallvec::SmallVec;

    use crate::drain::AddrHasher;
    use crate::record::{Callsite, CallsiteKind};

    /// Statements made into callsites, at most; later ones stay dynamic records.
    const MAX_SITES: usize = 4096;

    type Sites<V> = HashMap<Site, V, BuildHasherDefault<AddrHasher>>;

    /// A static string by address and length (statics with equal text may have distinct
    /// callsites; that changes nothing in the output).
    #[derive(Clone, Copy, PartialEq, Eq, Hash)]
    struct Addr(usize, usize);

    impl Addr {
        fn of(s: &'static str) -> Addr {
            Addr(s.as_ptr() as usize, s.len())
        }
    }

    #[derive(Clone, PartialEq, Eq)]
    struct Site {
        message: Addr,
        file: Addr,
        line: u32,
        module: Addr,
        keys: SmallVec<[Addr; 8]>,
    }

    impl std::hash::Hash for Site {
        /// The message, file and line tell statements apart; equality checks the rest.
        fn hash<H: std::hash::Hasher>(&self, state: &mut H) {
            state.write_usize(self.message.0 ^ self.file.0.rotate_left(17) ^ self.line as usize);
        }
    }

    /// Every interned statement; a thread looks here (under the lock) only for a statement it
    /// has not logged before.
    fn sites() -> &'static Mutex<Sites<&'static Callsite>> {
        static SITES: OnceLock<Mutex<Sites<&'static Callsite>>> = OnceLock::new();
        SITES.get_or_init(Default::default)
    }

    thread_local! {
        /// The statements this thread has logged, with their callsites (`None`: over the
        /// cap): after the first record of each, no lock.
        static KNOWN: RefCell<Sites<Option<&'static Callsite>>> = RefCell::default();
    }

    /// The callsite of this statement; `None` when a key repeats (the dynamic path merges
    /// repeated keys, a statement's callsite would keep both) or the cap is reached.
    pub(super) fn intern(
        message: &'static str,
        file: &'static str,
        line: u32,
        module: &'static str,
        keys: &[&'static str],
    ) -> Option<&'static Callsite> {
        if keys.len() > u16::MAX as usize / 2
            || keys.iter().enumerate().any(|(i, k)| keys[..i].contains(k))
        {
            return None;
        }
        let site = Site {
            message: Addr::of(message),
            file: Addr::of(file),
            line,
            module: Addr::of(module),
            keys: keys.iter().map(|k| Addr::of(k)).collect(),
        };
        let known = KNOWN
            .try_with(|known| known.try_borrow().ok()?.get(&site).copied())
            .ok()
            .flatten();
        if let Some(callsite) = known {
            return callsite;
        }
        let callsite = {
            let mut sites = sites().lock().unwrap_or_else(|e| e.into_inner());
            match sites.get(&site) {
                Some(c) => Some(*c),
                None if sites.len() >= MAX_SITES => None,
                None => {
                    let callsite: &'static Callsite = Box::leak(Box::new(Callsite {
                        message,
                        fields: Box::leak(keys.to_vec().into_boxed_slice()),
                        file,
                        line,
                        module_path: module,
                        kind: CallsiteKind::Event,
                        function: None,
                    }));
                    sites.insert(site.clone(), callsite);
                    Some(callsite)
                }
            }
        };
        let _ = KNOWN.try_with(|known| {
            if let Ok(mut known) = known.try_borrow_mut() {
                known.insert(site, callsite);
            }
        });
        callsite
    }
}

#[cfg(test)]
mod tests {
    use super::site::intern;
    use super::{level, max_level};
    use crate::config::LoggerConfig;
    use crate::{Level, LoggingSystemConfig};

    fn config(default_level: Level, levels: &[Option<Level>]) -> LoggingSystemConfig {
        LoggingSystemConfig {
            loggers: levels
                .iter()
                .enumerate()
                .map(|(i, l)| LoggerConfig {
                    name: format!("l{i}"),
                    level: *l,
                    handlers: vec![],
                    context: Default::default(),
                })
                .collect(),
            default_level,
            queue: Default::default(),
        }
    }

    #[test]
    fn the_max_level_is_the_most_verbose_logger_level() {
        use log::LevelFilter as F;
        use Level::{Critical, Debug, Error, Info, Trace, Warning};
        assert_eq!(max_level(&config(Info, &[])), F::Off);
        assert_eq!(max_level(&config(Trace, &[Some(Warning)])), F::Warn);
        assert_eq!(max_level(&config(Debug, &[Some(Warning), None])), F::Debug);
        assert_eq!(
            max_level(&config(Info, &[Some(Error), Some(Trace)])),
            F::Trace
        );
        assert_eq!(
            max_level(&config(Info, &[Some(Error), Some(Critical)])),
            F::Error
        );
        assert_eq!(max_level(&config(Info, &[Some(Critical)])), F::Off);
        // Every `log` level at or above the filter maps to a kolog level the loggers pass, and
        // every one below it to a level none of them passes.
        for lv in [Trace, Debug, Info, Warning, Error, Critical] {
            let filter = max_level(&config(lv, &[None]));
            for l in log::Level::iter() {
                assert_eq!(l <= filter, level(l) >= lv, "{lv:?} {l:?} {filter:?}");
            }
        }
    }

    // One address per string, as a statement's literals have.
    static M: &str = "m";
    static F: &str = "f.rs";
    static APP: &str = "app";
    static X: &str = "x";
    static Y: &str = "y";

    #[test]
    fn static_statements_are_interned_once_each() {
        let a = intern(M, F, 1, APP, &[X, Y]).unwrap();
        let b = intern(M, F, 1, APP, &[X, Y]).unwrap();
        assert!(std::ptr::eq(a, b));
        assert_eq!(a.fields, &["x", "y"]);
        assert_eq!(
            (a.message, a.file, a.line, a.module_path),
            ("m", "f.rs", 1, "app")
        );
        assert_eq!(a.kind, crate::record::CallsiteKind::Event);
        // Another thread finds the same callsite (through the shared table).
        let c = std::thread::spawn(|| intern(M, F, 1, APP, &[X, Y]).unwrap() as *const _ as usize)
            .join()
            .unwrap();
        assert_eq!(c, a as *const _ as usize);
        let other_line = intern(M, F, 2, APP, &[X, Y]).unwrap();
        assert!(!std::ptr::eq(a, other_line));
        let other_keys = intern(M, F, 1, APP, &[Y, X]).unwrap();
        assert!(!std::ptr::eq(a, other_keys));
        // Repeated keys are merged by the dynamic path; they are not interned.
        assert!(intern(M, F, 3, APP, &[X, X]).is_none());
        // Many statements from one thread: each keeps its own callsite.
        let many: Vec<_> = (100..400)
            .map(|line| intern(M, F, line, APP, &[X]).unwrap())
            .collect();
        for (line, c) in (100..400).zip(&many) {
            assert!(std::ptr::eq(*c, intern(M, F, line, APP, &[X]).unwrap()));
            assert_eq!(c.line, line);
        }
    }
}
