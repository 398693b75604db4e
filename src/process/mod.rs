//! Processors: per-handler chains that transform or drop an [`EventDict`] before rendering.
//!
//! A chain is compiled once from configuration into a `Vec` of operations. Built-in processors
//! are plain data the drainer runs directly; custom ones are registered by name with
//! [`register_processor`] before the configuration is loaded, and run under `catch_unwind` so a
//! panicking processor is counted as a failure instead of stopping the drainer.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, OnceLock};

use crate::config::ProcessorConfig;
use crate::{Error, EventDict};

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

/// Why a chain did not keep an event.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Outcome {
    /// Every processor kept the event.
    Keep,
    /// A processor dropped it on purpose (a filter).
    Filtered,
    /// A processor panicked; the event is counted as failed.
    Panicked,
}

/// A compiled processor chain. (Placeholder: built-in processors are implemented in the
/// pipeline work; this version runs custom processors only.)
pub(crate) struct Chain {
    ops: Vec<Box<dyn Processor>>,
}

impl Chain {
    /// Compiles a chain from configuration.
    pub(crate) fn build(configs: &[ProcessorConfig]) -> Result<Chain, Error> {
        let mut ops = Vec::new();
        for c in configs {
            if let ProcessorConfig::Custom { name, params } = c {
                let factory = lookup(name).ok_or_else(|| {
                    Error::new(
                        crate::ErrorKind::Processor,
                        "PROCESSOR",
                        "ProcessorFactory",
                        "CONFIGURATION",
                        format!("Unknown processor type: {name}"),
                    )
                })?;
                ops.push(factory(params)?);
            }
        }
        Ok(Chain { ops })
    }

    /// Runs the chain over `event`.
    pub(crate) fn run(&mut self, event: &mut EventDict<'_>) -> Outcome {
        for op in &mut self.ops {
            let r = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| op.process(event)));
            match r {
                Ok(Action::Keep) => {}
                Ok(Action::Drop) => return Outcome::Filtered,
                Err(_) => return Outcome::Panicked,
            }
        }
        Outcome::Keep
    }
}
