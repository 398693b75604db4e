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
