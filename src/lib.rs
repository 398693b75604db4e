//! kolog: a lock-free, high-throughput structured logging engine.
//!
//! Producer threads encode records into per-thread SPSC rings; one drainer thread per
//! [`QueueManager`] batches them, runs each handler's processors, renders and writes.
//!
//! ```
//! use kolog::{info, warning, bind, Kolog};
//!
//! let kolog = Kolog::default(); // root logger, plain text to stderr
//! let log = kolog.logger("app").unwrap();
//! info!(log, "Application started", version = "1.0.0");
//! let auth = bind!(log, service = "auth", env = "prod");
//! warning!(auth, "Rate limit exceeded", ip = "192.168.1.1");
//! let report = kolog.shutdown().unwrap();
//! assert_eq!(report.written, 2);
//! ```

#![deny(missing_docs)]

pub mod bridge;
mod clock;
pub mod config;
mod drain;
mod error;
mod front;
mod fuzz;
mod kolog;
mod level;
pub mod process;
pub mod record;
pub(crate) mod render;
pub(crate) mod ring;
pub(crate) mod write;

pub use crate::clock::{set_fixed_time, set_wall_clock_offset};
pub use crate::config::{BackpressurePolicy, LoggingSystemConfig, QueueConfig};
pub use crate::drain::factory::LoggerFactory;
pub use crate::drain::queue_manager::{QueueManager, ShutdownReport, Stats};
pub use crate::error::{Error, ErrorKind, Severity};
pub use crate::front::life::LifeGuard;
pub use crate::front::logger::{EnqueueFuture, Logger};
pub use crate::front::panic::install_panic_hook;
pub use crate::front::value::ToValue;
pub use crate::kolog::Kolog;
pub use crate::level::{Level, ParseLevelError};
pub use crate::process::register_processor;
pub use crate::record::EventDict;
pub use crate::write::sink::{Sink, SinkRecord};

/// Entry points of the fuzz targets; not public API.
#[doc(hidden)]
pub mod __fuzz {
    pub use crate::fuzz::{config, json_renderer, plain_renderer, record_decoder};
}

/// Used by the macros; not public API.
#[doc(hidden)]
pub mod __private {
    pub use crate::front::life::LifeGuard;
    pub use crate::front::logger::EnqueueFuture;
    pub use crate::front::value::{FieldValue, ViaBoxedError, ViaError, ViaValue, Wrap};

    /// A field name as written in a macro, without the `r#` of a raw identifier: `r#type = 1`
    /// is the field `type`, as in `tracing`.
    pub const fn field_name(name: &'static str) -> &'static str {
        match name.as_bytes() {
            [b'r', b'#', rest @ ..] => match core::str::from_utf8(rest) {
                Ok(bare) => bare,
                Err(_) => name,
            },
            _ => name,
        }
    }

    /// Whether no name appears twice (checked at compile time by the macros).
    pub const fn distinct(names: &[&str]) -> bool {
        let mut i = 0;
        while i < names.len() {
            let mut j = i + 1;
            while j < names.len() {
                if same(names[i].as_bytes(), names[j].as_bytes()) {
                    return false;
                }
                j += 1;
            }
            i += 1;
        }
        true
    }

    const fn same(a: &[u8], b: &[u8]) -> bool {
        if a.len() != b.len() {
            return false;
        }
        let mut k = 0;
        while k < a.len() {
            if a[k] != b[k] {
                return false;
            }
            k += 1;
        }
        true
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn distinct_field_names() {
        use super::__private::distinct;
        assert!(distinct(&[]));
        assert!(distinct(&["a", "ab", "b", "ba"]));
        assert!(!distinct(&["a", "b", "a"]));
        assert!(!distinct(&["user_id", "ip", "user_id"]));
        assert!(distinct(&["user_id", "user_ie"]));
    }
}

/// README.md's Rust examples, compiled and run as doc tests.
#[cfg(doctest)]
#[doc = include_str!("../README.md")]
pub struct ReadmeDoctests;
