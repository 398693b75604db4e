//! Golden tests for the renderers: exact bytes, hostile strings, round trips.

use std::borrow::Cow;

use super::Renderer;
use crate::config::{RendererConfig, RendererKind};
use crate::record::{Callsite, CallsiteKind, ErrorValue, EventDict, Value};
use crate::Level;

static CS: Callsite = Callsite {
    message: "Processing request",
    fields: &[],
    file: "src/main.rs",
    line: 42,
    module_path: "app::main",
    kind: CallsiteKind::Event,
    function: None,
};

/// 2024-01-01T12:00:00.123456Z
const T: u64 = 1_704_110_400_123_456_000;

fn render(config: RendererConfig, ev: &EventDict<'_>) -> String {
    let mut r = Renderer::build(&config, false).unwrap();
    let mut out = Vec::new();
    r.render(ev, &mut out);
    String::from_utf8(out).unwrap()
}

fn event() -> EventDict<'static> {
    let mut ev = EventDict::new(T, Level::Info, "app.db", &CS);
    ev.insert("service", Value::Str("auth"));
    ev.insert("user_id", Value::U64(123));
    ev.insert("delta", Value::I64(-7));
    ev.insert("latency_ms", Value::F64(0.25));
    ev.insert("ok", Value::Bool(true));
    ev
}

#[test]
fn json_golden() {
    assert_eq!(
        render(RendererConfig::new(RendererKind::FileJson), &event()),
        "{\"timestamp\":\"2024-01-01T12:00:00.123456Z\",\"level\":\"INFO\",\"logger\":\"app.db\",\"event\":\"Processing request\",\"service\":\"auth\",\"user_id\":123,\"delta\":-7,\"latency_ms\":0.25,\"ok\":true}\n"
    );
}

#[test]
fn plain_golden_default_fmt() {
    assert_eq!(
        render(RendererConfig::new(RendererKind::StreamPlain), &event()),
        "[2024-01-01 12:00:00] [INFO    ] [app.db]: Processing request service=auth user_id=123 delta=-7 latency_ms=0.25 ok=true\n"
    );
}

#[test]
fn plain_fmt_widths_fields_and_percent() {
    let mut c = RendererConfig::new(RendererKind::FilePlain);
    c.fmt = Some(
        "%(asctime)s|%(levelname)8s|%(name)-8s|%(user_id)d|%(missing)s|100%% %(message)s".into(),
    );
    c.datefmt = Some("%H:%M:%S.%f".into());
    assert_eq!(
        render(c, &event()),
        "12:00:00.123456|    INFO|app.db  |123||100% Processing request service=auth delta=-7 latency_ms=0.25 ok=true\n"
    );
}

#[test]
fn plain_fmt_errors_name_the_problem() {
    for bad in ["%(name", "%(name)q", "%(name)", "%x", "%()s", "%(a)99999s"] {
        let mut c = RendererConfig::new(RendererKind::FilePlain);
        c.fmt = Some(bad.into());
        let err = Renderer::build(&c, false)
            .err()
            .unwrap_or_else(|| panic!("{bad} accepted"));
        assert_eq!(err.code(), "CONFIGURATION::Renderer::VALIDATION::ERROR");
        assert!(err.msg().contains(bad), "{}", err.msg());
    }
    let mut c = RendererConfig::new(RendererKind::FilePlain);
    c.datefmt = Some("%Q".into());
    assert!(Renderer::build(&c, false).is_err());
}

const HOSTILE: &str =
    "quote\" backslash\\ newline\n cr\r tab\t nul\u{0} esc\u{1b} bell\u{7} emoji🎉 ünïcödé \u{7f}";

#[test]
fn json_escapes_hostile_strings_and_round_trips() {
    let mut ev = EventDict::new(T, Level::Error, "we\"ird\nlogger", &CS);
    ev.event = Cow::Borrowed(HOSTILE);
    ev.insert("k\"ey", Value::Str(HOSTILE));
    ev.insert("event", Value::Str("shadowed"));
    let line = render(RendererConfig::new(RendererKind::StreamJson), &ev);
    assert_eq!(line.matches('\n').count(), 1, "one line: {line:?}");
    assert!(line.contains("\\u0000") && line.contains("\\u001b") && line.contains("\\\""));
    let v: serde_json::Value = serde_json::from_str(&line).unwrap();
    assert_eq!(v["event"], HOSTILE);
    assert_eq!(v["logger"], "we\"ird\nlogger");
    assert_eq!(v["k\"ey"], HOSTILE);
    assert_eq!(v["fields.event"], "shadowed");
    assert_eq!(v["level"], "ERROR");
}

#[test]
fn plain_keeps_hostile_strings_on_one_line() {
    let mut ev = EventDict::new(T, Level::Warning, "app", &CS);
    ev.event = Cow::Borrowed("line1\nline2");
    ev.insert("v", Value::Str(HOSTILE));
    ev.insert("plain", Value::Str("simple"));
    let line = render(RendererConfig::new(RendererKind::FilePlain), &ev);
    assert_eq!(
        line,
        "[2024-01-01 12:00:00] [WARNING ] [app]: line1\\nline2 v=\"quote\\\" backslash\\\\ newline\\n cr\\r tab\\t nul\\u{0} esc\\u{1b} bell\\u{7} emoji🎉 ünïcödé \\u{7f}\" plain=simple\n"
    );
}

#[test]
fn one_mebibyte_values_render_whole() {
    let big = "x".repeat(1 << 20) + "\"end";
    let mut ev = EventDict::new(T, Level::Info, "app", &CS);
    ev.insert("big", Value::Str(&big));
    let line = render(RendererConfig::new(RendererKind::FileJson), &ev);
    let v: serde_json::Value = serde_json::from_str(&line).unwrap();
    assert_eq!(v["big"].as_str().unwrap(), big);
    let line = render(RendererConfig::new(RendererKind::FilePlain), &ev);
    assert!(line.len() > 1 << 20 && line.ends_with("\\\"end\"\n"));
}

#[test]
fn numbers_round_trip_exactly() {
    let floats = [0.1, 1e300, -0.0, 5e-324, f64::MAX, 123456.789, -2.5e-8];
    for f in floats {
        let mut ev = EventDict::new(T, Level::Info, "app", &CS);
        ev.insert("f", Value::F64(f));
        ev.insert("u", Value::U64(u64::MAX));
        ev.insert("i", Value::I64(i64::MIN));
        let v: serde_json::Value =
            serde_json::from_str(&render(RendererConfig::new(RendererKind::FileJson), &ev))
                .unwrap();
        assert_eq!(v["f"].as_f64().unwrap().to_bits(), f.to_bits(), "{f}");
        assert_eq!(v["u"].as_u64().unwrap(), u64::MAX);
        assert_eq!(v["i"].as_i64().unwrap(), i64::MIN);
    }
    let mut ev = EventDict::new(T, Level::Info, "app", &CS);
    ev.insert("nan", Value::F64(f64::NAN));
    ev.insert("inf", Value::F64(f64::NEG_INFINITY));
    let v: serde_json::Value =
        serde_json::from_str(&render(RendererConfig::new(RendererKind::FileJson), &ev)).unwrap();
    assert_eq!(v["nan"], "NaN");
    assert_eq!(v["inf"], "-inf");
}

#[test]
fn json_values_errors_and_exceptions() {
    let mut chain = Vec::new();
    for s in ["disk full", "io"] {
        chain.extend_from_slice(&(s.len() as u32).to_le_bytes());
        chain.extend_from_slice(s.as_bytes());
    }
    let err = ErrorValue::new("my::Error", "write failed", &chain);
    let nested = serde_json::json!({"a": [1, 2, {"b": null}]});
    let mut ev = EventDict::new(T, Level::Error, "app", &CS);
    ev.insert("cfg", Value::Json(Cow::Borrowed(&nested)));
    ev.insert("error", Value::Error(err.clone()));
    ev.insert("exception", Value::Exception(err));
    let line = render(RendererConfig::new(RendererKind::FileJson), &ev);
    assert!(line.ends_with(",\"cfg\":\"{\\\"a\\\":[1,2,{\\\"b\\\":null}]}\",\"error\":\"write failed\",\"exception\":{\"type\":\"my::Error\",\"message\":\"write failed\",\"chain\":[\"disk full\",\"io\"]}}\n"), "{line}");
}

#[test]
fn json_indentation_pretty_prints_one_object() {
    let mut c = RendererConfig::new(RendererKind::FileJson);
    c.indentation = Some(2);
    let out = render(c, &event());
    assert!(
        out.starts_with(
            "{\n  \"timestamp\": \"2024-01-01T12:00:00.123456Z\",\n  \"level\": \"INFO\",\n"
        ),
        "{out}"
    );
    assert!(out.ends_with("\n}\n"));
    let v: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert_eq!(v["user_id"], 123);
}

#[test]
fn plain_widths_count_characters_and_pad_outside_colours() {
    let mut ev = EventDict::new(T, Level::Info, "dé", &CS);
    // U+0085 is a control character (escaped); U+00A9 shares its first UTF-8 byte (kept).
    ev.event = Cow::Borrowed("a\u{85}b©");
    let mut c = RendererConfig::new(RendererKind::StreamColored);
    c.fmt = Some("%(level)8s|%(name)-5s|%(name)4s|%(event)s".into());
    let mut r = Renderer::build(&c, true).unwrap();
    let mut out = Vec::new();
    r.render(&ev, &mut out);
    let colored = std::env::var_os("NO_COLOR").is_none_or(|v| v.is_empty());
    let level = if colored {
        "    \x1b[32mINFO\x1b[0m"
    } else {
        "    INFO"
    };
    assert_eq!(
        String::from_utf8(out).unwrap(),
        format!("{level}|dé   |  dé|a\\u{{85}}b©\n")
    );
}

#[test]
fn colored_only_on_terminals() {
    let ev = event();
    let c = RendererConfig::new(RendererKind::StreamColored);
    let mut r = Renderer::build(&c, true).unwrap();
    let mut out = Vec::new();
    r.render(&ev, &mut out);
    let s = String::from_utf8(out).unwrap();
    if std::env::var_os("NO_COLOR").is_none_or(|v| v.is_empty()) {
        assert!(s.contains("\x1b[32mINFO\x1b[0m"), "{s:?}");
    }
    assert!(!render(c, &ev).contains('\x1b'));
}

/// A small xorshift generator for property tests without extra dependencies.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }

    fn string(&mut self) -> String {
        let len = (self.next() % 24) as usize;
        (0..len)
            .map(|_| match self.next() % 6 {
                0 => char::from_u32((self.next() % 0x20) as u32).unwrap(),
                1 => ['"', '\\', '/', '\u{7f}'][(self.next() % 4) as usize],
                2 => char::from_u32(0x80 + (self.next() % 0xD700) as u32).unwrap_or('?'),
                3 => '🎉',
                _ => (b'a' + (self.next() % 26) as u8) as char,
            })
            .collect()
    }
}

#[test]
fn property_json_lines_parse_back_to_the_input_values() {
    let mut rng = Rng(0x9E37_79B9_7F4A_7C15);
    let mut r = Renderer::build(&RendererConfig::new(RendererKind::FileJson), false).unwrap();
    for _ in 0..5_000 {
        let strings: Vec<String> = (0..4).map(|_| rng.string()).collect();
        let f = f64::from_bits(rng.next());
        let u = rng.next();
        let mut ev = EventDict::new(
            rng.next() % 4_102_444_800_000_000_000,
            Level::Info,
            &strings[0],
            &CS,
        );
        ev.event = Cow::Borrowed(&strings[1]);
        ev.insert(format!("k{}", strings[2]), Value::Str(&strings[3]));
        ev.insert("f", Value::F64(f));
        ev.insert("u", Value::U64(u));
        ev.insert("i", Value::I64(u as i64));
        let mut out = Vec::new();
        r.render(&ev, &mut out);
        assert_eq!(out.iter().filter(|&&b| b == b'\n').count(), 1);
        let v: serde_json::Value = serde_json::from_slice(&out).unwrap();
        assert_eq!(v["logger"], *strings[0]);
        assert_eq!(v["event"], *strings[1]);
        assert_eq!(v[format!("k{}", strings[2])], *strings[3]);
        assert_eq!(v["u"].as_u64(), Some(u));
        assert_eq!(v["i"].as_i64(), Some(u as i64));
        if f.is_finite() {
            assert_eq!(v["f"].as_f64().unwrap().to_bits(), f.to_bits());
        } else {
            assert!(v["f"].is_string());
        }
    }
}

fn ryu_text(v: f64) -> Vec<u8> {
    ryu::Buffer::new().format_finite(v).as_bytes().to_vec()
}

#[test]
fn floats_print_exactly_as_ryu_prints_them() {
    let mut rng = Rng(0xD1B5_4A32_D192_ED03);
    let check = |v: f64| {
        let mut out = Vec::new();
        super::json::push_f64(&mut out, v);
        if v.is_finite() {
            assert_eq!(
                String::from_utf8(out).unwrap(),
                String::from_utf8(ryu_text(v)).unwrap(),
                "{v:e} ({:#x})",
                v.to_bits()
            );
        }
    };
    for v in [
        0.0,
        -0.0,
        1.0,
        -1.0,
        0.25,
        0.1,
        0.2,
        0.3,
        1e-5,
        -1e-5,
        9e-6,
        1.5e-5,
        9.99999e-6,
        123.456,
        999_999_999.999_999,
        1e9,
        1e9 - 1e-6,
        999_999_999.5,
        1e15,
        1e16,
        5e-324,
        f64::MAX,
        f64::MIN_POSITIVE,
        0.1 + 0.2,
        1.0 / 3.0,
        2.5e-5,
        100.0,
        1234567.0,
    ] {
        check(v);
    }
    for _ in 0..200_000 {
        check(f64::from_bits(rng.next()));
        // Short decimals: up to nine integer and six fractional digits.
        let int = rng.next() % 10u64.pow((rng.next() % 10) as u32);
        let digits = (rng.next() % 7) as u32;
        let frac = rng.next() % 10u64.pow(digits);
        let v = int as f64 + frac as f64 / 10f64.powi(digits as i32);
        check(v);
        check(-v);
        check(v / 1e3);
        check(v * 1e6);
    }
}

/// Plain formats for the direct-path tests: (fmt, datefmt, colours, whether the direct path
/// renders it). The last two print a field or the date twice, which the event path renders.
const PLAIN_FORMATS: [(Option<&str>, Option<&str>, bool, bool); 7] = [
    (None, None, false, true),
    (None, None, true, true),
    (
        Some("%(asctime)s|%(levelname)8s|%(name)-8s|100%% %(message)s"),
        Some("%H:%M:%S.%f"),
        true,
        true,
    ),
    (Some("%(event)s @ %(asctime)30s"), None, false, true),
    (Some("%(level)s %(name)s"), None, false, true),
    (Some("%(asctime)s %(k0)s"), None, false, false),
    (Some("%(asctime)s %(asctime)s"), None, false, false),
];

fn plain_renderer(case: usize) -> super::plain::PlainRenderer {
    let (fmt, datefmt, colors, _) = PLAIN_FORMATS[case % PLAIN_FORMATS.len()];
    super::plain::PlainRenderer::new(fmt, datefmt, true, colors).unwrap()
}

fn leak(s: String) -> &'static str {
    Box::leak(s.into_boxed_str())
}

/// A record encoded as the producer encodes it (header addresses zero).
fn encode_record(level: Level, values: &[crate::front::value::FieldValue<'_>]) -> Vec<u8> {
    let header = crate::record::encode::Header {
        level,
        timestamp: 0,
        callsite: 0,
        logger: 0,
    };
    crate::record::encode::to_vec(&header, values)
}

/// The event the drainer's general path builds for a record: bound context first, then the
/// record's fields (merged by key when there is context).
fn event_path<'a>(
    unix_nanos: u64,
    level: Level,
    logger: &'a str,
    callsite: &'a Callsite,
    context: &'a [(String, serde_json::Value)],
    encoded: &'a [u8],
) -> EventDict<'a> {
    let mut ev = EventDict::new(unix_nanos, level, logger, callsite);
    for (k, v) in context {
        ev.insert(k.as_str(), crate::record::context_value(v));
    }
    for (name, v) in callsite
        .fields
        .iter()
        .zip(crate::record::decode::Values::new(encoded))
    {
        if context.is_empty() {
            ev.push(name, v);
        } else {
            ev.insert(*name, v);
        }
    }
    ev
}

#[test]
fn encoded_json_renders_byte_for_byte_as_the_event_path() {
    use super::json::{JsonRenderer, JsonTemplate, LoggerJson};
    use crate::front::value::FieldValue;
    use crate::record::decode;

    let mut rng = Rng(0x2545_F491_4F6C_DD1D);
    let mut general = JsonRenderer::new(None);
    let mut direct = JsonRenderer::new(None);
    let mut with_context = 0;
    let mut plain_rendered = 0;
    for case in 0..3_000 {
        let n = (rng.next() % 7) as usize;
        let names: Vec<&'static str> = (0..n)
            .map(|i| match rng.next() % 5 {
                0 => ["timestamp", "level", "logger", "event"][i % 4],
                1 => leak(rng.string()),
                _ => leak(format!("k{i}")),
            })
            .collect();
        let callsite: &'static Callsite = Box::leak(Box::new(Callsite {
            message: leak(rng.string()),
            fields: Box::leak(names.into_boxed_slice()),
            file: "src/main.rs",
            line: 1,
            module_path: "app",
            kind: CallsiteKind::Event,
            function: None,
        }));
        let strings: Vec<String> = (0..n).map(|_| rng.string()).collect();
        let values: Vec<FieldValue<'_>> = (0..n)
            .map(|i| match rng.next() % 8 {
                0 => FieldValue::I64(rng.next() as i64),
                1 => FieldValue::U64(rng.next()),
                2 => FieldValue::F64(f64::from_bits(rng.next())),
                3 => FieldValue::F64((rng.next() % 1_000_000) as f64 / 1e3),
                4 => FieldValue::Bool(rng.next() % 2 == 0),
                5 => FieldValue::F32(f32::from_bits(rng.next() as u32)),
                6 => FieldValue::F32((rng.next() % 1_000_000) as f32 / 1e3),
                _ => FieldValue::Str(&strings[i]),
            })
            .collect();
        let level = Level::ALL[case % 6];
        let bytes = encode_record(level, &values);
        let (_, encoded) = decode::header(&bytes).unwrap();
        let logger = rng.string();
        let other_logger = format!("other.{}", rng.string());
        let unix_nanos = rng.next() % 4_102_444_800_000_000_000;
        // Bound context for the second logger: none, or up to three entries whose keys may
        // collide with the fields ("k0", "k1") or be fixed keys.
        let context: Vec<(String, serde_json::Value)> = (0..rng.next() % 4)
            .map(|i| {
                let key = match rng.next() % 4 {
                    0 => format!("k{}", rng.next() % 2),
                    1 => "event".to_owned(),
                    _ => format!("ctx{i}{}", rng.string()),
                };
                let value = match rng.next() % 5 {
                    0 => serde_json::json!(rng.string()),
                    1 => serde_json::json!(rng.next()),
                    2 => serde_json::json!(-((rng.next() % 1000) as i64)),
                    3 => serde_json::json!({"nested": [1, "two", null]}),
                    _ => serde_json::json!(true),
                };
                (key, value)
            })
            .collect();
        let no_context: Vec<(String, serde_json::Value)> = Vec::new();
        let mut plain_general = plain_renderer(case);
        let mut plain_direct = plain_renderer(case);

        let mut template = JsonTemplate::new(callsite);
        // The same statement through two loggers and two levels: the cached prefix follows.
        for (logger_id, logger, level, context) in [
            (1, &logger, level, &no_context),
            (2, &other_logger, level, &context),
            (2, &other_logger, Level::ALL[(case + 1) % 6], &context),
            (1, &logger, level, &no_context),
        ] {
            let ev = event_path(unix_nanos, level, logger, callsite, context, encoded);
            let mut expected = Vec::new();
            general.render(&ev, &mut expected);

            let mut json_name = Vec::new();
            super::json::push_str(&mut json_name, logger);
            let context_json = super::json::context_json(context);
            let logger = LoggerJson {
                id: logger_id,
                name: &json_name,
                plain_name: logger,
                context,
                context_json: &context_json,
            };
            let mut keys: Vec<&str> = context.iter().map(|(k, _)| k.as_str()).collect();
            keys.extend(callsite.fields);
            let mut unique = keys.clone();
            unique.sort();
            unique.dedup();
            let merges = !context.is_empty() && unique.len() < keys.len();

            // The same record to a plain handler (index 1) with this case's format.
            let mut plain_expected = Vec::new();
            plain_general.render(&ev, &mut plain_expected);
            let mut got = b"before\n".to_vec();
            let rendered = template.prepare_plain(level, &logger, 1, None, &plain_direct)
                && plain_direct.render_encoded(
                    &mut got,
                    unix_nanos,
                    template.plain_line(1).unwrap(),
                    encoded,
                );
            if merges || !PLAIN_FORMATS[case % PLAIN_FORMATS.len()].3 {
                assert!(!rendered);
                assert_eq!(got, b"before\n");
            } else {
                assert!(rendered);
                assert_eq!(
                    String::from_utf8_lossy(&got[7..]),
                    String::from_utf8_lossy(&plain_expected)
                );
                plain_rendered += 1;
            }

            let mut got = b"before\n".to_vec();
            let rendered = template.prepare(level, &logger, 0, None)
                && direct.render_encoded(&mut got, unix_nanos, &template, encoded, 0);
            if merges {
                // Repeated or context-colliding names: the event path merges them, the direct
                // path declines and leaves the output alone.
                assert!(!rendered);
                assert_eq!(got, b"before\n");
                continue;
            }
            assert!(rendered);
            assert_eq!(
                String::from_utf8_lossy(&got[7..]),
                String::from_utf8_lossy(&expected)
            );
            with_context += usize::from(!context.is_empty());
        }
        let mut json_name = Vec::new();
        super::json::push_str(&mut json_name, &logger);
        let logger = LoggerJson {
            id: 1,
            name: &json_name,
            plain_name: &logger,
            context: &no_context,
            context_json: b"",
        };

        // Truncated values (or values the template does not name) leave the output as it was.
        if !encoded.is_empty() {
            let cut = (rng.next() as usize) % encoded.len();
            let mut out = b"x".to_vec();
            assert!(template.prepare(level, &logger, 0, None));
            assert!(!direct.render_encoded(&mut out, unix_nanos, &template, &encoded[..cut], 0));
            assert_eq!(out, b"x");
        }
    }
    // Bound context took the direct path in a good share of the cases.
    assert!(with_context > 2_000, "{with_context}");
    assert!(plain_rendered > 6_000, "{plain_rendered}");
}

#[test]
fn encoded_json_leaves_errors_to_the_event_path() {
    use super::json::{JsonRenderer, JsonTemplate};
    use crate::front::value::FieldValue;
    use crate::record::decode;

    static ERR_CS: Callsite = Callsite {
        message: "failed",
        fields: &["error"],
        file: "src/main.rs",
        line: 1,
        module_path: "app",
        kind: CallsiteKind::Event,
        function: None,
    };
    let e = std::io::Error::other("disk full");
    let bytes = encode_record(Level::Error, &[FieldValue::Error(&e, "std::io::Error")]);
    let (_, encoded) = decode::header(&bytes).unwrap();
    let mut out = Vec::new();
    let mut template = JsonTemplate::new(&ERR_CS);
    let mut r = JsonRenderer::new(None);
    let logger = super::json::LoggerJson {
        id: 1,
        name: b"\"app\"",
        plain_name: "app",
        context: &[],
        context_json: b"",
    };
    assert!(template.prepare(Level::Error, &logger, 0, None));
    assert!(!r.render_encoded(&mut out, T, &template, encoded, 0));
    assert!(out.is_empty());
}

#[test]
fn encoded_json_applies_static_processors_byte_for_byte_as_the_event_path() {
    use super::json::{JsonRenderer, JsonTemplate, LoggerJson};
    use crate::config::{CallsiteParam, ProcessorConfig};
    use crate::front::value::FieldValue;
    use crate::process::{Chain, Outcome};
    use crate::record::decode;

    let mut rng = Rng(0x1234_5678_9ABC_DEF1);
    let mut general = JsonRenderer::new(None);
    let mut direct = JsonRenderer::new(None);
    let (mut rendered, mut declined, mut filtered) = (0, 0, 0);
    for case in 0..2_000 {
        // A chain of static processors in random order.
        let mut configs = Vec::new();
        for _ in 0..(1 + rng.next() % 3) {
            configs.push(match rng.next() % 3 {
                0 => ProcessorConfig::AddCallsiteParams {
                    parameters: CallsiteParam::ALL
                        .into_iter()
                        .filter(|_| rng.next() % 3 != 0)
                        .collect(),
                },
                1 => {
                    let mut defaults = serde_json::Map::new();
                    for key in ["app", "lineno", "k0", "env"] {
                        if rng.next() % 2 == 0 {
                            defaults.insert(key.to_owned(), serde_json::json!(rng.string()));
                        }
                    }
                    ProcessorConfig::AddContextDefaults { defaults }
                }
                _ => ProcessorConfig::FilterByLevel {
                    min_level: Level::ALL[(rng.next() % 6) as usize],
                },
            });
        }
        let mut chain = Chain::build(&configs).unwrap();
        assert!(chain.is_static());

        let n = (rng.next() % 4) as usize;
        let names: Vec<&'static str> = (0..n)
            .map(|i| match rng.next() % 4 {
                0 => ["lineno", "filename", "app", "event"][i % 4],
                _ => leak(format!("k{i}")),
            })
            .collect();
        let callsite: &'static Callsite = Box::leak(Box::new(Callsite {
            message: "request handled",
            fields: Box::leak(names.into_boxed_slice()),
            file: "src/app/main.rs",
            line: 40 + case as u32,
            module_path: "app::main",
            kind: CallsiteKind::Event,
            function: None,
        }));
        let values: Vec<FieldValue<'_>> = (0..n).map(|i| FieldValue::U64(i as u64)).collect();
        let level = Level::ALL[case % 6];
        let bytes = encode_record(level, &values);
        let (_, encoded) = decode::header(&bytes).unwrap();
        let context: Vec<(String, serde_json::Value)> = match rng.next() % 3 {
            0 => vec![],
            1 => vec![("env".to_owned(), serde_json::json!("prod"))],
            _ => vec![("filename".to_owned(), serde_json::json!("ctx.rs"))],
        };

        // The event path.
        let mut ev = event_path(T, level, "app", callsite, &context, encoded);
        let outcome = chain.run(&mut ev);
        let mut expected = Vec::new();
        if outcome == Outcome::Keep {
            general.render(&ev, &mut expected);
        }

        // The direct path.
        let context_json = super::json::context_json(&context);
        let logger = LoggerJson {
            id: case as u64 + 1,
            name: b"\"app\"",
            plain_name: "app",
            context: &context,
            context_json: &context_json,
        };
        let mut template = JsonTemplate::new(callsite);
        if !template.prepare(level, &logger, 3, Some(&chain)) {
            declined += 1;
            continue;
        }
        if !chain.keeps_level(level) {
            assert_eq!(outcome, Outcome::Filtered);
            filtered += 1;
            continue;
        }
        assert_eq!(outcome, Outcome::Keep);
        let mut got = Vec::new();
        assert!(direct.render_encoded(&mut got, T, &template, encoded, 3));
        assert_eq!(
            String::from_utf8_lossy(&got),
            String::from_utf8_lossy(&expected)
        );
        rendered += 1;

        // A plain handler (index 4) with the same chain.
        let mut plain_general = plain_renderer(case);
        let mut plain_direct = plain_renderer(case);
        let mut expected = Vec::new();
        plain_general.render(&ev, &mut expected);
        let mut got = Vec::new();
        let plain = template.prepare_plain(level, &logger, 4, Some(&chain), &plain_direct)
            && plain_direct.render_encoded(&mut got, T, template.plain_line(4).unwrap(), encoded);
        assert_eq!(plain, PLAIN_FORMATS[case % PLAIN_FORMATS.len()].3);
        if plain {
            assert_eq!(
                String::from_utf8_lossy(&got),
                String::from_utf8_lossy(&expected)
            );
        }
    }
    // Every kind of outcome happened, the direct one most.
    assert!(
        rendered > 800 && declined > 50 && filtered > 50,
        "{rendered} {declined} {filtered}"
    );
}

/// Strings of every length around the eight-byte scan with one special character (or none)
/// at every position: the direct path (which copies clean ASCII without a UTF-8 pass) renders
/// them as the event path does, and declines bytes that are not UTF-8.
#[test]
fn encoded_strings_render_as_the_event_path_at_every_position() {
    use super::json::{JsonRenderer, JsonTemplate, LoggerJson};
    use crate::front::value::FieldValue;
    use crate::record::decode;

    static STR_CS: Callsite = Callsite {
        message: "m",
        fields: &["s"],
        file: "src/main.rs",
        line: 1,
        module_path: "app",
        kind: CallsiteKind::Event,
        function: None,
    };
    let logger = LoggerJson {
        id: 1,
        name: b"\"app\"",
        plain_name: "app",
        context: &[],
        context_json: b"",
    };
    let mut template = JsonTemplate::new(&STR_CS);
    assert!(template.prepare(Level::Info, &logger, 0, None));
    let mut general = JsonRenderer::new(None);
    let mut direct = JsonRenderer::new(None);
    let mut declined = 0;
    for len in 0..=18 {
        for pos in 0..=len {
            for special in ["", "\"", "\\", "\n", "\u{1f}", "\u{7f}", "é", "€", "🎉"] {
                let mut s = "x".repeat(len);
                if pos < len {
                    s.replace_range(pos..pos + 1, special);
                }
                let bytes = encode_record(Level::Info, &[FieldValue::Str(&s)]);
                let (_, encoded) = decode::header(&bytes).unwrap();
                let ev = event_path(T, Level::Info, "app", &STR_CS, &[], encoded);
                let mut expected = Vec::new();
                general.render(&ev, &mut expected);
                let mut got = Vec::new();
                assert!(
                    direct.render_encoded(&mut got, T, &template, encoded, 0),
                    "{s:?}"
                );
                assert_eq!(got, expected, "{s:?}");

                // The same string with one byte made invalid UTF-8 (a lone continuation byte
                // or 0xFF): the direct path leaves it to the event path.
                if !s.is_empty() {
                    let at = bytes.len() - encoded.len() + 5 + pos.min(s.len() - 1);
                    for bad in [0x80, 0xff] {
                        let mut corrupt = bytes.clone();
                        corrupt[at] = bad;
                        let (_, encoded) = decode::header(&corrupt).unwrap();
                        if std::str::from_utf8(&encoded[5..]).is_ok() {
                            continue;
                        }
                        let mut out = b"x".to_vec();
                        assert!(!direct.render_encoded(&mut out, T, &template, encoded, 0));
                        assert_eq!(out, b"x");
                        declined += 1;
                    }
                }
            }
        }
    }
    assert!(declined > 2_000, "{declined}");
}

/// The cached second is reused only within its own second: records a microsecond apart,
/// across a second boundary in both directions, and far apart, render as a fresh renderer
/// renders each alone.
#[test]
fn json_timestamps_stay_exact_across_the_cached_second() {
    let base = 1_700_000_000_000_000_000u64; // a whole second
    let mut cached = super::json::JsonRenderer::new(None);
    for t in [
        base + 999_999_999,
        base + 999_999_000,
        base + 1_000_000_000,
        base + 999_999_999,
        base,
        base - 1,
        base + 5_123_456_789,
        0,
        u64::MAX,
        base + 1_000,
    ] {
        let mut ev = event();
        ev.timestamp_ns = t;
        let mut got = Vec::new();
        cached.render(&ev, &mut got);
        let mut expected = Vec::new();
        super::json::JsonRenderer::new(None).render(&ev, &mut expected);
        assert_eq!(
            String::from_utf8(got).unwrap(),
            String::from_utf8(expected.clone()).unwrap()
        );
        let mut rfc = Vec::new();
        super::time::push_rfc3339(&mut rfc, t);
        let rfc = String::from_utf8(rfc).unwrap();
        let line = String::from_utf8(expected).unwrap();
        assert!(
            line.starts_with(&format!("{{\"timestamp\":\"{rfc}\"")),
            "{line} / {rfc}"
        );
    }
}

/// Nested context values (arrays, objects, null) follow the string quoting rule in the plain
/// tail, byte for byte the same on the direct path and the event path; numbers, bools and
/// plain strings are written as they were.
#[test]
fn plain_nested_values_are_quoted_on_both_paths() {
    use super::json::{JsonTemplate, LoggerJson};
    use crate::front::value::FieldValue;
    use crate::record::decode;

    static FIELDS_CS: Callsite = Callsite {
        message: "m",
        fields: &["f"],
        file: "src/main.rs",
        line: 1,
        module_path: "app",
        kind: CallsiteKind::Event,
        function: None,
    };
    let context: Vec<(String, serde_json::Value)> = vec![
        ("o".to_owned(), serde_json::json!({"b": "x y"})),
        ("a".to_owned(), serde_json::json!([1, 2])),
        ("q".to_owned(), serde_json::json!(["k=v"])),
        ("e".to_owned(), serde_json::json!({})),
        ("c".to_owned(), serde_json::json!(["\u{85}"])),
        ("n".to_owned(), serde_json::json!(null)),
        ("s".to_owned(), serde_json::json!("x y")),
        ("t".to_owned(), serde_json::json!(true)),
        ("i".to_owned(), serde_json::json!(-3)),
    ];
    let bytes = encode_record(Level::Info, &[FieldValue::Str("p")]);
    let (_, encoded) = decode::header(&bytes).unwrap();
    let ev = event_path(T, Level::Info, "app", &FIELDS_CS, &context, encoded);
    let fmt = Some("%(event)s");
    let mut expected = Vec::new();
    super::plain::PlainRenderer::new(fmt, None, true, false)
        .unwrap()
        .render(&ev, &mut expected);
    assert_eq!(
        String::from_utf8_lossy(&expected),
        "m o=\"{\\\"b\\\":\\\"x y\\\"}\" a=[1,2] q=\"[\\\"k=v\\\"]\" e={} c=\"[\\\"\\u{85}\\\"]\" n=null s=\"x y\" t=true i=-3 f=p\n"
    );
    let context_json = super::json::context_json(&context);
    let logger = LoggerJson {
        id: 1,
        name: b"\"app\"",
        plain_name: "app",
        context: &context,
        context_json: &context_json,
    };
    let mut direct = super::plain::PlainRenderer::new(fmt, None, true, false).unwrap();
    let mut template = JsonTemplate::new(&FIELDS_CS);
    assert!(template.prepare_plain(Level::Info, &logger, 0, None, &direct));
    let mut got = Vec::new();
    assert!(direct.render_encoded(&mut got, T, template.plain_line(0).unwrap(), encoded));
    assert_eq!(
        String::from_utf8_lossy(&got),
        String::from_utf8_lossy(&expected)
    );
}

/// Every `datefmt` directive at generated and edge timestamps (leap days, the ends of years,
/// noon and midnight for `%I`/`%p`, the largest year a `u64` of nanoseconds reaches), UTC and
/// in zones with and without daylight saving time, against Python's `datetime.strftime` (run
/// with the same `TZ`). Skipped, with a note, where there is no python3.
#[test]
fn datefmt_matches_python_strftime() {
    use super::time::DateFormat;
    use super::tz::Zone;
    use std::io::Write as _;
    const FMT: &str = "%Y|%y|%m|%d|%H|%I|%M|%S|%f|%j|%b|%B|%a|%A|%p|%z|%Z|%s|%%|%Y-%m-%dT%H:%M:%S";
    let mut stamps: Vec<u64> = vec![
        0,
        951_782_400_000_000_000,   // 2000-02-29
        951_868_799_999_999_999,   // 2000-02-29T23:59:59.999999999
        4_107_542_400_000_000_000, // 2100-03-01 (2100 is no leap year)
        1_704_110_400_123_456_000,
        1_704_067_200_000_001_000, // 2024-01-01T00:00:00.000001
        1_735_689_599_999_999_000, // 2024-12-31T23:59:59.999999
        1_711_846_800_000_000_000, // 2024-03-31T01:00:00Z, Paris goes to summer time
        1_730_595_600_000_000_000, // 2024-11-03T01:00:00Z
        2_147_483_647_000_000_000,
        u64::MAX,
    ];
    let mut state = 0x9E37_79B9_7F4A_7C15u64;
    for _ in 0..300 {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        // Up to 2037 (zone files' transitions end there; see `render::tz`).
        stamps.push(state % 2_145_916_800_000_000_000);
    }
    for tz in [
        "UTC",
        "Europe/Paris",
        "America/New_York",
        "Asia/Kolkata",
        "Australia/Lord_Howe",
    ] {
        let zone = (tz != "UTC").then(|| Zone::from_tz(tz));
        let mut got = String::new();
        for &t in &stamps {
            if tz != "UTC" && t > 2_145_916_800_000_000_000 {
                continue;
            }
            let mut d = DateFormat::parse_in(FMT, zone.clone()).unwrap();
            let mut out = Vec::new();
            d.format(t, &mut out);
            got.push_str(std::str::from_utf8(&out).unwrap());
            got.push('\n');
        }
        let script = format!(
            r#"
import datetime, sys
for line in sys.stdin:
    t = int(line)
    if "{tz}" != "UTC" and t > 2_145_916_800_000_000_000:
        continue
    s, ns = divmod(t, 10**9)
    utc = datetime.datetime(1970, 1, 1, tzinfo=datetime.timezone.utc) + datetime.timedelta(seconds=s, microseconds=ns // 1000)
    d = utc if "{tz}" == "UTC" else utc.astimezone()
    f = "{FMT}".replace("%s", str(s)).replace("%Z", d.tzname() if "{tz}" != "UTC" else "UTC")
    print(d.strftime(f))
"#
        );
        let Ok(mut child) = std::process::Command::new("python3")
            .arg("-c")
            .arg(&script)
            .env("TZ", tz)
            .stdin(std::process::Stdio::piped())
            .stdout(std::process::Stdio::piped())
            .spawn()
        else {
            eprintln!("no python3: datefmt comparison skipped");
            return;
        };
        let input: String = stamps.iter().map(|t| format!("{t}\n")).collect();
        child
            .stdin
            .take()
            .unwrap()
            .write_all(input.as_bytes())
            .unwrap();
        let out = child.wait_with_output().unwrap();
        assert!(out.status.success());
        let want = String::from_utf8(out.stdout).unwrap();
        for (g, w) in got.lines().zip(want.lines()) {
            assert_eq!(g, w, "TZ={tz}");
        }
        assert_eq!(got.lines().count(), want.lines().count());
    }
}

/// Removes ANSI SGR sequences (`ESC [ ... m`).
fn strip_sgr(b: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    let mut i = 0;
    while i < b.len() {
        if b[i] == 0x1b && b.get(i + 1) == Some(&b'[') {
            let mut j = i + 2;
            while j < b.len() && (b[j].is_ascii_digit() || b[j] == b';') {
                j += 1;
            }
            if b.get(j) == Some(&b'm') {
                i = j + 1;
                continue;
            }
        }
        out.push(b[i]);
        i += 1;
    }
    out
}

/// With colours on, the coloured renderer's output with its escape sequences removed is the
/// plain renderer's output byte for byte, for generated formats (the level padded, aligned
/// left or right, cut by a precision, in `repr` quotes, printed twice; other keys beside it)
/// and records of every
/// level, on the event path and the direct path; and only the level is coloured.
#[test]
fn colored_output_without_its_escapes_is_the_plain_output() {
    use super::json::{JsonTemplate, LoggerJson};
    use super::plain::PlainRenderer;
    use crate::front::value::FieldValue;
    use crate::record::decode;

    static COL_CS: Callsite = Callsite {
        message: "m \u{1b}[31m x",
        fields: &["s", "n"],
        file: "src/main.rs",
        line: 1,
        module_path: "app",
        kind: CallsiteKind::Event,
        function: None,
    };
    let mut rng = Rng(0xC0FF_EE12_3456_789A);
    let levels = Level::ALL;
    let mut direct_checked = 0;
    for case in 0..300 {
        let mut fmt = String::new();
        for _ in 0..1 + rng.next() % 4 {
            let key = ["level", "levelname", "name", "event", "asctime", "s", "n"]
                [(rng.next() % 7) as usize];
            let flags = ["", "-", "0", "-0", "+", " "][(rng.next() % 6) as usize];
            let width = ["", "1", "8", "12"][(rng.next() % 4) as usize];
            let precision = ["", "", ".", ".0", ".2", ".5"][(rng.next() % 6) as usize];
            let conv = ["s", "r", "d"][(rng.next() % 3) as usize];
            fmt.push_str(&format!("[%({key}){flags}{width}{precision}{conv}]"));
        }
        let mut colored = PlainRenderer::new(Some(&fmt), None, true, true).unwrap();
        let mut plain = PlainRenderer::new(Some(&fmt), None, true, false).unwrap();
        let level = levels[case % levels.len()];
        let s = rng.string();
        let values = [FieldValue::Str(&s), FieldValue::I64(-(case as i64))];
        let bytes = encode_record(level, &values);
        let (_, encoded) = decode::header(&bytes).unwrap();
        let ev = event_path(T, level, "app.ü", &COL_CS, &[], encoded);
        let (mut c, mut p) = (Vec::new(), Vec::new());
        colored.render(&ev, &mut c);
        plain.render(&ev, &mut p);
        assert_eq!(strip_sgr(&c), p, "{fmt:?}");
        let levels_printed = fmt.matches("%(level").count();
        assert_eq!(
            c.windows(4).filter(|w| *w == b"\x1b[0m").count(),
            levels_printed,
            "{fmt:?}"
        );

        // The direct path, where the format prints no field and the date once.
        let logger = LoggerJson {
            id: 1,
            name: b"\"app.\xc3\xbc\"",
            plain_name: "app.ü",
            context: &[],
            context_json: b"",
        };
        let mut template = JsonTemplate::new(&COL_CS);
        if template.prepare_plain(level, &logger, 0, None, &colored) {
            let line = template.plain_line(0).unwrap();
            let mut direct = Vec::new();
            assert!(colored.render_encoded(&mut direct, T, line, encoded));
            assert_eq!(direct, c, "{fmt:?}");
            direct_checked += 1;
        }
    }
    assert!(direct_checked > 30, "{direct_checked}");
}

/// The coloured renderer escapes as the plain one does: one line, a literal backslash-n
/// doubled, U+2028/U+2029 and ESC in values written `\u{..}` (so a value cannot inject colour
/// codes), the level between its colour code and the reset.
#[test]
fn colored_plain_escapes_like_plain() {
    let mut r =
        super::plain::PlainRenderer::new(Some("%(level)-6s|%(event)s"), None, true, true).unwrap();
    let mut ev = EventDict::new(T, Level::Error, "app", &CS);
    ev.event = Cow::Borrowed("a\\nb\n\u{2028}\u{2029}\u{1b}[31m");
    ev.insert("k", Value::Str("x\\ny\u{2028}"));
    let mut out = Vec::new();
    r.render(&ev, &mut out);
    assert_eq!(
        String::from_utf8(out).unwrap(),
        "\u{1b}[31mERROR\u{1b}[0m |a\\\\nb\\n\\u{2028}\\u{2029}\\u{1b}[31m k=\"x\\\\ny\\u{2028}\"\n"
    );
}
