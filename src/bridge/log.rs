//! kolog as the `log` crate's logger (feature `log`).
//!
//! ```ignore
//! let kolog = kolog::Kolog::from_path("kolog.yaml")?;
//! kolog::bridge::log::init(&kolog)?;
//! log::info!(target: "app::db", user_id = 7; "connected");
//! ```

use log::kv::{self, VisitSource};

use super::{Loggers, Owned};
use crate::record::Source;
use crate::{Error, ErrorKind, Kolog, Level};

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

struct Collect(Vec<(String, Owned)>);

impl<'kvs> VisitSource<'kvs> for Collect {
    fn visit_pair(&mut self, key: kv::Key<'kvs>, value: kv::Value<'kvs>) -> Result<(), kv::Error> {
        let v = if let Some(b) = value.to_bool() {
            Owned::Bool(b)
        } else if let Some(u) = value.to_u64() {
            Owned::U64(u)
        } else if let Some(i) = value.to_i64() {
            Owned::I64(i)
        } else if let Some(f) = value.to_f64() {
            Owned::F64(f)
        } else if let Some(s) = value.to_borrowed_str() {
            Owned::Str(s.to_owned())
        } else {
            Owned::Str(value.to_string())
        };
        self.0.push((key.as_str().to_owned(), v));
        Ok(())
    }
}

impl log::Log for Bridge {
    fn enabled(&self, metadata: &log::Metadata<'_>) -> bool {
        self.loggers
            .get(metadata.target())
            .is_some_and(|l| l.enabled(level(metadata.level())))
    }

    fn log(&self, record: &log::Record<'_>) {
        let Some(logger) = self.loggers.get(record.target()) else {
            return;
        };
        let level = level(record.level());
        if !logger.enabled(level) {
            return;
        }
        let message;
        let message = match record.args().as_str() {
            Some(s) => s,
            None => {
                message = record.args().to_string();
                &message
            }
        };
        let mut kv = Collect(Vec::new());
        let _ = record.key_values().visit(&mut kv);
        let fields: Vec<_> =
            kv.0.iter()
                .map(|(k, v)| (k.as_str(), v.as_field()))
                .collect();
        let source = Source {
            file: record.file().unwrap_or(""),
            line: record.line().unwrap_or(0),
            module_path: record.module_path().unwrap_or(""),
        };
        logger.emit_dynamic(level, message, source, &fields);
    }

    fn flush(&self) {}
}

/// Makes kolog the `log` crate's logger: `log` records arrive with their target as the logger
/// name (`::` → `.`, resolved through the hierarchy), their level, message, file, line,
/// module and key/values. Fails if another `log` logger is already installed.
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
    log::set_max_level(log::LevelFilter::Trace);
    Ok(())
}
