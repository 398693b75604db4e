//! Keeps `fork()` out of the short sections in which kolog's threads hold the locks a forked
//! child needs (the ring registry's live list, the stranded rings).
//!
//! A child forked from a multi-threaded process has one thread: a lock that another thread of
//! the parent held at the fork stays locked there for ever, and the child's first `stats()`,
//! `flush()` or new ring would wait for it. Each such section is entered through
//! [`section`]; a `pthread_atfork` handler (installed when the first queue manager starts)
//! makes `fork()` wait until no thread is inside one, and holds new entries back until the
//! fork is done. The sections are cold (a thread's first record, `stats()`, the drainer's
//! reclamation of rings of exited threads, shutdown); the per-record paths never enter one.

use std::cell::Cell;
use std::sync::atomic::{AtomicUsize, Ordering::SeqCst};

/// Threads inside a section (each counted once however deeply it nests).
static INSIDE: AtomicUsize = AtomicUsize::new(0);
/// Forks in progress (between their prepare and parent handlers).
static FORKING: AtomicUsize = AtomicUsize::new(0);

thread_local! {
    /// This thread's section nesting depth. (Const-initialised with no destructor: usable
    /// while the thread's other thread-locals are being destroyed.)
    static DEPTH: Cell<usize> = const { Cell::new(0) };
}

/// A section entered; left when dropped.
pub(crate) struct Section(());

/// Enters a section: waits while a fork is being taken (only at the outermost level: a thread
/// already inside is what the fork waits for).
pub(crate) fn section() -> Section {
    let depth = DEPTH.with(|d| {
        let v = d.get();
        d.set(v + 1);
        v
    });
    if depth == 0 {
        loop {
            INSIDE.fetch_add(1, SeqCst);
            if FORKING.load(SeqCst) == 0 {
                break;
            }
            INSIDE.fetch_sub(1, SeqCst);
            while FORKING.load(SeqCst) != 0 {
                std::thread::yield_now();
            }
        }
    }
    Section(())
}

impl Drop for Section {
    fn drop(&mut self) {
        let depth = DEPTH.with(|d| {
            let v = d.get() - 1;
            d.set(v);
            v
        });
        if depth == 0 {
            INSIDE.fetch_sub(1, SeqCst);
        }
    }
}

/// This thread's own share of [`INSIDE`] (a fork from code a section runs, a waker).
fn own() -> usize {
    usize::from(DEPTH.with(Cell::get) > 0)
}

extern "C" fn prepare() {
    FORKING.fetch_add(1, SeqCst);
    let own = own();
    while INSIDE.load(SeqCst) > own {
        std::thread::yield_now();
    }
}

extern "C" fn parent() {
    FORKING.fetch_sub(1, SeqCst);
}

extern "C" fn child() {
    // The other threads are gone, and with them their (zero) shares.
    INSIDE.store(own(), SeqCst);
    FORKING.store(0, SeqCst);
}

/// Installs the fork handlers (once per process).
pub(crate) fn install() {
    static ONCE: std::sync::Once = std::sync::Once::new();
    ONCE.call_once(|| {
        // SAFETY: the handlers are `extern "C"` functions with no arguments that only touch
        // atomics and a const thread-local, and yield; they stay valid for the process's life.
        unsafe {
            libc::pthread_atfork(Some(prepare), Some(parent), Some(child));
        }
    });
}
