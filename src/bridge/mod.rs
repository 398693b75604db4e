//! Bridges from the `log` facade and from `tracing` (cargo features `log` and `tracing`), so a
//! codebase can keep its existing macros and get kolog's pipeline and throughput.
//!
//! Both map a target to a logger name by turning `::` into `.` (`my_crate::db` →
//! `my_crate.db`, which resolves through `my_crate` and `root` like any logger), keep the
//! record's level, message, file, line and module, and pass key/values (`log`'s `kv`, tracing's
//! fields and the enclosing spans' fields) as record fields.

#[cfg(feature = "log")]
pub mod log;
#[cfg(feature = "tracing")]
pub mod tracing;

#[cfg(any(feature = "log", feature = "tracing"))]
mod cache {
    use std::collections::HashMap;
    use std::sync::RwLock;

    use crate::{Kolog, Logger, LoggerFactory};

    /// Loggers by target, resolved once through the factory's hierarchy.
    pub(crate) struct Loggers {
        factory: LoggerFactory,
        by_target: RwLock<HashMap<String, Option<Logger>>>,
    }

    impl Loggers {
        pub(crate) fn new(kolog: &Kolog) -> Loggers {
            Loggers {
                factory: kolog.factory().clone(),
                by_target: RwLock::new(HashMap::new()),
            }
        }

        /// The logger for `target`, or `None` when no configured logger covers it.
        pub(crate) fn get(&self, target: &str) -> Option<Logger> {
            if let Some(l) = self
                .by_target
                .read()
                .unwrap_or_else(|e| e.into_inner())
                .get(target)
            {
                return l.clone();
            }
            let name = if target.is_empty() {
                "root".to_owned()
            } else {
                target.replace("::", ".")
            };
            let logger = self.factory.get_logger(&name).ok();
            self.by_target
                .write()
                .unwrap_or_else(|e| e.into_inner())
                .insert(target.to_owned(), logger.clone());
            logger
        }
    }
}

#[cfg(any(feature = "log", feature = "tracing"))]
pub(crate) use cache::Loggers;

/// An owned field value collected from another logging API.
#[cfg(any(feature = "log", feature = "tracing"))]
#[derive(Debug, Clone)]
pub(crate) enum Owned {
    I64(i64),
    U64(u64),
    F64(f64),
    Bool(bool),
    Str(String),
}

#[cfg(any(feature = "log", feature = "tracing"))]
impl Owned {
    pub(crate) fn as_field(&self) -> crate::front::value::FieldValue<'_> {
        use crate::front::value::FieldValue;
        match self {
            Owned::I64(v) => FieldValue::I64(*v),
            Owned::U64(v) => FieldValue::U64(*v),
            Owned::F64(v) => FieldValue::F64(*v),
            Owned::Bool(v) => FieldValue::Bool(*v),
            Owned::Str(s) => FieldValue::Str(s),
        }
    }
}
