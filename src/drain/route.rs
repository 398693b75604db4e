//! Routes: the compiled form of a configured logger, shared by its `Logger` handles (level
//! check) and the drainer (which handlers get its records).

use std::sync::atomic::{AtomicU8, Ordering};

use crate::Level;

/// A configured logger after compilation.
pub(crate) struct Route {
    level: AtomicU8,
    /// Indices of the route's handlers in the drainer's handler table.
    pub handlers: Vec<usize>,
}

impl Route {
    pub(crate) fn new(level: Level, handlers: Vec<usize>) -> Route {
        Route {
            level: AtomicU8::new(level as u8),
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
