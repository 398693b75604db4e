//! Renderers: turn an [`EventDict`] into bytes appended to a handler's reusable buffer.
//!
//! Every renderer appends exactly one record ending with `\n`: plain (`stream_plain`,
//! `file_plain`), coloured plain (`stream_colored`) and JSON (`stream_json`, `file_json`).

mod json;
mod plain;
mod time;
mod tz;

/// Checks a plain renderer's `fmt` (config validation; the renderer parses it again when built).
pub(crate) fn check_fmt(fmt: &str) -> Result<(), crate::Error> {
    plain::check(fmt)
}

/// Checks a `datefmt` (config validation).
pub(crate) fn check_datefmt(fmt: &str) -> Result<(), crate::Error> {
    time::DateFormat::parse_in(fmt, None).map(drop)
}

pub(crate) use json::{
    context_json, push_str as push_json_str, JsonRenderer, JsonTemplate, LoggerJson,
};
pub(crate) use plain::PlainRenderer;
pub(crate) use time::civil;

use crate::config::{RendererConfig, RendererKind};
use crate::{Error, EventDict};

/// A compiled renderer.
pub(crate) enum Renderer {
    Plain(plain::PlainRenderer),
    Json(json::JsonRenderer),
}

impl Renderer {
    /// Compiles a renderer from configuration. `is_terminal` says whether the destination is a
    /// terminal: `stream_colored` colours only then, and never when `NO_COLOR` is set.
    pub(crate) fn build(config: &RendererConfig, is_terminal: bool) -> Result<Renderer, Error> {
        let colors = config.kind == RendererKind::StreamColored
            && is_terminal
            && std::env::var_os("NO_COLOR").is_none_or(|v| v.is_empty());
        Ok(match config.kind {
            RendererKind::StreamJson | RendererKind::FileJson => {
                // `fmt` and `datefmt` are accepted for ko-log compatibility; JSON timestamps are
                // always RFC 3339.
                Renderer::Json(json::JsonRenderer::new(config.indentation))
            }
            RendererKind::StreamPlain | RendererKind::StreamColored | RendererKind::FilePlain => {
                Renderer::Plain(plain::PlainRenderer::new(
                    config.fmt.as_deref(),
                    config.datefmt.as_deref(),
                    config.utc,
                    colors,
                )?)
            }
        })
    }

    /// The JSON renderer, when it can render plain events straight from their encoded values.
    #[inline]
    pub(crate) fn encoded_json(&mut self) -> Option<&mut JsonRenderer> {
        match self {
            Renderer::Json(r) if r.renders_encoded() => Some(r),
            _ => None,
        }
    }

    /// The plain renderer, if this is one.
    #[inline]
    pub(crate) fn plain(&mut self) -> Option<&mut PlainRenderer> {
        match self {
            Renderer::Plain(r) => Some(r),
            Renderer::Json(_) => None,
        }
    }

    /// Appends one rendered record to `out`.
    #[inline]
    pub(crate) fn render(&mut self, event: &EventDict<'_>, out: &mut Vec<u8>) {
        match self {
            Renderer::Plain(r) => r.render(event, out),
            Renderer::Json(r) => r.render(event, out),
        }
    }
}

/// RFC 3339 UTC with microseconds (`2024-01-01T12:00:00.123456Z`).
pub(crate) fn rfc3339(unix_nanos: u64) -> String {
    let mut out = Vec::with_capacity(27);
    time::push_rfc3339(&mut out, unix_nanos);
    String::from_utf8(out).unwrap_or_default()
}

#[cfg(test)]
mod tests;
