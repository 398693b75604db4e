//! kolog: a lock-free, high-throughput structured logging engine.
//!
//! Producer threads encode records into per-thread SPSC rings; one drainer thread per
//! [`QueueManager`] batches them, runs each handler's processors, renders and writes.
//! See `README.md` for the quick start and the configuration reference.

pub mod config;
mod error;
mod level;
pub mod process;
pub mod record;
pub(crate) mod render;
pub(crate) mod write;

pub use config::{BackpressurePolicy, LoggingSystemConfig, QueueConfig};
pub use error::{Error, ErrorKind, Severity};
pub use level::{Level, ParseLevelError};
pub use process::register_processor;
pub use record::EventDict;
pub use write::sink::{Sink, SinkRecord};
