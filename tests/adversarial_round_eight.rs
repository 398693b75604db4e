//! Adversarial round eight: hostile inputs not covered by rounds one to seven, each asserting
//! exact bytes.

mod common;

use kolog::Kolog;

/// Nested values in the plain tail (bound context, `add_context_defaults`, a field colliding
/// with the context) are quoted and escaped as strings are when their JSON text has spaces,
/// `=` or quotes, so the tail still splits into its fields; on the direct path (first record)
/// and the event path (the colliding field) alike. Numbers, bools, null, plain strings and
/// arrays of numbers stay bare; a `?debug` value is a string and is quoted as one.
#[test]
fn nested_plain_values_are_quoted_like_strings() {
    let dir = common::temp_dir("r8-nested");
    let path = dir.join("p.log");
    let k = Kolog::from_json_str(&format!(
        r#"{{"loggers": [{{"name": "root", "context": {{"a": {{"b": "x y"}}, "arr": [1, 2], "q": ["k=v"], "e": {{}}, "n": null, "s": "x y", "i": 3}},
            "handlers": [{{"type": "file", "params": {{"filename": "{}"}}, "renderer": {{"type": "file_plain", "params": {{"fmt": "%(event)s"}}}},
            "processors": [{{"type": "add_context_defaults", "params": {{"defaults": {{"d": {{"c": "p\nq"}}, "t": [true]}}}}}}]}}]}}]}}"#,
        path.display()
    ))
    .unwrap();
    let log = k.logger("root").unwrap();
    let list = vec!["a b"];
    kolog::info!(log, "direct", x = 1u64, dbg = ?list);
    kolog::info!(log, "event", i = "c d");
    k.shutdown().unwrap();
    assert_eq!(
        std::fs::read_to_string(&path).unwrap(),
        concat!(
            "direct a=\"{\\\"b\\\":\\\"x y\\\"}\" arr=[1,2] q=\"[\\\"k=v\\\"]\" e={} n=null s=\"x y\" i=3 x=1 dbg=\"[\\\"a b\\\"]\" d=\"{\\\"c\\\":\\\"p\\\\nq\\\"}\" t=[true]\n",
            "event a=\"{\\\"b\\\":\\\"x y\\\"}\" arr=[1,2] q=\"[\\\"k=v\\\"]\" e={} n=null s=\"x y\" i=\"c d\" d=\"{\\\"c\\\":\\\"p\\\\nq\\\"}\" t=[true]\n",
        )
    );
}

/// Control characters in the literal text of `fmt` and `datefmt` (a newline, a CR, NUL, ESC,
/// U+0085) are escaped as in values, so a record stays on one line; a tab is kept as written
/// (a tab-separated format). The same on the direct path (first record) and the event path
/// (a field colliding with the context).
#[test]
fn control_characters_in_fmt_and_datefmt_text_are_escaped() {
    let dir = common::temp_dir("r8-fmt-controls");
    let path = dir.join("p.log");
    let fmt = "%(asctime)s|\t|a\nb\r\u{1}\u{85}%%|%(event)s";
    let datefmt = "d\nt\te\r\u{0}\u{1b}\u{85}%%";
    let k = Kolog::from_json_str(&format!(
        r#"{{"loggers": [{{"name": "root", "context": {{"c": 1}}, "handlers": [{{"type": "file", "params": {{"filename": "{}"}},
            "renderer": {{"type": "file_plain", "params": {{"fmt": {}, "datefmt": {}}}}}}}]}}]}}"#,
        path.display(),
        serde_json::to_string(fmt).unwrap(),
        serde_json::to_string(datefmt).unwrap(),
    ))
    .unwrap();
    let log = k.logger("root").unwrap();
    kolog::info!(log, "direct");
    kolog::info!(log, "event", c = 2u64);
    k.shutdown().unwrap();
    assert_eq!(
        std::fs::read_to_string(&path).unwrap(),
        concat!(
            "d\\nt\te\\r\\u{0}\\u{1b}\\u{85}%|\t|a\\nb\\r\\u{1}\\u{85}%|direct c=1\n",
            "d\\nt\te\\r\\u{0}\\u{1b}\\u{85}%|\t|a\\nb\\r\\u{1}\\u{85}%|event c=2\n",
        )
    );
}
