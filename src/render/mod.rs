//! Renderers: turn an [`EventDict`] into bytes appended to a handler's reusable buffer.
//!
//! Every renderer appends exactly one record, ending with `\n`.

use crate::config::{RendererConfig, RendererKind};
use crate::{Error, EventDict};

/// A compiled renderer. (Placeholder: the plain, JSON and coloured renderers are implemented in
/// the rendering work.)
pub(crate) struct Renderer {
    kind: RendererKind,
}

impl Renderer {
    /// Compiles a renderer from configuration. `is_terminal` says whether the destination is a
    /// terminal (coloured output is off otherwise).
    pub(crate) fn build(config: &RendererConfig, _is_terminal: bool) -> Result<Renderer, Error> {
        Ok(Renderer { kind: config.kind })
    }

    /// Appends one rendered record to `out`.
    pub(crate) fn render(&mut self, event: &EventDict<'_>, out: &mut Vec<u8>) {
        let _ = self.kind;
        out.extend_from_slice(event.event.as_bytes());
        out.push(b'\n');
    }
}

/// RFC 3339 UTC with microseconds (`2024-01-01T12:00:00.123456Z`).
pub(crate) fn rfc3339(unix_nanos: u64) -> String {
    let secs = (unix_nanos / 1_000_000_000) as i64;
    let micros = (unix_nanos % 1_000_000_000) / 1_000;
    let days = secs.div_euclid(86_400);
    let rem = secs.rem_euclid(86_400);
    // Howard Hinnant's civil_from_days.
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = yoe + era * 400 + i64::from(m <= 2);
    format!(
        "{y:04}-{m:02}-{d:02}T{:02}:{:02}:{:02}.{micros:06}Z",
        rem / 3600,
        rem % 3600 / 60,
        rem % 60
    )
}
