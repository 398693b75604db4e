//! [`install_panic_hook`]: panics become CRITICAL records, flushed before the process goes on
//! unwinding or aborting.

use std::cell::Cell;

use super::value::FieldValue;
use crate::record::{Callsite, CallsiteKind};
use crate::{Error, Kolog, Level};

static CALLSITE: Callsite = Callsite {
    message: "panic",
    fields: &["message", "location", "thread", "backtrace"],
    file: file!(),
    line: line!(),
    module_path: module_path!(),
    kind: CallsiteKind::Event,
    function: None,
};

/// Logs every panic at CRITICAL through the logger `panic` (resolved through the hierarchy,
/// usually to `root`) with its `message`, `location` (`file:line:column`), `thread` and
/// `backtrace`, flushes, then runs the previously installed hook.
///
/// Fails, installing nothing, when the configuration has no logger `panic` resolves to (no
/// `panic`, no `root`): the `CONFIGURATION::LoggerFactory::VALIDATION::ERROR` of
/// [`Kolog::logger`].
///
/// ```
/// let kolog = kolog::Kolog::default();
/// kolog::install_panic_hook(&kolog).unwrap();
/// ```
pub fn install_panic_hook(kolog: &Kolog) -> Result<(), Error> {
    let logger = kolog.logger("panic")?;
    let previous = std::panic::take_hook();
    std::panic::set_hook(Box::new(move |info| {
        // A panic while logging a panic must not recurse. Per thread: panics on other
        // threads at the same moment are logged too.
        thread_local! {
            static IN_HOOK: Cell<bool> = const { Cell::new(false) };
        }
        // During thread-local destruction the flag is gone: do not log then.
        if !IN_HOOK.try_with(|h| h.replace(true)).unwrap_or(true) {
            let message = match (
                info.payload().downcast_ref::<&str>(),
                info.payload().downcast_ref::<String>(),
            ) {
                (Some(s), _) => s,
                (_, Some(s)) => s.as_str(),
                _ => "Box<dyn Any>",
            };
            let location = info
                .location()
                .map(|l| format!("{}:{}:{}", l.file(), l.line(), l.column()))
                .unwrap_or_default();
            let thread = std::thread::current();
            let backtrace = std::backtrace::Backtrace::force_capture().to_string();
            if logger.enabled(Level::Critical) {
                logger.__emit(
                    Level::Critical,
                    &CALLSITE,
                    &[
                        FieldValue::Str(message),
                        FieldValue::Str(&location),
                        FieldValue::Str(thread.name().unwrap_or("<unnamed>")),
                        FieldValue::Str(&backtrace),
                    ],
                );
                logger.inner.shared.flush();
            }
            let _ = IN_HOOK.try_with(|h| h.set(false));
        }
        previous(info);
    }));
    Ok(())
}
