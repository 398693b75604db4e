//! A `tracing_subscriber::Layer` that turns tracing events into kolog records (feature
//! `tracing`): the event's target names the logger, its fields become record fields (the
//! `message` field is the event), and the fields of the enclosing spans, root first, are bound
//! context.
//!
//! ```
//! use tracing_subscriber::prelude::*;
//! # fn main() -> Result<(), kolog::Error> {
//! // Usually `Kolog::from_path("kolog.yaml")?`.
//! let kolog = kolog::Kolog::from_json_str(
//!     r#"{"loggers": [{"name": "root", "handlers": [{"type": "null"}]}]}"#,
//! )?;
//! let sink = kolog::Sink::new();
//! kolog.queue_manager().add_sink("root", sink.clone());
//! tracing_subscriber::registry().with(kolog::bridge::tracing::layer(&kolog)).init();
//! let span = tracing::info_span!("request", request_id = "abc");
//! let _entered = span.enter();
//! tracing::info!(target: "app::db", user_id = 7, "connected");
//! let records = sink.records();
//! assert_eq!(records[0]["logger"], "app.db");
//! assert_eq!(records[0]["event"], "connected");
//! assert_eq!(records[0]["request_id"], "abc"); // from the span
//! assert_eq!(records[0]["user_id"], 7);
//! # Ok(())
//! # }
//! ```

use std::fmt;
use std::sync::Arc;

use tracing_core::field::{Field, Visit};
use tracing_core::span::{Attributes, Id, Record};
use tracing_core::{Event, Subscriber};
use tracing_subscriber::layer::Context;
use tracing_subscriber::registry::LookupSpan;

use smallvec::SmallVec;

use super::{with_scratch, Collected, ErrorCopy, Loggers, Owned, Text};
use crate::front::value::FieldValue;
use crate::record::Source;
use crate::{Kolog, Level};

/// The layer returned by [`layer`].
pub struct KologLayer {
    loggers: Loggers,
}

impl fmt::Debug for KologLayer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("KologLayer").finish_non_exhaustive()
    }
}

/// A layer sending tracing events to `kolog`'s loggers.
pub fn layer(kolog: &Kolog) -> KologLayer {
    KologLayer {
        loggers: Loggers::new(kolog),
    }
}

/// A span's fields, kept in its extensions for the events inside it. Stored once per span
/// whatever the number of kolog layers in the subscriber (they are the span's, not a layer's):
/// by the first layer that sees the span, which alone records later values into them.
#[derive(Default)]
struct Fields {
    /// The [`Loggers::id`] of the layer that stored them.
    owner: u64,
    fields: SmallVec<[(&'static str, Owned); 4]>,
}

/// Sets `name` to `v`: in place when present (a later value replaces an earlier one), else
/// appended.
fn set<A, V>(fields: &mut SmallVec<A>, name: &'static str, v: V)
where
    A: smallvec::Array<Item = (&'static str, V)>,
{
    match fields.iter_mut().find(|(k, _)| *k == name) {
        Some(slot) => slot.1 = v,
        None => fields.push((name, v)),
    }
}

impl Fields {
    fn set(&mut self, name: &'static str, v: Owned) {
        // A span's `message` is not a field of its events.
        if name != "message" {
            set(&mut self.fields, name, v);
        }
    }
}

impl Visit for Fields {
    fn record_i64(&mut self, field: &Field, value: i64) {
        self.set(field.name(), Owned::I64(value));
    }
    fn record_u64(&mut self, field: &Field, value: u64) {
        self.set(field.name(), Owned::U64(value));
    }
    fn record_i128(&mut self, field: &Field, value: i128) {
        match i64::try_from(value) {
            Ok(v) => self.record_i64(field, v),
            Err(_) => self.set(field.name(), Owned::Str(value.to_string())),
        }
    }
    fn record_u128(&mut self, field: &Field, value: u128) {
        match u64::try_from(value) {
            Ok(v) => self.record_u64(field, v),
            Err(_) => self.set(field.name(), Owned::Str(value.to_string())),
        }
    }
    fn record_f64(&mut self, field: &Field, value: f64) {
        self.set(field.name(), Owned::F64(value));
    }
    fn record_bool(&mut self, field: &Field, value: bool) {
        self.set(field.name(), Owned::Bool(value));
    }
    fn record_str(&mut self, field: &Field, value: &str) {
        self.set(field.name(), Owned::Str(value.to_owned()));
    }
    fn record_error(&mut self, field: &Field, value: &(dyn std::error::Error + 'static)) {
        self.set(field.name(), Owned::Error(Arc::new(ErrorCopy::of(value))));
    }
    fn record_debug(&mut self, field: &Field, value: &dyn fmt::Debug) {
        self.set(field.name(), Owned::Str(format!("{value:?}")));
    }
}

/// An event's fields for one record: values as they are, text copied into the call's scratch
/// string (no allocation per event), errors copied.
struct EventFields<'s> {
    message: Option<Text<'static>>,
    fields: SmallVec<[(&'static str, Collected<'static>); 8]>,
    errors: SmallVec<[Arc<ErrorCopy>; 1]>,
    scratch: &'s mut String,
}

impl EventFields<'_> {
    fn set(&mut self, name: &'static str, v: Collected<'static>) {
        set(&mut self.fields, name, v);
    }

    fn set_error(&mut self, name: &'static str, e: Arc<ErrorCopy>) {
        self.errors.push(e);
        self.set(name, Collected::Error(self.errors.len() - 1));
    }

    /// Sets `name` to a span's stored value, for this record.
    fn set_owned(&mut self, name: &'static str, v: &Owned) {
        let v = match v {
            Owned::I64(v) => Collected::Value(FieldValue::I64(*v)),
            Owned::U64(v) => Collected::Value(FieldValue::U64(*v)),
            Owned::F64(v) => Collected::Value(FieldValue::F64(*v)),
            Owned::Bool(v) => Collected::Value(FieldValue::Bool(*v)),
            Owned::Str(s) => Collected::Text(Text::copy(self.scratch, s)),
            Owned::Error(e) => return self.set_error(name, e.clone()),
        };
        self.set(name, v);
    }

    fn text(&mut self, name: &'static str, text: Text<'static>) {
        if name == "message" {
            self.message = Some(text);
        } else {
            self.set(name, Collected::Text(text));
        }
    }
}

/// Event fields: a `message` of any type is the event (`message = 42` is the event `42`, as
/// tracing's own formatter prints it); other fields keep their types.
impl Visit for EventFields<'_> {
    fn record_i64(&mut self, field: &Field, value: i64) {
        if field.name() == "message" {
            return self.record_debug(field, &value);
        }
        self.set(field.name(), Collected::Value(FieldValue::I64(value)));
    }
    fn record_u64(&mut self, field: &Field, value: u64) {
        if field.name() == "message" {
            return self.record_debug(field, &value);
        }
        self.set(field.name(), Collected::Value(FieldValue::U64(value)));
    }
    /// As `info!` takes an `i128`: a number when it fits 64 bits, else its digits.
    fn record_i128(&mut self, field: &Field, value: i128) {
        match i64::try_from(value) {
            Ok(v) => self.record_i64(field, v),
            Err(_) => self.record_debug(field, &value),
        }
    }
    /// As `info!` takes a `u128`: a number when it fits 64 bits, else its digits.
    fn record_u128(&mut self, field: &Field, value: u128) {
        match u64::try_from(value) {
            Ok(v) => self.record_u64(field, v),
            Err(_) => self.record_debug(field, &value),
        }
    }
    fn record_f64(&mut self, field: &Field, value: f64) {
        if field.name() == "message" {
            return self.record_debug(field, &value);
        }
        self.set(field.name(), Collected::Value(FieldValue::F64(value)));
    }
    fn record_bool(&mut self, field: &Field, value: bool) {
        if field.name() == "message" {
            return self.record_debug(field, &value);
        }
        self.set(field.name(), Collected::Value(FieldValue::Bool(value)));
    }
    fn record_str(&mut self, field: &Field, value: &str) {
        let text = Text::copy(self.scratch, value);
        self.text(field.name(), text);
    }
    /// As `info!` takes `error = &e`: the message and the source chain.
    fn record_error(&mut self, field: &Field, value: &(dyn std::error::Error + 'static)) {
        if field.name() == "message" {
            return self.record_debug(field, &format_args!("{value}"));
        }
        self.set_error(field.name(), Arc::new(ErrorCopy::of(value)));
    }
    fn record_debug(&mut self, field: &Field, value: &dyn fmt::Debug) {
        let text = Text::display(self.scratch, format_args!("{value:?}"));
        self.text(field.name(), text);
    }
}

fn level(l: &tracing_core::Level) -> Level {
    match *l {
        tracing_core::Level::ERROR => Level::Error,
        tracing_core::Level::WARN => Level::Warning,
        tracing_core::Level::INFO => Level::Info,
        tracing_core::Level::DEBUG => Level::Debug,
        _ => Level::Trace,
    }
}

impl<S> tracing_subscriber::Layer<S> for KologLayer
where
    S: Subscriber + for<'a> LookupSpan<'a>,
{
    fn on_new_span(&self, attrs: &Attributes<'_>, id: &Id, ctx: Context<'_, S>) {
        let mut fields = Fields {
            owner: self.loggers.id(),
            fields: SmallVec::new(),
        };
        // Visited before the span's extensions are locked: a value's Display may log inside
        // the span's parents, or record on them.
        attrs.record(&mut fields);
        if let Some(span) = ctx.span(id) {
            let mut extensions = span.extensions_mut();
            // Another kolog layer of this subscriber stored them already.
            if extensions.get_mut::<Fields>().is_none() {
                extensions.insert(fields);
            }
        }
    }

    fn on_record(&self, id: &Id, values: &Record<'_>, ctx: Context<'_, S>) {
        let Some(span) = ctx.span(id) else {
            return;
        };
        if span
            .extensions()
            .get::<Fields>()
            .is_none_or(|f| f.owner != self.loggers.id())
        {
            return;
        }
        // Collected with the span's extensions unlocked: a value's Display or Debug may log
        // an event inside this span (which reads them) or record on it (which writes them).
        let mut recorded = Fields::default();
        values.record(&mut recorded);
        let mut extensions = span.extensions_mut();
        if let Some(fields) = extensions.get_mut::<Fields>() {
            for (k, v) in recorded.fields {
                fields.set(k, v);
            }
        }
    }

    fn on_event(&self, event: &Event<'_>, ctx: Context<'_, S>) {
        let meta = event.metadata();
        let level = level(meta.level());
        self.loggers.with(meta.target(), |logger| {
            if !logger.enabled(level) {
                return;
            }
            with_scratch(|scratch| {
                let mut own = EventFields {
                    message: None,
                    fields: SmallVec::new(),
                    errors: SmallVec::new(),
                    scratch,
                };
                // The enclosing spans' fields (root first), then the event's own: a later
                // value replaces an earlier one of the same name in place.
                let mut span_fields = false;
                if let Some(scope) = ctx.event_scope(event) {
                    for span in scope.from_root() {
                        if let Some(f) = span.extensions().get::<Fields>() {
                            span_fields |= !f.fields.is_empty();
                            for (k, v) in &f.fields {
                                own.set_owned(k, v);
                            }
                        }
                    }
                }
                event.record(&mut own);
                // Used in place: moving the collected vector out costs a copy of it.
                let own = &own;
                let fields = &own.fields;
                let scratch: &str = own.scratch;
                let message = own.message.map_or("", |m| m.get(scratch));
                // An event outside spans with fields whose message repeats is made into a
                // kolog statement of its own: the producer's fast path and the drainer's
                // direct path, like `info!`.
                if !span_fields {
                    let names: SmallVec<[&'static str; 8]> =
                        fields.iter().map(|(k, _)| *k).collect();
                    if let Some(callsite) = site::find(meta, message, &names) {
                        let values: SmallVec<[FieldValue<'_>; 8]> = fields
                            .iter()
                            .map(|(_, v)| v.get(scratch, &own.errors))
                            .collect();
                        logger.__emit(level, callsite, &values);
                        return;
                    }
                }
                let fields: SmallVec<[(&str, FieldValue<'_>); 8]> = fields
                    .iter()
                    .map(|(k, v)| (*k, v.get(scratch, &own.errors)))
                    .collect();
                let source = Source {
                    file: meta.file().unwrap_or(""),
                    line: meta.line().unwrap_or(0),
                    module_path: meta.module_path().unwrap_or(""),
                };
                logger.emit_dynamic(level, message, source, &fields);
            });
        });
    }
}

/// Tracing events made into kolog callsites. A tracing callsite's location and field names are
/// static, but its message arrives formatted (`&dyn Debug`), so whether it is a literal shows
/// only by repetition: a thread's second event from a callsite with the same message interns
/// it (message copied and leaked, at most 4,096 callsites in the process); a callsite seen with
/// two messages (a formatted one) stays dynamic for that thread.
mod site {
    use std::cell::RefCell;
    use std::collections::HashMap;
    use std::hash::BuildHasherDefault;
    use std::sync::{Mutex, OnceLock};

    use smallvec::SmallVec;
    use tracing_core::Metadata;

    use crate::drain::AddrHasher;
    use crate::record::{Callsite, CallsiteKind};

    /// Callsites made, at most; later ones stay dynamic records.
    const MAX_SITES: usize = 4096;
    /// Tracing callsites a thread remembers; past them its events stay dynamic records.
    const MAX_KNOWN: usize = 4096;

    /// What a thread knows of a tracing callsite.
    enum Known {
        /// Seen once, with this message.
        Seen(Box<str>),
        /// Interned with its message and field names.
        Site(&'static Callsite),
        /// Seen with two messages.
        Dynamic,
    }

    thread_local! {
        static KNOWN: RefCell<HashMap<usize, Known, BuildHasherDefault<AddrHasher>>> =
            RefCell::default();
    }

    /// The address and length of each name (field names are the callsite's statics).
    type Names = SmallVec<[(usize, usize); 8]>;

    fn addrs(names: &[&'static str]) -> Names {
        names
            .iter()
            .map(|n| (n.as_ptr() as usize, n.len()))
            .collect()
    }

    fn same_names(a: &[&'static str], b: &[&'static str]) -> bool {
        a.len() == b.len()
            && a.iter()
                .zip(b)
                .all(|(x, y)| x.as_ptr() == y.as_ptr() && x.len() == y.len())
    }

    /// Interned callsites by (metadata address, message, field names).
    type Table = HashMap<(usize, Box<str>, Names), &'static Callsite>;

    /// Every interned callsite; a thread looks here (under the lock) only when one of its
    /// callsites repeats a message for the first time.
    fn sites() -> &'static Mutex<Table> {
        static SITES: OnceLock<Mutex<Table>> = OnceLock::new();
        SITES.get_or_init(Default::default)
    }

    /// The kolog callsite for an event of `meta` with this message and these field names (in
    /// record order, each once), if it has one.
    pub(super) fn find(
        meta: &'static Metadata<'static>,
        message: &str,
        names: &[&'static str],
    ) -> Option<&'static Callsite> {
        if names.len() > u16::MAX as usize / 2 {
            return None;
        }
        let key = meta as *const Metadata<'static> as usize;
        KNOWN
            .try_with(|known| {
                let mut known = known.try_borrow_mut().ok()?;
                let len = known.len();
                let Some(entry) = known.get_mut(&key) else {
                    if len < MAX_KNOWN {
                        known.insert(key, Known::Seen(message.into()));
                    }
                    return None;
                };
                match entry {
                    Known::Site(c) if c.message == message => {
                        // A field left empty this time: this record only is dynamic.
                        same_names(c.fields, names).then_some(*c)
                    }
                    Known::Seen(seen) if **seen == *message => {
                        // With the process's table full the callsite stays dynamic: not
                        // `Seen`, which would take the table's lock on every later event.
                        let Some(callsite) = intern(meta, message, names) else {
                            *entry = Known::Dynamic;
                            return None;
                        };
                        *entry = Known::Site(callsite);
                        Some(callsite)
                    }
                    // A second message: formatted, not a literal.
                    _ => {
                        *entry = Known::Dynamic;
                        None
                    }
                }
            })
            .ok()
            .flatten()
    }

    fn intern(
        meta: &'static Metadata<'static>,
        message: &str,
        names: &[&'static str],
    ) -> Option<&'static Callsite> {
        let key = (
            meta as *const Metadata<'static> as usize,
            Box::<str>::from(message),
            addrs(names),
        );
        let mut sites = sites().lock().unwrap_or_else(|e| e.into_inner());
        if let Some(c) = sites.get(&key) {
            return Some(*c);
        }
        if sites.len() >= MAX_SITES {
            return None;
        }
        let callsite: &'static Callsite = Box::leak(Box::new(Callsite {
            message: Box::leak(Box::<str>::from(message)),
            fields: Box::leak(names.to_vec().into_boxed_slice()),
            file: meta.file().unwrap_or(""),
            line: meta.line().unwrap_or(0),
            module_path: meta.module_path().unwrap_or(""),
            kind: CallsiteKind::Event,
            function: None,
        }));
        sites.insert(key, callsite);
        Some(callsite)
    }
}
