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
    use std::cell::RefCell;
    use std::collections::HashMap;
    use std::hash::BuildHasherDefault;
    use std::sync::atomic::{AtomicU64, Ordering};
    use std::sync::RwLock;

    use crate::drain::AddrHasher;
    use crate::{Kolog, Logger, LoggerFactory};

    /// Loggers by target, resolved once through the factory's hierarchy.
    pub(crate) struct Loggers {
        /// Unique in the process: keys this bridge's entries in the threads' caches.
        id: u64,
        factory: LoggerFactory,
        by_target: RwLock<HashMap<String, Option<Logger>>>,
    }

    /// Targets each thread keeps per bridge (targets can be made at run time; past this many,
    /// a thread looks the others up in the shared map each time).
    const KNOWN_LEN: usize = 1024;

    /// Targets the bridge keeps for all threads (past this many, a target none of them has
    /// cached is resolved through the factory each time: memory stays bounded however many
    /// targets are made at run time).
    const SHARED_LEN: usize = 4096;

    type Targets = HashMap<Box<str>, Option<Logger>, BuildHasherDefault<AddrHasher>>;

    /// The targets a thread resolved: a hit takes no lock and no reference-count update on the
    /// shared logger.
    #[derive(Default)]
    struct Known {
        /// The last one used (bridge id, target): found without hashing.
        last: Option<(u64, Box<str>, Option<Logger>)>,
        /// All of them, per bridge id.
        by_bridge: HashMap<u64, Targets>,
    }

    impl Known {
        fn get(&self, bridge: u64, target: &str) -> Option<&Option<Logger>> {
            match &self.last {
                Some((b, t, logger)) if *b == bridge && **t == *target => Some(logger),
                _ => self.by_bridge.get(&bridge)?.get(target),
            }
        }
    }

    thread_local! {
        static KNOWN: RefCell<Known> = RefCell::default();
    }

    impl Loggers {
        /// Unique in the process.
        #[cfg_attr(not(feature = "tracing"), allow(dead_code))]
        pub(crate) fn id(&self) -> u64 {
            self.id
        }

        pub(crate) fn new(kolog: &Kolog) -> Loggers {
            static NEXT_ID: AtomicU64 = AtomicU64::new(1);
            Loggers {
                id: NEXT_ID.fetch_add(1, Ordering::Relaxed),
                factory: kolog.factory().clone(),
                by_target: RwLock::new(HashMap::new()),
            }
        }

        /// Runs `f` with the logger for `target`; `None` when no configured logger covers
        /// it. `f` may run user code that logs again (nested calls still work; they only
        /// skip the thread's cache while it is in use).
        pub(crate) fn with<R>(&self, target: &str, f: impl FnOnce(&Logger) -> R) -> Option<R> {
            let mut f = Some(f);
            let hit = KNOWN
                .try_with(|known| {
                    let known = known.try_borrow().ok()?;
                    let logger = known.get(self.id, target)?;
                    let f = f.take().expect("called once");
                    Some(logger.as_ref().map(f))
                })
                .ok()
                .flatten();
            if let Some(result) = hit {
                return result;
            }
            let logger = self.get(target);
            let result = logger.as_ref().map(f.take().expect("not called yet"));
            let _ = KNOWN.try_with(|known| {
                if let Ok(mut known) = known.try_borrow_mut() {
                    // Forget the loggers of systems that were shut down: a cached logger keeps
                    // its queue manager's state and rings alive for as long as the thread.
                    // (A bridge's loggers share one queue manager: one of them tells.)
                    known.by_bridge.retain(|_, targets| {
                        targets
                            .values()
                            .find_map(Option::as_ref)
                            .is_none_or(|l| !l.inner.shared.is_closed())
                    });
                    let targets = known.by_bridge.entry(self.id).or_default();
                    if targets.len() < KNOWN_LEN {
                        targets.insert(target.into(), logger.clone());
                    }
                    known.last = Some((self.id, target.into(), logger));
                }
            });
            result
        }

        /// Waits for the records logged before the call, as the system's `flush()` does.
        #[cfg_attr(not(feature = "log"), allow(dead_code))]
        pub(crate) fn flush(&self) {
            self.factory.flush();
        }

        /// The logger for `target`, or `None` when no configured logger covers it.
        fn get(&self, target: &str) -> Option<Logger> {
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
            let mut by_target = self.by_target.write().unwrap_or_else(|e| e.into_inner());
            if by_target.len() < SHARED_LEN {
                by_target.insert(target.to_owned(), logger.clone());
            }
            logger
        }
    }
}

#[cfg(any(feature = "log", feature = "tracing"))]
pub(crate) use cache::Loggers;

#[cfg(any(feature = "log", feature = "tracing"))]
use std::sync::Arc;

/// An owned field value collected from another logging API.
#[cfg(feature = "tracing")]
#[derive(Debug, Clone)]
pub(crate) enum Owned {
    I64(i64),
    U64(u64),
    F64(f64),
    Bool(bool),
    Str(String),
    /// An error with its source chain.
    Error(std::sync::Arc<ErrorCopy>),
}

/// Text a bridge collected from a record: borrowed from it, or copied into the call's scratch
/// string (`start..end`).
#[cfg(any(feature = "log", feature = "tracing"))]
#[derive(Clone, Copy)]
pub(crate) enum Text<'a> {
    /// Only the `log` bridge borrows (tracing hands over its text formatted).
    #[cfg_attr(not(feature = "log"), allow(dead_code))]
    Borrowed(&'a str),
    Scratch(usize, usize),
}

#[cfg(any(feature = "log", feature = "tracing"))]
impl<'a> Text<'a> {
    /// Appends `s` to `scratch` and returns where it is.
    pub(crate) fn copy(scratch: &mut String, s: &str) -> Text<'a> {
        let start = scratch.len();
        scratch.push_str(s);
        Text::Scratch(start, scratch.len())
    }

    /// Appends `v` formatted with `Display` to `scratch` and returns where it is.
    pub(crate) fn display(scratch: &mut String, v: impl std::fmt::Display) -> Text<'a> {
        use std::fmt::Write;
        let start = scratch.len();
        let _ = write!(scratch, "{v}");
        Text::Scratch(start, scratch.len())
    }

    pub(crate) fn get<'s>(self, scratch: &'s str) -> &'s str
    where
        'a: 's,
    {
        match self {
            Text::Borrowed(s) => s,
            Text::Scratch(start, end) => &scratch[start..end],
        }
    }
}

/// A field value a bridge collected: a value, text (see [`Text`]), or an error (an index into
/// the call's copied errors).
#[cfg(any(feature = "log", feature = "tracing"))]
#[derive(Clone, Copy)]
pub(crate) enum Collected<'a> {
    Value(crate::front::value::FieldValue<'a>),
    Text(Text<'a>),
    Error(usize),
}

#[cfg(any(feature = "log", feature = "tracing"))]
impl<'a> Collected<'a> {
    pub(crate) fn get<'s>(
        self,
        scratch: &'s str,
        errors: &'s [Arc<ErrorCopy>],
    ) -> crate::front::value::FieldValue<'s>
    where
        'a: 's,
    {
        use crate::front::value::FieldValue;
        match self {
            Collected::Value(v) => v,
            Collected::Text(t) => FieldValue::Str(t.get(scratch)),
            Collected::Error(i) => FieldValue::Error(&*errors[i], error_type_name()),
        }
    }
}

/// An error a bridge was lent, copied (the record outlives the reference): its message and its
/// sources' messages, in a chain of the same shape, so that it is encoded exactly as the error
/// itself would be (`error = &e` with `info!`).
#[cfg(any(feature = "log", feature = "tracing"))]
#[derive(Debug)]
pub(crate) struct ErrorCopy {
    message: String,
    source: Option<Box<ErrorCopy>>,
}

#[cfg(any(feature = "log", feature = "tracing"))]
impl ErrorCopy {
    /// The sources past this many are left out, as the encoder leaves them out.
    const MAX_DEPTH: usize = 65;

    pub(crate) fn of(e: &(dyn std::error::Error + 'static)) -> ErrorCopy {
        let mut messages: smallvec::SmallVec<[String; 4]> = smallvec::SmallVec::new();
        let mut next = Some(e);
        while let Some(e) = next {
            if messages.len() == Self::MAX_DEPTH {
                break;
            }
            let mut m = String::new();
            // A failing Display impl leaves what it wrote, as for `info!`.
            let _ = std::fmt::Write::write_fmt(&mut m, format_args!("{e}"));
            messages.push(m);
            next = e.source();
        }
        let mut copy: Option<ErrorCopy> = None;
        for message in messages.into_iter().rev() {
            copy = Some(ErrorCopy {
                message,
                source: copy.map(Box::new),
            });
        }
        copy.expect("at least the error itself")
    }
}

#[cfg(any(feature = "log", feature = "tracing"))]
impl std::fmt::Display for ErrorCopy {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.message)
    }
}

#[cfg(any(feature = "log", feature = "tracing"))]
impl std::error::Error for ErrorCopy {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        self.source.as_deref().map(|s| s as _)
    }
}

/// The type name of an error field from a bridge: both lend it as `&dyn Error`, and `info!`
/// names an error it gets that way as this.
#[cfg(any(feature = "log", feature = "tracing"))]
fn error_type_name() -> &'static str {
    std::any::type_name::<&(dyn std::error::Error + 'static)>().trim_start_matches('&')
}

#[cfg(any(feature = "log", feature = "tracing"))]
thread_local! {
    /// This thread's reusable scratch string for bridged records.
    static SCRATCH: std::cell::Cell<String> = const { std::cell::Cell::new(String::new()) };
}

/// Runs `f` with this thread's scratch string, empty. The string is taken out for the call, so
/// a record logged from user code that `f` runs finds a fresh one.
#[cfg(any(feature = "log", feature = "tracing"))]
pub(crate) fn with_scratch<R>(f: impl FnOnce(&mut String) -> R) -> R {
    let mut scratch = SCRATCH.try_with(std::cell::Cell::take).unwrap_or_default();
    scratch.clear();
    let result = f(&mut scratch);
    // Keep a buffer for the next record, unless one record made it unusually large.
    if scratch.capacity() <= 64 * 1024 {
        let _ = SCRATCH.try_with(|cell| cell.set(scratch));
    }
    result
}
