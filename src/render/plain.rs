//! The plain renderer: a percent-style `fmt` parsed once into segments, then every field the
//! format did not use as ` key=value`; optionally coloured by level.
//!
//! `fmt` keys: `asctime` (the date, per `datefmt`), `level`/`levelname`, `name` (the logger),
//! `event`/`message`, and any field name (empty when absent). Conversions `s`, `d`, `r`, with
//! Python's `-` (left-align) and a width: `%(level)-8s`. `%%` is a literal `%`. Values keep
//! one record on one line: `\n`, `\r` and other control characters are escaped (`\n`, `\r`,
//! `\u{1b}`); a string value with spaces, `=` or quotes is written quoted (`key="a b"`).

use super::json::{push_f64, push_value};
use super::time::{DateFormat, DEFAULT_DATEFMT};
use crate::record::Value;
use crate::{Error, EventDict, Level};

/// The default format.
pub(crate) const DEFAULT_FMT: &str = "[%(asctime)s] [%(level)-8s] [%(name)s]: %(event)s";

#[derive(Debug, Clone, PartialEq, Eq)]
enum Key {
    Asctime,
    Level,
    Name,
    Event,
    Field(String),
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum Segment {
    Lit(Vec<u8>),
    Key { key: Key, left: bool, width: usize },
}

pub(crate) struct PlainRenderer {
    segments: Vec<Segment>,
    /// Field names the format prints, left out of the ` key=value` tail.
    used: Vec<String>,
    date: DateFormat,
    colors: bool,
}

fn parse(fmt: &str) -> Result<Vec<Segment>, Error> {
    let err = |msg: String| Error::configuration("Renderer", format!("fmt `{fmt}`: {msg}"));
    let mut segments = Vec::new();
    let mut lit = Vec::new();
    let b = fmt.as_bytes();
    let mut i = 0;
    while i < b.len() {
        if b[i] != b'%' {
            lit.push(b[i]);
            i += 1;
            continue;
        }
        match b.get(i + 1) {
            Some(b'%') => {
                lit.push(b'%');
                i += 2;
                continue;
            }
            Some(b'(') => {}
            _ => {
                return Err(err(format!(
                    "`%` at byte {i} must start `%(name)s` or be `%%`"
                )))
            }
        }
        let close = fmt[i + 2..]
            .find(')')
            .ok_or_else(|| err(format!("unterminated `%(` at byte {i}")))?;
        let name = &fmt[i + 2..i + 2 + close];
        if name.is_empty() {
            return Err(err(format!("empty key at byte {i}")));
        }
        let mut j = i + 3 + close;
        let left = b.get(j) == Some(&b'-');
        if left {
            j += 1;
        }
        let digits = b[j..].iter().take_while(|c| c.is_ascii_digit()).count();
        let width = if digits > 0 {
            fmt[j..j + digits]
                .parse::<usize>()
                .ok()
                .filter(|w| *w <= 1024)
                .ok_or_else(|| err(format!("width too large at byte {j}")))?
        } else {
            0
        };
        j += digits;
        match b.get(j) {
            Some(b's' | b'd' | b'r') => {}
            Some(c) => {
                return Err(err(format!(
                    "unsupported conversion `{}` for `{name}` (use s, d or r)",
                    *c as char
                )))
            }
            None => return Err(err(format!("missing conversion after `%({name})`"))),
        }
        if !lit.is_empty() {
            segments.push(Segment::Lit(std::mem::take(&mut lit)));
        }
        let key = match name {
            "asctime" => Key::Asctime,
            "level" | "levelname" => Key::Level,
            "name" => Key::Name,
            "event" | "message" => Key::Event,
            other => Key::Field(other.to_owned()),
        };
        segments.push(Segment::Key { key, left, width });
        i = j + 1;
    }
    if !lit.is_empty() {
        segments.push(Segment::Lit(lit));
    }
    Ok(segments)
}

/// Appends `s` with control characters escaped, so a record stays on one line.
#[inline]
fn push_escaped(out: &mut Vec<u8>, s: &str) {
    // Control characters (category Cc) are U+0000–U+001F, U+007F and U+0080–U+009F; the last
    // range is encoded as 0xC2 0x80–0x9F. Text without those bytes is copied as is.
    if !s.bytes().any(|b| b < 0x20 || b == 0x7f || b == 0xc2) {
        out.extend_from_slice(s.as_bytes());
        return;
    }
    push_escaped_chars(out, s);
}

#[cold]
fn push_escaped_chars(out: &mut Vec<u8>, s: &str) {
    for ch in s.chars() {
        match ch {
            '\n' => out.extend_from_slice(b"\\n"),
            '\r' => out.extend_from_slice(b"\\r"),
            '\t' => out.extend_from_slice(b"\\t"),
            c if c.is_control() => {
                out.extend_from_slice(format!("\\u{{{:x}}}", c as u32).as_bytes())
            }
            c => {
                let mut buf = [0; 4];
                out.extend_from_slice(c.encode_utf8(&mut buf).as_bytes());
            }
        }
    }
}

/// Characters in rendered text (bytes that are not UTF-8 count one each).
fn char_count(b: &[u8]) -> usize {
    if b.is_ascii() {
        return b.len();
    }
    std::str::from_utf8(b).map_or(b.len(), |t| t.chars().count())
}

fn needs_quotes(s: &str) -> bool {
    s.is_empty() || s.bytes().any(|b| b == b' ' || b == b'=' || b == b'"')
}

/// Appends a value as plain text.
fn push_plain(out: &mut Vec<u8>, v: &Value<'_>, quote: bool) {
    let s = match v {
        Value::I64(x) => return out.extend_from_slice(itoa::Buffer::new().format(*x).as_bytes()),
        Value::U64(x) => return out.extend_from_slice(itoa::Buffer::new().format(*x).as_bytes()),
        Value::F64(x) if x.is_finite() => return push_f64(out, *x),
        Value::F64(x) => {
            return out.extend_from_slice(crate::record::float_to_string(*x).as_bytes())
        }
        Value::Bool(x) => return out.extend_from_slice(if *x { b"true" } else { b"false" }),
        Value::Json(j) if !j.is_string() => return push_value(out, v),
        Value::Exception(_) => return push_value(out, v),
        Value::Error(e) => e.message,
        other => other.as_str().unwrap_or_default(),
    };
    if quote && needs_quotes(s) {
        out.push(b'"');
        for ch in s.chars() {
            if ch == '"' || ch == '\\' {
                out.push(b'\\');
            }
            let mut buf = [0; 4];
            push_escaped(out, ch.encode_utf8(&mut buf));
        }
        out.push(b'"');
    } else {
        push_escaped(out, s);
    }
}

fn color(level: Level) -> &'static [u8] {
    match level {
        Level::Trace => b"\x1b[2m",
        Level::Debug => b"\x1b[34m",
        Level::Info => b"\x1b[32m",
        Level::Warning => b"\x1b[33m",
        Level::Error => b"\x1b[31m",
        Level::Critical => b"\x1b[1;31m",
    }
}

impl PlainRenderer {
    pub(crate) fn new(
        fmt: Option<&str>,
        datefmt: Option<&str>,
        utc: bool,
        colors: bool,
    ) -> Result<PlainRenderer, Error> {
        let segments = parse(fmt.unwrap_or(DEFAULT_FMT))?;
        let used = segments
            .iter()
            .filter_map(|s| match s {
                Segment::Key {
                    key: Key::Field(f), ..
                } => Some(f.clone()),
                _ => None,
            })
            .collect();
        Ok(PlainRenderer {
            segments,
            used,
            date: DateFormat::parse_in(
                datefmt.unwrap_or(DEFAULT_DATEFMT),
                (!utc).then(super::tz::Zone::local),
            )?,
            colors,
        })
    }

    pub(crate) fn render(&mut self, ev: &EventDict<'_>, out: &mut Vec<u8>) {
        for seg in &self.segments {
            match seg {
                Segment::Lit(l) => out.extend_from_slice(l),
                Segment::Key { key, left, width } => {
                    // Rendered in place; padding (counted in characters) goes before the
                    // colour code when right-aligned, after the reset when left-aligned.
                    let start = out.len();
                    let colored = self.colors && *key == Key::Level;
                    if colored {
                        out.extend_from_slice(color(ev.level));
                    }
                    let text = out.len();
                    match key {
                        Key::Asctime => self.date.format(ev.timestamp_ns, out),
                        Key::Level => out.extend_from_slice(ev.level.as_str().as_bytes()),
                        Key::Name => push_escaped(out, ev.logger),
                        Key::Event => push_escaped(out, &ev.event),
                        Key::Field(f) => {
                            if let Some(v) = ev.get(f) {
                                push_plain(out, v, false);
                            }
                        }
                    }
                    let pad = if *width == 0 {
                        0
                    } else {
                        width.saturating_sub(char_count(&out[text..]))
                    };
                    if colored {
                        out.extend_from_slice(b"\x1b[0m");
                    }
                    if *left {
                        out.resize(out.len() + pad, b' ');
                    } else if pad > 0 {
                        out.splice(start..start, std::iter::repeat_n(b' ', pad));
                    }
                }
            }
        }
        for f in ev.fields() {
            if self.used.iter().any(|u| *u == f.key) {
                continue;
            }
            out.push(b' ');
            push_escaped(out, &f.key);
            out.push(b'=');
            push_plain(out, &f.value, true);
        }
        out.push(b'\n');
    }
}
