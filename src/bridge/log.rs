//! kolog as the `log` crate's logger (feature `log`).
//!
//! ```ignore
//! let kolog = kolog::Kolog::from_path("kolog.yaml")?;
//! kolog::bridge::log::init(&kolog)?;
//! log::info!(target: "app::db", user_id = 7; "connected");
//! ```

use log::kv::{self, VisitSource};

use smallvec::SmallVec;

use super::{with_scratch, Collected, Loggers, Text};
use crate::front::value::FieldValue;
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

/// A record's key/values: borrowed where the record lends them, else formatted into the call's
/// scratch string.
struct Collect<'kvs, 's> {
    fields: SmallVec<[(Text<'kvs>, Collected<'kvs>); 8]>,
    scratch: &'s mut String,
}

impl<'kvs> VisitSource<'kvs> for Collect<'kvs, '_> {
    fn visit_pair(&mut self, key: kv::Key<'kvs>, value: kv::Value<'kvs>) -> Result<(), kv::Error> {
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
                    scratch,
                };
                let _ = record.key_values().visit(&mut kv);
                let Collect { fields, scratch } = kv;
                let scratch: &str = scratch;
                let fields: SmallVec<[(&str, FieldValue<'_>); 8]> = fields
                    .iter()
                    .map(|(k, v)| (k.get(scratch), v.get(scratch)))
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
