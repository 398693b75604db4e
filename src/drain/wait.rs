//! Which drainer threads wait for which systems, so that code a drainer runs (a custom
//! processor) can wait for another system as any producer does, without two drainers ever
//! waiting for each other.
//!
//! A processor that logs into another system's full ring under `block`, or flushes another
//! system (or reads a sink attached to one), waits for that system's drainer. That drainer
//! may itself be running a processor that waits, directly or through others, for the first
//! one: each such wait is recorded as an edge from the waiting drainer's system to the system
//! it waits for, and a waiter that finds a cycle through its own edge gives up (its record is
//! counted in `dropped_full`, its flush returns). A drainer waiting for its own system is
//! not recorded: it never waits (see [`drainer_of`]).

use std::cell::Cell;
use std::sync::Mutex;

use super::shared::Shared;

thread_local! {
    /// On a drainer thread: the address of its system's `Shared` (0 elsewhere).
    static DRAINER_OF: Cell<usize> = const { Cell::new(0) };
}

/// Marks this thread as the drainer of `shared`.
pub(crate) fn set_drainer_of(shared: &Shared) {
    DRAINER_OF.with(|d| d.set(shared as *const Shared as usize));
}

/// The system whose drainer this thread is, as its `Shared`'s address.
fn this_drainer() -> Option<usize> {
    DRAINER_OF
        .try_with(Cell::get)
        .ok()
        .filter(|&system| system != 0)
}

/// Whether this is a drainer thread (of any system).
pub(crate) fn on_drainer_thread() -> bool {
    this_drainer().is_some()
}

/// Whether this is the drainer thread of `shared`: code it runs must not wait for `shared`,
/// which would wait for itself.
pub(crate) fn drainer_of(shared: &Shared) -> bool {
    this_drainer() == Some(shared as *const Shared as usize)
}

/// The waits of drainer threads for other systems: (the waiting drainer's system, the system
/// it waits for), by `Shared` address. A drainer runs one processor at a time, so it has at
/// most one edge. Both systems are alive while the edge is: the waiter runs on the drainer of
/// the first and holds a handle of the second.
static WAITS: Mutex<Vec<(usize, usize)>> = Mutex::new(Vec::new());

/// A drainer thread's wait for another system, recorded while it lasts.
pub(crate) struct DrainerWait {
    from: usize,
}

impl DrainerWait {
    /// Records that this thread, a drainer of another system, is about to wait for `target`.
    /// `None` when this is no drainer thread (nothing to record).
    pub(crate) fn begin(target: &Shared) -> Option<DrainerWait> {
        let from = this_drainer()?;
        let to = target as *const Shared as usize;
        lock().push((from, to));
        Some(DrainerWait { from })
    }

    /// Whether the system this wait is for waits, directly or through others, for this
    /// drainer's own system: then nobody in the cycle would ever go on, and this waiter must
    /// give up. (Of two drainers starting to wait for each other at once, the second to look
    /// sees the cycle, at the latest.)
    pub(crate) fn deadlocked(&self) -> bool {
        let waits = lock();
        let next = |system: usize| waits.iter().find(|(w, _)| *w == system).map(|e| e.1);
        let mut at = next(self.from);
        // A path of more edges than there are cannot be simple: a cycle elsewhere.
        for _ in 0..waits.len() {
            match at {
                None => return false,
                Some(system) if system == self.from => return true,
                Some(system) => at = next(system),
            }
        }
        false
    }
}

impl Drop for DrainerWait {
    fn drop(&mut self) {
        let mut waits = lock();
        if let Some(i) = waits.iter().position(|(w, _)| *w == self.from) {
            waits.swap_remove(i);
        }
    }
}

fn lock() -> std::sync::MutexGuard<'static, Vec<(usize, usize)>> {
    WAITS.lock().unwrap_or_else(|e| e.into_inner())
}
