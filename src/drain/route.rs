//! Routes: the compiled form of a configured logger, shared by its `Logger` handles (level
//! check) and the drainer (which handlers get its records).

use std::sync::atomic::{AtomicU8, Ordering};

use crossbeam_utils::CachePadded;

use crate::Level;

/// A configured logger after compilation.
pub(crate) struct Route {
    /// Read by producers on every record: on cache lines of its own, away from `handlers`,
    /// which the drainer reads (see `clock::RECORD_TSC` for why).
    level: CachePadded<AtomicU8>,
    /// Indices of the route's handlers in the drainer's handler table.
    pub handlers: Vec<usize>,
}

impl Route {
    pub(crate) fn new(level: Level, handlers: Vec<usize>) -> Route {
        Route {
            level: CachePadded::new(AtomicU8::new(level as u8)),
            handlers,
        }
    }

    /// Whether records at `level` pass: one relaxed atomic load.
    #[inline(always)]
    pub(crate) fn enabled(&self, level: Level) -> bool {
        level as u8 >= self.level.load(Ordering::Relaxed)
    }

    /// The route's minimum level.
    pub(crate) fn level(&self) -> Level {
        Level::from_u8(self.level.load(Ordering::Relaxed)).unwrap_or(Level::Critical)
    }
}
