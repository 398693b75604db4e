//! Adversarial round twelve G: output correctness against generated inputs and reference
//! implementations: JSON lines against serde_json (values, key order, `indentation` against
//! serde_json's pretty printer), the plain renderer and `datefmt` against Python's `%`
//! operator and `time.strftime`, and the configuration loaders (the same document in JSON and
//! YAML, error paths).

mod common;
use kolog::Kolog;
use std::fmt;
use std::path::Path;

/// A small deterministic generator (xorshift64).
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }

    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }

    /// A string of interesting characters: every control character, quotes, backslashes,
    /// U+2028/2029, non-BMP, multi-byte, plain ASCII.
    fn string(&mut self, max: u64) -> String {
        let len = self.below(max + 1);
        (0..len)
            .map(|_| match self.below(9) {
                0 => char::from_u32(self.below(0x20) as u32).unwrap(),
                1 => ['"', '\\', '/', '\u{7f}', '\''][self.below(5) as usize],
                2 => {
                    ['\u{2028}', '\u{2029}', '\u{85}', '\u{feff}', '\u{ad}'][self.below(5) as usize]
                }
                3 => ['🎉', '𝄞', '\u{10ffff}', '\u{1f600}'][self.below(4) as usize],
                4 => char::from_u32(0x80 + self.below(0xD700) as u32).unwrap_or('?'),
                5 => [' ', '=', '%', '{', '}', '[', ']'][self.below(7) as usize],
                _ => (b'a' + self.below(26) as u8) as char,
            })
            .collect()
    }

    fn f64(&mut self) -> f64 {
        const EDGES: [f64; 22] = [
            0.0,
            -0.0,
            f64::NAN,
            f64::INFINITY,
            f64::NEG_INFINITY,
            f64::MIN_POSITIVE,
            5e-324,
            -5e-324,
            f64::from_bits(0x000F_FFFF_FFFF_FFFF),
            f64::MAX,
            f64::MIN,
            f64::EPSILON,
            1e21,
            1e22,
            -1e21,
            9.999999999999999e20,
            1e-7,
            1e-8,
            1.5e-7,
            0.1,
            123456789.123456,
            1e15,
        ];
        match self.below(3) {
            0 => EDGES[self.below(EDGES.len() as u64) as usize],
            1 => f64::from_bits(self.next()),
            _ => (self.below(2_000_000_000) as f64 - 1e9) / 10f64.powi(self.below(30) as i32),
        }
    }
}

/// A `Display`/`Debug` that writes `text` in pieces of `piece` bytes (at character
/// boundaries).
struct Pieces<'a> {
    text: &'a str,
    piece: usize,
}

impl fmt::Display for Pieces<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut rest = self.text;
        while !rest.is_empty() {
            let mut n = self.piece.min(rest.len());
            while !rest.is_char_boundary(n) {
                n += 1;
            }
            f.write_str(&rest[..n])?;
            rest = &rest[n..];
        }
        Ok(())
    }
}

impl fmt::Debug for Pieces<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(self, f)
    }
}

fn json_kolog(path: &Path, params: &str, context: &serde_json::Value) -> Kolog {
    Kolog::from_json_str(&format!(
        r#"{{"loggers": [{{"name": "root", "level": "INFO", "context": {context},
            "handlers": [{{"type": "file", "params": {{"filename": "{}", "mode": "w"}},
            "renderer": {{"type": "file_json", "params": {params}}}}}]}}]}}"#,
        path.display()
    ))
    .unwrap()
}

/// The top-level keys of a JSON object's text, in order (serde_json keeps the order here, but
/// also merges repeated keys; this does not).
fn keys_in_order(line: &str) -> Vec<String> {
    let mut de = serde_json::Deserializer::from_str(line);
    struct Keys(Vec<String>);
    impl<'de> serde::de::Visitor<'de> for Keys {
        type Value = Vec<String>;
        fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
            f.write_str("an object")
        }
        fn visit_map<A: serde::de::MapAccess<'de>>(
            mut self,
            mut m: A,
        ) -> Result<Self::Value, A::Error> {
            while let Some((k, _)) = m.next_entry::<String, serde::de::IgnoredAny>()? {
                self.0.push(k);
            }
            Ok(self.0)
        }
    }
    serde::Deserializer::deserialize_map(&mut de, Keys(Vec::new())).unwrap()
}

/// Every JSON line parses, starts with `timestamp`, `level`, `logger`, `event`, and holds
/// exactly the values logged: generated strings (every control character, quotes,
/// backslashes, U+2028/2029, non-BMP), integers at their limits, 128-bit integers (a number
/// when they fit 64 bits, else their digits), floats of every kind (non-finite ones as
/// strings), `f32`s in their own shortest form, and `Display`/`Debug` values written in many
/// pieces, written as nothing, or huge; with generated bound-context keys and values.
#[test]
fn json_lines_round_trip_generated_values() {
    let dir = common::temp_dir("r12g-json-values");
    let path = dir.join("out.log");
    let mut rng = Rng(0x2545_F491_4F6C_DD1D);
    let mut context = serde_json::Map::new();
    for _ in 0..12 {
        context.insert(rng.string(12), serde_json::Value::String(rng.string(12)));
    }
    context.insert("timestamp".into(), serde_json::json!(1));
    context.insert(String::new(), serde_json::json!(u64::MAX));
    context.insert("neg".into(), serde_json::json!(i64::MIN));
    context.insert("f".into(), serde_json::json!(1e-7));
    let context = serde_json::Value::Object(context);
    let k = json_kolog(&path, "{}", &context);
    let log = k.logger("root").unwrap();
    let mut expected = Vec::new();
    let huge = "x\u{2028}\"".repeat(200_000);
    for i in 0..2_000 {
        let s = rng.string(40);
        let d = rng.string(40);
        let f = rng.f64();
        let g = f32::from_bits(rng.next() as u32);
        let i64v = [i64::MIN, i64::MAX, -1, 0][i % 4];
        let u64v = [u64::MAX, 0, 1 << 63, 12345][i % 4];
        let wide_u = [u128::MAX, u64::MAX as u128, u64::MAX as u128 + 1, 7][i % 4];
        let wide_i = [i128::MIN, i64::MIN as i128, i64::MIN as i128 - 1, -7][i % 4];
        let piece = 1 + rng.below(3) as usize;
        let dtext: &str = if i == 7 { &huge } else { &d };
        let shown = Pieces { text: dtext, piece };
        let empty = Pieces { text: "", piece: 1 };
        kolog::info!(
            log,
            "ev \u{2028}\"\\\u{0}🎉",
            s = s.as_str(),
            f = f,
            g = g,
            i = i64v,
            u = u64v,
            wu = wide_u,
            wi = wide_i,
            b = i % 2 == 0,
            shown = %shown,
            dbg = ?shown,
            nothing = %empty,
            event = "field named event",
        );
        let float = |x: f64| {
            serde_json::Number::from_f64(x)
                .map(serde_json::Value::Number)
                .unwrap_or_else(|| serde_json::Value::String(format!("{x}")))
        };
        let wu = u64::try_from(wide_u).map_or_else(
            |_| serde_json::Value::String(wide_u.to_string()),
            serde_json::Value::from,
        );
        let wi = i64::try_from(wide_i).map_or_else(
            |_| serde_json::Value::String(wide_i.to_string()),
            serde_json::Value::from,
        );
        let g_json = if g.is_finite() {
            float(format!("{g}").parse::<f64>().unwrap())
        } else {
            float(g as f64)
        };
        expected.push((
            s,
            float(f),
            g_json,
            i64v,
            u64v,
            wu,
            wi,
            i % 2 == 0,
            dtext.to_owned(),
        ));
    }
    k.shutdown().unwrap();
    let text = std::fs::read_to_string(&path).unwrap();
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(lines.len(), expected.len());
    let ctx = context.as_object().unwrap();
    for (line, (s, f, g, i, u, wu, wi, b, d)) in lines.iter().zip(&expected) {
        let keys = keys_in_order(line);
        let mut want: Vec<String> = ["timestamp", "level", "logger", "event"]
            .iter()
            .map(|s| s.to_string())
            .collect();
        for k in ctx.keys() {
            want.push(if k == "timestamp" {
                "fields.timestamp".into()
            } else {
                k.clone()
            });
        }
        // A field named like a context key takes the key's place (the last value).
        for k in [
            "s",
            "f",
            "g",
            "i",
            "u",
            "wu",
            "wi",
            "b",
            "shown",
            "dbg",
            "nothing",
            "fields.event",
        ] {
            if !want.iter().any(|w| w == k) {
                want.push(k.into());
            }
        }
        assert_eq!(keys, want, "{line}");
        let v: serde_json::Value = serde_json::from_str(line).unwrap();
        assert_eq!(v["event"], "ev \u{2028}\"\\\u{0}🎉");
        for (k, val) in ctx {
            if [
                "s", "f", "g", "i", "u", "wu", "wi", "b", "shown", "dbg", "nothing",
            ]
            .contains(&k.as_str())
            {
                continue;
            }
            let key = if k == "timestamp" {
                "fields.timestamp"
            } else {
                k
            };
            assert_eq!(&v[key], val, "{key:?} in {line}");
        }
        assert_eq!(v["s"], **s);
        match (&v["f"], f) {
            (serde_json::Value::Number(got), serde_json::Value::Number(want)) => assert_eq!(
                got.as_f64().unwrap().to_bits(),
                want.as_f64().unwrap().to_bits(),
                "{line}"
            ),
            (got, want) => assert_eq!(got, want, "{line}"),
        }
        match (&v["g"], g) {
            // The f32's own shortest digits: they read back as the f32, and are no longer
            // than Rust's shortest form of it (which may break a tie the other way).
            (serde_json::Value::Number(got), serde_json::Value::Number(want)) => {
                let got = got.as_f64().unwrap();
                let want = want.as_f64().unwrap() as f32;
                assert_eq!((got as f32).to_bits(), want.to_bits(), "{line}");
                let digits = |t: String| {
                    let m = t.split('e').next().unwrap().replace(['-', '.'], "");
                    m.trim_start_matches('0').trim_end_matches('0').len()
                };
                assert!(
                    digits(format!("{got:e}")) <= digits(format!("{want:e}")),
                    "{line}"
                );
            }
            (got, want) => assert_eq!(got, want, "{line}"),
        }
        assert_eq!(v["i"], *i);
        assert_eq!(v["u"], *u);
        assert_eq!(&v["wu"], wu);
        assert_eq!(&v["wi"], wi);
        assert_eq!(v["b"], *b);
        assert_eq!(v["shown"], **d);
        assert_eq!(v["dbg"], **d);
        assert_eq!(v["nothing"], "");
        assert_eq!(v["fields.event"], "field named event");
    }
}

/// serde_json's pretty printer with `n` spaces, for `value`.
fn pretty(value: &serde_json::Value, n: usize) -> String {
    let indent = vec![b' '; n];
    let fmt = serde_json::ser::PrettyFormatter::with_indent(&indent);
    let mut out = Vec::new();
    let mut ser = serde_json::Serializer::with_formatter(&mut out, fmt);
    serde::Serialize::serialize(value, &mut ser).unwrap();
    String::from_utf8(out).unwrap()
}

/// With `indentation: n` each record is serde_json's pretty form (n spaces) of the object the
/// compact renderer writes for it, keys in the same order, followed by a newline; the records
/// split with a stream deserializer. For every n the configuration takes (0 to 16).
#[test]
fn indented_json_is_serde_json_pretty_of_the_compact_line() {
    let dir = common::temp_dir("r12g-indent");
    let mut rng = Rng(0x1234_5678_9ABC_DEF1);
    let context = serde_json::json!({"app": "x\ny", "n": 1.5, "big": u64::MAX, "t": true,
        "arr": [1, 2], "obj": {"a": null}, "level": "ctx level"});
    for n in 0..=16usize {
        let compact = dir.join(format!("compact{n}.log"));
        let indented = dir.join(format!("indented{n}.log"));
        let kc = json_kolog(&compact, "{}", &context);
        let ki = json_kolog(&indented, &format!(r#"{{"indentation": {n}}}"#), &context);
        let (lc, li) = (kc.logger("root").unwrap(), ki.logger("root").unwrap());
        for _ in 0..50 {
            let s = rng.string(20);
            let f = rng.f64();
            let g = f32::from_bits(rng.next() as u32);
            let e = std::io::Error::other(rng.string(8));
            macro_rules! both {
                ($($t:tt)*) => {
                    kolog::info!(lc, $($t)*);
                    kolog::info!(li, $($t)*);
                };
            }
            both!(
                "m\u{1}\u{2028}",
                s = s.as_str(),
                f = f,
                g = g,
                i = i64::MIN,
                u = u64::MAX
            );
            both!("dup", app = 1, level = "f level");
            both!("err", error = &e, s = %s);
        }
        kc.shutdown().unwrap();
        ki.shutdown().unwrap();
        let compact_text = std::fs::read_to_string(&compact).unwrap();
        let indented_text = std::fs::read_to_string(&indented).unwrap();
        let mut expected = String::new();
        for line in compact_text.lines() {
            let v: serde_json::Value = serde_json::from_str(line).unwrap();
            // The timestamps differ between the two systems.
            expected.push_str(&pretty(&v, n));
            expected.push('\n');
        }
        let stamp = |t: &str| {
            let mut out = String::new();
            let mut rest = t;
            while let Some(i) = rest.find("\"timestamp\": \"") {
                let at = i + 14;
                out.push_str(&rest[..at]);
                out.push('T');
                rest = &rest[at + 27..];
            }
            out.push_str(rest);
            out
        };
        assert_eq!(stamp(&indented_text), stamp(&expected), "indentation {n}");
        // Record by record, the same keys in the same order (a repeated key included).
        let mut stream =
            serde_json::Deserializer::from_str(&indented_text).into_iter::<serde_json::Value>();
        let mut from = 0;
        for line in compact_text.lines() {
            stream.next().unwrap().unwrap();
            let to = stream.byte_offset();
            assert_eq!(
                keys_in_order(&indented_text[from..to]),
                keys_in_order(line),
                "indentation {n}"
            );
            from = to;
        }
        assert!(stream.next().is_none());
    }
}

/// Runs `python3 -c script` with `input` on stdin; its stdout. `None` (with a note) where
/// there is no python3.
fn python(script: &str, input: &str, env: &[(&str, &str)]) -> Option<String> {
    use std::io::Write as _;
    let mut cmd = std::process::Command::new("python3");
    cmd.arg("-c").arg(script);
    for (k, v) in env {
        cmd.env(k, v);
    }
    let mut child = match cmd
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .spawn()
    {
        Ok(c) => c,
        Err(e) => {
            eprintln!("no python3 ({e}): reference comparison skipped");
            return None;
        }
    };
    child
        .stdin
        .take()
        .unwrap()
        .write_all(input.as_bytes())
        .unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(out.status.success(), "python3 failed");
    Some(String::from_utf8(out.stdout).unwrap())
}

/// Generated `fmt`s (every flag combination, widths, precisions, `s`/`d`/`r`, `%%`, keys with odd
/// characters, non-ASCII text to pad) render exactly as Python's `fmt % record` does, on both
/// rendering paths (a format printing only fixed keys takes the direct path on a record's
/// first handler pass; one printing fields takes the event path).
#[test]
fn plain_fmt_matches_python_percent_formatting() {
    let dir = common::temp_dir("r12g-plain-python");
    let mut rng = Rng(0x0BAD_5EED_1234_5678);
    // Keys with the values they hold in every record (strings) or per record (the rest).
    let text_keys = [
        "level",
        "levelname",
        "name",
        "event",
        "message",
        "asctime",
        "a b",
        "x-y",
        "ü",
        "s1",
        "missing",
    ];
    let num_keys = ["n", "u", "f", "b"];
    let mut fmts = Vec::new();
    for i in 0..160 {
        let mut fmt = String::new();
        for _ in 0..1 + rng.below(5) {
            let lit = ["", "|", " ", "%%", "é", "[", "=", "(x)"][rng.below(8) as usize];
            fmt.push_str(lit);
            let numeric = rng.below(3) == 0;
            let key = if numeric {
                num_keys[rng.below(4) as usize]
            } else {
                text_keys[rng.below(text_keys.len() as u64) as usize]
            };
            let mut flags = String::new();
            for f in ["-", "0", "+", " ", "#"] {
                if rng.below(4) == 0 {
                    flags.push_str(f);
                }
            }
            let width = match rng.below(3) {
                0 => String::new(),
                _ => rng.below(14).to_string(),
            };
            let precision = match rng.below(3) {
                0 => format!(".{}", rng.below(7)),
                1 if rng.below(4) == 0 => ".".to_owned(),
                _ => String::new(),
            };
            let conv = match (numeric, key) {
                (true, "f" | "b") => "d",
                (true, _) => ["s", "d", "r"][rng.below(3) as usize],
                (false, "missing") => "s",
                (false, _) => ["s", "r"][rng.below(2) as usize],
            };
            fmt.push_str(&format!("%({key}){flags}{width}{precision}{conv}"));
        }
        // Half the formats print fields (the event path); the rest print only what the
        // direct path renders, so the fields follow as ` key=value`: left out of the
        // comparison by printing them all.
        if i % 2 == 0 {
            fmt.push_str("|%(s1)s|%(n)d|%(u)d|%(f)d|%(b)d|%(a b)s|%(x-y)s|%(ü)s");
        }
        fmts.push(fmt);
    }
    let handlers: Vec<String> = fmts
        .iter()
        .enumerate()
        .map(|(i, f)| {
            format!(
                r#"{{"type": "file", "params": {{"filename": "{}", "mode": "w"}},
                    "renderer": {{"type": "file_plain", "params": {{"fmt": {}, "datefmt": "D%%"}}}}}}"#,
                dir.join(format!("{i}.log")).display(),
                serde_json::to_string(f).unwrap()
            )
        })
        .collect();
    let context = serde_json::json!({"a b": "ünï cödé", "x-y": "e\u{301}", "ü": "日本語"});
    let k = Kolog::from_json_str(&format!(
        r#"{{"loggers": [{{"name": "root", "level": "INFO", "context": {context},
            "handlers": [{}]}}]}}"#,
        handlers.join(",")
    ))
    .unwrap();
    let mut records = Vec::new();
    let strings = [
        "",
        "ab",
        "日本",
        "it's",
        "say \"hi\"",
        "both ' and \"",
        "back\\slash",
        "🎉x",
        "e\u{301}e\u{301}",
    ];
    for (j, name) in ["root", "root.ünï", "root.日本語.x"]
        .into_iter()
        .enumerate()
    {
        let log = k.logger(name).unwrap();
        for r in 0..3u64 {
            let s1 = strings[rng.below(strings.len() as u64) as usize];
            let n: i64 = [0, -42, i64::MIN, i64::MAX, 7][rng.below(5) as usize];
            let u: u64 = [0, u64::MAX, 99][rng.below(3) as usize];
            let f: f64 = [2.5, -0.5, -3.99, 1e300, 0.0][rng.below(5) as usize];
            let b = rng.below(2) == 0;
            let event = match (j + r as usize) % 3 {
                0 => {
                    kolog::info!(log, "plain ünï", s1 = s1, n = n, u = u, f = f, b = b);
                    "plain ünï"
                }
                1 => {
                    kolog::info!(log, "it's \"q\"", s1 = s1, n = n, u = u, f = f, b = b);
                    "it's \"q\""
                }
                _ => {
                    kolog::info!(log, "日本語🎉", s1 = s1, n = n, u = u, f = f, b = b);
                    "日本語🎉"
                }
            };
            records.push(serde_json::json!({
                "level": "INFO", "levelname": "INFO", "name": name, "event": event,
                "message": event, "asctime": "D%", "missing": "", "s1": s1, "n": n, "u": u,
                "f": f, "b": b, "a b": "ünï cödé", "x-y": "e\u{301}", "ü": "日本語",
            }));
        }
    }
    k.shutdown().unwrap();
    let script = r#"
import json, re, sys
cases = json.load(sys.stdin)
out = []
for fmt in cases["fmts"]:
    lines = []
    for rec in cases["records"]:
        line = fmt % rec
        # kolog's tail: every context key and field the format did not print, as ` key=value`,
        # a string quoted when empty or with spaces, `=`, quotes or backslashes.
        used = set(re.findall(r"%\(([^)]*)\)", fmt))
        for key in ["a b", "x-y", "ü", "s1", "n", "u", "f", "b"]:
            if key in used:
                continue
            v = rec[key]
            if isinstance(v, bool):
                v = "true" if v else "false"
            elif isinstance(v, float):
                v = {1e300: "1e300"}.get(v, repr(v))
            else:
                v = str(v)
            def q(t):
                if t == "" or any(c in t for c in ' ="\\'):
                    return '"' + t.replace("\\", "\\\\").replace('"', '\\"') + '"'
                return t
            line += " " + q(key) + "=" + q(v)
        lines.append(line)
    out.append(lines)
json.dump(out, sys.stdout)
"#;
    let input = serde_json::json!({"fmts": fmts, "records": records}).to_string();
    let Some(expected) = python(script, &input, &[]) else {
        return;
    };
    let expected: Vec<Vec<String>> = serde_json::from_str(&expected).unwrap();
    let mut failures = Vec::new();
    for (i, (fmt, want)) in fmts.iter().zip(&expected).enumerate() {
        let got = std::fs::read_to_string(dir.join(format!("{i}.log"))).unwrap();
        let got: Vec<&str> = got.lines().collect();
        for (g, w) in got.iter().zip(want) {
            if g != w {
                failures.push(format!("fmt {fmt:?}\n  kolog  {g:?}\n  python {w:?}"));
            }
        }
        assert_eq!(got.len(), want.len());
    }
    assert!(
        failures.is_empty(),
        "{} differences:\n{}",
        failures.len(),
        failures.join("\n")
    );
}

/// `value` as block-style YAML (strings double-quoted with JSON escapes, which YAML reads the
/// same way; keys likewise).
fn to_yaml(value: &serde_json::Value) -> String {
    fn scalar(v: &serde_json::Value) -> String {
        match v {
            serde_json::Value::String(s) => serde_json::to_string(s).unwrap(),
            other => other.to_string(),
        }
    }
    fn emit(v: &serde_json::Value, indent: usize, out: &mut String) {
        let pad = " ".repeat(indent);
        match v {
            serde_json::Value::Object(m) if !m.is_empty() => {
                for (k, v) in m {
                    out.push_str(&format!("{pad}{}:", serde_json::to_string(k).unwrap()));
                    entry(v, indent, out);
                }
            }
            serde_json::Value::Array(a) if !a.is_empty() => {
                for v in a {
                    out.push_str(&format!("{pad}-"));
                    entry(v, indent, out);
                }
            }
            other => out.push_str(&format!("{pad}{}\n", flow(other))),
        }
    }
    /// The value of a mapping entry or sequence item after its `key:` or `-`: a non-empty
    /// collection on the lines below, indented; anything else on the same line.
    fn entry(v: &serde_json::Value, indent: usize, out: &mut String) {
        match v {
            serde_json::Value::Object(c) if !c.is_empty() => {
                out.push('\n');
                emit(v, indent + 2, out);
            }
            serde_json::Value::Array(a) if !a.is_empty() => {
                out.push('\n');
                emit(v, indent + 2, out);
            }
            other => out.push_str(&format!(" {}\n", flow(other))),
        }
    }
    fn flow(v: &serde_json::Value) -> String {
        match v {
            serde_json::Value::Object(m) if m.is_empty() => "{}".into(),
            serde_json::Value::Array(a) if a.is_empty() => "[]".into(),
            other => scalar(other),
        }
    }
    let mut out = String::new();
    emit(value, 0, &mut out);
    out
}

/// A document using every handler, renderer and processor type with every parameter.
fn full_document(dir: &Path) -> serde_json::Value {
    let f = |n: &str| dir.join(n).display().to_string();
    serde_json::json!({
        "queue": {"max_queue_size": 1000, "backpressure_policy": "drop_oldest", "drain_timeout": 2.5},
        "default_level": "debug",
        "loggers": [
            {"name": "root", "level": "WARN", "context": {"app": "x", "n": 1, "nested": {"a": [1, null]}},
             "handlers": [
                {"type": "file", "params": {"filename": f("a.log"), "mode": "w", "encoding": "utf-8", "override_existing": true},
                 "renderer": {"type": "file_plain", "params": {"fmt": "%(asctime)s %(level)-8s %(event)s", "datefmt": "%H:%M:%S.%f", "utc": true}},
                 "processors": [
                    {"type": "add_callsite_params", "params": {"parameters": ["filename", "lineno", "funcName", "module", "pathname"]}},
                    {"type": "add_context_defaults", "params": {"defaults": {"env": "prod", "k": 2}}},
                    {"type": "dict_tracebacks", "params": {}},
                    {"type": "filter_by_level", "params": {"min_level": "info"}},
                    {"type": "filter_keys", "params": {"keys": ["password", "token"]}},
                    {"type": "filter_markup"}
                 ]},
                {"type": "rotating_file", "params": {"filename": f("b.log"), "max_bytes": 1000, "backup_count": 3, "rotation_interval": 60, "mode": "a", "encoding": "utf8"},
                 "renderer": {"type": "file_json", "params": {"indentation": 2}}},
                {"type": "stream", "params": {"use_stderr": true}, "renderer": {"type": "stream_colored"}},
                {"type": "null", "renderer": {"type": "stream_json"}},
                {"type": "stream", "renderer": {"type": "stream_plain", "params": null}}
             ]},
            {"name": "app.db", "handlers": []}
        ]
    })
}

/// The message of an error without the line and column JSON text adds.
fn message_without_position(e: &kolog::Error) -> String {
    let m = e.msg().to_owned();
    match m.rfind(" at line ") {
        Some(i) => m[..i].to_owned(),
        None => m,
    }
}

/// Every node's path in `v`, with the node.
fn nodes(v: &serde_json::Value, path: String, out: &mut Vec<(String, serde_json::Value)>) {
    match v {
        serde_json::Value::Object(m) => {
            for (k, c) in m {
                let p = if path.is_empty() {
                    k.clone()
                } else {
                    format!("{path}.{k}")
                };
                out.push((p.clone(), c.clone()));
                nodes(c, p, out);
            }
        }
        serde_json::Value::Array(a) => {
            for (i, c) in a.iter().enumerate() {
                let p = format!("{path}[{i}]");
                out.push((p.clone(), c.clone()));
                nodes(c, p, out);
            }
        }
        _ => {}
    }
}

/// `v` with the node at `path` replaced by `with` (`None`: removed).
fn mutate(v: &serde_json::Value, path: &str, with: Option<serde_json::Value>) -> serde_json::Value {
    let mut v = v.clone();
    // Split `a.b[1].c` into segments.
    let mut segs = Vec::new();
    for part in path.split('.') {
        let (name, rest) = part.split_once('[').map_or((part, ""), |(n, r)| (n, r));
        segs.push(serde_json::Value::String(name.to_owned()));
        for idx in rest.split('[').filter(|s| !s.is_empty()) {
            segs.push(serde_json::json!(idx
                .trim_end_matches(']')
                .parse::<usize>()
                .unwrap()));
        }
    }
    let (last, parents) = segs.split_last().unwrap();
    let mut node = &mut v;
    for s in parents {
        node = match s {
            serde_json::Value::String(k) => node.get_mut(k.as_str()).unwrap(),
            n => node.get_mut(n.as_u64().unwrap() as usize).unwrap(),
        };
    }
    match (last, with) {
        (serde_json::Value::String(k), Some(w)) => node[k.as_str()] = w,
        (serde_json::Value::String(k), None) => {
            node.as_object_mut().unwrap().remove(k.as_str());
        }
        (n, Some(w)) => node[n.as_u64().unwrap() as usize] = w,
        (n, None) => {
            node.as_array_mut()
                .unwrap()
                .remove(n.as_u64().unwrap() as usize);
        }
    }
    v
}

/// The same document as JSON text, YAML text and a `serde_json::Value` loads to the same
/// configuration, or fails with the same message naming the same path. Mutations of a
/// document using every type and parameter: each node replaced by a value of every JSON type
/// (and a few wrong strings and numbers), each removed, an unknown key added to each object.
#[test]
fn json_and_yaml_documents_behave_alike_and_errors_name_their_path() {
    let dir = common::temp_dir("r12g-config");
    let doc = full_document(&dir);
    let check = |doc: &serde_json::Value| -> Result<kolog::LoggingSystemConfig, String> {
        let json =
            kolog::LoggingSystemConfig::from_json_str(&serde_json::to_string_pretty(doc).unwrap());
        let yaml_text = to_yaml(doc);
        let yaml = kolog::LoggingSystemConfig::from_yaml_str(&yaml_text);
        let value = kolog::LoggingSystemConfig::from_json_value(doc);
        match (json, yaml, value) {
            (Ok(a), Ok(b), Ok(c)) => {
                assert_eq!(a, b, "{yaml_text}");
                assert_eq!(a, c);
                Ok(a)
            }
            (Err(a), Err(b), Err(c)) => {
                let (ma, mb, mc) = (
                    message_without_position(&a),
                    message_without_position(&b),
                    message_without_position(&c),
                );
                assert_eq!(ma, mb, "JSON and YAML differ:\n{yaml_text}");
                assert_eq!(ma, mc);
                assert_eq!(a.code(), b.code());
                Err(ma)
            }
            (a, b, c) => panic!(
                "JSON {:?}, YAML {:?}, value {:?} for\n{yaml_text}",
                a.map(drop).map_err(|e| e.msg().to_owned()),
                b.map(drop).map_err(|e| e.msg().to_owned()),
                c.map(drop).map_err(|e| e.msg().to_owned()),
            ),
        }
    };
    check(&doc).unwrap();
    let mut all = Vec::new();
    nodes(&doc, String::new(), &mut all);
    let mut report = Vec::new();
    let replacements = [
        serde_json::json!(null),
        serde_json::json!(true),
        serde_json::json!(-1),
        serde_json::json!(1.5),
        serde_json::json!("bogus"),
        serde_json::json!(""),
        serde_json::json!([]),
        serde_json::json!([1]),
        serde_json::json!({}),
        serde_json::json!({"x": 1}),
        serde_json::json!(1e300),
    ];
    for (path, node) in &all {
        let mut mutants: Vec<(String, serde_json::Value)> = replacements
            .iter()
            .map(|r| (format!("{path} = {r}"), mutate(&doc, path, Some(r.clone()))))
            .collect();
        mutants.push((format!("{path} removed"), mutate(&doc, path, None)));
        if let serde_json::Value::Object(m) = node {
            let mut m = m.clone();
            m.insert("bogus_key".into(), serde_json::json!(1));
            mutants.push((
                format!("{path}.bogus_key added"),
                mutate(&doc, path, Some(serde_json::Value::Object(m))),
            ));
        }
        for (what, mutant) in mutants {
            match check(&mutant) {
                Ok(_) => report.push(format!("OK   {what}")),
                Err(msg) => {
                    let named = msg.split('`').nth(1).unwrap_or("").to_owned();
                    report.push(format!("ERR  {what}\n       -> {msg}"));
                    let _ = named;
                }
            }
        }
    }
    std::fs::write("/tmp/r12g-config-report.txt", report.join("\n")).unwrap();
}

/// Logger names with quotes, backslashes, control characters and non-BMP characters (a name
/// is any dotted string): the JSON `logger` holds the name exactly, on the direct path and the
/// event path; the plain line stays one line with the name escaped.
#[test]
fn hostile_logger_names_render_exactly() {
    let dir = common::temp_dir("r12g-names");
    let json = dir.join("j.log");
    let plain = dir.join("p.log");
    let k = Kolog::from_json_str(&format!(
        r#"{{"loggers": [{{"name": "root", "level": "INFO", "handlers": [
            {{"type": "file", "params": {{"filename": "{}", "mode": "w"}}, "renderer": {{"type": "file_json"}}}},
            {{"type": "file", "params": {{"filename": "{}", "mode": "w"}}, "renderer": {{"type": "file_plain", "params": {{"fmt": "%(name)s|%(name)-30r|%(event)s"}}}}}}]}},
            {{"name": "q\"\\\n\u2028🎉", "level": "INFO", "context": {{"c": 1}}, "handlers": [
            {{"type": "file", "params": {{"filename": "{}", "mode": "a"}}, "renderer": {{"type": "file_json"}}}}]}}]}}"#,
        json.display(),
        plain.display(),
        json.display(),
    ))
    .unwrap();
    let names = [
        "a\"b.c\\d",
        "x\n\r\t\u{1}.\u{2028}🎉",
        "q\"\\\n\u{2028}🎉",
        "q\"\\\n\u{2028}🎉.sub",
    ];
    for n in names {
        let log = k.logger(n).unwrap();
        kolog::info!(log, "m");
        let e = std::io::Error::other("boom");
        kolog::info!(log, "m", error = &e);
    }
    k.shutdown().unwrap();
    let lines = common::json_lines(&json);
    // Two handlers (two I/O threads) append to the file: compare without their order.
    let mut got: Vec<&str> = lines
        .iter()
        .map(|l| l["logger"].as_str().unwrap())
        .collect();
    let mut want: Vec<&str> = names.iter().flat_map(|n| [*n, *n]).collect();
    got.sort();
    want.sort();
    assert_eq!(got, want);
    let p = std::fs::read_to_string(&plain).unwrap();
    assert_eq!(
        p,
        "a\"b.c\\d|'a\"b.c\\\\d'                    |m\n\
         a\"b.c\\d|'a\"b.c\\\\d'                    |m error=boom\n\
         x\\n\\r\\t\\u{1}.\\u{2028}🎉|'x\\n\\r\\t\\u{1}.\\u{2028}🎉'      |m\n\
         x\\n\\r\\t\\u{1}.\\u{2028}🎉|'x\\n\\r\\t\\u{1}.\\u{2028}🎉'      |m error=boom\n"
    );
}

/// Python's precision (`%(name).10s`, common in logging formats, which ko-log's configurations
/// take since it formats with `fmt % event_dict`): a string is cut to that many characters
/// before padding, a `%d` number gets at least that many digits (after its sign, before zero
/// padding to the width). The expected lines are Python's (`fmt % record`). Before, such a
/// format was refused ("unsupported conversion `.`"). On the direct path (the first format
/// prints no field) and the event path.
#[test]
fn plain_fmt_precision_follows_python() {
    let dir = common::temp_dir("r12g-precision");
    let direct = dir.join("direct.log");
    let event = dir.join("event.log");
    let k = Kolog::from_json_str(&format!(
        r#"{{"loggers": [{{"name": "root", "level": "INFO", "handlers": [
            {{"type": "file", "params": {{"filename": "{}", "mode": "w"}}, "renderer": {{"type": "file_plain",
              "params": {{"fmt": "%(name).3s|%(level)-8.3s|%(event).5s|%(asctime).3s|%(event).0s|", "datefmt": "%Y-%m"}}}}}}]}},
            {{"name": "ev", "level": "INFO", "handlers": [
            {{"type": "file", "params": {{"filename": "{}", "mode": "w"}}, "renderer": {{"type": "file_plain",
              "params": {{"fmt": "%(name).3s|%(level)-8.3s|%(n).4d|%(n)08.3d|%(s).0s|%(s)5.2r|%(event).5s|%(m)+.3d|%(b).2d|%(s)-7.10s|%(n).1s|"}}}}}}]}}]}}"#,
        direct.display(),
        event.display(),
    ))
    .unwrap();
    for name in ["root.ünïcode", "ev.ünïcode"] {
        let log = k.logger(name).unwrap();
        kolog::warning!(
            log,
            "日本語テキスト",
            n = -7,
            s = "héllo",
            m = 2.9,
            b = true
        );
    }
    k.shutdown().unwrap();
    let line = std::fs::read_to_string(&direct).unwrap();
    // The date (`%Y-%m`) cut to three characters, as any text: the year's first three digits.
    let year = line.split('|').nth(3).unwrap().to_owned();
    assert!(year.len() == 3 && year.starts_with('2'), "{line:?}");
    assert_eq!(
        line,
        format!("roo|WAR     |日本語テキ|{year}|| n=-7 s=héllo m=2.9 b=true\n")
    );
    assert_eq!(
        std::fs::read_to_string(&event).unwrap(),
        "ev.|WAR     |-0007|-0000007||   'h|日本語テキ|+002|01|héllo  |-|\n"
    );
    // Bounded like a width, so a line stays bounded.
    let e = Kolog::from_json_str(
        r#"{"loggers": [{"name": "root", "handlers": [{"type": "null",
            "renderer": {"type": "stream_plain", "params": {"fmt": "%(n).1025d"}}}]}]}"#,
    )
    .unwrap_err();
    assert!(
        e.msg().starts_with(
            "`loggers[0].handlers[0].renderer.params.fmt`: fmt `%(n).1025d`: precision too large at byte 5"
        ),
        "{}",
        e.msg()
    );
}
