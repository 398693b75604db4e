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
    /// A factory's internal logger (`kolog`, resolved through its hierarchy), which reports
    /// drops while the factory lives: its route, held weakly, so that the drainer keeps
    /// neither the route's handlers open nor the system alive (a command left in the queue of
    /// a drainer that has finished must not hold the `Shared` that holds the queue).
    AddInternalLogger(std::sync::Weak<super::route::Route>),
    /// Makes the drainer panic (tests of what a crashed drainer leaves behind).
    #[cfg(test)]
    Panic,
    /// Makes the drainer tell the test it got here (`reached`), then wait for `go` before it
    /// goes on with the pass (the records logged meanwhile are all in its next pass).
    #[cfg(test)]
    Stall {
        reached: std::sync::mpsc::Sender<()>,
        go: std::sync::mpsc::Receiver<()>,
    },
    /// Makes the drainer panic as it dispatches the record after the next `n` (a crash in
    /// the middle of a pass).
    #[cfg(test)]
    PanicAtRecord(u64),
}
