//! Adversarial round thirteen V: output correctness leftovers in the renderers.
//!
//! - A field, context or processor key named like a fixed key (`level`) is written
//!   `fields.level`; when the record also has a key literally named `fields.level`, the JSON
//!   line held that key twice (and a `Sink` record lost one of the two values).
//! - The plain renderer's ` key=value` tail and `%(event)s`: a value with a literal backslash
//!   followed by `n` rendered like a value with a newline, and U+2028/U+2029 were written raw.
//! - `%+d`, `%0Nd`, `% d` and a precision on an integer beyond 64 bits (carried as its digits)
//!   were applied as to text, not as Python applies them to the number.

mod common;
use kolog::process::Action;
use kolog::{Kolog, Sink};

/// The line with its timestamp's value replaced by `T`.
fn without_timestamp(line: &str) -> String {
    let head = "{\"timestamp\":\"";
    assert!(line.starts_with(head), "{line:?}");
    let end = head.len() + line[head.len()..].find('"').unwrap();
    format!("{head}T{}", &line[end..])
}

/// The keys of a JSON line in the order they appear (serde_json's map would merge repeats).
fn keys_in_order(line: &str) -> Vec<String> {
    struct Keys(Vec<String>);
    impl<'de> serde::de::Visitor<'de> for Keys {
        type Value = Vec<String>;
        fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
            f.write_str("an object")
        }
        fn visit_map<A: serde::de::MapAccess<'de>>(
            mut self,
            mut map: A,
        ) -> Result<Vec<String>, A::Error> {
            while let Some((k, _)) = map.next_entry::<String, serde::de::IgnoredAny>()? {
                self.0.push(k);
            }
            Ok(self.0)
        }
    }
    let mut de = serde_json::Deserializer::from_str(line);
    serde::Deserializer::deserialize_map(&mut de, Keys(Vec::new())).unwrap()
}

fn register_keep() {
    kolog::register_processor("r13v_keep", |_| {
        Ok(Box::new(|_: &mut kolog::EventDict<'_>| Action::Keep))
    });
}

/// A file handler writing to `path` with `renderer` (JSON text) and `processors` (JSON text).
fn handler(path: &std::path::Path, renderer: &str, processors: &str) -> String {
    format!(
        r#"{{"type": "file", "params": {{"filename": "{}", "mode": "w"}}, "renderer": {renderer}, "processors": {processors}}}"#,
        path.display()
    )
}

/// A field or context key `level`/`event`/`logger`/`timestamp` is written `fields.<key>`; when
/// that name is taken by another key of the record, `fields.` is prefixed again until it is
/// not. Every other key is written as it is. Checked on the direct path (context, no
/// processors), through static processors (`add_context_defaults`, `add_callsite_params`), on
/// the event path (a custom processor) and with `indentation`. Before, the first three lines
/// held `"fields.level"` (or `"fields.event"`, `"fields.logger"`) twice.
#[test]
fn json_keys_stay_unique_when_a_shadowed_key_meets_its_fields_name() {
    register_keep();
    let dir = common::temp_dir("r13v-json-keys");
    let json = r#"{"type": "file_json"}"#;
    let cases: [(&str, serde_json::Value, &str, &str); 6] = [
        (
            "ctx",
            serde_json::json!({"fields.level": "ctx"}),
            json,
            "[]",
        ),
        (
            "many",
            serde_json::json!({"level": 1, "fields.level": 2, "fields.fields.level": 3,
                               "timestamp": "t", "fields.timestamp": "ft"}),
            json,
            "[]",
        ),
        (
            "defaults",
            serde_json::json!({}),
            json,
            r#"[{"type": "add_context_defaults", "params": {"defaults": {"fields.event": "d", "logger": "dl"}}}]"#,
        ),
        (
            "callsite",
            serde_json::json!({"fields.logger": "c"}),
            json,
            r#"[{"type": "add_callsite_params", "params": {"parameters": ["filename"]}}]"#,
        ),
        (
            "event",
            serde_json::json!({"fields.level": "ctx"}),
            json,
            r#"[{"type": "r13v_keep"}]"#,
        ),
        (
            "pretty",
            serde_json::json!({"fields.level": "ctx"}),
            r#"{"type": "file_json", "params": {"indentation": 1}}"#,
            "[]",
        ),
    ];
    let loggers: Vec<String> = cases
        .iter()
        .map(|(name, context, renderer, processors)| {
            format!(
                r#"{{"name": "{name}", "level": "INFO", "context": {context}, "handlers": [{}]}}"#,
                handler(&dir.join(format!("{name}.log")), renderer, processors)
            )
        })
        .collect();
    let k = Kolog::from_json_str(&format!(r#"{{"loggers": [{}]}}"#, loggers.join(","))).unwrap();
    for name in ["ctx", "event", "pretty"] {
        kolog::info!(k.logger(name).unwrap(), "m", level = 5);
    }
    kolog::info!(k.logger("many").unwrap(), "m", event = "e", level = 0);
    kolog::info!(k.logger("defaults").unwrap(), "m", event = "x");
    kolog::info!(k.logger("callsite").unwrap(), "m", logger = "f");
    k.shutdown().unwrap();
    let read = |name: &str| std::fs::read_to_string(dir.join(format!("{name}.log"))).unwrap();
    let expected = [
        (
            "ctx",
            r#"{"timestamp":"T","level":"INFO","logger":"ctx","event":"m","fields.level":"ctx","fields.fields.level":5}"#,
        ),
        (
            "many",
            r#"{"timestamp":"T","level":"INFO","logger":"many","event":"m","fields.fields.fields.level":0,"fields.level":2,"fields.fields.level":3,"fields.fields.timestamp":"t","fields.timestamp":"ft","fields.event":"e"}"#,
        ),
        (
            "defaults",
            r#"{"timestamp":"T","level":"INFO","logger":"defaults","event":"m","fields.fields.event":"x","fields.event":"d","fields.logger":"dl"}"#,
        ),
        (
            "callsite",
            r#"{"timestamp":"T","level":"INFO","logger":"callsite","event":"m","fields.logger":"c","fields.fields.logger":"f","filename":"adversarial_round_thirteen_v.rs"}"#,
        ),
        (
            "event",
            r#"{"timestamp":"T","level":"INFO","logger":"event","event":"m","fields.level":"ctx","fields.fields.level":5}"#,
        ),
    ];
    for (name, want) in expected {
        let text = read(name);
        assert_eq!(text.lines().count(), 1, "{name}: {text:?}");
        assert_eq!(without_timestamp(text.trim_end()), want, "{name}");
        let keys = keys_in_order(&text);
        let mut unique = keys.clone();
        unique.sort();
        unique.dedup();
        assert_eq!(unique.len(), keys.len(), "{name}: {keys:?}");
    }
    // Pretty-printed through a map: before, the repeated key kept only its last value.
    let pretty: serde_json::Value = serde_json::from_str(&read("pretty")).unwrap();
    assert_eq!(pretty["fields.level"], "ctx");
    assert_eq!(pretty["fields.fields.level"], 5);
    assert_eq!(pretty.as_object().unwrap().len(), 6);
    let _ = std::fs::remove_dir_all(dir);
}

/// A `Sink` record names a shadowed field as JSON lines do; before, `fields.level` from the
/// context was overwritten by the renamed `level` field (one value lost). The plain renderer
/// writes keys as they are (`level=5` beside `fields.level=ctx`), already unique.
#[test]
fn sink_records_and_plain_tails_keep_both_keys() {
    let dir = common::temp_dir("r13v-sink-keys");
    let plain = dir.join("plain.log");
    let k = Kolog::from_json_str(&format!(
        r#"{{"loggers": [
            {{"name": "sunk", "level": "INFO", "context": {{"fields.level": "ctx"}}, "handlers": [{{"type": "null"}}]}},
            {{"name": "plain", "level": "INFO", "context": {{"fields.level": "ctx"}}, "handlers": [{}]}}]}}"#,
        handler(&plain, r#"{"type": "file_plain", "params": {"fmt": "%(event)s"}}"#, "[]")
    ))
    .unwrap();
    let sink = Sink::new();
    k.queue_manager().add_sink("sunk", sink.clone());
    kolog::info!(k.logger("sunk").unwrap(), "m", level = 5);
    kolog::info!(k.logger("plain").unwrap(), "m", level = 5);
    let records = sink.records();
    assert_eq!(records.len(), 1);
    assert_eq!(
        serde_json::Value::Object(records[0].fields.clone()),
        serde_json::json!({"level": "INFO", "logger": "sunk", "event": "m",
                           "fields.level": "ctx", "fields.fields.level": 5})
    );
    k.shutdown().unwrap();
    assert_eq!(
        std::fs::read_to_string(&plain).unwrap(),
        "m fields.level=ctx level=5\n"
    );
    let _ = std::fs::remove_dir_all(dir);
}

/// The plain renderer's ` key=value` tail: a key or value is quoted when it is empty or has a
/// space, `=`, `"` or `\`; inside quotes `"` and `\` are `\"` and `\\`. Newline, CR and tab
/// are `\n`, `\r`, `\t`, other control characters and U+2028/U+2029 `\u{hex}`, in and out of
/// quotes. In `%(event)s` and other fmt fields (not quoted), a backslash that could be read as
/// the start of an escape (before `\`, `n`, `r`, `t`, `u`, an escaped character, or at the
/// end) is written `\\`. So every record is one line, and a literal backslash-n never looks
/// like a newline. On the direct path, the event path and for fmt fields.
#[test]
fn plain_values_are_one_line_and_never_look_alike() {
    register_keep();
    let dir = common::temp_dir("r13v-plain-escape");
    let tail_fmt = r#"{"type": "file_plain", "params": {"fmt": "%(event)s"}}"#;
    let fields_fmt = r#"{"type": "file_plain", "params": {"fmt": "%(event)s|%(s5)s|%(s6)s|%(s6)r|%(s5)r|%(s4)s|%(s7)r|%(name)s"}}"#;
    let k = Kolog::from_json_str(&format!(
        r#"{{"loggers": [
            {{"name": "direct", "level": "INFO", "handlers": [{}]}},
            {{"name": "event", "level": "INFO", "handlers": [{}]}},
            {{"name": "fmt", "level": "INFO", "handlers": [{}]}}]}}"#,
        handler(&dir.join("direct.log"), tail_fmt, "[]"),
        handler(
            &dir.join("event.log"),
            tail_fmt,
            r#"[{"type": "r13v_keep"}]"#
        ),
        handler(&dir.join("fmt.log"), fields_fmt, "[]"),
    ))
    .unwrap();
    for name in ["direct", "event", "fmt.a\\nb", "fmt.a\nb"] {
        kolog::info!(
            k.logger(name).unwrap(),
            "ev\\n|\n|\u{2028}|\u{2029}|\u{85}|C:\\data\\",
            s1 = "a b",
            s2 = "a=b",
            s3 = "a\"b",
            s4 = "a\\b",
            s5 = "a\nb",
            s6 = "a\\nb",
            s7 = "x\u{2028}y",
            s8 = "x\u{2029}y",
            s9 = "\u{0}\u{1f}\u{7f}\u{85}",
            s10 = "",
            s11 = "tab\there\\"
        );
    }
    k.shutdown().unwrap();
    let event = r"ev\\n|\n|\u{2028}|\u{2029}|\u{85}|C:\data\\";
    let tail = r#" s1="a b" s2="a=b" s3="a\"b" s4="a\\b" s5=a\nb s6="a\\nb" s7=x\u{2028}y s8=x\u{2029}y s9=\u{0}\u{1f}\u{7f}\u{85} s10="" s11="tab\there\\""#;
    let want = format!("{event}{tail}\n");
    for name in ["direct", "event"] {
        let text = std::fs::read_to_string(dir.join(format!("{name}.log"))).unwrap();
        assert_eq!(text, want, "{name} path");
    }
    let rest = r#" s1="a b" s2="a=b" s3="a\"b" s8=x\u{2029}y s9=\u{0}\u{1f}\u{7f}\u{85} s10="" s11="tab\there\\""#;
    let fields = format!(r"{event}|a\nb|a\\nb|'a\\nb'|'a\nb'|a\b|'x\u{{2028}}y'|");
    assert_eq!(
        std::fs::read_to_string(dir.join("fmt.log")).unwrap(),
        format!("{fields}fmt.a\\\\nb{rest}\n{fields}fmt.a\\nb{rest}\n")
    );
    let _ = std::fs::remove_dir_all(dir);
}

/// `%d` with flags on an integer beyond 64 bits (a `u128`/`i128` field is carried as its
/// digits) prints what Python's `fmt % record` prints for the number (the expected line is
/// Python's output for these values): signed by `+` and ` `, zero-padded after the sign by
/// `0`, given digits by a precision. Before, these applied as to text (no sign, space padding,
/// the precision cut the digits). A string that is not an integer's digits as Rust writes
/// them (`007`) stays text.
#[test]
fn wide_integers_take_python_d_flags() {
    let dir = common::temp_dir("r13v-wide-d");
    let path = dir.join("wide.log");
    let fmt = "%(u)+d|%(u)020d|%(u)045d|%(u)5d|%(u)-5d|%(u) d|%(u).45d|%(u)+050d|%(u)-45d|%(i)+d|%(i)045d|%(i) d|%(i).45d|%(w)+d|%(w) 025d|%(m)+d|%(m)025d|%(z)+05d|%(s)+05d";
    let k = Kolog::from_json_str(&format!(
        r#"{{"loggers": [{{"name": "root", "level": "INFO", "handlers": [{}]}}]}}"#,
        handler(
            &path,
            &format!(r#"{{"type": "file_plain", "params": {{"fmt": "{fmt}"}}}}"#),
            "[]"
        )
    ))
    .unwrap();
    kolog::info!(
        k.logger("root").unwrap(),
        "m",
        u = u128::MAX,
        i = i128::MIN,
        w = 1u128 << 64,
        m = -(1i128 << 63) - 1,
        z = 0u128,
        s = "007"
    );
    k.shutdown().unwrap();
    assert_eq!(
        std::fs::read_to_string(&path).unwrap(),
        "+340282366920938463463374607431768211455|340282366920938463463374607431768211455|\
         000000340282366920938463463374607431768211455|340282366920938463463374607431768211455|\
         340282366920938463463374607431768211455| 340282366920938463463374607431768211455|\
         000000340282366920938463463374607431768211455|\
         +0000000000340282366920938463463374607431768211455|\
         340282366920938463463374607431768211455      |\
         -170141183460469231731687303715884105728|-00000170141183460469231731687303715884105728|\
         -170141183460469231731687303715884105728|-000000170141183460469231731687303715884105728|\
         +18446744073709551616| 000018446744073709551616|-9223372036854775809|\
         -000009223372036854775809|+0000|  007\n"
    );
    let _ = std::fs::remove_dir_all(dir);
}
