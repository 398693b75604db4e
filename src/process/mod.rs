//! Processors: per-handler chains that transform or drop an [`EventDict`] before rendering.
//!
//! A chain is compiled once from configuration into a `Vec` of operations. Built-in processors
//! are plain data the drainer runs directly, without allocating in the common case; custom
//! ones are registered by name with [`register_processor`] before the configuration is loaded,
//! and run under `catch_unwind`, so a panicking processor is counted as a failure instead of
//! stopping the drainer.
//!
//! Built-ins (ko-log's semantics):
//! - `add_callsite_params`: adds `filename`, `lineno`, `funcName`, `module`, `pathname` from the
//!   static callsite (`funcName` is the enclosing function, found from the type name of an
//!   item the macro declares there; for bridged records, the module path's last segment).
//! - `add_context_defaults`: adds each default whose key the event lacks.
//! - `dict_tracebacks`: an error field (`error = &e`) becomes a structured object `{"type",
//!   "message", "chain"}`; a field named `exc_info` is renamed `exception`, as structlog does.
//! - `filter_by_level`: drops events below `min_level`.
//! - `filter_keys`: removes the named keys.
//! - `filter_markup`: strips Rich markup (`[bold red]..[/]`) from the event and string fields.

mod markup;

use std::borrow::Cow;
use std::collections::HashMap;
use std::sync::{Arc, Mutex, OnceLock};

use crate::config::{CallsiteParam, ProcessorConfig};
use crate::record::{file_name, last_segment, Value};
use crate::{Error, EventDict, Level};

/// What a processor decides about an event.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Action {
    /// Pass the event on to the next processor and the renderer.
    Keep,
    /// Drop the event for this handler (ko-log's `DropLog`).
    Drop,
}

/// A processor: transforms an event in place or drops it.
///
/// Closures `FnMut(&mut EventDict) -> Action` are processors.
pub trait Processor: Send + 'static {
    /// Processes one event.
    fn process(&mut self, event: &mut EventDict<'_>) -> Action;
}

impl<F> Processor for F
where
    F: for<'a, 'b> FnMut(&'a mut EventDict<'b>) -> Action + Send + 'static,
{
    fn process(&mut self, event: &mut EventDict<'_>) -> Action {
        self(event)
    }
}

/// Builds a custom processor from its config `params`.
pub type ProcessorFactory =
    dyn Fn(&serde_json::Value) -> Result<Box<dyn Processor>, Error> + Send + Sync + 'static;

fn registry() -> &'static Mutex<HashMap<String, Arc<ProcessorFactory>>> {
    static REGISTRY: OnceLock<Mutex<HashMap<String, Arc<ProcessorFactory>>>> = OnceLock::new();
    REGISTRY.get_or_init(Default::default)
}

/// Registers a custom processor under `name`, usable from configuration as
/// `{"type": name, "params": {...}}`. Registering a name again replaces the factory.
///
/// ```
/// use kolog::{register_processor, process::Action, record::Value};
/// register_processor("add_request_id", |params| {
///     let id = params["request_id"].as_str().unwrap_or("none").to_owned();
///     Ok(Box::new(move |ev: &mut kolog::EventDict<'_>| {
///         ev.insert_default("request_id", Value::String(id.clone()));
///         Action::Keep
///     }))
/// });
/// ```
pub fn register_processor<F>(name: &str, factory: F)
where
    F: Fn(&serde_json::Value) -> Result<Box<dyn Processor>, Error> + Send + Sync + 'static,
{
    registry()
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .insert(name.to_owned(), Arc::new(factory));
}

/// The factory registered under `name`, if any.
pub(crate) fn lookup(name: &str) -> Option<Arc<ProcessorFactory>> {
    registry()
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .get(name)
        .cloned()
}

/// What a chain did with an event.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Outcome {
    /// Every processor kept the event.
    Keep,
    /// A processor dropped it on purpose (a filter).
    Filtered,
    /// A processor panicked; the event is counted as failed.
    Panicked,
}

fn add_callsite(params: &[CallsiteParam], event: &mut EventDict<'_>) {
    let src = event.source;
    for p in params {
        let v = match p {
            CallsiteParam::Filename => Value::Str(file_name(src.file)),
            CallsiteParam::Lineno => Value::U64(u64::from(src.line)),
            // Bridged records: the last segment of the module path they carry.
            CallsiteParam::FuncName => Value::Str(
                event
                    .callsite
                    .function_name()
                    .unwrap_or_else(|| last_segment(src.module_path)),
            ),
            CallsiteParam::Module => Value::Str(src.module_path),
            CallsiteParam::Pathname => Value::Str(src.file),
        };
        event.insert(p.key(), v);
    }
}

fn add_defaults(
    defaults: &[(&'static str, &'static serde_json::Value)],
    event: &mut EventDict<'_>,
) {
    for (k, v) in defaults {
        event.insert_default(*k, scalar(v));
    }
}

/// One compiled step.
enum Op {
    AddCallsite(Vec<CallsiteParam>),
    /// Keys and values live for the process (see [`interned`]), so events borrow them without
    /// allocating.
    ContextDefaults(Vec<(&'static str, &'static serde_json::Value)>),
    DictTracebacks,
    FilterByLevel(Level),
    FilterKeys(Vec<String>),
    FilterMarkup,
    Custom(Box<dyn Processor>),
}

/// A compiled processor chain.
#[derive(Default)]
pub(crate) struct Chain {
    ops: Vec<Op>,
}

fn scalar(v: &'static serde_json::Value) -> Value<'static> {
    match v {
        serde_json::Value::String(s) => Value::Str(s),
        serde_json::Value::Bool(b) => Value::Bool(*b),
        serde_json::Value::Number(n) => n
            .as_u64()
            .map(Value::U64)
            .or_else(|| n.as_i64().map(Value::I64))
            .unwrap_or_else(|| Value::F64(n.as_f64().unwrap_or(f64::NAN))),
        other => Value::Json(Cow::Borrowed(other)),
    }
}

/// `add_context_defaults` objects live for the process, so that events borrow them without
/// allocating; each distinct object is kept once, so that systems built again and again from
/// the same configuration (a reload, a test suite) share it instead of adding a copy each.
fn interned(
    defaults: &serde_json::Map<String, serde_json::Value>,
) -> &'static serde_json::Map<String, serde_json::Value> {
    static INTERNED: Mutex<Vec<&'static serde_json::Map<String, serde_json::Value>>> =
        Mutex::new(Vec::new());
    let mut interned = INTERNED.lock().unwrap_or_else(|e| e.into_inner());
    if let Some(d) = interned.iter().find(|d| same_objects(d, defaults)) {
        return d;
    }
    let d = Box::leak(Box::new(defaults.clone()));
    interned.push(d);
    d
}

/// Equal, with keys in the same order at every level (objects keep their order, which the
/// output shows).
fn same_objects(
    a: &serde_json::Map<String, serde_json::Value>,
    b: &serde_json::Map<String, serde_json::Value>,
) -> bool {
    a.len() == b.len()
        && a.iter()
            .zip(b)
            .all(|((ka, va), (kb, vb))| ka == kb && same_values(va, vb))
}

fn same_values(a: &serde_json::Value, b: &serde_json::Value) -> bool {
    use serde_json::Value as J;
    match (a, b) {
        (J::Object(a), J::Object(b)) => same_objects(a, b),
        (J::Array(a), J::Array(b)) => {
            a.len() == b.len() && a.iter().zip(b).all(|(a, b)| same_values(a, b))
        }
        _ => a == b,
    }
}

impl Chain {
    /// Compiles a chain from configuration.
    pub(crate) fn build(configs: &[ProcessorConfig]) -> Result<Chain, Error> {
        let mut ops = Vec::with_capacity(configs.len());
        for c in configs {
            ops.push(match c {
                ProcessorConfig::AddCallsiteParams { parameters } => {
                    Op::AddCallsite(parameters.clone())
                }
                ProcessorConfig::AddContextDefaults { defaults } => Op::ContextDefaults(
                    interned(defaults)
                        .iter()
                        .map(|(k, v)| (k.as_str(), v))
                        .collect(),
                ),
                ProcessorConfig::DictTracebacks => Op::DictTracebacks,
                ProcessorConfig::FilterByLevel { min_level } => Op::FilterByLevel(*min_level),
                ProcessorConfig::FilterKeys { keys } => Op::FilterKeys(keys.clone()),
                ProcessorConfig::FilterMarkup => Op::FilterMarkup,
                ProcessorConfig::Custom { name, params } => {
                    let factory = lookup(name).ok_or_else(|| {
                        Error::new(
                            crate::ErrorKind::Processor,
                            "PROCESSOR",
                            "ProcessorFactory",
                            "CONFIGURATION",
                            format!("Unknown processor type: {name}"),
                        )
                    })?;
                    Op::Custom(factory(params)?)
                }
            });
        }
        Ok(Chain { ops })
    }

    /// Runs the chain over `event`.
    /// Whether the chain has no processors.
    pub(crate) fn is_empty(&self) -> bool {
        self.ops.is_empty()
    }

    /// Whether every processor is one whose effect depends only on the statement, the logger
    /// and the level (`add_callsite_params`, `add_context_defaults`, `filter_by_level`): the
    /// drainer's direct JSON path can then apply the chain as a per-statement suffix.
    pub(crate) fn is_static(&self) -> bool {
        self.ops.iter().all(|op| {
            matches!(
                op,
                Op::AddCallsite(_) | Op::ContextDefaults(_) | Op::FilterByLevel(_)
            )
        })
    }

    /// Whether the chain's level filters keep a record at `level`.
    #[inline]
    pub(crate) fn keeps_level(&self, level: Level) -> bool {
        self.ops.iter().all(|op| match op {
            Op::FilterByLevel(min) => level >= *min,
            _ => true,
        })
    }

    /// Applies the chain's field-adding processors to `event`, in order (a static chain's
    /// whole effect apart from its level filters).
    pub(crate) fn apply_static(&self, event: &mut EventDict<'_>) {
        for op in &self.ops {
            match op {
                Op::AddCallsite(params) => add_callsite(params, event),
                Op::ContextDefaults(defaults) => add_defaults(defaults, event),
                _ => {}
            }
        }
    }

    pub(crate) fn run(&mut self, event: &mut EventDict<'_>) -> Outcome {
        for op in &mut self.ops {
            match op {
                Op::AddCallsite(params) => add_callsite(params, event),
                Op::ContextDefaults(defaults) => add_defaults(defaults, event),
                Op::DictTracebacks => {
                    // `exc_info` is renamed `exception` whatever its value (`exc_info = %e`
                    // as well as `exc_info = &e`).
                    if let Some(v) = event.remove("exc_info") {
                        let v = match v {
                            Value::Error(e) => Value::Exception(e),
                            other => other,
                        };
                        event.insert("exception", v);
                    }
                    for v in event.values_mut() {
                        if let Value::Error(e) = v {
                            *v = Value::Exception(e.clone());
                        }
                    }
                }
                Op::FilterByLevel(min) => {
                    if event.level < *min {
                        return Outcome::Filtered;
                    }
                }
                Op::FilterKeys(keys) => event.retain(|f| !keys.iter().any(|k| *k == f.key)),
                Op::FilterMarkup => {
                    if let Cow::Owned(s) = markup::strip(&event.event) {
                        event.event = Cow::Owned(s);
                    }
                    for v in event.values_mut() {
                        let stripped = match v.as_str() {
                            Some(s) => match markup::strip(s) {
                                Cow::Owned(o) => Some(o),
                                Cow::Borrowed(_) => None,
                            },
                            None => None,
                        };
                        if let Some(o) = stripped {
                            *v = Value::String(o);
                        }
                    }
                }
                Op::Custom(p) => {
                    let r =
                        std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| p.process(event)));
                    match r {
                        Ok(Action::Keep) => {}
                        Ok(Action::Drop) => return Outcome::Filtered,
                        Err(_) => return Outcome::Panicked,
                    }
                }
            }
        }
        Outcome::Keep
    }
}

#[cfg(test)]
mod tests;
