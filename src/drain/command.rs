//! Requests from handles to the drainer, applied at the start of a drain pass.

use super::handler::Handler;
use crate::Sink;

pub(crate) enum Command {
    /// Install handlers; they get the indices `first..first + handlers.len()`.
    AddHandlers {
        first: usize,
        handlers: Vec<Handler>,
    },
    /// Divert records of a logger (and its descendants) to a sink.
    AddSink { logger: String, sink: Sink },
    /// Stop diverting records of a logger.
    RemoveSink { logger: String },
    /// Close these handlers: the route they belong to is gone (see `Route`'s `Drop`).
    RemoveHandlers(Vec<usize>),
    /// The logger (`kolog`, resolved through the hierarchy) that reports drops.
    SetInternalLogger(crate::Logger),
    /// Makes the drainer panic (tests of what a crashed drainer leaves behind).
    #[cfg(test)]
    Panic,
}
