//! Lifecycle guards: `Begin:`/`End (secs):` records around a scope.

use std::ops::Deref;
use std::time::Instant;

use super::value::FieldValue;
use crate::record::Callsite;
use crate::{Level, Logger};

/// Returned by [`info_life!`](crate::info_life): logs the `End` record when dropped. Derefs to
/// the logger (with the lifecycle's fields bound), so it can log inside the scope.
#[must_use = "the End record is logged when the guard is dropped"]
pub struct LifeGuard {
    logger: Logger,
    level: Level,
    end: &'static Callsite,
    start: Instant,
}

impl LifeGuard {
    #[doc(hidden)]
    pub fn start(
        logger: Logger,
        level: Level,
        begin: &'static Callsite,
        end: &'static Callsite,
    ) -> LifeGuard {
        if logger.enabled(level) {
            logger.__emit(level, begin, &[]);
        }
        LifeGuard {
            logger,
            level,
            end,
            start: Instant::now(),
        }
    }

    /// Seconds since the `Begin` record.
    pub fn elapsed_secs(&self) -> f64 {
        self.start.elapsed().as_secs_f64()
    }
}

impl std::fmt::Debug for LifeGuard {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LifeGuard")
            .field("name", &self.end.message)
            .field("level", &self.level)
            .field("elapsed_secs", &self.elapsed_secs())
            .field("logger", &self.logger)
            .finish()
    }
}

impl Deref for LifeGuard {
    type Target = Logger;

    fn deref(&self) -> &Logger {
        &self.logger
    }
}

impl Drop for LifeGuard {
    fn drop(&mut self) {
        if self.logger.enabled(self.level) {
            let elapsed = self.elapsed_secs();
            self.logger
                .__emit(self.level, self.end, &[FieldValue::F64(elapsed)]);
        }
    }
}
