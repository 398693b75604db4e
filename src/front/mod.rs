//! The producer side: the logging macros, [`Logger`](crate::Logger), value capture and the
//! per-thread encoder that writes records into this thread's ring.

pub(crate) mod emit;
pub(crate) mod life;
pub(crate) mod logger;
pub(crate) mod macros;
pub(crate) mod panic;
pub mod value;
