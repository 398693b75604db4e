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
