//! A `tracing_subscriber::Layer` that turns tracing events into kolog records (feature
//! `tracing`): the event's target names the logger, its fields become record fields (the
//! `message` field is the event), and the fields of the enclosing spans, root first, are bound
//! context.
//!
//! ```ignore
//! use tracing_subscriber::prelude::*;
//! let kolog = kolog::Kolog::from_path("kolog.yaml")?;
//! tracing_subscriber::registry().with(kolog::bridge::tracing::layer(&kolog)).init();
//! ```

use std::fmt;

use tracing_core::field::{Field, Visit};
use tracing_core::span::{Attributes, Id, Record};
use tracing_core::{Event, Subscriber};
use tracing_subscriber::layer::Context;
use tracing_subscriber::registry::LookupSpan;

use super::{Loggers, Owned};
use crate::record::Source;
use crate::{Kolog, Level};

/// The layer returned by [`layer`].
pub struct KologLayer {
    loggers: Loggers,
}

/// A layer sending tracing events to `kolog`'s loggers.
pub fn layer(kolog: &Kolog) -> KologLayer {
    KologLayer {
        loggers: Loggers::new(kolog),
    }
}

/// Fields collected from a span or an event.
#[derive(Default)]
struct Fields {
    message: Option<String>,
    fields: Vec<(&'static str, Owned)>,
}

impl Fields {
    fn set(&mut self, name: &'static str, v: Owned) {
        match self.fields.iter_mut().find(|(k, _)| *k == name) {
            Some(slot) => slot.1 = v,
            None => self.fields.push((name, v)),
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
    fn record_f64(&mut self, field: &Field, value: f64) {
        self.set(field.name(), Owned::F64(value));
    }
    fn record_bool(&mut self, field: &Field, value: bool) {
        self.set(field.name(), Owned::Bool(value));
    }
    fn record_str(&mut self, field: &Field, value: &str) {
        if field.name() == "message" {
            self.message = Some(value.to_owned());
        } else {
            self.set(field.name(), Owned::Str(value.to_owned()));
        }
    }
    fn record_debug(&mut self, field: &Field, value: &dyn fmt::Debug) {
        if field.name() == "message" {
            self.message = Some(format!("{value:?}"));
        } else {
            self.set(field.name(), Owned::Str(format!("{value:?}")));
        }
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
        let mut fields = Fields::default();
        attrs.record(&mut fields);
        if let Some(span) = ctx.span(id) {
            span.extensions_mut().insert(fields);
        }
    }

    fn on_record(&self, id: &Id, values: &Record<'_>, ctx: Context<'_, S>) {
        if let Some(span) = ctx.span(id) {
            if let Some(fields) = span.extensions_mut().get_mut::<Fields>() {
                values.record(fields);
            }
        }
    }

    fn on_event(&self, event: &Event<'_>, ctx: Context<'_, S>) {
        let meta = event.metadata();
        let Some(logger) = self.loggers.get(meta.target()) else {
            return;
        };
        let level = level(meta.level());
        if !logger.enabled(level) {
            return;
        }
        let mut own = Fields::default();
        event.record(&mut own);
        let mut all: Vec<(&'static str, Owned)> = Vec::new();
        if let Some(scope) = ctx.event_scope(event) {
            for span in scope.from_root() {
                if let Some(f) = span.extensions().get::<Fields>() {
                    for (k, v) in &f.fields {
                        match all.iter_mut().find(|(key, _)| key == k) {
                            Some(slot) => slot.1 = v.clone(),
                            None => all.push((k, v.clone())),
                        }
                    }
                }
            }
        }
        for (k, v) in own.fields {
            match all.iter_mut().find(|(key, _)| *key == k) {
                Some(slot) => slot.1 = v,
                None => all.push((k, v)),
            }
        }
        let fields: Vec<_> = all.iter().map(|(k, v)| (*k, v.as_field())).collect();
        let source = Source {
            file: meta.file().unwrap_or(""),
            line: meta.line().unwrap_or(0),
            module_path: meta.module_path().unwrap_or(""),
        };
        logger.emit_dynamic(level, own.message.as_deref().unwrap_or(""), source, &fields);
    }
}
