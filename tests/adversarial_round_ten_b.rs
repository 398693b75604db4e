//! Adversarial round ten B: feature parity with the seed (ko-log) and kolog's README, claim by
//! claim, with exact assertions.

mod common;
use kolog::Kolog;
use std::path::Path;

/// A system whose `root` logger (INFO) writes through one `file` handler to `path` with the
/// given renderer and processors.
fn file_kolog(path: &Path, renderer: &str, processors: &str) -> Kolog {
    Kolog::from_json_str(&format!(
        r#"{{"loggers": [{{"name": "root", "level": "INFO", "handlers": [{{"type": "file",
            "params": {{"filename": "{}", "mode": "w"}}, "renderer": {renderer},
            "processors": {processors}}}]}}]}}"#,
        path.display()
    ))
    .unwrap()
}

fn read(path: &Path) -> String {
    std::fs::read_to_string(path).unwrap()
}

/// The seed renders `fmt % event_dict` (Python's percent operator): `%(x)r` is the value's
/// `repr` (a string in quotes), `%(x)05d` pads a number with zeros after its sign, `%+d` and
/// `% d` sign it, `%d` truncates a float and writes a bool as 1/0; `0`, `+` and ` ` change
/// nothing under `s`. On both rendering paths: the direct one (the format prints no field)
/// and the event one (it does).
#[test]
fn plain_fmt_conversions_and_flags_follow_python_percent_formatting() {
    let dir = common::temp_dir("ten-b-conv");
    let direct = dir.join("direct.log");
    let k = file_kolog(
        &direct,
        r#"{"type": "file_plain", "params": {"datefmt": "%Y",
            "fmt": "%(asctime)r|%(levelname)r|%(level)-9r|%(name)r|%(event)r|%(event)012s"}}"#,
        "[]",
    );
    kolog::info!(k.logger("root.db").unwrap(), "it's done", n = 3);
    kolog::info!(k.logger("root").unwrap(), r#"say "hi" \ ok"#);
    k.shutdown().unwrap();
    let year = read(&direct)[1..5].to_owned();
    assert_eq!(
        read(&direct),
        format!(
            "'{year}'|'INFO'|'INFO'   |'root.db'|\"it's done\"|   it's done n=3\n\
             '{year}'|'INFO'|'INFO'   |'root'|'say \"hi\" \\\\ ok'|say \"hi\" \\ ok\n"
        )
    );

    let fields = dir.join("fields.log");
    let k = file_kolog(
        &fields,
        r#"{"type": "file_plain", "params": {
            "fmt": "%(lineno)04d|%(n)05d|%(n)-5d|%(m)+06d|%(p)+d|%(p) d|%(p)05s|%(f)d|%(g)d|%(b)d|%(s)r|%(s)d|%(q)r|%(u)r|%(missing)r|%(event)s"}}"#,
        r#"[{"type": "add_callsite_params", "params": {"parameters": ["lineno"]}}]"#,
    );
    let line = line!() + 1;
    kolog::info!(
        k.logger("root").unwrap(),
        "e",
        n = 42,
        m = -7,
        p = 5,
        f = -2.9,
        g = 1e20,
        b = true,
        s = "a b",
        q = "it's",
        u = 1.5
    );
    k.shutdown().unwrap();
    assert_eq!(
        read(&fields),
        format!("{line:04}|00042|42   |-00007|+5| 5|    5|-2|100000000000000000000|1|'a b'|a b|\"it's\"|1.5||e\n")
    );
}

/// A system whose `root` logger (INFO) has one `null` handler with a JSON renderer and the
/// given processors, and a sink on it.
fn sink_kolog(processors: &str) -> (Kolog, kolog::Sink) {
    let k = Kolog::from_json_str(&format!(
        r#"{{"loggers": [{{"name": "root", "level": "INFO", "handlers": [{{"type": "null",
            "renderer": {{"type": "stream_json"}}, "processors": {processors}}}]}}]}}"#
    ))
    .unwrap();
    let sink = kolog::Sink::new();
    k.queue_manager().add_sink("root", sink.clone());
    (k, sink)
}

/// The tail of a JSON line after its timestamp.
fn after_timestamp(line: &str) -> &str {
    line.split_once(r#","level""#).unwrap().1
}

/// kolog's README: under `dict_tracebacks`, "`exc_info` is renamed `exception`" — whatever the
/// field holds (the seed's processor always takes `exc_info` out of the event): an error
/// becomes the structured object, any other value keeps its value under the new name.
/// Without the processor the field stays as it is.
#[test]
fn dict_tracebacks_renames_every_exc_info_field() {
    #[derive(Debug)]
    struct Boom;
    impl std::fmt::Display for Boom {
        fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
            f.write_str("boom")
        }
    }
    impl std::error::Error for Boom {}
    let (k, sink) = sink_kolog(r#"[{"type": "dict_tracebacks"}]"#);
    let log = k.logger("root").unwrap();
    kolog::error!(log, "a", exc_info = &Boom);
    kolog::error!(log, "b", exc_info = %Boom, n = 1);
    kolog::error!(log, "c", exc_info = true);
    let events = sink.events();
    let tails: Vec<&str> = events.iter().map(|e| after_timestamp(e)).collect();
    let ty = std::any::type_name::<Boom>();
    assert_eq!(
        tails,
        [
            format!(
                r#":"ERROR","logger":"root","event":"a","exception":{{"type":"{ty}","message":"boom","chain":[]}}}}"#
            )
            .as_str(),
            r#":"ERROR","logger":"root","event":"b","n":1,"exception":"boom"}"#,
            r#":"ERROR","logger":"root","event":"c","exception":true}"#,
        ]
    );
    k.shutdown().unwrap();

    let (k, sink) = sink_kolog("[]");
    kolog::error!(k.logger("root").unwrap(), "d", exc_info = %Boom);
    assert_eq!(
        after_timestamp(&sink.events()[0]),
        r#":"ERROR","logger":"root","event":"d","exc_info":"boom"}"#
    );
    k.shutdown().unwrap();
}

/// A number of seconds above the documented limit (1,000,000,000: `drain_timeout`,
/// `rotation_interval`) is refused with a message saying so, not "must be 0 or more" (or
/// "greater than 0"), which a positive number already is.
#[test]
fn seconds_above_the_limit_are_refused_saying_so() {
    for (doc, path) in [
        (
            r#"{"queue": {"drain_timeout": 2e9}, "loggers": []}"#.to_owned(),
            "`queue.drain_timeout`",
        ),
        (
            r#"{"loggers": [{"name": "root", "handlers": [{"type": "rotating_file",
                "params": {"filename": "x.log", "rotation_interval": 18446744073709551616}}]}]}"#
                .to_owned(),
            "`loggers[0].handlers[0].params.rotation_interval`",
        ),
    ] {
        let e = kolog::LoggingSystemConfig::from_json_str(&doc).unwrap_err();
        assert_eq!(e.code(), "CONFIGURATION::LoggerFactory::VALIDATION::ERROR");
        assert!(
            e.msg().starts_with(&format!(
                "{path}: seconds must be at most 1000000000 (31 years), found "
            )),
            "{}",
            e.msg()
        );
    }
    kolog::LoggingSystemConfig::from_json_str(
        r#"{"queue": {"drain_timeout": 1e9}, "loggers": []}"#,
    )
    .unwrap();
}

/// kolog's README: in the plain renderer's ` key=value` tail "a nested value ... is its JSON
/// text, quoted by the same rule" as a string with spaces or quotes, so that the tail still
/// splits into its fields. An error that `dict_tracebacks` made a structured object is such
/// a nested value: quoted like a context object. Printed by `fmt` it is its JSON text as is,
/// as a context object is.
#[test]
fn a_structured_exception_in_the_plain_tail_is_quoted_like_any_nested_value() {
    let dir = common::temp_dir("ten-b-exc-tail");
    let path = dir.join("e.log");
    let k = Kolog::from_json_str(&format!(
        r#"{{"loggers": [{{"name": "root", "context": {{"o": {{"a": "x y"}}}}, "handlers": [{{"type": "file",
            "params": {{"filename": "{}", "mode": "w"}},
            "renderer": {{"type": "file_plain", "params": {{"fmt": "%(event)s|%(error)s|%(o)s"}}}},
            "processors": [{{"type": "dict_tracebacks"}}]}}]}}]}}"#,
        path.display()
    ))
    .unwrap();
    let e = std::io::Error::other("disk full");
    kolog::error!(
        k.logger("root").unwrap(),
        "failed",
        error = &e,
        cause = &e,
        n = 1
    );
    k.shutdown().unwrap();
    let obj = r#"{"type":"std::io::error::Error","message":"disk full","chain":[]}"#;
    let quoted = format!("\"{}\"", obj.replace('"', "\\\""));
    assert_eq!(
        read(&path),
        format!("failed|{obj}|{{\"a\":\"x y\"}} cause={quoted} n=1\n")
    );
}

/// `add_sink(name, sink)` diverts the records of `name` and its descendants to `sink`
/// (kolog's README: "app and app.* go to the sink"). With sinks on overlapping names, each
/// keeps the records of its own subtree that no deeper sink takes, whatever order they were
/// added in: a sink on `root` (or `app`) added later does not take `app.db`'s records from
/// the sink on `app.db`. Removing the deeper sink gives its records back to the next one.
#[test]
fn overlapping_sinks_capture_by_the_most_specific_name_in_any_order() {
    let k = Kolog::from_json_str(
        r#"{"loggers": [{"name": "root", "handlers": [{"type": "null",
            "renderer": {"type": "stream_plain", "params": {"fmt": "%(name)s"}}}]}]}"#,
    )
    .unwrap();
    let qm = k.queue_manager();
    let (db, app, root) = (kolog::Sink::new(), kolog::Sink::new(), kolog::Sink::new());
    qm.add_sink("app.db", db.clone());
    qm.add_sink("app", app.clone());
    qm.add_sink("root", root.clone());
    let names = [
        "app.db.pool",
        "app.db",
        "app",
        "app.web",
        "application",
        "zzz",
        "root",
    ];
    for name in names {
        kolog::info!(k.logger(name).unwrap(), "x");
    }
    assert_eq!(db.events(), ["app.db.pool", "app.db"]);
    assert_eq!(app.events(), ["app", "app.web"]);
    assert_eq!(root.events(), ["application", "zzz", "root"]);

    qm.remove_sink("app.db");
    for s in [&db, &app, &root] {
        s.clear();
    }
    for name in names {
        kolog::info!(k.logger(name).unwrap(), "x");
    }
    assert!(db.events().is_empty());
    assert_eq!(app.events(), ["app.db.pool", "app.db", "app", "app.web"]);
    assert_eq!(root.events(), ["application", "zzz", "root"]);
    k.shutdown().unwrap();
}

/// kolog's README: `filter_markup` "strips Rich markup"; Rich's tag pattern is `[a-z#/@]...`
/// (its own tests: `[True]`, `[False]`, `[None]` are no tags). Bracketed text starting with
/// an uppercase letter (`[INFO]`, `[GET]`, `[Errno 2]`) is text Rich prints as is, and stays;
/// lowercase tags are still stripped, in the event and in string fields.
#[test]
fn filter_markup_keeps_brackets_that_rich_does_not_read_as_tags() {
    let (k, sink) = sink_kolog(r#"[{"type": "filter_markup"}]"#);
    kolog::info!(
        k.logger("root").unwrap(),
        "[INFO] [GET] /users: [bold]ok[/bold] [Errno 2] [True]",
        s = "[None] [red]x[/red] [Q]"
    );
    assert_eq!(
        after_timestamp(&sink.events()[0]),
        r#":"INFO","logger":"root","event":"[INFO] [GET] /users: ok [Errno 2] [True]","s":"[None] x [Q]"}"#
    );
    k.shutdown().unwrap();
}
