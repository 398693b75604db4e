//! Parsing and validation of configuration documents.
//!
//! A document is parsed into a `serde_json::Value` (JSON with serde_json, YAML with
//! serde-saphyr, both with nesting limits so junk cannot exhaust the stack, and both
//! rejecting a repeated key), then validated
//! field by field into the typed structs, tracking the path (`loggers[0].handlers[1].type`).
//! For JSON text, the line and column of the offending value are found by re-scanning the
//! text along that path ([`locate`]).

use std::io;
use std::path::Path;
use std::time::Duration;

use serde_json::{Map, Value};

use super::{
    BackpressurePolicy, CallsiteParam, FileParams, HandlerConfig, HandlerKind, LoggerConfig,
    LoggingSystemConfig, ProcessorConfig, QueueConfig, RendererConfig, RendererKind,
    RotatingFileParams, StreamParams,
};
use crate::{Error, ErrorKind, Level};

const SERVICE: &str = "LoggerFactory";

/// A position in the document.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Seg {
    Key(String),
    Index(usize),
}

#[derive(Debug, Clone, Default)]
struct DocPath(Vec<Seg>);

impl DocPath {
    fn key(&self, k: &str) -> DocPath {
        let mut p = self.clone();
        p.0.push(Seg::Key(k.to_owned()));
        p
    }

    fn index(&self, i: usize) -> DocPath {
        let mut p = self.clone();
        p.0.push(Seg::Index(i));
        p
    }
}

impl std::fmt::Display for DocPath {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        if self.0.is_empty() {
            return f.write_str("(document)");
        }
        for (i, s) in self.0.iter().enumerate() {
            match s {
                Seg::Key(k) if i == 0 => write!(f, "{k}")?,
                Seg::Key(k) => write!(f, ".{k}")?,
                Seg::Index(n) => write!(f, "[{n}]")?,
            }
        }
        Ok(())
    }
}

/// A validation failure before line/column are attached.
struct Invalid {
    path: DocPath,
    msg: String,
}

type V<T> = Result<T, Invalid>;

fn invalid<T>(path: &DocPath, msg: impl Into<String>) -> V<T> {
    Err(Invalid {
        path: path.clone(),
        msg: msg.into(),
    })
}

fn type_name(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}

fn object<'v>(v: &'v Value, path: &DocPath, allowed: &[&str]) -> V<&'v Map<String, Value>> {
    let Value::Object(m) = v else {
        return invalid(path, format!("expected an object, found {}", type_name(v)));
    };
    for k in m.keys() {
        if !allowed.contains(&k.as_str()) {
            let msg = if allowed.is_empty() {
                format!("unknown field `{k}` (this object takes no fields)")
            } else {
                format!(
                    "unknown field `{k}` (expected one of: {})",
                    allowed.join(", ")
                )
            };
            return invalid(&path.key(k), msg);
        }
    }
    Ok(m)
}

fn string<'v>(v: &'v Value, path: &DocPath) -> V<&'v str> {
    v.as_str().map_or_else(
        || invalid(path, format!("expected a string, found {}", type_name(v))),
        Ok,
    )
}

fn uint(v: &Value, path: &DocPath) -> V<u64> {
    match v {
        Value::Number(n) => match (n.as_u64(), n.as_i64(), n.as_f64()) {
            (Some(u), _, _) => Ok(u),
            (None, Some(i), _) => invalid(path, format!("must not be negative, found {i}")),
            (_, _, Some(f)) if f < 0.0 => invalid(path, format!("must not be negative, found {f}")),
            _ => invalid(path, format!("expected a whole number, found {n}")),
        },
        other => invalid(
            path,
            format!(
                "expected a non-negative integer, found {}",
                type_name(other)
            ),
        ),
    }
}

/// The largest `max_queue_size` a document takes.
pub(super) const MAX_QUEUE_SIZE: usize = 1 << 24;
/// The most seconds a document takes (`drain_timeout`, `rotation_interval`): 31 years.
pub(super) const MAX_SECONDS: f64 = 1e9;

fn seconds(v: &Value, path: &DocPath, positive: bool) -> V<Duration> {
    let Some(s) = v.as_f64() else {
        return invalid(
            path,
            format!("expected a number of seconds, found {}", type_name(v)),
        );
    };
    if s > MAX_SECONDS {
        return invalid(
            path,
            format!("seconds must be at most {MAX_SECONDS} (31 years), found {s}"),
        );
    }
    if !s.is_finite() || s < 0.0 || (positive && s == 0.0) {
        let rule = if positive {
            "greater than 0"
        } else {
            "0 or more"
        };
        return invalid(path, format!("seconds must be {rule}, found {s}"));
    }
    Ok(Duration::from_secs_f64(s))
}

fn boolean(v: &Value, path: &DocPath) -> V<bool> {
    v.as_bool().map_or_else(
        || invalid(path, format!("expected a boolean, found {}", type_name(v))),
        Ok,
    )
}

fn level(v: &Value, path: &DocPath) -> V<Level> {
    let s = string(v, path)?;
    s.parse().map_err(|e: crate::ParseLevelError| Invalid {
        path: path.clone(),
        msg: e.to_string(),
    })
}

fn required<'v>(m: &'v Map<String, Value>, key: &str, path: &DocPath) -> V<&'v Value> {
    m.get(key).map_or_else(
        || invalid(path, format!("missing required field `{key}`")),
        Ok,
    )
}

fn array<'v>(v: &'v Value, path: &DocPath) -> V<&'v Vec<Value>> {
    v.as_array().map_or_else(
        || invalid(path, format!("expected an array, found {}", type_name(v))),
        Ok,
    )
}

/// `params` as an object, absent or null meaning empty.
fn params<'v>(
    m: &'v Map<String, Value>,
    path: &DocPath,
    allowed: &[&str],
) -> V<Option<&'v Map<String, Value>>> {
    match m.get("params") {
        None | Some(Value::Null) => Ok(None),
        Some(v) => object(v, &path.key("params"), allowed).map(Some),
    }
}

fn one_of<T: Copy>(s: &str, path: &DocPath, what: &str, options: &[(&str, T)]) -> V<T> {
    match options.iter().find(|(name, _)| *name == s) {
        Some((_, t)) => Ok(*t),
        None => {
            let names: Vec<_> = options.iter().map(|(n, _)| *n).collect();
            invalid(
                path,
                format!(
                    "unknown {what} `{s}` (expected one of: {})",
                    names.join(", ")
                ),
            )
        }
    }
}

fn queue(v: &Value, path: &DocPath) -> V<QueueConfig> {
    let m = object(
        v,
        path,
        &["max_queue_size", "backpressure_policy", "drain_timeout"],
    )?;
    let mut q = QueueConfig::default();
    if let Some(v) = m.get("max_queue_size") {
        let p = path.key("max_queue_size");
        let n = uint(v, &p)?;
        if n == 0 || n > MAX_QUEUE_SIZE as u64 {
            return invalid(
                &p,
                format!("must be between 1 and {MAX_QUEUE_SIZE}, found {n}"),
            );
        }
        q.max_queue_size = n as usize;
    }
    if let Some(v) = m.get("backpressure_policy") {
        let p = path.key("backpressure_policy");
        q.backpressure_policy = one_of(
            string(v, &p)?,
            &p,
            "backpressure policy",
            &[
                ("block", BackpressurePolicy::Block),
                ("drop", BackpressurePolicy::Drop),
                ("drop_oldest", BackpressurePolicy::DropOldest),
            ],
        )?;
    }
    if let Some(v) = m.get("drain_timeout") {
        q.drain_timeout = seconds(v, &path.key("drain_timeout"), false)?;
    }
    Ok(q)
}

fn mode(m: &Map<String, Value>, path: &DocPath) -> V<String> {
    match m.get("mode") {
        None => Ok("a".into()),
        Some(v) => {
            let p = path.key("mode");
            let s = string(v, &p)?;
            if ["a", "ab", "a+", "ab+", "w", "wb", "w+", "wb+"].contains(&s) {
                Ok(s.to_owned())
            } else {
                invalid(
                    &p,
                    format!("unsupported mode `{s}` (expected a, ab, a+, w, wb or w+)"),
                )
            }
        }
    }
}

fn encoding(m: &Map<String, Value>, path: &DocPath) -> V<String> {
    match m.get("encoding") {
        None => Ok("utf-8".into()),
        Some(v) => {
            let p = path.key("encoding");
            let s = string(v, &p)?;
            if s.eq_ignore_ascii_case("utf-8") || s.eq_ignore_ascii_case("utf8") {
                Ok(s.to_owned())
            } else {
                invalid(&p, format!("unsupported encoding `{s}` (only utf-8)"))
            }
        }
    }
}

fn filename(m: &Map<String, Value>, path: &DocPath) -> V<std::path::PathBuf> {
    let p = path.key("filename");
    let s = string(required(m, "filename", path)?, &p)?;
    if s.is_empty() {
        return invalid(&p, "must not be empty");
    }
    Ok(s.into())
}

fn handler_kind(ty: &str, m: &Map<String, Value>, path: &DocPath) -> V<HandlerKind> {
    let tpath = path.key("type");
    Ok(match ty {
        "file" => {
            let pp = path.key("params");
            let p = params(m, path, &["filename", "mode", "encoding", "override_existing"])?
                .map_or_else(|| invalid(path, "missing required field `params` (a file handler needs `filename`)"), Ok)?;
            HandlerKind::File(FileParams {
                filename: filename(p, &pp)?,
                mode: mode(p, &pp)?,
                encoding: encoding(p, &pp)?,
                override_existing: match p.get("override_existing") {
                    Some(v) => boolean(v, &pp.key("override_existing"))?,
                    None => false,
                },
            })
        }
        "rotating_file" => {
            let pp = path.key("params");
            let p = params(
                m,
                path,
                &["filename", "max_bytes", "backup_count", "rotation_interval", "mode", "encoding"],
            )?
            .map_or_else(|| invalid(path, "missing required field `params` (a rotating_file handler needs `filename`)"), Ok)?;
            let backup_count = match p.get("backup_count") {
                Some(v) => {
                    let bp = pp.key("backup_count");
                    let n = uint(v, &bp)?;
                    u32::try_from(n).map_or_else(|_| invalid(&bp, format!("too large: {n}")), Ok)?
                }
                None => 0,
            };
            HandlerKind::RotatingFile(RotatingFileParams {
                filename: filename(p, &pp)?,
                max_bytes: match p.get("max_bytes") {
                    Some(v) => uint(v, &pp.key("max_bytes"))?,
                    None => 0,
                },
                backup_count,
                rotation_interval: match p.get("rotation_interval") {
                    None | Some(Value::Null) => None,
                    Some(v) => Some(seconds(v, &pp.key("rotation_interval"), true)?),
                },
                mode: mode(p, &pp)?,
                encoding: encoding(p, &pp)?,
            })
        }
        "stream" => {
            let p = params(m, path, &["use_stderr"])?;
            HandlerKind::Stream(StreamParams {
                use_stderr: match p.and_then(|p| p.get("use_stderr")) {
                    Some(v) => boolean(v, &path.key("params").key("use_stderr"))?,
                    None => false,
                },
            })
        }
        "null" => {
            params(m, path, &[])?;
            HandlerKind::Null
        }
        other => {
            return invalid(
                &tpath,
                format!("unknown handler type `{other}` (expected one of: file, rotating_file, stream, null)"),
            )
        }
    })
}

fn renderer(v: &Value, path: &DocPath) -> V<RendererConfig> {
    let m = object(v, path, &["type", "params"])?;
    let tp = path.key("type");
    let kind = one_of(
        string(required(m, "type", path)?, &tp)?,
        &tp,
        "renderer type",
        &[
            ("stream_plain", RendererKind::StreamPlain),
            ("stream_colored", RendererKind::StreamColored),
            ("stream_json", RendererKind::StreamJson),
            ("file_plain", RendererKind::FilePlain),
            ("file_json", RendererKind::FileJson),
        ],
    )?;
    let mut r = RendererConfig::new(kind);
    if let Some(p) = params(m, path, &["fmt", "datefmt", "indentation", "utc"])? {
        let pp = path.key("params");
        // Checked here, so that a bad format is an error naming its place in the document
        // (JSON renderers ignore both, but a malformed one is still a mistake).
        if let Some(v) = p.get("fmt") {
            let fp = pp.key("fmt");
            let fmt = string(v, &fp)?;
            crate::render::check_fmt(fmt).or_else(|e| invalid(&fp, e.msg()))?;
            r.fmt = Some(fmt.to_owned());
        }
        if let Some(v) = p.get("datefmt") {
            let dp = pp.key("datefmt");
            let datefmt = string(v, &dp)?;
            crate::render::check_datefmt(datefmt).or_else(|e| invalid(&dp, e.msg()))?;
            r.datefmt = Some(datefmt.to_owned());
        }
        match p.get("indentation") {
            None | Some(Value::Null) => {}
            Some(v) => {
                let ip = pp.key("indentation");
                let n = uint(v, &ip)?;
                if n > 16 {
                    return invalid(&ip, format!("at most 16 spaces, found {n}"));
                }
                r.indentation = Some(n as usize);
            }
        }
        if let Some(v) = p.get("utc") {
            r.utc = boolean(v, &pp.key("utc"))?;
        }
    }
    Ok(r)
}

fn processor(v: &Value, path: &DocPath) -> V<ProcessorConfig> {
    let m = object(v, path, &["type", "params"])?;
    let tp = path.key("type");
    let ty = string(required(m, "type", path)?, &tp)?;
    let pp = path.key("params");
    let need = |p: Option<&Map<String, Value>>, key: &str| -> V<Value> {
        p.and_then(|p| p.get(key)).cloned().map_or_else(
            || invalid(&pp, format!("missing required field `{key}`")),
            Ok,
        )
    };
    Ok(match ty {
        "add_callsite_params" => {
            let p = params(m, path, &["parameters"])?;
            match p.and_then(|p| p.get("parameters")) {
                None => ProcessorConfig::AddCallsiteParams {
                    parameters: CallsiteParam::ALL.to_vec(),
                },
                Some(v) => {
                    let ap = pp.key("parameters");
                    let mut parameters = Vec::new();
                    for (i, item) in array(v, &ap)?.iter().enumerate() {
                        let ip = ap.index(i);
                        let name = string(item, &ip)?;
                        let all: Vec<_> =
                            CallsiteParam::ALL.iter().map(|c| (c.key(), *c)).collect();
                        parameters.push(one_of(name, &ip, "callsite parameter", &all)?);
                    }
                    ProcessorConfig::AddCallsiteParams { parameters }
                }
            }
        }
        "add_context_defaults" => {
            let p = params(m, path, &["defaults"])?;
            match need(p, "defaults")? {
                Value::Object(defaults) => ProcessorConfig::AddContextDefaults { defaults },
                other => {
                    return invalid(
                        &pp.key("defaults"),
                        format!("expected an object, found {}", type_name(&other)),
                    )
                }
            }
        }
        "dict_tracebacks" => {
            params(m, path, &[])?;
            ProcessorConfig::DictTracebacks
        }
        "filter_by_level" => {
            let p = params(m, path, &["min_level"])?;
            ProcessorConfig::FilterByLevel {
                min_level: level(&need(p, "min_level")?, &pp.key("min_level"))?,
            }
        }
        "filter_keys" => {
            let p = params(m, path, &["keys"])?;
            let kp = pp.key("keys");
            let keys = need(p, "keys")?;
            let mut out = Vec::new();
            for (i, k) in array(&keys, &kp)?.iter().enumerate() {
                out.push(string(k, &kp.index(i))?.to_owned());
            }
            ProcessorConfig::FilterKeys { keys: out }
        }
        "filter_markup" => {
            params(m, path, &[])?;
            ProcessorConfig::FilterMarkup
        }
        custom => {
            if crate::process::lookup(custom).is_none() {
                return invalid(
                    &tp,
                    format!(
                        "unknown processor type `{custom}` (built-in: add_callsite_params, add_context_defaults, dict_tracebacks, filter_by_level, filter_keys, filter_markup; custom processors must be registered with kolog::register_processor before the configuration is loaded)"
                    ),
                );
            }
            ProcessorConfig::Custom {
                name: custom.to_owned(),
                params: match m.get("params") {
                    None | Some(Value::Null) => Value::Object(Map::new()),
                    Some(v) => v.clone(),
                },
            }
        }
    })
}

fn handler(v: &Value, path: &DocPath) -> V<HandlerConfig> {
    let m = object(v, path, &["type", "params", "renderer", "processors"])?;
    let ty = match required(m, "type", path)? {
        // YAML reads a bare `type: null` (or `type: ~`, `type:`) as no value at all.
        Value::Null => {
            return invalid(
                &path.key("type"),
                "expected a string, found null (the null handler's type is the string \
                 \"null\": in YAML write it quoted, `type: \"null\"`)",
            )
        }
        v => string(v, &path.key("type"))?,
    };
    let kind = handler_kind(ty, m, path)?;
    let renderer = match m.get("renderer") {
        None | Some(Value::Null) => RendererConfig::new(match kind {
            HandlerKind::File(_) | HandlerKind::RotatingFile(_) => RendererKind::FilePlain,
            _ => RendererKind::StreamPlain,
        }),
        Some(v) => renderer(v, &path.key("renderer"))?,
    };
    let mut processors = Vec::new();
    if let Some(v) = m.get("processors") {
        let pp = path.key("processors");
        for (i, p) in array(v, &pp)?.iter().enumerate() {
            processors.push(processor(p, &pp.index(i))?);
        }
    }
    Ok(HandlerConfig {
        kind,
        renderer,
        processors,
    })
}

fn logger(v: &Value, path: &DocPath) -> V<LoggerConfig> {
    let m = object(v, path, &["name", "level", "handlers", "context"])?;
    let np = path.key("name");
    let name = string(required(m, "name", path)?, &np)?;
    if name.is_empty() || name.split('.').any(str::is_empty) {
        return invalid(
            &np,
            format!("invalid logger name `{name}`: dotted segments must not be empty"),
        );
    }
    let mut handlers = Vec::new();
    if let Some(v) = m.get("handlers") {
        let hp = path.key("handlers");
        for (i, h) in array(v, &hp)?.iter().enumerate() {
            handlers.push(handler(h, &hp.index(i))?);
        }
    }
    let context = match m.get("context") {
        None | Some(Value::Null) => Map::new(),
        Some(Value::Object(c)) => c.clone(),
        Some(other) => {
            return invalid(
                &path.key("context"),
                format!("expected an object, found {}", type_name(other)),
            )
        }
    };
    Ok(LoggerConfig {
        name: name.to_owned(),
        level: match m.get("level") {
            None | Some(Value::Null) => None,
            Some(v) => Some(level(v, &path.key("level"))?),
        },
        handlers,
        context,
    })
}

fn system(v: &Value) -> V<LoggingSystemConfig> {
    let root = DocPath::default();
    let m = object(v, &root, &["queue", "loggers", "default_level"])?;
    let lp = root.key("loggers");
    let mut loggers: Vec<LoggerConfig> = Vec::new();
    for (i, l) in array(required(m, "loggers", &root)?, &lp)?
        .iter()
        .enumerate()
    {
        let l = logger(l, &lp.index(i))?;
        if loggers.iter().any(|x| x.name == l.name) {
            return invalid(
                &lp.index(i).key("name"),
                format!("duplicate logger name `{}`", l.name),
            );
        }
        loggers.push(l);
    }
    Ok(LoggingSystemConfig {
        loggers,
        default_level: match m.get("default_level") {
            None | Some(Value::Null) => Level::Info,
            Some(v) => level(v, &root.key("default_level"))?,
        },
        queue: match m.get("queue") {
            None | Some(Value::Null) => QueueConfig::default(),
            Some(v) => queue(v, &root.key("queue"))?,
        },
    })
}

fn validation_error(inv: Invalid, text: Option<&str>) -> Error {
    let mut msg = format!("`{}`: {}", inv.path, inv.msg);
    if let Some((line, col)) = text.and_then(|t| locate(t, &inv.path.0)) {
        msg.push_str(&format!(" at line {line} column {col}"));
    }
    Error::configuration(SERVICE, msg)
}

fn parsing_error(what: &str, detail: String) -> Error {
    Error::new(
        ErrorKind::Configuration,
        "CONFIGURATION",
        SERVICE,
        "PARSING",
        format!("invalid {what}: {detail}"),
    )
}

/// A `"queue"` object on its own (serde's `Deserialize` for [`QueueConfig`]).
pub(super) fn queue_from_value(v: &Value) -> Result<QueueConfig, Error> {
    queue(v, &DocPath::default()).map_err(|inv| validation_error(inv, None))
}

pub(super) fn from_json_str(s: &str) -> Result<LoggingSystemConfig, Error> {
    // A leading byte order mark (a string read from a file Notepad wrote) is not part of the
    // document, as for YAML strings and configuration files.
    let s = s.strip_prefix('\u{feff}').unwrap_or(s);
    let v = super::unique_keys::from_str(s)
        .map_err(|e| parsing_error("JSON", e.to_string()).with_source(e))?;
    system(&v).map_err(|inv| validation_error(inv, Some(s)))
}

pub(super) fn from_yaml_str(s: &str) -> Result<LoggingSystemConfig, Error> {
    let options = serde_saphyr::Options {
        budget: Some(serde_saphyr::Budget {
            max_depth: 64,
            ..Default::default()
        }),
        ..Default::default()
    };
    let v: Value = serde_saphyr::from_str_with_options(s, options).map_err(|e| {
        let detail = e.to_string();
        parsing_error("YAML", detail).with_source(e)
    })?;
    system(&v).map_err(|inv| validation_error(inv, None))
}

pub(super) fn from_json_value(v: &Value) -> Result<LoggingSystemConfig, Error> {
    system(v).map_err(|inv| validation_error(inv, None))
}

/// The largest configuration file read, in bytes: more is not a configuration (a device such
/// as `/dev/zero` behind the name would otherwise be read until memory runs out).
const MAX_FILE: u64 = 16 << 20;

/// Reads the configuration file at `path`, at most [`MAX_FILE`] + 1 bytes. A named pipe is
/// opened without waiting for a writer (a pipe nobody writes reads as empty, and a writer's
/// document is read whole): `open` would otherwise wait for one for ever.
fn read_config(path: &Path) -> io::Result<Vec<u8>> {
    use std::io::Read as _;
    let mut options = std::fs::OpenOptions::new();
    options.read(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.custom_flags(libc::O_NONBLOCK);
    }
    let file = options.open(path)?;
    #[cfg(unix)]
    {
        use std::os::unix::io::AsRawFd;
        // Back to blocking reads: a writer already there may send its document in parts.
        // SAFETY: `file` is an open descriptor for both calls; F_GETFL/F_SETFL only read and
        // set its status flags.
        unsafe {
            let flags = libc::fcntl(file.as_raw_fd(), libc::F_GETFL);
            if flags < 0
                || libc::fcntl(file.as_raw_fd(), libc::F_SETFL, flags & !libc::O_NONBLOCK) < 0
            {
                return Err(io::Error::last_os_error());
            }
        }
    }
    let mut bytes = Vec::new();
    file.take(MAX_FILE + 1).read_to_end(&mut bytes)?;
    Ok(bytes)
}

pub(super) fn from_path(path: &Path) -> Result<LoggingSystemConfig, Error> {
    let bytes = read_config(path).map_err(|e| {
        Error::new(
            ErrorKind::Configuration,
            "CONFIGURATION",
            SERVICE,
            "IO",
            format!("cannot read configuration `{}`: {e}", path.display()),
        )
        .with_source(e)
    })?;
    if bytes.len() as u64 > MAX_FILE {
        return Err(Error::configuration(
            SERVICE,
            format!(
                "configuration `{}` is larger than 16 MiB: not a configuration file",
                path.display()
            ),
        ));
    }
    let text = String::from_utf8(bytes).map_err(|e| {
        Error::configuration(
            SERVICE,
            format!(
                "configuration `{}` is not valid UTF-8 (at byte {})",
                path.display(),
                e.utf8_error().valid_up_to()
            ),
        )
        .with_source(e)
    })?;
    // A UTF-8 byte order mark (Windows editors write one) marks the file's encoding; it is
    // not part of the document.
    let text = text.strip_prefix('\u{feff}').unwrap_or(&text);
    // `kolog.JSON` is a JSON file too (case-insensitive file systems, Windows habits).
    let ext = path
        .extension()
        .and_then(|e| e.to_str())
        .map(str::to_ascii_lowercase);
    match ext.as_deref() {
        Some("yaml" | "yml") => from_yaml_str(text),
        Some("json") => from_json_str(text),
        _ => Err(Error::configuration(
            SERVICE,
            format!(
                "configuration `{}`: unknown extension (expected .json, .yaml or .yml)",
                path.display()
            ),
        )),
    }
}

/// Finds the line and column (1-based) of the value at `path` in JSON `text`, or of the
/// deepest enclosing value that exists. `None` if the text is not scannable.
fn locate(text: &str, path: &[Seg]) -> Option<(usize, usize)> {
    let b = text.as_bytes();
    let mut pos = 0;
    let mut found = skip_ws(b, 0);
    for seg in path {
        pos = skip_ws(b, pos);
        match (seg, b.get(pos)?) {
            (Seg::Key(k), b'{') => {
                pos += 1;
                let mut hit = None;
                loop {
                    pos = skip_ws(b, pos);
                    if b.get(pos)? == &b'}' {
                        break;
                    }
                    let key_start = pos;
                    let key_end = skip_string(b, pos)?;
                    let key: String = serde_json::from_slice(&b[key_start..key_end]).ok()?;
                    pos = skip_ws(b, key_end);
                    if b.get(pos)? != &b':' {
                        return None;
                    }
                    pos = skip_ws(b, pos + 1);
                    if key == *k {
                        hit = Some((key_start, pos));
                        break;
                    }
                    pos = skip_ws(b, skip_value(b, pos, 0)?);
                    if b.get(pos)? == &b',' {
                        pos += 1;
                    }
                }
                match hit {
                    Some((key_start, value_start)) => {
                        found = key_start;
                        pos = value_start;
                    }
                    None => break,
                }
            }
            (Seg::Index(n), b'[') => {
                pos += 1;
                let mut i = 0;
                let mut hit = false;
                loop {
                    pos = skip_ws(b, pos);
                    if b.get(pos)? == &b']' {
                        break;
                    }
                    if i == *n {
                        hit = true;
                        break;
                    }
                    pos = skip_ws(b, skip_value(b, pos, 0)?);
                    if b.get(pos)? == &b',' {
                        pos += 1;
                    }
                    i += 1;
                }
                if !hit {
                    break;
                }
                found = pos;
            }
            _ => break,
        }
    }
    let before = &text[..found.min(text.len())];
    let line = before.matches('\n').count() + 1;
    let col = before.rsplit('\n').next().map_or(0, |l| l.chars().count()) + 1;
    Some((line, col))
}

fn skip_ws(b: &[u8], mut pos: usize) -> usize {
    while pos < b.len() && b[pos].is_ascii_whitespace() {
        pos += 1;
    }
    pos
}

fn skip_string(b: &[u8], pos: usize) -> Option<usize> {
    if b.get(pos)? != &b'"' {
        return None;
    }
    let mut i = pos + 1;
    while i < b.len() {
        match b[i] {
            b'\\' => i += 2,
            b'"' => return Some(i + 1),
            _ => i += 1,
        }
    }
    None
}

fn skip_value(b: &[u8], pos: usize, depth: usize) -> Option<usize> {
    if depth > 256 {
        return None;
    }
    match b.get(pos)? {
        b'"' => skip_string(b, pos),
        open @ (b'{' | b'[') => {
            let close = if *open == b'{' { b'}' } else { b']' };
            let mut i = skip_ws(b, pos + 1);
            if b.get(i)? == &close {
                return Some(i + 1);
            }
            loop {
                if *open == b'{' {
                    i = skip_ws(b, skip_string(b, i)?);
                    if b.get(i)? != &b':' {
                        return None;
                    }
                    i = skip_ws(b, i + 1);
                }
                i = skip_ws(b, skip_value(b, i, depth + 1)?);
                match b.get(i)? {
                    b',' => i = skip_ws(b, i + 1),
                    c if *c == close => return Some(i + 1),
                    _ => return None,
                }
            }
        }
        _ => {
            let mut i = pos;
            while i < b.len() && !matches!(b[i], b',' | b'}' | b']') && !b[i].is_ascii_whitespace()
            {
                i += 1;
            }
            Some(i)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn locate_finds_nested_values() {
        let text = "{\n  \"loggers\": [\n    {\"name\": \"a\"},\n    {\"name\": \"b\",\n     \"handlers\": [{\"type\": \"bogus\"}]}\n  ]\n}";
        let path = vec![
            Seg::Key("loggers".into()),
            Seg::Index(1),
            Seg::Key("handlers".into()),
            Seg::Index(0),
            Seg::Key("type".into()),
        ];
        assert_eq!(locate(text, &path), Some((5, 20)));
        let missing = vec![
            Seg::Key("loggers".into()),
            Seg::Index(0),
            Seg::Key("level".into()),
        ];
        assert_eq!(locate(text, &missing), Some((3, 5)));
    }
}
