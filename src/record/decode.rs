//! Decoding ring bytes back into values, on the drainer.
//!
//! Every read is bounds-checked and every string validated: arbitrary bytes produce an error
//! (`None`), never a panic. The two addresses in the header are trusted separately by the
//! drainer (they were written by this process's encoder into a ring only it reads).

use super::encode::{HEADER_LEN, TAG_BOOL, TAG_ERROR, TAG_F32, TAG_F64, TAG_I64, TAG_STR, TAG_U64};
use super::{ErrorValue, Value};
use crate::Level;

/// The fixed part of an encoded record.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct RawHeader {
    pub level: Level,
    pub nvalues: u16,
    pub timestamp: u64,
    pub callsite: u64,
    pub logger: u64,
}

/// Splits an encoded record into its header and the bytes of its values.
pub(crate) fn header(bytes: &[u8]) -> Option<(RawHeader, &[u8])> {
    let fixed = bytes.get(..HEADER_LEN)?;
    let level = Level::from_u8(fixed[0])?;
    let u64_at = |i: usize| u64::from_le_bytes(fixed[i..i + 8].try_into().unwrap());
    let h = RawHeader {
        level,
        nvalues: u16::from_le_bytes([fixed[2], fixed[3]]),
        timestamp: u64_at(8),
        callsite: u64_at(16),
        logger: u64_at(24),
    };
    Some((h, &bytes[HEADER_LEN..]))
}

/// Iterates over encoded values; stops (returns `None`) at the end or at the first malformed
/// value, after which [`Values::malformed`] is true.
pub(crate) struct Values<'a> {
    bytes: &'a [u8],
    malformed: bool,
}

impl<'a> Values<'a> {
    pub(crate) fn new(bytes: &'a [u8]) -> Values<'a> {
        Values {
            bytes,
            malformed: false,
        }
    }

    /// Whether decoding stopped at malformed bytes.
    pub(crate) fn malformed(&self) -> bool {
        self.malformed
    }

    fn take(&mut self, n: usize) -> Option<&'a [u8]> {
        if self.bytes.len() < n {
            return None;
        }
        let (a, b) = self.bytes.split_at(n);
        self.bytes = b;
        Some(a)
    }

    fn take_u64(&mut self) -> Option<u64> {
        Some(u64::from_le_bytes(self.take(8)?.try_into().ok()?))
    }

    fn take_bytes(&mut self) -> Option<&'a [u8]> {
        let n = u32::from_le_bytes(self.take(4)?.try_into().ok()?) as usize;
        self.take(n)
    }

    fn take_str(&mut self) -> Option<&'a str> {
        std::str::from_utf8(self.take_bytes()?).ok()
    }

    fn next_value(&mut self) -> Option<Value<'a>> {
        let tag = self.take(1)?[0];
        Some(match tag {
            TAG_I64 => Value::I64(self.take_u64()? as i64),
            TAG_U64 => Value::U64(self.take_u64()?),
            TAG_F64 => Value::F64(f64::from_bits(self.take_u64()?)),
            TAG_F32 => Value::F64(super::f32_as_f64(f32::from_bits(u32::from_le_bytes(
                self.take(4)?.try_into().ok()?,
            )))),
            TAG_BOOL => Value::Bool(self.take(1)?[0] != 0),
            TAG_STR => Value::Str(self.take_str()?),
            TAG_ERROR => {
                let type_name = self.take_str()?;
                let message = self.take_str()?;
                let chain = self.take_bytes()?;
                ChainIter::new(chain).validate()?;
                Value::Error(ErrorValue::new(type_name, message, chain))
            }
            _ => return None,
        })
    }
}

impl<'a> Iterator for Values<'a> {
    type Item = Value<'a>;

    fn next(&mut self) -> Option<Value<'a>> {
        if self.bytes.is_empty() || self.malformed {
            return None;
        }
        let v = self.next_value();
        if v.is_none() {
            self.malformed = true;
        }
        v
    }
}

/// Iterates over the entries of an encoded error chain.
pub(crate) struct ChainIter<'a> {
    inner: Values<'a>,
}

impl<'a> ChainIter<'a> {
    pub(crate) fn new(bytes: &'a [u8]) -> ChainIter<'a> {
        ChainIter {
            inner: Values::new(bytes),
        }
    }

    /// Checks that every entry is well-formed UTF-8 with a valid length.
    fn validate(mut self) -> Option<()> {
        while !self.inner.bytes.is_empty() {
            self.inner.take_str()?;
        }
        Some(())
    }
}

impl<'a> Iterator for ChainIter<'a> {
    type Item = &'a str;

    fn next(&mut self) -> Option<&'a str> {
        if self.inner.bytes.is_empty() {
            return None;
        }
        self.inner.take_str()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::record::encode::{to_vec, FieldValue, Header};

    #[derive(Debug)]
    struct Outer(std::io::Error);
    impl std::fmt::Display for Outer {
        fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
            f.write_str("outer failed")
        }
    }
    impl std::error::Error for Outer {
        fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
            Some(&self.0)
        }
    }

    /// One value of each kind that needs no formatting.
    const PLAIN: [FieldValue<'static>; 5] = [
        FieldValue::I64(-5),
        FieldValue::U64(u64::MAX),
        FieldValue::F64(0.1),
        FieldValue::Bool(true),
        FieldValue::Str("a \"quoted\"\n\u{0} 🎉"),
    ];

    #[test]
    fn fast_path_encoding_is_the_general_encoding() {
        use crate::record::encode::{plain_len, write_plain};
        let header = Header {
            level: Level::Warning,
            timestamp: 0x0102_0304_0506_0708,
            callsite: 0xdead_beef,
            logger: 0xfeed_f00d,
        };
        let mut values = PLAIN.to_vec();
        values.extend([FieldValue::Str(""), FieldValue::F32(0.1)]);
        let general = to_vec(&header, &values);
        let len = plain_len(&values).unwrap();
        let mut fast = vec![0xAA; len];
        write_plain(&mut fast, &header, &values);
        assert_eq!(fast, general);
        let shown = std::net::Ipv4Addr::LOCALHOST;
        assert_eq!(plain_len(&[FieldValue::Display(&shown)]), None);
        assert_eq!(plain_len(&[]), Some(HEADER_LEN));
        assert_eq!(
            plain_len(&[FieldValue::U64(1), FieldValue::Str("abc")]),
            Some(HEADER_LEN + 9 + 5 + 3)
        );
        assert_eq!(plain_len(&[FieldValue::F32(1.0)]), Some(HEADER_LEN + 5));
        // Longer than any ring: left to the general path (which counts it as oversize). The
        // zeroed allocation is only read (the kernel's zero page), so it stays virtual.
        let huge = vec![0u8; (1 << 30) + 1];
        let huge = std::str::from_utf8(&huge).unwrap();
        assert_eq!(plain_len(&[FieldValue::Str(huge)]), None);
    }

    #[test]
    fn round_trip_every_value_kind() {
        let err = Outer(std::io::Error::other("disk full"));
        let addr = std::net::Ipv4Addr::new(10, 0, 0, 1);
        let mut values = PLAIN.to_vec();
        values.extend([
            FieldValue::Display(&addr),
            FieldValue::Debug(&Some(3)),
            FieldValue::Error(&err, "my::Outer"),
            FieldValue::F32(0.1),
        ]);
        let h = Header {
            level: Level::Warning,
            timestamp: 123,
            callsite: 0xdead_beef,
            logger: 0x1234,
        };
        let bytes = to_vec(&h, &values);
        let (raw, rest) = header(&bytes).unwrap();
        assert_eq!(raw.level, Level::Warning);
        assert_eq!(raw.nvalues, 9);
        assert_eq!(raw.timestamp, 123);
        assert_eq!(raw.callsite, 0xdead_beef);
        assert_eq!(raw.logger, 0x1234);
        let mut it = Values::new(rest);
        let got: Vec<_> = it.by_ref().collect();
        assert!(!it.malformed());
        assert_eq!(got[0], Value::I64(-5));
        assert_eq!(got[1], Value::U64(u64::MAX));
        assert_eq!(got[2], Value::F64(0.1));
        assert_eq!(got[3], Value::Bool(true));
        assert_eq!(got[4], Value::Str("a \"quoted\"\n\u{0} 🎉"));
        assert_eq!(got[5], Value::Str("10.0.0.1"));
        assert_eq!(got[6], Value::Str("Some(3)"));
        match &got[7] {
            Value::Error(e) => {
                assert_eq!(e.type_name, "my::Outer");
                assert_eq!(e.message, "outer failed");
                assert_eq!(e.chain().collect::<Vec<_>>(), ["disk full"]);
            }
            other => panic!("expected an error, got {other:?}"),
        }
        // An f32 decodes to the f64 of its own shortest digits, not to its widened value.
        assert_eq!(got[8], Value::F64(0.1));
    }

    /// A decimal numeral as (negative, significant digits, decimal point position):
    /// `0.000004225929` and `4.225929e-6` are both `(false, "4225929", -5)`.
    fn decimal(s: &str) -> (bool, String, i64) {
        let (negative, s) = s.strip_prefix('-').map_or((false, s), |r| (true, r));
        let (mantissa, exp) = s.split_once('e').unwrap_or((s, "0"));
        let (int, frac) = mantissa.split_once('.').unwrap_or((mantissa, ""));
        let mut point = int.len() as i64 + exp.parse::<i64>().unwrap();
        let digits = format!("{int}{frac}");
        let significant = digits.trim_start_matches('0');
        point -= (digits.len() - significant.len()) as i64;
        let significant = significant.trim_end_matches('0');
        (
            negative,
            significant.to_owned(),
            if significant.is_empty() { 0 } else { point },
        )
    }

    /// `f32_as_f64(x)`'s shortest `f64` digits (ryu, what the renderers write) are `x`'s own
    /// shortest digits (ryu's `f32` form): pseudo-random bit patterns and the edges. (All 2^32
    /// were checked once, offline.) ryu may write them in the other notation (`4.225929e-6`
    /// for an `f64`, `0.000004225929` for an `f32`). `format!("{x}")` has as many digits but
    /// may break an exact tie the other way (`312985.13` for ryu's `312985.12`).
    #[test]
    fn f32_as_f64_keeps_the_f32_shortest_digits() {
        use crate::record::f32_as_f64;
        let mut state = 0x9E37_79B9_7F4A_7C15u64;
        let edges = [
            0.1,
            1e-45,
            f32::MAX,
            f32::MIN_POSITIVE,
            -0.0,
            0.0,
            16_777_217.0,
        ];
        let random = (0..100_000).map(|_| {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            f32::from_bits(state as u32)
        });
        for x in edges.into_iter().chain(random) {
            let widened = f32_as_f64(x);
            if x.is_finite() {
                let (mut a, mut b) = (ryu::Buffer::new(), ryu::Buffer::new());
                let (shown, own) = (b.format_finite(widened), a.format_finite(x));
                assert_eq!(decimal(shown), decimal(own), "{x:?}: {shown} vs {own}");
                assert_eq!(widened as f32, x);
            } else {
                assert_eq!(widened.to_bits(), f64::from(x).to_bits());
            }
        }
    }

    #[test]
    fn malformed_bytes_stop_decoding_without_panic() {
        let bytes = [TAG_STR, 255, 255, 255, 255, b'x'];
        let mut it = Values::new(&bytes);
        assert_eq!(it.next(), None);
        assert!(it.malformed());
        let bytes = [TAG_STR, 2, 0, 0, 0, 0xff, 0xfe];
        let mut it = Values::new(&bytes);
        assert_eq!(it.next(), None);
        assert!(it.malformed());
        assert!(header(&[0; 31]).is_none());
        let mut bad_level = [0u8; 32];
        bad_level[0] = 9;
        assert!(header(&bad_level).is_none());
    }

    #[test]
    fn every_prefix_and_byte_flip_decodes_without_panic() {
        let values = [
            FieldValue::Str("hello"),
            FieldValue::U64(7),
            FieldValue::Bool(false),
        ];
        let h = Header {
            level: Level::Info,
            timestamp: 1,
            callsite: 2,
            logger: 3,
        };
        let bytes = to_vec(&h, &values);
        for n in 0..bytes.len() {
            if let Some((_, rest)) = header(&bytes[..n]) {
                let _ = Values::new(rest).count();
            }
        }
        for i in HEADER_LEN..bytes.len() {
            for flip in [0x01u8, 0x80, 0xff] {
                let mut b = bytes.clone();
                b[i] ^= flip;
                let (_, rest) = header(&b).unwrap();
                let _ = Values::new(rest).count();
            }
        }
    }
}
