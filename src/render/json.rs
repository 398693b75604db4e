//! The JSON renderer: one flat object per record, structlog-style.
//!
//! Keys in order: `timestamp` (RFC 3339, UTC, microseconds, `Z`), `level`, `logger`, `event`,
//! then the fields (bound context, record fields, processor additions). Integers with itoa,
//! finite floats with ryu (shortest round-trip form), non-finite floats as strings (`"NaN"`,
//! `"inf"`, `"-inf"`), strings escaped per RFC 8259 (`"`, `\`, control characters). A field
//! whose key is one of the four fixed keys is written as `fields.<key>` so no key repeats.
//! With `indentation`, the object is pretty-printed over several lines.

use super::time::push_rfc3339;
use crate::record::{ErrorValue, Value};
use crate::EventDict;

const RESERVED: [&str; 4] = ["timestamp", "level", "logger", "event"];

pub(crate) struct JsonRenderer {
    indent: Option<usize>,
    pretty: Vec<u8>,
    /// `YYYY-MM-DDTHH:MM:SS` of the last second rendered.
    date: Option<(u64, [u8; 19])>,
}

/// The length of the prefix of `bytes` that needs no escaping, eight bytes at a time: a byte
/// needs escaping when it is a control character (< 0x20), `"` or `\`.
#[inline]
fn plain_prefix(bytes: &[u8]) -> usize {
    const LO: u64 = 0x0101_0101_0101_0101;
    const HI: u64 = 0x8080_8080_8080_8080;
    let has_zero = |x: u64| x.wrapping_sub(LO) & !x & HI;
    let mut i = 0;
    while i + 8 <= bytes.len() {
        let x = u64::from_le_bytes(bytes[i..i + 8].try_into().expect("8 bytes"));
        let control = x.wrapping_sub(LO * 0x20) & !x & HI;
        if control | has_zero(x ^ (LO * b'"' as u64)) | has_zero(x ^ (LO * b'\\' as u64)) != 0 {
            break;
        }
        i += 8;
    }
    while i < bytes.len() && !matches!(bytes[i], 0..=0x1f | b'"' | b'\\') {
        i += 1;
    }
    i
}

/// Appends `s` as a JSON string literal.
#[inline]
pub(crate) fn push_str(out: &mut Vec<u8>, s: &str) {
    let bytes = s.as_bytes();
    let clean = plain_prefix(bytes);
    out.reserve(bytes.len() + 2);
    out.push(b'"');
    out.extend_from_slice(&bytes[..clean]);
    if clean == bytes.len() {
        out.push(b'"');
        return;
    }
    push_escaped_tail(out, &bytes[clean..]);
}

#[cold]
fn push_escaped_tail(out: &mut Vec<u8>, bytes: &[u8]) {
    let mut start = 0;
    for (i, &b) in bytes.iter().enumerate() {
        let esc: &[u8] = match b {
            b'"' => b"\\\"",
            b'\\' => b"\\\\",
            b'\n' => b"\\n",
            b'\r' => b"\\r",
            b'\t' => b"\\t",
            0x08 => b"\\b",
            0x0c => b"\\f",
            0..=0x1f => {
                out.extend_from_slice(&bytes[start..i]);
                const HEX: &[u8; 16] = b"0123456789abcdef";
                out.extend_from_slice(&[
                    b'\\',
                    b'u',
                    b'0',
                    b'0',
                    HEX[(b >> 4) as usize],
                    HEX[(b & 15) as usize],
                ]);
                start = i + 1;
                continue;
            }
            _ => continue,
        };
        out.extend_from_slice(&bytes[start..i]);
        out.extend_from_slice(esc);
        start = i + 1;
    }
    out.extend_from_slice(&bytes[start..]);
    out.push(b'"');
}

/// Appends a float: ryu for finite values, a string otherwise.
pub(crate) fn push_f64(out: &mut Vec<u8>, v: f64) {
    if v.is_finite() {
        out.extend_from_slice(ryu::Buffer::new().format_finite(v).as_bytes());
    } else {
        push_str(out, &crate::record::float_to_string(v));
    }
}

fn push_exception(out: &mut Vec<u8>, e: &ErrorValue<'_>) {
    out.extend_from_slice(b"{\"type\":");
    push_str(out, e.type_name);
    out.extend_from_slice(b",\"message\":");
    push_str(out, e.message);
    out.extend_from_slice(b",\"chain\":[");
    for (i, c) in e.chain().enumerate() {
        if i > 0 {
            out.push(b',');
        }
        push_str(out, c);
    }
    out.extend_from_slice(b"]}");
}

/// Appends a value as JSON.
pub(crate) fn push_value(out: &mut Vec<u8>, v: &Value<'_>) {
    match v {
        Value::I64(x) => out.extend_from_slice(itoa::Buffer::new().format(*x).as_bytes()),
        Value::U64(x) => out.extend_from_slice(itoa::Buffer::new().format(*x).as_bytes()),
        Value::F64(x) => push_f64(out, *x),
        Value::Bool(x) => out.extend_from_slice(if *x { b"true" } else { b"false" }),
        Value::Str(s) => push_str(out, s),
        Value::String(s) => push_str(out, s),
        Value::Json(j) => {
            // Writing into a Vec cannot fail.
            let _ = serde_json::to_writer(&mut *out, j.as_ref());
        }
        Value::Error(e) => push_str(out, e.message),
        Value::Exception(e) => push_exception(out, e),
    }
}

impl JsonRenderer {
    pub(crate) fn new(indent: Option<usize>) -> JsonRenderer {
        JsonRenderer {
            indent,
            pretty: Vec::new(),
            date: None,
        }
    }

    pub(crate) fn render(&mut self, ev: &EventDict<'_>, out: &mut Vec<u8>) {
        match self.indent {
            None => self.render_line(ev, out),
            Some(n) => {
                let mut pretty = std::mem::take(&mut self.pretty);
                pretty.clear();
                self.render_line(ev, &mut pretty);
                self.pretty = pretty;
                let value: serde_json::Value =
                    serde_json::from_slice(&self.pretty[..self.pretty.len() - 1])
                        .unwrap_or_default();
                let indent = vec![b' '; n];
                let fmt = serde_json::ser::PrettyFormatter::with_indent(&indent);
                let mut ser = serde_json::Serializer::with_formatter(&mut *out, fmt);
                let _ = serde::Serialize::serialize(&value, &mut ser);
                out.push(b'\n');
            }
        }
    }
}

impl JsonRenderer {
    /// Appends the RFC 3339 timestamp; the date and time of day are cached per second.
    fn push_timestamp(&mut self, out: &mut Vec<u8>, unix_nanos: u64) {
        let sec = unix_nanos / 1_000_000_000;
        let prefix = match self.date {
            Some((s, p)) if s == sec => p,
            _ => {
                let mut full = Vec::with_capacity(27);
                push_rfc3339(&mut full, sec * 1_000_000_000);
                let mut p = [0u8; 19];
                p.copy_from_slice(&full[..19]);
                self.date = Some((sec, p));
                p
            }
        };
        out.extend_from_slice(&prefix);
        let micros = (unix_nanos % 1_000_000_000 / 1_000) as u32;
        let mut frac = *b".000000Z";
        let mut m = micros;
        for i in (1..7).rev() {
            frac[i] = b'0' + (m % 10) as u8;
            m /= 10;
        }
        out.extend_from_slice(&frac);
    }

    fn render_line(&mut self, ev: &EventDict<'_>, out: &mut Vec<u8>) {
        render_line_with(ev, out, |out| self.push_timestamp(out, ev.timestamp_ns));
    }
}

fn render_line_with(ev: &EventDict<'_>, out: &mut Vec<u8>, timestamp: impl FnOnce(&mut Vec<u8>)) {
    out.extend_from_slice(b"{\"timestamp\":\"");
    timestamp(out);
    out.extend_from_slice(b"\",\"level\":\"");
    out.extend_from_slice(ev.level.as_str().as_bytes());
    out.extend_from_slice(b"\",\"logger\":");
    push_str(out, ev.logger);
    out.extend_from_slice(b",\"event\":");
    push_str(out, &ev.event);
    for f in ev.fields() {
        out.push(b',');
        if RESERVED.contains(&f.key.as_ref()) {
            let mut k = String::with_capacity(7 + f.key.len());
            k.push_str("fields.");
            k.push_str(&f.key);
            push_str(out, &k);
        } else {
            push_str(out, &f.key);
        }
        out.push(b':');
        push_value(out, &f.value);
    }
    out.extend_from_slice(b"}\n");
}
