//! Encoding a record into ring bytes, on the producer's thread.
//!
//! Layout after the ring's own 8-byte slot header (all integers little-endian):
//!
//! ```text
//! 0   u8   level
//! 1   u8   0
//! 2   u16  number of values
//! 4   u32  0
//! 8   u64  timestamp (raw clock ticks, see crate::clock)
//! 16  u64  address of the static Callsite
//! 24  u64  address of the logger's core (kept alive until drained, see front::logger)
//! 32  values: a tag byte then the payload
//!       I64 / U64 / F64: 8 bytes;  F32: 4 bytes;  Bool: 1 byte;  Str: u32 length + UTF-8 bytes;
//!       Error: Str type name, Str message, u32 chain length + chain entries (Str each)
//! ```
//!
//! `Display`/`Debug`/error values are formatted first, into a reusable per-thread scratch
//! buffer, so the exact length is known before ring space is reserved. Numbers are copied raw.

use std::fmt::{self, Write as _};

use smallvec::SmallVec;

use crate::Level;

pub(crate) const HEADER_LEN: usize = 32;

pub(crate) const TAG_I64: u8 = 0;
pub(crate) const TAG_U64: u8 = 1;
pub(crate) const TAG_F64: u8 = 2;
pub(crate) const TAG_BOOL: u8 = 3;
pub(crate) const TAG_STR: u8 = 4;
pub(crate) const TAG_ERROR: u8 = 5;
pub(crate) const TAG_F32: u8 = 6;

/// A field value as the logging macros capture it, before encoding.
#[derive(Clone, Copy)]
pub enum FieldValue<'a> {
    /// A signed integer.
    I64(i64),
    /// An unsigned integer.
    U64(u64),
    /// A float.
    F64(f64),
    /// A single-precision float, kept as one so it renders with its own shortest form
    /// (`0.1f32` as `0.1`, not as the widened `0.10000000149011612`).
    F32(f32),
    /// A boolean.
    Bool(bool),
    /// A string, copied into the ring.
    Str(&'a str),
    /// `%value`: formatted with `Display` on the caller's thread.
    Display(&'a dyn fmt::Display),
    /// `?value`: formatted with `Debug` on the caller's thread.
    Debug(&'a dyn fmt::Debug),
    /// An error: its type name, message and source chain.
    Error(&'a dyn std::error::Error, &'static str),
}

/// Per-thread reusable space for formatted values.
#[derive(Default)]
pub(crate) struct Scratch {
    bytes: Vec<u8>,
    /// For each formatted value in order: its byte range in `bytes`.
    spans: SmallVec<[(u32, u32); 8]>,
}

struct ByteWriter<'a>(&'a mut Vec<u8>);

impl fmt::Write for ByteWriter<'_> {
    #[inline]
    fn write_str(&mut self, s: &str) -> fmt::Result {
        self.0.extend_from_slice(s.as_bytes());
        Ok(())
    }
}

impl Scratch {
    fn format(&mut self, f: impl FnOnce(&mut ByteWriter<'_>) -> fmt::Result) {
        let start = self.bytes.len();
        let mut w = ByteWriter(&mut self.bytes);
        // A failing Display impl leaves what it wrote; the record still goes out.
        let _ = f(&mut w);
        self.spans.push((start as u32, self.bytes.len() as u32));
    }

    fn span(&self, i: usize) -> &[u8] {
        let (a, b) = self.spans[i];
        &self.bytes[a as usize..b as usize]
    }
}

/// Formats the `Display`/`Debug`/error values into `scratch` and returns the record's
/// encoded length in bytes (header included, ring slot header excluded).
#[inline]
pub(crate) fn prepare(values: &[FieldValue<'_>], scratch: &mut Scratch) -> usize {
    scratch.bytes.clear();
    scratch.spans.clear();
    let mut len = HEADER_LEN;
    for v in values {
        len += 1 + match *v {
            FieldValue::I64(_) | FieldValue::U64(_) | FieldValue::F64(_) => 8,
            FieldValue::F32(_) => 4,
            FieldValue::Bool(_) => 1,
            FieldValue::Str(s) => 4 + s.len(),
            FieldValue::Display(d) => {
                scratch.format(|w| write!(w, "{d}"));
                4 + scratch.span(scratch.spans.len() - 1).len()
            }
            FieldValue::Debug(d) => {
                scratch.format(|w| write!(w, "{d:?}"));
                4 + scratch.span(scratch.spans.len() - 1).len()
            }
            FieldValue::Error(e, type_name) => {
                scratch.format(|w| write!(w, "{e}"));
                let msg_len = scratch.span(scratch.spans.len() - 1).len();
                // The chain is written as length-prefixed entries into one span.
                let start = scratch.bytes.len();
                let mut source = e.source();
                let mut depth = 0;
                while let Some(s) = source {
                    if depth == 64 {
                        break;
                    }
                    let at = scratch.bytes.len();
                    scratch.bytes.extend_from_slice(&[0; 4]);
                    let _ = write!(ByteWriter(&mut scratch.bytes), "{s}");
                    let n = (scratch.bytes.len() - at - 4) as u32;
                    scratch.bytes[at..at + 4].copy_from_slice(&n.to_le_bytes());
                    source = s.source();
                    depth += 1;
                }
                scratch
                    .spans
                    .push((start as u32, scratch.bytes.len() as u32));
                4 + type_name.len() + 4 + msg_len + 4 + (scratch.bytes.len() - start)
            }
        };
    }
    len
}

/// The longest string [`plain_len`] accepts (rings are at most 1 GiB).
const MAX_PLAIN_STR: usize = 1 << 30;

/// The encoded length of a record whose values need no formatting (numbers, booleans,
/// strings); `None` if any value needs formatting.
#[inline(always)]
pub(crate) fn plain_len(values: &[FieldValue<'_>]) -> Option<usize> {
    let mut len = HEADER_LEN;
    for v in values {
        len += match *v {
            FieldValue::I64(_) | FieldValue::U64(_) | FieldValue::F64(_) => 9,
            FieldValue::F32(_) => 5,
            FieldValue::Bool(_) => 2,
            // Bounded so the sum cannot wrap: the compiler then proves every write of
            // `write_plain` in bounds and drops the checks. (Longer strings take the general
            // path, which finds them too large for any ring.)
            FieldValue::Str(s) if s.len() <= MAX_PLAIN_STR => 5 + s.len(),
            FieldValue::Str(_)
            | FieldValue::Display(_)
            | FieldValue::Debug(_)
            | FieldValue::Error(..) => return None,
        };
    }
    Some(len)
}

/// Sets the timestamp of an encoded record (`bytes` as written by [`write`]) to `ticks`.
pub(crate) fn restamp(bytes: &mut [u8], ticks: u64) {
    if let Some(ts) = bytes.get_mut(8..16) {
        ts.copy_from_slice(&ticks.to_le_bytes());
    }
}

/// The fixed part of a record.
#[derive(Clone, Copy)]
pub(crate) struct Header {
    pub level: Level,
    pub timestamp: u64,
    pub callsite: usize,
    pub logger: usize,
}

struct Cursor<'a> {
    buf: &'a mut [u8],
    pos: usize,
}

impl Cursor<'_> {
    #[inline(always)]
    fn put(&mut self, bytes: &[u8]) {
        self.buf[self.pos..self.pos + bytes.len()].copy_from_slice(bytes);
        self.pos += bytes.len();
    }

    #[inline(always)]
    fn put_str(&mut self, bytes: &[u8]) {
        self.put(&(bytes.len() as u32).to_le_bytes());
        self.put_bytes(bytes);
    }

    /// `put` for a slice of run-time length: up to 16 bytes as two overlapping fixed-size
    /// copies (plain moves) instead of a call to `memcpy`.
    #[inline(always)]
    fn put_bytes(&mut self, src: &[u8]) {
        let n = src.len();
        let dst = &mut self.buf[self.pos..self.pos + n];
        if (8..=16).contains(&n) {
            let head = u64::from_ne_bytes(src[..8].try_into().expect("8 bytes"));
            let tail = u64::from_ne_bytes(src[n - 8..].try_into().expect("8 bytes"));
            dst[..8].copy_from_slice(&head.to_ne_bytes());
            dst[n - 8..].copy_from_slice(&tail.to_ne_bytes());
        } else if (4..8).contains(&n) {
            let head = u32::from_ne_bytes(src[..4].try_into().expect("4 bytes"));
            let tail = u32::from_ne_bytes(src[n - 4..].try_into().expect("4 bytes"));
            dst[..4].copy_from_slice(&head.to_ne_bytes());
            dst[n - 4..].copy_from_slice(&tail.to_ne_bytes());
        } else {
            dst.copy_from_slice(src);
        }
        self.pos += n;
    }
}

impl Cursor<'_> {
    #[inline(always)]
    fn put_header(&mut self, header: &Header, nvalues: usize) {
        // Callers bound it: the macros' field lists are static, and `Logger::emit_dynamic`
        // counts a record with more values as dropped for its size.
        debug_assert!(nvalues <= 0xffff, "{nvalues} values do not fit a record");
        let first = header.level as u64 | (nvalues as u64 & 0xffff) << 16;
        let mut fixed = [0u8; HEADER_LEN];
        fixed[..8].copy_from_slice(&first.to_le_bytes());
        fixed[8..16].copy_from_slice(&header.timestamp.to_le_bytes());
        fixed[16..24].copy_from_slice(&(header.callsite as u64).to_le_bytes());
        fixed[24..].copy_from_slice(&(header.logger as u64).to_le_bytes());
        self.put(&fixed);
    }

    /// A tag and an 8-byte payload, with one bounds check.
    #[inline(always)]
    fn put_tagged(&mut self, tag: u8, payload: u64) {
        let mut b = [0u8; 9];
        b[0] = tag;
        b[1..].copy_from_slice(&payload.to_le_bytes());
        self.put(&b);
    }
}

impl Cursor<'_> {
    /// Writes a value that needs no formatting; returns false (writing nothing) for the
    /// others.
    #[inline(always)]
    fn put_plain(&mut self, v: &FieldValue<'_>) -> bool {
        match *v {
            FieldValue::I64(x) => self.put_tagged(TAG_I64, x as u64),
            FieldValue::U64(x) => self.put_tagged(TAG_U64, x),
            FieldValue::F64(x) => self.put_tagged(TAG_F64, x.to_bits()),
            FieldValue::F32(x) => {
                let [a, b, c, d] = x.to_bits().to_le_bytes();
                self.put(&[TAG_F32, a, b, c, d]);
            }
            FieldValue::Bool(x) => self.put(&[TAG_BOOL, x as u8]),
            FieldValue::Str(s) => {
                let mut b = [0u8; 5];
                b[0] = TAG_STR;
                b[1..].copy_from_slice(&(s.len() as u32).to_le_bytes());
                self.put(&b);
                self.put_bytes(s.as_bytes());
            }
            FieldValue::Display(_) | FieldValue::Debug(_) | FieldValue::Error(..) => return false,
        }
        true
    }
}

/// Writes a record whose values need no formatting into `dst`, which is exactly
/// [`plain_len`]'s length long (values that need formatting are never passed here).
#[inline(always)]
pub(crate) fn write_plain(dst: &mut [u8], header: &Header, values: &[FieldValue<'_>]) {
    let mut c = Cursor { buf: dst, pos: 0 };
    c.put_header(header, values.len());
    for v in values {
        let plain = c.put_plain(v);
        debug_assert!(plain, "write_plain with a value that needs formatting");
    }
    debug_assert_eq!(c.pos, c.buf.len());
}

/// Writes the record into `dst`, which is exactly [`prepare`]'s length long.
#[inline]
pub(crate) fn write(dst: &mut [u8], header: &Header, values: &[FieldValue<'_>], scratch: &Scratch) {
    let mut c = Cursor { buf: dst, pos: 0 };
    c.put_header(header, values.len());
    let mut span = 0;
    for v in values {
        if c.put_plain(v) {
            continue;
        }
        match *v {
            FieldValue::Error(_, type_name) => {
                c.put(&[TAG_ERROR]);
                c.put_str(type_name.as_bytes());
                c.put_str(scratch.span(span));
                c.put_str(scratch.span(span + 1));
                span += 2;
            }
            _ => {
                // Display or Debug.
                c.put(&[TAG_STR]);
                c.put_str(scratch.span(span));
                span += 1;
            }
        }
    }
    debug_assert_eq!(c.pos, c.buf.len());
}

/// Encodes into a fresh `Vec` (tests, fuzzing, and the decoder's round-trip checks).
#[cfg(any(test, fuzzing))]
pub(crate) fn to_vec(header: &Header, values: &[FieldValue<'_>]) -> Vec<u8> {
    let mut scratch = Scratch::default();
    let len = prepare(values, &mut scratch);
    let mut v = vec![0; len];
    write(&mut v, header, values, &scratch);
    v
}
