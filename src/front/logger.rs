//! [`Logger`]: a cheap, cloneable handle that checks the level and encodes records.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use super::value::FieldValue;
use crate::drain::route::Route;
use crate::drain::shared::Shared;
use crate::record::Callsite;
use crate::Level;

/// What a record points at: the logger's name, route and bound context. Owned by the logger
/// handles; when the last handle goes, it is retired to the drainer, which frees it only after
/// every record that may reference it has been drained.
pub(crate) struct LoggerCore {
    /// Unique in the process (addresses of freed cores are reused; ids are not).
    pub id: u64,
    pub name: Box<str>,
    /// `name` as a JSON string literal, for the JSON renderer's direct path.
    pub json_name: Box<[u8]>,
    /// `context` rendered as JSON fields (`,"k":v` each), for the same path.
    pub json_context: Box<[u8]>,
    pub route: Arc<Route>,
    pub context: Vec<(String, serde_json::Value)>,
}

/// What a `Logger` handle points to; producers read it on every record. Aligned so that it
/// sits on cache lines of its own, away from its own reference counts and from whatever the
/// allocator puts next to it (see `clock::RECORD_TSC` for why).
#[repr(align(128))]
pub(crate) struct LoggerInner {
    pub route: Arc<Route>,
    pub shared: Arc<Shared>,
    /// Shared with the drainer once the last handle goes (see `Drop`).
    core: Arc<LoggerCore>,
}

impl LoggerInner {
    #[inline(always)]
    pub(crate) fn core(&self) -> &LoggerCore {
        &self.core
    }
}

impl Drop for LoggerInner {
    fn drop(&mut self) {
        // The drainer keeps the core until no queued record can reference it.
        self.shared.retire(Arc::clone(&self.core));
    }
}

/// A logger: a name, a level, bound context, and the queue its records go to.
///
/// `Clone + Send + Sync` and cheap to clone (one `Arc` and the level). Get one with
/// [`Kolog::logger`](crate::Kolog::logger) or [`LoggerFactory::get_logger`](crate::LoggerFactory::get_logger),
/// log with [`info!`](crate::info) and friends, and derive loggers with more context with
/// [`bind!`](crate::bind).
#[derive(Clone)]
pub struct Logger {
    pub(crate) inner: Arc<LoggerInner>,
    /// A copy of the route's level (fixed once configured): the level check of every
    /// statement compares against this byte in the handle, reading no shared memory. A call
    /// made after an idle spell (its cache lines gone) then waits on one fewer line.
    level: Level,
}

impl Logger {
    pub(crate) fn new(
        name: &str,
        route: Arc<Route>,
        shared: Arc<Shared>,
        context: Vec<(String, serde_json::Value)>,
    ) -> Logger {
        let mut json_name = Vec::with_capacity(name.len() + 2);
        crate::render::push_json_str(&mut json_name, name);
        static NEXT_CORE: AtomicU64 = AtomicU64::new(1);
        let core = Arc::new(LoggerCore {
            id: NEXT_CORE.fetch_add(1, Ordering::Relaxed),
            json_name: json_name.into(),
            json_context: crate::render::context_json(&context).into(),
            name: name.into(),
            route: route.clone(),
            context,
        });
        Logger {
            level: route.level(),
            inner: Arc::new(LoggerInner {
                route,
                shared,
                core,
            }),
        }
    }

    /// The logger's name (`app.db`).
    pub fn name(&self) -> &str {
        &self.inner.core().name
    }

    /// The minimum level of records this logger passes on.
    pub fn level(&self) -> Level {
        self.level
    }

    /// Whether a record at `level` would be logged: one comparison with the handle's level.
    #[inline(always)]
    pub fn enabled(&self, level: Level) -> bool {
        level >= self.level
    }

    /// The bound context, in binding order.
    pub fn context(&self) -> &[(String, serde_json::Value)] {
        &self.inner.core().context
    }

    /// A new logger with `fields` merged into this one's context (later keys win); this logger
    /// is unchanged. Used by [`bind!`](crate::bind).
    ///
    /// The context's keys stay distinct (the drainer relies on it): a key bound again keeps
    /// its place and takes the new value.
    pub fn bind_fields(&self, fields: &[(&str, FieldValue<'_>)]) -> Logger {
        let mut context = self.context().to_vec();
        // Many keys at once are found through a map, in linear time.
        let mut at: Option<std::collections::HashMap<String, usize>> =
            (fields.len() > 16).then(|| {
                context
                    .iter()
                    .enumerate()
                    .map(|(i, (k, _))| (k.clone(), i))
                    .collect()
            });
        for (k, v) in fields {
            let v = field_to_json(v);
            let slot = match &at {
                Some(at) => at.get(*k).copied(),
                None => context.iter().position(|(key, _)| key == k),
            };
            match slot {
                Some(i) => context[i].1 = v,
                None => {
                    if let Some(at) = &mut at {
                        at.insert((*k).to_owned(), context.len());
                    }
                    context.push(((*k).to_owned(), v));
                }
            }
        }
        Logger::new(
            self.name(),
            self.inner.route.clone(),
            self.inner.shared.clone(),
            context,
        )
    }

    /// Encodes and enqueues a record without ever blocking: the returned future completes once
    /// the record is in the ring. Called by the async macros after the level check.
    #[doc(hidden)]
    #[inline(never)]
    pub fn __emit_async(
        &self,
        level: Level,
        callsite: &'static Callsite,
        values: &[FieldValue<'_>],
    ) -> EnqueueFuture {
        self.enqueue_future(super::emit::emit_async(
            &self.inner,
            level,
            callsite,
            values,
        ))
    }

    /// The future for a record the async front end handled: ready, or holding the encoded
    /// record until there is room.
    fn enqueue_future(&self, pending: Option<Vec<u8>>) -> EnqueueFuture {
        match pending {
            None => EnqueueFuture::ready(),
            Some(bytes) => EnqueueFuture {
                pending: Some((self.inner.clone(), bytes)),
            },
        }
    }

    /// [`Logger::__emit_async`] for the macros, with the values by value (see
    /// [`Logger::__emit_array`]).
    #[doc(hidden)]
    #[inline(always)]
    pub fn __emit_async_array<const N: usize>(
        &self,
        level: Level,
        callsite: &'static Callsite,
        values: [FieldValue<'_>; N],
    ) -> EnqueueFuture {
        if super::emit::push_plain(&self.inner, level, callsite, &values) {
            return EnqueueFuture::ready();
        }
        let copy = values;
        self.enqueue_future(super::emit::emit_async_general(
            &self.inner,
            level,
            callsite,
            &copy,
        ))
    }

    /// Logs `Begin: <name>` at INFO, awaits `future`, logs `End (<seconds>): <name>`, and
    /// returns the future's output. Never blocks the executor. If `future` panics, or this
    /// future is dropped before it completes (a timeout, a `select!`), `End` is logged then,
    /// like `info_life!`'s guard (a full ring under `block` counts it in `dropped_full`).
    pub async fn ainfo_life<F: std::future::Future>(&self, name: &str, future: F) -> F::Output {
        static BEGIN: Callsite = Callsite {
            message: "",
            fields: &["name"],
            file: file!(),
            line: line!(),
            module_path: module_path!(),
            kind: crate::record::CallsiteKind::NamedBegin,
            function: None,
        };
        static END: Callsite = Callsite {
            message: "",
            fields: &["name", "elapsed"],
            file: file!(),
            line: line!(),
            module_path: module_path!(),
            kind: crate::record::CallsiteKind::NamedEnd,
            function: None,
        };
        let enabled = self.enabled(Level::Info);
        if enabled {
            let begin = self.__emit_async(Level::Info, &BEGIN, &[FieldValue::Str(name)]);
            begin.await;
        }
        /// Logs the `End` record if the wrapped future panics or this one is dropped before
        /// it completes, as `info_life!`'s guard does on unwinding. It cannot wait: a full
        /// ring counts the record in `dropped_full`, as a dropped `ainfo!` future does.
        struct EndOnDrop<'a> {
            logger: &'a Logger,
            name: &'a str,
            start: std::time::Instant,
            armed: bool,
        }
        impl Drop for EndOnDrop<'_> {
            fn drop(&mut self) {
                if self.armed {
                    let secs = self.start.elapsed().as_secs_f64();
                    drop(self.logger.__emit_async(
                        Level::Info,
                        &END,
                        &[FieldValue::Str(self.name), FieldValue::F64(secs)],
                    ));
                }
            }
        }
        let mut guard = EndOnDrop {
            logger: self,
            name,
            start: std::time::Instant::now(),
            armed: enabled,
        };
        let output = future.await;
        if enabled {
            guard.armed = false;
            let secs = guard.start.elapsed().as_secs_f64();
            let end = self.__emit_async(
                Level::Info,
                &END,
                &[FieldValue::Str(name), FieldValue::F64(secs)],
            );
            end.await;
        }
        output
    }

    /// Enqueues a record whose message, location and field names are only known at run time
    /// (the `log` and `tracing` bridges). Blocks like `info!` under `block`.
    #[cfg_attr(not(any(feature = "log", feature = "tracing")), allow(dead_code))]
    pub(crate) fn emit_dynamic(
        &self,
        level: Level,
        message: &str,
        source: crate::record::Source<'_>,
        fields: &[(&str, FieldValue<'_>)],
    ) {
        static DYNAMIC: Callsite = Callsite {
            message: "",
            fields: &[],
            file: "",
            line: 0,
            module_path: "",
            kind: crate::record::CallsiteKind::Dynamic,
            function: None,
        };
        if !self.enabled(level) {
            return;
        }
        // A record holds up to u16::MAX values: the four above and a key and a value a field.
        // One with more fields is dropped and counted for its size, never cut short.
        if fields.len() > u16::MAX as usize / 2 - 4 {
            return super::emit::count_oversize(&self.inner);
        }
        let mut values: smallvec::SmallVec<[FieldValue<'_>; 36]> = smallvec::SmallVec::new();
        values.push(FieldValue::Str(message));
        values.push(FieldValue::Str(source.file));
        values.push(FieldValue::U64(u64::from(source.line)));
        values.push(FieldValue::Str(source.module_path));
        for (k, v) in fields {
            values.push(FieldValue::Str(k));
            values.push(*v);
        }
        super::emit::emit(&self.inner, level, &DYNAMIC, &values);
    }

    /// Encodes and enqueues a record. Called by the macros after the level check.
    #[doc(hidden)]
    #[inline(always)]
    pub fn __emit(&self, level: Level, callsite: &'static Callsite, values: &[FieldValue<'_>]) {
        super::emit::emit(&self.inner, level, callsite, values);
    }

    /// [`Logger::__emit`] for the macros, with the values by value: the fast path keeps them
    /// in registers, and only the general path gets them in memory.
    #[doc(hidden)]
    #[inline(always)]
    pub fn __emit_array<const N: usize>(
        &self,
        level: Level,
        callsite: &'static Callsite,
        values: [FieldValue<'_>; N],
    ) {
        if !super::emit::push_plain(&self.inner, level, callsite, &values) {
            let copy = values;
            super::emit::emit_general(&self.inner, level, callsite, &copy);
        }
    }
}

impl std::fmt::Debug for Logger {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Logger")
            .field("name", &self.name())
            .field("level", &self.level())
            .field("context", &self.context())
            .finish()
    }
}

/// Returned by the async macros (`ainfo!` ...): completes once the record is enqueued. The
/// macro enqueues the record at once when the ring has room (the future is then already
/// complete); under `Block` with a full ring the future waits for space through its waker,
/// never blocking the thread. Dropping it before completion discards the record whole
/// (nothing half-written) and counts it in `dropped_full`.
#[must_use = "a record that found its ring full is enqueued only when the future is awaited"]
pub struct EnqueueFuture {
    pending: Option<(Arc<LoggerInner>, Vec<u8>)>,
}

impl EnqueueFuture {
    /// A future that is already complete (the record was enqueued, dropped, or disabled).
    #[doc(hidden)]
    pub fn ready() -> EnqueueFuture {
        EnqueueFuture { pending: None }
    }
}

impl std::future::Future for EnqueueFuture {
    type Output = ();

    fn poll(
        mut self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<()> {
        let Some((inner, bytes)) = &mut self.pending else {
            return std::task::Poll::Ready(());
        };
        let poll = super::emit::poll_enqueue(inner, bytes, cx);
        if poll.is_ready() {
            self.pending = None;
        }
        poll
    }
}

impl Drop for EnqueueFuture {
    fn drop(&mut self) {
        if let Some((inner, _)) = &self.pending {
            inner
                .shared
                .counters
                .cancelled
                .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        }
    }
}

impl std::fmt::Debug for EnqueueFuture {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("EnqueueFuture")
            .field("pending", &self.pending.is_some())
            .finish()
    }
}

fn field_to_json(v: &FieldValue<'_>) -> serde_json::Value {
    use serde_json::Value as J;
    match *v {
        FieldValue::I64(x) => J::from(x),
        FieldValue::U64(x) => J::from(x),
        FieldValue::F64(x) => serde_json::Number::from_f64(x)
            .map(J::Number)
            .unwrap_or_else(|| J::String(x.to_string())),
        FieldValue::F32(x) => field_to_json(&FieldValue::F64(crate::record::f32_as_f64(x))),
        FieldValue::Bool(x) => J::Bool(x),
        FieldValue::Str(s) => J::String(s.to_owned()),
        FieldValue::Display(d) => J::String(lossy(format_args!("{d}"))),
        FieldValue::Debug(d) => J::String(lossy(format_args!("{d:?}"))),
        FieldValue::Error(e, _) => J::String(lossy(format_args!("{e}"))),
    }
}

/// Formats like `to_string`, but keeps what was written when a `Display` or `Debug` returns
/// `fmt::Error` (as `info!` does) instead of panicking.
fn lossy(args: std::fmt::Arguments<'_>) -> String {
    let mut s = String::new();
    let _ = std::fmt::Write::write_fmt(&mut s, args);
    s
}

#[cfg(test)]
mod tests {
    use super::FieldValue;

    /// Binding many keys at once (found through a map) merges exactly as binding a few (found
    /// by a scan): a key bound again, already in the context or earlier in the same call,
    /// keeps its first place and takes its last value; the keys stay distinct.
    #[test]
    fn binding_many_keys_at_once_merges_as_binding_a_few() {
        let k = crate::Kolog::from_json_str(
            r#"{"loggers": [{"name": "root", "context": {"a": 0, "b": 0}, "handlers": [{"type": "null"}]}]}"#,
        )
        .unwrap();
        let log = k.logger("app").unwrap();
        let names: Vec<String> = (0..40).map(|i| format!("k{}", i % 25)).collect();
        let mut fields: Vec<(&str, FieldValue<'_>)> = names
            .iter()
            .enumerate()
            .map(|(i, n)| (n.as_str(), FieldValue::U64(i as u64)))
            .collect();
        fields.insert(3, ("b", FieldValue::Str("rebound")));
        let many = log.bind_fields(&fields);
        let mut few = log.clone();
        for chunk in fields.chunks(4) {
            few = few.bind_fields(chunk);
        }
        assert_eq!(many.context(), few.context());
        let keys: Vec<&str> = many.context().iter().map(|(k, _)| k.as_str()).collect();
        assert_eq!(keys.len(), 2 + 25);
        assert_eq!(&keys[..4], ["a", "b", "k0", "k1"]);
        assert_eq!(many.context()[1].1, "rebound");
        // `k0` was bound at 0 and again at 25.
        assert_eq!(many.context()[2].1, 25);
    }
}
