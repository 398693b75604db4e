//! Routes: the compiled form of a configured logger, shared by its `Logger` handles (level
//! check) and the drainer (which handlers get its records).

use std::sync::Weak;

use super::command::Command;
use super::shared::Shared;
use crate::Level;

/// A configured logger after compilation.
pub(crate) struct Route {
    /// Fixed when the configuration is compiled; each `Logger` handle keeps a copy, so the
    /// level check reads no shared memory.
    level: Level,
    /// Indices of the route's handlers in the drainer's handler table.
    pub handlers: Vec<usize>,
    /// The system whose drainer holds the handlers: they are the route's alone, and are closed
    /// when the route is dropped (see `Drop`).
    owner: Weak<Shared>,
}

impl Route {
    pub(crate) fn new(level: Level, handlers: Vec<usize>, owner: Weak<Shared>) -> Route {
        Route {
            level,
            handlers,
            owner,
        }
    }

    /// The route's minimum level.
    pub(crate) fn level(&self) -> Level {
        self.level
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
