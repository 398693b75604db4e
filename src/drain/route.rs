//! Routes: the compiled form of a configured logger, shared by its `Logger` handles (level
//! check) and the drainer (which handlers get its records).

use std::sync::atomic::{AtomicU8, Ordering};
use std::sync::Weak;

use crossbeam_utils::CachePadded;

use super::command::Command;
use super::shared::Shared;
use crate::Level;

/// A configured logger after compilation.
pub(crate) struct Route {
    /// Read by producers on every record: on cache lines of its own, away from `handlers`,
    /// which the drainer reads (see `clock::RECORD_TSC` for why).
    level: CachePadded<AtomicU8>,
    /// Indices of the route's handlers in the drainer's handler table.
    pub handlers: Vec<usize>,
    /// The system whose drainer holds the handlers: they are the route's alone, and are closed
    /// when the route is dropped (see `Drop`).
    owner: Weak<Shared>,
}

impl Route {
    pub(crate) fn new(level: Level, handlers: Vec<usize>, owner: Weak<Shared>) -> Route {
        Route {
            level: CachePadded::new(AtomicU8::new(level as u8)),
            handlers,
            owner,
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

impl Drop for Route {
    /// The route's factory and every logger (and queued record) using it are gone: its
    /// handlers can take no more records, so the drainer closes them (their I/O threads end,
    /// their files are closed), as a system reloading its configuration on one queue manager
    /// needs.
    fn drop(&mut self) {
        if self.handlers.is_empty() {
            return;
        }
        if let Some(shared) = self.owner.upgrade() {
            shared
                .commands
                .push(Command::RemoveHandlers(std::mem::take(&mut self.handlers)));
        }
    }
}
