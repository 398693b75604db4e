//! Entry points for the fuzz targets in `fuzz/` (and for `tests/fuzz_corpus.rs`, which runs
//! every target's function over its committed corpus on stable). Each function asserts the
//! property its target checks; a panic is a finding. Not public API.

use std::borrow::Cow;

use crate::config::{RendererConfig, RendererKind};
use crate::record::decode::{self, Values};
use crate::record::{Callsite, CallsiteKind, EventDict, Value};
use crate::render::Renderer;
use crate::{Level, LoggingSystemConfig};

static CALLSITE: Callsite = Callsite {
    message: "fuzz",
    fields: &["f0", "f1", "f2", "f3", "f4", "f5", "f6", "f7"],
    file: "src/fuzz.rs",
    line: 1,
    module_path: "kolog::fuzz",
    kind: CallsiteKind::Event,
    function: None,
};

/// Turns bytes into a list of values: a tag byte, then a length or 8 bytes of payload.
fn values(mut data: &[u8]) -> Vec<(String, Value<'static>)> {
    let mut out = Vec::new();
    let mut i = 0;
    while let Some((&tag, rest)) = data.split_first() {
        data = rest;
        let take8 = |d: &mut &[u8]| {
            let mut b = [0u8; 8];
            let n = d.len().min(8);
            b[..n].copy_from_slice(&d[..n]);
            *d = &d[n..];
            u64::from_le_bytes(b)
        };
        let v = match tag % 5 {
            0 => Value::I64(take8(&mut data) as i64),
            1 => Value::U64(take8(&mut data)),
            2 => Value::F64(f64::from_bits(take8(&mut data))),
            3 => Value::Bool(tag & 0x80 != 0),
            _ => {
                let n = (tag as usize / 5).min(data.len());
                let s = String::from_utf8_lossy(&data[..n]).into_owned();
                data = &data[n..];
                Value::String(s)
            }
        };
        out.push((
            format!("k{i}{}", if tag & 0x40 != 0 { "\"\\\n" } else { "" }),
            v,
        ));
        i += 1;
    }
    out
}

fn render(kind: RendererKind, ev: &EventDict<'_>) -> Vec<u8> {
    let mut r = Renderer::build(&RendererConfig::new(kind), false).expect("default renderer");
    let mut out = Vec::new();
    r.render(ev, &mut out);
    out
}

/// JSON renderer: every output line is valid JSON and round-trips to the input values.
pub fn json_renderer(data: &[u8]) {
    let split = data.iter().position(|&b| b == 0).unwrap_or(data.len());
    let event = String::from_utf8_lossy(&data[..split]).into_owned();
    let fields = values(data.get(split + 1..).unwrap_or(&[]));
    let mut ev = EventDict::new(
        u64::from_le_bytes([data.len() as u8; 8]) >> 2,
        Level::Info,
        "fuzz",
        &CALLSITE,
    );
    ev.event = Cow::Borrowed(&event);
    for (k, v) in &fields {
        ev.insert(k.as_str(), v.clone());
    }
    let out = render(RendererKind::FileJson, &ev);
    assert_eq!(out.last(), Some(&b'\n'));
    assert_eq!(out.iter().filter(|&&b| b == b'\n').count(), 1, "one line");
    let parsed: serde_json::Value = serde_json::from_slice(&out).expect("valid JSON");
    assert_eq!(parsed["event"], *event);
    for f in ev.fields() {
        let got = &parsed[f.key.as_ref()];
        match &f.value {
            Value::F64(x) if !x.is_finite() => assert!(got.is_string()),
            Value::F64(x) => assert_eq!(got.as_f64().map(f64::to_bits), Some(x.to_bits())),
            other => assert_eq!(*got, other.to_json()),
        }
    }
}

/// Plain renderer and its `fmt` parser: an error or one bounded line, never a panic.
pub fn plain_renderer(data: &[u8]) {
    let text = String::from_utf8_lossy(data);
    let mut parts = text.splitn(3, '\u{0}');
    let fmt = parts.next().unwrap_or_default();
    let datefmt = parts.next();
    let mut config = RendererConfig::new(RendererKind::FilePlain);
    config.fmt = Some(fmt.to_owned());
    config.datefmt = datefmt.map(str::to_owned);
    let Ok(mut r) = Renderer::build(&config, false) else {
        return;
    };
    let fields = values(parts.next().unwrap_or_default().as_bytes());
    let mut ev = EventDict::new(1_704_110_400_123_456_000, Level::Warning, "fuzz", &CALLSITE);
    for (k, v) in &fields {
        ev.insert(k.as_str(), v.clone());
    }
    let mut out = Vec::new();
    r.render(&ev, &mut out);
    assert_eq!(out.last(), Some(&b'\n'));
    // Values are escaped, so only the format's own literal text may add line breaks.
    if !fmt.contains('\n') && !datefmt.is_some_and(|d| d.contains('\n')) {
        assert_eq!(out.iter().filter(|&&b| b == b'\n').count(), 1, "one line");
    }
    // Widths are capped at 1024, so output is bounded by the input.
    assert!(
        out.len() <= 2048 * (data.len() + 64),
        "unbounded output: {} bytes",
        out.len()
    );
}

/// Configuration loaders: an error or a valid configuration, never a panic.
pub fn config(data: &[u8]) {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let _ = LoggingSystemConfig::from_json_str(text);
    let _ = LoggingSystemConfig::from_yaml_str(text);
}

/// The record decoder on arbitrary ring bytes: decoding and rendering never panic. (The two
/// addresses in a header are trusted by the drainer and not dereferenced here.)
pub fn record_decoder(data: &[u8]) {
    let Some((header, rest)) = decode::header(data) else {
        return;
    };
    let mut ev = EventDict::new(header.timestamp, header.level, "fuzz", &CALLSITE);
    let mut it = Values::new(rest);
    for (name, v) in CALLSITE.fields.iter().zip(it.by_ref()) {
        ev.insert(*name, v);
    }
    let _ = it.malformed();
    let out = render(RendererKind::FileJson, &ev);
    serde_json::from_slice::<serde_json::Value>(&out).expect("valid JSON");
    let _ = render(RendererKind::FilePlain, &ev);
    direct_matches_event_path(header.timestamp, header.level, rest);
}

/// The drainer's direct JSON path over the same bytes, with a statement of as many fields as
/// there are values: it renders exactly what the event path renders, or declines (leaving the
/// output as it was) when the values are malformed or an error.
fn direct_matches_event_path(unix_nanos: u64, level: Level, values: &[u8]) {
    use std::sync::OnceLock;

    use crate::render::{JsonRenderer, JsonTemplate, LoggerJson, PlainRenderer};

    // Statements with 0 to 8 fields, made once.
    static CALLSITES: OnceLock<Vec<&'static Callsite>> = OnceLock::new();
    let callsites = CALLSITES.get_or_init(|| {
        (0..=CALLSITE.fields.len())
            .map(|n| {
                &*Box::leak(Box::new(Callsite {
                    fields: &CALLSITE.fields[..n],
                    ..CALLSITE
                }))
            })
            .collect()
    });
    // The values up to the first malformed one; the direct path declines if there is one.
    let mut all = Values::new(values);
    let n = all.by_ref().count();
    let malformed = all.malformed();
    let Some(&callsite) = callsites.get(n) else {
        return;
    };
    let mut ev = EventDict::new(unix_nanos, level, "fuzz", callsite);
    let mut has_error = false;
    for (name, v) in callsite.fields.iter().zip(Values::new(values)) {
        has_error |= matches!(v, Value::Error(_));
        ev.insert(*name, v);
    }
    let mut expected = Vec::new();
    JsonRenderer::new(None).render(&ev, &mut expected);

    let logger = LoggerJson {
        id: 1,
        name: b"\"fuzz\"",
        plain_name: "fuzz",
        context: &[],
        context_json: b"",
    };
    let mut template = JsonTemplate::new(callsite);
    // Either the direct path rendered exactly what the event path did, or it declined (the
    // values are malformed or an error) and left the output alone.
    let check = |rendered: bool, out: &[u8], expected: &[u8], renderer: &str| {
        if rendered {
            assert!(
                !malformed && !has_error,
                "{renderer}: rendered malformed values"
            );
            assert_eq!(out[1..], expected[..], "{renderer}: direct path differs");
        } else {
            assert_eq!(
                out, b"x",
                "{renderer}: a declined render left output behind"
            );
            assert!(
                malformed || has_error,
                "{renderer}: declined well-formed values"
            );
        }
    };
    let mut out = b"x".to_vec();
    // No bound context and distinct names: the template always accepts this logger.
    assert!(template.prepare(level, &logger, 0, None));
    let rendered =
        JsonRenderer::new(None).render_encoded(&mut out, unix_nanos, &template, values, 0);
    check(rendered, &out, &expected, "json");

    // The same for the plain renderer (default format, UTC).
    let mut plain = PlainRenderer::new(None, None, true, false).expect("default format");
    let mut expected = Vec::new();
    plain.render(&ev, &mut expected);
    let mut out = b"x".to_vec();
    assert!(template.prepare_plain(level, &logger, 1, None, &plain));
    let line = template.plain_line(1).expect("prepared");
    let rendered = plain.render_encoded(&mut out, unix_nanos, line, values);
    check(rendered, &out, &expected, "plain");
}

#[cfg(test)]
mod tests {
    use crate::front::value::FieldValue;
    use crate::record::encode::{to_vec, Header};
    use crate::Level;

    /// Well-formed records (the corpus is mostly malformed bytes): the direct path renders
    /// them, and exactly as the event path does; cut short, it declines.
    #[test]
    fn record_decoder_checks_the_direct_path_on_well_formed_records() {
        let e = std::io::Error::other("disk full");
        let values = [
            FieldValue::U64(7),
            FieldValue::Str("a \"quoted\"\n\u{0} 🎉"),
            FieldValue::F64(0.25),
            FieldValue::F64(f64::NAN),
            FieldValue::F32(0.1),
            FieldValue::F32(f32::NEG_INFINITY),
            FieldValue::I64(-3),
            FieldValue::Bool(true),
            FieldValue::Error(&e, "std::io::Error"),
        ];
        for n in 0..=values.len() {
            let header = Header {
                level: Level::Warning,
                timestamp: 1_700_000_000_000_000_000,
                callsite: 0,
                logger: 0,
            };
            let bytes = to_vec(&header, &values[..n]);
            super::record_decoder(&bytes);
            for cut in 32..bytes.len() {
                super::record_decoder(&bytes[..cut]);
            }
        }
    }
}
