//! The plain renderer: a percent-style `fmt` parsed once into segments, then every field the
//! format did not use as ` key=value`; optionally coloured by level.
//!
//! `fmt` keys: `asctime` (the date, per `datefmt`), `level`/`levelname`, `name` (the logger),
//! `event`/`message`, and any field name (empty when absent). Conversions `s`, `d`, `r` (see
//! [`Conv`]), Python's flags `-` (left-align), `0`, `+`, ` `, `#` (see [`Spec`]), a width
//! and a precision: `%(level)-8s`, `%(lineno)04d`, `%(name).10s`. `%%` is a literal `%`.
//! Values and the literal text of `fmt` and `datefmt` keep one record on one line: newline,
//! CR and tab are written `\n`, `\r`, `\t`, other control characters (U+0000–U+001F,
//! U+007F–U+009F) and the line and paragraph separators U+2028/U+2029 `\u{hex}` (`\u{1b}`,
//! `\u{2028}`; a tab in literal text is kept). In the ` key=value` tail a string value, a key
//! or a nested value's JSON text is written quoted when it is empty or has a space, `=`, `"`
//! or `\` (`key="a b"`, `"a b"=1`, `o="{\"a\":1}"`, `p="C:\\x"`), with `"` and `\` escaped
//! (`\"`, `\\`); so an unquoted tail value never holds a backslash of its own. In fmt fields
//! (`%(event)s`, not quoted), a backslash is written `\\` when it could be read as the start of
//! an escape: before another backslash, `n`, `r`, `t`, `u` or an escaped character, or at the
//! end of the text (`C:\data` stays, `a\nb` is `a\\nb`). Different texts never render alike.

use smallvec::SmallVec;

use super::json::{push_f64, push_value};
use super::time::{DateFormat, DEFAULT_DATEFMT};
use crate::record::decode::Values;
use crate::record::{Callsite, Field, Value};
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

/// A `%(key)...` conversion: `s` (the value as text), `d` (a number as an integer: a float is
/// truncated, a bool is `1`/`0`, as Python's `%d` does; a string of an integer's digits, as a
/// `u128`/`i128` beyond 64 bits is carried, is that integer; anything else as `s`) or `r` (a
/// string in Python's `repr` quotes, `'text'`; anything else as `s`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Conv {
    S,
    D,
    R,
}

/// How one `%(key)...` is written: Python's flags (`-` left-aligns; `0` pads a `d` number with
/// zeros after its sign; `+` and ` ` give a `d` number a sign or a space; `#` changes
/// nothing for these conversions), the width, the precision (`.3`: text cut to that many
/// characters, a `d` number given at least that many digits) and the conversion.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Spec {
    left: bool,
    zero: bool,
    sign: Option<u8>,
    width: usize,
    precision: Option<usize>,
    conv: Conv,
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum Segment {
    Lit(Vec<u8>),
    Key { key: Key, spec: Spec },
}

pub(crate) struct PlainRenderer {
    segments: Vec<Segment>,
    /// Field names the format prints, left out of the ` key=value` tail.
    used: Vec<String>,
    date: DateFormat,
    colors: bool,
}

/// Checks `fmt` without building a renderer (config validation).
pub(super) fn check(fmt: &str) -> Result<(), Error> {
    parse(fmt).map(drop)
}

fn parse(fmt: &str) -> Result<Vec<Segment>, Error> {
    let err = |msg: String| Error::configuration("Renderer", format!("fmt `{fmt}`: {msg}"));
    let mut segments = Vec::new();
    let mut lit = Vec::new();
    let b = fmt.as_bytes();
    let mut i = 0;
    while i < b.len() {
        if b[i] != b'%' {
            // `i` is at a character boundary: it only ever follows a whole character or ASCII.
            let c = fmt[i..].chars().next().unwrap_or_default();
            push_literal(&mut lit, c);
            i += c.len_utf8();
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
        let (mut left, mut zero, mut sign) = (false, false, None);
        while let Some(&f) = b.get(j) {
            match f {
                b'-' => left = true,
                b'0' => zero = true,
                b'+' => sign = Some(b'+'),
                b' ' if sign.is_none() => sign = Some(b' '),
                b' ' | b'#' => {}
                _ => break,
            }
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
        // Python's precision: `.` and digits (none meaning 0).
        let precision = if b.get(j) == Some(&b'.') {
            j += 1;
            let digits = b[j..].iter().take_while(|c| c.is_ascii_digit()).count();
            let p = if digits > 0 {
                fmt[j..j + digits]
                    .parse::<usize>()
                    .ok()
                    .filter(|p| *p <= 1024)
                    .ok_or_else(|| err(format!("precision too large at byte {j}")))?
            } else {
                0
            };
            j += digits;
            Some(p)
        } else {
            None
        };
        // `j` follows ASCII (`)`, `-`, `.`, digits): a character boundary.
        let conv = match fmt[j..].chars().next() {
            Some('s') => Conv::S,
            Some('d') => Conv::D,
            Some('r') => Conv::R,
            Some(c) => {
                return Err(err(format!(
                    "unsupported conversion `{c}` for `{name}` (use s, d or r)"
                )))
            }
            None => return Err(err(format!("missing conversion after `%({name})`"))),
        };
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
        segments.push(Segment::Key {
            key,
            spec: Spec {
                left,
                zero,
                sign,
                width,
                precision,
                conv,
            },
        });
        i = j + 1;
    }
    if !lit.is_empty() {
        segments.push(Segment::Lit(lit));
    }
    Ok(segments)
}

/// Appends unquoted text (a fmt field): escaped so that a record stays on one line and no two
/// texts look alike (see the module doc).
#[inline]
pub(super) fn push_escaped(out: &mut Vec<u8>, s: &str) {
    if !s.bytes().any(|b| CLASS[b as usize] & ESCAPE != 0) {
        out.extend_from_slice(s.as_bytes());
        return;
    }
    push_escaped_chars(out, s);
}

/// Appends one character of a format's literal text (`fmt`, `datefmt`), escaped as values are
/// so that a record stays on one line; a tab is kept (a tab-separated format), and so is a
/// backslash (the configuration's own text).
pub(super) fn push_literal(out: &mut Vec<u8>, c: char) {
    match c {
        '\t' | '\\' => out.push(c as u8),
        c => push_escaped_char(out, c),
    }
}

/// Whether `c` is written as an escape: a control character or U+2028/U+2029, which some
/// viewers take for line breaks.
#[inline]
fn escaped(c: char) -> bool {
    c.is_control() || c == '\u{2028}' || c == '\u{2029}'
}

/// Appends `c`, escaped when [`escaped`]; a backslash as it is (callers escape it).
fn push_escaped_char(out: &mut Vec<u8>, c: char) {
    match c {
        '\n' => out.extend_from_slice(b"\\n"),
        '\r' => out.extend_from_slice(b"\\r"),
        '\t' => out.extend_from_slice(b"\\t"),
        c if escaped(c) => out.extend_from_slice(format!("\\u{{{:x}}}", c as u32).as_bytes()),
        c => out.extend_from_slice(c.encode_utf8(&mut [0; 4]).as_bytes()),
    }
}

#[cold]
fn push_escaped_chars(out: &mut Vec<u8>, s: &str) {
    let mut chars = s.chars().peekable();
    while let Some(c) = chars.next() {
        if c != '\\' {
            push_escaped_char(out, c);
            continue;
        }
        // Doubled where `\` and what follows could read as an escape (or, at the end, as
        // the start of one with the text after it).
        let ambiguous = chars
            .peek()
            .is_none_or(|&n| matches!(n, '\\' | 'n' | 'r' | 't' | 'u') || escaped(n));
        out.extend_from_slice(if ambiguous { b"\\\\" } else { b"\\" });
    }
}

/// Characters in rendered text (bytes that are not UTF-8 count one each).
fn char_count(b: &[u8]) -> usize {
    if b.is_ascii() {
        return b.len();
    }
    std::str::from_utf8(b).map_or(b.len(), |t| t.chars().count())
}

/// Byte classes for [`push_plain`] and [`push_escaped`]: `QUOTE` bytes make a tail value quoted;
/// `ESCAPE` bytes may start a character that is escaped (category Cc: U+0000–U+001F, U+007F and
/// U+0080–U+009F, the last encoded as 0xC2 0x80–0x9F; U+2028/U+2029, 0xE2 0x80 0xA8/0xA9) or
/// are a backslash. Text without them is copied as is.
const QUOTE: u8 = 1;
const ESCAPE: u8 = 2;
static CLASS: [u8; 256] = {
    let mut t = [0u8; 256];
    let mut b = 0;
    while b < 256 {
        t[b] = match b as u8 {
            b' ' | b'=' | b'"' => QUOTE,
            b'\\' => QUOTE | ESCAPE,
            0..=0x1f | 0x7f | 0xc2 | 0xe2 => ESCAPE,
            _ => 0,
        };
        b += 1;
    }
    t
};

/// Appends a value as plain text. A nested value (a JSON array, object or null) is its JSON
/// text, quoted and escaped by the same rule as a string.
#[inline]
fn push_plain(out: &mut Vec<u8>, v: &Value<'_>, quote: bool) {
    let json;
    let s = match v {
        Value::I64(x) => return out.extend_from_slice(itoa::Buffer::new().format(*x).as_bytes()),
        Value::U64(x) => return out.extend_from_slice(itoa::Buffer::new().format(*x).as_bytes()),
        Value::F64(x) if x.is_finite() => return push_f64(out, *x),
        Value::F64(x) => {
            return out.extend_from_slice(crate::record::float_to_string(*x).as_bytes())
        }
        Value::Bool(x) => return out.extend_from_slice(if *x { b"true" } else { b"false" }),
        Value::Json(j) if !j.is_string() => {
            // Serializing a `serde_json::Value` cannot fail.
            json = serde_json::to_string(j.as_ref()).unwrap_or_default();
            &json
        }
        Value::Exception(_) => {
            // Its JSON object, quoted by the same rule as any nested value.
            let mut text = Vec::new();
            push_value(&mut text, v);
            json = String::from_utf8(text).unwrap_or_default();
            &json
        }
        Value::Error(e) => e.message,
        other => other.as_str().unwrap_or_default(),
    };
    let class = s.bytes().fold(0, |c, b| c | CLASS[b as usize]);
    if quote && (s.is_empty() || class & QUOTE != 0) {
        push_quoted(out, s);
    } else if class & ESCAPE == 0 {
        out.extend_from_slice(s.as_bytes());
    } else {
        push_escaped_chars(out, s);
    }
}

/// Appends `s` in double quotes, `"` and `\` escaped, as the tail writes a key or value that
/// needs quoting.
#[cold]
fn push_quoted(out: &mut Vec<u8>, s: &str) {
    out.push(b'"');
    for ch in s.chars() {
        if ch == '"' || ch == '\\' {
            out.extend_from_slice(&[b'\\', ch as u8]);
        } else {
            push_escaped_char(out, ch);
        }
    }
    out.push(b'"');
}

/// Appends one `%(key)...` segment that `text` renders, padded to the spec's width in
/// characters: before the colour code when right-aligned, after the reset when left-aligned.
/// `text` returns whether it wrote a `%d` number, which takes the `+`/` ` sign flag and is
/// padded with zeros after its sign under the `0` flag, as in Python.
#[inline]
fn push_padded(
    out: &mut Vec<u8>,
    spec: &Spec,
    color: Option<&[u8]>,
    text: impl FnOnce(&mut Vec<u8>) -> bool,
) {
    let start = out.len();
    if let Some(c) = color {
        out.extend_from_slice(c);
    }
    let from = out.len();
    let number = text(out);
    if let Some(p) = spec.precision {
        apply_precision(out, from, p, number);
    }
    if number {
        if let Some(sign) = spec.sign {
            if out.get(from) != Some(&b'-') {
                out.insert(from, sign);
            }
        }
    }
    let pad = if spec.width == 0 {
        0
    } else {
        spec.width.saturating_sub(char_count(&out[from..]))
    };
    if color.is_some() {
        out.extend_from_slice(b"\x1b[0m");
    }
    if spec.left {
        out.resize(out.len() + pad, b' ');
    } else if pad > 0 && number && spec.zero {
        let at = from + usize::from(matches!(out.get(from), Some(b'-' | b'+' | b' ')));
        out.splice(at..at, std::iter::repeat_n(b'0', pad));
    } else if pad > 0 {
        out.splice(start..start, std::iter::repeat_n(b' ', pad));
    }
}

/// Python's precision `p` on the text rendered from `from` on: a `%d` number (`-` and digits)
/// gets zeros after its sign up to `p` digits; other text is cut after `p` characters.
#[cold]
fn apply_precision(out: &mut Vec<u8>, from: usize, p: usize, number: bool) {
    if number {
        let digits_at = from + usize::from(out.get(from) == Some(&b'-'));
        let digits = out.len() - digits_at;
        if digits < p {
            out.splice(digits_at..digits_at, std::iter::repeat_n(b'0', p - digits));
        }
    } else if let Some((cut, _)) = out[from..]
        .iter()
        .enumerate()
        .filter(|(_, b)| (**b & 0xC0) != 0x80)
        .nth(p)
    {
        out.truncate(from + cut);
    }
}

/// Appends `s` as Python's `repr` writes a string: in single quotes, or in double quotes when
/// it has a single quote and no double one; backslashes and the quote doubled or escaped,
/// control characters escaped as everywhere else.
fn push_repr(out: &mut Vec<u8>, s: &str) {
    let q = if s.contains('\'') && !s.contains('"') {
        '"'
    } else {
        '\''
    };
    out.push(q as u8);
    for ch in s.chars() {
        if ch == q || ch == '\\' {
            out.extend_from_slice(&[b'\\', ch as u8]);
        } else {
            push_escaped_char(out, ch);
        }
    }
    out.push(q as u8);
}

/// Appends text the renderer makes itself (the level, the logger's name, the event) under
/// `conv`: quoted for `r`, as it is otherwise. Never a number.
fn push_text(out: &mut Vec<u8>, conv: Conv, s: &str) -> bool {
    if conv == Conv::R {
        push_repr(out, s);
    } else {
        push_escaped(out, s);
    }
    false
}

/// Appends a field's value in the format under `conv` (see [`Conv`]); returns whether it
/// wrote a `%d` number.
fn push_converted(out: &mut Vec<u8>, conv: Conv, v: &Value<'_>) -> bool {
    use serde_json::Value as J;
    match (conv, v) {
        (Conv::R, v) if v.as_str().is_some() => {
            push_repr(out, v.as_str().unwrap_or_default());
            false
        }
        (Conv::D, Value::I64(_) | Value::U64(_)) => {
            push_plain(out, v, false);
            true
        }
        // An integer beyond 64 bits (a `u128`/`i128`) is carried as its digits.
        (Conv::D, v) if v.as_str().is_some_and(integer_digits) => {
            out.extend_from_slice(v.as_str().unwrap_or_default().as_bytes());
            true
        }
        (Conv::D, Value::F64(x)) => push_truncated(out, *x),
        (Conv::D, Value::Bool(b)) => {
            out.push(if *b { b'1' } else { b'0' });
            true
        }
        (Conv::D, Value::Json(j)) => match j.as_ref() {
            J::Number(n) if n.is_f64() => push_truncated(out, n.as_f64().unwrap_or_default()),
            J::Number(n) => {
                out.extend_from_slice(n.to_string().as_bytes());
                true
            }
            J::Bool(b) => {
                out.push(if *b { b'1' } else { b'0' });
                true
            }
            _ => {
                push_plain(out, v, false);
                false
            }
        },
        _ => {
            push_plain(out, v, false);
            false
        }
    }
}

/// Whether `s` is an integer as Rust's `Display` writes one: an optional `-`, then digits
/// without a leading zero (`0` alone; not `-0`).
fn integer_digits(s: &str) -> bool {
    let digits = s.strip_prefix('-').unwrap_or(s).as_bytes();
    match digits {
        [b'0'] => digits.len() == s.len(),
        [b'1'..=b'9', rest @ ..] => rest.iter().all(u8::is_ascii_digit),
        _ => false,
    }
}

/// A float under `%d`: truncated toward zero and written in full, as Python's `int(x)`; a
/// NaN or an infinity (which Python refuses) as `%s` writes it.
fn push_truncated(out: &mut Vec<u8>, x: f64) -> bool {
    if x.is_finite() {
        // `+ 0.0` turns `-0.0` (from -0.5) into `0`.
        out.extend_from_slice(format!("{:.0}", x.trunc() + 0.0).as_bytes());
        true
    } else {
        push_plain(out, &Value::F64(x), false);
        false
    }
}

/// Appends the date `format` writes, in `repr` quotes under `r`. The date's text is already
/// escaped, and `repr` escapes its quotes and backslashes once more (a control character in
/// `datefmt` text, written `\n`, comes out `\\n`). Never a number.
fn push_date(out: &mut Vec<u8>, conv: Conv, format: impl FnOnce(&mut Vec<u8>)) -> bool {
    if conv != Conv::R {
        format(out);
        return false;
    }
    let from = out.len();
    format(out);
    let text = out.split_off(from);
    push_repr(out, &String::from_utf8_lossy(&text));
    false
}

/// Appends a field as the renderer's tail does: ` key=value`.
pub(crate) fn push_field(out: &mut Vec<u8>, f: &Field<'_>) {
    out.push(b' ');
    push_key(out, &f.key);
    out.push(b'=');
    push_plain(out, &f.value, true);
}

/// Appends a field name for the ` key=value` tail, quoted as a value is when it is empty or
/// has spaces, `=` or quotes (a context key, a processor's or a bridged record's key can be
/// any string), so that the tail still splits into its fields.
fn push_key(out: &mut Vec<u8>, key: &str) {
    push_plain(out, &Value::Str(key), true);
}

/// The constant parts of one statement's plain lines for one logger, level and handler (see
/// [`PlainRenderer::line`]): the format rendered around the date, then the logger's bound
/// context, ` key=` per field, and what the handler's static processors append.
pub(crate) struct PlainLine {
    /// The format's output with the date left out, then the bound context.
    head: Vec<u8>,
    /// Where the date goes in `head`, and how it is written.
    date: Option<(usize, Spec)>,
    /// ` key=` for each field, escaped; field `i`'s piece ends at `key_ends[i]`.
    keys: Vec<u8>,
    key_ends: SmallVec<[u32; 8]>,
    suffix: Box<[u8]>,
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
                Segment::Key { key, spec } => {
                    let color = (self.colors && *key == Key::Level).then(|| color(ev.level));
                    let date = &mut self.date;
                    push_padded(out, spec, color, |out| match key {
                        Key::Asctime => {
                            push_date(out, spec.conv, |out| date.format(ev.timestamp_ns, out))
                        }
                        Key::Level => push_text(out, spec.conv, ev.level.as_str()),
                        Key::Name => push_text(out, spec.conv, ev.logger),
                        Key::Event => push_text(out, spec.conv, &ev.event),
                        Key::Field(f) => {
                            ev.get(f).is_some_and(|v| push_converted(out, spec.conv, v))
                        }
                    });
                }
            }
        }
        for f in ev.fields() {
            if self.used.iter().any(|u| *u == f.key) {
                continue;
            }
            push_field(out, f);
        }
        out.push(b'\n');
    }

    /// The constant parts of the lines of `callsite`'s records from the logger `name` with
    /// bound context `context` at `level`, for a handler whose static processors append
    /// `suffix` (already rendered with [`push_field`]). `None` when the format prints a field
    /// or the date twice: such records take the event path.
    pub(crate) fn line(
        &self,
        level: Level,
        name: &str,
        context: &[(String, serde_json::Value)],
        callsite: &Callsite,
        suffix: Box<[u8]>,
    ) -> Option<PlainLine> {
        let mut head = Vec::new();
        let mut date = None;
        for seg in &self.segments {
            match seg {
                Segment::Lit(l) => head.extend_from_slice(l),
                Segment::Key {
                    key: Key::Asctime,
                    spec,
                } => {
                    if date.is_some() {
                        return None;
                    }
                    date = Some((head.len(), *spec));
                }
                Segment::Key {
                    key: Key::Field(_), ..
                } => return None,
                Segment::Key { key, spec } => {
                    let color = (self.colors && *key == Key::Level).then(|| color(level));
                    push_padded(&mut head, spec, color, |out| match key {
                        Key::Level => push_text(out, spec.conv, level.as_str()),
                        Key::Name => push_text(out, spec.conv, name),
                        _ => push_text(out, spec.conv, callsite.message),
                    });
                }
            }
        }
        for (k, v) in context {
            push_field(
                &mut head,
                &Field {
                    key: k.as_str().into(),
                    value: crate::record::context_value(v),
                },
            );
        }
        let mut keys = Vec::new();
        let mut key_ends = SmallVec::new();
        for key in callsite.fields {
            keys.push(b' ');
            push_key(&mut keys, key);
            keys.push(b'=');
            key_ends.push(keys.len() as u32);
        }
        Some(PlainLine {
            head,
            date,
            keys,
            key_ends,
            suffix,
        })
    }

    /// Renders a plain event straight from its encoded values with `line` (made by
    /// [`PlainRenderer::line`] for the record's statement, logger, level and handler), byte for
    /// byte as [`PlainRenderer::render`] renders the event the general path builds. Returns
    /// false, with `out` unchanged, when the values do not match the line (malformed, or an
    /// error value): the caller then takes the general path.
    pub(crate) fn render_encoded(
        &mut self,
        out: &mut Vec<u8>,
        unix_nanos: u64,
        line: &PlainLine,
        values: &[u8],
    ) -> bool {
        let start = out.len();
        match line.date {
            Some((at, spec)) => {
                out.extend_from_slice(&line.head[..at]);
                let date = &mut self.date;
                push_padded(out, &spec, None, |out| {
                    push_date(out, spec.conv, |out| date.format(unix_nanos, out))
                });
                out.extend_from_slice(&line.head[at..]);
            }
            None => out.extend_from_slice(&line.head),
        }
        let mut values = Values::new(values);
        let mut from = 0;
        for &end in &line.key_ends {
            let v = match values.next() {
                Some(Value::Error(_)) | None => {
                    out.truncate(start);
                    return false;
                }
                Some(v) => v,
            };
            out.extend_from_slice(&line.keys[from..end as usize]);
            push_plain(out, &v, true);
            from = end as usize;
        }
        if values.next().is_some() || values.malformed() {
            out.truncate(start);
            return false;
        }
        out.extend_from_slice(&line.suffix);
        out.push(b'\n');
        true
    }
}
