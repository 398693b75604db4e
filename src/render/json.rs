//! The JSON renderer: one flat object per record, structlog-style.
//!
//! Keys in order: `timestamp` (RFC 3339, UTC, microseconds, `Z`), `level`, `logger`, `event`,
//! then the fields (bound context, record fields, processor additions). Integers with itoa,
//! finite floats with ryu (shortest round-trip form), non-finite floats as strings (`"NaN"`,
//! `"inf"`, `"-inf"`), strings escaped per RFC 8259 (`"`, `\`, control characters). A field
//! whose key is one of the four fixed keys is written as `fields.<key>` (`fields.` prefixed
//! again while another key of the record has that name) so no key repeats.
//! With `indentation`, the object is pretty-printed over several lines.

use smallvec::SmallVec;

use super::plain::{push_field as push_plain_field, PlainLine, PlainRenderer};
use super::time::push_rfc3339;
use crate::process::Chain;
use crate::record::encode::{TAG_BOOL, TAG_F32, TAG_F64, TAG_I64, TAG_STR, TAG_U64};
use crate::record::{shadowed_key, Callsite, ErrorValue, Field, Value};
use crate::{EventDict, Level};

const RESERVED: [&str; 4] = ["timestamp", "level", "logger", "event"];

pub(crate) struct JsonRenderer {
    indent: Option<usize>,
    pretty: Vec<u8>,
    /// The first nanosecond of the last second rendered (at first, 1970-01-01T00:00:00) and
    /// its timestamp, `YYYY-MM-DDTHH:MM:SS.000000Z`, whose microseconds each record overwrites.
    second: u64,
    stamp: [u8; 27],
}

/// The length of the prefix of `bytes` that needs no escaping, eight bytes at a time (a byte
/// needs escaping when it is a control character (< 0x20), `"` or `\`), and whether that prefix
/// is ASCII.
#[inline]
fn plain_prefix(bytes: &[u8]) -> (usize, bool) {
    const LO: u64 = 0x0101_0101_0101_0101;
    const HI: u64 = 0x8080_8080_8080_8080;
    let has_zero = |x: u64| x.wrapping_sub(LO) & !x & HI;
    let mut i = 0;
    let mut high = 0;
    while i + 8 <= bytes.len() {
        let x = u64::from_le_bytes(bytes[i..i + 8].try_into().expect("8 bytes"));
        let control = x.wrapping_sub(LO * 0x20) & !x & HI;
        if control | has_zero(x ^ (LO * b'"' as u64)) | has_zero(x ^ (LO * b'\\' as u64)) != 0 {
            break;
        }
        high |= x;
        i += 8;
    }
    let mut high = (high & HI) != 0;
    while i < bytes.len() && !matches!(bytes[i], 0..=0x1f | b'"' | b'\\') {
        high |= bytes[i] >= 0x80;
        i += 1;
    }
    (i, !high)
}

/// Appends `s` as a JSON string literal.
#[inline]
pub(crate) fn push_str(out: &mut Vec<u8>, s: &str) {
    let bytes = s.as_bytes();
    let (clean, _) = plain_prefix(bytes);
    out.reserve(bytes.len() + 2);
    out.push(b'"');
    out.extend_from_slice(&bytes[..clean]);
    if clean == bytes.len() {
        out.push(b'"');
        return;
    }
    push_escaped_tail(out, &bytes[clean..]);
}

/// Appends `bytes` as a JSON string literal when they are UTF-8; returns false, with nothing
/// written, when they are not. Text that is ASCII and needs no escaping (most of it) is copied
/// without a separate UTF-8 validation pass.
#[inline]
fn push_utf8(out: &mut Vec<u8>, bytes: &[u8]) -> bool {
    let (clean, ascii) = plain_prefix(bytes);
    if clean == bytes.len() && ascii {
        out.reserve(bytes.len() + 2);
        out.push(b'"');
        out.extend_from_slice(bytes);
        out.push(b'"');
        return true;
    }
    match std::str::from_utf8(bytes) {
        Ok(s) => {
            push_str(out, s);
            true
        }
        Err(_) => false,
    }
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
#[inline]
pub(crate) fn push_f64(out: &mut Vec<u8>, v: f64) {
    if !push_short_decimal(out, v) {
        push_f64_slow(out, v);
    }
}

#[inline(never)]
fn push_f64_slow(out: &mut Vec<u8>, v: f64) {
    if v.is_finite() {
        out.extend_from_slice(ryu::Buffer::new().format_finite(v).as_bytes());
    } else {
        push_str(out, &crate::record::float_to_string(v));
    }
}

/// Writes `v` exactly as ryu's shortest form would when `v` is a decimal with at most six
/// fractional digits and `1e-5 <= |v| < 1e9` (latencies, ratios, money): such a decimal has at
/// most 15 significant digits, and distinct decimals of up to 15 digits are distinct doubles,
/// so the shortest round-trip digits are these digits with trailing zeros trimmed. `m / 1e6`
/// is correctly rounded, so `m / 1e6 == v` proves that the decimal `m * 10^-6` reads back as
/// `v`. Returns false (nothing written) for every other value.
#[inline]
fn push_short_decimal(out: &mut Vec<u8>, v: f64) -> bool {
    const SCALE: f64 = 1e6;
    let x = (v * SCALE).abs();
    if !(10.0..1e15).contains(&x) {
        return false;
    }
    // Round to nearest without libm; an off-by-one here only fails the proof below.
    let m = (x + 0.5) as u64;
    if m as f64 / SCALE != v.abs() {
        return false;
    }
    let (int, frac) = (m / 1_000_000, (m % 1_000_000) as u32);
    if v < 0.0 {
        out.push(b'-');
    }
    out.extend_from_slice(itoa::Buffer::new().format(int).as_bytes());
    let mut digits = [b'.', b'0', b'0', b'0', b'0', b'0', b'0'];
    put_six_digits((&mut digits[1..]).try_into().expect("6 digits"), frac);
    // Keep at least one fractional digit (`1.0`), drop the other trailing zeros.
    let mut n = 7;
    while n > 2 && digits[n - 1] == b'0' {
        n -= 1;
    }
    out.extend_from_slice(&digits[..n]);
    true
}

/// "00" to "99".
const PAIRS: [[u8; 2]; 100] = {
    let mut pairs = [[0; 2]; 100];
    let mut i = 0;
    while i < 100 {
        pairs[i] = [b'0' + (i / 10) as u8, b'0' + (i % 10) as u8];
        i += 1;
    }
    pairs
};

/// Writes `v` (below 1,000,000; larger values are clamped) as six decimal digits.
#[inline]
fn put_six_digits(dst: &mut [u8; 6], v: u32) {
    let v = v.min(999_999) as usize;
    dst[0..2].copy_from_slice(&PAIRS[v / 10_000]);
    dst[2..4].copy_from_slice(&PAIRS[v / 100 % 100]);
    dst[4..6].copy_from_slice(&PAIRS[v % 100]);
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
        Value::Json(j) => match j.as_ref() {
            serde_json::Value::String(s) => push_str(out, s),
            n @ (serde_json::Value::Number(_) | serde_json::Value::Bool(_)) => {
                // Writing into a Vec cannot fail.
                let _ = serde_json::to_writer(&mut *out, n);
            }
            // Arrays, objects and null as a string of their JSON text: the line stays one
            // flat object, numbers and bools being the only non-string values (DESIGN §3).
            other => push_str(out, &other.to_string()),
        },
        Value::Error(e) => push_str(out, e.message),
        Value::Exception(e) => push_exception(out, e),
    }
}

impl JsonRenderer {
    pub(crate) fn new(indent: Option<usize>) -> JsonRenderer {
        let mut r = JsonRenderer {
            indent,
            pretty: Vec::new(),
            second: 0,
            stamp: [0; 27],
        };
        r.new_second(0);
        r
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
    #[inline]
    fn push_timestamp(&mut self, out: &mut Vec<u8>, unix_nanos: u64) {
        // Also true when time went back (the difference wraps).
        if unix_nanos.wrapping_sub(self.second) >= 1_000_000_000 {
            self.new_second(unix_nanos);
        }
        let micros = ((unix_nanos - self.second) / 1_000) as u32;
        let mut stamp = self.stamp;
        put_six_digits((&mut stamp[20..26]).try_into().expect("6 digits"), micros);
        out.extend_from_slice(&stamp);
    }

    #[cold]
    fn new_second(&mut self, unix_nanos: u64) {
        self.second = unix_nanos - unix_nanos % 1_000_000_000;
        let mut full = Vec::with_capacity(27);
        push_rfc3339(&mut full, self.second);
        self.stamp[..19].copy_from_slice(&full[..19]);
        self.stamp[19..].copy_from_slice(b".000000Z");
    }

    fn render_line(&mut self, ev: &EventDict<'_>, out: &mut Vec<u8>) {
        render_line_with(ev, out, |out| self.push_timestamp(out, ev.timestamp_ns));
    }

    /// Whether [`JsonRenderer::render_encoded`] can render for this renderer (single-line
    /// output).
    pub(crate) fn renders_encoded(&self) -> bool {
        self.indent.is_none()
    }

    /// Renders a plain event straight from its encoded values, byte for byte as
    /// [`JsonRenderer::render`] would render its [`EventDict`] after handler `handler`'s static
    /// processors. `template` must have been readied for this record's logger, level and
    /// handler by [`JsonTemplate::prepare`] (which refuses field names the event path would
    /// merge). Returns false, with `out` unchanged, when the values do not match the template
    /// (malformed, or an error value): the caller then takes the general path.
    #[inline]
    pub(crate) fn render_encoded(
        &mut self,
        out: &mut Vec<u8>,
        unix_nanos: u64,
        template: &JsonTemplate,
        values: &[u8],
        handler: usize,
    ) -> bool {
        debug_assert!(template.prefix_for.is_some() && template.prefix_ok);
        let start = out.len();
        out.extend_from_slice(b"{\"timestamp\":\"");
        self.push_timestamp(out, unix_nanos);
        out.extend_from_slice(&template.prefix);
        let mut rest = values;
        for piece in template.ends.windows(2) {
            out.extend_from_slice(&template.bytes[piece[0] as usize..piece[1] as usize]);
            if !push_encoded(out, &mut rest) {
                out.truncate(start);
                return false;
            }
        }
        if !rest.is_empty() {
            out.truncate(start);
            return false;
        }
        out.extend_from_slice(template.suffix(handler));
        out.extend_from_slice(b"}\n");
        true
    }
}

/// `","level":"<LEVEL>","logger":`, the part between the timestamp and the logger name.
fn level_piece(level: Level) -> &'static [u8] {
    macro_rules! piece {
        ($name:literal) => {
            concat!("\",\"level\":\"", $name, "\",\"logger\":").as_bytes()
        };
    }
    match level {
        Level::Trace => piece!("TRACE"),
        Level::Debug => piece!("DEBUG"),
        Level::Info => piece!("INFO"),
        Level::Warning => piece!("WARNING"),
        Level::Error => piece!("ERROR"),
        Level::Critical => piece!("CRITICAL"),
    }
}

/// Appends a field key as a JSON string; one of the four fixed keys becomes `fields.<key>`,
/// prefixed again while one of `keys` (the record's keys) has that name (see
/// [`shadowed_key`]). `keys` is asked only then.
#[inline]
fn push_key<'k, I: Iterator<Item = &'k str>>(
    out: &mut Vec<u8>,
    key: &str,
    keys: impl FnOnce() -> I,
) {
    if RESERVED.contains(&key) {
        push_str(out, &shadowed_key(key, keys()));
    } else {
        push_str(out, key);
    }
}

/// Whether writing these keys could rename one fixed key onto another key's name: some key is
/// a fixed key and some key starts with `fields.`. Templates and static suffixes are made for
/// part of a record's keys, so the direct path leaves such records to the event path, which
/// sees them all.
fn renames_may_collide<'k>(keys: impl Iterator<Item = &'k str>) -> bool {
    let (mut reserved, mut prefixed) = (false, false);
    for k in keys {
        reserved |= RESERVED.contains(&k);
        prefixed |= k.starts_with("fields.");
    }
    reserved && prefixed
}

fn render_line_with(ev: &EventDict<'_>, out: &mut Vec<u8>, timestamp: impl FnOnce(&mut Vec<u8>)) {
    out.extend_from_slice(b"{\"timestamp\":\"");
    timestamp(out);
    out.extend_from_slice(level_piece(ev.level));
    push_str(out, ev.logger);
    out.extend_from_slice(b",\"event\":");
    push_str(out, &ev.event);
    let fields = ev.fields();
    for f in fields {
        out.push(b',');
        push_key(out, &f.key, || fields.iter().map(|f| f.key.as_ref()));
        out.push(b':');
        push_value(out, &f.value);
    }
    out.extend_from_slice(b"}\n");
}

/// The constant JSON of one logging statement, escaped once: `,"event":"<message>"`, then
/// `,"<key>":` for each field. The drainer keeps one per callsite and renders records of plain
/// events straight from their encoded values with it (see [`JsonRenderer::render_encoded`]).
/// For handlers with a plain renderer it also keeps each one's [`PlainLine`].
pub(crate) struct JsonTemplate {
    bytes: Vec<u8>,
    /// End offset of each piece in `bytes`: the event, then one per field.
    ends: Box<[u32]>,
    /// The statement (field names to check against bound context; location for processors).
    callsite: &'static Callsite,
    /// Per handler with static processors: the JSON they append (`None`: they would change
    /// fields the record already has, so the event path must run them), for the logger
    /// `suffixes_for`.
    suffixes: SmallVec<[(usize, Suffix); 2]>,
    suffixes_for: u64,
    /// Per handler with a plain renderer: its line for the logger and level in `plain_for`
    /// (`None`: the event path renders these records).
    plain: SmallVec<[(usize, Option<Box<PlainLine>>); 1]>,
    plain_for: Option<(u64, Level)>,
    /// `","level":"<LEVEL>","logger":<name>,"event":"<message>"` and the logger's bound
    /// context for the logger and level in `prefix_for` (a statement's records usually share
    /// both).
    prefix: Vec<u8>,
    /// The logger core id and level `prefix` was made for.
    prefix_for: Option<(u64, Level)>,
    /// Whether that logger's records can be rendered from the template: false when a field
    /// name repeats or is also a bound-context key, or a context key repeats (the event path
    /// merges those), or a renamed fixed key could meet a `fields.` key (see
    /// [`renames_may_collide`]).
    prefix_ok: bool,
}

/// The JSON a handler's static processors append to a statement's records; `None` when the
/// event path must run them.
type Suffix = Option<Box<[u8]>>;

/// What the direct path needs of a logger: its unique id, its name (also as a JSON string),
/// and its bound context, both as pairs and pre-rendered (`,"k":v` each).
pub(crate) struct LoggerJson<'a> {
    pub id: u64,
    pub name: &'a [u8],
    /// The name itself (for plain lines).
    pub plain_name: &'a str,
    pub context: &'a [(String, serde_json::Value)],
    pub context_json: &'a [u8],
}

/// Whether no key of `context` repeats. (A logger's never does, see `Logger::bind_fields`.)
/// A large context is checked through a set: comparing each pair of keys would cost time
/// quadratic in its size, for every logger and level a statement's records come from.
fn distinct_keys(context: &[(String, serde_json::Value)]) -> bool {
    if context.len() <= 16 {
        return context
            .iter()
            .enumerate()
            .all(|(i, (k, _))| !context[..i].iter().any(|(j, _)| j == k));
    }
    let mut seen = std::collections::HashSet::with_capacity(context.len());
    context.iter().all(|(k, _)| seen.insert(k.as_str()))
}

/// Bound context pre-rendered for the direct path: `,"<key>":<value>` per entry, exactly as
/// the event path renders context fields.
pub(crate) fn context_json(context: &[(String, serde_json::Value)]) -> Vec<u8> {
    let mut out = Vec::new();
    for (k, v) in context {
        out.push(b',');
        push_key(&mut out, k, || context.iter().map(|(k, _)| k.as_str()));
        out.push(b':');
        push_value(&mut out, &crate::record::context_value(v));
    }
    out
}

impl JsonTemplate {
    pub(crate) fn new(callsite: &'static Callsite) -> JsonTemplate {
        let mut bytes = Vec::with_capacity(32 + callsite.message.len());
        let mut ends = Vec::with_capacity(1 + callsite.fields.len());
        bytes.extend_from_slice(b",\"event\":");
        push_str(&mut bytes, callsite.message);
        ends.push(bytes.len() as u32);
        for key in callsite.fields {
            bytes.push(b',');
            push_key(&mut bytes, key, || callsite.fields.iter().copied());
            bytes.push(b':');
            ends.push(bytes.len() as u32);
        }
        JsonTemplate {
            bytes,
            ends: ends.into_boxed_slice(),
            prefix: Vec::new(),
            prefix_for: None,
            prefix_ok: false,
            callsite,
            suffixes: SmallVec::new(),
            suffixes_for: 0,
            plain: SmallVec::new(),
            plain_for: None,
        }
    }

    #[inline]
    fn piece(&self, i: usize) -> &[u8] {
        let start = if i == 0 { 0 } else { self.ends[i - 1] as usize };
        &self.bytes[start..self.ends[i] as usize]
    }

    /// Remakes the prefix for another logger or level.
    #[cold]
    fn remake_prefix(&mut self, level: Level, logger: &LoggerJson<'_>) {
        let fields = self.callsite.fields;
        let context = logger.context;
        let distinct = fields.iter().enumerate().all(|(i, f)| {
            !fields[..i].contains(f) && !context.iter().any(|(k, _)| k.as_str() == *f)
        }) && distinct_keys(context);
        let collide = renames_may_collide(
            context
                .iter()
                .map(|(k, _)| k.as_str())
                .chain(fields.iter().copied()),
        );
        let mut prefix = std::mem::take(&mut self.prefix);
        prefix.clear();
        prefix.extend_from_slice(level_piece(level));
        prefix.extend_from_slice(logger.name);
        prefix.extend_from_slice(self.piece(0));
        prefix.extend_from_slice(logger.context_json);
        self.prefix = prefix;
        self.prefix_for = Some((logger.id, level));
        // Without context the event path appends repeated names as they are, like this one.
        self.prefix_ok = (distinct || logger.context.is_empty()) && !collide;
    }

    /// Makes the prefix for `logger` and `level` if it was made for others; false when their
    /// records cannot be rendered from the template.
    #[inline]
    fn ready_prefix(&mut self, level: Level, logger: &LoggerJson<'_>) -> bool {
        if self.prefix_for != Some((logger.id, level)) {
            self.remake_prefix(level, logger);
        }
        self.prefix_ok
    }

    /// Readies the template for a record of `logger` at `level` going to handler `handler`,
    /// whose processors are `chain` (`None`: no processors; else a static chain, see
    /// [`Chain::is_static`]). Returns false when the direct path cannot render it.
    pub(crate) fn prepare(
        &mut self,
        level: Level,
        logger: &LoggerJson<'_>,
        handler: usize,
        chain: Option<&Chain>,
    ) -> bool {
        if !self.ready_prefix(level, logger) {
            return false;
        }
        let Some(chain) = chain else {
            return true;
        };
        if self.suffixes_for != logger.id {
            self.suffixes.clear();
            self.suffixes_for = logger.id;
        }
        if let Some((_, suffix)) = self.suffixes.iter().find(|(h, _)| *h == handler) {
            return suffix.is_some();
        }
        let suffix = static_suffix(self.callsite, logger, chain, push_json_field)
            .filter(|(_, collide)| !collide)
            .map(|(suffix, _)| suffix);
        let ok = suffix.is_some();
        self.suffixes.push((handler, suffix));
        ok
    }

    /// [`JsonTemplate::prepare`] for a handler whose renderer is `renderer`, a plain one: makes
    /// its line for this logger and level if it has none. Returns false when the direct path
    /// cannot render the record.
    pub(crate) fn prepare_plain(
        &mut self,
        level: Level,
        logger: &LoggerJson<'_>,
        handler: usize,
        chain: Option<&Chain>,
        renderer: &PlainRenderer,
    ) -> bool {
        if !self.ready_prefix(level, logger) {
            return false;
        }
        if self.plain_for != Some((logger.id, level)) {
            self.plain.clear();
            self.plain_for = Some((logger.id, level));
        }
        if let Some((_, line)) = self.plain.iter().find(|(h, _)| *h == handler) {
            return line.is_some();
        }
        let suffix = match chain {
            None => Some(Box::default()),
            // Plain keys are written as they are: nothing to collide.
            Some(chain) => {
                static_suffix(self.callsite, logger, chain, push_plain_field).map(|(s, _)| s)
            }
        };
        let line = suffix.and_then(|suffix| {
            renderer
                .line(
                    level,
                    logger.plain_name,
                    logger.context,
                    self.callsite,
                    suffix,
                )
                .map(Box::new)
        });
        let ok = line.is_some();
        self.plain.push((handler, line));
        ok
    }

    /// Handler `handler`'s plain line (after a successful [`JsonTemplate::prepare_plain`]).
    #[inline]
    pub(crate) fn plain_line(&self, handler: usize) -> Option<&PlainLine> {
        self.plain
            .iter()
            .find(|(h, _)| *h == handler)
            .and_then(|(_, line)| line.as_deref())
    }

    /// What handler `handler`'s static processors append (after [`JsonTemplate::prepare`]).
    #[inline]
    pub(crate) fn suffix(&self, handler: usize) -> &[u8] {
        self.suffixes
            .iter()
            .find(|(h, _)| *h == handler)
            .and_then(|(_, s)| s.as_deref())
            .unwrap_or(&[])
    }
}

/// A field as the JSON renderer appends it: `,"key":value` (a static suffix's field: the
/// suffix is refused when its keys could collide, see [`renames_may_collide`]).
fn push_json_field(out: &mut Vec<u8>, f: &Field<'_>) {
    out.push(b',');
    push_key(out, &f.key, std::iter::empty);
    out.push(b':');
    push_value(out, &f.value);
}

/// The fields a static chain appends to records of `callsite` from `logger`, each rendered by
/// `push`, and whether the JSON renderer's renames could collide among the record's keys then
/// (see [`renames_may_collide`]); `None` if it would replace a field the record already has
/// (the event path then runs it). Worked out by running the chain on an event with the
/// record's keys and placeholder values.
fn static_suffix(
    callsite: &'static Callsite,
    logger: &LoggerJson<'_>,
    chain: &Chain,
    push: fn(&mut Vec<u8>, &Field<'_>),
) -> Option<(Box<[u8]>, bool)> {
    // A placeholder no static processor produces: any change to a record field shows.
    let placeholder = || Value::Json(std::borrow::Cow::Owned(serde_json::Value::Null));
    let mut ev = EventDict::new(0, Level::Info, "", callsite);
    for (k, v) in logger.context {
        ev.insert(k.as_str(), crate::record::context_value(v));
    }
    for name in callsite.fields {
        if logger.context.is_empty() {
            ev.push(name, placeholder());
        } else {
            ev.insert(*name, placeholder());
        }
    }
    let before = ev.fields().to_vec();
    chain.apply_static(&mut ev);
    if ev.fields().get(..before.len()) != Some(&before[..]) {
        return None;
    }
    let mut out = Vec::new();
    for f in &ev.fields()[before.len()..] {
        push(&mut out, f);
    }
    let collide = renames_may_collide(ev.fields().iter().map(|f| f.key.as_ref()));
    Some((out.into_boxed_slice(), collide))
}

/// Appends the next encoded value of `rest` as JSON and advances past it. Returns false for
/// malformed bytes and for errors (those take the general path).
#[inline]
fn push_encoded(out: &mut Vec<u8>, rest: &mut &[u8]) -> bool {
    let Some((&tag, tail)) = rest.split_first() else {
        return false;
    };
    let word =
        |tail: &[u8]| -> Option<u64> { Some(u64::from_le_bytes(tail.get(..8)?.try_into().ok()?)) };
    match tag {
        TAG_I64 | TAG_U64 | TAG_F64 => {
            let Some(x) = word(tail) else { return false };
            match tag {
                TAG_I64 => out.extend_from_slice(itoa::Buffer::new().format(x as i64).as_bytes()),
                TAG_U64 => out.extend_from_slice(itoa::Buffer::new().format(x).as_bytes()),
                _ => push_f64(out, f64::from_bits(x)),
            }
            *rest = &tail[8..];
        }
        TAG_F32 => {
            let Some(x) = tail.get(..4) else { return false };
            let x = f32::from_bits(u32::from_le_bytes(x.try_into().expect("4 bytes")));
            push_f64(out, crate::record::f32_as_f64(x));
            *rest = &tail[4..];
        }
        TAG_BOOL => {
            let Some(&b) = tail.first() else { return false };
            out.extend_from_slice(if b != 0 { b"true" } else { b"false" });
            *rest = &tail[1..];
        }
        TAG_STR => {
            let Some(n) = tail.get(..4) else { return false };
            let n = u32::from_le_bytes(n.try_into().expect("4 bytes")) as usize;
            let Some(bytes) = tail.get(4..4 + n) else {
                return false;
            };
            if !push_utf8(out, bytes) {
                return false;
            }
            *rest = &tail[4 + n..];
        }
        _ => return false,
    }
    true
}
